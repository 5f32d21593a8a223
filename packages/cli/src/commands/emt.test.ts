import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createCmsEncryptor, createCmsSigner, createKeyObjectSigner, createPkcs11SecurityModule, decodeCertificates, decodePrivateKey, encodePem, findPkcs11Library } from '@smgw/crypto'
import { openSqliteRepository } from '@smgw/emt'
import { encodeMeterData, IDEMPOTENCY_HEADER, METER_DATA_CONTENT_TYPE, METER_DATA_PATH, type MeterDataMessage } from '@smgw/meter-data'
import { connectTls, createTlsContext, defaultValidity, issueCertificate } from '@smgw/pki'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliIo } from '../io.js'
import { runCli } from '../program.js'
import { runCaptured } from '../testing.js'

let dir: string
const p = (...parts: string[]) => join(dir, ...parts)
const pem = (path: string) => new Uint8Array(readFileSync(p(path)))
const cert = (path: string) => decodeCertificates(pem(path))[0]?.der ?? new Uint8Array(0)

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smgw-emt-cli-'))
  expect((await runCaptured(['pki', 'init', p('pki'), '--gateways', '2'])).status).toBe(0)
  writeFileSync(p('api-token'), 'cli-test-token-0123456789\n')
  writeFileSync(p('emt.json'), JSON.stringify({
    participantId: 'emt-1',
    listen: { host: '127.0.0.1', port: 0 },
    tls: { certificate: 'pki/emt-1/tls.cert.pem', key: 'pki/emt-1/tls.key.pem', chain: ['pki/chain.pem'] },
    enc: { certificate: 'pki/emt-1/enc.cert.pem', key: { file: 'pki/emt-1/enc.key.pem' } },
    pki: { roots: ['pki/root-ca/ca.cert.pem'], crls: ['pki/crl/root.crl.pem', 'pki/crl/sub-ca-gw.crl.pem', 'pki/crl/sub-ca-emt.crl.pem'] },
    storage: { sqlite: 'emt.db' },
    api: { port: 0, tokenFile: 'api-token' },
  }))
}, 60_000)
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

function message(now: Date, id = 'cli'): MeterDataMessage {
  const start = Math.floor(now.getTime() / 86_400_000) * 86_400_000 - 86_400_000 - 3_600_000
  const values = Array.from({ length: 4 }, (_, i) => ({ time: new Date(start + (i + 1) * 900_000).toISOString(), value: String(1000 + i), status: 0 }))
  return {
    format: 'smgw-meter-data', version: 1, messageId: `smgw-0001:taf7:${id}`, gatewayId: 'smgw-0001', recipient: 'emt-1', useCase: 'taf7',
    createdAt: new Date(start + 3_600_000).toISOString(), meteringPoint: { kind: 'pseudonym', id: 'p-cli' },
    period: { start: new Date(start).toISOString(), end: new Date(start + 3_600_000).toISOString() },
    series: [{ obis: '1-0:1.8.0*255', unit: 'Wh', scaler: 0, kind: 'profile', periodSeconds: 900, values }],
  }
}

/** POSTs `m` sealed to `encCert` (default: emt-1's ENC certificate of the PKI folder); the HTTP status. */
async function deliver(port: number, m: MeterDataMessage, encCert = 'pki/emt-1/enc.cert.pem'): Promise<number> {
  const gw = 'pki/gateways/smgw-0001'
  const subCa = cert('pki/sub-ca-gw/ca.cert.pem')
  const signer = createCmsSigner({ signer: createKeyObjectSigner(decodePrivateKey(pem(`${gw}/sig.key.pem`))), certificate: cert(`${gw}/sig.cert.pem`), chain: [subCa] })
  const body = await createCmsEncryptor({ recipients: [cert(encCert)] }).encrypt(await signer.sign(encodeMeterData(m), { signingTime: new Date() }))
  const ctx = createTlsContext({
    identity: { key: decodePrivateKey(pem(`${gw}/tls.key.pem`)), cert: cert(`${gw}/tls.cert.pem`), chain: [subCa] },
    trust: { roots: [cert('pki/root-ca/ca.cert.pem')] },
  })
  const socket = await connectTls(ctx, { host: '127.0.0.1', port })
  try {
    return await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ createConnection: () => socket, method: 'POST', path: METER_DATA_PATH, headers: { 'content-type': METER_DATA_CONTENT_TYPE, [IDEMPOTENCY_HEADER]: m.messageId } }, (res) => {
        res.resume()
        res.on('end', () => { resolve(res.statusCode ?? 0) })
      })
      req.on('error', reject)
      req.end(body)
    })
  } finally {
    socket.destroy()
  }
}

describe('smgw emt', () => {
  it('--help shows the configuration and examples', async () => {
    const r = await runCaptured(['emt', '--help'])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('smgw emt serve --config emt.json')
    expect(r.stdout).toContain('"participantId": "emt-1"')
    const e = await runCaptured(['emt', 'export', '--help'])
    expect(e.stdout).toContain('Examples:')
  })

  it('gateway add | list | remove, with --json; a second add and removing an unknown gateway exit 1', async () => {
    expect(await runCaptured(['emt', 'gateway', 'add', 'smgw-0001', '--config', p('emt.json'), '--note', 'test'])).toMatchObject({ status: 0, stdout: 'gateway smgw-0001 added\n' })
    expect(await runCaptured(['emt', 'gateway', 'add', 'smgw-0002', '--config', p('emt.json'), '--json'])).toMatchObject({ status: 0, stdout: '{"added":"smgw-0002"}\n' })
    const again = await runCaptured(['emt', 'gateway', 'add', 'smgw-0001', '--config', p('emt.json')])
    expect([again.status, again.stderr]).toEqual([1, expect.stringContaining('EMT_GATEWAY_EXISTS')])
    const list = await runCaptured(['emt', 'gateway', 'list', '--config', p('emt.json'), '--json'])
    expect((JSON.parse(list.stdout) as { gateways: { id: string; note: string | null }[] }).gateways.map((g) => [g.id, g.note])).toEqual([['smgw-0001', 'test'], ['smgw-0002', null]])
    expect(await runCaptured(['emt', 'gateway', 'remove', 'smgw-0002', '--config', p('emt.json')])).toMatchObject({ status: 0, stdout: 'gateway smgw-0002 removed\n' })
    const unknown = await runCaptured(['emt', 'gateway', 'remove', 'smgw-0002', '--config', p('emt.json')])
    expect([unknown.status, unknown.stderr]).toEqual([1, expect.stringContaining('EMT_GATEWAY_UNKNOWN')])
    expect((await runCaptured(['emt', 'gateway', 'add', 'bad id', '--config', p('emt.json')])).status).toBe(2)
  })

  it('serve prints its ports, stores a delivered message, stops on SIGTERM with exit 0; export writes MSCONS, CSV and JSON', async () => {
    let stdout = ''
    let stderr = ''
    let onOutput: () => void = () => undefined
    let onLog: () => void = () => undefined
    const io: CliIo = {
      stdout: (t) => { stdout += t; onOutput() },
      stdoutBytes: () => undefined,
      stderr: (t) => { stderr += t; onLog() },
      stdin: async function* () { yield await Promise.resolve(new Uint8Array(0)) },
      readFile: (path) => Promise.resolve(new Uint8Array(readFileSync(path))),
    }
    const running = runCli(['emt', 'serve', '--config', p('emt.json'), '--json', '--log-level', 'info'], io)
    const listening = await new Promise<{ gatewayPort: number; apiPort: number }>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no listening line; stderr: ${stderr}`)) }, 30_000)
      onOutput = () => {
        const line = stdout.split('\n').find((l) => l.includes('"listening"'))
        if (line !== undefined) { clearTimeout(timer); resolve(JSON.parse(line) as { gatewayPort: number; apiPort: number }) }
      }
    })
    const m = message(new Date())
    expect(await deliver(listening.gatewayPort, m)).toBe(201)
    const api = await fetch(`http://127.0.0.1:${String(listening.apiPort)}/v1/metering-points`, { headers: { authorization: 'Bearer cli-test-token-0123456789' } })
    expect(await api.json()).toMatchObject({ meteringPoints: [{ id: 'p-cli', values: 4 }] })
    // SIGHUP re-reads the CRL files (bounded wait for the log line).
    const reloaded = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no crls-reloaded line: ${stderr}`)) }, 10_000)
      onLog = () => { if (stderr.includes('"event":"crls-reloaded"')) { clearTimeout(timer); resolve() } }
    })
    process.emit('SIGHUP')
    await reloaded
    process.emit('SIGTERM')
    expect(await running).toBe(0)
    expect(stdout).toContain('{"event":"stopped"}')
    expect(stderr).toContain('"event":"stored"')

    const mscons = await runCaptured(['emt', 'export', '--config', p('emt.json'), '--format', 'mscons', '--metering-point', 'p-cli', '--recipient', '9900000000003'])
    expect(mscons.status).toBe(0)
    expect(mscons.stdout.match(/QTY\+220:\d+\.\d+:KWH'/g)).toHaveLength(4)
    expect(mscons.stdout).toContain("LOC+172+p-cli'")
    expect((await runCaptured(['emt', 'export', '--config', p('emt.json'), '--format', 'csv', '--out', p('out.csv')])).status).toBe(0)
    expect(readFileSync(p('out.csv'), 'utf8').split('\r\n')).toHaveLength(6)
    const json = await runCaptured(['emt', 'export', '--config', p('emt.json'), '--format', 'json', '--from', m.period.start, '--to', m.series[0]?.values[1]?.time ?? ''])
    expect((JSON.parse(json.stdout) as { meteringPoints: { series: { values: unknown[] }[] }[] }).meteringPoints[0]?.series[0]?.values).toHaveLength(2)
  })

  it('usage and configuration errors exit 2', async () => {
    expect((await runCaptured(['emt', 'export', '--config', p('emt.json'), '--format', 'xml'])).status).toBe(2)
    expect((await runCaptured(['emt', 'export', '--config', p('emt.json'), '--format', 'csv', '--from', 'yesterday'])).status).toBe(2)
    writeFileSync(p('bad.json'), JSON.stringify({ participantId: 'emt-1' }))
    const bad = await runCaptured(['emt', 'gateway', 'list', '--config', p('bad.json')])
    expect([bad.status, bad.stderr]).toEqual([2, expect.stringContaining('EMT_CONFIG_INVALID')])
    expect((await runCaptured(['emt', 'serve', '--config', p('bad.json')])).status).toBe(2)
  })
})

const softhsm = findPkcs11Library(existsSync)

describe.skipIf(softhsm === undefined)('smgw emt serve with its ENC key on a PKCS#11 token (SoftHSM2), the real binary, two workers', () => {
  it('decrypts in the token in every worker: messages sealed to the token key are stored, one sealed to the old file key is NOT_FOR_US', async () => {
    // A real process (node ESM, not vitest's CommonJS interop, which once hid that the PKCS#11
    // module opened no token under node), two workers each with its own session on the token.
    mkdirSync(p('tokens'), { recursive: true })
    writeFileSync(p('softhsm2.conf'), `directories.tokendir = ${p('tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`)
    process.env.SOFTHSM2_CONF = p('softhsm2.conf') // read at C_Initialize; this file runs in its own process (vitest pool: forks)
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'emt', '--pin', '2468', '--so-pin', '1357'], { env: process.env })
    const library = softhsm ?? ''
    const token = await createPkcs11SecurityModule({ library, tokenLabel: 'emt', pin: '2468' })
    const key = await token.generateKey('brainpoolP256r1', 'emt-enc')
    await token.close()
    // The sub-CA of the market participants certifies the token's key (the private key never leaves the token).
    const subCaKey = createKeyObjectSigner(decodePrivateKey(pem('pki/sub-ca-emt/ca.key.pem')))
    const encCert = await issueCertificate({
      profile: 'enc', subject: { C: 'DE', O: 'SMGW Test', OU: 'EMT', CN: 'emt-1' }, publicKey: key.publicKey,
      serialNumber: new Uint8Array([0x42, 7, 7, 7]), ...defaultValidity('enc', new Date(Date.now() - 60_000)),
      issuer: { signer: subCaKey, certificate: cert('pki/sub-ca-emt/ca.cert.pem') },
    })
    writeFileSync(p('enc-token.cert.pem'), encodePem('CERTIFICATE', encCert))
    writeFileSync(p('pin'), '2468\n', { mode: 0o600 })
    const base = JSON.parse(readFileSync(p('emt.json'), 'utf8')) as Record<string, unknown>
    writeFileSync(p('emt-token.json'), JSON.stringify({
      ...base, api: undefined, storage: { sqlite: 'emt-token.db' },
      enc: { certificate: 'enc-token.cert.pem', key: { pkcs11: { library, tokenLabel: 'emt', pinFile: 'pin' }, label: 'emt-enc' } },
    }))
    expect((await runCaptured(['emt', 'gateway', 'add', 'smgw-0001', '--config', p('emt-token.json')])).status).toBe(0)

    const bin = fileURLToPath(new URL('../../bin/smgw.js', import.meta.url))
    // Round robin, so that both workers take connections for certain.
    const server = spawn(process.execPath, [bin, 'emt', 'serve', '--config', p('emt-token.json'), '--workers', '2', '--json', '--log-level', 'info'], {
      env: { ...process.env, NODE_CLUSTER_SCHED_POLICY: 'rr' }, stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    server.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = ''
        const timer = setTimeout(() => { reject(new Error(`no listening line; stderr: ${stderr}`)) }, 120_000)
        server.stdout.on('data', (c: Buffer) => {
          out += c.toString()
          const line = out.split('\n').find((l) => l.includes('"listening"'))
          if (line !== undefined) { clearTimeout(timer); resolve((JSON.parse(line) as { gatewayPort: number }).gatewayPort) }
        })
        server.once('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited ${String(code)}: ${stderr}`)) })
      })
      const now = new Date()
      const statuses = []
      for (const k of [1, 2, 3, 4]) statuses.push(await deliver(port, message(now, `token-${String(k)}`), 'enc-token.cert.pem'))
      expect(statuses).toEqual([201, 201, 201, 201])
      expect(await deliver(port, message(now, 'old-key'))).toBe(400)
      // Both workers stored (each logs with its own pid), and the old key's message was refused as not ours.
      const stored = stderr.split('\n').filter((l) => l.includes('"event":"stored"')).map((l) => (JSON.parse(l) as { worker: number }).worker)
      expect(stored).toHaveLength(4)
      expect(new Set(stored).size).toBe(2)
      expect(stderr).toMatch(/"event":"rejected","code":"NOT_FOR_US"/)
    } finally {
      server.kill('SIGTERM')
      await new Promise((resolve) => { if (server.exitCode === null) server.once('exit', resolve); else resolve(undefined) })
    }
    const repo = openSqliteRepository(p('emt-token.db'))
    expect((await repo.listMessages({ gatewayId: 'smgw-0001' })).map((m) => m.messageId).sort()).toEqual([1, 2, 3, 4].map((k) => `smgw-0001:taf7:token-${String(k)}`))
    await repo.close()

    // A wrong PIN: the receiver does not start, and says why.
    writeFileSync(p('pin-wrong'), '9999\n', { mode: 0o600 })
    const config = JSON.parse(readFileSync(p('emt-token.json'), 'utf8')) as { enc: { key: { pkcs11: Record<string, unknown> } } }
    writeFileSync(p('emt-token-wrong-pin.json'), JSON.stringify({ ...config, enc: { ...config.enc, key: { ...config.enc.key, pkcs11: { ...config.enc.key.pkcs11, pinFile: 'pin-wrong' } } } }))
    const refused = spawnSync(process.execPath, [bin, 'emt', 'serve', '--config', p('emt-token-wrong-pin.json')], { env: process.env, encoding: 'utf8', timeout: 60_000 })
    expect([refused.status, refused.stderr]).toEqual([1, expect.stringMatching(/EMT_START_FAILED.*PIN is wrong/) as unknown])
  }, 180_000)
})

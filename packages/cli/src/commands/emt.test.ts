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

/** smgw-0001's TLS client identity, trusting the PKI folder's root. */
function gatewayTlsContext() {
  const gw = 'pki/gateways/smgw-0001'
  return createTlsContext({
    identity: { key: decodePrivateKey(pem(`${gw}/tls.key.pem`)), cert: cert(`${gw}/tls.cert.pem`), chain: [cert('pki/sub-ca-gw/ca.cert.pem')] },
    trust: { roots: [cert('pki/root-ca/ca.cert.pem')] },
  })
}

/** POSTs `m` sealed to `encCert` (default: emt-1's ENC certificate of the PKI folder); the HTTP status. */
async function deliver(port: number, m: MeterDataMessage, encCert = 'pki/emt-1/enc.cert.pem'): Promise<number> {
  const gw = 'pki/gateways/smgw-0001'
  const subCa = cert('pki/sub-ca-gw/ca.cert.pem')
  const signer = createCmsSigner({ signer: createKeyObjectSigner(decodePrivateKey(pem(`${gw}/sig.key.pem`))), certificate: cert(`${gw}/sig.cert.pem`), chain: [subCa] })
  const body = await createCmsEncryptor({ recipients: [cert(encCert)] }).encrypt(await signer.sign(encodeMeterData(m), { signingTime: new Date() }))
  const socket = await connectTls(gatewayTlsContext(), { host: '127.0.0.1', port })
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
    expect(await runCaptured(['emt', 'gateway', 'add', 'smgw-0002', '--config', p('emt.json'), '--json'])).toMatchObject({ status: 0, stdout: '{"added":"smgw-0002","certificates":[]}\n' })
    const again = await runCaptured(['emt', 'gateway', 'add', 'smgw-0001', '--config', p('emt.json')])
    expect([again.status, again.stderr]).toEqual([1, expect.stringContaining('EMT_GATEWAY_EXISTS')])
    const list = await runCaptured(['emt', 'gateway', 'list', '--config', p('emt.json'), '--json'])
    expect((JSON.parse(list.stdout) as { gateways: { id: string; note: string | null }[] }).gateways.map((g) => [g.id, g.note])).toEqual([['smgw-0001', 'test'], ['smgw-0002', null]])
    expect(await runCaptured(['emt', 'gateway', 'remove', 'smgw-0002', '--config', p('emt.json')])).toMatchObject({ status: 0, stdout: 'gateway smgw-0002 removed\n' })
    const unknown = await runCaptured(['emt', 'gateway', 'remove', 'smgw-0002', '--config', p('emt.json')])
    expect([unknown.status, unknown.stderr]).toEqual([1, expect.stringContaining('EMT_GATEWAY_UNKNOWN')])
    expect((await runCaptured(['emt', 'gateway', 'add', 'bad id', '--config', p('emt.json')])).status).toBe(2)
  })

  it('gateway add --certificate / gateway certificates: the TLS and SIG certificates validate and name the gateway, their signatures are remembered; otherwise nothing is registered or remembered', async () => {
    const config = p('emt-certs.json')
    writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(p('emt.json'), 'utf8')) as object, storage: { sqlite: 'emt-certs.db' } }))
    const gw = (id: string, kind: string) => `pki/gateways/${id}/${kind}.cert.pem`
    // The gateway's certificate first, its sub-CA after it (the configuration names no intermediates).
    const withSubCa = (id: string, kind: string) => {
      const file = p(`${id}-${kind}-chain.pem`)
      writeFileSync(file, Buffer.concat([readFileSync(p(gw(id, kind))), readFileSync(p('pki/sub-ca-gw/ca.cert.pem'))]))
      return file
    }
    const refused = async (args: string[], why: RegExp) => {
      const r = await runCaptured(['emt', 'gateway', 'add', 'smgw-0002', '--config', config, ...args])
      expect([r.status, r.stderr]).toEqual([1, expect.stringMatching(why)])
    }
    await refused(['--certificate', withSubCa('smgw-0001', 'tls')], /EMT_CERTIFICATE_INVALID: certificate 1 \(.*CN=smgw-0001.*\) names gateway smgw-0001, not smgw-0002/)
    await refused(['--certificate', withSubCa('smgw-0002', 'tls'), '--certificate', withSubCa('smgw-0002', 'enc')], /EMT_CERTIFICATE_INVALID: certificate 2 is neither a TLS client nor a SIG certificate/)
    await refused(['--certificate', p(gw('smgw-0002', 'tls'))], /EMT_CERTIFICATE_INVALID: certificate 1 .*NO_PATH/)
    await refused(['--certificate', p('api-token')], /EMT_CERTIFICATE_INVALID/)
    expect((await runCaptured(['emt', 'gateway', 'list', '--config', config])).stdout).toBe('no gateways registered\n')

    const ok = await runCaptured(['emt', 'gateway', 'add', 'smgw-0002', '--config', config, '--certificate', withSubCa('smgw-0002', 'tls'), '--certificate', withSubCa('smgw-0002', 'sig'), '--json'])
    expect(ok.status).toBe(0)
    const out = JSON.parse(ok.stdout) as { added: string; certificates: { purpose: string; subject: string }[] }
    expect(out.added).toBe('smgw-0002')
    expect(out.certificates.map((c) => c.purpose)).toEqual(['tls-client', 'sig'])
    const remembered = async () => {
      const repo = openSqliteRepository(p('emt-certs.db'))
      try {
        return { signatures: (await repo.rememberedSignatures(new Date())).length, gateways: (await repo.listGateways()).map((g) => g.id) }
      } finally {
        await repo.close()
      }
    }
    // The TLS and the SIG certificate by the sub-CA, the sub-CA by the root.
    expect(await remembered()).toEqual({ signatures: 3, gateways: ['smgw-0002'] })

    // gateway certificates: a registered gateway's new certificates (here smgw-0001's, registered without).
    const unknown = await runCaptured(['emt', 'gateway', 'certificates', 'smgw-0001', '--config', config, '--certificate', withSubCa('smgw-0001', 'sig')])
    expect([unknown.status, unknown.stderr]).toEqual([1, expect.stringContaining('EMT_GATEWAY_UNKNOWN')])
    expect((await runCaptured(['emt', 'gateway', 'add', 'smgw-0001', '--config', config])).status).toBe(0)
    const wrong = await runCaptured(['emt', 'gateway', 'certificates', 'smgw-0001', '--config', config, '--certificate', withSubCa('smgw-0002', 'sig')])
    expect([wrong.status, wrong.stderr]).toEqual([1, expect.stringContaining('EMT_CERTIFICATE_INVALID')])
    const renewed = await runCaptured(['emt', 'gateway', 'certificates', 'smgw-0001', '--config', config, '--certificate', withSubCa('smgw-0001', 'sig')])
    expect(renewed).toMatchObject({ status: 0, stdout: expect.stringMatching(/^gateway smgw-0001: certificates remembered\n {2}sig certificate [0-9a-f]+ valid until \S+\n$/) as unknown })
    expect(await remembered()).toEqual({ signatures: 4, gateways: ['smgw-0001', 'smgw-0002'] })
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

  it('prune deletes what retention allows (periods of years over for 3 years) and keeps the rest', async () => {
    const repo = openSqliteRepository(p('emt.db'))
    const old = message(new Date(Date.now() - 5 * 366 * 86_400_000), 'five-years-ago')
    try {
      expect(await repo.storeMessage({ message: old, sha256: 'old', receivedAt: new Date(), tooOld: false })).toBe('stored')
    } finally {
      await repo.close()
    }
    const first = await runCaptured(['emt', 'prune', '--config', p('emt.json'), '--json'])
    expect(first.status).toBe(0)
    expect(JSON.parse(first.stdout)).toMatchObject({ pruned: { messages: 1, values: 4 } })
    expect(await runCaptured(['emt', 'prune', '--config', p('emt.json')])).toMatchObject({ status: 0, stdout: expect.stringMatching(/: 0 values and 0 messages deleted, 0 remembered signatures of expired certificates forgotten\n$/) as unknown })
    const left = openSqliteRepository(p('emt.db'))
    try {
      expect((await left.listMessages({})).map((m) => m.messageId)).toEqual(['smgw-0001:taf7:cli'])
    } finally {
      await left.close()
    }
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

describe.skipIf(softhsm === undefined)('smgw emt serve with its TLS and ENC keys on a PKCS#11 token (SoftHSM2), the real binary, two workers', () => {
  it('every worker authenticates with the token\'s TLS key and decrypts in the token: messages sealed to the token key are stored, one sealed to the old file key is NOT_FOR_US', async () => {
    // A real process (node ESM, not vitest's CommonJS interop, which once hid that the PKCS#11
    // module opened no token under node), two workers each with its own session on the token.
    mkdirSync(p('tokens'), { recursive: true })
    writeFileSync(p('softhsm2.conf'), `directories.tokendir = ${p('tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`)
    process.env.SOFTHSM2_CONF = p('softhsm2.conf') // read at C_Initialize; this file runs in its own process (vitest pool: forks)
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'emt', '--pin', '2468', '--so-pin', '1357'], { env: process.env })
    const library = softhsm ?? ''
    const token = await createPkcs11SecurityModule({ library, tokenLabel: 'emt', pin: '2468' })
    const encKey = await token.generateKey('brainpoolP256r1', 'emt-enc')
    const tlsKey = await token.generateKey('brainpoolP256r1', 'emt-tls')
    await token.close()
    // The sub-CA of the market participants certifies the token's keys (the private keys never leave the token).
    const subCaKey = createKeyObjectSigner(decodePrivateKey(pem('pki/sub-ca-emt/ca.key.pem')))
    const certify = (profile: 'enc' | 'tls', publicKey: Uint8Array, serial: number) => issueCertificate({
      profile, subject: { C: 'DE', O: 'SMGW Test', OU: 'EMT', CN: 'emt-1' }, publicKey,
      serialNumber: new Uint8Array([0x42, 7, 7, serial]), ...defaultValidity(profile, new Date(Date.now() - 60_000)),
      issuer: { signer: subCaKey, certificate: cert('pki/sub-ca-emt/ca.cert.pem') },
    })
    writeFileSync(p('enc-token.cert.pem'), encodePem('CERTIFICATE', await certify('enc', encKey.publicKey, 1)))
    writeFileSync(p('tls-token.cert.pem'), encodePem('CERTIFICATE', await certify('tls', tlsKey.publicKey, 2)))
    writeFileSync(p('pin'), '2468\n', { mode: 0o600 })
    const base = JSON.parse(readFileSync(p('emt.json'), 'utf8')) as { tls: Record<string, unknown> }
    const onToken = (label: string) => ({ pkcs11: { library, tokenLabel: 'emt', pinFile: 'pin' }, label })
    writeFileSync(p('emt-token.json'), JSON.stringify({
      ...base, api: undefined, storage: { sqlite: 'emt-token.db' },
      tls: { ...base.tls, certificate: 'tls-token.cert.pem', key: onToken('emt-tls') },
      enc: { certificate: 'enc-token.cert.pem', key: onToken('emt-enc') },
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
      // The server presents the certificate of the token's TLS key; a handshake completes only if
      // it signed with that key (ServerKeyExchange), which only the token holds.
      const socket = await connectTls(gatewayTlsContext(), { host: '127.0.0.1', port })
      expect(new Uint8Array(socket.getPeerX509Certificate()?.raw ?? [])).toEqual(cert('tls-token.cert.pem'))
      socket.destroy()
      const now = new Date()
      const statuses = []
      for (const k of [1, 2, 3, 4]) statuses.push(await deliver(port, message(now, `token-${String(k)}`), 'enc-token.cert.pem'))
      expect(statuses).toEqual([201, 201, 201, 201])
      expect(await deliver(port, message(now, 'old-key'))).toBe(400)
      // Both workers stored (each logs with its own pid), and the old key's message was refused as
      // not ours. The log lines come through the primary's pipe, maybe after the answers.
      for (let waited = 0; waited < 10_000 && !/"code":"NOT_FOR_US"/.test(stderr); waited += 50) await new Promise((resolve) => setTimeout(resolve, 50))
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

    // A wrong PIN: the receiver does not start, and says why. Two PIN files for one token: refused as a configuration error.
    writeFileSync(p('pin-wrong'), '9999\n', { mode: 0o600 })
    const config = readFileSync(p('emt-token.json'), 'utf8')
    writeFileSync(p('emt-token-wrong-pin.json'), config.replaceAll('"pinFile":"pin"', '"pinFile":"pin-wrong"'))
    const serve = (file: string) => spawnSync(process.execPath, [bin, 'emt', 'serve', '--config', p(file)], { env: process.env, encoding: 'utf8', timeout: 60_000 })
    expect(serve('emt-token-wrong-pin.json')).toMatchObject({ status: 1, stderr: expect.stringMatching(/EMT_START_FAILED: TLS key: the PIN is wrong/) as unknown })
    // The TLS key (opened first) with the right PIN, the ENC key on the same token with another.
    const twoPins = JSON.parse(config) as { enc: { key: { pkcs11: { pinFile: string } } } }
    twoPins.enc.key.pkcs11.pinFile = 'pin-wrong'
    writeFileSync(p('emt-token-two-pins.json'), JSON.stringify(twoPins))
    expect(serve('emt-token-two-pins.json')).toMatchObject({ status: 2, stderr: expect.stringContaining('EMT_CONFIG_INVALID: tls.key and enc.key name the same security module with different settings') as unknown })
  }, 180_000)
})

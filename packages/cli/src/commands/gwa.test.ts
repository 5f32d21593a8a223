import { spawn } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createGwa, readGwaConfig, type GwaService } from '@smgw/gwa'
import { decodeCertificate } from '@smgw/pki'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCaptured } from '../testing.js'

/* `smgw gwa …` against a running head-end (in-process, real HTTP), and `serve` as a real process. */

const CLI = fileURLToPath(new URL('../../bin/smgw.js', import.meta.url))
const SAMPLE = fileURLToPath(new URL('../../../../samples/gwa.json', import.meta.url))
let dir = ''
let configPath = ''
let gwa: GwaService

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smgw-cli-gwa-'))
  // The sample configuration against a demo PKI folder made by `smgw pki init`.
  expect((await runCaptured(['pki', 'init', join(dir, 'pki'), '--gateways', '1', '--at', new Date(Date.now() - 86_400_000).toISOString()])).status).toBe(0)
  writeFileSync(join(dir, 'gwa-api-token'), 'cli-test-token-0123456789\n', { mode: 0o600 })
  const sample = JSON.parse(readFileSync(SAMPLE, 'utf8')) as Record<string, unknown>
  writeFileSync(join(dir, 'sample.json'), JSON.stringify({ ...sample, listen: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0, tokenFile: 'gwa-api-token' } }))
  gwa = createGwa(await readGwaConfig(join(dir, 'sample.json')), { logger: pino({ level: 'silent' }) })
  await gwa.start()
  // The CLI finds the API through the same kind of file: written with the bound port.
  configPath = join(dir, 'gwa.json')
  writeFileSync(configPath, JSON.stringify({ ...sample, api: { host: '127.0.0.1', port: gwa.ports().api, tokenFile: 'gwa-api-token' }, storage: { sqlite: 'unused.db' } }))
})

afterAll(async () => {
  await gwa.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('smgw gwa', () => {
  it('register, deploy, renew, log pull, status and commands through the REST API', async () => {
    const reg = await runCaptured(['gwa', 'register', 'smgw-0001', '--wake-up', '127.0.0.1:4059', '--note', 'Musterstraße 1', '--config', configPath])
    expect(reg).toMatchObject({ status: 0, stdout: 'gateway smgw-0001 registered\n' })
    const again = await runCaptured(['gwa', 'register', 'smgw-0001', '--config', configPath, '--json'])
    expect(again.status).toBe(1)
    expect(JSON.parse(again.stderr)).toMatchObject({ error: { code: 'GWA_GATEWAY_EXISTS' } })

    writeFileSync(join(dir, 'profile.json'), JSON.stringify({ time: { servers: ['ntp.example'] } }))
    const deploy = await runCaptured(['gwa', 'deploy', 'smgw-0001', '--profile', join(dir, 'profile.json'), '--config', configPath, '--json'])
    expect(deploy.status).toBe(0)
    expect(JSON.parse(deploy.stdout)).toMatchObject({ version: 1, command: { type: 'profile', sequence: 1, state: 'queued' } })
    const renew = await runCaptured(['gwa', 'renew', 'smgw-0001', '--kinds', 'tls,sig', '--config', configPath])
    expect(renew).toMatchObject({ status: 0, stdout: expect.stringContaining('generate-csr queued for sequence 2') })
    expect((await runCaptured(['gwa', 'log', 'pull', 'smgw-0001', '--since', '3', '--config', configPath])).stdout).toContain('read-log queued for sequence 3')
    expect((await runCaptured(['gwa', 'taf', 'smgw-0001', '--profile', 'taf6-a', '--use-case', '6', '--config', configPath])).status).toBe(0)

    const status = await runCaptured(['gwa', 'status', '--config', configPath])
    expect(status.stdout).toMatch(/^smgw-0001\tregistered\tfirmware -\tprofile v0\tlast contact never\n$/)
    const one = await runCaptured(['gwa', 'status', 'smgw-0001', '--config', configPath, '--json'])
    expect(JSON.parse(one.stdout)).toMatchObject({ gateway: { id: 'smgw-0001', wakeUpAddress: '127.0.0.1:4059' }, pendingCommands: 4, profiles: [{ version: 1, state: 'queued' }] })
    const commands = await runCaptured(['gwa', 'commands', 'smgw-0001', '--config', configPath])
    expect(commands.stdout.trim().split('\n').map((l) => l.split('\t').slice(0, 3).join(' '))).toEqual(['1 profile queued', '2 generate-csr queued', '3 read-log queued', '4 taf-request queued'])
    expect((await runCaptured(['gwa', 'log', 'list', 'smgw-0001', '--config', configPath])).stdout).toBe('no log exports\n')
    expect((await runCaptured(['gwa', 'firmware', 'list', '--config', configPath])).stdout).toBe('no firmware packages\n')
    const revoke = await runCaptured(['gwa', 'revoke', 'smgw-0001', '--config', configPath])
    expect(revoke.status).toBe(0)
    const refused = await runCaptured(['gwa', 'crls', 'smgw-0001', '--config', configPath])
    expect(refused).toMatchObject({ status: 1, stderr: expect.stringContaining('GWA_REQUEST_INVALID') })
  })

  it('clear errors: usage (2), unknown gateway, no wake-up address, unreachable API, missing token', async () => {
    expect((await runCaptured(['gwa', 'renew', 'smgw-0001', '--kinds', 'tls,foo', '--config', configPath])).status).toBe(2)
    expect((await runCaptured(['gwa', 'taf', 'smgw-0001', '--profile', 'p', '--use-case', '7', '--config', configPath])).status).toBe(2)
    expect((await runCaptured(['gwa', 'rollback', 'smgw-0001', 'x', '--config', configPath])).status).toBe(2)
    expect((await runCaptured(['gwa', 'deploy', 'smgw-0001', '--profile', join(dir, 'missing.json'), '--config', configPath])).status).toBe(2)
    writeFileSync(join(dir, 'bad-profile.json'), JSON.stringify({ firmware: {} }))
    expect((await runCaptured(['gwa', 'deploy', 'smgw-0001', '--profile', join(dir, 'bad-profile.json'), '--config', configPath])).stderr).toContain('unknown part(s) firmware')
    expect((await runCaptured(['gwa', 'status'])).status).toBe(2)
    const unknown = await runCaptured(['gwa', 'wake', 'smgw-0404', '--config', configPath])
    expect(unknown).toMatchObject({ status: 1, stderr: 'smgw gwa: GWA_GATEWAY_UNKNOWN: gateway smgw-0404 is not registered\n' })
    await runCaptured(['gwa', 'register', 'smgw-0002', '--config', configPath])
    expect((await runCaptured(['gwa', 'wake', 'smgw-0002', '--config', configPath])).stderr).toContain('GWA_WAKE_UP_FAILED')
    const unreachable = await runCaptured(['gwa', 'status', '--url', 'http://127.0.0.1:1', '--config', configPath])
    expect(unreachable).toMatchObject({ status: 1, stderr: expect.stringContaining('GWA_UNREACHABLE') })
    const noToken = await runCaptured(['gwa', 'status', '--url', `http://127.0.0.1:${String(gwa.ports().api)}`])
    expect(noToken.status).toBe(process.env.SMGW_GWA_API_TOKEN === undefined ? 2 : 1)
    writeFileSync(join(dir, 'broken.json'), '{"gwaId": 5}')
    expect((await runCaptured(['gwa', 'status', '--config', join(dir, 'broken.json')])).stderr).toContain('GWA_CONFIG_INVALID')
    const help = await runCaptured(['gwa', '--help'])
    expect(help.stdout).toContain('smgw gwa serve --config gwa.json')
  })

  it('meter-keys: the keys file must be 0600 (KEYS_PERMISSIONS), its keys valid; without an ENC certificate GWA_NO_ENC_CERTIFICATE; then queued by key ID', async () => {
    await runCaptured(['gwa', 'register', 'smgw-0005', '--config', configPath])
    const keys = { 'wmbus-1': '000102030405060708090a0b0c0d0e0f', 'wmbus-2': 'F0E0D0C0B0A090807060504030201000' }
    const open = join(dir, 'keys-open.json')
    writeFileSync(open, JSON.stringify(keys), { mode: 0o644 })
    const refused = await runCaptured(['gwa', 'meter-keys', 'smgw-0005', '--keys', open, '--config', configPath])
    expect(refused).toMatchObject({ status: 2, stderr: expect.stringMatching(/^smgw gwa: KEYS_PERMISSIONS: .*mode 644/) })
    const file = join(dir, 'keys.json')
    writeFileSync(file, JSON.stringify(keys), { mode: 0o600 })
    expect(await runCaptured(['gwa', 'meter-keys', 'smgw-0005', '--keys', file, '--config', configPath])).toMatchObject({ status: 1, stderr: expect.stringContaining('GWA_NO_ENC_CERTIFICATE') })
    // The gateway reports an ENC certificate this GWA issued (recorded here directly; service.test.ts issues one from a CSR).
    const der = new Uint8Array(new X509Certificate(readFileSync(join(dir, 'pki/gateways/smgw-0001/enc.cert.pem'))).raw)
    const enc = decodeCertificate(der)
    await gwa.repository().saveIssuedCertificate({ gatewayId: 'smgw-0005', kind: 'enc', serial: enc.serialHex, der, issuedAt: new Date() })
    await gwa.repository().recordContact({
      gatewayId: 'smgw-0005', at: new Date(), tlsSubject: 'CN=smgw-0005', report: {}, firmwareVersion: '1.0.0', profileVersion: 0, lastExecutedSequence: 0,
      certificates: [{ kind: 'enc', serial: enc.serialHex, notAfter: enc.notAfter, source: 'operational' }],
      requests: [{ id: 7, consumer: 'anna', kind: 'deletion', state: 'received', createdAt: new Date('2026-11-29T10:00:00.000Z'), text: 'Bitte löschen' }],
    })
    const bad = join(dir, 'keys-bad.json')
    writeFileSync(bad, JSON.stringify({ 'wmbus-1': 'nothex-but-secret-0123456789abcd' }), { mode: 0o600 })
    const badRun = await runCaptured(['gwa', 'meter-keys', 'smgw-0005', '--keys', bad, '--config', configPath])
    expect(badRun).toMatchObject({ status: 1, stderr: expect.stringContaining('"wmbus-1": the key is not 32 hex digits') })
    expect(badRun.stderr).not.toContain('nothex-but-secret')
    const ok = await runCaptured(['gwa', 'meter-keys', 'smgw-0005', '--keys', file, '--replace', '--config', configPath])
    expect(ok).toMatchObject({ status: 0, stdout: expect.stringMatching(/^meter-keys queued for sequence 1 \(command [0-9a-f-]+\)\nkey IDs: wmbus-1, wmbus-2\n$/) })
    expect(ok.stdout).not.toContain(keys['wmbus-1'])
    expect((await runCaptured(['gwa', 'status', 'smgw-0005', '--config', configPath])).stdout).toContain('  open consumer requests: 1\n')
    const help = await runCaptured(['gwa', 'meter-keys', '--help'])
    expect(help.stdout).toContain('GWA_NO_ENC_CERTIFICATE')

    // The same gateway's consumer request: listed, answered.
    const listed = await runCaptured(['gwa', 'requests', '--open', '--config', configPath])
    expect(listed).toMatchObject({ status: 0, stdout: 'smgw-0005\t7\tdeletion\treceived\tanna\t2026-11-29T10:00:00.000Z\tBitte löschen\n' })
    const json = await runCaptured(['gwa', 'requests', 'smgw-0005', '--config', configPath, '--json'])
    expect(JSON.parse(json.stdout)).toMatchObject({ requests: [{ gatewayId: 'smgw-0005', requestId: 7, inLastReport: true, answer: null }] })
    expect((await runCaptured(['gwa', 'requests', 'smgw-0001', '--open', '--config', configPath])).stdout).toBe('no open requests\n')
    expect((await runCaptured(['gwa', 'requests', 'smgw-0404', '--config', configPath])).stderr).toContain('GWA_GATEWAY_UNKNOWN')
    expect((await runCaptured(['gwa', 'answer', 'smgw-0005', '7', '--state', 'closed', '--note', 'x', '--config', configPath])).status).toBe(2)
    expect((await runCaptured(['gwa', 'answer', 'smgw-0005', 'seven', '--state', 'done', '--note', 'x', '--config', configPath])).status).toBe(2)
    expect((await runCaptured(['gwa', 'answer', 'smgw-0005', '7', '--state', 'done', '--config', configPath])).status).not.toBe(0)
    expect(await runCaptured(['gwa', 'answer', 'smgw-0005', '8', '--state', 'done', '--note', 'x', '--config', configPath])).toMatchObject({ status: 1, stderr: expect.stringContaining('GWA_NOT_FOUND') })
    const answered = await runCaptured(['gwa', 'answer', 'smgw-0005', '7', '--state', 'done', '--note', 'Ihre Daten sind gelöscht.', '--config', configPath])
    expect(answered).toMatchObject({ status: 0, stdout: expect.stringContaining('answer-request queued for sequence 2') })

    // A market participant's CLS channel, through the operator: cls-open queued (and the gateway woken).
    const cls = await runCaptured(['gwa', 'cls', 'smgw-0005', '--device', 'hp-1', '--emt', 'emt-1', '--endpoint', 'https://127.0.0.1:8445', '--timeout', '600', '--config', configPath, '--json'])
    expect(cls.status, cls.stderr).toBe(0)
    expect(JSON.parse(cls.stdout)).toMatchObject({ command: { sequence: 3, type: 'cls-open', state: 'queued' } })
    expect((await runCaptured(['gwa', 'cls', 'smgw-0005', '--device', 'hp-1', '--emt', 'emt-1', '--endpoint', 'https://127.0.0.1:8445', '--timeout', '0', '--config', configPath])).status).toBe(2)
    expect(await runCaptured(['gwa', 'cls', 'smgw-0005', '--device', 'hp-1', '--emt', 'emt-1', '--endpoint', 'http://127.0.0.1:8445', '--config', configPath])).toMatchObject({ status: 1, stderr: expect.stringContaining('endpoint') })
  })

  it('serve runs as a process: prints its ports, answers the API, stops on SIGTERM', async () => {
    const serveConfig = join(dir, 'serve.json')
    const base = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>
    writeFileSync(serveConfig, JSON.stringify({ ...base, listen: { host: '127.0.0.1', port: 0 }, storage: { sqlite: 'serve.db' }, api: { host: '127.0.0.1', port: 0, tokenFile: 'gwa-api-token' } }))
    const child = spawn(process.execPath, [CLI, 'gwa', 'serve', '--config', serveConfig, '--json', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
    const first = await lines.next()
    const listening = JSON.parse(String(first.value)) as { event: string; adminPort: number; apiPort: number }
    expect(listening).toMatchObject({ event: 'listening', gwaId: 'gwa' })
    const health = await fetch(`http://127.0.0.1:${String(listening.apiPort)}/health`)
    expect(await health.json()).toEqual({ status: 'ok' })
    const exited = new Promise<number | null>((resolve) => { child.once('exit', (code) => { resolve(code) }) })
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(JSON.parse(String((await lines.next()).value))).toEqual({ event: 'stopped' })
    expect(stderr).toBe('')
  })
})

import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { truncate } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findPkcs11Library } from '@smgw/crypto'
import { createConfigVersions, openStore, parseGatewayConfig, readEffectiveConfig } from '@smgw/gateway'
import { createSimulator, createSmlMeterFromConfig, parseSmlMeterConfig, type SimulatorSent } from '@smgw/sim'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCaptured } from '../testing.js'

const KEY = '000102030405060708090a0b0c0d0e0f'
let dir: string
const p = (...parts: string[]) => join(dir, ...parts)
const GW = 'pki/gateways/smgw-0001'

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smgw-gateway-cli-'))
  const init = await runCaptured(['pki', 'init', p('pki'), '--gateways', '1'])
  expect(init.status).toBe(0)
  writeFileSync(p('keys.json'), JSON.stringify({ 'gas-1': KEY }), { mode: 0o600 })
}, 60_000)
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

function writeConfig(name: string, meters: unknown[], extra: Record<string, unknown> = {}): string {
  const file = p(name)
  // Relative paths: taken from the configuration file's folder.
  writeFileSync(file, JSON.stringify({ gatewayId: 'smgw-0001', store: { path: `${name}.db` }, logs: { sigKey: `${GW}/sig.key.pem`, sigCertificate: `${GW}/sig.cert.pem` }, meters, ...extra }, null, 2))
  return file
}

const GAS = { id: 'gas-1', kind: 'wmbus', mbusId: '12345678', keyId: 'gas-1', intervalS: 16, transport: { udp: { host: '127.0.0.1', port: 0 } } }

describe('smgw gateway --check', () => {
  it('a valid configuration and key file: exit 0', async () => {
    const r = await runCaptured(['gateway', '--config', writeConfig('ok.json', [GAS]), '--keys', p('keys.json'), '--check'])
    expect([r.status, r.stderr]).toEqual([0, ''])
    expect(r.stdout).toBe(`configuration ok: gateway smgw-0001, 1 meter, store ${p('ok.json.db')}\n`)
    const j = await runCaptured(['gateway', '--config', p('ok.json'), '--keys', p('keys.json'), '--check', '--json'])
    expect(JSON.parse(j.stdout)).toEqual({ ok: true, gatewayId: 'smgw-0001', meters: 1, store: p('ok.json.db') })
  })

  it('configuration errors exit 2 naming the path; key file problems too', async () => {
    const bad = await runCaptured(['gateway', '--config', writeConfig('bad.json', [{ ...GAS, intervalS: -1 }]), '--check'])
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/CONFIG_INVALID: .*\n\s+meters\[0\]\.intervalS: /)
    const missing = await runCaptured(['gateway', '--config', p('ok.json'), '--check']) // gas-1 needs a key
    expect([missing.status, missing.stderr]).toEqual([2, expect.stringMatching(/KEYS_INVALID: keys missing from the key file: meters\[0\]\.keyId: gas-1/)])
    writeFileSync(p('open-keys.json'), JSON.stringify({ 'gas-1': KEY }))
    chmodSync(p('open-keys.json'), 0o644)
    const open = await runCaptured(['gateway', '--config', p('ok.json'), '--keys', p('open-keys.json'), '--check'])
    expect([open.status, open.stderr]).toEqual([2, expect.stringMatching(/KEYS_PERMISSIONS/)])
    expect((await runCaptured(['gateway', '--config', p('nope.json'), '--check'])).stderr).toMatch(/CONFIG_INVALID: cannot read/)
    expect((await runCaptured(['gateway', '--check'])).status).toBe(2) // --config is required
  })

  it('an admin section: --check names the GWA and the wake-up port, and the configuration version the GWA made active', async () => {
    const admin = {
      endpoint: 'https://gwa.test:8443', gwaCertificate: 'pki/gwa/sig.cert.pem',
      trust: { roots: ['pki/root-ca/ca.cert.pem'], intermediates: ['pki/chain.pem'] },
      initialIdentity: { key: `${GW}/gs.key.pem`, certificate: `${GW}/gs.cert.pem`, chain: ['pki/sub-ca-gs/ca.cert.pem'] },
      stateDir: 'admin-state', wakeUp: { port: 8124 },
    }
    const file = writeConfig('admin.json', [GAS], { admin })
    const r = await runCaptured(['gateway', '--config', file, '--keys', p('keys.json'), '--check'])
    expect([r.status, r.stderr]).toEqual([0, ''])
    expect(r.stdout).toMatch(/administered by https:\/\/gwa\.test:8443: wake-up on UDP 0\.0\.0\.0:8124, a session every 86400 s, no configuration version from the GWA yet \(this file runs\)/)
    // The GWA applies version 3 with a second meter: from now on the gateway runs it, with this file's admin section.
    const { config } = await readEffectiveConfig(file)
    await createConfigVersions({ stateDir: p('admin-state') }, { current: () => config, reconfigure: () => Promise.resolve(), log: () => Promise.resolve() })
      .applyProfile({ version: 3, meters: [GAS, { ...GAS, id: 'gas-2', mbusId: '22222222' }] })
    const j = await runCaptured(['gateway', '--config', file, '--keys', p('keys.json'), '--check', '--json'])
    expect(JSON.parse(j.stdout)).toEqual({
      ok: true, gatewayId: 'smgw-0001', meters: 2, store: p('admin.json.db'),
      admin: { endpoint: 'https://gwa.test:8443', wakeUp: '0.0.0.0:8124', stateDir: p('admin-state'), activeVersion: 3, pollIntervalS: 86_400 },
    })
    // `smgw han user add` knows the consumers of the version in force, not only the file's.
    const add = await runCaptured(['han', 'user', 'add', 'bob', '--consumer', 'c-7', '--config', file], 'a long passphrase\n')
    expect([add.status, add.stderr]).toEqual([1, expect.stringContaining('HAN_ACCOUNT_INVALID')])
    await createConfigVersions({ stateDir: p('admin-state') }, { current: () => config, reconfigure: () => Promise.resolve(), log: () => Promise.resolve() })
      .applyProfile({ version: 4, meters: [GAS, { ...GAS, id: 'gas-2', mbusId: '22222222', consumer: 'c-7' }] })
    const added = await runCaptured(['han', 'user', 'add', 'bob', '--consumer', 'c-7', '--config', file], 'a long passphrase\n')
    expect([added.status, added.stderr]).toEqual([0, ''])
    // Version 4's file damaged: the start says which version runs instead, --check --json carries it.
    await truncate(join(p('admin-state'), 'config', 'v4.json'), 40)
    const fell = await runCaptured(['gateway', '--config', file, '--keys', p('keys.json'), '--check', '--json'])
    expect(fell.status).toBe(0)
    expect(fell.stderr).toMatch(/warning: ACTIVE_VERSION_INVALID: .*; running configuration version 3 instead/)
    expect(JSON.parse(fell.stdout)).toMatchObject({ admin: { activeVersion: 3, fallback: { rejected: 4, code: 'ACTIVE_VERSION_INVALID' } } })
  })

  it('--help shows an example configuration that is itself valid', async () => {
    const r = await runCaptured(['gateway', '--help'])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/Examples:\n {2}smgw gateway --config gateway.json --keys meter-keys.json/)
    const example = /Example configuration:\n(\{[\s\S]*?\n\})\n/.exec(r.stdout)?.[1]
    expect(example).toBeDefined()
    expect(parseGatewayConfig(JSON.parse(example!)).meters).toHaveLength(4)
  })
})

describe('smgw gateway in-process', () => {
  it('--json status lines; a replayed capture is stored; SIGTERM stops it (exit 0); a start failure exits 1', async () => {
    const meter = createSmlMeterFromConfig(parseSmlMeterConfig({ seed: 2, quirks: ['noise'] }))
    writeFileSync(p('capture.sml'), Buffer.concat([0, 1, 2].map((i) => meter.next(new Date(Date.UTC(2026, 0, 1) + i * 2000)).bytes)))
    const config = writeConfig('replay.json', [{ id: 'replayed', kind: 'sml', intervalS: 2, transport: { file: 'capture.sml' } }])
    const running = runCaptured(['gateway', '--config', config, '--json', '--status-interval', '0'])
    // runCaptured collects stderr only at the end: signal once the store holds the replay.
    await expect.poll(() => {
      try {
        const store = openStore(p('replay.json.db'), { now: () => new Date() }, { readonly: true })
        try {
          return store.countReadings()
        } finally {
          store.close()
        }
      } catch {
        return 0
      }
    }, { timeout: 15_000, interval: 50 }).toBe(9)
    process.emit('SIGTERM')
    const r = await running
    expect(r.status).toBe(0)
    // Standard error: status lines (with `event`) and pino diagnostics (with `level`), all JSON.
    const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.some((l) => l.level === 40 && l.msg === 'bytes dropped on the LMN (logged at most once a minute)')).toBe(true)
    const status = lines.filter((l) => 'event' in l)
    const [first, last] = [status[0]!, status.at(-1)!]
    expect(first).toMatchObject({ event: 'running', state: 'running' })
    expect(last).toMatchObject({ event: 'stopped', state: 'closed', stored: 9, meters: [{ id: 'replayed', state: 'ok', stored: 9 }] })
    expect(Number(last.garbageBytes)).toBeGreaterThan(0) // the noise before each file
    const failing = writeConfig('failing.json', [{ id: 'gone', kind: 'sml', intervalS: 2, transport: { serial: { path: 'no-such-tty' } } }])
    const f = await runCaptured(['gateway', '--config', failing])
    expect([f.status, f.stderr]).toEqual([1, expect.stringMatching(/could not start: LMN_OPEN_FAILED/)])
  })
})

describe('smgw gateway (a real process)', () => {
  it('reads an SML simulator over TCP and a wM-Bus simulator over UDP, stops on SIGTERM, the store verifies', async () => {
    const sent: SimulatorSent[] = []
    const sml = createSimulator({ kind: 'sml', output: { kind: 'listen', host: '127.0.0.1', port: 0 }, intervalS: 1, meter: { seed: 12 } }, { onSent: (s) => { sent.push(s) } })
    await sml.start()
    const config = writeConfig('run.json', [{ id: 'ehz-1', kind: 'sml', intervalS: 1, transport: { tcp: { host: '127.0.0.1', port: sml.port() } } }, GAS], { batch: { maxReadings: 50, maxDelayMs: 50 } })
    const bin = fileURLToPath(new URL('../../bin/smgw.js', import.meta.url))
    const child = spawn(process.execPath, [bin, 'gateway', '--config', config, '--keys', p('keys.json'), '--status-interval', '0'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code) }))
    const wmbusSent: SimulatorSent[] = []
    try {
      await expect.poll(() => stderr, { timeout: 20_000, interval: 50 }).toMatch(/running: .*UDP port \d+/)
      const udpPort = Number(/UDP port (\d+)/.exec(stderr)![1])
      const wmbus = createSimulator({ kind: 'wmbus', output: { kind: 'udp', host: '127.0.0.1', port: udpPort }, count: 1, meter: { kind: 'gas', mode: 7, key: KEY, id: '12345678' } }, { onSent: (s) => { wmbusSent.push(s) } })
      await wmbus.start()
      await wmbus.finished
      await wmbus.close()
      const count = (meterId: string) => {
        const store = openStore(p('run.json.db'), { now: () => new Date() }, { readonly: true })
        try {
          return store.readReadings({ meterId }).length
        } finally {
          store.close()
        }
      }
      await expect.poll(() => count('ehz-1') >= 6 && count('gas-1') >= 1, { timeout: 15_000, interval: 100 }).toBe(true)
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
    } finally {
      child.kill('SIGKILL')
      await sml.close()
    }
    expect(stderr).toMatch(/smgw gateway: stopped: \d+ readings stored/)
    const store = openStore(p('run.json.db'), { now: () => new Date() }, { readonly: true })
    const readings = store.readReadings()
    store.close()
    // Every stored import register is one the simulator sent, exactly.
    const sentImports = new Set(sent.flatMap((s) => (s.kind === 'sml' ? [BigInt(Math.round(s.emission.values.importWh * 10))] : [])))
    const imports = readings.filter((r) => r.meterId === 'ehz-1' && r.quantity === '1-0:1.8.0*255')
    expect(imports.length).toBeGreaterThanOrEqual(2)
    expect(imports.every((r) => sentImports.has(r.mantissa))).toBe(true)
    const gasVolume = readings.find((r) => r.meterId === 'gas-1' && r.quantity === 'volume')!
    expect(Number(gasVolume.mantissa) * 10 ** gasVolume.scaler).toBe(wmbusSent[0]!.kind === 'wmbus' ? wmbusSent[0]!.emission.values.volumeM3 : NaN)
    const verify = await runCaptured(['log', 'verify', p('run.json.db'), '--cert', p(GW, 'sig.cert.pem')])
    expect([verify.status, verify.stderr]).toEqual([0, ''])
    expect(verify.stdout).toMatch(/^system log: ok, 4 entries/m) // started, store opened, config, stopped
  }, 60_000)
})

describe('smgw gateway keys (meter keys in the software security module)', () => {
  it('import moves the key file into the module, list shows labels only, --check and the gateway use the module', async () => {
    writeFileSync(p('sm.pass'), 'a module passphrase\n', { mode: 0o600 })
    const HEAT = { ...GAS, id: 'heat-1', mbusId: '87654321', keyId: 'heat-1' }
    const cfg = writeConfig('sm.json', [GAS, HEAT], { meterKeys: { securityModule: { software: { dir: 'sm', passphraseFile: 'sm.pass', scryptLogN: 10 } } } })
    // The module does not hold the keys yet: --check refuses (exit 2) without needing --keys.
    const before = await runCaptured(['gateway', '--config', cfg, '--check'])
    expect(before.status).toBe(2)
    expect(before.stderr).toContain('KEYS_INVALID: keys missing from the security module: meters[0].keyId: gas-1, meters[1].keyId: heat-1')
    const imported = await runCaptured(['gateway', 'keys', 'import', '--config', cfg, '--keys', p('keys.json'), '--json'])
    expect([imported.status, imported.stderr]).toEqual([0, ''])
    expect(JSON.parse(imported.stdout)).toEqual({ imported: ['gas-1'], pseudonymKeptInFile: false })
    const again = await runCaptured(['gateway', 'keys', 'import', '--config', cfg, '--keys', p('keys.json')])
    expect(again.status).toBe(1)
    expect(again.stderr).toContain('KEYS_INVALID')
    expect((await runCaptured(['gateway', 'keys', 'import', '--config', cfg, '--keys', p('keys.json'), '--replace'])).stdout).toContain('the key file is no longer needed: delete it')
    const list = await runCaptured(['gateway', 'keys', 'list', '--config', cfg])
    expect([list.status, list.stdout]).toEqual([0, 'gas-1\nmissing (named by a meter): heat-1\n'])
    expect(list.stdout + imported.stdout).not.toContain(KEY)
    writeFileSync(p('heat.json'), JSON.stringify({ 'heat-1': 'f0e0d0c0b0a090807060504030201000' }), { mode: 0o600 })
    expect((await runCaptured(['gateway', 'keys', 'import', '--config', cfg, '--keys', p('heat.json')])).status).toBe(0)
    const ok = await runCaptured(['gateway', '--config', cfg, '--check'])
    expect([ok.status, ok.stderr]).toEqual([0, ''])
    // A wrong passphrase: the module does not open (exit 1); no module configured: usage (exit 2).
    writeFileSync(p('sm.pass'), 'wrong\n', { mode: 0o600 })
    const wrong = await runCaptured(['gateway', 'keys', 'list', '--config', cfg])
    expect(wrong.status).toBe(1)
    expect(wrong.stderr).toContain('KEY_MODULE_FAILED')
    expect((await runCaptured(['gateway', 'keys', 'list', '--config', writeConfig('plain.json', [GAS])])).status).toBe(2)
    expect((await runCaptured(['gateway', 'keys', 'list'])).status).toBe(2)
  })
})

const softhsm = findPkcs11Library(existsSync)

describe.skipIf(softhsm === undefined)('smgw gateway keys on a PKCS#11 token (SoftHSM2), the real binary', () => {
  it('imports into the token and lists labels only; --check opens the token and finds the keys', () => {
    // A real process, not runCli in this one: under vitest a CommonJS module's interop differs from
    // node's own, which once hid that the PKCS#11 module opened no token under node at all.
    mkdirSync(p('tokens'), { recursive: true })
    writeFileSync(p('softhsm2.conf'), `directories.tokendir = ${p('tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`)
    const env = { ...process.env, SOFTHSM2_CONF: p('softhsm2.conf'), SMGW_TEST_PIN: '1234' }
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'meters', '--pin', '1234', '--so-pin', '5678'], { env })
    const cfg = writeConfig('hsm.json', [GAS], { meterKeys: { securityModule: { pkcs11: { library: softhsm, tokenLabel: 'meters', pinEnv: 'SMGW_TEST_PIN' } } } })
    const bin = fileURLToPath(new URL('../../bin/smgw.js', import.meta.url))
    const smgw = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8' })
    const imported = smgw('gateway', 'keys', 'import', '--config', cfg, '--keys', p('keys.json'), '--json')
    expect([imported.status, imported.stderr]).toEqual([0, ''])
    expect(JSON.parse(imported.stdout)).toEqual({ imported: ['gas-1'], pseudonymKeptInFile: false })
    const list = smgw('gateway', 'keys', 'list', '--config', cfg)
    expect([list.status, list.stdout]).toEqual([0, 'gas-1\n'])
    expect(imported.stdout + list.stdout).not.toContain(KEY)
    const check = smgw('gateway', '--config', cfg, '--check')
    expect([check.status, check.stderr]).toEqual([0, ''])
    const wrongPin = spawnSync(process.execPath, [bin, 'gateway', 'keys', 'list', '--config', cfg], { env: { ...env, SMGW_TEST_PIN: '9999' }, encoding: 'utf8' })
    expect([wrongPin.status, wrongPin.stderr]).toEqual([1, expect.stringContaining('KEY_MODULE_FAILED') as unknown])
  }, 60_000)
})

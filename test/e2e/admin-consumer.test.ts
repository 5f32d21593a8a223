// Issues 7 and 8 with real processes: the gateway administrator assigns a wireless meter's key
// to a gateway, and answers a consumer's request. `smgw pki init` → `smgw gwa serve` (SQLite)
// ← `smgw gateway` (a fresh gateway: Gütesiegel certificate, an `admin` section, a HAN service,
// meter keys in the software security module) ← `smgw sim wmbus` (mode 5, a key the gateway
// does not hold). Steps: register → renew (operational TLS, SIG and ENC certificates) → the GWA
// deploys the water meter (a profile naming its key ID) → its telegrams are key-rejected
// (MISSING_KEY), also after a restart (an administered gateway starts without a key its GWA has
// yet to send) → `smgw gwa meter-keys --wake` (sealed to the ENC certificate the GWA issued):
// installed without a restart, the next telegrams decode; the GWA's database holds
// no key in clear → the same key ID again without --replace is KEYS_INVALID and the installed
// key keeps decoding → a consumer files a deletion request on the HAN API (HTTPS, cookie + CSRF),
// the next admin session carries it, `smgw gwa answer --wake` closes it; the consumer sees the
// note and request-received, -forwarded, -answered in order → the gateway's exports (the
// consumer's HAN export, the GWA's read-log, the store) verify, the system log has
// meter-keys-installed with key IDs only.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openStore } from '@smgw/gateway'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createTempDir } from '../../packages/gateway/src/testing.js'
import { adminSection, connectGwa, createTimeline, freeUdpPort, smgwOk, systemLog, writeGwaConfig } from './harness/admin.js'
import { createHanConsumer } from './harness/han-client.js'
import { createProcessTracker, runSmgw, startGatewayProcess, startSmgwProcess } from './harness/processes.js'

const GATEWAY_ID = 'smgw-0001'
const WAIT_MS = 90_000
const GWA_TOKEN = 'e2e-gwa-token-0123456789abcdef'
const WATER_KEY = '5a0f3c7e91b24d68a3e5c1f7092b8d4e' // synthetic
const WATER_ID = '20000001'
const KEY_ID = 'wm.water'
const PASSWORD = 'correct horse battery staple'
const NOTE = 'Deleted: your readings before 2026 are gone from the gateway and our systems.'

let tmp: { dir: string; remove: () => Promise<void> }
const { track, killAll } = createProcessTracker()
const timeline = createTimeline()

beforeAll(async () => {
  tmp = await createTempDir('smgw-e2e-admin-consumer-')
})
afterAll(async () => {
  process.stderr.write(`admin-consumer timeline:\n${timeline.text()}\n`)
  await killAll()
  await tmp.remove()
})

/** What `smgw sim wmbus --json` reports of one water telegram. */
interface WaterSent {
  readonly id: string
  readonly volumeM3: number | string
  readonly flowM3h: number | string
}

/** A value of the HAN API (`value` the mantissa as exact decimal text) as a number, parsed once from its decimal spelling. */
const numberOf = (v: { value: string; scaler: number }): number => Number(`${v.value}e${String(v.scaler)}`)

/** Every spelling of the key that must not appear in a file: hex both cases, raw bytes, base64. */
function keySpellings(hex: string): Buffer[] {
  const raw = Buffer.from(hex, 'hex')
  return [Buffer.from(hex.toLowerCase()), Buffer.from(hex.toUpperCase()), raw, Buffer.from(raw.toString('base64'))]
}

/** The database file and its WAL (SQLite writes there first), as bytes. */
async function databaseBytes(file: string): Promise<Buffer[]> {
  const parts: Buffer[] = []
  for (const f of [file, `${file}-wal`]) {
    try {
      parts.push(await readFile(f))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  return parts
}

describe('the GWA assigns a wireless meter key and answers a consumer request (issues 7 and 8), as real processes', () => {
  it('key-rejected → meter-keys sealed to the ENC certificate → readings; a second install refused; a deletion request reported, answered and shown to the consumer; logs verify', async () => {
    const pki = join(tmp.dir, 'pki')
    await smgwOk(['pki', 'init', pki, '--gateways', '1', '--emts', '1'])
    timeline.mark('pki init')

    // The head-end; meanwhile the gateway's folder, whose store gets the consumer account before it runs.
    const gwaConfig = await writeGwaConfig(join(tmp.dir, 'gwa'), { pkiFromDir: join('..', 'pki'), token: GWA_TOKEN })
    const gwaStarted = connectGwa(track(startSmgwProcess(['gwa', 'serve', '--config', gwaConfig, '--json'], 'gwa serve')), { config: gwaConfig, token: GWA_TOKEN, waitMs: WAIT_MS })
    const gwDir = join(tmp.dir, 'gateway')
    await mkdir(gwDir)
    const [wakeUpPort, lmnPort] = [await freeUdpPort(), await freeUdpPort()]
    const gatewayConfig = join(gwDir, 'gateway.json')
    const gs = join('..', 'pki', 'gateways', GATEWAY_ID)
    await writeFile(join(gwDir, 'sm.pass'), 'e2e security module passphrase', { mode: 0o600 })
    await writeFile(join(gwDir, 'alice.pw'), `${PASSWORD}\n`, { mode: 0o600 })
    // One unencrypted wireless meter names the consumer c-1 (accounts are checked against the
    // configuration file's consumers); it never sends. The HAN makes its own certificate.
    const lmn = { udp: { host: '127.0.0.1', port: lmnPort } }
    const gasMeter = { id: 'gas-1', kind: 'wmbus', mbusId: '40000001', intervalS: 3600, consumer: 'c-1', transport: lmn }
    const gatewayJson = (gwaAdminPort: number) => JSON.stringify({
      gatewayId: GATEWAY_ID,
      store: { path: 'gateway.db' },
      logs: { sigKey: join(gs, 'gs.key.pem'), sigCertificate: join(gs, 'gs.cert.pem') },
      meters: [gasMeter],
      meterKeys: { securityModule: { software: { dir: 'security-module', passphraseFile: 'sm.pass', scryptLogN: 10 } } },
      han: { host: '127.0.0.1', port: 0 },
      admin: adminSection({ pkiFromDir: join('..', 'pki'), gatewayId: GATEWAY_ID, endpoint: `https://127.0.0.1:${String(gwaAdminPort)}`, wakeUpPort }),
    })
    await writeFile(gatewayConfig, gatewayJson(0))
    const [gwa] = await Promise.all([
      gwaStarted,
      smgwOk(['han', 'user', 'add', 'alice', '--consumer', 'c-1', '--password-file', join(gwDir, 'alice.pw'), '--config', gatewayConfig]),
    ])
    await writeFile(gatewayConfig, gatewayJson(gwa.adminPort)) // now that the GWA's admin port is known
    await gwa.op(['register', GATEWAY_ID, '--wake-up', `127.0.0.1:${String(wakeUpPort)}`])
    let gateway = track(startGatewayProcess(gatewayConfig))
    const hanListening = () => gateway.lines.find((l) => l.msg === 'HAN service listening')
    await gateway.waitFor(() => gateway.lines.some((l) => l.event === 'running') && hanListening() !== undefined, WAIT_MS, 'running and HAN listening lines')
    timeline.mark('GWA and gateway running, gateway registered')

    const adminDiagnostics = () => `gateway (administration):\n${gateway.lines.filter((l) => typeof l.msg === 'string' && /wake|admin|session|key/.test(l.msg)).slice(-12).map((l) => JSON.stringify(l).slice(0, 400)).join('\n')}`
    const waitResult = (type: string, n: number) => gwa.waitResult(GATEWAY_ID, type, n, WAIT_MS, adminDiagnostics)
    const stored = () => gateway.acks.reduce((n, a) => n + a.count, 0)
    const keyRejected = () => gateway.lines.filter((l) => l.msg === 'meter key rejected' && l.meter === 'water-1')
    const sendWater = async (seed: number): Promise<WaterSent> => {
      const run = await runSmgw(['sim', 'wmbus', '--udp', `127.0.0.1:${String(lmnPort)}`, '--meter', 'water', '--mode', '5', '--key', WATER_KEY,
        '--id', WATER_ID, '--count', '1', '--seed', String(seed), '--json'])
      expect([run.status, run.stderr.includes('not sent')], run.stderr).toEqual([0, false])
      return JSON.parse(run.stdout.trim()) as WaterSent
    }

    // 1. Operational certificates: wake-up → session with the Gütesiegel identity → generate-csr →
    //    the GWA signs the CSRs (ENC among them) → install-certificates in the same session.
    await gwa.op(['renew', GATEWAY_ID, '--kinds', 'tls,sig,enc', '--wake'])
    await waitResult('install-certificates', 1)
    await gwa.expectOk(GATEWAY_ID, 'generate-csr', 0)
    await gwa.expectOk(GATEWAY_ID, 'install-certificates', 0)
    timeline.mark('operational certificates installed')

    // 2. The GWA configures the water meter (key ID only; the gateway's module has no such key yet).
    //    The session's report carries the operational ENC certificate's serial.
    const waterMeter = { id: 'water-1', kind: 'wmbus', mbusId: WATER_ID, keyId: KEY_ID, intervalS: 3600, consumer: 'c-1', transport: lmn }
    await writeFile(join(tmp.dir, 'profile-v1.json'), JSON.stringify({ meters: [gasMeter, waterMeter] }))
    await gwa.op(['deploy', GATEWAY_ID, '--profile', join(tmp.dir, 'profile-v1.json'), '--wake'])
    await waitResult('profile', 1)
    await gwa.expectOk(GATEWAY_ID, 'profile', 0)
    const reported = ((await gwa.api(`/v1/gateways/${GATEWAY_ID}`)).body as { gateway: { certificates: { kind: string; source: string; serial: string }[] } }).gateway.certificates
    expect(reported.filter((c) => c.source === 'operational').map((c) => c.kind).sort()).toEqual(['enc', 'sig', 'tls'])
    // The ENC serial it reports is the one installed from the GWA's certificate (what the GWA will seal to).
    const installed = (await gwa.commands(GATEWAY_ID)).find((c) => c.type === 'install-certificates')?.result as { serials: Record<string, string> } | undefined
    expect(reported.find((c) => c.kind === 'enc' && c.source === 'operational')?.serial).toBe(installed?.serials.enc)
    timeline.mark('water meter deployed')

    // The meter's telegram arrives and is key-rejected: no key under that ID in the module.
    await sendWater(11)
    await gateway.waitFor(() => keyRejected().length > 0, WAIT_MS, 'the water meter key-rejected')
    expect(keyRejected()[0]).toMatchObject({ code: 'MISSING_KEY' })
    expect(stored()).toBe(0)
    timeline.mark('telegram key-rejected (MISSING_KEY)')

    // Restarted while the key is still missing (say, a power cut): the active version names a key
    // ID the module lacks, and an administered gateway starts anyway — refusing would shut out the
    // GWA, which alone can send the key. The meter stays key-rejected.
    gateway.signal('SIGTERM')
    expect(await gateway.exited).toEqual({ code: 0, signal: null })
    gateway = track(startGatewayProcess(gatewayConfig))
    await gateway.waitFor(() => gateway.lines.some((l) => l.event === 'running') && hanListening() !== undefined, WAIT_MS, 'running and HAN listening lines after the restart')
    expect(gateway.lines.find((l) => l.msg === 'meter keys not in the security module')).toMatchObject({ keyIds: [KEY_ID] })
    await sendWater(12)
    await gateway.waitFor(() => keyRejected().length > 0, WAIT_MS, 'the water meter key-rejected after the restart')
    expect(keyRejected()[0]).toMatchObject({ code: 'MISSING_KEY' })
    timeline.mark('restarted without the key; still key-rejected')

    // 3. The operator sends the key through the GWA. A keys file others can read is refused
    //    before anything is queued (KEYS_PERMISSIONS, exit 2, no key printed); 0600 goes.
    const keysFile = join(tmp.dir, 'meter-keys.json')
    await writeFile(keysFile, JSON.stringify({ [KEY_ID]: WATER_KEY }), { mode: 0o644 })
    const readable = await runSmgw(['gwa', 'meter-keys', GATEWAY_ID, '--keys', keysFile, '--wake', '--url', gwa.url, '--config', gwa.config])
    expect([readable.status, readable.stderr.includes('KEYS_PERMISSIONS')], readable.stderr).toEqual([2, true])
    expect(`${readable.stdout}${readable.stderr}`.toLowerCase()).not.toContain(WATER_KEY)
    expect((await gwa.commands(GATEWAY_ID)).filter((c) => c.type === 'meter-keys')).toEqual([])
    await chmod(keysFile, 0o600)
    const queued = await gwa.op(['meter-keys', GATEWAY_ID, '--keys', keysFile, '--wake', '--json'])
    expect((JSON.parse(queued) as { keyIds: string[] }).keyIds).toEqual([KEY_ID])
    await waitResult('meter-keys', 1)
    await gwa.expectOk(GATEWAY_ID, 'meter-keys', 0)
    const keyCommands = (await gwa.commands(GATEWAY_ID)).filter((c) => c.type === 'meter-keys')
    expect(keyCommands.map((c) => [c.state, c.result])).toEqual([['done', { keyIds: [KEY_ID] }]])
    // Nothing the operator or the GWA shows or stores holds the key: the CLI's answer, the command
    // list, the database file and its WAL (hex in both cases, the raw bytes, base64).
    const commandsCli = await gwa.op(['commands', GATEWAY_ID, '--json'])
    for (const text of [queued, commandsCli, JSON.stringify(await gwa.commands(GATEWAY_ID))]) expect(text.toLowerCase()).not.toContain(WATER_KEY)
    const gwaDb = await databaseBytes(join(tmp.dir, 'gwa', 'gwa.db'))
    expect(gwaDb.some((bytes) => bytes.includes(KEY_ID)), 'the key ID is in the GWA database (the search reads the written pages)').toBe(true)
    for (const bytes of gwaDb) {
      for (const spelling of keySpellings(WATER_KEY)) expect(bytes.includes(spelling), `GWA database holds ${spelling.toString('hex')}`).toBe(false)
    }
    // Installed without a restart: the next telegram decodes and is stored (volume and flow).
    const second = await sendWater(13)
    await gateway.waitFor(() => stored() >= 2, WAIT_MS, 'the water meter\'s readings stored')
    timeline.mark('meter key installed, readings stored')

    // 4. The same key ID again without --replace: refused before anything is imported.
    await gwa.op(['meter-keys', GATEWAY_ID, '--keys', keysFile, '--wake'])
    await waitResult('meter-keys', 2)
    expect(gwa.results(GATEWAY_ID, 'meter-keys').map((r) => [r.ok, r.code])).toEqual([[true, null], [false, 'KEYS_INVALID']])
    expect((await gwa.commands(GATEWAY_ID)).filter((c) => c.type === 'meter-keys').map((c) => [c.state, c.result?.code ?? null])).toEqual([['done', null], ['failed', 'KEYS_INVALID']])
    const third = await sendWater(14)
    await gateway.waitFor(() => stored() >= 4, WAIT_MS, 'the next readings stored with the installed key')
    expect(keyRejected()).toHaveLength(1)
    timeline.mark('second meter-keys refused (KEYS_INVALID), key unchanged')

    // 5. The consumer on the HAN: the water meter's current values are the last telegram's.
    const han = createHanConsumer({
      port: Number(hanListening()!.port), ca: await readFile(join(gwDir, 'gateway.db.han-cert.pem'), 'utf8'), gatewayId: GATEWAY_ID,
    })
    await han.login('alice', PASSWORD)
    const meters = (await han.get('/api/v1/meters')).body as { meters: { id: string }[] }
    expect(meters.meters.map((m) => m.id).sort()).toEqual(['gas-1', 'water-1'])
    const current = (await han.get('/api/v1/meters/water-1/current')).body as { values: { quantity: string; value: string; scaler: number }[] }
    const byQuantity = Object.fromEntries(current.values.map((v) => [v.quantity, numberOf(v)]))
    expect(byQuantity).toEqual({ volume: Number(third.volumeM3), volume_flow: Number(third.flowM3h) })

    // A deletion request; the next admin session carries it to the GWA. Without the session's
    // CSRF token (a forged cross-site POST) it is refused and nothing is filed.
    const forged = await han.post('/api/v1/requests', { kind: 'deletion', text: 'forged' }, { csrf: false })
    expect([forged.status, (forged.body as { code?: string } | null)?.code]).toEqual([403, 'CSRF_INVALID'])
    expect(((await han.get('/api/v1/requests')).body as { requests: unknown[] }).requests).toEqual([])
    const filed = await han.post('/api/v1/requests', { kind: 'deletion', text: 'Please delete my readings from before 2026.' })
    expect(filed.status, filed.text).toBe(201)
    const requestId = (filed.body as { request: { id: number; state: string } }).request.id
    expect((filed.body as { request: { state: string } }).request.state).toBe('received')
    const sessions = gwa.contacts(GATEWAY_ID).length
    await gwa.post(`/v1/gateways/${GATEWAY_ID}/wake`, {})
    await gwa.process.waitFor(() => gwa.contacts(GATEWAY_ID).length > sessions, WAIT_MS, 'the admin session carrying the request')
    expect(gwa.contacts(GATEWAY_ID).at(-1)).toMatchObject({ reason: 'wake-up', openRequests: 1 })
    interface GwaRequest { gatewayId: string; requestId: number; kind: string; state: string; consumer: string; text: string; answer: { state: string; note: string } | null }
    const listed = (JSON.parse(await gwa.op(['requests', '--open', '--json'])) as { requests: GwaRequest[] }).requests
    expect(listed).toEqual([expect.objectContaining({
      gatewayId: GATEWAY_ID, requestId, kind: 'deletion', state: 'received', consumer: 'c-1', text: 'Please delete my readings from before 2026.', answer: null,
    })])
    // The gateway marks it forwarded once the GWA accepted the report (no event for it: polled, bounded).
    type HanRequest = { id: number; state: string; note: string | null; forwardedAt: string | null; answeredAt: string | null }
    const hanRequest = async (): Promise<HanRequest | undefined> => ((await han.get('/api/v1/requests')).body as { requests: HanRequest[] }).requests.find((r) => r.id === requestId)
    await vi.waitFor(async () => { expect((await hanRequest())?.state).toBe('pending') }, { timeout: WAIT_MS, interval: 250 })
    timeline.mark('request filed and reported')

    // The GWA queues answers only for requests the gateway reported.
    const unknown = await gwa.api(`/v1/gateways/${GATEWAY_ID}/commands`, { method: 'POST', body: JSON.stringify({ type: 'answer-request', requestId: requestId + 1, state: 'done', note: 'no such request' }) })
    expect([unknown.status, (unknown.body as { code: string }).code]).toEqual([404, 'GWA_NOT_FOUND'])
    await gwa.op(['answer', GATEWAY_ID, String(requestId), '--state', 'done', '--note', NOTE, '--wake'])
    await waitResult('answer-request', 1)
    await gwa.expectOk(GATEWAY_ID, 'answer-request', 0)
    const answered = await hanRequest()
    expect(answered).toMatchObject({ state: 'done', note: NOTE })
    expect([answered?.forwardedAt, answered?.answeredAt].map((t) => typeof t)).toEqual(['string', 'string'])
    // The consumer log (newest first) says so, in order, naming this request.
    const consumerLog = ((await han.get('/api/v1/log?limit=1000')).body as { entries: { type: string; fields: Record<string, unknown> }[] }).entries
    const requestEntries = consumerLog.filter((e) => e.type.startsWith('request-')).reverse()
    expect(requestEntries.map((e) => [e.type, e.fields.request])).toEqual([
      ['request-received', requestId], ['request-forwarded', requestId], ['request-answered', requestId],
    ])
    expect(requestEntries[2]!.fields).toMatchObject({ state: 'done', note: NOTE })
    const atGwa = (JSON.parse(await gwa.op(['requests', GATEWAY_ID, '--json'])) as { requests: GwaRequest[] }).requests
    expect(atGwa).toEqual([expect.objectContaining({ requestId, state: 'done', answer: expect.objectContaining({ state: 'done', note: NOTE }) as unknown })])
    // Closed: a second answer is refused at the GWA, nothing queued.
    const again = await gwa.api(`/v1/gateways/${GATEWAY_ID}/commands`, { method: 'POST', body: JSON.stringify({ type: 'answer-request', requestId, state: 'rejected', note: 'too late' }) })
    expect([again.status, (again.body as { code: string }).code]).toEqual([400, 'GWA_REQUEST_INVALID'])
    expect((await gwa.commands(GATEWAY_ID)).filter((c) => c.type === 'answer-request')).toHaveLength(1)
    expect((JSON.parse(await gwa.op(['requests', '--open', '--json'])) as { requests: GwaRequest[] }).requests).toEqual([])
    timeline.mark('request answered, shown to the consumer')

    // 6. The gateway's exports verify: the consumer's own (HAN) and the system log the GWA reads.
    const root = join(pki, 'root-ca', 'ca.cert.pem')
    const chain = join(pki, 'chain.pem')
    const verify = async (file: string): Promise<void> => {
      const r = await runSmgw(['log', 'verify', file, '--root', root, '--chain', chain, '--json'])
      expect(r.status, `smgw log verify ${file}\n${r.stdout}${r.stderr}`).toBe(0)
      expect((JSON.parse(r.stdout) as { ok: boolean }).ok).toBe(true)
    }
    const consumerExport = await han.get('/api/v1/log/export')
    expect(consumerExport.status).toBe(200)
    await writeFile(join(tmp.dir, 'consumer-c-1.jsonl'), consumerExport.text)
    await gwa.post(`/v1/gateways/${GATEWAY_ID}/commands`, { type: 'read-log', wake: true }) // the GWA only ever reads the system log
    await waitResult('read-log', 1)
    await gwa.expectOk(GATEWAY_ID, 'read-log', 0)
    const exports = ((await gwa.api(`/v1/gateways/${GATEWAY_ID}/logs`)).body as { logs: { id: number }[] }).logs
    expect(exports).toHaveLength(1)
    const systemExport = await fetch(`${gwa.url}/v1/logs/${String(exports[0]!.id)}`, { headers: { authorization: `Bearer ${GWA_TOKEN}` } })
    expect(systemExport.status).toBe(200)
    const systemExportText = await systemExport.text()
    await writeFile(join(tmp.dir, 'system.jsonl'), systemExportText)
    expect(systemExportText).toContain('"type":"meter-keys-installed"')
    expect(systemExportText.toLowerCase()).not.toContain(WATER_KEY)
    await Promise.all([verify(join(tmp.dir, 'consumer-c-1.jsonl')), verify(join(tmp.dir, 'system.jsonl'))])
    timeline.mark('consumer and system exports verified')

    // Stop; the store verifies, holds the water meter's readings of the two decoded telegrams
    // only, and no key in any spelling; the system log holds the steps in order, key IDs only.
    gateway.signal('SIGTERM')
    expect(await gateway.exited).toEqual({ code: 0, signal: null })
    const storeFile = join(gwDir, 'gateway.db')
    await verify(storeFile)
    const store = openStore(storeFile, { now: () => new Date() }, { readonly: true })
    try {
      const water = store.readReadings().filter((r) => r.meterId === 'water-1')
      expect(water.map((r) => [r.quantity, Number(`${String(r.mantissa)}e${String(r.scaler)}`)])).toEqual([
        ['volume', Number(second.volumeM3)], ['volume_flow', Number(second.flowM3h)],
        ['volume', Number(third.volumeM3)], ['volume_flow', Number(third.flowM3h)],
      ])
    } finally {
      store.close()
    }
    const storeBytes = await databaseBytes(storeFile)
    expect(storeBytes.some((bytes) => bytes.includes(KEY_ID)), 'the key ID is in the store (the search reads the written pages)').toBe(true)
    for (const bytes of storeBytes) {
      for (const spelling of keySpellings(WATER_KEY)) expect(bytes.includes(spelling), `gateway store holds ${spelling.toString('hex')}`).toBe(false)
    }
    const log = systemLog(storeFile)
    // Installed while running: no start after the restart above, one running line of this process; the module holds the key under its ID.
    expect(log.filter((e) => e.type === 'gateway-started')).toHaveLength(2)
    expect(log.findLastIndex((e) => e.type === 'gateway-started')).toBeLessThan(log.findIndex((e) => e.type === 'meter-keys-installed'))
    expect(gateway.lines.filter((l) => l.event === 'running')).toHaveLength(1)
    const held = await smgwOk(['gateway', 'keys', 'list', '--config', gatewayConfig, '--json'])
    expect(JSON.parse(held)).toMatchObject({ keys: expect.arrayContaining([KEY_ID]) as unknown, missing: [] })
    expect(held.toLowerCase()).not.toContain(WATER_KEY)
    const steps: [string, Record<string, unknown>][] = [
      ['certificate-installed', { kind: 'enc' }],
      ['config-changed', { version: 1, by: 'gwa' }],
      ['meter-key-rejected', { meterId: 'water-1' }],
      ['gateway-stopped', { reason: 'sigterm' }],
      ['gateway-started', {}],
      ['meter-key-rejected', { meterId: 'water-1' }],
      ['meter-keys-installed', {}],
      ['admin-command', { type: 'meter-keys', result: 'executed' }],
      ['admin-command', { type: 'meter-keys', code: 'KEYS_INVALID' }],
      ['admin-command', { type: 'answer-request', result: 'executed' }],
      ['admin-command', { type: 'read-log', result: 'executed' }],
    ]
    let at = 0
    for (const [type, fields] of steps) {
      const found = log.findIndex((e, i) => i >= at && e.type === type && Object.entries(fields).every(([k, v]) => e.fields[k] === v))
      expect(found, `system log: ${type} ${JSON.stringify(fields)} after entry ${String(at)}\n${log.map((e) => `${e.type} ${JSON.stringify(e.fields)}`).join('\n')}`).toBeGreaterThanOrEqual(0)
      at = found + 1
    }
    expect(log.filter((e) => e.type === 'meter-keys-installed').map((e) => e.fields)).toEqual([{ keyIds: [KEY_ID], replaced: [] }])
    timeline.mark('store and system log verified')
  }, 420_000) // as admin-lifecycle: process starts through tsx dominate on a loaded 2-core machine
})

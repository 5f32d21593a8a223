import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { TLSSocket } from 'node:tls'
import { createCmsSigner, createSoftwareSecurityModule, encodePem, type CmsSigner } from '@smgw/crypto'
import { createFirmwarePackage, decodeAdminReport, decodeAdminResults, encodeCommandsAnswer, sealMeterKeys, signAdminObject, type AdminReport, type AdminResult } from '@smgw/admin-protocol'
import { createTlsContext, createTlsServer, decodeCertificate, parseName, signRenewalRequest } from '@smgw/pki'
import { createNtpServer, createWmbusMeterFromConfig, parseWmbusMeterConfig } from '@smgw/sim'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { decodeLogExport } from '../log/export.js'
import { readLogChain, verifyLog } from '../log/verify.js'
import { createGateway, type Gateway } from '../service.js'
import { openStore } from '../store/store.js'
import { createTempDir } from '../testing.js'
import { createWanTestPki, type WanTestPki } from '../wan/testing.js'
import { readEffectiveConfig } from './profiles.js'
import { RESULTS_PATH, SESSION_PATH } from './session.js'

// The administered gateway end to end: createGateway with an `admin` section, a real test GWA
// (mutual TLS, the session protocol, signed commands), a real UDP wake-up, real files.

const NOW = new Date()
const GATEWAY = 'smgw-0001'
const GW = `gateways/${GATEWAY}`
let t: WanTestPki
let tmp: { dir: string; remove: () => Promise<void> }
let gwaSigner: CmsSigner
let emtSigner: CmsSigner
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

beforeAll(async () => {
  tmp = await createTempDir('smgw-admin-service-')
  t = await createWanTestPki({ gateways: 1, emts: 1, manufacturer: true }, new Date(NOW.getTime() - 86_400_000))
  gwaSigner = createCmsSigner({ signer: t.signer('gwa/sig'), certificate: t.cert('gwa/sig'), chain: [t.cert('sub-ca-emt')] })
  emtSigner = createCmsSigner({ signer: t.signer('emt-1/sig'), certificate: t.cert('emt-1/sig'), chain: [t.cert('sub-ca-emt')] })
  for (const label of ['root', 'sub-ca-emt', 'sub-ca-gw', 'sub-ca-gs', 'gwa/sig', 'manufacturer/sig', `${GW}/gs`, `${GW}/sig`]) await writeFile(file(label), encodePem('CERTIFICATE', t.cert(label)))
  for (const label of [`${GW}/gs`, `${GW}/sig`]) await writeFile(file(`${label}.key`), t.key(label).export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 })
}, 60_000)
afterAll(async () => { await tmp.remove() })

function file(label: string): string {
  return join(tmp.dir, `${label.replaceAll('/', '-')}.pem`)
}

interface TestGwa {
  endpoint: string
  readonly reports: AdminReport[]
  readonly results: AdminResult[][]
  readonly clients: string[]
  /** Commands for the next answers, one array per round. */
  readonly queue: Uint8Array[][]
  /** Computes the answer to the next results from them (the GWA issuing certificates for CSRs); used once. */
  next: ((results: readonly AdminResult[]) => Promise<Uint8Array[]>) | undefined
  close: () => Promise<void>
}

async function startGwa(): Promise<TestGwa> {
  const ctx = createTlsContext({
    identity: { key: t.key('gwa/tls'), cert: t.cert('gwa/tls'), chain: [t.cert('sub-ca-emt')] },
    trust: { roots: [t.cert('root')], intermediates: [t.cert('sub-ca-gw'), t.cert('sub-ca-gs')] },
  })
  const gwa: TestGwa = { endpoint: '', reports: [], results: [], clients: [], queue: [], next: undefined, close: () => Promise.resolve() }
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = new Uint8Array(Buffer.concat(chunks))
      const socket = req.socket
      if (socket instanceof TLSSocket) {
        const peer = parseName(decodeCertificate(new Uint8Array(socket.getPeerCertificate().raw)).subject)
        gwa.clients.push(`${peer.CN ?? ''}/${peer.OU ?? ''}`)
      }
      let computed: Promise<Uint8Array[]> | undefined
      if (req.url === SESSION_PATH) gwa.reports.push(decodeAdminReport(body))
      else if (req.url === RESULTS_PATH) {
        const results = [...decodeAdminResults(body).results]
        gwa.results.push(results)
        const next = gwa.next
        gwa.next = undefined
        computed = next?.(results)
      } else {
        res.writeHead(404).end()
        return
      }
      void (computed ?? Promise.resolve(gwa.queue.shift() ?? [])).then((list) => {
        const commands = list.map((c) => Buffer.from(c).toString('base64'))
        res.writeHead(200, { 'content-type': 'application/json' }).end(encodeCommandsAnswer({ format: 'smgw-admin-commands/1', commands }))
      })
    })
  })
  const tls = createTlsServer(ctx, { onConnection: (socket) => { http.emit('connection', socket) } })
  await new Promise<void>((resolve) => { tls.listen(0, '127.0.0.1', resolve) })
  gwa.endpoint = `https://127.0.0.1:${String((tls.address() as AddressInfo).port)}`
  gwa.close = () => new Promise<void>((resolve) => {
    http.closeAllConnections()
    tls.close(() => { resolve() })
  })
  cleanups.push(() => gwa.close())
  return gwa
}

let sequence = 0
function command(fields: Record<string, unknown>, signer: CmsSigner = gwaSigner): Promise<Uint8Array> {
  sequence++
  return signAdminObject({
    format: 'smgw-admin-command/1', commandId: `cmd-${String(sequence)}`, gatewayId: GATEWAY, sequence,
    issuedAt: new Date(NOW.getTime() - 60_000).toISOString(), ...fields,
  }, signer, NOW)
}

const gas = (id: string, mbusId: string) => ({ id, kind: 'wmbus', mbusId, transport: { udp: { host: '127.0.0.1', port: 0 } }, intervalS: 32, consumer: 'c-1' })

async function configFile(name: string, endpoint: string, admin: Record<string, unknown> = {}): Promise<string> {
  const f = join(tmp.dir, `${name}.json`)
  await writeFile(f, JSON.stringify({
    gatewayId: GATEWAY,
    store: { path: `${name}.db` },
    logs: { sigKey: file(`${GW}/sig.key`), sigCertificate: file(`${GW}/sig`) },
    meters: [gas('gas-1', '11111111')],
    admin: {
      endpoint, gwaCertificate: file('gwa/sig'),
      trust: { roots: [file('root')], intermediates: [file('sub-ca-emt'), file('sub-ca-gw'), file('sub-ca-gs')] },
      initialIdentity: { key: file(`${GW}/gs.key`), certificate: file(`${GW}/gs`), chain: [file('sub-ca-gs')] },
      stateDir: `${name}-state`,
      wakeUp: { host: '127.0.0.1', port: 0 },
      pollIntervalS: 0,
      ...admin,
    },
  }))
  return f
}

async function started(f: string): Promise<Gateway> {
  const { config } = await readEffectiveConfig(f)
  const gw = createGateway(config, { now: () => new Date() })
  cleanups.push(() => gw.close())
  await gw.start()
  return gw
}

const byCommand = (results: readonly AdminResult[]) => results.map((r) => (r.ok ? { ok: true, data: r.data } : { ok: false, code: r.error.code }))

describe('the administered gateway', () => {
  it('contacts its GWA at start with the Gütesiegel identity, executes signed commands, refuses the consumer log and an EMT-signed profile, takes a wake-up, and restarts on the active version', async () => {
    const gwa = await startGwa()
    const f = await configFile('e2e', gwa.endpoint)
    gwa.queue.push([
      await command({ type: 'profile', version: 1, meters: [gas('gas-1', '11111111'), gas('gas-2', '22222222')] }),
      await command({ type: 'read-log', log: 'consumer' }),
      await command({ type: 'profile', version: 2, meters: [] }, emtSigner),
      await command({ type: 'taf-request', profileId: 'none', useCase: 9 }),
      await command({ type: 'read-log', log: 'system' }),
    ])
    const gw = await started(f)
    await vi.waitFor(() => { expect(gwa.results).toHaveLength(1) }, { timeout: 20_000, interval: 50 })
    await gw.admin()!.idle()

    // The start report: nothing administered yet, the Gütesiegel certificate, no time source.
    expect(gwa.reports[0]).toMatchObject({ gatewayId: GATEWAY, reason: 'start', profileVersion: 0, lastSequence: 0, firmware: { version: '0.1.0' }, time: { state: 'no-time-source' } })
    expect(gwa.reports[0]!.certificates).toEqual([expect.objectContaining({ kind: 'gs', source: 'initial' })])
    // No HAN service, no consumer requests (docs/admin-protocol.md `requests`).
    expect(gwa.reports[0]!.requests).toBeUndefined()
    expect(gwa.clients[0]).toBe(`${decodeCertificateCn(t.cert(`${GW}/gs`))}/Guetesiegel`)

    const [profile, consumerLog, emtProfile, taf, systemLog] = gwa.results[0]!
    expect(byCommand([profile!, consumerLog!, emtProfile!, taf!])).toEqual([
      { ok: true, data: { version: 1, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown } },
      { ok: false, code: 'FORBIDDEN' }, // the GWA has no role for the consumer's log
      { ok: false, code: 'SIGNER_NOT_GWA' }, // a valid SM-PKI signature by a market participant is not the GWA's
      { ok: false, code: 'TAF_INPUT_INVALID' },
    ])
    expect(gw.config().meters.map((m) => m.id)).toEqual(['gas-1', 'gas-2'])
    expect(gw.status().meters.map((m) => m.id)).toEqual(['gas-1', 'gas-2'])

    // The system log export verifies and holds the session so far; it carries no consumer stream.
    if (systemLog?.ok !== true) throw new Error('read-log system failed')
    const exported = decodeLogExport(Buffer.from(String(systemLog.data.export), 'base64'))
    expect([exported.log, exported.stream]).toEqual(['system', ''])
    expect(verifyLog(exported, { certificate: t.cert(`${GW}/sig`) }).ok).toBe(true)
    expect(exported.entries.map((e) => e.type)).toEqual(expect.arrayContaining(['config-changed', 'admin-command']))

    // A wake-up by the GWA: accepted, a new session reports version 1 and the last sequence.
    gwa.queue.push([await command({ type: 'profile', version: 1, meters: [] })])
    const wakeUp = await signAdminObject({ format: 'smgw-wakeup/1', gatewayId: GATEWAY, gwaId: 'gwa', createdAt: new Date().toISOString(), counter: 1 }, gwaSigner, new Date())
    const udp = createSocket('udp4')
    await new Promise<void>((resolve, reject) => { udp.send(wakeUp, gw.admin()!.wakeUpPort(), '127.0.0.1', (err) => { if (err) reject(err); else resolve() }) })
    // The same datagram again is a replay.
    await new Promise<void>((resolve, reject) => { udp.send(wakeUp, gw.admin()!.wakeUpPort(), '127.0.0.1', (err) => { if (err) reject(err); else resolve() }) })
    udp.close()
    await vi.waitFor(() => { expect(gwa.results).toHaveLength(2) }, { timeout: 20_000, interval: 50 })
    await gw.admin()!.idle()
    expect(gwa.reports[1]).toMatchObject({ reason: 'wake-up', profileVersion: 1, lastSequence: sequence - 1 })
    expect(byCommand(gwa.results[1]!)).toEqual([{ ok: false, code: 'VERSION_NOT_NEWER' }])
    expect((gwa.results[1]![0] as { error: { message: string } }).error.message).toMatch(/VERSION_NOT_NEWER/)
    await gw.close()

    const store = openStore(join(tmp.dir, 'e2e.db'), { now: () => new Date() }, { readonly: true })
    try {
      const system = readLogChain(store, 'system', '').entries.map((e) => ({ type: String(e.type), fields: (typeof e.fields === 'string' ? JSON.parse(e.fields) : e.fields) as Record<string, unknown> }))
      expect(system.filter((e) => e.type === 'wake-up').map((e) => e.fields.result)).toEqual(['accepted', 'replayed'])
      expect(system.filter((e) => e.type === 'admin-session').map((e) => [e.fields.reason, e.fields.result])).toEqual([['start', 'completed'], ['wake-up', 'completed']])
      expect(system.filter((e) => e.type === 'config-rejected').map((e) => e.fields)).toEqual([{ version: 1, code: 'VERSION_NOT_NEWER' }])
      expect(store.getAdminState('command.sequence')).toBe(String(sequence))
      expect(store.getAdminState('wakeup.counter')).toBe('1')
    } finally {
      store.close()
    }

    // Restart: the active version runs (two meters), the sequence is remembered.
    const again = await started(f)
    expect(again.config().meters.map((m) => m.id)).toEqual(['gas-1', 'gas-2'])
    await vi.waitFor(() => { expect(gwa.reports).toHaveLength(3) }, { timeout: 20_000, interval: 50 })
    await again.admin()!.idle()
    expect(gwa.reports[2]).toMatchObject({ reason: 'start', profileVersion: 1, lastSequence: sequence })
  })

  it('certificate lifecycle through the session: generate-csr, the GWA issues, install-certificates, the next session runs on the operational TLS certificate', async () => {
    const gwa = await startGwa()
    const f = await configFile('certs', gwa.endpoint)
    gwa.queue.push([await command({ type: 'generate-csr', kinds: ['tls'] })])
    gwa.next = async (results) => {
      const r = results[0]
      if (r?.ok !== true) throw new Error('generate-csr failed')
      const csr = new Uint8Array(Buffer.from(String((r.data.csrs as Record<string, string>).tls), 'base64'))
      // The gateway sub-CA issues for the first operational request (wrapped and signed by the Gütesiegel key, TR-03109-4).
      const issued = await signRenewalRequest(csr, { roots: [t.cert('root')], intermediates: [t.cert('sub-ca-gs')], at: new Date(), purpose: 'tls-client' }, {
        ca: { signer: t.signer('sub-ca-gw'), certificate: t.cert('sub-ca-gw') }, profile: 'tls', tlsRole: 'client', allowSubjectChange: true,
        serialNumber: new Uint8Array([0x21, ...randomBytes(9)]), notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 365 * 86_400_000),
      })
      installed = issued
      return [await command({ type: 'install-certificates', certificates: { tls: Buffer.from(issued).toString('base64') }, chain: [Buffer.from(t.cert('sub-ca-gw')).toString('base64')] })]
    }
    let installed: Uint8Array | undefined
    const gw = await started(f)
    await vi.waitFor(() => { expect(gwa.results).toHaveLength(2) }, { timeout: 30_000, interval: 50 })
    await gw.admin()!.idle()
    expect(byCommand(gwa.results[1]!)).toEqual([{ ok: true, data: { serials: { tls: decodeCertificate(installed!).serialHex } } }])
    expect(gwa.clients[0]).toMatch(/\/Guetesiegel$/)

    // The next session: the GWA sees the operational certificate, and the report lists it.
    gwa.queue.push([])
    await gw.admin()!.runSession('schedule')
    const last = gwa.reports.at(-1)!
    expect(last.reason).toBe('schedule')
    expect(last.certificates).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'tls', source: 'operational', serial: decodeCertificate(installed!).serialHex })]))
    expect(gwa.clients.at(-1)).not.toMatch(/Guetesiegel/)
    await gw.close()
  })

  it('pollIntervalS: sessions by schedule without a wake-up; none at start when contactAtStart is false', async () => {
    const gwa = await startGwa()
    const gw = await started(await configFile('schedule', gwa.endpoint, { pollIntervalS: 1, contactAtStart: false }))
    await vi.waitFor(() => { expect(gwa.reports.length).toBeGreaterThanOrEqual(2) }, { timeout: 20_000, interval: 50 })
    expect(gwa.reports.every((r) => r.reason === 'schedule')).toBe(true)
    await gw.close()
    expect(gw.admin()).toBeUndefined()
  })

  it('firmware through the session: a healthy image becomes active and is reported, a broken one is rolled back, a downgrade refused', async () => {
    const gwa = await startGwa()
    const f = await configFile('firmware', gwa.endpoint, { manufacturerCertificate: file('manufacturer/sig'), firmware: { dir: 'firmware-slots', healthTimeoutS: 60 } })
    const manufacturer = createCmsSigner({ signer: t.signer('manufacturer/sig'), certificate: t.cert('manufacturer/sig'), chain: [t.cert('sub-ca-gs')] })
    const image = async (name: string) => new Uint8Array(await readFile(fileURLToPath(new URL(`../../../../samples/firmware/${name}.mjs`, import.meta.url))))
    const pack = async (version: string, name: string) => Buffer.from(await createFirmwarePackage({ name: 'smgw', version, image: await image(name), signer: manufacturer, at: new Date() })).toString('base64')
    gwa.queue.push([
      await command({ type: 'firmware', package: await pack('1.1.0', 'healthy') }),
      await command({ type: 'firmware', package: await pack('1.2.0', 'broken') }),
      await command({ type: 'firmware', package: await pack('1.0.0', 'healthy') }),
    ])
    const gw = await started(f)
    await vi.waitFor(() => { expect(gwa.results).toHaveLength(1) }, { timeout: 60_000, interval: 100 })
    await gw.admin()!.idle()
    expect(byCommand(gwa.results[0]!)).toEqual([
      { ok: true, data: { version: '1.1.0', state: 'active' } },
      { ok: true, data: { version: '1.2.0', state: 'rolled-back' } }, // the version tried; 1.1.0 runs on (the report below)
      { ok: false, code: 'DOWNGRADE' },
    ])
    gwa.queue.push([])
    await gw.admin()!.runSession('schedule')
    expect(gwa.reports.at(-1)!.firmware).toEqual({ version: '1.1.0' })
    await gw.close()
  }, 90_000)

  it('set-time-source: the gateway synchronises with the server the GWA names, logs it, and keeps it across a restart', async () => {
    const ntp = createNtpServer({ host: '127.0.0.1', port: 0, offsetMs: 0 })
    await ntp.start()
    cleanups.push(() => ntp.close())
    const gwa = await startGwa()
    const f = await configFile('time', gwa.endpoint)
    gwa.queue.push([await command({ type: 'set-time-source', time: { ntp: { host: '127.0.0.1', port: ntp.port() } } }), await command({ type: 'set-time-source', time: { ntp: {} } })])
    const gw = await started(f)
    await vi.waitFor(() => { expect(gwa.results).toHaveLength(1) }, { timeout: 20_000, interval: 50 })
    await gw.admin()!.idle()
    const [set, invalid] = gwa.results[0]!
    expect(set).toMatchObject({ ok: true, data: { state: expect.any(String) as unknown } })
    expect(invalid).toMatchObject({ ok: false, error: { code: 'CONFIG_INVALID' } })
    await expect.poll(() => gw.status().time?.state, { timeout: 10_000 }).toBe('synchronised')
    gwa.queue.push([])
    await gw.admin()!.runSession('schedule')
    expect(gwa.reports.at(-1)!.time).toMatchObject({ state: 'synchronised', offsetMs: expect.any(Number) as unknown })
    await gw.close()
    const store = openStore(join(tmp.dir, 'time.db'), { now: () => new Date() }, { readonly: true })
    try {
      expect(readLogChain(store, 'system', '').entries.filter((e) => e.type === 'time-source-set')).toHaveLength(1)
    } finally {
      store.close()
    }
    expect((await readEffectiveConfig(f)).config.time?.ntp).toEqual({ host: '127.0.0.1', port: ntp.port() })
  })

  it('consumer requests: the report carries the open ones, the accepted report makes them pending, answer-request sets state and note in that consumer\'s log only', async () => {
    const gwa = await startGwa()
    const f = await configFile('requests', gwa.endpoint)
    // A gateway with a HAN service (the requests are made there) and two consumers.
    const json = JSON.parse(await readFile(f, 'utf8')) as Record<string, unknown>
    await writeFile(f, JSON.stringify({ ...json, meters: [gas('gas-1', '11111111'), { ...gas('gas-2', '22222222'), consumer: 'c-2' }], han: { host: '127.0.0.1', port: 0 } }))
    const path = join(tmp.dir, 'requests.db')
    const before = openStore(path, { now: () => new Date() })
    const deletion = before.han.addRequest({ consumer: 'c-1', kind: 'deletion', state: 'received', text: 'Please delete my 2025 readings.', at: new Date(NOW.getTime() - 120_000) })
    const objection = before.han.addRequest({ consumer: 'c-2', kind: 'objection', state: 'received', text: 'I object to TAF 7.', at: new Date(NOW.getTime() - 60_000) })
    const closed = before.han.addRequest({ consumer: 'c-1', kind: 'rectification', state: 'received', text: 'Wrong name.', at: new Date(NOW.getTime() - 30_000) })
    before.han.answerRequest(closed.id, { state: 'done', note: 'Corrected.', at: new Date(NOW.getTime() - 10_000) })
    before.close()
    gwa.queue.push([
      await command({ type: 'answer-request', requestId: deletion.id, state: 'in-progress', note: 'We ask your supplier which data it still needs.' }),
      await command({ type: 'answer-request', requestId: deletion.id, state: 'done', note: 'Deleted.' }),
      await command({ type: 'answer-request', requestId: closed.id, state: 'rejected', note: 'too late' }),
      await command({ type: 'answer-request', requestId: 999, state: 'done', note: '' }),
    ])
    const gw = await started(f)
    await vi.waitFor(() => { expect(gwa.results).toHaveLength(1) }, { timeout: 20_000, interval: 50 })
    await gw.admin()!.idle()

    // Open requests of every consumer, oldest first, as the gateway held them when it reported.
    expect(gwa.reports[0]!.requests).toEqual([
      { id: deletion.id, consumer: 'c-1', kind: 'deletion', state: 'received', createdAt: deletion.createdAt.toISOString(), text: 'Please delete my 2025 readings.' },
      { id: objection.id, consumer: 'c-2', kind: 'objection', state: 'received', createdAt: objection.createdAt.toISOString(), text: 'I object to TAF 7.' },
    ])
    expect(byCommand(gwa.results[0]!)).toEqual([
      { ok: true, data: { requestId: deletion.id, state: 'in-progress' } },
      { ok: true, data: { requestId: deletion.id, state: 'done' } },
      { ok: false, code: 'REQUEST_CLOSED' },
      { ok: false, code: 'REQUEST_UNKNOWN' },
    ])

    // The next report: the deletion is closed, the objection is with the administrator.
    gwa.queue.push([])
    await gw.admin()!.runSession('schedule')
    expect(gwa.reports.at(-1)!.requests).toEqual([expect.objectContaining({ id: objection.id, state: 'pending' })])
    await gw.close()

    const store = openStore(path, { now: () => new Date() }, { readonly: true })
    try {
      expect(store.han.requests('c-1').map((r) => [r.id, r.state, r.note])).toEqual([[closed.id, 'done', 'Corrected.'], [deletion.id, 'done', 'Deleted.']])
      expect(store.han.requests('c-2')[0]).toMatchObject({ state: 'pending', note: undefined, forwardedAt: expect.any(Date) as unknown })
      const requestEntries = (consumer: string) => readLogChain(store, 'consumer', consumer).entries
        .filter((e) => String(e.type).startsWith('request-'))
        .map((e) => ({ type: String(e.type), fields: (typeof e.fields === 'string' ? JSON.parse(e.fields) : e.fields) as Record<string, unknown> }))
      // Forwarded when the GWA accepted the report, before the answers of the same session ran.
      expect(requestEntries('c-1')).toEqual([
        { type: 'request-forwarded', fields: expect.objectContaining({ kind: 'deletion', request: deletion.id }) as unknown },
        { type: 'request-answered', fields: expect.objectContaining({ kind: 'deletion', request: deletion.id, state: 'in-progress', note: 'We ask your supplier which data it still needs.' }) as unknown },
        { type: 'request-answered', fields: expect.objectContaining({ kind: 'deletion', request: deletion.id, state: 'done', note: 'Deleted.' }) as unknown },
      ])
      // The other consumer's log: their own request forwarded, nothing of c-1's answers.
      expect(requestEntries('c-2')).toEqual([{ type: 'request-forwarded', fields: expect.objectContaining({ kind: 'objection', request: objection.id }) as unknown }])
      const system = readLogChain(store, 'system', '').entries.filter((e) => e.type === 'admin-command').map((e) => (typeof e.fields === 'string' ? JSON.parse(e.fields) : e.fields) as Record<string, unknown>)
      expect(system.map((e) => [e.type, e.result, e.code])).toEqual([
        ['answer-request', 'executed', undefined], ['answer-request', 'executed', undefined], ['answer-request', 'failed', 'REQUEST_CLOSED'], ['answer-request', 'failed', 'REQUEST_UNKNOWN'],
      ])
    } finally {
      store.close()
    }
  })
})

function decodeCertificateCn(der: Uint8Array): string {
  return parseName(decodeCertificate(der).subject).CN ?? ''
}

describe('meter keys and log ranges through the session', () => {
  it('generate-csr enc → the GWA issues → install → meter-keys sealed to that ENC certificate: a wM-Bus meter key-rejected before reads after; the same envelope again is KEYS_INVALID; read-log with sinceSeq verifies', async () => {
    const KEY = '000102030405060708090a0b0c0d0e0f'
    const module = await createSoftwareSecurityModule({ dir: join(tmp.dir, 'meter-keys-sm'), passphrase: 'test passphrase', scryptLogN: 10 })
    cleanups.push(() => module.close())
    const gwa = await startGwa()
    const f = await configFile('meter-keys', gwa.endpoint, { contactAtStart: false })
    const raw = JSON.parse(await readFile(f, 'utf8')) as Record<string, unknown>
    await writeFile(f, JSON.stringify({ ...raw, meters: [{ ...gas('heat-1', '22222222'), keyId: 'wm.heat' }] }))
    const { config } = await readEffectiveConfig(f)
    // The security module holds the ENC key the certificate manager generates and the meter keys.
    const gw = createGateway(config, { now: () => new Date(), sigModule: module, keyModule: module })
    cleanups.push(() => gw.close())
    await gw.start()
    const heat = () => gw.status().meters.find((m) => m.id === 'heat-1')!
    const telegram = async (seed: number) => {
      const bytes = createWmbusMeterFromConfig(parseWmbusMeterConfig({ kind: 'heat', mode: 5, key: KEY, id: '22222222', seed, crc: 'none' })).next(new Date()).bytes
      const udp = createSocket('udp4')
      await new Promise<void>((resolve, reject) => { udp.send(bytes, gw.status().ports[0], '127.0.0.1', (err) => { if (err) reject(err); else resolve() }) })
      udp.close()
    }
    await telegram(1)
    await vi.waitFor(() => { expect(heat().keyRejected).toBe(1) }, { timeout: 10_000, interval: 20 })

    const b64 = (d: Uint8Array) => Buffer.from(d).toString('base64')
    let enc: Uint8Array | undefined
    gwa.queue.push([await command({ type: 'generate-csr', kinds: ['enc'] })])
    gwa.next = async (results) => {
      const r = results[0]
      if (r?.ok !== true) throw new Error('generate-csr failed')
      const csr = new Uint8Array(Buffer.from(String((r.data.csrs as Record<string, string>).enc), 'base64'))
      enc = await signRenewalRequest(csr, { roots: [t.cert('root')], intermediates: [t.cert('sub-ca-gs')], at: new Date(), purpose: 'tls-client' }, {
        ca: { signer: t.signer('sub-ca-gw'), certificate: t.cert('sub-ca-gw') }, profile: 'enc', allowSubjectChange: true,
        serialNumber: new Uint8Array([0x23, ...randomBytes(9)]), notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 365 * 86_400_000),
      })
      gwa.next = async (installed) => {
        if (installed[0]?.ok !== true) throw new Error('install-certificates failed')
        // The GWA's side: the keys sealed to the ENC certificate it issued, the envelope inside its signed command.
        const envelope = b64(await sealMeterKeys({ format: 'smgw-meter-keys/1', gatewayId: GATEWAY, keys: [{ keyId: 'wm.heat', key: KEY }] }, { encCertificate: enc! }))
        return [await command({ type: 'meter-keys', keys: envelope, replace: false }), await command({ type: 'meter-keys', keys: envelope, replace: false })]
      }
      return [await command({ type: 'install-certificates', certificates: { enc: b64(enc) }, chain: [b64(t.cert('sub-ca-gw'))] })]
    }
    await gw.admin()!.runSession('schedule')
    expect(gwa.results.map(byCommand)).toEqual([
      [{ ok: true, data: { csrs: { enc: expect.any(String) as unknown } } }],
      [{ ok: true, data: { serials: { enc: decodeCertificate(enc!).serialHex } } }],
      [{ ok: true, data: { keyIds: ['wm.heat'] } }, { ok: false, code: 'KEYS_INVALID' }],
    ])
    await telegram(2)
    await vi.waitFor(() => { expect(heat().stored).toBeGreaterThan(0) }, { timeout: 10_000, interval: 20 })
    expect(heat().keyRejected).toBe(1)

    // read-log with sinceSeq: nothing of today is signed yet, so the range reaches back to entry 1 (the whole chain); it verifies and holds the installation.
    gwa.queue.push([await command({ type: 'read-log', log: 'system', sinceSeq: 3 })])
    await gw.admin()!.runSession('schedule')
    const read = gwa.results.at(-1)![0]
    if (read?.ok !== true) throw new Error('read-log failed')
    const exported = decodeLogExport(Buffer.from(String(read.data.export), 'base64'))
    expect(exported.firstSeq).toBeUndefined()
    expect(verifyLog(exported, { certificate: t.cert(`${GW}/sig`) })).toMatchObject({ ok: true })
    const installedEntry = exported.entries.find((e) => e.type === 'meter-keys-installed')
    expect(installedEntry?.fields).toBe('{"keyIds":["wm.heat"],"replaced":[]}')
    expect(Buffer.from(String(read.data.export), 'base64').toString()).not.toContain(KEY)
    await gw.close()
  }, 60_000)
})

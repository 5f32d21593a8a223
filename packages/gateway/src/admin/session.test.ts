import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TLSSocket, type Server as TlsServer } from 'node:tls'
import { createCmsSigner, type CmsSigner } from '@smgw/crypto'
import {
  createSignerVerifier, decodeAdminReport, decodeAdminResults, encodeCommandsAnswer, signAdminObject,
  type AdminCommand, type AdminReport, type AdminResults, type SignerVerifier,
} from '@smgw/admin-protocol'
import { createTlsContext, createTlsServer, decodeCertificate, parseName, type DistinguishedName, type TlsContext } from '@smgw/pki'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { GatewayError } from '../errors.js'
import { createWanTestPki, type WanTestPki } from '../wan/testing.js'
import { OPERATION_OF_COMMAND, RESULTS_PATH, SESSION_PATH, resultCodeOf, runAdminSession, verifyAdminCommand, type AdminLogEntry, type AdminSessionConfig, type AdminSessionDeps } from './session.js'
import { authorize } from './access.js'

// Certificates and TLS use the system clock; legal time is the same instant, fixed per test.
const NOW = new Date()
const GATEWAY = 'smgw-0001'

let t: WanTestPki
let gwaSubject: DistinguishedName
let gwaSigner: CmsSigner
let emtSigner: CmsSigner
let verifier: SignerVerifier
let gatewayTls: TlsContext

beforeAll(async () => {
  t = await createWanTestPki({ gateways: 2, emts: 1 }, new Date(NOW.getTime() - 86_400_000))
  gwaSubject = t.pki.participants.find((p) => p.role === 'gwa')!.subject
  gwaSigner = createCmsSigner({ signer: t.signer('gwa/sig'), certificate: t.cert('gwa/sig'), chain: [t.cert('sub-ca-emt')] })
  emtSigner = createCmsSigner({ signer: t.signer('emt-1/sig'), certificate: t.cert('emt-1/sig'), chain: [t.cert('sub-ca-emt')] })
  verifier = createSignerVerifier({ expectedSubject: gwaSubject, roots: [t.cert('root')], intermediates: [t.cert('sub-ca-emt')], notOwnRole: 'SIGNER_NOT_GWA' })
  gatewayTls = createTlsContext({
    identity: { key: t.key(`gateways/${GATEWAY}/tls`), cert: t.cert(`gateways/${GATEWAY}/tls`), chain: [t.cert('sub-ca-gw')] },
    trust: { roots: [t.cert('root')], intermediates: [t.cert('sub-ca-emt')] },
  })
}, 60_000)

/** A test GWA: mutual TLS, the session protocol, a queue of signed commands per round. */
interface TestGwa {
  readonly endpoint: string
  readonly reports: AdminReport[]
  readonly results: AdminResults[]
  /** The CN of each client certificate that reached HTTP. */
  readonly clients: string[]
  close(): Promise<void>
}

async function startGwa(rounds: Uint8Array[][], o: { label?: string; status?: number; mode?: 'hang' | 'garbage' } = {}): Promise<TestGwa> {
  const label = o.label ?? 'gwa'
  const issuer = label.startsWith('gateways/') ? 'sub-ca-gw' : 'sub-ca-emt'
  const ctx = createTlsContext({
    identity: { key: t.key(`${label}/tls`), cert: t.cert(`${label}/tls`), chain: [t.cert(issuer)] },
    trust: { roots: [t.cert('root')], intermediates: [t.cert('sub-ca-gw')] },
  })
  const queue = [...rounds]
  const gwa = { endpoint: '', reports: [] as AdminReport[], results: [] as AdminResults[], clients: [] as string[], close: () => Promise.resolve() }
  const answer = (res: ServerResponse) => {
    if (o.mode === 'hang') return
    if (o.mode === 'garbage') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"format":"smgw-admin-commands/1","commands":"all of them"}')
      return
    }
    const commands = (queue.shift() ?? []).map((c) => Buffer.from(c).toString('base64'))
    res.writeHead(o.status ?? 200, { 'content-type': 'application/json' }).end(encodeCommandsAnswer({ format: 'smgw-admin-commands/1', commands }))
  }
  const http: HttpServer = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = new Uint8Array(Buffer.concat(chunks))
      const socket = req.socket
      if (socket instanceof TLSSocket) gwa.clients.push(parseName(decodeCertificate(new Uint8Array(socket.getPeerCertificate().raw)).subject).CN ?? '')
      if (req.url === SESSION_PATH) gwa.reports.push(decodeAdminReport(body))
      else if (req.url === RESULTS_PATH) gwa.results.push(decodeAdminResults(body))
      else {
        res.writeHead(404).end()
        return
      }
      answer(res)
    })
  })
  const tls: TlsServer = createTlsServer(ctx, { onConnection: (socket) => { http.emit('connection', socket) } })
  await new Promise<void>((resolve) => { tls.listen(0, '127.0.0.1', resolve) })
  gwa.endpoint = `https://127.0.0.1:${String((tls.address() as AddressInfo).port)}`
  gwa.close = () => new Promise<void>((resolve) => {
    http.closeAllConnections()
    tls.close(() => { resolve() })
  })
  return gwa
}

function command(sequence: number, fields: Record<string, unknown>, over: Record<string, unknown> = {}): AdminCommand {
  return {
    format: 'smgw-admin-command/1', commandId: `cmd-${String(sequence)}`, gatewayId: GATEWAY, sequence,
    issuedAt: new Date(NOW.getTime() - 60_000).toISOString(), ...fields, ...over,
  } as AdminCommand
}

const sign = (c: AdminCommand, signer: CmsSigner = gwaSigner) => signAdminObject(c, signer, NOW)

interface GatewaySide {
  readonly deps: AdminSessionDeps
  readonly executed: AdminCommand[]
  readonly log: AdminLogEntry[]
  sequence: number
}

function gatewaySide(handlers: AdminSessionDeps['handlers'] = {}): GatewaySide {
  const side: GatewaySide = {
    executed: [], log: [], sequence: 41,
    deps: undefined as unknown as AdminSessionDeps,
  }
  const record = <T>(fn: (c: T) => Promise<Record<string, unknown>>) => async (c: T) => {
    side.executed.push(c as AdminCommand)
    return fn(c)
  }
  const wrapped = Object.fromEntries(Object.entries(handlers).map(([k, fn]) => [k, record(fn as (c: unknown) => Promise<Record<string, unknown>>)]))
  ;(side as { deps: AdminSessionDeps }).deps = {
    gatewayId: GATEWAY,
    tls: () => gatewayTls,
    verifier,
    report: () => ({
      firmware: { version: '1.2.0' }, profileVersion: 3, certificates: [{ kind: 'gs', serial: '01', notAfter: '2030-01-01T00:00:00.000Z', source: 'initial' }],
      time: { state: 'synchronised', offsetMs: 12 },
    }),
    lastSequence: () => side.sequence,
    acceptSequence: (n) => { side.sequence = n },
    handlers: wrapped,
    log: (e) => { side.log.push(e) },
    now: () => NOW,
  }
  return side
}

const config = (endpoint: string, over: Partial<AdminSessionConfig> = {}): AdminSessionConfig => ({
  endpoint, gwaSubject, requestTimeoutMs: 20_000, commandMaxAgeS: 7 * 86_400, freshnessS: 300, ...over,
})

const rollback = { type: 'rollback-profile', version: 2 }
const timeSource = { type: 'set-time-source', time: { servers: ['ntp.example'] } }

describe('admin session against a real mutual-TLS GWA', () => {
  let gwa: TestGwa | undefined
  afterAll(async () => { await gwa?.close() })

  it('reports, executes commands in order, posts results, and stops when no commands come', async () => {
    const round1 = [await sign(command(42, rollback)), await sign(command(43, timeSource))]
    const round2 = [await sign(command(44, { type: 'taf-request', profileId: 'taf6-1', useCase: 6 }))]
    gwa = await startGwa([round1, round2])
    const side = gatewaySide({
      'rollback-profile': (c) => Promise.resolve({ version: c.version }),
      'set-time-source': () => Promise.resolve({ offsetMs: 3, state: 'synchronised' }),
      'taf-request': () => Promise.resolve({ messages: 1 }),
    })
    const outcome = await runAdminSession('wake-up', config(gwa.endpoint), side.deps)
    expect(outcome).toEqual({ executed: 3, refused: 0, failed: 0, result: 'completed' })
    expect(side.executed.map((c) => c.sequence)).toEqual([42, 43, 44])
    expect(side.sequence).toBe(44)
    expect(gwa.reports).toHaveLength(1)
    expect(gwa.reports[0]).toMatchObject({ format: 'smgw-admin-report/1', gatewayId: GATEWAY, reason: 'wake-up', lastSequence: 41, profileVersion: 3 })
    expect(gwa.clients).toEqual([GATEWAY, GATEWAY, GATEWAY])
    expect(gwa.results).toHaveLength(2)
    expect(gwa.results[0]!.results).toEqual([
      { commandId: 'cmd-42', sequence: 42, index: 0, ok: true, data: { version: 2 } },
      { commandId: 'cmd-43', sequence: 43, index: 1, ok: true, data: { offsetMs: 3, state: 'synchronised' } },
    ])
    expect(gwa.results[1]!.results).toEqual([{ commandId: 'cmd-44', sequence: 44, index: 0, ok: true, data: { messages: 1 } }])
    expect(side.log.at(-1)).toEqual({ type: 'admin-session', fields: { reason: 'wake-up', result: 'completed', commands: 3 } })
    expect(side.log.filter((e) => e.type === 'admin-command').map((e) => e.fields)).toEqual([
      { type: 'rollback-profile', sequence: 42, result: 'executed' },
      { type: 'set-time-source', sequence: 43, result: 'executed' },
      { type: 'taf-request', sequence: 44, result: 'executed' },
    ])
    await gwa.close()
    gwa = undefined
  })

  it('refuses replayed, mis-addressed, EMT-signed, stale and consumer-log commands and goes on with the next', async () => {
    const round = [
      await sign(command(41, rollback)), // replayed: not greater than 41
      await sign(command(42, rollback, { gatewayId: 'smgw-0002' })), // for another gateway
      await sign(command(43, { type: 'profile', version: 9, tariffs: [] }), emtSigner), // an EMT, same SM-PKI root
      await sign(command(44, rollback, { issuedAt: new Date(NOW.getTime() - 8 * 86_400_000).toISOString() })), // older than a week
      await sign(command(45, rollback, { issuedAt: new Date(NOW.getTime() + 600_000).toISOString() })), // from the future
      await sign(command(46, { type: 'read-log', log: 'consumer' })), // not the GWA's log
      new TextEncoder().encode('not a command'),
      await sign(command(47, { type: 'firmware', package: 'AAAA' })), // no handler
      await sign(command(48, rollback)), // fine
      await sign(command(48, rollback)), // the same again within the round
    ]
    gwa = await startGwa([round])
    const side = gatewaySide({ 'rollback-profile': (c) => Promise.resolve({ version: c.version }) })
    const outcome = await runAdminSession('schedule', config(gwa.endpoint), side.deps)
    expect(outcome).toEqual({ executed: 1, refused: 8, failed: 1, result: 'completed' })
    expect(side.executed.map((c) => c.sequence)).toEqual([48])
    const results = gwa.results[0]!.results
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'REPLAYED', 'NOT_ADDRESSED', 'SIGNER_NOT_GWA', 'STALE', 'STALE', 'FORBIDDEN', 'MALFORMED', 'UNSUPPORTED', 'ok', 'REPLAYED',
    ])
    expect(results[6]).toMatchObject({ commandId: null, sequence: null, index: 6, ok: false })
    expect(side.log.filter((e) => e.type === 'admin-command').map((e) => e.fields.result)).toEqual([
      'refused', 'refused', 'refused', 'refused', 'refused', 'refused', 'refused', 'failed', 'executed', 'refused',
    ])
    await gwa.close()
    gwa = undefined
  })

  it('answers a handler failure with its code and goes on', async () => {
    gwa = await startGwa([[await sign(command(42, rollback)), await sign(command(43, timeSource))]])
    const side = gatewaySide({
      'rollback-profile': () => Promise.reject(new GatewayError('ADMIN_APPLY_FAILED', 'version 2 is gone')),
      'set-time-source': () => Promise.reject(new Error('disk full')),
    })
    const outcome = await runAdminSession('start', config(gwa.endpoint), side.deps)
    expect(outcome).toMatchObject({ executed: 0, refused: 0, failed: 2, result: 'completed' })
    expect(gwa.results[0]!.results).toEqual([
      { commandId: 'cmd-42', sequence: 42, index: 0, ok: false, error: { code: 'ADMIN_APPLY_FAILED', message: 'version 2 is gone' } },
      { commandId: 'cmd-43', sequence: 43, index: 1, ok: false, error: { code: 'FAILED', message: 'disk full' } },
    ])
    // Both sequences are used up: the GWA must send a new command, never the same again.
    expect(side.sequence).toBe(43)
    await gwa.close()
    gwa = undefined
  })

  it('fails the session and executes nothing when the server is not the GWA', async () => {
    // An EMT's server: valid SM-PKI TLS certificate, but not the GWA's subject.
    gwa = await startGwa([[await sign(command(42, rollback))]], { label: 'emt-1' })
    const side = gatewaySide({ 'rollback-profile': (c) => Promise.resolve({ version: c.version }) })
    const outcome = await runAdminSession('wake-up', config(gwa.endpoint), side.deps)
    expect(outcome).toEqual({ executed: 0, refused: 0, failed: 0, result: 'failed', code: 'SERVER_NOT_GWA' })
    expect(gwa.reports).toEqual([])
    expect(side.executed).toEqual([])
    expect(side.log).toEqual([{ type: 'admin-session', fields: { reason: 'wake-up', result: 'failed', commands: 0, code: 'SERVER_NOT_GWA' } }])
    await gwa.close()
    gwa = undefined
  })

  it('fails the session on an HTTP error or an unreachable GWA', async () => {
    gwa = await startGwa([[await sign(command(42, rollback))]], { status: 503 })
    const side = gatewaySide({ 'rollback-profile': (c) => Promise.resolve({ version: c.version }) })
    expect(await runAdminSession('schedule', config(gwa.endpoint), side.deps)).toMatchObject({ result: 'failed', code: 'HTTP_503' })
    expect(side.executed).toEqual([])
    const endpoint = gwa.endpoint
    await gwa.close()
    gwa = undefined
    expect(await runAdminSession('schedule', config(endpoint), side.deps)).toMatchObject({ result: 'failed', code: 'CONNECT_FAILED' })
  })

  it('fails the session on an unreadable answer, an answer over maxAnswerBytes and a timeout', async () => {
    gwa = await startGwa([], { mode: 'garbage' })
    const side = gatewaySide()
    expect(await runAdminSession('schedule', config(gwa.endpoint), side.deps)).toMatchObject({ result: 'failed', code: 'ANSWER_MALFORMED' })
    await gwa.close()
    gwa = await startGwa([[await sign(command(42, rollback)), await sign(command(43, rollback))]])
    expect(await runAdminSession('schedule', config(gwa.endpoint, { maxAnswerBytes: 1000 }), side.deps)).toMatchObject({ result: 'failed', code: 'ANSWER_TOO_LARGE' })
    expect(side.executed).toEqual([])
    await gwa.close()
    // A GWA that never answers: the request timer (driven by the test) ends the session.
    const hanging = await startGwa([], { mode: 'hang' })
    gwa = hanging
    const timers: (() => void)[] = []
    const timed = { ...side.deps, setTimer: (_ms: number, fn: () => void) => { timers.push(fn); return () => undefined } }
    const running = runAdminSession('schedule', config(hanging.endpoint), timed)
    await vi.waitFor(() => { expect(hanging.reports).toHaveLength(1) }, { timeout: 20_000 })
    for (const fire of timers) fire()
    expect(await running).toMatchObject({ result: 'failed', code: 'TIMEOUT' })
    await gwa.close()
    gwa = undefined
  })

  it('stops after maxRounds', async () => {
    const rounds = [[await sign(command(42, rollback))], [await sign(command(43, rollback))], [await sign(command(44, rollback))]]
    gwa = await startGwa(rounds)
    const side = gatewaySide({ 'rollback-profile': (c) => Promise.resolve({ version: c.version }) })
    expect(await runAdminSession('schedule', config(gwa.endpoint, { maxRounds: 2 }), side.deps)).toEqual({ executed: 2, refused: 0, failed: 0, result: 'completed', code: 'MAX_ROUNDS' })
    await gwa.close()
    gwa = undefined
  })

  it('reportAccepted: runs with the report sent once the GWA answered 200 (also when the body then does not decode), before the first command; never on another status; its failure does not end the session', async () => {
    const order: string[] = []
    const accepted: unknown[] = []
    gwa = await startGwa([[await sign(command(42, rollback))]])
    const side = gatewaySide({ 'rollback-profile': (c) => { order.push('command'); return Promise.resolve({ version: c.version }) } })
    const deps: AdminSessionDeps = { ...side.deps, reportAccepted: (r) => { order.push('accepted'); accepted.push(r); return Promise.resolve() } }
    expect(await runAdminSession('wake-up', config(gwa.endpoint), deps)).toMatchObject({ result: 'completed', executed: 1 })
    expect(order).toEqual(['accepted', 'command'])
    expect(accepted).toEqual([gwa.reports[0]])
    await gwa.close()

    gwa = await startGwa([], { mode: 'garbage' })
    expect(await runAdminSession('schedule', config(gwa.endpoint), deps)).toMatchObject({ result: 'failed', code: 'ANSWER_MALFORMED' })
    expect(accepted).toHaveLength(2)
    await gwa.close()

    gwa = await startGwa([[await sign(command(43, rollback))]], { status: 503 })
    expect(await runAdminSession('schedule', config(gwa.endpoint), deps)).toMatchObject({ result: 'failed', code: 'HTTP_503' })
    expect(accepted).toHaveLength(2)
    await gwa.close()

    gwa = await startGwa([[await sign(command(43, rollback))]])
    const failing: AdminSessionDeps = { ...side.deps, reportAccepted: () => Promise.reject(new Error('store closed')) }
    expect(await runAdminSession('schedule', config(gwa.endpoint), failing)).toMatchObject({ result: 'completed', executed: 1 })
    await gwa.close()
    gwa = undefined
  })
})

describe('command verification', () => {
  it('maps every command type to an operation the GWA holds', () => {
    for (const [type, operation] of Object.entries(OPERATION_OF_COMMAND)) expect(authorize('gwa', operation), type).toBe(true)
  })

  it('throws ADMIN_REFUSED with the protocol reason as cause', async () => {
    const ctx = { gatewayId: GATEWAY, verifier, at: NOW, lastSequence: 41, commandMaxAgeS: 604_800, freshnessS: 300 }
    const err = await verifyAdminCommand(await sign(command(42, rollback), emtSigner), ctx).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GatewayError)
    expect((err as GatewayError).code).toBe('ADMIN_REFUSED')
    expect(resultCodeOf(err)).toBe('SIGNER_NOT_GWA')
    expect((await verifyAdminCommand(await sign(command(42, rollback)), ctx)).sequence).toBe(42)
  })
})

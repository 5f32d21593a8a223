import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  ADMIN_REPORT_FORMAT, ADMIN_RESULTS_FORMAT, createFirmwarePackage, createSignerVerifier, openCommand, openWakeUp, type AdminReport, type SignerVerifier,
} from '@smgw/admin-protocol'
import { createCmsSigner, type CmsSigner } from '@smgw/crypto'
import { decodeCertificate } from '@smgw/pki'
import fc from 'fast-check'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCommandIssuer } from './commands.js'
import { parseGwaConfig } from './config.js'
import { GwaError } from './errors.js'
import { createGwaOperations, type GwaOperations } from './operations.js'
import { createGwa } from './service.js'
import { openSqliteRepository } from './repository/sqlite.js'
import type { GwaRepository } from './repository/types.js'
import { createAdminSessions, type AdminSessions, type SessionPeer } from './session.js'
import { createGwaTestPki, type GwaTestPki } from './testing/pki.js'
import { createWakeUpSender, parseWakeUpAddress, type DatagramSend } from './wakeup.js'

/* The session logic, operations and wake-ups without HTTP: a SQLite inventory and the demo PKI's GWA key. */

let dir = ''
let pki: GwaTestPki
let signer: CmsSigner
let verifier: SignerVerifier
let counter = 0
const silent = pino({ level: 'silent' })
const peer = (id: string): SessionPeer => ({ gatewayId: id, subject: `CN=${id},OU=SMGW` })
const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value))
const report = (gatewayId: string, o: Partial<AdminReport> = {}): AdminReport => ({
  format: ADMIN_REPORT_FORMAT, gatewayId, sentAt: new Date().toISOString(), reason: 'schedule', firmware: { version: '1.0.0' },
  profileVersion: 0, lastSequence: 0, certificates: [], time: { state: 'synchronised' }, ...o,
})

interface World { repo: GwaRepository; sessions: AdminSessions; ops: GwaOperations; sent: { bytes: Uint8Array; host: string; port: number }[]; failSend: { value: boolean } }

function world(): World {
  const repo = openSqliteRepository(join(dir, `s${String(++counter)}.db`))
  const now = () => new Date()
  const issuer = createCommandIssuer({ repository: repo, signer, now })
  const sent: World['sent'] = []
  const failSend = { value: false }
  const send: DatagramSend = (b, host, port) => {
    if (failSend.value) return Promise.reject(new Error('network unreachable'))
    sent.push({ bytes: b, host, port })
    return Promise.resolve()
  }
  const wakeUps = createWakeUpSender({ repository: repo, signer, gwaId: 'gwa', now, send })
  return {
    repo, sent, failSend,
    sessions: createAdminSessions({ repository: repo, issuer, now, logger: silent, maxCommandsPerAnswer: 2 }),
    ops: createGwaOperations({ repository: repo, issuer, wakeUps, crls: () => [new Uint8Array([1, 2, 3])], now }),
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smgw-gwa-session-'))
  pki = await createGwaTestPki(join(dir, 'pki'), { gateways: 1, now: new Date(Date.now() - 86_400_000) })
  signer = createCmsSigner({ signer: pki.signer('gwa/sig'), certificate: pki.cert('gwa/sig'), chain: [pki.cert('sub-ca-emt')] })
  verifier = createSignerVerifier({ expectedSubject: decodeCertificate(pki.cert('gwa/sig')).subject, roots: [pki.root], intermediates: pki.intermediates, notOwnRole: 'SIGNER_NOT_GWA' })
})
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

describe('admin sessions', () => {
  it('answers at most maxCommandsPerAnswer, oldest first; results free the next ones; a lost result becomes RESULT_LOST', async () => {
    const w = world()
    await w.ops.register({ id: 'smgw-0001' })
    for (let i = 0; i < 3; i++) await w.ops.tafRequest('smgw-0001', `taf6-${String(i)}`, 6)
    const first = await w.sessions.report(peer('smgw-0001'), bytes(report('smgw-0001')))
    const commands = await Promise.all(first.commands.map((c) => openCommand(new Uint8Array(Buffer.from(c, 'base64')), verifier, new Date())))
    expect(commands.map((c) => c.sequence)).toEqual([1, 2])
    // Only the first result comes back: the answer carries 2 again (sent, no result, above the last result) and 3.
    const c1 = commands[0]!
    const next = await w.sessions.results(peer('smgw-0001'), bytes({
      format: ADMIN_RESULTS_FORMAT, gatewayId: 'smgw-0001',
      results: [{ commandId: c1.commandId, sequence: 1, index: 0, ok: true, data: { messages: 1 } }, { commandId: null, sequence: null, index: 1, ok: false, error: { code: 'MALFORMED', message: 'x' } }],
    }))
    expect((await Promise.all(next.commands.map((c) => openCommand(new Uint8Array(Buffer.from(c, 'base64')), verifier, new Date())))).map((c) => c.sequence)).toEqual([2, 3])
    // The next report says 3 was executed: 2 and 3 (sent, no result) are lost.
    const later = await w.sessions.report(peer('smgw-0001'), bytes(report('smgw-0001', { lastSequence: 3 })))
    expect(later.commands).toEqual([])
    const states = (await w.repo.listCommands({ gatewayId: 'smgw-0001' })).map((c) => [c.sequence, c.state, c.result?.code ?? null])
    expect(states).toEqual([[1, 'done', null], [2, 'failed', 'RESULT_LOST'], [3, 'failed', 'RESULT_LOST']])
    await w.repo.close()
  })

  it('results for another gateway\'s command are ignored; results posted for another gateway are GWA_FORBIDDEN', async () => {
    const w = world()
    await w.ops.register({ id: 'smgw-0001' })
    await w.ops.register({ id: 'smgw-0002' })
    const q = await w.ops.readLog('smgw-0002')
    await w.sessions.report(peer('smgw-0001'), bytes(report('smgw-0001')))
    await w.sessions.results(peer('smgw-0001'), bytes({ format: ADMIN_RESULTS_FORMAT, gatewayId: 'smgw-0001', results: [{ commandId: q.command.commandId, sequence: 1, index: 0, ok: true, data: { export: 'AAAA' } }] }))
    expect(await w.repo.getCommand(q.command.commandId)).toMatchObject({ state: 'queued', result: null })
    expect(await w.repo.listLogExports('smgw-0002')).toEqual([])
    await expect(w.sessions.results(peer('smgw-0001'), bytes({ format: ADMIN_RESULTS_FORMAT, gatewayId: 'smgw-0002', results: [] }))).rejects.toMatchObject({ code: 'GWA_FORBIDDEN' })
    await expect(w.sessions.report({ gatewayId: undefined, subject: 'CN=EMT Demo 1' }, bytes(report('smgw-0001')))).rejects.toMatchObject({ code: 'GWA_FORBIDDEN' })
    await w.repo.close()
  })

  it('every refusal is logged with its reason (unknown gateway, foreign certificate, revoked)', async () => {
    const lines: Record<string, unknown>[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
    const repo = openSqliteRepository(join(dir, `s${String(++counter)}.db`))
    const sessions = createAdminSessions({ repository: repo, issuer: createCommandIssuer({ repository: repo, signer, now: () => new Date() }), now: () => new Date(), logger, maxCommandsPerAnswer: 8 })
    await repo.registerGateway({ id: 'smgw-0001', registeredAt: new Date() })
    await expect(sessions.report(peer('smgw-0404'), bytes(report('smgw-0404')))).rejects.toMatchObject({ code: 'GWA_FORBIDDEN' })
    await expect(sessions.report(peer('smgw-0002'), bytes(report('smgw-0001')))).rejects.toMatchObject({ code: 'GWA_FORBIDDEN' })
    await repo.updateGateway('smgw-0001', { state: 'revoked' })
    await expect(sessions.report(peer('smgw-0001'), bytes(report('smgw-0001')))).rejects.toMatchObject({ code: 'GWA_FORBIDDEN' })
    expect(lines.filter((l) => l.event === 'session-refused').map((l) => [l.reason, l.gateway])).toEqual([
      ['GATEWAY_UNKNOWN', 'smgw-0404'], ['CERTIFICATE_NOT_OF_GATEWAY', 'smgw-0001'], ['GATEWAY_REVOKED', 'smgw-0001'],
    ])
    expect((await repo.getGateway('smgw-0001'))?.lastContactAt).toBeNull()
    await repo.close()
  })

  it('arbitrary and mutated request bodies only ever give GWA_REQUEST_INVALID or GWA_FORBIDDEN, and record nothing', async () => {
    const w = world()
    await w.ops.register({ id: 'smgw-0001' })
    const valid = bytes(report('smgw-0001'))
    const check = async (body: Uint8Array, path: 'report' | 'results') => {
      try {
        await w.sessions[path](peer('smgw-0001'), body)
      } catch (err) {
        expect(err).toBeInstanceOf(GwaError)
        expect(['GWA_REQUEST_INVALID', 'GWA_FORBIDDEN']).toContain((err as GwaError).code)
      }
    }
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.constantFrom('report' as const, 'results' as const), check), { numRuns: 300 })
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }), async (i, v) => {
      const mutated = valid.slice()
      mutated[i] = v
      await check(mutated, 'report')
    }), { numRuns: 300 })
    await w.repo.close()
  })
})

describe('operations', () => {
  it('profile versions count on from the active one; rollback only to an applied earlier version', async () => {
    const w = world()
    await w.ops.register({ id: 'smgw-0001' })
    await w.repo.recordContact({ gatewayId: 'smgw-0001', at: new Date(), tlsSubject: 'CN=smgw-0001', report: {}, firmwareVersion: '1.0.0', profileVersion: 4, certificates: [], lastExecutedSequence: 0 })
    expect((await w.ops.deployProfile('smgw-0001', { time: { servers: [] } })).version).toBe(5)
    expect((await w.ops.deployProfile('smgw-0001', { meters: [] })).version).toBe(6)
    await expect(w.ops.rollbackProfile('smgw-0001', 5)).rejects.toMatchObject({ code: 'GWA_REQUEST_INVALID' })
    await w.repo.setProfileState('smgw-0001', 5, 'applied', 'aa')
    await w.repo.recordContact({ gatewayId: 'smgw-0001', at: new Date(), tlsSubject: 'CN=smgw-0001', report: {}, firmwareVersion: '1.0.0', profileVersion: 6, certificates: [], lastExecutedSequence: 0 })
    const rb = await w.ops.rollbackProfile('smgw-0001', 5)
    expect(await openCommand(rb.command.cms, verifier, new Date())).toMatchObject({ type: 'rollback-profile', version: 5, sequence: 3 })
    await expect(w.ops.rollbackProfile('smgw-0001', 6)).rejects.toMatchObject({ code: 'GWA_REQUEST_INVALID' })
    // A profile the schema refuses spends no sequence.
    await expect(w.ops.deployProfile('smgw-0001', {})).rejects.toMatchObject({ code: 'GWA_REQUEST_INVALID' })
    expect((await w.repo.getGateway('smgw-0001'))?.lastSequence).toBe(3)
    await w.repo.close()
  })

  it('firmware: a package is read (version, hash) and rolled out whole; update-crls sends the configured CRLs', async () => {
    const w = world()
    await w.ops.register({ id: 'smgw-0001' })
    const image = new TextEncoder().encode('export default 1\n')
    const file = await createFirmwarePackage({ name: 'smgw', version: '1.3.0', image, signer, at: new Date() })
    const added = await w.ops.addFirmware(file)
    expect(added).toMatchObject({ version: '1.3.0', name: 'smgw', size: image.length })
    await expect(w.ops.addFirmware(new TextEncoder().encode('{"format":"smgw-firmware-package/1"}'))).rejects.toMatchObject({ code: 'GWA_REQUEST_INVALID' })
    const q = await w.ops.rolloutFirmware('smgw-0001', '1.3.0')
    const command = await openCommand(q.command.cms, verifier, new Date())
    expect(command.type === 'firmware' && Buffer.from(command.package, 'base64').equals(Buffer.from(file))).toBe(true)
    await expect(w.ops.rolloutFirmware('smgw-0001', '2.0.0')).rejects.toMatchObject({ code: 'GWA_NOT_FOUND' })
    // A rolled-back update leaves the version; an active one shows in the fleet status at once.
    await w.sessions.report(peer('smgw-0001'), bytes(report('smgw-0001')))
    const result = (state: string) => bytes({ format: ADMIN_RESULTS_FORMAT, gatewayId: 'smgw-0001', results: [{ commandId: command.commandId, sequence: command.sequence, index: 0, ok: true, data: { version: '1.3.0', state } }] })
    await w.sessions.results(peer('smgw-0001'), result('rolled-back'))
    expect((await w.repo.getGateway('smgw-0001'))?.firmwareVersion).toBe('1.0.0')
    // A repeated post of a stored result is not acted on.
    await w.sessions.results(peer('smgw-0001'), result('active'))
    expect((await w.repo.getGateway('smgw-0001'))?.firmwareVersion).toBe('1.0.0')
    const again = await openCommand((await w.ops.rolloutFirmware('smgw-0001', '1.3.0')).command.cms, verifier, new Date())
    await w.sessions.report(peer('smgw-0001'), bytes(report('smgw-0001', { lastSequence: command.sequence })))
    await w.sessions.results(peer('smgw-0001'), bytes({ format: ADMIN_RESULTS_FORMAT, gatewayId: 'smgw-0001', results: [{ commandId: again.commandId, sequence: again.sequence, index: 0, ok: true, data: { version: '1.3.0', state: 'active' } }] }))
    expect((await w.repo.getGateway('smgw-0001'))?.firmwareVersion).toBe('1.3.0')
    const crls = await openCommand((await w.ops.updateCrls('smgw-0001')).command.cms, verifier, new Date())
    expect(crls).toMatchObject({ type: 'update-crls', crls: ['AQID'] })
    await w.repo.close()
  })
})

describe('wake-ups', () => {
  it('counter + 1 per wake-up, stored before the send: a failed send still uses its counter up', async () => {
    const w = world()
    await w.ops.register({ id: 'smgw-0001', wakeUpAddress: '[::1]:4059' })
    const first = await w.ops.wake('smgw-0001')
    expect(first).toMatchObject({ counter: 1, address: '[::1]:4059' })
    expect(w.sent[0]).toMatchObject({ host: '::1', port: 4059 })
    expect(await openWakeUp(w.sent[0]!.bytes, verifier, new Date())).toMatchObject({ counter: 1, gatewayId: 'smgw-0001', gwaId: 'gwa' })
    w.failSend.value = true
    await expect(w.ops.wake('smgw-0001')).rejects.toMatchObject({ code: 'GWA_WAKE_UP_FAILED' })
    w.failSend.value = false
    expect((await w.ops.wake('smgw-0001')).counter).toBe(3)
    // Queue with wake: a failed wake-up leaves the command queued and says why.
    w.failSend.value = true
    const queued = await w.ops.readLog('smgw-0001', undefined, { wake: true })
    expect(queued).toMatchObject({ command: { state: 'queued' }, wakeUpError: { code: 'GWA_WAKE_UP_FAILED' } })
    await w.ops.register({ id: 'smgw-0002' })
    await expect(w.ops.wake('smgw-0002')).rejects.toMatchObject({ code: 'GWA_WAKE_UP_FAILED' })
    await w.repo.close()
  })

  it('wake-up addresses: host:port and [v6]:port only', () => {
    expect(parseWakeUpAddress('192.0.2.1:4059')).toEqual({ host: '192.0.2.1', port: 4059 })
    expect(parseWakeUpAddress('gw.example:1')).toEqual({ host: 'gw.example', port: 1 })
    expect(parseWakeUpAddress('[2001:db8::1]:65535')).toEqual({ host: '2001:db8::1', port: 65535 })
    for (const bad of ['192.0.2.1', '192.0.2.1:0', '192.0.2.1:65536', '2001:db8::1:4059', '[nonsense]:1', ':4059', 'a:b']) expect(parseWakeUpAddress(bad)).toBeUndefined()
  })
})

describe('service start', () => {
  it('refuses a SIG key that does not match its certificate, an API without token, a missing file — and rolls back; close is idempotent', async () => {
    const base = pki.config({ storage: { sqlite: join(dir, 'start.db') } })
    const wrongKey = createGwa(parseGwaConfig({ ...base, sig: { ...base.sig, key: join(pki.dir, 'gwa/tls.key.pem') } }), { logger: silent, apiToken: 'x'.repeat(16) })
    await expect(wrongKey.start()).rejects.toMatchObject({ code: 'GWA_CONFIG_INVALID' })
    const noToken = createGwa(parseGwaConfig(base), { logger: silent })
    await expect(noToken.start()).rejects.toMatchObject({ code: 'GWA_CONFIG_INVALID' })
    const missing = createGwa(parseGwaConfig({ ...base, ca: { certificate: join(dir, 'nope.pem'), key: join(dir, 'nope.key') } }), { logger: silent, apiToken: 'x'.repeat(16) })
    await expect(missing.start()).rejects.toMatchObject({ code: 'GWA_CONFIG_INVALID' })
    const ok = createGwa(parseGwaConfig(base), { logger: silent, apiToken: 'x'.repeat(16) })
    await Promise.all([ok.start(), ok.start()])
    expect(ok.ports().admin).toBeGreaterThan(0)
    await ok.close()
    await ok.close()
    expect(() => ok.ports()).toThrow(expect.objectContaining({ code: 'GWA_START_FAILED' }))
  })
})

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  ADMIN_REPORT_FORMAT, ADMIN_RESULTS_FORMAT, createFirmwarePackage, createSignerVerifier, openCommand, openMeterKeys, openWakeUp, type AdminReport, type SignerVerifier,
} from '@smgw/admin-protocol'
import { createCmsSigner, createKeyObjectAgreer, type CmsSigner } from '@smgw/crypto'
import { decodeCertificate } from '@smgw/pki'
import fc from 'fast-check'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCommandIssuer } from './commands.js'
import { parseGwaConfig } from './config.js'
import { GwaError } from './errors.js'
import { parseMeterKeys } from './meter-keys.js'
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

describe('meter keys', () => {
  const KEYS = { 'wmbus-1': '000102030405060708090A0B0C0D0E0F', 'wmbus-2': 'f0e0d0c0b0a090807060504030201000' }
  const encReport = (serial: string, notAfter = '2036-01-01T00:00:00.000Z') =>
    report('smgw-0001', { certificates: [{ kind: 'enc', serial, notAfter, source: 'operational' }] })

  it('sealed to the ENC certificate the GWA issued for the reported serial: the gateway\'s ENC key opens exactly the keys; nothing stores them in clear', async () => {
    const w = world()
    await w.ops.register({ id: 'smgw-0001' })
    const der = pki.cert('gateways/smgw-0001/enc')
    const serial = decodeCertificate(der).serialHex
    await w.repo.saveIssuedCertificate({ gatewayId: 'smgw-0001', kind: 'enc', serial, der, issuedAt: new Date() })
    await w.sessions.report(peer('smgw-0001'), bytes(encReport(serial)))
    const queued = await w.ops.assignMeterKeys('smgw-0001', KEYS, { replace: true })
    expect(queued.keyIds).toEqual(['wmbus-1', 'wmbus-2'])
    const command = await openCommand(queued.command.cms, verifier, new Date())
    if (command.type !== 'meter-keys') throw new Error(`not meter-keys: ${command.type}`)
    expect(command).toMatchObject({ gatewayId: 'smgw-0001', replace: true, sequence: 1 })
    const opened = await openMeterKeys(new Uint8Array(Buffer.from(command.keys, 'base64')), 'smgw-0001', createKeyObjectAgreer(pki.key('gateways/smgw-0001/enc')), der)
    expect(opened.map((k) => [k.keyId, Buffer.from(k.key).toString('hex')])).toEqual([['wmbus-1', '000102030405060708090a0b0c0d0e0f'], ['wmbus-2', KEYS['wmbus-2']]])
    // The most one command carries: 256 keys, one envelope.
    const many = Object.fromEntries(Array.from({ length: 256 }, (_, i) => [`m-${String(i)}`, i.toString(16).padStart(32, '0')]))
    const big = await openCommand((await w.ops.assignMeterKeys('smgw-0001', many)).command.cms, verifier, new Date())
    if (big.type !== 'meter-keys') throw new Error('not meter-keys')
    const all = await openMeterKeys(new Uint8Array(Buffer.from(big.keys, 'base64')), 'smgw-0001', createKeyObjectAgreer(pki.key('gateways/smgw-0001/enc')), der)
    expect(all.map((k) => [k.keyId, Buffer.from(k.key).toString('hex')])).toEqual(Object.entries(many))
    expect(big.replace).toBe(false)
    // Neither the hex nor the key bytes are anywhere in the inventory file.
    await w.repo.close()
    const path = join(dir, `s${String(counter)}.db`)
    const file = Buffer.concat([readFileSync(path), existsSync(`${path}-wal`) ? readFileSync(`${path}-wal`) : Buffer.alloc(0)])
    expect(file.includes(Buffer.from(queued.command.commandId))).toBe(true) // the command is there, sealed
    for (const hex of Object.values(KEYS)) {
      expect(file.includes(Buffer.from(hex.toLowerCase()))).toBe(false)
      expect(file.includes(Buffer.from(hex, 'hex'))).toBe(false)
    }
  })

  it('GWA_NO_ENC_CERTIFICATE without a reported ENC certificate, for a serial the GWA did not issue, for an expired one; bad keys and unknown gateways first', async () => {
    const w = world()
    await w.ops.register({ id: 'smgw-0001' })
    await expect(w.ops.assignMeterKeys('smgw-0001', KEYS)).rejects.toMatchObject({ code: 'GWA_NO_ENC_CERTIFICATE', message: expect.stringContaining('renew first') })
    await w.sessions.report(peer('smgw-0001'), bytes(encReport('7f01')))
    await expect(w.ops.assignMeterKeys('smgw-0001', KEYS)).rejects.toMatchObject({ code: 'GWA_NO_ENC_CERTIFICATE', message: expect.stringContaining('7f01') })
    const der = pki.cert('gateways/smgw-0001/enc')
    await w.repo.saveIssuedCertificate({ gatewayId: 'smgw-0001', kind: 'enc', serial: '7f01', der, issuedAt: new Date() })
    await w.sessions.report(peer('smgw-0001'), bytes(encReport('7f01', '2020-01-01T00:00:00.000Z')))
    await expect(w.ops.assignMeterKeys('smgw-0001', KEYS)).rejects.toMatchObject({ code: 'GWA_NO_ENC_CERTIFICATE', message: expect.stringContaining('expired') })
    await expect(w.ops.assignMeterKeys('smgw-0404', KEYS)).rejects.toMatchObject({ code: 'GWA_GATEWAY_UNKNOWN' })
    await expect(w.ops.assignMeterKeys('smgw-0001', { 'wmbus-1': 'xyz' })).rejects.toMatchObject({ code: 'GWA_REQUEST_INVALID' })
    // Nothing was queued, no sequence spent.
    expect((await w.repo.getGateway('smgw-0001'))?.lastSequence).toBe(0)
    await w.repo.close()
  })

  it('key input: every problem named by key ID, never a key; hex is lower-cased', () => {
    const codeAndMessage = (input: unknown): string => {
      try {
        parseMeterKeys(input)
        return 'ok'
      } catch (err) {
        expect(err).toBeInstanceOf(GwaError)
        return `${(err as GwaError).code}: ${(err as GwaError).message}`
      }
    }
    expect(parseMeterKeys({ a: 'ABCDEF0123456789abcdef0123456789' })).toEqual([{ keyId: 'a', key: 'abcdef0123456789abcdef0123456789' }])
    for (const bad of [null, [], 'x', {}, Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`k${String(i)}`, '00'.repeat(16)]))]) expect(codeAndMessage(bad)).toMatch(/^GWA_REQUEST_INVALID/)
    const secret = '0123456789abcdef0123456789abcdeX'
    const message = codeAndMessage({ 'wmbus-1': secret, '.hidden': '00'.repeat(16), 'has space': '00'.repeat(16), pseudonym: '00'.repeat(16), ok: 5 })
    expect(message).toContain('"wmbus-1": the key is not 32 hex digits')
    expect(message).toContain('".hidden"')
    expect(message).toContain('"has space"')
    expect(message).toContain('"pseudonym": the gateway\'s own secret')
    expect(message).toContain('"ok"')
    expect(message).not.toContain(secret.slice(0, 16))
    // Arbitrary input: only GWA_REQUEST_INVALID or entries, and no key value in any message.
    fc.assert(fc.property(fc.dictionary(fc.string({ maxLength: 70 }), fc.oneof(fc.stringMatching(/^[0-9a-fA-F]{30,34}$/), fc.string(), fc.integer())), (input) => {
      const out = codeAndMessage(input)
      if (out === 'ok') return
      expect(out).toMatch(/^GWA_REQUEST_INVALID: /)
      for (const [keyId, value] of Object.entries(input)) {
        if (typeof value === 'string' && value.length >= 30 && !Object.keys(input).some((k) => k.includes(value))) expect(out.includes(value), `key of ${keyId} in the message`).toBe(false)
      }
    }), { numRuns: 300 })
  })
})

describe('consumer requests', () => {
  const anna = { id: 3, consumer: 'anna', kind: 'deletion' as const, state: 'received' as const, createdAt: '2026-11-29T10:00:00.000Z', text: 'Bitte meine Daten löschen' }
  const ben = { id: 4, consumer: 'ben', kind: 'tariff-choice' as const, state: 'pending' as const, createdAt: '2026-11-29T11:00:00.000Z', text: 'tariff-green' }

  it('from the report into the inventory; answered with answer-request; the answer shows once the result is ok; answered requests are kept', async () => {
    const w = world()
    await w.ops.register({ id: 'smgw-0001' })
    await w.ops.register({ id: 'smgw-0002' })
    await w.sessions.report(peer('smgw-0001'), bytes(report('smgw-0001', { requests: [anna, ben] })))
    await w.sessions.report(peer('smgw-0002'), bytes(report('smgw-0002', { requests: [{ ...anna, id: 1, consumer: 'carl' }] })))
    expect((await w.ops.requests({ open: true })).map((r) => [r.gatewayId, r.requestId, r.kind, r.state])).toEqual([
      ['smgw-0001', 3, 'deletion', 'received'], ['smgw-0001', 4, 'tariff-choice', 'pending'], ['smgw-0002', 1, 'deletion', 'received'],
    ])
    const q = await w.ops.answerRequest('smgw-0001', 3, { state: 'done', note: 'Ihre Daten sind gelöscht.' })
    const command = await openCommand(q.command.cms, verifier, new Date())
    expect(command).toMatchObject({ type: 'answer-request', requestId: 3, state: 'done', note: 'Ihre Daten sind gelöscht.' })
    // Queued, not yet confirmed: the request is unchanged.
    expect(await w.repo.getRequest('smgw-0001', 3)).toMatchObject({ state: 'received', answer: null })
    const answer = await w.sessions.report(peer('smgw-0001'), bytes(report('smgw-0001', { requests: [anna, ben] })))
    expect(answer.commands).toHaveLength(1)
    await w.sessions.results(peer('smgw-0001'), bytes({
      format: ADMIN_RESULTS_FORMAT, gatewayId: 'smgw-0001', results: [{ commandId: command.commandId, sequence: command.sequence, index: 0, ok: true, data: { requestId: 3, state: 'done' } }],
    }))
    expect(await w.repo.getRequest('smgw-0001', 3)).toMatchObject({ state: 'done', answer: { state: 'done', note: 'Ihre Daten sind gelöscht.', commandId: command.commandId } })
    // The next report no longer carries it: kept, done, not in the last report; no longer open.
    await w.sessions.report(peer('smgw-0001'), bytes(report('smgw-0001', { lastSequence: 1, requests: [ben] })))
    expect(await w.repo.getRequest('smgw-0001', 3)).toMatchObject({ state: 'done', inLastReport: false })
    expect((await w.ops.requests({ gatewayId: 'smgw-0001', open: true })).map((r) => r.requestId)).toEqual([4])
    await expect(w.ops.answerRequest('smgw-0001', 3, { state: 'rejected', note: 'x' })).rejects.toMatchObject({ code: 'GWA_REQUEST_INVALID', message: expect.stringContaining('done already') })
    await w.repo.close()
  })

  it('refused: an unknown request (GWA_NOT_FOUND), another gateway\'s request ID, a note with a line break, an unknown gateway; a failed answer changes nothing', async () => {
    const w = world()
    await w.ops.register({ id: 'smgw-0001' })
    await w.ops.register({ id: 'smgw-0002' })
    await w.sessions.report(peer('smgw-0002'), bytes(report('smgw-0002', { requests: [ben] })))
    await w.sessions.report(peer('smgw-0001'), bytes(report('smgw-0001', { requests: [anna] })))
    await expect(w.ops.answerRequest('smgw-0001', 99, { state: 'done', note: '' })).rejects.toMatchObject({ code: 'GWA_NOT_FOUND' })
    await expect(w.ops.answerRequest('smgw-0001', 4, { state: 'done', note: '' })).rejects.toMatchObject({ code: 'GWA_NOT_FOUND' })
    await expect(w.ops.answerRequest('smgw-0001', 3, { state: 'done', note: 'two\nlines' })).rejects.toMatchObject({ code: 'GWA_REQUEST_INVALID' })
    await expect(w.ops.answerRequest('smgw-0404', 3, { state: 'done', note: '' })).rejects.toMatchObject({ code: 'GWA_GATEWAY_UNKNOWN' })
    await expect(w.ops.requests({ gatewayId: 'smgw-0404' })).rejects.toMatchObject({ code: 'GWA_GATEWAY_UNKNOWN' })
    expect((await w.repo.getGateway('smgw-0001'))?.lastSequence).toBe(0)
    const q = await w.ops.answerRequest('smgw-0001', 3, { state: 'in-progress', note: 'Wir prüfen das.' })
    await w.sessions.report(peer('smgw-0001'), bytes(report('smgw-0001', { requests: [anna] })))
    await w.sessions.results(peer('smgw-0001'), bytes({
      format: ADMIN_RESULTS_FORMAT, gatewayId: 'smgw-0001',
      results: [{ commandId: q.command.commandId, sequence: q.command.sequence, index: 0, ok: false, error: { code: 'REQUEST_CLOSED', message: 'closed on the gateway' } }],
    }))
    expect(await w.repo.getRequest('smgw-0001', 3)).toMatchObject({ state: 'received', answer: null })
    expect(await w.repo.getCommand(q.command.commandId)).toMatchObject({ state: 'failed', result: { code: 'REQUEST_CLOSED' } })
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

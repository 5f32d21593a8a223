import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openSqlite } from '@smgw/sql'
import { shouldSkipPostgres, startTestPostgres, type TestPostgres } from '@smgw/sql/testing'
import { openPostgresRepository } from './postgres.js'
import { openSqliteRepository, SQLITE_MIGRATIONS } from './sqlite.js'
import { RESULT_LOST, type CertificateRecord, type GwaRepository, type ReportedRequestInput } from './types.js'

/* One suite, run against both implementations (the PostgreSQL one against a real server). */

const at = new Date('2026-11-30T06:00:00.000Z')
const later = (s: number) => new Date(at.getTime() + s * 1000)
let pgServer: TestPostgres | undefined
let dir = ''
let dbCounter = 0

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smgw-gwa-repo-'))
  if (!shouldSkipPostgres()) pgServer = await startTestPostgres()
})
afterAll(() => {
  pgServer?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const implementations: [string, () => Promise<GwaRepository>][] = [
  ['sqlite', () => Promise.resolve(openSqliteRepository(join(dir, `r${String(++dbCounter)}.db`)))],
  ['postgres', async () => {
    if (pgServer === undefined) throw new Error('no PostgreSQL server')
    return openPostgresRepository({ connectionString: pgServer.createDatabase(`gwa_${String(++dbCounter)}`) })
  }],
]

const operational: CertificateRecord[] = [
  { kind: 'gs', serial: '0a01', notAfter: new Date('2036-01-01T00:00:00.000Z'), source: 'initial' },
  { kind: 'tls', serial: '0b02', notAfter: new Date('2028-01-01T00:00:00.000Z'), source: 'operational' },
]

async function withRepo(open: () => Promise<GwaRepository>, f: (repo: GwaRepository) => Promise<void>): Promise<void> {
  const repo = await open()
  try {
    await f(repo)
  } finally {
    await repo.close()
  }
}

describe.each(implementations)('inventory (%s)', (name, open) => {
  const skip = name === 'postgres' && shouldSkipPostgres()
  const test = skip ? it.skip : it

  test('register, get, list, update; a second register is GWA_GATEWAY_EXISTS, unknown IDs GWA_GATEWAY_UNKNOWN', () => withRepo(open, async (repo) => {
    const g = await repo.registerGateway({ id: 'smgw-0002', wakeUpAddress: '127.0.0.1:4059', registeredAt: at })
    expect(g).toEqual({
      id: 'smgw-0002', note: null, state: 'registered', wakeUpAddress: '127.0.0.1:4059', tlsSubject: null, firmwareVersion: null, profileVersion: 0,
      lastSequence: 0, wakeUpCounter: 0, registeredAt: at, lastContactAt: null, lastReport: null, certificates: [],
    })
    await repo.registerGateway({ id: 'smgw-0001', note: 'Musterstraße 1', registeredAt: at })
    await expect(repo.registerGateway({ id: 'smgw-0001', registeredAt: at })).rejects.toMatchObject({ code: 'GWA_GATEWAY_EXISTS' })
    expect((await repo.listGateways()).map((x) => x.id)).toEqual(['smgw-0001', 'smgw-0002'])
    expect(await repo.getGateway('smgw-0009')).toBeUndefined()
    const updated = await repo.updateGateway('smgw-0001', { wakeUpAddress: '10.0.0.1:4059', state: 'revoked' })
    expect(updated).toMatchObject({ note: 'Musterstraße 1', wakeUpAddress: '10.0.0.1:4059', state: 'revoked' })
    expect(await repo.updateGateway('smgw-0001', { note: null })).toMatchObject({ note: null, wakeUpAddress: '10.0.0.1:4059' })
    expect(await repo.updateGateway('smgw-0001', { profileVersion: 7, firmwareVersion: '1.3.0' })).toMatchObject({ profileVersion: 7, firmwareVersion: '1.3.0', state: 'revoked', wakeUpAddress: '10.0.0.1:4059' })
    await expect(repo.updateGateway('smgw-0009', { note: 'x' })).rejects.toMatchObject({ code: 'GWA_GATEWAY_UNKNOWN' })
    await expect(repo.nextWakeUpCounter('smgw-0009')).rejects.toMatchObject({ code: 'GWA_GATEWAY_UNKNOWN' })
    await expect(repo.reserveCommand({ gatewayId: 'smgw-0009', commandId: 'c', type: 'read-log', createdAt: at })).rejects.toMatchObject({ code: 'GWA_GATEWAY_UNKNOWN' })
  }))

  test('contact: report, certificates (replaced), state initial → operational; revoked stays revoked', () => withRepo(open, async (repo) => {
    await repo.registerGateway({ id: 'smgw-0001', registeredAt: at })
    const report = { format: 'smgw-admin-report/1', gatewayId: 'smgw-0001', profileVersion: 0 }
    const first = await repo.recordContact({
      gatewayId: 'smgw-0001', at, tlsSubject: 'CN=smgw-0001,OU=Guetesiegel', report, firmwareVersion: '1.0.0', profileVersion: 0,
      certificates: [operational[0]!], lastExecutedSequence: 0,
    })
    expect(first).toMatchObject({ state: 'initial', lastContactAt: at, firmwareVersion: '1.0.0', tlsSubject: 'CN=smgw-0001,OU=Guetesiegel', lastReport: report })
    expect(first.certificates).toEqual([operational[0]])
    const second = await repo.recordContact({
      gatewayId: 'smgw-0001', at: later(60), tlsSubject: 'CN=smgw-0001', report, firmwareVersion: '1.1.0', profileVersion: 3, certificates: operational, lastExecutedSequence: 0,
    })
    expect(second).toMatchObject({ state: 'operational', profileVersion: 3, firmwareVersion: '1.1.0', lastContactAt: later(60) })
    expect(second.certificates).toEqual(operational)
    expect((await repo.listGateways())[0]?.certificates).toEqual(operational)
    await repo.updateGateway('smgw-0001', { state: 'revoked' })
    const third = await repo.recordContact({
      gatewayId: 'smgw-0001', at: later(120), tlsSubject: 'CN=smgw-0001', report, firmwareVersion: '1.1.0', profileVersion: 3, certificates: operational, lastExecutedSequence: 0,
    })
    expect(third.state).toBe('revoked')
    await expect(repo.recordContact({
      gatewayId: 'smgw-0404', at, tlsSubject: 'CN=x', report, firmwareVersion: '1', profileVersion: 0, certificates: [], lastExecutedSequence: 0,
    })).rejects.toMatchObject({ code: 'GWA_GATEWAY_UNKNOWN' })
  }))

  test('wake-up counter and command sequences increase per gateway and are persisted', () => withRepo(open, async (repo) => {
    await repo.registerGateway({ id: 'smgw-0001', registeredAt: at })
    await repo.registerGateway({ id: 'smgw-0002', registeredAt: at })
    expect(await repo.nextWakeUpCounter('smgw-0001')).toBe(1)
    expect(await repo.nextWakeUpCounter('smgw-0001')).toBe(2)
    expect(await repo.nextWakeUpCounter('smgw-0002')).toBe(1)
    const sequences = await Promise.all(Array.from({ length: 10 }, (_, i) => repo.reserveCommand({ gatewayId: 'smgw-0001', commandId: `c${String(i)}`, type: 'read-log', createdAt: at })))
    expect([...sequences].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(await repo.reserveCommand({ gatewayId: 'smgw-0002', commandId: 'd1', type: 'read-log', createdAt: at })).toBe(1)
    expect(await repo.getGateway('smgw-0001')).toMatchObject({ lastSequence: 10, wakeUpCounter: 2 })
    await expect(repo.reserveCommand({ gatewayId: 'smgw-0002', commandId: 'd1', type: 'read-log', createdAt: at })).rejects.toMatchObject({ code: 'GWA_STORAGE_FAILED' })
  }))

  test('queue: a reserved command holds back later ones; pending → sent → result; lost results; abandoned reservations', () => withRepo(open, async (repo) => {
    await repo.registerGateway({ id: 'smgw-0001', registeredAt: at })
    const s1 = await repo.reserveCommand({ gatewayId: 'smgw-0001', commandId: 'a', type: 'profile', createdAt: at })
    const s2 = await repo.reserveCommand({ gatewayId: 'smgw-0001', commandId: 'b', type: 'read-log', createdAt: at })
    await repo.fillCommand('smgw-0001', s2, new Uint8Array([2, 2]))
    expect(await repo.pendingCommands('smgw-0001', 0)).toEqual([])
    await repo.fillCommand('smgw-0001', s1, new Uint8Array([1, 1]))
    await expect(repo.fillCommand('smgw-0001', s1, new Uint8Array([9]))).rejects.toMatchObject({ code: 'GWA_CONFLICT' })
    const pending = await repo.pendingCommands('smgw-0001', 0)
    expect(pending.map((c) => [c.sequence, c.commandId, c.state, [...c.cms]])).toEqual([[1, 'a', 'queued', [1, 1]], [2, 'b', 'queued', [2, 2]]])
    await repo.markSent('smgw-0001', [1, 2], later(1))
    expect((await repo.pendingCommands('smgw-0001', 0)).map((c) => [c.sequence, c.state, c.sentAt])).toEqual([[1, 'sent', later(1)], [2, 'sent', later(1)]])
    expect((await repo.pendingCommands('smgw-0001', 1)).map((c) => c.sequence)).toEqual([2])
    const done = await repo.recordResult({ gatewayId: 'smgw-0001', commandId: 'a', sequence: 1, ok: true, result: { version: 1, sha256: 'ab' }, at: later(2) })
    expect(done).toMatchObject({ state: 'done', result: { version: 1, sha256: 'ab' }, doneAt: later(2), type: 'profile' })
    expect(await repo.recordResult({ gatewayId: 'smgw-0001', commandId: 'b', sequence: 1, ok: true, result: {}, at })).toBeUndefined()
    expect(await repo.recordResult({ gatewayId: 'smgw-0002', commandId: 'b', sequence: 2, ok: true, result: {}, at })).toBeUndefined()
    // The gateway reports lastSequence 2 but the result of 2 never came: given up as RESULT_LOST.
    await repo.recordContact({ gatewayId: 'smgw-0001', at: later(3), tlsSubject: 'CN=smgw-0001', report: {}, firmwareVersion: '1', profileVersion: 1, certificates: [], lastExecutedSequence: 2 })
    expect(await repo.getCommand('b')).toMatchObject({ state: 'failed', result: RESULT_LOST, doneAt: later(3) })
    expect(await repo.getCommand('a')).toMatchObject({ state: 'done' })
    // A late result still counts.
    expect(await repo.recordResult({ gatewayId: 'smgw-0001', commandId: 'b', sequence: 2, ok: false, result: { code: 'FORBIDDEN', message: 'x' }, at: later(4) })).toMatchObject({ state: 'failed', result: { code: 'FORBIDDEN' } })
    const s3 = await repo.reserveCommand({ gatewayId: 'smgw-0001', commandId: 'c', type: 'firmware', createdAt: at })
    const s4 = await repo.reserveCommand({ gatewayId: 'smgw-0001', commandId: 'd', type: 'read-log', createdAt: at })
    await repo.fillCommand('smgw-0001', s4, new Uint8Array([4]))
    await repo.abandonCommand('smgw-0001', s3, { code: 'SIGN_FAILED' }, later(5))
    expect((await repo.pendingCommands('smgw-0001', 2)).map((c) => c.commandId)).toEqual(['d'])
    expect((await repo.listCommands({ gatewayId: 'smgw-0001' })).map((c) => [c.sequence, c.state])).toEqual([[1, 'done'], [2, 'failed'], [3, 'failed'], [4, 'queued']])
    expect((await repo.listCommands({ state: 'queued' })).map((c) => c.commandId)).toEqual(['d'])
    expect(await repo.listCommands({ limit: 1 })).toHaveLength(1)
    expect(await repo.getCommand('zzz')).toBeUndefined()
  }))

  test('profile versions are kept; a second save of a version is GWA_CONFLICT', () => withRepo(open, async (repo) => {
    await repo.registerGateway({ id: 'smgw-0001', registeredAt: at })
    await repo.saveProfileVersion({ gatewayId: 'smgw-0001', version: 1, commandId: 'p1', content: { time: { servers: ['ntp'] } }, createdAt: at })
    await repo.saveProfileVersion({ gatewayId: 'smgw-0001', version: 2, commandId: 'p2', content: { meters: [] }, createdAt: later(1) })
    await expect(repo.saveProfileVersion({ gatewayId: 'smgw-0001', version: 2, commandId: 'p3', content: {}, createdAt: at })).rejects.toMatchObject({ code: 'GWA_CONFLICT' })
    await expect(repo.saveProfileVersion({ gatewayId: 'smgw-0404', version: 1, commandId: 'p4', content: {}, createdAt: at })).rejects.toMatchObject({ code: 'GWA_GATEWAY_UNKNOWN' })
    await repo.setProfileState('smgw-0001', 1, 'applied', 'cafe')
    await repo.setProfileState('smgw-0001', 2, 'failed', null)
    expect(await repo.listProfileVersions('smgw-0001')).toEqual([
      { gatewayId: 'smgw-0001', version: 1, commandId: 'p1', state: 'applied', content: { time: { servers: ['ntp'] } }, sha256: 'cafe', createdAt: at },
      { gatewayId: 'smgw-0001', version: 2, commandId: 'p2', state: 'failed', content: { meters: [] }, sha256: null, createdAt: later(1) },
    ])
  }))

  test('log exports and firmware packages keep their bytes exactly', () => withRepo(open, async (repo) => {
    await repo.registerGateway({ id: 'smgw-0001', registeredAt: at })
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff)
    const saved = await repo.saveLogExport({ gatewayId: 'smgw-0001', commandId: 'l1', receivedAt: at, export: bytes, sha256: 'ff' })
    expect(saved).toMatchObject({ gatewayId: 'smgw-0001', commandId: 'l1', bytes: 70_000, sha256: 'ff', receivedAt: at })
    expect(await repo.listLogExports('smgw-0001')).toEqual([saved])
    const got = await repo.getLogExport(saved.id)
    expect(got?.record).toEqual(saved)
    expect(Buffer.from(got?.export ?? []).equals(Buffer.from(bytes))).toBe(true)
    expect(await repo.getLogExport(saved.id + 100)).toBeUndefined()
    const record = { version: '1.3.0', name: 'smgw', imageSha256: 'aa', size: 3, addedAt: at }
    await repo.saveFirmwarePackage(record, new Uint8Array([7, 8, 9]))
    await repo.saveFirmwarePackage({ ...record, version: '1.4.0', addedAt: later(1) }, new Uint8Array([1]))
    await repo.saveFirmwarePackage({ ...record, imageSha256: 'bb' }, new Uint8Array([7, 8, 10]))
    expect((await repo.listFirmwarePackages()).map((f) => [f.version, f.imageSha256])).toEqual([['1.3.0', 'bb'], ['1.4.0', 'aa']])
    expect([...(await repo.getFirmwarePackage('1.3.0'))?.file ?? []]).toEqual([7, 8, 10])
    expect(await repo.getFirmwarePackage('9.9.9')).toBeUndefined()
  }))

  test('issued certificates are kept byte for byte by gateway, kind and serial; a second record is ignored', () => withRepo(open, async (repo) => {
    await repo.registerGateway({ id: 'smgw-0001', registeredAt: at })
    await repo.registerGateway({ id: 'smgw-0002', registeredAt: at })
    const der = new Uint8Array(600).map((_, i) => (i * 13) & 0xff)
    await repo.saveIssuedCertificate({ gatewayId: 'smgw-0001', kind: 'enc', serial: '1a2b', der, issuedAt: at })
    await repo.saveIssuedCertificate({ gatewayId: 'smgw-0001', kind: 'enc', serial: '1a2b', der: new Uint8Array([1]), issuedAt: later(5) })
    await repo.saveIssuedCertificate({ gatewayId: 'smgw-0001', kind: 'sig', serial: '1a2b', der: new Uint8Array([2]), issuedAt: at })
    const got = await repo.getIssuedCertificate('smgw-0001', 'enc', '1a2b')
    expect(got).toMatchObject({ gatewayId: 'smgw-0001', kind: 'enc', serial: '1a2b', issuedAt: at })
    expect(Buffer.from(got?.der ?? []).equals(Buffer.from(der))).toBe(true)
    expect([...(await repo.getIssuedCertificate('smgw-0001', 'sig', '1a2b'))?.der ?? []]).toEqual([2])
    expect(await repo.getIssuedCertificate('smgw-0002', 'enc', '1a2b')).toBeUndefined()
    expect(await repo.getIssuedCertificate('smgw-0001', 'tls', '1a2b')).toBeUndefined()
    await expect(repo.saveIssuedCertificate({ gatewayId: 'smgw-0404', kind: 'enc', serial: '01', der, issuedAt: at })).rejects.toMatchObject({ code: 'GWA_GATEWAY_UNKNOWN' })
  }))

  test('consumer requests: upserted from reports, kept with their last state when they leave, answered; open and fleet-wide lists', () => withRepo(open, async (repo) => {
    await repo.registerGateway({ id: 'smgw-0001', registeredAt: at })
    await repo.registerGateway({ id: 'smgw-0002', registeredAt: at })
    const contact = (gatewayId: string, s: number, requests?: ReportedRequestInput[]) => repo.recordContact({
      gatewayId, at: later(s), tlsSubject: `CN=${gatewayId}`, report: {}, firmwareVersion: '1.0.0', profileVersion: 0, certificates: [], lastExecutedSequence: 0,
      ...(requests === undefined ? {} : { requests }),
    })
    const r1: ReportedRequestInput = { id: 1, consumer: 'anna', kind: 'deletion', state: 'received', createdAt: later(-60), text: 'Bitte löschen' }
    const r2: ReportedRequestInput = { id: 2, consumer: 'ben', kind: 'tariff-choice', state: 'pending', createdAt: later(-30), text: 'tariff-green' }
    await contact('smgw-0001', 1, [r1, r2])
    await contact('smgw-0002', 1, [{ ...r1, consumer: 'carl', text: 'x' }])
    expect(await repo.getRequest('smgw-0001', 1)).toEqual({
      gatewayId: 'smgw-0001', requestId: 1, consumer: 'anna', kind: 'deletion', state: 'received', createdAt: later(-60), text: 'Bitte löschen',
      firstReportedAt: later(1), lastReportedAt: later(1), inLastReport: true, answer: null,
    })
    // The next report: request 1 moved on, request 2 is gone (kept, last state pending).
    await contact('smgw-0001', 10, [{ ...r1, state: 'in-progress' }])
    expect(await repo.getRequest('smgw-0001', 1)).toMatchObject({ state: 'in-progress', firstReportedAt: later(1), lastReportedAt: later(10), inLastReport: true })
    expect(await repo.getRequest('smgw-0001', 2)).toMatchObject({ state: 'pending', lastReportedAt: later(1), inLastReport: false })
    // A report without `requests` (no HAN service) leaves them as they are.
    await contact('smgw-0001', 20)
    expect(await repo.getRequest('smgw-0001', 1)).toMatchObject({ state: 'in-progress', inLastReport: true })
    const answered = await repo.recordRequestAnswer('smgw-0001', 1, { state: 'done', note: 'Gelöscht.', commandId: 'c-1', at: later(30) })
    expect(answered).toMatchObject({ state: 'done', answer: { state: 'done', note: 'Gelöscht.', commandId: 'c-1', at: later(30) } })
    expect(await repo.recordRequestAnswer('smgw-0001', 9, { state: 'done', note: '', commandId: 'c-2', at })).toBeUndefined()
    expect(await repo.getRequest('smgw-0001', 9)).toBeUndefined()
    // Answered and no longer reported: it stays done with its answer.
    await contact('smgw-0001', 40, [])
    expect(await repo.getRequest('smgw-0001', 1)).toMatchObject({ state: 'done', inLastReport: false, answer: { note: 'Gelöscht.' } })
    expect((await repo.listRequests({})).map((r) => [r.gatewayId, r.requestId, r.state])).toEqual([['smgw-0001', 1, 'done'], ['smgw-0001', 2, 'pending'], ['smgw-0002', 1, 'received']])
    expect((await repo.listRequests({ open: true })).map((r) => [r.gatewayId, r.requestId])).toEqual([['smgw-0001', 2], ['smgw-0002', 1]])
    expect((await repo.listRequests({ gatewayId: 'smgw-0001', open: true })).map((r) => r.requestId)).toEqual([2])
    expect(await repo.listRequests({ limit: 1 })).toHaveLength(1)
    // A report that repeats a request ID: its last entry counts.
    await contact('smgw-0002', 50, [{ ...r2, text: 'first' }, { ...r2, text: 'second' }])
    expect(await repo.getRequest('smgw-0002', 2)).toMatchObject({ text: 'second', inLastReport: true })
    expect(await repo.getRequest('smgw-0002', 1)).toMatchObject({ inLastReport: false })
  }))

  test('a closed inventory refuses with GWA_STORAGE_FAILED; close is idempotent', async () => {
    const repo = await open()
    await repo.close()
    await repo.close()
    await expect(repo.listGateways()).rejects.toMatchObject({ code: 'GWA_STORAGE_FAILED' })
  })
})

describe('inventory migration', () => {
  it('a schema-1 SQLite inventory gains the issued-certificate and request tables and keeps its gateways', async () => {
    const path = join(dir, 'v1.db')
    const v1 = openSqlite(path, { applicationId: 0x534d4741, kind: 'a GWA inventory', migrations: SQLITE_MIGRATIONS.slice(0, 1), refuse: (m) => new Error(m) })
    v1.prepare('INSERT INTO gateways (id, state, registered_ms) VALUES (?, ?, ?)').run('smgw-0001', 'registered', at.getTime())
    v1.close()
    const repo = openSqliteRepository(path)
    try {
      expect((await repo.getGateway('smgw-0001'))?.state).toBe('registered')
      await repo.saveIssuedCertificate({ gatewayId: 'smgw-0001', kind: 'enc', serial: '01', der: new Uint8Array([1]), issuedAt: at })
      expect(await repo.listRequests({})).toEqual([])
    } finally {
      await repo.close()
    }
  })
})

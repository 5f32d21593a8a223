import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { createTestClock } from '../testing.js'
import { MIGRATIONS, type Migration } from './migrations.js'
import { STORE_APPLICATION_ID, openStore } from './store.js'
import { codeOf, useStoreFile } from './testing.js'
import type { ReadingInput } from './types.js'

const file = useStoreFile('smgw-store-')
const clock = createTestClock('2026-11-30T10:00:00.000Z')
const deps = { now: clock.now }

function reading(i: number, extra: Partial<ReadingInput> = {}): ReadingInput {
  return { meterId: '1EMH0012345678', quantity: '1-0:1.8.0*255', time: new Date(Date.UTC(2026, 10, 30, 9, 0, i)), mantissa: BigInt(i) * 1000n + 7n, scaler: -1, unit: 'Wh', status: 0x182n, ...extra }
}

describe('openStore', () => {
  it('creates the schema in WAL mode with synchronous FULL, marked as a gateway store', () => {
    const store = openStore(file.path, deps)
    expect(store.schemaVersion).toBe(MIGRATIONS.length)
    store.close()
    const db = new Database(file.path, { readonly: true })
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length)
    expect(db.pragma('application_id', { simple: true })).toBe(STORE_APPLICATION_ID)
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all()
    expect(tables).toEqual(['admin_state', 'certificates', 'config_versions', 'han_accounts', 'han_consents', 'han_requests', 'han_sessions', 'han_tokens', 'interval_values', 'log_entries', 'log_heads', 'outbox', 'readings', 'taf_watermarks'])
    expect(db.pragma('secure_delete', { simple: true })).toBe(0) // per connection: ours sets it, this one does not
    db.close()
    const again = openStore(file.path, deps)
    // synchronous is per connection: FULL (2) on ours.
    expect(again.integrityCheck()).toEqual(['ok'])
    again.close()
  })

  it('applies a new migration on reopen and leaves applied ones alone', () => {
    openStore(file.path, deps).close()
    const extra: Migration[] = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'meters', sql: 'CREATE TABLE meters (id TEXT PRIMARY KEY)' }]
    const store = openStore(file.path, deps, { migrations: extra })
    expect(store.schemaVersion).toBe(MIGRATIONS.length + 1)
    store.close()
    const db = new Database(file.path, { readonly: true })
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'meters'").pluck().get()).toBe(1)
    db.close()
  })

  it('STORE_MIGRATION_FAILED: a failing migration is rolled back completely', () => {
    openStore(file.path, deps).close()
    const next = MIGRATIONS.length + 1
    const broken: Migration[] = [...MIGRATIONS, { version: next, name: 'broken', sql: 'CREATE TABLE half (a); INSERT INTO no_such_table VALUES (1);' }]
    expect(codeOf(() => openStore(file.path, deps, { migrations: broken }))).toBe('STORE_MIGRATION_FAILED')
    const db = new Database(file.path, { readonly: true })
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length)
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get()).toBe(0)
    db.close()
    expect(codeOf(() => openStore(file.path, deps, { migrations: [{ version: 2, name: 'gap', sql: '' }] }))).toBe('STORE_MIGRATION_FAILED')
  })

  it('STORE_SCHEMA_TOO_NEW: a file from a newer gateway is not touched', () => {
    openStore(file.path, deps, { migrations: [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'future', sql: 'CREATE TABLE future (a)' }] }).close()
    expect(codeOf(() => openStore(file.path, deps))).toBe('STORE_SCHEMA_TOO_NEW')
  })

  it('STORE_OPEN_FAILED: not SQLite, a foreign SQLite file, a missing file read-only, an unopenable file.path', async () => {
    await writeFile(file.path, 'these are not the bytes of a database, but long enough to look like a header at first sight...')
    expect(codeOf(() => openStore(file.path, deps))).toBe('STORE_OPEN_FAILED')
    const foreign = join(file.dir, 'foreign.db')
    const db = new Database(foreign)
    db.exec('CREATE TABLE t (a); PRAGMA user_version = 1')
    db.close()
    expect(codeOf(() => openStore(foreign, deps))).toBe('STORE_OPEN_FAILED')
    expect(codeOf(() => openStore(join(file.dir, 'missing.db'), deps, { readonly: true }))).toBe('STORE_OPEN_FAILED')
    expect(codeOf(() => openStore(join(file.dir, 'no', 'such', 'dir.db'), deps))).toBe('STORE_OPEN_FAILED')
    const empty = join(file.dir, 'empty.db')
    new Database(empty).close()
    expect(codeOf(() => openStore(empty, deps, { readonly: true }))).toBe('STORE_OPEN_FAILED')
  })

  it('STORE_CLOSED after close; close is idempotent', () => {
    const store = openStore(file.path, deps)
    store.close()
    store.close()
    expect(codeOf(() => store.appendReadings([reading(1)]))).toBe('STORE_CLOSED')
    expect(codeOf(() => store.readReadings())).toBe('STORE_CLOSED')
  })
})

describe('readings', () => {
  it('stores values exactly: beyond 64 bits, negative, with scaler, unit and status word', () => {
    const store = openStore(file.path, deps)
    const big = 2n ** 64n + 5n
    const batch = [reading(1), reading(2, { mantissa: big, status: 2n ** 64n - 1n }), reading(3, { mantissa: -(2n ** 63n), scaler: 3 }), reading(4, { unit: undefined, status: undefined })]
    const r = store.appendReadings(batch)
    expect(r).toEqual({ count: 4, firstId: 1, lastId: 4 })
    const back = store.readReadings()
    expect(back.map((x) => x.mantissa)).toEqual([1007n, big, -(2n ** 63n), 4007n])
    expect(back[1]?.status).toBe(2n ** 64n - 1n)
    expect(back[2]?.scaler).toBe(3)
    expect(back[3]).not.toHaveProperty('unit')
    expect(back[3]).not.toHaveProperty('status')
    expect(back[0]).toMatchObject({ id: 1, meterId: '1EMH0012345678', quantity: '1-0:1.8.0*255', unit: 'Wh', status: 0x182n, time: batch[0]!.time, receivedAt: clock.now() })
    store.close()
    // The file holds the large value as decimal text, not a rounded REAL.
    const db = new Database(file.path, { readonly: true })
    expect(db.prepare('SELECT typeof(mantissa) || \':\' || mantissa FROM readings WHERE id = 2').pluck().get()).toBe(`text:${big}`)
    db.close()
  })

  it('queries by meter, quantity and time range, and pages by id', () => {
    const store = openStore(file.path, deps)
    store.appendReadings([reading(1), reading(2, { quantity: '1-0:2.8.0*255' }), reading(3, { meterId: 'OTHER' }), reading(4), reading(5)])
    expect(store.readReadings({ meterId: '1EMH0012345678', quantity: '1-0:1.8.0*255' }).map((r) => r.id)).toEqual([1, 4, 5])
    expect(store.readReadings({ from: reading(2).time, to: reading(4).time }).map((r) => r.id)).toEqual([2, 3])
    expect(store.readReadings({ afterId: 3, limit: 1 }).map((r) => r.id)).toEqual([4])
    expect(store.countReadings()).toBe(5)
    store.close()
  })

  it('STORE_INPUT_INVALID: one bad reading and nothing of the batch is written', () => {
    const store = openStore(file.path, deps)
    const bad: unknown[] = [
      { ...reading(2), meterId: '' }, { ...reading(2), quantity: 'a b' }, { ...reading(2), mantissa: 5 }, { ...reading(2), scaler: 1.5 },
      { ...reading(2), scaler: 200 }, { ...reading(2), time: new Date(Number.NaN) }, { ...reading(2), status: -1n }, { ...reading(2), unit: '' },
    ]
    for (const b of bad) expect(codeOf(() => store.appendReadings([reading(1), b as ReadingInput]))).toBe('STORE_INPUT_INVALID')
    expect(store.countReadings()).toBe(0)
    store.close()
  })

  it('STORE_WRITE_FAILED: a failure inside the transaction rolls back the whole batch', () => {
    const store = openStore(file.path, deps)
    store.appendReadings([reading(1)])
    // Another connection adds a trigger that aborts on one meter, as a disk error would mid-batch.
    const db = new Database(file.path)
    db.exec("CREATE TRIGGER boom BEFORE INSERT ON readings WHEN NEW.meter_id = 'BOOM' BEGIN SELECT RAISE(ABORT, 'boom'); END")
    db.close()
    expect(codeOf(() => store.appendReadings([reading(2), reading(3), reading(4, { meterId: 'BOOM' })]))).toBe('STORE_WRITE_FAILED')
    expect(store.countReadings()).toBe(1)
    expect(store.appendReadings([reading(5)]).firstId).toBe(2)
    store.close()
  })

  it('a read-only store reads and refuses writes', () => {
    const w = openStore(file.path, deps)
    w.appendReadings([reading(1)])
    w.close()
    const r = openStore(file.path, deps, { readonly: true })
    expect(r.readReadings()).toHaveLength(1)
    expect(codeOf(() => r.appendReadings([reading(2)]))).toBe('STORE_WRITE_FAILED')
    r.close()
  })
})

describe('interval values, outbox, config versions', () => {
  it('puts interval values, replacing the same interval', () => {
    const store = openStore(file.path, deps)
    const v = { meterId: 'M1', quantity: '1-0:1.8.0*255', periodSeconds: 900, end: new Date('2026-11-30T09:15:00Z'), mantissa: 12n, scaler: 0, unit: 'Wh', status: 0 }
    store.putIntervalValues([v, { ...v, end: new Date('2026-11-30T09:30:00Z'), mantissa: 20n }])
    store.putIntervalValues([{ ...v, mantissa: 13n, status: 4 }])
    expect(store.readIntervalValues({ meterId: 'M1' }).map((x) => [x.end.toISOString(), x.mantissa, x.status])).toEqual([
      ['2026-11-30T09:15:00.000Z', 13n, 4], ['2026-11-30T09:30:00.000Z', 20n, 0],
    ])
    expect(codeOf(() => store.putIntervalValues([{ ...v, periodSeconds: 0 }]))).toBe('STORE_INPUT_INVALID')
    store.close()
  })

  it('queues outbox items and returns the due ones', () => {
    const store = openStore(file.path, deps)
    const a = store.enqueueOutbox({ recipient: 'EMT-1', purpose: 'taf7', payload: new Uint8Array([1, 2, 3]) })
    store.enqueueOutbox({ recipient: 'EMT-2', purpose: 'taf1', payload: new Uint8Array([4]), notBefore: new Date('2026-12-01T00:00:00Z') })
    expect(store.dueOutbox(clock.now()).map((i) => [i.id, i.recipient, [...i.payload], i.state, i.attempts])).toEqual([[a, 'EMT-1', [1, 2, 3], 'pending', 0]])
    store.updateOutbox(a, { state: 'pending', attempts: 1, nextAttempt: new Date('2026-11-30T10:05:00Z'), lastError: 'connection refused' })
    expect(store.dueOutbox(clock.now())).toEqual([])
    expect(store.dueOutbox(new Date('2026-12-02T00:00:00Z')).map((i) => [i.id, i.attempts, i.lastError])).toEqual([[a, 1, 'connection refused'], [a + 1, 0, undefined]])
    expect(codeOf(() => { store.updateOutbox(999, { state: 'failed', attempts: 1, nextAttempt: clock.now() }) })).toBe('STORE_INPUT_INVALID')
    expect(codeOf(() => store.enqueueOutbox({ recipient: '', purpose: 'x', payload: new Uint8Array() }))).toBe('STORE_INPUT_INVALID')
    store.close()
  })

  it('keeps configuration versions as canonical JSON, a new version only on change', () => {
    const store = openStore(file.path, deps)
    const v1 = store.saveConfigVersion({ meters: [{ id: 'M1' }], identity: 'gw' })
    expect(v1.version).toBe(1)
    expect(v1.config).toBe('{"identity":"gw","meters":[{"id":"M1"}]}')
    expect(store.saveConfigVersion({ identity: 'gw', meters: [{ id: 'M1' }] }).version).toBe(1)
    expect(store.saveConfigVersion({ identity: 'gw2' }).version).toBe(2)
    expect(store.latestConfigVersion()?.config).toBe('{"identity":"gw2"}')
    expect(codeOf(() => store.saveConfigVersion({ x: 10n }))).toBe('STORE_INPUT_INVALID')
    store.close()
  })

  it('keeps administration state by key across a reopen; bad keys and values are refused and change nothing', () => {
    const store = openStore(file.path, deps)
    expect(store.getAdminState('wakeup.counter')).toBeUndefined()
    store.setAdminState('wakeup.counter', '17')
    store.setAdminState('wakeup.counter', '18')
    store.setAdminState('config.active', '3')
    expect(codeOf(() => { store.setAdminState('', 'x') })).toBe('STORE_INPUT_INVALID')
    expect(codeOf(() => { store.setAdminState('with space', 'x') })).toBe('STORE_INPUT_INVALID')
    expect(codeOf(() => { store.setAdminState('big', 'x'.repeat(65_537)) })).toBe('STORE_INPUT_INVALID')
    expect(codeOf(() => store.getAdminState('x'.repeat(65)))).toBe('STORE_INPUT_INVALID')
    store.close()
    expect(codeOf(() => store.getAdminState('config.active'))).toBe('STORE_CLOSED')
    const again = openStore(file.path, deps)
    expect([again.getAdminState('wakeup.counter'), again.getAdminState('config.active'), again.getAdminState('big')]).toEqual(['18', '3', undefined])
    again.close()
    const ro = openStore(file.path, deps, { readonly: true })
    expect(ro.getAdminState('config.active')).toBe('3')
    expect(codeOf(() => { ro.setAdminState('config.active', '4') })).toBe('STORE_WRITE_FAILED')
    ro.close()
  })
})

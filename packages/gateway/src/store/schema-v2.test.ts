import Database from 'better-sqlite3'
import fc from 'fast-check'
import { beforeEach, describe, expect, it } from 'vitest'
import { createTestClock } from '../testing.js'
import { MIGRATIONS } from './migrations.js'
import { STORE_APPLICATION_ID, openStore } from './store.js'
import { codeOf, useStoreFile } from './testing.js'
import type { ExpiryCutoffs, IntervalValueInput, OutboxInput, ReadingInput } from './types.js'

const file = useStoreFile('smgw-store-v2-')
const clock = createTestClock('2026-11-30T10:00:00.000Z')
const deps = { now: clock.now }

beforeEach(() => { clock.set('2026-11-30T10:00:00.000Z') })

const payload = new Uint8Array([1, 2, 3])
const item = (extra: Partial<OutboxInput> = {}): OutboxInput => ({ recipient: 'EMT-1', purpose: 'taf7', payload, ...extra })
const value = (end: string, extra: Partial<IntervalValueInput> = {}): IntervalValueInput => ({
  meterId: 'M1', quantity: '1-0:1.8.0*255', periodSeconds: 900, end: new Date(end), mantissa: 12n, scaler: 0, unit: 'Wh', status: 0, ...extra,
})
const reading = (time: string, extra: Partial<ReadingInput> = {}): ReadingInput => ({
  meterId: 'M1', quantity: '1-0:1.8.0*255', time: new Date(time), mantissa: 1n, scaler: 0, unit: 'Wh', ...extra,
})

describe('migration 1 → 2 → 3', () => {
  it('migrates a version-1 file with data, keeping every row, and the old rows read with the new fields undefined', () => {
    // A file exactly as the version-1 gateway wrote it: migration 1 only, by hand.
    const db = new Database(file.path)
    db.pragma('journal_mode = WAL')
    db.exec(MIGRATIONS[0]!.sql)
    db.pragma(`application_id = ${STORE_APPLICATION_ID}`)
    db.pragma('user_version = 1')
    db.prepare('INSERT INTO readings (meter_id, quantity, time_ms, mantissa, scaler, unit, status, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run('M1', '1-0:1.8.0*255', 1_700_000_000_000, 42, -1, 'Wh', null, 1_700_000_000_500)
    db.prepare("INSERT INTO outbox (recipient, purpose, payload, state, attempts, next_attempt_ms, created_ms) VALUES ('EMT-1', 'taf7', x'0102', 'delivered', 1, 5, 7)").run()
    db.prepare("INSERT INTO outbox (recipient, purpose, payload, state, attempts, next_attempt_ms, created_ms) VALUES ('EMT-1', 'taf7', x'03', 'pending', 0, 5, 8)").run()
    db.close()

    const store = openStore(file.path, deps)
    expect(store.schemaVersion).toBe(MIGRATIONS.length)
    expect(store.readReadings()).toMatchObject([{ id: 1, meterId: 'M1', mantissa: 42n, scaler: -1 }])
    const old = store.readOutbox()
    expect(old.map((o) => [o.id, o.state, o.messageId, o.deliveredAt])).toEqual([[1, 'delivered', undefined, undefined], [2, 'pending', undefined, undefined]])
    // Old rows without message ID do not collide with each other or with new ones.
    const id = store.enqueueOutbox(item({ messageId: 'msg-1' }))
    expect(store.readOutbox({ afterId: 2 })[0]?.messageId).toBe('msg-1')
    expect(id).toBe(3)
    expect(store.tafWatermark('taf7-M1')).toBeUndefined()
    expect(store.integrityCheck()).toEqual(['ok'])
    store.close()
    const check = new Database(file.path, { readonly: true })
    expect(check.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length)
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'outbox_%' ORDER BY name").pluck().all()).toEqual(['outbox_due', 'outbox_message_id'])
    // Version 3: readings are indexed by time first (ingest touches the index tail only).
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'readings' ORDER BY name").pluck().all()).toEqual(['readings_by_time_meter'])
    check.close()
  })

  it('a store opened at version 1 only (migrations option) refuses the version-2 calls', () => {
    const store = openStore(file.path, deps, { migrations: [MIGRATIONS[0]!] })
    expect(store.schemaVersion).toBe(1)
    expect(codeOf(() => store.enqueueOutbox(item()))).toBe('STORE_WRITE_FAILED')
    store.close()
    // …and the next normal open migrates it.
    const again = openStore(file.path, deps)
    expect(again.schemaVersion).toBe(MIGRATIONS.length)
    again.close()
  })
})

describe('outbox message IDs and delivery time', () => {
  it('keeps the message ID, refuses duplicates and bad IDs, records the delivery time', () => {
    const store = openStore(file.path, deps)
    const a = store.enqueueOutbox(item({ messageId: 'urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e' }))
    expect(codeOf(() => store.enqueueOutbox(item({ messageId: 'urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e' })))).toBe('STORE_INPUT_INVALID')
    for (const bad of ['', 'x'.repeat(129), 'tab\there', 'ümlaut']) expect(codeOf(() => store.enqueueOutbox(item({ messageId: bad })))).toBe('STORE_INPUT_INVALID')
    expect(store.enqueueOutbox(item({ messageId: 'm'.repeat(128) }))).toBe(a + 1)
    expect(store.readOutbox()).toHaveLength(2)

    clock.advance(60_000)
    store.updateOutbox(a, { state: 'delivered', attempts: 1, nextAttempt: clock.now() })
    const [delivered] = store.readOutbox({ state: 'delivered' })
    expect(delivered?.deliveredAt).toEqual(new Date('2026-11-30T10:01:00.000Z'))
    // Back to pending (a receipt withdrawn): the delivery time goes with it.
    store.updateOutbox(a, { state: 'pending', attempts: 2, nextAttempt: clock.now() })
    expect(store.readOutbox({ state: 'pending' })[0]?.deliveredAt).toBeUndefined()
    expect(store.dueOutbox(clock.now()).map((o) => o.messageId)).toEqual(['m'.repeat(128), 'urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e'])
    store.close()
  })
})

describe('TAF watermarks and commitTafRun', () => {
  it('commits interval values, outbox items and the watermark together', () => {
    const store = openStore(file.path, deps)
    const r = store.commitTafRun({
      profile: 'taf7-M1', until: new Date('2026-11-30T09:30:00Z'),
      intervalValues: [value('2026-11-30T09:15:00Z'), value('2026-11-30T09:30:00Z', { mantissa: 20n })],
      outbox: [item({ messageId: 'a' }), item({ messageId: 'b', recipient: 'EMT-2' })],
    })
    expect(r.outboxIds).toEqual([1, 2])
    expect(store.tafWatermark('taf7-M1')).toEqual(new Date('2026-11-30T09:30:00Z'))
    expect(store.readIntervalValues({ meterId: 'M1' }).map((v) => v.mantissa)).toEqual([12n, 20n])
    expect(store.readOutbox().map((o) => [o.messageId, o.recipient])).toEqual([['a', 'EMT-1'], ['b', 'EMT-2']])
    // Same instant again is fine (a run with nothing new); a run without items moves the watermark only.
    expect(store.commitTafRun({ profile: 'taf7-M1', until: new Date('2026-11-30T09:30:00Z') }).outboxIds).toEqual([])
    store.commitTafRun({ profile: 'taf7-M1', until: new Date('2026-11-30T09:45:00Z') })
    store.commitTafRun({ profile: 'taf6-M1', until: new Date('2026-11-30T00:00:00Z') })
    expect(store.tafWatermarks()).toEqual(new Map([['taf6-M1', new Date('2026-11-30T00:00:00Z')], ['taf7-M1', new Date('2026-11-30T09:45:00Z')]]))
    store.close()
  })

  it('STORE_INPUT_INVALID and nothing written: watermark going back, duplicate message ID, bad value or item', () => {
    const store = openStore(file.path, deps)
    store.commitTafRun({ profile: 'p', until: new Date('2026-11-30T09:30:00Z'), outbox: [item({ messageId: 'taken' })] })
    const attempts = [
      { profile: 'p', until: new Date('2026-11-30T09:15:00Z'), intervalValues: [value('2026-11-30T09:15:00Z')], outbox: [item({ messageId: 'x1' })] },
      { profile: 'p', until: new Date('2026-11-30T10:00:00Z'), intervalValues: [value('2026-11-30T09:45:00Z')], outbox: [item({ messageId: 'x2' }), item({ messageId: 'taken' })] },
      { profile: 'p', until: new Date('2026-11-30T10:00:00Z'), intervalValues: [value('2026-11-30T09:45:00Z')], outbox: [item({ messageId: 'dup' }), item({ messageId: 'dup' })] },
      { profile: 'p', until: new Date('2026-11-30T10:00:00Z'), intervalValues: [value('2026-11-30T09:45:00Z', { periodSeconds: 0 })] },
      { profile: 'p', until: new Date('2026-11-30T10:00:00Z'), outbox: [item({ recipient: '' })] },
      { profile: '', until: new Date('2026-11-30T10:00:00Z') },
      { profile: 'p', until: new Date(Number.NaN) },
    ]
    for (const run of attempts) expect(codeOf(() => store.commitTafRun(run))).toBe('STORE_INPUT_INVALID')
    expect(store.tafWatermark('p')).toEqual(new Date('2026-11-30T09:30:00Z'))
    expect(store.readIntervalValues({})).toEqual([])
    expect(store.readOutbox().map((o) => o.messageId)).toEqual(['taken'])
    expect(codeOf(() => store.tafWatermark('has space'))).toBe('STORE_INPUT_INVALID')
    store.close()
  })

  it('property: the watermark is the maximum of the accepted runs and never moves back', () => {
    const store = openStore(file.path, deps)
    let n = 0
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 20 }), (times) => {
      const profile = `prop-${n++}`
      let high: number | undefined
      for (const t of times) {
        const code = codeOf(() => store.commitTafRun({ profile, until: new Date(t) }))
        if (high !== undefined && t < high) expect(code).toBe('STORE_INPUT_INVALID')
        else {
          expect(code).toBe('no error')
          high = t
        }
        expect(store.tafWatermark(profile)?.getTime()).toBe(high)
      }
    }), { numRuns: 50 })
    store.close()
  })
})

describe('readings validation cache', () => {
  it('applies the same rules to strings it has seen and to new ones', () => {
    const store = openStore(file.path, deps)
    store.appendReadings([reading('2026-11-30T09:00:00Z')])
    // Known meter and quantity: the other fields are still checked on every reading.
    for (const bad of [{ mantissa: 1 }, { scaler: 128 }, { scaler: 0.5 }, { time: new Date(Number.NaN) }, { status: -1n }, { unit: '' }, { unit: 'x'.repeat(17) }, { meterId: 'a b' }, { quantity: 5 }]) {
      expect(codeOf(() => store.appendReadings([reading('2026-11-30T09:00:00Z'), { ...reading('2026-11-30T09:00:00Z'), ...bad } as ReadingInput]))).toBe('STORE_INPUT_INVALID')
    }
    expect(store.countReadings()).toBe(1)
    store.close()
  })

  it('property: many distinct meter IDs (beyond the cache bound) are each checked', () => {
    const store = openStore(file.path, deps)
    const ids = Array.from({ length: 5000 }, (_, i) => `M${i}`)
    expect(store.appendReadings(ids.map((meterId) => reading('2026-11-30T09:00:00Z', { meterId }))).count).toBe(5000)
    fc.assert(fc.property(fc.string({ maxLength: 70 }), (meterId) => {
      const valid = /^[\x21-\x7e]{1,64}$/.test(meterId)
      expect(codeOf(() => store.appendReadings([reading('2026-11-30T09:00:00Z', { meterId })]))).toBe(valid ? 'no error' : 'STORE_INPUT_INVALID')
    }), { numRuns: 300 })
    store.close()
  })
})

describe('deleteExpired', () => {
  const cutoffs = (at: string, extra: Partial<ExpiryCutoffs> = {}): ExpiryCutoffs => ({ readings: new Date(at), intervalValues: new Date(at), deliveredOutbox: new Date(at), ...extra })

  it('deletes readings and interval values before the cutoffs and counts them per meter', () => {
    const store = openStore(file.path, deps)
    store.appendReadings([
      reading('2026-11-01T00:00:00Z'), reading('2026-11-02T00:00:00Z'), reading('2026-11-01T00:00:00Z', { meterId: 'M2' }),
      reading('2026-11-20T00:00:00Z'), reading('2026-11-20T00:00:00Z', { meterId: 'M2' }),
    ])
    store.putIntervalValues([
      value('2026-11-01T00:15:00Z'), value('2026-11-20T00:15:00Z'), value('2026-11-01T00:00:00Z', { periodSeconds: 86_400 }),
      value('2026-11-10T00:00:00Z', { periodSeconds: 86_400, meterId: 'M2' }),
    ])
    const plan = cutoffs('2026-11-15T00:00:00Z', { intervalValuesByPeriod: new Map([[86_400, new Date('2026-11-05T00:00:00Z')]]) })
    const r = store.deleteExpired(plan)
    expect(r).toEqual({ readings: new Map([['M1', 2], ['M2', 1]]), intervalValues: new Map([['M1', 2]]), outbox: 0, compacted: true })
    expect(store.readReadings().map((x) => [x.meterId, x.time.toISOString()])).toEqual([['M1', '2026-11-20T00:00:00.000Z'], ['M2', '2026-11-20T00:00:00.000Z']])
    expect(store.readIntervalValues({}).map((x) => [x.meterId, x.periodSeconds, x.end.toISOString()])).toEqual([
      ['M1', 900, '2026-11-20T00:15:00.000Z'], ['M2', 86_400, '2026-11-10T00:00:00.000Z'],
    ])
    // Nothing left to delete: no compaction.
    expect(store.deleteExpired(plan)).toEqual({ readings: new Map(), intervalValues: new Map(), outbox: 0, compacted: false })
    store.close()
  })

  it('keeps readings and interval values at or after keepFrom (not yet processed by a tariff profile)', () => {
    const store = openStore(file.path, deps)
    store.appendReadings([reading('2026-11-01T00:00:00Z'), reading('2026-11-05T00:00:00Z'), reading('2026-11-10T00:00:00Z')])
    store.putIntervalValues([value('2026-11-01T00:15:00Z'), value('2026-11-05T00:00:00Z')])
    const r = store.deleteExpired(cutoffs('2026-11-15T00:00:00Z'), { keepFrom: new Date('2026-11-05T00:00:00Z') })
    expect(r.readings).toEqual(new Map([['M1', 1]]))
    expect(r.intervalValues).toEqual(new Map([['M1', 1]]))
    expect(store.readReadings().map((x) => x.time.toISOString())).toEqual(['2026-11-05T00:00:00.000Z', '2026-11-10T00:00:00.000Z'])
    expect(store.readIntervalValues({}).map((x) => x.end.toISOString())).toEqual(['2026-11-05T00:00:00.000Z'])
    store.close()
  })

  it('deletes delivered outbox items only, by delivery time, with per-purpose cutoffs', () => {
    const store = openStore(file.path, deps)
    clock.set('2026-11-01T00:00:00Z')
    const ids = ['taf7', 'taf7', 'taf9', 'taf14', 'taf7', 'taf7'].map((purpose, i) => store.enqueueOutbox(item({ purpose, messageId: `m${i}` })))
    clock.set('2026-11-02T00:00:00Z')
    store.updateOutbox(ids[0]!, { state: 'delivered', attempts: 1, nextAttempt: clock.now() })
    store.updateOutbox(ids[2]!, { state: 'delivered', attempts: 1, nextAttempt: clock.now() })
    store.updateOutbox(ids[4]!, { state: 'failed', attempts: 9, nextAttempt: clock.now() })
    clock.set('2026-11-29T00:00:00Z')
    store.updateOutbox(ids[1]!, { state: 'delivered', attempts: 1, nextAttempt: clock.now() })
    store.updateOutbox(ids[3]!, { state: 'delivered', attempts: 1, nextAttempt: clock.now() })
    const now = new Date('2026-11-30T00:00:00Z')
    const r = store.deleteExpired(cutoffs('2026-01-01T00:00:00Z', {
      deliveredOutbox: new Date('2026-11-23T00:00:00Z'),
      deliveredOutboxByPurpose: new Map([['taf9', now], ['taf14', now]]),
    }))
    expect(r.outbox).toBe(3) // ids[0] (delivered 28 days ago), ids[2] and ids[3] (grid status, delivered)
    expect(store.readOutbox().map((o) => [o.messageId, o.state])).toEqual([['m1', 'delivered'], ['m4', 'failed'], ['m5', 'pending']])
    // Pending and failed items survive any cutoff.
    store.deleteExpired(cutoffs('2100-01-01T00:00:00Z'))
    expect(store.readOutbox().map((o) => o.state)).toEqual(['failed', 'pending'])
    store.close()
  })

  it('a reader on another connection blocks the WAL reset: compacted false, the delete stands, the next call compacts', () => {
    const store = openStore(file.path, deps)
    store.appendReadings([reading('2026-11-01T00:00:00Z'), reading('2026-11-20T00:00:00Z')])
    const other = new Database(file.path, { readonly: true })
    other.exec('BEGIN')
    expect(other.prepare('SELECT count(*) FROM readings').pluck().get()).toBe(2)
    const first = store.deleteExpired(cutoffs('2026-11-15T00:00:00Z'))
    expect(first.readings).toEqual(new Map([['M1', 1]]))
    expect(first.compacted).toBe(false)
    expect(store.countReadings()).toBe(1)
    other.exec('COMMIT')
    other.close()
    expect(store.deleteExpired(cutoffs('2026-11-15T00:00:00Z'))).toEqual({ readings: new Map(), intervalValues: new Map(), outbox: 0, compacted: true })
    expect(store.deleteExpired(cutoffs('2026-11-15T00:00:00Z')).compacted).toBe(false)
    store.close()
  })

  it('STORE_INPUT_INVALID for invalid cutoffs, nothing deleted', () => {
    const store = openStore(file.path, deps)
    store.appendReadings([reading('2026-11-01T00:00:00Z')])
    expect(codeOf(() => store.deleteExpired(cutoffs('2026-11-15T00:00:00Z', { intervalValues: new Date(Number.NaN) })))).toBe('STORE_INPUT_INVALID')
    expect(codeOf(() => store.deleteExpired(cutoffs('2026-11-15T00:00:00Z'), { keepFrom: new Date(Number.NaN) }))).toBe('STORE_INPUT_INVALID')
    expect(codeOf(() => store.deleteExpired(cutoffs('2026-11-15T00:00:00Z', { intervalValuesByPeriod: new Map([[0, new Date()]]) })))).toBe('STORE_INPUT_INVALID')
    expect(store.countReadings()).toBe(1)
    store.close()
  })
})

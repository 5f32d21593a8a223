import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createGatewayLogs } from '../log/writer.js'
import { openStore } from '../store/store.js'
import type { ReadingInput, Store } from '../store/types.js'
import { createTempDir, createTestClock, createTestSig, type TestSig } from '../testing.js'
import { DEFAULT_RETENTION } from './policy.js'
import { createRetentionService, type RetentionServiceConfig } from './service.js'

let sig: TestSig
let tmp: { dir: string; remove: () => Promise<void> }
let path: string
let store: Store
const clock = createTestClock('2026-11-30T10:00:00.000Z')

beforeAll(async () => { sig = await createTestSig(new Date('2026-01-01T00:00:00Z')) })
beforeEach(async () => {
  clock.set('2026-11-30T10:00:00.000Z')
  tmp = await createTempDir('smgw-retention-')
  path = join(tmp.dir, 'gateway.db')
  store = openStore(path, { now: clock.now })
})
afterEach(async () => {
  store.close()
  await tmp.remove()
})

/** A timer the test fires by hand. */
function createManualTimers(): { setTimer: (ms: number, fn: () => void) => () => void; pending: () => { ms: number; fn: () => void }[]; fire: () => void } {
  const timers = new Set<{ ms: number; fn: () => void }>()
  return {
    setTimer: (ms, fn) => {
      const t = { ms, fn }
      timers.add(t)
      return () => { timers.delete(t) }
    },
    pending: () => [...timers],
    fire: () => {
      const [t] = timers
      if (t === undefined) throw new Error('no timer pending')
      timers.delete(t)
      t.fn()
    },
  }
}

function setup(config: Partial<RetentionServiceConfig> = {}) {
  const logs = createGatewayLogs({ store, signer: sig.signer, certificate: sig.certificate, now: clock.now })
  const timers = createManualTimers()
  const service = createRetentionService(
    { policy: DEFAULT_RETENTION, consumers: new Map([['M1', 'c-1']]), profiles: [], ...config },
    { store, logs, now: clock.now, setTimer: timers.setTimer },
  )
  return { service, timers }
}

const readings = (meterId: string, count: number, from: string, extra: Partial<ReadingInput> = {}): ReadingInput[] =>
  Array.from({ length: count }, (_, i) => ({ meterId, quantity: '1-0:1.8.0*255', time: new Date(Date.parse(from) + i * 60_000), mantissa: BigInt(i), scaler: 0, unit: 'Wh', ...extra }))

const entries = (log: 'system' | 'consumer', stream: string) =>
  store.logRows.entries(log, stream).map((r) => ({ type: String(r.type), fields: JSON.parse(String(r.fields)) as Record<string, unknown> }))

describe('createRetentionService', () => {
  it('deletes expired readings at start and tells the consumer in plain words; counts only in the system log', async () => {
    store.appendReadings(readings('M1', 1234, '2024-06-01T00:00:00Z'))
    store.appendReadings(readings('M2', 3, '2024-06-01T00:00:00Z'))
    store.appendReadings(readings('M1', 2, '2026-11-29T00:00:00Z'))
    const { service } = setup()
    await service.start()
    expect(store.readReadings().map((r) => r.time.toISOString())).toEqual(['2026-11-29T00:00:00.000Z', '2026-11-29T00:01:00.000Z'])
    expect(entries('consumer', 'c-1')).toEqual([{
      type: 'data-deleted',
      fields: { dataClass: 'meter-readings', count: 1234, text: '1,234 readings of meter M1 from before 30 Nov 2024 deleted (kept 24 months)' },
    }])
    // M2 has no consumer: nobody to tell. The system log gets counts, never a meter ID.
    expect(entries('system', '')).toEqual([{ type: 'retention-run', fields: { readings: 1237, intervalValues: 0, outbox: 0 } }])
    await service.close()
  })

  it('reports deleted interval values per meter, with both periods in the text', async () => {
    store.putIntervalValues([
      { meterId: 'M1', quantity: '1-0:1.8.0*255', periodSeconds: 86_400, end: new Date('2026-10-01T22:00:00Z'), mantissa: 1n, scaler: 0, status: 0 },
      { meterId: 'M1', quantity: '1-0:1.8.0*255', periodSeconds: 900, end: new Date('2024-10-01T22:00:00Z'), mantissa: 1n, scaler: 0, status: 0 },
      { meterId: 'M1', quantity: '1-0:1.8.0*255', periodSeconds: 900, end: new Date('2026-10-01T22:00:00Z'), mantissa: 1n, scaler: 0, status: 0 },
    ])
    const { service } = setup()
    const report = await service.runOnce()
    expect(report.deleted.intervalValues).toEqual(new Map([['M1', 2]]))
    expect(entries('consumer', 'c-1')).toEqual([{
      type: 'data-deleted',
      fields: { dataClass: 'interval-values', count: 2, text: '2 interval values of meter M1 deleted: daily values from before 19 Oct 2026 (kept 42 days), other values from before 30 Nov 2024 (kept 24 months)' },
    }])
    expect(store.readIntervalValues({}).map((v) => v.end.toISOString())).toEqual(['2026-10-01T22:00:00.000Z'])
  })

  it('never deletes outbox items waiting for delivery; deletes grid-status items right after delivery', async () => {
    clock.set('2025-01-01T00:00:00Z')
    const pending = store.enqueueOutbox({ recipient: 'EMT-1', purpose: 'taf7', payload: new Uint8Array([1]) })
    const failed = store.enqueueOutbox({ recipient: 'EMT-1', purpose: 'taf7', payload: new Uint8Array([2]) })
    store.updateOutbox(failed, { state: 'failed', attempts: 20, nextAttempt: clock.now() })
    clock.set('2026-11-30T09:00:00Z')
    const grid = store.enqueueOutbox({ recipient: 'VNB-1', purpose: 'taf10', payload: new Uint8Array([3]) })
    const gridPending = store.enqueueOutbox({ recipient: 'VNB-1', purpose: 'taf14', payload: new Uint8Array([4]) })
    const billing = store.enqueueOutbox({ recipient: 'EMT-1', purpose: 'taf7', payload: new Uint8Array([5]) })
    store.updateOutbox(grid, { state: 'delivered', attempts: 1, nextAttempt: clock.now() })
    store.updateOutbox(billing, { state: 'delivered', attempts: 1, nextAttempt: clock.now() })
    clock.set('2026-11-30T10:00:00Z')
    const { service } = setup()
    const report = await service.runOnce()
    expect(report.deleted.outbox).toBe(1)
    expect(store.readOutbox().map((o) => o.id)).toEqual([pending, failed, gridPending, billing])
    // A week later the delivered billing item goes too; the waiting ones stay.
    clock.set('2026-12-08T10:00:00Z')
    await service.runOnce()
    expect(store.readOutbox().map((o) => o.id)).toEqual([pending, failed, gridPending])
    expect(entries('consumer', 'c-1')).toEqual([])
    expect(entries('system', '').map((e) => e.fields)).toEqual([{ readings: 0, intervalValues: 0, outbox: 1 }, { readings: 0, intervalValues: 0, outbox: 1 }])
  })

  it('keeps readings and interval values a configured tariff profile has not processed yet', async () => {
    store.appendReadings(readings('M1', 3, '2024-01-01T00:00:00Z'))
    store.appendReadings(readings('M1', 2, '2024-03-01T00:00:00Z'))
    store.putIntervalValues([{ meterId: 'M1', quantity: 'q', periodSeconds: 900, end: new Date('2024-02-01T00:00:00Z'), mantissa: 1n, scaler: 0, status: 0 }])
    const { service } = setup({ profiles: ['taf7-M1', 'taf1-M1'] })
    // taf1-M1 never ran: everything is kept.
    expect((await service.runOnce()).deleted.readings).toEqual(new Map())
    expect(store.countReadings()).toBe(5)
    store.commitTafRun({ profile: 'taf7-M1', until: new Date('2024-12-31T00:00:00Z') })
    store.commitTafRun({ profile: 'taf1-M1', until: new Date('2024-02-01T00:00:00Z') })
    const report = await service.runOnce()
    expect(report.keepFrom).toEqual(new Date('2024-02-01T00:00:00Z'))
    expect(report.deleted.readings).toEqual(new Map([['M1', 3]]))
    expect(store.readIntervalValues({})).toHaveLength(1) // ends at the watermark: not before it
    expect(entries('consumer', 'c-1')[0]?.fields.text).toBe('3 readings of meter M1 from before 1 Feb 2024 deleted (kept 24 months)')
    store.commitTafRun({ profile: 'taf1-M1', until: new Date('2024-12-31T00:00:00Z') })
    expect((await service.runOnce()).deleted.readings).toEqual(new Map([['M1', 2]]))
    expect(store.readIntervalValues({})).toHaveLength(0)
  })

  it('runs at start and then every runEveryS on the injected timer; close cancels; start and close are idempotent', async () => {
    const { service, timers } = setup({ policy: { ...DEFAULT_RETENTION, runEveryS: 3600 } })
    await service.start()
    await service.start()
    expect(timers.pending().map((t) => t.ms)).toEqual([3_600_000])
    store.appendReadings(readings('M1', 1, '2026-11-30T09:00:00Z'))
    // Three years pass in the test clock: the reading is beyond every period now.
    clock.set('2029-12-01T10:00:00Z')
    timers.fire()
    // The run is asynchronous (log writes); the next one is scheduled when it finished.
    await vi.waitFor(() => { expect(timers.pending()).toHaveLength(1) }, { timeout: 5000 })
    expect(store.countReadings()).toBe(0)
    await service.close()
    expect(timers.pending()).toEqual([])
    await service.close()
  })

  it('a failing run is logged, not thrown, and the schedule goes on', async () => {
    const { service, timers } = setup()
    store.close() // every store call now fails with STORE_CLOSED
    await service.start()
    expect(timers.pending()).toHaveLength(1)
    await expect(service.runOnce()).rejects.toMatchObject({ code: 'STORE_CLOSED' })
    await service.close()
  })
})

describe('deleted data are gone from the file', () => {
  it('the marker of deleted readings is absent from the .sqlite file and its WAL; a kept marker is present', async () => {
    const gone = 'MARKER-GONE-7f3a91'
    const goneMantissa = 31415926535897932384626433832795n // beyond 64 bits: stored as its decimal text
    const kept = 'MARKER-KEPT-c41e07'
    const keptMantissa = 27182818284590452353602874713526n
    // Enough rows to fill pages, interleaved with other meters' rows on the same pages.
    for (let i = 0; i < 20; i++) {
      store.appendReadings([
        ...readings(gone, 20, '2024-01-01T00:00:00Z', { mantissa: goneMantissa }),
        ...readings('M1', 20, '2024-01-01T00:00:00Z'),
        ...readings(kept, 5, '2026-11-29T00:00:00Z', { mantissa: keptMantissa }),
      ])
    }
    const fileBytes = async (): Promise<Buffer> => Buffer.concat([await readFile(path), await readFile(`${path}-wal`).catch(() => Buffer.alloc(0))])
    const before = await fileBytes()
    expect(before.includes(gone)).toBe(true)
    expect(before.includes(goneMantissa.toString())).toBe(true)

    const { service } = setup({ consumers: new Map() })
    const report = await service.runOnce()
    expect(report.deleted.readings).toEqual(new Map([[gone, 400], ['M1', 400]]))
    expect(report.deleted.compacted).toBe(true)
    const after = await fileBytes()
    expect(after.includes(gone)).toBe(false)
    expect(after.includes(goneMantissa.toString())).toBe(false)
    expect(after.includes(kept)).toBe(true)
    expect(after.includes(keptMantissa.toString())).toBe(true)
    // The store is still usable and sound.
    expect(store.integrityCheck()).toEqual(['ok'])
    expect(store.countReadings()).toBe(100)
  })
})

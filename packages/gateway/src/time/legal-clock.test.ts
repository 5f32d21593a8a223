import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../errors.js'
import { readLogChain, verifyStoreLogs } from '../log/verify.js'
import { createGatewayLogs } from '../log/writer.js'
import { openStore } from '../store/store.js'
import type { Store } from '../store/types.js'
import { createTempDir, createTestClock, createTestSig, type TestSig } from '../testing.js'
import { createLegalClock, type LegalClockConfig, type SntpSample, type TimeServer } from './legal-clock.js'

const HOUR = 3_600_000
const SERVER: TimeServer = { host: 'ntp.test', port: 123 }

let tmp: { dir: string; remove: () => Promise<void> }
let sig: TestSig
beforeAll(async () => {
  tmp = await createTempDir('smgw-time-')
  sig = await createTestSig()
})
afterAll(async () => { await tmp.remove() })

/**
 * A world with a system clock the test moves and a time server whose clock runs
 * `serverAheadMs` ahead of it; one exchange takes 10 ms each way.
 */
function createWorld(name: string, config: LegalClockConfig = {}) {
  const system = createTestClock('2026-05-01T08:00:00Z')
  let serverAheadMs = 0
  let failNext: Error | undefined
  let queries = 0
  const store: Store = openStore(join(tmp.dir, `${name}.db`), { now: system.now })
  // The log writer stamps entries with the clock's legal time (as the gateway does).
  let legal = system.now
  const logs = createGatewayLogs({ store, signer: sig.signer, certificate: sig.certificate, now: () => legal() })
  const query = (server: TimeServer): Promise<SntpSample> => {
    expect(server).toEqual(SERVER)
    queries++
    if (failNext !== undefined) {
      const err = failNext
      failNext = undefined
      return Promise.reject(err)
    }
    const t1 = system.now().getTime()
    return Promise.resolve({ t1, t2: t1 + 10 + serverAheadMs, t3: t1 + 10 + serverAheadMs, t4: t1 + 20 })
  }
  const clock = createLegalClock({ server: SERVER, ...config }, { systemNow: system.now, query, calibration: (e) => logs.calibration(e) })
  legal = () => clock.now()
  const entries = () => readLogChain(store, 'calibration', '').entries.map((e) => `${String(e.type)} ${String(e.fields)}`)
  return {
    system, clock, store, entries,
    queries: () => queries,
    serverAhead: (ms: number) => { serverAheadMs = ms },
    failNext: (err: Error) => { failNext = err },
  }
}

describe('createLegalClock', () => {
  it('synchronised → 30 s drift → restricted → resync within tolerance → synchronised; entries in order, chain verifies', async () => {
    const w = createWorld('drift')
    const { clock, system } = w
    const created = system.now()
    expect(clock.status()).toMatchObject({ state: 'unsynchronised', offsetMs: 0, toleranceMs: 27_000 })
    expect(clock.timeValidAt(created)).toBe(false) // rule 1: unsynchronised counts as invalid

    w.serverAhead(1200)
    expect(await clock.sync()).toMatchObject({ ok: true, source: 'ntp', offsetMs: 1200, delayMs: 20, state: 'synchronised' })
    expect(clock.now().getTime() - system.now().getTime()).toBe(1200)
    const firstSync = clock.now()
    expect(clock.timeValidAt(new Date(firstSync.getTime() - 1))).toBe(false)
    expect(clock.timeValidAt(firstSync)).toBe(true)

    system.advance(HOUR)
    w.serverAhead(1700)
    expect(await clock.sync()).toMatchObject({ ok: true, offsetMs: 500, state: 'synchronised' })
    const lastGood = clock.now()

    system.advance(HOUR)
    w.serverAhead(1700 + 30_000) // the system clock lost 30 s
    expect(await clock.sync()).toMatchObject({ ok: true, offsetMs: 30_000, state: 'restricted' })
    expect(clock.status()).toMatchObject({ state: 'restricted', offsetMs: 31_700, lastResidualMs: 30_000 })
    // Rule 4: values since the last good sync are untrusted; before it they stay valid.
    expect(clock.timeValidAt(new Date(lastGood.getTime() - 1))).toBe(true)
    expect(clock.timeValidAt(lastGood)).toBe(false)
    expect(clock.timeValidAt(new Date(lastGood.getTime() + HOUR / 2))).toBe(false)
    expect(clock.timeValidAt(clock.now())).toBe(false)

    system.advance(HOUR)
    w.serverAhead(31_700 + 100)
    expect(await clock.sync()).toMatchObject({ ok: true, offsetMs: 100, state: 'synchronised' })
    const back = clock.now()
    expect(clock.timeValidAt(new Date(back.getTime() - 1))).toBe(false)
    expect(clock.timeValidAt(back)).toBe(true)
    expect(clock.invalidPeriods()).toEqual([
      { from: created, to: firstSync, reason: 'unsynchronised' },
      { from: lastGood, to: back, reason: 'drift' },
    ])

    expect(w.entries()).toEqual([
      'time-synchronised {"offsetMs":1200,"source":"ntp"}',
      'time-synchronised {"offsetMs":500,"source":"ntp"}',
      'time-drift-exceeded {"limitMs":27000,"offsetMs":30000}',
      'restricted-state {"entered":true}',
      'time-synchronised {"offsetMs":30000,"source":"ntp"}',
      'time-synchronised {"offsetMs":100,"source":"ntp"}',
      'restricted-state {"entered":false}',
    ])
    expect(verifyStoreLogs(w.store).ok).toBe(true)
    w.store.close()
  })

  it('a first sync that steps the clock back still covers every value stamped before it', async () => {
    const w = createWorld('step-back')
    const { clock, system } = w
    system.advance(10 * 60_000)
    const lastUnsynced = clock.now() // stamped on the system clock (offset 0)
    w.serverAhead(-10 * 60_000) // legal time is 10 min behind the system clock
    expect(await clock.sync()).toMatchObject({ ok: true, state: 'synchronised' })
    // After the step legal time is earlier than that value's stamp; the value is still time-invalid.
    expect(clock.now().getTime()).toBeLessThan(lastUnsynced.getTime())
    expect(clock.timeValidAt(lastUnsynced)).toBe(false)
    expect(clock.invalidPeriods()[0]!.to!.getTime()).toBeGreaterThanOrEqual(lastUnsynced.getTime())
    system.advance(11 * 60_000)
    expect(clock.timeValidAt(clock.now())).toBe(true)
    w.store.close()
  })

  it('a drift of exactly the tolerance is tolerated, one millisecond more is not; the tolerance follows the registration period', async () => {
    const w = createWorld('edge', { registrationPeriodS: 60 }) // 3 % of 60 s = 1800 ms
    w.serverAhead(0)
    await w.clock.sync()
    w.serverAhead(-1800)
    expect(await w.clock.sync()).toMatchObject({ offsetMs: -1800, state: 'synchronised' })
    w.serverAhead(-1800 - 1801)
    expect(await w.clock.sync()).toMatchObject({ offsetMs: -1801, state: 'restricted' })
    expect(w.entries()[2]).toBe('time-drift-exceeded {"limitMs":1800,"offsetMs":-1801}')
    w.store.close()
  })

  it('no successful sync for so long that 100 ppm could exceed 27 s (75 h) → restricted; failures change nothing else', async () => {
    const w = createWorld('holdover')
    const { clock, system } = w
    await clock.sync()
    const synced = clock.now().getTime()
    system.advance(74 * HOUR)
    w.failNext(new GatewayError('TIME_QUERY_TIMEOUT', 'no answer'))
    expect(await clock.sync()).toMatchObject({ ok: false, state: 'synchronised' })
    expect(clock.status().uncertaintyMs).toBeCloseTo(10 + 74 * 360, 6) // delay/2 + 100 ppm × 74 h
    system.advance(2 * HOUR)
    w.failNext(new GatewayError('TIME_QUERY_TIMEOUT', 'no answer'))
    const failed = await clock.sync()
    expect(failed).toMatchObject({ ok: false, state: 'restricted' })
    expect(failed.ok ? undefined : (failed.error as GatewayError).code).toBe('TIME_QUERY_TIMEOUT')
    // The period starts where the bound crossed 27 s: (27 000 − 10) ms / 100 ppm after the sync.
    const limit = synced + (27_000 - 10) / 1e-4
    expect(clock.invalidPeriods().at(-1)).toEqual({ from: new Date(limit), reason: 'holdover' })
    expect(clock.timeValidAt(new Date(limit - 1))).toBe(true)
    expect(clock.timeValidAt(new Date(limit))).toBe(false)
    expect(await clock.check()).toBe('restricted') // idempotent: no second entry
    system.advance(HOUR)
    w.serverAhead(20)
    expect(await clock.sync()).toMatchObject({ ok: true, state: 'synchronised' })
    expect(w.entries()).toEqual([
      'time-synchronised {"offsetMs":0,"source":"ntp"}',
      'time-drift-exceeded {"limitMs":27000,"offsetMs":27370}',
      'restricted-state {"entered":true}',
      'time-synchronised {"offsetMs":20,"source":"ntp"}',
      'restricted-state {"entered":false}',
    ])
    expect(verifyStoreLogs(w.store).ok).toBe(true)
    w.store.close()
  })

  it('records a holdover limit crossed before the next sync arrives, even without check()', async () => {
    const w = createWorld('late')
    await w.clock.sync()
    w.system.advance(80 * HOUR)
    expect(w.clock.timeValidAt(w.clock.now())).toBe(false) // known without a check
    w.serverAhead(5)
    expect(await w.clock.sync()).toMatchObject({ ok: true, state: 'synchronised' })
    expect(w.entries().map((e) => e.split(' ')[0])).toEqual(['time-synchronised', 'time-drift-exceeded', 'restricted-state', 'time-synchronised', 'restricted-state'])
    w.store.close()
  })

  it('the administrator sets the time (source admin) under the same rules', async () => {
    const w = createWorld('admin')
    const { clock, system } = w
    expect(await clock.setTime(new Date('2026-05-01T08:00:03Z'))).toMatchObject({ ok: true, source: 'admin', offsetMs: 3000, state: 'synchronised' })
    system.advance(HOUR)
    expect(await clock.setTime(new Date(clock.now().getTime() - 40_000))).toMatchObject({ source: 'admin', offsetMs: -40_000, state: 'restricted' })
    expect(clock.status()).toMatchObject({ state: 'restricted', offsetMs: -37_000, lastSource: 'admin' })
    expect(w.entries()).toEqual([
      'time-synchronised {"offsetMs":3000,"source":"admin"}',
      'time-drift-exceeded {"limitMs":27000,"offsetMs":-40000}',
      'restricted-state {"entered":true}',
      'time-synchronised {"offsetMs":-40000,"source":"admin"}',
    ])
    w.store.close()
  })

  it('concurrent sync() calls share one query; without a server sync fails with TIME_QUERY_FAILED', async () => {
    const w = createWorld('shared')
    const [a, b] = await Promise.all([w.clock.sync(), w.clock.sync()])
    expect(a).toBe(b)
    expect(w.queries()).toBe(1)
    const lonely = createLegalClock({}, { systemNow: w.system.now })
    const r = await lonely.sync()
    expect(r.ok ? undefined : (r.error as GatewayError).code).toBe('TIME_QUERY_FAILED')
    w.store.close()
  })

  it('keeps at most maxPeriods periods and calls what it forgot invalid; a failing calibration log does not stop the clock', async () => {
    const system = createTestClock('2026-05-01T08:00:00Z')
    let ahead = 0
    const clock = createLegalClock({ maxPeriods: 3, server: SERVER }, {
      systemNow: system.now,
      query: () => {
        const t1 = system.now().getTime()
        return Promise.resolve({ t1, t2: t1 + ahead, t3: t1 + ahead, t4: t1 })
      },
      calibration: () => Promise.reject(new Error('disk full')),
    })
    const start = clock.now()
    await clock.sync()
    const goodTimes: number[] = []
    for (let i = 0; i < 5; i++) {
      system.advance(HOUR)
      ahead += 60_000
      await clock.sync() // drift → restricted
      system.advance(HOUR)
      goodTimes.push(clock.now().getTime() + HOUR / 2)
      await clock.sync() // back
    }
    expect(clock.invalidPeriods()).toHaveLength(3)
    expect(clock.invalidPeriods().every((p) => p.reason === 'drift')).toBe(true)
    expect(clock.timeValidAt(start)).toBe(false)
    expect(clock.timeValidAt(new Date(goodTimes[0]!))).toBe(false) // forgotten: not assured
    expect(clock.timeValidAt(new Date(goodTimes[4]!))).toBe(true)
    expect(clock.status().state).toBe('synchronised')
  })

  it('drops periods older than retainDays', async () => {
    const system = createTestClock('2026-05-01T08:00:00Z')
    const clock = createLegalClock({ retainDays: 1 }, { systemNow: system.now })
    await clock.setTime(system.now())
    expect(clock.invalidPeriods()).toHaveLength(1)
    system.advance(25 * HOUR)
    await clock.setTime(system.now())
    expect(clock.invalidPeriods()).toHaveLength(0)
    expect(clock.timeValidAt(new Date(system.now().getTime() - 2 * HOUR))).toBe(true)
    expect(clock.timeValidAt(new Date(system.now().getTime() - 25 * HOUR))).toBe(false)
  })

  it('refuses a nonsensical configuration with CONFIG_INVALID', () => {
    const systemNow = () => new Date()
    for (const config of [{ registrationPeriodS: 0 }, { assumedDriftPpm: -1 }, { retainDays: 0 }, { maxPeriods: 0 }]) {
      expect(() => createLegalClock(config, { systemNow })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }) as Error)
    }
  })
})

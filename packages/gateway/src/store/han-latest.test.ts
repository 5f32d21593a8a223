import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTempDir } from '../testing.js'
import { openStore } from './store.js'
import type { ReadingInput } from './types.js'

// latestReadings answers the HAN's current-value requests with index seeks; its answer must
// equal the plain definition: per quantity of the meter, the newest reading at or after `since`.
let tmp: { dir: string; remove: () => Promise<void> }
beforeAll(async () => { tmp = await createTempDir('smgw-han-latest-') })
afterAll(async () => { await tmp.remove() })

const T0 = Date.UTC(2026, 0, 1)
const reading = fc.record({
  meterId: fc.constantFrom('ehz-1', 'ehz-2', 'wmz-1'),
  quantity: fc.constantFrom('1-0:1.8.0', '1-0:2.8.0', '1-0:16.7.0', 'volume'),
  // A small time range: readings at exactly `since` and equal times are common.
  offsetS: fc.integer({ min: 0, max: 40 }),
  mantissa: fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }),
})

describe('store.han.latestReadings', () => {
  it('is the newest reading per quantity at or after since, for the meter asked only', () => {
    let n = 0
    fc.assert(fc.property(fc.array(reading, { maxLength: 60 }), fc.integer({ min: 0, max: 40 }), fc.constantFrom('ehz-1', 'ehz-2', 'wmz-1', 'none'), (rows, sinceS, meter) => {
      const store = openStore(join(tmp.dir, `p${String(n++)}.db`), { now: () => new Date(T0) })
      try {
        // Distinct times per meter and quantity: which of two equal-time rows is "newest" is not defined.
        const seen = new Set<string>()
        const batch: ReadingInput[] = rows.filter((r) => {
          const k = `${r.meterId}|${r.quantity}|${String(r.offsetS)}`
          if (seen.has(k)) return false
          seen.add(k)
          return true
        }).map((r) => ({ meterId: r.meterId, quantity: r.quantity, time: new Date(T0 + r.offsetS * 1000), mantissa: r.mantissa, scaler: -1, unit: 'Wh' }))
        if (batch.length > 0) store.appendReadings(batch)
        const since = new Date(T0 + sinceS * 1000)
        const expected = new Map<string, ReadingInput>()
        for (const r of batch) {
          if (r.meterId !== meter || r.time < since) continue
          const best = expected.get(r.quantity)
          if (best === undefined || r.time > best.time) expected.set(r.quantity, r)
        }
        const got = store.han.latestReadings(meter, since)
        expect(got.map((g) => g.quantity)).toEqual([...expected.keys()].sort())
        for (const g of got) {
          const e = expected.get(g.quantity)!
          expect({ time: g.time, mantissa: g.mantissa, scaler: g.scaler, unit: g.unit }).toEqual({ time: e.time, mantissa: e.mantissa, scaler: -1, unit: 'Wh' })
        }
      } finally {
        store.close()
      }
    }), { numRuns: 60 })
  })
})

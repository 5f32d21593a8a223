import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { LatestReading } from '../store/han.js'
import type { ReadingInput } from '../store/types.js'
import { createLatestValues } from './latest.js'

// The kept values must equal what the store would answer at every moment: the newest reading per
// quantity at or after `since`, however the committed batches and the first read interleave.
const T0 = Date.UTC(2026, 0, 1)
const reading = fc.record({
  meterId: fc.constantFrom('m-1', 'm-2'),
  quantity: fc.constantFrom('1-0:1.8.0', '1-0:16.7.0', 'volume'),
  offsetS: fc.integer({ min: 0, max: 50 }),
  mantissa: fc.bigInt({ min: -1000n, max: 1000n }),
})
type Step = { kind: 'commit'; batch: { meterId: string; quantity: string; offsetS: number; mantissa: bigint }[] } | { kind: 'ask'; meterId: string; sinceS: number }
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('commit' as const), batch: fc.array(reading, { minLength: 1, maxLength: 5 }) }),
  fc.record({ kind: fc.constant('ask' as const), meterId: fc.constantFrom('m-1', 'm-2', 'm-3'), sinceS: fc.integer({ min: 0, max: 50 }) }),
)

describe('HAN latest values', () => {
  it('answers like the store at every step (first read once per meter, then the committed batches)', () => {
    fc.assert(fc.property(fc.array(reading, { maxLength: 20 }), fc.array(step, { maxLength: 30 }), (before, steps) => {
      // The "store": every committed reading; times strictly increase per meter and quantity, as the LMN commits them.
      const stored: ReadingInput[] = []
      const lastTime = new Map<string, number>()
      const accept = (r: { meterId: string; quantity: string; offsetS: number; mantissa: bigint }): ReadingInput | undefined => {
        const key = `${r.meterId}|${r.quantity}`
        const t = Math.max(r.offsetS, (lastTime.get(key) ?? -1) + 1)
        lastTime.set(key, t)
        const input = { meterId: r.meterId, quantity: r.quantity, time: new Date(T0 + t * 1000), mantissa: r.mantissa, scaler: 0, unit: 'Wh' }
        stored.push(input)
        return input
      }
      for (const r of before) accept(r)
      const read = (meterId: string, since: Date): LatestReading[] => {
        const best = new Map<string, ReadingInput>()
        for (const r of stored) {
          if (r.meterId !== meterId || r.time < since) continue
          const b = best.get(r.quantity)
          if (b === undefined || r.time >= b.time) best.set(r.quantity, r)
        }
        return [...best.values()].sort((a, b) => (a.quantity < b.quantity ? -1 : 1)).map((r) => ({ quantity: r.quantity, time: r.time, mantissa: r.mantissa, scaler: r.scaler, unit: r.unit }))
      }
      let reads = 0
      let listener: ((batch: readonly ReadingInput[]) => void) | undefined
      const latest = createLatestValues((m, s) => { reads++; return read(m, s) }, (l) => { listener = l; return () => { listener = undefined } }, () => new Date(T0))
      const asked = new Set<string>()
      for (const s of steps) {
        if (s.kind === 'commit') {
          const batch = s.batch.map(accept).filter((r) => r !== undefined)
          listener?.(batch)
        } else {
          asked.add(s.meterId)
          expect(latest.of(s.meterId, new Date(T0 + s.sinceS * 1000))).toEqual(read(s.meterId, new Date(T0 + s.sinceS * 1000)))
        }
      }
      expect(reads).toBe(asked.size) // the store is read once per meter
      latest.close()
      expect(listener).toBeUndefined()
    }), { numRuns: 200 })
  })

  it('without the committed batches, asks the store every time', () => {
    let reads = 0
    const latest = createLatestValues(() => { reads++; return [] }, undefined, () => new Date(T0))
    latest.of('m-1', new Date(T0))
    latest.of('m-1', new Date(T0))
    expect(reads).toBe(2)
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { backoffBounds, backoffDelay, type RetryPolicy } from './backoff.js'

const arbPolicy: fc.Arbitrary<RetryPolicy> = fc.record({
  initialMs: fc.integer({ min: 1, max: 86_400_000 }),
  extra: fc.integer({ min: 0, max: 6 * 86_400_000 }),
  factor: fc.double({ min: 1, max: 16, noNaN: true }),
  jitter: fc.constantFrom('full' as const, 'equal' as const),
}).map(({ initialMs, extra, factor, jitter }) => ({ initialMs, maxMs: initialMs + extra, factor, jitter }))

describe('backoff', () => {
  it('the default schedule: 30 s doubling to 6 h', () => {
    const policy: RetryPolicy = { initialMs: 30_000, maxMs: 6 * 3_600_000, factor: 2, jitter: 'equal' }
    expect([1, 2, 3, 10, 11, 12, 1000].map((n) => backoffBounds(policy, n).max)).toEqual([30_000, 60_000, 120_000, 15_360_000, 21_600_000, 21_600_000, 21_600_000])
    expect(backoffBounds(policy, 1)).toEqual({ min: 15_000, max: 30_000 })
    expect(backoffBounds({ ...policy, jitter: 'full' }, 1)).toEqual({ min: 0, max: 30_000 })
    expect(backoffDelay(policy, 1, () => 0)).toBe(15_000)
    expect(backoffDelay(policy, 1, () => 0.999_999_999)).toBe(30_000)
  })

  it('property: ceilings never decrease and stop at maxMs; every delay lies within the jitter bounds', () => {
    fc.assert(fc.property(arbPolicy, fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (policy, a, b, r) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a]
      const low = backoffBounds(policy, lo)
      const high = backoffBounds(policy, hi)
      expect(low.max).toBeLessThanOrEqual(high.max)
      expect(high.max).toBeLessThanOrEqual(policy.maxMs)
      expect(low.min).toBeLessThanOrEqual(low.max)
      expect(low.min).toBe(policy.jitter === 'full' ? 0 : Math.ceil(low.max / 2))
      const delay = backoffDelay(policy, lo, () => r)
      expect(Number.isInteger(delay)).toBe(true)
      expect(delay).toBeGreaterThanOrEqual(low.min)
      expect(delay).toBeLessThanOrEqual(low.max)
    }))
  })

  it('property: the cap is reached and kept (factor > 1)', () => {
    fc.assert(fc.property(arbPolicy.filter((p) => p.factor >= 1.5), (policy) => {
      const n = Math.ceil(Math.log(policy.maxMs / policy.initialMs) / Math.log(policy.factor)) + 2
      expect(backoffBounds(policy, n).max).toBe(policy.maxMs)
      expect(backoffBounds(policy, n * 100).max).toBe(policy.maxMs)
    }))
  })

  it('a random source outside [0, 1) cannot leave the bounds', () => {
    const policy: RetryPolicy = { initialMs: 1000, maxMs: 8000, factor: 2, jitter: 'equal' }
    for (const r of [-1, 1, 2, Number.NaN, Number.POSITIVE_INFINITY]) {
      const d = backoffDelay(policy, 2, () => r)
      expect(d).toBeGreaterThanOrEqual(1000)
      expect(d).toBeLessThanOrEqual(2000)
    }
  })
})

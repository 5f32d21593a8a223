/*
 * How often one gateway may open an admin session: a token bucket per gateway ID (the CN of
 * its authenticated client certificate), checked by the admin server before a report is read
 * or the inventory touched. A gateway stuck in a loop, or a stolen gateway identity, costs
 * the head-end a TLS handshake per attempt and nothing more. The clock is monotonic and
 * injected, so the limiter is tested without waiting.
 */

export interface SessionRateLimiterOptions {
  /** Sessions per gateway per minute, the long-run rate. */
  readonly perMinute: number
  /** Sessions one gateway may open back to back (default: `perMinute`). */
  readonly burst?: number
  /** Milliseconds on a monotonic clock (performance.now); never the wall clock, which may jump. */
  readonly now: () => number
  /** Gateways tracked at most; beyond it, full buckets are dropped first, then the oldest (default 100,000). */
  readonly maxTracked?: number
}

export type Admission =
  | { readonly admitted: true }
  /** `retryAfterS`: whole seconds until a token is there again (the Retry-After header); `refusedInRow`: refusals since the last admission. */
  | { readonly admitted: false; readonly retryAfterS: number; readonly refusedInRow: number }

export interface SessionRateLimiter {
  /** Takes a token for `key` when there is one. */
  admit(key: string): Admission
  /** How many keys are tracked (for tests and the bound). */
  tracked(): number
}

interface Bucket { tokens: number; at: number; refused: number }

export function createSessionRateLimiter(o: SessionRateLimiterOptions): SessionRateLimiter {
  if (!(o.perMinute > 0)) throw new RangeError('perMinute must be positive')
  const capacity = o.burst ?? o.perMinute
  if (!(capacity >= 1)) throw new RangeError('burst must be at least 1')
  const perMs = o.perMinute / 60_000
  const maxTracked = o.maxTracked ?? 100_000
  const buckets = new Map<string, Bucket>()

  const refill = (b: Bucket, now: number): void => {
    b.tokens = Math.min(capacity, b.tokens + Math.max(0, now - b.at) * perMs)
    b.at = now
  }
  /** A full bucket is the same as none: dropped first when the map is at its bound. */
  const shrink = (now: number): void => {
    for (const [key, b] of buckets) {
      refill(b, now)
      if (b.tokens >= capacity) buckets.delete(key)
    }
    for (const key of buckets.keys()) {
      if (buckets.size < maxTracked) break
      buckets.delete(key)
    }
  }

  return {
    admit: (key) => {
      const now = o.now()
      let b = buckets.get(key)
      if (b === undefined) {
        if (buckets.size >= maxTracked) shrink(now)
        b = { tokens: capacity, at: now, refused: 0 }
        buckets.set(key, b)
      } else {
        refill(b, now)
      }
      if (b.tokens >= 1) {
        b.tokens -= 1
        b.refused = 0
        return { admitted: true }
      }
      b.refused += 1
      return { admitted: false, retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000)), refusedInRow: b.refused }
    },
    tracked: () => buckets.size,
  }
}

/*
 * Exponential backoff with jitter for WAN delivery retries (pure; randomness injected).
 *
 *   ceiling(n) = min(maxMs, floor(initialMs × factor^(n−1)))   n = failed attempts so far (≥ 1)
 *   full jitter:  delay uniform in [0, ceiling(n)]
 *   equal jitter: delay uniform in [ceil(ceiling(n) / 2), ceiling(n)]
 *
 * The ceiling never decreases with n and stops at maxMs, so a recipient that is down for
 * days is tried about every maxMs (6 h by default) once the ceiling is reached. Full
 * jitter spreads many gateways best (a thundering herd after an outage is the failure this
 * prevents); equal jitter keeps a floor, so a gateway never retries right away.
 */

export type JitterMode = 'full' | 'equal'

export interface RetryPolicy {
  /** Ceiling after the first failed attempt, ms. */
  readonly initialMs: number
  /** Largest ceiling, ms. */
  readonly maxMs: number
  /** Growth per failed attempt (≥ 1). */
  readonly factor: number
  readonly jitter: JitterMode
}

/** The interval a delay after `attempts` failed attempts is drawn from, whole ms. */
export function backoffBounds(policy: RetryPolicy, attempts: number): { readonly min: number; readonly max: number } {
  const n = Math.max(1, Math.floor(attempts))
  const grown = policy.initialMs * policy.factor ** (n - 1)
  const max = Math.floor(Math.min(policy.maxMs, Number.isFinite(grown) ? grown : policy.maxMs))
  return { min: policy.jitter === 'full' ? 0 : Math.ceil(max / 2), max }
}

/** A delay within `backoffBounds(policy, attempts)`; `random` returns values in [0, 1). */
export function backoffDelay(policy: RetryPolicy, attempts: number, random: () => number): number {
  const { min, max } = backoffBounds(policy, attempts)
  const r = random()
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1 - Number.EPSILON) : 0
  return min + Math.floor(unit * (max - min + 1))
}

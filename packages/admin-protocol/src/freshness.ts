import { AdminProtocolError } from './errors.js'
import { VERSION_PATTERN } from './formats.js'

/**
 * STALE unless `createdAt` lies within `maxAgeS` before and `maxFutureS` (default: the same
 * window) after `at`, the gateway's legal time (docs/admin-protocol.md: wake-ups ± freshnessS;
 * commands no older than commandMaxAgeS and no further ahead than freshnessS).
 */
export function checkFreshness(createdAt: string | Date, at: Date, maxAgeS: number, maxFutureS: number = maxAgeS): void {
  const created = typeof createdAt === 'string' ? Date.parse(createdAt) : createdAt.getTime()
  if (!Number.isFinite(created)) throw new AdminProtocolError('MALFORMED', `not a time: ${String(createdAt).slice(0, 40)}`)
  const ageMs = at.getTime() - created
  if (ageMs > maxAgeS * 1000) throw new AdminProtocolError('STALE', `created ${Math.round(ageMs / 1000)} s ago, at most ${maxAgeS} s`)
  if (-ageMs > maxFutureS * 1000) throw new AdminProtocolError('STALE', `created ${Math.round(-ageMs / 1000)} s in the future, at most ${maxFutureS} s`)
}

/** Negative, zero or positive as `a` is lower, equal or higher: MAJOR.MINOR.PATCH compared numerically (1.2.10 > 1.2.9). */
export function compareVersions(a: string, b: string): number {
  const pa = versionParts(a)
  const pb = versionParts(b)
  for (let i = 0; i < 3; i++) {
    const d = pa[i]! - pb[i]!
    if (d !== 0) return Math.sign(d)
  }
  return 0
}

function versionParts(v: string): number[] {
  const m = VERSION_PATTERN.exec(v)
  if (m === null) throw new AdminProtocolError('MALFORMED', `version ${JSON.stringify(v.slice(0, 40))} is not MAJOR.MINOR.PATCH`)
  return [Number(m[1]), Number(m[2]), Number(m[3])]
}

/** NOT_ADDRESSED unless a wake-up or command names this gateway (docs/admin-protocol.md). */
export function checkAddressed(gatewayId: string, ownGatewayId: string): void {
  if (gatewayId !== ownGatewayId) throw new AdminProtocolError('NOT_ADDRESSED', `for ${gatewayId.slice(0, 64)}, not ${ownGatewayId}`)
}

/** REPLAYED unless a wake-up counter or command sequence is greater than the last accepted one. */
export function checkIncreasing(value: number, last: number, what: 'counter' | 'sequence'): void {
  if (!(value > last)) throw new AdminProtocolError('REPLAYED', `${what} ${String(value)} not greater than ${String(last)}`)
}

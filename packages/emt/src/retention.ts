import { fromLegalTime, toLegalTime } from '@smgw/legal-time'
import type { EmtRepository, PruneRequest, PruneResult } from './repository/types.js'

/** How often a running receiver applies retention (and once at its start). */
export const RETENTION_INTERVAL_MS = 24 * 3600_000

/**
 * What retention deletes at `now` (DOMAIN.md "Retention", MsbG): personal readings at the latest
 * `retentionYears` years after the end of their year — a message whose period ended in year Y
 * goes once year Y + retentionYears is over, by the legal (German) calendar. Message rows stay
 * while they are inside the replay window, so a replay is still answered by its content.
 */
export function retentionRequest(now: Date, o: { readonly retentionYears: number; readonly replayWindowDays: number }): PruneRequest {
  const year = toLegalTime(now).year
  return {
    // A period ending at 1 January 00:00 belongs to the year before.
    periodEndAtOrBefore: fromLegalTime(Math.max(year - o.retentionYears, 1980), 1, 1),
    createdBefore: new Date(now.getTime() - o.replayWindowDays * 86_400_000),
  }
}

/** What one retention run deleted. */
export interface RetentionResult extends PruneResult {
  readonly request: PruneRequest
  /** Remembered certificate signatures forgotten because the certificate expired. */
  readonly signatures: number
}

/** One retention run on a store: {@link retentionRequest}, then the remembered signatures of expired certificates. */
export async function applyRetention(repository: EmtRepository, now: Date, o: { readonly retentionYears: number; readonly replayWindowDays: number }): Promise<RetentionResult> {
  const request = retentionRequest(now, o)
  const pruned = await repository.prune(request)
  return { ...pruned, request, signatures: await repository.forgetSignatures(now) }
}

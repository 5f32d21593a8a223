import type { LatestReading } from '../store/han.js'
import type { ReadingInput } from '../store/types.js'

/**
 * The newest reading per meter and quantity, for the HAN's current values and meter list.
 * The store's readings index starts with the time (ingest speed, bench ingest), so finding a
 * meter's newest values there reads through its history; here each meter is read from the
 * store once, then kept current from the gateway's committed batches (`onReadings`). Without
 * that feed every request asks the store.
 */
export interface LatestValues {
  /** The newest reading per quantity of `meterId` at or after `since`, by quantity. */
  of(meterId: string, since: Date): LatestReading[]
  /** Stops following the committed batches. */
  close(): void
}

export function createLatestValues(
  read: (meterId: string, since: Date) => LatestReading[],
  onReadings: ((listener: (batch: readonly ReadingInput[]) => void) => () => void) | undefined,
  /** The oldest `since` a caller will ask for, at the time of asking (the HAN's history window). */
  horizon: () => Date,
): LatestValues {
  if (onReadings === undefined) return { of: read, close: () => undefined }
  const latest = new Map<string, Map<string, LatestReading>>()
  const loaded = new Set<string>()
  const keep = (meterId: string, r: LatestReading): void => {
    let byQuantity = latest.get(meterId)
    if (byQuantity === undefined) {
      byQuantity = new Map<string, LatestReading>()
      latest.set(meterId, byQuantity)
    }
    const had = byQuantity.get(r.quantity)
    if (had === undefined || r.time.getTime() >= had.time.getTime()) byQuantity.set(r.quantity, r)
  }
  // Subscribed before the first read: a batch committed while a meter is being loaded is kept either way.
  const unsubscribe = onReadings((batch) => {
    for (const r of batch) keep(r.meterId, { quantity: r.quantity, time: r.time, mantissa: r.mantissa, scaler: r.scaler, unit: r.unit })
  })
  return {
    of(meterId, since) {
      if (!loaded.has(meterId)) {
        for (const r of read(meterId, horizon())) keep(meterId, r)
        loaded.add(meterId)
      }
      const byQuantity = latest.get(meterId)
      if (byQuantity === undefined) return []
      return [...byQuantity.values()].filter((r) => r.time.getTime() >= since.getTime()).sort((a, b) => (a.quantity < b.quantity ? -1 : a.quantity > b.quantity ? 1 : 0))
    },
    close: unsubscribe,
  }
}

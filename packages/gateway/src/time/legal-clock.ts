import type { Logger } from 'pino'
import { GatewayError } from '../errors.js'
import type { CalibrationLogEntry } from '../log/entries.js'
import { messageOf } from '../store/store.js'
import { computeOffset } from './sntp.js'

/**
 * The gateway's legal time: the system clock plus an offset that each synchronisation
 * corrects, and the periods in which time-stamped values cannot be trusted.
 *
 * Rules (sources: BSI TR-03109-1 v1.1 — the gateway keeps legal time synchronised with a
 * time source set by the administrator and marks values whose time is not assured;
 * the tolerance is 3 % of the registration period, 27 s for 15 min, as summarised in the
 * project's DOMAIN.md; RFC 5905 §8 for the offset and its error bound; the calibration-log
 * entries are those of BSI-CC-PP-0073 v1.3 FAU_GEN.1 as typed in log/entries.ts):
 *
 * 1. Start: `unsynchronised` until the first successful synchronisation. Unsynchronised
 *    counts as time-invalid: TR-03109-1 requires a synchronised time for tariff-relevant
 *    values. It is not a `restricted-state` entry (nothing was measured); the first
 *    `time-synchronised` entry ends it. The first sync steps the clock by whatever it
 *    measured and makes it `synchronised`.
 * 2. Tolerance = 3 % × `registrationPeriodS` (default 900 s → 27 000 ms).
 * 3. Each successful sync measures the residual offset of legal time (NTP: RFC 5905 §8
 *    offset against the system clock, minus the offset already applied; admin: the time
 *    set minus legal time now) and steps the clock by it. Every successful sync writes
 *    `time-synchronised {source, offsetMs: residual}`.
 * 4. |residual| > tolerance: the values stamped since the last good sync cannot be
 *    trusted. Enter `restricted`: `time-drift-exceeded {offsetMs, limitMs}`, then
 *    `restricted-state {entered: true}` (not repeated while restricted), then the step
 *    and its `time-synchronised`. The invalid period starts at the last good sync.
 * 5. Leave `restricted` only at a following sync whose |residual| ≤ tolerance:
 *    `time-synchronised`, then `restricted-state {entered: false}`; the period ends there.
 * 6. Between syncs the uncertainty grows: |residual error of the last sync| (delay / 2,
 *    RFC 5905 §8; 0 for an admin setting) + `assumedDriftPpm` × elapsed. When it could
 *    exceed the tolerance (100 ppm: 75 h after a sync) the clock enters `restricted`
 *    too, with the same entries (`time-drift-exceeded.offsetMs` is then the uncertainty
 *    bound, not a measurement); the period starts at the instant the bound was crossed.
 * 7. A failed sync changes nothing but runs the check of rule 6.
 *
 * `timeValidAt(instant)` (legal time) is false inside an invalid period (closed, open or
 * the holdover limit not yet checked), before the clock was created, and before the
 * retention horizon (`retainDays`, at most `maxPeriods` periods kept): what the clock no
 * longer knows is not assured.
 */

export type LegalClockState = 'unsynchronised' | 'synchronised' | 'restricted'
export type TimeSource = 'ntp' | 'admin'

/** One NTP exchange: t1 client transmit, t2 server receive, t3 server transmit, t4 client receive (Unix ms; t1, t4 by the system clock). */
export interface SntpSample {
  readonly t1: number
  readonly t2: number
  readonly t3: number
  readonly t4: number
}

export interface TimeServer {
  readonly host: string
  readonly port: number
}

export interface LegalClockConfig {
  /** The registration period of the tariff values, s (default 900: 15 min). */
  readonly registrationPeriodS?: number
  /** Assumed worst-case drift of the system clock between syncs, ppm (default 100). */
  readonly assumedDriftPpm?: number
  /** How long invalid periods are remembered, days (default 42). */
  readonly retainDays?: number
  /** At most this many periods are remembered (default 1000). */
  readonly maxPeriods?: number
  /** The server `sync()` queries. */
  readonly server?: TimeServer
}

export interface LegalClockDeps {
  /** The system clock. */
  readonly systemNow: () => Date
  /** One NTP exchange with the server (ntp-client `querySntp`); needed by `sync()`. */
  readonly query?: (server: TimeServer) => Promise<SntpSample>
  /** Appends to the calibration log (`logs.calibration`); awaited, failures are logged. */
  readonly calibration?: (entry: CalibrationLogEntry) => Promise<unknown>
  readonly logger?: Logger
}

export interface InvalidPeriod {
  /** Legal time, inclusive. */
  readonly from: Date
  /** Legal time, exclusive; absent while the period lasts. */
  readonly to?: Date
  readonly reason: 'unsynchronised' | 'drift' | 'holdover'
}

export type SyncOutcome =
  | { readonly ok: true; readonly source: TimeSource; readonly offsetMs: number; readonly delayMs: number; readonly state: LegalClockState }
  | { readonly ok: false; readonly error: unknown; readonly state: LegalClockState }

export interface LegalClockStatus {
  readonly state: LegalClockState
  /** Offset applied to the system clock, ms (legal = system + offset). */
  readonly offsetMs: number
  /** Legal time of the last successful sync. */
  readonly lastSync?: Date
  readonly lastSource?: TimeSource
  /** Residual of the last sync, ms. */
  readonly lastResidualMs?: number
  /** Bound on the error of legal time now, ms (absent while unsynchronised). */
  readonly uncertaintyMs?: number
  readonly toleranceMs: number
}

export interface LegalClock {
  /** Legal time: system time + offset. */
  now(): Date
  /** Queries the configured server once and applies the result (concurrent calls share one query). */
  sync(): Promise<SyncOutcome>
  /** The administrator sets legal time (source 'admin'); the same rules as for NTP apply. */
  setTime(legalTime: Date): Promise<SyncOutcome>
  /** Applies an NTP exchange measured elsewhere. */
  applySample(sample: SntpSample): Promise<SyncOutcome>
  /** Enters `restricted` if the holdover uncertainty exceeds the tolerance (rule 6). */
  check(): Promise<LegalClockState>
  status(): LegalClockStatus
  /** Whether a value stamped with this legal instant has an assured time. */
  timeValidAt(instant: Date): boolean
  /** The remembered invalid periods, oldest first. */
  invalidPeriods(): readonly InvalidPeriod[]
}

interface Period { from: number; to: number | undefined; reason: InvalidPeriod['reason'] }
interface LastSync { readonly systemMs: number; readonly legalMs: number; readonly errorMs: number; readonly source: TimeSource; readonly residualMs: number }

const DAY_MS = 86_400_000

export function createLegalClock(config: LegalClockConfig, deps: LegalClockDeps): LegalClock {
  const registrationPeriodS = config.registrationPeriodS ?? 900
  const driftPpm = config.assumedDriftPpm ?? 100
  const retainMs = (config.retainDays ?? 42) * DAY_MS
  const maxPeriods = config.maxPeriods ?? 1000
  if (!(registrationPeriodS > 0) || !(driftPpm >= 0) || !(retainMs > 0) || !(maxPeriods >= 1)) {
    throw new GatewayError('CONFIG_INVALID', 'legal clock: registrationPeriodS and retainDays must be positive, assumedDriftPpm ≥ 0, maxPeriods ≥ 1')
  }
  /** 3 % of the registration period (27 000 ms for 900 s). */
  const toleranceMs = Math.round(registrationPeriodS * 1000 * 0.03)
  const log = deps.logger?.child({ component: 'time' })
  const system = (): number => deps.systemNow().getTime()

  let offsetMs = 0
  let state: LegalClockState = 'unsynchronised'
  let lastSync: LastSync | undefined
  /** Legal time of the last sync within tolerance: where a drift period starts. */
  let lastGoodMs: number | undefined
  /** Instants before this are not known to be valid (creation, then the retention horizon). */
  let horizonMs = system()
  const periods: Period[] = [{ from: horizonMs, to: undefined, reason: 'unsynchronised' }]
  let writes: Promise<unknown> = Promise.resolve()
  let inFlight: Promise<SyncOutcome> | undefined

  const legalMs = (): number => system() + offsetMs
  const open = (): Period | undefined => {
    const last = periods.at(-1)
    return last !== undefined && last.to === undefined ? last : undefined
  }

  /** Calibration entries in order; a failed append is logged, never thrown into the clock. */
  const write = (entries: readonly CalibrationLogEntry[]): Promise<void> => {
    const calibration = deps.calibration
    if (calibration === undefined || entries.length === 0) return writes.then(() => undefined)
    for (const entry of entries) {
      writes = writes.then(() => calibration(entry)).catch((err: unknown) => { log?.error({ err: messageOf(err), entry: entry.type }, 'calibration log entry not written') })
    }
    return writes.then(() => undefined)
  }

  const prune = (): void => {
    const horizon = legalMs() - retainMs
    while (periods.length > 0) {
      const first = periods[0]!
      if (first.to === undefined || (first.to >= horizon && periods.length <= maxPeriods)) break
      periods.shift()
      horizonMs = Math.max(horizonMs, first.to)
    }
    horizonMs = Math.max(horizonMs, horizon)
  }

  /** Legal instant from which the holdover uncertainty exceeds the tolerance (rule 6). */
  const holdoverLimitMs = (): number | undefined => {
    if (state !== 'synchronised' || lastSync === undefined || driftPpm === 0) return undefined
    return lastSync.legalMs + Math.max(0, toleranceMs - lastSync.errorMs) / (driftPpm * 1e-6)
  }

  const uncertaintyMs = (): number | undefined => {
    if (lastSync === undefined) return undefined
    return lastSync.errorMs + driftPpm * 1e-6 * Math.max(0, system() - lastSync.systemMs)
  }

  const apply = (source: TimeSource, residualMs: number, errorMs: number, delayMs: number): Promise<SyncOutcome> => {
    const entries: CalibrationLogEntry[] = []
    const synchronised: CalibrationLogEntry = { type: 'time-synchronised', fields: { source, offsetMs: Math.round(residualMs) } }
    const before = state
    // A step moves legal time; values stamped just before it carry the old scale. An invalid
    // period closed by this sync ends after both, so it covers them either way.
    const beforeMs = legalMs()
    if (state === 'synchronised') {
      // A holdover limit crossed before this sync arrived is recorded first (rule 6).
      const limit = holdoverLimitMs()
      if (limit !== undefined && legalMs() >= limit) enterHoldover(limit, entries)
    }
    if (state === 'unsynchronised') {
      offsetMs += residualMs
      const now = legalMs()
      const p = open()
      if (p !== undefined) p.to = Math.max(now, beforeMs + 1)
      state = 'synchronised'
      lastGoodMs = now
      entries.push(synchronised)
      log?.info({ source, offsetMs: residualMs }, 'legal time synchronised for the first time')
    } else if (Math.abs(residualMs) > toleranceMs) {
      entries.push({ type: 'time-drift-exceeded', fields: { offsetMs: Math.round(residualMs), limitMs: toleranceMs } })
      const from = lastGoodMs ?? horizonMs
      const p = open()
      if (p === undefined) {
        entries.push({ type: 'restricted-state', fields: { entered: true } })
        periods.push({ from, to: undefined, reason: 'drift' })
      } else {
        // Already restricted (holdover or an earlier drift): the values since the last good sync are untrusted too.
        p.from = Math.min(p.from, from)
        p.reason = 'drift'
      }
      state = 'restricted'
      offsetMs += residualMs
      entries.push(synchronised)
      log?.warn({ source, offsetMs: residualMs, limitMs: toleranceMs }, 'legal time drift beyond the tolerance: restricted state, values since the last good sync are time-invalid')
    } else {
      offsetMs += residualMs
      const now = legalMs()
      entries.push(synchronised)
      if (state === 'restricted') {
        const p = open()
        if (p !== undefined) p.to = Math.max(now, beforeMs + 1)
        entries.push({ type: 'restricted-state', fields: { entered: false } })
        log?.info({ source, offsetMs: residualMs }, 'legal time within the tolerance again: restricted state left')
      }
      state = 'synchronised'
      lastGoodMs = now
    }
    lastSync = { systemMs: system(), legalMs: legalMs(), errorMs: errorMs, source, residualMs }
    log?.debug({ source, offsetMs: residualMs, delayMs, from: before, to: state }, 'legal time synchronised')
    prune()
    return write(entries).then(() => ({ ok: true as const, source, offsetMs: residualMs, delayMs, state }))
  }

  const enterHoldover = (limitMs: number, entries: CalibrationLogEntry[]): void => {
    const bound = uncertaintyMs() ?? toleranceMs
    entries.push({ type: 'time-drift-exceeded', fields: { offsetMs: Math.round(bound), limitMs: toleranceMs } })
    entries.push({ type: 'restricted-state', fields: { entered: true } })
    periods.push({ from: limitMs, to: undefined, reason: 'holdover' })
    state = 'restricted'
    log?.warn({ lastSync: lastSync === undefined ? undefined : new Date(lastSync.legalMs).toISOString(), uncertaintyMs: Math.round(bound), limitMs: toleranceMs, driftPpm },
      'no successful time synchronisation for so long that the clock may be off by more than the tolerance: restricted state')
  }

  const check = (): Promise<LegalClockState> => {
    const limit = holdoverLimitMs()
    if (limit === undefined || legalMs() < limit) return Promise.resolve(state)
    const entries: CalibrationLogEntry[] = []
    enterHoldover(limit, entries)
    prune()
    return write(entries).then(() => state)
  }

  const applySample = (sample: SntpSample): Promise<SyncOutcome> => {
    const { offsetMs: systemOffset, delayMs } = computeOffset(sample.t1, sample.t2, sample.t3, sample.t4)
    // RFC 5905 §8: the true offset lies within ± delay / 2 of the measured one.
    return apply('ntp', systemOffset - offsetMs, Math.max(0, delayMs) / 2, delayMs)
  }

  return {
    now: () => new Date(legalMs()),
    sync() {
      if (inFlight !== undefined) return inFlight
      const { query } = deps
      const server = config.server
      if (query === undefined || server === undefined) {
        return Promise.resolve({ ok: false, error: new GatewayError('TIME_QUERY_FAILED', 'no time server configured'), state })
      }
      const run = (async (): Promise<SyncOutcome> => {
        let sample: SntpSample
        try {
          sample = await query(server)
        } catch (err) {
          log?.warn({ server: `${server.host}:${server.port}`, code: err instanceof GatewayError ? err.code : undefined, err: messageOf(err) }, 'time synchronisation failed')
          await check()
          return { ok: false, error: err, state }
        }
        return applySample(sample)
      })()
      inFlight = run
      return run.finally(() => { inFlight = undefined })
    },
    setTime: (legalTime) => apply('admin', legalTime.getTime() - legalMs(), 0, 0),
    applySample,
    check,
    status() {
      const u = uncertaintyMs()
      return {
        state, offsetMs, toleranceMs,
        ...(lastSync === undefined ? {} : { lastSync: new Date(lastSync.legalMs), lastSource: lastSync.source, lastResidualMs: lastSync.residualMs }),
        ...(u === undefined ? {} : { uncertaintyMs: u }),
      }
    },
    timeValidAt(instant) {
      const t = instant.getTime()
      if (!(t >= horizonMs)) return false
      const limit = holdoverLimitMs()
      if (limit !== undefined && t >= limit) return false
      return !periods.some((p) => t >= p.from && (p.to === undefined || t < p.to))
    },
    invalidPeriods: () => periods.map((p) => ({ from: new Date(p.from), ...(p.to === undefined ? {} : { to: new Date(p.to) }), reason: p.reason })),
  }
}

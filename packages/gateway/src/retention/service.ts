import type { Logger } from 'pino'
import type { GatewayLogs } from '../log/writer.js'
import { messageOf } from '../store/store.js'
import type { DeleteExpiredResult, Store } from '../store/types.js'
import { DAILY_PERIOD_S, formatLegalDate, formatPeriod, planRetention, type RetentionConfig, type RetentionPlan } from './policy.js'

export interface RetentionServiceConfig {
  readonly policy: RetentionConfig
  /** Consumer ID per meter ID: who is told in their consumer log what was deleted. */
  readonly consumers: ReadonlyMap<string, string>
  /**
   * The configured tariff profiles. Readings and interval values at or after the smallest
   * of their watermarks are kept (not yet processed); a profile that never ran keeps all.
   */
  readonly profiles: readonly string[]
}

export interface RetentionServiceDeps {
  readonly store: Store
  readonly logs: Pick<GatewayLogs, 'consumer' | 'system'>
  readonly now: () => Date
  /** Schedules `fn` after `ms`, returns a cancel function; tests drive time with it. */
  readonly setTimer: (ms: number, fn: () => void) => () => void
  readonly logger?: Logger
}

export interface RetentionReport {
  readonly plan: RetentionPlan
  /** The smallest TAF watermark applied (undefined: no profile configured). */
  readonly keepFrom: Date | undefined
  readonly deleted: DeleteExpiredResult
}

export interface RetentionService {
  /** Runs once now, then every `runEveryS`. Idempotent. A failing run is logged, never thrown. */
  start(): Promise<void>
  /** Cancels the schedule and waits for a run in progress. Idempotent. */
  close(): Promise<void>
  /** One run: plan, delete, compact, log. Throws what the store or the log throws. */
  runOnce(): Promise<RetentionReport>
}

/** Before every instant a Date can hold: a profile that never ran keeps everything. */
const KEEP_ALL = new Date(-8.64e15)
const COUNT = new Intl.NumberFormat('en-GB')

/**
 * The retention service: deletes what the policy says expired, never an outbox item still
 * waiting for delivery, never data a tariff profile has not processed; tells each consumer
 * in plain words what of theirs went (consumer log, `data-deleted`) and records the counts
 * alone, without meter IDs, in the system log (`retention-run`) when anything went.
 */
export function createRetentionService(config: RetentionServiceConfig, deps: RetentionServiceDeps): RetentionService {
  const { store, logs, now } = deps
  const log = deps.logger?.child({ component: 'retention' })
  let state: 'idle' | 'running' | 'closed' = 'idle'
  let cancel: (() => void) | undefined
  let current: Promise<unknown> = Promise.resolve()

  const keepFrom = (): Date | undefined => {
    if (config.profiles.length === 0) return undefined
    let min: number | undefined
    for (const p of config.profiles) {
      const w = store.tafWatermark(p)
      if (w === undefined) return KEEP_ALL
      min = min === undefined ? w.getTime() : Math.min(min, w.getTime())
    }
    return min === undefined ? undefined : new Date(min)
  }

  const runOnce = async (): Promise<RetentionReport> => {
    const plan = planRetention(config.policy, now())
    const keep = keepFrom()
    const deleted = store.deleteExpired(plan.cutoffs, keep === undefined ? {} : { keepFrom: keep })
    const before = (d: Date): Date => (keep !== undefined && keep.getTime() < d.getTime() ? keep : d)
    const { policy } = config
    for (const [meter, count] of deleted.readings) {
      const consumer = config.consumers.get(meter)
      if (consumer === undefined) continue
      await logs.consumer(consumer, {
        type: 'data-deleted',
        fields: {
          dataClass: 'meter-readings', count,
          text: `${COUNT.format(count)} reading${count === 1 ? '' : 's'} of meter ${meter} from before ${formatLegalDate(before(plan.cutoffs.readings))} deleted (kept ${formatPeriod(policy.readingsDays)})`,
        },
      })
    }
    const daily = plan.cutoffs.intervalValuesByPeriod?.get(DAILY_PERIOD_S) ?? plan.cutoffs.intervalValues
    for (const [meter, count] of deleted.intervalValues) {
      const consumer = config.consumers.get(meter)
      if (consumer === undefined) continue
      await logs.consumer(consumer, {
        type: 'data-deleted',
        fields: {
          dataClass: 'interval-values', count,
          text: `${COUNT.format(count)} interval value${count === 1 ? '' : 's'} of meter ${meter} deleted: daily values from before ${formatLegalDate(before(daily))} `
            + `(kept ${formatPeriod(policy.dailyValuesDays)}), other values from before ${formatLegalDate(before(plan.cutoffs.intervalValues))} (kept ${formatPeriod(policy.intervalValuesDays)})`,
        },
      })
    }
    const readings = total(deleted.readings)
    const intervalValues = total(deleted.intervalValues)
    if (readings + intervalValues + deleted.outbox > 0) {
      await logs.system({ type: 'retention-run', fields: { readings, intervalValues, outbox: deleted.outbox } })
    }
    log?.info({ readings, intervalValues, outbox: deleted.outbox, compacted: deleted.compacted }, 'retention run')
    return { plan, keepFrom: keep, deleted }
  }

  const isRunning = (): boolean => state === 'running'

  const runLogged = (): Promise<unknown> => {
    current = runOnce().catch((err: unknown) => { log?.error({ err: messageOf(err) }, 'retention run failed') })
    return current
  }

  const schedule = (): void => {
    cancel = deps.setTimer(config.policy.runEveryS * 1000, () => {
      cancel = undefined
      if (!isRunning()) return
      void runLogged().then(() => { if (isRunning()) schedule() })
    })
  }

  return {
    async start() {
      if (state !== 'idle') return
      state = 'running'
      await runLogged()
      // close() may have run while the first run was in progress.
      if (isRunning()) schedule()
    },
    async close() {
      if (state === 'closed') return
      state = 'closed'
      cancel?.()
      cancel = undefined
      await current
    },
    runOnce,
  }
}

function total(counts: ReadonlyMap<string, number>): number {
  let n = 0
  for (const c of counts.values()) n += c
  return n
}

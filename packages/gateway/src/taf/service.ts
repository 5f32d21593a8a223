import { legalDayOf, toLegalTime } from '@smgw/legal-time'
import type { Logger } from 'pino'
import { GatewayError, isGatewayError } from '../errors.js'
import type { GatewayLogs } from '../log/writer.js'
import { messageOf } from '../store/store.js'
import type { IntervalValueInput, OutboxInput, ReadingInput, Store } from '../store/types.js'
import {
  computeActual, computeTaf1, computeTaf2, computeTaf6Daily, computeTaf6Reading, computeTaf7, registerSegments, toleranceSecondsOf, withDailyValues,
  type TafComputation, type TimeInvalidPeriod,
} from './compute.js'
import { buildTafMessage, buildTafMessages, type TafMessage } from './message.js'
import { consumersOfProfile, type TariffProfile } from './profile.js'
import { isScheduled, periodContaining, periodStartingAt, type TafPeriod } from './schedule.js'

/*
 * The TAF stage of the gateway (folders follow the data: store → taf → wan). At each due
 * boundary of each scheduled profile it reads the readings since the profile's watermark,
 * computes the period, seals one message per recipient (CMS sign + encrypt: the injected
 * `seal`, provided by the WAN stage) and commits, in ONE store transaction, the interval
 * values, the outbox items and the new watermark (`store.commitTafRun`). A crash before
 * the commit leaves nothing; after it the period is done. Missed periods (downtime) are
 * computed in order on the next pass. Then the consumers of the profile's meters get a
 * `data-processed` consumer-log entry (principle 7).
 */

export interface TafServiceConfig {
  /** The gateway's ID (message `gatewayId`, first part of every message ID). */
  readonly gatewayId: string
  /** Validated profiles (`parseTariffProfiles`). */
  readonly profiles: readonly TariffProfile[]
  /** Meter ID → consumer ID: whose consumer log records the processing of that meter's values. */
  readonly consumers?: Readonly<Record<string, string>>
  /** Periods per profile computed in one pass before yielding (catch-up continues on the next timer); default 500. */
  readonly maxPeriodsPerPass?: number
}

export interface TafServiceDeps {
  readonly store: Store
  /** CMS SignedData by the gateway's SIG key inside an encryption to the recipient's ENC certificate. */
  readonly seal: (message: Uint8Array, recipientId: string) => Promise<Uint8Array>
  readonly now: () => Date
  /** Schedules `fn` after `ms`, returns a cancel function (default setTimeout). */
  readonly setTimer?: (ms: number, fn: () => void) => () => void
  /** The consumer-log writer; without it nothing is logged to consumers. */
  readonly logs?: Pick<GatewayLogs, 'consumer'>
  /** The gateway's pseudonym secret (≥ 16 bytes), needed for pseudonymised recipients. */
  readonly pseudonymSecret?: Uint8Array
  /** Periods without assured legal time (the legal clock's `invalidPeriods`). */
  readonly invalidTime?: () => readonly TimeInvalidPeriod[]
  /**
   * Whether the profile may send now (the consumer's consent, README "HAN service"); checked
   * before each period is sealed. false: the period is committed without outbox items and the
   * consumer log says "not sent: consent withdrawn". Default: always.
   */
  readonly consentGranted?: (profileId: string) => boolean
  readonly logger?: Logger
}

export interface TafRunReport {
  readonly profile: string
  readonly period: { readonly start: Date; readonly end: Date }
  readonly outboxIds: readonly number[]
  readonly messageIds: readonly string[]
  readonly intervalValues: number
}

export interface TafRequestOptions {
  /** TAF 6: also send the kept daily value set from this instant on (the gateway keeps 42 days). */
  readonly dailySince?: Date
}

export interface TafService {
  /** Initialises missing watermarks (the period containing now), runs what is due and arms the timer. */
  start(): Promise<void>
  /** Stops the timer and waits for a running pass. Idempotent. */
  close(): Promise<void>
  /** Computes every due period of every scheduled profile, in order (also run on the timer). */
  runDue(): Promise<TafRunReport[]>
  /**
   * TAF 6 (register reading) or TAF 9 (actual values) on request: computes the values now
   * and puts one sealed message for the recipient into the outbox. Only a recipient of the
   * profile can ask (TAF_RECIPIENT_UNKNOWN otherwise); at most one request per second.
   */
  request(profileId: string, recipientId: string, options?: TafRequestOptions): Promise<{ readonly messageId: string; readonly outboxId: number }>
}

const READ_PAGE = 10_000
/** TAF 10/14 periods that ended longer ago than this are skipped, not caught up (see skipStale). */
const STALE_ACTUAL_MS = 300_000
/** Longest timer: the clock is looked at again at least this often (legal time may be set). */
const MAX_TIMER_MS = 60_000

/** The consumer log's data class of each use case's results. */
export const TAF_DATA_CLASS: Readonly<Record<TariffProfile['useCase'], string>> = {
  taf1: 'billing-reading', taf2: 'tariff-registers', taf6: 'daily-values', taf7: 'load-profile', taf9: 'actual-values', taf10: 'grid-status', taf14: 'high-frequency-values',
}
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

export function createTafService(config: TafServiceConfig, deps: TafServiceDeps): TafService {
  const { store, now } = deps
  const log = deps.logger?.child({ component: 'taf' })
  const setTimer = deps.setTimer ?? ((ms: number, fn: () => void) => { const t = setTimeout(fn, ms); return () => { clearTimeout(t) } })
  const maxPerPass = config.maxPeriodsPerPass ?? 500
  const byId = new Map(config.profiles.map((p) => [p.id, p]))
  const loggedDays = new Map<string, string>()
  let state: 'idle' | 'running' | 'closed' = 'idle'
  let cancel: (() => void) | undefined
  let queue: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn)
    queue = run.catch(() => undefined)
    return run
  }

  /**
   * The readings a computation can look at: every value is the last reading at or before a
   * boundary within the tolerance, so only the windows [boundary − tolerance, boundary] are
   * read (merged where they overlap) — a month of 2-second readings is not loaded for one
   * TAF 1 value.
   */
  const readingsFor = (profile: TariffProfile, boundaries: readonly Date[]): ReadingInput[] => {
    const tol = toleranceSecondsOf(profile) * 1000
    const windows: [number, number][] = []
    for (const b of [...boundaries].map((d) => d.getTime()).sort((x, y) => x - y)) {
      const last = windows.at(-1)
      if (last !== undefined && b - tol <= last[1] + 1) last[1] = b
      else windows.push([b - tol, b])
    }
    const out: ReadingInput[] = []
    for (const c of profile.channels) {
      for (const [from, to] of windows) {
        let afterId = 0
        for (;;) {
          const page = store.readReadings({ meterId: c.meterId, quantity: c.quantity ?? c.obis, from: new Date(from), to: new Date(to + 1), afterId, limit: READ_PAGE })
          out.push(...page)
          if (page.length < READ_PAGE) break
          afterId = page[page.length - 1]!.id
        }
      }
    }
    // Stable: readings of one time keep their id order.
    return out.sort((a, b) => a.time.getTime() - b.time.getTime())
  }

  const boundariesOf = (profile: TariffProfile, period: TafPeriod): Date[] => {
    switch (profile.useCase) {
      case 'taf2': {
        const segments = registerSegments(profile, period.start, period.end)
        return [period.start, ...segments.map((s) => s.end)]
      }
      case 'taf7': {
        const step = profile.schedule.periodSeconds * 1000
        const ends: Date[] = []
        for (let t = period.start.getTime() + step; t <= period.end.getTime(); t += step) ends.push(new Date(t))
        return ends
      }
      default: return [period.end]
    }
  }

  const inputFor = (profile: TariffProfile, boundaries: readonly Date[]) => ({
    readings: readingsFor(profile, boundaries),
    invalidTime: deps.invalidTime?.() ?? [],
  })

  const compute = (profile: TariffProfile, period: TafPeriod): TafComputation => {
    const input = inputFor(profile, boundariesOf(profile, period))
    switch (profile.useCase) {
      case 'taf1': return computeTaf1(profile, input, period)
      case 'taf2': return computeTaf2(profile, input, period)
      case 'taf6': return computeTaf6Daily(profile, input, period)
      case 'taf7': return computeTaf7(profile, input, period)
      case 'taf10': case 'taf14': return computeActual(profile, input, period.end, period.start)
      case 'taf9': throw new GatewayError('TAF_INPUT_INVALID', `profile ${profile.id}: taf9 runs on request only`)
    }
  }

  const seal = async (profile: TariffProfile, messages: readonly TafMessage[], summary: string): Promise<OutboxInput[]> => {
    const out: OutboxInput[] = []
    for (const m of messages) {
      let payload: Uint8Array
      try {
        payload = await deps.seal(m.bytes, m.recipient)
      } catch (err) {
        throw new GatewayError('TAF_SEAL_FAILED', `profile ${profile.id}: sealing ${m.messageId} for ${m.recipient} failed: ${messageOf(err)}`, { cause: err })
      }
      // The store takes a summary of at most 200 characters (many long register names can exceed it).
      out.push({ recipient: m.recipient, purpose: profile.useCase, payload, messageId: m.messageId, summary: summary.length > 200 ? `${summary.slice(0, 199)}…` : summary })
    }
    return out
  }

  const consumerOf = new Map(Object.entries(config.consumers ?? {}))
  const consumersOf = (profile: TariffProfile): string[] => consumersOfProfile(profile, consumerOf)

  const writeConsumerLog = async (profile: TariffProfile, text: string): Promise<void> => {
    if (deps.logs === undefined) return
    for (const consumer of consumersOf(profile)) {
      try {
        await deps.logs.consumer(consumer, { type: 'data-processed', fields: { purpose: profile.useCase, dataClass: TAF_DATA_CLASS[profile.useCase], text } })
      } catch (err) {
        log?.error({ err, profile: profile.id }, 'consumer-log entry failed')
      }
    }
  }

  const runOne = async (profile: TariffProfile, period: TafPeriod): Promise<TafRunReport> => {
    const computation = compute(profile, period)
    const withdrawn = deps.consentGranted?.(profile.id) === false
    const messages = profile.useCase === 'taf6' || withdrawn
      ? [] // taf6: the daily value set stays in the gateway for on-demand retrieval (42 days, retention); withdrawn: nothing leaves
      : buildTafMessages(profile, computation, { gatewayId: config.gatewayId, createdAt: now(), ...(deps.pseudonymSecret === undefined ? {} : { pseudonymSecret: deps.pseudonymSecret }) })
    const outbox = await seal(profile, messages, describeRun(profile, computation, undefined, true))
    const intervalValues: readonly IntervalValueInput[] = computation.intervalValues
    const { outboxIds } = store.commitTafRun({ profile: profile.id, until: period.end, intervalValues, outbox })
    const report: TafRunReport = { profile: profile.id, period: { start: period.start, end: period.end }, outboxIds, messageIds: messages.map((m) => m.messageId), intervalValues: intervalValues.length }
    log?.debug({ profile: profile.id, end: period.end.toISOString(), outboxIds }, 'taf period committed')
    const text = withdrawn ? `not sent: consent withdrawn (${profile.id}); ${describeRun(profile, computation)}` : describeRun(profile, computation)
    // TAF 10/14 run every few seconds: one consumer-log entry per legal day (and restart), not per period.
    if (profile.useCase === 'taf10' || profile.useCase === 'taf14') {
      const day = legalDayOf(period.start)
      if (loggedDays.get(profile.id) === day) return report
      loggedDays.set(profile.id, day)
    }
    await writeConsumerLog(profile, text)
    return report
  }

  const nextPeriod = (profile: TariffProfile): TafPeriod => {
    const mark = store.tafWatermark(profile.id)
    if (mark === undefined) throw new GatewayError('TAF_INPUT_INVALID', `profile ${profile.id} has no watermark`)
    const containing = periodContaining(profile, mark)
    if (containing.start.getTime() === mark.getTime()) return containing
    // The schedule changed under an existing watermark: continue at the next boundary of the
    // new schedule (the part before it was cut under the old one or is not computed).
    log?.warn({ profile: profile.id, watermark: mark.toISOString(), next: containing.end.toISOString() }, 'taf watermark is not on a period boundary')
    return periodStartingAt(profile, containing.end)
  }

  const initialise = (): void => {
    for (const p of config.profiles) {
      if (!isScheduled(p) || store.tafWatermark(p.id) !== undefined) continue
      // A new profile starts with the period containing now; nothing before it is computed.
      store.commitTafRun({ profile: p.id, until: periodContaining(p, now()).start })
    }
  }

  /**
   * Grid-status and high-frequency values (TAF 10, 14) are for the grid's present state: after
   * downtime or a step of legal time, periods that ended more than STALE_ACTUAL_MS ago are not
   * computed and sent (they would arrive as a flood of stale values); the watermark moves past
   * them and the log says how many were skipped.
   */
  const skipStale = (profile: TariffProfile): void => {
    if (profile.useCase !== 'taf10' && profile.useCase !== 'taf14') return
    const first = nextPeriod(profile)
    const keepFrom = periodContaining(profile, new Date(now().getTime() - STALE_ACTUAL_MS)).start
    if (first.start.getTime() >= keepFrom.getTime()) return
    const skipped = Math.round((keepFrom.getTime() - first.start.getTime()) / (profile.schedule.everySeconds * 1000))
    store.commitTafRun({ profile: profile.id, until: keepFrom })
    log?.warn({ profile: profile.id, skipped, from: first.start.toISOString(), to: keepFrom.toISOString() }, 'stale grid-status periods skipped (not computed, not sent)')
  }

  const pass = async (): Promise<TafRunReport[]> => {
    const reports: TafRunReport[] = []
    for (const profile of config.profiles) {
      if (!isScheduled(profile)) continue
      skipStale(profile)
      for (let i = 0; i < maxPerPass && state !== 'closed'; i++) {
        const period = nextPeriod(profile)
        if (period.dueAt.getTime() > now().getTime()) break
        try {
          reports.push(await runOne(profile, period))
        } catch (err) {
          // Nothing of this period was committed; it is tried again on the next pass.
          log?.error({ err, profile: profile.id, code: isGatewayError(err) ? err.code : undefined }, 'taf period failed')
          break
        }
      }
    }
    return reports
  }

  const arm = (): void => {
    if (state !== 'running') return
    const t = now().getTime()
    let wait = MAX_TIMER_MS
    for (const p of config.profiles) {
      if (!isScheduled(p)) continue
      if (store.tafWatermark(p.id) === undefined) continue
      wait = Math.min(wait, Math.max(0, nextPeriod(p).dueAt.getTime() - t))
    }
    cancel = setTimer(wait, () => {
      cancel = undefined
      void runDue().catch((err: unknown) => { log?.error({ err }, 'taf pass failed') })
    })
  }

  const runDue = (): Promise<TafRunReport[]> => serial(async () => {
    if (state === 'closed') return []
    cancel?.()
    cancel = undefined
    try {
      return await pass()
    } finally {
      arm()
    }
  })

  return {
    async start() {
      if (state !== 'idle') return
      state = 'running'
      initialise()
      await runDue()
    },
    async close() {
      if (state === 'closed') return
      state = 'closed'
      cancel?.()
      cancel = undefined
      await queue
    },
    runDue,
    request: (profileId, recipientId, options = {}) => serial(async () => {
      const profile = byId.get(profileId)
      if (profile === undefined) throw new GatewayError('TAF_INPUT_INVALID', `no tariff profile ${profileId}`)
      if (profile.useCase !== 'taf6' && profile.useCase !== 'taf9') throw new GatewayError('TAF_INPUT_INVALID', `profile ${profileId} is ${profile.useCase}: only taf6 and taf9 are read on request`)
      if (!profile.recipients.some((r) => r.id === recipientId)) throw new GatewayError('TAF_RECIPIENT_UNKNOWN', `${recipientId} is not a recipient of tariff profile ${profileId}: it receives nothing`)
      const at = now()
      const input = inputFor(profile, [at])
      let computation = profile.useCase === 'taf6' ? computeTaf6Reading(profile, input, at) : computeActual(profile, input, at)
      if (profile.useCase === 'taf6' && options.dailySince !== undefined) {
        const since = options.dailySince
        const daily = profile.channels.flatMap((c) => store.readIntervalValues({ meterId: c.meterId, quantity: c.obis, from: since, to: at }))
        computation = withDailyValues(computation, daily)
      }
      const message = buildTafMessage(profile, computation, recipientId, { gatewayId: config.gatewayId, createdAt: at, ...(deps.pseudonymSecret === undefined ? {} : { pseudonymSecret: deps.pseudonymSecret }) })
      const [item] = await seal(profile, [message], describeRun(profile, computation, recipientId, true))
      const outboxId = store.enqueueOutbox(item!)
      await writeConsumerLog(profile, describeRun(profile, computation, recipientId))
      return { messageId: message.messageId, outboxId }
    }),
  }
}

/**
 * Plain words for the consumer log: what was computed, of when, for whom. As an outbox
 * summary (`asSummary`): what a message carries, without the verb and the recipients
 * ("96 quarter-hour values of 23 Nov 2026 for TAF 7 (load profile)"); the delivery's
 * consumer-log entry is worded from it, as the payload itself is encrypted.
 */
export function describeRun(profile: TariffProfile, c: TafComputation, requestedBy?: string, asSummary = false): string {
  const onRequest = requestedBy !== undefined
  const values = c.series.reduce((n, s) => n + s.values.length, 0)
  const gaps = c.series.reduce((n, s) => n + s.values.filter((v) => v.value === null).length, 0)
  const date = (d: Date): string => { const t = toLegalTime(d); return `${t.day} ${MONTHS[t.month - 1]!} ${t.year}` }
  const time = (d: Date): string => { const t = toLegalTime(d); return `${String(t.hour).padStart(2, '0')}:${String(t.minute).padStart(2, '0')}` }
  const lastInstant = new Date(c.period.end.getTime() - 1)
  const to = profile.recipients.filter((r) => requestedBy === undefined || r.id === requestedBy).map((r) => `${r.id} (${r.role})`).join(', ')
  const gapText = gaps > 0 ? `, ${gaps} without a value` : ''
  const computed = asSummary ? '' : ' computed'
  const onRequestText = asSummary ? '' : ' read on request'
  const what = ((): string => {
    switch (profile.useCase) {
      case 'taf7': {
        const seconds = c.series[0]?.periodSeconds ?? 900
        const unit = seconds === 900 ? 'quarter-hour' : `${seconds}-second`
        const span = legalDayOf(c.period.start) === legalDayOf(lastInstant) && time(c.period.start) === '00:00' && time(c.period.end) === '00:00'
          ? `of ${date(c.period.start)}` : `of ${date(c.period.start)} ${time(c.period.start)}–${time(c.period.end)}`
        return `${values} ${unit} values ${span}${gapText}${computed} for TAF 7 (load profile)`
      }
      case 'taf1': return `meter reading at the end of the billing period (${date(c.period.end)} 00:00)${gapText}${computed} for TAF 1`
      case 'taf2': return `tariff register values (${profile.registers.names.join(', ')}) of ${date(c.period.start)}–${date(lastInstant)}${gapText}${computed} for TAF 2`
      case 'taf6': {
        const daily = c.series.reduce((n, s) => n + s.values.length, 0) - c.series.length
        return onRequest
          ? `meter reading of ${date(c.period.end)} ${time(c.period.end)}${daily > 0 ? ` and ${daily} kept daily values` : ''}${gapText}${onRequestText} for TAF 6`
          : `daily meter reading of ${date(lastInstant)}${gapText} kept for on-demand reading (TAF 6)`
      }
      case 'taf9': return `actual values of ${date(c.period.end)} ${time(c.period.end)}${gapText}${onRequestText} for TAF 9`
      case 'taf10': return `grid-status values (voltage, current, power) computed every ${profile.schedule.everySeconds} s on ${date(c.period.start)} for TAF 10`
      case 'taf14': return `high-frequency values computed every ${profile.schedule.everySeconds} s on ${date(c.period.start)} for TAF 14`
    }
  })()
  return (profile.useCase === 'taf6' && !onRequest) || asSummary ? what : `${what}; for ${to}`
}

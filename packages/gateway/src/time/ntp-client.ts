import { randomBytes as nodeRandomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { isIPv6 } from 'node:net'
import type { Logger } from 'pino'
import { GatewayError } from '../errors.js'
import type { CalibrationLogEntry } from '../log/entries.js'
import { messageOf } from '../store/store.js'
import type { TimeConfig } from './config.js'
import { createLegalClock, type LegalClock, type SntpSample, type SyncOutcome, type TimeServer } from './legal-clock.js'
import { decodeSntpResponse, encodeSntpRequest, kissCodeOf, ntpToUnixMs, unixMsToNtp, type SntpResponse } from './sntp.js'

/** Schedules `fn` after `ms`, returns a cancel function. */
export type SetTimer = (ms: number, fn: () => void) => () => void

export interface SntpQueryOptions {
  /** Per attempt, ms (default 2000). */
  readonly timeoutMs?: number
  /** Further attempts after a timeout or a bad answer (default 2). */
  readonly retries?: number
  /** Wait before the first retry, doubled for each further one, ms (default 1000). */
  readonly backoffMs?: number
  readonly signal?: AbortSignal
}

export interface SntpQueryDeps {
  readonly systemNow: () => Date
  /** Default setTimeout; tests fire timeouts themselves. */
  readonly setTimer?: SetTimer
  /** Default node:crypto randomBytes: the low bits of the transmit timestamp (the nonce). */
  readonly randomBytes?: (n: number) => Uint8Array
}

export interface SntpQueryResult extends SntpSample {
  readonly response: SntpResponse
  /** 1 for the first attempt. */
  readonly attempts: number
}

const defaultSetTimer: SetTimer = (ms, fn) => {
  const t = setTimeout(fn, ms)
  return () => { clearTimeout(t) }
}

/** Random bits in the low part of the transmit fraction: 2¹⁶ × 2⁻³² s ≈ 15 µs, below any clock's precision here. */
const NONCE_MASK = 0xffff

/**
 * One SNTP exchange with `server` over UDP (RFC 4330 §5): a fresh socket per attempt,
 * connected to the server so that only its datagrams arrive, closed on every path.
 *
 * - A reply whose originate timestamp is not this attempt's transmit timestamp is
 *   dropped (RFC 5905 §8) and the attempt keeps waiting; if nothing valid follows
 *   before the timeout, the attempt fails with TIME_ORIGINATE_MISMATCH.
 * - Other bad replies fail the attempt at once (TIME_RESPONSE_INVALID).
 * - TIME_KISS_OF_DEATH and TIME_SERVER_UNSYNCHRONISED end the query without retrying
 *   (RFC 5905 §7.4: a kissed client must not insist).
 * - Otherwise up to `retries` further attempts, after `backoffMs`, 2 × `backoffMs`, …;
 *   the last attempt's error is thrown (TIME_QUERY_TIMEOUT when nothing came back).
 * - `signal` aborts at once with TIME_QUERY_FAILED.
 */
export async function querySntp(server: TimeServer, options: SntpQueryOptions, deps: SntpQueryDeps): Promise<SntpQueryResult> {
  const timeoutMs = options.timeoutMs ?? 2000
  const retries = options.retries ?? 2
  const backoffMs = options.backoffMs ?? 1000
  const setTimer = deps.setTimer ?? defaultSetTimer
  let lastError: unknown
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    if (attempt > 1) await wait(setTimer, backoffMs * 2 ** (attempt - 2), options.signal)
    try {
      const r = await exchange(server, timeoutMs, setTimer, deps, options.signal)
      return { ...r, attempts: attempt }
    } catch (err) {
      lastError = err
      if (err instanceof GatewayError && (err.code === 'TIME_KISS_OF_DEATH' || err.code === 'TIME_SERVER_UNSYNCHRONISED')) throw err
      if (options.signal?.aborted === true) throw err
    }
  }
  throw lastError
}

function aborted(): GatewayError {
  return new GatewayError('TIME_QUERY_FAILED', 'the time query was aborted')
}

function wait(setTimer: SetTimer, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(aborted())
      return
    }
    const onAbort = (): void => {
      cancel()
      reject(aborted())
    }
    const cancel = setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    })
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

function exchange(server: TimeServer, timeoutMs: number, setTimer: SetTimer, deps: SntpQueryDeps, signal: AbortSignal | undefined): Promise<Omit<SntpQueryResult, 'attempts'>> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(aborted())
      return
    }
    const where = `${server.host}:${server.port}`
    const socket = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4')
    let done = false
    let cancelTimer: (() => void) | undefined
    let bogus: GatewayError | undefined
    const finish = (err: Error | undefined, value?: Omit<SntpQueryResult, 'attempts'>): void => {
      if (done) return
      done = true
      cancelTimer?.()
      signal?.removeEventListener('abort', onAbort)
      socket.removeAllListeners('message')
      try {
        socket.close()
      } catch {
        // already closed (bind failed): nothing to undo
      }
      if (value !== undefined) resolve(value)
      else reject(err ?? new GatewayError('TIME_QUERY_FAILED', 'no result'))
    }
    const onAbort = (): void => { finish(aborted()) }
    signal?.addEventListener('abort', onAbort, { once: true })
    socket.on('error', (err) => { finish(new GatewayError('TIME_QUERY_FAILED', `time query to ${where} failed: ${err.message}`, { cause: err })) })
    socket.connect(server.port, server.host, () => {
      if (done) return
      const nonce = deps.randomBytes?.(2) ?? nodeRandomBytes(2)
      const base = unixMsToNtp(deps.systemNow().getTime())
      const transmit = { seconds: base.seconds, fraction: ((base.fraction & ~NONCE_MASK) | ((nonce[0] ?? 0) << 8) | (nonce[1] ?? 0)) >>> 0 }
      const t1 = ntpToUnixMs(transmit, deps.systemNow().getTime())
      socket.on('message', (msg) => {
        const t4 = deps.systemNow().getTime()
        let response: SntpResponse
        try {
          response = decodeSntpResponse(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), transmit)
        } catch (err) {
          // RFC 5905 §8: a bogus packet is dropped; the real answer may still come.
          if (err instanceof GatewayError && err.code === 'TIME_ORIGINATE_MISMATCH') bogus = err
          else finish(err instanceof Error ? err : new GatewayError('TIME_RESPONSE_INVALID', String(err)))
          return
        }
        const t2 = ntpToUnixMs(response.receiveTime, t1)
        const t3 = ntpToUnixMs(response.transmitTime, t2)
        finish(undefined, { t1, t2, t3, t4, response })
      })
      cancelTimer = setTimer(timeoutMs, () => {
        finish(bogus ?? new GatewayError('TIME_QUERY_TIMEOUT', `no answer from the time server ${where} within ${timeoutMs} ms`))
      })
      socket.send(encodeSntpRequest(transmit), (err) => {
        if (err) finish(new GatewayError('TIME_QUERY_FAILED', `time query to ${where} not sent: ${err.message}`, { cause: err }))
      })
    })
  })
}

export interface TimeServiceDeps {
  /** The system clock (default `new Date()`). */
  readonly systemNow?: () => Date
  readonly setTimer?: SetTimer
  readonly logger?: Logger
  /** Appends to the calibration log. */
  readonly calibration?: (entry: CalibrationLogEntry) => Promise<unknown>
  /** Replaces the UDP query (default `querySntp` with the configured timeout and retries). */
  readonly query?: (server: TimeServer, signal: AbortSignal) => Promise<SntpSample>
}

export interface TimeService {
  /**
   * Synchronises now and resolves once that first attempt is over (successful or not: the
   * query has its own timeout and retries), then keeps polling every `pollIntervalS`. The
   * gateway starts its tariff stage only after it, so periods are not laid out on a clock
   * that the first sync is about to step. Idempotent.
   */
  start(): Promise<void>
  /** Stops polling, aborts a query in flight and waits for it. Idempotent. */
  close(): Promise<void>
  /** One synchronisation now (also what the poll runs). */
  syncNow(): Promise<SyncOutcome>
  /** The legal clock the service keeps. */
  readonly clock: LegalClock
}

/** Longest poll interval after RATE kisses, s. */
const MAX_POLL_S = 86_400

/**
 * The legal-time service: a legal clock synchronised against the configured NTP server
 * every `pollIntervalS` (first sync at start). Kiss-o'-death (RFC 5905 §7.4): RATE
 * doubles the poll interval (up to a day; a successful sync restores it); DENY and RSTR
 * stop querying that server (the holdover check keeps running at the poll interval, so
 * the clock goes restricted in time) until the service is restarted with a new
 * configuration.
 */
export function createTimeService(config: TimeConfig, deps: TimeServiceDeps = {}): TimeService {
  const systemNow = deps.systemNow ?? (() => new Date())
  const setTimer = deps.setTimer ?? defaultSetTimer
  const log = deps.logger?.child({ component: 'time' })
  const controller = new AbortController()
  const query = deps.query ?? ((server: TimeServer, signal: AbortSignal) =>
    querySntp(server, { timeoutMs: config.timeoutMs, retries: config.retries, signal }, { systemNow, setTimer }))
  const clock = createLegalClock(
    { server: config.ntp, registrationPeriodS: config.registrationPeriodS, assumedDriftPpm: config.assumedDriftPpm },
    {
      systemNow,
      query: (server) => query(server, controller.signal),
      ...(deps.calibration === undefined ? {} : { calibration: deps.calibration }),
      ...(deps.logger === undefined ? {} : { logger: deps.logger }),
    },
  )
  let state: 'idle' | 'running' | 'closed' = 'idle'
  let pollS = config.pollIntervalS
  let denied = false
  let cancelTimer: (() => void) | undefined
  let inFlight: Promise<unknown> = Promise.resolve()

  const syncNow = async (): Promise<SyncOutcome> => {
    const outcome = await clock.sync()
    if (outcome.ok) {
      pollS = config.pollIntervalS
      return outcome
    }
    const kiss = kissCodeOf(outcome.error)
    if (kiss === 'RATE') {
      pollS = Math.min(MAX_POLL_S, pollS * 2)
      log?.warn({ pollIntervalS: pollS }, 'time server asks to slow down (kiss-o\'-death RATE): poll interval doubled')
    } else if (kiss === 'DENY' || kiss === 'RSTR') {
      denied = true
      log?.error({ server: `${config.ntp.host}:${config.ntp.port}`, kiss }, 'time server refuses this gateway (kiss-o\'-death): no further queries until the configuration changes')
    }
    return outcome
  }

  const tick = (): void => {
    if (state !== 'running') return
    const run = (denied ? clock.check() : syncNow()).catch((err: unknown) => { log?.error({ err: messageOf(err) }, 'time synchronisation tick failed') })
    inFlight = run
    void run.then(() => {
      if (state === 'running') cancelTimer = setTimer(pollS * 1000, tick)
    })
  }

  return {
    clock,
    syncNow,
    start() {
      if (state !== 'idle') return Promise.resolve()
      state = 'running'
      log?.info({ server: `${config.ntp.host}:${config.ntp.port}`, pollIntervalS: config.pollIntervalS }, 'legal time service started')
      tick()
      return inFlight.then(() => undefined)
    },
    async close() {
      if (state === 'closed') return
      const wasRunning = state === 'running'
      state = 'closed'
      cancelTimer?.()
      cancelTimer = undefined
      controller.abort()
      await inFlight
      if (wasRunning) log?.info('legal time service stopped')
    },
  }
}

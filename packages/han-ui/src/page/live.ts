/*
 * The live view's connection to `GET /api/v1/live` (Server-Sent Events), kept up by itself:
 * when the stream drops (the gateway restarted, the HAN service closed, the connection cut or
 * silently dead) it is closed, and a new one is opened after a growing, capped, jittered delay —
 * one stream at a time, never two. No DOM, no clock: the EventSource, the timer and randomness
 * come in, so the schedule and the state changes are tested without a browser.
 *
 * Why the page does the retrying and not the browser: EventSource's own reconnection waits a
 * fixed time (the server's `retry:`, ~3 s by default) forever, gives up for good on any non-200
 * answer (a 503 while the gateway shuts down, a 401 after the session ended), and does not
 * notice a connection that died without a FIN. So every `error` closes the source here; before
 * each new one the session is asked for (a 401 ends the live view, a network failure waits for
 * the next delay); the server's heartbeat (`hello` announces its interval) lets a dead
 * connection be detected; and after a reconnection the values are fetched once, because the
 * stream carries only readings committed while it is open.
 */

/** The server's events the page uses (packages/gateway README "HAN service", `GET /api/v1/live`). */
export interface LiveSource {
  addEventListener(type: 'open' | 'error' | 'hello' | 'heartbeat' | 'reading', listener: (event: { readonly data?: unknown }) => void): void
  close(): void
}

export type LiveState = 'connecting' | 'live' | 'reconnecting'

export interface LiveStatus {
  readonly state: LiveState
  /** Failed attempts since the stream was last live (0 while live or connecting the first time). */
  readonly attempt: number
  /** While `reconnecting`: the delay before the next attempt. */
  readonly retryInMs?: number
}

export interface LiveBackoff {
  /** The first delay after a drop (before jitter). */
  readonly firstMs: number
  /** No delay is longer than this (before jitter). */
  readonly capMs: number
}

/** 1 s, 2 s, 4 s … up to 30 s, each between half and all of it (jitter: pages of one gateway do not return in step). */
export const LIVE_BACKOFF: LiveBackoff = { firstMs: 1000, capMs: 30_000 }

/** The stream counts as dead after this many heartbeat intervals without any event. */
export const LIVE_HEARTBEAT_MISSES = 2.5

/**
 * The delay before reconnection attempt `attempt` (1, 2, …): `firstMs · 2^(attempt−1)`, at most
 * `capMs`, times a factor in [0.5, 1) from `random` ("equal jitter"). Pure.
 */
export function reconnectDelayMs(attempt: number, random: () => number, backoff: LiveBackoff = LIVE_BACKOFF): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt ${String(attempt)}: a positive integer`)
  const base = Math.min(backoff.capMs, backoff.firstMs * 2 ** Math.min(attempt - 1, 30))
  const r = Math.min(Math.max(random(), 0), 1)
  return Math.round(base / 2 + (base / 2) * r)
}

export interface LiveConnectionDeps {
  /** Opens a new stream (`new EventSource('/api/v1/live')` in the page). */
  readonly open: () => LiveSource
  /**
   * Asked before each reconnection: true opens a new stream, false ends the live view (the
   * session ended or the view was left); a rejection (network failure, 5xx) waits for the next delay.
   */
  readonly check: () => Promise<boolean>
  readonly setTimer: (ms: number, fn: () => void) => () => void
  readonly random: () => number
  readonly onStatus: (status: LiveStatus) => void
  /** The `data` of a `reading` event, as sent (JSON text). */
  readonly onReading: (data: string) => void
  /** The stream is live again after a drop: fetch what was committed meanwhile. */
  readonly onResync: () => void
  readonly backoff?: LiveBackoff
}

export interface LiveConnection {
  /** Opens the stream (idempotent while running). */
  start(): void
  /** Closes the stream and cancels every timer; nothing is called afterwards. Idempotent. */
  stop(): void
  /** Whether a stream object exists now (at most one ever does). */
  hasStream(): boolean
}

export function createLiveConnection(deps: LiveConnectionDeps): LiveConnection {
  const backoff = deps.backoff ?? LIVE_BACKOFF
  let running = false
  let source: LiveSource | undefined
  let attempt = 0
  let resyncDue = false
  let heartbeatMs: number | undefined
  let cancelRetry: (() => void) | undefined
  let cancelWatchdog: (() => void) | undefined
  let lastStatus = ''

  const status = (s: LiveStatus): void => {
    const key = `${s.state}|${String(s.attempt)}|${String(s.retryInMs)}`
    if (key === lastStatus) return
    lastStatus = key
    deps.onStatus(s)
  }

  const armWatchdog = (): void => {
    cancelWatchdog?.()
    cancelWatchdog = undefined
    if (heartbeatMs === undefined) return
    const current = source
    cancelWatchdog = deps.setTimer(Math.ceil(heartbeatMs * LIVE_HEARTBEAT_MISSES), () => { if (source === current) drop() })
  }

  const closeSource = (): void => {
    cancelWatchdog?.()
    cancelWatchdog = undefined
    heartbeatMs = undefined
    source?.close()
    source = undefined
  }

  /** The stream is gone: close it and try again after the next delay. */
  const drop = (): void => {
    if (!running) return
    closeSource()
    // Readings committed while no stream was open are not sent later: fetch them once it is back.
    resyncDue = true
    schedule()
  }

  const schedule = (): void => {
    attempt++
    const delay = reconnectDelayMs(attempt, deps.random, backoff)
    status({ state: 'reconnecting', attempt, retryInMs: delay })
    cancelRetry?.()
    cancelRetry = deps.setTimer(delay, () => {
      cancelRetry = undefined
      deps.check().then((go) => {
        if (!running) return
        if (go) connect()
        else stop()
      }, () => { if (running) schedule() })
    })
  }

  const connect = (): void => {
    closeSource()
    const s = deps.open()
    source = s
    if (attempt === 0) status({ state: 'connecting', attempt })
    const mine = (fn: (event: { readonly data?: unknown }) => void) => (event: { readonly data?: unknown }): void => {
      if (source === s && running) fn(event)
    }
    s.addEventListener('open', mine(() => {
      attempt = 0
      status({ state: 'live', attempt })
      if (resyncDue) { resyncDue = false; deps.onResync() }
      armWatchdog()
    }))
    s.addEventListener('hello', mine((event) => {
      heartbeatMs = heartbeatOf(event.data)
      armWatchdog()
    }))
    s.addEventListener('heartbeat', mine(() => { armWatchdog() }))
    s.addEventListener('reading', mine((event) => {
      armWatchdog()
      if (typeof event.data === 'string') deps.onReading(event.data)
    }))
    s.addEventListener('error', mine(() => { drop() }))
  }

  const stop = (): void => {
    running = false
    cancelRetry?.()
    cancelRetry = undefined
    closeSource()
  }

  return {
    start() {
      if (running) return
      running = true
      attempt = 0
      resyncDue = false
      lastStatus = ''
      connect()
    },
    stop,
    hasStream: () => source !== undefined,
  }
}

/** `hello`'s `{ "heartbeatMs": n }`; anything else: no heartbeat (no watchdog). */
function heartbeatOf(data: unknown): number | undefined {
  if (typeof data !== 'string') return undefined
  try {
    const parsed = JSON.parse(data) as { heartbeatMs?: unknown }
    const ms = parsed.heartbeatMs
    return typeof ms === 'number' && Number.isFinite(ms) && ms >= 100 && ms <= 3_600_000 ? ms : undefined
  } catch {
    return undefined
  }
}

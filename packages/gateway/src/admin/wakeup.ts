import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import {
  AdminProtocolError, WAKE_UP_MAX_BYTES, checkAddressed, checkFreshness, checkIncreasing, isAdminProtocolError, openWakeUp, peekWakeUp,
  type AdminProtocolErrorCode, type SignerVerifier, type WakeUp,
} from '@smgw/admin-protocol'
import type { Logger } from 'pino'
import { z } from 'zod'
import { GatewayError } from '../errors.js'

/*
 * The wake-up packet (docs/admin-protocol.md "Wake-up"; TR-03109-1 v1.1 wake-up service: the gateway
 * accepts no connection from the WAN, it only lets the GWA ask it to call): the one UDP port
 * the gateway listens on. A pure gate decides per datagram, cheapest check first, so a flood
 * costs parsing and the token bucket bounds the elliptic-curve work; the listener binds the
 * socket, keeps counts and throttles the system-log entries.
 */

export const WakeUpConfig = z.strictObject({
  host: z.string().min(1).default('0.0.0.0'),
  /** The gateway's wake-up port on the WAN interface (0: any free port, for tests). */
  port: z.int().min(0).max(65_535).default(8124),
  /** How far `createdAt` may lie from legal time, either way, in seconds. */
  freshnessS: z.int().min(1).max(86_400).default(300),
  /** Signature checks per second, refilled continuously, shared by all senders. */
  ratePerS: z.number().positive().max(100_000).default(10),
  /** Signature checks allowed at once after a quiet period. */
  burst: z.int().min(1).max(100_000).default(20),
  /** Single rejection entries per minute in the system log; the rest go into one summary per reason. */
  logPerMinute: z.int().min(0).max(100_000).default(20),
})
export type WakeUpConfig = z.infer<typeof WakeUpConfig>

/** The `result` of a system-log `wake-up` entry (packages/gateway/src/log/entries.ts). */
export type WakeUpLogResult = 'accepted' | 'too-large' | 'malformed' | 'not-addressed' | 'stale' | 'replayed' | 'rate-limited' | 'bad-signature' | 'signer-not-gwa'
export type WakeUpRejection = Exclude<WakeUpLogResult, 'accepted'>

export const WAKE_UP_LOG_RESULTS: readonly WakeUpLogResult[] = [
  'accepted', 'too-large', 'malformed', 'not-addressed', 'stale', 'replayed', 'rate-limited', 'bad-signature', 'signer-not-gwa',
]

/** Protocol reason → log result; codes a wake-up cannot produce never reach here. */
const REJECTION_OF: Readonly<Partial<Record<AdminProtocolErrorCode, WakeUpRejection>>> = {
  TOO_LARGE: 'too-large',
  MALFORMED: 'malformed',
  UNSUPPORTED_FORMAT: 'malformed',
  NOT_ADDRESSED: 'not-addressed',
  STALE: 'stale',
  REPLAYED: 'replayed',
  SIGNATURE_INVALID: 'bad-signature',
  SIGNER_NOT_GWA: 'signer-not-gwa',
}

export type WakeUpDecision =
  | { readonly result: 'accepted'; readonly wakeUp: WakeUp }
  | { readonly result: WakeUpRejection; readonly detail: string }

export interface WakeUpGateDeps {
  readonly gatewayId: string
  /** The GWA verifier (@smgw/admin-protocol createSignerVerifier, notOwnRole SIGNER_NOT_GWA). */
  readonly verifier: SignerVerifier
  /** Legal time: freshness and certificate validity. */
  readonly now: () => Date
  /** The last accepted counter, persisted by the caller (0 before the first). */
  lastCounter(): number
  acceptCounter(counter: number): void
  /** Milliseconds of a monotonic clock for the token bucket; default performance.now (the bucket must not jump with legal-time corrections). */
  readonly monotonicMs?: () => number
}

export interface WakeUpGate {
  /**
   * Decides one datagram. An accepted counter is stored before this resolves; rejects only
   * when `acceptCounter` throws (then nothing is accepted: a counter that was not stored
   * could be replayed).
   */
  check(datagram: Uint8Array): Promise<WakeUpDecision>
  /** Signature checks started so far (the bucket's spending). */
  verifications(): number
}

/**
 * The decision of docs/admin-protocol.md "Wake-up", in its order: size, parse without
 * verifying, addressed to this gateway, fresh, counter greater than the last, a token of the
 * shared bucket, then signature and GWA identity. The counter is checked again after the
 * (asynchronous) signature check, so two copies of one packet in flight are accepted once.
 */
export function createWakeUpGate(config: Pick<WakeUpConfig, 'freshnessS' | 'ratePerS' | 'burst'>, deps: WakeUpGateDeps): WakeUpGate {
  const monotonic = deps.monotonicMs ?? (() => performance.now())
  const bucket = createTokenBucket(config.ratePerS, config.burst, monotonic)
  let verifications = 0
  const reject = (err: unknown): WakeUpDecision => {
    if (isAdminProtocolError(err)) return { result: REJECTION_OF[err.code] ?? 'malformed', detail: err.message }
    // Anything else is a defect below us; the packet is refused all the same and nothing is accepted.
    return { result: 'malformed', detail: err instanceof Error ? err.message : String(err) }
  }
  const checkCounter = (w: WakeUp): void => { checkIncreasing(w.counter, deps.lastCounter(), 'counter') }
  return {
    async check(datagram) {
      let peeked: WakeUp
      try {
        if (datagram.length > WAKE_UP_MAX_BYTES) throw new AdminProtocolError('TOO_LARGE', `${datagram.length} bytes, at most ${WAKE_UP_MAX_BYTES}`)
        peeked = peekWakeUp(datagram)
        checkAddressed(peeked.gatewayId, deps.gatewayId)
        checkFreshness(peeked.createdAt, deps.now(), config.freshnessS)
        checkCounter(peeked)
      } catch (err) {
        return reject(err)
      }
      if (!bucket.take()) return { result: 'rate-limited', detail: 'no signature check left in the bucket' }
      verifications++
      let w: WakeUp
      try {
        const at = deps.now()
        w = await openWakeUp(datagram, deps.verifier, at)
        // The verified bytes are the peeked bytes; checked again because legal time moved and another packet may have won.
        checkFreshness(w.createdAt, at, config.freshnessS)
        checkCounter(w)
      } catch (err) {
        return reject(err)
      }
      deps.acceptCounter(w.counter)
      return { result: 'accepted', wakeUp: w }
    },
    verifications: () => verifications,
  }
}

/** A token bucket (rate per second, capacity `burst`), full at creation. */
function createTokenBucket(ratePerS: number, burst: number, monotonic: () => number): { take(): boolean } {
  let tokens = burst
  let last = monotonic()
  return {
    take() {
      const t = monotonic()
      tokens = Math.min(burst, tokens + ((t - last) / 1000) * ratePerS)
      last = t
      if (tokens < 1) return false
      tokens -= 1
      return true
    },
  }
}

export interface WakeUpLogEntry {
  readonly result: WakeUpLogResult
  /** The sender's address and port; absent in a summary. */
  readonly source?: string
  /** In a summary: how many packets of this result were not logged singly in the minute. */
  readonly count?: number
}

export interface WakeUpListenerDeps extends WakeUpGateDeps {
  /** Writes a system-log `wake-up` entry. */
  log(entry: WakeUpLogEntry): void
  /** An accepted wake-up: the caller opens the admin session (absorbing one while a session runs). */
  onWakeUp(w: WakeUp): void
  readonly setTimer?: (ms: number, fn: () => void) => () => void
  readonly logger?: Logger
}

export interface WakeUpListener {
  start(): Promise<void>
  /** The bound port (after start). */
  port(): number
  /** Stops receiving, waits for checks in flight, writes the pending log summary. Idempotent. */
  close(): Promise<void>
  /** Packets decided so far, per result. */
  stats(): Readonly<Record<WakeUpLogResult, number>>
}

const LOG_WINDOW_MS = 60_000

export function createWakeUpListener(config: WakeUpConfig, deps: WakeUpListenerDeps): WakeUpListener {
  const gate = createWakeUpGate(config, deps)
  const setTimer = deps.setTimer ?? ((ms, fn) => {
    const t = setTimeout(fn, ms)
    return () => { clearTimeout(t) }
  })
  const logger = deps.logger?.child({ component: 'wake-up' })
  const counts = Object.fromEntries(WAKE_UP_LOG_RESULTS.map((r) => [r, 0])) as Record<WakeUpLogResult, number>
  const inFlight = new Set<Promise<void>>()
  let socket: Socket | undefined
  let closing: Promise<void> | undefined

  // Log throttling (docs "Wake-up"): the first `logPerMinute` rejections of a window singly,
  // the rest counted per reason and written as one summary each when the window ends.
  let windowSingles = 0
  let suppressed = new Map<WakeUpRejection, number>()
  let cancelWindow: (() => void) | undefined
  const flushWindow = () => {
    cancelWindow = undefined
    for (const [result, count] of suppressed) safeLog({ result, count })
    suppressed = new Map()
    windowSingles = 0
  }
  const safeLog = (entry: WakeUpLogEntry) => {
    try {
      deps.log(entry)
    } catch (err) {
      logger?.error({ err, result: entry.result }, 'wake-up log entry not written')
    }
  }
  const logRejection = (result: WakeUpRejection, source: string) => {
    cancelWindow ??= setTimer(LOG_WINDOW_MS, flushWindow)
    if (windowSingles < config.logPerMinute) {
      windowSingles++
      safeLog({ result, source })
    } else {
      suppressed.set(result, (suppressed.get(result) ?? 0) + 1)
    }
  }

  const receive = async (datagram: Buffer, rinfo: RemoteInfo) => {
    const source = `${rinfo.address}:${String(rinfo.port)}`.slice(0, 64)
    let decision: WakeUpDecision
    try {
      decision = await gate.check(new Uint8Array(datagram.buffer, datagram.byteOffset, datagram.length))
    } catch (err) {
      logger?.error({ err, source }, 'wake-up counter not stored: wake-up dropped')
      return
    }
    counts[decision.result]++
    if (decision.result === 'accepted') {
      safeLog({ result: 'accepted', source })
      logger?.info({ counter: decision.wakeUp.counter, source }, 'wake-up accepted')
      try {
        deps.onWakeUp(decision.wakeUp)
      } catch (err) {
        logger?.error({ err }, 'onWakeUp failed')
      }
      return
    }
    logger?.debug({ result: decision.result, source, detail: decision.detail }, 'wake-up rejected')
    logRejection(decision.result, source)
  }

  return {
    async start() {
      if (closing !== undefined) throw new GatewayError('ADMIN_START_FAILED', 'wake-up listener closed')
      if (socket !== undefined) return
      const s = createSocket({ type: config.host.includes(':') ? 'udp6' : 'udp4' })
      s.on('message', (msg, rinfo) => {
        if (closing !== undefined) return
        const p = receive(msg, rinfo)
        inFlight.add(p)
        void p.finally(() => inFlight.delete(p))
      })
      s.on('error', (err) => { logger?.error({ err }, 'wake-up socket error') })
      await new Promise<void>((resolve, reject) => {
        const fail = (err: Error) => { reject(new GatewayError('ADMIN_START_FAILED', `wake-up port ${config.host}:${String(config.port)} cannot be bound: ${err.message}`, { cause: err })) }
        s.once('error', fail)
        s.bind(config.port, config.host, () => {
          s.off('error', fail)
          resolve()
        })
      })
      socket = s
      logger?.info({ port: s.address().port }, 'wake-up listener started')
    },
    port() {
      if (socket === undefined) throw new GatewayError('ADMIN_START_FAILED', 'wake-up listener not started')
      return socket.address().port
    },
    close() {
      closing ??= (async () => {
        const s = socket
        socket = undefined
        if (s !== undefined) await new Promise<void>((resolve) => { s.close(() => { resolve() }) })
        await Promise.all([...inFlight])
        cancelWindow?.()
        flushWindow()
      })()
      return closing
    },
    stats: () => ({ ...counts }),
  }
}

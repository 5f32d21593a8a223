import { KeyObject } from 'node:crypto'
import type { TLSSocket } from 'node:tls'
import { METER_DATA_PATH } from '@smgw/meter-data'
import { createTlsContext, type TlsContext } from '@smgw/pki'
import type { Logger } from 'pino'
import { z } from 'zod'
import { GatewayError } from '../errors.js'
import { LOG_ID } from '../log/entries.js'
import type { GatewayLogs } from '../log/writer.js'
import { messageOf } from '../store/store.js'
import type { OutboxItem, Store } from '../store/types.js'
import { backoffDelay, type RetryPolicy } from './backoff.js'
import { createRecipientConnection, type PostOutcome, type RecipientTarget } from './post.js'

/*
 * WAN delivery (docs/wan-protocol.md "Gateway side"): takes due items from the persistent
 * outbox and POSTs them, one mutual-TLS 1.2 connection per recipient, the gateway always the
 * client — this service opens no listening socket (TR-03109-1). Every item is sent with its
 * messageId as Idempotency-Key, so a retry after a lost answer is a receiver-side 200
 * duplicate, never a second copy. The outbox row is only changed after an answer (or a
 * failure) was seen, so a crash anywhere leaves the item pending and it is sent again.
 */

const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'bytes (DER)')
const ServerSubject = z.strictObject({
  C: z.string().min(1), O: z.string().min(1), OU: z.string().min(1), L: z.string().min(1), serialNumber: z.string().min(1), CN: z.string().min(1),
}).partial()

export const DeliveryRecipient = z.strictObject({
  /** The market participant's ID as the outbox names it. */
  id: z.string().regex(LOG_ID, '1–64 characters A–Z a–z 0–9 . _ : -'),
  /** The receiver's base URL, https only; messages go to `<url path>/v1/meter-data`. */
  url: z.string().refine((s) => {
    try {
      const u = new URL(s)
      return u.protocol === 'https:' && u.username === '' && u.password === '' && u.search === '' && u.hash === ''
    } catch {
      return false
    }
  }, 'an https URL without credentials, query or fragment'),
  /** Subject attributes the server's TLS certificate must carry (the participant ID, where the PKI puts it there). */
  serverSubject: ServerSubject.optional(),
})
export type DeliveryRecipient = z.infer<typeof DeliveryRecipient>

export const DeliveryRetry = z.strictObject({
  initialMs: z.int().min(1).max(86_400_000).default(30_000),
  maxMs: z.int().min(1).max(7 * 86_400_000).default(6 * 3_600_000),
  factor: z.number().min(1).max(16).default(2),
  jitter: z.enum(['full', 'equal']).default('equal'),
}).refine((r) => r.maxMs >= r.initialMs, { error: 'maxMs must be at least initialMs', path: ['maxMs'] })

export const DeliveryConfig = z.strictObject({
  recipients: z.array(DeliveryRecipient).min(1).max(256)
    .refine((rs) => new Set(rs.map((r) => r.id)).size === rs.length, 'recipient IDs must be unique'),
  /** The gateway's TLS identity and the SM-PKI trust for the servers (passed to @smgw/pki createTlsContext). */
  tls: z.strictObject({
    identity: z.strictObject({
      key: z.union([
        z.string().min(1),
        z.custom<KeyObject>((v) => v instanceof KeyObject, 'a private KeyObject'),
        // A security-module key behind OpenSSL's pkcs11 engine (@smgw/crypto tlsPrivateKey).
        z.strictObject({ kind: z.literal('engine'), engine: z.string().min(1), identifier: z.string().min(1) }),
      ]),
      cert: bytes, chain: z.array(bytes).readonly().optional(),
    }),
    trust: z.strictObject({ roots: z.array(bytes).min(1).readonly(), crls: z.array(bytes).readonly().optional(), intermediates: z.array(bytes).readonly().optional(), requireCrl: z.boolean().optional() }),
  }),
  retry: DeliveryRetry.prefault({}),
  /** Items taken from the outbox per pass. */
  batchSize: z.int().min(1).max(10_000).default(100),
  /** From sending a request (connection included) to the end of the answer. */
  requestTimeoutMs: z.int().min(1).max(600_000).default(30_000),
  /** How long close() waits for requests in flight before it cuts their connections. */
  closeTimeoutMs: z.int().min(0).max(600_000).default(5_000),
})
export type DeliveryConfigInput = z.input<typeof DeliveryConfig>
export type DeliveryConfig = z.output<typeof DeliveryConfig>

/** What the consumer log says about a delivered item. */
export interface DeliveryDescription {
  /** Whose consumer logs get the `data-sent` entry (none: no entry). */
  readonly consumers: readonly string[]
  /** Data class for the entry, e.g. 'load-profile'. */
  readonly dataClass: string
  /** One line of plain words, e.g. "96 values of 23 Nov 2026 sent to emt-1 for TAF 7". */
  readonly text: string
}

export interface DeliveryDeps {
  readonly store: Pick<Store, 'dueOutbox' | 'updateOutbox'>
  readonly logs: Pick<GatewayLogs, 'consumer' | 'system'>
  /** Who is told about a delivered item, and in which words (`formatDeliveryText` gives default words). */
  readonly describe: (item: OutboxItem) => DeliveryDescription
  readonly now: () => Date
  /** Schedules `fn` after `ms`, returns a cancel function; tests drive time with it. */
  readonly setTimer: (ms: number, fn: () => void) => () => void
  /** Jitter source, values in [0, 1); Math.random by default. */
  readonly random?: () => number
  readonly logger?: Logger
}

export interface DeliveryService {
  /** Takes the first pass and keeps a timer at the earliest next attempt. Idempotent. */
  start(): Promise<void>
  /**
   * Stops: no new request is sent, the timer is cancelled, requests in flight get
   * `closeTimeoutMs` to finish, then their connections are cut (those items stay pending).
   * Idempotent; the store and logs stay open (their owner closes them).
   */
  close(): Promise<void>
  /**
   * Asks for a pass now (after enqueueing). Resolves when a pass that began after the call
   * has finished; never rejects. Does nothing before start or after close.
   */
  kick(): Promise<void>
}

/** After every instant a Date holds: `dueOutbox(FAR_FUTURE, 1)` is the pending item with the earliest next attempt. */
const FAR_FUTURE = new Date(8.64e15)
/** The wake-up timer is at most a day away (a far notBefore, a clock step, setTimeout's 2^31 ms limit): then it looks again. */
const MAX_WAKE_MS = 86_400_000
const BERLIN_TIME = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })

/**
 * Plain words for a delivered item: from its summary (the TAF stage writes one:
 * "96 quarter-hour values of 23 Nov 2026 (TAF 7) sent to emt-1, signed and encrypted for it."),
 * else from its messageId (`<gatewayId>:<profile>:<recipient>:<period end, epoch seconds>`):
 * "Data of tariff profile taf7-M1 up to 24 Nov 2026, 00:00 (German time) sent to emt-1."
 * Other message IDs give "Data for taf7 sent to emt-1."
 */
export function formatDeliveryText(item: Pick<OutboxItem, 'messageId' | 'recipient' | 'purpose'> & { readonly summary?: string | undefined }): string {
  if (item.summary !== undefined) return `${item.summary} sent to ${item.recipient}, signed and encrypted for it.`
  const parts = item.messageId?.split(':') ?? []
  const end = parts.length === 4 && /^\d{1,12}$/.test(parts[3]!) ? new Date(Number(parts[3]) * 1000) : undefined
  if (end !== undefined && parts[2] === item.recipient) return `Data of tariff profile ${parts[1]!} up to ${BERLIN_TIME.format(end)} (German time) sent to ${item.recipient}.`
  return `Data for ${item.purpose} sent to ${item.recipient}.`
}

/**
 * The outbox delivery service. Config is validated here (WAN_CONFIG_INVALID names every
 * problem); the TLS context is made once. Outcomes per item:
 * - 201 stored / 200 duplicate with a matching receipt → `data-sent` consumer-log entries, then delivered;
 * - 4xx (not 408/429) → failed, system log `delivery-rejected`, never retried;
 * - 408/429/5xx, timeout, lost connection, TLS failure → attempts + 1, next attempt after backoff
 *   with jitter; a refused server certificate also writes `tls-rejected` to the system log.
 */
export function createDeliveryService(input: DeliveryConfigInput, deps: DeliveryDeps): DeliveryService {
  const parsed = DeliveryConfig.safeParse(input)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(top level)'}: ${i.message}`)
    throw new GatewayError('WAN_CONFIG_INVALID', `delivery configuration: ${problems.join('; ')}`, { cause: parsed.error })
  }
  const config = parsed.data
  const { store, logs, now, setTimer } = deps
  const random = deps.random ?? Math.random
  const log = deps.logger?.child({ component: 'wan' })
  let context: TlsContext
  try {
    context = createTlsContext({ profile: 'wan', identity: config.tls.identity, trust: config.tls.trust }, { now })
  } catch (err) {
    throw new GatewayError('WAN_CONFIG_INVALID', `TLS settings: ${messageOf(err)}`, { cause: err })
  }
  const targets = new Map<string, RecipientTarget>(config.recipients.map((r) => {
    const url = new URL(r.url)
    return [r.id, {
      id: r.id, host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? 443 : Number(url.port),
      path: `${url.pathname.replace(/\/+$/, '')}${METER_DATA_PATH}`, ...(r.serverSubject === undefined ? {} : { serverSubject: r.serverSubject }),
    }]
  }))
  const retry: RetryPolicy = config.retry

  let state: 'new' | 'running' | 'closed' = 'new'
  /** The last TLS session per recipient (in memory): each pass opens its own connection and resumes it (post.ts). */
  const sessions = new Map<string, Buffer>()
  let loop: Promise<void> | undefined
  let requested = false
  let cancelWake: (() => void) | undefined
  const sockets = new Set<TLSSocket>()
  const onSocket = (socket: TLSSocket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    if (state === 'closed') socket.destroy()
  }

  /** Counts a failed attempt; the next one after backoff with jitter, or at `at` (the recipient's next attempt). Returns it. */
  const retryLater = (item: OutboxItem, reason: string, at?: Date): Date => {
    const attempts = item.attempts + 1
    const nextAttempt = at ?? new Date(now().getTime() + backoffDelay(retry, attempts, random))
    store.updateOutbox(item.id, { state: 'pending', attempts, nextAttempt, lastError: reason.slice(0, 500) })
    log?.info({ item: item.id, recipient: item.recipient, attempts, nextAttempt: nextAttempt.toISOString(), reason }, 'delivery failed, retry later')
    return nextAttempt
  }

  const reject = async (item: OutboxItem, code: 'NOT_CONFIGURED' | 'MESSAGE_ID_MISSING' | Extract<PostOutcome, { kind: 'rejected' }>['code'], status: number | undefined): Promise<void> => {
    store.updateOutbox(item.id, { state: 'failed', attempts: item.attempts + (status === undefined ? 0 : 1), nextAttempt: item.nextAttempt, lastError: status === undefined ? code : `HTTP ${String(status)} ${code}` })
    log?.warn({ item: item.id, recipient: item.recipient, code, status }, 'delivery refused for good')
    const recipient = LOG_ID.test(item.recipient) ? item.recipient : 'invalid-id'
    await logs.system({ type: 'delivery-rejected', fields: { recipient, item: item.id, code } })
  }

  const delivered = async (item: OutboxItem, status: number): Promise<void> => {
    // The consumer log first, then the outbox row: a crash in between sends the item again
    // (a receiver-side duplicate) and the consumer reads the delivery twice, never not at all.
    try {
      const d = deps.describe(item)
      for (const consumer of d.consumers) {
        await logs.consumer(consumer, { type: 'data-sent', fields: { recipient: item.recipient, purpose: item.purpose, dataClass: d.dataClass, text: d.text } })
      }
    } catch (err) {
      log?.error({ item: item.id, recipient: item.recipient, err: messageOf(err) }, 'consumer-log entry for a delivery failed')
    }
    store.updateOutbox(item.id, { state: 'delivered', attempts: item.attempts + 1, nextAttempt: item.nextAttempt })
    log?.info({ item: item.id, recipient: item.recipient, status }, 'delivered')
  }

  const deliverTo = async (target: RecipientTarget, items: readonly OutboxItem[]): Promise<void> => {
    const session = { get: () => sessions.get(target.id), set: (s: Buffer | undefined) => { if (s === undefined) sessions.delete(target.id); else sessions.set(target.id, s) } }
    const connection = createRecipientConnection(target, { context, setTimer, requestTimeoutMs: config.requestTimeoutMs, onSocket, session })
    try {
      for (let i = 0; i < items.length; i++) {
        if (state !== 'running') return
        const item = items[i]!
        if (item.messageId === undefined) {
          await reject(item, 'MESSAGE_ID_MISSING', undefined)
          continue
        }
        const outcome = await connection.post(item.messageId, item.payload)
        if (outcome.kind === 'delivered') {
          await delivered(item, outcome.status)
        } else if (outcome.kind === 'rejected') {
          await reject(item, outcome.code, outcome.status)
        } else {
          const next = retryLater(item, outcome.reason)
          if (outcome.stage === 'connect') {
            // No connection: the rest of this recipient's items count the same failed attempt and
            // wait for the same next attempt, so an unreachable recipient costs one connection per try.
            for (const rest of items.slice(i + 1)) retryLater(rest, outcome.reason, next)
            if (outcome.tls !== undefined) await logs.system({ type: 'tls-rejected', fields: { interface: 'wan', reason: outcome.tls } })
            return
          }
        }
      }
    } finally {
      connection.close()
    }
  }

  /** One pass over the due items; false when something failed that is not a delivery outcome (store, logs). */
  const pass = async (): Promise<boolean> => {
    const items = store.dueOutbox(now(), config.batchSize)
    const groups = new Map<string, OutboxItem[]>()
    for (const item of items) {
      if (!targets.has(item.recipient)) {
        // Principle 5: nobody outside the configuration receives anything.
        await reject(item, 'NOT_CONFIGURED', undefined)
        continue
      }
      groups.set(item.recipient, [...(groups.get(item.recipient) ?? []), item])
    }
    const results = await Promise.allSettled([...groups].map(([id, group]) => deliverTo(targets.get(id)!, group)))
    for (const r of results) if (r.status === 'rejected') log?.error({ err: messageOf(r.reason) }, 'delivery pass failed')
    return results.every((r) => r.status === 'fulfilled')
  }

  /** Sets the one timer at the earliest next attempt, but not before `minDelayMs` (after a failed pass: no busy loop). */
  const schedule = (minDelayMs: number): void => {
    cancelWake?.()
    cancelWake = undefined
    if (state !== 'running') return
    try {
      const [next] = store.dueOutbox(FAR_FUTURE, 1)
      if (next === undefined) return
      const delay = Math.min(MAX_WAKE_MS, Math.max(minDelayMs, next.nextAttempt.getTime() - now().getTime()))
      cancelWake = setTimer(delay, () => {
        cancelWake = undefined
        void kick()
      })
    } catch (err) {
      log?.error({ err: messageOf(err) }, 'cannot schedule the next delivery')
    }
  }

  const runLoop = async (): Promise<void> => {
    await Promise.resolve() // let kick() store this promise before the loop can end
    let ok = true
    try {
      while (requested && state === 'running') {
        requested = false
        ok = await pass().catch((err: unknown) => {
          log?.error({ err: messageOf(err) }, 'delivery pass failed')
          return false
        })
      }
    } finally {
      loop = undefined
      schedule(ok ? 0 : retry.initialMs)
    }
  }

  const kick = (): Promise<void> => {
    if (state !== 'running') return Promise.resolve()
    requested = true
    loop ??= runLoop()
    return loop
  }

  let closing: Promise<void> | undefined
  return {
    start() {
      if (state === 'new') {
        state = 'running'
        void kick()
      }
      return Promise.resolve()
    },
    close() {
      closing ??= (async () => {
        state = 'closed'
        cancelWake?.()
        cancelWake = undefined
        const inFlight = loop
        if (inFlight !== undefined) {
          let cancel: () => void = () => undefined
          const bound = new Promise<void>((resolve) => { cancel = setTimer(config.closeTimeoutMs, resolve) })
          await Promise.race([inFlight, bound])
          cancel()
          for (const s of sockets) s.destroy()
          await inFlight
        }
        for (const s of sockets) s.destroy()
      })()
      return closing
    },
    kick,
  }
}

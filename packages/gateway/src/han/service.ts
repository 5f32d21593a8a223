import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import fastifyCookie from '@fastify/cookie'
import { addLegalMonths } from '@smgw/legal-time'
import { obisName } from '@smgw/obis'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { z } from 'zod'
import { consumersByMeter, type GatewayConfig } from '../config.js'
import { GatewayError } from '../errors.js'
import { exportLog } from '../log/export.js'
import type { GatewayLogs } from '../log/writer.js'
import type { HanRequestRow, HanRole } from '../store/han.js'
import { messageOf } from '../store/store.js'
import type { ReadingInput, Store } from '../store/types.js'
import type { TariffProfile } from '../taf/profile.js'
import { authorize } from '../admin/access.js'
import { checkLogin, HAN_PASSWORD_MAX } from './accounts.js'
import { HAN_PUBLIC_ROUTES, hanOperationOf } from './access.js'
import { HanConfig } from './config.js'
import { LEGAL_BASIS } from './consent.js'
import { consumersOfProfile } from '../taf/profile.js'
import { createLatestValues, type LatestValues } from './latest.js'
import { computeHistory, HISTORY_MONTHS, HISTORY_RESOLUTIONS, historyInstants } from './history.js'
import { HAN_OPENAPI } from './openapi.js'
import { hashPassword } from './password.js'
import { describeUseCase } from './tariffs.js'
import { loadHanTls } from './tls.js'

/*
 * The HAN service (README "HAN service"): the consumer's and the service technician's API
 * over HTTPS on the HAN interface, a listener of its own (never the WAN's). Sessions by
 * cookie with a CSRF token bound to the session, read-only bearer tokens for home
 * automation, consumer isolation (another consumer's meter is NOT_FOUND, never FORBIDDEN),
 * every login in the system log, every consent change and request in the consumer log.
 */

/** Session cookie name; HttpOnly; Secure; SameSite=Strict; Path=/. */
export const HAN_SESSION_COOKIE = 'smgw_session'
export const HAN_SESSION_IDLE_MS = 30 * 60_000
export const HAN_SESSION_MAX_MS = 12 * 3_600_000
/**
 * At most one `data-viewed` consumer-log entry per session or token and kind of data per this
 * interval: every view is a processing step the consumer may see (issue 8), but a page or an
 * integration polling every few seconds must not grow the signed log by an entry per poll.
 */
export const HAN_VIEW_LOG_INTERVAL_MS = 3_600_000

/** `GET /api/v1/live` sends `event: heartbeat` this often, so a silently dead connection is noticed on both ends. */
export const HAN_LIVE_HEARTBEAT_MS = 15_000

/** Login attempts per client address and minute before RATE_LIMITED. */
export const HAN_LOGIN_RATE = { attempts: 10, windowMs: 60_000 } as const

/** A UI file served at `/` (the @smgw/han-ui build: path → body and media type). */
export interface HanUiFile { readonly body: Uint8Array; readonly type: string }

export interface HanServiceDeps {
  readonly store: Store
  readonly logs: Pick<GatewayLogs, 'system' | 'consumer'>
  readonly now?: () => Date
  readonly logger?: Logger
  /** Subscribes to committed readings (the gateway's `onReadings`); returns the unsubscribe. */
  readonly onReadings?: (listener: (batch: readonly ReadingInput[]) => void) => () => void
  /** The gateway's state for the technician's device view. */
  readonly status?: () => {
    readonly state: string
    readonly meters: readonly { readonly id: string; readonly kind: string; readonly state: string; readonly lastReadingAt?: Date; readonly keyRejected: number; readonly garbageBytes: number }[]
  }
  /**
   * The meters and tariff profiles in force, asked at every request: the GWA's configuration
   * versions change them while the HAN keeps running (README "Reconfiguration").
   * Default: the meters of the configuration given, no profiles.
   */
  readonly inForce?: () => { readonly meters: GatewayConfig['meters']; readonly profiles: readonly TariffProfile[] }
  /** The page: files by path ('/', '/app.js', …); default: `buildHanUi()` of @smgw/han-ui when it exists, else a placeholder. `false`: none. */
  readonly ui?: ReadonlyMap<string, HanUiFile> | false
  /** `GET /api/v1/live`: the heartbeat interval it announces in `hello` and keeps (default HAN_LIVE_HEARTBEAT_MS). */
  readonly liveHeartbeatMs?: number
}

type HanApp = FastifyInstance<HttpsServer, IncomingMessage, ServerResponse>
type DeviceMeter = NonNullable<ReturnType<NonNullable<HanServiceDeps['status']>>>['meters'][number]

export interface HanService {
  start(): Promise<void>
  close(): Promise<void>
  /** The bound port while running. */
  port(): number | undefined
}

type ApiCode = 'BAD_REQUEST' | 'BAD_CREDENTIALS' | 'LOCKED' | 'RATE_LIMITED' | 'NOT_LOGGED_IN' | 'FORBIDDEN' | 'CSRF_INVALID' | 'NOT_FOUND'
  | 'OUT_OF_RANGE' | 'NOT_WITHDRAWABLE' | 'PAYLOAD_TOO_LARGE' | 'UNSUPPORTED_MEDIA_TYPE' | 'METHOD_NOT_ALLOWED' | 'INTERNAL'

interface Caller {
  readonly username: string
  readonly role: HanRole
  readonly consumer: string | undefined
  readonly via: 'session' | 'token'
  readonly session?: { readonly idHash: string; readonly csrf: string }
  /** The token's name (an integration) when `via` is 'token'. */
  readonly tokenName?: string
  /** The session or token, as the key of the data-viewed throttle. */
  readonly credential: string
}

declare module 'fastify' {
  interface FastifyRequest { hanCaller?: Caller }
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')
const token256 = (): string => randomBytes(32).toString('base64url')
const sameText = (a: string, b: string): boolean => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
}

const Login = z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(HAN_PASSWORD_MAX) })
const plainText = z.string().min(1).max(2000).regex(/^[^\p{Cc}]*$/u, 'one line of text without control characters')
const RequestBody = z.strictObject({ kind: z.enum(['deletion', 'rectification', 'objection']), text: plainText })
const ConsentBody = z.strictObject({ granted: z.boolean() })
const TokenBody = z.strictObject({ name: z.string().min(1).max(64).regex(/^[^\p{Cc}]*$/u) })
const ChoiceBody = z.strictObject({ tariffId: z.string().min(1).max(64) })
const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s))
const HistoryQuery = z.strictObject({
  quantity: z.string().min(1).max(64),
  resolution: z.enum(HISTORY_RESOLUTIONS).default('15min'),
  from: isoDate.optional(),
  to: isoDate.optional(),
})
const LogQuery = z.strictObject({
  type: z.string().min(1).max(64).optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  q: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  before: z.coerce.number().int().min(1).optional(),
})

/** Routes a bearer token may read (GET only); everything else needs a session. */
const TOKEN_ROUTES = /^\/api\/v1\/(?:meters(?:\/[^/]+\/(?:current|history))?|live|log(?:\/export(?:\.csv)?)?|tariffs|consents|requests)$/

export function createHanService(gatewayConfig: GatewayConfig, deps: HanServiceDeps): HanService {
  const config = gatewayConfig.han ?? HanConfig.parse({})
  const now = deps.now ?? (() => new Date())
  const store = deps.store
  const log = deps.logger?.child({ component: 'han' })
  const inForce = deps.inForce ?? (() => ({ meters: gatewayConfig.meters, profiles: [] }))
  const metersOf = (consumer: string | undefined) => inForce().meters.filter((m) => consumer !== undefined && m.consumer === consumer)
  const profilesOf = (consumer: string) => {
    const now = inForce()
    const consumerOf = consumersByMeter(now)
    return now.profiles.filter((p) => consumersOfProfile(p, consumerOf).includes(consumer))
  }
  const attempts = new Map<string, { count: number; resetAt: number }>()
  /** Last data-viewed entry per `credential|kind` (legal time, ms). */
  const viewed = new Map<string, number>()
  const streams = new Set<() => void>()
  const liveHeartbeatMs = deps.liveHeartbeatMs ?? HAN_LIVE_HEARTBEAT_MS
  let app: HanApp | undefined
  /** While running: the newest values per meter, kept current from the committed batches. */
  let latestValues: LatestValues | undefined
  const currentOf = (meterId: string, since: Date) => latestValues === undefined ? store.han.latestReadings(meterId, since) : latestValues.of(meterId, since)
  let dummyHash: string | undefined
  let starting: Promise<void> | undefined

  const fail = (reply: FastifyReply, status: number, code: ApiCode, message: string, extra: Record<string, unknown> = {}) =>
    reply.code(status).type('application/json; charset=utf-8').send({ code, message, ...extra })

  const writeSystem = async (entry: Parameters<GatewayLogs['system']>[0]): Promise<void> => {
    try {
      await deps.logs.system(entry)
    } catch (err) {
      log?.error({ err: messageOf(err), type: entry.type }, 'system-log entry not written')
    }
  }
  const writeConsumer = async (consumer: string, entry: Parameters<GatewayLogs['consumer']>[1]): Promise<void> => {
    try {
      await deps.logs.consumer(consumer, entry)
    } catch (err) {
      log?.error({ err: messageOf(err), type: entry.type }, 'consumer-log entry not written')
    }
  }

  /** Resolves the caller from the bearer token or the session cookie; undefined after replying. */
  const authenticate = (req: FastifyRequest, reply: FastifyReply): Caller | FastifyReply => {
    const auth = req.headers.authorization
    if (auth !== undefined) {
      const m = /^Bearer ([A-Za-z0-9_-]{20,100})$/.exec(auth)
      const t = m === null ? undefined : store.han.tokenByHash(sha256(m[1]!))
      const account = t === undefined ? undefined : store.han.account(t.username)
      if (account === undefined) return fail(reply, 401, 'NOT_LOGGED_IN', 'unknown or revoked token')
      const path = req.url.split('?')[0] ?? ''
      if (req.method !== 'GET' || !TOKEN_ROUTES.test(path)) return fail(reply, 403, 'FORBIDDEN', 'a token reads data only')
      return { username: account.username, role: account.role, consumer: account.consumer, via: 'token', tokenName: t!.name, credential: `token:${t!.id}` }
    }
    const id = req.cookies[HAN_SESSION_COOKIE]
    if (id === undefined || !/^[A-Za-z0-9_-]{43}$/.test(id)) return fail(reply, 401, 'NOT_LOGGED_IN', 'not logged in')
    const idHash = sha256(id)
    const s = store.han.session(idHash)
    const t = now().getTime()
    if (s === undefined) return fail(reply, 401, 'NOT_LOGGED_IN', 'not logged in')
    if (t - s.seenAt.getTime() > HAN_SESSION_IDLE_MS || t - s.createdAt.getTime() > HAN_SESSION_MAX_MS) {
      store.han.deleteSession(idHash)
      return fail(reply, 401, 'NOT_LOGGED_IN', 'the session has expired; log in again')
    }
    const account = store.han.account(s.username)
    if (account === undefined) return fail(reply, 401, 'NOT_LOGGED_IN', 'not logged in')
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const sent = req.headers['x-csrf-token']
      if (typeof sent !== 'string' || !sameText(sent, s.csrf)) return fail(reply, 403, 'CSRF_INVALID', 'missing or wrong x-csrf-token header')
    }
    store.han.touchSession(idHash, now())
    return { username: account.username, role: account.role, consumer: account.consumer, via: 'session', session: { idHash, csrf: s.csrf }, credential: `session:${idHash}` }
  }

  const callerOf = (req: FastifyRequest): Caller => {
    const c = req.hanCaller
    if (c === undefined) throw new Error('route without authentication')
    return c
  }
  /** The consumer of a consumer route; undefined after replying 403. */
  const consumerOf403 = (req: FastifyRequest, reply: FastifyReply): string | undefined => {
    const c = callerOf(req)
    if (c.role !== 'consumer' || c.consumer === undefined) {
      void fail(reply, 403, 'FORBIDDEN', 'consumer accounts only')
      return undefined
    }
    return c.consumer
  }
  /** Writes `data-viewed` for the caller's consumer, at most once per HAN_VIEW_LOG_INTERVAL_MS per session/token and kind. */
  const noteViewed = async (c: Caller, kind: 'current' | 'history'): Promise<void> => {
    if (c.consumer === undefined) return
    const key = `${c.credential}|${kind}`
    const t = now().getTime()
    const last = viewed.get(key)
    if (last !== undefined && t - last < HAN_VIEW_LOG_INTERVAL_MS && t >= last) return
    if (viewed.size >= 10_000) for (const [k, at] of viewed) if (t - at >= HAN_VIEW_LOG_INTERVAL_MS) viewed.delete(k)
    viewed.set(key, t)
    const what = kind === 'current' ? 'your current values' : 'the history of your values'
    const text = c.via === 'token'
      ? `The integration "${c.tokenName ?? ''}" (a token of ${c.username}) read ${what} through the HAN API (at most one entry an hour per token).`
      : `${c.username} viewed ${what} on the HAN (at most one entry an hour per login session).`
    await writeConsumer(c.consumer, { type: 'data-viewed', fields: { interface: 'han', text } })
  }
  const ownMeter = (consumer: string, id: string) => metersOf(consumer).find((m) => m.id === id)
  const userBody = (c: Caller) => ({ username: c.username, role: c.role, ...(c.consumer === undefined ? {} : { consumer: c.consumer }) })

  const register = (a: HanApp, ui: ReadonlyMap<string, HanUiFile> | undefined): void => {
    a.addHook('onSend', async (req, reply, payload) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) void reply.header(k, v)
      if (req.url.startsWith('/api/')) void reply.header('cache-control', 'no-store')
      return payload
    })
    // Every API route performs an operation of the access table (han/access.ts); one missing there is a programming error.
    a.addHook('onRoute', (route) => {
      if (!route.url.startsWith('/api/v1/')) return
      for (const method of [route.method].flat()) {
        const key = `${method === 'HEAD' ? 'GET' : method} ${route.url}`
        if (!HAN_PUBLIC_ROUTES.includes(key) && hanOperationOf(key) === undefined) throw new Error(`HAN route ${key} has no operation in han/access.ts`)
      }
    })
    a.addHook('onRequest', async (req, reply) => {
      const path = req.url.split('?')[0] ?? ''
      if (!path.startsWith('/api/v1/') || path === '/api/v1/openapi.json' || (path === '/api/v1/session' && req.method === 'POST')) return
      const c = authenticate(req, reply)
      if (!('username' in c)) return reply
      req.hanCaller = c
      // The one role check of the HAN: the route's operation against the access table (admin/access.ts).
      const operation = hanOperationOf(`${req.method === 'HEAD' ? 'GET' : req.method} ${req.routeOptions.url ?? ''}`)
      if (operation !== undefined && operation !== 'session' && !authorize(c.role, operation)) return fail(reply, 403, 'FORBIDDEN', `a ${c.role} account may not ${operation}`)
    })
    a.setNotFoundHandler((_req, reply) => fail(reply, 404, 'NOT_FOUND', 'no such resource'))
    a.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, _req, reply) => {
      const status = err.statusCode ?? 500
      if (status === 413) return fail(reply, 413, 'PAYLOAD_TOO_LARGE', `the body exceeds ${config.maxBodyBytes} bytes`)
      if (status === 415) return fail(reply, 415, 'UNSUPPORTED_MEDIA_TYPE', 'send JSON (content-type: application/json)')
      if (status >= 400 && status < 500) return fail(reply, 400, 'BAD_REQUEST', 'the request cannot be read')
      log?.error({ err: err.message, code: err.code }, 'HAN request failed')
      return fail(reply, 500, 'INTERNAL', 'internal error')
    })

    a.get('/healthz', (_req, reply) => reply.send({ status: 'ok' }))
    a.get('/api/v1/openapi.json', (_req, reply) => reply.send(HAN_OPENAPI))

    // Session
    a.post('/api/v1/session', async (req, reply) => {
      const address = req.ip
      const t = now().getTime()
      if (attempts.size > 10_000) attempts.clear()
      const a0 = attempts.get(address)
      const window = a0 === undefined || a0.resetAt <= t ? { count: 0, resetAt: t + HAN_LOGIN_RATE.windowMs } : a0
      window.count++
      attempts.set(address, window)
      if (window.count > HAN_LOGIN_RATE.attempts) {
        reply.header('retry-after', String(Math.ceil((window.resetAt - t) / 1000)))
        return fail(reply, 429, 'RATE_LIMITED', 'too many login attempts from this address; try again later')
      }
      const body = Login.safeParse(req.body)
      if (!body.success) return fail(reply, 400, 'BAD_REQUEST', 'send { "username", "password" }')
      dummyHash ??= await hashPassword(token256())
      const r = await checkLogin(store, body.data.username, body.data.password, now(), dummyHash)
      if (!r.ok) {
        await writeSystem({ type: 'login-failed', fields: { interface: 'han', role: r.role, reason: r.reason === 'locked' ? 'locked' : 'bad-credentials' } })
        if (r.reason === 'locked') return fail(reply, 423, 'LOCKED', `the account is locked until ${r.until.toISOString()}`, { until: r.until.toISOString() })
        return fail(reply, 401, 'BAD_CREDENTIALS', 'wrong username or password')
      }
      await writeSystem({ type: 'login-succeeded', fields: { interface: 'han', role: r.account.role } })
      const id = token256()
      const csrf = token256()
      store.han.addSession({ idHash: sha256(id), username: r.account.username, csrf, createdAt: now(), seenAt: now() })
      void reply.setCookie(HAN_SESSION_COOKIE, id, { httpOnly: true, secure: true, sameSite: 'strict', path: '/' })
      const a1 = r.account
      return { user: { username: a1.username, role: a1.role, ...(a1.consumer === undefined ? {} : { consumer: a1.consumer }) }, csrfToken: csrf }
    })
    a.get('/api/v1/session', async (req, reply) => {
      const c = callerOf(req)
      if (c.session === undefined) return fail(reply, 403, 'FORBIDDEN', 'a token has no session')
      return { user: userBody(c), csrfToken: c.session.csrf }
    })
    a.delete('/api/v1/session', async (req, reply) => {
      const c = callerOf(req)
      if (c.session !== undefined) store.han.deleteSession(c.session.idHash)
      void reply.clearCookie(HAN_SESSION_COOKIE, { httpOnly: true, secure: true, sameSite: 'strict', path: '/' })
      return reply.code(204).send()
    })

    // Meters and readings
    a.get('/api/v1/meters', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      const status = deps.status?.()
      const since = addLegalMonths(now(), -HISTORY_MONTHS)
      return {
        meters: metersOf(consumer).map((m) => {
          const latest = currentOf(m.id, since)
          const last = latest.reduce<Date | undefined>((d, r) => (d === undefined || r.time > d ? r.time : d), undefined)
          const seen = status?.meters.find((s) => s.id === m.id)?.lastReadingAt
          return {
            id: m.id, kind: m.kind,
            quantities: latest.map((r) => ({ quantity: r.quantity, unit: r.unit ?? null, label: labelOf(r.quantity) })),
            lastReadingAt: (seen ?? last)?.toISOString() ?? null,
          }
        }),
      }
    })
    a.get('/api/v1/meters/:id/current', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      const { id } = req.params as { id: string }
      if (ownMeter(consumer, id) === undefined) return fail(reply, 404, 'NOT_FOUND', 'no such meter')
      await noteViewed(callerOf(req), 'current')
      return {
        values: currentOf(id, addLegalMonths(now(), -HISTORY_MONTHS)).map((r) => ({
          quantity: r.quantity, value: r.mantissa.toString(), scaler: r.scaler, unit: r.unit ?? null, time: r.time.toISOString(),
        })),
      }
    })
    a.get('/api/v1/meters/:id/history', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      const { id } = req.params as { id: string }
      if (ownMeter(consumer, id) === undefined) return fail(reply, 404, 'NOT_FOUND', 'no such meter')
      const q = HistoryQuery.safeParse(req.query)
      if (!q.success) return fail(reply, 400, 'BAD_REQUEST', `query: ${q.error.issues[0]?.path.join('.') ?? ''}: ${q.error.issues[0]?.message ?? 'invalid'}`)
      const to = q.data.to ?? now()
      const from = q.data.from ?? new Date(to.getTime() - 86_400_000)
      if (from.getTime() >= to.getTime()) return fail(reply, 400, 'BAD_REQUEST', 'from must be before to')
      if (from.getTime() < addLegalMonths(now(), -HISTORY_MONTHS).getTime()) return fail(reply, 400, 'OUT_OF_RANGE', `the HAN shows the last ${HISTORY_MONTHS} months`)
      const instants = historyInstants(q.data.resolution, from, to)
      if (instants === undefined) return fail(reply, 400, 'OUT_OF_RANGE', 'too many points: choose a coarser resolution or a shorter range')
      await noteViewed(callerOf(req), 'history')
      return computeHistory(store, { meterId: id, quantity: q.data.quantity, resolution: q.data.resolution, instants })
    })
    a.get('/api/v1/live', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      const own = new Set(metersOf(consumer).map((m) => m.id))
      await noteViewed(callerOf(req), 'current')
      reply.hijack()
      const raw = reply.raw
      raw.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' })
      raw.write(': connected\n\n')
      // The interval first, then a heartbeat at it: a page (or integration) that hears nothing for a
      // few intervals knows the connection died without a FIN and opens a new one (han-ui live.ts).
      raw.write(`event: hello\ndata: ${JSON.stringify({ heartbeatMs: liveHeartbeatMs })}\n\n`)
      const heartbeat = setInterval(() => { raw.write('event: heartbeat\ndata: {}\n\n') }, liveHeartbeatMs)
      heartbeat.unref()
      const unsubscribe = deps.onReadings?.((batch) => {
        for (const r of batch) {
          if (!own.has(r.meterId)) continue
          raw.write(`event: reading\ndata: ${JSON.stringify({ meterId: r.meterId, quantity: r.quantity, value: r.mantissa.toString(), scaler: r.scaler, unit: r.unit ?? null, time: r.time.toISOString() })}\n\n`)
        }
      })
      const end = (): void => {
        clearInterval(heartbeat)
        unsubscribe?.()
        streams.delete(end)
        raw.end()
      }
      streams.add(end)
      req.raw.on('close', end)
    })

    // Consumer log
    a.get('/api/v1/log', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      const q = LogQuery.safeParse(req.query)
      if (!q.success) return fail(reply, 400, 'BAD_REQUEST', `query: ${q.error.issues[0]?.path.join('.') ?? ''}: ${q.error.issues[0]?.message ?? 'invalid'}`)
      const rows = store.han.consumerLog(consumer, {
        limit: q.data.limit, ...(q.data.type === undefined ? {} : { type: q.data.type }), ...(q.data.from === undefined ? {} : { from: q.data.from }),
        ...(q.data.to === undefined ? {} : { to: q.data.to }), ...(q.data.q === undefined ? {} : { q: q.data.q }), ...(q.data.before === undefined ? {} : { before: q.data.before }),
      })
      const entries = rows.map((r) => ({ seq: Number(r.seq), time: String(r.time), type: String(r.type), fields: JSON.parse(String(r.fields)) as unknown }))
      return { entries, ...(entries.length === q.data.limit ? { next: entries.at(-1)!.seq } : {}) }
    })
    a.get('/api/v1/log/export.csv', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      const rows = store.logRows.entries('consumer', consumer)
      const lines = ['seq,time,type,text,fields']
      for (const r of rows) {
        const fields = JSON.parse(String(r.fields)) as Record<string, unknown>
        lines.push([String(r.seq), String(r.time), String(r.type), typeof fields.text === 'string' ? fields.text : '', String(r.fields)].map(csvField).join(','))
      }
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="consumer-log-${consumer}.csv"`).send(`${lines.join('\r\n')}\r\n`)
    })
    a.get('/api/v1/log/export', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      return reply.type('application/jsonl; charset=utf-8').header('content-disposition', `attachment; filename="consumer-log-${consumer}.jsonl"`)
        .send(exportLog(store, 'consumer', consumer))
    })

    // Tariffs, consents, requests
    a.get('/api/v1/tariffs', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      const choice = store.han.requests(consumer).find((r) => r.kind === 'tariff-choice')
      return {
        useCases: profilesOf(consumer).map((p) => ({
          profileId: p.id, useCase: p.useCase, text: describeUseCase(p), recipients: p.recipients.map((r) => ({ id: r.id, role: r.role })), legalBasis: LEGAL_BASIS[p.useCase],
        })),
        offered: config.tariffs.map((t) => ({ id: t.id, name: t.name, description: t.description })),
        ...(choice === undefined ? {} : { choice: { tariffId: choice.text, state: choice.state, requestId: choice.id, note: choice.note ?? null, answeredAt: choice.answeredAt?.toISOString() ?? null } }),
      }
    })
    a.post('/api/v1/tariffs/choice', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      const body = ChoiceBody.safeParse(req.body)
      if (!body.success) return fail(reply, 400, 'BAD_REQUEST', 'send { "tariffId" }')
      const tariff = config.tariffs.find((t) => t.id === body.data.tariffId)
      if (tariff === undefined) return fail(reply, 404, 'NOT_FOUND', 'no such tariff')
      // Received like every request: it becomes pending when the GWA accepted the report that carried it (admin/requests.ts).
      const r = store.han.addRequest({ consumer, kind: 'tariff-choice', state: 'received', text: tariff.id, at: now() })
      await writeConsumer(consumer, { type: 'request-received', fields: { kind: 'tariff-choice', request: r.id, text: `You chose the tariff ${tariff.name}; the gateway passes your choice on to the administrator, who applies it.` } })
      return reply.code(202).send({ request: requestBody(r) })
    })
    a.get('/api/v1/consents', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      const rows = new Map(store.han.consents(consumer).map((r) => [r.purpose, r]))
      return {
        consents: profilesOf(consumer).map((p) => {
          const row = rows.get(p.id)
          return { purpose: p.id, useCase: p.useCase, legalBasis: LEGAL_BASIS[p.useCase], granted: row?.granted ?? true, since: row?.since.toISOString() ?? null, withdrawable: LEGAL_BASIS[p.useCase] === 'consent' }
        }),
      }
    })
    a.put('/api/v1/consents/:purpose', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      const { purpose } = req.params as { purpose: string }
      const profile = profilesOf(consumer).find((p) => p.id === purpose)
      if (profile === undefined) return fail(reply, 404, 'NOT_FOUND', 'no such purpose')
      const body = ConsentBody.safeParse(req.body)
      if (!body.success) return fail(reply, 400, 'BAD_REQUEST', 'send { "granted": true | false }')
      const basis = LEGAL_BASIS[profile.useCase]
      if (basis !== 'consent') {
        if (!body.data.granted) return fail(reply, 409, 'NOT_WITHDRAWABLE', `${profile.id} rests on ${basis === 'contract' ? 'your supply contract' : 'a legal obligation'}, not on consent`)
        return { purpose, useCase: profile.useCase, legalBasis: basis, granted: true, since: null }
      }
      const since = now()
      store.han.setConsent(consumer, purpose, body.data.granted, since)
      await writeConsumer(consumer, {
        type: 'consent-changed',
        fields: { purpose, granted: body.data.granted, text: body.data.granted ? `You gave consent to ${purpose}: ${describeUseCase(profile)}` : `You withdrew consent to ${purpose}: nothing more is sent for it.` },
      })
      return { purpose, useCase: profile.useCase, legalBasis: basis, granted: body.data.granted, since: since.toISOString() }
    })
    a.get('/api/v1/requests', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      return { requests: store.han.requests(consumer).filter((r) => r.kind !== 'tariff-choice').map(requestBody) }
    })
    a.post('/api/v1/requests', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      const body = RequestBody.safeParse(req.body)
      if (!body.success) return fail(reply, 400, 'BAD_REQUEST', 'send { "kind": "deletion" | "rectification" | "objection", "text" }')
      const r = store.han.addRequest({ consumer, kind: body.data.kind, state: 'received', text: body.data.text, at: now() })
      await writeConsumer(consumer, { type: 'request-received', fields: { kind: body.data.kind, request: r.id, text: `Your ${body.data.kind} request ${r.id} was received.` } })
      return reply.code(201).send({ request: requestBody(r) })
    })

    // Tokens
    a.get('/api/v1/tokens', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      return { tokens: store.han.tokens(callerOf(req).username).map((t) => ({ id: t.id, name: t.name, createdAt: t.createdAt.toISOString() })) }
    })
    a.post('/api/v1/tokens', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      const body = TokenBody.safeParse(req.body)
      if (!body.success) return fail(reply, 400, 'BAD_REQUEST', 'send { "name" }')
      const id = randomBytes(8).toString('hex')
      const token = token256()
      store.han.addToken({ id, username: callerOf(req).username, name: body.data.name, tokenHash: sha256(token), createdAt: now() })
      return reply.code(201).send({ id, token, name: body.data.name })
    })
    a.delete('/api/v1/tokens/:id', async (req, reply) => {
      const consumer = consumerOf403(req, reply)
      if (consumer === undefined) return reply
      const { id } = req.params as { id: string }
      if (!store.han.deleteToken(callerOf(req).username, id)) return fail(reply, 404, 'NOT_FOUND', 'no such token')
      return reply.code(204).send()
    })

    // Technician
    a.get('/api/v1/device', async () => {
      // Allowed to the technician by the access table (device.status), checked in the onRequest hook.
      const s = deps.status?.()
      let sizeBytes = 0
      for (const suffix of ['', '-wal']) {
        try { sizeBytes += (await stat(`${store.path}${suffix}`)).size } catch { /* no WAL file */ }
      }
      return {
        gateway: { state: s?.state ?? 'running', time: now().toISOString(), store: { schemaVersion: store.schemaVersion, sizeBytes } },
        meters: (s?.meters ?? gatewayConfig.meters.map((m): DeviceMeter => ({ id: m.id, kind: m.kind, state: 'waiting', keyRejected: 0, garbageBytes: 0 }))).map((m: DeviceMeter) => ({
          id: m.id, kind: m.kind, state: m.state, lastReadingAt: m.lastReadingAt?.toISOString() ?? null, keyRejected: m.keyRejected, garbageBytes: m.garbageBytes,
        })),
      }
    })

    // The page
    a.get('/*', async (req, reply) => {
      const path = req.url.split('?')[0] ?? '/'
      if (path.startsWith('/api/')) return fail(reply, 404, 'NOT_FOUND', 'no such resource')
      const file = ui?.get(path) ?? (path === '/' ? ui?.get('/index.html') : undefined)
      // @smgw/han-ui's cache policy: the page is revalidated, assets named with ?v=<hash> are immutable.
      if (file !== undefined) {
        const versioned = file !== ui?.get('/index.html') && /[?&]v=/.test(req.url)
        return reply.type(file.type).header('cache-control', versioned ? 'public, max-age=31536000, immutable' : 'no-cache').send(Buffer.from(file.body))
      }
      if (path === '/' || path === '/index.html') {
        return reply.type('text/html; charset=utf-8').send('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Smart Meter Gateway</title></head><body><h1>Smart Meter Gateway</h1><p>The page is not installed; the API is at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p></body></html>\n')
      }
      return fail(reply, 404, 'NOT_FOUND', 'no such resource')
    })
  }

  const loadUi = async (): Promise<ReadonlyMap<string, HanUiFile> | undefined> => {
    if (deps.ui === false) return undefined
    if (deps.ui !== undefined) return deps.ui
    try {
      const mod = await import('@smgw/han-ui') as { buildHanUi?: () => Promise<ReadonlyMap<string, HanUiFile>> }
      if (typeof mod.buildHanUi !== 'function') return undefined
      const files = await mod.buildHanUi()
      return new Map([...files].map(([k, v]) => [k.startsWith('/') ? k : `/${k}`, v]))
    } catch (err) {
      log?.warn({ err: messageOf(err) }, 'HAN page not built; serving a placeholder')
      return undefined
    }
  }

  const start = async (): Promise<void> => {
    const tls = await loadHanTls(config, store.path, gatewayConfig.gatewayId, now())
    if (tls.created) log?.info({ files: `${store.path}.han-*.pem` }, 'self-signed HAN certificate made')
    const ui = await loadUi()
    const a = Fastify<HttpsServer, IncomingMessage, ServerResponse>({
      https: {
        key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2',
        // TLS 1.2: AEAD suites only, AES-256-GCM first (TR-03109-3 HAN profile; RSA suites for an RSA certificate). TLS 1.3: OpenSSL's defaults.
        ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256',
        honorCipherOrder: true,
      },
      bodyLimit: config.maxBodyBytes,
      ...(log === undefined ? { logger: false } : { loggerInstance: log }),
      return503OnClosing: true,
    })
    await a.register(fastifyCookie)
    register(a, ui)
    try {
      await a.listen({ host: config.host, port: config.port })
    } catch (err) {
      await a.close()
      throw new GatewayError('HAN_START_FAILED', `the HAN service cannot listen on ${config.host}:${config.port}: ${messageOf(err)}`, { cause: err })
    }
    app = a
    latestValues = createLatestValues((id, since) => store.han.latestReadings(id, since), deps.onReadings, () => addLegalMonths(now(), -HISTORY_MONTHS))
    log?.info({ host: config.host, port: (a.server.address() as AddressInfo).port }, 'HAN service listening')
  }

  return {
    start() {
      starting ??= start()
      return starting
    },
    async close() {
      const a = app
      app = undefined
      starting = undefined
      latestValues?.close()
      latestValues = undefined
      for (const end of [...streams]) end()
      await a?.close()
    },
    port: () => (app === undefined ? undefined : (app.server.address() as AddressInfo).port),
  }
}

function labelOf(quantity: string): string {
  try {
    return obisName(quantity) ?? quantity
  } catch {
    return quantity
  }
}

/** A request as the API shows it: the administrator's side (forwarded, answered, note) is null until it happened. */
function requestBody(r: HanRequestRow) {
  return {
    id: r.id, kind: r.kind, state: r.state, text: r.text, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString(),
    forwardedAt: r.forwardedAt?.toISOString() ?? null, answeredAt: r.answeredAt?.toISOString() ?? null, note: r.note ?? null,
  }
}

/** RFC 4180: quoted when it holds a comma, quote or line break; quotes doubled. Formula-leading characters are prefixed (CSV injection). */
function csvField(s: string): string {
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}

import { createHash, timingSafeEqual } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { z } from 'zod'
import { EmtError, type EmtErrorCode } from './errors.js'
import { formatCsv } from './export/csv.js'
import { formatJsonExport } from './export/json.js'
import { formatMscons } from './export/mscons.js'
import { legalDigits } from './export/series.js'
import { OPENAPI_DOCUMENT } from './openapi.js'
import type { EmtRepository, ValueQuery } from './repository/types.js'

/*
 * The REST API (JSON): metering points, their values, received messages and exports.
 * A plain-HTTP listener apart from the gateway-facing mutual-TLS port, loopback by default;
 * every route except /health and /openapi.json needs `Authorization: Bearer <token>`.
 */

export interface ApiDeps {
  readonly repository: EmtRepository
  readonly token: string
  readonly participantId: string
  readonly now: () => Date
  readonly logger: Logger
}

/** HTTP status of each error code the API answers with. */
const API_STATUS: Partial<Record<EmtErrorCode, number>> = {
  EMT_QUERY_INVALID: 400,
  EMT_UNAUTHORIZED: 401,
  EMT_NOT_FOUND: 404,
  EMT_STORAGE_FAILED: 503,
}

const instant = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(s) && Number.isFinite(Date.parse(s)), 'an ISO 8601 instant with offset, e.g. 2026-11-23T00:00:00+01:00')
  .transform((s) => new Date(Date.parse(s)))
const limit = z.coerce.number().int().min(1).max(1_000_000)

export const ValuesQuery = z.strictObject({ obis: z.string().min(1).optional(), from: instant.optional(), to: instant.optional(), limit: limit.optional() })
export const MessagesQuery = z.strictObject({ gateway: z.string().min(1).optional(), from: instant.optional(), to: instant.optional(), limit: limit.optional() })
export const ExportQuery = z.strictObject({
  format: z.enum(['mscons', 'csv', 'json']),
  meteringPoint: z.string().min(1).optional(),
  obis: z.string().min(1).optional(),
  from: instant.optional(),
  to: instant.optional(),
  /** MSCONS interchange recipient (default: ZZ). */
  recipient: z.string().regex(/^[A-Za-z0-9._:-]{1,35}$/).optional(),
})

function parse<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const r = schema.safeParse(input)
  if (!r.success) {
    throw new EmtError('EMT_QUERY_INVALID', r.error.issues.map((i) => `${i.path.length === 0 ? 'query' : i.path.map(String).join('.')}: ${i.message}`).join('; '))
  }
  return r.data
}

function digestOf(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

export const EXPORT_CONTENT_TYPES = { mscons: 'application/edifact', csv: 'text/csv; charset=utf-8; header=present', json: 'application/json; charset=utf-8' } as const

/** Renders an export of the given rows; `format` as in the API. Pure. */
export function formatExport(format: keyof typeof EXPORT_CONTENT_TYPES, rows: Parameters<typeof formatCsv>[0], mscons: { sender: string; recipient: string; createdAt: Date }): string {
  switch (format) {
    case 'csv': return formatCsv(rows)
    case 'json': return formatJsonExport(rows)
    case 'mscons': return formatMscons(rows, { ...mscons, reference: legalDigits(mscons.createdAt).digits.slice(2) })
  }
}

export function createApi(deps: ApiDeps): FastifyInstance {
  const app = Fastify({ logger: false })
  const expected = digestOf(`Bearer ${deps.token}`)
  app.addHook('onRequest', (request, _reply, done) => {
    const path = request.url.split('?')[0]
    const open = path === '/health' || path === '/openapi.json'
    if (open || timingSafeEqual(digestOf(request.headers.authorization ?? ''), expected)) done()
    else done(new EmtError('EMT_UNAUTHORIZED', 'missing or wrong bearer token'))
  })
  app.get('/health', () => ({ status: 'ok' }))
  app.get('/openapi.json', () => OPENAPI_DOCUMENT)
  app.get('/v1/metering-points', async () => ({ meteringPoints: (await deps.repository.listMeteringPoints()).map((p) => ({ ...p, firstTime: p.firstTime.toISOString(), lastTime: p.lastTime.toISOString() })) }))
  app.get<{ Params: { id: string } }>('/v1/metering-points/:id/values', async (request) => {
    const q = parse(ValuesQuery, request.query)
    const id = request.params.id
    const known = (await deps.repository.listMeteringPoints()).some((p) => p.id === id)
    if (!known) throw new EmtError('EMT_NOT_FOUND', `no values for metering point ${id}`)
    const query: ValueQuery = { meteringPoint: id, ...q }
    const rows = await deps.repository.queryValues(query)
    return {
      meteringPoint: id,
      values: rows.map((r) => ({
        obis: r.obis, unit: r.unit, scaler: r.scaler, kind: r.kind, register: r.register, periodSeconds: r.periodSeconds,
        time: r.time.toISOString(), value: r.value, status: r.status, gatewayId: r.gatewayId, messageId: r.messageId,
      })),
    }
  })
  app.get('/v1/messages', async (request) => {
    const q = parse(MessagesQuery, request.query)
    const messages = await deps.repository.listMessages({
      ...(q.gateway === undefined ? {} : { gatewayId: q.gateway }),
      ...(q.from === undefined ? {} : { from: q.from }), ...(q.to === undefined ? {} : { to: q.to }), ...(q.limit === undefined ? {} : { limit: q.limit }),
    })
    return {
      messages: messages.map((m) => ({
        ...m, periodStart: m.periodStart.toISOString(), periodEnd: m.periodEnd.toISOString(), createdAt: m.createdAt.toISOString(), receivedAt: m.receivedAt.toISOString(),
      })),
    }
  })
  app.get('/v1/export', async (request, reply) => {
    const q = parse(ExportQuery, request.query)
    const rows = await deps.repository.queryValues({
      ...(q.meteringPoint === undefined ? {} : { meteringPoint: q.meteringPoint }), ...(q.obis === undefined ? {} : { obis: q.obis }),
      ...(q.from === undefined ? {} : { from: q.from }), ...(q.to === undefined ? {} : { to: q.to }),
    })
    const text = formatExport(q.format, rows, { sender: deps.participantId, recipient: q.recipient ?? 'ZZ', createdAt: deps.now() })
    return reply.type(EXPORT_CONTENT_TYPES[q.format]).send(text)
  })
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ code: 'EMT_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}` }))
  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof EmtError) {
      const status = API_STATUS[err.code] ?? 500
      if (status >= 500) deps.logger.error({ event: 'api-error', code: err.code, err }, err.message)
      return reply.code(status).send({ code: err.code, message: err.message })
    }
    const status = (err as { statusCode?: number }).statusCode
    if (status !== undefined && status >= 400 && status < 500) return reply.code(status).send({ code: 'EMT_QUERY_INVALID', message: (err as Error).message })
    deps.logger.error({ event: 'api-error', err }, 'internal error')
    return reply.code(500).send({ code: 'INTERNAL', message: 'internal error' })
  })
  return app
}

import { createHash, timingSafeEqual } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { z } from 'zod'
import { GwaError, type GwaErrorCode } from './errors.js'
import { OPENAPI_DOCUMENT } from './openapi.js'
import type { GwaOperations, Queued } from './operations.js'
import { ANSWER_REQUEST_STATES } from '@smgw/admin-protocol'
import { COMMAND_STATES, type CommandRecord, type ConsumerRequestRecord, type GatewayRecord, type LogExportRecord, type ProfileVersionRecord } from './repository/types.js'
import { parseWakeUpAddress } from './wakeup.js'

/*
 * The operator REST API (JSON over plain HTTP on its own listener, loopback by default; every
 * route except /health and /openapi.json needs `Authorization: Bearer <token>`). It queues
 * signed commands and hands out log exports, so it is the administrator's own interface and
 * never listens where gateways or the internet reach it; put a TLS proxy in front of it for
 * remote operators.
 */

export interface ApiDeps {
  readonly operations: GwaOperations
  readonly token: string
  readonly logger: Logger
  /** Largest request body (a firmware package is posted whole). */
  readonly maxBodyBytes: number
}

const API_STATUS: Partial<Record<GwaErrorCode, number>> = {
  GWA_REQUEST_INVALID: 400,
  GWA_UNAUTHORIZED: 401,
  GWA_GATEWAY_UNKNOWN: 404,
  GWA_NOT_FOUND: 404,
  GWA_GATEWAY_EXISTS: 409,
  GWA_CONFLICT: 409,
  GWA_NO_ENC_CERTIFICATE: 409,
  GWA_WAKE_UP_FAILED: 502,
  GWA_STORAGE_FAILED: 503,
}

const gatewayIdSchema = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, '1–64 characters A–Z a–z 0–9 . _ : -')
const wakeUpAddress = z.string().refine((s) => parseWakeUpAddress(s) !== undefined, 'host:port or [v6]:port')
const wake = { wake: z.boolean().optional() }
const section = z.record(z.string(), z.unknown())
const base64 = z.base64()

export const RegisterBody = z.strictObject({ id: gatewayIdSchema, wakeUpAddress: wakeUpAddress.nullable().optional(), note: z.string().max(1000).nullable().optional() })
export const PatchBody = z.strictObject({
  wakeUpAddress: wakeUpAddress.nullable().optional(),
  note: z.string().max(1000).nullable().optional(),
  /** Taking a gateway out of service (its sessions are refused) or back (it starts over as registered). */
  state: z.enum(['revoked', 'registered']).optional(),
})
export const ClsBody = z.strictObject({
  deviceId: z.string().min(1).max(128), emtId: z.string().min(1).max(128), endpoint: z.url({ protocol: /^https$/ }), timeoutS: z.int().min(1).max(86_400),
})
/** What an operator may queue; `install-certificates` is the GWA's own answer to CSRs and not queued by hand. */
export const CommandBody = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('profile'), meters: z.array(z.unknown()).optional(), tariffs: z.array(z.unknown()).optional(), communication: section.optional(), time: section.optional(), cls: section.nullable().optional(), ...wake }),
  z.strictObject({ type: z.literal('rollback-profile'), version: z.int().min(1), ...wake }),
  z.strictObject({ type: z.literal('generate-csr'), kinds: z.array(z.enum(['tls', 'sig', 'enc'])).min(1).max(3), ...wake }),
  z.strictObject({ type: z.literal('update-crls'), crls: z.array(base64).max(64).optional(), ...wake }),
  z.strictObject({ type: z.literal('firmware'), version: z.string().min(1).max(64), ...wake }),
  z.strictObject({ type: z.literal('set-time-source'), time: section, ...wake }),
  z.strictObject({ type: z.literal('read-log'), sinceSeq: z.int().min(0).optional(), ...wake }),
  z.strictObject({ type: z.literal('taf-request'), profileId: z.string().min(1).max(128), useCase: z.union([z.literal(6), z.literal(9)]), ...wake }),
  z.strictObject({ type: z.literal('cls-open'), ...ClsBody.shape, ...wake }),
  // The keys' shape is checked by parseMeterKeys, whose messages name key IDs and never a key.
  z.strictObject({ type: z.literal('meter-keys'), keys: z.record(z.string(), z.unknown()), replace: z.boolean().optional(), ...wake }),
  z.strictObject({ type: z.literal('answer-request'), requestId: z.int().min(1).max(Number.MAX_SAFE_INTEGER), state: z.enum(ANSWER_REQUEST_STATES), note: z.string().max(1000), ...wake }),
])
export const RequestsQuery = z.strictObject({
  open: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(100_000).optional(),
})
export const CommandsQuery = z.strictObject({ state: z.enum(COMMAND_STATES).optional(), limit: z.coerce.number().int().min(1).max(100_000).optional() })

function parse<T extends z.ZodType>(schema: T, input: unknown, where: string): z.output<T> {
  const r = schema.safeParse(input)
  if (!r.success) throw new GwaError('GWA_REQUEST_INVALID', r.error.issues.map((i) => `${[where, ...i.path.map(String)].join('.')}: ${i.message}`).join('; '))
  return r.data
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString())

export function gatewayJson(g: GatewayRecord): Record<string, unknown> {
  return {
    id: g.id, note: g.note, state: g.state, wakeUpAddress: g.wakeUpAddress, tlsSubject: g.tlsSubject, firmwareVersion: g.firmwareVersion,
    profileVersion: g.profileVersion, lastSequence: g.lastSequence, wakeUpCounter: g.wakeUpCounter, registeredAt: iso(g.registeredAt),
    lastContactAt: iso(g.lastContactAt), time: g.lastReport?.time ?? null,
    certificates: g.certificates.map((c) => ({ kind: c.kind, serial: c.serial, notAfter: c.notAfter.toISOString(), source: c.source })),
  }
}

export function commandJson(c: CommandRecord, withCms = false): Record<string, unknown> {
  return {
    gatewayId: c.gatewayId, sequence: c.sequence, commandId: c.commandId, type: c.type, state: c.state, createdAt: iso(c.createdAt),
    sentAt: iso(c.sentAt), doneAt: iso(c.doneAt), result: c.result, bytes: c.cms.length,
    ...(withCms ? { cms: Buffer.from(c.cms).toString('base64') } : {}),
  }
}

export function requestJson(r: ConsumerRequestRecord): Record<string, unknown> {
  return {
    gatewayId: r.gatewayId, requestId: r.requestId, consumer: r.consumer, kind: r.kind, state: r.state, createdAt: iso(r.createdAt), text: r.text,
    firstReportedAt: iso(r.firstReportedAt), lastReportedAt: iso(r.lastReportedAt), inLastReport: r.inLastReport,
    answer: r.answer === null ? null : { state: r.answer.state, note: r.answer.note, commandId: r.answer.commandId, at: iso(r.answer.at) },
  }
}

const profileJson = (p: ProfileVersionRecord) => ({ ...p, createdAt: p.createdAt.toISOString() })
const logJson = (l: LogExportRecord) => ({ ...l, receivedAt: l.receivedAt.toISOString() })
const queuedJson = (q: Queued & { version?: number; keyIds?: readonly string[] }) => ({
  command: commandJson(q.command), ...(q.version === undefined ? {} : { version: q.version }), ...(q.keyIds === undefined ? {} : { keyIds: q.keyIds }),
  ...(q.wakeUp === undefined ? {} : { wakeUp: q.wakeUp }), ...(q.wakeUpError === undefined ? {} : { wakeUpError: q.wakeUpError }),
})

export function createApi(deps: ApiDeps): FastifyInstance {
  const ops = deps.operations
  const app = Fastify({ logger: false, bodyLimit: deps.maxBodyBytes })
  const digestOf = (text: string) => createHash('sha256').update(text).digest()
  const expected = digestOf(`Bearer ${deps.token}`)
  app.addHook('onRequest', (request, _reply, done) => {
    const path = request.url.split('?')[0]
    const open = path === '/health' || path === '/openapi.json'
    if (open || timingSafeEqual(digestOf(request.headers.authorization ?? ''), expected)) done()
    else done(new GwaError('GWA_UNAUTHORIZED', 'missing or wrong bearer token'))
  })
  // A firmware package is posted as the package file itself.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })

  app.get('/health', () => ({ status: 'ok' }))
  app.get('/openapi.json', () => OPENAPI_DOCUMENT)
  app.get('/v1/gateways', async () => ({ gateways: (await ops.fleet()).map(gatewayJson) }))
  app.post('/v1/gateways', async (request, reply) => {
    const body = parse(RegisterBody, request.body, 'body')
    return reply.code(201).send({ gateway: gatewayJson(await ops.register(body)) })
  })
  app.get<{ Params: { id: string } }>('/v1/gateways/:id', async (request) => {
    const d = await ops.gateway(request.params.id)
    return { gateway: gatewayJson(d.gateway), profiles: d.profiles.map(profileJson), pendingCommands: d.pendingCommands, openRequests: d.openRequests }
  })
  app.patch<{ Params: { id: string } }>('/v1/gateways/:id', async (request) => {
    const body = parse(PatchBody, request.body, 'body')
    return { gateway: gatewayJson(await ops.update(request.params.id, body)) }
  })
  app.post<{ Params: { id: string } }>('/v1/gateways/:id/wake', async (request) => ({ wakeUp: await ops.wake(request.params.id) }))
  app.post<{ Params: { id: string } }>('/v1/gateways/:id/commands', async (request, reply) => {
    const id = request.params.id
    const body = parse(CommandBody, request.body, 'body')
    const options = { wake: body.wake === true }
    let queued: Queued & { version?: number; keyIds?: readonly string[] }
    switch (body.type) {
      case 'profile': {
        const { type: _t, wake: _w, ...parts } = body
        queued = await ops.deployProfile(id, parts, options)
        break
      }
      case 'rollback-profile': queued = await ops.rollbackProfile(id, body.version, options); break
      case 'generate-csr': queued = await ops.renewCertificates(id, body.kinds, options); break
      case 'update-crls': queued = await ops.updateCrls(id, body.crls?.map((c) => new Uint8Array(Buffer.from(c, 'base64'))), options); break
      case 'firmware': queued = await ops.rolloutFirmware(id, body.version, options); break
      case 'set-time-source': queued = await ops.setTimeSource(id, body.time, options); break
      case 'read-log': queued = await ops.readLog(id, body.sinceSeq, options); break
      case 'taf-request': queued = await ops.tafRequest(id, body.profileId, body.useCase, options); break
      case 'cls-open': {
        const { type: _t, wake: _w, ...request } = body
        queued = await ops.clsOpen(id, request, options)
        break
      }
      case 'meter-keys': queued = await ops.assignMeterKeys(id, body.keys, { ...options, replace: body.replace === true }); break
      case 'answer-request': queued = await ops.answerRequest(id, body.requestId, { state: body.state, note: body.note }, options); break
    }
    return reply.code(201).send(queuedJson(queued))
  })
  // An EMT's request for a CLS channel (through the operator): queued and the gateway woken at once.
  app.post<{ Params: { id: string } }>('/v1/gateways/:id/cls', async (request, reply) => {
    const body = parse(ClsBody, request.body, 'body')
    return reply.code(201).send(queuedJson(await ops.clsOpen(request.params.id, body, { wake: true })))
  })
  app.get<{ Params: { id: string } }>('/v1/gateways/:id/commands', async (request) => {
    const q = parse(CommandsQuery, request.query, 'query')
    await ops.gateway(request.params.id)
    return { commands: (await ops.commands({ gatewayId: request.params.id, ...q })).map((c) => commandJson(c)) }
  })
  const requestQuery = (query: unknown) => {
    const q = parse(RequestsQuery, query, 'query')
    return { ...(q.open === 'true' ? { open: true } : {}), ...(q.limit === undefined ? {} : { limit: q.limit }) }
  }
  app.get('/v1/requests', async (request) => ({ requests: (await ops.requests(requestQuery(request.query))).map(requestJson) }))
  app.get<{ Params: { id: string } }>('/v1/gateways/:id/requests', async (request) =>
    ({ requests: (await ops.requests({ gatewayId: request.params.id, ...requestQuery(request.query) })).map(requestJson) }))
  app.get<{ Params: { commandId: string } }>('/v1/commands/:commandId', async (request) => ({ command: commandJson(await ops.command(request.params.commandId), true) }))
  app.get<{ Params: { id: string } }>('/v1/gateways/:id/logs', async (request) => ({ logs: (await ops.logs(request.params.id)).map(logJson) }))
  app.get<{ Params: { exportId: string } }>('/v1/logs/:exportId', async (request, reply) => {
    const id = parse(z.coerce.number().int().min(1), request.params.exportId, 'exportId')
    const found = await ops.log(id)
    return reply.type('application/octet-stream').header('content-disposition', `attachment; filename="${found.record.gatewayId}-system-log-${String(id)}.bin"`).send(Buffer.from(found.export))
  })
  app.get('/v1/firmware', async () => ({ firmware: (await ops.firmwares()).map((f) => ({ ...f, addedAt: f.addedAt.toISOString() })) }))
  app.post('/v1/firmware', async (request, reply) => {
    const body = request.body
    const bytes = Buffer.isBuffer(body) ? new Uint8Array(body) : new TextEncoder().encode(JSON.stringify(body))
    const record = await ops.addFirmware(bytes)
    return reply.code(201).send({ firmware: { ...record, addedAt: record.addedAt.toISOString() } })
  })

  app.setNotFoundHandler((request, reply) => reply.code(404).send({ code: 'GWA_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}` }))
  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof GwaError) {
      const status = API_STATUS[err.code] ?? 500
      if (status >= 500) deps.logger.error({ event: 'api-error', code: err.code, err }, err.message)
      return reply.code(status).send({ code: err.code, message: err.message })
    }
    const status = (err as { statusCode?: number }).statusCode
    if (status !== undefined && status >= 400 && status < 500) return reply.code(status).send({ code: 'GWA_REQUEST_INVALID', message: (err as Error).message })
    deps.logger.error({ event: 'api-error', err }, 'internal error')
    return reply.code(500).send({ code: 'INTERNAL', message: 'internal error' })
  })
  return app
}

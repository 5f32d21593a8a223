/*
 * The HAN API description (OpenAPI 3.1), served at GET /api/v1/openapi.json. Kept as data
 * beside the routes (service.ts); README "HAN service" has the same table in words.
 */

const error = { $ref: '#/components/schemas/Error' }
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } })
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { description: 'error', ...json(error) }]))
const obj = (properties: Record<string, unknown>, required: string[] = Object.keys(properties)) => ({ type: 'object', properties, required })
const str = { type: 'string' }
const int = { type: 'integer' }
const bool = { type: 'boolean' }
const arr = (items: unknown) => ({ type: 'array', items })
const q = (name: string, schema: unknown = str, required = false) => ({ name, in: 'query', required, schema })
const p = (name: string) => ({ name, in: 'path', required: true, schema: str })
const csrf = { name: 'x-csrf-token', in: 'header', required: true, schema: str, description: 'the csrfToken of the session' }
const op = (summary: string, ok: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ summary, responses: { ...ok, ...errors(401, 403) }, ...extra })

const user = obj({ username: str, role: { enum: ['consumer', 'technician'] }, consumer: str }, ['username', 'role'])
const session = obj({ user, csrfToken: str })
const strOrNull = { type: ['string', 'null'] }
/**
 * A request and the administrator's side of it: received (on the gateway) → pending (forwardedAt:
 * the gateway administrator got it with the admin report) → in-progress / done / rejected
 * (answeredAt, note: the administrator's answer, word for word; may be empty).
 */
const request = obj({
  id: int, kind: { enum: ['deletion', 'rectification', 'objection', 'tariff-choice'] }, state: { enum: ['received', 'pending', 'in-progress', 'done', 'rejected'] }, text: str, createdAt: str, updatedAt: str,
  forwardedAt: strOrNull, answeredAt: strOrNull, note: strOrNull,
})

export const HAN_OPENAPI = {
  openapi: '3.1.0',
  info: { title: 'Smart Meter Gateway HAN API', version: '1.0.0', description: 'Consumer and service-technician API of the gateway on the HAN interface. Errors: { code, message }.' },
  components: {
    schemas: { Error: obj({ code: str, message: str }) },
    securitySchemes: {
      session: { type: 'apiKey', in: 'cookie', name: 'smgw_session' },
      token: { type: 'http', scheme: 'bearer', description: 'read-only token for home automation (GET data routes of its consumer)' },
    },
  },
  security: [{ session: [] }, { token: [] }],
  paths: {
    '/healthz': { get: { summary: 'liveness', security: [], responses: { 200: json(obj({ status: str })) } } },
    '/api/v1/session': {
      post: { summary: 'log in', security: [], requestBody: json(obj({ username: str, password: str })), responses: { 200: json(session), ...errors(400, 401, 423, 429) } },
      get: op('the current session', { 200: json(session) }),
      delete: op('log out', { 204: { description: 'logged out' } }, { parameters: [csrf] }),
    },
    '/api/v1/meters': { get: op('the caller\'s meters', { 200: json(obj({ meters: arr(obj({ id: str, kind: str, name: str, quantities: arr(obj({ quantity: str, unit: str, label: str })), lastReadingAt: str }, ['id', 'kind', 'quantities', 'lastReadingAt'])) })) }) },
    '/api/v1/meters/{id}/current': { get: op('newest value per quantity (value × 10^scaler)', { 200: json(obj({ values: arr(obj({ quantity: str, value: str, scaler: int, unit: str, time: str })) })), ...errors(404) }, { parameters: [p('id')] }) },
    '/api/v1/meters/{id}/history': {
      get: op('register values at interval ends in legal time (last 24 months)', {
        200: json(obj({ quantity: str, unit: str, scaler: int, resolution: str, points: arr(obj({ time: str, value: { type: ['string', 'null'] }, status: int })) })), ...errors(400, 404),
      }, { parameters: [p('id'), q('quantity', str, true), q('resolution', { enum: ['15min', 'day', 'month'] }), q('from'), q('to')] }),
    },
    '/api/v1/live': { get: op('Server-Sent Events: first event "hello", data { heartbeatMs }; event "reading", data { meterId, quantity, value, scaler, unit, time } for each committed reading of own meters; event "heartbeat", data {} every heartbeatMs. Readings committed while no stream is open are not sent later: after a reconnection read /meters/{id}/current once', { 200: { description: 'event stream', content: { 'text/event-stream': {} } } }) },
    '/api/v1/log': {
      get: op('the caller\'s consumer log, newest first', { 200: json(obj({ entries: arr(obj({ seq: int, time: str, type: str, fields: { type: 'object' } })), next: int }, ['entries'])), ...errors(400) }, {
        parameters: [q('type'), q('from'), q('to'), q('q'), q('limit', int), q('before', int)],
      }),
    },
    '/api/v1/log/export.csv': { get: op('the consumer log as CSV (RFC 4180)', { 200: { description: 'CSV', content: { 'text/csv': {} } } }) },
    '/api/v1/log/export': { get: op('the signed export (smgw-log-export/1) of the caller\'s chain; verify with `smgw log verify FILE`', { 200: { description: 'JSON lines', content: { 'application/jsonl': {} } } }) },
    '/api/v1/tariffs': {
      get: op('what goes to whom how often, offered tariffs, the current choice', {
        200: json(obj({
          useCases: arr(obj({ profileId: str, useCase: str, text: str, recipients: arr(obj({ id: str, role: str })), legalBasis: { enum: ['legal-obligation', 'contract', 'consent'] } })),
          offered: arr(obj({ id: str, name: str, description: str })),
          choice: obj({ tariffId: str, state: request.properties.state, requestId: int, note: strOrNull, answeredAt: strOrNull }),
        }, ['useCases', 'offered'])),
      }),
    },
    '/api/v1/tariffs/choice': { post: op('choose a tariff (a request the administrator applies)', { 202: json(obj({ request })), ...errors(400, 404) }, { parameters: [csrf], requestBody: json(obj({ tariffId: str })) }) },
    '/api/v1/consents': { get: op('consent per purpose', { 200: json(obj({ consents: arr(obj({ purpose: str, useCase: str, legalBasis: str, granted: bool, since: { type: ['string', 'null'] } })) })) }) },
    '/api/v1/consents/{purpose}': { put: op('grant or withdraw consent (effective at the next period)', { 200: json(obj({ purpose: str, granted: bool })), ...errors(400, 404, 409) }, { parameters: [p('purpose'), csrf], requestBody: json(obj({ granted: bool })) }) },
    '/api/v1/requests': {
      get: op('the caller\'s data-subject requests, newest first, with the administrator\'s state, note and answer time', { 200: json(obj({ requests: arr(request) })) }),
      post: op('file a deletion, rectification or objection request', { 201: json(obj({ request })), ...errors(400) }, { parameters: [csrf], requestBody: json(obj({ kind: { enum: ['deletion', 'rectification', 'objection'] }, text: str })) }),
    },
    '/api/v1/tokens': {
      get: op('the caller\'s API tokens', { 200: json(obj({ tokens: arr(obj({ id: str, name: str, createdAt: str })) })) }),
      post: op('create a read-only token (shown once)', { 201: json(obj({ id: str, token: str })), ...errors(400) }, { parameters: [csrf], requestBody: json(obj({ name: str })) }),
    },
    '/api/v1/tokens/{id}': { delete: op('revoke a token', { 204: { description: 'revoked' }, ...errors(404) }, { parameters: [p('id'), csrf] }) },
    '/api/v1/device': {
      get: op('technician: gateway and meter state, no readings', {
        200: json(obj({
          gateway: obj({ state: str, time: str, store: obj({ schemaVersion: int, sizeBytes: int }) }),
          meters: arr(obj({ id: str, kind: str, state: str, lastReadingAt: { type: ['string', 'null'] }, keyRejected: int, garbageBytes: int })),
        })),
      }),
    },
  },
} as const

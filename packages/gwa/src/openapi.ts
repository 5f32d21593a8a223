/** The operator REST API's OpenAPI 3.1 description, served at /openapi.json. */
const CODES = ['GWA_REQUEST_INVALID', 'GWA_UNAUTHORIZED', 'GWA_GATEWAY_UNKNOWN', 'GWA_NOT_FOUND', 'GWA_GATEWAY_EXISTS', 'GWA_CONFLICT', 'GWA_NO_ENC_CERTIFICATE', 'GWA_WAKE_UP_FAILED', 'GWA_STORAGE_FAILED', 'INTERNAL'] as const
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` }) as const
const json = (schema: object) => ({ 'application/json': { schema } }) as const
const error = (description: string) => ({ description, content: json(ref('Error')) }) as const
const errors = {
  400: error('the body or query is malformed (GWA_REQUEST_INVALID)'),
  401: error('missing or wrong bearer token (GWA_UNAUTHORIZED)'),
  503: error('the inventory failed (GWA_STORAGE_FAILED)'),
} as const
const gatewayErrors = { ...errors, 404: error('unknown gateway (GWA_GATEWAY_UNKNOWN)') } as const
const idParam = { in: 'path', name: 'id', required: true, description: 'gateway ID (CN of its certificates)', schema: { type: 'string' } } as const
const wake = { wake: { type: 'boolean', description: 'send a wake-up right after queueing' } } as const
const obj = (required: readonly string[], properties: Record<string, unknown>) => ({ type: 'object', additionalProperties: false, required, properties }) as const

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'smgw gwa operator API', version: '1',
    description: 'The gateway administrator\'s head-end: register gateways, queue signed commands (docs/admin-protocol.md), wake gateways, fleet status, results, system-log exports, firmware packages. Loopback only by default; bearer token.',
  },
  security: [{ bearer: [] }],
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: obj(['code', 'message'], { code: { type: 'string', enum: CODES }, message: { type: 'string' } }),
      Certificate: obj(['kind', 'serial', 'notAfter', 'source'], {
        kind: { enum: ['tls', 'sig', 'enc', 'gs'] }, serial: { type: 'string' }, notAfter: { type: 'string', format: 'date-time' }, source: { enum: ['initial', 'operational'] },
      }),
      Gateway: {
        type: 'object',
        properties: {
          id: { type: 'string' }, note: { type: ['string', 'null'] }, state: { enum: ['registered', 'initial', 'operational', 'revoked'] },
          wakeUpAddress: { type: ['string', 'null'], description: 'host:port of its UDP wake-up listener' }, tlsSubject: { type: ['string', 'null'] },
          firmwareVersion: { type: ['string', 'null'] }, profileVersion: { type: 'integer', description: 'active configuration version as last reported' },
          lastSequence: { type: 'integer', description: 'last command sequence handed out' }, wakeUpCounter: { type: 'integer' },
          registeredAt: { type: 'string', format: 'date-time' }, lastContactAt: { type: ['string', 'null'], format: 'date-time' },
          time: { description: 'the time status of the last report' }, certificates: { type: 'array', items: ref('Certificate') },
        },
      },
      Command: {
        type: 'object',
        properties: {
          gatewayId: { type: 'string' }, sequence: { type: 'integer' }, commandId: { type: 'string' }, type: { type: 'string' },
          state: { enum: ['reserved', 'queued', 'sent', 'done', 'failed'] }, createdAt: { type: 'string', format: 'date-time' },
          sentAt: { type: ['string', 'null'] }, doneAt: { type: ['string', 'null'] },
          result: { type: ['object', 'null'], description: 'the gateway\'s result data, or its error {code, message}' },
          bytes: { type: 'integer', description: 'size of the signed command' }, cms: { type: 'string', description: 'base64 CMS SignedData (single command only)' },
        },
      },
      Queued: {
        type: 'object',
        properties: {
          command: ref('Command'), version: { type: 'integer', description: 'profile: the new configuration version' },
          wakeUp: { type: 'object', properties: { gatewayId: { type: 'string' }, counter: { type: 'integer' }, address: { type: 'string' }, bytes: { type: 'integer' } } },
          wakeUpError: ref('Error'),
        },
      },
      CommandRequest: {
        oneOf: [
          obj(['type'], { type: { const: 'profile' }, meters: { type: 'array' }, tariffs: { type: 'array' }, communication: { type: 'object' }, time: { type: 'object' }, cls: { type: ['object', 'null'] }, ...wake }),
          obj(['type', 'version'], { type: { const: 'rollback-profile' }, version: { type: 'integer', minimum: 1 }, ...wake }),
          obj(['type', 'kinds'], { type: { const: 'generate-csr' }, kinds: { type: 'array', items: { enum: ['tls', 'sig', 'enc'] } }, ...wake }),
          obj(['type'], { type: { const: 'update-crls' }, crls: { type: 'array', items: { type: 'string', contentEncoding: 'base64' }, description: 'default: the GWA\'s configured CRLs' }, ...wake }),
          obj(['type', 'version'], { type: { const: 'firmware' }, version: { type: 'string', description: 'a package added with POST /v1/firmware' }, ...wake }),
          obj(['type', 'time'], { type: { const: 'set-time-source' }, time: { type: 'object' }, ...wake }),
          obj(['type'], { type: { const: 'read-log' }, sinceSeq: { type: 'integer', minimum: 0 }, ...wake }),
          obj(['type', 'profileId', 'useCase'], { type: { const: 'taf-request' }, profileId: { type: 'string' }, useCase: { enum: [6, 9] }, ...wake }),
          obj(['type', 'deviceId', 'emtId', 'endpoint', 'timeoutS'], { type: { const: 'cls-open' }, deviceId: { type: 'string' }, emtId: { type: 'string' }, endpoint: { type: 'string', format: 'uri' }, timeoutS: { type: 'integer' }, ...wake }),
          obj(['type', 'keys'], {
            type: { const: 'meter-keys' },
            keys: {
              type: 'object', minProperties: 1, maxProperties: 256, description: 'key ID → AES-128 key (the gateway\'s --keys file shape); sealed to the gateway\'s ENC certificate, never stored in clear',
              propertyNames: { pattern: '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$', not: { const: 'pseudonym' } }, additionalProperties: { type: 'string', pattern: '^[0-9a-fA-F]{32}$' },
            },
            replace: { type: 'boolean', description: 'the gateway may overwrite key IDs it holds (default false: KEYS_INVALID on the gateway)' }, ...wake,
          }),
          obj(['type', 'requestId', 'state', 'note'], {
            type: { const: 'answer-request' }, requestId: { type: 'integer', minimum: 1, description: 'a request the gateway reported' },
            state: { enum: ['in-progress', 'done', 'rejected'] }, note: { type: 'string', maxLength: 1000, description: 'one line, shown to the consumer' }, ...wake,
          }),
        ],
      },
      ConsumerRequest: {
        type: 'object',
        properties: {
          gatewayId: { type: 'string' }, requestId: { type: 'integer' }, consumer: { type: 'string' },
          kind: { enum: ['deletion', 'rectification', 'objection', 'tariff-choice'] },
          state: { enum: ['received', 'pending', 'in-progress', 'done', 'rejected'], description: 'the last known state: as last reported, or as set by a confirmed answer' },
          createdAt: { type: 'string', format: 'date-time' }, text: { type: 'string', description: 'the consumer\'s text; for a tariff choice the tariff ID' },
          firstReportedAt: { type: 'string', format: 'date-time' }, lastReportedAt: { type: 'string', format: 'date-time' },
          inLastReport: { type: 'boolean', description: 'listed in the gateway\'s last report that carried requests (answered or closed ones leave it and are kept)' },
          answer: {
            type: ['object', 'null'], description: 'the answer the gateway confirmed',
            properties: { state: { type: 'string' }, note: { type: 'string' }, commandId: { type: 'string' }, at: { type: 'string', format: 'date-time' } },
          },
        },
      },
    },
  },
  paths: {
    '/v1/gateways': {
      get: { summary: 'fleet status: every gateway', responses: { 200: { description: '{ gateways: Gateway[] }' }, ...errors } },
      post: {
        summary: 'register a gateway',
        requestBody: { required: true, content: json(obj(['id'], { id: { type: 'string' }, wakeUpAddress: { type: ['string', 'null'] }, note: { type: ['string', 'null'] } })) },
        responses: { 201: { description: '{ gateway: Gateway }' }, 409: error('registered already (GWA_GATEWAY_EXISTS)'), ...errors },
      },
    },
    '/v1/gateways/{id}': {
      get: { summary: 'one gateway: record, kept profile versions, pending commands', parameters: [idParam], responses: { 200: { description: '{ gateway, profiles, pendingCommands, openRequests }' }, ...gatewayErrors } },
      patch: {
        summary: 'change wake-up address or note; revoke (sessions refused) or re-admit',
        parameters: [idParam],
        requestBody: { required: true, content: json(obj([], { wakeUpAddress: { type: ['string', 'null'] }, note: { type: ['string', 'null'] }, state: { enum: ['revoked', 'registered'] } })) },
        responses: { 200: { description: '{ gateway: Gateway }' }, ...gatewayErrors },
      },
    },
    '/v1/gateways/{id}/wake': {
      post: { summary: 'send a signed wake-up (counter + 1, persisted first)', parameters: [idParam], responses: { 200: { description: '{ wakeUp }' }, 502: error('no address or the send failed (GWA_WAKE_UP_FAILED)'), ...gatewayErrors } },
    },
    '/v1/gateways/{id}/commands': {
      get: {
        summary: 'the gateway\'s commands and results, by sequence',
        parameters: [idParam, { in: 'query', name: 'state', required: false, schema: { enum: ['reserved', 'queued', 'sent', 'done', 'failed'] } }, { in: 'query', name: 'limit', required: false, schema: { type: 'integer' } }],
        responses: { 200: { description: '{ commands: Command[] }' }, ...gatewayErrors },
      },
      post: {
        summary: 'queue a signed command (install-certificates is issued by the GWA itself after a CSR result)',
        parameters: [idParam], requestBody: { required: true, content: json(ref('CommandRequest')) },
        responses: {
          201: { description: 'queued (meter-keys: also keyIds)', content: json(ref('Queued')) },
          404: error('unknown gateway, firmware version or request ID (GWA_GATEWAY_UNKNOWN, GWA_NOT_FOUND)'),
          409: error('a concurrent deploy took the version (GWA_CONFLICT); meter-keys without an ENC certificate this GWA issued and the gateway reports — renew first (GWA_NO_ENC_CERTIFICATE)'),
          ...errors,
        },
      },
    },
    '/v1/gateways/{id}/cls': {
      post: {
        summary: 'an EMT asks for a CLS channel: cls-open queued and the gateway woken',
        parameters: [idParam],
        requestBody: { required: true, content: json(obj(['deviceId', 'emtId', 'endpoint', 'timeoutS'], { deviceId: { type: 'string' }, emtId: { type: 'string' }, endpoint: { type: 'string', format: 'uri' }, timeoutS: { type: 'integer' } })) },
        responses: { 201: { description: 'queued', content: json(ref('Queued')) }, ...gatewayErrors },
      },
    },
    '/v1/requests': {
      get: {
        summary: 'the consumers\' requests of the whole fleet (from the gateways\' reports), by gateway and request ID',
        parameters: [{ in: 'query', name: 'open', required: false, schema: { enum: ['true', 'false'] }, description: 'true: only received, pending, in-progress' }, { in: 'query', name: 'limit', required: false, schema: { type: 'integer' } }],
        responses: { 200: { description: '{ requests: ConsumerRequest[] }', content: json(obj(['requests'], { requests: { type: 'array', items: ref('ConsumerRequest') } })) }, ...errors },
      },
    },
    '/v1/gateways/{id}/requests': {
      get: {
        summary: 'one gateway\'s consumer requests; answer them with a command of type answer-request',
        parameters: [idParam, { in: 'query', name: 'open', required: false, schema: { enum: ['true', 'false'] } }, { in: 'query', name: 'limit', required: false, schema: { type: 'integer' } }],
        responses: { 200: { description: '{ requests: ConsumerRequest[] }', content: json(obj(['requests'], { requests: { type: 'array', items: ref('ConsumerRequest') } })) }, ...gatewayErrors },
      },
    },
    '/v1/commands/{commandId}': {
      get: { summary: 'one command with its signed bytes', parameters: [{ in: 'path', name: 'commandId', required: true, schema: { type: 'string' } }], responses: { 200: { description: '{ command: Command }' }, 404: error('GWA_NOT_FOUND'), ...errors } },
    },
    '/v1/gateways/{id}/logs': {
      get: { summary: 'system-log exports pulled from the gateway (read-log results)', parameters: [idParam], responses: { 200: { description: '{ logs: [{ id, gatewayId, commandId, receivedAt, bytes, sha256 }] }' }, ...gatewayErrors } },
    },
    '/v1/logs/{exportId}': {
      get: {
        summary: 'one export as the gateway sent it (`smgw log verify` reads it)',
        parameters: [{ in: 'path', name: 'exportId', required: true, schema: { type: 'integer' } }],
        responses: { 200: { description: 'the export', content: { 'application/octet-stream': {} } }, 404: error('GWA_NOT_FOUND'), ...errors },
      },
    },
    '/v1/firmware': {
      get: { summary: 'known firmware packages', responses: { 200: { description: '{ firmware: [{ version, name, imageSha256, size, addedAt }] }' }, ...errors } },
      post: {
        summary: 'add a firmware package file (smgw-firmware-package/1; the manufacturer\'s signature is checked by the gateway)',
        requestBody: { required: true, content: { 'application/json': {}, 'application/octet-stream': {} } },
        responses: { 201: { description: '{ firmware }' }, ...errors },
      },
    },
    '/health': { get: { summary: 'liveness (no token needed)', security: [], responses: { 200: { description: '{ status: "ok" }' } } } },
    '/openapi.json': { get: { summary: 'this document (no token needed)', security: [], responses: { 200: { description: 'OpenAPI 3.1' } } } },
  },
} as const

/** The REST API's OpenAPI 3.1 description, served at /openapi.json. */
const error = { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string', enum: ['EMT_QUERY_INVALID', 'EMT_UNAUTHORIZED', 'EMT_NOT_FOUND', 'EMT_STORAGE_FAILED', 'INTERNAL'] }, message: { type: 'string' } } } as const
const errors = {
  400: { description: 'a query parameter is missing or malformed (EMT_QUERY_INVALID)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  401: { description: 'missing or wrong bearer token (EMT_UNAUTHORIZED)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  503: { description: 'the store failed (EMT_STORAGE_FAILED)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
} as const
const instant = (description: string) => ({ in: 'query', required: false, description, schema: { type: 'string', format: 'date-time' } }) as const

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: { title: 'smgw emt REST API', version: '1', description: 'Metering points, values, received messages and exports (MSCONS, CSV, JSON) of the market participant receiver.' },
  security: [{ bearer: [] }],
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: error,
      Value: {
        type: 'object',
        properties: {
          obis: { type: 'string' }, unit: { type: ['string', 'null'] }, scaler: { type: 'integer' }, kind: { type: 'string', enum: ['reading', 'profile', 'actual'] },
          register: { type: ['string', 'null'] }, periodSeconds: { type: ['integer', 'null'] }, time: { type: 'string', format: 'date-time' },
          value: { type: ['string', 'null'], description: 'exact decimal mantissa; value × 10^scaler in unit; null for a gap' },
          status: { type: 'integer', description: 'VALUE_STATUS bits' }, gatewayId: { type: 'string' }, messageId: { type: 'string' },
        },
      },
    },
  },
  paths: {
    '/v1/metering-points': {
      get: { summary: 'metering points with values', responses: { 200: { description: '{ meteringPoints: [{ id, kind, obis[], values, firstTime, lastTime }] }' }, ...errors } },
    },
    '/v1/metering-points/{id}/values': {
      get: {
        summary: 'values of one metering point whose time lies in (from, to]',
        parameters: [
          { in: 'path', name: 'id', required: true, schema: { type: 'string' } },
          { in: 'query', name: 'obis', required: false, schema: { type: 'string' } },
          { ...instant('exclusive lower bound of the value time'), name: 'from' }, { ...instant('inclusive upper bound of the value time'), name: 'to' },
          { in: 'query', name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 1_000_000 } },
        ],
        responses: { 200: { description: '{ meteringPoint, values: Value[] }' }, 404: { description: 'unknown metering point (EMT_NOT_FOUND)' }, ...errors },
      },
    },
    '/v1/messages': {
      get: {
        summary: 'received messages, by receive time in [from, to)',
        parameters: [
          { in: 'query', name: 'gateway', required: false, schema: { type: 'string' } },
          { ...instant('inclusive lower bound of the receive time'), name: 'from' }, { ...instant('exclusive upper bound of the receive time'), name: 'to' },
          { in: 'query', name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 1_000_000 } },
        ],
        responses: { 200: { description: '{ messages: [{ gatewayId, messageId, sha256, useCase, meteringPoint, meteringPointKind, periodStart, periodEnd, createdAt, receivedAt, values }] }' }, ...errors },
      },
    },
    '/v1/export': {
      get: {
        summary: 'values as EDIFACT MSCONS, CSV or JSON',
        parameters: [
          { in: 'query', name: 'format', required: true, schema: { type: 'string', enum: ['mscons', 'csv', 'json'] } },
          { in: 'query', name: 'meteringPoint', required: false, schema: { type: 'string' } },
          { in: 'query', name: 'obis', required: false, schema: { type: 'string' } },
          { ...instant('exclusive lower bound of the value time'), name: 'from' }, { ...instant('inclusive upper bound of the value time'), name: 'to' },
          { in: 'query', name: 'recipient', required: false, description: 'MSCONS interchange recipient (default ZZ)', schema: { type: 'string' } },
        ],
        responses: {
          200: { description: 'the export', content: { 'application/edifact': {}, 'text/csv': {}, 'application/json': {} } },
          ...errors,
        },
      },
    },
    '/health': { get: { summary: 'liveness (no token needed)', security: [], responses: { 200: { description: '{ status: "ok" }' } } } },
  },
} as const

import { authorize, type Operation } from '../admin/access.js'
import type { HanRole } from '../store/han.js'

/*
 * Every authenticated HAN route and the operation of the access table (admin/access.ts) it
 * performs. The HAN service asks `authorize` through this table in one place (its onRequest
 * hook) and refuses a route that is missing here at registration, so a new route cannot slip
 * through unchecked. `session`: any logged-in caller (the session itself, logout).
 */
export const HAN_ROUTE_OPERATIONS = {
  'GET /api/v1/session': 'session',
  'DELETE /api/v1/session': 'session',
  'GET /api/v1/meters': 'readings.read.own',
  'GET /api/v1/meters/:id/current': 'readings.read.own',
  'GET /api/v1/meters/:id/history': 'readings.read.own',
  'GET /api/v1/live': 'readings.read.own',
  'GET /api/v1/log': 'log.consumer.read.own',
  'GET /api/v1/log/export.csv': 'log.consumer.read.own',
  'GET /api/v1/log/export': 'log.consumer.read.own',
  // Seeing what goes to whom is part of choosing a tariff and of consent (principles 7, 8).
  'GET /api/v1/tariffs': 'tariff.choose.own',
  'POST /api/v1/tariffs/choice': 'tariff.choose.own',
  'GET /api/v1/consents': 'consent.manage.own',
  'PUT /api/v1/consents/:purpose': 'consent.manage.own',
  'GET /api/v1/requests': 'rights.request.own',
  'POST /api/v1/requests': 'rights.request.own',
  // A token reads the consumer's readings for an integration: making one is reading one's own readings.
  'GET /api/v1/tokens': 'readings.read.own',
  'POST /api/v1/tokens': 'readings.read.own',
  'DELETE /api/v1/tokens/:id': 'readings.read.own',
  'GET /api/v1/device': 'device.status',
} as const satisfies Readonly<Record<string, Operation | 'session'>>

export type HanRoute = keyof typeof HAN_ROUTE_OPERATIONS

/** Routes anyone may call (no authentication): the API description and the login. */
export const HAN_PUBLIC_ROUTES: readonly string[] = ['GET /api/v1/openapi.json', 'POST /api/v1/session']

/** The operation of a route (`METHOD /pattern`); undefined for routes outside the API. */
export function hanOperationOf(route: string): Operation | 'session' | undefined {
  return (HAN_ROUTE_OPERATIONS as Readonly<Record<string, Operation | 'session'>>)[route]
}

/** Whether `role` may call `route` by the access table (public and unknown routes: not for this check). */
export function isHanRouteAllowed(role: HanRole, route: HanRoute): boolean {
  const operation = HAN_ROUTE_OPERATIONS[route]
  return operation === 'session' || authorize(role, operation)
}

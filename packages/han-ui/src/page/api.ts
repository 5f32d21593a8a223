/// <reference lib="dom" />
/*
 * The HAN API as the page uses it (the contract: packages/gateway README, "HAN service").
 * Every write carries the session's CSRF token in `x-csrf-token`; a 401 on any call other
 * than the login means the session ended, and `onExpired` takes the user back to the form.
 */

export interface User { readonly username: string; readonly role: 'consumer' | 'technician'; readonly consumer?: string }
export interface Session { readonly user: User; readonly csrfToken: string }
export interface Quantity { readonly quantity: string; readonly unit: string; readonly label: string }
export interface Meter { readonly id: string; readonly kind: string; readonly name?: string; readonly quantities: readonly Quantity[]; readonly lastReadingAt: string | null }
export interface CurrentValue { readonly quantity: string; readonly value: string; readonly scaler: number; readonly unit: string; readonly time: string }
export interface LiveReading extends CurrentValue { readonly meterId: string }
export interface HistoryPoint { readonly time: string; readonly value: string | null; readonly status: number }
export interface History { readonly quantity: string; readonly unit: string; readonly scaler: number; readonly resolution: string; readonly points: readonly HistoryPoint[] }
export interface LogPage { readonly entries: readonly { seq: number; time: string; type: string; fields: Record<string, unknown> }[]; readonly next?: string | number }
export interface UseCase { readonly profileId: string; readonly useCase: string; readonly text: string; readonly recipients: readonly { id: string; role: string }[]; readonly legalBasis: string }
export interface Tariffs {
  readonly useCases: readonly UseCase[]
  readonly offered: readonly { id: string; name: string; description: string }[]
  readonly choice?: { tariffId: string; state: string; requestId?: number; note?: string | null; answeredAt?: string | null }
}
export interface Consent { readonly purpose: string; readonly useCase: string; readonly legalBasis: string; readonly granted: boolean; readonly since: string | null; readonly withdrawable?: boolean }
export type RequestKind = 'deletion' | 'rectification' | 'objection'
/** A request; `forwardedAt`, `answeredAt` and `note` (the gateway administrator's side) are null until that happened. */
export interface RightsRequest {
  readonly id: string | number
  readonly kind: RequestKind
  readonly state: string
  readonly text: string
  readonly createdAt: string
  readonly updatedAt: string
  readonly forwardedAt?: string | null
  readonly answeredAt?: string | null
  readonly note?: string | null
}
export interface Device {
  readonly gateway: { readonly state: string; readonly time: string; readonly store: { readonly schemaVersion: number; readonly sizeBytes: number } }
  readonly meters: readonly { id: string; kind: string; state: string; lastReadingAt: string | null; keyRejected: number | boolean; garbageBytes: number }[]
}

export class ApiError extends Error {
  override name = 'ApiError'
  constructor(readonly status: number, readonly code: string, message: string, readonly body: Record<string, unknown>) { super(message) }
}

export interface Api {
  csrf: string
  login(username: string, password: string): Promise<Session>
  session(): Promise<Session>
  logout(): Promise<void>
  meters(): Promise<{ meters: Meter[] }>
  current(meterId: string): Promise<{ values: CurrentValue[] }>
  history(meterId: string, query: { quantity: string; resolution: string; from: string; to: string }): Promise<History>
  log(query: Readonly<Record<string, string>>): Promise<LogPage>
  tariffs(): Promise<Tariffs>
  chooseTariff(tariffId: string): Promise<unknown>
  consents(): Promise<{ consents: Consent[] }>
  setConsent(purpose: string, granted: boolean): Promise<unknown>
  requests(): Promise<{ requests: RightsRequest[] }>
  createRequest(kind: RequestKind, text: string): Promise<unknown>
  device(): Promise<Device>
}

export function createApi(onExpired: () => void): Api {
  const api: Api = {
    csrf: '',
    login: async (username, password) => {
      const session = await call<Session>('POST', '/api/v1/session', { username, password }, false)
      api.csrf = session.csrfToken
      return session
    },
    session: async () => {
      const session = await call<Session>('GET', '/api/v1/session', undefined, false)
      api.csrf = session.csrfToken
      return session
    },
    logout: async () => { await call('DELETE', '/api/v1/session', undefined, false); api.csrf = '' },
    meters: () => call('GET', '/api/v1/meters'),
    current: (id) => call('GET', `/api/v1/meters/${encodeURIComponent(id)}/current`),
    history: (id, q) => call('GET', `/api/v1/meters/${encodeURIComponent(id)}/history?${new URLSearchParams(q).toString()}`),
    log: (q) => call('GET', `/api/v1/log?${new URLSearchParams(q).toString()}`),
    tariffs: () => call('GET', '/api/v1/tariffs'),
    chooseTariff: (tariffId) => call('POST', '/api/v1/tariffs/choice', { tariffId }),
    consents: () => call('GET', '/api/v1/consents'),
    setConsent: (purpose, granted) => call('PUT', `/api/v1/consents/${encodeURIComponent(purpose)}`, { granted }),
    requests: () => call('GET', '/api/v1/requests'),
    createRequest: (kind, text) => call('POST', '/api/v1/requests', { kind, text }),
    device: () => call('GET', '/api/v1/device'),
  }

  async function call<T>(method: string, path: string, body?: unknown, expireOn401 = true): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (method !== 'GET' && api.csrf !== '') headers['x-csrf-token'] = api.csrf
    const init: RequestInit = { method, headers, credentials: 'same-origin' }
    if (body !== undefined) init.body = JSON.stringify(body)
    const res = await fetch(path, init)
    if (res.status === 204) return undefined as T
    const text = await res.text()
    let json: Record<string, unknown> = {}
    try { json = text === '' ? {} : JSON.parse(text) as Record<string, unknown> } catch { json = { message: text } }
    if (!res.ok) {
      if (res.status === 401 && expireOn401) onExpired()
      const code = typeof json['code'] === 'string' ? json['code'] : `HTTP_${res.status}`
      const message = typeof json['message'] === 'string' ? json['message'] : res.statusText
      throw new ApiError(res.status, code, message, json)
    }
    return json as T
  }
  return api
}

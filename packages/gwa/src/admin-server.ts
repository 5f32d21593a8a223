import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { TLSSocket } from 'node:tls'
import { OPENSSL_VERIFY_REASONS, toTlsRejection, type TlsContext } from '@smgw/pki'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { GwaError, type GwaErrorCode } from './errors.js'
import { gatewayIdOfX509 } from './identity.js'
import type { AdminSessions, SessionPeer } from './session.js'
import type { SessionRateLimiter } from './session-rate.js'

/** The admin session paths (docs/admin-protocol.md "Admin session"). */
export const ADMIN_SESSION_PATH = '/v1/admin/session'
export const ADMIN_RESULTS_PATH = '/v1/admin/results'

export interface AdminServerDeps {
  /** The context to use for each new handshake (replaced when the CRLs are reloaded). */
  readonly tls: () => TlsContext | undefined
  readonly sessions: AdminSessions
  readonly logger: Logger
  readonly maxBodyBytes: number
  /**
   * Per-gateway limits, keyed by the client certificate's gateway ID: `sessions` for reports
   * (each opens a session), `results` for results posts (up to 16 rounds a session). Absent: no limit.
   */
  readonly rateLimit?: { readonly sessions: SessionRateLimiter; readonly results: SessionRateLimiter }
}

const STATUS: Partial<Record<GwaErrorCode, number>> = { GWA_REQUEST_INVALID: 400, GWA_FORBIDDEN: 403, GWA_STORAGE_FAILED: 503 }

/**
 * The gateway-facing server: fastify over node:https with the SM-PKI TLS context (TLS 1.2,
 * TR-03109-3 suites, client certificate required). Each client is checked by our path
 * validation ('tls-client' with the CRLs — an operational TLS certificate or a Gütesiegel one,
 * both carry clientAuth) before any request is read; the session logic then binds the
 * certificate's CN to the report's gatewayId.
 */
export function createAdminServer(deps: AdminServerDeps): FastifyInstance {
  const log = deps.logger
  const peers = new WeakMap<object, SessionPeer>()
  const initial = deps.tls()
  if (initial === undefined) throw new GwaError('GWA_START_FAILED', 'no TLS context')

  const checkPeer = (socket: TLSSocket): void => {
    const ctx = deps.tls()
    const refuse = (reason: string | undefined, message: string) => {
      log.warn({ event: 'tls-refused', reason: reason ?? null, peer: socket.remoteAddress ?? null }, message)
      socket.destroy()
    }
    if (ctx === undefined) { refuse(undefined, 'server closing'); return }
    if (socket.getProtocol() !== 'TLSv1.2') { refuse(undefined, `protocol ${socket.getProtocol() ?? 'unknown'} is not TLSv1.2`); return }
    const result = ctx.verifyPeer(socket, 'tls-client')
    if (!result.ok) { refuse(result.reason, `TLS client rejected: ${result.reason} (${result.detail})`); return }
    if (!socket.authorized) {
      const code = String(socket.authorizationError)
      refuse(OPENSSL_VERIFY_REASONS[code], `TLS client rejected by OpenSSL: ${code}`)
      return
    }
    const x509 = socket.getPeerX509Certificate()
    // RFC 4514 order (most specific first) from OpenSSL's one-attribute-per-line form.
    const subject = x509 === undefined ? '' : x509.subject.split('\n').reverse().join(',')
    peers.set(socket, { gatewayId: gatewayIdOfX509(x509), subject, ...(socket.remoteAddress === undefined ? {} : { address: socket.remoteAddress }) })
  }

  const app = Fastify({
    logger: false,
    bodyLimit: deps.maxBodyBytes,
    serverFactory: (handler) => {
      const server: HttpsServer = createHttpsServer({ ...initial.serverOptions, rejectUnauthorized: false }, handler)
      server.prependListener('secureConnection', (socket: TLSSocket) => { checkPeer(socket) })
      server.on('tlsClientError', (err) => {
        const rejection = toTlsRejection(err)
        log.warn({ event: 'tls-refused', reason: rejection.reason ?? null }, rejection.message)
      })
      return server
    },
  })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })
  const bodyOf = (body: unknown): Uint8Array => (Buffer.isBuffer(body) ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength) : new Uint8Array(0))
  const peerOf = (socket: object): SessionPeer => {
    const peer = peers.get(socket)
    if (peer === undefined) throw new GwaError('GWA_FORBIDDEN', 'no authenticated client certificate')
    return peer
  }
  // Before the body is read and before any database work: an authenticated gateway opening
  // sessions too fast is answered 429 with Retry-After (RFC 9110 §10.2.3) and logged, sparsely.
  const limits = deps.rateLimit
  if (limits !== undefined) {
    app.addHook('onRequest', (request, reply, done) => {
      const path = request.url.split('?')[0]
      const limiter = request.method !== 'POST' ? undefined : path === ADMIN_SESSION_PATH ? limits.sessions : path === ADMIN_RESULTS_PATH ? limits.results : undefined
      const peer = peers.get(request.raw.socket)
      if (limiter === undefined || peer === undefined) { done(); return }
      const key = peer.gatewayId ?? peer.subject
      const admission = limiter.admit(key)
      if (admission.admitted) { done(); return }
      // One line for the 1st, 2nd, 4th, 8th … refusal in a row: a looping gateway cannot flood the log.
      if ((admission.refusedInRow & (admission.refusedInRow - 1)) === 0) {
        log.warn({ event: 'session-rate-limited', gateway: key, path, retryAfterS: admission.retryAfterS, refusedInRow: admission.refusedInRow, address: peer.address ?? null },
          `${key} opens admin sessions too fast; answered 429`)
      }
      void reply.code(429).header('retry-after', String(admission.retryAfterS))
        .send({ code: 'GWA_RATE_LIMITED', message: `too many admin sessions from ${key}; retry after ${String(admission.retryAfterS)} s` })
    })
  }
  app.get('/health', () => ({ status: 'ok' }))
  app.post(ADMIN_SESSION_PATH, async (request) => deps.sessions.report(peerOf(request.raw.socket), bodyOf(request.body)))
  app.post(ADMIN_RESULTS_PATH, async (request) => deps.sessions.results(peerOf(request.raw.socket), bodyOf(request.body)))
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ code: 'GWA_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}` }))
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, _request, reply) => {
    if (err instanceof GwaError) {
      const status = STATUS[err.code] ?? 500
      if (status >= 500) log.error({ event: 'session-failed', code: err.code, err }, err.message)
      return reply.code(status).send({ code: err.code, message: err.message.slice(0, 1000) })
    }
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
    if (status >= 500) log.error({ event: 'session-failed', err }, 'internal error')
    else log.warn({ event: 'request-error', status, code: err.code ?? null }, err.message)
    return reply.code(status).send(status < 500 ? { code: 'GWA_REQUEST_INVALID', message: err.message.slice(0, 1000) } : { code: 'INTERNAL', message: 'internal error' })
  })
  return app
}

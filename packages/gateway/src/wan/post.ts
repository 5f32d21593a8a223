import { request } from 'node:https'
import type { TLSSocket } from 'node:tls'
import {
  IDEMPOTENCY_HEADER, METER_DATA_CONTENT_TYPE, decodeDeliveryReceipt, decodeDeliveryRejection, isRetryableStatus,
  type DeliveryReceipt, type RejectionCode,
} from '@smgw/meter-data'
import { PkiError, connectTls, type DistinguishedName, type TlsContext } from '@smgw/pki'
import { SocketAgent, peerSubjectMismatch } from './tls-socket.js'

/*
 * One recipient's side of the WAN protocol (docs/wan-protocol.md): HTTP/1.1 POSTs over one
 * kept-alive mutual-TLS 1.2 connection, the gateway always the client (TR-03109-1). node:https
 * does the HTTP; its agent gets its sockets from @smgw/pki `connectTls`, so OpenSSL's
 * handshake checks and our SM-PKI path validation of the server (purpose tls-server, CRLs)
 * both run before a byte of a message is written.
 */

/** How a TLS connection failure is recorded in the system log (`tls-rejected.reason`). */
export type TlsRejectReason = 'certificate-invalid' | 'certificate-revoked' | 'handshake-failed' | 'profile'

export type PostOutcome =
  /** 201 stored / 200 duplicate with a receipt for this message. */
  | { readonly kind: 'delivered'; readonly status: number; readonly receipt: DeliveryReceipt }
  /** Refused for good (4xx other than 408/429, or any other non-retryable status). */
  | { readonly kind: 'rejected'; readonly status: number; readonly code: RejectionCode | 'UNREADABLE_REJECTION' }
  /**
   * Try again later: no connection (`stage: 'connect'`, with `tls` when the TLS handshake or
   * our validation refused the server), or no usable answer (`stage: 'request'`: timeout,
   * connection lost, 408/429/5xx, a receipt that is not for this message).
   */
  | { readonly kind: 'retry'; readonly stage: 'connect' | 'request'; readonly reason: string; readonly tls?: TlsRejectReason }

export interface RecipientTarget {
  readonly id: string
  readonly host: string
  readonly port: number
  /** Request path (the URL's path + METER_DATA_PATH). */
  readonly path: string
  /** Attributes the server certificate's subject must carry exactly (e.g. the participant's CN or serialNumber). */
  readonly serverSubject?: DistinguishedName
}

export interface RecipientConnectionDeps {
  readonly context: TlsContext
  readonly setTimer: (ms: number, fn: () => void) => () => void
  readonly requestTimeoutMs: number
  /** Largest answer body read, bytes. */
  readonly maxAnswerBytes?: number
  /** Called with every socket opened, so the owner can destroy it on close. */
  readonly onSocket?: (socket: TLSSocket) => void
  /** Where the recipient's TLS session is kept between connections (the delivery service keeps one per recipient). */
  readonly session: TlsSessionSlot
}

/** One remembered TLS session (node's serialized session, RFC 5077 ticket included); undefined forgets it. */
export interface TlsSessionSlot {
  get(): Buffer | undefined
  set(session: Buffer | undefined): void
}

export interface RecipientConnection {
  /** POSTs one sealed message; never rejects. */
  post(messageId: string, payload: Uint8Array): Promise<PostOutcome>
  /** Ends the kept-alive connection. */
  close(): void
}

/** Socket errors that mean "nobody answered there": not a TLS rejection. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED'])
const PROFILE_REASONS = new Set(['ALGORITHM_NOT_ALLOWED', 'CURVE_NOT_ALLOWED', 'PROFILE', 'UNKNOWN_CRITICAL_EXTENSION'])

/** A failure to get a validated connection; carried through node's agent to the request's 'error'. */
class ConnectFailure extends Error {
  override name = 'ConnectFailure'
  constructor(readonly tls: TlsRejectReason | undefined, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}
class RequestTimeout extends Error {
  override name = 'RequestTimeout'
}

export function createRecipientConnection(target: RecipientTarget, deps: RecipientConnectionDeps): RecipientConnection {
  const maxAnswerBytes = deps.maxAnswerBytes ?? 64 * 1024
  // TLS 1.2 session resumption (RFC 5077): the next connection to this recipient (the next
  // day's delivery) offers the session of the last one, which spares both sides the key
  // exchange and the signatures of a full handshake while the recipient keeps it (at most 48 h,
  // TR-03116-3: its session timeout). A session is dropped after any failure on a connection
  // that used it, so the next attempt is a full handshake.
  const slot = deps.session
  const open = async (): Promise<TLSSocket> => {
    let socket: TLSSocket
    const session = slot.get()
    try {
      socket = await connectTls(deps.context, { host: target.host, port: target.port, ...(session === undefined ? {} : { session }) })
    } catch (err) {
      slot.set(undefined)
      throw new ConnectFailure(classifyConnectError(err), `connection to ${target.id} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    slot.set(socket.getSession())
    socket.on('session', (s: Buffer) => { slot.set(s) })
    deps.onSocket?.(socket)
    const mismatch = target.serverSubject === undefined ? undefined : peerSubjectMismatch(socket, target.serverSubject)
    if (mismatch !== undefined) {
      slot.set(undefined)
      socket.destroy()
      throw new ConnectFailure('certificate-invalid', `server of ${target.id}: ${mismatch}`)
    }
    return socket
  }
  const agent = new SocketAgent(open)

  const post = (messageId: string, payload: Uint8Array): Promise<PostOutcome> => new Promise((resolve) => {
    let done = false
    let cancelTimeout: () => void = () => undefined
    const settle = (outcome: PostOutcome) => {
      if (done) return
      done = true
      cancelTimeout()
      resolve(outcome)
    }
    const req = request({
      agent, host: target.host, port: target.port, method: 'POST', path: target.path,
      headers: { 'content-type': METER_DATA_CONTENT_TYPE, 'content-length': String(payload.length), [IDEMPOTENCY_HEADER]: messageId },
    })
    cancelTimeout = deps.setTimer(deps.requestTimeoutMs, () => { req.destroy(new RequestTimeout(`no answer within ${String(deps.requestTimeoutMs)} ms`)) })
    req.on('error', (err) => {
      slot.set(undefined)
      settle(outcomeOfError(err))
    })
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > maxAnswerBytes) {
          // Settled first, then torn down: whatever the teardown emits finds the promise settled.
          settle({ kind: 'retry', stage: 'request', reason: `answer larger than ${String(maxAnswerBytes)} bytes` })
          req.destroy()
        } else if (!done) {
          chunks.push(chunk)
        }
      })
      res.on('error', (err) => { settle(outcomeOfError(err)) })
      res.on('end', () => { settle(outcomeOfAnswer(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), messageId)) })
    })
    req.end(payload)
  })

  return { post, close: () => { agent.destroy() } }
}

function outcomeOfError(err: Error): PostOutcome {
  if (err instanceof ConnectFailure) return { kind: 'retry', stage: 'connect', reason: err.message, ...(err.tls === undefined ? {} : { tls: err.tls }) }
  if (err instanceof RequestTimeout) return { kind: 'retry', stage: 'request', reason: err.message }
  return { kind: 'retry', stage: 'request', reason: `connection lost: ${err.message}` }
}

/** The answer to a POST, read as the protocol says (packages/meter-data README, "The delivery protocol"). */
export function outcomeOfAnswer(status: number, body: string, messageId: string): PostOutcome {
  if (status >= 200 && status < 300) {
    let receipt: DeliveryReceipt
    try {
      receipt = decodeDeliveryReceipt(body)
    } catch (err) {
      return { kind: 'retry', stage: 'request', reason: `HTTP ${String(status)} without a receipt: ${err instanceof Error ? err.message : String(err)}` }
    }
    if (receipt.messageId !== messageId) return { kind: 'retry', stage: 'request', reason: `receipt for another message (${receipt.messageId})` }
    if ((status === 201 && receipt.status === 'stored') || (status === 200 && receipt.status === 'duplicate')) return { kind: 'delivered', status, receipt }
    return { kind: 'retry', stage: 'request', reason: `receipt status ${receipt.status} with HTTP ${String(status)}` }
  }
  if (isRetryableStatus(status)) return { kind: 'retry', stage: 'request', reason: `HTTP ${String(status)}` }
  let code: RejectionCode | 'UNREADABLE_REJECTION'
  try {
    code = decodeDeliveryRejection(body).code
  } catch {
    code = 'UNREADABLE_REJECTION'
  }
  return { kind: 'rejected', status, code }
}

/** Network failures are not TLS rejections; everything else from connectTls is, with our reason mapped. */
export function classifyConnectError(err: unknown): TlsRejectReason | undefined {
  const reason = err instanceof PkiError ? err.reason : undefined
  if (reason === undefined) {
    const cause: unknown = err instanceof Error ? err.cause ?? err : err
    const code = (cause as { code?: unknown } | null)?.code
    if (typeof code === 'string' && UNREACHABLE.has(code)) return undefined
    return 'handshake-failed'
  }
  if (reason === 'REVOKED') return 'certificate-revoked'
  if (PROFILE_REASONS.has(reason)) return 'profile'
  return 'certificate-invalid'
}

import { request } from 'node:https'
import type { TLSSocket } from 'node:tls'
import { connectTls, type DistinguishedName, type TlsContext } from '@smgw/pki'
import { SocketAgent, peerSubjectMismatch } from '../wan/tls-socket.js'

/*
 * The admin session's transport (docs/admin-protocol.md "Admin session"): JSON POSTs over
 * one kept-alive mutual-TLS 1.2 connection to the GWA, the gateway the client (TR-03109-1).
 * As in wan/post.ts, node:https does the HTTP and its agent takes sockets from @smgw/pki
 * `connectTls` (OpenSSL's handshake checks and our SM-PKI path validation of the server),
 * and the server certificate's subject must be the GWA's before a byte is written.
 */

/** Why a POST got no usable answer; `admin-session.code` in the system log. */
export type AdminHttpFailureCode = 'CONNECT_FAILED' | 'SERVER_NOT_GWA' | 'TIMEOUT' | 'CONNECTION_LOST' | 'ANSWER_TOO_LARGE'

export class AdminHttpFailure extends Error {
  override name = 'AdminHttpFailure'
  constructor(readonly code: AdminHttpFailureCode, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

export interface AdminHttpDeps {
  readonly context: TlsContext
  /** The GWA's subject: the server certificate must carry exactly these attributes. */
  readonly serverSubject: DistinguishedName
  readonly requestTimeoutMs: number
  readonly setTimer: (ms: number, fn: () => void) => () => void
  /** Largest answer body read, bytes. */
  readonly maxAnswerBytes: number
}

export interface AdminHttpClient {
  /** POSTs `body` as application/json to `path` under the endpoint; rejects with AdminHttpFailure. */
  postJson(path: string, body: Uint8Array): Promise<{ readonly status: number; readonly body: Uint8Array }>
  close(): void
}

export function createAdminHttpClient(endpoint: URL, deps: AdminHttpDeps): AdminHttpClient {
  const host = endpoint.hostname.replace(/^\[(.*)\]$/, '$1')
  const port = endpoint.port === '' ? 443 : Number(endpoint.port)
  const base = endpoint.pathname.replace(/\/+$/, '')
  const sockets = new Set<TLSSocket>()
  const open = async (): Promise<TLSSocket> => {
    let socket: TLSSocket
    try {
      socket = await connectTls(deps.context, { host, port })
    } catch (err) {
      throw new AdminHttpFailure('CONNECT_FAILED', `GWA ${host}:${String(port)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    const mismatch = peerSubjectMismatch(socket, deps.serverSubject)
    if (mismatch !== undefined) {
      socket.destroy()
      throw new AdminHttpFailure('SERVER_NOT_GWA', `GWA ${host}:${String(port)}: server ${mismatch} (not the GWA)`)
    }
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    return socket
  }
  const agent = new SocketAgent(open)

  const postJson = (path: string, body: Uint8Array) => new Promise<{ status: number; body: Uint8Array }>((resolve, reject) => {
    let done = false
    let cancelTimeout: () => void = () => undefined
    const fail = (err: Error) => {
      if (done) return
      done = true
      cancelTimeout()
      reject(err instanceof AdminHttpFailure ? err : new AdminHttpFailure('CONNECTION_LOST', `GWA: ${err.message}`, { cause: err }))
    }
    const req = request({
      agent, host, port, method: 'POST', path: `${base}${path}`,
      headers: { 'content-type': 'application/json', 'content-length': String(body.length), accept: 'application/json' },
    })
    // Settled first, then torn down: whatever the teardown emits finds the promise settled.
    const abandon = (failure: AdminHttpFailure) => {
      fail(failure)
      req.destroy()
    }
    cancelTimeout = deps.setTimer(deps.requestTimeoutMs, () => {
      abandon(new AdminHttpFailure('TIMEOUT', `no answer from the GWA within ${String(deps.requestTimeoutMs)} ms`))
    })
    req.on('error', fail)
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > deps.maxAnswerBytes) {
          chunks.length = 0
          abandon(new AdminHttpFailure('ANSWER_TOO_LARGE', `answer larger than ${String(deps.maxAnswerBytes)} bytes`))
          res.destroy()
        } else if (!done) {
          chunks.push(chunk)
        }
      })
      res.on('error', fail)
      res.on('end', () => {
        if (done) return
        done = true
        cancelTimeout()
        resolve({ status: res.statusCode ?? 0, body: new Uint8Array(Buffer.concat(chunks)) })
      })
    })
    req.end(body)
  })

  return {
    postJson,
    close() {
      agent.destroy()
      for (const s of sockets) s.destroy()
    },
  }
}

// Test support for src/wan (not exported): a small stand-in for a market participant's
// receiver (packages/emt is the real one) that answers per docs/wan-protocol.md over real
// mutual TLS: decrypts and verifies the CMS, checks recipient, sender and idempotency key,
// stores each messageId once, and answers 201 stored / 200 duplicate / 4xx.
import { createHash, type KeyObject } from 'node:crypto'
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { TLSSocket, type Server } from 'node:tls'
import { createCmsDecryptor, createCmsVerifier, createKeyObjectAgreer } from '@smgw/crypto'
import { METER_DATA_CONTENT_TYPE, METER_DATA_PATH, decodeMeterData, type MeterDataMessage } from '@smgw/meter-data'
import { createTlsContext, createTlsServer, decodeCertificate, parseName, validatePath, type PkiError, type TlsIdentity, type TlsTrust } from '@smgw/pki'

export type ReceiverBehaviour =
  | 'normal'
  /** Commit the next message, then cut the connection instead of answering (a lost answer); then normal. */
  | 'drop-after-commit-once'
  /** Commit every message, then never answer (the test ends it by cutting connections). */
  | 'hang-after-commit'
  /** Answer every request with this status and body, checking nothing. */
  | { readonly status: number; readonly body: string }

export interface TestReceiverOptions {
  readonly recipientId: string
  /** The server's TLS identity and the trust for clients. */
  readonly identity: TlsIdentity
  readonly trust: TlsTrust
  /** The receiver's ENC key and certificate. */
  readonly encKey: KeyObject
  readonly encCertificate: Uint8Array
  /** The SM-PKI root the gateway's SIG certificate chains to. */
  readonly root: Uint8Array
  readonly now: () => Date
}

export interface ReceivedRequest {
  readonly messageId: string | undefined
  readonly status: number
}

export interface TestReceiver {
  behaviour: ReceiverBehaviour
  /** Committed messages: messageId → SHA-256 of the content. */
  readonly stored: ReadonlyMap<string, string>
  readonly messages: readonly MeterDataMessage[]
  /** Every answered (or dropped: status 0) request in order. */
  readonly requests: readonly ReceivedRequest[]
  /** TLS clients the server refused. */
  readonly rejections: readonly PkiError[]
  /** TLS connections accepted so far, and how many of them resumed a session (RFC 5077). */
  readonly connections: () => number
  readonly resumedConnections: () => number
  /** When true, a connection that resumes a session is cut right after the handshake (a receiver that cannot build the client's path from the leaf alone). */
  refuseResumed: boolean
  /** Cuts every open connection and keeps listening (an idle timeout; the session stays resumable). */
  dropConnections(): void
  /** Resolves once `count` messages are committed. */
  committed(count: number): Promise<void>
  /** Listens on 127.0.0.1 (port 0: any free port); returns the port. */
  listen(port?: number): Promise<number>
  /** Stops listening and cuts every connection. */
  stop(): Promise<void>
}

export function createTestReceiver(o: TestReceiverOptions): TestReceiver {
  const stored = new Map<string, string>()
  const messages: MeterDataMessage[] = []
  const requests: ReceivedRequest[] = []
  const rejections: PkiError[] = []
  const sockets = new Set<TLSSocket>()
  const waiters: { count: number; resolve: () => void }[] = []
  let connections = 0
  let resumed = 0
  const decryptor = createCmsDecryptor({ agreer: createKeyObjectAgreer(o.encKey), certificate: o.encCertificate })
  const verifier = createCmsVerifier({
    trust: (leaf, carried) => {
      const r = validatePath({ leaf, intermediates: carried, roots: [o.root], at: o.now(), purpose: 'sig' })
      return r.ok ? Promise.resolve() : Promise.reject(new Error(r.reason))
    },
  })
  const context = createTlsContext({ identity: o.identity, trust: o.trust }, { now: o.now })
  const self: TestReceiver = {
    behaviour: 'normal', stored, messages, requests, rejections, connections: () => connections, resumedConnections: () => resumed, refuseResumed: false,
    dropConnections: () => { for (const socket of sockets) socket.destroy() },
    committed: (count) => new Promise((resolve) => {
      if (stored.size >= count) resolve()
      else waiters.push({ count, resolve })
    }),
    listen: async (port = 0) => {
      server = createTlsServer(context, {
        onConnection: (socket) => {
          connections++
          if (socket.isSessionReused()) {
            resumed++
            if (self.refuseResumed) { socket.destroy(); return }
          }
          sockets.add(socket)
          socket.once('close', () => sockets.delete(socket))
          http.emit('connection', socket)
        },
        onReject: (err) => { rejections.push(err) },
      })
      const s = server
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject)
        s.listen(port, '127.0.0.1', () => { s.off('error', reject); resolve() })
      })
      const addr = s.address()
      if (addr === null || typeof addr === 'string') throw new Error('no port')
      return addr.port
    },
    stop: async () => {
      const s = server
      server = undefined
      for (const socket of sockets) socket.destroy()
      if (s !== undefined) await new Promise<void>((resolve) => s.close(() => { resolve() }))
    },
  }
  let server: Server | undefined

  const answer = (res: ServerResponse, messageId: string | undefined, status: number, body: unknown) => {
    requests.push({ messageId, status })
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(typeof body === 'string' ? body : JSON.stringify(body))
  }
  const refuse = (res: ServerResponse, messageId: string | undefined, code: string, status = 400) => { answer(res, messageId, status, { code, message: code }) }

  const receive = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = new Uint8Array(Buffer.concat(chunks))
    const key = req.headers['idempotency-key']
    const headerId = typeof key === 'string' ? key : undefined
    const behaviour = self.behaviour
    if (typeof behaviour === 'object') { answer(res, headerId, behaviour.status, behaviour.body); return }
    if (req.method !== 'POST' || req.url !== METER_DATA_PATH || req.headers['content-type'] !== METER_DATA_CONTENT_TYPE) { refuse(res, headerId, 'MALFORMED'); return }
    let signed: Uint8Array
    try {
      signed = await decryptor.decrypt(body)
    } catch (err) {
      refuse(res, headerId, (err as { code?: string }).code === 'CMS_NO_RECIPIENT' ? 'NOT_FOR_US' : 'DECRYPT_FAILED')
      return
    }
    let content: Uint8Array
    let signer: Uint8Array
    try {
      const v = await verifier.verify(signed)
      content = v.content
      signer = v.signerCertificate
    } catch {
      refuse(res, headerId, 'SIGNATURE_INVALID')
      return
    }
    let message: MeterDataMessage
    try {
      message = decodeMeterData(content)
    } catch {
      refuse(res, headerId, 'MALFORMED')
      return
    }
    if (message.recipient !== o.recipientId) { refuse(res, headerId, 'WRONG_RECIPIENT'); return }
    const socket = req.socket
    const tlsClient = socket instanceof TLSSocket ? parseName(decodeCertificate(new Uint8Array(socket.getPeerCertificate().raw)).subject).CN : undefined
    if (tlsClient !== message.gatewayId || parseName(decodeCertificate(signer).subject).CN !== message.gatewayId) { refuse(res, headerId, 'SENDER_UNKNOWN'); return }
    if (headerId !== message.messageId) { refuse(res, headerId, 'IDEMPOTENCY_KEY_MISMATCH'); return }
    const hash = createHash('sha256').update(content).digest('hex')
    const seen = stored.get(message.messageId)
    if (seen !== undefined) {
      if (seen === hash) answer(res, headerId, 200, { status: 'duplicate', messageId: message.messageId })
      else refuse(res, headerId, 'REPLAYED', 409)
      return
    }
    stored.set(message.messageId, hash) // the commit
    messages.push(message)
    for (const w of waiters.splice(0)) {
      if (stored.size >= w.count) w.resolve()
      else waiters.push(w)
    }
    if (self.behaviour === 'drop-after-commit-once' || self.behaviour === 'hang-after-commit') {
      requests.push({ messageId: headerId, status: 0 })
      if (self.behaviour === 'drop-after-commit-once') {
        self.behaviour = 'normal'
        req.socket.destroy()
      }
      return
    }
    answer(res, headerId, 201, { status: 'stored', messageId: message.messageId })
  }
  const http = createHttpServer((req, res) => {
    receive(req, res).catch(() => { res.destroy() })
  })
  return self
}

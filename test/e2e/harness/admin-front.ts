// What stands at the gateway's `admin.endpoint` in the administration e2e test: a TCP front
// that passes every connection through, byte for byte, to the real `smgw gwa serve` (the TLS
// session is the gateway's with the GWA; the front sees nothing of it). For the attack steps
// the test arms it once: the next connection is answered by a test-local mutual-TLS GWA
// instead — a server holding the GWA's TLS identity (as a compromised head-end or an insider
// with the GWA's TLS key would) that hands the gateway commands the test built and signed
// itself, e.g. a profile signed by a market participant's SIG key.
import { connect, createServer, type Server, type Socket } from 'node:net'
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { decodeAdminReport, decodeAdminResults, encodeCommandsAnswer, type AdminReport, type AdminResult } from '@smgw/admin-protocol'
import { createTlsServer, decodeCertificate, type TlsContext } from '@smgw/pki'

/** One session the test-local GWA answered. */
export interface InterceptedSession {
  readonly report: AdminReport
  /** The subject of the gateway's TLS client certificate. */
  readonly clientSubject: string
  readonly clientSerial: string
  readonly results: readonly AdminResult[]
}

export interface AdminFront {
  readonly port: number
  /** Connections passed through to the real GWA. */
  passedThrough(): number
  /**
   * Arms the front: the next connection goes to the test-local GWA, which answers the report
   * with `commands(report)` (base64 CMS each) and the results post with no commands. Resolves
   * with the session once its results arrived.
   */
  intercept(commands: (report: AdminReport) => Promise<readonly Uint8Array[]>, timeoutMs: number): Promise<InterceptedSession>
  close(): Promise<void>
}

const SESSION_PATH = '/v1/admin/session'
const RESULTS_PATH = '/v1/admin/results'

export async function startAdminFront(options: { readonly upstreamPort: number; readonly gwaTls: TlsContext }): Promise<AdminFront> {
  const sockets = new Set<Socket>()
  let passed = 0
  let armed: ((socket: Socket) => void) | undefined

  const front: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    if (armed !== undefined) {
      const take = armed
      armed = undefined
      take(socket)
      return
    }
    passed++
    const upstream = connect(options.upstreamPort, '127.0.0.1')
    sockets.add(upstream)
    upstream.on('close', () => { sockets.delete(upstream); socket.destroy() })
    upstream.on('error', () => { socket.destroy() })
    socket.on('close', () => upstream.destroy())
    socket.pipe(upstream).pipe(socket)
  })
  await new Promise<void>((resolve) => { front.listen(0, '127.0.0.1', resolve) })
  const address = front.address()
  if (address === null || typeof address === 'string') throw new Error('admin front: no port')

  return {
    port: address.port,
    passedThrough: () => passed,
    intercept(commands, timeoutMs) {
      return new Promise<InterceptedSession>((resolve, reject) => {
        let report: AdminReport | undefined
        let client = { subject: '', serial: '' }
        const http = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
          const chunks: Buffer[] = []
          req.on('data', (c: Buffer) => chunks.push(c))
          req.on('end', () => {
            void (async () => {
              const body = new Uint8Array(Buffer.concat(chunks))
              let answer: readonly Uint8Array[] = []
              if (req.url === SESSION_PATH) {
                report = decodeAdminReport(body)
                answer = await commands(report)
              } else if (req.url === RESULTS_PATH && report !== undefined) {
                const results = decodeAdminResults(body).results
                res.writeHead(200, { 'content-type': 'application/json' }).end(encodeCommandsAnswer({ format: 'smgw-admin-commands/1', commands: [] }))
                clearTimeout(timer)
                resolve({ report, clientSubject: client.subject, clientSerial: client.serial, results })
                return
              } else {
                res.writeHead(404).end()
                return
              }
              res.writeHead(200, { 'content-type': 'application/json' })
                .end(encodeCommandsAnswer({ format: 'smgw-admin-commands/1', commands: answer.map((c) => Buffer.from(c).toString('base64')) }))
            })().catch((err: unknown) => {
              res.writeHead(500).end()
              clearTimeout(timer)
              reject(err instanceof Error ? err : new Error(String(err)))
            })
          })
        })
        const tls = createTlsServer(options.gwaTls, {
          onConnection: (socket) => {
            const peer = decodeCertificate(new Uint8Array(socket.getPeerCertificate().raw))
            client = { subject: peer.subject, serial: peer.serialHex }
            http.emit('connection', socket)
          },
          onReject: (err) => {
            clearTimeout(timer)
            reject(err)
          },
        })
        const timer = setTimeout(() => {
          armed = undefined
          reject(new Error(`admin front: no intercepted session within ${String(timeoutMs)} ms`))
        }, timeoutMs)
        armed = (socket) => { tls.emit('connection', socket) }
      })
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      front.close(() => { resolve() })
    }),
  }
}

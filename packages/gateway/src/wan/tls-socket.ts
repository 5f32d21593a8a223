import { Agent } from 'node:https'
import type { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { decodeCertificate, parseName, type DistinguishedName } from '@smgw/pki'

/*
 * What the gateway's TLS clients share (WAN delivery, admin session, CLS channel): node:https
 * does the HTTP, but its sockets come from @smgw/pki `connectTls`, so OpenSSL's handshake checks
 * and our SM-PKI path validation run before a byte is written (TR-03109-1: the gateway is
 * always the client), and the peer must carry the configured subject.
 */

/** node:https agent whose one kept-alive socket comes from `open`. */
export class SocketAgent extends Agent {
  constructor(private readonly open: () => Promise<TLSSocket>) {
    super({ keepAlive: true, maxSockets: 1 })
  }

  // node's Agent takes the socket from the callback when createConnection returns nothing.
  override createConnection(_options: unknown, callback?: (err: Error | null, stream: Duplex) => void): Duplex {
    this.open().then((socket) => {
      // A socket torn down while no request owns it (after an answer was cut off) must not
      // raise an unhandled 'error'; the request that used it has settled already.
      socket.on('error', () => undefined)
      callback?.(null, socket)
    }, (err: unknown) => { callback?.(err as Error, undefined as unknown as Duplex) })
    return undefined as unknown as Duplex
  }
}

/** Every attribute of `expected` must be in the peer certificate's subject with that value; else why not. */
export function peerSubjectMismatch(socket: TLSSocket, expected: Partial<DistinguishedName>): string | undefined {
  let subject: DistinguishedName
  try {
    subject = parseName(decodeCertificate(new Uint8Array(socket.getPeerCertificate().raw)).subject)
  } catch (err) {
    return `certificate subject not readable: ${err instanceof Error ? err.message : String(err)}`
  }
  for (const [key, value] of Object.entries(expected) as [keyof DistinguishedName, string | undefined][]) {
    if (value !== undefined && subject[key] !== value) return `certificate subject ${key} is ${JSON.stringify(subject[key] ?? null)}, expected ${JSON.stringify(value)}`
  }
  return undefined
}

// Test support for src/cls (not exported from the package index): the two real ends of a CLS
// channel — an EMT CLS endpoint (mutual TLS with @smgw/pki's server) and a TCP device on
// 127.0.0.1 — line and end helpers for their sockets, and the files and config a real gateway
// starts from in the gateway-level CLS tests.
import { writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { encodePem } from '@smgw/crypto'
import { createTlsContext, createTlsServer } from '@smgw/pki'
import type { WanTestPki } from '../wan/testing.js'

/** Every connection a listener accepted: `next()` hands them on in order, `all` keeps them for teardown. */
export interface Arrivals<S> {
  readonly all: readonly S[]
  next(): Promise<S>
}

function createArrivals<S>(): Arrivals<S> & { push: (s: S) => void } {
  const waiting: ((s: S) => void)[] = []
  const arrived: S[] = []
  const all: S[] = []
  return {
    all,
    push: (s) => {
      all.push(s)
      const w = waiting.shift()
      if (w !== undefined) w(s)
      else arrived.push(s)
    },
    next: () => {
      const s = arrived.shift()
      return s !== undefined ? Promise.resolve(s) : new Promise((resolve) => { waiting.push(resolve) })
    },
  }
}

export interface TestEndpoint<S> extends Arrivals<S> {
  readonly port: number
  readonly server: Server
  /** Destroys every accepted socket, then closes the listener. */
  close(): void
}

function listening<S extends Socket>(server: Server, arrivals: Arrivals<S>): Promise<TestEndpoint<S>> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        ...arrivals,
        port: (server.address() as AddressInfo).port,
        server,
        close: () => { for (const s of arrivals.all) s.destroy(); server.close() },
      })
    })
  })
}

/**
 * An EMT CLS endpoint as `label` of `identityFrom` (its TLS certificate under sub-ca-emt),
 * accepting gateways whose client certificate chains to `trustFrom`'s root.
 */
export function startTestEmt(identityFrom: WanTestPki, label = 'emt-1', trustFrom: WanTestPki = identityFrom): Promise<TestEndpoint<TLSSocket>> {
  const context = createTlsContext({
    identity: { key: identityFrom.key(`${label}/tls`), cert: identityFrom.cert(`${label}/tls`), chain: [identityFrom.cert('sub-ca-emt')] },
    trust: { roots: [trustFrom.cert('root')] },
  })
  const arrivals = createArrivals<TLSSocket>()
  return listening(createTlsServer(context, { onConnection: arrivals.push }), arrivals)
}

/** A device on the HAN: a plain TCP server. */
export function startTestDevice(): Promise<TestEndpoint<Socket>> {
  const arrivals = createArrivals<Socket>()
  return listening(createServer(arrivals.push), arrivals)
}

/** The next line `socket` receives (without the newline); bytes after it are put back. */
export function readLine(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = ''
    const onData = (c: Buffer): void => {
      text += c.toString('utf8')
      const nl = text.indexOf('\n')
      if (nl < 0) return
      socket.off('data', onData)
      const rest = text.slice(nl + 1)
      if (rest.length > 0) socket.unshift(Buffer.from(rest))
      resolve(text.slice(0, nl))
    }
    socket.on('data', onData)
  })
}

/** Resolves once the peer ended or the socket closed (reading away whatever still arrives). */
export function ended(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readableEnded || socket.destroyed) resolve()
    else { socket.once('end', () => { resolve() }); socket.once('close', () => { resolve() }); socket.resume() }
  })
}

/** The PEM file a label is written to in `dir` (`gateways/smgw-0001/tls.key` → `gateways-smgw-0001-tls.key.pem`). */
export function pemFileIn(dir: string): (label: string) => string {
  return (label) => join(dir, `${label.replaceAll('/', '-')}.pem`)
}

/** Writes certificates (PEM) and private keys (PKCS#8 PEM, mode 0600, as `<label>.key`) of `t` into `dir`. */
export async function writeTestPkiFiles(t: WanTestPki, dir: string, labels: { certificates: readonly string[]; keys: readonly string[] }): Promise<void> {
  const file = pemFileIn(dir)
  for (const label of labels.certificates) await writeFile(file(label), encodePem('CERTIFICATE', t.cert(label)))
  for (const label of labels.keys) await writeFile(file(`${label}.key`), t.key(label).export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 })
}

/**
 * The gateway config every gateway-level CLS test starts from (files as `writeTestPkiFiles`
 * wrote them): a store, signed logs, no meters, and a WAN with EMT recipient emt-1 that is
 * never reached (port 1).
 */
export function gatewayTestConfig(gatewayId: string, file: (label: string) => string): Record<string, unknown> {
  const gw = `gateways/${gatewayId}`
  return {
    gatewayId,
    store: { path: 'gateway.db' },
    logs: { sigKey: file(`${gw}/sig.key`), sigCertificate: file(`${gw}/sig`) },
    meters: [],
    wan: {
      tls: { key: file(`${gw}/tls.key`), certificate: file(`${gw}/tls`), chain: [file('sub-ca-gw')] },
      trust: { roots: [file('root')], intermediates: [file('sub-ca-emt')] },
      recipients: [{ id: 'emt-1', url: 'https://127.0.0.1:1', encCertificate: file('emt-1/enc') }],
    },
  }
}

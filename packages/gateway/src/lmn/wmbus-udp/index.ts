import { createSocket, type Socket } from 'node:dgram'
import { GatewayError } from '../../errors.js'
import { createWmbusReader, type WmbusReaderMeter } from '../wmbus/reader.js'
import type { LmnAdapter, LmnDeps, LmnSink } from '../types.js'

export interface WmbusUdpOptions {
  readonly host: string
  /** 0 binds any free port (see `port()`). */
  readonly port: number
  readonly meters: readonly WmbusReaderMeter[]
}

/**
 * Wireless M-Bus from a UDP forwarder (a receiver on the network): one datagram = one telegram.
 * `replaceMeters` swaps the meters and keys while the socket stays bound (no datagram lost).
 */
export function createWmbusUdpAdapter(options: WmbusUdpOptions, sink: LmnSink, deps: LmnDeps): LmnAdapter & { port(): number | undefined; replaceMeters(meters: readonly WmbusReaderMeter[]): void } {
  const transport = 'wmbus-udp'
  let reader = createWmbusReader(options.meters, transport, sink, deps.now)
  let socket: Socket | undefined
  return {
    transport,
    async start() {
      if (socket !== undefined) return
      const s = createSocket('udp4')
      s.on('message', (msg) => { reader.telegram(new Uint8Array(msg)) })
      await new Promise<void>((resolve, reject) => {
        s.once('error', (err) => { reject(new GatewayError('LMN_OPEN_FAILED', `cannot bind UDP ${options.host}:${options.port}: ${err.message}`, { cause: err })) })
        s.bind(options.port, options.host, () => { resolve() })
      })
      s.on('error', (err) => { sink.event({ kind: 'link', transport, state: 'down', detail: err.message }) })
      socket = s
      sink.event({ kind: 'link', transport, state: 'up' })
    },
    async close() {
      const s = socket
      socket = undefined
      if (s === undefined) return
      await new Promise<void>((resolve) => { s.close(() => { resolve() }) })
    },
    port: () => socket?.address().port,
    replaceMeters(meters) {
      reader = createWmbusReader(meters, transport, sink, deps.now)
    },
  }
}

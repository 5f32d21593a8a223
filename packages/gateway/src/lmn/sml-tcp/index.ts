import { createConnection, type Socket } from 'node:net'
import type { SmlQuirks } from '@smgw/sml'
import { createSmlReader } from '../sml/reader.js'
import type { LmnAdapter, LmnDeps, LmnSink } from '../types.js'

export interface SmlTcpOptions {
  readonly meterId: string
  readonly host: string
  readonly port: number
  readonly quirks?: SmlQuirks
  /** Reconnect backoff: first delay, doubled per failed attempt up to `maxMs`. Default 1 s … 30 s. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number }
}

/**
 * SML meter (or a serial-to-TCP converter) reached as a TCP client. The connection is
 * kept up: after a refusal or a drop it reconnects with exponential backoff on the
 * injected timer. Each connection gets a fresh framer (a file cut by the drop is reported).
 */
export function createSmlTcpAdapter(options: SmlTcpOptions, sink: LmnSink, deps: LmnDeps): LmnAdapter {
  const transport = 'sml-tcp'
  const { initialMs, maxMs } = options.backoff ?? { initialMs: 1000, maxMs: 30_000 }
  const reader = () => createSmlReader({ meterId: options.meterId, transport, ...(options.quirks === undefined ? {} : { quirks: options.quirks }) }, sink, deps.now)
  let running = false
  let socket: Socket | undefined
  let cancelRetry: (() => void) | undefined
  let delay = initialMs

  const connect = () => {
    cancelRetry = undefined
    if (!running) return
    const r = reader()
    const s = createConnection({ host: options.host, port: options.port })
    socket = s
    let up = false
    s.on('connect', () => {
      up = true
      delay = initialMs
      sink.event({ kind: 'link', transport, meterId: options.meterId, state: 'up' })
    })
    s.on('data', (chunk: Buffer) => { r.push(new Uint8Array(chunk)) })
    s.on('error', () => { /* 'close' follows */ })
    s.on('close', () => {
      if (socket !== s) return
      socket = undefined
      r.end()
      if (!running) return
      sink.event({ kind: 'link', transport, meterId: options.meterId, state: 'down', detail: up ? 'connection lost' : 'connection failed' })
      cancelRetry = deps.setTimer(delay, connect)
      delay = Math.min(delay * 2, maxMs)
    })
  }

  return {
    transport,
    start() {
      if (!running) {
        running = true
        connect()
      }
      return Promise.resolve()
    },
    async close() {
      if (!running) return
      running = false
      cancelRetry?.()
      cancelRetry = undefined
      const s = socket
      if (s === undefined) return
      await new Promise<void>((resolve) => {
        s.once('close', () => { resolve() })
        s.destroy()
      })
    },
  }
}

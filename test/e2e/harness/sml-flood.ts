// An SML meter (the @smgw/sim model) behind a TCP server on 127.0.0.1 that pushes files as
// fast as the connected gateway reads them, and records every file it wrote: the simulator's
// own account of what it sent, against which a store is checked. One file sequence across
// connections: a gateway that reconnects after a crash gets the next files, never old ones.
import { createServer, type Server, type Socket } from 'node:net'
import { createSmlMeterFromConfig, parseSmlMeterConfig, type SmlMeter } from '@smgw/sim'

/** One file as written to the socket: the raw register integers (0.1 Wh) and the power (W, scaler 0). */
export interface SentSmlFile {
  readonly importRaw: bigint
  readonly exportRaw: bigint
  readonly powerW: bigint
}

export interface SmlFlood {
  /** Listens on 127.0.0.1 (port 0: a free one) and returns the port. */
  start(): Promise<number>
  close(): Promise<void>
  /** Every file written so far, in order. */
  readonly sent: readonly SentSmlFile[]
  /** Connections accepted so far. */
  connections(): number
}

export interface SmlFloodOptions {
  readonly seed: number
  /** Meter time between files (the model integrates power over it); default 2 s. */
  readonly stepMs?: number
  /** Files written per turn of the event loop before yielding; default 16. */
  readonly burst?: number
}

export function createSmlFlood(options: SmlFloodOptions): SmlFlood {
  // A prosumer: import and export both move, power changes sign.
  const meter: SmlMeter = createSmlMeterFromConfig(parseSmlMeterConfig({ seed: options.seed, profile: 'h0', annualKwh: 4000, pvPeakW: 6000 }))
  const stepMs = options.stepMs ?? 2000
  const burst = options.burst ?? 16
  let at = Date.parse('2026-06-01T04:00:00.000Z')
  const sent: SentSmlFile[] = []
  const sockets = new Set<Socket>()
  let accepted = 0
  let server: Server | undefined

  const nextFile = (): Uint8Array => {
    at += stepMs
    const e = meter.next(new Date(at))
    const v = e.values
    sent.push({ importRaw: BigInt(Math.round(v.importWh * 10)), exportRaw: BigInt(Math.round(v.exportWh * 10)), powerW: BigInt(v.powerW) })
    return e.bytes
  }

  const pump = (socket: Socket): void => {
    const turn = (): void => {
      if (socket.destroyed || !socket.writable) return
      for (let i = 0; i < burst; i++) {
        if (!socket.write(nextFile())) {
          socket.once('drain', turn)
          return
        }
      }
      setImmediate(turn)
    }
    turn()
  }

  return {
    sent,
    connections: () => accepted,
    start() {
      if (server !== undefined) return Promise.reject(new Error('flood already started'))
      const s = createServer((socket) => {
        accepted++
        sockets.add(socket)
        socket.on('error', () => { /* the gateway was killed: 'close' follows */ })
        socket.on('close', () => { sockets.delete(socket) })
        pump(socket)
      })
      server = s
      return new Promise((resolve, reject) => {
        s.once('error', reject)
        s.listen(0, '127.0.0.1', () => {
          const address = s.address()
          resolve(typeof address === 'object' && address !== null ? address.port : 0)
        })
      })
    },
    async close() {
      const s = server
      if (s === undefined) return
      server = undefined
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => { s.close(() => { resolve() }) })
    },
  }
}

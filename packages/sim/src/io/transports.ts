import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { SerialPort } from 'serialport'
import { SimError } from '../errors.js'

/** Where a simulator's bytes go. `write` sends one frame/file; errors come back as SIM_TRANSPORT. */
export interface Transport {
  open(): Promise<void>
  write(bytes: Uint8Array): Promise<void>
  close(): Promise<void>
  /** The bound port of a listening transport (after open). */
  port?(): number | undefined
}

function transportError(what: string, err: unknown): SimError {
  return new SimError('SIM_TRANSPORT', `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
}

/** A serial port (serialport 13), 8N1 at the given rate, as an eHZ's wired interface or a wM-Bus stick. */
export function createSerialTransport(options: { readonly path: string; readonly baudRate: number }): Transport {
  let port: SerialPort | undefined
  return {
    open: () =>
      new Promise((resolve, reject) => {
        const p = new SerialPort({ path: options.path, baudRate: options.baudRate, autoOpen: false })
        p.open((err) => {
          if (err) {
            reject(transportError(`cannot open ${options.path}`, err))
            return
          }
          port = p
          resolve()
        })
      }),
    write: (bytes) =>
      new Promise((resolve, reject) => {
        const p = port
        if (p === undefined) {
          reject(new SimError('SIM_TRANSPORT', `${options.path} is not open`))
          return
        }
        p.write(Buffer.from(bytes), (err) => {
          if (err) reject(transportError(`write to ${options.path}`, err))
          else p.drain((e) => { if (e) reject(transportError(`drain ${options.path}`, e)); else resolve() })
        })
      }),
    close: () =>
      new Promise((resolve) => {
        const p = port
        port = undefined
        if (p?.isOpen !== true) {
          resolve()
          return
        }
        p.close(() => { resolve() })
      }),
  }
}

/** A TCP client: connects at open; after the peer goes away, the next write reconnects once. */
export function createTcpClientTransport(options: { readonly host: string; readonly port: number }): Transport {
  let socket: Socket | undefined
  const connect = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = createConnection({ host: options.host, port: options.port })
      const onError = (err: Error): void => {
        s.destroy()
        reject(transportError(`cannot connect to ${options.host}:${options.port}`, err))
      }
      s.once('error', onError)
      s.once('connect', () => {
        s.off('error', onError)
        s.on('error', () => { s.destroy() })
        resolve(s)
      })
    })
  return {
    open: async () => {
      socket = await connect()
    },
    write: async (bytes) => {
      if (socket === undefined || socket.destroyed) socket = await connect()
      const s = socket
      await new Promise<void>((resolve, reject) => {
        s.write(bytes, (err) => { if (err) reject(transportError(`write to ${options.host}:${options.port}`, err)); else resolve() })
      })
    },
    close: () =>
      new Promise((resolve) => {
        const s = socket
        socket = undefined
        if (s === undefined || s.destroyed) {
          resolve()
          return
        }
        s.end(() => { s.destroy(); resolve() })
      }),
  }
}

/** A TCP server: every file goes to every connected client (as a meter behind a LAN adapter). */
export function createTcpServerTransport(options: { readonly host: string; readonly port: number }): Transport {
  let server: Server | undefined
  const clients = new Set<Socket>()
  return {
    open: () =>
      new Promise((resolve, reject) => {
        const s = createServer((c) => {
          clients.add(c)
          c.on('error', () => { c.destroy() })
          c.on('close', () => clients.delete(c))
        })
        s.once('error', (err) => { reject(transportError(`cannot listen on ${options.host}:${options.port}`, err)) })
        s.listen(options.port, options.host, () => {
          server = s
          resolve()
        })
      }),
    write: async (bytes) => {
      await Promise.all(
        [...clients].map(
          (c) => new Promise<void>((resolve) => { c.write(bytes, () => { resolve() }) }),
        ),
      )
    },
    close: () =>
      new Promise((resolve) => {
        const s = server
        server = undefined
        for (const c of clients) c.destroy()
        clients.clear()
        if (s === undefined) resolve()
        else s.close(() => { resolve() })
      }),
    port: () => {
      const a = server?.address()
      return typeof a === 'object' && a !== null ? a.port : undefined
    },
  }
}

/** UDP: one datagram per wireless frame (as receivers that forward over the network do). */
export function createUdpTransport(options: { readonly host: string; readonly port: number }): Transport {
  let socket: UdpSocket | undefined
  return {
    open: () =>
      new Promise((resolve, reject) => {
        const s = createSocket(options.host.includes(':') ? 'udp6' : 'udp4')
        s.once('error', (err) => { reject(transportError('cannot open UDP socket', err)) })
        s.bind(0, () => {
          socket = s
          resolve()
        })
      }),
    write: (bytes) =>
      new Promise((resolve, reject) => {
        const s = socket
        if (s === undefined) {
          reject(new SimError('SIM_TRANSPORT', 'UDP socket is not open'))
          return
        }
        s.send(bytes, options.port, options.host, (err) => { if (err) reject(transportError(`send to ${options.host}:${options.port}`, err)); else resolve() })
      }),
    close: () =>
      new Promise((resolve) => {
        const s = socket
        socket = undefined
        if (s === undefined) resolve()
        else s.close(() => { resolve() })
      }),
  }
}

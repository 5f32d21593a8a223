import { createServer, type Server, type Socket } from 'node:net'
import { z } from 'zod'
import { SimError } from '../errors.js'
import { answerCommand, createLineFramer, powerOf, type ClsDeviceAnswer, type ClsDeviceMode, type ClsDeviceState } from './protocol.js'

/*
 * A controllable device on the HAN (heat pump or wallbox, README "Controllable device"): a TCP
 * server speaking the line protocol of protocol.ts. The gateway's CLS channel connects to it and
 * relays the EMT's commands. When the last connection drops while a limit is in force, the
 * device keeps that limit for `graceS`, then falls back to the safe limit (§14a EnWG: the
 * 4.2 kW guaranteed minimum) until a new command says otherwise — a device that lost its
 * controller must neither run unlimited nor be cut below the guaranteed power.
 */

export const ClsDeviceConfig = z.strictObject({
  host: z.string().min(1).max(253).default('127.0.0.1'),
  /** 0: any free port (see `port()` after start). */
  port: z.int().min(0).max(65_535).default(0),
  kind: z.enum(['heat-pump', 'wallbox']).default('heat-pump'),
  /** Power drawn when not limited, kW. */
  demandKw: z.number().positive().max(1000).default(9),
  /** §14a EnWG guaranteed minimum power, kW: the lowest accepted limit and the fallback limit. */
  safeLimitKw: z.number().positive().max(1000).default(4.2),
  /** How long a limit stays in force after the channel dropped before the fallback, seconds. */
  graceS: z.number().min(0).max(86_400).default(60),
})
export type ClsDeviceConfig = z.infer<typeof ClsDeviceConfig>
export type ClsDeviceConfigInput = z.input<typeof ClsDeviceConfig>

export type ClsDeviceEvent =
  | { readonly event: 'connected'; readonly peer: string; readonly connections: number }
  | { readonly event: 'disconnected'; readonly peer: string; readonly connections: number }
  | { readonly event: 'command'; readonly peer: string; readonly answer: ClsDeviceAnswer }
  /** The mode or limit changed: by a command, or the fallback after the grace time. */
  | { readonly event: 'mode'; readonly mode: ClsDeviceMode; readonly limitKw: number | null; readonly powerKw: number; readonly reason: 'command' | 'fallback' }
  /** The channel dropped with a limit in force: the fallback follows after `graceS` unless a connection comes back. */
  | { readonly event: 'grace'; readonly graceS: number }

export interface ClsDeviceDeps {
  readonly setTimer?: (ms: number, fn: () => void) => () => void
  readonly onEvent?: (event: ClsDeviceEvent) => void
}

export interface ClsDeviceStatus extends ClsDeviceState {
  readonly powerKw: number
  readonly connections: number
}

export interface ClsDevice {
  start(): Promise<void>
  /** Closes the listener and every connection. Idempotent. */
  close(): Promise<void>
  port(): number | undefined
  status(): ClsDeviceStatus
}

export function parseClsDeviceConfig(input: unknown): ClsDeviceConfig {
  const r = ClsDeviceConfig.safeParse(input)
  if (!r.success) {
    throw new SimError('SIM_CONFIG', `invalid CLS device configuration: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, { cause: r.error })
  }
  return r.data
}

export function createClsDevice(input: ClsDeviceConfigInput, deps: ClsDeviceDeps = {}): ClsDevice {
  const config = parseClsDeviceConfig(input)
  const setTimer = deps.setTimer ?? ((ms, fn) => {
    const t = setTimeout(fn, ms)
    return () => { clearTimeout(t) }
  })
  const emit = (e: ClsDeviceEvent): void => { deps.onEvent?.(e) }
  let state: ClsDeviceState = { mode: 'normal', limitKw: null }
  const sockets = new Set<Socket>()
  let cancelGrace: (() => void) | undefined
  let server: Server | undefined

  const setState = (next: ClsDeviceState, reason: 'command' | 'fallback'): void => {
    if (next.mode === state.mode && next.limitKw === state.limitKw) return
    state = next
    emit({ event: 'mode', mode: state.mode, limitKw: state.limitKw, powerKw: powerOf(state, config), reason })
  }

  const onConnection = (socket: Socket): void => {
    const peer = `${socket.remoteAddress ?? '?'}:${String(socket.remotePort ?? 0)}`
    sockets.add(socket)
    // A controller is back: the limit in force stays, no fallback.
    cancelGrace?.()
    cancelGrace = undefined
    emit({ event: 'connected', peer, connections: sockets.size })
    const framer = createLineFramer()
    socket.on('data', (chunk: Buffer) => {
      const { lines, overflow } = framer.push(chunk)
      for (const line of lines) {
        if (line.trim() === '') continue
        const { answer, next } = answerCommand(state, line, config)
        socket.write(`${JSON.stringify(answer)}\n`)
        emit({ event: 'command', peer, answer })
        setState(next, 'command')
      }
      if (overflow) {
        const answer: ClsDeviceAnswer = { ok: false, error: 'LINE_TOO_LONG', message: 'a line longer than 1024 bytes; connection closed' }
        socket.end(`${JSON.stringify(answer)}\n`)
        emit({ event: 'command', peer, answer })
      }
    })
    socket.on('error', () => { socket.destroy() })
    socket.on('close', () => {
      sockets.delete(socket)
      emit({ event: 'disconnected', peer, connections: sockets.size })
      if (sockets.size > 0 || state.mode !== 'limited' || server === undefined) return
      emit({ event: 'grace', graceS: config.graceS })
      cancelGrace = setTimer(config.graceS * 1000, () => {
        cancelGrace = undefined
        if (sockets.size === 0 && state.mode === 'limited') setState({ mode: 'fallback', limitKw: config.safeLimitKw }, 'fallback')
      })
    })
  }

  return {
    async start() {
      if (server !== undefined) return
      const s = createServer(onConnection)
      await new Promise<void>((resolve, reject) => {
        s.once('error', (err) => { reject(new SimError('SIM_TRANSPORT', `cannot listen on ${config.host}:${String(config.port)}: ${err.message}`, { cause: err })) })
        s.listen(config.port, config.host, () => { resolve() })
      })
      server = s
    },
    async close() {
      const s = server
      server = undefined
      cancelGrace?.()
      cancelGrace = undefined
      for (const socket of sockets) socket.destroy()
      if (s !== undefined) await new Promise<void>((resolve) => { s.close(() => { resolve() }) })
    },
    port: () => {
      const a = server?.address()
      return typeof a === 'object' && a !== null ? a.port : undefined
    },
    status: () => ({ ...state, powerKw: powerOf(state, config), connections: sockets.size }),
  }
}

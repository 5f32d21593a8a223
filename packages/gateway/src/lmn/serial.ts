import { SerialPort } from 'serialport'
import { GatewayError } from '../errors.js'
import type { LmnDeps } from './types.js'

/** Opens a serial port (serialport 13, 8N1) and feeds its bytes to `onData`; returns its close function. */
async function openSerial(path: string, baudRate: number, onData: (chunk: Uint8Array) => void, onLost: (err?: Error) => void): Promise<() => Promise<void>> {
  const port = new SerialPort({ path, baudRate, autoOpen: false })
  await new Promise<void>((resolve, reject) => {
    port.open((err) => {
      if (err) reject(new GatewayError('LMN_OPEN_FAILED', `cannot open serial port ${path}: ${err.message}`, { cause: err }))
      else resolve()
    })
  })
  let closing = false
  let lost = false
  const lose = (err?: Error) => {
    if (closing || lost) return
    lost = true
    onLost(err)
  }
  port.on('data', (chunk: Buffer) => { onData(new Uint8Array(chunk)) })
  port.on('error', (err) => { lose(err) })
  port.on('close', (err?: Error | null) => { lose(err ?? undefined) })
  return () => new Promise<void>((resolve) => {
    closing = true
    if (!port.isOpen) {
      resolve()
      return
    }
    port.close(() => { resolve() })
  })
}

export interface SerialLineEvents {
  /** A fresh connection: the framer of the previous one (if any) should be ended and replaced. */
  readonly onOpen: () => void
  readonly onData: (chunk: Uint8Array) => void
  /** The line is open (at start and after every reopening). */
  readonly onUp: () => void
  readonly onLost: (detail: string) => void
}

/**
 * A serial line kept open: the first open must succeed (LMN_OPEN_FAILED otherwise); when the
 * line goes away later (USB stick pulled, converter restarted) it is reopened with exponential
 * backoff (1 s doubling to 30 s) on the injected timer.
 */
export function createSerialLine(path: string, baudRate: number, events: SerialLineEvents, deps: Pick<LmnDeps, 'setTimer'>, backoff = { initialMs: 1000, maxMs: 30_000 }): { start(): Promise<void>; close(): Promise<void> } {
  let running = false
  let close: (() => Promise<void>) | undefined
  let cancelRetry: (() => void) | undefined
  let delay = backoff.initialMs
  const open = async () => {
    events.onOpen()
    close = await openSerial(path, baudRate, events.onData, (err) => {
      close = undefined
      events.onLost(err?.message ?? 'closed')
      retry()
    })
    events.onUp()
  }
  const retry = () => {
    if (!running) return
    cancelRetry = deps.setTimer(delay, () => {
      cancelRetry = undefined
      if (!running) return
      open().then(() => { delay = backoff.initialMs }, () => { retry() })
    })
    delay = Math.min(delay * 2, backoff.maxMs)
  }
  return {
    async start() {
      if (running) return
      await open()
      running = true
    },
    async close() {
      if (!running) return
      running = false
      cancelRetry?.()
      cancelRetry = undefined
      const c = close
      close = undefined
      if (c !== undefined) await c()
    },
  }
}

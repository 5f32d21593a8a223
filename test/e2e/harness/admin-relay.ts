// A UDP relay standing where the GWA believes a gateway's wake-up address is: every datagram
// it receives is recorded and forwarded to the gateway's real wake-up port. The records are
// real GWA-signed wake-up packets the attack steps send again (replay) or deliver to the wrong
// gateway (a packet addressed to another gateway registered at the same relay).
import { createSocket, type Socket } from 'node:dgram'

export interface WakeUpRelay {
  /** The port the GWA sends to (register the gateways with 127.0.0.1:<port>). */
  readonly port: number
  /** Every datagram received, in order. */
  readonly received: readonly Uint8Array[]
  /** Where datagrams go from now on (the gateway's wake-up port). */
  forwardTo(port: number): void
  /** Sends `bytes` to the forward port as they are (the attacker's own datagram). */
  send(bytes: Uint8Array): Promise<void>
  /** Resolves with the received datagram number `index` (0-based) once it arrived. */
  nth(index: number, timeoutMs: number): Promise<Uint8Array>
  close(): Promise<void>
}

export async function startWakeUpRelay(): Promise<WakeUpRelay> {
  const socket: Socket = createSocket('udp4')
  const received: Uint8Array[] = []
  const waiters = new Set<() => void>()
  let target: number | undefined
  const send = (bytes: Uint8Array): Promise<void> => new Promise((resolve, reject) => {
    if (target === undefined) {
      reject(new Error('wake-up relay: no forward port set'))
      return
    }
    socket.send(bytes, target, '127.0.0.1', (err) => { if (err) reject(err); else resolve() })
  })
  socket.on('message', (msg) => {
    const bytes = new Uint8Array(msg)
    received.push(bytes)
    for (const w of [...waiters]) w()
    if (target !== undefined) void send(bytes).catch(() => undefined)
  })
  await new Promise<void>((resolve) => { socket.bind(0, '127.0.0.1', resolve) })
  return {
    port: socket.address().port,
    received,
    forwardTo(port) { target = port },
    send,
    nth(index, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = received[index]
          if (found === undefined) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(found)
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`wake-up relay: no datagram #${String(index)} within ${String(timeoutMs)} ms`))
        }, timeoutMs)
        waiters.add(check)
        check()
      })
    },
    close: () => new Promise<void>((resolve) => { socket.close(() => { resolve() }) }),
  }
}

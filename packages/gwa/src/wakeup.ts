import { createSocket } from 'node:dgram'
import { isIP } from 'node:net'
import { signAdminObject, WAKE_UP_FORMAT, WAKE_UP_MAX_BYTES, WakeUp } from '@smgw/admin-protocol'
import type { CmsSigner } from '@smgw/crypto'
import { GwaError } from './errors.js'
import type { GwaRepository } from './repository/types.js'

/**
 * A signed wake-up (docs/admin-protocol.md "Wake-up"): canonical JSON in a CMS SignedData by
 * the GWA's SIG key, at most WAKE_UP_MAX_BYTES so that it fits one datagram the gateway reads.
 */
export async function signWakeUp(wakeUp: Omit<WakeUp, 'format'>, signer: CmsSigner): Promise<Uint8Array> {
  const value = WakeUp.safeParse({ ...wakeUp, format: WAKE_UP_FORMAT })
  if (!value.success) throw new GwaError('GWA_WAKE_UP_FAILED', `wake-up: ${value.error.issues.map((i) => i.message).join('; ')}`)
  const bytes = await signAdminObject(value.data, signer, new Date(wakeUp.createdAt))
  if (bytes.length > WAKE_UP_MAX_BYTES) throw new GwaError('GWA_WAKE_UP_FAILED', `the signed wake-up has ${String(bytes.length)} bytes, more than ${String(WAKE_UP_MAX_BYTES)} (a long certificate chain?)`)
  return bytes
}

/** `host:port` or `[v6]:port` → parts; undefined when malformed. */
export function parseWakeUpAddress(address: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address)
  if (m === null) return undefined
  const host = m[1] ?? m[2] ?? ''
  const port = Number(m[3])
  if (port < 1 || port > 65_535) return undefined
  if (m[1] !== undefined && isIP(host) !== 6) return undefined
  return { host, port }
}

/** Sends one datagram (the default: a fresh UDP socket per packet, closed after the send). */
export type DatagramSend = (bytes: Uint8Array, host: string, port: number) => Promise<void>

export const sendDatagram: DatagramSend = (bytes, host, port) => new Promise((resolve, reject) => {
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4')
  socket.once('error', (err) => { socket.close(); reject(err) })
  socket.send(bytes, port, host, (err) => {
    socket.close()
    if (err === null) resolve()
    else reject(err)
  })
})

export interface WakeUpSenderDeps {
  readonly repository: GwaRepository
  readonly signer: CmsSigner
  readonly gwaId: string
  readonly now: () => Date
  readonly send?: DatagramSend
}

export interface WakeUpResult {
  readonly gatewayId: string
  readonly counter: number
  readonly address: string
  readonly bytes: number
}

export interface WakeUpSender {
  /** Takes the next counter (committed first: a counter is never sent twice, even after a crash), signs, sends. */
  wake(gatewayId: string): Promise<WakeUpResult>
}

export function createWakeUpSender(deps: WakeUpSenderDeps): WakeUpSender {
  const send = deps.send ?? sendDatagram
  return {
    wake: async (gatewayId) => {
      const gateway = await deps.repository.getGateway(gatewayId)
      if (gateway === undefined) throw new GwaError('GWA_GATEWAY_UNKNOWN', `gateway ${gatewayId} is not registered`)
      if (gateway.state === 'revoked') throw new GwaError('GWA_REQUEST_INVALID', `gateway ${gatewayId} is revoked`)
      if (gateway.wakeUpAddress === null) throw new GwaError('GWA_WAKE_UP_FAILED', `gateway ${gatewayId} has no wake-up address`)
      const target = parseWakeUpAddress(gateway.wakeUpAddress)
      if (target === undefined) throw new GwaError('GWA_WAKE_UP_FAILED', `gateway ${gatewayId}: wake-up address ${gateway.wakeUpAddress} is not host:port`)
      // Persisted before the packet leaves: the gateway accepts only a greater counter than the last one it saw.
      const counter = await deps.repository.nextWakeUpCounter(gatewayId)
      const bytes = await signWakeUp({ gatewayId, gwaId: deps.gwaId, counter, createdAt: deps.now().toISOString() }, deps.signer)
      try {
        await send(bytes, target.host, target.port)
      } catch (err) {
        throw new GwaError('GWA_WAKE_UP_FAILED', `wake-up to ${gateway.wakeUpAddress}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
      }
      return { gatewayId, counter, address: gateway.wakeUpAddress, bytes: bytes.length }
    },
  }
}

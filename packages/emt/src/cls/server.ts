import type { AddressInfo } from 'node:net'
import type { Server, TLSSocket } from 'node:tls'
import { createTlsContext, createTlsServer, type TlsIdentity, type TlsTrust } from '@smgw/pki'
import type { Logger } from 'pino'
import type { EmtConfig } from '../config.js'
import { EmtError } from '../errors.js'
import { gatewayIdOfX509 } from '../identity.js'
import { openTlsKey, readIdentityMaterial, readTrustMaterial } from '../material.js'

/*
 * The EMT's side of a CLS channel (README "CLS channel"): a mutual-TLS 1.2 server the gateway
 * connects to when the administrator has it open a channel (docs/admin-protocol.md `cls-open`;
 * the gateway is always the client, TR-03109-1). Each client is checked as the receiver checks
 * gateways — OpenSSL and our SM-PKI path validation ('tls-client', CRLs), the gateway ID from the
 * certificate's CN, optionally a list of allowed gateways — and must open with the gateway's
 * preamble line (`{"format":"smgw-cls/1","channelId","gatewayId","deviceId","timeoutS"}`, the
 * gateway README "CLS channel"); everything after it is the device's own protocol. The operator
 * gets a handle per channel to send one JSON command line and read the device's answer line.
 */

export const CLS_PREAMBLE_FORMAT = 'smgw-cls/1'
/** Longest preamble or answer line, bytes. */
export const CLS_MAX_LINE_BYTES = 64 * 1024

export interface ClsServerConfig {
  readonly host: string
  /** 0: any free port. */
  readonly port: number
  /** Our TLS identity (the SM-PKI TLS certificate the gateway checks against its `cls.emts[].tlsSubject`). */
  readonly identity: TlsIdentity
  readonly trust: TlsTrust
  /** Gateway IDs accepted (certificate CN); absent: any gateway the SM-PKI vouches for. */
  readonly gateways?: readonly string[]
  /** How long a new connection may take to send its preamble, ms (default 10 000). */
  readonly preambleTimeoutMs?: number
}

export interface ClsServerDeps {
  readonly logger?: Logger
  /** Clock for certificate and CRL validity (default: system clock). */
  readonly now?: () => Date
}

export interface ClsChannel {
  readonly channelId: string
  readonly gatewayId: string
  readonly deviceId: string
  readonly timeoutS: number
  /** Sends one command as a JSON line and resolves with the device's next answer line (parsed); EMT_CLS_FAILED when the channel closes first or after `timeoutMs` (default 10 000). */
  send(command: unknown, timeoutMs?: number): Promise<unknown>
  /** Ends the channel from our side. */
  close(): Promise<void>
  /** Resolves when the channel has closed (either side). */
  readonly closed: Promise<void>
  isOpen(): boolean
}

export interface ClsServer {
  start(): Promise<void>
  /** Stops listening and closes every channel. Idempotent. */
  close(): Promise<void>
  port(): number | undefined
  /** The next channel a gateway opens (one already waiting first); EMT_CLS_FAILED after `timeoutMs`. */
  nextChannel(timeoutMs?: number): Promise<ClsChannel>
  channels(): readonly ClsChannel[]
}

/**
 * The CLS server's TLS identity and trust from the receiver's configuration (the same SM-PKI TLS
 * certificate, key and trust). `close` closes the key's security module: after the server closed.
 */
export async function readClsServerMaterial(config: EmtConfig): Promise<{ identity: TlsIdentity; trust: TlsTrust; readonly close: () => Promise<void> }> {
  const [identity, trust] = await Promise.all([readIdentityMaterial(config), readTrustMaterial(config)])
  const key = await openTlsKey(config.tls.key)
  return {
    identity: { key: key.key, cert: identity.tlsCertificate, chain: identity.tlsChain },
    trust: { roots: trust.roots, intermediates: trust.intermediates, crls: trust.crls, requireCrl: config.pki.requireCrl },
    close: key.close,
  }
}

export function createClsServer(config: ClsServerConfig, deps: ClsServerDeps = {}): ClsServer {
  const log = deps.logger?.child({ component: 'emt-cls' })
  const open = new Set<ClsChannel>()
  const arrived: ClsChannel[] = []
  const waiting: ((c: ClsChannel) => void)[] = []
  /** Rejects of pending nextChannel calls, so close() ends them (and their timers). */
  const giveUps = new Set<() => void>()
  const sockets = new Set<TLSSocket>()
  let server: Server | undefined

  const accept = (socket: TLSSocket): void => {
    sockets.add(socket)
    socket.once('close', () => { sockets.delete(socket) })
    const gatewayId = gatewayIdOfX509(socket.getPeerX509Certificate())
    const refuse = (reason: string): void => {
      log?.warn({ event: 'cls-refused', gateway: gatewayId ?? null, reason }, 'CLS connection refused')
      socket.destroy()
    }
    if (gatewayId === undefined) { refuse('the client certificate names no gateway ID (CN)'); return }
    if (config.gateways !== undefined && !config.gateways.includes(gatewayId)) { refuse(`gateway ${gatewayId} is not allowed`); return }
    const timer = setTimeout(() => { refuse('no preamble in time') }, config.preambleTimeoutMs ?? 10_000)
    let buffer = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk])
      const nl = buffer.indexOf(0x0a)
      if (nl < 0) {
        if (buffer.length > CLS_MAX_LINE_BYTES) { clearTimeout(timer); refuse('preamble too long') }
        return
      }
      clearTimeout(timer)
      socket.off('data', onData)
      const preamble = parsePreamble(buffer.subarray(0, nl).toString('utf8'))
      if (preamble === undefined) { refuse('not a smgw-cls/1 preamble'); return }
      if (preamble.gatewayId !== gatewayId) { refuse(`the preamble names ${preamble.gatewayId}, the certificate ${gatewayId}`); return }
      const rest = buffer.subarray(nl + 1)
      const channel = createChannel(socket, preamble, rest)
      open.add(channel)
      void channel.closed.then(() => {
        open.delete(channel)
        log?.info({ event: 'cls-closed', channel: channel.channelId, gateway: gatewayId, device: channel.deviceId }, 'CLS channel closed')
      })
      log?.info({ event: 'cls-opened', channel: channel.channelId, gateway: gatewayId, device: channel.deviceId, timeoutS: channel.timeoutS }, 'CLS channel opened')
      const w = waiting.shift()
      if (w !== undefined) w(channel)
      else arrived.push(channel)
    }
    socket.on('data', onData)
    socket.on('error', () => { socket.destroy() })
  }

  return {
    async start() {
      if (server !== undefined) return
      const context = createTlsContext({ profile: 'wan', identity: config.identity, trust: config.trust }, deps.now === undefined ? {} : { now: deps.now })
      const s = createTlsServer(context, {
        onConnection: accept,
        onReject: (err) => { log?.warn({ event: 'tls-refused', reason: err.reason ?? null }, err.message) },
      })
      try {
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject)
          s.listen(config.port, config.host, () => { s.off('error', reject); resolve() })
        })
      } catch (err) {
        throw new EmtError('EMT_START_FAILED', `the CLS endpoint cannot listen on ${config.host}:${String(config.port)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
      }
      server = s
    },
    async close() {
      const s = server
      server = undefined
      for (const giveUp of [...giveUps]) giveUp()
      for (const socket of sockets) socket.destroy()
      if (s !== undefined) await new Promise<void>((resolve) => { s.close(() => { resolve() }) })
    },
    port: () => (server === undefined ? undefined : (server.address() as AddressInfo).port),
    nextChannel(timeoutMs = 60_000) {
      const ready = arrived.shift()
      if (ready !== undefined) return Promise.resolve(ready)
      return new Promise((resolve, reject) => {
        const stop = (message: string): void => {
          clearTimeout(timer)
          giveUps.delete(closing)
          const i = waiting.indexOf(take)
          if (i >= 0) waiting.splice(i, 1)
          reject(new EmtError('EMT_CLS_FAILED', message))
        }
        const take = (c: ClsChannel): void => { clearTimeout(timer); giveUps.delete(closing); resolve(c) }
        const closing = (): void => { stop('the CLS endpoint was closed') }
        const timer = setTimeout(() => { stop(`no gateway opened a CLS channel within ${String(timeoutMs)} ms`) }, timeoutMs)
        giveUps.add(closing)
        waiting.push(take)
      })
    },
    channels: () => [...open],
  }
}

interface Preamble { readonly channelId: string; readonly gatewayId: string; readonly deviceId: string; readonly timeoutS: number }

const ID = /^[A-Za-z0-9._:-]{1,64}$/

function parsePreamble(line: string): Preamble | undefined {
  let v: unknown
  try {
    v = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v === null) return undefined
  const p = v as Record<string, unknown>
  if (p.format !== CLS_PREAMBLE_FORMAT) return undefined
  const { channelId, gatewayId, deviceId, timeoutS } = p
  if (typeof channelId !== 'string' || !ID.test(channelId) || typeof gatewayId !== 'string' || !ID.test(gatewayId)) return undefined
  if (typeof deviceId !== 'string' || !ID.test(deviceId) || typeof timeoutS !== 'number' || !Number.isInteger(timeoutS) || timeoutS < 1) return undefined
  return { channelId, gatewayId, deviceId, timeoutS }
}

/** One channel: answer lines are matched to commands in order (the device answers each command line with one line). */
function createChannel(socket: TLSSocket, preamble: Preamble, rest: Buffer): ClsChannel {
  const pending: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] = []
  let buffer = Buffer.alloc(0)
  let isOpen = true
  /** Answers still owed to commands that timed out: dropped when they come, so later answers stay matched. */
  let stale = 0
  const closed = new Promise<void>((resolve) => {
    socket.once('close', () => {
      isOpen = false
      for (const p of pending.splice(0)) p.reject(new EmtError('EMT_CLS_FAILED', 'the CLS channel closed before the device answered'))
      resolve()
    })
  })
  const onData = (chunk: Buffer): void => {
    buffer = Buffer.concat([buffer, chunk])
    let nl: number
    while ((nl = buffer.indexOf(0x0a)) >= 0) {
      const line = buffer.subarray(0, nl).toString('utf8').replace(/\r$/, '')
      buffer = buffer.subarray(nl + 1)
      if (stale > 0) {
        stale--
        continue
      }
      const p = pending.shift()
      if (p === undefined) continue
      try {
        p.resolve(JSON.parse(line))
      } catch {
        p.resolve(line)
      }
    }
    if (buffer.length > CLS_MAX_LINE_BYTES) socket.destroy()
  }
  socket.on('data', onData)
  if (rest.length > 0) onData(rest)
  socket.on('end', () => { socket.end() })
  return {
    ...preamble,
    closed,
    isOpen: () => isOpen,
    send(command, timeoutMs = 10_000) {
      if (!isOpen) return Promise.reject(new EmtError('EMT_CLS_FAILED', 'the CLS channel is closed'))
      return new Promise((resolve, reject) => {
        const entry = {
          resolve: (v: unknown) => { clearTimeout(timer); resolve(v) },
          reject: (e: Error) => { clearTimeout(timer); reject(e) },
        }
        const timer = setTimeout(() => {
          const i = pending.indexOf(entry)
          if (i >= 0) pending.splice(i, 1)
          stale++
          reject(new EmtError('EMT_CLS_FAILED', `the device did not answer within ${String(timeoutMs)} ms`))
        }, timeoutMs)
        pending.push(entry)
        socket.write(`${JSON.stringify(command)}\n`)
      })
    },
    async close() {
      if (!isOpen) return
      socket.end()
      const t = setTimeout(() => { socket.destroy() }, 2000)
      await closed
      clearTimeout(t)
    },
  }
}

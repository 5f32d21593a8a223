import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { connect as connectTcp, type Socket } from 'node:net'
import { connect as connectTlsSocket, type TLSSocket } from 'node:tls'
import { connectTls, createTlsContext, decodeCertificate, parseName, type DistinguishedName, type TlsIdentity, type TlsTrust } from '@smgw/pki'
import type { Logger } from 'pino'
import { assertAuthorized, type Role } from '../admin/access.js'
import { GatewayError } from '../errors.js'
import type { GatewayLogs } from '../log/writer.js'
import { messageOf } from '../store/store.js'
import { formatCanonicalJson } from '../canonical-json.js'
import { ClsConfig, type ClsConfigInput, type ClsDevice, type ClsEmt } from './config.js'

/*
 * The CLS channel (README "CLS channel"; TR-03109-1 §3.2.5 transparent channel, in spirit):
 * on a `cls-open` command the gateway connects out to the EMT's CLS endpoint over mutual TLS 1.2
 * (the gateway is always the client, TR-03109-1; its WAN TLS identity and trust, the server's
 * subject must be the configured EMT's) and to the device on the HAN, writes one preamble line
 * to the EMT (`CLS_PREAMBLE_FORMAT`), then relays bytes both ways unchanged. It closes on the
 * channel's timeout, after `idleTimeoutS` without a byte, or when either side closes; opened
 * and closed go to the consumer log of the device's consumer. At most one channel per device.
 */

/** The first line the gateway writes to the EMT on a new channel (JSON, then LF); everything after it is the device's bytes. */
export const CLS_PREAMBLE_FORMAT = 'smgw-cls/1'

/** Why a channel closed; `reconfigured`: a new `cls` section removed its device or EMT, changed either, or unpaired them. */
export type ClsCloseReason = 'requested' | 'timeout' | 'peer-closed' | 'error' | 'reconfigured'

export interface ClsOpenRequest {
  readonly deviceId: string
  readonly emtId: string
  /** `https://host:port` of the EMT's CLS endpoint (the command's `endpoint`). */
  readonly endpoint: string
  /** Longest the channel stays open (default `defaultTimeoutS`, at most `maxTimeoutS`). */
  readonly timeoutS?: number
  /** Who asks (default `gwa`: the admin command executor); checked against the access table. */
  readonly requestedBy?: Role
}

export interface ClsChannelInfo {
  readonly channelId: string
  readonly deviceId: string
  readonly emtId: string
  readonly openedAt: Date
  readonly timeoutS: number
  /** Bytes relayed EMT → device and device → EMT so far. */
  readonly bytesToDevice: number
  readonly bytesToEmt: number
}

export interface ClsClosedEvent extends ClsChannelInfo {
  readonly reason: ClsCloseReason
  readonly closedAt: Date
}

export interface ClsTlsMaterial { readonly identity: TlsIdentity; readonly trust: TlsTrust }

export interface ClsServiceDeps {
  readonly gatewayId: string
  /** The gateway's WAN TLS identity and the SM-PKI trust, read at each open (a renewed certificate is used by the next channel). */
  readonly tls: () => ClsTlsMaterial | Promise<ClsTlsMaterial>
  readonly logs: Pick<GatewayLogs, 'consumer'>
  readonly now?: () => Date
  readonly setTimer?: (ms: number, fn: () => void) => () => void
  readonly logger?: Logger
  /** Called after a channel closed and its consumer-log entry was written (or failed to be). */
  readonly onClosed?: (event: ClsClosedEvent) => void
}

export interface ClsService {
  /** Opens a channel; CLS_FAILED when the device or EMT is not configured or paired, busy, or unreachable; FORBIDDEN when the requester may not. */
  open(request: ClsOpenRequest): Promise<{ readonly channelId: string; readonly timeoutS: number }>
  /** The open channels. */
  channels(): readonly ClsChannelInfo[]
  /** Closes one channel (reason `requested`); resolves when it is closed and logged. Unknown IDs resolve at once. */
  closeChannel(channelId: string): Promise<void>
  /** Resolves when the channel has closed and its entry was written; undefined for unknown IDs. */
  closed(channelId: string): Promise<ClsClosedEvent> | undefined
  /**
   * Takes a new `cls` section while channels run (README "CLS channel", "Reconfiguration").
   * A channel whose device was removed or changed (address, TLS, consumer), or whose EMT was
   * removed, changed its subject or is no longer paired with the device, is closed with reason
   * `reconfigured`; the others keep running under the new timeouts (a channel open longer than
   * the new `maxTimeoutS` closes with `timeout`). Resolves with the channels it closed, once
   * their entries are written. CONFIG_INVALID, with nothing changed, for an invalid section.
   */
  reconfigure(input: ClsConfigInput): Promise<readonly ClsClosedEvent[]>
  /** Closes every channel (reason `requested`, or `reconfigured` when the section was removed) and refuses new ones. Idempotent. */
  close(reason?: Extract<ClsCloseReason, 'requested' | 'reconfigured'>): Promise<void>
}

interface Channel {
  readonly info: { channelId: string; deviceId: string; emtId: string; openedAt: Date; timeoutS: number; bytesToDevice: number; bytesToEmt: number }
  readonly consumer: string
  /** The device's and the EMT's entries the channel was opened under (compared at `reconfigure`). */
  readonly deviceConfig: ClsDevice
  readonly emtConfig: ClsEmt
  readonly emt: TLSSocket
  readonly device: Socket
  readonly done: Promise<ClsClosedEvent>
  readonly resolveDone: (event: ClsClosedEvent) => void
  closing: boolean
  lastActivity: number
  /** Why `reconfigured` (words for the consumer log). */
  reconfiguredBecause?: string
  cancelIdle: () => void
  cancelDeadline: () => void
}

/** How long a closed channel's sockets get to flush what they hold before they are destroyed. */
const LINGER_MS = 2000

/**
 * The CLS service. The configuration is validated here (CONFIG_INVALID names each problem);
 * `deps.tls` is asked for the identity at each open.
 */
export function createClsService(input: ClsConfigInput, deps: ClsServiceDeps): ClsService {
  /** The section in force; `reconfigure` replaces it (and the two maps) as one. */
  let config = parseClsConfig(input)
  const now = deps.now ?? (() => new Date())
  const setTimer = deps.setTimer ?? ((ms, fn) => {
    const t = setTimeout(fn, ms)
    return () => { clearTimeout(t) }
  })
  const log = deps.logger?.child({ component: 'cls' })
  let devices = new Map(config.devices.map((d) => [d.id, d]))
  let emts = new Map(config.emts.map((e) => [e.id, e]))
  /** Devices with a channel open or being opened (at most one per device). */
  const busy = new Set<string>()
  const channels = new Map<string, Channel>()
  const pending = new Set<Promise<unknown>>()
  const life = { closed: false }
  /** Read after each await: close() may have run meanwhile. */
  const isClosed = (): boolean => life.closed

  const refuse = (message: string, cause?: unknown): GatewayError => new GatewayError('CLS_FAILED', message, cause === undefined ? {} : { cause })

  const writeEntry = async (consumer: string, fields: { device: string; recipient: string; state: 'opened' | 'closed'; reason?: ClsCloseReason; text: string }): Promise<void> => {
    await deps.logs.consumer(consumer, { type: 'cls-channel', fields })
  }

  const closeChannel = (channel: Channel, reason: ClsCloseReason): Promise<ClsClosedEvent> => {
    if (channel.closing) return channel.done
    channel.closing = true
    channel.cancelIdle()
    channel.cancelDeadline()
    const { emt, device } = channel
    emt.unpipe(device)
    device.unpipe(emt)
    for (const s of [emt, device]) {
      if (reason === 'error') s.destroy()
      else s.end()
    }
    const linger = setTimer(LINGER_MS, () => { emt.destroy(); device.destroy() })
    let left = 2
    const onGone = (): void => { if (--left === 0) linger() }
    emt.once('close', onGone)
    device.once('close', onGone)
    channels.delete(channel.info.channelId)
    busy.delete(channel.info.deviceId)
    const event: ClsClosedEvent = { ...channel.info, reason, closedAt: now() }
    log?.info({ channel: event.channelId, device: event.deviceId, emt: event.emtId, reason, bytesToDevice: event.bytesToDevice, bytesToEmt: event.bytesToEmt }, 'CLS channel closed')
    const words: Record<ClsCloseReason, string> = {
      requested: 'closed on request',
      timeout: 'closed by the gateway: the time allowed for it ran out',
      'peer-closed': `ended by ${event.emtId} or the device`,
      error: 'broken off after a connection error',
      reconfigured: `closed by the gateway: its CLS configuration changed (${channel.reconfiguredBecause ?? 'the device or its pairing'})`,
    }
    const written = writeEntry(channel.consumer, {
      device: event.deviceId, recipient: event.emtId, state: 'closed', reason,
      text: `The control channel from ${event.emtId} to your device ${event.deviceId} was ${words[reason]} (${event.bytesToDevice} bytes to the device, ${event.bytesToEmt} bytes from it).`,
    }).catch((err: unknown) => { log?.error({ err: messageOf(err), channel: event.channelId }, 'cls-channel closed entry not written') })
    return track(written.then(() => {
      channel.resolveDone(event)
      deps.onClosed?.(event)
      return event
    }))
  }

  function track<T>(p: Promise<T>): Promise<T> {
    pending.add(p)
    void p.finally(() => { pending.delete(p) }).catch(() => undefined)
    return p
  }

  const connectEmt = async (emt: ClsEmt, endpoint: { host: string; port: number }): Promise<TLSSocket> => {
    const material = await deps.tls()
    const context = createTlsContext({ profile: 'wan', identity: material.identity, trust: material.trust }, { now })
    const socket = await withTimeout(connectTls(context, { host: endpoint.host, port: endpoint.port }), config.connectTimeoutMs, `the EMT ${emt.id} at ${endpoint.host}:${endpoint.port}`, setTimer, (s) => { s.destroy() })
    const mismatch = subjectMismatch(socket, emt.tlsSubject)
    if (mismatch !== undefined) {
      socket.destroy()
      throw new Error(`the CLS endpoint is not ${emt.id}: ${mismatch}`)
    }
    return socket
  }

  const connectDevice = async (device: ClsDevice): Promise<Socket> => {
    const { host, port } = device.address
    const tls = device.tls
    const opening = tls === undefined
      ? new Promise<Socket>((resolve, reject) => {
        const s = connectTcp({ host, port })
        s.once('error', (err: Error) => { s.destroy(); reject(err) })
        s.once('connect', () => { s.removeAllListeners('error'); resolve(s) })
      })
      : readFile(tls.ca).then((ca) => new Promise<Socket>((resolve, reject) => {
        const s = connectTlsSocket({ host, port, ca, servername: tls.serverName ?? host, minVersion: 'TLSv1.2' })
        s.once('error', (err: Error) => { s.destroy(); reject(err) })
        s.once('secureConnect', () => { s.removeAllListeners('error'); resolve(s) })
      }))
    return withTimeout(opening, config.connectTimeoutMs, `the device ${device.id} at ${host}:${port}`, setTimer, (s) => { s.destroy() })
  }

  /**
   * (Re)arms a channel's idle and overall timers from the section in force: the idle limit
   * counts from the last byte, the deadline from the opening, cut to `maxTimeoutS`.
   */
  const armTimers = (channel: Channel): void => {
    channel.cancelIdle()
    channel.cancelDeadline()
    const finish = (reason: ClsCloseReason): void => { void closeChannel(channel, reason) }
    const idleMs = config.idleTimeoutS * 1000
    const armIdle = (ms: number): void => {
      channel.cancelIdle = setTimer(Math.max(0, ms), () => {
        const quiet = now().getTime() - channel.lastActivity
        if (quiet >= idleMs) finish('timeout')
        else armIdle(idleMs - quiet)
      })
    }
    armIdle(idleMs - (now().getTime() - channel.lastActivity))
    channel.info.timeoutS = Math.min(channel.info.timeoutS, config.maxTimeoutS)
    const left = channel.info.openedAt.getTime() + channel.info.timeoutS * 1000 - now().getTime()
    channel.cancelDeadline = setTimer(Math.max(0, left), () => { finish('timeout') })
  }

  const reconfigure = async (next: ClsConfigInput): Promise<readonly ClsClosedEvent[]> => {
    const parsed = parseClsConfig(next)
    config = parsed
    devices = new Map(parsed.devices.map((d) => [d.id, d]))
    emts = new Map(parsed.emts.map((e) => [e.id, e]))
    const closing: Promise<ClsClosedEvent>[] = []
    for (const channel of [...channels.values()]) {
      const changed = pairingChange(channel.deviceConfig, channel.emtConfig, devices, emts)
      if (changed !== undefined) {
        channel.reconfiguredBecause = changed
        closing.push(closeChannel(channel, 'reconfigured'))
      } else {
        armTimers(channel)
      }
    }
    log?.info({ devices: devices.size, emts: emts.size, closed: closing.length, running: channels.size }, 'CLS configuration replaced')
    return Promise.all(closing)
  }

  const open = async (request: ClsOpenRequest): Promise<{ channelId: string; timeoutS: number }> => {
    if (life.closed) throw refuse('the CLS service is closed')
    // The access table (admin/access.ts) decides who may open a channel and who may relay through it.
    assertAuthorized(request.requestedBy ?? 'gwa', 'cls.open')
    assertAuthorized('emt:cls', 'cls.relay')
    assertAuthorized('cls-device', 'cls.relay')
    const device = devices.get(request.deviceId)
    if (device === undefined) throw refuse(`device ${request.deviceId} is not configured (cls.devices)`)
    const emt = emts.get(request.emtId)
    if (emt === undefined) throw refuse(`EMT ${request.emtId} is not configured (cls.emts)`)
    if (!emt.allowedDevices.includes(device.id)) throw refuse(`EMT ${emt.id} is not paired with device ${device.id}`)
    const endpoint = parseEndpoint(request.endpoint)
    if (endpoint === undefined) throw refuse(`endpoint ${JSON.stringify(request.endpoint)}: an https://host:port URL without credentials, path, query or fragment`)
    const requested = request.timeoutS ?? config.defaultTimeoutS
    if (!Number.isInteger(requested) || requested < 1) throw refuse(`timeoutS ${String(request.timeoutS)}: a positive integer`)
    const timeoutS = Math.min(requested, config.maxTimeoutS)
    if (busy.has(device.id)) throw refuse(`device ${device.id} has a channel open already`)
    busy.add(device.id)

    let emtSocket: TLSSocket | undefined
    let deviceSocket: Socket | undefined
    try {
      try {
        emtSocket = await connectEmt(emt, endpoint)
      } catch (err) {
        throw refuse(`cannot open the channel to ${emt.id}: ${messageOf(err)}`, err)
      }
      try {
        deviceSocket = await connectDevice(device)
      } catch (err) {
        throw refuse(`cannot reach device ${device.id} on the HAN: ${messageOf(err)}`, err)
      }
      if (isClosed()) throw refuse('the CLS service is closed')
      // A reconfiguration while connecting: the channel opens only under the pairing in force now.
      const changed = pairingChange(device, emt, devices, emts)
      if (changed !== undefined) throw refuse(`the cls configuration changed while the channel was being opened: ${changed}`)
    } catch (err) {
      emtSocket?.destroy()
      deviceSocket?.destroy()
      busy.delete(device.id)
      throw err
    }

    const channelId = randomUUID()
    const info = { channelId, deviceId: device.id, emtId: emt.id, openedAt: now(), timeoutS, bytesToDevice: 0, bytesToEmt: 0 }
    // Nothing is relayed before the opening is in the consumer's log: no unlogged processing step.
    try {
      await writeEntry(device.consumer, {
        device: device.id, recipient: emt.id, state: 'opened', reason: 'requested',
        text: `${emt.id} opened a control channel to your device ${device.id} through the gateway, for at most ${formatDuration(timeoutS)}.`,
      })
    } catch (err) {
      emtSocket.destroy()
      deviceSocket.destroy()
      busy.delete(device.id)
      throw refuse(`the channel was not opened: its consumer-log entry could not be written: ${messageOf(err)}`, err)
    }

    let resolveDone: (e: ClsClosedEvent) => void = () => undefined
    const done = new Promise<ClsClosedEvent>((resolve) => { resolveDone = resolve })
    const channel: Channel = {
      info, consumer: device.consumer, emt: emtSocket, device: deviceSocket, deviceConfig: device, emtConfig: emt, done, resolveDone,
      closing: false, lastActivity: now().getTime(), cancelIdle: () => undefined, cancelDeadline: () => undefined,
    }
    channels.set(channelId, channel)
    // close() or a reconfiguration while the opened entry was being written: the opening is in the
    // consumer's log, so the channel closes the logged way (its closed entry), before a byte is relayed.
    const changedMeanwhile = pairingChange(device, emt, devices, emts)
    if (isClosed() || changedMeanwhile !== undefined) {
      if (changedMeanwhile !== undefined) channel.reconfiguredBecause = changedMeanwhile
      await closeChannel(channel, changedMeanwhile === undefined ? 'requested' : 'reconfigured')
      throw refuse(changedMeanwhile === undefined ? 'the CLS service is closed' : `the cls configuration changed while the channel was being opened: ${changedMeanwhile}`)
    }
    const finish = (reason: ClsCloseReason): void => { void closeChannel(channel, reason) }

    const e = emtSocket
    const d = deviceSocket
    e.write(`${JSON.stringify({ format: CLS_PREAMBLE_FORMAT, channelId, gatewayId: deps.gatewayId, deviceId: device.id, timeoutS })}\n`)
    e.on('data', (chunk: Buffer) => { info.bytesToDevice += chunk.length; channel.lastActivity = now().getTime() })
    d.on('data', (chunk: Buffer) => { info.bytesToEmt += chunk.length; channel.lastActivity = now().getTime() })
    // pipe() pauses the faster side while the other's buffer is full (backpressure); ends are ours to handle.
    e.pipe(d, { end: false })
    d.pipe(e, { end: false })
    for (const s of [e, d] as Socket[]) {
      s.on('error', (err: Error) => {
        if (!channel.closing) log?.warn({ channel: channelId, err: err.message }, 'CLS channel socket error')
        finish('error')
      })
      s.on('end', () => { finish('peer-closed') })
      s.on('close', () => { finish('peer-closed') })
    }
    armTimers(channel)
    log?.info({ channel: channelId, device: device.id, emt: emt.id, timeoutS }, 'CLS channel open')
    return { channelId, timeoutS }
  }

  return {
    open,
    channels: () => [...channels.values()].map((c) => ({ ...c.info })),
    closeChannel: async (channelId) => {
      const c = channels.get(channelId)
      if (c !== undefined) await closeChannel(c, 'requested')
    },
    closed: (channelId) => channels.get(channelId)?.done,
    reconfigure,
    async close(reason = 'requested') {
      life.closed = true
      await Promise.all([...channels.values()].map((c) => {
        if (reason === 'reconfigured') c.reconfiguredBecause = 'the gateway has no CLS devices any more'
        return closeChannel(c, reason)
      }))
      await Promise.all([...pending])
    },
  }
}

function parseClsConfig(input: ClsConfigInput): ClsConfig {
  const parsed = ClsConfig.safeParse(input)
  if (!parsed.success) {
    throw new GatewayError('CONFIG_INVALID', `invalid cls configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { cause: parsed.error })
  }
  return parsed.data
}

/**
 * Why a channel opened for `device` and `emt` may not run under the section in force (in words
 * for the consumer log), or undefined when it may. TR-03109-1 §3.2.5: bytes go only between a
 * configured device and an EMT paired with it — the address, the TLS expectations and the
 * consumer whose log records the channel are part of what was configured.
 */
function pairingChange(device: ClsDevice, emt: ClsEmt, devices: ReadonlyMap<string, ClsDevice>, emts: ReadonlyMap<string, ClsEmt>): string | undefined {
  const nowDevice = devices.get(device.id)
  if (nowDevice === undefined) return `the device ${device.id} was removed`
  if (!sameJson(nowDevice, device)) return `the device ${device.id}'s settings changed`
  const nowEmt = emts.get(emt.id)
  if (nowEmt === undefined) return `${emt.id} was removed`
  if (!nowEmt.allowedDevices.includes(device.id)) return `${emt.id} is no longer paired with ${device.id}`
  if (!sameJson(nowEmt.tlsSubject, emt.tlsSubject)) return `${emt.id}'s certificate subject changed`
  return undefined
}

function sameJson(a: unknown, b: unknown): boolean {
  return formatCanonicalJson(a) === formatCanonicalJson(b)
}

function parseEndpoint(text: string): { host: string; port: number } | undefined {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || (url.pathname !== '/' && url.pathname !== '')) return undefined
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? 443 : Number(url.port) }
}

function subjectMismatch(socket: TLSSocket, expected: Partial<DistinguishedName>): string | undefined {
  let subject: DistinguishedName
  try {
    subject = parseName(decodeCertificate(new Uint8Array(socket.getPeerCertificate().raw)).subject)
  } catch (err) {
    return `certificate subject not readable: ${messageOf(err)}`
  }
  for (const [key, value] of Object.entries(expected) as [keyof DistinguishedName, string | undefined][]) {
    if (value !== undefined && subject[key] !== value) return `certificate subject ${key} is ${JSON.stringify(subject[key] ?? null)}, expected ${JSON.stringify(value)}`
  }
  return undefined
}

/** Races `opening` against a timer; a connection that arrives after the timeout is handed to `discard`. */
function withTimeout<T>(opening: Promise<T>, ms: number, what: string, setTimer: (ms: number, fn: () => void) => () => void, discard: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false
    const cancel = setTimer(ms, () => {
      if (settled) return
      settled = true
      reject(new Error(`no connection to ${what} within ${ms} ms`))
    })
    opening.then((value) => {
      if (settled) { discard(value); return }
      settled = true
      cancel()
      resolve(value)
    }, (err: unknown) => {
      if (settled) return
      settled = true
      cancel()
      reject(err instanceof Error ? err : new Error(String(err)))
    })
  })
}

function formatDuration(s: number): string {
  if (s % 3600 === 0) return `${s / 3600} h`
  if (s % 60 === 0) return `${s / 60} min`
  return `${s} s`
}

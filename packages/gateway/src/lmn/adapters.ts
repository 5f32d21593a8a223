import { formatCanonicalJson } from '../canonical-json.js'
import type { GatewayConfig, SmlMeterConfig, WmbusMeterConfig } from '../config.js'
import { createFileReplayAdapter } from './file/index.js'
import { createSmlSerialAdapter } from './sml-serial/index.js'
import { createSmlTcpAdapter } from './sml-tcp/index.js'
import type { LmnAdapter, LmnDeps, LmnSink } from './types.js'
import { createWmbusSerialAdapter } from './wmbus-serial/index.js'
import { createWmbusUdpAdapter } from './wmbus-udp/index.js'
import type { MeterKeySource } from './wmbus/keys.js'
import type { WmbusReaderMeter } from './wmbus/reader.js'

/**
 * An adapter with the local port it listens on, when it has one (UDP), and — for wireless
 * transports that stay open — the swap of its meters and keys without closing the transport.
 */
export type GatewayLmnAdapter = LmnAdapter & {
  port?: () => number | undefined
  replaceMeters?: (meters: readonly WmbusReaderMeter[]) => void
}

/** One adapter of a configuration, not created yet. */
interface AdapterPlan {
  /** The transport it owns (an SML meter's line with its meter and quirks; a wireless transport): one adapter per key. */
  readonly transportKey: string
  /** What it reads there (wireless: meters with their M-Bus IDs and key IDs); a change re-keys or re-creates it. */
  readonly contentKey: string
  /** The key IDs its meters name. */
  readonly keyIds: readonly string[]
  /** Wireless: the meters with their keys, for `replaceMeters`. */
  readonly meters?: readonly WmbusReaderMeter[]
  create(): GatewayLmnAdapter
}

/**
 * One adapter per transport of the configuration: each SML meter has its line; wireless
 * meters that share a transport (one stick, one UDP port, one capture) share its adapter.
 */
function planLmnAdapters(config: GatewayConfig, keys: MeterKeySource, sink: LmnSink, deps: LmnDeps): AdapterPlan[] {
  const plans: AdapterPlan[] = []
  const wireless = new Map<string, WmbusMeterConfig[]>()
  for (const m of config.meters) {
    if (m.kind === 'sml') {
      plans.push({
        transportKey: formatCanonicalJson({ sml: m.id, transport: m.transport }), contentKey: formatCanonicalJson(m.quirks), keyIds: [],
        create: () => smlAdapter(m, sink, deps),
      })
    } else {
      const key = formatCanonicalJson({ wmbus: m.transport })
      wireless.set(key, [...(wireless.get(key) ?? []), m])
    }
  }
  for (const [transportKey, group] of wireless) {
    const meters: WmbusReaderMeter[] = group.map((m) => {
      const key = m.keyId === undefined ? undefined : keys.get(m.keyId)
      return { id: m.id, mbusId: m.mbusId, ...(key === undefined ? {} : { key }) }
    })
    const t = group[0]!.transport
    plans.push({
      transportKey,
      contentKey: formatCanonicalJson(group.map((m) => ({ id: m.id, mbusId: m.mbusId, keyId: m.keyId ?? null, keyHeld: m.keyId !== undefined && keys.has(m.keyId) }))),
      keyIds: group.flatMap((m) => (m.keyId === undefined ? [] : [m.keyId])),
      meters,
      create: () => {
        if ('udp' in t) return createWmbusUdpAdapter({ host: t.udp.host, port: t.udp.port, meters }, sink, deps)
        if ('serial' in t) return createWmbusSerialAdapter({ path: t.serial.path, baudRate: t.serial.baudRate, frameCrc: t.serial.frameCrc, meters }, sink, deps)
        return createFileReplayAdapter({ kind: 'wmbus', path: t.file, meters }, sink, deps)
      },
    })
  }
  return plans
}

export function createLmnAdapters(config: GatewayConfig, keys: MeterKeySource, sink: LmnSink, deps: LmnDeps): GatewayLmnAdapter[] {
  return planLmnAdapters(config, keys, sink, deps).map((p) => p.create())
}

/** What `apply` did, by transport (counts; the gateway logs them). */
export interface LmnApplyReport {
  /** Left running as they were. */
  readonly kept: number
  /** Wireless adapters that took new meters or keys while their transport stayed open. */
  readonly rekeyed: number
  /** Closed and started again (an SML meter's line or quirks, a replayed capture). */
  readonly restarted: number
  readonly started: number
  readonly stopped: number
}

export interface LmnAdapterSet {
  /**
   * Brings the running adapters to `config`: a transport that stays with the same meters and
   * keys keeps its adapter untouched; a wireless transport whose meters or keys changed (or
   * whose meters name a key ID in `renewKeyIds`, keys just installed) takes them in place; what
   * cannot (SML lines, replay files) is closed and started anew; removed transports close, new
   * ones start. Closing comes before starting, so a port or line moves between adapters.
   * Throws the first start failure (LMN_OPEN_FAILED); what started before stays running and
   * a later `apply` (e.g. of the previous configuration) reconciles again.
   */
  apply(config: GatewayConfig, keys: MeterKeySource, renewKeyIds?: ReadonlySet<string>): Promise<LmnApplyReport>
  /** The running adapters in configuration order. */
  adapters(): readonly GatewayLmnAdapter[]
  /** Closes every adapter (in reverse order); a failing close is reported to `onCloseError` and the rest still close. */
  close(onCloseError?: (adapter: GatewayLmnAdapter, err: unknown) => void): Promise<void>
}

interface Running {
  readonly adapter: GatewayLmnAdapter
  contentKey: string
}

/** The gateway's LMN adapters across reconfigurations and key installations (README "Reconfiguration"). */
export function createLmnAdapterSet(sink: LmnSink, deps: LmnDeps): LmnAdapterSet {
  const running = new Map<string, Running>()
  let order: readonly string[] = []

  const closeOne = async (key: string, onCloseError?: (adapter: GatewayLmnAdapter, err: unknown) => void): Promise<void> => {
    const r = running.get(key)
    if (r === undefined) return
    running.delete(key)
    try {
      await r.adapter.close()
    } catch (err) {
      onCloseError?.(r.adapter, err)
    }
  }

  return {
    async apply(config, keys, renewKeyIds = new Set()) {
      const plans = planLmnAdapters(config, keys, sink, deps)
      const target = new Map(plans.map((p) => [p.transportKey, p]))
      order = plans.map((p) => p.transportKey)
      let kept = 0
      let rekeyed = 0
      let restarted = 0
      let stopped = 0
      let started = 0
      const toStart: AdapterPlan[] = []
      for (const key of [...running.keys()]) {
        if (!target.has(key)) {
          await closeOne(key)
          stopped++
        }
      }
      for (const plan of plans) {
        const r = running.get(plan.transportKey)
        if (r === undefined) {
          toStart.push(plan)
          continue
        }
        const renew = plan.keyIds.some((id) => renewKeyIds.has(id))
        if (r.contentKey === plan.contentKey && !renew) {
          kept++
        } else if (r.adapter.replaceMeters !== undefined && plan.meters !== undefined) {
          r.adapter.replaceMeters(plan.meters)
          r.contentKey = plan.contentKey
          rekeyed++
        } else {
          await closeOne(plan.transportKey)
          toStart.push(plan)
          restarted++
        }
      }
      for (const plan of toStart) {
        const adapter = plan.create()
        await adapter.start()
        running.set(plan.transportKey, { adapter, contentKey: plan.contentKey })
        started++
      }
      return { kept, rekeyed, restarted, started: started - restarted, stopped }
    },
    adapters: () => order.flatMap((k) => { const r = running.get(k); return r === undefined ? [] : [r.adapter] }),
    async close(onCloseError) {
      for (const key of [...order].reverse()) await closeOne(key, onCloseError)
      for (const key of [...running.keys()]) await closeOne(key, onCloseError)
    },
  }
}

function smlAdapter(m: SmlMeterConfig, sink: LmnSink, deps: LmnDeps): LmnAdapter {
  const t = m.transport
  if ('serial' in t) return createSmlSerialAdapter({ meterId: m.id, path: t.serial.path, baudRate: t.serial.baudRate, quirks: m.quirks }, sink, deps)
  if ('tcp' in t) return createSmlTcpAdapter({ meterId: m.id, host: t.tcp.host, port: t.tcp.port, quirks: m.quirks }, sink, deps)
  return createFileReplayAdapter({ kind: 'sml', path: t.file, meterId: m.id, quirks: m.quirks }, sink, deps)
}

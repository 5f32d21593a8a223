import type { GatewayConfig, SmlMeterConfig, WmbusMeterConfig } from '../config.js'
import { createFileReplayAdapter } from './file/index.js'
import { createSmlSerialAdapter } from './sml-serial/index.js'
import { createSmlTcpAdapter } from './sml-tcp/index.js'
import type { LmnAdapter, LmnDeps, LmnSink } from './types.js'
import { createWmbusSerialAdapter } from './wmbus-serial/index.js'
import { createWmbusUdpAdapter } from './wmbus-udp/index.js'
import type { MeterKeySource } from './wmbus/keys.js'
import type { WmbusReaderMeter } from './wmbus/reader.js'

/** An adapter with the local port it listens on, when it has one (UDP). */
export type GatewayLmnAdapter = LmnAdapter & { port?: () => number | undefined }

/**
 * One adapter per transport of the configuration: each SML meter has its line; wireless
 * meters that share a transport (one stick, one UDP port, one capture) share its adapter.
 */
export function createLmnAdapters(config: GatewayConfig, keys: MeterKeySource, sink: LmnSink, deps: LmnDeps): GatewayLmnAdapter[] {
  const adapters: GatewayLmnAdapter[] = []
  const wireless = new Map<string, WmbusMeterConfig[]>()
  for (const m of config.meters) {
    if (m.kind === 'sml') adapters.push(smlAdapter(m, sink, deps))
    else {
      const key = JSON.stringify(m.transport)
      wireless.set(key, [...(wireless.get(key) ?? []), m])
    }
  }
  for (const group of wireless.values()) {
    const meters: WmbusReaderMeter[] = group.map((m) => {
      const key = m.keyId === undefined ? undefined : keys.get(m.keyId)
      return { id: m.id, mbusId: m.mbusId, ...(key === undefined ? {} : { key }) }
    })
    const t = group[0]!.transport
    if ('udp' in t) adapters.push(createWmbusUdpAdapter({ host: t.udp.host, port: t.udp.port, meters }, sink, deps))
    else if ('serial' in t) adapters.push(createWmbusSerialAdapter({ path: t.serial.path, baudRate: t.serial.baudRate, frameCrc: t.serial.frameCrc, meters }, sink, deps))
    else adapters.push(createFileReplayAdapter({ kind: 'wmbus', path: t.file, meters }, sink, deps))
  }
  return adapters
}

function smlAdapter(m: SmlMeterConfig, sink: LmnSink, deps: LmnDeps): LmnAdapter {
  const t = m.transport
  if ('serial' in t) return createSmlSerialAdapter({ meterId: m.id, path: t.serial.path, baudRate: t.serial.baudRate, quirks: m.quirks }, sink, deps)
  if ('tcp' in t) return createSmlTcpAdapter({ meterId: m.id, host: t.tcp.host, port: t.tcp.port, quirks: m.quirks }, sink, deps)
  return createFileReplayAdapter({ kind: 'sml', path: t.file, meterId: m.id, quirks: m.quirks }, sink, deps)
}

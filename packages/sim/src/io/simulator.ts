import { parseSimulatorConfig, type SimulatorConfig } from '../config.js'
import { SimError, isSimError } from '../errors.js'
import { createPvProfile } from '../profiles/pv.js'
import { createStandardProfile } from '../profiles/standard.js'
import { createRandom } from '../random.js'
import { createSmlMeter, type SmlEmission, type SmlMeter } from '../sml/meter.js'
import type { SmlSimQuirk } from '../sml/quirks.js'
import { createWmbusMeter, type WmbusEmission, type WmbusMeter } from '../wmbus/meter.js'
import { createSerialTransport, createTcpClientTransport, createTcpServerTransport, createUdpTransport, type Transport } from './transports.js'

/** One frame the simulator put on its output (or tried to: `error` set when the write failed). */
export type SimulatorSent =
  | { readonly kind: 'sml'; readonly seq: number; readonly emission: SmlEmission; readonly error?: SimError }
  | { readonly kind: 'wmbus'; readonly seq: number; readonly emission: WmbusEmission; readonly error?: SimError }

export interface SimulatorDeps {
  /** The clock (default: the system clock). */
  readonly now?: () => Date
  /** Schedules `fn` after `ms`; returns a cancel function (default: setTimeout). */
  readonly setTimer?: (ms: number, fn: () => void) => () => void
  /** Called after every frame written (or failed to write). */
  readonly onSent?: (sent: SimulatorSent) => void
}

export interface Simulator {
  /** Opens the output and sends the first frame; then one per interval. Idempotent. */
  start(): Promise<void>
  /** Stops the timer, waits for a write in flight, closes the output. Idempotent. */
  close(): Promise<void>
  /** Resolves when `count` frames were sent or the simulator was closed. */
  readonly finished: Promise<void>
  /** The bound port of `listen` (TCP server) outputs, after start. */
  port(): number | undefined
}

const defaultSetTimer = (ms: number, fn: () => void): (() => void) => {
  const t = setTimeout(fn, ms)
  return () => { clearTimeout(t) }
}

/** The SML meter a configuration describes. */
export function createSmlMeterFromConfig(config: Extract<SimulatorConfig, { kind: 'sml' }>['meter']): SmlMeter {
  const seed = config.seed
  const serverId = config.serverId !== undefined
    ? Uint8Array.from(Buffer.from(config.serverId, 'hex'))
    : Uint8Array.of(0x0a, 0x01, ...new TextEncoder().encode(config.manufacturer), 0x00, seed >>> 24, (seed >>> 16) & 0xff, (seed >>> 8) & 0xff, seed & 0xff)
  const consumption = config.profile === 'pv' ? undefined : createStandardProfile({ name: config.profile, annualKwh: config.annualKwh })
  const peakW = config.pvPeakW ?? (config.profile === 'pv' ? 5000 : 0)
  const generation = peakW > 0 ? createPvProfile({ peakW, seed }) : undefined
  return createSmlMeter({
    serverId,
    manufacturer: config.manufacturer,
    seed,
    quirks: config.quirks as SmlSimQuirk[],
    signature: config.signature,
    powerNoise: config.powerNoise,
    truncateProbability: config.truncateProbability,
    initialImportWh: config.initialImportWh,
    initialExportWh: config.initialExportWh,
    ...(consumption ? { consumption } : {}),
    ...(generation ? { generation } : {}),
  })
}

/** The wireless M-Bus meter a configuration describes. */
export function createWmbusMeterFromConfig(config: Extract<SimulatorConfig, { kind: 'wmbus' }>['meter']): WmbusMeter {
  return createWmbusMeter({
    kind: config.kind,
    id: config.id,
    manufacturer: config.manufacturer,
    version: config.version,
    mode: config.mode,
    seed: config.seed,
    ...(config.key !== undefined ? { key: Uint8Array.from(Buffer.from(config.key, 'hex')) } : {}),
    ...(config.crc !== 'none' ? { crc: config.crc } : {}),
  })
}

function createTransport(config: SimulatorConfig): Transport {
  const out = config.output
  switch (out.kind) {
    case 'serial':
      return createSerialTransport(out)
    case 'tcp':
      return createTcpClientTransport(out)
    case 'listen':
      return createTcpServerTransport(out)
    case 'udp':
      return createUdpTransport(out)
  }
}

/**
 * A meter simulator service: an SML meter pushing files over a serial port or TCP (client or
 * server), or a wireless M-Bus meter sending telegrams over UDP or a serial stick. The
 * configuration is validated here (SIM_CONFIG / SIM_KEY); clock and timers are injected.
 */
export function createSimulator(input: unknown, deps: SimulatorDeps = {}): Simulator {
  const config = parseSimulatorConfig(input)
  const now = deps.now ?? (() => new Date())
  const setTimer = deps.setTimer ?? defaultSetTimer
  const transport = createTransport(config)
  const jitterRandom = createRandom((config.meter.seed ^ 0x9e3779b9) >>> 0)
  let emit: () => SimulatorSent
  let seq = 0
  if (config.kind === 'sml') {
    const meter = createSmlMeterFromConfig(config.meter)
    emit = () => ({ kind: 'sml', seq: ++seq, emission: meter.next(now()) })
  } else {
    const meter = createWmbusMeterFromConfig(config.meter)
    emit = () => ({ kind: 'wmbus', seq: ++seq, emission: meter.next(now()) })
  }
  const delayMs = (): number => {
    if (config.kind === 'sml') return config.intervalS * 1000
    const s = config.intervalS * (1 + config.jitter * (jitterRandom.next() * 2 - 1))
    return Math.round(Math.min(96, Math.max(16, s)) * 1000)
  }

  let state: 'idle' | 'running' | 'closed' = 'idle'
  let starting: Promise<void> | undefined
  let closing: Promise<void> | undefined
  let cancelTimer: (() => void) | undefined
  let inFlight: Promise<void> | undefined
  let resolveFinished!: () => void
  const finished = new Promise<void>((resolve) => { resolveFinished = resolve })

  // A function, not a comparison: `state` changes while a write is awaited.
  const running = (): boolean => state === 'running'
  const tick = async (): Promise<void> => {
    cancelTimer = undefined
    if (state !== 'running') return
    const sent = emit()
    let event: SimulatorSent = sent
    try {
      await transport.write(sent.emission.bytes)
    } catch (err) {
      const error = isSimError(err) ? err : new SimError('SIM_TRANSPORT', String(err), { cause: err })
      event = { ...sent, error }
    }
    deps.onSent?.(event)
    if (config.count !== undefined && seq >= config.count) {
      resolveFinished()
      return
    }
    if (running()) cancelTimer = setTimer(delayMs(), () => { inFlight = tick() })
  }

  return {
    finished,
    port: () => transport.port?.(),
    start() {
      starting ??= (async () => {
        await transport.open()
        if (state !== 'idle') {
          await transport.close()
          return
        }
        state = 'running'
        inFlight = tick()
        await inFlight
      })()
      return starting
    },
    close() {
      closing ??= (async () => {
        state = 'closed'
        cancelTimer?.()
        cancelTimer = undefined
        await starting?.catch(() => undefined)
        await inFlight
        await transport.close()
        resolveFinished()
      })()
      return closing
    },
  }
}

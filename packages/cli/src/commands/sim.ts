import { Option, type Command } from 'commander'
import {
  SML_SIM_QUIRKS, createNtpServer, createSimulator, createSmlMeterFromConfig, createWmbusMeterFromConfig, isSimError,
  parseSmlMeterConfig, parseWmbusMeterConfig, type NtpRequestEvent, type NtpServerConfigInput, type Simulator, type SimulatorSent,
} from '@smgw/sim'
import type { CliIo } from '../io.js'
import type { CommandRun } from '../program.js'
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from '../exit.js'
import { toJson } from '../json.js'
import { registerClsDevice } from './sim-cls.js'

const HELP = `
Meter simulators for the LMN: an SML electricity meter (eHZ style: 1.8.0 import, 2.8.0
export, 16.7.0 power) driven by a standard load profile (BDEW H0 household, G0 commercial,
approximated hourly) and/or a PV generation profile, and wireless M-Bus water, heat and gas
meters and heat cost allocators (OMS security mode 5 or 7). Randomness is seeded: the same
--seed gives the same data. The first frame goes out at start, then one per --interval.

Runs until SIGINT/SIGTERM (Ctrl-C) or --count frames; progress on standard error, and with
--json one JSON line per frame on standard output (what was sent, values and hex; SML:
whether the file was cut, truncated, and the noise bytes before it; wM-Bus: the meter id).
Exit status: 0 ok, 1 the output failed (cannot open/connect), 2 usage error.

Examples:
  # eHZ on a virtual serial line (socat pty,raw,echo=0,link=/tmp/A pty,raw,echo=0,link=/tmp/B)
  smgw sim sml --serial /tmp/A --profile h0 --annual-kwh 4000 --pv-peak 6000 --seed 7
  smgw sim sml --listen 7259 --quirk noise --quirk truncated
  smgw sim sml --tcp 127.0.0.1:7259 --profile g0 --interval 1 --count 10 --json
  smgw sim wmbus --udp 127.0.0.1:7260 --meter gas --mode 7 --key 000102030405060708090A0B0C0D0E0F --id 12345678
  smgw sim wmbus --udp 127.0.0.1:7260 --meters 100 --meter water --mode 0 --id 10000000
  smgw sim wmbus --serial /tmp/A --meter heat --crc A --key 000102030405060708090A0B0C0D0E0F --interval 16
  smgw sim once sml | smgw decode sml --jsonl
  smgw sim once wmbus --meter water --key 000102030405060708090A0B0C0D0E0F | xargs smgw decode wmbus --key 000102030405060708090A0B0C0D0E0F
`

const QUIRK_NAMES = SML_SIM_QUIRKS.map((q) => q.name)

interface SmlOptions {
  readonly profile: string
  readonly annualKwh?: string
  readonly pvPeak?: string
  readonly seed: string
  readonly quirk: string[]
  readonly signature?: boolean
  readonly serverId?: string
  readonly manufacturer?: string
}

interface WmbusOptions {
  readonly meter: string
  readonly mode: string
  readonly key?: string
  readonly id: string
  readonly manufacturer?: string
  readonly crc: string
  readonly seed: string
}

interface RunOptions {
  readonly serial?: string
  readonly baud: string
  readonly interval?: string
  readonly count?: string
  readonly meters: string
  readonly json?: boolean
}

const collect = (v: string, prev: string[]): string[] => [...prev, v]

function num(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${name} is not a number: ${text}`)
  return n
}

function hostPort(text: string, name: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(text)
  if (!m) throw new UsageError(`${name} must be HOST:PORT, got ${text}`)
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) }
}

function smlMeter(o: SmlOptions): Record<string, unknown> {
  return {
    profile: o.profile,
    seed: num(o.seed, '--seed'),
    quirks: o.quirk,
    signature: o.signature === true,
    ...(o.annualKwh !== undefined ? { annualKwh: num(o.annualKwh, '--annual-kwh') } : {}),
    ...(o.pvPeak !== undefined ? { pvPeakW: num(o.pvPeak, '--pv-peak') } : {}),
    ...(o.serverId !== undefined ? { serverId: o.serverId } : {}),
    ...(o.manufacturer !== undefined ? { manufacturer: o.manufacturer } : {}),
  }
}

function wmbusMeter(o: WmbusOptions): Record<string, unknown> {
  return {
    kind: o.meter,
    mode: num(o.mode, '--mode'),
    id: o.id,
    crc: o.crc,
    seed: num(o.seed, '--seed'),
    ...(o.key !== undefined ? { key: o.key } : {}),
    ...(o.manufacturer !== undefined ? { manufacturer: o.manufacturer } : {}),
  }
}

function withSmlOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--profile <name>', 'consumption profile (pv: a generator only)').choices(['h0', 'g0', 'pv']).default('h0'))
    .option('--annual-kwh <kwh>', 'annual consumption the h0/g0 profile is scaled to (default 3500)')
    .option('--pv-peak <watts>', 'PV plant peak power in W (with h0/g0: a prosumer; pv default 5000)')
    .option('--seed <n>', 'random seed (0–4294967295)', '1')
    .option('--quirk <name>', `real-meter quirk (${QUIRK_NAMES.join(', ')}); repeatable`, collect, [])
    .option('--signature', 'add a per-file list signature field (a placeholder digest, not a real signature)')
    .option('--server-id <hex>', "server id (default 0A 01 'SIM' 00 + seed)")
    .option('--manufacturer <flag>', 'three-letter manufacturer id (default SIM)')
}

function withWmbusOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--meter <kind>', 'meter type').choices(['water', 'heat', 'gas', 'hca']).default('water'))
    .addOption(new Option('--mode <n>', 'OMS security mode (0: none; 5: AES-CBC, IV from address and access number; 7: AES-CBC with KDF-A session keys, ELL + AFL with CMAC)').choices(['0', '5', '7']).default('5'))
    .option('--key <hex>', 'AES-128 meter key, 32 hex digits (modes 5 and 7)')
    .option('--id <digits>', 'meter identification number, 8 digits', '12345678')
    .option('--manufacturer <flag>', 'three-letter manufacturer id (default SIM)')
    .addOption(new Option('--crc <format>', 'link-layer block CRCs (none: as receivers deliver frames)').choices(['A', 'B', 'none']).default('none'))
    .option('--seed <n>', 'random seed (0–4294967295)', '1')
}

function describeSent(s: SimulatorSent): string {
  if (s.kind === 'sml') {
    const v = s.emission.values
    const extra = [s.emission.truncated ? ' truncated' : '', s.emission.noiseBytes > 0 ? ` +${s.emission.noiseBytes} noise` : ''].join('')
    return `#${s.seq} sml ${v.importWh.toFixed(1)} Wh in, ${v.exportWh.toFixed(1)} Wh out, ${v.powerW} W${extra}`
  }
  const v = s.emission.values
  const main = v.energyWh !== undefined ? `${v.energyWh} Wh` : v.hcaUnits !== undefined ? `${v.hcaUnits} units` : `${String(v.volumeM3)} m3`
  return `#${s.seq} wmbus ${v.kind} ${main} access ${v.accessNumber}${v.messageCounter !== undefined ? ` counter ${v.messageCounter}` : ''}`
}

/**
 * One --json line: what went out, so a receiver's store can be checked against it. SML lines
 * say whether the file was cut (`truncated`: a receiver must not store it) and how many noise
 * bytes preceded it; wM-Bus lines carry the meter's identification number (`id`).
 */
function sentJson(s: SimulatorSent, meter: number, config: Readonly<Record<string, unknown>>): string {
  const { at, ...values } = s.emission.values
  const frame = s.kind === 'sml'
    ? { truncated: s.emission.truncated, noiseBytes: s.emission.noiseBytes }
    : { id: (config.meter as { id?: unknown } | undefined)?.id }
  return `${toJson({ meter, seq: s.seq, frame: s.kind, at: at.toISOString(), ...frame, ...values, ...(s.error ? { error: { code: s.error.code, message: s.error.message } } : {}), hex: s.emission.bytes })}\n`
}

/**
 * Runs simulators until each sent `count` frames or `signal` aborts; returns the exit status.
 * Exported for tests; the command wires SIGINT/SIGTERM to the signal.
 */
export async function runSimulator(configs: readonly Record<string, unknown>[], io: CliIo, json: boolean, signal: AbortSignal): Promise<number> {
  const outcome = { failed: false }
  const sims: Simulator[] = []
  try {
    for (const [index, config] of configs.entries()) {
      const label = configs.length > 1 ? `[${index}] ` : ''
      sims.push(createSimulator(config, {
        onSent: (s) => {
          if (s.error) {
            outcome.failed = true
            io.stderr(`smgw sim: ${label}#${s.seq} not sent: ${s.error.code}: ${s.error.message}\n`)
          } else io.stderr(`${label}${describeSent(s)}\n`)
          if (json) io.stdout(sentJson(s, index, config))
        },
      }))
    }
  } catch (err) {
    return reportError(err, io)
  }
  const stop = (): void => { for (const sim of sims) void sim.close() }
  signal.addEventListener('abort', stop, { once: true })
  try {
    for (const [index, sim] of sims.entries()) {
      await sim.start()
      const port = sim.port()
      if (port !== undefined) io.stderr(`smgw sim: ${sims.length > 1 ? `[${index}] ` : ''}listening on port ${port}\n`)
    }
    await Promise.all(sims.map((sim) => sim.finished))
  } catch (err) {
    return reportError(err, io)
  } finally {
    signal.removeEventListener('abort', stop)
    for (const sim of [...sims].reverse()) await sim.close()
  }
  return outcome.failed ? EXIT_FAILED : EXIT_OK
}

function reportError(err: unknown, io: CliIo): number {
  if (!isSimError(err)) throw err
  io.stderr(`smgw sim: ${err.code}: ${err.message}\n`)
  return err.code === 'SIM_TRANSPORT' || err.code === 'SIM_ENCODE' || err.code === 'SIM_TIME' ? EXIT_FAILED : EXIT_USAGE
}

const NTP_HELP = `
An SNTP server (RFC 4330) whose clock is the host clock plus --offset-ms: a lying clock
for the gateway's legal-time handling (a drift beyond 3 % of the registration period,
27 s for 15 min, puts the gateway in the restricted state). It can also answer with a
kiss-o'-death (--kiss RATE|DENY|RSTR|…) or claim to be unsynchronised (--leap 3).
Port 123 needs privileges; use a high port in tests and demos.

Runs until SIGINT/SIGTERM (Ctrl-C); one line per request on standard error, and with
--json one JSON line per request on standard output.
Exit status: 0 ok, 1 the port cannot be bound, 2 usage error.

Examples:
  smgw sim ntp --port 1123 --offset-ms 0
  smgw sim ntp --port 1123 --offset-ms 30000      # 30 s ahead: beyond the 27 s tolerance
  smgw sim ntp --port 1123 --offset-ms -500 --stratum 2
  smgw sim ntp --port 1123 --kiss RATE             # kiss-o'-death: the client backs off
  smgw sim ntp --port 0 --json                     # any free port, JSON lines
`

interface NtpOptions {
  readonly host: string
  readonly port: string
  readonly offsetMs: string
  readonly stratum: string
  readonly kiss?: string
  readonly leap: string
  readonly referenceId?: string
  readonly json?: boolean
}

function ntpConfig(o: NtpOptions): NtpServerConfigInput {
  const port = num(o.port, '--port')!
  if (!Number.isInteger(port)) throw new UsageError(`--port must be an integer, got ${o.port}`)
  return {
    host: o.host,
    port,
    offsetMs: num(o.offsetMs, '--offset-ms')!,
    stratum: num(o.stratum, '--stratum')!,
    leap: num(o.leap, '--leap')!,
    ...(o.kiss !== undefined ? { kissCode: o.kiss } : {}),
    ...(o.referenceId !== undefined ? { referenceId: o.referenceId } : {}),
  }
}

function describeNtpRequest(e: NtpRequestEvent): string {
  const from = `${e.from.address}:${e.from.port}`
  if (!e.answered) return `request from ${from} ignored: ${e.reason ?? ''}`
  return e.reply === 'time' ? `request from ${from} answered: ${e.serverTime?.toISOString() ?? ''}` : `request from ${from} answered: ${e.reply ?? ''}`
}

/**
 * Runs the SNTP server simulator until `signal` aborts; returns the exit status.
 * Exported for tests; the command wires SIGINT/SIGTERM to the signal.
 */
export async function runNtpSimulator(config: NtpServerConfigInput, io: CliIo, json: boolean, signal: AbortSignal): Promise<number> {
  let server
  try {
    server = createNtpServer(config, {
      onRequest: (e) => {
        io.stderr(`${describeNtpRequest(e)}\n`)
        if (json) {
          io.stdout(`${toJson({ from: e.from, answered: e.answered, ...(e.reason !== undefined ? { reason: e.reason } : {}), ...(e.reply !== undefined ? { reply: e.reply } : {}), ...(e.serverTime !== undefined ? { serverTime: e.serverTime.toISOString() } : {}) })}\n`)
        }
      },
    })
    await server.start()
  } catch (err) {
    return reportError(err, io)
  }
  const offset = config.offsetMs ?? 0
  io.stderr(`smgw sim ntp: listening on udp ${config.host ?? '127.0.0.1'}:${server.port() ?? ''} (clock ${offset >= 0 ? '+' : ''}${offset} ms${config.kissCode !== undefined ? `, kiss-o'-death ${config.kissCode}` : ''})\n`)
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => { resolve() }, { once: true })
  })
  await server.close()
  return EXIT_OK
}

/** Runs until the process gets SIGINT or SIGTERM (graceful close) or the simulator finishes. */
async function runUntilSignal(configs: readonly Record<string, unknown>[], io: CliIo, json: boolean): Promise<number> {
  const controller = new AbortController()
  const abort = (): void => { controller.abort() }
  process.once('SIGINT', abort)
  process.once('SIGTERM', abort)
  try {
    return await runSimulator(configs, io, json, controller.signal)
  } finally {
    process.off('SIGINT', abort)
    process.off('SIGTERM', abort)
  }
}

function meterCount(text: string): number {
  const n = num(text, '--meters')!
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new UsageError(`--meters must be 1–10000, got ${text}`)
  return n
}

function runOptions(o: RunOptions): Record<string, unknown> {
  return {
    ...(o.interval !== undefined ? { intervalS: num(o.interval, '--interval') } : {}),
    ...(o.count !== undefined ? { count: num(o.count, '--count') } : {}),
  }
}

function parseAt(text: string | undefined): Date {
  if (text === undefined) return new Date()
  const at = new Date(text)
  if (Number.isNaN(at.getTime())) throw new UsageError(`--at is not a date: ${text}`)
  return at
}

export function register(program: Command, io: CliIo, run: CommandRun): void {
  const sim = program
    .command('sim')
    .description('meter simulators: an SML electricity meter and wireless M-Bus meters, over serial, TCP or UDP')
    .addHelpText('after', HELP)

  withSmlOptions(
    sim.command('sml')
      .description('an SML meter pushing a file every 1–4 s over a serial port, to a TCP server, or as a TCP server')
      .option('--serial <path>', 'serial port (e.g. one end of a socat pty pair)')
      .option('--tcp <host:port>', 'connect to a TCP server and push files to it')
      .option('--listen <[host:]port>', 'listen on TCP (127.0.0.1 unless a host is given); every client gets the files')
      .option('--baud <rate>', 'serial baud rate', '9600')
      .option('--interval <s>', 'seconds between files, 1–4 (default 2)')
      .option('--count <n>', 'stop after n files (per meter)')
      .option('--meters <n>', 'run n meters (seeds SEED…SEED+n-1; --listen PORT: ports PORT…PORT+n-1)', '1')
      .option('--json', 'one JSON line per file on standard output'),
  ).addHelpText('after', HELP)
    .action((o: SmlOptions & RunOptions & { tcp?: string; listen?: string }) => run(async () => {
      const outputs = [o.serial, o.tcp, o.listen].filter((x) => x !== undefined)
      if (outputs.length !== 1) throw new UsageError('give exactly one of --serial, --tcp, --listen')
      const output = o.serial !== undefined
        ? { kind: 'serial', path: o.serial, baudRate: num(o.baud, '--baud') }
        : o.tcp !== undefined
          ? { kind: 'tcp', ...hostPort(o.tcp, '--tcp') }
          : /^\d+$/.test(o.listen!) ? { kind: 'listen', port: Number(o.listen) } : { kind: 'listen', ...hostPort(o.listen!, '--listen') }
      const n = meterCount(o.meters)
      if (n > 1 && output.kind === 'serial') throw new UsageError('--meters above 1 needs --tcp or --listen (one meter per serial line)')
      const seed = num(o.seed, '--seed') ?? 1
      const configs = Array.from({ length: n }, (_, i) => ({
        kind: 'sml',
        meter: { ...smlMeter(o), seed: seed + i },
        // Meter i listens on PORT + i (or on a free port each for --listen 0).
        output: output.kind === 'listen' && output.port !== undefined && output.port !== 0 ? { ...output, port: output.port + i } : output,
        ...runOptions(o),
      }))
      return runUntilSignal(configs, io, o.json === true)
    }))

  withWmbusOptions(
    sim.command('wmbus')
      .description('a wireless M-Bus meter sending a telegram every 16–96 s over UDP or a serial stick (raw frames)')
      .option('--udp <host:port>', 'send each telegram as one UDP datagram')
      .option('--serial <path>', 'write raw frames to a serial port (a virtual wM-Bus stick)')
      .option('--baud <rate>', 'serial baud rate', '9600')
      .option('--interval <s>', 'mean seconds between telegrams, 16–96 (default 32, ±10 % seeded jitter)')
      .option('--count <n>', 'stop after n telegrams (per meter)')
      .option('--meters <n>', 'run n meters (ids ID…ID+n-1, seeds SEED…SEED+n-1)', '1')
      .option('--json', 'one JSON line per telegram on standard output'),
  ).addHelpText('after', HELP)
    .action((o: WmbusOptions & RunOptions & { udp?: string }) => run(async () => {
      if ((o.udp === undefined) === (o.serial === undefined)) throw new UsageError('give exactly one of --udp, --serial')
      const output = o.udp !== undefined ? { kind: 'udp', ...hostPort(o.udp, '--udp') } : { kind: 'serial', path: o.serial, baudRate: num(o.baud, '--baud') }
      const n = meterCount(o.meters)
      if (n > 1 && output.kind === 'serial') throw new UsageError('--meters above 1 needs --udp')
      const seed = num(o.seed, '--seed') ?? 1
      const id = Number(o.id)
      if (!/^\d{8}$/.test(o.id) || id + n - 1 > 99_999_999) throw new UsageError(`--id must be 8 digits leaving room for ${n} meters, got ${o.id}`)
      const configs = Array.from({ length: n }, (_, i) => ({
        kind: 'wmbus',
        meter: { ...wmbusMeter(o), id: String(id + i).padStart(8, '0'), seed: seed + i },
        output,
        ...runOptions(o),
      }))
      return runUntilSignal(configs, io, o.json === true)
    }))

  sim.command('ntp')
    .description('an SNTP server with a chosen clock offset (a lying clock), kiss-o\'-death or leap-3 replies, for legal-time tests')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'UDP port (0: any free port)', '123')
    .option('--offset-ms <ms>', 'the server clock minus the host clock, ms (negative: behind)', '0')
    .option('--stratum <n>', 'stratum 1–15', '1')
    .option('--kiss <code>', 'answer every request with this kiss code (RATE, DENY, RSTR, …)')
    .addOption(new Option('--leap <n>', 'leap indicator (3: the server is unsynchronised)').choices(['0', '1', '2', '3']).default('0'))
    .option('--reference-id <text>', 'stratum-1 reference ID, 1–4 ASCII characters (default SIM)')
    .option('--json', 'one JSON line per request on standard output')
    .addHelpText('after', NTP_HELP)
    .action((o: NtpOptions) => run(async () => {
      const config = ntpConfig(o)
      const controller = new AbortController()
      const abort = (): void => { controller.abort() }
      process.once('SIGINT', abort)
      process.once('SIGTERM', abort)
      try {
        return await runNtpSimulator(config, io, o.json === true, controller.signal)
      } finally {
        process.off('SIGINT', abort)
        process.off('SIGTERM', abort)
      }
    }))

  registerClsDevice(sim, io, run)

  const once = sim.command('once')
    .description('print one generated frame as hex (the meter runs from 24 h before --at, default now)')
    .addHelpText('after', HELP)
  withSmlOptions(once.command('sml').description('one SML file as hex'))
    .option('--at <iso>', 'the instant of the file (default now)')
    .option('--json', 'print {hex, values} as JSON')
    .action((o: SmlOptions & { at?: string; json?: boolean }) => run(() => {
      try {
        const meter = createSmlMeterFromConfig(parseSmlMeterConfig(smlMeter(o)))
        const at = parseAt(o.at)
        meter.next(new Date(at.getTime() - 86_400_000))
        const e = meter.next(at)
        const { at: _at, ...values } = e.values
        io.stdout(o.json === true ? `${toJson({ frame: 'sml', at: at.toISOString(), ...values, hex: e.bytes })}\n` : `${Buffer.from(e.bytes).toString('hex')}\n`)
        return EXIT_OK
      } catch (err) {
        return reportError(err, io)
      }
    }))
  withWmbusOptions(once.command('wmbus').description('one wireless M-Bus telegram as hex'))
    .option('--at <iso>', 'the instant of the telegram (default now)')
    .option('--json', 'print {hex, values} as JSON')
    .action((o: WmbusOptions & { at?: string; json?: boolean }) => run(() => {
      try {
        const meter = createWmbusMeterFromConfig(parseWmbusMeterConfig(wmbusMeter(o)))
        const at = parseAt(o.at)
        meter.next(new Date(at.getTime() - 86_400_000))
        const e = meter.next(at)
        const { at: _at, ...values } = e.values
        io.stdout(o.json === true ? `${toJson({ frame: 'wmbus', at: at.toISOString(), ...values, hex: e.bytes })}\n` : `${Buffer.from(e.bytes).toString('hex')}\n`)
        return EXIT_OK
      } catch (err) {
        return reportError(err, io)
      }
    }))
}

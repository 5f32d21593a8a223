import { Option, type Command } from 'commander'
import { createClsDevice, isSimError, type ClsDeviceConfigInput, type ClsDeviceEvent } from '@smgw/sim'
import type { CliIo } from '../io.js'
import type { CommandRun } from '../program.js'
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from '../exit.js'
import { toJson } from '../json.js'

const HELP = `
A controllable device on the HAN (a heat pump or wallbox under §14a EnWG) for the CLS
channel: a TCP server taking one JSON command per line and answering one JSON line each.

  {"cmd":"limit","kw":4.2}   limit the grid draw (never below --safe-limit-kw: §14a EnWG
                             guarantees 4.2 kW; a lower limit is refused with BELOW_MINIMUM)
  {"cmd":"release"}          back to normal (no limit)
  {"cmd":"status"}           {"ok":true,"cmd":"status","mode":"normal"|"limited"|"fallback","limitKw":…,"powerKw":…}

When the last connection (the channel) drops while a limit is in force, the device keeps
that limit for --grace-s seconds, then falls back to the safe limit (mode "fallback",
--safe-limit-kw) until a new command arrives; a connection within the grace time keeps
the limit.

Runs until SIGINT/SIGTERM; one line per event on standard error, and with --json one JSON
line per event on standard output ({"event":"listening"|"connected"|"command"|"mode"|"grace"|"disconnected",…}).
Exit status: 0 ok, 1 the port cannot be bound, 2 usage error.

Examples:
  smgw sim cls-device --port 7300
  smgw sim cls-device --port 0 --grace-s 5 --json
  printf '{"cmd":"limit","kw":4.2}\\n{"cmd":"status"}\\n' | nc 127.0.0.1 7300
`

interface ClsDeviceOptions {
  readonly host: string
  readonly port: string
  readonly kind: 'heat-pump' | 'wallbox'
  readonly demandKw: string
  readonly safeLimitKw: string
  readonly graceS: string
  readonly json?: boolean
}

function number(text: string, name: string): number {
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${name} is not a number: ${text}`)
  return n
}

function describeEvent(e: ClsDeviceEvent): string {
  switch (e.event) {
    case 'connected': return `connected: ${e.peer} (${e.connections} open)`
    case 'disconnected': return `disconnected: ${e.peer} (${e.connections} open)`
    case 'command': return e.answer.ok ? `command ${e.answer.cmd} from ${e.peer}: ok` : `command from ${e.peer} refused: ${e.answer.error}: ${e.answer.message}`
    case 'mode': return `mode ${e.mode}${e.limitKw === null ? '' : `, limit ${e.limitKw} kW`}, drawing ${e.powerKw} kW (${e.reason})`
    case 'grace': return `channel lost with a limit in force: fallback in ${e.graceS} s unless a controller comes back`
  }
}

/** Runs the device until `signal` aborts; returns the exit status. Exported for tests. */
export async function runClsDevice(config: ClsDeviceConfigInput, io: CliIo, json: boolean, signal: AbortSignal): Promise<number> {
  const print = (line: Record<string, unknown>): void => { if (json) io.stdout(`${toJson({ at: new Date().toISOString(), ...line })}\n`) }
  let device
  try {
    device = createClsDevice(config, {
      onEvent: (e) => {
        io.stderr(`${describeEvent(e)}\n`)
        print({ ...e })
      },
    })
    await device.start()
  } catch (err) {
    if (!isSimError(err)) throw err
    io.stderr(`smgw sim cls-device: ${err.code}: ${err.message}\n`)
    return err.code === 'SIM_TRANSPORT' ? EXIT_FAILED : EXIT_USAGE
  }
  const s = device.status()
  io.stderr(`smgw sim cls-device: listening on tcp ${config.host ?? '127.0.0.1'}:${String(device.port() ?? '')} (${config.kind ?? 'heat-pump'}, drawing ${s.powerKw} kW)\n`)
  print({ event: 'listening', port: device.port(), mode: s.mode, limitKw: s.limitKw, powerKw: s.powerKw })
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => { resolve() }, { once: true })
  })
  await device.close()
  return EXIT_OK
}

export function registerClsDevice(sim: Command, io: CliIo, run: CommandRun): void {
  sim.command('cls-device')
    .description('a controllable device (heat pump, wallbox) for the CLS channel: JSON-line commands over TCP, §14a EnWG power limit and fallback')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'TCP port (0: any free port)', '7300')
    .addOption(new Option('--kind <kind>', 'device kind').choices(['heat-pump', 'wallbox']).default('heat-pump'))
    .option('--demand-kw <kw>', 'power drawn when not limited', '9')
    .option('--safe-limit-kw <kw>', '§14a EnWG guaranteed minimum: lowest accepted limit and the fallback limit', '4.2')
    .option('--grace-s <s>', 'seconds a limit stays after the channel dropped, before the fallback', '60')
    .option('--json', 'one JSON line per event on standard output')
    .addHelpText('after', HELP)
    .action((o: ClsDeviceOptions) => run(async () => {
      const port = number(o.port, '--port')
      if (!Number.isInteger(port)) throw new UsageError(`--port must be an integer, got ${o.port}`)
      const config: ClsDeviceConfigInput = {
        host: o.host, port, kind: o.kind, demandKw: number(o.demandKw, '--demand-kw'), safeLimitKw: number(o.safeLimitKw, '--safe-limit-kw'), graceS: number(o.graceS, '--grace-s'),
      }
      const controller = new AbortController()
      const abort = (): void => { controller.abort() }
      process.once('SIGINT', abort)
      process.once('SIGTERM', abort)
      try {
        return await runClsDevice(config, io, o.json === true, controller.signal)
      } finally {
        process.off('SIGINT', abort)
        process.off('SIGTERM', abort)
      }
    }))
}

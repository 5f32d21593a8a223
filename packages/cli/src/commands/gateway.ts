import type { Command } from 'commander'
import type { GatewayConfig, GatewayStatus, MeterKeys } from '@smgw/gateway'
import type { CliIo } from '../io.js'
import type { CommandRun } from '../program.js'
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../exit.js'
import { toJson } from '../json.js'

const EXAMPLE_CONFIG = `{
  "gatewayId": "smgw-0001",
  "store": { "path": "gateway.db" },
  "logs": { "sigKey": "pki/gateways/smgw-0001/sig.key.pem",
            "sigCertificate": "pki/gateways/smgw-0001/sig.cert.pem" },
  "meters": [
    { "id": "1EMH0012345678", "kind": "sml", "intervalS": 2, "consumer": "c-1",
      "transport": { "serial": { "path": "/dev/ttyUSB0", "baudRate": 9600 } },
      "quirks": { "signedPositivePower": false } },
    { "id": "ehz-garage", "kind": "sml", "intervalS": 4,
      "transport": { "tcp": { "host": "192.168.1.50", "port": 7259 } } },
    { "id": "gas-1", "kind": "wmbus", "mbusId": "12345678", "keyId": "gas-1",
      "intervalS": 32, "silentAfterMissed": 3,
      "transport": { "udp": { "host": "0.0.0.0", "port": 7260 } } },
    { "id": "heat-1", "kind": "wmbus", "mbusId": "87654321", "keyId": "heat-1", "intervalS": 96,
      "transport": { "serial": { "path": "/dev/ttyACM0", "baudRate": 9600, "frameCrc": "A" } } }
  ]
}`

const HELP = `
Runs the Smart Meter Gateway (first slice): reads the meters on the LMN (SML over a serial
line or TCP, wireless M-Bus from a stick or UDP, or a replayed capture), commits their
readings to the store (SQLite; a reading counts as received once committed) and writes the
system, consumer and calibration logs (unknown meters, rejected keys, silent meters).
Runs until SIGTERM or SIGINT, then stops the adapters, commits what is pending and closes
the store. Status lines go to standard error (--json: one JSON object per line).

Acknowledgement: with --log-level debug, each committed batch of readings gets a line
{"msg":"readings stored","count":N,"firstId":A,"lastId":B} on standard error, written
only after the commit returned: readings A…B are in the store even if the process is
killed right after (kill -9 included).

The configuration is JSON, validated strictly (unknown keys are errors, each named by its
path). Relative paths in it are taken from the configuration file's folder. Meter keys are
never in it: a wireless meter names a keyId, looked up in --keys, a JSON file
{ "keyId": "32 hex digits" } with mode 0600 (the security module replaces this file later).

Example configuration:
${EXAMPLE_CONFIG}

Exit status: 0 stopped by a signal (or --check: valid), 1 the gateway could not start or
failed, 2 usage or configuration error.

Examples:
  smgw gateway --config gateway.json --keys meter-keys.json
  smgw gateway --config gateway.json --check
  smgw gateway --config gateway.json --keys meter-keys.json --json --status-interval 10
  smgw log verify gateway.db --cert pki/gateways/smgw-0001/sig.cert.pem
`

interface GatewayOptions {
  config: string
  keys?: string
  check?: boolean
  json?: boolean
  statusInterval: string
  logLevel: string
}

type GatewayModule = typeof import('@smgw/gateway')

export function register(program: Command, io: CliIo, run: CommandRun): void {
  program
    .command('gateway')
    .description('run the gateway: LMN meters → store and logs, until SIGTERM/SIGINT')
    .requiredOption('--config <file>', 'gateway configuration (JSON)')
    .option('--keys <file>', 'meter key file (JSON { keyId: hex }, mode 0600)')
    .option('--check', 'validate the configuration (and key file) and exit: 0 valid, 2 not')
    .option('--json', 'status lines as JSON objects')
    .option('--status-interval <s>', 'seconds between status lines (0: only at start and stop)', '60')
    .option('--log-level <level>', 'pino log level of the JSON diagnostics on standard error (silent, error, warn, info, debug)', 'warn')
    .addHelpText('after', HELP)
    .action((o: GatewayOptions) => run(async () => {
      const gw = await import('@smgw/gateway')
      const interval = Number(o.statusInterval)
      if (!Number.isFinite(interval) || interval < 0) return usage(io, `--status-interval must be a number of seconds ≥ 0, got ${o.statusInterval}`)
      if (!['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'].includes(o.logLevel)) return usage(io, `--log-level: silent, error, warn, info or debug, not ${o.logLevel}`)
      let config: GatewayConfig
      let keys: MeterKeys
      try {
        config = await gw.readGatewayConfig(o.config)
        keys = o.keys === undefined ? new Map() : await gw.readMeterKeys(o.keys)
        gw.checkMeterKeys(config, keys)
      } catch (err) {
        if (!(err instanceof gw.GatewayError)) throw err
        io.stderr(`smgw gateway: ${err.code}: ${err.message}\n`)
        return EXIT_USAGE
      }
      if (o.check === true) {
        const line = { ok: true, gatewayId: config.gatewayId, meters: config.meters.length, store: config.store.path }
        io.stdout(o.json === true ? `${toJson(line)}\n` : `configuration ok: gateway ${config.gatewayId}, ${config.meters.length} meter${config.meters.length === 1 ? '' : 's'}, store ${config.store.path}\n`)
        return EXIT_OK
      }
      return runGateway(gw, config, keys, io, o.json === true, interval, o.logLevel)
    }))
}

function usage(io: CliIo, message: string): number {
  io.stderr(`smgw gateway: ${message}\n`)
  return EXIT_USAGE
}

/** Runs until SIGINT/SIGTERM; status lines on standard error. */
async function runGateway(gw: GatewayModule, config: GatewayConfig, keys: MeterKeys, io: CliIo, json: boolean, intervalS: number, logLevel: string): Promise<number> {
  const { pino } = await import('pino')
  const logger = pino({ level: logLevel, base: { component: 'smgw-gateway' } }, { write: (line: string) => { io.stderr(line) } })
  const gateway = gw.createGateway(config, { keys, logger })
  const status = (event: string, s: GatewayStatus): void => {
    if (json) {
      io.stderr(`${toJson({ event, state: s.state, stored: s.stored, pending: s.pending, garbageBytes: s.garbageBytes, unknownMeters: s.unknownMeters, ports: s.ports, meters: s.meters.map((m) => ({ ...m, lastReadingAt: m.lastReadingAt?.toISOString() })) })}\n`)
      return
    }
    const meters = s.meters.map((m) => `${m.id} ${m.state} ${m.stored}`).join(', ')
    const ports = s.ports.length === 0 ? '' : `; UDP port${s.ports.length === 1 ? '' : 's'} ${s.ports.join(', ')}`
    io.stderr(`smgw gateway: ${event}: ${s.stored} readings stored, ${s.garbageBytes} bytes dropped${s.unknownMeters.length === 0 ? '' : `, unknown meters ${s.unknownMeters.join(' ')}`}; meters: ${meters}${ports}\n`)
  }

  let stop: (reason: 'sigterm') => void = () => undefined
  const stopped = new Promise<'sigterm'>((resolve) => { stop = resolve })
  const onSignal = (): void => { stop('sigterm') }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  let timer: NodeJS.Timeout | undefined
  try {
    try {
      await gateway.start()
    } catch (err) {
      io.stderr(`smgw gateway: could not start: ${err instanceof gw.GatewayError ? `${err.code}: ` : ''}${err instanceof Error ? err.message : String(err)}\n`)
      return EXIT_FAILED
    }
    status('running', gateway.status())
    if (intervalS > 0) timer = setInterval(() => { status('status', gateway.status()) }, intervalS * 1000)
    const reason = await stopped
    if (timer !== undefined) clearInterval(timer)
    await gateway.close(reason)
    status('stopped', gateway.status())
    return EXIT_OK
  } finally {
    if (timer !== undefined) clearInterval(timer)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await gateway.close('error')
  }
}

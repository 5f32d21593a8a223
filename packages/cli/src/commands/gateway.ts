import type { Command } from 'commander'
import type { SecurityModule } from '@smgw/crypto'
import type { ActiveVersion, GatewayConfig, GatewayStatus, MeterKeys } from '@smgw/gateway'
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
{ "keyId": "32 hex digits" } with mode 0600, or held by a security module (config
meterKeys; see smgw gateway keys --help).

Example configuration:
${EXAMPLE_CONFIG}

Administration (optional "admin" section, docs/admin-protocol.md): the gateway listens for
signed wake-up packets of its GWA on one UDP port, then calls the GWA over mutual TLS (at
start, on every accepted wake-up, every pollIntervalS) and executes its signed commands.
Configuration versions the GWA applied live in admin.stateDir/config; while one is active,
the gateway runs it (with this file's admin section) instead of this file's meters, tariffs,
recipients and time source, and --check says which version it is. When the active version
does not read (missing, truncated, invalid), the newest older one that does runs, else this
file; a warning on standard error names both (--check --json: admin.fallback).

  "admin": { "endpoint": "https://gwa.example:8443",
             "gwaCertificate": "pki/gwa/sig.cert.pem",
             "trust": { "roots": ["pki/root-ca/ca.cert.pem"], "intermediates": ["pki/chain.pem"] },
             "initialIdentity": { "key": "pki/gateways/smgw-0001/gs.key.pem",
                                  "certificate": "pki/gateways/smgw-0001/gs.cert.pem",
                                  "chain": ["pki/sub-ca-gs/ca.cert.pem"] },
             "stateDir": "admin-state", "wakeUp": { "port": 8124 }, "pollIntervalS": 86400 }

Exit status: 0 stopped by a signal (or --check: valid), 1 the gateway could not start or
failed, 2 usage or configuration error.

Examples:
  smgw gateway --config gateway.json --keys meter-keys.json
  smgw gateway --config gateway.json --check
  smgw gateway --config gateway.json --keys meter-keys.json --json --status-interval 10
  smgw log verify gateway.db --cert pki/gateways/smgw-0001/sig.cert.pem
`

interface GatewayOptions {
  config?: string
  keys?: string
  check?: boolean
  json?: boolean
  statusInterval: string
  logLevel: string
}

type GatewayModule = typeof import('@smgw/gateway')

const KEYS_HELP = `
Meter keys held by a security module instead of the --keys file. The configuration names
the module (the passphrase or PIN comes from an environment variable or a 0600 file, never
from the configuration):

  "meterKeys": { "securityModule": { "software": { "dir": "meter-keys", "passphraseFile": "sm.pass" } } }
  "meterKeys": { "securityModule": { "pkcs11": { "tokenLabel": "meters", "pinEnv": "SMGW_METER_PIN" } } }

Each key is labelled with its keyId. "import" copies a key file's keys into the module
(the pseudonym secret stays in the file); after it the key file is no longer needed for
the meter keys: delete it (shred) and start the gateway without --keys. "list" shows the
labels, never a key.

Examples:
  smgw gateway keys import --config gateway.json --keys meter-keys.json
  SMGW_METER_PIN=1234 smgw gateway keys list --config gateway.json --json
`

interface KeysOptions {
  config?: string
  keys?: string
  replace?: boolean
  json?: boolean
}

/** Opens the configured meter key module, or says why not (exit 2 for a configuration without one). */
async function withKeyModule(io: CliIo, o: KeysOptions, fn: (gw: GatewayModule, sm: SecurityModule, config: GatewayConfig, o: KeysOptions) => Promise<number>): Promise<number> {
  const gw = await import('@smgw/gateway')
  if (o.config === undefined) {
    io.stderr("smgw gateway keys: required option '--config <file>' not specified\n")
    return EXIT_USAGE
  }
  let config: GatewayConfig
  try {
    config = await gw.readGatewayConfig(o.config)
  } catch (err) {
    if (!(err instanceof gw.GatewayError)) throw err
    io.stderr(`smgw gateway keys: ${err.code}: ${err.message}\n`)
    return EXIT_USAGE
  }
  if (config.meterKeys === undefined) {
    io.stderr('smgw gateway keys: the configuration has no meterKeys.securityModule\n')
    return EXIT_USAGE
  }
  let sm: SecurityModule
  try {
    sm = await gw.openMeterKeyModule(config.meterKeys, process.env)
  } catch (err) {
    if (!(err instanceof gw.GatewayError)) throw err
    io.stderr(`smgw gateway keys: ${err.code}: ${err.message}\n`)
    return EXIT_FAILED
  }
  try {
    return await fn(gw, sm, config, o)
  } catch (err) {
    if (!(err instanceof gw.GatewayError)) throw err
    io.stderr(`smgw gateway keys: ${err.code}: ${err.message}\n`)
    return EXIT_FAILED
  } finally {
    await sm.close()
  }
}

/**
 * Commander gives `--config`, `--keys` and `--json` to the `gateway` command (which declares
 * them too) unless the root program parses positionally; accept them from either.
 */
function withParentConfig(gateway: Command, o: KeysOptions): KeysOptions {
  const parent = gateway.opts<{ config?: string; keys?: string; json?: boolean }>()
  return {
    ...o,
    ...(o.config === undefined && parent.config !== undefined ? { config: parent.config } : {}),
    ...(o.keys === undefined && parent.keys !== undefined ? { keys: parent.keys } : {}),
    ...(o.json === undefined && parent.json !== undefined ? { json: parent.json } : {}),
  }
}

function registerKeys(gateway: Command, io: CliIo, run: CommandRun): void {
  const keys = gateway.command('keys').description('meter keys in the configured security module (import, list)').addHelpText('after', KEYS_HELP)
  keys
    .command('import')
    .description('move the keys of a meter key file into the security module')
    .option('--config <file>', 'gateway configuration (JSON) with meterKeys.securityModule; required')
    .option('--keys <file>', 'meter key file (JSON { keyId: hex }, mode 0600); required')
    .option('--replace', 'overwrite keys the module holds under the same keyId')
    .option('--json', 'the result as JSON')
    .addHelpText('after', KEYS_HELP)
    .action((opts: KeysOptions) => run(() => withKeyModule(io, withParentConfig(gateway, opts), async (gw, sm, _config, o) => {
      if (o.keys === undefined) {
        io.stderr("smgw gateway keys import: required option '--keys <file>' not specified\n")
        return EXIT_USAGE
      }
      let file: MeterKeys
      try {
        file = await gw.readMeterKeys(o.keys)
      } catch (err) {
        if (!(err instanceof gw.GatewayError)) throw err
        io.stderr(`smgw gateway keys import: ${err.code}: ${err.message}\n`)
        return EXIT_USAGE
      }
      const imported = await gw.importMeterKeys(sm, file, { replace: o.replace === true })
      const kept = file.has(gw.PSEUDONYM_KEY_ID)
      if (o.json === true) io.stdout(`${toJson({ imported, pseudonymKeptInFile: kept })}\n`)
      else {
        io.stdout(`imported ${imported.length} meter key${imported.length === 1 ? '' : 's'}: ${imported.join(', ') || '(none)'}\n`)
        io.stdout(kept
          ? `the key file still holds the pseudonym secret (${gw.PSEUDONYM_KEY_ID}); keep it for that, the meter keys in it are no longer needed\n`
          : `the key file is no longer needed: delete it (e.g. shred -u ${o.keys}) and start the gateway without --keys\n`)
      }
      return EXIT_OK
    })))
  keys
    .command('list')
    .description('the meter key labels (keyIds) the security module holds; never a key')
    .option('--config <file>', 'gateway configuration (JSON) with meterKeys.securityModule; required')
    .option('--json', 'the labels as JSON')
    .addHelpText('after', KEYS_HELP)
    .action((opts: KeysOptions) => run(() => withKeyModule(io, withParentConfig(gateway, opts), async (_gw, sm, config, o) => {
      const labels = (await sm.listSecretKeys()).map((k) => k.label)
      const named = new Set(config.meters.flatMap((m) => (m.kind === 'wmbus' && m.keyId !== undefined ? [m.keyId] : [])))
      const missing = [...named].filter((k) => !labels.includes(k)).sort()
      if (o.json === true) io.stdout(`${toJson({ keys: labels, missing })}\n`)
      else {
        for (const l of labels) io.stdout(`${l}${named.has(l) ? '' : '  (no meter names it)'}\n`)
        if (missing.length > 0) io.stdout(`missing (named by a meter): ${missing.join(', ')}\n`)
      }
      return EXIT_OK
    })))
}

export function register(program: Command, io: CliIo, run: CommandRun): void {
  const gateway = program
    .command('gateway')
    .description('run the gateway: LMN meters → store and logs, until SIGTERM/SIGINT')
    // Not requiredOption: commander checks a parent's mandatory options for its subcommands (gateway keys …) too.
    .option('--config <file>', 'gateway configuration (JSON; required)')
    .option('--keys <file>', 'meter key file (JSON { keyId: hex }, mode 0600)')
    .option('--check', 'validate the configuration (and key file) and exit: 0 valid, 2 not')
    .option('--json', 'status lines as JSON objects')
    .option('--status-interval <s>', 'seconds between status lines (0: only at start and stop)', '60')
    .option('--log-level <level>', 'pino log level of the JSON diagnostics on standard error (silent, error, warn, info, debug)', 'warn')
    .addHelpText('after', HELP)
    .action((o: GatewayOptions) => run(async () => {
      const gw = await import('@smgw/gateway')
      if (o.config === undefined) return usage(io, "required option '--config <file>' not specified")
      const interval = Number(o.statusInterval)
      if (!Number.isFinite(interval) || interval < 0) return usage(io, `--status-interval must be a number of seconds ≥ 0, got ${o.statusInterval}`)
      if (!['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'].includes(o.logLevel)) return usage(io, `--log-level: silent, error, warn, info or debug, not ${o.logLevel}`)
      let config: GatewayConfig
      let version: number
      let fallback: ActiveVersion['fallback']
      let keys: MeterKeys
      try {
        // With an admin section, the configuration version the GWA made active (README "Administration").
        const effective = await gw.readEffectiveConfig(o.config)
        config = effective.config
        version = effective.version
        fallback = effective.fallback
        // The version the GWA made active does not run (docs/admin-protocol.md "config-fallback"): say so before anything else.
        if (fallback !== undefined) {
          io.stderr(`smgw gateway: warning: ${fallback.code}: ${fallback.detail}; running ${version === 0 ? 'the configuration file' : `configuration version ${String(version)}`} instead\n`)
        }
        keys = o.keys === undefined ? new Map() : await gw.readMeterKeys(o.keys)
        // With meterKeys the module must hold the meter keys (checked below); the file may still hold the pseudonym secret.
        // An administered gateway starts without them: refusing would shut out the GWA, the one party that can
        // send a key its profile named (meter-keys); until then the service reports the meter key-rejected MISSING_KEY.
        if (config.meterKeys === undefined && config.admin === undefined) gw.checkMeterKeys(config, keys)
      } catch (err) {
        if (!(err instanceof gw.GatewayError)) throw err
        io.stderr(`smgw gateway: ${err.code}: ${err.message}\n`)
        return EXIT_USAGE
      }
      let keyModule: SecurityModule | undefined
      if (config.meterKeys !== undefined) {
        try {
          keyModule = await gw.openMeterKeyModule(config.meterKeys, process.env)
          if (config.admin === undefined) await gw.checkModuleMeterKeys(keyModule, config)
        } catch (err) {
          await keyModule?.close()
          if (!(err instanceof gw.GatewayError)) throw err
          io.stderr(`smgw gateway: ${err.code}: ${err.message}\n`)
          return err.code === 'KEYS_INVALID' ? EXIT_USAGE : EXIT_FAILED
        }
      }
      try {
        if (o.check === true) return check(io, config, version, fallback, o.json === true)
        return await runGateway(gw, config, keys, keyModule, io, o.json === true, interval, o.logLevel)
      } finally {
        await keyModule?.close()
      }
    }))
  registerKeys(gateway, io, run)
}

function check(io: CliIo, config: GatewayConfig, version: number, fallback: ActiveVersion['fallback'], json: boolean): number {
  const a = config.admin
  const admin = a === undefined ? undefined : {
    endpoint: a.endpoint, wakeUp: `${a.wakeUp.host}:${String(a.wakeUp.port)}`, stateDir: a.stateDir, activeVersion: version, pollIntervalS: a.pollIntervalS,
    ...(fallback === undefined ? {} : { fallback: { rejected: fallback.rejected, code: fallback.code } }),
  }
  const line = { ok: true, gatewayId: config.gatewayId, meters: config.meters.length, store: config.store.path, ...(admin === undefined ? {} : { admin }) }
  if (json) io.stdout(`${toJson(line)}\n`)
  else {
    io.stdout(`configuration ok: gateway ${config.gatewayId}, ${config.meters.length} meter${config.meters.length === 1 ? '' : 's'}, store ${config.store.path}\n`)
    if (admin !== undefined) {
      io.stdout(`administered by ${admin.endpoint}: wake-up on UDP ${admin.wakeUp}, ${admin.pollIntervalS === 0 ? 'no scheduled sessions' : `a session every ${String(admin.pollIntervalS)} s`}, ` +
        `${version === 0 ? 'no configuration version from the GWA yet (this file runs)' : `configuration version ${String(version)} active`} (${admin.stateDir})\n`)
    }
  }
  return EXIT_OK
}

function usage(io: CliIo, message: string): number {
  io.stderr(`smgw gateway: ${message}\n`)
  return EXIT_USAGE
}

/** Runs until SIGINT/SIGTERM; status lines on standard error. */
async function runGateway(gw: GatewayModule, config: GatewayConfig, keys: MeterKeys, keyModule: SecurityModule | undefined, io: CliIo, json: boolean, intervalS: number, logLevel: string): Promise<number> {
  const { pino } = await import('pino')
  const logger = pino({ level: logLevel, base: { component: 'smgw-gateway' } }, { write: (line: string) => { io.stderr(line) } })
  // One security module holds the meter keys and, with logs.sigKeyLabel, the SIG key.
  const gateway = gw.createGateway(config, { keys, logger, ...(keyModule === undefined ? {} : { keyModule, sigModule: keyModule }) })
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
    const admin = gateway.admin()
    if (admin !== undefined) io.stderr(json ? `${toJson({ event: 'admin', endpoint: config.admin?.endpoint, wakeUpPort: admin.wakeUpPort() })}\n` : `smgw gateway: administered by ${config.admin?.endpoint ?? ''}, wake-up on UDP port ${String(admin.wakeUpPort())}\n`)
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

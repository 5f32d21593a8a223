import { writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import type { EmtConfig } from '@smgw/emt'
import type { CliIo } from '../io.js'
import type { CommandRun } from '../program.js'
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../exit.js'
import { toJson } from '../json.js'
import { registerEmtCls } from './emt-cls.js'

const EXAMPLE_CONFIG = `{
  "participantId": "emt-1",
  "listen": { "host": "0.0.0.0", "port": 8443 },
  "tls": { "certificate": "pki/emt-1/tls.cert.pem", "key": "pki/emt-1/tls.key.pem", "chain": ["pki/chain.pem"] },
  "enc": { "certificate": "pki/emt-1/enc.cert.pem", "key": { "file": "pki/emt-1/enc.key.pem" } },
  "pki": { "roots": ["pki/root-ca/ca.cert.pem"], "crls": ["pki/crl/sub-ca-gw.crl.pem", "pki/crl/root.crl.pem"] },
  "storage": { "sqlite": "emt.db" },
  "replayWindowDays": 30,
  "retentionYears": 3,
  "api": { "host": "127.0.0.1", "port": 8444, "tokenFile": "api-token" }
}`

const HELP = `
The external market participant's receiver (EMT): gateways deliver meter-data messages
over mutual TLS 1.2 (SM-PKI certificates), one POST /v1/meter-data each, as CMS encrypted
to our ENC certificate and signed by the gateway's SIG key. The receiver checks them in the
order of docs/wan-protocol.md, stores them (SQLite, or PostgreSQL with
"storage": { "postgres": "postgres://…" }) and answers only after the commit. Only gateways
registered with 'smgw emt gateway add' are accepted; registered with their certificates
(--certificate), their first delivery costs no certificate signature check. Stored values are deleted
"retentionYears" (1–3, default 3) after the end of their year (MsbG; 'smgw emt prune').

The configuration is JSON, validated strictly (unknown keys are errors, each named by its
path); relative paths are taken from its folder. The ENC and the TLS key may also live in a
security module: "key": { "softwareModule": { "dir": "sm", "passphraseFile": "pass" },
"label": "enc" } or "key": { "pkcs11": { "library": "/usr/lib/softhsm/libsofthsm2.so",
"tokenLabel": "emt", "pinFile": "pin" }, "label": "enc" } (a token's TLS key stays on the
token; OpenSSL signs through its pkcs11 engine). The REST API (optional "api") listens apart from the
gateway port, on 127.0.0.1 by default, and wants "Authorization: Bearer <token file content>".

Example configuration:
${EXAMPLE_CONFIG}

Exit status: 0 done (serve: stopped by SIGTERM/SIGINT), 1 failed, 2 usage or configuration error.

Examples:
  smgw emt serve --config emt.json
  smgw emt gateway add smgw-0001 --config emt.json --note "Musterstraße 1"
  smgw emt gateway add smgw-0002 --config emt.json --certificate tls.pem --certificate sig.pem
  smgw emt gateway list --config emt.json --json
  smgw emt prune --config emt.json
  smgw emt export --config emt.json --format mscons --metering-point p-3f9a01 \\
      --from 2026-11-23T00:00:00+01:00 --to 2026-11-24T00:00:00+01:00 --out day.edi
  curl -H "Authorization: Bearer $(cat api-token)" http://127.0.0.1:8444/v1/metering-points
`

type EmtModule = typeof import('@smgw/emt')

interface ConfigOption { readonly config: string; readonly json?: boolean }

export function register(program: Command, io: CliIo, run: CommandRun): void {
  const emt = program.command('emt')
    .description('the market participant\'s receiver: mutual-TLS intake of gateway messages, store, REST API, MSCONS/CSV/JSON export')
    .addHelpText('after', HELP)

  emt.command('serve')
    .description('run the receiver until SIGTERM/SIGINT (SIGHUP re-reads the CRL files)')
    .requiredOption('--config <file>', 'EMT configuration (JSON)')
    .option('--json', 'status lines as JSON objects')
    .option('--log-level <level>', 'pino log level of the JSON log on standard error (silent, error, warn, info, debug)', 'info')
    .option('--workers <n>', 'gateway-facing worker processes sharing the port, 1–64 (overrides "workers" of the configuration; one per CPU core uses them all)')
    .addHelpText('after', `
Prints the bound ports once listening (standard output), then logs every stored message and
every refusal with its code as JSON lines on standard error. With --workers N (N > 1) this
process opens the store, serves the REST API and forwards SIGHUP to N worker processes
that share the gateway port (node:cluster), each doing TLS handshakes, checks and commits.
Retention (retentionYears of the configuration, see \`smgw emt prune --help\`) runs beside
the intake from the start and every 24 h. The certificate signatures the receiver verified
are kept in the store, so after a restart known gateways' certificates are not verified
again (validity, revocation and every rule still are).

Examples:
  smgw emt serve --config emt.json
  smgw emt serve --config emt.json --workers 2 --json --log-level warn
`)
    .action((o: ConfigOption & { logLevel: string; workers?: string }) => run(async () => {
      if (!['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'].includes(o.logLevel)) return usage(io, `--log-level: silent, error, warn, info or debug, not ${o.logLevel}`)
      const workers = o.workers === undefined ? undefined : Number(o.workers)
      if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1 && workers <= 64)) return usage(io, `--workers: a whole number from 1 to 64, not ${String(o.workers)}`)
      const lib = await import('@smgw/emt')
      const config = await loadConfig(lib, io, o.config)
      if (config === undefined) return EXIT_USAGE
      return serve(lib, workers === undefined ? config : { ...config, workers }, io, o.json === true, o.logLevel)
    }))

  registerEmtCls(emt, io, run)

  const gateway = emt.command('gateway').description('the registered gateways (a gateway not listed is SENDER_UNKNOWN)')
  gateway.command('add')
    .description('register a gateway ID (the CN of its TLS and SIG certificates), optionally with those certificates')
    .argument('<id>', 'gateway ID, e.g. smgw-0001')
    .requiredOption('--config <file>', 'EMT configuration (JSON)')
    .option('--note <text>', 'a note (location, contract)')
    .option('--certificate <file>', ...CERTIFICATE_OPTION)
    .option('--json', 'machine-readable output')
    .addHelpText('after', `
With --certificate (as the gateway administrator hands them over), each certificate must
validate now as the gateway's TLS client or SIG certificate (chain to pki.roots, validity,
CRLs, profile) and name the gateway (CN); otherwise nothing is registered
(EMT_CERTIFICATE_INVALID). Their verified signatures are kept in the store, so the gateway's
first delivery costs no certificate signature check. A running receiver takes them up on
SIGHUP (or its next start).

Examples:
  smgw emt gateway add smgw-0001 --config emt.json
  smgw emt gateway add smgw-0002 --config emt.json --note "Musterstraße 2" --json
  smgw emt gateway add smgw-0003 --config emt.json --certificate tls.pem --certificate sig.pem
`)
    .action((id: string, o: ConfigOption & { note?: string; certificate: string[] }) => run(async () => {
      if (!/^[A-Za-z0-9._:-]{1,64}$/.test(id)) return usage(io, `gateway ID ${JSON.stringify(id)}: 1–64 characters A–Z a–z 0–9 . _ : -`)
      return withRepository(io, o.config, async (repo, config, lib) => {
        const checks = await lib.registerGateway(repo, config, { id, note: o.note ?? null, certificateFiles: o.certificate, now: new Date() })
        io.stdout(o.json === true ? `${toJson({ added: id, certificates: checksJson(checks) })}\n` : `gateway ${id} added${checksText(checks)}\n`)
        return EXIT_OK
      })
    }))
  gateway.command('certificates')
    .description('validate a registered gateway\'s new (e.g. renewed) TLS and SIG certificates and remember their signatures')
    .argument('<id>', 'gateway ID')
    .requiredOption('--config <file>', 'EMT configuration (JSON)')
    .requiredOption('--certificate <file>', ...CERTIFICATE_OPTION)
    .option('--json', 'machine-readable output')
    .addHelpText('after', `
The checks of \`gateway add --certificate\`, for a gateway that is registered already
(EMT_GATEWAY_UNKNOWN otherwise): after a certificate renewal, the gateway's next delivery then
costs no certificate signature check. A running receiver takes them up on SIGHUP.

Examples:
  smgw emt gateway certificates smgw-0001 --config emt.json --certificate tls.pem --certificate sig.pem
`)
    .action((id: string, o: ConfigOption & { certificate: string[] }) => run(async () => {
      return withRepository(io, o.config, async (repo, config, lib) => {
        const checks = await lib.rememberGatewayCertificates(repo, config, { id, certificateFiles: o.certificate, now: new Date() })
        io.stdout(o.json === true ? `${toJson({ gateway: id, certificates: checksJson(checks) })}\n` : `gateway ${id}: certificates remembered${checksText(checks)}\n`)
        return EXIT_OK
      })
    }))
  gateway.command('list')
    .description('list the registered gateways')
    .requiredOption('--config <file>', 'EMT configuration (JSON)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  smgw emt gateway list --config emt.json\n  smgw emt gateway list --config emt.json --json\n')
    .action((o: ConfigOption) => run(() => withRepository(io, o.config, async (repo) => {
      const gateways = await repo.listGateways()
      if (o.json === true) io.stdout(`${toJson({ gateways: gateways.map((g) => ({ ...g, addedAt: g.addedAt.toISOString() })) })}\n`)
      else io.stdout(gateways.length === 0 ? 'no gateways registered\n' : gateways.map((g) => `${g.id}\t${g.addedAt.toISOString()}${g.note === null ? '' : `\t${g.note}`}\n`).join(''))
      return EXIT_OK
    })))
  gateway.command('remove')
    .description('unregister a gateway (its stored messages stay)')
    .argument('<id>', 'gateway ID')
    .requiredOption('--config <file>', 'EMT configuration (JSON)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  smgw emt gateway remove smgw-0001 --config emt.json\n')
    .action((id: string, o: ConfigOption) => run(() => withRepository(io, o.config, async (repo) => {
      const removed = await repo.removeGateway(id)
      if (o.json === true) io.stdout(`${toJson({ removed: removed ? id : null })}\n`)
      else if (removed) io.stdout(`gateway ${id} removed\n`)
      else io.stderr(`smgw emt gateway remove: EMT_GATEWAY_UNKNOWN: gateway ${id} is not registered\n`)
      return removed ? EXIT_OK : EXIT_FAILED
    })))

  emt.command('prune')
    .description('apply retention now: delete the values (and, outside the replay window, the messages) of years over for retentionYears years')
    .requiredOption('--config <file>', 'EMT configuration (JSON)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', `
MsbG retention: a message whose period ended in year Y is deleted once year Y + retentionYears
(configuration, 1–3, default 3) is over, by the legal calendar (Europe/Berlin). Its row stays
while it is inside the replay window (replayWindowDays), so a replay is still recognised.
The receiver's remembered certificate signatures go once their certificate has expired.
\`smgw emt serve\` does the same at its start and every 24 h; this runs it by hand.

Examples:
  smgw emt prune --config emt.json
  smgw emt prune --config emt.json --json
`)
    .action((o: ConfigOption) => run(async () => {
      return withRepository(io, o.config, async (repo, config, lib) => {
        const r = await lib.applyRetention(repo, new Date(), config)
        const before = r.request.periodEndAtOrBefore.toISOString()
        io.stdout(o.json === true
          ? `${toJson({ pruned: { messages: r.messages, values: r.values, signatures: r.signatures, periodEndAtOrBefore: before } })}\n`
          : `retention (periods ended at or before ${before}): ${String(r.values)} values and ${String(r.messages)} messages deleted, ${String(r.signatures)} remembered signatures of expired certificates forgotten\n`)
        return EXIT_OK
      })
    }))

  emt.command('export')
    .description('export stored values as EDIFACT MSCONS, CSV or JSON')
    .requiredOption('--config <file>', 'EMT configuration (JSON)')
    .requiredOption('--format <format>', 'mscons, csv or json')
    .option('--metering-point <id>', 'only this metering point')
    .option('--obis <code>', 'only this OBIS code, e.g. 1-0:1.8.0*255')
    .option('--from <iso>', 'values with time after this instant (exclusive), e.g. 2026-11-23T00:00:00+01:00')
    .option('--to <iso>', 'values with time up to this instant (inclusive)')
    .option('--recipient <id>', 'MSCONS interchange recipient', 'ZZ')
    .option('--out <file>', 'write here instead of standard output')
    .addHelpText('after', `
A profile value's time is its interval end, so a legal day is --from <00:00> --to <24:00>.
MSCONS: one interchange, one message per metering point; mapping in packages/emt/README.md.

Examples:
  smgw emt export --config emt.json --format csv > all.csv
  smgw emt export --config emt.json --format mscons --metering-point p-3f9a01 --from 2026-11-23T00:00:00+01:00 --to 2026-11-24T00:00:00+01:00 --recipient 9900000000003 --out day.edi
`)
    .action((o: { config: string; format: string; meteringPoint?: string; obis?: string; from?: string; to?: string; recipient: string; out?: string }) => run(async () => {
      if (!['mscons', 'csv', 'json'].includes(o.format)) return usage(io, `--format: mscons, csv or json, not ${o.format}`)
      const from = o.from === undefined ? undefined : parseInstant(o.from)
      const to = o.to === undefined ? undefined : parseInstant(o.to)
      if (from === null || to === null) return usage(io, '--from/--to: an ISO 8601 instant with offset, e.g. 2026-11-23T00:00:00+01:00')
      return withRepository(io, o.config, async (repo, config, lib) => {
        const rows = await repo.queryValues({
          ...(o.meteringPoint === undefined ? {} : { meteringPoint: o.meteringPoint }), ...(o.obis === undefined ? {} : { obis: o.obis }),
          ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }),
        })
        const text = lib.formatExport(o.format as 'mscons' | 'csv' | 'json', rows, { sender: config.participantId, recipient: o.recipient, createdAt: new Date() })
        if (o.out === undefined) io.stdout(text)
        else await writeFile(o.out, text)
        return EXIT_OK
      })
    }))
}

function parseInstant(s: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(s)) return null
  const ms = Date.parse(s)
  return Number.isFinite(ms) ? new Date(ms) : null
}

function usage(io: CliIo, message: string): number {
  io.stderr(`smgw emt: ${message}\n`)
  return EXIT_USAGE
}

async function loadConfig(lib: EmtModule, io: CliIo, path: string): Promise<EmtConfig | undefined> {
  try {
    return await lib.readEmtConfig(path)
  } catch (err) {
    if (!(err instanceof lib.EmtError)) throw err
    io.stderr(`smgw emt: ${err.code}: ${err.message}\n`)
    return undefined
  }
}

type Repository = Awaited<ReturnType<EmtModule['openRepository']>>

/** `--certificate <file>` of `gateway add` and `gateway certificates`: description, collector, default. */
const CERTIFICATE_OPTION = [
  'the gateway\'s TLS or SIG certificate (PEM or DER; further certificates in the file may complete its path); repeatable',
  (v: string, all: string[]) => [...all, v],
  [] as string[],
] as const
type CertificateChecks = Awaited<ReturnType<EmtModule['registerGateway']>>

const checksJson = (checks: CertificateChecks) => checks.map((c) => ({ ...c, notAfter: c.notAfter.toISOString() }))
const checksText = (checks: CertificateChecks) => checks.map((c) => `\n  ${c.purpose} certificate ${c.serialHex} valid until ${c.notAfter.toISOString()}`).join('')

/** Loads the configuration at `path` (exit 2 when it is invalid), opens its store and runs `f` on it; an EmtError is printed with its code (exit 1). */
async function withRepository(io: CliIo, path: string, f: (repo: Repository, config: EmtConfig, lib: EmtModule) => Promise<number>): Promise<number> {
  const lib = await import('@smgw/emt')
  const config = await loadConfig(lib, io, path)
  if (config === undefined) return EXIT_USAGE
  let repo: Repository
  try {
    repo = await lib.openRepository(config.storage)
  } catch (err) {
    if (!(err instanceof lib.EmtError)) throw err
    io.stderr(`smgw emt: ${err.code}: ${err.message}\n`)
    return EXIT_FAILED
  }
  try {
    return await f(repo, config, lib)
  } catch (err) {
    if (!(err instanceof lib.EmtError)) throw err
    io.stderr(`smgw emt: ${err.code}: ${err.message}\n`)
    return EXIT_FAILED
  } finally {
    await repo.close()
  }
}

/** Runs until SIGINT/SIGTERM; SIGHUP reloads the CRLs. */
async function serve(lib: EmtModule, config: EmtConfig, io: CliIo, json: boolean, logLevel: string): Promise<number> {
  const { pino } = await import('pino')
  const logger = pino({ level: logLevel, base: { component: 'smgw-emt' } }, { write: (line: string) => { io.stderr(line) } })
  const receiver = lib.createEmtReceiver(config, { logger })
  let stop: () => void = () => undefined
  const stopped = new Promise<void>((resolve) => { stop = resolve })
  const onSignal = (): void => { stop() }
  const onHup = (): void => {
    receiver.reloadCrls().catch((err: unknown) => { logger.error({ event: 'crl-reload-failed', err }, 'CRL reload failed; the previous CRLs stay in force') })
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  process.on('SIGHUP', onHup)
  try {
    try {
      await receiver.start()
    } catch (err) {
      io.stderr(`smgw emt: could not start: ${err instanceof lib.EmtError ? `${err.code}: ` : ''}${err instanceof Error ? err.message : String(err)}\n`)
      return err instanceof lib.EmtError && err.code === 'EMT_CONFIG_INVALID' ? EXIT_USAGE : EXIT_FAILED
    }
    const ports = receiver.ports()
    const apiHost = config.api?.host
    io.stdout(json
      ? `${toJson({ event: 'listening', participantId: config.participantId, gatewayPort: ports.gateway, apiPort: ports.api ?? null })}\n`
      : `smgw emt: ${config.participantId} listening: gateways on ${config.listen.host}:${String(ports.gateway)} (mutual TLS)${ports.api === undefined ? '' : `, REST API on ${apiHost ?? ''}:${String(ports.api)}`}\n`)
    await stopped
    await receiver.close()
    io.stdout(json ? `${toJson({ event: 'stopped' })}\n` : 'smgw emt: stopped\n')
    return EXIT_OK
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('SIGHUP', onHup)
    await receiver.close()
  }
}

import { writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { CryptoError, decodeCertificates, decodePemOrDer } from '@smgw/crypto'
import type { LogChainInput, LogName, LogVerifyResult, Store, VerifyLogOptions } from '@smgw/gateway'
import type { CliIo } from '../io.js'
import type { CommandRun } from '../program.js'
import { EXIT_FAILED, EXIT_OK, UsageError } from '../exit.js'
import { toJson } from '../json.js'

const HELP = `
The gateway's three logs (BSI-CC-PP-0073): the system log (security events, GWA only), one
consumer log per consumer (every data flow and processing step) and the calibration log.
Each is a SHA-256 hash chain; the last entry of every legal day (Europe/Berlin) is signed
with the gateway's SIG key. FILE is a gateway store (SQLite) or a log export
(smgw-log-export/1, JSON lines); the kind is detected from the first bytes.

Verification names the first bad entry: its seq and a reason (HASH_MISMATCH, PREV_MISMATCH,
SEQ_GAP, SEQ_ORDER, TRUNCATED, HEAD_MISMATCH, HEAD_MISSING, BAD_SIGNATURE, CERT_MISMATCH,
CERT_UNKNOWN, CERT_INVALID, ENTRY_MALFORMED, HEAD_MALFORMED; packages/gateway/README.md).
Without --cert or --root the certificates inside FILE are used, which shows the file is
intact but not who wrote it ("trust: carried").

Exit status: 0 every chain verifies, 1 a chain does not (or FILE cannot be read), 2 usage error.

Examples:
  smgw log verify /var/lib/smgw/gateway.db --cert pki/gateways/smgw-0001/sig.cert.pem
  smgw log verify consumer-c-1.jsonl --root pki/root-ca/ca.cert.pem --chain pki/chain.pem --json
  smgw log export /var/lib/smgw/gateway.db --log consumer --consumer c-1 --out consumer-c-1.jsonl
  smgw log show consumer-c-1.jsonl
`

type Gateway = typeof import('@smgw/gateway')

/** The gateway package (better-sqlite3, zod) loads only when a log command runs. */
async function loadGateway(): Promise<Gateway> {
  return import('@smgw/gateway')
}

interface VerifyOptions { cert?: string; root: string[]; chain: string[]; crl: string[]; json?: boolean }

export function register(program: Command, io: CliIo, run: CommandRun): void {
  const log = program
    .command('log')
    .description('verify, export and show the gateway\'s tamper-evident logs (system, consumer, calibration)')
    .addHelpText('after', HELP)

  log.command('verify')
    .description('verify every hash chain and signed day head in a store or export; name the first bad entry')
    .argument('<file>', 'gateway store (SQLite) or log export (JSON lines)')
    .option('--cert <file>', 'the gateway SIG certificate (PEM or DER) the day heads must be signed under')
    .option('--root <file>', 'trusted root certificate(s): validate the SIG certificate path for purpose sig (repeatable)', collect, [])
    .option('--chain <file>', 'intermediate certificates for --root (repeatable)', collect, [])
    .option('--crl <file>', 'CRLs for --root (repeatable)', collect, [])
    .option('--json', 'print JSON: { ok, chains: [...] }')
    .addHelpText('after', `
Examples:
  smgw log verify gateway.db --cert sig.cert.pem
  smgw log verify export.jsonl --root root.pem --chain chain.pem --json
`)
    .action((file: string, o: VerifyOptions) => run(() => guarded(io, 'verify', async (gw) => {
      if (o.root.length === 0 && (o.chain.length > 0 || o.crl.length > 0)) throw new UsageError('--chain and --crl need --root')
      const options = await verifyOptions(io, o)
      const chains = await withSource(io, gw, file, (source) => source.chains().map((c) => gw.verifyLog(c, options)))
      const ok = chains.every((c) => c.ok)
      if (o.json === true) io.stdout(`${toJson({ ok, chains }, 2)}\n`)
      else {
        for (const c of chains) io.stdout(`${formatResult(c)}\n`)
        if (chains.length === 0) io.stdout('no log entries\n')
      }
      const bad = chains.find((c): c is Extract<LogVerifyResult, { ok: false }> => !c.ok)
      if (bad !== undefined) {
        io.stderr(`smgw log verify: ${chainName(bad)}: first bad entry ${bad.seq}: ${bad.reason}\n`)
        return EXIT_FAILED
      }
      return EXIT_OK
    })))

  log.command('export')
    .description('write one chain of a store as a log export a consumer can verify offline')
    .argument('<store>', 'gateway store (SQLite)')
    .requiredOption('--log <name>', 'consumer | system | calibration')
    .option('--consumer <id>', 'the consumer (required for --log consumer)')
    .option('--out <file>', 'write here (default: standard output)')
    .addHelpText('after', `
Examples:
  smgw log export gateway.db --log consumer --consumer c-1 --out c-1.jsonl
  smgw log export gateway.db --log system > system.jsonl
`)
    .action((store: string, o: { log: string; consumer?: string; out?: string }) => run(() => guarded(io, 'export', async (gw) => {
      const name = logName(o.log)
      if ((name === 'consumer') !== (o.consumer !== undefined)) throw new UsageError('--consumer ID goes with --log consumer, and only there')
      const text = await withSource(io, gw, store, (source) => {
        if (source.store === undefined) throw new UsageError(`${store} is already an export; export reads a gateway store`)
        const stream = o.consumer ?? ''
        if (!source.store.logRows.streams().some((s) => s.log === name && s.stream === stream)) throw new UsageError(`no ${name} log${o.consumer === undefined ? '' : ` for consumer ${o.consumer}`} in ${store}`)
        return gw.exportLog(source.store, name, stream)
      })
      if (o.out === undefined) io.stdout(text)
      else await writeFile(o.out, text)
      return EXIT_OK
    })))

  log.command('show')
    .description('list the entries of a store or export, day heads marked')
    .argument('<file>', 'gateway store (SQLite) or log export (JSON lines)')
    .option('--log <name>', 'only this log: consumer | system | calibration')
    .option('--consumer <id>', 'only this consumer\'s log')
    .option('--json', 'print JSON: one object per chain with its entries and heads')
    .addHelpText('after', `
Examples:
  smgw log show gateway.db --log system
  smgw log show c-1.jsonl --json
`)
    .action((file: string, o: { log?: string; consumer?: string; json?: boolean }) => run(() => guarded(io, 'show', async (gw) => {
      const only = o.log === undefined ? undefined : logName(o.log)
      const chains = await withSource(io, gw, file, (source) => source.chains().filter((c) =>
        (only === undefined || c.log === only) && (o.consumer === undefined || (c.log === 'consumer' && c.stream === o.consumer))))
      if (o.json === true) {
        io.stdout(`${toJson(chains.map((c) => ({ log: c.log, stream: c.stream, entries: c.entries.map(showEntry), heads: c.heads.map(showHead) })), 2)}\n`)
        return EXIT_OK
      }
      for (const c of chains) {
        io.stdout(`${c.log} log${c.stream === '' ? '' : ` of consumer ${c.stream}`}\n`)
        const heads = new Map(c.heads.map((h) => [Number(h.seq), h]))
        for (const e of c.entries) {
          io.stdout(`  ${String(e.seq).padStart(6)}  ${String(e.time)}  ${String(e.type)}  ${formatFields(e.fields)}\n`)
          const h = heads.get(Number(e.seq))
          if (h !== undefined) io.stdout(`          ── day ${String(h.day)} signed at ${String(h.signed_at)}\n`)
        }
      }
      if (chains.length === 0) io.stdout('no log entries\n')
      return EXIT_OK
    })))
}

interface Source {
  readonly store: Store | undefined
  chains(): LogChainInput[]
}

/** Opens FILE as a store (read-only) or decodes it as an export, runs `use`, closes. */
async function withSource<T>(io: CliIo, gw: Gateway, file: string, use: (source: Source) => T): Promise<T> {
  const bytes = await io.readFile(file)
  if (gw.detectLogSource(bytes) === 'export') {
    const chain = gw.decodeLogExport(bytes)
    return use({ store: undefined, chains: () => [chain] })
  }
  const store = gw.openStore(file, { now: () => new Date() }, { readonly: true })
  try {
    return use({ store, chains: () => store.logRows.streams().map((s) => gw.readLogChain(store, s.log as LogName, s.stream)) })
  } finally {
    store.close()
  }
}

async function verifyOptions(io: CliIo, o: VerifyOptions): Promise<VerifyLogOptions> {
  const certs = async (files: string[]) => (await Promise.all(files.map(async (f) => decodeCertificates(await io.readFile(f))))).flat().map((c) => c.der)
  let certificate: Uint8Array | undefined
  if (o.cert !== undefined) {
    certificate = (await certs([o.cert]))[0]
    if (certificate === undefined) throw new UsageError(`no certificate in ${o.cert}`)
  }
  const crls = (await Promise.all(o.crl.map(async (f) => decodePemOrDer(await io.readFile(f), ['X509 CRL'], 'CERT_MALFORMED')))).flat()
  return {
    ...(certificate === undefined ? {} : { certificate }),
    ...(o.root.length === 0 ? {} : { roots: await certs(o.root), intermediates: await certs(o.chain), crls }),
  }
}

function logName(text: string): LogName {
  if (text === 'consumer' || text === 'system' || text === 'calibration') return text
  throw new UsageError(`--log: consumer, system or calibration, not '${text}'`)
}

function chainName(r: LogVerifyResult): string {
  return `${r.log} log${r.stream === '' ? '' : ` of consumer ${r.stream}`}`
}

function formatResult(r: LogVerifyResult): string {
  if (!r.ok) return `${chainName(r)}: FAILED at entry ${r.seq}: ${r.reason}: ${r.detail}`
  const trust = { path: 'certificate path validated', given: 'signed under the given certificate', carried: 'signed under the certificate in the file (not checked against a trust anchor)', none: 'no signed day yet' }[r.trust]
  // A range export (read-log sinceSeq) starts at firstSeq; its anchor head covers what came before.
  const first = r.firstSeq ?? 1
  const last = first + r.entries - 1
  const signed = Math.max(r.signedThrough, first - 1)
  const unsigned = last - signed
  const tail = unsigned <= 0 ? '' : unsigned === 1 ? `; entry ${last} not signed yet` : `; entries ${signed + 1}…${last} not signed yet`
  const range = first === 1 ? '' : ` (entries ${first}…${last}, anchored by the signed head before them)`
  return `${chainName(r)}: ok, ${r.entries} entries${range}, ${r.heads} signed day heads, ${trust}${tail}`
}

function formatFields(fields: unknown): string {
  try {
    const parsed = JSON.parse(String(fields)) as Record<string, unknown>
    return Object.entries(parsed).map(([k, v]) => `${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`).join(' ')
  } catch {
    return String(fields)
  }
}

function showEntry(e: Readonly<Record<string, unknown>>): unknown {
  let fields: unknown = e.fields
  try {
    fields = JSON.parse(String(e.fields))
  } catch { /* shown as stored */ }
  return { seq: e.seq, time: e.time, type: e.type, fields, prev: e.prev, hash: e.hash }
}

function showHead(h: Readonly<Record<string, unknown>>): unknown {
  return { seq: h.seq, kind: h.kind, day: h.day, hash: h.hash, signedAt: h.signed_at, signature: h.signature, certRef: h.cert_ref }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

/** A GatewayError (file not readable as a store or export), a CryptoError (certificate file) or a missing file is a failed input: exit 1 with its code. */
async function guarded(io: CliIo, name: string, action: (gw: Gateway) => Promise<number>): Promise<number> {
  const gw = await loadGateway()
  try {
    return await action(gw)
  } catch (err) {
    if (err instanceof gw.GatewayError || err instanceof CryptoError) {
      io.stderr(`smgw log ${name}: ${err.code}: ${err.message}\n`)
      return EXIT_FAILED
    }
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') {
      io.stderr(`smgw log ${name}: ${err.message}\n`)
      return EXIT_FAILED
    }
    throw err
  }
}

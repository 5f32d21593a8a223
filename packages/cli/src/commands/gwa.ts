import { readFile, stat, writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import type { GwaConfig } from '@smgw/gwa'
import type { CliIo } from '../io.js'
import type { CommandRun } from '../program.js'
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../exit.js'
import { toJson } from '../json.js'

/*
 * `smgw gwa`: the administrator's head-end. `serve` runs it; every operator command talks to
 * its REST API (address and token from the same configuration file, or --url and
 * SMGW_GWA_API_TOKEN). Why not the inventory directly: only the running service holds the
 * GWA's SIG key and signs commands and wake-ups; the operator's shell needs no key, and the
 * same commands work for a SQLite or a PostgreSQL inventory and from another host (behind a
 * TLS proxy).
 */

const TOKEN_ENV = 'SMGW_GWA_API_TOKEN'
/** The parts a `profile` command may name (docs/admin-protocol.md). */
const PROFILE_PARTS: readonly string[] = ['meters', 'tariffs', 'communication', 'time', 'cls']

const EXAMPLE_CONFIG = `{
  "gwaId": "gwa",
  "listen": { "host": "0.0.0.0", "port": 8445 },
  "tls": { "certificate": "pki/gwa/tls.cert.pem", "key": "pki/gwa/tls.key.pem", "chain": ["pki/sub-ca-emt/ca.cert.pem"] },
  "sig": { "certificate": "pki/gwa/sig.cert.pem", "key": "pki/gwa/sig.key.pem", "chain": ["pki/sub-ca-emt/ca.cert.pem"] },
  "ca": { "certificate": "pki/sub-ca-gw/ca.cert.pem", "key": "pki/sub-ca-gw/ca.key.pem" },
  "pki": { "roots": ["pki/root-ca/ca.cert.pem"], "intermediates": ["pki/chain.pem"], "crls": ["pki/crl/sub-ca-gw.crl.pem"] },
  "storage": { "sqlite": "gwa.db" },
  "api": { "host": "127.0.0.1", "port": 8446, "tokenFile": "gwa-api-token" }
}`

const HELP = `
The gateway administrator's head-end (GWA, TR-03109-1/-6; docs/admin-protocol.md). Gateways
connect to its mutual-TLS admin server (TLS 1.2, SM-PKI; with their operational TLS or their
Gütesiegel certificate) after a signed UDP wake-up or on their own schedule; each session
hands them the signed commands queued for them and takes their results. CSRs in a result are
signed with the gateway sub-CA ("ca") and installed in the same session. A gateway opening
sessions faster than "sessionRateLimit" allows (default 12 a minute) is answered 429 with
Retry-After. The inventory is SQLite ("storage": {"sqlite": FILE}) or PostgreSQL
({"postgres": "postgres://…"}).

The operator commands below talk to the running service's REST API ("api", loopback by
default, bearer token from "api.tokenFile" or ${TOKEN_ENV}); --url overrides the address.
Add --wake to a queueing command to wake the gateway at once.

Example configuration (samples/gwa.json, relative paths from the file's folder):
${EXAMPLE_CONFIG}

Exit status: 0 done, 1 failed (the reason is printed with its code), 2 usage or configuration error.

Examples:
  smgw gwa serve --config gwa.json
  smgw gwa register smgw-0001 --wake-up 192.0.2.10:4059 --config gwa.json
  smgw gwa deploy smgw-0001 --profile profile.json --wake --config gwa.json
  smgw gwa renew smgw-0001 --kinds tls,sig,enc --wake --config gwa.json
  smgw gwa firmware add pkg.json --config gwa.json && smgw gwa firmware rollout smgw-0001 1.3.0 --config gwa.json
  smgw gwa log pull smgw-0001 --wake --config gwa.json; smgw gwa log get 1 --out system.log --config gwa.json
  smgw gwa status --config gwa.json --json
  smgw gwa meter-keys smgw-0001 --keys meter-keys.json --wake --config gwa.json
  smgw gwa requests --open --config gwa.json; smgw gwa answer smgw-0001 3 --state done --note "Deleted." --config gwa.json
`

type GwaModule = typeof import('@smgw/gwa')

interface Connection { readonly config?: string; readonly url?: string; readonly json?: boolean }
interface WakeOption { readonly wake?: boolean }

class CliFailure extends Error {
  constructor(readonly code: string, message: string, readonly usage = false) { super(message) }
}

async function loadConfig(lib: GwaModule, path: string): Promise<GwaConfig> {
  try {
    return await lib.readGwaConfig(path)
  } catch (err) {
    if (err instanceof lib.GwaError) throw new CliFailure(err.code, err.message, true)
    throw err
  }
}

/** Where the API is and its token: --url, else the configuration's api section; the token from api.tokenFile, else the environment. */
async function connect(o: Connection): Promise<{ base: string; token: string }> {
  let base = o.url
  let tokenFile: string | undefined
  if (o.config !== undefined) {
    const config = await loadConfig(await import('@smgw/gwa'), o.config)
    if (config.api === undefined && base === undefined) throw new CliFailure('GWA_CONFIG_INVALID', `${o.config} has no "api" section`, true)
    if (config.api !== undefined) {
      const host = config.api.host === '0.0.0.0' ? '127.0.0.1' : config.api.host === '::' ? '::1' : config.api.host
      base ??= `http://${host.includes(':') ? `[${host}]` : host}:${String(config.api.port)}`
      tokenFile = config.api.tokenFile
    }
  }
  if (base === undefined) throw new CliFailure('GWA_CONFIG_INVALID', 'give --config FILE or --url URL', true)
  const token = tokenFile === undefined ? process.env[TOKEN_ENV] : (await readFile(tokenFile, 'utf8').catch(() => { throw new CliFailure('GWA_CONFIG_INVALID', `cannot read ${tokenFile}`, true) })).trim()
  if (token === undefined || token === '') throw new CliFailure('GWA_CONFIG_INVALID', `no API token: api.tokenFile or ${TOKEN_ENV}`, true)
  return { base: base.replace(/\/$/, ''), token }
}

async function call(o: Connection, method: string, path: string, body?: unknown, raw?: { type: string; bytes: Uint8Array }): Promise<unknown> {
  const { base, token } = await connect(o)
  let res: Response
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(raw !== undefined ? { 'content-type': raw.type } : body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(raw !== undefined ? { body: new Uint8Array(raw.bytes) } : body === undefined ? {} : { body: JSON.stringify(body) }),
    })
  } catch (err) {
    throw new CliFailure('GWA_UNREACHABLE', `${base}: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)} (is 'smgw gwa serve' running?)`)
  }
  if (res.headers.get('content-type')?.startsWith('application/octet-stream') === true) return new Uint8Array(await res.arrayBuffer())
  const text = await res.text()
  let parsed: unknown
  try { parsed = JSON.parse(text) } catch { parsed = { code: 'GWA_BAD_ANSWER', message: text.slice(0, 200) } }
  if (!res.ok) {
    const e = parsed as { code?: string; message?: string }
    throw new CliFailure(e.code ?? `HTTP_${String(res.status)}`, e.message ?? `HTTP ${String(res.status)}`)
  }
  return parsed
}

export function register(program: Command, io: CliIo, run: CommandRun): void {
  const gwa = program.command('gwa')
    .description('the gateway administrator\'s head-end: mutual-TLS admin sessions, signed commands and wake-ups, certificates, firmware, meter keys, consumer requests, REST API')
    .addHelpText('after', HELP)

  /** Runs an operator action; prints its text or JSON; maps failures to the exit status. */
  const act = (o: Connection, f: () => Promise<{ json: unknown; text: string }>) => run(async () => {
    try {
      const out = await f()
      io.stdout(o.json === true ? `${toJson(out.json)}\n` : out.text)
      return EXIT_OK
    } catch (err) {
      if (!(err instanceof CliFailure)) throw err
      io.stderr(o.json === true ? `${toJson({ error: { code: err.code, message: err.message } })}\n` : `smgw gwa: ${err.code}: ${err.message}\n`)
      return err.usage ? EXIT_USAGE : EXIT_FAILED
    }
  })
  const withConnection = (c: Command): Command => c
    .option('--config <file>', 'GWA configuration (JSON): the REST API address and token file')
    .option('--url <url>', 'REST API base URL (default from --config), e.g. http://127.0.0.1:8446')
    .option('--json', 'machine-readable output')
  const queueText = (r: { command: { type: string; sequence: number; commandId: string }; version?: number; wakeUp?: { counter: number; address: string }; wakeUpError?: { code: string; message: string } }) =>
    `${r.command.type} queued for sequence ${String(r.command.sequence)} (command ${r.command.commandId})${r.version === undefined ? '' : `, configuration version ${String(r.version)}`}\n` +
    (r.wakeUp === undefined ? '' : `wake-up ${String(r.wakeUp.counter)} sent to ${r.wakeUp.address}\n`) +
    (r.wakeUpError === undefined ? '' : `wake-up failed: ${r.wakeUpError.code}: ${r.wakeUpError.message} (the command waits for the next session)\n`)
  const queue = (o: Connection & WakeOption, id: string, body: Record<string, unknown>) => act(o, async () => {
    const r = await call(o, 'POST', `/v1/gateways/${encodeURIComponent(id)}/commands`, { ...body, ...(o.wake === true ? { wake: true } : {}) }) as Parameters<typeof queueText>[0]
    return { json: r, text: queueText(r) }
  })
  const readJsonFile = async (path: string, what: string): Promise<Record<string, unknown>> => {
    try {
      const value: unknown = JSON.parse(await readFile(path, 'utf8'))
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object')
      return value as Record<string, unknown>
    } catch (err) {
      throw new CliFailure('GWA_REQUEST_INVALID', `${what} ${path}: ${err instanceof Error ? err.message : String(err)}`, true)
    }
  }

  gwa.command('serve')
    .description('run the head-end until SIGTERM/SIGINT (SIGHUP re-reads the CRL files)')
    .requiredOption('--config <file>', 'GWA configuration (JSON)')
    .option('--json', 'status lines as JSON objects')
    .option('--log-level <level>', 'pino log level of the JSON log on standard error (silent, error, warn, info, debug)', 'info')
    .addHelpText('after', `
Prints the bound ports once listening (standard output), then logs every session, command
result and refusal as JSON lines on standard error. The REST API token comes from
api.tokenFile or the environment variable ${TOKEN_ENV} (at least 16 characters).

Examples:
  smgw gwa serve --config gwa.json
  ${TOKEN_ENV}=$(cat token) smgw gwa serve --config gwa.json --json --log-level warn
`)
    .action((o: { config: string; json?: boolean; logLevel: string }) => run(async () => {
      if (!['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'].includes(o.logLevel)) {
        io.stderr(`smgw gwa: --log-level: silent, error, warn, info or debug, not ${o.logLevel}\n`)
        return EXIT_USAGE
      }
      const lib = await import('@smgw/gwa')
      let config: GwaConfig
      try {
        config = await loadConfig(lib, o.config)
      } catch (err) {
        if (!(err instanceof CliFailure)) throw err
        io.stderr(`smgw gwa: ${err.code}: ${err.message}\n`)
        return EXIT_USAGE
      }
      return serve(lib, config, io, o.json === true, o.logLevel)
    }))

  withConnection(gwa.command('register'))
    .description('add a gateway to the inventory (its certificates must name it: CN=<id>)')
    .argument('<id>', 'gateway ID, e.g. smgw-0001')
    .option('--wake-up <host:port>', 'the gateway\'s UDP wake-up address')
    .option('--note <text>', 'a note (location, contract)')
    .addHelpText('after', '\nExamples:\n  smgw gwa register smgw-0001 --wake-up 192.0.2.10:4059 --config gwa.json\n')
    .action((id: string, o: Connection & { wakeUp?: string; note?: string }) => act(o, async () => {
      const r = await call(o, 'POST', '/v1/gateways', { id, ...(o.wakeUp === undefined ? {} : { wakeUpAddress: o.wakeUp }), ...(o.note === undefined ? {} : { note: o.note }) }) as { gateway: { id: string } }
      return { json: r, text: `gateway ${r.gateway.id} registered\n` }
    }))

  withConnection(gwa.command('status'))
    .description('fleet status, or one gateway with its certificates, profile versions and pending commands')
    .argument('[id]', 'one gateway')
    .addHelpText('after', '\nExamples:\n  smgw gwa status --config gwa.json\n  smgw gwa status smgw-0001 --config gwa.json --json\n')
    .action((id: string | undefined, o: Connection) => act(o, async () => {
      if (id === undefined) {
        const r = await call(o, 'GET', '/v1/gateways') as { gateways: GatewayJson[] }
        const lines = r.gateways.map((g) => `${g.id}\t${g.state}\tfirmware ${g.firmwareVersion ?? '-'}\tprofile v${String(g.profileVersion)}\tlast contact ${g.lastContactAt ?? 'never'}\n`)
        return { json: r, text: lines.length === 0 ? 'no gateways registered\n' : lines.join('') }
      }
      const r = await call(o, 'GET', `/v1/gateways/${encodeURIComponent(id)}`) as { gateway: GatewayJson; pendingCommands: number; openRequests: number; profiles: { version: number; state: string }[] }
      const g = r.gateway
      return {
        json: r,
        text: `${g.id}: ${g.state}, firmware ${g.firmwareVersion ?? '-'}, profile v${String(g.profileVersion)}, last contact ${g.lastContactAt ?? 'never'}, wake-up ${g.wakeUpAddress ?? '-'}\n` +
          g.certificates.map((c) => `  ${c.kind} ${c.source} serial ${c.serial} until ${c.notAfter}\n`).join('') +
          `  profile versions: ${r.profiles.map((p) => `v${String(p.version)} ${p.state}`).join(', ') || 'none'}\n  pending commands: ${String(r.pendingCommands)}\n` +
          `  open consumer requests: ${String(r.openRequests)}\n`,
      }
    }))

  withConnection(gwa.command('revoke'))
    .description('take a gateway out of service: its sessions are refused, nothing more is queued')
    .argument('<id>', 'gateway ID')
    .action((id: string, o: Connection) => act(o, async () => {
      const r = await call(o, 'PATCH', `/v1/gateways/${encodeURIComponent(id)}`, { state: 'revoked' })
      return { json: r, text: `gateway ${id} revoked\n` }
    }))

  withConnection(gwa.command('wake'))
    .description('send a signed wake-up to the gateway (UDP; counter + 1, stored first)')
    .argument('<id>', 'gateway ID')
    .action((id: string, o: Connection) => act(o, async () => {
      const r = await call(o, 'POST', `/v1/gateways/${encodeURIComponent(id)}/wake`) as { wakeUp: { counter: number; address: string } }
      return { json: r, text: `wake-up ${String(r.wakeUp.counter)} sent to ${r.wakeUp.address}\n` }
    }))

  withConnection(gwa.command('deploy'))
    .description('deploy a profile: a new configuration version (meters, tariffs, communication, time, cls)')
    .argument('<id>', 'gateway ID')
    .requiredOption('--profile <file>', 'JSON object with any of "meters", "tariffs", "communication", "time", "cls" (sections of the gateway configuration; "cls": null removes the CLS section)')
    .option('--wake', 'wake the gateway right away')
    .addHelpText('after', '\nParts not named stay as in the active version on the gateway.\n\nExamples:\n  smgw gwa deploy smgw-0001 --profile profile.json --wake --config gwa.json\n')
    .action((id: string, o: Connection & WakeOption & { profile: string }) => act(o, async () => {
      const profile = await readJsonFile(o.profile, 'profile')
      const unknown = Object.keys(profile).filter((k) => !PROFILE_PARTS.includes(k))
      if (unknown.length > 0) throw new CliFailure('GWA_REQUEST_INVALID', `profile ${o.profile}: unknown part(s) ${unknown.join(', ')}; allowed: ${PROFILE_PARTS.join(', ')}`, true)
      const r = await call(o, 'POST', `/v1/gateways/${encodeURIComponent(id)}/commands`, { type: 'profile', ...profile, ...(o.wake === true ? { wake: true } : {}) }) as Parameters<typeof queueText>[0]
      return { json: r, text: queueText(r) }
    }))

  withConnection(gwa.command('rollback'))
    .description('re-apply an earlier configuration version the gateway applied')
    .argument('<id>', 'gateway ID')
    .argument('<version>', 'the configuration version to go back to')
    .option('--wake', 'wake the gateway right away')
    .action((id: string, version: string, o: Connection & WakeOption) => {
      if (!/^[1-9]\d{0,8}$/.test(version)) return run(() => { io.stderr('smgw gwa: version: a positive integer\n'); return EXIT_USAGE })
      return queue(o, id, { type: 'rollback-profile', version: Number(version) })
    })

  withConnection(gwa.command('renew'))
    .description('new keys and certificates: the gateway sends CSRs, the GWA signs them with its gateway sub-CA and installs them')
    .argument('<id>', 'gateway ID')
    .option('--kinds <list>', 'comma-separated tls,sig,enc', 'tls,sig,enc')
    .option('--wake', 'wake the gateway right away')
    .action((id: string, o: Connection & WakeOption & { kinds: string }) => {
      const kinds = o.kinds.split(',').map((k) => k.trim()).filter((k) => k !== '')
      if (kinds.length === 0 || kinds.some((k) => !['tls', 'sig', 'enc'].includes(k)) || new Set(kinds).size !== kinds.length) {
        return run(() => { io.stderr('smgw gwa: --kinds: a comma-separated subset of tls,sig,enc\n'); return EXIT_USAGE })
      }
      return queue(o, id, { type: 'generate-csr', kinds })
    })

  withConnection(gwa.command('crls'))
    .description('send the GWA\'s current CRLs to the gateway (update-crls)')
    .argument('<id>', 'gateway ID')
    .option('--wake', 'wake the gateway right away')
    .action((id: string, o: Connection & WakeOption) => queue(o, id, { type: 'update-crls' }))

  withConnection(gwa.command('time'))
    .description('set the gateway\'s time source (the "time" section of its configuration)')
    .argument('<id>', 'gateway ID')
    .requiredOption('--time <file>', 'JSON object: the time section')
    .option('--wake', 'wake the gateway right away')
    .action((id: string, o: Connection & WakeOption & { time: string }) => act(o, async () => {
      const time = await readJsonFile(o.time, 'time section')
      const r = await call(o, 'POST', `/v1/gateways/${encodeURIComponent(id)}/commands`, { type: 'set-time-source', time, ...(o.wake === true ? { wake: true } : {}) }) as Parameters<typeof queueText>[0]
      return { json: r, text: queueText(r) }
    }))

  withConnection(gwa.command('taf'))
    .description('run an on-demand tariff use case now (TAF 6 readings, TAF 9 actual values)')
    .argument('<id>', 'gateway ID')
    .requiredOption('--profile <id>', 'the tariff profile on the gateway')
    .requiredOption('--use-case <n>', '6 or 9')
    .option('--wake', 'wake the gateway right away')
    .action((id: string, o: Connection & WakeOption & { profile: string; useCase: string }) => {
      if (o.useCase !== '6' && o.useCase !== '9') return run(() => { io.stderr('smgw gwa: --use-case: 6 or 9\n'); return EXIT_USAGE })
      return queue(o, id, { type: 'taf-request', profileId: o.profile, useCase: Number(o.useCase) })
    })

  withConnection(gwa.command('commands'))
    .description('a gateway\'s commands with their state and results')
    .argument('<id>', 'gateway ID')
    .option('--state <state>', 'reserved, queued, sent, done or failed')
    .action((id: string, o: Connection & { state?: string }) => act(o, async () => {
      const r = await call(o, 'GET', `/v1/gateways/${encodeURIComponent(id)}/commands${o.state === undefined ? '' : `?state=${encodeURIComponent(o.state)}`}`) as { commands: { sequence: number; type: string; state: string; commandId: string; result: unknown }[] }
      return { json: r, text: r.commands.map((c) => `${String(c.sequence)}\t${c.type}\t${c.state}\t${c.commandId}${c.result === null ? '' : `\t${JSON.stringify(c.result).slice(0, 200)}`}\n`).join('') || 'no commands\n' }
    }))

  withConnection(gwa.command('meter-keys'))
    .description('send wireless meters\' AES keys to the gateway, sealed to its ENC certificate (only its security module can open them)')
    .argument('<id>', 'gateway ID')
    .requiredOption('--keys <file>', 'JSON {"keyId": "32 hex digits", …} — the shape of the gateway\'s --keys file; mode 0600 or stricter')
    .option('--replace', 'the gateway may overwrite key IDs it holds already (else it refuses them: KEYS_INVALID)')
    .option('--wake', 'wake the gateway right away')
    .addHelpText('after', `
The GWA seals the keys (CMS, AES-128-GCM) to the ENC certificate it issued for the serial the
gateway last reported and signs the command; it keeps no key in clear. A gateway without such
a certificate is refused with GWA_NO_ENC_CERTIFICATE: renew it first (smgw gwa renew ID --kinds enc).
Key IDs: 1–64 characters A–Z a–z 0–9 . _ - (not "pseudonym", the gateway's own secret).
A keys file readable by group or others is refused (KEYS_PERMISSIONS), as the gateway does.

Examples:
  smgw gwa meter-keys smgw-0001 --keys meter-keys.json --wake --config gwa.json
`)
    .action((id: string, o: Connection & WakeOption & { keys: string; replace?: boolean }) => act(o, async () => {
      let text: string
      try {
        // The keys are secret: refuse a file others can read, as the gateway's --keys does (KEYS_PERMISSIONS).
        const st = await stat(o.keys)
        if ((st.mode & 0o077) !== 0) throw new CliFailure('KEYS_PERMISSIONS', `the key file ${o.keys} has mode ${(st.mode & 0o777).toString(8)}; it must not be readable by group or others (chmod 600)`, true)
        text = await readFile(o.keys, 'utf8')
      } catch (err) {
        if (err instanceof CliFailure) throw err
        throw new CliFailure('GWA_REQUEST_INVALID', `cannot read the key file ${o.keys}: ${err instanceof Error ? err.message : String(err)}`, true)
      }
      let keys: unknown
      try { keys = JSON.parse(text) } catch { throw new CliFailure('GWA_REQUEST_INVALID', `the key file ${o.keys} is not JSON`, true) }
      const r = await call(o, 'POST', `/v1/gateways/${encodeURIComponent(id)}/commands`, {
        type: 'meter-keys', keys, ...(o.replace === true ? { replace: true } : {}), ...(o.wake === true ? { wake: true } : {}),
      }) as Parameters<typeof queueText>[0] & { keyIds: string[] }
      return { json: r, text: `${queueText(r)}key IDs: ${r.keyIds.join(', ')}\n` }
    }))

  withConnection(gwa.command('requests'))
    .description('the consumers\' requests (deletion, rectification, objection, tariff choice) the gateways reported')
    .argument('[id]', 'one gateway (default: the whole fleet)')
    .option('--open', 'only requests still open (received, pending, in-progress)')
    .addHelpText('after', `
Requests come with each admin session's report and are kept when they leave it, with their last
known state; an answer shows once the gateway confirmed it. Answer with smgw gwa answer.

Examples:
  smgw gwa requests --open --config gwa.json
  smgw gwa requests smgw-0001 --config gwa.json --json
`)
    .action((id: string | undefined, o: Connection & { open?: boolean }) => act(o, async () => {
      const query = o.open === true ? '?open=true' : ''
      const r = await call(o, 'GET', id === undefined ? `/v1/requests${query}` : `/v1/gateways/${encodeURIComponent(id)}/requests${query}`) as { requests: RequestJson[] }
      const lines = r.requests.map((q) => `${q.gatewayId}\t${String(q.requestId)}\t${q.kind}\t${q.state}\t${q.consumer}\t${q.createdAt}\t${q.text}` +
        `${q.answer === null ? '' : `\tanswered ${q.answer.at}: ${q.answer.note}`}${q.inLastReport ? '' : '\t(no longer reported)'}\n`)
      return { json: r, text: lines.length === 0 ? (o.open === true ? 'no open requests\n' : 'no requests\n') : lines.join('') }
    }))

  withConnection(gwa.command('answer'))
    .description('answer a consumer\'s request: the gateway sets its state and shows the note to the consumer')
    .argument('<id>', 'gateway ID')
    .argument('<request>', 'the request ID (smgw gwa requests)')
    .requiredOption('--state <state>', 'done, rejected or in-progress')
    .requiredOption('--note <text>', 'one line for the consumer (at most 1000 characters)')
    .option('--wake', 'wake the gateway right away')
    .addHelpText('after', '\nExamples:\n  smgw gwa answer smgw-0001 3 --state done --note "Your data is deleted." --wake --config gwa.json\n')
    .action((id: string, request: string, o: Connection & WakeOption & { state: string; note: string }) => {
      if (!/^[1-9]\d{0,15}$/.test(request)) return run(() => { io.stderr('smgw gwa: request: a positive integer (smgw gwa requests lists them)\n'); return EXIT_USAGE })
      if (!['done', 'rejected', 'in-progress'].includes(o.state)) return run(() => { io.stderr(`smgw gwa: --state: done, rejected or in-progress, not ${o.state}\n`); return EXIT_USAGE })
      return queue(o, id, { type: 'answer-request', requestId: Number(request), state: o.state, note: o.note })
    })

  withConnection(gwa.command('cls'))
    .description('open a CLS channel for a market participant: the gateway connects its controllable device to the EMT\'s CLS endpoint (cls-open, queued and the gateway woken)')
    .argument('<id>', 'gateway ID')
    .requiredOption('--device <id>', 'the device ID of the gateway\'s cls section')
    .requiredOption('--emt <id>', 'the market participant the device is paired with')
    .requiredOption('--endpoint <url>', 'the EMT\'s CLS endpoint, https://HOST:PORT (smgw emt cls serve|limit)')
    .option('--timeout <s>', 'longest the channel stays open, seconds (the gateway cuts it to its maxTimeoutS)', '900')
    .addHelpText('after', '\nThe gateway must have the device in its cls section (a profile\'s "cls" part, smgw gwa deploy).\n\nExamples:\n  smgw gwa cls smgw-0001 --device hp-1 --emt emt-1 --endpoint https://emt-1.example:8445 --timeout 600 --config gwa.json\n')
    .action((id: string, o: Connection & { device: string; emt: string; endpoint: string; timeout: string }) => {
      if (!/^[1-9]\d{0,4}$/.test(o.timeout) || Number(o.timeout) > 86_400) return run(() => { io.stderr(`smgw gwa: --timeout: whole seconds from 1 to 86400, not ${o.timeout}\n`); return EXIT_USAGE })
      return act(o, async () => {
        const r = await call(o, 'POST', `/v1/gateways/${encodeURIComponent(id)}/cls`, { deviceId: o.device, emtId: o.emt, endpoint: o.endpoint, timeoutS: Number(o.timeout) }) as Parameters<typeof queueText>[0]
        return { json: r, text: queueText(r) }
      })
    })

  const firmware = gwa.command('firmware').description('firmware packages (signed by the manufacturer; the gateway verifies them)')
  withConnection(firmware.command('add'))
    .description('add a package file (smgw firmware pack makes one)')
    .argument('<file>', 'smgw-firmware-package/1 file')
    .action((file: string, o: Connection) => act(o, async () => {
      let bytes: Uint8Array
      try { bytes = await io.readFile(file) } catch (err) { throw new CliFailure('GWA_REQUEST_INVALID', `${file}: ${err instanceof Error ? err.message : String(err)}`, true) }
      const r = await call(o, 'POST', '/v1/firmware', undefined, { type: 'application/octet-stream', bytes }) as { firmware: { name: string; version: string } }
      return { json: r, text: `firmware ${r.firmware.name} ${r.firmware.version} added\n` }
    }))
  withConnection(firmware.command('list'))
    .description('the known packages')
    .action((o: Connection) => act(o, async () => {
      const r = await call(o, 'GET', '/v1/firmware') as { firmware: { name: string; version: string; size: number; addedAt: string }[] }
      return { json: r, text: r.firmware.map((f) => `${f.version}\t${f.name}\t${String(f.size)} bytes\t${f.addedAt}\n`).join('') || 'no firmware packages\n' }
    }))
  withConnection(firmware.command('rollout'))
    .description('send a known package to a gateway (it verifies, switches, health-checks, rolls back on failure)')
    .argument('<id>', 'gateway ID')
    .argument('<version>', 'the package version (x.y.z) from `smgw gwa firmware list`')
    .option('--wake', 'wake the gateway right away')
    .action((id: string, version: string, o: Connection & WakeOption) => queue(o, id, { type: 'firmware', version }))

  const log = gwa.command('log').description('the gateway\'s system log (the GWA has no access to the calibration or consumer logs)')
  withConnection(log.command('pull'))
    .description('queue a read-log of the system log')
    .argument('<id>', 'gateway ID')
    .option('--since <seq>', 'only entries after this sequence number')
    .option('--wake', 'wake the gateway right away')
    .action((id: string, o: Connection & WakeOption & { since?: string }) => {
      if (o.since !== undefined && !/^\d{1,15}$/.test(o.since)) return run(() => { io.stderr('smgw gwa: --since: a non-negative integer\n'); return EXIT_USAGE })
      return queue(o, id, { type: 'read-log', ...(o.since === undefined ? {} : { sinceSeq: Number(o.since) }) })
    })
  withConnection(log.command('list'))
    .description('the exports pulled from a gateway')
    .argument('<id>', 'gateway ID')
    .action((id: string, o: Connection) => act(o, async () => {
      const r = await call(o, 'GET', `/v1/gateways/${encodeURIComponent(id)}/logs`) as { logs: { id: number; receivedAt: string; bytes: number; sha256: string }[] }
      return { json: r, text: r.logs.map((l) => `${String(l.id)}\t${l.receivedAt}\t${String(l.bytes)} bytes\tsha256 ${l.sha256}\n`).join('') || 'no log exports\n' }
    }))
  withConnection(log.command('get'))
    .description('write one export to a file (smgw log verify reads it)')
    .argument('<export-id>', 'from `smgw gwa log list`')
    .requiredOption('--out <file>', 'where to write it')
    .action((exportId: string, o: Connection & { out: string }) => act(o, async () => {
      if (!/^[1-9]\d{0,15}$/.test(exportId)) throw new CliFailure('GWA_REQUEST_INVALID', 'export ID: a positive integer', true)
      const bytes = await call(o, 'GET', `/v1/logs/${exportId}`)
      if (!(bytes instanceof Uint8Array)) throw new CliFailure('GWA_BAD_ANSWER', 'the API did not send the export')
      await writeFile(o.out, bytes)
      return { json: { exportId: Number(exportId), bytes: bytes.length, out: o.out }, text: `${String(bytes.length)} bytes written to ${o.out}\n` }
    }))
}

interface RequestJson {
  gatewayId: string; requestId: number; kind: string; state: string; consumer: string; createdAt: string; text: string; inLastReport: boolean
  answer: { state: string; note: string; at: string } | null
}

interface GatewayJson {
  id: string; state: string; firmwareVersion: string | null; profileVersion: number; lastContactAt: string | null; wakeUpAddress: string | null
  certificates: { kind: string; serial: string; notAfter: string; source: string }[]
}

/** Runs until SIGINT/SIGTERM; SIGHUP reloads the CRLs. */
async function serve(lib: GwaModule, config: GwaConfig, io: CliIo, json: boolean, logLevel: string): Promise<number> {
  const { pino } = await import('pino')
  const logger = pino({ level: logLevel, base: { component: 'smgw-gwa' } }, { write: (line: string) => { io.stderr(line) } })
  const token = process.env[TOKEN_ENV]
  const service = lib.createGwa(config, { logger, ...(token === undefined ? {} : { apiToken: token }) })
  let stop: () => void = () => undefined
  const stopped = new Promise<void>((resolve) => { stop = resolve })
  const onSignal = (): void => { stop() }
  const onHup = (): void => {
    service.reloadCrls().catch((err: unknown) => { logger.error({ event: 'crl-reload-failed', err }, 'CRL reload failed; the previous CRLs stay in force') })
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  process.on('SIGHUP', onHup)
  try {
    try {
      await service.start()
    } catch (err) {
      io.stderr(`smgw gwa: could not start: ${err instanceof lib.GwaError ? `${err.code}: ` : ''}${err instanceof Error ? err.message : String(err)}\n`)
      return err instanceof lib.GwaError && err.code === 'GWA_CONFIG_INVALID' ? EXIT_USAGE : EXIT_FAILED
    }
    const ports = service.ports()
    io.stdout(json
      ? `${toJson({ event: 'listening', gwaId: config.gwaId, adminPort: ports.admin, apiPort: ports.api ?? null })}\n`
      : `smgw gwa: ${config.gwaId} listening: gateways on ${config.listen.host}:${String(ports.admin)} (mutual TLS)${ports.api === undefined ? '' : `, REST API on ${config.api?.host ?? ''}:${String(ports.api)}`}\n`)
    await stopped
    await service.close()
    io.stdout(json ? `${toJson({ event: 'stopped' })}\n` : 'smgw gwa: stopped\n')
    return EXIT_OK
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('SIGHUP', onHup)
    await service.close()
  }
}

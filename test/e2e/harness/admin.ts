// What the administration tests share: the GWA head-end as a process (`smgw gwa serve` on the
// demo PKI of `smgw pki init`, SQLite) with its operator side (the `smgw gwa …` commands and the
// same REST API), the `admin` part of an administered gateway's configuration, and reading a
// stopped gateway's system log. Relative paths in the written configurations are taken from
// the configuration file's folder, as the programs do.
import { createSocket } from 'node:dgram'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openStore, readLogChain } from '@smgw/gateway'
import { expect } from 'vitest'
import { runSmgw, type SmgwProcess } from './processes.js'

/** `smgw ARGS…` must exit 0; its standard output. */
export async function smgwOk(args: readonly string[]): Promise<string> {
  const r = await runSmgw(args)
  expect(r.status, `smgw ${args.join(' ')}\n${r.stderr}`).toBe(0)
  return r.stdout
}

/** One JSON line of `smgw gwa serve --json` (its status lines and pino events). */
export interface GwaLine {
  readonly event?: string
  readonly gateway?: string
  readonly type?: string
  readonly ok?: boolean
  readonly code?: string | null
  readonly reason?: string
  readonly openRequests?: number
}

/** A command as `GET /v1/gateways/{id}/commands` shows it. */
export interface GwaCommand {
  readonly type: string
  readonly state: string
  readonly sequence: number
  readonly result: Record<string, unknown> | null
}

export interface GwaHeadEnd {
  readonly process: SmgwProcess
  readonly config: string
  readonly adminPort: number
  /** The REST API's base URL (the configuration says port 0; this is the bound one). */
  readonly url: string
  /** `smgw gwa ARGS… --url URL --config FILE` must exit 0; its standard output. */
  readonly op: (args: readonly string[]) => Promise<string>
  /** A REST call with the bearer token; the JSON answer. */
  readonly api: (path: string, init?: RequestInit) => Promise<{ status: number; body: unknown }>
  /** A REST POST that must succeed (2xx). */
  readonly post: (path: string, body: unknown) => Promise<void>
  readonly commands: (gatewayId: string) => Promise<GwaCommand[]>
  readonly lines: () => readonly GwaLine[]
  /** The `result` events of the gateway's commands of `type`, in arrival order. */
  readonly results: (gatewayId: string, type: string) => GwaLine[]
  /** The `contact` events (one per admin session) of the gateway. */
  readonly contacts: (gatewayId: string) => GwaLine[]
  /** Resolves once `n` results of `type` arrived; on a timeout the error shows the GWA's commands and lines and `diagnostics()`. */
  readonly waitResult: (gatewayId: string, type: string, n: number, timeoutMs: number, diagnostics?: () => string) => Promise<void>
  /** The n-th (0-based) result of `type` succeeded; otherwise the GWA's record of it names why. */
  readonly expectOk: (gatewayId: string, type: string, n: number) => Promise<void>
}

/**
 * Writes `<dir>/gwa.json` (the demo PKI at `pkiFromDir`, relative to `dir`; SQLite `gwa.db`;
 * REST API on loopback with `token` in `api-token`, mode 0600); the configuration's path.
 */
export async function writeGwaConfig(dir: string, o: { readonly pkiFromDir: string; readonly token: string }): Promise<string> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'api-token'), o.token, { mode: 0o600 })
  const config = join(dir, 'gwa.json')
  const p = (...parts: string[]) => join(o.pkiFromDir, ...parts)
  await writeFile(config, JSON.stringify({
    gwaId: 'gwa',
    listen: { host: '127.0.0.1', port: 0 },
    tls: { certificate: p('gwa', 'tls.cert.pem'), key: p('gwa', 'tls.key.pem'), chain: [p('sub-ca-emt', 'ca.cert.pem')] },
    sig: { certificate: p('gwa', 'sig.cert.pem'), key: p('gwa', 'sig.key.pem'), chain: [p('sub-ca-emt', 'ca.cert.pem')] },
    ca: { certificate: p('sub-ca-gw', 'ca.cert.pem'), key: p('sub-ca-gw', 'ca.key.pem') },
    pki: { roots: [p('root-ca', 'ca.cert.pem')], intermediates: [p('chain.pem')], crls: [p('crl', 'sub-ca-gw.crl.pem')] },
    storage: { sqlite: 'gwa.db' },
    api: { host: '127.0.0.1', port: 0, tokenFile: 'api-token' },
  }))
  return config
}

/**
 * The operator's side of a started `smgw gwa serve --config CONFIG --json` (the caller starts
 * and tracks the process, so it is killed whatever happens here): waits for its `listening`
 * line and talks to the REST API at the bound port.
 */
export async function connectGwa(gwa: SmgwProcess, o: { readonly config: string; readonly token: string; readonly waitMs: number }): Promise<GwaHeadEnd> {
  const { config } = o
  await gwa.waitFor(() => gwa.json.some((l) => l.event === 'listening'), o.waitMs, 'listening line')
  const listening = gwa.json.find((l) => l.event === 'listening')!
  const url = `http://127.0.0.1:${String(listening.apiPort)}`
  const api = async (path: string, init?: RequestInit): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/json' } })
    return { status: res.status, body: await res.json() }
  }
  const commands = async (gatewayId: string): Promise<GwaCommand[]> => ((await api(`/v1/gateways/${gatewayId}/commands`)).body as { commands: GwaCommand[] }).commands
  const lines = () => gwa.json as readonly GwaLine[]
  const results = (gatewayId: string, type: string) => lines().filter((l) => l.event === 'result' && l.gateway === gatewayId && l.type === type)
  return {
    process: gwa,
    config,
    adminPort: listening.adminPort as number,
    url,
    op: (args) => smgwOk(['gwa', ...args, '--url', url, '--config', config]),
    api,
    async post(path, body) {
      const r = await api(path, { method: 'POST', body: JSON.stringify(body) })
      expect(r.status, `POST ${path}: ${JSON.stringify(r.body)}`).toBeLessThan(300)
    },
    commands,
    lines,
    results,
    contacts: (gatewayId) => lines().filter((l) => l.event === 'contact' && l.gateway === gatewayId),
    async waitResult(gatewayId, type, n, timeoutMs, diagnostics) {
      try {
        await gwa.waitFor(() => results(gatewayId, type).length >= n, timeoutMs, `${String(n)} ${type} result(s)`)
      } catch (err) {
        const recent = gwa.json.slice(-12).map((l) => JSON.stringify(l).slice(0, 400)).join('\n')
        const queued = (await commands(gatewayId)).map((c) => `${c.type} ${c.state} ${JSON.stringify(c.result).slice(0, 200)}`).join('\n')
        throw new Error(`${(err as Error).message}\nGWA commands:\n${queued}\nGWA:\n${recent}${diagnostics === undefined ? '' : `\n${diagnostics()}`}`, { cause: err })
      }
    },
    async expectOk(gatewayId, type, n) {
      if (results(gatewayId, type)[n]?.ok === true) return
      expect.fail(`${type} #${String(n)} failed: ${JSON.stringify((await commands(gatewayId)).filter((c) => c.type === type)[n])}`)
    },
  }
}

/**
 * The `admin` section of a fresh gateway administered by the GWA of the demo PKI: only its
 * Gütesiegel identity (`pki/gateways/<id>/gs.*`), a wake-up listener on 127.0.0.1:`wakeUpPort`,
 * no scheduled sessions and none at start (each session is woken by the test).
 */
export function adminSection(o: { readonly pkiFromDir: string; readonly gatewayId: string; readonly endpoint: string; readonly wakeUpPort: number }): Record<string, unknown> {
  const p = (...parts: string[]) => join(o.pkiFromDir, ...parts)
  const gs = p('gateways', o.gatewayId)
  return {
    endpoint: o.endpoint,
    gwaCertificate: p('gwa', 'sig.cert.pem'),
    manufacturerCertificate: p('manufacturer', 'sig.cert.pem'),
    trust: { roots: [p('root-ca', 'ca.cert.pem')], intermediates: [p('sub-ca-emt', 'ca.cert.pem'), p('sub-ca-gw', 'ca.cert.pem'), p('sub-ca-gs', 'ca.cert.pem')] },
    initialIdentity: { key: join(gs, 'gs.key.pem'), certificate: join(gs, 'gs.cert.pem'), chain: [p('sub-ca-gs', 'ca.cert.pem')] },
    stateDir: 'admin-state',
    wakeUp: { host: '127.0.0.1', port: o.wakeUpPort },
    pollIntervalS: 0,
    contactAtStart: false,
    firmware: { dir: 'firmware', healthTimeoutS: 30 },
  }
}

/** A system-log entry with its fields parsed. */
export interface SystemLogEntry {
  readonly type: string
  readonly fields: Record<string, unknown>
}

/** The system log entries of a stopped gateway's store, in chain order. */
export function systemLog(file: string): SystemLogEntry[] {
  const store = openStore(file, { now: () => new Date() }, { readonly: true })
  try {
    return readLogChain(store, 'system', '').entries.map((e) => ({
      type: String(e.type), fields: (typeof e.fields === 'string' ? JSON.parse(e.fields) : e.fields) as Record<string, unknown>,
    }))
  } finally {
    store.close()
  }
}

/** Wall-clock marks of the steps (printed at the end: where the time of a slow run went). */
export function createTimeline(): { mark(step: string): void; text(): string } {
  const start = Date.now()
  const marks: string[] = []
  return {
    mark(step) { marks.push(`${((Date.now() - start) / 1000).toFixed(1).padStart(6)} s  ${step}`) },
    text: () => marks.join('\n'),
  }
}

/** A free UDP port on 127.0.0.1 (bound, read, released). */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve) => { socket.bind(0, '127.0.0.1', resolve) })
  const port = socket.address().port
  await new Promise<void>((resolve) => { socket.close(resolve) })
  return port
}

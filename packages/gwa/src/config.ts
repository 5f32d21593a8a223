import { readFile } from 'node:fs/promises'
import { dirname, isAbsolute, resolve } from 'node:path'
import { z } from 'zod'
import { GwaError } from './errors.js'

/*
 * The head-end's configuration: validated once, at the edge, by a strict schema (unknown
 * keys are errors, each problem named by its path). Paths in a configuration file are taken
 * relative to that file's folder (`readGwaConfig`). Nothing below reads process.env; the CLI
 * passes an API token from the environment as a dependency.
 */

const identifier = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, '1–64 characters A–Z a–z 0–9 . _ : -')
const file = z.string().min(1)
const port = z.int().min(0).max(65_535)

/** A certificate with its private key (PEM files) and the sub-CA certificates sent with it. */
const Identity = z.strictObject({ certificate: file, key: file, chain: z.array(file).default([]) })

export const GwaStorageConfig = z.union([
  /** SQLite file (WAL): the default, one process. */
  z.strictObject({ sqlite: file }),
  /** PostgreSQL connection string (`postgres://user@host:port/db`): for a large fleet or several head-end processes. */
  z.strictObject({ postgres: z.string().min(1) }),
])
export type GwaStorageConfig = z.infer<typeof GwaStorageConfig>

export const GwaConfig = z.strictObject({
  /** This administrator's ID: the `gwaId` of every wake-up. */
  gwaId: identifier.default('gwa'),
  /** The gateway-facing mutual-TLS admin server (gateways connect here after a wake-up or on their schedule). */
  listen: z.strictObject({ host: z.string().min(1).default('0.0.0.0'), port: port.default(8445) }).prefault({}),
  /** Our TLS identity (SM-PKI TLS certificate with serverAuth; its subject is what gateways check). */
  tls: Identity,
  /** Our SIG identity: signs every command and wake-up (TR-03109-1: the GWA's signature key). */
  sig: Identity,
  /**
   * The gateway sub-CA (demo: sub-ca-gw) with which the GWA turns its gateways' CSRs into
   * operational certificates. Absent: CSR results are stored, no certificates are issued.
   */
  ca: z.strictObject({ certificate: file, key: file }).optional(),
  /** SM-PKI trust for client certificates and renewal requests: root(s), intermediates (sub-CAs incl. the manufacturer's), CRLs. */
  pki: z.strictObject({
    roots: z.array(file).min(1),
    intermediates: z.array(file).default([]),
    crls: z.array(file).default([]),
    requireCrl: z.boolean().default(false),
  }),
  storage: GwaStorageConfig,
  /** Largest admin request body (a results post carries log exports). */
  maxBodyBytes: z.int().min(1024).max(256 * 1024 * 1024).default(64 * 1024 * 1024),
  /** Most commands handed out in one session answer (the gateway asks again after its results). */
  maxCommandsPerAnswer: z.int().min(1).max(1000).default(32),
  /**
   * Admin sessions one gateway may open (token bucket per gateway ID, checked before the report
   * is read): `perMinute` in the long run (12), `burst` back to back (default `perMinute`).
   * Faster ones are answered 429 with Retry-After; results posts may come 16 times as often
   * (a session has up to 16 rounds).
   */
  sessionRateLimit: z.strictObject({ perMinute: z.int().min(1).max(100_000).default(12), burst: z.int().min(1).max(100_000).optional() }).prefault({}),
  /** Validity of the certificates the GWA issues from CSRs, in days (default: @smgw/pki defaultValidity, 2 years). */
  certificateValidityDays: z.int().min(1).max(3650).optional(),
  /**
   * The operator REST API: plain HTTP on its own listener, loopback by default (it queues
   * signed commands and reads log exports: it belongs on the operator's host, never on the
   * WAN the gateways reach). Every request needs `Authorization: Bearer <token>` — the token
   * file's content or, in the CLI, SMGW_GWA_API_TOKEN (at least 16 characters).
   */
  api: z.strictObject({ host: z.string().min(1).default('127.0.0.1'), port: port.default(8446), tokenFile: file.optional() }).optional(),
})
export type GwaConfig = z.infer<typeof GwaConfig>
export type GwaConfigInput = z.input<typeof GwaConfig>

/** Validates a configuration object; GWA_CONFIG_INVALID names every problem by its path. */
export function parseGwaConfig(input: unknown): GwaConfig {
  const r = GwaConfig.safeParse(input)
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.length === 0 ? '(top level)' : i.path.map(String).join('.')}: ${i.message}`)
    throw new GwaError('GWA_CONFIG_INVALID', `invalid GWA configuration: ${problems.join('; ')}`, { cause: r.error })
  }
  return Object.freeze(r.data)
}

/** Reads, validates and freezes a JSON configuration file; relative paths are taken from its folder. */
export async function readGwaConfig(path: string): Promise<GwaConfig> {
  let json: unknown
  try {
    json = JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new GwaError('GWA_CONFIG_INVALID', `cannot read configuration ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  return resolveGwaConfigPaths(parseGwaConfig(json), dirname(path))
}

/** The same configuration with every relative file path taken from `base`. */
export function resolveGwaConfigPaths(config: GwaConfig, base: string): GwaConfig {
  const p = (f: string) => (isAbsolute(f) ? f : resolve(base, f))
  const identity = (i: GwaConfig['tls']) => ({ certificate: p(i.certificate), key: p(i.key), chain: i.chain.map(p) })
  return Object.freeze({
    ...config,
    tls: identity(config.tls),
    sig: identity(config.sig),
    ...(config.ca === undefined ? {} : { ca: { certificate: p(config.ca.certificate), key: p(config.ca.key) } }),
    pki: { ...config.pki, roots: config.pki.roots.map(p), intermediates: config.pki.intermediates.map(p), crls: config.pki.crls.map(p) },
    storage: 'sqlite' in config.storage ? { sqlite: p(config.storage.sqlite) } : config.storage,
    ...(config.api === undefined ? {} : { api: { ...config.api, ...(config.api.tokenFile === undefined ? {} : { tokenFile: p(config.api.tokenFile) }) } }),
  })
}

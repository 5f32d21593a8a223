import { readFile } from 'node:fs/promises'
import { dirname, isAbsolute, resolve } from 'node:path'
import { TLS_CURVE_NAMES } from '@smgw/pki'
import { z } from 'zod'
import { EmtError } from './errors.js'

/*
 * The receiver's configuration: validated once, at the edge, by a strict schema (unknown
 * keys are errors, each problem named by its path). Paths in a configuration file are taken
 * relative to that file's folder (`readEmtConfig`). Nothing below reads process.env.
 */

const identifier = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, '1–64 characters A–Z a–z 0–9 . _ : -')
const file = z.string().min(1)
const port = z.int().min(0).max(65_535)

/** Where a private key (ENC, TLS) lives: a security module (production) or a PEM file (demos). */
export const PrivateKeyConfig = z.union([
  z.strictObject({ file }),
  z.strictObject({
    softwareModule: z.strictObject({ dir: file, passphraseFile: file, scryptLogN: z.int().min(10).max(22).optional() }),
    label: z.string().min(1),
  }),
  z.strictObject({
    pkcs11: z.strictObject({ library: file, tokenLabel: z.string().min(1), pinFile: file }),
    label: z.string().min(1),
  }),
])
export type PrivateKeyConfig = z.infer<typeof PrivateKeyConfig>
/** The ENC key's place (the name of earlier releases). */
export const EncKeyConfig = PrivateKeyConfig
export type EncKeyConfig = PrivateKeyConfig

export const StorageConfig = z.union([
  /** SQLite file (WAL): the default, one process. */
  z.strictObject({ sqlite: file }),
  /** PostgreSQL connection string (`postgres://user@host:port/db`): for scale. */
  z.strictObject({ postgres: z.string().min(1) }),
])
export type StorageConfig = z.infer<typeof StorageConfig>

export const EmtConfig = z.strictObject({
  /** This market participant's ID: the `recipient` every accepted message must name. */
  participantId: identifier,
  /** The gateway-facing mutual-TLS listener. */
  listen: z.strictObject({ host: z.string().min(1).default('0.0.0.0'), port: port.default(8443) }).prefault({}),
  /**
   * Our TLS identity (SM-PKI TLS certificate with serverAuth, PEM files). The key: a PEM file's
   * path, or like `enc.key` (a token's key stays on the token: OpenSSL signs through its pkcs11 engine).
   */
  tls: z.strictObject({
    certificate: file, key: z.union([file, PrivateKeyConfig]), chain: z.array(file).default([]),
    /**
     * The ECDHE groups this server accepts, in its order of preference (TR-03109-3 allows each;
     * default: brainpool first). `["prime256v1", "brainpoolP256r1", …]` makes every full handshake
     * with a gateway that offers P-256 do its ephemeral key exchange on P-256, which OpenSSL does
     * several times faster than brainpool (packages/emt/README.md, Performance).
     */
    ecdhCurves: z.array(z.enum(TLS_CURVE_NAMES)).min(1).refine((c) => new Set(c).size === c.length, 'each curve once').optional(),
  }),
  /** Our ENC certificate and its private key; messages are encrypted to it. */
  enc: z.strictObject({ certificate: file, key: EncKeyConfig }),
  /** SM-PKI trust: root(s), optional intermediates, CRL files (re-read by `reloadCrls`, SIGHUP in the CLI). */
  pki: z.strictObject({
    roots: z.array(file).min(1),
    intermediates: z.array(file).default([]),
    crls: z.array(file).default([]),
    requireCrl: z.boolean().default(false),
  }),
  storage: StorageConfig,
  /** Messages created longer ago than this are REPLAYED; messageIds are kept at least this long (forever, in fact). */
  replayWindowDays: z.number().positive().max(3650).default(30),
  /**
   * Retention (MsbG, DOMAIN.md "Retention"): stored values are deleted at the latest this many
   * years after the end of their year (legal time), at the receiver's start and every 24 h.
   */
  retentionYears: z.int().min(1).max(3).default(3),
  /** Largest accepted request body (the CMS bytes). */
  maxBodyBytes: z.int().min(1024).max(64 * 1024 * 1024).default(20 * 1024 * 1024),
  /**
   * The REST API (metering points, values, messages, exports): plain HTTP on its own
   * listener, loopback by default, every request with `Authorization: Bearer <token>`
   * (the token file's content, at least 16 characters). Absent: no API listener.
   */
  api: z.strictObject({ host: z.string().min(1).default('127.0.0.1'), port: port.default(8444), tokenFile: file }).optional(),
  /**
   * Gateway-facing worker processes (node:cluster, one shared listening socket). 1: the
   * receiver runs in this process. N > 1: N workers each run the intake with their own store
   * connection (SQLite WAL with busy_timeout, or PostgreSQL); this process keeps the REST API.
   */
  workers: z.int().min(1).max(64).default(1),
  /**
   * How many gateway certificates (TLS and SIG leaves) each receiver process keeps decoded with
   * their verified signatures: a gateway returning the next day costs no certificate signature
   * check while it is remembered (validity and CRLs are checked on every message). Two per
   * gateway of the fleet; about 5 kB of memory each, per worker.
   */
  certificateCache: z.int().min(0).max(1_000_000).default(10_000),
  /**
   * TLS 1.2 session resumption with session tickets (RFC 5077): a gateway that delivered within
   * the session lifetime (48 h, TR-03116-3) resumes without the six elliptic-curve operations of
   * a full handshake. Ticket keys are random per receiver start, shared by its workers, never
   * written anywhere; the client certificate is validated again on every connection.
   */
  sessionTickets: z.boolean().default(true),
})
export type EmtConfig = z.infer<typeof EmtConfig>
export type EmtConfigInput = z.input<typeof EmtConfig>

/** Validates a configuration object; EMT_CONFIG_INVALID names every problem by its path. */
export function parseEmtConfig(input: unknown): EmtConfig {
  const r = EmtConfig.safeParse(input)
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.length === 0 ? '(top level)' : i.path.map(String).join('.')}: ${i.message}`)
    throw new EmtError('EMT_CONFIG_INVALID', `invalid EMT configuration: ${problems.join('; ')}`, { cause: r.error })
  }
  return Object.freeze(r.data)
}

/** Reads, validates and freezes a JSON configuration file; relative paths are taken from its folder. */
export async function readEmtConfig(path: string): Promise<EmtConfig> {
  let json: unknown
  try {
    json = JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new EmtError('EMT_CONFIG_INVALID', `cannot read configuration ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  return resolveEmtConfigPaths(parseEmtConfig(json), dirname(path))
}

/** The same configuration with every relative file path taken from `base`. */
export function resolveEmtConfigPaths(config: EmtConfig, base: string): EmtConfig {
  const p = (f: string) => (isAbsolute(f) ? f : resolve(base, f))
  const keyPaths = (key: PrivateKeyConfig): PrivateKeyConfig => 'file' in key
    ? { file: p(key.file) }
    : 'softwareModule' in key
      ? { ...key, softwareModule: { ...key.softwareModule, dir: p(key.softwareModule.dir), passphraseFile: p(key.softwareModule.passphraseFile) } }
      : { ...key, pkcs11: { ...key.pkcs11, pinFile: p(key.pkcs11.pinFile) } }
  const tlsKey = config.tls.key
  return Object.freeze({
    ...config,
    tls: { ...config.tls, certificate: p(config.tls.certificate), key: typeof tlsKey === 'string' ? p(tlsKey) : keyPaths(tlsKey), chain: config.tls.chain.map(p) },
    enc: { certificate: p(config.enc.certificate), key: keyPaths(config.enc.key) },
    pki: { ...config.pki, roots: config.pki.roots.map(p), intermediates: config.pki.intermediates.map(p), crls: config.pki.crls.map(p) },
    storage: 'sqlite' in config.storage ? { sqlite: p(config.storage.sqlite) } : config.storage,
    ...(config.api === undefined ? {} : { api: { ...config.api, tokenFile: p(config.api.tokenFile) } }),
  })
}

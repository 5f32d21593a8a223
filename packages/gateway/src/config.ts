import { stat, readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import { WakeUpConfig } from './admin/wakeup.js'
import { GatewayError } from './errors.js'
import { ClsConfig } from './cls/config.js'
import { HanConfig } from './han/config.js'
import { LOG_ID } from './log/entries.js'
import { RetentionConfig } from './retention/policy.js'
import { TimeConfig } from './time/config.js'
import { DeliveryRecipient, DeliveryRetry } from './wan/delivery.js'

/*
 * The gateway configuration (`smgw gateway --config gateway.json`), validated once at the
 * edge with strict schemas (unknown keys refused, defaults filled in), then frozen.
 *
 * Meter keys are never in this file: a wireless meter names a key ID, looked up in a
 * separate key file (JSON `{ "keyId": "32 hex digits" }`, mode 0600). The security module
 * replaces the key file when the admin issue lands; the key ID stays the reference.
 */

const id = z.string().regex(LOG_ID, 'an identifier: 1–64 characters A–Z a–z 0–9 . _ : -')
const port = z.int().min(1).max(65_535)
const portOrZero = z.int().min(0).max(65_535)
const host = z.string().min(1).max(253)
const path = z.string().min(1)

export const SerialTransport = z.strictObject({ serial: z.strictObject({
  path,
  baudRate: z.int().min(300).max(921_600).default(9600),
  /** wM-Bus sticks in raw frame mode: frames with (A) or without ('none') the link-layer block CRCs. */
  frameCrc: z.enum(['none', 'A']).default('none'),
}) })
export const TcpTransport = z.strictObject({ tcp: z.strictObject({ host, port }) })
/** Where the gateway listens for wM-Bus datagrams (port 0: any free port, for tests). */
export const UdpTransport = z.strictObject({ udp: z.strictObject({ host: host.default('127.0.0.1'), port: portOrZero }) })
/** Replay of a capture: SML bytes as read from the line, or wM-Bus frames one after another (L-field framing). */
export const FileTransport = z.strictObject({ file: path })
export const LmnTransport = z.union([SerialTransport, TcpTransport, UdpTransport, FileTransport])
export type LmnTransport = z.infer<typeof LmnTransport>

const common = {
  /** The meter ID as stored with its readings and named in the logs. */
  id,
  /** Expected interval between two transmissions, seconds. */
  intervalS: z.number().positive().max(86_400),
  /** Missed intervals after which the meter counts as silent (calibration log, status). */
  silentAfterMissed: z.int().min(1).max(1000).default(3),
  /** The consumer whose consumer log records what is done with this meter's readings. */
  consumer: id.optional(),
}

/*
 * Where the wireless M-Bus meter keys are held: a security module (README "Meter keys");
 * absent: the --keys file. The passphrase or PIN comes from an environment variable (named
 * here) or a file (mode 0600), never from the configuration itself.
 */
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name')
const softwareModule = { dir: path, scryptLogN: z.int().min(10).max(22).optional() }
const pkcs11Module = { library: path.optional(), tokenLabel: z.string().min(1).max(32) }
export const MeterKeysConfig = z.strictObject({
  securityModule: z.union([
    z.strictObject({ software: z.union([z.strictObject({ ...softwareModule, passphraseEnv: envName }), z.strictObject({ ...softwareModule, passphraseFile: path })]) }),
    z.strictObject({ pkcs11: z.union([z.strictObject({ ...pkcs11Module, pinEnv: envName }), z.strictObject({ ...pkcs11Module, pinFile: path })]) }),
  ]),
})
export type MeterKeysConfig = z.infer<typeof MeterKeysConfig>

export const SmlMeterConfig = z.strictObject({
  ...common,
  kind: z.literal('sml'),
  transport: z.union([SerialTransport, TcpTransport, FileTransport]),
  /** Real-meter deviations undone by @smgw/sml extractReadings (see its README). */
  quirks: z.strictObject({
    signedPositivePower: z.boolean().default(false),
    unsignedNegativePower: z.boolean().default(false),
  }).default({ signedPositivePower: false, unsignedNegativePower: false }),
})

export const WmbusMeterConfig = z.strictObject({
  ...common,
  kind: z.literal('wmbus'),
  transport: z.union([SerialTransport, UdpTransport, FileTransport]),
  /** The meter's M-Bus identification number (8 digits, EN 13757-4 link address). */
  mbusId: z.string().regex(/^\d{8}$/, '8 decimal digits'),
  /** Key ID in the key file (AES-128 key of security modes 5 and 7); absent for unencrypted meters. */
  keyId: id.optional(),
})

export const MeterConfig = z.discriminatedUnion('kind', [SmlMeterConfig, WmbusMeterConfig])
export type MeterConfig = z.infer<typeof MeterConfig>
export type SmlMeterConfig = z.infer<typeof SmlMeterConfig>
export type WmbusMeterConfig = z.infer<typeof WmbusMeterConfig>

/** SM-PKI trust: root(s), intermediates, CRLs (TR-03109-4); the shape of `wan.trust` and `admin.trust`. */
export const TrustConfig = z.strictObject({
  roots: z.array(path).min(1),
  intermediates: z.array(path).default([]),
  crls: z.array(path).default([]),
  requireCrl: z.boolean().default(false),
})
export type TrustConfig = z.infer<typeof TrustConfig>

/**
 * Administration by the GWA (docs/admin-protocol.md): where the GWA is, how it is recognised
 * (the subject DN of `gwaCertificate`, chaining to `trust`), the gateway's manufacturer (Gütesiegel)
 * identity until operational certificates are installed, and where the administered state lives.
 */
export const AdminConfig = z.strictObject({
  /** The GWA's admin server; the gateway connects only here (TR-03109-1: the gateway is always the TLS client). */
  endpoint: z.url({ protocol: /^https$/, error: 'an https:// URL' }),
  /** Any certificate of the GWA: its subject DN is the GWA identity (signer of wake-ups and commands, TLS server). */
  gwaCertificate: path,
  /** The manufacturer's SIG certificate: its subject signs firmware manifests; absent: no firmware updates. */
  manufacturerCertificate: path.optional(),
  trust: TrustConfig,
  /** The Gütesiegel (gs) key, certificate and chain the gateway was delivered with (TR-03109-4 initial certificate). */
  initialIdentity: z.strictObject({ key: path, certificate: path, chain: z.array(path).default([]) }),
  /** Configuration versions, identity files, firmware slots (docs/admin-protocol.md "Configuration versions"). */
  stateDir: path,
  /** The UDP wake-up listener, the only port the gateway listens on in the WAN (admin/wakeup.ts; defaults as in the contract). */
  wakeUp: WakeUpConfig.prefault({}),
  /** Seconds between scheduled sessions; 0: only on wake-up (and at start). */
  pollIntervalS: z.int().min(0).max(30 * 86_400).default(86_400),
  /** Open a session at start (reason 'start'). */
  contactAtStart: z.boolean().default(true),
  /** Oldest accepted `issuedAt` of a command, s (default 7 days). */
  commandMaxAgeS: z.int().min(1).max(365 * 86_400).default(604_800),
  requestTimeoutMs: z.int().min(1).max(600_000).default(30_000),
  /** Firmware slots (docs/admin-protocol.md "Firmware package"); absent: `firmware` commands are UNSUPPORTED. */
  firmware: z.strictObject({ dir: path, healthTimeoutS: z.int().min(1).max(3600).default(30) }).optional(),
})
export type AdminConfig = z.infer<typeof AdminConfig>

export const GatewayConfig = z.strictObject({
  /** The gateway's identity (its ID in the SM-PKI, e.g. the certificate subject's serial). */
  gatewayId: id,
  store: z.strictObject({ path }),
  /**
   * The gateway's SIG key (signs the log day heads and every message) and its certificate (PEM
   * or DER): a label in the security module of `meterKeys` (the key never leaves it, TR-03109-2),
   * or a PKCS#8/SEC 1 PEM file for demos and tests.
   */
  logs: z.union([
    z.strictObject({ sigKeyLabel: id, sigCertificate: path }),
    z.strictObject({ sigKey: path, sigCertificate: path }),
  ]),
  /** Readings are committed in batches: at most `maxReadings`, at most `maxDelayMs` after the first. */
  batch: z.strictObject({
    maxReadings: z.int().min(1).max(100_000).default(500),
    maxDelayMs: z.int().min(0).max(60_000).default(200),
  }).default({ maxReadings: 500, maxDelayMs: 200 }),
  meters: z.array(MeterConfig).max(10_000),
  /** Retention periods per data class (README "Retention"); absent: the defaults, which always apply. */
  retention: RetentionConfig.optional(),
  /** Legal time: the NTP server the administrator set and the drift rules (README "Legal time"); absent: no time service. */
  time: TimeConfig.optional(),
  /** Tariff use cases (README "Tariff use cases"): the profile file (until the administrator sets profiles); needs `wan`. */
  tariffs: z.strictObject({ profiles: path }).optional(),
  /** WAN delivery (README "WAN delivery"): the gateway's TLS identity, the SM-PKI trust and the recipients. */
  wan: z.strictObject({
    /**
     * The gateway's TLS key and certificate; `chain`: certificates sent after it (the gateway
     * sub-CA). The key: a PKCS#8/SEC 1 PEM file (`key`), or a key in the security module
     * (`keyLabel`, meterKeys.securityModule; a token's key reaches OpenSSL through its pkcs11 engine).
     */
    tls: z.union([
      z.strictObject({ key: path, certificate: path, chain: z.array(path).default([]) }),
      z.strictObject({ keyLabel: id, certificate: path, chain: z.array(path).default([]) }),
    ]),
    /** Trust for the receivers' TLS certificates: SM-PKI root(s), intermediates, CRLs. */
    trust: TrustConfig,
    /** Certificates carried in each SignedData after the SIG certificate (the gateway sub-CA), so receivers can build the path. */
    sigChain: z.array(path).default([]),
    /** AES-128-CBC EnvelopedData by default; a GCM choice gives AuthEnvelopedData. */
    contentEncryption: z.enum(['aes128-cbc', 'aes128-gcm', 'aes256-gcm']).default('aes128-cbc'),
    /** The market participants: ID, receiver URL, ENC certificate (messages are encrypted to it). */
    recipients: z.array(DeliveryRecipient.extend({ encCertificate: path })).min(1).max(256),
    retry: DeliveryRetry.optional(),
    batchSize: z.int().min(1).max(10_000).default(100),
    requestTimeoutMs: z.int().min(1).max(600_000).default(30_000),
  }).optional(),
  /** The HAN service (README "HAN service"): consumer and technician API over HTTPS on the HAN interface; absent: no HAN service. */
  han: HanConfig.optional(),
  /** Meter keys in a security module instead of the --keys file. */
  meterKeys: MeterKeysConfig.optional(),
  /** Administration by the GWA (docs/admin-protocol.md, README "Administration"); absent: not administered. */
  admin: AdminConfig.optional(),
  /** The CLS channel (README "CLS channel"): controllable devices on the HAN, the EMTs paired with them, timeouts; needs `wan` (its TLS identity and trust). */
  cls: ClsConfig.optional(),
}).superRefine((c, ctx) => {
  const seen = new Map<string, number>()
  c.meters.forEach((m, i) => {
    const first = seen.get(m.id)
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['meters', i, 'id'], message: `meter ID ${m.id} already used by meters[${first}]` })
    else seen.set(m.id, i)
  })
  const smlTransports = new Map<string, number>()
  c.meters.forEach((m, i) => {
    if (m.kind !== 'sml') return
    const key = JSON.stringify(m.transport)
    const first = smlTransports.get(key)
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['meters', i, 'transport'], message: `one SML meter per line: meters[${first}] uses the same transport` })
    else smlTransports.set(key, i)
  })
  if ('sigKeyLabel' in c.logs && c.meterKeys === undefined) ctx.addIssue({ code: 'custom', path: ['logs', 'sigKeyLabel'], message: 'a SIG key in the security module needs meterKeys.securityModule (the module)' })
  if (c.wan !== undefined && 'keyLabel' in c.wan.tls && c.meterKeys === undefined) ctx.addIssue({ code: 'custom', path: ['wan', 'tls', 'keyLabel'], message: 'a TLS key in the security module needs meterKeys.securityModule (the module)' })
  if (c.cls !== undefined && c.wan === undefined) ctx.addIssue({ code: 'custom', path: ['cls'], message: 'the CLS channel needs a wan section: it uses the WAN TLS identity and trust' })
  if (c.tariffs !== undefined && c.wan === undefined) ctx.addIssue({ code: 'custom', path: ['wan'], message: 'tariffs need a wan section: every result is sent to its recipients' })
  const recipients = new Map<string, number>()
  c.wan?.recipients.forEach((r, i) => {
    const first = recipients.get(r.id)
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['wan', 'recipients', i, 'id'], message: `recipient ${r.id} already configured as wan.recipients[${first}]` })
    else recipients.set(r.id, i)
  })
})
export type GatewayConfig = z.infer<typeof GatewayConfig>

/** Validates a parsed JSON value; every problem is named by its path (`meters[1].transport.tcp.port: …`). */
export function parseGatewayConfig(input: unknown): GatewayConfig {
  const r = GatewayConfig.safeParse(input)
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`)
    throw new GatewayError('CONFIG_INVALID', `invalid gateway configuration:\n  ${problems.join('\n  ')}`, { cause: r.error })
  }
  return deepFreeze(r.data)
}

/**
 * Reads and validates a JSON configuration file. Relative file paths in it (store, SIG key and
 * certificate, serial devices, replay files, tariff profiles, WAN keys and certificates) are
 * taken relative to the file's folder.
 */
export async function readGatewayConfig(file: string): Promise<GatewayConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new GatewayError('CONFIG_INVALID', `cannot read the configuration ${file}: ${(err as Error).message}`, { cause: err })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new GatewayError('CONFIG_INVALID', `the configuration ${file} is not JSON: ${(err as Error).message}`, { cause: err })
  }
  const config = parseGatewayConfig(json)
  const base = dirname(resolve(file))
  const at = (p: string) => resolve(base, p)
  return parseGatewayConfig({
    ...config,
    store: { path: at(config.store.path) },
    logs: 'sigKey' in config.logs
      ? { sigKey: at(config.logs.sigKey), sigCertificate: at(config.logs.sigCertificate) }
      : { sigKeyLabel: config.logs.sigKeyLabel, sigCertificate: at(config.logs.sigCertificate) },
    ...(config.tariffs === undefined ? {} : { tariffs: { profiles: at(config.tariffs.profiles) } }),
    ...(config.han?.tls === undefined ? {} : { han: { ...config.han, tls: { key: at(config.han.tls.key), certificate: at(config.han.tls.certificate) } } }),
    ...(config.wan === undefined ? {} : {
      wan: {
        ...config.wan,
        tls: { ...('key' in config.wan.tls ? { key: at(config.wan.tls.key) } : { keyLabel: config.wan.tls.keyLabel }), certificate: at(config.wan.tls.certificate), chain: config.wan.tls.chain.map(at) },
        trust: resolveTrustPaths(config.wan.trust, at),
        sigChain: config.wan.sigChain.map(at),
        recipients: config.wan.recipients.map((r) => ({ ...r, encCertificate: at(r.encCertificate) })),
      },
    }),
    ...(config.meterKeys === undefined ? {} : { meterKeys: { securityModule: resolveModulePaths(config.meterKeys.securityModule, at) } }),
    ...(config.admin === undefined ? {} : { admin: resolveAdminPaths(config.admin, at) }),
    ...(config.cls === undefined ? {} : { cls: { ...config.cls, devices: config.cls.devices.map((d) => (d.tls === undefined ? d : { ...d, tls: { ...d.tls, ca: at(d.tls.ca) } })) } }),
    meters: config.meters.map((m) => {
      const t = m.transport
      if ('serial' in t) return { ...m, transport: { serial: { ...t.serial, path: at(t.serial.path) } } }
      if ('file' in t) return { ...m, transport: { file: at(t.file) } }
      return m
    }),
  })
}

/** Meter ID → consumer ID, for the meters that name a consumer (whose consumer log tells of their data). */
export function consumersByMeter(config: Pick<GatewayConfig, 'meters'>): Map<string, string> {
  return new Map(config.meters.flatMap((m) => (m.consumer === undefined ? [] : [[m.id, m.consumer] as const])))
}

/**
 * The key-file entry holding the gateway's pseudonym secret (128 bits): the HMAC key of the
 * per-recipient pseudonyms of metering points (README "Tariff use cases").
 */
export const PSEUDONYM_KEY_ID = 'pseudonym'

/** Meter keys by key ID (AES-128), and the pseudonym secret under PSEUDONYM_KEY_ID. */
export type MeterKeys = ReadonlyMap<string, Uint8Array>

const KeyFile = z.record(id, z.string().regex(/^[0-9a-fA-F]{32}$/, '32 hex digits (AES-128)'))

/**
 * Reads the meter key file: JSON `{ "keyId": "32 hex digits" }`, mode 0600 or stricter
 * (KEYS_PERMISSIONS otherwise). Stand-in for the security module, which will hold the keys.
 */
export async function readMeterKeys(file: string): Promise<MeterKeys> {
  let text: string
  try {
    const st = await stat(file)
    if ((st.mode & 0o077) !== 0) {
      throw new GatewayError('KEYS_PERMISSIONS', `the key file ${file} has mode ${(st.mode & 0o777).toString(8)}; it must not be readable by group or others (chmod 600)`)
    }
    text = await readFile(file, 'utf8')
  } catch (err) {
    if (err instanceof GatewayError) throw err
    throw new GatewayError('KEYS_INVALID', `cannot read the key file ${file}: ${(err as Error).message}`, { cause: err })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new GatewayError('KEYS_INVALID', `the key file ${file} is not JSON`, { cause: err })
  }
  const r = KeyFile.safeParse(json)
  // The message names the key IDs with problems, never a key.
  if (!r.success) throw new GatewayError('KEYS_INVALID', `the key file ${file}: ${r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')}`)
  return new Map(Object.entries(r.data).map(([k, v]) => [k, Uint8Array.from(Buffer.from(v, 'hex'))]))
}

/** Every key ID a meter refers to must be in the key file. */
export function checkMeterKeys(config: GatewayConfig, keys: MeterKeys): void {
  const missing = config.meters.flatMap((m, i) => (m.kind === 'wmbus' && m.keyId !== undefined && !keys.has(m.keyId) ? [`meters[${i}].keyId: ${m.keyId}`] : []))
  if (missing.length > 0) throw new GatewayError('KEYS_INVALID', `keys missing from the key file: ${missing.join(', ')}`)
}

function resolveTrustPaths(t: TrustConfig, at: (p: string) => string): TrustConfig {
  return { ...t, roots: t.roots.map(at), intermediates: t.intermediates.map(at), crls: t.crls.map(at) }
}

function resolveAdminPaths(a: AdminConfig, at: (p: string) => string): AdminConfig {
  const { manufacturerCertificate, firmware, ...rest } = a
  return {
    ...rest,
    gwaCertificate: at(a.gwaCertificate),
    ...(manufacturerCertificate === undefined ? {} : { manufacturerCertificate: at(manufacturerCertificate) }),
    trust: resolveTrustPaths(a.trust, at),
    initialIdentity: { key: at(a.initialIdentity.key), certificate: at(a.initialIdentity.certificate), chain: a.initialIdentity.chain.map(at) },
    stateDir: at(a.stateDir),
    ...(firmware === undefined ? {} : { firmware: { ...firmware, dir: at(firmware.dir) } }),
  }
}

function resolveModulePaths(m: MeterKeysConfig['securityModule'], at: (p: string) => string): MeterKeysConfig['securityModule'] {
  if ('software' in m) {
    const sw = m.software
    return { software: 'passphraseFile' in sw ? { ...sw, dir: at(sw.dir), passphraseFile: at(sw.passphraseFile) } : { ...sw, dir: at(sw.dir) } }
  }
  const hsm = m.pkcs11
  const library = hsm.library === undefined ? {} : { library: at(hsm.library) }
  return { pkcs11: 'pinFile' in hsm ? { ...hsm, ...library, pinFile: at(hsm.pinFile) } : { ...hsm, ...library } }
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)'
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('')
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}

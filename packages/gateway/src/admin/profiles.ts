import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeCertificates, encodePem } from '@smgw/crypto'
import { z } from 'zod'
import { formatCanonicalJson } from '../canonical-json.js'
import { ClsDevice, ClsSection } from '../cls/config.js'
import { parseGatewayConfig, readGatewayConfig, type GatewayConfig } from '../config.js'
import { GatewayError, type GatewayErrorCode } from '../errors.js'
import type { SystemLogEntry } from '../log/entries.js'
import { messageOf } from '../store/store.js'
import { parseTariffProfiles } from '../taf/profile.js'
import { TimeConfig } from '../time/config.js'
import { DeliveryRecipient } from '../wan/delivery.js'
import { writeFileAtomic } from './bootloader.js'

/*
 * Configuration versions (docs/admin-protocol.md "Configuration versions"). A `profile`
 * command of the GWA, merged over the running configuration, becomes a complete gateway
 * configuration `<stateDir>/config/v<N>.json` with the files it names in `v<N>/` (tariff
 * profiles, the recipients' ENC certificates). It is validated (parseGatewayConfig), taken
 * over by the running gateway (`reconfigure`), and only then named by `<stateDir>/config/active`
 * (written to a temporary file, fsynced, renamed): all or nothing. Every version stays for
 * `rollback-profile`. The version numbers are the GWA's; a new one must be greater than every
 * version the gateway has kept (so a rollback never makes a kept number reusable).
 *
 * Tariff profiles arrive inline (an array) and are written as `v<N>/tariffs.json` rather than
 * widening `tariffs.profiles` to take the array: the configuration keeps one shape, the HAN
 * service and the outbound stages read profiles as before, and a version folder holds every
 * file its configuration names, so it can be inspected and rolled back on its own.
 *
 * The time source (`set-time-source`) is not a version: it is kept in `<stateDir>/config/time.json`
 * and laid over whichever version runs, until a `profile` names `time` again.
 */

export type ProfileCommand = {
  readonly version: number
  readonly meters?: readonly unknown[]
  readonly tariffs?: readonly unknown[]
  readonly communication?: Readonly<Record<string, unknown>>
  readonly time?: Readonly<Record<string, unknown>>
  /** null: the version has no cls section. */
  readonly cls?: Readonly<Record<string, unknown>> | null
}

/** Why a version was refused; the `code` of `config-rejected` in the system log. */
export type ConfigRefusal = 'VERSION_NOT_NEWER' | 'VERSION_UNKNOWN' | 'CONFIG_INVALID' | 'ADMIN_APPLY_FAILED'

export interface ConfigVersionsConfig {
  /** `admin.stateDir`: versions live in its `config/` folder. */
  readonly stateDir: string
}

export interface ConfigVersionsDeps {
  /** The configuration the gateway runs now (the base a profile is merged over). */
  current(): GatewayConfig
  /** Gateway.reconfigure: throws (ADMIN_APPLY_FAILED) with the previous configuration running. */
  reconfigure(next: GatewayConfig): Promise<void>
  /** System log entries `config-changed`, `config-rejected`, `time-source-set`. */
  log(entry: SystemLogEntry): Promise<unknown>
}

export interface ConfigVersions {
  /** The version the gateway runs: the one `active` names, or the fallback when that one does not read (resolveActiveVersion); 0: the configuration file. */
  active(): Promise<number>
  /** As `active`, once at start: a fallback is written to the system log (`config-fallback`). */
  activeAtStart(): Promise<number>
  /** Every kept version, ascending. */
  versions(): Promise<number[]>
  /** Applies a `profile` command as version `version`; GatewayError (CONFIG_INVALID, ADMIN_REFUSED, ADMIN_APPLY_FAILED) with nothing changed. */
  applyProfile(command: ProfileCommand): Promise<{ version: number; sha256: string }>
  /** Runs a kept version again (`rollback-profile`). */
  rollback(version: number): Promise<{ version: number; sha256: string }>
  /** Sets the time source (`set-time-source`) on the running configuration and keeps it across versions. */
  setTimeSource(time: unknown): Promise<void>
}

/** The `communication` part of a profile: recipients with their ENC certificates inline (base64 DER). */
export const CommunicationProfile = z.strictObject({
  recipients: z.array(z.strictObject({
    id: DeliveryRecipient.shape.id,
    url: DeliveryRecipient.shape.url,
    /** Subject attributes the recipient's TLS server certificate must carry. */
    tlsSubject: DeliveryRecipient.shape.serverSubject,
    encCertificate: z.base64().max(16_384),
  })).min(1).max(256),
  contentEncryption: z.enum(['aes128-cbc', 'aes128-gcm', 'aes256-gcm']).optional(),
})

/**
 * The `cls` part of a profile: the gateway's `cls` section (cls/config.ts) with each device's
 * TLS CA certificate inline (`caCertificate`, base64 DER) instead of a file; the gateway writes
 * it as `v<N>/cls-ca-<i>.pem`. The checks across devices and EMTs are the section's own, run
 * when the merged configuration is parsed.
 */
export const ClsProfile = ClsSection.extend({
  devices: z.array(ClsDevice.extend({
    tls: z.strictObject({ caCertificate: z.base64().max(16_384), serverName: ClsDevice.shape.tls.unwrap().shape.serverName }).optional(),
  })).min(1).max(256),
})

const VERSION_FILE = /^v([1-9]\d{0,15})\.json$/
const ACTIVE = 'active'
const TIME_OVERLAY = 'time.json'

export function createConfigVersions(config: ConfigVersionsConfig, deps: ConfigVersionsDeps): ConfigVersions {
  const dir = join(config.stateDir, 'config')
  const versionFile = (n: number): string => join(dir, `v${n}.json`)
  const versionDir = (n: number): string => join(dir, `v${n}`)

  const versions = async (): Promise<number[]> => {
    let names: string[]
    try {
      names = await readdir(dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    return names.flatMap((n) => {
      const m = VERSION_FILE.exec(n)
      return m === null ? [] : [Number(m[1])]
    }).sort((a, b) => a - b)
  }

  /** Refuses with a typed error and a `config-rejected` entry. */
  const refuse = async (version: number, refusal: ConfigRefusal, message: string, cause?: unknown): Promise<never> => {
    await deps.log({ type: 'config-rejected', fields: { version, code: refusal } })
    const code: GatewayErrorCode = refusal === 'VERSION_NOT_NEWER' || refusal === 'VERSION_UNKNOWN' ? 'ADMIN_REFUSED' : refusal
    throw new GatewayError(code, `${refusal}: ${message}`, { reason: refusal, ...(cause === undefined ? {} : { cause }) })
  }

  /** Takes over `next` and then names it active; on failure the running configuration and `active` stay. */
  const switchTo = async (version: number, next: GatewayConfig, cleanup: () => Promise<void>): Promise<{ version: number; sha256: string }> => {
    try {
      await deps.reconfigure(next)
    } catch (err) {
      await cleanup()
      return refuse(version, 'ADMIN_APPLY_FAILED', messageOf(err), err)
    }
    await writeFileAtomic(join(dir, ACTIVE), `${version}\n`)
    const sha256 = sha256Of(next)
    await deps.log({ type: 'config-changed', fields: { version, sha256, by: 'gwa' } })
    return { version, sha256 }
  }

  return {
    active: async () => (await resolveActiveVersion(config.stateDir)).version,
    async activeAtStart() {
      const r = await resolveActiveVersion(config.stateDir)
      if (r.fallback !== undefined) await deps.log({ type: 'config-fallback', fields: { rejected: r.fallback.rejected, running: r.version, code: r.fallback.code } })
      return r.version
    },
    versions,
    async applyProfile(command) {
      const n = command.version
      const kept = await versions()
      const highest = kept.at(-1) ?? 0
      if (n <= highest) return refuse(n, 'VERSION_NOT_NEWER', `version ${n} is not greater than ${highest}, the newest version this gateway has kept`)
      await mkdir(dir, { recursive: true })
      const files = versionDir(n)
      const cleanup = async (): Promise<void> => {
        await rm(files, { recursive: true, force: true })
        await rm(versionFile(n), { force: true })
      }
      // A folder left by a crash before its version file was written is not a version: start afresh.
      await rm(files, { recursive: true, force: true })
      await mkdir(files, { mode: 0o700 })
      let next: GatewayConfig
      try {
        next = await mergeProfile(deps.current(), command, files)
      } catch (err) {
        await cleanup()
        const code = err instanceof GatewayError && err.code === 'ADMIN_APPLY_FAILED' ? 'ADMIN_APPLY_FAILED' : 'CONFIG_INVALID'
        return refuse(n, code, messageOf(err), err)
      }
      await writeFileAtomic(versionFile(n), `${JSON.stringify(next, null, 2)}\n`)
      const result = await switchTo(n, next, cleanup)
      // A profile that names `time` replaces a time source set on its own before.
      if (command.time !== undefined) await rm(join(dir, TIME_OVERLAY), { force: true })
      return result
    },
    async rollback(version) {
      const kept = await versions()
      if (!kept.includes(version)) return refuse(version, 'VERSION_UNKNOWN', `version ${version} is not kept (kept: ${kept.join(', ') || 'none'})`)
      let next: GatewayConfig
      try {
        next = await withTimeOverlay(await readGatewayConfig(versionFile(version)), dir, deps.current().admin)
      } catch (err) {
        return refuse(version, 'CONFIG_INVALID', `version ${version} does not read: ${messageOf(err)}`, err)
      }
      return switchTo(version, next, () => Promise.resolve())
    },
    async setTimeSource(time) {
      const parsed = TimeConfig.safeParse(time)
      if (!parsed.success) throw new GatewayError('CONFIG_INVALID', `set-time-source: ${parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(time)'}: ${i.message}`).join('; ')}`)
      const next = parseGatewayConfig({ ...plain(deps.current()), time: parsed.data })
      await deps.reconfigure(next)
      await mkdir(dir, { recursive: true })
      await writeFileAtomic(join(dir, TIME_OVERLAY), `${JSON.stringify(parsed.data)}\n`)
      await deps.log({ type: 'time-source-set', fields: { by: 'gwa', servers: 1 } })
    },
  }
}

/** The version `<stateDir>/config/active` names; 0 when there is none. */
export async function readActiveVersion(stateDir: string): Promise<number> {
  let text: string
  try {
    text = await readFile(join(stateDir, 'config', ACTIVE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw new GatewayError('CONFIG_INVALID', `cannot read the active configuration version: ${messageOf(err)}`, { cause: err })
  }
  const n = Number(text.trim())
  if (!Number.isSafeInteger(n) || n < 1) throw new GatewayError('CONFIG_INVALID', `${join(stateDir, 'config', ACTIVE)} does not name a version`)
  return n
}

/** Why the version `active` names is not run: its file is gone, or does not read as a configuration; or `active` names no version. */
export type ActiveVersionFault = 'ACTIVE_VERSION_MISSING' | 'ACTIVE_VERSION_INVALID' | 'ACTIVE_POINTER_INVALID'

export interface ActiveVersion {
  /** The version to run; 0: the configuration file. */
  readonly version: number
  /** Its configuration (without the file's `admin` section and the time overlay); absent for 0. */
  readonly config?: GatewayConfig
  /** Set when `active` named something that does not run: `rejected` is its number (0 when `active` named none). */
  readonly fallback?: { readonly rejected: number; readonly code: ActiveVersionFault; readonly detail: string }
}

/**
 * The version a start runs. A crash or a damaged disk can leave `active` naming a version
 * file that is missing, truncated or not a valid configuration (or `active` itself unreadable):
 * the gateway must still start, so it falls back to the newest kept version below that one
 * that validates, else to the configuration file — never to a newer version, which the GWA
 * rolled back from. `active` is left as it is (the evidence; the next `profile` or
 * `rollback-profile` replaces it); the start logs `config-fallback` (ConfigVersions.activeAtStart).
 */
export async function resolveActiveVersion(stateDir: string): Promise<ActiveVersion> {
  const dir = join(stateDir, 'config')
  let named: number
  try {
    named = await readActiveVersion(stateDir)
  } catch (err) {
    return fallBack(dir, Number.POSITIVE_INFINITY, { rejected: 0, code: 'ACTIVE_POINTER_INVALID', detail: messageOf(err) })
  }
  if (named === 0) return { version: 0 }
  const file = join(dir, `v${named}.json`)
  if (!existsSync(file)) return fallBack(dir, named, { rejected: named, code: 'ACTIVE_VERSION_MISSING', detail: `${file} is missing` })
  try {
    return { version: named, config: await readGatewayConfig(file) }
  } catch (err) {
    return fallBack(dir, named, { rejected: named, code: 'ACTIVE_VERSION_INVALID', detail: messageOf(err) })
  }
}

async function fallBack(dir: string, below: number, fallback: NonNullable<ActiveVersion['fallback']>): Promise<ActiveVersion> {
  let names: string[] = []
  try {
    names = await readdir(dir)
  } catch {
    // No folder: nothing kept, the configuration file runs.
  }
  const kept = names.flatMap((n) => { const m = VERSION_FILE.exec(n); return m === null ? [] : [Number(m[1])] }).filter((n) => n < below).sort((a, b) => b - a)
  for (const n of kept) {
    try {
      return { version: n, config: await readGatewayConfig(join(dir, `v${n}.json`)), fallback }
    } catch {
      // Damaged as well: the next older one.
    }
  }
  return { version: 0, fallback }
}

/**
 * The configuration `smgw gateway --config FILE` runs: with an `admin` section, the active
 * version (if the GWA has set one; a damaged one falls back, resolveActiveVersion) with the
 * file's `admin` section and the time source the GWA set; otherwise the file. `version` 0: the file.
 */
export async function readEffectiveConfig(file: string): Promise<{ config: GatewayConfig; version: number; fallback?: ActiveVersion['fallback'] }> {
  const fromFile = await readGatewayConfig(file)
  const admin = fromFile.admin
  if (admin === undefined) return { config: fromFile, version: 0 }
  const dir = join(admin.stateDir, 'config')
  const active = await resolveActiveVersion(admin.stateDir)
  return { config: await withTimeOverlay(active.config ?? fromFile, dir, admin), version: active.version, ...(active.fallback === undefined ? {} : { fallback: active.fallback }) }
}

/** SHA-256 of the canonical JSON of a configuration (the `config-changed` entry), lower-case hex. */
export function sha256Of(config: GatewayConfig): string {
  return createHash('sha256').update(formatCanonicalJson(config)).digest('hex')
}

async function withTimeOverlay(config: GatewayConfig, dir: string, admin: GatewayConfig['admin']): Promise<GatewayConfig> {
  let time: unknown
  try {
    time = JSON.parse(await readFile(join(dir, TIME_OVERLAY), 'utf8'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new GatewayError('CONFIG_INVALID', `the time source the GWA set does not read: ${messageOf(err)}`, { cause: err })
  }
  const { admin: _versioned, ...rest } = plain(config)
  return parseGatewayConfig({ ...rest, ...(admin === undefined ? {} : { admin }), ...(time === undefined ? {} : { time }) })
}

/** The profile over `base`, files written to `files`; CONFIG_INVALID/TAF_PROFILE_INVALID naming the problem. */
async function mergeProfile(base: GatewayConfig, p: ProfileCommand, files: string): Promise<GatewayConfig> {
  const next: Record<string, unknown> = plain(base)
  if (p.meters !== undefined) next.meters = p.meters
  if (p.time !== undefined) next.time = p.time
  // Tariff profiles: the command's, or the running ones copied, so the version folder is complete.
  const tariffs = join(files, 'tariffs.json')
  if (p.tariffs !== undefined) {
    parseTariffProfiles(p.tariffs)
    await writeFileAtomic(tariffs, `${JSON.stringify(p.tariffs, null, 2)}\n`)
    next.tariffs = { profiles: tariffs }
  } else if (base.tariffs !== undefined) {
    await copyFile(base.tariffs.profiles, tariffs)
    next.tariffs = { profiles: tariffs }
  }
  if (p.communication !== undefined) {
    if (base.wan === undefined) throw new GatewayError('CONFIG_INVALID', 'communication: the gateway configuration has no wan section (its TLS identity and trust)')
    const c = CommunicationProfile.safeParse(p.communication)
    if (!c.success) throw new GatewayError('CONFIG_INVALID', `communication: ${c.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ')}`)
    const recipients = []
    for (const [i, r] of c.data.recipients.entries()) {
      const der = certificateOf(r.encCertificate, `communication.recipients[${i}].encCertificate`)
      const file = join(files, `enc-${i}.der`)
      await writeFileAtomic(file, der, 0o600)
      recipients.push({ id: r.id, url: r.url, ...(r.tlsSubject === undefined ? {} : { serverSubject: r.tlsSubject }), encCertificate: file })
    }
    next.wan = { ...plain(base.wan), recipients, ...(c.data.contentEncryption === undefined ? {} : { contentEncryption: c.data.contentEncryption }) }
  }
  if (p.cls === null) {
    delete next.cls
  } else if (p.cls !== undefined) {
    const c = ClsProfile.safeParse(p.cls)
    if (!c.success) throw new GatewayError('CONFIG_INVALID', `cls: ${c.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ')}`)
    const devices = []
    for (const [i, { tls, ...device }] of c.data.devices.entries()) {
      if (tls === undefined) {
        devices.push(device)
        continue
      }
      const file = join(files, `cls-ca-${i}.pem`)
      await writeFileAtomic(file, encodePem('CERTIFICATE', certificateOf(tls.caCertificate, `cls.devices[${i}].tls.caCertificate`)), 0o600)
      devices.push({ ...device, tls: { ca: file, ...(tls.serverName === undefined ? {} : { serverName: tls.serverName }) } })
    }
    next.cls = { ...c.data, devices }
  }
  return parseGatewayConfig(next)
}

/** One DER certificate from base64 (a profile's inline certificates); CONFIG_INVALID naming `where` otherwise. */
function certificateOf(base64: string, where: string): Uint8Array {
  const der = new Uint8Array(Buffer.from(base64, 'base64'))
  try {
    if (decodeCertificates(der).length !== 1) throw new Error('not one certificate')
  } catch (err) {
    throw new GatewayError('CONFIG_INVALID', `${where}: not a DER certificate: ${messageOf(err)}`, { cause: err })
  }
  return der
}

/** A mutable deep copy (the parsed configuration is frozen). */
function plain<T>(value: T): T & Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as T & Record<string, unknown>
}

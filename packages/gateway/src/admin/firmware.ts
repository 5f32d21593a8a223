import { mkdir, readFile, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { isAdminProtocolError, openFirmwarePackage, VERSION_PATTERN, type AdminProtocolErrorCode, type SignerVerifier } from '@smgw/admin-protocol'
import { decodeSignedData } from '@smgw/crypto'
import type { Logger } from 'pino'
import { z } from 'zod'
import { GatewayError } from '../errors.js'
import type { CalibrationLogEntry, SystemLogEntry } from '../log/entries.js'
import { runImageHealth, syncDirectory, writeFileAtomic } from './bootloader.js'

/*
 * Signed firmware with A/B slots and automatic rollback (docs/admin-protocol.md "Firmware
 * package"; TR-03109-1 requires a firmware update to be authentic, not a downgrade, and the
 * previous version to stay available). The image is a Node.js ES module (our simulation of a
 * firmware image).
 *
 *   dir/slots/<version>/image.mjs   one folder per installed version (the active and the previous one)
 *   dir/state.json                  {active, previous?, trial?}: the slot pointer, replaced by one atomic rename
 *
 * install: verify (manufacturer signature, no downgrade, size + SHA-256) → write the slot →
 * switch the pointer with `trial` set → health check (`node image.mjs health` exits 0 within
 * healthTimeoutS) → healthy: clear `trial`; unhealthy or timeout: switch back.
 *
 * boot (at start): a `trial` still in state.json means the process died between the switch
 * and the health verdict. Like an A/B bootloader whose trial boot never confirmed itself, the
 * gateway switches back: the new version did not report healthy, and it may be what killed the
 * process. The GWA sees the old version in the next report and may send the package again.
 */

export interface FirmwareConfig {
  /** `admin.firmware.dir`: slots and the pointer. */
  readonly dir: string
  /** Seconds the new image has to report healthy (default 30). */
  readonly healthTimeoutS?: number
  /** The version running before any update (the gateway package's version). */
  readonly factoryVersion: string
}

export interface FirmwareDeps {
  /** Verifies the manifest's CMS signature and that the signer is the manufacturer (createSignerVerifier, notOwnRole SIGNER_NOT_MANUFACTURER). */
  readonly verifier: SignerVerifier
  /** System log (awaited when it returns a promise). */
  readonly log: (entry: SystemLogEntry) => void | Promise<void>
  /** Calibration log: a firmware change is metrologically relevant (BSI-CC-PP-0073 FAU_GEN.1). */
  readonly calibrationLog?: (entry: CalibrationLogEntry) => void | Promise<void>
  /** Legal time (signature validity is judged at this time). */
  readonly now: () => Date
  /** The health probe; default: `node image.mjs health` (runImageHealth). */
  readonly runHealth?: (imagePath: string, timeoutMs: number) => Promise<boolean>
  readonly logger?: Logger
}

export interface FirmwareInstallResult {
  /** The package's version. */
  readonly version: string
  /** `active`: it runs now; `rolled-back`: it did not report healthy and the previous version runs again. */
  readonly state: 'active' | 'rolled-back'
}

export interface FirmwareManager {
  /** The active version (the factory version before any update). */
  version(): string
  /** The version kept for rollback, if any. */
  previous(): string | undefined
  /** Reads the pointer (creating the folders); resolves a trial left by a crash (rolls back). Call once at start. */
  boot(): Promise<void>
  install(c: { readonly package: string }): Promise<FirmwareInstallResult>
}

export const DEFAULT_HEALTH_TIMEOUT_S = 30
const STATE_FORMAT = 'smgw-firmware-state/1'
const version = z.string().regex(VERSION_PATTERN)
const FirmwareState = z.strictObject({
  format: z.literal(STATE_FORMAT),
  active: version,
  previous: version.optional(),
  /** Set while the active version has not yet reported healthy: `from` is the version to return to. */
  trial: z.strictObject({ from: version, previous: version.optional(), startedAt: z.iso.datetime() }).optional(),
})
type FirmwareState = z.infer<typeof FirmwareState>

/** The system-log result of a refused package: the package could not be shown to be the manufacturer's, was no update, or its image differs. */
const REJECTION: Readonly<Partial<Record<AdminProtocolErrorCode, 'rejected-signature' | 'rejected-version' | 'rejected-hash'>>> = {
  DOWNGRADE: 'rejected-version',
  HASH_MISMATCH: 'rejected-hash',
}

/** A log-safe version string: the claimed one when it has the version syntax, else "unknown". */
const LOGGABLE_VERSION = /^[0-9A-Za-z.+-]{1,32}$/

/**
 * The version a refused package claims, read WITHOUT verifying (for the system log only; a
 * refused package's claim is logged as a claim, nothing else uses it).
 */
function claimedVersion(bytes: Uint8Array): string {
  try {
    const pkg = JSON.parse(new TextDecoder().decode(bytes)) as { manifest?: unknown }
    if (typeof pkg.manifest !== 'string') return 'unknown'
    const content = decodeSignedData(new Uint8Array(Buffer.from(pkg.manifest, 'base64'))).content
    if (content === undefined) return 'unknown'
    const v = (JSON.parse(new TextDecoder().decode(content)) as { version?: unknown }).version
    return typeof v === 'string' && LOGGABLE_VERSION.test(v) ? v : 'unknown'
  } catch {
    return 'unknown'
  }
}

export function createFirmwareManager(config: FirmwareConfig, deps: FirmwareDeps): FirmwareManager {
  if (!VERSION_PATTERN.test(config.factoryVersion)) throw new GatewayError('CONFIG_INVALID', `firmware factory version ${JSON.stringify(config.factoryVersion)} is not MAJOR.MINOR.PATCH`)
  const timeoutMs = (config.healthTimeoutS ?? DEFAULT_HEALTH_TIMEOUT_S) * 1000
  const runHealth = deps.runHealth ?? runImageHealth
  const statePath = join(config.dir, 'state.json')
  const slotsDir = join(config.dir, 'slots')
  const imagePath = (v: string) => join(slotsDir, v, 'image.mjs')
  const log = deps.logger?.child({ component: 'admin-firmware' })

  let state: FirmwareState = { format: STATE_FORMAT, active: config.factoryVersion }
  let queue: Promise<unknown> = Promise.resolve()
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn)
    queue = run.catch(() => undefined)
    return run
  }

  const commit = async (next: FirmwareState): Promise<void> => {
    await writeFileAtomic(statePath, `${JSON.stringify(next)}\n`)
    state = next
  }

  /** Keeps the slots of the active and previous versions; removes the rest (failed or superseded images). */
  const pruneSlots = async (): Promise<void> => {
    const keep = new Set([state.active, ...(state.previous === undefined ? [] : [state.previous]), ...(state.trial === undefined ? [] : [state.trial.from])])
    let names: string[]
    try {
      names = await readdir(slotsDir)
    } catch {
      return
    }
    for (const name of names) if (!keep.has(name)) await rm(join(slotsDir, name), { recursive: true, force: true })
  }

  const rollBack = async (failed: string, trial: NonNullable<FirmwareState['trial']>): Promise<void> => {
    await commit({ format: STATE_FORMAT, active: trial.from, ...(trial.previous === undefined ? {} : { previous: trial.previous }) })
    await deps.log({ type: 'firmware-update', fields: { from: trial.from, to: failed, result: 'rolled-back' } })
    await pruneSlots()
    log?.warn({ from: trial.from, to: failed }, 'firmware did not report healthy: rolled back')
  }

  const refuse = async (err: unknown, bytes: Uint8Array): Promise<never> => {
    if (isAdminProtocolError(err)) {
      await deps.log({ type: 'firmware-update', fields: { from: state.active, to: claimedVersion(bytes), result: REJECTION[err.code] ?? 'rejected-signature' } })
      throw new GatewayError('ADMIN_REFUSED', `firmware package refused: ${err.code}: ${err.message}`, { cause: err })
    }
    throw err
  }

  /** Takes the pointer file's content; a trial in it is resolved by rolling back. */
  const readState = async (text: string): Promise<void> => {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      throw new GatewayError('ADMIN_APPLY_FAILED', `firmware state ${statePath} is not JSON`, { cause: err })
    }
    const r = FirmwareState.safeParse(parsed)
    if (!r.success) throw new GatewayError('ADMIN_APPLY_FAILED', `firmware state ${statePath}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
    state = r.data
    if (state.trial !== undefined) await rollBack(state.active, state.trial)
  }

  return {
    version: () => state.active,
    previous: () => state.previous,

    boot: () => serialized(async () => {
      await mkdir(slotsDir, { recursive: true })
      let text: string | undefined
      try {
        text = await readFile(statePath, 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new GatewayError('ADMIN_APPLY_FAILED', `firmware state ${statePath} unreadable`, { cause: err })
      }
      if (text !== undefined) await readState(text)
      // A crash before the switch leaves a slot (and perhaps a temporary pointer file) nobody names.
      await pruneSlots()
      for (const name of await readdir(config.dir)) if (/^\.state\.json\.[0-9a-f]+\.tmp$/.test(name)) await rm(join(config.dir, name), { force: true })
    }),

    install: (c) => serialized(async () => {
      const bytes = new Uint8Array(Buffer.from(c.package, 'base64'))
      let opened: Awaited<ReturnType<typeof openFirmwarePackage>>
      try {
        opened = await openFirmwarePackage(bytes, deps.verifier, deps.now(), state.active)
      } catch (err) {
        return refuse(err, bytes)
      }
      const from = state.active
      const to = opened.manifest.version
      // The inactive slot: a folder no pointer names (a leftover of an earlier failed attempt is replaced).
      const slot = join(slotsDir, to)
      try {
        await rm(slot, { recursive: true, force: true })
        await mkdir(slot, { recursive: true })
        await writeFileAtomic(imagePath(to), opened.image)
        await syncDirectory(slotsDir)
      } catch (err) {
        await rm(slot, { recursive: true, force: true })
        throw new GatewayError('ADMIN_APPLY_FAILED', `firmware ${to}: the slot cannot be written`, { cause: err })
      }
      const trial = { from, ...(state.previous === undefined ? {} : { previous: state.previous }), startedAt: deps.now().toISOString() }
      await commit({ format: STATE_FORMAT, active: to, previous: from, trial })
      log?.info({ from, to }, 'firmware switched, health check')
      const healthy = await runHealth(imagePath(to), timeoutMs).catch(() => false)
      if (!healthy) {
        await rollBack(to, trial)
        return { version: to, state: 'rolled-back' as const }
      }
      await commit({ format: STATE_FORMAT, active: to, previous: from })
      await deps.log({ type: 'firmware-update', fields: { from, to, result: 'installed' } })
      await deps.calibrationLog?.({ type: 'firmware-update', fields: { to } })
      await pruneSlots()
      log?.info({ from, to }, 'firmware installed')
      return { version: to, state: 'active' as const }
    }),
  }
}

import { isAdminProtocolError, openMeterKeys, type AdminProtocolErrorCode, type OpenedMeterKeys } from '@smgw/admin-protocol'
import { isCryptoError, type SecretKeyModule } from '@smgw/crypto'
import type { Logger } from 'pino'
import { PSEUDONYM_KEY_ID } from '../config.js'
import { GatewayError } from '../errors.js'
import type { SystemLogEntry } from '../log/entries.js'
import { messageOf } from '../store/store.js'
import type { EncIdentity } from './certificates.js'

/*
 * The `meter-keys` command (docs/admin-protocol.md "Commands"): wireless M-Bus keys the GWA
 * encrypted to the gateway's operational ENC certificate (CMS, RFC 5652 §6 / RFC 5083) are
 * decrypted with the ENC key inside the security module and imported into the meter key
 * module under their key IDs — all or nothing. The keys exist in clear only in this process,
 * between the decryption and the import, and those copies are wiped (TR-03109-1 §3.2.5: keys
 * are never in clear outside the security modules; BSI-CC-PP-0073 FCS_CKM.4).
 */

export interface MeterKeysCommand {
  /** Base64 of the CMS envelope (already checked as base64 by the command schema). */
  readonly keys: string
  /** May overwrite a key ID the module holds. */
  readonly replace: boolean
}

export interface InstallMeterKeysDeps {
  readonly gatewayId: string
  /** The meter key module (config `meterKeys`); absent: KEY_MODULE_FAILED. */
  readonly module: SecretKeyModule | undefined
  /** The ENC identity in force (CertificateManager.encIdentity). */
  encIdentity(): Promise<EncIdentity | undefined>
  /** Replaced ENC identities still kept (CertificateManager.retiredEncIdentities): an envelope sealed to one before the renewal still opens. */
  retiredEncIdentities?(): Promise<readonly EncIdentity[]>
  /** System log (resolves after commit). */
  log(entry: SystemLogEntry): Promise<unknown>
  /**
   * After the import: the wireless meters naming these key IDs read with the new keys (the
   * gateway restarts their adapters). A failure there is logged by the gateway, not thrown: the
   * keys are installed and an adapter started later takes them.
   */
  keysInstalled(keyIds: readonly string[]): Promise<void>
  readonly logger?: Logger
}

/** Security-module labels (`checkLabel` of @smgw/crypto): the key ID is the label. */
const MODULE_LABEL = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/

/** Result codes the GWA sees for refusals of the envelope (session.ts `resultCodeOf` answers `reason`). */
function refused(reason: AdminProtocolErrorCode, message: string, cause?: unknown): GatewayError {
  return new GatewayError('ADMIN_REFUSED', message, { reason, ...(cause === undefined ? {} : { cause }) })
}

/**
 * Runs one `meter-keys` command → `{keyIds}`. Order: the module (KEY_MODULE_FAILED), the ENC
 * identity (KEYS_UNREADABLE), the envelope (KEYS_UNREADABLE, NOT_ADDRESSED, MALFORMED), the key
 * IDs (KEYS_INVALID: not a module label, the pseudonym secret's ID, or held already without
 * `replace`) — all before the first import; then the imports, and if one fails the keys this
 * command created are deleted again (KEY_MODULE_FAILED).
 *
 * LIMIT: a key replaced (`replace: true`) before a later import failed stays replaced — the
 * module never shows the old key, so it cannot be put back; the message names it. New key IDs
 * are imported before replacements, so only a failure among the replacements can leave one.
 */
export async function installMeterKeys(command: MeterKeysCommand, deps: InstallMeterKeysDeps): Promise<{ keyIds: string[] }> {
  const module = deps.module
  if (module === undefined) throw new GatewayError('KEY_MODULE_FAILED', 'meter-keys: this gateway has no meter key security module (meterKeys in its configuration); keys can only be installed into one')
  const enc = await deps.encIdentity()
  const retired = await deps.retiredEncIdentities?.() ?? []
  if (enc === undefined && retired.length === 0) throw refused('KEYS_UNREADABLE', 'meter-keys: no operational ENC certificate yet (or it expired or was revoked): generate-csr and install-certificates with enc first, then seal the keys to that certificate')
  const envelope = new Uint8Array(Buffer.from(command.keys, 'base64'))
  let opened: readonly OpenedMeterKeys[] | undefined
  let error: unknown
  // The key in force first; a replaced one only after KEYS_UNREADABLE (an envelope sealed to its
  // certificate before the renewal). An envelope one key opened but that failed a later check
  // (NOT_ADDRESSED, MALFORMED) is answered with that reason.
  for (const identity of enc === undefined ? retired : [enc, ...retired]) {
    try {
      opened = await openMeterKeys(envelope, deps.gatewayId, identity.agreer, identity.certificate)
      break
    } catch (err) {
      const unreadable = isAdminProtocolError(err) && err.code === 'KEYS_UNREADABLE'
      if (error === undefined || !unreadable) error = err
      if (!unreadable) break
    }
  }
  if (opened === undefined) {
    const err = error
    if (isAdminProtocolError(err)) throw refused(err.code, `meter-keys: ${err.message}`, err)
    throw new GatewayError('KEY_MODULE_FAILED', `meter-keys: the envelope could not be opened: ${messageOf(err)}`, { cause: err })
  }
  try {
    return await importAll(opened, command.replace, module, deps)
  } finally {
    for (const k of opened) k.key.fill(0)
  }
}

async function importAll(opened: readonly OpenedMeterKeys[], replace: boolean, module: SecretKeyModule, deps: InstallMeterKeysDeps): Promise<{ keyIds: string[] }> {
  const keyIds = opened.map((k) => k.keyId)
  const badIds = keyIds.filter((id) => !MODULE_LABEL.test(id) || id === PSEUDONYM_KEY_ID)
  if (badIds.length > 0) throw new GatewayError('KEYS_INVALID', `meter-keys: key IDs that cannot name a meter key in the security module (A-Z a-z 0-9 . _ -, 1..64, not starting with '.', not "${PSEUDONYM_KEY_ID}"): ${badIds.join(', ')}; nothing imported`)
  let held: Set<string>
  try {
    held = new Set((await module.listSecretKeys()).map((k) => k.label))
  } catch (err) {
    throw new GatewayError('KEY_MODULE_FAILED', `meter-keys: the security module does not list its keys: ${messageOf(err)}`, { cause: err })
  }
  const existing = keyIds.filter((id) => held.has(id))
  if (existing.length > 0 && !replace) throw new GatewayError('KEYS_INVALID', `meter-keys: the security module holds ${existing.join(', ')} already and the command does not say replace; nothing imported`)
  const created: string[] = []
  const replaced: string[] = []
  // New key IDs first: a failure among them is undone completely; replacements (which cannot be undone) come last.
  const order = [...opened.filter((k) => !held.has(k.keyId)), ...opened.filter((k) => held.has(k.keyId))]
  for (const k of order) {
    try {
      await module.importSecretKey(k.keyId, k.key, { replace })
    } catch (err) {
      const undone = await deleteCreated(module, created, deps.logger)
      const code = isCryptoError(err) && err.code === 'KEY_EXISTS' ? 'KEYS_INVALID' : 'KEY_MODULE_FAILED'
      throw new GatewayError(code, `meter-keys: importing ${k.keyId} failed (${messageOf(err)}); deleted again: ${undone.join(', ') || 'none'}${replaced.length === 0 ? '' : `; replaced before the failure and not restorable: ${replaced.join(', ')}`}`, { cause: err })
    }
    if (held.has(k.keyId)) replaced.push(k.keyId)
    else created.push(k.keyId)
  }
  await deps.log({ type: 'meter-keys-installed', fields: { keyIds, replaced } })
  deps.logger?.child({ component: 'admin-meter-keys' }).info({ keyIds, replaced }, 'meter keys installed')
  await deps.keysInstalled(keyIds)
  return { keyIds }
}

/** Deletes the keys one command created (all or nothing); returns those deleted. */
async function deleteCreated(module: SecretKeyModule, created: readonly string[], logger: Logger | undefined): Promise<string[]> {
  const deleted: string[] = []
  for (const id of created) {
    try {
      if (await module.deleteSecretKey(id)) deleted.push(id)
    } catch (err) {
      logger?.error({ keyId: id, err: messageOf(err) }, 'meter key of a failed meter-keys command not deleted')
    }
  }
  return deleted
}

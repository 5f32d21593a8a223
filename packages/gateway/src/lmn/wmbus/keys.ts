import { existsSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { createPkcs11SecurityModule, createSoftwareSecurityModule, findPkcs11Library, isCryptoError, type SecretKeyOps, type SecretKeyModule, type SecurityModule } from '@smgw/crypto'
import type { MeterKey } from '@smgw/mbus'
import { PSEUDONYM_KEY_ID, type GatewayConfig, type MeterKeys, type MeterKeysConfig } from '../../config.js'
import { GatewayError } from '../../errors.js'

/** Meter keys by key ID as the wM-Bus readers use them: bytes (the --keys file) or a security module's key operations. */
export type MeterKeySource = ReadonlyMap<string, MeterKey>

/**
 * Opens the security module that holds the meter keys (config `meterKeys.securityModule`).
 * The passphrase / PIN comes from the named environment variable or from a file of mode
 * 0600 or stricter (KEYS_PERMISSIONS otherwise); one trailing newline is dropped.
 * Failures are KEY_MODULE_FAILED (wrong passphrase/PIN, no token, no library).
 */
export async function openMeterKeyModule(config: MeterKeysConfig, env: Readonly<Record<string, string | undefined>>): Promise<SecurityModule> {
  const m = config.securityModule
  try {
    if ('software' in m) {
      const sw = m.software
      const passphrase = 'passphraseEnv' in sw ? fromEnv(env, sw.passphraseEnv, 'passphrase') : await fromFile(sw.passphraseFile, 'passphrase')
      return await createSoftwareSecurityModule({ dir: sw.dir, passphrase, ...(sw.scryptLogN === undefined ? {} : { scryptLogN: sw.scryptLogN }) })
    }
    const hsm = m.pkcs11
    const pin = 'pinEnv' in hsm ? fromEnv(env, hsm.pinEnv, 'PIN') : await fromFile(hsm.pinFile, 'PIN')
    const library = hsm.library ?? findPkcs11Library(existsSync)
    if (library === undefined) throw new GatewayError('KEY_MODULE_FAILED', 'no PKCS#11 library given (meterKeys.securityModule.pkcs11.library) and no SoftHSM2 found')
    return await createPkcs11SecurityModule({ library, tokenLabel: hsm.tokenLabel, pin })
  } catch (err) {
    if (err instanceof GatewayError) throw err
    throw new GatewayError('KEY_MODULE_FAILED', `the meter key security module: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

function fromEnv(env: Readonly<Record<string, string | undefined>>, name: string, what: string): string {
  const value = env[name]
  if (value === undefined || value === '') throw new GatewayError('KEY_MODULE_FAILED', `the ${what} of the meter key security module: environment variable ${name} is not set`)
  return value
}

async function fromFile(file: string, what: string): Promise<string> {
  let text: string
  try {
    const st = await stat(file)
    if ((st.mode & 0o077) !== 0) throw new GatewayError('KEYS_PERMISSIONS', `the ${what} file ${file} has mode ${(st.mode & 0o777).toString(8)}; it must not be readable by group or others (chmod 600)`)
    text = await readFile(file, 'utf8')
  } catch (err) {
    if (err instanceof GatewayError) throw err
    throw new GatewayError('KEY_MODULE_FAILED', `cannot read the ${what} file ${file}: ${(err as Error).message}`, { cause: err })
  }
  return text.replace(/\r?\n$/, '')
}

/**
 * The key operations for every key ID a configured wireless meter names, looked up by
 * label in the module. A key ID the module does not hold is left out (the reader then
 * reports `key-rejected` MISSING_KEY for that meter, as with no key); `missing` names them.
 */
export async function resolveModuleMeterKeys(sm: SecretKeyModule, config: GatewayConfig): Promise<{ readonly keys: ReadonlyMap<string, SecretKeyOps>; readonly missing: readonly string[] }> {
  const keys = new Map<string, SecretKeyOps>()
  const missing: string[] = []
  for (const m of config.meters) {
    if (m.kind !== 'wmbus' || m.keyId === undefined || keys.has(m.keyId)) continue
    try {
      keys.set(m.keyId, await sm.secretKey(m.keyId))
    } catch (err) {
      if (isCryptoError(err) && (err.code === 'KEY_NOT_FOUND' || err.code === 'KEY_LABEL_INVALID')) missing.push(m.keyId)
      else throw new GatewayError('KEY_MODULE_FAILED', `meter key ${m.keyId}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
  }
  return { keys, missing }
}

/** Every key ID a wireless meter names must be in the module (the --keys file's checkMeterKeys, for a module). */
export async function checkModuleMeterKeys(sm: SecretKeyModule, config: GatewayConfig): Promise<void> {
  const held = new Set((await sm.listSecretKeys()).map((k) => k.label))
  const missing = config.meters.flatMap((m, i) => (m.kind === 'wmbus' && m.keyId !== undefined && !held.has(m.keyId) ? [`meters[${i}].keyId: ${m.keyId}`] : []))
  if (missing.length > 0) throw new GatewayError('KEYS_INVALID', `keys missing from the security module: ${missing.join(', ')}`)
}

/**
 * Moves a key file's meter keys into the module (`smgw gateway keys import`): each key ID
 * becomes a secret key labelled with it. The pseudonym secret (PSEUDONYM_KEY_ID) is an HMAC
 * key, not a meter key, and stays in the file. Existing labels are KEYS_INVALID unless `replace`.
 */
export async function importMeterKeys(sm: SecretKeyModule, keys: MeterKeys, options: { readonly replace?: boolean } = {}): Promise<readonly string[]> {
  const imported: string[] = []
  for (const [keyId, key] of keys) {
    if (keyId === PSEUDONYM_KEY_ID) continue
    try {
      await sm.importSecretKey(keyId, key, { replace: options.replace === true })
    } catch (err) {
      if (isCryptoError(err) && err.code === 'KEY_EXISTS') throw new GatewayError('KEYS_INVALID', `the security module holds a key ${keyId} already (--replace to overwrite); imported before it: ${imported.join(', ') || 'none'}`, { cause: err })
      throw new GatewayError('KEY_MODULE_FAILED', `importing meter key ${keyId}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    imported.push(keyId)
  }
  return imported
}

import { GwaError } from './errors.js'

/*
 * The operator's meter keys, checked before anything is sealed (docs/admin-protocol.md
 * "Commands", `meter-keys`): the JSON shape of the gateway's --keys file, `{"keyId": "32 hex
 * digits"}`. Messages name key IDs, never a key.
 */

/**
 * A key ID the gateway can file in its security module: 1–64 characters A–Z a–z 0–9 . _ -,
 * not starting with '.' (the gateway's MODULE_LABEL, packages/gateway/src/admin/meter-keys.ts).
 */
export const METER_KEY_ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/
/** Key IDs of the gateway's own secrets, never sent by the GWA (the pseudonym secret of the --keys file). */
export const RESERVED_KEY_IDS: readonly string[] = ['pseudonym']
/** The most keys one `meter-keys` command carries (MeterKeysContent of @smgw/admin-protocol). */
export const MAX_METER_KEYS = 256

const AES_128_HEX = /^[0-9a-fA-F]{32}$/

export interface MeterKeyEntry {
  readonly keyId: string
  /** AES-128 key, 32 lower-case hex digits (the envelope's spelling). */
  readonly key: string
}

/**
 * Reads `{"keyId": "hex", …}`: every problem is listed by key ID (GWA_REQUEST_INVALID), upper-case
 * hex becomes lower-case; the entries keep the object's order.
 */
export function parseMeterKeys(input: unknown): MeterKeyEntry[] {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new GwaError('GWA_REQUEST_INVALID', 'meter keys: a JSON object {"keyId": "32 hex digits", …}')
  const entries = Object.entries(input)
  if (entries.length === 0) throw new GwaError('GWA_REQUEST_INVALID', 'meter keys: no key')
  if (entries.length > MAX_METER_KEYS) throw new GwaError('GWA_REQUEST_INVALID', `meter keys: ${String(entries.length)} keys, at most ${String(MAX_METER_KEYS)} in one command`)
  const problems: string[] = []
  const out: MeterKeyEntry[] = []
  for (const [keyId, key] of entries) {
    const shown = JSON.stringify(keyId.slice(0, 80))
    if (RESERVED_KEY_IDS.includes(keyId)) problems.push(`${shown}: the gateway's own secret, not a meter key`)
    else if (!METER_KEY_ID_PATTERN.test(keyId)) problems.push(`${shown}: a key ID is 1–64 characters A–Z a–z 0–9 . _ - and does not start with '.'`)
    else if (typeof key !== 'string' || !AES_128_HEX.test(key)) problems.push(`${shown}: the key is not 32 hex digits (AES-128)`)
    else out.push({ keyId, key: key.toLowerCase() })
  }
  if (problems.length > 0) throw new GwaError('GWA_REQUEST_INVALID', `meter keys: ${problems.join('; ')}`)
  return out
}

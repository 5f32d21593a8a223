import type { SecretKeyOps } from '@smgw/crypto'
import type { MeterAddress } from '../link/address.js'

/**
 * A meter key: the 16 bytes themselves, or operations with a key held elsewhere (a security
 * module: @smgw/crypto `SecurityModule.secretKey(label)`), which never hand out the key.
 */
export type MeterKey = Uint8Array | SecretKeyOps

/** A key for every meter, or a lookup by meter address (undefined: no key for this meter). */
export type KeyLookup = MeterKey | ((meter: MeterAddress) => MeterKey | undefined)

export function resolveKey(key: KeyLookup | undefined, meter: MeterAddress): MeterKey | undefined {
  if (key === undefined) return undefined
  return typeof key === 'function' ? key(meter) : key
}

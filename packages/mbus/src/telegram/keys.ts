import type { MeterAddress } from '../link/address.js'

/** A key for every meter, or a lookup by meter address (undefined: no key for this meter). */
export type KeyLookup = Uint8Array | ((meter: MeterAddress) => Uint8Array | undefined)

export function resolveKey(key: KeyLookup | undefined, meter: MeterAddress): Uint8Array | undefined {
  if (key === undefined) return undefined
  return typeof key === 'function' ? key(meter) : key
}

import { aesCmac as cmac } from '@smgw/crypto'
import { checkKey } from './aes.js'

// RFC 4493 / NIST SP 800-38B: AES-CMAC. The algorithm lives in @smgw/crypto (next to the
// security module, whose keys compute it too); this keeps the M-Bus error for a bad key.

/**
 * AES-CMAC of `message` under a 16-byte key (RFC 4493). Returns the full 16-byte tag;
 * truncate with `subarray` for shorter MACs (OMS uses the first 8 bytes).
 */
export function aesCmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  checkKey(key, 'CMAC key')
  return cmac(key, message)
}

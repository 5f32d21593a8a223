import { createHash } from 'node:crypto'
import type { HashName } from '../curves.js'
import { CryptoError } from '../errors.js'
import { HASHES } from './hash.js'

/**
 * ANSI X9.63 KDF (SEC 1 v2 §3.6.1), as RFC 5753 §7.2 uses it for CMS:
 * K = Hash(Z ‖ counter₁ ‖ SharedInfo) ‖ Hash(Z ‖ counter₂ ‖ SharedInfo) ‖ …, counter a 32-bit big-endian from 1.
 */
export function deriveX963(hash: HashName, sharedSecret: Uint8Array, sharedInfo: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * HASHES[hash].size) throw new CryptoError('INVALID_ARGUMENT', `X9.63 KDF length ${String(length)}`)
  const out = new Uint8Array(length)
  const counter = Buffer.alloc(4)
  for (let i = 1, done = 0; done < length; i++) {
    counter.writeUInt32BE(i)
    const block = createHash(HASHES[hash].nodeName).update(sharedSecret).update(counter).update(sharedInfo).digest()
    out.set(block.subarray(0, Math.min(block.length, length - done)), done)
    done += block.length
  }
  return out
}

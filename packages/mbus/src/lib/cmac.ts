import { createCipheriv } from 'node:crypto'
import { checkKey } from './aes.js'

// RFC 4493 / NIST SP 800-38B: AES-CMAC. Written here because node:crypto has no CMAC
// (OpenSSL's EVP_MAC "CMAC" is not exposed by Node's API); it is one CBC-MAC pass over
// AES-128 with two derived subkeys, so AES-128-CBC with a zero IV does the block work.

const RB = 0x87

function doubleBlock(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(16)
  let carry = 0
  for (let i = 15; i >= 0; i--) {
    const b = block[i]!
    out[i] = ((b << 1) | carry) & 0xff
    carry = b >>> 7
  }
  if ((block[0]! & 0x80) !== 0) out[15] = out[15]! ^ RB
  return out
}

/**
 * AES-CMAC of `message` under a 16-byte key (RFC 4493). Returns the full 16-byte tag;
 * truncate with `subarray` for shorter MACs (OMS uses the first 8 bytes).
 */
export function aesCmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  checkKey(key, 'CMAC key')
  const cipher = createCipheriv('aes-128-cbc', key, new Uint8Array(16))
  cipher.setAutoPadding(false)
  // L = AES_K(0^128); K1 = dbl(L), K2 = dbl(K1) (RFC 4493 §2.3).
  const l = new Uint8Array(cipher.update(new Uint8Array(16)))
  const k1 = doubleBlock(l)
  const k2 = doubleBlock(k1)
  const n = message.length === 0 ? 1 : Math.ceil(message.length / 16)
  const complete = message.length > 0 && message.length % 16 === 0
  const last = new Uint8Array(16)
  const lastStart = (n - 1) * 16
  const tail = message.subarray(lastStart)
  last.set(tail)
  if (!complete) last[tail.length] = 0x80
  const sub = complete ? k1 : k2
  for (let i = 0; i < 16; i++) last[i] = last[i]! ^ sub[i]!
  // A fresh CBC chain over M_1..M_{n-1} ‖ M_last; the tag is the last cipher block.
  const chain = createCipheriv('aes-128-cbc', key, new Uint8Array(16))
  chain.setAutoPadding(false)
  // The head's cipher blocks are not needed: only the chaining value they leave behind.
  if (lastStart > 0) chain.update(message.subarray(0, lastStart))
  const final = chain.update(last)
  chain.final()
  return new Uint8Array(final.subarray(0, 16))
}

import { MbusError } from '../errors.js'
import { toKeyOps, ZERO_IV } from '../lib/aes.js'
import type { MeterKey } from '../telegram/keys.js'
import { concatBytes, equalBytes } from '../lib/bytes.js'
import type { DecodedAfl } from '../afl/afl.js'
import type { TransportHeader } from './header.js'
import { deriveKdfA } from './kdf.js'

// EN 13757-7:2018 §9 security modes; OMS Vol. 2 §9.

export interface SecurityContext {
  readonly header: TransportHeader
  readonly body: Uint8Array
  /** M ‖ ID ‖ version ‖ type of the meter (long TPL header if present, else link layer). */
  readonly addressBytes: Uint8Array | undefined
  /** The meter key, bytes or a security module's key operations. */
  readonly key: MeterKey | undefined
  /** The AFL in front of the TPL (mode 7), with the TPDU it protects. */
  readonly afl?: DecodedAfl
  readonly tpdu?: Uint8Array
}

/** Mode 5 IV: M ‖ A (8 bytes) ‖ access number × 8 (EN 13757-7:2018 §9.4.3). */
export function createMode5Iv(addressBytes: Uint8Array, accessNumber: number): Uint8Array {
  const iv = new Uint8Array(16)
  iv.set(addressBytes.subarray(0, 8))
  iv.fill(accessNumber & 0xff, 8)
  return iv
}

/** Returns the plaintext APDU: decrypted blocks followed by any unencrypted remainder. */
export function decryptTpl(ctx: SecurityContext): Uint8Array {
  const { header, body } = ctx
  const mode = header.securityMode
  if (mode === 0) return body
  if (mode !== 5 && mode !== 7) throw new MbusError('MBUS_SECURITY_UNSUPPORTED', `security mode ${mode} is not supported (only 0, 5, 7)`)
  const encLength = header.encryptedBlocks * 16
  if (encLength > body.length) {
    throw new MbusError('MBUS_TRUNCATED', `configuration field announces ${header.encryptedBlocks} encrypted blocks (${encLength} bytes), only ${body.length} follow`)
  }
  if (ctx.key === undefined) throw new MbusError('MISSING_KEY', `security mode ${mode}: no key for this meter`)
  const meterKey = toKeyOps(ctx.key)
  if (ctx.addressBytes === undefined) throw new MbusError('MBUS_FRAME', 'no meter address for the IV / KDF (short header without link address)')
  let cipherKey: ReturnType<typeof toKeyOps>
  let iv: Uint8Array
  if (mode === 5) {
    cipherKey = meterKey
    iv = createMode5Iv(ctx.addressBytes, header.accessNumber ?? 0)
  } else {
    const afl = ctx.afl
    if (!afl || afl.afl.messageCounter === undefined || afl.afl.mac === undefined || ctx.tpdu === undefined) {
      throw new MbusError('MBUS_FRAME', 'security mode 7 needs an AFL with message counter and MAC')
    }
    const kdf = ((header.configurationExtension ?? 0) >> 4) & 0x03
    if (kdf !== 1) throw new MbusError('MBUS_SECURITY_UNSUPPORTED', `mode 7 key derivation ${kdf} is not supported (only KDF-A = 1)`)
    const keys = deriveKdfA(meterKey, afl.afl.messageCounter, ctx.addressBytes.subarray(2, 6))
    // EN 13757-7:2018 §9.5.4: the AFL MAC is verified before anything is decrypted.
    const mac = toKeyOps(keys.mac).cmac(concatBytes([afl.macPrefix, ctx.tpdu])).subarray(0, afl.afl.mac.length)
    if (!equalBytes(mac, afl.afl.mac)) throw new MbusError('MAC_MISMATCH', 'AFL MAC does not match (wrong key or altered message)')
    cipherKey = toKeyOps(keys.encryption)
    iv = ZERO_IV
  }
  if (encLength === 0) return body
  const plain = cipherKey.cbcDecrypt(iv, body.subarray(0, encLength))
  // EN 13757-7:2018 §9.4.4: decrypted data starts with two 2Fh fill bytes (the decryption check).
  if (plain[0] !== 0x2f || plain[1] !== 0x2f) throw new MbusError('DECRYPT_FAILED', `security mode ${mode}: decrypted data does not start with 2F 2F (wrong key?)`)
  if (encLength === body.length) return plain
  const out = new Uint8Array(body.length)
  out.set(plain)
  out.set(body.subarray(encLength), encLength)
  return out
}

/**
 * Encrypts `apdu` for mode 5 (meter key, IV = M ‖ A ‖ ACC×8) or mode 7 (Kenc, zero IV):
 * prefixes 2F 2F, pads with 2Fh to whole blocks and encrypts everything (returns the
 * ciphertext and its block count).
 */
export function encryptTpl(key: MeterKey, iv: Uint8Array, apdu: Uint8Array): { readonly body: Uint8Array; readonly blocks: number } {
  const ops = toKeyOps(key)
  const length = Math.ceil((apdu.length + 2) / 16) * 16
  const plain = new Uint8Array(length).fill(0x2f)
  plain.set(apdu, 2)
  return { body: ops.cbcEncrypt(iv, plain), blocks: length / 16 }
}

/**
 * Hand-written DER (X.690 §8, §10) for the fixed CMS structures we produce per message.
 * Why: building the asn1-schema class tree and serialising it cost more than the ECDSA
 * and ECDH operations of a message (profiled: serialise ≈ 17 %); the constant parts
 * (identifiers, algorithm identifiers, certificate sets) are encoded once with
 * asn1-schema by the prepared signer/encryptor, and only the outer SEQUENCEs, lengths and
 * the per-message OCTET STRINGs are written here. Decoding of received data stays on
 * asn1-schema with its strict checks.
 */

/** The length octets of a definite, minimal-length DER TLV (X.690 §10.1, §8.1.3). */
export function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n)
  if (n < 0x100) return Uint8Array.of(0x81, n)
  if (n < 0x10000) return Uint8Array.of(0x82, n >> 8, n & 0xff)
  if (n < 0x1000000) return Uint8Array.of(0x83, n >> 16, (n >> 8) & 0xff, n & 0xff)
  return Uint8Array.of(0x84, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/** One TLV: `tag` (a single identifier octet) around the concatenation of `parts`. */
export function tlv(tag: number, ...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const len = encodeLength(n)
  const out = new Uint8Array(1 + len.length + n)
  out[0] = tag
  out.set(len, 1)
  let at = 1 + len.length
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
  /** [0] constructed (EXPLICIT, or IMPLICIT of a constructed type). */
  CONTEXT_0: 0xa0,
  CONTEXT_1: 0xa1,
  /** [0] IMPLICIT of a primitive type (EncryptedContentInfo.encryptedContent). */
  CONTEXT_0_PRIMITIVE: 0x80,
} as const

/** A small non-negative INTEGER (X.690 §8.3), for version fields. */
export function encodeSmallInteger(value: number): Uint8Array {
  return Uint8Array.of(TAG.INTEGER, 1, value)
}

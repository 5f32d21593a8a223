import { PkiError } from './errors.js'

/**
 * Total length (header + content) of the DER TLV at the start of `bytes`, checking
 * X.690 §10.1 (definite form, minimal length octets). Used to reject trailing data,
 * which the ASN.1 class parser would otherwise ignore.
 */
export function tlvLength(bytes: Uint8Array): number {
  if (bytes.length < 2) throw new PkiError('PKI_MALFORMED', 'truncated DER')
  if ((bytes[0] ?? 0) & 0x1f) {
    if (((bytes[0] ?? 0) & 0x1f) === 0x1f) throw new PkiError('PKI_MALFORMED', 'high tag numbers not expected here')
  }
  const first = bytes[1] ?? 0
  if (first < 0x80) return 2 + first
  const n = first & 0x7f
  if (n === 0) throw new PkiError('PKI_MALFORMED', 'indefinite length is not DER')
  if (n > 4 || bytes.length < 2 + n) throw new PkiError('PKI_MALFORMED', 'DER length out of range')
  let len = 0
  for (let i = 0; i < n; i++) len = len * 256 + (bytes[2 + i] ?? 0)
  if (bytes[2] === 0 || len < 0x80) throw new PkiError('PKI_MALFORMED', 'DER length not minimal')
  return 2 + n + len
}

/** Throws PKI_MALFORMED unless `bytes` is exactly one TLV with nothing after it. */
export function requireSingleTlv(bytes: Uint8Array, what: string): void {
  const len = tlvLength(bytes)
  if (len !== bytes.length) throw new PkiError('PKI_MALFORMED', `${what}: ${len > bytes.length ? 'truncated' : 'trailing data'}`)
}

export function toHex(bytes: Uint8Array | ArrayBuffer): string {
  return Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex')
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))
}

/** One DER TLV with a definite, minimal length (X.690 §10.1). */
export function encodeTlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length
  let header: number[]
  if (n < 0x80) header = [tag, n]
  else {
    const lenBytes: number[] = []
    for (let v = n; v > 0; v = Math.floor(v / 256)) lenBytes.unshift(v % 256)
    header = [tag, 0x80 | lenBytes.length, ...lenBytes]
  }
  const out = new Uint8Array(header.length + n)
  out.set(header)
  out.set(content, header.length)
  return out
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

/**
 * The SIGNED{} pattern of X.509 (RFC 5280 §4.1, §5.1; RFC 2986 §4.2):
 * SEQUENCE { toBeSigned, AlgorithmIdentifier, BIT STRING (0 unused bits) signature }.
 * Assembled from the exact signed bytes so nothing is re-encoded after signing.
 */
export function encodeSigned(toBeSigned: Uint8Array, algorithmDer: Uint8Array, signature: Uint8Array): Uint8Array {
  const bitString = encodeTlv(0x03, concatBytes(new Uint8Array([0]), signature))
  return encodeTlv(0x30, concatBytes(toBeSigned, algorithmDer, bitString))
}

/** INTEGER content octets of a positive integer given as big-endian magnitude (leading 0x00 when the high bit is set). */
export function positiveIntegerOctets(magnitude: Uint8Array): Uint8Array {
  let start = 0
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++
  const m = magnitude.subarray(start)
  if (m.length === 0 || (m.length === 1 && m[0] === 0)) throw new PkiError('PKI_BAD_ARGUMENT', 'serial number must be positive')
  return ((m[0] ?? 0) & 0x80) !== 0 ? concatBytes(new Uint8Array([0]), m) : new Uint8Array(m)
}

/** The element TLVs of a DER SEQUENCE (tag 0x30), each as a subarray; PKI_MALFORMED on anything else. */
export function decodeSequence(bytes: Uint8Array, what: string): Uint8Array[] {
  requireSingleTlv(bytes, what)
  if (bytes[0] !== 0x30) throw new PkiError('PKI_MALFORMED', `${what}: not a SEQUENCE`)
  const headerLength = (bytes[1] ?? 0) < 0x80 ? 2 : 2 + ((bytes[1] ?? 0) & 0x7f)
  const out: Uint8Array[] = []
  let rest = bytes.subarray(headerLength)
  while (rest.length > 0) {
    const len = tlvLength(rest)
    if (len > rest.length) throw new PkiError('PKI_MALFORMED', `${what}: element truncated`)
    out.push(rest.subarray(0, len))
    rest = rest.subarray(len)
  }
  return out
}

/** Content octets of a BIT STRING TLV with zero unused bits (signatures). */
export function decodeBitStringBytes(tlv: Uint8Array, what: string): Uint8Array {
  requireSingleTlv(tlv, what)
  const headerLength = (tlv[1] ?? 0) < 0x80 ? 2 : 2 + ((tlv[1] ?? 0) & 0x7f)
  if (tlv[0] !== 0x03 || tlv[headerLength] !== 0) throw new PkiError('PKI_MALFORMED', `${what}: not a BIT STRING with 0 unused bits`)
  return tlv.subarray(headerLength + 1)
}

/**
 * Hand-written DER (X.690 §8, §10) for the fixed CMS structures we produce per message.
 * Why: building the asn1-schema class tree and serialising it cost more than the ECDSA
 * and ECDH operations of a message (profiled: serialise ≈ 17 %); the constant parts
 * (identifiers, algorithm identifiers, certificate sets) are encoded once with
 * asn1-schema by the prepared signer/encryptor, and only the outer SEQUENCEs, lengths and
 * the per-message OCTET STRINGs are written here. Received data is read by the strict
 * readers (enveloped-reader.ts, signed-reader.ts, the value readers in content-info.ts) with
 * readDerChildren / readDerTlv below, and by asn1-schema for anything they decline.
 */

/** The length octets of a definite, minimal-length DER TLV (X.690 §10.1, §8.1.3). */
export function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n)
  if (n < 0x100) return Uint8Array.of(0x81, n)
  if (n < 0x10000) return Uint8Array.of(0x82, n >> 8, n & 0xff)
  if (n < 0x1000000) return Uint8Array.of(0x83, n >> 16, (n >> 8) & 0xff, n & 0xff)
  return Uint8Array.of(0x84, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/**
 * A DER value still to be written: bytes, or a TLV around parts. Nested TLVs are written
 * once, into one buffer, by {@link encodeDer} (lengths are known bottom-up), so a large
 * content is copied once, not once per enclosing SEQUENCE.
 */
export type DerPart = Uint8Array | DerNode

export interface DerNode {
  readonly tag: number
  readonly parts: readonly DerPart[]
  /** Length of the contents. */
  readonly length: number
  /** Length of the whole TLV. */
  readonly size: number
}

function sizeOf(part: DerPart): number {
  return part instanceof Uint8Array ? part.length : part.size
}

/** One TLV: `tag` (a single identifier octet) around the concatenation of `parts` (not yet written). */
export function node(tag: number, ...parts: readonly DerPart[]): DerNode {
  let length = 0
  for (const p of parts) length += sizeOf(p)
  return { tag, parts, length, size: 1 + encodeLength(length).length + length }
}

/** Writes a DER value into one new buffer. */
export function encodeDer(part: DerPart): Uint8Array {
  if (part instanceof Uint8Array) return part
  const out = new Uint8Array(part.size)
  write(out, 0, part)
  return out
}

function write(out: Uint8Array, at: number, part: DerPart): number {
  if (part instanceof Uint8Array) {
    out.set(part, at)
    return at + part.length
  }
  out[at] = part.tag
  const len = encodeLength(part.length)
  out.set(len, at + 1)
  let next = at + 1 + len.length
  for (const p of part.parts) next = write(out, next, p)
  return next
}

/** One TLV, written now: `tag` around the concatenation of `parts`. */
export function tlv(tag: number, ...parts: readonly DerPart[]): Uint8Array {
  return encodeDer(node(tag, ...parts))
}

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTC_TIME: 0x17,
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

/** One TLV found by {@link readChildren}: its tag octet, the whole TLV and its contents. */
export interface RawTlv {
  readonly tag: number
  readonly bytes: Uint8Array
  readonly contents: Uint8Array
}

/**
 * The TLVs inside the contents of the single TLV `bytes` (one level), or undefined for
 * anything that is not plain definite-length encoding (high tag numbers, indefinite lengths,
 * lengths past the end). Only used to find the exact received bytes of parts asn1-schema has
 * already accepted (as cache keys); never as a decoder of its own.
 */
export function readChildren(bytes: Uint8Array): RawTlv[] | undefined {
  return children(bytes, false)
}

/**
 * As {@link readChildren}, but also undefined unless every length octet is DER: definite and
 * in its minimal form (X.690 §10.1, §8.1.3.5). Used to take received bytes as they are
 * where the signature or a comparison is over the DER (signed attributes, identifiers).
 */
export function readDerChildren(bytes: Uint8Array): RawTlv[] | undefined {
  return children(bytes, true)
}

/** `bytes` as exactly one TLV whose length octets are DER (nothing after it), or undefined. */
export function readDerTlv(bytes: Uint8Array): RawTlv | undefined {
  const t = readTlv(bytes, 0, true)
  return t === undefined || t.end !== bytes.length ? undefined : { tag: t.tag, bytes, contents: bytes.subarray(t.contentStart, t.end) }
}

function children(bytes: Uint8Array, strict: boolean): RawTlv[] | undefined {
  const outer = readTlv(bytes, 0, strict)
  if (outer === undefined || outer.end !== bytes.length) return undefined
  const out: RawTlv[] = []
  for (let at = outer.contentStart; at < outer.end;) {
    const t = readTlv(bytes, at, strict)
    if (t === undefined || t.end > outer.end) return undefined
    out.push({ tag: t.tag, bytes: bytes.subarray(at, t.end), contents: bytes.subarray(t.contentStart, t.end) })
    at = t.end
  }
  return out
}

function readTlv(bytes: Uint8Array, at: number, strict: boolean): { tag: number; contentStart: number; end: number } | undefined {
  const tag = bytes[at]
  const first = bytes[at + 1]
  if (tag === undefined || first === undefined || (tag & 0x1f) === 0x1f) return undefined
  let length = first
  let contentStart = at + 2
  if (first >= 0x80) {
    const n = first & 0x7f
    if (n === 0 || n > 4) return undefined
    length = 0
    for (let i = 0; i < n; i++) {
      const b = bytes[at + 2 + i]
      if (b === undefined) return undefined
      if (strict && i === 0 && b === 0) return undefined
      length = length * 256 + b
    }
    if (strict && length < 0x80) return undefined
    contentStart += n
  }
  const end = contentStart + length
  return end > bytes.length ? undefined : { tag, contentStart, end }
}

/** Dotted form of OBJECT IDENTIFIER contents in DER (X.690 §8.19), subidentifiers below 2^28; undefined otherwise. */
export function decodeOid(contents: Uint8Array): string | undefined {
  const ids: number[] = []
  let value = 0
  let octets = 0
  for (const b of contents) {
    if (octets === 0 && b === 0x80) return undefined
    value = value * 128 + (b & 0x7f)
    octets++
    if (octets > 4) return undefined
    if ((b & 0x80) === 0) {
      ids.push(value)
      value = 0
      octets = 0
    }
  }
  if (octets !== 0 || ids.length === 0) return undefined
  const first = ids[0] ?? 0
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80]
  return [...head, ...ids.slice(1)].join('.')
}

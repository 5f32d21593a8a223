import { createHash } from 'node:crypto'
import { formatCanonicalJson } from '../canonical-json.js'

/*
 * The chain rule (format version 1). Each entry's hash is
 *
 *   SHA-256( UTF-8( JCS( ["smgw-log/1", log, stream, seq, time, type, fields, prev] ) ) )
 *
 * in lower-case hex, where JCS is RFC 8785 canonical JSON, `fields` the entry's fields
 * object and `prev` the previous entry's hash in the same (log, stream) chain
 * (GENESIS for seq 1). A day head's signature is ECDSA (hash by curve, TR-03109-3) over
 *
 *   UTF-8( JCS( ["smgw-log-head/1", log, stream, kind, day, seq, hash, signedAt] ) )
 *
 * Hash: FIPS 180-4 SHA-256. ECDSA: FIPS 186-4 §6.4, DER signature (RFC 3279 §2.2.3).
 */
export const ENTRY_FORMAT = 'smgw-log/1'
export const HEAD_FORMAT = 'smgw-log-head/1'
export const GENESIS = '0'.repeat(64)

export interface ChainEntry {
  readonly log: string
  readonly stream: string
  readonly seq: number
  /** ISO 8601 UTC with milliseconds. */
  readonly time: string
  readonly type: string
  readonly fields: Readonly<Record<string, unknown>>
  readonly prev: string
}

export function encodeEntry(e: ChainEntry): Uint8Array {
  return new TextEncoder().encode(formatCanonicalJson([ENTRY_FORMAT, e.log, e.stream, e.seq, e.time, e.type, e.fields, e.prev]))
}

export function hashEntry(e: ChainEntry): string {
  return createHash('sha256').update(encodeEntry(e)).digest('hex')
}

export interface ChainHead {
  readonly log: string
  readonly stream: string
  readonly kind: 'day'
  readonly day: string
  readonly seq: number
  readonly hash: string
  readonly signedAt: string
}

export function encodeHead(h: ChainHead): Uint8Array {
  return new TextEncoder().encode(formatCanonicalJson([HEAD_FORMAT, h.log, h.stream, h.kind, h.day, h.seq, h.hash, h.signedAt]))
}

/** SHA-256 of a certificate's DER, lower-case hex: how heads refer to the SIG certificate. */
export function certificateRef(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex')
}

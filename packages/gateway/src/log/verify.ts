import { CURVES, decodeCertificate, verifyEcdsa, type CertificateInfo } from '@smgw/crypto'
import { validatePath } from '@smgw/pki'
import { formatCanonicalJson } from '../canonical-json.js'
import { messageOf } from '../store/store.js'
import type { LogName, RawRow, Store } from '../store/types.js'
import { GENESIS, certificateRef, encodeHead, hashEntry } from './chain.js'
import { legalDayOf } from './legal-day.js'

/** Why a chain does not verify. Stable; listed in README.md. */
export type LogVerifyReason =
  /** An entry whose columns are not what the writer writes (type, format, non-canonical fields). */
  | 'ENTRY_MALFORMED'
  /** Entries are missing: `seq` is the first missing one. */
  | 'SEQ_GAP'
  /** An entry's seq is lower than or equal to the one before (reordered or duplicated). */
  | 'SEQ_ORDER'
  /** The entry's content does not hash to its stored hash (changed). */
  | 'HASH_MISMATCH'
  /** The entry's prev is not the previous entry's hash (inserted, removed or replaced before it). */
  | 'PREV_MISMATCH'
  /** A head record that is not what the writer writes. */
  | 'HEAD_MALFORMED'
  /** A head that does not match its entry (hash, day), or that is not the last entry of its day. */
  | 'HEAD_MISMATCH'
  /** The last entry of a legal day followed by a later day has no signed day head. */
  | 'HEAD_MISSING'
  /** A head refers to an entry beyond the last one: the tail was cut; `seq` is the first missing entry. */
  | 'TRUNCATED'
  /** A head's signature does not verify with its certificate. */
  | 'BAD_SIGNATURE'
  /** A head refers to a certificate that is neither given nor stored. */
  | 'CERT_UNKNOWN'
  /** A head refers to another certificate than the one given, or a stored certificate does not match its reference. */
  | 'CERT_MISMATCH'
  /** The certificate does not decode, or its path to the given roots does not validate for purpose 'sig'. */
  | 'CERT_INVALID'

/** One chain as read from a store or an export, nothing checked yet. */
export interface LogChainInput {
  readonly log: string
  readonly stream: string
  /** Rows with seq, time, type, fields (canonical JSON text), prev, hash; in file order. */
  readonly entries: readonly RawRow[]
  /** Rows with seq, kind, day, hash, signed_at, signature (bytes), cert_ref. */
  readonly heads: readonly RawRow[]
  /** Certificates by reference (SHA-256 of the DER, hex) as carried by the source. */
  readonly certificates: ReadonlyMap<string, Uint8Array>
  /**
   * A range (export.ts chainSince): the entries start at this seq (> 1), and the head at
   * `firstSeq - 1` (the signed head of the day before) anchors the first entry's `prev`.
   */
  readonly firstSeq?: number
}

export interface VerifyLogOptions {
  /** The gateway's SIG certificate (DER). Without it, the certificates carried by the source are used (self-asserted). */
  readonly certificate?: Uint8Array
  /** Trust anchors: the SIG certificate's path is validated with @smgw/pki validatePath, purpose 'sig', at each head's signing time. */
  readonly roots?: readonly Uint8Array[]
  readonly intermediates?: readonly Uint8Array[]
  readonly crls?: readonly Uint8Array[]
}

export type LogVerifyResult =
  | {
    readonly ok: true
    readonly log: string
    readonly stream: string
    readonly entries: number
    readonly heads: number
    /** Highest seq covered by a signed head (0 when none). Entries after it are chained but not yet signed. */
    readonly signedThrough: number
    /** 'path': certificate validated to a root; 'given': the certificate was given; 'carried': only the certificate in the source. */
    readonly trust: 'path' | 'given' | 'carried' | 'none'
    /** A range: the first entry's seq (its predecessor's hash is in the signed anchor head). */
    readonly firstSeq?: number
  }
  | {
    readonly ok: false
    readonly log: string
    readonly stream: string
    /** The first bad entry (or the entry a bad head refers to). */
    readonly seq: number
    readonly reason: LogVerifyReason
    readonly detail: string
  }

interface Failure { readonly seq: number; readonly reason: LogVerifyReason; readonly detail: string }

const HASH = /^[0-9a-f]{64}$/
const TYPE = /^[a-z][a-z0-9-]{0,63}$/
const DAY = /^\d{4}-\d{2}-\d{2}$/

interface Entry { readonly seq: number; readonly time: string; readonly day: string; readonly hash: string }

/**
 * Verifies one hash chain and its signed day heads. Synchronous; never throws for any
 * content of the chain: every defect is a result with the first bad seq and a reason.
 * The first failure in seq order is reported; at the same seq an entry failure wins.
 */
export function verifyLog(chain: LogChainInput, options: VerifyLogOptions = {}): LogVerifyResult {
  const { log, stream } = chain
  const checked: Entry[] = []
  const entryFailure = verifyEntries(chain, checked)
  const headResult = verifyHeads(chain, checked, options)
  const failures = [entryFailure, 'failure' in headResult ? headResult.failure : undefined].filter((f): f is Failure => f !== undefined)
  const first = failures.sort((a, b) => a.seq - b.seq)[0]
  if (first !== undefined) return { ok: false, log, stream, ...first }
  const h = headResult as HeadSummary
  return {
    ok: true, log, stream, entries: checked.length, heads: chain.heads.length, signedThrough: h.signedThrough, trust: h.trust,
    ...(chain.firstSeq === undefined || chain.firstSeq <= 1 ? {} : { firstSeq: chain.firstSeq }),
  }
}

function verifyEntries(chain: LogChainInput, out: Entry[]): Failure | undefined {
  let expected = 1
  let prevHash = GENESIS
  const firstSeq = chain.firstSeq ?? 1
  if (!Number.isSafeInteger(firstSeq) || firstSeq < 1) return { seq: 1, reason: 'ENTRY_MALFORMED', detail: `firstSeq ${String(firstSeq)} is not a positive integer` }
  if (firstSeq > 1) {
    // A range: entry firstSeq follows the entry the anchor head signed (its signature is checked with the heads).
    const anchor = chain.heads.find((h) => h.seq === firstSeq - 1)
    if (anchor === undefined || typeof anchor.hash !== 'string' || !HASH.test(anchor.hash)) {
      return { seq: firstSeq, reason: 'HEAD_MISSING', detail: `the range starts at entry ${firstSeq}, but there is no signed day head at entry ${firstSeq - 1} to anchor it` }
    }
    expected = firstSeq
    prevHash = anchor.hash
  }
  const prevEntries: Entry[] = out
  for (const row of chain.entries) {
    const seq = row.seq
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
      return { seq: expected, reason: 'ENTRY_MALFORMED', detail: `entry after seq ${expected - 1}: seq is not a positive integer (${String(seq)})` }
    }
    if (seq > expected) {
      const later = chain.entries.some((r) => r.seq === expected)
      if (later) return { seq: expected, reason: 'SEQ_ORDER', detail: `entry ${expected} comes after entry ${seq}` }
      return { seq: expected, reason: 'SEQ_GAP', detail: `entry ${expected}${seq - expected > 1 ? `…${seq - 1}` : ''} missing: ${seq} follows ${expected - 1}` }
    }
    if (seq < expected) return { seq, reason: 'SEQ_ORDER', detail: `entry ${seq} follows ${expected - 1}` }
    const { time, type, fields, prev, hash } = row
    if (typeof time !== 'string' || !isIsoTime(time)) return { seq, reason: 'ENTRY_MALFORMED', detail: `entry ${seq}: time is not ISO 8601 UTC with milliseconds` }
    if (typeof type !== 'string' || !TYPE.test(type)) return { seq, reason: 'ENTRY_MALFORMED', detail: `entry ${seq}: type is not an entry type name` }
    if (typeof prev !== 'string' || !HASH.test(prev) || typeof hash !== 'string' || !HASH.test(hash)) {
      return { seq, reason: 'ENTRY_MALFORMED', detail: `entry ${seq}: prev and hash must be 64 lower-case hex digits` }
    }
    const parsed = parseFields(fields)
    if (parsed === undefined) return { seq, reason: 'ENTRY_MALFORMED', detail: `entry ${seq}: fields are not a canonical JSON object` }
    const computed = hashEntry({ log: chain.log, stream: chain.stream, seq, time, type, fields: parsed, prev })
    if (computed !== hash) return { seq, reason: 'HASH_MISMATCH', detail: `entry ${seq}: content hashes to ${computed.slice(0, 16)}…, stored ${hash.slice(0, 16)}…` }
    if (prev !== prevHash) return { seq, reason: 'PREV_MISMATCH', detail: `entry ${seq}: prev ${prev.slice(0, 16)}… is not the hash of entry ${seq - 1} (${prevHash.slice(0, 16)}…)` }
    prevEntries.push({ seq, time, day: legalDayOf(new Date(time)), hash })
    prevHash = hash
    expected = seq + 1
  }
  return undefined
}

interface HeadSummary { readonly signedThrough: number; readonly trust: 'path' | 'given' | 'carried' | 'none' }

function verifyHeads(chain: LogChainInput, entries: readonly Entry[], options: VerifyLogOptions): HeadSummary | { failure: Failure } {
  const bySeq = new Map(entries.map((e) => [e.seq, e]))
  const anchorSeq = (chain.firstSeq ?? 1) - 1
  const lastSeq = entries.at(-1)?.seq ?? Math.max(0, anchorSeq)
  const headSeqs = new Set<number>()
  let signedThrough = 0
  const certs = new Map<string, CertificateInfo>()
  const givenRef = options.certificate === undefined ? undefined : certificateRef(options.certificate)
  const fail = (seq: number, reason: LogVerifyReason, detail: string) => ({ failure: { seq, reason, detail } })
  let trust: HeadSummary['trust'] = 'none'

  for (const row of chain.heads) {
    const { seq, kind, day, hash, signed_at: signedAt, signature, cert_ref: certRef } = row
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1 || kind !== 'day' || typeof day !== 'string' || !DAY.test(day)
      || typeof hash !== 'string' || !HASH.test(hash) || typeof signedAt !== 'string' || !isIsoTime(signedAt)
      || !(signature instanceof Uint8Array) || typeof certRef !== 'string' || !HASH.test(certRef)) {
      return fail(typeof seq === 'number' && Number.isSafeInteger(seq) ? seq : lastSeq + 1, 'HEAD_MALFORMED', `head at seq ${String(seq)}: columns are not what the writer writes`)
    }
    if (headSeqs.has(seq)) return fail(seq, 'HEAD_MALFORMED', `two day heads at seq ${seq}`)
    headSeqs.add(seq)
    const entry = bySeq.get(seq)
    // A range's anchor signs an entry the range does not hold: its hash is the first entry's prev (verifyEntries), its signature is checked below.
    const isAnchor = entry === undefined && anchorSeq >= 1 && seq === anchorSeq
    if (entry === undefined && !isAnchor) {
      if (seq > lastSeq) return fail(lastSeq + 1, 'TRUNCATED', `the day head ${day} covers entry ${seq}, the chain ends at ${lastSeq}`)
      continue // a missing entry inside the chain is reported by the entry check
    }
    if (entry !== undefined && entry.hash !== hash) return fail(seq, 'HEAD_MISMATCH', `the day head ${day} holds another hash than entry ${seq}`)
    if (entry !== undefined && entry.day !== day) return fail(seq, 'HEAD_MISMATCH', `the day head says ${day}, entry ${seq} is of ${entry.day}`)
    const next = bySeq.get(seq + 1)
    if (next !== undefined && next.day <= day) return fail(seq, 'HEAD_MISMATCH', `the day head ${day} is at entry ${seq}, but entry ${seq + 1} is of the same day`)

    // The certificate: the given one (must be the one referred to), else the carried one.
    // A carried certificate must match its reference in any case.
    const carried = chain.certificates.get(certRef)
    if (carried !== undefined && certificateRef(carried) !== certRef) return fail(seq, 'CERT_MISMATCH', `the carried certificate ${certRef.slice(0, 16)}… does not hash to its reference`)
    let der: Uint8Array | undefined
    if (options.certificate !== undefined) {
      if (certRef !== givenRef) return fail(seq, 'CERT_MISMATCH', `the day head ${day} was signed under certificate ${certRef.slice(0, 16)}…, not the one given`)
      der = options.certificate
    } else {
      der = chain.certificates.get(certRef)
      if (der === undefined) return fail(seq, 'CERT_UNKNOWN', `the day head ${day} refers to certificate ${certRef.slice(0, 16)}…, which is not in the source`)
    }
    let cert = certs.get(certRef)
    if (cert === undefined) {
      try {
        cert = decodeCertificate(der)
      } catch (err) {
        return fail(seq, 'CERT_INVALID', `the SIG certificate does not decode: ${messageOf(err)}`)
      }
      certs.set(certRef, cert)
    }
    if (cert.curve === undefined) return fail(seq, 'CERT_INVALID', 'the SIG certificate has no TR-03109-3 EC key')
    let valid: boolean
    try {
      valid = verifyEcdsa(cert.publicKey, encodeHead({ log: chain.log, stream: chain.stream, kind: 'day', day, seq, hash, signedAt }), signature, CURVES[cert.curve].hash)
    } catch (err) {
      return fail(seq, 'CERT_INVALID', `the SIG certificate's key is not usable: ${messageOf(err)}`)
    }
    if (!valid) return fail(seq, 'BAD_SIGNATURE', `the signature of the day head ${day} (entry ${seq}) does not verify`)
    if (options.roots !== undefined) {
      const r = validatePath({
        leaf: der, intermediates: options.intermediates ?? [], roots: options.roots, crls: options.crls ?? [], at: new Date(signedAt), purpose: 'sig',
      })
      if (!r.ok) return fail(seq, 'CERT_INVALID', `the SIG certificate does not validate at ${signedAt}: ${r.reason}: ${r.detail}`)
      trust = 'path'
    } else trust = options.certificate !== undefined ? 'given' : 'carried'
    signedThrough = Math.max(signedThrough, seq)
  }

  // Every day that is followed by a later day must end in a signed head.
  for (let i = 0; i + 1 < entries.length; i++) {
    const e = entries[i]!
    if (entries[i + 1]!.day > e.day && !headSeqs.has(e.seq)) return fail(e.seq, 'HEAD_MISSING', `legal day ${e.day} ends at entry ${e.seq} without a signed day head`)
  }
  return { signedThrough, trust }
}

function isIsoTime(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(text)) return false
  const t = new Date(text)
  return Number.isFinite(t.getTime()) && t.toISOString() === text
}

function parseFields(fields: unknown): Record<string, unknown> | undefined {
  if (typeof fields !== 'string') return undefined
  try {
    const parsed: unknown = JSON.parse(fields)
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
    return formatCanonicalJson(parsed) === fields ? parsed as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/** Reads one chain from a store. */
export function readLogChain(store: Store, log: LogName, stream: string): LogChainInput {
  const certificates = new Map<string, Uint8Array>()
  for (const row of store.logRows.certificates()) {
    // A der that is not a BLOB any more stays in as no bytes: it then fails its reference (CERT_MISMATCH).
    if (typeof row.ref === 'string') certificates.set(row.ref, row.der instanceof Uint8Array ? new Uint8Array(row.der) : new Uint8Array())
  }
  const heads = store.logRows.heads(log, stream).map((h) => (h.signature instanceof Uint8Array ? { ...h, signature: new Uint8Array(h.signature) } : h))
  return { log, stream, entries: store.logRows.entries(log, stream), heads, certificates }
}

export interface StoreVerifyResult {
  readonly ok: boolean
  readonly chains: readonly LogVerifyResult[]
}

/** Verifies every chain of a store (all three logs, every consumer). */
export function verifyStoreLogs(store: Store, options: VerifyLogOptions = {}): StoreVerifyResult {
  const chains = store.logRows.streams().map(({ log, stream }) => verifyLog(readLogChain(store, log as LogName, stream), options))
  return { ok: chains.every((c) => c.ok), chains }
}

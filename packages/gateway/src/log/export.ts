import { z } from 'zod'
import { formatCanonicalJson } from '../canonical-json.js'
import { GatewayError } from '../errors.js'
import { decodeHex, encodeHex } from '../hex.js'
import type { LogName, RawRow, Store } from '../store/types.js'
import { legalDayOf } from './legal-day.js'
import { readLogChain, type LogChainInput } from './verify.js'

/*
 * The export format of one chain, "smgw-log-export/1": UTF-8 JSON lines, each line
 * RFC 8785 canonical JSON ending in "\n", in this order:
 *
 *   {"certificates":[{"der":HEX,"ref":HEX}…],"format":"smgw-log-export/1","log":…,"stream":…}
 *   {"fields":{…},"hash":HEX,"kind":"entry","prev":HEX,"seq":1,"time":"…Z","type":"…"}   (ascending seq)
 *   {"certRef":HEX,"day":"YYYY-MM-DD","hash":HEX,"kind":"head","seq":N,"signature":HEX,"signedAt":"…Z"}
 *
 * Everything needed to verify offline is inside: the chain, the signed day heads and
 * the SIG certificates they refer to (only those). Hex is lower-case. Decoding is strict —
 * a line that is not exactly the canonical encoding of its content is refused — so no
 * byte of a file can change without changing what is verified.
 *
 * A range export (`read-log` with `sinceSeq`, exportLogSince) has `"firstSeq":F` in its header:
 * its entries start at F, the first entry of a legal day, and its first head line is the signed
 * head of the day before (seq F - 1, the anchor): entry F's `prev` must be that head's hash, so
 * the range is tied to the signed chain without the entries before it. F = last + 1 with only
 * the anchor: nothing new.
 */
export const EXPORT_FORMAT = 'smgw-log-export/1'

const hexText = z.string().regex(/^(?:[0-9a-f]{2})+$/)
const Header = z.strictObject({
  format: z.literal(EXPORT_FORMAT),
  log: z.enum(['system', 'consumer', 'calibration']),
  stream: z.string().max(64),
  certificates: z.array(z.strictObject({ ref: hexText, der: hexText })),
  firstSeq: z.int().min(2).optional(),
})
const EntryLine = z.strictObject({
  kind: z.literal('entry'),
  seq: z.int(),
  time: z.string(),
  type: z.string(),
  fields: z.record(z.string(), z.unknown()),
  prev: z.string(),
  hash: z.string(),
})
const HeadLine = z.strictObject({
  kind: z.literal('head'),
  seq: z.int(),
  day: z.string(),
  hash: z.string(),
  signedAt: z.string(),
  signature: hexText,
  certRef: z.string(),
})

/** Formats one chain of a store as an export file. */
export function exportLog(store: Store, log: LogName, stream: string): string {
  return formatLogExport(readLogChain(store, log, stream))
}

/** Formats what a reader who has read through entry `sinceSeq` lacks (chainSince) as a range export; 0: the whole chain. */
export function exportLogSince(store: Store, log: LogName, stream: string, sinceSeq: number): string {
  return formatLogExport(chainSince(readLogChain(store, log, stream), sinceSeq))
}

/**
 * The part of a chain after entry `sinceSeq`, as `smgw log verify` can still check it: whole
 * legal days from the day of entry `sinceSeq + 1`, reaching back further while the day before
 * has no signed head (its head is the anchor the range starts from), and with the heads of
 * those days. The whole chain when that reaches entry 1 or `sinceSeq` is 0. Past the end: the
 * anchor alone if the last entry's day is signed, else the last unsigned days. Pure.
 */
export function chainSince(chain: LogChainInput, sinceSeq: number): LogChainInput {
  if (!Number.isSafeInteger(sinceSeq) || sinceSeq < 0) throw new GatewayError('LOG_EXPORT_MALFORMED', `sinceSeq ${String(sinceSeq)} is not a non-negative integer`)
  const entries = chain.entries
  const seqOf = (row: RawRow): number => Number(row.seq)
  const last = entries.length === 0 ? 0 : seqOf(entries[entries.length - 1]!)
  const indexOf = new Map(entries.map((e, i) => [seqOf(e), i]))
  const headAt = new Map(chain.heads.map((h) => [Number(h.seq), h]))
  const dayOf = (seq: number): string | undefined => {
    const row = entries[indexOf.get(seq) ?? -1]
    return typeof row?.time === 'string' ? legalDayOf(new Date(row.time)) : undefined
  }
  /** The first entry of the legal day of entry `seq`. */
  const dayStart = (seq: number): number => {
    const day = dayOf(seq)
    let s = seq
    while (s > 1 && day !== undefined && dayOf(s - 1) === day) s--
    return s
  }
  let from = Math.min(sinceSeq + 1, last + 1)
  if (from <= last) from = dayStart(from)
  while (from > 1 && !headAt.has(from - 1)) from = dayStart(from - 1)
  if (from <= 1) return chain
  const anchor = headAt.get(from - 1)!
  return {
    ...chain,
    firstSeq: from,
    entries: entries.filter((e) => seqOf(e) >= from),
    heads: [anchor, ...chain.heads.filter((h) => Number(h.seq) >= from)],
  }
}

/** Formats a chain as read (unchecked: a tampered store exports as it is, and fails verification). */
export function formatLogExport(chain: LogChainInput): string {
  const used = new Set(chain.heads.map((h) => h.cert_ref))
  const certificates = [...chain.certificates].filter(([ref]) => used.has(ref)).map(([ref, der]) => ({ ref, der: encodeHex(der) }))
  const lines = [formatCanonicalJson({ format: EXPORT_FORMAT, log: chain.log, stream: chain.stream, certificates, ...(chain.firstSeq === undefined || chain.firstSeq <= 1 ? {} : { firstSeq: chain.firstSeq }) })]
  for (const e of chain.entries) {
    let fields: unknown = e.fields
    try {
      fields = typeof e.fields === 'string' ? JSON.parse(e.fields) : e.fields
    } catch { /* exported as the text it is; decoding will refuse it */ }
    lines.push(formatCanonicalJson({ kind: 'entry', seq: json(e.seq), time: json(e.time), type: json(e.type), fields: json(fields), prev: json(e.prev), hash: json(e.hash) }))
  }
  for (const h of chain.heads) {
    lines.push(formatCanonicalJson({
      kind: 'head', seq: json(h.seq), day: json(h.day), hash: json(h.hash), signedAt: json(h.signed_at),
      signature: h.signature instanceof Uint8Array ? encodeHex(h.signature) : json(h.signature), certRef: json(h.cert_ref),
    }))
  }
  return lines.map((l) => `${l}\n`).join('')
}

/** SQLite values as JSON: bigint as number when safe, bytes as hex, anything else as text. */
function json(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()
  if (v instanceof Uint8Array) return encodeHex(v)
  if (v === null || v === undefined) return null
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v)
  return v
}

/** Decodes an export file into a chain for verifyLog; LOG_EXPORT_MALFORMED for anything not in the format. */
export function decodeLogExport(input: Uint8Array | string): LogChainInput {
  let text: string
  try {
    text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input)
  } catch (err) {
    throw malformed(0, 'not UTF-8', err)
  }
  if (!text.endsWith('\n')) throw malformed(0, 'the file does not end with a line end')
  const lines = text.slice(0, -1).split('\n')
  const headerLine = lines[0] ?? ''
  const header = parseLine(headerLine, 1, Header)
  const entries: Record<string, unknown>[] = []
  const heads: Record<string, unknown>[] = []
  let inHeads = false
  lines.slice(1).forEach((line, i) => {
    const n = i + 2
    if (line.startsWith('{"certRef"')) inHeads = true
    if (!inHeads) {
      const e = parseLine(line, n, EntryLine)
      entries.push({ seq: e.seq, time: e.time, type: e.type, fields: formatCanonicalJson(e.fields), prev: e.prev, hash: e.hash })
    } else {
      const h = parseLine(line, n, HeadLine)
      if (heads.length > 0 && Number(heads.at(-1)?.seq) >= h.seq) throw malformed(n, 'heads out of order')
      heads.push({ seq: h.seq, kind: 'day', day: h.day, hash: h.hash, signed_at: h.signedAt, signature: decodeHex(h.signature), cert_ref: h.certRef })
    }
  })
  const used = new Set(heads.map((h) => h.cert_ref))
  const certificates = new Map<string, Uint8Array>()
  for (const c of header.certificates) {
    if (!used.has(c.ref) || certificates.has(c.ref)) throw malformed(1, `certificate ${c.ref.slice(0, 16)}… is not referred to by a head, or listed twice`)
    certificates.set(c.ref, decodeHex(c.der) ?? new Uint8Array())
  }
  return { log: header.log, stream: header.stream, entries, heads, certificates, ...(header.firstSeq === undefined ? {} : { firstSeq: header.firstSeq }) }
}

function parseLine<T>(line: string, n: number, schema: z.ZodType<T>): T {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch (err) {
    throw malformed(n, 'not JSON', err)
  }
  const r = schema.safeParse(value)
  if (!r.success) throw malformed(n, r.error.issues[0]?.message ?? 'not in the format')
  let canonical: string
  try {
    canonical = formatCanonicalJson(value)
  } catch (err) {
    throw malformed(n, 'not canonical JSON', err)
  }
  if (canonical !== line) throw malformed(n, 'not in canonical form (RFC 8785)')
  return r.data
}

function malformed(line: number, why: string, cause?: unknown): GatewayError {
  return new GatewayError('LOG_EXPORT_MALFORMED', `log export${line > 0 ? ` line ${line}` : ''}: ${why}`, cause === undefined ? undefined : { cause })
}

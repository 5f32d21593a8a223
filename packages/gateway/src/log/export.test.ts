import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../errors.js'
import { createTempDir, createTestSig, type TestSig } from '../testing.js'
import { chainSince, decodeLogExport, exportLog, exportLogSince, formatLogExport } from './export.js'
import { writeTestLogs } from './fixture.js'
import { detectLogSource } from './source.js'
import { verifyLog, type LogVerifyResult } from './verify.js'

let tmp: { dir: string; remove: () => Promise<void> }
let sig: TestSig
let exported: string
let exportedSystem: string
/** The system chain as range exports by sinceSeq (8 entries: days 28 (1–3, head 3), 29 (4–6, head 6), 30 (7–8, not signed yet)). */
let since: Map<number, string>

beforeAll(async () => {
  tmp = await createTempDir('smgw-export-')
  sig = await createTestSig()
  const store = await writeTestLogs(join(tmp.dir, 'gateway.db'), sig)
  exported = exportLog(store, 'consumer', 'c-1')
  exportedSystem = exportLog(store, 'system', '')
  since = new Map([0, 2, 3, 4, 6, 8, 100].map((n) => [n, exportLogSince(store, 'system', '', n)]))
  store.close()
})
afterAll(async () => { await tmp.remove() })

/** Decode and verify; a GatewayError from decoding counts as "does not verify". */
function check(text: string | Uint8Array, withCertificate = true): LogVerifyResult | GatewayError {
  try {
    return verifyLog(decodeLogExport(text), withCertificate ? { certificate: sig.certificate } : {})
  } catch (err) {
    if (err instanceof GatewayError) return err
    throw err
  }
}

describe('log export (smgw-log-export/1)', () => {
  it('carries one consumer\'s chain, its signed heads and the certificate, and verifies offline', () => {
    const lines = exported.trimEnd().split('\n')
    expect(lines).toHaveLength(1 + 8 + 2)
    expect(JSON.parse(lines[0]!)).toMatchObject({ format: 'smgw-log-export/1', log: 'consumer', stream: 'c-1', certificates: [{ der: Buffer.from(sig.certificate).toString('hex') }] })
    expect(lines[1]).toMatch(/^\{"fields":\{"dataClass":"load-profile",.*"kind":"entry","prev":"0{64}","seq":1,"time":"2026-03-28T10:00:00.000Z","type":"data-sent"\}$/)
    expect(lines.slice(9).map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([3, 6])
    expect(exported).not.toContain('c-2')
    expect(check(exported)).toMatchObject({ ok: true, log: 'consumer', stream: 'c-1', entries: 8, signedThrough: 6, trust: 'given' })
    expect(check(exported, false)).toMatchObject({ ok: true, trust: 'carried' })
    expect(check(new TextEncoder().encode(exportedSystem))).toMatchObject({ ok: true, log: 'system', stream: '', entries: 8 })
    expect(detectLogSource(new TextEncoder().encode(exported))).toBe('export')
  })

  it('reordered entry lines → SEQ_ORDER; a duplicated line → SEQ_ORDER; a removed line → SEQ_GAP', () => {
    const lines = exported.split('\n')
    const swap = [...lines]
    ;[swap[4], swap[5]] = [swap[5]!, swap[4]!]
    expect(check(swap.join('\n'))).toMatchObject({ ok: false, seq: 4, reason: 'SEQ_ORDER' })
    const dup = [...lines.slice(0, 3), lines[2]!, ...lines.slice(3)]
    expect(check(dup.join('\n'))).toMatchObject({ ok: false, seq: 2, reason: 'SEQ_ORDER' })
    expect(check([...lines.slice(0, 3), ...lines.slice(4)].join('\n'))).toMatchObject({ ok: false, seq: 3, reason: 'SEQ_GAP' })
  })

  it('LOG_EXPORT_MALFORMED: not UTF-8, no final line end, unknown keys, non-canonical lines, stray certificates, heads out of order', () => {
    const lines = exported.trimEnd().split('\n')
    const malformed = [
      new Uint8Array([0x7b, 0xff, 0x0a]),
      exported.trimEnd(),
      exported.replace('"kind":"entry"', '"kind":"entry","extra":1'),
      exported.replace('"seq":1,', '"seq":1.0,'),
      exported.replace('{"fields"', '{ "fields"'),
      [lines[0]!.replace('"certificates":[', '"certificates":[{"der":"00","ref":"00"},'), ...lines.slice(1)].join('\n') + '\n',
      [...lines.slice(0, 9), lines[10], lines[9]].join('\n') + '\n',
      [...lines.slice(0, 9), lines[9], lines[1]].join('\n') + '\n',
      '',
    ]
    for (const m of malformed) expect(check(m)).toMatchObject({ code: 'LOG_EXPORT_MALFORMED' })
  })

  it('property: any single-byte change of an export never verifies and throws nothing but GatewayError', () => {
    const bytes = new TextEncoder().encode(exported)
    fc.assert(fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, xor, withCertificate) => {
      const m = new Uint8Array(bytes)
      m[at] = m[at]! ^ xor
      const r = check(m, withCertificate)
      return r instanceof GatewayError || !r.ok
    }), { numRuns: 2500 })
  })

  it('property: changing any field of any line to another value never verifies', () => {
    const lines = exported.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    const paths: [number, string][] = lines.flatMap((l, i) => Object.keys(l).map((k): [number, string] => [i, k]))
    const value = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.uint8Array({ minLength: 1, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')),
      fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string(), fc.integer())))
    fc.assert(fc.property(fc.constantFrom(...paths), value, ([i, key], v) => {
      fc.pre(JSON.stringify(lines[i]![key]) !== JSON.stringify(v))
      const changed = lines.map((l, j) => (j === i ? { ...l, [key]: v } : l))
      const text = changed.map((l) => JSON.stringify(l)).join('\n') + '\n'
      // Re-encode canonically so the change is judged on content, not on form.
      const canonical = text.split('\n').filter((l) => l !== '').map((l) => {
        try { return canonicalize(JSON.parse(l)) } catch { return l }
      }).join('\n') + '\n'
      const r = check(canonical)
      return r instanceof GatewayError || !r.ok
    }), { numRuns: 1500 })
  })
})

function canonicalize(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v)
  if (Array.isArray(v)) return `[${v.map(canonicalize).join(',')}]`
  const o = v as Record<string, unknown>
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonicalize(o[k])}`).join(',')}}`
}

describe('range exports (read-log sinceSeq)', () => {
  const seqs = (text: string) => decodeLogExport(text).entries.map((e) => e.seq)
  const headSeqs = (text: string) => decodeLogExport(text).heads.map((h) => h.seq)

  it('sinceSeq 0 is the whole chain, byte for byte', () => {
    expect(since.get(0)).toBe(exportedSystem)
    expect(check(since.get(0)!)).toMatchObject({ ok: true, entries: 8 })
    expect(check(since.get(0)!)).not.toHaveProperty('firstSeq')
  })

  it('in the middle: whole legal days from the day of the next unread entry, anchored on the signed head of the day before, verifying offline', () => {
    // Unread from entry 3 (day 28): day 28 starts the chain, so the whole chain.
    expect(since.get(2)).toBe(exportedSystem)
    // Unread from entry 4 or 5 (day 29): entries 4–8, the head of day 28 (seq 3) as anchor, then day 29's.
    for (const n of [3, 4]) {
      const text = since.get(n)!
      expect(JSON.parse(text.split('\n')[0]!)).toMatchObject({ firstSeq: 4 })
      expect(seqs(text)).toEqual([4, 5, 6, 7, 8])
      expect(headSeqs(text)).toEqual([3, 6])
      expect(check(text)).toEqual({ ok: true, log: 'system', stream: '', entries: 5, heads: 2, signedThrough: 6, trust: 'given', firstSeq: 4 })
      expect(check(text, false)).toMatchObject({ ok: true, trust: 'carried', firstSeq: 4 })
    }
    expect(seqs(since.get(6)!)).toEqual([7, 8])
    expect(headSeqs(since.get(6)!)).toEqual([6])
    expect(check(since.get(6)!)).toMatchObject({ ok: true, entries: 2, firstSeq: 7 })
  })

  it('at and beyond the end: the days not signed yet again (they may still grow), nothing older', () => {
    for (const n of [8, 100]) {
      expect(since.get(n)).toBe(since.get(6))
      expect(check(since.get(n)!)).toMatchObject({ ok: true, entries: 2, firstSeq: 7 })
    }
  })

  it('when the last day is signed, reading past the end is the anchor alone and still verifies', () => {
    const chain = decodeLogExport(exportedSystem)
    const signedThrough6 = { ...chain, entries: chain.entries.filter((e) => Number(e.seq) <= 6) }
    const empty = chainSince(signedThrough6, 6)
    expect(empty.firstSeq).toBe(7)
    expect(empty.entries).toEqual([])
    expect(empty.heads.map((h) => h.seq)).toEqual([6])
    expect(verifyLog(empty, { certificate: sig.certificate })).toEqual({ ok: true, log: 'system', stream: '', entries: 0, heads: 1, signedThrough: 6, trust: 'given', firstSeq: 7 })
    expect(() => chainSince(chain, -1)).toThrow(GatewayError)
  })

  it('a range without its anchor, with another first entry, a forged anchor or a moved firstSeq does not verify', () => {
    const text = since.get(4)!
    const lines = text.trimEnd().split('\n')
    const anchorLine = lines.findIndex((l) => l.startsWith('{"certRef"'))
    const without = [...lines.slice(0, anchorLine), ...lines.slice(anchorLine + 1)]
    expect(check(without.join('\n') + '\n')).toMatchObject({ ok: false, seq: 4, reason: 'HEAD_MISSING' })
    const anchor = JSON.parse(lines[anchorLine]!) as { hash: string; signature: string }
    const forgedHash = lines[anchorLine]!.replace(anchor.hash, anchor.hash.replace(/^./, (c) => (c === '0' ? '1' : '0')))
    expect(check([...lines.slice(0, anchorLine), forgedHash, ...lines.slice(anchorLine + 1)].join('\n') + '\n')).toMatchObject({ ok: false })
    const moved = [lines[0]!.replace('"firstSeq":4', '"firstSeq":5'), ...lines.slice(1)].join('\n') + '\n'
    expect(check(moved)).toMatchObject({ ok: false })
    const first = JSON.parse(lines[1]!) as Record<string, unknown>
    const changed = [lines[0], lines[1]!.replace(String(first.time), '2026-03-29T00:00:00.001Z'), ...lines.slice(2)].join('\n') + '\n'
    expect(check(changed)).toMatchObject({ ok: false, seq: 4, reason: 'HASH_MISMATCH' })
  })

  it('property: for any sinceSeq the range verifies, holds every entry after sinceSeq, and starts at a day boundary with its anchor', () => {
    const chain = decodeLogExport(exportedSystem)
    fc.assert(fc.property(fc.integer({ min: 0, max: 20 }), (n) => {
      const range = decodeLogExport(formatLogExport(chainSince(chain, n)))
      const r = verifyLog(range, { certificate: sig.certificate })
      expect(r.ok).toBe(true)
      const got = range.entries.map((e) => Number(e.seq))
      expect(got).toEqual(chain.entries.map((e) => Number(e.seq)).filter((s) => s >= (range.firstSeq ?? 1)))
      expect(got.filter((s) => s > n)).toEqual(chain.entries.map((e) => Number(e.seq)).filter((s) => s > n))
      if (range.firstSeq !== undefined) expect(range.heads[0]?.seq).toBe(range.firstSeq - 1)
    }), { numRuns: 50 })
  })

  it('property: any single-byte change of a range export never verifies and throws nothing but GatewayError', () => {
    const bytes = new TextEncoder().encode(since.get(4))
    fc.assert(fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, delta) => {
      const copy = bytes.slice()
      copy[at] = (copy[at]! + delta) % 256
      const r = check(copy)
      return r instanceof GatewayError || !r.ok
    }), { numRuns: 300 })
  })
})

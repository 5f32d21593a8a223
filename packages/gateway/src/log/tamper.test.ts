import { copyFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../store/store.js'
import { createTempDir, createTestSig, type TestSig } from '../testing.js'
import { certificateRef, encodeHead, hashEntry } from './chain.js'
import { writeTestLogs } from './fixture.js'
import { readLogChain, verifyLog, verifyStoreLogs, type LogVerifyResult, type VerifyLogOptions } from './verify.js'

/*
 * Tampering with a real store file through SQL, the way someone with the file would.
 * Consumer c-1 has entries 1…8 over three legal days, signed day heads at seq 3 and 6.
 */
let tmp: { dir: string; remove: () => Promise<void> }
let sig: TestSig
let other: TestSig
let pristine: string
let n = 0

beforeAll(async () => {
  tmp = await createTempDir('smgw-tamper-')
  sig = await createTestSig()
  other = await createTestSig(new Date('2026-01-01T00:00:00Z'), 'Another PKI')
  pristine = join(tmp.dir, 'pristine.db')
  ;(await writeTestLogs(pristine, sig)).close()
})
afterAll(async () => { await tmp.remove() })

/** A copy of the pristine store with `edit` applied through a plain SQLite connection. */
async function tampered(edit: (db: Database.Database) => void): Promise<string> {
  const path = join(tmp.dir, `t${++n}.db`)
  await copyFile(pristine, path)
  const db = new Database(path)
  edit(db)
  db.close()
  return path
}

function verifyC1(path: string, options: VerifyLogOptions = { certificate: sig.certificate }): LogVerifyResult {
  const store = openStore(path, { now: () => new Date() }, { readonly: true })
  try {
    return verifyLog(readLogChain(store, 'consumer', 'c-1'), options)
  } finally {
    store.close()
  }
}

function failure(r: LogVerifyResult): [number, string] | 'ok' {
  return r.ok ? 'ok' : [r.seq, r.reason]
}

const C1 = "log = 'consumer' AND stream = 'c-1'"

/** Recomputes entry hashes and prev links from `from` on, as an attacker who knows the rule would. */
function rechain(db: Database.Database, from: number): void {
  const rows = db.prepare(`SELECT * FROM log_entries WHERE ${C1} ORDER BY seq`).all() as { seq: number; time: string; type: string; fields: string; prev: string; hash: string }[]
  let prev = rows.find((r) => r.seq === from - 1)?.hash
  for (const r of rows.filter((x) => x.seq >= from)) {
    const p = prev ?? r.prev
    const hash = hashEntry({ log: 'consumer', stream: 'c-1', seq: r.seq, time: r.time, type: r.type, fields: JSON.parse(r.fields), prev: p })
    db.prepare(`UPDATE log_entries SET prev = ?, hash = ? WHERE ${C1} AND seq = ?`).run(p, hash, r.seq)
    prev = hash
  }
}

describe('verifyLog on a tampered store file', () => {
  it('the untouched file verifies, every chain', () => {
    expect(failure(verifyC1(pristine))).toBe('ok')
    const store = openStore(pristine, { now: () => new Date() }, { readonly: true })
    expect(verifyStoreLogs(store, { certificate: sig.certificate }).chains.map((c) => c.ok)).toEqual([true, true, true, true])
    store.close()
  })

  it('UPDATE a field → HASH_MISMATCH at that entry', async () => {
    const path = await tampered((db) => db.exec(`UPDATE log_entries SET fields = replace(fields, 'EMT-1', 'EMT-2') WHERE ${C1} AND seq = 2`))
    expect(failure(verifyC1(path))).toEqual([2, 'HASH_MISMATCH'])
  })

  it('UPDATE a field and its hash → PREV_MISMATCH at the next entry', async () => {
    const path = await tampered((db) => {
      db.exec(`UPDATE log_entries SET fields = replace(fields, 'EMT-1', 'EMT-2') WHERE ${C1} AND seq = 1`)
      const r = db.prepare(`SELECT * FROM log_entries WHERE ${C1} AND seq = 1`).get() as { time: string; type: string; fields: string; prev: string }
      db.prepare(`UPDATE log_entries SET hash = ? WHERE ${C1} AND seq = 1`).run(hashEntry({ log: 'consumer', stream: 'c-1', seq: 1, ...r, fields: JSON.parse(r.fields) }))
    })
    expect(failure(verifyC1(path))).toEqual([2, 'PREV_MISMATCH'])
  })

  it('rewrite and rechain everything from an entry on → HEAD_MISMATCH at the signed head', async () => {
    const path = await tampered((db) => {
      db.exec(`UPDATE log_entries SET fields = replace(fields, 'EMT-1', 'EMT-2') WHERE ${C1} AND seq = 2`)
      rechain(db, 2)
    })
    expect(failure(verifyC1(path))).toEqual([3, 'HEAD_MISMATCH'])
  })

  it('rechained and the heads re-signed with another key → BAD_SIGNATURE; with that key\'s certificate → CERT_MISMATCH / CERT_INVALID', async () => {
    const forge = async (swapCertificate: boolean) => {
      const path = await tampered((db) => {
        db.exec(`UPDATE log_entries SET fields = replace(fields, 'EMT-1', 'EMT-2') WHERE ${C1} AND seq = 2`)
        rechain(db, 2)
      })
      const db = new Database(path)
      const heads = db.prepare(`SELECT * FROM log_heads WHERE ${C1}`).all() as { seq: number; day: string; signed_at: string }[]
      for (const h of heads) {
        const hash = (db.prepare(`SELECT hash FROM log_entries WHERE ${C1} AND seq = ?`).pluck().get(h.seq)) as string
        const signature = await other.signer.sign(encodeHead({ log: 'consumer', stream: 'c-1', kind: 'day', day: h.day, seq: h.seq, hash, signedAt: h.signed_at }), 'SHA-256')
        const ref = swapCertificate ? certificateRef(other.certificate) : certificateRef(sig.certificate)
        db.prepare(`UPDATE log_heads SET hash = ?, signature = ?, cert_ref = ? WHERE ${C1} AND seq = ?`).run(hash, signature, ref, h.seq)
      }
      if (swapCertificate) db.prepare('INSERT INTO certificates (ref, der) VALUES (?, ?)').run(certificateRef(other.certificate), other.certificate)
      db.close()
      return path
    }
    expect(failure(verifyC1(await forge(false)))).toEqual([3, 'BAD_SIGNATURE'])
    const swapped = await forge(true)
    expect(failure(verifyC1(swapped))).toEqual([3, 'CERT_MISMATCH'])
    expect(failure(verifyC1(swapped, { roots: [sig.root], intermediates: [sig.subCa] }))).toEqual([3, 'CERT_INVALID'])
    // Without a certificate or roots the file can only vouch for itself: that is what trust 'carried' says.
    expect(verifyC1(swapped, {})).toMatchObject({ ok: true, trust: 'carried' })
  })

  it('DELETE a row → SEQ_GAP naming the missing entry (also a day-head entry)', async () => {
    expect(failure(verifyC1(await tampered((db) => db.exec(`DELETE FROM log_entries WHERE ${C1} AND seq = 5`))))).toEqual([5, 'SEQ_GAP'])
    expect(failure(verifyC1(await tampered((db) => db.exec(`DELETE FROM log_entries WHERE ${C1} AND seq = 3`))))).toEqual([3, 'SEQ_GAP'])
    expect(failure(verifyC1(await tampered((db) => db.exec(`DELETE FROM log_entries WHERE ${C1} AND seq = 1`))))).toEqual([1, 'SEQ_GAP'])
  })

  it('DELETE a row and renumber the rest → HASH_MISMATCH where the numbers changed', async () => {
    const path = await tampered((db) => {
      db.exec(`DELETE FROM log_entries WHERE ${C1} AND seq = 4`)
      for (let s = 5; s <= 8; s++) db.exec(`UPDATE log_entries SET seq = ${s - 1} WHERE ${C1} AND seq = ${s}`)
    })
    expect(failure(verifyC1(path))).toEqual([4, 'HASH_MISMATCH'])
  })

  it('INSERT an entry (renumbering after it) → the first renumbered entry fails', async () => {
    const path = await tampered((db) => {
      for (let s = 8; s >= 4; s--) db.exec(`UPDATE log_entries SET seq = ${s + 1} WHERE ${C1} AND seq = ${s}`)
      const prev = db.prepare(`SELECT hash FROM log_entries WHERE ${C1} AND seq = 3`).pluck().get() as string
      const e = { log: 'consumer', stream: 'c-1', seq: 4, time: '2026-03-28T23:30:00.000Z', type: 'data-viewed', fields: { interface: 'han', text: 'forged' }, prev }
      db.prepare("INSERT INTO log_entries VALUES ('consumer', 'c-1', 4, ?, ?, ?, ?, ?)").run(e.time, e.type, JSON.stringify(e.fields), prev, hashEntry(e))
    })
    expect(failure(verifyC1(path))).toEqual([5, 'HASH_MISMATCH'])
  })

  it('swap two rows\' content → HASH_MISMATCH at the first of them', async () => {
    const path = await tampered((db) => {
      const cols = 'time, type, fields, prev, hash'
      const a = db.prepare(`SELECT ${cols} FROM log_entries WHERE ${C1} AND seq = 4`).get() as Record<string, string>
      const b = db.prepare(`SELECT ${cols} FROM log_entries WHERE ${C1} AND seq = 5`).get() as Record<string, string>
      const set = db.prepare(`UPDATE log_entries SET time = @time, type = @type, fields = @fields, prev = @prev, hash = @hash WHERE ${C1} AND seq = @seq`)
      set.run({ ...b, seq: 4 })
      set.run({ ...a, seq: 5 })
    })
    expect(failure(verifyC1(path))).toEqual([4, 'HASH_MISMATCH'])
  })

  it('truncate the tail across a signed head → TRUNCATED naming the first missing entry', async () => {
    expect(failure(verifyC1(await tampered((db) => db.exec(`DELETE FROM log_entries WHERE ${C1} AND seq >= 5`))))).toEqual([5, 'TRUNCATED'])
    expect(failure(verifyC1(await tampered((db) => db.exec(`DELETE FROM log_entries WHERE ${C1}`))))).toEqual([1, 'TRUNCATED'])
  })

  it('known limit: entries after the last signed head can be cut without a trace (signedThrough says where signing ends)', async () => {
    const path = await tampered((db) => db.exec(`DELETE FROM log_entries WHERE ${C1} AND seq = 8`))
    expect(verifyC1(path)).toMatchObject({ ok: true, entries: 7, signedThrough: 6 })
  })

  it('alter a day-head signature → BAD_SIGNATURE', async () => {
    const path = await tampered((db) => {
      const s = db.prepare(`SELECT signature FROM log_heads WHERE ${C1} AND seq = 6`).pluck().get() as Buffer
      s[s.length - 3] = s[s.length - 3]! ^ 0x01
      db.prepare(`UPDATE log_heads SET signature = ? WHERE ${C1} AND seq = 6`).run(s)
    })
    expect(failure(verifyC1(path))).toEqual([6, 'BAD_SIGNATURE'])
  })

  it('alter a head\'s hash, day or position → HEAD_MISMATCH; delete it → HEAD_MISSING', async () => {
    expect(failure(verifyC1(await tampered((db) => db.exec(`UPDATE log_heads SET hash = (SELECT hash FROM log_entries WHERE ${C1} AND seq = 2) WHERE ${C1} AND seq = 3`))))).toEqual([3, 'HEAD_MISMATCH'])
    expect(failure(verifyC1(await tampered((db) => db.exec(`UPDATE log_heads SET day = '2026-03-27' WHERE ${C1} AND seq = 3`))))).toEqual([3, 'HEAD_MISMATCH'])
    expect(failure(verifyC1(await tampered((db) => db.exec(`UPDATE log_heads SET seq = 2, hash = (SELECT hash FROM log_entries WHERE ${C1} AND seq = 2) WHERE ${C1} AND seq = 3`))))).toEqual([2, 'HEAD_MISMATCH'])
    expect(failure(verifyC1(await tampered((db) => db.exec(`DELETE FROM log_heads WHERE ${C1} AND seq = 6`))))).toEqual([6, 'HEAD_MISSING'])
  })

  it('malformed rows → ENTRY_MALFORMED / HEAD_MALFORMED', async () => {
    expect(failure(verifyC1(await tampered((db) => db.exec(`UPDATE log_entries SET time = 'yesterday' WHERE ${C1} AND seq = 2`))))).toEqual([2, 'ENTRY_MALFORMED'])
    expect(failure(verifyC1(await tampered((db) => db.exec(`UPDATE log_entries SET fields = '{"b":1, "a":2}' WHERE ${C1} AND seq = 2`))))).toEqual([2, 'ENTRY_MALFORMED'])
    expect(failure(verifyC1(await tampered((db) => db.exec(`UPDATE log_entries SET hash = upper(hash) WHERE ${C1} AND seq = 2`))))).toEqual([2, 'ENTRY_MALFORMED'])
    expect(failure(verifyC1(await tampered((db) => db.exec(`UPDATE log_heads SET kind = 'week' WHERE ${C1} AND seq = 3`))))).toEqual([3, 'HEAD_MALFORMED'])
  })

  it('certificates: removed → CERT_UNKNOWN, altered → CERT_MISMATCH, another given → CERT_MISMATCH, foreign roots → CERT_INVALID', async () => {
    expect(failure(verifyC1(await tampered((db) => db.exec('DELETE FROM certificates')), {}))).toEqual([3, 'CERT_UNKNOWN'])
    expect(failure(verifyC1(await tampered((db) => db.exec("UPDATE certificates SET der = der || x'00'")), {}))).toEqual([3, 'CERT_MISMATCH'])
    expect(failure(verifyC1(pristine, { certificate: other.certificate }))).toEqual([3, 'CERT_MISMATCH'])
    expect(failure(verifyC1(pristine, { roots: [other.root], intermediates: [other.subCa] }))).toEqual([3, 'CERT_INVALID'])
    expect(verifyC1(pristine, { roots: [sig.root], intermediates: [sig.subCa] })).toMatchObject({ ok: true, trust: 'path' })
  })
})

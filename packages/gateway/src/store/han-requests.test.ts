import Database from 'better-sqlite3'
import fc from 'fast-check'
import { beforeEach, describe, expect, it } from 'vitest'
import { createTestClock } from '../testing.js'
import { MAX_REPORTED_REQUESTS } from './han.js'
import { MIGRATIONS } from './migrations.js'
import { openStore } from './store.js'
import { codeOf, useStoreFile } from './testing.js'
import type { Store } from './types.js'

// Consumer requests on their way to the administrator and back (migration 6; docs/admin-protocol.md
// the report's `requests`, `answer-request`), on real SQLite files.

const file = useStoreFile('smgw-store-requests-')
const clock = createTestClock('2026-11-30T10:00:00.000Z')
const open = (): Store => openStore(file.path, { now: clock.now })

/** Runs `use` on the store and closes it again, also when an assertion in `use` fails. */
function withStore(use: (s: Store) => void): void {
  const s = open()
  try {
    use(s)
  } finally {
    s.close()
  }
}

beforeEach(() => { clock.set('2026-11-30T10:00:00.000Z') })

const add = (s: Store, consumer: string, kind: 'deletion' | 'rectification' | 'objection' | 'tariff-choice', text = `${kind} please`, state: 'received' | 'pending' = 'received') =>
  s.han.addRequest({ consumer, kind, state, text, at: clock.now() })

describe('migration 5 → 6', () => {
  it('keeps the requests of a version-5 file; they read as not forwarded and not answered, and are reported', () => {
    // A file as the version-5 gateway wrote it: its own migrations, its own code path.
    const v5 = openStore(file.path, { now: clock.now }, { migrations: MIGRATIONS.slice(0, 5) })
    expect(v5.schemaVersion).toBe(5)
    const a = add(v5, 'c-1', 'deletion', 'Delete my 2025 data')
    clock.advance(1000)
    const b = add(v5, 'c-2', 'tariff-choice', 'dyn-1', 'pending')
    clock.advance(1000)
    const c = add(v5, 'c-1', 'objection', 'No TAF 7 please')
    v5.close()
    const closed = new Database(file.path)
    closed.prepare("UPDATE han_requests SET state = 'done' WHERE id = ?").run(c.id)
    closed.close()

    withStore((s) => {
      expect(s.schemaVersion).toBe(MIGRATIONS.length)
      expect(s.han.requests('c-1')).toEqual([
        { id: c.id, consumer: 'c-1', kind: 'objection', state: 'done', text: 'No TAF 7 please', createdAt: c.createdAt, updatedAt: c.updatedAt, forwardedAt: undefined, answeredAt: undefined, note: undefined },
        { id: a.id, consumer: 'c-1', kind: 'deletion', state: 'received', text: 'Delete my 2025 data', createdAt: a.createdAt, updatedAt: a.updatedAt, forwardedAt: undefined, answeredAt: undefined, note: undefined },
      ])
      expect(s.han.openRequests().map((r) => [r.id, r.consumer, r.state])).toEqual([[a.id, 'c-1', 'received'], [b.id, 'c-2', 'pending']])
    })
  })

  it('a version-5 store has the old functions and refuses the new ones with a clear error', () => {
    const v5 = openStore(file.path, { now: clock.now }, { migrations: MIGRATIONS.slice(0, 5) })
    try {
      add(v5, 'c-1', 'deletion')
      expect(codeOf(() => v5.han.openRequests())).toBe('STORE_WRITE_FAILED')
      expect(codeOf(() => v5.han.markRequestsForwarded([1], clock.now()))).toBe('STORE_WRITE_FAILED')
      expect(codeOf(() => v5.han.answerRequest(1, { state: 'done', note: '', at: clock.now() }))).toBe('STORE_WRITE_FAILED')
      expect(() => v5.han.answerRequest(1, { state: 'done', note: '', at: clock.now() })).toThrow(/needs version 6/)
    } finally {
      v5.close()
    }
  })
})

describe('open requests', () => {
  it('of every consumer, oldest first, only received / pending / in-progress, at most 256', () => {
    withStore((s) => {
      const ids: number[] = []
      for (let i = 0; i < MAX_REPORTED_REQUESTS + 10; i++) ids.push(add(s, i % 2 === 0 ? 'c-1' : 'c-2', 'rectification', `line ${String(i)}`).id)
      // Close the first five: they are no longer reported, the next ones move up.
      for (const id of ids.slice(0, 5)) s.han.answerRequest(id, { state: id % 2 === 0 ? 'done' : 'rejected', note: 'closed', at: clock.now() })
      s.han.answerRequest(ids[5]!, { state: 'in-progress', note: 'working on it', at: clock.now() })
      const open = s.han.openRequests()
      expect(open).toHaveLength(MAX_REPORTED_REQUESTS)
      expect(open.map((r) => r.id)).toEqual(ids.slice(5, 5 + MAX_REPORTED_REQUESTS))
      expect(new Set(open.map((r) => r.consumer))).toEqual(new Set(['c-1', 'c-2']))
      expect(open[0]).toMatchObject({ state: 'in-progress', note: 'working on it' })
      expect(s.han.openRequests(3).map((r) => r.id)).toEqual(ids.slice(5, 8))
    })
  })

  it('are read through the partial index of open requests (closed ones are not scanned)', () => {
    open().close()
    const db = new Database(file.path, { readonly: true })
    try {
      const plan = db.prepare("EXPLAIN QUERY PLAN SELECT * FROM han_requests WHERE state IN ('received', 'pending', 'in-progress') ORDER BY id LIMIT 256").all() as { detail: string }[]
      expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING INDEX han_requests_open/)
    } finally {
      db.close()
    }
  })
})

describe('forwarding', () => {
  it('turns only received requests pending, once, with the time the GWA accepted the report', () => {
    withStore((s) => {
      const a = add(s, 'c-1', 'deletion')
      const b = add(s, 'c-2', 'objection')
      const c = add(s, 'c-1', 'rectification')
      s.han.answerRequest(c.id, { state: 'in-progress', note: '', at: clock.now() })
      clock.advance(60_000)
      const at = clock.now()
      const forwarded = s.han.markRequestsForwarded([b.id, a.id, c.id, a.id, 999], at)
      expect(forwarded.map((r) => [r.id, r.state, r.forwardedAt])).toEqual([[a.id, 'pending', at], [b.id, 'pending', at]])
      expect(forwarded[0]!.updatedAt).toEqual(at)
      // c was in progress: untouched, not forwarded again.
      expect(s.han.requests('c-1').find((r) => r.id === c.id)).toMatchObject({ state: 'in-progress', forwardedAt: undefined })
      // A second report carrying them changes nothing.
      clock.advance(60_000)
      expect(s.han.markRequestsForwarded([a.id, b.id], clock.now())).toEqual([])
      expect(s.han.requests('c-1').find((r) => r.id === a.id)?.forwardedAt).toEqual(at)
      expect(s.han.markRequestsForwarded([], clock.now())).toEqual([])
    })
  })
})

describe('answers', () => {
  it('set state, note and the answer time; in-progress may be answered again, done and rejected are closed', () => {
    withStore((s) => {
      const r = add(s, 'c-1', 'deletion')
      s.han.markRequestsForwarded([r.id], clock.now())
      clock.advance(3_600_000)
      const first = s.han.answerRequest(r.id, { state: 'in-progress', note: 'We are checking which data your supplier still needs.', at: clock.now() })
      expect(first).toMatchObject({ state: 'in-progress', note: 'We are checking which data your supplier still needs.', answeredAt: clock.now(), updatedAt: clock.now() })
      clock.advance(3_600_000)
      const done = s.han.answerRequest(r.id, { state: 'done', note: 'Deleted.', at: clock.now() })
      expect(done).toMatchObject({ state: 'done', note: 'Deleted.', answeredAt: clock.now() })
      expect(codeOf(() => s.han.answerRequest(r.id, { state: 'rejected', note: 'too late', at: clock.now() }))).toBe('REQUEST_CLOSED')
      expect(codeOf(() => s.han.answerRequest(r.id, { state: 'in-progress', note: '', at: clock.now() }))).toBe('REQUEST_CLOSED')
      // The refused answers changed nothing.
      expect(s.han.requests('c-1')[0]).toEqual(done)

      const rejected = add(s, 'c-2', 'objection')
      expect(s.han.answerRequest(rejected.id, { state: 'rejected', note: '', at: clock.now() })).toMatchObject({ state: 'rejected', note: '' })
      expect(codeOf(() => s.han.answerRequest(rejected.id, { state: 'done', note: '', at: clock.now() }))).toBe('REQUEST_CLOSED')
      expect(codeOf(() => s.han.answerRequest(rejected.id + 1, { state: 'done', note: '', at: clock.now() }))).toBe('REQUEST_UNKNOWN')
      expect(s.han.openRequests()).toEqual([])
    })
  })

  it('keeps any one-line note exactly as the administrator wrote it', () => {
    withStore((s) => {
      const line = fc.string({ unit: 'grapheme', maxLength: 1000 }).filter((n) => /^[^\p{Cc}]*$/u.test(n) && n.length <= 1000)
      fc.assert(fc.property(line, (note) => {
        const r = add(s, 'c-1', 'rectification')
        expect(s.han.answerRequest(r.id, { state: 'done', note, at: clock.now() }).note).toBe(note)
        expect(s.han.requests('c-1')[0]!.note).toBe(note)
      }), { numRuns: 100 })
    })
  })
})

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openSqliteRepository } from './repository/sqlite.js'
import { loadSignatureMemo } from './signature-memo.js'

const dir = mkdtempSync(join(tmpdir(), 'smgw-emt-memo-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })
const NOW = new Date('2026-11-24T06:00:00.000Z')
const later = (days: number) => new Date(NOW.getTime() + days * 86_400_000)

describe('loadSignatureMemo: the path validator\'s memo in the EMT store', () => {
  it('loads the entries of valid certificates, writes new ones together, and what close has not written yet', async () => {
    const repo = openSqliteRepository(join(dir, 'a.db'))
    try {
      await repo.rememberSignatures([{ key: 'old', notAfter: later(10) }, { key: 'expired', notAfter: later(-1) }])
      const errors: unknown[] = []
      const memo = await loadSignatureMemo(repo, NOW, (e) => errors.push(e))
      expect(memo.loaded).toBe(1)
      expect(memo.has('old')).toBe(true)
      expect(memo.has('expired')).toBe(false)
      memo.add('new-1', later(5))
      memo.add('new-2', later(5))
      memo.add('old', later(5))
      expect(memo.has('new-1')).toBe(true)
      // Not written before the batch is due (or close).
      expect((await repo.rememberedSignatures(NOW)).sort()).toEqual(['old'])
      await memo.close()
      expect((await repo.rememberedSignatures(NOW)).sort()).toEqual(['new-1', 'new-2', 'old'])
      memo.add('after-close', later(5))
      expect(await repo.rememberedSignatures(NOW)).not.toContain('after-close')
      expect(errors).toEqual([])
    } finally {
      await repo.close()
    }
  })

  it('a write that fails is reported and dropped; the process keeps the entry in memory', async () => {
    const repo = openSqliteRepository(join(dir, 'b.db'))
    const errors: unknown[] = []
    const memo = await loadSignatureMemo(repo, NOW, (e) => errors.push(e))
    memo.add('k', later(5))
    await repo.close()
    await memo.close()
    expect(errors).toEqual([expect.objectContaining({ code: 'EMT_STORAGE_FAILED' })])
    expect(memo.has('k')).toBe(true)
  })
})

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MeterDataMessage } from '@smgw/meter-data'
import { migratePostgres, openSqlite } from '@smgw/sql'
import { shouldSkipPostgres, startTestPostgres, type TestPostgres } from '@smgw/sql/testing'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sampleTaf7Message } from '../testing/messages.js'
import { openPostgresRepository, POSTGRES_MIGRATIONS, POSTGRES_SCHEMA } from './postgres.js'
import { openSqliteRepository, SQLITE_APPLICATION_ID, SQLITE_MIGRATIONS } from './sqlite.js'
import { PRUNE_BATCH, type EmtRepository } from './types.js'

/* One suite, run against both implementations. */

const at = new Date('2026-11-24T00:00:00.000Z')
let pgServer: TestPostgres | undefined
let dir = ''
let dbCounter = 0

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smgw-emt-repo-'))
  if (!shouldSkipPostgres()) pgServer = await startTestPostgres()
})
afterAll(() => {
  pgServer?.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** A message as schema version 1 stored it: its row, then one row per value with the series' header. */
function version1Rows(message: MeterDataMessage, sha256: string, receivedAt: Date): { message: unknown[]; values: unknown[][] } {
  const values = message.series.flatMap((s) => s.values.map((v) => [
    message.meteringPoint.id, s.obis, s.unit ?? null, s.scaler, s.kind, s.register ?? null, s.periodSeconds ?? null, Date.parse(v.time), v.value, v.status,
  ]))
  return {
    message: [message.gatewayId, message.messageId, sha256, message.useCase, message.meteringPoint.id, message.meteringPoint.kind,
      Date.parse(message.period.start), Date.parse(message.period.end), Date.parse(message.createdAt), receivedAt.getTime(), values.length],
    values,
  }
}
const V1_MESSAGE_COLUMNS = 'gateway_id, message_id, sha256, use_case, metering_point, metering_point_kind, period_start_ms, period_end_ms, created_ms, received_ms, value_count'
const V1_VALUE_COLUMNS = 'message, metering_point, obis, unit, scaler, kind, register, period_s, time_ms, value, status'

interface Implementation {
  readonly open: () => Promise<EmtRepository>
  /** A store at schema version 1 holding these messages (stored as that version did), then opened by this code. */
  readonly openVersion1: (stored: readonly { message: MeterDataMessage; sha256: string; receivedAt: Date }[]) => Promise<EmtRepository>
}

const implementations: [string, Implementation][] = [
  ['sqlite', {
    open: () => Promise.resolve(openSqliteRepository(join(dir, `r${String(++dbCounter)}.db`))),
    openVersion1: (stored) => {
      const path = join(dir, `r${String(++dbCounter)}.db`)
      const db = openSqlite(path, { applicationId: SQLITE_APPLICATION_ID, kind: 'an EMT store', migrations: SQLITE_MIGRATIONS.slice(0, 1), refuse: (m) => new Error(m) })
      for (const x of stored) {
        const rows = version1Rows(x.message, x.sha256, x.receivedAt)
        const id = db.prepare(`INSERT INTO messages (${V1_MESSAGE_COLUMNS}) VALUES (${rows.message.map(() => '?').join(', ')})`).run(...rows.message).lastInsertRowid
        for (const v of rows.values) db.prepare(`INSERT INTO series_values (${V1_VALUE_COLUMNS}) VALUES (${[id, ...v].map(() => '?').join(', ')})`).run(id, ...v)
      }
      db.close()
      return Promise.resolve(openSqliteRepository(path))
    },
  }],
  ['postgres', {
    open: async () => {
      if (pgServer === undefined) throw new Error('no PostgreSQL server')
      return openPostgresRepository({ connectionString: pgServer.createDatabase(`emt_${String(++dbCounter)}`) })
    },
    openVersion1: async (stored) => {
      if (pgServer === undefined) throw new Error('no PostgreSQL server')
      const connectionString = pgServer.createDatabase(`emt_${String(++dbCounter)}`)
      const pool = new pg.Pool({ connectionString })
      try {
        await migratePostgres(pool, { ...POSTGRES_SCHEMA, migrations: POSTGRES_MIGRATIONS.slice(0, 1), refuse: (m) => new Error(m) })
        for (const x of stored) {
          const rows = version1Rows(x.message, x.sha256, x.receivedAt)
          const id = (await pool.query<{ id: string }>(`INSERT INTO messages (${V1_MESSAGE_COLUMNS}) VALUES (${rows.message.map((_, i) => `$${String(i + 1)}`).join(', ')}) RETURNING id`, rows.message)).rows[0]?.id
          for (const v of rows.values) await pool.query(`INSERT INTO series_values (${V1_VALUE_COLUMNS}) VALUES (${[id, ...v].map((_, i) => `$${String(i + 1)}`).join(', ')})`, [id, ...v])
        }
      } finally {
        await pool.end()
      }
      return openPostgresRepository({ connectionString })
    },
  }],
]

describe.each(implementations)('repository (%s)', (name, { open, openVersion1 }) => {
  const skip = name === 'postgres' && shouldSkipPostgres()
  const test = skip ? it.skip : it

  test('gateways: add, list, known, remove; a second add is EMT_GATEWAY_EXISTS', async () => {
    const repo = await open()
    try {
      await repo.addGateway('smgw-0002', null, at)
      await repo.addGateway('smgw-0001', 'first', at)
      await expect(repo.addGateway('smgw-0001', null, at)).rejects.toMatchObject({ code: 'EMT_GATEWAY_EXISTS' })
      expect(await repo.listGateways()).toEqual([
        { id: 'smgw-0001', note: 'first', addedAt: at }, { id: 'smgw-0002', note: null, addedAt: at },
      ])
      expect(await repo.isKnownGateway('smgw-0001')).toBe(true)
      expect(await repo.isKnownGateway('smgw-0003')).toBe(false)
      expect(await repo.removeGateway('smgw-0002')).toBe(true)
      expect(await repo.removeGateway('smgw-0002')).toBe(false)
      expect((await repo.listGateways()).map((g) => g.id)).toEqual(['smgw-0001'])
    } finally {
      await repo.close()
    }
  })

  test('a message is stored with all values exactly; the same again is a duplicate, other content a conflict', async () => {
    const repo = await open()
    try {
      const big = '-1234567890123456789012345678901234567890'
      const m = sampleTaf7Message({ gaps: [3] })
      const first = m.series[0]!.values[0]!
      const msg = { ...m, series: [{ ...m.series[0]!, values: [{ ...first, value: big }, ...m.series[0]!.values.slice(1)] }] }
      expect(await repo.storeMessage({ message: msg, sha256: 'aa', receivedAt: at, tooOld: false })).toBe('stored')
      expect(await repo.storeMessage({ message: msg, sha256: 'aa', receivedAt: at, tooOld: false })).toBe('duplicate')
      expect(await repo.storeMessage({ message: msg, sha256: 'bb', receivedAt: at, tooOld: false })).toBe('conflict')
      expect(await repo.storeMessage({ message: msg, sha256: 'aa', receivedAt: at, tooOld: true })).toBe('duplicate')
      const rows = await repo.queryValues({})
      expect(rows).toHaveLength(96)
      expect(rows[0]).toEqual({
        meteringPoint: 'p-3f9a01', meteringPointKind: 'pseudonym', gatewayId: 'smgw-0001', messageId: 'smgw-0001:taf7:1', useCase: 'taf7',
        obis: '1-0:1.8.0*255', unit: 'Wh', scaler: -1, kind: 'profile', register: null, periodSeconds: 900,
        time: new Date('2026-11-22T23:15:00.000Z'), value: big, status: 0,
      })
      expect(rows[3]).toMatchObject({ value: null, status: 4 })
      expect(rows.map((r) => r.value)).toEqual(msg.series[0]!.values.map((v) => v.value))
      const messages = await repo.listMessages({})
      expect(messages).toEqual([{
        gatewayId: 'smgw-0001', messageId: 'smgw-0001:taf7:1', sha256: 'aa', useCase: 'taf7', meteringPoint: 'p-3f9a01', meteringPointKind: 'pseudonym',
        periodStart: new Date(msg.period.start), periodEnd: new Date(msg.period.end), createdAt: new Date(msg.createdAt), receivedAt: at, values: 96,
      }])
    } finally {
      await repo.close()
    }
  })

  test('a message older than the window that was never seen is too-old and not stored', async () => {
    const repo = await open()
    try {
      expect(await repo.storeMessage({ message: sampleTaf7Message(), sha256: 'aa', receivedAt: at, tooOld: true })).toBe('too-old')
      expect(await repo.listMessages({})).toEqual([])
      expect(await repo.queryValues({})).toEqual([])
    } finally {
      await repo.close()
    }
  })

  test('concurrent deliveries of one messageId store it once', async () => {
    const repo = await open()
    try {
      const msg = sampleTaf7Message()
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => repo.storeMessage({ message: msg, sha256: 'aa', receivedAt: at, tooOld: false })))
      expect(outcomes.filter((o) => o === 'stored')).toHaveLength(1)
      expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(7)
      expect(await repo.queryValues({})).toHaveLength(96)
    } finally {
      await repo.close()
    }
  })

  test('queries: metering points, values by point/OBIS/(from, to], messages by gateway and receive time', async () => {
    const repo = await open()
    try {
      const a = sampleTaf7Message({ messageId: 'a', meteringPoint: 'p-b' })
      const b = sampleTaf7Message({ messageId: 'b', gatewayId: 'smgw-0002', meteringPoint: 'p-a', dayStart: '2026-11-23T23:00:00.000Z' })
      const bExtra = { ...b, series: [...b.series, { obis: '1-0:2.8.0*255', unit: 'Wh', scaler: 0, kind: 'reading' as const, register: 'HT', values: [{ time: '2026-11-24T12:00:00.000Z', value: '7', status: 1 }] }] }
      await repo.storeMessage({ message: a, sha256: '1', receivedAt: new Date('2026-11-24T01:00:00.000Z'), tooOld: false })
      await repo.storeMessage({ message: bExtra, sha256: '2', receivedAt: new Date('2026-11-25T01:00:00.000Z'), tooOld: false })
      expect(await repo.listMeteringPoints()).toEqual([
        { id: 'p-a', kind: 'pseudonym', obis: ['1-0:1.8.0*255', '1-0:2.8.0*255'], values: 97, firstTime: new Date('2026-11-23T23:15:00.000Z'), lastTime: new Date('2026-11-24T23:00:00.000Z') },
        { id: 'p-b', kind: 'pseudonym', obis: ['1-0:1.8.0*255'], values: 96, firstTime: new Date('2026-11-22T23:15:00.000Z'), lastTime: new Date('2026-11-23T23:00:00.000Z') },
      ])
      const day = await repo.queryValues({ meteringPoint: 'p-a', obis: '1-0:1.8.0*255', from: new Date('2026-11-23T23:00:00.000Z'), to: new Date('2026-11-24T00:00:00.000Z') })
      expect(day.map((r) => r.time.toISOString())).toEqual(['2026-11-23T23:15:00.000Z', '2026-11-23T23:30:00.000Z', '2026-11-23T23:45:00.000Z', '2026-11-24T00:00:00.000Z'])
      const reading = await repo.queryValues({ meteringPoint: 'p-a', obis: '1-0:2.8.0*255' })
      expect(reading).toEqual([expect.objectContaining({ register: 'HT', kind: 'reading', periodSeconds: null, value: '7', status: 1, scaler: 0 })])
      expect((await repo.queryValues({ limit: 5 }))).toHaveLength(5)
      expect((await repo.queryValues({})).map((r) => r.meteringPoint).indexOf('p-b')).toBe(97)
      expect((await repo.listMessages({ gatewayId: 'smgw-0002' })).map((m) => m.messageId)).toEqual(['b'])
      expect((await repo.listMessages({ from: new Date('2026-11-24T01:00:00.000Z'), to: new Date('2026-11-25T01:00:00.000Z') })).map((m) => m.messageId)).toEqual(['a'])
    } finally {
      await repo.close()
    }
  })

  test('a store of schema version 1 migrates: every query answers as for the same messages stored now', async () => {
    const a = sampleTaf7Message({ messageId: 'a', meteringPoint: 'p-b', gaps: [0, 40] })
    const b = sampleTaf7Message({ messageId: 'b', gatewayId: 'smgw-0002', meteringPoint: 'p-a', dayStart: '2026-11-23T23:00:00.000Z' })
    // Three series in one message, two of one OBIS told apart by their register (TAF 2).
    const tariff = (register: string, value: string) => ({ obis: '1-0:1.8.0*255', unit: 'Wh', scaler: 0, kind: 'reading' as const, register, values: [{ time: '2026-11-24T12:00:00.000Z', value, status: 0 }] })
    const bExtra = { ...b, series: [...b.series, tariff('NT', '5'), tariff('HT', '7')] }
    const stored = [
      { message: a, sha256: '1', receivedAt: new Date('2026-11-24T01:00:00.000Z') },
      { message: bExtra, sha256: '2', receivedAt: new Date('2026-11-25T01:00:00.000Z') },
    ]
    const migrated = await openVersion1(stored)
    const fresh = await open()
    try {
      for (const x of stored) expect(await fresh.storeMessage({ ...x, tooOld: false })).toBe('stored')
      const answers = async (repo: EmtRepository) => ({
        points: await repo.listMeteringPoints(), values: await repo.queryValues({}), messages: await repo.listMessages({}),
        tariffs: await repo.queryValues({ meteringPoint: 'p-a', from: new Date('2026-11-24T11:00:00.000Z'), to: new Date('2026-11-24T12:00:00.000Z') }),
      })
      const expected = await answers(fresh)
      expect(expected.values).toHaveLength(96 + 96 + 2)
      // (11:00, 12:00]: four quarter hours of the profile (no register first), then HT and NT.
      expect(expected.tariffs.map((r) => r.register)).toEqual([null, null, null, null, 'HT', 'NT'])
      expect(expected.tariffs.slice(4).map((r) => r.value)).toEqual(['7', '5'])
      expect(await answers(migrated)).toEqual(expected)
      // The migrated store goes on: a duplicate is recognised, a new message is stored.
      expect(await migrated.storeMessage({ ...stored[0]!, tooOld: false })).toBe('duplicate')
      expect(await migrated.storeMessage({ message: sampleTaf7Message({ messageId: 'c' }), sha256: '3', receivedAt: at, tooOld: false })).toBe('stored')
    } finally {
      await migrated.close()
      await fresh.close()
    }
  })

  test('prune: values of periods ended by the boundary go; their rows too unless inside the replay window', async () => {
    const repo = await open()
    try {
      const day = (messageId: string, dayStart: string, createdAt?: string) =>
        sampleTaf7Message({ messageId, meteringPoint: `p-${messageId}`, dayStart, ...(createdAt === undefined ? {} : { createdAt }) })
      // Ends 2022-12-31T23:00Z (1 January 2023, German midnight): the last day of 2022.
      const lastOf2022 = day('old-1', '2022-12-30T23:00:00.000Z')
      // Also of 2022, but delivered late: created inside the replay window.
      const late = day('old-late', '2022-06-01T22:00:00.000Z', '2026-11-20T00:00:00.000Z')
      // Ends 2022-12-31T23:15Z: a quarter hour into 2023 — kept.
      const firstOf2023 = sampleTaf7Message({ messageId: 'new-1', meteringPoint: 'p-new-1', dayStart: '2022-12-30T23:15:00.000Z' })
      for (const [i, m] of [lastOf2022, late, firstOf2023].entries()) {
        expect(await repo.storeMessage({ message: m, sha256: String(i), receivedAt: at, tooOld: false })).toBe('stored')
      }
      const request = { periodEndAtOrBefore: new Date('2022-12-31T23:00:00.000Z'), createdBefore: new Date('2026-10-25T00:00:00.000Z') }
      expect(await repo.prune(request)).toEqual({ messages: 1, values: 192 })
      expect((await repo.listMessages({})).map((m) => m.messageId).sort()).toEqual(['new-1', 'old-late'])
      expect((await repo.listMeteringPoints()).map((p) => p.id)).toEqual(['p-new-1'])
      expect(await repo.queryValues({})).toHaveLength(96)
      // The row kept for the replay window still answers a replay; nothing is left to prune.
      expect(await repo.storeMessage({ message: late, sha256: '1', receivedAt: at, tooOld: false })).toBe('duplicate')
      expect(await repo.prune(request)).toEqual({ messages: 0, values: 0 })
      // Once the window has passed it, its row goes too.
      expect(await repo.prune({ ...request, createdBefore: new Date('2026-12-31T00:00:00.000Z') })).toEqual({ messages: 1, values: 0 })
      expect((await repo.listMessages({})).map((m) => m.messageId)).toEqual(['new-1'])
    } finally {
      await repo.close()
    }
  })

  test('prune works in batches: more messages than one transaction takes are all deleted', async () => {
    const repo = await open()
    try {
      const n = PRUNE_BATCH + 7
      for (let i = 0; i < n; i++) {
        const m = sampleTaf7Message({ messageId: `m-${String(i)}`, values: 2, dayStart: '2021-03-01T23:00:00.000Z', createdAt: '2021-03-03T00:00:00.000Z' })
        await repo.storeMessage({ message: m, sha256: 'x', receivedAt: at, tooOld: false })
      }
      expect(await repo.prune({ periodEndAtOrBefore: new Date('2022-12-31T23:00:00.000Z'), createdBefore: at })).toEqual({ messages: n, values: 2 * n })
      expect(await repo.listMessages({})).toEqual([])
    } finally {
      await repo.close()
    }
  })

  test('remembered signatures: recorded once each, listed while their certificate is valid, forgotten after it expired', async () => {
    const repo = await open()
    try {
      const day = 86_400_000
      await repo.rememberSignatures([])
      await repo.rememberSignatures([{ key: 'a', notAfter: new Date(at.getTime() + day) }, { key: 'b', notAfter: new Date(at.getTime() + 3 * day) }])
      // Again, with another date: the first entry stays as it is.
      await repo.rememberSignatures([{ key: 'a', notAfter: new Date(at.getTime() + 9 * day) }, { key: 'c', notAfter: new Date(at.getTime() - day) }])
      expect((await repo.rememberedSignatures(at)).sort()).toEqual(['a', 'b'])
      expect(await repo.rememberedSignatures(new Date(at.getTime() + day))).toEqual(expect.arrayContaining(['a', 'b']))
      expect(await repo.rememberedSignatures(new Date(at.getTime() + 2 * day))).toEqual(['b'])
      expect(await repo.forgetSignatures(new Date(at.getTime() + 2 * day))).toBe(2)
      expect(await repo.rememberedSignatures(new Date(at.getTime() - 2 * day))).toEqual(['b'])
      expect(await repo.forgetSignatures(new Date(at.getTime() + 2 * day))).toBe(0)
    } finally {
      await repo.close()
    }
  })

  test('a closed repository refuses with EMT_STORAGE_FAILED; close is idempotent', async () => {
    const repo = await open()
    await repo.close()
    await repo.close()
    await expect(repo.listGateways()).rejects.toMatchObject({ code: 'EMT_STORAGE_FAILED' })
  })
})

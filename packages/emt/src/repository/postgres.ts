import pg from 'pg'
import { migratePostgres, type Migration } from '@smgw/sql'
import { EmtError } from '../errors.js'
import {
  flattenValues, MAX_QUERY_ROWS,
  type EmtRepository, type GatewayRecord, type MessageQuery, type MessageRecord, type MeteringPointRecord,
  type StoreMessageInput, type StoreOutcome, type ValueQuery, type ValueRow,
} from './types.js'

/*
 * The PostgreSQL repository (`pg`): the same interface and the same test suite as the
 * SQLite one, for receivers that serve many gateways (several processes, one database).
 * Migrations are a versioned list recorded in emt_schema; values are NUMERIC(40,0), exact.
 */

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'gateways, messages, values',
    sql: `
CREATE TABLE gateways (
  id       TEXT PRIMARY KEY,
  note     TEXT,
  added_ms BIGINT NOT NULL
);
CREATE TABLE messages (
  id                  BIGSERIAL PRIMARY KEY,
  gateway_id          TEXT   NOT NULL,
  message_id          TEXT   NOT NULL,
  sha256              TEXT   NOT NULL,
  use_case            TEXT   NOT NULL,
  metering_point      TEXT   NOT NULL,
  metering_point_kind TEXT   NOT NULL,
  period_start_ms     BIGINT NOT NULL,
  period_end_ms       BIGINT NOT NULL,
  created_ms          BIGINT NOT NULL,
  received_ms         BIGINT NOT NULL,
  value_count         INTEGER NOT NULL,
  UNIQUE (gateway_id, message_id)
);
CREATE INDEX messages_by_received ON messages (received_ms);
CREATE TABLE series_values (
  message        BIGINT  NOT NULL REFERENCES messages (id),
  metering_point TEXT    NOT NULL,
  obis           TEXT    NOT NULL,
  unit           TEXT,
  scaler         INTEGER NOT NULL,
  kind           TEXT    NOT NULL,
  register       TEXT,
  period_s       INTEGER,
  time_ms        BIGINT  NOT NULL,
  value          NUMERIC(40, 0),
  status         BIGINT  NOT NULL
);
CREATE INDEX values_by_point ON series_values (metering_point, obis, time_ms);
`,
  },
]

export interface PostgresRepositoryOptions {
  readonly connectionString: string
  /** Pool size (default 10). */
  readonly maxConnections?: number
}

export async function openPostgresRepository(options: PostgresRepositoryOptions): Promise<EmtRepository> {
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.maxConnections ?? 10 })
  // An idle client's error (server gone) must not crash the process; the next query reports it.
  pool.on('error', () => undefined)
  try {
    await migratePostgres(pool, { table: 'emt_schema', lockKey: 5534523, migrations: POSTGRES_MIGRATIONS, refuse: (m) => new EmtError('EMT_STORAGE_FAILED', m) })
  } catch (err) {
    await pool.end()
    throw storageError(err, 'cannot open the PostgreSQL store')
  }
  let closed = false
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    if (closed) throw new EmtError('EMT_STORAGE_FAILED', 'the repository is closed')
    try {
      return await f()
    } catch (err) {
      throw storageError(err, what)
    }
  }
  const store = async (input: StoreMessageInput): Promise<StoreOutcome> => {
    const m = input.message
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      const decide = async (): Promise<StoreOutcome | undefined> => {
        const existing = await client.query<{ sha256: string }>('SELECT sha256 FROM messages WHERE gateway_id = $1 AND message_id = $2', [m.gatewayId, m.messageId])
        const row = existing.rows[0]
        if (row !== undefined) return row.sha256 === input.sha256 ? 'duplicate' : 'conflict'
        return undefined
      }
      const seen = await decide()
      if (seen !== undefined || input.tooOld) {
        await client.query('ROLLBACK')
        return seen ?? 'too-old'
      }
      const values = flattenValues(m)
      // ON CONFLICT: a concurrent delivery of the same messageId committed first; decide against it.
      const inserted = await client.query<{ id: string }>(`INSERT INTO messages (gateway_id, message_id, sha256, use_case, metering_point, metering_point_kind,
        period_start_ms, period_end_ms, created_ms, received_ms, value_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (gateway_id, message_id) DO NOTHING RETURNING id`,
      [m.gatewayId, m.messageId, input.sha256, m.useCase, m.meteringPoint.id, m.meteringPoint.kind,
        Date.parse(m.period.start), Date.parse(m.period.end), Date.parse(m.createdAt), input.receivedAt.getTime(), values.length])
      const id = inserted.rows[0]?.id
      if (id === undefined) {
        const raced = await decide()
        await client.query('ROLLBACK')
        return raced ?? 'conflict'
      }
      if (values.length > 0) {
        await client.query(`INSERT INTO series_values (message, metering_point, obis, unit, scaler, kind, register, period_s, time_ms, value, status)
          SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::int[], $9::bigint[], $10::numeric[], $11::bigint[])`,
        [id, m.meteringPoint.id, values.map((v) => v.obis), values.map((v) => v.unit), values.map((v) => v.scaler), values.map((v) => v.kind),
          values.map((v) => v.register), values.map((v) => v.periodSeconds), values.map((v) => v.timeMs), values.map((v) => v.value), values.map((v) => v.status)])
      }
      await client.query('COMMIT')
      return 'stored'
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw err
    } finally {
      client.release()
    }
  }
  return {
    kind: 'postgres',
    addGateway: (id, note, addedAt) => guard('addGateway', async () => {
      const r = await pool.query('INSERT INTO gateways (id, note, added_ms) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [id, note, addedAt.getTime()])
      if (r.rowCount === 0) throw new EmtError('EMT_GATEWAY_EXISTS', `gateway ${id} is registered already`)
    }),
    removeGateway: (id) => guard('removeGateway', async () => ((await pool.query('DELETE FROM gateways WHERE id = $1', [id])).rowCount ?? 0) > 0),
    listGateways: () => guard('listGateways', async () => {
      const r = await pool.query<{ id: string; note: string | null; added_ms: string }>('SELECT id, note, added_ms FROM gateways ORDER BY id COLLATE "C"')
      return r.rows.map((g): GatewayRecord => ({ id: g.id, note: g.note, addedAt: new Date(Number(g.added_ms)) }))
    }),
    isKnownGateway: (id) => guard('isKnownGateway', async () => (await pool.query('SELECT 1 FROM gateways WHERE id = $1', [id])).rowCount === 1),
    storeMessage: (input) => guard('storeMessage', () => store(input)),
    listMessages: (q: MessageQuery) => guard('listMessages', async () => {
      const where: string[] = []
      const args: unknown[] = []
      const arg = (v: unknown) => { args.push(v); return `$${String(args.length)}` }
      if (q.gatewayId !== undefined) where.push(`gateway_id = ${arg(q.gatewayId)}`)
      if (q.from !== undefined) where.push(`received_ms >= ${arg(q.from.getTime())}`)
      if (q.to !== undefined) where.push(`received_ms < ${arg(q.to.getTime())}`)
      const limit = arg(Math.min(q.limit ?? MAX_QUERY_ROWS, MAX_QUERY_ROWS))
      const r = await pool.query<PgMessageRow>(`SELECT * FROM messages ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY received_ms, id LIMIT ${limit}`, args)
      return r.rows.map(messageRecord)
    }),
    listMeteringPoints: () => guard('listMeteringPoints', async () => {
      const r = await pool.query<{ id: string; kind: string; obis: string[]; n: string; first_ms: string; last_ms: string }>(`
        SELECT v.metering_point AS id, m.metering_point_kind AS kind, array_agg(DISTINCT v.obis) AS obis, count(*) AS n,
               min(v.time_ms) AS first_ms, max(v.time_ms) AS last_ms
        FROM series_values v JOIN messages m ON m.id = v.message GROUP BY v.metering_point, m.metering_point_kind ORDER BY v.metering_point COLLATE "C"`)
      return r.rows.map((p): MeteringPointRecord => ({
        id: p.id, kind: p.kind as MeteringPointRecord['kind'], obis: [...p.obis].sort(), values: Number(p.n),
        firstTime: new Date(Number(p.first_ms)), lastTime: new Date(Number(p.last_ms)),
      }))
    }),
    queryValues: (q: ValueQuery) => guard('queryValues', async () => {
      const where: string[] = []
      const args: unknown[] = []
      const arg = (v: unknown) => { args.push(v); return `$${String(args.length)}` }
      if (q.meteringPoint !== undefined) where.push(`v.metering_point = ${arg(q.meteringPoint)}`)
      if (q.obis !== undefined) where.push(`v.obis = ${arg(q.obis)}`)
      if (q.from !== undefined) where.push(`v.time_ms > ${arg(q.from.getTime())}`)
      if (q.to !== undefined) where.push(`v.time_ms <= ${arg(q.to.getTime())}`)
      const limit = arg(Math.min(q.limit ?? MAX_QUERY_ROWS, MAX_QUERY_ROWS))
      const r = await pool.query<PgValueRow>(`
        SELECT v.metering_point, m.metering_point_kind, m.gateway_id, m.message_id, m.use_case, v.obis, v.unit, v.scaler, v.kind,
               v.register, v.period_s, v.time_ms, v.value::text AS value, v.status
        FROM series_values v JOIN messages m ON m.id = v.message
        ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
        ORDER BY v.metering_point COLLATE "C", v.obis COLLATE "C", coalesce(v.register, '') COLLATE "C", v.time_ms, m.id LIMIT ${limit}`, args)
      return r.rows.map((v): ValueRow => ({
        meteringPoint: v.metering_point, meteringPointKind: v.metering_point_kind as ValueRow['meteringPointKind'], gatewayId: v.gateway_id,
        messageId: v.message_id, useCase: v.use_case as ValueRow['useCase'], obis: v.obis, unit: v.unit, scaler: v.scaler,
        kind: v.kind as ValueRow['kind'], register: v.register, periodSeconds: v.period_s, time: new Date(Number(v.time_ms)),
        value: v.value, status: Number(v.status),
      }))
    }),
    close: async () => {
      if (closed) return
      closed = true
      await pool.end()
    },
  }
}

interface PgMessageRow {
  gateway_id: string; message_id: string; sha256: string; use_case: string; metering_point: string; metering_point_kind: string
  period_start_ms: string; period_end_ms: string; created_ms: string; received_ms: string; value_count: number
}
interface PgValueRow {
  metering_point: string; metering_point_kind: string; gateway_id: string; message_id: string; use_case: string; obis: string
  unit: string | null; scaler: number; kind: string; register: string | null; period_s: number | null; time_ms: string; value: string | null; status: string
}

function messageRecord(r: PgMessageRow): MessageRecord {
  return {
    gatewayId: r.gateway_id, messageId: r.message_id, sha256: r.sha256, useCase: r.use_case as MessageRecord['useCase'],
    meteringPoint: r.metering_point, meteringPointKind: r.metering_point_kind as MessageRecord['meteringPointKind'],
    periodStart: new Date(Number(r.period_start_ms)), periodEnd: new Date(Number(r.period_end_ms)), createdAt: new Date(Number(r.created_ms)),
    receivedAt: new Date(Number(r.received_ms)), values: r.value_count,
  }
}

function storageError(err: unknown, what: string): EmtError {
  if (err instanceof EmtError) return err
  return new EmtError('EMT_STORAGE_FAILED', `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
}

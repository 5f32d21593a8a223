import pg from 'pg'
import { migratePostgres, type Migration } from '@smgw/sql'
import { EmtError } from '../errors.js'
import {
  MAX_QUERY_ROWS, PRUNE_BATCH, pruneInBatches, seriesRows, valueCount,
  type EmtRepository, type GatewayRecord, type MessageQuery, type MessageRecord, type MeteringPointRecord, type PruneBatchResult, type PruneRequest,
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
  {
    version: 2,
    name: 'series apart from their values',
    // As the SQLite store's version 2: a series' header once, a value row (series, time, value, status).
    // Series migrated from version 1 are numbered within their message by OBIS and register.
    sql: `
ALTER TABLE series_values RENAME TO series_values_v1;
CREATE TABLE series (
  id             BIGSERIAL PRIMARY KEY,
  message        BIGINT  NOT NULL REFERENCES messages (id),
  position       INTEGER NOT NULL,
  metering_point TEXT    NOT NULL,
  obis           TEXT    NOT NULL,
  unit           TEXT,
  scaler         INTEGER NOT NULL,
  kind           TEXT    NOT NULL,
  register       TEXT,
  period_s       INTEGER,
  value_count    INTEGER NOT NULL,
  first_ms       BIGINT,
  last_ms        BIGINT,
  UNIQUE (message, position)
);
CREATE INDEX series_by_point ON series (metering_point, obis);
CREATE INDEX messages_by_period_end ON messages (period_end_ms);
CREATE TABLE series_values (
  series  BIGINT NOT NULL REFERENCES series (id),
  time_ms BIGINT NOT NULL,
  value   NUMERIC(40, 0),
  status  BIGINT NOT NULL,
  PRIMARY KEY (series, time_ms)
);
INSERT INTO series (message, position, metering_point, obis, unit, scaler, kind, register, period_s, value_count, first_ms, last_ms)
  SELECT message, (row_number() OVER (PARTITION BY message ORDER BY obis, register NULLS FIRST, kind, unit NULLS FIRST, scaler, period_s NULLS FIRST))::int - 1,
         metering_point, obis, unit, scaler, kind, register, period_s, count(*), min(time_ms), max(time_ms)
  FROM series_values_v1 GROUP BY message, metering_point, obis, unit, scaler, kind, register, period_s;
INSERT INTO series_values (series, time_ms, value, status)
  SELECT s.id, v.time_ms, v.value, v.status FROM series_values_v1 v JOIN series s
    ON s.message = v.message AND s.metering_point = v.metering_point AND s.obis = v.obis AND s.unit IS NOT DISTINCT FROM v.unit
   AND s.scaler = v.scaler AND s.kind = v.kind AND s.register IS NOT DISTINCT FROM v.register AND s.period_s IS NOT DISTINCT FROM v.period_s;
DROP TABLE series_values_v1;
`,
  },
  {
    version: 3,
    name: 'verified certificate signatures',
    sql: `
-- @smgw/pki signatureMemoKey of each certificate signature the receiver verified, until the certificate expires.
CREATE TABLE verified_signatures (
  key          TEXT   PRIMARY KEY,
  not_after_ms BIGINT NOT NULL
);
`,
  },
]

/** Where the PostgreSQL store records its schema version, and its migrators' advisory lock. */
export const POSTGRES_SCHEMA = { table: 'emt_schema', lockKey: 5534523 } as const

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
    await migratePostgres(pool, { ...POSTGRES_SCHEMA, migrations: POSTGRES_MIGRATIONS, refuse: (m) => new EmtError('EMT_STORAGE_FAILED', m) })
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
      const series = seriesRows(m)
      // ON CONFLICT: a concurrent delivery of the same messageId committed first; decide against it.
      const inserted = await client.query<{ id: string }>(`INSERT INTO messages (gateway_id, message_id, sha256, use_case, metering_point, metering_point_kind,
        period_start_ms, period_end_ms, created_ms, received_ms, value_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (gateway_id, message_id) DO NOTHING RETURNING id`,
      [m.gatewayId, m.messageId, input.sha256, m.useCase, m.meteringPoint.id, m.meteringPoint.kind,
        Date.parse(m.period.start), Date.parse(m.period.end), Date.parse(m.createdAt), input.receivedAt.getTime(), valueCount(series)])
      const id = inserted.rows[0]?.id
      if (id === undefined) {
        const raced = await decide()
        await client.query('ROLLBACK')
        return raced ?? 'conflict'
      }
      // Every series in one statement, every value in another (unnest: one round trip each, whatever the size).
      const ids = await client.query<{ id: string; position: number }>(`INSERT INTO series (message, metering_point, position, obis, unit, scaler, kind, register, period_s, value_count, first_ms, last_ms)
        SELECT $1, $2, * FROM unnest($3::int[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[], $9::int[], $10::int[], $11::bigint[], $12::bigint[])
        RETURNING id, position`,
      [id, m.meteringPoint.id, series.map((r) => r.position), series.map((r) => r.obis), series.map((r) => r.unit), series.map((r) => r.scaler),
        series.map((r) => r.kind), series.map((r) => r.register), series.map((r) => r.periodSeconds), series.map((r) => r.times.length),
        series.map((r) => r.times[0] ?? null), series.map((r) => r.times.at(-1) ?? null)])
      const seriesId = new Map(ids.rows.map((r) => [r.position, r.id]))
      const values = series.flatMap((r) => r.values.map((v, i) => ({ series: seriesId.get(r.position), time: r.times[i], value: v.value, status: v.status })))
      if (values.length > 0) {
        await client.query('INSERT INTO series_values (series, time_ms, value, status) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::numeric[], $4::bigint[])',
          [values.map((v) => v.series), values.map((v) => v.time), values.map((v) => v.value), values.map((v) => v.status)])
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
  /** One transaction of at most PRUNE_BATCH messages (SKIP LOCKED: a concurrent pruner takes others). */
  const pruneBatch = async (q: PruneRequest): Promise<PruneBatchResult> => {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      const victims = await client.query<{ id: string; created_ms: string }>(`
        SELECT m.id, m.created_ms FROM messages m
        WHERE m.period_end_ms <= $1 AND (m.created_ms < $2 OR EXISTS (SELECT 1 FROM series s WHERE s.message = m.id))
        ORDER BY m.period_end_ms LIMIT $3 FOR UPDATE SKIP LOCKED`, [q.periodEndAtOrBefore.getTime(), q.createdBefore.getTime(), PRUNE_BATCH])
      const ids = victims.rows.map((v) => v.id)
      const old = victims.rows.filter((v) => Number(v.created_ms) < q.createdBefore.getTime()).map((v) => v.id)
      const values = await client.query('DELETE FROM series_values WHERE series IN (SELECT id FROM series WHERE message = ANY($1::bigint[]))', [ids])
      await client.query('DELETE FROM series WHERE message = ANY($1::bigint[])', [ids])
      const messages = await client.query('DELETE FROM messages WHERE id = ANY($1::bigint[])', [old])
      await client.query('COMMIT')
      return { messages: messages.rowCount ?? 0, values: values.rowCount ?? 0, more: ids.length === PRUNE_BATCH }
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw err
    } finally {
      client.release()
    }
  }
  return {
    kind: 'postgres',
    prune: (q) => guard('prune', () => pruneInBatches(() => pruneBatch(q))),
    rememberSignatures: (entries) => guard('rememberSignatures', async () => {
      if (entries.length === 0) return
      await pool.query('INSERT INTO verified_signatures (key, not_after_ms) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT (key) DO NOTHING',
        [entries.map((e) => e.key), entries.map((e) => e.notAfter.getTime())])
    }),
    rememberedSignatures: (at) => guard('rememberedSignatures', async () =>
      (await pool.query<{ key: string }>('SELECT key FROM verified_signatures WHERE not_after_ms >= $1', [at.getTime()])).rows.map((r) => r.key)),
    forgetSignatures: (expiredBefore) => guard('forgetSignatures', async () =>
      (await pool.query('DELETE FROM verified_signatures WHERE not_after_ms < $1', [expiredBefore.getTime()])).rowCount ?? 0),
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
        SELECT s.metering_point AS id, m.metering_point_kind AS kind, array_agg(DISTINCT s.obis) AS obis, sum(s.value_count) AS n,
               min(s.first_ms) AS first_ms, max(s.last_ms) AS last_ms
        FROM series s JOIN messages m ON m.id = s.message WHERE s.value_count > 0
        GROUP BY s.metering_point, m.metering_point_kind ORDER BY s.metering_point COLLATE "C"`)
      return r.rows.map((p): MeteringPointRecord => ({
        id: p.id, kind: p.kind as MeteringPointRecord['kind'], obis: [...p.obis].sort(), values: Number(p.n),
        firstTime: new Date(Number(p.first_ms)), lastTime: new Date(Number(p.last_ms)),
      }))
    }),
    queryValues: (q: ValueQuery) => guard('queryValues', async () => {
      const where: string[] = []
      const args: unknown[] = []
      const arg = (v: unknown) => { args.push(v); return `$${String(args.length)}` }
      if (q.meteringPoint !== undefined) where.push(`s.metering_point = ${arg(q.meteringPoint)}`)
      if (q.obis !== undefined) where.push(`s.obis = ${arg(q.obis)}`)
      if (q.from !== undefined) where.push(`v.time_ms > ${arg(q.from.getTime())}`)
      if (q.to !== undefined) where.push(`v.time_ms <= ${arg(q.to.getTime())}`)
      const limit = arg(Math.min(q.limit ?? MAX_QUERY_ROWS, MAX_QUERY_ROWS))
      const r = await pool.query<PgValueRow>(`
        SELECT s.metering_point, m.metering_point_kind, m.gateway_id, m.message_id, m.use_case, s.obis, s.unit, s.scaler, s.kind,
               s.register, s.period_s, v.time_ms, v.value::text AS value, v.status
        FROM series s JOIN series_values v ON v.series = s.id JOIN messages m ON m.id = s.message
        ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
        ORDER BY s.metering_point COLLATE "C", s.obis COLLATE "C", coalesce(s.register, '') COLLATE "C", v.time_ms, m.id LIMIT ${limit}`, args)
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

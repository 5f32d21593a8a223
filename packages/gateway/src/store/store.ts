import { createHash } from 'node:crypto'
import Database from 'better-sqlite3'
import type { Logger } from 'pino'
import { formatCanonicalJson } from '../canonical-json.js'
import { GatewayError } from '../errors.js'
import { createHanRows } from './han.js'
import { MIGRATIONS, type Migration } from './migrations.js'
import type {
  AppendReadingsResult, ConfigVersion, DeleteExpiredOptions, DeleteExpiredResult, ExpiryCutoffs, IntervalValueInput, LogHeadRow, LogName,
  LogRow, LogRows, OutboxInput, OutboxItem, OutboxQuery, OutboxState, OutboxUpdate, RawRow, ReadingInput, ReadingQuery, Store,
  StoredIntervalValue, StoredReading, TafRun, TafRunResult,
} from './types.js'

export interface StoreDeps {
  readonly now: () => Date
  readonly logger?: Logger
}

export interface StoreOptions {
  /** Open for reading only: no migration, no writes (`smgw log verify`). */
  readonly readonly?: boolean
  /** The schema; tests inject broken or extra migrations. Default MIGRATIONS. */
  readonly migrations?: readonly Migration[]
}

/** Page cache of a gateway store, KiB (PRAGMA cache_size, negative = KiB). */
export const STORE_CACHE_KIB = 16_384
/** WAL pages between automatic checkpoints (PRAGMA wal_autocheckpoint; SQLite's default is 1000). */
export const STORE_WAL_CHECKPOINT_PAGES = 10_000

/** PRAGMA application_id of a gateway store: 'SMGW' in ASCII (SQLite file format §1.3.18). */
export const STORE_APPLICATION_ID = 0x534d4757

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const ID_TEXT = /^[\x21-\x7e]{1,64}$/
const UNIT_TEXT = /^[\x20-\x7e]{1,16}$/
const MESSAGE_ID = /^[\x20-\x7e]{1,128}$/
const SUMMARY_TEXT = /^[^\p{Cc}]{1,200}$/u
const DEFAULT_LIMIT = 10_000
/** Admin state values are counters, version numbers and small JSON objects. */
const ADMIN_VALUE_MAX = 65_536
/** Bound on the remembered valid meter IDs, quantities and units (cleared when full). */
const KNOWN_TEXT_MAX = 4096

/**
 * Opens (and creates or migrates) the gateway store: one SQLite file in WAL mode with
 * synchronous = FULL. FULL rather than NORMAL because a reading is acknowledged to the
 * LMN side once committed and the meter will not send it again: with NORMAL, WAL mode is
 * safe against a process crash but a power loss may drop the last commits. Batching
 * makes the one fsync per commit affordable.
 *
 * secure_delete = ON (per connection, set here): SQLite overwrites deleted content with
 * zeros instead of leaving it in free space, so what retention deletes does not linger in
 * the file. It costs writes on DELETE (and on UPDATE that shrinks a row), not on INSERT.
 */
export function openStore(path: string, deps: StoreDeps, options: StoreOptions = {}): Store {
  const readonly = options.readonly === true
  const migrations = options.migrations ?? MIGRATIONS
  checkMigrations(migrations)
  const latest = migrations.length
  let db: Database.Database
  try {
    db = new Database(path, { readonly, fileMustExist: readonly })
  } catch (err) {
    throw new GatewayError('STORE_OPEN_FAILED', `cannot open ${path}: ${messageOf(err)}`, { cause: err })
  }
  let version: number
  try {
    if (!readonly) {
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = FULL')
      db.pragma('secure_delete = ON')
      // Ingest (bench ingest): a 16 MiB page cache keeps the index tail and the hot pages of
      // the last batches in memory, and a checkpoint every 10 000 WAL pages (about 40 MB)
      // instead of SQLite's 1 000 writes each changed page back once per many batches rather
      // than every few. Durability is unchanged: every commit is in the WAL, fsynced (FULL).
      db.pragma(`cache_size = -${STORE_CACHE_KIB}`)
      db.pragma(`wal_autocheckpoint = ${STORE_WAL_CHECKPOINT_PAGES}`)
    }
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    version = Number(db.pragma('user_version', { simple: true }))
    const appId = Number(db.pragma('application_id', { simple: true }))
    if (version > 0 && appId !== STORE_APPLICATION_ID) {
      throw new GatewayError('STORE_OPEN_FAILED', `${path} is an SQLite database but not a gateway store (application_id ${appId})`)
    }
  } catch (err) {
    db.close()
    if (err instanceof GatewayError) throw err
    throw new GatewayError('STORE_OPEN_FAILED', `${path} is not a usable SQLite database: ${messageOf(err)}`, { cause: err })
  }
  if (version > latest) {
    db.close()
    throw new GatewayError('STORE_SCHEMA_TOO_NEW', `${path} has schema version ${version}; this gateway knows up to ${latest}`)
  }
  if (readonly && version < latest) {
    db.close()
    throw new GatewayError('STORE_OPEN_FAILED', version === 0
      ? `${path} is not a gateway store (no schema)`
      : `${path} has schema version ${version} and needs migrating to ${latest}; open it read-write once`)
  }
  for (const m of migrations) {
    if (m.version <= version) continue
    try {
      db.transaction(() => {
        db.exec(m.sql)
        if (m.version === 1) db.pragma(`application_id = ${STORE_APPLICATION_ID}`)
        db.pragma(`user_version = ${m.version}`)
      })()
    } catch (err) {
      db.close()
      throw new GatewayError('STORE_MIGRATION_FAILED', `migration ${m.version} (${m.name}) failed and was rolled back: ${messageOf(err)}`, { cause: err })
    }
    deps.logger?.info({ version: m.version, migration: m.name }, 'store migrated')
    version = m.version
  }
  return createRepository(db, path, version, readonly, deps)
}

function checkMigrations(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new GatewayError('STORE_MIGRATION_FAILED', `migration list out of order: position ${i + 1} has version ${m.version}`)
  })
}

function createRepository(db: Database.Database, path: string, schemaVersion: number, readonly: boolean, deps: StoreDeps): Store {
  let closed = false
  const s = readonly ? undefined : {
    insertReading: db.prepare('INSERT INTO readings (meter_id, quantity, time_ms, mantissa, scaler, unit, status, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    putInterval: db.prepare('INSERT OR REPLACE INTO interval_values (meter_id, quantity, period_s, end_ms, mantissa, scaler, unit, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    insertOutbox: schemaVersion >= 2
      ? db.prepare("INSERT INTO outbox (recipient, purpose, payload, state, attempts, next_attempt_ms, created_ms, message_id, summary) VALUES (?, ?, ?, 'pending', 0, ?, ?, ?, ?)")
      : undefined,
    updateOutbox: schemaVersion >= 2
      ? db.prepare("UPDATE outbox SET state = ?, attempts = ?, next_attempt_ms = ?, last_error = ?, delivered_ms = CASE WHEN ? = 'delivered' THEN ? END WHERE id = ?")
      : undefined,
    putWatermark: schemaVersion >= 2
      ? db.prepare('INSERT INTO taf_watermarks (profile, until_ms, updated_ms) VALUES (?, ?, ?) ON CONFLICT (profile) DO UPDATE SET until_ms = excluded.until_ms, updated_ms = excluded.updated_ms')
      : undefined,
    insertConfig: db.prepare('INSERT INTO config_versions (version, created_ms, sha256, config) VALUES (?, ?, ?, ?)'),
    insertEntry: db.prepare('INSERT INTO log_entries (log, stream, seq, time, type, fields, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    insertHead: db.prepare('INSERT INTO log_heads (log, stream, seq, kind, day, hash, signed_at, signature, cert_ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    putCertificate: db.prepare('INSERT OR IGNORE INTO certificates (ref, der) VALUES (?, ?)'),
    putAdminState: schemaVersion >= 5
      ? db.prepare('INSERT INTO admin_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
      : undefined,
  }
  const latestConfig = db.prepare('SELECT version, created_ms, sha256, config FROM config_versions ORDER BY version DESC LIMIT 1')
  const countReadings = db.prepare('SELECT count(*) AS n FROM readings').pluck()
  const lastEntry = db.prepare('SELECT * FROM log_entries WHERE log = ? AND stream = ? ORDER BY seq DESC LIMIT 1')
  const hasHead = db.prepare('SELECT 1 FROM log_heads WHERE log = ? AND stream = ? AND seq = ?').pluck()
  const entries = db.prepare('SELECT * FROM log_entries WHERE log = ? AND stream = ? ORDER BY seq')
  const heads = db.prepare('SELECT * FROM log_heads WHERE log = ? AND stream = ? ORDER BY seq, kind')
  const streams = db.prepare('SELECT log, stream FROM log_entries GROUP BY log, stream UNION SELECT log, stream FROM log_heads GROUP BY log, stream ORDER BY 1, 2')
  const certificates = db.prepare('SELECT * FROM certificates ORDER BY ref')

  const watermark = schemaVersion >= 2 ? db.prepare('SELECT until_ms FROM taf_watermarks WHERE profile = ?').pluck() : undefined
  const allWatermarks = schemaVersion >= 2 ? db.prepare('SELECT profile, until_ms FROM taf_watermarks ORDER BY profile') : undefined
  const adminState = schemaVersion >= 5 ? db.prepare('SELECT value FROM admin_state WHERE key = ?').pluck() : undefined
  /** Statements of schema version 5 exist only on a file at version 5 or later. */
  const v5 = <T>(stmt: T | undefined): T => {
    if (stmt === undefined) throw new GatewayError('STORE_WRITE_FAILED', `the store is at schema version ${schemaVersion}; this needs version 5`)
    return stmt
  }
  /** Statements of schema version 2 exist only on a file at version 2 or later (tests open version-1 files). */
  const v2 = <T>(stmt: T | undefined): T => {
    if (stmt === undefined) throw new GatewayError('STORE_WRITE_FAILED', `the store is at schema version ${schemaVersion}; this needs version 2`)
    return stmt
  }
  /**
   * Meter IDs, quantities and units already found valid: a gateway sees the same few
   * hundred strings over and over, so each is checked by regex once, not per reading.
   */
  const knownIds = new Set<string>()
  const knownUnits = new Set<string>()
  const checkReadings = (batch: readonly ReadingInput[]): void => {
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!
      if (!knownIds.has(r.meterId) || !knownIds.has(r.quantity) || (r.unit !== undefined && !knownUnits.has(r.unit))) {
        checkValue('reading', i, r)
        remember(knownIds, r.meterId)
        remember(knownIds, r.quantity)
        if (r.unit !== undefined) remember(knownUnits, r.unit)
      }
      if (typeof r.mantissa !== 'bigint') throw invalid('reading', i, 'mantissa must be a bigint')
      const scaler = r.scaler
      if (!Number.isInteger(scaler) || scaler < -128 || scaler > 127) throw invalid('reading', i, 'scaler must be an integer −128…127')
      if (!(r.time instanceof Date) || Number.isNaN(r.time.getTime())) throw invalid('reading', i, 'time must be a valid Date')
      if (r.status !== undefined && (typeof r.status !== 'bigint' || r.status < 0n)) throw invalid('reading', i, 'status must be a non-negative bigint')
    }
  }

  const open = (): void => {
    if (closed) throw new GatewayError('STORE_CLOSED', 'the store is closed')
  }
  const writer = (): NonNullable<typeof s> => {
    open()
    if (s === undefined) throw new GatewayError('STORE_WRITE_FAILED', 'the store is open read-only')
    return s
  }
  /** Runs a write transaction; any failure rolls it back and becomes STORE_WRITE_FAILED. */
  const write = <T>(what: string, fn: () => T): T => {
    try {
      return db.transaction(fn)()
    } catch (err) {
      if (err instanceof GatewayError) throw err
      throw new GatewayError('STORE_WRITE_FAILED', `${what} failed and was rolled back: ${messageOf(err)}`, { cause: err })
    }
  }
  const read = <T>(fn: () => T): T => {
    open()
    try {
      return fn()
    } catch (err) {
      if (err instanceof GatewayError) throw err
      throw new GatewayError('STORE_READ_FAILED', `reading ${path} failed: ${messageOf(err)}`, { cause: err })
    }
  }

  const logRows: LogRows = {
    last: (log, stream) => read(() => lastEntry.get(log, stream) as RawRow | undefined),
    hasHead: (log, stream, seq) => read(() => hasHead.get(log, stream, seq) !== undefined),
    append: (entry: LogRow, newHeads: readonly LogHeadRow[] = []) => {
      const w = writer()
      write('log append', () => {
        for (const h of newHeads) w.insertHead.run(h.log, h.stream, h.seq, h.kind, h.day, h.hash, h.signedAt, h.signature, h.certRef)
        w.insertEntry.run(entry.log, entry.stream, entry.seq, entry.time, entry.type, entry.fields, entry.prev, entry.hash)
      })
    },
    entries: (log: LogName, stream) => read(() => entries.all(log, stream) as RawRow[]),
    heads: (log: LogName, stream) => read(() => heads.all(log, stream) as RawRow[]),
    streams: () => read(() => (streams.all() as RawRow[]).map((r) => ({ log: String(r.log), stream: String(r.stream) }))),
    insertHeads: (newHeads: readonly LogHeadRow[]) => {
      const w = writer()
      write('log heads', () => {
        for (const h of newHeads) w.insertHead.run(h.log, h.stream, h.seq, h.kind, h.day, h.hash, h.signedAt, h.signature, h.certRef)
      })
    },
    putCertificate: (ref, der) => {
      const w = writer()
      write('certificate insert', () => w.putCertificate.run(ref, der))
    },
    certificates: () => read(() => certificates.all() as RawRow[]),
  }

  /**
   * Removes deleted rows from the bytes on disk. secure_delete already zeroed them in the
   * pages SQLite wrote, but older copies of those pages remain in the WAL until it is reset,
   * and freed pages stay in the file: VACUUM rewrites the database into fresh pages (cost:
   * one full copy of the database through the WAL, seconds for hundreds of MB — retention
   * runs daily), and wal_checkpoint(TRUNCATE) copies it back and cuts the WAL to zero bytes.
   */
  /** A compaction that failed is retried by the next deleteExpired, even when it deletes nothing. */
  let compactionOwed = false
  const compact = (): boolean => {
    // Not fatal: the delete has committed (and secure_delete zeroed the rows in the pages it
    // wrote); a reader on another connection can make VACUUM or the WAL reset fail for now.
    try {
      db.exec('VACUUM')
      const [cp] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[]
      if (cp === undefined || cp.busy === 0) return true
      deps.logger?.warn({ path }, 'WAL not truncated after deleting: another connection is reading')
    } catch (err) {
      deps.logger?.warn({ path, err: messageOf(err) }, 'store not compacted after deleting')
    }
    return false
  }

  return {
    path,
    schemaVersion,
    readonly,
    appendReadings(batch: readonly ReadingInput[]): AppendReadingsResult {
      const w = writer()
      checkReadings(batch)
      if (batch.length === 0) return { count: 0, firstId: 0, lastId: 0 }
      const receivedMs = deps.now().getTime()
      const insert = w.insertReading
      return write('reading batch', () => {
        let firstId = 0
        let lastId = 0
        for (const r of batch) {
          const m = r.mantissa
          const st = r.status
          const info = insert.run(r.meterId, r.quantity, r.time.getTime(), m >= INT64_MIN && m <= INT64_MAX ? m : m.toString(), r.scaler, r.unit ?? null,
            st === undefined ? null : st <= INT64_MAX ? st : st.toString(), receivedMs)
          lastId = Number(info.lastInsertRowid)
          if (firstId === 0) firstId = lastId
        }
        return { count: batch.length, firstId, lastId }
      })
    },
    readReadings(query: ReadingQuery = {}): StoredReading[] {
      return read(() => {
        const where: string[] = []
        const params: (string | number)[] = []
        if (query.meterId !== undefined) { where.push('meter_id = ?'); params.push(query.meterId) }
        if (query.quantity !== undefined) { where.push('quantity = ?'); params.push(query.quantity) }
        if (query.from !== undefined) { where.push('time_ms >= ?'); params.push(query.from.getTime()) }
        if (query.to !== undefined) { where.push('time_ms < ?'); params.push(query.to.getTime()) }
        if (query.afterId !== undefined) { where.push('id > ?'); params.push(query.afterId) }
        const sql = `SELECT * FROM readings${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`
        const rows = db.prepare(sql).safeIntegers(true).all(...params, query.limit ?? DEFAULT_LIMIT) as RawRow[]
        return rows.map((row) => {
          const unit = row.unit
          const status = row.status
          return {
            id: Number(row.id), meterId: String(row.meter_id), quantity: String(row.quantity), time: new Date(Number(row.time_ms)),
            mantissa: fromSqlInteger(row.mantissa), scaler: Number(row.scaler),
            ...(typeof unit === 'string' ? { unit } : {}),
            ...(status === null || status === undefined ? {} : { status: fromSqlInteger(status) }),
            receivedAt: new Date(Number(row.received_ms)),
          }
        })
      })
    },
    countReadings: () => read(() => Number(countReadings.get())),
    putIntervalValues(batch: readonly IntervalValueInput[]): number {
      const w = writer()
      batch.forEach((v, i) => { checkInterval(v, i) })
      return write('interval values', () => {
        for (const v of batch) w.putInterval.run(v.meterId, v.quantity, v.periodSeconds, v.end.getTime(), toSqlInteger(v.mantissa), v.scaler, v.unit ?? null, v.status)
        return batch.length
      })
    },
    readIntervalValues(query): StoredIntervalValue[] {
      return read(() => {
        const where: string[] = []
        const params: (string | number)[] = []
        if (query.meterId !== undefined) { where.push('meter_id = ?'); params.push(query.meterId) }
        if (query.quantity !== undefined) { where.push('quantity = ?'); params.push(query.quantity) }
        if (query.from !== undefined) { where.push('end_ms >= ?'); params.push(query.from.getTime()) }
        if (query.to !== undefined) { where.push('end_ms < ?'); params.push(query.to.getTime()) }
        const sql = `SELECT * FROM interval_values${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY meter_id, quantity, end_ms`
        return (db.prepare(sql).safeIntegers(true).all(...params) as RawRow[]).map((row) => ({
          id: Number(row.id), meterId: String(row.meter_id), quantity: String(row.quantity), periodSeconds: Number(row.period_s),
          end: new Date(Number(row.end_ms)), mantissa: fromSqlInteger(row.mantissa), scaler: Number(row.scaler),
          ...(typeof row.unit === 'string' ? { unit: row.unit } : {}), status: Number(row.status),
        }))
      })
    },
    enqueueOutbox(item: OutboxInput): number {
      const w = writer()
      checkOutbox(item, 0)
      const now = deps.now().getTime()
      const insert = v2(w.insertOutbox)
      return write('outbox insert', () => insertOutbox(insert, item, now))
    },
    dueOutbox(at: Date, limit = 100): OutboxItem[] {
      return read(() => (db.prepare("SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_ms <= ? ORDER BY next_attempt_ms, id LIMIT ?")
        .all(at.getTime(), limit) as RawRow[]).map(toOutboxItem))
    },
    readOutbox(query: OutboxQuery = {}): OutboxItem[] {
      return read(() => {
        const where: string[] = []
        const params: (string | number)[] = []
        if (query.state !== undefined) { where.push('state = ?'); params.push(query.state) }
        if (query.afterId !== undefined) { where.push('id > ?'); params.push(query.afterId) }
        const sql = `SELECT * FROM outbox${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`
        return (db.prepare(sql).all(...params, query.limit ?? DEFAULT_LIMIT) as RawRow[]).map(toOutboxItem)
      })
    },
    updateOutbox(id: number, u: OutboxUpdate): void {
      const w = writer()
      const update = v2(w.updateOutbox)
      const now = deps.now().getTime()
      const changed = write('outbox update', () => update.run(u.state, u.attempts, u.nextAttempt.getTime(), u.lastError ?? null, u.state, now, id).changes)
      if (changed === 0) throw new GatewayError('STORE_INPUT_INVALID', `no outbox item ${id}`)
    },
    tafWatermark(profile: string): Date | undefined {
      if (typeof profile !== 'string' || !ID_TEXT.test(profile)) throw new GatewayError('STORE_INPUT_INVALID', 'a tariff profile is 1–64 printable ASCII characters')
      return read(() => {
        const ms = v2(watermark).get(profile) as number | undefined
        return ms === undefined ? undefined : new Date(ms)
      })
    },
    tafWatermarks(): ReadonlyMap<string, Date> {
      return read(() => new Map((v2(allWatermarks).all() as RawRow[]).map((r) => [String(r.profile), new Date(Number(r.until_ms))])))
    },
    commitTafRun(run: TafRun): TafRunResult {
      const w = writer()
      if (typeof run.profile !== 'string' || !ID_TEXT.test(run.profile)) throw new GatewayError('STORE_INPUT_INVALID', 'TAF run: profile must be 1–64 printable ASCII characters')
      if (!isValidDate(run.until)) throw new GatewayError('STORE_INPUT_INVALID', 'TAF run: until must be a valid Date')
      const values = run.intervalValues ?? []
      const items = run.outbox ?? []
      values.forEach((v, i) => { checkInterval(v, i) })
      items.forEach((o, i) => { checkOutbox(o, i) })
      const insert = v2(w.insertOutbox)
      const put = v2(w.putWatermark)
      const get = v2(watermark)
      const now = deps.now().getTime()
      const until = run.until.getTime()
      return write('TAF run', () => {
        const before = get.get(run.profile) as number | undefined
        if (before !== undefined && until < before) {
          throw new GatewayError('STORE_INPUT_INVALID', `TAF run: the watermark of ${run.profile} would go back from ${new Date(before).toISOString()} to ${run.until.toISOString()}`)
        }
        for (const v of values) w.putInterval.run(v.meterId, v.quantity, v.periodSeconds, v.end.getTime(), toSqlInteger(v.mantissa), v.scaler, v.unit ?? null, v.status)
        const outboxIds = items.map((o) => insertOutbox(insert, o, now))
        put.run(run.profile, until, now)
        return { outboxIds }
      })
    },
    deleteExpired(cutoffs: ExpiryCutoffs, options: DeleteExpiredOptions = {}): DeleteExpiredResult {
      writer()
      checkCutoffs(cutoffs, options)
      const keep = options.keepFrom?.getTime() ?? Number.POSITIVE_INFINITY
      const bound = (d: Date): number => Math.min(d.getTime(), keep)
      const result = write('retention delete', () => {
        const readings = new Map<string, number>()
        const readingsBefore = bound(cutoffs.readings)
        for (const r of db.prepare('SELECT meter_id, count(*) AS n FROM readings WHERE time_ms < ? GROUP BY meter_id ORDER BY meter_id').all(readingsBefore) as RawRow[]) {
          readings.set(String(r.meter_id), Number(r.n))
        }
        if (readings.size > 0) db.prepare('DELETE FROM readings WHERE time_ms < ?').run(readingsBefore)

        // Interval values: one (period, before) rule per listed period, the default for the rest.
        const periods = [...(cutoffs.intervalValuesByPeriod ?? new Map<number, Date>())]
        const rules: { where: string; params: number[] }[] = periods.map(([p, d]) => ({ where: 'period_s = ? AND end_ms < ?', params: [p, bound(d)] }))
        rules.push({
          where: `${periods.length > 0 ? `period_s NOT IN (${periods.map(() => '?').join(', ')}) AND ` : ''}end_ms < ?`,
          params: [...periods.map(([p]) => p), bound(cutoffs.intervalValues)],
        })
        const intervalValues = new Map<string, number>()
        for (const rule of rules) {
          for (const r of db.prepare(`SELECT meter_id, count(*) AS n FROM interval_values WHERE ${rule.where} GROUP BY meter_id`).all(...rule.params) as RawRow[]) {
            intervalValues.set(String(r.meter_id), (intervalValues.get(String(r.meter_id)) ?? 0) + Number(r.n))
          }
          db.prepare(`DELETE FROM interval_values WHERE ${rule.where}`).run(...rule.params)
        }

        // Delivered outbox items only; items from before schema 2 have no delivery time and count from creation.
        const purposes = [...(cutoffs.deliveredOutboxByPurpose ?? new Map<string, Date>())]
        const delivered = "state = 'delivered' AND coalesce(delivered_ms, created_ms) < ?"
        let outbox = 0
        for (const [purpose, d] of purposes) outbox += db.prepare(`DELETE FROM outbox WHERE ${delivered} AND purpose = ?`).run(d.getTime(), purpose).changes
        outbox += db.prepare(`DELETE FROM outbox WHERE ${delivered}${purposes.length > 0 ? ` AND purpose NOT IN (${purposes.map(() => '?').join(', ')})` : ''}`)
          .run(cutoffs.deliveredOutbox.getTime(), ...purposes.map(([p]) => p)).changes
        return { readings, intervalValues, outbox }
      })
      const deleted = sum(result.readings) + sum(result.intervalValues) + result.outbox
      if (deleted === 0 && !compactionOwed) return { ...result, compacted: false }
      compactionOwed = !compact()
      return { ...result, compacted: !compactionOwed }
    },
    saveConfigVersion(config: unknown): ConfigVersion {
      const w = writer()
      let text: string
      try {
        text = formatCanonicalJson(config)
      } catch (err) {
        throw new GatewayError('STORE_INPUT_INVALID', `configuration is not JSON: ${messageOf(err)}`, { cause: err })
      }
      const sha256 = createHash('sha256').update(text).digest('hex')
      return write('config version', () => {
        const last = toConfig(latestConfig.get() as RawRow | undefined)
        if (last?.sha256 === sha256) return last
        const v: ConfigVersion = { version: (last?.version ?? 0) + 1, createdAt: deps.now(), sha256, config: text }
        w.insertConfig.run(v.version, v.createdAt.getTime(), sha256, text)
        return v
      })
    },
    latestConfigVersion: () => read(() => toConfig(latestConfig.get() as RawRow | undefined)),
    getAdminState(key: string): string | undefined {
      checkAdminKey(key)
      return read(() => {
        return v5(adminState).get(key) as string | undefined
      })
    },
    setAdminState(key: string, value: string): void {
      const w = writer()
      checkAdminKey(key)
      if (typeof value !== 'string' || value.length > ADMIN_VALUE_MAX) throw new GatewayError('STORE_INPUT_INVALID', `admin state ${key}: the value must be a string of at most ${ADMIN_VALUE_MAX} characters`)
      const put = v5(w.putAdminState)
      write('admin state', () => put.run(key, value))
    },
    logRows,
    han: createHanRows(db, schemaVersion, read, write, deps.now),
    integrityCheck: () => read(() => db.pragma('integrity_check', { simple: false }) as { integrity_check: string }[]).map((r) => r.integrity_check),
    close(): void {
      if (closed) return
      closed = true
      db.close()
      deps.logger?.info({ path }, 'store closed')
    },
  }
}

function checkAdminKey(key: string): void {
  if (typeof key !== 'string' || !ID_TEXT.test(key)) throw new GatewayError('STORE_INPUT_INVALID', 'an admin state key is 1–64 printable ASCII characters')
}

function remember(set: Set<string>, value: string): void {
  if (set.size >= KNOWN_TEXT_MAX) set.clear()
  set.add(value)
}

function sum(counts: ReadonlyMap<string, number>): number {
  let n = 0
  for (const c of counts.values()) n += c
  return n
}

function checkCutoffs(c: ExpiryCutoffs, o: DeleteExpiredOptions): void {
  const dates = [c.readings, c.intervalValues, c.deliveredOutbox, ...(c.intervalValuesByPeriod?.values() ?? []), ...(c.deliveredOutboxByPurpose?.values() ?? [])]
  if (o.keepFrom !== undefined) dates.push(o.keepFrom)
  if (!dates.every(isValidDate)) throw new GatewayError('STORE_INPUT_INVALID', 'retention: every cutoff must be a valid Date')
  for (const p of c.intervalValuesByPeriod?.keys() ?? []) {
    if (!Number.isInteger(p) || p <= 0) throw new GatewayError('STORE_INPUT_INVALID', `retention: period ${p} is not a positive integer`)
  }
}

function checkOutbox(item: OutboxInput, i: number): void {
  if (typeof item.recipient !== 'string' || !ID_TEXT.test(item.recipient) || typeof item.purpose !== 'string' || !ID_TEXT.test(item.purpose) || !(item.payload instanceof Uint8Array)) {
    throw invalid('outbox item', i, 'recipient and purpose are 1–64 printable characters, payload bytes')
  }
  if (item.notBefore !== undefined && !isValidDate(item.notBefore)) throw invalid('outbox item', i, 'notBefore must be a valid Date')
  if (item.messageId !== undefined && (typeof item.messageId !== 'string' || !MESSAGE_ID.test(item.messageId))) {
    throw invalid('outbox item', i, 'messageId must be 1–128 printable ASCII characters')
  }
  if (item.summary !== undefined && (typeof item.summary !== 'string' || !SUMMARY_TEXT.test(item.summary))) {
    throw invalid('outbox item', i, 'summary must be 1–200 characters of one line')
  }
}

function insertOutbox(insert: Database.Statement, item: OutboxInput, now: number): number {
  try {
    return Number(insert.run(item.recipient, item.purpose, item.payload, item.notBefore?.getTime() ?? now, now, item.messageId ?? null, item.summary ?? null).lastInsertRowid)
  } catch (err) {
    if ((err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw new GatewayError('STORE_INPUT_INVALID', `outbox item: message ID ${String(item.messageId)} is already in the outbox`, { cause: err })
    }
    throw err
  }
}

function toOutboxItem(row: RawRow): OutboxItem {
  return {
    id: Number(row.id), recipient: String(row.recipient), purpose: String(row.purpose), payload: new Uint8Array(row.payload as Buffer),
    state: row.state as OutboxState, attempts: Number(row.attempts), nextAttempt: new Date(Number(row.next_attempt_ms)),
    createdAt: new Date(Number(row.created_ms)), lastError: typeof row.last_error === 'string' ? row.last_error : undefined,
    messageId: typeof row.message_id === 'string' ? row.message_id : undefined,
    summary: typeof row.summary === 'string' ? row.summary : undefined,
    deliveredAt: typeof row.delivered_ms === 'number' ? new Date(row.delivered_ms) : undefined,
  }
}

function toConfig(row: RawRow | undefined): ConfigVersion | undefined {
  if (row === undefined) return undefined
  return { version: Number(row.version), createdAt: new Date(Number(row.created_ms)), sha256: String(row.sha256), config: String(row.config) }
}

/** INTEGER when it fits in SQLite's 64-bit signed integer, decimal TEXT otherwise (the column has no affinity). */
function toSqlInteger(v: bigint): bigint | string {
  return v >= INT64_MIN && v <= INT64_MAX ? v : v.toString()
}

function fromSqlInteger(v: unknown): bigint {
  if (typeof v === 'bigint') return v
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v)
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v)
  throw new GatewayError('STORE_READ_FAILED', `a stored integer is not one: ${String(v)}`)
}

function invalid(what: string, i: number, why: string): GatewayError {
  return new GatewayError('STORE_INPUT_INVALID', `${what} ${i}: ${why}`)
}

function checkValue(what: string, i: number, v: { meterId: unknown; quantity: unknown; mantissa: unknown; scaler: unknown; unit?: unknown }): void {
  if (typeof v.meterId !== 'string' || !ID_TEXT.test(v.meterId)) throw invalid(what, i, 'meterId must be 1–64 printable ASCII characters')
  if (typeof v.quantity !== 'string' || !ID_TEXT.test(v.quantity)) throw invalid(what, i, 'quantity must be 1–64 printable ASCII characters')
  if (typeof v.mantissa !== 'bigint') throw invalid(what, i, 'mantissa must be a bigint')
  if (typeof v.scaler !== 'number' || !Number.isInteger(v.scaler) || v.scaler < -128 || v.scaler > 127) throw invalid(what, i, 'scaler must be an integer −128…127')
  if (v.unit !== undefined && (typeof v.unit !== 'string' || !UNIT_TEXT.test(v.unit))) throw invalid(what, i, 'unit must be 1–16 printable ASCII characters')
}

function isValidDate(d: unknown): d is Date {
  return d instanceof Date && Number.isFinite(d.getTime())
}

function checkInterval(v: IntervalValueInput, i: number): void {
  checkValue('interval value', i, v)
  if (!isValidDate(v.end)) throw invalid('interval value', i, 'end must be a valid Date')
  if (!Number.isInteger(v.periodSeconds) || v.periodSeconds <= 0) throw invalid('interval value', i, 'periodSeconds must be a positive integer')
  if (!Number.isInteger(v.status) || v.status < 0 || v.status > 0xffffffff) throw invalid('interval value', i, 'status must be a 32-bit unsigned integer')
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}


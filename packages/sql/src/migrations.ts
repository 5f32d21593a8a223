import Database from 'better-sqlite3'
import type pg from 'pg'

/** One step of a schema: applied once, in version order, inside its own transaction. */
export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

export interface SqliteMigrationOptions {
  /** `PRAGMA application_id` of this kind of file: a file of another application is refused, never migrated. */
  readonly applicationId: number
  /** What the file is, for errors ("an EMT store"). */
  readonly kind: string
  readonly migrations: readonly Migration[]
  /** The owning package's error for a file that is not ours or is newer than this code. */
  readonly refuse: (message: string) => Error
}

/**
 * Opens a head-end's SQLite file as both head-ends want it — WAL, synchronous FULL (an answer
 * after COMMIT is durable), foreign keys, a busy timeout for a second process — and brings it
 * to the newest schema; closed again when that fails.
 */
export function openSqlite(path: string, o: SqliteMigrationOptions): Database.Database {
  const db = new Database(path)
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    migrateSqlite(db, path, o)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

/**
 * Brings a SQLite database to the newest schema; the version lives in `PRAGMA user_version`,
 * set in the same IMMEDIATE transaction as each step, so a crash leaves a whole step or none.
 */
export function migrateSqlite(db: Database.Database, path: string, o: SqliteMigrationOptions): void {
  const version = Number(db.pragma('user_version', { simple: true }))
  const appId = Number(db.pragma('application_id', { simple: true }))
  if (version > 0 && appId !== o.applicationId) throw o.refuse(`${path} is not ${o.kind} (application_id ${String(appId)})`)
  const latest = o.migrations.at(-1)?.version ?? 0
  if (version > latest) throw o.refuse(`${path} has schema version ${String(version)}, newer than this code (${String(latest)})`)
  for (const m of o.migrations) {
    if (m.version <= version) continue
    db.transaction(() => {
      db.exec(m.sql)
      if (m.version === 1) db.pragma(`application_id = ${String(o.applicationId)}`)
      db.pragma(`user_version = ${String(m.version)}`)
    }).immediate()
  }
}

export interface PostgresMigrationOptions {
  /** The table recording applied versions (`emt_schema`, `gwa_schema`). */
  readonly table: string
  /** The advisory-lock key: one migrator at a time across processes sharing the database. */
  readonly lockKey: number
  readonly migrations: readonly Migration[]
  readonly refuse: (message: string) => Error
}

/** Brings a PostgreSQL database to the newest schema, all pending steps in one transaction. */
export async function migratePostgres(pool: pg.Pool, o: PostgresMigrationOptions): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(o.table)) throw new Error(`schema table name ${o.table}`)
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query('SELECT pg_advisory_xact_lock($1)', [o.lockKey])
    await client.query(`CREATE TABLE IF NOT EXISTS ${o.table} (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`)
    const r = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${o.table}`)
    const version = r.rows[0]?.v ?? 0
    const latest = o.migrations.at(-1)?.version ?? 0
    if (version > latest) throw o.refuse(`the database has schema version ${String(version)}, newer than this code (${String(latest)})`)
    for (const m of o.migrations) {
      if (m.version <= version) continue
      await client.query(m.sql)
      await client.query(`INSERT INTO ${o.table} (version, name) VALUES ($1, $2)`, [m.version, m.name])
    }
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw err
  } finally {
    client.release()
  }
}

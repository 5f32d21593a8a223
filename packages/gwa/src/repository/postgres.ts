import pg from 'pg'
import { migratePostgres, type Migration } from '@smgw/sql'
import { GwaError } from '../errors.js'
import {
  commandRecord, firmwareRecord, gatewayRecord, issuedRecord, logRecord, profileRecord, requestRecord,
  type CertificateRow, type CommandRow, type FirmwareRow, type GatewayRow, type IssuedRow, type LogRow, type ProfileRow, type RequestRow,
} from './rows.js'
import { MAX_LIST_ROWS, OPEN_STATES, RESULT_LOST, stateAfterContact, type GatewayRecord, type GatewayState, type GwaRepository } from './types.js'

/*
 * The PostgreSQL inventory (`pg`): the same interface and the same test suite as the SQLite
 * one, for an administrator with a large fleet or several head-end processes on one database.
 * Counters (sequence, wake-up counter) are taken with `UPDATE … RETURNING` inside the row
 * lock, so two processes never hand out the same number. Migrations are a versioned list
 * recorded in gwa_schema.
 */

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'gateways, certificates, commands, profile versions, log exports, firmware packages',
    sql: `
CREATE TABLE gateways (
  id               TEXT PRIMARY KEY,
  note             TEXT,
  state            TEXT    NOT NULL,
  wake_up_address  TEXT,
  tls_subject      TEXT,
  firmware_version TEXT,
  profile_version  INTEGER NOT NULL DEFAULT 0,
  last_sequence    BIGINT  NOT NULL DEFAULT 0,
  wake_up_counter  BIGINT  NOT NULL DEFAULT 0,
  registered_ms    BIGINT  NOT NULL,
  last_contact_ms  BIGINT,
  last_report      TEXT
);
CREATE TABLE gateway_certificates (
  gateway_id   TEXT   NOT NULL REFERENCES gateways (id),
  kind         TEXT   NOT NULL,
  serial       TEXT   NOT NULL,
  not_after_ms BIGINT NOT NULL,
  source       TEXT   NOT NULL,
  PRIMARY KEY (gateway_id, kind, source)
);
CREATE TABLE commands (
  gateway_id  TEXT   NOT NULL REFERENCES gateways (id),
  sequence    BIGINT NOT NULL,
  command_id  TEXT   NOT NULL UNIQUE,
  type        TEXT   NOT NULL,
  state       TEXT   NOT NULL,
  created_ms  BIGINT NOT NULL,
  sent_ms     BIGINT,
  done_ms     BIGINT,
  result      TEXT,
  cms         BYTEA  NOT NULL,
  PRIMARY KEY (gateway_id, sequence)
);
CREATE INDEX commands_by_state ON commands (state, gateway_id, sequence);
CREATE TABLE profile_versions (
  gateway_id  TEXT    NOT NULL REFERENCES gateways (id),
  version     INTEGER NOT NULL,
  command_id  TEXT    NOT NULL,
  state       TEXT    NOT NULL,
  content     TEXT    NOT NULL,
  sha256      TEXT,
  created_ms  BIGINT  NOT NULL,
  PRIMARY KEY (gateway_id, version)
);
CREATE TABLE log_exports (
  id          BIGSERIAL PRIMARY KEY,
  gateway_id  TEXT   NOT NULL REFERENCES gateways (id),
  command_id  TEXT   NOT NULL,
  received_ms BIGINT NOT NULL,
  sha256      TEXT   NOT NULL,
  bytes       BYTEA  NOT NULL
);
CREATE INDEX log_exports_by_gateway ON log_exports (gateway_id, id);
CREATE TABLE firmware_packages (
  version      TEXT PRIMARY KEY,
  name         TEXT   NOT NULL,
  image_sha256 TEXT   NOT NULL,
  size         BIGINT NOT NULL,
  added_ms     BIGINT NOT NULL,
  file         BYTEA  NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'issued certificates, consumer requests',
    sql: `
CREATE TABLE issued_certificates (
  gateway_id  TEXT   NOT NULL REFERENCES gateways (id),
  kind        TEXT   NOT NULL,
  serial      TEXT   NOT NULL,
  der         BYTEA  NOT NULL,
  issued_ms   BIGINT NOT NULL,
  PRIMARY KEY (gateway_id, kind, serial)
);
CREATE TABLE consumer_requests (
  gateway_id        TEXT    NOT NULL REFERENCES gateways (id),
  request_id        BIGINT  NOT NULL,
  consumer          TEXT    NOT NULL,
  kind              TEXT    NOT NULL,
  state             TEXT    NOT NULL,
  created_ms        BIGINT  NOT NULL,
  text              TEXT    NOT NULL,
  first_reported_ms BIGINT  NOT NULL,
  last_reported_ms  BIGINT  NOT NULL,
  in_report         INTEGER NOT NULL,
  answer_state      TEXT,
  answer_note       TEXT,
  answer_command_id TEXT,
  answered_ms       BIGINT,
  PRIMARY KEY (gateway_id, request_id)
);
CREATE INDEX consumer_requests_by_state ON consumer_requests (state, gateway_id, request_id);
`,
  },
]

export interface PostgresRepositoryOptions {
  readonly connectionString: string
  /** Pool size (default 10). */
  readonly maxConnections?: number
}

export async function openPostgresRepository(options: PostgresRepositoryOptions): Promise<GwaRepository> {
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.maxConnections ?? 10 })
  // An idle client's error (server gone) must not crash the process; the next query reports it.
  pool.on('error', () => undefined)
  try {
    await migratePostgres(pool, { table: 'gwa_schema', lockKey: 5534524, migrations: POSTGRES_MIGRATIONS, refuse: (m) => new GwaError('GWA_STORAGE_FAILED', m) })
  } catch (err) {
    await pool.end()
    throw storageError(err, 'cannot open the PostgreSQL inventory')
  }
  let closed = false
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    if (closed) throw new GwaError('GWA_STORAGE_FAILED', 'the inventory is closed')
    try {
      return await f()
    } catch (err) {
      throw storageError(err, what)
    }
  }
  const transaction = async <T>(f: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      const out = await f(client)
      await client.query('COMMIT')
      return out
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw err
    } finally {
      client.release()
    }
  }
  const load = async (q: pg.Pool | pg.PoolClient, id: string): Promise<GatewayRecord | undefined> => {
    const row = (await q.query<GatewayRow>('SELECT * FROM gateways WHERE id = $1', [id])).rows[0]
    if (row === undefined) return undefined
    const certificates = await q.query<CertificateRow>('SELECT kind, serial, not_after_ms, source FROM gateway_certificates WHERE gateway_id = $1 ORDER BY kind COLLATE "C", source COLLATE "C"', [id])
    return gatewayRecord(row, certificates.rows)
  }
  const mustLoad = async (q: pg.Pool | pg.PoolClient, id: string): Promise<GatewayRecord> => {
    const record = await load(q, id)
    if (record === undefined) throw new GwaError('GWA_GATEWAY_UNKNOWN', `gateway ${id} is not registered`)
    return record
  }
  return {
    kind: 'postgres',
    registerGateway: (input) => guard('registerGateway', async () => {
      const r = await pool.query('INSERT INTO gateways (id, note, state, wake_up_address, registered_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING',
        [input.id, input.note ?? null, 'registered', input.wakeUpAddress ?? null, input.registeredAt.getTime()])
      if (r.rowCount === 0) throw new GwaError('GWA_GATEWAY_EXISTS', `gateway ${input.id} is registered already`)
      return mustLoad(pool, input.id)
    }),
    getGateway: (id) => guard('getGateway', () => load(pool, id)),
    listGateways: () => guard('listGateways', async () => {
      const certificates = new Map<string, CertificateRow[]>()
      const all = await pool.query<CertificateRow & { gateway_id: string }>('SELECT gateway_id, kind, serial, not_after_ms, source FROM gateway_certificates ORDER BY gateway_id, kind COLLATE "C", source COLLATE "C"')
      for (const c of all.rows) certificates.set(c.gateway_id, [...(certificates.get(c.gateway_id) ?? []), c])
      const rows = await pool.query<GatewayRow>('SELECT * FROM gateways ORDER BY id COLLATE "C"')
      return rows.rows.map((r) => gatewayRecord(r, certificates.get(r.id) ?? []))
    }),
    updateGateway: (id, patch) => guard('updateGateway', () => transaction(async (c) => {
      const current = await mustLoad(c, id)
      await c.query('UPDATE gateways SET note = $1, wake_up_address = $2, state = $3, profile_version = $4, firmware_version = $5 WHERE id = $6', [
        patch.note === undefined ? current.note : patch.note, patch.wakeUpAddress === undefined ? current.wakeUpAddress : patch.wakeUpAddress, patch.state ?? current.state,
        patch.profileVersion ?? current.profileVersion, patch.firmwareVersion ?? current.firmwareVersion, id])
      return mustLoad(c, id)
    })),
    recordContact: (input) => guard('recordContact', () => transaction(async (c) => {
      const row = (await c.query<{ state: string }>('SELECT state FROM gateways WHERE id = $1 FOR UPDATE', [input.gatewayId])).rows[0]
      if (row === undefined) throw new GwaError('GWA_GATEWAY_UNKNOWN', `gateway ${input.gatewayId} is not registered`)
      const state = stateAfterContact(row.state as GatewayState, input.certificates)
      await c.query('UPDATE gateways SET last_contact_ms = $1, tls_subject = $2, last_report = $3, firmware_version = $4, profile_version = $5, state = $6 WHERE id = $7',
        [input.at.getTime(), input.tlsSubject, JSON.stringify(input.report), input.firmwareVersion, input.profileVersion, state, input.gatewayId])
      await c.query('DELETE FROM gateway_certificates WHERE gateway_id = $1', [input.gatewayId])
      for (const cert of input.certificates) {
        await c.query('INSERT INTO gateway_certificates (gateway_id, kind, serial, not_after_ms, source) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (gateway_id, kind, source) DO UPDATE SET serial = EXCLUDED.serial, not_after_ms = EXCLUDED.not_after_ms',
          [input.gatewayId, cert.kind, cert.serial, cert.notAfter.getTime(), cert.source])
      }
      await c.query(`UPDATE commands SET state = 'failed', done_ms = $1, result = $2 WHERE gateway_id = $3 AND state = 'sent' AND sequence <= $4`,
        [input.at.getTime(), JSON.stringify(RESULT_LOST), input.gatewayId, input.lastExecutedSequence])
      if (input.requests !== undefined) {
        await c.query('UPDATE consumer_requests SET in_report = 0 WHERE gateway_id = $1 AND in_report = 1', [input.gatewayId])
        // One statement for up to 256 requests (unnest of one array per column); a request ID the
        // report repeats counts once, its last entry (ON CONFLICT cannot touch a row twice).
        const rs = [...new Map(input.requests.map((r) => [r.id, r])).values()]
        if (rs.length > 0) {
          await c.query(`INSERT INTO consumer_requests (gateway_id, request_id, consumer, kind, state, created_ms, text, first_reported_ms, last_reported_ms, in_report)
            SELECT $1, r.id, r.consumer, r.kind, r.state, r.created_ms, r.text, $2, $2, 1
            FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[]) AS r (id, consumer, kind, state, created_ms, text)
            ON CONFLICT (gateway_id, request_id) DO UPDATE SET consumer = EXCLUDED.consumer, kind = EXCLUDED.kind, state = EXCLUDED.state,
            created_ms = EXCLUDED.created_ms, text = EXCLUDED.text, last_reported_ms = EXCLUDED.last_reported_ms, in_report = 1`,
          [input.gatewayId, input.at.getTime(), rs.map((r) => r.id), rs.map((r) => r.consumer), rs.map((r) => r.kind), rs.map((r) => r.state), rs.map((r) => r.createdAt.getTime()), rs.map((r) => r.text)])
        }
      }
      return mustLoad(c, input.gatewayId)
    })),
    nextWakeUpCounter: (id) => guard('nextWakeUpCounter', async () => {
      const r = await pool.query<{ wake_up_counter: string }>('UPDATE gateways SET wake_up_counter = wake_up_counter + 1 WHERE id = $1 RETURNING wake_up_counter', [id])
      const row = r.rows[0]
      if (row === undefined) throw new GwaError('GWA_GATEWAY_UNKNOWN', `gateway ${id} is not registered`)
      return Number(row.wake_up_counter)
    }),
    reserveCommand: (input) => guard('reserveCommand', () => transaction(async (c) => {
      const r = await c.query<{ last_sequence: string }>('UPDATE gateways SET last_sequence = last_sequence + 1 WHERE id = $1 RETURNING last_sequence', [input.gatewayId])
      const row = r.rows[0]
      if (row === undefined) throw new GwaError('GWA_GATEWAY_UNKNOWN', `gateway ${input.gatewayId} is not registered`)
      const sequence = Number(row.last_sequence)
      await c.query(`INSERT INTO commands (gateway_id, sequence, command_id, type, state, created_ms, cms) VALUES ($1, $2, $3, $4, 'reserved', $5, $6)`,
        [input.gatewayId, sequence, input.commandId, input.type, input.createdAt.getTime(), Buffer.alloc(0)])
      return sequence
    })),
    fillCommand: (gatewayId, sequence, cms) => guard('fillCommand', async () => {
      const r = await pool.query(`UPDATE commands SET cms = $1, state = 'queued' WHERE gateway_id = $2 AND sequence = $3 AND state = 'reserved'`, [Buffer.from(cms), gatewayId, sequence])
      if (r.rowCount !== 1) throw new GwaError('GWA_CONFLICT', `command ${gatewayId}#${String(sequence)} is not reserved`)
    }),
    abandonCommand: (gatewayId, sequence, error, at) => guard('abandonCommand', async () => {
      await pool.query(`UPDATE commands SET state = 'failed', done_ms = $1, result = $2 WHERE gateway_id = $3 AND sequence = $4 AND state = 'reserved'`, [at.getTime(), JSON.stringify(error), gatewayId, sequence])
    }),
    pendingCommands: (gatewayId, after) => guard('pendingCommands', async () => {
      // One statement, one snapshot: the first reserved sequence and the commands below it.
      const r = await pool.query<CommandRow>(`SELECT * FROM commands WHERE gateway_id = $1 AND state IN ('queued', 'sent') AND sequence > $2
        AND sequence < coalesce((SELECT min(sequence) FROM commands WHERE gateway_id = $1 AND state = 'reserved'), 9223372036854775807) ORDER BY sequence`, [gatewayId, after])
      return r.rows.map(commandRecord)
    }),
    markSent: (gatewayId, sequences, at) => guard('markSent', async () => {
      if (sequences.length === 0) return
      await pool.query(`UPDATE commands SET state = 'sent', sent_ms = $1 WHERE gateway_id = $2 AND sequence = ANY($3::bigint[]) AND state IN ('queued', 'sent')`, [at.getTime(), gatewayId, sequences])
    }),
    recordResult: (input) => guard('recordResult', async () => {
      const r = await pool.query<CommandRow>(`UPDATE commands SET state = $1, done_ms = $2, result = $3 WHERE gateway_id = $4 AND sequence = $5 AND command_id = $6
        AND state IN ('queued', 'sent', 'failed') RETURNING *`, [input.ok ? 'done' : 'failed', input.at.getTime(), JSON.stringify(input.result), input.gatewayId, input.sequence, input.commandId])
      const row = r.rows[0]
      return row === undefined ? undefined : commandRecord(row)
    }),
    listCommands: (q) => guard('listCommands', async () => {
      const where: string[] = []
      const args: unknown[] = []
      const arg = (v: unknown) => { args.push(v); return `$${String(args.length)}` }
      if (q.gatewayId !== undefined) where.push(`gateway_id = ${arg(q.gatewayId)}`)
      if (q.state !== undefined) where.push(`state = ${arg(q.state)}`)
      const limit = arg(Math.min(q.limit ?? MAX_LIST_ROWS, MAX_LIST_ROWS))
      const r = await pool.query<CommandRow>(`SELECT * FROM commands ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY gateway_id COLLATE "C", sequence LIMIT ${limit}`, args)
      return r.rows.map(commandRecord)
    }),
    getCommand: (commandId) => guard('getCommand', async () => {
      const row = (await pool.query<CommandRow>('SELECT * FROM commands WHERE command_id = $1', [commandId])).rows[0]
      return row === undefined ? undefined : commandRecord(row)
    }),
    saveProfileVersion: (r) => guard('saveProfileVersion', async () => {
      await mustLoad(pool, r.gatewayId)
      const inserted = await pool.query(`INSERT INTO profile_versions (gateway_id, version, command_id, state, content, created_ms) VALUES ($1, $2, $3, 'queued', $4, $5)
        ON CONFLICT (gateway_id, version) DO NOTHING`, [r.gatewayId, r.version, r.commandId, JSON.stringify(r.content), r.createdAt.getTime()])
      if (inserted.rowCount === 0) throw new GwaError('GWA_CONFLICT', `profile version ${String(r.version)} of ${r.gatewayId} exists already`)
    }),
    setProfileState: (gatewayId, version, state, sha256) => guard('setProfileState', async () => {
      await pool.query('UPDATE profile_versions SET state = $1, sha256 = coalesce($2, sha256) WHERE gateway_id = $3 AND version = $4', [state, sha256, gatewayId, version])
    }),
    listProfileVersions: (gatewayId) => guard('listProfileVersions', async () =>
      (await pool.query<ProfileRow>('SELECT * FROM profile_versions WHERE gateway_id = $1 ORDER BY version', [gatewayId])).rows.map(profileRecord)),
    saveLogExport: (input) => guard('saveLogExport', async () => {
      const r = await pool.query<{ id: string }>('INSERT INTO log_exports (gateway_id, command_id, received_ms, sha256, bytes) VALUES ($1, $2, $3, $4, $5) RETURNING id',
        [input.gatewayId, input.commandId, input.receivedAt.getTime(), input.sha256, Buffer.from(input.export)])
      const id = r.rows[0]?.id
      if (id === undefined) throw new GwaError('GWA_STORAGE_FAILED', 'log export not stored')
      return { id: Number(id), gatewayId: input.gatewayId, commandId: input.commandId, receivedAt: input.receivedAt, bytes: input.export.length, sha256: input.sha256 }
    }),
    listLogExports: (gatewayId) => guard('listLogExports', async () =>
      (await pool.query<LogRow>('SELECT id, gateway_id, command_id, received_ms, sha256, length(bytes) AS size FROM log_exports WHERE gateway_id = $1 ORDER BY id', [gatewayId])).rows.map(logRecord)),
    getLogExport: (id) => guard('getLogExport', async () => {
      const row = (await pool.query<LogRow & { bytes: Buffer }>('SELECT id, gateway_id, command_id, received_ms, sha256, length(bytes) AS size, bytes FROM log_exports WHERE id = $1', [id])).rows[0]
      return row === undefined ? undefined : { record: logRecord(row), export: new Uint8Array(row.bytes) }
    }),
    saveFirmwarePackage: (r, file) => guard('saveFirmwarePackage', async () => {
      await pool.query(`INSERT INTO firmware_packages (version, name, image_sha256, size, added_ms, file) VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, image_sha256 = EXCLUDED.image_sha256, size = EXCLUDED.size, added_ms = EXCLUDED.added_ms, file = EXCLUDED.file`,
      [r.version, r.name, r.imageSha256, r.size, r.addedAt.getTime(), Buffer.from(file)])
    }),
    listFirmwarePackages: () => guard('listFirmwarePackages', async () =>
      (await pool.query<FirmwareRow>('SELECT version, name, image_sha256, size, added_ms FROM firmware_packages ORDER BY added_ms, version COLLATE "C"')).rows.map(firmwareRecord)),
    getFirmwarePackage: (version) => guard('getFirmwarePackage', async () => {
      const row = (await pool.query<FirmwareRow & { file: Buffer }>('SELECT * FROM firmware_packages WHERE version = $1', [version])).rows[0]
      return row === undefined ? undefined : { record: firmwareRecord(row), file: new Uint8Array(row.file) }
    }),
    saveIssuedCertificate: (r) => guard('saveIssuedCertificate', async () => {
      await mustLoad(pool, r.gatewayId)
      await pool.query('INSERT INTO issued_certificates (gateway_id, kind, serial, der, issued_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (gateway_id, kind, serial) DO NOTHING',
        [r.gatewayId, r.kind, r.serial, Buffer.from(r.der), r.issuedAt.getTime()])
    }),
    getIssuedCertificate: (gatewayId, kind, serial) => guard('getIssuedCertificate', async () => {
      const row = (await pool.query<IssuedRow>('SELECT * FROM issued_certificates WHERE gateway_id = $1 AND kind = $2 AND serial = $3', [gatewayId, kind, serial])).rows[0]
      return row === undefined ? undefined : issuedRecord(row)
    }),
    listRequests: (q) => guard('listRequests', async () => {
      const where: string[] = []
      const args: unknown[] = []
      const arg = (v: unknown) => { args.push(v); return `$${String(args.length)}` }
      if (q.gatewayId !== undefined) where.push(`gateway_id = ${arg(q.gatewayId)}`)
      if (q.open === true) where.push(`state = ANY(${arg(OPEN_STATES)}::text[])`)
      const limit = arg(Math.min(q.limit ?? MAX_LIST_ROWS, MAX_LIST_ROWS))
      const r = await pool.query<RequestRow>(`SELECT * FROM consumer_requests ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY gateway_id COLLATE "C", request_id LIMIT ${limit}`, args)
      return r.rows.map(requestRecord)
    }),
    getRequest: (gatewayId, requestId) => guard('getRequest', async () => {
      const row = (await pool.query<RequestRow>('SELECT * FROM consumer_requests WHERE gateway_id = $1 AND request_id = $2', [gatewayId, requestId])).rows[0]
      return row === undefined ? undefined : requestRecord(row)
    }),
    recordRequestAnswer: (gatewayId, requestId, a) => guard('recordRequestAnswer', async () => {
      const r = await pool.query<RequestRow>(`UPDATE consumer_requests SET state = $1, answer_state = $1, answer_note = $2, answer_command_id = $3, answered_ms = $4
        WHERE gateway_id = $5 AND request_id = $6 RETURNING *`, [a.state, a.note, a.commandId, a.at.getTime(), gatewayId, requestId])
      const row = r.rows[0]
      return row === undefined ? undefined : requestRecord(row)
    }),
    close: async () => {
      if (closed) return
      closed = true
      await pool.end()
    },
  }
}

function storageError(err: unknown, what: string): GwaError {
  if (err instanceof GwaError) return err
  return new GwaError('GWA_STORAGE_FAILED', `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
}

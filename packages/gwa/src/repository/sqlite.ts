import type Database from 'better-sqlite3'
import { openSqlite, type Migration } from '@smgw/sql'
import { GwaError } from '../errors.js'
import {
  commandRecord, firmwareRecord, gatewayRecord, issuedRecord, logRecord, profileRecord, requestRecord,
  type CertificateRow, type CommandRow, type FirmwareRow, type GatewayRow, type IssuedRow, type LogRow, type ProfileRow, type RequestRow,
} from './rows.js'
import { MAX_LIST_ROWS, OPEN_STATES, RESULT_LOST, stateAfterContact, type GatewayRecord, type GatewayState, type GwaRepository } from './types.js'

/*
 * The SQLite inventory (better-sqlite3, WAL, synchronous FULL): the default store of one
 * head-end process. Schema as a versioned list of migrations (PRAGMA user_version); never
 * edit a shipped migration, append one.
 */

export const SQLITE_MIGRATIONS: readonly Migration[] = [
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
  last_sequence    INTEGER NOT NULL DEFAULT 0,
  wake_up_counter  INTEGER NOT NULL DEFAULT 0,
  registered_ms    INTEGER NOT NULL,
  last_contact_ms  INTEGER,
  last_report      TEXT
);
-- The certificates of the last report, replaced by each report.
CREATE TABLE gateway_certificates (
  gateway_id  TEXT    NOT NULL REFERENCES gateways (id),
  kind        TEXT    NOT NULL,
  serial      TEXT    NOT NULL,
  not_after_ms INTEGER NOT NULL,
  source      TEXT    NOT NULL,
  PRIMARY KEY (gateway_id, kind, source)
);
CREATE TABLE commands (
  gateway_id  TEXT    NOT NULL REFERENCES gateways (id),
  sequence    INTEGER NOT NULL,
  command_id  TEXT    NOT NULL UNIQUE,
  type        TEXT    NOT NULL,
  state       TEXT    NOT NULL,
  created_ms  INTEGER NOT NULL,
  sent_ms     INTEGER,
  done_ms     INTEGER,
  result      TEXT,
  cms         BLOB    NOT NULL,
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
  created_ms  INTEGER NOT NULL,
  PRIMARY KEY (gateway_id, version)
);
CREATE TABLE log_exports (
  id          INTEGER PRIMARY KEY,
  gateway_id  TEXT    NOT NULL REFERENCES gateways (id),
  command_id  TEXT    NOT NULL,
  received_ms INTEGER NOT NULL,
  sha256      TEXT    NOT NULL,
  bytes       BLOB    NOT NULL
);
CREATE INDEX log_exports_by_gateway ON log_exports (gateway_id, id);
CREATE TABLE firmware_packages (
  version      TEXT PRIMARY KEY,
  name         TEXT    NOT NULL,
  image_sha256 TEXT    NOT NULL,
  size         INTEGER NOT NULL,
  added_ms     INTEGER NOT NULL,
  file         BLOB    NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'issued certificates, consumer requests',
    sql: `
-- Every certificate the gateway sub-CA issued: meter keys are sealed to the ENC one the gateway reports.
CREATE TABLE issued_certificates (
  gateway_id  TEXT    NOT NULL REFERENCES gateways (id),
  kind        TEXT    NOT NULL,
  serial      TEXT    NOT NULL,
  der         BLOB    NOT NULL,
  issued_ms   INTEGER NOT NULL,
  PRIMARY KEY (gateway_id, kind, serial)
);
-- The consumers' requests from the reports, kept after they leave them (last known state).
CREATE TABLE consumer_requests (
  gateway_id        TEXT    NOT NULL REFERENCES gateways (id),
  request_id        INTEGER NOT NULL,
  consumer          TEXT    NOT NULL,
  kind              TEXT    NOT NULL,
  state             TEXT    NOT NULL,
  created_ms        INTEGER NOT NULL,
  text              TEXT    NOT NULL,
  first_reported_ms INTEGER NOT NULL,
  last_reported_ms  INTEGER NOT NULL,
  in_report         INTEGER NOT NULL,
  answer_state      TEXT,
  answer_note       TEXT,
  answer_command_id TEXT,
  answered_ms       INTEGER,
  PRIMARY KEY (gateway_id, request_id)
);
CREATE INDEX consumer_requests_by_state ON consumer_requests (state, gateway_id, request_id);
`,
  },
]

/** `PRAGMA application_id` of a GWA inventory ('SMGA'). */
const APPLICATION_ID = 0x534d4741

export function openSqliteRepository(path: string): GwaRepository {
  let db: Database.Database
  try {
    db = openSqlite(path, { applicationId: APPLICATION_ID, kind: 'a GWA inventory', migrations: SQLITE_MIGRATIONS, refuse: (m) => new GwaError('GWA_STORAGE_FAILED', m) })
  } catch (err) {
    throw storageError(err, `cannot open ${path}`)
  }
  const st = {
    insertGateway: db.prepare('INSERT INTO gateways (id, note, state, wake_up_address, registered_ms) VALUES (?, ?, ?, ?, ?)'),
    gateway: db.prepare<[string], GatewayRow>('SELECT * FROM gateways WHERE id = ?'),
    gateways: db.prepare<[], GatewayRow>('SELECT * FROM gateways ORDER BY id'),
    certificates: db.prepare<[string], CertificateRow>('SELECT kind, serial, not_after_ms, source FROM gateway_certificates WHERE gateway_id = ? ORDER BY kind, source'),
    allCertificates: db.prepare<[], CertificateRow & { gateway_id: string }>('SELECT gateway_id, kind, serial, not_after_ms, source FROM gateway_certificates ORDER BY gateway_id, kind, source'),
    deleteCertificates: db.prepare<[string]>('DELETE FROM gateway_certificates WHERE gateway_id = ?'),
    insertCertificate: db.prepare('INSERT OR REPLACE INTO gateway_certificates (gateway_id, kind, serial, not_after_ms, source) VALUES (?, ?, ?, ?, ?)'),
    contact: db.prepare(`UPDATE gateways SET last_contact_ms = ?, tls_subject = ?, last_report = ?, firmware_version = ?, profile_version = ?, state = ? WHERE id = ?`),
    loseResults: db.prepare(`UPDATE commands SET state = 'failed', done_ms = ?, result = ? WHERE gateway_id = ? AND state = 'sent' AND sequence <= ?`),
    counter: db.prepare<[string], { wake_up_counter: number }>('UPDATE gateways SET wake_up_counter = wake_up_counter + 1 WHERE id = ? RETURNING wake_up_counter'),
    sequence: db.prepare<[string], { last_sequence: number }>('UPDATE gateways SET last_sequence = last_sequence + 1 WHERE id = ? RETURNING last_sequence'),
    insertCommand: db.prepare(`INSERT INTO commands (gateway_id, sequence, command_id, type, state, created_ms, cms) VALUES (?, ?, ?, ?, 'reserved', ?, ?)`),
    fillCommand: db.prepare(`UPDATE commands SET cms = ?, state = 'queued' WHERE gateway_id = ? AND sequence = ? AND state = 'reserved'`),
    abandonCommand: db.prepare(`UPDATE commands SET state = 'failed', done_ms = ?, result = ? WHERE gateway_id = ? AND sequence = ? AND state = 'reserved'`),
    firstReserved: db.prepare<[string], { s: number | null }>(`SELECT min(sequence) AS s FROM commands WHERE gateway_id = ? AND state = 'reserved'`),
    pending: db.prepare<[string, number, number], CommandRow>(`SELECT * FROM commands WHERE gateway_id = ? AND state IN ('queued', 'sent') AND sequence > ? AND sequence < ? ORDER BY sequence`),
    markSent: db.prepare(`UPDATE commands SET state = 'sent', sent_ms = ? WHERE gateway_id = ? AND sequence = ? AND state IN ('queued', 'sent')`),
    result: db.prepare(`UPDATE commands SET state = ?, done_ms = ?, result = ? WHERE gateway_id = ? AND sequence = ? AND command_id = ? AND state IN ('queued', 'sent', 'failed')`),
    command: db.prepare<[string], CommandRow>('SELECT * FROM commands WHERE command_id = ?'),
    commandAt: db.prepare<[string, number], CommandRow>('SELECT * FROM commands WHERE gateway_id = ? AND sequence = ?'),
    insertProfile: db.prepare(`INSERT INTO profile_versions (gateway_id, version, command_id, state, content, created_ms) VALUES (?, ?, ?, 'queued', ?, ?)`),
    profileState: db.prepare('UPDATE profile_versions SET state = ?, sha256 = coalesce(?, sha256) WHERE gateway_id = ? AND version = ?'),
    profiles: db.prepare<[string], ProfileRow>('SELECT * FROM profile_versions WHERE gateway_id = ? ORDER BY version'),
    insertLog: db.prepare<[string, string, number, string, Buffer], { id: number }>('INSERT INTO log_exports (gateway_id, command_id, received_ms, sha256, bytes) VALUES (?, ?, ?, ?, ?) RETURNING id'),
    logs: db.prepare<[string], LogRow>('SELECT id, gateway_id, command_id, received_ms, sha256, length(bytes) AS size FROM log_exports WHERE gateway_id = ? ORDER BY id'),
    log: db.prepare<[number], LogRow & { bytes: Buffer }>('SELECT id, gateway_id, command_id, received_ms, sha256, length(bytes) AS size, bytes FROM log_exports WHERE id = ?'),
    saveFirmware: db.prepare('INSERT OR REPLACE INTO firmware_packages (version, name, image_sha256, size, added_ms, file) VALUES (?, ?, ?, ?, ?, ?)'),
    firmwares: db.prepare<[], FirmwareRow>('SELECT version, name, image_sha256, size, added_ms FROM firmware_packages ORDER BY added_ms, version'),
    firmware: db.prepare<[string], FirmwareRow & { file: Buffer }>('SELECT * FROM firmware_packages WHERE version = ?'),
    saveIssued: db.prepare('INSERT OR IGNORE INTO issued_certificates (gateway_id, kind, serial, der, issued_ms) VALUES (?, ?, ?, ?, ?)'),
    issued: db.prepare<[string, string, string], IssuedRow>('SELECT * FROM issued_certificates WHERE gateway_id = ? AND kind = ? AND serial = ?'),
    requestsLeft: db.prepare<[string]>('UPDATE consumer_requests SET in_report = 0 WHERE gateway_id = ? AND in_report = 1'),
    upsertRequest: db.prepare(`INSERT INTO consumer_requests (gateway_id, request_id, consumer, kind, state, created_ms, text, first_reported_ms, last_reported_ms, in_report)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (gateway_id, request_id) DO UPDATE SET
      consumer = excluded.consumer, kind = excluded.kind, state = excluded.state, created_ms = excluded.created_ms, text = excluded.text,
      last_reported_ms = excluded.last_reported_ms, in_report = 1`),
    request: db.prepare<[string, number], RequestRow>('SELECT * FROM consumer_requests WHERE gateway_id = ? AND request_id = ?'),
    answerRequest: db.prepare(`UPDATE consumer_requests SET state = ?, answer_state = ?, answer_note = ?, answer_command_id = ?, answered_ms = ? WHERE gateway_id = ? AND request_id = ?`),
  }
  const load = (row: GatewayRow): GatewayRecord => gatewayRecord(row, st.certificates.all(row.id))
  const mustGateway = (id: string): GatewayRow => {
    const row = st.gateway.get(id)
    if (row === undefined) throw new GwaError('GWA_GATEWAY_UNKNOWN', `gateway ${id} is not registered`)
    return row
  }
  const contact = db.transaction((input: Parameters<GwaRepository['recordContact']>[0]): GatewayRecord => {
    const row = mustGateway(input.gatewayId)
    const state = stateAfterContact(row.state as GatewayState, input.certificates)
    st.contact.run(input.at.getTime(), input.tlsSubject, JSON.stringify(input.report), input.firmwareVersion, input.profileVersion, state, input.gatewayId)
    st.deleteCertificates.run(input.gatewayId)
    for (const c of input.certificates) st.insertCertificate.run(input.gatewayId, c.kind, c.serial, c.notAfter.getTime(), c.source)
    st.loseResults.run(input.at.getTime(), JSON.stringify(RESULT_LOST), input.gatewayId, input.lastExecutedSequence)
    if (input.requests !== undefined) {
      st.requestsLeft.run(input.gatewayId)
      const at = input.at.getTime()
      for (const r of input.requests) st.upsertRequest.run(input.gatewayId, r.id, r.consumer, r.kind, r.state, r.createdAt.getTime(), r.text, at, at)
    }
    return load(mustGateway(input.gatewayId))
  })
  const reserve = db.transaction((input: Parameters<GwaRepository['reserveCommand']>[0]): number => {
    const r = st.sequence.get(input.gatewayId)
    if (r === undefined) throw new GwaError('GWA_GATEWAY_UNKNOWN', `gateway ${input.gatewayId} is not registered`)
    st.insertCommand.run(input.gatewayId, r.last_sequence, input.commandId, input.type, input.createdAt.getTime(), Buffer.alloc(0))
    return r.last_sequence
  })
  const pending = db.transaction((gatewayId: string, after: number): CommandRow[] => {
    const first = st.firstReserved.get(gatewayId)?.s ?? Number.MAX_SAFE_INTEGER
    return st.pending.all(gatewayId, after, first)
  })
  const markSent = db.transaction((gatewayId: string, sequences: readonly number[], at: number) => {
    for (const s of sequences) st.markSent.run(at, gatewayId, s)
  })
  let closed = false
  const guard = <T>(what: string, f: () => T): Promise<T> => {
    try {
      if (closed) throw new GwaError('GWA_STORAGE_FAILED', 'the inventory is closed')
      return Promise.resolve(f())
    } catch (err) {
      return Promise.reject(storageError(err, what))
    }
  }
  return {
    kind: 'sqlite',
    registerGateway: (input) => guard('registerGateway', () => {
      if (st.gateway.get(input.id) !== undefined) throw new GwaError('GWA_GATEWAY_EXISTS', `gateway ${input.id} is registered already`)
      st.insertGateway.run(input.id, input.note ?? null, 'registered', input.wakeUpAddress ?? null, input.registeredAt.getTime())
      return load(mustGateway(input.id))
    }),
    getGateway: (id) => guard('getGateway', () => {
      const row = st.gateway.get(id)
      return row === undefined ? undefined : load(row)
    }),
    listGateways: () => guard('listGateways', () => {
      const certificates = new Map<string, CertificateRow[]>()
      for (const c of st.allCertificates.all()) certificates.set(c.gateway_id, [...(certificates.get(c.gateway_id) ?? []), c])
      return st.gateways.all().map((r) => gatewayRecord(r, certificates.get(r.id) ?? []))
    }),
    updateGateway: (id, patch) => guard('updateGateway', () => {
      const row = mustGateway(id)
      db.prepare('UPDATE gateways SET note = ?, wake_up_address = ?, state = ?, profile_version = ?, firmware_version = ? WHERE id = ?').run(
        patch.note === undefined ? row.note : patch.note, patch.wakeUpAddress === undefined ? row.wake_up_address : patch.wakeUpAddress, patch.state ?? row.state,
        patch.profileVersion ?? row.profile_version, patch.firmwareVersion ?? row.firmware_version, id)
      return load(mustGateway(id))
    }),
    recordContact: (input) => guard('recordContact', () => contact.immediate(input)),
    nextWakeUpCounter: (id) => guard('nextWakeUpCounter', () => {
      const r = st.counter.get(id)
      if (r === undefined) throw new GwaError('GWA_GATEWAY_UNKNOWN', `gateway ${id} is not registered`)
      return r.wake_up_counter
    }),
    reserveCommand: (input) => guard('reserveCommand', () => reserve.immediate(input)),
    fillCommand: (gatewayId, sequence, cms) => guard('fillCommand', () => {
      if (st.fillCommand.run(Buffer.from(cms), gatewayId, sequence).changes !== 1) throw new GwaError('GWA_CONFLICT', `command ${gatewayId}#${String(sequence)} is not reserved`)
    }),
    abandonCommand: (gatewayId, sequence, error, at) => guard('abandonCommand', () => { st.abandonCommand.run(at.getTime(), JSON.stringify(error), gatewayId, sequence) }),
    pendingCommands: (gatewayId, after) => guard('pendingCommands', () => pending(gatewayId, after).map(commandRecord)),
    markSent: (gatewayId, sequences, at) => guard('markSent', () => { markSent.immediate(gatewayId, sequences, at.getTime()) }),
    recordResult: (input) => guard('recordResult', () => {
      const changed = st.result.run(input.ok ? 'done' : 'failed', input.at.getTime(), JSON.stringify(input.result), input.gatewayId, input.sequence, input.commandId).changes
      if (changed !== 1) return undefined
      const row = st.commandAt.get(input.gatewayId, input.sequence)
      return row === undefined ? undefined : commandRecord(row)
    }),
    listCommands: (q) => guard('listCommands', () => {
      const where: string[] = []
      const args: (string | number)[] = []
      if (q.gatewayId !== undefined) { where.push('gateway_id = ?'); args.push(q.gatewayId) }
      if (q.state !== undefined) { where.push('state = ?'); args.push(q.state) }
      args.push(Math.min(q.limit ?? MAX_LIST_ROWS, MAX_LIST_ROWS))
      return db.prepare<(string | number)[], CommandRow>(`SELECT * FROM commands ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY gateway_id, sequence LIMIT ?`)
        .all(...args).map(commandRecord)
    }),
    getCommand: (commandId) => guard('getCommand', () => {
      const row = st.command.get(commandId)
      return row === undefined ? undefined : commandRecord(row)
    }),
    saveProfileVersion: (r) => guard('saveProfileVersion', () => {
      mustGateway(r.gatewayId)
      try {
        st.insertProfile.run(r.gatewayId, r.version, r.commandId, JSON.stringify(r.content), r.createdAt.getTime())
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new GwaError('GWA_CONFLICT', `profile version ${String(r.version)} of ${r.gatewayId} exists already`, { cause: err })
        throw err
      }
    }),
    setProfileState: (gatewayId, version, state, sha256) => guard('setProfileState', () => { st.profileState.run(state, sha256, gatewayId, version) }),
    listProfileVersions: (gatewayId) => guard('listProfileVersions', () => st.profiles.all(gatewayId).map(profileRecord)),
    saveLogExport: (input) => guard('saveLogExport', () => {
      const r = st.insertLog.get(input.gatewayId, input.commandId, input.receivedAt.getTime(), input.sha256, Buffer.from(input.export))
      if (r === undefined) throw new GwaError('GWA_STORAGE_FAILED', 'log export not stored')
      return { id: r.id, gatewayId: input.gatewayId, commandId: input.commandId, receivedAt: input.receivedAt, bytes: input.export.length, sha256: input.sha256 }
    }),
    listLogExports: (gatewayId) => guard('listLogExports', () => st.logs.all(gatewayId).map(logRecord)),
    getLogExport: (id) => guard('getLogExport', () => {
      const row = st.log.get(id)
      return row === undefined ? undefined : { record: logRecord(row), export: new Uint8Array(row.bytes) }
    }),
    saveFirmwarePackage: (r, file) => guard('saveFirmwarePackage', () => {
      st.saveFirmware.run(r.version, r.name, r.imageSha256, r.size, r.addedAt.getTime(), Buffer.from(file))
    }),
    listFirmwarePackages: () => guard('listFirmwarePackages', () => st.firmwares.all().map(firmwareRecord)),
    getFirmwarePackage: (version) => guard('getFirmwarePackage', () => {
      const row = st.firmware.get(version)
      return row === undefined ? undefined : { record: firmwareRecord(row), file: new Uint8Array(row.file) }
    }),
    saveIssuedCertificate: (r) => guard('saveIssuedCertificate', () => {
      mustGateway(r.gatewayId)
      st.saveIssued.run(r.gatewayId, r.kind, r.serial, Buffer.from(r.der), r.issuedAt.getTime())
    }),
    getIssuedCertificate: (gatewayId, kind, serial) => guard('getIssuedCertificate', () => {
      const row = st.issued.get(gatewayId, kind, serial)
      return row === undefined ? undefined : issuedRecord(row)
    }),
    listRequests: (q) => guard('listRequests', () => {
      const where: string[] = []
      const args: (string | number)[] = []
      if (q.gatewayId !== undefined) { where.push('gateway_id = ?'); args.push(q.gatewayId) }
      if (q.open === true) { where.push(`state IN (${OPEN_STATES.map(() => '?').join(', ')})`); args.push(...OPEN_STATES) }
      args.push(Math.min(q.limit ?? MAX_LIST_ROWS, MAX_LIST_ROWS))
      return db.prepare<(string | number)[], RequestRow>(`SELECT * FROM consumer_requests ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY gateway_id, request_id LIMIT ?`)
        .all(...args).map(requestRecord)
    }),
    getRequest: (gatewayId, requestId) => guard('getRequest', () => {
      const row = st.request.get(gatewayId, requestId)
      return row === undefined ? undefined : requestRecord(row)
    }),
    recordRequestAnswer: (gatewayId, requestId, a) => guard('recordRequestAnswer', () => {
      if (st.answerRequest.run(a.state, a.state, a.note, a.commandId, a.at.getTime(), gatewayId, requestId).changes !== 1) return undefined
      const row = st.request.get(gatewayId, requestId)
      return row === undefined ? undefined : requestRecord(row)
    }),
    close: () => {
      if (!closed) {
        closed = true
        db.close()
      }
      return Promise.resolve()
    },
  }
}

function storageError(err: unknown, what: string): GwaError {
  if (err instanceof GwaError) return err
  return new GwaError('GWA_STORAGE_FAILED', `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
}

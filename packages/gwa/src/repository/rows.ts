import type {
  CertificateRecord, CommandRecord, CommandState, ConsumerRequestRecord, FirmwarePackageRecord, GatewayRecord, GatewayState, IssuedCertificateRecord,
  LogExportRecord, ProfileState, ProfileVersionRecord, RequestState,
} from './types.js'

/*
 * Rows as both stores return them (SQLite gives numbers, PostgreSQL BIGINT as strings; BLOB
 * and BYTEA both as Buffer) and their records: one mapping for the two implementations.
 */

type Int = number | string

export interface GatewayRow {
  id: string; note: string | null; state: string; wake_up_address: string | null; tls_subject: string | null; firmware_version: string | null
  profile_version: Int; last_sequence: Int; wake_up_counter: Int; registered_ms: Int; last_contact_ms: Int | null; last_report: string | null
}
export interface CertificateRow { kind: string; serial: string; not_after_ms: Int; source: string }
export interface CommandRow {
  gateway_id: string; sequence: Int; command_id: string; type: string; state: string; created_ms: Int; sent_ms: Int | null
  done_ms: Int | null; result: string | null; cms: Buffer
}
export interface ProfileRow { gateway_id: string; version: Int; command_id: string; state: string; content: string; sha256: string | null; created_ms: Int }
export interface LogRow { id: Int; gateway_id: string; command_id: string; received_ms: Int; sha256: string; size: Int }
export interface FirmwareRow { version: string; name: string; image_sha256: string; size: Int; added_ms: Int }
export interface IssuedRow { gateway_id: string; kind: string; serial: string; der: Buffer; issued_ms: Int }
export interface RequestRow {
  gateway_id: string; request_id: Int; consumer: string; kind: string; state: string; created_ms: Int; text: string; first_reported_ms: Int
  last_reported_ms: Int; in_report: Int | boolean; answer_state: string | null; answer_note: string | null; answer_command_id: string | null; answered_ms: Int | null
}

const n = (v: Int): number => Number(v)
const time = (v: Int | null): Date | null => (v === null ? null : new Date(Number(v)))

export function gatewayRecord(r: GatewayRow, certificates: readonly CertificateRow[]): GatewayRecord {
  return {
    id: r.id, note: r.note, state: r.state as GatewayState, wakeUpAddress: r.wake_up_address, tlsSubject: r.tls_subject, firmwareVersion: r.firmware_version,
    profileVersion: n(r.profile_version), lastSequence: n(r.last_sequence), wakeUpCounter: n(r.wake_up_counter), registeredAt: new Date(n(r.registered_ms)),
    lastContactAt: time(r.last_contact_ms),
    lastReport: r.last_report === null ? null : JSON.parse(r.last_report) as Record<string, unknown>,
    certificates: certificates.map((c): CertificateRecord => ({
      kind: c.kind as CertificateRecord['kind'], serial: c.serial, notAfter: new Date(n(c.not_after_ms)), source: c.source as CertificateRecord['source'],
    })),
  }
}

export function commandRecord(r: CommandRow): CommandRecord {
  return {
    gatewayId: r.gateway_id, sequence: n(r.sequence), commandId: r.command_id, type: r.type, state: r.state as CommandState, createdAt: new Date(n(r.created_ms)),
    sentAt: time(r.sent_ms), doneAt: time(r.done_ms),
    result: r.result === null ? null : JSON.parse(r.result) as Record<string, unknown>, cms: new Uint8Array(r.cms),
  }
}

export function profileRecord(r: ProfileRow): ProfileVersionRecord {
  return {
    gatewayId: r.gateway_id, version: n(r.version), commandId: r.command_id, state: r.state as ProfileState,
    content: JSON.parse(r.content) as Record<string, unknown>, sha256: r.sha256, createdAt: new Date(n(r.created_ms)),
  }
}

export function logRecord(r: LogRow): LogExportRecord {
  return { id: n(r.id), gatewayId: r.gateway_id, commandId: r.command_id, receivedAt: new Date(n(r.received_ms)), bytes: n(r.size), sha256: r.sha256 }
}

export function firmwareRecord(r: FirmwareRow): FirmwarePackageRecord {
  return { version: r.version, name: r.name, imageSha256: r.image_sha256, size: n(r.size), addedAt: new Date(n(r.added_ms)) }
}


export function issuedRecord(r: IssuedRow): IssuedCertificateRecord {
  return { gatewayId: r.gateway_id, kind: r.kind as IssuedCertificateRecord['kind'], serial: r.serial, der: new Uint8Array(r.der), issuedAt: new Date(n(r.issued_ms)) }
}

export function requestRecord(r: RequestRow): ConsumerRequestRecord {
  return {
    gatewayId: r.gateway_id, requestId: n(r.request_id), consumer: r.consumer, kind: r.kind, state: r.state as RequestState, createdAt: new Date(n(r.created_ms)),
    text: r.text, firstReportedAt: new Date(n(r.first_reported_ms)), lastReportedAt: new Date(n(r.last_reported_ms)), inLastReport: r.in_report === true || Number(r.in_report) === 1,
    answer: r.answer_state === null || r.answered_ms === null
      ? null
      : { state: r.answer_state as RequestState, note: r.answer_note ?? '', commandId: r.answer_command_id ?? '', at: new Date(n(r.answered_ms)) },
  }
}

import { REJECTION_CODES } from '@smgw/meter-data'
import { z } from 'zod'

/*
 * The typed entries of the three logs of BSI-CC-PP-0073 (v1.3, 2014) — FAU_GEN.1 /
 * FAU_SAR.1: the system log (security events, readable by the GWA only), the consumer log
 * (every data flow and processing step concerning one consumer) and the calibration log
 * (metrologically relevant events). Each entry is `{ type, fields }`; fields hold strings,
 * integers and booleans only (canonical JSON, no floats).
 *
 * Nothing personal in the system log: its schema has no free-form text and no value
 * field at all — every string is an enum or an identifier pattern — so a reading or key
 * cannot be written there by mistake; the schemas are strict (unknown fields refused).
 */

/** Identifiers: meter IDs, participant IDs, consumer IDs, purposes. */
export const LOG_ID = /^[A-Za-z0-9._:-]{1,64}$/
const id = z.string().regex(LOG_ID)
const version = z.string().regex(/^[0-9A-Za-z.+-]{1,32}$/)
const hex = (max: number) => z.string().regex(new RegExp(`^(?:[0-9a-f]{2}){1,${max}}$`))
/** Plain words for the consumer: one line of printable text. */
const text = z.string().min(1).max(2000).regex(/^[^\p{Cc}]*$/u)
const role = z.enum(['gwa', 'emt', 'consumer', 'technician'])
const iface = z.enum(['wan', 'han', 'lmn', 'local'])
const transport = z.enum(['sml-serial', 'sml-tcp', 'wmbus-serial', 'wmbus-udp', 'file'])

const entry = <T extends string, F extends z.ZodRawShape>(type: T, fields: F) =>
  z.strictObject({ type: z.literal(type), fields: z.strictObject(fields) })

export const SystemLogEntry = z.discriminatedUnion('type', [
  entry('gateway-started', { firmware: version }),
  entry('gateway-stopped', { reason: z.enum(['sigterm', 'admin', 'update', 'error']) }),
  entry('store-opened', { schemaVersion: z.int().min(1) }),
  // by gwa: a configuration version the GWA applied (`version`: its number, docs/admin-protocol.md);
  // by local: the configuration file the gateway started with differs from the last one in force
  // (`version`: the store's configuration record, e.g. the installer's first configuration).
  entry('config-changed', { version: z.int().min(1), sha256: hex(32), by: z.enum(['gwa', 'local']) }),
  entry('login-succeeded', { interface: iface, role }),
  entry('login-failed', { interface: iface, role, reason: z.enum(['bad-credentials', 'bad-certificate', 'locked', 'not-permitted']) }),
  // docs/admin-protocol.md "Wake-up": one entry per packet, or under a flood one summary per reason
  // and minute (`count`); `source`: the sender's address.
  entry('wake-up', {
    result: z.enum(['accepted', 'too-large', 'malformed', 'not-addressed', 'stale', 'replayed', 'rate-limited', 'bad-signature', 'signer-not-gwa']),
    source: z.string().min(1).max(64).optional(),
    count: z.int().min(1).optional(),
  }),
  // One admin session with the GWA ended (docs/admin-protocol.md "Admin session").
  entry('admin-session', { reason: z.enum(['wake-up', 'schedule', 'start']), result: z.enum(['completed', 'failed']), commands: z.int().min(0), code: id.optional() }),
  // One GWA command: executed, or refused with its reason code (REPLAYED, SIGNER_NOT_GWA, FORBIDDEN, …).
  entry('admin-command', { type: id, sequence: z.int().min(0), result: z.enum(['executed', 'refused', 'failed']), code: id.optional() }),
  // A configuration version the GWA sent and the gateway refused (all or nothing): the active one stays.
  entry('config-rejected', { version: z.int().min(1), code: id }),
  // At start, the version `active` names did not read (missing, truncated, invalid) or `active` named none (`rejected` 0):
  // the gateway runs the newest older kept version that validates, or its configuration file (`running` 0).
  entry('config-fallback', { rejected: z.int().min(0), running: z.int().min(0), code: z.enum(['ACTIVE_VERSION_MISSING', 'ACTIVE_VERSION_INVALID', 'ACTIVE_POINTER_INVALID']) }),
  entry('keys-generated', { kind: z.enum(['tls', 'sig', 'enc']) }),
  entry('certificate-requested', { kind: z.enum(['tls', 'sig', 'enc']), renewal: z.boolean() }),
  entry('certificate-installed', { kind: z.enum(['tls', 'sig', 'enc']), serial: hex(20) }),
  // A replaced SIG/ENC key destroyed in the security module (admin/certificates.ts destroyRetiredKeys): its label, never key material.
  entry('key-destroyed', { kind: z.enum(['tls', 'sig', 'enc']), label: id }),
  // An own certificate found on a CRL: it is no longer used.
  entry('certificate-revoked', { kind: z.enum(['tls', 'sig', 'enc', 'gs']), serial: hex(20) }),
  // Wireless M-Bus keys the GWA sent (`meter-keys`, encrypted to the ENC key) installed in the security module: key IDs only, never key material.
  entry('meter-keys-installed', { keyIds: z.array(id).min(1).max(256), replaced: z.array(id).max(256) }),
  entry('firmware-update', { from: version, to: version, result: z.enum(['installed', 'rejected-signature', 'rejected-version', 'rejected-hash', 'rolled-back']) }),
  entry('time-source-set', { by: role, servers: z.int().min(1) }),
  entry('lmn-device-unknown', { transport, meterId: id }),
  entry('meter-key-rejected', { transport, meterId: id }),
  entry('tls-rejected', { interface: iface, reason: z.enum(['certificate-invalid', 'certificate-revoked', 'handshake-failed', 'profile']) }),
  // Counts only, no meter IDs: which consumer's data went is in that consumer's log.
  entry('retention-run', { readings: z.int().min(0), intervalValues: z.int().min(0), outbox: z.int().min(0) }),
  // A WAN recipient refused an outbox item for good (4xx: REJECTION_CODES of @smgw/meter-data, or
  // UNREADABLE_REJECTION), or the gateway cannot send it (NOT_CONFIGURED: recipient not configured;
  // MESSAGE_ID_MISSING: no idempotency key): the item is marked failed, never sent again. `item`: outbox row id.
  entry('delivery-rejected', { recipient: id, item: z.int().min(1), code: z.enum([...REJECTION_CODES, 'UNREADABLE_REJECTION', 'NOT_CONFIGURED', 'MESSAGE_ID_MISSING']) }),
])
export type SystemLogEntry = z.infer<typeof SystemLogEntry>

export const ConsumerLogEntry = z.discriminatedUnion('type', [
  entry('data-sent', { recipient: id, purpose: id, dataClass: id, text }),
  entry('data-processed', { purpose: id, dataClass: id, text }),
  entry('data-deleted', { dataClass: id, count: z.int().min(0), text }),
  entry('data-viewed', { interface: iface, text }),
  entry('profile-changed', { purpose: id, text }),
  // The consumer granted or withdrew consent for a purpose (tariff profile ID) on the HAN.
  entry('consent-changed', { purpose: id, granted: z.boolean(), text }),
  // A request the consumer made on the HAN (GDPR Art. 16, 17, 21, or a tariff choice); `request`: its number.
  // The CLS channel (docs/admin-protocol.md `cls-open`) to one of the consumer's devices was opened or closed.
  entry('cls-channel', { device: id, recipient: id, state: z.enum(['opened', 'closed']), reason: z.enum(['requested', 'timeout', 'peer-closed', 'error', 'reconfigured']).optional(), text }),
  entry('request-received', { kind: z.enum(['deletion', 'rectification', 'objection', 'tariff-choice']), request: z.int().min(1), text }),
  // The GWA accepted the admin report that carried the request: it is with the administrator now (docs/admin-protocol.md `requests`).
  entry('request-forwarded', { kind: z.enum(['deletion', 'rectification', 'objection', 'tariff-choice']), request: z.int().min(1), text }),
  // The administrator's answer (`answer-request`): the state it set and its note to the consumer, word for word (may be empty).
  entry('request-answered', {
    kind: z.enum(['deletion', 'rectification', 'objection', 'tariff-choice']), request: z.int().min(1),
    state: z.enum(['in-progress', 'done', 'rejected']), note: z.string().max(1000).regex(/^[^\p{Cc}]*$/u), text,
  }),
])
export type ConsumerLogEntry = z.infer<typeof ConsumerLogEntry>

export const CalibrationLogEntry = z.discriminatedUnion('type', [
  entry('time-synchronised', { source: z.enum(['ntp', 'admin']), offsetMs: z.int() }),
  entry('time-drift-exceeded', { offsetMs: z.int(), limitMs: z.int().min(0) }),
  entry('restricted-state', { entered: z.boolean() }),
  entry('meter-error', { meterId: id, status: z.int().min(0) }),
  entry('meter-key-invalid', { meterId: id }),
  entry('meter-silent', { meterId: id, missedIntervals: z.int().min(1) }),
  entry('firmware-update', { to: version }),
])
export type CalibrationLogEntry = z.infer<typeof CalibrationLogEntry>

export type LogEntryInput = SystemLogEntry | ConsumerLogEntry | CalibrationLogEntry

export const LOG_SCHEMAS = {
  system: SystemLogEntry,
  consumer: ConsumerLogEntry,
  calibration: CalibrationLogEntry,
} as const

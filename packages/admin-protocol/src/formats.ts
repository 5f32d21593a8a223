import { z } from 'zod'

/**
 * The JSON formats of docs/admin-protocol.md as strict zod schemas: unknown keys are
 * refused (a field the receiver does not understand must not be silently dropped from
 * something that was signed). Times are ISO 8601 UTC strings as `Date.toISOString` writes
 * them; binary values are base64 (RFC 4648 §4).
 */
export const WAKE_UP_FORMAT = 'smgw-wakeup/1'
export const ADMIN_COMMAND_FORMAT = 'smgw-admin-command/1'
export const ADMIN_REPORT_FORMAT = 'smgw-admin-report/1'
export const ADMIN_RESULTS_FORMAT = 'smgw-admin-results/1'
export const ADMIN_COMMANDS_ANSWER_FORMAT = 'smgw-admin-commands/1'
export const FIRMWARE_MANIFEST_FORMAT = 'smgw-firmware/1'
export const FIRMWARE_PACKAGE_FORMAT = 'smgw-firmware-package/1'
export const METER_KEYS_FORMAT = 'smgw-meter-keys/1'

/** The largest wake-up datagram the gateway reads (docs/admin-protocol.md "Wake-up"). */
export const WAKE_UP_MAX_BYTES = 4096
/** The most commands one answer may carry, and the most rounds of a session (docs "Admin session"). */
export const MAX_COMMANDS_PER_ANSWER = 256
export const MAX_SESSION_ROUNDS = 16

const isoTime = z.iso.datetime({ offset: false })
const id = z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
const base64 = z.base64()
const counter = z.int().min(1).max(Number.MAX_SAFE_INTEGER)
/** MAJOR.MINOR.PATCH, numeric parts without leading zeros (compareVersions compares them numerically). */
export const VERSION_PATTERN = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/
const version = z.string().regex(VERSION_PATTERN, 'MAJOR.MINOR.PATCH')

export const WakeUp = z.strictObject({
  format: z.literal(WAKE_UP_FORMAT),
  gatewayId: id,
  gwaId: id,
  createdAt: isoTime,
  /** Increased by the GWA per gateway; the gateway accepts only a greater one. */
  counter,
})
export type WakeUp = z.infer<typeof WakeUp>

const commandBase = {
  format: z.literal(ADMIN_COMMAND_FORMAT),
  commandId: id,
  gatewayId: id,
  sequence: counter,
  issuedAt: isoTime,
}

export const CERTIFICATE_KINDS = ['tls', 'sig', 'enc'] as const
export type CertificateKind = (typeof CERTIFICATE_KINDS)[number]
export const LOG_NAMES = ['system', 'calibration', 'consumer'] as const
export type LogName = (typeof LOG_NAMES)[number]

/** A consumer's request on the HAN (README "HAN service"): GDPR Art. 16, 17, 21 and tariff choices. */
export const CONSUMER_REQUEST_KINDS = ['deletion', 'rectification', 'objection', 'tariff-choice'] as const
export type ConsumerRequestKind = (typeof CONSUMER_REQUEST_KINDS)[number]
/** The states a request is reported in (still open) and the ones an administrator's answer sets. */
export const OPEN_REQUEST_STATES = ['received', 'pending', 'in-progress'] as const
export const ANSWER_REQUEST_STATES = ['in-progress', 'done', 'rejected'] as const
export type AnswerRequestState = (typeof ANSWER_REQUEST_STATES)[number]
/** One line of text without control characters, as the HAN accepts it from the consumer. */
const plainText = (max: number) => z.string().max(max).regex(/^[^\p{Cc}]*$/u, 'one line of text without control characters')

/** A configuration section the gateway validates with its own config schema. */
const section = z.record(z.string(), z.unknown())

const ProfileCommand = z.strictObject({
  ...commandBase,
  type: z.literal('profile'),
  version: counter,
  meters: z.array(z.unknown()).optional(),
  tariffs: z.array(z.unknown()).optional(),
  communication: section.optional(),
  time: section.optional(),
  /** The CLS channel section (controllable devices, paired EMTs); null removes it. */
  cls: section.nullable().optional(),
}).refine((c) => c.meters !== undefined || c.tariffs !== undefined || c.communication !== undefined || c.time !== undefined || c.cls !== undefined, {
  error: 'a profile names at least one of meters, tariffs, communication, time, cls',
})

export const AdminCommand = z.discriminatedUnion('type', [
  ProfileCommand,
  z.strictObject({ ...commandBase, type: z.literal('rollback-profile'), version: counter }),
  z.strictObject({
    ...commandBase,
    type: z.literal('generate-csr'),
    kinds: z.array(z.enum(CERTIFICATE_KINDS)).min(1).max(3).refine((k) => new Set(k).size === k.length, 'kinds repeat'),
  }),
  z.strictObject({
    ...commandBase,
    type: z.literal('install-certificates'),
    certificates: z.strictObject({ tls: base64.optional(), sig: base64.optional(), enc: base64.optional() })
      .refine((c) => c.tls !== undefined || c.sig !== undefined || c.enc !== undefined, 'at least one certificate'),
    chain: z.array(base64).max(8).optional(),
  }),
  z.strictObject({ ...commandBase, type: z.literal('update-crls'), crls: z.array(base64).max(64) }),
  z.strictObject({ ...commandBase, type: z.literal('firmware'), package: base64 }),
  z.strictObject({ ...commandBase, type: z.literal('set-time-source'), time: section }),
  // `log` names every log so that the access table, not the schema, refuses the consumer and
  // calibration logs to the GWA (TR-03109-1 §3.2.4: the GWA sees no consumption data).
  z.strictObject({ ...commandBase, type: z.literal('read-log'), log: z.enum(LOG_NAMES), sinceSeq: z.int().min(0).optional() }),
  z.strictObject({ ...commandBase, type: z.literal('taf-request'), profileId: id, useCase: z.union([z.literal(6), z.literal(9)]) }),
  // The keys are the base64 of a CMS EnvelopedData/AuthEnvelopedData (DER) to the gateway's
  // ENC certificate whose content is a MeterKeysContent: only the gateway's security module can
  // read them, wherever the signed command is stored on the way (TR-03109-1 §3.2.5, keys are
  // never in clear outside the security modules).
  z.strictObject({ ...commandBase, type: z.literal('meter-keys'), keys: base64, replace: z.boolean() }),
  z.strictObject({
    ...commandBase,
    type: z.literal('answer-request'),
    requestId: counter,
    state: z.enum(ANSWER_REQUEST_STATES),
    note: plainText(1000),
  }),
  z.strictObject({
    ...commandBase,
    type: z.literal('cls-open'),
    deviceId: id,
    emtId: id,
    endpoint: z.url({ protocol: /^https$/ }),
    timeoutS: z.int().min(1).max(86_400),
  }),
])
export type AdminCommand = z.infer<typeof AdminCommand>
export type AdminCommandType = AdminCommand['type']
export const ADMIN_COMMAND_TYPES: readonly AdminCommandType[] = [
  'profile', 'rollback-profile', 'generate-csr', 'install-certificates', 'update-crls', 'firmware',
  'set-time-source', 'read-log', 'taf-request', 'cls-open', 'meter-keys', 'answer-request',
]

/** The encrypted content of a `meter-keys` command: AES-128 keys by key ID for one gateway. */
export const MeterKeysContent = z.strictObject({
  format: z.literal(METER_KEYS_FORMAT),
  gatewayId: id,
  keys: z.array(z.strictObject({ keyId: id, key: z.string().regex(/^[0-9a-f]{32}$/, '32 lower-case hex digits (AES-128)') }))
    .min(1).max(256).refine((k) => new Set(k.map((e) => e.keyId)).size === k.length, 'key IDs repeat'),
})
export type MeterKeysContent = z.infer<typeof MeterKeysContent>

export const SESSION_REASONS = ['wake-up', 'schedule', 'start'] as const
export type SessionReason = (typeof SESSION_REASONS)[number]

export const ReportedCertificate = z.strictObject({
  kind: z.enum(['tls', 'sig', 'enc', 'gs']),
  serial: z.string().regex(/^[0-9a-f]{1,40}$/, 'lower-case hex'),
  notAfter: isoTime,
  source: z.enum(['initial', 'operational']),
})
export type ReportedCertificate = z.infer<typeof ReportedCertificate>

/** A consumer's request still open on the gateway; the GWA answers it with `answer-request`. */
export const ReportedRequest = z.strictObject({
  id: counter,
  consumer: id,
  kind: z.enum(CONSUMER_REQUEST_KINDS),
  state: z.enum(OPEN_REQUEST_STATES),
  createdAt: isoTime,
  /** The consumer's text; for a tariff choice the chosen tariff's ID. */
  text: plainText(2000),
})
export type ReportedRequest = z.infer<typeof ReportedRequest>

export const AdminReport = z.strictObject({
  format: z.literal(ADMIN_REPORT_FORMAT),
  gatewayId: id,
  sentAt: isoTime,
  reason: z.enum(SESSION_REASONS),
  firmware: z.strictObject({ version }),
  /** The active configuration version; 0 before the GWA sent one. */
  profileVersion: z.int().min(0),
  /** The last executed command sequence; 0 before the first. */
  lastSequence: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  certificates: z.array(ReportedCertificate).max(16),
  /** Open consumer requests, oldest first (absent from gateways without a HAN service). */
  requests: z.array(ReportedRequest).max(256).optional(),
  time: z.strictObject({
    state: z.string().min(1).max(32),
    offsetMs: z.number().optional(),
    lastSync: isoTime.optional(),
  }),
})
export type AdminReport = z.infer<typeof AdminReport>

export const ResultError = z.strictObject({ code: z.string().min(1).max(64), message: z.string().max(1024) })

/**
 * One command's outcome. `commandId` and `sequence` are null when the command could not be
 * read at all (MALFORMED, UNSUPPORTED_FORMAT); `index` is its position in the answer.
 */
export const AdminResult = z.discriminatedUnion('ok', [
  z.strictObject({ commandId: id.nullable(), sequence: counter.nullable(), index: z.int().min(0), ok: z.literal(true), data: z.record(z.string(), z.unknown()) }),
  z.strictObject({ commandId: id.nullable(), sequence: counter.nullable(), index: z.int().min(0), ok: z.literal(false), error: ResultError }),
])
export type AdminResult = z.infer<typeof AdminResult>

export const AdminResults = z.strictObject({
  format: z.literal(ADMIN_RESULTS_FORMAT),
  gatewayId: id,
  results: z.array(AdminResult).max(MAX_COMMANDS_PER_ANSWER),
})
export type AdminResults = z.infer<typeof AdminResults>

export const AdminCommandsAnswer = z.strictObject({
  format: z.literal(ADMIN_COMMANDS_ANSWER_FORMAT),
  /** Base64 of each command's CMS SignedData (DER), oldest first. */
  commands: z.array(base64).max(MAX_COMMANDS_PER_ANSWER),
})
export type AdminCommandsAnswer = z.infer<typeof AdminCommandsAnswer>

export const FirmwareManifest = z.strictObject({
  format: z.literal(FIRMWARE_MANIFEST_FORMAT),
  name: id,
  version,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'lower-case hex SHA-256'),
  size: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  createdAt: isoTime,
})
export type FirmwareManifest = z.infer<typeof FirmwareManifest>

export const FirmwarePackage = z.strictObject({
  format: z.literal(FIRMWARE_PACKAGE_FORMAT),
  /** Base64 of the manifest's CMS SignedData (DER) by the manufacturer's SIG key. */
  manifest: base64,
  /** Base64 of the image. */
  image: base64,
})
export type FirmwarePackage = z.infer<typeof FirmwarePackage>

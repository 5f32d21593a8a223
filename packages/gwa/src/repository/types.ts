/*
 * The administrator's inventory: one repository interface, two implementations (SQLite for
 * one head-end process, PostgreSQL for scale), one shared test suite (`repository.test.ts`).
 * Times are instants (milliseconds in the stores); JSON columns hold what the gateway reported
 * or what the operator asked for, as it was validated at the edge.
 */

/**
 * Where a gateway stands in its certificate lifecycle (TR-03109-4 / docs/admin-protocol.md):
 * `registered` never seen; `initial` it contacted us with its Gütesiegel identity (no operational
 * TLS certificate reported); `operational` it reports an operational TLS certificate; `revoked`
 * the operator took it out of service — its sessions are refused.
 */
export const GATEWAY_STATES = ['registered', 'initial', 'operational', 'revoked'] as const
export type GatewayState = (typeof GATEWAY_STATES)[number]

export const CERTIFICATE_KINDS = ['tls', 'sig', 'enc', 'gs'] as const
export type CertificateKind = (typeof CERTIFICATE_KINDS)[number]

/** One certificate as the gateway reported it in its last session (docs/admin-protocol.md, the report). */
export interface CertificateRecord {
  readonly kind: CertificateKind
  /** Serial number, lower-case hex. */
  readonly serial: string
  readonly notAfter: Date
  readonly source: 'initial' | 'operational'
}

export interface GatewayRecord {
  readonly id: string
  readonly note: string | null
  readonly state: GatewayState
  /** `host:port` of the gateway's wake-up listener (UDP); null: it cannot be woken, only its own schedule brings it. */
  readonly wakeUpAddress: string | null
  /** Subject DN (RFC 4514) of the TLS client certificate of its last session. */
  readonly tlsSubject: string | null
  readonly firmwareVersion: string | null
  /** The active configuration version the gateway reported (0: none applied yet). */
  readonly profileVersion: number
  /** Highest command sequence handed out for this gateway (0: none). */
  readonly lastSequence: number
  /** Last wake-up counter sent (0: none). */
  readonly wakeUpCounter: number
  readonly registeredAt: Date
  readonly lastContactAt: Date | null
  /** The last report (`smgw-admin-report/1`) as received. */
  readonly lastReport: Readonly<Record<string, unknown>> | null
  readonly certificates: readonly CertificateRecord[]
}

export interface RegisterGatewayInput {
  readonly id: string
  readonly note?: string | null
  readonly wakeUpAddress?: string | null
  readonly registeredAt: Date
}

export interface GatewayPatch {
  readonly note?: string | null
  readonly wakeUpAddress?: string | null
  readonly state?: GatewayState
  /** What a result tells before the next report does: an applied or rolled-back configuration version, an activated firmware. */
  readonly profileVersion?: number
  readonly firmwareVersion?: string
}

/** What a session's report changes in the inventory. */
export interface ContactInput {
  readonly gatewayId: string
  readonly at: Date
  readonly tlsSubject: string
  readonly report: Readonly<Record<string, unknown>>
  readonly firmwareVersion: string
  readonly profileVersion: number
  readonly certificates: readonly CertificateRecord[]
  /** The gateway's last executed command sequence: commands sent before and still without a result are given up as RESULT_LOST. */
  readonly lastExecutedSequence: number
  /**
   * The consumers' open requests the report carried (docs/admin-protocol.md, the report's
   * `requests`); undefined when the report has none (a gateway without HAN service): the
   * requests kept for the gateway stay as they are.
   */
  readonly requests?: readonly ReportedRequestInput[]
}

/** A certificate the GWA's gateway sub-CA issued from a gateway's CSR (kept whole: the ENC one is what meter keys are sealed to). */
export interface IssuedCertificateRecord {
  readonly gatewayId: string
  readonly kind: 'tls' | 'sig' | 'enc'
  /** Serial number, lower-case hex without leading zeros (`serialHex` of @smgw/pki: the spelling of the gateway's report). */
  readonly serial: string
  /** The certificate, DER. */
  readonly der: Uint8Array
  readonly issuedAt: Date
}

/**
 * A consumer request's state: the three a gateway reports while it is open, and the two an
 * answer closes it with (docs/admin-protocol.md, `answer-request`).
 */
export const REQUEST_STATES = ['received', 'pending', 'in-progress', 'done', 'rejected'] as const
export type RequestState = (typeof REQUEST_STATES)[number]
/** The states in which a request still waits for the administrator. */
export const OPEN_STATES: readonly RequestState[] = ['received', 'pending', 'in-progress']

/** One request as a report carries it. */
export interface ReportedRequestInput {
  readonly id: number
  readonly consumer: string
  readonly kind: string
  readonly state: RequestState
  readonly createdAt: Date
  readonly text: string
}

/** The administrator's answer as the gateway confirmed it (an ok `answer-request` result). */
export interface RequestAnswer {
  readonly state: RequestState
  readonly note: string
  readonly commandId: string
  readonly at: Date
}

/**
 * A consumer request the GWA learnt from a report. Kept when later reports no longer carry it
 * (answered, or closed on the gateway), with its last known state.
 */
export interface ConsumerRequestRecord {
  readonly gatewayId: string
  readonly requestId: number
  readonly consumer: string
  readonly kind: string
  /** The last known state: as last reported, or as set by a confirmed answer. */
  readonly state: RequestState
  readonly createdAt: Date
  readonly text: string
  readonly firstReportedAt: Date
  readonly lastReportedAt: Date
  /** Whether the gateway's last report carrying requests listed it. */
  readonly inLastReport: boolean
  readonly answer: RequestAnswer | null
}

export interface RequestQuery {
  readonly gatewayId?: string
  /** Only requests in an open state (received, pending, in-progress). */
  readonly open?: boolean
  readonly limit?: number
}

/**
 * A command's life: `reserved` (sequence taken, being signed — it holds back later sequences
 * so that they never overtake it), `queued` (signed, waiting for a session), `sent` (handed to
 * the gateway in a session answer), `done` / `failed` (its result arrived, or it was given up).
 */
export const COMMAND_STATES = ['reserved', 'queued', 'sent', 'done', 'failed'] as const
export type CommandState = (typeof COMMAND_STATES)[number]

export interface CommandRecord {
  readonly gatewayId: string
  readonly sequence: number
  readonly commandId: string
  readonly type: string
  readonly state: CommandState
  readonly createdAt: Date
  readonly sentAt: Date | null
  readonly doneAt: Date | null
  /** The result item's `data` (ok) or `error` (failed), as the gateway sent it. */
  readonly result: Readonly<Record<string, unknown>> | null
  /** The signed command (CMS SignedData, DER); empty while reserved. */
  readonly cms: Uint8Array
}

export interface CommandQuery {
  readonly gatewayId?: string
  readonly state?: CommandState
  readonly limit?: number
}

export interface CommandResultInput {
  readonly gatewayId: string
  readonly commandId: string
  readonly sequence: number
  readonly ok: boolean
  readonly result: Readonly<Record<string, unknown>>
  readonly at: Date
}

export const PROFILE_STATES = ['queued', 'applied', 'failed'] as const
export type ProfileState = (typeof PROFILE_STATES)[number]

/** A configuration version the GWA deployed to a gateway (kept, for rollback and audit). */
export interface ProfileVersionRecord {
  readonly gatewayId: string
  readonly version: number
  readonly commandId: string
  readonly state: ProfileState
  /** The profile parts sent (meters, tariffs, communication, time, cls). */
  readonly content: Readonly<Record<string, unknown>>
  /** SHA-256 of the complete configuration as the gateway reported it after applying. */
  readonly sha256: string | null
  readonly createdAt: Date
}

export interface LogExportRecord {
  readonly id: number
  readonly gatewayId: string
  readonly commandId: string
  readonly receivedAt: Date
  readonly bytes: number
  /** SHA-256 of the export, lower-case hex. */
  readonly sha256: string
}

export interface FirmwarePackageRecord {
  readonly version: string
  readonly name: string
  /** SHA-256 of the image as the manifest states it. */
  readonly imageSha256: string
  readonly size: number
  readonly addedAt: Date
}

export interface GwaRepository {
  readonly kind: 'sqlite' | 'postgres'
  /** GWA_GATEWAY_EXISTS when the ID is taken. */
  registerGateway(input: RegisterGatewayInput): Promise<GatewayRecord>
  getGateway(id: string): Promise<GatewayRecord | undefined>
  listGateways(): Promise<GatewayRecord[]>
  /** GWA_GATEWAY_UNKNOWN for an unknown ID. */
  updateGateway(id: string, patch: GatewayPatch): Promise<GatewayRecord>
  /**
   * Records a session's report: contact time, subject, firmware, profile version, certificates
   * (replaced), state (initial/operational, never out of revoked); commands `sent` with a
   * sequence ≤ `lastExecutedSequence` and no result become `failed` {code: RESULT_LOST}.
   */
  recordContact(input: ContactInput): Promise<GatewayRecord>
  /** Increments and returns the wake-up counter, committed before the packet is sent. */
  nextWakeUpCounter(id: string): Promise<number>

  /** Takes the next sequence for a new command (state `reserved`); GWA_GATEWAY_UNKNOWN. */
  reserveCommand(input: { gatewayId: string; commandId: string; type: string; createdAt: Date }): Promise<number>
  /** The signed bytes of a reserved command: it becomes `queued`. */
  fillCommand(gatewayId: string, sequence: number, cms: Uint8Array): Promise<void>
  /** A reservation that could not be signed: `failed` with this error, so it no longer holds back later ones. */
  abandonCommand(gatewayId: string, sequence: number, error: Readonly<Record<string, unknown>>, at: Date): Promise<void>
  /**
   * The commands for a session answer, oldest first: `queued` or `sent` with a sequence above
   * `afterSequence` (the gateway's last executed), stopping before the first `reserved` one.
   */
  pendingCommands(gatewayId: string, afterSequence: number): Promise<CommandRecord[]>
  markSent(gatewayId: string, sequences: readonly number[], at: Date): Promise<void>
  /** Stores a result; undefined when the gateway has no such command (sequence and commandId must match). */
  recordResult(input: CommandResultInput): Promise<CommandRecord | undefined>
  listCommands(query: CommandQuery): Promise<CommandRecord[]>
  getCommand(commandId: string): Promise<CommandRecord | undefined>

  /** GWA_CONFLICT when the version exists already for the gateway. */
  saveProfileVersion(record: Omit<ProfileVersionRecord, 'state' | 'sha256'>): Promise<void>
  setProfileState(gatewayId: string, version: number, state: ProfileState, sha256: string | null): Promise<void>
  listProfileVersions(gatewayId: string): Promise<ProfileVersionRecord[]>

  saveLogExport(input: { gatewayId: string; commandId: string; receivedAt: Date; export: Uint8Array; sha256: string }): Promise<LogExportRecord>
  listLogExports(gatewayId: string): Promise<LogExportRecord[]>
  getLogExport(id: number): Promise<{ record: LogExportRecord; export: Uint8Array } | undefined>

  /** Adds or replaces the package of that version. */
  saveFirmwarePackage(record: FirmwarePackageRecord, file: Uint8Array): Promise<void>
  listFirmwarePackages(): Promise<FirmwarePackageRecord[]>
  getFirmwarePackage(version: string): Promise<{ record: FirmwarePackageRecord; file: Uint8Array } | undefined>

  /** Records a certificate the gateway sub-CA issued (a second record of the same gateway, kind and serial is ignored). */
  saveIssuedCertificate(record: IssuedCertificateRecord): Promise<void>
  getIssuedCertificate(gatewayId: string, kind: IssuedCertificateRecord['kind'], serial: string): Promise<IssuedCertificateRecord | undefined>

  /** Requests by gateway and ID, oldest first. */
  listRequests(query: RequestQuery): Promise<ConsumerRequestRecord[]>
  getRequest(gatewayId: string, requestId: number): Promise<ConsumerRequestRecord | undefined>
  /** The gateway confirmed an answer: the request takes its state and note; undefined for a request not kept. */
  recordRequestAnswer(gatewayId: string, requestId: number, answer: RequestAnswer): Promise<ConsumerRequestRecord | undefined>

  close(): Promise<void>
}

/** The result stored for a command that was sent, whose sequence the gateway has passed, but whose result never came. */
export const RESULT_LOST = { code: 'RESULT_LOST', message: 'the gateway reported a later last sequence; the result of this command never arrived' } as const

/** Largest number of rows a list returns when no smaller limit is given. */
export const MAX_LIST_ROWS = 100_000

/** The state a report implies: an operational TLS certificate makes a gateway operational; revoked stays revoked. */
export function stateAfterContact(current: GatewayState, certificates: readonly CertificateRecord[]): GatewayState {
  if (current === 'revoked') return 'revoked'
  return certificates.some((c) => c.kind === 'tls' && c.source === 'operational') ? 'operational' : 'initial'
}

import type { HanRows } from './han.js'
/** What the LMN adapters hand to the store: one decoded reading. */
export interface ReadingInput {
  /** Meter identifier (server ID / M-Bus address as text), 1–64 printable ASCII characters. */
  readonly meterId: string
  /** OBIS code `A-B:C.D.E*F` (IEC 62056-61) or an M-Bus quantity key, 1–64 printable ASCII characters. */
  readonly quantity: string
  /** Value time (meter time or gateway legal time). */
  readonly time: Date
  /** The value is `mantissa × 10^scaler`, exactly; any size. */
  readonly mantissa: bigint
  /** Power-of-ten exponent, −128…127 (IEC 62056-6-2 scaler is an Integer8). */
  readonly scaler: number
  /** DLMS unit symbol (`Wh`, `W`, `m3`, …) or M-Bus unit; omitted when the meter sends none. */
  readonly unit?: string
  /** Status word as sent (SML status, M-Bus status byte); omitted when none. Non-negative. */
  readonly status?: bigint
}

export interface StoredReading extends ReadingInput {
  readonly id: number
  /** When the gateway committed it. */
  readonly receivedAt: Date
}

export interface AppendReadingsResult {
  readonly count: number
  /** Row ids of the first and last reading of the batch (consecutive); 0 for an empty batch. */
  readonly firstId: number
  readonly lastId: number
}

export interface ReadingQuery {
  readonly meterId?: string
  readonly quantity?: string
  /** Inclusive lower bound on the value time. */
  readonly from?: Date
  /** Exclusive upper bound on the value time. */
  readonly to?: Date
  /** Only ids above this (for paging). */
  readonly afterId?: number
  /** Default 10 000. */
  readonly limit?: number
}

export interface IntervalValueInput {
  readonly meterId: string
  readonly quantity: string
  /** Registration period in seconds (900 for TAF 7). */
  readonly periodSeconds: number
  /** Interval end in legal time. */
  readonly end: Date
  readonly mantissa: bigint
  readonly scaler: number
  readonly unit?: string
  /** Gateway status word of the value (time valid, meter error, manipulation, …). */
  readonly status: number
}

export interface StoredIntervalValue extends IntervalValueInput {
  readonly id: number
}

export type OutboxState = 'pending' | 'delivered' | 'failed'

export interface OutboxInput {
  /** Recipient identifier (market participant ID or certificate reference). */
  readonly recipient: string
  /** Why it is sent: the TAF or service, e.g. 'taf7'. */
  readonly purpose: string
  readonly payload: Uint8Array
  /** Earliest delivery attempt; default now. */
  readonly notBefore?: Date
  /**
   * The message's own ID (1–128 printable ASCII characters), unique over the outbox:
   * enqueueing an ID twice is STORE_INPUT_INVALID, so a re-run cannot send a message twice.
   */
  readonly messageId?: string
  /** What the item carries, in plain words for the consumer log (the payload is encrypted): 1–200 characters, one line. */
  readonly summary?: string
}

export interface OutboxItem {
  readonly id: number
  readonly recipient: string
  readonly purpose: string
  readonly payload: Uint8Array
  readonly state: OutboxState
  readonly attempts: number
  readonly nextAttempt: Date
  readonly createdAt: Date
  readonly lastError: string | undefined
  /** Absent on items enqueued without one (and on every item from before schema version 2). */
  readonly messageId: string | undefined
  readonly summary: string | undefined
  /** When updateOutbox set the state 'delivered'; undefined otherwise. */
  readonly deliveredAt: Date | undefined
}

export interface OutboxQuery {
  readonly state?: OutboxState
  /** Only ids above this (for paging). */
  readonly afterId?: number
  /** Default 10 000. */
  readonly limit?: number
}

/** One run of a tariff profile, committed as a whole by `commitTafRun`. */
export interface TafRun {
  /** The tariff profile (1–64 printable ASCII characters), e.g. 'taf7-M1'. */
  readonly profile: string
  /** The new watermark: readings before this instant have been processed. Never goes back. */
  readonly until: Date
  readonly intervalValues?: readonly IntervalValueInput[]
  readonly outbox?: readonly OutboxInput[]
}

export interface TafRunResult {
  /** Row ids of the outbox items, in input order. */
  readonly outboxIds: number[]
}

/**
 * What `deleteExpired` deletes: everything strictly before each instant. The retention
 * policy (`planRetention`) computes them; the store applies them as given.
 */
export interface ExpiryCutoffs {
  /** Readings with a value time before this. */
  readonly readings: Date
  /** Interval values ending before this, for every registration period not in `intervalValuesByPeriod`. */
  readonly intervalValues: Date
  /** Per registration period in seconds (86 400: TAF 6 daily values), overriding `intervalValues`. */
  readonly intervalValuesByPeriod?: ReadonlyMap<number, Date>
  /** Delivered outbox items delivered before this, for every purpose not in `deliveredOutboxByPurpose`. */
  readonly deliveredOutbox: Date
  /** Per purpose (taf9, taf10, taf14: right after delivery), overriding `deliveredOutbox`. */
  readonly deliveredOutboxByPurpose?: ReadonlyMap<string, Date>
}

export interface DeleteExpiredOptions {
  /**
   * Readings and interval values at or after this instant are kept whatever the cutoffs say:
   * the smallest TAF watermark, i.e. data a tariff profile has not processed yet.
   */
  readonly keepFrom?: Date
}

export interface DeleteExpiredResult {
  /** Deleted readings per meter ID (meters with none deleted are absent). */
  readonly readings: ReadonlyMap<string, number>
  /** Deleted interval values per meter ID. */
  readonly intervalValues: ReadonlyMap<string, number>
  /** Deleted delivered outbox items. */
  readonly outbox: number
  /**
   * Whether the file was compacted (VACUUM and WAL truncated): only when something was
   * deleted (or the last compaction is still owed), and false when another connection's reader
   * prevented it (logged; the delete stands; the next call tries again).
   */
  readonly compacted: boolean
}

export interface OutboxUpdate {
  readonly state: OutboxState
  readonly attempts: number
  readonly nextAttempt: Date
  readonly lastError?: string
}

export interface ConfigVersion {
  readonly version: number
  readonly createdAt: Date
  /** SHA-256 of the canonical JSON, lower-case hex. */
  readonly sha256: string
  /** Canonical JSON (RFC 8785) of the configuration. */
  readonly config: string
}

export type LogName = 'system' | 'consumer' | 'calibration'

/** A log entry row as written by the log writer. */
export interface LogRow {
  readonly log: LogName
  readonly stream: string
  readonly seq: number
  readonly time: string
  readonly type: string
  readonly fields: string
  readonly prev: string
  readonly hash: string
}

/** A signed chain head row. */
export interface LogHeadRow {
  readonly log: LogName
  readonly stream: string
  readonly seq: number
  readonly kind: 'day'
  readonly day: string
  readonly hash: string
  readonly signedAt: string
  readonly signature: Uint8Array
  readonly certRef: string
}

/**
 * A row as found in the file, before anyone checked it: a verifier must not trust
 * column types in a file that may have been edited.
 */
export type RawRow = Readonly<Record<string, unknown>>

/** The log tables as the log writer and verifier see them. */
export interface LogRows {
  /** The last entry of a chain (highest seq), unchecked. */
  last(log: LogName, stream: string): RawRow | undefined
  hasHead(log: LogName, stream: string, seq: number): boolean
  /** Inserts heads (if any) and then the entry, in one transaction; returns after commit. */
  append(entry: LogRow, heads?: readonly LogHeadRow[]): void
  /** Inserts heads alone (sealing a finished day of an idle chain), one transaction. */
  insertHeads(heads: readonly LogHeadRow[]): void
  /** Every entry of a chain by ascending seq, unchecked. */
  entries(log: LogName, stream: string): RawRow[]
  /** Every head of a chain by ascending seq, unchecked. */
  heads(log: LogName, stream: string): RawRow[]
  /** Every chain that has an entry or a head. */
  streams(): { readonly log: string; readonly stream: string }[]
  putCertificate(ref: string, der: Uint8Array): void
  certificates(): RawRow[]
}

export interface Store {
  readonly path: string
  /** The schema version the file is at (PRAGMA user_version). */
  readonly schemaVersion: number
  readonly readonly: boolean
  /**
   * Appends a batch in one transaction and returns only after it committed
   * (synchronous = FULL: durable across power loss). A reading counts as acknowledged
   * from the moment this returns; on a throw nothing of the batch was written.
   */
  appendReadings(batch: readonly ReadingInput[]): AppendReadingsResult
  readReadings(query?: ReadingQuery): StoredReading[]
  countReadings(): number
  /** Inserts or replaces (same meter, quantity, period, end) interval values in one transaction. */
  putIntervalValues(batch: readonly IntervalValueInput[]): number
  readIntervalValues(query: { readonly meterId?: string; readonly quantity?: string; readonly from?: Date; readonly to?: Date }): StoredIntervalValue[]
  enqueueOutbox(item: OutboxInput): number
  /** Pending items whose next attempt is due at `at`, oldest first. */
  dueOutbox(at: Date, limit?: number): OutboxItem[]
  /**
   * Sets state, attempts, next attempt and last error; state 'delivered' also records the
   * delivery time (now), any other state clears it. STORE_INPUT_INVALID for an unknown id.
   */
  updateOutbox(id: number, update: OutboxUpdate): void
  /** Outbox items by ascending id, any state. */
  readOutbox(query?: OutboxQuery): OutboxItem[]
  /** The watermark of a tariff profile; undefined when it never ran. */
  tafWatermark(profile: string): Date | undefined
  /** Every profile's watermark. */
  tafWatermarks(): ReadonlyMap<string, Date>
  /**
   * In ONE transaction: puts the interval values, enqueues the outbox items and moves the
   * profile's watermark to `until`. A watermark going backwards, or any invalid item,
   * is STORE_INPUT_INVALID and nothing is written.
   */
  commitTafRun(run: TafRun): TafRunResult
  /**
   * Deletes what expired, in one transaction (counting per meter first), never a pending or
   * failed outbox item; then, when anything was deleted, compacts the file (VACUUM, WAL
   * truncated) so that the deleted rows are gone from the bytes on disk. A compaction that
   * another connection prevents is not an error (`compacted: false`).
   */
  deleteExpired(cutoffs: ExpiryCutoffs, options?: DeleteExpiredOptions): DeleteExpiredResult
  /** Stores a configuration as a new version unless it equals the latest one; returns the version in force. */
  saveConfigVersion(config: unknown): ConfigVersion
  latestConfigVersion(): ConfigVersion | undefined
  /**
   * Administration state by key (schema version 5): wake-up counter, last command sequence,
   * active configuration version (docs/admin-protocol.md). Undefined when never set.
   */
  getAdminState(key: string): string | undefined
  /** Sets one admin state value in its own transaction (keys 1–64 printable ASCII, values ≤ 64 KiB). */
  setAdminState(key: string, value: string): void
  readonly logRows: LogRows
  /** The HAN service's tables (schema version 4): accounts, sessions, tokens, consents, requests. */
  readonly han: HanRows
  /** PRAGMA integrity_check: ['ok'] for a sound file. */
  integrityCheck(): string[]
  /** Closes the database (checkpoints the WAL); idempotent. */
  close(): void
}

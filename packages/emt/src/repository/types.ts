import type { MeterDataMessage, MeteringPoint, MeterSeries, UseCase } from '@smgw/meter-data'

/*
 * The receiver's one repository interface. Two implementations (SQLite, PostgreSQL) pass
 * one shared test suite (`repository.test.ts`). Values are exact: the decimal mantissa is
 * kept as text (SQLite) or NUMERIC (PostgreSQL), never as a float.
 */

export interface GatewayRecord {
  readonly id: string
  readonly note: string | null
  readonly addedAt: Date
}

export interface StoreMessageInput {
  readonly message: MeterDataMessage
  /** SHA-256 of the exact decrypted, verified payload bytes, lower-case hex. */
  readonly sha256: string
  readonly receivedAt: Date
  /** The message is older than the replay window: stored only if it was never seen (it never is), so the answer is 'too-old'. */
  readonly tooOld: boolean
}

/**
 * What `storeMessage` did, decided inside one transaction (race-safe: the unique
 * constraint on (gatewayId, messageId) settles concurrent deliveries):
 * 'stored' committed; 'duplicate' the same content was stored before (nothing written);
 * 'conflict' this messageId was stored with other content; 'too-old' never seen and older than the window.
 */
export type StoreOutcome = 'stored' | 'duplicate' | 'conflict' | 'too-old'

export interface MessageRecord {
  readonly gatewayId: string
  readonly messageId: string
  readonly sha256: string
  readonly useCase: UseCase
  readonly meteringPoint: string
  readonly meteringPointKind: MeteringPoint['kind']
  readonly periodStart: Date
  readonly periodEnd: Date
  readonly createdAt: Date
  readonly receivedAt: Date
  readonly values: number
}

export interface MeteringPointRecord {
  readonly id: string
  readonly kind: MeteringPoint['kind']
  /** OBIS codes with values, sorted. */
  readonly obis: readonly string[]
  readonly values: number
  readonly firstTime: Date
  readonly lastTime: Date
}

export interface ValueRow {
  readonly meteringPoint: string
  readonly meteringPointKind: MeteringPoint['kind']
  readonly gatewayId: string
  readonly messageId: string
  readonly useCase: UseCase
  readonly obis: string
  readonly unit: string | null
  readonly scaler: number
  readonly kind: MeterSeries['kind']
  readonly register: string | null
  readonly periodSeconds: number | null
  readonly time: Date
  /** Decimal integer mantissa (value × 10^scaler in unit); null for a gap. */
  readonly value: string | null
  readonly status: number
}

/** Values whose time lies in (from, to]: a profile value's time is its interval end, so a day is (00:00, 24:00]. */
export interface ValueQuery {
  readonly meteringPoint?: string
  readonly obis?: string
  readonly from?: Date
  readonly to?: Date
  readonly limit?: number
}

/** Messages received in [from, to). */
export interface MessageQuery {
  readonly gatewayId?: string
  readonly from?: Date
  readonly to?: Date
  readonly limit?: number
}

export interface EmtRepository {
  readonly kind: 'sqlite' | 'postgres'
  addGateway(id: string, note: string | null, addedAt: Date): Promise<void>
  /** false when the ID was not registered. */
  removeGateway(id: string): Promise<boolean>
  listGateways(): Promise<GatewayRecord[]>
  isKnownGateway(id: string): Promise<boolean>
  /** The message and all its values in one transaction, duplicate detection inside it. */
  storeMessage(input: StoreMessageInput): Promise<StoreOutcome>
  listMessages(query: MessageQuery): Promise<MessageRecord[]>
  listMeteringPoints(): Promise<MeteringPointRecord[]>
  /** Ordered by metering point, OBIS, register, time, message. */
  queryValues(query: ValueQuery): Promise<ValueRow[]>
  /** Retention: see {@link PruneRequest}; in transactions of at most {@link PRUNE_BATCH} messages. */
  prune(request: PruneRequest): Promise<PruneResult>
  /** Records verified certificate signatures (an entry already there stays as it is). */
  rememberSignatures(entries: readonly RememberedSignature[]): Promise<void>
  /** The keys of the remembered signatures whose certificate is valid at `at` or later. */
  rememberedSignatures(at: Date): Promise<string[]>
  /** Deletes the entries whose certificate expired before `at`; how many. */
  forgetSignatures(expiredBefore: Date): Promise<number>
  close(): Promise<void>
}

/**
 * A certificate signature the receiver verified (`key`: @smgw/pki `signatureMemoKey` of the
 * certificate and its issuer's key), kept until the certificate expires: a restarted receiver
 * does not verify every gateway's certificates again.
 */
export interface RememberedSignature {
  readonly key: string
  readonly notAfter: Date
}

/**
 * What retention deletes: the values of every message whose period ended at or before
 * `periodEndAtOrBefore`, and the message itself when it was also created before
 * `createdBefore` (the start of the replay window: a message row younger than that still
 * answers a replay as 'duplicate' or 'conflict'; an older one would be 'too-old' anyway).
 */
export interface PruneRequest {
  readonly periodEndAtOrBefore: Date
  readonly createdBefore: Date
}

export interface PruneResult {
  /** Messages deleted (row, series and values). */
  readonly messages: number
  /** Values deleted, with their messages or from messages kept for the replay window. */
  readonly values: number
}

/** Messages per prune transaction: the receiver's workers write between them. */
export const PRUNE_BATCH = 500

/** One prune transaction's counts; `more`: it took a full batch, so another may find more. */
export type PruneBatchResult = PruneResult & { readonly more: boolean }

/** Runs prune transactions until one takes less than a full batch; the counts summed. */
export async function pruneInBatches(batch: () => PruneBatchResult | Promise<PruneBatchResult>): Promise<PruneResult> {
  let messages = 0
  let values = 0
  for (let more = true; more;) {
    const r = await batch()
    messages += r.messages
    values += r.values
    more = r.more
  }
  return { messages, values }
}

/** Largest number of rows a query returns when no smaller limit is given. */
export const MAX_QUERY_ROWS = 1_000_000

/** A series of a message as both implementations store it: its header once, its values' times parsed. */
export interface SeriesRow {
  /** The series' index in its message. */
  readonly position: number
  readonly obis: string
  readonly unit: string | null
  readonly scaler: number
  readonly kind: MeterSeries['kind']
  readonly register: string | null
  readonly periodSeconds: number | null
  readonly values: MeterSeries['values']
  /** The values' times in ms, in order (strictly increasing: decodeMeterData checked it). */
  readonly times: readonly number[]
}

/** How many values the series hold (a message's `value_count`). */
export function valueCount(series: readonly SeriesRow[]): number {
  return series.reduce((n, r) => n + r.times.length, 0)
}

export function seriesRows(message: MeterDataMessage): SeriesRow[] {
  return message.series.map((s, position) => ({
    position, obis: s.obis, unit: s.unit ?? null, scaler: s.scaler, kind: s.kind, register: s.register ?? null,
    periodSeconds: s.periodSeconds ?? null, values: s.values, times: s.values.map((v) => Date.parse(v.time)),
  }))
}

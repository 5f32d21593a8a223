import { CURVES, decodeCertificate, type Signer } from '@smgw/crypto'
import type { Logger } from 'pino'
import { formatCanonicalJson } from '../canonical-json.js'
import { GatewayError } from '../errors.js'
import { messageOf } from '../store/store.js'
import type { LogHeadRow, LogName, LogRow, Store } from '../store/types.js'
import { GENESIS, certificateRef, encodeHead, hashEntry, type ChainEntry, type ChainHead } from './chain.js'
import { CalibrationLogEntry, ConsumerLogEntry, LOG_ID, SystemLogEntry, type LogEntryInput } from './entries.js'
import { legalDayOf } from './legal-day.js'

export interface GatewayLogsDeps {
  readonly store: Store
  /** The gateway's SIG key: a security-module key (signerFromModule) or a KeyObject signer. */
  readonly signer: Signer
  /** The SIG certificate of that key, DER; heads refer to it by SHA-256. */
  readonly certificate: Uint8Array
  readonly now: () => Date
  readonly logger?: Logger
}

/** An entry as committed: the chained entry and its hash. */
export interface LogEntryRecord extends ChainEntry {
  readonly log: LogName
  readonly hash: string
}

export interface GatewayLogs {
  /** Appends to the system log (security events; GWA only). Resolves after commit. */
  system(entry: SystemLogEntry): Promise<LogEntryRecord>
  /** Appends to one consumer's log. Resolves after commit. */
  consumer(consumerId: string, entry: ConsumerLogEntry): Promise<LogEntryRecord>
  /** Appends to the calibration log. Resolves after commit. */
  calibration(entry: CalibrationLogEntry): Promise<LogEntryRecord>
  /**
   * Signs the head of every chain whose last entry lies on a finished legal day and is
   * not signed yet (chains idle since then). Run at start and once a day; returns how
   * many heads it signed. Busy chains need no call: the first entry of a new day signs
   * the previous day's head in the same transaction.
   */
  sealFinishedDays(): Promise<number>
}

/**
 * The writer of the three hash-chained logs. One writer per store: appends are
 * serialised in one queue (seq numbers come from the last committed entry).
 */
export function createGatewayLogs(deps: GatewayLogsDeps): GatewayLogs {
  const { store, signer, now } = deps
  let spki: Uint8Array
  try {
    spki = decodeCertificate(deps.certificate).publicKey
  } catch (err) {
    throw new GatewayError('LOG_SIGNING_FAILED', `the SIG certificate does not decode: ${messageOf(err)}`, { cause: err })
  }
  if (Buffer.compare(Buffer.from(spki), Buffer.from(signer.publicKey)) !== 0) {
    throw new GatewayError('LOG_SIGNING_FAILED', 'the SIG certificate does not carry the signer\'s public key')
  }
  const certRef = certificateRef(deps.certificate)
  store.logRows.putCertificate(certRef, deps.certificate)
  const hash = CURVES[signer.curve].hash
  const log = deps.logger?.child({ component: 'log' })

  let queue: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn)
    queue = run.catch(() => undefined)
    return run
  }

  const signHead = async (h: Omit<ChainHead, 'signedAt' | 'kind'>): Promise<LogHeadRow> => {
    const head: ChainHead = { ...h, kind: 'day', signedAt: now().toISOString() }
    let signature: Uint8Array
    try {
      signature = await signer.sign(encodeHead(head), hash)
    } catch (err) {
      throw new GatewayError('LOG_SIGNING_FAILED', `signing the ${h.log} log head ${h.day} failed: ${messageOf(err)}`, { cause: err })
    }
    log?.info({ log: h.log, day: h.day, seq: h.seq }, 'log day head signed')
    return { log: head.log as LogName, stream: head.stream, seq: head.seq, kind: 'day', day: head.day, hash: head.hash, signedAt: head.signedAt, signature, certRef }
  }

  const append = (name: LogName, stream: string, input: LogEntryInput): Promise<LogEntryRecord> => serial(async () => {
    const time = now()
    const last = store.logRows.last(name, stream)
    const heads: LogHeadRow[] = []
    let seq = 1
    let prev = GENESIS
    if (last !== undefined) {
      seq = Number(last.seq) + 1
      prev = String(last.hash)
      const lastDay = legalDayOf(new Date(String(last.time)))
      if (lastDay < legalDayOf(time) && !store.logRows.hasHead(name, stream, Number(last.seq))) {
        heads.push(await signHead({ log: name, stream, day: lastDay, seq: Number(last.seq), hash: prev }))
      }
    }
    const fields = input.fields as Readonly<Record<string, unknown>>
    const record: LogEntryRecord = { log: name, stream, seq, time: time.toISOString(), type: input.type, fields, prev, hash: '' }
    const entryHash = hashEntry(record)
    const row: LogRow = { ...record, fields: formatCanonicalJson(fields), hash: entryHash }
    store.logRows.append(row, heads)
    return { ...record, hash: entryHash }
  })

  const check = <T extends LogEntryInput>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } } }, name: LogName, entry: unknown): T => {
    const r = schema.safeParse(entry)
    if (!r.success) {
      const issue = r.error.issues[0]
      throw new GatewayError('LOG_ENTRY_INVALID', `${name} log entry: ${issue === undefined ? 'invalid' : `${issue.path.map(String).join('.') || '(entry)'}: ${issue.message}`}`)
    }
    return r.data
  }

  return {
    // Validation failures reject (never throw synchronously), like every other failure of an append.
    system: async (entry) => append('system', '', check(SystemLogEntry, 'system', entry)),
    consumer: async (consumerId, entry) => {
      if (!LOG_ID.test(consumerId)) throw new GatewayError('LOG_ENTRY_INVALID', 'consumer id: 1–64 characters A-Z a-z 0-9 . _ : -')
      return append('consumer', consumerId, check(ConsumerLogEntry, 'consumer', entry))
    },
    calibration: async (entry) => append('calibration', '', check(CalibrationLogEntry, 'calibration', entry)),
    sealFinishedDays: () => serial(async () => {
      const today = legalDayOf(now())
      let signed = 0
      for (const { log: name, stream } of store.logRows.streams()) {
        const last = store.logRows.last(name as LogName, stream)
        if (last === undefined) continue
        const day = legalDayOf(new Date(String(last.time)))
        if (day >= today || store.logRows.hasHead(name as LogName, stream, Number(last.seq))) continue
        store.logRows.insertHeads([await signHead({ log: name, stream, day, seq: Number(last.seq), hash: String(last.hash) })])
        signed++
      }
      return signed
    }),
  }
}


export { GatewayError, isGatewayError } from './errors.js'
export type { GatewayErrorCode } from './errors.js'
export { formatCanonicalJson } from './canonical-json.js'

export { openStore, STORE_APPLICATION_ID } from './store/store.js'
export type { StoreDeps, StoreOptions } from './store/store.js'
export { MIGRATIONS } from './store/migrations.js'
export type { Migration } from './store/migrations.js'
export type {
  Store, ReadingInput, StoredReading, AppendReadingsResult, ReadingQuery, IntervalValueInput, StoredIntervalValue,
  OutboxInput, OutboxItem, OutboxState, OutboxUpdate, ConfigVersion, LogName, LogRow, LogHeadRow, LogRows, RawRow,
} from './store/types.js'

export { SystemLogEntry, ConsumerLogEntry, CalibrationLogEntry, LOG_SCHEMAS, LOG_ID } from './log/entries.js'
export type { LogEntryInput } from './log/entries.js'
export { ENTRY_FORMAT, HEAD_FORMAT, GENESIS, encodeEntry, hashEntry, encodeHead, certificateRef } from './log/chain.js'
export type { ChainEntry, ChainHead } from './log/chain.js'
export { legalDayOf } from './log/legal-day.js'
export { createGatewayLogs } from './log/writer.js'
export type { GatewayLogs, GatewayLogsDeps, LogEntryRecord } from './log/writer.js'
export { verifyLog, verifyStoreLogs, readLogChain } from './log/verify.js'
export type { LogVerifyReason, LogVerifyResult, LogChainInput, VerifyLogOptions, StoreVerifyResult } from './log/verify.js'
export { exportLog, formatLogExport, decodeLogExport, EXPORT_FORMAT } from './log/export.js'
export { detectLogSource } from './log/source.js'

export { GatewayError, isGatewayError } from './errors.js'
export type { GatewayErrorCode } from './errors.js'
export { formatCanonicalJson } from './canonical-json.js'

export { openStore, STORE_APPLICATION_ID, STORE_CACHE_KIB, STORE_WAL_CHECKPOINT_PAGES } from './store/store.js'
export type { StoreDeps, StoreOptions } from './store/store.js'
export { MIGRATIONS } from './store/migrations.js'
export type { Migration } from './store/migrations.js'
export type {
  Store, ReadingInput, StoredReading, AppendReadingsResult, ReadingQuery, IntervalValueInput, StoredIntervalValue,
  OutboxInput, OutboxItem, OutboxState, OutboxUpdate, ConfigVersion, LogName, LogRow, LogHeadRow, LogRows, RawRow,
  OutboxQuery, TafRun, TafRunResult, ExpiryCutoffs, DeleteExpiredOptions, DeleteExpiredResult,
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

export {
  GatewayConfig, MeterConfig, SmlMeterConfig, WmbusMeterConfig, LmnTransport,
  parseGatewayConfig, readGatewayConfig, readMeterKeys, checkMeterKeys, PSEUDONYM_KEY_ID, MeterKeysConfig,
} from './config.js'
export type { MeterKeys } from './config.js'
export { openMeterKeyModule, importMeterKeys, resolveModuleMeterKeys, checkModuleMeterKeys } from './lmn/wmbus/keys.js'
export type { MeterKeySource } from './lmn/wmbus/keys.js'
export { createGateway } from './service.js'
export { createOutbound } from './outbound.js'
export type { Outbound, OutboundDeps } from './outbound.js'
export {
  RetentionConfig, DEFAULT_RETENTION, MAX_RETENTION_DAYS, GRID_STATUS_PURPOSES, DAILY_PERIOD_S, planRetention, legalMidnight, formatLegalDate, formatPeriod,
} from './retention/policy.js'
export type { RetentionPlan } from './retention/policy.js'
export { createRetentionService } from './retention/service.js'
export type { RetentionService, RetentionServiceConfig, RetentionServiceDeps, RetentionReport } from './retention/service.js'
export type { Gateway, GatewayDeps, GatewayStatus, MeterStatus } from './service.js'
export type { LmnAdapter, LmnDeps, LmnEvent, LmnSink, LmnTransportName } from './lmn/types.js'
export { createLmnAdapters } from './lmn/adapters.js'
export { createSmlReader, decodeSmlReadings } from './lmn/sml/reader.js'
export { createWmbusReader, createWmbusFramer, decodeWmbusReadings } from './lmn/wmbus/reader.js'
export type { WmbusReaderMeter } from './lmn/wmbus/reader.js'
export { createSmlSerialAdapter } from './lmn/sml-serial/index.js'
export { createSmlTcpAdapter } from './lmn/sml-tcp/index.js'
export { createWmbusUdpAdapter } from './lmn/wmbus-udp/index.js'
export { createWmbusSerialAdapter } from './lmn/wmbus-serial/index.js'
export { createFileReplayAdapter } from './lmn/file/index.js'

export {
  SNTP_PACKET_BYTES, NTP_UNIX_OFFSET_S, NTP_MODE, KISS_CODES, unixMsToNtp, ntpToUnixMs, encodeSntpRequest, decodeSntpHeader,
  decodeSntpResponse, decodeKissCode, kissCodeOf, computeOffset,
} from './time/sntp.js'
export type { NtpTimestamp, LeapIndicator, SntpResponse, SntpHeader } from './time/sntp.js'
export { createLegalClock } from './time/legal-clock.js'
export type {
  LegalClock, LegalClockConfig, LegalClockDeps, LegalClockState, LegalClockStatus, InvalidPeriod, SntpSample, SyncOutcome, TimeServer, TimeSource,
} from './time/legal-clock.js'
export { querySntp, createTimeService } from './time/ntp-client.js'
export type { SntpQueryOptions, SntpQueryDeps, SntpQueryResult, TimeService, TimeServiceDeps, SetTimer } from './time/ntp-client.js'
export { TimeConfig } from './time/config.js'
export { createMessageSealer } from './wan/seal.js'
export type { MessageSealer, MessageSealerConfig, MessageSealerDeps, SealerRecipient } from './wan/seal.js'
export { createDeliveryService, formatDeliveryText, DeliveryConfig, DeliveryRecipient, DeliveryRetry } from './wan/delivery.js'
export type { DeliveryService, DeliveryDeps, DeliveryDescription, DeliveryConfigInput } from './wan/delivery.js'
export { backoffBounds, backoffDelay } from './wan/backoff.js'
export type { RetryPolicy, JitterMode } from './wan/backoff.js'

export {
  TariffProfile, TariffProfileFile, TafChannel, TafRecipient, TariffRegisters, SwitchingWindow, TAF_USE_CASES, RECIPIENT_ROLES, parseTariffProfiles,
} from './taf/profile.js'
export type { TafUseCase, TariffProfileOf, Weekday } from './taf/profile.js'
export { periodContaining, periodStartingAt, isScheduled } from './taf/schedule.js'
export type { TafPeriod } from './taf/schedule.js'
export {
  computeTaf1, computeTaf2, computeTaf6Daily, computeTaf6Reading, computeTaf7, computeActual, activeRegister, registerSegments,
  toleranceSecondsOf, withDailyValues, MBUS_ERROR_MASK,
} from './taf/compute.js'
export type { TafInput, TafSeries, TafComputation, TimeInvalidPeriod, RegisterSegment } from './taf/compute.js'
export { pseudonymOf, MIN_PSEUDONYM_SECRET_BYTES } from './taf/pseudonym.js'
export { aggregateSeries } from './taf/aggregate.js'
export type { AggregatedSeries } from './taf/aggregate.js'
export { buildTafMessage, buildTafMessages, tafMessageId } from './taf/message.js'
export type { TafMessage, TafMessageOptions } from './taf/message.js'
export { createTafService } from './taf/service.js'
export type { TafService, TafServiceConfig, TafServiceDeps, TafRunReport, TafRequestOptions } from './taf/service.js'

export { createHanService, HAN_SESSION_COOKIE, HAN_SESSION_IDLE_MS, HAN_SESSION_MAX_MS, HAN_LOGIN_RATE } from './han/service.js'
export type { HanService, HanServiceDeps, HanUiFile } from './han/service.js'
export { HanConfig } from './han/config.js'
export { createHanAccounts, checkLogin, HAN_USERNAME, HAN_PASSWORD_MIN, HAN_PASSWORD_MAX, HAN_LOCKOUT } from './han/accounts.js'
export type { HanAccounts, HanAccountSummary, LoginResult } from './han/accounts.js'
export { hashPassword, verifyPassword, SCRYPT_PARAMS } from './han/password.js'
export { loadHanTls, hanTlsFiles } from './han/tls.js'
export type { HanTlsIdentity } from './han/tls.js'
export { LEGAL_BASIS, isConsentGranted } from './han/consent.js'
export { consumersOfProfile } from './taf/profile.js'
export type { LegalBasis } from './han/consent.js'
export { computeHistory, historyInstants, HISTORY_RESOLUTIONS, HISTORY_MONTHS, HISTORY_MAX_POINTS } from './han/history.js'
export type { History, HistoryPoint, HistoryResolution } from './han/history.js'
export { describeUseCase } from './han/tariffs.js'
export { HAN_OPENAPI } from './han/openapi.js'
export type { HanRows, HanAccount, HanRole, HanSessionRow, HanTokenRow, HanConsentRow, HanRequestRow, HanRequestKind, HanRequestState, ConsumerLogQuery, LatestReading } from './store/han.js'
export { WakeUpConfig, WAKE_UP_LOG_RESULTS, createWakeUpGate, createWakeUpListener } from './admin/wakeup.js'
export type { WakeUpLogResult, WakeUpRejection, WakeUpDecision, WakeUpGate, WakeUpGateDeps, WakeUpListener, WakeUpListenerDeps, WakeUpLogEntry } from './admin/wakeup.js'
export { createCertificateManager, OPERATIONAL_KINDS } from './admin/certificates.js'
export type { CertificateManager, CertificateManagerConfig, CertificateManagerDeps, CertificateTrust, CertificateKind, OperationalKind, CertificateSummaryItem, ConfigOverrides } from './admin/certificates.js'
export { createFirmwareManager, DEFAULT_HEALTH_TIMEOUT_S } from './admin/firmware.js'
export type { FirmwareManager, FirmwareConfig, FirmwareDeps, FirmwareInstallResult } from './admin/firmware.js'
export { runImageHealth, writeFileAtomic } from './admin/bootloader.js'
export { OPERATION_OF_COMMAND, OPERATION_OF_LOG, operationOf, runAdminSession, verifyAdminCommand, resultCodeOf, SESSION_PATH, RESULTS_PATH } from './admin/session.js'
export type { AdminSessionConfig, AdminSessionDeps, AdminSessionOutcome, AdminReportBody, AdminLogEntry, CommandHandler, CommandHandlers, VerifyCommandContext } from './admin/session.js'
export { ClsConfig, ClsDevice, ClsEmt, ClsTlsSubject } from './cls/config.js'
export type { ClsConfigInput } from './cls/config.js'
export { createClsService, CLS_PREAMBLE_FORMAT } from './cls/service.js'
export type { ClsService, ClsServiceDeps, ClsOpenRequest, ClsChannelInfo, ClsClosedEvent, ClsCloseReason, ClsTlsMaterial } from './cls/service.js'
export { readWanTlsMaterial } from './cls/material.js'
export { AdminConfig, TrustConfig } from './config.js'
export { createConfigVersions, readActiveVersion, readEffectiveConfig, sha256Of, CommunicationProfile } from './admin/profiles.js'
export type { ConfigVersions, ConfigVersionsConfig, ConfigVersionsDeps, ConfigRefusal, ProfileCommand } from './admin/profiles.js'
export { createAdminService, readAdminFiles, applyCertificateOverrides } from './admin/service.js'
export type { AdminService, AdminServiceDeps, AdminFiles } from './admin/service.js'

export { AdminProtocolError, ADMIN_PROTOCOL_ERROR_CODES, isAdminProtocolError } from './errors.js'
export type { AdminProtocolErrorCode } from './errors.js'
export { formatCanonicalJson } from './canonical-json.js'
export {
  WAKE_UP_FORMAT, ADMIN_COMMAND_FORMAT, ADMIN_REPORT_FORMAT, ADMIN_RESULTS_FORMAT, ADMIN_COMMANDS_ANSWER_FORMAT,
  FIRMWARE_MANIFEST_FORMAT, FIRMWARE_PACKAGE_FORMAT, WAKE_UP_MAX_BYTES, MAX_COMMANDS_PER_ANSWER, MAX_SESSION_ROUNDS,
  VERSION_PATTERN, CERTIFICATE_KINDS, LOG_NAMES, SESSION_REASONS, ADMIN_COMMAND_TYPES,
  WakeUp, AdminCommand, AdminReport, ReportedCertificate, AdminResult, AdminResults, ResultError, AdminCommandsAnswer,
  FirmwareManifest, FirmwarePackage, METER_KEYS_FORMAT, MeterKeysContent, ReportedRequest,
  CONSUMER_REQUEST_KINDS, OPEN_REQUEST_STATES, ANSWER_REQUEST_STATES,
} from './formats.js'
export type { AdminCommandType, CertificateKind, LogName, SessionReason, ConsumerRequestKind, AnswerRequestState } from './formats.js'
export { sealMeterKeys, openMeterKeys, METER_KEYS_MAX_BYTES } from './meter-keys.js'
export type { SealMeterKeysOptions, OpenedMeterKeys } from './meter-keys.js'
export { signAdminObject, signWakeUp, signCommand } from './sign.js'
export { peekWakeUp, peekCommand, openWakeUp, openCommand, ADMIN_COMMAND_MAX_BYTES } from './open.js'
export { createSignerVerifier } from './verifier.js'
export type { SignerVerifier, SignerVerifierConfig, VerifiedObject } from './verifier.js'
export { checkFreshness, checkAddressed, checkIncreasing, compareVersions } from './freshness.js'
export { openFirmwarePackage, createFirmwarePackage, FIRMWARE_PACKAGE_MAX_BYTES } from './firmware.js'
export type { OpenedFirmware, CreateFirmwarePackageOptions } from './firmware.js'
export {
  decodeAdminReport, encodeAdminReport, decodeAdminResults, encodeAdminResults, decodeCommandsAnswer, encodeCommandsAnswer,
} from './messages.js'

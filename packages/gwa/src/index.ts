export { GwaError, isGwaError } from './errors.js'
export type { GwaErrorCode } from './errors.js'
export { GwaConfig, GwaStorageConfig, parseGwaConfig, readGwaConfig, resolveGwaConfigPaths } from './config.js'
export type { GwaConfigInput } from './config.js'
export { openRepository } from './repository/open.js'
export { openSqliteRepository } from './repository/sqlite.js'
export { openPostgresRepository } from './repository/postgres.js'
export type { PostgresRepositoryOptions } from './repository/postgres.js'
export { CERTIFICATE_KINDS, COMMAND_STATES, GATEWAY_STATES, MAX_LIST_ROWS, PROFILE_STATES, RESULT_LOST, stateAfterContact } from './repository/types.js'
export type {
  CertificateKind, CertificateRecord, CommandQuery, CommandRecord, CommandResultInput, CommandState, ContactInput, FirmwarePackageRecord, GatewayPatch,
  GatewayRecord, GatewayState, GwaRepository, LogExportRecord, ProfileState, ProfileVersionRecord, RegisterGatewayInput,
} from './repository/types.js'

/**
 * The one error class of @smgw/gateway. Codes are stable and listed in README.md; a
 * retired code is never reused. Foreign errors (better-sqlite3, node:fs, zod, @smgw/crypto)
 * are wrapped with `cause`.
 *
 * A log that fails verification is NOT an error: `verifyLog` returns a result with a
 * reason code (LogVerifyReason). Errors are for inputs that cannot be read at all.
 */
export type GatewayErrorCode =
  /** The database file cannot be opened or is not an SQLite database. */
  | 'STORE_OPEN_FAILED'
  /** The database was written by a newer schema than this code knows (user_version too high). */
  | 'STORE_SCHEMA_TOO_NEW'
  /** A schema migration failed; it was rolled back and the database is unchanged. */
  | 'STORE_MIGRATION_FAILED'
  /** The store was used after close(). */
  | 'STORE_CLOSED'
  /** A query failed, or a stored value is not what the schema says (edited file). */
  | 'STORE_READ_FAILED'
  /** A write transaction failed and was rolled back (disk full, I/O error, constraint). */
  | 'STORE_WRITE_FAILED'
  /** A reading, interval value, outbox item or config version that does not satisfy its schema. */
  | 'STORE_INPUT_INVALID'
  /** A log entry that does not satisfy its log's entry schema (unknown type, free-form field, …). */
  | 'LOG_ENTRY_INVALID'
  /** The log's signing key and certificate do not belong together, or signing failed. */
  | 'LOG_SIGNING_FAILED'
  /** An exported log file that is not in the export format (bad JSON, unknown key, non-canonical line). */
  | 'LOG_EXPORT_MALFORMED'
  /** A file given to `smgw log verify` is neither a gateway store nor a log export. */
  | 'LOG_SOURCE_UNKNOWN'
  /** The gateway configuration does not satisfy its schema (each problem named by its path). */
  | 'CONFIG_INVALID'
  /** The meter key file cannot be read, is not JSON `{ keyId: hex }`, or lacks a key a meter refers to. */
  | 'KEYS_INVALID'
  /** The meter key file is readable by group or others (its mode must be 0600 or stricter). */
  | 'KEYS_PERMISSIONS'
  /** The security module holding the meter keys cannot be opened or used (passphrase/PIN missing or wrong, no token, no library). */
  | 'KEY_MODULE_FAILED'
  /** An LMN transport cannot be opened (serial port, UDP bind, replay file). */
  | 'LMN_OPEN_FAILED'
  /** An SNTP response that is not a valid server reply (length, version, mode, zero transmit timestamp, …; reason in the message). */
  | 'TIME_RESPONSE_INVALID'
  /** The time server sent a kiss-o'-death packet (stratum 0: RATE, DENY, RSTR, …): stop or slow down. */
  | 'TIME_KISS_OF_DEATH'
  /** The time server says it is not synchronised itself (leap indicator 3 or stratum 16). */
  | 'TIME_SERVER_UNSYNCHRONISED'
  /** The response's originate timestamp is not our transmit timestamp (bogus, replayed or spoofed). */
  | 'TIME_ORIGINATE_MISMATCH'
  /** No valid answer from the time server within the timeout, after every retry. */
  | 'TIME_QUERY_TIMEOUT'
  /** The query could not be sent (socket error, name resolution) or was aborted. */
  | 'TIME_QUERY_FAILED'
  /** The WAN sealer or delivery configuration is invalid (schema, duplicate recipient, a certificate that does not decode or does not carry the signer's key). */
  | 'WAN_CONFIG_INVALID'
  /** A message was to be sealed for a recipient that is not configured (nobody outside the configuration receives anything). */
  | 'WAN_RECIPIENT_UNKNOWN'
  /** Signing or encrypting a message failed (security module, key). */
  | 'WAN_SEAL_FAILED'
  /** A tariff profile (file) that does not satisfy its schema or its combination rules (each problem named by its path). */
  | 'TAF_PROFILE_INVALID'
  /** Aggregated data over fewer metering points than the profile's minimum (at least 5): never computed, never sent. */
  | 'TAF_AGGREGATION_TOO_FEW'
  /** A message was to be built for a recipient that the tariff profile does not name (principle 5). */
  | 'TAF_RECIPIENT_UNKNOWN'
  /** Input to a TAF computation outside its contract (readings not sorted by time, a period not on the profile's boundaries, a short pseudonym secret). */
  | 'TAF_INPUT_INVALID'
  /** The `seal` dependency (CMS sign and encrypt) failed for a TAF message; nothing of that run was committed. */
  | 'TAF_SEAL_FAILED'
  /** A HAN account that cannot be created or changed (username or password rules, an existing username, a consumer ID no meter has). */
  | 'HAN_ACCOUNT_INVALID'
  /** The HAN service cannot start: its TLS key or certificate cannot be read or made, or the port cannot be bound. */
  | 'HAN_START_FAILED'
  /** The access table (admin/access.ts) does not allow this operation to this role. */
  | 'FORBIDDEN'
  /** A GWA command or wake-up that fails its checks (docs/admin-protocol.md); `detail` names the protocol reason. */
  | 'ADMIN_REFUSED'
  /** An administration part cannot start (the wake-up port cannot be bound) or was used while not running. */
  | 'ADMIN_START_FAILED'
  /** An administered change (configuration version, certificates, firmware) could not be applied; the previous state stays. */
  | 'ADMIN_APPLY_FAILED'
  /** The CLS channel could not be opened or was refused (device or EMT not configured, TLS failed). */
  | 'CLS_FAILED'
  /** `answer-request` names a consumer request this gateway does not hold (docs/admin-protocol.md). */
  | 'REQUEST_UNKNOWN'
  /** `answer-request` for a consumer request that is closed already (`done` or `rejected`). */
  | 'REQUEST_CLOSED'

export class GatewayError extends Error {
  override name = 'GatewayError'
  /** For ADMIN_REFUSED: the refusal's own reason (VERSION_NOT_NEWER, …), answered to the GWA as the result code. */
  readonly reason: string | undefined
  constructor(readonly code: GatewayErrorCode, message: string, options?: ErrorOptions & { readonly reason?: string }) {
    super(message, options)
    this.reason = options?.reason
  }
}

export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError
}

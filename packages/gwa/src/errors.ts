/** Stable error codes of `@smgw/gwa`; listed in the package README, never reused. */
export type GwaErrorCode =
  /** The configuration does not satisfy the schema (each problem named by its path), or a file it names cannot be read. */
  | 'GWA_CONFIG_INVALID'
  /** The inventory failed (SQLite/PostgreSQL error, schema newer than this code, closed). */
  | 'GWA_STORAGE_FAILED'
  /** Registering a gateway ID that is registered already. */
  | 'GWA_GATEWAY_EXISTS'
  /** A gateway ID that is not in the inventory. */
  | 'GWA_GATEWAY_UNKNOWN'
  /** A REST request body or query, or an operator's command, is malformed or not allowed in the gateway's state. */
  | 'GWA_REQUEST_INVALID'
  /** A REST resource (command, log export, firmware package) does not exist. */
  | 'GWA_NOT_FOUND'
  /** The REST API was called without the right bearer token. */
  | 'GWA_UNAUTHORIZED'
  /** An admin session by a client whose certificate does not belong to the report's gateway, or by a revoked or unknown gateway. */
  | 'GWA_FORBIDDEN'
  /** Two writers raced for the same profile version or command sequence; the operation can be repeated. */
  | 'GWA_CONFLICT'
  /** A certification request from a gateway could not be turned into a certificate (signature, subject, old certificate). */
  | 'GWA_CSR_REJECTED'
  /** A wake-up could not be sent (no wake-up address, UDP error, packet too large). */
  | 'GWA_WAKE_UP_FAILED'
  /** The service could not start (listen failed, key or certificate unusable). */
  | 'GWA_START_FAILED'
  /**
   * Meter keys for a gateway without an ENC certificate the GWA issued and the gateway last
   * reported as its operational one: nothing to seal the keys to — renew its ENC certificate first.
   */
  | 'GWA_NO_ENC_CERTIFICATE'
  /** A gateway opened admin sessions faster than `sessionRateLimit` allows; answered 429 with Retry-After. */
  | 'GWA_RATE_LIMITED'

export class GwaError extends Error {
  override name = 'GwaError'
  constructor(readonly code: GwaErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

export function isGwaError(value: unknown): value is GwaError {
  return value instanceof GwaError
}

/** Stable error codes of `@smgw/emt`; listed in the package README, never reused. */
export type EmtErrorCode =
  /** The configuration does not satisfy the schema (each problem named by its path), or a file it names cannot be read. */
  | 'EMT_CONFIG_INVALID'
  /** The repository failed (SQLite/PostgreSQL error, schema newer than this code). */
  | 'EMT_STORAGE_FAILED'
  /** `gateway add` for an ID that is registered already. */
  | 'EMT_GATEWAY_EXISTS'
  /** `gateway add --certificate`: a certificate that does not validate now as the gateway's TLS or SIG certificate, or names another gateway. */
  | 'EMT_CERTIFICATE_INVALID'
  /** `gateway remove` or `gateway certificates` for an ID that is not registered. */
  | 'EMT_GATEWAY_UNKNOWN'
  /** A REST query parameter is missing or malformed. */
  | 'EMT_QUERY_INVALID'
  /** A REST resource does not exist. */
  | 'EMT_NOT_FOUND'
  /** The REST API was called without the right bearer token. */
  | 'EMT_UNAUTHORIZED'
  /** The receiver could not start (listen failed, key or certificate unusable). */
  | 'EMT_START_FAILED'
  /** A CLS channel command got no answer: the channel closed, or the device did not answer in time (packages/emt/src/cls). */
  | 'EMT_CLS_FAILED'

export class EmtError extends Error {
  override name = 'EmtError'
  constructor(readonly code: EmtErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

export function isEmtError(value: unknown): value is EmtError {
  return value instanceof EmtError
}

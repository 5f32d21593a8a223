/** Stable error codes of `@smgw/meter-data`; listed in the package README, never reused. */
export type MeterDataErrorCode =
  /** The bytes are not UTF-8 JSON, or exceed the size limit. */
  | 'MESSAGE_NOT_JSON'
  /** A `format`/`version` this code does not read (a newer gateway, or not a meter-data message). */
  | 'MESSAGE_VERSION_UNSUPPORTED'
  /** The JSON does not satisfy the message schema (each problem named by its path). */
  | 'MESSAGE_INVALID'
  /** A delivery receipt or rejection from a receiver that is not in the protocol's shape. */
  | 'RECEIPT_INVALID'

export class MeterDataError extends Error {
  override name = 'MeterDataError'
  constructor(readonly code: MeterDataErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

export function isMeterDataError(value: unknown): value is MeterDataError {
  return value instanceof MeterDataError
}

/**
 * Every failure of this package, as a stable code (listed with cause and fix in README.md).
 * Codes are never reused for a different meaning.
 */
export type MbusErrorCode =
  | 'MBUS_TRUNCATED'
  | 'MBUS_CRC'
  | 'MBUS_CHECKSUM'
  | 'MBUS_FRAME'
  | 'MBUS_CI_UNSUPPORTED'
  | 'MBUS_SECURITY_UNSUPPORTED'
  | 'MBUS_FRAGMENTED'
  | 'MBUS_DIF'
  | 'MBUS_VIF'
  | 'MBUS_KEY_LENGTH'
  | 'MBUS_ENCODE'
  | 'MISSING_KEY'
  | 'DECRYPT_FAILED'
  | 'MAC_MISMATCH'
  | 'KEY_OPERATION_FAILED'

export class MbusError extends Error {
  override name = 'MbusError'
  constructor(readonly code: MbusErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

/** Guard: `err` is an MbusError (optionally with the given code). */
export function isMbusError(err: unknown, code?: MbusErrorCode): err is MbusError {
  return err instanceof MbusError && (code === undefined || err.code === code)
}

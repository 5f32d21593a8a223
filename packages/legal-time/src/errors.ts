/** Stable error codes of `@smgw/legal-time`; listed in the package README, never reused. */
export type LegalTimeErrorCode =
  /** An instant or year outside the rules this package knows (legal time from 1980 to year 9999). */
  | 'LEGAL_TIME_OUT_OF_RANGE'
  /** Calendar fields that are not a real date or clock time (month 13, 31 April, hour 24, a non-integer, …), or a day text that is not YYYY-MM-DD. */
  | 'LEGAL_TIME_INVALID_DATE'
  /** A local time in the skipped hour of the spring change, asked for with `{ skipped: 'reject' }`. */
  | 'LEGAL_TIME_NONEXISTENT'
  /** A local time in the doubled hour of the autumn change, asked for with `{ repeated: 'reject' }`. */
  | 'LEGAL_TIME_AMBIGUOUS'
  /** A registration period that does not divide the hour (or is not a whole day). */
  | 'LEGAL_TIME_PERIOD_INVALID'

export class LegalTimeError extends Error {
  override name = 'LegalTimeError'
  constructor(readonly code: LegalTimeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

export function isLegalTimeError(value: unknown): value is LegalTimeError {
  return value instanceof LegalTimeError
}

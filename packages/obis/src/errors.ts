/** Stable error codes of `@smgw/obis`; listed in the package README, never reused. */
export type ObisErrorCode =
  /** The text is not an OBIS code in any accepted form. */
  | 'OBIS_SYNTAX'
  /** A group value is outside 0..255. */
  | 'OBIS_RANGE'
  /** The byte form is not exactly 6 bytes. */
  | 'OBIS_LENGTH'

export class ObisError extends Error {
  override name = 'ObisError'
  constructor(readonly code: ObisErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

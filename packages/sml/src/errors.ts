/**
 * Stable error codes of `@smgw/sml`; listed with cause and fix in the package README,
 * never reused for another meaning.
 */
export type SmlErrorCode =
  /** Transport: the file's CRC16 (end escape sequence) does not match. */
  | 'SML_CRC'
  /** A message's own crc16 field does not match its bytes. */
  | 'SML_MESSAGE_CRC'
  /** The input ends inside a file, message or field. */
  | 'SML_TRUNCATED'
  /** Transport: the input does not start with `1b1b1b1b 01010101`. */
  | 'SML_START'
  /** Transport: an escape sequence `1b1b1b1b xx..` that is neither escaped data, start nor end. */
  | 'SML_ESCAPE'
  /** Transport: padding count above 3, larger than the payload, or padding bytes not zero. */
  | 'SML_PADDING'
  /** Transport: the end escape sequence is not on a 4-byte boundary. */
  | 'SML_ALIGNMENT'
  /** Transport: bytes follow the end of the file. */
  | 'SML_TRAILING'
  /** A type-length field is malformed (unknown type, bad continuation byte, length smaller than the TL field). */
  | 'SML_TL'
  /** A field has a type or size other than the one the schema requires, or its value does not fit. */
  | 'SML_TYPE'
  /** A sequence has the wrong number of elements. */
  | 'SML_LIST_LENGTH'
  /** A message body or choice carries a tag this codec does not know. */
  | 'SML_UNKNOWN_TAG'
  /** A message does not end with EndOfSmlMsg (0x00). */
  | 'SML_END'
  /** Nested SML_Tree deeper than the codec allows. */
  | 'SML_DEPTH'
  /** A frame grows beyond the framer's `maxFrameBytes`. */
  | 'SML_TOO_LARGE'
  /** The encoder was given a value that its SML type cannot hold. */
  | 'SML_RANGE'

export interface SmlErrorDetails {
  /** Byte offset in the input where the problem was found. */
  readonly offset?: number
  /** For CRC mismatches: the CRC computed over the bytes. */
  readonly expected?: number
  /** For CRC mismatches: the CRC the input carries. */
  readonly found?: number
}

export class SmlError extends Error {
  override name = 'SmlError'
  readonly offset: number | undefined
  readonly expected: number | undefined
  readonly found: number | undefined
  constructor(readonly code: SmlErrorCode, message: string, details: SmlErrorDetails = {}, options?: ErrorOptions) {
    super(message, options)
    this.offset = details.offset
    this.expected = details.expected
    this.found = details.found
  }
}

import type { DecodeSmlOptions } from './parser/decode.js'
import { decodeSmlMessages } from './parser/decode.js'
import { encodeSmlMessages } from './parser/encode.js'
import { decodeSmlTransport } from './transport/decode.js'
import { encodeSmlTransport } from './transport/encode.js'
import type { SmlFile, SmlFileInput } from './types.js'

/**
 * Decodes one complete SML file: transport v1 framing (start, escaping, padding, CRC16)
 * and every message with its crc16. The input must be exactly one file; for a serial
 * stream or a capture with several files use `createSmlFramer` first.
 */
export function decodeSmlFile(bytes: Uint8Array, options: DecodeSmlOptions = {}): SmlFile {
  return { messages: decodeSmlMessages(decodeSmlTransport(bytes), options) }
}

/** Encodes an SML file: messages (crc16 computed) wrapped in transport v1 framing. */
export function encodeSmlFile(file: SmlFileInput): Uint8Array {
  return encodeSmlTransport(encodeSmlMessages(file.messages))
}

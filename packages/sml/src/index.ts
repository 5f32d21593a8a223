export { SmlError } from './errors.js'
export type { SmlErrorCode, SmlErrorDetails } from './errors.js'
export { decodeSmlFile, encodeSmlFile } from './file.js'
export { decodeSmlMessages } from './parser/decode.js'
export type { DecodeSmlOptions } from './parser/decode.js'
export { encodeSmlMessages } from './parser/encode.js'
export { BODY_TAGS } from './parser/tags.js'
export { decodeSmlTransport } from './transport/decode.js'
export { encodeSmlTransport } from './transport/encode.js'
export { crc16X25 } from './transport/crc.js'
export { createSmlFramer } from './transport/framer.js'
export type { SmlFramer, SmlFramerEvent, SmlFramerOptions } from './transport/framer.js'
export { extractReadings } from './readings.js'
export type { ExtractReadingsOptions, SmlQuirkName, SmlQuirks, SmlReading } from './readings.js'
export type {
  SmlAttentionResponse,
  SmlCloseRequest,
  SmlCloseResponse,
  SmlFile,
  SmlFileInput,
  SmlGetListRequest,
  SmlGetListResponse,
  SmlGetProcParameterRequest,
  SmlGetProcParameterResponse,
  SmlGetProfileListResponse,
  SmlGetProfilePackResponse,
  SmlGetProfileRequest,
  SmlInteger,
  SmlIntegerType,
  SmlListEntry,
  SmlMessage,
  SmlMessageBody,
  SmlMessageInput,
  SmlMessageKind,
  SmlObjReqEntry,
  SmlOpenRequest,
  SmlOpenResponse,
  SmlPeriodEntry,
  SmlProcParValue,
  SmlProfObjHeaderEntry,
  SmlProfObjPeriodEntry,
  SmlSetProcParameterRequest,
  SmlTime,
  SmlTlHint,
  SmlTree,
  SmlUnsigned,
  SmlUnsignedType,
  SmlValue,
  SmlValueEntry,
} from './types.js'

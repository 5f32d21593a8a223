// Typed SML 1.04 values. ASN.1-like definitions quoted from FNN "SML - Smart Message
// Language" Version 1.04 (2012-02-05), the edition BSI TR-03109-1 Anlage IV refers to.

/** An SML integer: a JS number when it is a safe integer, a bigint otherwise (never lossy). */
export type SmlInteger = number | bigint

export type SmlIntegerType = 'int8' | 'int16' | 'int32' | 'int64'
export type SmlUnsignedType = 'uint8' | 'uint16' | 'uint32' | 'uint64'

/** An unsigned integer with its SML type (the type is part of the value: Unsigned8 5 ≠ Unsigned32 5). */
export interface SmlUnsigned {
  readonly type: SmlUnsignedType
  readonly value: SmlInteger
}

/**
 * SML 1.04 SML_Value ::= CHOICE { Boolean, Octet String, Integer8..64, Unsigned8..64, SML_ListType }.
 * (SML_ListType values are not supported; decoding one fails with SML_TYPE.)
 */
export type SmlValue =
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'bytes'; readonly value: Uint8Array }
  | { readonly type: SmlIntegerType; readonly value: SmlInteger }
  | SmlUnsigned

/**
 * SML 1.04 SML_Time ::= CHOICE { secIndex [0x01] Unsigned32, timestamp [0x02] SML_Timestamp,
 * localTimestamp [0x03] SML_TimestampLocal }.
 * `bare: true` marks the Holley DTZ541 form (see `parser/time.ts`): a bare Unsigned32 instead of the choice list.
 */
export type SmlTime =
  | { readonly kind: 'secIndex'; readonly secIndex: number; readonly bare?: true }
  | { readonly kind: 'timestamp'; readonly timestamp: number }
  | { readonly kind: 'localTimestamp'; readonly timestamp: number; readonly localOffset: number; readonly seasonTimeOffset: number }

/** SML 1.04 SML_ListEntry. */
export interface SmlListEntry {
  readonly objName: Uint8Array
  /** SML_Status ::= CHOICE { Unsigned8, Unsigned16, Unsigned32, Unsigned64 } */
  readonly status?: SmlUnsigned
  readonly valTime?: SmlTime
  /** SML_Unit: a DLMS unit code (Unsigned8). */
  readonly unit?: number
  /** Integer8: value × 10^scaler. */
  readonly scaler?: number
  readonly value: SmlValue
  readonly valueSignature?: Uint8Array
}

/** SML 1.04 SML_PeriodEntry. */
export interface SmlPeriodEntry {
  readonly objName: Uint8Array
  readonly unit: number
  readonly scaler: number
  readonly value: SmlValue
  readonly valueSignature?: Uint8Array
}

/** SML 1.04 SML_ProcParValue ::= CHOICE (tuple entries are not supported). */
export type SmlProcParValue =
  | { readonly kind: 'value'; readonly value: SmlValue }
  | { readonly kind: 'periodEntry'; readonly periodEntry: SmlPeriodEntry }
  | { readonly kind: 'time'; readonly time: SmlTime }
  | { readonly kind: 'listEntry'; readonly listEntry: SmlListEntry }

/** SML 1.04 SML_Tree. */
export interface SmlTree {
  readonly parameterName: Uint8Array
  readonly parameterValue?: SmlProcParValue
  readonly children?: readonly SmlTree[]
}

/** SML_ProfObjHeaderEntry (SML 1.04, SML_GetProfilePack.Res). */
export interface SmlProfObjHeaderEntry {
  readonly objName: Uint8Array
  readonly unit: number
  readonly scaler: number
}

/** SML_ValueEntry (SML 1.04, SML_GetProfilePack.Res). */
export interface SmlValueEntry {
  readonly value: SmlValue
  readonly valueSignature?: Uint8Array
}

/** SML_ProfObjPeriodEntry (SML 1.04, SML_GetProfilePack.Res). */
export interface SmlProfObjPeriodEntry {
  readonly valTime: SmlTime
  readonly status: SmlUnsigned
  readonly values: readonly SmlValueEntry[]
  readonly periodSignature?: Uint8Array
}

/** SML_ObjReqEntry: an OBIS code or tree path element (Octet String). */
export type SmlObjReqEntry = Uint8Array

export interface SmlOpenRequest {
  readonly kind: 'openRequest'
  readonly codepage?: Uint8Array
  readonly clientId: Uint8Array
  readonly reqFileId: Uint8Array
  readonly serverId?: Uint8Array
  readonly username?: Uint8Array
  readonly password?: Uint8Array
  readonly smlVersion?: number
}

export interface SmlOpenResponse {
  readonly kind: 'openResponse'
  readonly codepage?: Uint8Array
  readonly clientId?: Uint8Array
  readonly reqFileId: Uint8Array
  readonly serverId: Uint8Array
  readonly refTime?: SmlTime
  readonly smlVersion?: number
}

export interface SmlCloseRequest {
  readonly kind: 'closeRequest'
  readonly globalSignature?: Uint8Array
}

export interface SmlCloseResponse {
  readonly kind: 'closeResponse'
  readonly globalSignature?: Uint8Array
}

export interface SmlGetListRequest {
  readonly kind: 'getListRequest'
  readonly clientId: Uint8Array
  readonly serverId?: Uint8Array
  readonly username?: Uint8Array
  readonly password?: Uint8Array
  readonly listName?: Uint8Array
}

export interface SmlGetListResponse {
  readonly kind: 'getListResponse'
  readonly clientId?: Uint8Array
  readonly serverId: Uint8Array
  readonly listName?: Uint8Array
  readonly actSensorTime?: SmlTime
  readonly valList: readonly SmlListEntry[]
  readonly listSignature?: Uint8Array
  readonly actGatewayTime?: SmlTime
}

export interface SmlGetProcParameterRequest {
  readonly kind: 'getProcParameterRequest'
  readonly serverId?: Uint8Array
  readonly username?: Uint8Array
  readonly password?: Uint8Array
  readonly parameterTreePath: readonly Uint8Array[]
  readonly attribute?: Uint8Array
}

export interface SmlGetProcParameterResponse {
  readonly kind: 'getProcParameterResponse'
  readonly serverId: Uint8Array
  readonly parameterTreePath: readonly Uint8Array[]
  readonly parameterTree: SmlTree
}

export interface SmlSetProcParameterRequest {
  readonly kind: 'setProcParameterRequest'
  readonly serverId?: Uint8Array
  readonly username?: Uint8Array
  readonly password?: Uint8Array
  readonly parameterTreePath: readonly Uint8Array[]
  readonly parameterTree: SmlTree
}

/** GetProfilePackRequest and GetProfileListRequest share one structure (SML 1.04 SML_GetProfilePack.Req, SML_GetProfileList.Req). */
export interface SmlGetProfileRequest {
  readonly kind: 'getProfilePackRequest' | 'getProfileListRequest'
  readonly serverId?: Uint8Array
  readonly username?: Uint8Array
  readonly password?: Uint8Array
  readonly withRawdata?: boolean
  readonly beginTime?: SmlTime
  readonly endTime?: SmlTime
  readonly parameterTreePath: readonly Uint8Array[]
  readonly objectList?: readonly SmlObjReqEntry[]
  readonly dasDetails?: SmlTree
}

export interface SmlGetProfilePackResponse {
  readonly kind: 'getProfilePackResponse'
  readonly serverId: Uint8Array
  readonly actTime: SmlTime
  readonly regPeriod: number
  readonly parameterTreePath: readonly Uint8Array[]
  readonly headerList: readonly SmlProfObjHeaderEntry[]
  readonly periodList: readonly SmlProfObjPeriodEntry[]
  readonly rawdata: Uint8Array
  readonly profileSignature?: Uint8Array
}

export interface SmlGetProfileListResponse {
  readonly kind: 'getProfileListResponse'
  readonly serverId: Uint8Array
  readonly actTime: SmlTime
  readonly regPeriod: number
  readonly parameterTreePath: readonly Uint8Array[]
  readonly valTime: SmlTime
  readonly status: SmlInteger
  readonly periodList: readonly SmlPeriodEntry[]
  readonly rawdata: Uint8Array
  readonly periodSignature?: Uint8Array
}

export interface SmlAttentionResponse {
  readonly kind: 'attentionResponse'
  readonly serverId: Uint8Array
  readonly attentionNo: Uint8Array
  readonly attentionMsg?: Uint8Array
  readonly attentionDetails?: SmlTree
}

export type SmlMessageBody =
  | SmlOpenRequest
  | SmlOpenResponse
  | SmlCloseRequest
  | SmlCloseResponse
  | SmlGetListRequest
  | SmlGetListResponse
  | SmlGetProcParameterRequest
  | SmlGetProcParameterResponse
  | SmlSetProcParameterRequest
  | SmlGetProfileRequest
  | SmlGetProfilePackResponse
  | SmlGetProfileListResponse
  | SmlAttentionResponse

export type SmlMessageKind = SmlMessageBody['kind']

/**
 * How one type-length field was actually encoded when that differs from what the encoder
 * writes by default: `at` is the index of the TL field within its message (counted in
 * decoding order, the message's own list TL is 0), `size` the number of TL bytes, `len`
 * the data length in bytes (for lists: the element count), `byte` the raw Boolean byte
 * when it was neither 0x00 nor 0x01. Kept so encode(decode(bytes)) reproduces the bytes.
 */
export interface SmlTlHint {
  readonly at: number
  readonly size: number
  readonly len: number
  readonly byte?: number
}

/** SML 1.04 SML_Message ::= SEQUENCE { transactionId, groupNo, abortOnError, messageBody, crc16, endOfSmlMsg }. */
export interface SmlMessage {
  readonly transactionId: Uint8Array
  readonly groupNo: number
  readonly abortOnError: number
  readonly body: SmlMessageBody
  /** The crc16 field as sent (verified on decode; the encoder always computes it). */
  readonly crc16: number
  /** Non-default encodings seen on decode; absent when the message used the default encoding throughout. */
  readonly tl?: readonly SmlTlHint[]
}

/** What the encoder takes: a message whose crc16 is computed for it. */
export type SmlMessageInput = Omit<SmlMessage, 'crc16'> & { readonly crc16?: number }

/** One SML file: the messages between a transport v1 start and end sequence. */
export interface SmlFile {
  readonly messages: readonly SmlMessage[]
}

export interface SmlFileInput {
  readonly messages: readonly SmlMessageInput[]
}

import { SmlError } from '../errors.js'
import { crc16X25, swap16 } from '../transport/crc.js'
import { hex16 } from '../transport/decode.js'
import type {
  SmlGetListResponse,
  SmlGetProfileRequest,
  SmlListEntry,
  SmlMessage,
  SmlMessageBody,
  SmlOpenResponse,
  SmlPeriodEntry,
  SmlProcParValue,
  SmlProfObjHeaderEntry,
  SmlProfObjPeriodEntry,
  SmlTime,
  SmlTree,
  SmlValueEntry,
} from '../types.js'
import { Reader } from './reader.js'
import { KIND_BY_TAG, MAX_TREE_DEPTH, PROC_PAR_TAG, TIME_TAG, TL_TYPE } from './tags.js'

// Local copies: hot paths read module-local constants, not an imported object's properties.
const UINT = TL_TYPE.uint
const crcX25 = crc16X25
const swap = swap16
const LIST = TL_TYPE.list
const KINDS = KIND_BY_TAG
const MAX_DEPTH = MAX_TREE_DEPTH
const T_SEC_INDEX = TIME_TAG.secIndex
const T_TIMESTAMP = TIME_TAG.timestamp
const T_LOCAL = TIME_TAG.localTimestamp

export interface DecodeSmlOptions {
  /**
   * Reject the Holley DTZ541 SML_Time form (a bare Unsigned32 instead of the CHOICE list)
   * with SML_TYPE instead of reading it as a secIndex. Default false.
   */
  readonly strictTime?: boolean
}

/**
 * Decodes the messages of one SML file (the bytes between the transport start and end
 * sequences, escaping and padding removed). Every message's crc16 is verified.
 * Octet strings in the result are views into `payload`.
 */
export function decodeSmlMessages(payload: Uint8Array, options: DecodeSmlOptions = {}): SmlMessage[] {
  const r = new Reader(payload, 0, payload.length, options.strictTime === true)
  const out: SmlMessage[] = []
  while (r.pos < r.end) out.push(decodeMessage(r))
  return out
}

function decodeMessage(r: Reader): SmlMessage {
  const start = r.pos
  r.tok = 0
  r.hints = undefined
  // SML_Message ::= SEQUENCE { transactionId, groupNo, abortOnError, messageBody, crc16, endOfSmlMsg }
  r.list(6, 'SML_Message')
  const transactionId = r.octets('transactionId')
  const groupNo = r.u8('groupNo')
  const abortOnError = r.u8('abortOnError')
  const body = decodeBody(r)
  const crcStart = r.pos
  const crc16 = r.u16('crc16')
  if (r.pos >= r.end) r.truncated()
  if (r.buf[r.pos] !== 0x00) r.fail('SML_END', `expected EndOfSmlMsg 0x00, found 0x${r.buf[r.pos]!.toString(16)}`)
  r.pos++
  // SML 1.04 SML_Message.crc16: CRC16 over the message from its first byte up to the
  // crc16 field, sent as an Unsigned16 with the CRC's low byte first.
  const expected = swap(crcX25(r.buf, start, crcStart))
  if (expected !== crc16) {
    throw new SmlError('SML_MESSAGE_CRC', `message crc16 mismatch: computed ${hex16(expected)}, message carries ${hex16(crc16)}`, { offset: crcStart, expected, found: crc16 })
  }
  const tl = r.takeHints()
  return tl === undefined ? { transactionId, groupNo, abortOnError, body, crc16 } : { transactionId, groupNo, abortOnError, body, crc16, tl }
}

function decodeBody(r: Reader): SmlMessageBody {
  // SML_MessageBody ::= CHOICE, encoded as a list of (tag Unsigned32, body).
  r.list(2, 'SML_MessageBody')
  const tagAt = r.pos
  const tag = r.u32('messageBody tag')
  const kind = KINDS.get(tag)
  switch (kind) {
    case 'openRequest':
      r.list(7, 'SML_PublicOpen.Req')
      return {
        kind,
        ...opt('codepage', r.optOctets('codepage')),
        clientId: r.octets('clientId'),
        reqFileId: r.octets('reqFileId'),
        ...opt('serverId', r.optOctets('serverId')),
        ...opt('username', r.optOctets('username')),
        ...opt('password', r.optOctets('password')),
        ...opt('smlVersion', r.optU8('smlVersion')),
      }
    case 'openResponse': {
      r.list(6, 'SML_PublicOpen.Res')
      const codepage = r.optOctets('codepage')
      const clientId = r.optOctets('clientId')
      const b: Mutable<SmlOpenResponse> = { kind, reqFileId: r.octets('reqFileId'), serverId: r.octets('serverId') }
      const refTime = optTime(r, 'refTime')
      const smlVersion = r.optU8('smlVersion')
      if (codepage !== undefined) b.codepage = codepage
      if (clientId !== undefined) b.clientId = clientId
      if (refTime !== undefined) b.refTime = refTime
      if (smlVersion !== undefined) b.smlVersion = smlVersion
      return b
    }
    case 'closeRequest':
    case 'closeResponse': {
      r.list(1, 'SML_PublicClose')
      const globalSignature = r.optOctets('globalSignature')
      return globalSignature === undefined ? { kind } : { kind, globalSignature }
    }
    case 'getListRequest':
      r.list(5, 'SML_GetList.Req')
      return {
        kind,
        clientId: r.octets('clientId'),
        ...opt('serverId', r.optOctets('serverId')),
        ...opt('username', r.optOctets('username')),
        ...opt('password', r.optOctets('password')),
        ...opt('listName', r.optOctets('listName')),
      }
    case 'getListResponse': {
      r.list(7, 'SML_GetList.Res')
      const clientId = r.optOctets('clientId')
      const serverId = r.octets('serverId')
      const listName = r.optOctets('listName')
      const actSensorTime = optTime(r, 'actSensorTime')
      const n = r.listOf('valList')
      const valList: SmlListEntry[] = []
      for (let i = 0; i < n; i++) valList.push(listEntry(r))
      const b: Mutable<SmlGetListResponse> = { kind, serverId, valList }
      const listSignature = r.optOctets('listSignature')
      const actGatewayTime = optTime(r, 'actGatewayTime')
      if (clientId !== undefined) b.clientId = clientId
      if (listName !== undefined) b.listName = listName
      if (actSensorTime !== undefined) b.actSensorTime = actSensorTime
      if (listSignature !== undefined) b.listSignature = listSignature
      if (actGatewayTime !== undefined) b.actGatewayTime = actGatewayTime
      return b
    }
    case 'getProcParameterRequest':
      r.list(5, 'SML_GetProcParameter.Req')
      return {
        kind,
        ...opt('serverId', r.optOctets('serverId')),
        ...opt('username', r.optOctets('username')),
        ...opt('password', r.optOctets('password')),
        parameterTreePath: treePath(r),
        ...opt('attribute', r.optOctets('attribute')),
      }
    case 'getProcParameterResponse':
      r.list(3, 'SML_GetProcParameter.Res')
      return { kind, serverId: r.octets('serverId'), parameterTreePath: treePath(r), parameterTree: tree(r) }
    case 'setProcParameterRequest':
      r.list(5, 'SML_SetProcParameter.Req')
      return {
        kind,
        ...opt('serverId', r.optOctets('serverId')),
        ...opt('username', r.optOctets('username')),
        ...opt('password', r.optOctets('password')),
        parameterTreePath: treePath(r),
        parameterTree: tree(r),
      }
    case 'getProfilePackRequest':
    case 'getProfileListRequest':
      return profileRequest(r, kind)
    case 'getProfilePackResponse': {
      r.list(8, 'SML_GetProfilePack.Res')
      const serverId = r.octets('serverId')
      const actTime = time(r, 'actTime')
      const regPeriod = r.u32('regPeriod')
      const parameterTreePath = treePath(r)
      const nh = r.listOf('header_List')
      const headerList: SmlProfObjHeaderEntry[] = []
      for (let i = 0; i < nh; i++) {
        r.list(3, 'SML_ProfObjHeaderEntry')
        headerList.push({ objName: r.octets('objName'), unit: r.u8('unit'), scaler: r.i8('scaler') })
      }
      const np = r.listOf('period_List')
      const periodList: SmlProfObjPeriodEntry[] = []
      for (let i = 0; i < np; i++) periodList.push(profObjPeriodEntry(r))
      return {
        kind,
        serverId,
        actTime,
        regPeriod,
        parameterTreePath,
        headerList,
        periodList,
        rawdata: r.octets('rawdata'),
        ...opt('profileSignature', r.optOctets('profileSignature')),
      }
    }
    case 'getProfileListResponse': {
      r.list(9, 'SML_GetProfileList.Res')
      const serverId = r.octets('serverId')
      const actTime = time(r, 'actTime')
      const regPeriod = r.u32('regPeriod')
      const parameterTreePath = treePath(r)
      const valTime = time(r, 'valTime')
      const status = r.uint(8, 'status')
      const np = r.listOf('period_List')
      const periodList: SmlPeriodEntry[] = []
      for (let i = 0; i < np; i++) periodList.push(periodEntry(r))
      return {
        kind,
        serverId,
        actTime,
        regPeriod,
        parameterTreePath,
        valTime,
        status,
        periodList,
        rawdata: r.octets('rawdata'),
        ...opt('periodSignature', r.optOctets('periodSignature')),
      }
    }
    case 'attentionResponse':
      r.list(4, 'SML_Attention.Res')
      return {
        kind,
        serverId: r.octets('serverId'),
        attentionNo: r.octets('attentionNo'),
        ...opt('attentionMsg', r.optOctets('attentionMsg')),
        ...opt('attentionDetails', r.absent() ? undefined : tree(r)),
      }
    case undefined:
      throw new SmlError('SML_UNKNOWN_TAG', `unknown message body tag 0x${tag.toString(16).padStart(8, '0')}`, { offset: tagAt })
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** Spreads `{ [key]: value }` only when the value is present, so absent OPTIONAL fields are absent keys. */
function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}

function listEntry(r: Reader): SmlListEntry {
  // SML_ListEntry ::= SEQUENCE { objName, status OPTIONAL, valTime OPTIONAL, unit OPTIONAL, scaler OPTIONAL, value, valueSignature OPTIONAL }
  r.list(7, 'SML_ListEntry')
  const objName = r.octets('objName')
  const status = r.absent() ? undefined : r.status('status')
  const valTime = optTime(r, 'valTime')
  const unit = r.optU8('unit')
  const scaler = r.optI8('scaler')
  const value = r.value('value')
  const valueSignature = r.optOctets('valueSignature')
  // Building the literal with only present keys keeps one object per entry (hot path).
  const e: Mutable<SmlListEntry> = { objName, value }
  if (status !== undefined) e.status = status
  if (valTime !== undefined) e.valTime = valTime
  if (unit !== undefined) e.unit = unit
  if (scaler !== undefined) e.scaler = scaler
  if (valueSignature !== undefined) e.valueSignature = valueSignature
  return e
}

function periodEntry(r: Reader): SmlPeriodEntry {
  r.list(5, 'SML_PeriodEntry')
  return {
    objName: r.octets('objName'),
    unit: r.u8('unit'),
    scaler: r.i8('scaler'),
    value: r.value('value'),
    ...opt('valueSignature', r.optOctets('valueSignature')),
  }
}

function profObjPeriodEntry(r: Reader): SmlProfObjPeriodEntry {
  r.list(4, 'SML_ProfObjPeriodEntry')
  const valTime = time(r, 'valTime')
  const status = r.status('status')
  const n = r.listOf('value_List')
  const values: SmlValueEntry[] = []
  for (let i = 0; i < n; i++) {
    r.list(2, 'SML_ValueEntry')
    values.push({ value: r.value('value'), ...opt('valueSignature', r.optOctets('valueSignature')) })
  }
  return { valTime, status, values, ...opt('periodSignature', r.optOctets('periodSignature')) }
}

function profileRequest(r: Reader, kind: SmlGetProfileRequest['kind']): SmlGetProfileRequest {
  r.list(9, 'SML_GetProfile.Req')
  const serverId = r.optOctets('serverId')
  const username = r.optOctets('username')
  const password = r.optOctets('password')
  const withRawdata = r.absent() ? undefined : r.bool('withRawdata')
  const beginTime = optTime(r, 'beginTime')
  const endTime = optTime(r, 'endTime')
  const parameterTreePath = treePath(r)
  let objectList: Uint8Array[] | undefined
  if (!r.absent()) {
    const n = r.listOf('object_List')
    objectList = []
    for (let i = 0; i < n; i++) objectList.push(r.octets('SML_ObjReqEntry'))
  }
  const dasDetails = r.absent() ? undefined : tree(r)
  return {
    kind,
    ...opt('serverId', serverId),
    ...opt('username', username),
    ...opt('password', password),
    ...opt('withRawdata', withRawdata),
    ...opt('beginTime', beginTime),
    ...opt('endTime', endTime),
    parameterTreePath,
    ...opt('objectList', objectList),
    ...opt('dasDetails', dasDetails),
  }
}

function treePath(r: Reader): Uint8Array[] {
  // SML_TreePath ::= SEQUENCE OF Octet String
  const n = r.listOf('SML_TreePath')
  const path: Uint8Array[] = []
  for (let i = 0; i < n; i++) path.push(r.octets('path_Entry'))
  return path
}

function tree(r: Reader): SmlTree {
  if (++r.depth > MAX_DEPTH) r.fail('SML_DEPTH', `SML_Tree nested deeper than ${MAX_TREE_DEPTH}`)
  // SML_Tree ::= SEQUENCE { parameterName, parameterValue SML_ProcParValue OPTIONAL, child_List OPTIONAL }
  r.list(3, 'SML_Tree')
  const parameterName = r.octets('parameterName')
  const parameterValue = r.absent() ? undefined : procParValue(r)
  let children: SmlTree[] | undefined
  if (!r.absent()) {
    const n = r.listOf('child_List')
    children = []
    for (let i = 0; i < n; i++) children.push(tree(r))
  }
  r.depth--
  return { parameterName, ...opt('parameterValue', parameterValue), ...opt('children', children) }
}

function procParValue(r: Reader): SmlProcParValue {
  r.list(2, 'SML_ProcParValue')
  const at = r.pos
  const tag = r.u8('SML_ProcParValue tag')
  switch (tag) {
    case PROC_PAR_TAG.value:
      return { kind: 'value', value: r.value('smlValue') }
    case PROC_PAR_TAG.periodEntry:
      return { kind: 'periodEntry', periodEntry: periodEntry(r) }
    case PROC_PAR_TAG.time:
      return { kind: 'time', time: time(r, 'smlTime') }
    case PROC_PAR_TAG.listEntry:
      return { kind: 'listEntry', listEntry: listEntry(r) }
    case PROC_PAR_TAG.tupelEntry:
      return r.fail('SML_TYPE', 'SML_TupelEntry values are not supported', at)
    default:
      return r.fail('SML_UNKNOWN_TAG', `unknown SML_ProcParValue tag ${tag}`, at)
  }
}

function optTime(r: Reader, what: string): SmlTime | undefined {
  return r.absent() ? undefined : time(r, what)
}

function time(r: Reader, what: string): SmlTime {
  const at = r.pos
  r.tl()
  if (r.type === UINT && r.len === 4) {
    // QUIRK(Holley DTZ541): SML 1.04 SML_Time is a CHOICE, i.e. a 2-element list (tag, value);
    // this meter sends a bare Unsigned32 (TL 0x65) instead. We read it as a secIndex and mark
    // it `bare` so the encoder writes it back the same way. Fixture: holley-dtz541.hex.
    if (r.strictTime) r.fail('SML_TYPE', `${what}: bare Unsigned32 instead of SML_Time (Holley DTZ541 form) in strict mode`, at)
    r.note(4)
    const v = (r.buf[r.pos]! * 0x1000000) + ((r.buf[r.pos + 1]! << 16) | (r.buf[r.pos + 2]! << 8) | r.buf[r.pos + 3]!)
    r.pos += 4
    return { kind: 'secIndex', secIndex: v, bare: true }
  }
  r.expect(LIST, what)
  if (r.len !== 2) r.fail('SML_LIST_LENGTH', `${what}: SML_Time has 2 elements, found ${r.len}`, at)
  r.note(2)
  const tagAt = r.pos
  const tag = r.u8(`${what} tag`)
  switch (tag) {
    case T_SEC_INDEX:
      return { kind: 'secIndex', secIndex: r.u32('secIndex') }
    case T_TIMESTAMP:
      return { kind: 'timestamp', timestamp: r.u32('timestamp') }
    case T_LOCAL: {
      r.list(3, 'SML_TimestampLocal')
      return { kind: 'localTimestamp', timestamp: r.u32('timestamp'), localOffset: r.i16('localOffset'), seasonTimeOffset: r.i16('seasonTimeOffset') }
    }
    default:
      return r.fail('SML_UNKNOWN_TAG', `${what}: unknown SML_Time tag ${tag}`, tagAt)
  }
}

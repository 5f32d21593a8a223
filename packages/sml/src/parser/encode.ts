import { SmlError } from '../errors.js'
import { crc16X25, swap16 } from '../transport/crc.js'
import type {
  SmlListEntry,
  SmlMessageBody,
  SmlMessageInput,
  SmlPeriodEntry,
  SmlProcParValue,
  SmlTime,
  SmlTlHint,
  SmlTree,
} from '../types.js'
import { BODY_TAGS, MAX_TREE_DEPTH, PROC_PAR_TAG, TIME_TAG } from './tags.js'
import { Writer } from './writer.js'

/**
 * Encodes messages into the bytes of one SML file body (no transport framing). Each
 * message's crc16 is computed; `tl` hints from a decoded message are honoured, so
 * encoding a decoded message reproduces its bytes.
 */
export function encodeSmlMessages(messages: readonly SmlMessageInput[]): Uint8Array {
  const w = new Writer()
  for (const m of messages) encodeMessage(w, m)
  return w.bytes().slice()
}

function encodeMessage(w: Writer, m: SmlMessageInput): void {
  const start = w.pos
  w.tok = 0
  w.hints = m.tl === undefined || m.tl.length === 0 ? undefined : hintMap(m.tl)
  w.list(6)
  w.octets(m.transactionId)
  w.u8(m.groupNo, 'groupNo')
  w.u8(m.abortOnError, 'abortOnError')
  encodeBody(w, m.body)
  // SML 1.04 SML_Message.crc16: CRC16 up to this field, low byte first.
  const crc = swap16(crc16X25(w.buf, start, w.pos))
  w.u16(crc, 'crc16')
  w.byte(0x00) // EndOfSmlMsg
}

function hintMap(hints: readonly SmlTlHint[]): Map<number, SmlTlHint> {
  const map = new Map<number, SmlTlHint>()
  for (const h of hints) map.set(h.at, h)
  return map
}

function encodeBody(w: Writer, b: SmlMessageBody): void {
  w.list(2)
  w.u32(BODY_TAGS[b.kind], 'messageBody tag')
  switch (b.kind) {
    case 'openRequest':
      w.list(7)
      w.optOctets(b.codepage)
      w.octets(b.clientId)
      w.octets(b.reqFileId)
      w.optOctets(b.serverId)
      w.optOctets(b.username)
      w.optOctets(b.password)
      w.optU8(b.smlVersion, 'smlVersion')
      return
    case 'openResponse':
      w.list(6)
      w.optOctets(b.codepage)
      w.optOctets(b.clientId)
      w.octets(b.reqFileId)
      w.octets(b.serverId)
      optTime(w, b.refTime)
      w.optU8(b.smlVersion, 'smlVersion')
      return
    case 'closeRequest':
    case 'closeResponse':
      w.list(1)
      w.optOctets(b.globalSignature)
      return
    case 'getListRequest':
      w.list(5)
      w.octets(b.clientId)
      w.optOctets(b.serverId)
      w.optOctets(b.username)
      w.optOctets(b.password)
      w.optOctets(b.listName)
      return
    case 'getListResponse':
      w.list(7)
      w.optOctets(b.clientId)
      w.octets(b.serverId)
      w.optOctets(b.listName)
      optTime(w, b.actSensorTime)
      w.list(b.valList.length)
      for (const e of b.valList) listEntry(w, e)
      w.optOctets(b.listSignature)
      optTime(w, b.actGatewayTime)
      return
    case 'getProcParameterRequest':
      w.list(5)
      w.optOctets(b.serverId)
      w.optOctets(b.username)
      w.optOctets(b.password)
      treePath(w, b.parameterTreePath)
      w.optOctets(b.attribute)
      return
    case 'getProcParameterResponse':
      w.list(3)
      w.octets(b.serverId)
      treePath(w, b.parameterTreePath)
      tree(w, b.parameterTree, 1)
      return
    case 'setProcParameterRequest':
      w.list(5)
      w.optOctets(b.serverId)
      w.optOctets(b.username)
      w.optOctets(b.password)
      treePath(w, b.parameterTreePath)
      tree(w, b.parameterTree, 1)
      return
    case 'getProfilePackRequest':
    case 'getProfileListRequest':
      w.list(9)
      w.optOctets(b.serverId)
      w.optOctets(b.username)
      w.optOctets(b.password)
      if (b.withRawdata === undefined) w.absent()
      else w.bool(b.withRawdata)
      optTime(w, b.beginTime)
      optTime(w, b.endTime)
      treePath(w, b.parameterTreePath)
      if (b.objectList === undefined) w.absent()
      else {
        w.list(b.objectList.length)
        for (const o of b.objectList) w.octets(o)
      }
      if (b.dasDetails === undefined) w.absent()
      else tree(w, b.dasDetails, 1)
      return
    case 'getProfilePackResponse':
      w.list(8)
      w.octets(b.serverId)
      time(w, b.actTime)
      w.u32(b.regPeriod, 'regPeriod')
      treePath(w, b.parameterTreePath)
      w.list(b.headerList.length)
      for (const h of b.headerList) {
        w.list(3)
        w.octets(h.objName)
        w.u8(h.unit, 'unit')
        w.i8(h.scaler, 'scaler')
      }
      w.list(b.periodList.length)
      for (const p of b.periodList) {
        w.list(4)
        time(w, p.valTime)
        w.integer(false, statusWidth(p.status.type), p.status.value, 'status', 'choice')
        w.list(p.values.length)
        for (const v of p.values) {
          w.list(2)
          w.value(v.value, 'value')
          w.optOctets(v.valueSignature)
        }
        w.optOctets(p.periodSignature)
      }
      w.octets(b.rawdata)
      w.optOctets(b.profileSignature)
      return
    case 'getProfileListResponse':
      w.list(9)
      w.octets(b.serverId)
      time(w, b.actTime)
      w.u32(b.regPeriod, 'regPeriod')
      treePath(w, b.parameterTreePath)
      time(w, b.valTime)
      w.integer(false, 8, b.status, 'status')
      w.list(b.periodList.length)
      for (const p of b.periodList) periodEntry(w, p)
      w.octets(b.rawdata)
      w.optOctets(b.periodSignature)
      return
    case 'attentionResponse':
      w.list(4)
      w.octets(b.serverId)
      w.octets(b.attentionNo)
      w.optOctets(b.attentionMsg)
      if (b.attentionDetails === undefined) w.absent()
      else tree(w, b.attentionDetails, 1)
      return
  }
}

function statusWidth(type: 'uint8' | 'uint16' | 'uint32' | 'uint64'): number {
  return type === 'uint8' ? 1 : type === 'uint16' ? 2 : type === 'uint32' ? 4 : 8
}

function listEntry(w: Writer, e: SmlListEntry): void {
  w.list(7)
  w.octets(e.objName)
  if (e.status === undefined) w.absent()
  else w.integer(false, statusWidth(e.status.type), e.status.value, 'status', 'choice')
  optTime(w, e.valTime)
  w.optU8(e.unit, 'unit')
  w.optI8(e.scaler, 'scaler')
  w.value(e.value, 'value')
  w.optOctets(e.valueSignature)
}

function periodEntry(w: Writer, p: SmlPeriodEntry): void {
  w.list(5)
  w.octets(p.objName)
  w.u8(p.unit, 'unit')
  w.i8(p.scaler, 'scaler')
  w.value(p.value, 'value')
  w.optOctets(p.valueSignature)
}

function treePath(w: Writer, path: readonly Uint8Array[]): void {
  w.list(path.length)
  for (const p of path) w.octets(p)
}

function tree(w: Writer, t: SmlTree, depth: number): void {
  if (depth > MAX_TREE_DEPTH) throw new SmlError('SML_DEPTH', `SML_Tree nested deeper than ${MAX_TREE_DEPTH}`)
  w.list(3)
  w.octets(t.parameterName)
  if (t.parameterValue === undefined) w.absent()
  else procParValue(w, t.parameterValue)
  if (t.children === undefined) w.absent()
  else {
    w.list(t.children.length)
    for (const c of t.children) tree(w, c, depth + 1)
  }
}

function procParValue(w: Writer, v: SmlProcParValue): void {
  w.list(2)
  switch (v.kind) {
    case 'value':
      w.u8(PROC_PAR_TAG.value, 'tag')
      w.value(v.value, 'smlValue')
      return
    case 'periodEntry':
      w.u8(PROC_PAR_TAG.periodEntry, 'tag')
      periodEntry(w, v.periodEntry)
      return
    case 'time':
      w.u8(PROC_PAR_TAG.time, 'tag')
      time(w, v.time)
      return
    case 'listEntry':
      w.u8(PROC_PAR_TAG.listEntry, 'tag')
      listEntry(w, v.listEntry)
      return
  }
}

function optTime(w: Writer, t: SmlTime | undefined): void {
  if (t === undefined) w.absent()
  else time(w, t)
}

function time(w: Writer, t: SmlTime): void {
  switch (t.kind) {
    case 'secIndex':
      // QUIRK(Holley DTZ541): written back as the bare Unsigned32 the meter sent (see parser/decode.ts).
      if (t.bare === true) {
        w.integer(false, 4, t.secIndex, 'secIndex', 'exact')
        return
      }
      w.list(2)
      w.u8(TIME_TAG.secIndex, 'tag')
      w.u32(t.secIndex, 'secIndex')
      return
    case 'timestamp':
      w.list(2)
      w.u8(TIME_TAG.timestamp, 'tag')
      w.u32(t.timestamp, 'timestamp')
      return
    case 'localTimestamp':
      w.list(2)
      w.u8(TIME_TAG.localTimestamp, 'tag')
      w.list(3)
      w.u32(t.timestamp, 'timestamp')
      w.i16(t.localOffset, 'localOffset')
      w.i16(t.seasonTimeOffset, 'seasonTimeOffset')
      return
  }
}

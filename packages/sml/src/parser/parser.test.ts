import { describe, expect, it } from 'vitest'
import { SmlError } from '../errors.js'
import type { SmlErrorCode } from '../errors.js'
import { crc16X25, swap16 } from '../transport/crc.js'
import type { SmlMessage, SmlMessageInput } from '../types.js'
import { decodeSmlMessages } from './decode.js'
import { encodeSmlMessages } from './encode.js'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s|#[^\n]*/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** Wraps body bytes into a message with a correct crc16 (2-byte canonical form). */
function message(body: string, head = '76 01 6200 6200'): Uint8Array {
  const pre = hex(head + body)
  const crc = swap16(crc16X25(pre))
  return Uint8Array.from([...pre, 0x63, crc >> 8, crc & 0xff, 0x00])
}

function errorOf(f: () => unknown): SmlError {
  try {
    f()
  } catch (err) {
    if (err instanceof SmlError) return err
    throw err
  }
  throw new Error('no error')
}

const codeOf = (f: () => unknown): SmlErrorCode => errorOf(f).code

describe('decodeSmlMessages', () => {
  it('decodes a CloseResponse with the crc verified', () => {
    const bytes = message('72 65 00000201 71 01')
    const [m] = decodeSmlMessages(bytes)
    expect(m).toEqual({ transactionId: new Uint8Array(0), groupNo: 0, abortOnError: 0, body: { kind: 'closeResponse' }, crc16: expect.any(Number) })
    expect(toHex(encodeSmlMessages([m!]))).toBe(toHex(bytes))
  })

  it('decodes a GetListResponse entry: status, valTime, unit, scaler, value', () => {
    const bytes = message(`
      72 65 00000701
      77 01 03 aabb 01 01
        71
          77 07 0100010800ff   # objName 1-0:1.8.0*255
             65 00000182      # status Unsigned32
             72 62 01 65 00000010  # valTime secIndex 16
             62 1e             # unit Wh
             52 ff             # scaler -1
             59 ffffffffffffff85  # value Integer64 -123
             01
        01 01`)
    const [m] = decodeSmlMessages(bytes)
    expect(m?.body).toEqual({
      kind: 'getListResponse',
      serverId: hex('aabb'),
      valList: [{
        objName: hex('0100010800ff'), status: { type: 'uint32', value: 0x182 }, valTime: { kind: 'secIndex', secIndex: 16 },
        unit: 30, scaler: -1, value: { type: 'int64', value: -123 },
      }],
    })
    expect(m?.tl).toBeUndefined()
  })

  it('reads shortened integers, keeps their width as a hint, and re-encodes them byte-exact', () => {
    // tag as Unsigned16 (63 0101), status as 3 bytes (64), Integer64 value sent in 5 bytes (56).
    const bytes = message('72 63 0701 77 01 02aa 01 01 71 77 07 0100010800ff 64 008001 01 01 01 56 ff00000001 01 01 01')
    const [m] = decodeSmlMessages(bytes)
    const entry = m?.body.kind === 'getListResponse' ? m.body.valList[0] : undefined
    expect(entry?.status).toEqual({ type: 'uint32', value: 0x8001 })
    expect(entry?.value).toEqual({ type: 'int64', value: -(2 ** 32) + 1 })
    expect(m?.tl).toEqual([{ at: 5, size: 1, len: 2 }, { at: 14, size: 1, len: 3 }, { at: 18, size: 1, len: 5 }])
    expect(toHex(encodeSmlMessages([m!]))).toBe(toHex(bytes))
  })

  it('reads multi-byte TL fields (a list of 21, an octet string of 48) and non-minimal ones', () => {
    const sig = '5a'.repeat(48)
    const bytes = message(`72 65 00000201 71 8302 ${sig}`)
    const [m] = decodeSmlMessages(bytes)
    expect(m?.body).toEqual({ kind: 'closeResponse', globalSignature: hex(sig) })
    expect(m?.tl).toBeUndefined()
    // The same 3-byte signature with a 2-byte TL (0x80 0x05): kept as a hint.
    const padded = message('72 65 00000201 71 8005 aabbcc')
    const [p] = decodeSmlMessages(padded)
    expect(p?.tl).toEqual([{ at: 7, size: 2, len: 3 }])
    expect(toHex(encodeSmlMessages([p!]))).toBe(toHex(padded))
  })

  it('reads Unsigned64 beyond 2^53 as bigint without precision loss', () => {
    const bytes = message('72 65 00000701 77 01 01 01 01 71 77 01 01 01 01 01 69 ffffffffffffffff 01 01 01')
    const [m] = decodeSmlMessages(bytes)
    const v = m?.body.kind === 'getListResponse' ? m.body.valList[0]?.value : undefined
    expect(v).toEqual({ type: 'uint64', value: 0xffff_ffff_ffff_ffffn })
    expect(toHex(encodeSmlMessages([m!]))).toBe(toHex(bytes))
  })

  it('reads all SML_Time forms, and the Holley DTZ541 bare Unsigned32 unless strictTime', () => {
    const body = (t: string): Uint8Array => message(`72 65 00000101 76 01 01 02aa 02bb ${t} 01`)
    const time = (t: string): unknown => {
      const [m] = decodeSmlMessages(body(t))
      return m?.body.kind === 'openResponse' ? m.body.refTime : undefined
    }
    expect(time('72 62 01 65 00000005')).toEqual({ kind: 'secIndex', secIndex: 5 })
    expect(time('72 62 02 65 5f5e1000')).toEqual({ kind: 'timestamp', timestamp: 0x5f5e1000 })
    expect(time('72 62 03 73 65 5f5e1000 53 003c 53 ffc4')).toEqual({ kind: 'localTimestamp', timestamp: 0x5f5e1000, localOffset: 60, seasonTimeOffset: -60 })
    expect(time('65 00148e03')).toEqual({ kind: 'secIndex', secIndex: 0x148e03, bare: true })
    expect(codeOf(() => decodeSmlMessages(body('65 00148e03'), { strictTime: true }))).toBe('SML_TYPE')
    expect(codeOf(() => decodeSmlMessages(body('72 62 07 65 00000005')))).toBe('SML_UNKNOWN_TAG')
  })

  it('decodes several messages in a row', () => {
    const one = message('72 65 00000201 71 01')
    const two = message('72 65 00000200 71 01')
    expect(decodeSmlMessages(Uint8Array.from([...one, ...two])).map((m) => m.body.kind)).toEqual(['closeResponse', 'closeRequest'])
  })

  it('SML_MESSAGE_CRC: carries expected and found values', () => {
    const bytes = message('72 65 00000201 71 01')
    bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 0xff
    const e = errorOf(() => decodeSmlMessages(bytes))
    expect(e.code).toBe('SML_MESSAGE_CRC')
    expect(e.found).not.toBe(e.expected)
    expect(e.expected).toBe(swap16(crc16X25(bytes, 0, bytes.length - 4)))
  })

  it('SML_TRUNCATED: the bytes end inside a message', () => {
    const bytes = message('72 65 00000201 71 01')
    for (let n = 1; n < bytes.length; n++) expect(codeOf(() => decodeSmlMessages(bytes.subarray(0, n)))).toBe('SML_TRUNCATED')
  })

  it('SML_TL: malformed type-length fields', () => {
    expect(codeOf(() => decodeSmlMessages(hex('76 10')))).toBe('SML_TL') // type bits 001
    expect(codeOf(() => decodeSmlMessages(hex('76 00')))).toBe('SML_TL') // length 0 < TL size
    expect(codeOf(() => decodeSmlMessages(hex('76 81 72')))).toBe('SML_TL') // continuation byte with type bits
  })

  it('SML_TYPE: a field of the wrong type or size', () => {
    expect(codeOf(() => decodeSmlMessages(message('', '76 62 00')))).toBe('SML_TYPE') // transactionId is not an octet string
    expect(codeOf(() => decodeSmlMessages(message('72 65 00000201 71 01', '76 01 630100 6200')))).toBe('SML_TYPE') // groupNo 256
    expect(codeOf(() => decodeSmlMessages(message('72 65 00000701 77 01 01 01 01 71 77 01 01 01 01 01 72 6201 6201 01 01 01')))).toBe('SML_TYPE') // SML_ListType value
  })

  it('SML_LIST_LENGTH: a sequence with the wrong element count', () => {
    expect(codeOf(() => decodeSmlMessages(message('72 65 00000201 72 01 01')))).toBe('SML_LIST_LENGTH')
  })

  it('SML_UNKNOWN_TAG: an unknown message body', () => {
    const e = errorOf(() => decodeSmlMessages(message('72 65 00000999 71 01')))
    expect(e.code).toBe('SML_UNKNOWN_TAG')
    expect(e.message).toContain('00000999')
  })

  it('SML_END: a message that does not end with 0x00', () => {
    const bytes = message('72 65 00000201 71 01')
    bytes[bytes.length - 1] = 0x01
    expect(codeOf(() => decodeSmlMessages(bytes))).toBe('SML_END')
  })

  it('SML_DEPTH: an SML_Tree nested too deep, on decode and encode', () => {
    let tree = '73 01 01 01'
    for (let i = 0; i < 40; i++) tree = `73 01 01 71 ${tree}`
    expect(codeOf(() => decodeSmlMessages(message(`72 65 00000501 73 01 70 ${tree}`)))).toBe('SML_DEPTH')
    type T = { parameterName: Uint8Array; children?: T[] }
    let t: T = { parameterName: new Uint8Array(0) }
    for (let i = 0; i < 40; i++) t = { parameterName: new Uint8Array(0), children: [t] }
    const m: SmlMessageInput = { transactionId: new Uint8Array(0), groupNo: 0, abortOnError: 0, body: { kind: 'getProcParameterResponse', serverId: new Uint8Array(0), parameterTreePath: [], parameterTree: t } }
    expect(codeOf(() => encodeSmlMessages([m]))).toBe('SML_DEPTH')
  })

  it('SML_RANGE: the encoder refuses values its type cannot hold', () => {
    const m = (value: number): SmlMessageInput => ({ transactionId: new Uint8Array(0), groupNo: value, abortOnError: 0, body: { kind: 'closeResponse' } })
    expect(codeOf(() => encodeSmlMessages([m(256)]))).toBe('SML_RANGE')
    expect(codeOf(() => encodeSmlMessages([m(-1)]))).toBe('SML_RANGE')
    expect(codeOf(() => encodeSmlMessages([m(1.5)]))).toBe('SML_RANGE')
  })

  it('the encoder ignores a given crc16 and computes it', () => {
    const m: SmlMessageInput = { transactionId: hex('01'), groupNo: 0, abortOnError: 0, body: { kind: 'closeResponse' }, crc16: 1 }
    const [d] = decodeSmlMessages(encodeSmlMessages([m]))
    expect((d as SmlMessage).crc16).not.toBe(1)
  })
})

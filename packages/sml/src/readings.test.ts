import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { arbHints, arbListEntry, arbTime } from './parser/arbitraries.js'
import { decodeSmlMessages } from './parser/decode.js'
import { encodeSmlMessages } from './parser/encode.js'
import { extractReadings, scale, valueLengths } from './readings.js'
import type { SmlFile, SmlGetListResponse, SmlListEntry, SmlValue } from './types.js'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))

function fileWith(entries: SmlListEntry[]): SmlFile {
  return {
    messages: [
      { transactionId: hex('01'), groupNo: 0, abortOnError: 0, crc16: 0, body: { kind: 'openResponse', reqFileId: hex('01'), serverId: hex('0a01') } },
      { transactionId: hex('02'), groupNo: 0, abortOnError: 0, crc16: 0, body: { kind: 'getListResponse', serverId: hex('0a01aabb'), valList: entries } },
    ],
  }
}

const power = (value: SmlValue): SmlListEntry => ({ objName: hex('0100100700ff'), unit: 27, scaler: -2, value })

describe('extractReadings', () => {
  it('formats OBIS, scales values, maps units, keeps status, time and signature', () => {
    const [r] = extractReadings(fileWith([{
      objName: hex('0100010800ff'), status: { type: 'uint16', value: 0x182 }, valTime: { kind: 'secIndex', secIndex: 9 },
      unit: 30, scaler: -1, value: { type: 'int64', value: 12_345 }, valueSignature: hex('abcd'),
    }]), { names: true })
    expect(r).toEqual({
      obis: '1-0:1.8.0*255', name: 'active energy import (+A) total', value: 1234.5, unit: 'Wh', unitCode: 30, scaler: -1,
      raw: { type: 'int64', value: 12_345 }, status: 0x182, valTime: { kind: 'secIndex', secIndex: 9 }, signature: 'abcd', serverId: '0a01aabb',
    })
  })

  it('renders octet strings as hex with printable text, booleans as booleans, odd objNames as hex', () => {
    const rs = extractReadings(fileWith([
      { objName: hex('8181c78203ff'), value: { type: 'bytes', value: new TextEncoder().encode('EMH') } },
      { objName: hex('0100600100ff'), value: { type: 'bytes', value: hex('0a01') } },
      { objName: hex('0102'), value: { type: 'bool', value: true }, unit: 200 },
    ]))
    expect(rs.map((r) => [r.obis, r.value, r.text, r.unit])).toEqual([
      ['129-129:199.130.3*255', '454d48', 'EMH', undefined],
      ['1-0:96.1.0*255', '0a01', undefined, undefined],
      ['0102', true, undefined, '200'],
    ])
  })

  it('keeps integer precision: bigint for large positive scalers and raw values', () => {
    expect(scale(2 ** 53, 0)).toBe(2 ** 53)
    expect(scale(123, 3)).toBe(123_000)
    expect(scale(2 ** 52, 2)).toBe(BigInt(2 ** 52) * 100n)
    expect(scale(0xffff_ffff_ffff_ffffn, 1)).toBe(0xffff_ffff_ffff_ffffn * 10n)
    expect(scale(12_345n, -1)).toBe(1234.5)
    expect(scale(-105, -1)).toBe(-10.5)
  })

  it('reads an Unsigned power value as is without the quirk', () => {
    const [r] = extractReadings(fileWith([power({ type: 'uint32', value: 0xffff_d8f0 })]))
    expect(r?.value).toBe(42_949_572.96)
    expect(r?.quirks).toBeUndefined()
  })

  it('quirk unsignedNegativePower: two\'s complement for active power sent Unsigned', () => {
    const quirks = { unsignedNegativePower: true }
    const [r] = extractReadings(fileWith([power({ type: 'uint32', value: 0xffff_d8f0 })]), { quirks })
    expect(r?.value).toBe(-100)
    expect(r?.raw).toEqual({ type: 'uint32', value: 0xffff_d8f0 })
    expect(r?.quirks).toEqual(['unsignedNegativePower'])
    const [big] = extractReadings(fileWith([power({ type: 'uint64', value: 0xffff_ffff_ffff_fff6n })]), { quirks })
    expect(big?.value).toBe(-0.1)
    // Positive values, signed values and other registers are left alone.
    const rest = extractReadings(fileWith([
      power({ type: 'uint32', value: 500 }),
      power({ type: 'int32', value: -500 }),
      { objName: hex('0100010800ff'), scaler: 0, value: { type: 'uint32', value: 0xffff_ffff } },
    ]), { quirks })
    expect(rest.map((x) => [x.value, x.quirks])).toEqual([[5, undefined], [-5, undefined], [0xffff_ffff, undefined]])
  })

  it('ignores messages other than GetListResponse', () => {
    expect(extractReadings({ messages: fileWith([]).messages.slice(0, 1) })).toEqual([])
  })
})

describe('valueLengths (the field index arithmetic behind the power quirks)', () => {
  interface Node { type: number; len: number; children: Node[] }
  /** A generic TL tree walker: an oracle independent of the message schema. */
  function walk(b: Uint8Array, pos: { p: number }): Node {
    let x = b[pos.p++]!
    if (x === 0) return { type: -1, len: 0, children: [] } // EndOfSmlMsg
    const type = (x >> 4) & 7
    let len = x & 15
    let size = 1
    while (x & 0x80) {
      x = b[pos.p++]!
      len = len * 16 + (x & 15)
      size++
    }
    if (type === 7) {
      const children: Node[] = []
      for (let i = 0; i < len; i++) children.push(walk(b, pos))
      return { type, len, children }
    }
    pos.p += len - size
    return { type, len: len - size, children: [] }
  }

  it('finds the encoded length of every list entry value, whatever the hints', () => {
    fc.assert(fc.property(
      fc.record({ actSensorTime: fc.option(arbTime, { nil: undefined }), valList: fc.array(arbListEntry, { maxLength: 6 }) }),
      arbHints,
      ({ actSensorTime, valList }, tl) => {
        const body: SmlGetListResponse = { kind: 'getListResponse', serverId: hex('aa'), valList, ...(actSensorTime === undefined ? {} : { actSensorTime }) }
        const bytes = encodeSmlMessages([{ transactionId: hex('01'), groupNo: 0, abortOnError: 0, body, tl }])
        const [m] = decodeSmlMessages(bytes)
        const tree = walk(bytes, { p: 0 })
        const entries = tree.children[3]!.children[1]!.children[4]!.children
        expect(valueLengths(m!.tl, m!.body as SmlGetListResponse)).toEqual(entries.map((e) => e.children[5]!.len))
      },
    ))
  })
})

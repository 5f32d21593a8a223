import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MbusError } from '../errors.js'
import type { DataRecordInput } from '../records/types.js'
import { decodeWiredTelegram, encodeWiredTelegram } from './wired.js'
import { encodeWiredFrame } from '../wired/frame.js'
import { decodeWirelessTelegram, encodeWirelessTelegram, type WirelessTelegramInput } from './wireless.js'

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))

const arbId = fc.integer({ min: 0, max: 99999999 }).map((n) => String(n).padStart(8, '0'))
const arbAddress = fc.record({
  manufacturer: fc.stringMatching(/^[A-Z]{3}$/),
  id: arbId,
  version: fc.integer({ min: 0, max: 255 }),
  deviceType: fc.constantFrom(0x02, 0x03, 0x04, 0x06, 0x07, 0x08, 0x16, 0x37),
})
const arbRecords: fc.Arbitrary<DataRecordInput[]> = fc.array(
  fc.oneof(
    fc.record({ coding: fc.constant('int32' as const), vif: fc.constant(h('13')), raw: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), storage: fc.integer({ min: 0, max: 30 }) }),
    fc.record({ coding: fc.constant('bcd8' as const), vif: fc.constant(h('06')), raw: fc.integer({ min: 0, max: 99999999 }), tariff: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ coding: fc.constant('int16' as const), vif: fc.constant(h('6c')), raw: fc.integer({ min: 0, max: 0xffff }) }),
    fc.record({ coding: fc.constant('int16' as const), vif: fc.constant(h('fd17')), raw: fc.integer({ min: 0, max: 0xffff }) }),
    fc.record({ coding: fc.constant('int16' as const), vif: fc.constant(h('5b')), raw: fc.integer({ min: -32768, max: 32767 }) }),
  ),
  { maxLength: 8 },
)

const arbTelegram: fc.Arbitrary<WirelessTelegramInput> = fc
  .record({
    address: arbAddress,
    meter: arbAddress,
    kind: fc.constantFrom('short' as const, 'long' as const),
    mode: fc.constantFrom(0 as const, 5 as const, 7 as const),
    accessNumber: fc.integer({ min: 0, max: 255 }),
    status: fc.integer({ min: 0, max: 255 }),
    crc: fc.constantFrom(undefined, 'A' as const, 'B' as const),
    ell: fc.constantFrom('none', 'short', 'ctr'),
    key: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    messageCounter: fc.integer({ min: 0, max: 0xffffffff }),
    records: arbRecords,
  })
  .map((a) => ({
    address: a.address,
    ...(a.crc ? { crc: a.crc } : {}),
    ...(a.ell === 'none' ? {} : { ell: { accessNumber: a.accessNumber, ...(a.ell === 'ctr' ? { encrypt: true, sessionNumber: a.messageCounter & 0x1fffffff } : {}) } }),
    tpl: { kind: a.kind, accessNumber: a.accessNumber, status: a.status, ...(a.kind === 'long' ? { address: a.meter } : {}) },
    security: a.mode === 7 ? { mode: 7, messageCounter: a.messageCounter } : { mode: a.mode },
    records: a.records,
    key: a.key,
  }))

describe('wireless telegrams: encode ⇄ decode', () => {
  it('telegram → bytes → telegram, with random keys, access numbers, modes 0/5/7, ELL, CRCs', () => {
    fc.assert(
      fc.property(arbTelegram, (input) => {
        const bytes = encodeWirelessTelegram(input)
        const t = decodeWirelessTelegram(bytes, { key: input.key! })
        const meter = input.tpl.kind === 'long' ? input.tpl.address! : input.address
        expect([t.meter.manufacturer, t.meter.id, t.meter.version, t.meter.deviceType.code]).toEqual([meter.manufacturer, meter.id, meter.version, meter.deviceType])
        expect(t.link.address.id).toBe(input.address.id)
        expect(t.accessNumber).toBe(input.tpl.accessNumber)
        expect(t.status).toBe(input.tpl.status)
        expect(t.securityMode).toBe(input.security!.mode)
        expect(t.link.crcPresent).toBe(input.crc !== undefined)
        expect(t.records.map((r) => ({ coding: r.coding, vif: r.vif, raw: r.raw, storage: r.storage, tariff: r.tariff }))).toEqual(
          input.records!.map((r) => ({ coding: r.coding, vif: r.vif, raw: r.raw, storage: r.storage ?? 0, tariff: r.tariff ?? 0 })),
        )
        if (input.security!.mode !== 0) {
          expect(() => decodeWirelessTelegram(bytes)).toThrow(expect.objectContaining({ code: 'MISSING_KEY' }) as Error)
          const other = (input.key as Uint8Array).slice()
          other[5] = other[5]! ^ 0x40
          expect(() => decodeWirelessTelegram(bytes, { key: other })).toThrow(expect.objectContaining({ code: input.ell?.encrypt !== true && input.security!.mode === 7 ? 'MAC_MISMATCH' : 'DECRYPT_FAILED' }) as Error)
        }
      }),
      { numRuns: 400 },
    )
  })

  it('keys looked up by meter address', () => {
    const key = h('000102030405060708090a0b0c0d0e0f')
    const bytes = encodeWirelessTelegram({
      address: { manufacturer: 'RAD', id: '11223344', version: 3, deviceType: 0x37 },
      tpl: { kind: 'long', address: { manufacturer: 'ELS', id: '12345678', version: 0x33, deviceType: 3 }, accessNumber: 9 },
      security: { mode: 5 },
      records: [{ coding: 'bcd8', vif: h('14'), raw: 2850427 }],
      key,
    })
    const seen: string[] = []
    const t = decodeWirelessTelegram(bytes, { key: (m) => (seen.push(m.id), m.id === '12345678' ? key : undefined) })
    expect(seen).toEqual(['12345678'])
    expect(t.records[0]!.value).toBe(28504.27)
  })

  it('wired: telegram → bytes → telegram (mode 0 and 5)', () => {
    fc.assert(
      fc.property(arbAddress, fc.integer({ min: 0, max: 255 }), fc.boolean(), fc.uint8Array({ minLength: 16, maxLength: 16 }), arbRecords, (meter, acc, encrypt, key, records) => {
        const bytes = encodeWiredTelegram({ tpl: { kind: 'long', address: meter, accessNumber: acc }, security: { mode: encrypt ? 5 : 0 }, records, key })
        const t = decodeWiredTelegram(bytes, { key })
        expect(t.meter?.id).toBe(meter.id)
        expect(t.accessNumber).toBe(acc)
        expect(t.securityMode).toBe(encrypt ? 5 : 0)
        expect(t.records.map((r) => r.raw)).toEqual(records.map((r) => r.raw))
      }),
      { numRuns: 200 },
    )
  })
})

describe('wireless telegrams: hostile input', () => {
  const key = h('000102030405060708090a0b0c0d0e0f')
  const decodeOrMbusError = (bytes: Uint8Array): void => {
    try {
      decodeWirelessTelegram(bytes, { key })
    } catch (err) {
      if (!(err instanceof MbusError)) throw err
    }
  }

  it('random bytes give only MbusError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), decodeOrMbusError), { numRuns: 5000 })
  })

  it('random bytes behind a plausible header give only MbusError', () => {
    fc.assert(
      fc.property(fc.constantFrom(0x72, 0x7a, 0x78, 0x8c, 0x8d, 0x8e, 0x8f, 0x90), fc.uint8Array({ maxLength: 200 }), (ci, rest) => {
        const frame = new Uint8Array(11 + rest.length)
        frame.set(h('00 44 9315 78563412 33 03'), 0)
        frame[0] = frame.length - 1
        frame[10] = ci
        frame.set(rest, 11)
        decodeOrMbusError(frame)
        wiredOrMbusError(h('68'), frame)
      }),
      { numRuns: 5000 },
    )
  })

  it('mutated valid telegrams give a decode or an MbusError, never another exception', () => {
    fc.assert(
      fc.property(arbTelegram, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat({ max: 3 }), (input, edits, cut) => {
        const bytes = encodeWirelessTelegram(input).slice()
        for (const [at, value] of edits) bytes[at % bytes.length] = value
        const t = bytes.subarray(0, Math.max(0, bytes.length - cut))
        try {
          decodeWirelessTelegram(t, { key: input.key! })
        } catch (err) {
          expect(err).toBeInstanceOf(MbusError)
        }
      }),
      { numRuns: 2000 },
    )
  })
})

describe('wired telegrams: hostile input', () => {
  it('random bytes, and random long frames with a valid checksum, give only MbusError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => { wiredOrMbusError(new Uint8Array(0), bytes) }), { numRuns: 3000 })
    fc.assert(
      fc.property(fc.constantFrom(0x72, 0x7a, 0x78, 0x79), fc.uint8Array({ maxLength: 200 }), (ci, rest) => {
        const payload = new Uint8Array(rest.length + 1)
        payload[0] = ci
        payload.set(rest, 1)
        wiredOrMbusError(new Uint8Array(0), encodeWiredFrame({ kind: 'long', control: 8, address: 0xfd, ci, payload }))
      }),
      { numRuns: 5000 },
    )
  })
})

function wiredOrMbusError(prefix: Uint8Array, rest: Uint8Array): void {
  const frame = new Uint8Array(prefix.length + rest.length)
  frame.set(prefix)
  frame.set(rest, prefix.length)
  try {
    decodeWiredTelegram(frame)
  } catch (err) {
    if (!(err instanceof MbusError)) throw err
  }
}

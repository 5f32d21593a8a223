import { describe, expect, it } from 'vitest'
import { MbusError, isMbusError, type MbusErrorCode } from './errors.js'
import { aesCmac } from './lib/cmac.js'
import { encodeWirelessLink } from './link/wireless.js'
import { decodeDataRecords } from './records/decode.js'
import { encodeDataRecords } from './records/encode.js'
import { decodeWiredTelegram } from './telegram/wired.js'
import { decodeWirelessTelegram, encodeWirelessTelegram } from './telegram/wireless.js'

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const KEY = h('000102030405060708090a0b0c0d0e0f')
const address = { manufacturer: 'ELS', id: '12345678', version: 0x33, deviceType: 3 }
const frame = (payload: string): Uint8Array => encodeWirelessLink({ address, payload: h(payload) })
const mode5 = encodeWirelessTelegram({ address, tpl: { kind: 'short', accessNumber: 1 }, security: { mode: 5 }, records: [{ coding: 'int32', vif: h('13'), raw: 5 }], key: KEY })
const mode7 = encodeWirelessTelegram({ address, ell: { accessNumber: 1 }, tpl: { kind: 'short', accessNumber: 1 }, security: { mode: 7, messageCounter: 7 }, records: [{ coding: 'int32', vif: h('13'), raw: 5 }], key: KEY })

/** One trigger per code; typed as a Record so a new code without a test fails the type check. */
const TRIGGERS: Record<MbusErrorCode, () => unknown> = {
  MBUS_TRUNCATED: () => decodeWirelessTelegram(mode5.subarray(0, mode5.length - 1), { crc: 'absent' }),
  MBUS_CRC: () => {
    const bytes = encodeWirelessLink({ address, payload: h('78 0413 05000000'), crc: 'A' }).slice()
    bytes[12] = bytes[12]! ^ 1
    return decodeWirelessTelegram(bytes)
  },
  MBUS_CHECKSUM: () => decodeWiredTelegram(h('6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008816')),
  MBUS_FRAME: () => decodeWiredTelegram(h('6820216808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916')),
  MBUS_CI_UNSUPPORTED: () => decodeWirelessTelegram(frame('79 0102 030405')),
  // Security mode 13 (TLS) in the configuration field.
  MBUS_SECURITY_UNSUPPORTED: () => decodeWirelessTelegram(frame('7A 01 00 00 0D 2F2F'), { key: KEY }),
  // AFL with "more fragments" set.
  MBUS_FRAGMENTED: () => decodeWirelessTelegram(frame('90 02 00 40 7A 01 00 00 00')),
  MBUS_DIF: () => decodeDataRecords(h('3F')),
  MBUS_VIF: () => decodeDataRecords(h('01 6F 00')),
  MBUS_KEY_LENGTH: () => decodeWirelessTelegram(mode5, { key: KEY.subarray(0, 15) }),
  MBUS_ENCODE: () => encodeDataRecords([{ coding: 'int8', vif: h('13'), raw: 1000 }]),
  MISSING_KEY: () => decodeWirelessTelegram(mode5),
  DECRYPT_FAILED: () => decodeWirelessTelegram(mode5, { key: h('ff0102030405060708090a0b0c0d0e0f') }),
  MAC_MISMATCH: () => decodeWirelessTelegram(mode7, { key: h('ff0102030405060708090a0b0c0d0e0f') }),
  // A security module's key that fails (here: its session closed).
  KEY_OPERATION_FAILED: () => decodeWirelessTelegram(mode5, { key: { cbcEncrypt: fail, cbcDecrypt: fail, ctr: fail, cmac: fail } }),
}

function fail(): never {
  throw new Error('the security module is closed')
}

describe('MbusError codes: one trigger each', () => {
  for (const [code, trigger] of Object.entries(TRIGGERS) as [MbusErrorCode, () => unknown][]) {
    it(code, () => {
      let caught: unknown
      try {
        trigger()
      } catch (err) {
        caught = err
      }
      expect(caught).toBeInstanceOf(MbusError)
      expect((caught as MbusError).code).toBe(code)
      expect(isMbusError(caught, code)).toBe(true)
      expect((caught as MbusError).name).toBe('MbusError')
    })
  }

  it('the mode 5 and mode 7 triggers decode with the right key', () => {
    expect(decodeWirelessTelegram(mode5, { key: KEY }).records[0]!.raw).toBe(5)
    expect(decodeWirelessTelegram(mode7, { key: KEY }).records[0]!.raw).toBe(5)
    expect(() => aesCmac(KEY.subarray(1), new Uint8Array(0))).toThrow(MbusError)
  })
})

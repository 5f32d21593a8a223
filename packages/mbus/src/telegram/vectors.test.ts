import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { MbusError } from '../errors.js'
import { deriveKdfA } from '../tpl/kdf.js'
import { decodeWiredTelegram } from './wired.js'
import { decodeWirelessTelegram, encodeWirelessTelegram } from './wireless.js'
import { decodeDataRecords } from '../records/decode.js'

const file = new URL('../../../../../shared/vectors/oms/vectors.json', import.meta.url)
const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase()

interface ExpectedRecord { storageNo: number; value: number | string; description: string }
interface Vector {
  name: string
  mode: number | string
  key?: string
  telegram_hex?: string
  telegram_hex_with_crc?: string
  wired?: boolean
  plaintext_hex?: string
  kenc?: string
  kmac?: string
  kdf_input?: { counter_le: string; id_le: string }
  expected?: { records?: ExpectedRecord[]; device?: { Id: string; Manufacturer: string; AccessNumber: number; Version: number; Status: number } }
  parsed_header?: { tpl?: { mode: number; ci: number } }
  negative_variant?: { telegram_hex: string }
  quirk?: string
}

/** Expected values as the vectors print them → our canonical form ("2008-05-31 23:50" → "2008-05-31T23:50"). */
function canonical(value: number | string): number | string {
  return typeof value === 'string' ? value.replace(' ', 'T') : value
}

describe.skipIf(!existsSync(file))('OMS / CEN example vectors (shared/vectors/oms/vectors.json)', () => {
  const vectors = JSON.parse(readFileSync(file, 'utf8')) as Vector[]

  it('has the 12 examples this suite expects', () => {
    expect(vectors).toHaveLength(12)
  })

  const telegrams = vectors.filter((v) => v.telegram_hex !== undefined && v.quirk === undefined && v.mode !== 'ELL-AES-128-CTR')
  for (const v of telegrams) {
    const forms = [['without CRCs', v.telegram_hex!], ...(v.telegram_hex_with_crc ? [['with CRCs', v.telegram_hex_with_crc]] : [])] as const
    for (const [form, telegram] of forms) {
      it(`${v.name} (${form})`, () => {
        const key = v.key ? h(v.key) : undefined
        const t = v.wired === true ? decodeWiredTelegram(h(telegram), { ...(key ? { key } : {}) }) : decodeWirelessTelegram(h(telegram), { ...(key ? { key } : {}) })
        if (v.plaintext_hex) expect(hex(t.apdu!)).toBe(v.plaintext_hex)
        const device = v.expected?.device
        if (device) {
          expect(t.meter?.id).toBe(device.Id)
          expect(t.meter?.manufacturer).toBe(device.Manufacturer)
          expect(t.meter?.version).toBe(device.Version)
          expect(t.accessNumber).toBe(device.AccessNumber)
          expect(t.status).toBe(device.Status)
        }
        if (typeof v.mode === 'number') expect(t.securityMode).toBe(v.mode)
        const expected = v.expected?.records
        if (expected) {
          expect(t.records.map((r) => [r.storage, r.value])).toEqual(expected.map((r) => [r.storageNo, canonical(r.value)]))
        }
        if (key && v.wired !== true) {
          // Without the key: a typed error, never records.
          expect(() => decodeWirelessTelegram(h(telegram))).toThrow(expect.objectContaining({ code: 'MISSING_KEY' }) as Error)
        }
      })
    }
    if (v.negative_variant) {
      it(`${v.name}: one flipped MAC bit gives MAC_MISMATCH`, () => {
        expect(() => decodeWirelessTelegram(h(v.negative_variant!.telegram_hex), { key: h(v.key!) })).toThrow(expect.objectContaining({ code: 'MAC_MISMATCH' }) as Error)
      })
    }
  }

  it('Kamstrup ELL AES-CTR: the records behind CI 78h', () => {
    const v = vectors.find((x) => x.mode === 'ELL-AES-128-CTR')!
    const t = decodeWirelessTelegram(h(v.telegram_hex!), { key: h(v.key!) })
    expect(t.ell?.encryption).toBe('aes-128-ctr')
    // The vector's plaintext starts with the CI-field 78h (no TPL header); apdu is what follows it.
    expect('78' + hex(t.apdu)).toBe(v.plaintext_hex)
    expect([t.meter.manufacturer, t.meter.id, t.meter.version]).toEqual(['KAM', '63452869', 27])
    // CI 78h has no access number; ours comes from the ELL (50h), the vector's decoder reports 0.
    expect(t.accessNumber).toBe(0x50)
    expect(t.meter.deviceType).toEqual({ code: 0x16, name: 'cold water' })
    expect(t.records.map((r) => [r.quantity, r.storage, r.value])).toEqual([['manufacturer_specific', 0, 0], ['volume', 0, 474.24], ['volume', 1, 473.247]])
    const wrong = h(v.key!)
    wrong[0] = wrong[0]! ^ 1
    expect(() => decodeWirelessTelegram(h(v.telegram_hex!), { key: wrong })).toThrow(expect.objectContaining({ code: 'DECRYPT_FAILED' }) as Error)
  })

  it('AMB long header: IV from the TPL header, text record', () => {
    const v = vectors.find((x) => x.name.startsWith('wireless-mbus-parser-AMB'))!
    const t = decodeWirelessTelegram(h(v.telegram_hex!), { key: h(v.key!) })
    expect(t.tpl.encryptedBlocks).toBe(3)
    expect(t.records.map((r) => [r.quantity, r.unit, r.value])).toEqual([['volume', 'm3', 0.675], ['customer', '', 'AMBER wireless Testmodul! S Mode']])
  })

  it('jMBus demo 2 (truncated: 4 blocks announced, 63 bytes sent) is MBUS_TRUNCATED, not garbage records', () => {
    const v = vectors.find((x) => x.quirk !== undefined)!
    expect(() => decodeWirelessTelegram(h(v.telegram_hex!), { key: h(v.key!) })).toThrow(expect.objectContaining({ code: 'MBUS_TRUNCATED' }) as Error)
  })

  it('KDF-A gives Kenc and Kmac (CEN/TR 17167 F.3)', () => {
    const v = vectors.find((x) => x.mode === 'kdf-only')!
    const keys = deriveKdfA(h(v.key!), 0x0ab3, h(v.kdf_input!.id_le))
    expect(hex(keys.encryption)).toBe(v.kenc)
    expect(hex(keys.mac)).toBe(v.kmac)
  })

  it('a wrong key gives DECRYPT_FAILED (mode 5) and MAC_MISMATCH (mode 7), never records', () => {
    const wrong = h('ffeeddccbbaa99887766554433221100')
    for (const v of telegrams.filter((x) => x.mode === 5 && x.wired !== true)) {
      expect(() => decodeWirelessTelegram(h(v.telegram_hex!), { key: wrong }), v.name).toThrow(expect.objectContaining({ code: 'DECRYPT_FAILED' }) as Error)
    }
    for (const v of telegrams.filter((x) => x.mode === 7)) {
      expect(() => decodeWirelessTelegram(h(v.telegram_hex!), { key: wrong }), v.name).toThrow(expect.objectContaining({ code: 'MAC_MISMATCH' }) as Error)
    }
    const wired = telegrams.find((x) => x.mode === 5 && x.wired === true)!
    expect(() => decodeWiredTelegram(h(wired.telegram_hex!), { key: wrong })).toThrow(MbusError)
  })

  it('the encoder reproduces Annex N.2.1 (mode 5) and the profile B example (mode 7) byte for byte, with and without CRCs', () => {
    const n21 = vectors.find((x) => x.name.startsWith('OMS-AnnexN-N.2.1'))!
    const gas = { manufacturer: 'ELS', id: '12345678', version: 0x33, deviceType: 3 }
    const records = decodeDataRecords(h('0C1427048502046D32371F1502FD170000'))
    const mode5 = { address: gas, tpl: { kind: 'short' as const, accessNumber: 0x2a, status: 0, configurationFlags: 0x2000 }, security: { mode: 5 as const }, records, key: h(n21.key!) }
    expect(hex(encodeWirelessTelegram(mode5))).toBe(n21.telegram_hex)
    expect(hex(encodeWirelessTelegram({ ...mode5, crc: 'A' }))).toBe(n21.telegram_hex_with_crc)
    const b = vectors.find((x) => x.name.startsWith('OMS-AnnexN-wM-Bus-integrated-radio'))!
    const mode7 = {
      address: gas,
      ell: { accessNumber: 0x75, communicationControl: 0x20 },
      tpl: { kind: 'short' as const, accessNumber: 0x75, status: 0 },
      security: { mode: 7 as const, messageCounter: 0x0ab3 },
      records,
      key: h(b.key!),
    }
    expect(hex(encodeWirelessTelegram(mode7))).toBe(b.telegram_hex)
    expect(hex(encodeWirelessTelegram({ ...mode7, crc: 'A' }))).toBe(b.telegram_hex_with_crc)
  })
})

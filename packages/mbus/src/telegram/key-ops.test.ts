// A meter key held elsewhere (a security module's SecretKeyOps) decodes exactly like the
// same key as bytes: every use of the key in the codec goes through the operations.
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { aesCmacWith, type SecretKeyOps } from '@smgw/crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MbusError } from '../errors.js'
import type { DataRecordInput } from '../records/types.js'
import { decodeWiredTelegram, encodeWiredTelegram } from './wired.js'
import { decodeWirelessTelegram, encodeWirelessTelegram, type WirelessTelegramInput } from './wireless.js'

/** Key operations the codec cannot see into (as with a token), built on node:crypto, counting calls. */
function opaqueKey(key: Uint8Array): { ops: SecretKeyOps; calls: string[] } {
  const k = Buffer.from(key)
  const calls: string[] = []
  const run = (decrypt: boolean, mode: string, iv: Uint8Array, data: Uint8Array): Uint8Array => {
    const c = decrypt ? createDecipheriv(mode, k, iv) : createCipheriv(mode, k, iv)
    c.setAutoPadding(false)
    return new Uint8Array(Buffer.concat([c.update(data), c.final()]))
  }
  const cbcEncrypt = (iv: Uint8Array, data: Uint8Array): Uint8Array => run(false, 'aes-128-cbc', iv, data)
  return {
    calls,
    ops: {
      cbcEncrypt: (iv, data) => (calls.push('cbcEncrypt'), cbcEncrypt(iv, data)),
      cbcDecrypt: (iv, data) => (calls.push('cbcDecrypt'), run(true, 'aes-128-cbc', iv, data)),
      ctr: (iv, data) => (calls.push('ctr'), run(false, 'aes-128-ctr', iv, data)),
      cmac: (data) => (calls.push('cmac'), aesCmacWith(cbcEncrypt, data)),
    },
  }
}

const arbAddress = fc.record({
  manufacturer: fc.stringMatching(/^[A-Z]{3}$/),
  id: fc.integer({ min: 0, max: 99999999 }).map((n) => String(n).padStart(8, '0')),
  version: fc.integer({ min: 0, max: 255 }),
  deviceType: fc.constantFrom(0x02, 0x03, 0x07, 0x37),
})
const arbRecords: fc.Arbitrary<DataRecordInput[]> = fc.array(
  fc.record({ coding: fc.constant('int32' as const), vif: fc.constant(Uint8Array.of(0x13)), raw: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
  { maxLength: 6 },
)
const arbTelegram: fc.Arbitrary<WirelessTelegramInput & { key: Uint8Array }> = fc
  .record({
    address: arbAddress,
    meter: arbAddress,
    kind: fc.constantFrom('short' as const, 'long' as const),
    mode: fc.constantFrom(5 as const, 7 as const),
    accessNumber: fc.integer({ min: 0, max: 255 }),
    ell: fc.constantFrom('none', 'ctr'),
    key: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    messageCounter: fc.integer({ min: 0, max: 0xffffffff }),
    records: arbRecords,
  })
  .map((a) => ({
    address: a.address,
    ...(a.ell === 'ctr' ? { ell: { accessNumber: a.accessNumber, encrypt: true, sessionNumber: a.messageCounter & 0x1fffffff } } : {}),
    tpl: { kind: a.kind, accessNumber: a.accessNumber, ...(a.kind === 'long' ? { address: a.meter } : {}) },
    security: a.mode === 7 ? { mode: 7 as const, messageCounter: a.messageCounter } : { mode: 5 as const },
    records: a.records,
    key: a.key,
  }))

function outcome(decode: () => unknown): unknown {
  try {
    return decode()
  } catch (err) {
    return err instanceof MbusError ? { error: err.code } : { foreign: String(err) }
  }
}

describe('meter keys as operations (SecretKeyOps)', () => {
  it('bytes key and key operations give identical results on random telegrams, right key or wrong (and maybe altered bytes)', () => {
    fc.assert(
      fc.property(arbTelegram, fc.boolean(), fc.option(fc.nat(), { nil: undefined }), (input, wrongKey, flip) => {
        const bytes = encodeWirelessTelegram(input)
        if (flip !== undefined) bytes[10 + (flip % (bytes.length - 10))]! ^= 0x01
        const key = wrongKey ? input.key.map((b, i) => (i === 3 ? b ^ 0x80 : b)) : input.key
        const { ops, calls } = opaqueKey(key)
        const viaBytes = outcome(() => decodeWirelessTelegram(bytes, { key }))
        expect(outcome(() => decodeWirelessTelegram(bytes, { key: ops }))).toEqual(viaBytes)
        // The lookup may return the operations as well.
        expect(outcome(() => decodeWirelessTelegram(bytes, { key: () => ops }))).toEqual(viaBytes)
        if (flip === undefined && !wrongKey) expect(calls.length).toBeGreaterThan(0)
      }),
      { numRuns: 300 },
    )
  })

  it('encoding with key operations gives the same bytes (mode 5 and 7, ELL CTR; wired mode 5)', () => {
    fc.assert(
      fc.property(arbTelegram, (input) => {
        const { ops, calls } = opaqueKey(input.key)
        expect(encodeWirelessTelegram({ ...input, key: ops })).toEqual(encodeWirelessTelegram(input))
        expect(calls).toContain(input.security?.mode === 7 ? 'cmac' : 'cbcEncrypt')
        const wired = { tpl: { kind: 'long' as const, address: input.address, accessNumber: 7 }, security: { mode: 5 as const }, records: input.records ?? [] }
        const bytes = encodeWiredTelegram({ ...wired, key: ops })
        expect(bytes).toEqual(encodeWiredTelegram({ ...wired, key: input.key }))
        expect(decodeWiredTelegram(bytes, { key: ops })).toEqual(decodeWiredTelegram(bytes, { key: input.key }))
      }),
      { numRuns: 100 },
    )
  })

  it('mode 5 decrypts with cbcDecrypt, mode 7 derives with cmac, ELL decrypts with ctr (the master key is used for nothing else)', () => {
    const key = Uint8Array.from({ length: 16 }, (_, i) => i)
    const base = { address: { manufacturer: 'ELS', id: '12345678', version: 1, deviceType: 7 }, tpl: { kind: 'short' as const, accessNumber: 1 }, records: [{ coding: 'int32' as const, vif: Uint8Array.of(0x13), raw: 42 }], key }
    const m5 = opaqueKey(key)
    expect(decodeWirelessTelegram(encodeWirelessTelegram({ ...base, security: { mode: 5 } }), { key: m5.ops }).records[0]?.raw).toBe(42)
    expect(m5.calls).toEqual(['cbcDecrypt'])
    const m7 = opaqueKey(key)
    expect(decodeWirelessTelegram(encodeWirelessTelegram({ ...base, security: { mode: 7, messageCounter: 5 }, ell: { accessNumber: 1, encrypt: true } }), { key: m7.ops }).records[0]?.raw).toBe(42)
    expect(m7.calls).toEqual(['ctr', 'cmac', 'cmac'])
  })

  it('a bytes key of the wrong length is still MBUS_KEY_LENGTH', () => {
    const bytes = encodeWirelessTelegram({ address: { manufacturer: 'ELS', id: '12345678', version: 1, deviceType: 7 }, tpl: { kind: 'short', accessNumber: 1 }, security: { mode: 5 }, records: [], key: new Uint8Array(16) })
    expect(() => decodeWirelessTelegram(bytes, { key: new Uint8Array(15) })).toThrow(expect.objectContaining({ code: 'MBUS_KEY_LENGTH' }) as Error)
  })
})

import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { MbusError } from '../errors.js'
import { aesCmac } from './cmac.js'

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

const file = new URL('../../../../../shared/vectors/wycheproof/aes_cmac_test.json', import.meta.url)

interface WycheproofCase { tcId: number; key: string; msg: string; tag: string; result: 'valid' | 'invalid' | 'acceptable' }
interface WycheproofFile { testGroups: { keySize: number; tagSize: number; tests: WycheproofCase[] }[] }

describe('aesCmac: RFC 4493 examples', () => {
  const key = h('2b7e151628aed2a6abf7158809cf4f3c')
  it.each([
    ['', 'bb1d6929e95937287fa37d129b756746'],
    ['6bc1bee22e409f96e93d7e117393172a', '070a16b46b4d4144f79bdd9dd04a287c'],
    ['6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411', 'dfa66747de9ae63030ca32611497c827'],
    ['6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710', '51f0bebf7e3b9d92fc49741779363cfe'],
  ])('message of %# blocks', (msg, tag) => {
    expect(hex(aesCmac(key, h(msg)))).toBe(tag)
  })
})

describe.skipIf(!existsSync(file))('aesCmac: Wycheproof aes_cmac_test.json', () => {
  const data = JSON.parse(readFileSync(file, 'utf8')) as WycheproofFile
  const counts = { valid: 0, invalid: 0, unsupportedKeySize: 0 }
  for (const group of data.testGroups) {
    for (const t of group.tests) {
      if (group.keySize !== 128) {
        // OMS uses AES-128 only; other key sizes are rejected with MBUS_KEY_LENGTH.
        counts.unsupportedKeySize++
        continue
      }
      if (t.result === 'valid') counts.valid++
      else counts.invalid++
    }
  }

  it('covers every AES-128 case (21 valid, 81 invalid) and rejects the 209 other key sizes', () => {
    expect(counts).toEqual({ valid: 21, invalid: 81, unsupportedKeySize: 209 })
    let checked = 0
    for (const group of data.testGroups) {
      for (const t of group.tests) {
        if (group.keySize !== 128) {
          expect(() => aesCmac(h(t.key), h(t.msg))).toThrow(MbusError)
          continue
        }
        const tag = hex(aesCmac(h(t.key), h(t.msg)).subarray(0, group.tagSize / 8))
        if (t.result === 'valid') expect(tag, `tcId ${t.tcId}`).toBe(t.tag)
        else expect(tag, `tcId ${t.tcId}`).not.toBe(t.tag)
        checked++
      }
    }
    expect(checked).toBe(102)
  })
})

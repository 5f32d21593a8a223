import { generateKeyPairSync, sign } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CURVES } from '../curves.js'
import { openssl } from '../testing/openssl.js'
import { verifyEcdsa, encodeEcdsaSignatureDer } from './ecdsa.js'
import { deriveX963 } from './kdf.js'

describe('encodeEcdsaSignatureDer', () => {
  it.each(Object.values(CURVES))('turns raw r‖s into the DER node:crypto verifies ($name)', (curve) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve.nodeName })
    const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }))
    const data = new Uint8Array([1, 2, 3])
    for (let i = 0; i < 20; i++) {
      const raw = new Uint8Array(sign(curve.hash.replace('-', '').toLowerCase(), data, { key: privateKey, dsaEncoding: 'ieee-p1363' }))
      expect(raw).toHaveLength(2 * curve.size)
      expect(verifyEcdsa(spki, data, encodeEcdsaSignatureDer(raw), curve.hash, 'der')).toBe(true)
      expect(verifyEcdsa(spki, data, raw, curve.hash, 'p1363')).toBe(true)
    }
  })

  it('encodes minimal positive INTEGERs', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (r, s) => {
      const der = encodeEcdsaSignatureDer(new Uint8Array([...r, ...s]))
      expect(der[0]).toBe(0x30)
      // First INTEGER: no superfluous leading zero, high bit clear.
      expect(der[2]).toBe(0x02)
      const len = der[3] ?? 0
      const first = der[4] ?? 0
      if (len > 1) expect(first === 0 ? (der[5] ?? 0) >= 0x80 : true).toBe(true)
      expect(first & 0x80).toBe(0)
    }))
  })
})

describe('deriveX963', () => {
  it('agrees with openssl kdf X963KDF', async () => {
    const z = Buffer.from('96c05619d56c328ab95fe84b18264b08725b85e33fd34f08', 'hex')
    const info = Buffer.from('3015300b060960864801650304010502', 'hex')
    for (const [hash, len] of [['SHA-256', 16], ['SHA-384', 70], ['SHA-512', 32]] as const) {
      const expected = (await openssl(['kdf', '-keylen', String(len), '-kdfopt', `digest:${hash.replace('-', '')}`, '-kdfopt', `hexsecret:${z.toString('hex')}`, '-kdfopt', `hexinfo:${info.toString('hex')}`, '-binary', 'X963KDF']))
      expect(Buffer.from(deriveX963(hash, z, info, len))).toEqual(expected)
    }
  })
})

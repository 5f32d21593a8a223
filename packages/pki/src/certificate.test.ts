import { AsnConvert } from '@peculiar/asn1-schema'
import { AuthorityKeyIdentifier, ExtendedKeyUsage } from '@peculiar/asn1-x509'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readKeyIdentifierOnlyAki, readOidSequence } from './certificate.js'
import { id_kp_clientAuth, id_kp_serverAuth } from './oids.js'

/** What asn1-schema makes of the bytes, or undefined when it refuses them. */
function schema<T>(read: () => T): T | undefined {
  try {
    return read()
  } catch {
    return undefined
  }
}

const AKI = Uint8Array.from(Buffer.from('30168014772c7c6a78f466d5a7671393d9cbcc7224d00593', 'hex'))
const EKU = Uint8Array.from(Buffer.from('301406082b0601050507030206082b06010505070301', 'hex'))

describe('extension readers (hand DER, asn1-schema for the rest)', () => {
  it('read the SM-PKI forms: AKI with only a keyIdentifier, EKU as a list of OIDs', () => {
    expect(Buffer.from(readKeyIdentifierOnlyAki(AKI) ?? []).toString('hex')).toBe('772c7c6a78f466d5a7671393d9cbcc7224d00593')
    expect(readOidSequence(EKU)).toEqual([id_kp_clientAuth, id_kp_serverAuth])
  })

  it('property: whatever they accept of a changed, cut or extended value, asn1-schema reads the same', () => {
    const mutate = fc.tuple(fc.constantFrom(AKI, EKU), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 4 }), fc.nat(30))
    fc.assert(fc.property(mutate, ([base, position, xor, extra, cut]) => {
      const m = new Uint8Array([...base.subarray(0, Math.max(0, base.length - cut)), ...extra])
      const at = position % m.length
      m[at] = (m[at] ?? 0) ^ xor
      const aki = readKeyIdentifierOnlyAki(m)
      if (aki !== undefined) {
        const v = schema(() => AsnConvert.parse(m, AuthorityKeyIdentifier))
        expect(v?.authorityCertIssuer).toBeUndefined()
        expect(v?.keyIdentifier === undefined ? undefined : new Uint8Array(v.keyIdentifier.buffer)).toEqual(aki)
      }
      const eku = readOidSequence(m)
      if (eku !== undefined) expect(schema(() => [...AsnConvert.parse(m, ExtendedKeyUsage)])).toEqual(eku)
    }), { numRuns: 3000 })
  })

  it('decline what they do not read: other AKI fields, long lengths, empty or non-minimal OIDs', () => {
    expect(readKeyIdentifierOnlyAki(Uint8Array.from([0x30, 0x03, 0x82, 0x01, 0x01]))).toBeUndefined()
    expect(readKeyIdentifierOnlyAki(Uint8Array.from([0x30, 0x81, 0x02, 0x80, 0x00]))).toBeUndefined()
    expect(readOidSequence(Uint8Array.from([0x30, 0x02, 0x06, 0x00]))).toBeUndefined()
    expect(readOidSequence(Uint8Array.from([0x30, 0x03, 0x06, 0x01, 0x80]))).toBeUndefined()
  })
})

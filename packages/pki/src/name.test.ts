import fc from 'fast-check'
import { AsnConvert } from '@peculiar/asn1-schema'
import { Name } from '@peculiar/asn1-x509'
import { describe, expect, it } from 'vitest'
import { PkiError } from './errors.js'
import { encodeNameDer, formatName, parseName, type DistinguishedName } from './name.js'
import { decodePemOrDer, formatPem, parsePem } from './pem.js'

const printable = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 .-]{0,20}[A-Za-z0-9]$/)
const utf8 = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim() === s && s !== '' && !s.includes('\\'))
const arbName: fc.Arbitrary<DistinguishedName> = fc.record({ C: fc.constant('DE'), O: utf8, OU: utf8, CN: utf8, serialNumber: printable }, { requiredKeys: ['CN'] })

describe('names', () => {
  it('format(encode(dn)) parses back to dn (RFC 4514 escaping)', () => {
    fc.assert(fc.property(arbName, (dn) => {
      const text = formatName(AsnConvert.parse(encodeNameDer(dn), Name))
      expect(parseName(text)).toEqual(dn)
    }))
  })

  it('Gütesiegel: UTF8String for names, PrintableString for C and serialNumber', () => {
    const der = encodeNameDer({ C: 'DE', CN: 'Gütesiegel' })
    expect(Buffer.from(der).toString('hex')).toContain('130244') // PrintableString "D…"
    expect(formatName(AsnConvert.parse(der, Name))).toBe('CN=Gütesiegel,C=DE')
  })

  it('PKI_BAD_ARGUMENT: unknown attribute, empty name, non-printable country', () => {
    expect(() => parseName('X=1')).toThrow(PkiError)
    expect(() => encodeNameDer({})).toThrow(expect.objectContaining({ code: 'PKI_BAD_ARGUMENT' }))
    expect(() => encodeNameDer({ C: 'Dé' })).toThrow(expect.objectContaining({ code: 'PKI_BAD_ARGUMENT' }))
  })
})

describe('PEM', () => {
  it('round-trips any bytes, several blocks, label filter', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.uint8Array({ minLength: 1, maxLength: 50 }), (a, b) => {
      const text = formatPem('CERTIFICATE', a) + formatPem('X509 CRL', b)
      expect(parsePem(text).map((x) => x.label)).toEqual(['CERTIFICATE', 'X509 CRL'])
      expect(decodePemOrDer(new TextEncoder().encode(text), 'X509 CRL')).toEqual([b])
    }))
  })

  it('DER passes through; PKI_MALFORMED without a block', () => {
    expect(decodePemOrDer(new Uint8Array([0x30, 0]))).toEqual([new Uint8Array([0x30, 0])])
    expect(() => parsePem('hello')).toThrow(expect.objectContaining({ code: 'PKI_MALFORMED' }))
  })
})

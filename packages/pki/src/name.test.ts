import fc from 'fast-check'
import { AsnConvert } from '@peculiar/asn1-schema'
import { Name } from '@peculiar/asn1-x509'
import { describe, expect, it } from 'vitest'
import { PkiError } from './errors.js'
import { formatName } from '@smgw/crypto'
import { encodeNameDer, parseName, type DistinguishedName } from './name.js'

const printable = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 .-]{0,20}[A-Za-z0-9]$/)
const utf8 = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim() === s && s !== '' && !s.includes('\\'))
const arbName: fc.Arbitrary<DistinguishedName> = fc.record({ C: fc.constant('DE'), O: utf8, OU: utf8, CN: utf8, serialNumber: printable }, { requiredKeys: ['CN'] })

describe('names', () => {
  it('format(encode(dn)) parses back to dn (RFC 4514 escaping)', () => {
    fc.assert(fc.property(arbName, (dn) => {
      const text = formatName(AsnConvert.parse(encodeNameDer(dn), Name), 'rfc4514')
      expect(parseName(text)).toEqual(dn)
    }))
  })

  it('Gütesiegel: UTF8String for names, PrintableString for C and serialNumber', () => {
    const der = encodeNameDer({ C: 'DE', CN: 'Gütesiegel' })
    expect(Buffer.from(der).toString('hex')).toContain('130244') // PrintableString "D…"
    expect(formatName(AsnConvert.parse(der, Name), 'rfc4514')).toBe('CN=Gütesiegel,C=DE')
  })

  it('PKI_BAD_ARGUMENT: unknown attribute, empty name, non-printable country', () => {
    expect(() => parseName('X=1')).toThrow(PkiError)
    expect(() => encodeNameDer({})).toThrow(expect.objectContaining({ code: 'PKI_BAD_ARGUMENT' }))
    expect(() => encodeNameDer({ C: 'Dé' })).toThrow(expect.objectContaining({ code: 'PKI_BAD_ARGUMENT' }))
  })
})

import { AsnConvert } from '@peculiar/asn1-schema'
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509'
import { PkiError } from './errors.js'
import {
  id_at_commonName, id_at_countryName, id_at_localityName, id_at_organizationName,
  id_at_organizationalUnitName, id_at_serialNumber,
} from './oids.js'

export type NameAttribute = 'C' | 'O' | 'OU' | 'L' | 'serialNumber' | 'CN'

/** A distinguished name as the SM-PKI uses it: one value per attribute. */
export type DistinguishedName = Readonly<Partial<Record<NameAttribute, string>>>

interface AttributeInfo {
  readonly key: NameAttribute
  readonly oid: string
  /** RFC 5280 §4.1.2.4 / Appendix A: countryName and serialNumber are PrintableString. */
  readonly printable: boolean
}

/** Encoding order (most significant first), as RFC 5280 Appendix A lists them. */
const ATTRIBUTES: readonly AttributeInfo[] = [
  { key: 'C', oid: id_at_countryName, printable: true },
  { key: 'O', oid: id_at_organizationName, printable: false },
  { key: 'OU', oid: id_at_organizationalUnitName, printable: false },
  { key: 'L', oid: id_at_localityName, printable: false },
  { key: 'serialNumber', oid: id_at_serialNumber, printable: true },
  { key: 'CN', oid: id_at_commonName, printable: false },
]

export function encodeName(dn: DistinguishedName): Name {
  const rdns: RelativeDistinguishedName[] = []
  for (const a of ATTRIBUTES) {
    const value = dn[a.key]
    if (value === undefined) continue
    if (value === '') throw new PkiError('PKI_BAD_ARGUMENT', `empty ${a.key} in name`)
    if (a.printable && !/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value)) throw new PkiError('PKI_BAD_ARGUMENT', `${a.key} must be a PrintableString`)
    const v = a.printable ? new AttributeValue({ printableString: value }) : new AttributeValue({ utf8String: value })
    rdns.push(new RelativeDistinguishedName([new AttributeTypeAndValue({ type: a.oid, value: v })]))
  }
  if (rdns.length === 0) throw new PkiError('PKI_BAD_ARGUMENT', 'a name needs at least one attribute')
  return new Name(rdns)
}

export function encodeNameDer(dn: DistinguishedName): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(encodeName(dn)))
}

/**
 * Parses `CN=x,O=y,C=DE` (the attributes of {@link NameAttribute}; `\,` escapes a comma):
 * the inverse of @smgw/crypto's `formatName(name, 'rfc4514')`.
 */
export function parseName(text: string): DistinguishedName {
  const out: Partial<Record<NameAttribute, string>> = {}
  for (const part of text.split(/(?<!\\),/)) {
    const eq = part.indexOf('=')
    if (eq <= 0) throw new PkiError('PKI_BAD_ARGUMENT', `name part without '=': ${part}`)
    const key = part.slice(0, eq).trim()
    const info = ATTRIBUTES.find((a) => a.key.toLowerCase() === key.toLowerCase())
    if (info === undefined) throw new PkiError('PKI_BAD_ARGUMENT', `unknown name attribute ${key} (use ${ATTRIBUTES.map((a) => a.key).join(', ')})`)
    out[info.key] = part.slice(eq + 1).trim().replace(/\\(.)/g, '$1')
  }
  return out
}

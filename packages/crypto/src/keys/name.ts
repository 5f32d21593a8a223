import { AsnConvert } from '@peculiar/asn1-schema'
import { Name } from '@peculiar/asn1-x509'
import { CryptoError } from '../errors.js'

/** Short names of the attribute types the SM-PKI uses (RFC 4514 §3, RFC 5280 Appendix A). */
export const NAME_ATTRIBUTE_LABELS: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.5': 'serialNumber',
}

/**
 * How {@link formatName} orders the RDNs:
 * - `encoded`: as encoded, most significant first, ", " between them ("C=DE, O=Example, CN=GW 1");
 * - `rfc4514`: the RFC 4514 §2.1 string, last RDN first, "," between them ("CN=GW 1,O=Example,C=DE").
 */
export type NameOrder = 'encoded' | 'rfc4514'

/**
 * A Name (or its DER) as text; unknown attribute types as dotted OIDs, values escaped as
 * RFC 4514 §2.4 says (the special characters, a leading space or '#', a trailing space).
 */
export function formatName(name: Name | Uint8Array, order: NameOrder = 'encoded'): string {
  let parsed: Name
  if (name instanceof Uint8Array) {
    try {
      parsed = AsnConvert.parse(name, Name)
    } catch (err) {
      throw new CryptoError('CERT_MALFORMED', `Name does not decode: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
  } else parsed = name
  const rdns = parsed.map((rdn) => rdn.map((atv) => `${NAME_ATTRIBUTE_LABELS[atv.type] ?? atv.type}=${escapeValue(atv.value.toString())}`).join('+'))
  return order === 'rfc4514' ? rdns.reverse().join(',') : rdns.join(', ')
}

function escapeValue(value: string): string {
  return value.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`).replace(/^([ #])/, '\\$1').replace(/ $/, '\\ ')
}

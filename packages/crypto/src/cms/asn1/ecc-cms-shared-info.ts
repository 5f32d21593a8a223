import { AsnProp, OctetString } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier } from '@peculiar/asn1-x509'

/*
 * RFC 5753 §7.2:
 * ECC-CMS-SharedInfo ::= SEQUENCE {
 *   keyInfo         AlgorithmIdentifier,
 *   entityUInfo [0] EXPLICIT OCTET STRING OPTIONAL,
 *   suppPubInfo [2] EXPLICIT OCTET STRING   }
 */
export class EccCmsSharedInfo {
  @AsnProp({ type: AlgorithmIdentifier })
  keyInfo = new AlgorithmIdentifier()

  @AsnProp({ type: OctetString, context: 0, optional: true })
  entityUInfo?: OctetString

  @AsnProp({ type: OctetString, context: 2 })
  suppPubInfo = new OctetString()

  constructor(params: Partial<EccCmsSharedInfo> = {}) {
    Object.assign(this, params)
  }
}

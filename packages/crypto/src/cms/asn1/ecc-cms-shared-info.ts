import { AsnProp, OctetString } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier } from '@peculiar/asn1-x509'

/*
 * RFC 5753 §7.2:
 * ECC-CMS-SharedInfo ::= SEQUENCE {
 *   keyInfo         AlgorithmIdentifier,
 *   entityUInfo [0] EXPLICIT OCTET STRING OPTIONAL,
 *   suppPubInfo [2] EXPLICIT OCTET STRING   }
 * (Schema attached by calling the decorators as functions; see auth-enveloped-data.ts.)
 */
export class EccCmsSharedInfo {
  keyInfo = new AlgorithmIdentifier()
  entityUInfo?: OctetString
  suppPubInfo = new OctetString()

  constructor(params: Partial<EccCmsSharedInfo> = {}) {
    Object.assign(this, params)
  }
}

AsnProp({ type: AlgorithmIdentifier })(EccCmsSharedInfo.prototype, 'keyInfo')
AsnProp({ type: OctetString, context: 0, optional: true })(EccCmsSharedInfo.prototype, 'entityUInfo')
AsnProp({ type: OctetString, context: 2 })(EccCmsSharedInfo.prototype, 'suppPubInfo')

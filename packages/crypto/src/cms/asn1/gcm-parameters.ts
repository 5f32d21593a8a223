import { AsnProp, AsnPropTypes, OctetString } from '@peculiar/asn1-schema'

/*
 * RFC 5084 §3.2:
 * GCMParameters ::= SEQUENCE {
 *   aes-nonce        OCTET STRING, -- recommended size is 12 octets
 *   aes-ICVlen       AES-GCM-ICVlen DEFAULT 12 }
 * AES-GCM-ICVlen ::= INTEGER (12 | 13 | 14 | 15 | 16)
 * (Schema attached by calling the decorators as functions; see auth-enveloped-data.ts.)
 */
export class GcmParameters {
  nonce = new OctetString()
  icvLen = 12

  constructor(params: Partial<GcmParameters> = {}) {
    Object.assign(this, params)
  }
}

AsnProp({ type: OctetString })(GcmParameters.prototype, 'nonce')
AsnProp({ type: AsnPropTypes.Integer, defaultValue: 12 })(GcmParameters.prototype, 'icvLen')

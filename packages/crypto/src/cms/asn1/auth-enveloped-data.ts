import { AsnProp, AsnPropTypes, OctetString } from '@peculiar/asn1-schema'
import { Attribute, CMSVersion, EncryptedContentInfo, OriginatorInfo, RecipientInfos } from '@peculiar/asn1-cms'

/*
 * RFC 5083 §2.1:
 * AuthEnvelopedData ::= SEQUENCE {
 *   version CMSVersion,
 *   originatorInfo [0] IMPLICIT OriginatorInfo OPTIONAL,
 *   recipientInfos RecipientInfos,
 *   authEncryptedContentInfo EncryptedContentInfo,
 *   authAttrs [1] IMPLICIT AuthAttributes OPTIONAL,
 *   mac MessageAuthenticationCode,
 *   unauthAttrs [2] IMPLICIT UnauthAttributes OPTIONAL }
 *
 * The schema is attached by calling the asn1-schema decorators as functions (below), not
 * with decorator syntax, so the class loads the same under any TypeScript transform
 * (tsx without our tsconfig compiles standard decorators, which asn1-schema does not take).
 */
export class AuthEnvelopedData {
  version: CMSVersion = CMSVersion.v0
  originatorInfo?: OriginatorInfo
  recipientInfos = new RecipientInfos()
  authEncryptedContentInfo = new EncryptedContentInfo()
  authAttrs?: Attribute[]
  mac = new OctetString()
  unauthAttrs?: Attribute[]

  constructor(params: Partial<AuthEnvelopedData> = {}) {
    Object.assign(this, params)
  }
}

AsnProp({ type: AsnPropTypes.Integer })(AuthEnvelopedData.prototype, 'version')
AsnProp({ type: OriginatorInfo, context: 0, implicit: true, optional: true })(AuthEnvelopedData.prototype, 'originatorInfo')
AsnProp({ type: RecipientInfos })(AuthEnvelopedData.prototype, 'recipientInfos')
AsnProp({ type: EncryptedContentInfo })(AuthEnvelopedData.prototype, 'authEncryptedContentInfo')
AsnProp({ type: Attribute, repeated: 'set', context: 1, implicit: true, optional: true })(AuthEnvelopedData.prototype, 'authAttrs')
AsnProp({ type: OctetString })(AuthEnvelopedData.prototype, 'mac')
AsnProp({ type: Attribute, repeated: 'set', context: 2, implicit: true, optional: true })(AuthEnvelopedData.prototype, 'unauthAttrs')

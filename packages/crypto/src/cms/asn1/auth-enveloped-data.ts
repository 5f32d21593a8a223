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
 */
export class AuthEnvelopedData {
  @AsnProp({ type: AsnPropTypes.Integer })
  version: CMSVersion = CMSVersion.v0

  @AsnProp({ type: OriginatorInfo, context: 0, implicit: true, optional: true })
  originatorInfo?: OriginatorInfo

  @AsnProp({ type: RecipientInfos })
  recipientInfos = new RecipientInfos()

  @AsnProp({ type: EncryptedContentInfo })
  authEncryptedContentInfo = new EncryptedContentInfo()

  @AsnProp({ type: Attribute, repeated: 'set', context: 1, implicit: true, optional: true })
  authAttrs?: Attribute[]

  @AsnProp({ type: OctetString })
  mac = new OctetString()

  @AsnProp({ type: Attribute, repeated: 'set', context: 2, implicit: true, optional: true })
  unauthAttrs?: Attribute[]

  constructor(params: Partial<AuthEnvelopedData> = {}) {
    Object.assign(this, params)
  }
}

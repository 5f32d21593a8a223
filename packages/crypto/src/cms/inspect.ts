import { EnvelopedData, type EncryptedContentInfo, type IssuerAndSerialNumber, type RecipientInfos } from '@peculiar/asn1-cms'
import { AlgorithmIdentifier, Time } from '@peculiar/asn1-x509'
import { formatName } from '../keys/name.js'
import { algorithmName } from './algorithms.js'
import { AuthEnvelopedData } from './asn1/auth-enveloped-data.js'
import { decodeContentInfo, parseAsn } from './content-info.js'
import { id_ct_authEnvelopedData, id_envelopedData, id_signedData, id_signingTime } from './oids.js'
import { openSignedData } from './signed-data.js'

export interface CmsIdentifier {
  /** The issuer as text and the serial number in hex, or the subject key identifier in hex. */
  readonly issuer?: string
  readonly serialNumber?: string
  readonly subjectKeyIdentifier?: string
}

export interface CmsSignerSummary extends CmsIdentifier {
  readonly digestAlgorithm: string
  readonly signatureAlgorithm: string
  readonly signingTime?: string
}

export interface CmsRecipientSummary extends CmsIdentifier {
  readonly kind: 'keyAgree' | 'keyTrans' | 'kek' | 'password' | 'other'
  readonly keyEncryptionAlgorithm?: string
  readonly keyWrapAlgorithm?: string
}

export interface CmsSummary {
  readonly contentType: 'signedData' | 'envelopedData' | 'authEnvelopedData'
  readonly version: number
  /** SignedData: the encapsulated content type and whether the content is inside. */
  readonly eContentType?: string
  readonly detached?: boolean
  readonly contentLength?: number
  readonly certificates?: readonly { readonly subject: string; readonly issuer: string; readonly serialNumber: string }[]
  readonly signers?: readonly CmsSignerSummary[]
  readonly recipients?: readonly CmsRecipientSummary[]
  readonly contentEncryptionAlgorithm?: string
}

/** What a CMS message is made of, without any key (for `smgw cms inspect`). */
export function inspectCms(der: Uint8Array): CmsSummary {
  const info = decodeContentInfo(der, [id_signedData, id_envelopedData, id_ct_authEnvelopedData])
  if (info.contentType === id_signedData) {
    const { sd, decoded } = openSignedData(der)
    const e = sd.encapContentInfo.eContent
    return {
      contentType: 'signedData',
      version: sd.version,
      eContentType: algorithmName(sd.encapContentInfo.eContentType),
      detached: e === undefined,
      ...(e?.single ? { contentLength: e.single.byteLength } : {}),
      certificates: decoded.map((cert) => ({ subject: cert.subjectText, issuer: cert.issuerText, serialNumber: hex(cert.serialNumber) })),
      signers: sd.signerInfos.map((si) => {
        const st = si.signedAttrs?.find((a) => a.attrType === id_signingTime)?.attrValues[0]
        return {
          ...identifier(si.sid.issuerAndSerialNumber, si.sid.subjectKeyIdentifier?.buffer),
          digestAlgorithm: algorithmName(si.digestAlgorithm.algorithm),
          signatureAlgorithm: algorithmName(si.signatureAlgorithm.algorithm),
          ...(st ? { signingTime: parseAsn(st, Time, 'signing-time').getTime().toISOString() } : {}),
        }
      }),
    }
  }
  if (info.contentType === id_envelopedData) {
    const ed = parseAsn(info.content, EnvelopedData, 'EnvelopedData')
    return { contentType: 'envelopedData', version: ed.version, ...encrypted(ed.recipientInfos, ed.encryptedContentInfo) }
  }
  const aed = parseAsn(info.content, AuthEnvelopedData, 'AuthEnvelopedData')
  return { contentType: 'authEnvelopedData', version: aed.version, ...encrypted(aed.recipientInfos, aed.authEncryptedContentInfo) }
}

function encrypted(ris: RecipientInfos, eci: EncryptedContentInfo): Pick<CmsSummary, 'recipients' | 'contentEncryptionAlgorithm' | 'contentLength'> {
  const recipients: CmsRecipientSummary[] = []
  for (const ri of ris) {
    if (ri.kari) {
      const params = ri.kari.keyEncryptionAlgorithm.parameters
      const wrap = params ? algorithmName(parseAsn(params, AlgorithmIdentifier, 'key wrap algorithm').algorithm) : undefined
      for (const rek of ri.kari.recipientEncryptedKeys) {
        recipients.push({
          kind: 'keyAgree',
          ...identifier(rek.rid.issuerAndSerialNumber, rek.rid.rKeyId?.subjectKeyIdentifier.buffer),
          keyEncryptionAlgorithm: algorithmName(ri.kari.keyEncryptionAlgorithm.algorithm),
          ...(wrap === undefined ? {} : { keyWrapAlgorithm: wrap }),
        })
      }
    } else {
      recipients.push({ kind: ri.ktri ? 'keyTrans' : ri.kekri ? 'kek' : ri.pwri ? 'password' : 'other' })
    }
  }
  const len = eci.encryptedContent?.value?.byteLength
  return { recipients, contentEncryptionAlgorithm: algorithmName(eci.contentEncryptionAlgorithm.algorithm), ...(len === undefined ? {} : { contentLength: len }) }
}

function identifier(ias: IssuerAndSerialNumber | undefined, ski: ArrayBuffer | undefined): CmsIdentifier {
  if (ias) {
    return { issuer: formatName(ias.issuer), serialNumber: hex(new Uint8Array(ias.serialNumber)) }
  }
  return ski ? { subjectKeyIdentifier: hex(new Uint8Array(ski)) } : {}
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

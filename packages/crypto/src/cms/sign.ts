import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import {
  Attribute, CertificateChoices, CertificateSet, CMSVersion, ContentInfo, DigestAlgorithmIdentifier, DigestAlgorithmIdentifiers, SignatureAlgorithmIdentifier, EncapsulatedContent,
  EncapsulatedContentInfo, IssuerAndSerialNumber, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
} from '@peculiar/asn1-cms'
import { Certificate, Name, Time } from '@peculiar/asn1-x509'
import { CURVES } from '../curves.js'
import { CryptoError } from '../errors.js'
import { decodeCertificate } from '../keys/certificate.js'
import { encodeOid } from '../primitives/ec-public-key.js'
import { HASHES, digest } from '../primitives/hash.js'
import type { Signer } from '../security-module/types.js'
import { compareBytes, encodeSetOf } from './bytes.js'
import { id_contentType, id_data, id_messageDigest, id_signedData, id_signingTime } from './oids.js'

export interface SignCmsOptions {
  readonly signer: Signer
  /** The signer's certificate, DER; it must hold the signer's public key. */
  readonly certificate: Uint8Array
  /** Further certificates to include (intermediate CAs), DER. */
  readonly chain?: readonly Uint8Array[]
  /** Leave the content out of the SignedData (RFC 5652 §5.2 eContent absent). */
  readonly detached?: boolean
  /** The signing-time attribute (RFC 5652 §11.3); omitted when not given (libraries have no clock). */
  readonly signingTime?: Date
  /** eContentType, id-data by default. */
  readonly contentType?: string
}

/**
 * CMS SignedData (RFC 5652 §5) in a ContentInfo, DER: one SignerInfo identified by
 * issuerAndSerialNumber (version 1), signed attributes content-type, message-digest and
 * (when given) signing-time, ecdsa-with-SHA256/384/512 by the signer's curve (RFC 5753 §2.1.1).
 */
export async function signCms(content: Uint8Array, options: SignCmsOptions): Promise<Uint8Array> {
  const { signer } = options
  const cert = decodeCertificate(options.certificate)
  if (compareBytes(cert.publicKey, signer.publicKey) !== 0) throw new CryptoError('INVALID_ARGUMENT', "the certificate does not hold the signer's public key")
  const hash = HASHES[CURVES[signer.curve].hash]
  const contentType = options.contentType ?? id_data

  const attributes = [
    new Attribute({ attrType: id_contentType, attrValues: [encodeOid(contentType)] }),
    ...(options.signingTime ? [new Attribute({ attrType: id_signingTime, attrValues: [AsnConvert.serialize(new Time(options.signingTime))] })] : []),
    new Attribute({ attrType: id_messageDigest, attrValues: [AsnConvert.serialize(new OctetString(digest(hash.name, content)))] }),
  ]
  // X.690 §11.6: the DER of a SET OF sorts its elements by their encodings; signedAttrs are DER (RFC 5652 §5.3).
  const sorted = attributes
    .map((a) => ({ a, der: new Uint8Array(AsnConvert.serialize(a)) }))
    .sort((x, y) => compareBytes(x.der, y.der))
  // RFC 5652 §5.4: the signature covers the DER of the SET OF (tag 0x31), not the [0] IMPLICIT form.
  const signedAttrsSet = encodeSetOf(sorted.map((s) => s.der))
  const signature = await signer.sign(signedAttrsSet, hash.name)

  const parsed = AsnConvert.parse(options.certificate, Certificate)
  const signerInfo = new SignerInfo({
    version: CMSVersion.v1,
    sid: new SignerIdentifier({
      issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: AsnConvert.parse(cert.issuer, Name), serialNumber: parsed.tbsCertificate.serialNumber }),
    }),
    digestAlgorithm: new DigestAlgorithmIdentifier({ algorithm: hash.oid }),
    signedAttrs: sorted.map((s) => s.a),
    // RFC 5758 §3.2: ecdsa-with-SHA* parameters MUST be absent.
    signatureAlgorithm: new SignatureAlgorithmIdentifier({ algorithm: hash.ecdsaOid }),
    signature: new OctetString(signature),
  })
  const certificates = new CertificateSet([options.certificate, ...(options.chain ?? [])].map((der) => new CertificateChoices({ certificate: AsnConvert.parse(der, Certificate) })))
  const signedData = new SignedData({
    // RFC 5652 §5.1: version 1 when only X.509 certificates, id-data, and v1 SignerInfos; 3 otherwise.
    version: contentType === id_data ? CMSVersion.v1 : CMSVersion.v3,
    digestAlgorithms: new DigestAlgorithmIdentifiers([new DigestAlgorithmIdentifier({ algorithm: hash.oid })]),
    encapContentInfo: new EncapsulatedContentInfo({
      eContentType: contentType,
      ...(options.detached ? {} : { eContent: new EncapsulatedContent({ single: new OctetString(content) }) }),
    }),
    certificates,
    signerInfos: new SignerInfos([signerInfo]),
  })
  return new Uint8Array(AsnConvert.serialize(new ContentInfo({ contentType: id_signedData, content: AsnConvert.serialize(signedData) })))
}

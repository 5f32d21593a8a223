import { AsnConvert } from '@peculiar/asn1-schema'
import { Attribute, DigestAlgorithmIdentifier, IssuerAndSerialNumber, SignatureAlgorithmIdentifier, SignerIdentifier } from '@peculiar/asn1-cms'
import { Certificate, Name, Time } from '@peculiar/asn1-x509'
import { CURVES } from '../curves.js'
import { CryptoError, wrapErrors } from '../errors.js'
import { decodeCertificate, type CertificateInfo } from '../keys/certificate.js'
import { encodeOid } from '../primitives/ec-public-key.js'
import { HASHES, digest } from '../primitives/hash.js'
import type { Signer } from '../security-module/types.js'
import { compareBytes, encodeSetOf } from './bytes.js'
import { TAG, encodeDer, encodeSmallInteger, node, tlv } from './der.js'
import { id_contentType, id_data, id_messageDigest, id_signedData, id_signingTime } from './oids.js'

export interface SignCmsOptions {
  readonly signer: Signer
  /** The signer's certificate, DER or already decoded; it must hold the signer's public key. */
  readonly certificate: Uint8Array | CertificateInfo
  /** Further certificates to include (intermediate CAs), DER. */
  readonly chain?: readonly Uint8Array[]
  /** Leave the content out of the SignedData (RFC 5652 §5.2 eContent absent). */
  readonly detached?: boolean
  /** The signing-time attribute (RFC 5652 §11.3); omitted when not given (libraries have no clock). */
  readonly signingTime?: Date
  /** eContentType, id-data by default. */
  readonly contentType?: string
}

/** What a prepared signer is made from: everything of SignCmsOptions that does not change per message. */
export type CreateCmsSignerOptions = Omit<SignCmsOptions, 'signingTime'>

/** A signer prepared once (certificate decoded, constant DER parts encoded) and used for every message. */
export interface CmsSigner {
  /** The same bytes signCms gives for the same inputs. */
  sign(content: Uint8Array, options?: { readonly signingTime?: Date }): Promise<Uint8Array>
}

/**
 * CMS SignedData (RFC 5652 §5) in a ContentInfo, DER: one SignerInfo identified by
 * issuerAndSerialNumber (version 1), signed attributes content-type, message-digest and
 * (when given) signing-time, ecdsa-with-SHA256/384/512 by the signer's curve (RFC 5753 §2.1.1).
 * One-shot form of {@link createCmsSigner}.
 */
export async function signCms(content: Uint8Array, options: SignCmsOptions): Promise<Uint8Array> {
  return createCmsSigner(options).sign(content, options.signingTime === undefined ? {} : { signingTime: options.signingTime })
}

/**
 * Prepares a SignedData producer: the certificate is decoded and checked against the
 * signer's key, and the signer identifier, algorithm identifiers and certificate set are
 * encoded once (asn1-schema); each message then costs one digest, one signature and the
 * hand-written outer DER (./der.ts).
 */
export function createCmsSigner(options: CreateCmsSignerOptions): CmsSigner {
  const { signer } = options
  const cert = options.certificate instanceof Uint8Array ? decodeCertificate(options.certificate) : options.certificate
  if (compareBytes(cert.publicKey, signer.publicKey) !== 0) throw new CryptoError('INVALID_ARGUMENT', "the certificate does not hold the signer's public key")
  const hash = HASHES[CURVES[signer.curve].hash]
  const contentType = options.contentType ?? id_data
  const detached = options.detached ?? false

  const der = (value: object) => new Uint8Array(AsnConvert.serialize(value))
  const contentTypeAttr = der(new Attribute({ attrType: id_contentType, attrValues: [encodeOid(contentType)] }))
  const messageDigestOid = new Uint8Array(encodeOid(id_messageDigest))
  const contentTypeOid = new Uint8Array(encodeOid(contentType))
  const digestAlgorithm = der(new DigestAlgorithmIdentifier({ algorithm: hash.oid }))
  // RFC 5758 §3.2: ecdsa-with-SHA* parameters MUST be absent.
  const signatureAlgorithm = der(new SignatureAlgorithmIdentifier({ algorithm: hash.ecdsaOid }))
  const sid = der(new SignerIdentifier({
    issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: AsnConvert.parse(cert.issuer, Name), serialNumber: cert.serialNumber.slice().buffer }),
  }))
  // certificates [0] IMPLICIT CertificateSet, in the order given; each as asn1-schema re-encodes it.
  const certificates = tlv(TAG.CONTEXT_0, ...[cert.der, ...(options.chain ?? [])].map((c) =>
    wrapErrors('CERT_MALFORMED', 'a chain certificate does not decode', () => der(AsnConvert.parse(c, Certificate)))))
  const digestAlgorithms = tlv(TAG.SET, digestAlgorithm)
  const signedDataOid = new Uint8Array(encodeOid(id_signedData))
  // RFC 5652 §5.1: version 1 when only X.509 certificates, id-data, and v1 SignerInfos; 3 otherwise.
  const version = encodeSmallInteger(contentType === id_data ? 1 : 3)

  const signingTimeOid = new Uint8Array(encodeOid(id_signingTime))
  const signingTimeAttribute = (time: Date): Uint8Array => {
    const year = time.getUTCFullYear()
    // RFC 5652 §11.3 / RFC 5280 §4.1.2.5.1: UTCTime YYMMDDHHMMSSZ for 1950–2049, written here (whole seconds);
    // other years (GeneralizedTime) as asn1-schema writes them.
    if (year < 1950 || year > 2049) return der(new Attribute({ attrType: id_signingTime, attrValues: [AsnConvert.serialize(new Time(time))] }))
    const two = (n: number) => String(n).padStart(2, '0')
    const text = `${two(year % 100)}${two(time.getUTCMonth() + 1)}${two(time.getUTCDate())}${two(time.getUTCHours())}${two(time.getUTCMinutes())}${two(time.getUTCSeconds())}Z`
    return tlv(TAG.SEQUENCE, signingTimeOid, tlv(TAG.SET, tlv(TAG.UTC_TIME, new TextEncoder().encode(text))))
  }

  return {
    async sign(content, perMessage = {}) {
      const attributes = [
        contentTypeAttr,
        ...(perMessage.signingTime ? [signingTimeAttribute(perMessage.signingTime)] : []),
        tlv(TAG.SEQUENCE, messageDigestOid, tlv(TAG.SET, tlv(TAG.OCTET_STRING, digest(hash.name, content)))),
      ]
      // X.690 §11.6: the DER of a SET OF sorts its elements by their encodings; signedAttrs are DER (RFC 5652 §5.3).
      attributes.sort(compareBytes)
      // RFC 5652 §5.4: the signature covers the DER of the SET OF (tag 0x31), not the [0] IMPLICIT form.
      const signedAttrsSet = encodeSetOf(attributes)
      const signature = await signer.sign(signedAttrsSet, hash.name)
      // SignerInfo (RFC 5652 §5.3): version 1 (issuerAndSerialNumber), sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature.
      const signerInfo = node(TAG.SEQUENCE, encodeSmallInteger(1), sid, digestAlgorithm, node(TAG.CONTEXT_0, ...attributes), signatureAlgorithm, node(TAG.OCTET_STRING, signature))
      // EncapsulatedContentInfo (RFC 5652 §5.2): eContentType, [0] EXPLICIT OCTET STRING unless detached.
      const encap = detached ? node(TAG.SEQUENCE, contentTypeOid) : node(TAG.SEQUENCE, contentTypeOid, node(TAG.CONTEXT_0, node(TAG.OCTET_STRING, content)))
      const signedData = node(TAG.SEQUENCE, version, digestAlgorithms, encap, certificates, node(TAG.SET, signerInfo))
      // ContentInfo (RFC 5652 §3): contentType, [0] EXPLICIT content; written once into one buffer.
      return encodeDer(node(TAG.SEQUENCE, signedDataOid, node(TAG.CONTEXT_0, signedData)))
    },
  }
}

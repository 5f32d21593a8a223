import { AsnConvert } from '@peculiar/asn1-schema'
import { Attributes, CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr'
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509'
import { CURVES, formatName, type HashName, type Signer } from '@smgw/crypto'
import { classifyPublicKey, encodeSignatureAlgorithm, signatureAlgorithmByOid, verifySignature, type PublicKeyKind } from './algorithms.js'
import { decodeBitStringBytes, decodeSequence, encodeSigned, requireSingleTlv } from './der.js'
import { malformed, PkiError } from './errors.js'
import { encodeName, type DistinguishedName } from './name.js'

export interface CreateCsrOptions {
  /** The new key: it signs its own request (proof of possession, RFC 2986 §3). */
  readonly signer: Signer
  readonly subject: DistinguishedName
  /** Defaults to the hash TR-03109-3 pairs with the signer's curve. */
  readonly hash?: HashName
}

export interface DecodedCsr {
  readonly der: Uint8Array
  /** CertificationRequestInfo as encoded (what the signature covers). */
  readonly info: Uint8Array
  readonly subject: string
  readonly subjectDer: Uint8Array
  /** SubjectPublicKeyInfo, DER. */
  readonly publicKey: Uint8Array
  readonly publicKeyKind: PublicKeyKind
  readonly signatureAlgorithm: string
  readonly signature: Uint8Array
}

/** A PKCS#10 certification request (RFC 2986) with no attributes, signed by the new key through its Signer. */
export async function createCsr(o: CreateCsrOptions): Promise<Uint8Array> {
  const hash = o.hash ?? CURVES[o.signer.curve].hash
  const algorithm = encodeSignatureAlgorithm(hash)
  const info = new CertificationRequestInfo({
    version: 0,
    subject: encodeName(o.subject),
    subjectPKInfo: AsnConvert.parse(o.signer.publicKey, SubjectPublicKeyInfo),
    attributes: new Attributes(),
  })
  const infoDer = new Uint8Array(AsnConvert.serialize(info))
  const signature = await o.signer.sign(infoDer, hash)
  return encodeSigned(infoDer, new Uint8Array(AsnConvert.serialize(algorithm)), signature)
}

/** Decodes a PKCS#10 request without judging it. Throws PKI_MALFORMED. */
export function decodeCsr(der: Uint8Array): DecodedCsr {
  requireSingleTlv(der, 'CertificationRequest')
  try {
    const req = AsnConvert.parse(der, CertificationRequest)
    const [raw, , signatureTlv] = decodeSequence(der, 'CertificationRequest')
    if (raw === undefined || signatureTlv === undefined) throw new PkiError('PKI_MALFORMED', 'CertificationRequest: expected three elements')
    const spkiDer = new Uint8Array(AsnConvert.serialize(req.certificationRequestInfo.subjectPKInfo))
    return {
      der,
      info: raw,
      subject: formatName(req.certificationRequestInfo.subject, 'rfc4514'),
      subjectDer: new Uint8Array(AsnConvert.serialize(req.certificationRequestInfo.subject)),
      publicKey: spkiDer,
      publicKeyKind: classifyPublicKey(req.certificationRequestInfo.subjectPKInfo),
      signatureAlgorithm: req.signatureAlgorithm.algorithm,
      signature: decodeBitStringBytes(signatureTlv, 'CertificationRequest.signature'),
    }
  } catch (err) {
    throw malformed('CertificationRequest does not decode', err)
  }
}

/**
 * Decodes and checks a request: key on an allowed curve (PKI_UNSUPPORTED_ALGORITHM),
 * ECDSA signature by that key over the request info (PKI_BAD_SIGNATURE).
 */
export function verifyCsr(der: Uint8Array): DecodedCsr {
  const csr = decodeCsr(der)
  if (csr.publicKeyKind.kind !== 'ec') throw new PkiError('PKI_UNSUPPORTED_ALGORITHM', `CSR key not on an allowed curve (${csr.publicKeyKind.kind})`)
  const alg = signatureAlgorithmByOid(csr.signatureAlgorithm)
  if (alg === undefined) throw new PkiError('PKI_UNSUPPORTED_ALGORITHM', `CSR signature algorithm ${csr.signatureAlgorithm}`)
  if (!verifySignature(csr.publicKey, alg.hash, csr.info, csr.signature)) throw new PkiError('PKI_BAD_SIGNATURE', 'CSR signature does not verify with its own key')
  return csr
}

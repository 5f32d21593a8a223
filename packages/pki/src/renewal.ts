import { CryptoError, decodeSignedData, signCms, verifyCms, type DecodedSignedData, type Signer } from '@smgw/crypto'
import { decodeCertificate, type DecodedCertificate } from './certificate.js'
import { decodeCsr, verifyCsr, type DecodedCsr } from './csr.js'
import { bytesEqual } from './der.js'
import { malformed, PkiError } from './errors.js'
import { id_data } from './oids.js'

/**
 * A renewal request (BSI TR-03109-4 v1.2.1): the new key's CSR inside a CMS SignedData
 * (RFC 5652 §5) signed with the still-valid old key:
 *
 *   ContentInfo { id-signedData, SignedData {
 *     encapContentInfo { eContentType id-data, eContent CertificationRequest },  -- signed by the NEW key
 *     certificates     { the old certificate, … },
 *     signerInfos      { one SignerInfo by the OLD key (issuerAndSerialNumber of the old certificate) } } }
 *
 * eContentType is id-data: RFC 5652 §4 has no PKCS#10 content type, the CSR identifies itself
 * by its DER, and Microsoft's renewal profile (MS-WCCE §3.1.1.4.3.2.1, "CMS and PKCS #10")
 * does the same, so `openssl cms -verify` prints the CSR. The same wrapper serves the
 * gateway's first request, signed with its manufacturer (Gütesiegel) key.
 */
export interface CreateRenewalRequestOptions {
  /** The new key's CSR (DER), from createCsr. */
  readonly csr: Uint8Array
  /** The old key: signs the SignedData (with the hash its curve pairs with, TR-03109-3). */
  readonly oldSigner: Signer
  /** The certificate of the old key (DER). */
  readonly oldCertificate: Uint8Array
  /** Further certificates to carry (the old certificate's sub-CA), DER. */
  readonly chain?: readonly Uint8Array[]
  /** The signing-time attribute (RFC 5652 §11.3); omitted when not given (no clock here). */
  readonly signingTime?: Date
}

export interface DecodedRenewalRequest {
  /** The ContentInfo, DER. */
  readonly der: Uint8Array
  readonly csr: DecodedCsr
  /** The signer's certificate, found in the SignedData. */
  readonly oldCertificate: DecodedCertificate
  /** Every certificate the SignedData carries, DER (the old certificate among them). */
  readonly certificates: readonly Uint8Array[]
  /** The SignerInfo's signature algorithm OID (ecdsa-with-SHA*). */
  readonly signatureAlgorithm: string
  readonly signingTime?: Date
}

export async function createRenewalRequest(o: CreateRenewalRequestOptions): Promise<Uint8Array> {
  decodeCsr(o.csr)
  const old = decodeCertificate(o.oldCertificate)
  if (!bytesEqual(old.publicKey, o.oldSigner.publicKey)) throw new PkiError('PKI_BAD_ARGUMENT', 'the old signer does not hold the old certificate\'s key')
  try {
    return await signCms(o.csr, {
      signer: o.oldSigner, certificate: o.oldCertificate, contentType: id_data,
      ...(o.chain === undefined ? {} : { chain: o.chain }), ...(o.signingTime === undefined ? {} : { signingTime: o.signingTime }),
    })
  } catch (err) {
    if (err instanceof CryptoError) throw new PkiError('PKI_BAD_ARGUMENT', `renewal request: ${err.message}`, { cause: err })
    throw err
  }
}

/** Takes a renewal request apart without checking a signature (PKI_MALFORMED when it is none). */
export function decodeRenewalRequest(der: Uint8Array): DecodedRenewalRequest {
  let signed: DecodedSignedData
  try {
    signed = decodeSignedData(der)
  } catch (err) {
    throw malformed('renewal request: not a CMS SignedData', err)
  }
  if (signed.contentType !== id_data) throw new PkiError('PKI_MALFORMED', `renewal request: eContentType ${signed.contentType}, expected id-data`)
  if (signed.content === undefined) throw new PkiError('PKI_MALFORMED', 'renewal request: the CSR is missing (detached SignedData)')
  if (signed.signerCertificate === undefined || signed.signatureAlgorithm === undefined) throw new PkiError('PKI_MALFORMED', 'renewal request: the signer\'s (old) certificate is not in the SignedData')
  return {
    der, csr: decodeCsr(signed.content), oldCertificate: decodeCertificate(signed.signerCertificate), certificates: signed.certificates,
    signatureAlgorithm: signed.signatureAlgorithm, ...(signed.signingTime === undefined ? {} : { signingTime: signed.signingTime }),
  }
}

/**
 * Checks both signatures: the SignedData by the key of the old certificate (verifyCms;
 * PKI_BAD_SIGNATURE when it fails) and the inner CSR by the new key (verifyCsr). Does not
 * judge the old certificate's path: the CA does that (signRenewalRequest) with its trust
 * settings and clock.
 */
export async function verifyRenewalRequest(der: Uint8Array): Promise<DecodedRenewalRequest> {
  const req = decodeRenewalRequest(der)
  try {
    await verifyCms(der)
  } catch (err) {
    if (err instanceof CryptoError && (err.code === 'CMS_SIGNATURE_INVALID' || err.code === 'CMS_DIGEST_MISMATCH' || err.code === 'CMS_UNSUPPORTED_ALGORITHM' || err.code === 'PUBLIC_KEY_INVALID')) {
      throw new PkiError(err.code === 'CMS_UNSUPPORTED_ALGORITHM' ? 'PKI_UNSUPPORTED_ALGORITHM' : 'PKI_BAD_SIGNATURE', `renewal request: the old key's signature does not verify (${err.code}: ${err.message})`, { cause: err })
    }
    throw malformed('renewal request', err)
  }
  verifyCsr(req.csr.der)
  return req
}

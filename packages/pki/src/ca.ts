import { bytesEqual } from './der.js'
import { PkiError } from './errors.js'
import { verifyCsr } from './csr.js'
import { issueCertificate, type CertificateIssuer, type IssueCertificateOptions } from './issue.js'
import { verifyRenewalRequest } from './renewal.js'
import { validatePath, type ValidationPurpose } from './validate.js'

/** What the CA decides itself when it turns a request into a certificate. */
export type IssueFromRequestOptions = Omit<IssueCertificateOptions, 'publicKey' | 'subject' | 'issuer'> & {
  readonly ca: Required<CertificateIssuer>
  /** Overrides the subject the request asks for (the CA decides names). */
  readonly subject?: IssueCertificateOptions['subject']
}

/**
 * The CA processes an initial request (RFC 2986): verifies the self-signature and the
 * curve, then issues for the requested subject and key.
 */
export async function signCsr(csrDer: Uint8Array, o: IssueFromRequestOptions): Promise<Uint8Array> {
  const csr = verifyCsr(csrDer)
  return issueCertificate({ ...o, issuer: o.ca, publicKey: csr.publicKey, subject: o.subject ?? csr.subjectDer })
}

export interface RenewalTrust {
  readonly roots: readonly Uint8Array[]
  readonly intermediates?: readonly Uint8Array[]
  readonly crls?: readonly Uint8Array[]
  /** The time at which the old certificate must still be valid. */
  readonly at: Date
  /** What the old certificate is validated for (e.g. 'tls-client' for a TLS or Gütesiegel certificate). */
  readonly purpose: ValidationPurpose
  readonly requireCrl?: boolean
}

/**
 * The CA processes a renewal (or a gateway's first request signed with its Gütesiegel key):
 * the CMS SignedData by the old key and the inner CSR must verify (PKI_BAD_SIGNATURE), the old certificate must validate to a
 * trusted root at `trust.at` for `trust.purpose`, the new key must differ from the old one,
 * and — for a renewal proper — the subject must stay the same (else PKI_RENEWAL_REJECTED).
 */
export async function signRenewalRequest(
  requestDer: Uint8Array,
  trust: RenewalTrust,
  o: IssueFromRequestOptions & { readonly allowSubjectChange?: boolean },
): Promise<Uint8Array> {
  const req = await verifyRenewalRequest(requestDer)
  // The certificates the SignedData carries may complete the old certificate's path; trust
  // still comes from `trust.roots` only (validatePath treats intermediates as untrusted).
  const verdict = validatePath({
    leaf: req.oldCertificate.der, intermediates: [...(trust.intermediates ?? []), ...req.certificates], roots: trust.roots, crls: trust.crls ?? [],
    at: trust.at, purpose: trust.purpose, ...(trust.requireCrl === undefined ? {} : { requireCrl: trust.requireCrl }),
  })
  if (!verdict.ok) throw new PkiError('PKI_RENEWAL_REJECTED', `old certificate does not validate: ${verdict.reason} (${verdict.detail})`, { reason: verdict.reason })
  if (bytesEqual(req.csr.publicKey, req.oldCertificate.publicKey)) throw new PkiError('PKI_RENEWAL_REJECTED', 'the new key equals the old key')
  if (o.allowSubjectChange !== true && o.subject === undefined && !bytesEqual(req.csr.subjectDer, req.oldCertificate.subjectDer)) {
    throw new PkiError('PKI_RENEWAL_REJECTED', `the request asks for ${req.csr.subject}, the old certificate is for ${req.oldCertificate.subject}`)
  }
  return issueCertificate({ ...o, issuer: o.ca, publicKey: req.csr.publicKey, subject: o.subject ?? req.csr.subjectDer })
}

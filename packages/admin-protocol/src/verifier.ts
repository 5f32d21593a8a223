import { createCmsVerifier, isCryptoError, type CmsVerifier } from '@smgw/crypto'
import { createPathValidator, parseName, type DistinguishedName } from '@smgw/pki'
import { AdminProtocolError, type AdminProtocolErrorCode } from './errors.js'

export interface SignerVerifierConfig {
  /** The subject the signer certificate must have, exactly (RFC 4514 text as `formatName` writes it, or parsed). */
  readonly expectedSubject: DistinguishedName | string
  /** SM-PKI trust anchors, DER. */
  readonly roots: readonly Uint8Array[]
  /** Sub-CA certificates that may complete the signer's chain (a message may also carry them), DER. */
  readonly intermediates?: readonly Uint8Array[]
  readonly crls?: readonly Uint8Array[]
  /** Every certificate below the root needs a CRL of its issuer (default false). */
  readonly requireCrl?: boolean
  /** The code for a valid SM-PKI signature by someone else. */
  readonly notOwnRole: Extract<AdminProtocolErrorCode, 'SIGNER_NOT_GWA' | 'SIGNER_NOT_MANUFACTURER'>
}

export interface VerifiedObject {
  /** The signed content (eContent). */
  readonly content: Uint8Array
  /** The signer's certificate, DER. */
  readonly signerCertificate: Uint8Array
}

export interface SignerVerifier {
  /**
   * Checks a CMS SignedData: the signature (SIGNATURE_INVALID), the signer certificate's
   * path to the roots for signing at `at` — validity, key usage, CRLs (SIGNATURE_INVALID with
   * the validator's reason) — and the signer's subject (`notOwnRole`). MALFORMED when the
   * bytes are no SignedData.
   */
  open(der: Uint8Array, at: Date): Promise<VerifiedObject>
}

/** CMS errors that mean the bytes are not a readable SignedData (not: a signature that fails). */
const MALFORMED_CMS = new Set(['CMS_MALFORMED', 'CMS_UNSUPPORTED_CONTENT_TYPE', 'CMS_CONTENT_MISSING', 'CERT_MALFORMED'])

/**
 * The trust decision of docs/admin-protocol.md "Trust": a valid SM-PKI signature is not
 * enough, the signer must be the one participant named by `expectedSubject` (the GWA for
 * wake-ups and commands, the manufacturer for firmware). Prepared once: the CMS verifier
 * remembers decoded signer certificates and keys, the path validator its roots, CRLs and
 * verified CA signatures; the time-dependent checks run on every call.
 */
export function createSignerVerifier(config: SignerVerifierConfig): SignerVerifier {
  const expected = typeof config.expectedSubject === 'string' ? parseExpected(config.expectedSubject) : config.expectedSubject
  if (Object.keys(expected).length === 0) throw new TypeError('expectedSubject: an empty name')
  const cms: CmsVerifier = createCmsVerifier({ certificates: config.intermediates ?? [] })
  const paths = createPathValidator({
    roots: config.roots,
    intermediates: config.intermediates ?? [],
    crls: config.crls ?? [],
    requireCrl: config.requireCrl ?? false,
  })
  return {
    async open(der, at) {
      let verified: Awaited<ReturnType<CmsVerifier['verify']>>
      try {
        verified = await cms.verify(der)
      } catch (err) {
        if (isCryptoError(err) && MALFORMED_CMS.has(err.code)) throw new AdminProtocolError('MALFORMED', `CMS SignedData: ${err.message}`, { cause: err })
        if (isCryptoError(err)) throw new AdminProtocolError('SIGNATURE_INVALID', `CMS signature: ${err.message}`, { cause: err })
        throw new AdminProtocolError('MALFORMED', `CMS SignedData: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
      }
      const result = paths.validate({ leaf: verified.signerCertificate, intermediates: verified.certificates, at, purpose: 'sig' })
      if (!result.ok) throw new AdminProtocolError('SIGNATURE_INVALID', `signer certificate ${result.reason}: ${result.detail}`)
      const leaf = result.chain[0]
      const subject = leaf === undefined ? undefined : parseSubject(leaf.subject)
      if (subject === undefined || !sameName(subject, expected)) {
        throw new AdminProtocolError(config.notOwnRole, `signed by ${leaf?.subject ?? 'an unreadable subject'}, not by ${describe(expected)}`)
      }
      return { content: verified.content, signerCertificate: verified.signerCertificate }
    },
  }
}

function parseExpected(text: string): DistinguishedName {
  try {
    return parseName(text)
  } catch (err) {
    throw new TypeError(`expectedSubject: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

function parseSubject(text: string): DistinguishedName | undefined {
  try {
    return parseName(text)
  } catch {
    // A subject with attributes the SM-PKI does not use is not the expected one.
    return undefined
  }
}

function sameName(a: DistinguishedName, b: DistinguishedName): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof DistinguishedName>
  for (const k of keys) if (a[k] !== b[k]) return false
  return true
}

function describe(dn: DistinguishedName): string {
  return Object.entries(dn).map(([k, v]) => `${k}=${v}`).join(',')
}

import { AsnConvert } from '@peculiar/asn1-schema'
import { IssuerAndSerialNumber, SignerIdentifier, type SignerInfo } from '@peculiar/asn1-cms'
import { CryptoError, wrapErrors } from '../errors.js'
import { Certificate, Name } from '@peculiar/asn1-x509'
import { decodeCertificate, readCertificateDer, type CertificateInfo } from '../keys/certificate.js'
import { ID_EC_PUBLIC_KEY, decodeEcPublicKey, type EcPublicKey } from '../primitives/ec-public-key.js'
import { verifyEcdsaWithKey } from '../primitives/ecdsa.js'
import { digest, hashByEcdsaOid, hashByOid, type HashInfo } from '../primitives/hash.js'
import { encodeSetOf, equalBytes } from './bytes.js'
import { createRememberingPartParser, decodeOctetString, decodeOidValue, decodeTimeValue, type PartParser } from './content-info.js'
import { id_contentType, id_messageDigest, id_signingTime } from './oids.js'
import { decodeOid, readDerChildren, TAG } from './der.js'
import { isRoundTripValue } from './signed-reader.js'
import { findSignerCertificate, openSignedData, receivedSignerInfos, type CertificateCache } from './signed-data.js'

export interface VerifyCmsOptions {
  /** The content of a detached SignedData (eContent absent). */
  readonly detachedContent?: Uint8Array
  /**
   * Decides whether the signer's certificate is trusted (path validation lives in
   * @smgw/pki); it receives the signer certificate and every certificate the message
   * carries, all DER, and throws to reject. Without it, no trust decision is made.
   */
  readonly trust?: (signerCertificate: Uint8Array, certificates: readonly Uint8Array[]) => Promise<void>
}

export interface VerifiedCms {
  readonly content: Uint8Array
  readonly contentType: string
  readonly signerCertificate: Uint8Array
  /** The signer certificate decoded (a prepared verifier's remembered one: no second decode for its subject). */
  readonly signer: CertificateInfo
  readonly certificates: readonly Uint8Array[]
  readonly signingTime: Date | undefined
}

/** What a prepared verifier is made from. */
export interface CreateCmsVerifierOptions {
  /** As in VerifyCmsOptions: decides whether the signer's certificate is trusted. */
  readonly trust?: VerifyCmsOptions['trust']
  /** Certificates expected in messages (the peers' SIG certificates and their CAs), decoded now. */
  readonly certificates?: readonly (Uint8Array | CertificateInfo)[]
  /** How many decoded certificates (with their public keys) to remember, least recently used out first; default 64. */
  readonly maxCachedCertificates?: number
}

/** A verifier prepared once and used for every message; it remembers decoded certificates and keys. */
export interface CmsVerifier {
  verify(der: Uint8Array, options?: { readonly detachedContent?: Uint8Array }): Promise<VerifiedCms>
}

/**
 * Verifies a CMS SignedData (RFC 5652 §5.6): for every SignerInfo, the signer certificate
 * is found among the carried certificates, the message digest is compared and the ECDSA
 * signature over the DER signed attributes is checked; then `trust` is asked about the
 * (first) signer certificate. Returns the content. One-shot form of {@link createCmsVerifier}.
 */
export async function verifyCms(der: Uint8Array, options: VerifyCmsOptions = {}): Promise<VerifiedCms> {
  return createCmsVerifier(options.trust === undefined ? {} : { trust: options.trust })
    .verify(der, options.detachedContent === undefined ? {} : { detachedContent: options.detachedContent })
}

interface CachedCertificate {
  readonly info: CertificateInfo
  /** The validated public key, decoded on first use. */
  key?: EcPublicKey
}

/**
 * Prepares SignedData verification: carried certificates are remembered by their exact
 * DER bytes (a bounded, per-verifier map; only canonical encodings, see openSignedData), with
 * their validated public keys, so a message from a known signer costs one parse, one digest
 * and one ECDSA verification. Every signature and digest is still checked on every message.
 */
export function createCmsVerifier(options: CreateCmsVerifierOptions = {}): CmsVerifier {
  const max = options.maxCachedCertificates ?? 64
  if (!Number.isInteger(max) || max < 0) throw new CryptoError('INVALID_ARGUMENT', `maxCachedCertificates ${String(max)}`)
  const entries = new Map<string, CachedCertificate>()
  const keyOf = (der: Uint8Array) => Buffer.from(der.buffer, der.byteOffset, der.length).toString('latin1')
  const remember = (info: CertificateInfo): CachedCertificate => {
    const entry: CachedCertificate = { info }
    if (max === 0) return entry
    if (entries.size >= max) {
      const oldest = entries.keys().next()
      if (oldest.done !== true) entries.delete(oldest.value)
    }
    entries.set(keyOf(info.der), entry)
    return entry
  }
  for (const c of options.certificates ?? []) {
    const info = c instanceof Uint8Array ? decodeCertificate(c) : c
    // Remembered only in its canonical encoding, as for carried certificates (openSignedData).
    const canonical = wrapErrors('CERT_MALFORMED', 'certificate does not encode', () => new Uint8Array(AsnConvert.serialize(AsnConvert.parse(info.der, Certificate))))
    if (equalBytes(canonical, info.der)) remember(info)
  }
  const cache: CertificateCache = {
    get: (der) => {
      const key = keyOf(der)
      const known = entries.get(key)
      if (known !== undefined) {
        // Least recently used first out: the sub-CA every gateway sends stays while new SIG certificates pass through.
        entries.delete(key)
        entries.set(key, known)
        return known.info
      }
      // A certificate the strict reader accepts is DER that asn1-schema re-encodes byte for byte
      // (keys/certificate.test.ts), i.e. a canonical encoding: decoded from the received bytes,
      // it is what the asn1-schema path of openSignedData would have remembered. Why: a new
      // gateway's SIG certificate otherwise made the whole SignedData go through asn1-schema (profiled, bench wan).
      const read = readCertificateDer(der.slice()) // a copy: the message buffer is not kept alive by the cache
      return read === undefined ? undefined : remember(read).info
    },
    set: (_der, info) => { remember(info) },
  }
  const publicKeyOf = (cert: CertificateInfo): EcPublicKey => {
    const entry = entries.get(keyOf(cert.der))
    if (entry?.info === cert) return (entry.key ??= decodeEcPublicKey(cert.publicKey))
    return decodeEcPublicKey(cert.publicKey)
  }

  const parseSid = createSignerIdentifierParser()

  return {
    async verify(der, perMessage = {}) {
      const { sd, content: eContent, certificates, decoded, received } = openSignedData(der, cache, parseSid)
      const contentType = sd.encapContentInfo.eContentType
      let content: Uint8Array
      if (eContent !== undefined) content = eContent
      else if (perMessage.detachedContent) content = perMessage.detachedContent
      else throw new CryptoError('CMS_CONTENT_MISSING', 'detached SignedData: the content must be given')

      if (sd.signerInfos.length === 0) throw new CryptoError('CMS_SIGNER_NOT_FOUND', 'SignedData has no SignerInfo')

      let first: { cert: CertificateInfo; signingTime: Date | undefined } | undefined
      const raw = receivedSignerInfos(received, sd.signerInfos.length)
      for (const [i, si] of sd.signerInfos.entries()) {
        const result = verifySignerInfo(si, raw?.[i], decoded, content, contentType, publicKeyOf)
        first ??= result
      }
      if (first === undefined) throw new CryptoError('CMS_SIGNER_NOT_FOUND', 'SignedData has no SignerInfo')
      if (options.trust) {
        try {
          await options.trust(first.cert.der, certificates)
        } catch (err) {
          throw new CryptoError('CMS_SIGNER_UNTRUSTED', `signer certificate not trusted: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
        }
      }
      return { content, contentType, signerCertificate: first.cert.der, signer: first.cert, certificates, signingTime: first.signingTime }
    },
  }
}

/**
 * The signer identifiers of a prepared verifier: issuerAndSerialNumber (RFC 5652 §5.3) taken
 * apart by hand, its issuer Name parsed by asn1-schema once per received encoding (every
 * gateway of a sub-CA names the same issuer), the serial number's INTEGER contents as received
 * (what asn1-schema keeps); anything else is parsed and remembered as a whole. Why: the serial
 * differs for every gateway, so remembering whole identifiers missed, and parsing them cost a
 * twentieth of the receiver's CPU per message (profiled, bench wan). verify.test.ts compares
 * both with AsnConvert.parse.
 */
export function createSignerIdentifierParser(): PartParser<SignerIdentifier> {
  const parseName = createRememberingPartParser(Name)
  const parseWhole = createRememberingPartParser(SignerIdentifier)
  return (bytes) => {
    const f = bytes[0] === TAG.SEQUENCE ? readDerChildren(bytes) : undefined
    if (f?.length === 2 && f[0]?.tag === TAG.SEQUENCE && f[1]?.tag === TAG.INTEGER && f[1].contents.length > 0) {
      const issuer = parseName(f[0].bytes)
      if (issuer !== undefined) return new SignerIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer, serialNumber: f[1].contents.slice().buffer }) })
    }
    return parseWhole(bytes)
  }
}

function verifySignerInfo(si: SignerInfo, received: Uint8Array | undefined, certs: readonly CertificateInfo[], content: Uint8Array, contentType: string, publicKeyOf: (cert: CertificateInfo) => EcPublicKey): { cert: CertificateInfo; signingTime: Date | undefined } {
  const cert = findSignerCertificate(si, certs, received)
  if (cert === undefined) throw new CryptoError('CMS_SIGNER_NOT_FOUND', 'the signer certificate is not in the SignedData')
  const hash = hashByOid(si.digestAlgorithm.algorithm)
  if (hash === undefined) throw new CryptoError('CMS_UNSUPPORTED_ALGORITHM', `digest algorithm ${si.digestAlgorithm.algorithm}`)
  const sigAlg = si.signatureAlgorithm.algorithm
  // RFC 5753 §2.1.1: ecdsa-with-SHA*; some producers put id-ecPublicKey and let the digest algorithm decide.
  const sigHash: HashInfo | undefined = sigAlg === ID_EC_PUBLIC_KEY ? hash : hashByEcdsaOid(sigAlg)
  if (sigHash === undefined) throw new CryptoError('CMS_UNSUPPORTED_ALGORITHM', `signature algorithm ${sigAlg}`)
  const contentDigest = digest(hash.name, content)
  const signature = new Uint8Array(si.signature.buffer)

  let signedData: Uint8Array
  let signingTime: Date | undefined
  if (si.signedAttrs) {
    // RFC 5652 §5.3/§11: content-type and message-digest are required and single-valued.
    const attr = (type: string): ArrayBuffer => {
      const found = si.signedAttrs?.filter((a) => a.attrType === type) ?? []
      const value = found[0]?.attrValues[0]
      if (found.length !== 1 || found[0]?.attrValues.length !== 1 || value === undefined) throw new CryptoError('CMS_MALFORMED', `signed attribute ${type} missing or repeated`)
      return value
    }
    const messageDigest = decodeOctetString(attr(id_messageDigest), 'message-digest')
    if (!equalBytes(messageDigest, contentDigest)) throw new CryptoError('CMS_DIGEST_MISMATCH', 'message digest does not match the content')
    const ct = decodeOidValue(attr(id_contentType), 'content-type attribute')
    if (ct !== contentType) throw new CryptoError('CMS_MALFORMED', `content-type attribute ${ct} differs from eContentType ${contentType}`)
    if (si.signedAttrs.some((a) => a.attrType === id_signingTime)) signingTime = decodeTimeValue(attr(id_signingTime), 'signing-time')
    // RFC 5652 §5.4: the signature is over the DER of the attributes with the EXPLICIT SET OF tag,
    // not the [0] IMPLICIT one. Attribute values are kept as received (ANY), in the order received.
    signedData = receivedSignedAttributes(received, si.signedAttrs.length) ?? encodeSetOf(si.signedAttrs.map((a) => new Uint8Array(AsnConvert.serialize(a))))
  } else {
    signedData = content
  }
  if (!verifyEcdsaWithKey(publicKeyOf(cert), signedData, signature, sigHash.name, 'der')) throw new CryptoError('CMS_SIGNATURE_INVALID', 'signature does not verify')
  return { cert, signingTime }
}

/**
 * The signed attributes as received, with the [0] IMPLICIT tag replaced by SET (RFC 5652
 * §5.4), when that is byte for byte what re-encoding the decoded attributes gives: every
 * length DER (definite, minimal), `count` attributes, each exactly SEQUENCE { OBJECT
 * IDENTIFIER in minimal form, SET OF values }, each value of a type asn1-schema re-encodes
 * exactly as received (see isRoundTripValue). Undefined otherwise, and the caller re-encodes
 * as before, so what is verified is always what the decoded attributes encode to. Why: re-serialising the attributes with asn1-schema per message
 * cost about a tenth of a verify+decrypt (profiled).
 */
export function receivedSignedAttributes(signerInfo: Uint8Array | undefined, count: number): Uint8Array | undefined {
  if (signerInfo === undefined) return undefined
  // SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, signedAttrs [0] IMPLICIT OPTIONAL, ... }
  const attrs = readDerChildren(signerInfo)?.[3]
  if (attrs?.tag !== TAG.CONTEXT_0) return undefined
  const list = readDerChildren(attrs.bytes)
  if (list?.length !== count) return undefined
  for (const a of list) {
    const parts = a.tag === TAG.SEQUENCE ? readDerChildren(a.bytes) : undefined
    if (parts?.length !== 2 || parts[0]?.tag !== TAG.OID || parts[1]?.tag !== TAG.SET || decodeOid(parts[0].contents) === undefined) return undefined
    const values = readDerChildren(parts[1].bytes)
    if (values === undefined || !values.every((v) => isRoundTripValue(v, 0))) return undefined
  }
  const out = attrs.bytes.slice()
  out[0] = TAG.SET
  return out
}

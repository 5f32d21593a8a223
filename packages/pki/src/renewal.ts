import { AsnConvert } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier } from '@peculiar/asn1-x509'
import { CURVES, type HashName, type Signer } from '@smgw/crypto'
import { encodeSignatureAlgorithm, signatureAlgorithmByOid, verifySignature } from './algorithms.js'
import { decodeCertificate, type DecodedCertificate } from './certificate.js'
import { decodeCsr, verifyCsr, type DecodedCsr } from './csr.js'
import { bytesEqual, concatBytes, decodeBitStringBytes, decodeSequence, encodeSigned, encodeTlv } from './der.js'
import { malformed, PkiError } from './errors.js'
import { id_smgw_renewalRequest } from './oids.js'

/**
 * A renewal request: the CSR of the new key, additionally signed by the still-valid old
 * key (TR-03109-4 v1.2.1 wraps the inner CSR in a CMS SignedData by the old key; until the
 * project's CMS lands we use this plain DER wrapper with the same meaning):
 *
 *   RenewalRequest ::= SEQUENCE {           -- the X.509 SIGNED{} pattern
 *     toBeSigned  SEQUENCE {
 *       type            OBJECT IDENTIFIER,  -- id_smgw_renewalRequest
 *       csr             CertificationRequest,  -- signed by the NEW key
 *       oldCertificate  Certificate },         -- the certificate being renewed
 *     signatureAlgorithm  AlgorithmIdentifier,  -- ecdsa-with-SHA*
 *     signature           BIT STRING }          -- by the OLD key over toBeSigned
 *
 * The same wrapper serves the gateway's first request, signed with its manufacturer
 * (Gütesiegel) key.
 */
export interface CreateRenewalRequestOptions {
  /** The new key's CSR (DER), from createCsr. */
  readonly csr: Uint8Array
  /** The old key: signs the wrapper. */
  readonly oldSigner: Signer
  /** The certificate of the old key (DER). */
  readonly oldCertificate: Uint8Array
  readonly hash?: HashName
}

export interface DecodedRenewalRequest {
  readonly der: Uint8Array
  readonly toBeSigned: Uint8Array
  readonly csr: DecodedCsr
  readonly oldCertificate: DecodedCertificate
  readonly signatureAlgorithm: string
  readonly signature: Uint8Array
}

/** X.690 §8.19: OBJECT IDENTIFIER, base-128 subidentifiers (first two arcs combined). */
function encodeOid(oid: string): Uint8Array {
  const arcs = oid.split('.').map((a) => BigInt(a))
  const first = arcs[0] ?? 0n
  const second = arcs[1] ?? 0n
  const values = [first * 40n + second, ...arcs.slice(2)]
  const bytes: number[] = []
  for (const v of values) {
    const chunk: number[] = []
    let x = v
    do {
      chunk.unshift(Number(x & 0x7fn))
      x >>= 7n
    } while (x > 0n)
    for (let i = 0; i < chunk.length - 1; i++) chunk[i] = (chunk[i] ?? 0) | 0x80
    bytes.push(...chunk)
  }
  return encodeTlv(0x06, new Uint8Array(bytes))
}

export async function createRenewalRequest(o: CreateRenewalRequestOptions): Promise<Uint8Array> {
  decodeCsr(o.csr)
  const old = decodeCertificate(o.oldCertificate)
  if (!bytesEqual(old.publicKey, o.oldSigner.publicKey)) throw new PkiError('PKI_BAD_ARGUMENT', 'the old signer does not hold the old certificate\'s key')
  const hash = o.hash ?? CURVES[o.oldSigner.curve].hash
  const tbs = encodeTlv(0x30, concatBytes(encodeOid(id_smgw_renewalRequest), o.csr, o.oldCertificate))
  const signature = await o.oldSigner.sign(tbs, hash)
  return encodeSigned(tbs, new Uint8Array(AsnConvert.serialize(encodeSignatureAlgorithm(hash))), signature)
}

export function decodeRenewalRequest(der: Uint8Array): DecodedRenewalRequest {
  const [tbs, alg, sig, ...extra] = decodeSequence(der, 'RenewalRequest')
  if (tbs === undefined || alg === undefined || sig === undefined || extra.length > 0) throw new PkiError('PKI_MALFORMED', 'RenewalRequest: expected three elements')
  const [type, csr, cert, ...more] = decodeSequence(tbs, 'RenewalRequest.toBeSigned')
  if (type === undefined || csr === undefined || cert === undefined || more.length > 0) throw new PkiError('PKI_MALFORMED', 'RenewalRequest.toBeSigned: expected three elements')
  if (!bytesEqual(type, encodeOid(id_smgw_renewalRequest))) throw new PkiError('PKI_MALFORMED', 'not a renewal request (type OID)')
  let signatureAlgorithm: string
  try {
    signatureAlgorithm = AsnConvert.parse(alg, AlgorithmIdentifier).algorithm
  } catch (err) {
    throw malformed('RenewalRequest signatureAlgorithm', err)
  }
  return {
    der, toBeSigned: tbs, csr: decodeCsr(csr), oldCertificate: decodeCertificate(cert), signatureAlgorithm,
    signature: decodeBitStringBytes(sig, 'RenewalRequest.signature'),
  }
}

/**
 * Checks both signatures: the inner CSR by the new key (verifyCsr) and the wrapper by the
 * key of the old certificate. Does not judge the old certificate's path: the CA does that
 * (signRenewalRequest) with its trust settings and clock.
 */
export function verifyRenewalRequest(der: Uint8Array): DecodedRenewalRequest {
  const req = decodeRenewalRequest(der)
  verifyCsr(req.csr.der)
  const alg = signatureAlgorithmByOid(req.signatureAlgorithm)
  if (alg === undefined) throw new PkiError('PKI_UNSUPPORTED_ALGORITHM', `renewal signature algorithm ${req.signatureAlgorithm}`)
  if (!verifySignature(req.oldCertificate.publicKey, alg.hash, req.toBeSigned, req.signature)) {
    throw new PkiError('PKI_BAD_SIGNATURE', 'renewal request: the outer signature does not verify with the old certificate\'s key')
  }
  return req
}

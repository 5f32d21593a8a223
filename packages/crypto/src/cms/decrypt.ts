import { EncryptedContentInfo, EnvelopedData, KeyAgreeRecipientIdentifier, RecipientEncryptedKeys, type KeyAgreeRecipientInfo, type RecipientEncryptedKey } from '@peculiar/asn1-cms'
import { AsnConvert } from '@peculiar/asn1-schema'
import { CURVES, type CurveName } from '../curves.js'
import { CryptoError } from '../errors.js'
import { decodeCertificate, type CertificateInfo } from '../keys/certificate.js'
import { aesCbcDecrypt, aesGcmDecrypt, aesKeyUnwrap } from '../primitives/aes.js'
import { ID_EC_PUBLIC_KEY, decodeEcPoint, encodeEcSpki } from '../primitives/ec-public-key.js'
import type { KeyAgreer } from '../security-module/types.js'
import { contentEncryptionByOid } from './algorithms.js'
import { AuthEnvelopedData } from './asn1/auth-enveloped-data.js'
import { GcmParameters } from './asn1/gcm-parameters.js'
import { encodeSetOf, equalBytes } from './bytes.js'
import { TAG, readDerChildren } from './der.js'
import { createRememberingPartParser, decodeAlgorithmOid, decodeContentInfo, decodeOctetString, decodeOidValue, matchesIssuerAndSerial, parseAsn, type PartParser } from './content-info.js'
import { readEnvelopedData } from './enveloped-reader.js'
import { deriveKek } from './kek.js'
import { id_ct_authEnvelopedData, id_envelopedData } from './oids.js'

export interface DecryptCmsOptions {
  /** The recipient's ECDH private key (security module or key object). */
  readonly agreer: KeyAgreer
  /** The recipient's certificate, DER or already decoded: it selects the RecipientEncryptedKey. */
  readonly certificate: Uint8Array | CertificateInfo
}

/** A decryptor prepared once for one recipient key and certificate. */
export interface CmsDecryptor {
  decrypt(der: Uint8Array): Promise<Uint8Array>
}

/** One-shot form of {@link createCmsDecryptor}. */
export async function decryptCms(der: Uint8Array, options: DecryptCmsOptions): Promise<Uint8Array> {
  return createCmsDecryptor(options).decrypt(der)
}

/**
 * Prepares decryption for one recipient (the certificate is decoded once; recipient
 * identifiers are parsed once per distinct received encoding), then decrypts an EnvelopedData (RFC 5652 §6) or AuthEnvelopedData (RFC 5083) for the
 * recipient whose certificate is given: finds its RecipientEncryptedKey (by
 * issuerAndSerialNumber or rKeyId = subjectKeyIdentifier), agrees the key with the
 * originator's ephemeral key, unwraps the content key and decrypts.
 */
export function createCmsDecryptor(options: DecryptCmsOptions): CmsDecryptor {
  const cert = options.certificate instanceof Uint8Array ? decodeCertificate(options.certificate) : options.certificate
  const parseRid = createRememberingPartParser(KeyAgreeRecipientIdentifier)
  return { decrypt: (der) => decryptFor(der, cert, options.agreer, parseRid) }
}

async function decryptFor(der: Uint8Array, cert: CertificateInfo, agreer: KeyAgreer, parseRid: PartParser<KeyAgreeRecipientIdentifier>): Promise<Uint8Array> {
  const info = decodeContentInfo(der, [id_envelopedData, id_ct_authEnvelopedData])
  const received = info.content instanceof Uint8Array ? info.content : new Uint8Array(info.content)
  let recipientInfos: EnvelopedData['recipientInfos']
  let eci: EncryptedContentInfo
  let mac: Uint8Array | undefined
  let aad: Uint8Array = new Uint8Array(0)
  if (info.contentType === id_envelopedData) {
    const ed = readEnvelopedData(received, parseRid) ?? parseAsn(info.content, EnvelopedData, 'EnvelopedData')
    recipientInfos = ed.recipientInfos
    eci = ed.encryptedContentInfo
  } else {
    const aed = parseAsn(info.content, AuthEnvelopedData, 'AuthEnvelopedData')
    recipientInfos = aed.recipientInfos
    eci = aed.authEncryptedContentInfo
    mac = new Uint8Array(aed.mac.buffer)
    // RFC 5083 §2.2: the authenticated attributes are the additional data, as a DER SET OF (tag 0x31).
    if (aed.authAttrs) aad = encodeSetOf(aed.authAttrs.map((a) => new Uint8Array(AsnConvert.serialize(a))))
  }

  const rids = receivedRecipientIds(received, recipientInfos)
  let match: { kari: KeyAgreeRecipientInfo; rek: RecipientEncryptedKey } | undefined
  for (const [i, ri] of recipientInfos.entries()) {
    for (const [j, rek] of (ri.kari?.recipientEncryptedKeys ?? new RecipientEncryptedKeys()).entries()) {
      if (match === undefined && ri.kari && matchesRecipient(rek, cert, rids?.[i]?.[j])) match = { kari: ri.kari, rek }
    }
  }
  if (match === undefined) throw new CryptoError('CMS_NO_RECIPIENT', `no KeyAgreeRecipientInfo for ${cert.subjectText}`)
  const cek = await unwrapContentKey(match.kari, match.rek, cert, agreer)
  return decryptContent(eci, cek, mac, aad)
}

function matchesRecipient(rek: RecipientEncryptedKey, cert: CertificateInfo, received: Uint8Array | undefined): boolean {
  if (rek.rid.issuerAndSerialNumber) return matchesIssuerAndSerial(rek.rid.issuerAndSerialNumber, cert, received)
  if (rek.rid.rKeyId) return equalBytes(new Uint8Array(rek.rid.rKeyId.subjectKeyIdentifier.buffer), cert.subjectKeyIdentifier)
  return false
}

/**
 * The received bytes of every rid of every KeyAgreeRecipientInfo, by RecipientInfo and
 * RecipientEncryptedKey index, lined up with what asn1-schema decoded (entries of other
 * kinds, or that do not line up, are undefined), so identifiers are compared as received
 * bytes instead of re-encoding names per message (matchesIssuerAndSerial).
 * Enveloped/AuthEnvelopedData ::= SEQUENCE { version, originatorInfo [0] OPTIONAL, recipientInfos SET, ... } (RFC 5652 §6.1, RFC 5083 §2.1);
 * KeyAgreeRecipientInfo ::= [1] { version, originator [0], ukm [1] OPTIONAL, keyEncryptionAlgorithm, recipientEncryptedKeys } (§6.2.2).
 */
function receivedRecipientIds(envelope: Uint8Array, recipientInfos: EnvelopedData['recipientInfos']): ((Uint8Array | undefined)[] | undefined)[] | undefined {
  const fields = readDerChildren(envelope)
  const set = fields?.[1]?.tag === TAG.SET ? fields[1] : fields?.[2]
  if (set?.tag !== TAG.SET) return undefined
  const infos = readDerChildren(set.bytes)
  if (infos?.length !== recipientInfos.length) return undefined
  return infos.map((ri, i) => {
    const reks = recipientInfos[i]?.kari?.recipientEncryptedKeys
    if (ri.tag !== TAG.CONTEXT_1 || reks === undefined) return undefined
    const raw = readDerChildren(ri.bytes)
    const list = raw?.[raw.length - 1]
    const keys = list?.tag === TAG.SEQUENCE ? readDerChildren(list.bytes) : undefined
    if (keys?.length !== reks.length) return undefined
    return keys.map((k) => (k.tag === TAG.SEQUENCE ? readDerChildren(k.bytes)?.[0]?.bytes : undefined))
  })
}

async function unwrapContentKey(kari: KeyAgreeRecipientInfo, rek: RecipientEncryptedKey, cert: CertificateInfo, agreer: KeyAgreer): Promise<Uint8Array> {
  const curve: CurveName | undefined = cert.curve
  if (curve === undefined) throw new CryptoError('CURVE_UNSUPPORTED', 'recipient certificate has no EC key on a TR-03109-3 curve')
  if (agreer.curve !== curve) throw new CryptoError('CURVE_MISMATCH', `the key is on ${agreer.curve}, the certificate on ${curve}`)
  const originatorKey = kari.originator.originatorKey
  // RFC 5753 §3.1.1: the originator MUST be originatorKey (an ephemeral key).
  if (originatorKey === undefined) throw new CryptoError('CMS_UNSUPPORTED_ALGORITHM', 'originator is not an originatorKey (static-static ECDH is not supported)')
  if (originatorKey.algorithm.algorithm !== ID_EC_PUBLIC_KEY) throw new CryptoError('CMS_UNSUPPORTED_ALGORITHM', `originator key algorithm ${originatorKey.algorithm.algorithm}`)
  const params = originatorKey.algorithm.parameters
  if (params && new Uint8Array(params)[0] === 0x06) {
    const named = decodeOidValue(params, 'originator key parameters')
    if (named !== CURVES[curve].oid) throw new CryptoError('CURVE_MISMATCH', `originator key on ${named}, recipient on ${curve}`)
  }
  // An uncompressed point of the right length is put into its SPKI as it is: the agreer
  // validates the peer key (on the curve, same curve) before using it (KeyAgreer contract);
  // anything else (compressed, wrong length) is decoded and validated here.
  const point = new Uint8Array(originatorKey.publicKey)
  const originatorSpki = point.length === 1 + 2 * CURVES[curve].size && point[0] === 0x04 ? encodeEcSpki(curve, point) : decodeEcPoint(curve, point).spki
  const agreementOid = kari.keyEncryptionAlgorithm.algorithm
  const wrapParams = kari.keyEncryptionAlgorithm.parameters
  if (!wrapParams) throw new CryptoError('CMS_MALFORMED', 'key agreement algorithm without key wrap parameters')
  const wrapOid = decodeAlgorithmOid(wrapParams, 'key wrap algorithm')
  let shared: Uint8Array
  try {
    shared = await agreer.deriveSharedSecret(originatorSpki)
  } catch (err) {
    if (err instanceof CryptoError) throw err
    throw new CryptoError('CMS_DECRYPT_FAILED', `key agreement failed: ${(err as Error).message}`, { cause: err })
  }
  const kek = deriveKek(agreementOid, wrapOid, shared, kari.ukm ? new Uint8Array(kari.ukm.buffer) : undefined)
  return aesKeyUnwrap(kek, new Uint8Array(rek.encryptedKey.buffer))
}

function decryptContent(eci: EncryptedContentInfo, cek: Uint8Array, mac: Uint8Array | undefined, aad: Uint8Array): Uint8Array {
  const algOid = eci.contentEncryptionAlgorithm.algorithm
  const alg = contentEncryptionByOid(algOid)
  if (alg === undefined) throw new CryptoError('CMS_UNSUPPORTED_ALGORITHM', `content encryption ${algOid}`)
  if ((alg.mode === 'gcm') !== (mac !== undefined)) throw new CryptoError('CMS_UNSUPPORTED_ALGORITHM', `${alg.name} in the wrong envelope (GCM belongs in AuthEnvelopedData, CBC in EnvelopedData)`)
  if (cek.length !== alg.keySize) throw new CryptoError('CMS_DECRYPT_FAILED', `content key of ${String(cek.length)} bytes for ${alg.name}`)
  const enc = eci.encryptedContent
  let ciphertext: Uint8Array
  if (enc?.value) ciphertext = new Uint8Array(enc.value.buffer)
  else if (enc?.constructedValue) ciphertext = new Uint8Array(Buffer.concat(enc.constructedValue.map((o) => new Uint8Array(o.buffer))))
  else throw new CryptoError('CMS_CONTENT_MISSING', 'encrypted content is absent')
  const params = eci.contentEncryptionAlgorithm.parameters
  if (!params) throw new CryptoError('CMS_MALFORMED', `${alg.name} without parameters`)
  if (alg.mode === 'cbc') return aesCbcDecrypt(cek, decodeOctetString(params, 'CBC IV'), ciphertext)
  const gcm = parseAsn(params, GcmParameters, 'GCMParameters')
  if (mac === undefined || gcm.icvLen !== mac.length) throw new CryptoError('CMS_DECRYPT_FAILED', `MAC of ${String(mac?.length ?? 0)} bytes, GCMParameters say ${String(gcm.icvLen)}`)
  return aesGcmDecrypt(cek, new Uint8Array(gcm.nonce.buffer), ciphertext, mac, aad)
}

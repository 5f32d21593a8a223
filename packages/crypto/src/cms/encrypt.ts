import { diffieHellman, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import { IssuerAndSerialNumber, KeyAgreeRecipientIdentifier, KeyEncryptionAlgorithmIdentifier } from '@peculiar/asn1-cms'
import { AlgorithmIdentifier, Name } from '@peculiar/asn1-x509'
import { CURVES } from '../curves.js'
import { CryptoError, settle } from '../errors.js'
import { decodeCertificate, type CertificateInfo } from '../keys/certificate.js'
import { aesCbcEncrypt, aesGcmEncrypt, aesKeyWrap } from '../primitives/aes.js'
import { ID_EC_PUBLIC_KEY, decodeEcPublicKey, encodeOid } from '../primitives/ec-public-key.js'
import { deriveX963 } from '../primitives/kdf.js'
import { CONTENT_ENCRYPTIONS, KEY_AGREEMENTS, KEY_WRAPS, type ContentEncryptionName } from './algorithms.js'
import { TAG, encodeDer, encodeSmallInteger, node, tlv, type DerNode } from './der.js'
import { encodeSharedInfo } from './kek.js'
import { dhSinglePass_stdDH_sha256kdf_scheme, id_ct_authEnvelopedData, id_data, id_envelopedData } from './oids.js'

export interface EncryptCmsOptions {
  /** Each recipient's (ENC) certificate, DER or already decoded; its EC key gets one KeyAgreeRecipientInfo. */
  readonly recipients: readonly (Uint8Array | CertificateInfo)[]
  /** CBC gives EnvelopedData (RFC 5652 §6), GCM AuthEnvelopedData (RFC 5083). Default aes128-cbc. */
  readonly contentEncryption?: ContentEncryptionName
  /** Source of randomness (content key, IV); node:crypto randomBytes by default. */
  readonly random?: (length: number) => Uint8Array
}

/** An encryptor prepared once for a fixed set of recipients. */
export interface CmsEncryptor {
  encrypt(content: Uint8Array): Promise<Uint8Array>
}

/**
 * Encrypts `content` to every recipient: a fresh content-encryption key, wrapped for each
 * recipient by ephemeral-static ECDH (RFC 5753 §3.1: originatorKey = the ephemeral public
 * key, dhSinglePass-stdDH-sha256kdf-scheme, X9.63 KDF over ECC-CMS-SharedInfo, AES key wrap).
 * One-shot form of {@link createCmsEncryptor}.
 */
export function encryptCms(content: Uint8Array, options: EncryptCmsOptions): Promise<Uint8Array> {
  return settle(() => createCmsEncryptor(options)).then((e) => e.encrypt(content))
}

interface PreparedRecipient {
  readonly nodeCurve: string
  /** The recipient's validated public key. */
  readonly key: KeyObject
  /** Length of an uncompressed point of the curve (node exports SPKI with the point uncompressed, last). */
  readonly pointLength: number
  /** KeyAgreeRecipientIdentifier (issuerAndSerialNumber), DER. */
  readonly rid: Uint8Array
}

/**
 * Prepares encryption to fixed recipients: their certificates are decoded and their public
 * keys validated once (decodeEcPublicKey), and the recipient identifiers, the
 * key-encryption AlgorithmIdentifier and the KDF's ECC-CMS-SharedInfo (constant without
 * ukm) are encoded once. Each message then costs, per recipient, one ephemeral key, one
 * ECDH, the KDF and the key wrap, plus the content encryption and the outer DER (./der.ts).
 */
export function createCmsEncryptor(options: EncryptCmsOptions): CmsEncryptor {
  const random = options.random ?? ((n: number) => new Uint8Array(randomBytes(n)))
  const alg = CONTENT_ENCRYPTIONS[options.contentEncryption ?? 'aes128-cbc']
  if (options.recipients.length === 0) throw new CryptoError('INVALID_ARGUMENT', 'at least one recipient is needed')
  const recipients = options.recipients.map((r) => prepareRecipient(r instanceof Uint8Array ? decodeCertificate(r) : r))
  const agreement = KEY_AGREEMENTS[dhSinglePass_stdDH_sha256kdf_scheme]
  const wrap = KEY_WRAPS[alg.wrapOid]
  if (agreement === undefined || wrap === undefined) throw new CryptoError('CMS_UNSUPPORTED_ALGORITHM', `key wrap ${alg.wrapOid}`)
  const sharedInfo = encodeSharedInfo(alg.wrapOid, undefined)
  // RFC 5753 §7.1.4: the KeyWrapAlgorithm is the parameter of the key-agreement algorithm; RFC 3565 §2.3.2: wrap parameters absent.
  const keyEncryptionAlgorithm = new Uint8Array(AsnConvert.serialize(new KeyEncryptionAlgorithmIdentifier({
    algorithm: dhSinglePass_stdDH_sha256kdf_scheme, parameters: AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: alg.wrapOid })),
  })))
  // RFC 5753 §3.1.1: originatorKey with id-ecPublicKey, parameters absent (as OpenSSL writes it).
  const originatorAlgorithm = tlv(TAG.SEQUENCE, new Uint8Array(encodeOid(ID_EC_PUBLIC_KEY)))
  const dataOid = new Uint8Array(encodeOid(id_data))
  const algorithmOid = new Uint8Array(encodeOid(alg.oid))
  const outerOid = new Uint8Array(encodeOid(alg.mode === 'cbc' ? id_envelopedData : id_ct_authEnvelopedData))

  const recipientInfo = (r: PreparedRecipient, cek: Uint8Array): DerNode => {
    // Ephemeral-static ECDH with the recipient key validated and imported when prepared
    // (generateKeyPairSync + diffieHellman on KeyObjects: measured faster than ECDH.computeSecret,
    // which imports and checks the peer point on every call).
    const ephemeral = generateKeyPairSync('ec', { namedCurve: r.nodeCurve })
    const ephemeralSpki = new Uint8Array(ephemeral.publicKey.export({ format: 'der', type: 'spki' }))
    const ephemeralPoint = ephemeralSpki.subarray(ephemeralSpki.length - r.pointLength)
    const shared = new Uint8Array(diffieHellman({ privateKey: ephemeral.privateKey, publicKey: r.key }))
    const kek = deriveX963(agreement.hash, shared, sharedInfo, wrap.kekSize)
    // KeyAgreeRecipientInfo (RFC 5652 §6.2.2) as RecipientInfo [1] IMPLICIT: version 3,
    // originator [0] EXPLICIT OriginatorIdentifierOrKey = originatorKey [1] IMPLICIT OriginatorPublicKey,
    // keyEncryptionAlgorithm, recipientEncryptedKeys SEQUENCE OF { rid, encryptedKey OCTET STRING }.
    return node(TAG.CONTEXT_1,
      encodeSmallInteger(3),
      node(TAG.CONTEXT_0, node(TAG.CONTEXT_1, originatorAlgorithm, node(TAG.BIT_STRING, Uint8Array.of(0), ephemeralPoint))),
      keyEncryptionAlgorithm,
      node(TAG.SEQUENCE, node(TAG.SEQUENCE, r.rid, node(TAG.OCTET_STRING, aesKeyWrap(kek, cek)))))
  }

  return {
    encrypt: (content) => settle(() => {
      const cek = random(alg.keySize)
      const recipientInfos = node(TAG.SET, ...recipients.map((r) => recipientInfo(r, cek)))
      if (alg.mode === 'cbc') {
        const iv = random(16)
        // EncryptedContentInfo (RFC 5652 §6.1): contentType, AlgorithmIdentifier with the IV as
        // parameters (RFC 3565 §4.1), encryptedContent [0] IMPLICIT OCTET STRING.
        const eci = node(TAG.SEQUENCE, dataOid, node(TAG.SEQUENCE, algorithmOid, node(TAG.OCTET_STRING, iv)), node(TAG.CONTEXT_0_PRIMITIVE, aesCbcEncrypt(cek, iv, content)))
        // RFC 5652 §6.1: version 2 because a RecipientInfo is not version 0 (kari is version 3).
        return encodeDer(node(TAG.SEQUENCE, outerOid, node(TAG.CONTEXT_0, node(TAG.SEQUENCE, encodeSmallInteger(2), recipientInfos, eci))))
      }
      // RFC 5084 §3.2: a 12-octet nonce; we use a 16-octet tag, as OpenSSL does (GCMParameters icvLen 16).
      const nonce = random(12)
      const sealed = aesGcmEncrypt(cek, nonce, content, new Uint8Array(0), 16)
      const params = node(TAG.SEQUENCE, node(TAG.OCTET_STRING, nonce), Uint8Array.of(TAG.INTEGER, 1, 16))
      const eci = node(TAG.SEQUENCE, dataOid, node(TAG.SEQUENCE, algorithmOid, params), node(TAG.CONTEXT_0_PRIMITIVE, sealed.ciphertext))
      // RFC 5083 §2.1: version is always 0; mac OCTET STRING after the content.
      return encodeDer(node(TAG.SEQUENCE, outerOid, node(TAG.CONTEXT_0, node(TAG.SEQUENCE, encodeSmallInteger(0), recipientInfos, eci, node(TAG.OCTET_STRING, sealed.tag)))))
    }),
  }
}

function prepareRecipient(cert: CertificateInfo): PreparedRecipient {
  if (cert.curve === undefined) throw new CryptoError('CURVE_UNSUPPORTED', `recipient ${cert.subjectText} has no EC key on a TR-03109-3 curve`)
  const key = decodeEcPublicKey(cert.publicKey, cert.curve)
  const rid = new Uint8Array(AsnConvert.serialize(new KeyAgreeRecipientIdentifier({
    issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: AsnConvert.parse(cert.issuer, Name), serialNumber: cert.serialNumber.slice().buffer }),
  })))
  return { nodeCurve: CURVES[key.curve].nodeName, key: key.key, pointLength: 1 + 2 * CURVES[key.curve].size, rid }
}


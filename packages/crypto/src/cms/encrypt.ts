import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import {
  CMSVersion, ContentEncryptionAlgorithmIdentifier, ContentInfo, KeyEncryptionAlgorithmIdentifier, EncryptedContent, EncryptedContentInfo, EnvelopedData, IssuerAndSerialNumber, KeyAgreeRecipientIdentifier,
  KeyAgreeRecipientInfo, OriginatorIdentifierOrKey, OriginatorPublicKey, RecipientEncryptedKey, RecipientEncryptedKeys, RecipientInfo, RecipientInfos,
} from '@peculiar/asn1-cms'
import { AlgorithmIdentifier, Name } from '@peculiar/asn1-x509'
import { CryptoError, settle } from '../errors.js'
import { decodeCertificate } from '../keys/certificate.js'
import { aesCbcEncrypt, aesGcmEncrypt, aesKeyWrap } from '../primitives/aes.js'
import { ID_EC_PUBLIC_KEY, copyBuffer, decodeEcPublicKey } from '../primitives/ec-public-key.js'
import { deriveEcdh } from '../primitives/ecdh.js'
import { CONTENT_ENCRYPTIONS, type ContentEncryptionName } from './algorithms.js'
import { AuthEnvelopedData } from './asn1/auth-enveloped-data.js'
import { GcmParameters } from './asn1/gcm-parameters.js'
import { deriveKek } from './kek.js'
import { dhSinglePass_stdDH_sha256kdf_scheme, id_ct_authEnvelopedData, id_data, id_envelopedData } from './oids.js'

export interface EncryptCmsOptions {
  /** Each recipient's (ENC) certificate, DER; its EC key gets one KeyAgreeRecipientInfo. */
  readonly recipients: readonly Uint8Array[]
  /** CBC gives EnvelopedData (RFC 5652 §6), GCM AuthEnvelopedData (RFC 5083). Default aes128-cbc. */
  readonly contentEncryption?: ContentEncryptionName
  /** Source of randomness (content key, IV); node:crypto randomBytes by default. */
  readonly random?: (length: number) => Uint8Array
}

/**
 * Encrypts `content` to every recipient: a fresh content-encryption key, wrapped for each
 * recipient by ephemeral-static ECDH (RFC 5753 §3.1: originatorKey = the ephemeral public
 * key, dhSinglePass-stdDH-sha256kdf-scheme, X9.63 KDF over ECC-CMS-SharedInfo, AES key wrap).
 */
export function encryptCms(content: Uint8Array, options: EncryptCmsOptions): Promise<Uint8Array> {
  return settle(() => encryptNow(content, options))
}

function encryptNow(content: Uint8Array, options: EncryptCmsOptions): Uint8Array {
  const random = options.random ?? ((n: number) => new Uint8Array(randomBytes(n)))
  const alg = CONTENT_ENCRYPTIONS[options.contentEncryption ?? 'aes128-cbc']
  if (options.recipients.length === 0) throw new CryptoError('INVALID_ARGUMENT', 'at least one recipient is needed')
  const cek = random(alg.keySize)
  const recipientInfos = new RecipientInfos(options.recipients.map((der) => new RecipientInfo({ kari: keyAgreeRecipientInfo(der, cek, alg.wrapOid) })))

  let contentInfo: ContentInfo
  if (alg.mode === 'cbc') {
    const iv = random(16)
    const eci = new EncryptedContentInfo({
      contentType: id_data,
      // RFC 3565 §4.1: the parameters are the IV, an OCTET STRING.
      contentEncryptionAlgorithm: new ContentEncryptionAlgorithmIdentifier({ algorithm: alg.oid, parameters: AsnConvert.serialize(new OctetString(iv)) }),
      encryptedContent: new EncryptedContent({ value: new OctetString(aesCbcEncrypt(cek, iv, content)) }),
    })
    // RFC 5652 §6.1: version 2 because a RecipientInfo is not version 0 (kari is version 3).
    const ed = new EnvelopedData({ version: CMSVersion.v2, recipientInfos, encryptedContentInfo: eci })
    contentInfo = new ContentInfo({ contentType: id_envelopedData, content: AsnConvert.serialize(ed) })
  } else {
    // RFC 5084 §3.2: a 12-octet nonce; we use a 16-octet tag, as OpenSSL does.
    const nonce = random(12)
    const sealed = aesGcmEncrypt(cek, nonce, content, new Uint8Array(0), 16)
    const eci = new EncryptedContentInfo({
      contentType: id_data,
      contentEncryptionAlgorithm: new ContentEncryptionAlgorithmIdentifier({ algorithm: alg.oid, parameters: AsnConvert.serialize(new GcmParameters({ nonce: new OctetString(nonce), icvLen: 16 })) }),
      encryptedContent: new EncryptedContent({ value: new OctetString(sealed.ciphertext) }),
    })
    // RFC 5083 §2.1: version is always 0.
    const aed = new AuthEnvelopedData({ version: CMSVersion.v0, recipientInfos, authEncryptedContentInfo: eci, mac: new OctetString(sealed.tag) })
    contentInfo = new ContentInfo({ contentType: id_ct_authEnvelopedData, content: AsnConvert.serialize(aed) })
  }
  return new Uint8Array(AsnConvert.serialize(contentInfo))
}

function keyAgreeRecipientInfo(certificate: Uint8Array, cek: Uint8Array, wrapOid: string): KeyAgreeRecipientInfo {
  const cert = decodeCertificate(certificate)
  if (cert.curve === undefined) throw new CryptoError('CURVE_UNSUPPORTED', `recipient ${cert.subjectText} has no EC key on a TR-03109-3 curve`)
  const recipientKey = decodeEcPublicKey(cert.publicKey, cert.curve)
  const ephemeral = generateKeyPairSync('ec', { namedCurve: recipientKey.key.asymmetricKeyDetails?.namedCurve ?? '' })
  const shared = deriveEcdh(ephemeral.privateKey, cert.publicKey)
  const ephemeralPoint = decodeEcPublicKey(new Uint8Array(ephemeral.publicKey.export({ format: 'der', type: 'spki' }))).point
  const kek = deriveKek(dhSinglePass_stdDH_sha256kdf_scheme, wrapOid, shared, undefined)
  return new KeyAgreeRecipientInfo({
    version: CMSVersion.v3,
    // RFC 5753 §3.1.1: originatorKey with id-ecPublicKey, parameters absent (as OpenSSL writes it), the ephemeral point uncompressed.
    originator: new OriginatorIdentifierOrKey({ originatorKey: new OriginatorPublicKey({ algorithm: new AlgorithmIdentifier({ algorithm: ID_EC_PUBLIC_KEY }), publicKey: copyBuffer(ephemeralPoint) }) }),
    // RFC 5753 §7.1.4: the KeyWrapAlgorithm is the parameter of the key-agreement algorithm; RFC 3565 §2.3.2: wrap parameters absent.
    keyEncryptionAlgorithm: new KeyEncryptionAlgorithmIdentifier({ algorithm: dhSinglePass_stdDH_sha256kdf_scheme, parameters: AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: wrapOid })) }),
    recipientEncryptedKeys: new RecipientEncryptedKeys([
      new RecipientEncryptedKey({
        rid: new KeyAgreeRecipientIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: AsnConvert.parse(cert.issuer, Name), serialNumber: copyBuffer(cert.serialNumber) }) }),
        encryptedKey: new OctetString(aesKeyWrap(kek, cek)),
      }),
    ]),
  })
}

import { KeyObject } from 'node:crypto'
import {
  createCmsEncryptor, createCmsSigner, createKeyObjectSigner, decodeCertificate,
  type CmsEncryptor, type ContentEncryptionName, type Signer,
} from '@smgw/crypto'
import { GatewayError } from '../errors.js'
import { LOG_ID } from '../log/entries.js'
import { messageOf } from '../store/store.js'

/*
 * Sealing a gateway → market participant message (docs/wan-protocol.md "Message"): CMS
 * SignedData by the gateway's SIG key (RFC 5652 §5; signed attributes content-type,
 * message-digest, signing-time), inside an EnvelopedData (RFC 5652 §6, AES-CBC) or
 * AuthEnvelopedData (RFC 5083, AES-GCM) to the one recipient's ENC certificate
 * (KeyAgreeRecipientInfo, RFC 5753). Only configured recipients exist (principle 5).
 */

export interface SealerRecipient {
  /** The market participant's ID as the outbox names it (`OutboxItem.recipient`). */
  readonly id: string
  /** Its ENC certificate, DER. */
  readonly encCertificate: Uint8Array
}

export interface MessageSealerConfig {
  /** The gateway's SIG key: a security-module key (`signerFromModule`) or a node:crypto private KeyObject. */
  readonly signer: Signer | KeyObject
  /** The SIG certificate of that key, DER. */
  readonly sigCertificate: Uint8Array
  /** Certificates carried after it in the SignedData (the gateway sub-CA), DER. */
  readonly chain?: readonly Uint8Array[]
  readonly recipients: readonly SealerRecipient[]
  /** Default aes128-cbc (EnvelopedData); aes*-gcm gives AuthEnvelopedData. */
  readonly contentEncryption?: ContentEncryptionName
}

export interface MessageSealerDeps {
  /** The signing-time attribute. */
  readonly now: () => Date
  /** Randomness for content keys and IVs (node:crypto by default). */
  readonly random?: (length: number) => Uint8Array
}

export interface MessageSealer {
  /** The configured recipient IDs. */
  readonly recipients: readonly string[]
  /** Signs `bytes` (the meter-data JSON) and encrypts the SignedData to `recipientId`'s ENC certificate; CMS DER. */
  seal(bytes: Uint8Array, recipientId: string): Promise<Uint8Array>
}

/**
 * Prepares the CMS objects once (one signer, one encryptor per recipient) and seals each
 * message with them. WAN_CONFIG_INVALID when the configuration cannot work (no or duplicate
 * recipients, an ID outside the log identifier pattern, a certificate that does not decode,
 * a SIG certificate without the signer's key); WAN_RECIPIENT_UNKNOWN from `seal` for an
 * unconfigured recipient; WAN_SEAL_FAILED when signing or encrypting fails.
 */
export function createMessageSealer(config: MessageSealerConfig, deps: MessageSealerDeps): MessageSealer {
  if (config.recipients.length === 0) throw new GatewayError('WAN_CONFIG_INVALID', 'the sealer needs at least one recipient')
  const signer = config.signer instanceof KeyObject ? keyObjectSigner(config.signer) : config.signer
  let cmsSigner
  try {
    cmsSigner = createCmsSigner({ signer, certificate: decodeCertificate(config.sigCertificate), ...(config.chain === undefined ? {} : { chain: config.chain }) })
  } catch (err) {
    throw new GatewayError('WAN_CONFIG_INVALID', `the SIG certificate does not decode or does not carry the signer's key: ${messageOf(err)}`, { cause: err })
  }
  const encryptors = new Map<string, CmsEncryptor>()
  for (const r of config.recipients) {
    if (!LOG_ID.test(r.id)) throw new GatewayError('WAN_CONFIG_INVALID', `recipient ID ${JSON.stringify(r.id)}: 1–64 characters A–Z a–z 0–9 . _ : -`)
    if (encryptors.has(r.id)) throw new GatewayError('WAN_CONFIG_INVALID', `recipient ${r.id} is configured twice`)
    try {
      encryptors.set(r.id, createCmsEncryptor({
        recipients: [decodeCertificate(r.encCertificate)],
        ...(config.contentEncryption === undefined ? {} : { contentEncryption: config.contentEncryption }),
        ...(deps.random === undefined ? {} : { random: deps.random }),
      }))
    } catch (err) {
      throw new GatewayError('WAN_CONFIG_INVALID', `the ENC certificate of recipient ${r.id} cannot be used: ${messageOf(err)}`, { cause: err })
    }
  }
  return {
    recipients: [...encryptors.keys()],
    async seal(bytes, recipientId) {
      const encryptor = encryptors.get(recipientId)
      if (encryptor === undefined) throw new GatewayError('WAN_RECIPIENT_UNKNOWN', `recipient ${JSON.stringify(recipientId)} is not configured`)
      try {
        return await encryptor.encrypt(await cmsSigner.sign(bytes, { signingTime: deps.now() }))
      } catch (err) {
        throw new GatewayError('WAN_SEAL_FAILED', `sealing a message for ${recipientId} failed: ${messageOf(err)}`, { cause: err })
      }
    },
  }
}

function keyObjectSigner(key: KeyObject): Signer {
  try {
    return createKeyObjectSigner(key)
  } catch (err) {
    throw new GatewayError('WAN_CONFIG_INVALID', `the SIG key cannot sign: ${messageOf(err)}`, { cause: err })
  }
}

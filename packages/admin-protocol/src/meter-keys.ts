import { decryptCms, encryptCms, isCryptoError, type CertificateInfo, type ContentEncryptionName, type KeyAgreer } from '@smgw/crypto'
import { formatCanonicalJson } from './canonical-json.js'
import { AdminProtocolError } from './errors.js'
import { METER_KEYS_FORMAT, MeterKeysContent } from './formats.js'
import { checkValue, decodeJsonAs, encodeUtf8 } from './json.js'

/** The largest envelope a gateway decrypts (256 keys fit in a few kB). */
export const METER_KEYS_MAX_BYTES = 64 * 1024

export interface SealMeterKeysOptions {
  /** The gateway's operational ENC certificate (DER or decoded): only its key can open the envelope. */
  readonly encCertificate: Uint8Array | CertificateInfo
  /** Default aes128-gcm: the keys are also authenticated, not only hidden. */
  readonly contentEncryption?: ContentEncryptionName
}

/**
 * The GWA's side of a `meter-keys` command (docs/admin-protocol.md "Commands"): the keys as
 * canonical JSON, encrypted with CMS to the gateway's ENC certificate. The gateway ID is inside
 * the envelope as well as in the signed command, so an envelope lifted into another gateway's
 * command is refused even by a gateway that could decrypt it.
 */
export async function sealMeterKeys(content: MeterKeysContent, options: SealMeterKeysOptions): Promise<Uint8Array> {
  const checked = checkValue(content, MeterKeysContent, METER_KEYS_FORMAT)
  const plain = encodeUtf8(formatCanonicalJson(checked))
  try {
    return await encryptCms(plain, { recipients: [options.encCertificate], contentEncryption: options.contentEncryption ?? 'aes128-gcm' })
  } finally {
    plain.fill(0)
  }
}

export interface OpenedMeterKeys {
  readonly keyId: string
  /** AES-128 key; the caller imports it into its security module and wipes this copy. */
  readonly key: Uint8Array
}

/**
 * The gateway's side: decrypts with its ENC key (`agreer`, in the security module) and
 * certificate, then checks the content. KEYS_UNREADABLE when the envelope is not for this key
 * or does not decrypt (a renewed ENC certificate after the GWA sealed it, tampering);
 * NOT_ADDRESSED for another gateway's keys; MALFORMED / UNSUPPORTED_FORMAT for the content.
 */
export async function openMeterKeys(envelope: Uint8Array, gatewayId: string, agreer: KeyAgreer, encCertificate: Uint8Array | CertificateInfo): Promise<readonly OpenedMeterKeys[]> {
  if (envelope.length > METER_KEYS_MAX_BYTES) throw new AdminProtocolError('TOO_LARGE', `meter-key envelope of ${envelope.length} bytes, at most ${METER_KEYS_MAX_BYTES}`)
  let plain: Uint8Array
  try {
    plain = await decryptCms(envelope, { agreer, certificate: encCertificate })
  } catch (err) {
    if (!isCryptoError(err)) throw err
    throw new AdminProtocolError('KEYS_UNREADABLE', `the meter keys do not decrypt with this gateway's ENC key (${err.code}): ${err.message}`, { cause: err })
  }
  try {
    const content = decodeJsonAs(plain, MeterKeysContent, METER_KEYS_FORMAT, true)
    if (content.gatewayId !== gatewayId) throw new AdminProtocolError('NOT_ADDRESSED', `meter keys for ${content.gatewayId}, this gateway is ${gatewayId}`)
    return content.keys.map((k) => ({ keyId: k.keyId, key: new Uint8Array(Buffer.from(k.key, 'hex')) }))
  } finally {
    plain.fill(0)
  }
}

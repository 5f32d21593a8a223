import { z } from 'zod'
import { MeterDataError } from './errors.js'
import { formatPath } from './message.js'

/*
 * The WAN delivery protocol between a gateway (always the TLS client, TR-03109-1) and a
 * market participant's receiver, over mutual-TLS 1.2 with SM-PKI certificates. One HTTP/1.1
 * request per message; docs/wan-protocol.md is the long form.
 *
 *   POST /v1/meter-data
 *   Content-Type: application/pkcs7-mime; smime-type=enveloped-data   (RFC 8551 §3.2)
 *   Idempotency-Key: <messageId>
 *   body: CMS EnvelopedData (or AuthEnvelopedData) → SignedData → meter-data JSON
 *
 * The receiver answers only after the message is committed:
 *   201 {"status":"stored","messageId":…}     first delivery
 *   200 {"status":"duplicate","messageId":…}  the same message again (a retry after a lost answer)
 *   4xx {"code":…,"message":…}                refused for good: do not send this message again
 *   429, 5xx, no answer                       try again later (backoff)
 */

export const METER_DATA_PATH = '/v1/meter-data'
export const METER_DATA_CONTENT_TYPE = 'application/pkcs7-mime; smime-type=enveloped-data'
export const IDEMPOTENCY_HEADER = 'idempotency-key'

export const DeliveryReceipt = z.strictObject({
  status: z.enum(['stored', 'duplicate']),
  messageId: z.string().min(1).max(128),
})
export type DeliveryReceipt = z.infer<typeof DeliveryReceipt>

/** Reasons a receiver refuses a message; stable, logged on both sides. */
export const REJECTION_CODES = [
  /** Not CMS, not the expected structure, or the payload is not a meter-data message. */
  'MALFORMED',
  /** The message is not encrypted to this receiver (no recipient info for its ENC certificate). */
  'NOT_FOR_US',
  /** Decryption failed (tampered ciphertext, wrong key). */
  'DECRYPT_FAILED',
  /** The CMS signature does not verify, or the signer certificate does not chain to the SM-PKI root. */
  'SIGNATURE_INVALID',
  /** The signer certificate is expired, not yet valid or revoked. */
  'SIGNER_CERTIFICATE_INVALID',
  /** The TLS client, the CMS signer and the message's gatewayId are not the same gateway, or the gateway is not known. */
  'SENDER_UNKNOWN',
  /** `recipient` in the message is not this receiver. */
  'WRONG_RECIPIENT',
  /** The messageId was seen with different content (a replay or forgery), or the message is older than the replay window. */
  'REPLAYED',
  /** The Idempotency-Key header differs from the messageId inside. */
  'IDEMPOTENCY_KEY_MISMATCH',
] as const
export type RejectionCode = (typeof REJECTION_CODES)[number]

export const DeliveryRejection = z.strictObject({
  code: z.enum(REJECTION_CODES),
  message: z.string().max(1000),
})
export type DeliveryRejection = z.infer<typeof DeliveryRejection>

/** Whether a gateway should try a message again after this HTTP status (no answer at all: yes). */
export function isRetryableStatus(httpStatus: number): boolean {
  return httpStatus === 429 || httpStatus === 408 || httpStatus >= 500
}

/** Reads a receiver's 2xx answer; anything else is RECEIPT_INVALID. */
export function decodeDeliveryReceipt(body: string): DeliveryReceipt {
  return decodeJson(DeliveryReceipt, body, 'delivery receipt')
}

/** Reads a receiver's 4xx answer; anything else is RECEIPT_INVALID. */
export function decodeDeliveryRejection(body: string): DeliveryRejection {
  return decodeJson(DeliveryRejection, body, 'delivery rejection')
}

function decodeJson<T>(schema: z.ZodType<T>, body: string, what: string): T {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch (err) {
    throw new MeterDataError('RECEIPT_INVALID', `${what} is not JSON`, { cause: err })
  }
  const r = schema.safeParse(json)
  if (!r.success) throw new MeterDataError('RECEIPT_INVALID', `${what}: ${r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')}`)
  return r.data
}

import { createHmac } from 'node:crypto'
import { GatewayError } from '../errors.js'

/*
 * Pseudonymisation (principle 3; GDPR Art. 4(5)): a recipient that does not need to know
 * the metering point gets a pseudonym of it instead. The pseudonym is
 *
 *   'p-' ‖ hex( first 16 bytes of HMAC-SHA-256(secret, len(recipient) ‖ recipient ‖ meteringPoint) )
 *
 * (RFC 2104 HMAC, FIPS 180-4 SHA-256; len = 1 byte, UTF-8 lengths ≤ 64, so the input
 * cannot be split two ways). Stable per (recipient, metering point) as long as the gateway's
 * pseudonym secret stays — the recipient can follow one metering point over time — but
 * unlinkable across recipients: two recipients' pseudonyms of one metering point are
 * independent PRF outputs, and without the secret nobody can map a pseudonym back. The
 * secret lives in the gateway (security module later) and is injected.
 */

/** Smallest accepted secret: 128 bits. */
export const MIN_PSEUDONYM_SECRET_BYTES = 16
const PSEUDONYM_BYTES = 16

export function pseudonymOf(secret: Uint8Array, recipient: string, meteringPoint: string): string {
  if (secret.length < MIN_PSEUDONYM_SECRET_BYTES) throw new GatewayError('TAF_INPUT_INVALID', `the pseudonym secret has ${secret.length} bytes, at least ${MIN_PSEUDONYM_SECRET_BYTES} are needed`)
  const r = Buffer.from(recipient, 'utf8')
  if (r.length === 0 || r.length > 255) throw new GatewayError('TAF_INPUT_INVALID', 'a recipient ID has 1–255 bytes')
  const mac = createHmac('sha256', secret).update(Buffer.from([r.length])).update(r).update(meteringPoint, 'utf8').digest()
  return `p-${mac.subarray(0, PSEUDONYM_BYTES).toString('hex')}`
}

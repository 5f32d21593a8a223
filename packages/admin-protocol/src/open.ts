import { AdminProtocolError } from './errors.js'
import { ADMIN_COMMAND_FORMAT, AdminCommand, WAKE_UP_FORMAT, WAKE_UP_MAX_BYTES, WakeUp } from './formats.js'
import { decodeJsonAs } from './json.js'
import { peekSignedContent } from './peek-der.js'
import type { SignerVerifier } from './verifier.js'

/** The largest command the gateway reads (a firmware command carries the whole package). */
export const ADMIN_COMMAND_MAX_BYTES = 48 * 1024 * 1024

/**
 * A wake-up datagram read WITHOUT verifying it (docs/admin-protocol.md "Wake-up" step 1):
 * size, a minimal DER walk to the eContent, canonical JSON of the wake-up format. Cheap, so
 * that addressing, freshness and the counter are checked before any elliptic-curve work.
 */
export function peekWakeUp(datagram: Uint8Array): WakeUp {
  if (datagram.length > WAKE_UP_MAX_BYTES) throw new AdminProtocolError('TOO_LARGE', `wake-up of ${datagram.length} bytes, at most ${WAKE_UP_MAX_BYTES}`)
  return decodeJsonAs(peekSignedContent(datagram), WakeUp, WAKE_UP_FORMAT, true)
}

/** A command read WITHOUT verifying it: addressing and sequence are checked before the signature. */
export function peekCommand(der: Uint8Array): AdminCommand {
  if (der.length > ADMIN_COMMAND_MAX_BYTES) throw new AdminProtocolError('TOO_LARGE', `command of ${der.length} bytes, at most ${ADMIN_COMMAND_MAX_BYTES}`)
  return decodeJsonAs(peekSignedContent(der), AdminCommand, ADMIN_COMMAND_FORMAT, true)
}

/** A wake-up whose signature and signer `verifier` accepts at `at`; the content is read from the verified bytes. */
export async function openWakeUp(datagram: Uint8Array, verifier: SignerVerifier, at: Date): Promise<WakeUp> {
  if (datagram.length > WAKE_UP_MAX_BYTES) throw new AdminProtocolError('TOO_LARGE', `wake-up of ${datagram.length} bytes, at most ${WAKE_UP_MAX_BYTES}`)
  const { content } = await verifier.open(datagram, at)
  return decodeJsonAs(content, WakeUp, WAKE_UP_FORMAT, true)
}

/** A command whose signature and signer `verifier` accepts at `at`. */
export async function openCommand(der: Uint8Array, verifier: SignerVerifier, at: Date): Promise<AdminCommand> {
  if (der.length > ADMIN_COMMAND_MAX_BYTES) throw new AdminProtocolError('TOO_LARGE', `command of ${der.length} bytes, at most ${ADMIN_COMMAND_MAX_BYTES}`)
  const { content } = await verifier.open(der, at)
  return decodeJsonAs(content, AdminCommand, ADMIN_COMMAND_FORMAT, true)
}

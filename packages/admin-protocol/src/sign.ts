import type { CmsSigner } from '@smgw/crypto'
import { formatCanonicalJson } from './canonical-json.js'
import { AdminProtocolError } from './errors.js'
import { ADMIN_COMMAND_FORMAT, AdminCommand, WAKE_UP_FORMAT, WakeUp } from './formats.js'
import { checkValue, encodeUtf8 } from './json.js'

/**
 * A wake-up, command or firmware manifest as the GWA (or manufacturer) sends it: its
 * canonical JSON (RFC 8785) as the eContent of a CMS SignedData (RFC 5652 §5, id-data) with
 * the signer's certificate included and the signing-time attribute (§11.3) set to
 * `signingTime`. `signer` is an @smgw/crypto `createCmsSigner` for the SIG key.
 */
export async function signAdminObject(value: unknown, signer: CmsSigner, signingTime: Date): Promise<Uint8Array> {
  let text: string
  try {
    text = formatCanonicalJson(value)
  } catch (err) {
    throw new AdminProtocolError('MALFORMED', `cannot sign: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  return signer.sign(encodeUtf8(text), { signingTime })
}

/** A wake-up checked against its schema, then signed (the GWA never sends what a gateway would refuse as MALFORMED). */
export async function signWakeUp(wakeUp: WakeUp, signer: CmsSigner, signingTime: Date): Promise<Uint8Array> {
  return signAdminObject(checkValue(wakeUp, WakeUp, WAKE_UP_FORMAT), signer, signingTime)
}

/** A command checked against its schema, then signed. */
export async function signCommand(command: AdminCommand, signer: CmsSigner, signingTime: Date): Promise<Uint8Array> {
  return signAdminObject(checkValue(command, AdminCommand, ADMIN_COMMAND_FORMAT), signer, signingTime)
}

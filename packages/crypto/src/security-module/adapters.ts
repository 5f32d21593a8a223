import { CryptoError } from '../errors.js'
import type { KeyAgreer, SecurityModule, Signer } from './types.js'

/** A Signer over a security-module key: the module signs, the private key stays inside. */
export async function signerFromModule(sm: SecurityModule, label: string): Promise<Signer> {
  const info = await sm.publicKey(label)
  return { curve: info.curve, publicKey: info.publicKey, sign: (data, hash) => sm.sign(label, data, hash) }
}

/** A KeyAgreer over a security-module key. */
export async function agreerFromModule(sm: SecurityModule, label: string): Promise<KeyAgreer> {
  const info = await sm.publicKey(label)
  return { curve: info.curve, publicKey: info.publicKey, deriveSharedSecret: (peer) => sm.deriveSharedSecret(label, peer) }
}

/** Labels name files and token objects: printable ASCII letters, digits, '.', '_' and '-', 1..64 characters. */
export function checkLabel(label: string): void {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(label) || label.startsWith('.')) throw new CryptoError('KEY_LABEL_INVALID', `key label ${JSON.stringify(label)} (allowed: A-Z a-z 0-9 . _ -, 1..64, not starting with '.')`)
}

/** random(length) arguments: a non-negative integer, at most 1 MiB. */
export function checkRandomLength(length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > 1 << 20) throw new CryptoError('INVALID_ARGUMENT', `random length ${String(length)}`)
}

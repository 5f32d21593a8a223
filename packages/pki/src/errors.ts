import type { ValidationReason } from './validate.js'

/**
 * Stable codes for misuse and malformed input. Path-validation verdicts are not errors:
 * `validatePath` returns a {@link ValidationReason} instead (see validate.ts).
 */
export type PkiErrorCode =
  | 'PKI_MALFORMED' // DER / PEM that does not decode as the expected structure
  | 'PKI_BAD_ARGUMENT' // an argument out of range (serial, validity, curve, profile)
  | 'PKI_UNSUPPORTED_ALGORITHM' // a key or signature algorithm outside the TR-03109-3 allow-list
  | 'PKI_BAD_SIGNATURE' // a CSR or renewal request whose signature does not verify
  | 'PKI_RENEWAL_REJECTED' // a renewal request whose old certificate is not valid for it
  | 'PKI_TLS_PEER_REJECTED' // a TLS peer whose certificate path did not validate

export class PkiError extends Error {
  override name = 'PkiError'
  /** For PKI_TLS_PEER_REJECTED and PKI_RENEWAL_REJECTED: the path-validation verdict. */
  readonly reason: ValidationReason | undefined
  constructor(readonly code: PkiErrorCode, message: string, options?: ErrorOptions & { readonly reason?: ValidationReason }) {
    super(message, options)
    this.reason = options?.reason
  }
}

/** Wraps anything thrown by a dependency while decoding into PKI_MALFORMED. */
export function malformed(what: string, cause: unknown): PkiError {
  if (cause instanceof PkiError) return cause
  return new PkiError('PKI_MALFORMED', `${what}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
}

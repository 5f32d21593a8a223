/**
 * The one error class of @smgw/crypto. Codes are stable and listed in README.md;
 * a retired code is never reused. Foreign errors (node:crypto, asn1-schema, pkcs11js)
 * are wrapped with `cause`.
 */
export type CryptoErrorCode =
  | 'CMS_MALFORMED'
  | 'CMS_UNSUPPORTED_CONTENT_TYPE'
  | 'CMS_UNSUPPORTED_ALGORITHM'
  | 'CMS_CONTENT_MISSING'
  | 'CMS_DIGEST_MISMATCH'
  | 'CMS_SIGNATURE_INVALID'
  | 'CMS_SIGNER_NOT_FOUND'
  | 'CMS_SIGNER_UNTRUSTED'
  | 'CMS_NO_RECIPIENT'
  | 'CMS_UNWRAP_FAILED'
  | 'CMS_DECRYPT_FAILED'
  | 'CERT_MALFORMED'
  | 'KEY_MALFORMED'
  | 'PUBLIC_KEY_INVALID'
  | 'CURVE_UNSUPPORTED'
  | 'CURVE_MISMATCH'
  | 'KEY_NOT_FOUND'
  | 'KEY_EXISTS'
  | 'KEY_LABEL_INVALID'
  | 'WRONG_PASSPHRASE'
  | 'MODULE_STORE_CORRUPT'
  | 'MODULE_CLOSED'
  | 'PKCS11_ERROR'
  | 'INVALID_ARGUMENT'

export class CryptoError extends Error {
  override name = 'CryptoError'
  constructor(readonly code: CryptoErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

export function isCryptoError(value: unknown): value is CryptoError {
  return value instanceof CryptoError
}

/** Runs `fn`; anything it throws that is not already a CryptoError becomes one with `code`. */
export function wrapErrors<T>(code: CryptoErrorCode, message: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof CryptoError) throw err
    throw new CryptoError(code, `${message}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

/** Runs `fn` and turns its result or its throw into a promise (so callers only ever see rejections). */
export function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn())
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)))
  }
}

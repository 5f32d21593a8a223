/** Why an administration object was refused (docs/admin-protocol.md); stable, listed in the README. */
export type AdminProtocolErrorCode =
  | 'TOO_LARGE'
  | 'MALFORMED'
  | 'UNSUPPORTED_FORMAT'
  | 'NOT_ADDRESSED'
  | 'STALE'
  | 'REPLAYED'
  | 'SIGNATURE_INVALID'
  | 'SIGNER_NOT_GWA'
  | 'SIGNER_NOT_MANUFACTURER'
  | 'DOWNGRADE'
  | 'HASH_MISMATCH'
  | 'KEYS_UNREADABLE'

export const ADMIN_PROTOCOL_ERROR_CODES: readonly AdminProtocolErrorCode[] = [
  'TOO_LARGE', 'MALFORMED', 'UNSUPPORTED_FORMAT', 'NOT_ADDRESSED', 'STALE', 'REPLAYED',
  'SIGNATURE_INVALID', 'SIGNER_NOT_GWA', 'SIGNER_NOT_MANUFACTURER', 'DOWNGRADE', 'HASH_MISMATCH', 'KEYS_UNREADABLE',
]

export class AdminProtocolError extends Error {
  override name = 'AdminProtocolError'
  constructor(readonly code: AdminProtocolErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

export function isAdminProtocolError(err: unknown): err is AdminProtocolError {
  return err instanceof AdminProtocolError
}

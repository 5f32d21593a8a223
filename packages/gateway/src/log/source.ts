import { GatewayError } from '../errors.js'

/** SQLite file format §1.3: every database file starts with this 16-byte string. */
const SQLITE_MAGIC = 'SQLite format 3\0'

/**
 * What a file handed to `smgw log verify` is, from its first bytes: a gateway store
 * (SQLite) or a log export (JSON lines starting with `{"certificates":`).
 * LOG_SOURCE_UNKNOWN for anything else.
 */
export function detectLogSource(head: Uint8Array): 'store' | 'export' {
  const text = Buffer.from(head.subarray(0, 32)).toString('latin1')
  if (text.startsWith(SQLITE_MAGIC)) return 'store'
  if (text.startsWith('{"certificates":')) return 'export'
  throw new GatewayError('LOG_SOURCE_UNKNOWN', 'neither a gateway store (SQLite) nor a log export (smgw-log-export/1)')
}

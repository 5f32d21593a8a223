import { createAesKeyOps, type SecretKeyOps } from '@smgw/crypto'
import { MbusError } from '../errors.js'

const ZERO_IV = new Uint8Array(16)

export function checkKey(key: Uint8Array, what = 'key'): void {
  if (key.length !== 16) throw new MbusError('MBUS_KEY_LENGTH', `${what} must be 16 bytes (AES-128), got ${key.length}`)
}

/**
 * Every use of a meter key goes through its operations: a key held by a security module
 * brings its own, a bytes key (checked to be AES-128) is wrapped into in-memory ones.
 */
export function toKeyOps(key: Uint8Array | SecretKeyOps, what = 'key'): SecretKeyOps {
  if (!(key instanceof Uint8Array)) return guarded(key)
  checkKey(key, what)
  return createAesKeyOps(key)
}

/** A key held elsewhere can fail on its own (token removed, session closed): KEY_OPERATION_FAILED, with `cause`. */
function guarded(ops: SecretKeyOps): SecretKeyOps {
  const run = <T>(name: string, fn: () => T): T => {
    try {
      return fn()
    } catch (err) {
      if (err instanceof MbusError) throw err
      throw new MbusError('KEY_OPERATION_FAILED', `meter key operation ${name} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
  }
  return {
    cbcEncrypt: (iv, data) => run('cbcEncrypt', () => ops.cbcEncrypt(iv, data)),
    cbcDecrypt: (iv, data) => run('cbcDecrypt', () => ops.cbcDecrypt(iv, data)),
    ctr: (iv, data) => run('ctr', () => ops.ctr(iv, data)),
    cmac: (data) => run('cmac', () => ops.cmac(data)),
  }
}

export { ZERO_IV }

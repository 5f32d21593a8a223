import type { KeyObject } from 'node:crypto'
import { createRequire } from 'node:module'
import { CryptoError, type CryptoErrorCode } from '../errors.js'

/*
 * ECDH through native/ecdh.c (built by node-gyp when the package installs): the same
 * OpenSSL as node:crypto, without the second scalar multiplication node's diffieHellman
 * pays for OpenSSL 3.0's full public-key check, which is redundant on the cofactor-1
 * curves of TR-03109-3 (the reasoning is at the top of native/ecdh.c). Half the CPU of a
 * CMS decryption's key agreement at a market participant's receiver.
 */

/** The compiled binding's surface. */
interface Binding {
  createAgreer(pkcs8: Uint8Array): object
  derive(agreer: object, point: Uint8Array): Uint8Array
}

/** Environment variable: `off` makes every agreer use node:crypto only (A/B measurements). */
export const NATIVE_ECDH_ENV = 'SMGW_NATIVE_ECDH'

export type NativeEcdhStatus = { readonly available: true } | { readonly available: false; readonly reason: string }

const BINDING_CODES: ReadonlySet<CryptoErrorCode> = new Set(['PUBLIC_KEY_INVALID', 'KEY_MALFORMED', 'CURVE_UNSUPPORTED', 'INVALID_ARGUMENT'])

// Loaded once, when the module loads; never changes afterwards.
const loaded: { readonly binding: Binding } | { readonly reason: string } = loadBinding()

function loadBinding(): { binding: Binding } | { reason: string } {
  if (process.env[NATIVE_ECDH_ENV] === 'off') return { reason: `${NATIVE_ECDH_ENV}=off` }
  try {
    return { binding: createRequire(import.meta.url)('../../build/Release/smgw_ecdh.node') as Binding }
  } catch (err) {
    return { reason: `the native binding did not load (was the package installed with node-gyp available?): ${err instanceof Error ? err.message : String(err)}` }
  }
}

/** Whether agreers use the native binding, and if not why (the receiver logs it at start). */
export function nativeEcdhStatus(): NativeEcdhStatus {
  return 'binding' in loaded ? { available: true } : { available: false, reason: loaded.reason }
}

/**
 * ECDH with `privateKey` (EC, in memory) through the native binding: a function from the peer's
 * encoded point (SEC 1 §2.3.3) to the shared x-coordinate, which rejects a point that is not on
 * the key's curve with PUBLIC_KEY_INVALID. Undefined when the binding is not available.
 */
export function createNativeEcdh(privateKey: KeyObject): ((point: Uint8Array) => Uint8Array) | undefined {
  if (!('binding' in loaded)) return undefined
  const binding = loaded.binding
  const der = privateKey.export({ format: 'der', type: 'pkcs8' })
  let agreer: object
  try {
    agreer = asCryptoError(() => binding.createAgreer(new Uint8Array(der.buffer, der.byteOffset, der.byteLength)))
  } finally {
    der.fill(0)
  }
  return (point) => {
    const secret = asCryptoError(() => binding.derive(agreer, point))
    return new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength)
  }
}

/** The binding throws errors whose `code` is a CryptoErrorCode; they become CryptoErrors. */
function asCryptoError<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string' && BINDING_CODES.has(code as CryptoErrorCode)) {
      throw new CryptoError(code as CryptoErrorCode, (err as Error).message, { cause: err })
    }
    throw err
  }
}

import { createPrivateKey, type KeyObject } from 'node:crypto'
import { CryptoError } from '../errors.js'
import { curveOfKey } from './key-object.js'
import { isPem } from './pem.js'

/**
 * An EC private key from PEM or DER bytes, detected automatically: PKCS#8 (RFC 5958,
 * "PRIVATE KEY", or "ENCRYPTED PRIVATE KEY" with a passphrase) or SEC 1 (RFC 5915,
 * "EC PRIVATE KEY"). The curve must be one TR-03109-3 allows.
 */
export function decodePrivateKey(bytes: Uint8Array, passphrase?: string): KeyObject {
  let key: KeyObject | undefined
  const errors: unknown[] = []
  const attempts = isPem(bytes)
    ? [() => createPrivateKey({ key: Buffer.from(bytes), format: 'pem', ...(passphrase === undefined ? {} : { passphrase }) })]
    : (['pkcs8', 'sec1'] as const).map((type) => () => createPrivateKey({ key: Buffer.from(bytes), format: 'der', type, ...(passphrase === undefined ? {} : { passphrase }) }))
  for (const attempt of attempts) {
    try {
      key = attempt()
      break
    } catch (err) {
      errors.push(err)
    }
  }
  if (key === undefined) throw new CryptoError('KEY_MALFORMED', 'not a PEM or DER EC private key (PKCS#8 or SEC 1)', { cause: errors[0] })
  if (key.asymmetricKeyType !== 'ec') throw new CryptoError('KEY_MALFORMED', `private key is ${key.asymmetricKeyType ?? 'unknown'}, not EC`)
  if (curveOfKey(key) === undefined) throw new CryptoError('CURVE_UNSUPPORTED', `curve ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown'} is not allowed by TR-03109-3`)
  return key
}

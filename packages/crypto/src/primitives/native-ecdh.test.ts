import { ECDH, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CURVES, type CurveName } from '../curves.js'
import { CryptoError } from '../errors.js'
import { createKeyObjectAgreer } from '../keys/key-object.js'
import { canonicalEcPoint, encodeEcSpki } from './ec-public-key.js'
import { createEcPrivateKeyFromScalar } from './ecdh.js'
import { createNativeEcdh, nativeEcdhStatus } from './native-ecdh.js'

const spkiOf = (key: KeyObject) => new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }))
const pointOf = (key: KeyObject, curve: CurveName) => canonicalEcPoint(spkiOf(key), curve)!.point.slice()
const nodeEcdh = (privateKey: KeyObject, spki: Uint8Array) => new Uint8Array(diffieHellman({ privateKey, publicKey: createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }) }))
/** A private key from random bytes, or undefined for a scalar the curve refuses (0, ≥ n). */
const keyFrom = (curve: CurveName, scalar: Uint8Array) => { try { return createEcPrivateKeyFromScalar(curve, scalar) } catch { return undefined } }
const errorOf = (fn: () => unknown) => { try { fn() } catch (err) { return err } return undefined }

describe('native ECDH (native/ecdh.c)', () => {
  it('is built and loaded here (npm ci ran node-gyp): the receiver would otherwise fall back to node:crypto', () => {
    expect(nativeEcdhStatus()).toEqual({ available: true })
  })

  for (const curve of Object.keys(CURVES) as CurveName[]) {
    const size = CURVES[curve].size
    it(`${curve}: property: the same secret as node's diffieHellman for any two keys`, () => {
      const scalar = fc.uint8Array({ minLength: size, maxLength: size })
      fc.assert(fc.property(scalar, scalar, (a, b) => {
        const own = keyFrom(curve, a)
        const peer = keyFrom(curve, b)
        fc.pre(own !== undefined && peer !== undefined)
        expect(createNativeEcdh(own)!(pointOf(peer, curve))).toEqual(nodeEcdh(own, spkiOf(peer)))
      }), { numRuns: 30 })
    })

    it(`${curve}: property: a changed point is refused exactly when OpenSSL's decoder refuses it (PUBLIC_KEY_INVALID)`, () => {
      const own = generateKeyPairSync('ec', { namedCurve: CURVES[curve].nodeName }).privateKey
      const native = createNativeEcdh(own)!
      const point = pointOf(generateKeyPairSync('ec', { namedCurve: CURVES[curve].nodeName }).privateKey, curve)
      fc.assert(fc.property(fc.integer({ min: 1, max: point.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, mask) => {
        const changed = point.slice()
        changed[at] = changed[at]! ^ mask
        const spki = new Uint8Array([...spkiOf(own).subarray(0, -point.length), ...changed])
        const nodeError = errorOf(() => nodeEcdh(own, spki))
        const nativeError = errorOf(() => native(changed))
        if (nodeError === undefined) expect(native(changed)).toEqual(nodeEcdh(own, spki))
        else expect(nativeError).toMatchObject({ code: 'PUBLIC_KEY_INVALID' })
        expect(nativeError === undefined).toBe(nodeError === undefined)
      }), { numRuns: 40 })
    })
  }

  it('refuses the point at infinity, a truncated point and a point of another curve', () => {
    const own = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey
    const native = createNativeEcdh(own)!
    const other = pointOf(generateKeyPairSync('ec', { namedCurve: 'brainpoolP384r1' }).privateKey, 'brainpoolP384r1')
    const good = pointOf(generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey, 'brainpoolP256r1')
    for (const point of [Uint8Array.of(0), good.subarray(0, 64), other, new Uint8Array(0)]) {
      const err = errorOf(() => native(point))
      expect(err).toBeInstanceOf(CryptoError)
      expect(err).toMatchObject({ code: 'PUBLIC_KEY_INVALID' })
    }
  })

  it('leaves no trace in OpenSSL\'s error queue: node reports its own errors as before', () => {
    const garbage = { key: Buffer.from('3003020100', 'hex'), format: 'der', type: 'spki' } as const
    const before = (errorOf(() => createPublicKey(garbage)) as Error).message
    const native = createNativeEcdh(generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey)!
    expect(errorOf(() => native(new Uint8Array(65).fill(4)))).toMatchObject({ code: 'PUBLIC_KEY_INVALID' })
    expect((errorOf(() => createPublicKey(garbage)) as Error).message).toBe(before)
    const ed = generateKeyPairSync('ed25519').privateKey
    expect(errorOf(() => createNativeEcdh(ed))).toMatchObject({ code: 'KEY_MALFORMED' })
    expect((errorOf(() => createPublicKey(garbage)) as Error).message).toBe(before)
  })

  it('the key agreer takes the native path for canonical SPKIs and the general one for compressed points, with equal results', async () => {
    const own = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey
    const peer = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey
    const agreer = createKeyObjectAgreer(own)
    const expected = nodeEcdh(own, spkiOf(peer))
    expect(await agreer.deriveSharedSecret(spkiOf(peer))).toEqual(expected)
    const compressed = new Uint8Array(ECDH.convertKey(pointOf(peer, 'brainpoolP256r1'), 'brainpoolP256r1', undefined, undefined, 'compressed') as Buffer)
    const compressedSpki = encodeEcSpki('brainpoolP256r1', compressed)
    expect(canonicalEcPoint(compressedSpki, 'brainpoolP256r1')).toBeUndefined()
    expect(await agreer.deriveSharedSecret(compressedSpki)).toEqual(expected)
    // Another curve's canonical SPKI: CURVE_MISMATCH, as on the general path.
    const p384 = generateKeyPairSync('ec', { namedCurve: 'brainpoolP384r1' }).privateKey
    await expect(agreer.deriveSharedSecret(spkiOf(p384))).rejects.toMatchObject({ code: 'CURVE_MISMATCH' })
  })
})

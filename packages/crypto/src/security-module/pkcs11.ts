import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
// The default import: pkcs11js is CommonJS, and node's ESM loader does not see its constants as
// named exports, so on a namespace import (`import * as`) every CK* constant is undefined under
// node — the CLI opened no token at all (C_OpenSession with flags 0) while vitest's interop hid it.
import pkcs11js from 'pkcs11js'
import type { Mechanism, Template } from 'pkcs11js'
import { CURVES, isCurveName, type CurveName } from '../curves.js'
import { encodeLength } from '../cms/der.js'
import { CryptoError } from '../errors.js'
import { decodeEcPublicKey, encodeEcSpki, encodeOid } from '../primitives/ec-public-key.js'
import { encodeEcdsaSignatureDer } from '../primitives/ecdsa.js'
import { digest } from '../primitives/hash.js'
import { checkLabel, checkRandomLength } from './adapters.js'
import { checkBlocks, checkIv, checkSecretKey } from './aes-key.js'
import { aesCmacWith } from '../primitives/cmac.js'
import type { KeyInfo, SecretKeyInfo, SecretKeyOps, SecurityModule } from './types.js'

export interface Pkcs11SecurityModuleConfig {
  /** Path of the PKCS#11 library (e.g. SoftHSM2's libsofthsm2.so; see findPkcs11Library). */
  readonly library: string
  /** The token, by slot ID or by token label (one of them). */
  readonly slot?: number
  readonly tokenLabel?: string
  /** The user PIN. */
  readonly pin: string
  /**
   * OpenSSL's pkcs11 engine (libp11), for `tlsPrivateKey`: default the first of
   * {@link PKCS11_ENGINE_PATHS} that exists. The engine reaches the token through p11-kit (SoftHSM2
   * registers itself there) or through the library named by the environment's PKCS11_MODULE_PATH.
   */
  readonly engine?: string
}

/** Where Debian's libengine-pkcs11-openssl installs OpenSSL 3's pkcs11 engine (tried in order). */
export const PKCS11_ENGINE_PATHS: readonly string[] = [
  '/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so',
  '/usr/lib/aarch64-linux-gnu/engines-3/pkcs11.so',
  '/usr/lib/engines-3/pkcs11.so',
  '/usr/local/lib/engines-3/pkcs11.so',
]

/** Where Debian and its multiarch layout install SoftHSM2 (configuration, tried in order). */
export const SOFTHSM2_LIBRARY_PATHS: readonly string[] = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
]

/** The first of `candidates` for which `exists` says yes. */
export function findPkcs11Library(exists: (path: string) => boolean, candidates: readonly string[] = SOFTHSM2_LIBRARY_PATHS): string | undefined {
  return candidates.find(exists)
}

type Session = Buffer

/**
 * A security module on a PKCS#11 token (v2.40): EC keys are generated on the token
 * (CKM_EC_KEY_PAIR_GEN, CKA_SENSITIVE, not CKA_EXTRACTABLE), signatures are CKM_ECDSA
 * over a digest computed here, ECDH is CKM_ECDH1_DERIVE with CKD_NULL into a session
 * CKK_GENERIC_SECRET that is read and destroyed. The private key never leaves the token.
 * Secret keys (AES-128 meter keys) are CKO_SECRET_KEY CKK_AES objects, CKA_SENSITIVE and
 * not CKA_EXTRACTABLE, used through CKM_AES_CBC, CKM_AES_CTR and CKM_AES_CMAC.
 */
export function createPkcs11SecurityModule(config: Pkcs11SecurityModuleConfig): Promise<SecurityModule> {
  const p = new pkcs11js.PKCS11()
  let initialized = false
  let session: Session | undefined
  /** The token's label (RFC 7512 URIs name the token by it). */
  let token = ''
  try {
    call('load', () => { p.load(config.library) })
    try {
      p.C_Initialize()
      initialized = true
    } catch (err) {
      // Another module in this process initialised the library already; then it also finalises it.
      if (!(err instanceof pkcs11js.Pkcs11Error && err.code === pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED)) throw err
    }
    const slot = findSlot(p, config)
    token = call('C_GetTokenInfo', () => p.C_GetTokenInfo(slot)).label.trim()
    session = call('C_OpenSession', () => p.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION))
    const s = session
    try {
      p.C_Login(s, pkcs11js.CKU_USER, config.pin)
    } catch (err) {
      if (err instanceof pkcs11js.Pkcs11Error && err.code === pkcs11js.CKR_PIN_INCORRECT) throw new CryptoError('WRONG_PASSPHRASE', 'the PIN is wrong', { cause: err })
      if (!(err instanceof pkcs11js.Pkcs11Error && err.code === pkcs11js.CKR_USER_ALREADY_LOGGED_IN)) throw err
    }
  } catch (err) {
    if (session !== undefined) tryCall(() => { p.C_CloseSession(session as Session) })
    if (initialized) tryCall(() => { p.C_Finalize() })
    tryCall(() => { p.close() })
    return Promise.reject(asCryptoError(err, 'opening the token'))
  }
  const s: Session = session
  let closed = false

  const live = (): void => {
    if (closed) throw new CryptoError('MODULE_CLOSED', 'the security module is closed')
  }
  const find = (template: Template): Buffer[] => call('C_FindObjects', () => {
    p.C_FindObjectsInit(s, template)
    try {
      return p.C_FindObjects(s, 1000)
    } finally {
      p.C_FindObjectsFinal(s)
    }
  })
  const keyObject = (label: string, cls: number): Buffer | undefined => find([{ type: pkcs11js.CKA_CLASS, value: cls }, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC }, { type: pkcs11js.CKA_LABEL, value: label }])[0]
  const infoOf = (handle: Buffer): KeyInfo => {
    const [labelAttr, params, point] = call('C_GetAttributeValue', () => p.C_GetAttributeValue(s, handle, [{ type: pkcs11js.CKA_LABEL }, { type: pkcs11js.CKA_EC_PARAMS }, { type: pkcs11js.CKA_EC_POINT }]))
    if (!labelAttr || !params || !point) throw new CryptoError('PKCS11_ERROR', 'public key without label, parameters or point')
    const curve = curveOfParams(params.value)
    return { label: labelAttr.value.toString('utf8'), curve, publicKey: encodeEcSpki(curve, decodeEcPointAttribute(point.value)) }
  }
  const requirePrivate = (label: string): Buffer => {
    checkLabel(label)
    const handle = keyObject(label, pkcs11js.CKO_PRIVATE_KEY)
    if (handle === undefined) throw new CryptoError('KEY_NOT_FOUND', `no private key labelled ${label} on the token`)
    return handle
  }
  const publicKey = (label: string): KeyInfo => {
    checkLabel(label)
    const handle = keyObject(label, pkcs11js.CKO_PUBLIC_KEY)
    if (handle === undefined) throw new CryptoError('KEY_NOT_FOUND', `no key labelled ${label} on the token`)
    return infoOf(handle)
  }

  const secretObjects = (label?: string): Buffer[] => find([
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    ...(label === undefined ? [] : [{ type: pkcs11js.CKA_LABEL, value: label }]),
  ])
  const secretOps = (handle: Buffer): SecretKeyOps => {
    const encrypt = (mechanism: Mechanism, data: Uint8Array, what: string): Uint8Array => {
      live()
      if (data.length === 0) return new Uint8Array(0)
      return new Uint8Array(call(what, () => {
        p.C_EncryptInit(s, mechanism, handle)
        return p.C_Encrypt(s, Buffer.from(data), Buffer.alloc(data.length + 16))
      }))
    }
    const cbcEncrypt = (iv: Uint8Array, data: Uint8Array): Uint8Array => {
      checkIv(iv)
      checkBlocks('AES-CBC', data)
      return encrypt({ mechanism: pkcs11js.CKM_AES_CBC, parameter: Buffer.from(iv) }, data, 'C_Encrypt CKM_AES_CBC')
    }
    return {
      cbcEncrypt,
      cbcDecrypt(iv, data) {
        checkIv(iv)
        checkBlocks('AES-CBC', data)
        live()
        if (data.length === 0) return new Uint8Array(0)
        return new Uint8Array(call('C_Decrypt CKM_AES_CBC', () => {
          p.C_DecryptInit(s, { mechanism: pkcs11js.CKM_AES_CBC, parameter: Buffer.from(iv) }, handle)
          return p.C_Decrypt(s, Buffer.from(data), Buffer.alloc(data.length + 16))
        }))
      },
      ctr(iv, data) {
        checkIv(iv)
        return encrypt({ mechanism: pkcs11js.CKM_AES_CTR, parameter: encodeCtrParams(iv) }, data, 'C_Encrypt CKM_AES_CTR')
      },
      cmac(data) {
        live()
        // SoftHSM2 refuses C_Sign over an empty message; CMAC over CKM_AES_CBC (same key, same token) covers it.
        if (data.length === 0) return aesCmacWith(cbcEncrypt, data)
        return new Uint8Array(call('C_Sign CKM_AES_CMAC', () => {
          p.C_SignInit(s, { mechanism: pkcs11js.CKM_AES_CMAC }, handle)
          return p.C_Sign(s, Buffer.from(data), Buffer.alloc(16))
        }))
      },
    }
  }

  const sm: SecurityModule = {
    importSecretKey: (label, key, options) => attempt(() => {
      live()
      checkLabel(label)
      checkSecretKey(key)
      const old = secretObjects(label)
      if (old.length > 0 && options?.replace !== true) throw new CryptoError('KEY_EXISTS', `a secret key labelled ${label} exists on the token`)
      const value = Buffer.from(key)
      try {
        call('C_CreateObject', () => p.C_CreateObject(s, [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
          { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_PRIVATE, value: true },
          { type: pkcs11js.CKA_LABEL, value: label },
          { type: pkcs11js.CKA_VALUE, value },
          { type: pkcs11js.CKA_SENSITIVE, value: true },
          { type: pkcs11js.CKA_EXTRACTABLE, value: false },
          { type: pkcs11js.CKA_ENCRYPT, value: true },
          { type: pkcs11js.CKA_DECRYPT, value: true },
          { type: pkcs11js.CKA_SIGN, value: true },
          { type: pkcs11js.CKA_VERIFY, value: true },
          { type: pkcs11js.CKA_WRAP, value: false },
          { type: pkcs11js.CKA_UNWRAP, value: false },
        ]))
      } finally {
        value.fill(0)
      }
      for (const handle of old) call('C_DestroyObject', () => { p.C_DestroyObject(s, handle) })
      return { label, algorithm: 'AES-128' } as const
    }),
    secretKey: (label) => attempt(() => {
      live()
      checkLabel(label)
      const handle = secretObjects(label)[0]
      if (handle === undefined) throw new CryptoError('KEY_NOT_FOUND', `no secret key labelled ${label} on the token`)
      return secretOps(handle)
    }),
    listSecretKeys: () => attempt(() => {
      live()
      return secretObjects()
        .map((handle): SecretKeyInfo => {
          const label = call('C_GetAttributeValue', () => p.C_GetAttributeValue(s, handle, [{ type: pkcs11js.CKA_LABEL }]))[0]?.value
          return { label: label === undefined ? '' : label.toString('utf8'), algorithm: 'AES-128' }
        })
        .sort((a, b) => a.label.localeCompare(b.label))
    }),
    deleteSecretKey: (label) => attempt(() => {
      live()
      checkLabel(label)
      const handles = secretObjects(label)
      for (const handle of handles) call('C_DestroyObject', () => { p.C_DestroyObject(s, handle) })
      return handles.length > 0
    }),
    generateKey: (curve, label) => attempt(() => {
      live()
      checkLabel(label)
      if (!isCurveName(curve)) throw new CryptoError('CURVE_UNSUPPORTED', `curve ${String(curve)}`)
      if (keyObject(label, pkcs11js.CKO_PRIVATE_KEY) !== undefined || keyObject(label, pkcs11js.CKO_PUBLIC_KEY) !== undefined) throw new CryptoError('KEY_EXISTS', `a key labelled ${label} exists on the token`)
      const id = createHash('sha256').update(label).digest().subarray(0, 16)
      const common = [{ type: pkcs11js.CKA_TOKEN, value: true }, { type: pkcs11js.CKA_LABEL, value: label }, { type: pkcs11js.CKA_ID, value: id }]
      const pair = call('C_GenerateKeyPair', () => p.C_GenerateKeyPair(s, { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN }, [
        ...common,
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
        // PKCS#11 v2.40 §2.3.3: CKA_EC_PARAMS is the DER of ECParameters, here the namedCurve OID.
        { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from(encodeOid(CURVES[curve].oid)) },
        { type: pkcs11js.CKA_VERIFY, value: true },
      ], [
        ...common,
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: false },
        { type: pkcs11js.CKA_SIGN, value: true },
        { type: pkcs11js.CKA_DERIVE, value: true },
      ]))
      return infoOf(pair.publicKey)
    }),
    publicKey: (label) => attempt(() => {
      live()
      return publicKey(label)
    }),
    listKeys: () => attempt(() => {
      live()
      return find([{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY }, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC }])
        .map(infoOf)
        .sort((a, b) => a.label.localeCompare(b.label))
    }),
    tlsPrivateKey: (label) => attempt(() => {
      live()
      requirePrivate(label)
      const engine = config.engine ?? findPkcs11Library(existsSync, PKCS11_ENGINE_PATHS)
      if (engine === undefined) throw new CryptoError('PKCS11_ERROR', `OpenSSL's pkcs11 engine is not installed (Debian: libengine-pkcs11-openssl; looked in ${PKCS11_ENGINE_PATHS.join(', ')})`)
      // RFC 7512: the token and the object by label, the private half, the PIN as pin-value.
      const identifier = `pkcs11:token=${encodeURIComponent(token)};object=${encodeURIComponent(label)};type=private?pin-value=${encodeURIComponent(config.pin)}`
      return { kind: 'engine', engine, identifier } as const
    }),
    deleteKey: (label) => attempt(() => {
      live()
      checkLabel(label)
      const handles = [pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_PUBLIC_KEY].flatMap((cls) => find([{ type: pkcs11js.CKA_CLASS, value: cls }, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC }, { type: pkcs11js.CKA_LABEL, value: label }]))
      for (const handle of handles) call('C_DestroyObject', () => { p.C_DestroyObject(s, handle) })
      return handles.length > 0
    }),
    sign: (label, data, hash) => attempt(() => {
      live()
      const handle = requirePrivate(label)
      const curve = publicKey(label).curve
      const hashed = Buffer.from(digest(hash, data))
      const raw = call('C_Sign', () => {
        p.C_SignInit(s, { mechanism: pkcs11js.CKM_ECDSA }, handle)
        return p.C_Sign(s, hashed, Buffer.alloc(2 * CURVES[curve].size))
      })
      // PKCS#11 v2.40 §2.3.1: CKM_ECDSA returns r ‖ s, each the size of the order.
      return encodeEcdsaSignatureDer(new Uint8Array(raw))
    }),
    deriveSharedSecret: (label, peer) => attempt(() => {
      live()
      const handle = requirePrivate(label)
      const curve = publicKey(label).curve
      // Validate the peer here (on the curve, same curve) before the token sees it.
      const point = decodeEcPublicKey(peer, curve).point
      const derive = (publicData: Uint8Array) => {
        const parameter: pkcs11js.ECDH1 = { type: pkcs11js.CK_PARAMS_EC_DH, kdf: pkcs11js.CKD_NULL, publicData: Buffer.from(publicData) }
        return call('C_DeriveKey', () => p.C_DeriveKey(s, { mechanism: pkcs11js.CKM_ECDH1_DERIVE, parameter }, handle, [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
          { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
          { type: pkcs11js.CKA_TOKEN, value: false },
          { type: pkcs11js.CKA_SENSITIVE, value: false },
          { type: pkcs11js.CKA_EXTRACTABLE, value: true },
          { type: pkcs11js.CKA_VALUE_LEN, value: CURVES[curve].size },
        ]))
      }
      let secret: Buffer
      try {
        secret = derive(point)
      } catch (err) {
        // PKCS#11 v3.0 CKM_ECDH1_DERIVE: a token must take the raw point and may take it wrapped
        // in a DER OCTET STRING (as CKA_EC_POINT). SoftHSM2 takes both and tells them apart by the
        // first bytes, so a raw point that also reads as such an OCTET STRING (brainpoolP512r1: x
        // starting 0x7f, one peer in 256) it unwraps wrongly and fails: that point goes again, wrapped.
        if (octetStringContent(point) === undefined) throw err
        secret = derive(new Uint8Array([0x04, ...encodeLength(point.length), ...point]))
      }
      try {
        const value = call('C_GetAttributeValue', () => p.C_GetAttributeValue(s, secret, [{ type: pkcs11js.CKA_VALUE }]))[0]?.value
        if (value === undefined) throw new CryptoError('PKCS11_ERROR', 'derived secret has no value')
        return new Uint8Array(value)
      } finally {
        tryCall(() => { p.C_DestroyObject(s, secret) })
      }
    }),
    random: (length) => attempt(() => {
      live()
      checkRandomLength(length)
      if (length === 0) return new Uint8Array(0)
      return new Uint8Array(call('C_GenerateRandom', () => p.C_GenerateRandom(s, Buffer.alloc(length))))
    }),
    close: () => {
      if (closed) return Promise.resolve()
      closed = true
      tryCall(() => { p.C_Logout(s) })
      tryCall(() => { p.C_CloseSession(s) })
      if (initialized) tryCall(() => { p.C_Finalize() })
      tryCall(() => { p.close() })
      return Promise.resolve()
    },
  }
  return Promise.resolve(sm)
}

function findSlot(p: pkcs11js.PKCS11, config: Pkcs11SecurityModuleConfig): Buffer {
  if ((config.slot === undefined) === (config.tokenLabel === undefined)) throw new CryptoError('INVALID_ARGUMENT', 'give exactly one of slot and tokenLabel')
  const slots = call('C_GetSlotList', () => p.C_GetSlotList(true))
  const slot = slots.find((handle) => config.tokenLabel === undefined
    ? slotId(handle) === config.slot
    : call('C_GetTokenInfo', () => p.C_GetTokenInfo(handle)).label.trim() === config.tokenLabel)
  if (slot === undefined) throw new CryptoError('PKCS11_ERROR', `no token ${config.tokenLabel === undefined ? `in slot ${String(config.slot)}` : `labelled ${config.tokenLabel}`}`)
  return slot
}

/**
 * CK_AES_CTR_PARAMS (PKCS#11 v2.40 §2.10.3.8): ulCounterBits (CK_ULONG, native size and
 * byte order) ‖ cb[16]. All 128 bits count, as in node:crypto's aes-128-ctr and the ELL
 * counter block of EN 13757-4:2019 §13.2.12 (pkcs11js has no type for it, so it is packed here).
 */
function encodeCtrParams(iv: Uint8Array): Buffer {
  const ulongSize = process.arch === 'x64' || process.arch === 'arm64' ? 8 : 4
  const out = Buffer.alloc(ulongSize + 16)
  if (ulongSize === 8) out.writeBigUInt64LE(128n, 0)
  else out.writeUInt32LE(128, 0)
  out.set(iv, ulongSize)
  return out
}

function slotId(handle: Buffer): number {
  return handle.length >= 8 ? Number(handle.readBigUInt64LE(0)) : handle.readUInt32LE(0)
}

function curveOfParams(params: Buffer): CurveName {
  const curve = Object.values(CURVES).find((c) => Buffer.from(encodeOid(c.oid)).equals(params))
  if (curve === undefined) throw new CryptoError('CURVE_UNSUPPORTED', `token key with EC parameters ${params.toString('hex')}`)
  return curve.name
}

/**
 * The content of `value` when it reads as a DER OCTET STRING (short or one-byte long length)
 * holding exactly the rest, else undefined. Points of our curves are at most 133 bytes.
 */
function octetStringContent(value: Uint8Array): Uint8Array | undefined {
  if (value[0] !== 0x04 || value.length < 3) return undefined
  const first = value[1] ?? 0
  const header = first === 0x81 ? 3 : 2
  const length = first === 0x81 ? (value[2] ?? -1) : first < 0x80 ? first : -1
  return length === value.length - header ? value.subarray(header) : undefined
}

/** CKA_EC_POINT is the DER OCTET STRING around the point (PKCS#11 v2.40 §2.3.3); some tokens give the bare point. */
function decodeEcPointAttribute(value: Buffer): Uint8Array {
  const inner = octetStringContent(value)
  if (inner !== undefined && (inner[0] === 0x04 || inner[0] === 0x02 || inner[0] === 0x03)) return new Uint8Array(inner)
  return new Uint8Array(value)
}

function call<T>(what: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw asCryptoError(err, what)
  }
}

function asCryptoError(err: unknown, what: string): CryptoError {
  if (err instanceof CryptoError) return err
  return new CryptoError('PKCS11_ERROR', `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
}

function tryCall(fn: () => void): void {
  try {
    fn()
  } catch {
    // closing down: nothing left to report to
  }
}

function attempt<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn())
  } catch (err) {
    return Promise.reject(asCryptoError(err, 'PKCS#11'))
  }
}

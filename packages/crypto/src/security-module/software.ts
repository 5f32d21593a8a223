import { createCipheriv, createDecipheriv, createPrivateKey, generateKeyPairSync, randomBytes, scrypt, sign as nodeSign, type KeyObject } from 'node:crypto'
import { link, mkdir, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CURVES, isCurveName, type CurveName, type HashName } from '../curves.js'
import { CryptoError, settle } from '../errors.js'
import { deriveEcdh } from '../primitives/ecdh.js'
import { HASHES } from '../primitives/hash.js'
import { checkLabel, checkRandomLength } from './adapters.js'
import { checkSecretKey, createAesKeyOps } from './aes-key.js'
import type { KeyInfo, SecretKeyInfo, SecretKeyOps, SecurityModule } from './types.js'

export interface SoftwareSecurityModuleConfig {
  /** Folder holding module.json and keys/<label>.json; created when missing. */
  readonly dir: string
  readonly passphrase: string
  /** log2 of the scrypt cost N for a new store (default 15; tests may lower it). Stored in module.json. */
  readonly scryptLogN?: number
}

/*
 * At rest: module.json holds the scrypt parameters (RFC 7914) and a check value; the
 * passphrase derives one 256-bit key that seals every private key (PKCS#8 DER) with
 * AES-256-GCM (NIST SP 800-38D), the label and curve bound as additional data. Chosen
 * over encrypted PKCS#8 PEM because GCM authenticates, so a wrong passphrase is told
 * apart from a damaged file (WRONG_PASSPHRASE vs MODULE_STORE_CORRUPT), and the public
 * half and curve stay readable for listKeys without deriving anything.
 */
interface ModuleFile {
  readonly format: 'smgw-soft-sm/1'
  readonly kdf: { readonly name: 'scrypt'; readonly salt: string; readonly logN: number; readonly r: number; readonly p: number }
  /** AES-256-GCM of CHECK_TEXT: iv ‖ ciphertext ‖ tag, base64. */
  readonly check: string
}

interface KeyFile {
  readonly format: 'smgw-soft-sm-key/1'
  readonly label: string
  readonly curve: CurveName
  /** SubjectPublicKeyInfo DER, base64. */
  readonly publicKey: string
  /** AES-256-GCM of the PKCS#8 DER: iv ‖ ciphertext ‖ tag, base64. */
  readonly sealed: string
}

/** A secret (AES-128) key: secrets/<label>.json, the key sealed like the EC keys, label and type bound as additional data. */
interface SecretKeyFile {
  readonly format: 'smgw-soft-sm-secret/1'
  readonly label: string
  readonly algorithm: 'AES-128'
  /** AES-256-GCM of the key: iv ‖ ciphertext ‖ tag, base64. */
  readonly sealed: string
}

const CHECK_TEXT = 'smgw software security module'

/** A file-based security module for development and tests (the private keys sit on disk, sealed). */
export async function createSoftwareSecurityModule(config: SoftwareSecurityModuleConfig): Promise<SecurityModule> {
  const keysDir = join(config.dir, 'keys')
  const secretsDir = join(config.dir, 'secrets')
  await mkdir(keysDir, { recursive: true, mode: 0o700 })
  await mkdir(secretsDir, { recursive: true, mode: 0o700 })
  const moduleFile = join(config.dir, 'module.json')
  let mod: ModuleFile
  let masterKey: Buffer
  const existing = await readJson(moduleFile)
  if (existing === undefined) {
    const kdf = { name: 'scrypt', salt: randomBytes(16).toString('base64'), logN: config.scryptLogN ?? 15, r: 8, p: 1 } as const
    masterKey = await deriveMaster(config.passphrase, kdf)
    mod = { format: 'smgw-soft-sm/1', kdf, check: seal(masterKey, Buffer.from(CHECK_TEXT), 'check').toString('base64') }
    await writeAtomic(moduleFile, JSON.stringify(mod, null, 2), false)
  } else {
    mod = checkModuleFile(existing)
    masterKey = await deriveMaster(config.passphrase, mod.kdf)
    let text: Buffer
    try {
      text = open(masterKey, Buffer.from(mod.check, 'base64'), 'check')
    } catch (err) {
      throw new CryptoError('WRONG_PASSPHRASE', 'the passphrase does not open this security module', { cause: err })
    }
    if (text.toString() !== CHECK_TEXT) throw new CryptoError('MODULE_STORE_CORRUPT', 'module.json check value differs')
  }
  let closed = false

  const keyPath = (label: string): string => {
    checkLabel(label)
    return join(keysDir, `${label}.json`)
  }
  const live = (): void => {
    if (closed) throw new CryptoError('MODULE_CLOSED', 'the security module is closed')
  }
  const loadKeyFile = async (label: string): Promise<KeyFile> => {
    live()
    const json = await readJson(keyPath(label))
    if (json === undefined) throw new CryptoError('KEY_NOT_FOUND', `no key labelled ${label}`)
    return checkKeyFile(json, label)
  }
  const privateKey = async (label: string): Promise<KeyObject> => {
    const file = await loadKeyFile(label)
    let der: Buffer
    try {
      der = open(masterKey, Buffer.from(file.sealed, 'base64'), `${file.label}\n${file.curve}`)
    } catch (err) {
      throw new CryptoError('MODULE_STORE_CORRUPT', `key ${label} does not open (file damaged or moved)`, { cause: err })
    }
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  }
  const secretPath = (label: string): string => {
    checkLabel(label)
    return join(secretsDir, `${label}.json`)
  }
  const loadSecretFile = async (label: string): Promise<SecretKeyFile> => {
    live()
    const json = await readJson(secretPath(label))
    if (json === undefined) throw new CryptoError('KEY_NOT_FOUND', `no secret key labelled ${label}`)
    return checkSecretKeyFile(json, label)
  }
  const toInfo = (file: KeyFile): KeyInfo => ({ label: file.label, curve: file.curve, publicKey: new Uint8Array(Buffer.from(file.publicKey, 'base64')) })

  return {
    async generateKey(curve, label) {
      live()
      if (!isCurveName(curve)) throw new CryptoError('CURVE_UNSUPPORTED', `curve ${String(curve)}`)
      const path = keyPath(label)
      const pair = generateKeyPairSync('ec', { namedCurve: CURVES[curve].nodeName })
      const pkcs8 = pair.privateKey.export({ format: 'der', type: 'pkcs8' })
      const file: KeyFile = {
        format: 'smgw-soft-sm-key/1',
        label,
        curve,
        publicKey: pair.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
        sealed: seal(masterKey, pkcs8, `${label}\n${curve}`).toString('base64'),
      }
      pkcs8.fill(0)
      await writeAtomic(path, JSON.stringify(file, null, 2), true)
      return toInfo(file)
    },
    async publicKey(label) {
      return toInfo(await loadKeyFile(label))
    },
    async listKeys() {
      live()
      const names = (await readdir(keysDir)).filter((n) => n.endsWith('.json')).sort()
      return Promise.all(names.map(async (n) => toInfo(await loadKeyFile(n.slice(0, -'.json'.length)))))
    },
    async deleteKey(label) {
      live()
      return removeKeyFile(keyPath(label), `key ${label}`)
    },
    async tlsPrivateKey(label) {
      return { kind: 'key-object', key: await privateKey(label) }
    },
    async importSecretKey(label, key, options) {
      live()
      const path = secretPath(label)
      checkSecretKey(key)
      const file: SecretKeyFile = { format: 'smgw-soft-sm-secret/1', label, algorithm: 'AES-128', sealed: seal(masterKey, Buffer.from(key), `${label}\nAES-128\nsecret`).toString('base64') }
      await writeAtomic(path, JSON.stringify(file, null, 2), options?.replace !== true)
      return { label, algorithm: 'AES-128' }
    },
    async secretKey(label) {
      const file = await loadSecretFile(label)
      let key: Buffer
      try {
        key = open(masterKey, Buffer.from(file.sealed, 'base64'), `${file.label}\nAES-128\nsecret`)
      } catch (err) {
        throw new CryptoError('MODULE_STORE_CORRUPT', `secret key ${label} does not open (file damaged or moved)`, { cause: err })
      }
      let ops: SecretKeyOps
      try {
        ops = createAesKeyOps(key)
      } finally {
        key.fill(0)
      }
      // After close the operations refuse, as a token's do once its session is gone.
      return {
        cbcEncrypt: (iv, data) => { live(); return ops.cbcEncrypt(iv, data) },
        cbcDecrypt: (iv, data) => { live(); return ops.cbcDecrypt(iv, data) },
        ctr: (iv, data) => { live(); return ops.ctr(iv, data) },
        cmac: (data) => { live(); return ops.cmac(data) },
      }
    },
    async listSecretKeys() {
      live()
      const names = (await readdir(secretsDir)).filter((n) => n.endsWith('.json')).sort()
      const files = await Promise.all(names.map((n) => loadSecretFile(n.slice(0, -'.json'.length))))
      return files.map((f): SecretKeyInfo => ({ label: f.label, algorithm: f.algorithm }))
    },
    async deleteSecretKey(label) {
      live()
      return removeKeyFile(secretPath(label), `secret key ${label}`)
    },
    async sign(label: string, data: Uint8Array, hash: HashName) {
      const key = await privateKey(label)
      return new Uint8Array(nodeSign(HASHES[hash].nodeName, data, { key, dsaEncoding: 'der' }))
    },
    async deriveSharedSecret(label, peer) {
      return deriveEcdh(await privateKey(label), peer)
    },
    random(length) {
      return settle(() => {
        live()
        checkRandomLength(length)
        return new Uint8Array(randomBytes(length))
      })
    },
    close() {
      if (!closed) masterKey.fill(0)
      closed = true
      return Promise.resolve()
    },
  }
}

function deriveMaster(passphrase: string, kdf: ModuleFile['kdf']): Promise<Buffer> {
  const N = 2 ** kdf.logN
  return new Promise((resolve, reject) => {
    scrypt(passphrase.normalize('NFC'), Buffer.from(kdf.salt, 'base64'), 32, { N, r: kdf.r, p: kdf.p, maxmem: 256 * N * kdf.r + (1 << 20) }, (err, key) => {
      if (err) reject(new CryptoError('MODULE_STORE_CORRUPT', `scrypt parameters rejected: ${err.message}`, { cause: err }))
      else resolve(key)
    })
  })
}

function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(aad))
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return Buffer.concat([iv, ct, cipher.getAuthTag()])
}

function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < 28) throw new Error('sealed value too short')
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12))
  decipher.setAAD(Buffer.from(aad))
  decipher.setAuthTag(sealed.subarray(sealed.length - 16))
  return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()])
}

async function readJson(path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new CryptoError('MODULE_STORE_CORRUPT', `cannot read ${path}`, { cause: err })
  }
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new CryptoError('MODULE_STORE_CORRUPT', `${path} is not JSON`, { cause: err })
  }
}

/** Writes a temporary file, then renames it into place (or, for a new key, links it so an existing key is never replaced). */
async function writeAtomic(path: string, text: string, createOnly: boolean): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  await writeFile(tmp, text, { mode: 0o600, flag: 'wx' })
  try {
    if (createOnly) await link(tmp, path)
    else await rename(tmp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CryptoError('KEY_EXISTS', `a key with this label exists: ${path}`)
    throw new CryptoError('MODULE_STORE_CORRUPT', `cannot write ${path}`, { cause: err })
  } finally {
    // After link the temporary name is a second name for the file; after rename it is gone.
    await unlink(tmp).catch(() => undefined)
  }
}

function checkModuleFile(json: unknown): ModuleFile {
  const m = json as Partial<ModuleFile> | null
  if (m?.format !== 'smgw-soft-sm/1' || m.kdf?.name !== 'scrypt' || typeof m.check !== 'string' || !Number.isInteger(m.kdf.logN) || m.kdf.logN < 1 || m.kdf.logN > 22) {
    throw new CryptoError('MODULE_STORE_CORRUPT', 'module.json is not a software security module store')
  }
  return m as ModuleFile
}

function checkKeyFile(json: unknown, label: string): KeyFile {
  const k = json as Partial<KeyFile> | null
  if (k?.format !== 'smgw-soft-sm-key/1' || k.label !== label || typeof k.curve !== 'string' || !isCurveName(k.curve) || typeof k.publicKey !== 'string' || typeof k.sealed !== 'string') {
    throw new CryptoError('MODULE_STORE_CORRUPT', `key file for ${label} is damaged`)
  }
  return k as KeyFile
}

function checkSecretKeyFile(json: unknown, label: string): SecretKeyFile {
  const k = json as Partial<SecretKeyFile> | null
  if (k?.format !== 'smgw-soft-sm-secret/1' || k.label !== label || k.algorithm !== 'AES-128' || typeof k.sealed !== 'string') {
    throw new CryptoError('MODULE_STORE_CORRUPT', `secret key file for ${label} is damaged`)
  }
  return k as SecretKeyFile
}

/** Deletes a sealed key file: true, or false when there was none (the label is checked by the path's maker). */
async function removeKeyFile(path: string, what: string): Promise<boolean> {
  try {
    await unlink(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw new CryptoError('MODULE_STORE_CORRUPT', `cannot delete ${what}`, { cause: err })
  }
}

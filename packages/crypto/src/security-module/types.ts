import type { KeyObject } from 'node:crypto'
import type { CurveName, HashName } from '../curves.js'

/** A key the security module holds; the private half never leaves the module. */
export interface KeyInfo {
  readonly label: string
  readonly curve: CurveName
  /** SubjectPublicKeyInfo, DER. */
  readonly publicKey: Uint8Array
}

/**
 * The gateway's security module (TR-03109-2 in spirit): it signs, agrees keys and
 * produces randomness; callers name keys by label and never see private keys.
 */
export interface SecurityModule extends SecretKeyModule {
  generateKey(curve: CurveName, label: string): Promise<KeyInfo>
  publicKey(label: string): Promise<KeyInfo>
  /** The EC keys (secret keys: listSecretKeys). */
  listKeys(): Promise<readonly KeyInfo[]>
  /**
   * Destroys the EC key pair `label` (private and public half); false when there was none.
   * BSI-CC-PP-0073 FCS_CKM.4: a key the gateway no longer needs is destroyed, not left behind.
   */
  deleteKey(label: string): Promise<boolean>
  /**
   * The private key `label` as node:tls can sign with it (node:tls signs inside OpenSSL and has
   * no PKCS#11 of its own): see {@link TlsPrivateKey}. KEY_NOT_FOUND when there is none.
   */
  tlsPrivateKey(label: string): Promise<TlsPrivateKey>
  /** ECDSA over `data` hashed with `hash`; the signature is DER (ECDSA-Sig-Value). */
  sign(label: string, data: Uint8Array, hash: HashName): Promise<Uint8Array>
  /** ECDH with the peer's SubjectPublicKeyInfo (DER); returns the raw shared x-coordinate. */
  deriveSharedSecret(label: string, peerPublicKey: Uint8Array): Promise<Uint8Array>
  random(length: number): Promise<Uint8Array>
  close(): Promise<void>
}

/**
 * A module key for node:tls. The software module unseals the key into this process (where its
 * own signatures happen anyway); a PKCS#11 token keeps it, and OpenSSL signs through its pkcs11
 * engine (libp11) with an RFC 7512 URI — node:tls `privateKeyEngine`/`privateKeyIdentifier`.
 */
export type TlsPrivateKey =
  | { readonly kind: 'key-object'; readonly key: KeyObject }
  | { readonly kind: 'engine'; readonly engine: string; readonly identifier: string }

/**
 * Anything that can sign with one private key: a security-module key or, for CAs and
 * tests, a node:crypto KeyObject. PKI and CMS sign through this and nothing else.
 */
export interface Signer {
  readonly curve: CurveName
  /** SubjectPublicKeyInfo, DER. */
  readonly publicKey: Uint8Array
  /** DER ECDSA signature over `data` hashed with `hash`. */
  sign(data: Uint8Array, hash: HashName): Promise<Uint8Array>
}

/** The private half of an ECDH key: a security-module key or a node:crypto KeyObject. */
export interface KeyAgreer {
  readonly curve: CurveName
  /** SubjectPublicKeyInfo, DER. */
  readonly publicKey: Uint8Array
  /**
   * ECDH with the peer's SubjectPublicKeyInfo (DER). Implementations MUST validate the peer
   * key (on the curve, same curve; PUBLIC_KEY_INVALID / CURVE_MISMATCH otherwise): decryptCms
   * relies on it for uncompressed originator points. All agreers of this package do.
   */
  deriveSharedSecret(peerPublicKey: Uint8Array): Promise<Uint8Array>
}

/**
 * Synchronous operations with one AES-128 secret key (a wireless M-Bus meter key) that stay
 * inside whatever holds the key: the security module, or for a bytes key an in-memory copy
 * (createAesKeyOps). Synchronous because the M-Bus codec is, and PKCS#11 calls are.
 * Nothing here returns the key. Data for CBC is whole 16-byte blocks, no padding.
 */
export interface SecretKeyOps {
  /** AES-128-CBC decryption, no padding (EN 13757-7:2018 §9.4, security mode 5 and 7). */
  cbcDecrypt(iv: Uint8Array, data: Uint8Array): Uint8Array
  /** AES-128-CBC encryption, no padding (meter side of mode 5 / 7; CMAC's block work). */
  cbcEncrypt(iv: Uint8Array, data: Uint8Array): Uint8Array
  /** AES-128-CTR with the 16-byte initial counter block `iv` (ELL, EN 13757-4:2019 §13.2.12). */
  ctr(iv: Uint8Array, data: Uint8Array): Uint8Array
  /** AES-CMAC, full 16-byte tag (RFC 4493; KDF-A of EN 13757-7:2018 §9.6.2, AFL MAC). */
  cmac(data: Uint8Array): Uint8Array
}

/** A secret key the module holds, by label; the key material is never shown. */
export interface SecretKeyInfo {
  readonly label: string
  readonly algorithm: 'AES-128'
}

/** A security module that also holds secret (AES) keys; both backends of this package are. */
export interface SecretKeyModule {
  /** Installs an AES-128 key under `label`; KEY_EXISTS unless `replace`. The caller should wipe its copy. */
  importSecretKey(label: string, key: Uint8Array, options?: { readonly replace?: boolean }): Promise<SecretKeyInfo>
  /** The key's operations (synchronous); KEY_NOT_FOUND when there is none. */
  secretKey(label: string): Promise<SecretKeyOps>
  listSecretKeys(): Promise<readonly SecretKeyInfo[]>
  deleteSecretKey(label: string): Promise<boolean>
}

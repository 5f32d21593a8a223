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
export interface SecurityModule {
  generateKey(curve: CurveName, label: string): Promise<KeyInfo>
  publicKey(label: string): Promise<KeyInfo>
  listKeys(): Promise<readonly KeyInfo[]>
  /** ECDSA over `data` hashed with `hash`; the signature is DER (ECDSA-Sig-Value). */
  sign(label: string, data: Uint8Array, hash: HashName): Promise<Uint8Array>
  /** ECDH with the peer's SubjectPublicKeyInfo (DER); returns the raw shared x-coordinate. */
  deriveSharedSecret(label: string, peerPublicKey: Uint8Array): Promise<Uint8Array>
  random(length: number): Promise<Uint8Array>
  close(): Promise<void>
}

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

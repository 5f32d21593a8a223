import type { HashName } from '../curves.js'
import * as oid from './oids.js'

/** Content-encryption algorithms as a table (RFC 3565 §4.1, RFC 5084 §3.2). */
export type ContentEncryptionName = 'aes128-cbc' | 'aes256-cbc' | 'aes128-gcm' | 'aes256-gcm'

export interface ContentEncryptionInfo {
  readonly name: ContentEncryptionName
  readonly oid: string
  readonly mode: 'cbc' | 'gcm'
  readonly keySize: 16 | 32
  /** The key-wrap algorithm paired with this key size (RFC 5753 §7.2 / RFC 3565 §2.3.2). */
  readonly wrapOid: string
}

export const CONTENT_ENCRYPTIONS: Readonly<Record<ContentEncryptionName, ContentEncryptionInfo>> = {
  'aes128-cbc': { name: 'aes128-cbc', oid: oid.id_aes128_CBC, mode: 'cbc', keySize: 16, wrapOid: oid.id_aes128_wrap },
  'aes256-cbc': { name: 'aes256-cbc', oid: oid.id_aes256_CBC, mode: 'cbc', keySize: 32, wrapOid: oid.id_aes256_wrap },
  'aes128-gcm': { name: 'aes128-gcm', oid: oid.id_aes128_GCM, mode: 'gcm', keySize: 16, wrapOid: oid.id_aes128_wrap },
  'aes256-gcm': { name: 'aes256-gcm', oid: oid.id_aes256_GCM, mode: 'gcm', keySize: 32, wrapOid: oid.id_aes256_wrap },
}

export function contentEncryptionByOid(o: string): ContentEncryptionInfo | undefined {
  return Object.values(CONTENT_ENCRYPTIONS).find((c) => c.oid === o)
}

/** Key-wrap algorithms (RFC 3565 §2.3.2): OID → KEK size in bytes. */
export const KEY_WRAPS: Readonly<Record<string, { readonly name: string; readonly kekSize: 16 | 24 | 32 }>> = {
  [oid.id_aes128_wrap]: { name: 'id-aes128-wrap', kekSize: 16 },
  [oid.id_aes192_wrap]: { name: 'id-aes192-wrap', kekSize: 24 },
  [oid.id_aes256_wrap]: { name: 'id-aes256-wrap', kekSize: 32 },
}

/** ECDH key-agreement schemes (RFC 5753 §7.1.4): OID → KDF hash. */
export const KEY_AGREEMENTS: Readonly<Record<string, { readonly name: string; readonly hash: HashName }>> = {
  [oid.dhSinglePass_stdDH_sha256kdf_scheme]: { name: 'dhSinglePass-stdDH-sha256kdf-scheme', hash: 'SHA-256' },
  [oid.dhSinglePass_stdDH_sha384kdf_scheme]: { name: 'dhSinglePass-stdDH-sha384kdf-scheme', hash: 'SHA-384' },
  [oid.dhSinglePass_stdDH_sha512kdf_scheme]: { name: 'dhSinglePass-stdDH-sha512kdf-scheme', hash: 'SHA-512' },
  [oid.dhSinglePass_cofactorDH_sha256kdf_scheme]: { name: 'dhSinglePass-cofactorDH-sha256kdf-scheme', hash: 'SHA-256' },
  [oid.dhSinglePass_cofactorDH_sha384kdf_scheme]: { name: 'dhSinglePass-cofactorDH-sha384kdf-scheme', hash: 'SHA-384' },
  [oid.dhSinglePass_cofactorDH_sha512kdf_scheme]: { name: 'dhSinglePass-cofactorDH-sha512kdf-scheme', hash: 'SHA-512' },
}

/** Readable names for the OIDs an inspection shows. */
export function algorithmName(o: string): string {
  const content = contentEncryptionByOid(o)
  if (content) return content.name
  const wrap = KEY_WRAPS[o]
  if (wrap) return wrap.name
  const ka = KEY_AGREEMENTS[o]
  if (ka) return ka.name
  return OTHER_NAMES[o] ?? o
}

const OTHER_NAMES: Readonly<Record<string, string>> = {
  [oid.id_data]: 'data',
  [oid.id_signedData]: 'signedData',
  [oid.id_envelopedData]: 'envelopedData',
  [oid.id_ct_authEnvelopedData]: 'authEnvelopedData',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.2.840.10045.2.1': 'id-ecPublicKey',
}

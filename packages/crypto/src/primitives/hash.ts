import { createHash } from 'node:crypto'
import type { HashName } from '../curves.js'

/** Hash names as a table: WebCrypto-style name → node:crypto name, digest OID (RFC 5754 §2), ecdsa-with-SHAx OID (RFC 5758 §3.2). */
export interface HashInfo {
  readonly name: HashName
  readonly nodeName: 'sha256' | 'sha384' | 'sha512'
  readonly oid: string
  readonly ecdsaOid: string
  readonly size: number
}

export const HASHES: Readonly<Record<HashName, HashInfo>> = {
  'SHA-256': { name: 'SHA-256', nodeName: 'sha256', oid: '2.16.840.1.101.3.4.2.1', ecdsaOid: '1.2.840.10045.4.3.2', size: 32 },
  'SHA-384': { name: 'SHA-384', nodeName: 'sha384', oid: '2.16.840.1.101.3.4.2.2', ecdsaOid: '1.2.840.10045.4.3.3', size: 48 },
  'SHA-512': { name: 'SHA-512', nodeName: 'sha512', oid: '2.16.840.1.101.3.4.2.3', ecdsaOid: '1.2.840.10045.4.3.4', size: 64 },
}

export function hashByOid(oid: string): HashInfo | undefined {
  return Object.values(HASHES).find((h) => h.oid === oid)
}

export function hashByEcdsaOid(oid: string): HashInfo | undefined {
  return Object.values(HASHES).find((h) => h.ecdsaOid === oid)
}

export function digest(hash: HashName, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(HASHES[hash].nodeName).update(data).digest())
}

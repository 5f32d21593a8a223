/**
 * The curves and hashes TR-03109-3 allows, as a table: every curve name maps to its
 * OID, node:crypto name and sizes; an unknown curve fails in one place.
 */
export type CurveName = 'brainpoolP256r1' | 'brainpoolP384r1' | 'brainpoolP512r1' | 'P-256' | 'P-384'
export type HashName = 'SHA-256' | 'SHA-384' | 'SHA-512'

export interface CurveInfo {
  readonly name: CurveName
  /** RFC 5639 / RFC 5480 named-curve OID. */
  readonly oid: string
  /** The name node:crypto and OpenSSL use. */
  readonly nodeName: string
  /** Field size in bytes (one coordinate, one half of a raw r‖s signature). */
  readonly size: number
  /** The hash TR-03109-3 pairs with this curve. */
  readonly hash: HashName
}

export const CURVES: Readonly<Record<CurveName, CurveInfo>> = {
  brainpoolP256r1: { name: 'brainpoolP256r1', oid: '1.3.36.3.3.2.8.1.1.7', nodeName: 'brainpoolP256r1', size: 32, hash: 'SHA-256' },
  brainpoolP384r1: { name: 'brainpoolP384r1', oid: '1.3.36.3.3.2.8.1.1.11', nodeName: 'brainpoolP384r1', size: 48, hash: 'SHA-384' },
  brainpoolP512r1: { name: 'brainpoolP512r1', oid: '1.3.36.3.3.2.8.1.1.13', nodeName: 'brainpoolP512r1', size: 64, hash: 'SHA-512' },
  'P-256': { name: 'P-256', oid: '1.2.840.10045.3.1.7', nodeName: 'prime256v1', size: 32, hash: 'SHA-256' },
  'P-384': { name: 'P-384', oid: '1.3.132.0.34', nodeName: 'secp384r1', size: 48, hash: 'SHA-384' },
}

export function isCurveName(value: string): value is CurveName {
  return Object.hasOwn(CURVES, value)
}

import { createPrivateKey, type KeyObject } from 'node:crypto'
import { CURVES, CryptoError, createKeyObjectSigner, decodePemOrDer, isCurveName, isPem, type CurveName, type Signer } from '@smgw/crypto'
import { defaultValidity, PkiError, VALIDATION_PURPOSES, type CertificateProfile, type TlsRole, type ValidationPurpose } from '@smgw/pki'
import type { CliIo } from '../../io.js'
import { UsageError } from '../../exit.js'

/* Options and files as the pki subcommands read them: a bad option is a UsageError (exit 2), a bad file PKI_MALFORMED (exit 1). */

export const PROFILES: readonly CertificateProfile[] = ['root-ca', 'sub-ca', 'tls', 'sig', 'enc', 'manufacturer']
export const TLS_ROLES: readonly TlsRole[] = ['client', 'server', 'client-server']

export function parseCurve(value: string | undefined): CurveName {
  const curve = value ?? 'brainpoolP256r1'
  if (!isCurveName(curve)) throw new UsageError(`--curve: one of ${Object.keys(CURVES).join(', ')}`)
  return curve
}

export function parseCount(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 10_000) throw new UsageError(`${name}: a whole number from 0 to 10000`)
  return n
}

export function parseTime(value: string | undefined): Date {
  if (value === undefined) return new Date()
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) throw new UsageError(`not an ISO time: ${value}`)
  return d
}

export function parsePurpose(value: string | undefined): ValidationPurpose | undefined {
  if (value === undefined) return undefined
  const p = VALIDATION_PURPOSES.find((x) => x === value)
  if (p === undefined) throw new UsageError(`--purpose: one of ${VALIDATION_PURPOSES.join(', ')}`)
  return p
}

export function parseProfile(value: string): CertificateProfile {
  const p = PROFILES.find((x) => x === value)
  if (p === undefined) throw new UsageError(`--profile: one of ${PROFILES.join(', ')}`)
  return p
}

export function parseTlsRole(value: string | undefined): TlsRole | undefined {
  if (value === undefined) return undefined
  const r = TLS_ROLES.find((x) => x === value)
  if (r === undefined) throw new UsageError(`--tls-role: one of ${TLS_ROLES.join(', ')}`)
  return r
}

export function parseDays(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 36_500) throw new UsageError('--days: a whole number from 1 to 36500')
  return n
}

/** PEM labels by kind of file (RFC 7468 §5, §6, §7; 'CMS' and 'PKCS7' as openssl writes them). */
export const LABELS = {
  certificate: ['CERTIFICATE'],
  crl: ['X509 CRL'],
  csr: ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'],
  cms: ['CMS', 'PKCS7'],
} as const

/** The DER objects of a PEM file (blocks with one of `labels`) or the DER file itself; PKI_MALFORMED otherwise. */
export async function readDers(io: CliIo, path: string, labels: readonly string[] = LABELS.certificate): Promise<Uint8Array[]> {
  const bytes = await io.readFile(path)
  try {
    return decodePemOrDer(bytes, labels, 'CERT_MALFORMED')
  } catch (err) {
    if (err instanceof CryptoError) throw new PkiError('PKI_MALFORMED', `${path}: ${err.message}`, { cause: err })
    throw err
  }
}

export async function readOne(io: CliIo, path: string, labels?: readonly string[]): Promise<Uint8Array> {
  const [first] = await readDers(io, path, labels)
  if (first === undefined) throw new PkiError('PKI_MALFORMED', `${path}: empty`)
  return first
}

export async function readKey(io: CliIo, path: string): Promise<KeyObject> {
  const bytes = await io.readFile(path)
  try {
    return isPem(bytes) ? createPrivateKey(Buffer.from(bytes).toString('utf8')) : createPrivateKey({ key: Buffer.from(bytes), format: 'der', type: 'pkcs8' })
  } catch (err) {
    throw new PkiError('PKI_MALFORMED', `${path}: not a private key`, { cause: err })
  }
}

export function signerOf(key: KeyObject, path: string): Signer {
  try {
    return createKeyObjectSigner(key)
  } catch (err) {
    throw new PkiError('PKI_UNSUPPORTED_ALGORITHM', `${path}: key not on an allowed curve`, { cause: err })
  }
}

/** The profile's default validity from `now`, or `days` days. */
export function validityOf(profile: CertificateProfile, now: Date, days: number | undefined): { notBefore: Date; notAfter: Date } {
  return days === undefined ? defaultValidity(profile, now) : { notBefore: now, notAfter: new Date(now.getTime() + days * 86_400_000) }
}

import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { CURVES, encodePem, type CurveName, type Signer } from '@smgw/crypto'
import { decodeCertificate, issueCrl, type CertificateProfile, type DemoCaLabel, type RevocationReason } from '@smgw/pki'
import type { CliIo } from '../../io.js'
import { UsageError } from '../../exit.js'
import { readKey, readOne, signerOf } from './input.js'
import { describeCertificate, printObject } from './output.js'

/*
 * `smgw pki`: a demo SM-PKI in a folder. Layout (documented in packages/pki/README.md):
 *
 *   DIR/index.json                         CAs, every issued certificate (serial, subject, files, revocation)
 *   DIR/root-ca/ca.{key,cert}.pem          SM-Test-Root
 *   DIR/sub-ca-emt/ca.{key,cert}.pem       issues GWA and EMT certificates
 *   DIR/sub-ca-gw/ca.{key,cert}.pem        issues gateway operational certificates
 *   DIR/sub-ca-gs/ca.{key,cert}.pem        the manufacturer's CA: gateway Gütesiegel certificates
 *   DIR/chain.pem                          all sub-CA certificates (for --chain / -untrusted)
 *   DIR/gwa/{tls,sig,enc}.{key,cert}.pem
 *   DIR/emt-<n>/{tls,sig,enc}.{key,cert}.pem
 *   DIR/gateways/<id>/{gs,tls,sig,enc}.{key,cert}.pem
 *   DIR/manufacturer/sig.{key,cert}.pem    the gateway manufacturer's firmware SIG key (issued by sub-ca-gs)
 *   DIR/crl/<ca>.crl.pem                   one CRL per CA
 *
 * Keys are unencrypted PKCS#8 PEM files (mode 0600): a demo. Gateways' keys move into a
 * security module later; the library signs only through the Signer interface already.
 * Writes go straight to the file system (CliIo only reads).
 */

export const INDEX_FORMAT = 'smgw-pki/1'

export interface IndexCa {
  readonly cert: string
  readonly key: string
  readonly issuer: DemoCaLabel
  crlNumber: number
  readonly crl: string
}
export interface IndexCertificate {
  readonly serial: string
  readonly subject: string
  readonly profile: CertificateProfile
  readonly issuer: string
  readonly cert: string
  readonly key: string | null
  readonly notBefore: string
  readonly notAfter: string
  revoked?: { readonly date: string; readonly reason: RevocationReason }
}
export interface PkiIndex {
  readonly format: typeof INDEX_FORMAT
  readonly curve: CurveName
  readonly created: string
  readonly cas: Record<string, IndexCa>
  readonly certificates: IndexCertificate[]
}

export function newSerial(): Uint8Array {
  const b = randomBytes(16)
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x10
  return new Uint8Array(b)
}

export function generateKey(curve: CurveName): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: CURVES[curve].nodeName }).privateKey
}

export function keyPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString()
}

export async function put(path: string, text: string, secret = false): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, text, secret ? { mode: 0o600 } : {})
}

export async function readIndex(io: CliIo, dir: string): Promise<PkiIndex> {
  let text: string
  try {
    text = new TextDecoder().decode(await io.readFile(join(dir, 'index.json')))
  } catch {
    throw new UsageError(`${dir} is not a PKI folder (no index.json; create one with smgw pki init)`)
  }
  const index = JSON.parse(text) as Partial<PkiIndex>
  if (index.format !== INDEX_FORMAT) throw new UsageError(`${dir}/index.json: unknown format ${String(index.format)}`)
  return index as PkiIndex
}

export async function writeIndex(dir: string, index: PkiIndex): Promise<void> {
  await put(join(dir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`)
}

export async function loadCa(io: CliIo, dir: string, index: PkiIndex, label: string): Promise<{ signer: Signer; certificate: Uint8Array; entry: IndexCa }> {
  const entry = index.cas[label]
  if (entry === undefined) throw new UsageError(`--ca: one of ${Object.keys(index.cas).join(', ')}`)
  const keyPath = join(dir, entry.key)
  return { signer: signerOf(await readKey(io, keyPath), keyPath), certificate: await readOne(io, join(dir, entry.cert)), entry }
}

export function recordOf(dir: string, der: Uint8Array, profile: CertificateProfile, issuer: string, certPath: string, keyPath: string | null): IndexCertificate {
  const c = decodeCertificate(der)
  return {
    serial: c.serialHex, subject: c.subject, profile, issuer, cert: relative(dir, certPath), key: keyPath === null ? null : relative(dir, keyPath),
    notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(),
  }
}

export async function writeCrl(io: CliIo, dir: string, index: PkiIndex, label: string, now: Date, days: number): Promise<{ crlNumber: number; revoked: number; path: string }> {
  const ca = await loadCa(io, dir, index, label)
  ca.entry.crlNumber += 1
  const revoked = index.certificates.filter((c) => c.issuer === label && c.revoked !== undefined)
  const der = await issueCrl({
    issuer: ca, crlNumber: BigInt(ca.entry.crlNumber), thisUpdate: now, nextUpdate: new Date(now.getTime() + days * 86_400_000),
    revoked: revoked.map((c) => ({ serialNumber: new Uint8Array(Buffer.from(c.serial, 'hex')), revocationDate: new Date(c.revoked?.date ?? now), reason: c.revoked?.reason ?? 'unspecified' })),
  })
  const path = join(dir, ca.entry.crl)
  await put(path, encodePem('X509 CRL', der))
  return { crlNumber: ca.entry.crlNumber, revoked: revoked.length, path }
}

/** `revoke` and `crl`: new CRLs for the CAs `labels` from index.json, the index saved, one line each. */
export async function reissueCrls(io: CliIo, dir: string, index: PkiIndex, labels: readonly string[], now: Date, days: number): Promise<void> {
  for (const label of labels) {
    const crl = await writeCrl(io, dir, index, label, now, days)
    io.stdout(`${relative(dir, crl.path)}: CRL number ${String(crl.crlNumber)}, ${String(crl.revoked)} revoked\n`)
  }
  await writeIndex(dir, index)
}

/** `issue` and `sign-csr`: the certificate written (PEM), recorded in index.json and printed. */
export async function recordIssued(
  io: CliIo, dir: string, index: PkiIndex,
  c: { readonly der: Uint8Array; readonly profile: CertificateProfile; readonly ca: string; readonly certPath: string; readonly keyPath: string | null },
  extra: Record<string, unknown>, json: boolean,
): Promise<void> {
  await put(c.certPath, encodePem('CERTIFICATE', c.der))
  index.certificates.push(recordOf(dir, c.der, c.profile, c.ca, c.certPath, c.keyPath))
  await writeIndex(dir, index)
  printObject(io, { ...describeCertificate(decodeCertificate(c.der)), file: c.certPath, ...extra }, json)
}


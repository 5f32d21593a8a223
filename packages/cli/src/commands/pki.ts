import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import type { Command } from 'commander'
import {
  CURVES, CryptoError, createKeyObjectSigner, decodePemBlocks, decodePemOrDer, encodePem, isCurveName, isPem, type CurveName, type Signer,
} from '@smgw/crypto'
import {
  createCsr, createDemoPki, createRenewalRequest, decodeCertificate, decodeCrl, decodeCsr,
  decodeRenewalRequest, defaultValidity, isRevocationReason, issueCertificate, issueCrl, parseName,
  PkiError, signCsr, signRenewalRequest, validatePath, VALIDATION_PURPOSES,
  type CertificateProfile, type DecodedCertificate, type DemoCaLabel, type RevocationReason, type TlsRole, type ValidationPurpose,
} from '@smgw/pki'
import type { CliIo } from '../io.js'
import type { CommandRun } from '../program.js'
import { EXIT_FAILED, EXIT_OK, UsageError } from '../exit.js'
import { toJson } from '../json.js'

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
 *   DIR/crl/<ca>.crl.pem                   one CRL per CA
 *
 * Keys are unencrypted PKCS#8 PEM files (mode 0600): a demo. Gateways' keys move into a
 * security module later; the library signs only through the Signer interface already.
 * Writes go straight to the file system (CliIo only reads).
 */

const INDEX_FORMAT = 'smgw-pki/1'

interface IndexCa {
  readonly cert: string
  readonly key: string
  readonly issuer: DemoCaLabel
  crlNumber: number
  readonly crl: string
}
interface IndexCertificate {
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
interface PkiIndex {
  readonly format: typeof INDEX_FORMAT
  readonly curve: CurveName
  readonly created: string
  readonly cas: Record<string, IndexCa>
  readonly certificates: IndexCertificate[]
}

const PROFILES: readonly CertificateProfile[] = ['root-ca', 'sub-ca', 'tls', 'sig', 'enc', 'manufacturer']
const TLS_ROLES: readonly TlsRole[] = ['client', 'server', 'client-server']

function newSerial(): Uint8Array {
  const b = randomBytes(16)
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x10
  return new Uint8Array(b)
}

function generateKey(curve: CurveName): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: CURVES[curve].nodeName }).privateKey
}

function keyPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString()
}

async function put(path: string, text: string, secret = false): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, text, secret ? { mode: 0o600 } : {})
}

function parseCurve(value: string | undefined): CurveName {
  const curve = value ?? 'brainpoolP256r1'
  if (!isCurveName(curve)) throw new UsageError(`--curve: one of ${Object.keys(CURVES).join(', ')}`)
  return curve
}

function parseCount(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 10_000) throw new UsageError(`${name}: a whole number from 0 to 10000`)
  return n
}

function parseTime(value: string | undefined): Date {
  if (value === undefined) return new Date()
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) throw new UsageError(`not an ISO time: ${value}`)
  return d
}

function parsePurpose(value: string | undefined): ValidationPurpose | undefined {
  if (value === undefined) return undefined
  const p = VALIDATION_PURPOSES.find((x) => x === value)
  if (p === undefined) throw new UsageError(`--purpose: one of ${VALIDATION_PURPOSES.join(', ')}`)
  return p
}

function parseProfile(value: string): CertificateProfile {
  const p = PROFILES.find((x) => x === value)
  if (p === undefined) throw new UsageError(`--profile: one of ${PROFILES.join(', ')}`)
  return p
}

function parseTlsRole(value: string | undefined): TlsRole | undefined {
  if (value === undefined) return undefined
  const r = TLS_ROLES.find((x) => x === value)
  if (r === undefined) throw new UsageError(`--tls-role: one of ${TLS_ROLES.join(', ')}`)
  return r
}

function parseDays(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 36_500) throw new UsageError('--days: a whole number from 1 to 36500')
  return n
}

/** PEM labels by kind of file (RFC 7468 §5, §6, §7; 'CMS' and 'PKCS7' as openssl writes them). */
const LABELS = {
  certificate: ['CERTIFICATE'],
  crl: ['X509 CRL'],
  csr: ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'],
  cms: ['CMS', 'PKCS7'],
} as const

/** The DER objects of a PEM file (blocks with one of `labels`) or the DER file itself; PKI_MALFORMED otherwise. */
async function readDers(io: CliIo, path: string, labels: readonly string[] = LABELS.certificate): Promise<Uint8Array[]> {
  const bytes = await io.readFile(path)
  try {
    return decodePemOrDer(bytes, labels, 'CERT_MALFORMED')
  } catch (err) {
    if (err instanceof CryptoError) throw new PkiError('PKI_MALFORMED', `${path}: ${err.message}`, { cause: err })
    throw err
  }
}

async function readOne(io: CliIo, path: string, labels?: readonly string[]): Promise<Uint8Array> {
  const [first] = await readDers(io, path, labels)
  if (first === undefined) throw new PkiError('PKI_MALFORMED', `${path}: empty`)
  return first
}

async function readKey(io: CliIo, path: string): Promise<KeyObject> {
  const bytes = await io.readFile(path)
  try {
    return isPem(bytes) ? createPrivateKey(Buffer.from(bytes).toString('utf8')) : createPrivateKey({ key: Buffer.from(bytes), format: 'der', type: 'pkcs8' })
  } catch (err) {
    throw new PkiError('PKI_MALFORMED', `${path}: not a private key`, { cause: err })
  }
}

function signerOf(key: KeyObject, path: string): Signer {
  try {
    return createKeyObjectSigner(key)
  } catch (err) {
    throw new PkiError('PKI_UNSUPPORTED_ALGORITHM', `${path}: key not on an allowed curve`, { cause: err })
  }
}

async function readIndex(io: CliIo, dir: string): Promise<PkiIndex> {
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

async function writeIndex(dir: string, index: PkiIndex): Promise<void> {
  await put(join(dir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`)
}

async function loadCa(io: CliIo, dir: string, index: PkiIndex, label: string): Promise<{ signer: Signer; certificate: Uint8Array; entry: IndexCa }> {
  const entry = index.cas[label]
  if (entry === undefined) throw new UsageError(`--ca: one of ${Object.keys(index.cas).join(', ')}`)
  const keyPath = join(dir, entry.key)
  return { signer: signerOf(await readKey(io, keyPath), keyPath), certificate: await readOne(io, join(dir, entry.cert)), entry }
}

function recordOf(dir: string, der: Uint8Array, profile: CertificateProfile, issuer: string, certPath: string, keyPath: string | null): IndexCertificate {
  const c = decodeCertificate(der)
  return {
    serial: c.serialHex, subject: c.subject, profile, issuer, cert: relative(dir, certPath), key: keyPath === null ? null : relative(dir, keyPath),
    notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(),
  }
}

async function writeCrl(io: CliIo, dir: string, index: PkiIndex, label: string, now: Date, days: number): Promise<{ crlNumber: number; revoked: number; path: string }> {
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
async function reissueCrls(io: CliIo, dir: string, index: PkiIndex, labels: readonly string[], now: Date, days: number): Promise<void> {
  for (const label of labels) {
    const crl = await writeCrl(io, dir, index, label, now, days)
    io.stdout(`${relative(dir, crl.path)}: CRL number ${String(crl.crlNumber)}, ${String(crl.revoked)} revoked\n`)
  }
  await writeIndex(dir, index)
}

/** `issue` and `sign-csr`: the certificate written (PEM), recorded in index.json and printed. */
async function recordIssued(
  io: CliIo, dir: string, index: PkiIndex,
  c: { readonly der: Uint8Array; readonly profile: CertificateProfile; readonly ca: string; readonly certPath: string; readonly keyPath: string | null },
  extra: Record<string, unknown>, json: boolean,
): Promise<void> {
  await put(c.certPath, encodePem('CERTIFICATE', c.der))
  index.certificates.push(recordOf(dir, c.der, c.profile, c.ca, c.certPath, c.keyPath))
  await writeIndex(dir, index)
  printObject(io, { ...describeCertificate(decodeCertificate(c.der)), file: c.certPath, ...extra }, json)
}

/** The profile's default validity from `now`, or `days` days. */
function validityOf(profile: CertificateProfile, now: Date, days: number | undefined): { notBefore: Date; notAfter: Date } {
  return days === undefined ? defaultValidity(profile, now) : { notBefore: now, notAfter: new Date(now.getTime() + days * 86_400_000) }
}

/** What a leaf is most likely for, when --purpose is not given. */
function inferPurpose(c: DecodedCertificate): ValidationPurpose {
  if (c.basicConstraints?.ca === true) return 'ca'
  if (c.extendedKeyUsage?.includes('1.3.6.1.5.5.7.3.1') === true) return 'tls-server'
  if (c.extendedKeyUsage?.includes('1.3.6.1.5.5.7.3.2') === true) return 'tls-client'
  if (c.keyUsage?.includes('keyAgreement') === true) return 'enc'
  return 'sig'
}

function describeCertificate(c: DecodedCertificate): Record<string, unknown> {
  return {
    type: 'certificate', subject: c.subject, issuer: c.issuer, serial: c.serialHex, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(),
    publicKey: c.publicKeyKind.kind === 'ec' ? c.publicKeyKind.curve : c.publicKeyKind.kind, signatureAlgorithm: c.signatureAlgorithm,
    ca: c.basicConstraints?.ca ?? false, pathLength: c.basicConstraints?.pathLength ?? null, keyUsage: c.keyUsage ?? null,
    extendedKeyUsage: c.extendedKeyUsage ?? null, subjectKeyIdentifier: c.subjectKeyIdentifier ?? null, authorityKeyIdentifier: c.authorityKeyIdentifier ?? null,
    crlDistributionPoints: c.crlDistributionPoints, extensions: c.extensions.map((e) => ({ oid: e.oid, critical: e.critical })),
  }
}

function printObject(io: CliIo, obj: Record<string, unknown>, json: boolean): void {
  if (json) {
    io.stdout(`${toJson(obj)}\n`)
    return
  }
  for (const [k, v] of Object.entries(obj)) {
    const text = v === null || v === undefined ? '-' : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : toJson(x))).join(', ') : typeof v === 'string' ? v : toJson(v)
    io.stdout(`${k.padEnd(24)} ${text}\n`)
  }
}

/** PkiError or CryptoError → "smgw pki: CODE: message" and exit 1; everything else propagates. */
async function guarded(io: CliIo, action: () => Promise<number>): Promise<number> {
  try {
    return await action()
  } catch (err) {
    if (err instanceof PkiError || err instanceof CryptoError) {
      io.stderr(`smgw pki: ${err.code}: ${err.message}\n`)
      return EXIT_FAILED
    }
    throw err
  }
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

/** The trust options `smgw pki verify` and `smgw cms verify` share. */
export interface TrustFileOptions {
  readonly root: readonly string[]
  readonly chain: readonly string[]
  readonly crl: readonly string[]
  readonly at?: string
}

/** Adds --root (required), --chain, --crl (all repeatable) and --at to a command. */
export function withTrustOptions(command: Command): Command {
  return command
    .requiredOption('--root <file>', 'trusted root certificate(s), PEM or DER (repeatable)', collect)
    .option('--chain <file>', 'untrusted intermediates (repeatable)', collect, [])
    .option('--crl <file>', 'CRLs (repeatable)', collect, [])
    .option('--at <iso-time>', 'validation time (default: now)')
}

/** Reads the files of {@link withTrustOptions} for validatePath. */
export async function readTrust(io: CliIo, o: TrustFileOptions): Promise<{ roots: Uint8Array[]; intermediates: Uint8Array[]; crls: Uint8Array[]; at: Date }> {
  const all = async (files: readonly string[], labels: readonly string[]) => (await Promise.all(files.map((f) => readDers(io, f, labels)))).flat()
  return { roots: await all(o.root, LABELS.certificate), intermediates: await all(o.chain, LABELS.certificate), crls: await all(o.crl, LABELS.crl), at: parseTime(o.at) }
}

export function register(program: Command, io: CliIo, run: CommandRun): void {
  const pki = program.command('pki').description('SM-PKI (TR-03109-4): a demo PKI folder, certificates, CSRs, CRLs, path validation')

  pki.command('init')
    .description('create a complete demo SM-PKI in DIR: root, sub-CAs, GWA, EMTs, gateways, CRLs')
    .argument('<dir>', 'the folder to create (must be absent or empty)')
    .option('--gateways <n>', 'number of gateways', '1')
    .option('--emts <n>', 'number of EMTs (market participants)', '2')
    .option('--curve <curve>', 'key curve for every key', 'brainpoolP256r1')
    .option('--organization <o>', 'O= in every name', 'SMGW Demo')
    .option('--crl-uri <base>', 'put cRLDistributionPoints <base>/<ca>.crl into certificates')
    .option('--at <iso-time>', 'validity start (default: now)')
    .option('--json', 'print a JSON summary')
    .addHelpText('after', `
Examples:
  smgw pki init ./demo-pki
  smgw pki init ./pki --gateways 10 --emts 3 --curve brainpoolP384r1 --json

Layout: index.json, root-ca/ca.{key,cert}.pem, sub-ca-{emt,gw,gs}/ca.{key,cert}.pem, chain.pem,
gwa/{tls,sig,enc}.{key,cert}.pem, emt-N/..., gateways/<id>/{gs,tls,sig,enc}.{key,cert}.pem,
crl/<ca>.crl.pem. Keys are unencrypted PKCS#8 PEM (mode 0600): for demos and tests only.
`)
    .action((dir: string, opts: { gateways: string; emts: string; curve: string; organization: string; crlUri?: string; at?: string; json?: boolean }) =>
      run(() => guarded(io, async () => {
        const curve = parseCurve(opts.curve)
        const gateways = parseCount(opts.gateways, '--gateways', 1)
        const emts = parseCount(opts.emts, '--emts', 2)
        const now = parseTime(opts.at)
        if (existsSync(dir) && (await readdir(dir)).length > 0) throw new UsageError(`${dir} exists and is not empty`)
        const keys = new Map<string, KeyObject>()
        const demo = await createDemoPki({ curve, gateways, emts, organization: opts.organization, ...(opts.crlUri === undefined ? {} : { crlBaseUri: opts.crlUri }) }, {
          now, serialNumber: newSerial,
          newKey: (c, label) => {
            const key = generateKey(c)
            keys.set(label, key)
            return Promise.resolve(createKeyObjectSigner(key))
          },
        })
        const index: PkiIndex = { format: INDEX_FORMAT, curve, created: now.toISOString(), cas: {}, certificates: [] }
        const writeKey = async (label: string, file = label) => {
          const key = keys.get(label)
          if (key === undefined) throw new PkiError('PKI_BAD_ARGUMENT', `no key ${label}`)
          await put(join(dir, `${file}.key.pem`), keyPem(key), true)
        }
        for (const ca of demo.cas) {
          // The root CA lives in root-ca/: a folder named root/ reads like a system path in listings and scripts.
          const folder = ca.label === 'root' ? 'root-ca' : ca.label
          await writeKey(`${ca.label}/ca`, `${folder}/ca`)
          await put(join(dir, folder, 'ca.cert.pem'), encodePem('CERTIFICATE', ca.certificate))
          index.cas[ca.label] = { cert: `${folder}/ca.cert.pem`, key: `${folder}/ca.key.pem`, issuer: ca.issuer, crlNumber: 1, crl: `crl/${ca.label}.crl.pem` }
          index.certificates.push(recordOf(dir, ca.certificate, ca.label === 'root' ? 'root-ca' : 'sub-ca', ca.issuer, join(dir, folder, 'ca.cert.pem'), join(dir, folder, 'ca.key.pem')))
        }
        await put(join(dir, 'chain.pem'), demo.cas.filter((c) => c.label !== 'root').map((c) => encodePem('CERTIFICATE', c.certificate)).join(''))
        for (const p of demo.participants) {
          for (const c of p.certificates) {
            await writeKey(c.label)
            const certPath = join(dir, `${c.label}.cert.pem`)
            await put(certPath, encodePem('CERTIFICATE', c.certificate))
            index.certificates.push(recordOf(dir, c.certificate, c.profile, c.issuer, certPath, join(dir, `${c.label}.key.pem`)))
          }
        }
        for (const crl of demo.crls) await put(join(dir, 'crl', `${crl.ca}.crl.pem`), encodePem('X509 CRL', crl.der))
        await writeIndex(dir, index)
        const summary = {
          ok: true, dir: resolve(dir), curve, cas: demo.cas.map((c) => c.label), participants: demo.participants.map((p) => p.label),
          certificates: index.certificates.length, crls: demo.crls.map((c) => `crl/${c.ca}.crl.pem`),
        }
        if (opts.json === true) io.stdout(`${toJson(summary)}\n`)
        else io.stdout(`created ${summary.dir}: ${String(summary.cas.length)} CAs, ${String(summary.participants.length)} participants (${summary.participants.join(', ')}), ${String(summary.certificates)} certificates, curve ${curve}\n`)
        return EXIT_OK
      })))

  pki.command('issue')
    .description('issue a certificate from a CA of a PKI folder, with a new key (or --key)')
    .requiredOption('--dir <dir>', 'the PKI folder')
    .requiredOption('--ca <label>', 'issuing CA: root, sub-ca-emt, sub-ca-gw, sub-ca-gs')
    .requiredOption('--profile <profile>', `one of ${PROFILES.join(', ')}`)
    .requiredOption('--subject <dn>', 'subject, e.g. "CN=EMT Demo 3,OU=EMT,O=SMGW Demo,C=DE"')
    .requiredOption('--out <prefix>', 'writes <prefix>.cert.pem (and <prefix>.key.pem for a new key)')
    .option('--key <file>', 'use this private key (PEM/DER PKCS#8) instead of generating one')
    .option('--tls-role <role>', `tls profile: ${TLS_ROLES.join(', ')}`)
    .option('--days <n>', 'validity in days (default: 2 years; CAs longer)')
    .option('--at <iso-time>', 'validity start (default: now)')
    .option('--json', 'print the issued certificate as JSON')
    .addHelpText('after', `
Examples:
  smgw pki issue --dir ./pki --ca sub-ca-emt --profile tls --tls-role client-server \\
      --subject "CN=EMT Demo 3,OU=EMT,O=SMGW Demo,C=DE" --out ./pki/emt-3/tls
  smgw pki issue --dir ./pki --ca sub-ca-emt --profile enc --subject "CN=EMT Demo 3,C=DE" --out ./emt3-enc --key ./emt3-enc.key.pem
`)
    .action((opts: { dir: string; ca: string; profile: string; subject: string; out: string; key?: string; tlsRole?: string; days?: string; at?: string; json?: boolean }) =>
      run(() => guarded(io, async () => {
        const index = await readIndex(io, opts.dir)
        const profile = parseProfile(opts.profile)
        const tlsRole = parseTlsRole(opts.tlsRole)
        const days = parseDays(opts.days)
        const now = parseTime(opts.at)
        const ca = await loadCa(io, opts.dir, index, opts.ca)
        const key = opts.key === undefined ? generateKey(index.curve) : await readKey(io, opts.key)
        const signer = signerOf(key, opts.key ?? 'new key')
        const validity = validityOf(profile, now, days)
        const der = await issueCertificate({
          profile, subject: parseName(opts.subject), publicKey: signer.publicKey, serialNumber: newSerial(), ...validity, issuer: ca,
          ...(tlsRole === undefined ? {} : { tlsRole }),
        })
        let keyPath: string | null = opts.key ?? null
        if (opts.key === undefined) {
          keyPath = `${opts.out}.key.pem`
          await put(keyPath, keyPem(key), true)
        }
        await recordIssued(io, opts.dir, index, { der, profile, ca: opts.ca, certPath: `${opts.out}.cert.pem`, keyPath }, {}, opts.json === true)
        return EXIT_OK
      })))

  pki.command('csr')
    .description('create a certification request (PKCS#10); with --renew-key/--renew-cert a renewal request signed by the old key too')
    .requiredOption('--key <file>', 'the new private key (PEM/DER PKCS#8); created when absent together with --generate')
    .requiredOption('--subject <dn>', 'subject, e.g. "CN=smgw-0001,OU=SMGW,O=SMGW Demo,C=DE"')
    .requiredOption('--out <file>', 'where to write the request (PEM)')
    .option('--generate [curve]', 'create --key first (default curve brainpoolP256r1)')
    .option('--renew-key <file>', 'the old (still valid) private key: signs the CMS SignedData around the CSR')
    .option('--renew-cert <file>', 'the certificate of the old key (carried in the SignedData)')
    .option('--renew-chain <file>', 'further certificates to carry, e.g. the old certificate\'s sub-CA (repeatable)', collect, [])
    .addHelpText('after', `
Examples:
  # initial request with a new key
  smgw pki csr --key gw-tls.key.pem --generate --subject "CN=smgw-0001,OU=SMGW,O=SMGW Demo,C=DE" --out gw-tls.csr.pem
  # renewal (or a gateway's first request signed with its Gütesiegel key)
  smgw pki csr --key new.key.pem --generate --subject "CN=smgw-0001,OU=SMGW,O=SMGW Demo,C=DE" \\
      --renew-key pki/gateways/smgw-0001/tls.key.pem --renew-cert pki/gateways/smgw-0001/tls.cert.pem --out renew.pem

A renewal request (TR-03109-4) is a CMS SignedData (PEM "CMS") by the old key whose content is the
new CSR (eContentType id-data); 'openssl cms -verify -inform PEM -in renew.pem -CAfile root.pem
-purpose any' checks it and prints the CSR (DER). See packages/pki/README.md.
`)
    .action((opts: { key: string; subject: string; out: string; generate?: string | boolean; renewKey?: string; renewCert?: string; renewChain: string[] }) =>
      run(() => guarded(io, async () => {
        if ((opts.renewKey === undefined) !== (opts.renewCert === undefined)) throw new UsageError('give --renew-key and --renew-cert together')
        let key: KeyObject
        if (opts.generate !== undefined) {
          if (existsSync(opts.key)) throw new UsageError(`${opts.key} exists; drop --generate to use it`)
          key = generateKey(parseCurve(typeof opts.generate === 'string' ? opts.generate : undefined))
          await put(opts.key, keyPem(key), true)
        } else key = await readKey(io, opts.key)
        const csr = await createCsr({ signer: signerOf(key, opts.key), subject: parseName(opts.subject) })
        if (opts.renewKey === undefined || opts.renewCert === undefined) {
          await put(opts.out, encodePem('CERTIFICATE REQUEST', csr))
          io.stdout(`wrote ${opts.out} (certification request for ${decodeCsr(csr).subject})\n`)
          return EXIT_OK
        }
        const chain = (await Promise.all(opts.renewChain.map((f) => readDers(io, f)))).flat()
        const request = await createRenewalRequest({
          csr, oldSigner: signerOf(await readKey(io, opts.renewKey), opts.renewKey), oldCertificate: await readOne(io, opts.renewCert), chain, signingTime: new Date(),
        })
        await put(opts.out, encodePem('CMS', request))
        io.stdout(`wrote ${opts.out} (renewal request for ${decodeCsr(csr).subject}, signed by the old key)\n`)
        return EXIT_OK
      })))

  pki.command('sign-csr')
    .description('the CA processes a request: verify the CSR (and for a renewal the old-key signature and the old certificate), then issue')
    .argument('<request>', 'a CERTIFICATE REQUEST, or a renewal request (CMS SignedData by the old key), PEM or DER')
    .requiredOption('--dir <dir>', 'the PKI folder')
    .requiredOption('--ca <label>', 'issuing CA')
    .requiredOption('--profile <profile>', `one of ${PROFILES.join(', ')}`)
    .requiredOption('--out <file>', 'where to write the certificate (PEM)')
    .option('--tls-role <role>', `tls profile: ${TLS_ROLES.join(', ')}`)
    .option('--days <n>', 'validity in days')
    .option('--at <iso-time>', 'issuing time, and when the old certificate must be valid (default: now)')
    .option('--old-purpose <purpose>', 'renewal: what the old certificate is validated for', 'tls-client')
    .option('--json', 'print the issued certificate as JSON')
    .addHelpText('after', `
Examples:
  smgw pki sign-csr gw-tls.csr.pem --dir ./pki --ca sub-ca-gw --profile tls --tls-role client --out gw-tls.cert.pem
  smgw pki sign-csr renew.pem --dir ./pki --ca sub-ca-gw --profile tls --tls-role client --out new-tls.cert.pem
`)
    .action((request: string, opts: { dir: string; ca: string; profile: string; out: string; tlsRole?: string; days?: string; at?: string; oldPurpose: string; json?: boolean }) =>
      run(() => guarded(io, async () => {
        const index = await readIndex(io, opts.dir)
        const profile = parseProfile(opts.profile)
        const tlsRole = parseTlsRole(opts.tlsRole)
        const days = parseDays(opts.days)
        const now = parseTime(opts.at)
        const oldPurpose = parsePurpose(opts.oldPurpose) ?? 'tls-client'
        const ca = await loadCa(io, opts.dir, index, opts.ca)
        const { der, isRenewal } = await readRequest(io, request)
        const validity = validityOf(profile, now, days)
        const common = { ca, profile, serialNumber: newSerial(), ...validity, ...(tlsRole === undefined ? {} : { tlsRole }) }
        let cert: Uint8Array
        if (isRenewal) {
          const roots = await readDers(io, join(opts.dir, 'root-ca/ca.cert.pem'))
          const intermediates = await readDers(io, join(opts.dir, 'chain.pem'))
          const crls = (await Promise.all(Object.values(index.cas).map((c) => readDers(io, join(opts.dir, c.crl), LABELS.crl)))).flat()
          cert = await signRenewalRequest(der, { roots, intermediates, crls, at: now, purpose: oldPurpose }, common)
        } else cert = await signCsr(der, common)
        await recordIssued(io, opts.dir, index, { der: cert, profile, ca: opts.ca, certPath: opts.out, keyPath: null }, { renewal: isRenewal }, opts.json === true)
        return EXIT_OK
      })))

  pki.command('revoke')
    .description('mark a certificate of a PKI folder revoked and reissue its CA\'s CRL')
    .argument('<cert>', 'the certificate (PEM or DER), or its serial in hex')
    .requiredOption('--dir <dir>', 'the PKI folder')
    .option('--reason <reason>', 'CRLReason: keyCompromise, superseded, cessationOfOperation, …', 'unspecified')
    .option('--at <iso-time>', 'revocation time (default: now)')
    .option('--crl-days <n>', 'lifetime of the new CRL', '7')
    .addHelpText('after', `
Examples:
  smgw pki revoke ./pki/emt-2/tls.cert.pem --dir ./pki --reason keyCompromise
  smgw pki revoke 1f3a… --dir ./pki
`)
    .action((cert: string, opts: { dir: string; reason: string; at?: string; crlDays: string }) =>
      run(() => guarded(io, async () => {
        if (!isRevocationReason(opts.reason)) throw new UsageError(`--reason: one of keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise, unspecified`)
        const reason = opts.reason
        const index = await readIndex(io, opts.dir)
        const now = parseTime(opts.at)
        const days = parseDays(opts.crlDays) ?? 7
        const serial = existsSync(cert) ? decodeCertificate(await readOne(io, cert)).serialHex : cert.toLowerCase().replace(/[^0-9a-f]/g, '')
        const entry = index.certificates.find((c) => c.serial === serial)
        if (entry === undefined) throw new UsageError(`serial ${serial} was not issued in ${opts.dir}`)
        if (entry.issuer === entry.subject || entry.profile === 'root-ca') throw new UsageError('a root is not revoked by a CRL')
        entry.revoked = { date: now.toISOString(), reason }
        io.stdout(`revoked ${entry.subject} (serial ${serial}, ${reason})\n`)
        await reissueCrls(io, opts.dir, index, [entry.issuer], now, days)
        return EXIT_OK
      })))

  pki.command('crl')
    .description('reissue the CRL of one CA (or all) of a PKI folder from index.json')
    .requiredOption('--dir <dir>', 'the PKI folder')
    .option('--ca <label>', 'one CA (default: all)')
    .option('--days <n>', 'nextUpdate after this many days', '7')
    .option('--at <iso-time>', 'thisUpdate (default: now)')
    .addHelpText('after', `
Examples:
  smgw pki crl --dir ./pki
  smgw pki crl --dir ./pki --ca sub-ca-gw --days 1
`)
    .action((opts: { dir: string; ca?: string; days: string; at?: string }) =>
      run(() => guarded(io, async () => {
        const index = await readIndex(io, opts.dir)
        const days = parseDays(opts.days) ?? 7
        const now = parseTime(opts.at)
        await reissueCrls(io, opts.dir, index, opts.ca === undefined ? Object.keys(index.cas) : [opts.ca], now, days)
        return EXIT_OK
      })))

  pki.command('show')
    .description('print a certificate, CRL, certification request or renewal request (PEM or DER)')
    .argument('<file>', 'the file')
    .option('--json', 'one JSON object per object in the file')
    .addHelpText('after', `
Examples:
  smgw pki show ./pki/gwa/tls.cert.pem
  smgw pki show ./pki/crl/sub-ca-gw.crl.pem --json
`)
    .action((file: string, opts: { json?: boolean }) =>
      run(() => guarded(io, async () => {
        const bytes = await io.readFile(file)
        const objects = isPem(bytes) ? decodePemBlocks(bytes, 'CERT_MALFORMED') : [{ label: '', der: bytes }]
        let first = true
        for (const o of objects) {
          if (!first && opts.json !== true) io.stdout('\n')
          first = false
          printObject(io, showOne(o.label, o.der), opts.json === true)
        }
        return EXIT_OK
      })))

  withTrustOptions(pki.command('verify')
    .description('validate a certificate path with the SM-PKI rules (exit 0 valid, 1 not)')
    .argument('<cert>', 'the end-entity certificate (PEM or DER)'))
    .option('--purpose <purpose>', `${VALIDATION_PURPOSES.join('|')} (default: inferred from the certificate)`)
    .option('--require-crl', 'every certificate below the root needs its issuer\'s CRL')
    .option('--json', 'print {"ok", "reason", "chain", "detail", "purpose"}')
    .addHelpText('after', `
Examples:
  smgw pki verify ./pki/gwa/tls.cert.pem --root ./pki/root-ca/ca.cert.pem --chain ./pki/chain.pem --purpose tls-server
  smgw pki verify ./pki/emt-1/enc.cert.pem --root ./pki/root-ca/ca.cert.pem --chain ./pki/chain.pem \\
      --crl ./pki/crl/sub-ca-emt.crl.pem --crl ./pki/crl/root.crl.pem --require-crl --json

Reasons: MALFORMED PROFILE NO_PATH BAD_SIGNATURE EXPIRED NOT_YET_VALID REVOKED CRL_MISSING CRL_EXPIRED
CRL_INVALID KEY_USAGE EKU NOT_CA LEAF_IS_CA PATH_LENGTH ALGORITHM_NOT_ALLOWED CURVE_NOT_ALLOWED
UNKNOWN_CRITICAL_EXTENSION (see packages/pki/README.md).
`)
    .action((cert: string, opts: TrustFileOptions & { purpose?: string; requireCrl?: boolean; json?: boolean }) =>
      run(() => guarded(io, async () => {
        const explicit = parsePurpose(opts.purpose)
        const { roots, intermediates, crls, at } = await readTrust(io, opts)
        const leaf = await readOne(io, cert)
        let purpose: ValidationPurpose = explicit ?? 'sig'
        if (explicit === undefined) {
          try {
            purpose = inferPurpose(decodeCertificate(leaf))
          } catch {
            // A certificate that does not decode is reported as MALFORMED below.
          }
        }
        const result = validatePath({ leaf, intermediates, roots, crls, at, purpose, ...(opts.requireCrl === true ? { requireCrl: true } : {}) })
        const chain = result.chain.map((c) => c.subject)
        if (opts.json === true) {
          io.stdout(`${toJson({ ok: result.ok, reason: result.ok ? null : result.reason, chain, detail: result.ok ? null : result.detail, purpose })}\n`)
        } else if (result.ok) io.stdout(`OK (${purpose}): ${chain.join(' → ')}\n`)
        else io.stdout(`INVALID ${result.reason} (${purpose}): ${result.detail}\n`)
        return result.ok ? EXIT_OK : EXIT_FAILED
      })))
}

/** A request file: PEM by its label (CMS/PKCS7 = renewal, CERTIFICATE REQUEST = initial), DER by what decodes. */
async function readRequest(io: CliIo, path: string): Promise<{ der: Uint8Array; isRenewal: boolean }> {
  const bytes = await io.readFile(path)
  if (isPem(bytes)) {
    const known: readonly string[] = [...LABELS.cms, ...LABELS.csr]
    const [block] = decodePemBlocks(bytes, 'CERT_MALFORMED').filter((b) => known.includes(b.label))
    if (block === undefined) throw new PkiError('PKI_MALFORMED', `${path}: no ${[...LABELS.csr, ...LABELS.cms].join(' or ')} block`)
    return { der: block.der, isRenewal: (LABELS.cms as readonly string[]).includes(block.label) }
  }
  try {
    decodeRenewalRequest(bytes)
    return { der: bytes, isRenewal: true }
  } catch {
    return { der: bytes, isRenewal: false }
  }
}

function showOne(label: string, der: Uint8Array): Record<string, unknown> {
  const kinds: Record<string, () => Record<string, unknown>> = {
    CERTIFICATE: () => describeCertificate(decodeCertificate(der)),
    'X509 CRL': () => {
      const c = decodeCrl(der)
      return {
        type: 'crl', issuer: c.issuer, crlNumber: c.crlNumber ?? null, thisUpdate: c.thisUpdate.toISOString(), nextUpdate: c.nextUpdate?.toISOString() ?? null,
        signatureAlgorithm: c.signatureAlgorithm, revoked: c.revoked.map((r) => ({ serial: r.serialHex, date: r.revocationDate.toISOString(), reason: r.reason ?? 'unspecified' })),
      }
    },
    'CERTIFICATE REQUEST': () => {
      const c = decodeCsr(der)
      return { type: 'csr', subject: c.subject, publicKey: c.publicKeyKind.kind === 'ec' ? c.publicKeyKind.curve : c.publicKeyKind.kind, signatureAlgorithm: c.signatureAlgorithm }
    },
    CMS: () => {
      const r = decodeRenewalRequest(der)
      return {
        type: 'renewal-request', subject: r.csr.subject, oldCertificate: { subject: r.oldCertificate.subject, serial: r.oldCertificate.serialHex, issuer: r.oldCertificate.issuer },
        signatureAlgorithm: r.signatureAlgorithm, signingTime: r.signingTime?.toISOString() ?? null,
      }
    },
  }
  const direct = kinds[label === 'PKCS7' ? 'CMS' : label]
  if (direct !== undefined) return direct()
  for (const k of Object.values(kinds)) {
    try {
      return k()
    } catch {
      // try the next kind
    }
  }
  throw new PkiError('PKI_MALFORMED', 'neither a certificate, CRL, certification request nor renewal request')
}

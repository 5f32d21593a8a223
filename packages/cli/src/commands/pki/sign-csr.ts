import { join } from 'node:path'
import type { Command } from 'commander'
import { decodePemBlocks, isPem } from '@smgw/crypto'
import { decodeRenewalRequest, PkiError, signCsr, signRenewalRequest } from '@smgw/pki'
import type { CliIo } from '../../io.js'
import type { CommandRun } from '../../program.js'
import { EXIT_OK } from '../../exit.js'
import { newSerial, readIndex, loadCa, recordIssued } from './folder.js'
import { PROFILES, TLS_ROLES, LABELS, parseTime, parsePurpose, parseProfile, parseTlsRole, parseDays, readDers, validityOf } from './input.js'
import { guarded } from './output.js'

export function register(pki: Command, io: CliIo, run: CommandRun): void {
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

import type { Command } from 'commander'
import { decodePemBlocks, isPem } from '@smgw/crypto'
import { decodeCertificate, decodeCrl, decodeCsr, decodeRenewalRequest, PkiError } from '@smgw/pki'
import type { CliIo } from '../../io.js'
import type { CommandRun } from '../../program.js'
import { EXIT_OK } from '../../exit.js'
import { printObject, guarded, describeCertificate } from './output.js'

export function register(pki: Command, io: CliIo, run: CommandRun): void {
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

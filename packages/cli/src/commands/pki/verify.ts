import type { Command } from 'commander'
import { decodeCertificate, validatePath, VALIDATION_PURPOSES, type DecodedCertificate, type ValidationPurpose } from '@smgw/pki'
import type { CliIo } from '../../io.js'
import type { CommandRun } from '../../program.js'
import { EXIT_FAILED, EXIT_OK } from '../../exit.js'
import { toJson } from '../../json.js'
import { parsePurpose, readOne } from './input.js'
import { guarded } from './output.js'
import { withTrustOptions, readTrust, type TrustFileOptions } from './trust.js'

export function register(pki: Command, io: CliIo, run: CommandRun): void {
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

/** What a leaf is most likely for, when --purpose is not given. */
function inferPurpose(c: DecodedCertificate): ValidationPurpose {
  if (c.basicConstraints?.ca === true) return 'ca'
  if (c.extendedKeyUsage?.includes('1.3.6.1.5.5.7.3.1') === true) return 'tls-server'
  if (c.extendedKeyUsage?.includes('1.3.6.1.5.5.7.3.2') === true) return 'tls-client'
  if (c.keyUsage?.includes('keyAgreement') === true) return 'enc'
  return 'sig'
}

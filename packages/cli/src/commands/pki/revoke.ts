import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { decodeCertificate, isRevocationReason } from '@smgw/pki'
import type { CliIo } from '../../io.js'
import type { CommandRun } from '../../program.js'
import { EXIT_OK, UsageError } from '../../exit.js'
import { readIndex, reissueCrls } from './folder.js'
import { parseTime, parseDays, readOne } from './input.js'
import { guarded } from './output.js'

export function register(pki: Command, io: CliIo, run: CommandRun): void {
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
}

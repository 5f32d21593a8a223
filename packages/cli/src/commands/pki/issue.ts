import type { Command } from 'commander'
import { issueCertificate, parseName } from '@smgw/pki'
import type { CliIo } from '../../io.js'
import type { CommandRun } from '../../program.js'
import { EXIT_OK } from '../../exit.js'
import { newSerial, generateKey, keyPem, put, readIndex, loadCa, recordIssued } from './folder.js'
import { PROFILES, TLS_ROLES, parseTime, parseProfile, parseTlsRole, parseDays, readKey, signerOf, validityOf } from './input.js'
import { guarded } from './output.js'

export function register(pki: Command, io: CliIo, run: CommandRun): void {
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
}

import type { KeyObject } from 'node:crypto'
import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { encodePem } from '@smgw/crypto'
import { createCsr, createRenewalRequest, decodeCsr, parseName } from '@smgw/pki'
import type { CliIo } from '../../io.js'
import type { CommandRun } from '../../program.js'
import { EXIT_OK, UsageError } from '../../exit.js'
import { generateKey, keyPem, put } from './folder.js'
import { parseCurve, readDers, readOne, readKey, signerOf } from './input.js'
import { guarded } from './output.js'
import { collect } from './trust.js'

export function register(pki: Command, io: CliIo, run: CommandRun): void {
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
}

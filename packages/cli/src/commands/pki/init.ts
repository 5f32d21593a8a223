import type { KeyObject } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { createKeyObjectSigner, encodePem } from '@smgw/crypto'
import { createDemoPki, PkiError } from '@smgw/pki'
import type { CliIo } from '../../io.js'
import type { CommandRun } from '../../program.js'
import { EXIT_OK, UsageError } from '../../exit.js'
import { toJson } from '../../json.js'
import { INDEX_FORMAT, type PkiIndex, newSerial, generateKey, keyPem, put, writeIndex, recordOf } from './folder.js'
import { parseCurve, parseCount, parseTime } from './input.js'
import { guarded } from './output.js'

export function register(pki: Command, io: CliIo, run: CommandRun): void {
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
manufacturer/sig.{key,cert}.pem (signs firmware packages: smgw firmware pack), crl/<ca>.crl.pem. Keys are unencrypted PKCS#8 PEM (mode 0600): for demos and tests only.
`)
    .action((dir: string, opts: { gateways: string; emts: string; curve: string; organization: string; crlUri?: string; at?: string; json?: boolean }) =>
      run(() => guarded(io, async () => {
        const curve = parseCurve(opts.curve)
        const gateways = parseCount(opts.gateways, '--gateways', 1)
        const emts = parseCount(opts.emts, '--emts', 2)
        const now = parseTime(opts.at)
        if (existsSync(dir) && (await readdir(dir)).length > 0) throw new UsageError(`${dir} exists and is not empty`)
        const keys = new Map<string, KeyObject>()
        const demo = await createDemoPki({ curve, gateways, emts, organization: opts.organization, manufacturer: true, ...(opts.crlUri === undefined ? {} : { crlBaseUri: opts.crlUri }) }, {
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
}

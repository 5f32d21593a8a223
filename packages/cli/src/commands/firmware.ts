import { writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import {
  AdminProtocolError, FIRMWARE_MANIFEST_FORMAT, FIRMWARE_PACKAGE_FORMAT, FirmwareManifest, FirmwarePackage, VERSION_PATTERN,
  createFirmwarePackage, createSignerVerifier, openFirmwarePackage,
} from '@smgw/admin-protocol'
import { CryptoError, createCmsSigner, createKeyObjectSigner, decodeCertificates, decodePrivateKey, decodeSignedData, digest } from '@smgw/crypto'
import { decodeCertificate, PkiError } from '@smgw/pki'
import type { CliIo } from '../io.js'
import type { CommandRun } from '../program.js'
import { EXIT_FAILED, EXIT_OK, UsageError } from '../exit.js'
import { toJson } from '../json.js'
import { readTrust, type TrustFileOptions } from './pki/index.js'

const HELP = `
Firmware packages for the gateway (docs/admin-protocol.md "Firmware package"): a JSON file
{"format":"${FIRMWARE_PACKAGE_FORMAT}","manifest":"<base64 CMS>","image":"<base64>"} whose manifest
{"format":"${FIRMWARE_MANIFEST_FORMAT}","name","version","sha256","size","createdAt"} is a CMS SignedData by
the manufacturer's SIG key. The gateway installs a package only when the signer is its configured
manufacturer (chaining to the SM-PKI root), the version is greater than the active one
(MAJOR.MINOR.PATCH, numerically) and the image has the signed size and SHA-256; then it switches
slots and rolls back unless 'node image.mjs health' exits 0 within the health timeout.

The demo PKI ('smgw pki init DIR') holds the manufacturer: DIR/manufacturer/sig.{key,cert}.pem,
issued by DIR/sub-ca-gs. Example images: samples/firmware/{healthy,broken,hanging}.mjs.

Exit status: 0 ok, 1 the package or a check failed (reason code on standard error:
MALFORMED, UNSUPPORTED_FORMAT, SIGNATURE_INVALID, SIGNER_NOT_MANUFACTURER, DOWNGRADE,
HASH_MISMATCH), 2 usage error.

Examples:
  smgw firmware pack --image samples/firmware/healthy.mjs --fw-version 1.1.0 \\
    --key pki/manufacturer/sig.key.pem --cert pki/manufacturer/sig.cert.pem --chain pki/sub-ca-gs/ca.cert.pem -o fw-1.1.0.json
  smgw firmware inspect fw-1.1.0.json
  smgw firmware inspect fw-1.1.0.json --root pki/root-ca/ca.cert.pem --chain pki/chain.pem \\
    --manufacturer pki/manufacturer/sig.cert.pem --active 1.0.0 --json
`

interface PackOptions {
  readonly image: string
  readonly fwVersion: string
  readonly key: string
  readonly cert: string
  readonly chain: string[]
  readonly name: string
  readonly at?: string
  readonly out: string
  readonly json?: boolean
}

interface InspectOptions extends Partial<TrustFileOptions> {
  readonly manufacturer?: string
  readonly active?: string
  readonly json?: boolean
}

export function register(program: Command, io: CliIo, run: CommandRun): void {
  const firmware = program
    .command('firmware')
    .description('make and inspect signed firmware packages (manufacturer SIG key, version, SHA-256)')
    .addHelpText('after', HELP)

  firmware.command('pack')
    .description('sign IMAGE as a firmware package: manifest (version, size, SHA-256) in a CMS SignedData by the manufacturer key')
    .requiredOption('--image <file>', 'the image: a Node.js ES module program (image.mjs)')
    // Not --version: commander gives the program's own -V/--version precedence anywhere on the line.
    .requiredOption('--fw-version <x.y.z>', 'the firmware version, MAJOR.MINOR.PATCH')
    .requiredOption('--key <file>', "the manufacturer's SIG private key (PKCS#8 or SEC 1, PEM or DER)")
    .requiredOption('--cert <file>', "the manufacturer's SIG certificate")
    .option('--chain <file>', 'sub-CA certificates to include in the SignedData (repeatable)', collect, [])
    .option('--name <name>', 'manifest name', 'smgw')
    .option('--at <iso-time>', 'createdAt and CMS signing time (default: now)')
    .requiredOption('-o, --out <file>', 'write the package (JSON) here')
    .option('--json', 'print a JSON summary')
    .addHelpText('after', `
Example:
  smgw firmware pack --image image.mjs --fw-version 1.3.0 --key manufacturer/sig.key.pem --cert manufacturer/sig.cert.pem -o pkg.json
`)
    .action((o: PackOptions) => run(() => guarded(io, 'pack', async () => {
      if (!VERSION_PATTERN.test(o.fwVersion)) throw new UsageError(`--fw-version: MAJOR.MINOR.PATCH, got ${o.fwVersion}`)
      const at = o.at === undefined ? new Date() : new Date(o.at)
      if (Number.isNaN(at.getTime())) throw new UsageError(`--at: not an ISO time: ${String(o.at)}`)
      const image = await io.readFile(o.image)
      const signer = createKeyObjectSigner(decodePrivateKey(await io.readFile(o.key)))
      const [cert] = decodeCertificates(await io.readFile(o.cert))
      if (cert === undefined) throw new UsageError(`no certificate in ${o.cert}`)
      const chain = (await Promise.all(o.chain.map(async (f) => decodeCertificates(await io.readFile(f))))).flat().map((c) => c.der)
      const bytes = await createFirmwarePackage({ name: o.name, version: o.fwVersion, image, signer: createCmsSigner({ signer, certificate: cert.der, chain }), at })
      await writeFile(o.out, bytes)
      const summary = { ok: true, out: o.out, name: o.name, version: o.fwVersion, size: image.length, sha256: hex(digest('SHA-256', image)), signer: decodeCertificate(cert.der).subject }
      if (o.json === true) io.stdout(`${toJson(summary)}\n`)
      else io.stdout(`packed ${o.name} ${o.fwVersion} (${String(image.length)} bytes, sha256 ${summary.sha256}) signed by ${summary.signer} → ${o.out}\n`)
      return EXIT_OK
    })))

  firmware.command('inspect')
    .description('show a package\'s manifest and signer and check the image against it; with --root and --manufacturer also verify it as the gateway does')
    .argument('<package>', 'the package file (JSON)')
    .option('--root <file>', 'trusted root certificate(s): verify the signature and the signer path (repeatable)', collect, [])
    .option('--chain <file>', 'untrusted intermediates (repeatable)', collect, [])
    .option('--crl <file>', 'CRLs (repeatable)', collect, [])
    .option('--at <iso-time>', 'validation time (default: now)')
    .option('--manufacturer <file>', "the manufacturer's certificate: the signer must have its subject (needs --root)")
    .option('--active <x.y.z>', 'the version a gateway runs: refuse a package that is not newer (DOWNGRADE)')
    .option('--json', 'print one JSON object')
    .addHelpText('after', `
Without --root the package is only decoded: the manifest, the signer's subject (NOT verified) and
whether the image matches the manifest's size and SHA-256. With --root and --manufacturer it is
checked exactly as the gateway checks it (signature, signer identity and path, version, hash).

Examples:
  smgw firmware inspect pkg.json
  smgw firmware inspect pkg.json --root root.pem --chain chain.pem --manufacturer manufacturer.pem --active 1.2.0
`)
    .action((file: string, o: InspectOptions) => run(() => guarded(io, 'inspect', async () => {
      const bytes = await io.readFile(file)
      const { manifest, signer, imageSize, imageSha256 } = describePackage(bytes)
      const imageMatches = imageSize === manifest.size && imageSha256 === manifest.sha256
      const verify = (o.root ?? []).length > 0
      if (verify !== (o.manufacturer !== undefined)) throw new UsageError('--root and --manufacturer go together')
      if (o.active !== undefined && !VERSION_PATTERN.test(o.active)) throw new UsageError(`--active: MAJOR.MINOR.PATCH, got ${o.active}`)
      let verified: string | undefined
      if (verify && o.manufacturer !== undefined) {
        const trust = await readTrust(io, { root: o.root ?? [], chain: o.chain ?? [], crl: o.crl ?? [], ...(o.at === undefined ? {} : { at: o.at }) })
        const [manufacturer] = decodeCertificates(await io.readFile(o.manufacturer))
        if (manufacturer === undefined) throw new UsageError(`no certificate in ${o.manufacturer}`)
        const subject = decodeCertificate(manufacturer.der).subject
        const verifier = createSignerVerifier({ expectedSubject: subject, roots: trust.roots, intermediates: trust.intermediates, crls: trust.crls, notOwnRole: 'SIGNER_NOT_MANUFACTURER' })
        // '0.0.0' is below every version but 0.0.0 itself: without --active only the downgrade rule is left out.
        await openFirmwarePackage(bytes, verifier, trust.at, o.active ?? '0.0.0')
        verified = subject
      } else if (o.active !== undefined) {
        throw new UsageError('--active needs --root and --manufacturer')
      }
      const result = { ok: imageMatches, manifest, signer, verified: verified !== undefined, imageSize, imageSha256, imageMatches }
      if (o.json === true) {
        io.stdout(`${toJson(result)}\n`)
      } else {
        io.stdout([
          `package   ${FIRMWARE_PACKAGE_FORMAT}`,
          `name      ${manifest.name}`,
          `version   ${manifest.version}`,
          `created   ${manifest.createdAt}`,
          `image     ${String(imageSize)} bytes, sha256 ${imageSha256} ${imageMatches ? '(matches the manifest)' : `(MANIFEST SAYS ${String(manifest.size)} bytes, ${manifest.sha256})`}`,
          `signer    ${signer} ${verified === undefined ? '(not verified: give --root and --manufacturer)' : '(verified: the manufacturer, path to the root valid)'}`,
        ].join('\n') + '\n')
      }
      if (!imageMatches) io.stderr('smgw firmware inspect: HASH_MISMATCH: the image differs from the manifest\n')
      return imageMatches ? EXIT_OK : EXIT_FAILED
    })))
}

/** Decodes a package without verifying anything (AdminProtocolError MALFORMED / UNSUPPORTED_FORMAT when it is none). */
function describePackage(bytes: Uint8Array): { manifest: FirmwareManifest; signer: string; imageSize: number; imageSha256: string } {
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err) {
    throw new AdminProtocolError('MALFORMED', 'the package is not JSON', { cause: err })
  }
  if ((raw as { format?: unknown } | null)?.format !== FIRMWARE_PACKAGE_FORMAT) throw new AdminProtocolError('UNSUPPORTED_FORMAT', `not a ${FIRMWARE_PACKAGE_FORMAT} file`)
  const pkg = FirmwarePackage.safeParse(raw)
  if (!pkg.success) throw new AdminProtocolError('MALFORMED', `package: ${pkg.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  let signed
  try {
    signed = decodeSignedData(new Uint8Array(Buffer.from(pkg.data.manifest, 'base64')))
  } catch (err) {
    throw new AdminProtocolError('MALFORMED', 'the manifest is not a CMS SignedData', { cause: err })
  }
  if (signed.content === undefined) throw new AdminProtocolError('MALFORMED', 'the manifest SignedData has no content')
  let manifest: FirmwareManifest
  try {
    manifest = FirmwareManifest.parse(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(signed.content)))
  } catch (err) {
    throw new AdminProtocolError('MALFORMED', 'the signed manifest is not a firmware manifest', { cause: err })
  }
  const signer = signed.signerCertificate === undefined ? '(no signer certificate)' : decodeCertificate(signed.signerCertificate).subject
  const image = new Uint8Array(Buffer.from(pkg.data.image, 'base64'))
  return { manifest, signer, imageSize: image.length, imageSha256: hex(digest('SHA-256', image)) }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

async function guarded(io: CliIo, name: string, action: () => Promise<number>): Promise<number> {
  try {
    return await action()
  } catch (err) {
    if (err instanceof AdminProtocolError || err instanceof CryptoError || err instanceof PkiError) {
      io.stderr(`smgw firmware ${name}: ${err.code}: ${err.message}\n`)
      return EXIT_FAILED
    }
    throw err
  }
}

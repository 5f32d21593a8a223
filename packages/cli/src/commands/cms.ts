import { writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import {
  CryptoError, HASHES, createKeyObjectAgreer, createKeyObjectSigner, decodeCertificates, decodeCmsInput, decodePrivateKey, decryptCms,
  encodePem, encryptCms, inspectCms, signCms, verifyCms, verifyEcdsa, type CertificateInfo, type CmsSummary, type ContentEncryptionName,
} from '@smgw/crypto'
import type { CliIo } from '../io.js'
import { readAll } from '../io.js'
import type { CommandRun } from '../program.js'
import { EXIT_FAILED, EXIT_OK, UsageError } from '../exit.js'
import { toJson } from '../json.js'

const HELP = `
CMS (RFC 5652) as the gateway sends it to market participants: SignedData with the SIG key,
EnvelopedData (AES-CBC) or AuthEnvelopedData (AES-GCM, RFC 5083) to each recipient's ENC
certificate with ephemeral-static ECDH (RFC 5753). Brainpool and NIST curves; the output is
what 'openssl cms' verifies and decrypts.

Inputs: IN is a file or '-' for standard input. Certificates, keys and CMS may be PEM or DER
(detected). Binary output goes to --out FILE; without --out, CMS is written to standard output
as PEM ("-----BEGIN CMS-----", openssl cms -inform PEM), and decrypted or verified content is
written as text when it is UTF-8 (binary content needs --out).

Exit status: 0 the operation succeeded, 1 it failed (bad signature, not a recipient, …; the
reason is on standard error with its CryptoError code), 2 usage error.

Examples:
  smgw cms sign reading.json --key sig.key --cert sig.pem --out reading.p7s
  smgw cms verify reading.p7s --root root.pem --chain sub-ca.pem
  smgw cms encrypt reading.p7s --to emt-enc.pem --gcm --out reading.p7e
  smgw cms decrypt reading.p7e --key emt-enc.key --cert emt-enc.pem --out reading.p7s
  smgw cms inspect reading.p7e --json
`

interface OutOption { readonly out?: string }

export function register(program: Command, io: CliIo, run: CommandRun): void {
  const cms = program
    .command('cms')
    .description('sign, verify, encrypt, decrypt and inspect CMS messages (SignedData, EnvelopedData, AuthEnvelopedData)')
    .addHelpText('after', HELP)

  cms.command('sign')
    .description('sign IN as CMS SignedData (ecdsa-with-SHA256/384/512 by the key\'s curve)')
    .argument('<in>', "content to sign ('-' for standard input)")
    .requiredOption('--key <file>', 'signer private key (PKCS#8 or SEC 1, PEM or DER)')
    .requiredOption('--cert <file>', 'signer certificate (PEM or DER)')
    .option('--chain <file>', 'further certificates to include (repeatable)', collect, [])
    .option('--detached', 'leave the content out of the SignedData')
    .option('--out <file>', 'write DER here (default: PEM on standard output)')
    .action((input: string, o: OutOption & { key: string; cert: string; chain: string[]; detached?: boolean }) => run(() => guarded(io, 'sign', async () => {
      const signer = createKeyObjectSigner(decodePrivateKey(await io.readFile(o.key)))
      const [cert] = decodeCertificates(await io.readFile(o.cert))
      if (cert === undefined) throw new UsageError(`no certificate in ${o.cert}`)
      const chain = (await Promise.all(o.chain.map(async (f) => decodeCertificates(await io.readFile(f))))).flat().map((c) => c.der)
      const der = await signCms(await readInput(io, input), { signer, certificate: cert.der, chain, detached: o.detached === true, signingTime: new Date() })
      await writeCms(io, der, o.out)
      return EXIT_OK
    })))

  cms.command('verify')
    .description('verify a SignedData: the signature, and that the signer certificate chains to ROOT')
    .argument('<in>', "CMS SignedData ('-' for standard input)")
    .requiredOption('--root <file>', 'trusted root certificate(s) (PEM or DER)')
    .option('--chain <file>', 'intermediate certificates (repeatable); those in the message are used too', collect, [])
    .option('--content <file>', 'the content of a detached SignedData')
    .option('--out <file>', 'write the verified content here (default: standard output, text only)')
    .action((input: string, o: OutOption & { root: string; chain: string[]; content?: string }) => run(() => guarded(io, 'verify', async () => {
      const roots = decodeCertificates(await io.readFile(o.root))
      const chain = (await Promise.all(o.chain.map(async (f) => decodeCertificates(await io.readFile(f))))).flat()
      const detachedContent = o.content === undefined ? undefined : await io.readFile(o.content)
      const now = new Date()
      const result = await verifyCms(decodeCmsInput(await readInput(io, input)), {
        ...(detachedContent === undefined ? {} : { detachedContent }),
        trust: (signer, carried) => checkChainToRoot(signer, [...carried, ...chain.map((c) => c.der)], roots, now),
      })
      const [signer] = decodeCertificates(result.signerCertificate)
      io.stderr(`smgw cms verify: signature valid, signed by ${signer?.subjectText ?? '?'}${result.signingTime ? ` at ${result.signingTime.toISOString()}` : ''}\n`)
      await writeContent(io, result.content, o.out)
      return EXIT_OK
    })))

  cms.command('encrypt')
    .description('encrypt IN to each recipient certificate (EnvelopedData, or AuthEnvelopedData with --gcm)')
    .argument('<in>', "content to encrypt ('-' for standard input)")
    .requiredOption('--to <file>', 'recipient certificate (repeatable; a PEM file may hold several)', collect, [])
    .option('--gcm', 'AES-GCM in AuthEnvelopedData (RFC 5083) instead of AES-CBC in EnvelopedData')
    .option('--aes256', 'AES-256 instead of AES-128')
    .option('--out <file>', 'write DER here (default: PEM on standard output)')
    .action((input: string, o: OutOption & { to: string[]; gcm?: boolean; aes256?: boolean }) => run(() => guarded(io, 'encrypt', async () => {
      if (o.to.length === 0) throw new UsageError('give at least one --to CERT')
      const recipients = (await Promise.all(o.to.map(async (f) => decodeCertificates(await io.readFile(f))))).flat().map((c) => c.der)
      const contentEncryption: ContentEncryptionName = `aes${o.aes256 === true ? '256' : '128'}-${o.gcm === true ? 'gcm' : 'cbc'}`
      await writeCms(io, await encryptCms(await readInput(io, input), { recipients, contentEncryption }), o.out)
      return EXIT_OK
    })))

  cms.command('decrypt')
    .description('decrypt an EnvelopedData or AuthEnvelopedData with the recipient key')
    .argument('<in>', "CMS ('-' for standard input)")
    .requiredOption('--key <file>', 'recipient private key (PKCS#8 or SEC 1, PEM or DER)')
    .requiredOption('--cert <file>', 'recipient certificate (PEM or DER)')
    .option('--out <file>', 'write the content here (default: standard output, text only)')
    .action((input: string, o: OutOption & { key: string; cert: string }) => run(() => guarded(io, 'decrypt', async () => {
      const agreer = createKeyObjectAgreer(decodePrivateKey(await io.readFile(o.key)))
      const [cert] = decodeCertificates(await io.readFile(o.cert))
      if (cert === undefined) throw new UsageError(`no certificate in ${o.cert}`)
      await writeContent(io, await decryptCms(decodeCmsInput(await readInput(io, input)), { agreer, certificate: cert.der }), o.out)
      return EXIT_OK
    })))

  cms.command('inspect')
    .description('show what a CMS message is made of (content type, signers, recipients, algorithms)')
    .argument('<in>', "CMS ('-' for standard input)")
    .option('--json', 'print JSON')
    .action((input: string, o: { json?: boolean }) => run(() => guarded(io, 'inspect', async () => {
      const summary = inspectCms(decodeCmsInput(await readInput(io, input)))
      io.stdout(o.json === true ? `${toJson(summary, 2)}\n` : formatSummary(summary))
      return EXIT_OK
    })))
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

/** Runs a subcommand; a CryptoError is a failed operation (exit 1) reported with its code. */
async function guarded(io: CliIo, name: string, action: () => Promise<number>): Promise<number> {
  try {
    return await action()
  } catch (err) {
    if (err instanceof CryptoError) {
      io.stderr(`smgw cms ${name}: ${err.code}: ${err.message}\n`)
      return EXIT_FAILED
    }
    throw err
  }
}

async function readInput(io: CliIo, input: string): Promise<Uint8Array> {
  return input === '-' ? readAll(io) : io.readFile(input)
}

async function writeCms(io: CliIo, der: Uint8Array, out: string | undefined): Promise<void> {
  if (out === undefined) io.stdout(encodePem('CMS', der))
  else await writeFile(out, der)
}

async function writeContent(io: CliIo, content: Uint8Array, out: string | undefined): Promise<void> {
  if (out !== undefined) {
    await writeFile(out, content)
    return
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(content)
  } catch {
    throw new UsageError(`the content is binary (${String(content.length)} bytes); write it with --out FILE`)
  }
  io.stdout(text)
}

/**
 * Interim trust check until @smgw/pki path validation replaces it (keep it this one
 * function so it can be swapped): walks from the signer certificate to one of `roots`
 * through `intermediates`, checking each certificate's ECDSA signature with its issuer's
 * key and its validity at `now`. No extensions, policies or revocation are checked here.
 */
export async function checkChainToRoot(signer: Uint8Array, intermediates: readonly Uint8Array[], roots: readonly CertificateInfo[], now: Date): Promise<void> {
  const pool = intermediates.flatMap((der) => decodeCertificates(der))
  let current = decodeCertificates(signer)[0]
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    const cert: CertificateInfo = current
    if (now < cert.notBefore || now > cert.notAfter) throw new Error(`certificate ${cert.subjectText} is not valid at ${now.toISOString()}`)
    if (roots.some((r) => Buffer.compare(r.der, cert.der) === 0)) return Promise.resolve()
    const root = roots.find((r) => Buffer.compare(r.subject, cert.issuer) === 0 && signedBy(cert, r))
    if (root !== undefined) {
      if (now < root.notBefore || now > root.notAfter) throw new Error(`root ${root.subjectText} is not valid at ${now.toISOString()}`)
      return Promise.resolve()
    }
    current = pool.find((c) => Buffer.compare(c.subject, cert.issuer) === 0 && Buffer.compare(c.der, cert.der) !== 0 && signedBy(cert, c))
  }
  throw new Error('the signer certificate does not chain to the given root')
}

function signedBy(cert: CertificateInfo, issuer: CertificateInfo): boolean {
  const hash = Object.values(HASHES).find((h) => h.ecdsaOid === cert.signatureAlgorithm)
  if (hash === undefined) return false
  try {
    return verifyEcdsa(issuer.publicKey, cert.tbs, cert.signature, hash.name, 'der')
  } catch {
    return false
  }
}

function formatSummary(s: CmsSummary): string {
  const lines = [`content type: ${s.contentType} (version ${String(s.version)})`]
  if (s.eContentType !== undefined) lines.push(`encapsulated content: ${s.eContentType}${s.detached === true ? ' (detached)' : `, ${String(s.contentLength ?? 0)} bytes`}`)
  if (s.contentEncryptionAlgorithm !== undefined) lines.push(`content encryption: ${s.contentEncryptionAlgorithm}${s.contentLength === undefined ? '' : `, ${String(s.contentLength)} bytes`}`)
  for (const c of s.certificates ?? []) lines.push(`certificate: ${c.subject} (issuer ${c.issuer}, serial ${c.serialNumber})`)
  for (const si of s.signers ?? []) {
    lines.push(`signer: ${si.issuer ?? ''}${si.serialNumber === undefined ? '' : ` serial ${si.serialNumber}`}${si.subjectKeyIdentifier === undefined ? '' : `key id ${si.subjectKeyIdentifier}`}`)
    lines.push(`  ${si.digestAlgorithm}, ${si.signatureAlgorithm}${si.signingTime === undefined ? '' : `, signed at ${si.signingTime}`}`)
  }
  for (const r of s.recipients ?? []) {
    lines.push(`recipient (${r.kind}): ${r.issuer ?? ''}${r.serialNumber === undefined ? '' : ` serial ${r.serialNumber}`}${r.subjectKeyIdentifier === undefined ? '' : `key id ${r.subjectKeyIdentifier}`}`)
    if (r.keyEncryptionAlgorithm !== undefined) lines.push(`  ${r.keyEncryptionAlgorithm}${r.keyWrapAlgorithm === undefined ? '' : ` + ${r.keyWrapAlgorithm}`}`)
  }
  return `${lines.join('\n')}\n`
}

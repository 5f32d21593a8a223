import { writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import {
  CryptoError, createKeyObjectAgreer, createKeyObjectSigner, decodeCertificates, decodeCmsInput, decodePrivateKey, decryptCms,
  encodePem, encryptCms, inspectCms, signCms, verifyCms, type CmsSummary, type ContentEncryptionName,
} from '@smgw/crypto'
import { validatePath, type ValidationReason } from '@smgw/pki'
import type { CliIo } from '../io.js'
import { readAll } from '../io.js'
import type { CommandRun } from '../program.js'
import { EXIT_FAILED, EXIT_OK, UsageError } from '../exit.js'
import { toJson } from '../json.js'
import { readTrust, withTrustOptions, type TrustFileOptions } from './pki/index.js'

const HELP = `
CMS (RFC 5652) as the gateway sends it to market participants: SignedData with the SIG key,
EnvelopedData (AES-CBC) or AuthEnvelopedData (AES-GCM, RFC 5083) to each recipient's ENC
certificate with ephemeral-static ECDH (RFC 5753). Brainpool and NIST curves; the output is
what 'openssl cms' verifies and decrypts.

Inputs: IN is a file or '-' for standard input. Certificates, keys and CMS may be PEM or DER
(detected). Output goes to --out FILE or, without it, to standard output: sign and encrypt
write the CMS as DER (pipe it into 'openssl cms -inform DER'), or as PEM text
("-----BEGIN CMS-----") with --pem; decrypt and verify write the content bytes as they are.

verify checks the signature, then validates the signer's certificate path with the SM-PKI
rules of @smgw/pki (purpose sig): --root, --chain (the certificates in the message are used
too), --crl and --at as for 'smgw pki verify'. A path that does not validate is reported with
its reason code (NO_PATH, EXPIRED, REVOKED, KEY_USAGE, …; see packages/pki/README.md).

Exit status: 0 the operation succeeded, 1 it failed (bad signature, signer not trusted, not a
recipient, …; the reason is on standard error with its code), 2 usage error.

Examples:
  smgw cms sign reading.json --key sig.key --cert sig.pem --out reading.p7s
  smgw cms sign reading.json --key sig.key --cert sig.pem --pem > reading.p7s.pem
  smgw cms verify reading.p7s --root root.pem --chain sub-ca.pem --crl sub-ca.crl.pem
  smgw cms encrypt reading.p7s --to emt-enc.pem --gcm --out reading.p7e
  smgw cms encrypt reading.json --to emt-enc.pem | openssl cms -decrypt -inform DER -recip emt-enc.pem -inkey emt-enc.key
  smgw cms decrypt reading.p7e --key emt-enc.key --cert emt-enc.pem > reading.p7s
  smgw cms inspect reading.p7e --json
`

interface OutOption { readonly out?: string; readonly pem?: boolean }

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
    .option('--out <file>', 'write the CMS here (default: standard output)')
    .option('--pem', 'PEM text ("-----BEGIN CMS-----") instead of DER')
    .addHelpText('after', `
Examples:
  smgw cms sign reading.json --key sig.key --cert sig.pem --chain sub-ca.pem --out reading.p7s
  smgw cms sign - --key sig.key --cert sig.pem --pem < reading.json > reading.p7s.pem
  smgw cms sign reading.json --key sig.key --cert sig.pem | openssl cms -verify -inform DER -CAfile root.pem -purpose any
`)
    .action((input: string, o: OutOption & { key: string; cert: string; chain: string[]; detached?: boolean }) => run(() => guarded(io, 'sign', async () => {
      const signer = createKeyObjectSigner(decodePrivateKey(await io.readFile(o.key)))
      const [cert] = decodeCertificates(await io.readFile(o.cert))
      if (cert === undefined) throw new UsageError(`no certificate in ${o.cert}`)
      const chain = (await Promise.all(o.chain.map(async (f) => decodeCertificates(await io.readFile(f))))).flat().map((c) => c.der)
      const der = await signCms(await readInput(io, input), { signer, certificate: cert.der, chain, detached: o.detached === true, signingTime: new Date() })
      await writeCms(io, der, o)
      return EXIT_OK
    })))

  withTrustOptions(cms.command('verify')
    .description('verify a SignedData: the signature, and the signer certificate\'s path to ROOT (SM-PKI rules, purpose sig)')
    .argument('<in>', "CMS SignedData ('-' for standard input)"))
    .option('--content <file>', 'the content of a detached SignedData')
    .option('--out <file>', 'write the verified content here (default: standard output, bytes as they are)')
    .addHelpText('after', `
The signer's path is validated for purpose sig (packages/pki validatePath); when it fails, the
reason comes first on standard error, e.g. "smgw cms verify: REVOKED: CMS_SIGNER_UNTRUSTED: …", exit 1.

Examples:
  smgw cms verify reading.p7s --root pki/root-ca/ca.cert.pem --chain pki/chain.pem
  smgw cms verify reading.p7s --root pki/root-ca/ca.cert.pem --chain pki/chain.pem \\
      --crl pki/crl/sub-ca-emt.crl.pem --crl pki/crl/root.crl.pem --at 2026-06-01T00:00:00Z --out reading.json
`)
    .action((input: string, o: OutOption & TrustFileOptions & { content?: string }) => run(() => guarded(io, 'verify', async () => {
      const trust = await readTrust(io, o)
      const detachedContent = o.content === undefined ? undefined : await io.readFile(o.content)
      const result = await verifyCms(decodeCmsInput(await readInput(io, input)), {
        ...(detachedContent === undefined ? {} : { detachedContent }),
        trust: (signer, carried) => {
          const verdict = validatePath({ leaf: signer, intermediates: [...carried, ...trust.intermediates], roots: trust.roots, crls: trust.crls, at: trust.at, purpose: 'sig' })
          return verdict.ok ? Promise.resolve() : Promise.reject(new SignerPathError(verdict.reason, verdict.detail))
        },
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
    .option('--out <file>', 'write the CMS here (default: standard output)')
    .option('--pem', 'PEM text ("-----BEGIN CMS-----") instead of DER')
    .addHelpText('after', `
Examples:
  smgw cms encrypt reading.p7s --to emt-enc.pem --gcm --out reading.p7e
  smgw cms encrypt reading.json --to emt-enc.pem | openssl cms -decrypt -inform DER -recip emt-enc.pem -inkey emt-enc.key
`)
    .action((input: string, o: OutOption & { to: string[]; gcm?: boolean; aes256?: boolean }) => run(() => guarded(io, 'encrypt', async () => {
      if (o.to.length === 0) throw new UsageError('give at least one --to CERT')
      const recipients = (await Promise.all(o.to.map(async (f) => decodeCertificates(await io.readFile(f))))).flat().map((c) => c.der)
      const contentEncryption: ContentEncryptionName = `aes${o.aes256 === true ? '256' : '128'}-${o.gcm === true ? 'gcm' : 'cbc'}`
      await writeCms(io, await encryptCms(await readInput(io, input), { recipients, contentEncryption }), o)
      return EXIT_OK
    })))

  cms.command('decrypt')
    .description('decrypt an EnvelopedData or AuthEnvelopedData with the recipient key')
    .argument('<in>', "CMS ('-' for standard input)")
    .requiredOption('--key <file>', 'recipient private key (PKCS#8 or SEC 1, PEM or DER)')
    .requiredOption('--cert <file>', 'recipient certificate (PEM or DER)')
    .option('--out <file>', 'write the content here (default: standard output, bytes as they are)')
    .addHelpText('after', `
Examples:
  smgw cms decrypt reading.p7e --key emt-enc.key --cert emt-enc.pem --out reading.p7s
  smgw cms decrypt reading.p7e --key emt-enc.key --cert emt-enc.pem | smgw cms verify - --root root.pem
`)
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
    .addHelpText('after', `
Examples:
  smgw cms inspect reading.p7e
  smgw cms inspect renew.pem --json
`)
    .action((input: string, o: { json?: boolean }) => run(() => guarded(io, 'inspect', async () => {
      const summary = inspectCms(decodeCmsInput(await readInput(io, input)))
      io.stdout(o.json === true ? `${toJson(summary, 2)}\n` : formatSummary(summary))
      return EXIT_OK
    })))
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

/** The signer's path did not validate (packages/pki validatePath); carried as the cause of CMS_SIGNER_UNTRUSTED. */
class SignerPathError extends Error {
  override name = 'SignerPathError'
  constructor(readonly reason: ValidationReason, readonly detail: string) {
    super(`${reason}: ${detail}`)
  }
}

/**
 * Runs a subcommand; a CryptoError is a failed operation (exit 1) reported with its code,
 * a signer path that does not validate with its validation reason first
 * ("smgw cms verify: REVOKED: CMS_SIGNER_UNTRUSTED: …").
 */
async function guarded(io: CliIo, name: string, action: () => Promise<number>): Promise<number> {
  try {
    return await action()
  } catch (err) {
    if (err instanceof CryptoError) {
      const path = err.cause instanceof SignerPathError ? `${err.cause.reason}: ` : ''
      io.stderr(`smgw cms ${name}: ${path}${err.code}: ${err.message}\n`)
      return EXIT_FAILED
    }
    throw err
  }
}

async function readInput(io: CliIo, input: string): Promise<Uint8Array> {
  return input === '-' ? readAll(io) : io.readFile(input)
}

/** CMS as DER (the stable contract: pipes into `openssl cms -inform DER`) or, with --pem, PEM text. */
async function writeCms(io: CliIo, der: Uint8Array, o: OutOption): Promise<void> {
  const bytes = o.pem === true ? new TextEncoder().encode(encodePem('CMS', der)) : der
  if (o.out === undefined) io.stdoutBytes(bytes)
  else await writeFile(o.out, bytes)
}

/** Decrypted or verified content, bytes as they are. */
async function writeContent(io: CliIo, content: Uint8Array, out: string | undefined): Promise<void> {
  if (out === undefined) io.stdoutBytes(content)
  else await writeFile(out, content)
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

// Test support (not exported from the package): certificates made by the openssl command
// line itself, in a temporary folder, so interop tests compare against an independent producer.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CURVES, type CurveName } from '../curves.js'

/** Runs the openssl command line (no shell) and returns its standard output as bytes. */
export function openssl(args: readonly string[], cwd?: string, stdin?: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', [...args], { cwd, encoding: 'buffer', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`openssl ${args.join(' ')}: ${stderr.toString()}`, { cause: err }))
      else resolve(stdout)
    })
    child.stdin?.end(stdin === undefined ? undefined : Buffer.from(stdin))
  })
}

export interface TestParty {
  readonly keyPath: string
  readonly certPath: string
  /** PKCS#8 PEM. */
  readonly keyPem: Uint8Array
  readonly certPem: Uint8Array
  readonly certDer: Uint8Array
}

export interface TestPki {
  readonly dir: string
  readonly curve: CurveName
  readonly root: TestParty
  /** End entities issued by root: keyUsage digitalSignature + keyAgreement, with SKI/AKI. */
  readonly alice: TestParty
  readonly bob: TestParty
}

/** A temporary folder, removed by the returned function. */
export async function createTempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** A root CA and two end entities on `curve`, made by `openssl req` / `openssl x509`. */
export async function createOpensslPki(dir: string, curve: CurveName): Promise<TestPki> {
  const param = `ec_paramgen_curve:${CURVES[curve].nodeName}`
  const ext = join(dir, `${curve}-ee.cnf`)
  await writeFile(ext, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n')
  const party = async (name: string): Promise<TestParty> => {
    const keyPath = join(dir, `${curve}-${name}.key`)
    const certPath = join(dir, `${curve}-${name}.pem`)
    const keyPem = await readFile(keyPath)
    const certPem = await readFile(certPath)
    const certDer = await openssl(['x509', '-in', certPath, '-outform', 'DER'])
    return { keyPath, certPath, keyPem: new Uint8Array(keyPem), certPem: new Uint8Array(certPem), certDer: new Uint8Array(certDer) }
  }
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', param, '-nodes', '-keyout', `${curve}-root.key`, '-out', `${curve}-root.pem`,
    '-subj', `/C=DE/O=SMGW Test/CN=Test Root ${curve}`, '-days', '3', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir)
  for (const [i, name] of ['alice', 'bob'].entries()) {
    await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', param, '-nodes', '-keyout', `${curve}-${name}.key`, '-out', `${curve}-${name}.csr`, '-subj', `/C=DE/O=SMGW Test/CN=${name} ${curve}`], dir)
    await openssl(['x509', '-req', '-in', `${curve}-${name}.csr`, '-CA', `${curve}-root.pem`, '-CAkey', `${curve}-root.key`, '-set_serial', String(4096 + i),
      '-days', '2', '-extfile', ext, '-out', `${curve}-${name}.pem`], dir)
  }
  return { dir, curve, root: await party('root'), alice: await party('alice'), bob: await party('bob') }
}

/** A certificate from the root of `pki` for a public key held elsewhere (e.g. in a security module), via -force_pubkey. */
export async function issueCertificate(pki: TestPki, spki: Uint8Array, name: string, serial: number): Promise<Uint8Array> {
  const pubPath = join(pki.dir, `${pki.curve}-${name}.pub.pem`)
  const b64 = Buffer.from(spki).toString('base64').replace(/.{64}/g, '$&\n')
  await writeFile(pubPath, `-----BEGIN PUBLIC KEY-----\n${b64}\n-----END PUBLIC KEY-----\n`)
  const pem = await openssl(['x509', '-req', '-in', `${pki.curve}-alice.csr`, '-force_pubkey', pubPath, '-subj', `/C=DE/O=SMGW Test/CN=${name}`,
    '-CA', `${pki.curve}-root.pem`, '-CAkey', `${pki.curve}-root.key`, '-set_serial', String(serial), '-days', '2', '-extfile', `${pki.curve}-ee.cnf`], pki.dir)
  return new Uint8Array(await openssl(['x509', '-outform', 'DER'], undefined, pem))
}

import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inspectCms } from '@smgw/crypto'
import { runCaptured } from '../testing.js'

const exec = promisify(execFile)
const openssl = async (args: string[], cwd: string): Promise<Buffer> => (await exec('openssl', args, { cwd, encoding: 'buffer' })).stdout

let dir: string
const f = (name: string): string => join(dir, name)
const message = '{"taf":7,"obis":"1-0:1.8.0*255","values":[1.25,1.5]}\n'

/** root → sub CA → alice (SIG/ENC) and bob, brainpoolP256r1, made by the openssl command line. */
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'smgw-cli-cms-'))
  const param = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:brainpoolP256r1', '-nodes']
  await writeFile(f('ca.cnf'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n')
  await writeFile(f('ee.cnf'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n')
  await openssl(['req', '-x509', ...param, '-keyout', 'root.key', '-out', 'root.pem', '-subj', '/CN=Test Root', '-days', '3', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'], dir)
  await openssl(['req', '-new', ...param, '-keyout', 'sub.key', '-out', 'sub.csr', '-subj', '/CN=Test Sub CA'], dir)
  await openssl(['x509', '-req', '-in', 'sub.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-set_serial', '2', '-days', '3', '-extfile', 'ca.cnf', '-out', 'sub.pem'], dir)
  for (const [i, name] of ['alice', 'bob'].entries()) {
    await openssl(['req', '-new', ...param, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir)
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'sub.pem', '-CAkey', 'sub.key', '-set_serial', String(10 + i), '-days', '2', '-extfile', 'ee.cnf', '-out', `${name}.pem`], dir)
  }
  await openssl(['x509', '-in', 'alice.pem', '-outform', 'DER', '-out', 'alice.der'], dir)
  await openssl(['pkcs8', '-topk8', '-nocrypt', '-in', 'alice.key', '-outform', 'DER', '-out', 'alice.key.der'], dir)
  await openssl(['req', '-x509', ...param, '-keyout', 'other-root.key', '-out', 'other-root.pem', '-subj', '/CN=Other Root', '-days', '3'], dir)
  await writeFile(f('message.json'), message)
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('smgw cms', () => {
  it('sign → verify round trip, DER files, with the chain to the root', async () => {
    const s = await runCaptured(['cms', 'sign', f('message.json'), '--key', f('alice.key'), '--cert', f('alice.pem'), '--out', f('signed.der')])
    expect(s).toMatchObject({ status: 0, stderr: '' })
    const v = await runCaptured(['cms', 'verify', f('signed.der'), '--root', f('root.pem'), '--chain', f('sub.pem')])
    expect(v.status).toBe(0)
    expect(v.stdout).toBe(message)
    expect(v.stderr).toContain('signature valid, signed by CN=alice')
  })

  it('sign --pem writes PEM to standard output when there is no --out; DER key and certificate are accepted', async () => {
    const s = await runCaptured(['cms', 'sign', '-', '--key', f('alice.key.der'), '--cert', f('alice.der'), '--chain', f('sub.pem'), '--pem'], message)
    expect(s.status).toBe(0)
    expect(s.stdout).toMatch(/^-----BEGIN CMS-----\n/)
    await writeFile(f('signed.pem'), s.stdout)
    // The message carries the sub CA, so --chain is not needed on verification.
    const v = await runCaptured(['cms', 'verify', f('signed.pem'), '--root', f('root.pem')])
    expect(v).toMatchObject({ status: 0, stdout: message })
  })

  it('verify fails (exit 1) for another root, a missing intermediate or a changed signature', async () => {
    await runCaptured(['cms', 'sign', f('message.json'), '--key', f('alice.key'), '--cert', f('alice.pem'), '--out', f('s2.der')])
    const otherRoot = await runCaptured(['cms', 'verify', f('s2.der'), '--root', f('other-root.pem'), '--chain', f('sub.pem')])
    expect(otherRoot.status).toBe(1)
    expect(otherRoot.stderr).toContain('CMS_SIGNER_UNTRUSTED')
    expect((await runCaptured(['cms', 'verify', f('s2.der'), '--root', f('root.pem')])).status).toBe(1)
    const der = await readFile(f('s2.der'))
    der[der.length - 3] = (der[der.length - 3] ?? 0) ^ 0x10
    await writeFile(f('s2-bad.der'), der)
    const bad = await runCaptured(['cms', 'verify', f('s2-bad.der'), '--root', f('root.pem'), '--chain', f('sub.pem')])
    expect(bad.status).toBe(1)
    expect(bad.stderr).toContain('CMS_SIGNATURE_INVALID')
    expect(bad.stdout).toBe('')
  })

  it('encrypt → decrypt for two recipients (CBC and GCM); the wrong key fails with exit 1', async () => {
    for (const gcm of [[], ['--gcm']]) {
      const e = await runCaptured(['cms', 'encrypt', f('message.json'), '--to', f('alice.pem'), '--to', f('bob.pem'), ...gcm, '--out', f('enc.der')])
      expect(e.status).toBe(0)
      for (const who of ['alice', 'bob']) {
        const d = await runCaptured(['cms', 'decrypt', f('enc.der'), '--key', f(`${who}.key`), '--cert', f(`${who}.pem`)])
        expect(d).toMatchObject({ status: 0, stdout: message })
      }
      const wrong = await runCaptured(['cms', 'decrypt', f('enc.der'), '--key', f('bob.key'), '--cert', f('alice.pem')])
      expect(wrong.status).toBe(1)
      expect(wrong.stderr).toContain('CMS_UNWRAP_FAILED')
    }
    await runCaptured(['cms', 'encrypt', f('message.json'), '--to', f('bob.pem'), '--out', f('to-bob.der')])
    const notMine = await runCaptured(['cms', 'decrypt', f('to-bob.der'), '--key', f('alice.key'), '--cert', f('alice.pem')])
    expect(notMine.status).toBe(1)
    expect(notMine.stderr).toContain('CMS_NO_RECIPIENT')
  })

  it('inspect prints a summary, and JSON with --json', async () => {
    await runCaptured(['cms', 'encrypt', f('message.json'), '--to', f('alice.pem'), '--gcm', '--aes256', '--out', f('i.der')])
    const text = await runCaptured(['cms', 'inspect', f('i.der')])
    expect(text.status).toBe(0)
    expect(text.stdout).toContain('content type: authEnvelopedData')
    expect(text.stdout).toContain('dhSinglePass-stdDH-sha256kdf-scheme + id-aes256-wrap')
    const json = await runCaptured(['cms', 'inspect', f('i.der'), '--json'])
    expect(JSON.parse(json.stdout)).toMatchObject({ contentType: 'authEnvelopedData', contentEncryptionAlgorithm: 'aes256-gcm', recipients: [{ kind: 'keyAgree', issuer: 'CN=Test Sub CA', serialNumber: '0a' }] })
    const garbage = await runCaptured(['cms', 'inspect', f('message.json')])
    expect(garbage.status).toBe(1)
    expect(garbage.stderr).toContain('CMS_MALFORMED')
  })

  it('usage errors exit 2: missing options, no recipients; binary content goes to standard output as it is', async () => {
    expect((await runCaptured(['cms', 'sign', f('message.json'), '--key', f('alice.key')])).status).toBe(2)
    expect((await runCaptured(['cms', 'decrypt', f('enc.der')])).status).toBe(2)
    expect((await runCaptured(['cms', 'encrypt', f('message.json')])).status).toBe(2)
    await writeFile(f('binary.bin'), Buffer.from([0xff, 0xfe, 0x00, 0x80]))
    await runCaptured(['cms', 'encrypt', f('binary.bin'), '--to', f('alice.pem'), '--out', f('bin.der')])
    // The stable contract: content bytes as they are, no UTF-8 restriction (it was a usage error before).
    const d = await runCaptured(['cms', 'decrypt', f('bin.der'), '--key', f('alice.key'), '--cert', f('alice.pem')])
    expect(d).toMatchObject({ status: 0, stderr: '' })
    expect(d.stdoutBytes).toEqual(new Uint8Array([0xff, 0xfe, 0x00, 0x80]))
    const ok = await runCaptured(['cms', 'decrypt', f('bin.der'), '--key', f('alice.key'), '--cert', f('alice.pem'), '--out', f('bin.out')])
    expect(ok.status).toBe(0)
    expect(await readFile(f('bin.out'))).toEqual(Buffer.from([0xff, 0xfe, 0x00, 0x80]))
  })

  it('interoperates with openssl cms through the command line, both ways', async () => {
    // ours → openssl
    await runCaptured(['cms', 'sign', f('message.json'), '--key', f('alice.key'), '--cert', f('alice.pem'), '--chain', f('sub.pem'), '--out', f('o1.der')])
    expect((await openssl(['cms', '-verify', '-binary', '-inform', 'DER', '-in', 'o1.der', '-CAfile', 'root.pem', '-purpose', 'any'], dir)).toString()).toBe(message)
    await runCaptured(['cms', 'encrypt', f('message.json'), '--to', f('bob.pem'), '--gcm', '--out', f('o2.der')])
    expect((await openssl(['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', 'o2.der', '-recip', 'bob.pem', '-inkey', 'bob.key'], dir)).toString()).toBe(message)
    // openssl → ours
    await openssl(['cms', '-sign', '-md', 'sha256', '-binary', '-nodetach', '-in', 'message.json', '-signer', 'alice.pem', '-inkey', 'alice.key', '-certfile', 'sub.pem', '-outform', 'PEM', '-out', 'o3.pem'], dir)
    expect(await runCaptured(['cms', 'verify', f('o3.pem'), '--root', f('root.pem')])).toMatchObject({ status: 0, stdout: message })
    await openssl(['cms', '-encrypt', '-binary', '-aes128', '-in', 'message.json', '-recip', 'alice.pem', '-keyopt', 'ecdh_kdf_md:sha256', '-outform', 'DER', '-out', 'o4.der'], dir)
    expect(await runCaptured(['cms', 'decrypt', f('o4.der'), '--key', f('alice.key'), '--cert', f('alice.pem')])).toMatchObject({ status: 0, stdout: message })
  })

  it('sign and encrypt write DER to standard output without --out; verify reads it back from standard input', async () => {
    const s = await runCaptured(['cms', 'sign', f('message.json'), '--key', f('alice.key'), '--cert', f('alice.pem'), '--chain', f('sub.pem')])
    expect(s).toMatchObject({ status: 0, stderr: '' })
    expect(s.stdoutBytes[0]).toBe(0x30)
    await writeFile(f('stdout.der'), s.stdoutBytes)
    expect((await openssl(['cms', '-verify', '-binary', '-inform', 'DER', '-in', 'stdout.der', '-CAfile', 'root.pem', '-purpose', 'any'], dir)).toString()).toBe(message)
    const v = await runCaptured(['cms', 'verify', '-', '--root', f('root.pem')], s.stdoutBytes)
    expect(v).toMatchObject({ status: 0, stdout: message })
    const e = await runCaptured(['cms', 'encrypt', f('message.json'), '--to', f('bob.pem'), '--gcm'])
    expect(e.status).toBe(0)
    expect(inspectTypeOf(e.stdoutBytes)).toBe('authEnvelopedData')
    const pem = await runCaptured(['cms', 'encrypt', f('message.json'), '--to', f('bob.pem'), '--pem', '--out', f('e.pem')])
    expect(pem).toMatchObject({ status: 0, stdout: '' })
    expect((await readFile(f('e.pem'), 'utf8'))).toMatch(/^-----BEGIN CMS-----\n/)
  })

  it('prints help with examples for every subcommand; sign and encrypt document DER on standard output and --pem', async () => {
    for (const sub of ['sign', 'verify', 'encrypt', 'decrypt', 'inspect']) {
      const r = await runCaptured(['cms', sub, '--help'])
      expect(r.status, sub).toBe(0)
      expect(r.stdout, sub).toContain('Examples:')
      if (sub === 'sign' || sub === 'encrypt') expect(r.stdout, sub).toContain('--pem')
      if (sub === 'verify') expect(r.stdout, sub).toMatch(/--crl <file>[\s\S]*--at <iso-time>/)
    }
  })

  it('a pipe: the real binary encrypts to standard output, openssl cms -decrypt -inform DER reads it', async () => {
    const bin = fileURLToPath(new URL('../../bin/smgw.js', import.meta.url))
    const smgw = spawn(process.execPath, [bin, 'cms', 'encrypt', f('message.json'), '--to', f('bob.pem')], { stdio: ['ignore', 'pipe', 'pipe'] })
    const ossl = spawn('openssl', ['cms', '-decrypt', '-binary', '-inform', 'DER', '-recip', f('bob.pem'), '-inkey', f('bob.key')], { stdio: ['pipe', 'pipe', 'pipe'] })
    smgw.stdout.pipe(ossl.stdin)
    const collect = async (stream: NodeJS.ReadableStream): Promise<string> => {
      const chunks: Buffer[] = []
      for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c))
      return Buffer.concat(chunks).toString()
    }
    const exited = (child: ReturnType<typeof spawn>) => new Promise<number | null>((resolve) => child.on('close', resolve))
    const [out, err, smgwStatus, osslStatus] = await Promise.all([collect(ossl.stdout), collect(smgw.stderr), exited(smgw), exited(ossl)])
    expect(err).toBe('')
    expect(smgwStatus).toBe(0)
    expect(osslStatus).toBe(0)
    expect(out).toBe(message)
  }, 30_000)
})

/** verify validates the signer's path with @smgw/pki (purpose sig) on a demo PKI from `smgw pki init`. */
describe('smgw cms verify on SM-PKI path validation', () => {
  let pkiDir: string
  const p = (...parts: string[]): string => join(pkiDir, ...parts)
  const trust = (): string[] => ['--root', p('root-ca/ca.cert.pem'), '--chain', p('chain.pem'), '--crl', p('crl/sub-ca-emt.crl.pem'), '--crl', p('crl/root.crl.pem')]

  beforeAll(async () => {
    pkiDir = join(dir, 'demo-pki')
    const init = await runCaptured(['pki', 'init', pkiDir, '--gateways', '0', '--emts', '1'])
    expect(init.status).toBe(0)
    const s = await runCaptured(['cms', 'sign', f('message.json'), '--key', p('emt-1/sig.key.pem'), '--cert', p('emt-1/sig.cert.pem'), '--out', f('emt.der')])
    expect(s.status).toBe(0)
  }, 60_000)

  it('the demo PKI verifies (with CRLs); the signer is shown', async () => {
    const v = await runCaptured(['cms', 'verify', f('emt.der'), ...trust()])
    expect(v).toMatchObject({ status: 0, stdout: message })
    expect(v.stderr).toContain('signature valid, signed by')
  })

  it('an expired signer fails with EXPIRED, a missing intermediate with NO_PATH (exit 1)', async () => {
    const late = await runCaptured(['cms', 'verify', f('emt.der'), ...trust(), '--at', '2099-01-01T00:00:00Z'])
    expect(late.status).toBe(1)
    expect(late.stderr).toMatch(/^smgw cms verify: EXPIRED: CMS_SIGNER_UNTRUSTED: /)
    expect(late.stdout).toBe('')
    const noChain = await runCaptured(['cms', 'verify', f('emt.der'), '--root', p('root-ca/ca.cert.pem')])
    expect(noChain.status).toBe(1)
    expect(noChain.stderr).toContain('smgw cms verify: NO_PATH: ')
    // The openssl-made signer of the other tests: a signing certificate that is also for key agreement.
    expect((await runCaptured(['cms', 'verify', f('signed.der'), '--root', f('root.pem'), '--chain', f('sub.pem'), '--at', new Date(Date.now() + 30 * 86_400_000).toISOString()])).stderr).toContain('EXPIRED')
  })

  it('a signer revoked with smgw pki revoke fails with REVOKED (exit 1)', async () => {
    const r = await runCaptured(['pki', 'revoke', p('emt-1/sig.cert.pem'), '--dir', pkiDir, '--reason', 'keyCompromise'])
    expect(r.status).toBe(0)
    const v = await runCaptured(['cms', 'verify', f('emt.der'), ...trust()])
    expect(v.status).toBe(1)
    expect(v.stderr).toMatch(/^smgw cms verify: REVOKED: CMS_SIGNER_UNTRUSTED: /)
    expect(v.stdout).toBe('')
    // Without the CRL nothing says it is revoked.
    expect((await runCaptured(['cms', 'verify', f('emt.der'), '--root', p('root-ca/ca.cert.pem'), '--chain', p('chain.pem')])).status).toBe(0)
  })
})

function inspectTypeOf(der: Uint8Array): string {
  return inspectCms(der).contentType
}

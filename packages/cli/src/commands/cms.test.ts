import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeCertificates } from '@smgw/crypto'
import { runCaptured } from '../testing.js'
import { checkChainToRoot } from './cms.js'

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

  it('sign writes PEM to standard output when there is no --out; DER key and certificate are accepted', async () => {
    const s = await runCaptured(['cms', 'sign', '-', '--key', f('alice.key.der'), '--cert', f('alice.der'), '--chain', f('sub.pem')], message)
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

  it('usage errors exit 2: missing options, no recipients, binary content to standard output', async () => {
    expect((await runCaptured(['cms', 'sign', f('message.json'), '--key', f('alice.key')])).status).toBe(2)
    expect((await runCaptured(['cms', 'decrypt', f('enc.der')])).status).toBe(2)
    expect((await runCaptured(['cms', 'encrypt', f('message.json')])).status).toBe(2)
    await writeFile(f('binary.bin'), Buffer.from([0xff, 0xfe, 0x00, 0x80]))
    await runCaptured(['cms', 'encrypt', f('binary.bin'), '--to', f('alice.pem'), '--out', f('bin.der')])
    const d = await runCaptured(['cms', 'decrypt', f('bin.der'), '--key', f('alice.key'), '--cert', f('alice.pem')])
    expect(d.status).toBe(2)
    expect(d.stderr).toContain('--out')
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

  it('checkChainToRoot: rejects an expired signer certificate', async () => {
    const roots = decodeCertificates(await readFile(f('root.pem')))
    const [alice] = decodeCertificates(await readFile(f('alice.pem')))
    const [sub] = decodeCertificates(await readFile(f('sub.pem')))
    if (!alice || !sub) throw new Error('fixtures missing')
    await expect(checkChainToRoot(alice.der, [sub.der], roots, new Date())).resolves.toBeUndefined()
    await expect(checkChainToRoot(alice.der, [sub.der], roots, new Date(Date.now() + 30 * 86_400_000))).rejects.toThrow(/not valid/)
    await expect(checkChainToRoot(alice.der, [], roots, new Date())).rejects.toThrow(/does not chain/)
  })
})

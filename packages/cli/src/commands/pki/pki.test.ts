import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCaptured } from '../../testing.js'

let base: string
let dir: string
const p = (...parts: string[]) => join(dir, ...parts)

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'smgw-pki-cli-'))
  dir = join(base, 'pki')
  const r = await runCaptured(['pki', 'init', dir, '--gateways', '2', '--json'])
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
}, 60_000)

afterAll(() => {
  rmSync(base, { recursive: true, force: true })
})

interface VerifyJson { ok: boolean; reason: string | null; chain: string[]; purpose: string }

async function verify(cert: string, ...extra: string[]): Promise<{ status: number; json: VerifyJson }> {
  const r = await runCaptured(['pki', 'verify', cert, '--root', p('root-ca/ca.cert.pem'), '--chain', p('chain.pem'), '--json', ...extra])
  return { status: r.status, json: JSON.parse(r.stdout) as VerifyJson }
}

const allCrls = () => ['root', 'sub-ca-emt', 'sub-ca-gw', 'sub-ca-gs'].flatMap((c) => ['--crl', p('crl', `${c}.crl.pem`)])

function opensslVerify(cert: string, crl: boolean): { code: number | null; out: string } {
  const args = ['verify', '-CAfile', p('root-ca/ca.cert.pem'), '-untrusted', p('chain.pem'), ...(crl ? ['-crl_check', '-CRLfile', p('crl/sub-ca-emt.crl.pem')] : []), cert]
  const r = spawnSync('openssl', args, { encoding: 'utf8' })
  return { code: r.status, out: r.stdout + r.stderr }
}

describe('smgw pki init', () => {
  it('writes the documented layout with index.json and private keys readable by the owner only', () => {
    const index = JSON.parse(readFileSync(p('index.json'), 'utf8')) as { format: string; cas: Record<string, unknown>; certificates: { subject: string; key: string | null }[] }
    expect(index.format).toBe('smgw-pki/1')
    expect(Object.keys(index.cas).sort()).toEqual(['root', 'sub-ca-emt', 'sub-ca-gs', 'sub-ca-gw'])
    // 4 CAs + GWA 3 + 2 EMTs × 3 + 2 gateways × 4 + the manufacturer's SIG certificate
    expect(index.certificates).toHaveLength(4 + 3 + 6 + 8 + 1)
    for (const f of ['gwa/tls.cert.pem', 'emt-2/enc.key.pem', 'gateways/smgw-0002/gs.cert.pem', 'crl/sub-ca-gw.crl.pem', 'chain.pem', 'manufacturer/sig.cert.pem']) expect(statSync(p(f)).isFile()).toBe(true)
    expect(statSync(p('gwa/sig.key.pem')).mode & 0o077).toBe(0)
    expect(statSync(p('manufacturer/sig.key.pem')).mode & 0o077).toBe(0)
  })

  it('adds the manufacturer: a SIG certificate from the manufacturer sub-CA that openssl verifies', () => {
    const index = JSON.parse(readFileSync(p('index.json'), 'utf8')) as { certificates: { subject: string; profile: string; issuer: string; cert: string }[] }
    expect(index.certificates.filter((c) => c.cert === 'manufacturer/sig.cert.pem')).toEqual([
      expect.objectContaining({ profile: 'sig', issuer: 'sub-ca-gs', subject: expect.stringContaining('OU=Manufacturer') as unknown }),
    ])
    const r = opensslVerify(p('manufacturer/sig.cert.pem'), false)
    expect(r.out).toContain(': OK')
    expect(r.code).toBe(0)
  })

  it('refuses a non-empty folder (usage error, exit 2)', async () => {
    const r = await runCaptured(['pki', 'init', dir])
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('not empty')
  })

  it('exits 2 on a curve outside TR-03109-3', async () => {
    const r = await runCaptured(['pki', 'init', join(base, 'x'), '--curve', 'secp521r1'])
    expect(r.status).toBe(2)
  })
})

describe('smgw pki verify', () => {
  it('accepts each certificate for its inferred purpose (exit 0, JSON contract)', async () => {
    for (const [file, purpose] of [['gwa/tls.cert.pem', 'tls-server'], ['gateways/smgw-0001/tls.cert.pem', 'tls-client'], ['emt-1/enc.cert.pem', 'enc'], ['emt-1/sig.cert.pem', 'sig'], ['gateways/smgw-0001/gs.cert.pem', 'tls-client']] as const) {
      const { status, json } = await verify(p(file), ...allCrls(), '--require-crl')
      expect(json, file).toMatchObject({ ok: true, reason: null, purpose })
      expect(json.chain).toHaveLength(3)
      expect(status).toBe(0)
    }
  })

  it('rejects with a reason code and exit 1: wrong purpose, wrong time, missing root', async () => {
    expect(await verify(p('gateways/smgw-0001/tls.cert.pem'), '--purpose', 'tls-server')).toMatchObject({ status: 1, json: { ok: false, reason: 'EKU' } })
    expect(await verify(p('gwa/tls.cert.pem'), '--at', '2099-01-01T00:00:00Z')).toMatchObject({ status: 1, json: { ok: false, reason: 'EXPIRED' } })
    const r = await runCaptured(['pki', 'verify', p('gwa/sig.cert.pem'), '--root', p('sub-ca-gw/ca.cert.pem'), '--json'])
    expect(r.status).toBe(1)
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, reason: 'NO_PATH' })
  })

  it('accepts DER as well as PEM', async () => {
    const der = join(base, 'gwa-sig.der')
    spawnSync('openssl', ['x509', '-in', p('gwa/sig.cert.pem'), '-outform', 'DER', '-out', der])
    expect((await verify(der)).json.ok).toBe(true)
  })

  it('exits 2 on an unknown purpose and 1 (MALFORMED) on a file that is no certificate', async () => {
    expect((await runCaptured(['pki', 'verify', p('gwa/sig.cert.pem'), '--root', p('root-ca/ca.cert.pem'), '--purpose', 'web'])).status).toBe(2)
    const r = await runCaptured(['pki', 'verify', p('index.json'), '--root', p('root-ca/ca.cert.pem')])
    expect(r.status).toBe(1)
    expect(r.stdout).toContain('INVALID MALFORMED')
    const missing = await runCaptured(['pki', 'verify', p('gwa/sig.cert.pem'), '--root', p('index.json')])
    expect(missing.status).toBe(1)
    expect(missing.stdout).toContain('NO_PATH')
  })
})

describe('smgw pki revoke / crl, cross-checked with openssl verify -crl_check', () => {
  it('agrees with OpenSSL on a valid and on a revoked certificate', async () => {
    const valid = p('emt-1/tls.cert.pem')
    const revoked = p('emt-2/tls.cert.pem')
    expect(opensslVerify(valid, true).code).toBe(0)
    expect((await verify(valid, '--crl', p('crl/sub-ca-emt.crl.pem'))).json.ok).toBe(true)

    const r = await runCaptured(['pki', 'revoke', revoked, '--dir', dir, '--reason', 'keyCompromise'])
    expect(r.stderr).toBe('')
    expect(r.stdout).toContain('CRL number 2')

    const ours = await verify(revoked, '--crl', p('crl/sub-ca-emt.crl.pem'))
    expect(ours).toMatchObject({ status: 1, json: { ok: false, reason: 'REVOKED' } })
    const theirs = opensslVerify(revoked, true)
    expect(theirs.code).not.toBe(0)
    expect(theirs.out).toContain('certificate revoked')
    // Still agreeing on the valid one after the CRL was reissued.
    expect(opensslVerify(valid, true).code).toBe(0)
    expect((await verify(valid, '--crl', p('crl/sub-ca-emt.crl.pem'))).json.ok).toBe(true)

    const show = await runCaptured(['pki', 'show', p('crl/sub-ca-emt.crl.pem'), '--json'])
    const crl = JSON.parse(show.stdout) as { crlNumber: number; revoked: { reason: string }[] }
    expect(crl.crlNumber).toBe(2)
    expect(crl.revoked).toEqual([expect.objectContaining({ reason: 'keyCompromise' })])
  })

  it('reissues all CRLs with increasing numbers', async () => {
    const r = await runCaptured(['pki', 'crl', '--dir', dir, '--days', '3'])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/crl\/sub-ca-emt\.crl\.pem: CRL number 3, 1 revoked/)
    expect(r.stdout).toMatch(/crl\/root\.crl\.pem: CRL number 2, 0 revoked/)
  })

  it('exits 2 on an unknown reason or serial', async () => {
    expect((await runCaptured(['pki', 'revoke', p('gwa/sig.cert.pem'), '--dir', dir, '--reason', 'bored'])).status).toBe(2)
    expect((await runCaptured(['pki', 'revoke', 'abcdef', '--dir', dir])).status).toBe(2)
  })
})

describe('smgw pki csr / sign-csr / issue / show', () => {
  it('initial request: csr → sign-csr → verify; OpenSSL accepts the CSR signature', async () => {
    const key = join(base, 'new.key.pem')
    const csr = join(base, 'new.csr.pem')
    const r = await runCaptured(['pki', 'csr', '--key', key, '--generate', '--subject', 'CN=EMT Demo 9,OU=EMT,O=SMGW Demo,C=DE', '--out', csr])
    expect(r.status).toBe(0)
    expect(spawnSync('openssl', ['req', '-in', csr, '-verify', '-noout'], { encoding: 'utf8' }).stderr).toContain('verify OK')
    const out = join(base, 'new.cert.pem')
    const s = await runCaptured(['pki', 'sign-csr', csr, '--dir', dir, '--ca', 'sub-ca-emt', '--profile', 'sig', '--out', out, '--json'])
    expect(s.stderr).toBe('')
    expect(JSON.parse(s.stdout)).toMatchObject({ subject: 'CN=EMT Demo 9,OU=EMT,O=SMGW Demo,C=DE', renewal: false, keyUsage: ['digitalSignature'] })
    expect((await verify(out, '--purpose', 'sig')).json.ok).toBe(true)
  })

  it('renewal: the new CSR wrapped and signed by the old key; the CA checks the old certificate', async () => {
    const gw = p('gateways/smgw-0002')
    const req = join(base, 'renew.pem')
    const r = await runCaptured(['pki', 'csr', '--key', join(base, 'renew.key.pem'), '--generate', '--subject', 'CN=smgw-0002,OU=SMGW,O=SMGW Demo,C=DE,serialNumber=SMGW-0002',
      '--renew-key', join(gw, 'tls.key.pem'), '--renew-cert', join(gw, 'tls.cert.pem'), '--out', req])
    expect(r.status).toBe(0)
    expect((await runCaptured(['pki', 'show', req, '--json'])).stdout).toContain('"type":"renewal-request"')
    // A CMS SignedData by the old key (PEM "CMS"); with --renew-chain openssl finds the path to the root itself.
    expect(readFileSync(req, 'utf8')).toMatch(/^-----BEGIN CMS-----\n/)
    const chained = join(base, 'renew-chained.pem')
    expect((await runCaptured(['pki', 'csr', '--key', join(base, 'renew.key.pem'), '--subject', 'CN=smgw-0002,OU=SMGW,O=SMGW Demo,C=DE,serialNumber=SMGW-0002',
      '--renew-key', join(gw, 'tls.key.pem'), '--renew-cert', join(gw, 'tls.cert.pem'), '--renew-chain', p('sub-ca-gw/ca.cert.pem'), '--out', chained])).status).toBe(0)
    const ossl = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'PEM', '-in', chained, '-CAfile', p('root-ca/ca.cert.pem'), '-purpose', 'any', '-outform', 'DER'])
    expect(ossl.stderr.toString()).toContain('Verification successful')
    expect(ossl.stdout[0]).toBe(0x30)
    const out = join(base, 'renewed.cert.pem')
    const s = await runCaptured(['pki', 'sign-csr', req, '--dir', dir, '--ca', 'sub-ca-gw', '--profile', 'tls', '--tls-role', 'client', '--out', out, '--json'])
    expect(s.stderr).toBe('')
    expect(JSON.parse(s.stdout)).toMatchObject({ renewal: true })
    expect((await verify(out)).json).toMatchObject({ ok: true, purpose: 'tls-client' })

    // After the old certificate is revoked, the CA refuses a renewal signed by its key.
    expect((await runCaptured(['pki', 'revoke', join(gw, 'tls.cert.pem'), '--dir', dir, '--reason', 'superseded'])).status).toBe(0)
    const again = await runCaptured(['pki', 'sign-csr', req, '--dir', dir, '--ca', 'sub-ca-gw', '--profile', 'tls', '--out', join(base, 'x.pem')])
    expect(again.status).toBe(1)
    expect(again.stderr).toContain('PKI_RENEWAL_REJECTED')
  })

  it('issue writes key and certificate and records them; show prints a certificate', async () => {
    const prefix = join(base, 'emt-9-tls')
    const r = await runCaptured(['pki', 'issue', '--dir', dir, '--ca', 'sub-ca-emt', '--profile', 'tls', '--tls-role', 'server', '--subject', 'CN=EMT Demo 9,C=DE', '--out', prefix, '--days', '30', '--json'])
    expect(r.stderr).toBe('')
    const cert = JSON.parse(r.stdout) as { serial: string; extendedKeyUsage: string[] }
    expect(cert.extendedKeyUsage).toEqual(['1.3.6.1.5.5.7.3.1'])
    expect(readFileSync(p('index.json'), 'utf8')).toContain(cert.serial)
    const show = await runCaptured(['pki', 'show', `${prefix}.cert.pem`])
    expect(show.stdout).toMatch(/subject\s+CN=EMT Demo 9,C=DE/)
  })

  it('prints help with examples for every subcommand', async () => {
    for (const sub of ['init', 'issue', 'csr', 'sign-csr', 'revoke', 'crl', 'show', 'verify']) {
      const r = await runCaptured(['pki', sub, '--help'])
      expect(r.status, sub).toBe(0)
      expect(r.stdout, sub).toContain('Examples:')
    }
  })
})

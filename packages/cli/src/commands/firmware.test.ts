// smgw firmware pack / inspect on a demo PKI folder made by `smgw pki init`, with the sample
// images; a package the CLI made is installed by the gateway's firmware manager.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSignerVerifier } from '@smgw/admin-protocol'
import { decodePemOrDer } from '@smgw/crypto'
import { createFirmwareManager, type SystemLogEntry } from '@smgw/gateway'
import { decodeCertificate } from '@smgw/pki'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCaptured } from '../testing.js'

const SAMPLES = join(dirname(fileURLToPath(import.meta.url)), '../../../../samples/firmware')
let dir: string
const p = (...parts: string[]) => join(dir, 'pki', ...parts)
const f = (name: string) => join(dir, name)

const pack = (version: string, image: string, out: string, signer = 'manufacturer') => runCaptured([
  'firmware', 'pack', '--image', join(SAMPLES, image), '--fw-version', version,
  '--key', p(signer, 'sig.key.pem'), '--cert', p(signer, 'sig.cert.pem'), '--chain', p(signer === 'manufacturer' ? 'sub-ca-gs' : 'sub-ca-emt', 'ca.cert.pem'), '-o', f(out),
])
const verifyArgs = () => ['--root', p('root-ca', 'ca.cert.pem'), '--chain', p('chain.pem'), '--manufacturer', p('manufacturer', 'sig.cert.pem')]

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'smgw-cli-firmware-'))
  const init = await runCaptured(['pki', 'init', join(dir, 'pki'), '--emts', '1'])
  expect(init.status).toBe(0)
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('smgw firmware', () => {
  it('pack signs the image with the manufacturer key; inspect shows and verifies it', async () => {
    const r = await pack('1.1.0', 'healthy.mjs', 'fw-1.1.0.json')
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^packed smgw 1\.1\.0 \(\d+ bytes, sha256 [0-9a-f]{64}\) signed by CN=SMGW Manufacturer Demo,OU=Manufacturer/)

    const plain = await runCaptured(['firmware', 'inspect', f('fw-1.1.0.json')])
    expect(plain.status).toBe(0)
    expect(plain.stdout).toContain('version   1.1.0')
    expect(plain.stdout).toContain('(matches the manifest)')
    expect(plain.stdout).toContain('(not verified')

    const checked = await runCaptured(['firmware', 'inspect', f('fw-1.1.0.json'), ...verifyArgs(), '--active', '1.0.0', '--json'])
    expect(checked.stderr).toBe('')
    expect(checked.status).toBe(0)
    const json = JSON.parse(checked.stdout) as { ok: boolean; verified: boolean; manifest: { version: string; size: number; name: string }; imageMatches: boolean }
    expect(json).toMatchObject({ ok: true, verified: true, imageMatches: true, manifest: { name: 'smgw', version: '1.1.0' } })
    expect(json.manifest.size).toBe((await readFile(join(SAMPLES, 'healthy.mjs'))).length)
  })

  it('inspect refuses: downgrade, tampered image, a signer that is not the manufacturer, not a package', async () => {
    await pack('1.2.0', 'healthy.mjs', 'fw-1.2.0.json')
    const down = await runCaptured(['firmware', 'inspect', f('fw-1.2.0.json'), ...verifyArgs(), '--active', '1.2.0'])
    expect(down.status).toBe(1)
    expect(down.stderr).toMatch(/^smgw firmware inspect: DOWNGRADE:/)

    const pkg = JSON.parse(await readFile(f('fw-1.2.0.json'), 'utf8')) as { image: string }
    pkg.image = Buffer.from('process.exit(0)\n').toString('base64')
    await writeFile(f('tampered.json'), JSON.stringify(pkg))
    const plain = await runCaptured(['firmware', 'inspect', f('tampered.json')])
    expect(plain.status).toBe(1)
    expect(plain.stderr).toContain('HASH_MISMATCH')
    const verified = await runCaptured(['firmware', 'inspect', f('tampered.json'), ...verifyArgs()])
    expect(verified.status).toBe(1)
    expect(verified.stderr).toMatch(/^smgw firmware inspect: HASH_MISMATCH:/)

    expect((await pack('1.3.0', 'healthy.mjs', 'gwa-signed.json', 'gwa')).status).toBe(0)
    const foreign = await runCaptured(['firmware', 'inspect', f('gwa-signed.json'), ...verifyArgs()])
    expect(foreign.status).toBe(1)
    expect(foreign.stderr).toMatch(/^smgw firmware inspect: SIGNER_NOT_MANUFACTURER:/)

    await writeFile(f('garbage.json'), '{"format":"something-else"}')
    const garbage = await runCaptured(['firmware', 'inspect', f('garbage.json')])
    expect(garbage.status).toBe(1)
    expect(garbage.stderr).toMatch(/UNSUPPORTED_FORMAT/)
  })

  it('usage errors exit 2; --help documents both subcommands', async () => {
    expect((await pack('1.2', 'healthy.mjs', 'x.json')).status).toBe(2)
    expect((await runCaptured(['firmware', 'inspect', f('fw-1.1.0.json'), '--active', '1.0.0'])).status).toBe(2)
    expect((await runCaptured(['firmware', 'inspect', f('fw-1.1.0.json'), '--root', p('root-ca', 'ca.cert.pem')])).status).toBe(2)
    const help = await runCaptured(['firmware', '--help'])
    expect(help.status).toBe(0)
    expect(help.stdout).toContain('pack')
    expect(help.stdout).toContain('inspect')
    expect(help.stdout).toContain('SIGNER_NOT_MANUFACTURER')
  })

  it('a package made by the CLI installs on the gateway; a broken image rolls back', async () => {
    await pack('1.4.0', 'healthy.mjs', 'fw-1.4.0.json')
    await pack('1.5.0', 'broken.mjs', 'fw-1.5.0.json')
    const [manufacturer] = decodePemOrDer(new Uint8Array(await readFile(p('manufacturer', 'sig.cert.pem'))), ['CERTIFICATE'], 'INVALID_ARGUMENT')
    const chain = decodePemOrDer(new Uint8Array(await readFile(p('chain.pem'))), ['CERTIFICATE'], 'INVALID_ARGUMENT')
    const [root] = decodePemOrDer(new Uint8Array(await readFile(p('root-ca', 'ca.cert.pem'))), ['CERTIFICATE'], 'INVALID_ARGUMENT')
    const verifier = createSignerVerifier({ expectedSubject: decodeCertificate(manufacturer ?? new Uint8Array()).subject, roots: [root ?? new Uint8Array()], intermediates: chain, notOwnRole: 'SIGNER_NOT_MANUFACTURER' })
    const log: SystemLogEntry[] = []
    const m = createFirmwareManager({ dir: f('gateway-firmware'), factoryVersion: '1.0.0' }, { verifier, now: () => new Date(), log: (e) => { log.push(e) } })
    await m.boot()
    const asBase64 = async (name: string) => (await readFile(f(name))).toString('base64')
    expect(await m.install({ package: await asBase64('fw-1.4.0.json') })).toEqual({ version: '1.4.0', state: 'active' })
    expect(await m.install({ package: await asBase64('fw-1.5.0.json') })).toEqual({ version: '1.5.0', state: 'rolled-back' })
    expect(m.version()).toBe('1.4.0')
    expect(log.map((e) => e.fields)).toEqual([{ from: '1.0.0', to: '1.4.0', result: 'installed' }, { from: '1.4.0', to: '1.5.0', result: 'rolled-back' }])
  })
})

// Signed firmware with real files and real child processes: the sample images of
// samples/firmware run as `node image.mjs health`; packages are signed by the demo PKI's
// manufacturer (and, to be refused, by other SM-PKI participants).
import { spawn } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createFirmwarePackage, createSignerVerifier, isAdminProtocolError, type SignerVerifier } from '@smgw/admin-protocol'
import { CURVES, createCmsSigner, createKeyObjectSigner, type CmsSigner } from '@smgw/crypto'
import { createDemoPki, decodeCertificate, type DemoPki } from '@smgw/pki'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../errors.js'
import type { CalibrationLogEntry, SystemLogEntry } from '../log/entries.js'
import { createTempDir } from '../testing.js'
import { createFirmwareManager, type FirmwareManager } from './firmware.js'

const SAMPLES = join(dirname(fileURLToPath(import.meta.url)), '../../../../samples/firmware')
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url))
const CRASH_CHILD = fileURLToPath(new URL('./bootloader-crash-child.ts', import.meta.url))
const now = new Date('2026-06-01T10:00:00Z')

let pki: DemoPki
let verifier: SignerVerifier
let tmp: { dir: string; remove: () => Promise<void> }
let images: { healthy: Uint8Array; broken: Uint8Array; hanging: Uint8Array }
let counter = 0

const certificateOf = (label: string) => {
  const c = pki.participants.flatMap((p) => p.certificates).find((x) => x.label === label)
  if (c === undefined) throw new Error(`no certificate ${label}`)
  return c
}
const caOf = (label: string) => pki.cas.find((c) => c.label === label)?.certificate ?? new Uint8Array()
const cmsSigner = (label: string): CmsSigner => {
  const c = certificateOf(label)
  return createCmsSigner({ signer: c.signer, certificate: c.certificate, chain: [caOf(c.issuer)] })
}

beforeAll(async () => {
  pki = await createDemoPki({ gateways: 1, emts: 1, manufacturer: true }, {
    now: new Date('2026-01-01T00:00:00Z'),
    serialNumber: () => new Uint8Array([0x10, ...randomBytes(15)]),
    newKey: (curve) => Promise.resolve(createKeyObjectSigner(generateKeyPairSync('ec', { namedCurve: CURVES[curve].nodeName }).privateKey)),
  })
  verifier = createSignerVerifier({
    expectedSubject: decodeCertificate(certificateOf('manufacturer/sig').certificate).subject,
    roots: [caOf('root')], intermediates: ['sub-ca-gs', 'sub-ca-gw', 'sub-ca-emt'].map(caOf), notOwnRole: 'SIGNER_NOT_MANUFACTURER',
  })
  images = {
    healthy: new Uint8Array(await readFile(join(SAMPLES, 'healthy.mjs'))),
    broken: new Uint8Array(await readFile(join(SAMPLES, 'broken.mjs'))),
    hanging: new Uint8Array(await readFile(join(SAMPLES, 'hanging.mjs'))),
  }
  tmp = await createTempDir('smgw-firmware-')
})
afterAll(async () => { await tmp.remove() })

async function pack(version: string, image: Uint8Array, signer = 'manufacturer/sig'): Promise<string> {
  const bytes = await createFirmwarePackage({ name: 'smgw', version, image, signer: cmsSigner(signer), at: now })
  return Buffer.from(bytes).toString('base64')
}

interface Subject {
  readonly dir: string
  readonly system: SystemLogEntry[]
  readonly calibration: CalibrationLogEntry[]
  readonly open: (healthTimeoutS?: number) => Promise<FirmwareManager>
}

function createSubject(): Subject {
  const dir = join(tmp.dir, `fw-${String(++counter)}`)
  const system: SystemLogEntry[] = []
  const calibration: CalibrationLogEntry[] = []
  const open = async (healthTimeoutS?: number) => {
    const m = createFirmwareManager({ dir, factoryVersion: '1.0.0', ...(healthTimeoutS === undefined ? {} : { healthTimeoutS }) }, {
      verifier, now: () => now, log: (e) => { system.push(e) }, calibrationLog: (e) => { calibration.push(e) },
    })
    await m.boot()
    return m
  }
  return { dir, system, calibration, open }
}

const stateOf = async (s: Subject): Promise<unknown> => JSON.parse(await readFile(join(s.dir, 'state.json'), 'utf8'))
const slotsOf = async (s: Subject): Promise<string[]> => (await readdir(join(s.dir, 'slots'))).sort()

describe('firmware update: verify, switch, health check', () => {
  it('installs a healthy image: pointer switched, logged in the system and calibration logs, kept across a restart', async () => {
    const s = createSubject()
    const m = await s.open()
    expect([m.version(), m.previous()]).toEqual(['1.0.0', undefined])
    expect(await m.install({ package: await pack('1.1.0', images.healthy) })).toEqual({ version: '1.1.0', state: 'active' })
    expect([m.version(), m.previous()]).toEqual(['1.1.0', '1.0.0'])
    expect(await stateOf(s)).toEqual({ format: 'smgw-firmware-state/1', active: '1.1.0', previous: '1.0.0' })
    expect(new Uint8Array(await readFile(join(s.dir, 'slots', '1.1.0', 'image.mjs')))).toEqual(images.healthy)
    expect(s.system).toEqual([{ type: 'firmware-update', fields: { from: '1.0.0', to: '1.1.0', result: 'installed' } }])
    expect(s.calibration).toEqual([{ type: 'firmware-update', fields: { to: '1.1.0' } }])

    // A second update: two slots stay (active and previous), numeric version order (1.10.0 > 1.9.0 > 1.1.0).
    await m.install({ package: await pack('1.9.0', images.healthy) })
    await m.install({ package: await pack('1.10.0', images.healthy) })
    expect([m.version(), m.previous()]).toEqual(['1.10.0', '1.9.0'])
    expect(await slotsOf(s)).toEqual(['1.10.0', '1.9.0'])

    const restarted = await s.open()
    expect([restarted.version(), restarted.previous()]).toEqual(['1.10.0', '1.9.0'])
  })

  it('a broken image (health exits 1) is rolled back to the previous version', async () => {
    const s = createSubject()
    const m = await s.open()
    await m.install({ package: await pack('1.1.0', images.healthy) })
    expect(await m.install({ package: await pack('2.0.0', images.broken) })).toEqual({ version: '2.0.0', state: 'rolled-back' })
    expect([m.version(), m.previous()]).toEqual(['1.1.0', '1.0.0'])
    expect(await stateOf(s)).toEqual({ format: 'smgw-firmware-state/1', active: '1.1.0', previous: '1.0.0' })
    expect(await slotsOf(s)).toEqual(['1.1.0'])
    expect(s.system.at(-1)).toEqual({ type: 'firmware-update', fields: { from: '1.1.0', to: '2.0.0', result: 'rolled-back' } })
    expect(s.calibration).toEqual([{ type: 'firmware-update', fields: { to: '1.1.0' } }])
    // The same version may come again, fixed.
    expect(await m.install({ package: await pack('2.0.0', images.healthy) })).toEqual({ version: '2.0.0', state: 'active' })
  })

  it('a hanging image is killed at the health timeout and rolled back', async () => {
    const s = createSubject()
    const m = await s.open(1)
    expect(await m.install({ package: await pack('1.2.0', images.hanging) })).toEqual({ version: '1.2.0', state: 'rolled-back' })
    expect(m.version()).toBe('1.0.0')
    expect(await stateOf(s)).toEqual({ format: 'smgw-firmware-state/1', active: '1.0.0' })
    expect(s.system).toEqual([{ type: 'firmware-update', fields: { from: '1.0.0', to: '1.2.0', result: 'rolled-back' } }])
  })

  it('a process killed between the switch and the health verdict: boot() rolls back', async () => {
    const s = createSubject()
    const m = await s.open()
    await m.install({ package: await pack('1.1.0', images.healthy) })
    // What the pointer looks like after the switch to 1.2.0, before its health verdict.
    await mkdir(join(s.dir, 'slots', '1.2.0'))
    await writeFile(join(s.dir, 'slots', '1.2.0', 'image.mjs'), images.healthy)
    await writeFile(join(s.dir, 'state.json'), JSON.stringify({ format: 'smgw-firmware-state/1', active: '1.2.0', previous: '1.1.0', trial: { from: '1.1.0', previous: '1.0.0', startedAt: now.toISOString() } }))
    const booted = await s.open()
    expect([booted.version(), booted.previous()]).toEqual(['1.1.0', '1.0.0'])
    expect(await stateOf(s)).toEqual({ format: 'smgw-firmware-state/1', active: '1.1.0', previous: '1.0.0' })
    expect(await slotsOf(s)).toEqual(['1.1.0'])
    expect(s.system.at(-1)).toEqual({ type: 'firmware-update', fields: { from: '1.1.0', to: '1.2.0', result: 'rolled-back' } })
  })

  it('a real SIGKILL of the installing process during the health check: the next boot() rolls back', async () => {
    const s = createSubject()
    await (await s.open()).install({ package: await pack('1.1.0', images.healthy) })
    const pkgPath = join(tmp.dir, `crash-${String(counter)}.json`)
    await writeFile(pkgPath, Buffer.from(await pack('1.2.0', images.hanging), 'base64'))
    const trustPath = join(tmp.dir, `crash-${String(counter)}.trust.json`)
    const b64 = (d: Uint8Array) => Buffer.from(d).toString('base64')
    await writeFile(trustPath, JSON.stringify({
      root: b64(caOf('root')), intermediates: ['sub-ca-gs', 'sub-ca-gw', 'sub-ca-emt'].map((l) => b64(caOf(l))),
      subject: decodeCertificate(certificateOf('manufacturer/sig').certificate).subject, now: now.toISOString(),
    }))
    const stateAtKill = await new Promise<string>((resolve, reject) => {
      // Its own process group: the kill takes the hanging health probe (a grandchild) along.
      const child = spawn(process.execPath, ['--import', 'tsx', CRASH_CHILD, s.dir, pkgPath, trustPath], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      let out = ''
      let err = ''
      let state = ''
      child.stderr.on('data', (c: Buffer) => { err += c.toString() })
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString()
        if (state === '' && out.includes('HEALTH\n')) {
          readFile(join(s.dir, 'state.json'), 'utf8').then((text) => {
            state = text
            process.kill(-(child.pid ?? 0), 'SIGKILL')
          }, reject)
        }
      })
      child.on('error', reject)
      child.on('close', (_code, signal) => {
        if (signal === 'SIGKILL') resolve(state)
        else reject(new Error(`child ended by itself: ${out} ${err}`))
      })
    })
    // Killed with the pointer on the new version and the trial mark set.
    expect(JSON.parse(stateAtKill)).toMatchObject({ active: '1.2.0', previous: '1.1.0', trial: { from: '1.1.0', previous: '1.0.0' } })
    const booted = await s.open()
    expect([booted.version(), booted.previous()]).toEqual(['1.1.0', '1.0.0'])
    expect(await stateOf(s)).toEqual({ format: 'smgw-firmware-state/1', active: '1.1.0', previous: '1.0.0' })
    expect(await slotsOf(s)).toEqual(['1.1.0'])
    expect(s.system.at(-1)).toEqual({ type: 'firmware-update', fields: { from: '1.1.0', to: '1.2.0', result: 'rolled-back' } })
  })

  it('boot() removes what a crash before the switch left: a slot nobody names and a temporary pointer file', async () => {
    const s = createSubject()
    await (await s.open()).install({ package: await pack('1.1.0', images.healthy) })
    await mkdir(join(s.dir, 'slots', '1.3.0'))
    await writeFile(join(s.dir, 'slots', '1.3.0', 'image.mjs'), 'half an image')
    await writeFile(join(s.dir, '.state.json.00ff.tmp'), '{"format":')
    const booted = await s.open()
    expect(booted.version()).toBe('1.1.0')
    expect(await slotsOf(s)).toEqual(['1.1.0'])
    expect((await readdir(s.dir)).sort()).toEqual(['slots', 'state.json'])
  })

  it('a damaged pointer file stops boot with ADMIN_APPLY_FAILED', async () => {
    const s = createSubject()
    await mkdir(s.dir, { recursive: true })
    await writeFile(join(s.dir, 'state.json'), '{"format":"smgw-firmware-state/1","active":"latest"}')
    await expect(s.open()).rejects.toThrow(expect.objectContaining({ code: 'ADMIN_APPLY_FAILED' }))
  })
})

describe('firmware packages refused: state.json byte-identical, nothing staged', () => {
  let s: Subject
  let m: FirmwareManager
  let stateBefore: Buffer

  beforeAll(async () => {
    s = createSubject()
    m = await s.open()
    await m.install({ package: await pack('1.5.0', images.healthy) })
    stateBefore = await readFile(join(s.dir, 'state.json'))
  })

  async function refused(pkg: string, code: string, logged: string, claimed = 'unknown'): Promise<void> {
    const before = s.system.length
    const err = await m.install({ package: pkg }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GatewayError)
    expect((err as GatewayError).code).toBe('ADMIN_REFUSED')
    const cause = (err as GatewayError).cause
    expect(isAdminProtocolError(cause) ? cause.code : cause).toBe(code)
    expect(await readFile(join(s.dir, 'state.json'))).toEqual(stateBefore)
    expect(await slotsOf(s)).toEqual(['1.5.0'])
    expect(m.version()).toBe('1.5.0')
    expect(s.system.slice(before)).toEqual([{ type: 'firmware-update', fields: { from: '1.5.0', to: claimed, result: logged } }])
  }

  it('a downgrade and the same version', async () => {
    await refused(await pack('1.4.9', images.healthy), 'DOWNGRADE', 'rejected-version', '1.4.9')
    await refused(await pack('1.5.0', images.healthy), 'DOWNGRADE', 'rejected-version', '1.5.0')
  })

  it('a tampered image and a tampered manifest', async () => {
    const pkg = JSON.parse(Buffer.from(await pack('1.6.0', images.healthy), 'base64').toString()) as { format: string; manifest: string; image: string }
    const evil = Buffer.from(`${Buffer.from(pkg.image, 'base64').toString()}\nprocess.exit(0)\n`).toString('base64')
    await refused(Buffer.from(JSON.stringify({ ...pkg, image: evil })).toString('base64'), 'HASH_MISMATCH', 'rejected-hash', '1.6.0')
    const manifest = Buffer.from(pkg.manifest, 'base64')
    // Inside the signed content: "1.6.0" → "9.6.0" (the claim changes, the signature no longer holds).
    const at = manifest.indexOf('"version":"1.6.0"')
    expect(at).toBeGreaterThan(0)
    manifest[at + '"version":"'.length] = '9'.charCodeAt(0)
    await refused(Buffer.from(JSON.stringify({ ...pkg, manifest: manifest.toString('base64') })).toString('base64'), 'SIGNATURE_INVALID', 'rejected-signature', '9.6.0')
  })

  it('signed by an SM-PKI participant other than the manufacturer (EMT, GWA, the gateway itself)', async () => {
    for (const label of ['emt-1/sig', 'gwa/sig', 'gateways/smgw-0001/sig']) {
      await refused(await pack('1.7.0', images.healthy, label), 'SIGNER_NOT_MANUFACTURER', 'rejected-signature', '1.7.0')
    }
  })

  it('not a package at all', async () => {
    await refused(Buffer.from('{"format":"smgw-firmware-package/9"}').toString('base64'), 'UNSUPPORTED_FORMAT', 'rejected-signature')
    await refused('////', 'MALFORMED', 'rejected-signature')
  })

  it('property: arbitrary bytes and byte mutations of a genuine package never install another image and fail only with ADMIN_REFUSED', async () => {
    const genuine = Buffer.from(await pack('1.8.0', images.healthy), 'base64')
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (bytes) => {
      const err = await m.install({ package: Buffer.from(bytes).toString('base64') }).catch((e: unknown) => e)
      expect((err as GatewayError).code).toBe('ADMIN_REFUSED')
    }), { numRuns: 100 })
    await fc.assert(fc.asyncProperty(fc.nat({ max: genuine.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
      const mutated = Buffer.from(genuine)
      mutated[at] = (mutated[at] ?? 0) ^ xor
      const r = await m.install({ package: mutated.toString('base64') }).catch((e: unknown) => e)
      if (r instanceof GatewayError) {
        expect(r.code).toBe('ADMIN_REFUSED')
      } else {
        // A change base64 decoding ignores (e.g. the unused low bits of the last character): the signed image, nothing else.
        expect(r).toEqual({ version: '1.8.0', state: 'active' })
        expect(new Uint8Array(await readFile(join(s.dir, 'slots', '1.8.0', 'image.mjs')))).toEqual(images.healthy)
      }
    }), { numRuns: 150 })
    expect(['1.5.0', '1.8.0']).toContain(m.version())
  })
})

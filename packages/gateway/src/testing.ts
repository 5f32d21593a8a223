// Test support (not exported from the package index): a demo SM-PKI with in-memory keys,
// the gateway's SIG key and certificate, a clock the test moves, temporary folders and a
// fresh SoftHSM2 token.
import { execFile } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createKeyObjectSigner, type Signer } from '@smgw/crypto'
import { createDemoPki, type DemoPki } from '@smgw/pki'

export interface TestSig {
  readonly pki: DemoPki
  readonly signer: Signer
  readonly certificate: Uint8Array
  readonly root: Uint8Array
  /** The sub-CA that issued the gateway certificates. */
  readonly subCa: Uint8Array
  /** PKCS#8 PEM of the gateway SIG key (for child processes and the CLI). */
  readonly keyPem: string
}

export async function createTestSig(now = new Date('2026-01-01T00:00:00Z'), organization = 'SMGW Test'): Promise<TestSig> {
  const pems = new Map<string, string>()
  const pki = await createDemoPki({ gateways: 1, emts: 0, organization }, {
    now,
    serialNumber: () => {
      const b = randomBytes(16)
      b[0] = (b[0]! & 0x7f) | 0x01
      return new Uint8Array(b)
    },
    newKey: (curve, label) => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve === 'P-256' ? 'prime256v1' : curve === 'P-384' ? 'secp384r1' : curve })
      pems.set(label, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString())
      return Promise.resolve(createKeyObjectSigner(privateKey))
    },
  })
  const sig = pki.participants.find((p) => p.role === 'gateway')?.certificates.find((c) => c.kind === 'sig')
  if (sig === undefined) throw new Error('demo PKI without gateway SIG certificate')
  const ca = (label: string): Uint8Array => pki.cas.find((c) => c.label === label)?.certificate ?? new Uint8Array()
  return { pki, signer: sig.signer, certificate: sig.certificate, root: ca('root'), subCa: ca(sig.issuer), keyPem: pems.get(sig.label) ?? '' }
}

/** A clock that only moves when told to. */
export function createTestClock(start: string): { now: () => Date; set: (iso: string) => void; advance: (ms: number) => void } {
  let t = new Date(start).getTime()
  return { now: () => new Date(t), set: (iso) => { t = new Date(iso).getTime() }, advance: (ms) => { t += ms } }
}

/**
 * A clock and timers a test drives (shared by simulators and the gateway): `advance` moves the
 * clock and runs every timer that became due, in due order. Nothing waits on wall-clock time.
 */
export function createManualWorld(startMs: number): { now: () => Date; setTimer: (ms: number, fn: () => void) => () => void; advance: (ms: number) => void } {
  let now = startMs
  let timers: { at: number; fn: () => void; cancelled: boolean }[] = []
  return {
    now: () => new Date(now),
    setTimer: (ms, fn) => {
      const t = { at: now + ms, fn, cancelled: false }
      timers.push(t)
      return () => { t.cancelled = true }
    },
    advance(ms) {
      const until = now + ms
      for (;;) {
        timers = timers.filter((t) => !t.cancelled)
        const next = timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0]
        if (next === undefined) break
        timers.splice(timers.indexOf(next), 1)
        now = Math.max(now, next.at)
        next.fn()
      }
      now = until
    },
  }
}

export async function createTempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

/**
 * Initialises a fresh SoftHSM2 token `label` (user PIN 4321, SO PIN 8765) with its token
 * folder and config in `dir`. SoftHSM2 reads SOFTHSM2_CONF at C_Initialize, so it is set for
 * the whole process: only for test files that run in their own process (vitest pool: forks).
 */
export async function initSoftHsmToken(dir: string, label: string): Promise<void> {
  const conf = join(dir, 'softhsm2.conf')
  await mkdir(join(dir, 'tokens'), { recursive: true })
  await writeFile(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`)
  process.env.SOFTHSM2_CONF = conf
  await promisify(execFile)('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', '4321', '--so-pin', '8765'], { env: { ...process.env, SOFTHSM2_CONF: conf } })
}

/**
 * Entry times of the test chains: three legal days around the 2026 switch to summer time
 * (29 March 2026, 02:00 CET → 03:00 CEST). Consumer c-1 gets one entry per time, so its
 * day heads sit at seq 3 (2026-03-28) and 6 (2026-03-29); seq 7 and 8 are unsigned.
 */
export const TEST_TIMES = [
  '2026-03-28T10:00:00.000Z', '2026-03-28T11:00:00.000Z', '2026-03-28T22:59:59.999Z', // 23:59:59.999 CET: 28th
  '2026-03-28T23:00:00.000Z', '2026-03-29T12:00:00.000Z', '2026-03-29T21:59:59.999Z', // 00:00 CET … 23:59:59.999 CEST: 29th
  '2026-03-29T22:00:00.000Z', '2026-03-30T08:00:00.000Z', // 30th
] as const

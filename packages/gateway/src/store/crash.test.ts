import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyStoreLogs } from '../log/verify.js'
import { createTempDir, createTestSig, type TestSig } from '../testing.js'
import { expectedMantissa } from './crash-child.js'
import { openStore } from './store.js'

// Each round starts a fresh child (about 1.5 s to load through tsx), so the suite runs a few;
// SMGW_CRASH_ROUNDS=50 runs more (the gateway-process crash test of the later session adds its own 20+).
const ROUNDS = Number(process.env.SMGW_CRASH_ROUNDS ?? 6)
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url))
const child = fileURLToPath(new URL('./crash-child.ts', import.meta.url))

let tmp: { dir: string; remove: () => Promise<void> }
let sig: TestSig

beforeAll(async () => {
  tmp = await createTempDir('smgw-crash-')
  sig = await createTestSig(new Date('2026-01-01T00:00:00Z'))
  await writeFile(join(tmp.dir, 'sig.key.pem'), sig.keyPem)
  await writeFile(join(tmp.dir, 'sig.cert.der'), sig.certificate)
})
afterAll(async () => { await tmp.remove() })

interface Acks { readings: number; consumer: number; system: number }

/** Runs the child until it has acknowledged `killAfter` lines, then SIGKILLs it. */
function runAndKill(db: string, killAfter: number): Promise<Acks> {
  return new Promise((resolve, reject) => {
    const acks: Acks = { readings: 0, consumer: 0, system: 0 }
    const p = spawn(process.execPath, ['--import', 'tsx', child, db, join(tmp.dir, 'sig.key.pem'), join(tmp.dir, 'sig.cert.der')], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let seen = 0
    let killed = false
    p.stderr.on('data', (c: Buffer) => { err += c.toString() })
    p.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      let nl: number
      while ((nl = out.indexOf('\n')) >= 0) {
        const [kind, a, b] = out.slice(0, nl).split(' ')
        out = out.slice(nl + 1)
        if (kind === 'R') acks.readings = Number(a)
        else if (a === 'consumer') acks.consumer = Number(b)
        else if (a === 'system') acks.system = Number(b)
        if (++seen >= killAfter && !killed) {
          killed = true
          p.kill('SIGKILL')
        }
      }
    })
    p.on('error', reject)
    p.on('close', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acks)
      else reject(new Error(`child ended by itself (${String(code)}): ${err}`))
    })
  })
}

describe('crash consistency: SIGKILL during ingest', () => {
  it(`loses no acknowledged reading or log entry and keeps the chains verifiable over ${ROUNDS} kills`, async () => {
    const db = join(tmp.dir, 'gateway.db')
    let seed = 0x2545f491
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0
      return 1 + (seed % n)
    }
    let total: Acks = { readings: 0, consumer: 0, system: 0 }
    for (let round = 0; round < ROUNDS; round++) {
      const acks = await runAndKill(db, random(60))
      // Acknowledgements only grow: a round continues where the last one committed.
      total = { readings: Math.max(total.readings, acks.readings), consumer: Math.max(total.consumer, acks.consumer), system: Math.max(total.system, acks.system) }
      const store = openStore(db, { now: () => new Date() })
      try {
        expect(store.integrityCheck()).toEqual(['ok'])
        const rows = store.readReadings({ limit: total.readings + 1000 })
        const acknowledged = rows.filter((r) => r.id <= total.readings)
        expect(acknowledged.length, `round ${round}: acknowledged readings present`).toBe(total.readings)
        for (const r of acknowledged) expect(r.mantissa).toBe(expectedMantissa(r.id))
        expect(rows.map((r) => r.id)).toEqual(rows.map((_, i) => i + 1))
        expect(Number(store.logRows.last('consumer', 'c-1')?.seq ?? 0)).toBeGreaterThanOrEqual(total.consumer)
        expect(Number(store.logRows.last('system', '')?.seq ?? 0)).toBeGreaterThanOrEqual(total.system)
        const verified = verifyStoreLogs(store, { certificate: sig.certificate, roots: [sig.root], intermediates: [sig.subCa] })
        expect(verified.chains.filter((c) => !c.ok)).toEqual([])
        expect(verified.ok).toBe(true)
      } finally {
        store.close()
      }
    }
    // The run crossed several legal days, so signed heads were part of what survived.
    const store = openStore(db, { now: () => new Date() })
    const consumer = verifyStoreLogs(store, { certificate: sig.certificate }).chains.find((c) => c.log === 'consumer')
    store.close()
    expect(consumer?.ok === true && consumer.signedThrough > 0).toBe(true)
    expect(total.readings).toBeGreaterThan(0)
  })
})

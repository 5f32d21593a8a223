// Test support for src/wan (not exported from the package index): a demo SM-PKI whose
// private keys stay reachable, openssl as an independent peer, and a manual timer.
import { execFile } from 'node:child_process'
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { createDemoPki, type DemoPki, type DemoPkiOptions } from '@smgw/pki'
import { createKeyObjectSigner, type Signer } from '@smgw/crypto'

export interface WanTestPki {
  readonly pki: DemoPki
  /** A certificate by label: `root`, `sub-ca-emt`, `emt-1/tls`, `gateways/smgw-0001/sig`, … */
  cert(label: string): Uint8Array
  key(label: string): KeyObject
  signer(label: string): Signer
}

export function newSerial(): Uint8Array {
  const b = randomBytes(16)
  b[0] = (b[0]! & 0x7f) | 0x01
  return new Uint8Array(b)
}

export async function createWanTestPki(options: DemoPkiOptions, now: Date): Promise<WanTestPki> {
  const keys = new Map<string, KeyObject>()
  const pki = await createDemoPki(options, {
    now,
    serialNumber: newSerial,
    newKey: (curve, label) => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve === 'P-256' ? 'prime256v1' : curve === 'P-384' ? 'secp384r1' : curve })
      keys.set(label, privateKey)
      return Promise.resolve(createKeyObjectSigner(privateKey))
    },
  })
  const key = (label: string): KeyObject => {
    const k = keys.get(label) ?? keys.get(`${label}/ca`)
    if (k === undefined) throw new Error(`no key ${label}`)
    return k
  }
  const cert = (label: string): Uint8Array => {
    const ca = pki.cas.find((c) => c.label === label)
    if (ca !== undefined) return ca.certificate
    const found = pki.participants.flatMap((p) => p.certificates).find((c) => c.label === label)
    if (found === undefined) throw new Error(`no certificate ${label}`)
    return found.certificate
  }
  return { pki, cert, key, signer: (label) => createKeyObjectSigner(key(label)) }
}

export function openssl(args: readonly string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { encoding: 'buffer', timeout: 20_000 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`openssl ${args.join(' ')}: ${stderr.toString()}`, { cause: err }))
      else resolve(stdout)
    })
  })
}

export interface ManualTimer {
  readonly setTimer: (ms: number, fn: () => void) => () => void
  /** Pending timers, earliest first. */
  pending(): { at: number }[]
  /** Removes and runs every timer due at `at`; returns how many ran. */
  fireDue(at: number): number
}

/** Timers that run only when the test says so; `now` is read when a timer is set. */
export function createManualTimer(now: () => Date): ManualTimer {
  let seq = 0
  const timers = new Map<number, { at: number; fn: () => void }>()
  return {
    setTimer(ms, fn) {
      const id = ++seq
      timers.set(id, { at: now().getTime() + ms, fn })
      return () => { timers.delete(id) }
    },
    pending: () => [...timers.values()].map((t) => ({ at: t.at })).sort((a, b) => a.at - b.at),
    fireDue(at) {
      const due = [...timers.entries()].filter(([, t]) => t.at <= at).sort((a, b) => a[1].at - b[1].at)
      for (const [id, t] of due) {
        timers.delete(id)
        t.fn()
      }
      return due.length
    },
  }
}

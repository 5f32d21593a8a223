import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createKeyObjectSigner, encodePem, type Signer } from '@smgw/crypto'
import { createDemoPki, type DemoPki } from '@smgw/pki'
import type { GwaConfigInput } from '../config.js'

/*
 * Test support (not exported from the package index): a demo SM-PKI written to a folder in
 * the layout of `smgw pki init` (packages/pki/README.md), with the keys kept in memory for
 * scripted gateway clients, and a GWA configuration that points at it.
 */

export interface GwaTestPki {
  readonly dir: string
  readonly demo: DemoPki
  readonly root: Uint8Array
  /** Every sub-CA certificate. */
  readonly intermediates: readonly Uint8Array[]
  /** A certificate by label: `gwa/sig`, `gateways/smgw-0001/gs`, `sub-ca-gw` … */
  cert(label: string): Uint8Array
  key(label: string): KeyObject
  signer(label: string): Signer
  /** The GWA configuration for this folder (ports 0, SQLite in `dir`). */
  config(overrides?: Partial<GwaConfigInput>): GwaConfigInput
}

export function newSerial(): Uint8Array {
  const b = randomBytes(16)
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01
  return new Uint8Array(b)
}

export async function createGwaTestPki(dir: string, o: { readonly gateways: number; readonly now: Date }): Promise<GwaTestPki> {
  const keys = new Map<string, KeyObject>()
  const demo = await createDemoPki({ gateways: o.gateways, emts: 1 }, {
    newKey: (_curve, label) => {
      const key = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey
      keys.set(label, key)
      return Promise.resolve(createKeyObjectSigner(key))
    },
    serialNumber: newSerial,
    now: o.now,
  })
  const keyPem = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }).toString()
  const write = async (path: string, text: string) => {
    await mkdir(join(path, '..'), { recursive: true })
    await writeFile(path, text, { mode: 0o600 })
  }
  const certs = new Map<string, Uint8Array>()
  for (const ca of demo.cas) {
    certs.set(ca.label, ca.certificate)
    const folder = ca.label === 'root' ? 'root-ca' : ca.label
    await write(join(dir, folder, 'ca.cert.pem'), encodePem('CERTIFICATE', ca.certificate))
    await write(join(dir, folder, 'ca.key.pem'), keyPem(keys.get(`${ca.label}/ca`) ?? (() => { throw new Error(`no key ${ca.label}`) })()))
  }
  const intermediates = demo.cas.filter((c) => c.label !== 'root').map((c) => c.certificate)
  await write(join(dir, 'chain.pem'), intermediates.map((c) => encodePem('CERTIFICATE', c)).join(''))
  for (const crl of demo.crls) await write(join(dir, 'crl', `${crl.ca}.crl.pem`), encodePem('X509 CRL', crl.der))
  for (const p of demo.participants) {
    for (const c of p.certificates) {
      certs.set(c.label, c.certificate)
      await write(join(dir, p.label, `${c.kind}.cert.pem`), encodePem('CERTIFICATE', c.certificate))
      await write(join(dir, p.label, `${c.kind}.key.pem`), keyPem(keys.get(c.label) ?? (() => { throw new Error(`no key ${c.label}`) })()))
    }
  }
  const key = (label: string): KeyObject => {
    const k = keys.get(label) ?? keys.get(`${label}/ca`)
    if (k === undefined) throw new Error(`no key ${label}`)
    return k
  }
  return {
    dir, demo, root: certs.get('root') ?? new Uint8Array(0), intermediates,
    cert: (label) => {
      const c = certs.get(label)
      if (c === undefined) throw new Error(`no certificate ${label}`)
      return c
    },
    key,
    signer: (label) => createKeyObjectSigner(key(label)),
    config: (overrides = {}) => ({
      gwaId: 'gwa',
      listen: { host: '127.0.0.1', port: 0 },
      tls: { certificate: join(dir, 'gwa/tls.cert.pem'), key: join(dir, 'gwa/tls.key.pem'), chain: [join(dir, 'sub-ca-emt/ca.cert.pem')] },
      sig: { certificate: join(dir, 'gwa/sig.cert.pem'), key: join(dir, 'gwa/sig.key.pem'), chain: [join(dir, 'sub-ca-emt/ca.cert.pem')] },
      ca: { certificate: join(dir, 'sub-ca-gw/ca.cert.pem'), key: join(dir, 'sub-ca-gw/ca.key.pem') },
      pki: { roots: [join(dir, 'root-ca/ca.cert.pem')], intermediates: [join(dir, 'chain.pem')], crls: demo.crls.map((c) => join(dir, 'crl', `${c.ca}.crl.pem`)) },
      storage: { sqlite: join(dir, 'gwa.db') },
      api: { host: '127.0.0.1', port: 0 },
      ...overrides,
    }),
  }
}

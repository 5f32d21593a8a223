// Test support (not exported from the package index): a demo PKI with in-memory keys.
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier, Certificate, type TBSCertificate } from '@peculiar/asn1-x509'
import { createKeyObjectSigner, type CurveName, type Signer } from '@smgw/crypto'
import { encodeSigned } from './der.js'
import { createDemoPki, type DemoPki, type DemoPkiOptions } from './demo.js'

export interface TestPki {
  readonly pki: DemoPki
  readonly now: Date
  /** Private keys by label (`root/ca`, `gwa/tls`, `gateways/smgw-0001/sig`, …). */
  readonly keys: ReadonlyMap<string, KeyObject>
  cert(label: string): Uint8Array
  signer(label: string): Signer
  key(label: string): KeyObject
  ca(label: string): { signer: Signer; certificate: Uint8Array }
}

export function newKey(curve: CurveName | 'secp521r1'): KeyObject {
  const nodeName = { brainpoolP256r1: 'brainpoolP256r1', brainpoolP384r1: 'brainpoolP384r1', brainpoolP512r1: 'brainpoolP512r1', 'P-256': 'prime256v1', 'P-384': 'secp384r1', secp521r1: 'secp521r1' }[curve]
  return generateKeyPairSync('ec', { namedCurve: nodeName }).privateKey
}

export function serial(): Uint8Array {
  const b = randomBytes(16)
  b[0] = (b[0] ?? 0) & 0x7f | 0x01
  return new Uint8Array(b)
}

export async function createTestPki(options: DemoPkiOptions = {}, now = new Date('2026-06-01T12:00:00Z')): Promise<TestPki> {
  const keys = new Map<string, KeyObject>()
  const pki = await createDemoPki(options, {
    now,
    serialNumber: serial,
    newKey: (curve, label) => {
      const key = newKey(curve)
      keys.set(label, key)
      return Promise.resolve(createKeyObjectSigner(key))
    },
  })
  const key = (label: string): KeyObject => {
    const k = keys.get(label)
    if (k === undefined) throw new Error(`no key ${label}`)
    return k
  }
  const cert = (label: string): Uint8Array => {
    const ca = pki.cas.find((c) => `${c.label}/ca` === label || c.label === label)
    if (ca !== undefined) return ca.certificate
    const found = pki.participants.flatMap((p) => p.certificates).find((c) => c.label === label)
    if (found === undefined) throw new Error(`no certificate ${label}`)
    return found.certificate
  }
  return {
    pki, now, keys, cert, key,
    signer: (label) => createKeyObjectSigner(key(label)),
    ca: (label) => ({ signer: createKeyObjectSigner(key(`${label}/ca`)), certificate: cert(label) }),
  }
}

/** Re-signs a certificate after changing its TBSCertificate (for certificates our issuer refuses to make). */
export async function resign(der: Uint8Array, signer: Signer, mutate: (tbs: TBSCertificate) => void, outerAlgorithm?: string): Promise<Uint8Array> {
  const cert = AsnConvert.parse(der, Certificate)
  mutate(cert.tbsCertificate)
  const tbs = new Uint8Array(AsnConvert.serialize(cert.tbsCertificate))
  const sig = await signer.sign(tbs, 'SHA-256')
  const alg = new Uint8Array(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: outerAlgorithm ?? cert.tbsCertificate.signature.algorithm })))
  return encodeSigned(tbs, alg, sig)
}

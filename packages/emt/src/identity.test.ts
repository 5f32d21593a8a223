import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { createKeyObjectSigner } from '@smgw/crypto'
import { issueCertificate } from '@smgw/pki'
import { describe, expect, it } from 'vitest'
import { gatewayIdOfCertificate, gatewayIdOfRdns } from './identity.js'

const key = () => createKeyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey)
const validity = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z') }
const serial = () => new Uint8Array([0x01, ...randomBytes(8)])

async function certFor(subject: Record<string, string>): Promise<Uint8Array> {
  const ca = key()
  const root = await issueCertificate({ profile: 'root-ca', subject: { C: 'DE', CN: 'Test Root' }, publicKey: ca.publicKey, serialNumber: serial(), ...validity, issuer: { signer: ca }, pathLength: 0 })
  return issueCertificate({ profile: 'sig', subject, publicKey: key().publicKey, serialNumber: serial(), ...validity, issuer: { signer: ca, certificate: root } })
}

describe('gatewayIdOfCertificate', () => {
  it('reads the CN of a gateway certificate', async () => {
    expect(gatewayIdOfCertificate(await certFor({ C: 'DE', O: 'SMGW Demo', OU: 'SMGW', CN: 'smgw-0001', serialNumber: 'SMGW-0001' }))).toBe('smgw-0001')
  })
  it('undefined without a CN, with a CN that is not a gateway ID, or for bytes that are no certificate', async () => {
    expect(gatewayIdOfCertificate(await certFor({ C: 'DE', O: 'SMGW Demo' }))).toBeUndefined()
    expect(gatewayIdOfCertificate(await certFor({ C: 'DE', CN: 'EMT Demo 1' }))).toBeUndefined()
    expect(gatewayIdOfCertificate(await certFor({ C: 'DE', CN: 'smgw-0001\nCN=smgw-0002' }))).toBeUndefined()
    expect(gatewayIdOfCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]))).toBeUndefined()
    expect(gatewayIdOfCertificate(await certFor({ C: 'DE', CN: 'smgw-0001,CN=smgw-0002' }))).toBeUndefined()
  })
  it('multi-valued RDNs: each attribute counts; an escaped + is part of a value', () => {
    expect(gatewayIdOfRdns(['C=DE', 'O=SMGW+CN=smgw-0001'])).toBe('smgw-0001')
    expect(gatewayIdOfRdns(['CN=smgw-0001+CN=smgw-0002'])).toBeUndefined()
    // O=a\+CN=… is one attribute O with the value "a+CN=…"; O=a\\+CN=… is O="a\" and a CN.
    expect(gatewayIdOfRdns(['O=a\\+CN=smgw-0002', 'CN=smgw-0001'])).toBe('smgw-0001')
    expect(gatewayIdOfRdns(['O=a\\\\+CN=smgw-0002', 'CN=smgw-0001'])).toBeUndefined()
    expect(gatewayIdOfRdns(['O=a\\\\+CN=smgw-0001'])).toBe('smgw-0001')
  })
})

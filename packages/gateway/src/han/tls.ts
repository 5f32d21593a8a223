import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { chmod, readFile, writeFile } from 'node:fs/promises'
import { createKeyObjectSigner, encodePem } from '@smgw/crypto'
import { issueCertificate } from '@smgw/pki'
import { GatewayError } from '../errors.js'
import { messageOf } from '../store/store.js'
import type { HanConfig } from './config.js'

export interface HanTlsIdentity {
  readonly key: string
  readonly cert: string
  /** true when this call made a new self-signed certificate. */
  readonly created: boolean
}

/** Where the self-signed HAN key and certificate are kept when `han.tls` is absent. */
export function hanTlsFiles(storePath: string): { readonly key: string; readonly certificate: string } {
  return { key: `${storePath}.han-key.pem`, certificate: `${storePath}.han-cert.pem` }
}

/**
 * The HAN TLS identity: the configured files, else the self-signed one beside the store,
 * made at first start. P-256 (browsers do not offer the Brainpool curves of the SM-PKI on
 * the HAN, BSI TR-03109-1 allows NIST curves at the HAN interface): a `tls` profile
 * certificate (server EKU), 2 years, CN = the gateway ID.
 */
export async function loadHanTls(config: HanConfig, storePath: string, gatewayId: string, now: Date): Promise<HanTlsIdentity> {
  const files = config.tls ?? hanTlsFiles(storePath)
  try {
    return { key: await readFile(files.key, 'utf8'), cert: await readFile(files.certificate, 'utf8'), created: false }
  } catch (err) {
    if (config.tls !== undefined || (err as { code?: unknown }).code !== 'ENOENT') {
      throw new GatewayError('HAN_START_FAILED', `han.tls: cannot read the HAN key or certificate: ${messageOf(err)}`, { cause: err })
    }
  }
  try {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    const signer = createKeyObjectSigner(privateKey)
    const serial = randomBytes(16)
    serial[0] = (serial[0]! & 0x7f) | 0x01
    const der = await issueCertificate({
      profile: 'tls', tlsRole: 'server', subject: { CN: gatewayId, O: 'Smart Meter Gateway HAN' }, publicKey: signer.publicKey,
      serialNumber: serial, notBefore: new Date(now.getTime() - 60_000), notAfter: new Date(now.getTime() + 2 * 365 * 86_400_000),
      issuer: { signer },
    })
    const key = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
    const cert = encodePem('CERTIFICATE', der)
    await writeFile(files.key, key, { mode: 0o600, flag: 'wx' })
    await chmod(files.key, 0o600)
    await writeFile(files.certificate, cert, { mode: 0o600, flag: 'wx' })
    return { key, cert, created: true }
  } catch (err) {
    throw new GatewayError('HAN_START_FAILED', `cannot make the self-signed HAN certificate: ${messageOf(err)}`, { cause: err })
  }
}

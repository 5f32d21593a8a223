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
    // The SM-PKI profiles self-sign only a root: a throw-away HAN root (its key is discarded at once) issues the server certificate.
    const serial = (): Uint8Array => { const b = randomBytes(16); b[0] = (b[0]! & 0x7f) | 0x01; return b }
    // Valid from a day back: the browser checks against its own clock, which may lag the
    // gateway's legal time (a stepped clock made the certificate "not yet valid" in the demo).
    const notBefore = new Date(now.getTime() - 86_400_000)
    const notAfter = new Date(now.getTime() + 2 * 365 * 86_400_000)
    const rootSigner = createKeyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey)
    const root = await issueCertificate({
      profile: 'root-ca', subject: { CN: `${gatewayId} HAN`, O: 'Smart Meter Gateway HAN' }, publicKey: rootSigner.publicKey,
      serialNumber: serial(), notBefore, notAfter, issuer: { signer: rootSigner },
    })
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    const der = await issueCertificate({
      profile: 'tls', tlsRole: 'server', subject: { CN: gatewayId, O: 'Smart Meter Gateway HAN' }, publicKey: createKeyObjectSigner(privateKey).publicKey,
      serialNumber: serial(), notBefore, notAfter, issuer: { signer: rootSigner, certificate: root },
    })
    const key = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
    const cert = `${encodePem('CERTIFICATE', der)}${encodePem('CERTIFICATE', root)}`
    await writeFile(files.key, key, { mode: 0o600, flag: 'wx' })
    await chmod(files.key, 0o600)
    await writeFile(files.certificate, cert, { mode: 0o600, flag: 'wx' })
    return { key, cert, created: true }
  } catch (err) {
    throw new GatewayError('HAN_START_FAILED', `cannot make the self-signed HAN certificate: ${messageOf(err)}`, { cause: err })
  }
}

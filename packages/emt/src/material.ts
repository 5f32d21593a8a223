import { readFile } from 'node:fs/promises'
import {
  agreerFromModule, createKeyObjectAgreer, createPkcs11SecurityModule, createSoftwareSecurityModule, decodePemOrDer, decodePrivateKey,
  type KeyAgreer, type SecurityModule,
} from '@smgw/crypto'
import type { EmtConfig, EncKeyConfig } from './config.js'
import { EmtError } from './errors.js'

/** The files a receiver reads at start (and the CRLs again on reload), decoded. */
export interface TrustMaterial {
  readonly roots: readonly Uint8Array[]
  readonly intermediates: readonly Uint8Array[]
  readonly crls: readonly Uint8Array[]
}

export interface IdentityMaterial {
  readonly tlsKeyPem: string
  readonly tlsCertificate: Uint8Array
  readonly tlsChain: readonly Uint8Array[]
  readonly encCertificate: Uint8Array
}

async function read(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (err) {
    throw new EmtError('EMT_CONFIG_INVALID', `cannot read ${what} ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

async function readDer(path: string, labels: readonly string[], what: string): Promise<Uint8Array[]> {
  const bytes = await read(path, what)
  try {
    return decodePemOrDer(bytes, labels, 'CERT_MALFORMED')
  } catch (err) {
    throw new EmtError('EMT_CONFIG_INVALID', `${what} ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

export async function readCrls(config: EmtConfig): Promise<Uint8Array[]> {
  return (await Promise.all(config.pki.crls.map((p) => readDer(p, ['X509 CRL'], 'CRL')))).flat()
}

export async function readTrustMaterial(config: EmtConfig): Promise<TrustMaterial> {
  return {
    roots: (await Promise.all(config.pki.roots.map((p) => readDer(p, ['CERTIFICATE'], 'root certificate')))).flat(),
    intermediates: (await Promise.all(config.pki.intermediates.map((p) => readDer(p, ['CERTIFICATE'], 'intermediate certificate')))).flat(),
    crls: await readCrls(config),
  }
}

export async function readIdentityMaterial(config: EmtConfig): Promise<IdentityMaterial> {
  const [tlsCertificate, ...sentChain] = await readDer(config.tls.certificate, ['CERTIFICATE'], 'TLS certificate')
  const [encCertificate] = await readDer(config.enc.certificate, ['CERTIFICATE'], 'ENC certificate')
  if (tlsCertificate === undefined || encCertificate === undefined) throw new EmtError('EMT_CONFIG_INVALID', 'no certificate in the TLS or ENC certificate file')
  const chain = (await Promise.all(config.tls.chain.map((p) => readDer(p, ['CERTIFICATE'], 'TLS chain certificate')))).flat()
  return {
    tlsKeyPem: new TextDecoder().decode(await read(config.tls.key, 'TLS key')),
    tlsCertificate, tlsChain: [...sentChain, ...chain], encCertificate,
  }
}

/** The ENC key as a KeyAgreer: from a PEM file (demos), the software security module or a PKCS#11 token. */
export async function openEncKey(key: EncKeyConfig): Promise<{ readonly agreer: KeyAgreer; readonly close: () => Promise<void> }> {
  try {
    if ('file' in key) {
      return { agreer: createKeyObjectAgreer(decodePrivateKey(await read(key.file, 'ENC key'))), close: () => Promise.resolve() }
    }
    let sm: SecurityModule
    if ('softwareModule' in key) {
      const passphrase = new TextDecoder().decode(await read(key.softwareModule.passphraseFile, 'passphrase file')).replace(/\r?\n$/, '')
      sm = await createSoftwareSecurityModule({
        dir: key.softwareModule.dir, passphrase,
        ...(key.softwareModule.scryptLogN === undefined ? {} : { scryptLogN: key.softwareModule.scryptLogN }),
      })
    } else {
      const pin = new TextDecoder().decode(await read(key.pkcs11.pinFile, 'PIN file')).replace(/\r?\n$/, '')
      sm = await createPkcs11SecurityModule({ library: key.pkcs11.library, tokenLabel: key.pkcs11.tokenLabel, pin })
    }
    try {
      return { agreer: await agreerFromModule(sm, key.label), close: () => sm.close() }
    } catch (err) {
      await sm.close()
      throw err
    }
  } catch (err) {
    if (err instanceof EmtError) throw err
    throw new EmtError('EMT_START_FAILED', `ENC key: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

import { readFile } from 'node:fs/promises'
import { createCmsSigner, createKeyObjectSigner, decodePemOrDer, decodePrivateKey, type CmsSigner, type Signer } from '@smgw/crypto'
import type { GwaConfig } from './config.js'
import { GwaError } from './errors.js'

/** The files the head-end reads at start, decoded. */
export interface GwaMaterial {
  readonly trust: { readonly roots: readonly Uint8Array[]; readonly intermediates: readonly Uint8Array[]; readonly crls: readonly Uint8Array[] }
  readonly tls: { readonly keyPem: string; readonly certificate: Uint8Array; readonly chain: readonly Uint8Array[] }
  /** Signs commands and wake-ups: the GWA SIG certificate and its chain go into every SignedData. */
  readonly sig: { readonly signer: CmsSigner; readonly certificate: Uint8Array }
  /** The gateway sub-CA, when configured. */
  readonly ca?: { readonly signer: Signer; readonly certificate: Uint8Array }
}

async function read(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (err) {
    throw new GwaError('GWA_CONFIG_INVALID', `cannot read ${what} ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

async function readDer(path: string, labels: readonly string[], what: string): Promise<Uint8Array[]> {
  const bytes = await read(path, what)
  try {
    return decodePemOrDer(bytes, labels, 'CERT_MALFORMED')
  } catch (err) {
    throw new GwaError('GWA_CONFIG_INVALID', `${what} ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

async function readCertificates(paths: readonly string[], what: string): Promise<Uint8Array[]> {
  return (await Promise.all(paths.map((p) => readDer(p, ['CERTIFICATE'], what)))).flat()
}

async function readKey(path: string, what: string): Promise<Signer> {
  const bytes = await read(path, what)
  try {
    return createKeyObjectSigner(decodePrivateKey(bytes))
  } catch (err) {
    throw new GwaError('GWA_CONFIG_INVALID', `${what} ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

export async function readCrls(config: GwaConfig): Promise<Uint8Array[]> {
  return (await Promise.all(config.pki.crls.map((p) => readDer(p, ['X509 CRL'], 'CRL')))).flat()
}

/** Reads trust, TLS and SIG identities and the CA (PEM files; keys as PKCS#8 or SEC1). */
export async function readGwaMaterial(config: GwaConfig): Promise<GwaMaterial> {
  const [tlsCertificate, ...tlsSent] = await readCertificates([config.tls.certificate], 'TLS certificate')
  const [sigCertificate, ...sigSent] = await readCertificates([config.sig.certificate], 'SIG certificate')
  if (tlsCertificate === undefined || sigCertificate === undefined) throw new GwaError('GWA_CONFIG_INVALID', 'no certificate in the TLS or SIG certificate file')
  const sigKey = await readKey(config.sig.key, 'SIG key')
  let signer: CmsSigner
  try {
    signer = createCmsSigner({ signer: sigKey, certificate: sigCertificate, chain: [...sigSent, ...await readCertificates(config.sig.chain, 'SIG chain certificate')] })
  } catch (err) {
    throw new GwaError('GWA_CONFIG_INVALID', `SIG key and certificate: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  let ca: GwaMaterial['ca']
  if (config.ca !== undefined) {
    const [certificate] = await readCertificates([config.ca.certificate], 'CA certificate')
    if (certificate === undefined) throw new GwaError('GWA_CONFIG_INVALID', `no certificate in ${config.ca.certificate}`)
    ca = { signer: await readKey(config.ca.key, 'CA key'), certificate }
  }
  return {
    trust: {
      roots: await readCertificates(config.pki.roots, 'root certificate'),
      intermediates: await readCertificates(config.pki.intermediates, 'intermediate certificate'),
      crls: await readCrls(config),
    },
    tls: {
      keyPem: new TextDecoder().decode(await read(config.tls.key, 'TLS key')),
      certificate: tlsCertificate,
      chain: [...tlsSent, ...await readCertificates(config.tls.chain, 'TLS chain certificate')],
    },
    sig: { signer, certificate: sigCertificate },
    ...(ca === undefined ? {} : { ca }),
  }
}

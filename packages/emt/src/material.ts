import { readFile } from 'node:fs/promises'
import {
  agreerFromModule, createKeyObjectAgreer, createPkcs11SecurityModule, createSoftwareSecurityModule, decodePemOrDer, decodePrivateKey,
  type KeyAgreer, type SecurityModule,
} from '@smgw/crypto'
import { tlsIdentityKey, type TlsIdentity } from '@smgw/pki'
import type { EmtConfig, PrivateKeyConfig } from './config.js'
import { EmtError } from './errors.js'

/** The files a receiver reads at start (and the CRLs again on reload), decoded. */
export interface TrustMaterial {
  readonly roots: readonly Uint8Array[]
  readonly intermediates: readonly Uint8Array[]
  readonly crls: readonly Uint8Array[]
}

/** Our certificates (the private keys: {@link openReceiverKeys}). */
export interface IdentityMaterial {
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

export async function readDer(path: string, labels: readonly string[], what: string): Promise<Uint8Array[]> {
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
  return { tlsCertificate, tlsChain: [...sentChain, ...chain], encCertificate }
}

type ModuleKeyConfig = Exclude<PrivateKeyConfig, { readonly file: string }>

/**
 * The security modules a receiver's keys name, each opened once (the TLS and the ENC key may
 * live in one; a PKCS#11 library is initialised once per process) and kept open until
 * `closeAll`: a token's TLS key is used by OpenSSL's engine for as long as the receiver serves,
 * and closing the module would finalise the library under it.
 */
function moduleSet() {
  const open = new Map<string, { readonly settings: string; readonly module: Promise<SecurityModule> }>()
  const openModule = async (key: ModuleKeyConfig): Promise<SecurityModule> => {
    if ('softwareModule' in key) {
      const passphrase = new TextDecoder().decode(await read(key.softwareModule.passphraseFile, 'passphrase file')).replace(/\r?\n$/, '')
      return createSoftwareSecurityModule({
        dir: key.softwareModule.dir, passphrase,
        ...(key.softwareModule.scryptLogN === undefined ? {} : { scryptLogN: key.softwareModule.scryptLogN }),
      })
    }
    const pin = new TextDecoder().decode(await read(key.pkcs11.pinFile, 'PIN file')).replace(/\r?\n$/, '')
    return createPkcs11SecurityModule({ library: key.pkcs11.library, tokenLabel: key.pkcs11.tokenLabel, pin })
  }
  return {
    get: (key: ModuleKeyConfig): Promise<SecurityModule> => {
      const id = JSON.stringify('softwareModule' in key ? { software: key.softwareModule.dir } : { pkcs11: [key.pkcs11.library, key.pkcs11.tokenLabel] })
      const settings = JSON.stringify('softwareModule' in key ? key.softwareModule : key.pkcs11)
      const known = open.get(id)
      if (known === undefined) {
        const module = openModule(key)
        open.set(id, { settings, module })
        return module
      }
      // One module, one way in: the first key's passphrase or PIN file would silently win.
      if (known.settings !== settings) return Promise.reject(new EmtError('EMT_CONFIG_INVALID', `tls.key and enc.key name the same security module with different settings (${settings} against ${known.settings})`))
      return known.module
    },
    closeAll: async (): Promise<void> => {
      const modules = [...open.values()]
      open.clear()
      await Promise.all(modules.map(async ({ module }) => { await (await module.catch(() => undefined))?.close() }))
    },
  }
}
type ModuleSet = ReturnType<typeof moduleSet>

/** Wraps what is not an EmtError into EMT_START_FAILED, naming the key. */
const startFailure = (what: string, err: unknown): EmtError => err instanceof EmtError
  ? err
  : new EmtError('EMT_START_FAILED', `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })

async function encAgreer(key: PrivateKeyConfig, modules: ModuleSet): Promise<KeyAgreer> {
  try {
    if ('file' in key) return createKeyObjectAgreer(decodePrivateKey(await read(key.file, 'ENC key')))
    return await agreerFromModule(await modules.get(key), key.label)
  } catch (err) {
    throw startFailure('ENC key', err)
  }
}

async function tlsKey(key: EmtConfig['tls']['key'], modules: ModuleSet): Promise<TlsIdentity['key']> {
  try {
    if (typeof key === 'string' || 'file' in key) {
      const path = typeof key === 'string' ? key : key.file
      return new TextDecoder().decode(await read(path, 'TLS key'))
    }
    return tlsIdentityKey(await (await modules.get(key)).tlsPrivateKey(key.label))
  } catch (err) {
    throw startFailure('TLS key', err)
  }
}

/** The receiver's private keys: the TLS key as node:tls takes it, the ENC key as a KeyAgreer; `close` closes their modules. */
export interface ReceiverKeys {
  readonly tls: TlsIdentity['key']
  readonly agreer: KeyAgreer
  readonly close: () => Promise<void>
}

/** Runs `open` with a fresh set of modules; the result carries their `close` (on failure they are closed at once). */
async function withModules<T extends object>(open: (modules: ModuleSet) => Promise<T>): Promise<T & { readonly close: () => Promise<void> }> {
  const modules = moduleSet()
  try {
    return { ...await open(modules), close: modules.closeAll }
  } catch (err) {
    await modules.closeAll()
    throw err
  }
}

/** Opens the TLS and the ENC key of `config` (files, the software security module or a PKCS#11 token). */
export function openReceiverKeys(config: Pick<EmtConfig, 'tls' | 'enc'>): Promise<ReceiverKeys> {
  return withModules(async (m) => ({ tls: await tlsKey(config.tls.key, m), agreer: await encAgreer(config.enc.key, m) }))
}

/** Only the TLS key (the CLS server's). */
export function openTlsKey(key: EmtConfig['tls']['key']): Promise<{ readonly key: TlsIdentity['key']; readonly close: () => Promise<void> }> {
  return withModules(async (m) => ({ key: await tlsKey(key, m) }))
}

import { readFile } from 'node:fs/promises'
import { decodePemOrDer, decodePrivateKey, isCryptoError, type SecurityModule } from '@smgw/crypto'
import { tlsIdentityKey, type TlsIdentity, type TlsTrust } from '@smgw/pki'
import type { GatewayConfig } from '../config.js'
import { GatewayError } from '../errors.js'
import { messageOf } from '../store/store.js'

/**
 * The WAN TLS identity and trust of the `wan` section, for the WAN delivery and the CLS channel
 * (TR-03109-1: one WAN identity of the gateway). The key is a PEM file (`wan.tls.key`) or a key
 * in the security module (`wan.tls.keyLabel`: `module`, the gateway's; a token's key stays on the
 * token, OpenSSL signs through its pkcs11 engine). CONFIG_INVALID names what cannot be read.
 */
export async function readWanTlsMaterial(wan: NonNullable<GatewayConfig['wan']>, module?: SecurityModule): Promise<{ identity: TlsIdentity; trust: TlsTrust }> {
  const read = async (file: string, what: string, labels: readonly string[]): Promise<Uint8Array[]> => {
    try {
      return decodePemOrDer(new Uint8Array(await readFile(file)), labels, 'CERT_MALFORMED')
    } catch (err) {
      throw new GatewayError('CONFIG_INVALID', `${what}: cannot read ${file}: ${messageOf(err)}`, { cause: err })
    }
  }
  const certs = async (files: readonly string[], what: string) => (await Promise.all(files.map((f) => read(f, what, ['CERTIFICATE'])))).flat()
  const key = await wanTlsKey(wan.tls, module)
  const [cert, ...sent] = await certs([wan.tls.certificate], 'wan.tls.certificate')
  if (cert === undefined) throw new GatewayError('CONFIG_INVALID', `wan.tls.certificate: no certificate in ${wan.tls.certificate}`)
  return {
    identity: { key, cert, chain: [...sent, ...await certs(wan.tls.chain, 'wan.tls.chain')] },
    trust: {
      roots: await certs(wan.trust.roots, 'wan.trust.roots'),
      intermediates: await certs(wan.trust.intermediates, 'wan.trust.intermediates'),
      crls: (await Promise.all(wan.trust.crls.map((f) => read(f, 'wan.trust.crls', ['X509 CRL'])))).flat(),
      requireCrl: wan.trust.requireCrl,
    },
  }
}

async function wanTlsKey(tls: NonNullable<GatewayConfig['wan']>['tls'], module: SecurityModule | undefined): Promise<TlsIdentity['key']> {
  if ('key' in tls) {
    try {
      return decodePrivateKey(new Uint8Array(await readFile(tls.key)))
    } catch (err) {
      throw new GatewayError('CONFIG_INVALID', `wan.tls.key: cannot read a private key from ${tls.key}: ${messageOf(err)}`, { cause: err })
    }
  }
  if (module === undefined) throw new GatewayError('CONFIG_INVALID', `wan.tls.keyLabel ${tls.keyLabel}: the gateway was started without its security module`)
  try {
    return tlsIdentityKey(await module.tlsPrivateKey(tls.keyLabel))
  } catch (err) {
    if (!isCryptoError(err)) throw err
    throw new GatewayError('CONFIG_INVALID', `wan.tls.keyLabel ${tls.keyLabel}: ${err.code}: ${err.message}`, { cause: err })
  }
}

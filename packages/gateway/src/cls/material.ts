import { readFile } from 'node:fs/promises'
import { decodePemOrDer, decodePrivateKey } from '@smgw/crypto'
import type { TlsIdentity, TlsTrust } from '@smgw/pki'
import type { GatewayConfig } from '../config.js'
import { GatewayError } from '../errors.js'
import { messageOf } from '../store/store.js'

/**
 * The WAN TLS identity and trust of the `wan` section, read once for the CLS channel: the
 * channel to the EMT uses the same identity and SM-PKI trust as the WAN delivery (TR-03109-1:
 * one WAN identity of the gateway). CONFIG_INVALID names the file that cannot be read.
 */
export async function readWanTlsMaterial(wan: NonNullable<GatewayConfig['wan']>): Promise<{ identity: TlsIdentity; trust: TlsTrust }> {
  const read = async (file: string, what: string, labels: readonly string[]): Promise<Uint8Array[]> => {
    try {
      return decodePemOrDer(new Uint8Array(await readFile(file)), labels, 'CERT_MALFORMED')
    } catch (err) {
      throw new GatewayError('CONFIG_INVALID', `${what}: cannot read ${file}: ${messageOf(err)}`, { cause: err })
    }
  }
  const certs = async (files: readonly string[], what: string) => (await Promise.all(files.map((f) => read(f, what, ['CERTIFICATE'])))).flat()
  let key
  try {
    key = decodePrivateKey(new Uint8Array(await readFile(wan.tls.key)))
  } catch (err) {
    throw new GatewayError('CONFIG_INVALID', `wan.tls.key: cannot read a private key from ${wan.tls.key}: ${messageOf(err)}`, { cause: err })
  }
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

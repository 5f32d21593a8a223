import type { CertificateInfo } from '../keys/certificate.js'
import type { KeyAgreer } from '../security-module/types.js'
import { decryptCms } from './decrypt.js'
import { encryptCms, type EncryptCmsOptions } from './encrypt.js'
import { signCms, type SignCmsOptions } from './sign.js'
import { verifyCms, type VerifiedCms, type VerifyCmsOptions } from './verify.js'

/** What the gateway sends to a market participant (TR-03109-1): SignedData inside Enveloped/AuthEnvelopedData. */
export async function signAndEncrypt(content: Uint8Array, options: { readonly sign: SignCmsOptions; readonly encrypt: EncryptCmsOptions }): Promise<Uint8Array> {
  return encryptCms(await signCms(content, options.sign), options.encrypt)
}

/** The receiving side: decrypt with the recipient key, then verify the inner SignedData. */
export async function decryptAndVerify(der: Uint8Array, options: { readonly agreer: KeyAgreer; readonly certificate: Uint8Array | CertificateInfo; readonly verify?: VerifyCmsOptions }): Promise<VerifiedCms> {
  const signed = await decryptCms(der, { agreer: options.agreer, certificate: options.certificate })
  return verifyCms(signed, options.verify)
}

import { decodeCertificate } from '@smgw/pki'

/**
 * The gateway ID a certificate names: the subject's CN (the SM-PKI gateway certificates of
 * `@smgw/pki` carry CN=<gatewayId>, e.g. CN=smgw-0001). The TLS client certificate and the
 * CMS signer's SIG certificate must both name the message's `gatewayId`. undefined when the
 * certificate does not decode or has no single CN.
 */
export function gatewayIdOfCertificate(der: Uint8Array): string | undefined {
  let subject: string
  try {
    subject = decodeCertificate(der).subject
  } catch {
    return undefined
  }
  // RFC 4514 text; gateway IDs are [A-Za-z0-9._:-], which needs no escaping.
  const cns = [...subject.matchAll(/(?:^|[,+])CN=((?:[^,+\\]|\\.)*)/g)].map((m) => m[1] ?? '')
  return cns.length === 1 && /^[A-Za-z0-9._:-]{1,64}$/.test(cns[0] ?? '') ? cns[0] : undefined
}

import { X509Certificate } from 'node:crypto'

/**
 * The gateway ID a certificate names: the subject's CN (the SM-PKI gateway certificates of
 * `@smgw/pki` carry CN=<gatewayId>, e.g. CN=smgw-0001). The TLS client certificate and the
 * CMS signer's SIG certificate must both name the message's `gatewayId`. undefined when the
 * certificate does not decode or has no single CN of the gateway-ID form.
 *
 * Read with node's X509Certificate (OpenSSL, native): the certificates were validated by
 * our path validation already, and decoding them a second time with asn1-schema cost about
 * as much as the ECDSA verification per message (bench wan profile).
 */
export function gatewayIdOfCertificate(der: Uint8Array): string | undefined {
  let certificate: X509Certificate
  try {
    certificate = new X509Certificate(der)
  } catch {
    return undefined
  }
  return gatewayIdOfX509(certificate)
}

/** The same for an already parsed certificate (a TLS socket's `getPeerX509Certificate()`). */
export function gatewayIdOfX509(certificate: X509Certificate | undefined): string | undefined {
  if (certificate === undefined) return undefined
  // One attribute per line (OpenSSL's multi-line form); values with special characters are escaped.
  const cns = certificate.subject.split('\n').filter((l) => l.startsWith('CN=')).map((l) => l.slice(3))
  return cns.length === 1 && /^[A-Za-z0-9._:-]{1,64}$/.test(cns[0] ?? '') ? cns[0] : undefined
}

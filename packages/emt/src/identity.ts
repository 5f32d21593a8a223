import type { X509Certificate } from 'node:crypto'
import { decodeCertificate, isCryptoError } from '@smgw/crypto'

/**
 * The gateway ID a certificate names: the subject's CN (the SM-PKI gateway certificates of
 * `@smgw/pki` carry CN=<gatewayId>, e.g. CN=smgw-0001). The TLS client certificate and the
 * CMS signer's SIG certificate must both name the message's `gatewayId`. undefined when the
 * certificate does not decode or has no single CN of the gateway-ID form.
 *
 * Read with @smgw/crypto's decodeCertificate, whose strict DER reader handles the SM-PKI's
 * certificates without asn1-schema (node's X509Certificate, used before, cost a tenth of the
 * receiver's CPU per message: bench wan profile).
 */
export function gatewayIdOfCertificate(der: Uint8Array): string | undefined {
  let rdns: readonly string[]
  try {
    rdns = decodeCertificate(der).subjectRdns
  } catch (err) {
    if (isCryptoError(err)) return undefined
    throw err
  }
  return gatewayIdOfRdns(rdns)
}

/** The gateway ID of a subject given as its RDNs in RFC 4514 form (`subjectRdns` of a decoded certificate), or undefined. */
export function gatewayIdOfRdns(rdns: readonly string[]): string | undefined {
  const cns = rdns.flatMap(attributesOf).filter((a) => a.startsWith('CN=')).map((a) => a.slice(3))
  // Escaped characters (RFC 4514 §2.4: "\," …) never match: a gateway ID has none of them.
  return cns.length === 1 && /^[A-Za-z0-9._:-]{1,64}$/.test(cns[0] ?? '') ? cns[0] : undefined
}

/** The attributes of one RDN string: split at each unescaped '+' (multi-valued RDN, RFC 4514 §2.2). */
function attributesOf(rdn: string): string[] {
  const out: string[] = []
  let current = ''
  for (let i = 0; i < rdn.length; i++) {
    const c = rdn[i] ?? ''
    if (c === '\\') {
      current += c + (rdn[i + 1] ?? '')
      i++
    } else if (c === '+') {
      out.push(current)
      current = ''
    } else current += c
  }
  out.push(current)
  return out
}

/** The same for a certificate node has parsed (a TLS socket's `getPeerX509Certificate()`). */
export function gatewayIdOfX509(certificate: X509Certificate | undefined): string | undefined {
  if (certificate === undefined) return undefined
  // One attribute per line (OpenSSL's multi-line form); values with special characters are escaped.
  const cns = certificate.subject.split('\n').filter((l) => l.startsWith('CN=')).map((l) => l.slice(3))
  return cns.length === 1 && /^[A-Za-z0-9._:-]{1,64}$/.test(cns[0] ?? '') ? cns[0] : undefined
}

import { X509Certificate } from 'node:crypto'
import { parseName } from '@smgw/pki'

const GATEWAY_ID = /^[A-Za-z0-9._:-]{1,64}$/

/**
 * The gateway ID a certificate names: its subject's single CN (the SM-PKI gateway
 * certificates carry CN=<gatewayId>, the Gütesiegel one too, with OU=Guetesiegel). undefined
 * when there is none or it is not of the gateway-ID form.
 */
export function gatewayIdOfX509(certificate: X509Certificate | undefined): string | undefined {
  if (certificate === undefined) return undefined
  // OpenSSL's multi-line form: one attribute per line, special characters escaped.
  const cns = certificate.subject.split('\n').filter((l) => l.startsWith('CN=')).map((l) => l.slice(3))
  return cns.length === 1 && GATEWAY_ID.test(cns[0] ?? '') ? cns[0] : undefined
}

/** The CN of an RFC 4514 subject (as @smgw/pki decodes names), when it is of the gateway-ID form. */
export function gatewayIdOfSubject(subject: string): string | undefined {
  try {
    const cn = parseName(subject).CN
    return cn !== undefined && GATEWAY_ID.test(cn) ? cn : undefined
  } catch {
    return undefined
  }
}

import { randomBytes } from 'node:crypto'
import type { Signer } from '@smgw/crypto'
import {
  decodeRenewalRequest, defaultValidity, PkiError, signRenewalRequest,
  type CertificateProfile, type DecodedRenewalRequest, type ValidationPurpose,
} from '@smgw/pki'
import { GwaError } from './errors.js'
import { gatewayIdOfSubject } from './identity.js'

export type RequestedKind = 'tls' | 'sig' | 'enc'

export interface GatewayCaConfig {
  /** The gateway sub-CA (TR-03109-4: the SM-PKI sub-CA that issues gateway certificates). */
  readonly ca: { readonly signer: Signer; readonly certificate: Uint8Array }
  readonly trust: { readonly roots: readonly Uint8Array[]; readonly intermediates: readonly Uint8Array[]; readonly crls: readonly Uint8Array[]; readonly requireCrl: boolean }
  readonly validityDays?: number
}

export interface GatewayCaDeps {
  readonly now: () => Date
  readonly serialNumber?: () => Uint8Array
}

export interface GatewayCa {
  /**
   * A certificate of `kind` for `gatewayId` from the gateway's request: a CMS renewal request
   * (TR-03109-4) whose inner CSR is signed by the new key and whose SignedData is signed by the
   * gateway's current key of that kind — or, for its first operational certificates, by its
   * Gütesiegel key. GWA_CSR_REJECTED with the reason otherwise.
   */
  issue(gatewayId: string, kind: RequestedKind, request: Uint8Array): Promise<Uint8Array>
  /** The CA certificate (the chain an `install-certificates` command carries). */
  readonly chain: readonly Uint8Array[]
}

const PROFILE: Readonly<Record<RequestedKind, CertificateProfile>> = { tls: 'tls', sig: 'sig', enc: 'enc' }
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

/** What the old certificate must still be valid for: a TLS or Gütesiegel certificate as a TLS client, else its own kind. */
function purposeOf(old: DecodedRenewalRequest['oldCertificate']): ValidationPurpose {
  if (old.extendedKeyUsage?.includes(CLIENT_AUTH) === true) return 'tls-client'
  if (old.keyUsage?.includes('keyAgreement') === true) return 'enc'
  return 'sig'
}

function positiveSerial(): Uint8Array {
  const b = randomBytes(16)
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01
  return new Uint8Array(b)
}

export function createGatewayCa(config: GatewayCaConfig, deps: GatewayCaDeps): GatewayCa {
  const serialNumber = deps.serialNumber ?? positiveSerial
  const reject = (gatewayId: string, kind: string, message: string, cause?: unknown) =>
    new GwaError('GWA_CSR_REJECTED', `${gatewayId} ${kind}: ${message}`, cause === undefined ? undefined : { cause })
  return {
    chain: [config.ca.certificate],
    issue: async (gatewayId, kind, request) => {
      let decoded: DecodedRenewalRequest
      try {
        decoded = decodeRenewalRequest(request)
      } catch (err) {
        throw reject(gatewayId, kind, `not a renewal request (CMS SignedData around a CSR, TR-03109-4): ${err instanceof Error ? err.message : String(err)}`, err)
      }
      // The GWA decides names: the CSR and the certificate that signed it must both be this gateway's.
      if (gatewayIdOfSubject(decoded.csr.subject) !== gatewayId) throw reject(gatewayId, kind, `the request asks for ${decoded.csr.subject}`)
      if (gatewayIdOfSubject(decoded.oldCertificate.subject) !== gatewayId) throw reject(gatewayId, kind, `signed with the certificate of ${decoded.oldCertificate.subject}`)
      const now = deps.now()
      const validity = config.validityDays === undefined
        ? defaultValidity(PROFILE[kind], now)
        : { notBefore: now, notAfter: new Date(now.getTime() + config.validityDays * 86_400_000) }
      try {
        return await signRenewalRequest(request, {
          roots: config.trust.roots, intermediates: config.trust.intermediates, crls: config.trust.crls, requireCrl: config.trust.requireCrl,
          at: now, purpose: purposeOf(decoded.oldCertificate),
        }, {
          ca: config.ca, profile: PROFILE[kind], subject: decoded.csr.subjectDer, serialNumber: serialNumber(), ...validity,
          // TR-03109-1: the gateway is always the TLS client on the WAN.
          ...(kind === 'tls' ? { tlsRole: 'client' as const } : {}),
        })
      } catch (err) {
        if (err instanceof PkiError) throw reject(gatewayId, kind, err.message, err)
        throw err
      }
    },
  }
}

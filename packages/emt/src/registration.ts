import { createPathValidator, type ValidationPurpose } from '@smgw/pki'
import type { EmtConfig } from './config.js'
import { EmtError } from './errors.js'
import { gatewayIdOfRdns } from './identity.js'
import { readDer, readTrustMaterial, type TrustMaterial } from './material.js'
import type { EmtRepository, RememberedSignature } from './repository/types.js'

/** What registration found a gateway certificate to be. */
export interface GatewayCertificateCheck {
  readonly purpose: Extract<ValidationPurpose, 'tls-client' | 'sig'>
  readonly subject: string
  readonly serialHex: string
  readonly notAfter: Date
}

const PURPOSES = ['tls-client', 'sig'] as const

/**
 * Checks the certificates a gateway administrator hands over with a gateway (each: the
 * gateway's certificate first, then what came with it, e.g. its sub-CA): each must validate
 * at `at` as a TLS client or a SIG certificate (chain to a root, validity, CRLs, profile) and
 * name gateway `id` (CN). Pure: returns the checks and the certificate signatures it verified,
 * or throws EMT_CERTIFICATE_INVALID naming the certificate and why.
 */
export function checkGatewayCertificates(trust: TrustMaterial, requireCrl: boolean, id: string, certificates: readonly (readonly Uint8Array[])[], at: Date): { checks: GatewayCertificateCheck[]; signatures: RememberedSignature[] } {
  const signatures: RememberedSignature[] = []
  const validator = createPathValidator({
    roots: trust.roots, intermediates: trust.intermediates, crls: trust.crls, requireCrl,
    signatureMemo: { has: () => false, add: (key, notAfter) => { signatures.push({ key, notAfter }) } },
  })
  const checks = certificates.map(([leaf, ...sent], i): GatewayCertificateCheck => {
    const which = `certificate ${String(i + 1)}`
    if (leaf === undefined) throw new EmtError('EMT_CERTIFICATE_INVALID', `${which}: no certificate`)
    const results = PURPOSES.map((purpose) => ({ purpose, result: validator.validate({ leaf, intermediates: sent, at, purpose }) }))
    const valid = results.find((r) => r.result.ok)
    const cert = valid?.result.chain[0]
    if (valid === undefined || cert === undefined) {
      const why = results.map((r) => (r.result.ok ? '' : `${r.purpose}: ${r.result.reason} (${r.result.detail})`)).join('; ')
      throw new EmtError('EMT_CERTIFICATE_INVALID', `${which} is neither a TLS client nor a SIG certificate that validates now: ${why}`)
    }
    const named = gatewayIdOfRdns(cert.subjectRdns)
    if (named !== id) throw new EmtError('EMT_CERTIFICATE_INVALID', `${which} (${cert.subject}) names ${named === undefined ? 'no gateway' : `gateway ${named}`}, not ${id}`)
    return { purpose: valid.purpose, subject: cert.subject, serialHex: cert.serialHex, notAfter: cert.notAfter }
  })
  return { checks, signatures }
}

/**
 * Registers a gateway ID, with the certificates of `certificateFiles` (PEM or DER; the first
 * certificate of a file is the gateway's, the rest may complete its path) checked by
 * {@link checkGatewayCertificates} first: nothing is registered unless all pass. Their
 * verified signatures go into the store's remembered signatures, so the gateway's first
 * contact costs no certificate signature check (a running receiver picks them up on SIGHUP,
 * as `reloadCrls`).
 */
export async function registerGateway(repository: EmtRepository, config: EmtConfig, o: { readonly id: string; readonly note: string | null; readonly certificateFiles: readonly string[]; readonly now: Date }): Promise<GatewayCertificateCheck[]> {
  const { checks, signatures } = await checkFiles(config, o.id, o.certificateFiles, o.now)
  // The signatures first: they are facts about certificates, harmless if the registration then
  // fails (EMT_GATEWAY_EXISTS); a gateway is never left registered without them.
  await repository.rememberSignatures(signatures)
  await repository.addGateway(o.id, o.note, o.now)
  return checks
}

/**
 * The same for a registered gateway's new (renewed) certificates: checked, then their
 * signatures remembered; EMT_GATEWAY_UNKNOWN for an ID that is not registered.
 */
export async function rememberGatewayCertificates(repository: EmtRepository, config: EmtConfig, o: { readonly id: string; readonly certificateFiles: readonly string[]; readonly now: Date }): Promise<GatewayCertificateCheck[]> {
  if (!await repository.isKnownGateway(o.id)) throw new EmtError('EMT_GATEWAY_UNKNOWN', `gateway ${o.id} is not registered`)
  const { checks, signatures } = await checkFiles(config, o.id, o.certificateFiles, o.now)
  await repository.rememberSignatures(signatures)
  return checks
}

async function checkFiles(config: EmtConfig, id: string, files: readonly string[], at: Date): Promise<ReturnType<typeof checkGatewayCertificates>> {
  if (files.length === 0) return { checks: [], signatures: [] }
  return checkGatewayCertificates(await readTrustMaterial(config), config.pki.requireCrl, id, await Promise.all(files.map(readGatewayCertificate)), at)
}

async function readGatewayCertificate(file: string): Promise<Uint8Array[]> {
  try {
    return await readDer(file, ['CERTIFICATE'], 'gateway certificate')
  } catch (err) {
    throw new EmtError('EMT_CERTIFICATE_INVALID', err instanceof Error ? err.message : String(err), { cause: err })
  }
}

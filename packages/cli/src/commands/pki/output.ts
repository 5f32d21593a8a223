import { CryptoError } from '@smgw/crypto'
import { PkiError, type DecodedCertificate } from '@smgw/pki'
import type { CliIo } from '../../io.js'
import { EXIT_FAILED } from '../../exit.js'
import { toJson } from '../../json.js'

export function describeCertificate(c: DecodedCertificate): Record<string, unknown> {
  return {
    type: 'certificate', subject: c.subject, issuer: c.issuer, serial: c.serialHex, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(),
    publicKey: c.publicKeyKind.kind === 'ec' ? c.publicKeyKind.curve : c.publicKeyKind.kind, signatureAlgorithm: c.signatureAlgorithm,
    ca: c.basicConstraints?.ca ?? false, pathLength: c.basicConstraints?.pathLength ?? null, keyUsage: c.keyUsage ?? null,
    extendedKeyUsage: c.extendedKeyUsage ?? null, subjectKeyIdentifier: c.subjectKeyIdentifier ?? null, authorityKeyIdentifier: c.authorityKeyIdentifier ?? null,
    crlDistributionPoints: c.crlDistributionPoints, extensions: c.extensions.map((e) => ({ oid: e.oid, critical: e.critical })),
  }
}

export function printObject(io: CliIo, obj: Record<string, unknown>, json: boolean): void {
  if (json) {
    io.stdout(`${toJson(obj)}\n`)
    return
  }
  for (const [k, v] of Object.entries(obj)) {
    const text = v === null || v === undefined ? '-' : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : toJson(x))).join(', ') : typeof v === 'string' ? v : toJson(v)
    io.stdout(`${k.padEnd(24)} ${text}\n`)
  }
}

/** PkiError or CryptoError → "smgw pki: CODE: message" and exit 1; everything else propagates. */
export async function guarded(io: CliIo, action: () => Promise<number>): Promise<number> {
  try {
    return await action()
  } catch (err) {
    if (err instanceof PkiError || err instanceof CryptoError) {
      io.stderr(`smgw pki: ${err.code}: ${err.message}\n`)
      return EXIT_FAILED
    }
    throw err
  }
}

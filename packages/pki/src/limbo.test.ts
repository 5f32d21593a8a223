import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { decodePemBlocks } from '@smgw/crypto'
import { PkiError } from './errors.js'
import { validatePath, type ValidationPurpose, type ValidationReason } from './validate.js'

/**
 * C2SP x509-limbo (../shared/vectors/x509-limbo/limbo.json) run through validatePath.
 * Cases are either counted (they test something the SM-PKI profile also decides) or
 * skipped with a stated reason; the README lists every counted case we decide differently.
 */
const limboFile = fileURLToPath(new URL('../../../../shared/vectors/x509-limbo/limbo.json', import.meta.url))

interface LimboCase {
  readonly id: string
  readonly features: readonly string[]
  readonly validation_kind: 'SERVER' | 'CLIENT'
  readonly trusted_certs: readonly string[]
  readonly untrusted_intermediates: readonly string[]
  readonly peer_certificate: string
  readonly validation_time: string | null
  readonly extended_key_usage: readonly string[]
  readonly expected_result: 'SUCCESS' | 'FAILURE'
  readonly max_chain_depth: number | null
  readonly crls: readonly string[]
}

/** Why a case does not apply to the SM-PKI; undefined = counted. */
export function skipReason(c: LimboCase, certs: readonly Uint8Array[]): string | undefined {
  if (/::(nc|san|cn)::/.test(c.id) || c.features.includes('name-constraint-dn') || c.id.startsWith('pathological::nc-dos') || c.id.startsWith('cve::cve-2025-61727')) {
    return 'names: DNS/IP/e-mail name matching and name constraints (the SM-PKI identifies peers by certificate, not by host name)'
  }
  if (certs.some((d) => containsOid(d, RSA_OR_DSA))) return 'not SM-PKI: RSA or DSA keys/signatures (rejected by the allow-list as ALGORITHM_NOT_ALLOWED)'
  if (c.id.startsWith('webpki::aki::') || ['webpki::eku::ee-critical-eku', 'webpki::eku::root-has-eku', 'webpki::malformed-aia'].includes(c.id)) {
    return 'web-PKI (CA/B Forum) policy on root/AIA/EKU encoding that RFC 5280 and the SM-PKI do not impose'
  }
  if (c.features.includes('has-policy-constraints') && c.id !== 'rfc5280::pc::ica-noncritical-pc') return 'certificate policies are not processed'
  return undefined
}

// DER of the OIDs rsaEncryption 1.2.840.113549.1.1.1, sha256WithRSA ...1.1.11, ...1.1.13, dsa 1.2.840.10040.4.1, ecdsa-with-SHA256 under DSA 2.16.840.1.101.3.4.3.2
const RSA_OR_DSA = [
  Buffer.from('06092a864886f70d01010', 'hex'), // pkcs-1 arc: every RSA key and RSA signature OID
  Buffer.from('06072a8648ce380401', 'hex'), // id-dsa
  Buffer.from('0609608648016503040302', 'hex'), // dsa-with-sha256
]
function containsOid(der: Uint8Array, needles: readonly Buffer[]): boolean {
  const hay = Buffer.from(der)
  return needles.some((n) => hay.includes(n))
}

/**
 * Deliberate differences: counted cases where the SM-PKI profile decides against limbo's
 * expectation. Each is explained in the README ("Deliberate differences").
 */
export const DELIBERATE: Readonly<Record<string, ValidationReason | 'ok'>> = {
  'rfc5280::no-keyusage': 'KEY_USAGE', // SM-PKI end-entity certificates always carry keyUsage
  'rfc5280::eku::ee-without-eku': 'EKU', // TLS purposes need the TLS EKU
  'rfc5280::ca-as-leaf': 'LEAF_IS_CA', // a CA certificate is not a TLS certificate
  'pathlen::validation-ignores-pathlen-in-leaf': 'LEAF_IS_CA', // the same: its leaf is a CA certificate
  'rfc5280::aki::cross-signed-root-missing-aki': 'ok', // trust anchors are exempt from the AKI rule (conflicts with cve-2024-0567)
}

function purposeOf(c: LimboCase): ValidationPurpose {
  if (c.extended_key_usage.includes('clientAuth')) return 'tls-client'
  if (c.extended_key_usage.includes('serverAuth')) return 'tls-server'
  return c.validation_kind === 'CLIENT' ? 'tls-client' : 'tls-server'
}

const ders = (pems: readonly string[]) => pems.flatMap((p) => decodePemBlocks(new TextEncoder().encode(p)).map((b) => b.der))

/** Minimum counted passes; the suite fails if a change makes it regress. */
const MIN_PASSED = 81

describe.skipIf(!existsSync(limboFile))('x509-limbo', () => {
  const limbo = existsSync(limboFile) ? (JSON.parse(readFileSync(limboFile, 'utf8')) as { testcases: LimboCase[] }).testcases : []

  it('decides the applicable cases as expected (counts by category)', () => {
    const byCategory = new Map<string, { counted: number; passed: number; deliberate: number; skipped: number }>()
    const skipped = new Map<string, number>()
    const unexpected: string[] = []
    const deliberateSeen: string[] = []
    for (const c of limbo) {
      const category = c.id.split('::')[0] ?? '?'
      const row = byCategory.get(category) ?? { counted: 0, passed: 0, deliberate: 0, skipped: 0 }
      byCategory.set(category, row)
      const leaf = ders([c.peer_certificate])[0] ?? new Uint8Array()
      const intermediates = ders(c.untrusted_intermediates)
      const roots = ders(c.trusted_certs)
      const crls = ders(c.crls)
      const result = validatePath({
        leaf, intermediates, roots, crls,
        at: c.validation_time === null ? new Date('2025-01-01T00:00:00Z') : new Date(c.validation_time),
        purpose: purposeOf(c),
        ...(c.max_chain_depth === null ? {} : { maxIntermediates: c.max_chain_depth }),
      })
      const why = skipReason(c, [leaf, ...intermediates, ...roots])
      if (why !== undefined) {
        row.skipped++
        skipped.set(why, (skipped.get(why) ?? 0) + 1)
        // Skipped or not, an RSA/DSA chain must never validate here.
        if (why.startsWith('not SM-PKI')) expect(result.ok, c.id).toBe(false)
        continue
      }
      row.counted++
      const got = result.ok ? 'SUCCESS' : 'FAILURE'
      const deliberate = DELIBERATE[c.id]
      if (deliberate !== undefined) {
        expect(result.ok ? 'ok' : result.reason, c.id).toBe(deliberate)
        row.deliberate++
        deliberateSeen.push(c.id)
      } else if (got === c.expected_result) row.passed++
      else unexpected.push(`${c.id}: expected ${c.expected_result}, got ${result.ok ? 'SUCCESS' : `${result.reason} (${result.detail})`}`)
    }
    const lines = [...byCategory].map(([k, r]) => `${k.padEnd(14)} counted ${String(r.counted).padStart(3)}  passed ${String(r.passed).padStart(3)}  deliberate ${String(r.deliberate)}  skipped ${String(r.skipped).padStart(3)}`)
    const total = [...byCategory.values()].reduce((a, r) => ({ counted: a.counted + r.counted, passed: a.passed + r.passed, deliberate: a.deliberate + r.deliberate, skipped: a.skipped + r.skipped }), { counted: 0, passed: 0, deliberate: 0, skipped: 0 })
    console.log(['x509-limbo results', ...lines, `${'total'.padEnd(14)} counted ${String(total.counted)}  passed ${String(total.passed)}  deliberate ${String(total.deliberate)}  skipped ${String(total.skipped)}`,
      'skipped because:', ...[...skipped].map(([w, n]) => `  ${String(n).padStart(3)}  ${w}`),
      ...(unexpected.length > 0 ? ['unexpected:', ...unexpected.map((u) => `  ${u}`)] : [])].join('\n'))
    expect(deliberateSeen.sort()).toEqual(Object.keys(DELIBERATE).sort())
    expect(unexpected).toEqual([])
    expect(total.passed).toBeGreaterThanOrEqual(MIN_PASSED)
  })

  it('never throws on any case, for the purposes not used above (sig, ca)', () => {
    for (const c of limbo) {
      for (const purpose of ['sig', 'ca'] as const) {
        try {
          validatePath({ leaf: ders([c.peer_certificate])[0] ?? new Uint8Array(), intermediates: ders(c.untrusted_intermediates), roots: ders(c.trusted_certs), crls: ders(c.crls), at: new Date('2024-06-01T00:00:00Z'), purpose })
        } catch (err) {
          expect.fail(`${c.id} ${purpose} threw ${err instanceof PkiError ? err.code : String(err)}`)
        }
      }
    }
  })
})

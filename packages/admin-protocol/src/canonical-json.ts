/**
 * Canonical JSON, RFC 8785 (JSON Canonicalization Scheme, June 2020): object members
 * sorted by their UTF-16 code units (§3.2.3), no whitespace, strings and numbers as
 * ECMAScript JSON.stringify writes them (§3.2.2). Used for log entry fields, the chain
 * hash input and configuration versions, so that a verifier in any language that
 * implements RFC 8785 reproduces the same bytes.
 *
 * Throws a plain TypeError for values JSON cannot hold (undefined, functions, bigint,
 * non-finite numbers); callers wrap it in their GatewayError.
 */
export function formatCanonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON: non-finite number')
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) return `[${value.map((v: unknown) => formatCanonicalJson(v)).join(',')}]`
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>
    // RFC 8785 §3.2.3: sort by UTF-16 code units, which is what the default sort compares.
    const keys = Object.keys(record).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${formatCanonicalJson(record[k])}`).join(',')}}`
  }
  throw new TypeError(`canonical JSON: cannot encode a ${typeof value}`)
}

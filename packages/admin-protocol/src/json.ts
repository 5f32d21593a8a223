import type { z } from 'zod'
import { formatCanonicalJson } from './canonical-json.js'
import { AdminProtocolError } from './errors.js'

/**
 * Bytes → a typed value of `schema`: strict UTF-8 (RFC 8259 §8.1), JSON, then the `format`
 * member first (UNSUPPORTED_FORMAT for another format or version, so a newer sender gets a
 * clear answer), then the schema (MALFORMED). With `canonical`, the bytes must be exactly
 * the canonical JSON of what they parse to: a signed object has one spelling, so duplicate
 * keys or other variants cannot make two readers see different values.
 */
export function decodeJsonAs<S extends z.ZodType>(bytes: Uint8Array, schema: S, format: string, canonical: boolean): z.infer<S> {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch (err) {
    throw new AdminProtocolError('MALFORMED', `${format}: not UTF-8`, { cause: err })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new AdminProtocolError('MALFORMED', `${format}: not JSON`, { cause: err })
  }
  return checkValue(value, schema, format, canonical ? text : undefined)
}

/** A parsed JSON value → a typed value of `schema` (format first, as decodeJsonAs). */
export function checkValue<S extends z.ZodType>(value: unknown, schema: S, format: string, canonicalText?: string): z.infer<S> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AdminProtocolError('MALFORMED', `${format}: not a JSON object`)
  if (hasProtoKey(value, 0)) throw new AdminProtocolError('MALFORMED', `${format}: a member named __proto__, or nesting deeper than 256`)
  const given = (value as Record<string, unknown>)['format']
  if (given !== format) {
    throw new AdminProtocolError('UNSUPPORTED_FORMAT', `expected format ${format}, got ${typeof given === 'string' ? JSON.stringify(given.slice(0, 64)) : typeof given}`)
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.map(String).join('.')}`
    throw new AdminProtocolError('MALFORMED', `${format}${where}: ${issue?.message ?? 'invalid'}`, { cause: parsed.error })
  }
    if (canonicalText !== undefined && canonicalOrUndefined(value) !== canonicalText) throw new AdminProtocolError('MALFORMED', `${format}: not canonical JSON`)
  return parsed.data
}

/**
 * JSON.parse keeps a `__proto__` member as an own property, but object schemas rebuild
 * objects by assignment and lose it: the reader would see less than was signed. Refused.
 * Depth is bounded by what JSON.parse accepted; `depth` guards the recursion all the same.
 */
function hasProtoKey(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null || depth > 256) return depth > 256
  if (Array.isArray(value)) return value.some((v) => hasProtoKey(v, depth + 1))
  return Object.keys(value).some((k) => k === '__proto__' || hasProtoKey((value as Record<string, unknown>)[k], depth + 1))
}

function canonicalOrUndefined(value: unknown): string | undefined {
  try {
    return formatCanonicalJson(value)
  } catch {
    // A number JSON.parse turned into Infinity (1e400) has no canonical form.
    return undefined
  }
}

export function encodeUtf8(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

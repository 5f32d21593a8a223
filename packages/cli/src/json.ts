/**
 * JSON for command output: bigint becomes a number when it is exactly representable
 * and a decimal string otherwise; Uint8Array becomes lower-case hex.
 */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex')
    return v
  }, indent)
}

/**
 * The status word every value carries (issue: "every value with its status word").
 * The real system carries PTB/FNN status information in COSEM-XML and the market
 * messages map it to MSCONS qualifiers; this project defines its own bits, documented
 * here and in the README, and the EMT's MSCONS export maps them. 0 = a valid, measured value.
 */
export const VALUE_STATUS = {
  /** Legal time was not assured for this value: the gateway was unsynchronised or in the
   *  restricted state (drift beyond 3 % of the registration period, TR-03109-1). */
  timeInvalid: 0x0001,
  /** The meter reported an error (fatal-error bit of its status word, or an M-Bus error state). */
  meterError: 0x0002,
  /** No value: the meter sent nothing usable for this instant. `value` is null. Gaps are never filled. */
  gap: 0x0004,
  /** A substitute value (not measured); never produced by the gateway itself. */
  substitute: 0x0008,
  /** Manipulation detected (meter signature wrong, magnetic field, terminal cover). */
  manipulation: 0x0010,
} as const

export type ValueStatusFlag = keyof typeof VALUE_STATUS

const ALL_BITS = Object.values(VALUE_STATUS).reduce((a, b) => a | b, 0)

/** The flags set in a status word, in table order; unknown bits are reported as `unknown`. */
export function describeStatus(status: number): { readonly flags: readonly ValueStatusFlag[]; readonly unknownBits: number } {
  const flags = (Object.keys(VALUE_STATUS) as ValueStatusFlag[]).filter((f) => (status & VALUE_STATUS[f]) !== 0)
  return { flags, unknownBits: status & ~ALL_BITS }
}

/** Builds a status word from flags. */
export function statusOf(...flags: readonly ValueStatusFlag[]): number {
  return flags.reduce((s, f) => s | VALUE_STATUS[f], 0)
}

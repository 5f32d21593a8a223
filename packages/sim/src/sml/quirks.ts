/**
 * Quirks of real SML meters the simulator can reproduce, by name. Each names what the
 * meter does wrong and which decoder option (in @smgw/sml) undoes it.
 */
export type SmlSimQuirk = 'unsigned-negative-power' | 'signed-positive-power' | 'noise' | 'truncated' | 'u16-body-tag'

export interface SmlSimQuirkInfo {
  readonly name: SmlSimQuirk
  readonly description: string
}

export const SML_SIM_QUIRKS: readonly SmlSimQuirkInfo[] = [
  {
    name: 'unsigned-negative-power',
    description: 'negative 16.7.0 power sent as the two\'s complement in an Unsigned of the shortest width (8/16/32 bit); @smgw/sml quirk unsignedNegativePower',
  },
  {
    name: 'signed-positive-power',
    description: 'positive 16.7.0 power sent as a 1–2 byte Integer with the top bit set (DZG DVS74, volkszaehler/libsml#105); @smgw/sml quirk signedPositivePower',
  },
  { name: 'noise', description: '1–16 bytes of line noise (never 1Bh) before each file' },
  { name: 'truncated', description: 'now and then (seeded) a file is cut off after a random number of bytes (before its end sequence, not inside an escape sequence)' },
  {
    name: 'u16-body-tag',
    description: 'the messageBody tag sent as Unsigned16 (63 01 01) instead of Unsigned32, as EMH, ISKRA, EasyMeter and DZG meters do',
  },
]

export function isSmlSimQuirk(name: string): name is SmlSimQuirk {
  return SML_SIM_QUIRKS.some((q) => q.name === name)
}

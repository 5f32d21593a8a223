/**
 * Seeded randomness. The simulators never call Math.random: every run with the same seed
 * and the same instants produces the same bytes.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number
  /** Integer in [min, max] (inclusive). */
  int(min: number, max: number): number
  /** `n` random bytes. */
  bytes(n: number): Uint8Array
}

/** sfc32 (Chris Doty-Humphrey's Small Fast Counter), seeded through splitmix32. */
export function createRandom(seed: number): Random {
  let s = seed >>> 0
  const split = (): number => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
  let a = split()
  let b = split()
  let c = split()
  let d = 1
  const u32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0
    d = (d + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = ((c << 21) | (c >>> 11)) >>> 0
    c = (c + t) >>> 0
    return t
  }
  for (let i = 0; i < 12; i++) u32()
  const next = (): number => u32() / 0x1_0000_0000
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    bytes: (n) => {
      const out = new Uint8Array(n)
      for (let i = 0; i < n; i++) out[i] = u32() & 0xff
      return out
    },
  }
}

/**
 * A stateless hash of (seed, index) to [0, 1): noise that depends only on the instant,
 * not on how often or in which order it is asked for (used for PV cloud cover).
 */
export function hashUnit(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index | 0, 0x27d4eb2d)) >>> 0
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) >>> 0
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x165667b1) >>> 0
  return ((h ^ (h >>> 15)) >>> 0) / 0x1_0000_0000
}

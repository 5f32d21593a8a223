/**
 * A small, seeded byte mutator for fuzzing decoders (the coverage-guided fuzzer
 * @jazzer.js does not install here). Deterministic for a seed, so a crash found
 * once can be replayed.
 */
export interface Mutator {
  next(): Uint8Array
}

/** xorshift32: a tiny seeded PRNG; quality is ample for choosing mutations. */
function createRandom(seed: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9
  return () => {
    state ^= state << 13
    state >>>= 0
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    return state
  }
}

const INTERESTING = [0x00, 0x01, 0x0f, 0x10, 0x1b, 0x1a, 0x2f, 0x68, 0x7f, 0x80, 0xff, 0xfe, 0x72, 0x7a, 0x8c, 0x90, 0x16, 0x76, 0x77]

export function createMutator(corpus: readonly Uint8Array[], seed: number): Mutator {
  if (corpus.length === 0) throw new Error('fuzz corpus is empty')
  const rand = createRandom(seed)
  const below = (n: number): number => (n <= 0 ? 0 : rand() % n)
  return {
    next() {
      let bytes: Uint8Array = Uint8Array.from(corpus[below(corpus.length)]!)
      const rounds = 1 + below(4)
      for (let r = 0; r < rounds; r++) {
        const at = below(bytes.length)
        switch (below(7)) {
          case 0: // flip one bit
            if (bytes.length > 0) bytes[at] = bytes[at]! ^ (1 << below(8))
            break
          case 1: // random byte
            if (bytes.length > 0) bytes[at] = below(256)
            break
          case 2: // interesting byte
            if (bytes.length > 0) bytes[at] = INTERESTING[below(INTERESTING.length)]!
            break
          case 3: // truncate
            bytes = bytes.subarray(0, at)
            break
          case 4: { // insert random bytes
            const extra = new Uint8Array(1 + below(8)).map(() => below(256))
            bytes = concat(bytes.subarray(0, at), extra, bytes.subarray(at))
            break
          }
          case 5: { // delete a run
            const end = Math.min(bytes.length, at + 1 + below(8))
            bytes = concat(bytes.subarray(0, at), bytes.subarray(end))
            break
          }
          default: { // duplicate a run (length fields now lie)
            const end = Math.min(bytes.length, at + 1 + below(16))
            bytes = concat(bytes.subarray(0, end), bytes.subarray(at, end), bytes.subarray(end))
          }
        }
      }
      return bytes
    },
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

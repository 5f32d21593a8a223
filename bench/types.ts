/** What every benchmark returns: measured figures and ratios against a same-run baseline. */
export interface BenchResult {
  readonly figures: Readonly<Record<string, number>>
  readonly ratios: Readonly<Record<string, number>>
}

export interface Benchmark {
  readonly name: string
  readonly description: string
  /** `npm run bench` without a name runs only the benchmarks with this set. */
  readonly inDefaultRun: boolean
  /** `log` prints human progress lines; the runner prints the result. */
  readonly run: (log: (line: string) => void, args: readonly string[]) => Promise<BenchResult>
}

/**
 * Runs `fn` repeatedly for about `seconds` and returns operations per second.
 * `fn` returns the number of operations it performed.
 */
export async function measureRate(seconds: number, fn: () => number | Promise<number>): Promise<number> {
  // Warm-up so the JIT has seen the code before it is timed.
  const warmEnd = performance.now() + Math.min(300, seconds * 200)
  while (performance.now() < warmEnd) await fn()
  let ops = 0
  const start = performance.now()
  const end = start + seconds * 1000
  while (performance.now() < end) ops += await fn()
  return ops / ((performance.now() - start) / 1000)
}

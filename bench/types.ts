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
  const warmEnd = performance.now() + Math.min(200, seconds * 200)
  while (performance.now() < warmEnd) await fn()
  let ops = 0
  const start = performance.now()
  const end = start + seconds * 1000
  while (performance.now() < end) ops += await fn()
  return ops / ((performance.now() - start) / 1000)
}

export interface Comparison {
  /** Operations per second of the measured code (median over rounds). */
  readonly rate: number
  /** Operations per second of the baseline (median over rounds). */
  readonly baseline: number
  /** Median of the per-round ratios rate / baseline. */
  readonly ratio: number
}

/**
 * Measures `fn` against `baseline` in alternating rounds, so that load from other
 * processes hits both alike, and reports medians. Each function returns its op count.
 */
export async function compareRates(
  seconds: number,
  fn: () => number | Promise<number>,
  baseline: () => number | Promise<number>,
  rounds = 5,
): Promise<Comparison> {
  const per = seconds / rounds
  const rates: number[] = []
  const bases: number[] = []
  const ratios: number[] = []
  for (let r = 0; r < rounds; r++) {
    const a = await measureRate(per, fn)
    const b = await measureRate(per, baseline)
    rates.push(a)
    bases.push(b)
    ratios.push(a / b)
  }
  return { rate: median(rates), baseline: median(bases), ratio: median(ratios) }
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

// `npm run bench [-- NAME…] [--json]`: runs the named benchmarks (all default ones
// without a name). Each prints its figures and ratios; with --json the last line of
// each benchmark's output is {"bench": NAME, "figures": {...}, "ratios": {...}}.
import type { Benchmark } from './types.js'

const benchmarks: Record<string, () => Promise<Benchmark>> = {
  decode: async () => (await import('./decode.js')).benchmark,
  crypto: async () => (await import('./crypto.js')).benchmark,
  fuzz: async () => (await import('./fuzz.js')).benchmark,
  ingest: async () => (await import('./ingest.js')).benchmark,
  crash: async () => (await import('./crash.js')).benchmark,
  wan: async () => (await import('./wan.js')).benchmark,
  han: async () => (await import('./han.js')).benchmark,
  gwa: async () => (await import('./gwa.js')).benchmark,
}

/** Options of the benchmarks that take no value. */
const FLAGS: ReadonlySet<string> = new Set(['--json', '--cpu-prof', '--no-pin', '--idle-generator'])

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json')
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log('usage: npm run bench -- [NAME…] [--json] [benchmark options]')
    for (const [name, load] of Object.entries(benchmarks)) {
      const b = await load()
      console.log(`  ${name.padEnd(8)} ${b.description}${b.inDefaultRun ? '' : ' (not in the default run)'}`)
    }
    return 0
  }
  const names = argv.filter((a) => !a.startsWith('-') && a in benchmarks)
  const rest = argv.filter((a) => a !== '--json' && !names.includes(a))
  // A word after an option that takes a value is that value (`--ecdh-curves prime256v1:…`), not a benchmark name.
  const isValue = (i: number) => { const before = rest[i - 1]; return before !== undefined && before.startsWith('--') && !FLAGS.has(before) }
  const unknown = rest.filter((a, i) => !a.startsWith('-') && !/^\d/.test(a) && !isValue(i))
  if (unknown.length > 0) {
    console.error(`unknown benchmark: ${unknown.join(', ')}; known: ${Object.keys(benchmarks).join(', ')}`)
    return 2
  }
  const selected: Benchmark[] = []
  for (const [name, load] of Object.entries(benchmarks)) {
    const b = await load()
    if (names.length > 0 ? names.includes(name) : b.inDefaultRun) selected.push(b)
  }
  for (const b of selected) {
    console.log(`# ${b.name}: ${b.description}`)
    const result = await b.run((line) => { console.log(line) }, rest)
    for (const [k, v] of Object.entries(result.figures)) console.log(`${k}: ${format(v)}`)
    for (const [k, v] of Object.entries(result.ratios)) console.log(`${k}: ${format(v)}`)
    if (json) console.log(JSON.stringify({ bench: b.name, figures: result.figures, ratios: result.ratios }))
  }
  return 0
}

function format(v: number): string {
  if (Number.isInteger(v) || Math.abs(v) >= 100) return v.toFixed(0)
  return v.toPrecision(3)
}

process.exitCode = await main(process.argv.slice(2))

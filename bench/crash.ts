// bench crash (not in the default run): the gateway process under kill -9 for N rounds
// (default 100): `npm run bench -- crash 200 [--seed N]`. The same harness as
// test/e2e/gateway-crash.test.ts; every figure but the first two must be 0.
import { runCrashRounds } from '../test/e2e/harness/crash.js'
import type { Benchmark } from './types.js'

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}

export const benchmark: Benchmark = {
  name: 'crash',
  description: 'the gateway process SIGKILLed N times during ingest (default 100): acknowledged readings lost and chain failures (must be 0)',
  inDefaultRun: false,
  async run(log, args) {
    // The round count is the bare number that is not the value of --seed.
    const rounds = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--seed') ?? 100)
    const seed = Number(option(args, '--seed') ?? 1)
    const started = performance.now()
    const result = await runCrashRounds({
      rounds,
      seed,
      onRound: (r) => {
        const bad = r.lost + r.mismatched + r.chainFailures.length + (r.integrity.join() === 'ok' ? 0 : 1)
        if (bad > 0 || (r.round + 1) % 10 === 0) {
          log(`round ${r.round + 1}/${rounds}: ${r.acknowledged} acknowledged, ${r.stored} stored, lost ${r.lost}, mismatched ${r.mismatched}, integrity ${r.integrity.join(' ')}, chains ${r.chains}${r.chainFailures.length > 0 ? ` failing: ${r.chainFailures.join('; ')}` : ''}`)
        }
      },
    })
    if (result.logVerify.status !== 0) log(`smgw log verify exited ${String(result.logVerify.status)}: ${result.logVerify.stderr.trim()}`)
    const seconds = (performance.now() - started) / 1000
    return {
      figures: {
        crash_rounds: result.rounds.length,
        crash_acknowledged: result.acknowledged,
        crash_lost: result.lost,
        crash_mismatched: result.mismatched,
        crash_integrity_failures: result.rounds.filter((r) => r.integrity.join() !== 'ok').length,
        crash_chain_failures: result.chainFailures + (result.logVerify.status === 0 ? 0 : 1),
        crash_chains_verified: result.chainsVerified,
        crash_seconds_per_round: seconds / Math.max(1, result.rounds.length),
      },
      ratios: {},
    }
  },
}

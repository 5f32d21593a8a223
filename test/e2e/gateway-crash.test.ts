// The gateway as a real process under kill -9: two SML meters flood `smgw gateway` over
// TCP, the process is SIGKILLed at seeded random moments during ingest (20 times, restarted
// on the same store each time), and after every kill the store must hold every
// acknowledged reading with exactly the values the simulators sent, pass integrity_check
// and verify its log chains. bench/crash.ts runs the same harness for more rounds.
import { describe, expect, it } from 'vitest'
import { runCrashRounds } from './harness/crash.js'

const ROUNDS = 20

describe('the gateway process under kill -9', () => {
  it(`loses no acknowledged reading and keeps the store and its chains intact over ${ROUNDS} kills`, async () => {
    const result = await runCrashRounds({
      rounds: ROUNDS,
      seed: 0x5eed,
      onRound: (r) => {
        const at = `round ${r.round} (killed ${r.killAt.delayMs} ms after ${r.killAt.acks === 0 ? 'the spawn' : `ack ${r.killAt.acks}`})`
        expect(r.integrity, at).toEqual(['ok'])
        expect(r.lost, `${at}: acknowledged readings missing`).toBe(0)
        expect(r.mismatched, `${at}: stored readings the simulators did not send`).toBe(0)
        expect(r.chainFailures, at).toEqual([])
        // The system log at least (gateway-started once the process got that far).
        expect(r.chains, at).toBeGreaterThanOrEqual(1)
      },
    })
    expect(result.rounds).toHaveLength(ROUNDS)
    // Most rounds are killed after acknowledgements; some around start-up, by time since the spawn.
    expect(result.rounds.filter((r) => r.acknowledged > 0).length).toBeGreaterThanOrEqual(ROUNDS / 2)
    expect(result.rounds.filter((r) => r.killAt.acks === 0).length).toBeGreaterThan(0)
    expect(result.acknowledged).toBeGreaterThan(1000)
    // Nothing acknowledged in any round is missing at the end either.
    expect(result.lost).toBe(0)
    expect(result.chainFailures).toBe(0)
    expect(result.chainsVerified).toBeGreaterThanOrEqual(2 * ROUNDS - 2)
    // The command-line verifier agrees on the final store.
    expect([result.logVerify.status, result.logVerify.stderr]).toEqual([0, ''])
    expect(result.logVerify.stdout).toMatch(/^system log: ok, \d+ entries/m)
    expect(result.logVerify.stdout).toMatch(/^consumer log of consumer c-1: ok, \d+ entries/m)
    console.info(`gateway crash: ${result.rounds.length} kills, ${result.acknowledged} readings acknowledged, ${result.lost} lost, ${result.chainsVerified} chain verifications passed, ${result.filesSent} SML files sent`)
  }, 300_000)
})

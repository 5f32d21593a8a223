// bench fuzz (not in the default run): feeds N mutated inputs (default 1,000,000) to
// every decoder and counts crashes — any exception other than the package's own error
// class — and reports the slowest single input. Seeded, so a crash can be replayed:
//   npm run bench -- fuzz --iterations 100000 --seed 7 --target sml-file
import { readdirSync, readFileSync } from 'node:fs'
import { MbusError, decodeDataRecords, decodeWiredTelegram, decodeWirelessTelegram, encodeWirelessTelegram } from '@smgw/mbus'
import type { DataRecordInput } from '@smgw/mbus'
import { SmlError, createSmlFramer, decodeSmlFile, extractReadings } from '@smgw/sml'
import { createMutator } from './mutate.js'
import type { Benchmark } from './types.js'

interface Target {
  readonly name: string
  readonly corpus: readonly Uint8Array[]
  readonly isExpected: (err: unknown) => boolean
  readonly run: (input: Uint8Array) => void
}

function fixtures(pkg: string, match: RegExp): Uint8Array[] {
  const dir = new URL(`../packages/${pkg}/fixtures/`, import.meta.url)
  return readdirSync(dir)
    .filter((f) => match.test(f))
    .map((f) => readFileSync(new URL(f, dir), 'utf8'))
    .map((text) => new Uint8Array(Buffer.from(text.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex')))
}

const KEY = Uint8Array.from({ length: 16 }, (_, i) => 0x40 + i)
const RECORDS: DataRecordInput[] = [
  { vif: Uint8Array.of(0x13), coding: 'int32', raw: 123456 },
  { vif: Uint8Array.of(0x3b), coding: 'bcd6', raw: 345 },
  { vif: Uint8Array.of(0xfd, 0x17), coding: 'int16', raw: 0 },
  { vif: Uint8Array.of(0x6d), coding: 'int32', raw: 0x2b1e0c22 },
]

function wirelessCorpus(): Uint8Array[] {
  const address = { manufacturer: 'KAM', id: '12345678', version: 0x1b, deviceType: 0x16 }
  return [
    encodeWirelessTelegram({ address, tpl: { kind: 'short', accessNumber: 1, status: 0 }, security: { mode: 5 }, key: KEY, records: RECORDS }),
    encodeWirelessTelegram({ address, crc: 'A', tpl: { kind: 'short', accessNumber: 2, status: 0 }, security: { mode: 5 }, key: KEY, records: RECORDS }),
    encodeWirelessTelegram({ address, crc: 'B', tpl: { kind: 'long', address, accessNumber: 3, status: 0 }, records: RECORDS }),
    encodeWirelessTelegram({
      address, crc: 'A', ell: { accessNumber: 4, communicationControl: 0x20 },
      tpl: { kind: 'short', accessNumber: 4, status: 0 }, security: { mode: 7, messageCounter: 99 }, key: KEY, records: RECORDS,
    }),
  ]
}

const isSml = (err: unknown): boolean => err instanceof SmlError
const isMbus = (err: unknown): boolean => err instanceof MbusError

function targets(): Target[] {
  const sml = fixtures('sml', /\.hex$/)
  const wireless = wirelessCorpus()
  return [
    { name: 'sml-file', corpus: sml, isExpected: isSml, run: (b) => { extractReadings(decodeSmlFile(b)) } },
    {
      name: 'sml-framer', corpus: sml, isExpected: isSml,
      run: (b) => {
        const framer = createSmlFramer({ maxFrameBytes: 4096 })
        const half = b.length >> 1
        for (const ev of [...framer.push(b.subarray(0, half)), ...framer.push(b.subarray(half)), ...framer.end()]) {
          if (ev.kind === 'frame') {
            try { decodeSmlFile(ev.bytes) } catch (err) { if (!isSml(err)) throw err }
          }
        }
      },
    },
    { name: 'wmbus', corpus: [...wireless, ...fixtures('mbus', /mode\d\.hex$/)], isExpected: isMbus, run: (b) => { decodeWirelessTelegram(b, { key: KEY }) } },
    { name: 'mbus-wired', corpus: fixtures('mbus', /wired\.hex$/), isExpected: isMbus, run: (b) => { decodeWiredTelegram(b) } },
    { name: 'mbus-records', corpus: [Uint8Array.of(0x04, 0x13, 0x40, 0xe2, 0x01, 0x00, 0x0b, 0x3b, 0x45, 0x03, 0x00, 0x02, 0xfd, 0x17, 0x00, 0x00)], isExpected: isMbus, run: (b) => { decodeDataRecords(b) } },
  ]
}

function replayMs(target: Target, input: Uint8Array): number {
  const times: number[] = []
  for (let i = 0; i < 21; i++) {
    const t0 = performance.now()
    try { target.run(input) } catch { /* already counted */ }
    times.push(performance.now() - t0)
  }
  return times.sort((a, b) => a - b)[10]!
}

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}

export const benchmark: Benchmark = {
  name: 'fuzz',
  description: 'mutated inputs to every decoder: crashes (must be 0) and the slowest input',
  inDefaultRun: false,
  run(log, args) {
    const iterations = Number(option(args, '--iterations') ?? 1_000_000)
    const seed = Number(option(args, '--seed') ?? 1)
    const only = option(args, '--target')
    const figures: Record<string, number> = {}
    let totalCrashes = 0
    let slowestOverall = 0
    for (const target of targets()) {
      if (only !== undefined && target.name !== only) continue
      const mutator = createMutator(target.corpus, seed)
      let crashes = 0
      let slowest = 0
      let slowestInput: Uint8Array = new Uint8Array()
      const started = performance.now()
      for (let i = 0; i < iterations; i++) {
        const input = mutator.next()
        const t0 = performance.now()
        try {
          target.run(input)
        } catch (err) {
          if (!target.isExpected(err)) {
            crashes++
            if (crashes <= 5) log(`${target.name}: CRASH #${i} ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} input=${Buffer.from(input).toString('hex')}`)
          }
        }
        const took = performance.now() - t0
        if (took > slowest) {
          slowest = took
          slowestInput = input
        }
        if (i > 0 && i % 250_000 === 0) log(`${target.name}: ${i} inputs…`)
      }
      const seconds = (performance.now() - started) / 1000
      // A single slow sample is often a GC pause or another process: replay the slowest
      // input and report its median time too, which is what the decoder itself costs.
      const replay = replayMs(target, slowestInput)
      log(`${target.name}: ${iterations} inputs in ${seconds.toFixed(1)} s, ${crashes} crashes, slowest ${slowest.toFixed(3)} ms (${slowestInput.length} bytes; ${replay.toFixed(3)} ms when replayed)`)
      figures[`${target.name}_crashes`] = crashes
      figures[`${target.name}_slowest_ms`] = slowest
      figures[`${target.name}_slowest_replay_ms`] = replay
      totalCrashes += crashes
      slowestOverall = Math.max(slowestOverall, slowest)
    }
    figures.crashes = totalCrashes
    figures.slowest_input_ms = slowestOverall
    // No peer to compare with: the ratio is crashes per million inputs (must be 0).
    return Promise.resolve({ figures, ratios: { crashes_per_million: (totalCrashes / Math.max(1, iterations)) * 1e6 } })
  },
}

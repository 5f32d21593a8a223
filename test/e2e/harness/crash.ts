// The gateway process under kill -9, shared by test/e2e/gateway-crash.test.ts and
// bench/crash.ts. Two SML meters (@smgw/sim model) flood a real `smgw gateway` process over
// TCP; the process is SIGKILLed at seeded random moments during ingest and restarted on the
// same store. After every kill the store is opened and checked against what the gateway
// acknowledged (its "readings stored" lines) and what the simulators wrote to their sockets.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openStore, verifyStoreLogs, type StoredReading, type Store } from '@smgw/gateway'
import { createRandom } from '@smgw/sim'
import { createTempDir, createTestSig } from '../../../packages/gateway/src/testing.js'
import { runSmgw, startGatewayProcess, type GatewayAck, type GatewayProcess, type SmgwRun } from './processes.js'
import { createSmlFlood, type SentSmlFile, type SmlFlood } from './sml-flood.js'

export interface CrashRunOptions {
  readonly rounds: number
  readonly seed: number
  /** Called after each round has been checked (progress for the bench). */
  readonly onRound?: (round: CrashRound) => void
  /** Bound on each wait for the gateway (start, first acknowledgements); default 30 s. */
  readonly waitMs?: number
}

/** One kill and what the store showed afterwards. */
export interface CrashRound {
  readonly round: number
  /**
   * When the kill came: `delayMs` after the `acks`-th acknowledgement, or with `acks` 0
   * `delayMs` after the spawn (0.5–1.1 times the start-up time seen so far: module loading,
   * store opening, start entries being written, adapters connecting, first ingest).
   */
  readonly killAt: { readonly acks: number; readonly delayMs: number }
  /** Readings acknowledged by this round's process. */
  readonly acknowledged: number
  /** Readings in the store after the kill. */
  readonly stored: number
  readonly integrity: readonly string[]
  /** Acknowledged readings missing from the store (must be 0). */
  readonly lost: number
  /** Stored readings of this round that are not, in order and exactly, readings the simulators sent (must be 0). */
  readonly mismatched: number
  readonly chains: number
  /** Chains that did not verify: `log/stream: reason at seq`. */
  readonly chainFailures: readonly string[]
}

export interface CrashRunResult {
  readonly rounds: readonly CrashRound[]
  readonly acknowledged: number
  /** Acknowledged readings missing at the final check over all rounds. */
  readonly lost: number
  readonly mismatched: number
  /** Chain verifications that passed, summed over rounds. */
  readonly chainsVerified: number
  readonly chainFailures: number
  /** SML files the simulators wrote to their sockets. */
  readonly filesSent: number
  /** `smgw log verify STORE --cert SIG.pem` after the last round. */
  readonly logVerify: SmgwRun
}

const OBIS_IMPORT = '1-0:1.8.0*255'
const OBIS_EXPORT = '1-0:2.8.0*255'
const OBIS_POWER = '1-0:16.7.0*255'

interface MeterUnderTest {
  readonly id: string
  readonly flood: SmlFlood
  /** Index into `flood.sent` after the last matched file: stored files are a subsequence of the sent ones. */
  next: number
}

export async function runCrashRounds(options: CrashRunOptions): Promise<CrashRunResult> {
  const waitMs = options.waitMs ?? 30_000
  const random = createRandom(options.seed)
  const tmp = await createTempDir('smgw-e2e-crash-')
  const meters: MeterUnderTest[] = [
    { id: 'ehz-1', flood: createSmlFlood({ seed: options.seed + 1 }), next: 0 },
    { id: 'ehz-2', flood: createSmlFlood({ seed: options.seed + 2 }), next: 0 },
  ]
  try {
    const sig = await createTestSig(new Date('2026-01-01T00:00:00Z'))
    await writeFile(join(tmp.dir, 'sig.key.pem'), sig.keyPem, { mode: 0o600 })
    await writeFile(join(tmp.dir, 'sig.cert.der'), sig.certificate)
    const ports = await Promise.all(meters.map((m) => m.flood.start()))
    const db = join(tmp.dir, 'gateway.db')
    const config = join(tmp.dir, 'gateway.json')
    await writeFile(config, JSON.stringify({
      gatewayId: 'smgw-0001',
      store: { path: 'gateway.db' },
      logs: { sigKey: 'sig.key.pem', sigCertificate: 'sig.cert.der' },
      // Small batches, so a round sees several commits (and consumer-log appends) before its kill.
      batch: { maxReadings: 150, maxDelayMs: 10 },
      meters: meters.map((m, i) => ({
        id: m.id, kind: 'sml', intervalS: 1, ...(i === 0 ? { consumer: 'c-1' } : {}),
        transport: { tcp: { host: '127.0.0.1', port: ports[i] } },
      })),
    }))

    const rounds: CrashRound[] = []
    const allAcks: GatewayAck[] = []
    let verifiedThrough = 0
    let startupMs: number | undefined
    for (let round = 0; round < options.rounds; round++) {
      // One round in five is killed around start-up (once a start-up time has been seen);
      // the others 0–20 ms after 1–6 acknowledgements.
      const duringStart = random.next() < 0.2
      const acks = random.int(1, 6)
      const delayMs = random.int(0, 20)
      const startFraction = 0.5 + random.next() * 0.6
      const killAt = duringStart && startupMs !== undefined ? { acks: 0, delayMs: Math.round(startupMs * startFraction) } : { acks, delayMs }
      const spawnedAt = performance.now()
      const gateway = startGatewayProcess(config)
      gateway.waitFor(() => gateway.lines.some((l) => l.event === 'running'), waitMs, 'running line').then(() => {
        const ms = performance.now() - spawnedAt
        startupMs = startupMs === undefined ? ms : (startupMs + ms) / 2
      }, () => { /* killed before it ran */ })
      await killWhen(gateway, killAt, waitMs)
      allAcks.push(...gateway.acks)
      const store = openStore(db, { now: () => new Date() })
      try {
        const integrity = store.integrityCheck()
        const rows = readAfter(store, verifiedThrough)
        verifiedThrough = rows.at(-1)?.id ?? verifiedThrough
        const mismatched = matchSent(rows, meters)
        const lost = countMissing(store, gateway.acks)
        const verified = verifyStoreLogs(store, { certificate: sig.certificate, roots: [sig.root], intermediates: [sig.subCa] })
        const result: CrashRound = {
          round, killAt, integrity, lost, mismatched,
          acknowledged: gateway.acks.reduce((n, a) => n + a.count, 0),
          stored: store.countReadings(),
          chains: verified.chains.length,
          chainFailures: verified.chains.flatMap((c) => (c.ok ? [] : [`${c.log}/${c.stream}: ${c.reason} at ${c.seq}`])),
        }
        rounds.push(result)
        options.onRound?.(result)
      } finally {
        store.close()
      }
    }

    const store = openStore(db, { now: () => new Date() })
    let lost: number
    try {
      lost = countMissing(store, allAcks)
    } finally {
      store.close()
    }
    const logVerify = await runSmgw(['log', 'verify', db, '--cert', join(tmp.dir, 'sig.cert.der')])
    return {
      rounds,
      acknowledged: allAcks.reduce((n, a) => n + a.count, 0),
      lost,
      mismatched: rounds.reduce((n, r) => n + r.mismatched, 0),
      chainsVerified: rounds.reduce((n, r) => n + r.chains - r.chainFailures.length, 0),
      chainFailures: rounds.reduce((n, r) => n + r.chainFailures.length, 0),
      filesSent: meters.reduce((n, m) => n + m.flood.sent.length, 0),
      logVerify,
    }
  } finally {
    for (const m of meters) await m.flood.close()
    await tmp.remove()
  }
}

/** Waits for the kill moment, sends SIGKILL, waits for the exit; the process must not end by itself. */
async function killWhen(gateway: GatewayProcess, killAt: { acks: number; delayMs: number }, waitMs: number): Promise<void> {
  try {
    if (killAt.acks > 0) await gateway.waitFor(() => gateway.acks.length >= killAt.acks, waitMs, `${killAt.acks} acknowledgements`)
    await new Promise((resolve) => setTimeout(resolve, killAt.delayMs))
  } finally {
    gateway.signal('SIGKILL')
  }
  const exit = await gateway.exited
  if (exit.signal !== 'SIGKILL') throw new Error(`the gateway process ended by itself (code ${String(exit.code)})`)
}

function readAfter(store: Store, afterId: number): StoredReading[] {
  const rows: StoredReading[] = []
  for (;;) {
    const page = store.readReadings({ afterId: rows.at(-1)?.id ?? afterId, limit: 10_000 })
    rows.push(...page)
    if (page.length < 10_000) return rows
  }
}

/** How many acknowledged ids have no row (ids of one batch are consecutive). */
function countMissing(store: Store, acks: readonly GatewayAck[]): number {
  let missing = 0
  for (const ack of acks) {
    const rows = store.readReadings({ afterId: ack.firstId - 1, limit: ack.count })
    const present = rows.filter((r) => r.id <= ack.lastId).length
    missing += ack.count - present
  }
  return missing
}

/**
 * Matches stored rows (id order) against the simulators' records: per meter, each file's
 * three readings (import, export, power, as one commit stores them) must equal a sent
 * file, later than the previously matched one. Returns the number of rows that do not.
 */
function matchSent(rows: readonly StoredReading[], meters: readonly MeterUnderTest[]): number {
  let mismatched = 0
  const groups = new Map<string, StoredReading[]>()
  const flush = (meter: MeterUnderTest, group: StoredReading[]): void => {
    const file = fileOf(group)
    const sent = meter.flood.sent
    let j = meter.next
    if (file !== undefined) while (j < sent.length && !sameFile(sent[j]!, file)) j++
    if (file === undefined || j === sent.length) {
      mismatched += group.length
      return
    }
    meter.next = j + 1
  }
  for (const row of rows) {
    const meter = meters.find((m) => m.id === row.meterId)
    if (meter === undefined) {
      mismatched++
      continue
    }
    const group = groups.get(row.meterId) ?? []
    if (row.quantity === OBIS_IMPORT && group.length > 0) {
      flush(meter, group)
      group.length = 0
    }
    group.push(row)
    groups.set(row.meterId, group)
  }
  for (const [id, group] of groups) if (group.length > 0) flush(meters.find((m) => m.id === id)!, group)
  return mismatched
}

function fileOf(group: readonly StoredReading[]): SentSmlFile | undefined {
  const [imp, exp, power] = group
  if (group.length !== 3 || imp === undefined || exp === undefined || power === undefined) return undefined
  if (imp.quantity !== OBIS_IMPORT || exp.quantity !== OBIS_EXPORT || power.quantity !== OBIS_POWER) return undefined
  if (imp.scaler !== -1 || exp.scaler !== -1 || power.scaler !== 0 || imp.unit !== 'Wh' || exp.unit !== 'Wh' || power.unit !== 'W') return undefined
  return { importRaw: imp.mantissa, exportRaw: exp.mantissa, powerW: power.mantissa }
}

function sameFile(a: SentSmlFile, b: SentSmlFile): boolean {
  return a.importRaw === b.importRaw && a.exportRaw === b.exportRaw && a.powerW === b.powerW
}

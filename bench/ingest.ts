// bench ingest: decoded SML and wireless M-Bus readings committed to the gateway store
// (store.appendReadings, batches of 500 as the gateway's default batch, a real file in a
// temp dir, WAL, synchronous = FULL) against a bare better-sqlite3 prepared INSERT of the
// same rows into the same schema with the same pragmas, one transaction per 500 rows, in
// alternating rounds (targets: ≥ 100 000 readings/s, ratio ≥ 0.5). Then the real gateway
// process (`smgw gateway`) with 100 meters: start-up time until it reports running, and
// its resident memory (VmRSS) right after.
//
// Context figures: fsync_ms (one 4 KiB append + fdatasync in the same temp dir: with
// synchronous = FULL every batch commit waits for at least one, so 500 / fsync_ms × 1000
// bounds the rate on this disk) and cli_startup_ms (`smgw --version`: loading the CLI
// through tsx, the part of the gateway start-up that is not the gateway).
import { spawn } from 'node:child_process'
import { closeSync, fdatasyncSync, openSync, readFileSync, writeSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { MIGRATIONS, STORE_CACHE_KIB, STORE_WAL_CHECKPOINT_PAGES, decodeSmlReadings, decodeWmbusReadings, openStore, type ReadingInput } from '@smgw/gateway'
import { decodeWirelessTelegram, encodeWirelessTelegram } from '@smgw/mbus'
import { compareRates, type Benchmark } from './types.js'

/** Seconds for the store comparison, split into alternating rounds. */
const SECONDS = 10
/** The gateway's default batch.maxReadings. */
const BATCH = 500
/** Decoded readings prepared before timing (cycled; each pass gets fresh value times). */
const POOL = 100_000
const STARTS = 3
const repoRoot = fileURLToPath(new URL('..', import.meta.url))

function hexFixture(name: string): Uint8Array {
  const text = readFileSync(new URL(`../packages/sml/fixtures/${name}`, import.meta.url), 'utf8')
  return new Uint8Array(Buffer.from(text.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex'))
}

/** Readings as the LMN readers hand them to the store: 100 meters, SML and wM-Bus. */
function decodedReadings(): ReadingInput[] {
  const sml = ['emh-ehz.hex', 'iskra-mt175.hex', 'easymeter-q3a.hex'].map(hexFixture)
  const key = Uint8Array.from({ length: 16 }, (_, i) => 0x40 + i)
  const base = Date.parse('2026-11-30T00:00:00Z')
  const out: ReadingInput[] = []
  for (let frame = 0; out.length < POOL; frame++) {
    const meter = frame % 100
    const received = new Date(base + frame * 1000)
    if (meter < 20) {
      out.push(...decodeSmlReadings(sml[meter % sml.length]!, `1EMH00${String(meter).padStart(8, '0')}`, received))
    } else {
      const id = String(10_000_000 + meter)
      const telegram = encodeWirelessTelegram({
        address: { manufacturer: 'KAM', id, version: 0x1b, deviceType: 0x16 },
        tpl: { kind: 'short', accessNumber: frame & 0xff, status: 0 },
        security: { mode: 5 },
        key,
        records: [
          // The record set of bench/decode.ts (a mode-5 water meter, ~60 bytes).
          { vif: Uint8Array.of(0x13), coding: 'int32', raw: 123_456 + frame },
          { vif: Uint8Array.of(0x13), coding: 'int32', raw: 120_000, storage: 1 },
          { vif: Uint8Array.of(0x3b), coding: 'int16', raw: 345 },
          { vif: Uint8Array.of(0xfd, 0x17), coding: 'int16', raw: 0 },
          { vif: Uint8Array.of(0x67), coding: 'int8', raw: 12 },
          { vif: Uint8Array.of(0x6d), coding: 'int32', raw: 0x2b1e0c22 },
          { vif: Uint8Array.of(0x5b), coding: 'int8', raw: 9, function: 'minimum' },
        ],
      })
      const decoded = decodeWirelessTelegram(telegram, { key })
      out.push(...decodeWmbusReadings(decoded.records, `KAM${id}`, received, decoded.tpl.status))
    }
  }
  return out.slice(0, POOL)
}

const INT64_MAX = 2n ** 63n - 1n
const INT64_MIN = -(2n ** 63n)

async function benchStore(dir: string, log: (line: string) => void): Promise<{ rate: number; baseline: number; ratio: number }> {
  const pool = decodedReadings()
  const meters = new Set(pool.map((r) => r.meterId)).size
  log(`store: ${pool.length} decoded readings of ${meters} meters, batches of ${BATCH}, ${SECONDS} s alternating with bare better-sqlite3`)

  const store = openStore(join(dir, 'gateway.db'), { now: () => new Date() })
  // The bare baseline: same schema (every migration), same pragmas, same INSERT.
  const bare = new Database(join(dir, 'bare.db'))
  bare.pragma('journal_mode = WAL')
  bare.pragma('synchronous = FULL')
  bare.pragma('secure_delete = ON')
  bare.pragma(`cache_size = -${STORE_CACHE_KIB}`)
  bare.pragma(`wal_autocheckpoint = ${STORE_WAL_CHECKPOINT_PAGES}`)
  for (const m of MIGRATIONS) bare.exec(m.sql)
  const insert = bare.prepare('INSERT INTO readings (meter_id, quantity, time_ms, mantissa, scaler, unit, status, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
  const insertBatch = bare.transaction((rows: readonly ReadingInput[], receivedMs: number) => {
    for (const r of rows) {
      const m = r.mantissa
      const st = r.status
      insert.run(r.meterId, r.quantity, r.time.getTime(), m >= INT64_MIN && m <= INT64_MAX ? m : m.toString(), r.scaler, r.unit ?? null,
        st === undefined ? null : st <= INT64_MAX ? st : st.toString(), receivedMs)
    }
  })

  let ours = 0
  let theirs = 0
  // Each pass over the pool moves its value times past the previous pass, as a live LMN does
  // (readings arrive in time order; re-inserting old times would measure something else).
  const span = pool.reduce((m, r) => Math.max(m, r.time.getTime()), 0) - pool.reduce((m, r) => Math.min(m, r.time.getTime()), Infinity) + 1000
  const slice = (at: number): ReadingInput[] => {
    const shift = Math.floor(at / POOL) * span
    return pool.slice(at % POOL, (at % POOL) + BATCH).map((r) => (shift === 0 ? r : { ...r, time: new Date(r.time.getTime() + shift) }))
  }
  const result = await compareRates(SECONDS, () => {
    store.appendReadings(slice(ours))
    ours += BATCH
    return BATCH
  }, () => {
    insertBatch(slice(theirs), Date.now())
    theirs += BATCH
    return BATCH
  })
  log(`store: ${store.countReadings()} rows ours, ${Number(bare.prepare('SELECT count(*) FROM readings').pluck().get())} rows bare`)
  store.close()
  bare.close()
  return result
}

/** Median latency of a 4 KiB append followed by fdatasync, ms. */
function measureFsync(dir: string): number {
  const fd = openSync(join(dir, 'fsync.probe'), 'w')
  const block = Buffer.alloc(4096, 0x5a)
  const times: number[] = []
  try {
    for (let i = 0; i < 50; i++) {
      const t = performance.now()
      writeSync(fd, block)
      fdatasyncSync(fd)
      times.push(performance.now() - t)
    }
  } finally {
    closeSync(fd)
  }
  return times.sort((a, b) => a - b)[times.length >> 1]!
}

function listen(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => { socket.on('error', () => undefined) })
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const a = server.address()
      resolve({ server, port: typeof a === 'object' && a !== null ? a.port : 0 })
    })
  })
}

/** A 100-meter configuration: 94 wM-Bus meters on one UDP port, 3 SML-over-TCP meters, 3 SML capture replays. */
async function gatewayConfig(dir: string, ports: readonly number[], run: number): Promise<string> {
  const sml = ['emh-ehz.hex', 'iskra-mt175.hex', 'easymeter-q3a.hex']
  for (const [i, f] of sml.entries()) await writeFile(join(dir, `capture-${i}.sml`), hexFixture(f))
  const meters: unknown[] = [
    ...ports.map((port, i) => ({ id: `sml-tcp-${i}`, kind: 'sml', intervalS: 2, consumer: `c-${i}`, transport: { tcp: { host: '127.0.0.1', port } } })),
    ...sml.map((_, i) => ({ id: `sml-file-${i}`, kind: 'sml', intervalS: 2, consumer: `c-f${i}`, transport: { file: `capture-${i}.sml` } })),
  ]
  for (let i = 0; meters.length < 100; i++) {
    meters.push({ id: `wmbus-${i}`, kind: 'wmbus', mbusId: String(20_000_000 + i), intervalS: 32, consumer: `c-w${i}`, transport: { udp: { host: '127.0.0.1', port: 0 } } })
  }
  const path = join(dir, `gateway-${run}.json`)
  await writeFile(path, JSON.stringify({
    gatewayId: 'smgw-0001',
    store: { path: `gateway-${run}.db` },
    logs: { sigKey: 'pki/gateways/smgw-0001/sig.key.pem', sigCertificate: 'pki/gateways/smgw-0001/sig.cert.pem' },
    meters,
  }))
  return path
}

/** Runs the CLI to completion; returns its wall time in ms. */
function runCli(args: string[]): Promise<number> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(repoRoot, 'packages/cli/bin/smgw.js'), ...args], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    p.stderr.on('data', (c: Buffer) => { err += c.toString() })
    p.on('error', reject)
    p.on('close', (code) => { if (code === 0) resolve(performance.now() - started); else reject(new Error(`smgw ${args.join(' ')} exited ${String(code)}: ${err}`)) })
  })
}

/** Spawns the gateway, times it until its `running` status line, reads VmRSS, stops it with SIGTERM. */
function startGateway(config: string): Promise<{ startupMs: number; rssMb: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const p = spawn(process.execPath, [join(repoRoot, 'packages/cli/bin/smgw.js'), 'gateway', '--config', config, '--json', '--status-interval', '0', '--log-level', 'warn'],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    let result: { startupMs: number; rssMb: number } | undefined
    const deadline = setTimeout(() => { p.kill('SIGKILL') }, 60_000)
    p.stdout.resume()
    p.stderr.on('data', (c: Buffer) => {
      err += c.toString()
      if (result !== undefined || !err.includes('"event":"running"')) return
      const startupMs = performance.now() - started
      // Resident memory once it runs (after a moment for the replays and sockets to settle).
      setTimeout(() => {
        void readFile(`/proc/${String(p.pid)}/status`, 'utf8').then((status) => {
          const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN)
          result = { startupMs, rssMb: kb / 1024 }
          p.kill('SIGTERM')
        }, reject)
      }, 1000)
      result = { startupMs, rssMb: Number.NaN }
    })
    p.on('error', reject)
    p.on('close', (code, signal) => {
      clearTimeout(deadline)
      if (result !== undefined && Number.isFinite(result.rssMb)) resolve(result)
      else reject(new Error(`the gateway ended before it ran (${String(code ?? signal)}): ${err}`))
    })
  })
}

async function benchGateway(dir: string, log: (line: string) => void): Promise<{ startupMs: number; rssMb: number; cliMs: number }> {
  await runCli(['pki', 'init', join(dir, 'pki'), '--emts', '0'])
  const cli: number[] = []
  for (let run = 0; run < STARTS; run++) cli.push(await runCli(['--version']))
  const servers = await Promise.all([listen(), listen(), listen()])
  try {
    const runs: { startupMs: number; rssMb: number }[] = []
    for (let run = 0; run < STARTS; run++) {
      const r = await startGateway(await gatewayConfig(dir, servers.map((s) => s.port), run))
      log(`gateway start ${run + 1}/${STARTS}: running after ${r.startupMs.toFixed(0)} ms, VmRSS ${r.rssMb.toFixed(1)} MB`)
      runs.push(r)
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
    return { startupMs: median(runs.map((r) => r.startupMs)), rssMb: median(runs.map((r) => r.rssMb)), cliMs: median(cli) }
  } finally {
    for (const s of servers) s.server.close()
  }
}

export const benchmark: Benchmark = {
  name: 'ingest',
  description: 'decoded readings/s into the store (batches of 500, WAL, FULL) vs bare better-sqlite3; gateway start-up and RSS with 100 meters',
  inDefaultRun: true,
  async run(log) {
    const dir = await mkdtemp(join(tmpdir(), 'smgw-bench-ingest-'))
    try {
      const fsyncMs = measureFsync(dir)
      log(`fsync: ${fsyncMs.toFixed(2)} ms per 4 KiB append (bound with FULL: about ${Math.round((BATCH / fsyncMs) * 1000)} readings/s at ${BATCH} per commit)`)
      const store = await benchStore(dir, log)
      const gateway = await benchGateway(dir, log)
      return {
        figures: {
          ingest_readings_per_s: store.rate,
          sqlite_bare_readings_per_s: store.baseline,
          gateway_startup_ms: gateway.startupMs,
          gateway_rss_mb: gateway.rssMb,
          fsync_ms: fsyncMs,
          cli_startup_ms: gateway.cliMs,
        },
        ratios: { ingest_vs_sqlite_ratio: store.ratio },
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  },
}

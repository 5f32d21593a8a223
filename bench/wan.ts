// bench wan — the market participant's receiving side of the WAN (EMT part): N simulated
// gateways (default 500; --gateways 10000 is the issue's full target), each with its own TLS and SIG certificate from one sub-CA, each
// delivering one TAF 7 day (96 quarter hours) as real CMS over its own mutual-TLS 1.2
// connection to `smgw emt serve` (a child process, SQLite store, `--workers` processes, default
// one per CPU; their start-up is reported as emt_startup_s, outside the timed phase). Reported:
// wall time, emt_gateways_per_s, the receiver's CPU per message (from /proc of the child and its
// workers), the simulated gateways' CPU per message (this process: they share the cores), and
// emt_vs_crypto_ratio = that CPU per message / the bare crypto of one gateway (RAW_PROTOCOL_OPS
// raw node:crypto operations, listed where they are measured, same run); for a run smaller than
// 10,000 gateways, the 10,000-gateway wall time extrapolated from its rate, and the receiver's
// CPU for 10,000 spread over its workers (the wall time if the gateways ran elsewhere).
// Then the next day (emt_next_day_*): the same gateways deliver their next TAF 7 day, each
// offering the TLS session of its first delivery (RFC 5077, as the gateway's delivery service
// does), against the CMS crypto of a returning gateway and a bare server resuming the same sessions.
// Then day 3 (emt_day3_*): the sessions are past their 48 h lifetime, so each gateway makes a full
// handshake again, but the receiver remembers its certificates; a fleet delivering every 24 h
// alternates between the next day and day 3 (emt_daily_10000_receiver_alone_s, their mean).
// Then end to end: real gateway stores whose delivery services empty their outboxes into the
// same receiver (e2e_messages_per_s; --e2e-gateways G, --e2e-messages M).
//
// Where the processes run: pinned by default (Linux, `taskset` of util-linux, at least 2 CPUs):
// the receiver — its primary, its workers (forks inherit the affinity; default one worker) and
// the bare TLS + HTTP floor server — on the first allowed CPU, this process (the simulated
// gateways) on the others. The receiver's CPU per message is then its own: shared cores add the
// cost of competing with a load generator as hungry as the receiver itself (context switches,
// cold caches; 30–45 % more CPU per message on the next day and day 3 here). Its
// `*_receiver_alone_s` figures spread that CPU over the issue's 2 cores — an extrapolation to
// two workers on two cores, bounded with
// `--ab-workers 2` (two workers time-sharing the one CPU against one). --no-pin shares every core
// (default then: one worker per CPU, the receiver alone spread over its workers). --idle-generator
// (Linux `chrt`, root or CAP_SYS_NICE) runs this process at SCHED_IDLE and the receiver at the
// normal policy, both on every CPU: the receiver's workers run in parallel on cores of their own
// and never wait for the generator, which only fills the idle gaps (caches stay shared with it);
// with `--ab-workers 2` it bounds what a second worker costs on a core of its own (from above:
// one worker leaves the other CPU's caches to the generator, two share both with it).
// --register-certificates registers each gateway with its TLS and SIG certificates
// (`smgw emt gateway add --certificate`, untimed): the receiver starts with their signatures
// remembered in its store, so the first contact is that of a gateway the market participant
// got from its administrator beforehand (emt_certificates_registered 1).
// Certificates are made once and cached in the repository's .tmp/bench-wan-<N>/ (gitignored):
// issuing 20,000 brainpool certificates takes a while. Messages are signed and encrypted before the timed
// phase; the timed phase is only the delivery: handshakes, intake checks, commits.
// The first tenth of the gateways (at most 500, --warmup K) warm the receiver up untimed.
// --ab-ecdh-curves G1:G2… instead compares two receivers at first contact in alternating blocks
// (compareReceivers): A as configured, B with those groups; ratio ab_b_vs_a_ratio.
// --ab-workers W likewise compares W receiver workers (B) with --workers (A).
// --ab-cli PATH likewise compares another checkout's receiver (B: PATH is its
// packages/cli/bin/smgw.js, e.g. a `git worktree` of main with its own `npm ci`) with this
// one's (A): a code change measured against its baseline in the same run. B's store is made by
// B's own library and registered as A's (with --register-certificates, both remember the
// gateways' signatures); an A/A run (B a worktree of the same commit) measures 1.01.
//   npm run bench -- wan [--gateways N] [--warmup K] [--concurrency C] [--workers W] [--no-pin | --idle-generator] [--ecdh-curves G1:G2…] [--register-certificates] [--e2e-gateways G] [--e2e-messages M] [--cpu-prof]
//   npm run bench -- wan --gateways N (--ab-ecdh-curves G1:G2… | --ab-workers W | --ab-cli PATH) [--ab-block B] [--warmup K] [--workers W] [--no-pin | --idle-generator]
import { execFileSync, spawn } from 'node:child_process'
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { CURVES, createCmsEncryptor, createCmsSigner, createKeyObjectSigner, createNativeEcdh, decodeCertificates, encodePem, nativeEcdhStatus, type CurveName } from '@smgw/crypto'
import * as emtLibrary from '@smgw/emt'
import { createDeliveryService, createGatewayLogs, formatDeliveryText, openStore } from '@smgw/gateway'
import { encodeMeterData, IDEMPOTENCY_HEADER, METER_DATA_CONTENT_TYPE, METER_DATA_PATH, VALUE_STATUS, type MeterDataMessage } from '@smgw/meter-data'
import { connectTls, createDemoPki, createTlsContext, issueCertificate, issueCrl, TLS_CURVE_NAMES, type TlsContext, type TlsCurve } from '@smgw/pki'
import { measureRate, type Benchmark, type BenchResult } from './types.js'

type EmtLibrary = Pick<typeof emtLibrary, 'openSqliteRepository' | 'checkGatewayCertificates'>

const CURVE: CurveName = 'brainpoolP256r1'
const CLI = fileURLToPath(new URL('../packages/cli/bin/smgw.js', import.meta.url))
/** The full target of the issue: 10,000 gateways in ≤ 30 s on 2 cores. */
const TARGET_GATEWAYS = 10_000
const TARGET_CORES = 2
/** Gateways per progress line of the first contact. */
const PROGRESS_BLOCK = 1000

interface GatewayFiles { readonly id: string; readonly tlsKey: string; readonly tlsCert: string; readonly sigKey: string; readonly sigCert: string }
interface CachedPki {
  readonly root: string; readonly subCaGw: string; readonly subCaGwKey: string; readonly subCaEmt: string; readonly subCaEmtKey: string; readonly rootKey: string
  readonly emtTlsCert: string; readonly emtTlsKey: string; readonly emtEncCert: string; readonly emtEncKey: string
  readonly gateways: readonly GatewayFiles[]
}

const keyPem = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }).toString()
const der = (pem: string) => decodeCertificates(new TextEncoder().encode(pem))[0]?.der ?? new Uint8Array(0)
const serial = () => { const s = randomBytes(16); s[0] = (s[0] ?? 0) & 0x7f | 0x01; return new Uint8Array(s) }

async function makePki(n: number, log: (line: string) => void): Promise<CachedPki> {
  const keys = new Map<string, KeyObject>()
  const now = new Date()
  const demo = await createDemoPki({ curve: CURVE, gateways: 0, emts: 1 }, {
    newKey: (curve, label) => {
      const k = generateKeyPairSync('ec', { namedCurve: CURVES[curve].nodeName }).privateKey
      keys.set(label, k)
      return Promise.resolve(createKeyObjectSigner(k))
    },
    serialNumber: serial, now,
  })
  const ca = (label: string) => { const c = demo.cas.find((x) => x.label === label); if (c === undefined) throw new Error(label); return c }
  const emt = demo.participants.find((p) => p.label === 'emt-1')
  const cert = (kind: string) => emt?.certificates.find((c) => c.kind === kind)?.certificate ?? new Uint8Array(0)
  const key = (label: string) => { const k = keys.get(label); if (k === undefined) throw new Error(label); return keyPem(k) }
  const gw = ca('sub-ca-gw')
  const gateways: GatewayFiles[] = []
  const started = performance.now()
  for (let i = 1; i <= n; i++) {
    const id = `smgw-${String(i).padStart(5, '0')}`
    const subject = { C: 'DE', O: 'SMGW Bench', OU: 'SMGW', CN: id }
    const tlsKey = generateKeyPairSync('ec', { namedCurve: CURVES[CURVE].nodeName }).privateKey
    const sigKey = generateKeyPairSync('ec', { namedCurve: CURVES[CURVE].nodeName }).privateKey
    const issue = (profile: 'tls' | 'sig', k: KeyObject) => issueCertificate({
      profile, subject, publicKey: createKeyObjectSigner(k).publicKey, serialNumber: serial(),
      notBefore: new Date(now.getTime() - 86_400_000), notAfter: new Date(now.getTime() + 700 * 86_400_000),
      issuer: { signer: gw.signer, certificate: gw.certificate }, ...(profile === 'tls' ? { tlsRole: 'client' as const } : {}),
    })
    gateways.push({ id, tlsKey: keyPem(tlsKey), tlsCert: encodePem('CERTIFICATE', await issue('tls', tlsKey)), sigKey: keyPem(sigKey), sigCert: encodePem('CERTIFICATE', await issue('sig', sigKey)) })
    if (i % 1000 === 0) log(`  certificates for ${String(i)} gateways (${((performance.now() - started) / 1000).toFixed(0)} s)`)
  }
  return {
    root: encodePem('CERTIFICATE', ca('root').certificate), rootKey: key('root/ca'),
    subCaGw: encodePem('CERTIFICATE', gw.certificate), subCaGwKey: key('sub-ca-gw/ca'),
    subCaEmt: encodePem('CERTIFICATE', ca('sub-ca-emt').certificate), subCaEmtKey: key('sub-ca-emt/ca'),
    emtTlsCert: encodePem('CERTIFICATE', cert('tls')), emtTlsKey: key('emt-1/tls'),
    emtEncCert: encodePem('CERTIFICATE', cert('enc')), emtEncKey: key('emt-1/enc'),
    gateways,
  }
}

/** The TAF 7 day `daysBack` days before today's (legal) day: 2 for the first contact, 1 for the next day's delivery. */
function message(id: string, now: Date, daysBack: number): MeterDataMessage {
  const start = Math.floor(now.getTime() / 86_400_000) * 86_400_000 - daysBack * 86_400_000 - 3_600_000
  let register = 12_345_678n
  return {
    format: 'smgw-meter-data', version: 1, messageId: `${id}:taf7:${String(daysBack)}`, gatewayId: id, recipient: 'emt-1', useCase: 'taf7',
    createdAt: new Date(start + 86_400_000 + 60_000).toISOString(), meteringPoint: { kind: 'pseudonym', id: `p-${id}` },
    period: { start: new Date(start).toISOString(), end: new Date(start + 86_400_000).toISOString() },
    series: [{
      obis: '1-0:1.8.0*255', unit: 'Wh', scaler: -1, kind: 'profile', periodSeconds: 900,
      values: Array.from({ length: 96 }, (_, i) => {
        register += BigInt(100 + (i % 13))
        return { time: new Date(start + (i + 1) * 900_000).toISOString(), value: i === 50 ? null : register.toString(), status: i === 50 ? VALUE_STATUS.gap : 0 }
      }),
    }],
  }
}

/**
 * Operations per CPU second (user + system of this process; the operations are synchronous
 * node:crypto calls on this thread): comparable with the receiver's CPU per message from /proc,
 * and not inflated when other processes share the cores (a wall-clock rate would be).
 */
async function measureCpuRate(seconds: number, fn: () => number): Promise<number> {
  let ops = 0
  const cpu0 = process.cpuUsage()
  await measureRate(seconds, () => { const k = fn(); ops += k; return k })
  const cpu = process.cpuUsage(cpu0)
  return ops / ((cpu.user + cpu.system) / 1e6)
}

/** CPU seconds (user + system) of a process and its live children (the receiver's workers), from /proc (Linux). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${String(pid)}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
  const children = readdirSync(`/proc/${String(pid)}/task`).flatMap((t) => readFileSync(`/proc/${String(pid)}/task/${t}/children`, 'utf8').trim().split(' ').filter((c) => c !== '').map(Number))
  // After the command name: field 3 is state, so utime/stime (fields 14/15) are at 11/12 here.
  return (Number(fields[11]) + Number(fields[12])) / ticks + children.reduce((sum, c) => sum + processCpuSeconds(c), 0)
}

/** Where the receiver's processes run (see the head of this file). */
type PlacementMode = 'pinned' | 'shared' | 'idle'

interface Placement {
  /**
   * 'pinned': the receiver on a CPU of its own, this process on the others; 'idle': every CPU
   * for both, this process at SCHED_IDLE (--idle-generator); 'shared': every CPU for both.
   */
  readonly mode: PlacementMode
  /** Command and arguments that start `node ARGS` where the receiver runs. */
  receiverCommand(nodeArgs: readonly string[]): [string, string[]]
  /** Gives this process every allowed CPU again. */
  release(): void
}

/** The CPUs this process may run on (Linux: Cpus_allowed_list of /proc/self/status). */
function allowedCpus(): number[] {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('Cpus_allowed_list:'))
  return parseCpuList(line?.split(':')[1] ?? '')
}

/** A kernel CPU list ("0-1", "0,2-3,7") as CPU numbers; [] for anything else. */
export function parseCpuList(text: string): number[] {
  const ranges = text.trim().split(',')
  const out: number[] = []
  for (const r of ranges) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(r)
    if (m === null) return []
    const lo = Number(m[1])
    const hi = m[2] === undefined ? lo : Number(m[2])
    for (let c = lo; c <= hi; c++) out.push(c)
  }
  return out
}

/**
 * Pins as asked when the machine allows it (node has no CPU affinity of its own: `taskset`); says
 * why not otherwise. 'idle': this process at SCHED_IDLE (`chrt`), the receiver started at the
 * normal policy, both on every CPU — the gateways run only when the receiver leaves a CPU idle.
 */
function placeProcesses(wanted: PlacementMode, log: (line: string) => void): Placement {
  const shared: Placement = { mode: 'shared', receiverCommand: (a) => [process.execPath, [...a]], release: () => undefined }
  if (wanted === 'shared') return shared
  if (wanted === 'idle') {
    const policy = (p: '--idle' | '--other') => { execFileSync('chrt', [p, '-a', '-p', '0', String(process.pid)], { stdio: 'ignore' }) }
    try {
      policy('--idle')
    } catch {
      log('no idle generator: chrt (util-linux) failed; the receiver shares the cores with the simulated gateways')
      return shared
    }
    log('idle generator: the simulated gateways at SCHED_IDLE, the receiver at the normal policy, both on every CPU')
    return { mode: 'idle', receiverCommand: (a) => ['chrt', ['--other', '0', process.execPath, ...a]], release: () => {
      try {
        policy('--other')
      } catch {
        // Leaving SCHED_IDLE needs the privilege that entering it did not: the bench is over anyway.
      }
    } }
  }
  const cpus = process.platform === 'linux' ? allowedCpus() : []
  const [receiverCpu, ...gatewayCpus] = cpus
  if (receiverCpu === undefined || gatewayCpus.length === 0) {
    log(`not pinned: ${process.platform === 'linux' ? `only ${String(cpus.length)} CPU allowed` : 'pinning needs Linux'}; the receiver shares the cores with the simulated gateways`)
    return shared
  }
  const setOwn = (list: readonly number[]) => { execFileSync('taskset', ['-a', '-p', '-c', list.join(','), String(process.pid)], { stdio: 'ignore' }) }
  try {
    setOwn(gatewayCpus)
  } catch {
    log('not pinned: taskset (util-linux) is not available; the receiver shares the cores with the simulated gateways')
    return shared
  }
  log(`pinned: the receiver on CPU ${String(receiverCpu)}, the simulated gateways on CPU ${gatewayCpus.join(',')}`)
  return {
    mode: 'pinned',
    receiverCommand: (a) => ['taskset', ['-c', String(receiverCpu), process.execPath, ...a]],
    release: () => { setOwn(cpus) },
  }
}

interface SessionHolder { session: Buffer | undefined }
interface Delivery { readonly ctx: TlsContext; readonly body: Uint8Array; readonly key: string; readonly session: SessionHolder }

/**
 * Delivers each prepared message over its own connection, `concurrency` at a time; counts the
 * answers' statuses (0: no answer) and the full handshakes by ECDHE group (`groups`). With
 * `resume`, a gateway offers the TLS session of its last delivery (as the gateway's delivery
 * service does); returns how many connections resumed one.
 */
async function deliverAll(items: readonly Delivery[], port: number, concurrency: number, statuses: Map<number, number>, resume = false, groups = new Map<string, number>()): Promise<number> {
  let next = 0
  let resumed = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < items.length; i = next++) {
      const p = items[i]
      if (p === undefined) break
      const status = await post(p, port, resume, () => { resumed++ }, groups).catch(() => 0)
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
  }))
  return resumed
}

async function post(d: Delivery, port: number, resume: boolean, onResumed: () => void, groups: Map<string, number>): Promise<number> {
  const { ctx, body, key } = d
  const offered = resume ? d.session.session : undefined
  const socket = await connectTls(ctx, { host: '127.0.0.1', port, ...(offered === undefined ? {} : { session: offered }) })
  if (socket.isSessionReused()) {
    onResumed()
  } else {
    const group = socket.getEphemeralKeyInfo()
    const name = group !== null && 'name' in group && typeof group.name === 'string' ? group.name : 'unknown'
    groups.set(name, (groups.get(name) ?? 0) + 1)
  }
  // TLS 1.2: the ticket came in the handshake; kept for the next delivery.
  d.session.session = socket.getSession() ?? d.session.session
  try {
    return await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ createConnection: () => socket, method: 'POST', path: METER_DATA_PATH, headers: { 'content-type': METER_DATA_CONTENT_TYPE, [IDEMPOTENCY_HEADER]: key, 'content-length': String(body.length) } }, (res) => {
        res.resume()
        res.on('end', () => { resolve(res.statusCode ?? 0) })
      })
      req.on('error', reject)
      req.end(body)
    })
  } finally {
    socket.destroy()
  }
}

async function run(log: (line: string) => void, args: readonly string[]): Promise<BenchResult> {
  const arg = (name: string, fallback: number) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : fallback }
  if (args.includes('--no-pin') && args.includes('--idle-generator')) throw new Error('--no-pin and --idle-generator: one placement at a time')
  const placement = placeProcesses(args.includes('--idle-generator') ? 'idle' : args.includes('--no-pin') ? 'shared' : 'pinned', log)
  try {
    return await runPlaced(log, args, arg, placement)
  } finally {
    placement.release()
  }
}

async function runPlaced(log: (line: string) => void, args: readonly string[], arg: (name: string, fallback: number) => number, placement: Placement): Promise<BenchResult> {
  const n = arg('--gateways', 500)
  const concurrency = arg('--concurrency', 64)
  // Receiver worker processes (node:cluster; default: one on its pinned CPU, else one per CPU). Their start-up (tsx compiles the sources in each) is reported apart, not timed.
  const workers = arg('--workers', placement.mode === 'pinned' ? 1 : availableParallelism())
  // The receiver's ECDHE groups in its order (tls.ecdhCurves); the simulated gateways offer all TR-03109-3 groups, brainpool first.
  const ecdhCurves = listArg(args, '--ecdh-curves')
  const ecdheCurve = ecdhCurves?.[0] ?? TLS_CURVE_NAMES[0]
  const abCurves = listArg(args, '--ab-ecdh-curves')
  const abWorkers = args.includes('--ab-workers') ? arg('--ab-workers', 1) : undefined
  const abCli = textArg(args, '--ab-cli')
  if ([abCurves, abWorkers, abCli].filter((v) => v !== undefined).length > 1) throw new Error('--ab-ecdh-curves, --ab-workers, --ab-cli: one variant at a time')
  if (abCli !== undefined && !existsSync(abCli)) throw new Error(`--ab-cli: no file ${abCli} (the packages/cli/bin/smgw.js of another checkout)`)
  if (abWorkers !== undefined && (!Number.isInteger(abWorkers) || abWorkers < 1)) throw new Error('--ab-workers: a whole number of workers, at least 1')
  const dir = fileURLToPath(new URL(`../.tmp/bench-wan-${String(n)}/`, import.meta.url))
  mkdirSync(dir, { recursive: true })
  const cacheFile = join(dir, 'pki.json')
  let pki: CachedPki
  if (existsSync(cacheFile)) {
    pki = JSON.parse(readFileSync(cacheFile, 'utf8')) as CachedPki
    log(`certificates of ${String(n)} gateways from the cache .tmp/bench-wan-${String(n)}/pki.json (made by an earlier run; delete it to issue new ones)`)
  } else {
    log(`issuing TLS and SIG certificates for ${String(n)} gateways (cached in .tmp/bench-wan-${String(n)}/ for later runs)`)
    pki = await makePki(n, log)
    writeFileSync(cacheFile, JSON.stringify(pki))
  }
  // Fresh CRLs each run (a week's validity), a fresh store.
  const now = new Date()
  const crl = async (certPem: string, keyPemText: string) => encodePem('X509 CRL', await issueCrl({
    issuer: { signer: createKeyObjectSigner(createPrivateKey(keyPemText)), certificate: der(certPem) }, crlNumber: BigInt(Math.floor(now.getTime() / 1000)),
    thisUpdate: new Date(now.getTime() - 60_000), nextUpdate: new Date(now.getTime() + 7 * 86_400_000), revoked: [],
  }))
  const files: Record<string, string> = {
    'root.pem': pki.root, 'chain.pem': pki.subCaEmt + pki.subCaGw, 'emt-tls.pem': pki.emtTlsCert, 'emt-tls.key': pki.emtTlsKey,
    'emt-enc.pem': pki.emtEncCert, 'emt-enc.key': pki.emtEncKey,
    'root.crl.pem': await crl(pki.root, pki.rootKey), 'gw.crl.pem': await crl(pki.subCaGw, pki.subCaGwKey), 'emt.crl.pem': await crl(pki.subCaEmt, pki.subCaEmtKey),
  }
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text, { mode: 0o600 })
  const db = join(dir, `emt-${String(now.getTime())}.db`)
  writeFileSync(join(dir, 'emt.json'), JSON.stringify({
    participantId: 'emt-1', listen: { host: '127.0.0.1', port: 0 },
    tls: { certificate: 'emt-tls.pem', key: 'emt-tls.key', chain: ['chain.pem'], ...(ecdhCurves === undefined ? {} : { ecdhCurves }) },
    enc: { certificate: 'emt-enc.pem', key: { file: 'emt-enc.key' } },
    pki: { roots: ['root.pem'], crls: ['root.crl.pem', 'gw.crl.pem', 'emt.crl.pem'] },
    storage: { sqlite: db },
    // Every gateway's TLS and SIG certificate stays remembered until the next day's delivery.
    certificateCache: 2 * n + 64,
  }))
  const registerCertificates = args.includes('--register-certificates')
  /** Registers every gateway in a store through a receiver's own library (this checkout's, or --ab-cli's for B). */
  const register = async (lib: EmtLibrary, path: string): Promise<void> => {
    const repo = lib.openSqliteRepository(path)
    for (const g of pki.gateways) await repo.addGateway(g.id, null, now)
    if (registerCertificates) {
      // The CRLs revoke nothing here; the receiver checks them on every use anyway.
      const trust = { roots: [der(pki.root)], intermediates: [der(pki.subCaGw)], crls: [] }
      for (const g of pki.gateways) {
        await repo.rememberSignatures(lib.checkGatewayCertificates(trust, false, g.id, [[der(g.tlsCert)], [der(g.sigCert)]], now).signatures)
      }
    }
    await repo.close()
  }
  if (registerCertificates) log(`registering the TLS and SIG certificates of ${String(n)} gateways (as smgw emt gateway add --certificate; not timed)`)
  await register(emtLibrary, db)

  log(`signing and encrypting ${String(n)} messages (not timed)`)
  const encryptor = createCmsEncryptor({ recipients: [der(pki.emtEncCert)] })
  const root = der(pki.root)
  const subCaGw = der(pki.subCaGw)
  const prepared: Delivery[] = []
  const nextDay: Delivery[] = []
  const dayThree: Delivery[] = []
  for (const g of pki.gateways) {
    const signer = createCmsSigner({ signer: createKeyObjectSigner(createPrivateKey(g.sigKey)), certificate: der(g.sigCert), chain: [subCaGw] })
    const seal = async (m: MeterDataMessage) => encryptor.encrypt(await signer.sign(encodeMeterData(m), { signingTime: now }))
    const ctx = createTlsContext({ identity: { key: g.tlsKey, cert: der(g.tlsCert), chain: [subCaGw] }, trust: { roots: [root] } })
    // One TLS session per gateway: the first contact stores it, the next day's delivery resumes it.
    const session: SessionHolder = { session: undefined }
    const [first, second, third] = [3, 2, 1].map((daysBack) => message(g.id, now, daysBack)) as [MeterDataMessage, MeterDataMessage, MeterDataMessage]
    prepared.push({ ctx, body: await seal(first), key: first.messageId, session })
    nextDay.push({ ctx, body: await seal(second), key: second.messageId, session })
    dayThree.push({ ctx, body: await seal(third), key: third.messageId, session })
  }
  // The first gateways warm the receiver's JIT up (each worker compiles its hot paths on its
  // first messages); they are delivered and stored like the rest but not timed.
  const warmup = Math.min(prepared.length - 1, arg('--warmup', Math.min(500, Math.floor(n / 10))))
  // The A/B mode needs none of the baselines below: its baseline is receiver A, same run.
  const variant = abCurves !== undefined ? { ecdhCurves: abCurves } : abWorkers !== undefined ? { workers: abWorkers } : abCli !== undefined ? { cli: abCli } : undefined
  if (variant !== undefined) {
    return compareReceivers({ dir, prepared, workers, concurrency, warmup, block: arg('--ab-block', 250), variant, placement, register, log })
  }

  // The bare crypto cost per gateway, measured in the same run: the raw node:crypto operations
  // the protocol needs on the receiving side, on brainpoolP256r1 but for the ECDHE pair, which is
  // on the group the receiver picks (ecdheCurve) (RAW_PROTOCOL_OPS = 9):
  //   TLS 1.2 mutual handshake (ECDHE-ECDSA): 1 ephemeral key generation + 1 ECDH (ECDHE),
  //     1 ECDSA sign (ServerKeyExchange), 1 ECDSA verify (the client's CertificateVerify),
  //     1 ECDSA verify (the client's TLS certificate, signed by the sub-CA);
  //   CMS: 1 public-key import + 1 ECDH (the originator's ephemeral key, ECDH-ES key agreement),
  //     1 ECDSA verify (the SignerInfo over the signed attributes; the content digest is a hash),
  //     1 ECDSA verify (the signer's SIG certificate, new for every gateway, signed by the sub-CA).
  // The sub-CA, the root and the CRLs are decoded and verified once (cached), so they are not counted.
  const a = generateKeyPairSync('ec', { namedCurve: CURVES[CURVE].nodeName })
  const b = generateKeyPairSync('ec', { namedCurve: CURVES[CURVE].nodeName })
  const bSpki = b.publicKey.export({ format: 'der', type: 'spki' })
  const aSpki = a.publicKey.export({ format: 'der', type: 'spki' })
  const content = prepared[0]?.body ?? new Uint8Array(6000)
  const signature = sign('sha256', content, a.privateKey)
  const ecdhePeer = generateKeyPairSync('ec', { namedCurve: ecdheCurve }).publicKey
  const rawRate = await measureCpuRate(2, () => {
    diffieHellman({ privateKey: a.privateKey, publicKey: b.publicKey })
    verify('sha256', content, a.publicKey, signature)
    return 1
  })
  const RAW_PROTOCOL_OPS = 9
  const rawProtocolRate = await measureCpuRate(2, () => {
    const eph = generateKeyPairSync('ec', { namedCurve: ecdheCurve })
    diffieHellman({ privateKey: eph.privateKey, publicKey: ecdhePeer })
    const ske = sign('sha256', content.subarray(0, 200), a.privateKey)
    verify('sha256', content.subarray(0, 200), a.publicKey, ske)
    verify('sha256', content.subarray(0, 600), a.publicKey, signature)
    diffieHellman({ privateKey: a.privateKey, publicKey: createPublicKey({ key: bSpki, format: 'der', type: 'spki' }) })
    verify('sha256', content, a.publicKey, signature)
    verify('sha256', content.subarray(0, 600), a.publicKey, signature)
    return 1
  })
  log(`bare crypto per gateway: ${String(RAW_PROTOCOL_OPS)} raw operations (1 keygen, 1 key import, 2 ECDH, 1 sign, 4 verify on ${CURVE}; the ECDHE keygen and ECDH on ${ecdheCurve}) = ${(1000 / rawProtocolRate).toFixed(2)} ms`)
  // What the receiver as built does on top: OpenSSL, which gets no roots (our path validation
  // is the one check of the client chain), still verifies the leaf's signature against the
  // sub-CA the client sent along, without an anchor, so it decides nothing; our 'tls-client'
  // path validation verifies the leaf's signature (the one the 9 count), and the SIG
  // certificate's key is imported to verify the SignerInfo. RECEIVER_OPS_AS_BUILT = 9 + 1 verify + 1 key import.
  // The CMS key agreement as the receiver does it: through @smgw/crypto's native binding when it is
  // loaded (the raw point, no second scalar multiplication; emt_native_ecdh 1), else node:crypto.
  const RECEIVER_OPS_AS_BUILT = 11
  const nativeEcdh = createNativeEcdh(a.privateKey)
  const nativeStatus = nativeEcdhStatus()
  const ecdhPath = nativeStatus.available ? 'the native binding' : `node:crypto (${nativeStatus.reason})`
  const bPoint = new Uint8Array(bSpki.subarray(bSpki.length - 1 - 2 * CURVES[CURVE].size))
  const asBuiltRate = await measureCpuRate(2, () => {
    const eph = generateKeyPairSync('ec', { namedCurve: ecdheCurve })
    diffieHellman({ privateKey: eph.privateKey, publicKey: ecdhePeer })
    const ske = sign('sha256', content.subarray(0, 200), a.privateKey)
    verify('sha256', content.subarray(0, 200), a.publicKey, ske)
    verify('sha256', content.subarray(0, 600), a.publicKey, signature)
    verify('sha256', content.subarray(0, 500), a.publicKey, signature)
    if (nativeEcdh === undefined) diffieHellman({ privateKey: a.privateKey, publicKey: createPublicKey({ key: bSpki, format: 'der', type: 'spki' }) })
    else nativeEcdh(bPoint)
    verify('sha256', content, createPublicKey({ key: aSpki, format: 'der', type: 'spki' }), signature)
    verify('sha256', content.subarray(0, 600), a.publicKey, signature)
    return 1
  })
  // The next day (resumed TLS session, certificates remembered): the CMS part only — 1 import of
  // the originator's ephemeral key + 1 ECDH, 1 ECDSA verify of the SignerInfo.
  const NEXT_DAY_OPS = 3
  const nextDayRate = await measureCpuRate(2, () => {
    diffieHellman({ privateKey: a.privateKey, publicKey: createPublicKey({ key: bSpki, format: 'der', type: 'spki' }) })
    verify('sha256', content, a.publicKey, signature)
    return 1
  })
  log(`bare crypto of a returning gateway: ${String(NEXT_DAY_OPS)} raw operations = ${(1000 / nextDayRate).toFixed(2)} ms`)
  log(`receiver crypto as built: ${String(RECEIVER_OPS_AS_BUILT)} raw operations (+ OpenSSL's unanchored leaf verify, the SIG key import; CMS ECDH through ${ecdhPath}) = ${(1000 / asBuiltRate).toFixed(2)} ms`)

  // Kept after the run (the bench's own folder is removed): .cpuprofile files for DevTools or speedscope.
  const profDir = args.includes('--cpu-prof') ? join(process.cwd(), '.tmp', `wan-prof-${String(process.pid)}`) : undefined
  if (profDir !== undefined) log(`receiver CPU profiles go to ${profDir}`)
  const startedAt = performance.now()
  const receiver = await startReceiver(join(dir, 'emt.json'), workers, placement, profDir)
  try {
    const { port, pid } = receiver
    const startupS = (performance.now() - startedAt) / 1000
    const timed = n - warmup
    log(`delivering: ${String(n)} gateways (the first ${String(warmup)} untimed, to warm the JIT up), ${String(concurrency)} connections at a time, to the receiver (pid ${String(pid)}) on port ${String(port)}`)
    const statuses = new Map<number, number>()
    await deliverAll(prepared.slice(0, warmup), port, concurrency, statuses)
    const cpu0 = processCpuSeconds(pid)
    const clientCpu0 = process.cpuUsage()
    const t0 = performance.now()
    const groups = new Map<string, number>()
    // In blocks of PROGRESS_BLOCK gateways, each block's receiver CPU per message on a line of its
    // own: progress on a long run, and whether the cost drifts as the receiver learns more gateways.
    const blockCpu: string[] = []
    for (let at = warmup; at < n; at += PROGRESS_BLOCK) {
      const b0 = processCpuSeconds(pid)
      const block = prepared.slice(at, Math.min(n, at + PROGRESS_BLOCK))
      await deliverAll(block, port, concurrency, statuses, false, groups)
      blockCpu.push((((processCpuSeconds(pid) - b0) * 1000) / block.length).toFixed(2))
      if (n - warmup > PROGRESS_BLOCK) log(`  ${String(Math.min(n, at + PROGRESS_BLOCK))} of ${String(n)} delivered; receiver CPU per message in the blocks so far: ${blockCpu.join(' ')} ms`)
    }
    const wall = (performance.now() - t0) / 1000
    const emtCpu = processCpuSeconds(pid) - cpu0
    const clientCpu = process.cpuUsage(clientCpu0)
    log(`answers: ${[...statuses].map(([s, c]) => `${String(s)}×${String(c)}`).join(', ')}; ECDHE groups of the full handshakes: ${[...groups].map(([g, c]) => `${g}×${String(c)}`).join(', ')}`)
    const emtCpuPerMessageMs = (emtCpu * 1000) / timed
    const rawMs = 1000 / rawRate
    const rawProtocolMs = 1000 / rawProtocolRate
    const clientCpuMs = (clientCpu.user + clientCpu.system) / 1000 / timed
    // 10,000 gateways: measured when run with them, else extrapolated from this run's rate; and the
    // receiver's CPU for them spread over its cores — pinned, the issue's 2 (CPU per message
    // measured on a core of its own), shared, its workers (at most one per core) — the wall time
    // it would need with the cores to itself and the gateways elsewhere.
    const receiverCores = placement.mode === 'pinned' ? TARGET_CORES : Math.min(workers, availableParallelism())
    const targetWall = (TARGET_GATEWAYS * wall) / timed
    const targetReceiverAlone = (TARGET_GATEWAYS * emtCpuPerMessageMs) / 1000 / receiverCores
    log(`10,000 gateways: ${n >= TARGET_GATEWAYS + warmup ? 'measured' : 'extrapolated'} ${targetWall.toFixed(0)} s wall with the gateways on the same cores; the receiver alone needs ${targetReceiverAlone.toFixed(1)} s of its ${String(receiverCores)} core(s) (target 30 s)`)

    // The next day: the same gateways deliver their next TAF 7 day. Each offers the TLS session of
    // yesterday's delivery (within the 48 h session lifetime, TR-03116-3), and the receiver has
    // seen their certificates (certificateCache): the daily steady state of a fleet.
    log(`next day: the same ${String(n)} gateways deliver again, resuming their TLS sessions`)
    const warmStatuses = new Map<number, number>()
    const warmCpu0 = processCpuSeconds(pid)
    const warmClientCpu0 = process.cpuUsage()
    const tw = performance.now()
    const resumed = await deliverAll(nextDay, port, concurrency, warmStatuses, true)
    const warmWall = (performance.now() - tw) / 1000
    const warmCpuPerMessageMs = ((processCpuSeconds(pid) - warmCpu0) * 1000) / n
    const warmClient = process.cpuUsage(warmClientCpu0)
    log(`answers: ${[...warmStatuses].map(([s, c]) => `${String(s)}×${String(c)}`).join(', ')}; ${String(resumed)} of ${String(n)} sessions resumed`)
    const warmTargetReceiverAlone = (TARGET_GATEWAYS * warmCpuPerMessageMs) / 1000 / receiverCores
    log(`next day, 10,000 gateways: extrapolated ${(TARGET_GATEWAYS * warmWall / n).toFixed(0)} s wall with the gateways on the same cores; the receiver alone needs ${warmTargetReceiverAlone.toFixed(1)} s of its ${String(receiverCores)} core(s) (target 30 s)`)

    // Day 3: the sessions of the first contact are past their 48 h lifetime (OpenSSL counts from
    // the full handshake; a resumption does not extend it), so each gateway makes a full handshake
    // again — offering no session, which is what an expired one comes to — while the receiver
    // still remembers its certificates. A fleet delivering every 24 h alternates between this and
    // the next day: their mean is its daily load.
    log(`day 3: the same ${String(n)} gateways, sessions expired (48 h): full handshakes, certificates remembered`)
    const day3Statuses = new Map<number, number>()
    const day3Cpu0 = processCpuSeconds(pid)
    const td = performance.now()
    const day3Resumed = await deliverAll(dayThree, port, concurrency, day3Statuses)
    const day3Wall = (performance.now() - td) / 1000
    const day3CpuPerMessageMs = ((processCpuSeconds(pid) - day3Cpu0) * 1000) / n
    const day3TargetReceiverAlone = (TARGET_GATEWAYS * day3CpuPerMessageMs) / 1000 / receiverCores
    const dailyTargetReceiverAlone = (warmTargetReceiverAlone + day3TargetReceiverAlone) / 2
    log(`answers: ${[...day3Statuses].map(([s, c]) => `${String(s)}×${String(c)}`).join(', ')}; day 3, 10,000 gateways: the receiver alone needs ${day3TargetReceiverAlone.toFixed(1)} s; a daily fleet (next day and day 3 alternating) ${dailyTargetReceiverAlone.toFixed(1)} s of its ${String(receiverCores)} core(s) (target 30 s)`)
    const e2e = await runE2e(pki, now, port, dir, arg('--e2e-gateways', 8), arg('--e2e-messages', 400), log)
    const floorCount = Math.min(n, 500)
    const floor = await measureTlsHttpFloor(pki, prepared.slice(0, floorCount), concurrency, ecdhCurves, placement)
    const floorMs = floor.full
    log(`TLS + HTTP floor: a bare node:https server with the receiver's TLS options (one process${placement.mode === 'pinned' ? ', on the receiver\'s CPU' : ''}) spent ${floorMs.toFixed(2)} ms CPU per connection (${String(floorCount)} gateways), ${floor.resumed.toFixed(2)} ms per resumed one; for 10,000 that is ${(TARGET_GATEWAYS * floorMs / 1000 / receiverCores).toFixed(1)} s / ${(TARGET_GATEWAYS * floor.resumed / 1000 / receiverCores).toFixed(1)} s of ${String(receiverCores)} core(s)`)
    return {
      figures: {
        emt_gateways: n,
        emt_warmup_gateways: warmup,
        emt_workers: workers,
        emt_pinned: placement.mode === 'pinned' ? 1 : 0,
        emt_certificates_registered: registerCertificates ? 1 : 0,
        emt_idle_generator: placement.mode === 'idle' ? 1 : 0,
        emt_receiver_cores: receiverCores,
        emt_startup_s: startupS,
        emt_wall_s: wall,
        emt_gateways_per_s: timed / wall,
        emt_stored: statuses.get(201) ?? 0,
        emt_cpu_ms_per_message: emtCpuPerMessageMs,
        emt_client_cpu_ms_per_message: clientCpuMs,
        emt_10000_wall_s: targetWall,
        emt_10000_wall_extrapolated: timed >= TARGET_GATEWAYS ? 0 : 1,
        emt_10000_receiver_alone_s: targetReceiverAlone,
        raw_ecdh_ecdsa_verify_ms: rawMs,
        raw_protocol_crypto_ops: RAW_PROTOCOL_OPS,
        raw_protocol_crypto_ms: rawProtocolMs,
        tls_http_floor_ms: floorMs,
        tls_http_floor_resumed_ms: floor.resumed,
        emt_next_day_wall_s: warmWall,
        emt_next_day_gateways_per_s: n / warmWall,
        emt_next_day_stored: warmStatuses.get(201) ?? 0,
        emt_next_day_sessions_resumed: resumed,
        emt_next_day_cpu_ms_per_message: warmCpuPerMessageMs,
        emt_next_day_client_cpu_ms_per_message: (warmClient.user + warmClient.system) / 1000 / n,
        emt_next_day_10000_wall_s: (TARGET_GATEWAYS * warmWall) / n,
        emt_next_day_10000_receiver_alone_s: warmTargetReceiverAlone,
        emt_day3_wall_s: day3Wall,
        emt_day3_stored: day3Statuses.get(201) ?? 0,
        emt_day3_sessions_resumed: day3Resumed,
        emt_day3_cpu_ms_per_message: day3CpuPerMessageMs,
        emt_day3_10000_receiver_alone_s: day3TargetReceiverAlone,
        emt_daily_10000_receiver_alone_s: dailyTargetReceiverAlone,
        raw_next_day_crypto_ms: 1000 / nextDayRate,
        raw_receiver_ops_as_built: RECEIVER_OPS_AS_BUILT,
        emt_native_ecdh: nativeEcdh === undefined ? 0 : 1,
        raw_receiver_as_built_ms: 1000 / asBuiltRate,
        e2e_messages: e2e.messages,
        e2e_gateways: e2e.gateways,
        e2e_stored: e2e.stored,
        e2e_wall_s: e2e.wall,
        e2e_messages_per_s: e2e.messages / e2e.wall,
      },
      // Receiver CPU per message against the bare crypto the protocol needs (RAW_PROTOCOL_OPS operations, above).
      ratios: {
        emt_vs_crypto_ratio: emtCpuPerMessageMs / rawProtocolMs,
        emt_vs_as_built_crypto_ratio: emtCpuPerMessageMs / (1000 / asBuiltRate),
        emt_vs_tls_http_floor_ratio: emtCpuPerMessageMs / floorMs,
        emt_vs_ecdh_verify_ratio: emtCpuPerMessageMs / rawMs,
        emt_next_day_vs_crypto_ratio: warmCpuPerMessageMs / (1000 / nextDayRate),
        emt_next_day_vs_tls_http_floor_ratio: warmCpuPerMessageMs / floor.resumed,
        emt_day3_vs_tls_http_floor_ratio: day3CpuPerMessageMs / floorMs,
      },
    }
  } finally {
    receiver.stop()
  }
}

/** A colon-separated list of TLS groups after `name` (`--ecdh-curves prime256v1:brainpoolP256r1`), checked against TR-03109-3's. */
function listArg(args: readonly string[], name: string): TlsCurve[] | undefined {
  const i = args.indexOf(name)
  if (i < 0) return undefined
  const list = (args[i + 1] ?? '').split(':')
  if (!list.every((c) => (TLS_CURVE_NAMES as readonly string[]).includes(c))) throw new Error(`${name}: a colon-separated list of ${TLS_CURVE_NAMES.join(', ')}`)
  return list as TlsCurve[]
}

/** The value after `name`, undefined when `name` is absent. */
function textArg(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name)
  if (i < 0) return undefined
  const value = args[i + 1]
  if (value === undefined || value.startsWith('--')) throw new Error(`${name}: a value is missing`)
  return value
}

interface RunningReceiver { readonly port: number; readonly pid: number; stop(): void }

/** `smgw emt serve --config FILE --workers W` as a child process, once it prints its gateway port. */
async function startReceiver(config: string, workers: number, placement: Placement, profDir?: string, cli = CLI): Promise<RunningReceiver> {
  const [command, commandArgs] = placement.receiverCommand([...(profDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profDir]), cli, 'emt', 'serve', '--config', config, '--workers', String(workers), '--json', '--log-level', 'warn'])
  // taskset execs node: the child's pid is the receiver's.
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => { reject(new Error(`the receiver did not start: ${stderr}`)) }, 60_000)
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString()
        const line = out.split('\n').find((l) => l.includes('"listening"'))
        if (line !== undefined) { clearTimeout(timer); resolve((JSON.parse(line) as { gatewayPort: number }).gatewayPort) }
      })
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the receiver exited (${String(code)}): ${stderr}`)) })
    })
    return { port, pid: child.pid ?? 0, stop: () => { child.kill('SIGTERM') } }
  } catch (err) {
    child.kill('SIGTERM')
    throw err
  }
}

/**
 * `--ab-ecdh-curves LIST` / `--ab-workers W` / `--ab-cli PATH`: the first contact of the prepared
 * gateways against two receivers at once — A as configured, B the same with `tls.ecdhCurves` =
 * LIST, with W workers (same store) or served by another checkout's `smgw` (a store of its own,
 * made by that checkout's code, the same gateways registered: its schema may differ); pinned,
 * both on the receiver's CPU, only one busy at a time — in
 * alternating blocks of `block` gateways (A, B, A, B …) after `warmup` untimed ones each, the
 * CPU of each block from /proc. On a machine whose speed drifts by ±20 % between runs, the
 * per-block ratio B/A (its median) tells a difference of a few per cent that two separate runs cannot.
 */
async function compareReceivers(o: { dir: string; prepared: readonly Delivery[]; workers: number; concurrency: number; warmup: number; block: number; variant: { readonly ecdhCurves: readonly TlsCurve[] } | { readonly workers: number } | { readonly cli: string }; placement: Placement; register: (lib: EmtLibrary, path: string) => Promise<void>; log: (line: string) => void }): Promise<BenchResult> {
  const base = JSON.parse(readFileSync(join(o.dir, 'emt.json'), 'utf8')) as { tls: Record<string, unknown>; storage: { sqlite: string } }
  const variant = o.variant
  // B's store, made by B's own library (its schema), registered as A's was: the same gateways and,
  // with --register-certificates, their remembered signatures (before session 10 B got only the
  // gateways, so a registered A was compared with an unregistered B).
  const storeOf = async (cli: string): Promise<string> => {
    const other = await import(pathToFileURL(join(dirname(cli), '..', '..', 'emt', 'src', 'index.ts')).href) as EmtLibrary
    const path = join(o.dir, `emt-b-${String(Date.now())}.db`)
    await o.register(other, path)
    return path
  }
  writeFileSync(join(o.dir, 'emt-b.json'), JSON.stringify('ecdhCurves' in variant
    ? { ...base, tls: { ...base.tls, ecdhCurves: variant.ecdhCurves } }
    : 'cli' in variant ? { ...base, storage: { sqlite: await storeOf(variant.cli) } } : base))
  const bWorkers = 'workers' in variant ? variant.workers : o.workers
  const receivers = [await startReceiver(join(o.dir, 'emt.json'), o.workers, o.placement), await startReceiver(join(o.dir, 'emt-b.json'), bWorkers, o.placement, undefined, 'cli' in variant ? variant.cli : CLI)] as const
  try {
    let at = 0
    const statuses = new Map<number, number>()
    for (const r of receivers) { await deliverAll(o.prepared.slice(at, at + o.warmup), r.port, o.concurrency, statuses); at += o.warmup }
    const perBlock: [number[], number[]] = [[], []]
    o.log(`A/B: receiver A as configured (${String(o.workers)} worker(s)), B ${'ecdhCurves' in variant ? `with tls.ecdhCurves ${variant.ecdhCurves.join(':')}` : 'cli' in variant ? `served by ${variant.cli}` : `with ${String(bWorkers)} worker(s)`}${o.placement.mode === 'pinned' ? ', both on the receiver\'s CPU' : o.placement.mode === 'idle' ? ', both on every CPU, the gateways at SCHED_IDLE' : ''}; ${String(o.warmup)} untimed gateways each, then alternating blocks of ${String(o.block)}`)
    while (at + 2 * o.block <= o.prepared.length) {
      for (const [k, r] of receivers.entries()) {
        const cpu0 = processCpuSeconds(r.pid)
        await deliverAll(o.prepared.slice(at, at + o.block), r.port, o.concurrency, statuses)
        perBlock[k as 0 | 1].push((processCpuSeconds(r.pid) - cpu0) * 1000 / o.block)
        at += o.block
      }
    }
    const [a, b] = perBlock
    if (a.length === 0) throw new Error(`A/B: too few gateways for one block pair after the warm-up (${String(o.prepared.length)} gateways, --ab-block ${String(o.block)})`)
    const median = (v: readonly number[]) => { const s = [...v].sort((x, y) => x - y); const m = s.length / 2; return Number.isInteger(m) ? ((s[m - 1] ?? Number.NaN) + (s[m] ?? Number.NaN)) / 2 : s[Math.floor(m)] ?? Number.NaN }
    const ratios = a.map((x, i) => (b[i] ?? Number.NaN) / x)
    o.log(`per block, receiver CPU ms per message — A: ${a.map((x) => x.toFixed(2)).join(' ')}; B: ${b.map((x) => x.toFixed(2)).join(' ')}; B/A: ${ratios.map((x) => x.toFixed(3)).join(' ')}`)
    o.log(`answers: ${[...statuses].map(([s, c]) => `${String(s)}×${String(c)}`).join(', ')}`)
    return {
      figures: { ab_blocks: a.length, ab_block_gateways: o.block, ab_a_workers: o.workers, ab_b_workers: bWorkers, ab_pinned: o.placement.mode === 'pinned' ? 1 : 0, ab_idle_generator: o.placement.mode === 'idle' ? 1 : 0, ab_a_cpu_ms_per_message: median(a), ab_b_cpu_ms_per_message: median(b), ab_stored: statuses.get(201) ?? 0 },
      ratios: { ab_b_vs_a_ratio: median(ratios) },
    }
  } finally {
    for (const r of receivers) r.stop()
  }
}

/**
 * The floor of the receiver's TLS + HTTP part, same run: a child node process with only
 * node:https and the receiver's TLS server options (mutual TLS 1.2 with TR-03109-3 suites and
 * groups, no roots for OpenSSL, as the receiver) that reads each body and answers
 * 201 — no path validation, no CMS, no store. Its CPU per connection is what any node receiver
 * with these certificates pays before doing its own work. Plain JavaScript (-e), no tsx.
 */
async function measureTlsHttpFloor(pki: CachedPki, prepared: readonly Delivery[], concurrency: number, ecdhCurves: readonly TlsCurve[] | undefined, placement: Placement): Promise<{ full: number; resumed: number }> {
  const tlsContext = createTlsContext({ profile: 'wan', identity: { key: pki.emtTlsKey, cert: der(pki.emtTlsCert), chain: [der(pki.subCaEmt)] }, trust: { roots: [der(pki.root)] }, ...(ecdhCurves === undefined ? {} : { ecdhCurves }) })
  // As the receiver: no roots for OpenSSL (our path validation, not part of the floor, checks the chain).
  const server = { ...tlsContext.serverOptions, ca: [] }
  const code = `
    const https = require('node:https')
    const options = JSON.parse(process.env.SMGW_BENCH_FLOOR_TLS)
    const server = https.createServer({ ...options, rejectUnauthorized: false }, (req, res) => {
      req.on('data', () => {})
      req.on('end', () => { res.statusCode = 201; res.end('{"status":"stored"}') })
    })
    server.listen(0, '127.0.0.1', () => { process.stdout.write(String(server.address().port) + '\\n') })`
  const [command, commandArgs] = placement.receiverCommand(['-e', code])
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SMGW_BENCH_FLOOR_TLS: JSON.stringify(server) } })
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (c: Buffer) => { resolve(Number(c.toString().trim())) })
      child.once('exit', (exitCode) => { reject(new Error(`the floor server exited (${String(exitCode)})`)) })
    })
    const pid = child.pid ?? 0
    // Warmed up like the receiver: the first tenth untimed.
    const warmup = Math.floor(prepared.length / 10)
    const statuses = new Map<number, number>()
    // Own session holders: the receiver's sessions stay with the deliveries.
    const items = prepared.map((p) => ({ ...p, session: { session: undefined } }))
    await deliverAll(items.slice(0, warmup), port, concurrency, statuses)
    const cpu0 = processCpuSeconds(pid)
    await deliverAll(items.slice(warmup), port, concurrency, statuses)
    const cpu1 = processCpuSeconds(pid)
    // The next day: every client resumes the session of its first connection (RFC 5077 tickets).
    const resumed = await deliverAll(items, port, concurrency, statuses, true)
    const cpu2 = processCpuSeconds(pid)
    if (statuses.get(201) !== 2 * items.length) throw new Error(`the floor server answered ${JSON.stringify([...statuses])}`)
    if (resumed !== items.length) throw new Error(`the floor server resumed ${String(resumed)} of ${String(items.length)} sessions`)
    return { full: ((cpu1 - cpu0) * 1000) / (items.length - warmup), resumed: ((cpu2 - cpu1) * 1000) / items.length }
  } finally {
    child.kill('SIGTERM')
  }
}

/**
 * End to end: G real gateway stores, each with M/G sealed meter-data messages in its outbox,
 * each delivered by the gateway's own delivery service (@smgw/gateway createDeliveryService:
 * outbox → mutual TLS → POST → receipt → outbox state, consumer log) to the running receiver.
 * Timed from the first kick until every outbox is empty; sealing and enqueueing are not timed.
 */
async function runE2e(pki: CachedPki, now: Date, port: number, dir: string, gatewayCount: number, total: number, log: (line: string) => void): Promise<{ messages: number; gateways: number; stored: number; wall: number }> {
  const gws = pki.gateways.slice(0, Math.max(1, Math.min(gatewayCount, pki.gateways.length)))
  const perGateway = Math.max(1, Math.floor(total / gws.length))
  const encryptor = createCmsEncryptor({ recipients: [der(pki.emtEncCert)] })
  const subCaGw = der(pki.subCaGw)
  const e2eDir = join(dir, `e2e-${String(now.getTime())}`)
  mkdirSync(e2eDir, { recursive: true })
  const far = new Date(8.64e15)
  const parts = await Promise.all(gws.map(async (g) => {
    const store = openStore(join(e2eDir, `${g.id}.db`), { now: () => new Date() })
    const sigSigner = createKeyObjectSigner(createPrivateKey(g.sigKey))
    const logs = createGatewayLogs({ store, signer: sigSigner, certificate: der(g.sigCert), now: () => new Date() })
    const cmsSigner = createCmsSigner({ signer: sigSigner, certificate: der(g.sigCert), chain: [subCaGw] })
    for (let k = 0; k < perGateway; k++) {
      const m = { ...message(g.id, now, 1), messageId: `${g.id}:taf7:e2e-${String(now.getTime())}-${String(k)}` }
      store.enqueueOutbox({ recipient: 'emt-1', purpose: 'taf7', payload: await encryptor.encrypt(await cmsSigner.sign(encodeMeterData(m), { signingTime: now })), messageId: m.messageId })
    }
    const service = createDeliveryService({
      recipients: [{ id: 'emt-1', url: `https://127.0.0.1:${String(port)}` }],
      tls: { identity: { key: g.tlsKey, cert: der(g.tlsCert), chain: [subCaGw] }, trust: { roots: [der(pki.root)] } },
      retry: { initialMs: 500, maxMs: 2000 },
    }, {
      store, logs, now: () => new Date(),
      describe: (item) => ({ consumers: [], dataClass: 'load-profile', text: formatDeliveryText(item) }),
      setTimer: (ms, fn) => { const t = setTimeout(fn, ms); return () => { clearTimeout(t) } },
    })
    return { g, store, service }
  }))
  log(`end to end: ${String(gws.length)} gateway stores × ${String(perGateway)} outbox items, delivered by the gateways' delivery services`)
  const t0 = performance.now()
  await Promise.all(parts.map(async ({ store, service }) => {
    await service.start()
    const deadline = performance.now() + 300_000
    while (store.dueOutbox(far, 1).length > 0 && performance.now() < deadline) await service.kick()
  }))
  const wall = (performance.now() - t0) / 1000
  const repo = emtLibrary.openSqliteRepository(JSON.parse(readFileSync(join(dir, 'emt.json'), 'utf8')).storage.sqlite as string)
  let stored = 0
  for (const { g } of parts) stored += (await repo.listMessages({ gatewayId: g.id })).filter((m) => m.messageId.includes(':e2e-')).length
  await repo.close()
  for (const { store, service } of parts) { await service.close(); store.close() }
  return { messages: gws.length * perGateway, gateways: gws.length, stored, wall }
}

export const benchmark: Benchmark = {
  name: 'wan',
  description: 'EMT receiving side: N gateways (--gateways, default 500; 10,000 is the target) each deliver one TAF 7 day over mutual TLS to smgw emt serve',
  inDefaultRun: false,
  run,
}

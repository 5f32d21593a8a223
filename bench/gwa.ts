// bench gwa — the administration path (issue 7).
// (a) Wake-up flood: a real UDP wake-up listener of the gateway (@smgw/gateway
//     createWakeUpListener, default rate limit 10/s, burst 20) gets N forged-but-plausible
//     packets (right gatewayId, fresh, increasing counters, a valid SM-PKI signature — by an
//     EMT, not the GWA) and N garbage packets. Reported: packets decided (rejected) per second,
//     CPU µs per rejected packet — gross (this process: sender and listener) and net of sending
//     the same packets to a bare UDP socket that only counts them (same run; ≈ 0 means rejecting
//     costs no more than receiving) — and the ratio of the net figure against the CPU of one
//     signature check of a wake-up (what verify-everything would cost per packet).
// (b) Fleet: M simulated gateways (default 1,000; --gateways 10000 for the issue's figure),
//     each with its own TLS certificate from the gateway sub-CA, open a mutual-TLS 1.2 session
//     to `smgw gwa serve` (a child process, SQLite inventory), fetch one signed profile command,
//     verify it with the GWA certificate and post the result. Reported: wall time,
//     sessions/s, the GWA's CPU per session (from /proc), and the ratio against bare mutual-TLS
//     handshakes (the first ≤ 300 gateways' certificates, same concurrency) to a plain node:tls
//     server process.
//   npm run bench -- gwa [--flood N] [--gateways M] [--concurrency C]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { connect as tlsConnect } from 'node:tls'
import { fileURLToPath } from 'node:url'
import { createSignerVerifier, signAdminObject, WAKE_UP_FORMAT, type SignerVerifier } from '@smgw/admin-protocol'
import { createCmsSigner, createKeyObjectSigner, encodePem, type CmsSigner } from '@smgw/crypto'
import { createWakeUpListener, WakeUpConfig } from '@smgw/gateway'
import { createCommandIssuer, openSqliteRepository } from '@smgw/gwa'
import { createDemoPki, createTlsContext, decodeCertificate, issueCertificate, type DemoPki } from '@smgw/pki'
import { createScriptedGateway } from '../packages/gwa/src/testing/gateway-client.js'
import type { Benchmark, BenchResult } from './types.js'

const CLI = fileURLToPath(new URL('../packages/cli/bin/smgw.js', import.meta.url))
const TOKEN = 'bench-gwa-token-0123456789'

const serial = () => { const s = randomBytes(16); s[0] = ((s[0] ?? 0) & 0x7f) | 0x01; return new Uint8Array(s) }
const keyPem = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }).toString()
const newKey = () => generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey

interface Pki { readonly demo: DemoPki; readonly keys: Map<string, KeyObject>; cert(label: string): Uint8Array; key(label: string): KeyObject }

async function makePki(): Promise<Pki> {
  const keys = new Map<string, KeyObject>()
  const demo = await createDemoPki({ gateways: 1, emts: 1 }, {
    newKey: (_c, label) => { const k = newKey(); keys.set(label, k); return Promise.resolve(createKeyObjectSigner(k)) },
    serialNumber: serial, now: new Date(Date.now() - 86_400_000),
  })
  const certs = new Map<string, Uint8Array>([...demo.cas.map((c) => [c.label, c.certificate] as const), ...demo.participants.flatMap((p) => p.certificates.map((c) => [c.label, c.certificate] as const))])
  return {
    demo, keys,
    cert: (l) => { const c = certs.get(l); if (c === undefined) throw new Error(l); return c },
    key: (l) => { const k = keys.get(l) ?? keys.get(`${l}/ca`); if (k === undefined) throw new Error(l); return k },
  }
}

const cpuUs = () => { const c = process.cpuUsage(); return c.user + c.system }
const tick = () => new Promise<void>((resolve) => { setImmediate(resolve) })

/** Sends `packets` to 127.0.0.1:port in batches, yielding to the event loop between them (the listener runs in this process). */
async function flood(port: number, packets: readonly Uint8Array[]): Promise<void> {
  const socket = createSocket('udp4')
  // Small batches: the listener reads between them, so few datagrams overflow the socket buffer.
  for (let i = 0; i < packets.length; i += 16) {
    await Promise.all(packets.slice(i, i + 16).map((p) => new Promise<void>((resolve) => { socket.send(p, port, '127.0.0.1', () => { resolve() }) })))
    await tick()
  }
  await new Promise<void>((resolve) => { socket.close(() => { resolve() }) })
}

/** Waits until `done()` stops growing for 300 ms (all packets decided or dropped by the kernel). */
async function settle(done: () => number): Promise<void> {
  let last = -1
  let quietSince = performance.now()
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    const now = done()
    if (now !== last) { last = now; quietSince = performance.now() } else if (performance.now() - quietSince > 300) return
  }
}

async function wakeUpFlood(pki: Pki, n: number, log: (line: string) => void): Promise<Record<string, number>> {
  const gwaSig = createCmsSigner({ signer: createKeyObjectSigner(pki.key('gwa/sig')), certificate: pki.cert('gwa/sig'), chain: [pki.cert('sub-ca-emt')] })
  const emtSig = createCmsSigner({ signer: createKeyObjectSigner(pki.key('emt-1/sig')), certificate: pki.cert('emt-1/sig'), chain: [pki.cert('sub-ca-emt')] })
  const verifier: SignerVerifier = createSignerVerifier({
    expectedSubject: decodeCertificate(pki.cert('gwa/sig')).subject, roots: [pki.cert('root')], intermediates: pki.demo.cas.filter((c) => c.label !== 'root').map((c) => c.certificate), notOwnRole: 'SIGNER_NOT_GWA',
  })
  const wakeUp = (signer: CmsSigner, counter: number) => signAdminObject({ format: WAKE_UP_FORMAT, gatewayId: 'smgw-0001', gwaId: 'gwa', counter, createdAt: new Date().toISOString() }, signer, new Date())
  log(`  signing ${String(n)} plausible forged wake-ups (EMT key)`)
  const plausible: Uint8Array[] = []
  for (let i = 1; i <= n; i++) plausible.push(await wakeUp(emtSig, i))
  const garbage = Array.from({ length: n }, () => new Uint8Array(randomBytes(plausible[0]?.length ?? 600)))

  // One genuine signature check (CPU per verify): what checking every packet would cost.
  const genuine = await wakeUp(gwaSig, 1)
  for (let i = 0; i < 20; i++) await verifier.open(genuine, new Date())
  const verifyRounds = 300
  const v0 = cpuUs()
  for (let i = 0; i < verifyRounds; i++) await verifier.open(genuine, new Date())
  const verifyUs = (cpuUs() - v0) / verifyRounds

  // The sending cost: the same packets to a bare UDP socket that only counts.
  const sink = createSocket('udp4')
  let sunk = 0
  sink.on('message', () => { sunk++ })
  await new Promise<void>((resolve) => { sink.bind(0, '127.0.0.1', resolve) })
  const sinkPort = sink.address().port
  const s0 = cpuUs()
  await flood(sinkPort, garbage)
  await settle(() => sunk)
  // Per packet sent: sending and receiving it on a bare socket (the sender pays for every packet,
  // also those the kernel drops at a full receive buffer). What the listener costs beyond that is its own work.
  const sendUs = (cpuUs() - s0) / garbage.length
  await new Promise<void>((resolve) => { sink.close(() => { resolve() }) })

  let counter = 0
  let accepted = 0
  const listener = createWakeUpListener(WakeUpConfig.parse({ host: '127.0.0.1', port: 0 }), {
    gatewayId: 'smgw-0001', verifier, now: () => new Date(), lastCounter: () => counter, acceptCounter: (c) => { counter = c },
    log: () => undefined, onWakeUp: () => { accepted++ },
  })
  await listener.start()
  const decided = () => Object.values(listener.stats()).reduce((a, b) => a + b, 0)
  const phase = async (packets: readonly Uint8Array[]) => {
    const before = decided()
    const c0 = cpuUs()
    const t0 = performance.now()
    await flood(listener.port(), packets)
    await settle(decided)
    const count = decided() - before
    const cpu = cpuUs() - c0
    return { count, seconds: (performance.now() - t0) / 1000 - 0.3, grossUs: cpu / Math.max(1, count), cpuUs: (cpu - sendUs * packets.length) / Math.max(1, count) }
  }
  const g = await phase(garbage)
  const p = await phase(plausible)
  const stats = listener.stats()
  await listener.close()
  log(`  sink: ${String(sunk)} of ${String(garbage.length)} received; garbage: ${String(g.count)} decided; plausible: ${String(p.count)} decided (${String(stats['rate-limited'])} rate-limited, ${String(stats['signer-not-gwa'])} signature checks), accepted ${String(accepted)}`)
  return {
    flood_packets_sent: 2 * n,
    flood_packets_decided: g.count + p.count,
    flood_garbage_rejected_per_s: g.count / g.seconds,
    flood_plausible_rejected_per_s: p.count / p.seconds,
    flood_garbage_cpu_us_per_packet: g.cpuUs,
    flood_plausible_cpu_us_per_packet: p.cpuUs,
    flood_garbage_cpu_us_per_packet_gross: g.grossUs,
    flood_plausible_cpu_us_per_packet_gross: p.grossUs,
    flood_signature_checks: stats['signer-not-gwa'] + stats['bad-signature'],
    flood_accepted: accepted,
    flood_bare_udp_cpu_us_per_packet: sendUs,
    wakeup_verify_cpu_us: verifyUs,
  }
}

/** CPU seconds (user + system) of a process and its threads, from /proc (Linux). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${String(pid)}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
  return (Number(fields[11]) + Number(fields[12])) / ticks
}

async function firstLine(child: ChildProcess): Promise<string> {
  if (child.stdout === null) throw new Error('no stdout')
  const it = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const line = await it.next()
  if (line.done === true) throw new Error('the child ended without output')
  return line.value
}

const stop = (child: ChildProcess) => new Promise<void>((resolve) => { child.once('exit', () => { resolve() }); child.kill('SIGTERM') })

async function pool<T>(items: readonly T[], concurrency: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await f(items[next++] as T)
  }))
}

const PLAIN_SERVER = `
import { createServer } from 'node:tls'
import { readFileSync } from 'node:fs'
const o = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const server = createServer({ ...o, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2',
  ciphers: 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256', ecdhCurve: 'brainpoolP256r1:brainpoolP384r1:brainpoolP512r1:prime256v1:secp384r1' },
  (socket) => { socket.end() })
server.listen(0, '127.0.0.1', () => { console.log(JSON.stringify({ port: server.address().port })) })
process.on('SIGTERM', () => { server.close(); process.exit(0) })
`

async function fleet(pki: Pki, m: number, concurrency: number, log: (line: string) => void): Promise<{ figures: Record<string, number>; ratios: Record<string, number> }> {
  const dir = mkdtempSync(join(tmpdir(), 'smgw-bench-gwa-'))
  try {
    const pem = (l: string) => encodePem('CERTIFICATE', pki.cert(l))
    const files: Record<string, string> = {
      'root.pem': pem('root'), 'chain.pem': pki.demo.cas.filter((c) => c.label !== 'root').map((c) => encodePem('CERTIFICATE', c.certificate)).join(''),
      'tls.cert.pem': pem('gwa/tls'), 'tls.key.pem': keyPem(pki.key('gwa/tls')), 'sig.cert.pem': pem('gwa/sig'), 'sig.key.pem': keyPem(pki.key('gwa/sig')),
      'ca.cert.pem': pem('sub-ca-gw'), 'ca.key.pem': keyPem(pki.key('sub-ca-gw')), 'emt-ca.pem': pem('sub-ca-emt'), token: TOKEN,
    }
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text, { mode: 0o600 })
    writeFileSync(join(dir, 'gwa.json'), JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 }, tls: { certificate: 'tls.cert.pem', key: 'tls.key.pem', chain: ['emt-ca.pem'] },
      sig: { certificate: 'sig.cert.pem', key: 'sig.key.pem', chain: ['emt-ca.pem'] }, ca: { certificate: 'ca.cert.pem', key: 'ca.key.pem' },
      pki: { roots: ['root.pem'], intermediates: ['chain.pem'] }, storage: { sqlite: 'gwa.db' }, api: { host: '127.0.0.1', port: 0, tokenFile: 'token' },
    }))

    log(`  issuing ${String(m)} gateway TLS certificates`)
    const subCa = pki.demo.cas.find((c) => c.label === 'sub-ca-gw')
    if (subCa === undefined) throw new Error('no sub-ca-gw')
    const now = new Date()
    const gateways: { id: string; key: KeyObject; cert: Uint8Array }[] = []
    for (let i = 1; i <= m; i++) {
      const id = `smgw-${String(i).padStart(5, '0')}`
      const key = newKey()
      const cert = await issueCertificate({
        profile: 'tls', tlsRole: 'client', subject: { C: 'DE', O: 'SMGW Bench', OU: 'SMGW', CN: id }, publicKey: createKeyObjectSigner(key).publicKey, serialNumber: serial(),
        notBefore: new Date(now.getTime() - 86_400_000), notAfter: new Date(now.getTime() + 700 * 86_400_000), issuer: { signer: subCa.signer, certificate: subCa.certificate },
      })
      gateways.push({ id, key, cert })
    }

    log(`  inventory: ${String(m)} gateways, one signed profile command each`)
    const repo = openSqliteRepository(join(dir, 'gwa.db'))
    const issuer = createCommandIssuer({ repository: repo, signer: createCmsSigner({ signer: createKeyObjectSigner(pki.key('gwa/sig')), certificate: pki.cert('gwa/sig'), chain: [pki.cert('sub-ca-emt')] }), now: () => new Date() })
    for (const g of gateways) {
      await repo.registerGateway({ id: g.id, registeredAt: now })
      await issuer.issue(g.id, { type: 'profile', version: 1, time: { servers: ['ntp.example'] } })
    }
    await repo.close()

    const child = spawn(process.execPath, [CLI, 'gwa', 'serve', '--config', join(dir, 'gwa.json'), '--json', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] })
    const started = JSON.parse(await firstLine(child)) as { adminPort: number }
    const verifier = createSignerVerifier({
      expectedSubject: decodeCertificate(pki.cert('gwa/sig')).subject, roots: [pki.cert('root')], intermediates: pki.demo.cas.filter((c) => c.label !== 'root').map((c) => c.certificate), notOwnRole: 'SIGNER_NOT_GWA',
    })
    let failures = 0
    let verified = 0
    const cpu0 = processCpuSeconds(child.pid ?? 0)
    const t0 = performance.now()
    await pool(gateways, concurrency, async (g) => {
      const client = createScriptedGateway({
        gatewayId: g.id, host: '127.0.0.1', port: started.adminPort, identity: { key: g.key, cert: g.cert, chain: [subCa.certificate] },
        trust: { roots: [pki.cert('root')] }, gwaCommonName: 'GWA Demo', verifier, now: () => new Date(),
      })
      try {
        const outcome = await client.session({}, (c) => ({ version: c.type === 'profile' ? c.version : 0, sha256: '00'.repeat(32) }))
        verified += outcome.commands.length
      } catch (err) {
        if (failures++ === 0) log(`  first failure: ${err instanceof Error ? err.message : String(err)}`)
      } finally {
        client.close()
      }
    })
    const seconds = (performance.now() - t0) / 1000
    const gwaCpu = processCpuSeconds(child.pid ?? 0) - cpu0
    await stop(child)
    const check = openSqliteRepository(join(dir, 'gwa.db'))
    const done = (await check.listCommands({ state: 'done' })).length
    await check.close()
    log(`  ${String(m - failures)} sessions in ${seconds.toFixed(1)} s, ${String(verified)} commands verified, ${String(done)} results stored, ${String(failures)} failed`)

    // Baseline: bare mutual-TLS handshakes with the same certificates to a plain node:tls server process.
    writeFileSync(join(dir, 'plain.mjs'), PLAIN_SERVER)
    writeFileSync(join(dir, 'plain.json'), JSON.stringify({ key: keyPem(pki.key('gwa/tls')), cert: pem('gwa/tls') + pem('sub-ca-emt'), ca: [pem('root')] }))
    const plain = spawn(process.execPath, [join(dir, 'plain.mjs'), join(dir, 'plain.json')], { stdio: ['ignore', 'pipe', 'inherit'] })
    const plainPort = (JSON.parse(await firstLine(plain)) as { port: number }).port
    // A sample of the gateways is enough for the rate (keeps the default run short).
    const sample = gateways.slice(0, Math.min(gateways.length, 300))
    const t1 = performance.now()
    let handshakeFailures = 0
    await pool(sample, concurrency, async (g) => {
      const ctx = createTlsContext({ identity: { key: g.key, cert: g.cert, chain: [subCa.certificate] }, trust: { roots: [pki.cert('root')] } })
      await new Promise<void>((resolve) => {
        const socket = tlsConnect({ ...ctx.clientOptions, host: '127.0.0.1', port: plainPort })
        socket.once('secureConnect', () => { socket.end(); resolve() })
        socket.once('error', () => { handshakeFailures++; resolve() })
      })
    })
    const handshakeSeconds = (performance.now() - t1) / 1000
    await stop(plain)
    const sessionsPerS = (m - failures) / seconds
    const handshakesPerS = (sample.length - handshakeFailures) / handshakeSeconds
    return {
      figures: {
        fleet_gateways: m, fleet_wall_s: seconds, fleet_sessions_per_s: sessionsPerS, fleet_failures: failures, fleet_results_stored: done,
        fleet_gwa_cpu_ms_per_session: (gwaCpu * 1000) / Math.max(1, m - failures), bare_tls_handshakes_per_s: handshakesPerS,
      },
      ratios: { fleet_sessions_vs_bare_handshakes: sessionsPerS / handshakesPerS },
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function run(log: (line: string) => void, args: readonly string[]): Promise<BenchResult> {
  const arg = (name: string, fallback: number) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : fallback }
  const n = arg('--flood', 5_000)
  const m = arg('--gateways', 1_000)
  const concurrency = arg('--concurrency', 32)
  const pki = await makePki()
  log(`(a) wake-up flood: ${String(n)} plausible + ${String(n)} garbage packets`)
  const f = await wakeUpFlood(pki, n, log)
  log(`(b) fleet: ${String(m)} gateways, concurrency ${String(concurrency)}`)
  const fl = await fleet(pki, m, concurrency, log)
  return {
    figures: { ...f, ...fl.figures },
    ratios: {
      // < 1: the rate limit keeps a flood cheaper than checking every packet's signature.
      flood_plausible_cpu_vs_verify: (f.flood_plausible_cpu_us_per_packet ?? 0) / (f.wakeup_verify_cpu_us ?? 1),
      flood_garbage_cpu_vs_verify: (f.flood_garbage_cpu_us_per_packet ?? 0) / (f.wakeup_verify_cpu_us ?? 1),
      ...fl.ratios,
    },
  }
}


export const benchmark: Benchmark = {
  name: 'gwa',
  description: 'administration: wake-up flood against the rate-limited listener (--flood N) and M gateways\' admin sessions to smgw gwa serve (--gateways, default 1,000; 10,000 is the target)',
  inDefaultRun: false,
  run,
}

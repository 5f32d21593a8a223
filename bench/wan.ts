// bench wan — the market participant's receiving side of the WAN (EMT part): N simulated
// gateways (default 10,000), each with its own TLS and SIG certificate from one sub-CA, each
// delivering one TAF 7 day (96 quarter hours) as real CMS over its own mutual-TLS 1.2
// connection to `smgw emt serve` (a child process, SQLite store). Reported: wall time,
// emt_gateways_per_s, the receiver's CPU per message (from /proc of the child), and
// emt_vs_crypto_ratio = that CPU per message / one raw ECDH + one ECDSA verify on the same
// curve measured in the same run.
//
// Certificates are made once and cached in the temp dir (smgw-bench-wan-<N>): issuing 20,000
// brainpool certificates takes a while. Messages are signed and encrypted before the timed
// phase; the timed phase is only the delivery: handshakes, intake checks, commits.
//   npm run bench -- wan [--gateways N] [--concurrency C]
import { execFileSync, spawn } from 'node:child_process'
import { createPrivateKey, diffieHellman, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CURVES, createCmsEncryptor, createCmsSigner, createKeyObjectSigner, decodeCertificates, encodePem, type CurveName } from '@smgw/crypto'
import { openSqliteRepository } from '@smgw/emt'
import { encodeMeterData, IDEMPOTENCY_HEADER, METER_DATA_CONTENT_TYPE, METER_DATA_PATH, VALUE_STATUS, type MeterDataMessage } from '@smgw/meter-data'
import { connectTls, createDemoPki, createTlsContext, issueCertificate, issueCrl, type TlsContext } from '@smgw/pki'
import { measureRate, type Benchmark } from './types.js'

const CURVE: CurveName = 'brainpoolP256r1'
const CLI = fileURLToPath(new URL('../packages/cli/bin/smgw.js', import.meta.url))

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

function message(id: string, now: Date): MeterDataMessage {
  const start = Math.floor(now.getTime() / 86_400_000) * 86_400_000 - 86_400_000 - 3_600_000
  let register = 12_345_678n
  return {
    format: 'smgw-meter-data', version: 1, messageId: `${id}:taf7:1`, gatewayId: id, recipient: 'emt-1', useCase: 'taf7',
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

/** CPU seconds (user + system) of a process and its live children (the receiver's workers), from /proc (Linux). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${String(pid)}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
  const children = readdirSync(`/proc/${String(pid)}/task`).flatMap((t) => readFileSync(`/proc/${String(pid)}/task/${t}/children`, 'utf8').trim().split(' ').filter((c) => c !== '').map(Number))
  // After the command name: field 3 is state, so utime/stime (fields 14/15) are at 11/12 here.
  return (Number(fields[11]) + Number(fields[12])) / ticks + children.reduce((sum, c) => sum + processCpuSeconds(c), 0)
}

async function post(ctx: TlsContext, port: number, body: Uint8Array, key: string): Promise<number> {
  const socket = await connectTls(ctx, { host: '127.0.0.1', port })
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

async function run(log: (line: string) => void, args: readonly string[]): Promise<{ figures: Record<string, number>; ratios: Record<string, number> }> {
  const arg = (name: string, fallback: number) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : fallback }
  const n = arg('--gateways', 10_000)
  const concurrency = arg('--concurrency', 64)
  // Receiver worker processes (node:cluster; default: one per CPU). Their start-up (tsx compiles the sources in each) is reported apart, not timed.
  const workers = arg('--workers', availableParallelism())
  const dir = join(tmpdir(), `smgw-bench-wan-${String(n)}`)
  mkdirSync(dir, { recursive: true })
  const cacheFile = join(dir, 'pki.json')
  let pki: CachedPki
  if (existsSync(cacheFile)) {
    pki = JSON.parse(readFileSync(cacheFile, 'utf8')) as CachedPki
    log(`certificates of ${String(n)} gateways from the cache ${cacheFile}`)
  } else {
    log(`issuing TLS and SIG certificates for ${String(n)} gateways (cached in ${dir} for later runs)`)
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
    tls: { certificate: 'emt-tls.pem', key: 'emt-tls.key', chain: ['chain.pem'] },
    enc: { certificate: 'emt-enc.pem', key: { file: 'emt-enc.key' } },
    pki: { roots: ['root.pem'], crls: ['root.crl.pem', 'gw.crl.pem', 'emt.crl.pem'] },
    storage: { sqlite: db }, workers,
  }))
  const repo = openSqliteRepository(db)
  for (const g of pki.gateways) await repo.addGateway(g.id, null, now)
  await repo.close()

  log(`signing and encrypting ${String(n)} messages (not timed)`)
  const encryptor = createCmsEncryptor({ recipients: [der(pki.emtEncCert)] })
  const root = der(pki.root)
  const subCaGw = der(pki.subCaGw)
  const prepared: { ctx: TlsContext; body: Uint8Array; key: string }[] = []
  for (const g of pki.gateways) {
    const m = message(g.id, now)
    const signer = createCmsSigner({ signer: createKeyObjectSigner(createPrivateKey(g.sigKey)), certificate: der(g.sigCert), chain: [subCaGw] })
    const body = await encryptor.encrypt(await signer.sign(encodeMeterData(m), { signingTime: now }))
    const ctx = createTlsContext({ identity: { key: g.tlsKey, cert: der(g.tlsCert), chain: [subCaGw] }, trust: { roots: [root] } })
    prepared.push({ ctx, body, key: m.messageId })
  }

  // The raw cost in the same run: one ECDH (brainpoolP256r1) + one ECDSA verify of a 6 KB content.
  const a = generateKeyPairSync('ec', { namedCurve: CURVES[CURVE].nodeName })
  const b = generateKeyPairSync('ec', { namedCurve: CURVES[CURVE].nodeName })
  const content = prepared[0]?.body ?? new Uint8Array(6000)
  const signature = sign('sha256', content, a.privateKey)
  const rawRate = await measureRate(2, () => {
    diffieHellman({ privateKey: a.privateKey, publicKey: b.publicKey })
    verify('sha256', content, a.publicKey, signature)
    return 1
  })

  const profDir = args.includes('--cpu-prof') ? join(dir, 'prof') : undefined
  const child = spawn(process.execPath, [...(profDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profDir]), CLI, 'emt', 'serve', '--config', join(dir, 'emt.json'), '--json', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const startedAt = performance.now()
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
    const startupS = (performance.now() - startedAt) / 1000
    const pid = child.pid ?? 0
    log(`delivering: ${String(n)} gateways, ${String(concurrency)} connections at a time, to the receiver (pid ${String(pid)}) on port ${String(port)}`)
    const cpu0 = processCpuSeconds(pid)
    const clientCpu0 = process.cpuUsage()
    const t0 = performance.now()
    const statuses = new Map<number, number>()
    let next = 0
    const worker = async () => {
      for (let i = next++; i < prepared.length; i = next++) {
        const p = prepared[i]
        if (p === undefined) break
        let status: number
        try { status = await post(p.ctx, port, p.body, p.key) } catch { status = 0 }
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
    const wall = (performance.now() - t0) / 1000
    const emtCpu = processCpuSeconds(pid) - cpu0
    const clientCpu = process.cpuUsage(clientCpu0)
    log(`answers: ${[...statuses].map(([s, c]) => `${String(s)}×${String(c)}`).join(', ')}`)
    const emtCpuPerMessageMs = (emtCpu * 1000) / n
    const rawMs = 1000 / rawRate
    return {
      figures: {
        emt_gateways: n,
        emt_workers: workers,
        emt_startup_s: startupS,
        emt_wall_s: wall,
        emt_gateways_per_s: n / wall,
        emt_stored: statuses.get(201) ?? 0,
        emt_cpu_ms_per_message: emtCpuPerMessageMs,
        emt_client_cpu_ms_per_message: (clientCpu.user + clientCpu.system) / 1000 / n,
        raw_ecdh_ecdsa_verify_ms: rawMs,
      },
      ratios: { emt_vs_crypto_ratio: emtCpuPerMessageMs / rawMs },
    }
  } finally {
    child.kill('SIGTERM')
  }
}

export const benchmark: Benchmark = {
  name: 'wan',
  description: 'EMT receiving side: N gateways (default 10,000) each deliver one TAF 7 day over mutual TLS to smgw emt serve',
  inDefaultRun: false,
  run,
}

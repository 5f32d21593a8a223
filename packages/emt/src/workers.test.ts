import cluster from 'node:cluster'
import { mkdtempSync, rmSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCmsEncryptor, createCmsSigner } from '@smgw/crypto'
import { encodeMeterData, IDEMPOTENCY_HEADER, METER_DATA_CONTENT_TYPE, METER_DATA_PATH, type MeterDataMessage } from '@smgw/meter-data'
import { connectTls, createTlsContext, decodeCertificate } from '@smgw/pki'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEmtConfig } from './config.js'
import { createEmtReceiver, type EmtReceiver } from './receiver.js'
import { sampleTaf7Message } from './testing/messages.js'
import { createTestPki, type TestPki } from './testing/pki.js'

// workers > 1: node:cluster workers (real processes, system clock) share one TLS port and one
// SQLite file; the primary serves the REST API and forwards CRL reloads.
const NOW = new Date()
const TOKEN = 'test-token-0123456789abcdef'
let dir = ''
let pki: TestPki
let receiver: EmtReceiver
const logs: Record<string, unknown>[] = []

beforeAll(async () => {
  // Round robin, so that consecutive connections reach both workers for certain (the receiver
  // lets the workers accept themselves unless node's NODE_CLUSTER_SCHED_POLICY says otherwise).
  process.env.NODE_CLUSTER_SCHED_POLICY = 'rr'
  cluster.schedulingPolicy = cluster.SCHED_RR
  dir = mkdtempSync(join(tmpdir(), 'smgw-emt-workers-'))
  pki = await createTestPki(join(dir, 'pki'), { gateways: 2, emts: 1, now: new Date(NOW.getTime() - 86_400_000) })
  await writeFile(join(dir, 'token'), `${TOKEN}\n`)
  const p = pki.participant('emt-1')
  receiver = createEmtReceiver(parseEmtConfig({
    participantId: 'emt-1', listen: { host: '127.0.0.1', port: 0 },
    tls: { certificate: p.tls.certPath, key: p.tls.keyPath, chain: [pki.chainPath] },
    enc: { certificate: p.enc.certPath, key: { file: p.enc.keyPath } },
    pki: { roots: [pki.rootPath], crls: [...pki.crlPaths] },
    storage: { sqlite: join(dir, 'emt.db') },
    api: { host: '127.0.0.1', port: 0, tokenFile: join(dir, 'token') },
    workers: 2,
  }), { logger: pino({ level: 'info' }, { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>) } }) })
  await receiver.start()
  for (const gw of ['smgw-0001', 'smgw-0002']) await receiver.repository().addGateway(gw, null, NOW)
}, 180_000)
afterAll(async () => {
  await receiver.close()
  rmSync(dir, { recursive: true, force: true })
}, 30_000)

async function deliver(message: MeterDataMessage, holder?: { session?: Buffer; resumed?: boolean }): Promise<{ status: number; json: Record<string, unknown> }> {
  const g = pki.participant(`gateways/${message.gatewayId}`)
  const subCa = pki.subCa('sub-ca-gw').certificate
  const body = await createCmsEncryptor({ recipients: [pki.participant('emt-1').enc.cert] })
    .encrypt(await createCmsSigner({ signer: g.sig.signer, certificate: g.sig.cert, chain: [subCa] }).sign(encodeMeterData(message), { signingTime: NOW }))
  const ctx = createTlsContext({ identity: { key: g.tls.key, cert: g.tls.cert, chain: [subCa] }, trust: { roots: [pki.root] } })
  const socket = await connectTls(ctx, { host: '127.0.0.1', port: receiver.ports().gateway, ...(holder?.session === undefined ? {} : { session: holder.session }) })
  if (holder !== undefined) {
    holder.resumed = socket.isSessionReused()
    holder.session = socket.getSession()
  }
  try {
    return await new Promise((resolve, reject) => {
      const req = httpRequest({
        createConnection: () => socket, method: 'POST', path: METER_DATA_PATH,
        headers: { 'content-type': METER_DATA_CONTENT_TYPE, 'content-length': String(body.length), [IDEMPOTENCY_HEADER]: message.messageId },
      }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }) })
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end(body)
    })
  } finally {
    socket.destroy()
  }
}

const today = () => new Date(Math.floor(NOW.getTime() / 86_400_000) * 86_400_000 - 86_400_000).toISOString()

describe('receiver with 2 worker processes', () => {
  it('stores concurrent deliveries through the shared port (each once), answers duplicates, and the REST API of the primary sees them', async () => {
    const messages = Array.from({ length: 8 }, (_, i) => sampleTaf7Message({ gatewayId: `smgw-000${String(1 + (i % 2))}`, messageId: `w-${String(i)}`, dayStart: today(), createdAt: NOW.toISOString() }))
    const answers = await Promise.all(messages.map((m) => deliver(m)))
    expect(answers.map((a) => a.status)).toEqual(messages.map(() => 201))
    expect((await deliver(messages[0] ?? sampleTaf7Message())).status).toBe(200)
    const stored = await receiver.repository().listMessages({})
    expect(stored.map((m) => m.messageId).sort()).toEqual(messages.map((m) => m.messageId).sort())
    const res = await fetch(`http://127.0.0.1:${String(receiver.ports().api)}/v1/messages`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(((await res.json()) as { messages: unknown[] }).messages).toHaveLength(8)
  }, 60_000)

  it('a TLS session started by one worker resumes on either (the primary hands both the same ticket keys)', async () => {
    const holder: { session?: Buffer; resumed?: boolean } = {}
    const resumed: boolean[] = []
    // Round robin over two workers: six connections in a row reach both several times.
    for (let i = 0; i < 6; i++) {
      const m = sampleTaf7Message({ gatewayId: 'smgw-0001', messageId: `resumed-${String(i)}`, dayStart: today(), createdAt: NOW.toISOString() })
      expect((await deliver(m, holder)).status).toBe(201)
      resumed.push(holder.resumed === true)
    }
    expect(resumed).toEqual([false, true, true, true, true, true])
  }, 60_000)

  it('reloadCrls reaches every worker: a revoked SIG certificate is refused by whichever worker takes the connection', async () => {
    const serial = Buffer.from(decodeCertificate(pki.participant('gateways/smgw-0002').sig.cert).serialHex, 'hex')
    const at = new Date(NOW.getTime() - 3_600_000)
    await pki.revoke('sub-ca-gw', [{ serialNumber: new Uint8Array(serial), revocationDate: at, reason: 'keyCompromise' }], at)
    await receiver.reloadCrls()
    // Four connections: round robin over two workers, so both answer at least once.
    const answers = await Promise.all([0, 1, 2, 3].map((i) => deliver(sampleTaf7Message({ gatewayId: 'smgw-0002', messageId: `revoked-${String(i)}`, dayStart: today(), createdAt: NOW.toISOString() }))))
    for (const a of answers) expect(a).toEqual({ status: 400, json: { code: 'SIGNER_CERTIFICATE_INVALID', message: expect.any(String) as string } })
    expect(logs.some((l) => l.event === 'crls-reloaded' && l.workers === 2)).toBe(true)
  }, 60_000)

  it('a worker that dies is logged and the other one keeps serving', async () => {
    const [victim] = Object.values(cluster.workers ?? {})
    expect(victim).toBeDefined()
    const exited = new Promise<void>((resolve) => { victim?.once('exit', () => { resolve() }) })
    victim?.process.kill('SIGKILL')
    await exited
    expect(logs.some((l) => l.event === 'worker-exited')).toBe(true)
    const m = sampleTaf7Message({ gatewayId: 'smgw-0001', messageId: 'after-exit', dayStart: today(), createdAt: NOW.toISOString() })
    expect((await deliver(m)).status).toBe(201)
  }, 60_000)

  it('an injected clock or repository is refused with workers > 1 (workers use the system clock and open the store themselves)', async () => {
    const r = createEmtReceiver(parseEmtConfig({
      participantId: 'emt-1', tls: { certificate: 'x', key: 'x' }, enc: { certificate: 'x', key: { file: 'x' } }, pki: { roots: ['x'] },
      storage: { sqlite: join(dir, 'other.db') }, workers: 2,
    }), { logger: pino({ level: 'silent' }), now: () => NOW })
    await expect(r.start()).rejects.toMatchObject({ code: 'EMT_START_FAILED' })
  })
})

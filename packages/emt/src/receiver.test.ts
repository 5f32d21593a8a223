import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { promisify } from 'node:util'
import { createCmsEncryptor, createCmsSigner, type ContentEncryptionName } from '@smgw/crypto'
import { encodeMeterData, IDEMPOTENCY_HEADER, METER_DATA_CONTENT_TYPE, METER_DATA_PATH, type MeterDataMessage } from '@smgw/meter-data'
import { connectTls, createTlsContext, decodeCertificate, signatureMemoKey } from '@smgw/pki'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEmtConfig, type EmtConfigInput } from './config.js'
import { createEmtReceiver, type EmtReceiver } from './receiver.js'
import { openSqliteRepository } from './repository/sqlite.js'
import type { EmtRepository } from './repository/types.js'
import { sampleTaf7Message } from './testing/messages.js'
import { createTestPki, type TestPki } from './testing/pki.js'
import { shouldSkipPostgres, startTestPostgres, type TestPostgres } from '@smgw/sql/testing'

const exec = promisify(execFile)
const PKI_TIME = new Date('2026-11-23T06:00:00.000Z')
const NOW = new Date('2026-11-24T06:00:00.000Z')
const TOKEN = 'test-token-0123456789abcdef'

let dir = ''
let pki: TestPki
let otherPki: TestPki
let pgServer: TestPostgres | undefined
let dbCounter = 0

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smgw-emt-receiver-'))
  pki = await createTestPki(join(dir, 'pki'), { gateways: 4, emts: 2, now: PKI_TIME })
  otherPki = await createTestPki(join(dir, 'other-pki'), { gateways: 1, emts: 1, now: PKI_TIME, organization: 'Other' })
  await writeFile(join(dir, 'token'), `${TOKEN}\n`)
  if (!shouldSkipPostgres()) pgServer = await startTestPostgres()
})
afterAll(() => {
  pgServer?.stop()
  rmSync(dir, { recursive: true, force: true })
})

function configFor(storage: EmtConfigInput['storage'], emt = 'emt-1'): EmtConfigInput {
  const p = pki.participant(emt)
  return {
    participantId: emt,
    listen: { host: '127.0.0.1', port: 0 },
    tls: { certificate: p.tls.certPath, key: p.tls.keyPath, chain: [pki.chainPath] },
    enc: { certificate: p.enc.certPath, key: { file: p.enc.keyPath } },
    pki: { roots: [pki.rootPath], crls: [...pki.crlPaths] },
    storage,
    api: { host: '127.0.0.1', port: 0, tokenFile: join(dir, 'token') },
  }
}

interface Answer { readonly status: number; readonly json: Record<string, unknown>; readonly headers: IncomingHttpHeaders; readonly text: string }

function httpOver(socket: TLSSocket, body: Uint8Array, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      createConnection: () => socket, method: 'POST', path: METER_DATA_PATH,
      headers: { 'content-type': METER_DATA_CONTENT_TYPE, 'content-length': String(body.length), ...headers },
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown>, headers: res.headers, text })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

function gatewayTls(p: TestPki, gw: string) {
  const g = p.participant(`gateways/${gw}`)
  return createTlsContext({
    identity: { key: g.tls.key, cert: g.tls.cert, chain: [p.subCa('sub-ca-gw').certificate] },
    trust: { roots: [pki.root] },
  }, { now: () => NOW })
}

/** `session`: offered when set (TLS 1.2 resumption), replaced by the connection's; `resumed` tells whether the server took it. */
interface SessionHolder { session?: Buffer; resumed?: boolean }

async function post(port: number, gw: string, body: Uint8Array, idempotencyKey: string | undefined, from: TestPki = pki, holder?: SessionHolder): Promise<Answer> {
  const socket = await connectTls(gatewayTls(from, gw), { host: '127.0.0.1', port, ...(holder?.session === undefined ? {} : { session: holder.session }) })
  if (holder !== undefined) {
    holder.resumed = socket.isSessionReused()
    holder.session = socket.getSession()
  }
  try {
    return await httpOver(socket, body, idempotencyKey === undefined ? {} : { [IDEMPOTENCY_HEADER]: idempotencyKey })
  } finally {
    socket.destroy()
  }
}

async function seal(message: MeterDataMessage, o: { signer?: string; sigCert?: Uint8Array; to?: string; contentEncryption?: ContentEncryptionName } = {}): Promise<Uint8Array> {
  const g = pki.participant(`gateways/${o.signer ?? message.gatewayId}`)
  const signer = createCmsSigner({ signer: g.sig.signer, certificate: o.sigCert ?? g.sig.cert, chain: [pki.subCa('sub-ca-gw').certificate] })
  const encryptor = createCmsEncryptor({ recipients: [pki.participant(o.to ?? 'emt-1').enc.cert], contentEncryption: o.contentEncryption ?? 'aes128-cbc' })
  return encryptor.encrypt(await signer.sign(encodeMeterData(message), { signingTime: NOW }))
}

function flipBit(bytes: Uint8Array, index: number): Uint8Array {
  const out = new Uint8Array(bytes)
  out[index] = (out[index] ?? 0) ^ 0x10
  return out
}

const storages = ['sqlite', 'postgres'] as const

describe.each(storages)('receiver (%s)', (storage) => {
  const skip = storage === 'postgres' && shouldSkipPostgres()
  const test = skip ? it.skip : it
  let receiver: EmtReceiver
  let port = 0
  let apiPort = 0
  const logs: Record<string, unknown>[] = []
  let n = 0
  const nextId = (gw = 'smgw-0001') => `${gw}:taf7:${storage}-${String(++n)}`

  beforeAll(async () => {
    if (skip) return
    const logger = pino({ level: 'debug' }, { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>) } })
    const store = storage === 'sqlite' ? { sqlite: join(dir, 'emt.db') } : { postgres: pgServer?.createDatabase(`emt_r${String(++dbCounter)}`) ?? '' }
    receiver = createEmtReceiver(parseEmtConfig(configFor(store)), { logger, now: () => NOW })
    await receiver.start()
    port = receiver.ports().gateway
    apiPort = receiver.ports().api ?? 0
    for (const gw of ['smgw-0001', 'smgw-0002', 'smgw-0003']) await receiver.repository().addGateway(gw, null, NOW)
  })
  afterAll(async () => {
    if (!skip) await receiver.close()
  })

  const storedIds = async () => (await receiver.repository().listMessages({})).map((m) => m.messageId)
  const expectRefused = async (answer: Answer, code: string, messageId: string) => {
    expect(answer.status).toBe(400)
    expect(answer.json).toEqual({ code, message: expect.any(String) as string })
    expect(await storedIds()).not.toContain(messageId)
    expect(logs.filter((l) => l.event === 'rejected' && l.code === code).length).toBeGreaterThan(0)
  }

  test('a valid message over real mutual TLS → 201 stored with its 96 values; the same again → 200 duplicate, stored once', async () => {
    const m = sampleTaf7Message({ messageId: nextId(), gaps: [5] })
    const body = await seal(m)
    const first = await post(port, 'smgw-0001', body, m.messageId)
    expect(first.status).toBe(201)
    expect(first.json).toEqual({ status: 'stored', messageId: m.messageId })
    const rows = (await receiver.repository().queryValues({ meteringPoint: 'p-3f9a01' })).filter((r) => r.messageId === m.messageId)
    expect(rows.map((r) => r.value)).toEqual(m.series[0]?.values.map((v) => v.value))
    const again = await post(port, 'smgw-0001', body, m.messageId)
    expect(again.status).toBe(200)
    expect(again.json).toEqual({ status: 'duplicate', messageId: m.messageId })
    expect((await storedIds()).filter((id) => id === m.messageId)).toHaveLength(1)
    expect((await receiver.repository().queryValues({})).filter((r) => r.messageId === m.messageId)).toHaveLength(96)
    expect(logs).toContainEqual(expect.objectContaining({ event: 'stored', gateway: 'smgw-0001', messageId: m.messageId }))
  })

  test('the posted body opens with openssl cms -decrypt and verifies with openssl cms -verify', async () => {
    const m = sampleTaf7Message({ messageId: nextId() })
    const body = await seal(m)
    expect((await post(port, 'smgw-0001', body, m.messageId)).status).toBe(201)
    const bodyPath = join(dir, `${storage}-body.der`)
    const signedPath = join(dir, `${storage}-signed.der`)
    await writeFile(bodyPath, body)
    const emt = pki.participant('emt-1')
    await exec('openssl', ['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', bodyPath, '-recip', emt.enc.certPath, '-inkey', emt.enc.keyPath, '-out', signedPath])
    const { stdout } = await exec('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', signedPath, '-CAfile', pki.rootPath, '-purpose', 'any'], { encoding: 'buffer' })
    expect(JSON.parse(stdout.toString('utf8'))).toEqual(m)
  })

  test('wrong signer: a message signed by another gateway than the TLS client → SENDER_UNKNOWN', async () => {
    const other = sampleTaf7Message({ gatewayId: 'smgw-0002', messageId: nextId('smgw-0002') })
    await expectRefused(await post(port, 'smgw-0001', await seal(other), other.messageId), 'SENDER_UNKNOWN', other.messageId)
    const claimed = sampleTaf7Message({ messageId: nextId() })
    await expectRefused(await post(port, 'smgw-0001', await seal(claimed, { signer: 'smgw-0002' }), claimed.messageId), 'SENDER_UNKNOWN', claimed.messageId)
  })

  test('tampered ciphertext: a flipped bit → DECRYPT_FAILED (GCM); CBC: refused by the signature check, never stored', async () => {
    const m = sampleTaf7Message({ messageId: nextId() })
    const gcm = await seal(m, { contentEncryption: 'aes128-gcm' })
    await expectRefused(await post(port, 'smgw-0001', flipBit(gcm, Math.floor(gcm.length / 2)), m.messageId), 'DECRYPT_FAILED', m.messageId)
    const cbc = await seal(m)
    const answer = await post(port, 'smgw-0001', flipBit(cbc, Math.floor(cbc.length / 2)), m.messageId)
    expect(answer.status).toBe(400)
    expect(['SIGNATURE_INVALID', 'MALFORMED', 'DECRYPT_FAILED']).toContain(answer.json.code)
    expect(await storedIds()).not.toContain(m.messageId)
  })

  test('replay: the same messageId with other content → REPLAYED; a message older than the replay window → REPLAYED', async () => {
    const m = sampleTaf7Message({ messageId: nextId() })
    expect((await post(port, 'smgw-0001', await seal(m), m.messageId)).status).toBe(201)
    const forged = sampleTaf7Message({ messageId: m.messageId, first: 999n })
    const answer = await post(port, 'smgw-0001', await seal(forged), m.messageId)
    expect(answer.status).toBe(400)
    expect(answer.json.code).toBe('REPLAYED')
    const rows = (await receiver.repository().queryValues({})).filter((r) => r.messageId === m.messageId)
    expect(rows.map((r) => r.value)).toEqual(m.series[0]?.values.map((v) => v.value))
    const old = sampleTaf7Message({ messageId: nextId(), dayStart: '2026-10-01T22:00:00.000Z' })
    await expectRefused(await post(port, 'smgw-0001', await seal(old), old.messageId), 'REPLAYED', old.messageId)
  })

  test('an expired gateway SIG certificate → SIGNER_CERTIFICATE_INVALID', async () => {
    const expired = await pki.issueSig('gateways/smgw-0001', new Date(NOW.getTime() - 60 * 86_400_000), new Date(NOW.getTime() - 86_400_000))
    const m = sampleTaf7Message({ messageId: nextId() })
    await expectRefused(await post(port, 'smgw-0001', await seal(m, { sigCert: expired }), m.messageId), 'SIGNER_CERTIFICATE_INVALID', m.messageId)
  })

  test('a revoked gateway SIG certificate (CRL reloaded) → SIGNER_CERTIFICATE_INVALID', async () => {
    const before = sampleTaf7Message({ gatewayId: 'smgw-0003', messageId: nextId('smgw-0003') })
    expect((await post(port, 'smgw-0003', await seal(before), before.messageId)).status).toBe(201)
    const serial = Buffer.from(decodeCertificate(pki.participant('gateways/smgw-0003').sig.cert).serialHex, 'hex')
    const at = new Date(NOW.getTime() - 3_600_000)
    await pki.revoke('sub-ca-gw', [{ serialNumber: new Uint8Array(serial), revocationDate: at, reason: 'keyCompromise' }], at)
    try {
      await receiver.reloadCrls()
      const m = sampleTaf7Message({ gatewayId: 'smgw-0003', messageId: nextId('smgw-0003') })
      await expectRefused(await post(port, 'smgw-0003', await seal(m), m.messageId), 'SIGNER_CERTIFICATE_INVALID', m.messageId)
    } finally {
      await pki.revoke('sub-ca-gw', [], at)
      await receiver.reloadCrls()
    }
  })

  test('a returning gateway resumes its TLS session (RFC 5077) and is stored; once its TLS certificate is revoked, the resumed session is refused before any request', async () => {
    const holder: SessionHolder = {}
    const first = sampleTaf7Message({ gatewayId: 'smgw-0002', messageId: nextId('smgw-0002') })
    expect((await post(port, 'smgw-0002', await seal(first), first.messageId, pki, holder)).status).toBe(201)
    expect(holder.resumed).toBe(false)
    const next = sampleTaf7Message({ gatewayId: 'smgw-0002', messageId: nextId('smgw-0002') })
    expect((await post(port, 'smgw-0002', await seal(next), next.messageId, pki, holder)).status).toBe(201)
    expect(holder.resumed).toBe(true)
    const serial = Buffer.from(decodeCertificate(pki.participant('gateways/smgw-0002').tls.cert).serialHex, 'hex')
    const at = new Date(NOW.getTime() - 3_600_000)
    await pki.revoke('sub-ca-gw', [{ serialNumber: new Uint8Array(serial), revocationDate: at, reason: 'keyCompromise' }], at)
    try {
      await receiver.reloadCrls()
      const refusedBefore = logs.filter((l) => l.event === 'tls-refused' && l.reason === 'REVOKED').length
      const revoked = sampleTaf7Message({ gatewayId: 'smgw-0002', messageId: nextId('smgw-0002') })
      const offered = holder.session
      await expect(post(port, 'smgw-0002', await seal(revoked), revoked.messageId, pki, holder)).rejects.toThrow()
      expect(holder.resumed).toBe(true)
      expect(offered).toBeDefined()
      expect(logs.filter((l) => l.event === 'tls-refused' && l.reason === 'REVOKED').length).toBe(refusedBefore + 1)
      expect(await storedIds()).not.toContain(revoked.messageId)
    } finally {
      await pki.revoke('sub-ca-gw', [], at)
      await receiver.reloadCrls()
    }
  })

  test('a message for another recipient: encrypted to EMT 2 → NOT_FOR_US; recipient field names EMT 2 → WRONG_RECIPIENT', async () => {
    const m = sampleTaf7Message({ messageId: nextId() })
    await expectRefused(await post(port, 'smgw-0001', await seal(m, { to: 'emt-2' }), m.messageId), 'NOT_FOR_US', m.messageId)
    const named = sampleTaf7Message({ messageId: nextId(), recipient: 'emt-2' })
    await expectRefused(await post(port, 'smgw-0001', await seal(named), named.messageId), 'WRONG_RECIPIENT', named.messageId)
  })

  test('a gateway that is not registered → SENDER_UNKNOWN', async () => {
    const m = sampleTaf7Message({ gatewayId: 'smgw-0004', messageId: nextId('smgw-0004') })
    await expectRefused(await post(port, 'smgw-0004', await seal(m), m.messageId), 'SENDER_UNKNOWN', m.messageId)
  })

  test('Idempotency-Key other than the messageId, or absent → IDEMPOTENCY_KEY_MISMATCH; garbage body → MALFORMED', async () => {
    const m = sampleTaf7Message({ messageId: nextId() })
    const body = await seal(m)
    await expectRefused(await post(port, 'smgw-0001', body, `${m.messageId}x`), 'IDEMPOTENCY_KEY_MISMATCH', m.messageId)
    await expectRefused(await post(port, 'smgw-0001', body, undefined), 'IDEMPOTENCY_KEY_MISMATCH', m.messageId)
    await expectRefused(await post(port, 'smgw-0001', new TextEncoder().encode('hello, not CMS'), 'x'), 'MALFORMED', 'x')
    await expectRefused(await post(port, 'smgw-0001', new Uint8Array(0), 'x'), 'MALFORMED', 'x')
  })

  test('TLS clients without a certificate or with one of another CA are refused before any request', async () => {
    const before = await storedIds()
    const ctx = gatewayTls(pki, 'smgw-0001')
    const { key: _key, cert: _cert, ...noCertificate } = ctx.clientOptions
    const attempt = async (options: typeof noCertificate) => {
      const socket = await new Promise<TLSSocket>((resolve, reject) => {
        const s = tlsConnect({ ...options, host: '127.0.0.1', port })
        s.once('secureConnect', () => { resolve(s) })
        s.once('error', reject)
      })
      try {
        return await httpOver(socket, new Uint8Array([1, 2, 3]), { [IDEMPOTENCY_HEADER]: 'x' })
      } finally {
        socket.destroy()
      }
    }
    const refusedBefore = logs.filter((l) => l.event === 'tls-refused').length
    await expect(attempt(noCertificate)).rejects.toThrow()
    await expect(post(port, 'smgw-0001', new Uint8Array([1]), 'x', otherPki)).rejects.toThrow()
    expect(logs.filter((l) => l.event === 'tls-refused').length).toBeGreaterThanOrEqual(refusedBefore + 2)
    expect(await storedIds()).toEqual(before)
  })

  test('a client certificate with a broken signature is refused by our path validation, the only check of the client chain', async () => {
    // OpenSSL gets no roots (it only checks the proof of possession, CertificateVerify, which
    // the genuine key passes): the refusal must come from our validation.
    const genuine = pki.participant('gateways/smgw-0001').tls
    const forged = new Uint8Array(genuine.cert)
    forged[forged.length - 1] = (forged[forged.length - 1] ?? 0) ^ 0x01
    const ctx = createTlsContext({ identity: { key: genuine.key, cert: forged, chain: [pki.subCa('sub-ca-gw').certificate] }, trust: { roots: [pki.root] } }, { now: () => NOW })
    const before = await storedIds()
    const m = sampleTaf7Message({ messageId: nextId() })
    const body = await seal(m)
    const refusedBefore = logs.filter((l) => l.event === 'tls-refused' && l.reason === 'BAD_SIGNATURE').length
    await expect((async () => {
      const socket = await connectTls(ctx, { host: '127.0.0.1', port })
      try {
        return await httpOver(socket, body, { [IDEMPOTENCY_HEADER]: m.messageId })
      } finally {
        socket.destroy()
      }
    })()).rejects.toThrow()
    expect(logs.filter((l) => l.event === 'tls-refused' && l.reason === 'BAD_SIGNATURE').length).toBe(refusedBefore + 1)
    expect(await storedIds()).toEqual(before)
    // The genuine certificate with the same key is accepted.
    expect((await post(port, 'smgw-0001', body, m.messageId)).status).toBe(201)
  })

  test('REST API: bearer token, metering points, values, messages, exports, OpenAPI, typed 4xx', async () => {
    const m = sampleTaf7Message({ messageId: nextId(), meteringPoint: `p-${storage}`, dayStart: '2026-11-22T23:00:00.000Z' })
    expect((await post(port, 'smgw-0001', await seal(m), m.messageId)).status).toBe(201)
    const get = async (path: string, token: string | null = TOKEN) => {
      const res = await fetch(`http://127.0.0.1:${String(apiPort)}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } })
      return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() }
    }
    expect((await get('/v1/metering-points', null)).status).toBe(401)
    expect(JSON.parse((await get('/v1/metering-points', 'wrong-token-0123456789')).text)).toMatchObject({ code: 'EMT_UNAUTHORIZED' })
    const points = JSON.parse((await get('/v1/metering-points')).text) as { meteringPoints: { id: string; values: number }[] }
    expect(points.meteringPoints).toContainEqual(expect.objectContaining({ id: `p-${storage}`, values: 96, obis: ['1-0:1.8.0*255'] }))
    const values = JSON.parse((await get(`/v1/metering-points/p-${storage}/values?obis=1-0:1.8.0*255&from=2026-11-23T00:00:00%2B01:00&to=2026-11-23T01:00:00%2B01:00`)).text) as { values: { time: string; value: string }[] }
    expect(values.values.map((v) => v.time)).toEqual(['2026-11-22T23:15:00.000Z', '2026-11-22T23:30:00.000Z', '2026-11-22T23:45:00.000Z', '2026-11-23T00:00:00.000Z'])
    expect(values.values.map((v) => v.value)).toEqual(m.series[0]?.values.slice(0, 4).map((v) => v.value))
    const messages = JSON.parse((await get('/v1/messages?gateway=smgw-0001')).text) as { messages: { messageId: string }[] }
    expect(messages.messages.map((x) => x.messageId)).toContain(m.messageId)
    const csv = await get(`/v1/export?format=csv&meteringPoint=p-${storage}`)
    expect(csv.type).toMatch(/^text\/csv/)
    expect(csv.text.split('\r\n')).toHaveLength(98)
    const mscons = await get(`/v1/export?format=mscons&meteringPoint=p-${storage}&recipient=9900000000003`)
    expect(mscons.text).toMatch(/^UNA:\+\.\? 'UNB\+UNOC:3\+emt-1:500\+9900000000003:500\+/)
    expect(mscons.text.match(/QTY\+220:/g)).toHaveLength(96)
    const json = JSON.parse((await get(`/v1/export?format=json&meteringPoint=p-${storage}`)).text) as { meteringPoints: { series: { values: unknown[] }[] }[] }
    expect(json.meteringPoints[0]?.series[0]?.values).toHaveLength(96)
    expect(JSON.parse((await get('/openapi.json', null)).text)).toMatchObject({ openapi: '3.1.0' })
    const bad = await get('/v1/export?format=xml')
    expect(bad.status).toBe(400)
    expect(JSON.parse(bad.text)).toMatchObject({ code: 'EMT_QUERY_INVALID' })
    expect((await get('/v1/messages?from=yesterday')).status).toBe(400)
    const missing = await get('/v1/metering-points/p-none/values')
    expect(missing.status).toBe(404)
    expect(JSON.parse(missing.text)).toMatchObject({ code: 'EMT_NOT_FOUND' })
    expect((await get('/health', null)).status).toBe(200)
  })
})

/** A started receiver (configuration `configure`d from configFor) on its own SQLite file with smgw-0001 registered; closed after `fn`. */
async function withReceiver(file: string, configure: (base: EmtConfigInput) => EmtConfigInput, fn: (receiver: EmtReceiver, repo: EmtRepository) => Promise<void>): Promise<void> {
  const repo = openSqliteRepository(join(dir, file))
  await repo.addGateway('smgw-0001', null, NOW)
  const receiver = createEmtReceiver(parseEmtConfig(configure(configFor({ sqlite: join(dir, 'unused.db') }))), { logger: pino({ level: 'silent' }), now: () => NOW, repository: repo })
  await receiver.start()
  try {
    await fn(receiver, repo)
  } finally {
    await receiver.close()
    await repo.close()
  }
}

describe('receiver storage failure and lifecycle', () => {
  it('sessionTickets false: no TLS session is resumed, every connection is a full handshake', async () => {
    await withReceiver('no-tickets.db', (base) => ({ ...base, sessionTickets: false }), async (receiver) => {
      const holder: SessionHolder = {}
      for (const i of [1, 2]) {
        const m = sampleTaf7Message({ messageId: `smgw-0001:taf7:no-tickets-${String(i)}` })
        expect((await post(receiver.ports().gateway, 'smgw-0001', await seal(m), m.messageId, pki, holder)).status).toBe(201)
        expect(holder.resumed).toBe(false)
      }
    })
  })

  it('remembers the certificate signatures it verified in its store; a restarted receiver takes them from there, and those written since on reloadCrls (SIGHUP)', async () => {
    const file = join(dir, 'memo.db')
    const startOn = async () => {
      const lines: Record<string, unknown>[] = []
      const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
      const r = createEmtReceiver(parseEmtConfig(configFor({ sqlite: file })), { logger, now: () => NOW })
      await r.start()
      return { r, lines }
    }
    const deliver = async (r: EmtReceiver, tag: string, from = pki) => {
      const m = sampleTaf7Message({ messageId: `smgw-0001:taf7:memo-${tag}` })
      return (await post(r.ports().gateway, 'smgw-0001', await seal(m), m.messageId, from)).status
    }
    const gw = pki.participant('gateways/smgw-0001')
    const subCa = pki.subCa('sub-ca-gw').certificate
    const spki = (der: Uint8Array) => decodeCertificate(der).publicKey
    const expected = [signatureMemoKey(gw.tls.cert, spki(subCa)), signatureMemoKey(gw.sig.cert, spki(subCa)), signatureMemoKey(subCa, spki(pki.root))].sort()

    const first = await startOn()
    await first.r.repository().addGateway('smgw-0001', null, NOW)
    expect(first.lines).toContainEqual(expect.objectContaining({ event: 'started', rememberedSignatures: 0 }))
    expect(await deliver(first.r, 'a')).toBe(201)
    await first.r.close()
    const other = openSqliteRepository(file)
    expect((await other.rememberedSignatures(NOW)).sort()).toEqual(expected)

    const second = await startOn()
    try {
      expect(second.lines).toContainEqual(expect.objectContaining({ event: 'started', rememberedSignatures: 3 }))
      expect(await deliver(second.r, 'b')).toBe(201)
      // An entry for a TLS certificate whose signature is broken (refused above without one),
      // written by another process and taken up by reloadCrls (SIGHUP), shows that the receiver
      // takes the signature from its store instead of verifying it.
      const broken = new Uint8Array(gw.tls.cert)
      broken[broken.length - 1] = (broken[broken.length - 1] ?? 0) ^ 0x01
      await other.rememberSignatures([{ key: signatureMemoKey(broken, spki(subCa)), notAfter: decodeCertificate(gw.tls.cert).notAfter }])
      await other.close()
      await second.r.reloadCrls()
      expect(second.lines).toContainEqual(expect.objectContaining({ event: 'crls-reloaded', rememberedSignatures: 4 }))
      const m = sampleTaf7Message({ messageId: 'smgw-0001:taf7:memo-c' })
      const ctx = createTlsContext({ identity: { key: gw.tls.key, cert: broken, chain: [subCa] }, trust: { roots: [pki.root] } }, { now: () => NOW })
      const socket = await connectTls(ctx, { host: '127.0.0.1', port: second.r.ports().gateway })
      try {
        expect((await httpOver(socket, await seal(m), { [IDEMPOTENCY_HEADER]: m.messageId })).status).toBe(201)
      } finally {
        socket.destroy()
      }
    } finally {
      await second.r.close()
    }
  })

  it('tls.ecdhCurves with prime256v1 first: a gateway\'s full handshake exchanges its ephemeral key on P-256, the message is stored', async () => {
    await withReceiver('p256-ecdhe.db', (base) => ({ ...base, tls: { ...base.tls, ecdhCurves: ['prime256v1', 'brainpoolP256r1'] } }), async (receiver, repo) => {
      const m = sampleTaf7Message({ messageId: 'smgw-0001:taf7:p256-ecdhe' })
      const socket = await connectTls(gatewayTls(pki, 'smgw-0001'), { host: '127.0.0.1', port: receiver.ports().gateway })
      expect(socket.getEphemeralKeyInfo()).toMatchObject({ type: 'ECDH', name: 'prime256v1' })
      try {
        expect((await httpOver(socket, await seal(m), { [IDEMPOTENCY_HEADER]: m.messageId })).status).toBe(201)
      } finally {
        socket.destroy()
      }
      expect((await repo.listMessages({ gatewayId: 'smgw-0001' })).map((r) => r.messageId)).toEqual([m.messageId])
    })
  })

  it('answers 503 (the gateway retries) when the store fails, and nothing is acknowledged', async () => {
    const repo = openSqliteRepository(join(dir, 'failing.db'))
    await repo.addGateway('smgw-0001', null, NOW)
    const logs: Record<string, unknown>[] = []
    const logger = pino({ level: 'debug' }, { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>) } })
    const receiver = createEmtReceiver(parseEmtConfig(configFor({ sqlite: join(dir, 'unused.db') })), { logger, now: () => NOW, repository: repo })
    await receiver.start()
    await receiver.start()
    try {
      await repo.close()
      const m = sampleTaf7Message({ messageId: 'smgw-0001:taf7:fail' })
      const answer = await post(receiver.ports().gateway, 'smgw-0001', await seal(m), m.messageId)
      expect(answer.status).toBe(503)
      expect(answer.json).toMatchObject({ code: 'EMT_STORAGE_FAILED' })
      expect(logs).toContainEqual(expect.objectContaining({ event: 'intake-failed' }))
    } finally {
      await receiver.close()
      await receiver.close()
    }
  })

  it('applies retention from its start: values of periods that ended more than retentionYears years back go, and it logs so', async () => {
    const repo = openSqliteRepository(join(dir, 'retention.db'))
    const old = sampleTaf7Message({ messageId: 'smgw-0001:taf7:2021', dayStart: '2021-11-23T23:00:00.000Z', createdAt: '2021-11-25T00:00:00.000Z' })
    const recent = sampleTaf7Message({ messageId: 'smgw-0001:taf7:2026' })
    for (const m of [old, recent]) await repo.storeMessage({ message: m, sha256: m.messageId, receivedAt: NOW, tooOld: false })
    const logs: Record<string, unknown>[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>) } })
    const receiver = createEmtReceiver(parseEmtConfig(configFor({ sqlite: join(dir, 'unused.db') })), { logger, now: () => NOW, repository: repo })
    await receiver.start()
    try {
      // Beside the intake: the start does not wait for it.
      await expect.poll(() => logs.find((l) => l.event === 'retention'), { timeout: 10_000 })
        .toMatchObject({ messages: 1, values: 96, periodEndAtOrBefore: '2022-12-31T23:00:00.000Z' })
      expect((await repo.listMessages({})).map((m) => m.messageId)).toEqual([recent.messageId])
    } finally {
      await receiver.close()
      await repo.close()
    }
  })

  it('a body over maxBodyBytes → 413 with code MALFORMED; nothing stored', async () => {
    const repo = openSqliteRepository(join(dir, 'small.db'))
    await repo.addGateway('smgw-0001', null, NOW)
    const receiver = createEmtReceiver(parseEmtConfig({ ...configFor({ sqlite: join(dir, 'unused.db') }), maxBodyBytes: 1024 }), { logger: pino({ level: 'silent' }), now: () => NOW, repository: repo })
    await receiver.start()
    try {
      const m = sampleTaf7Message({ messageId: 'smgw-0001:taf7:big' })
      const answer = await post(receiver.ports().gateway, 'smgw-0001', await seal(m), m.messageId)
      expect(answer.status).toBe(413)
      expect(answer.json).toMatchObject({ code: 'MALFORMED' })
      expect(await repo.listMessages({})).toEqual([])
    } finally {
      await receiver.close()
      await repo.close()
    }
  })

  it('a configuration naming a missing file fails to start with EMT_CONFIG_INVALID and leaves nothing listening', async () => {
    const config = configFor({ sqlite: join(dir, 'x.db') })
    const receiver = createEmtReceiver(parseEmtConfig({ ...config, pki: { roots: [join(dir, 'missing.pem')] } }), { logger: pino({ level: 'silent' }) })
    await expect(receiver.start()).rejects.toMatchObject({ code: 'EMT_CONFIG_INVALID' })
    await receiver.close()
  })
})

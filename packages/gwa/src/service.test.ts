import { generateKeyPairSync } from 'node:crypto'
import { createSocket, type Socket } from 'node:dgram'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSignerVerifier, openMeterKeys, openWakeUp, type AdminCommand, type SignerVerifier } from '@smgw/admin-protocol'
import { createKeyObjectAgreer, createKeyObjectSigner } from '@smgw/crypto'
import { createCsr, createRenewalRequest, decodeCertificate, validatePath } from '@smgw/pki'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseGwaConfig } from './config.js'
import { createGwa, type GwaService } from './service.js'
import { createScriptedGateway, type ScriptedGateway } from './testing/gateway-client.js'
import { createGwaTestPki, type GwaTestPki } from './testing/pki.js'

/*
 * The whole admin protocol over real sockets: the GWA service (SQLite inventory, mutual-TLS
 * admin server, REST API on loopback, UDP wake-ups) against a scripted gateway made of
 * @smgw/admin-protocol and node:https with the demo PKI's Gütesiegel and TLS identities.
 */

const TOKEN = 'operator-token-0123456789'
let dir = ''
let pki: GwaTestPki
let gwa: GwaService
let udp: Socket
const datagrams: Buffer[] = []
let verifier: SignerVerifier
const clients: ScriptedGateway[] = []

// The answers' JSON is checked by expect(...) matchers; typing every shape here would repeat the OpenAPI document.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const api = async (method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<{ status: number; body: any }> => {
  const res = await fetch(`http://127.0.0.1:${String(gwa.ports().api)}${path}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  let parsed: unknown = text
  try { parsed = JSON.parse(text) } catch { /* binary or text */ }
  return { status: res.status, body: parsed }
}

const gateway = (label: string, kind: 'gs' | 'tls', asId?: string): ScriptedGateway => {
  const issuer = kind === 'gs' ? 'sub-ca-gs' : 'sub-ca-gw'
  const client = createScriptedGateway({
    gatewayId: asId ?? label.split('/').at(-1) ?? label, host: '127.0.0.1', port: gwa.ports().admin,
    identity: { key: pki.key(`${label}/${kind}`), cert: pki.cert(`${label}/${kind}`), chain: [pki.cert(issuer)] },
    trust: { roots: [pki.root], intermediates: pki.intermediates }, gwaCommonName: 'GWA Demo', verifier, now: () => new Date(),
  })
  clients.push(client)
  return client
}

const nextDatagram = (): Promise<Buffer> => new Promise((resolve) => {
  const have = datagrams.shift()
  if (have !== undefined) { resolve(have); return }
  udp.once('message', () => { resolve(datagrams.shift() ?? Buffer.alloc(0)) })
})

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smgw-gwa-service-'))
  pki = await createGwaTestPki(dir, { gateways: 3, now: new Date(Date.now() - 86_400_000) })
  verifier = createSignerVerifier({ expectedSubject: decodeCertificate(pki.cert('gwa/sig')).subject, roots: [pki.root], intermediates: pki.intermediates, notOwnRole: 'SIGNER_NOT_GWA' })
  udp = createSocket('udp4')
  udp.on('message', (m) => { datagrams.push(m) })
  await new Promise<void>((resolve) => { udp.bind(0, '127.0.0.1', resolve) })
  // Many sessions of one gateway follow each other here; the rate limit has its own test (admin-server.test.ts).
  gwa = createGwa(parseGwaConfig(pki.config({ sessionRateLimit: { perMinute: 1000 } })), { logger: pino({ level: 'silent' }), apiToken: TOKEN })
  await gwa.start()
})

afterAll(async () => {
  for (const c of clients) c.close()
  await gwa.close()
  await new Promise<void>((resolve) => { udp.close(() => { resolve() }) })
  rmSync(dir, { recursive: true, force: true })
})

describe('GWA service', () => {
  it('register → wake → session with the Gütesiegel identity → profile verified with the GWA certificate → results stored', async () => {
    const udpPort = udp.address().port
    const registered = await api('POST', '/v1/gateways', { id: 'smgw-0001', wakeUpAddress: `127.0.0.1:${String(udpPort)}`, note: 'Musterstraße 1' })
    expect(registered.status).toBe(201)
    expect(registered.body.gateway).toMatchObject({ id: 'smgw-0001', state: 'registered', wakeUpCounter: 0 })

    const queued = await api('POST', '/v1/gateways/smgw-0001/commands', { type: 'profile', time: { servers: ['ntp.example'] }, wake: true })
    expect(queued.status).toBe(201)
    expect(queued.body).toMatchObject({ version: 1, command: { sequence: 1, type: 'profile', state: 'queued' }, wakeUp: { counter: 1 } })
    const wakeUp = await openWakeUp(new Uint8Array(await nextDatagram()), verifier, new Date())
    expect(wakeUp).toMatchObject({ gatewayId: 'smgw-0001', gwaId: 'gwa', counter: 1, format: 'smgw-wakeup/1' })

    const client = gateway('gateways/smgw-0001', 'gs')
    const outcome = await client.session({ certificates: [{ kind: 'gs', serial: '01', notAfter: '2036-01-01T00:00:00.000Z', source: 'initial' }] }, (c) => {
      expect(c).toMatchObject({ type: 'profile', version: 1, sequence: 1, gatewayId: 'smgw-0001', time: { servers: ['ntp.example'] } })
      return { version: 1, sha256: 'ab'.repeat(32) }
    })
    expect(outcome.rounds).toBe(1)
    expect(outcome.commands.map((c) => c.type)).toEqual(['profile'])

    const shown = await api('GET', '/v1/gateways/smgw-0001')
    expect(shown.body.gateway).toMatchObject({ state: 'initial', firmwareVersion: '1.0.0', lastSequence: 1, wakeUpCounter: 1, profileVersion: 1 })
    expect(shown.body.gateway.tlsSubject).toContain('CN=smgw-0001')
    expect(shown.body.profiles).toEqual([expect.objectContaining({ version: 1, state: 'applied', sha256: 'ab'.repeat(32), content: { time: { servers: ['ntp.example'] } } })])
    const commands = await api('GET', '/v1/gateways/smgw-0001/commands')
    expect(commands.body.commands).toEqual([expect.objectContaining({ sequence: 1, state: 'done', result: { version: 1, sha256: 'ab'.repeat(32) } })])
    const one = await api('GET', `/v1/commands/${String(commands.body.commands[0].commandId)}`)
    expect(typeof one.body.command.cms).toBe('string')

    // The next deploy is version 2 (active 0 reported, 1 kept); a second wake-up counts on.
    const second = await api('POST', '/v1/gateways/smgw-0001/commands', { type: 'profile', meters: [] })
    expect(second.body.version).toBe(2)
    expect((await api('POST', '/v1/gateways/smgw-0001/wake')).body.wakeUp).toMatchObject({ counter: 2 })
    expect((await openWakeUp(new Uint8Array(await nextDatagram()), verifier, new Date())).counter).toBe(2)
  })

  it('a cls part (the gateway\'s CLS section, device CAs inline) and null, which removes it, are queued like any part', async () => {
    await api('POST', '/v1/gateways', { id: 'smgw-0009' })
    const cls = { devices: [{ id: 'hp-1', consumer: 'c-1', address: { host: '192.168.1.20', port: 5020 } }], emts: [{ id: 'emt-1', tlsSubject: { CN: 'emt-1' }, allowedDevices: ['hp-1'] }] }
    expect((await api('POST', '/v1/gateways/smgw-0009/commands', { type: 'profile', cls })).body.version).toBe(1)
    expect((await api('POST', '/v1/gateways/smgw-0009/commands', { type: 'profile', cls: null })).body.version).toBe(2)
    expect(await api('POST', '/v1/gateways/smgw-0009/commands', { type: 'profile', cls: 'off' })).toMatchObject({ status: 400 })
    expect((await api('GET', '/v1/gateways/smgw-0009')).body.profiles).toEqual(expect.arrayContaining([
      expect.objectContaining({ version: 1, state: 'queued', content: { cls } }),
      expect.objectContaining({ version: 2, state: 'queued', content: { cls: null } }),
    ]))
  })

  it('CSRs in a result: the GWA issues the certificates and the same session installs them', async () => {
    await api('POST', '/v1/gateways', { id: 'smgw-0002' })
    expect((await api('POST', '/v1/gateways/smgw-0002/commands', { type: 'generate-csr', kinds: ['tls', 'sig'] })).status).toBe(201)
    const newKeys = { tls: generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey, sig: generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey }
    const client = gateway('gateways/smgw-0002', 'gs')
    const seen: AdminCommand[] = []
    const outcome = await client.session({}, async (c) => {
      seen.push(c)
      if (c.type === 'generate-csr') {
        const csrs: Record<string, string> = {}
        for (const kind of c.kinds) {
          if (kind === 'enc') continue
          const csr = await createCsr({ signer: createKeyObjectSigner(newKeys[kind]), subject: { C: 'DE', O: 'SMGW Demo', OU: 'SMGW', CN: 'smgw-0002' } })
          // TR-03109-4: the first operational request is signed again by the Gütesiegel key.
          const request = await createRenewalRequest({ csr, oldSigner: pki.signer('gateways/smgw-0002/gs'), oldCertificate: pki.cert('gateways/smgw-0002/gs'), chain: [pki.cert('sub-ca-gs')] })
          csrs[kind] = Buffer.from(request).toString('base64')
        }
        return { csrs }
      }
      if (c.type === 'install-certificates') return { serials: {} }
      throw new Error(`unexpected ${c.type}`)
    })
    expect(outcome.rounds).toBe(2)
    expect(seen.map((c) => c.type)).toEqual(['generate-csr', 'install-certificates'])
    const install = seen[1]
    if (install?.type !== 'install-certificates') throw new Error('no install command')
    const tls = new Uint8Array(Buffer.from(install.certificates.tls ?? '', 'base64'))
    const sig = new Uint8Array(Buffer.from(install.certificates.sig ?? '', 'base64'))
    const chain = (install.chain ?? []).map((c) => new Uint8Array(Buffer.from(c, 'base64')))
    expect(validatePath({ leaf: tls, intermediates: chain, roots: [pki.root], at: new Date(), purpose: 'tls-client' })).toMatchObject({ ok: true })
    expect(validatePath({ leaf: sig, intermediates: chain, roots: [pki.root], at: new Date(), purpose: 'sig' })).toMatchObject({ ok: true })
    expect(Buffer.from(decodeCertificate(tls).publicKey).equals(Buffer.from(createKeyObjectSigner(newKeys.tls).publicKey))).toBe(true)
    expect(decodeCertificate(tls).subject).toContain('CN=smgw-0002')
    expect(decodeCertificate(sig).issuer).toBe(decodeCertificate(pki.cert('sub-ca-gw')).subject)
    const commands = (await api('GET', '/v1/gateways/smgw-0002/commands')).body.commands
    expect(commands.map((c: { type: string; state: string }) => [c.type, c.state])).toEqual([['generate-csr', 'done'], ['install-certificates', 'done']])
    expect(commands[0].result.installCommandId).toBe(commands[1].commandId)
  })

  it('a CSR for another gateway is refused: no certificate, the command failed with GWA_CSR_REJECTED', async () => {
    await api('POST', '/v1/gateways', { id: 'smgw-0003' })
    await api('POST', '/v1/gateways/smgw-0003/commands', { type: 'generate-csr', kinds: ['sig'] })
    const client = gateway('gateways/smgw-0003', 'gs')
    const outcome = await client.session({}, async () => {
      const csr = await createCsr({ signer: createKeyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey), subject: { C: 'DE', CN: 'smgw-0001' } })
      const request = await createRenewalRequest({ csr, oldSigner: pki.signer('gateways/smgw-0003/gs'), oldCertificate: pki.cert('gateways/smgw-0003/gs'), chain: [pki.cert('sub-ca-gs')] })
      return { csrs: { sig: Buffer.from(request).toString('base64') } }
    })
    expect(outcome.commands.map((c) => c.type)).toEqual(['generate-csr'])
    const commands = (await api('GET', '/v1/gateways/smgw-0003/commands')).body.commands
    expect(commands).toEqual([expect.objectContaining({ type: 'generate-csr', state: 'failed', result: expect.objectContaining({ code: 'GWA_CSR_REJECTED' }) })])
  })

  it('read-log: the export is stored and served byte for byte', async () => {
    const queued = await api('POST', '/v1/gateways/smgw-0001/commands', { type: 'read-log', sinceSeq: 5 })
    expect(queued.status).toBe(201)
    const exportBytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff))
    const client = gateway('gateways/smgw-0001', 'gs')
    const outcome = await client.session({ lastSequence: 1, profileVersion: 1 }, (c) => {
      if (c.type === 'read-log') {
        expect(c).toMatchObject({ log: 'system', sinceSeq: 5 })
        return { export: exportBytes.toString('base64') }
      }
      return { version: 2, sha256: 'cd'.repeat(32) }
    })
    expect(outcome.commands.map((c) => c.type)).toEqual(['profile', 'read-log'])
    const logs = await api('GET', '/v1/gateways/smgw-0001/logs')
    expect(logs.body.logs).toEqual([expect.objectContaining({ bytes: 5000, gatewayId: 'smgw-0001' })])
    const res = await fetch(`http://127.0.0.1:${String(gwa.ports().api)}/v1/logs/${String(logs.body.logs[0].id)}`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(Buffer.from(await res.arrayBuffer()).equals(exportBytes)).toBe(true)
    const readLog = (await api('GET', '/v1/gateways/smgw-0001/commands')).body.commands.find((c: { type: string }) => c.type === 'read-log')
    expect(readLog.result).toEqual({ exportId: logs.body.logs[0].id, bytes: 5000, sha256: expect.any(String) })
  })

  it('a client whose certificate belongs to another gateway is refused (403), nothing is recorded', async () => {
    const before = (await api('GET', '/v1/gateways/smgw-0001')).body.gateway.lastContactAt
    await api('POST', '/v1/gateways/smgw-0001/commands', { type: 'taf-request', profileId: 'taf6-a', useCase: 6 })
    const impostor = gateway('gateways/smgw-0002', 'gs', 'smgw-0001')
    await expect(impostor.session({}, () => ({}))).rejects.toThrow(/403.*GWA_FORBIDDEN/)
    const results = await impostor.post('/v1/admin/results', { format: 'smgw-admin-results/1', gatewayId: 'smgw-0001', results: [] })
    expect(results).toMatchObject({ status: 403, body: { code: 'GWA_FORBIDDEN' } })
    expect((await api('GET', '/v1/gateways/smgw-0001')).body.gateway.lastContactAt).toBe(before)
    expect((await api('GET', '/v1/gateways/smgw-0001/commands?state=queued')).body.commands).toHaveLength(1)
  })

  it('an unknown or revoked gateway is refused (403); a malformed report is 400', async () => {
    // smgw-0003's operational TLS certificate is fine, but smgw-0003 is revoked now.
    await api('PATCH', '/v1/gateways/smgw-0003', { state: 'revoked' })
    await expect(gateway('gateways/smgw-0003', 'tls').session({}, () => ({}))).rejects.toThrow(/403/)
    expect((await api('POST', '/v1/gateways/smgw-0003/commands', { type: 'read-log' })).body.code).toBe('GWA_REQUEST_INVALID')
    // An EMT certificate names no gateway.
    const emt = createScriptedGateway({
      gatewayId: 'smgw-0009', host: '127.0.0.1', port: gwa.ports().admin,
      identity: { key: pki.key('emt-1/tls'), cert: pki.cert('emt-1/tls'), chain: [pki.cert('sub-ca-emt')] },
      trust: { roots: [pki.root], intermediates: pki.intermediates }, gwaCommonName: 'GWA Demo', verifier, now: () => new Date(),
    })
    clients.push(emt)
    await expect(emt.session({}, () => ({}))).rejects.toThrow(/403/)
    const stranger = gateway('gateways/smgw-0002', 'tls')
    expect(await stranger.post('/v1/admin/session', '{"format":"smgw-admin-report/1"')).toMatchObject({ status: 400, body: { code: 'GWA_REQUEST_INVALID' } })
    expect(await stranger.post('/v1/admin/session', { format: 'smgw-admin-report/9' })).toMatchObject({ status: 400, body: { code: 'GWA_REQUEST_INVALID' } })
  })

  it('REST: no or wrong token → 401; validation errors → 400; unknown → 404; duplicates → 409; OpenAPI is served', async () => {
    expect(await api('GET', '/v1/gateways', undefined, null)).toMatchObject({ status: 401, body: { code: 'GWA_UNAUTHORIZED' } })
    expect(await api('GET', '/v1/gateways', undefined, 'wrong-token-0123456789')).toMatchObject({ status: 401 })
    expect(await api('POST', '/v1/gateways', { id: 'bad id!' })).toMatchObject({ status: 400, body: { code: 'GWA_REQUEST_INVALID' } })
    expect(await api('POST', '/v1/gateways', { id: 'smgw-0004', wakeUpAddress: 'nohost' })).toMatchObject({ status: 400 })
    expect(await api('POST', '/v1/gateways', { id: 'smgw-0001' })).toMatchObject({ status: 409, body: { code: 'GWA_GATEWAY_EXISTS' } })
    expect(await api('POST', '/v1/gateways/smgw-0001/commands', { type: 'format-disk' })).toMatchObject({ status: 400 })
    expect(await api('POST', '/v1/gateways/smgw-0001/commands', { type: 'install-certificates', certificates: {} })).toMatchObject({ status: 400 })
    expect(await api('POST', '/v1/gateways/smgw-0001/commands', { type: 'profile' })).toMatchObject({ status: 400, body: { message: expect.stringContaining('at least one') } })
    expect(await api('POST', '/v1/gateways/smgw-0001/commands', { type: 'rollback-profile', version: 7 })).toMatchObject({ status: 400 })
    expect(await api('POST', '/v1/gateways/smgw-0001/commands', { type: 'firmware', version: '9.9.9' })).toMatchObject({ status: 404, body: { code: 'GWA_NOT_FOUND' } })
    expect(await api('POST', '/v1/gateways/smgw-0404/commands', { type: 'read-log' })).toMatchObject({ status: 404, body: { code: 'GWA_GATEWAY_UNKNOWN' } })
    expect(await api('POST', '/v1/gateways/smgw-0002/wake')).toMatchObject({ status: 502, body: { code: 'GWA_WAKE_UP_FAILED' } })
    expect(await api('GET', '/v1/commands/nope')).toMatchObject({ status: 404 })
    expect(await api('GET', '/v1/logs/abc')).toMatchObject({ status: 400 })
    expect(await api('POST', '/v1/firmware', { format: 'nope' })).toMatchObject({ status: 400 })
    // An EMT's CLS request: cls-open queued, the gateway woken at once.
    const cls = await api('POST', '/v1/gateways/smgw-0001/cls', { deviceId: 'wallbox-1', emtId: 'emt-1', endpoint: 'https://emt.example:9443', timeoutS: 600 })
    expect(cls).toMatchObject({ status: 201, body: { command: { type: 'cls-open', state: 'queued' }, wakeUp: { gatewayId: 'smgw-0001' } } })
    expect((await openWakeUp(new Uint8Array(await nextDatagram()), verifier, new Date())).counter).toBe(cls.body.wakeUp.counter)
    expect(await api('POST', '/v1/gateways/smgw-0001/cls', { deviceId: 'wallbox-1', emtId: 'emt-1', endpoint: 'http://emt.example', timeoutS: 600 })).toMatchObject({ status: 400 })
    const openapi = await api('GET', '/openapi.json', undefined, null)
    expect(openapi.status).toBe(200)
    expect(openapi.body.openapi).toBe('3.1.0')
    expect(Object.keys(openapi.body.paths)).toEqual(expect.arrayContaining(['/v1/gateways', '/v1/gateways/{id}/commands', '/v1/gateways/{id}/cls', '/v1/logs/{exportId}']))
  })

  it('meter keys: no ENC certificate → 409; ENC CSR issued by the GWA and reported → meter-keys sealed to it, opened by the gateway\'s new ENC key to exactly the keys', async () => {
    const keys = { 'wmbus-7': '00112233445566778899aabbccddeeff', 'wmbus-8': 'FFEEDDCCBBAA99887766554433221100' }
    expect(await api('POST', '/v1/gateways/smgw-0002/commands', { type: 'meter-keys', keys })).toMatchObject({ status: 409, body: { code: 'GWA_NO_ENC_CERTIFICATE' } })
    // The first ENC certificate: generate-csr → the GWA issues it from the gateway sub-CA and records it.
    await api('POST', '/v1/gateways/smgw-0002/commands', { type: 'generate-csr', kinds: ['enc'] })
    const encKey = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).privateKey
    let encDer = new Uint8Array(0)
    await gateway('gateways/smgw-0002', 'gs').session({}, async (c) => {
      if (c.type === 'generate-csr') {
        const csr = await createCsr({ signer: createKeyObjectSigner(encKey), subject: { C: 'DE', O: 'SMGW Demo', OU: 'SMGW', CN: 'smgw-0002' } })
        const request = await createRenewalRequest({ csr, oldSigner: pki.signer('gateways/smgw-0002/gs'), oldCertificate: pki.cert('gateways/smgw-0002/gs'), chain: [pki.cert('sub-ca-gs')] })
        return { csrs: { enc: Buffer.from(request).toString('base64') } }
      }
      if (c.type === 'install-certificates') encDer = new Uint8Array(Buffer.from(c.certificates.enc ?? '', 'base64'))
      return { serials: {} }
    })
    const enc = decodeCertificate(encDer)
    expect(enc.subject).toContain('CN=smgw-0002')
    // Installed, but not reported yet: still nothing to seal to.
    expect((await api('POST', '/v1/gateways/smgw-0002/commands', { type: 'meter-keys', keys })).body.code).toBe('GWA_NO_ENC_CERTIFICATE')
    const tlsClient = gateway('gateways/smgw-0002', 'tls')
    const reported = { certificates: [{ kind: 'enc' as const, serial: enc.serialHex, notAfter: enc.notAfter.toISOString(), source: 'operational' as const }] }
    await tlsClient.session(reported, () => ({}))

    const secret = '0123456789abcdef0123456789abcdeZ'
    const bad = await api('POST', '/v1/gateways/smgw-0002/commands', { type: 'meter-keys', keys: { 'wmbus-7': secret } })
    expect(bad).toMatchObject({ status: 400, body: { code: 'GWA_REQUEST_INVALID', message: expect.stringContaining('"wmbus-7": the key is not 32 hex digits') } })
    expect(JSON.stringify(bad.body)).not.toContain(secret.slice(0, 20))
    expect(await api('POST', '/v1/gateways/smgw-0002/commands', { type: 'meter-keys', keys: {} })).toMatchObject({ status: 400 })
    expect(await api('POST', '/v1/gateways/smgw-0404/commands', { type: 'meter-keys', keys })).toMatchObject({ status: 404, body: { code: 'GWA_GATEWAY_UNKNOWN' } })
    const queued = await api('POST', '/v1/gateways/smgw-0002/commands', { type: 'meter-keys', keys, replace: true })
    expect(queued).toMatchObject({ status: 201, body: { keyIds: ['wmbus-7', 'wmbus-8'], command: { type: 'meter-keys', state: 'queued' } } })

    const outcome = await tlsClient.session(reported, async (c) => {
      if (c.type !== 'meter-keys') throw new Error(`unexpected ${c.type}`)
      expect(c.replace).toBe(true)
      const opened = await openMeterKeys(new Uint8Array(Buffer.from(c.keys, 'base64')), 'smgw-0002', createKeyObjectAgreer(encKey), encDer)
      expect(opened.map((k) => [k.keyId, Buffer.from(k.key).toString('hex')])).toEqual([['wmbus-7', keys['wmbus-7']], ['wmbus-8', keys['wmbus-8'].toLowerCase()]])
      return { keyIds: opened.map((k) => k.keyId) }
    })
    expect(outcome.commands.map((c) => c.type)).toEqual(['meter-keys'])
    const stored = await api('GET', `/v1/commands/${String(queued.body.command.commandId)}`)
    expect(stored.body.command).toMatchObject({ state: 'done', result: { keyIds: ['wmbus-7', 'wmbus-8'] } })
    expect(Buffer.from(String(stored.body.command.cms), 'base64').includes(Buffer.from(keys['wmbus-7']))).toBe(false)
  })

  it('consumer requests: reported → listed per gateway and fleet-wide → answered (404 unknown, 400 bad state or note) → shown with the answer', async () => {
    const requests = [
      { id: 11, consumer: 'anna', kind: 'objection' as const, state: 'received' as const, createdAt: '2026-11-29T10:00:00.000Z', text: 'Widerspruch gegen TAF 7' },
      { id: 12, consumer: 'anna', kind: 'tariff-choice' as const, state: 'pending' as const, createdAt: '2026-11-29T10:05:00.000Z', text: 'tariff-night' },
    ]
    const client = gateway('gateways/smgw-0002', 'tls')
    await client.session({ requests }, () => ({}))
    const listed = await api('GET', '/v1/gateways/smgw-0002/requests')
    expect(listed.body.requests).toEqual([
      expect.objectContaining({ gatewayId: 'smgw-0002', requestId: 11, kind: 'objection', state: 'received', text: 'Widerspruch gegen TAF 7', inLastReport: true, answer: null }),
      expect.objectContaining({ requestId: 12, kind: 'tariff-choice', state: 'pending' }),
    ])
    const fleet = await api('GET', '/v1/requests?open=true')
    expect(fleet.body.requests.map((r: { gatewayId: string; requestId: number }) => `${r.gatewayId}#${String(r.requestId)}`)).toEqual(['smgw-0002#11', 'smgw-0002#12'])
    expect(await api('GET', '/v1/requests?open=maybe')).toMatchObject({ status: 400 })
    expect(await api('GET', '/v1/gateways/smgw-0404/requests')).toMatchObject({ status: 404, body: { code: 'GWA_GATEWAY_UNKNOWN' } })
    expect(await api('GET', '/v1/requests', undefined, null)).toMatchObject({ status: 401 })

    const answer = (body: Record<string, unknown>) => api('POST', '/v1/gateways/smgw-0002/commands', { type: 'answer-request', ...body })
    expect(await answer({ requestId: 99, state: 'done', note: 'ok' })).toMatchObject({ status: 404, body: { code: 'GWA_NOT_FOUND' } })
    expect(await answer({ requestId: 11, state: 'received', note: 'ok' })).toMatchObject({ status: 400, body: { code: 'GWA_REQUEST_INVALID' } })
    expect(await answer({ requestId: 11, state: 'done', note: 'x'.repeat(1001) })).toMatchObject({ status: 400 })
    expect(await answer({ requestId: 11, state: 'done', note: 'line\nbreak' })).toMatchObject({ status: 400 })
    expect(await answer({ requestId: 11, state: 'rejected', note: 'TAF 7 ist für Ihren Vertrag nötig.' })).toMatchObject({ status: 201, body: { command: { type: 'answer-request' } } })

    await client.session({ requests }, (c) => {
      if (c.type !== 'answer-request') throw new Error(`unexpected ${c.type}`)
      return { requestId: c.requestId, state: c.state }
    })
    const after = await api('GET', '/v1/gateways/smgw-0002/requests?open=false')
    expect(after.body.requests[0]).toMatchObject({ requestId: 11, state: 'rejected', answer: { state: 'rejected', note: 'TAF 7 ist für Ihren Vertrag nötig.' } })
    expect((await api('GET', '/v1/requests?open=true')).body.requests.map((r: { requestId: number }) => r.requestId)).toEqual([12])
    const openapi = await api('GET', '/openapi.json', undefined, null)
    expect(Object.keys(openapi.body.paths)).toEqual(expect.arrayContaining(['/v1/requests', '/v1/gateways/{id}/requests']))
  })
})

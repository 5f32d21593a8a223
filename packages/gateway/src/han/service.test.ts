import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { request } from 'node:https'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseGatewayConfig, type GatewayConfig } from '../config.js'
import { decodeLogExport } from '../log/export.js'
import { verifyLog } from '../log/verify.js'
import { createGatewayLogs, type GatewayLogs } from '../log/writer.js'
import { openStore } from '../store/store.js'
import type { ReadingInput, Store } from '../store/types.js'
import { parseTariffProfiles, type TariffProfile } from '../taf/profile.js'
import { createTafService } from '../taf/service.js'
import { createTempDir, createTestClock, createTestSig } from '../testing.js'
import { createHanAccounts } from './accounts.js'
import { isConsentGranted } from './consent.js'
import { hashPassword } from './password.js'
import { createConsumerRequests } from '../admin/requests.js'
import { createHanService, type HanService } from './service.js'
import { hanTlsFiles } from './tls.js'
import { MIGRATIONS } from '../store/migrations.js'
import { authorize, type Operation } from '../admin/access.js'
import { HAN_ROUTE_OPERATIONS, isHanRouteAllowed, type HanRoute } from './access.js'
import { HAN_OPENAPI } from './openapi.js'

// Real parts: HTTPS on 127.0.0.1 port 0 with the self-signed HAN certificate, a real SQLite
// store, the hash-chained logs with a demo SIG key; the clock is a test clock.

interface Res { status: number; headers: Record<string, string | string[] | undefined>; text: string; json: () => Record<string, unknown> }

let tmp: { dir: string; remove: () => Promise<void> }
let store: Store
let logs: GatewayLogs
let config: GatewayConfig
let profiles: readonly TariffProfile[]
/** What the HAN is told is in force; a test swaps it as a GWA configuration version would. */
let inForce: { meters: GatewayConfig['meters']; profiles: readonly TariffProfile[] }
let han: HanService
let ca: string
const clock = createTestClock('2026-05-01T08:00:00Z')
const listeners = new Set<(batch: readonly ReadingInput[]) => void>()
const IMPORT = '1-0:1.8.0*255'

function call(method: string, path: string, o: { body?: unknown; raw?: string; cookie?: string; csrf?: string; token?: string; type?: string; port?: number } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const payload = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body))
    const headers: Record<string, string> = {}
    if (payload !== undefined) headers['content-type'] = o.type ?? 'application/json'
    if (o.cookie !== undefined) headers.cookie = o.cookie
    if (o.csrf !== undefined) headers['x-csrf-token'] = o.csrf
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`
    const req = request({ host: '127.0.0.1', port: o.port ?? han.port(), method, path, headers, ca, checkServerIdentity: () => undefined, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> })
      })
    })
    req.on('error', reject)
    req.end(payload)
  })
}

async function login(username: string, password = 'correct horse'): Promise<{ cookie: string; csrf: string; res: Res }> {
  const res = await call('POST', '/api/v1/session', { body: { username, password } })
  expect(res.status).toBe(200)
  const set = res.headers['set-cookie']
  const cookie = (Array.isArray(set) ? set[0] : set)?.split(';')[0] ?? ''
  return { cookie, csrf: String(res.json().csrfToken), res }
}

const systemEntries = () => store.logRows.entries('system', '').map((r) => ({ type: String(r.type), fields: JSON.parse(String(r.fields)) as Record<string, unknown> }))
const consumerEntries = (c: string) => store.logRows.entries('consumer', c).map((r) => ({ type: String(r.type), fields: JSON.parse(String(r.fields)) as Record<string, unknown> }))
const reading = (meterId: string, iso: string, mantissa: bigint): ReadingInput => ({ meterId, quantity: IMPORT, time: new Date(iso), mantissa, scaler: -1, unit: 'Wh' })

beforeAll(async () => {
  tmp = await createTempDir('smgw-han-')
  const sig = await createTestSig()
  const path = join(tmp.dir, 'gateway.db')
  store = openStore(path, { now: clock.now })
  logs = createGatewayLogs({ store, signer: sig.signer, certificate: sig.certificate, now: clock.now })
  config = parseGatewayConfig({
    gatewayId: 'smgw-0001', store: { path }, logs: { sigKey: 'sig.key', sigCertificate: 'sig.pem' },
    meters: [
      { id: 'm-a', kind: 'sml', intervalS: 2, consumer: 'c-a', transport: { file: 'a.bin' } },
      { id: 'm-b', kind: 'sml', intervalS: 2, consumer: 'c-b', transport: { file: 'b.bin' } },
    ],
    han: { port: 0, tariffs: [{ id: 'dyn-1', name: 'Dynamic', description: 'hourly prices' }] },
  })
  const taf7 = (id: string, meterId: string) => ({ id, useCase: 'taf7', meteringPoint: `mp-${meterId}`, channels: [{ meterId, obis: '1-0:1.8.0' }], recipients: [{ id: 'emt-1', role: 'supplier' }], schedule: { periodSeconds: 900, send: { everyHours: 1 } } })
  profiles = parseTariffProfiles([
    taf7('taf7-a', 'm-a'), taf7('taf7-b', 'm-b'),
    { id: 'taf1-a', useCase: 'taf1', meteringPoint: 'mp-m-a', channels: [{ meterId: 'm-a', obis: '1-0:1.8.0' }], recipients: [{ id: 'emt-1', role: 'supplier' }], schedule: { billingPeriod: 'monthly' } },
  ])
  // One account through the real account API (scrypt N = 2^15); the others with N = 2^10 so the
  // many logins of these tests stay fast (verification reads the parameters from the stored hash).
  await createHanAccounts(store, new Set(['c-a', 'c-b'])).add({ username: 'dave', role: 'consumer', consumer: 'c-a', password: 'correct horse' })
  const cheap = await hashPassword('correct horse', { N: 1024, r: 8, p: 1 })
  store.han.addAccount({ username: 'alice', role: 'consumer', consumer: 'c-a', password: cheap })
  store.han.addAccount({ username: 'bob', role: 'consumer', consumer: 'c-b', password: cheap })
  store.han.addAccount({ username: 'carol', role: 'consumer', consumer: 'c-b', password: cheap })
  store.han.addAccount({ username: 'tech', role: 'technician', password: cheap })
  store.appendReadings([
    reading('m-a', '2026-05-01T06:59:50Z', 1000n), reading('m-a', '2026-05-01T07:14:55Z', 1010n), reading('m-a', '2026-05-01T07:29:58Z', 1025n),
    reading('m-b', '2026-05-01T07:29:58Z', 777_000n),
  ])
  await logs.consumer('c-b', { type: 'data-processed', fields: { purpose: 'lmn-ingest', dataClass: 'meter-readings', text: 'secret of bob' } })
  await logs.consumer('c-a', { type: 'data-processed', fields: { purpose: 'lmn-ingest', dataClass: 'meter-readings', text: 'alice reading stored' } })
  inForce = { meters: config.meters, profiles }
  han = createHanService(config, {
    store, logs, now: clock.now, inForce: () => inForce, ui: false,
    onReadings: (l) => { listeners.add(l); return () => { listeners.delete(l) } },
    status: () => ({ state: 'running', meters: [{ id: 'm-a', kind: 'sml', state: 'ok', lastReadingAt: clock.now(), keyRejected: 0, garbageBytes: 0 }, { id: 'm-b', kind: 'sml', state: 'waiting', keyRejected: 1, garbageBytes: 7 }] }),
  })
  await han.start()
  await han.start() // idempotent
  ca = await readFile(hanTlsFiles(path).certificate, 'utf8')
})
afterAll(async () => {
  await han.close()
  await han.close()
  store.close()
  await tmp.remove()
})

describe('login', () => {
  it('sets a HttpOnly, Secure, SameSite=Strict session cookie, returns the user and a CSRF token, and logs the login', async () => {
    const { res, cookie } = await login('alice')
    expect(res.json()).toMatchObject({ user: { username: 'alice', role: 'consumer', consumer: 'c-a' } })
    const set = String(res.headers['set-cookie'])
    expect(set).toMatch(/^smgw_session=[A-Za-z0-9_-]{43};/)
    for (const flag of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/']) expect(set).toContain(flag)
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'")
    expect(res.headers['referrer-policy']).toBe('no-referrer')
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/)
    expect(systemEntries().at(-1)).toEqual({ type: 'login-succeeded', fields: { interface: 'han', role: 'consumer' } })
    const again = await call('GET', '/api/v1/session', { cookie })
    expect(again.json()).toMatchObject({ user: { username: 'alice' }, csrfToken: res.json().csrfToken })
    // The password is stored as scrypt with its parameters, never as given.
    expect(store.han.account('dave')?.password).toMatch(/^scrypt\$32768\$8\$1\$[0-9a-f]{32}\$[0-9a-f]{64}$/)
    const d = await login('dave')
    expect(d.res.json()).toMatchObject({ user: { username: 'dave', consumer: 'c-a' } })
  })

  it('refuses a wrong password (401, system log), locks after 5 failures (423 until), doubles the lock, and opens after it', async () => {
    const bad = await call('POST', '/api/v1/session', { body: { username: 'bob', password: 'wrong password' } })
    expect(bad.status).toBe(401)
    expect(bad.json()).toMatchObject({ code: 'BAD_CREDENTIALS' })
    expect(systemEntries().at(-1)).toEqual({ type: 'login-failed', fields: { interface: 'han', role: 'consumer', reason: 'bad-credentials' } })
    for (let i = 0; i < 3; i++) expect((await call('POST', '/api/v1/session', { body: { username: 'bob', password: 'wrong password' } })).status).toBe(401)
    const locked = await call('POST', '/api/v1/session', { body: { username: 'bob', password: 'wrong password' } })
    expect(locked.status).toBe(423)
    expect(locked.json()).toMatchObject({ code: 'LOCKED', until: new Date(clock.now().getTime() + 15 * 60_000).toISOString() })
    // Even the right password is refused while locked.
    const still = await call('POST', '/api/v1/session', { body: { username: 'bob', password: 'correct horse' } })
    expect(still.status).toBe(423)
    expect(systemEntries().at(-1)?.fields).toMatchObject({ reason: 'locked' })
    clock.advance(15 * 60_000 + 1)
    for (let i = 0; i < 5; i++) await call('POST', '/api/v1/session', { body: { username: 'bob', password: 'wrong password' } })
    expect(store.han.account('bob')?.lockedUntil?.getTime()).toBe(clock.now().getTime() + 30 * 60_000)
    clock.advance(30 * 60_000 + 1)
    await login('bob')
    expect(store.han.account('bob')).toMatchObject({ failures: 0, lockouts: 0 })
  })

  it('an unknown user gets the same 401 as a wrong password', async () => {
    clock.advance(61_000)
    const r = await call('POST', '/api/v1/session', { body: { username: 'mallory', password: 'whatever it is' } })
    expect(r.status).toBe(401)
    expect(r.json()).toEqual({ code: 'BAD_CREDENTIALS', message: 'wrong username or password' })
  })

  it('rate-limits login attempts per client address (429)', async () => {
    clock.advance(61_000)
    const statuses: number[] = []
    for (let i = 0; i < 11; i++) statuses.push((await call('POST', '/api/v1/session', { body: { username: 'carol', password: 'wrong password' } })).status)
    expect(statuses.slice(0, 10)).toEqual([401, 401, 401, 401, 423, 423, 423, 423, 423, 423])
    expect(statuses[10]).toBe(429)
    clock.advance(61_000)
    expect((await call('POST', '/api/v1/session', { body: { username: 'nobody', password: 'x' } })).status).toBe(401)
    clock.advance(61_000)
  })

  it('ends a session after 30 idle minutes and after 12 hours in any case; logout ends it at once', async () => {
    const a = await login('alice')
    clock.advance(29 * 60_000)
    expect((await call('GET', '/api/v1/session', { cookie: a.cookie })).status).toBe(200)
    clock.advance(31 * 60_000)
    const idle = await call('GET', '/api/v1/session', { cookie: a.cookie })
    expect(idle.status).toBe(401)
    expect(idle.json()).toMatchObject({ code: 'NOT_LOGGED_IN' })
    const b = await login('alice')
    let last = 200
    for (let i = 0; i < 37 && last === 200; i++) {
      clock.advance(20 * 60_000)
      last = (await call('GET', '/api/v1/meters', { cookie: b.cookie })).status
    }
    expect(last).toBe(401)
    clock.advance(61_000)
    const c = await login('alice')
    expect((await call('DELETE', '/api/v1/session', { cookie: c.cookie })).status).toBe(403)
    expect((await call('DELETE', '/api/v1/session', { cookie: c.cookie, csrf: c.csrf })).status).toBe(204)
    expect((await call('GET', '/api/v1/session', { cookie: c.cookie })).status).toBe(401)
  })
})

describe('CSRF', () => {
  it('every POST/PUT/DELETE needs the session\'s x-csrf-token (403 without or wrong)', async () => {
    const a = await login('alice')
    const body = { kind: 'objection', text: 'I object to the load profile' }
    expect((await call('POST', '/api/v1/requests', { cookie: a.cookie, body })).json()).toMatchObject({ code: 'CSRF_INVALID' })
    expect((await call('POST', '/api/v1/requests', { cookie: a.cookie, body, csrf: 'x'.repeat(43) })).status).toBe(403)
    const other = await login('bob')
    expect((await call('POST', '/api/v1/requests', { cookie: a.cookie, body, csrf: other.csrf })).status).toBe(403)
    expect((await call('PUT', '/api/v1/consents/taf7-a', { cookie: a.cookie, body: { granted: true } })).status).toBe(403)
    const ok = await call('POST', '/api/v1/requests', { cookie: a.cookie, body, csrf: a.csrf })
    expect(ok.status).toBe(201)
    expect(ok.json()).toMatchObject({ request: { kind: 'objection', state: 'received', text: body.text } })
    expect((await call('GET', '/api/v1/requests', { cookie: a.cookie })).json()).toMatchObject({ requests: [{ kind: 'objection' }] })
    expect(consumerEntries('c-a').at(-1)).toMatchObject({ type: 'request-received', fields: { kind: 'objection' } })
  })
})

describe('consumer data', () => {
  it('lists only the caller\'s meters, current values as exact decimals, history at legal-time interval ends', async () => {
    const a = await login('alice')
    expect((await call('GET', '/api/v1/meters', { cookie: a.cookie })).json()).toMatchObject({
      meters: [{ id: 'm-a', kind: 'sml', quantities: [{ quantity: IMPORT, unit: 'Wh', label: expect.any(String) as string }] }],
    })
    expect((await call('GET', '/api/v1/meters/m-a/current', { cookie: a.cookie })).json()).toEqual({
      values: [{ quantity: IMPORT, value: '1025', scaler: -1, unit: 'Wh', time: '2026-05-01T07:29:58.000Z' }],
    })
    const h = await call('GET', `/api/v1/meters/m-a/history?quantity=${encodeURIComponent(IMPORT)}&resolution=15min&from=2026-05-01T06:45:00Z&to=2026-05-01T07:45:00Z`, { cookie: a.cookie })
    expect(h.json()).toMatchObject({
      quantity: IMPORT, unit: 'Wh', scaler: -1, resolution: '15min',
      points: [
        { time: '2026-05-01T07:00:00.000Z', value: '1000', status: 0 },
        { time: '2026-05-01T07:15:00.000Z', value: '1010', status: 0 },
        { time: '2026-05-01T07:30:00.000Z', value: '1025', status: 0 },
        { time: '2026-05-01T07:45:00.000Z', value: null },
      ],
    })
    const old = await call('GET', `/api/v1/meters/m-a/history?quantity=${encodeURIComponent(IMPORT)}&resolution=month&from=2023-01-01T00:00:00Z&to=2026-01-01T00:00:00Z`, { cookie: a.cookie })
    expect(old.status).toBe(400)
    expect(old.json()).toMatchObject({ code: 'OUT_OF_RANGE' })
  })

  it('isolation: another consumer\'s meter is 404 on every route; the log shows only own entries', async () => {
    const a = await login('alice')
    for (const path of ['/api/v1/meters/m-b/current', `/api/v1/meters/m-b/history?quantity=${encodeURIComponent(IMPORT)}`, '/api/v1/meters/m-x/current']) {
      const r = await call('GET', path, { cookie: a.cookie })
      expect(r.status).toBe(404)
      expect(r.json()).toMatchObject({ code: 'NOT_FOUND' })
    }
    expect((await call('PUT', '/api/v1/consents/taf7-b', { cookie: a.cookie, csrf: a.csrf, body: { granted: false } })).status).toBe(404)
    const meters = (await call('GET', '/api/v1/meters', { cookie: a.cookie })).text
    expect(meters).not.toContain('m-b')
    const logText = (await call('GET', '/api/v1/log?limit=1000', { cookie: a.cookie })).text
    expect(logText).toContain('alice reading stored')
    expect(logText).not.toContain('secret of bob')
    const csv = (await call('GET', '/api/v1/log/export.csv', { cookie: a.cookie })).text
    expect(csv).not.toContain('secret of bob')
    const tariffs = (await call('GET', '/api/v1/tariffs', { cookie: a.cookie })).json()
    expect(JSON.stringify(tariffs)).not.toContain('taf7-b')
  })

  it('shows the meters and use cases in force now: a configuration version applied while running appears without a restart', async () => {
    const a = await login('alice')
    const before = inForce
    try {
      const added = parseGatewayConfig({ ...JSON.parse(JSON.stringify(config)) as object, meters: [...config.meters, { id: 'm-a2', kind: 'sml', intervalS: 2, consumer: 'c-a', transport: { file: 'a2.bin' } }] }).meters
      inForce = { meters: added, profiles: [...profiles, ...parseTariffProfiles([{ id: 'taf7-a2', useCase: 'taf7', meteringPoint: 'mp-m-a2', channels: [{ meterId: 'm-a2', obis: '1-0:1.8.0' }], recipients: [{ id: 'emt-1', role: 'supplier' }], schedule: { periodSeconds: 900, send: { everyHours: 1 } } }])] }
      const meters = (await call('GET', '/api/v1/meters', { cookie: a.cookie })).json() as { meters: { id: string }[] }
      expect(meters.meters.map((m) => m.id)).toEqual(['m-a', 'm-a2'])
      expect(JSON.stringify((await call('GET', '/api/v1/tariffs', { cookie: a.cookie })).json())).toContain('taf7-a2')
      expect((await call('GET', '/api/v1/meters/m-a2/current', { cookie: a.cookie })).status).toBe(200)
    } finally {
      inForce = before
    }
    expect((await call('GET', '/api/v1/meters/m-a2/current', { cookie: a.cookie })).status).toBe(404)
  })

  it('the log pages newest first, filters by type and searches text; CSV is RFC 4180', async () => {
    const a = await login('alice')
    const all = (await call('GET', '/api/v1/log?limit=1000', { cookie: a.cookie })).json().entries as { seq: number; type: string }[]
    expect(all.length).toBeGreaterThan(1)
    expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((x, y) => y - x))
    const page = (await call('GET', '/api/v1/log?limit=1', { cookie: a.cookie })).json()
    expect(page.next).toBe(all[0]!.seq)
    const next = (await call('GET', `/api/v1/log?limit=1&before=${String(page.next)}`, { cookie: a.cookie })).json().entries as { seq: number }[]
    expect(next[0]!.seq).toBe(all[1]!.seq)
    const found = (await call('GET', '/api/v1/log?q=ALICE%20READING', { cookie: a.cookie })).json().entries as { type: string }[]
    expect(found.map((e) => e.type)).toEqual(['data-processed'])
    // Field names are not searched, values are.
    expect((await call('GET', '/api/v1/log?q=dataclass', { cookie: a.cookie })).json().entries).toEqual([])
    expect(((await call('GET', '/api/v1/log?q=lmn-INGEST', { cookie: a.cookie })).json().entries as unknown[]).length).toBeGreaterThan(0)
    const typed = (await call('GET', '/api/v1/log?type=request-received', { cookie: a.cookie })).json().entries as { type: string }[]
    expect(typed.every((e) => e.type === 'request-received')).toBe(true)
    const csv = await call('GET', '/api/v1/log/export.csv', { cookie: a.cookie })
    expect(csv.headers['content-type']).toMatch(/^text\/csv/)
    const lines = csv.text.split('\r\n')
    expect(lines[0]).toBe('seq,time,type,text,fields')
    expect(lines.slice(1, -1).every((l) => /^\d+,[^,]+,[a-z-]+,/.test(l))).toBe(true)
    expect(csv.text).toMatch(/"\{""dataClass""/)
  })

  it('the signed export of the caller\'s chain passes `smgw log verify`', async () => {
    clock.advance(86_400_000) // the next entry starts a new legal day: yesterday's head is signed
    await logs.consumer('c-a', { type: 'data-viewed', fields: { interface: 'han', text: 'export' } })
    const a = await login('alice')
    const r = await call('GET', '/api/v1/log/export', { cookie: a.cookie })
    expect(r.status).toBe(200)
    expect(r.text.split('\n')[0]).toContain('"format":"smgw-log-export/1"')
    expect(r.text).toContain('"kind":"head"')
    expect(r.text).not.toContain('secret of bob')
    const file = join(tmp.dir, 'c-a.jsonl')
    await writeFile(file, r.text)
    const cli = fileURLToPath(new URL('../../../cli/bin/smgw.js', import.meta.url))
    const out = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [cli, 'log', 'verify', file, '--json'], { timeout: 60_000 }, (err, stdout) => { resolve({ code: err === null ? 0 : Number((err as { code?: unknown }).code ?? 1), stdout }) })
    })
    expect(out.code).toBe(0)
    expect(JSON.parse(out.stdout)).toMatchObject({ ok: true, chains: [{ log: 'consumer', stream: 'c-a' }] })
    // One changed byte and it fails (checked in-process: the same verifier the CLI runs).
    expect(verifyLog(decodeLogExport(r.text.replace('alice reading stored', 'alice reading stoned')), {}).ok).toBe(false)
  }, 120_000)

  it('live: Server-Sent Events deliver a committed reading of the caller\'s meters only', async () => {
    const a = await login('alice')
    const got = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: han.port(), path: '/api/v1/live', headers: { cookie: a.cookie }, ca, checkServerIdentity: () => undefined, agent: false }, (res) => {
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/)
        let text = ''
        res.on('data', (c: Buffer) => {
          text += c.toString('utf8')
          if (text.includes(': connected')) for (const l of listeners) l([reading('m-b', '2026-05-01T09:00:00Z', 5n), reading('m-a', '2026-05-01T09:00:00Z', 1234n)])
          if (text.includes('event: reading')) { req.destroy(); resolve(text) }
        })
      })
      req.on('error', (err) => { if (!String(err).includes('socket hang up')) reject(err) })
      req.end()
    })
    const data = /event: reading\ndata: (.*)\n/.exec(got)?.[1]
    expect(JSON.parse(data ?? '{}')).toEqual({ meterId: 'm-a', quantity: IMPORT, value: '1234', scaler: -1, unit: 'Wh', time: '2026-05-01T09:00:00.000Z' })
    expect(got).not.toContain('m-b')
  })
})

describe('roles and tokens', () => {
  it('a technician sees device state without readings and no consumer route; a consumer no technician route', async () => {
    const t = await login('tech')
    const d = await call('GET', '/api/v1/device', { cookie: t.cookie })
    expect(d.status).toBe(200)
    expect(d.json()).toMatchObject({ gateway: { state: 'running', store: { schemaVersion: MIGRATIONS.length } }, meters: [{ id: 'm-a', state: 'ok' }, { id: 'm-b', keyRejected: 1, garbageBytes: 7 }] })
    expect(d.text).not.toMatch(/"value"|mantissa|1025/)
    for (const path of ['/api/v1/meters', '/api/v1/meters/m-a/current', '/api/v1/log', '/api/v1/log/export', '/api/v1/tariffs', '/api/v1/consents', '/api/v1/requests', '/api/v1/live']) {
      const r = await call('GET', path, { cookie: t.cookie })
      expect(r.status, path).toBe(403)
      expect(r.json()).toMatchObject({ code: 'FORBIDDEN' })
    }
    const a = await login('alice')
    expect((await call('GET', '/api/v1/device', { cookie: a.cookie })).status).toBe(403)
  })

  it('a token reads its consumer\'s data only, writes nothing, and stops when deleted', async () => {
    const a = await login('alice')
    const made = await call('POST', '/api/v1/tokens', { cookie: a.cookie, csrf: a.csrf, body: { name: 'home assistant' } })
    expect(made.status).toBe(201)
    const { id, token } = made.json() as { id: string; token: string }
    expect(JSON.stringify(store.han.tokens('alice'))).not.toContain(token)
    expect((await call('GET', '/api/v1/tokens', { cookie: a.cookie })).json()).toMatchObject({ tokens: [{ id, name: 'home assistant' }] })
    expect((await call('GET', '/api/v1/meters/m-a/current', { token })).status).toBe(200)
    expect((await call('GET', '/api/v1/meters/m-b/current', { token })).status).toBe(404)
    for (const [method, path, body] of [['POST', '/api/v1/requests', { kind: 'deletion', text: 'x' }], ['PUT', '/api/v1/consents/taf7-a', { granted: false }], ['POST', '/api/v1/tokens', { name: 'y' }], ['DELETE', `/api/v1/tokens/${id}`, undefined]] as const) {
      const r = await call(method, path, { token, body })
      expect(r.status, `${method} ${path}`).toBe(403)
    }
    expect((await call('GET', '/api/v1/tokens', { token })).status).toBe(403)
    expect((await call('GET', '/api/v1/session', { token })).status).toBe(403)
    expect((await call('DELETE', `/api/v1/tokens/${id}`, { cookie: a.cookie, csrf: a.csrf })).status).toBe(204)
    expect((await call('GET', '/api/v1/meters', { token })).status).toBe(401)
  })
})

describe('tariffs and consent', () => {
  it('tells what goes to whom, offers tariffs and takes a choice as a received request', async () => {
    const a = await login('alice')
    const t = (await call('GET', '/api/v1/tariffs', { cookie: a.cookie })).json()
    expect(t).toMatchObject({
      useCases: [
        { profileId: 'taf7-a', useCase: 'taf7', legalBasis: 'consent', recipients: [{ id: 'emt-1', role: 'supplier' }] },
        { profileId: 'taf1-a', useCase: 'taf1', legalBasis: 'contract' },
      ],
      offered: [{ id: 'dyn-1', name: 'Dynamic', description: 'hourly prices' }],
    })
    expect((t.useCases as { text: string }[])[0]!.text).toMatch(/every 15 minutes .* emt-1 \(supplier\)/)
    expect((await call('POST', '/api/v1/tariffs/choice', { cookie: a.cookie, csrf: a.csrf, body: { tariffId: 'nope' } })).status).toBe(404)
    const c = await call('POST', '/api/v1/tariffs/choice', { cookie: a.cookie, csrf: a.csrf, body: { tariffId: 'dyn-1' } })
    expect(c.status).toBe(202)
    // Received like every request; pending once the GWA accepted the report carrying it (admin/requests.ts).
    expect(c.json()).toMatchObject({ request: { kind: 'tariff-choice', state: 'received', forwardedAt: null, answeredAt: null, note: null } })
    expect((await call('GET', '/api/v1/tariffs', { cookie: a.cookie })).json()).toMatchObject({ choice: { tariffId: 'dyn-1', state: 'received', note: null, answeredAt: null } })
  })

  it('shows the administrator\'s side of each request: forwarded, the answer\'s state, note and time — to its consumer only', async () => {
    const a = await login('alice')
    const b = await login('bob')
    const filed = (await call('POST', '/api/v1/requests', { cookie: a.cookie, csrf: a.csrf, body: { kind: 'deletion', text: 'Please delete my 2025 data.' } })).json().request as { id: number }
    const choice = (await call('POST', '/api/v1/tariffs/choice', { cookie: a.cookie, csrf: a.csrf, body: { tariffId: 'dyn-1' } })).json().request as { id: number }
    // The gateway's administration side, as an admin session runs it: the report accepted, then the GWA's answers.
    const requests = createConsumerRequests({ store, consumerLog: (c, e) => logs.consumer(c, e), now: clock.now })
    clock.advance(60_000)
    const forwardedAt = clock.now().toISOString()
    await requests.forwarded(requests.reported())
    const mine = async () => ((await call('GET', '/api/v1/requests', { cookie: a.cookie })).json().requests as { id: number }[]).find((r) => r.id === filed.id)
    expect(await mine()).toMatchObject({ state: 'pending', forwardedAt, answeredAt: null, note: null })
    clock.advance(60_000)
    await requests.answer({ format: 'smgw-admin-command/1', commandId: 'c-1', gatewayId: 'smgw-0001', sequence: 1, issuedAt: clock.now().toISOString(), type: 'answer-request', requestId: filed.id, state: 'rejected', note: 'Your supplier still needs these data for the 2025 bill (§ 60 MsbG).' })
    await requests.answer({ format: 'smgw-admin-command/1', commandId: 'c-2', gatewayId: 'smgw-0001', sequence: 2, issuedAt: clock.now().toISOString(), type: 'answer-request', requestId: choice.id, state: 'done', note: 'Dynamic from 1 June.' })
    const answeredAt = clock.now().toISOString()
    expect(await mine()).toEqual({
      id: filed.id, kind: 'deletion', state: 'rejected', text: 'Please delete my 2025 data.', createdAt: expect.any(String) as unknown, updatedAt: answeredAt,
      forwardedAt, answeredAt, note: 'Your supplier still needs these data for the 2025 bill (§ 60 MsbG).',
    })
    expect((await call('GET', '/api/v1/tariffs', { cookie: a.cookie })).json()).toMatchObject({ choice: { requestId: choice.id, state: 'done', note: 'Dynamic from 1 June.', answeredAt } })
    // The consumer's log has the answer; bob sees neither the requests nor the note.
    expect(consumerEntries('c-a').at(-2)).toMatchObject({ type: 'request-answered', fields: { request: filed.id, state: 'rejected' } })
    const bobs = JSON.stringify((await call('GET', '/api/v1/requests', { cookie: b.cookie })).json())
    expect(bobs).not.toContain('MsbG')
    expect(JSON.stringify((await call('GET', '/api/v1/log', { cookie: b.cookie })).json())).not.toContain('MsbG')
  })

  it('withdrawing consent stops the next TAF period from sending; contract and legal-obligation purposes cannot be withdrawn', async () => {
    const consumerOf = new Map([['m-a', 'c-a'], ['m-b', 'c-b']])
    const taf7a = profiles.find((p) => p.id === 'taf7-a')!
    const taf = createTafService({ gatewayId: 'smgw-0001', profiles: [taf7a], consumers: { 'm-a': 'c-a' } }, {
      store, now: clock.now, logs, seal: (bytes) => Promise.resolve(bytes), setTimer: () => () => undefined,
      consentGranted: () => isConsentGranted(store, taf7a, consumerOf),
    })
    await taf.start()
    const sent = () => store.readOutbox().filter((o) => o.messageId?.includes(':taf7-a:') === true).length
    clock.advance(3_600_000)
    await taf.runDue()
    const before = sent()
    expect(before).toBeGreaterThan(0)

    const a = await login('alice')
    expect((await call('GET', '/api/v1/consents', { cookie: a.cookie })).json()).toMatchObject({
      consents: [{ purpose: 'taf7-a', legalBasis: 'consent', granted: true }, { purpose: 'taf1-a', legalBasis: 'contract', granted: true }],
    })
    const no = await call('PUT', '/api/v1/consents/taf1-a', { cookie: a.cookie, csrf: a.csrf, body: { granted: false } })
    expect(no.status).toBe(409)
    expect(no.json()).toMatchObject({ code: 'NOT_WITHDRAWABLE' })
    const w = await call('PUT', '/api/v1/consents/taf7-a', { cookie: a.cookie, csrf: a.csrf, body: { granted: false } })
    expect(w.status).toBe(200)
    expect(w.json()).toMatchObject({ purpose: 'taf7-a', granted: false })
    expect(consumerEntries('c-a').at(-1)).toMatchObject({ type: 'consent-changed', fields: { purpose: 'taf7-a', granted: false } })

    clock.advance(3_600_000)
    const reports = await taf.runDue()
    expect(reports.length).toBeGreaterThan(0)
    expect(reports.every((r) => r.outboxIds.length === 0)).toBe(true)
    expect(sent()).toBe(before)
    expect(consumerEntries('c-a').at(-1)?.fields.text).toMatch(/^not sent: consent withdrawn/)

    const again = await login('alice')
    expect((await call('PUT', '/api/v1/consents/taf7-a', { cookie: again.cookie, csrf: again.csrf, body: { granted: true } })).status).toBe(200)
    clock.advance(3_600_000)
    await taf.runDue()
    expect(sent()).toBeGreaterThan(before)
    await taf.close()
  })
})

describe('robustness', () => {
  it('the API description, health check and page placeholder are served', async () => {
    const o = (await call('GET', '/api/v1/openapi.json')).json() as { openapi: string; paths: Record<string, unknown> }
    expect(o.openapi).toBe('3.1.0')
    for (const p of ['/api/v1/session', '/api/v1/meters/{id}/history', '/api/v1/live', '/api/v1/log/export', '/api/v1/consents/{purpose}', '/api/v1/tokens/{id}', '/api/v1/device']) expect(o.paths).toHaveProperty([p])
    expect((await call('GET', '/healthz')).json()).toEqual({ status: 'ok' })
    const page = await call('GET', '/')
    expect(page.status).toBe(200)
    expect(page.text).toContain('Smart Meter Gateway')
    expect((await call('GET', '/api/v1/meters')).json()).toMatchObject({ code: 'NOT_LOGGED_IN' })
    const big = await call('POST', '/api/v1/session', { raw: JSON.stringify({ username: 'a', password: 'x'.repeat(40_000) }) })
    expect(big.status).toBe(413)
    expect(big.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' })
  })

  it('serves the page files at / with the page\'s cache policy', async () => {
    const enc = (t: string) => new TextEncoder().encode(t)
    const ui = new Map([
      ['/index.html', { body: enc('<!doctype html><title>HAN page</title>'), type: 'text/html; charset=utf-8' }],
      ['/app.js', { body: enc('export {}'), type: 'text/javascript; charset=utf-8' }],
    ])
    const other = createHanService(config, { store, logs, now: clock.now, ui })
    await other.start()
    try {
      const page = await call('GET', '/', { port: other.port()! })
      expect(page.text).toBe('<!doctype html><title>HAN page</title>')
      expect(page.headers['cache-control']).toBe('no-cache')
      expect(page.headers['content-security-policy']).toContain("default-src 'self'")
      const js = await call('GET', '/app.js?v=abc', { port: other.port()! })
      expect(js.headers['content-type']).toMatch(/^text\/javascript/)
      expect(js.headers['cache-control']).toContain('immutable')
      expect((await call('GET', '/nothing.js', { port: other.port()! })).status).toBe(404)
    } finally {
      await other.close()
    }
    expect(other.port()).toBeUndefined()
  })

  it('random paths, methods and bodies never give a 500', async () => {
    clock.advance(61_000)
    const a = await login('alice')
    const segment = fc.oneof(fc.constantFrom('api', 'v1', 'meters', 'm-a', 'm-b', 'history', 'current', 'log', 'export', 'export.csv', 'consents', 'taf7-a', 'tokens', 'requests', 'tariffs', 'choice', 'session', 'device', '..', '%00', '%ZZ'), fc.string({ maxLength: 12 }).map(encodeURIComponent))
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
      fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => `/${s.join('/')}`),
      fc.oneof(fc.constant('/api/v1'), fc.constant('')),
      fc.option(fc.string({ maxLength: 60 }).map((q) => `?${q.replace(/[#\s]/g, '')}`), { nil: undefined }),
      fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v)), fc.string({ maxLength: 80 })),
      async (method, path, prefix, query, raw) => {
        const full = `${prefix}${path}${query ?? ''}`
        const r = await call(method, full, { cookie: a.cookie, csrf: a.csrf, ...(method === 'GET' || method === 'DELETE' ? {} : { raw }) })
        expect(r.status, `${method} ${full}`).toBeLessThan(500)
        expect(r.status).toBeGreaterThanOrEqual(200)
      },
    ), { numRuns: 150 })
  }, 60_000)
})

describe('access table (han/access.ts → admin/access.ts)', () => {
  const samplePath = (route: string) => route.split(' ')[1]!.replace(':id/current', 'm-a/current').replace(':id/history', 'm-a/history?quantity=1-0%3A1.8.0*255')
    .replace('tokens/:id', 'tokens/nope').replace(':purpose', 'taf7-a')
  const BODIES: Readonly<Record<string, unknown>> = {
    'POST /api/v1/tariffs/choice': { tariffId: 'dyn-1' }, 'PUT /api/v1/consents/taf7-a': { granted: true },
    'POST /api/v1/requests': { kind: 'objection', text: 'matrix' }, 'POST /api/v1/tokens': { name: 'matrix' },
  }

  it('every route × role (anonymous, consumer, technician, token): allowed exactly where the access table allows the route\'s operation', async () => {
    const consumer = await login('alice')
    const technician = await login('tech')
    const { token } = (await call('POST', '/api/v1/tokens', { cookie: consumer.cookie, csrf: consumer.csrf, body: { name: 'matrix token' } })).json() as { token: string }
    // Logout last: it ends the session the other cells use.
    const routes = (Object.keys(HAN_ROUTE_OPERATIONS) as HanRoute[]).sort((a, b) => Number(a === 'DELETE /api/v1/session') - Number(b === 'DELETE /api/v1/session'))
    let cells = 0
    for (const route of routes) {
      const method = route.split(' ')[0]!
      const path = samplePath(route)
      const body = BODIES[`${method} ${path}`]
      expect((await call(method, path, { body })).status, `anonymous ${route}`).toBe(401)
      cells++
      const live = route === 'GET /api/v1/live'
      for (const [role, who] of [['consumer', consumer], ['technician', technician]] as const) {
        const allowed = isHanRouteAllowed(role, route)
        expect(allowed, `${role} ${route}`).toBe(HAN_ROUTE_OPERATIONS[route] === 'session' || authorize(role, HAN_ROUTE_OPERATIONS[route] as Operation))
        cells++
        if (live && allowed) continue // the stream never ends; the SSE test above reads it
        const r = await call(method, path, { cookie: who.cookie, csrf: who.csrf, body })
        if (allowed) expect([401, 403], `${role} ${route}: ${r.text}`).not.toContain(r.status)
        else expect([r.status, r.json().code], `${role} ${route}`).toEqual([403, 'FORBIDDEN'])
      }
      // A token reads (GET) its consumer's data; everything else needs a session.
      if (live) continue
      const r = await call(method, path, { token, body })
      const tokenMayRead = method === 'GET' && route !== 'GET /api/v1/session' && route !== 'GET /api/v1/tokens' && route !== 'GET /api/v1/device'
      if (tokenMayRead) expect([401, 403], `token ${route}: ${r.text}`).not.toContain(r.status)
      else expect(r.status, `token ${route}`).toBe(403)
      cells++
    }
    expect(cells).toBeGreaterThanOrEqual(routes.length * 4 - 2)
  })

  it('every API route of the API description has an operation (a route without one makes the service fail at registration)', () => {
    expect(HAN_OPENAPI.paths).toBeDefined()
    for (const [path, item] of Object.entries(HAN_OPENAPI.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(item)) {
        if (!path.startsWith('/api/v1/')) continue
        const route = `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`
        if (route === 'GET /api/v1/openapi.json' || route === 'POST /api/v1/session') continue
        expect(route in HAN_ROUTE_OPERATIONS, route).toBe(true)
      }
    }
  })
})

describe('data-viewed entries', () => {
  it('one entry per session or token and kind per hour, not one per poll', async () => {
    const viewed = () => consumerEntries('c-a').filter((e) => e.type === 'data-viewed')
    const before = viewed().length
    const a = await login('alice')
    for (let i = 0; i < 5; i++) expect((await call('GET', '/api/v1/meters/m-a/current', { cookie: a.cookie })).status).toBe(200)
    expect((await call('GET', '/api/v1/meters/m-a/history?quantity=1-0%3A1.8.0*255', { cookie: a.cookie })).status).toBe(200)
    expect((await call('GET', '/api/v1/meters/m-a/history?quantity=1-0%3A1.8.0*255', { cookie: a.cookie })).status).toBe(200)
    expect(viewed().slice(before).map((e) => e.fields)).toEqual([
      { interface: 'han', text: 'alice viewed your current values on the HAN (at most one entry an hour per login session).' },
      { interface: 'han', text: 'alice viewed the history of your values on the HAN (at most one entry an hour per login session).' },
    ])
    // A token (an integration polling) gets its own entries, again at most one an hour.
    const { token } = (await call('POST', '/api/v1/tokens', { cookie: a.cookie, csrf: a.csrf, body: { name: 'heat pump app' } })).json() as { token: string }
    for (let i = 0; i < 3; i++) expect((await call('GET', '/api/v1/meters/m-a/current', { token })).status).toBe(200)
    expect(viewed().slice(before + 2).map((e) => e.fields.text)).toEqual(['The integration "heat pump app" (a token of alice) read your current values through the HAN API (at most one entry an hour per token).'])
    clock.advance(59 * 60_000)
    await call('GET', '/api/v1/meters/m-a/current', { token })
    expect(viewed().length).toBe(before + 3)
    clock.advance(60_000)
    await call('GET', '/api/v1/meters/m-a/current', { token })
    expect(viewed().length).toBe(before + 4)
    // Refused and foreign requests are no views; another consumer's log gets nothing.
    const bEntries = consumerEntries('c-b').filter((e) => e.type === 'data-viewed').length
    expect((await call('GET', '/api/v1/meters/m-b/current', { token })).status).toBe(404)
    expect(viewed().length).toBe(before + 4)
    expect(consumerEntries('c-b').filter((e) => e.type === 'data-viewed').length).toBe(bEntries)
  })
})

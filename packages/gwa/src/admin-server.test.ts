import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSignerVerifier, type SignerVerifier } from '@smgw/admin-protocol'
import { decodeCertificate } from '@smgw/pki'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseGwaConfig } from './config.js'
import { createGwa, type GwaService } from './service.js'
import { createSessionRateLimiter } from './session-rate.js'
import { baseReport, createScriptedGateway, type ScriptedGateway } from './testing/gateway-client.js'
import { createGwaTestPki, type GwaTestPki } from './testing/pki.js'

/*
 * The per-gateway session rate limit: the token bucket alone on a fake monotonic clock, and in
 * the admin server against real mutual-TLS clients (the scripted gateway) — the clock the GWA
 * is given is advanced by the test, so nothing waits and nothing depends on the machine's speed.
 */

describe('session rate limiter', () => {
  it('a burst, then one session per 60/perMinute seconds; Retry-After counts to the next token; gateways are independent', () => {
    let now = 1_000
    const limiter = createSessionRateLimiter({ perMinute: 12, now: () => now })
    for (let i = 0; i < 12; i++) expect(limiter.admit('smgw-0001')).toEqual({ admitted: true })
    expect(limiter.admit('smgw-0001')).toEqual({ admitted: false, retryAfterS: 5, refusedInRow: 1 })
    expect(limiter.admit('smgw-0002')).toEqual({ admitted: true })
    now += 2_000
    expect(limiter.admit('smgw-0001')).toEqual({ admitted: false, retryAfterS: 3, refusedInRow: 2 })
    now += 3_000
    expect(limiter.admit('smgw-0001')).toEqual({ admitted: true })
    expect(limiter.admit('smgw-0001')).toMatchObject({ admitted: false, refusedInRow: 1 })
    // A clock that goes backwards (it must not; a monotonic one cannot) adds no tokens.
    now -= 60_000
    expect(limiter.admit('smgw-0001')).toMatchObject({ admitted: false })
    const small = createSessionRateLimiter({ perMinute: 1, burst: 3, now: () => now })
    expect([1, 2, 3, 4].map(() => small.admit('x').admitted)).toEqual([true, true, true, false])
    expect(small.admit('x')).toMatchObject({ retryAfterS: 60 })
    expect(() => createSessionRateLimiter({ perMinute: 0, now: () => now })).toThrow(RangeError)
  })

  it('tracks a bounded number of gateways: full buckets go first, then the oldest', () => {
    let now = 0
    const limiter = createSessionRateLimiter({ perMinute: 60, burst: 1, now: () => now, maxTracked: 100 })
    for (let i = 0; i < 100; i++) limiter.admit(`g${String(i)}`)
    expect(limiter.tracked()).toBe(100)
    now += 1_000 // every bucket is full again: all of them are dropped for the newcomer
    limiter.admit('new')
    expect(limiter.tracked()).toBe(1)
    for (let i = 0; i < 200; i++) limiter.admit(`h${String(i)}`)
    expect(limiter.tracked()).toBeLessThanOrEqual(100)
    // The newest stay limited.
    expect(limiter.admit('h199')).toMatchObject({ admitted: false })
  })
})

describe('admin server rate limit (real TLS)', () => {
  let dir = ''
  let pki: GwaTestPki
  let gwa: GwaService
  let verifier: SignerVerifier
  let monotonic = 0
  const lines: Record<string, unknown>[] = []
  const clients: ScriptedGateway[] = []
  const client = (id: string): ScriptedGateway => {
    const c = createScriptedGateway({
      gatewayId: id, host: '127.0.0.1', port: gwa.ports().admin,
      identity: { key: pki.key(`gateways/${id}/tls`), cert: pki.cert(`gateways/${id}/tls`), chain: [pki.cert('sub-ca-gw')] },
      trust: { roots: [pki.root], intermediates: pki.intermediates }, gwaCommonName: 'GWA Demo', verifier, now: () => new Date(),
    })
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'smgw-gwa-rate-'))
    pki = await createGwaTestPki(dir, { gateways: 2, now: new Date(Date.now() - 86_400_000) })
    verifier = createSignerVerifier({ expectedSubject: decodeCertificate(pki.cert('gwa/sig')).subject, roots: [pki.root], intermediates: pki.intermediates, notOwnRole: 'SIGNER_NOT_GWA' })
    const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
    gwa = createGwa(parseGwaConfig(pki.config({ sessionRateLimit: { perMinute: 2 } })), { logger, apiToken: 'x'.repeat(16), monotonicNow: () => monotonic })
    await gwa.start()
    await gwa.operations().register({ id: 'smgw-0001' })
    await gwa.operations().register({ id: 'smgw-0002' })
  }, 120_000)

  afterAll(async () => {
    for (const c of clients) c.close()
    await gwa.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('the third session in a minute is 429 with Retry-After before the report is read or recorded; another gateway is not affected; a token later it is admitted', async () => {
    const one = client('smgw-0001')
    await one.session({}, () => ({}))
    await one.session({}, () => ({}))
    const contactBefore = (await gwa.repository().getGateway('smgw-0001'))?.lastContactAt
    // A report that would be 400 if it were read: the limit comes first.
    const refused = await one.post('/v1/admin/session', '{"not":"a report"}')
    expect(refused).toMatchObject({ status: 429, body: { code: 'GWA_RATE_LIMITED' }, headers: { 'retry-after': '30' } })
    const refusedReport = await one.post('/v1/admin/session', JSON.stringify(baseReport('smgw-0001', new Date())))
    expect(refusedReport.status).toBe(429)
    expect((await gwa.repository().getGateway('smgw-0001'))?.lastContactAt).toEqual(contactBefore)
    await expect(one.session({}, () => ({}))).rejects.toThrow(/429/)

    await client('smgw-0002').session({}, () => ({}))
    expect((await gwa.repository().getGateway('smgw-0002'))?.lastContactAt).not.toBeNull()

    monotonic += 29_000
    expect((await one.post('/v1/admin/session', JSON.stringify(baseReport('smgw-0001', new Date())))).headers['retry-after']).toBe('1')
    monotonic += 1_000
    const again = await one.session({}, () => ({}))
    expect(again.rounds).toBe(0)
    const limited = lines.filter((l) => l.event === 'session-rate-limited')
    // Of the four refusals in a row, the 1st, 2nd and 4th are logged.
    expect(limited.map((l) => [l.gateway, l.refusedInRow])).toEqual([['smgw-0001', 1], ['smgw-0001', 2], ['smgw-0001', 4]])
    expect(limited[0]).toMatchObject({ component: 'gwa-session', path: '/v1/admin/session', retryAfterS: 30, level: 40 })
  })

  it('results posts have their own bucket, 16 times the session rate (a session has up to 16 rounds)', async () => {
    const two = client('smgw-0002')
    const post = () => two.post('/v1/admin/results', { format: 'smgw-admin-results/1', gatewayId: 'smgw-0002', results: [] })
    const statuses: number[] = []
    for (let i = 0; i < 33; i++) statuses.push((await post()).status)
    expect(statuses.slice(0, 32).every((s) => s === 200)).toBe(true)
    expect(statuses[32]).toBe(429)
  })
})

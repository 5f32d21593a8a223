import { readFile } from 'node:fs/promises'
import type { ClientRequest, IncomingMessage } from 'node:http'
import { request } from 'node:https'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { parseGatewayConfig } from '../config.js'
import { createGatewayLogs } from '../log/writer.js'
import { openStore } from '../store/store.js'
import type { ReadingInput, Store } from '../store/types.js'
import { createTempDir, createTestSig } from '../testing.js'
import { hashPassword } from './password.js'
import { createHanService, type HanService } from './service.js'
import { hanTlsFiles } from './tls.js'

// `GET /api/v1/live` over real HTTPS: the hello with the heartbeat interval, the heartbeats, a
// stream that goes away when its client does (no listener left behind), and close() ending
// every stream so pages notice and reconnect (han-ui live.ts). The reconnection itself is
// tested in Chromium (test/browser/live-reconnect.test.ts).

let tmp: { dir: string; remove: () => Promise<void> }
let store: Store
let han: HanService
let ca: string
let cookie: string
const listeners = new Set<(batch: readonly ReadingInput[]) => void>()

beforeAll(async () => {
  tmp = await createTempDir('smgw-han-live-')
  const sig = await createTestSig()
  const path = join(tmp.dir, 'gateway.db')
  store = openStore(path, { now: () => new Date() })
  const logs = createGatewayLogs({ store, signer: sig.signer, certificate: sig.certificate, now: () => new Date() })
  const config = parseGatewayConfig({
    gatewayId: 'smgw-0001', store: { path }, logs: { sigKey: 'sig.key', sigCertificate: 'sig.pem' },
    meters: [{ id: 'm-a', kind: 'sml', intervalS: 2, consumer: 'c-a', transport: { file: 'a.bin' } }],
    han: { port: 0 },
  })
  store.han.addAccount({ username: 'alice', role: 'consumer', consumer: 'c-a', password: await hashPassword('correct horse', { N: 1024, r: 8, p: 1 }) })
  han = createHanService(config, {
    store, logs, ui: false, liveHeartbeatMs: 100,
    onReadings: (l) => { listeners.add(l); return () => { listeners.delete(l) } },
  })
  await han.start()
  ca = await readFile(hanTlsFiles(path).certificate, 'utf8')
  cookie = await new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: han.port(), method: 'POST', path: '/api/v1/session', headers: { 'content-type': 'application/json' }, ca, checkServerIdentity: () => undefined, agent: false }, (res) => {
      const set = res.headers['set-cookie']
      res.resume()
      resolve((Array.isArray(set) ? set[0] : set)?.split(';')[0] ?? '')
    })
    req.on('error', reject)
    req.end(JSON.stringify({ username: 'alice', password: 'correct horse' }))
  })
})
afterAll(async () => {
  await han.close()
  store.close()
  await tmp.remove()
})

/** Opens the stream; `text()` is everything received so far, `ended` resolves when the server ends it. */
function openLive(): Promise<{ req: ClientRequest; res: IncomingMessage; text: () => string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: han.port(), path: '/api/v1/live', headers: { cookie }, ca, checkServerIdentity: () => undefined, agent: false }, (res) => {
      let text = ''
      res.on('data', (c: Buffer) => { text += c.toString('utf8') })
      const ended = new Promise<void>((done) => { res.on('end', done); res.on('close', done) })
      resolve({ req, res, text: () => text, ended })
    })
    req.on('error', (err) => { if (!String(err).includes('socket hang up') && !String(err).includes('aborted')) reject(err) })
    req.end()
  })
}

describe('the live stream', () => {
  it('announces its heartbeat interval first, then sends heartbeats; a client that goes leaves no listener behind', async () => {
    // The service's own newest-values cache listens too.
    const before = listeners.size
    const live = await openLive()
    expect(live.res.statusCode).toBe(200)
    await vi.waitFor(() => { expect(live.text().split('event: heartbeat\n').length).toBeGreaterThan(2) }, { timeout: 20_000, interval: 20 })
    const events = live.text().split('\n\n').filter((e) => e.startsWith('event: '))
    expect(events[0]).toBe('event: hello\ndata: {"heartbeatMs":100}')
    expect(events.slice(1).every((e) => e === 'event: heartbeat\ndata: {}')).toBe(true)
    expect(listeners.size).toBe(before + 1)
    live.req.destroy()
    await vi.waitFor(() => { expect(listeners.size).toBe(before) }, { timeout: 20_000, interval: 20 })
  })

  it('close() ends every open stream (the page sees the end and reconnects); a new start serves a new stream', async () => {
    const before = listeners.size
    const [a, b] = await Promise.all([openLive(), openLive()])
    await vi.waitFor(() => { expect(listeners.size).toBe(before + 2) }, { timeout: 20_000, interval: 20 })
    await han.close()
    await Promise.all([a.ended, b.ended])
    expect(listeners.size).toBe(0)
    await han.start()
    const c = await openLive()
    await vi.waitFor(() => { expect(c.text()).toContain('event: hello') }, { timeout: 20_000, interval: 20 })
    for (const l of listeners) l([{ meterId: 'm-a', quantity: '1-0:1.8.0*255', time: new Date('2026-05-01T09:00:00Z'), mantissa: 42n, scaler: 0, unit: 'Wh' }])
    await vi.waitFor(() => { expect(c.text()).toContain('event: reading\ndata: {"meterId":"m-a"') }, { timeout: 20_000, interval: 20 })
    c.req.destroy()
  })
})

import { readFile } from 'node:fs/promises'
import { request } from 'node:https'
import { join } from 'node:path'
import { createSimulator, type SimulatorDeps } from '@smgw/sim'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { parseGatewayConfig } from '../config.js'
import { createGateway } from '../service.js'
import { openStore } from '../store/store.js'
import { createManualWorld, createTempDir, createTestSig, type TestSig } from '../testing.js'
import { createHanAccounts } from './accounts.js'
import { hanTlsFiles } from './tls.js'

// The whole path: a simulated SML meter over TCP → the gateway's commit → the HAN service's
// Server-Sent Events over real HTTPS, in one gateway process with a `han` section.

let tmp: { dir: string; remove: () => Promise<void> }
let sig: TestSig
beforeAll(async () => {
  tmp = await createTempDir('smgw-han-gw-')
  sig = await createTestSig()
})
afterAll(async () => { await tmp.remove() })

describe('gateway with a han section', () => {
  it('starts the HAN service, and a reading the gateway commits reaches the consumer\'s live stream', async () => {
    const { now: clock, setTimer, advance } = createManualWorld(Date.UTC(2026, 0, 15, 9, 0, 0))
    const sim = createSimulator({ kind: 'sml', output: { kind: 'listen', host: '127.0.0.1', port: 0 }, intervalS: 2, meter: { seed: 5 } }, { now: clock, setTimer } satisfies SimulatorDeps)
    await sim.start()
    const path = join(tmp.dir, 'gateway.db')
    const config = parseGatewayConfig({
      gatewayId: 'smgw-0001', store: { path }, logs: { sigKey: 'unused', sigCertificate: 'unused' }, batch: { maxReadings: 100, maxDelayMs: 0 },
      meters: [{ id: 'sml-1', kind: 'sml', transport: { tcp: { host: '127.0.0.1', port: sim.port() } }, intervalS: 2, consumer: 'c-1' }],
      han: { port: 0 },
    })
    const store = openStore(path, { now: clock })
    await createHanAccounts(store, new Set(['c-1'])).add({ username: 'alice', role: 'consumer', consumer: 'c-1', password: 'correct horse' })
    store.close()
    const gw = createGateway(config, { sig: { signer: sig.signer, certificate: sig.certificate }, now: clock, setTimer, hanUi: false })
    try {
      await gw.start()
      const port = gw.hanPort()
      expect(port).toBeGreaterThan(0)
      const ca = await readFile(hanTlsFiles(path).certificate, 'utf8')
      const tls = { host: '127.0.0.1', port, ca, checkServerIdentity: () => undefined, agent: false } as const
      const cookie = await new Promise<string>((resolve, reject) => {
        const req = request({ ...tls, method: 'POST', path: '/api/v1/session', headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume()
          expect(res.statusCode).toBe(200)
          resolve(String(res.headers['set-cookie']).split(';')[0]!)
        })
        req.on('error', reject)
        req.end(JSON.stringify({ username: 'alice', password: 'correct horse' }))
      })
      let text = ''
      const req = request({ ...tls, path: '/api/v1/live', headers: { cookie } }, (res) => { res.on('data', (c: Buffer) => { text += c.toString('utf8') }) })
      req.on('error', () => undefined)
      req.end()
      await vi.waitFor(async () => {
        advance(2000)
        await new Promise((resolve) => setImmediate(resolve))
        expect(text).toContain('event: reading')
      }, { timeout: 10_000, interval: 20 })
      req.destroy()
      const data = JSON.parse(/event: reading\ndata: (.*)\n/.exec(text)![1]!) as Record<string, unknown>
      expect(data).toMatchObject({ meterId: 'sml-1', quantity: expect.stringMatching(/^1-0:/) as string, scaler: expect.any(Number) as number, value: expect.stringMatching(/^-?\d+$/) as string })
    } finally {
      await gw.close()
      await sim.close()
    }
    expect(gw.hanPort()).toBeUndefined()
  }, 30_000)
})

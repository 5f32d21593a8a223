// bench han: the consumer's HAN service with 24 months of 15-minute data of one meter (about
// 70 000 register readings in a real SQLite store), measured over HTTPS on 127.0.0.1 — HTTP
// timing of the API plus the page's asset sizes, not a browser (a Chromium page load on the
// shared 2-core machine mostly measures Chromium's start-up and layout; the test/browser tests
// show the page works, this bench shows what it costs the gateway):
//
// - history view: the page's three requests for 24 months (day bars, month bars) and the
//   densest one it allows (15-minute values of the last 31 days, 2976 points of at most 3000):
//   median time to the last byte and body bytes each; the page's assets (HTML, script, style)
//   in bytes as served (no compression on the HAN); `page_bytes` = assets + the three answers;
// - current values: GET /api/v1/meters/ID/current with a bearer token (what a home-automation
//   integration polls), 16 requests in flight over keep-alive connections, requests/s, in
//   alternating rounds against a bare fastify HTTPS hello-world with the same certificate, TLS
//   settings and client in the same run (ratio = HAN / bare).
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { Agent, request } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createGatewayLogs, createHanService, hanTlsFiles, hashPassword, openStore, parseGatewayConfig, type ReadingInput } from '@smgw/gateway'
import Fastify from 'fastify'
import { createTestSig } from '../packages/gateway/src/testing.js'
import { compareRates, type Benchmark } from './types.js'

const SECONDS = 8
const IN_FLIGHT = 16
const HISTORY_ROUNDS = 7
const QUARTER_MS = 900_000
const IMPORT = '1-0:1.8.0*255'

interface Answer { readonly status: number; readonly bytes: number; readonly body: string; readonly setCookie: string | undefined }

function call(agent: Agent, port: number, ca: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, ca, checkServerIdentity: () => undefined, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const b = Buffer.concat(chunks)
        const set = res.headers['set-cookie']
        resolve({ status: res.statusCode ?? 0, bytes: b.length, body: b.toString('utf8'), setCookie: Array.isArray(set) ? set[0] : set })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

export const benchmark: Benchmark = {
  name: 'han',
  description: 'HAN service: history view of 24 months of 15-min data (time and bytes over HTTPS) and current-value API requests/s vs bare fastify',
  inDefaultRun: true,
  async run(log) {
    const dir = await mkdtemp(join(tmpdir(), 'smgw-bench-han-'))
    const now = new Date()
    const path = join(dir, 'gateway.db')
    const store = openStore(path, { now: () => now })
    // The demo SIG key signs the log heads (data-viewed entries go to the consumer log).
    const sig = await createTestSig(new Date(now.getTime() - 86_400_000))
    const han = await (async () => {
      // 24 months of quarter-hour register readings, in batches as the gateway commits them.
      const start = Math.floor((now.getTime() - 730 * 86_400_000) / QUARTER_MS) * QUARTER_MS
      let batch: ReadingInput[] = []
      let count = 0
      let wh = 10_000_000n
      for (let t = start; t <= now.getTime(); t += QUARTER_MS) {
        wh += BigInt(50 + ((t / QUARTER_MS) % 96) * 3)
        batch.push({ meterId: 'm-1', quantity: IMPORT, time: new Date(t), mantissa: wh, scaler: -1, unit: 'Wh' })
        if (batch.length === 5000) { store.appendReadings(batch); count += batch.length; batch = [] }
      }
      store.appendReadings(batch)
      count += batch.length
      log(`store: ${count} readings of 24 months`)
      store.han.addAccount({ username: 'anna', role: 'consumer', consumer: 'c-1', password: await hashPassword('bench password', { N: 1024, r: 8, p: 1 }) })
      const config = parseGatewayConfig({
        gatewayId: 'smgw-bench', store: { path }, logs: { sigKey: 'unused', sigCertificate: 'unused' },
        meters: [{ id: 'm-1', kind: 'sml', intervalS: 2, consumer: 'c-1', transport: { file: 'unused' } }],
        han: { port: 0 },
      })
      const logs = createGatewayLogs({ store, signer: sig.signer, certificate: sig.certificate, now: () => now })
      // Composed as the gateway does: the HAN follows the committed batches (none arrive during the bench).
      const service = createHanService(config, { store, logs, now: () => now, onReadings: () => () => undefined })
      await service.start()
      return service
    })()
    const port = han.port()!
    const ca = await readFile(hanTlsFiles(path).certificate, 'utf8')
    const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT })
    const bare = Fastify({ https: { key: await readFile(hanTlsFiles(path).key), cert: ca, minVersion: 'TLSv1.2' }, logger: false })
    bare.get('/hello', () => ({ hello: 'world' }))
    await bare.listen({ host: '127.0.0.1', port: 0 })
    const barePort = (bare.server.address() as AddressInfo).port
    try {
      // The page's assets, as the browser gets them.
      let assetBytes = 0
      const index = await call(agent, port, ca, 'GET', '/')
      assetBytes += index.bytes
      for (const m of index.body.matchAll(/(?:src|href)="(\/[^"]+)"/g)) assetBytes += (await call(agent, port, ca, 'GET', m[1]!)).bytes
      // Log in; a token for the integration's polling.
      const login = await call(agent, port, ca, 'POST', '/api/v1/session', {}, JSON.stringify({ username: 'anna', password: 'bench password' }))
      const cookie = login.setCookie?.split(';')[0] ?? ''
      const csrf = (JSON.parse(login.body) as { csrfToken: string }).csrfToken
      const token = (JSON.parse((await call(agent, port, ca, 'POST', '/api/v1/tokens', { cookie, 'x-csrf-token': csrf }, JSON.stringify({ name: 'bench' }))).body) as { token: string }).token

      const q = (resolution: string, from: Date) => `/api/v1/meters/m-1/history?${new URLSearchParams({ quantity: IMPORT, resolution, from: from.toISOString(), to: now.toISOString() }).toString()}`
      const since24 = new Date(now.getTime() - 729 * 86_400_000)
      const views = { day: q('day', since24), month: q('month', since24), '15min': q('15min', new Date(now.getTime() - 31 * 86_400_000)) } as const
      const history: Record<string, { ms: number; bytes: number }> = {}
      for (const [name, path] of Object.entries(views)) {
        const times: number[] = []
        let bytes = 0
        for (let i = 0; i < HISTORY_ROUNDS; i++) {
          const t0 = performance.now()
          const a = await call(agent, port, ca, 'GET', path, { cookie })
          times.push(performance.now() - t0)
          if (a.status !== 200) throw new Error(`history ${name}: HTTP ${a.status} ${a.body.slice(0, 200)}`)
          bytes = a.bytes
        }
        history[name] = { ms: median(times), bytes }
        log(`history ${name}: ${median(times).toFixed(1)} ms, ${bytes} bytes`)
      }

      const burst = (p: number, path: string, headers: Record<string, string>) => async (): Promise<number> => {
        const answers = await Promise.all(Array.from({ length: IN_FLIGHT }, () => call(agent, p, ca, 'GET', path, headers)))
        if (answers.some((a) => a.status !== 200)) throw new Error(`HTTP ${answers.find((a) => a.status !== 200)?.status}`)
        return answers.length
      }
      log(`current values: ${SECONDS} s in alternating rounds against a bare fastify HTTPS hello-world…`)
      const current = await compareRates(SECONDS, burst(port, '/api/v1/meters/m-1/current', { authorization: `Bearer ${token}` }), burst(barePort, '/hello', {}))
      log(`current: ${current.rate.toFixed(0)} req/s, bare ${current.baseline.toFixed(0)} req/s`)
      return {
        figures: {
          history_day_24m_ms: history.day!.ms, history_day_24m_bytes: history.day!.bytes,
          history_month_24m_ms: history.month!.ms, history_month_24m_bytes: history.month!.bytes,
          history_15min_31d_ms: history['15min']!.ms, history_15min_31d_bytes: history['15min']!.bytes,
          page_asset_bytes: assetBytes,
          page_bytes: assetBytes + history.day!.bytes + history.month!.bytes + history['15min']!.bytes,
          current_req_per_s: current.rate, bare_https_req_per_s: current.baseline,
        },
        ratios: { current_vs_bare_https: current.ratio },
      }
    } finally {
      agent.destroy()
      await bare.close()
      await han.close()
      store.close()
      await rm(dir, { recursive: true, force: true })
    }
  },
}

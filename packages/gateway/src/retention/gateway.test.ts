// Retention inside the gateway service: configured by the `retention` section (defaults
// without one), run at start and on the gateway's timer.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseGatewayConfig } from '../config.js'
import { GatewayError } from '../errors.js'
import { readLogChain } from '../log/verify.js'
import { createGateway } from '../service.js'
import { openStore } from '../store/store.js'
import { createTempDir, createTestSig, type TestSig } from '../testing.js'

let tmp: { dir: string; remove: () => Promise<void> }
let sig: TestSig
beforeAll(async () => {
  tmp = await createTempDir('smgw-gw-retention-')
  sig = await createTestSig()
})
afterAll(async () => { await tmp.remove() })

const base = (path: string, extra: Record<string, unknown> = {}) => ({
  gatewayId: 'smgw-0001',
  store: { path },
  logs: { sigKey: 'unused.pem', sigCertificate: 'unused.der' },
  meters: [{ id: 'M1', kind: 'sml', intervalS: 1, consumer: 'c-1', transport: { tcp: { host: '127.0.0.1', port: 9 } } }],
  ...extra,
})

describe('gateway retention', () => {
  it('the retention section is optional and refuses periods beyond 3 years (CONFIG_INVALID)', () => {
    expect(parseGatewayConfig(base('a.db')).retention).toBeUndefined()
    expect(parseGatewayConfig(base('a.db', { retention: { dailyValuesDays: 30 } })).retention).toEqual({
      readingsDays: 730, intervalValuesDays: 730, dailyValuesDays: 30, deliveredOutboxDays: 7, runEveryS: 86_400,
    })
    for (const retention of [{ readingsDays: 1096 }, { intervalValuesDays: 4000 }, { unknown: 1 }]) {
      let code = 'no error'
      try {
        parseGatewayConfig(base('a.db', { retention }))
      } catch (err) {
        code = (err as GatewayError).code
      }
      expect(code).toBe('CONFIG_INVALID')
    }
  })

  it('runs at start with the configured periods and writes data-deleted to the meter\'s consumer', async () => {
    const path = join(tmp.dir, 'gateway.db')
    const now = () => new Date('2026-11-30T10:00:00Z')
    const store = openStore(path, { now })
    store.appendReadings([
      { meterId: 'M1', quantity: '1-0:1.8.0*255', time: new Date('2026-09-01T00:00:00Z'), mantissa: 1n, scaler: 0 },
      { meterId: 'M1', quantity: '1-0:1.8.0*255', time: new Date('2026-11-29T00:00:00Z'), mantissa: 2n, scaler: 0 },
    ])
    store.close()
    const timers: { ms: number }[] = []
    const config = parseGatewayConfig(base(path, { retention: { readingsDays: 60 } }))
    const gw = createGateway(config, {
      now, sig: { signer: sig.signer, certificate: sig.certificate },
      // Nothing fires: the meter's TCP line stays unconnected, retention runs once at start.
      setTimer: (ms) => { timers.push({ ms }); return () => undefined },
    })
    await gw.start()
    expect(timers.some((t) => t.ms === 86_400_000)).toBe(true)
    await gw.close()
    const after = openStore(path, { now }, { readonly: true })
    try {
      expect(after.readReadings().map((r) => r.mantissa)).toEqual([2n])
      const consumer = readLogChain(after, 'consumer', 'c-1').entries
      expect(consumer.map((e) => [e.type, JSON.parse(String(e.fields)) as unknown])).toEqual([[
        'data-deleted', { dataClass: 'meter-readings', count: 1, text: '1 reading of meter M1 from before 1 Oct 2026 deleted (kept 60 days)' },
      ]])
      expect(readLogChain(after, 'system', '').entries.map((e) => e.type)).toContain('retention-run')
    } finally {
      after.close()
    }
  })
})

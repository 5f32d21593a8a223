import { join } from 'node:path'
import { createNtpServer } from '@smgw/sim'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseGatewayConfig } from '../config.js'
import { readLogChain, verifyStoreLogs } from '../log/verify.js'
import { createGateway } from '../service.js'
import { openStore } from '../store/store.js'
import { createTempDir, createTestSig, type TestSig } from '../testing.js'

// The gateway process with a `time` section, against the NTP simulator over UDP.

let tmp: { dir: string; remove: () => Promise<void> }
let sig: TestSig
beforeAll(async () => {
  tmp = await createTempDir('smgw-gateway-time-')
  sig = await createTestSig()
})
afterAll(async () => { await tmp.remove() })

const base = (path: string, extra: Record<string, unknown> = {}) => parseGatewayConfig({
  gatewayId: 'smgw-0001',
  store: { path },
  logs: { sigKey: 'unused-with-deps', sigCertificate: 'unused-with-deps' },
  meters: [],
  ...extra,
})

describe('gateway legal time', () => {
  it('synchronises at start, reports time in its status, goes restricted on a 30 s jump; the calibration log holds it all', async () => {
    const ntp = createNtpServer({ port: 0, offsetMs: 45_000 })
    await ntp.start()
    const path = join(tmp.dir, 'time.db')
    const config = base(path, { time: { ntp: { host: '127.0.0.1', port: ntp.port() } } })
    expect(config.time).toEqual({ ntp: { host: '127.0.0.1', port: ntp.port() }, pollIntervalS: 3600, registrationPeriodS: 900, assumedDriftPpm: 100, timeoutMs: 2000, retries: 2 })
    const gw = createGateway(config, { sig: { signer: sig.signer, certificate: sig.certificate } })
    try {
      await gw.start()
      await expect.poll(() => gw.status().time?.state, { timeout: 10_000 }).toBe('synchronised')
      const t = gw.status().time!
      expect(Math.abs(t.offsetMs - 45_000)).toBeLessThan(1000)
      expect(t.lastSync).toBeInstanceOf(Date)

      ntp.setOffsetMs(45_000 + 30_000)
      const clock = gw.legalClock()!
      expect(await clock.sync()).toMatchObject({ ok: true, state: 'restricted' })
      expect(gw.status().time?.state).toBe('restricted')
      expect(clock.timeValidAt(clock.now())).toBe(false)
    } finally {
      await gw.close()
      await ntp.close()
    }
    const store = openStore(path, { now: () => new Date() }, { readonly: true })
    try {
      expect(readLogChain(store, 'calibration', '').entries.map((e) => e.type)).toEqual(['time-synchronised', 'time-drift-exceeded', 'restricted-state', 'time-synchronised'])
      expect(verifyStoreLogs(store).ok).toBe(true)
    } finally {
      store.close()
    }
  })

  it('without a time section: no time service, no time in the status', async () => {
    const gw = createGateway(base(join(tmp.dir, 'no-time.db')), { sig: { signer: sig.signer, certificate: sig.certificate } })
    await gw.start()
    expect(gw.status().time).toBeUndefined()
    expect(gw.legalClock()).toBeUndefined()
    await gw.close()
  })

  it('refuses a time section outside its schema (CONFIG_INVALID)', () => {
    for (const time of [{ ntp: { host: '' } }, { ntp: { host: 'a', port: 0 } }, { ntp: { host: 'a' }, pollIntervalS: 14 }, { ntp: { host: 'a' }, extra: 1 }]) {
      expect(() => base('x.db', { time })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }) as Error)
    }
  })
})

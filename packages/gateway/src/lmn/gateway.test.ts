// Gateway.reconfigure and Gateway.meterKeysInstalled touch only the LMN transports that changed:
// a real gateway with a wM-Bus UDP transport and an SML meter over TCP (a counting TCP server),
// real datagrams, the store read back afterwards.
import { createSocket } from 'node:dgram'
import { createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { createWmbusMeterFromConfig, parseWmbusMeterConfig } from '@smgw/sim'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { parseGatewayConfig } from '../config.js'
import { createGateway } from '../service.js'
import { openStore } from '../store/store.js'
import { createTempDir, createTestSig, type TestSig } from '../testing.js'

const KEY = '000102030405060708090a0b0c0d0e0f'
let tmp: { dir: string; remove: () => Promise<void> }
let sig: TestSig
beforeAll(async () => {
  tmp = await createTempDir('smgw-lmn-gateway-')
  sig = await createTestSig()
})
afterAll(async () => { await tmp.remove() })

/** A TCP "meter" that sends nothing and counts the gateway's connections. */
async function countingMeter(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0
  const sockets = new Set<Socket>()
  const server: Server = createServer((s) => {
    connections++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => { resolve() }) }),
  }
}

async function send(port: number, mbusId: string, seed: number): Promise<void> {
  const bytes = createWmbusMeterFromConfig(parseWmbusMeterConfig({ kind: 'heat', mode: 5, key: KEY, id: mbusId, seed, crc: 'none' })).next(new Date()).bytes
  const udp = createSocket('udp4')
  await new Promise<void>((resolve, reject) => { udp.send(bytes, port, '127.0.0.1', (err) => { if (err) reject(err); else resolve() }) })
  udp.close()
}

describe('the gateway changes only the LMN transports concerned', () => {
  it('adding a meter to a UDP transport keeps its socket and the SML line; a quirk change reconnects the SML meter only; installed keys reach the meter naming them; nothing committed is lost', async () => {
    const sml = await countingMeter()
    const udp = { udp: { host: '127.0.0.1', port: 0 } }
    const ehz = { id: 'ehz-1', kind: 'sml', transport: { tcp: { host: '127.0.0.1', port: sml.port } }, intervalS: 1 }
    const base = {
      gatewayId: 'smgw-0001', store: { path: join(tmp.dir, 'gw.db') }, logs: { sigKey: 'unused-with-deps', sigCertificate: 'unused-with-deps' },
      batch: { maxReadings: 100, maxDelayMs: 0 },
    }
    const heat1 = { id: 'heat-1', kind: 'wmbus', mbusId: '22222222', keyId: 'k.1', transport: udp, intervalS: 16 }
    const heat2 = { id: 'heat-2', kind: 'wmbus', mbusId: '33333333', keyId: 'k.2', transport: udp, intervalS: 16 }
    // k.2 is not known at first; the key map (as the --keys file gives it) is read again at every resolution.
    const keys = new Map([['k.1', Buffer.from(KEY, 'hex')]])
    const gw = createGateway(parseGatewayConfig({ ...base, meters: [heat1, ehz] }), { sig: { signer: sig.signer, certificate: sig.certificate }, keys })
    try {
      await gw.start()
      const [port] = gw.status().ports
      const meter = (id: string) => gw.status().meters.find((m) => m.id === id)
      await vi.waitFor(() => { expect(sml.connections()).toBe(1) }, { timeout: 10_000, interval: 20 })
      await send(port!, '22222222', 1)
      await vi.waitFor(() => { expect(meter('heat-1')?.stored).toBeGreaterThan(0) }, { timeout: 10_000, interval: 20 })
      const firstBatch = meter('heat-1')!.stored

      // A second meter on the same transport, the SML meter's interval changed: socket and TCP connection stay.
      await gw.reconfigure(parseGatewayConfig({ ...base, meters: [heat1, heat2, { ...ehz, intervalS: 2 }] }))
      expect(gw.status().ports).toEqual([port])
      expect(sml.connections()).toBe(1)
      await send(port!, '33333333', 2)
      await vi.waitFor(() => { expect(meter('heat-2')?.keyRejected).toBe(1) }, { timeout: 10_000, interval: 20 })

      // Its key arrives (as after meter-keys): only the UDP transport naming k.2 takes it.
      keys.set('k.2', Buffer.from(KEY, 'hex'))
      await gw.meterKeysInstalled(['k.2'])
      expect(gw.status().ports).toEqual([port])
      expect(sml.connections()).toBe(1)
      await send(port!, '33333333', 3)
      await vi.waitFor(() => { expect(meter('heat-2')?.stored).toBeGreaterThan(0) }, { timeout: 10_000, interval: 20 })

      // A quirk of the SML meter: its line is restarted (a new connection), the UDP socket stays.
      await gw.reconfigure(parseGatewayConfig({ ...base, meters: [heat1, heat2, { ...ehz, intervalS: 2, quirks: { signedPositivePower: true } }] }))
      await vi.waitFor(() => { expect(sml.connections()).toBe(2) }, { timeout: 10_000, interval: 20 })
      expect(gw.status().ports).toEqual([port])
      await send(port!, '22222222', 4)
      await vi.waitFor(() => { expect(meter('heat-1')?.stored).toBeGreaterThan(firstBatch) }, { timeout: 10_000, interval: 20 })
      await gw.close()

      const store = openStore(join(tmp.dir, 'gw.db'), { now: () => new Date() }, { readonly: true })
      try {
        const energy = store.readReadings().filter((r) => r.quantity === 'energy').map((r) => r.meterId)
        expect(energy).toEqual(['heat-1', 'heat-2', 'heat-1'])
      } finally {
        store.close()
      }
    } finally {
      await gw.close()
      await sml.close()
    }
  }, 60_000)
})

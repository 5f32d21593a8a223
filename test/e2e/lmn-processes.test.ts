// Integration with real processes: `smgw sim` processes → a `smgw gateway` process over a
// socat serial pair (SML, with noise and a cut-off file) and UDP (wireless M-Bus, security
// modes 5 and 7, and a meter the gateway does not know). After a bounded run the gateway is
// stopped with SIGTERM; the store must hold exactly what the simulators report they sent.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openStore, verifyStoreLogs, type StoredReading } from '@smgw/gateway'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTempDir, createTestSig, type TestSig } from '../../packages/gateway/src/testing.js'
import { runSmgw, startGatewayProcess, udpPortsOf, type GatewayProcess, type SmgwRun } from './harness/processes.js'
import { openPtyPair, type PtyPair } from './harness/pty.js'

const KEY5 = '000102030405060708090A0B0C0D0E0F'
const KEY7 = 'F0E0D0C0B0A090807060504030201000'

let tmp: { dir: string; remove: () => Promise<void> }
let sig: TestSig
let pty: PtyPair | undefined
let gateway: GatewayProcess | undefined

beforeAll(async () => {
  tmp = await createTempDir('smgw-e2e-lmn-')
  sig = await createTestSig(new Date('2026-01-01T00:00:00Z'))
  await writeFile(join(tmp.dir, 'sig.key.pem'), sig.keyPem, { mode: 0o600 })
  await writeFile(join(tmp.dir, 'sig.cert.der'), sig.certificate)
  await writeFile(join(tmp.dir, 'keys.json'), JSON.stringify({ water: KEY5, heat: KEY7 }), { mode: 0o600 })
})
afterAll(async () => {
  gateway?.signal('SIGKILL')
  await pty?.close()
  await tmp.remove()
})

/** A `smgw sim … --json` line: what one frame carried, as the simulator reports it. */
type SentLine = Record<string, unknown> & { readonly meter: number; readonly frame: 'sml' | 'wmbus' }

function sentLines(run: SmgwRun): SentLine[] {
  expect([run.status, run.stderr.includes('not sent')], run.stderr).toEqual([0, false])
  return run.stdout.trim().split('\n').map((l) => JSON.parse(l) as SentLine)
}

/** mantissa × 10^scaler as the shortest decimal text, as JavaScript prints the same number. */
function decimalOf(mantissa: bigint, scaler: number): string {
  const negative = mantissa < 0n
  const digits = (negative ? -mantissa : mantissa).toString()
  let text: string
  if (scaler >= 0) text = (BigInt(digits) * 10n ** BigInt(scaler)).toString()
  else {
    const padded = digits.padStart(-scaler + 1, '0')
    const int = padded.slice(0, padded.length + scaler)
    const frac = padded.slice(padded.length + scaler).replace(/0+$/, '')
    text = frac === '' ? int : `${int}.${frac}`
  }
  return negative && text !== '0' ? `-${text}` : text
}

function valuesOf(rows: readonly StoredReading[]): Record<string, string> {
  return Object.fromEntries(rows.map((r) => [r.quantity, decimalOf(r.mantissa, r.scaler)]))
}

describe('simulator processes → gateway process (serial pty pair, UDP)', () => {
  it('stores exactly what the simulators report they sent; SIGTERM stops the gateway cleanly', async () => {
    pty = await openPtyPair(tmp.dir)
    const udp = { udp: { host: '127.0.0.1', port: 0 } }
    // Hour-long expected intervals: no meter counts as silent however slowly the processes start.
    const config = join(tmp.dir, 'gateway.json')
    await writeFile(config, JSON.stringify({
      gatewayId: 'smgw-0001',
      store: { path: 'gateway.db' },
      logs: { sigKey: 'sig.key.pem', sigCertificate: 'sig.cert.der' },
      batch: { maxReadings: 500, maxDelayMs: 20 },
      meters: [
        { id: 'ehz-serial', kind: 'sml', intervalS: 3600, consumer: 'c-1', transport: { serial: { path: pty.b, baudRate: 9600 } } },
        ...[1, 2, 3].map((i) => ({ id: `water-${i}`, kind: 'wmbus', mbusId: `2000000${i}`, keyId: 'water', intervalS: 3600, transport: udp })),
        ...[1, 2].map((i) => ({ id: `heat-${i}`, kind: 'wmbus', mbusId: `3000000${i}`, keyId: 'heat', intervalS: 3600, transport: udp })),
      ],
    }))
    const gw = startGatewayProcess(config, { keys: join(tmp.dir, 'keys.json') })
    gateway = gw
    await gw.waitFor(() => udpPortsOf(gw) !== undefined, 30_000, 'running line')
    const [port] = udpPortsOf(gw)!
    expect(port).toBeGreaterThan(0)

    // Four SML files a second apart, noise before each, the second cut off (seed 1); one
    // telegram from each wireless meter; and one from a meter that is not configured.
    const [sml, water, heat, stranger] = await Promise.all([
      runSmgw(['sim', 'sml', '--serial', pty.a, '--interval', '1', '--count', '4', '--seed', '1', '--quirk', 'noise', '--quirk', 'truncated', '--json']),
      runSmgw(['sim', 'wmbus', '--udp', `127.0.0.1:${port}`, '--meter', 'water', '--mode', '5', '--key', KEY5, '--id', '20000001', '--meters', '3', '--count', '1', '--seed', '4', '--json']),
      runSmgw(['sim', 'wmbus', '--udp', `127.0.0.1:${port}`, '--meter', 'heat', '--mode', '7', '--key', KEY7, '--id', '30000001', '--meters', '2', '--count', '1', '--seed', '5', '--json']),
      runSmgw(['sim', 'wmbus', '--udp', `127.0.0.1:${port}`, '--meter', 'gas', '--mode', '0', '--id', '40000001', '--count', '1', '--json']),
    ])
    const smlSent = sentLines(sml)
    const waterSent = sentLines(water)
    const heatSent = sentLines(heat)
    expect(sentLines(stranger)).toHaveLength(1)
    expect(smlSent.map((l) => l.truncated)).toEqual([false, true, false, false])
    const complete = smlSent.filter((l) => l.truncated === false)
    // SML: import, export, power per complete file; water: volume, flow; heat: six records.
    const expected = complete.length * 3 + waterSent.length * 2 + heatSent.length * 6
    await gw.waitFor(() => gw.acks.reduce((n, a) => n + a.count, 0) >= expected, 20_000, `${expected} acknowledged readings`)
    gw.signal('SIGTERM')
    expect(await gw.exited).toEqual({ code: 0, signal: null })
    expect(gw.lines.at(-1)).toMatchObject({ event: 'stopped', state: 'closed', stored: expected, unknownMeters: ['40000001'] })
    expect(gw.lines.find((l) => l.msg === 'unknown LMN device ignored')).toMatchObject({ meter: '40000001' })

    const store = openStore(join(tmp.dir, 'gateway.db'), { now: () => new Date() }, { readonly: true })
    try {
      const rows = store.readReadings()
      expect(rows).toHaveLength(expected)
      const of = (meterId: string) => rows.filter((r) => r.meterId === meterId)

      // SML over the serial line: exactly the complete files, in order, with their registers as sent.
      const smlRows = of('ehz-serial')
      expect(smlRows.map((r) => [r.quantity, r.mantissa, r.scaler, r.unit])).toEqual(complete.flatMap((l) => [
        ['1-0:1.8.0*255', BigInt(Math.round(Number(l.importWh) * 10)), -1, 'Wh'],
        ['1-0:2.8.0*255', BigInt(Math.round(Number(l.exportWh) * 10)), -1, 'Wh'],
        ['1-0:16.7.0*255', BigInt(Number(l.powerW)), 0, 'W'],
      ]))

      // Wireless M-Bus over UDP: each meter's records equal to what its simulator reports.
      for (const l of waterSent) {
        expect(valuesOf(of(`water-${Number(l.id) - 20000000}`)), `water ${String(l.id)}`).toEqual({
          volume: String(l.volumeM3), volume_flow: String(l.flowM3h),
        })
      }
      for (const l of heatSent) {
        expect(valuesOf(of(`heat-${Number(l.id) - 30000000}`)), `heat ${String(l.id)}`).toEqual({
          energy: String(l.energyWh), volume: String(l.volumeM3), power: String(l.powerW), volume_flow: String(l.flowM3h),
          flow_temperature: String(l.flowTemperatureC), return_temperature: String(l.returnTemperatureC),
        })
      }

      // The logs: started … stopped by SIGTERM, the stranger once, a consumer entry per SML batch; all chains verify.
      const system = store.logRows.entries('system', '')
      expect(system[0]?.type).toBe('gateway-started')
      expect(system.filter((e) => e.type === 'lmn-device-unknown').map((e) => JSON.parse(String(e.fields)) as unknown)).toEqual([{ transport: 'wmbus-udp', meterId: '40000001' }])
      expect(system.at(-1)?.type).toBe('gateway-stopped')
      expect(JSON.parse(String(system.at(-1)!.fields))).toEqual({ reason: 'sigterm' })
      const consumed = store.logRows.entries('consumer', 'c-1').map((e) => Number(/^(\d+) readings? of meter ehz-serial/.exec((JSON.parse(String(e.fields)) as { text: string }).text)?.[1]))
      expect(consumed.reduce((n, c) => n + c, 0)).toBe(complete.length * 3)
      const verified = verifyStoreLogs(store, { certificate: sig.certificate, roots: [sig.root], intermediates: [sig.subCa] })
      expect(verified.chains.filter((c) => !c.ok)).toEqual([])
      expect(verified.chains.map((c) => `${c.log}/${c.stream}`).sort()).toEqual(['consumer/c-1', 'system/']) // nothing for calibration
    } finally {
      store.close()
    }
  }, 90_000)
})

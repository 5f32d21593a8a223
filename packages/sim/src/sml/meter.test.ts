import fc from 'fast-check'
import { createSmlFramer, decodeSmlFile, extractReadings, type SmlReading } from '@smgw/sml'
import { describe, expect, it } from 'vitest'
import { createPvProfile } from '../profiles/pv.js'
import { createStandardProfile } from '../profiles/standard.js'
import { SML_OBIS, createSmlMeter, powerValue, type SmlMeterOptions } from './meter.js'
import { encodeSmlFile } from '@smgw/sml'

const serverId = Uint8Array.of(0x0a, 0x01, 0x53, 0x49, 0x4d, 0x00, 0x00, 0x00, 0x00, 0x2a)
const h0 = createStandardProfile({ name: 'h0', annualKwh: 3500 })
const START = Date.UTC(2025, 0, 15, 0, 0, 0)

function byObis(readings: readonly SmlReading[]): Map<string, SmlReading> {
  return new Map(readings.map((r) => [r.obis, r]))
}

function meter(options: Partial<SmlMeterOptions> = {}) {
  return createSmlMeter({ serverId, consumption: h0, seed: 42, ...options })
}

describe('SML meter', () => {
  it('emits OpenResponse, GetListResponse, CloseResponse with the registers, power and server id', () => {
    const m = meter()
    m.next(new Date(START))
    const e = m.next(new Date(START + 2000))
    const file = decodeSmlFile(e.file)
    expect(file.messages.map((msg) => msg.body.kind)).toEqual(['openResponse', 'getListResponse', 'closeResponse'])
    const list = file.messages[1]!.body
    expect(list.kind === 'getListResponse' && list.actSensorTime).toEqual({ kind: 'secIndex', secIndex: 2 })
    const r = byObis(extractReadings(file))
    expect(r.get('1-0:0.0.9*255')?.value).toBe('0a0153494d000000002a')
    expect(r.get('1-0:1.8.0*255')).toMatchObject({ unit: 'Wh', scaler: -1, value: e.values.importWh })
    expect(r.get('1-0:2.8.0*255')?.value).toBe(0)
    expect(r.get('1-0:16.7.0*255')).toMatchObject({ unit: 'W', value: e.values.powerW })
    expect(e.values.powerW).toBeGreaterThan(0)
    expect(e.bytes).toEqual(e.file)
  })

  it('integrates the profile: one day of files adds up to the profile energy', () => {
    const m = meter()
    let previous = 0
    let last = m.next(new Date(START))
    for (let s = 4; s <= 86_400; s += 4 * 60) {
      const e = m.next(new Date(START + s * 1000))
      const r = byObis(extractReadings(decodeSmlFile(e.file)))
      const imported = r.get('1-0:1.8.0*255')?.value as number
      expect(imported).toBeGreaterThanOrEqual(previous)
      previous = imported
      last = e
    }
    // Independent integral of the profile at 1-minute resolution over the same span.
    let expected = 0
    const end = last.values.at.getTime()
    for (let ms = START; ms < end; ms += 60_000) expected += (h0.powerW(new Date(ms + 30_000)) * Math.min(60_000, end - ms)) / 3_600_000
    expect(expected).toBeGreaterThan(5000) // about 9.6 kWh/day in January for 3500 kWh/a
    expect(Math.abs(last.values.importWh / expected - 1)).toBeLessThan(0.01)
    expect(last.values.exportWh).toBe(0)
  })

  it('puts surplus PV into the export register and reports negative power', () => {
    const m = meter({ generation: createPvProfile({ peakW: 8000, seed: 1, cloudiness: 0 }) })
    const t0 = Date.UTC(2025, 5, 21, 9)
    const first = m.next(new Date(t0))
    const e = m.next(new Date(t0 + 3_600_000))
    expect(e.values.powerW).toBeLessThan(0)
    expect(e.values.exportWh - first.values.exportWh).toBeGreaterThan(3000)
    const r = byObis(extractReadings(decodeSmlFile(e.file)))
    expect(r.get('1-0:2.8.0*255')?.value).toBe(e.values.exportWh)
    expect(r.get('1-0:16.7.0*255')?.value).toBe(e.values.powerW)
  })

  it('is reproducible: the same seed and instants give the same bytes, another seed others', () => {
    const run = (seed: number) => {
      const m = meter({ seed, quirks: ['noise', 'truncated'] })
      return Array.from({ length: 50 }, (_, i) => Buffer.from(m.next(new Date(START + i * 2000)).bytes).toString('hex'))
    }
    expect(run(1)).toEqual(run(1))
    expect(run(1)).not.toEqual(run(2))
  })

  it('signs nothing by default and carries a 32-byte list signature field when asked', () => {
    const plain = decodeSmlFile(meter().next(new Date(START)).file).messages[1]!.body
    const signed = decodeSmlFile(meter({ signature: true }).next(new Date(START)).file).messages[1]!.body
    expect(plain.kind === 'getListResponse' && plain.listSignature).toBe(undefined)
    expect(signed.kind === 'getListResponse' && signed.listSignature?.length).toBe(32)
  })

  it('quirk unsigned-negative-power: decodes right only with the sml quirk switched on', () => {
    const m = meter({ consumption: undefined, generation: createPvProfile({ peakW: 5000, seed: 1, cloudiness: 0 }), quirks: ['unsigned-negative-power'] })
    const e = m.next(new Date(Date.UTC(2025, 5, 21, 11)))
    expect(e.values.powerW).toBeLessThan(-1000)
    const file = decodeSmlFile(e.file)
    expect(byObis(extractReadings(file)).get('1-0:16.7.0*255')?.value).toBe(e.values.powerW + 0x10000)
    expect(byObis(extractReadings(file, { quirks: { unsignedNegativePower: true } })).get('1-0:16.7.0*255')?.value).toBe(e.values.powerW)
  })

  it('quirk signed-positive-power: 1–2 byte Integer with the top bit set (DZG DVS74)', () => {
    const g0 = createStandardProfile({ name: 'g0', annualKwh: 200_000 }) // tens of kW
    let seen = 0
    for (const [profile, at] of [[h0, START + 18 * 3_600_000], [g0, START + 10 * 3_600_000]] as const) {
      const e = createSmlMeter({ serverId, consumption: profile, seed: 3, quirks: ['signed-positive-power'] }).next(new Date(at))
      const p = e.values.powerW
      if (!((p >= 0x80 && p <= 0xff) || p >= 0x8000)) continue
      seen++
      const file = decodeSmlFile(e.file)
      expect(byObis(extractReadings(file)).get('1-0:16.7.0*255')?.value).toBeLessThan(0)
      expect(byObis(extractReadings(file, { quirks: { signedPositivePower: true } })).get('1-0:16.7.0*255')?.value).toBe(p)
    }
    expect(seen).toBe(1) // the g0 case (≥ 32768 W); h0 at 19:00 is 256–32767 W, sent normally
  })

  it('property: every power value the quirks mangle comes back with the matching sml quirk', () => {
    const roundTrip = (powerW: number, quirk: 'unsigned-negative-power' | 'signed-positive-power') => {
      const file = encodeSmlFile({
        messages: [{ transactionId: Uint8Array.of(1), groupNo: 0, abortOnError: 0, body: { kind: 'getListResponse', serverId, valList: [{ objName: SML_OBIS.activePower, unit: 27, scaler: 0, value: powerValue(powerW, new Set([quirk])) }] } }],
      })
      const quirks = quirk === 'unsigned-negative-power' ? { unsignedNegativePower: true } : { signedPositivePower: true }
      return extractReadings(decodeSmlFile(file), { quirks })[0]?.value
    }
    fc.assert(fc.property(fc.integer({ min: -2_000_000, max: -1 }), (p) => { expect(roundTrip(p, 'unsigned-negative-power')).toBe(p) }))
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), (p) => { expect(roundTrip(p, 'signed-positive-power')).toBe(p) }))
  })

  it('quirk u16-body-tag: the messageBody tag goes out as 63 01 01 and still decodes', () => {
    const e = meter({ quirks: ['u16-body-tag'] }).next(new Date(START))
    expect(Buffer.from(e.file).toString('hex')).toContain('630101')
    expect(Buffer.from(e.file).toString('hex')).toContain('630701')
    expect(decodeSmlFile(e.file).messages.map((m) => m.body.kind)).toEqual(['openResponse', 'getListResponse', 'closeResponse'])
  })

  it('property: with noise and truncated files the framer finds exactly the complete files', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.boolean(), (seed, signature) => {
        const m = meter({ seed, signature, quirks: ['noise', 'truncated'], truncateProbability: 0.3 })
        const framer = createSmlFramer()
        let complete = 0
        let truncated = 0
        let noise = 0
        let frames = 0
        let dropped = 0
        let skipped = 0
        for (let i = 0; i < 60; i++) {
          const e = m.next(new Date(START + i * 2000))
          if (e.truncated) truncated++
          else complete++
          noise += e.noiseBytes
          expect(e.noiseBytes).toBeGreaterThan(0)
          for (const ev of framer.push(e.bytes)) {
            if (ev.kind === 'frame') {
              frames++
              expect(decodeSmlFile(ev.bytes).messages).toHaveLength(3)
            } else if (ev.kind === 'skipped') skipped += ev.count
            else dropped++
          }
        }
        for (const ev of framer.end()) if (ev.kind !== 'frame' && ev.kind !== 'skipped') dropped++
        expect(frames).toBe(complete)
        expect(dropped).toBe(truncated)
        // Noise after a cut-off file is part of what the framer drops with it (at most 16 bytes each).
        expect(skipped).toBeLessThanOrEqual(noise)
        expect(skipped).toBeGreaterThanOrEqual(noise - 16 * truncated)
      }),
      { numRuns: 40 },
    )
  })

  it('rejects time going backwards and bad options with typed errors', () => {
    const m = meter()
    m.next(new Date(START + 1000))
    expect(() => m.next(new Date(START))).toThrow(expect.objectContaining({ code: 'SIM_TIME' }))
    expect(() => m.next(new Date(Number.NaN))).toThrow(expect.objectContaining({ code: 'SIM_TIME' }))
    expect(() => createSmlMeter({ serverId: new Uint8Array(0), seed: 1 })).toThrow(expect.objectContaining({ code: 'SIM_CONFIG' }))
    expect(() => createSmlMeter({ serverId, seed: 1, manufacturer: 'abc' })).toThrow(expect.objectContaining({ code: 'SIM_CONFIG' }))
  })

  it('property: any seed and increasing instants give decodable files with non-decreasing registers', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.array(fc.integer({ min: 0, max: 7_200_000 }), { minLength: 1, maxLength: 20 }), fc.boolean(), (seed, gaps, pv) => {
        const m = createSmlMeter({ serverId, consumption: h0, seed, ...(pv ? { generation: createPvProfile({ peakW: 6000, seed }) } : {}), quirks: ['u16-body-tag'] })
        let t = START + seed % 31_536_000_000
        let lastImport = 0
        let lastExport = 0
        for (const gap of gaps) {
          t += gap
          const e = m.next(new Date(t))
          const r = byObis(extractReadings(decodeSmlFile(e.file)))
          const imp = r.get('1-0:1.8.0*255')?.value as number
          const exp = r.get('1-0:2.8.0*255')?.value as number
          expect(imp).toBeGreaterThanOrEqual(lastImport)
          expect(exp).toBeGreaterThanOrEqual(lastExport)
          lastImport = imp
          lastExport = exp
        }
      }),
      { numRuns: 60 },
    )
  })
})

import { createSmlMeterFromConfig, parseSmlMeterConfig } from '@smgw/sim'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ReadingInput } from '../../store/types.js'
import type { LmnEvent } from '../types.js'
import { createSmlReader, decodeSmlReadings } from './reader.js'

const at = (i: number) => new Date(Date.UTC(2026, 5, 15, 12, 0, 0) + i * 2000)

describe('decodeSmlReadings', () => {
  it('registers as raw integer and scaler, power with unit and status, octet strings skipped', () => {
    const meter = createSmlMeterFromConfig(parseSmlMeterConfig({ seed: 4 }))
    const e = meter.next(at(0))
    const readings = decodeSmlReadings(e.file, 'm-1', at(0))
    expect(readings.map((r) => r.quantity)).toEqual(['1-0:1.8.0*255', '1-0:2.8.0*255', '1-0:16.7.0*255'])
    const imp = readings[0]!
    expect(imp).toMatchObject({ meterId: 'm-1', scaler: -1, unit: 'Wh', mantissa: BigInt(Math.round(e.values.importWh * 10)) })
    expect(imp.status).toBeTypeOf('bigint')
    expect(readings[2]).toMatchObject({ unit: 'W', mantissa: BigInt(e.values.powerW), scaler: 0 })
    expect(readings.every((r) => r.time.getTime() === at(0).getTime())).toBe(true) // secIndex is no time of day
  })

  it('QUIRK signed-positive-power: undone by the configured quirk, the stored power is the one sent', () => {
    const meter = createSmlMeterFromConfig(parseSmlMeterConfig({ seed: 8, quirks: ['signed-positive-power'], annualKwh: 2000 }))
    const powerOf = (r: ReadingInput[]) => r.find((x) => x.quantity === '1-0:16.7.0*255')!
    let affected = 0
    for (let i = 0; i < 200; i++) {
      const e = meter.next(new Date(at(0).getTime() + i * 600_000))
      const power = powerOf(decodeSmlReadings(e.file, 'm', at(i), { signedPositivePower: true }))
      expect(Number(power.mantissa) * 10 ** power.scaler).toBe(e.values.powerW)
      if (powerOf(decodeSmlReadings(e.file, 'm', at(i))).mantissa !== power.mantissa) affected++
    }
    expect(affected).toBeGreaterThan(0) // some powers fell into 128–255 W
  })
})

describe('createSmlReader', () => {
  it('property: however the line is chunked, every complete file is delivered once and every other byte is counted', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1000 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 10 }), (seed, cuts) => {
      const meter = createSmlMeterFromConfig(parseSmlMeterConfig({ seed, quirks: ['noise', 'truncated'], truncateProbability: 0.3 }))
      const emissions = Array.from({ length: 6 }, (_, i) => meter.next(at(i)))
      const line = Buffer.concat(emissions.map((e) => e.bytes))
      const got: ReadingInput[][] = []
      const events: LmnEvent[] = []
      const reader = createSmlReader({ meterId: 'm', transport: 'sml-serial' }, { readings: (_m, b) => { got.push([...b]) }, event: (e) => { events.push(e) } }, () => at(0))
      let pos = 0
      for (let i = 0; pos < line.length; i++) {
        const n = cuts[i % cuts.length]!
        reader.push(line.subarray(pos, pos + n))
        pos += n
      }
      reader.end()
      const complete = emissions.filter((e) => !e.truncated)
      expect(got.map((b) => b[0]!.mantissa)).toEqual(complete.map((e) => BigInt(Math.round(e.values.importWh * 10))))
      const dropped = events.reduce((n, e) => n + (e.kind === 'garbage' ? e.bytes : 0), 0)
      expect(dropped + complete.reduce((n, e) => n + e.file.length, 0)).toBe(line.length)
    }), { numRuns: 30 })
  })
})

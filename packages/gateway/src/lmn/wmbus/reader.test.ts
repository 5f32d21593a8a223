import { createWmbusMeterFromConfig, parseWmbusMeterConfig } from '@smgw/sim'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ReadingInput } from '../../store/types.js'
import type { LmnEvent, LmnSink } from '../types.js'
import { createWmbusFramer, createWmbusReader, decimalOf } from './reader.js'

const KEY = Uint8Array.from(Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'))
const at = (i: number) => new Date(Date.UTC(2026, 0, 15, 12, 0, 0) + i * 32_000)

function collect(): LmnSink & { readings_: ReadingInput[][]; events: LmnEvent[] } {
  const readings_: ReadingInput[][] = []
  const events: LmnEvent[] = []
  return { readings_, events, readings: (_id, b) => { readings_.push([...b]) }, event: (e) => { events.push(e) } }
}

describe('decimalOf', () => {
  it('splits the shortest decimal form exactly', () => {
    expect(decimalOf(28504.27)).toEqual({ mantissa: 2850427n, scaler: -2 })
    expect(decimalOf(1200)).toEqual({ mantissa: 12n, scaler: 2 })
    expect(decimalOf(-0.001)).toEqual({ mantissa: -1n, scaler: -3 })
    expect(decimalOf(1e-7)).toEqual({ mantissa: 1n, scaler: -7 })
    expect(decimalOf(0)).toEqual({ mantissa: 0n, scaler: 0 })
  })

  it('property: mantissa × 10^scaler prints as the same number', () => {
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => {
      const d = decimalOf(v)
      if (d === undefined) return
      expect(Number(`${d.mantissa}e${d.scaler}`)).toBe(v === 0 ? 0 : v)
    }))
  })
})

describe('createWmbusFramer', () => {
  it('property: frames come out whole however the stream is chunked, format A and without CRCs', () => {
    fc.assert(fc.property(fc.constantFrom<'A' | 'none'>('A', 'none'), fc.integer({ min: 1, max: 6 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }), (crc, n, cuts) => {
      const meter = createWmbusMeterFromConfig(parseWmbusMeterConfig({ kind: 'heat', mode: 5, key: '000102030405060708090a0b0c0d0e0f', crc, seed: n }))
      const frames = Array.from({ length: n }, (_, i) => meter.next(at(i)).bytes)
      const stream = Buffer.concat(frames)
      const framer = createWmbusFramer({ crc })
      const out: Uint8Array[] = []
      let pos = 0
      for (let i = 0; pos < stream.length; i++) {
        const len = cuts[i % cuts.length]!
        const r = framer.push(stream.subarray(pos, pos + len))
        expect(r.skipped).toBe(0)
        out.push(...r.frames)
        pos += len
      }
      expect(out.map((f) => Buffer.from(f).toString('hex'))).toEqual(frames.map((f) => Buffer.from(f).toString('hex')))
      expect(framer.pending()).toBe(0)
    }), { numRuns: 40 })
  })

  it('skips bytes that cannot be an L-field', () => {
    const r = createWmbusFramer({ crc: 'none' }).push(Uint8Array.of(0, 1, 8))
    expect(r).toEqual({ frames: [], skipped: 3 })
  })
})

describe('createWmbusReader', () => {
  it('garbage never throws: it becomes a garbage event', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (bytes) => {
      const sink = collect()
      createWmbusReader([{ id: 'm', mbusId: '12345678', key: KEY }], 'wmbus-udp', sink, () => at(0)).telegram(bytes)
      expect(sink.readings_.length + sink.events.length).toBe(1)
    }))
  })

  it('a plain (mode 0) telegram from an unconfigured meter is unknown; configured it yields readings with the status byte', () => {
    const meter = createWmbusMeterFromConfig(parseWmbusMeterConfig({ kind: 'water', mode: 0, id: '55555555' }))
    const bytes = meter.next(at(0)).bytes
    const unknown = collect()
    createWmbusReader([], 'wmbus-udp', unknown, () => at(0)).telegram(bytes)
    expect(unknown.events).toEqual([{ kind: 'unknown-meter', transport: 'wmbus-udp', meterId: '55555555' }])
    const known = collect()
    createWmbusReader([{ id: 'water-1', mbusId: '55555555' }], 'wmbus-udp', known, () => at(0)).telegram(bytes)
    expect(known.events).toEqual([])
    const quantities = known.readings_[0]!.map((r) => r.quantity)
    expect(quantities).toContain('volume')
    expect(quantities).toContain('volume_flow')
    expect(quantities).not.toContain('date')
    expect(known.readings_[0]!.every((r) => r.meterId === 'water-1' && r.time.getTime() === at(0).getTime() && r.status !== undefined)).toBe(true)
  })

  it('an encrypted telegram without a configured key is key-rejected (MISSING_KEY)', () => {
    const bytes = createWmbusMeterFromConfig(parseWmbusMeterConfig({ kind: 'gas', mode: 7, key: '000102030405060708090a0b0c0d0e0f', id: '66666666' })).next(at(0)).bytes
    const sink = collect()
    createWmbusReader([{ id: 'gas-6', mbusId: '66666666' }], 'wmbus-serial', sink, () => at(0)).telegram(bytes)
    expect(sink.events).toEqual([{ kind: 'key-rejected', transport: 'wmbus-serial', meterId: 'gas-6', code: 'MISSING_KEY' }])
  })
})

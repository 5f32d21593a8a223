import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { encodeSmlTransport } from './encode.js'
import { createSmlFramer } from './framer.js'
import type { SmlFramerEvent } from './framer.js'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

type Summary = { kind: 'frame'; hex: string } | { kind: 'skipped'; count: number } | { kind: 'error'; code: string; count: number }

function summary(events: readonly SmlFramerEvent[]): Summary[] {
  return events.map((e) => (e.kind === 'frame' ? { kind: 'frame', hex: toHex(e.bytes) } : e.kind === 'skipped' ? e : { kind: 'error', code: e.error.code, count: e.count }))
}

function run(input: Uint8Array, chunks: readonly number[] = [], maxFrameBytes?: number): Summary[] {
  const framer = createSmlFramer(maxFrameBytes === undefined ? {} : { maxFrameBytes })
  const events: SmlFramerEvent[] = []
  let at = 0
  for (const c of chunks) {
    events.push(...framer.push(input.subarray(at, Math.min(input.length, at + c))))
    at = Math.min(input.length, at + c)
  }
  events.push(...framer.push(input.subarray(at)), ...framer.end())
  // Adjacent skipped events are one run of noise split by chunking; merge them.
  const merged: Summary[] = []
  for (const s of summary(events)) {
    const last = merged.at(-1)
    if (s.kind === 'skipped' && last?.kind === 'skipped') last.count += s.count
    else merged.push(s)
  }
  return merged
}

const a = encodeSmlTransport(hex('76 0102030405'))
const b = encodeSmlTransport(hex('1b1b1b1b 1b1b aabbccdd'))

describe('createSmlFramer', () => {
  it('finds files and reports the noise between them', () => {
    const input = Uint8Array.from([0x00, 0x1b, 0x1b, 0x42, ...a, 0x55, ...b])
    expect(run(input)).toEqual([
      { kind: 'skipped', count: 4 },
      { kind: 'frame', hex: toHex(a) },
      { kind: 'skipped', count: 1 },
      { kind: 'frame', hex: toHex(b) },
    ])
  })

  it('gives the payload with the frame', () => {
    const [ev] = createSmlFramer().push(b)
    expect(ev?.kind).toBe('frame')
    if (ev?.kind === 'frame') expect(toHex(ev.payload)).toBe('1b1b1b1b1b1baabbccdd')
  })

  it('finds a start after a run of more than four 0x1b', () => {
    expect(run(Uint8Array.from([0x1b, 0x1b, ...a]))).toEqual([{ kind: 'skipped', count: 2 }, { kind: 'frame', hex: toHex(a) }])
  })

  it('reports a file cut off by the next start as SML_TRUNCATED and keeps the next file', () => {
    const input = Uint8Array.from([...a.subarray(0, 13), ...b])
    expect(run(input)).toEqual([{ kind: 'error', code: 'SML_TRUNCATED', count: 13 }, { kind: 'frame', hex: toHex(b) }])
  })

  it('end() reports a file cut off by the end of the stream', () => {
    expect(run(a.subarray(0, a.length - 3))).toEqual([{ kind: 'error', code: 'SML_TRUNCATED', count: a.length - 3 }])
    expect(run(hex('1b1b1b'))).toEqual([{ kind: 'skipped', count: 3 }])
  })

  it('drops a file with a bad CRC (SML_CRC) and resynchronises', () => {
    const bad = a.slice()
    bad[9] = bad[9]! ^ 0xff
    expect(run(Uint8Array.from([...bad, ...b]))).toEqual([{ kind: 'error', code: 'SML_CRC', count: bad.length }, { kind: 'frame', hex: toHex(b) }])
  })

  it('drops a file with an unknown escape sequence (SML_ESCAPE) and resynchronises', () => {
    const bad = hex('1b1b1b1b01010101 1b1b1b1b 02020202')
    expect(run(Uint8Array.from([...bad, ...a]))).toEqual([
      { kind: 'error', code: 'SML_ESCAPE', count: 9 },
      { kind: 'skipped', count: 7 },
      { kind: 'frame', hex: toHex(a) },
    ])
  })

  it('drops a file longer than maxFrameBytes (SML_TOO_LARGE)', () => {
    const big = encodeSmlTransport(new Uint8Array(100).fill(7))
    const events = run(Uint8Array.from([...big, ...a]), [], 64)
    expect(events[0]).toMatchObject({ kind: 'error', code: 'SML_TOO_LARGE' })
    expect(events.at(-1)).toEqual({ kind: 'frame', hex: toHex(a) })
    expect(() => createSmlFramer({ maxFrameBytes: 3 })).toThrow(RangeError)
  })

  it('gives the same events however the input is chunked, and accounts for every byte', () => {
    const input = Uint8Array.from([0x42, ...a, 0x1b, 0x1b, 0x1b, ...b.subarray(0, 20), ...a, ...b, 0x07])
    const whole = run(input)
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 20 }), (chunks) => {
      expect(run(input, chunks)).toEqual(whole)
    }))
    const accounted = whole.reduce((n, e) => n + (e.kind === 'frame' ? e.hex.length / 2 : e.count), 0)
    expect(accounted).toBe(input.length)
  })

  it('never throws and accounts for every byte of random input', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 12 }), fc.constant(a), fc.constant(hex('1b1b1b1b01010101')), fc.constant(hex('1b1b1b1b1a'))), { maxLength: 12 }), (parts) => {
      const input = Uint8Array.from(parts.flatMap((p) => [...p]))
      const events = run(input, [], 256)
      const accounted = events.reduce((n, e) => n + (e.kind === 'frame' ? e.hex.length / 2 : e.count), 0)
      expect(accounted).toBe(input.length)
    }))
  })
})

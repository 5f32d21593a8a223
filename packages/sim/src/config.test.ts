import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseSimulatorConfig, parseSmlMeterConfig, parseWmbusMeterConfig } from './config.js'
import { SimError } from './errors.js'

describe('simulator configuration', () => {
  it('fills defaults and freezes the result', () => {
    const c = parseSimulatorConfig({ kind: 'sml', output: { kind: 'tcp', port: 7259 } })
    expect(c).toMatchObject({ kind: 'sml', intervalS: 2, output: { kind: 'tcp', host: '127.0.0.1', port: 7259 }, meter: { profile: 'h0', annualKwh: 3500, seed: 1, quirks: [] } })
    expect(Object.isFrozen(c)).toBe(true)
    const w = parseSimulatorConfig({ kind: 'wmbus', output: { kind: 'udp', port: 7260 }, meter: { kind: 'heat', key: '00'.repeat(16) } })
    expect(w).toMatchObject({ intervalS: 32, jitter: 0.1, meter: { kind: 'heat', mode: 5, id: '12345678', crc: 'none' } })
    expect(parseSmlMeterConfig({ profile: 'pv' }).profile).toBe('pv')
    expect(parseWmbusMeterConfig({ mode: 0 }).mode).toBe(0)
  })

  it('names every problem in one SIM_CONFIG error', () => {
    try {
      parseSimulatorConfig({ kind: 'wmbus', output: { kind: 'udp', port: 70_000 }, intervalS: 5, meter: { id: 'abc', mode: 0 } })
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(SimError)
      expect((err as SimError).code).toBe('SIM_CONFIG')
      expect((err as SimError).message).toMatch(/output\.port/)
      expect((err as SimError).message).toMatch(/intervalS/)
      expect((err as SimError).message).toMatch(/meter\.id/)
    }
  })

  it('property: any input either parses or throws a SimError', () => {
    const arbConfig = fc.record(
      {
        kind: fc.constantFrom('sml', 'wmbus', 'other'),
        output: fc.record({ kind: fc.constantFrom('serial', 'tcp', 'listen', 'udp'), port: fc.integer({ min: -5, max: 70_000 }), path: fc.string(), host: fc.string() }, { requiredKeys: ['kind'] }),
        meter: fc.record({ mode: fc.constantFrom(0, 5, 7, 6), key: fc.oneof(fc.string(), fc.constant('00'.repeat(16))), quirks: fc.array(fc.constantFrom('noise', 'truncated', 'zap')), seed: fc.oneof(fc.integer(), fc.double()) }, { requiredKeys: [] }),
        intervalS: fc.double(),
        count: fc.integer(),
      },
      { requiredKeys: ['kind'] },
    )
    fc.assert(
      fc.property(fc.oneof(fc.anything(), arbConfig), (input) => {
        try {
          parseSimulatorConfig(input)
        } catch (err) {
          expect(err).toBeInstanceOf(SimError)
        }
      }),
      { numRuns: 500 },
    )
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isGatewayError } from '../errors.js'
import { parseTariffProfiles } from './profile.js'

const MP = 'DE0001234567890000000000000000001'
const base = { id: 'p1', meteringPoint: MP, channels: [{ meterId: 'ehz-1', obis: '1-0:1.8.0' }], recipients: [{ id: 'EMT-1', role: 'supplier' }] }

function problem(input: unknown): string {
  try {
    parseTariffProfiles(input)
  } catch (err) {
    if (isGatewayError(err) && err.code === 'TAF_PROFILE_INVALID') return err.message
    throw err
  }
  throw new Error('accepted')
}

describe('tariff profiles', () => {
  it('reads a profile file of every use case, fills defaults, normalises OBIS and freezes it', () => {
    const profiles = parseTariffProfiles(JSON.stringify([
      { ...base, id: 'taf1-M1', useCase: 'taf1', schedule: { billingPeriod: 'monthly' } },
      {
        ...base, id: 'taf2-M1', useCase: 'taf2', schedule: { billingPeriod: 'monthly' },
        registers: { names: ['HT', 'NT'], default: 'NT', switching: [{ register: 'HT', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '06:00', to: '22:00' }] },
      },
      { ...base, id: 'taf6-M1', useCase: 'taf6' },
      { ...base, id: 'taf7-M1', useCase: 'taf7', recipients: [{ id: 'EMT-1', role: 'supplier', pseudonymise: true }], schedule: { send: { dailyAt: '00:30' } } },
      { ...base, id: 'taf9-M1', useCase: 'taf9', channels: [{ meterId: 'ehz-1', obis: '1-0:16.7.0*255' }] },
      { ...base, id: 'taf10-M1', useCase: 'taf10', channels: [{ meterId: 'ehz-1', obis: '1-0:32.7.0' }, { meterId: 'ehz-1', obis: '1-0:31.7.0' }], recipients: [{ id: 'VNB-1', role: 'grid-operator' }], schedule: { everySeconds: 60 } },
      { ...base, id: 'taf14-M1', useCase: 'taf14', channels: [{ meterId: 'ehz-1', obis: '1-0:16.7.0' }], schedule: { everySeconds: 5 } },
      { ...base, id: 'water', useCase: 'taf1', channels: [{ meterId: 'water-1', obis: '8-0:1.0.0', quantity: 'volume' }], schedule: { billingPeriod: 'yearly' } },
    ]))
    expect(profiles.map((p) => p.useCase)).toEqual(['taf1', 'taf2', 'taf6', 'taf7', 'taf9', 'taf10', 'taf14', 'taf1'])
    const taf7 = profiles[3]!
    expect(taf7.useCase === 'taf7' && taf7.schedule.periodSeconds).toBe(900)
    expect(taf7.channels[0]!.obis).toBe('1-0:1.8.0*255')
    expect(profiles[0]!.recipients[0]!.pseudonymise).toBe(false)
    const taf2 = profiles[1]!
    expect(taf2.useCase === 'taf2' && taf2.registers.holidays).toBe('weekday')
    expect(Object.isFrozen(taf7.channels[0])).toBe(true)
  })

  it('names the path of every problem', () => {
    expect(problem('[{')).toMatch(/not JSON/)
    expect(problem({})).toMatch(/\(top level\)/)
    expect(problem([{ ...base, useCase: 'taf8' }])).toMatch(/\[0\]\.useCase/)
    expect(problem([{ ...base, useCase: 'taf6', extra: 1 }])).toMatch(/\[0\]/)
    expect(problem([{ ...base, useCase: 'taf1', schedule: { billingPeriod: 'monthly' }, recipients: [{ id: 'EMT-1', role: 'supplier', pseudonymise: true }] }]))
      .toMatch(/\[0\]\.recipients\[0\]\.pseudonymise: taf1 readings are billed/)
    expect(problem([{ ...base, useCase: 'taf10', channels: [{ meterId: 'ehz-1', obis: '1-0:32.7.0' }], schedule: { everySeconds: 60 } }]))
      .toMatch(/\[0\]\.recipients\[0\]\.role: taf10 grid-status values go to the grid operator only/)
    expect(problem([{ ...base, useCase: 'taf7', channels: [{ meterId: 'ehz-1', obis: '1-0:16.7.0' }], schedule: { send: { everyHours: 6 } } }]))
      .toMatch(/\[0\]\.channels\[0\]\.obis: taf7 needs a cumulative register/)
    expect(problem([{ ...base, useCase: 'taf9' }])).toMatch(/taf9 needs an instantaneous value/)
    expect(problem([{ ...base, useCase: 'taf7', schedule: { send: { everyHours: 5 } } }])).toMatch(/\[0\]\.schedule\.send/)
    expect(problem([{ ...base, useCase: 'taf14', channels: [{ meterId: 'ehz-1', obis: '1-0:16.7.0' }], schedule: { everySeconds: 7 } }])).toMatch(/everySeconds: must divide 3600/)
    expect(problem([{ ...base, useCase: 'taf6' }, { ...base, useCase: 'taf6' }])).toMatch(/\[1\]\.id: profile p1 is defined twice/)
    expect(problem([{ ...base, useCase: 'taf6', recipients: [{ id: 'EMT-1', role: 'supplier' }, { id: 'EMT-1', role: 'emt' }] }])).toMatch(/recipients\[1\]\.id/)
    expect(problem([{ ...base, useCase: 'taf6', channels: [{ meterId: 'a', obis: '1-0:1.8.0' }, { meterId: 'b', obis: '1-0:1.8.0*255' }] }])).toMatch(/channels\[1\]\.obis: 1-0:1\.8\.0\*255 is measured twice/)
    expect(problem([{ ...base, useCase: 'taf6', channels: [{ meterId: 'a', obis: '1-0:1.8.0', meteringPoint: 'X' }] }])).toMatch(/only in an aggregating profile/)
    expect(problem([{ ...base, useCase: 'taf6', channels: [{ meterId: 'a', obis: '1-0:1.8.256' }] }])).toMatch(/OBIS groups are 0–255/)
  })

  it('checks the TAF 2 registers and switching windows', () => {
    const taf2 = (registers: unknown) => [{ ...base, useCase: 'taf2', schedule: { billingPeriod: 'daily' }, registers }]
    expect(problem(taf2({ names: ['HT', 'NT'], default: 'XT', switching: [{ register: 'HT', days: ['mon'], from: '06:00', to: '22:00' }] }))).toMatch(/registers\.default/)
    expect(problem(taf2({ names: ['HT', 'NT'], default: 'NT', switching: [{ register: 'ZT', days: ['mon'], from: '06:00', to: '22:00' }] }))).toMatch(/switching\[0\]\.register/)
    expect(problem(taf2({ names: ['HT', 'NT'], default: 'NT', switching: [{ register: 'HT', days: ['mon'], from: '22:00', to: '06:00' }] }))).toMatch(/switching\[0\]\.to: to must be after from/)
    expect(problem(taf2({
      names: ['HT', 'NT', 'ST'], default: 'NT',
      switching: [{ register: 'HT', days: ['mon', 'tue'], from: '06:00', to: '22:00' }, { register: 'ST', days: ['tue'], from: '21:00', to: '24:00' }],
    }))).toMatch(/switching\[1\]: overlaps window 0 on tue/)
    expect(problem(taf2({ names: ['HT', 'HT'], default: 'HT', switching: [{ register: 'HT', days: ['mon'], from: '06:00', to: '22:00' }] }))).toMatch(/unique/)
    expect(problem(taf2({ names: ['HT', 'NT'], default: 'NT', switching: [{ register: 'HT', days: ['mon'], from: '6:00', to: '22:00' }] }))).toMatch(/from: a clock time/)
  })

  it('aggregates only over at least 5 metering points and never with a pseudonym', () => {
    const channels = (n: number) => Array.from({ length: n }, (_, i) => ({ meterId: `m${i}`, obis: '1-0:1.8.0', meteringPoint: `MP${i}` }))
    const agg = (n: number, extra: object = {}) => [{ ...base, useCase: 'taf7', channels: channels(n), schedule: { send: { everyHours: 24 } }, aggregate: { group: 'house-7' }, ...extra }]
    expect(parseTariffProfiles(agg(5))[0]).toMatchObject({ aggregate: { group: 'house-7', minConsumers: 5 } })
    expect(problem(agg(4))).toMatch(/aggregate\.minConsumers: 1-0:1\.8\.0\*255 is measured at 4 metering points, fewer than 5/)
    expect(problem([{ ...agg(5)[0], aggregate: { group: 'g', minConsumers: 4 } }])).toMatch(/aggregate\.minConsumers/)
    expect(problem(agg(5, { recipients: [{ id: 'EMT-1', role: 'supplier', pseudonymise: true }] }))).toMatch(/an aggregate has no metering point to pseudonymise/)
    expect(problem([{ ...base, useCase: 'taf1', schedule: { billingPeriod: 'monthly' }, aggregate: { group: 'g' } }])).toMatch(/\[0\]/)
  })

  it('never throws anything but TAF_PROFILE_INVALID on arbitrary JSON (property)', () => {
    fc.assert(fc.property(fc.jsonValue(), (json) => {
      try {
        parseTariffProfiles(json)
      } catch (err) {
        expect(isGatewayError(err) && err.code).toBe('TAF_PROFILE_INVALID')
      }
    }), { numRuns: 300 })
  })
})

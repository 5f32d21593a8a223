import { describe, expect, it } from 'vitest'
import { obisName } from './names.js'
import { parseObis } from './obis.js'

describe('obisName', () => {
  it('names electricity registers with tariffs', () => {
    expect(obisName('1-0:1.8.0*255')).toBe('active energy import (+A) total')
    expect(obisName('1-0:2.8.0')).toBe('active energy export (-A) total')
    expect(obisName('1-0:1.8.1')).toBe('active energy import (+A) tariff 1')
    expect(obisName('1.8.2')).toBe('active energy import (+A) tariff 2')
  })
  it('names instantaneous values', () => {
    expect(obisName('1-0:16.7.0')).toBe('active power (import - export)')
    expect(obisName('1-0:36.7.0')).toBe('active power L1 (import - export)')
    expect(obisName('1-0:56.7.0')).toBe('active power L2 (import - export)')
    expect(obisName('1-0:76.7.0')).toBe('active power L3 (import - export)')
    expect(obisName('1-0:32.7.0')).toBe('voltage L1')
    expect(obisName('1-0:52.7.0')).toBe('voltage L2')
    expect(obisName('1-0:72.7.0')).toBe('voltage L3')
    expect(obisName('1-0:31.7.0')).toBe('current L1')
    expect(obisName('1-0:14.7.0')).toBe('supply frequency')
  })
  it('names service entries and other media', () => {
    expect(obisName('1-0:96.1.0*255')).toBe('device id (serial number)')
    expect(obisName('1-0:0.0.9*255')).toBe('server id (device identification)')
    expect(obisName('1-0:96.5.0*255')).toBe('operating status')
    expect(obisName(parseObis('3.0.0', { a: 7 }))).toBe('gas volume (meter conditions)')
    expect(obisName('8-0:1.0.0')).toBe('cold water volume')
    expect(obisName('6-0:1.0.0')).toBe('heat energy')
  })
  it('returns undefined for unknown codes', () => {
    expect(obisName('1-0:99.99.9')).toBeUndefined()
    expect(obisName('1-0:32.8.0')).toBeUndefined()
    expect(obisName('5-0:1.0.0')).toBeUndefined()
  })
})

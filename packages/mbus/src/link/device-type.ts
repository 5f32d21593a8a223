// EN 13757-3:2018 §6.3.4 Table 3 (device type / medium), with the OMS Vol. 2 additions.

export interface DeviceType {
  readonly code: number
  readonly name: string
}

/** Device type codes as typed data; codes not listed are reported as 'reserved'. */
export const DEVICE_TYPES: readonly DeviceType[] = [
  { code: 0x00, name: 'other' },
  { code: 0x01, name: 'oil' },
  { code: 0x02, name: 'electricity' },
  { code: 0x03, name: 'gas' },
  { code: 0x04, name: 'heat' },
  { code: 0x05, name: 'steam' },
  { code: 0x06, name: 'warm water' },
  { code: 0x07, name: 'water' },
  { code: 0x08, name: 'heat cost allocator' },
  { code: 0x09, name: 'compressed air' },
  { code: 0x0a, name: 'cooling load meter (outlet)' },
  { code: 0x0b, name: 'cooling load meter (inlet)' },
  { code: 0x0c, name: 'heat (inlet)' },
  { code: 0x0d, name: 'heat / cooling load meter' },
  { code: 0x0e, name: 'bus / system component' },
  { code: 0x0f, name: 'unknown medium' },
  { code: 0x10, name: 'irrigation water' },
  { code: 0x11, name: 'water data logger' },
  { code: 0x12, name: 'gas data logger' },
  { code: 0x13, name: 'gas converter' },
  { code: 0x14, name: 'calorific value' },
  { code: 0x15, name: 'hot water' },
  { code: 0x16, name: 'cold water' },
  { code: 0x17, name: 'dual water' },
  { code: 0x18, name: 'pressure' },
  { code: 0x19, name: 'A/D converter' },
  { code: 0x1a, name: 'smoke detector' },
  { code: 0x1b, name: 'room sensor' },
  { code: 0x1c, name: 'gas detector' },
  { code: 0x1d, name: 'reserved for sensors' },
  { code: 0x20, name: 'breaker (electricity)' },
  { code: 0x21, name: 'valve (gas or water)' },
  { code: 0x25, name: 'customer unit (display)' },
  { code: 0x28, name: 'waste water' },
  { code: 0x29, name: 'garbage' },
  { code: 0x2a, name: 'carbon dioxide' },
  { code: 0x31, name: 'communication controller' },
  { code: 0x32, name: 'unidirectional repeater' },
  { code: 0x33, name: 'bidirectional repeater' },
  { code: 0x36, name: 'radio converter (system side)' },
  { code: 0x37, name: 'radio converter (meter side)' },
  { code: 0x38, name: 'wired adapter' },
]

const BY_CODE: ReadonlyMap<number, DeviceType> = new Map(DEVICE_TYPES.map((t) => [t.code, t]))

export function decodeDeviceType(code: number): DeviceType {
  return BY_CODE.get(code) ?? { code, name: 'reserved' }
}

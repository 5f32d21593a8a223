import { MbusError } from '../errors.js'
import { readUint16Le } from '../lib/bytes.js'
import { decodeDeviceType, type DeviceType } from './device-type.js'
import { decodeManufacturer, encodeManufacturer } from './manufacturer.js'

/** A meter address: manufacturer, identification number, version, device type (EN 13757-4:2019 §5.2.4). */
export interface MeterAddress {
  readonly manufacturer: string
  /** The identification number as printed on the meter: 8 digits (hex digits if the meter sends non-BCD). */
  readonly id: string
  readonly version: number
  readonly deviceType: DeviceType
}

/** What the encoder needs to write an address. */
export interface MeterAddressInput {
  readonly manufacturer: string
  readonly id: string
  readonly version: number
  /** Device type code (EN 13757-3 Table 3). */
  readonly deviceType: number
}

const HEX = '0123456789ABCDEF'

/** The 4 identification bytes (BCD, least significant first) as printed: 8 digits. */
export function decodeId(bytes: Uint8Array, at: number): string {
  let s = ''
  for (let i = 3; i >= 0; i--) {
    const b = bytes[at + i]!
    s += HEX[b >> 4]! + HEX[b & 0x0f]!
  }
  return s
}

export function encodeId(id: string, out: Uint8Array, at: number): void {
  if (!/^[0-9A-Fa-f]{8}$/.test(id)) throw new MbusError('MBUS_ENCODE', `meter id must be 8 digits, got "${id}"`)
  for (let i = 0; i < 4; i++) out[at + i] = parseInt(id.slice(6 - 2 * i, 8 - 2 * i), 16)
}

/** Link-layer order: M(2) ‖ ID(4) ‖ version ‖ type (EN 13757-4:2019 §5.2.4). */
export function decodeLinkAddress(bytes: Uint8Array, at: number): MeterAddress {
  return {
    manufacturer: decodeManufacturer(readUint16Le(bytes, at)),
    id: decodeId(bytes, at + 2),
    version: bytes[at + 6]!,
    deviceType: decodeDeviceType(bytes[at + 7]!),
  }
}

/** Transport-layer long header order: ID(4) ‖ M(2) ‖ version ‖ type (EN 13757-7:2018 §7.5.2). */
export function decodeTplAddress(bytes: Uint8Array, at: number): MeterAddress {
  return {
    manufacturer: decodeManufacturer(readUint16Le(bytes, at + 4)),
    id: decodeId(bytes, at),
    version: bytes[at + 6]!,
    deviceType: decodeDeviceType(bytes[at + 7]!),
  }
}

/** The 8 bytes M ‖ ID ‖ version ‖ type, the first half of the mode 5 IV. */
export function encodeLinkAddress(address: MeterAddressInput | MeterAddress, out = new Uint8Array(8), at = 0): Uint8Array {
  const m = encodeManufacturerLoose(address.manufacturer)
  out[at] = m & 0xff
  out[at + 1] = m >> 8
  encodeId(address.id, out, at + 2)
  out[at + 6] = checkByte(address.version, 'version')
  out[at + 7] = checkByte(typeof address.deviceType === 'number' ? address.deviceType : address.deviceType.code, 'device type')
  return out
}

export function encodeTplAddress(address: MeterAddressInput | MeterAddress, out: Uint8Array, at: number): void {
  const m = encodeManufacturerLoose(address.manufacturer)
  encodeId(address.id, out, at)
  out[at + 4] = m & 0xff
  out[at + 5] = m >> 8
  out[at + 6] = checkByte(address.version, 'version')
  out[at + 7] = checkByte(typeof address.deviceType === 'number' ? address.deviceType : address.deviceType.code, 'device type')
}

/** Accepts what decodeManufacturer produced (letters '@'..'_'), so decoded addresses re-encode. */
function encodeManufacturerLoose(letters: string): number {
  if (/^[@-_]{3}$/.test(letters) && !/^[A-Z]{3}$/.test(letters)) {
    return ((letters.charCodeAt(0) - 64) << 10) | ((letters.charCodeAt(1) - 64) << 5) | (letters.charCodeAt(2) - 64)
  }
  return encodeManufacturer(letters)
}

function checkByte(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 255) throw new MbusError('MBUS_ENCODE', `${what} must be a byte, got ${value}`)
  return value
}

import { MbusError } from '../errors.js'
import { concatBytes, need, readUint16Le } from '../lib/bytes.js'
import { decodeTplAddress, encodeTplAddress, type MeterAddress, type MeterAddressInput } from '../link/address.js'

// EN 13757-7:2018 §7 Transport layer: CI 72h (long header), 7Ah (short header), 78h (no header).

export const CI_TPL_LONG = 0x72
export const CI_TPL_SHORT = 0x7a
export const CI_TPL_NONE = 0x78

export type TplHeaderKind = 'long' | 'short' | 'none'

export interface TransportHeader {
  readonly ci: number
  readonly kind: TplHeaderKind
  /** The meter address from a long header. */
  readonly address?: MeterAddress
  /** Long header address bytes reordered to M ‖ ID ‖ version ‖ type (the mode 5 IV order). */
  readonly addressBytes?: Uint8Array
  readonly accessNumber?: number
  /** Status byte (EN 13757-7:2018 §7.5.4 Table 11). */
  readonly status?: number
  /** Configuration field (EN 13757-7:2018 §7.5.8). */
  readonly configuration?: number
  /** Configuration field extension (present for security mode 7). */
  readonly configurationExtension?: number
  /** Security mode: configuration bits 8–12 (0 = none, 5 = AES-CBC with IV, 7 = AES-CBC zero IV + AFL MAC). */
  readonly securityMode: number
  /** Number of encrypted 16-byte blocks (configuration bits 4–7). */
  readonly encryptedBlocks: number
}

export interface DecodedTplHeader {
  readonly header: TransportHeader
  /** The bytes after the header: encrypted blocks then plaintext, or the plaintext APDU. */
  readonly body: Uint8Array
}

export function isTplCi(ci: number): boolean {
  return ci === CI_TPL_LONG || ci === CI_TPL_SHORT || ci === CI_TPL_NONE
}

export function decodeTplHeader(payload: Uint8Array): DecodedTplHeader {
  need(payload, 0, 1, 'CI-field')
  const ci = payload[0]!
  if (ci === CI_TPL_NONE) return { header: { ci, kind: 'none', securityMode: 0, encryptedBlocks: 0 }, body: payload.subarray(1) }
  let at = 1
  let address: MeterAddress | undefined
  let addressBytes: Uint8Array | undefined
  if (ci === CI_TPL_LONG) {
    need(payload, at, 8, 'TPL long header')
    address = decodeTplAddress(payload, at)
    addressBytes = new Uint8Array(8)
    addressBytes.set(payload.subarray(at + 4, at + 6), 0)
    addressBytes.set(payload.subarray(at, at + 4), 2)
    addressBytes.set(payload.subarray(at + 6, at + 8), 6)
    at += 8
  } else if (ci !== CI_TPL_SHORT) {
    throw new MbusError('MBUS_CI_UNSUPPORTED', `CI-field ${ci.toString(16).padStart(2, '0')}h is not a supported transport layer`)
  }
  need(payload, at, 4, 'TPL header')
  const accessNumber = payload[at]!
  const status = payload[at + 1]!
  const configuration = readUint16Le(payload, at + 2)
  at += 4
  const securityMode = (configuration >> 8) & 0x1f
  const encryptedBlocks = (configuration >> 4) & 0x0f
  let configurationExtension: number | undefined
  if (securityMode === 7) {
    // EN 13757-7:2018 §7.5.8.3: mode 7 is followed by a configuration field extension (KDF, key id).
    need(payload, at, 1, 'TPL configuration field extension')
    configurationExtension = payload[at]!
    at += 1
  }
  return {
    // Absent fields are written as undefined rather than spread in: this runs once per telegram.
    header: {
      ci,
      kind: ci === CI_TPL_LONG ? 'long' : 'short',
      address,
      addressBytes,
      accessNumber,
      status,
      configuration,
      configurationExtension,
      securityMode,
      encryptedBlocks,
    },
    body: payload.subarray(at),
  }
}

export interface TplHeaderInput {
  readonly kind: TplHeaderKind
  /** For a long header. */
  readonly address?: MeterAddressInput
  readonly accessNumber?: number
  readonly status?: number
  /** Configuration bits other than mode and block count (e.g. 0x0010 bidirectional bits); default 0. */
  readonly configurationFlags?: number
}

/** Encodes a TPL header for the given security mode and number of encrypted blocks. */
export function encodeTplHeader(input: TplHeaderInput, securityMode: number, encryptedBlocks: number, configurationExtension?: number): Uint8Array {
  if (input.kind === 'none') {
    if (securityMode !== 0) throw new MbusError('MBUS_ENCODE', 'CI 78h (no header) cannot carry encryption')
    return Uint8Array.of(CI_TPL_NONE)
  }
  if (encryptedBlocks > 15) throw new MbusError('MBUS_ENCODE', `${encryptedBlocks} encrypted blocks exceed the 15 the configuration field can count`)
  const cf = ((input.configurationFlags ?? 0) & ~0x1ff0) | (securityMode << 8) | (encryptedBlocks << 4)
  const tail = [input.accessNumber ?? 0, input.status ?? 0, cf & 0xff, (cf >> 8) & 0xff]
  if (configurationExtension !== undefined) tail.push(configurationExtension)
  if (input.kind === 'short') return Uint8Array.from([CI_TPL_SHORT, ...tail])
  if (!input.address) throw new MbusError('MBUS_ENCODE', 'a long TPL header needs an address')
  const addr = new Uint8Array(8)
  encodeTplAddress(input.address, addr, 0)
  return concatBytes([Uint8Array.of(CI_TPL_LONG), addr, Uint8Array.from(tail)])
}

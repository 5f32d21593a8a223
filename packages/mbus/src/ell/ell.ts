import { MbusError } from '../errors.js'
import { toKeyOps } from '../lib/aes.js'
import type { MeterKey } from '../telegram/keys.js'
import { concatBytes, need, readUint16Le, readUint32Le } from '../lib/bytes.js'
import { decodeLinkAddress, encodeLinkAddress, type MeterAddress, type MeterAddressInput } from '../link/address.js'
import { crc16En13757 } from '../link/crc.js'

// EN 13757-4:2019 §13.2 Extended link layer (ELL), CI-fields 8Ch..8Fh.

export const CI_ELL_SHORT = 0x8c
export const CI_ELL_SESSION = 0x8d
export const CI_ELL_RECEIVER = 0x8e
export const CI_ELL_FULL = 0x8f

export function isEllCi(ci: number): boolean {
  return ci >= 0x8c && ci <= 0x8f
}

export interface ExtendedLinkLayer {
  readonly ci: number
  /** CC-field: B, D, S, H, P, R and A bits (EN 13757-4:2019 §13.2.6). */
  readonly communicationControl: number
  readonly accessNumber: number
  /** Receiver / destination address (CI 8Eh, 8Fh). */
  readonly receiver?: MeterAddress
  /** SN-field (CI 8Dh, 8Fh): session number, time and encryption (bits 29–31: 0 none, 1 AES-128-CTR). */
  readonly sessionNumber?: number
  readonly encryption: 'none' | 'aes-128-ctr'
}

export interface DecodedEll {
  readonly ell: ExtendedLinkLayer
  /** Everything after the ELL (decrypted if it was encrypted): starts with the next CI-field. */
  readonly payload: Uint8Array
}

/** The initial counter block for ELL AES-128-CTR (EN 13757-4:2019 §13.2.12.3). */
function ctrIv(linkAddress: Uint8Array, cc: number, sn: Uint8Array): Uint8Array {
  const iv = new Uint8Array(16)
  iv.set(linkAddress.subarray(0, 8), 0)
  // The hop-count (H) bit is cleared: a repeater may change it on the way.
  iv[8] = cc & 0xef
  iv.set(sn.subarray(0, 4), 9)
  // FN (2 bytes) = 0 and BC (1 byte) = 0; the block counter runs in the last byte.
  return iv
}

/**
 * Decodes an ELL at the start of `payload` (its CI-field first). For an encrypted ELL, `key`
 * must be given: the payload CRC (first two decrypted bytes) is verified.
 */
export function decodeEll(payload: Uint8Array, linkAddress: Uint8Array, key: MeterKey | undefined): DecodedEll {
  const ci = payload[0]!
  need(payload, 0, 3, 'ELL')
  const cc = payload[1]!
  const accessNumber = payload[2]!
  let at = 3
  let receiver: MeterAddress | undefined
  if (ci === CI_ELL_RECEIVER || ci === CI_ELL_FULL) {
    need(payload, at, 8, 'ELL receiver address')
    receiver = decodeLinkAddress(payload, at)
    at += 8
  }
  if (ci === CI_ELL_SHORT || ci === CI_ELL_RECEIVER) {
    return { ell: { ci, communicationControl: cc, accessNumber, ...(receiver ? { receiver } : {}), encryption: 'none' }, payload: payload.subarray(at) }
  }
  need(payload, at, 4, 'ELL session number')
  const snBytes = payload.subarray(at, at + 4)
  const sessionNumber = readUint32Le(payload, at)
  at += 4
  const enc = sessionNumber >>> 29
  const base = { ci, communicationControl: cc, accessNumber, ...(receiver ? { receiver } : {}), sessionNumber }
  need(payload, at, 2, 'ELL payload CRC')
  if (enc === 0) {
    const crc = readUint16Le(payload, at)
    const rest = payload.subarray(at + 2)
    const expected = crc16En13757(rest)
    if (crc !== expected) throw new MbusError('MBUS_CRC', `ELL payload CRC: expected ${expected.toString(16)}, found ${crc.toString(16)}`)
    return { ell: { ...base, encryption: 'none' }, payload: rest }
  }
  if (enc !== 1) throw new MbusError('MBUS_SECURITY_UNSUPPORTED', `ELL encryption ${enc} is reserved`)
  if (key === undefined) throw new MbusError('MISSING_KEY', 'ELL is encrypted with AES-128-CTR and no key was given')
  const plain = toKeyOps(key).ctr(ctrIv(linkAddress, cc, snBytes), payload.subarray(at))
  // QUIRK(Kamstrup): the decrypted PayloadCRC arrives little endian (vector jMBus-Kamstrup-ELL-AES-CTR).
  const crc = readUint16Le(plain, 0)
  const expected = crc16En13757(plain, 2)
  if (crc !== expected) throw new MbusError('DECRYPT_FAILED', 'ELL payload CRC does not match after decryption (wrong key?)')
  return { ell: { ...base, encryption: 'aes-128-ctr' }, payload: plain.subarray(2) }
}

export interface EllInput {
  /** Defaults from the other fields: 8Ch, 8Dh when encrypted, 8Eh/8Fh with a receiver. */
  readonly communicationControl?: number
  readonly accessNumber: number
  readonly receiver?: MeterAddressInput
  /** Session number (bits 0–28); with `encrypt` the SN-field carries encryption 1. */
  readonly sessionNumber?: number
  readonly encrypt?: boolean
}

/** Encodes an ELL in front of `inner` (which starts with the next CI-field). */
export function encodeEll(input: EllInput, inner: Uint8Array, linkAddress: Uint8Array, key: MeterKey | undefined): Uint8Array {
  const withSn = input.encrypt === true || input.sessionNumber !== undefined
  const ci = input.receiver ? (withSn ? CI_ELL_FULL : CI_ELL_RECEIVER) : withSn ? CI_ELL_SESSION : CI_ELL_SHORT
  const cc = input.communicationControl ?? 0x20
  const head: number[] = [ci, cc & 0xff, input.accessNumber & 0xff]
  const parts: Uint8Array[] = [Uint8Array.from(head)]
  if (input.receiver) parts.push(encodeLinkAddress(input.receiver))
  if (!withSn) return concatBytes([...parts, inner])
  const session = (input.sessionNumber ?? 0) & 0x1fffffff
  const sn = (session | (input.encrypt === true ? 1 << 29 : 0)) >>> 0
  const snBytes = Uint8Array.of(sn & 0xff, (sn >>> 8) & 0xff, (sn >>> 16) & 0xff, sn >>> 24)
  parts.push(snBytes)
  const crc = crc16En13757(inner)
  const body = concatBytes([Uint8Array.of(crc & 0xff, crc >> 8), inner])
  if (input.encrypt !== true) return concatBytes([...parts, body])
  if (key === undefined) throw new MbusError('MISSING_KEY', 'ELL encryption needs a key')
  return concatBytes([...parts, toKeyOps(key).ctr(ctrIv(linkAddress, cc, snBytes), body)])
}

import { MbusError } from '../errors.js'
import { concatBytes, need, readUint16Le, readUint32Le } from '../lib/bytes.js'

// EN 13757-7:2018 §6 Authentication and fragmentation layer (AFL), CI-field 90h.

export const CI_AFL = 0x90

/** FCL bits (EN 13757-7:2018 §6.3.2 Table 3). */
const FCL_MF = 1 << 14
const FCL_MCLP = 1 << 13
const FCL_MLP = 1 << 12
const FCL_MCRP = 1 << 11
const FCL_MACP = 1 << 10
const FCL_KIP = 1 << 9

/** MCL bits (EN 13757-7:2018 §6.3.3 Table 5). */
const MCL_MLMP = 1 << 6
const MCL_MCMP = 1 << 5
const MCL_KIMP = 1 << 4

/** Authentication type (MCL bits 0–3) → MAC length in bytes (EN 13757-7:2018 Table 6). */
const MAC_LENGTHS: Readonly<Record<number, number>> = { 0: 0, 3: 2, 4: 4, 5: 8, 6: 12, 7: 16 }

export interface AuthenticationLayer {
  /** Fragmentation control field (FCL). */
  readonly fragmentControl: number
  readonly fragmentId: number
  readonly moreFragments: boolean
  /** Message control field (MCL), when present. */
  readonly messageControl?: number
  /** Authentication type (MCL bits 0–3): 5 = AES-CMAC-128 truncated to 8 bytes. */
  readonly authenticationType?: number
  readonly keyInformation?: number
  /** Message counter (MCR), the KDF input of security mode 7. */
  readonly messageCounter?: number
  readonly messageLength?: number
  readonly mac?: Uint8Array
}

export interface DecodedAfl {
  readonly afl: AuthenticationLayer
  /** The TPDU after the AFL (starts with the TPL CI-field). */
  readonly payload: Uint8Array
  /** The bytes the MAC covers before the TPDU: MCL ‖ KI ‖ MCR ‖ ML (those present and flagged in MCL). */
  readonly macPrefix: Uint8Array
}

export function decodeAfl(payload: Uint8Array): DecodedAfl {
  need(payload, 0, 4, 'AFL header')
  const len = payload[1]!
  need(payload, 2, len, 'AFL')
  const end = 2 + len
  const fcl = readUint16Le(payload, 2)
  let at = 4
  const take = (n: number, what: string): number => {
    if (at + n > end) throw new MbusError('MBUS_FRAME', `AFL: ${what} runs past AFL.L`)
    const here = at
    at += n
    return here
  }
  const prefix: Uint8Array[] = []
  let messageControl: number | undefined
  let keyInformation: number | undefined
  let messageCounter: number | undefined
  let messageLength: number | undefined
  let mac: Uint8Array | undefined
  if ((fcl & FCL_MCLP) !== 0) {
    const p = take(1, 'MCL')
    messageControl = payload[p]!
    prefix.push(payload.subarray(p, p + 1))
  }
  const mcl = messageControl ?? 0
  if ((fcl & FCL_KIP) !== 0) {
    const p = take(2, 'KI')
    keyInformation = readUint16Le(payload, p)
    if ((mcl & MCL_KIMP) !== 0) prefix.push(payload.subarray(p, p + 2))
  }
  if ((fcl & FCL_MCRP) !== 0) {
    const p = take(4, 'MCR')
    messageCounter = readUint32Le(payload, p)
    if ((mcl & MCL_MCMP) !== 0) prefix.push(payload.subarray(p, p + 4))
  }
  if ((fcl & FCL_MACP) !== 0) {
    const at0 = messageControl === undefined ? undefined : MAC_LENGTHS[messageControl & 0x0f]
    if (at0 === undefined) throw new MbusError('MBUS_SECURITY_UNSUPPORTED', `AFL authentication type ${mcl & 0x0f} is not supported`)
    const p = take(at0, 'MAC')
    mac = payload.subarray(p, p + at0)
  }
  let mlBytes: Uint8Array | undefined
  if ((fcl & FCL_MLP) !== 0) {
    const p = take(2, 'ML')
    messageLength = readUint16Le(payload, p)
    mlBytes = payload.subarray(p, p + 2)
  }
  if (mlBytes && (mcl & MCL_MLMP) !== 0) prefix.push(mlBytes)
  const moreFragments = (fcl & FCL_MF) !== 0
  if (moreFragments || (fcl & 0xff) > 1) {
    throw new MbusError('MBUS_FRAGMENTED', `AFL fragment ${fcl & 0xff}${moreFragments ? ' (more follow)' : ''}: fragmented messages are not reassembled`)
  }
  const afl: AuthenticationLayer = {
    fragmentControl: fcl,
    fragmentId: fcl & 0xff,
    moreFragments,
    ...(messageControl !== undefined ? { messageControl, authenticationType: messageControl & 0x0f } : {}),
    ...(keyInformation !== undefined ? { keyInformation } : {}),
    ...(messageCounter !== undefined ? { messageCounter } : {}),
    ...(messageLength !== undefined ? { messageLength } : {}),
    ...(mac ? { mac } : {}),
  }
  return { afl, payload: payload.subarray(end), macPrefix: concatBytes(prefix) }
}

export interface AflInput {
  readonly messageCounter: number
  /** MAC length: 8 (default, OMS) or 4, 12, 16. */
  readonly macLength?: 4 | 8 | 12 | 16
}

const AT_BY_LENGTH: Readonly<Record<number, number>> = { 4: 4, 8: 5, 12: 6, 16: 7 }

/**
 * Encodes an unfragmented AFL with MCL, MCR and MAC (the OMS mode 7 layout), given a
 * function that computes the MAC over the MAC prefix ‖ TPDU.
 */
export function encodeAfl(input: AflInput, tpdu: Uint8Array, computeMac: (data: Uint8Array) => Uint8Array): Uint8Array {
  const macLength = input.macLength ?? 8
  const at = AT_BY_LENGTH[macLength]
  if (at === undefined) throw new MbusError('MBUS_ENCODE', `AFL MAC length ${String(macLength)} is not one of 4, 8, 12, 16`)
  const mc = input.messageCounter
  if (!Number.isInteger(mc) || mc < 0 || mc > 0xffffffff) throw new MbusError('MBUS_ENCODE', `AFL message counter out of range: ${mc}`)
  const mcl = MCL_MCMP | at
  const mcr = Uint8Array.of(mc & 0xff, (mc >>> 8) & 0xff, (mc >>> 16) & 0xff, mc >>> 24)
  const fcl = FCL_MCLP | FCL_MCRP | FCL_MACP
  const mac = computeMac(concatBytes([Uint8Array.of(mcl), mcr, tpdu])).subarray(0, macLength)
  const len = 2 + 1 + 4 + macLength
  return concatBytes([Uint8Array.of(CI_AFL, len, fcl & 0xff, fcl >> 8, mcl), mcr, mac, tpdu])
}

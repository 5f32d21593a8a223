import type { SecretKeyOps } from '@smgw/crypto'
import { toKeyOps } from '../lib/aes.js'

// EN 13757-7:2018 §9.6.2 / CEN/TR 17167:2018 F.3 / OMS Vol. 2 §9.5: KDF-A.
//   K = CMAC(Kmaster, D ‖ C ‖ ID ‖ 07h×7), D = 00h for Kenc, 01h for Kmac (meter to other),
//   C = message counter (AFL.MCR), ID = meter identification, both least significant byte first.

export interface SessionKeys {
  readonly encryption: Uint8Array
  readonly mac: Uint8Array
}

/** The session keys of one message; the master key may sit in a security module (only its CMAC is used). */
export function deriveKdfA(key: Uint8Array | SecretKeyOps, messageCounter: number, meterIdLe: Uint8Array): SessionKeys {
  const master = toKeyOps(key, 'CMAC key')
  const input = new Uint8Array(16).fill(0x07)
  input[1] = messageCounter & 0xff
  input[2] = (messageCounter >>> 8) & 0xff
  input[3] = (messageCounter >>> 16) & 0xff
  input[4] = messageCounter >>> 24
  input.set(meterIdLe.subarray(0, 4), 5)
  input[0] = 0x00
  const encryption = master.cmac(input)
  input[0] = 0x01
  const mac = master.cmac(input)
  return { encryption, mac }
}

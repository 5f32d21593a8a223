import { MbusError } from '../errors.js'
import { CI_AFL, decodeAfl, encodeAfl, type AflInput, type AuthenticationLayer, type DecodedAfl } from '../afl/afl.js'
import { decodeEll, encodeEll, isEllCi, type EllInput, type ExtendedLinkLayer } from '../ell/ell.js'
import { concatBytes } from '../lib/bytes.js'
import { toKeyOps, ZERO_IV } from '../lib/aes.js'
import { encodeLinkAddress, type MeterAddress, type MeterAddressInput } from '../link/address.js'
import { decodeWirelessLink, encodeWirelessLink, type FrameFormat, type WirelessLink, type WirelessLinkOptions } from '../link/wireless.js'
import { decodeDataRecords } from '../records/decode.js'
import { encodeDataRecords } from '../records/encode.js'
import type { DataRecord, DataRecordInput } from '../records/types.js'
import { decodeTplHeader, encodeTplHeader, isTplCi, type TplHeaderInput, type TransportHeader } from '../tpl/header.js'
import { deriveKdfA } from '../tpl/kdf.js'
import { createMode5Iv, decryptTpl, encryptTpl } from '../tpl/security.js'
import { resolveKey, type KeyLookup, type MeterKey } from './keys.js'

export interface DecodeWirelessOptions extends WirelessLinkOptions {
  readonly key?: KeyLookup
}

/** A wireless M-Bus telegram through every layer: link → ELL → AFL → TPL → records. */
export interface WirelessTelegram {
  readonly link: WirelessLink
  readonly ell?: ExtendedLinkLayer
  readonly afl?: AuthenticationLayer
  readonly tpl: TransportHeader
  /** The meter: the long TPL header's address when present (radio adapters), else the link layer's. */
  readonly meter: MeterAddress
  /** From the TPL header, else from the ELL. */
  readonly accessNumber: number | undefined
  readonly status: number | undefined
  readonly securityMode: number
  /** The application layer in plaintext (what the records were decoded from). */
  readonly apdu: Uint8Array
  readonly records: DataRecord[]
}

function ciText(ci: number): string {
  return ci.toString(16).padStart(2, '0') + 'h'
}

/**
 * Decodes a wireless M-Bus telegram (EN 13757-4 link layer, with or without block CRCs),
 * its ELL (incl. AES-CTR), AFL, TPL with security modes 0/5/7, and the data records.
 * Throws MbusError only.
 */
export function decodeWirelessTelegram(bytes: Uint8Array, options: DecodeWirelessOptions = {}): WirelessTelegram {
  try {
    return decodeLayers(bytes, options)
  } catch (err) {
    if (err instanceof MbusError) throw err
    throw new MbusError('MBUS_FRAME', `undecodable telegram: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

function decodeLayers(bytes: Uint8Array, options: DecodeWirelessOptions): WirelessTelegram {
  const link = decodeWirelessLink(bytes, options)
  let payload = link.payload
  let ell: ExtendedLinkLayer | undefined
  let afl: DecodedAfl | undefined
  let ci = payload[0]!
  if (isEllCi(ci)) {
    const encrypted = ci === 0x8d || ci === 0x8f
    const decoded = decodeEll(payload, link.addressBytes, encrypted ? resolveKey(options.key, link.address) : undefined)
    ell = decoded.ell
    payload = decoded.payload
    if (payload.length === 0) throw new MbusError('MBUS_TRUNCATED', 'nothing follows the ELL')
    ci = payload[0]!
  }
  if (ci === CI_AFL) {
    afl = decodeAfl(payload)
    payload = afl.payload
    if (payload.length === 0) throw new MbusError('MBUS_TRUNCATED', 'nothing follows the AFL')
    ci = payload[0]!
  }
  if (!isTplCi(ci)) throw new MbusError('MBUS_CI_UNSUPPORTED', `CI-field ${ciText(ci)} is not supported`)
  const { header, body } = decodeTplHeader(payload)
  const meter = header.address ?? link.address
  const apdu = decryptTpl({
    header,
    body,
    addressBytes: header.addressBytes ?? link.addressBytes,
    key: header.securityMode === 0 ? undefined : resolveKey(options.key, meter),
    afl,
    tpdu: afl ? payload : undefined,
  })
  return {
    link,
    ell,
    afl: afl?.afl,
    tpl: header,
    meter,
    accessNumber: header.accessNumber ?? ell?.accessNumber,
    status: header.status,
    securityMode: header.securityMode,
    apdu,
    records: decodeDataRecords(apdu),
  }
}

export type SecurityInput =
  | { readonly mode: 0 }
  | { readonly mode: 5 }
  | ({ readonly mode: 7 } & AflInput)

export interface WirelessTelegramInput {
  /** C-field; default 44h (SND_NR). */
  readonly control?: number
  /** The link-layer address (the radio part: the meter itself, or a radio adapter). */
  readonly address: MeterAddressInput
  /** Block CRCs in format A or B; omit for a frame without CRCs as receivers deliver it. */
  readonly crc?: FrameFormat
  readonly ell?: EllInput
  readonly tpl: TplHeaderInput
  readonly security?: SecurityInput
  /** The records; or give `apdu` for raw application bytes. */
  readonly records?: readonly DataRecordInput[]
  readonly apdu?: Uint8Array
  /** The meter key (mode 5/7, and ELL encryption): bytes or a security module's key operations. */
  readonly key?: MeterKey
}

/** Encodes a wireless M-Bus telegram: records → TPL (mode 0/5/7) → AFL (mode 7) → ELL → link. */
export function encodeWirelessTelegram(input: WirelessTelegramInput): Uint8Array {
  const apdu = input.apdu ?? encodeDataRecords(input.records ?? [])
  const security = input.security ?? { mode: 0 }
  const linkAddress = encodeLinkAddress(input.address)
  const meterAddress = input.tpl.kind === 'long' && input.tpl.address ? encodeLinkAddress(input.tpl.address) : linkAddress
  let inner: Uint8Array
  if (security.mode === 0) {
    inner = concatBytes([encodeTplHeader(input.tpl, 0, 0), apdu])
  } else {
    const key = input.key
    if (key === undefined) throw new MbusError('MISSING_KEY', `security mode ${security.mode} needs a key`)
    if (input.tpl.kind === 'none') throw new MbusError('MBUS_ENCODE', 'encryption needs a TPL header (short or long)')
    if (security.mode === 5) {
      const { body, blocks } = encryptTpl(key, createMode5Iv(meterAddress, input.tpl.accessNumber ?? 0), apdu)
      inner = concatBytes([encodeTplHeader(input.tpl, 5, blocks), body])
    } else {
      const keys = deriveKdfA(key, security.messageCounter, meterAddress.subarray(2, 6))
      const { body, blocks } = encryptTpl(keys.encryption, ZERO_IV, apdu)
      // CFE 10h: KDF-A, key id 0 (EN 13757-7:2018 §7.5.8.3).
      const tpdu = concatBytes([encodeTplHeader(input.tpl, 7, blocks, 0x10), body])
      const macKey = toKeyOps(keys.mac)
      inner = encodeAfl(security, tpdu, (data) => macKey.cmac(data))
    }
  }
  if (input.ell) inner = encodeEll(input.ell, inner, linkAddress, input.key)
  return encodeWirelessLink({
    ...(input.control !== undefined ? { control: input.control } : {}),
    address: input.address,
    payload: inner,
    ...(input.crc ? { crc: input.crc } : {}),
  })
}


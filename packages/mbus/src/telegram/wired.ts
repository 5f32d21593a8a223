import { MbusError } from '../errors.js'
import { concatBytes } from '../lib/bytes.js'
import { encodeLinkAddress, type MeterAddress } from '../link/address.js'
import { decodeDataRecords } from '../records/decode.js'
import { encodeDataRecords } from '../records/encode.js'
import type { DataRecord, DataRecordInput } from '../records/types.js'
import { decodeTplHeader, encodeTplHeader, isTplCi, type TplHeaderInput, type TransportHeader } from '../tpl/header.js'
import { createMode5Iv, decryptTpl, encryptTpl } from '../tpl/security.js'
import { decodeWiredFrame, encodeWiredFrame, type WiredFrame } from '../wired/frame.js'
import { resolveKey, type KeyLookup, type MeterKey } from './keys.js'

export interface DecodeWiredOptions {
  readonly key?: KeyLookup
}

/** A wired M-Bus frame; for a long frame with a transport layer, its header and records. */
export interface WiredTelegram {
  readonly frame: WiredFrame
  readonly tpl?: TransportHeader
  /** From the long TPL header (CI 72h). */
  readonly meter?: MeterAddress
  readonly accessNumber?: number
  readonly status?: number
  readonly securityMode: number
  readonly apdu?: Uint8Array
  readonly records: DataRecord[]
}

/** Decodes a wired M-Bus frame (EN 13757-2) and, for RSP_UD long frames, TPL, security mode 0/5 and records. */
export function decodeWiredTelegram(bytes: Uint8Array, options: DecodeWiredOptions = {}): WiredTelegram {
  try {
    const frame = decodeWiredFrame(bytes)
    if (frame.kind !== 'long') return { frame, securityMode: 0, records: [] }
    if (!isTplCi(frame.ci)) throw new MbusError('MBUS_CI_UNSUPPORTED', `CI-field ${frame.ci.toString(16).padStart(2, '0')}h is not supported`)
    const { header, body } = decodeTplHeader(frame.payload)
    const meter = header.address
    const apdu = decryptTpl({
      header,
      body,
      addressBytes: header.addressBytes,
      key: header.securityMode === 0 || meter === undefined ? undefined : resolveKey(options.key, meter),
    })
    return {
      frame,
      tpl: header,
      ...(meter ? { meter } : {}),
      ...(header.accessNumber !== undefined ? { accessNumber: header.accessNumber } : {}),
      ...(header.status !== undefined ? { status: header.status } : {}),
      securityMode: header.securityMode,
      apdu,
      records: decodeDataRecords(apdu),
    }
  } catch (err) {
    if (err instanceof MbusError) throw err
    throw new MbusError('MBUS_FRAME', `undecodable frame: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

export interface WiredTelegramInput {
  /** C-field; default 08h (RSP_UD). */
  readonly control?: number
  /** Primary address; default FDh (secondary addressing). */
  readonly address?: number
  readonly tpl: TplHeaderInput
  readonly security?: { readonly mode: 0 } | { readonly mode: 5 }
  readonly records?: readonly DataRecordInput[]
  readonly apdu?: Uint8Array
  /** The meter key: bytes or a security module's key operations. */
  readonly key?: MeterKey
}

/** Encodes a wired M-Bus RSP_UD long frame with TPL (mode 0 or 5) and records. */
export function encodeWiredTelegram(input: WiredTelegramInput): Uint8Array {
  const apdu = input.apdu ?? encodeDataRecords(input.records ?? [])
  let payload: Uint8Array
  if ((input.security?.mode ?? 0) === 0) {
    payload = concatBytes([encodeTplHeader(input.tpl, 0, 0), apdu])
  } else {
    if (input.key === undefined) throw new MbusError('MISSING_KEY', 'security mode 5 needs a key')
    if (input.tpl.kind !== 'long' || !input.tpl.address) throw new MbusError('MBUS_ENCODE', 'wired mode 5 needs a long TPL header (the IV address)')
    const iv = createMode5Iv(encodeLinkAddress(input.tpl.address), input.tpl.accessNumber ?? 0)
    const { body, blocks } = encryptTpl(input.key, iv, apdu)
    payload = concatBytes([encodeTplHeader(input.tpl, 5, blocks), body])
  }
  return encodeWiredFrame({ kind: 'long', control: input.control ?? 0x08, address: input.address ?? 0xfd, ci: payload[0]!, payload })
}

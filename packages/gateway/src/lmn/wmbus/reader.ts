import { decodeWirelessTelegram, isMbusError, type DataRecord, type MeterAddress, type MeterKey } from '@smgw/mbus'
import type { ReadingInput } from '../../store/types.js'
import type { LmnSink, LmnTransportName } from '../types.js'

export interface WmbusReaderMeter {
  /** The meter ID the gateway stores readings under. */
  readonly id: string
  /** M-Bus identification number (8 digits). */
  readonly mbusId: string
  /** AES-128 key (modes 5/7): bytes, or a security module's key operations; absent for unencrypted meters. */
  readonly key?: MeterKey
}

/** Error codes of @smgw/mbus that mean "this key does not fit" (or there is none). */
const KEY_CODES = new Set(['MISSING_KEY', 'DECRYPT_FAILED', 'MAC_MISMATCH', 'KEY_OPERATION_FAILED'])

/**
 * One wireless M-Bus telegram (link layer on; with or without block CRCs) → readings of a
 * configured meter. A telegram from an M-Bus ID not configured here is an `unknown-meter`
 * event; a key that does not decrypt/authenticate a `key-rejected` event; anything else
 * that does not decode a `garbage` event. Never throws.
 */
export function createWmbusReader(meters: readonly WmbusReaderMeter[], transport: LmnTransportName, sink: LmnSink, now: () => Date): { telegram(bytes: Uint8Array): void } {
  const byId = new Map(meters.map((m) => [m.mbusId, m]))
  return {
    telegram(bytes) {
      let addressed: MeterAddress | undefined
      try {
        const t = decodeWirelessTelegram(bytes, {
          key: (address) => {
            addressed = address
            return byId.get(address.id)?.key
          },
        })
        const meter = byId.get(t.meter.id)
        if (meter === undefined) {
          sink.event({ kind: 'unknown-meter', transport, meterId: t.meter.id })
          return
        }
        const readings = decodeWmbusReadings(t.records, meter.id, now(), t.status)
        if (readings.length > 0) sink.readings(meter.id, readings)
      } catch (err) {
        const code = isMbusError(err) ? err.code : 'MBUS_DECODE'
        if (addressed !== undefined && !byId.has(addressed.id)) sink.event({ kind: 'unknown-meter', transport, meterId: addressed.id })
        else if (addressed !== undefined && KEY_CODES.has(code)) sink.event({ kind: 'key-rejected', transport, meterId: byId.get(addressed.id)?.id ?? addressed.id, code })
        else sink.event({ kind: 'garbage', transport, bytes: bytes.length, code })
      }
    },
  }
}

/** Units of @smgw/mbus as stored (printable ASCII, UCUM-like where the symbol is not ASCII). */
const UNITS: Readonly<Record<string, string>> = { '°C': 'Cel' }

/**
 * The numeric data records of a telegram as store readings. The quantity key is
 * `<quantity>` with the non-default record coordinates appended (`:max`, `:s1` storage,
 * `:t2` tariff, `:u1` subunit, modifiers), so different records never share a key.
 * Values come from @smgw/mbus already scaled by the VIF's decimal exponent; their
 * shortest decimal form is exact (the decoder divides by exact powers of ten), so it is
 * split into mantissa and scaler without loss. Dates, text and manufacturer data are skipped.
 */
export function decodeWmbusReadings(records: readonly DataRecord[], meterId: string, received: Date, status?: number): ReadingInput[] {
  const out: ReadingInput[] = []
  for (const r of records) {
    if (typeof r.value !== 'number' || !Number.isFinite(r.value)) continue
    if (r.unit === 'date' || r.unit === 'datetime' || r.unit === 'time' || r.unit === 'raw') continue
    const exact = decimalOf(r.value)
    if (exact === undefined) continue
    const parts = [r.quantity]
    if (r.function !== 'instantaneous') parts.push(r.function)
    if (r.storage !== 0) parts.push(`s${r.storage}`)
    if (r.tariff !== 0) parts.push(`t${r.tariff}`)
    if (r.subunit !== 0) parts.push(`u${r.subunit}`)
    parts.push(...r.modifiers)
    const quantity = parts.join(':')
    if (!/^[\x20-\x7e]{1,64}$/.test(quantity)) continue
    const unit = UNITS[r.unit] ?? r.unit
    out.push({
      meterId, quantity, time: received, mantissa: exact.mantissa, scaler: exact.scaler,
      ...(unit === '' ? {} : { unit }),
      ...(status === undefined ? {} : { status: BigInt(status) }),
    })
  }
  return out
}

/** A finite number's shortest decimal representation as mantissa × 10^scaler. */
export function decimalOf(value: number): { mantissa: bigint; scaler: number } | undefined {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(value))
  if (m === null) return undefined
  const [, sign, int, frac = '', exp = '0'] = m
  let scaler = Number(exp) - frac.length
  let digits = `${int}${frac}`.replace(/^0+(?=\d)/, '')
  // Normalise trailing zeros into the scaler (1200 → 12 × 10^2), bounded by the store's Integer8 range.
  while (digits.length > 1 && digits.endsWith('0') && scaler < 127) {
    digits = digits.slice(0, -1)
    scaler++
  }
  if (scaler < -128 || scaler > 127) return undefined
  return { mantissa: BigInt(`${sign ?? ''}${digits}`), scaler }
}

/**
 * Splits a stream of raw wM-Bus frames (as a stick in raw mode delivers them) by the
 * L-field: a frame is L + 1 bytes without CRCs, or with format A block CRCs
 * (EN 13757-4:2019 §5.4: first block 10 bytes + CRC, then blocks of 16 + CRC) L + 1 + 2 per block.
 * A length below 9 (no room for C, M, A) cannot start a frame: that byte is skipped.
 */
export function createWmbusFramer(options: { readonly crc: 'none' | 'A' }): { push(chunk: Uint8Array): { frames: Uint8Array[]; skipped: number }; pending(): number } {
  let buf = new Uint8Array(0)
  return {
    push(chunk) {
      const joined = new Uint8Array(buf.length + chunk.length)
      joined.set(buf)
      joined.set(chunk, buf.length)
      let at = 0
      let skipped = 0
      const frames: Uint8Array[] = []
      while (at < joined.length) {
        const l = joined[at]!
        if (l < 9) {
          at++
          skipped++
          continue
        }
        const size = options.crc === 'A' ? l + 1 + 2 * (1 + Math.ceil((l - 9) / 16)) : l + 1
        if (at + size > joined.length) break
        frames.push(joined.slice(at, at + size))
        at += size
      }
      buf = joined.slice(at)
      return { frames, skipped }
    },
    pending: () => buf.length,
  }
}

import { createSmlFramer, decodeSmlFile, extractReadings, type SmlQuirks, type SmlReading, type SmlTime } from '@smgw/sml'
import type { ReadingInput } from '../../store/types.js'
import type { LmnSink, LmnTransportName } from '../types.js'

export interface SmlReaderOptions {
  readonly meterId: string
  readonly transport: LmnTransportName
  readonly quirks?: SmlQuirks
  readonly maxFrameBytes?: number
}

/**
 * Bytes of one SML line → readings of complete files. Noise, truncated and corrupted files
 * are reported as `garbage` events (byte counts, the SmlError code); only whole files that
 * decode yield readings. `end()` reports a file cut off by the end of the stream.
 */
export function createSmlReader(options: SmlReaderOptions, sink: LmnSink, now: () => Date): { push(chunk: Uint8Array): void; end(): void } {
  const framer = createSmlFramer({ maxFrameBytes: options.maxFrameBytes ?? 16_384 })
  const { meterId, transport } = options
  const consume = (events: ReturnType<typeof framer.push>) => {
    for (const ev of events) {
      if (ev.kind === 'skipped') sink.event({ kind: 'garbage', transport, meterId, bytes: ev.count, code: 'SML_SKIPPED' })
      else if (ev.kind === 'error') sink.event({ kind: 'garbage', transport, meterId, bytes: ev.count, code: ev.error.code })
      else {
        let readings: ReadingInput[]
        try {
          readings = decodeSmlReadings(ev.bytes, meterId, now(), options.quirks)
        } catch (err) {
          sink.event({ kind: 'garbage', transport, meterId, bytes: ev.bytes.length, code: (err as { code?: string }).code ?? 'SML_DECODE' })
          continue
        }
        if (readings.length > 0) sink.readings(meterId, readings)
      }
    }
  }
  return {
    push: (chunk) => { consume(framer.push(chunk)) },
    end: () => { consume(framer.end()) },
  }
}

/**
 * The numeric list entries of one complete SML file as store readings: value =
 * mantissa × 10^scaler exactly (the raw integer as sent and the scaler), unit, status
 * word, and the entry's valTime when the meter sends a real timestamp, else `received`.
 * Octet strings (manufacturer, server ID) and booleans are not readings and are skipped.
 */
export function decodeSmlReadings(file: Uint8Array, meterId: string, received: Date, quirks?: SmlQuirks): ReadingInput[] {
  const readings = extractReadings(decodeSmlFile(file), quirks === undefined ? {} : { quirks })
  const out: ReadingInput[] = []
  for (const r of readings) {
    const value = exactValue(r)
    if (value === undefined) continue
    out.push({
      meterId,
      quantity: r.obis,
      time: timeOf(r.valTime) ?? received,
      mantissa: value.mantissa,
      scaler: value.scaler,
      ...(r.unit === undefined || !/^[\x21-\x7e]{1,16}$/.test(r.unit) ? {} : { unit: r.unit }),
      ...(r.status === undefined ? {} : { status: BigInt(r.status) }),
    })
  }
  return out
}

function exactValue(r: SmlReading): { mantissa: bigint; scaler: number } | undefined {
  if (r.raw.type === 'bool' || r.raw.type === 'bytes') return undefined
  const scaler = r.scaler ?? 0
  if (r.quirks === undefined || r.quirks.length === 0) return { mantissa: BigInt(r.raw.value), scaler }
  // A quirk reinterpreted the raw integer (power sign): take the corrected value back to a mantissa.
  if (typeof r.value === 'bigint') return { mantissa: r.value, scaler: 0 }
  if (typeof r.value !== 'number') return undefined
  const mantissa = Math.round(r.value / 10 ** scaler)
  return Number.isSafeInteger(mantissa) ? { mantissa: BigInt(mantissa), scaler } : undefined
}

/** SML 1.04 SML_Time: secIndex is a meter-internal counter, not a time of day; timestamps are UTC seconds. */
function timeOf(t: SmlTime | undefined): Date | undefined {
  if (t === undefined || t.kind === 'secIndex') return undefined
  return new Date(t.timestamp * 1000)
}

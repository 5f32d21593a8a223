import { createSerialLine } from '../serial.js'
import { createWmbusFramer, createWmbusReader, type WmbusReaderMeter } from '../wmbus/reader.js'
import type { LmnAdapter, LmnDeps, LmnSink } from '../types.js'

export interface WmbusSerialOptions {
  readonly path: string
  readonly baudRate: number
  /** Whether the stick delivers frames with format A block CRCs or without. */
  readonly frameCrc: 'none' | 'A'
  readonly meters: readonly WmbusReaderMeter[]
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number }
}

/**
 * Wireless M-Bus stick in raw frame mode on a serial line: frames split by their L-field; reopened
 * with backoff when it goes away. `replaceMeters` swaps the meters and keys while the line stays
 * open and the framer keeps a frame half-received (no byte lost).
 */
export function createWmbusSerialAdapter(options: WmbusSerialOptions, sink: LmnSink, deps: LmnDeps): LmnAdapter & { replaceMeters(meters: readonly WmbusReaderMeter[]): void } {
  const transport = 'wmbus-serial'
  let reader = createWmbusReader(options.meters, transport, sink, deps.now)
  let framer = createWmbusFramer({ crc: options.frameCrc })
  const line = createSerialLine(options.path, options.baudRate, {
    onOpen: () => {
      const rest = framer.pending()
      if (rest > 0) sink.event({ kind: 'garbage', transport, bytes: rest, code: 'MBUS_TRUNCATED' })
      framer = createWmbusFramer({ crc: options.frameCrc })
    },
    onData: (chunk) => {
      const { frames, skipped } = framer.push(chunk)
      if (skipped > 0) sink.event({ kind: 'garbage', transport, bytes: skipped, code: 'MBUS_L_FIELD' })
      for (const f of frames) reader.telegram(f)
    },
    onUp: () => { sink.event({ kind: 'link', transport, state: 'up' }) },
    onLost: (detail) => { sink.event({ kind: 'link', transport, state: 'down', detail }) },
  }, deps, options.backoff)
  return {
    transport,
    start: () => line.start(),
    close: () => line.close(),
    replaceMeters(meters) {
      reader = createWmbusReader(meters, transport, sink, deps.now)
    },
  }
}

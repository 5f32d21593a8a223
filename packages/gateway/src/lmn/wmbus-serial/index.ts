import { openSerial } from '../serial.js'
import { createWmbusFramer, createWmbusReader, type WmbusReaderMeter } from '../wmbus/reader.js'
import type { LmnAdapter, LmnDeps, LmnSink } from '../types.js'

export interface WmbusSerialOptions {
  readonly path: string
  readonly baudRate: number
  /** Whether the stick delivers frames with format A block CRCs or without. */
  readonly frameCrc: 'none' | 'A'
  readonly meters: readonly WmbusReaderMeter[]
}

/** Wireless M-Bus stick in raw frame mode on a serial line: frames split by their L-field. */
export function createWmbusSerialAdapter(options: WmbusSerialOptions, sink: LmnSink, deps: LmnDeps): LmnAdapter {
  const transport = 'wmbus-serial'
  let close: (() => Promise<void>) | undefined
  return {
    transport,
    async start() {
      if (close !== undefined) return
      const reader = createWmbusReader(options.meters, transport, sink, deps.now)
      const framer = createWmbusFramer({ crc: options.frameCrc })
      close = await openSerial(options.path, options.baudRate, (chunk) => {
        const { frames, skipped } = framer.push(chunk)
        if (skipped > 0) sink.event({ kind: 'garbage', transport, bytes: skipped, code: 'MBUS_L_FIELD' })
        for (const f of frames) reader.telegram(f)
      }, (err) => { sink.event({ kind: 'link', transport, state: 'down', ...(err === undefined ? {} : { detail: err.message }) }) })
      sink.event({ kind: 'link', transport, state: 'up' })
    },
    async close() {
      const c = close
      close = undefined
      if (c !== undefined) await c()
    },
  }
}

import type { SmlQuirks } from '@smgw/sml'
import { openSerial } from '../serial.js'
import { createSmlReader } from '../sml/reader.js'
import type { LmnAdapter, LmnDeps, LmnSink } from '../types.js'

export interface SmlSerialOptions {
  readonly meterId: string
  readonly path: string
  readonly baudRate: number
  readonly quirks?: SmlQuirks
}

/** SML push meter on a serial line (eHZ optical/wired interface, 8N1): bytes → framer → readings. */
export function createSmlSerialAdapter(options: SmlSerialOptions, sink: LmnSink, deps: LmnDeps): LmnAdapter {
  const transport = 'sml-serial'
  let close: (() => Promise<void>) | undefined
  let reader: ReturnType<typeof createSmlReader> | undefined
  return {
    transport,
    async start() {
      if (close !== undefined) return
      const r = createSmlReader({ meterId: options.meterId, transport, ...(options.quirks === undefined ? {} : { quirks: options.quirks }) }, sink, deps.now)
      reader = r
      close = await openSerial(options.path, options.baudRate, (chunk) => { r.push(chunk) }, (err) => {
        sink.event({ kind: 'link', transport, meterId: options.meterId, state: 'down', ...(err === undefined ? {} : { detail: err.message }) })
      })
      sink.event({ kind: 'link', transport, meterId: options.meterId, state: 'up' })
    },
    async close() {
      const c = close
      close = undefined
      if (c === undefined) return
      await c()
      reader?.end()
      reader = undefined
    },
  }
}

import type { SmlQuirks } from '@smgw/sml'
import { createSerialLine } from '../serial.js'
import { createSmlReader } from '../sml/reader.js'
import type { LmnAdapter, LmnDeps, LmnSink } from '../types.js'

export interface SmlSerialOptions {
  readonly meterId: string
  readonly path: string
  readonly baudRate: number
  readonly quirks?: SmlQuirks
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number }
}

/**
 * SML push meter on a serial line (eHZ optical/wired interface, 8N1): bytes → framer →
 * readings. A line that goes away is reopened with backoff; each opening gets a fresh
 * framer (a file cut by the loss is reported as garbage).
 */
export function createSmlSerialAdapter(options: SmlSerialOptions, sink: LmnSink, deps: LmnDeps): LmnAdapter {
  const transport = 'sml-serial'
  const { meterId } = options
  let reader: ReturnType<typeof createSmlReader> | undefined
  const line = createSerialLine(options.path, options.baudRate, {
    onOpen: () => {
      reader?.end()
      reader = createSmlReader({ meterId, transport, ...(options.quirks === undefined ? {} : { quirks: options.quirks }) }, sink, deps.now)
    },
    onData: (chunk) => { reader?.push(chunk) },
    onUp: () => { sink.event({ kind: 'link', transport, meterId, state: 'up' }) },
    onLost: (detail) => { sink.event({ kind: 'link', transport, meterId, state: 'down', detail }) },
  }, deps, options.backoff)
  return {
    transport,
    start: () => line.start(),
    async close() {
      await line.close()
      reader?.end()
      reader = undefined
    },
  }
}

import { readFile } from 'node:fs/promises'
import type { SmlQuirks } from '@smgw/sml'
import { GatewayError } from '../../errors.js'
import { createSmlReader } from '../sml/reader.js'
import { createWmbusFramer, createWmbusReader, type WmbusReaderMeter } from '../wmbus/reader.js'
import type { LmnAdapter, LmnDeps, LmnSink } from '../types.js'

export type FileReplayOptions =
  | { readonly kind: 'sml'; readonly path: string; readonly meterId: string; readonly quirks?: SmlQuirks }
  | { readonly kind: 'wmbus'; readonly path: string; readonly meters: readonly WmbusReaderMeter[] }

/**
 * Replays a capture once at start: SML bytes as read from a line (noise and truncated
 * files reported as on a line), or wM-Bus frames without CRCs one after another. Ends with
 * a `link` event of state 'ended'.
 */
export function createFileReplayAdapter(options: FileReplayOptions, sink: LmnSink, deps: LmnDeps): LmnAdapter {
  const transport = 'file'
  let started = false
  return {
    transport,
    async start() {
      if (started) return
      started = true
      let bytes: Uint8Array
      try {
        bytes = new Uint8Array(await readFile(options.path))
      } catch (err) {
        throw new GatewayError('LMN_OPEN_FAILED', `cannot read the replay file ${options.path}: ${(err as Error).message}`, { cause: err })
      }
      if (options.kind === 'sml') {
        const reader = createSmlReader({ meterId: options.meterId, transport, ...(options.quirks === undefined ? {} : { quirks: options.quirks }) }, sink, deps.now)
        reader.push(bytes)
        reader.end()
        sink.event({ kind: 'link', transport, meterId: options.meterId, state: 'ended' })
      } else {
        const reader = createWmbusReader(options.meters, transport, sink, deps.now)
        const framer = createWmbusFramer({ crc: 'none' })
        const { frames, skipped } = framer.push(bytes)
        for (const f of frames) reader.telegram(f)
        const rest = skipped + framer.pending()
        if (rest > 0) sink.event({ kind: 'garbage', transport, bytes: rest, code: 'MBUS_TRUNCATED' })
        sink.event({ kind: 'link', transport, state: 'ended' })
      }
    },
    close() {
      return Promise.resolve()
    },
  }
}

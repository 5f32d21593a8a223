import type { Logger } from 'pino'
import type { ReadingInput } from '../store/types.js'

/** The transport names of the log schemas (system log `transport` field). */
export type LmnTransportName = 'sml-serial' | 'sml-tcp' | 'wmbus-serial' | 'wmbus-udp' | 'file'

/** What an adapter reports besides readings. Never a key or a value. */
export type LmnEvent =
  /** A wM-Bus meter that is not configured sent a telegram (ignored). */
  | { readonly kind: 'unknown-meter'; readonly transport: LmnTransportName; readonly meterId: string }
  /** A configured meter's telegram did not decrypt or authenticate with its key, or no key is configured. */
  | { readonly kind: 'key-rejected'; readonly transport: LmnTransportName; readonly meterId: string; readonly code: string }
  /** Bytes that are not part of a complete, valid frame (noise, truncated or corrupted frames). */
  | { readonly kind: 'garbage'; readonly transport: LmnTransportName; readonly meterId?: string; readonly bytes: number; readonly code: string }
  /** A connection-oriented transport connected or lost its peer / the replay ended. */
  | { readonly kind: 'link'; readonly transport: LmnTransportName; readonly meterId?: string; readonly state: 'up' | 'down' | 'ended'; readonly detail?: string }

/** Where adapters deliver: one call per decoded frame (all readings of one SML file / one telegram). */
export interface LmnSink {
  readings(meterId: string, batch: readonly ReadingInput[]): void
  event(event: LmnEvent): void
}

export interface LmnDeps {
  readonly now: () => Date
  /** Schedules `fn` after `ms`; returns a cancel function (tests drive time). */
  readonly setTimer: (ms: number, fn: () => void) => () => void
  readonly logger?: Logger
}

/** One LMN transport. `start` opens it (LMN_OPEN_FAILED when it cannot), `close` undoes it; both idempotent. */
export interface LmnAdapter {
  readonly transport: LmnTransportName
  start(): Promise<void>
  close(): Promise<void>
}

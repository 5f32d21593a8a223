import { SmlError } from '../errors.js'
import { decodeSmlTransport, ESC } from './decode.js'

export interface SmlFramerOptions {
  /** Largest file (transport bytes) the framer buffers; a longer one is dropped with SML_TOO_LARGE. Default 16 384. */
  readonly maxFrameBytes?: number
}

export type SmlFramerEvent =
  /** One complete file with valid transport framing: `bytes` for `decodeSmlFile`, `payload` for `decodeSmlMessages`. */
  | { readonly kind: 'frame'; readonly bytes: Uint8Array; readonly payload: Uint8Array }
  /** `count` bytes outside any file (noise, or the tail of a file whose start was missed). */
  | { readonly kind: 'skipped'; readonly count: number }
  /** A started file was dropped (`count` bytes): truncated, bad escape, CRC, padding, too large. */
  | { readonly kind: 'error'; readonly error: SmlError; readonly count: number }

export interface SmlFramer {
  /** Feeds bytes; returns what they completed. Never throws on bad input. */
  push(chunk: Uint8Array): SmlFramerEvent[]
  /** Ends the stream: reports a file cut off mid-way (SML_TRUNCATED) and pending skipped bytes, then resets. */
  end(): SmlFramerEvent[]
}

const HUNT = 0
const DATA = 1
const ESCAPE = 2
const START = [ESC, ESC, ESC, ESC, 1, 1, 1, 1] as const

/**
 * A push framer for SML transport v1 (SML 1.04, "SML Transport Protocol Version 1") on a serial line: finds start
 * sequences, follows escaping to the end sequence, checks CRC/padding/alignment, and
 * resynchronises after noise, truncated files and garbage. Every dropped byte is reported.
 * The returned `bytes` are fresh copies, safe to keep.
 */
export function createSmlFramer(options: SmlFramerOptions = {}): SmlFramer {
  const maxFrameBytes = options.maxFrameBytes ?? 16_384
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 16) throw new RangeError('maxFrameBytes must be an integer >= 16')

  let mode = HUNT
  let matched = 0 // HUNT: bytes of the start sequence matched so far
  let skipped = 0 // HUNT: bytes skipped since the last event
  let buf = new Uint8Array(Math.min(1024, maxFrameBytes))
  let len = 0
  let ones = 0 // DATA: consecutive 0x1b at the end of buf
  let escStart = 0 // ESCAPE: offset of the escape's first 0x1b in buf
  let events: SmlFramerEvent[] = []

  function flushSkipped(): void {
    if (skipped > 0) {
      events.push({ kind: 'skipped', count: skipped })
      skipped = 0
    }
  }

  function startFrame(): void {
    flushSkipped()
    buf.set(START, 0)
    len = 8
    ones = 0
    mode = DATA
  }

  function huntByte(b: number): void {
    if (matched < 4) {
      if (b === ESC) matched++
      else {
        skipped += matched + 1
        matched = 0
      }
    } else if (b === 0x01) {
      if (++matched === 8) {
        matched = 0
        startFrame()
      }
    } else if (b === ESC) {
      // 1b1b1b1b 1b…: the run of 0x1b may still end in a start sequence.
      if (matched === 4) skipped += 1
      else {
        skipped += matched
        matched = 1
      }
    } else {
      skipped += matched + 1
      matched = 0
    }
  }

  function drop(error: SmlError, count: number): void {
    events.push({ kind: 'error', error, count })
    mode = HUNT
    matched = 0
    len = 0
  }

  function append(b: number): boolean {
    if (len >= buf.length) {
      if (len >= maxFrameBytes) {
        drop(new SmlError('SML_TOO_LARGE', `SML file longer than maxFrameBytes (${maxFrameBytes})`), len + 1)
        return false
      }
      const next = new Uint8Array(Math.min(maxFrameBytes, buf.length * 2))
      next.set(buf.subarray(0, len))
      buf = next
    }
    buf[len++] = b
    return true
  }

  function escapeComplete(): void {
    const p = escStart + 4
    const p0 = buf[p]!
    if (p0 === ESC && buf[p + 1] === ESC && buf[p + 2] === ESC && buf[p + 3] === ESC) {
      mode = DATA // escaped data
      ones = 0
      return
    }
    if (p0 === 0x01 && buf[p + 1] === 0x01 && buf[p + 2] === 0x01 && buf[p + 3] === 0x01) {
      // A new file starts: the one before was cut off.
      const count = escStart
      events.push({ kind: 'error', error: new SmlError('SML_TRUNCATED', `SML file cut off after ${count} bytes by a new start sequence`), count })
      startFrame()
      return
    }
    if (p0 !== 0x1a) {
      // Data ending in 1..3 bytes 0x1b before the aligned end escape (see transport/decode.ts).
      const k = (4 - (escStart % 4)) % 4
      let shift = k > 0
      for (let m = 0; m < k && shift; m++) if (buf[p + m] !== ESC) shift = false
      if (shift) {
        escStart += k
        return // stay in ESCAPE until 4 bytes follow the shifted escape
      }
      const count = escStart + 1
      const rest = buf.slice(escStart + 1, len)
      drop(new SmlError('SML_ESCAPE', `unknown escape sequence in SML file at offset ${escStart}`, { offset: escStart }), count)
      for (const b of rest) huntByte(b)
      return
    }
    const frame = buf.slice(0, len)
    try {
      const payload = decodeSmlTransport(frame)
      events.push({ kind: 'frame', bytes: frame, payload })
      mode = HUNT
      matched = 0
      len = 0
    } catch (err) {
      drop(err instanceof SmlError ? err : new SmlError('SML_ESCAPE', String(err), {}, { cause: err }), frame.length)
    }
  }

  function push(chunk: Uint8Array): SmlFramerEvent[] {
    events = []
    const n = chunk.length
    let i = 0
    while (i < n) {
      if (mode === HUNT) {
        huntByte(chunk[i++]!)
      } else if (mode === DATA) {
        if (ones === 0) {
          // Fast path: copy everything up to the next 0x1b at once.
          let k = chunk.indexOf(ESC, i)
          if (k < 0) k = n
          const count = k - i
          if (count > 0) {
            if (len + count > maxFrameBytes) {
              drop(new SmlError('SML_TOO_LARGE', `SML file longer than maxFrameBytes (${maxFrameBytes})`), len + count)
              i = k
              continue
            }
            if (len + count > buf.length) {
              let size = buf.length * 2
              while (size < len + count) size *= 2
              const next = new Uint8Array(Math.min(maxFrameBytes, size))
              next.set(buf.subarray(0, len))
              buf = next
            }
            buf.set(chunk.subarray(i, k), len)
            len += count
            i = k
            continue
          }
        }
        const b = chunk[i++]!
        if (!append(b)) continue
        if (b === ESC) {
          if (++ones === 4) {
            mode = ESCAPE
            escStart = len - 4
            ones = 0
          }
        } else ones = 0
      } else {
        if (!append(chunk[i++]!)) continue
        if (len - escStart === 8) escapeComplete()
      }
    }
    const out = events
    events = []
    return out
  }

  function end(): SmlFramerEvent[] {
    events = []
    if (mode !== HUNT) {
      drop(new SmlError('SML_TRUNCATED', `the stream ended inside an SML file after ${len} bytes`, { offset: len }), len)
    }
    skipped += matched
    matched = 0
    flushSkipped()
    mode = HUNT
    len = 0
    const out = events
    events = []
    return out
  }

  return { push, end }
}

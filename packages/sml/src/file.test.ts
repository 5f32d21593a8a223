import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { SmlError } from './errors.js'
import { decodeSmlFile, encodeSmlFile } from './file.js'
import { decodeSmlMessages } from './parser/decode.js'
import { encodeSmlMessages } from './parser/encode.js'
import { arbHints, arbMessage } from './parser/arbitraries.js'
import { createSmlFramer } from './transport/framer.js'
import type { SmlMessage, SmlMessageInput } from './types.js'

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const withoutCrc = (m: SmlMessage): SmlMessageInput => {
  const { crc16: _crc, ...rest } = m
  return rest
}

/** Runs `f`; anything it throws must be an SmlError. */
function onlySmlError(f: () => unknown): void {
  try {
    f()
  } catch (err) {
    if (!(err instanceof SmlError)) throw err
  }
}

describe('SML files: properties', () => {
  it('decode(encode(x)) deep-equals x for every message kind', () => {
    fc.assert(fc.property(fc.array(arbMessage, { minLength: 1, maxLength: 4 }), (messages) => {
      const file = decodeSmlFile(encodeSmlFile({ messages }))
      expect(file.messages.map(withoutCrc)).toEqual(messages)
    }), { numRuns: 300 })
  })

  it('encode(decode(bytes)) equals bytes, also for non-default encodings (tl hints)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(arbMessage, arbHints), { minLength: 1, maxLength: 3 }), (pairs) => {
      const bytes = encodeSmlFile({ messages: pairs.map(([m, tl]) => ({ ...m, tl })) })
      const decoded = decodeSmlFile(bytes)
      expect(toHex(encodeSmlFile(decoded))).toBe(toHex(bytes))
    }), { numRuns: 300 })
  })

  it('a non-default encoding decodes to the same values as the default one', () => {
    fc.assert(fc.property(arbMessage, arbHints, (m, tl) => {
      const [d] = decodeSmlMessages(encodeSmlMessages([{ ...m, tl }]))
      const { tl: _tl, ...rest } = withoutCrc(d!)
      expect(rest).toEqual(m)
    }), { numRuns: 300 })
  })

  it('the framer and decodeSmlFile agree on every file, however it is chunked', () => {
    fc.assert(fc.property(fc.array(fc.tuple(arbMessage, arbHints), { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 64 }), (pairs, chunk) => {
      const bytes = encodeSmlFile({ messages: pairs.map(([m, tl]) => ({ ...m, tl })) })
      const framer = createSmlFramer({ maxFrameBytes: 1 << 20 })
      const events = []
      for (let i = 0; i < bytes.length; i += chunk) events.push(...framer.push(bytes.subarray(i, i + chunk)))
      events.push(...framer.end())
      expect(events).toHaveLength(1)
      const [ev] = events
      expect(ev?.kind).toBe('frame')
      if (ev?.kind !== 'frame') return
      expect(toHex(ev.bytes)).toBe(toHex(bytes))
      expect(decodeSmlMessages(ev.payload)).toEqual(decodeSmlFile(bytes).messages)
    }), { numRuns: 200 })
  })

  it('random bytes only ever throw SmlError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      onlySmlError(() => decodeSmlFile(bytes))
      onlySmlError(() => decodeSmlMessages(bytes))
    }), { numRuns: 2000 })
  })

  it('mutated valid files and payloads only ever throw SmlError', () => {
    const arbMutation = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })
    fc.assert(fc.property(fc.array(arbMessage, { minLength: 1, maxLength: 3 }), arbMutation, fc.nat(), (messages, edits, cut) => {
      const payload = encodeSmlMessages(messages)
      const file = encodeSmlFile({ messages })
      for (const target of [payload, file]) {
        const bad = target.slice()
        for (const [at, v] of edits) bad[at % bad.length] = v
        onlySmlError(() => decodeSmlMessages(bad))
        onlySmlError(() => decodeSmlFile(bad))
        onlySmlError(() => decodeSmlMessages(bad.subarray(0, cut % (bad.length + 1))))
      }
    }), { numRuns: 1000 })
  })
})

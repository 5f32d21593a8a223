import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createWmbusMeterFromConfig, parseWmbusMeterConfig } from '@smgw/sim'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTempDir } from '../../testing.js'
import type { LmnEvent } from '../types.js'
import { createFileReplayAdapter } from './index.js'

let tmp: { dir: string; remove: () => Promise<void> }
beforeAll(async () => { tmp = await createTempDir('smgw-replay-') })
afterAll(async () => { await tmp.remove() })

describe('createFileReplayAdapter', () => {
  it('wM-Bus capture: every whole frame decoded, a cut-off tail reported, then ended; start is idempotent', async () => {
    const meter = createWmbusMeterFromConfig(parseWmbusMeterConfig({ kind: 'water', mode: 5, key: '000102030405060708090a0b0c0d0e0f', id: '77777777' }))
    const frames = [0, 1, 2].map((i) => meter.next(new Date(Date.UTC(2026, 2, 1) + i * 32_000)))
    const tail = frames[0]!.bytes.subarray(0, 12)
    const path = join(tmp.dir, 'capture.wmbus')
    await writeFile(path, Buffer.concat([...frames.map((f) => f.bytes), tail]))
    const got: [string, number][] = []
    const events: LmnEvent[] = []
    const adapter = createFileReplayAdapter(
      { kind: 'wmbus', path, meters: [{ id: 'water-7', mbusId: '77777777', key: Uint8Array.from(Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex')) }] },
      { readings: (id, b) => { got.push([id, Number(b.find((r) => r.quantity === 'volume')!.mantissa)]) }, event: (e) => { events.push(e) } },
      { now: () => new Date(Date.UTC(2026, 2, 2)), setTimer: () => () => undefined },
    )
    await adapter.start()
    await adapter.start()
    await adapter.close()
    expect(got.map(([id]) => id)).toEqual(['water-7', 'water-7', 'water-7'])
    expect(events).toEqual([{ kind: 'garbage', transport: 'file', bytes: 12, code: 'MBUS_TRUNCATED' }, { kind: 'link', transport: 'file', state: 'ended' }])
  })
})

import { describe, expect, it } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { encodeSmlFile } from '@smgw/sml'
import type { SmlFileInput } from '@smgw/sml'
import { runCaptured } from '../../testing.js'

const fixtures = fileURLToPath(new URL('../../../../sml/fixtures/', import.meta.url))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

const file: SmlFileInput = {
  messages: [
    { transactionId: Uint8Array.of(1), groupNo: 0, abortOnError: 0, body: { kind: 'openResponse', reqFileId: Uint8Array.of(1), serverId: Uint8Array.of(0x0a, 0x01) } },
    {
      transactionId: Uint8Array.of(2), groupNo: 0, abortOnError: 0,
      body: {
        kind: 'getListResponse', serverId: Uint8Array.of(0x0a, 0x01),
        valList: [
          { objName: Uint8Array.of(1, 0, 1, 8, 0, 255), unit: 30, scaler: -1, value: { type: 'uint64', value: 12_345 } },
          { objName: Uint8Array.of(1, 0, 16, 7, 0, 255), unit: 27, scaler: 0, value: { type: 'uint32', value: 0xffff_ff9c } },
        ],
      },
    },
    { transactionId: Uint8Array.of(3), groupNo: 0, abortOnError: 0, body: { kind: 'closeResponse' } },
  ],
}
const bytes = encodeSmlFile(file)

function tmpFile(name: string, content: Uint8Array | string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'smgw-sml-')), name)
  writeFileSync(path, content)
  return path
}

interface Out { ok: boolean; files?: number; readings?: { obis: string; value: unknown; unit?: string; quirks?: string[] }[]; messages?: unknown[]; skipped?: number; dropped?: { code: string }[]; error?: { code: string } }
const parse = (s: string): Out => JSON.parse(s) as Out

describe('smgw decode sml', () => {
  it('decodes a binary file into readings and messages', async () => {
    const r = await runCaptured(['decode', 'sml', tmpFile('a.bin', bytes)])
    expect(r.status).toBe(0)
    const out = parse(r.stdout)
    expect(out.ok).toBe(true)
    expect(out.files).toBe(1)
    expect(out.messages).toHaveLength(3)
    expect(out.readings?.map((x) => [x.obis, x.value, x.unit])).toEqual([['1-0:1.8.0*255', 1234.5, 'Wh'], ['1-0:16.7.0*255', 4294967196, 'W']])
  })

  it('--quirk unsigned-negative-power reads the power as negative', async () => {
    const r = await runCaptured(['decode', 'sml', tmpFile('a.bin', bytes), '--quirk', 'unsigned-negative-power'])
    const power = parse(r.stdout).readings?.[1]
    expect(power?.value).toBe(-100)
    expect(power?.quirks).toEqual(['unsignedNegativePower'])
  })

  it('reads hex from standard input with --hex', async () => {
    const r = await runCaptured(['decode', 'sml', '-', '--hex'], `# a comment\n${toHex(bytes)}\n`)
    expect(r.status).toBe(0)
    expect(parse(r.stdout).files).toBe(1)
  })

  it('decodes the shipped serial capture: files count, skipped bytes, dropped files', async () => {
    const r = await runCaptured(['decode', 'sml', join(fixtures, 'capture-serial.bin')])
    expect(r.status).toBe(0)
    const out = parse(r.stdout)
    expect(out.files).toBe(4)
    expect(out.skipped).toBe(15)
    expect(out.dropped?.map((d) => d.code)).toEqual(['SML_TRUNCATED', 'SML_CRC', 'SML_TRUNCATED'])
    expect(out.readings?.filter((x) => x.obis === '1-0:1.8.0*255')).toHaveLength(4)
    const hex = await runCaptured(['decode', 'sml', join(fixtures, 'capture-serial.hex'), '--hex'])
    expect(parse(hex.stdout)).toEqual(out)
  })

  it('--jsonl: one result per line, exit 1 when a line fails', async () => {
    const bad = bytes.slice()
    bad[12] = bad[12]! ^ 1
    const r = await runCaptured(['decode', 'sml', '--jsonl'], `${toHex(bytes)}\n${toHex(bad)}\nzz\n`)
    expect(r.status).toBe(1)
    const lines = r.stdout.trim().split('\n').map(parse)
    expect(lines.map((l) => l.ok)).toEqual([true, false, false])
    expect(lines[1]?.error?.code).toBe('SML_CRC')
    expect(lines[2]?.error?.code).toBe('HEX_INVALID')
  })

  it('fails with the SmlError code and exit 1', async () => {
    const r = await runCaptured(['decode', 'sml', tmpFile('t.bin', bytes.subarray(0, 30))])
    expect(r.status).toBe(1)
    expect(parse(r.stdout)).toEqual({ ok: false, error: { code: 'SML_TRUNCATED', message: expect.any(String) } })
    const none = await runCaptured(['decode', 'sml', tmpFile('n.bin', 'hello')])
    expect(parse(none.stdout).error?.code).toBe('SML_START')
  })

  it('usage errors exit 2: no file, unreadable file, bad hex, unknown quirk, file with --jsonl', async () => {
    for (const argv of [
      ['decode', 'sml'],
      ['decode', 'sml', '/no/such/file.bin'],
      ['decode', 'sml', tmpFile('x.hex', 'not hex'), '--hex'],
      ['decode', 'sml', '-', '--quirk', 'nope'],
      ['decode', 'sml', 'file.bin', '--jsonl'],
    ]) {
      const r = await runCaptured(argv)
      expect(r.status, argv.join(' ')).toBe(2)
      expect(r.stderr).toMatch(/smgw: /)
    }
  })

  it('--help explains the output and gives an example', async () => {
    const r = await runCaptured(['decode', 'sml', '--help'])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('"files"')
    expect(r.stdout).toContain('smgw decode sml packages/sml/fixtures/capture-serial.bin')
    expect(r.stdout).toContain('unsigned-negative-power')
    expect(r.stdout).toContain('signed-positive-power')
  })
})

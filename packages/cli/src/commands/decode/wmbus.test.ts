import { describe, expect, it } from 'vitest'
import { runCaptured } from '../../testing.js'

// OMS Vol. 2 Annex N.2.1 (mode 5) and the profile B example (mode 7), as facts from the spec.
const N21 = '2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3'
const N21_CRC = '2E44931578563412330333637A2A0020255923C95AAA26D1B2E7493BC2AD013EC4A6F6D3529B520EDFF0EA6DEFC955B29D6D69EBF3EC8A'
const N21_KEY = '0102030405060708090A0B0C0D0E0F11'
const MODE7 = '434493157856341233038C2075900F002C25B30A000021924D4F2FB66E017A75002007109058475F4BC91DF878B80A1B0F98B629024AAC727942BFC549233C0140829B93'
const MODE7_KEY = '000102030405060708090A0B0C0D0E0F'

describe('smgw decode wmbus', () => {
  it('decodes a mode 5 telegram to the contract fields', async () => {
    const { status, stdout } = await runCaptured(['decode', 'wmbus', N21, '--key', N21_KEY])
    expect(status).toBe(0)
    const out = JSON.parse(stdout)
    expect(out).toMatchObject({ ok: true, manufacturer: 'ELS', id: '12345678', version: 51, deviceType: { name: 'gas', code: 3 }, accessNumber: 42, security: 5 })
    expect(out.records).toEqual([
      { storage: 0, tariff: 0, subunit: 0, function: 'instantaneous', quantity: 'volume', unit: 'm3', value: 28504.27, dif: '0c', vif: '14' },
      { storage: 0, tariff: 0, subunit: 0, function: 'instantaneous', quantity: 'datetime', unit: 'datetime', value: '2008-05-31T23:50', dif: '04', vif: '6d' },
      { storage: 0, tariff: 0, subunit: 0, function: 'instantaneous', quantity: 'error_flags', unit: '', value: 0, dif: '02', vif: 'fd17' },
    ])
  })

  it('accepts the over-the-air form with CRCs, and --crc absent refuses it', async () => {
    const auto = JSON.parse((await runCaptured(['decode', 'wmbus', N21_CRC, '--key', N21_KEY])).stdout)
    expect(auto).toMatchObject({ ok: true, link: { crc: true, format: 'A' } })
    const forced = await runCaptured(['decode', 'wmbus', N21_CRC, '--key', N21_KEY, '--crc', 'absent'])
    expect(forced.status).toBe(1)
    expect(JSON.parse(forced.stdout).error.code).toBe('MBUS_FRAME')
  })

  it('mode 7 with the key; MISSING_KEY without; DECRYPT_FAILED / MAC_MISMATCH with a wrong one (exit 1)', async () => {
    expect(JSON.parse((await runCaptured(['decode', 'wmbus', MODE7, '--key', MODE7_KEY])).stdout)).toMatchObject({ ok: true, security: 7, accessNumber: 117 })
    const missing = await runCaptured(['decode', 'wmbus', MODE7])
    expect(missing.status).toBe(1)
    expect(JSON.parse(missing.stdout)).toMatchObject({ ok: false, error: { code: 'MISSING_KEY' } })
    const wrong5 = await runCaptured(['decode', 'wmbus', N21, '--key', MODE7_KEY])
    expect(JSON.parse(wrong5.stdout).error.code).toBe('DECRYPT_FAILED')
    const wrong7 = await runCaptured(['decode', 'wmbus', MODE7, '--key', N21_KEY])
    expect(JSON.parse(wrong7.stdout).error.code).toBe('MAC_MISMATCH')
  })

  it('usage errors exit 2: bad hex, bad key length, bad --format', async () => {
    expect((await runCaptured(['decode', 'wmbus', 'XYZ'])).status).toBe(2)
    const badKey = await runCaptured(['decode', 'wmbus', N21, '--key', '0102'])
    expect(badKey.status).toBe(2)
    expect(badKey.stderr).toMatch(/16 bytes/)
    expect((await runCaptured(['decode', 'wmbus', N21, '--format', 'C'])).status).toBe(2)
    expect((await runCaptured(['decode', 'wmbus'])).status).toBe(2)
  })

  it('--jsonl: one result per line, hex or {"hex","key"}; exit 1 when any fails', async () => {
    const input = [N21, JSON.stringify({ hex: MODE7, key: MODE7_KEY }), 'nothex', ''].join('\n')
    const { status, stdout } = await runCaptured(['decode', 'wmbus', '--jsonl', '--key', N21_KEY], input)
    expect(status).toBe(1)
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { ok: boolean; security?: number; error?: { code: string } })
    expect(lines.map((l) => l.ok)).toEqual([true, true, false])
    expect(lines[1]!.security).toBe(7)
    expect(lines[2]!.error?.code).toBe('BAD_INPUT')
    const good = await runCaptured(['decode', 'wmbus', '--jsonl', '--key', N21_KEY], N21 + '\n' + N21_CRC + '\n')
    expect(good.status).toBe(0)
  })

  it('--help shows examples and the CRC/format options', async () => {
    const { status, stdout } = await runCaptured(['decode', 'wmbus', '--help'])
    expect(status).toBe(0)
    expect(stdout).toMatch(/Examples:/)
    expect(stdout).toMatch(/--crc/)
    expect(stdout).toMatch(/--format/)
  })
})

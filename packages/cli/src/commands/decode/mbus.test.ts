import { describe, expect, it } from 'vitest'
import { runCaptured } from '../../testing.js'

// OMS Vol. 2 Annex N.2.2: the gas meter as a wired M-Bus long frame (no encryption).
const N22 = '6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916'
// Annex N.5.4: heat cost allocator, wired, mode 5 partial encryption.
const N54 = '682C2C6808FD7288776655934455080004100500DFE2A782146D1513581CD2F83F39040CFD10785634120C78443322112616'

describe('smgw decode mbus', () => {
  it('decodes a long frame to the contract fields', async () => {
    const { status, stdout } = await runCaptured(['decode', 'mbus', N22])
    expect(status).toBe(0)
    const out = JSON.parse(stdout)
    expect(out).toMatchObject({ ok: true, frame: { kind: 'long', control: 8, address: 0xfd, ci: 0x72 }, manufacturer: 'ELS', id: '12345678', version: 51, deviceType: { name: 'gas', code: 3 }, accessNumber: 42, security: 0 })
    expect(out.records.map((r: { quantity: string; value: unknown }) => [r.quantity, r.value])).toEqual([['volume', 28504.27], ['datetime', '2008-05-31T23:50'], ['error_flags', 0]])
  })

  it('mode 5 with --key; MISSING_KEY without', async () => {
    const ok = JSON.parse((await runCaptured(['decode', 'mbus', N54, '--key', '000102030405060708090A0B0C0D0E0F'])).stdout)
    expect(ok.records.map((r: { quantity: string; storage: number; value: unknown }) => [r.quantity, r.storage, r.value])).toEqual([
      ['hca_units', 0, 1234], ['date', 1, '2007-04-30'], ['hca_units', 1, 23456], ['customer_location', 0, 12345678], ['fabrication_number', 0, 11223344],
    ])
    const missing = await runCaptured(['decode', 'mbus', N54])
    expect(missing.status).toBe(1)
    expect(JSON.parse(missing.stdout).error.code).toBe('MISSING_KEY')
  })

  it('ACK and short frames; a bad checksum is MBUS_CHECKSUM with exit 1', async () => {
    expect(JSON.parse((await runCaptured(['decode', 'mbus', 'E5'])).stdout)).toMatchObject({ ok: true, frame: { kind: 'ack' }, records: [] })
    expect(JSON.parse((await runCaptured(['decode', 'mbus', '1040014116'])).stdout)).toMatchObject({ ok: true, frame: { kind: 'short', control: 0x40, address: 1 } })
    const bad = await runCaptured(['decode', 'mbus', '1040014216'])
    expect(bad.status).toBe(1)
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, error: { code: 'MBUS_CHECKSUM' } })
  })

  it('--jsonl and usage errors', async () => {
    const { status, stdout } = await runCaptured(['decode', 'mbus', '--jsonl'], `${N22}\nE5\n`)
    expect(status).toBe(0)
    expect(stdout.trim().split('\n')).toHaveLength(2)
    expect((await runCaptured(['decode', 'mbus', 'ZZ'])).status).toBe(2)
    expect((await runCaptured(['decode', 'mbus', N22, '--key', 'abcd'])).status).toBe(2)
    expect((await runCaptured(['decode', 'mbus', '--help'])).stdout).toMatch(/Examples:/)
  })
})

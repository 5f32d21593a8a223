import { describe, expect, it } from 'vitest'
import { runCaptured } from './testing.js'

describe('smgw', () => {
  it('prints help and exits 0', async () => {
    const r = await runCaptured(['--help'])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('Usage: smgw')
    expect(r.stdout).toContain('decode')
  })

  it('exits 2 on an unknown command', async () => {
    const r = await runCaptured(['no-such-command'])
    expect(r.status).toBe(2)
    expect(r.stderr).toContain("unknown command 'no-such-command'")
  })

  it('exits 2 on an unknown option', async () => {
    const r = await runCaptured(['decode', '--no-such-option'])
    expect(r.status).toBe(2)
  })
})

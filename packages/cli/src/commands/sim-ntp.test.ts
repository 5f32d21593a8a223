import { createSocket } from 'node:dgram'
import { computeOffset, querySntp } from '@smgw/gateway'
import { describe, expect, it } from 'vitest'
import type { CliIo } from '../io.js'
import { runCaptured } from '../testing.js'
import { runNtpSimulator } from './sim.js'

function captureIo() {
  const out = { stdout: '', stderr: '' }
  const io: CliIo = {
    stdout: (t) => { out.stdout += t },
    stderr: (t) => { out.stderr += t },
    stdoutBytes: (b) => { out.stdout += Buffer.from(b).toString('hex') },
    stdin: async function* () { /* none */ },
    readFile: () => Promise.reject(new Error('unused')),
  }
  return { io, out }
}

describe('smgw sim ntp', () => {
  it('--help names the options and shows examples', async () => {
    const r = await runCaptured(['sim', 'ntp', '--help'])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/--offset-ms <ms>/)
    expect(r.stdout).toMatch(/--kiss <code>/)
    expect(r.stdout).toMatch(/smgw sim ntp --port 1123 --offset-ms 0/)
  })

  it('serves the lying clock over UDP until aborted; the gateway client measures its offset; --json lines', async () => {
    const { io, out } = captureIo()
    const controller = new AbortController()
    const running = runNtpSimulator({ host: '127.0.0.1', port: 0, offsetMs: 30_000 }, io, true, controller.signal)
    await expect.poll(() => out.stderr, { timeout: 5000 }).toMatch(/listening on udp 127\.0\.0\.1:\d+ \(clock \+30000 ms\)/)
    const port = Number(/:(\d+) /.exec(out.stderr)?.[1])
    const r = await querySntp({ host: '127.0.0.1', port }, {}, { systemNow: () => new Date() })
    const m = computeOffset(r.t1, r.t2, r.t3, r.t4)
    expect(Math.abs(m.offsetMs - 30_000)).toBeLessThanOrEqual(m.delayMs / 2 + 1)
    await expect.poll(() => out.stdout).toMatch(/\n$/)
    expect(JSON.parse(out.stdout)).toMatchObject({ from: { address: '127.0.0.1' }, answered: true, reply: 'time' })
    expect(out.stderr).toMatch(/request from 127\.0\.0\.1:\d+ answered: \d{4}-/)
    controller.abort()
    await expect(running).resolves.toBe(0)
    // closed: the port is free again
    const again = createSocket('udp4')
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject)
      again.bind(port, '127.0.0.1', () => { resolve() })
    })
    again.close()
  })

  it('usage errors exit 2, a port in use exits 1', async () => {
    expect((await runCaptured(['sim', 'ntp', '--port', '0', '--stratum', '0'])).status).toBe(2)
    expect((await runCaptured(['sim', 'ntp', '--port', '0', '--kiss', 'rate'])).status).toBe(2)
    expect((await runCaptured(['sim', 'ntp', '--port', 'x'])).status).toBe(2)
    expect((await runCaptured(['sim', 'ntp', '--leap', '5'])).status).toBe(2)
    const busy = createSocket('udp4')
    await new Promise<void>((resolve) => { busy.bind(0, '127.0.0.1', resolve) })
    try {
      const r = await runCaptured(['sim', 'ntp', '--port', String(busy.address().port)])
      expect(r.status).toBe(1)
      expect(r.stderr).toMatch(/SIM_TRANSPORT/)
    } finally {
      busy.close()
    }
  })
})

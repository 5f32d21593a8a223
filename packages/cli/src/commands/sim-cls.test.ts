import { connect, createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import type { CliIo } from '../io.js'
import { runCaptured } from '../testing.js'
import { runClsDevice } from './sim-cls.js'

function captureIo() {
  const out = { stdout: '', stderr: '' }
  const io: CliIo = {
    stdout: (t) => { out.stdout += t },
    stderr: (t) => { out.stderr += t },
    stdoutBytes: () => undefined,
    stdin: async function* () { /* none */ },
    readFile: () => Promise.reject(new Error('unused')),
  }
  return { io, out }
}

describe('smgw sim cls-device', () => {
  it('--help documents the protocol, the §14a fallback and examples', async () => {
    const r = await runCaptured(['sim', 'cls-device', '--help'])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/--grace-s <s>/)
    expect(r.stdout).toMatch(/§14a EnWG/)
    expect(r.stdout).toMatch(/smgw sim cls-device --port 7300/)
  })

  it('serves the line protocol over TCP and prints its events as JSON lines', async () => {
    const { io, out } = captureIo()
    const controller = new AbortController()
    const running = runClsDevice({ port: 0, graceS: 0 }, io, true, controller.signal)
    await expect.poll(() => out.stderr, { timeout: 5000 }).toMatch(/listening on tcp 127\.0\.0\.1:\d+/)
    const port = Number(/:(\d+) /.exec(out.stderr)?.[1])
    const socket = connect({ host: '127.0.0.1', port })
    const answer = new Promise<string>((resolve) => { socket.once('data', (b: Buffer) => { resolve(b.toString('utf8')) }) })
    socket.write('{"cmd":"limit","kw":4.2}\n')
    expect(JSON.parse(await answer)).toEqual({ ok: true, cmd: 'limit', mode: 'limited', limitKw: 4.2, powerKw: 4.2 })
    socket.end()
    // Grace 0: the fallback follows at once.
    await expect.poll(() => out.stdout, { timeout: 5000 }).toMatch(/"reason":"fallback"/)
    const events = out.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string })
    expect(events.map((e) => e.event)).toEqual(['listening', 'connected', 'command', 'mode', 'disconnected', 'grace', 'mode'])
    controller.abort()
    await expect(running).resolves.toBe(0)
  })

  it('usage errors exit 2, a port in use exits 1', async () => {
    expect((await runCaptured(['sim', 'cls-device', '--port', 'x'])).status).toBe(2)
    expect((await runCaptured(['sim', 'cls-device', '--port', '0', '--grace-s', '-1'])).status).toBe(2)
    expect((await runCaptured(['sim', 'cls-device', '--kind', 'toaster'])).status).toBe(2)
    const busy = createServer()
    await new Promise<void>((resolve) => { busy.listen(0, '127.0.0.1', resolve) })
    try {
      const r = await runCaptured(['sim', 'cls-device', '--port', String((busy.address() as AddressInfo).port)])
      expect(r.status).toBe(1)
      expect(r.stderr).toMatch(/SIM_TRANSPORT/)
    } finally {
      busy.close()
    }
  })
})

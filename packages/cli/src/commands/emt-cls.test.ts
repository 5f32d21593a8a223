import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { decodeCertificates, decodePrivateKey } from '@smgw/crypto'
import { connectTls, createTlsContext } from '@smgw/pki'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliIo } from '../io.js'
import { runCaptured } from '../testing.js'
import { parseOperatorCommand, runClsLimit, runClsServe } from './emt-cls.js'

// `smgw pki init` material, an EMT configuration file, and a TLS client with the gateway's
// certificate standing in for the gateway (the gateway side is tested in packages/gateway/src/cls).
let dir: string
const p = (...parts: string[]) => join(dir, ...parts)
const cert = (file: string) => decodeCertificates(new Uint8Array(readFileSync(p(file))))[0]!.der

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smgw-cli-emt-cls-'))
  expect((await runCaptured(['pki', 'init', p('pki'), '--gateways', '2'])).status).toBe(0)
  writeFileSync(p('emt.json'), JSON.stringify({
    participantId: 'emt-1',
    tls: { certificate: 'pki/emt-1/tls.cert.pem', key: 'pki/emt-1/tls.key.pem', chain: ['pki/chain.pem'] },
    enc: { certificate: 'pki/emt-1/enc.cert.pem', key: { file: 'pki/emt-1/enc.key.pem' } },
    pki: { roots: ['pki/root-ca/ca.cert.pem'], crls: ['pki/crl/root.crl.pem', 'pki/crl/sub-ca-gw.crl.pem', 'pki/crl/sub-ca-emt.crl.pem'] },
    storage: { sqlite: 'emt.db' },
  }))
}, 60_000)
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

/** A fake standard input the test feeds line by line. */
function liveIo() {
  const out = { stdout: '', stderr: '' }
  const queue: Uint8Array[] = []
  let wake: (() => void) | undefined
  let ended = false
  const io: CliIo = {
    stdout: (t) => { out.stdout += t },
    stderr: (t) => { out.stderr += t },
    stdoutBytes: () => undefined,
    stdin: async function* () {
      for (;;) {
        while (queue.length > 0) yield queue.shift()!
        if (ended) return
        await new Promise<void>((resolve) => { wake = resolve })
      }
    },
    readFile: () => Promise.reject(new Error('unused')),
  }
  return {
    io, out,
    write: (text: string) => { queue.push(new TextEncoder().encode(text)); wake?.() },
    end: () => { ended = true; wake?.() },
    events: () => out.stdout.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
  }
}

/** Connects as smgw-0001, sends the preamble and plays a device that answers every command line. */
async function gatewayAsDevice(port: number, gatewayId = 'smgw-0001'): Promise<TLSSocket> {
  const gw = `pki/gateways/${gatewayId}`
  const context = createTlsContext({
    identity: { key: decodePrivateKey(new Uint8Array(readFileSync(p(gw, 'tls.key.pem')))), cert: cert(`${gw}/tls.cert.pem`), chain: [cert('pki/sub-ca-gw/ca.cert.pem')] },
    trust: { roots: [cert('pki/root-ca/ca.cert.pem')] },
  })
  const socket = await connectTls(context, { host: '127.0.0.1', port })
  socket.write(`${JSON.stringify({ format: 'smgw-cls/1', channelId: 'ch-1', gatewayId, deviceId: 'hp-1', timeoutS: 60 })}\n`)
  let buffer = ''
  let limitKw: number | null = null
  socket.on('data', (b: Buffer) => {
    buffer += b.toString('utf8')
    let nl: number
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const c = JSON.parse(buffer.slice(0, nl)) as { cmd: string; kw?: number }
      buffer = buffer.slice(nl + 1)
      if (c.cmd === 'limit') limitKw = c.kw ?? null
      socket.write(`${JSON.stringify({ ok: c.cmd !== 'nope', cmd: c.cmd, limitKw })}\n`)
    }
  })
  return socket
}

const options = () => ({ config: p('emt.json'), host: '127.0.0.1', port: '0', gateway: ['smgw-0001'], json: true })

describe('smgw emt cls', () => {
  it('operator lines: limit KW, release, status, JSON objects', () => {
    expect(parseOperatorCommand('limit 4.2')).toEqual({ cmd: 'limit', kw: 4.2 })
    expect(parseOperatorCommand(' status ')).toEqual({ cmd: 'status' })
    expect(parseOperatorCommand('release')).toEqual({ cmd: 'release' })
    expect(parseOperatorCommand('{"cmd":"x"}')).toEqual({ cmd: 'x' })
    expect(parseOperatorCommand('limit')).toBeUndefined()
    expect(parseOperatorCommand('[1]')).toBeUndefined()
    expect(parseOperatorCommand('reboot now')).toBeUndefined()
  })

  it('--help documents serve and limit', async () => {
    const r = await runCaptured(['emt', 'cls', 'limit', '--help'])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/--wait-s <s>/)
    expect(r.stdout).toMatch(/smgw emt cls limit 4\.2 --config emt\.json/)
  })

  it('serve: announces a channel, sends operator commands from standard input, prints the answers and the close', async () => {
    const live = liveIo()
    const controller = new AbortController()
    const running = runClsServe(options(), live.io, controller.signal)
    await expect.poll(() => live.events().some((e) => e.event === 'listening'), { timeout: 10_000 }).toBe(true)
    const port = live.events().find((e) => e.event === 'listening')!.port as number
    const gw = await gatewayAsDevice(port)
    await expect.poll(() => live.events().some((e) => e.event === 'channel'), { timeout: 10_000 }).toBe(true)
    expect(live.events().find((e) => e.event === 'channel')).toEqual({ event: 'channel', channelId: 'ch-1', gatewayId: 'smgw-0001', deviceId: 'hp-1', timeoutS: 60 })
    live.write('limit 4.2\nbogus\nstatus\n')
    await expect.poll(() => live.events().filter((e) => e.event === 'answer').length, { timeout: 10_000 }).toBe(2)
    expect(live.events().filter((e) => e.event === 'answer' || e.event === 'error').map((e) => e.answer ?? e.code)).toEqual([
      { ok: true, cmd: 'limit', limitKw: 4.2 }, 'NOT_A_COMMAND', { ok: true, cmd: 'status', limitKw: 4.2 },
    ])
    live.write('close\n')
    await new Promise<void>((resolve) => { gw.once('close', () => { resolve() }) })
    await expect.poll(() => live.events().some((e) => e.event === 'closed'), { timeout: 10_000 }).toBe(true)
    live.end()
    controller.abort()
    await expect(running).resolves.toBe(0)
  })

  it('limit: waits for a channel, sends the limit and status, closes; exit 1 when no channel comes', async () => {
    const live = liveIo()
    const running = runClsLimit(4.2, { ...options(), waitS: '30' }, live.io)
    await expect.poll(() => live.events().some((e) => e.event === 'listening'), { timeout: 10_000 }).toBe(true)
    const gw = await gatewayAsDevice(live.events().find((e) => e.event === 'listening')!.port as number)
    await expect(running).resolves.toBe(0)
    await new Promise<void>((resolve) => { if (gw.destroyed) resolve(); else gw.once('close', () => { resolve() }) })
    expect(live.events().map((e) => e.event)).toEqual(['listening', 'channel', 'answer', 'answer', 'closed'])
    expect(live.events()[2]).toMatchObject({ answer: { ok: true, cmd: 'limit', limitKw: 4.2 } })

    const none = liveIo()
    expect(await runClsLimit(4.2, { ...options(), waitS: '0.2' }, none.io)).toBe(1)
    expect(none.events().at(-1)).toMatchObject({ event: 'error', code: 'EMT_CLS_FAILED' })
  })

  it('usage and configuration errors exit 2', async () => {
    expect((await runCaptured(['emt', 'cls', 'limit', 'x', '--config', p('emt.json')])).status).toBe(2)
    expect((await runCaptured(['emt', 'cls', 'limit', '4.2', '--config', p('missing.json'), '--port', '0'])).status).toBe(2)
    expect((await runCaptured(['emt', 'cls', 'serve', '--config', p('emt.json'), '--port', '70000'])).status).toBe(2)
  })
})

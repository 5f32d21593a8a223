import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { connectTls, createTlsContext } from '@smgw/pki'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EmtError } from '../errors.js'
import { createTestPki, type TestPki } from '../testing/pki.js'
import { CLS_PREAMBLE_FORMAT, createClsServer, type ClsServer } from './server.js'

// A real mutual-TLS server and real TLS clients holding demo SM-PKI gateway certificates; the
// test plays the gateway side of the channel (preamble, then the device's answers).
let dir: string
let pki: TestPki
let foreign: TestPki
const now = new Date()
const servers: ClsServer[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'smgw-emt-cls-'))
  pki = await createTestPki(join(dir, 'pki'), { gateways: 2, emts: 1, now: new Date(now.getTime() - 86_400_000) })
  foreign = await createTestPki(join(dir, 'foreign'), { gateways: 1, emts: 0, now: new Date(now.getTime() - 86_400_000) })
})
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()))
  await rm(dir, { recursive: true, force: true })
})

async function startServer(gateways?: readonly string[]): Promise<ClsServer> {
  const emt = pki.participant('emt-1')
  const server = createClsServer({
    host: '127.0.0.1', port: 0,
    identity: { key: emt.tls.key, cert: emt.tls.cert, chain: [pki.subCa('sub-ca-emt').certificate] },
    trust: { roots: [pki.root], intermediates: [pki.subCa('sub-ca-gw').certificate] },
    ...(gateways === undefined ? {} : { gateways }),
    preambleTimeoutMs: 5000,
  })
  servers.push(server)
  await server.start()
  return server
}

/** Connects as a gateway of `from` (default: our demo PKI). */
function connectGateway(server: ClsServer, label = 'gateways/smgw-0001', from: TestPki = pki): Promise<TLSSocket> {
  const gw = from.participant(label)
  const context = createTlsContext({ identity: { key: gw.tls.key, cert: gw.tls.cert, chain: [from.subCa('sub-ca-gw').certificate] }, trust: { roots: [pki.root], intermediates: [pki.subCa('sub-ca-emt').certificate] } })
  return connectTls(context, { host: '127.0.0.1', port: server.port()! })
}

const closedSocket = (s: TLSSocket): Promise<void> => new Promise((resolve) => {
  if (s.destroyed) resolve()
  else { s.once('close', () => { resolve() }); s.resume() }
})

/** The connection is refused: connect fails, or the socket closes without a byte. */
async function refused(connecting: Promise<TLSSocket>): Promise<void> {
  const socket = await connecting.catch(() => undefined)
  if (socket === undefined) return
  let bytes = 0
  socket.on('data', (b: Buffer) => { bytes += b.length })
  await closedSocket(socket)
  expect(bytes).toBe(0)
}

function preamble(gatewayId = 'smgw-0001'): string {
  return `${JSON.stringify({ format: CLS_PREAMBLE_FORMAT, channelId: 'c0ffee00-0000-4000-8000-000000000001', gatewayId, deviceId: 'hp-1', timeoutS: 60 })}\n`
}

describe('EMT CLS endpoint', () => {
  it('accepts an SM-PKI gateway with its preamble; send() writes a JSON line and resolves with the answer line', async () => {
    const server = await startServer(['smgw-0001'])
    const next = server.nextChannel(10_000)
    const gw = await connectGateway(server)
    gw.write(preamble())
    const channel = await next
    expect(channel).toMatchObject({ channelId: 'c0ffee00-0000-4000-8000-000000000001', gatewayId: 'smgw-0001', deviceId: 'hp-1', timeoutS: 60 })
    // The "device" answers each command line.
    let got = ''
    gw.on('data', (b: Buffer) => {
      got += b.toString('utf8')
      let nl: number
      while ((nl = got.indexOf('\n')) >= 0) {
        const cmd = JSON.parse(got.slice(0, nl)) as { cmd: string; kw?: number }
        got = got.slice(nl + 1)
        gw.write(`${JSON.stringify({ ok: true, cmd: cmd.cmd, limitKw: cmd.kw ?? null })}\n`)
      }
    })
    expect(await channel.send({ cmd: 'limit', kw: 4.2 })).toEqual({ ok: true, cmd: 'limit', limitKw: 4.2 })
    expect(await Promise.all([channel.send({ cmd: 'status' }), channel.send({ cmd: 'release' })])).toEqual([
      { ok: true, cmd: 'status', limitKw: null }, { ok: true, cmd: 'release', limitKw: null },
    ])
    expect(server.channels()).toHaveLength(1)
    await channel.close()
    await closedSocket(gw)
    expect(channel.isOpen()).toBe(false)
    await expect(channel.send({ cmd: 'status' })).rejects.toMatchObject({ code: 'EMT_CLS_FAILED' })
    expect(server.channels()).toHaveLength(0)
  })

  it('a command without an answer fails after its timeout, and a channel closed by the gateway fails what waits (EMT_CLS_FAILED)', async () => {
    const server = await startServer()
    const next = server.nextChannel(10_000)
    const gw = await connectGateway(server)
    gw.write(preamble())
    const channel = await next
    const err = await channel.send({ cmd: 'status' }, 50).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(EmtError)
    expect((err as EmtError).code).toBe('EMT_CLS_FAILED')
    // The late answer to the timed-out command is dropped; the next command gets its own answer.
    gw.write('{"late":true}\n')
    const second = channel.send({ cmd: 'status' })
    gw.write('{"fresh":true}\n')
    expect(await second).toEqual({ fresh: true })
    const waiting = channel.send({ cmd: 'status' }, 10_000)
    gw.destroy()
    await expect(waiting).rejects.toMatchObject({ code: 'EMT_CLS_FAILED' })
    await channel.closed
  })

  it('refuses a gateway not on the list, a certificate outside the SM-PKI, a wrong or lying preamble', async () => {
    const server = await startServer(['smgw-0001'])
    // Refused during or right after the handshake: the client sees a failed connect or a closed socket.
    await refused(connectGateway(server, 'gateways/smgw-0002'))
    await refused(connectGateway(server, 'gateways/smgw-0001', foreign))
    const garbage = await connectGateway(server)
    garbage.write('GET / HTTP/1.1\n')
    await closedSocket(garbage)
    const lying = await connectGateway(server)
    lying.write(preamble('smgw-0002'))
    await closedSocket(lying)
    expect(server.channels()).toHaveLength(0)
    await expect(server.nextChannel(50)).rejects.toMatchObject({ code: 'EMT_CLS_FAILED' })
  })

  it('EMT_START_FAILED for a port in use', async () => {
    const a = await startServer()
    const emt = pki.participant('emt-1')
    const b = createClsServer({ host: '127.0.0.1', port: a.port()!, identity: { key: emt.tls.key, cert: emt.tls.cert }, trust: { roots: [pki.root] } })
    await expect(b.start()).rejects.toMatchObject({ code: 'EMT_START_FAILED' })
  })
})

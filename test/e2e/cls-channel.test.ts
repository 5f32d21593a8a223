// The CLS channel end to end (issue 8): a controllable device (`smgw sim cls-device`, its own
// process), the EMT's CLS endpoint (`smgw emt cls limit|serve`, its own process) and the gateway
// (createGateway from a configuration file, in this process — until the administrator's
// `cls-open` command is wired to it, the test calls `Gateway.cls().open()` where the admin
// service will). Demo SM-PKI from `smgw pki init`. Checked: the EMT limits the device to 4.2 kW
// through the channel and reads it back; the EMT closes the channel and the device keeps the
// limit for its grace time, then falls back to the §14a safe limit; a channel's timeout closes
// it; a device the EMT is not paired with, an unconfigured device and an endpoint with another
// EMT's certificate are refused; the consumer log holds opened/closed for each channel and
// `smgw log verify` accepts the store.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createGateway, openStore, readGatewayConfig, type Gateway, type GatewayError } from '@smgw/gateway'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTempDir } from '../../packages/gateway/src/testing.js'
import { createProcessTracker, runSmgw, startSmgwProcess, type SmgwProcess } from './harness/processes.js'

const GATEWAY_ID = 'smgw-0001'
const WAIT_MS = 30_000
const GRACE_S = 2

let tmp: { dir: string; remove: () => Promise<void> }
const { track, killAll } = createProcessTracker()
let gateway: Gateway | undefined

beforeAll(async () => {
  tmp = await createTempDir('smgw-e2e-cls-')
})
afterAll(async () => {
  await gateway?.close()
  await killAll()
  await tmp.remove()
})

/** `smgw emt cls …` of one EMT until its listening line; its port. */
async function emtCls(args: readonly string[], emt: 'emt-1' | 'emt-2'): Promise<{ process: SmgwProcess; port: number }> {
  const p = track(startSmgwProcess(['emt', 'cls', ...args, '--config', join(tmp.dir, `${emt}.json`), '--port', '0', '--gateway', GATEWAY_ID, '--json'], `emt cls ${args[0] ?? ''} (${emt})`))
  await p.waitFor(() => p.json.some((l) => l.event === 'listening'), WAIT_MS, 'listening line')
  return { process: p, port: p.json.find((l) => l.event === 'listening')!.port as number }
}

async function refusal(p: Promise<unknown>): Promise<GatewayError> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err, 'refused').toBeDefined()
  return err as GatewayError
}

describe('CLS channel: EMT → gateway → controllable device', () => {
  it('limits the device to 4.2 kW, falls back after the channel drops, closes on timeout, refuses what is not paired, and logs every channel', async () => {
    const init = await runSmgw(['pki', 'init', join(tmp.dir, 'pki'), '--gateways', '1', '--emts', '2'])
    expect(init.status, init.stderr).toBe(0)
    for (const emt of ['emt-1', 'emt-2']) {
      await writeFile(join(tmp.dir, `${emt}.json`), JSON.stringify({
        participantId: emt,
        tls: { certificate: `pki/${emt}/tls.cert.pem`, key: `pki/${emt}/tls.key.pem`, chain: ['pki/chain.pem'] },
        enc: { certificate: `pki/${emt}/enc.cert.pem`, key: { file: `pki/${emt}/enc.key.pem` } },
        pki: { roots: ['pki/root-ca/ca.cert.pem'], crls: ['pki/crl/root.crl.pem', 'pki/crl/sub-ca-gw.crl.pem'] },
        storage: { sqlite: `${emt}.db` },
      }))
    }

    // The device on the HAN and the supplier's CLS endpoint, started side by side.
    const device = track(startSmgwProcess(['sim', 'cls-device', '--port', '0', '--grace-s', String(GRACE_S), '--json']))
    const limitRun = emtCls(['limit', '4.2', '--wait-s', '60'], 'emt-1')
    await device.waitFor(() => device.json.some((l) => l.event === 'listening'), WAIT_MS, 'listening line')
    const devicePort = device.json.find((l) => l.event === 'listening')!.port as number
    const emt1 = await limitRun

    const gw = join(tmp.dir, 'gateway')
    await mkdir(gw)
    const pki = join('..', 'pki')
    const gwPki = join(pki, 'gateways', GATEWAY_ID)
    await writeFile(join(gw, 'gateway.json'), JSON.stringify({
      gatewayId: GATEWAY_ID,
      store: { path: 'gateway.db' },
      logs: { sigKey: join(gwPki, 'sig.key.pem'), sigCertificate: join(gwPki, 'sig.cert.pem') },
      meters: [],
      wan: {
        tls: { key: join(gwPki, 'tls.key.pem'), certificate: join(gwPki, 'tls.cert.pem'), chain: [join(pki, 'sub-ca-gw', 'ca.cert.pem')] },
        trust: { roots: [join(pki, 'root-ca', 'ca.cert.pem')], intermediates: [join(pki, 'sub-ca-emt', 'ca.cert.pem')] },
        recipients: [{ id: 'emt-1', url: 'https://127.0.0.1:1', encCertificate: join(pki, 'emt-1', 'enc.cert.pem') }],
      },
      cls: {
        devices: [
          { id: 'hp-1', consumer: 'c-1', address: { host: '127.0.0.1', port: devicePort } },
          { id: 'wb-1', consumer: 'c-2', address: { host: '127.0.0.1', port: devicePort } },
        ],
        emts: [
          { id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['hp-1'] },
          { id: 'emt-2', tlsSubject: { CN: 'EMT Demo 2' }, allowedDevices: ['wb-1'] },
        ],
        defaultTimeoutS: 60,
      },
    }))
    gateway = createGateway(await readGatewayConfig(join(gw, 'gateway.json')), { hanUi: false })
    await gateway.start()
    const cls = gateway.cls()!

    // 1. The supplier limits the heat pump to 4.2 kW and reads its state back, then closes the channel.
    const first = await cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${String(emt1.port)}`, timeoutS: 60 })
    const firstClosed = cls.closed(first.channelId)!
    expect(await emt1.process.exited).toEqual({ code: 0, signal: null })
    const answers = emt1.process.json.filter((l) => l.event === 'answer').map((l) => l.answer)
    expect(answers).toEqual([
      { ok: true, cmd: 'limit', mode: 'limited', limitKw: 4.2, powerKw: 4.2 },
      { ok: true, cmd: 'status', mode: 'limited', limitKw: 4.2, powerKw: 4.2 },
    ])
    expect(emt1.process.json.find((l) => l.event === 'channel')).toMatchObject({ channelId: first.channelId, gatewayId: GATEWAY_ID, deviceId: 'hp-1', timeoutS: 60 })
    expect(await firstClosed).toMatchObject({ reason: 'peer-closed', deviceId: 'hp-1', emtId: 'emt-1' })

    // 2. The channel is gone: the device keeps the limit for its grace time, then falls back to the safe limit.
    await device.waitFor(() => device.json.some((l) => l.event === 'grace'), WAIT_MS, 'grace event')
    const modes = () => device.json.filter((l) => l.event === 'mode')
    expect(modes()).toEqual([expect.objectContaining({ mode: 'limited', limitKw: 4.2, powerKw: 4.2, reason: 'command' })])
    await device.waitFor(() => modes().length === 2, WAIT_MS, 'fallback')
    expect(modes()[1]).toMatchObject({ mode: 'fallback', limitKw: 4.2, powerKw: 4.2, reason: 'fallback' })
    const graceAt = Date.parse(device.json.find((l) => l.event === 'grace')!.at as string)
    expect(Date.parse(modes()[1]!.at as string) - graceAt).toBeGreaterThanOrEqual(GRACE_S * 1000 - 50)

    // 3. A channel with a 2 s timeout is closed by the gateway, whatever the EMT does.
    const emt1Serve = await emtCls(['serve'], 'emt-1')
    const second = await cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${String(emt1Serve.port)}`, timeoutS: 2 })
    expect(cls.channels()).toHaveLength(1)
    expect(await cls.closed(second.channelId)).toMatchObject({ reason: 'timeout' })
    await emt1Serve.process.waitFor(() => emt1Serve.process.json.some((l) => l.event === 'closed' && l.channelId === second.channelId), WAIT_MS, 'closed event')

    // 4. Refusals: not paired, not configured, an endpoint holding another EMT's certificate.
    const endpoint = `https://127.0.0.1:${String(emt1Serve.port)}`
    const notPaired = await refusal(cls.open({ deviceId: 'wb-1', emtId: 'emt-1', endpoint }))
    expect([notPaired.code, notPaired.message]).toEqual(['CLS_FAILED', expect.stringContaining('not paired') as unknown])
    expect((await refusal(cls.open({ deviceId: 'pool-pump', emtId: 'emt-1', endpoint }))).code).toBe('CLS_FAILED')
    const emt2Serve = await emtCls(['serve'], 'emt-2')
    const impostor = await refusal(cls.open({ deviceId: 'hp-1', emtId: 'emt-1', endpoint: `https://127.0.0.1:${String(emt2Serve.port)}` }))
    expect([impostor.code, impostor.message]).toEqual(['CLS_FAILED', expect.stringContaining('EMT Demo 2') as unknown])
    expect(emt2Serve.process.json.some((l) => l.event === 'channel')).toBe(false)
    // The device saw exactly the two channels' connections, and no command after the limit and the status.
    expect(device.json.filter((l) => l.event === 'connected')).toHaveLength(2)
    expect(device.json.filter((l) => l.event === 'command')).toHaveLength(2)

    for (const p of [emt1Serve.process, emt2Serve.process, device]) p.signal('SIGTERM')
    for (const p of [emt1Serve.process, emt2Serve.process, device]) expect((await p.exited).code).toBe(0)
    await gateway.close('sigterm')
    gateway = undefined

    // 5. The consumer's log tells of both channels; the other consumer's log of none.
    const store = openStore(join(gw, 'gateway.db'), { now: () => new Date() }, { readonly: true })
    try {
      const entries = store.logRows.entries('consumer', 'c-1').map((r) => ({ type: String(r.type), fields: JSON.parse(String(r.fields)) as Record<string, unknown> }))
      expect(entries.filter((e) => e.type === 'cls-channel').map((e) => [e.fields.state, e.fields.reason, e.fields.device, e.fields.recipient])).toEqual([
        ['opened', 'requested', 'hp-1', 'emt-1'], ['closed', 'peer-closed', 'hp-1', 'emt-1'],
        ['opened', 'requested', 'hp-1', 'emt-1'], ['closed', 'timeout', 'hp-1', 'emt-1'],
      ])
      expect(store.logRows.entries('consumer', 'c-2')).toEqual([])
    } finally {
      store.close()
    }
    const verify = await runSmgw(['log', 'verify', join(gw, 'gateway.db')])
    expect(verify.status, verify.stdout + verify.stderr).toBe(0)
  }, 180_000)
})

// The CLS channel end to end (issue 8), demo SM-PKI from `smgw pki init`, a controllable device
// (`smgw sim cls-device`, its own process) and the EMT's CLS endpoint (`smgw emt cls limit|serve`,
// its own process).
//
// 1. The channel itself, the gateway in this process (createGateway from a configuration file
//    with a `cls` section; the test calls `Gateway.cls().open()`, as the admin service does for
//    `cls-open`): the EMT limits the device to 4.2 kW through the channel and reads it back; the
//    EMT closes the channel and the device keeps the limit for its grace time, then falls back to
//    the §14a safe limit; a channel's timeout closes it; a device the EMT is not paired with, an
//    unconfigured device and an endpoint with another EMT's certificate are refused; the consumer
//    log holds opened/closed for each channel and `smgw log verify` accepts the store.
// 2. As the operator runs it, every part a process: the GWA (`smgw gwa serve`) gives the gateway
//    (`smgw gateway`) its CLS section in a profile (`smgw gwa deploy`), the EMT's channel is asked
//    for through the GWA (`smgw gwa cls`: `cls-open` queued, the gateway woken), the gateway opens
//    it and the EMT limits the device; a profile with `cls: null` removes the section and the
//    next `cls-open` is refused (CLS_FAILED).
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createGateway, openStore, readGatewayConfig, type Gateway, type GatewayError } from '@smgw/gateway'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTempDir } from '../../packages/gateway/src/testing.js'
import { connectGwa, freeUdpPort, adminSection, writeGwaConfig } from './harness/admin.js'
import { createProcessTracker, runSmgw, startGatewayProcess, startSmgwProcess, type SmgwProcess } from './harness/processes.js'

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

/** `smgw emt cls …` of one EMT (configuration `<dir>/<emt>.json`) until its listening line; its port. */
async function emtCls(args: readonly string[], emt: 'emt-1' | 'emt-2', dir = tmp.dir): Promise<{ process: SmgwProcess; port: number }> {
  const p = track(startSmgwProcess(['emt', 'cls', ...args, '--config', join(dir, `${emt}.json`), '--port', '0', '--gateway', GATEWAY_ID, '--json'], `emt cls ${args[0] ?? ''} (${emt})`))
  await p.waitFor(() => p.json.some((l) => l.event === 'listening'), WAIT_MS, 'listening line')
  return { process: p, port: p.json.find((l) => l.event === 'listening')!.port as number }
}

/** `smgw pki init` in `<dir>/pki` and an EMT configuration `<dir>/<emt>.json` for each EMT. */
async function initPki(dir: string): Promise<void> {
  const init = await runSmgw(['pki', 'init', join(dir, 'pki'), '--gateways', '1', '--emts', '2'])
  expect(init.status, init.stderr).toBe(0)
  for (const emt of ['emt-1', 'emt-2']) {
    await writeFile(join(dir, `${emt}.json`), JSON.stringify({
      participantId: emt,
      tls: { certificate: `pki/${emt}/tls.cert.pem`, key: `pki/${emt}/tls.key.pem`, chain: ['pki/chain.pem'] },
      enc: { certificate: `pki/${emt}/enc.cert.pem`, key: { file: `pki/${emt}/enc.key.pem` } },
      pki: { roots: ['pki/root-ca/ca.cert.pem'], crls: ['pki/crl/root.crl.pem', 'pki/crl/sub-ca-gw.crl.pem'] },
      storage: { sqlite: `${emt}.db` },
    }))
  }
}

/**
 * The gateway's configuration without `cls` and `admin`, its folder beside `pki/`: the demo PKI's
 * operational TLS and SIG certificates, no meters, emt-1 as a recipient it never reaches.
 */
function gatewayBase(): Record<string, unknown> {
  const pki = join('..', 'pki')
  const gwPki = join(pki, 'gateways', GATEWAY_ID)
  return {
    gatewayId: GATEWAY_ID,
    store: { path: 'gateway.db' },
    logs: { sigKey: join(gwPki, 'sig.key.pem'), sigCertificate: join(gwPki, 'sig.cert.pem') },
    meters: [],
    wan: {
      tls: { key: join(gwPki, 'tls.key.pem'), certificate: join(gwPki, 'tls.cert.pem'), chain: [join(pki, 'sub-ca-gw', 'ca.cert.pem')] },
      trust: { roots: [join(pki, 'root-ca', 'ca.cert.pem')], intermediates: [join(pki, 'sub-ca-emt', 'ca.cert.pem')] },
      recipients: [{ id: 'emt-1', url: 'https://127.0.0.1:1', encCertificate: join(pki, 'emt-1', 'enc.cert.pem') }],
    },
  }
}

/** The consumer log of `consumer` in a stopped gateway's store: the cls-channel entries as [state, reason, device, recipient]. */
function clsEntries(storePath: string, consumer: string): unknown[][] {
  const store = openStore(storePath, { now: () => new Date() }, { readonly: true })
  try {
    return store.logRows.entries('consumer', consumer)
      .map((r) => ({ type: String(r.type), fields: JSON.parse(String(r.fields)) as Record<string, unknown> }))
      .filter((e) => e.type === 'cls-channel')
      .map((e) => [e.fields.state, e.fields.reason, e.fields.device, e.fields.recipient])
  } finally {
    store.close()
  }
}

async function refusal(p: Promise<unknown>): Promise<GatewayError> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err, 'refused').toBeDefined()
  return err as GatewayError
}

describe('CLS channel: EMT → gateway → controllable device', () => {
  it('limits the device to 4.2 kW, falls back after the channel drops, closes on timeout, refuses what is not paired, and logs every channel', async () => {
    await initPki(tmp.dir)

    // The device on the HAN and the supplier's CLS endpoint, started side by side.
    const device = track(startSmgwProcess(['sim', 'cls-device', '--port', '0', '--grace-s', String(GRACE_S), '--json']))
    const limitRun = emtCls(['limit', '4.2', '--wait-s', '60'], 'emt-1')
    await device.waitFor(() => device.json.some((l) => l.event === 'listening'), WAIT_MS, 'listening line')
    const devicePort = device.json.find((l) => l.event === 'listening')!.port as number
    const emt1 = await limitRun

    const gw = join(tmp.dir, 'gateway')
    await mkdir(gw)
    await writeFile(join(gw, 'gateway.json'), JSON.stringify({
      ...gatewayBase(),
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
    expect(clsEntries(join(gw, 'gateway.db'), 'c-1')).toEqual([
      ['opened', 'requested', 'hp-1', 'emt-1'], ['closed', 'peer-closed', 'hp-1', 'emt-1'],
      ['opened', 'requested', 'hp-1', 'emt-1'], ['closed', 'timeout', 'hp-1', 'emt-1'],
    ])
    expect(clsEntries(join(gw, 'gateway.db'), 'c-2')).toEqual([])
    const verify = await runSmgw(['log', 'verify', join(gw, 'gateway.db')])
    expect(verify.status, verify.stdout + verify.stderr).toBe(0)
  }, 180_000)

  it('as the operator runs it: the GWA gives the gateway process its CLS section in a profile, smgw gwa cls opens the channel, the EMT limits the device; cls: null removes it', async () => {
    const dir = join(tmp.dir, 'administered')
    await mkdir(dir)
    await initPki(dir)
    const token = 'e2e-cls-gwa-token-0123456789'
    const gwaConfig = await writeGwaConfig(join(dir, 'gwa'), { pkiFromDir: join('..', 'pki'), token })
    const device = track(startSmgwProcess(['sim', 'cls-device', '--port', '0', '--json'], 'cls-device (administered)'))
    const [gwa, emt1] = await Promise.all([
      connectGwa(track(startSmgwProcess(['gwa', 'serve', '--config', gwaConfig, '--json'], 'gwa serve')), { config: gwaConfig, token, waitMs: WAIT_MS }),
      emtCls(['limit', '4.2', '--wait-s', '120'], 'emt-1', dir),
      device.waitFor(() => device.json.some((l) => l.event === 'listening'), WAIT_MS, 'listening line'),
    ])
    const devicePort = device.json.find((l) => l.event === 'listening')!.port as number

    // The gateway: operational TLS/SIG certificates of the demo PKI, no CLS section, administered by the GWA (woken on a UDP port).
    const gw = join(dir, 'gateway')
    await mkdir(gw)
    const wakeUpPort = await freeUdpPort()
    await writeFile(join(gw, 'gateway.json'), JSON.stringify({
      ...gatewayBase(),
      admin: adminSection({ pkiFromDir: join('..', 'pki'), gatewayId: GATEWAY_ID, endpoint: `https://127.0.0.1:${String(gwa.adminPort)}`, wakeUpPort }),
    }))
    const gateway = track(startGatewayProcess(join(gw, 'gateway.json')))
    await gateway.waitFor(() => gateway.lines.some((l) => l.event === 'running'), WAIT_MS, 'running line')
    await gwa.op(['register', GATEWAY_ID, '--wake-up', `127.0.0.1:${String(wakeUpPort)}`])

    // 1. The operator's profile gives the gateway the heat pump on the HAN, paired with emt-1.
    const profile = join(dir, 'cls-profile.json')
    await writeFile(profile, JSON.stringify({ cls: {
      devices: [{ id: 'hp-1', consumer: 'c-1', address: { host: '127.0.0.1', port: devicePort } }],
      emts: [{ id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['hp-1'] }],
      defaultTimeoutS: 60,
    } }))
    await gwa.op(['deploy', GATEWAY_ID, '--profile', profile, '--wake'])
    await gwa.waitResult(GATEWAY_ID, 'profile', 1, WAIT_MS)
    await gwa.expectOk(GATEWAY_ID, 'profile', 0)

    // 2. emt-1 asks for its channel through the GWA; the gateway connects the device to emt-1's endpoint.
    const endpoint = `https://127.0.0.1:${String(emt1.port)}`
    await gwa.op(['cls', GATEWAY_ID, '--device', 'hp-1', '--emt', 'emt-1', '--endpoint', endpoint, '--timeout', '60'])
    await gwa.waitResult(GATEWAY_ID, 'cls-open', 1, WAIT_MS)
    await gwa.expectOk(GATEWAY_ID, 'cls-open', 0)
    expect(await emt1.process.exited).toEqual({ code: 0, signal: null })
    expect(emt1.process.json.filter((l) => l.event === 'answer').map((l) => l.answer)).toEqual([
      { ok: true, cmd: 'limit', mode: 'limited', limitKw: 4.2, powerKw: 4.2 },
      { ok: true, cmd: 'status', mode: 'limited', limitKw: 4.2, powerKw: 4.2 },
    ])
    expect(emt1.process.json.find((l) => l.event === 'channel')).toMatchObject({ gatewayId: GATEWAY_ID, deviceId: 'hp-1', timeoutS: 60 })
    expect(device.json.filter((l) => l.event === 'mode')[0]).toMatchObject({ mode: 'limited', limitKw: 4.2, reason: 'command' })

    // 3. A profile with cls: null removes the section: the next cls-open is refused, the device sees no connection.
    await writeFile(profile, JSON.stringify({ cls: null }))
    await gwa.op(['deploy', GATEWAY_ID, '--profile', profile, '--wake'])
    await gwa.waitResult(GATEWAY_ID, 'profile', 2, WAIT_MS)
    await gwa.expectOk(GATEWAY_ID, 'profile', 1)
    const emt1Serve = await emtCls(['serve'], 'emt-1', dir)
    await gwa.op(['cls', GATEWAY_ID, '--device', 'hp-1', '--emt', 'emt-1', '--endpoint', `https://127.0.0.1:${String(emt1Serve.port)}`])
    await gwa.waitResult(GATEWAY_ID, 'cls-open', 2, WAIT_MS)
    expect(gwa.results(GATEWAY_ID, 'cls-open')[1]).toMatchObject({ ok: false, code: 'CLS_FAILED' })
    expect(emt1Serve.process.json.some((l) => l.event === 'channel')).toBe(false)
    expect(device.json.filter((l) => l.event === 'connected')).toHaveLength(1)

    for (const p of [emt1Serve.process, device]) p.signal('SIGTERM')
    gateway.signal('SIGTERM')
    expect((await gateway.exited).code).toBe(0)
    // The consumer's log: the channel the GWA asked for, opened and closed by the EMT.
    expect(clsEntries(join(gw, 'gateway.db'), 'c-1')).toEqual([['opened', 'requested', 'hp-1', 'emt-1'], ['closed', 'peer-closed', 'hp-1', 'emt-1']])
    const verify = await runSmgw(['log', 'verify', join(gw, 'gateway.db')])
    expect(verify.status, verify.stdout + verify.stderr).toBe(0)
  }, 180_000)
})

import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { join } from 'node:path'
import {
  CURVES, createCmsDecryptor, createCmsEncryptor, createCmsSigner, createCmsVerifier, createKeyObjectAgreer, createKeyObjectSigner, decodeCertificate,
} from '@smgw/crypto'
import { decodeMeterData, VALUE_STATUS } from '@smgw/meter-data'
import { createDemoPki, type DemoPki } from '@smgw/pki'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isGatewayError } from '../errors.js'
import { createGatewayLogs } from '../log/writer.js'
import { verifyStoreLogs } from '../log/verify.js'
import { openStore } from '../store/store.js'
import type { ReadingInput, Store } from '../store/types.js'
import { createTempDir, createTestClock } from '../testing.js'
import { parseTariffProfiles } from './profile.js'
import { pseudonymOf } from './pseudonym.js'
import { createTafService, type TafServiceDeps } from './service.js'

// Real parts: an SQLite store in a temp dir, the hash-chained logs, CMS sign+encrypt with a
// demo SM-PKI (gateway SIG key, EMT ENC key on brainpoolP256r1), decrypt+verify on the EMT side.

interface Keys { readonly pki: DemoPki; readonly privateKeys: ReadonlyMap<string, KeyObject> }
let keys: Keys
let tmp: { dir: string; remove: () => Promise<void> }
const SECRET = new Uint8Array(32).fill(3)
const MP = 'DE0001234567890000000000000000001'
const IMPORT = '1-0:1.8.0*255'

beforeAll(async () => {
  tmp = await createTempDir('smgw-taf-')
  const privateKeys = new Map<string, KeyObject>()
  const pki = await createDemoPki({ gateways: 1, emts: 1 }, {
    now: new Date('2026-01-01T00:00:00Z'),
    serialNumber: () => { const b = randomBytes(16); b[0] = (b[0]! & 0x7f) | 0x01; return new Uint8Array(b) },
    newKey: (curve, label) => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: CURVES[curve].nodeName })
      privateKeys.set(label, privateKey)
      return Promise.resolve(createKeyObjectSigner(privateKey))
    },
  })
  keys = { pki, privateKeys }
})
afterAll(async () => { await tmp.remove() })

function cert(label: string): Uint8Array {
  for (const p of keys.pki.participants) for (const c of p.certificates) if (c.label === label) return c.certificate
  throw new Error(`no certificate ${label}`)
}
const GW_SIG = 'gateways/smgw-0001/sig'

/** The WAN helper's seal: CMS SignedData by the gateway SIG key inside EnvelopedData to the recipient's ENC certificate. */
function createSeal(now: () => Date): TafServiceDeps['seal'] {
  const signer = createCmsSigner({ signer: createKeyObjectSigner(keys.privateKeys.get(GW_SIG)!), certificate: decodeCertificate(cert(GW_SIG)) })
  const encryptors = new Map([['emt-1', createCmsEncryptor({ recipients: [decodeCertificate(cert('emt-1/enc'))] })]])
  return async (message, recipient) => {
    const encryptor = encryptors.get(recipient)
    if (encryptor === undefined) throw new Error(`no ENC certificate for ${recipient}`)
    return encryptor.encrypt(await signer.sign(message, { signingTime: now() }))
  }
}

/** The EMT side: decrypt with its ENC key, verify the gateway's signature, decode the message. */
async function open(payload: Uint8Array) {
  const decryptor = createCmsDecryptor({ agreer: createKeyObjectAgreer(keys.privateKeys.get('emt-1/enc')!), certificate: decodeCertificate(cert('emt-1/enc')) })
  const verified = await createCmsVerifier({ certificates: [cert(GW_SIG)] }).verify(await decryptor.decrypt(payload))
  expect(Buffer.from(verified.signerCertificate).equals(Buffer.from(cert(GW_SIG)))).toBe(true)
  return decodeMeterData(verified.content)
}

/** An SML meter register counting 1 (0.1 Wh) every 30 s, readings on the :00/:30 seconds. */
function readings(fromIso: string, toIso: string, meterId = 'ehz-1'): ReadingInput[] {
  const out: ReadingInput[] = []
  const from = Date.parse(fromIso)
  for (let t = from, i = 0n; t <= Date.parse(toIso); t += 30_000, i++) out.push({ meterId, quantity: IMPORT, time: new Date(t), mantissa: 5_000_000n + i, scaler: -1, unit: 'Wh', status: 0x182n })
  return out
}

function setup(name: string, start: string, profilesJson: unknown) {
  const clock = createTestClock(start)
  const store: Store = openStore(join(tmp.dir, `${name}.db`), { now: clock.now })
  const logs = createGatewayLogs({ store, signer: createKeyObjectSigner(keys.privateKeys.get(GW_SIG)!), certificate: cert(GW_SIG), now: clock.now })
  const timers: { ms: number; fn: () => void; cancelled: boolean }[] = []
  const setTimer = (ms: number, fn: () => void) => { const t = { ms, fn, cancelled: false }; timers.push(t); return () => { t.cancelled = true } }
  const profiles = parseTariffProfiles(profilesJson)
  let sealFails = false
  const realSeal = createSeal(clock.now)
  const seal: TafServiceDeps['seal'] = (m, r) => (sealFails ? Promise.reject(new Error('security module unavailable')) : realSeal(m, r))
  const make = (extra: Partial<TafServiceDeps> = {}) => createTafService(
    { gatewayId: 'smgw-0001', profiles, consumers: { 'ehz-1': 'c-1' } },
    { store, logs, now: clock.now, setTimer, seal, pseudonymSecret: SECRET, ...extra },
  )
  return { clock, store, timers, make, failSeal: (v: boolean) => { sealFails = v } }
}

const taf7Profile = {
  id: 'taf7-M1', useCase: 'taf7', meteringPoint: MP, channels: [{ meterId: 'ehz-1', obis: '1-0:1.8.0' }],
  recipients: [{ id: 'emt-1', role: 'supplier', pseudonymise: true }], schedule: { send: { dailyAt: '00:30' } },
}

describe('TAF service', () => {
  it('computes missed days in order after downtime, seals for the recipient only, commits values, outbox and watermark together', async () => {
    const t = setup('catch-up', '2026-03-28T12:00:00Z', [taf7Profile])
    t.store.appendReadings(readings('2026-03-27T22:50:00Z', '2026-03-30T00:00:00Z'))
    const taf = t.make()
    await taf.start()
    // New profile: starts with the legal day containing now (28 March), due 29 March 00:30.
    expect(t.store.tafWatermark('taf7-M1')?.toISOString()).toBe('2026-03-27T23:00:00.000Z')
    expect(t.store.readOutbox()).toHaveLength(0)
    const armed = t.timers.at(-1)!
    expect(armed.ms).toBe(60_000) // at most a minute; the due time is further away
    // Downtime: the next look at the clock is on 30 March 02:00 MESZ; 28 and 29 March are both due.
    t.clock.set('2026-03-30T00:00:00Z')
    const reports = await taf.runDue()
    expect(reports.map((r) => [r.period.start.toISOString(), r.period.end.toISOString(), r.intervalValues])).toEqual([
      ['2026-03-27T23:00:00.000Z', '2026-03-28T23:00:00.000Z', 96],
      ['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z', 92],
    ])
    expect(t.store.tafWatermark('taf7-M1')?.toISOString()).toBe('2026-03-29T22:00:00.000Z')
    const outbox = t.store.readOutbox()
    expect(outbox.map((o) => [o.recipient, o.purpose, o.messageId, o.state])).toEqual([
      ['emt-1', 'taf7', `smgw-0001:taf7-M1:emt-1:${Date.parse('2026-03-28T23:00:00Z') / 1000}`, 'pending'],
      ['emt-1', 'taf7', `smgw-0001:taf7-M1:emt-1:${Date.parse('2026-03-29T22:00:00Z') / 1000}`, 'pending'],
    ])
    const first = await open(outbox[0]!.payload)
    const second = await open(outbox[1]!.payload)
    expect(first).toMatchObject({ messageId: outbox[0]!.messageId, gatewayId: 'smgw-0001', recipient: 'emt-1', useCase: 'taf7', meteringPoint: { kind: 'pseudonym', id: pseudonymOf(SECRET, 'emt-1', MP) } })
    expect(first.series[0]!.values).toHaveLength(96)
    expect(second.series[0]!.values).toHaveLength(92)
    expect(second.series[0]!.values[0]).toEqual({ time: '2026-03-28T23:15:00.000Z', value: String(5_000_000 + (Date.parse('2026-03-28T23:15:00Z') - Date.parse('2026-03-27T22:50:00Z')) / 30_000), status: 0 })
    expect(second.series[0]!.values.every((v) => v.status === 0 && v.value !== null)).toBe(true)
    expect(new TextDecoder().decode(outbox[0]!.payload)).not.toContain(MP)
    expect(t.store.readIntervalValues({ meterId: 'ehz-1' })).toHaveLength(96 + 92)
    // Consumer log: one plain-words entry per computed day; the chains verify.
    const entries = t.store.logRows.entries('consumer', 'c-1').map((r) => JSON.parse(String(r.fields)) as { text: string })
    expect(entries.map((e) => e.text)).toEqual([
      '96 quarter-hour values of 28 Mar 2026 computed for TAF 7 (load profile); for emt-1 (supplier)',
      '92 quarter-hour values of 29 Mar 2026 computed for TAF 7 (load profile); for emt-1 (supplier)',
    ])
    expect(verifyStoreLogs(t.store, { certificate: cert(GW_SIG) }).ok).toBe(true)
    // Nothing more is due; a second pass does nothing.
    expect(await taf.runDue()).toEqual([])
    await taf.close()
    await taf.close()
    t.store.close()
  })

  it('commits nothing when sealing fails, and the period is computed again on the next pass', async () => {
    const t = setup('seal-fails', '2026-11-23T12:00:00Z', [taf7Profile])
    t.store.appendReadings(readings('2026-11-22T22:50:00Z', '2026-11-24T00:00:00Z'))
    const taf = t.make()
    await taf.start()
    t.failSeal(true)
    t.clock.set('2026-11-23T23:30:00Z')
    expect(await taf.runDue()).toEqual([])
    expect(t.store.tafWatermark('taf7-M1')?.toISOString()).toBe('2026-11-22T23:00:00.000Z')
    expect(t.store.readOutbox()).toHaveLength(0)
    expect(t.store.readIntervalValues({})).toHaveLength(0)
    t.failSeal(false)
    // The timer fires: the pass runs again.
    const timer = t.timers.filter((x) => !x.cancelled).at(-1)!
    timer.fn()
    await taf.runDue()
    expect(t.store.readOutbox().map((o) => o.messageId)).toEqual([`smgw-0001:taf7-M1:emt-1:${Date.parse('2026-11-23T23:00:00Z') / 1000}`])
    await taf.close()
    t.store.close()
  })

  it('carries gaps and invalid legal time through to the recipient; continues from the watermark after a restart', async () => {
    const t = setup('gaps', '2026-10-25T12:00:00Z', [taf7Profile])
    const all = readings('2026-10-24T21:50:00Z', '2026-10-26T00:00:00Z')
    t.store.appendReadings(all.filter((r) => r.time.getTime() < Date.parse('2026-10-25T10:00:00Z') || r.time.getTime() >= Date.parse('2026-10-25T11:00:00Z')))
    const invalidTime = [{ from: new Date('2026-10-25T15:00:00Z'), to: new Date('2026-10-25T15:30:00Z') }]
    let taf = t.make({ invalidTime: () => invalidTime })
    await taf.start()
    await taf.close()
    t.clock.set('2026-10-25T23:31:00Z')
    taf = t.make({ invalidTime: () => invalidTime })
    await taf.start()
    const [item] = t.store.readOutbox()
    const values = (await open(item!.payload)).series[0]!.values
    expect(values).toHaveLength(100)
    // 10:00 UTC too: the last reading before it (09:59:30) is older than the 27 s tolerance.
    expect(values.filter((v) => v.value === null).map((v) => v.time)).toEqual(['2026-10-25T10:00:00.000Z', '2026-10-25T10:15:00.000Z', '2026-10-25T10:30:00.000Z', '2026-10-25T10:45:00.000Z'])
    expect(values.filter((v) => v.value === null).every((v) => v.status === VALUE_STATUS.gap)).toBe(true)
    expect(values.filter((v) => (v.status & VALUE_STATUS.timeInvalid) !== 0)).toHaveLength(2)
    await taf.close()
    t.store.close()
  })

  it('answers TAF 9 requests of a named recipient only, and keeps the TAF 6 daily value set without sending it', async () => {
    const power: ReadingInput[] = []
    for (let s = 0; s <= 120; s += 2) power.push({ meterId: 'ehz-1', quantity: '1-0:16.7.0*255', time: new Date(Date.parse('2026-11-23T09:58:00Z') + s * 1000), mantissa: 1500n + BigInt(s), scaler: 0, unit: 'W' })
    const t = setup('requests', '2026-11-23T10:00:01Z', [
      { id: 'taf9-M1', useCase: 'taf9', meteringPoint: MP, channels: [{ meterId: 'ehz-1', obis: '1-0:16.7.0' }], recipients: [{ id: 'emt-1', role: 'supplier' }] },
      { id: 'taf6-M1', useCase: 'taf6', meteringPoint: MP, channels: [{ meterId: 'ehz-1', obis: '1-0:1.8.0' }], recipients: [{ id: 'emt-1', role: 'supplier' }] },
    ])
    t.store.appendReadings(power)
    t.store.appendReadings(readings('2026-11-23T22:50:00Z', '2026-11-23T23:10:00Z'))
    const taf = t.make()
    await taf.start()
    let caught: unknown
    try { await taf.request('taf9-M1', 'emt-2') } catch (err) { caught = err }
    expect(isGatewayError(caught) && caught.code).toBe('TAF_RECIPIENT_UNKNOWN')
    t.failSeal(true)
    caught = undefined
    try { await taf.request('taf9-M1', 'emt-1') } catch (err) { caught = err }
    expect(isGatewayError(caught) && caught.code).toBe('TAF_SEAL_FAILED')
    expect(t.store.readOutbox()).toHaveLength(0)
    t.failSeal(false)
    const { messageId, outboxId } = await taf.request('taf9-M1', 'emt-1')
    const [item] = t.store.readOutbox()
    expect(item!.id).toBe(outboxId)
    const msg = await open(item!.payload)
    expect(msg).toMatchObject({ messageId, useCase: 'taf9', meteringPoint: { kind: 'metering-point', id: MP } })
    expect(msg.series).toEqual([{ obis: '1-0:16.7.0*255', unit: 'W', scaler: 0, kind: 'actual', values: [{ time: '2026-11-23T10:00:01.000Z', value: '1620', status: 0 }] }]) // the reading of 10:00:00
    // TAF 6: at midnight the daily value is kept (86 400 s interval value), nothing goes to the outbox.
    t.clock.set('2026-11-23T23:00:05Z')
    await taf.runDue()
    expect(t.store.readIntervalValues({ meterId: 'ehz-1', quantity: IMPORT })).toMatchObject([{ periodSeconds: 86_400, end: new Date('2026-11-23T23:00:00Z'), status: 0 }])
    expect(t.store.readOutbox()).toHaveLength(1)
    expect(t.store.tafWatermark('taf9-M1')).toBeUndefined()
    // On request: the kept daily values and the reading now, in one series.
    t.clock.set('2026-11-23T23:05:00Z')
    const daily = await taf.request('taf6-M1', 'emt-1', { dailySince: new Date('2026-11-01T00:00:00Z') })
    const six = await open(t.store.readOutbox().find((o) => o.id === daily.outboxId)!.payload)
    const at = (iso: string) => String(5_000_000 + (Date.parse(iso) - Date.parse('2026-11-23T22:50:00Z')) / 30_000)
    expect(six).toMatchObject({ useCase: 'taf6', period: { start: '2026-11-23T23:00:00.000Z', end: '2026-11-23T23:05:00.000Z' } })
    expect(six.series[0]!.values).toEqual([
      { time: '2026-11-23T23:00:00.000Z', value: at('2026-11-23T23:00:00Z'), status: 0 },
      { time: '2026-11-23T23:05:00.000Z', value: at('2026-11-23T23:05:00Z'), status: 0 },
    ])
    const texts = t.store.logRows.entries('consumer', 'c-1').map((r) => (JSON.parse(String(r.fields)) as { text: string }).text)
    expect(texts).toEqual([
      'actual values of 23 Nov 2026 11:00 read on request for TAF 9; for emt-1 (supplier)',
      'daily meter reading of 23 Nov 2026 kept for on-demand reading (TAF 6)',
      'meter reading of 24 Nov 2026 00:05 and 1 kept daily values read on request for TAF 6; for emt-1 (supplier)',
    ])
    await taf.close()
    t.store.close()
  })

  it('sends TAF 10 grid-status values at their rate (catching up in order) with one consumer-log entry per day', async () => {
    const volts: ReadingInput[] = []
    for (let s = 0; s <= 600; s += 2) volts.push({ meterId: 'ehz-1', quantity: '1-0:32.7.0*255', time: new Date(Date.parse('2026-11-23T10:00:00Z') + s * 1000), mantissa: 2300n + BigInt(s % 7), scaler: -1, unit: 'V' })
    const t = setup('taf10', '2026-11-23T10:00:30Z', [{
      id: 'taf10-M1', useCase: 'taf10', meteringPoint: MP, channels: [{ meterId: 'ehz-1', obis: '1-0:32.7.0' }],
      recipients: [{ id: 'emt-1', role: 'grid-operator' }], schedule: { everySeconds: 60 },
    }])
    t.store.appendReadings(volts)
    const taf = t.make()
    await taf.start()
    expect(t.store.tafWatermark('taf10-M1')?.toISOString()).toBe('2026-11-23T10:00:00.000Z')
    expect(t.timers.at(-1)!.ms).toBe(30_000)
    t.clock.set('2026-11-23T10:03:10Z')
    const reports = await taf.runDue()
    expect(reports.map((r) => r.period.end.toISOString())).toEqual(['2026-11-23T10:01:00.000Z', '2026-11-23T10:02:00.000Z', '2026-11-23T10:03:00.000Z'])
    const messages = await Promise.all(t.store.readOutbox().map((o) => open(o.payload)))
    expect(messages.map((m) => [m.useCase, m.series[0]!.kind, m.series[0]!.values[0]!.time, m.series[0]!.values[0]!.value])).toEqual([
      ['taf10', 'actual', '2026-11-23T10:01:00.000Z', String(2300 + (60 % 7))],
      ['taf10', 'actual', '2026-11-23T10:02:00.000Z', String(2300 + (120 % 7))],
      ['taf10', 'actual', '2026-11-23T10:03:00.000Z', String(2300 + (180 % 7))],
    ])
    const entries = t.store.logRows.entries('consumer', 'c-1').map((r) => JSON.parse(String(r.fields)) as { text: string; purpose: string })
    expect(entries.map((e) => [e.purpose, e.text])).toEqual([['taf10', 'grid-status values (voltage, current, power) computed every 60 s on 23 Nov 2026 for TAF 10; for emt-1 (grid-operator)']])
    await taf.close()
    t.store.close()
  })

  it('TAF 10 after a long gap (downtime, a step of legal time) catches up only the last 5 minutes: no flood of stale grid values', async () => {
    const t = setup('taf10-stale', '2026-11-23T10:00:01Z', [{
      id: 'taf10-M2', useCase: 'taf10', meteringPoint: MP, channels: [{ meterId: 'ehz-1', obis: '1-0:32.7.0' }],
      recipients: [{ id: 'emt-1', role: 'grid-operator' }], schedule: { everySeconds: 2 },
    }])
    const taf = t.make()
    await taf.start()
    t.clock.set('2026-11-23T10:10:00.500Z') // ten minutes later: 300 periods of 2 s were due
    const reports = await taf.runDue()
    expect(reports.length).toBe(150) // 10:05:00–10:10:00
    expect(reports[0]!.period.start.toISOString()).toBe('2026-11-23T10:05:00.000Z')
    expect(reports.at(-1)!.period.end.toISOString()).toBe('2026-11-23T10:10:00.000Z')
    expect(t.store.readOutbox().length).toBe(150)
    expect(t.store.tafWatermark('taf10-M2')?.toISOString()).toBe('2026-11-23T10:10:00.000Z')
    await taf.close()
    t.store.close()
  })

  it('cuts TAF 2 registers over a billing month and TAF 1 at its end, reading only around the boundaries', async () => {
    const regs = {
      names: ['HT', 'NT'], default: 'NT',
      switching: [{ register: 'HT', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '06:00', to: '22:00' }],
    }
    const t = setup('taf2', '2026-11-10T12:00:00Z', [
      { id: 'taf2-M1', useCase: 'taf2', meteringPoint: MP, channels: [{ meterId: 'ehz-1', obis: '1-0:1.8.0' }], recipients: [{ id: 'emt-1', role: 'supplier' }], schedule: { billingPeriod: 'monthly' }, registers: regs },
      { id: 'taf1-M1', useCase: 'taf1', meteringPoint: MP, channels: [{ meterId: 'ehz-1', obis: '1-0:1.8.0' }], recipients: [{ id: 'emt-1', role: 'supplier' }], schedule: { billingPeriod: 'monthly' } },
    ])
    t.store.appendReadings(readings('2026-10-31T22:00:00Z', '2026-12-01T00:00:00Z'))
    const taf = t.make()
    await taf.start()
    t.clock.set('2026-12-01T00:00:00Z')
    const reports = await taf.runDue()
    expect(reports.map((r) => r.profile)).toEqual(['taf2-M1', 'taf1-M1'])
    const [taf2, taf1] = await Promise.all(t.store.readOutbox().map((o) => open(o.payload)))
    // 21 workdays in November 2026 with 16 HT hours each; 120 counts (0.1 Wh) per hour.
    expect(taf2!.series.map((s) => [s.register, s.values.length, s.values.at(-1)!.value])).toEqual([
      ['HT', 21, String(21 * 16 * 120)],
      ['NT', 22, String((30 * 24 - 21 * 16) * 120)],
    ])
    expect(taf1!.series[0]!.values).toEqual([{ time: '2026-11-30T23:00:00.000Z', value: String(5_000_000 + (Date.parse('2026-11-30T23:00:00Z') - Date.parse('2026-10-31T22:00:00Z')) / 30_000), status: 0 }])
    await taf.close()
    t.store.close()
  })
})

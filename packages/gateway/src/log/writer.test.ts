import { join } from 'node:path'
import { CURVES, verifyEcdsa } from '@smgw/crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../errors.js'
import { openStore } from '../store/store.js'
import { TEST_TIMES, createTempDir, createTestClock, createTestSig, type TestSig } from '../testing.js'
import { GENESIS, certificateRef, encodeHead, hashEntry } from './chain.js'
import { writeTestLogs } from './fixture.js'
import { legalDayOf } from './legal-day.js'
import { readLogChain, verifyStoreLogs } from './verify.js'
import { createGatewayLogs } from './writer.js'

let tmp: { dir: string; remove: () => Promise<void> }
let sig: TestSig
let other: TestSig

beforeAll(async () => {
  tmp = await createTempDir('smgw-log-')
  sig = await createTestSig()
  other = await createTestSig(new Date('2026-01-01T00:00:00Z'), 'Another PKI')
})
afterAll(async () => { await tmp.remove() })

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toBeInstanceOf(GatewayError)
  await expect(p).rejects.toMatchObject({ code })
}

describe('legalDayOf (Europe/Berlin)', () => {
  it('cuts days at local midnight in winter and summer time', () => {
    expect(legalDayOf(new Date('2026-03-28T22:59:59.999Z'))).toBe('2026-03-28')
    expect(legalDayOf(new Date('2026-03-28T23:00:00.000Z'))).toBe('2026-03-29')
    expect(legalDayOf(new Date('2026-03-29T21:59:59.999Z'))).toBe('2026-03-29')
    expect(legalDayOf(new Date('2026-03-29T22:00:00.000Z'))).toBe('2026-03-30')
    expect(legalDayOf(new Date('2026-10-25T22:59:59.999Z'))).toBe('2026-10-25') // 25-hour day
    expect(legalDayOf(new Date('2026-10-25T23:00:00.000Z'))).toBe('2026-10-26')
  })
})

describe('createGatewayLogs', () => {
  it('chains each entry to the previous one of the same (log, stream), from seq 1', async () => {
    const store = await writeTestLogs(join(tmp.dir, 'chain.db'), sig)
    const c1 = readLogChain(store, 'consumer', 'c-1')
    expect(c1.entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(c1.entries[0]?.prev).toBe(GENESIS)
    c1.entries.forEach((e, i) => {
      if (i > 0) expect(e.prev).toBe(c1.entries[i - 1]?.hash)
      expect(e.hash).toBe(hashEntry({ log: 'consumer', stream: 'c-1', seq: Number(e.seq), time: String(e.time), type: String(e.type), fields: JSON.parse(String(e.fields)), prev: String(e.prev) }))
      expect(e.time).toBe(TEST_TIMES[i])
    })
    expect(c1.entries[0]?.fields).toBe('{"dataClass":"load-profile","purpose":"taf7","recipient":"EMT-1","text":"96 quarter-hour values of day 0 sent to EMT-1, signed and encrypted"}')
    expect(store.logRows.streams()).toEqual([
      { log: 'calibration', stream: '' }, { log: 'consumer', stream: 'c-1' }, { log: 'consumer', stream: 'c-2' }, { log: 'system', stream: '' },
    ])
    store.close()
  })

  it('signs the head of each finished legal day with the SIG key when the next day begins', async () => {
    const store = await writeTestLogs(join(tmp.dir, 'heads.db'), sig)
    const c1 = readLogChain(store, 'consumer', 'c-1')
    expect(c1.heads.map((h) => [h.seq, h.day, h.kind])).toEqual([[3, '2026-03-28', 'day'], [6, '2026-03-29', 'day']])
    for (const h of c1.heads) {
      expect(h.hash).toBe(c1.entries[Number(h.seq) - 1]?.hash)
      expect(h.cert_ref).toBe(certificateRef(sig.certificate))
      const data = encodeHead({ log: 'consumer', stream: 'c-1', kind: 'day', day: String(h.day), seq: Number(h.seq), hash: String(h.hash), signedAt: String(h.signed_at) })
      expect(verifyEcdsa(sig.signer.publicKey, data, h.signature as Uint8Array, CURVES[sig.signer.curve].hash)).toBe(true)
    }
    expect([...c1.certificates.keys()]).toEqual([certificateRef(sig.certificate)])
    const result = verifyStoreLogs(store, { certificate: sig.certificate, roots: [sig.root], intermediates: [sig.subCa] })
    expect(result.ok).toBe(true)
    expect(result.chains.find((c) => c.stream === 'c-1')).toMatchObject({ ok: true, entries: 8, heads: 2, signedThrough: 6, trust: 'path' })
    expect(verifyStoreLogs(store).chains.every((c) => c.ok && c.trust !== 'path')).toBe(true)
    store.close()
  })

  it('sealFinishedDays signs idle chains once, never the running day', async () => {
    const clock = createTestClock('2026-05-01T08:00:00.000Z')
    const store = openStore(join(tmp.dir, 'seal.db'), { now: clock.now })
    const logs = createGatewayLogs({ store, signer: sig.signer, certificate: sig.certificate, now: clock.now })
    await logs.calibration({ type: 'restricted-state', fields: { entered: true } })
    await logs.consumer('c-9', { type: 'data-deleted', fields: { dataClass: 'taf6-daily', count: 3, text: 'three daily values older than 42 days deleted' } })
    expect(await logs.sealFinishedDays()).toBe(0)
    clock.set('2026-05-02T08:00:00.000Z')
    expect(await logs.sealFinishedDays()).toBe(2)
    expect(await logs.sealFinishedDays()).toBe(0)
    // The next entry does not sign the day again.
    await logs.calibration({ type: 'restricted-state', fields: { entered: false } })
    expect(readLogChain(store, 'calibration', '').heads).toHaveLength(1)
    expect(verifyStoreLogs(store, { certificate: sig.certificate }).chains.map((c) => c.ok && c.signedThrough)).toEqual([1, 1])
    store.close()
  })

  it('LOG_ENTRY_INVALID: nothing free-form or unknown reaches a log', async () => {
    const clock = createTestClock('2026-05-01T08:00:00.000Z')
    const store = openStore(join(tmp.dir, 'invalid.db'), { now: clock.now })
    const logs = createGatewayLogs({ store, signer: sig.signer, certificate: sig.certificate, now: clock.now })
    const bad: unknown[] = [
      { type: 'login-failed', fields: { interface: 'han', role: 'consumer', reason: 'bad-credentials', reading: '1234.5 kWh' } }, // extra field
      { type: 'login-failed', fields: { interface: 'han', role: 'consumer', reason: 'wrong PIN 1234' } }, // free text where an enum is
      { type: 'meter-key-rejected', fields: { transport: 'wmbus-udp', meterId: 'key=00112233445566778899aabbccddeeff!' } },
      { type: 'note', fields: { text: 'anything' } },
      { type: 'store-opened', fields: { schemaVersion: 1.5 } },
    ]
    for (const b of bad) await rejectsWith(logs.system(b as never), 'LOG_ENTRY_INVALID')
    await rejectsWith(logs.consumer('c 1', { type: 'data-viewed', fields: { interface: 'han', text: 'x' } }), 'LOG_ENTRY_INVALID')
    await rejectsWith(logs.consumer('c-1', { type: 'data-viewed', fields: { interface: 'han', text: 'two\nlines' } }), 'LOG_ENTRY_INVALID')
    await rejectsWith(logs.calibration({ type: 'meter-error', fields: { meterId: 'M1', status: -1 } }), 'LOG_ENTRY_INVALID')
    expect(store.logRows.streams()).toEqual([])
    // A refused entry does not stop the queue.
    expect((await logs.system({ type: 'wake-up', fields: { result: 'accepted' } })).seq).toBe(1)
    store.close()
  })

  it('LOG_SIGNING_FAILED: a certificate of another key, or a signer that fails', async () => {
    const clock = createTestClock('2026-05-01T08:00:00.000Z')
    const store = openStore(join(tmp.dir, 'signing.db'), { now: clock.now })
    expect(() => createGatewayLogs({ store, signer: sig.signer, certificate: other.certificate, now: clock.now })).toThrow(expect.objectContaining({ code: 'LOG_SIGNING_FAILED' }))
    expect(() => createGatewayLogs({ store, signer: sig.signer, certificate: new Uint8Array([0x30, 0x00]), now: clock.now })).toThrow(expect.objectContaining({ code: 'LOG_SIGNING_FAILED' }))
    const failing = { curve: sig.signer.curve, publicKey: sig.signer.publicKey, sign: () => Promise.reject(new Error('token removed')) }
    const logs = createGatewayLogs({ store, signer: failing, certificate: sig.certificate, now: clock.now })
    await logs.system({ type: 'gateway-started', fields: { firmware: '0.1.0' } })
    clock.set('2026-05-02T08:00:00.000Z')
    await rejectsWith(logs.system({ type: 'gateway-stopped', fields: { reason: 'sigterm' } }), 'LOG_SIGNING_FAILED')
    // Nothing was written for the failed append: the chain still ends at seq 1 and verifies.
    expect(readLogChain(store, 'system', '').entries).toHaveLength(1)
    expect(verifyStoreLogs(store).ok).toBe(true)
    store.close()
  })
})

import { join } from 'node:path'
import { AdminReport, type ReportedRequest } from '@smgw/admin-protocol'
import Database from 'better-sqlite3'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { GatewayError } from '../errors.js'
import { createGatewayLogs, type GatewayLogs } from '../log/writer.js'
import { readLogChain, verifyLog } from '../log/verify.js'
import { openStore } from '../store/store.js'
import type { Store } from '../store/types.js'
import { createTempDir, createTestClock, createTestSig, type TestSig } from '../testing.js'
import { createConsumerRequests, type AnswerRequestCommand, type ConsumerRequests } from './requests.js'

// The answer-request handler and the report's requests over a real store and the real signed
// consumer logs (one hash chain per consumer).

let sig: TestSig
let tmp: { dir: string; remove: () => Promise<void> }
let store: Store
let logs: GatewayLogs
let requests: ConsumerRequests
const clock = createTestClock('2026-11-30T10:00:00.000Z')

beforeAll(async () => { sig = await createTestSig() })
beforeEach(async () => {
  clock.set('2026-11-30T10:00:00.000Z')
  tmp = await createTempDir('smgw-admin-requests-')
  store = openStore(join(tmp.dir, 'gateway.db'), { now: clock.now })
  logs = createGatewayLogs({ store, signer: sig.signer, certificate: sig.certificate, now: clock.now })
  requests = createConsumerRequests({ store, consumerLog: (c, e) => logs.consumer(c, e), now: clock.now })
})
afterEach(async () => {
  store.close()
  await tmp.remove()
})

const consumerLog = (consumer: string) => store.logRows.entries('consumer', consumer).map((r) => ({ type: String(r.type), fields: JSON.parse(String(r.fields)) as Record<string, unknown> }))
const answer = (requestId: number, state: AnswerRequestCommand['state'], note: string): AnswerRequestCommand => ({
  format: 'smgw-admin-command/1', commandId: `cmd-${String(requestId)}-${state}`, gatewayId: 'smgw-0001', sequence: 1, issuedAt: clock.now().toISOString(), type: 'answer-request', requestId, state, note,
})
const add = (consumer: string, kind: 'deletion' | 'rectification' | 'objection' | 'tariff-choice', text: string) =>
  store.han.addRequest({ consumer, kind, state: 'received', text, at: clock.now() })

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError)
    return (err as GatewayError).code
  }
  return 'no error'
}

describe('answer-request', () => {
  it('each state with its note: stored, answered to the GWA, and written to that consumer\'s log only', async () => {
    const anna = add('anna', 'deletion', 'Please delete my 2025 load profile.')
    const ben = add('ben', 'objection', 'I object to TAF 7.')
    const tariff = add('anna', 'tariff-choice', 'dyn-1')
    await requests.forwarded(requests.reported())
    const benBefore = consumerLog('ben')

    clock.advance(60_000)
    expect(await requests.answer(answer(anna.id, 'in-progress', 'We ask your supplier which data it still needs.'))).toEqual({ requestId: anna.id, state: 'in-progress' })
    clock.advance(60_000)
    expect(await requests.answer(answer(anna.id, 'done', 'Deleted on 30 Nov 2026.'))).toEqual({ requestId: anna.id, state: 'done' })
    expect(await requests.answer(answer(tariff.id, 'rejected', ''))).toEqual({ requestId: tariff.id, state: 'rejected' })

    expect(store.han.requests('anna').map((r) => [r.id, r.state, r.note, r.answeredAt?.toISOString()])).toEqual([
      [tariff.id, 'rejected', '', '2026-11-30T10:02:00.000Z'],
      [anna.id, 'done', 'Deleted on 30 Nov 2026.', '2026-11-30T10:02:00.000Z'],
    ])
    const answered = consumerLog('anna').filter((e) => e.type === 'request-answered')
    expect(answered).toEqual([
      { type: 'request-answered', fields: { kind: 'deletion', request: anna.id, state: 'in-progress', note: 'We ask your supplier which data it still needs.', text: `The gateway administrator answered your deletion request (request ${String(anna.id)}): being worked on. Note: We ask your supplier which data it still needs.` } },
      { type: 'request-answered', fields: { kind: 'deletion', request: anna.id, state: 'done', note: 'Deleted on 30 Nov 2026.', text: `The gateway administrator answered your deletion request (request ${String(anna.id)}): done. Note: Deleted on 30 Nov 2026.` } },
      { type: 'request-answered', fields: { kind: 'tariff-choice', request: tariff.id, state: 'rejected', note: '', text: `The gateway administrator answered your tariff choice (request ${String(tariff.id)}): rejected.` } },
    ])
    // Another consumer's log gets nothing; their request is untouched.
    expect(consumerLog('ben')).toEqual(benBefore)
    expect(store.han.requests('ben')[0]).toMatchObject({ id: ben.id, state: 'pending', note: undefined, answeredAt: undefined })
    // anna's chain still verifies with the gateway's SIG certificate.
    expect(verifyLog(readLogChain(store, 'consumer', 'anna'), { certificate: sig.certificate }).ok).toBe(true)
  })

  it('an ID the gateway does not hold is REQUEST_UNKNOWN, a closed request REQUEST_CLOSED; neither writes a log entry', async () => {
    const r = add('anna', 'rectification', 'My address is wrong.')
    expect(await codeOf(requests.answer(answer(r.id + 1, 'done', 'x')))).toBe('REQUEST_UNKNOWN')
    await requests.answer(answer(r.id, 'done', 'Corrected.'))
    const before = consumerLog('anna')
    expect(await codeOf(requests.answer(answer(r.id, 'in-progress', 'again')))).toBe('REQUEST_CLOSED')
    expect(await codeOf(requests.answer(answer(r.id, 'rejected', 'again')))).toBe('REQUEST_CLOSED')
    expect(consumerLog('anna')).toEqual(before)
    expect(store.han.requests('anna')[0]).toMatchObject({ state: 'done', note: 'Corrected.' })
  })

  it('a consumer log that cannot be written fails the command with the log\'s code; the answer is kept', async () => {
    const r = add('anna', 'objection', 'No.')
    const failing = createConsumerRequests({ store, consumerLog: () => Promise.reject(new GatewayError('LOG_SIGNING_FAILED', 'module gone')), now: clock.now })
    await expect(failing.answer(answer(r.id, 'done', 'ok'))).rejects.toMatchObject({ code: 'LOG_SIGNING_FAILED', message: expect.stringMatching(/is done, but its consumer-log entry was not written/) as unknown })
    expect(store.han.requests('anna')[0]).toMatchObject({ state: 'done', note: 'ok' })
  })
})

describe('the report\'s requests and forwarding', () => {
  it('reports the open requests of every consumer oldest first, in the report\'s schema; forwarding turns received ones pending with an entry each', async () => {
    const a = add('anna', 'deletion', 'Delete it.')
    clock.advance(1000)
    const b = add('ben', 'tariff-choice', 'dyn-1')
    clock.advance(1000)
    const c = add('anna', 'objection', 'I object.')
    await requests.answer(answer(c.id, 'in-progress', 'checking'))
    const closed = add('ben', 'rectification', 'typo')
    await requests.answer(answer(closed.id, 'done', ''))

    const reported = requests.reported()
    expect(reported).toEqual([
      { id: a.id, consumer: 'anna', kind: 'deletion', state: 'received', createdAt: '2026-11-30T10:00:00.000Z', text: 'Delete it.' },
      { id: b.id, consumer: 'ben', kind: 'tariff-choice', state: 'received', createdAt: '2026-11-30T10:00:01.000Z', text: 'dyn-1' },
      { id: c.id, consumer: 'anna', kind: 'objection', state: 'in-progress', createdAt: '2026-11-30T10:00:02.000Z', text: 'I object.' },
    ])
    // The admin-protocol schema takes it as the report's `requests`.
    expect(AdminReport.shape.requests.safeParse(reported).success).toBe(true)

    clock.advance(60_000)
    await requests.forwarded(reported)
    expect(requests.reported().map((r) => [r.id, r.state])).toEqual([[a.id, 'pending'], [b.id, 'pending'], [c.id, 'in-progress']])
    expect(consumerLog('anna').filter((e) => e.type === 'request-forwarded')).toEqual([
      { type: 'request-forwarded', fields: { kind: 'deletion', request: a.id, text: `Your deletion request (request ${String(a.id)}) was passed on to the gateway administrator.` } },
    ])
    expect(consumerLog('ben').filter((e) => e.type === 'request-forwarded')).toEqual([
      { type: 'request-forwarded', fields: { kind: 'tariff-choice', request: b.id, text: `Your tariff choice (request ${String(b.id)}) was passed on to the gateway administrator.` } },
    ])
    // The next accepted report carries them as pending: nothing is forwarded or logged twice.
    const entries = store.logRows.entries('consumer', 'anna').length
    await requests.forwarded(requests.reported())
    expect(store.logRows.entries('consumer', 'anna')).toHaveLength(entries)
  })

  it('forwards only what the accepted report carried: a request made after the report was built stays received', async () => {
    const a = add('anna', 'deletion', 'first')
    const report = requests.reported()
    const late = add('anna', 'deletion', 'second')
    await requests.forwarded(report)
    expect(store.han.requests('anna').map((r) => [r.id, r.state])).toEqual([[late.id, 'received'], [a.id, 'pending']])
  })

  it('leaves a row the report\'s schema refuses (an edited store) out of the report and keeps it; the others are reported', () => {
    const good = add('anna', 'deletion', 'fine')
    const bad = add('anna', 'objection', 'fine too')
    const db = new Database(join(tmp.dir, 'gateway.db'))
    db.prepare('UPDATE han_requests SET consumer = ? WHERE id = ?').run('has space', bad.id)
    db.close()
    expect(requests.reported().map((r: ReportedRequest) => r.id)).toEqual([good.id])
    expect(store.han.openRequests().map((r) => r.id)).toEqual([good.id, bad.id])
  })
})

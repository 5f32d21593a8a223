// Test support: a store with the three logs written over three legal days.
import { openStore } from '../store/store.js'
import type { Store } from '../store/types.js'
import { TEST_TIMES, createTestClock, type TestSig } from '../testing.js'
import { createGatewayLogs } from './writer.js'

export async function writeTestLogs(path: string, sig: TestSig): Promise<Store> {
  const clock = createTestClock(TEST_TIMES[0])
  const store = openStore(path, { now: clock.now })
  const logs = createGatewayLogs({ store, signer: sig.signer, certificate: sig.certificate, now: clock.now })
  for (const [i, time] of TEST_TIMES.entries()) {
    clock.set(time)
    await logs.consumer('c-1', { type: 'data-sent', fields: { recipient: 'EMT-1', purpose: 'taf7', dataClass: 'load-profile', text: `96 quarter-hour values of day ${i} sent to EMT-1, signed and encrypted` } })
    if (i % 2 === 0) await logs.consumer('c-2', { type: 'data-viewed', fields: { interface: 'han', text: 'you looked at your readings' } })
    await logs.system({ type: 'login-failed', fields: { interface: 'han', role: 'consumer', reason: 'bad-credentials' } })
    if (i % 3 === 0) await logs.calibration({ type: 'time-synchronised', fields: { source: 'ntp', offsetMs: i * 10 - 20 } })
  }
  return store
}

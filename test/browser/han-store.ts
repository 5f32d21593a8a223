import { join } from 'node:path'
import { createGatewayLogs, createHanAccounts, openStore, type GatewayLogs, type Store } from '@smgw/gateway'
import { createTempDir, createTestSig } from '../../packages/gateway/src/testing.js'

// Test support: the gateway side the browser tests that run the HAN service without a whole
// gateway share — a real SQLite store with the hash-chained signed logs — and the config
// fields every browser test's gateway has.

/** Gateway smgw-0001 with its store at `path`; the log key files are never read (the tests hand the signer in). */
export function gatewayConfigBase(path: string): { gatewayId: string; store: { path: string }; logs: { sigKey: string; sigCertificate: string } } {
  return { gatewayId: 'smgw-0001', store: { path }, logs: { sigKey: 'unused.key', sigCertificate: 'unused.pem' } }
}

export interface HanTestStore {
  readonly path: string
  readonly store: Store
  readonly logs: GatewayLogs
  /** Closes the store and removes its folder. */
  close(): Promise<void>
}

/**
 * A real store in a fresh temporary folder, the gateway's signed logs on it (test SIG key,
 * clock `now`) and one HAN account: `alice`, consumer of c-a, with `password`.
 */
export async function openHanTestStore(prefix: string, now: () => Date, password: string): Promise<HanTestStore> {
  const tmp = await createTempDir(prefix)
  let store: Store | undefined
  const close = async (): Promise<void> => { store?.close(); await tmp.remove() }
  try {
    const sig = await createTestSig()
    const path = join(tmp.dir, 'gateway.db')
    const opened = openStore(path, { now })
    store = opened
    const logs = createGatewayLogs({ store: opened, signer: sig.signer, certificate: sig.certificate, now })
    await createHanAccounts(opened, new Set(['c-a'])).add({ username: 'alice', role: 'consumer', consumer: 'c-a', password })
    return { path, store: opened, logs, close }
  } catch (err) {
    // A half-made world leaves no open store or folder behind.
    await close()
    throw err
  }
}

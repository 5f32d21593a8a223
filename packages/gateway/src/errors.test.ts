import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseGatewayConfig, readMeterKeys } from './config.js'
import { GatewayError, isGatewayError, type GatewayErrorCode } from './errors.js'
import { createFileReplayAdapter } from './lmn/file/index.js'
import { decodeLogExport } from './log/export.js'
import { detectLogSource } from './log/source.js'
import { createGatewayLogs } from './log/writer.js'
import { MIGRATIONS } from './store/migrations.js'
import { openStore } from './store/store.js'
import { createTempDir, createTestSig, type TestSig } from './testing.js'

// One trigger per code; the Record type makes a new code without a test a compile error.
let tmp: { dir: string; remove: () => Promise<void> }
let sig: TestSig
const now = () => new Date('2026-05-01T08:00:00Z')
beforeAll(async () => {
  tmp = await createTempDir('smgw-errors-')
  sig = await createTestSig()
})
afterAll(async () => { await tmp.remove() })
const file = (name: string) => join(tmp.dir, name)

const triggers: Record<GatewayErrorCode, () => unknown> = {
  STORE_OPEN_FAILED: async () => {
    await writeFile(file('text.db'), 'x'.repeat(200))
    return openStore(file('text.db'), { now })
  },
  STORE_SCHEMA_TOO_NEW: () => {
    openStore(file('new.db'), { now }, { migrations: [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'next', sql: 'CREATE TABLE n (a)' }] }).close()
    return openStore(file('new.db'), { now })
  },
  STORE_MIGRATION_FAILED: () => openStore(file('mig.db'), { now }, { migrations: [{ version: 1, name: 'bad', sql: 'CREATE TABLE' }] }),
  STORE_CLOSED: () => {
    const s = openStore(file('closed.db'), { now })
    s.close()
    return s.countReadings()
  },
  STORE_READ_FAILED: () => {
    const s = openStore(file('edited.db'), { now })
    s.appendReadings([{ meterId: 'M', quantity: 'Q', time: now(), mantissa: 1n, scaler: 0 }])
    s.close()
    const db = new Database(file('edited.db'))
    db.exec("UPDATE readings SET mantissa = '1.5e3'")
    db.close()
    return openStore(file('edited.db'), { now }).readReadings()
  },
  STORE_WRITE_FAILED: () => {
    openStore(file('ro.db'), { now }).close()
    return openStore(file('ro.db'), { now }, { readonly: true }).saveConfigVersion({})
  },
  STORE_INPUT_INVALID: () => openStore(file('input.db'), { now }).appendReadings([{ meterId: 'M', quantity: 'Q', time: now(), mantissa: 1n, scaler: 999 }]),
  LOG_ENTRY_INVALID: () => createGatewayLogs({ store: openStore(file('entry.db'), { now }), signer: sig.signer, certificate: sig.certificate, now })
    .system({ type: 'gateway-started', fields: { firmware: 'v1 with a reading of 1234 kWh' } }),
  LOG_SIGNING_FAILED: () => createGatewayLogs({ store: openStore(file('sign.db'), { now }), signer: sig.signer, certificate: sig.root, now }),
  LOG_EXPORT_MALFORMED: () => decodeLogExport('{"certificates":[]}\n'),
  LOG_SOURCE_UNKNOWN: () => detectLogSource(new TextEncoder().encode('%PDF-1.7')),
  CONFIG_INVALID: () => parseGatewayConfig({ gatewayId: 'gw-1', store: { path: 'x.db' }, logs: { sigKey: 'k', sigCertificate: 'c' }, meters: [{ id: 'm', kind: 'sml' }] }),
  KEYS_INVALID: async () => {
    await writeFile(file('keys-bad.json'), '{"k1":"not hex"}', { mode: 0o600 })
    return readMeterKeys(file('keys-bad.json'))
  },
  KEYS_PERMISSIONS: async () => {
    await writeFile(file('keys-open.json'), '{}', { mode: 0o644 })
    await chmod(file('keys-open.json'), 0o644)
    return readMeterKeys(file('keys-open.json'))
  },
  LMN_OPEN_FAILED: () => createFileReplayAdapter({ kind: 'sml', path: file('no-such-capture.bin'), meterId: 'm' }, { readings: () => undefined, event: () => undefined }, { now, setTimer: () => () => undefined }).start(),
}

describe('GatewayError codes', () => {
  for (const [code, trigger] of Object.entries(triggers)) {
    it(code, async () => {
      let caught: unknown
      try {
        await trigger()
      } catch (err) {
        caught = err
      }
      expect(isGatewayError(caught)).toBe(true)
      expect(caught).toBeInstanceOf(GatewayError)
      expect((caught as GatewayError).code).toBe(code)
      expect((caught as GatewayError).name).toBe('GatewayError')
    })
  }
})

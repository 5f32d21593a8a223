import { createSocket } from 'node:dgram'
import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseGatewayConfig, readMeterKeys } from './config.js'
import { GatewayError, isGatewayError, type GatewayErrorCode } from './errors.js'
import { createFileReplayAdapter } from './lmn/file/index.js'
import { openMeterKeyModule } from './lmn/wmbus/keys.js'
import { decodeLogExport } from './log/export.js'
import { detectLogSource } from './log/source.js'
import { createGatewayLogs } from './log/writer.js'
import { MIGRATIONS } from './store/migrations.js'
import { openStore } from './store/store.js'
import { querySntp } from './time/ntp-client.js'
import { decodeSntpResponse } from './time/sntp.js'
import { aggregateSeries } from './taf/aggregate.js'
import { parseTariffProfiles } from './taf/profile.js'
import { pseudonymOf } from './taf/pseudonym.js'
import { createTafService } from './taf/service.js'
import { createMessageSealer } from './wan/seal.js'
import { createHanAccounts } from './han/accounts.js'
import { HanConfig } from './han/config.js'
import { loadHanTls } from './han/tls.js'
import { assertAuthorized } from './admin/access.js'
import { WakeUpConfig, createWakeUpListener } from './admin/wakeup.js'
import { verifyAdminCommand } from './admin/session.js'
import { createClsService } from './cls/service.js'
import { createGateway } from './service.js'
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
  KEY_MODULE_FAILED: () => openMeterKeyModule({ securityModule: { software: { dir: file('sm'), passphraseEnv: 'SMGW_UNSET_PASSPHRASE' } } }, {}),
  LMN_OPEN_FAILED: () => createFileReplayAdapter({ kind: 'sml', path: file('no-such-capture.bin'), meterId: 'm' }, { readings: () => undefined, event: () => undefined }, { now, setTimer: () => () => undefined }).start(),
  TIME_RESPONSE_INVALID: () => decodeSntpResponse(new Uint8Array(47), { seconds: 1, fraction: 0 }),
  TIME_KISS_OF_DEATH: () => decodeSntpResponse(sntpReply({ stratum: 0 }), { seconds: 1, fraction: 0 }),
  TIME_SERVER_UNSYNCHRONISED: () => decodeSntpResponse(sntpReply({ b0: 0xe4 }), { seconds: 1, fraction: 0 }),
  TIME_ORIGINATE_MISMATCH: () => decodeSntpResponse(sntpReply({}), { seconds: 2, fraction: 0 }),
  TIME_QUERY_TIMEOUT: async () => {
    const silent = createSocket('udp4')
    await new Promise<void>((resolve) => { silent.bind(0, '127.0.0.1', resolve) })
    try {
      // The timeout fires on the next turn: the silent peer never answers.
      return await querySntp({ host: '127.0.0.1', port: silent.address().port }, { retries: 0 }, { systemNow: now, setTimer: (_ms, fn) => { const t = setImmediate(fn); return () => { clearImmediate(t) } } })
    } finally {
      silent.close()
    }
  },
  TIME_QUERY_FAILED: () => querySntp({ host: '127.0.0.1', port: 123 }, { signal: AbortSignal.abort() }, { systemNow: now }),
  WAN_CONFIG_INVALID: () => createMessageSealer({ signer: sig.signer, sigCertificate: sig.certificate, recipients: [] }, { now }),
  WAN_RECIPIENT_UNKNOWN: () => createMessageSealer({ signer: sig.signer, sigCertificate: sig.certificate, recipients: [{ id: 'emt-1', encCertificate: sig.certificate }] }, { now })
    .seal(new Uint8Array(1), 'emt-2'),
  WAN_SEAL_FAILED: () => createMessageSealer({
    signer: { ...sig.signer, sign: () => Promise.reject(new Error('the security module is gone')) }, sigCertificate: sig.certificate, recipients: [{ id: 'emt-1', encCertificate: sig.certificate }],
  }, { now }).seal(new Uint8Array(1), 'emt-1'),
  TAF_PROFILE_INVALID: () => parseTariffProfiles('[{'),
  TAF_AGGREGATION_TOO_FEW: () => aggregateSeries([], 5),
  TAF_INPUT_INVALID: () => pseudonymOf(new Uint8Array(8), 'emt-1', 'mp-1'),
  TAF_RECIPIENT_UNKNOWN: () => tafOnRequest(() => Promise.resolve(new Uint8Array(1))).request('taf9-M1', 'emt-2'),
  TAF_SEAL_FAILED: () => tafOnRequest(() => Promise.reject(new Error('no ENC certificate'))).request('taf9-M1', 'emt-1'),
  HAN_ACCOUNT_INVALID: () => createHanAccounts(openStore(file('han.db'), { now }), new Set(['c-1'])).add({ username: 'bad name', role: 'consumer', consumer: 'c-1', password: 'long enough' }),
  HAN_START_FAILED: () => loadHanTls(HanConfig.parse({ tls: { key: file('missing.key'), certificate: file('missing.pem') } }), file('x.db'), 'smgw-0001', now()),
  FORBIDDEN: () => { assertAuthorized('gwa', 'readings.read.own') },
  ADMIN_REFUSED: () => verifyAdminCommand(new TextEncoder().encode('not a signed command'), {
    gatewayId: 'smgw-0001', verifier: { open: () => Promise.reject(new Error('not reached: refused before any signature check')) },
    at: now(), lastSequence: 0, commandMaxAgeS: 604_800, freshnessS: 300,
  }),
  ADMIN_START_FAILED: async () => {
    const taken = createSocket('udp4')
    await new Promise<void>((resolve) => { taken.bind(0, '127.0.0.1', resolve) })
    try {
      await createWakeUpListener(WakeUpConfig.parse({ host: '127.0.0.1', port: taken.address().port }), {
        gatewayId: 'smgw-0001', verifier: { open: () => Promise.reject(new Error('not reached')) }, now,
        lastCounter: () => 0, acceptCounter: () => undefined, log: () => undefined, onWakeUp: () => undefined,
      }).start()
    } finally {
      taken.close()
    }
  },
  // A gateway that is not running has nothing to reconfigure.
  ADMIN_APPLY_FAILED: () => createGateway(parseGatewayConfig({ gatewayId: 'smgw-0001', store: { path: file('apply.db') }, logs: { sigKey: 'k', sigCertificate: 'c' }, meters: [] }))
    .reconfigure(parseGatewayConfig({ gatewayId: 'smgw-0001', store: { path: file('apply.db') }, logs: { sigKey: 'k', sigCertificate: 'c' }, meters: [] })),
  CLS_FAILED: () => createClsService({
    devices: [{ id: 'hp-1', consumer: 'c-1', address: { host: '127.0.0.1', port: 1 } }],
    emts: [{ id: 'emt-1', tlsSubject: { CN: 'EMT Demo 1' }, allowedDevices: ['hp-1'] }],
  }, { gatewayId: 'smgw-0001', tls: () => Promise.reject(new Error('not reached: refused before any connection')), logs: { consumer: () => Promise.reject(new Error('not reached')) } })
    .open({ deviceId: 'wallbox-9', emtId: 'emt-1', endpoint: 'https://127.0.0.1:1' }),
  REQUEST_UNKNOWN: () => openStore(file('req-unknown.db'), { now }).han.answerRequest(7, { state: 'done', note: '', at: now() }),
  REQUEST_CLOSED: () => {
    const s = openStore(file('req-closed.db'), { now })
    const r = s.han.addRequest({ consumer: 'c-1', kind: 'deletion', state: 'received', text: 'please delete', at: now() })
    s.han.answerRequest(r.id, { state: 'rejected', note: 'contract data', at: now() })
    return s.han.answerRequest(r.id, { state: 'done', note: '', at: now() })
  },
}

/** A TAF 9 (on request) stage over a fresh store; `seal` as given. */
function tafOnRequest(seal: (bytes: Uint8Array, recipient: string) => Promise<Uint8Array>): ReturnType<typeof createTafService> {
  const profiles = parseTariffProfiles([{ id: 'taf9-M1', useCase: 'taf9', meteringPoint: 'mp-1', channels: [{ meterId: 'ehz-1', obis: '1-0:16.7.0' }], recipients: [{ id: 'emt-1', role: 'supplier' }] }])
  return createTafService({ gatewayId: 'smgw-0001', profiles }, { store: openStore(file(`taf-${String(Math.random()).slice(2)}.db`), { now }), seal, now })
}

/** A server reply to the originate timestamp 1.0 (RFC 5905 §7.3 offsets). */
function sntpReply(o: { b0?: number; stratum?: number }): Uint8Array {
  const b = new Uint8Array(48)
  const v = new DataView(b.buffer)
  b[0] = o.b0 ?? 0x24
  b[1] = o.stratum ?? 1
  v.setUint32(24, 1) // originate
  v.setUint32(32, 2) // receive
  v.setUint32(40, 2) // transmit
  return b
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

// Meter keys in a security module: imported from a key file, looked up by key ID, and used
// by the wM-Bus reader for mode 5 and mode 7 telegrams — software store and a real SoftHSM2 token.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { findPkcs11Library, type SecurityModule } from '@smgw/crypto'
import { createWmbusMeterFromConfig, parseWmbusMeterConfig } from '@smgw/sim'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { parseGatewayConfig, PSEUDONYM_KEY_ID, readGatewayConfig, type MeterKeysConfig } from '../../config.js'
import { GatewayError, type GatewayErrorCode } from '../../errors.js'
import { readLogChain } from '../../log/verify.js'
import { createGateway } from '../../service.js'
import { openStore } from '../../store/store.js'
import { createTempDir, createTestSig } from '../../testing.js'
import type { ReadingInput } from '../../store/types.js'
import type { LmnEvent, LmnSink } from '../types.js'
import { checkModuleMeterKeys, importMeterKeys, openMeterKeyModule, resolveModuleMeterKeys } from './keys.js'
import { createWmbusReader } from './reader.js'

const exec = promisify(execFile)
const KEY_GAS = '000102030405060708090a0b0c0d0e0f'
const KEY_HEAT = 'f0e0d0c0b0a090807060504030201000'
const hexKey = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const at = new Date(Date.UTC(2026, 0, 15, 12, 0, 0))

function configWith(meterKeys: MeterKeysConfig) {
  return parseGatewayConfig({
    gatewayId: 'gw-1', store: { path: 'x.db' }, logs: { sigKey: 'k', sigCertificate: 'c' },
    meters: [
      { id: 'gas-1', kind: 'wmbus', mbusId: '11111111', keyId: 'gas.key', transport: { udp: { port: 0 } }, intervalS: 32 },
      { id: 'heat-1', kind: 'wmbus', mbusId: '22222222', keyId: 'heat.key', transport: { udp: { port: 0 } }, intervalS: 32 },
      { id: 'water-1', kind: 'wmbus', mbusId: '33333333', keyId: 'water.key', transport: { udp: { port: 0 } }, intervalS: 32 },
    ],
    meterKeys,
  })
}

function collect(): LmnSink & { readings_: ReadingInput[][]; events: LmnEvent[] } {
  const readings_: ReadingInput[][] = []
  const events: LmnEvent[] = []
  return { readings_, events, readings: (_id, b) => { readings_.push([...b]) }, event: (e) => { events.push(e) } }
}

async function rejectsWith(p: Promise<unknown>, code: GatewayErrorCode): Promise<void> {
  await expect(p).rejects.toSatisfy((err: unknown) => err instanceof GatewayError && err.code === code)
}

/** Imports the key file's keys, then decodes a mode 7 gas telegram (ELL + AFL, KDF-A) and a mode 5 heat telegram through the reader. */
async function decodesWithModule(sm: SecurityModule, meterKeys: MeterKeysConfig): Promise<void> {
  const config = configWith(meterKeys)
  await rejectsWith(checkModuleMeterKeys(sm, config), 'KEYS_INVALID')
  const imported = await importMeterKeys(sm, new Map([['gas.key', hexKey(KEY_GAS)], ['heat.key', hexKey(KEY_HEAT)], [PSEUDONYM_KEY_ID, hexKey(KEY_GAS)]]))
  expect(imported).toEqual(['gas.key', 'heat.key'])
  expect((await sm.listSecretKeys()).map((k) => k.label)).toEqual(['gas.key', 'heat.key'])
  await rejectsWith(importMeterKeys(sm, new Map([['gas.key', hexKey(KEY_HEAT)]])), 'KEYS_INVALID')
  const { keys, missing } = await resolveModuleMeterKeys(sm, config)
  expect(missing).toEqual(['water.key'])
  expect([...keys.keys()]).toEqual(['gas.key', 'heat.key'])
  const sink = collect()
  const reader = createWmbusReader([
    { id: 'gas-1', mbusId: '11111111', key: keys.get('gas.key')! },
    { id: 'heat-1', mbusId: '22222222', key: keys.get('heat.key')! },
    { id: 'water-1', mbusId: '33333333' },
  ], 'wmbus-udp', sink, () => at)
  const gas = createWmbusMeterFromConfig(parseWmbusMeterConfig({ kind: 'gas', mode: 7, key: KEY_GAS, id: '11111111', seed: 1 })).next(at)
  const heat = createWmbusMeterFromConfig(parseWmbusMeterConfig({ kind: 'heat', mode: 5, key: KEY_HEAT, id: '22222222', seed: 2 })).next(at)
  // The heat meter sends under the gas key: the module's heat key does not fit.
  const heatWrong = createWmbusMeterFromConfig(parseWmbusMeterConfig({ kind: 'heat', mode: 5, key: KEY_GAS, id: '22222222', seed: 3 })).next(at)
  const water = createWmbusMeterFromConfig(parseWmbusMeterConfig({ kind: 'water', mode: 5, key: KEY_GAS, id: '33333333', seed: 4 })).next(at)
  for (const t of [gas, heat, heatWrong, water]) reader.telegram(t.bytes)
  expect(sink.readings_).toHaveLength(2)
  const volume = sink.readings_[0]!.find((r) => r.quantity === 'volume')
  expect(volume).toBeDefined()
  expect(Number(volume!.mantissa) * 10 ** volume!.scaler).toBe(gas.values.volumeM3)
  expect(sink.readings_[1]!.length).toBeGreaterThan(0)
  expect(sink.events).toEqual([
    { kind: 'key-rejected', transport: 'wmbus-udp', meterId: 'heat-1', code: 'DECRYPT_FAILED' },
    { kind: 'key-rejected', transport: 'wmbus-udp', meterId: 'water-1', code: 'MISSING_KEY' },
  ])
  // A key the module can no longer use (closed) is a rejected key, not garbage.
  await sm.close()
  reader.telegram(gas.bytes)
  expect(sink.events.at(-1)).toEqual({ kind: 'key-rejected', transport: 'wmbus-udp', meterId: 'gas-1', code: 'KEY_OPERATION_FAILED' })
}

let tmp: { dir: string; remove: () => Promise<void> }
beforeAll(async () => { tmp = await createTempDir('smgw-meterkeys-') })
afterAll(async () => { await tmp.remove() })

describe('meter keys in the software security module', () => {
  it('config: passphrase from an environment variable or a 0600 file, paths from the configuration folder', async () => {
    await writeFile(join(tmp.dir, 'gw.json'), JSON.stringify({
      gatewayId: 'gw-1', store: { path: 'x.db' }, logs: { sigKey: 'k', sigCertificate: 'c' }, meters: [],
      meterKeys: { securityModule: { software: { dir: 'sm', passphraseFile: 'pass' } } },
    }))
    expect((await readGatewayConfig(join(tmp.dir, 'gw.json'))).meterKeys).toEqual({ securityModule: { software: { dir: join(tmp.dir, 'sm'), passphraseFile: join(tmp.dir, 'pass') } } })
    // Never the passphrase itself, and not both sources.
    expect(() => configWith({ securityModule: { software: { dir: 'sm', passphrase: 'x' } } } as unknown as MeterKeysConfig)).toThrow(GatewayError)
    expect(() => configWith({ securityModule: { software: { dir: 'sm', passphraseEnv: 'A', passphraseFile: 'p' } } })).toThrow(GatewayError)
    await writeFile(join(tmp.dir, 'open-pass'), 'pw\n', { mode: 0o644 })
    await rejectsWith(openMeterKeyModule({ securityModule: { software: { dir: join(tmp.dir, 'x'), passphraseFile: join(tmp.dir, 'open-pass') } } }, {}), 'KEYS_PERMISSIONS')
    await rejectsWith(openMeterKeyModule({ securityModule: { software: { dir: join(tmp.dir, 'x'), passphraseEnv: 'SMGW_NOT_SET' } } }, {}), 'KEY_MODULE_FAILED')
  })

  it('decodes mode 5 and mode 7 telegrams with keys held by the module; wrong and missing keys are rejected keys', async () => {
    await writeFile(join(tmp.dir, 'pass'), 'a module passphrase\n', { mode: 0o600 })
    const meterKeys: MeterKeysConfig = { securityModule: { software: { dir: join(tmp.dir, 'sm'), passphraseFile: join(tmp.dir, 'pass'), scryptLogN: 10 } } }
    await decodesWithModule(await openMeterKeyModule(meterKeys, {}), meterKeys)
    const sm = await openMeterKeyModule(meterKeys, {})
    try {
      await gatewayDecodes(sm, 'software')
    } finally {
      await sm.close()
    }
    // A wrong passphrase does not open it.
    await rejectsWith(openMeterKeyModule({ securityModule: { software: { dir: join(tmp.dir, 'sm'), passphraseEnv: 'PW', scryptLogN: 10 } } }, { PW: 'wrong' }), 'KEY_MODULE_FAILED')
  })
})

/** The whole gateway (createGateway with GatewayDeps.keyModule) on a replayed capture: mode 7 and mode 5 stored, a wrong key in the calibration log. */
async function gatewayDecodes(sm: SecurityModule, name: string): Promise<void> {
  const frame = (kind: 'gas' | 'heat', mode: 5 | 7, key: string, id: string, seed: number) =>
    createWmbusMeterFromConfig(parseWmbusMeterConfig({ kind, mode, key, id, seed, crc: 'none' })).next(at)
  const gas = frame('gas', 7, KEY_GAS, '11111111', 1)
  const heat = frame('heat', 5, KEY_HEAT, '22222222', 2)
  const wrong = frame('heat', 5, KEY_GAS, '22222222', 3)
  const capture = join(tmp.dir, `${name}.wmbus`)
  await writeFile(capture, Buffer.concat([gas.bytes, heat.bytes, wrong.bytes]))
  const config = parseGatewayConfig({
    gatewayId: 'smgw-0001', store: { path: join(tmp.dir, `${name}.db`) }, logs: { sigKey: 'unused', sigCertificate: 'unused' },
    batch: { maxReadings: 100, maxDelayMs: 0 },
    meters: [
      { id: 'gas-1', kind: 'wmbus', mbusId: '11111111', keyId: 'gas.key', transport: { file: capture }, intervalS: 32 },
      { id: 'heat-1', kind: 'wmbus', mbusId: '22222222', keyId: 'heat.key', transport: { file: capture }, intervalS: 32 },
    ],
  })
  const sig = await createTestSig()
  const gw = createGateway(config, { sig: { signer: sig.signer, certificate: sig.certificate }, keyModule: sm, now: () => at, setTimer: () => () => undefined })
  try {
    await gw.start()
    await vi.waitFor(() => {
      const st = gw.status()
      expect(st.meters.find((m) => m.id === 'heat-1')?.keyRejected).toBe(1)
      expect(st.meters.every((m) => m.stored > 0)).toBe(true)
    }, { timeout: 5000, interval: 10 })
  } finally {
    await gw.close()
  }
  const store = openStore(config.store.path, { now: () => at }, { readonly: true })
  try {
    const volume = store.readReadings().find((r) => r.meterId === 'gas-1' && r.quantity === 'volume')
    expect(volume === undefined ? undefined : Number(volume.mantissa) * 10 ** volume.scaler).toBe(gas.values.volumeM3)
    expect(new Set(store.readReadings().map((r) => r.meterId))).toEqual(new Set(['gas-1', 'heat-1']))
    expect(readLogChain(store, 'calibration', '').entries.map((e) => String(e.type))).toEqual(['meter-key-invalid'])
  } finally {
    store.close()
  }
}

const softhsm = findPkcs11Library(existsSync)

describe.skipIf(softhsm === undefined)('meter keys on a PKCS#11 token (SoftHSM2)', () => {
  it('decodes mode 5 and mode 7 telegrams with keys on the token; PIN from the environment', async () => {
    const conf = join(tmp.dir, 'softhsm2.conf')
    await mkdir(join(tmp.dir, 'tokens'))
    await writeFile(conf, `directories.tokendir = ${join(tmp.dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`)
    // SoftHSM2 reads SOFTHSM2_CONF at C_Initialize; this test file runs in its own process (vitest pool: forks).
    process.env.SOFTHSM2_CONF = conf
    await exec('softhsm2-util', ['--init-token', '--free', '--label', 'meters', '--pin', '4321', '--so-pin', '8765'], { env: { ...process.env, SOFTHSM2_CONF: conf } })
    const meterKeys: MeterKeysConfig = { securityModule: { pkcs11: { tokenLabel: 'meters', pinEnv: 'SMGW_TEST_PIN' } } }
    await rejectsWith(openMeterKeyModule(meterKeys, { SMGW_TEST_PIN: '0000' }), 'KEY_MODULE_FAILED')
    await decodesWithModule(await openMeterKeyModule(meterKeys, { SMGW_TEST_PIN: '4321' }), meterKeys)
    const sm = await openMeterKeyModule(meterKeys, { SMGW_TEST_PIN: '4321' })
    try {
      await gatewayDecodes(sm, 'softhsm')
    } finally {
      await sm.close()
    }
  })
})

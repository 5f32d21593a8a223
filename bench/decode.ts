// bench decode: decoded wireless M-Bus telegrams/s (OMS mode 5, ~60 bytes) against a
// baseline loop that only runs the same AES-CBC decryptions with node:crypto (target
// ratio ≥ 0.5), and SML files/s against the npm package smartmeter-obis parsing the same
// files (target ≥ 3×).
import { createDecipheriv } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createMode5Iv, decodeWirelessTelegram, encodeWirelessTelegram } from '@smgw/mbus'
import { decodeSmlFile, extractReadings } from '@smgw/sml'
import { compareRates, type Benchmark } from './types.js'

/** Seconds per comparison, split into alternating rounds. */
const SECONDS = 5

/** A mode-5 water meter telegram as a receiver stick delivers it (no block CRCs), ~60 bytes. */
function buildTelegram(key: Uint8Array): Uint8Array {
  return encodeWirelessTelegram({
    address: { manufacturer: 'KAM', id: '12345678', version: 0x1b, deviceType: 0x16 },
    tpl: { kind: 'short', accessNumber: 0x42, status: 0 },
    security: { mode: 5 },
    key,
    records: [
      { vif: Uint8Array.of(0x13), coding: 'int32', raw: 123456 },
      { vif: Uint8Array.of(0x13), coding: 'int32', raw: 120000, storage: 1 },
      { vif: Uint8Array.of(0x3b), coding: 'int16', raw: 345 },
      { vif: Uint8Array.of(0xfd, 0x17), coding: 'int16', raw: 0 },
      { vif: Uint8Array.of(0x67), coding: 'int8', raw: 12 },
      { vif: Uint8Array.of(0x6d), coding: 'int32', raw: 0x2b1e0c22 },
      { vif: Uint8Array.of(0x5b), coding: 'int8', raw: 9, function: 'minimum' },
    ],
  })
}

function hexFixture(name: string): Uint8Array {
  const text = readFileSync(new URL(`../packages/sml/fixtures/${name}`, import.meta.url), 'utf8')
  return new Uint8Array(Buffer.from(text.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex'))
}

interface SmartmeterObisSml {
  handleMessage(message: Buffer): unknown
}

export const benchmark: Benchmark = {
  name: 'decode',
  description: 'wireless M-Bus mode-5 telegrams/s vs raw AES-CBC; SML files/s vs smartmeter-obis',
  inDefaultRun: true,
  async run(log) {
    // --- wireless M-Bus, mode 5 ---
    const key = Uint8Array.from({ length: 16 }, (_, i) => 0x40 + i)
    const telegram = buildTelegram(key)
    const decoded = decodeWirelessTelegram(telegram, { key })
    const encryptedBytes = decoded.tpl.encryptedBlocks * 16
    const body = telegram.subarray(telegram.length - encryptedBytes)
    const iv = createMode5Iv(telegram.subarray(2, 10), decoded.accessNumber ?? 0)
    log(`wmbus: ${telegram.length}-byte telegram, ${encryptedBytes} encrypted bytes, ${decoded.records.length} records`)

    const batch = 1000
    const wmbus = await compareRates(SECONDS, () => {
      for (let i = 0; i < batch; i++) decodeWirelessTelegram(telegram, { key })
      return batch
    }, () => {
      for (let i = 0; i < batch; i++) {
        const d = createDecipheriv('aes-128-cbc', key, iv).setAutoPadding(false)
        d.update(body)
        d.final()
      }
      return batch
    })

    // --- SML ---
    const files = ['emh-ehz.hex', 'iskra-mt175.hex', 'easymeter-q3a.hex'].map(hexFixture)
    const require = createRequire(import.meta.url)
    const SmlProtocol = require('smartmeter-obis/lib/protocols/SmlProtocol.js') as new (
      options: object,
      store: (err: unknown, data: unknown) => void,
    ) => SmartmeterObisSml
    let peerReadings = 0
    const peer = new SmlProtocol({ protocolSmlInputEncoding: 'binary', debug: 0, logger: () => undefined }, (err, data) => {
      if (err instanceof Error) throw err
      peerReadings += Object.keys(data as object).length
    })
    const buffers = files.map((f) => Buffer.from(f))
    let ours = 0
    for (const f of files) ours += extractReadings(decodeSmlFile(f)).length
    for (const b of buffers) peer.handleMessage(b)
    log(`sml: ${files.length} files (${files.map((f) => f.length).join(', ')} bytes); readings per pass: ours ${ours}, smartmeter-obis ${peerReadings}`)

    const sml = await compareRates(SECONDS, () => {
      for (let i = 0; i < 100; i++) for (const f of files) extractReadings(decodeSmlFile(f))
      return 100 * files.length
    }, () => {
      for (let i = 0; i < 20; i++) for (const b of buffers) peer.handleMessage(b)
      return 20 * buffers.length
    })

    return {
      figures: {
        wmbus_telegrams_per_s: wmbus.rate,
        aes_cbc_baseline_per_s: wmbus.baseline,
        sml_files_per_s: sml.rate,
        smartmeter_obis_files_per_s: sml.baseline,
      },
      ratios: {
        wmbus_vs_aes_ratio: wmbus.ratio,
        sml_vs_smartmeter_obis_ratio: sml.ratio,
      },
    }
  },
}

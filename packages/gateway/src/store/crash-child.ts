// Child process of crash.test.ts: appends reading batches and log entries for ever,
// printing each acknowledgement after its commit returned, until the parent kills it.
//   argv: DB KEY.pem CERT.der
// Reading n (its row id) has mantissa expectedMantissa(n), so the parent can check content.
import { readFileSync } from 'node:fs'
import { createKeyObjectSigner, decodePrivateKey } from '@smgw/crypto'
import { createGatewayLogs } from '../log/writer.js'
import { openStore } from './store.js'

export function expectedMantissa(id: number): bigint {
  return id % 2 === 1 ? BigInt(id) * 10n ** 20n + 1n : -BigInt(id)
}

const [dbPath, keyPath, certPath] = process.argv.slice(2)
if (dbPath !== undefined && keyPath !== undefined && certPath !== undefined) {
  // The clock moves one hour per batch from where the last run stopped, so day heads get signed.
  let t = Date.parse('2026-03-27T12:00:00.000Z')
  const store = openStore(dbPath, { now: () => new Date(t) })
  const last = store.logRows.last('consumer', 'c-1')
  if (last !== undefined) t = Date.parse(String(last.time)) + 3_600_000
  const logs = createGatewayLogs({
    store, signer: createKeyObjectSigner(decodePrivateKey(readFileSync(keyPath))), certificate: new Uint8Array(readFileSync(certPath)), now: () => new Date(t),
  })
  let next = store.countReadings() + 1
  for (let batch = 0; ; batch++) {
    const size = 1 + ((batch * 7 + next) % 40)
    const readings = Array.from({ length: size }, (_, i) => ({
      meterId: `M${(next + i) % 3}`, quantity: '1-0:1.8.0*255', time: new Date(t), mantissa: expectedMantissa(next + i), scaler: -1, unit: 'Wh', status: 0n,
    }))
    const r = store.appendReadings(readings)
    process.stdout.write(`R ${r.lastId}\n`)
    next = r.lastId + 1
    const e = await logs.consumer('c-1', { type: 'data-processed', fields: { purpose: 'taf1', dataClass: 'register', text: `${size} readings stored` } })
    process.stdout.write(`L consumer ${e.seq}\n`)
    if (batch % 3 === 0) {
      const s = await logs.system({ type: 'store-opened', fields: { schemaVersion: store.schemaVersion } })
      process.stdout.write(`L system ${s.seq}\n`)
    }
    t += 3_600_000
  }
}

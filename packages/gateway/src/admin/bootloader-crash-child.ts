// Child process of firmware.test.ts ("a real SIGKILL during the health check"): installs one
// firmware package with the real health probe and announces on standard output when the
// pointer has been switched and the probe starts, so the parent can kill it right there.
// Usage: node --import tsx bootloader-crash-child.ts DIR PACKAGE TRUST.json
import { readFileSync } from 'node:fs'
import { createSignerVerifier } from '@smgw/admin-protocol'
import { runImageHealth } from './bootloader.js'
import { createFirmwareManager } from './firmware.js'

interface ChildTrust { readonly root: string; readonly intermediates: readonly string[]; readonly subject: string; readonly now: string }

const [dir, packagePath, trustPath] = process.argv.slice(2)
if (dir === undefined || packagePath === undefined || trustPath === undefined) throw new Error('usage: DIR PACKAGE TRUST.json')
const trust = JSON.parse(readFileSync(trustPath, 'utf8')) as ChildTrust
const der = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'))
const verifier = createSignerVerifier({ expectedSubject: trust.subject, roots: [der(trust.root)], intermediates: trust.intermediates.map(der), notOwnRole: 'SIGNER_NOT_MANUFACTURER' })
const firmware = createFirmwareManager({ dir, factoryVersion: '1.0.0', healthTimeoutS: 600 }, {
  verifier, now: () => new Date(trust.now),
  log: (entry) => { process.stdout.write(`LOG ${JSON.stringify(entry)}\n`) },
  runHealth: (image, timeoutMs) => {
    process.stdout.write('HEALTH\n')
    return runImageHealth(image, timeoutMs)
  },
})
await firmware.boot()
const result = await firmware.install({ package: readFileSync(packagePath).toString('base64') })
process.stdout.write(`DONE ${JSON.stringify(result)}\n`)

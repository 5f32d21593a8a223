// A firmware image of the simulated gateway (docs/admin-protocol.md "Firmware package"):
// `node image.mjs health` is the boot self-test the gateway runs after switching to it.
// This one passes: it checks that its crypto works and exits 0.
import { createHash } from 'node:crypto'

const VERSION = 'healthy example'

if (process.argv[2] === 'health') {
  // Self-test: SHA-256 of "abc" (FIPS 180-2 Appendix B.1).
  const ok = createHash('sha256').update('abc').digest('hex') === 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
  process.stdout.write(ok ? 'healthy\n' : 'self-test failed\n')
  process.exit(ok ? 0 : 1)
}
process.stdout.write(`smgw firmware image (${VERSION}): run with "health" for the self-test\n`)

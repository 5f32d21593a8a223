// A firmware image whose boot self-test fails (exit 1): the gateway switches to it, sees it
// unhealthy and switches back to the previous version (`firmware-update` result `rolled-back`).
if (process.argv[2] === 'health') {
  process.stderr.write('self-test failed: metrology module not found\n')
  process.exit(1)
}
process.stdout.write('smgw firmware image (broken example)\n')

// A firmware image that never answers its self-test: the gateway kills it after
// `healthTimeoutS` and switches back to the previous version.
if (process.argv[2] === 'health') {
  setInterval(() => undefined, 60_000)
} else {
  process.stdout.write('smgw firmware image (hanging example)\n')
}

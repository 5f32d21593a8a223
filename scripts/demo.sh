#!/usr/bin/env bash
# The main job, until the whole system (gateway, administrator, market participants,
# consumer page) exists: installs what is missing, then
#   1. decodes an SML serial capture of an electricity meter (noise and broken files included),
#   2. decodes wireless M-Bus telegrams of water, heat, heat-cost and gas meters (OMS modes 5 and 7),
#   3. creates a demo SM-PKI, and sends a reading the way a gateway does: CMS-signed with its
#      SIG key, encrypted to a market participant's ENC certificate — then the participant
#      decrypts and verifies it, with smgw and with openssl as an independent peer.
# Everything stays in a temporary folder (kept with KEEP=1 and printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
smgw() { node packages/cli/bin/smgw.js "$@"; }
work=$(mktemp -d)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. SML: a serial capture of an electricity meter (packages/sml/fixtures/capture-serial.bin)"
smgw decode sml packages/sml/fixtures/capture-serial.bin > "$work/sml.json" || true
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
  console.log(`${r.files} SML files decoded, ${(r.dropped ?? []).length} broken files dropped, ${r.skipped ?? 0} noise bytes skipped`)
  for (const x of r.readings.slice(0, 8)) console.log(`  ${x.obis.padEnd(16)} ${String(x.value).padStart(14)} ${x.unit ?? ""}  ${x.name ?? ""}`)
  if (r.readings.length > 8) console.log(`  … ${r.readings.length - 8} more readings`)
' "$work/sml.json"

step "2. wireless M-Bus / OMS telegrams (samples/wmbus-telegrams.jsonl; the last one has a wrong key)"
smgw decode wmbus --jsonl < samples/wmbus-telegrams.jsonl > "$work/wmbus.jsonl" || true
node -e '
  for (const line of require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n")) {
    const r = JSON.parse(line)
    if (!r.ok) { console.log(`  rejected: ${r.error.code} (${r.error.message})`); continue }
    const first = r.records.filter((x) => x.unit !== "raw").slice(0, 2).map((x) => `${x.quantity} ${x.value} ${x.unit}`).join(", ")
    console.log(`  ${r.manufacturer} ${r.id} ${r.deviceType.name.padEnd(20)} mode ${r.security}  ${r.records.length} records: ${first}`)
  }
' "$work/wmbus.jsonl"
echo "  wired M-Bus: $(smgw decode mbus "$(cat samples/mbus-wired.hex)" | cut -c1-100)…"

step "3. SM-PKI and CMS: a gateway sends a reading to a market participant"
smgw pki init "$work/pki" --gateways 1
gw="$work/pki/gateways/smgw-0001"; emt="$work/pki/emt-1"
smgw pki verify "$gw/sig.cert.pem" --root "$work/pki/root-ca/ca.cert.pem" --chain "$work/pki/sub-ca-gw/ca.cert.pem" \
  --crl "$work/pki/crl/sub-ca-gw.crl.pem" --crl "$work/pki/crl/root.crl.pem" --purpose sig
jq_reading='{"meteringPoint":"DE0001234567890000000000000000001","obis":"1-0:1.8.0*255","interval":"2026-11-29","values":[1234.5,1235.1],"unit":"kWh"}'
printf '%s' "$jq_reading" > "$work/reading.json"
smgw cms sign "$work/reading.json" --key "$gw/sig.key.pem" --cert "$gw/sig.cert.pem" --chain "$work/pki/sub-ca-gw/ca.cert.pem" --out "$work/reading.p7s"
smgw cms encrypt "$work/reading.p7s" --to "$emt/enc.cert.pem" --out "$work/reading.p7e"
echo "  signed and encrypted: $(wc -c < "$work/reading.p7e") bytes of CMS (SignedData inside EnvelopedData)"
smgw cms inspect "$work/reading.p7e" | sed 's/^/  /'
smgw cms decrypt "$work/reading.p7e" --key "$emt/enc.key.pem" --cert "$emt/enc.cert.pem" --out "$work/received.p7s"
echo "  the market participant (smgw):"
smgw cms verify "$work/received.p7s" --root "$work/pki/root-ca/ca.cert.pem" --chain "$work/pki/sub-ca-gw/ca.cert.pem" | sed 's/^/    /'
echo
echo "  the same message checked by openssl as an independent peer:"
openssl cms -decrypt -inform DER -in "$work/reading.p7e" -recip "$emt/enc.cert.pem" -inkey "$emt/enc.key.pem" -binary -out "$work/openssl.p7s"
cat "$work/pki/sub-ca-gw/ca.cert.pem" "$work/pki/root-ca/ca.cert.pem" > "$work/chain.pem"
openssl cms -verify -inform DER -in "$work/openssl.p7s" -CAfile "$work/chain.pem" -purpose any -binary 2>&1 | sed 's/^/    /'
echo
[ "${KEEP:-0}" = 1 ] && echo "files kept in $work"
echo "done."

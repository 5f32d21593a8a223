#!/usr/bin/env bash
# The demo: installs what is missing (scripts/setup.sh), then runs what exists of the whole
# system locally, on embedded defaults, for a bounded time:
#   1. decodes an SML serial capture and wireless/wired M-Bus samples (samples/),
#   2. creates a demo SM-PKI (root, sub-CAs, one gateway, two market participants, the
#      gateway administrator (GWA) and the manufacturer),
#   3. starts the GWA (`smgw gwa serve`, the gateway registered with its wake-up address), two
#      market participants (`smgw emt serve`: emt-1 the supplier, emt-2 the grid
#      operator), a simulated SML electricity meter and two wireless M-Bus meters (water,
#      heat), a lying time server and the gateway (administered by the GWA: it reports at
#      start over mutual TLS and listens for signed UDP wake-ups) with two tariff profiles
#      (samples/demo-tariff-profiles.json: TAF 7 quarter-hour values every hour to emt-1,
#      TAF 10 power every 2 s to emt-2). The time server puts the gateway's legal time 25 s
#      before a full hour, so an hourly TAF 7 message is due within the run. The GWA gives
#      the gateway its wireless meters: an ENC certificate (renew --kinds enc), the meters
#      (a profile) and their AES keys (`smgw gwa meter-keys`: sealed to that ENC certificate,
#      opened into the gateway's security module — no key file on the gateway),
#   4. prints each delivery as the participants' REST APIs show it; emt-2 is killed for
#      10 s in the middle and its messages arrive after it is back; then the GWA renews the
#      gateway's TLS certificate: a signed wake-up, the admin session, generate-csr, the CSR
#      signed by the gateway sub-CA, install-certificates — and shows the gateway's status,
#   5. serves the consumer's page on the HAN side (https://127.0.0.1:8443, user anna):
#      live values, history, where the data went, consent and rights — open it while it runs,
#   6. stops the gateway, exports MSCONS from emt-1 and CSV from emt-2, opens one posted
#      message with openssl as an independent peer, verifies the gateway's logs (the
#      administration steps in its system log), summarises.
#
# Usage: scripts/demo.sh [--seconds N] [--han-port P] [--out DIR] [--no-setup]
#   --seconds N  how long the system runs (default 90)
#   --han-port P the consumer page's port (default 8443)
#   --out DIR    where the exports go (default: a new temporary folder, kept and printed)
#   --no-setup   skip scripts/setup.sh (dependencies already installed)
# Everything else stays in a temporary folder, removed at the end (kept with KEEP=1).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=90
han_port=8443
out=""
setup=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    --han-port) han_port=${2:?--han-port needs a number}; shift 2 ;;
    --no-setup) setup=0; shift ;;
    -h|--help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$seconds" in ''|*[!0-9]*) echo "demo: --seconds wants a whole number" >&2; exit 2 ;; esac

[ "$setup" = 1 ] && bash scripts/setup.sh >/dev/null
smgw_js=packages/cli/bin/smgw.js
smgw() { node "$smgw_js" "$@"; }
work=$(mktemp -d)
[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/smgw-demo-out.XXXXXX")
mkdir -p "$out"
pids=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "demo: working files kept in $work"; else rm -rf "$work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '  %s\n' "$*"; }

# wait_count FILE REGEX N SECONDS WHAT: until N lines of FILE match (bounded).
wait_count() {
  local tries=$(( $4 * 5 )) n
  while :; do
    n=$(grep -cE "$2" "$1" 2>/dev/null) || n=0 # no match: 0; no file yet: nothing printed
    [ "$n" -ge "$3" ] && break
    tries=$((tries - 1))
    if [ "$tries" -le 0 ]; then
      echo "demo: gave up waiting for $5 after $4 s; the end of its output:" >&2
      tail -n 8 "$1" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
}
# wait_for FILE REGEX SECONDS WHAT: until a line of FILE matches (bounded).
wait_for() { wait_count "$1" "$2" 1 "$3" "$4"; }
# json_line FILE KEY VALUE FIELD…: fields of the first JSON line of FILE with KEY = VALUE, space-separated.
json_line() {
  node -e '
    const [file, key, value, ...fields] = process.argv.slice(1)
    for (const line of require("fs").readFileSync(file, "utf8").split("\n")) {
      let j; try { j = JSON.parse(line) } catch { continue }
      if (j !== null && String(j[key]) === value) { console.log(fields.map((f) => JSON.stringify(j[f])).join(" ")); process.exit(0) }
    }
    process.exit(1)
  ' "$@"
}

step "1. SML: a serial capture of an electricity meter (packages/sml/fixtures/capture-serial.bin)"
smgw decode sml packages/sml/fixtures/capture-serial.bin > "$work/sml.json" || true
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
  console.log(`  ${r.files} SML files decoded, ${(r.dropped ?? []).length} broken files dropped, ${r.skipped ?? 0} noise bytes skipped`)
  for (const x of r.readings.slice(0, 6)) console.log(`    ${x.obis.padEnd(16)} ${String(x.value).padStart(14)} ${x.unit ?? ""}  ${x.name ?? ""}`)
  if (r.readings.length > 6) console.log(`    … ${r.readings.length - 6} more readings`)
' "$work/sml.json"

step "2. wireless M-Bus / OMS telegrams (samples/wmbus-telegrams.jsonl; the last one has a wrong key)"
smgw decode wmbus --jsonl < samples/wmbus-telegrams.jsonl > "$work/wmbus.jsonl" || true
node -e '
  for (const line of require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n")) {
    const r = JSON.parse(line)
    if (!r.ok) { console.log(`    rejected: ${r.error.code} (${r.error.message})`); continue }
    const first = r.records.filter((x) => x.unit !== "raw").slice(0, 2).map((x) => `${x.quantity} ${x.value} ${x.unit}`).join(", ")
    console.log(`    ${r.manufacturer} ${r.id} ${r.deviceType.name.padEnd(20)} mode ${r.security}  ${r.records.length} records: ${first}`)
  }
' "$work/wmbus.jsonl"
say "wired M-Bus: $(smgw decode mbus "$(cat samples/mbus-wired.hex)" | cut -c1-100)…"

step "3. SM-PKI: root, sub-CAs, the gateway smgw-0001, two market participants, the GWA, the manufacturer"
pki="$work/pki"
smgw pki init "$pki" --gateways 1 --emts 2 | sed 's/^/  /'
gwpki="$pki/gateways/smgw-0001"
smgw pki verify "$gwpki/sig.cert.pem" --root "$pki/root-ca/ca.cert.pem" --chain "$pki/sub-ca-gw/ca.cert.pem" \
  --crl "$pki/crl/sub-ca-gw.crl.pem" --crl "$pki/crl/root.crl.pem" --purpose sig | sed 's/^/  /'

step "4. the system starts: the GWA, two market participants, meters, a time server, the gateway"
token="demo-api-token-$(node -e 'console.log(require("crypto").randomBytes(12).toString("hex"))')"
# The gateway administrator (samples/demo-gwa.json): signs commands and wake-ups with the GWA's
# SIG key, issues operational certificates with the gateway sub-CA, SQLite inventory.
mkdir -p "$work/gwa"
cp samples/demo-gwa.json "$work/gwa/gwa.json"
printf '%s' "$token" > "$work/gwa/api-token"; chmod 600 "$work/gwa/api-token"
node "$smgw_js" gwa serve --config "$work/gwa/gwa.json" --json > "$work/gwa/serve.out" 2> "$work/gwa/serve.log" &
pids+=($!)
start_emt() { # ID → starts `smgw emt serve`; sets port variables <ID>_gw / <ID>_api
  local id=$1 dir="$work/$1"
  mkdir -p "$dir"
  printf '%s' "$token" > "$dir/api-token"; chmod 600 "$dir/api-token"
  node -e '
    const [file, id, gwPort, apiPort] = process.argv.slice(1)
    require("fs").writeFileSync(file, JSON.stringify({
      participantId: id,
      listen: { host: "127.0.0.1", port: Number(gwPort) },
      tls: { certificate: `../pki/${id}/tls.cert.pem`, key: `../pki/${id}/tls.key.pem`, chain: ["../pki/chain.pem"] },
      enc: { certificate: `../pki/${id}/enc.cert.pem`, key: { file: `../pki/${id}/enc.key.pem` } },
      pki: { roots: ["../pki/root-ca/ca.cert.pem"], crls: ["../pki/crl/sub-ca-gw.crl.pem", "../pki/crl/root.crl.pem"] },
      storage: { sqlite: "emt.db" },
      api: { host: "127.0.0.1", port: Number(apiPort), tokenFile: "api-token" },
    }, null, 2))
  ' "$dir/emt.json" "$id" "${2:-0}" "${3:-0}"
  [ -f "$dir/emt.db" ] || smgw emt gateway add smgw-0001 --config "$dir/emt.json" --note "demo gateway" > /dev/null
  : > "$dir/serve.out"
  node "$smgw_js" emt serve --config "$dir/emt.json" --json > "$dir/serve.out" 2>> "$dir/serve.log" &
  pids+=($!)
  eval "${id//-/_}_pid=$!"
}
wait_emt() { # ID: waits for the listening line, fixes the ports in its configuration for restarts
  local id=$1 dir="$work/$1" ports
  wait_for "$dir/serve.out" '"listening"' 90 "$id"
  ports=$(json_line "$dir/serve.out" event listening gatewayPort apiPort)
  eval "${id//-/_}_gw=${ports% *}; ${id//-/_}_api=${ports#* }"
}
started_ms=$(date +%s%3N)
start_emt emt-1; start_emt emt-2
node "$smgw_js" sim sml --listen 0 --interval 1 --seed 7 --pv-peak 3000 > /dev/null 2> "$work/sml-sim.log" &
pids+=($!)
wait_emt emt-1; wait_emt emt-2
# How long starting a participant took here (a registration and a server, each loading the sources):
# about what the time server and then the gateway will take together.
startup_ms=$(( $(date +%s%3N) - started_ms ))
# The GWA (started beside the participants; waited for after the measurement, which times the gateway's start).
wait_for "$work/gwa/serve.out" '"listening"' 90 "the GWA"
read -r gwa_admin gwa_api < <(json_line "$work/gwa/serve.out" event listening adminPort apiPort)
gwa() { smgw gwa "$@" --url "http://127.0.0.1:$gwa_api" --config "$work/gwa/gwa.json"; }
# The gateway's UDP wake-up port (the only port it listens on in the WAN): a free one, registered with the GWA.
free_udp_port() { node -e 'const s = require("dgram").createSocket("udp4"); s.bind(0, "127.0.0.1", () => { console.log(s.address().port); s.close() })'; }
wake_port=$(free_udp_port)
gwa register smgw-0001 --wake-up "127.0.0.1:$wake_port" --note "demo gateway" > /dev/null
say "GWA: gateways connect to https://127.0.0.1:$gwa_admin (mutual TLS), REST API http://127.0.0.1:$gwa_api; smgw-0001 registered, wake-up UDP 127.0.0.1:$wake_port"
say "emt-1 (supplier):      gateways connect to https://127.0.0.1:$emt_1_gw (mutual TLS), REST API http://127.0.0.1:$emt_1_api"
say "emt-2 (grid operator): gateways connect to https://127.0.0.1:$emt_2_gw (mutual TLS), REST API http://127.0.0.1:$emt_2_api"
wait_for "$work/sml-sim.log" 'listening on port [0-9]+' 90 "the SML meter"
sml_port=$(grep -oE 'listening on port [0-9]+' "$work/sml-sim.log" | head -n 1 | grep -oE '[0-9]+$')
say "SML meter ehz-1 (household with PV):  TCP 127.0.0.1:$sml_port, a file every second"

# The lying time server: legal time = host time + offset, 25 s before the next full hour
# once the gateway runs (expected after the time server and the gateway have started).
read -r offset hour_end < <(node -e '
  const HOUR = 3600000, up = Date.now() + Math.max(8000, Number(process.argv[1])), T = Math.ceil((up + 25000) / HOUR) * HOUR
  console.log(T - 25000 - up, T)' "$startup_ms")
node "$smgw_js" sim ntp --port 0 --offset-ms "$offset" 2> "$work/ntp.log" > /dev/null &
pids+=($!)
wait_for "$work/ntp.log" 'listening on udp' 90 "the time server"
ntp_port=$(grep -oE 'udp 127\.0\.0\.1:[0-9]+' "$work/ntp.log" | head -n 1 | grep -oE '[0-9]+$')
say "time server:  UDP 127.0.0.1:$ntp_port, its clock $((offset / 1000)) s ahead of this machine's"

gw="$work/gateway"
mkdir -p "$gw"
cp samples/demo-tariff-profiles.json "$gw/tariff-profiles.json"
# The wireless meters' AES keys: the operator's file for `smgw gwa meter-keys` (the gateway gets them from the GWA).
water_key=000102030405060708090A0B0C0D0E0F
heat_key=F0E0D0C0B0A090807060504030201000
printf '{ "water-1": "%s", "heat-1": "%s" }\n' "$water_key" "$heat_key" > "$work/gwa/meter-keys.json"; chmod 600 "$work/gwa/meter-keys.json"
# The gateway's security module (software, sealed under a passphrase) holds its ENC key and the meter keys.
printf '%s\n' "demo security module $(node -e 'console.log(require("crypto").randomBytes(12).toString("hex"))')" > "$gw/sm.pass"; chmod 600 "$gw/sm.pass"
lmn_port=$(free_udp_port)
node -e '
  const [file, profileFile, smlPort, ntpPort, emt1, emt2, hanPort, gwaPort, wakePort, lmnPort] = process.argv.slice(1)
  const pki = "../pki", gw = `${pki}/gateways/smgw-0001`
  const ehz = { id: "ehz-1", kind: "sml", intervalS: 1, consumer: "c-1", transport: { tcp: { host: "127.0.0.1", port: Number(smlPort) } } }
  const udp = { udp: { host: "127.0.0.1", port: Number(lmnPort) } }
  // The wireless meters come from the GWA: a profile naming their key IDs, the keys follow (meter-keys).
  require("fs").writeFileSync(profileFile, JSON.stringify({ meters: [ehz,
    { id: "water-1", kind: "wmbus", mbusId: "21000001", keyId: "water-1", intervalS: 16, consumer: "c-1", transport: udp },
    { id: "heat-1", kind: "wmbus", mbusId: "31000001", keyId: "heat-1", intervalS: 16, consumer: "c-1", transport: udp },
  ] }, null, 2))
  require("fs").writeFileSync(file, JSON.stringify({
    gatewayId: "smgw-0001",
    store: { path: "gateway.db" },
    logs: { sigKey: `${gw}/sig.key.pem`, sigCertificate: `${gw}/sig.cert.pem` },
    meters: [ehz],
    meterKeys: { securityModule: { software: { dir: "security-module", passphraseFile: "sm.pass" } } },
    time: { ntp: { host: "127.0.0.1", port: Number(ntpPort) }, pollIntervalS: 30 },
    tariffs: { profiles: "tariff-profiles.json" },
    wan: {
      tls: { key: `${gw}/tls.key.pem`, certificate: `${gw}/tls.cert.pem`, chain: [`${pki}/sub-ca-gw/ca.cert.pem`] },
      trust: { roots: [`${pki}/root-ca/ca.cert.pem`], intermediates: [`${pki}/sub-ca-emt/ca.cert.pem`] },
      sigChain: [`${pki}/sub-ca-gw/ca.cert.pem`],
      recipients: [
        { id: "emt-1", url: `https://127.0.0.1:${emt1}`, encCertificate: `${pki}/emt-1/enc.cert.pem` },
        { id: "emt-2", url: `https://127.0.0.1:${emt2}`, encCertificate: `${pki}/emt-2/enc.cert.pem` },
      ],
      retry: { initialMs: 500, maxMs: 4000 },
    },
    han: { host: "127.0.0.1", port: Number(hanPort), tariffs: [{ id: "dyn-1", name: "Dynamic tariff", description: "hourly prices; needs quarter-hour values (TAF 7)" }] },
    // Administered by the GWA (docs/admin-protocol.md): the GWA is known by the subject of its
    // certificate; the Gütesiegel identity serves until the GWA installs operational certificates.
    admin: {
      endpoint: `https://127.0.0.1:${gwaPort}`,
      gwaCertificate: `${pki}/gwa/sig.cert.pem`,
      trust: { roots: [`${pki}/root-ca/ca.cert.pem`], intermediates: [`${pki}/sub-ca-emt/ca.cert.pem`, `${pki}/sub-ca-gw/ca.cert.pem`, `${pki}/sub-ca-gs/ca.cert.pem`] },
      initialIdentity: { key: `${gw}/gs.key.pem`, certificate: `${gw}/gs.cert.pem`, chain: [`${pki}/sub-ca-gs/ca.cert.pem`] },
      stateDir: "admin-state",
      // The demo time server puts legal time up to an hour ahead of this machine (and the GWA):
      // the freshness window of a wake-up (default 300 s) has to cover that lie.
      wakeUp: { host: "127.0.0.1", port: Number(wakePort), freshnessS: 3900 },
      pollIntervalS: 0,
    },
  }, null, 2))
' "$gw/gateway.json" "$work/gwa/wireless-meters.json" "$sml_port" "$ntp_port" "$emt_1_gw" "$emt_2_gw" "$han_port" "$gwa_admin" "$wake_port" "$lmn_port"
# The consumer's account on the HAN side (the password goes through a file, never the command line).
han_password=demo-anna-2026
printf '%s\n' "$han_password" > "$work/anna.pw"; chmod 600 "$work/anna.pw"
smgw han user add anna --consumer c-1 --password-file "$work/anna.pw" --config "$gw/gateway.json" > /dev/null
node "$smgw_js" gateway --config "$gw/gateway.json" --json --status-interval 0 --log-level warn 2> "$gw/gateway.log" &
gateway_pid=$!
pids+=("$gateway_pid")
wait_for "$gw/gateway.log" '"event":"running"' 90 "the gateway"
say "gateway smgw-0001: reads ehz-1 over TCP; store $gw/gateway.db"
# Each step waits for its result at the GWA; the next wake-up comes from a new `smgw gwa` process,
# seconds after the session ended (a wake-up during a session is absorbed).
say ">> the GWA gives the gateway its wireless meters: an ENC certificate (generate-csr → signed by the gateway sub-CA → installed),"
say "   the meters (a profile, configuration version 1), then their keys sealed to that ENC certificate (meter-keys)"
gwa renew smgw-0001 --kinds enc --wake > /dev/null
wait_for "$work/gwa/serve.log" '"type":"install-certificates".*"ok":true' 90 "the ENC certificate's installation"
gwa deploy smgw-0001 --profile "$work/gwa/wireless-meters.json" --wake > /dev/null
wait_for "$work/gwa/serve.log" '"type":"profile".*"ok":true' 90 "the wireless meters' profile"
gwa meter-keys smgw-0001 --keys "$work/gwa/meter-keys.json" --wake | sed 's/^/     /'
wait_for "$work/gwa/serve.log" '"type":"meter-keys".*"ok":true' 90 "the meter keys' installation"
say "   keys installed in the gateway's security module (no restart); wireless M-Bus on UDP 127.0.0.1:$lmn_port"
node "$smgw_js" sim wmbus --udp "127.0.0.1:$lmn_port" --meter water --mode 5 --key "$water_key" --id 21000001 --interval 16 > /dev/null 2> "$work/water-sim.log" &
pids+=($!)
node "$smgw_js" sim wmbus --udp "127.0.0.1:$lmn_port" --meter heat --mode 7 --key "$heat_key" --id 31000001 --interval 16 --seed 3 > /dev/null 2> "$work/heat-sim.log" &
pids+=($!)
say "wireless M-Bus meters: water-1 (OMS mode 5) and heat-1 (mode 7), a telegram about every 16 s"
say "tariff profiles: TAF 7 (1-0:1.8.0, quarter hours, sent hourly) → emt-1; TAF 10 (1-0:16.7.0, every 2 s) → emt-2"
say "consumer page (HAN): https://127.0.0.1:$han_port — user anna, password $han_password (the gateway made its own P-256 certificate: $gw/gateway.db.han-cert.pem)"
# Proof that the page's API answers: log in as anna and list her meters, trusting only the gateway's HAN certificate.
node -e '
  const https = require("https"), fs = require("fs")
  const [port, ca, password] = process.argv.slice(1)
  const call = (method, path, body, cookie) => new Promise((resolve, reject) => {
    const req = https.request({ host: "127.0.0.1", port, path, method, ca: fs.readFileSync(ca), servername: "localhost", checkServerIdentity: () => undefined,
      headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) } }, (res) => {
      let text = ""; res.on("data", (c) => { text += c }); res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text }))
    })
    req.on("error", reject); req.end(body === undefined ? undefined : JSON.stringify(body))
  })
  ;(async () => {
    const login = await call("POST", "/api/v1/session", { username: "anna", password })
    if (login.status !== 200) throw new Error(`login: ${login.status} ${login.text}`)
    const cookie = String(login.headers["set-cookie"]).split(";")[0]
    const meters = JSON.parse((await call("GET", "/api/v1/meters", undefined, cookie)).text).meters
    console.log(`  HAN API: anna logged in over HTTPS and sees her meters ${meters.map((m) => m.id).join(", ")}`)
  })().catch((e) => { console.log(`  HAN API check failed: ${e.message}`); process.exitCode = 1 })
' "$han_port" "$gw/gateway.db.han-cert.pem" "$han_password"
say "legal time at the gateway: $(node -e 'console.log(new Date(Date.now() + Number(process.argv[1])).toLocaleTimeString("de-DE", { timeZone: "Europe/Berlin" }))' "$offset") (German time) — the hour ends in about $(( (hour_end - offset) / 1000 - $(date +%s) )) s"

step "5. deliveries, as the market participants' REST APIs show them (running ${seconds} s)"
cat > "$work/watch.mjs" <<'EOF'
// Polls both participants' REST APIs and prints every message they newly hold.
// The gateway's legal time runs `offset` ms ahead of this machine (the lying time server).
const [token, offset, ...emts] = process.argv.slice(2)
const useCase = (u) => u.replace(/^taf/, 'TAF ')
const seen = new Map()
const local = (iso) => new Date(iso).toLocaleTimeString('de-DE', { timeZone: 'Europe/Berlin' })
for (;;) {
  for (const spec of emts) {
    const [id, port] = spec.split('=')
    let messages
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v1/messages?limit=100000`, { headers: { authorization: `Bearer ${token}` } })
      if (!res.ok) continue
      messages = (await res.json()).messages
    } catch { continue } // down (the demo stops emt-2 for a while)
    const known = seen.get(id) ?? new Set()
    seen.set(id, known)
    for (const m of messages.sort((a, b) => Date.parse(a.periodEnd) - Date.parse(b.periodEnd))) {
      if (known.has(m.messageId)) continue
      known.add(m.messageId)
      const late = Date.parse(m.receivedAt) - (Date.parse(m.periodEnd) - Number(offset)) > 4000 ? ' (queued, delivered late)' : ''
      console.log(`  ${new Date().toLocaleTimeString('de-DE')}  ${id} received ${useCase(m.useCase)} of ${m.meteringPoint}, ${local(m.periodStart)}–${local(m.periodEnd)}: ${m.values} value${m.values === 1 ? '' : 's'}${late}`)
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 1000))
}
EOF
node "$work/watch.mjs" "$token" "$offset" "emt-1=$emt_1_api" "emt-2=$emt_2_api" &
pids+=($!)
started=$(date +%s)
if [ "$seconds" -ge 40 ]; then
  sleep $((seconds / 3))
  say ">> emt-2 is killed (kill -9) for 10 s: the gateway keeps its messages in the outbox and retries"
  kill -KILL "$emt_2_pid"; wait "$emt_2_pid" 2>/dev/null || true
  sleep 10
  start_emt emt-2 "$emt_2_gw" "$emt_2_api"; wait_emt emt-2
  say ">> emt-2 is back on the same ports"
fi
say ">> the GWA renews the gateway's TLS certificate: a signed wake-up (UDP) → the gateway opens the admin session (mutual TLS)"
say "   → generate-csr → the GWA signs the CSR with the gateway sub-CA → install-certificates, in the same session"
gwa renew smgw-0001 --kinds tls --wake | sed 's/^/     /'
wait_count "$work/gwa/serve.log" '"type":"install-certificates".*"ok":true' 2 60 "the certificate installation" # the first was the ENC certificate
gwa wake smgw-0001 > /dev/null # one more session: the gateway reports its certificates, connecting with the new one
# Wake-up sessions so far: ENC certificate, meters, keys, this renewal, this wake-up.
wait_count "$work/gwa/serve.log" '"event":"contact".*"reason":"wake-up"' 5 60 "the admin session after the renewal"
gwa status smgw-0001 | sed 's/^/     /'
say ">> a controllable device: the GWA gives the gateway its CLS section (a profile: heat pump hp-1 on the HAN, paired with emt-1);"
say "   emt-1 asks for a channel (smgw gwa cls), the gateway connects the heat pump to emt-1's CLS endpoint, emt-1 limits it to 4.2 kW"
node "$smgw_js" sim cls-device --port 0 --json > "$work/cls-device.out" 2> "$work/cls-device.log" &
pids+=($!)
node "$smgw_js" emt cls limit 4.2 --config "$work/emt-1/emt.json" --port 0 --gateway smgw-0001 --wait-s 120 --json > "$work/emt-1/cls.out" 2> "$work/emt-1/cls.log" &
pids+=($!)
wait_for "$work/cls-device.out" '"listening"' 90 "the heat pump (CLS device)"
wait_for "$work/emt-1/cls.out" '"listening"' 90 "emt-1's CLS endpoint"
device_port=$(json_line "$work/cls-device.out" event listening port)
emt_1_cls=$(json_line "$work/emt-1/cls.out" event listening port)
node -e '
  const [file, port] = process.argv.slice(1)
  require("fs").writeFileSync(file, JSON.stringify({ cls: {
    devices: [{ id: "hp-1", consumer: "c-1", address: { host: "127.0.0.1", port: Number(port) } }],
    emts: [{ id: "emt-1", tlsSubject: { CN: "EMT Demo 1" }, allowedDevices: ["hp-1"] }],
    defaultTimeoutS: 60,
  } }, null, 2))
' "$work/gwa/cls.json" "$device_port"
gwa deploy smgw-0001 --profile "$work/gwa/cls.json" --wake > /dev/null
wait_count "$work/gwa/serve.log" '"type":"profile".*"ok":true' 2 60 "the CLS profile" # the first was the wireless meters'
gwa cls smgw-0001 --device hp-1 --emt emt-1 --endpoint "https://127.0.0.1:$emt_1_cls" --timeout 60 | sed 's/^/     /'
wait_count "$work/emt-1/cls.out" '"event":"answer"' 2 60 "emt-1's power limit"
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))
  const limit = lines.find((l) => l.event === "answer")?.answer
  console.log(`   heat pump hp-1 answered through the channel: mode ${limit?.mode}, limit ${limit?.limitKw} kW, drawing ${limit?.powerKw} kW`)
' "$work/emt-1/cls.out"
sleep $(( seconds - ($(date +%s) - started) > 0 ? seconds - ($(date +%s) - started) : 0 ))
say ">> stopping the gateway (SIGTERM)"
kill -TERM "$gateway_pid"; wait "$gateway_pid" || { echo "demo: the gateway did not stop cleanly" >&2; tail -n 8 "$gw/gateway.log" >&2; exit 1; }
sleep 1.5 # the watcher's last poll

step "6. what the market participants hold, exported"
smgw emt export --config "$work/emt-1/emt.json" --format mscons --recipient 9900000000003 --out "$out/emt-1-taf7.mscons"
smgw emt export --config "$work/emt-2/emt.json" --format csv --out "$out/emt-2-taf10.csv"
say "emt-1 (supplier), EDIFACT MSCONS → $out/emt-1-taf7.mscons:"
tr "'" '\n' < "$out/emt-1-taf7.mscons" | grep -E '^(LOC|PIA|QTY|DTM\+16[34])' | head -n 14 | sed 's/^/    /'
say "emt-2 (grid operator), CSV → $out/emt-2-taf10.csv ($(($(wc -l < "$out/emt-2-taf10.csv") - 1)) values), first rows:"
head -n 4 "$out/emt-2-taf10.csv" | cut -c1-150 | sed 's/^/    /'

step "7. one posted message, opened by openssl as an independent peer"
# The gateway's outbox keeps the bytes it posted: SignedData (its SIG key) inside EnvelopedData (emt-1's ENC key).
if node -e '
  const Database = require("better-sqlite3")
  const db = new Database(process.argv[1], { readonly: true })
  const row = db.prepare("SELECT recipient, message_id, payload FROM outbox WHERE state = ? ORDER BY purpose = ? DESC, id LIMIT 1").get("delivered", "taf7")
  if (row === undefined) process.exit(1)
  require("fs").writeFileSync(process.argv[2], row.payload)
  console.log(row.recipient, row.message_id)
' "$gw/gateway.db" "$work/posted.p7e" > "$work/posted.txt"; then
  read -r recipient message_id < "$work/posted.txt"
  say "message $message_id for $recipient: $(wc -c < "$work/posted.p7e") bytes of CMS"
  openssl cms -decrypt -inform DER -in "$work/posted.p7e" -recip "$pki/$recipient/enc.cert.pem" -inkey "$pki/$recipient/enc.key.pem" -binary -out "$work/posted.p7s"
  openssl cms -verify -inform DER -in "$work/posted.p7s" -CAfile "$pki/root-ca/ca.cert.pem" -purpose any -binary -out "$out/posted-message.json" 2>&1 | sed 's/^/    openssl: /'
  node -e '
    const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
    console.log(`    ${m.useCase} from ${m.gatewayId} to ${m.recipient}, ${m.period.start} – ${m.period.end}`)
    for (const s of m.series) for (const v of s.values) console.log(`      ${s.obis} ${v.time} ${v.value === null ? "gap" : `${v.value} × 10^${s.scaler} ${s.unit}`} status ${v.status}`)
  ' "$out/posted-message.json" | head -n 8
else
  say "nothing was delivered (run longer)"
fi

step "8. the gateway's logs (system, consumer, calibration): hash chains and signed day heads"
smgw log verify "$gw/gateway.db" --cert "$gwpki/sig.cert.pem" | sed 's/^/  /'
say "administration in the system log:"
smgw log show "$gw/gateway.db" --log system 2>/dev/null | grep -E '^ *[0-9]+  [^ ]+  (wake-up|admin-session|admin-command|certificate-[a-z]+|config-changed|meter-keys-installed)  ' | cut -c1-160 | sed 's/^/    /' || true
smgw log show "$gw/gateway.db" --log consumer --consumer c-1 2>/dev/null | grep -E 'data-sent' | tail -n 3 | cut -c1-160 | sed 's/^/  /' || true
smgw log show "$gw/gateway.db" --log consumer --consumer c-1 2>/dev/null | grep -E 'cls-channel' | tail -n 2 | cut -c1-160 | sed 's/^/  /' || true

step "summary"
node -e '
  const Database = require("better-sqlite3")
  const [gwDb, emt1Db, emt2Db] = process.argv.slice(1)
  const gw = new Database(gwDb, { readonly: true })
  const count = (db, sql, ...args) => db.prepare(sql).get(...args).n
  console.log(`  gateway: ${count(gw, "SELECT count(*) AS n FROM readings")} readings stored (SML and wireless M-Bus), ` +
    `${count(gw, "SELECT count(*) AS n FROM outbox WHERE state = ?", "delivered")} messages delivered, ${count(gw, "SELECT count(*) AS n FROM outbox WHERE state = ?", "pending")} pending for the next start`)
  for (const [id, file] of [["emt-1 (supplier)", emt1Db], ["emt-2 (grid operator)", emt2Db]]) {
    const db = new Database(file, { readonly: true })
    const uses = db.prepare("SELECT use_case AS u, count(*) AS n FROM messages GROUP BY use_case").all().map((r) => `${r.n} ${r.u.replace(/^taf/, "TAF ")}`).join(", ") || "nothing"
    console.log(`  ${id}: ${uses} message(s) received, ${count(db, "SELECT count(*) AS n FROM series_values")} values — only its own use case`)
  }
' "$gw/gateway.db" "$work/emt-1/emt.db" "$work/emt-2/emt.db"
say "exports and the opened message: $out"
echo "done."

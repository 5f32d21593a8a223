#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine (run as root, or
# with sudo available): the Debian packages the tests and the demo use, then the npm
# dependencies exactly as locked. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# postgresql: the server binaries for the EMT PostgreSQL test suite (packages/emt/src/testing/postgres.ts)
# chromium: the browser the HAN page tests drive with playwright-core (test/browser)
debian_packages=(openssl softhsm2 opensc libengine-pkcs11-openssl socat python3 make g++ postgresql chromium)
missing=()
for pkg in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is needed (found $(node --version))" >&2
  exit 1
fi

echo "setup: installing npm dependencies"
npm ci --no-audit --no-fund --loglevel=error

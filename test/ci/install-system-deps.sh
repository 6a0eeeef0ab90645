#!/usr/bin/env bash
# System packages the test suite needs beyond npm: the Debian `tor` package (tor + tor-gencert)
# for the private-Tor-network tests, `obfs4proxy` for the bridge test's pluggable transport, and Debian's `chromium` for the dashboard's browser tests
# (driven by playwright-core; never `npx playwright install`, which downloads a browser).
# Idempotent; run as root (or through sudo).
set -euo pipefail
need=()
command -v tor >/dev/null 2>&1 || need+=(tor)
command -v tor-gencert >/dev/null 2>&1 || need+=(tor)
command -v obfs4proxy >/dev/null 2>&1 || need+=(obfs4proxy)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # shellcheck disable=SC2046 # one word per package
  $SUDO apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi
echo "system deps: $(tor --version | head -n1); $(/usr/bin/chromium --version 2>/dev/null | head -n1)"

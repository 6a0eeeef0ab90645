#!/usr/bin/env bash
# System packages the test suite needs beyond npm: the Debian `tor` package (tor + tor-gencert)
# for the private-Tor-network tests, `obfs4proxy` for the bridge test's pluggable transport, and Debian's `chromium` for the dashboard's browser tests
# (driven by playwright-core; never `npx playwright install`, which downloads a browser), and
# Debian's `postgresql` for the relay's PostgreSQL store tests. Those tests start a throwaway
# cluster of their own (initdb in a temp dir, their own port; as the `postgres` account when run
# as root) and find the binaries in /usr/lib/postgresql/<version>/bin, which is not on PATH.
# Idempotent; run as root (or through sudo).
set -euo pipefail
need=()
command -v tor >/dev/null 2>&1 || need+=(tor)
command -v tor-gencert >/dev/null 2>&1 || need+=(tor)
command -v obfs4proxy >/dev/null 2>&1 || need+=(obfs4proxy)
[ -x /usr/bin/chromium ] || need+=(chromium)
have_postgres() {
  { command -v initdb && command -v postgres; } >/dev/null 2>&1 && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}
have_postgres || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # shellcheck disable=SC2046 # one word per package
  $SUDO apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi
initdb_bin=$(command -v initdb || compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n1)
echo "system deps: $(tor --version | head -n1); $(/usr/bin/chromium --version 2>/dev/null | head -n1); $("$initdb_bin" --version)"

#!/usr/bin/env bash
# System packages the test suite needs beyond npm: the Debian `tor` package (tor + tor-gencert)
# for the private-Tor-network tests. Idempotent; run as root (or through sudo).
set -euo pipefail
need=()
command -v tor >/dev/null 2>&1 || need+=(tor)
command -v tor-gencert >/dev/null 2>&1 || need+=(tor)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends tor >/dev/null
fi
echo "system deps: $(tor --version | head -n1)"

#!/usr/bin/env bash
# Installs HAProxy (the load balancer of the several-instances test, run by scripts/balancer.sh) from Debian
# packages. Idempotent: returns at once when haproxy is installed. Needs root (or sudo) and apt-get; exits 3 when
# it cannot install (the test is then skipped, saying so).
set -euo pipefail
if command -v haproxy >/dev/null; then echo "haproxy already installed ($(haproxy -v | head -n 1))"; exit 0; fi
SUDO=
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-haproxy.sh: run as root (apt-get install haproxy)" >&2; exit 3; }
  SUDO=sudo
fi
command -v apt-get >/dev/null || { echo "install-haproxy.sh: no apt-get here; install haproxy yourself" >&2; exit 3; }
# A registry hiccup should not fail the run: try a few times before giving up.
for attempt in 1 2 3; do
  if $SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends haproxy; then
    break
  fi
  [ "$attempt" = 3 ] && exit 3
  sleep 5
done
command -v haproxy >/dev/null || { echo "install-haproxy.sh: haproxy installed but not on PATH" >&2; exit 3; }
echo "haproxy installed ($(haproxy -v | head -n 1))"

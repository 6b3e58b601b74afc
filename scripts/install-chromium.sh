#!/usr/bin/env bash
# Installs Debian's chromium for the browser end-to-end test, when it is missing and we may install packages.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium: /usr/bin/chromium is missing and we are not root; the browser test will be skipped" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "chromium: no apt-get on this machine; the browser test will be skipped" >&2
  exit 0
fi
# A registry hiccup should not fail the run: try a few times before giving up.
for attempt in 1 2 3; do
  if apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; then
    break
  fi
  [ "$attempt" = 3 ] && exit 1
  sleep 10
done
/usr/bin/chromium --version

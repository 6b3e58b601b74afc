#!/usr/bin/env bash
# A round-robin HAProxy on 127.0.0.1 in front of several tus instances, in the foreground (stop it with SIGTERM).
#   scripts/balancer.sh <listen-port> <instance-port>...
# Every request goes to the next instance (option http-server-close: no server connection outlives its request),
# request bodies are streamed, not buffered (no http-buffer-request), and a connection refused by a dead
# instance is retried on another (retries + redispatch) while health checks take it out within about 300 ms.
# Environment: CONFIG (where the config is written; default a temp file).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 <listen-port> <instance-port>..." >&2; exit 2; }
command -v haproxy >/dev/null || { echo "balancer.sh: haproxy not found: run scripts/install-haproxy.sh" >&2; exit 3; }
LISTEN=$1; shift
CONFIG=${CONFIG:-$(mktemp "${TMPDIR:-/tmp}/tus-haproxy-XXXXXX.cfg")}
{
  cat <<CFG
global
  maxconn 1024

defaults
  mode http
  option http-server-close
  option redispatch 1
  retries 3
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  timeout http-request 30s
  timeout queue 10s

frontend tus
  bind 127.0.0.1:$LISTEN
  default_backend instances

backend instances
  balance roundrobin
  default-server check inter 200ms fall 1 rise 2
CFG
  i=0
  for port in "$@"; do
    i=$((i + 1))
    echo "  server i$i 127.0.0.1:$port"
  done
} > "$CONFIG"
haproxy -c -q -f "$CONFIG"
echo "balancer: http://127.0.0.1:$LISTEN -> $* (config $CONFIG)" >&2
exec haproxy -db -f "$CONFIG"

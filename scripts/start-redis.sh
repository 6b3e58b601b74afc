#!/usr/bin/env bash
# Makes sure a Redis answers on 127.0.0.1:6379 for the RedisLocker tests: starts redis-server (no persistence) when
# nothing answers, installing Debian's redis-server first when it is missing and we may install packages.
# Exits 0 when Redis answers. Where it cannot be installed (not root, no apt-get) it says so and exits 0: the
# RedisLocker tests are then skipped with a message. Exits 1 when a Redis it started does not answer.
set -euo pipefail
HOST=127.0.0.1
PORT=6379

answers() {
  if command -v redis-cli >/dev/null; then
    [ "$(redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null)" = "PONG" ]
  else
    # No redis-cli: speak the protocol over bash's /dev/tcp.
    local reply
    reply=$(timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$PORT && printf 'PING\r\n' >&3 && head -c 5 <&3" 2>/dev/null) || return 1
    [ "$reply" = "+PONG" ]
  fi
}

if answers; then
  echo "redis: answering on $HOST:$PORT"
  exit 0
fi

if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null; then
    echo "redis: nothing answers on $HOST:$PORT and redis-server cannot be installed here; the RedisLocker tests will be skipped" >&2
    exit 0
  fi
  # A registry hiccup should not fail the run: try a few times before giving up.
  for attempt in 1 2 3; do
    if apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server; then
      break
    fi
    [ "$attempt" = 3 ] && exit 1
    sleep 10
  done
fi

redis-server --daemonize yes --bind "$HOST" --port "$PORT" --save "" --appendonly no
for _ in $(seq 1 50); do
  if answers; then
    echo "redis: started on $HOST:$PORT ($(redis-server --version | head -n 1))"
    exit 0
  fi
  sleep 0.1
done
echo "redis: redis-server was started but does not answer on $HOST:$PORT" >&2
exit 1

#!/usr/bin/env bash
# `npm run example:s3`: the example app (examples/express) with S3Store and RedisLocker, against a throw-away
# local Ceph RADOS Gateway (scripts/ceph-s3.sh, in memory) and the Redis on 127.0.0.1:6379
# (scripts/start-redis.sh). Ceph is stopped, and its data gone, when the app stops (Ctrl-C).
# With S3_ENDPOINT (and S3_BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY) set, that S3 is used and no Ceph is started.
# Ceph ports default to RGW_PORT=7490, MON_PORT=3310 (not the tests' 7480/3300); PORT (1080) is the app's.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/start-redis.sh
if [ -z "${S3_ENDPOINT:-}" ]; then
  scripts/install-ceph.sh
  export RGW_PORT=${RGW_PORT:-7490} MON_PORT=${MON_PORT:-3310}
  export BASE=${BASE:-${TMPDIR:-/tmp}/tus-example-ceph-$RGW_PORT}
  echo "starting Ceph RADOS Gateway on 127.0.0.1:$RGW_PORT..."
  s3_env=$(scripts/ceph-s3.sh | tail -n 1)
  trap 'scripts/ceph-s3.sh stop >/dev/null 2>&1 || true' EXIT
  export $s3_env   # S3_ENDPOINT S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY
fi
TUS_STORE=s3 TUS_LOCKER=redis node examples/express/server.js

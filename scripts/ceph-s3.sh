#!/usr/bin/env bash
# A throw-away single-node Ceph (monitor + one in-memory memstore OSD + radosgw) serving S3 on 127.0.0.1, for
# S3Store's tests. Install its packages first with scripts/install-ceph.sh. Starts in a few seconds.
#   scripts/ceph-s3.sh          starts a fresh cluster (wiping $BASE), prints the endpoint, exits; daemons keep running
#   scripts/ceph-s3.sh stop     stops the daemons this script started (by their pid files in $BASE/run)
# Environment (all optional): BASE (state, logs; default /tmp/tus-ceph-s3-$RGW_PORT), MON_PORT (3300),
# RGW_PORT (7480), ACCESS_KEY, SECRET_KEY, BUCKET (test-bucket), MEM_BYTES (memstore capacity, 4 GiB).
# Data lives in RAM, used only as objects are written. The last line printed is machine-readable:
#   S3_ENDPOINT=http://127.0.0.1:7480 S3_BUCKET=test-bucket S3_ACCESS_KEY=... S3_SECRET_KEY=...
set -euo pipefail

MON_PORT=${MON_PORT:-3300}
RGW_PORT=${RGW_PORT:-7480}
BASE=${BASE:-${TMPDIR:-/tmp}/tus-ceph-s3-$RGW_PORT}
ACCESS_KEY=${ACCESS_KEY:-TESTACCESSKEY0000001}
SECRET_KEY=${SECRET_KEY:-testsecretkey0000000000000000000000000001}
BUCKET=${BUCKET:-test-bucket}
MEM_BYTES=${MEM_BYTES:-4294967296}
trap 'echo "ceph-s3.sh failed at line $LINENO; logs in $BASE/log" >&2' ERR

export CEPH_CONF=$BASE/ceph.conf

stop() {   # the data is throw-away (wiped on the next start), so SIGKILL is fine
  for d in rgw:radosgw osd:ceph-osd mon:ceph-mon; do
    f=$BASE/run/${d%%:*}.pid
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if [ "$(cat /proc/$pid/comm 2>/dev/null)" = "${d#*:}" ]; then   # only our daemon, never a reused pid
      kill -9 "$pid"
      for _ in $(seq 100); do
        [ "$(awk '{print $3}' /proc/$pid/stat 2>/dev/null || echo Z)" = Z ] && break; sleep 0.1
      done
    fi
    rm -f "$f"
  done
}

if [ "${1:-}" = stop ]; then stop; rm -rf "$BASE"; exit 0; fi
for cmd in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph curl; do
  command -v "$cmd" >/dev/null || { echo "ceph-s3.sh: $cmd not found: run scripts/install-ceph.sh" >&2; exit 3; }
done

stop
rm -rf "$BASE"
mkdir -p "$BASE"/{run,log,mon.a,osd.0,rgw}
FSID=$(cat /proc/sys/kernel/random/uuid)

cat > "$CEPH_CONF" <<CONF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $BASE/run
admin socket = $BASE/run/\$name.asok
log file = $BASE/log/\$name.log
log to stderr = false
err to stderr = true
mon data = $BASE/\$name
osd data = $BASE/\$name
rgw data = $BASE/rgw
osd objectstore = memstore
memstore device bytes = $MEM_BYTES
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
# default 1 s; makes radosgw's pool creation about ten times faster
paxos propose interval = 0.1
mon max pg per osd = 1000
mon warn on pool no redundancy = false

[client.rgw.s3]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw thread pool size = 64
# radosgw forces ms_mon_client_mode=secure unless set; 'secure' is impossible with auth=none
ms mon client mode = crc
# reclaim the space of deleted objects quickly (the default waits 2 h; memstore keeps it in RAM)
rgw gc obj min wait = 0
rgw gc processor period = 5
CONF

monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$BASE/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$BASE/monmap"
ceph-mon -i a --pid-file "$BASE/run/mon.pid"

OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$(ceph --connect-timeout 30 osd new "$OSD_UUID")
ceph-osd -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" 2>/dev/null
ceph-osd -i "$OSD_ID" --pid-file "$BASE/run/osd.pid" 2>>"$BASE/log/osd.stderr"
for _ in $(seq 120); do ceph osd dump 2>/dev/null | grep -q "^osd.$OSD_ID up" && break; sleep 0.5; done
ceph osd dump | grep -q "^osd.$OSD_ID up"

radosgw -n client.rgw.s3 --pid-file "$BASE/run/rgw.pid"
for _ in $(seq 240); do curl -sf -o /dev/null "http://127.0.0.1:$RGW_PORT/" && break; sleep 0.5; done
curl -sf -o /dev/null "http://127.0.0.1:$RGW_PORT/"

radosgw-admin user create --uid=test --display-name=test \
  --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null
curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
  -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT "http://127.0.0.1:$RGW_PORT/$BUCKET"

echo "S3_ENDPOINT=http://127.0.0.1:$RGW_PORT S3_BUCKET=$BUCKET S3_ACCESS_KEY=$ACCESS_KEY S3_SECRET_KEY=$SECRET_KEY"

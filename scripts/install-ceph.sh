#!/usr/bin/env bash
# Installs what scripts/ceph-s3.sh needs (a single-node Ceph with the RADOS Gateway, for S3Store's tests) from
# Debian packages. Idempotent: returns at once when everything is installed. Needs root (or sudo) and apt-get.
set -euo pipefail
PACKAGES=(ceph-mon ceph-osd radosgw ceph-common)
have() { command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null && command -v radosgw >/dev/null &&
  command -v radosgw-admin >/dev/null && command -v monmaptool >/dev/null && command -v ceph >/dev/null && command -v curl >/dev/null; }
if have; then echo "ceph (mon, osd, radosgw) already installed"; exit 0; fi
SUDO=
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-ceph.sh: run as root (apt-get install ${PACKAGES[*]} curl)" >&2; exit 1; }
  SUDO=sudo
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}" curl
have
echo "ceph (mon, osd, radosgw) installed"

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# snap_stress.sh -- snapshots every ~100 ms for MMFS_SNAP_STRESS_SECONDS
# (default 12) of a directory that 4 processes rewrite (self-validating
# files, one pwrite per version), one churns (files renamed in and
# unlinked) and one renames a file back and forth (snapstress.py): every
# snapshot must hold every file as one whole version, never older than an
# earlier snapshot's, and the renamed file exactly once; then the live
# tree the same, the mount still up, the daemon exiting cleanly.
#
# Usage: snap_stress.sh [MOUNT-OPTIONS]   (default dram=1G)
# With pmem_size= the mount is on a pool in the test's directory (a small
# dram= keeps the tiering engine migrating beside it; a migration must
# have run) and fsck must find the pool clean after.
#
# TIMEOUT: 120
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_mmfsctl
require_cmd python3

HERE=$(cd "$(dirname "$0")" && pwd)
SECS=${MMFS_SNAP_STRESS_SECONDS:-12}
opts=${1:-dram=1G}
pool=
case $opts in
*pmem_size=*)
	require_option pmem_size
	pool=$TEST_DIR/pool
	MMFS_SOURCE=$pool
	;;
esac
mmfs_mount "$opts"
mkdir "$MNT/s" || fail "mkdir"
if [ -n "$pool" ]; then
	# cold data that fills the DRAM tier first: the files under test
	# start in PMEM, and the engine moves them while snapshots share them
	mkdir "$MNT/ballast"
	for i in 1 2 3; do
		head -c 8M /dev/urandom >"$MNT/ballast/b$i" || fail "ballast"
	done
fi
rc=0
MMFSCTL=$MMFSCTL_BIN timeout -k 10 $((SECS + 60)) \
	python3 "$HERE/snapstress.py" "$MNT/s" "$SECS" 4 || rc=1
is_mounted "$MNT" || fail "mount vanished (daemon crashed?)"
"$MMFSCTL_BIN" stat "$MNT" | sed 's/^/# /'
if [ -n "$pool" ]; then
	moves=$("$MMFSCTL_BIN" stat --json "$MNT" |
		python3 -c 'import json, sys; t = json.load(sys.stdin); print(t["promotions"] + t["demotions"])')
	[ "${moves:-0}" -gt 0 ] || { echo "no migration ran beside the snapshots" >&2; rc=1; }
fi
n=$("$MMFSCTL_BIN" stat --json "$MNT" | python3 -c 'import json, sys; t = json.load(sys.stdin); print(t["snapshots"], t["snap_bytes"])')
[ "$n" = "0 0" ] || { echo "snapshots/snap_bytes left after the run: $n" >&2; rc=1; }
rm -rf "$MNT/s" "$MNT/stage" "$MNT/ballast" || { echo "rm -rf failed" >&2; rc=1; }
mmfs_umount_checked
if [ -n "$pool" ]; then
	"$MMFSCTL_BIN" fsck "$pool" || { echo "fsck of the pool failed" >&2; rc=1; }
fi
[ $rc = 0 ] || fail "snapshots under load found errors"
exit 0

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# concurrency.sh -- several processes at once create, pwrite, truncate, mmap,
# read back, rename, unlink and list files in one shared tree, plus appends
# to a shared O_APPEND log (stress.c).  Every surviving file is then checked
# against its owner's xxh64 checksum, read cold, and nothing unexpected may
# exist.
#
# Usage: concurrency.sh [MOUNT-OPTIONS]   (default dram=1G)
# MMFS_STRESS_NPROC (default 4) and MMFS_STRESS_SECONDS (default 15; tests/soak.sh runs for an hour).
# With pmem_size= in the options the mount is on a pool in the test's
# directory, and commits (mmfsctl sync, 3 a second), the checkpoints they
# trigger and the tiering engine's migrations (a DRAM tier much smaller
# than the data, short epochs) run beside the I/O; every byte is checked,
# and fsck must find the pool clean after. With slow_nodes= the mount is
# volatile with a slow tier on that NUMA node (CXL memory's role), and the
# engine migrates between the two arenas beside the I/O.
#
# TIMEOUT: 240
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_mmfs
STRESS=$(helper stress)
NPROC=${MMFS_STRESS_NPROC:-4}
SECS=${MMFS_STRESS_SECONDS:-15}

opts=${1:-dram=1G}
case $opts in
*writeback*) require_option writeback ;;
esac
pool= slow=
case $opts in
*pmem_size=*)
	require_real_mmfs
	require_option pmem_size
	pool=$TEST_DIR/pool
	MMFS_SOURCE=$pool
	;;
*slow_nodes=*)
	require_real_mmfs
	require_option slow_nodes
	slow=1
	;;
esac
mmfs_mount "$opts"
mkdir "$MNT/s" || fail "mkdir"
rc=0
syncer=
if [ -n "$pool" ]; then
	( while sleep 0.3; do "$MMFSCTL_BIN" sync "$MNT" || exit 1; done ) &
	syncer=$!
fi
timeout -k 10 $((SECS + 120)) "$STRESS" "$MNT/s" "$NPROC" "$SECS" "$TMP" || rc=1
if [ -n "$syncer" ]; then
	kill "$syncer" 2>/dev/null
	wait "$syncer" 2>/dev/null
fi
if [ -n "$pool$slow" ]; then
	"$MMFSCTL_BIN" stat "$MNT" | sed 's/^/# /'
	moves=$("$MMFSCTL_BIN" stat --json "$MNT" |
		python3 -c 'import json,sys; t=json.load(sys.stdin); print(t["promotions"] + t["demotions"], t["remap_busy"])')
	read -r moves busy <<<"$moves"
	[ "${moves:-0}" -gt 0 ] || { echo "no migration ran beside the I/O" >&2; rc=1; }
	# moves the engine put off because I/O held the chunk's stripe
	[[ ${busy:-} =~ ^[0-9]+$ ]] || { echo "mmfsctl stat --json: no remap_busy count" >&2; rc=1; }
	echo "# $moves moves, $busy put off while I/O held the chunk"
fi
is_mounted "$MNT" || fail "mount vanished (daemon crashed?)"
# the tree can be removed completely
rm -rf "$MNT/s" || { echo "rm -rf of the tree failed" >&2; rc=1; }
left=$(ls -A "$MNT" | wc -l)
[ "$left" = 0 ] || { echo "mount not empty after rm -rf: $(ls -A "$MNT")" >&2; rc=1; }
df -k "$MNT" | sed 's/^/# /'
mmfs_umount_checked
if [ -n "$pool" ]; then
	"$MMFSCTL_BIN" fsck "$pool" || { echo "fsck of the pool failed" >&2; rc=1; }
fi
[ $rc = 0 ] || fail "concurrency stress found errors"
exit 0

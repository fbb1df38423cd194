#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# odirect_mmap.sh -- O_DIRECT (pwrite and AIO), buffered and shared-mapped
# access to one file agree (odirect_mmap.c): an O_DIRECT fd can be mapped
# MAP_SHARED, every read sees the last write whichever way it came. Runs
# on tmpfs (the reference: it must pass there), on a volatile mmfs, on
# mmfs with chunk=4k, and on a pool. Then on mmfs -o direct_io (every open
# FOPEN_DIRECT_IO), what fs/README.md documents there: MAP_SHARED refused
# with ENODEV, MAP_PRIVATE works.
#
# TIMEOUT: 180
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_mmfs
CHECK=$(helper odirect_mmap) || exit 1

rc=0
tmpfs_mount size=256M
log "odirect_mmap on tmpfs"
timeout -k 10 60 "$CHECK" "$MNT"
case $? in
0) ;;
77) fail "tmpfs refuses O_DIRECT on this kernel: no reference to compare with" ;;
*) fail "odirect_mmap fails on tmpfs itself: the test is wrong" ;;
esac

run_mmfs() { # OPTS [ARGS...]
	local opts=$1
	shift
	mmfs_mount "$opts"
	log "odirect_mmap $* on $MMFS_SOURCE -o $opts"
	timeout -k 10 60 "$CHECK" "$@" "$MNT" || rc=1
	is_mounted "$MNT" || fail "mount vanished (daemon crashed?)"
	mmfs_umount_checked
}

run_mmfs dram=256M
run_mmfs dram=256M,chunk=4k
if [ "$MMFS_TEST_TARGET" = mmfs ]; then
	MMFS_SOURCE=$TEST_DIR/pool
	run_mmfs pmem_size=256M,dram=64M
	"$MMFSCTL_BIN" fsck "$MMFS_SOURCE" >"$TMP/fsck" 2>&1 ||
		{ cat "$TMP/fsck" >&2; fail "fsck of the pool failed"; }
	MMFS_SOURCE=none
	run_mmfs dram=256M,direct_io --uncached
fi
[ $rc = 0 ] || fail "O_DIRECT/buffered/mmap coherence checks failed"
exit 0

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# fhandle.sh -- file handles (name_to_handle_at / open_by_handle_at, as NFS
# re-export uses them) across `drop_caches` (fhandle.c): a file, a
# directory, a subdirectory (reconnected through its parent), a hard link
# and the root reopen by handle with the right contents; unlinked files go
# stale once closed, also when their inode number was reused. The same
# run on tmpfs, a volatile mmfs and an mmfs pool; on the pool the handles
# stay valid across unmount and mount (inode numbers and generations are
# persistent, as on ext4); on a fresh volatile mount (tmpfs or mmfs) old
# handles are stale. The kernel must not log "root generation should be
# zero" for our mounts. Each run drops the machine's caches twice.
#
# TIMEOUT: 300
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_mmfs
require_cmd dmesg
FH=$(helper fhandle)
DMESG0=$(dmesg | wc -l)
# The kernel prints it with pr_warn_once: once per boot (module load).
SEEN0=$(dmesg | grep -c "root generation should be zero")

# fh MODE STATE KIND -- the helper on $MNT; fails the test on a failure
fh() {
	if ! "$FH" "$1" "$MNT" "$TMP/$2" >"$TMP/$3.out" 2>&1; then
		cat "$TMP/$3.out" >&2
		is_mounted "$MNT" || fail "$3: mount vanished (daemon crashed?)"
		fail "$3: fhandle $1 failed"
	fi
	log "$3: fhandle $1: $(grep -c '^ok' "$TMP/$3.out") checks passed$(
		grep '^# w has' "$TMP/$3.out" | sed 's/^#/;/')"
}

tmpfs_mount size=64M
fh run tmpfs.st tmpfs
umount_one "$MNT" || fail "umount tmpfs"
tmpfs_mount size=64M
fh tree tmpfs2.st tmpfs-again
fh stale tmpfs.st tmpfs-old-handles
umount_one "$MNT" || fail "umount tmpfs"

if [ "$MMFS_TEST_TARGET" = mmfs ]; then
	mmfs_mount dram=256M
	fh run vol.st mmfs
	mmfs_umount_checked
	mmfs_mount dram=256M
	fh tree vol2.st mmfs-again
	fh stale vol.st mmfs-old-handles
	mmfs_umount_checked

	require_option pmem_size
	MMFS_SOURCE=$TEST_DIR/pool
	mmfs_mount pmem_size=256M,dram=64M
	fh run pool.st pool
	mmfs_umount_checked
	mmfs_mount dram=64M
	fh check pool.st pool-remounted
	mmfs_umount_checked
fi

if dmesg | tail -n +"$((DMESG0 + 1))" | grep -q "root generation should be zero"; then
	fail "the kernel logged 'root generation should be zero' during the test"
fi
[ "$SEEN0" = 0 ] ||
	log "note: 'root generation should be zero' was printed earlier this boot; the kernel prints it once, so the dmesg check could not see a repeat (test_fs_dir checks the root's generation)"

exit 0

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# fsck_repair.sh -- `mmfsctl fsck --repair` on a pool with a damaged
# superblock copy: fsck reports it (exit 1) while the pool still mounts from
# the other copy; --repair rewrites it (exit 0); fsck is then clean and the
# files are intact. Also: fsck of a mounted pool is refused (exit 2), and a
# namespace fsck must not change a clean pool by a single byte.
# (fs/check.c's namespace repairs are unit-tested in test_fs_persist.)
#
# TIMEOUT: 120
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_cmd sha256sum cmp
require_option pmem_size
require_mmfsctl

POOL=$TEST_DIR/pool
MMFS_SOURCE=$POOL
mmfs_mount "pmem_size=64M,dram=4M"
mkdir "$MNT/d" || fail "mkdir"
for i in 1 2 3; do
	head -c $((i * 300000)) /dev/urandom >"$MNT/d/f$i" || fail "write"
done
ln -s d/f1 "$MNT/link" || fail "symlink"
(cd "$MNT" && sha256sum d/f1 d/f2 d/f3) >"$TMP/sums"
"$MMFSCTL_BIN" fsck "$POOL" >"$TMP/busy.out" 2>&1
rc=$?
[ $rc = 2 ] || fail "fsck of a mounted pool: exit $rc, want 2"
grep -q "in use" "$TMP/busy.out" || fail "fsck of a mounted pool: $(cat "$TMP/busy.out")"
mmfs_umount_checked

"$MMFSCTL_BIN" fsck "$POOL" || fail "fsck of a clean pool"
cp "$POOL" "$TMP/before"
"$MMFSCTL_BIN" fsck "$POOL" >/dev/null || fail "second fsck"
cmp -s "$POOL" "$TMP/before" || fail "a read-only fsck changed the pool"

# Damage superblock copy 0 inside its checksummed 256 bytes.
printf '\377\377\377\377' | dd of="$POOL" bs=1 seek=170 conv=notrunc status=none
"$MMFSCTL_BIN" fsck "$POOL" >"$TMP/fsck1.out"
rc=$?
cat "$TMP/fsck1.out" | sed 's/^/# /'
[ $rc = 1 ] || fail "fsck of a damaged superblock copy: exit $rc, want 1"
grep -q "superblock copy 0" "$TMP/fsck1.out" || fail "fsck did not name the copy"

"$MMFSCTL_BIN" fsck --repair "$POOL" >"$TMP/fsck2.out"
rc=$?
sed 's/^/# /' "$TMP/fsck2.out"
[ $rc = 0 ] || fail "fsck --repair: exit $rc, want 0"
"$MMFSCTL_BIN" fsck "$POOL" >"$TMP/fsck3.out" || {
	cat "$TMP/fsck3.out" >&2
	fail "fsck after --repair is not clean"
}
grep -q "clean" "$TMP/fsck3.out" || fail "fsck after --repair: $(cat "$TMP/fsck3.out")"

mmfs_mount "dram=4M"
(cd "$MNT" && sha256sum -c --quiet "$TMP/sums") || fail "data changed"
[ "$(readlink "$MNT/link")" = d/f1 ] || fail "symlink lost"
mmfs_umount_checked
log "damaged superblock found, repaired, data intact"
exit 0

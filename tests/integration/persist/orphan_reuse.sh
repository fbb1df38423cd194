#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# orphan_reuse.sh -- the last close of an unlinked file frees its chunks;
# a later file reuses them (freed ids are reused first) and is fsync'd;
# then the daemon is killed. Recovery must not free those chunks under the
# later file as the orphan's (its data read back wrong, or fsck reporting a
# chunk owned twice). The close logs its punch (fs_inode_close); recovery's
# chunk counts come from the maps, so either alone would keep the later
# file whole: this checks the pair. Each round: fsck, the fsync'd file's
# checksum after recovery, and again after new allocations that would take
# any chunk wrongly freed.
#
# TIMEOUT: 180
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_cmd python3 sha256sum
require_option pmem_size
require_mmfsctl

POOL=$TEST_DIR/pool
MMFS_SOURCE=$POOL
ROUNDS=${MMFS_ORPHAN_ROUNDS:-3}
# commit=1: the freed chunks become reusable a second after their epoch.
OPTS=pmem_size=64M,dram=4M,commit=1

# hold_unlink_close NAME -- open, unlink, fsync the directory (the unlink is
# durable), wait for a commit, then close: the data goes at the close.
hold_unlink_close() {
	python3 - "$MNT" "$1" <<'EOF' || fail "unlink while open: $1"
import os, sys, time
mnt, name = sys.argv[1], sys.argv[2]
fd = os.open(os.path.join(mnt, name), os.O_RDONLY)
os.unlink(os.path.join(mnt, name))
d = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
os.fsync(d)
os.close(d)
time.sleep(1.5)
os.close(fd)
EOF
}

# write_synced NAME MIB -- random content, fsync'd
write_synced() {
	python3 - "$MNT/$1" "$2" <<'EOF' || fail "write $1"
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for _ in range(int(sys.argv[2]) * 16):
    os.write(fd, os.urandom(65536))
os.fsync(fd)
os.close(fd)
d = os.open(os.path.dirname(sys.argv[1]), os.O_RDONLY | os.O_DIRECTORY)
os.fsync(d)
os.close(d)
EOF
}

for r in $(seq 1 "$ROUNDS"); do
	rm -f "$POOL"
	mmfs_mount "$OPTS"
	write_synced old 8
	hold_unlink_close old
	sleep 1.5 # a commit: old's chunks are reusable now
	write_synced new 8
	(cd "$MNT" && sha256sum new) >"$TMP/sums"
	mmfs_kill9 || fail "round $r: mount still there after kill -9"

	"$MMFSCTL_BIN" fsck "$POOL" >"$TMP/fsck.out" 2>&1 || {
		sed 's/^/# /' "$TMP/fsck.out"
		fail "round $r: fsck after the crash is not clean"
	}
	mmfs_mount "$OPTS"
	[ ! -e "$MNT/old" ] || fail "round $r: the unlinked file came back"
	(cd "$MNT" && sha256sum -c --quiet "$TMP/sums") ||
		fail "round $r: the fsync'd file changed after recovery"
	write_synced fill 24 # takes any chunk recovery freed wrongly
	(cd "$MNT" && sha256sum -c --quiet "$TMP/sums") ||
		fail "round $r: the fsync'd file changed under new writes"
	mmfs_umount_checked
	"$MMFSCTL_BIN" fsck "$POOL" >"$TMP/fsck.out" 2>&1 || {
		sed 's/^/# /' "$TMP/fsck.out"
		fail "round $r: fsck after the clean unmount is not clean"
	}
	log "round $r: orphan freed at close, its chunks reused, intact"
done
exit 0

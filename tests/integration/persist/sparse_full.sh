#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# sparse_full.sh -- a sparse pool on a filesystem that fills up: a 256 MiB
# pool made with `mmfsctl mkfs --sparse` on a 40 MiB tmpfs. Writes past
# what the tmpfs holds fail with ENOSPC (each chunk's home gets its blocks
# when the chunk is allocated), never SIGBUS in the daemon; the daemon
# keeps serving, an fsync'd file is intact, deleting makes room again, the
# unmount is clean and a remount (itself on the full tmpfs) finds the data;
# fsck is clean.
#
# TIMEOUT: 180
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_cmd sha256sum
require_option pmem_size
[ -x "${MMFSCTL_BIN:-}" ] || fail "MMFSCTL_BIN not set"

SMALL=$TEST_DIR/small
mkdir "$SMALL"
mount -t tmpfs -o size=40M tmpfs "$SMALL" || fail "mount a 40M tmpfs"
at_exit "umount '$SMALL'"
POOL=$SMALL/pool
"$MMFSCTL_BIN" mkfs --sparse --size 256M "$POOL" >"$TMP/mkfs.out" 2>&1 ||
	fail "mkfs --sparse: $(cat "$TMP/mkfs.out")"
log "sparse pool: $(du -k "$POOL" | cut -f1) KiB of 262144 allocated"

MMFS_SOURCE=$POOL
mmfs_mount "dram=8M"
head -c 4M /dev/urandom >"$TMP/keep" || fail "random data"
dd if="$TMP/keep" of="$MNT/keep" bs=1M conv=fsync status=none ||
	fail "an fsync'd 4 MiB file on the sparse pool"
want=$(sha256sum <"$TMP/keep")

# more than the tmpfs holds: ENOSPC, and the daemon lives
if dd if=/dev/zero of="$MNT/big" bs=1M count=100 conv=fsync \
	status=none 2>"$TMP/dd.err"; then
	fail "100 MiB written to a pool on a 40 MiB tmpfs"
fi
grep -q "No space left on device" "$TMP/dd.err" ||
	fail "writing past the tmpfs: $(cat "$TMP/dd.err"), expected ENOSPC"
kill -0 "$MMFS_PID" 2>/dev/null || fail "the daemon died: $(tail -5 "$MMFS_LOG")"
grep -qi "sigbus\|bus error" "$MMFS_LOG" && fail "SIGBUS in the log"
log "ENOSPC after $(($(stat -c %s "$MNT/big") >> 20)) MiB; tmpfs $(df -k --output=used "$SMALL" | tail -1) KiB used"
[ "$(sha256sum <"$MNT/keep")" = "$want" ] || fail "the fsync'd file changed"

# a mapping's stores on a full pool: SIGBUS would be the application's,
# never the daemon's (the write fault allocates its chunk, or fails)
python3 - "$MNT/mapped" <<'EOF' 2>"$TMP/map.err"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0o644)
os.ftruncate(fd, 8 << 20)
m = mmap.mmap(fd, 8 << 20)
try:
    for off in range(0, 8 << 20, 4096):
        m[off] = 1
    m.flush()
except (OSError, ValueError):
    pass
EOF
kill -0 "$MMFS_PID" 2>/dev/null || fail "the daemon died under mapped stores: $(tail -5 "$MMFS_LOG")"

# deleting makes room again (freed chunks are reused once committed)
rm -f "$MNT/big" "$MNT/mapped"
"$MMFSCTL_BIN" sync "$MNT" >/dev/null 2>&1 || fail "mmfsctl sync"
dd if=/dev/urandom of="$MNT/again" bs=1M count=8 conv=fsync status=none \
	2>"$TMP/dd2.err" || fail "8 MiB after deleting: $(cat "$TMP/dd2.err")"
mmfs_umount_checked

"$MMFSCTL_BIN" fsck "$POOL" >"$TMP/fsck.out" 2>&1 ||
	fail "fsck of the sparse pool: $(cat "$TMP/fsck.out")"
MMFS_SOURCE=$POOL
mmfs_mount "dram=8M"
[ "$(sha256sum <"$MNT/keep")" = "$want" ] ||
	fail "after a remount, the fsync'd file differs"
[ "$(stat -c %s "$MNT/again")" = $((8 << 20)) ] || fail "'again' lost its size"
mmfs_umount_checked
echo "ok - a sparse pool on a full filesystem: ENOSPC, no SIGBUS, data kept"

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# meta_full.sh -- full tiers on a pool: on a 16 MiB pool, creating empty
# files until ENOSPC (the namespace reaches the checkpoint area's bound)
# and then writing until ENOSPC (the chunks run out) fail cleanly; every
# file made before is still there after a remount, with its data; fsck is
# clean. Then deleting frees the room again.
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
mmfs_mount "pmem_size=16M,dram=1M"
mkdir "$MNT/big" "$MNT/many" || fail "mkdir"
# Data first: one file until the chunks run out.
head -c 64M /dev/urandom >"$MNT/big/f" 2>"$TMP/dd.err"
grep -q "No space left" "$TMP/dd.err" || fail "no ENOSPC writing 64M to a 16M pool"
size=$(stat -c %s "$MNT/big/f")
[ "$size" -gt $((8 << 20)) ] || fail "only $size bytes fit"
sha256sum "$MNT/big/f" | cut -d' ' -f1 >"$TMP/big.sum"
# Then names until the metadata area's bound.
n=$(python3 - "$MNT/many" <<'PY'
import errno, os, sys
d = sys.argv[1]
n = 0
while True:
    try:
        open(os.path.join(d, "f%06d" % n), "w").close()
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        break
    n += 1
print(n)
PY
) || fail "create loop"
log "$size bytes of data, then $n empty files before ENOSPC"
[ "$n" -gt 1000 ] || fail "only $n files fit"
setfattr -n user.x -v y "$MNT/big/f" 2>/dev/null && fail "xattr set past the bound"
sync "$MNT" || fail "sync"
mmfs_umount_checked
"$MMFSCTL_BIN" fsck "$POOL" || fail "fsck after filling"

mmfs_mount "dram=1M"
[ "$(ls "$MNT/many" | wc -l)" = "$n" ] || fail "files lost: $(ls "$MNT/many" | wc -l) of $n"
[ "$(sha256sum "$MNT/big/f" | cut -d' ' -f1)" = "$(cat "$TMP/big.sum")" ] || fail "data changed"
# Deleting gives the room back.
rm -rf "$MNT/many" "$MNT/big" || fail "rm"
head -c 4M /dev/urandom >"$MNT/again" || fail "write after delete"
touch "$MNT/new" || fail "create after delete"
mmfs_umount_checked
"$MMFSCTL_BIN" fsck "$POOL" || fail "fsck after deleting"
exit 0

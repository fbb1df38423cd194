#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# reflink.sh -- copy_file_range shares chunks copy-on-write (fs/data.c
# fs_data_copy), on a volatile mount and on a pool (reflink_check.py cow):
#   - cp of 0 B, 100 B, one chunk, one chunk + 1 B, 5 MiB + 12345 B: same
#     bytes (sha256 of a cold read), st_blocks and SEEK_DATA/SEEK_HOLE
#     extents as the source, df used grows by at most one chunk; a sparse
#     file: coreutils 9.1 cp copies its data extents by read/write (sparse,
#     not shared), copy_file_range of the whole file shares it;
#   - dd conv=notrunc of 4 KiB into the copy: source unchanged, exactly one
#     chunk more; again into that chunk: none; into the source: copy
#     unchanged, one chunk;
#   - truncate (down mid-chunk, then up: zeros) and punch-hole, in the copy
#     and in the source; mmap stores into either: the other unchanged;
#   - copy_file_range at offsets 1 -> 3 and others (same offset in a chunk,
#     middle of both files, past either EOF, a tail inside one chunk)
#     against a reference; within one file (non-overlapping, the tail to
#     past EOF, then grown: zeros); overlapping ranges: EINVAL;
#   - cp --reflink=always fails (expected: the kernel never sends FICLONE
#     to a FUSE server), cp --reflink=auto clones;
# on dram=16M (reflink_check.py enospc): a 6 MiB clone on a nearly full
# mount succeeds and takes no space; overwriting it ends in ENOSPC after
# about the free space, the source intact, the clone holding what was
# written; deleting it frees exactly that;
# mmfsctl clone: shares (df), keeps SRC's mode bits (minus umask); fails
# with one line, exit 1 and nothing created across mounts, onto an
# existing file without --force, from a non-mmfs file or a directory;
# --force replaces;
# on a pool: clones and CoW writes survive a clean unmount (fsck clean)
# and kill -9 after an fsync; df used stays that of one copy.
#
# TIMEOUT: 120
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_cmd python3 cp dd fallocate cmp stat
require_mmfsctl
require_option pmem_size

HERE=$(cd "$(dirname "$0")" && pwd)
CHECK="$HERE/reflink_check.py"
C=65536
errors=0
bad() { echo "not ok - $*"; errors=$((errors + 1)); }
ok() { echo "ok - $*"; }
used() { df -B1 --output=used "$1" | tail -n1 | tr -d ' '; }

# check WHAT -- reflink_check.py WHAT on $MNT
check() {
	timeout -k 5 60 python3 "$CHECK" "$1" "$MNT" "$C" ||
		bad "reflink_check.py $1 on $MNT (-o ${2:-})"
}

# 1. volatile: the CoW checks, then mmfsctl clone
umask 022
mmfs_mount dram=1G,chunk=64k
check cow dram=1G
f=$MNT/cow/few_mib
chmod 640 "$f"
u0=$(used "$MNT")
if "$MMFSCTL_BIN" clone "$f" "$MNT/cl" 2>"$TMP/err"; then
	cmp -s "$f" "$MNT/cl" && ok "mmfsctl clone: same bytes" ||
		bad "mmfsctl clone: bytes differ"
	[ $(($(used "$MNT") - u0)) -le $C ] &&
		ok "mmfsctl clone: df used grew $(($(used "$MNT") - u0))" ||
		bad "mmfsctl clone: df used grew $(($(used "$MNT") - u0))"
	[ "$(stat -c %a "$MNT/cl")" = 640 ] && ok "mmfsctl clone: mode 640" ||
		bad "mmfsctl clone: mode $(stat -c %a "$MNT/cl"), not 640"
else
	bad "mmfsctl clone: $(cat "$TMP/err")"
fi
u0=$(used "$MNT")
"$MMFSCTL_BIN" clone "$MNT/cow/sparse" "$MNT/cl-sparse" &&
	cmp -s "$MNT/cow/sparse" "$MNT/cl-sparse" &&
	[ "$(stat -c %b "$MNT/cl-sparse")" = "$(stat -c %b "$MNT/cow/sparse")" ] &&
	[ $(($(used "$MNT") - u0)) -le $C ] &&
	ok "mmfsctl clone of the sparse file: shared, same bytes and blocks" ||
	bad "mmfsctl clone of the sparse file"

# expect_fail WHAT ARGS... -- mmfsctl clone ARGS fails: exit 1, one line
expect_fail() {
	local what=$1 rc=0
	shift
	"$MMFSCTL_BIN" clone "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	if [ $rc = 1 ] && [ "$(wc -l <"$TMP/err")" = 1 ] && [ ! -s "$TMP/out" ] &&
		grep -q "^mmfsctl: clone .*: " "$TMP/err"; then
		ok "mmfsctl clone $what fails: $(cat "$TMP/err")"
	else
		bad "mmfsctl clone $what: exit $rc, '$(cat "$TMP/err" "$TMP/out")'"
	fi
}
expect_fail "across mounts" "$f" "$TMP/elsewhere"
[ -e "$TMP/elsewhere" ] && bad "... but created $TMP/elsewhere"
echo other >"$MNT/exists"
expect_fail "onto an existing file" "$f" "$MNT/exists"
[ "$(cat "$MNT/exists")" = other ] || bad "... but changed it"
expect_fail "from a file not on mmfs" /etc/hostname "$MNT/x"
expect_fail "of a directory" "$MNT/cow" "$MNT/x"
expect_fail "onto itself" --force "$f" "$f"
[ -e "$MNT/x" ] && bad "a failed clone left $MNT/x"
if "$MMFSCTL_BIN" clone --force "$f" "$MNT/exists" && cmp -s "$f" "$MNT/exists"; then
	ok "mmfsctl clone --force replaces an existing file"
else
	bad "mmfsctl clone --force"
fi
mmfs_umount_checked

# 2. a nearly full volatile mount: clone, then overwrite until ENOSPC
mmfs_mount dram=16M,chunk=64k
check enospc dram=16M
mmfs_umount_checked

# 3. a pool: the CoW checks, then persistence
POOL=$TEST_DIR/pool
OPTS=pmem_size=256M,dram=64M,chunk=64k,commit=3600	# only syncs commit
MMFS_SOURCE=$POOL

fsck_clean() {
	if "$MMFSCTL_BIN" fsck "$POOL" >"$TMP/fsck" 2>&1; then
		ok "fsck clean ($1)"
	else
		sed 's/^/# /' "$TMP/fsck"
		bad "fsck ($1)"
	fi
}

# verify WHAT -- the manifest of step 3 still holds; used as before
verify() {
	timeout -k 5 60 python3 "$CHECK" verify "$MNT" "$C" "$man" ||
		bad "files after $1"
	u=$(used "$MNT")
	[ "$u" -le $((u_made + C)) ] &&
		ok "after $1: df used $u (was $u_made): still shared" ||
		bad "after $1: df used $u, was $u_made"
}

mmfs_mount "$OPTS"
check cow "$OPTS"
man=$(timeout -k 5 60 python3 "$CHECK" make "$MNT" "$C") || bad "make"
u_made=$(used "$MNT")
log "pool: used $u_made after the clones ($(echo "$man" | grep -o '"used_growth": [0-9]*'))"
echo "$man" | grep -q '"used_growth": \(0\|[0-9]\{1,6\}\)[,}]' &&
	ok "16 MiB clone + 3 CoW writes + a 4-chunk range grew df by < 1 MB" ||
	bad "clones on the pool took space: $man"
mmfs_umount_checked
fsck_clean "after clones and a clean unmount"
mmfs_mount "$OPTS"
verify "a clean unmount and mount"
# one more clone and CoW write, fsync, kill -9
python3 - "$MNT/p" <<'PY' || bad "clone before the crash"
import os, sys
d = sys.argv[1]
s = os.open(f"{d}/src", os.O_RDONLY)
t = os.open(f"{d}/crash", os.O_CREAT | os.O_RDWR, 0o644)
n, off = os.fstat(s).st_size, 0
while off < n:
    off += os.copy_file_range(s, t, n - off, off, off)
os.pwrite(t, b"K" * 100, 65536 * 7 + 3)
os.fsync(t)
PY
man=$(python3 - "$man" "$MNT/p/src" <<'PY'
import hashlib, json, sys
m = json.loads(sys.argv[1])
d = bytearray(open(sys.argv[2], "rb").read())
d[65536 * 7 + 3:65536 * 7 + 103] = b"K" * 100
m["crash"] = hashlib.sha256(d).hexdigest()
print(json.dumps(m))
PY
)
u_made=$((u_made + C))
mmfs_kill9 "$MNT" "$MMFS_PID" || bad "dead mount not unmounted"
mmfs_mount "$OPTS"
verify "fsync and kill -9"
mmfs_umount_checked
fsck_clean "after kill -9, recovery and a clean unmount"

[ $errors = 0 ] || fail "$errors reflink checks failed"
exit 0

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# mmfsctl.sh -- the admin CLI against a real mount:
#   - `mmfsctl stat MOUNT` (human) and `--json` (parsed) report the DRAM
#     budget given at mount, the chunk size, and chunk use that follows
#     what is written and deleted (checked against df);
#   - it works on any file or directory of the mount;
#   - `mmfsctl top MOUNT --count 2` prints two snapshots and exits;
#   - on a path that is not mmfs, or with bad usage, it fails clearly.
#
# TIMEOUT: 60
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_mmfs
require_cmd python3
require_mmfsctl

errors=0
bad() { echo "not ok - $*"; errors=$((errors + 1)); }
ok() { echo "ok - $*"; }

mmfs_mount dram=64M,chunk=64k
json() { "$MMFSCTL_BIN" stat "$1" --json; }
field() { # JSON PATH... -> value
	python3 -c 'import json,sys; v=json.loads(sys.argv[1])
for k in sys.argv[2:]: v=v[k]
print(v)' "$@"
}

j=$(json "$MNT") || bad "mmfsctl stat --json on the mount root"
[ "$(field "$j" dram total)" = $((64 << 20)) ] &&
	ok "dram.total is the dram= budget" || bad "dram.total: $j"
[ "$(field "$j" chunk_size)" = 65536 ] && ok "chunk_size" || bad "chunk_size: $j"
used0=$(field "$j" dram used)

head -c $((4 << 20)) /dev/urandom >"$MNT/f"
mkdir "$MNT/d" && echo x >"$MNT/d/g"
j=$(json "$MNT/d/g") || bad "mmfsctl stat --json on a file of the mount"
used1=$(field "$j" dram used)
[ $((used1 - used0)) -ge $((4 << 20)) ] &&
	ok "dram.used grew by the 4 MiB written (+$((used1 - used0)))" ||
	bad "dram.used: $used0 -> $used1"
[ "$(field "$j" inodes)" -ge 4 ] && ok "inodes counted" || bad "inodes: $j"
df_used=$(df -B1 --output=used "$MNT" | tail -1 | tr -d ' ')
[ "$df_used" = "$used1" ] && ok "df agrees with mmfsctl ($df_used bytes)" ||
	bad "df used $df_used != mmfsctl $used1"

rm "$MNT/f"
j=$(json "$MNT")
[ "$(field "$j" dram used)" -lt "$used1" ] && ok "deleting gives chunks back" ||
	bad "dram.used after delete: $j"

out=$("$MMFSCTL_BIN" stat "$MNT")
echo "$out" | sed 's/^/# /'
echo "$out" | grep -q "dram:.*used of 64.0M" && ok "human output" ||
	bad "human output lacks the dram line"

out=$("$MMFSCTL_BIN" stat /proc 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "not on an mmfs mount" &&
	ok "a path that is not mmfs: exit 1, '$out'" || bad "non-mmfs path: rc=$rc '$out'"
"$MMFSCTL_BIN" stat >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok "bad usage: exit 2" || bad "bad usage: rc=$rc"
"$MMFSCTL_BIN" stat "$MNT/missing" >/dev/null 2>&1; rc=$?
[ $rc = 1 ] && ok "missing path: exit 1" || bad "missing path: rc=$rc"

# top on a volatile mount: snapshots, no engine lines (tier/libmmfs.sh
# checks it on a pool).
out=$("$MMFSCTL_BIN" top "$MNT" --count 2 --interval 0.2); rc=$?
[ $rc = 0 ] && [ "$(echo "$out" | grep -c '^mmfs top ')" = 2 ] &&
	echo "$out" | grep -q '^  tiering  off (DRAM-only' &&
	ok "mmfsctl top --count 2" || bad "top: rc=$rc '$out'"

mmfs_umount_checked
[ $errors = 0 ] || fail "$errors mmfsctl check(s) failed"
exit 0

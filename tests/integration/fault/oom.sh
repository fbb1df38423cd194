#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# oom.sh -- the daemon and the kernel's OOM killer (README.md, "Memory and
# the OOM killer"). A volatile mount's files live only in the daemon: if
# the OOM killer picks it they are gone, so mmfs lowers its own OOM score
# (-1000 volatile, -900 with a pool, or oom_score_adj=N). Lowering needs
# CAP_SYS_RESOURCE: where the machine refuses it (a container's root), the
# daemon says so in one warning and mounts anyway. Checks, in that order:
#   1. the score each mount takes: the default, -o oom_score_adj=N, a live
#      remount, and one warning (exactly one) where lowering is refused;
#      bad values are refused with one line;
#   2. memory pressure: the daemon holding 256 MiB of files in a memory
#      cgroup of 384 MiB, and another process of the same cgroup that
#      allocates 256 MiB. Where the score could be lowered, the OOM killer
#      takes the other process and every file reads back. Where it could
#      not, the daemon is the biggest process and the documented failure
#      is what must happen: the daemon dies of SIGKILL, the mount answers
#      ENOTCONN, nothing hangs;
#   3. a pool mount bigger than its cgroup: 320 MiB written and fsync'd
#      through a pool with dram=32M in a cgroup of 192 MiB: the pool is
#      file-backed, so the kernel reclaims its pages instead of killing;
#      the data reads back, also after a remount outside the cgroup.
# The cgroup is the memory controller of cgroup v1 (/sys/fs/cgroup/memory)
# or v2; a machine with neither fails the test (it is in every Debian
# kernel).
#
# TIMEOUT: 300
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_cmd python3 sha256sum dd
require_option oom_score_adj

errors=0
bad() { echo "not ok - $*"; errors=$((errors + 1)); }
ok() { echo "ok - $*"; }

score_of() { cat "/proc/$1/oom_score_adj"; }
warnings() { grep -c "cannot set oom_score_adj" "$MMFS_LOG"; }

# Can this machine lower an OOM score at all? (A child shell tries on itself.)
if sh -c 'echo -1 >/proc/self/oom_score_adj' 2>/dev/null; then
	CAN=1
	log "this machine lets root lower OOM scores"
else
	CAN=0
	log "this machine refuses to lower OOM scores (no CAP_SYS_RESOURCE):" \
	    "the daemon must warn once and keep the score it inherited"
fi
MINE=$(score_of $$)

# expect_score WANT -- the live daemon's score is WANT (or, where lowering
# is refused and WANT is lower than what it inherited, unchanged + a warning)
expect_score() {
	local want=$1 got n
	got=$(score_of "$MMFS_PID")
	n=$(warnings)
	if [ "$want" -ge "$MINE" ] || [ $CAN = 1 ]; then
		[ "$got" = "$want" ] && [ "$n" = 0 ] &&
			ok "oom_score_adj $got ($2)" ||
			bad "oom_score_adj $got, $n warnings; want $want ($2)"
	else
		[ "$got" = "$MINE" ] && [ "$n" = 1 ] &&
			ok "oom_score_adj $got kept, one warning ($2)" ||
			bad "oom_score_adj $got, $n warnings; want $MINE and one warning ($2)"
	fi
}

# 1. scores
mmfs_mount dram=64M
expect_score -1000 "volatile default"
"$MMFS_BIN" none "$MNT" -o remount,oom_score_adj=250 >"$TMP/rm.out" 2>&1 ||
	bad "remount,oom_score_adj=250: $(cat "$TMP/rm.out")"
[ "$(score_of "$MMFS_PID")" = 250 ] && ok "remount sets 250" ||
	bad "after remount,oom_score_adj=250 the score is $(score_of "$MMFS_PID")"
if "$MMFS_BIN" none "$MNT" -o remount,oom_score_adj=2000 >"$TMP/rm.out" 2>&1; then
	bad "remount,oom_score_adj=2000 accepted"
else
	grep -q "oom_score_adj=2000" "$TMP/rm.out" && ok "remount refuses 2000" ||
		bad "remount refusal does not name the option: $(cat "$TMP/rm.out")"
fi
mmfs_umount_checked

mmfs_mount dram=64M,oom_score_adj=300
expect_score 300 "oom_score_adj=300"
mmfs_umount_checked

MMFS_SOURCE=$TEST_DIR/pool0 mmfs_mount dram=16M,pmem_size=64M
expect_score -900 "pool default"
mmfs_umount_checked

for v in abc 1001 -1001 ""; do
	out=$("$MMFS_BIN" -f none "$TEST_DIR" -o "dram=16M,oom_score_adj=$v" 2>&1)
	rc=$?
	if [ $rc = 0 ] || [ "$(printf '%s\n' "$out" | wc -l)" != 1 ] ||
	   ! grep -q "oom_score_adj" <<<"$out"; then
		bad "oom_score_adj='$v': exit $rc, '$out'"
	else
		ok "oom_score_adj='$v' refused: $out"
	fi
done

# 2 and 3 need a memory cgroup of our own
CG=
if [ -d /sys/fs/cgroup/memory ] && [ -w /sys/fs/cgroup/memory ]; then
	CG=/sys/fs/cgroup/memory/mmfs-oom-$$
	LIMIT=memory.limit_in_bytes
elif grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
	CG=/sys/fs/cgroup/mmfs-oom-$$
	LIMIT=memory.max
fi
[ -n "$CG" ] || fail "no memory cgroup (v1 or v2) to test memory pressure in"
mkdir "$CG" || fail "cannot make the cgroup $CG"
# what this test put in the cgroup is gone by then (killed or reaped)
at_exit rmdir "$CG"
# no swap escape: the limit is the memory the group has
[ -e "$CG/memory.swappiness" ] && echo 0 >"$CG/memory.swappiness"
[ -e "$CG/memory.swap.max" ] && echo 0 >"$CG/memory.swap.max"

# in_cg CMD... -- run CMD inside the cgroup
in_cg() { sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$@"; }

# 2. a volatile daemon in the cgroup, and a process beside it that grows
echo $((384 << 20)) >"$CG/$LIMIT"
mmfs_mount dram=320M
echo "$MMFS_PID" >"$CG/cgroup.procs" || fail "cannot move the daemon into $CG"
dd if=/dev/urandom of="$MNT/held" bs=1M count=256 status=none ||
	fail "writing 256 MiB into the volatile mount"
sum=$(sha256sum <"$MNT/held")
in_cg python3 -c '
import sys
held = []
for i in range(256 // 16):
    b = bytearray(16 << 20)
    b[::4096] = b"x" * len(b[::4096])
    held.append(b)
print("allocated 256 MiB")
' >"$TMP/hog.out" 2>&1 &
hog=$!
_register_pid "$hog"
wait "$hog"
hrc=$?
_forget_pid "$hog"
# The OOM killer may take both: the daemon first, being larger, and the
# hog too once the reaper has skipped the daemon's memory. A killed
# multi-threaded daemon can take a moment to die, and then it is our
# unreaped child, a zombie that kill -0 would call alive: it has 3 s.
for _ in $(seq 1 30); do
	running "$MMFS_PID" || break
	sleep 0.1
done
if running "$MMFS_PID"; then
	[ "$(sha256sum <"$MNT/held")" = "$sum" ] ||
		bad "the daemon survived but its file changed"
	if [ $hrc = 137 ]; then
		ok "the OOM killer took the other process (exit $hrc); the files are intact"
	else
		bad "the other process exited $hrc ($(cat "$TMP/hog.out")): no pressure reached the cgroup"
	fi
	[ $CAN = 1 ] || log "the daemon survived although its score stayed $(score_of "$MMFS_PID")"
	mmfs_umount_checked
else
	wait "$MMFS_PID" 2>/dev/null
	drc=$?
	_forget_pid "$MMFS_PID"
	if [ $CAN = 1 ]; then
		bad "the OOM killer took the daemon (exit $drc) although its score was lowered"
	elif [ $drc != 137 ]; then
		bad "the daemon died with exit $drc, not the OOM killer's SIGKILL"
	else
		err=$(stat "$MNT/held" 2>&1)
		grep -q "not connected" <<<"$err" &&
			ok "no CAP_SYS_RESOURCE: the OOM killer took the daemon (137), the mount says ENOTCONN, as documented" ||
			bad "after the daemon's death: '$err'"
	fi
	MMFS_PID= # reaped: never signal a PID that may be reused
	mmfs_kill9 "$MNT" || bad "dead mount not unmounted"
fi

# 3. a pool mount whose data is bigger than the cgroup
echo $((192 << 20)) >"$CG/$LIMIT"
[ -e "$CG/memory.max_usage_in_bytes" ] && echo 0 >"$CG/memory.max_usage_in_bytes"
POOL=$TEST_DIR/pool
MMFS_SOURCE=$POOL mmfs_mount dram=32M,pmem_size=512M
echo "$MMFS_PID" >"$CG/cgroup.procs" || fail "cannot move the daemon into $CG"
dd if=/dev/urandom of="$MNT/big" bs=1M count=320 conv=fsync status=none ||
	bad "writing 320 MiB through a pool in a 192 MiB cgroup"
sum=$(sha256sum <"$MNT/big")
running "$MMFS_PID" || fail "the pool's daemon died in its cgroup"
peak=$(cat "$CG/memory.max_usage_in_bytes" 2>/dev/null || cat "$CG/memory.peak" 2>/dev/null || echo "?")
log "cgroup peak usage $peak bytes against a limit of $((192 << 20))"
mmfs_umount_checked
MMFS_SOURCE=$POOL mmfs_mount dram=32M
[ "$(sha256sum <"$MNT/big")" = "$sum" ] &&
	ok "320 MiB through a pool in a 192 MiB cgroup read back after a remount" ||
	bad "the pool's file changed across the remount"
mmfs_umount_checked

[ $errors = 0 ] || fail "$errors checks failed"
exit 0

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# remount_loop.sh -- `umount MNT; mount POOL MNT` at once, as scripts,
# fstab remounts and systemd restarts do it:
#   1. MMFS_REMOUNT_LOOPS (default 20) times: write a 20 MB file, unmount,
#      mount the pool again at once (the daemon in the background, as
#      mount(8) runs it): the mount must succeed (it may wait for the old
#      daemon's last checkpoint, saying so in one line) and every file
#      written so far must read back;
#   2. a pool mounted elsewhere is refused at once (under a second), with
#      one line that names the mount point;
#   3. `mmfsctl fsck` right after an unmount finds the pool clean.
#
# TIMEOUT: 600
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_real_mmfs
require_cmd sha256sum
require_mmfsctl
sanitizer_logs

LOOPS=${MMFS_REMOUNT_LOOPS:-20}
POOL=$TEST_DIR/pool
OPTS=pmem_size=2G,dram=64M
new_mnt
M=$NEW_MNT
new_mnt
M2=$NEW_MNT

# bg_mount MNT OUT -- mount the pool as mount(8) would: the daemon forks
# and this returns once MNT is mounted. Sets RC, the mount's exit code.
bg_mount() {
	_register_mount "$1"
	RC=0
	"$MMFS_BIN" "$POOL" "$1" -o "$OPTS" >"$2" 2>&1 || RC=$?
}

ms_now() { date +%s%3N; }

bg_mount "$M" "$TMP/mount.0"
[ "$RC" = 0 ] || fail "first mount failed: $(cat "$TMP/mount.0")"
waited=0
slowest=0
for i in $(seq 1 "$LOOPS"); do
	head -c 20000000 /dev/urandom >"$TMP/data"
	sha256sum <"$TMP/data" | cut -d' ' -f1 >"$TMP/sum.$i"
	cp "$TMP/data" "$M/f$i" || fail "loop $i: write failed"
	umount "$M" || fail "loop $i: umount failed"
	t0=$(ms_now)
	bg_mount "$M" "$TMP/mount.$i"
	t=$(($(ms_now) - t0))
	[ "$t" -gt "$slowest" ] && slowest=$t
	if [ "$RC" != 0 ]; then
		cat "$TMP/mount.$i" >&2
		fail "loop $i: mount right after umount failed ($RC)"
	fi
	# the OOM score warning of a machine that refuses to lower it
	# (fault/oom.sh checks it) is not the mount's to count
	grep -v "cannot set oom_score_adj" "$TMP/mount.$i" >"$TMP/said.$i"
	mv "$TMP/said.$i" "$TMP/mount.$i"
	if [ -s "$TMP/mount.$i" ]; then
		lines=$(wc -l <"$TMP/mount.$i")
		grep -q "waiting for the previous daemon" "$TMP/mount.$i" &&
			[ "$lines" = 1 ] ||
			fail "loop $i: the mount said more than its one line: $(cat "$TMP/mount.$i")"
		waited=$((waited + 1))
	fi
	for j in $(seq 1 "$i"); do
		[ "$(sha256sum <"$M/f$j" | cut -d' ' -f1)" = "$(cat "$TMP/sum.$j")" ] ||
			fail "loop $i: f$j reads back wrong"
	done
done
log "$LOOPS immediate remounts: all mounted, all data back;" \
	"$waited waited for the old daemon (slowest mount ${slowest} ms)"

# 2. a live mount's pool: refused at once, naming where it is mounted
t0=$(ms_now)
bg_mount "$M2" "$TMP/busy.out"
t=$(($(ms_now) - t0))
[ "$RC" != 0 ] || fail "a second mount of a mounted pool succeeded"
is_mounted "$M2" && fail "the refused second mount left a mount"
[ "$(wc -l <"$TMP/busy.out")" = 1 ] ||
	fail "second mount: expected one line: $(cat "$TMP/busy.out")"
grep -q "in use (mounted on $M)" "$TMP/busy.out" ||
	fail "second mount: the line does not name $M: $(cat "$TMP/busy.out")"
[ "$t" -lt 1000 ] || fail "second mount took $t ms to be refused (waited?)"
log "a mounted pool is refused in $t ms: $(cat "$TMP/busy.out")"

# 3. fsck at once after umount
umount "$M" || fail "final umount failed"
"$MMFSCTL_BIN" fsck "$POOL" >"$TMP/fsck.out" 2>&1 ||
	fail "fsck right after umount: $(cat "$TMP/fsck.out")"
grep -q "clean" "$TMP/fsck.out" || fail "fsck: $(cat "$TMP/fsck.out")"
log "fsck right after umount: $(tail -n1 "$TMP/fsck.out")"
echo "ok - remount loop"
sanitizer_check
exit 0

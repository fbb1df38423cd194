#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# remount.sh -- `mount -o remount,...` on a live mmfs, through mount(8)
# and mount.fuse3 as users run it (no second daemon is left behind):
#   1. remount,ro: writes fail with EROFS, reads work, as on tmpfs; what
#      was written before it is durable (kill -9 after it loses nothing);
#      remount,rw writes again;
#   2. live options: commit= (a shorter interval makes an unsynced write
#      survive kill -9), migrate=, noatime/strictatime (the atime rule
#      follows, as on tmpfs), generic flags libfuse does not know;
#   3. options that cannot change live (dram=, chunk=, allow_root, ...)
#      are refused with one line and exit != 0, and change nothing; the
#      same values given again (fstab lines come back whole) are accepted;
#      an unknown option is refused;
#   4. remount,ro with a file open for writing: refused, "busy";
#   5. an fstab line: mount -o remount,ro MNT takes its options from it.
#
# TIMEOUT: 300
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/atime.sh"

require_root
require_real_mmfs
require_cmd mount umount mount.fuse3 stat dd sha256sum
require_mmfsctl
sanitizer_logs

errors=0
bad() { echo "not ok - $*"; errors=$((errors + 1)); }
ok() { echo "ok - $*"; }

# mount(8) runs mount.fuse3, which runs "mmfs" from /bin/sh's default PATH
# (mount drops the caller's): put this build there for the test.
shadow=$(env -i /bin/sh -c 'command -v mmfs' 2>/dev/null || true)
if [ -z "$shadow" ]; then
	ln -s "$MMFS_BIN" /usr/local/sbin/mmfs ||
		fail "cannot link /usr/local/sbin/mmfs for mount(8)"
	at_exit rm -f /usr/local/sbin/mmfs
elif ! cmp -s "$shadow" "$MMFS_BIN"; then
	fail "$shadow (on mount(8)'s PATH) is not this build's mmfs: remove it or install this build"
fi

POOL=$TEST_DIR/pool

# find_daemon MNT -- PID of the mmfs daemon serving MNT (not our child)
find_daemon() {
	local p
	for p in /proc/[0-9]*; do
		if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- " $1\( \|$\)"; then
			case $(readlink "$p/exe" 2>/dev/null) in
			*/mmfs) echo "${p#/proc/}" ;;
			esac
		fi
	done
}

# pool_mount OPTS -- mount -t fuse.mmfs POOL on a fresh MNT; sets MNT, PID
pool_mount() {
	new_mnt
	MNT=$NEW_MNT
	_register_mount "$MNT"
	mount -t fuse.mmfs "$POOL" "$MNT" -o "$1" >"$TMP/mount.out" 2>&1 ||
		fail "mount -o $1: $(cat "$TMP/mount.out")"
	PID=$(find_daemon "$MNT")
	[ -n "$PID" ] || fail "no daemon found for $MNT"
	_register_pid "$PID"
}

# crash -- kill -9 the daemon of MNT and lazily unmount it
crash() {
	kill -KILL "$PID"
	for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
	_forget_pid "$PID"
	umount -l "$MNT" 2>/dev/null
	_forget_mount "$MNT"
}

opts_of() { awk -v m="$1" '$2 == m { o = $4 } END { print o }' /proc/mounts; }
has_opt() { tr ',' '\n' <<<"$(opts_of "$1")" | grep -qx "$2"; }

# remount OPTS -- mount -o remount,OPTS MNT; RC and $TMP/rm.out
remount() {
	RC=0
	mount -o "remount,$1" "$MNT" >"$TMP/rm.out" 2>&1 || RC=$?
}

# one_daemon -- exactly one mmfs serves MNT: remounts start none that stay
one_daemon() {
	local n
	n=$(find_daemon "$MNT" | wc -w)
	[ "$n" = 1 ] || bad "$1: $n mmfs processes serve $MNT"
}

# 1. ro and back, against tmpfs
tmpfs_mount size=64M
T=$MNT
echo before >"$T/f"
mount -o remount,ro "$T" || fail "tmpfs remount,ro"
want=$( (echo x >"$T/g") 2>&1 | sed 's/.*: //')
mount -o remount,rw "$T" || fail "tmpfs remount,rw"
umount "$T" && _forget_mount "$T"

pool_mount pmem_size=256M,dram=64M,commit=3600
echo before >"$MNT/f"
head -c 5000000 /dev/urandom >"$TMP/data"
cp "$TMP/data" "$MNT/data"	# not synced: commit=3600
remount ro
if [ "$RC" != 0 ]; then
	bad "remount,ro failed ($RC): $(cat "$TMP/rm.out")"
else
	has_opt "$MNT" ro || bad "remount,ro: /proc/mounts says $(opts_of "$MNT")"
	got=$( (echo x >"$MNT/g") 2>&1 | sed 's/.*: //')
	[ "$got" = "$want" ] || bad "write after remount,ro: '$got', tmpfs '$want'"
	[ "$(cat "$MNT/f")" = before ] || bad "read after remount,ro"
	ok "remount,ro: writes fail ($got), as on tmpfs; reads work"
fi
one_daemon "remount,ro"
remount rw
[ "$RC" = 0 ] || bad "remount,rw failed ($RC): $(cat "$TMP/rm.out")"
echo after >"$MNT/g" && ok "remount,rw: writes again" ||
	bad "write after remount,rw failed"
# what remount,ro made durable survives a crash
crash
pool_mount dram=64M,commit=3600
[ "$(sha256sum <"$MNT/data")" = "$(sha256sum <"$TMP/data")" ] &&
	ok "remount,ro made an unsynced 5 MB write durable (kill -9 after it)" ||
	bad "an unsynced write did not survive remount,ro + kill -9"

# 2. live options
remount commit=1,migrate=64M,relatime,lazytime,nodiratime
[ "$RC" = 0 ] || bad "remount with live options failed: $(cat "$TMP/rm.out")"
has_opt "$MNT" nodiratime || bad "remount,nodiratime: $(opts_of "$MNT")"
echo live >"$MNT/live"	# unsynced, but commit=1 now
sleep 3
crash
pool_mount dram=64M,commit=3600
[ "$(cat "$MNT/live" 2>/dev/null)" = live ] &&
	ok "remount,commit=1: an unsynced write is durable within the new interval" ||
	bad "remount,commit=1 did not take effect (the write was lost at kill -9)"

P=$MNT
for o in noatime strictatime relatime; do
	tmpfs_mount size=64M
	mount -o "remount,$o" "$MNT" || fail "tmpfs remount,$o"
	want=$(atime_trace "$MNT")
	umount "$MNT" && _forget_mount "$MNT"
	MNT=$P
	remount "$o"
	[ "$RC" = 0 ] || bad "remount,$o failed: $(cat "$TMP/rm.out")"
	got=$(atime_trace "$MNT")
	[ "$got" = "$want" ] && ok "remount,$o: reads set atime as on tmpfs ($got)" ||
		bad "remount,$o: reads set atime '$got', tmpfs '$want'"
done
one_daemon "live remounts"

# 3. what cannot change
for o in dram=1G chunk=16K allow_root epoch_ms=50 threads=3 writeback \
	slow_nodes=0 uid=12345 mode=0700 bogus; do
	before=$(opts_of "$MNT")
	remount "$o"
	if [ "$RC" = 0 ]; then
		bad "remount,$o succeeded"
	elif [ "$(wc -l <"$TMP/rm.out")" != 1 ]; then
		bad "remount,$o: expected one line: $(cat "$TMP/rm.out")"
	elif ! grep -q -- "${o%%=*}" "$TMP/rm.out"; then
		bad "remount,$o: the line does not name it: $(cat "$TMP/rm.out")"
	elif [ "$(opts_of "$MNT")" != "$before" ]; then
		bad "remount,$o: refused, but the mount changed"
	else
		ok "remount,$o refused: $(cat "$TMP/rm.out")"
	fi
done
echo still >"$MNT/still" && [ "$(cat "$MNT/still")" = still ] ||
	bad "the mount does not work after the refused remounts"
remount dram=64M,chunk=64K,pmem_size=256M,nofail,user_id=0,allow_other
[ "$RC" = 0 ] && ok "the mount's own values again are accepted" ||
	bad "remount with unchanged values refused: $(cat "$TMP/rm.out")"

# 4. busy
exec 7>"$MNT/open"
remount ro
exec 7>&-
if [ "$RC" = 0 ]; then
	bad "remount,ro with a file open for writing succeeded"
	remount rw
else
	grep -q busy "$TMP/rm.out" && ok "remount,ro with a writer: $(cat "$TMP/rm.out")" ||
		bad "remount,ro with a writer: $(cat "$TMP/rm.out")"
fi
has_opt "$MNT" rw || bad "a refused remount,ro left $(opts_of "$MNT")"
one_daemon "refused remounts"
umount "$MNT" && _forget_mount "$MNT"

# 5. fstab: mount(8) hands the line's options to the remount
new_mnt
MNT=$NEW_MNT
echo "$POOL $MNT fuse.mmfs dram=64M,commit=30,nofail 0 0" >"$TMP/fstab"
_register_mount "$MNT"
for _ in $(seq 1 50); do
	mount --fstab "$TMP/fstab" "$MNT" >"$TMP/mount.out" 2>&1 && break
	sleep 0.1	# the last daemon may still hold the pool briefly
done
is_mounted "$MNT" || fail "fstab mount: $(cat "$TMP/mount.out")"
PID=$(find_daemon "$MNT")
_register_pid "$PID"
RC=0
mount --fstab "$TMP/fstab" -o remount,ro "$MNT" >"$TMP/rm.out" 2>&1 || RC=$?
[ "$RC" = 0 ] && has_opt "$MNT" ro && ok "fstab remount,ro (options from the line)" ||
	bad "fstab remount,ro: $RC $(cat "$TMP/rm.out") $(opts_of "$MNT")"
one_daemon "fstab remount"
umount "$MNT" && _forget_mount "$MNT"

[ $errors = 0 ] || fail "$errors remount check(s) failed"
sanitizer_check
exit 0

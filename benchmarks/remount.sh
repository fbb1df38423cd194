#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# remount.sh -- what `umount MNT; mount ... MNT` costs, the way scripts,
# fstab remounts and systemd restarts do it, on tmpfs and on an mmfs pool
# in one run. Each cycle writes REMOUNT_WRITE of fresh data, unmounts and
# mounts again at once (the daemon forks, as under mount(8), so the mount
# returns when it is up); the time from the start of umount to the return
# of mount is reported (median and max over REMOUNT_CYCLES), with how many
# mounts waited for the old daemon, and the same for `mount -o remount,ro`
# and back. Prints a ';'-separated table with the ratio to tmpfs.
#
# Everything mounted here is unmounted on every exit path; only daemons
# started here are signalled (they end with their unmount). Needs root.
#
# Environment (defaults in brackets):
#   MMFS_BIN          mmfs daemon [build/fs/mmfs, else build*/fs/mmfs]
#   REMOUNT_CYCLES    cycles per filesystem [20]
#   REMOUNT_WRITE     bytes written before each unmount [20M]
#   REMOUNT_POOL      pool size [4G]
#   POOL_DIR          where the pool file goes [/dev/shm]

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
CYCLES=${REMOUNT_CYCLES:-20}
WRITE=${REMOUNT_WRITE:-20M}
POOL_SIZE=${REMOUNT_POOL:-4G}
POOL_DIR=${POOL_DIR:-/dev/shm}

usage() { sed -n '3,21p' "$0" | sed 's/^# \{0,1\}//'; }
[ "${1:-}" = --help ] && { usage; exit 0; }
[ "$(id -u)" = 0 ] || die "needs root (mount)"
find_mmfs "no mmfs binary: build first (cmake --build build)"
make_scratch remount pools
MNT=$WORK/mnt
mkdir "$MNT"
POOL=$POOLS/pool

# shellcheck disable=SC2317  # reached through the EXIT trap
bench_teardown() {
	if [ -n "$(mounted_type "$MNT")" ]; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	sleep 0.5 # a daemon finishing its last checkpoint
}
bench_traps

ms() { echo $(($(usecs) / 1000)); }

do_mount() {
	case $1 in
	tmpfs) mount -t tmpfs -o size=1G tmpfs "$MNT" ;;
	mmfs) "$MMFS" "$POOL" "$MNT" -o "pmem_size=$POOL_SIZE,dram=256M" \
		2>>"$WORK/mount.err" ;;
	esac
}

# cycle FS -- CYCLES x (write, umount, mount); sets MED, MAX, WAITS
cycle() {
	local fs=$1 i t0 times=() w0
	do_mount "$fs" || die "$fs: first mount failed"
	w0=$(grep -c "waiting for the previous" "$WORK/mount.err" 2>/dev/null)
	for ((i = 0; i < CYCLES; i++)); do
		head -c "$(bytes "$WRITE")" /dev/urandom >"$MNT/f$i" ||
			die "$fs: write failed"
		t0=$(ms)
		umount "$MNT" || die "$fs: umount failed"
		do_mount "$fs" || die "$fs: mount $i right after umount failed"
		times+=($(($(ms) - t0)))
	done
	MED=$(echo "${times[*]}" | median)
	MAX=$(printf '%s\n' "${times[@]}" | sort -n | tail -n1)
	WAITS=$(($(grep -c "waiting for the previous" "$WORK/mount.err" \
		2>/dev/null) - w0))
	# remount,ro and back, through the filesystem's own remount
	local rt=()
	for ((i = 0; i < CYCLES; i++)); do
		t0=$(ms)
		if [ "$fs" = tmpfs ]; then
			mount -o remount,ro "$MNT" && mount -o remount,rw "$MNT"
		else
			"$MMFS" none "$MNT" -o remount,ro &&
				"$MMFS" none "$MNT" -o remount,rw
		fi || die "$fs: remount failed"
		rt+=($(($(ms) - t0)))
	done
	RMED=$(echo "${rt[*]}" | median)
	umount "$MNT"
}

: >"$WORK/mount.err"
echo "# $(machine_desc); cycles $CYCLES, write $WRITE, pool $POOL_SIZE in $POOL_DIR"
cycle tmpfs
t_med=$MED t_max=$MAX t_r=$RMED
cycle mmfs
echo "fs;umount+mount median ms;max ms;mounts that waited;remount ro+rw median ms;ratio (median) to tmpfs"
echo "tmpfs;$t_med;$t_max;0;$t_r;1.00"
awk -v m="$MED" -v t="$t_med" -v x="$MAX" -v w="$WAITS" -v r="$RMED" \
	'BEGIN { printf "mmfs pool;%d;%d;%d;%d;%.2f\n", m, x, w, r, (t > 0 ? m / t : 0) }'

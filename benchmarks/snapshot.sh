#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# snapshot.sh -- what directory snapshots cost, in one run: a tree of
# SNAP_FILES files holding SNAP_SMALL and holding SNAP_BIG of data, on an
# mmfs mount: the time of `mmfsctl snapshot create` (which syncfs()s
# first) and of `mkdir DIR/.snap/NAME`, of a rollback and of a writable
# clone (medians of SNAP_REPS), the daemon memory and the log bytes per
# snapshotted inode, and the copy-on-write tax: 4 KiB random writes to a
# file right after a snapshot, against before it, per second until it has
# recovered. Beside it, tmpfs's only way to keep such a copy: `cp -a` of
# the small tree (the big one would need twice its size in RAM).
# Prints ';'-separated tables with the ratios.
#
# Everything mounted here is unmounted on every exit path; only daemons
# started here are signalled. Needs root.
#
# Environment (defaults in brackets):
#   MMFS_BIN, MMFSCTL_BIN   binaries [build/fs/...]
#   SNAP_FILES      files in the tree [10000]
#   SNAP_SMALL      data in the small tree [1G]
#   SNAP_BIG        data in the big tree [16G; cut to what RAM allows, and
#                   the table says so]
#   SNAP_REPS       repetitions of each timed step [5]
#   POOL_DIR        where the pool of the log measurement goes [/dev/shm]

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
FILES=${SNAP_FILES:-10000}
SMALL=$(bytes "${SNAP_SMALL:-1G}")
BIG=$(bytes "${SNAP_BIG:-16G}")
REPS=${SNAP_REPS:-5}
POOL_DIR=${POOL_DIR:-/dev/shm}
MOUNT_TIMEOUT=30
EXIT_TIMEOUT=30

usage() { sed -n '3,24p' "$0" | sed 's/^# \{0,1\}//'; }
[ "${1:-}" = --help ] && { usage; exit 0; }
[ "$(id -u)" = 0 ] || die "needs root (mount)"
find_mmfs "no mmfs binary: build first (cmake --build build)"
find_mmfsctl "no mmfsctl binary: build first"
command -v python3 >/dev/null || die "needs python3"
command -v fio >/dev/null || die "needs fio"
make_scratch snapshot pools
TMPFS=$WORK/tmpfs
mkdir "$TMPFS"

# shellcheck disable=SC2317  # reached through the EXIT trap
bench_teardown() {
	local m
	for m in "${!MNT[@]}"; do umount_named "$m"; done
	if [ -n "$(mounted_type "$TMPFS")" ]; then umount "$TMPFS"; fi
}
bench_traps

# What RAM allows: the big tree lives in DRAM; keep 4 GiB for the rest.
avail=$(mem_avail)
if ((BIG + (4 << 30) > avail)); then
	BIG=$(((avail - (4 << 30)) / (1 << 30) * (1 << 30)))
	((BIG >= SMALL)) || die "not enough memory for the big tree"
	BIG_NOTE="cut to $((BIG >> 30)) GiB by MemAvailable"
else
	BIG_NOTE=""
fi

# tree DIR BYTES -- FILES files in 100 directories, BYTES of data in all
tree() {
	python3 - "$1" "$2" "$FILES" <<'PY'
import os, sys
top, total, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
each = total // n
buf = os.urandom(1 << 20)
for i in range(n):
    d = os.path.join(top, "d%02d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    fd = os.open(os.path.join(d, "f%05d" % i), os.O_CREAT | os.O_WRONLY, 0o644)
    left = each
    while left:
        k = os.write(fd, buf[: min(left, len(buf))])
        left -= k
    os.close(fd)
PY
}

# ms_of CMD... -- milliseconds CMD took
ms_of() {
	local t0
	t0=$(usecs)
	"$@" >/dev/null || return 1
	echo $((($(usecs) - t0) / 1000))
}
us_of() {
	local t0
	t0=$(usecs)
	"$@" >/dev/null || return 1
	echo $(($(usecs) - t0))
}

stat_field() { "$MMFSCTL" stat "$1" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }

# measure NAME BYTES -- the timed steps on a fresh volatile mount; sets R_*
measure() {
	local m=$1 bytes=$2 dram i c=() k=() r=() l=() mb0 mb1
	dram=$(((bytes + (1 << 30)) >> 20))M
	MNT[$m]=$WORK/$m
	LOG[$m]=$WORK/$m.log
	mkdir "${MNT[$m]}"
	mount_named "$m" none "dram=$dram" || die "$m: mount failed"
	mkdir "${MNT[$m]}/db"
	log "$m: writing $FILES files, $((bytes >> 20)) MiB"
	tree "${MNT[$m]}/db" "$bytes" || die "$m: tree failed"
	mb0=$(stat_field "${MNT[$m]}" meta_bytes)
	for ((i = 0; i < REPS; i++)); do
		c+=($(us_of "$MMFSCTL" snapshot create "${MNT[$m]}/db" "c$i")) ||
			die "$m: snapshot create failed"
		[ "$i" -eq 0 ] && mb1=$(stat_field "${MNT[$m]}" meta_bytes)
		k+=($(us_of mkdir "${MNT[$m]}/db/.snap/m$i")) ||
			die "$m: mkdir .snap failed"
	done
	for ((i = 0; i < REPS; i++)); do
		touch "${MNT[$m]}/db/d00/f00000"
		r+=($(us_of "$MMFSCTL" snapshot rollback "${MNT[$m]}/db" c0)) ||
			die "$m: rollback failed"
		l+=($(us_of "$MMFSCTL" snapshot clone "${MNT[$m]}/db/.snap/c0" \
			"${MNT[$m]}/clone$i")) || die "$m: clone failed"
	done
	R_CREATE=$(echo "${c[*]}" | median)
	R_MKDIR=$(echo "${k[*]}" | median)
	R_ROLLBACK=$(echo "${r[*]}" | median)
	R_CLONE=$(echo "${l[*]}" | median)
	R_MEM=$(((mb1 - mb0) / (FILES + 101)))
	umount_named "$m"
}

# log_bytes -- log bytes of one snapshot of the small tree, on a pool
log_bytes() {
	local m=pool u0 u1 k0 k1
	MNT[$m]=$WORK/$m
	LOG[$m]=$WORK/$m.log
	mkdir "${MNT[$m]}"
	mount_named "$m" "$POOLS/pool" "pmem_size=$(((SMALL >> 20) + 2048))M,dram=256M,commit=3600" ||
		die "pool: mount failed"
	mkdir "${MNT[$m]}/db"
	tree "${MNT[$m]}/db" $((64 << 20)) || die "pool: tree failed"
	"$MMFSCTL" sync "${MNT[$m]}"
	u0=$(stat_field "${MNT[$m]}" log_used)
	k0=$(stat_field "${MNT[$m]}" checkpoints)
	"$MMFSCTL" snapshot create "${MNT[$m]}/db" s || die "pool: snapshot failed"
	"$MMFSCTL" sync "${MNT[$m]}"
	u1=$(stat_field "${MNT[$m]}" log_used)
	k1=$(stat_field "${MNT[$m]}" checkpoints)
	if [ "$k0" = "$k1" ]; then
		R_LOG=$(((u1 - u0) / (FILES + 101)))
	else
		R_LOG="n/a (a checkpoint ran)"
	fi
	umount_named "$m"
}

# cow_tax -- 4 KiB random writes to a 1 GiB file, before and after a snapshot
cow_tax() {
	local m=cow f out i
	MNT[$m]=$WORK/$m
	LOG[$m]=$WORK/$m.log
	mkdir "${MNT[$m]}"
	mount_named "$m" none "dram=3G" || die "cow: mount failed"
	mkdir "${MNT[$m]}/db"
	f=${MNT[$m]}/db/heap
	head -c 1G /dev/urandom >"$f"
	fio_iops() {
		fio --name=w --filename="$f" --rw=randwrite --bs=4k --size=1G \
			--ioengine=psync --runtime="$1" --time_based --output-format=json \
			2>/dev/null | python3 -c "import json,sys; print(int(json.load(sys.stdin)['jobs'][0]['write']['iops']))"
	}
	COW_BEFORE=$(fio_iops 3)
	"$MMFSCTL" snapshot create "${MNT[$m]}/db" s >/dev/null || die "cow: snapshot failed"
	COW_AFTER=()
	for ((i = 0; i < 5; i++)); do COW_AFTER+=($(fio_iops 1)); done
	umount_named "$m"
}

echo "# $(machine_desc); $FILES files; small $((SMALL >> 20)) MiB, big $((BIG >> 20)) MiB${BIG_NOTE:+ ($BIG_NOTE)}; $REPS reps"
mount -t tmpfs -o size=$((SMALL * 2 + (256 << 20))) tmpfs "$TMPFS" || die "tmpfs mount failed"
mkdir "$TMPFS/db"
log "tmpfs: writing the small tree"
tree "$TMPFS/db" "$SMALL"
t=()
for ((i = 0; i < REPS; i++)); do
	t+=($(us_of cp -a "$TMPFS/db" "$TMPFS/copy")) || die "tmpfs: cp -a failed"
	rm -rf "$TMPFS/copy"
done
T_CP=$(echo "${t[*]}" | median)
umount "$TMPFS"

measure small "$SMALL"
S_CREATE=$R_CREATE S_MKDIR=$R_MKDIR S_ROLLBACK=$R_ROLLBACK S_CLONE=$R_CLONE S_MEM=$R_MEM
measure big "$BIG"
log_bytes
cow_tax

echo "step;small tree ms;big tree ms;big/small;tmpfs cp -a of the small tree ms;ratio small/tmpfs"
row() {
	awk -v n="$1" -v s="$2" -v b="$3" -v t="$T_CP" 'BEGIN {
		printf "%s;%.2f;%.2f;%.2f;%.1f;%.4f\n", n, s / 1000, b / 1000,
			(s > 0 ? b / s : 0), t / 1000, (t > 0 ? s / t : 0) }'
}
row "mmfsctl snapshot create (syncfs + snapshot)" "$S_CREATE" "$R_CREATE"
row "mkdir DIR/.snap/NAME" "$S_MKDIR" "$R_MKDIR"
row "mmfsctl snapshot rollback" "$S_ROLLBACK" "$R_ROLLBACK"
row "mmfsctl snapshot clone" "$S_CLONE" "$R_CLONE"
echo "per snapshotted inode;daemon memory bytes (small;big);log bytes (pool)"
echo "bytes;$S_MEM;$R_MEM;$R_LOG"
echo "cow tax;4k randwrite IOPS before;after, per 1 s run;first/before"
awk -v b="$COW_BEFORE" -v a="${COW_AFTER[*]}" 'BEGIN {
	n = split(a, x, " "); s = x[1]; for (i = 2; i <= n; i++) s = s "," x[i]
	printf "1 GiB file;%d;%s;%.2f\n", b, s, (b > 0 ? x[1] / b : 0) }'

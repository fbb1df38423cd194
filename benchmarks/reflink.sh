#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# reflink.sh -- what a copy costs when it is a reflink, in one run:
#   1. `cp SRC DST` of a file of each size in REFLINK_SIZES on tmpfs (a byte
#      copy), on a volatile mmfs (copy_file_range shares chunks), with
#      `mmfsctl clone` on the same mmfs, and on an mmfs pool in POOL_DIR
#      (the clone is logged; also `cp` + fsync of DST, which commits it).
#      Each size gets fresh mounts holding one source file each (fio,
#      incompressible data); the repetitions interleave the sides, the
#      order rotating; DST is removed after each. tmpfs needs twice the
#      file (source and copy) and the pool the file again: a side whose
#      memory does not fit in MemAvailable is skipped, saying so (on a
#      24 GiB machine: tmpfs and the pool at 16 GiB).
#   2. the copy-on-write tax: fio 4 KiB random writes (psync, 1 job) on a
#      REFLINK_COW_FILE file on a volatile mmfs, REFLINK_COW_BEFORE s on
#      the file alone, then right after cloning it (every chunk shared)
#      for REFLINK_COW_AFTER s, IOPS per second, then REFLINK_COW_BEFORE s
#      more (nothing shared any more: recovered); the same job on tmpfs
#      as a reference. Medians over the repetitions.
# Prints ';'-separated tables: time per copy in ms and the ratio
# tmpfs/side (> 1: faster than tmpfs); IOPS per second after the clone
# and the ratio after/before.
#
# Environment (defaults in brackets):
#   MMFS_BIN, MMFSCTL_BIN  [build/fs/mmfs, mmfsctl next to it]
#   REFLINK_SIZES          file sizes [1G 4G 16G]; --quick: [1G]
#   REFLINK_COW_FILE       [1G]
#   REFLINK_COW_BEFORE     [5]; REFLINK_COW_AFTER [10]
#   POOL_DIR               where the pool file goes [/dev/shm]
#   RESULTS_DIR            [benchmarks/results]
# Options: --runs N (cp repetitions per side, default 5; the fio part runs
# min(N, 3) times), --quick (1 run, 1G only), --help.

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

POOL_DIR=${POOL_DIR:-/dev/shm}
MOUNT_TIMEOUT=10
EXIT_TIMEOUT=60
FIO_TIMEOUT=600
NONE=()

usage() { sed -n '3,33p' "$0" | sed 's/^# \{0,1\}//'; }

runs=5
quick=0
only=()
while [ $# -gt 0 ]; do
	common_opt NONE "" "$@"
	shift "$OPT_USED"
done
if [ "$quick" = 1 ]; then
	read -r -a SIZES <<<"${REFLINK_SIZES:-1G}"
else
	read -r -a SIZES <<<"${REFLINK_SIZES:-1G 4G 16G}"
fi
COW_FILE=${REFLINK_COW_FILE:-1G}
COW_BEFORE=${REFLINK_COW_BEFORE:-5}
COW_AFTER=${REFLINK_COW_AFTER:-10}
FIO_RUNS=$((runs < 3 ? runs : 3))

[ "$(id -u)" -eq 0 ] || die "needs root (mounts tmpfs)"
command -v fio >/dev/null || die "fio not found"
find_mmfs "no mmfs binary: build it or set MMFS_BIN"
find_mmfsctl
make_results
EVENTS=$RESULTS/events.log
: >"$EVENTS"
make_scratch reflink pools
G=$((1 << 30))

SIDES=(tmpfs mmfs clone pool pool+fsync)
MNT[tmpfs]=$WORK/tmpfs
MNT[mmfs]=$WORK/mmfs
MNT[pool]=$WORK/pool
LOG[mmfs]=$RESULTS/mmfs.log
LOG[pool]=$RESULTS/pool.log

# shellcheck disable=SC2317  # reached through the EXIT trap
bench_teardown() {
	tmpfs_unmount "$WORK/tmpfs" "$RESULTS/tmpfs.log"
	umount_named mmfs
	umount_named pool
	rm -f "${POOLS:-/nonexistent}"/pool
}
bench_traps

# fill FILE SIZE DIRECT -- FILE gets SIZE bytes of fio's incompressible data
fill() {
	run_limited "$FIO_TIMEOUT" fio --name=fill --filename="$1" --rw=write \
		--bs=1M --size="$2" --ioengine=psync --direct="$3" \
		--output=/dev/null || die "fio could not write $1"
}

# fsync_file FILE -- fsync(2) of FILE (coreutils sync FILE: no interpreter
# start-up in the time, which is 150 ms for python3 on a busy machine)
fsync_file() { sync "$1"; }

# copy_ms SIDE -- one copy of SIDE's src as dst: prints ms, removes dst
copy_ms() {
	local d t0 t1 rc=0
	case $1 in
	tmpfs) d=${MNT[tmpfs]} ;;
	mmfs | clone) d=${MNT[mmfs]} ;;
	*) d=${MNT[pool]} ;;
	esac
	t0=$(usecs)
	case $1 in
	clone) "$MMFSCTL" clone "$d/src" "$d/dst" || rc=1 ;;
	pool+fsync) cp "$d/src" "$d/dst" && fsync_file "$d/dst" || rc=1 ;;
	*) cp "$d/src" "$d/dst" || rc=1 ;;
	esac
	t1=$(usecs)
	cmp -s -n $((1 << 20)) "$d/src" "$d/dst" || rc=1
	rm -f "$d/dst"
	[ $rc = 0 ] || { event "$1: copy failed"; echo fail; return; }
	awk -v u=$((t1 - t0)) 'BEGIN { printf "%.2f\n", u / 1000 }'
}

# --- 1. cp ---------------------------------------------------------------------

declare -A RES=() WHY=()
echo "# mmfs $(tree_rev) | $(machine_desc) | $(fio --version) | load $(load_now) | runs=$runs median"
for size in "${SIZES[@]}"; do
	b=$(bytes "$size") || die "bad size $size"
	gb=$((b / G))
	avail=$(mem_avail)
	on=()
	# tmpfs: source + copy; mmfs: the source (clones share), headroom 1G;
	# the pool: the source in the pool, in POOL_DIR's memory
	need_t=$((2 * b + G / 4)) need_m=$((b + G / 2)) need_p=$((b + G))
	if [ $((need_m)) -gt "$avail" ]; then
		die "$size: mmfs needs $((need_m / G)) GiB (the source), $((avail / G)) GiB available"
	fi
	on+=(mmfs clone)
	left=$((avail - need_m))
	if [ "$need_t" -le "$left" ]; then
		on+=(tmpfs)
		left=$((left - need_t))
	else
		WHY[tmpfs,$size]="skipped: needs $((need_t / G)) GiB (source and copy), $((left / G)) GiB left"
	fi
	if [ "$need_p" -le "$left" ] && [ "$need_p" -le "$(dir_free "$POOL_DIR")" ]; then
		on+=(pool pool+fsync)
	else
		WHY[pool,$size]="skipped: needs $((need_p / G)) GiB in $POOL_DIR, $((left / G)) GiB left"
		WHY[pool+fsync,$size]=${WHY[pool,$size]}
	fi
	log "$size: sides ${on[*]} (MemAvailable $((avail / G)) GiB)"
	MNT[mmfs]=$WORK/mmfs MNT[pool]=$WORK/pool
	mkdir -p "${MNT[mmfs]}" "${MNT[tmpfs]}" "${MNT[pool]}"
	mount_named mmfs none "dram=$((gb + 2))G" || die "mmfs did not mount"
	fill "${MNT[mmfs]}/src" "$size" 1
	if [[ " ${on[*]} " == *" tmpfs "* ]]; then
		mount -t tmpfs -o "size=$((2 * gb + 1))G" tmpfs "${MNT[tmpfs]}" ||
			die "tmpfs did not mount"
		fill "${MNT[tmpfs]}/src" "$size" 0
	fi
	if [[ " ${on[*]} " == *" pool "* ]]; then
		mount_named pool "$POOLS/pool" \
			"pmem_size=$((gb + 1))G,dram=1G,commit=3600" ||
			die "the pool did not mount"
		fill "${MNT[pool]}/src" "$size" 1
		fsync_file "${MNT[pool]}/src"
	fi
	declare -A T=()
	for ((r = 0; r < runs; r++)); do
		n=${#on[@]}
		for ((k = 0; k < n; k++)); do
			s=${on[$(((k + r) % n))]}
			T[$s]="${T[$s]:-} $(copy_ms "$s")"
		done
	done
	for s in "${on[@]}"; do
		RES[$s,$size]=$(echo "${T[$s]}" | median)
		log "$size $s: ${T[$s]} ms"
	done
	unset T
	tmpfs_unmount "${MNT[tmpfs]}" "$RESULTS/tmpfs.log"
	umount_named mmfs
	umount_named pool
	rm -f "$POOLS/pool"
done

echo "copy;size;tmpfs ms;mmfs cp ms;mmfs mmfsctl clone ms;pool cp ms;pool cp+fsync ms;tmpfs/mmfs cp;tmpfs/pool cp"
for size in "${SIZES[@]}"; do
	line="cp;$size"
	for s in "${SIDES[@]}"; do
		line="$line;${RES[$s,$size]:-skip}"
	done
	t=${RES[tmpfs,$size]:-} m=${RES[mmfs,$size]:-} p=${RES[pool,$size]:-}
	ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.0f", a / b; else printf "-" }'; }
	echo "$line;$(ratio "$t" "$m");$(ratio "$t" "$p")"
done
for k in "${!WHY[@]}"; do echo "# ${k/,/ }: ${WHY[$k]}"; done | sort

# --- 2. the copy-on-write tax ----------------------------------------------------

# randwrite DIR SECS NAME -- fio 4k randwrite on DIR/cow; per-second IOPS
# to $RESULTS/NAME_iops.*.log; prints the mean IOPS
randwrite() {
	run_limited "$FIO_TIMEOUT" fio --name=cow --filename="$1/cow" \
		--rw=randwrite --bs=4k --size="$COW_FILE" --ioengine=psync \
		--time_based --runtime="$2" --randrepeat=0 \
		--write_iops_log="$RESULTS/$3" --log_avg_msec=1000 \
		--output-format=json --output="$RESULTS/$3.json" ||
		{ event "fio $3 failed"; echo fail; return; }
	python3 -c 'import json, sys
print(round(json.load(open(sys.argv[1]))["jobs"][0]["write"]["iops"]))' \
		"$RESULTS/$3.json"
}

# per_second NAME -- the per-second IOPS of a run, space-separated
per_second() { awk -F, '{ printf "%d ", $2 }' "$RESULTS/${1}_iops.1.log"; }

MNT[mmfs]=$WORK/mmfs
mkdir -p "${MNT[mmfs]}" "${MNT[tmpfs]}"
mount_named mmfs none "dram=$(($(bytes "$COW_FILE") * 3 / (1 << 20)))M" ||
	die "mmfs did not mount"
mount -t tmpfs -o "size=$(($(bytes "$COW_FILE") * 2 / (1 << 20)))M" tmpfs \
	"${MNT[tmpfs]}" || die "tmpfs did not mount"
fill "${MNT[mmfs]}/cow" "$COW_FILE" 1
fill "${MNT[tmpfs]}/cow" "$COW_FILE" 0
B=() A=() R=() TM=()
for ((r = 0; r < FIO_RUNS; r++)); do
	TM+=("$(randwrite "${MNT[tmpfs]}" "$COW_BEFORE" "tmpfs$r")")
	B+=("$(randwrite "${MNT[mmfs]}" "$COW_BEFORE" "before$r")")
	"$MMFSCTL" clone "${MNT[mmfs]}/cow" "${MNT[mmfs]}/cow.clone" ||
		die "mmfsctl clone failed"
	A+=("$(randwrite "${MNT[mmfs]}" "$COW_AFTER" "after$r")")
	# the same file again, nothing shared any more: recovered?
	R+=("$(randwrite "${MNT[mmfs]}" "$COW_BEFORE" "unshared$r")")
	log "cow run $r: tmpfs ${TM[-1]}, before ${B[-1]}, after ${A[-1]}, unshared ${R[-1]} IOPS; after, per second: $(per_second "after$r")"
	rm -f "${MNT[mmfs]}/cow.clone"
done
# the median run's per-second figures, by its mean
mid=$(for ((r = 0; r < FIO_RUNS; r++)); do echo "${A[$r]} $r"; done |
	sort -n | awk '{ a[NR] = $2 } END { print a[int((NR + 1) / 2)] }')
bmed=$(echo "${B[*]}" | median)
echo "cow;file;tmpfs IOPS;mmfs before IOPS;after: mean IOPS;after: IOPS in second 1..$COW_AFTER;then unshared IOPS;after/before (mean);after/before (second 1);unshared/before"
ps=$(per_second "after$mid")
awk -v f="$COW_FILE" -v t="$(echo "${TM[*]}" | median)" -v b="$bmed" \
	-v a="$(echo "${A[*]}" | median)" -v ps="$ps" \
	-v u="$(echo "${R[*]}" | median)" 'BEGIN {
	n = split(ps, s, " ")
	printf "4k randwrite;%s;%s;%s;%s;%s;%s;%.2f;%.2f;%.2f\n", f, t, b, a,
		ps, u, (b > 0 ? a / b : 0), (b > 0 ? s[1] / b : 0),
		(b > 0 ? u / b : 0) }'
echo "# results in $RESULTS"

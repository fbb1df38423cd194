#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# odirect.sh -- what serving O_DIRECT opens through the kernel's cached
# O_DIRECT path (instead of FOPEN_DIRECT_IO) costs 4 KiB O_DIRECT random
# reads and writes: run.sh's rand_read_direct and rand_write_direct jobs on
# tmpfs, on two mmfs binaries (MMFS_BEFORE and MMFS_BIN) and on both with
# -o null_io (FUSE's ceiling for each path), in one run, each repetition on
# a fresh mount, the sides in rotating order. Prints medians side by side
# and each side's ratio to tmpfs (> 1: better than tmpfs).
#
#   sudo MMFS_BEFORE=/tmp/mmfs-before/build/fs/mmfs benchmarks/odirect.sh
#
# Environment: MMFS_BIN (after; default build/fs/mmfs), MMFS_BEFORE (before;
# required), BENCH_SIZE (mmfs dram= and tmpfs size=, default 2G),
# RESULTS_DIR, FIO_TIMEOUT (as run.sh).

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
FIO_JOBS=$HERE/fio
BENCH_PY=$HERE/bench.py
# shellcheck source=lib.sh
. "$HERE/lib.sh"

SIZE=${BENCH_SIZE:-2G}
FIO_TIMEOUT=${FIO_TIMEOUT:-180}
MOUNT_TIMEOUT=10
EXIT_TIMEOUT=20
WORKLOADS=(rand_read_direct rand_write_direct)
SIDES=(tmpfs before after before-null after-null)

usage() {
	cat <<EOF
usage: $0 [--quick] [--runs N] [--only NAME...] [--list]

  sides: ${SIDES[*]}   workloads: ${WORKLOADS[*]}
  MMFS_BEFORE must name the mmfs binary to compare with (MMFS_BIN, or
  build/fs/mmfs, is "after").
EOF
}

common_args WORKLOADS workload "$@"
select_only WORKLOADS workload

[ "$(id -u)" -eq 0 ] || die "needs root (mounts tmpfs)"
command -v fio >/dev/null || die "fio not found"
command -v fusermount3 >/dev/null || die "fusermount3 not found"
find_mmfs "no mmfs binary: build it or set MMFS_BIN"
AFTER=$MMFS
[ -x "${MMFS_BEFORE:-}" ] || die "set MMFS_BEFORE to the mmfs binary to compare with"
BEFORE=$(realpath "$MMFS_BEFORE")

make_results
METRICS=$RESULTS/metrics.csv
EVENTS=$RESULTS/events.log
: >"$METRICS"
: >"$EVENTS"
make_scratch odirect

# side_mount -- mount a fresh side $1 as the current mount
side_mount() {
	CUR_KIND=$1
	CUR_MNT=$(mktemp -d "$WORK/$1.XXXX") || return 1
	case $1 in
	tmpfs) cur_mount_tmpfs mmfs-bench-odirect "$SIZE" ;;
	before) MMFS=$BEFORE cur_mount_mmfs none "dram=$SIZE" 0.1 ;;
	after) MMFS=$AFTER cur_mount_mmfs none "dram=$SIZE" 0.1 ;;
	before-null) MMFS=$BEFORE cur_mount_mmfs none "dram=$SIZE,null_io" 0.1 ;;
	after-null) MMFS=$AFTER cur_mount_mmfs none "dram=$SIZE,null_io" 0.1 ;;
	esac
}

# shellcheck disable=SC2317  # reached through the EXIT trap
bench_teardown() { cur_umount; }
bench_traps

run_child() { run_limited "$FIO_TIMEOUT" "$@"; }
jobval() { sed -n "s/^$2=//p" "$FIO_JOBS/$1.fio" | head -n1; }

# one_run -- workload $1 on a fresh side $2, repetition $3 (as run.sh)
one_run() {
	local w=$1 kind=$2 rep=$3 base n i args=() rc=0

	mkdir -p "$RESULTS/$w"
	base=$RESULTS/$w/$kind-$rep
	CUR_LOG=$base.log
	: >"$CUR_LOG"
	if ! side_mount "$kind"; then
		python3 "$BENCH_PY" fail "$w" "$kind" "$rep" fail >>"$METRICS"
		return
	fi
	n=$(jobval "$w" numjobs)
	for ((i = 0; i < n; i++)); do
		args+=(--name="prep-$i" --filename="$w.$i")
	done
	run_child fio --directory="$CUR_MNT" --ioengine=psync --rw=write \
		--bs=1M --size="$(jobval "$w" size)" --end_fsync=1 \
		--output="$base.prep" "${args[@]}" 2>>"$CUR_LOG" &&
		run_child fio --output-format=json --output="$base.json" \
			--directory="$CUR_MNT" "$FIO_JOBS/$w.fio" \
			2>>"$CUR_LOG" || rc=$?
	if [ $rc -eq 0 ]; then
		python3 "$BENCH_PY" fio "$w" "$kind" "$rep" "$base.json" >>"$METRICS"
	else
		event "$kind: $w run $rep failed, status $rc (log: $CUR_LOG)"
		python3 "$BENCH_PY" fail "$w" "$kind" "$rep" fail >>"$METRICS"
	fi
	cur_umount
}

ENVLINE="# mmfs $(tree_rev) | $(machine_desc) | $(fio --version) | before $BEFORE (built $(built_at "$BEFORE")) | after $AFTER (built $(built_at "$AFTER")) | -o dram=$SIZE | tmpfs -o size=$SIZE | runs=$runs median"
LOAD0=$(load_now)
log "results in $RESULTS"
for w in "${selected[@]}"; do
	for ((rep = 1; rep <= runs; rep++)); do
		n=${#SIDES[@]}
		for ((i = 0; i < n; i++)); do
			kind=${SIDES[$(((i + rep) % n))]}
			log "$w: $kind run $rep/$runs"
			one_run "$w" "$kind" "$rep"
		done
	done
done

{
	echo "$ENVLINE | load $LOAD0..$(load_now)"
	python3 "$BENCH_PY" table "$METRICS" "${SIDES[@]}"
} | tee "$RESULTS/summary.txt"
[ -s "$EVENTS" ] && log "events during the run: $EVENTS"
if awk -F';' '$6 == "fail" { f = 1 } END { exit !f }' "$METRICS"; then
	exit 1
fi
exit 0

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# run.sh -- run each benchmark workload on tmpfs, on mmfs, on mmfs -o null_io
# (FUSE's ceiling: the daemon answers every request and discards the data)
# and on libfuse's passthrough_ll example serving a tmpfs (the FUSE peer), in
# one run, and print a ';'-separated table of medians and of mmfs's ratio to
# each of the others.
#
# Every repetition of every workload gets a fresh mount of each side, of the
# same size (the order of the sides rotates per repetition, so drift hits
# them alike), which is unmounted right after. Raw fio JSON, mdbench output, daemon logs, the
# per-run metrics and the table land in $RESULTS_DIR/<UTC time>/. See
# benchmarks/README.md for what each workload measures. Needs root (tmpfs
# mounts), fio, python3, and fusermount3 for mmfs.
#
# Environment:
#   MMFS_BIN     mmfs daemon (default: build/fs/mmfs, else the first
#                build*/fs/mmfs of the source tree)
#   MMFS_OPTS    extra mmfs -o options, appended after dram=
#   BENCH_SIZE   mmfs dram= and tmpfs size= (default 6G)
#   MDBENCH      mdbench binary (default: next to MMFS_BIN's build, else built
#                from benchmarks/mdbench.c into the results directory)
#   MD_FILES     files for the metadata workload (default 50000)
#   RESULTS_DIR  where results go (default benchmarks/results)
#   FIO_TIMEOUT  seconds before one fio or mdbench run is killed (default 180)

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
FIO_JOBS=$HERE/fio
BENCH_PY=$HERE/bench.py
# shellcheck source=lib.sh
. "$HERE/lib.sh"

SIZE=${BENCH_SIZE:-6G}
MD_FILES=${MD_FILES:-50000}
PLL_FILES=$(($(ulimit -Hn) - 1000))	# what passthrough_ll can hold open
FIO_TIMEOUT=${FIO_TIMEOUT:-180}
MOUNT_TIMEOUT=10	# seconds for mmfs to show up in /proc/mounts
EXIT_TIMEOUT=20		# seconds for mmfs to exit after fusermount3 -u

WORKLOADS=(seq_write seq_read_cold seq_read_warm seq_read_direct
	rand_read_direct rand_write_direct mmap_randrw metadata)

usage() {
	cat <<EOF
usage: $0 [--quick] [--runs N] [--sides LIST] [--baseline-self]
          [--only NAME...] [--list]

  --quick          one run per workload and filesystem instead of 3
  --runs N         N runs per workload and filesystem (median is reported)
  --sides LIST     the sides to run, comma separated, from: $ALL_SIDES
                   (default: all; mmfs is the one the ratios are of)
  --baseline-self  compare tmpfs with a second tmpfs instead
                   (checks the harness itself; needs no daemon)
  --only NAME...   run only these workloads (space or comma separated)
  --list           list the workloads and exit

workloads: ${WORKLOADS[*]}
environment: MMFS_BIN MMFS_OPTS BENCH_SIZE MDBENCH MD_FILES RESULTS_DIR
             FIO_TIMEOUT (see the head of this script)
EOF
}

ALL_SIDES="tmpfs mmfs null_io passthrough_ll"
runs=3
quick=0
self=0
only=()
sides=
while [ $# -gt 0 ]; do
	case $1 in
	--baseline-self)
		self=1
		shift
		;;
	--sides)
		[ $# -ge 2 ] || die "--sides needs a list"
		sides=${2//,/ }
		shift 2
		;;
	*)
		common_opt WORKLOADS workload "$@"
		shift "$OPT_USED"
		;;
	esac
done
select_only WORKLOADS workload

[ "$(id -u)" -eq 0 ] || die "needs root (mounts tmpfs, may drop caches)"
command -v fio >/dev/null || die "fio not found"
command -v python3 >/dev/null || die "python3 not found"

# --- the sides -----------------------------------------------------------
# SIDES in table order; SUBJECT is the one each ratio is of (> 1: SUBJECT is
# better than that side).

if [ $self -eq 1 ]; then
	SIDES=(tmpfs tmpfs2)
	SUBJECT=tmpfs2
	MMFS=
else
	read -r -a SIDES <<<"${sides:-$ALL_SIDES}"
	for s in "${SIDES[@]}"; do
		[[ " $ALL_SIDES " == *" $s "* ]] ||
			die "unknown side '$s' (sides: $ALL_SIDES)"
	done
	SUBJECT=mmfs
	[[ " ${SIDES[*]} " == *" mmfs "* ]] || SUBJECT=${SIDES[-1]}
	find_mmfs "no mmfs binary: build it, set MMFS_BIN, or use --baseline-self"
	command -v fusermount3 >/dev/null || die "fusermount3 not found"
fi
[ ${#SIDES[@]} -ge 2 ] || die "--sides needs at least two sides"
MMFS_MOUNT_OPTS=dram=$SIZE${MMFS_OPTS:+,$MMFS_OPTS}

make_results
[[ " ${SIDES[*]} " == *" passthrough_ll "* ]] && find_passthrough_ll
METRICS=$RESULTS/metrics.csv
EVENTS=$RESULTS/events.log	# daemon exits, mount failures, fio errors
: >"$METRICS"
: >"$EVENTS"

# --- mounts --------------------------------------------------------------
# One filesystem is mounted at a time; CUR_* describe it, and the EXIT trap
# takes it down whatever happens.

make_scratch bench

# fs_mount -- mount a fresh side $1 (see ALL_SIDES) as the current mount
fs_mount() {
	local kind=$1

	CUR_KIND=$kind
	CUR_MNT=$(mktemp -d "$WORK/$kind.XXXX") || return 1
	case $kind in
	tmpfs | tmpfs2) cur_mount_tmpfs "mmfs-bench-$kind" "$SIZE" ;;
	mmfs) cur_mount_mmfs none "$MMFS_MOUNT_OPTS" 0.1 ;;
	null_io) cur_mount_mmfs none "$MMFS_MOUNT_OPTS,null_io" 0.1 ;;
	passthrough_ll) cur_mount_pll "$SIZE" ;;
	esac
}

# shellcheck disable=SC2317  # reached through the EXIT trap
# bench_teardown -- (EXIT trap) take down the current mount
bench_teardown() { cur_umount; }
bench_traps

# --- helpers -------------------------------------------------------------

# run_child -- run "$@" under FIO_TIMEOUT, so that ^C reaches the trap
# (see run_limited in lib.sh)
run_child() { run_limited "$FIO_TIMEOUT" "$@"; }

# jobval -- first KEY=value of fio job file $1
jobval() {
	sed -n "s/^$2=//p" "$FIO_JOBS/$1.fio" | head -n1
}

# run_fio -- run a job file on the current mount; JSON to $2
run_fio() {
	local job=$1 json=$2
	shift 2
	run_child fio --output-format=json --output="$json" \
		--directory="$CUR_MNT" "$@" "$FIO_JOBS/$job.fio" 2>>"$CUR_LOG"
}

# prep_files -- fill files of $1 bytes each with 1 MiB writes, then fsync
prep_files() {
	local size=$1 f args=()
	shift
	for f; do
		args+=(--name="prep-$f" --filename="$f")
	done
	run_child fio --directory="$CUR_MNT" \
		--ioengine=psync --rw=write --bs=1M --size="$size" \
		--end_fsync=1 --output="$CUR_LOG.prep" "${args[@]}" \
		2>>"$CUR_LOG"
}

# odirect_ok -- can the current mount write and read with O_DIRECT?
odirect_ok() {
	local f=$CUR_MNT/.odirect-probe rc=0

	dd if=/dev/zero of="$f" bs=4096 count=1 oflag=direct status=none \
		2>>"$CUR_LOG" &&
		dd if="$f" of=/dev/null bs=4096 count=1 iflag=direct \
			status=none 2>>"$CUR_LOG" || rc=1
	rm -f "$f"
	return $rc
}

# drop_caches -- write back and drop clean caches, if this host lets us
DROP=no
drop_caches() {
	sync
	[ $DROP = yes ] && echo 3 >/proc/sys/vm/drop_caches
	return 0
}
if (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
	DROP=yes
fi

MDBENCH_BIN=
find_mdbench() {
	local c

	if [ -n "${MDBENCH:-}" ]; then
		MDBENCH_BIN=$MDBENCH
		return
	fi
	for c in ${MMFS:+"$(dirname "$(dirname "$MMFS")")/benchmarks/mdbench"} \
		"$TOP"/build*/benchmarks/mdbench; do
		if [ -x "$c" ] && [ "$c" -nt "$HERE/mdbench.c" ]; then
			MDBENCH_BIN=$c
			return
		fi
	done
	MDBENCH_BIN=$RESULTS/mdbench
	${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE \
		-o "$MDBENCH_BIN" "$HERE/mdbench.c" ||
		die "cannot build mdbench"
}

# --- workloads -----------------------------------------------------------

# workload_run -- run workload $1 on the current mount; result files at $2.*
workload_run() {
	local w=$1 base=$2 n i files

	case $w in
	seq_write)
		run_fio "$w" "$base.json"
		;;
	seq_read_cold)
		prep_files "$(jobval "$w" size)" "$(jobval "$w" filename)" &&
			drop_caches &&
			run_fio "$w" "$base.json"
		;;
	seq_read_warm)
		prep_files "$(jobval "$w" size)" "$(jobval "$w" filename)" &&
			run_fio "$w" "$base.first.json" &&
			run_fio "$w" "$base.json"
		;;
	seq_read_direct)
		prep_files "$(jobval "$w" size)" "$(jobval "$w" filename)" &&
			run_fio "$w" "$base.json"
		;;
	rand_read_direct | rand_write_direct)
		# one file per job, named by the job's filename_format
		n=$(jobval "$w" numjobs)
		files=()
		for ((i = 0; i < n; i++)); do
			files+=("$w.$i")
		done
		prep_files "$(jobval "$w" size)" "${files[@]}" &&
			run_fio "$w" "$base.json"
		;;
	mmap_randrw)
		prep_files "$(jobval "$w" size)" "$(jobval "$w" filename)" &&
			run_fio "$w" "$base.json"
		;;
	metadata)
		n=$MD_FILES
		if [ "$CUR_KIND" = passthrough_ll ] && [ "$n" -gt "$PLL_FILES" ]; then
			# an O_PATH descriptor per file: it cannot hold more
			event "passthrough_ll: metadata with $PLL_FILES files, not $n (ulimit -Hn $(ulimit -Hn))"
			n=$PLL_FILES
		fi
		mkdir "$CUR_MNT/md" &&
			run_child "$MDBENCH_BIN" "$CUR_MNT/md" \
				"$n" >"$base.txt" 2>>"$CUR_LOG"
		;;
	esac
}

# run_one -- one repetition of workload $1 on a fresh $2 mount, rep $3
run_one() {
	local w=$1 kind=$2 rep=$3 base rc

	mkdir -p "$RESULTS/$w"
	base=$RESULTS/$w/$kind-$rep
	CUR_LOG=$base.log
	: >"$CUR_LOG"
	if ! fs_mount "$kind"; then
		python3 "$BENCH_PY" fail "$w" "$kind" "$rep" fail >>"$METRICS"
		return
	fi
	case $w in
	seq_read_direct | rand_read_direct | rand_write_direct)
		if ! odirect_ok; then
			event "$kind: O_DIRECT not supported, $w skipped"
			python3 "$BENCH_PY" fail "$w" "$kind" "$rep" n/a >>"$METRICS"
			cur_umount
			return
		fi
		;;
	esac
	workload_run "$w" "$base"
	rc=$?
	[ $rc -eq 0 ] || event "$kind: $w run $rep failed, status $rc (log: $CUR_LOG)"
	if [ "$w" = metadata ]; then
		python3 "$BENCH_PY" md "$kind" "$rep" "$base.txt" >>"$METRICS"
	elif [ $rc -eq 0 ]; then
		python3 "$BENCH_PY" fio "$w" "$kind" "$rep" "$base.json" >>"$METRICS"
	else
		python3 "$BENCH_PY" fail "$w" "$kind" "$rep" fail >>"$METRICS"
	fi
	cur_umount
}

# --- main ----------------------------------------------------------------

[[ " ${selected[*]} " == *" metadata "* ]] && find_mdbench

if [ $self -eq 1 ]; then
	side_desc="tmpfs2 (--baseline-self) -o size=$SIZE"
else
	side_desc="mmfs -o $MMFS_MOUNT_OPTS ($("$MMFS" --version 2>/dev/null |
		head -n1 | awk '{ print $2 }'), built $(built_at "$MMFS"))"
	[ -z "${PLL:-}" ] || side_desc+=" | passthrough_ll of libfuse $(pkg-config --modversion fuse3) over tmpfs"
fi
ENVLINE="# mmfs $(tree_rev) | $(machine_desc) | $(fio --version) | $side_desc | tmpfs -o size=$SIZE | runs=$runs median | drop_caches=$DROP"
LOAD0=$(load_now)

log "results in $RESULTS"
for w in "${selected[@]}"; do
	for ((rep = 1; rep <= runs; rep++)); do
		# rotate which side goes first, so warm-up and drift do
		# not always favour the same one
		n=${#SIDES[@]}
		order=()
		for ((i = 0; i < n; i++)); do
			order+=("${SIDES[$(((i + rep - 1) % n))]}")
		done
		for kind in "${order[@]}"; do
			log "$w: $kind run $rep/$runs"
			run_one "$w" "$kind" "$rep"
		done
	done
done

{
	echo "$ENVLINE | load $LOAD0..$(load_now)"
	echo "# $SUBJECT/X = $SUBJECT's figure over X's for throughput (MiB/s, IOPS, ops/s), X's over $SUBJECT's for latency (us): > 1 means $SUBJECT is better"
	python3 "$BENCH_PY" summary "$METRICS" "$SUBJECT" "${SIDES[@]}"
} | tee "$RESULTS/summary.txt"
[ -s "$EVENTS" ] && log "events during the run: $EVENTS"
# non-zero when any run failed, so that scripts and CI notice
if awk -F';' '$6 == "fail" { f = 1 } END { exit !f }' "$METRICS"; then
	exit 1
fi
exit 0

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# run.sh -- run each benchmark workload on tmpfs and on mmfs in one run and
# print a ';'-separated table of medians and mmfs/tmpfs ratios.
#
# Every repetition of every workload gets a fresh tmpfs and a fresh mmfs mount
# of the same size (tmpfs and mmfs alternate, so drift hits both alike), which
# is unmounted right after. Raw fio JSON, mdbench output, daemon logs, the
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

SIZE=${BENCH_SIZE:-6G}
MD_FILES=${MD_FILES:-50000}
FIO_TIMEOUT=${FIO_TIMEOUT:-180}
MOUNT_TIMEOUT=10	# seconds for mmfs to show up in /proc/mounts
EXIT_TIMEOUT=20		# seconds for mmfs to exit after fusermount3 -u

WORKLOADS=(seq_write seq_read_cold seq_read_warm seq_read_direct
	rand_read_direct rand_write_direct mmap_randrw metadata)

usage() {
	cat <<EOF
usage: $0 [--quick] [--runs N] [--baseline-self] [--only NAME...] [--list]

  --quick          one run per workload and filesystem instead of 3
  --runs N         N runs per workload and filesystem (median is reported)
  --baseline-self  compare tmpfs with a second tmpfs instead of mmfs
                   (checks the harness itself; needs no daemon)
  --only NAME...   run only these workloads (space or comma separated)
  --list           list the workloads and exit

workloads: ${WORKLOADS[*]}
environment: MMFS_BIN MMFS_OPTS BENCH_SIZE MDBENCH MD_FILES RESULTS_DIR
             FIO_TIMEOUT (see the head of this script)
EOF
}

# progress goes to the caller's stderr (fd 3), even from inside functions
# whose stderr is redirected to a run's log
exec 3>&2
log() { echo "run.sh: $*" >&3; }
die() { log "$*"; exit 1; }

runs=3
self=0
only=()
while [ $# -gt 0 ]; do
	case $1 in
	--quick) runs=1 ;;
	--runs)
		if [ $# -lt 2 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
			die "--runs needs a positive number"
		fi
		runs=$2
		shift
		;;
	--baseline-self) self=1 ;;
	--only)
		shift
		while [ $# -gt 0 ] && [[ $1 != --* ]]; do
			IFS=, read -r -a names <<<"$1"
			only+=("${names[@]}")
			shift
		done
		[ ${#only[@]} -gt 0 ] || die "--only needs workload names"
		continue
		;;
	--list)
		printf '%s\n' "${WORKLOADS[@]}"
		exit 0
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done

selected=()
if [ ${#only[@]} -gt 0 ]; then
	for w in "${only[@]}"; do
		[[ " ${WORKLOADS[*]} " == *" $w "* ]] ||
			die "unknown workload '$w' (--list shows them)"
		selected+=("$w")
	done
else
	selected=("${WORKLOADS[@]}")
fi

[ "$(id -u)" -eq 0 ] || die "needs root (mounts tmpfs, may drop caches)"
command -v fio >/dev/null || die "fio not found"
command -v python3 >/dev/null || die "python3 not found"

# --- the two sides -------------------------------------------------------

LEFT=tmpfs
if [ $self -eq 1 ]; then
	RIGHT=tmpfs2
	MMFS=
else
	RIGHT=mmfs
	MMFS=${MMFS_BIN:-}
	if [ -z "$MMFS" ]; then
		for c in "$TOP/build/fs/mmfs" "$TOP"/build*/fs/mmfs; do
			if [ -x "$c" ]; then
				MMFS=$c
				break
			fi
		done
	fi
	[ -n "$MMFS" ] ||
		die "no mmfs binary: build it, set MMFS_BIN, or use --baseline-self"
	[ -x "$MMFS" ] || die "MMFS_BIN=$MMFS is not executable"
	MMFS=$(realpath "$MMFS")
	command -v fusermount3 >/dev/null || die "fusermount3 not found"
fi
MMFS_MOUNT_OPTS=dram=$SIZE${MMFS_OPTS:+,$MMFS_OPTS}

RESULTS=${RESULTS_DIR:-$HERE/results}/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RESULTS" || die "cannot create $RESULTS"
RESULTS=$(realpath "$RESULTS")
METRICS=$RESULTS/metrics.csv
EVENTS=$RESULTS/events.log	# daemon exits, mount failures, fio errors
: >"$METRICS"
: >"$EVENTS"

event() {
	log "$*"
	echo "$(date -u +%H:%M:%S) $*" >>"$EVENTS"
}

# --- mounts --------------------------------------------------------------
# One filesystem is mounted at a time; CUR_* describe it, and the EXIT trap
# takes it down whatever happens.

WORK=$(realpath "$(mktemp -d "${TMPDIR:-/tmp}/mmfs-bench.XXXXXX")") ||
	die "mktemp failed"
CUR_MNT=
CUR_KIND=
CUR_PID=
CUR_LOG=/dev/null
CHILD=		# pid of the running timeout(1), for cleanup

# mounted_type -- filesystem type mounted at $1, empty if none
mounted_type() {
	awk -v m="$1" '$2 == m { t = $3 } END { print t }' /proc/mounts
}

# wait_pid -- wait up to $2 seconds for our child $1 to exit
wait_pid() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# reap_daemon -- collect the mmfs exit status and report anything unclean
reap_daemon() {
	local st
	wait "$CUR_PID" 2>/dev/null
	st=$?
	[ $st -eq 0 ] ||
		event "mmfs pid $CUR_PID exited with status $st (log: $CUR_LOG)"
	CUR_PID=
}

fs_mount() {
	local kind=$1 t i

	CUR_KIND=$kind
	CUR_MNT=$(mktemp -d "$WORK/$kind.XXXX") || return 1
	case $kind in
	tmpfs | tmpfs2)
		if ! mount -t tmpfs -o "size=$SIZE" "mmfs-bench-$kind" \
			"$CUR_MNT" 2>>"$CUR_LOG"; then
			event "mount -t tmpfs failed (log: $CUR_LOG)"
			rmdir "$CUR_MNT"
			CUR_MNT=
			return 1
		fi
		;;
	mmfs)
		echo "+ $MMFS -f none $CUR_MNT -o $MMFS_MOUNT_OPTS" >>"$CUR_LOG"
		"$MMFS" -f none "$CUR_MNT" -o "$MMFS_MOUNT_OPTS" \
			>>"$CUR_LOG" 2>&1 </dev/null &
		CUR_PID=$!
		for ((i = 0; i < MOUNT_TIMEOUT * 10; i++)); do
			t=$(mounted_type "$CUR_MNT")
			case $t in
			fuse.mmfs) return 0 ;;
			fuse | fuse.*)
				event "mmfs mounted as '$t', not fuse.mmfs"
				return 0
				;;
			esac
			if ! kill -0 "$CUR_PID" 2>/dev/null; then
				event "mmfs exited before the mount appeared (log: $CUR_LOG)"
				reap_daemon
				rmdir "$CUR_MNT"
				CUR_MNT=
				return 1
			fi
			sleep 0.1
		done
		event "mmfs not in /proc/mounts after ${MOUNT_TIMEOUT}s"
		fs_umount
		return 1
		;;
	esac
}

fs_umount() {
	[ -n "$CUR_MNT" ] || return 0
	case $CUR_KIND in
	mmfs)
		if [ -n "$(mounted_type "$CUR_MNT")" ] &&
			! fusermount3 -u "$CUR_MNT" 2>>"$CUR_LOG"; then
			sleep 1
			fusermount3 -u "$CUR_MNT" 2>>"$CUR_LOG" ||
				event "fusermount3 -u $CUR_MNT failed (log: $CUR_LOG)"
		fi
		if [ -n "$CUR_PID" ]; then
			if ! wait_pid "$CUR_PID" "$EXIT_TIMEOUT"; then
				event "mmfs pid $CUR_PID still running ${EXIT_TIMEOUT}s after unmount; SIGTERM"
				kill -TERM "$CUR_PID" 2>/dev/null
				if ! wait_pid "$CUR_PID" 5; then
					event "mmfs pid $CUR_PID ignored SIGTERM; SIGKILL"
					kill -KILL "$CUR_PID" 2>/dev/null
				fi
			fi
			reap_daemon
		fi
		if [ -n "$(mounted_type "$CUR_MNT")" ]; then
			event "$CUR_MNT still mounted; lazy unmount"
			fusermount3 -uz "$CUR_MNT" 2>>"$CUR_LOG" ||
				umount -l "$CUR_MNT" 2>>"$CUR_LOG"
		fi
		;;
	*)
		umount "$CUR_MNT" 2>>"$CUR_LOG" || {
			event "umount $CUR_MNT failed; lazy unmount"
			umount -l "$CUR_MNT" 2>>"$CUR_LOG"
		}
		;;
	esac
	rmdir "$CUR_MNT" 2>/dev/null || event "cannot remove $CUR_MNT"
	CUR_MNT=
}

# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
	local rc=$?

	trap - EXIT INT TERM
	if [ -n "$CHILD" ]; then
		log "interrupted; stopping pid $CHILD"
		kill -TERM "$CHILD" 2>/dev/null
		# timeout(1) passes TERM on to its process group (fio and
		# its job processes); KILL goes to that group directly
		wait_pid "$CHILD" 15 || kill -KILL -- "-$CHILD" 2>/dev/null
		wait "$CHILD" 2>/dev/null
	fi
	fs_umount
	if awk -v w="$WORK/" 'index($2, w) == 1 { f = 1 } END { exit !f }' \
		/proc/mounts; then
		log "something is still mounted under $WORK; leaving it"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- helpers -------------------------------------------------------------

# run_child -- run "$@" under a time limit, in the background, and wait.
# A signal trap only runs while bash sits in the wait builtin, not while it
# waits for a foreground command; and timeout(1) moves its command to a
# process group of its own, out of reach of the terminal's ^C. So ^C reaches
# run.sh only, whose trap then stops the child (see cleanup).
run_child() {
	local rc

	timeout -k 10 "$FIO_TIMEOUT" "$@" &
	CHILD=$!
	wait "$CHILD"
	rc=$?
	CHILD=
	return $rc
}

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
		mkdir "$CUR_MNT/md" &&
			run_child "$MDBENCH_BIN" "$CUR_MNT/md" \
				"$MD_FILES" >"$base.txt" 2>>"$CUR_LOG"
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
			fs_umount
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
	fs_umount
}

# --- main ----------------------------------------------------------------

[[ " ${selected[*]} " == *" metadata "* ]] && find_mdbench

rev=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$TOP" diff --quiet HEAD 2>/dev/null || rev=$rev-dirty
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
mem=$(awk '/^MemTotal/ { printf "%.0fG", $2 / 1048576 }' /proc/meminfo)
if [ $self -eq 1 ]; then
	right_desc="tmpfs2 (--baseline-self) -o size=$SIZE"
else
	right_desc="mmfs -o $MMFS_MOUNT_OPTS ($("$MMFS" --version 2>/dev/null |
		head -n1 | awk '{ print $2 }'), built $(date -u -r "$MMFS" +%FT%TZ))"
fi
ENVLINE="# mmfs $rev | linux $(uname -r) | $cpu x$(nproc), $mem | $(fio --version) | $right_desc | tmpfs -o size=$SIZE | runs=$runs median | drop_caches=$DROP"
LOAD0=$(cut -d" " -f1 /proc/loadavg)

log "results in $RESULTS"
for w in "${selected[@]}"; do
	for ((rep = 1; rep <= runs; rep++)); do
		# alternate which side goes first, so warm-up and drift
		# do not always favour the same one
		order=("$LEFT" "$RIGHT")
		[ $((rep % 2)) -eq 0 ] && order=("$RIGHT" "$LEFT")
		for kind in "${order[@]}"; do
			log "$w: $kind run $rep/$runs"
			run_one "$w" "$kind" "$rep"
		done
	done
done

{
	echo "$ENVLINE | load $LOAD0..$(cut -d' ' -f1 /proc/loadavg)"
	echo "# ratio = $RIGHT/$LEFT for throughput (MiB/s, IOPS, ops/s), $LEFT/$RIGHT for latency (us): >1 means $RIGHT is better"
	python3 "$BENCH_PY" summary "$METRICS" "$LEFT" "$RIGHT"
} | tee "$RESULTS/summary.txt"
[ -s "$EVENTS" ] && log "events during the run: $EVENTS"
# non-zero when any run failed, so that scripts and CI notice
if awk -F';' '$6 == "fail" { f = 1 } END { exit !f }' "$METRICS"; then
	exit 1
fi
exit 0

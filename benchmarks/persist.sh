#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# persist.sh -- what persistence costs: the same jobs on tmpfs, on a volatile
# mmfs (SOURCE none) and on mmfs with a pool file, in one run, and a
# ';'-separated table of medians with the pool/tmpfs and pool/volatile ratios.
#
# Workloads (benchmarks/README.md, "Persistence", says what each measures):
#   fsync     pwrite + fsync (and fdatasync) latency, 4 KiB and 1 MiB, at
#             random offsets in a 64 MiB file (fsyncbench)
#   metadata  create, stat, unlink of MD_FILES files in one directory
#             (mdbench)
#   mount     pool only: time from starting the daemon to a successful stat
#             of a file, on a pool holding MMFS_BENCH_FILES files and
#             MMFS_BENCH_GB GiB, after a clean unmount and after kill -9
# fsync and metadata use a fresh mount (and a fresh pool file) for every
# repetition; their mount times give the mount_new row. The pool file lives
# in POOL_DIR, by default /dev/shm: a file on tmpfs stands in for PMEM and
# takes the same code path in the daemon.
#
# Output: the table on stdout and in $RESULTS_DIR/<UTC time>/persist.txt,
# next to metrics.csv, events.log and every run's raw output and daemon log.
# Everything mounted or started here is unmounted or stopped on every exit
# path. Needs root (tmpfs mounts), python3, fusermount3.
#
# Environment (defaults in brackets; --quick lowers the counts):
#   MMFS_BIN          mmfs daemon [build/fs/mmfs, else the first build*/fs/mmfs]
#   MMFS_OPTS         extra -o options for both mmfs mounts
#   POOL_OPTS         extra -o options for pool mounts (commit=, pmem_emulate=)
#   BENCH_SIZE        tmpfs size=, mmfs dram= for fsync and metadata [2G]
#   POOL_SIZE         pmem_size= of the pools for fsync and metadata [2G]
#   POOL_DIR          where pool files go [/dev/shm]
#   FSYNC_4K_COUNT    write+fsync pairs of 4 KiB per run [2000; quick 200]
#   FSYNC_1M_COUNT    write+fsync pairs of 1 MiB per run [200; quick 20]
#   MD_FILES          files for the metadata workload [50000; quick 5000]
#   MMFS_BENCH_FILES  small files in the recovery pool [100000; quick 2000]
#   MMFS_BENCH_GB     GiB of data in the recovery pool, may be a fraction
#                     [8; quick 0.25]
#   MMFS_BENCH_POOL   pmem_size= of the recovery pool [10G; quick 1G]
#   MMFS_BENCH_DRAM   dram= of the recovery mounts [2G; quick 512M]
#   MMFS_BENCH_CHUNK  chunk= of the recovery pool [4K: with the default 64K,
#                     100,000 files of 4 KiB take 6.25 GiB of a 10 GiB pool;
#                     set it empty for the daemon's default]
#   SMALL_SIZE        size of each small file [4K]
#   CRASH_FILES       files created before and after the 'mmfsctl sync'
#                     that precedes each kill -9 [2000; quick 500]
#   BENCH_BINDIR      where fsyncbench, mdbench and treegen are [next to
#                     MMFS_BIN's build, else compiled into the results dir]
#   RESULTS_DIR       where results go [benchmarks/results]
#   RUN_TIMEOUT       seconds before one driver run is killed [600]
#   MOUNT_TIMEOUT     seconds for a mount to appear and answer [120]

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

WORKLOADS=(fsync metadata mount)
KINDS=(tmpfs volatile pool)
EXIT_TIMEOUT=30		# seconds for mmfs to exit after fusermount3 -u
GIB=1073741824

usage() {
	cat <<EOF
usage: $0 [--quick] [--runs N] [--only NAME...] [--list]

  --quick          small counts and one run per workload (a smoke test, ~30 s)
  --runs N         N runs per workload and filesystem (median is reported)
  --only NAME...   run only these workloads (space or comma separated)
  --list           list the workloads and exit

workloads: ${WORKLOADS[*]}
environment: see the head of this script
EOF
}

common_args WORKLOADS workload "$@"
select_only WORKLOADS workload
want() { [[ " ${selected[*]} " == *" $1 "* ]]; }

SIZE=${BENCH_SIZE:-2G}
POOL_SIZE=${POOL_SIZE:-2G}
POOL_DIR=${POOL_DIR:-/dev/shm}
FSYNC_4K_COUNT=${FSYNC_4K_COUNT:-$(q 2000 200)}
FSYNC_1M_COUNT=${FSYNC_1M_COUNT:-$(q 200 20)}
MD_FILES=${MD_FILES:-$(q 50000 5000)}
BIG_FILES=${MMFS_BENCH_FILES:-$(q 100000 2000)}
BIG_GB=${MMFS_BENCH_GB:-$(q 8 0.25)}
BIG_POOL=${MMFS_BENCH_POOL:-$(q 10G 1G)}
BIG_DRAM=${MMFS_BENCH_DRAM:-$(q 2G 512M)}
BIG_CHUNK=${MMFS_BENCH_CHUNK-4K}
SMALL_SIZE=${SMALL_SIZE:-4K}
NEW_POOL_OPTS=	# extra -o options when a pool is created (chunk=)
CRASH_FILES=${CRASH_FILES:-$(q 2000 500)}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
MOUNT_TIMEOUT=${MOUNT_TIMEOUT:-120}

[ "$(id -u)" -eq 0 ] || die "needs root (mounts tmpfs)"
command -v python3 >/dev/null || die "python3 not found"
command -v fusermount3 >/dev/null || die "fusermount3 not found"
[ -d "$POOL_DIR" ] || die "POOL_DIR=$POOL_DIR is not a directory"

find_mmfs "no mmfs binary: build it or set MMFS_BIN"
MMFSCTL=$(dirname "$MMFS")/mmfsctl
if want mount && ! [ -x "$MMFSCTL" ]; then
	die "no $MMFSCTL (the mount workload syncs with 'mmfsctl sync')"
fi

for v in SIZE POOL_SIZE BIG_POOL BIG_DRAM SMALL_SIZE; do
	bytes "${!v}" >/dev/null || die "$v=${!v}: not a size"
done
[[ $BIG_GB =~ ^[0-9]*\.?[0-9]+$ ]] || die "MMFS_BENCH_GB=$BIG_GB: not a number"
for v in FSYNC_4K_COUNT FSYNC_1M_COUNT MD_FILES BIG_FILES CRASH_FILES; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v=${!v}: not a positive count"
done

make_results
METRICS=$RESULTS/metrics.csv	# kind;rep;row;unit;hi|lo;value
EVENTS=$RESULTS/events.log	# mount failures, daemon exits, failed runs
NOTES=$RESULTS/notes.txt	# '#' lines printed under the table
: >"$METRICS"
: >"$EVENTS"
: >"$NOTES"

note() {
	log "$*"
	echo "# $*" >>"$NOTES"
}
# metric -- record one value: kind rep row unit hi|lo value
metric() {
	local IFS=';'
	echo "$*" >>"$METRICS"
}

# --- mounts --------------------------------------------------------------
# One filesystem is mounted at a time; CUR_* describe it, and the EXIT trap
# takes it down whatever happens. Pool files live in POOLS, removed at exit.

make_scratch persist pools
MOUNT_SECS=	# set by fs_mount: start to first successful stat

# fs_mount -- mount a $1 (tmpfs, volatile, pool) at a new directory.
# For pool, $2 is the pool file, $3 its pmem_size= when it does not exist
# yet, $4 dram=; $5 (optional) a path under the mount that must stat
# before the mount counts as ready. Sets MOUNT_SECS.
fs_mount() {
	local kind=$1 pool=${2:-} psize=${3:-} dram=${4:-$SIZE} probe=${5:-}
	local t0 opts

	CUR_KIND=$kind
	CUR_MNT=$(mktemp -d "$WORK/$kind.XXXX") || return 1
	MOUNT_SECS=
	t0=$(usecs)
	case $kind in
	tmpfs) cur_mount_tmpfs mmfs-persist-tmpfs "$SIZE" || return 1 ;;
	volatile | pool)
		if [ "$kind" = volatile ]; then
			pool=none
			opts=dram=$dram
		else
			opts=dram=$dram
			[ -e "$pool" ] ||
				opts=pmem_size=$psize${NEW_POOL_OPTS:+,$NEW_POOL_OPTS},$opts
			opts=$opts${POOL_OPTS:+,$POOL_OPTS}
		fi
		opts=$opts${MMFS_OPTS:+,$MMFS_OPTS}
		cur_mount_mmfs "$pool" "$opts" 0.005 "$kind: " || return 1
		;;
	esac
	# ready when it answers: stat the root, or the probe path, under the
	# same time limit (recovery may happen behind a visible mount)
	if ! timeout "$MOUNT_TIMEOUT" stat "$CUR_MNT/$probe" \
		>/dev/null 2>>"$CUR_LOG"; then
		event "$kind: stat $CUR_MNT/$probe failed after mounting (log: $CUR_LOG)"
		cur_umount
		return 1
	fi
	MOUNT_SECS=$(awk -v d=$(($(usecs) - t0)) 'BEGIN { printf "%.3f", d / 1e6 }')
	return 0
}

# fs_crash -- kill -9 the current daemon and detach its dead mount
fs_crash() {
	[ -n "$CUR_PID" ] || return 1
	echo "+ kill -KILL $CUR_PID" >>"$CUR_LOG"
	# bash reports the killed job on stderr: into the log with it
	# shellcheck disable=SC2094  # reap_pid only names the log in a message
	{
		kill -KILL "$CUR_PID"
		wait_pid "$CUR_PID" 10 ||
			event "mmfs pid $CUR_PID survived SIGKILL"
		reap_pid "$CUR_PID" "$CUR_LOG" "" 137
		CUR_PID=
	} 2>>"$CUR_LOG"
	# the mount now answers ENOTCONN; a plain unmount detaches it
	cur_umount
}

# shellcheck disable=SC2317  # reached through the EXIT trap
# bench_teardown -- (EXIT trap) take down the current mount
bench_teardown() { cur_umount; }
bench_traps

# run_child -- run "$@" under RUN_TIMEOUT, so that ^C reaches the trap
# (see run_limited in lib.sh)
run_child() { run_limited "$RUN_TIMEOUT" "$@"; }

# --- drivers -------------------------------------------------------------

BINDIR=
find_drivers() {
	local c d

	if [ -n "${BENCH_BINDIR:-}" ]; then
		BINDIR=$BENCH_BINDIR
		return
	fi
	for d in "$(dirname "$(dirname "$MMFS")")/benchmarks" \
		"$TOP"/build*/benchmarks; do
		for c in fsyncbench mdbench treegen; do
			if ! [ -x "$d/$c" ] || ! [ "$d/$c" -nt "$HERE/$c.c" ]; then
				continue 2
			fi
		done
		BINDIR=$d
		return
	done
	BINDIR=$RESULTS/bin
	mkdir -p "$BINDIR"
	for c in fsyncbench mdbench treegen; do
		${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE \
			-o "$BINDIR/$c" "$HERE/$c.c" || die "cannot build $c"
	done
}
find_drivers

# --- fsync and metadata --------------------------------------------------

# fsync_rows -- parse fsyncbench output $1 into rows named $2_p50, $2_p99
fsync_rows() {
	local kind=$1 rep=$2 out=$3 name=$4 p50 p99

	IFS=';' read -r _ _ _ p50 p99 _ < <(sed -n 2p "$out")
	if [[ ${p50:-} =~ ^[0-9.]+$ && ${p99:-} =~ ^[0-9.]+$ ]]; then
		metric "$kind" "$rep" "${name}_p50" us lo "$p50"
		metric "$kind" "$rep" "${name}_p99" us lo "$p99"
	else
		metric "$kind" "$rep" "${name}_p50" us lo fail
		metric "$kind" "$rep" "${name}_p99" us lo fail
	fi
}

FSYNC_JOBS=(			# row|-d for fdatasync|BS|COUNT
	"fsync_4k||4K|$FSYNC_4K_COUNT"
	"fdatasync_4k|-d|4K|$FSYNC_4K_COUNT"
	"fsync_1m||1M|$FSYNC_1M_COUNT"
)
MD_ROWS=(md_create md_stat md_unlink)

# fail_rows -- every row of workload $1 for $2 rep $3 is "fail"
fail_rows() {
	local j
	case $1 in
	fsync)
		for j in "${FSYNC_JOBS[@]}"; do
			metric "$2" "$3" "${j%%|*}_p50" us lo fail
			metric "$2" "$3" "${j%%|*}_p99" us lo fail
		done
		;;
	metadata)
		for j in "${MD_ROWS[@]}"; do
			metric "$2" "$3" "$j" ops/s hi fail
		done
		;;
	esac
}

# run_one -- one repetition of fsync or metadata on a fresh $2, rep $3
run_one() {
	local w=$1 kind=$2 rep=$3 base pool='' j name dflag bs count out rc phase v

	mkdir -p "$RESULTS/$w"
	base=$RESULTS/$w/$kind-$rep
	CUR_LOG=$base.log
	: >"$CUR_LOG"
	[ "$kind" = pool ] && pool=$POOLS/$w-$rep.pool && rm -f "$pool"
	if ! fs_mount "$kind" "$pool" "$POOL_SIZE" "$SIZE"; then
		fail_rows "$w" "$kind" "$rep"
		metric "$kind" "$w-$rep" mount_new s lo fail
		return
	fi
	metric "$kind" "$w-$rep" mount_new s lo "$MOUNT_SECS"
	case $w in
	fsync)
		for j in "${FSYNC_JOBS[@]}"; do
			IFS='|' read -r name dflag bs count <<<"$j"
			out=$base.$name.txt
			# the file is made (and synced) by the first job and
			# reused by the others
			run_child "$BINDIR/fsyncbench" -s 64M ${dflag:+"$dflag"} \
				"$CUR_MNT/fsync.dat" "$bs" "$count" \
				>"$out" 2>>"$CUR_LOG"
			rc=$?
			[ $rc -eq 0 ] ||
				event "$kind: $name run $rep failed, status $rc (log: $CUR_LOG)"
			fsync_rows "$kind" "$rep" "$out" "$name"
		done
		;;
	metadata)
		out=$base.txt
		mkdir "$CUR_MNT/md" &&
			run_child "$BINDIR/mdbench" "$CUR_MNT/md" "$MD_FILES" \
				>"$out" 2>>"$CUR_LOG"
		rc=$?
		[ $rc -eq 0 ] ||
			event "$kind: metadata run $rep failed, status $rc (log: $CUR_LOG)"
		for phase in create stat unlink; do
			v=$(awk -F';' -v p="$phase" '$1 == p { print $4 }' "$out")
			[[ $v =~ ^[0-9.]+$ ]] || v=fail
			metric "$kind" "$rep" "md_$phase" ops/s hi "$v"
		done
		;;
	esac
	# the daemon's own counters (commits, bytes written back) as evidence
	# that the syncs reached the pool
	if [ "$kind" != tmpfs ]; then
		"$MMFSCTL" stat "$CUR_MNT" >"$base.stat.txt" 2>&1
		[ "$kind" = pool ] && [ "$rep" -eq 1 ] &&
			note "$w: pool run 1: $(sed -n 's/^ *pool: *//p' "$base.stat.txt")"
	fi
	cur_umount
	[ -n "$pool" ] && rm -f "$pool"
}

# --- mount (recovery) time -----------------------------------------------

# mem_plan -- check memory and POOL_DIR space for the recovery pool; scale
# the pool, the data and the file count down together, with a warning
mem_plan() {
	local avail shm pool dram need fit f

	avail=$(mem_avail)
	shm=$(dir_free "$POOL_DIR")
	pool=$(bytes "$BIG_POOL")
	dram=$(bytes "$BIG_DRAM")
	need=$((pool + dram + 2 * GIB))	# 2 GiB for everything else
	fit=$((avail - dram - 2 * GIB))
	[ "$shm" -lt "$fit" ] && fit=$shm
	if [ "$avail" -ge "$need" ] && [ "$shm" -ge "$pool" ]; then
		return 0
	fi
	if [ "$fit" -lt $((256 << 20)) ]; then
		note "mount: skipped: $((avail >> 20)) MiB available, $((shm >> 20)) MiB free in $POOL_DIR; needs about $((need >> 20)) MiB"
		return 1
	fi
	f=$(awk -v a="$fit" -v p="$pool" 'BEGIN { printf "%.4f", a / p }')
	BIG_POOL=$((fit >> 20))M
	BIG_GB=$(awk -v g="$BIG_GB" -v f="$f" 'BEGIN { printf "%.3f", g * f }')
	BIG_FILES=$(awk -v n="$BIG_FILES" -v f="$f" 'BEGIN { printf "%d", n * f + 1 }')
	note "WARNING: mount: only $((avail >> 20)) MiB available ($((shm >> 20)) MiB in $POOL_DIR) for a pool of $((pool >> 20)) MiB and dram=$BIG_DRAM: scaled down by $f to pmem_size=$BIG_POOL, $BIG_FILES files, $BIG_GB GiB"
	return 0
}

# populate -- fill the current mount: BIG_FILES small files in 100
# directories, and big files (at most 1 GiB each) up to BIG_GB GiB in all
# (file sizes, not pool space); the clean unmount that follows makes it
# durable. Each small file takes at least one chunk of the pool, so when
# the big files would not fit (with 5% of the pool to spare), they shrink
populate() {
	local total small data n each i t0 free room pool

	total=$(awk -v g="$BIG_GB" 'BEGIN { printf "%.0f", g * 1073741824 }')
	small=$(bytes "$SMALL_SIZE")
	data=$((total - BIG_FILES * small))
	[ $data -lt 0 ] && data=0
	mkdir "$CUR_MNT/tree" "$CUR_MNT/big" || return 1
	t0=$(usecs)
	run_child "$BINDIR/treegen" create "$CUR_MNT/tree" 100 "$BIG_FILES" \
		"$SMALL_SIZE" f >"$RESULTS/mount/populate.txt" \
		2>>"$CUR_LOG" || return 1
	free=$(dir_free "$CUR_MNT")
	pool=$(bytes "$BIG_POOL")
	room=$((free - pool / 20 - CRASH_FILES * 2 * runs * small))
	if [ $data -gt $room ]; then
		[ $room -lt 0 ] && room=0
		note "WARNING: mount: after $BIG_FILES small files the pool has $((free >> 20)) MiB free: big files cut from $((data >> 20)) to $((room >> 20)) MiB (a smaller MMFS_BENCH_CHUNK or a bigger MMFS_BENCH_POOL keeps them)"
		data=$room
	fi
	n=$(((data + GIB - 1) / GIB))
	if [ $n -gt 0 ]; then
		each=$((data / n / 1048576 * 1048576))
		for ((i = 0; i < n; i++)); do
			run_child "$BINDIR/treegen" fill \
				"$(printf '%s/big/b%02d' "$CUR_MNT" $i)" "$each" \
				>>"$RESULTS/mount/populate.txt" \
				2>>"$CUR_LOG" || return 1
		done
	fi
	note "mount: populated $BIG_FILES files of $SMALL_SIZE in 100 dirs + $n files of $((${each:-0} >> 20)) MiB = $(awk -v b=$((BIG_FILES * small + n * ${each:-0})) 'BEGIN { printf "%.2f", b / 1073741824 }') GiB in $(awk -v d=$(($(usecs) - t0)) 'BEGIN { printf "%.1f", d / 1e6 }') s; pool space used: $(df -h --output=used "$CUR_MNT" | tail -n1 | tr -d ' ')"
	"$MMFSCTL" stat "$CUR_MNT" >"$RESULTS/mount/mmfsctl-stat.txt" 2>&1 || true
	return 0
}

# sync_group -- make everything on the mount durable with 'mmfsctl sync',
# the daemon's syncfs. syncfs(2) itself (sync -f) never reaches a FUSE
# daemon: the kernel sends FUSE_SYNCFS to virtiofs only. If mmfsctl sync
# fails, fsync every file of crash group $1 instead (and say so).
sync_group() {
	run_child "$MMFSCTL" sync "$CUR_MNT" >>"$CUR_LOG" 2>&1 && return 0
	event "mount: mmfsctl sync $CUR_MNT failed (log: $CUR_LOG); fsync of each '$1' file instead"
	run_child find "$CUR_MNT/crash" -name "$1*" -exec sync {} + \
		2>>"$CUR_LOG"
}

# verify_group -- check files $3 (prefix) of the crash dir; prints
# "present bad" of CRASH_FILES
verify_group() {
	local out

	out=$(run_child "$BINDIR/treegen" verify "$CUR_MNT/crash" 10 \
		"$CRASH_FILES" "$SMALL_SIZE" "$1" 2>>"$CUR_LOG" | sed -n 2p)
	IFS=';' read -r _ _ present bad <<<"$out"
	echo "${present:-?} ${bad:-?}"
}

# run_mount -- the mount workload (pool only)
run_mount() {
	local pool=$POOLS/recovery.pool probe=tree/d000/f0000000 rep
	local a b c d n clean

	mkdir -p "$RESULTS/mount"
	mem_plan || return 0
	CUR_LOG=$RESULTS/mount/populate.log
	: >"$CUR_LOG"
	rm -f "$pool"
	NEW_POOL_OPTS=${BIG_CHUNK:+chunk=$BIG_CHUNK}
	log "mount: populating a pool of $BIG_POOL with $BIG_FILES files, $BIG_GB GiB"
	if ! fs_mount pool "$pool" "$BIG_POOL" "$BIG_DRAM"; then
		metric pool 1 mount_clean s lo fail
		metric pool 1 mount_crash s lo fail
		return
	fi
	NEW_POOL_OPTS=
	if ! populate; then
		event "mount: populating failed (log: $CUR_LOG)"
		cur_umount
		metric pool 1 mount_clean s lo fail
		metric pool 1 mount_crash s lo fail
		rm -f "$pool"
		return
	fi
	cur_umount

	# (a) after a clean unmount: nothing to replay
	for ((rep = 1; rep <= runs; rep++)); do
		log "mount: clean run $rep/$runs"
		CUR_LOG=$RESULTS/mount/clean-$rep.log
		: >"$CUR_LOG"
		if fs_mount pool "$pool" "" "$BIG_DRAM" "$probe"; then
			metric pool "$rep" mount_clean s lo "$MOUNT_SECS"
			# once: did every file come back? (not timed)
			if [ "$rep" -eq 1 ]; then
				n=$(find "$CUR_MNT/tree" -type f 2>>"$CUR_LOG" |
					wc -l)
				note "mount: after the first clean remount, tree/ holds $n of $BIG_FILES files"
				[ "$n" -eq "$BIG_FILES" ] ||
					event "mount: files lost across a clean unmount: $n of $BIG_FILES in tree/"
			fi
			cur_umount
		else
			metric pool "$rep" mount_clean s lo fail
		fi
	done

	# (b) after kill -9: CRASH_FILES creates, syncfs (sync_group),
	# CRASH_FILES more creates that nobody synced, kill -9; the restart
	# replays the log
	for ((rep = 1; rep <= runs; rep++)); do
		log "mount: crash run $rep/$runs"
		CUR_LOG=$RESULTS/mount/crash-$rep.log
		: >"$CUR_LOG"
		if ! fs_mount pool "$pool" "" "$BIG_DRAM" "$probe"; then
			metric pool "$rep" mount_crash s lo fail
			continue
		fi
		mkdir -p "$CUR_MNT/crash"
		if ! run_child "$BINDIR/treegen" create "$CUR_MNT/crash" 10 \
			"$CRASH_FILES" "$SMALL_SIZE" "s$rep-" \
			>/dev/null 2>>"$CUR_LOG" ||
			! sync_group "s$rep-" ||
			! run_child "$BINDIR/treegen" create "$CUR_MNT/crash" 10 \
				"$CRASH_FILES" "$SMALL_SIZE" "u$rep-" \
				>/dev/null 2>>"$CUR_LOG"; then
			event "mount: crash run $rep: creating files failed (log: $CUR_LOG)"
			cur_umount
			metric pool "$rep" mount_crash s lo fail
			continue
		fi
		fs_crash
		# the superblock must say "not cleanly unmounted": replay due
		clean=$("$MMFSCTL" info "$pool" --json 2>>"$CUR_LOG" |
			grep -o '"clean":[a-z]*' | cut -d: -f2)
		echo "+ restart after kill -9" >>"$CUR_LOG"
		if ! fs_mount pool "$pool" "" "$BIG_DRAM" "$probe"; then
			metric pool "$rep" mount_crash s lo fail
			continue
		fi
		metric pool "$rep" mount_crash s lo "$MOUNT_SECS"
		read -r a b <<<"$(verify_group "s$rep-")"
		read -r c d <<<"$(verify_group "u$rep-")"
		note "mount: crash run $rep: pool clean after kill -9: ${clean:-?}; synced files present $a/$CRASH_FILES (bad $b), unsynced present $c/$CRASH_FILES (bad $d)"
		if [ "$a" != "$CRASH_FILES" ] || [ "$b" != 0 ]; then
			event "mount: crash run $rep: files synced before kill -9 lost or damaged (present $a of $CRASH_FILES, bad $b)"
			metric pool "$rep" crash_lost files lo "$((CRASH_FILES - ${a//[!0-9]/0} + ${b//[!0-9]/0}))"
		fi
		cur_umount
	done
	rm -f "$pool"
}

# --- main ----------------------------------------------------------------

rev=$(tree_rev)
ver=$("$MMFS" --version 2>/dev/null | head -n1 | awk '{ print $2 }')
LOAD0=$(load_now)

log "results in $RESULTS"
for w in fsync metadata; do
	want "$w" || continue
	for ((rep = 1; rep <= runs; rep++)); do
		# rotate which side goes first, so that warm-up and drift
		# do not always favour the same one
		for ((k = 0; k < 3; k++)); do
			kind=${KINDS[$(((k + rep - 1) % 3))]}
			log "$w: $kind run $rep/$runs"
			run_one "$w" "$kind" "$rep"
		done
	done
done
want mount && run_mount
# a workload that wrote no row at all broke inside this script
for w in "${selected[@]}"; do
	case $w in
	fsync) r=fsync_4k_p50 ;;
	metadata) r=md_create ;;
	mount) r=mount_ ;;
	esac
	grep -q ";$r" "$METRICS" || grep -q "^# mount: skipped" "$NOTES" ||
		event "$w: produced no result (script error?)"
done

{
	echo "# mmfs $rev | $(machine_desc) | mmfs $ver built $(built_at "$MMFS") | tmpfs -o size=$SIZE | volatile: none -o dram=$SIZE${MMFS_OPTS:+,$MMFS_OPTS} | pool: file in $POOL_DIR -o pmem_size=$POOL_SIZE,dram=$SIZE${POOL_OPTS:+,$POOL_OPTS} | runs=$runs median | load $LOAD0..$(load_now)"
	desc=()
	want fsync && desc+=("fsync: $FSYNC_4K_COUNT x 4K, $FSYNC_1M_COUNT x 1M in a 64 MiB file")
	want metadata && desc+=("md: $MD_FILES files")
	want mount && desc+=("mount: $BIG_FILES files of $SMALL_SIZE + $BIG_GB GiB in all, pmem_size=$BIG_POOL${BIG_CHUNK:+, chunk=$BIG_CHUNK}, dram=$BIG_DRAM, crash: 2 x $CRASH_FILES creates")
	(IFS='|' && echo "# ${desc[*]}" | sed 's/|/ | /g')
	echo "# pool/X = pool÷X for ops/s, X÷pool for us and s: >1 means the pool is faster"
	python3 - "$METRICS" <<'EOF'
import statistics
import sys

KINDS = ("tmpfs", "volatile", "pool")
rows, order, vals = {}, [], {}
with open(sys.argv[1]) as f:
    for line in f:
        kind, _rep, row, unit, better, v = line.strip().split(";")
        if row not in rows:
            rows[row] = (unit, better)
            order.append(row)
        vals.setdefault((row, kind), []).append(v)


def num(v):
    try:
        return float(v)
    except ValueError:
        return None


def fmt(v, unit):
    if unit == "s":
        return "%.3f" % v
    if unit == "us":
        return "%.1f" % v
    return "%.0f" % v


def ratio(med, other, better):
    a, b = med.get("pool"), med.get(other)
    if not a or not b:
        return "-"
    return "%.2f" % (a / b if better == "hi" else b / a)


# timings of mounts last, whatever workload produced them first
order.sort(key=lambda r: rows[r][0] in ("s", "files"))
print("workload;tmpfs;volatile;pool;unit;pool/tmpfs;pool/volatile")
notes = []
for row in order:
    unit, better = rows[row]
    med, cells = {}, []
    for kind in KINDS:
        got = vals.get((row, kind), [])
        nums = [n for n in map(num, got) if n is not None]
        if nums:
            med[kind] = statistics.median(nums)
            cells.append(fmt(med[kind], unit))
            if len(nums) < len(got):
                notes.append("# %s %s: median of %d of %d runs (others "
                             "failed)" % (kind, row, len(nums), len(got)))
        else:
            cells.append(got[0] if got else "n/a")
    print(";".join([row] + cells + [unit, ratio(med, "tmpfs", better),
                                    ratio(med, "volatile", better)]))
for n in notes:
    print(n)
EOF
	cat "$NOTES"
} | tee "$RESULTS/persist.txt"
[ -s "$EVENTS" ] && log "events during the run: $EVENTS"
# non-zero when any run failed or lost synced files, so that CI notices
if [ -s "$EVENTS" ] && grep -q -E 'failed|lost|exited|no result' "$EVENTS"; then
	exit 1
fi
if awk -F';' '$6 == "fail" || $3 == "crash_lost" { f = 1 } END { exit !f }' \
	"$METRICS"; then
	exit 1
fi
exit 0

# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# lib.sh -- what the benchmark drivers (run.sh, persist.sh, tiering.sh,
# remap.sh, mariadb.sh, sample.sh) share; sourced by each, never run. It owns:
#   - progress and event logging: log, die, event (ME names the driver;
#     progress goes to fd 3, the caller's stderr, even from functions whose
#     stderr goes to a run's log; EVENTS, when set, is the events.log)
#   - the shared command line: --quick, --runs N, --only NAME..., --list,
#     --help (common_opt, select_only) and the --quick defaults (q)
#   - finding the mmfs and mmfsctl binaries (MMFS_BIN, MMFSCTL_BIN)
#   - the results directory, the scratch directory and the pool directory
#   - starting an mmfs daemon, waiting for its mount to appear and answer,
#     unmounting it with fusermount3 -u and reaping the daemon by PID, for
#     the one current mount of run.sh and persist.sh (CUR_*) and for the
#     mounts by name of tiering.sh, mariadb.sh and sample.sh (MNT, PID, LOG)
#   - the EXIT/INT/TERM trap: it stops the running child (CHILD), calls the
#     driver's bench_teardown, which unmounts what the driver mounted and
#     signals only daemons it started, then removes the scratch and pool
#     directories
#   - running a child under a time limit, in the background (run_limited)
#   - the machine/tree fields of the '#' header line, sizes, medians
# The drivers own their workloads, mount options, tables and output.

exec 3>&2
ME=$(basename "$0")

# log -- a progress line on the caller's stderr
log() { echo "$ME: $*" >&3; }

# die -- log $*, exit 1
die() { log "$*"; exit 1; }

# event -- log $* and append it, timed, to EVENTS (when there is one)
event() {
	log "$*"
	[ -z "${EVENTS:-}" ] || echo "$(date -u +%H:%M:%S) $*" >>"$EVENTS"
}

# --- the command line ------------------------------------------------------------
# runs (default 3), quick (0) and only (empty) are the driver's; usage() too.

# common_opt -- parse one shared option at "$3": list $1, --only names $2s (none if empty); OPT_USED
# shellcheck disable=SC2034  # quick and runs are the driver's
common_opt() {
	local -n names_=$1
	local what=$2 words

	shift 2
	OPT_USED=1
	case $1 in
	--quick)
		quick=1
		runs=1
		;;
	--runs)
		if [ $# -lt 2 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
			die "--runs needs a positive number"
		fi
		runs=$2
		OPT_USED=2
		;;
	--only)
		[ -n "$what" ] || die "unknown argument '$1' (see --help)"
		shift
		while [ $# -gt 0 ] && [[ $1 != --* ]]; do
			IFS=, read -r -a words <<<"$1"
			only+=("${words[@]}")
			shift
			OPT_USED=$((OPT_USED + 1))
		done
		[ ${#only[@]} -gt 0 ] || die "--only needs $what names"
		;;
	--list)
		printf '%s\n' "${names_[@]}"
		exit 0
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
}

# common_args -- the whole command line of a driver with only the shared
# options: runs 3, quick 0, only () by default, then common_opt on each
# shellcheck disable=SC2034  # runs, quick and only are the driver's
common_args() {
	local list=$1 what=$2

	shift 2
	runs=3
	quick=0
	only=()
	while [ $# -gt 0 ]; do
		common_opt "$list" "$what" "$@"
		shift "$OPT_USED"
	done
}

# select_only -- selected: the --only names (checked: array $1 of $2s), else all of $1
# shellcheck disable=SC2034  # selected is the driver's
select_only() {
	local -n all_=$1
	local w

	selected=()
	if [ ${#only[@]} -eq 0 ]; then
		selected=("${all_[@]}")
		return
	fi
	for w in "${only[@]}"; do
		[[ " ${all_[*]} " == *" $w "* ]] ||
			die "unknown $2 '$w' (--list shows them)"
		selected+=("$w")
	done
}

# q -- $1 normally, $2 with --quick (quick=1)
# shellcheck disable=SC2154  # quick is the driver's
q() { if [ "$quick" -eq 1 ]; then echo "$2"; else echo "$1"; fi; }

# bytes -- "2G" (K/M/G/T, powers of 1024) or a plain number -> bytes
bytes() {
	awk -v s="$1" 'BEGIN {
		n = s + 0; u = toupper(substr(s, length(s)))
		m = u == "K" ? 1 : u == "M" ? 2 : u == "G" ? 3 : u == "T" ? 4 : 0
		if (s !~ /^[0-9.]+[KMGTkmgt]?$/) exit 1
		while (m-- > 0) n *= 1024
		printf "%.0f\n", n }'
}

# median -- the median (the lower one of an even count) of the numbers on stdin
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# usecs -- microseconds since the epoch, without a fork
usecs() { echo "${EPOCHREALTIME/./}"; }

# mem_avail -- MemAvailable in bytes
mem_avail() { awk '/^MemAvailable:/ { printf "%.0f\n", $2 * 1024 }' /proc/meminfo; }

# dir_free -- bytes free for us in the filesystem of directory $1
dir_free() { df -B1 --output=avail "$1" | tail -n1; }

# --- the '#' header line -----------------------------------------------------

# tree_rev -- the source tree's short git revision, -dirty when it has changes
tree_rev() {
	local rev
	rev=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)
	git -C "$TOP" diff --quiet HEAD 2>/dev/null || rev=$rev-dirty
	echo "$rev"
}

# machine_desc -- "linux <release> | <cpu> xN, <RAM>"
machine_desc() {
	local cpu mem
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
	mem=$(awk '/^MemTotal/ { printf "%.0fG", $2 / 1048576 }' /proc/meminfo)
	echo "linux $(uname -r) | $cpu x$(nproc), $mem"
}

# load_now -- the 1-minute load average
load_now() { cut -d' ' -f1 /proc/loadavg; }

# built_at -- the UTC modification time of file $1
built_at() { date -u -r "$1" +%FT%TZ; }

# --- binaries and directories --------------------------------------------------

# mmfs_search -- set MMFS to MMFS_BIN, else build/fs/mmfs, else the first build*/fs/mmfs
mmfs_search() {
	local c
	MMFS=${MMFS_BIN:-}
	[ -z "$MMFS" ] || return 0
	for c in "$TOP/build/fs/mmfs" "$TOP"/build*/fs/mmfs; do
		if [ -x "$c" ]; then
			MMFS=$c
			return 0
		fi
	done
}

# find_mmfs -- set MMFS to an executable mmfs, made absolute; die with $1 when there is none
find_mmfs() {
	mmfs_search
	[ -n "$MMFS" ] || die "$1"
	[ -x "$MMFS" ] || die "MMFS_BIN=$MMFS is not executable"
	MMFS=$(realpath "$MMFS")
}

# find_mmfsctl -- set MMFSCTL to MMFSCTL_BIN, else mmfsctl next to MMFS; die if it is not executable
find_mmfsctl() {
	MMFSCTL=${MMFSCTL_BIN:-$(dirname "$MMFS")/mmfsctl}
	[ -x "$MMFSCTL" ] || die "no $MMFSCTL (set MMFSCTL_BIN)"
}

# find_passthrough_ll -- set PLL to libfuse's passthrough_ll example, built
# into RESULTS from /usr/share/doc/libfuse3-dev/examples (the FUSE peer that
# every FUSE-bound figure stands beside); die when it cannot be built
PLL_SRC=/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c
find_passthrough_ll() {
	PLL=$RESULTS/passthrough_ll
	[ -r "$PLL_SRC" ] || die "no $PLL_SRC (apt-get install libfuse3-dev)"
	# shellcheck disable=SC2046  # pkg-config prints several words
	${CC:-cc} -O2 -Wall -o "$PLL" "$PLL_SRC" \
		$(pkg-config --cflags --libs fuse3) 2>>"$RESULTS/build.log" ||
		die "cannot build $PLL_SRC (log: $RESULTS/build.log)"
}

# make_results -- create RESULTS, the absolute path of a new $RESULTS_DIR/<UTC time>
make_results() {
	RESULTS=${RESULTS_DIR:-$HERE/results}/$(date -u +%Y%m%dT%H%M%SZ)
	mkdir -p "$RESULTS" || die "cannot create $RESULTS"
	RESULTS=$(realpath "$RESULTS")
}

# make_scratch -- create WORK, a new TMPDIR/mmfs-$1.*, and with $2 = pools also POOLS in POOL_DIR
make_scratch() {
	WORK=$(realpath "$(mktemp -d "${TMPDIR:-/tmp}/mmfs-$1.XXXXXX")") ||
		die "mktemp failed"
	[ "${2:-}" = pools ] || return 0
	POOLS=$(mktemp -d "$POOL_DIR/mmfs-$1.XXXXXX") || {
		rmdir "$WORK"
		WORK=
		die "cannot create a directory in $POOL_DIR"
	}
}

# --- processes -------------------------------------------------------------------

# A signal trap only runs while bash sits in the wait builtin, not while it
# waits for a foreground command; and timeout(1) moves its command to a
# process group of its own, out of reach of the terminal's ^C. So a driver
# runs its long children in the background under timeout(1) (run_limited),
# ^C reaches the driver only, and its trap stops the child (stop_child):
# SIGTERM, which timeout(1) passes on to its group (fio and its job
# processes), then SIGKILL to that group.

CHILD=		# pid of the running time-limited child (run_limited), for the trap

# wait_pid -- wait up to $2 seconds for our child $1 to exit
wait_pid() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# stop_child -- stop and reap our child $1: SIGTERM, after 15 s SIGKILL (to its group if any)
stop_child() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	wait_pid "$1" 15 || kill -KILL -- "-$1" 2>/dev/null ||
		kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# run_limited -- run "${@:2}" in the background for at most $1 s (timeout -k 10) as CHILD, and wait
run_limited() {
	local rc limit=$1

	shift
	timeout -k 10 "$limit" "$@" &
	CHILD=$!
	wait "$CHILD"
	rc=$?
	CHILD=
	return $rc
}

# --- mounts ----------------------------------------------------------------------

# mounted_type -- filesystem type mounted at $1, empty if none
mounted_type() {
	local mnt type t=

	while read -r _ mnt type _; do
		[ "$mnt" = "$1" ] && t=$type
	done </proc/mounts
	echo "$t"
}

# reap_pid -- reap our mmfs daemon $1 (log $2); an event, prefixed $3, unless its status is $4 (0)
reap_pid() {
	local st
	wait "$1" 2>/dev/null
	st=$?
	[ "$st" -eq "${4:-0}" ] ||
		event "${3:-}mmfs pid $1 exited with status $st (log: $2)"
}

# mmfs_start -- start "$MMFS -f $2 $1 -o $3" in the background, output to log $4; pid in DAEMON_PID
mmfs_start() {
	echo "+ $MMFS -f $2 $1 -o $3" >>"$4"
	"$MMFS" -f "$2" "$1" -o "$3" >>"$4" 2>&1 </dev/null &
	DAEMON_PID=$!
}

# mount_wait -- wait $3 s (poll $4 s) for daemon $2's mount at $1: 0 up, 1 daemon exited, 2 timeout
mount_wait() {
	local t0

	t0=$(usecs)
	while :; do
		MOUNTED_TYPE=$(mounted_type "$1")
		case $MOUNTED_TYPE in
		fuse.mmfs) return 0 ;;
		fuse | fuse.*) [ "${5:-}" != any ] || return 0 ;;
		esac
		kill -0 "$2" 2>/dev/null || return 1
		(($(usecs) - t0 <= $3 * 1000000)) || return 2
		sleep "$4"
	done
}

# mmfs_unmount -- fusermount3 -u $1, stop and reap our daemon $2, else a lazy unmount; log $3
mmfs_unmount() {
	local mnt=$1 pid=$2 log=$3 p=${4:-}

	if [ -n "$(mounted_type "$mnt")" ] &&
		! fusermount3 -u "$mnt" 2>>"$log"; then
		sleep 1
		fusermount3 -u "$mnt" 2>>"$log" ||
			event "${p}fusermount3 -u $mnt failed (log: $log)"
	fi
	if [ -n "$pid" ]; then
		if ! wait_pid "$pid" "$EXIT_TIMEOUT"; then
			event "${p}mmfs pid $pid still running ${EXIT_TIMEOUT}s after unmount; SIGTERM"
			kill -TERM "$pid" 2>/dev/null
			if ! wait_pid "$pid" 5; then
				event "${p}mmfs pid $pid ignored SIGTERM; SIGKILL"
				kill -KILL "$pid" 2>/dev/null
			fi
		fi
		reap_pid "$pid" "$log" "$p"
	fi
	if [ -n "$(mounted_type "$mnt")" ]; then
		event "${p}$mnt still mounted; lazy unmount"
		fusermount3 -uz "$mnt" 2>>"$log" || umount -l "$mnt" 2>>"$log"
	fi
}

# tmpfs_unmount -- unmount the tmpfs at $1 (again after 1 s, then lazily); errors to log $2
tmpfs_unmount() {
	[ -n "$(mounted_type "$1")" ] || return 0
	umount "$1" 2>>"$2" && return 0
	sleep 1
	umount "$1" 2>>"$2" || {
		event "${3:-}umount $1 failed; lazy unmount"
		umount -l "$1" 2>>"$2"
	}
}

# rm_mountpoint -- remove the mount point $1; an event, prefixed $2, when that fails
rm_mountpoint() { rmdir "$1" 2>/dev/null || event "${2:-}cannot remove $1"; }

# --- the current mount (run.sh, persist.sh) ---------------------------------------
# One filesystem is mounted at a time: CUR_MNT (its directory), CUR_KIND
# (tmpfs* for a tmpfs, else mmfs), CUR_PID (its daemon), CUR_LOG.
CUR_MNT=
CUR_KIND=
CUR_PID=
CUR_LOG=/dev/null

# cur_mount_tmpfs -- mount a tmpfs named $1 of size $2 on CUR_MNT
cur_mount_tmpfs() {
	mount -t tmpfs -o "size=$2" "$1" "$CUR_MNT" 2>>"$CUR_LOG" && return 0
	event "mount -t tmpfs failed (log: $CUR_LOG)"
	rmdir "$CUR_MNT"
	CUR_MNT=
	return 1
}

# cur_mount_mmfs -- start mmfs on SOURCE $1 with -o $2 at CUR_MNT and wait for it (poll $3 s)
cur_mount_mmfs() {
	mmfs_start "$CUR_MNT" "$1" "$2" "$CUR_LOG"
	CUR_PID=$DAEMON_PID
	mount_wait "$CUR_MNT" "$CUR_PID" "$MOUNT_TIMEOUT" "$3" any
	case $? in
	0)
		[ "$MOUNTED_TYPE" = fuse.mmfs ] ||
			event "mmfs mounted as '$MOUNTED_TYPE', not fuse.mmfs"
		return 0
		;;
	1)
		event "${4:-}mmfs exited before the mount appeared (log: $CUR_LOG)"
		reap_pid "$CUR_PID" "$CUR_LOG"
		CUR_PID=
		rmdir "$CUR_MNT"
		CUR_MNT=
		return 1
		;;
	esac
	event "${4:-}mmfs not in /proc/mounts after ${MOUNT_TIMEOUT}s"
	cur_umount
	return 1
}

# cur_mount_pll -- passthrough_ll serving a fresh tmpfs of size $1 (CUR_BACK) at CUR_MNT
CUR_BACK=
cur_mount_pll() {
	CUR_BACK=$(mktemp -d "$CUR_MNT.back.XXXX") || return 1
	if ! mount -t tmpfs -o "size=$1" mmfs-bench-pll "$CUR_BACK" \
		2>>"$CUR_LOG"; then
		event "mount -t tmpfs (passthrough_ll's source) failed"
		rmdir "$CUR_BACK" "$CUR_MNT"
		CUR_BACK=
		CUR_MNT=
		return 1
	fi
	echo "+ $PLL -f -o source=$CUR_BACK $CUR_MNT" >>"$CUR_LOG"
	# it holds an O_PATH descriptor per inode it knows, so it gets all
	# the descriptors this host allows (PLL_FILES, see run.sh's metadata)
	(
		ulimit -n "$(ulimit -Hn)"
		exec "$PLL" -f -o "source=$CUR_BACK" "$CUR_MNT"
	) >>"$CUR_LOG" 2>&1 </dev/null &
	CUR_PID=$!
	mount_wait "$CUR_MNT" "$CUR_PID" "$MOUNT_TIMEOUT" 0.1 any && return 0
	event "passthrough_ll did not mount (log: $CUR_LOG)"
	cur_umount
	return 1
}

# cur_umount -- unmount the current mount, stop its daemon, remove CUR_MNT
cur_umount() {
	[ -n "$CUR_MNT" ] || return 0
	case $CUR_KIND in
	tmpfs*) tmpfs_unmount "$CUR_MNT" "$CUR_LOG" ;;
	*)
		mmfs_unmount "$CUR_MNT" "$CUR_PID" "$CUR_LOG"
		CUR_PID=
		;;
	esac
	rm_mountpoint "$CUR_MNT"
	CUR_MNT=
	if [ -n "$CUR_BACK" ]; then
		tmpfs_unmount "$CUR_BACK" "$CUR_LOG"
		rm_mountpoint "$CUR_BACK"
		CUR_BACK=
	fi
}

# --- mounts by name (tiering.sh, mariadb.sh, sample.sh) ---------------------------
# MNT[name] is a mount's directory, PID[name] its daemon, LOG[name] its log.
declare -A MNT=() PID=() LOG=()

# reap -- collect mount $1's daemon status (it must have exited)
reap() {
	reap_pid "${PID[$1]}" "${LOG[$1]}" "$1: "
	PID[$1]=
}

# mount_named -- start mmfs on SOURCE $2 with -o $3 at MNT[$1], wait for it to appear and answer
mount_named() {
	local m=$1

	mmfs_start "${MNT[$m]}" "$2" "$3" "${LOG[$m]}"
	PID[$m]=$DAEMON_PID
	mount_wait "${MNT[$m]}" "${PID[$m]}" "$MOUNT_TIMEOUT" 0.05
	case $? in
	1)
		event "$m: mmfs exited before the mount appeared (log: ${LOG[$m]})"
		reap "$m"
		return 1
		;;
	2)
		event "$m: not mounted after ${MOUNT_TIMEOUT}s"
		return 1
		;;
	esac
	timeout "$MOUNT_TIMEOUT" stat "${MNT[$m]}" >/dev/null 2>>"${LOG[$m]}" || {
		event "$m: stat ${MNT[$m]} failed after mounting"
		return 1
	}
}

# umount_named -- unmount mmfs mount $1, stop its daemon, remove MNT[$1]
umount_named() {
	local m=$1 mnt=${MNT[$1]:-}

	[ -n "$mnt" ] || return 0
	mmfs_unmount "$mnt" "${PID[$m]:-}" "${LOG[$m]}" "$m: "
	PID[$m]=
	rm_mountpoint "$mnt" "$m: "
	MNT[$m]=
}

# --- exit ------------------------------------------------------------------------

# shellcheck disable=SC2317  # reached through the EXIT trap
# bench_cleanup -- (EXIT trap) stop CHILD, bench_teardown, remove WORK (if unmounted) and POOLS
bench_cleanup() {
	local rc=$?

	trap - EXIT INT TERM
	if [ -n "${CHILD:-}" ]; then
		log "interrupted; stopping pid $CHILD"
		stop_child "$CHILD"
	fi
	bench_teardown
	if [ -n "${WORK:-}" ]; then
		if awk -v w="$WORK/" 'index($2, w) == 1 { f = 1 } END { exit !f }' \
			/proc/mounts; then
			log "something is still mounted under $WORK; leaving it"
		else
			rm -rf "$WORK"
		fi
	fi
	[ -z "${POOLS:-}" ] || rm -rf "$POOLS"
	exit "$rc"
}

# bench_traps -- bench_cleanup on EXIT; INT and TERM exit with 130 and 143
bench_traps() {
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

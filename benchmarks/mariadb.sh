#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# mariadb.sh -- a real application on mmfs: MariaDB with its datadir on the
# filesystem (InnoDB with O_DIRECT and a small buffer pool, so that reads
# reach the filesystem) under sysbench oltp_read_only and oltp_read_write,
# on tmpfs and on pool mounts whose DRAM holds all of the database or a
# quarter of it, engine on and off, in one run. Then what migration costs
# the foreground: per-second p99 latency while the hot set moves.
#
# Mounts (pools: a fresh pool file in POOL_DIR, pmem_emulate=optane):
#   tmpfs        the reference of the other ratio column
#   dram100      dram = database + 25% + 64 MiB: all in DRAM, growth
#                included (the reference)
#   dram25       dram = 25% of the database, engine on
#   dram25-off   the same, tiering=off (first-touch placement)
# "The database" is the whole datadir after prepare (du -b): tables,
# ibdata1 (undo), the redo log and MariaDB's own schemas.
#
# The database is made once: mariadb-install-db and sysbench prepare on the
# tmpfs mount (the fastest place), then that server is shut down cleanly
# and its datadir copied with cp -a onto each mmfs mount. Every mount then
# gets its own mariadbd (own datadir, socket, pid file, no networking),
# started here and stopped here by PID. With tiering=off, the first dram=
# bytes that cp writes sit in DRAM.
#
# 1. Warm-up: oltp_read_only for MARIA_WARMUP s on each mount (buffer pool
#    filled, engine settled), not measured.
# 2. For each workload (oltp_read_only, oltp_read_write) and repetition,
#    each mount runs sysbench for MARIA_RUNTIME s in turn (the order
#    rotates; an idle mount has no heat, so nothing moves while it waits).
#    MARIA_THREADS threads, --rand-type=MARIA_RAND_TYPE, --percentile=99,
#    the same --rand-seed on every mount of a round.
# 3. Migration (mmfs mounts only, one after the other): oltp_read_only on
#    the first H tables only (H = tables/4, uniform ids) for MARIA_MIG_BEFORE
#    s, then one RENAME TABLE swaps them with the next H tables (the hot set
#    moves to other files at once), then the same for MARIA_MIG_AFTER s.
#    sysbench --report-interval=1 gives each second's p99; mmfsctl stat
#    --json, sampled every 0.5 s, tells the seconds during which promotions
#    or demotions grew ("moving") from the others ("still").
#
# Output: the tables on stdout and in $RESULTS_DIR/<UTC time>/mariadb.txt,
# next to metrics.csv, migration.csv, notes.txt, events.log, every sysbench
# output, mmfsctl stat (--json before and after each run, text at the end),
# and each daemon's and mariadbd's log. Everything mounted or started here
# is stopped and unmounted on every exit path, by PID; nothing else is
# signalled. Needs root, mariadb-server, sysbench, python3, fusermount3.
#
# Environment (defaults in brackets; --quick changes some):
#   MMFS_BIN            mmfs daemon [build/fs/mmfs, else the first build*/fs/mmfs]
#   MMFSCTL_BIN         mmfsctl [next to MMFS_BIN]
#   MMFS_OPTS           extra -o options for every mmfs mount (epoch_ms=, ...)
#   MARIA_TABLES        sysbench tables [8; quick 4]
#   MARIA_TABLE_SIZE    rows per table [400000 (~1 GiB datadir); quick 200000]
#   MARIA_BUFFER_POOL   innodb_buffer_pool_size [64M; quick 32M, so that the
#                       one hot table of the migration part does not fit]
#   MARIA_LOG_SIZE      innodb_log_file_size [64M]
#   MARIA_THREADS       sysbench threads [2]
#   MARIA_RAND_TYPE     sysbench --rand-type of the measured runs [special,
#                       sysbench's default]
#   MARIA_WARMUP        seconds of oltp_read_only per mount before any run
#                       [15; quick 5]
#   MARIA_RUNTIME       seconds per measured run [20; quick 8]
#   MARIA_MIG_BEFORE    seconds on the first hot set [20; quick 8]
#   MARIA_MIG_AFTER     seconds after the swap [30; quick 12]; 0 skips the
#                       migration part
#   POOL_DIR            where pool files go [/dev/shm]
#   RESULTS_DIR         where results go [benchmarks/results]
#   RUN_TIMEOUT         seconds past its expected length before a sysbench
#                       run is killed [60]
#   MOUNT_TIMEOUT       seconds for a mount to appear and answer [30]
#   DB_TIMEOUT          seconds for mariadbd to start or stop [120]

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

MOUNTS=(tmpfs dram100 dram25 dram25-off)
WORKLOADS=(oltp_read_only oltp_read_write)
EXIT_TIMEOUT=30		# seconds for mmfs to exit after fusermount3 -u
APT="apt-get install -y mariadb-server sysbench"

usage() {
	cat <<EOF
usage: $0 [--quick] [--runs N] [--list]

  --quick     4 tables x 200k rows, 32M buffer pool, short runs, one
              repetition (~3 min)
  --runs N    N repetitions of each workload (median is reported) [3]
  --list      list the mounts and exit

mounts: ${MOUNTS[*]}
environment: see the head of this script
EOF
}

common_args MOUNTS "" "$@" # no --only here

TABLES=${MARIA_TABLES:-$(q 8 4)}
TABLE_SIZE=${MARIA_TABLE_SIZE:-$(q 400000 200000)}
BUFFER_POOL=${MARIA_BUFFER_POOL:-$(q 64M 32M)}
LOG_SIZE=${MARIA_LOG_SIZE:-64M}
THREADS=${MARIA_THREADS:-2}
RAND_TYPE=${MARIA_RAND_TYPE:-special}
WARMUP=${MARIA_WARMUP:-$(q 15 5)}
RUNTIME=${MARIA_RUNTIME:-$(q 20 8)}
MIG_BEFORE=${MARIA_MIG_BEFORE:-$(q 20 8)}
MIG_AFTER=${MARIA_MIG_AFTER:-$(q 30 12)}
POOL_DIR=${POOL_DIR:-/dev/shm}
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
MOUNT_TIMEOUT=${MOUNT_TIMEOUT:-30}
DB_TIMEOUT=${DB_TIMEOUT:-120}

[ "$(id -u)" -eq 0 ] || die "needs root (tmpfs and allow_other mounts, pools in $POOL_DIR)"
for v in TABLES TABLE_SIZE THREADS WARMUP RUNTIME MIG_BEFORE MIG_AFTER \
	RUN_TIMEOUT MOUNT_TIMEOUT DB_TIMEOUT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v}: not a number"
done
[ "$TABLES" -ge 2 ] || die "MARIA_TABLES must be at least 2 (the migration part swaps tables)"
[ "$TABLE_SIZE" -ge 1000 ] || die "MARIA_TABLE_SIZE must be at least 1000"
[ "$THREADS" -ge 1 ] || die "MARIA_THREADS must be at least 1"
[ "$RUNTIME" -ge 1 ] || die "MARIA_RUNTIME must be at least 1"
[ "$MIG_AFTER" -eq 0 ] || [ "$MIG_BEFORE" -ge 1 ] ||
	die "MARIA_MIG_BEFORE must be at least 1"
[[ $RAND_TYPE =~ ^(uniform|gaussian|special|pareto)$ ]] ||
	die "MARIA_RAND_TYPE=$RAND_TYPE: uniform, gaussian, special or pareto"
[ -d "$POOL_DIR" ] || die "POOL_DIR=$POOL_DIR is not a directory"

# tools: MariaDB's live in /usr/sbin and /usr/bin (Debian 12 packages)
PATH=$PATH:/usr/sbin:/usr/bin
missing=()
for c in mariadbd mariadb-install-db mariadb mariadb-admin sysbench; do
	command -v "$c" >/dev/null || missing+=("$c")
done
[ ${#missing[@]} -eq 0 ] ||
	die "${missing[*]} not found; install them with: $APT"
for c in python3 fusermount3; do
	command -v "$c" >/dev/null || die "$c not found"
done
MARIADBD=$(command -v mariadbd)

find_mmfs "no mmfs binary: build it or set MMFS_BIN"
find_mmfsctl

# sizes: whole K, M or G (powers of 1024), or a plain number of bytes
[[ $BUFFER_POOL =~ ^[0-9]+[KMGkmg]?$ ]] ||
	die "MARIA_BUFFER_POOL=$BUFFER_POOL: not a size"
[[ $LOG_SIZE =~ ^[0-9]+[KMGkmg]?$ ]] ||
	die "MARIA_LOG_SIZE=$LOG_SIZE: not a size"
BP_B=$(bytes "$BUFFER_POOL")
LOG_B=$(bytes "$LOG_SIZE")

# the size of the database before it exists: sysbench rows take about 240
# bytes with their secondary index (measured: 8 x 400k rows = 769 MiB);
# ibdata1, MariaDB's schemas and ibtmp1 about 100 MiB
EST_B=$((TABLES * TABLE_SIZE * 260 + LOG_B + (100 << 20)))
# memory: tmpfs holds one database, each pool fills up to one, dram100
# 1.25 more, the two dram25 mounts half of one; each mariadbd its buffer
# pool and about 300 MiB; the FUSE page cache the redo logs; plus 2 GiB
need=$((EST_B * 23 / 4 + 4 * (BP_B + (300 << 20)) + 3 * LOG_B + (2 << 30)))
avail=$(mem_avail)
[ "$avail" -ge "$need" ] ||
	die "needs about $((need >> 20)) MiB of memory, $((avail >> 20)) MiB available (lower MARIA_TABLE_SIZE)"
shm=$(dir_free "$POOL_DIR")
[ "$shm" -ge $((EST_B * 9 / 2)) ] ||
	die "$POOL_DIR has $((shm >> 20)) MiB free, the pools need about $((EST_B * 9 / 2 >> 20)) MiB"

make_results
METRICS=$RESULTS/metrics.csv	# mount;workload;rep;tps;p99;reads/s;prom;dem;wb
MIGCSV=$RESULTS/migration.csv	# mount;window;seconds;tps;p99;p99max;moves
EVENTS=$RESULTS/events.log
NOTES=$RESULTS/notes.txt
: >"$METRICS"
: >"$MIGCSV"
: >"$EVENTS"
: >"$NOTES"

note() { echo "# $*" >>"$NOTES"; }

# --- mounts and servers ------------------------------------------------------
# Every mount and its mariadbd are up at once; MNT/PID/DBPID/LOG are indexed
# by mount name. The EXIT trap takes them all down: servers first (by PID),
# then the mounts.

make_scratch mariadb pools
declare -A DBPID=() DEAD=() FLUSH=() DRAM=()
SAMPLER=

# fs_mount -- mount $1: tmpfs, or mmfs on a fresh pool of $2 MiB with dram=$3
fs_mount() {
	local m=$1 opts pool=$POOLS/$1.pool

	MNT[$m]=$WORK/$m
	LOG[$m]=$RESULTS/$m.log
	mkdir -p "${MNT[$m]}" || return 1
	if [ "$m" = tmpfs ]; then
		echo "+ mount -t tmpfs -o size=$2M tmpfs ${MNT[$m]}" >"${LOG[$m]}"
		mount -t tmpfs -o "size=$2M" tmpfs "${MNT[$m]}" \
			>>"${LOG[$m]}" 2>&1 || {
			event "tmpfs: mount failed (log: ${LOG[$m]})"
			return 1
		}
		return 0
	fi
	rm -f "$pool"
	opts=pmem_size=$2M,dram=$3,pmem_emulate=optane
	[[ $m == *-off ]] && opts=$opts,tiering=off
	opts=$opts${MMFS_OPTS:+,$MMFS_OPTS}
	: >"${LOG[$m]}"
	mount_named "$m" "$pool" "$opts"
}

# fs_umount -- unmount mount $1 (stopping its daemon), remove its pool file
fs_umount() {
	local mnt=${MNT[$1]:-}

	[ -n "$mnt" ] || return 0
	if [ "$1" = tmpfs ]; then
		tmpfs_unmount "$mnt" "${LOG[$1]}" "tmpfs: "
		rm_mountpoint "$mnt" "tmpfs: "
		MNT[$1]=
		return 0
	fi
	umount_named "$1"
	rm -f "$POOLS/$1.pool"
}

sock() { echo "$WORK/$1.sock"; }
sql() { mariadb --no-defaults --socket="$(sock "$1")" --user=root "${@:2}"; }

# db_start -- start mount $1's mariadbd on ${MNT[$1]}/data with
# innodb_flush_method=$2; waits until it answers
db_start() {
	local m=$1 i dblog=$RESULTS/$1.mariadbd.log

	mkdir -p "$WORK/$m.tmp" || return 1
	echo "+ mariadbd --innodb-flush-method=$2 (datadir ${MNT[$m]}/data)" >>"$dblog"
	"$MARIADBD" --no-defaults --user=root --datadir="${MNT[$m]}/data" \
		--socket="$(sock "$m")" --pid-file="$WORK/$m.pid" \
		--skip-networking --tmpdir="$WORK/$m.tmp" --log-error="$dblog" \
		--innodb-flush-method="$2" \
		--innodb-buffer-pool-size="$BUFFER_POOL" \
		--innodb-log-file-size="$LOG_SIZE" \
		--innodb-buffer-pool-load-at-startup=OFF \
		--innodb-buffer-pool-dump-at-shutdown=OFF \
		--skip-log-bin --performance-schema=OFF --skip-name-resolve \
		--max-connections=64 </dev/null >>"$dblog" 2>&1 &
	DBPID[$m]=$!
	FLUSH[$m]=$2
	for ((i = 0; ; i++)); do
		mariadb-admin --no-defaults --socket="$(sock "$m")" --user=root \
			ping >/dev/null 2>&1 && return 0
		if ! kill -0 "${DBPID[$m]}" 2>/dev/null; then
			wait "${DBPID[$m]}" 2>/dev/null
			event "$m: mariadbd exited at startup, status $? (log: $dblog)"
			DBPID[$m]=
			return 1
		fi
		if [ $i -ge $((DB_TIMEOUT * 5)) ]; then
			event "$m: mariadbd not answering after ${DB_TIMEOUT}s (log: $dblog)"
			return 1
		fi
		sleep 0.2
	done
}

# db_stop -- shut mount $1's mariadbd down (SIGTERM: a clean shutdown)
db_stop() {
	local m=$1 st

	[ -n "${DBPID[$m]:-}" ] || return 0
	kill -TERM "${DBPID[$m]}" 2>/dev/null
	if ! wait_pid "${DBPID[$m]}" "$DB_TIMEOUT"; then
		event "$m: mariadbd pid ${DBPID[$m]} still running ${DB_TIMEOUT}s after SIGTERM; SIGKILL"
		kill -KILL "${DBPID[$m]}" 2>/dev/null
		wait_pid "${DBPID[$m]}" 10
	fi
	wait "${DBPID[$m]}" 2>/dev/null
	st=$?
	[ "$st" -eq 0 ] ||
		event "$m: mariadbd pid ${DBPID[$m]} exited with status $st (log: $RESULTS/$m.mariadbd.log)"
	DBPID[$m]=
	return "$st"
}

# shellcheck disable=SC2317  # reached through the EXIT trap
# bench_teardown -- (EXIT trap) stop the sampler, then every mariadbd (by
# PID), then take down every mount
bench_teardown() {
	local m

	stop_child "$SAMPLER"
	for m in "${MOUNTS[@]}"; do
		db_stop "$m"
	done
	for m in "${MOUNTS[@]}"; do
		fs_umount "$m"
	done
}
bench_traps

# alive -- are mount $1 and its mariadbd still there? (reported once)
alive() {
	[ -z "${DEAD[$1]:-}" ] || return 1
	if [ "$1" != tmpfs ] && ! kill -0 "${PID[$1]:-x}" 2>/dev/null; then
		DEAD[$1]=1
		event "$1: the mmfs daemon is gone (log: ${LOG[$1]})"
		[ -n "${PID[$1]:-}" ] && reap "$1"
		return 1
	fi
	if ! kill -0 "${DBPID[$1]:-x}" 2>/dev/null; then
		DEAD[$1]=1
		event "$1: mariadbd is gone (log: $RESULTS/$1.mariadbd.log)"
		return 1
	fi
}

# sb -- sysbench test $2 against mount $1's server, output to $3, at most
# $4 seconds, more options after; in the background, so ^C reaches the trap
sb() {
	local m=$1 test=$2 out=$3 limit=$4

	shift 4
	run_limited "$limit" sysbench "$test" --db-driver=mysql \
		--mysql-socket="$(sock "$m")" --mysql-user=root \
		--mysql-db=sbtest --table-size="$TABLE_SIZE" \
		--threads="$THREADS" --percentile=99 "$@" >"$out" 2>&1
}

# stat_json -- mmfsctl stat of mount $1 into $2; prints "promotions
# demotions writeback_bytes" ("? ? ?" on tmpfs or on failure)
stat_json() {
	if [ "$1" = tmpfs ] || ! "$MMFSCTL" stat "${MNT[$1]}" --json >"$2" 2>&1; then
		echo "? ? ?"
		return
	fi
	python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print(s.get("promotions", "?"), s.get("demotions", "?"),
      s.get("writeback_bytes", "?"))' "$2" 2>/dev/null || echo "? ? ?"
}

# data_reads -- InnoDB's reads from the filesystem so far on mount $1
data_reads() {
	sql "$1" -N -e "SHOW GLOBAL STATUS LIKE 'Innodb_data_reads'" 2>/dev/null |
		awk '{ print $2 }'
}

# odirect -- does mount $1's mariadbd hold ibdata1 open with O_DIRECT?
odirect() {
	local fd flags

	for fd in /proc/"${DBPID[$1]}"/fd/*; do
		[ "$(readlink "$fd")" = "${MNT[$1]}/data/ibdata1" ] || continue
		flags=$(awk '/^flags:/ { print $2 }' \
			"/proc/${DBPID[$1]}/fdinfo/${fd##*/}")
		if (((8#$flags & 8#40000) != 0)); then echo yes; else echo no; fi
		return
	done
	echo "?"
}

# delta -- $2 - $1 when both are numbers, else ?
delta() { if [[ $1$2 =~ ^[0-9]+$ ]]; then echo $(($2 - $1)); else echo "?"; fi; }

# --- main ------------------------------------------------------------------

rev=$(tree_rev)
LOAD0=$(load_now)
n=${#MOUNTS[@]}
HOT=$((TABLES / 4))
[ "$HOT" -ge 1 ] || HOT=1
est=$((EST_B / 20000000 + n * (WARMUP + 8) + ${#WORKLOADS[@]} * runs * n * (RUNTIME + 2)))
[ "$MIG_AFTER" -gt 0 ] && est=$((est + 3 * (MIG_BEFORE + MIG_AFTER + 8)))
log "results in $RESULTS; about $(((est + 59) / 60)) min"

others=$(pgrep -x mariadbd | tr '\n' ' ')
[ -n "$others" ] &&
	note "mariadbd processes not started here were running: pids $others(not touched; they share the CPUs)"

# the database, on tmpfs
TMPFS_M=$((EST_B * 2 / 1048576 + 1024))
fs_mount tmpfs "$TMPFS_M" || exit 1
log "tmpfs: mariadb-install-db, sysbench prepare ($TABLES x $TABLE_SIZE rows)"
mariadb-install-db --no-defaults --user=root --datadir="${MNT[tmpfs]}/data" \
	--auth-root-authentication-method=socket --skip-test-db \
	>"$RESULTS/install-db.log" 2>&1 ||
	die "mariadb-install-db failed (log: $RESULTS/install-db.log)"
if ! db_start tmpfs O_DIRECT; then
	note "tmpfs: mariadbd did not start with innodb_flush_method=O_DIRECT; tmpfs runs with fsync"
	db_start tmpfs fsync || exit 1
fi
sql tmpfs -e "CREATE DATABASE sbtest" || die "CREATE DATABASE failed"
t0=$(date +%s.%N)
sb tmpfs oltp_read_write "$RESULTS/prepare.txt" 3600 \
	--tables="$TABLES" prepare ||
	die "sysbench prepare failed (log: $RESULTS/prepare.txt)"
t1=$(date +%s.%N)
db_stop tmpfs || die "mariadbd on tmpfs did not shut down cleanly"
DB_B=$(du -sb "${MNT[tmpfs]}/data" | cut -f1)
DB_M=$((DB_B >> 20))
note "database: $TABLES tables x $TABLE_SIZE rows, datadir $DB_M MiB (du -b), prepared on tmpfs in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }') s"

POOL_M=$((DB_M * 3 / 2 + 512))	# the database, its growth, metadata area
DRAM[dram100]=$(((DB_B * 5 / 4 >> 20) + 64))M
DRAM[dram25]=$((DB_B / 4 >> 20))M
DRAM[dram25-off]=${DRAM[dram25]}
DRAM[tmpfs]=-
for m in "${MOUNTS[@]}"; do
	[ "$m" = tmpfs ] && continue
	log "$m: mount (dram=${DRAM[$m]}), cp -a the datadir"
	if ! fs_mount "$m" "$POOL_M" "${DRAM[$m]}"; then
		DEAD[$m]=1
		continue
	fi
	t0=$(date +%s.%N)
	if ! cp -a "${MNT[tmpfs]}/data" "${MNT[$m]}/data" 2>>"${LOG[$m]}"; then
		event "$m: cp -a of the datadir failed (log: ${LOG[$m]})"
		DEAD[$m]=1
		continue
	fi
	t1=$(date +%s.%N)
	read -r a b _ <<<"$(stat_json "$m" "$RESULTS/$m.copy.stat.json")"
	note "copy: $m: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; $a promoted, $b demoted since mounting"
done
for m in "${MOUNTS[@]}"; do
	[ -z "${DEAD[$m]:-}" ] || continue
	log "$m: start mariadbd"
	if ! db_start "$m" "${FLUSH[tmpfs]}"; then
		DEAD[$m]=1
		continue
	fi
	sql "$m" -e "SHOW GLOBAL VARIABLES" >"$RESULTS/$m.variables.txt" 2>&1
	note "server: $m: innodb_flush_method=${FLUSH[$m]}, ibdata1 open with O_DIRECT: $(odirect "$m"); redo log: $(grep -o -m1 -E 'Buffered log writes|File system buffers for log disabled' "$RESULTS/$m.mariadbd.log" || echo '?')"
done

if [ "$WARMUP" -gt 0 ]; then
	for m in "${MOUNTS[@]}"; do
		alive "$m" || continue
		log "$m: warm-up ${WARMUP}s"
		sb "$m" oltp_read_only "$RESULTS/$m.warmup.txt" \
			$((WARMUP + RUN_TIMEOUT)) --tables="$TABLES" \
			--rand-type="$RAND_TYPE" --time="$WARMUP" run ||
			event "$m: warm-up failed (log: $RESULTS/$m.warmup.txt)"
		read -r a b _ <<<"$(stat_json "$m" "$RESULTS/$m.warmup.stat.json")"
		[ "$m" = tmpfs ] ||
			note "warm-up: $m: $a promoted, $b demoted since mounting"
	done
fi

for ((x = 0; x < ${#WORKLOADS[@]}; x++)); do
	w=${WORKLOADS[$x]}
	mkdir -p "$RESULTS/$w"
	for ((rep = 1; rep <= runs; rep++)); do
		moves=()
		for ((k = 0; k < n; k++)); do
			# rotate the order, so that no mount always follows
			# the same one or always goes first
			m=${MOUNTS[$(((k + rep - 1 + x) % n))]}
			base=$RESULTS/$w/$m-$rep
			if ! alive "$m"; then
				echo "$m;$w;$rep;fail;fail;?;?;?;?" >>"$METRICS"
				continue
			fi
			log "$w: $m run $rep/$runs"
			read -r a0 b0 c0 <<<"$(stat_json "$m" "$base.stat0.json")"
			r0=$(data_reads "$m")
			if ! sb "$m" "$w" "$base.txt" $((RUNTIME + RUN_TIMEOUT)) \
				--tables="$TABLES" --rand-type="$RAND_TYPE" \
				--rand-seed="$rep" --time="$RUNTIME" \
				--report-interval=1 run; then
				event "$m: $w run $rep failed (log: $base.txt)"
				echo "$m;$w;$rep;fail;fail;?;?;?;?" >>"$METRICS"
				continue
			fi
			r1=$(data_reads "$m")
			read -r a1 b1 c1 <<<"$(stat_json "$m" "$base.stat.json")"
			v=$(awk '/transactions:/ { gsub(/\(/, "", $3); t = $3 }
				/99th percentile:/ { p = $3 }
				END { if (t == "" || p == "") print "fail;fail";
				      else print t ";" p }' "$base.txt")
			[[ $v == fail* ]] &&
				event "$m: $w run $rep: no result in $base.txt"
			pa=$(delta "$a0" "$a1")
			pb=$(delta "$b0" "$b1")
			wb=$(delta "$c0" "$c1")
			rd=$(delta "$r0" "$r1")
			[ "$rd" != "?" ] && rd=$((rd / RUNTIME))
			echo "$m;$w;$rep;$v;$rd;$pa;$pb;$wb" >>"$METRICS"
			[ "$m" = tmpfs ] || moves+=("$m +$pa/-$pb")
		done
		line=$(printf '%s, ' "${moves[@]}")
		note "moves $w run $rep: ${line%, }"
	done
done

# --- migration ---------------------------------------------------------------
# One mount at a time, while the others idle: the first HOT tables get all
# the queries, then RENAME TABLE swaps them with the next HOT tables (the
# .ibd files are renamed: the same files under new names), so the hot set
# moves to files the workload had left alone.

# sampler -- every 0.5 s until killed: "time;promotions;demotions" of
# mount $1 into $2
sampler() {
	python3 - "$MMFSCTL" "${MNT[$1]}" "$2" <<'EOF' &
import json, subprocess, sys, time
ctl, mnt, out = sys.argv[1:4]
t0 = time.time()
k = 0
with open(out, "w") as f:
    while True:
        t = time.time()
        try:
            r = subprocess.run([ctl, "stat", mnt, "--json"], timeout=5,
                               capture_output=True, text=True)
            s = json.loads(r.stdout)
            f.write("%.3f;%d;%d\n" % (t, s["promotions"], s["demotions"]))
        except (OSError, ValueError, KeyError, subprocess.SubprocessError):
            f.write("%.3f;?;?\n" % t)
        f.flush()
        k += 1
        time.sleep(max(0.0, t0 + k * 0.5 - time.time()))
EOF
	SAMPLER=$!
	local i
	# the first sample must precede the first second it is to judge
	for ((i = 0; i < 50; i++)); do
		[ -s "$2" ] && return 0
		sleep 0.1
	done
	event "$1: no mmfsctl sample after 5 s ($2)"
}

# residency -- "dram pmem" bytes of tables $2..$3 (by their current names)
# on mount $1 ("? ?" without getfattr or on failure)
residency() {
	local i r a b d=0 p=0

	command -v getfattr >/dev/null || {
		echo "? ?"
		return
	}
	for ((i = $2; i <= $3; i++)); do
		r=$(getfattr --only-values -n user.mmfs.residency \
			"${MNT[$1]}/data/sbtest/sbtest$i.ibd" 2>/dev/null) || {
			echo "? ?"
			return
		}
		r=${r//dram=/}
		r=${r//pmem=/}
		read -r a b <<<"$r"
		[[ $a$b =~ ^[0-9]+$ ]] || {
			echo "? ?"
			return
		}
		d=$((d + a))
		p=$((p + b))
	done
	echo "$d $p"
}

# pct -- "dram pmem" -> share in DRAM, in %
pct() { awk -v d="$1" -v p="$2" 'BEGIN { if (d + p > 0) printf "%.0f", 100 * d / (d + p); else print "?" }'; }

# hot_note -- note which share of the queried tables (sbtest1-HOT, by
# their current names) and of the next HOT tables mount $1 holds in DRAM
# ($2: when)
hot_note() {
	local d1 p1 d2 p2

	read -r d1 p1 <<<"$(residency "$1" 1 "$HOT")"
	read -r d2 p2 <<<"$(residency "$1" $((HOT + 1)) $((2 * HOT)))"
	note "migration: $1 $2: sbtest1-$HOT $(pct "$d1" "$p1")% in DRAM, sbtest$((HOT + 1))-$((2 * HOT)) $(pct "$d2" "$p2")%"
}

swap_sql() {
	local i j s=

	for ((i = 1; i <= HOT; i++)); do
		j=$((i + HOT))
		s="$s${s:+, }sbtest$i TO sbtmp, sbtest$j TO sbtest$i, sbtmp TO sbtest$j"
	done
	echo "RENAME TABLE $s"
}

MIG_MOUNTS=()
if [ "$MIG_AFTER" -gt 0 ]; then
	mkdir -p "$RESULTS/migration"
	for m in "${MOUNTS[@]}"; do
		[ "$m" = tmpfs ] && continue
		alive "$m" || continue
		base=$RESULTS/migration/$m
		log "migration: $m: ${MIG_BEFORE}s on tables 1-$HOT, swap, ${MIG_AFTER}s"
		sampler "$m" "$base.samples.csv"
		date +%s.%N >"$base.before.start"
		hot_note "$m" "at the start"
		sb "$m" oltp_read_only "$base.before.txt" \
			$((MIG_BEFORE + RUN_TIMEOUT)) --tables="$HOT" \
			--rand-type=uniform --rand-seed=1 --time="$MIG_BEFORE" \
			--report-interval=1 run ||
			event "$m: migration run before the swap failed (log: $base.before.txt)"
		if ! sql "$m" sbtest -e "$(swap_sql)" 2>>"$base.before.txt"; then
			event "$m: RENAME TABLE failed (log: $base.before.txt)"
			stop_child "$SAMPLER"
			SAMPLER=
			continue
		fi
		hot_note "$m" "after ${MIG_BEFORE}s, just after the swap"
		date +%s.%N >"$base.after.start"
		sb "$m" oltp_read_only "$base.after.txt" \
			$((MIG_AFTER + RUN_TIMEOUT)) --tables="$HOT" \
			--rand-type=uniform --rand-seed=2 --time="$MIG_AFTER" \
			--report-interval=1 run ||
			event "$m: migration run after the swap failed (log: $base.after.txt)"
		hot_note "$m" "at the end"
		sleep 1
		stop_child "$SAMPLER"
		SAMPLER=
		MIG_MOUNTS+=("$m")
		python3 - "$base" "$m" >>"$MIGCSV" <<'EOF'
import re
import statistics
import sys

base, mount = sys.argv[1:3]
samples = []
for line in open(base + ".samples.csv"):
    t, p, d = line.strip().split(";")
    if p != "?":
        samples.append((float(t), int(p) + int(d)))


def moves(a, b):
    # moves counted from the last sample at or before a to the first at
    # or after b: a superset of the second (a sample every 0.5 s)
    before = [c for t, c in samples if t <= a]
    after = [c for t, c in samples if t >= b]
    if not before or not after:
        return None
    return after[0] - before[-1]


line_re = re.compile(r"^\[ *(\d+)s \].* tps: ([0-9.]+) .*lat \(ms,99%\): ([0-9.]+)")
secs = []  # (phase, second, tps, p99, moves)
for phase in ("before", "after"):
    t0 = float(open("%s.%s.start" % (base, phase)).read())
    for line in open("%s.%s.txt" % (base, phase)):
        m = line_re.match(line)
        if m:
            s = int(m.group(1))
            secs.append((phase, s, float(m.group(2)), float(m.group(3)),
                         moves(t0 + s - 1, t0 + s)))
with open(base + ".seconds.csv", "w") as f:
    f.write("phase;second;tps;p99[ms];moves\n")
    for r in secs:
        f.write("%s;%d;%.1f;%.2f;%s\n" % (r[0], r[1], r[2], r[3],
                                          "?" if r[4] is None else r[4]))
after = [r for r in secs if r[0] == "after"]
n_after = len(after)
windows = [
    ("moving", [r for r in secs if r[4]]),
    ("still", [r for r in secs if r[4] == 0]),
    ("after-switch", after[:5]),
    ("settled", after[max(5, n_after // 2):]),
]
for name, rows in windows:
    if not rows:
        print("%s;%s;0;-;-;-;-" % (mount, name))
        continue
    print("%s;%s;%d;%.1f;%.2f;%.2f;%d" % (
        mount, name, len(rows), statistics.median(r[2] for r in rows),
        statistics.median(r[3] for r in rows), max(r[3] for r in rows),
        sum(r[4] or 0 for r in rows)))
EOF
	done
fi

for m in "${MOUNTS[@]}"; do
	[ "$m" = tmpfs ] && continue
	alive "$m" || continue
	"$MMFSCTL" stat "${MNT[$m]}" >"$RESULTS/$m.stat.txt" 2>&1
done
bench_teardown

{
	echo "# tree $rev | $(machine_desc) | $(sysbench --version) | $("$MARIADBD" --version | awk '{ print $1, $3 }') | mmfs built $(built_at "$MMFS") | pools: files in $POOL_DIR -o pmem_size=${POOL_M}M,pmem_emulate=optane${MMFS_OPTS:+,$MMFS_OPTS} | runs=$runs median | load $LOAD0..$(load_now)"
	echo "# database: $TABLES tables x $TABLE_SIZE rows, datadir $DB_M MiB, prepared once on tmpfs and copied (cp -a) to each mmfs mount | mariadbd: innodb_flush_method=${FLUSH[tmpfs]:-?}, buffer pool $BUFFER_POOL, redo log $LOG_SIZE, skip-log-bin, performance_schema=OFF | sysbench: $THREADS threads, --rand-type=$RAND_TYPE, warm-up ${WARMUP}s per mount, then ${RUNTIME}s per run, mounts in turn"
	echo "# ratio: X/ref for tps, ref/X for p99, each run against the ref run of the same round, median: 1 = as fast as ref, >1 better | fs-reads/s: InnoDB data reads reaching the filesystem | per run: mmfsctl stat deltas"
	python3 - "$METRICS" "$(IFS=' '; echo "${MOUNTS[*]}")" \
		"$(for m in "${MOUNTS[@]}"; do printf '%s=%s ' "$m" "${DRAM[$m]}"; done)" <<'EOF'
import statistics
import sys

order = sys.argv[2].split()
dram = dict(kv.split("=") for kv in sys.argv[3].split())


def num(v):
    try:
        return float(v)
    except ValueError:
        return None


vals, works = {}, []
with open(sys.argv[1]) as f:
    for line in f:
        m, w, rep, tps, p99, rd, pa, pb, wb = line.strip().split(";")
        if w not in works:
            works.append(w)
        vals.setdefault((m, w), {})[rep] = tuple(
            num(v) for v in (tps, p99, rd, pa, pb, wb))


def med(xs):
    nums = [x for x in xs if x is not None]
    return (statistics.median(nums) if nums else None), len(nums)


def ratio(got, ref, i, inverse):
    r, _ = med((ref[k][i] / r[i] if inverse else r[i] / ref[k][i])
               for k, r in got.items()
               if r[i] and k in ref and ref[k][i])
    return "-" if r is None else "%.3f" % r


print("workload;mount;dram;tiering;tps[1/s];lat-p99[ms];fs-reads/s;"
      "tps/dram100;p99:dram100/X;tps/tmpfs;p99:tmpfs/X;"
      "promoted/run;demoted/run;written-back[MiB]/run")
notes = []
for w in works:
    ref1 = vals.get(("dram100", w), {})
    ref2 = vals.get(("tmpfs", w), {})
    for m in order:
        got = vals.get((m, w), {})
        if not got:
            continue
        tps, n = med(r[0] for r in got.values())
        p99, _ = med(r[1] for r in got.values())
        rd, _ = med(r[2] for r in got.values())
        pa, _ = med(r[3] for r in got.values())
        pb, _ = med(r[4] for r in got.values())
        wb, _ = med(r[5] for r in got.values())
        eng = "-" if m == "tmpfs" else ("off" if m.endswith("-off") else "on")
        cells = [w, m, dram[m], eng]
        cells.append("fail" if tps is None else "%.1f" % tps)
        cells.append("fail" if p99 is None else "%.2f" % p99)
        cells.append("?" if rd is None else "%.0f" % rd)
        cells += [ratio(got, ref1, 0, False), ratio(got, ref1, 1, True),
                  ratio(got, ref2, 0, False), ratio(got, ref2, 1, True)]
        cells.append("-" if pa is None else "%.0f" % pa)
        cells.append("-" if pb is None else "%.0f" % pb)
        cells.append("-" if wb is None else "%.0f" % (wb / 1048576))
        print(";".join(cells))
        if tps is not None and n < len(got):
            notes.append("# %s %s: median of %d of %d runs (others "
                         "failed)" % (m, w, n, len(got)))
for n in notes:
    print(n)
EOF
	if [ ${#MIG_MOUNTS[@]} -gt 0 ]; then
		echo
		echo "# migration: oltp_read_only on tables 1-$HOT of $TABLES (--rand-type=uniform) for ${MIG_BEFORE}s, then RENAME TABLE swaps them with tables $((HOT + 1))-$((2 * HOT)) (the hot set moves to other files), ${MIG_AFTER}s more; one mount at a time"
		echo "# per second: tps and p99 from sysbench --report-interval=1; a second is 'moving' when promotions+demotions (mmfsctl stat --json every 0.5 s) grew across it, else 'still' (both phases); 'after-switch' = first 5 s after the swap, 'settled' = second half after it"
		echo "# cells: median over the window's seconds of the per-second tps and p99; p99-max the worst second; p99/still = the window's median p99 over the same mount's 'still' median"
		python3 - "$MIGCSV" <<'EOF'
import sys

rows = [l.strip().split(";") for l in open(sys.argv[1]) if l.strip()]
still = {r[0]: r[4] for r in rows if r[1] == "still"}
print("mount;window;seconds;tps[1/s];lat-p99[ms];lat-p99-max[ms];"
      "p99/still;moves")
for m, win, n, tps, p99, mx, mv in rows:
    s = still.get(m, "-")
    try:
        rel = "%.2f" % (float(p99) / float(s))
    except ValueError:
        rel = "-"
    print(";".join([m, win, n, tps, p99, mx, rel, mv]))
EOF
	fi
	cat "$NOTES"
} | tee "$RESULTS/mariadb.txt"
[ -s "$EVENTS" ] && log "events during the run: $EVENTS"
if [ -s "$EVENTS" ] || grep -q ';fail;' "$METRICS"; then
	exit 1
fi
exit 0

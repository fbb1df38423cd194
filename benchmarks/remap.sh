#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# remap.sh -- what a migration costs the requests beside it: request
# latency while the hot set switches, on two mmfs binaries in one run
# (issue 14: the mount-wide exclusive remap against a per-chunk one).
#
# Each repetition, for each binary in turn (the order alternates): a fresh
# pool mount with a small DRAM (dram=, epoch_ms=, migrate= below), one data
# file written sequentially (1 MiB O_DIRECT; its first dram= bytes land in
# DRAM), then MMFS_REMAP_WARMUP s of 4 KiB random reads over region A (the
# old hot set, in DRAM) and region C (the bystanders, in DRAM), then the
# measured run: MMFS_REMAP_RUNTIME s, starting at the switch, of two fio
# jobs at once --
#   switch     random reads over region B, which is in PMEM: the engine
#              demotes A and promotes B under it
#   bystander  random reads over region C, which stays in DRAM: its
#              chunks never move, so with a per-chunk remap it should not
#              notice the migration
# -- both 4 KiB, O_DIRECT (every request reaches the daemon), libaio,
# iodepth MMFS_REMAP_IODEPTH, with fio's total-latency percentiles
# (lat_percentiles). The chunks moved during the measured run come from
# mmfsctl stat before and after it.
#
# Output: a ';'-separated table of medians per binary and job (p50, p99,
# p99.9 in us, IOPS, moves) on stdout and in
# $RESULTS_DIR/<UTC time>/remap.txt, beside metrics.csv, every fio JSON,
# mmfsctl stat and daemon log. Everything mounted here is unmounted on
# every exit path; only daemons started here are signalled. Needs root,
# fio (libaio), python3, fusermount3.
#
# Environment (defaults in brackets; --quick changes some):
#   MMFS_BIN            the binary under test ("new") [build/fs/mmfs, else the first build*/fs/mmfs]
#   MMFS_BASE_BIN       the binary to compare with ("base"), e.g. one built
#                       from main; without it only "new" runs
#   MMFSCTL_BIN         mmfsctl [next to MMFS_BIN]
#   MMFS_OPTS           extra -o options for every mount
#   MMFS_REMAP_DRAM     dram= [160M]
#   MMFS_REMAP_HOT      size of regions A and B [64M]; C is a quarter of it
#   MMFS_REMAP_EPOCH    epoch_ms= [250]
#   MMFS_REMAP_MIGRATE  migrate= [512M]
#   MMFS_REMAP_WARMUP   seconds on A and C before the switch [5; quick 3]
#   MMFS_REMAP_RUNTIME  measured seconds from the switch [4; quick 3]
#   MMFS_REMAP_IODEPTH  libaio queue depth of each job [8]
#   MMFS_REMAP_MIX      rwmixread of the switch job [100: reads only]; below
#                       100 it also writes B's chunks while they move, so
#                       remaps copy them again (the touched bit)
#   POOL_DIR            where pool files go [/dev/shm]
#   RESULTS_DIR         where results go [benchmarks/results]
#   RUN_TIMEOUT         seconds past its expected length before fio is killed [60]
#   MOUNT_TIMEOUT       seconds for a mount to appear and answer [30]

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

BINS=(base new)
EXIT_TIMEOUT=30		# seconds for mmfs to exit after fusermount3 -u

usage() {
	cat <<EOF
usage: $0 [--quick] [--runs N] [--list]

  --quick    one repetition, shorter runs (~1 min)
  --runs N   N repetitions per binary (median is reported) [3]
  --list     list the binaries' names and exit

environment: see the head of this script
EOF
}

common_args BINS "" "$@"

DRAM=${MMFS_REMAP_DRAM:-160M}
HOT=${MMFS_REMAP_HOT:-64M}
EPOCH=${MMFS_REMAP_EPOCH:-250}
MIGRATE=${MMFS_REMAP_MIGRATE:-512M}
WARMUP=${MMFS_REMAP_WARMUP:-$(q 5 3)}
RUNTIME=${MMFS_REMAP_RUNTIME:-$(q 4 3)}
IODEPTH=${MMFS_REMAP_IODEPTH:-8}
MIX=${MMFS_REMAP_MIX:-100}
POOL_DIR=${POOL_DIR:-/dev/shm}
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
MOUNT_TIMEOUT=${MOUNT_TIMEOUT:-30}

[ "$(id -u)" -eq 0 ] || die "needs root (pools in $POOL_DIR)"
for c in fio python3 fusermount3; do
	command -v "$c" >/dev/null || die "$c not found"
done
for v in WARMUP RUNTIME IODEPTH EPOCH MIX; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "MMFS_REMAP_$v=${!v}: not a number"
done
[ "$RUNTIME" -gt 0 ] || die "MMFS_REMAP_RUNTIME must be at least 1"

find_mmfs "no mmfs binary: build it or set MMFS_BIN"
find_mmfsctl
declare -A BIN=([new]=$MMFS)
if [ -n "${MMFS_BASE_BIN:-}" ]; then
	[ -x "$MMFS_BASE_BIN" ] || die "MMFS_BASE_BIN=$MMFS_BASE_BIN is not executable"
	BIN[base]=$(realpath "$MMFS_BASE_BIN")
	selected=(base new)
else
	log "no MMFS_BASE_BIN: only the binary under test runs"
	selected=(new)
fi

DRAM_B=$(bytes "$DRAM") || die "MMFS_REMAP_DRAM=$DRAM: not a size"
HOT_B=$(bytes "$HOT") || die "MMFS_REMAP_HOT=$HOT: not a size"
HOT_M=$((HOT_B >> 20))
DRAM_M=$((DRAM_B >> 20))
[ "$HOT_M" -ge 16 ] || die "MMFS_REMAP_HOT=$HOT: at least 16M"
# A from 0 and C right after it lie in DRAM after the layout (first touch
# fills DRAM); B lies past 2 * dram=, in PMEM. The hot sets, A + C and
# B + C, must fit the low watermark (90% of dram=).
C_M=$((HOT_M / 4))
B_OFF_M=$((2 * DRAM_M))
DATA_M=$((B_OFF_M + HOT_M + 16))
POOL_M=$((DATA_M + DATA_M / 4 + 64))
[ $(((HOT_M + C_M) * 10)) -le $((DRAM_M * 9)) ] ||
	die "MMFS_REMAP_HOT=$HOT and a quarter of it do not fit 90% of dram=$DRAM"
[ "$(mem_avail)" -ge $(((POOL_M + DRAM_M + 2048) << 20)) ] ||
	die "needs about $((POOL_M + DRAM_M + 2048)) MiB of memory"
[ "$(dir_free "$POOL_DIR")" -ge $((POOL_M << 20)) ] ||
	die "$POOL_DIR has less than $POOL_M MiB free"

make_results
METRICS=$RESULTS/metrics.csv	# bin;rep;job;iops;p50;p99;p999;moved
EVENTS=$RESULTS/events.log
: >"$METRICS"
: >"$EVENTS"

make_scratch remap pools
CURRENT=

# fs_mount -- a fresh pool mount for binary $1 (MMFS is what lib.sh starts)
fs_mount() {
	local b=$1

	MMFS=${BIN[$b]}
	MNT[$b]=$WORK/$b
	LOG[$b]=$RESULTS/$b.log
	mkdir -p "${MNT[$b]}" || return 1
	rm -f "$POOLS/$b.pool"
	CURRENT=$b
	mount_named "$b" "$POOLS/$b.pool" \
		"pmem_size=${POOL_M}M,dram=${DRAM_M}M,epoch_ms=$EPOCH,migrate=$MIGRATE${MMFS_OPTS:+,$MMFS_OPTS}"
}

fs_umount() {
	umount_named "$1"
	rm -f "$POOLS/$1.pool"
	CURRENT=
}

# shellcheck disable=SC2317  # reached through the EXIT trap
bench_teardown() { [ -z "$CURRENT" ] || fs_umount "$CURRENT"; }
bench_traps

# run_fio -- fio job file $2 inside mount $1, JSON to $3, at most $4 s
run_fio() {
	run_limited "$4" env -C "${MNT[$1]}" fio --output-format=json \
		--output="$3" "$2" 2>>"${LOG[$1]}"
}

# moves -- promotions + demotions of mount $1 so far (mmfsctl stat into $2)
moves() {
	"$MMFSCTL" stat "${MNT[$1]}" --json >"$2" 2>&1 || {
		echo "?"
		return
	}
	python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print(s["promotions"] + s["demotions"])' "$2" 2>/dev/null || echo "?"
}

# reads -- a fio job section: random 4 KiB reads of [$2 MiB, +$3 MiB)
reads() {
	cat <<EOF
[$1]
offset=${2}M
size=${3}M
EOF
}

global() {
	cat <<EOF
[global]
filename=data
rw=randread
bs=4k
direct=1
ioengine=libaio
iodepth=$IODEPTH
norandommap=1
randrepeat=1
time_based=1
runtime=$1
lat_percentiles=1
percentile_list=50:99:99.9
EOF
}

cat >"$RESULTS/layout.fio" <<EOF
[layout]
filename=data
size=${DATA_M}M
rw=write
bs=1M
direct=1
ioengine=psync
fallocate=none
EOF
{ global "$WARMUP"; reads old 0 "$HOT_M"; reads bystander "$HOT_M" "$C_M"; } >"$RESULTS/warmup.fio"
{
	global "$RUNTIME"
	reads switch "$B_OFF_M" "$HOT_M"
	[ "$MIX" -ge 100 ] || printf 'rw=randrw\nrwmixread=%s\n' "$MIX"
	reads bystander "$HOT_M" "$C_M"
} >"$RESULTS/switch.fio"

# --- main ------------------------------------------------------------------

rev=$(tree_rev)
LOAD0=$(load_now)
log "results in $RESULTS; about $(((${#selected[@]} * runs * (WARMUP + RUNTIME + 8) + 59) / 60)) min"
for ((rep = 1; rep <= runs; rep++)); do
	for ((k = 0; k < ${#selected[@]}; k++)); do
		b=${selected[$(((k + rep - 1) % ${#selected[@]}))]}
		base=$RESULTS/$b-$rep
		log "$b: run $rep/$runs"
		if ! fs_mount "$b"; then
			echo "$b;$rep;switch;fail;fail;fail;fail;?" >>"$METRICS"
			fs_umount "$b"
			continue
		fi
		if ! run_fio "$b" "$RESULTS/layout.fio" "$base.layout.json" "$RUN_TIMEOUT" ||
			! run_fio "$b" "$RESULTS/warmup.fio" "$base.warmup.json" \
				$((WARMUP + RUN_TIMEOUT)); then
			event "$b: run $rep: layout or warm-up failed (log: ${LOG[$b]})"
			echo "$b;$rep;switch;fail;fail;fail;fail;?" >>"$METRICS"
			fs_umount "$b"
			continue
		fi
		m0=$(moves "$b" "$base.stat0.json")
		if ! run_fio "$b" "$RESULTS/switch.fio" "$base.json" \
			$((RUNTIME + RUN_TIMEOUT)); then
			event "$b: run $rep failed (log: ${LOG[$b]})"
			echo "$b;$rep;switch;fail;fail;fail;fail;?" >>"$METRICS"
			fs_umount "$b"
			continue
		fi
		m1=$(moves "$b" "$base.stat.json")
		mv='?'
		[[ $m0$m1 =~ ^[0-9]+$ ]] && mv=$((m1 - m0))
		python3 - "$base.json" "$b" "$rep" "$mv" >>"$METRICS" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
for job in j["jobs"]:
    r = job["read"]  # a mixed job: its reads' latency, all its IOPS
    pc = r["lat_ns"]["percentile"]
    print("%s;%s;%s;%.0f;%.1f;%.1f;%.1f;%s" % (
        sys.argv[2], sys.argv[3], job["jobname"],
        r["iops"] + job["write"]["iops"],
        pc["50.000000"] / 1e3, pc["99.000000"] / 1e3,
        pc["99.900000"] / 1e3, sys.argv[4]))
EOF
		fs_umount "$b"
	done
done

{
	echo "# tree $rev | $(machine_desc) | $(fio --version) | new: ${BIN[new]} (built $(built_at "${BIN[new]}"))${BIN[base]:+ | base: ${BIN[base]} (built $(built_at "${BIN[base]}"))} | runs=$runs median | load $LOAD0..$(load_now)"
	echo "# pool in $POOL_DIR ${POOL_M}M, dram=${DRAM_M}M, epoch_ms=$EPOCH, migrate=$MIGRATE${MMFS_OPTS:+,$MMFS_OPTS} | file ${DATA_M} MiB | warm-up ${WARMUP}s on A [0,${HOT_M}M) + C [${HOT_M}M,+${C_M}M), then ${RUNTIME}s measured from the switch: jobs switch (B [${B_OFF_M}M,+${HOT_M}M), in PMEM, rwmixread=$MIX) and bystander (C, in DRAM), randread 4k O_DIRECT libaio iodepth=$IODEPTH each"
	python3 - "$METRICS" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    b, rep, job, *v = line.strip().split(";")
    rows.setdefault((b, job), []).append(v)
def med(xs):
    n = [float(x) for x in xs if x not in ("fail", "?")]
    return statistics.median(n) if n else None
print("bin;job;iops[1/s];read-lat-p50[us];read-lat-p99[us];read-lat-p99.9[us];moved/run")
for (b, job), vs in sorted(rows.items()):
    cells = [med(v[i] for v in vs) for i in range(5)]
    print(";".join([b, job] + ["fail" if c is None else
                               ("%.0f" % c if i in (0, 4) else "%.1f" % c)
                               for i, c in enumerate(cells)]))
EOF
} | tee "$RESULTS/remap.txt"
[ -s "$EVENTS" ] && log "events during the run: $EVENTS"
if [ -s "$EVENTS" ] || grep -q ';fail;' "$METRICS"; then
	exit 1
fi
exit 0

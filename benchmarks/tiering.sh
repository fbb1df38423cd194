#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tiering.sh -- what the tiering engine buys: one data file under a zipf
# access pattern, on pool mounts with less and less DRAM (Optane emulated
# for the PMEM tier), with the engine on and off, in one run. Prints a
# ';'-separated table of medians with each row's ratio to the mount whose
# DRAM holds all the data, for the same mix.
#
# Mounts (all: SOURCE = a fresh pool file in POOL_DIR, pmem_emulate=optane;
# MMFS_TIER_SLOW=numa:N puts the slow tier on a NUMA node instead):
#   dram100      dram = data + 10%: everything in DRAM (the reference)
#   dram90       dram = 90% of the data, engine on
#   dram67       dram = 67% of the data, engine on
#   dram67-off   the same, tiering=off (first-touch placement)
#   dram33       dram = 33% of the data, engine on
#   dram33-off   the same, tiering=off (only with --only)
#   dram0        dram=0: everything in PMEM
# Each mount gets the data file written sequentially first (1 MiB O_DIRECT
# writes), so with tiering=off its first dram= bytes sit in DRAM, which the
# zipf pattern (fio scatters its ranks over the file) does not favour. The
# engine-on mounts are laid out the same way and must find the hot chunks.
#
# All mounts stay up for the whole run. For each request size (4 KiB and
# 64 KiB: one whole chunk, which weighs the PMEM tier's bandwidth more than
# the FUSE round trip), every mount first runs the job for MMFS_TIER_WARMUP
# s (not measured: the engine settles). Then, for each mix (rwmixread 100,
# 50, 0: the GET share) and each repetition, every mount runs the job in
# turn (in a random order per round, seeded by MMFS_TIER_SEED and printed
# in the header, so a run repeats), MMFS_TIER_RAMP s unmeasured and
# MMFS_TIER_RUNTIME s measured, and is synced after it (mmfsctl sync), so
# that the next mount does not pay for its writeback. Interleaving puts the
# mounts under the same noise of a shared machine; placement stays frozen
# while a mount is idle (no heat, no moves). The job is fio randrw,
# O_DIRECT (each request reaches the daemon: heat is exact), zipf:1.2,
# libaio, 1 job: fio gives every job its own hot spots, so one job keeps
# one key distribution.
#
# Output: the table on stdout and in $RESULTS_DIR/<UTC time>/tiering.txt,
# next to metrics.csv, notes.txt, events.log, every run's fio JSON and
# mmfsctl stat, and each daemon's log. Everything mounted here is unmounted
# on every exit path; only daemons started here are signalled. Needs root,
# fio (libaio), python3, fusermount3, getfattr.
#
# Environment (defaults in brackets; --quick changes some):
#   MMFS_BIN           mmfs daemon [build/fs/mmfs, else the first build*/fs/mmfs]
#   MMFSCTL_BIN        mmfsctl [next to MMFS_BIN]
#   MMFS_OPTS          extra -o options for every mount (epoch_ms=, migrate=)
#   MMFS_TIER_DATA     size of the data file [1G; quick 256M]
#   MMFS_TIER_WARMUP   seconds of the job on each mount before any run [10; quick 3]
#   MMFS_TIER_RAMP     unmeasured seconds at the start of each run [2; quick 1]
#   MMFS_TIER_RUNTIME  measured seconds per run [10; quick 3]
#   MMFS_TIER_MIXES    rwmixread values [100 50 0]
#   MMFS_TIER_THETA    zipf theta [1.2]
#   MMFS_TIER_BS       request sizes [4k 64k]
#   MMFS_TIER_IODEPTH  libaio queue depth of the one job [4]
#   MMFS_TIER_SLOW     the slow tier: pool (a pool file in POOL_DIR) or
#                      numa:LIST (a volatile slow tier on those NUMA nodes,
#                      CXL memory's role; numa:0 on a one-node machine) [pool]
#   MMFS_TIER_EMULATE  pmem_emulate= device model [optane; cxl with numa:]
#   POOL_DIR           where pool files go [/dev/shm]
#   RESULTS_DIR        where results go [benchmarks/results]
#   RUN_TIMEOUT        seconds past its expected length before a fio run is
#                      killed [60]
#   MOUNT_TIMEOUT      seconds for a mount to appear and answer [30]

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

MOUNTS=(dram100 dram90 dram67 dram67-off dram33 dram33-off dram0)
DEFAULT=(dram100 dram90 dram67 dram67-off dram33 dram0)
EXIT_TIMEOUT=30		# seconds for mmfs to exit after fusermount3 -u

usage() {
	cat <<EOF
usage: $0 [--quick] [--runs N] [--only MOUNT...] [--list]

  --quick          256 MiB of data, short runs, one repetition (~2 min)
  --runs N         N repetitions (median is reported) [3]
  --only MOUNT...  only these mounts (space or comma separated); dram100,
                   the reference, is always mounted
  --list           list the mounts and exit

mounts: ${MOUNTS[*]}
environment: see the head of this script
EOF
}

common_args MOUNTS mount "$@"

selected=()
for m in "${MOUNTS[@]}"; do
	if { [ ${#only[@]} -eq 0 ] && [[ " ${DEFAULT[*]} " == *" $m "* ]]; } ||
		[ "$m" = dram100 ] || [[ " ${only[*]} " == *" $m "* ]]; then
		selected+=("$m")
	fi
done
for m in "${only[@]}"; do
	[[ " ${MOUNTS[*]} " == *" $m "* ]] ||
		die "unknown mount '$m' (--list shows them)"
done

DATA=${MMFS_TIER_DATA:-$(q 1G 256M)}
WARMUP=${MMFS_TIER_WARMUP:-$(q 10 3)}
RAMP=${MMFS_TIER_RAMP:-$(q 2 1)}
RUNTIME=${MMFS_TIER_RUNTIME:-$(q 10 3)}
SEED=${MMFS_TIER_SEED:-$(($(date +%s) % 32768))}
RANDOM=$SEED	# the order of each round (bash's generator, seeded)
read -r -a MIXES <<<"${MMFS_TIER_MIXES:-100 50 0}"
SLOW=${MMFS_TIER_SLOW:-pool}
case $SLOW in
pool) EMULATE=${MMFS_TIER_EMULATE:-optane} ;;
numa:*) EMULATE=${MMFS_TIER_EMULATE:-cxl} ;;
*) echo "MMFS_TIER_SLOW=$SLOW: pool or numa:LIST" >&2; exit 2 ;;
esac
THETA=${MMFS_TIER_THETA:-1.2}
read -r -a BSS <<<"${MMFS_TIER_BS:-4k 64k}"
IODEPTH=${MMFS_TIER_IODEPTH:-4}
POOL_DIR=${POOL_DIR:-/dev/shm}
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
MOUNT_TIMEOUT=${MOUNT_TIMEOUT:-30}

[ "$(id -u)" -eq 0 ] || die "needs root (allow_other mounts, pools in $POOL_DIR)"
for c in fio python3 fusermount3 getfattr; do
	command -v "$c" >/dev/null || die "$c not found"
done
[ -d "$POOL_DIR" ] || die "POOL_DIR=$POOL_DIR is not a directory"
[ ${#MIXES[@]} -gt 0 ] || die "MMFS_TIER_MIXES is empty"
[ ${#BSS[@]} -gt 0 ] || die "MMFS_TIER_BS is empty"
for v in "${BSS[@]}"; do
	[[ $v =~ ^[0-9]+[kKmM]?$ ]] || die "MMFS_TIER_BS: '$v' is not a size"
done
for v in "${MIXES[@]}"; do
	if ! [[ $v =~ ^[0-9]+$ ]] || [ "$v" -gt 100 ]; then
		die "MMFS_TIER_MIXES: '$v' is not a percentage"
	fi
done
for v in WARMUP RAMP RUNTIME IODEPTH; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "MMFS_TIER_$v=${!v}: not a number"
done
[ "$RUNTIME" -gt 0 ] || die "MMFS_TIER_RUNTIME must be at least 1"
[ "$IODEPTH" -gt 0 ] || die "MMFS_TIER_IODEPTH must be at least 1"
[[ $THETA =~ ^[0-9]*\.?[0-9]+$ ]] || die "MMFS_TIER_THETA=$THETA: not a number"

find_mmfs "no mmfs binary: build it or set MMFS_BIN"
find_mmfsctl

DATA_B=$(bytes "$DATA") || die "MMFS_TIER_DATA=$DATA: not a size"
DATA_B=$((DATA_B >> 20 << 20))		# whole MiB: the layout writes 1 MiB
[ "$DATA_B" -ge $((64 << 20)) ] || die "MMFS_TIER_DATA=$DATA: at least 64M"
DATA_M=$((DATA_B >> 20))
POOL_M=$((DATA_M + DATA_M / 4 + 64))	# data, metadata area (1/32), slack

# dram_of -- the dram= option of mount $1, in KiB
dram_of() {
	case $1 in
	dram100) echo "$((DATA_B * 11 / 10 >> 10))K" ;;
	dram90) echo "$((DATA_B * 90 / 100 >> 10))K" ;;
	dram67*) echo "$((DATA_B * 67 / 100 >> 10))K" ;;
	dram33*) echo "$((DATA_B * 33 / 100 >> 10))K" ;;
	dram0) echo 0 ;;
	esac
}
engine_of() { case $1 in *-off) echo off ;; *) echo on ;; esac; }
mb() { awk -v k="${1%K}" 'BEGIN { printf "%.0fM", k / 1024 }'; }

# memory: every pool file fills up to the data (writeback), plus the DRAM
# budgets, plus 2 GiB for everything else
need=0
for m in "${selected[@]}"; do
	d=$(dram_of "$m")
	need=$((need + (POOL_M << 20) + (${d%K} << 10)))
done
avail=$(mem_avail)
shm=$(dir_free "$POOL_DIR")
[ "$avail" -ge $((need + (2 << 30))) ] ||
	die "needs about $(((need >> 20) + 2048)) MiB of memory, $((avail >> 20)) MiB available (lower MMFS_TIER_DATA)"
[ "$shm" -ge $((${#selected[@]} * POOL_M << 20)) ] ||
	die "$POOL_DIR has $((shm >> 20)) MiB free, the pools need $((${#selected[@]} * POOL_M)) MiB"

make_results
METRICS=$RESULTS/metrics.csv	# bs;mount;mix;rep;iops;p99;p50;promoted;demoted;dram%
EVENTS=$RESULTS/events.log
NOTES=$RESULTS/notes.txt
: >"$METRICS"
: >"$EVENTS"
: >"$NOTES"

note() { echo "# $*" >>"$NOTES"; }

# --- mounts ----------------------------------------------------------------
# Every selected mount is up at once; MNT/PID/LOG are indexed by name. The
# EXIT trap takes them all down.

make_scratch tiering pools
declare -A DEAD=()

# fs_mount -- start mount $1 on a fresh pool
fs_mount() {
	local m=$1 opts pool=$POOLS/$1.pool

	MNT[$m]=$WORK/$m
	LOG[$m]=$RESULTS/$m.log
	mkdir -p "${MNT[$m]}" || return 1
	rm -f "$pool"
	if [ "$SLOW" = pool ]; then
		opts=pmem_size=${POOL_M}M
	else
		pool=$SLOW opts=slow_size=${POOL_M}M
	fi
	opts=$opts,dram=$(dram_of "$m"),pmem_emulate=$EMULATE
	[ "$(engine_of "$m")" = off ] && opts=$opts,tiering=off
	opts=$opts${MMFS_OPTS:+,$MMFS_OPTS}
	: >"${LOG[$m]}"
	mount_named "$m" "$pool" "$opts"
}

# fs_umount -- unmount mount $1, stop its daemon, remove its pool file
fs_umount() {
	umount_named "$1"
	rm -f "$POOLS/$1.pool"
}

# shellcheck disable=SC2317  # reached through the EXIT trap
# bench_teardown -- (EXIT trap) take down every mount
bench_teardown() {
	local m
	for m in "${selected[@]}"; do
		fs_umount "$m"
	done
}
bench_traps

# alive -- is mount $1 still served? (a dead daemon is reported once)
alive() {
	[ -z "${DEAD[$1]:-}" ] || return 1
	if [ -n "${PID[$1]:-}" ] && kill -0 "${PID[$1]}" 2>/dev/null; then
		return 0
	fi
	DEAD[$1]=1
	event "$1: the daemon is gone (log: ${LOG[$1]})"
	[ -n "${PID[$1]:-}" ] && reap "$1"
	return 1
}

# run_fio -- run fio with job file $2 inside mount $1 (so that every mount
# sees the same file name, hence fio's same zipf hot spots), JSON to $3,
# under a time limit of $4 seconds; in the background, so ^C reaches the trap
run_fio() {
	run_limited "$4" env -C "${MNT[$1]}" fio --output-format=json \
		--output="$3" "$2" 2>>"${LOG[$1]}"
}

# stat_json -- mmfsctl stat of mount $1 into $2; prints "promotions demotions"
stat_json() {
	"$MMFSCTL" stat "${MNT[$1]}" --json >"$2" 2>&1 || {
		echo "? ?"
		return
	}
	python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print(s.get("promotions", "?"), s.get("demotions", "?"))' "$2" 2>/dev/null ||
		echo "? ?"
}

# residency -- "dram pmem" bytes of the data file on mount $1
residency() {
	local r
	r=$(getfattr --only-values -n user.mmfs.residency \
		"${MNT[$1]}/data" 2>/dev/null) || {
		echo "? ?"
		return
	}
	r=${r//dram=/}
	echo "${r//pmem=/}"
}

# pct -- "dram pmem" -> share of the file in DRAM, in %
pct() { awk -v d="$1" -v p="$2" 'BEGIN { if (d + p > 0) printf "%.0f", 100 * d / (d + p); else print "?" }'; }

# job -- write the fio job for rwmixread $1, $2 s unmeasured, $3 s
# measured, request size $4
job() {
	cat <<EOF
[global]
filename=data
size=$DATA_B
rw=randrw
rwmixread=$1
bs=$4
direct=1
ioengine=libaio
iodepth=$IODEPTH
numjobs=1
random_distribution=zipf:$THETA
norandommap=1
randrepeat=1
time_based=1
ramp_time=$2
runtime=$3
unified_rw_reporting=both
lat_percentiles=1
[tier]
EOF
}

LAYOUT_JOB=$RESULTS/layout.fio
cat >"$LAYOUT_JOB" <<EOF
[layout]
filename=data
size=$DATA_B
rw=write
bs=1M
direct=1
ioengine=psync
fallocate=none
EOF

# one_run -- request size $1, mix $2, repetition $3 on mount $4: one line
# of metrics, one entry of moves
one_run() {
	local bs=$1 mix=$2 rep=$3 m=$4 base a0 b0 a1 b1 d p pa pb v

	base=$RESULTS/$bs-get$mix/$m-$rep
	if ! alive "$m"; then
		echo "$bs;$m;$mix;$rep;fail;fail;fail;?;?;?" >>"$METRICS"
		return
	fi
	log "$bs get$mix: $m run $rep/$runs"
	read -r a0 b0 <<<"$(stat_json "$m" "$base.stat0.json")"
	if ! run_fio "$m" "$RESULTS/$bs-get$mix.fio" "$base.json" \
		$((RAMP + RUNTIME + RUN_TIMEOUT)); then
		event "$m: $bs get$mix run $rep failed (log: ${LOG[$m]})"
		echo "$bs;$m;$mix;$rep;fail;fail;fail;?;?;?" >>"$METRICS"
		return
	fi
	read -r a1 b1 <<<"$(stat_json "$m" "$base.stat.json")"
	# its writeback is this mount's, not the next one's
	"$MMFSCTL" sync "${MNT[$m]}" >/dev/null 2>&1 ||
		event "$m: mmfsctl sync failed after $bs get$mix run $rep"
	read -r d p <<<"$(residency "$m")"
	pa='?' pb='?'
	[[ $a0$a1 =~ ^[0-9]+$ ]] && pa=$((a1 - a0))
	[[ $b0$b1 =~ ^[0-9]+$ ]] && pb=$((b1 - b0))
	v=$(python3 - "$base.json" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))["jobs"][0]["mixed"]
    pc = j["lat_ns"]["percentile"]
    print("%.0f;%.1f;%.1f" % (j["iops"], pc["99.000000"] / 1e3,
                              pc["50.000000"] / 1e3))
except (OSError, ValueError, KeyError, IndexError):
    print("fail;fail;fail")
EOF
	)
	[[ $v == fail* ]] &&
		event "$m: $bs get$mix run $rep: no result in $base.json"
	echo "$bs;$m;$mix;$rep;$v;$pa;$pb;$(pct "$d" "$p")" >>"$METRICS"
	moves+=("$m +$pa/-$pb ($(pct "$d" "$p")% in DRAM)")
}

# --- main ------------------------------------------------------------------

rev=$(tree_rev)
LOAD0=$(load_now)
n=${#selected[@]}
est=$((n * 8 + ${#BSS[@]} * (n * (WARMUP + 2) + ${#MIXES[@]} * runs * n * (RAMP + RUNTIME + 3))))
log "results in $RESULTS; about $(((est + 59) / 60)) min"

for m in "${selected[@]}"; do
	log "$m: mount (dram=$(dram_of "$m"), tiering=$(engine_of "$m")), lay out $DATA_M MiB"
	if ! fs_mount "$m"; then
		DEAD[$m]=1
		continue
	fi
	if ! run_fio "$m" "$LAYOUT_JOB" "$RESULTS/$m.layout.json" \
		"$RUN_TIMEOUT"; then
		event "$m: laying out the data file failed (log: ${LOG[$m]})"
		DEAD[$m]=1
		continue
	fi
	read -r d p <<<"$(residency "$m")"
	note "layout: $m: file in DRAM $(pct "$d" "$p")% ($d of $((d + p)) bytes)"
done

for bs in "${BSS[@]}"; do
	for mix in "${MIXES[@]}"; do
		job "$mix" "$RAMP" "$RUNTIME" "$bs" >"$RESULTS/$bs-get$mix.fio"
	done
	job "${MIXES[0]}" 0 "$WARMUP" "$bs" >"$RESULTS/$bs-warmup.fio"
done

for bs in "${BSS[@]}"; do
	if [ "$WARMUP" -gt 0 ]; then
		for m in "${selected[@]}"; do
			alive "$m" || continue
			log "$bs: $m: warm-up ${WARMUP}s"
			run_fio "$m" "$RESULTS/$bs-warmup.fio" \
				"$RESULTS/$m.$bs-warmup.json" \
				$((WARMUP + RUN_TIMEOUT)) ||
				event "$m: $bs warm-up failed (log: ${LOG[$m]})"
			"$MMFSCTL" sync "${MNT[$m]}" >/dev/null 2>&1
			read -r a b <<<"$(stat_json "$m" "$RESULTS/$m.$bs-warmup.stat.json")"
			read -r d p <<<"$(residency "$m")"
			note "warm-up $bs: $m: $a promoted, $b demoted since mounting; file in DRAM $(pct "$d" "$p")%"
		done
	fi
	for ((x = 0; x < ${#MIXES[@]}; x++)); do
		mix=${MIXES[$x]}
		mkdir -p "$RESULTS/$bs-get$mix"
		for ((rep = 1; rep <= runs; rep++)); do
			moves=()
			# a fresh random order each round (seeded, so a run
			# repeats): a rotation keeps each mount's predecessor
			# fixed, and a run is slower after some mounts than
			# after others
			round=("${selected[@]}")
			for ((k = n - 1; k > 0; k--)); do
				j=$((RANDOM % (k + 1)))
				t=${round[$k]} round[$k]=${round[$j]} round[$j]=$t
			done
			note "order $bs get$mix run $rep: ${round[*]}"
			for m in "${round[@]}"; do
				one_run "$bs" "$mix" "$rep" "$m"
			done
			line=$(printf '%s, ' "${moves[@]}")
			note "moves $bs get$mix run $rep: ${line%, }"
		done
	done
done

for m in "${selected[@]}"; do
	alive "$m" || continue
	"$MMFSCTL" stat "${MNT[$m]}" >"$RESULTS/$m.stat.txt" 2>&1
done
bench_teardown

{
	echo "# tree $rev | $(machine_desc) | $(fio --version) | mmfs built $(built_at "$MMFS") | slow tier: $SLOW ($([ "$SLOW" = pool ] && echo "files in $POOL_DIR") ${POOL_M}M) pmem_emulate=$EMULATE${MMFS_OPTS:+,$MMFS_OPTS} | runs=$runs median, order seed $SEED | load $LOAD0..$(load_now)"
	echo "# data: 1 file of $DATA_M MiB, written sequentially (1 MiB O_DIRECT) | job: fio randrw ${BSS[*]} O_DIRECT zipf:$THETA libaio iodepth=$IODEPTH 1 job | per request size: warm-up ${WARMUP}s per mount, then per run ${RAMP}s + ${RUNTIME}s measured, mounts in turn, each synced after its run"
	echo "# ratio: median(X)/median(dram100) for iops, median(dram100)/median(X) for p99, same mix: 1 = as fast as all-DRAM"
	python3 - "$METRICS" "$(IFS=' '; echo "${selected[*]}")" \
		"$(for m in "${selected[@]}"; do printf '%s=%s,%s ' "$m" \
			"$(mb "$(dram_of "$m")")" "$(engine_of "$m")"; done)" <<'EOF'
import statistics
import sys

order = sys.argv[2].split()
desc = dict(kv.split("=") for kv in sys.argv[3].split())


def num(v):
    try:
        return float(v)
    except ValueError:
        return None


vals, mixes = {}, []
with open(sys.argv[1]) as f:
    for line in f:
        bs, m, mix, rep, iops, p99, _p50, pa, pb, dp = line.strip().split(";")
        if (bs, mix) not in mixes:
            mixes.append((bs, mix))
        vals.setdefault((m, (bs, mix)), {})[rep] = (num(iops), num(p99),
                                                    num(pa), num(pb), num(dp))


def med(xs):
    nums = [x for x in xs if x is not None]
    return (statistics.median(nums) if nums else None), len(nums)


# A ratio is the mount's median over its runs against dram100's. Not the
# median of ratios paired by round: the rotation keeps each mount's
# predecessor fixed, and runs drift along a round, so pairing biased the
# mount that always follows dram100 (benchmarks/README.md).
print("bs;get%;mount;dram;tiering;iops[1/s];lat-p99[us];iops/dram100;"
      "p99:dram100/X;promoted/run;demoted/run;in-dram%")
notes = []
for mix in mixes:
    ref = vals.get(("dram100", mix), {})
    for m in order:
        got = vals.get((m, mix), {})
        if not got:
            continue
        iops, n = med(r[0] for r in got.values())
        p99, _ = med(r[1] for r in got.values())
        pa, _ = med(r[2] for r in got.values())
        pb, _ = med(r[3] for r in got.values())
        dp, _ = med(r[4] for r in got.values())
        ref_iops, _ = med(r[0] for r in ref.values())
        ref_p99, _ = med(r[1] for r in ref.values())
        ri = iops / ref_iops if iops and ref_iops else None
        rp = ref_p99 / p99 if p99 and ref_p99 else None
        dram, eng = desc[m].split(",")
        cells = [mix[0], mix[1], m, dram, eng]
        cells.append("fail" if iops is None else "%.0f" % iops)
        cells.append("fail" if p99 is None else "%.1f" % p99)
        cells.append("-" if ri is None else "%.3f" % ri)
        cells.append("-" if rp is None else "%.3f" % rp)
        cells.append("-" if pa is None else "%.0f" % pa)
        cells.append("-" if pb is None else "%.0f" % pb)
        cells.append("-" if dp is None else "%.0f" % dp)
        print(";".join(cells))
        if iops is not None and n < len(got):
            notes.append("# %s %s get%s: median of %d of %d runs (others "
                         "failed)" % (m, mix[0], mix[1], n, len(got)))
for n in notes:
    print(n)
EOF
	cat "$NOTES"
} | tee "$RESULTS/tiering.txt"
[ -s "$EVENTS" ] && log "events during the run: $EVENTS"
if [ -s "$EVENTS" ] || grep -q ';fail;' "$METRICS"; then
	exit 1
fi
exit 0

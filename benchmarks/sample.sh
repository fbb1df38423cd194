#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# sample.sh -- what page-cache sampling (sample=PCT) costs the application
# it watches. One data file read and written through a shared mapping
# (fio ioengine=mmap, 4 KiB, random, 2 jobs) on tmpfs and on pool mounts
# whose DRAM holds all the data (so placement cannot help or hurt: only
# the sampler's invalidations, the faults that refill them and, for
# writes, the writebacks they force are measured), with sample= 0, 1, 10
# and 25, in one run. Prints a ';'-separated table of medians with each
# row's ratio to tmpfs and to the same mount without sampling.
#
# Output: the table on stdout and in $RESULTS_DIR/<UTC time>/sample.txt,
# with every fio JSON, mmfsctl stat --json after each run and the daemons'
# logs. Everything mounted here is unmounted on every exit path; only
# daemons started here are signalled. Needs root, fio, python3.
#
# Environment (defaults in brackets):
#   MMFS_BIN          mmfs daemon [build/fs/mmfs, else build*/fs/mmfs]
#   MMFSCTL_BIN       mmfsctl [next to MMFS_BIN]
#   SAMPLE_DATA       size of the data file [512M]
#   SAMPLE_RUNTIME    measured seconds per run [10]
#   SAMPLE_RUNS       repetitions, median reported [3]
#   SAMPLE_PCTS       sample= values for the mmfs mounts [0 1 10 25]
#   POOL_DIR          where pool files go [/dev/shm]
#   RESULTS_DIR       where results go [benchmarks/results]

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
DATA=${SAMPLE_DATA:-512M}
RUNTIME=${SAMPLE_RUNTIME:-10}
RUNS=${SAMPLE_RUNS:-3}
read -r -a PCTS <<<"${SAMPLE_PCTS:-0 1 10 25}"
POOL_DIR=${POOL_DIR:-/dev/shm}
MOUNT_TIMEOUT=10	# seconds for a mount to appear and answer
EXIT_TIMEOUT=30		# seconds for mmfs to exit after fusermount3 -u
mmfs_search
MMFSCTL=${MMFSCTL_BIN:-$(dirname "$MMFS")/mmfsctl}
[ "$(id -u)" = 0 ] || { echo "sample.sh: needs root" >&2; exit 2; }
for c in fio python3 fusermount3; do
	command -v $c >/dev/null || { echo "sample.sh: needs $c" >&2; exit 2; }
done
if ! [ -x "$MMFS" ] || ! [ -x "$MMFSCTL" ]; then
	echo "sample.sh: build mmfs first (cmake -B build && cmake --build build)" >&2
	exit 2
fi

make_results
make_scratch sample pools
MOUNTS=()

# shellcheck disable=SC2317  # reached through the EXIT trap
# bench_teardown -- (EXIT trap) take down every mount
bench_teardown() {
	local m
	for m in "${MOUNTS[@]}"; do
		if [ "$m" = tmpfs ]; then
			tmpfs_unmount "${MNT[$m]}" /dev/stderr
		else
			umount_named "$m"
		fi
	done
}
bench_traps

mount_one() {
	local m=$1 pct=$2
	MNT[$m]=$WORK/$m
	mkdir -p "${MNT[$m]}"
	MOUNTS+=("$m")
	if [ "$m" = tmpfs ]; then
		mount -t tmpfs -o size=$((2 * $(numfmt --from=iec "$DATA")))  tmpfs "${MNT[$m]}"
		return
	fi
	local opts=pmem_size=$((3 * $(numfmt --from=iec "$DATA") / 1048576 + 64))M
	opts=$opts,dram=$((2 * $(numfmt --from=iec "$DATA") / 1048576))M
	[ "$pct" -gt 0 ] && opts=$opts,sample=$pct
	LOG[$m]=$RESULTS/$m.log
	: >"${LOG[$m]}"
	mount_named "$m" "$POOLS/$m.pool" "$opts" ||
		die "$m did not mount (log: ${LOG[$m]})"
}

mount_one tmpfs 0
for p in "${PCTS[@]}"; do
	mount_one "sample$p" "$p"
done
for m in "${MOUNTS[@]}"; do
	fio --name=fill --filename="${MNT[$m]}/data" --size="$DATA" --bs=1M \
		--rw=write --ioengine=psync --output=/dev/null || exit 1
done

# run MIX -- every mount in turn (order rotates per repetition)
declare -A IOPS
run() {
	local mix=$1 r i m n=${#MOUNTS[@]} out
	for ((r = 0; r < RUNS; r++)); do
		for ((i = 0; i < n; i++)); do
			m=${MOUNTS[$(((i + r) % n))]}
			out=$RESULTS/$m-rw$mix-$r.json
			fio --name=mmap --filename="${MNT[$m]}/data" --size="$DATA" \
				--ioengine=mmap --rw=randrw --rwmixread="$mix" \
				--bs=4k --numjobs=2 --time_based --runtime="$RUNTIME" \
				--ramp_time=2 --group_reporting \
				--output-format=json --output="$out" || exit 1
			[ "$m" = tmpfs ] || "$MMFSCTL" stat --json "${MNT[$m]}" \
				>"$RESULTS/$m-rw$mix-$r.stat.json"
			IOPS[$m,$mix]+="$(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
print(round(j["read"]["iops"] + j["write"]["iops"]))' "$out") "
		done
	done
}

for mix in 100 50; do
	run "$mix"
done
{
	echo "# sample.sh | linux $(uname -r) | $(nproc) CPUs | $(fio --version) | data $DATA, fio mmap randrw 4k, 2 jobs, ${RUNTIME}s x $RUNS (median) | pool mounts, dram = 2x data"
	echo "mount;read%;iops;vs_tmpfs;vs_sample0"
	for mix in 100 50; do
		t=$(echo "${IOPS[tmpfs,$mix]}" | median)
		z=$(echo "${IOPS[sample0,$mix]:-}" | median)
		for m in "${MOUNTS[@]}"; do
			v=$(echo "${IOPS[$m,$mix]}" | median)
			awk -v m="$m" -v x="$mix" -v v="$v" -v t="$t" -v z="$z" \
				'BEGIN { printf "%s;%s;%d;%.2f;%s\n", m, x, v, v / t,
				  (z != "" && m != "tmpfs") ? sprintf("%.2f", v / z) : "-" }'
		done
	done
} | tee "$RESULTS/sample.txt"
echo "results: $RESULTS"

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# soak.sh -- an hour of mixed work on one pool mount (not in CI), and what
# the daemon looks like every few minutes: its memory, request latency and
# an fsck of the pool as it stands. One mount lives for the whole run:
#   churn   a tree of <= 1,500 small files: create, overwrite, truncate,
#           rename, link, unlink, fsyncs (tests/soak_worker.py churn)
#   mmap    a 128 MiB MAP_SHARED heap, random 4 KiB stores, msync
#   heat    fio randrw 64 KiB O_DIRECT zipf:1.2 on a 768 MiB file, rate
#           limited, one process (--thread: SIGSTOP stops it all): dram= holds a third of the data, so the engine
#           migrates all the time
#   snaps   every SNAP_EVERY s a snapshot of the churn tree and of the heap
#           (their writes then copy on write); the oldest beyond 3 deleted
# Every INTERVAL s: a 5 s latency probe (fio 4 KiB randread O_DIRECT on a
# file of its own: p50/p99 of the mount under that load), the daemon's RSS
# split into anonymous and file-backed, its DRAM and pool use (mmfsctl
# stat), and an fsck: the workers are stopped (SIGSTOP: their requests are
# synchronous, none in flight), sync(1) flushes the mapped stores, the
# engine is paused (remount tiering=off), mmfsctl sync commits, the pool
# file is copied, and everything resumes; `mmfsctl fsck` checks the copy.
# At the end: a clean unmount, fsck of the pool, a remount, and the churn
# tree verified file by file. One CSV line per sample and a summary:
# heap growth (anonymous RSS minus DRAM data), the p99 of the first and
# the last probes, fsck results.
#
# Usage: sudo tests/soak.sh [-t SECS] [-i SECS] [-b BUILD_DIR] [-d POOL_DIR]
#   -t SECS      run time [3600]
#   -i SECS      sample interval [300]
#   -b BUILD     where mmfs and mmfsctl were built [build]
#   -d POOL_DIR  where the 3 GiB (sparse) pool and its copies go [/dev/shm]
# Exit 0 when every fsck was clean, the tree verified and no worker
# failed; 1 otherwise; 2 on bad usage. Everything it mounts is unmounted on
# every exit path, and only the processes it started are signalled.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dur=3600 every=300 build=$top/build pooldir=/dev/shm
SNAP_EVERY=${SNAP_EVERY:-60}

usage() { echo "usage: sudo $0 [-t SECS] [-i SECS] [-b BUILD_DIR] [-d POOL_DIR]" >&2; exit 2; }
while getopts "t:i:b:d:h" o; do
	case $o in
	t) dur=$OPTARG ;;
	i) every=$OPTARG ;;
	b) build=$(cd "$OPTARG" 2>/dev/null && pwd) || { echo "soak.sh: -b $OPTARG: no such directory" >&2; exit 2; } ;;
	d) pooldir=$OPTARG ;;
	*) usage ;;
	esac
done
[[ $dur =~ ^[1-9][0-9]*$ && $every =~ ^[1-9][0-9]*$ ]] || usage
[ "$(id -u)" = 0 ] || { echo "soak.sh: needs root (it mounts)" >&2; exit 2; }
MMFS=$build/fs/mmfs CTL=$build/fs/mmfsctl
for f in "$MMFS" "$CTL"; do
	[ -x "$f" ] || { echo "soak.sh: $f not built" >&2; exit 2; }
done
for c in fio python3 fusermount3; do
	command -v $c >/dev/null || { echo "soak.sh: needs $c" >&2; exit 2; }
done

out=$(mktemp -d /tmp/mmfs-soak.XXXXXX) || exit 2
POOL=$pooldir/mmfs-soak-$$.pool
COPY=$pooldir/mmfs-soak-$$.copy
MNT=$out/mnt
mkdir "$MNT"
PIDS=() DAEMON=
log() { echo "# $(date -u +%H:%M:%S) $*" | tee -a "$out/soak.log"; }

cleanup() {
	local p
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	if grep -q " $MNT " /proc/mounts; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT"
	fi
	if [ -n "$DAEMON" ]; then
		for _ in $(seq 1 100); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$DAEMON" 2>/dev/null && kill -TERM "$DAEMON"
		wait "$DAEMON" 2>/dev/null
	fi
	rm -f "$POOL" "$COPY"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# mount -- the daemon in the foreground, as our child; waits for the mount
mount_pool() {
	"$MMFS" -f "$POOL" "$MNT" -o "dram=256M,pmem_size=3G,commit=2,epoch_ms=250$1" \
		>>"$out/mmfs.log" 2>&1 &
	DAEMON=$!
	for _ in $(seq 1 100); do
		grep -q " $MNT fuse" /proc/mounts && return 0
		kill -0 "$DAEMON" 2>/dev/null || break
		sleep 0.1
	done
	echo "soak.sh: mount failed:" >&2
	tail -5 "$out/mmfs.log" >&2
	exit 1
}

# unmount -- clean unmount; the daemon must exit 0
unmount() {
	fusermount3 -u "$MNT" || { log "unmount failed"; return 1; }
	wait "$DAEMON"
	local rc=$?
	DAEMON=
	[ $rc = 0 ] || { log "daemon exited $rc"; return 1; }
}

mount_pool ""
mkdir -p "$MNT/tree" "$MNT/heap" "$MNT/heat" "$MNT/probe"
fio --name=lay --filename="$MNT/heat/data" --size=768M --rw=write --bs=1M \
	--direct=1 --output="$out/lay.txt" || exit 1
fio --name=lay --filename="$MNT/probe/data" --size=64M --rw=write --bs=1M \
	--direct=1 --output="$out/lay2.txt" || exit 1

worker() {
	"$@" >>"$out/workers.log" 2>&1 &
	PIDS+=($!)
}
worker python3 "$top/tests/soak_worker.py" churn "$MNT/tree" 1
worker python3 "$top/tests/soak_worker.py" mmap "$MNT/heap" 2
worker fio --name=heat --filename="$MNT/heat/data" --size=768M --rw=randrw \
	--bs=64k --direct=1 --ioengine=libaio --iodepth=4 \
	--random_distribution=zipf:1.2 --rate_iops=1500 --time_based --thread \
	--runtime=$((dur + 600)) --output="$out/heat.json" --output-format=json

echo "t_s;rss_anon_kb;rss_file_kb;dram_used;pmem_used;heap_kb;probe_iops;p50_us;p99_us;promoted;demoted;snapshots;fsck" \
	>"$out/soak.csv"
t0=$(date +%s) nsnap=0 fsck_bad=0 samples=0 next_snap=$SNAP_EVERY
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

snapshot() {
	nsnap=$((nsnap + 1))
	mkdir "$MNT/tree/.snap/s$nsnap" "$MNT/heap/.snap/s$nsnap" ||
		{ log "snapshot s$nsnap failed"; fsck_bad=$((fsck_bad + 1)); }
	if [ $nsnap -gt 3 ]; then
		rmdir "$MNT/tree/.snap/s$((nsnap - 3))" "$MNT/heap/.snap/s$((nsnap - 3))" ||
			{ log "deleting snapshot s$((nsnap - 3)) failed"; fsck_bad=$((fsck_bad + 1)); }
	fi
}

# check -- stop, flush, copy the pool, resume; fsck the copy
check() {
	local p rc
	for p in "${PIDS[@]}"; do kill -STOP "$p"; done
	sleep 0.2 # fio's libaio requests in flight complete
	sync
	"$MMFS" "$POOL" "$MNT" -o remount,tiering=off >>"$out/mmfs.log" 2>&1
	"$CTL" sync "$MNT" >>"$out/mmfs.log" 2>&1
	cp --sparse=always "$POOL" "$COPY"
	"$MMFS" "$POOL" "$MNT" -o remount,tiering=on >>"$out/mmfs.log" 2>&1
	for p in "${PIDS[@]}"; do kill -CONT "$p"; done
	"$CTL" fsck "$COPY" >"$out/fsck.$samples.txt" 2>&1
	rc=$?
	rm -f "$COPY"
	echo $rc
}

sample() {
	local t=$(( $(date +%s) - t0 )) anon file st probe fsck heapkb
	fio --name=probe --filename="$MNT/probe/data" --size=64M --rw=randread \
		--bs=4k --direct=1 --ioengine=psync --time_based --runtime=5 \
		--lat_percentiles=1 --output-format=json --output="$out/probe.$samples.json" >/dev/null
	probe=$(jget "$out/probe.$samples.json" \
		'"%d;%.1f;%.1f" % (d["jobs"][0]["read"]["iops"], d["jobs"][0]["read"]["lat_ns"]["percentile"]["50.000000"] / 1e3, d["jobs"][0]["read"]["lat_ns"]["percentile"]["99.000000"] / 1e3)')
	anon=$(awk '/^RssAnon/ { print $2 }' "/proc/$DAEMON/status")
	file=$(awk '/^RssFile/ { print $2 }' "/proc/$DAEMON/status")
	"$CTL" stat "$MNT" --json >"$out/stat.$samples.json"
	st=$(jget "$out/stat.$samples.json" '"%d;%d" % (d["dram"]["used"], d["pmem"]["used"])')
	heapkb=$(( anon - $(jget "$out/stat.$samples.json" 'd["dram"]["used"]') / 1024 ))
	fsck=$(check)
	[ "$fsck" = 0 ] || { fsck_bad=$((fsck_bad + 1)); log "fsck exited $fsck: $(head -3 "$out/fsck.$samples.txt" | paste -sd';')"; }
	echo "$t;$anon;$file;$st;$heapkb;$probe;$(jget "$out/stat.$samples.json" '"%d;%d;%d" % (d["promotions"], d["demotions"], d["snapshots"])');$fsck" \
		>>"$out/soak.csv"
	log "t=${t}s rss_anon=${anon}kB heap=${heapkb}kB probe(iops;p50;p99)=$probe fsck=$fsck"
	samples=$((samples + 1))
}

log "soak: $dur s, sample every $every s, pool $POOL, output $out"
sample
next=$every
while :; do
	now=$(( $(date +%s) - t0 ))
	[ $now -ge "$dur" ] && break
	for p in "${PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || { log "a worker died: $(grep BAD "$out/workers.log" | tail -3)"; exit 1; }
	done
	kill -0 "$DAEMON" 2>/dev/null || { log "the daemon died"; exit 1; }
	if [ $now -ge $next_snap ]; then
		snapshot
		next_snap=$((next_snap + SNAP_EVERY))
	fi
	if [ $now -ge $next ]; then
		sample
		next=$((next + every))
	fi
	sleep 1
done
sample

# the end: stop, unmount cleanly, fsck, remount, verify the tree
for p in "${PIDS[@]}"; do kill -TERM "$p"; wait "$p" 2>/dev/null; done
PIDS=()
end_bad=0
unmount || end_bad=1
"$CTL" fsck "$POOL" >"$out/fsck.final.txt" 2>&1 || { end_bad=1; log "final fsck: $(head -3 "$out/fsck.final.txt" | paste -sd';')"; }
mount_pool ""
python3 "$top/tests/soak_worker.py" churn-verify "$MNT/tree" 0 >"$out/verify.txt" 2>&1 || end_bad=1
log "$(tail -1 "$out/verify.txt")"
unmount || end_bad=1

python3 - "$out/soak.csv" <<'PY' | tee -a "$out/soak.log"
import sys
rows = [l.rstrip("\n").split(";") for l in open(sys.argv[1])][1:]
heap = [int(r[5]) for r in rows]
p99 = [float(r[8]) for r in rows]
print("# samples %d over %s s; heap (anon RSS - DRAM data) %d -> %d kB (max %d); "
      "probe p99 %.0f -> %.0f us (max %.0f); fsck clean %d of %d" % (
          len(rows), rows[-1][0], heap[0], heap[-1], max(heap), p99[0],
          p99[-1], max(p99), sum(r[12] == "0" for r in rows), len(rows)))
PY
if [ $fsck_bad = 0 ] && [ $end_bad = 0 ]; then
	log "soak passed: $out/soak.csv"
	exit 0
fi
log "soak FAILED ($fsck_bad sample findings, end checks $end_bad): $out"
exit 1

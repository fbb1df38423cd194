#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# crash_points.sh -- the long power-loss run CI does not do: N crash points
# (default 1,000) of tests/integration/persist/crash.sh with every mount in
# -o powerloss_sim (a store reaches the pool file only through mmfs's
# persist points, so each kill -9 is a power loss), then one report line:
# crash points survived, findings, fsync'd bytes lost.
#
# Usage: sudo tests/crash_points.sh [-n N] [-b BUILD_DIR] [-s SEED]
#   -n N          crash points [1000]
#   -b BUILD_DIR  where mmfs, mmfsctl and the test helpers were built [build]
#   -s SEED       MMFS_CRASH_SEED, to replay a run [random; printed]
# A finding stops the run (crash.sh fails at the first loss, printing the
# seed, the iteration and both daemon logs); the report then counts it.
# Exit 0 when every point survived, 1 on a finding, 2 on bad usage.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
n=1000 build=$top/build seed=

usage() {
	echo "usage: sudo $0 [-n N] [-b BUILD_DIR] [-s SEED]" >&2
	exit 2
}
while getopts "n:b:s:h" o; do
	case $o in
	n) n=$OPTARG ;;
	b) build=$(cd "$OPTARG" 2>/dev/null && pwd) || { echo "crash_points.sh: -b $OPTARG: no such directory" >&2; exit 2; } ;;
	s) seed=$OPTARG ;;
	*) usage ;;
	esac
done
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "crash_points.sh: -n $n: a positive number" >&2; exit 2; }
[ -z "$seed" ] || [[ $seed =~ ^[0-9]+$ ]] || { echo "crash_points.sh: -s $seed: a number" >&2; exit 2; }
for f in fs/mmfs fs/mmfsctl tests/integration/bin/crashload; do
	[ -x "$build/$f" ] || { echo "crash_points.sh: $build/$f not built (cmake --build $build)" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "crash_points.sh: needs root (it mounts)" >&2; exit 2; }

out=$(mktemp -d /tmp/mmfs-crash-points.XXXXXX) || exit 2
log=$out/crash.log
t0=$(date +%s)
# (an expansion ends a command's assignments: the seed is exported apart)
[ -z "$seed" ] || export MMFS_CRASH_SEED=$seed
# the tree grows with every point (2.6 s a point on average over the
# first 600): crash.sh's own watchdog is sized for CI's 100
MMFS_BIN=$build/fs/mmfs MMFSCTL_BIN=$build/fs/mmfsctl \
	MMFS_HELPER_DIR=$build/tests/integration/bin MMFS_TEST_OUTDIR=$out \
	MMFS_TEST_TARGET=mmfs MMFS_CRASH_ITERS=$n \
	MMFS_TEST_TIMEOUT=$((n * 8 + 600)) \
	bash "$top/tests/integration/persist/crash.sh" powerloss >"$log" 2>&1 &
child=$!
# an interrupted run must not leave crash.sh's mount behind: pass TERM or
# INT on to it and let its EXIT trap unmount before we go
stop() {
	kill -TERM "$child" 2>/dev/null
	wait "$child"
	echo "crash_points.sh: interrupted; log: $log" >&2
	exit "$1"
}
trap 'stop 130' INT
trap 'stop 143' TERM
wait $child
rc=$?
trap - INT TERM
ok=$(grep -c 'iteration [0-9]* ok' "$log")
bytes=$(sed -n 's/.*iteration [0-9]* ok: .* durable files of \([0-9]*\) bytes.*/\1/p' "$log" | tail -n1)
findings=0 lost=0
if [ $rc -ne 0 ]; then
	findings=1
	# the failing verify's summary: the fsync'd bytes of the files it
	# found missing, short or changed
	lost=$(sed -n 's/^# verify: .*, lost \([0-9]*\) bytes$/\1/p' "$log" | tail -n1)
	lost=${lost:-0}
fi
echo "# $(grep -m1 'seed' "$log" | sed 's/^# //')"
echo "crash points: $ok of $n; findings: $findings; fsync'd bytes lost: $lost${bytes:+; durable bytes verified at the end: $bytes}; $(($(date +%s) - t0)) s; log: $log"
[ $rc -eq 0 ] || { tail -40 "$log" >&2; exit 1; }
exit 0

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# readdir.sh -- listing one large directory, on tmpfs and on a volatile mmfs
# in one run: READDIR_NAMES empty files in one directory, then
# READDIR_REPS listings each of `ls -f` (names only: READDIR, or READDIRPLUS
# the first time) and `ls -l` (a stat and an ACL lookup per name), the
# listings of both filesystems interleaved. Prints a ';'-separated table of
# median seconds per listing and the ratio to tmpfs. Every listing reaches
# the daemon: mmfs does not let the kernel cache listings (fs/README.md,
# cache_readdir).
#
# Everything mounted here is unmounted on every exit path; only the daemon
# started here is signalled (it ends with its unmount). Needs root.
#
# Environment (defaults in brackets):
#   MMFS_BIN          mmfs daemon [build/fs/mmfs, else build*/fs/mmfs]
#   READDIR_NAMES     names in the directory [20000]
#   READDIR_REPS      listings of each kind per filesystem [20]

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
NAMES=${READDIR_NAMES:-20000}
REPS=${READDIR_REPS:-20}
MOUNT_TIMEOUT=10
EXIT_TIMEOUT=20

usage() { sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//'; }
[ "${1:-}" = --help ] && { usage; exit 0; }
[ "$(id -u)" = 0 ] || die "needs root (mount)"
find_mmfs "no mmfs binary: build first (cmake --build build)"
make_scratch readdir
MNT[tmpfs]=$WORK/tmpfs MNT[mmfs]=$WORK/mmfs LOG[mmfs]=$WORK/mmfs.log
mkdir "${MNT[tmpfs]}" "${MNT[mmfs]}"

# shellcheck disable=SC2317  # reached through the EXIT trap
bench_teardown() {
	tmpfs_unmount "${MNT[tmpfs]}" "$WORK/tmpfs.err"
	umount_named mmfs
}
bench_traps

mount -t tmpfs -o size=1G tmpfs "${MNT[tmpfs]}" || die "tmpfs mount failed"
mount_named mmfs none dram=1G || die "mmfs mount failed (${LOG[mmfs]})"
for fs in tmpfs mmfs; do
	mkdir "${MNT[$fs]}/big" || die "$fs: mkdir"
	(cd "${MNT[$fs]}/big" && seq "$NAMES" | xargs touch) ||
		die "$fs: creating $NAMES names"
done

# one KIND FS -- seconds of one listing (its output is counted, not kept)
one() {
	local t0 n
	t0=$(usecs)
	case $1 in
	ls-f) n=$(ls -f "${MNT[$2]}/big" | wc -l) ;;
	ls-l) n=$(ls -l "${MNT[$2]}/big" | wc -l) ;;
	esac
	[ "$n" -ge "$NAMES" ] || { log "$2: $1 listed $n of $NAMES names"; return 1; }
	awk -v d=$(($(usecs) - t0)) 'BEGIN { printf "%.4f\n", d / 1e6 }'
}

echo "# $(machine_desc); $NAMES names, $REPS listings of each kind; load $(load_now)"
echo "listing;tmpfs s;mmfs s;mmfs/tmpfs"
for kind in ls-f ls-l; do
	t=() m=()
	for ((i = 0; i < REPS; i++)); do
		x=$(one "$kind" tmpfs) || exit 1
		t+=("$x")
		x=$(one "$kind" mmfs) || exit 1
		m+=("$x")
	done
	tm=$(echo "${t[*]}" | median) mm=$(echo "${m[*]}" | median)
	awk -v k="$kind" -v t="$tm" -v m="$mm" \
		'BEGIN { printf "%s;%.4f;%.4f;%.2f\n", k, t, m, (t > 0 ? m / t : 0) }'
done

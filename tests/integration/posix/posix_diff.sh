#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# posix_diff.sh -- differential POSIX check: run the posix_diff checker on a
# fresh tmpfs and on a fresh mmfs and require identical transcripts.
#
# Usage: posix_diff.sh [4k|64k|4k-writeback]
#   4k  (default) mmfs -o chunk=4k: hole granularity equals tmpfs's 4 KiB
#       pages, so st_blocks and SEEK_DATA/SEEK_HOLE offsets are compared too.
#   64k mmfs with its default chunk size; the checker runs with -b, which
#       leaves out block-granularity dependent output.
#   4k-writeback  with the kernel writeback cache on (-o writeback); skipped
#       if the daemon does not offer that option. The kernel keeps written
#       data in its page cache until writeback, so st_blocks and
#       SEEK_DATA/SEEK_HOLE lag behind until a flush (a limit of FUSE's
#       writeback mode, documented in fs/README.md): this mode runs with -b
#       and also leaves st_blocks out.
#
# Lines starting with "XDIFF " are expected differences (see posix_diff.c);
# they are shown but not compared.  Transcripts are kept in $MMFS_TEST_OUTDIR
# when that is set.
#
# TIMEOUT: 300
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_mmfs
CHECKER=$(helper posix_diff)

mode=${1:-4k}
noblocks=
case $mode in
4k) opts="dram=1G,chunk=4k"; cflags= ;;
64k) opts="dram=1G"; cflags=-b ;;
4k-writeback)
	opts="dram=1G,chunk=4k,writeback"; cflags=-b; noblocks=1
	require_option writeback ;;
*) fail "unknown mode $mode" ;;
esac

run_checker() {
	local mnt=$1 out=$2
	mkdir "$mnt/w" && chmod 755 "$mnt/w" || fail "mkdir $mnt/w"
	timeout -k 10 120 "$CHECKER" $cflags "$mnt/w" >"$out" 2>"$out.err"
	local rc=$?
	[ $rc = 0 ] || echo "checker exited $rc on $mnt" >&2
	cat "$out.err" >&2
	return 0
}

tmpfs_mount size=1G
REF_MNT=$MNT
run_checker "$REF_MNT" "$TMP/tmpfs.txt"
umount_one "$REF_MNT" || fail "cannot unmount tmpfs"

mmfs_mount "$opts"
run_checker "$MNT" "$TMP/mmfs.txt"
is_mounted "$MNT" || fail "mmfs mount vanished during the run (daemon crashed?)"
mmfs_umount_checked

if [ -n "${MMFS_TEST_OUTDIR:-}" ]; then
	mkdir -p "$MMFS_TEST_OUTDIR"
	cp "$TMP/tmpfs.txt" "$MMFS_TEST_OUTDIR/posix_diff-$mode-tmpfs.txt"
	cp "$TMP/mmfs.txt" "$MMFS_TEST_OUTDIR/posix_diff-$mode-$MMFS_TEST_TARGET.txt"
fi

grep -q '^END$' "$TMP/tmpfs.txt" || fail "reference transcript incomplete"
log "$(wc -l <"$TMP/tmpfs.txt") transcript lines"
log "expected differences (not compared):"
paste -d'\n' <(grep '^XDIFF ' "$TMP/tmpfs.txt" | sed 's/^/#   tmpfs: /') \
	<(grep '^XDIFF ' "$TMP/mmfs.txt" | sed "s/^/#   $MMFS_TEST_TARGET: /")

strip() {
	if [ -n "$noblocks" ]; then
		grep -v '^XDIFF ' | sed -E 's/ blocks=~[01]//'
	else
		grep -v '^XDIFF '
	fi
}
strip <"$TMP/tmpfs.txt" >"$TMP/tmpfs.cmp"
strip <"$TMP/mmfs.txt" >"$TMP/mmfs.cmp"
if ! diff -u --label tmpfs --label mmfs "$TMP/tmpfs.cmp" "$TMP/mmfs.cmp" \
	>"$TMP/diff.txt"; then
	cat "$TMP/diff.txt"
	[ -n "${MMFS_TEST_OUTDIR:-}" ] &&
		cp "$TMP/diff.txt" "$MMFS_TEST_OUTDIR/posix_diff-$mode.diff"
	fail "transcripts differ ($(grep -c '^[-+][^-+]' "$TMP/diff.txt") lines)"
fi
log "transcripts identical"
exit 0

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# readdir_rename.sh -- listings of a directory whose entries another
# process renames meanwhile (readdir_rename.c), on tmpfs and on mmfs: each
# listing ends within 2N+2 names, returns every untouched entry exactly
# once and no name twice, also after a rewind and a seek back to a kept
# position. N is MMFS_READDIR_N (default 2000).
#
# TIMEOUT: 300
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_mmfs
RR=$(helper readdir_rename)
N=${MMFS_READDIR_N:-2000}
LISTINGS=12

# one KIND -- the run on the mounted $MNT
one() {
	mkdir "$MNT/dir" "$MNT/other" || fail "mkdir on $1"
	log "$1: N=$N, $LISTINGS listings"
	if ! timeout 120 "$RR" "$MNT/dir" "$MNT/other" "$N" "$LISTINGS" \
		>"$TMP/$1.out" 2>&1; then
		cat "$TMP/$1.out" >&2
		is_mounted "$MNT" || fail "$1: mount vanished (daemon crashed?)"
		fail "$1: listings under renames failed (or did not end)"
	fi
	sed 's/^/#   /' "$TMP/$1.out"
}

tmpfs_mount size=256M
one tmpfs
umount_one "$MNT" || fail "umount tmpfs"

if [ "$MMFS_TEST_TARGET" = mmfs ]; then
	mmfs_mount dram=256M
	one mmfs
	mmfs_umount_checked
fi
exit 0

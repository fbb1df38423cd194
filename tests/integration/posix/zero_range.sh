#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# zero_range.sh -- FALLOC_FL_ZERO_RANGE on mmfs with ext4 semantics
# (zero_range.c).  This is the documented expected difference of the
# posix_diff test: tmpfs returns EOPNOTSUPP, so it is checked here on its own.
# Runs with the default chunk size and with chunk=4k.
#
# TIMEOUT: 120
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_mmfs
ZR=$(helper zero_range)

rc=0
for opts in dram=512M dram=512M,chunk=4k; do
	mmfs_mount "$opts"
	mkdir "$MNT/z" || fail "mkdir"
	log "zero_range with -o $opts"
	timeout -k 10 60 "$ZR" "$MNT/z"
	r=$?
	is_mounted "$MNT" || fail "mount vanished (daemon crashed?)"
	mmfs_umount_checked
	case $r in
	0) ;;
	77) skip "ZERO_RANGE unsupported on $MMFS_TEST_TARGET" ;;
	*) rc=1 ;;
	esac
done
[ $rc = 0 ] || fail "ZERO_RANGE semantics differ from ext4"
exit 0

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bigdir.sh -- N files in one directory (bigdir.c): create, random lookups
# (time per lookup reported, not asserted), readdir returns exactly N+2
# entries, rename a sample, delete all.
#
# MMFS_BIGDIR_N sets N (default 200000).  For the long run (1,000,000) call
# the script directly with a larger internal timeout, e.g.
#   MMFS_BIN=build/fs/mmfs MMFS_HELPER_DIR=build/tests/integration/bin \
#   MMFS_BIGDIR_N=1000000 MMFS_TEST_TIMEOUT=3600 bash dir/bigdir.sh
#
# TIMEOUT: 900
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_mmfs
BIG=$(helper bigdir)
N=${MMFS_BIGDIR_N:-200000}

mmfs_mount dram=2G
mkdir "$MNT/big" || fail "mkdir"
log "N=$N"
rc=0
"$BIG" "$MNT/big" "$N" || rc=1
is_mounted "$MNT" || fail "mount vanished (daemon crashed?)"
rmdir "$MNT/big" || { echo "rmdir of emptied directory failed" >&2; rc=1; }
mmfs_umount_checked
[ $rc = 0 ] || fail "big directory checks failed"
exit 0

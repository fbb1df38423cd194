#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# mmap_coherence.sh -- shared writable mmap on mmfs: stores vs read/pwrite,
# two processes, munmap + reopen, truncate while mapped (mmap_check.c).
# Runs with the default chunk size, with chunk=4k, and with the kernel
# writeback cache (-o writeback) when the daemon offers it.
#
# TIMEOUT: 180
# NEEDS: root

. "$(dirname "$0")/../lib/common.sh"

require_root
require_mmfs
CHECK=$(helper mmap_check)

rc=0
require_option writeback
variants="dram=512M dram=512M,chunk=4k dram=512M,writeback"
for opts in $variants; do
	mmfs_mount "$opts"
	mkdir "$MNT/m" || fail "mkdir"
	log "mmap_check with -o $opts"
	timeout -k 10 120 "$CHECK" "$MNT/m" || rc=1
	is_mounted "$MNT" || fail "mount vanished (daemon crashed?)"
	mmfs_umount_checked
done
[ $rc = 0 ] || fail "mmap checks failed"
exit 0

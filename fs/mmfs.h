/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mmfs.h -- libmmfs, placement control for applications on an mmfs mount.
 *
 * A thin wrapper over what any program can already do with setxattr(2)
 * and ioctl(2): the user.mmfs.tier hint, the read-only virtual xattrs
 * user.mmfs.residency and user.mmfs.heat, and MMFS_IOC_STAT. Every call
 * takes an open file descriptor (O_RDONLY is enough, O_PATH is not) on a
 * file or directory of the mount, and returns 0 or a negative errno; errno
 * itself is left as the failing system call set it.
 *
 * Errors common to all calls:
 *   -EBADF    fd is not an open descriptor
 *   -ENOTSUP  (xattr calls) fd is not on an mmfs mount
 *   -ENOTTY   (mmfs_stat) fd is not on an mmfs mount
 *
 * The placement names are MMFS_PLACE_*, not MMFS_TIER_*: the daemon's own
 * tier/tier.h uses MMFS_TIER_DRAM/PMEM (tier kinds) and MMFS_HINT_* (hints)
 * with other meanings, and a file must be able to include both.
 *
 * Link with libmmfs (pkg-config mmfs). Depends on libc only.
 */
#ifndef MMFS_FS_MMFS_H
#define MMFS_FS_MMFS_H

#include <stdint.h>

#include "mmfs_ioctl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Values of user.mmfs.tier ("auto", "dram", "pmem"), in that order. */
enum mmfs_placement {
	MMFS_PLACE_AUTO = 0, /* the tiering engine decides, by heat */
	MMFS_PLACE_DRAM = 1, /* pinned to DRAM (as long as DRAM has room) */
	MMFS_PLACE_PMEM = 2, /* pinned to PMEM, never promoted */
};

/* Bytes of a file in each tier (whole chunks, so may exceed st_size). */
struct mmfs_residency {
	uint64_t dram_bytes;
	uint64_t pmem_bytes;
};

/* The access heat of a file's chunks, as the tiering engine sees it. */
struct mmfs_heat {
	uint64_t chunks; /* chunks the file maps */
	uint64_t hot;    /* of them, with heat >= 2 */
	uint64_t max;    /* highest heat */
	double mean;     /* mean heat */
};

/*
 * mmfs_set_tier -- set the placement of the file (on a directory: of the
 * files and directories created in it from now on). Persistent. The
 * engine moves the bytes in the background, within a few epochs; watch
 * mmfs_residency() to know when.
 * Returns: 0, -EINVAL (not an enum mmfs_placement), -EPERM/-EACCES (not
 * the owner), -ENOSPC (the pool's metadata is full), -ENOTSUP.
 */
int mmfs_set_tier(int fd, enum mmfs_placement p);

/*
 * mmfs_get_tier -- the placement set on the file, MMFS_PLACE_AUTO when
 * none is set.
 * Returns: 0, -EPROTO (an unknown value stored), -ENOTSUP.
 */
int mmfs_get_tier(int fd, enum mmfs_placement *p);

/*
 * mmfs_residency -- where the bytes of a regular file are right now.
 * Returns: 0, -ENODATA (not a regular file), -EPROTO, -ENOTSUP.
 */
int mmfs_residency(int fd, struct mmfs_residency *r);

/*
 * mmfs_heat -- the heat of a regular file's chunks.
 * Returns: 0, -ENODATA (not a regular file), -EPROTO, -ENOTSUP.
 */
int mmfs_heat(int fd, struct mmfs_heat *h);

/*
 * mmfs_stat -- the whole mount's counters (what `mmfsctl stat` prints);
 * st->version says which fields the daemon filled.
 * Returns: 0, -ENOTTY.
 */
int mmfs_stat(int fd, struct mmfs_ioc_stat *st);

#ifdef __cplusplus
}
#endif

#endif

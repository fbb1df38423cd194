/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mountinfo -- lookups in /proc/self/mountinfo: which mount sits on a
 * directory (its device, type and options), and whether a device is still
 * mounted anywhere in this mount namespace.
 */
#ifndef MMFS_UTILS_MOUNTINFO_H
#define MMFS_UTILS_MOUNTINFO_H

#include <stddef.h>

struct mmfs_mountinfo {
	unsigned major, minor; /* st_dev of the mounted filesystem */
	char fstype[64];       /* "fuse.mmfs", "fuse", "tmpfs", ... */
	char source[256];      /* mount source (fsname=) */
	char opts[512];        /* per-mount options: rw,nosuid,relatime,... */
	char super_opts[512];  /* superblock options: rw,user_id=0,... */
};

/*
 * mmfs_mountinfo_at -- the topmost mount on @mountpoint (a path as the
 * kernel shows it: realpath'd by the caller). 0, -ENOENT (nothing mounted
 * there) or -errno reading mountinfo.
 */
int mmfs_mountinfo_at(const char *mountpoint, struct mmfs_mountinfo *mi);

/*
 * mmfs_mountinfo_dev -- is device @major:@minor mounted? 1 (and its mount
 * point into @mnt, @len bytes, when not NULL), 0 if not, -errno.
 */
int mmfs_mountinfo_dev(unsigned major, unsigned minor, char *mnt, size_t len);

/*
 * mmfs_mountinfo_parse -- (exposed for tests) split one mountinfo line.
 * Fills @mi and @mnt (the mount point, octal escapes undone). 0 or -EINVAL.
 */
int mmfs_mountinfo_parse(const char *line, struct mmfs_mountinfo *mi,
			 char *mnt, size_t len);

#endif

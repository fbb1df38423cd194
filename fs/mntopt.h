/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mntopt -- the generic mount options (ro, nosuid, relatime, nofail, ...)
 * that are not mmfs's own: which kernel flag each sets or clears, whether
 * libfuse 3.14 passes it on or mmfs must, and the atime rule the daemon
 * applies (FUSE inodes are S_NOATIME: the kernel leaves atime to us).
 * Pure functions: the daemon, the remount path and the unit test share them.
 */
#ifndef MMFS_FS_MNTOPT_H
#define MMFS_FS_MNTOPT_H

#include <stdbool.h>
#include <time.h>

enum fs_mntopt_kind {
	FS_MNTOPT_LIBFUSE,   /* a kernel flag libfuse 3.14 knows and passes */
	FS_MNTOPT_MMFS,      /* a kernel flag libfuse refuses: mmfs applies it */
	FS_MNTOPT_IGNORED,   /* accepted; nothing to do on FUSE (README) */
	FS_MNTOPT_USERSPACE, /* mount(8)/fstab only: never reaches a kernel */
	FS_MNTOPT_REMOUNT,   /* "remount" */
};

struct fs_mntopt {
	const char *name;    /* a trailing '=' or '-' matches a prefix */
	unsigned long set;   /* MS_* flags it sets */
	unsigned long clear; /* MS_* flags it clears */
	enum fs_mntopt_kind kind;
};

/* fs_mntopt_find -- the generic option @opt ("relatime", "x-foo"), or NULL */
const struct fs_mntopt *fs_mntopt_find(const char *opt);

/* fs_mntopt_apply -- @opt's effect on the MS_* flags @flags */
unsigned long fs_mntopt_apply(const struct fs_mntopt *m, unsigned long flags);

/*
 * fs_mntopt_parse_flags -- the MS_* flags of an options string as
 * /proc/self/mountinfo shows it ("rw,nosuid,relatime"); unknown words are
 * skipped.
 */
unsigned long fs_mntopt_parse_flags(const char *opts);

/* How the daemon keeps atime, from the mount's flags. */
enum fs_atime {
	FS_ATIME_RELATIME = 0, /* the default, as the kernel's */
	FS_ATIME_NOATIME,
	FS_ATIME_STRICT,
};

enum fs_atime fs_atime_policy(unsigned long ms_flags);

/*
 * fs_atime_due -- must a read at @now set atime, under @policy? relatime:
 * when atime is not after mtime or ctime, or a day old (as the kernel's
 * relatime_need_update).
 */
bool fs_atime_due(enum fs_atime policy, const struct timespec *atime,
		  const struct timespec *mtime, const struct timespec *ctime,
		  const struct timespec *now);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mntopt.c -- see mntopt.h. The table says, for every generic option a
 * user or mount(8) may hand us, what the kernel would do with it; README.md
 * ("Generic mount options") lists the same decisions.
 */
#include <string.h>
#include <sys/mount.h>

#include "fs/mntopt.h"
#include "utils/err.h"

#define ATIME_ALL (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)

static const struct fs_mntopt opts[] = {
	/* kernel flags libfuse 3.14 knows (lib/mount.c mount_flags[]) */
	{ "ro", MS_RDONLY, 0, FS_MNTOPT_LIBFUSE },
	{ "rw", 0, MS_RDONLY, FS_MNTOPT_LIBFUSE },
	{ "suid", 0, MS_NOSUID, FS_MNTOPT_LIBFUSE },
	{ "nosuid", MS_NOSUID, 0, FS_MNTOPT_LIBFUSE },
	{ "dev", 0, MS_NODEV, FS_MNTOPT_LIBFUSE },
	{ "nodev", MS_NODEV, 0, FS_MNTOPT_LIBFUSE },
	{ "exec", 0, MS_NOEXEC, FS_MNTOPT_LIBFUSE },
	{ "noexec", MS_NOEXEC, 0, FS_MNTOPT_LIBFUSE },
	{ "async", 0, MS_SYNCHRONOUS, FS_MNTOPT_LIBFUSE },
	{ "sync", MS_SYNCHRONOUS, 0, FS_MNTOPT_LIBFUSE },
	{ "atime", 0, MS_NOATIME, FS_MNTOPT_LIBFUSE },
	{ "noatime", MS_NOATIME, MS_RELATIME | MS_STRICTATIME,
	  FS_MNTOPT_LIBFUSE },
	{ "dirsync", MS_DIRSYNC, 0, FS_MNTOPT_LIBFUSE },
	/* kernel flags it refuses: mmfs sets them on the mount itself */
	{ "relatime", MS_RELATIME, MS_NOATIME | MS_STRICTATIME,
	  FS_MNTOPT_MMFS },
	{ "norelatime", 0, MS_RELATIME, FS_MNTOPT_MMFS },
	{ "strictatime", MS_STRICTATIME, MS_NOATIME | MS_RELATIME,
	  FS_MNTOPT_MMFS },
	{ "nostrictatime", 0, MS_STRICTATIME, FS_MNTOPT_MMFS },
	{ "diratime", 0, MS_NODIRATIME, FS_MNTOPT_MMFS },
	{ "nodiratime", MS_NODIRATIME, 0, FS_MNTOPT_MMFS },
	{ "symfollow", 0, MS_NOSYMFOLLOW, FS_MNTOPT_MMFS },
	{ "nosymfollow", MS_NOSYMFOLLOW, 0, FS_MNTOPT_MMFS },
	/* flags with no effect on a FUSE mount (no inode writeback to make
	 * lazy, no i_version, mandatory locks gone from Linux, no messages) */
	{ "lazytime", 0, 0, FS_MNTOPT_IGNORED },
	{ "nolazytime", 0, 0, FS_MNTOPT_IGNORED },
	{ "iversion", 0, 0, FS_MNTOPT_IGNORED },
	{ "noiversion", 0, 0, FS_MNTOPT_IGNORED },
	{ "mand", 0, 0, FS_MNTOPT_IGNORED },
	{ "nomand", 0, 0, FS_MNTOPT_IGNORED },
	{ "silent", 0, 0, FS_MNTOPT_IGNORED },
	{ "loud", 0, 0, FS_MNTOPT_IGNORED },
	/* mount(8) and fstab words (mount.fuse3 drops some, not all) */
	{ "defaults", 0, 0, FS_MNTOPT_USERSPACE },
	{ "auto", 0, 0, FS_MNTOPT_USERSPACE },
	{ "noauto", 0, 0, FS_MNTOPT_USERSPACE },
	{ "user", 0, 0, FS_MNTOPT_USERSPACE },
	{ "nouser", 0, 0, FS_MNTOPT_USERSPACE },
	{ "users", 0, 0, FS_MNTOPT_USERSPACE },
	{ "owner", 0, 0, FS_MNTOPT_USERSPACE },
	{ "group", 0, 0, FS_MNTOPT_USERSPACE },
	{ "nofail", 0, 0, FS_MNTOPT_USERSPACE },
	{ "_netdev", 0, 0, FS_MNTOPT_USERSPACE },
	{ "comment=", 0, 0, FS_MNTOPT_USERSPACE },
	{ "x-", 0, 0, FS_MNTOPT_USERSPACE },
	{ "remount", 0, 0, FS_MNTOPT_REMOUNT },
};

const struct fs_mntopt *fs_mntopt_find(const char *opt)
{
	size_t i;

	for (i = 0; i < MMFS_ARRAY_SIZE(opts); i++) {
		const char *n = opts[i].name;
		size_t len = strlen(n);
		bool prefix = n[len - 1] == '=' || n[len - 1] == '-';

		if (prefix ? strncmp(opt, n, len) == 0 : strcmp(opt, n) == 0)
			return &opts[i];
	}
	return NULL;
}

unsigned long fs_mntopt_apply(const struct fs_mntopt *m, unsigned long flags)
{
	return (flags & ~m->clear) | m->set;
}

unsigned long fs_mntopt_parse_flags(const char *s)
{
	unsigned long flags = 0;
	char word[64];

	while (*s) {
		size_t n = strcspn(s, ",");
		const struct fs_mntopt *m;

		if (n < sizeof(word)) {
			memcpy(word, s, n);
			word[n] = '\0';
			m = fs_mntopt_find(word);
			if (m)
				flags = fs_mntopt_apply(m, flags);
		}
		s += n;
		if (*s == ',')
			s++;
	}
	return flags;
}

enum fs_atime fs_atime_policy(unsigned long f)
{
	if (f & MS_NOATIME)
		return FS_ATIME_NOATIME;
	if (f & MS_STRICTATIME)
		return FS_ATIME_STRICT;
	return FS_ATIME_RELATIME;
}

static int ts_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

bool fs_atime_due(enum fs_atime policy, const struct timespec *atime,
		  const struct timespec *mtime, const struct timespec *ctime,
		  const struct timespec *now)
{
	switch (policy) {
	case FS_ATIME_NOATIME:
		return false;
	case FS_ATIME_STRICT:
		return true;
	case FS_ATIME_RELATIME:
		break;
	}
	return ts_cmp(atime, mtime) <= 0 || ts_cmp(atime, ctime) <= 0 ||
	       now->tv_sec - atime->tv_sec >= 24 * 3600;
}

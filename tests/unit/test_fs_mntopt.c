/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fs_mntopt.c -- fs/mntopt (the generic mount options: kinds, MS_*
 * flags in order, the flags of a mountinfo string, the atime rule) and
 * utils/mountinfo's line parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/mount.h>

#include "fs/mntopt.h"
#include "utils/mountinfo.h"

static void test_kinds(void **state)
{
	(void)state;
	assert_int_equal(fs_mntopt_find("ro")->kind, FS_MNTOPT_LIBFUSE);
	assert_int_equal(fs_mntopt_find("noatime")->kind, FS_MNTOPT_LIBFUSE);
	assert_int_equal(fs_mntopt_find("relatime")->kind, FS_MNTOPT_MMFS);
	assert_int_equal(fs_mntopt_find("strictatime")->kind, FS_MNTOPT_MMFS);
	assert_int_equal(fs_mntopt_find("nosymfollow")->kind, FS_MNTOPT_MMFS);
	assert_int_equal(fs_mntopt_find("lazytime")->kind, FS_MNTOPT_IGNORED);
	assert_int_equal(fs_mntopt_find("nofail")->kind, FS_MNTOPT_USERSPACE);
	assert_int_equal(fs_mntopt_find("x-systemd.automount")->kind,
			 FS_MNTOPT_USERSPACE);
	assert_int_equal(fs_mntopt_find("comment=fstab")->kind,
			 FS_MNTOPT_USERSPACE);
	assert_int_equal(fs_mntopt_find("remount")->kind, FS_MNTOPT_REMOUNT);
	/* mmfs's own and libfuse's are not generic; nor are near misses */
	assert_null(fs_mntopt_find("dram=8G"));
	assert_null(fs_mntopt_find("allow_other"));
	assert_null(fs_mntopt_find("rox"));
	assert_null(fs_mntopt_find("comment"));
	assert_null(fs_mntopt_find(""));
}

static unsigned long apply_all(const char *const *w, unsigned long f)
{
	for (; *w; w++)
		f = fs_mntopt_apply(fs_mntopt_find(*w), f);
	return f;
}

static void test_apply_in_order(void **state)
{
	static const char *const a[] = { "ro", "nosuid", "rw", NULL };
	static const char *const b[] = { "noatime", "strictatime", NULL };
	static const char *const c[] = { "strictatime", "relatime", NULL };
	static const char *const d[] = { "relatime", "noatime", NULL };

	(void)state;
	assert_int_equal(apply_all(a, 0), MS_NOSUID);
	assert_int_equal(apply_all(b, 0), MS_STRICTATIME);
	assert_int_equal(apply_all(c, 0), MS_RELATIME);
	assert_int_equal(apply_all(d, MS_NODEV), MS_NOATIME | MS_NODEV);
}

static void test_parse_flags(void **state)
{
	(void)state;
	assert_int_equal(fs_mntopt_parse_flags("rw,nosuid,nodev,relatime"),
			 MS_NOSUID | MS_NODEV | MS_RELATIME);
	assert_int_equal(fs_mntopt_parse_flags("ro,noatime,user_id=0"),
			 MS_RDONLY | MS_NOATIME);
	assert_int_equal(fs_mntopt_parse_flags(""), 0);
	assert_int_equal(fs_mntopt_parse_flags("nodiratime,nosymfollow,"),
			 MS_NODIRATIME | MS_NOSYMFOLLOW);
}

static void test_atime(void **state)
{
	struct timespec old = { 1000, 0 }, newer = { 2000, 0 };
	struct timespec now = { 3000, 0 }, day = { 1000 + 86400, 0 };

	(void)state;
	assert_int_equal(fs_atime_policy(0), FS_ATIME_RELATIME);
	assert_int_equal(fs_atime_policy(MS_RELATIME), FS_ATIME_RELATIME);
	assert_int_equal(fs_atime_policy(MS_NOATIME | MS_NODEV),
			 FS_ATIME_NOATIME);
	assert_int_equal(fs_atime_policy(MS_STRICTATIME), FS_ATIME_STRICT);
	/* relatime: atime not after mtime (or ctime), or a day old */
	assert_true(fs_atime_due(FS_ATIME_RELATIME, &old, &newer, &old, &now));
	assert_true(fs_atime_due(FS_ATIME_RELATIME, &old, &old, &old, &now));
	assert_false(fs_atime_due(FS_ATIME_RELATIME, &newer, &old, &old,
				  &now));
	assert_false(fs_atime_due(FS_ATIME_RELATIME, &newer, &old, &old,
				  &day)); /* 23.7 hours */
	assert_true(fs_atime_due(FS_ATIME_RELATIME, &old, &old, &old, &day));
	assert_true(fs_atime_due(FS_ATIME_STRICT, &newer, &old, &old, &now));
	assert_false(fs_atime_due(FS_ATIME_NOATIME, &old, &newer, &newer,
				  &day));
}

static void test_mountinfo_line(void **state)
{
	struct mmfs_mountinfo mi;
	char mnt[256];

	(void)state;
	assert_int_equal(
		mmfs_mountinfo_parse("36 35 0:52 / /mnt/m\\040m rw,nosuid,"
				     "relatime shared:1 master:2 - fuse.mmfs "
				     "/var/lib/pool\\054x rw,user_id=0\n",
				     &mi, mnt, sizeof(mnt)),
		0);
	assert_int_equal(mi.major, 0);
	assert_int_equal(mi.minor, 52);
	assert_string_equal(mnt, "/mnt/m m");
	assert_string_equal(mi.opts, "rw,nosuid,relatime");
	assert_string_equal(mi.fstype, "fuse.mmfs");
	assert_string_equal(mi.source, "/var/lib/pool,x");
	assert_string_equal(mi.super_opts, "rw,user_id=0");
	/* no optional fields */
	assert_int_equal(mmfs_mountinfo_parse("1 0 8:1 / / rw - ext4 /dev/vda"
					      " rw", &mi, mnt, sizeof(mnt)),
			 0);
	assert_string_equal(mi.fstype, "ext4");
	/* truncated lines, a missing separator, a bad device */
	assert_int_equal(mmfs_mountinfo_parse("1 0 8:1 / /", &mi, mnt,
					      sizeof(mnt)), -EINVAL);
	assert_int_equal(mmfs_mountinfo_parse("1 0 8:1 / / rw ext4 x rw", &mi,
					      mnt, sizeof(mnt)), -EINVAL);
	assert_int_equal(mmfs_mountinfo_parse("1 0 x / / rw - ext4 x rw", &mi,
					      mnt, sizeof(mnt)), -EINVAL);
	/* a mount point longer than the buffer */
	assert_int_equal(mmfs_mountinfo_parse("1 0 8:1 / /abcdefgh rw - e x r",
					      &mi, mnt, 4), -EINVAL);
}

static void test_mountinfo_self(void **state)
{
	struct mmfs_mountinfo mi;
	char mnt[4096];

	(void)state;
	/* / is always mounted in this namespace, and /proc below it */
	assert_int_equal(mmfs_mountinfo_at("/", &mi), 0);
	assert_int_equal(mmfs_mountinfo_at("/proc", &mi), 0);
	assert_string_equal(mi.fstype, "proc");
	assert_int_equal(mmfs_mountinfo_dev(mi.major, mi.minor, mnt,
					    sizeof(mnt)), 1);
	assert_int_equal(mmfs_mountinfo_at("/no/such/mount/point", &mi),
			 -ENOENT);
	assert_int_equal(mmfs_mountinfo_dev(4095, 1048575, NULL, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_apply_in_order),
		cmocka_unit_test(test_parse_flags),
		cmocka_unit_test(test_atime),
		cmocka_unit_test(test_mountinfo_line),
		cmocka_unit_test(test_mountinfo_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

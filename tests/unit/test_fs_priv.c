/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fs_priv.c -- the setuid/setgid rule (fs/priv.c) against current
 * Linux: what a write, a truncate or an fallocate (MODIFY), a chown and an
 * ACL change drop, for a caller in the file's group (by fsgid or by a
 * supplementary group), one outside it, and root. The expectations are
 * the ones tests/integration/perm/sgid.sh observes on tmpfs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "fs/fs_i.h"

#define FILE_GID 4242u
#define REG(m) (S_IFREG | (m))

static const uint32_t supp[] = { 7, FILE_GID };
static const struct fs_caller in_fsgid = { 12345, FILE_GID, NULL, 0 };
static const struct fs_caller in_supp = { 12345, 12345, supp, 2 };
static const struct fs_caller outsider = { 12345, 12345, supp, 1 };
static const struct fs_caller root = { 0, 0, NULL, 0 };

static uint32_t kill(uint32_t mode, enum fs_priv_op op,
		     const struct fs_caller *c)
{
	return fs_priv_kill(mode, FILE_GID, op, c);
}

/* Group membership is the fsgid or any supplementary group. */
static void test_in_group(void **state)
{
	(void)state;
	assert_true(fs_caller_in_group(&in_fsgid, FILE_GID));
	assert_true(fs_caller_in_group(&in_supp, FILE_GID));
	assert_false(fs_caller_in_group(&outsider, FILE_GID));
	assert_false(fs_caller_in_group(&root, FILE_GID));
}

/* A modification drops setuid always, setgid as setattr_should_drop_sgid. */
static void test_modify(void **state)
{
	const uint32_t both = S_ISUID | S_ISGID;

	(void)state;
	/* 6666/6766: no group-x, so setgid goes only for an outsider */
	assert_int_equal(kill(REG(06666), FS_PRIV_MODIFY, &in_fsgid), S_ISUID);
	assert_int_equal(kill(REG(06666), FS_PRIV_MODIFY, &in_supp), S_ISUID);
	assert_int_equal(kill(REG(06666), FS_PRIV_MODIFY, &outsider), both);
	assert_int_equal(kill(REG(06766), FS_PRIV_MODIFY, &outsider), both);
	/* group-x: setgid goes for everyone unprivileged */
	assert_int_equal(kill(REG(06777), FS_PRIV_MODIFY, &in_fsgid), both);
	assert_int_equal(kill(REG(02755), FS_PRIV_MODIFY, &in_supp), S_ISGID);
	assert_int_equal(kill(REG(02745), FS_PRIV_MODIFY, &in_supp), 0);
	assert_int_equal(kill(REG(02745), FS_PRIV_MODIFY, &outsider), S_ISGID);
	assert_int_equal(kill(REG(04755), FS_PRIV_MODIFY, &in_supp), S_ISUID);
	/* CAP_FSETID (root) keeps both; nothing set, nothing dropped */
	assert_int_equal(kill(REG(06777), FS_PRIV_MODIFY, &root), 0);
	assert_int_equal(kill(REG(00777), FS_PRIV_MODIFY, &outsider), 0);
}

/* chown drops setuid even for root, setgid by the same rule, not on dirs. */
static void test_chown(void **state)
{
	(void)state;
	assert_int_equal(kill(REG(04755), FS_PRIV_CHOWN, &root), S_ISUID);
	assert_int_equal(kill(REG(06755), FS_PRIV_CHOWN, &root),
			 S_ISUID | S_ISGID);
	assert_int_equal(kill(REG(02745), FS_PRIV_CHOWN, &root), 0);
	assert_int_equal(kill(REG(02745), FS_PRIV_CHOWN, &in_supp), 0);
	assert_int_equal(kill(REG(02745), FS_PRIV_CHOWN, &outsider), S_ISGID);
	assert_int_equal(kill(REG(06666), FS_PRIV_CHOWN, &in_fsgid), S_ISUID);
	assert_int_equal(kill(S_IFDIR | 02775, FS_PRIV_CHOWN, &outsider), 0);
}

/* An ACL change drops setgid for a caller outside the group, nothing else. */
static void test_acl(void **state)
{
	(void)state;
	assert_int_equal(kill(REG(06666), FS_PRIV_CHMOD, &outsider), S_ISGID);
	assert_int_equal(kill(REG(02755), FS_PRIV_CHMOD, &outsider), S_ISGID);
	assert_int_equal(kill(REG(06777), FS_PRIV_CHMOD, &in_supp), 0);
	assert_int_equal(kill(REG(04755), FS_PRIV_CHMOD, &outsider), 0);
	assert_int_equal(kill(REG(06777), FS_PRIV_CHMOD, &root), 0);
}

/* Groups are needed only for setgid, unprivileged, a different fsgid. */
static void test_needs_groups(void **state)
{
	(void)state;
	assert_false(fs_priv_needs_groups(REG(04755), FILE_GID, &outsider));
	assert_false(fs_priv_needs_groups(REG(02745), FILE_GID, &root));
	assert_false(fs_priv_needs_groups(REG(02745), FILE_GID, &in_fsgid));
	assert_true(fs_priv_needs_groups(REG(02745), FILE_GID, &outsider));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_group),
		cmocka_unit_test(test_modify),
		cmocka_unit_test(test_chown),
		cmocka_unit_test(test_acl),
		cmocka_unit_test(test_needs_groups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

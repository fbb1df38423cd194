/* SPDX-License-Identifier: Apache-2.0 */
/*
 * priv.c -- which of setuid/setgid an operation drops: the one rule,
 * as current Linux has it (fs/attr.c: setattr_should_drop_sgid and
 * setattr_should_drop_suidgid; fs/open.c: chown_common; fs/posix_acl.c:
 * posix_acl_update_mode). A pure function of the mode, the file's group
 * and the caller, so that tests/unit/test_fs_priv.c drives it directly and
 * every handler in fuse_ops.c asks it instead of carrying its own copy.
 *
 * Why the daemon applies it at all: libfuse 3.14 never passes
 * FUSE_HANDLE_KILLPRIV(_V2) to the kernel, so the kernel's FUSE client
 * clears the bits itself on write, truncate, fallocate, copy_file_range
 * and chown, but with the old rule (setgid only on group-executables,
 * fuse_setattr), and not at all on FOPEN_DIRECT_IO writes or ACL changes
 * (FUSE_SETXATTR_ACL_KILL_SGID needs FUSE_SETXATTR_EXT, which 3.14 cannot
 * negotiate either). What the kernel leaves, the daemon clears afterwards.
 *
 * The daemon cannot see capabilities: CAP_FSETID is taken to be held by
 * fsuid 0 and by no one else (a capable non-root caller loses bits it
 * would keep on tmpfs; root without CAP_FSETID keeps bits tmpfs drops).
 */
#include <sys/stat.h>

#include "fs/fs_i.h"

bool fs_caller_in_group(const struct fs_caller *c, uint32_t gid)
{
	int i;

	if (c->gid == gid)
		return true;
	for (i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

bool fs_priv_needs_groups(uint32_t mode, uint32_t gid,
			  const struct fs_caller *c)
{
	return (mode & S_ISGID) && c->uid != 0 && c->gid != gid;
}

uint32_t fs_priv_kill(uint32_t mode, uint32_t gid, enum fs_priv_op op,
		      const struct fs_caller *c)
{
	bool capable = c->uid == 0; /* CAP_FSETID, as far as we can tell */
	bool sgid_drop;
	uint32_t kill = 0;

	if (!(mode & (S_ISUID | S_ISGID)))
		return 0;
	/* setattr_should_drop_sgid: not for a caller in the group or capable */
	sgid_drop = (mode & S_ISGID) &&
		    ((mode & S_IXGRP) ||
		     (!capable && !fs_caller_in_group(c, gid)));
	switch (op) {
	case FS_PRIV_MODIFY: /* file_remove_privs, do_truncate */
		if (capable)
			return 0;
		break;
	case FS_PRIV_CHOWN: /* chown_common: even by root, not on dirs */
		if (S_ISDIR(mode))
			return 0;
		break;
	case FS_PRIV_CHMOD: /* setattr_copy, posix_acl_update_mode: no group-x */
		return (mode & S_ISGID) && !capable &&
			       !fs_caller_in_group(c, gid)
		       ? S_ISGID
		       : 0;
	}
	if (mode & S_ISUID)
		kill |= S_ISUID;
	if (sgid_drop)
		kill |= S_ISGID;
	return kill;
}

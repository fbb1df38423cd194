/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xattr.c -- extended attributes of any namespace the kernel lets through
 * (user., trusted., security.; system.posix_acl_* once ACLs are enabled).
 * A short singly linked list per inode: files carry a handful of xattrs,
 * and a list costs nothing when there are none. The caller holds ->lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "fs/fs_i.h"
#include "utils/err.h"

static struct fs_xattr **find(struct fs_inode *in, const char *name)
{
	struct fs_xattr **p;

	for (p = &in->xattrs; *p; p = &(*p)->next)
		if (strcmp((*p)->name, name) == 0)
			return p;
	return NULL;
}

static void xattr_release(struct fs *fs, struct fs_inode *in,
			  struct fs_xattr *x)
{
	in->xattr_names -= x->namelen + 1u;
	in->xattr_bytes -= x->size;
	atomic_fetch_sub(&fs->meta_bytes,
			 (int64_t)(sizeof(*x) + x->namelen + 1 + x->size));
	free(x->value);
	free(x);
}

/*
 * fs_xattr_name_check -- the namespaces a Linux filesystem serves: user.,
 * trusted., security., and the two POSIX ACL names (acl.c gives them
 * their meaning). Anything else is EOPNOTSUPP, as on ext4.
 */
int fs_xattr_name_check(const char *name)
{
	static const char *const ns[] = { "user.", "trusted.", "security." };
	size_t i, len;

	for (i = 0; i < MMFS_ARRAY_SIZE(ns); i++) {
		len = strlen(ns[i]);
		if (strncmp(name, ns[i], len) == 0)
			return name[len] ? 0 : -EINVAL;
	}
	if (!strcmp(name, FS_ACL_ACCESS) || !strcmp(name, FS_ACL_DEFAULT))
		return 0;
	return -EOPNOTSUPP;
}

int fs_xattr_set(struct fs *fs, struct fs_inode *in, const char *name,
		 const void *value, size_t size, int flags)
{
	size_t namelen = strlen(name);
	struct fs_xattr **p;
	struct fs_xattr *x;
	char *v = NULL;
	int rc;

	if (namelen == 0 || namelen > FS_XATTR_NAME_MAX)
		return -ERANGE;
	rc = fs_xattr_name_check(name);
	if (rc < 0)
		return rc;
	if (size > FS_XATTR_SIZE_MAX)
		return -E2BIG;
	p = find(in, name);
	if ((flags & XATTR_CREATE) && p)
		return -EEXIST;
	if ((flags & XATTR_REPLACE) && !p)
		return -ENODATA;
	/* listxattr must always fit in XATTR_LIST_MAX, as the VFS expects. */
	if (!p && in->xattr_names + namelen + 1 > FS_XATTR_LIST_MAX)
		return -ENOSPC;
	/* Values live in the daemon's heap: bound what one inode may hold. */
	if (in->xattr_bytes + size - (p ? (*p)->size : 0) > FS_XATTR_INODE_MAX)
		return -ENOSPC;
	if (size) {
		v = malloc(size);
		if (!v)
			return -ENOMEM;
		memcpy(v, value, size);
	}
	if (p) {
		x = *p;
		in->xattr_bytes += (uint32_t)size - x->size;
		atomic_fetch_add(&fs->meta_bytes,
				 (int64_t)size - (int64_t)x->size);
		free(x->value);
		x->value = v;
		x->size = (uint32_t)size;
		fs_txn_rec_xattr(in, name, value, size, true);
		return 0;
	}
	x = malloc(sizeof(*x) + namelen + 1);
	if (!x) {
		free(v);
		return -ENOMEM;
	}
	memcpy(x->name, name, namelen + 1);
	x->namelen = (uint8_t)namelen;
	x->value = v;
	x->size = (uint32_t)size;
	x->next = in->xattrs;
	in->xattrs = x;
	in->xattr_names += (uint32_t)(namelen + 1);
	in->xattr_bytes += (uint32_t)size;
	atomic_fetch_add(&fs->meta_bytes,
			 (int64_t)(sizeof(*x) + namelen + 1 + size));
	fs_txn_rec_xattr(in, name, value, size, true);
	return 0;
}

int fs_xattr_get(struct fs_inode *in, const char *name, void *buf,
		 size_t size)
{
	struct fs_xattr **p = find(in, name);

	if (!p)
		return -ENODATA;
	if (size == 0)
		return (int)(*p)->size;
	if (size < (*p)->size)
		return -ERANGE;
	if ((*p)->size)
		memcpy(buf, (*p)->value, (*p)->size);
	return (int)(*p)->size;
}

static bool listed(const struct fs_xattr *x, bool trusted)
{
	return trusted || strncmp(x->name, "trusted.", 8) != 0;
}

int fs_xattr_list(struct fs_inode *in, char *buf, size_t size, bool trusted)
{
	struct fs_xattr *x;
	size_t need = 0;

	for (x = in->xattrs; x; x = x->next)
		if (listed(x, trusted))
			need += x->namelen + 1u;
	if (size == 0)
		return (int)need;
	if (size < need)
		return -ERANGE;
	for (x = in->xattrs; x; x = x->next) {
		if (!listed(x, trusted))
			continue;
		memcpy(buf, x->name, x->namelen + 1u);
		buf += x->namelen + 1u;
	}
	return (int)need;
}

int fs_xattr_remove(struct fs *fs, struct fs_inode *in, const char *name)
{
	struct fs_xattr **p = find(in, name);
	struct fs_xattr *x;

	if (!p)
		return -ENODATA;
	x = *p;
	*p = x->next;
	fs_txn_rec_xattr(in, name, NULL, 0, false);
	xattr_release(fs, in, x);
	return 0;
}

void *fs_xattr_peek(struct fs_inode *in, const char *name, size_t *size)
{
	struct fs_xattr **p = find(in, name);

	if (!p)
		return NULL;
	*size = (*p)->size;
	return (*p)->value;
}

void fs_xattr_free_all(struct fs *fs, struct fs_inode *in)
{
	while (in->xattrs) {
		struct fs_xattr *x = in->xattrs;

		in->xattrs = x->next;
		xattr_release(fs, in, x);
	}
}

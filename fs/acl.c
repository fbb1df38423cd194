/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acl.c -- POSIX ACLs, kept as the kernel's xattr representation
 * (system.posix_acl_access / _default) in the inode's xattr list.
 *
 * With FUSE_POSIX_ACL the kernel validates ACLs, caches them and enforces
 * them in its permission checks; what stays with the filesystem is what
 * the VFS leaves to ->set_acl and ->create of a local filesystem:
 * keeping the mode bits and the access ACL in step (set, chmod), and
 * inheriting a directory's default ACL into new entries (with the umask
 * applied only when there is none). The rules are those of
 * fs/posix_acl.c: posix_acl_equiv_mode, posix_acl_chmod and
 * posix_acl_create.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/fs_i.h"

#define ACL_VERSION 2
#define TAG_USER_OBJ 0x01
#define TAG_USER 0x02
#define TAG_GROUP_OBJ 0x04
#define TAG_GROUP 0x08
#define TAG_MASK 0x10
#define TAG_OTHER 0x20

struct acl_entry {
	uint16_t tag;
	uint16_t perm;
	uint32_t id;
};

/* acl_entries -- (internal) the entries of a well-formed value, or NULL */
static struct acl_entry *acl_entries(const void *value, size_t size,
				     size_t *n)
{
	uint32_t version;

	if (size < 4 || (size - 4) % sizeof(struct acl_entry))
		return NULL;
	memcpy(&version, value, 4);
	if (le32toh(version) != ACL_VERSION)
		return NULL;
	*n = (size - 4) / sizeof(struct acl_entry);
	return (struct acl_entry *)((char *)value + 4);
}

int fs_acl_mode(const void *value, size_t size, uint32_t *perm, bool *equiv)
{
	struct acl_entry *e;
	uint32_t mode = 0;
	size_t n, i;

	e = acl_entries(value, size, &n);
	if (!e)
		return -EINVAL;
	*equiv = true;
	for (i = 0; i < n; i++) {
		uint32_t p = le16toh(e[i].perm) & 7;

		switch (le16toh(e[i].tag)) {
		case TAG_USER_OBJ:
			mode |= p << 6;
			break;
		case TAG_GROUP_OBJ:
			mode |= p << 3;
			break;
		case TAG_OTHER:
			mode |= p;
			break;
		case TAG_MASK:
			/* The mask is what the group bits show. */
			mode = (mode & ~070u) | p << 3;
			*equiv = false;
			break;
		case TAG_USER:
		case TAG_GROUP:
			*equiv = false;
			break;
		default:
			return -EINVAL;
		}
	}
	*perm = mode;
	return 0;
}

void fs_acl_chmod_value(void *value, size_t size, uint32_t mode)
{
	struct acl_entry *e, *group_obj = NULL;
	bool has_mask = false;
	size_t n, i;

	e = acl_entries(value, size, &n);
	if (!e)
		return;
	for (i = 0; i < n; i++) {
		switch (le16toh(e[i].tag)) {
		case TAG_USER_OBJ:
			e[i].perm = htole16((mode >> 6) & 7);
			break;
		case TAG_GROUP_OBJ:
			group_obj = &e[i];
			break;
		case TAG_MASK:
			e[i].perm = htole16((mode >> 3) & 7);
			has_mask = true;
			break;
		case TAG_OTHER:
			e[i].perm = htole16(mode & 7);
			break;
		}
	}
	if (!has_mask && group_obj)
		group_obj->perm = htole16((mode >> 3) & 7);
}

/*
 * create_masq -- (internal) posix_acl_create_masq: cut the inherited ACL
 * down to the requested mode, and the mode down to the ACL. Returns
 * whether the result still needs an access ACL (not equivalent to a mode).
 */
static bool create_masq(struct acl_entry *e, size_t n, uint32_t *mode)
{
	struct acl_entry *group_obj = NULL, *mask = NULL;
	uint32_t m = *mode;
	bool needed = false;
	size_t i;

	for (i = 0; i < n; i++) {
		uint16_t p = le16toh(e[i].perm);

		switch (le16toh(e[i].tag)) {
		case TAG_USER_OBJ:
			p &= (m >> 6) & 7;
			m &= ~0700u;
			m |= (uint32_t)p << 6;
			break;
		case TAG_USER:
		case TAG_GROUP:
			needed = true;
			break;
		case TAG_GROUP_OBJ:
			group_obj = &e[i];
			break;
		case TAG_OTHER:
			p &= m & 7;
			m &= ~07u;
			m |= p;
			break;
		case TAG_MASK:
			mask = &e[i];
			needed = true;
			break;
		}
		e[i].perm = htole16(p);
	}
	if (mask) {
		uint16_t p = le16toh(mask->perm) & ((m >> 3) & 7);

		mask->perm = htole16(p);
		m = (m & ~070u) | (uint32_t)p << 3;
	} else if (group_obj) {
		uint16_t p = le16toh(group_obj->perm) & ((m >> 3) & 7);

		group_obj->perm = htole16(p);
		m = (m & ~070u) | (uint32_t)p << 3;
	}
	*mode = m;
	return needed;
}

int fs_acl_inherit(struct fs *fs, struct fs_inode *parent,
		   struct fs_inode *child, uint32_t umask)
{
	char *def = NULL, *acc = NULL;
	int size, rc = 0;
	uint32_t mode = child->perm;
	struct acl_entry *e;
	size_t n;

	size = fs_xattr_get(parent, FS_ACL_DEFAULT, NULL, 0);
	if (size <= 0 || S_ISLNK(child->mode)) {
		/* No default ACL: the umask applies, as without ACLs. */
		if (!S_ISLNK(child->mode))
			child->perm &= ~(umask & 0777);
		return 0;
	}
	def = malloc((size_t)size);
	acc = malloc((size_t)size);
	if (!def || !acc) {
		rc = -ENOMEM;
		goto out_free;
	}
	fs_xattr_get(parent, FS_ACL_DEFAULT, def, (size_t)size);
	if (S_ISDIR(child->mode)) {
		rc = fs_xattr_set(fs, child, FS_ACL_DEFAULT, def, (size_t)size,
				  0);
		if (rc < 0)
			goto out_free;
	}
	memcpy(acc, def, (size_t)size);
	e = acl_entries(acc, (size_t)size, &n);
	if (e && create_masq(e, n, &mode))
		rc = fs_xattr_set(fs, child, FS_ACL_ACCESS, acc, (size_t)size,
				  0);
	if (rc == 0)
		child->perm = (child->perm & ~0777u) | (mode & 0777);
out_free:
	free(def);
	free(acc);
	return rc;
}

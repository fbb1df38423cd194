/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns.c -- the namespace rules: names made, linked, removed and renamed,
 * with the errnos of the syscalls, link counts, times, what a new inode
 * inherits from its directory (default ACL, setgid group, tier hints),
 * and the locks and the transaction each change takes. FUSE-free: the
 * FUSE handlers translate requests into these calls and their results
 * into replies; fsck and the daemon's own namespace changes (snapshots,
 * rollback, clones) call them the same way.
 *
 * NOTE: not here are permission checks (the kernel makes them, from
 * default_permissions), the kernel's caches (a caller that changes the
 * namespace behind the kernel's back invalidates them), and what an entry
 * or an inode is (dir.c, inode.c). Each call is one transaction of its
 * own: call it with no fs lock held and no transaction open. The lock
 * order is fs/LOCKING.md's.
 */
#include <errno.h>
#include <stdio.h> /* RENAME_NOREPLACE, RENAME_EXCHANGE */
#include <stdlib.h>
#include <string.h>

#include "fs/fs_i.h"
#include "utils/held.h"

int fs_ns_name_check(const struct fs_inode *dir, const char *name)
{
	size_t len = strlen(name);

	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	if (len == 0)
		return -ENOENT;
	if (len > FS_NAME_MAX)
		return -ENAMETOOLONG;
	if (strchr(name, '/'))
		return -EINVAL;
	return 0;
}

/* type_ok -- (internal) a file type an inode can have */
static bool type_ok(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFIFO:
	case S_IFSOCK: case S_IFCHR: case S_IFBLK:
		return true;
	default:
		return false;
	}
}

/*
 * inherit_hint -- (internal) a directory's user.mmfs.tier and user.mmfs.io
 * pass to the children made in it (so a whole subtree can be pinned), as
 * DESIGN.md asks; parent ->lock held, the child not yet reachable.
 */
static int inherit_hint(struct fs *fs, struct fs_inode *p,
			struct fs_inode *in)
{
	size_t size;
	void *v = fs_xattr_peek(p, FS_XATTR_TIER, &size);
	int hint, rc = 0;

	if (v && (hint = fs_hint_parse(v, size)) >= 0) {
		in->hint = (uint8_t)hint;
		rc = fs_xattr_set(fs, in, FS_XATTR_TIER, v, size, 0);
	}
	v = fs_xattr_peek(p, FS_XATTR_IO, &size);
	if (rc == 0 && v && (hint = fs_io_parse(v, size)) >= 0) {
		in->io_direct = hint == 1;
		rc = fs_xattr_set(fs, in, FS_XATTR_IO, v, size, 0);
	}
	return rc;
}

/*
 * create_locked -- (internal) the new inode, named in @p; ->lock of @p
 * exclusive. On failure the inode is gone again (nlink and nlookup 0).
 */
static int create_locked(struct fs *fs, struct fs_inode *p, const char *name,
			 uint32_t mode, uint64_t rdev, const char *target,
			 const struct fs_owner *o, struct fs_inode **out)
{
	struct fs_owner own = *o;
	struct fs_inode *in;
	int rc;

	MMFS_HELD_WR(&p->lock);
	if (atomic_load(&p->nlink) == 0)
		return -ENOENT; /* the directory was removed under us */
	if (fs_snap_frozen(p))
		return -EROFS; /* a snapshot, or .snap itself */
	if (fs_dir_lookup(&p->dir, name) || fs_snap_is_name(name))
		return -EEXIST;
	/* alock: a setgid directory's group and bit */
	pthread_mutex_lock(&p->alock);
	fs_inode_inherit(p, &mode, &own);
	pthread_mutex_unlock(&p->alock);
	rc = fs_inode_new(fs, mode, &own, rdev, &in);
	if (rc < 0)
		return rc;
	if (S_ISDIR(mode))
		rc = fs_dir_init(fs, &in->dir, p);
	else if (S_ISLNK(mode))
		rc = (in->target = strdup(target)) ? 0 : -ENOMEM;
	/* DONT_MASK: the umask applies here, unless a default ACL rules */
	if (rc == 0)
		rc = fs_acl_inherit(fs, p, in, o->umask);
	if (rc == 0)
		rc = inherit_hint(fs, p, in);
	if (rc == 0)
		rc = fs_dir_add(fs, &p->dir, name, in);
	if (rc < 0) {
		fs_inode_maybe_free(fs, in); /* nlink 0, nlookup 0: freed */
		return rc;
	}
	if (S_ISLNK(mode))
		atomic_fetch_add(&fs->meta_bytes, (int64_t)strlen(target) + 1);
	atomic_store(&in->nlink, S_ISDIR(mode) ? 2 : 1);
	if (S_ISDIR(mode))
		atomic_fetch_add(&p->nlink, 1);
	fs_inode_touch(p, true, true);
	fs_txn_dirty(in);
	/* Before the lock goes: from then on another request may unlink it */
	fs_inode_ref(in);
	*out = in;
	return 0;
}

int fs_ns_create(struct fs *fs, struct fs_inode *dir, const char *name,
		 uint32_t mode, uint64_t rdev, const char *target,
		 const struct fs_owner *o, struct fs_inode **out)
{
	struct fs_txn tx;
	int rc;

	if (!type_ok(mode) || !S_ISLNK(mode) != !target)
		return -EINVAL;
	rc = fs_ns_name_check(dir, name);
	if (rc < 0)
		return rc;
	if (target && strlen(target) > FS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	rc = fs_persist_room(fs);
	if (rc < 0)
		return rc;
	fs_txn_begin(fs, &tx);
	pthread_rwlock_wrlock(&dir->lock);
	rc = create_locked(fs, dir, name, mode, rdev, target, o, out);
	fs_txn_commit(&tx);
	pthread_rwlock_unlock(&dir->lock);
	fs_txn_end(&tx);
	return rc;
}

int fs_ns_link(struct fs *fs, struct fs_inode *in, struct fs_inode *dir,
	       const char *name)
{
	struct fs_txn tx;
	int rc;

	if (S_ISDIR(in->mode))
		return -EPERM;
	rc = fs_ns_name_check(dir, name);
	if (rc == 0)
		rc = fs_persist_room(fs);
	if (rc < 0)
		return rc;
	fs_txn_begin(fs, &tx);
	pthread_rwlock_wrlock(&dir->lock);
	if (atomic_load(&dir->nlink) == 0)
		rc = -ENOENT;
	else if (atomic_load(&in->nlink) == 0)
		rc = -ENOENT; /* linkat of an unlinked file, as ext4 */
	else if (fs_snap_frozen(dir))
		rc = -EROFS;
	else if (in->frozen)
		rc = -EXDEV; /* out of a snapshot: as across btrfs subvolumes */
	else if (fs_snap_is_name(name))
		rc = -EEXIST;
	else
		rc = fs_dir_add(fs, &dir->dir, name, in);
	if (rc < 0) {
		pthread_rwlock_unlock(&dir->lock);
		fs_txn_end(&tx);
		return rc;
	}
	atomic_fetch_add(&in->nlink, 1);
	fs_inode_touch(in, false, true);
	fs_inode_touch(dir, true, true);
	fs_txn_commit(&tx);
	pthread_rwlock_unlock(&dir->lock);
	fs_txn_end(&tx);
	return 0;
}

/* is_ancestor -- (internal) is @a @b or above it? Under rename_lock. */
static bool is_ancestor(const struct fs_inode *a, const struct fs_inode *b)
{
	for (; b; b = b->dir.parent) {
		if (a == b)
			return true;
		if (b->ino == FS_ROOT_INO)
			break;
	}
	return false;
}

int fs_ns_relink(struct fs *fs, struct fs_inode *in, struct fs_inode *dir,
		 const char *name)
{
	bool isdir = S_ISDIR(in->mode);
	struct fs_txn tx;
	int rc;

	rc = fs_ns_name_check(dir, name);
	if (rc == 0)
		rc = fs_persist_room(fs);
	if (rc < 0)
		return rc;
	fs_txn_begin(fs, &tx);
	/* A directory's ".." changes under rename_lock (lookup_parent). */
	if (isdir)
		pthread_mutex_lock(&fs->rename_lock);
	pthread_rwlock_wrlock(&dir->lock);
	if (atomic_load(&dir->nlink) == 0 || atomic_load(&in->nlink) == 0)
		rc = -ENOENT;
	else if (isdir && is_ancestor(in, dir))
		rc = -EINVAL; /* under itself */
	else
		rc = fs_dir_add(fs, &dir->dir, name, in);
	if (rc == 0 && isdir) {
		in->dir.parent = dir;
		atomic_fetch_add(&dir->nlink, 1);
	}
	if (rc == 0) {
		fs_inode_touch(in, false, true);
		fs_inode_touch(dir, true, true);
	}
	fs_txn_commit(&tx);
	pthread_rwlock_unlock(&dir->lock);
	if (isdir)
		pthread_mutex_unlock(&fs->rename_lock);
	fs_txn_end(&tx);
	return rc;
}

/*
 * victim_locked -- (internal) the entry @name of @p that unlink (want_dir
 * false) or rmdir (true) may remove, with their errnos. Parent ->lock held.
 */
static int victim_locked(struct fs_inode *p, const char *name, bool want_dir,
			 struct fs_dirent **out)
{
	struct fs_dirent *de;

	MMFS_HELD_WR(&p->lock);
	if (!S_ISDIR(p->mode))
		return -ENOTDIR;
	de = fs_dir_lookup(&p->dir, name);
	if (!de)
		return -ENOENT;
	if (S_ISDIR(de->inode->mode) != want_dir)
		return want_dir ? -ENOTDIR : -EISDIR;
	*out = de;
	return 0;
}

/*
 * ns_remove -- (internal) unlink (@want_dir false) or rmdir (true). A
 * directory is locked after its parent and must be empty; it loses both
 * its links at once, and its parent the ".." link.
 */
static int ns_remove(struct fs *fs, struct fs_inode *p, const char *name,
		     bool want_dir)
{
	struct fs_dirent *de;
	struct fs_inode *in;
	struct fs_txn tx;
	int rc;

	fs_txn_begin(fs, &tx);
	pthread_rwlock_wrlock(&p->lock);
	rc = fs_snap_frozen(p) ? -EROFS : victim_locked(p, name, want_dir, &de);
	if (rc < 0)
		goto out_unlock;
	in = de->inode;
	if (want_dir) {
		pthread_rwlock_wrlock(&in->lock);
		rc = fs_dir_empty(&in->dir) ? fs_snap_release_dir(fs, in)
					    : -ENOTEMPTY;
		if (rc < 0) {
			pthread_rwlock_unlock(&in->lock);
			goto out_unlock;
		}
	}
	fs_dir_remove(fs, &p->dir, de);
	if (want_dir) {
		atomic_store(&in->nlink, 0);
		pthread_rwlock_unlock(&in->lock);
		atomic_fetch_sub(&p->nlink, 1);
	} else {
		atomic_fetch_sub(&in->nlink, 1);
	}
	fs_inode_touch(in, false, true);
	fs_inode_touch(p, true, true);
	fs_txn_commit(&tx);
	pthread_rwlock_unlock(&p->lock);
	/* Outside the parent's lock: freeing data takes the file's lock. */
	fs_inode_unlinked(fs, in);
	fs_txn_end(&tx);
	return 0;

out_unlock:
	pthread_rwlock_unlock(&p->lock);
	fs_txn_end(&tx);
	return rc;
}

int fs_ns_unlink(struct fs *fs, struct fs_inode *dir, const char *name)
{
	return ns_remove(fs, dir, name, false);
}

int fs_ns_rmdir(struct fs *fs, struct fs_inode *dir, const char *name)
{
	if (strcmp(name, ".") == 0)
		return -EINVAL;
	if (strcmp(name, "..") == 0)
		return -ENOTEMPTY;
	return ns_remove(fs, dir, name, true);
}

/* rename_checks -- (internal) the errno rules of rename(2) */
static int rename_checks(struct fs_inode *src, struct fs_inode *dst,
			 struct fs_inode *p2, struct fs_inode *p1,
			 unsigned flags)
{
	if (S_ISDIR(src->mode) && is_ancestor(src, p2))
		return -EINVAL; /* into its own subtree */
	if (!dst)
		return 0;
	if (flags & RENAME_EXCHANGE)
		return S_ISDIR(dst->mode) && is_ancestor(dst, p1) ? -EINVAL : 0;
	if (S_ISDIR(src->mode) && !S_ISDIR(dst->mode))
		return -ENOTDIR;
	if (!S_ISDIR(src->mode) && S_ISDIR(dst->mode))
		return -EISDIR;
	if (S_ISDIR(dst->mode) && !fs_dir_empty(&dst->dir))
		return -ENOTEMPTY;
	return 0;
}

/* log_repoint -- (internal) entry @de of @dir is about to name @in */
static void log_repoint(struct fs_inode *dir, struct fs_dirent *de,
			struct fs_inode *in)
{
	fs_txn_rec_dent(&dir->dir, de->name, de->namelen, 0);
	fs_txn_rec_dent(&dir->dir, de->name, de->namelen, in->ino);
}

/* reparent -- (internal) a directory moved from @from to @to */
static void reparent(struct fs_inode *dir, struct fs_inode *from,
		     struct fs_inode *to)
{
	if (!S_ISDIR(dir->mode) || from == to)
		return;
	dir->dir.parent = to;
	atomic_fetch_sub(&from->nlink, 1);
	atomic_fetch_add(&to->nlink, 1);
}

/*
 * rename_locked -- (internal) the rename itself: rename_lock and both
 * parents' ->lock held; a directory victim's ->lock is taken here. The
 * replaced inode, if any, is left in *@victim for the caller to release
 * once the parents are unlocked.
 */
static int rename_locked(struct fs *fs, struct fs_inode *p1, const char *name,
			 struct fs_inode *p2, const char *newname,
			 unsigned flags, struct fs_inode **victim)
{
	struct fs_inode *src, *dst;
	struct fs_dirent *de, *de2;
	int rc;

	MMFS_HELD(&fs->rename_lock);
	MMFS_HELD_WR(&p1->lock);
	MMFS_HELD_WR(&p2->lock);
	de = fs_dir_lookup(&p1->dir, name);
	de2 = fs_dir_lookup(&p2->dir, newname);
	if (!de || (!de2 && (flags & RENAME_EXCHANGE)))
		return -ENOENT;
	if (de2 && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	src = de->inode;
	dst = de2 ? de2->inode : NULL;
	if (src == dst)
		return 0; /* two names of one file: POSIX says do nothing */
	if (dst && S_ISDIR(dst->mode))
		pthread_rwlock_wrlock(&dst->lock);
	rc = rename_checks(src, dst, p2, p1, flags);
	/* A directory replaced takes its .snap along, if it is empty */
	if (rc == 0 && dst && S_ISDIR(dst->mode) &&
	    !(flags & RENAME_EXCHANGE))
		rc = fs_snap_release_dir(fs, dst);
	if (rc < 0)
		goto out_unlock_dst;
	if (flags & RENAME_EXCHANGE) {
		/* Swap what the two names point at; names and cookies stay. */
		log_repoint(p1, de, dst);
		log_repoint(p2, de2, src);
		de->inode = dst;
		de2->inode = src;
		reparent(src, p1, p2);
		reparent(dst, p2, p1);
		fs_inode_touch(dst, false, true);
	} else if (de2) {
		/* Reuse the victim's entry: replacing cannot fail. */
		*victim = dst;
		log_repoint(p2, de2, src);
		de2->inode = src;
		fs_dir_remove(fs, &p1->dir, de);
		if (S_ISDIR(dst->mode)) {
			atomic_store(&dst->nlink, 0);
			atomic_fetch_sub(&p2->nlink, 1);
		} else {
			atomic_fetch_sub(&dst->nlink, 1);
		}
		fs_inode_touch(dst, false, true);
		reparent(src, p1, p2);
	} else {
		rc = fs_dir_add(fs, &p2->dir, newname, src);
		if (rc < 0)
			goto out_unlock_dst;
		fs_dir_remove(fs, &p1->dir, de);
		reparent(src, p1, p2);
	}
	fs_inode_touch(src, false, true);
	fs_inode_touch(p1, true, true);
	if (p2 != p1)
		fs_inode_touch(p2, true, true);
out_unlock_dst:
	if (dst && S_ISDIR(dst->mode))
		pthread_rwlock_unlock(&dst->lock);
	return rc;
}

int fs_ns_rename(struct fs *fs, struct fs_inode *odir, const char *oname,
		 struct fs_inode *ndir, const char *nname, unsigned flags)
{
	struct fs_inode *first = odir, *second = ndir, *victim = NULL;
	struct fs_txn tx;
	int rc;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE))
		return -EINVAL;
	if (!S_ISDIR(odir->mode))
		return -ENOTDIR;
	rc = fs_ns_name_check(ndir, nname);
	if (rc == 0 && (fs_snap_frozen(odir) || fs_snap_frozen(ndir)))
		rc = -EROFS;
	if (rc == 0 && fs_snap_is_name(nname))
		rc = -EEXIST;
	if (rc < 0)
		return rc;
	fs_txn_begin(fs, &tx);
	pthread_mutex_lock(&fs->rename_lock);
	/* Ancestor first, else lower ino first: see fs/LOCKING.md. */
	if (is_ancestor(ndir, odir) ||
	    (!is_ancestor(odir, ndir) && ndir->ino < odir->ino)) {
		first = ndir;
		second = odir;
	}
	pthread_rwlock_wrlock(&first->lock);
	if (second != first)
		pthread_rwlock_wrlock(&second->lock);
	rc = rename_locked(fs, odir, oname, ndir, nname, flags, &victim);
	fs_txn_commit(&tx);
	if (second != first)
		pthread_rwlock_unlock(&second->lock);
	pthread_rwlock_unlock(&first->lock);
	pthread_mutex_unlock(&fs->rename_lock);
	if (victim)
		fs_inode_unlinked(fs, victim);
	fs_txn_end(&tx);
	return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snap.c -- directory snapshots (DIR/.snap/NAME), rollback and writable
 * clones: namespace operations the daemon runs itself.
 *
 * A snapshot is a copy of DIR's tree made of new inodes that share every
 * file's chunk map (one root reference each, snapshot/map.c): it costs
 * one inode, one entry and a few records per inode of the tree, whatever
 * the files hold. Its inodes are frozen (read-only for everyone) and have
 * their own numbers. Each directory's ".snap" is a real directory inode
 * hanging off the directory (fs_dir.snapdir), not an entry, so readdir,
 * `cp -a`, tar and find never see it and a snapshot never contains the
 * snapshots of its subdirectories; a rename of DIR carries it along.
 *
 * Every operation runs in one transaction holding plock exclusively
 * (fs_txn_begin_excl): no request changes metadata or writes data while
 * the tree is copied, so the copy is of one instant, and its records form
 * one log record, replayed whole or not at all. Readers go on.
 *
 * A snapshot inode's birth time (btime) is when the snapshot was taken;
 * every other attribute is the original's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/fs_i.h"
#include "utils/err.h"
#include "utils/log.h"
#include "utils/ticker.h"

/* --- the tree copy ---------------------------------------------------------- */

/* A hard link of the tree being copied: source inode -> its copy. */
struct link_pair {
	struct fs_inode *src, *dst;
};

struct tree_copy {
	struct fs *fs;
	bool frozen;                  /* make a snapshot (else a live tree) */
	struct timespec born;
	struct link_pair *links;      /* files with more than one name */
	size_t nlinks, links_cap;
	struct fs_inode **made;       /* every inode made, for the records */
	size_t nmade, made_cap;
};

static int push(void ***v, size_t *n, size_t *cap, size_t size)
{
	void *p;

	if (*n < *cap)
		return 0;
	*cap = *cap ? *cap * 2 : 64;
	p = realloc(*v, *cap * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	return 0;
}

static struct fs_inode *link_find(struct tree_copy *tc, struct fs_inode *src)
{
	size_t i;

	/* Files with several names are rare: a scan costs less than a map */
	for (i = 0; i < tc->nlinks; i++)
		if (tc->links[i].src == src)
			return tc->links[i].dst;
	return NULL;
}

/*
 * copy_attrs -- (internal) @dst's mode bits, owner, times (not btime) and
 * placement hints become @src's; the ->alock of whichever of the two is
 * reachable is held (the other is a copy no one else sees yet).
 */
static void copy_attrs(struct fs_inode *dst, const struct fs_inode *src)
{
	dst->perm = src->perm;
	dst->uid = src->uid;
	dst->gid = src->gid;
	dst->atime = src->atime;
	dst->mtime = src->mtime;
	dst->ctime = src->ctime;
	dst->hint = src->hint;
	dst->io_direct = src->io_direct;
}

/* copy_xattrs -- (internal) @dst gets @src's xattrs, in their order */
static int copy_xattrs(struct fs *fs, struct fs_inode *src,
		       struct fs_inode *dst)
{
	struct fs_xattr *x, **v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	/* The list is newest first: set oldest first to keep its order. */
	for (x = src->xattrs; x && rc == 0; x = x->next) {
		rc = push((void ***)&v, &n, &cap, sizeof(*v));
		if (rc == 0)
			v[n++] = x;
	}
	while (rc == 0 && n--)
		rc = fs_xattr_set(fs, dst, v[n]->name, v[n]->value, v[n]->size,
				  0);
	free(v);
	return rc;
}

/*
 * copy_inode -- (internal) a copy of @src (not yet named anywhere): its
 * attributes, xattrs, a symlink's target, a file's map shared whole, a
 * directory empty. @src's ->lock is held shared by the caller.
 */
static int copy_inode(struct tree_copy *tc, struct fs_inode *src,
		      struct fs_inode *parent, struct fs_inode **out)
{
	struct fs *fs = tc->fs;
	struct fs_owner o = { .uid = src->uid, .gid = src->gid };
	struct fs_inode *dst;
	uint64_t done;
	int rc;

	rc = fs_inode_new(fs, src->mode | src->perm, &o, src->rdev,
			  &dst);
	if (rc < 0)
		return rc;
	rc = push((void ***)&tc->made, &tc->nmade, &tc->made_cap,
		  sizeof(*tc->made));
	if (rc < 0)
		goto out_free;
	tc->made[tc->nmade++] = dst;
	pthread_mutex_lock(&src->alock); /* dst is reachable by no one */
	copy_attrs(dst, src);
	pthread_mutex_unlock(&src->alock);
	dst->btime = tc->born;
	dst->frozen = tc->frozen;
	switch (src->mode & S_IFMT) {
	case S_IFDIR:
		rc = fs_dir_init(fs, &dst->dir, parent);
		break;
	case S_IFLNK:
		dst->target = strdup(src->target);
		rc = dst->target ? 0 : -ENOMEM;
		if (rc == 0)
			atomic_fetch_add(&fs->meta_bytes,
					 (int64_t)strlen(dst->target) + 1);
		break;
	case S_IFREG:
		rc = mmfs_snap_map_share(fs->snap, &dst->map, 0, &src->map, 0,
					 MMFS_SNAP_ALL, &done);
		if (rc == 0) {
			dst->size = src->size;
			dst->blocks = mmfs_snap_map_chunks(&dst->map);
			atomic_fetch_add(&fs->file_bytes, (int64_t)dst->size);
		}
		break;
	}
	if (rc == 0)
		rc = copy_xattrs(fs, src, dst);
	if (rc < 0)
		return rc; /* in tc->made: the caller drops it */
	*out = dst;
	return 0;

out_free:
	fs_inode_maybe_free(fs, dst);
	return rc;
}

/* name_of -- (internal) an entry's name, NUL-terminated */
static const char *name_of(const struct fs_dirent *de, char *buf)
{
	memcpy(buf, de->name, de->namelen);
	buf[de->namelen] = 0;
	return buf;
}

struct copy_job {
	struct fs_inode *src, *dst;
};

/*
 * copy_entries -- (internal) @dst (a copy of directory @src) gets a copy
 * of everything below @src, depth first with a stack of its own (a tree
 * may be deeper than a thread's stack). Hard links within the tree stay
 * links; links to outside it become separate copies.
 */
static int copy_entries(struct tree_copy *tc, struct fs_inode *src,
			struct fs_inode *dst)
{
	struct copy_job *stack = NULL;
	size_t n = 0, cap = 0;
	char name[FS_NAME_MAX + 1];
	int rc;

	rc = push((void ***)&stack, &n, &cap, sizeof(*stack));
	if (rc < 0)
		return rc;
	stack[n++] = (struct copy_job){ src, dst };
	while (n && rc == 0) {
		struct copy_job job = stack[--n];
		uint64_t end;
		size_t i = 0;
		struct fs_dirent *de;

		pthread_rwlock_rdlock(&job.src->lock);
		end = fs_dir_end(&job.src->dir);
		while (rc == 0 && (de = fs_dir_next(&job.src->dir, &i, end))) {
			struct fs_inode *c = de->inode, *copy;

			copy = S_ISDIR(c->mode) ? NULL : link_find(tc, c);
			if (copy) {
				rc = fs_dir_add(tc->fs, &job.dst->dir,
						name_of(de, name), copy);
				if (rc == 0)
					atomic_fetch_add(&copy->nlink, 1);
				continue;
			}
			pthread_rwlock_rdlock(&c->lock);
			rc = copy_inode(tc, c, job.dst, &copy);
			pthread_rwlock_unlock(&c->lock);
			if (rc == 0)
				rc = fs_dir_add(tc->fs, &job.dst->dir,
						name_of(de, name), copy);
			if (rc < 0)
				break;
			if (S_ISDIR(c->mode)) {
				atomic_store(&copy->nlink, 2);
				atomic_fetch_add(&job.dst->nlink, 1);
				rc = push((void ***)&stack, &n, &cap,
					  sizeof(*stack));
				if (rc == 0)
					stack[n++] = (struct copy_job){ c,
									copy };
			} else {
				atomic_store(&copy->nlink, 1);
				if (atomic_load(&c->nlink) > 1) {
					rc = push((void ***)&tc->links,
						  &tc->nlinks, &tc->links_cap,
						  sizeof(*tc->links));
					if (rc == 0)
						tc->links[tc->nlinks++] =
							(struct link_pair){
								c, copy };
				}
			}
		}
		pthread_rwlock_unlock(&job.src->lock);
	}
	free(stack);
	return rc;
}

static void drop_tree(struct fs *fs, struct fs_inode *root);

/*
 * copy_tree -- (internal) a copy of directory @src and everything below it,
 * not named anywhere yet (its ".." is @parent). In an exclusive txn.
 */
static int copy_tree(struct fs *fs, struct fs_inode *src,
		     struct fs_inode *parent, bool frozen,
		     struct fs_inode **out)
{
	struct tree_copy tc = { .fs = fs, .frozen = frozen };
	struct fs_inode *root = NULL;
	size_t i;
	int rc;

	fs_now(&tc.born);
	pthread_rwlock_rdlock(&src->lock);
	rc = copy_inode(&tc, src, parent, &root);
	pthread_rwlock_unlock(&src->lock);
	if (rc == 0) {
		atomic_store(&root->nlink, 2);
		rc = copy_entries(&tc, src, root);
	}
	if (rc < 0) {
		/*
		 * Undo: copies never named anywhere go first (a failed one
		 * among them), then the tree, which releases the rest.
		 */
		for (i = 0; i < tc.nmade; i++)
			if (atomic_load(&tc.made[i]->nlink) == 0)
				fs_inode_unlinked(fs, tc.made[i]);
		if (root && atomic_load(&root->nlink)) {
			atomic_store(&root->nlink, 1);
			drop_tree(fs, root);
		}
		goto out;
	}
	/* Final attributes (link counts) of every copy, for the log */
	for (i = 0; i < tc.nmade; i++)
		fs_txn_dirty(tc.made[i]);
	*out = root;
out:
	free(tc.links);
	free(tc.made);
	return rc;
}

/* --- dropping trees ---------------------------------------------------------- */

/*
 * drop_entries -- (internal) remove every name below directory @dir, as
 * `rm -rf DIR/ *` would: inodes whose last name goes are released (now,
 * or at their last close). Snapshots of directories in the tree go too.
 * It cannot fail, so it allocates nothing: the walk goes down into each
 * subdirectory as its name is removed and back up by its ".." when it is
 * empty (the tree is named nowhere else now, so ".." is the way back),
 * removing entries newest first so that no hole is stepped over twice.
 */
static void drop_entries(struct fs *fs, struct fs_inode *dir)
{
	struct fs_inode *d = dir, *c, *up;
	struct fs_dirent *de;

	pthread_rwlock_wrlock(&d->lock);
	for (;;) {
		if (d->dir.snapdir && d != dir) {
			/* Its snapshots go with it, and it with its parent */
			c = d->dir.snapdir;
			fs_txn_rec_snapdir(d, NULL);
			d->dir.snapdir = NULL;
			atomic_store(&c->nlink, 1);
			if (c->dir.parent != d)
				c->dir.parent = d;
			pthread_rwlock_unlock(&d->lock);
			d = c;
			pthread_rwlock_wrlock(&d->lock);
			continue;
		}
		de = fs_dir_last(&d->dir);
		if (!de) {
			if (d == dir)
				break;
			/* Empty: released, and the walk goes back up */
			up = d->dir.parent;
			atomic_store(&d->nlink, 0);
			pthread_rwlock_unlock(&d->lock);
			/* Now, not at the commit: releasing may free it */
			fs_txn_rec_inode(d);
			fs_inode_unlinked(fs, d);
			d = up;
			pthread_rwlock_wrlock(&d->lock);
			continue;
		}
		c = de->inode;
		fs_dir_remove(fs, &d->dir, de);
		fs_inode_touch(c, false, true);
		if (S_ISDIR(c->mode)) {
			atomic_fetch_sub(&d->nlink, 1);
			/* It is already (its only name was in @d): kept
			 * unwritten, as a lookup of its ".." may read it */
			if (c->dir.parent != d)
				c->dir.parent = d;
			pthread_rwlock_unlock(&d->lock);
			d = c;
			pthread_rwlock_wrlock(&d->lock);
			continue;
		}
		if (atomic_fetch_sub(&c->nlink, 1) > 1) {
			/* Another name keeps it: only the count */
			fs_txn_rec_inode(c);
			continue;
		}
		/* Its last name: released outside the directory's lock
		 * (freeing data takes the file's) */
		pthread_rwlock_unlock(&d->lock);
		fs_txn_rec_inode(c);
		fs_inode_unlinked(fs, c);
		pthread_rwlock_wrlock(&d->lock);
	}
	pthread_rwlock_unlock(&d->lock);
	fs_inode_touch(dir, true, true);
	fs_txn_dirty(dir);
}

/* drop_tree -- (internal) @root, named nowhere now, and all below it */
static void drop_tree(struct fs *fs, struct fs_inode *root)
{
	drop_entries(fs, root);
	atomic_store(&root->nlink, 0);
	fs_txn_rec_inode(root);
	fs_inode_unlinked(fs, root);
}

/* --- .snap --------------------------------------------------------------- */

bool fs_snap_is_name(const char *name)
{
	return strcmp(name, FS_SNAPDIR) == 0;
}

int fs_snap_dir(struct fs *fs, struct fs_inode *dir, struct fs_inode **out)
{
	struct fs_owner o;
	struct fs_inode *sd;
	struct fs_txn tx;
	int rc = 0;

	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	if (dir->frozen || dir->is_snapdir)
		return -ENOENT; /* no snapshots of snapshots */
	pthread_rwlock_rdlock(&dir->lock);
	sd = dir->dir.snapdir;
	if (sd)
		fs_inode_ref(sd);
	pthread_rwlock_unlock(&dir->lock);
	if (sd)
		goto out;
	/* The first look at it makes it: `ls DIR/.snap` works at once */
	fs_txn_begin(fs, &tx);
	pthread_rwlock_wrlock(&dir->lock);
	sd = dir->dir.snapdir;
	if (sd || atomic_load(&dir->nlink) == 0) {
		rc = sd ? 0 : -ENOENT;
		goto out_unlock;
	}
	pthread_mutex_lock(&dir->alock);
	o = (struct fs_owner){ .uid = dir->uid, .gid = dir->gid };
	pthread_mutex_unlock(&dir->alock);
	rc = fs_inode_new(fs, S_IFDIR | 0755, &o, 0, &sd);
	if (rc < 0)
		goto out_unlock;
	rc = fs_dir_init(fs, &sd->dir, dir);
	if (rc < 0) {
		fs_inode_maybe_free(fs, sd);
		sd = NULL;
		goto out_unlock;
	}
	sd->is_snapdir = true;
	atomic_store(&sd->nlink, 2);
	dir->dir.snapdir = sd;
	fs_txn_dirty(sd);
	fs_txn_rec_snapdir(dir, sd);
out_unlock:
	if (sd)
		fs_inode_ref(sd);
	fs_txn_commit(&tx);
	pthread_rwlock_unlock(&dir->lock);
	fs_txn_end(&tx);
	if (rc < 0)
		return rc;
out:
	*out = sd;
	return 0;
}

/* may_snap -- (internal) the owner of @dir, or root, may snapshot it */
static int may_snap(struct fs_inode *dir, uint32_t uid)
{
	uint32_t owner;

	pthread_mutex_lock(&dir->alock);
	owner = dir->uid;
	pthread_mutex_unlock(&dir->alock);
	return uid == 0 || uid == owner ? 0 : -EPERM;
}

static int snap_name_check(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > FS_NAME_MAX || strchr(name, '/') ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	return 0;
}

/* snapdir_of -- (internal) @dir's .snap, made if needed, no reference */
static int snapdir_of(struct fs *fs, struct fs_inode *dir,
		      struct fs_inode **out)
{
	int rc = fs_snap_dir(fs, dir, out);

	if (rc == 0)
		fs_inode_forget(fs, *out, 1); /* dir holds it */
	return rc;
}

/*
 * copy_named -- (internal) a copy of @src's tree named @name in directory
 * @parent (.snap for a snapshot, frozen; any directory for a clone); *@out
 * (may be NULL) gets its root with a kernel reference. In an exclusive txn.
 */
static int copy_named(struct fs *fs, struct fs_inode *src,
		      struct fs_inode *parent, const char *name, bool frozen,
		      struct fs_inode **out)
{
	struct fs_inode *root = NULL;
	int rc;

	pthread_rwlock_rdlock(&parent->lock);
	rc = fs_dir_lookup(&parent->dir, name) ? -EEXIST : 0;
	pthread_rwlock_unlock(&parent->lock);
	if (rc == 0)
		rc = copy_tree(fs, src, parent, frozen, &root);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&parent->lock);
	rc = fs_dir_add(fs, &parent->dir, name, root);
	if (rc == 0) {
		atomic_fetch_add(&parent->nlink, 1);
		fs_inode_touch(parent, true, true);
		fs_txn_dirty(parent);
		if (out)
			fs_inode_ref(root);
	}
	pthread_rwlock_unlock(&parent->lock);
	if (rc < 0) {
		atomic_store(&root->nlink, 1);
		drop_tree(fs, root);
		return rc;
	}
	if (out)
		*out = root;
	return 0;
}

int fs_snap_create(struct fs *fs, struct fs_inode *dir, const char *name,
		   uint32_t uid, struct fs_inode **out)
{
	struct fs_inode *sd;
	struct fs_txn tx;
	int rc;

	rc = snap_name_check(name);
	if (rc == 0)
		rc = may_snap(dir, uid);
	if (rc == 0)
		rc = fs_persist_room(fs);
	if (rc == 0)
		rc = snapdir_of(fs, dir, &sd);
	if (rc < 0)
		return rc;
	fs_txn_begin_excl(fs, &tx);
	rc = atomic_load(&dir->nlink) ? copy_named(fs, dir, sd, name, true, out)
				      : -ENOENT;
	fs_txn_end(&tx);
	return rc;
}

/* snap_lookup -- (internal) snapshot @name of @dir, or -ENOENT */
static int snap_lookup(struct fs_inode *dir, const char *name,
		       struct fs_inode **sdp, struct fs_inode **rootp)
{
	struct fs_inode *sd = dir->dir.snapdir;
	struct fs_dirent *de;

	if (!sd)
		return -ENOENT;
	pthread_rwlock_rdlock(&sd->lock);
	de = fs_dir_lookup(&sd->dir, name);
	*rootp = de ? de->inode : NULL;
	pthread_rwlock_unlock(&sd->lock);
	*sdp = sd;
	return *rootp ? 0 : -ENOENT;
}

int fs_snap_delete(struct fs *fs, struct fs_inode *dir, const char *name,
		   uint32_t uid)
{
	struct fs_inode *sd, *root;
	struct fs_dirent *de;
	struct fs_txn tx;
	int rc;

	rc = snap_name_check(name);
	if (rc == 0)
		rc = may_snap(dir, uid);
	if (rc < 0)
		return rc;
	fs_txn_begin_excl(fs, &tx);
	rc = snap_lookup(dir, name, &sd, &root);
	if (rc < 0)
		goto out;
	pthread_rwlock_wrlock(&sd->lock);
	de = fs_dir_lookup(&sd->dir, name);
	fs_dir_remove(fs, &sd->dir, de);
	atomic_fetch_sub(&sd->nlink, 1);
	fs_inode_touch(sd, true, true);
	fs_txn_dirty(sd);
	pthread_rwlock_unlock(&sd->lock);
	drop_tree(fs, root);
out:
	fs_txn_end(&tx);
	return rc;
}

/*
 * move_entries -- (internal) every entry of @from goes to @to (empty),
 * directories reparented; ->lock of both held exclusively.
 */
static int move_entries(struct fs *fs, struct fs_inode *from,
			struct fs_inode *to)
{
	char name[FS_NAME_MAX + 1];
	struct fs_dirent *de;
	size_t k = 0;
	int rc = 0;

	while (rc == 0 && (de = fs_dir_next(&from->dir, &k, UINT64_MAX))) {
		struct fs_inode *c = de->inode;

		rc = fs_dir_add(fs, &to->dir, name_of(de, name), c);
		if (rc < 0)
			break;
		fs_dir_remove(fs, &from->dir, de);
		if (S_ISDIR(c->mode)) {
			c->dir.parent = to;
			atomic_fetch_sub(&from->nlink, 1);
			atomic_fetch_add(&to->nlink, 1);
		}
	}
	return rc;
}

/* take_attrs -- (internal) @dir's mode, owner, times, xattrs become @src's */
static int take_attrs(struct fs *fs, struct fs_inode *dir,
		      struct fs_inode *src)
{
	struct fs_xattr *x;
	int rc;

	while ((x = dir->xattrs)) {
		char name[FS_XATTR_NAME_MAX + 1];

		memcpy(name, x->name, (size_t)x->namelen + 1);
		rc = fs_xattr_remove(fs, dir, name);
		if (rc < 0)
			return rc;
	}
	rc = copy_xattrs(fs, src, dir);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&dir->alock); /* src is reachable by no one */
	copy_attrs(dir, src);
	pthread_mutex_unlock(&dir->alock);
	fs_txn_dirty(dir);
	return 0;
}

int fs_snap_rollback(struct fs *fs, struct fs_inode *dir, const char *name,
		     uint32_t uid, fs_snap_names_fn names, void *arg)
{
	struct fs_inode *sd, *snap, *tree = NULL;
	struct fs_txn tx;
	int rc;

	rc = snap_name_check(name);
	if (rc == 0)
		rc = may_snap(dir, uid);
	if (rc == 0)
		rc = fs_persist_room(fs);
	if (rc < 0)
		return rc;
	fs_txn_begin_excl(fs, &tx);
	rc = snap_lookup(dir, name, &sd, &snap);
	if (rc < 0)
		goto out;
	/* The snapshot's tree, live, beside DIR; then DIR takes its place */
	rc = copy_tree(fs, snap, dir, false, &tree);
	if (rc < 0)
		goto out;
	if (names)
		names(arg, dir, true);
	drop_entries(fs, dir);
	pthread_rwlock_wrlock(&dir->lock);
	pthread_rwlock_wrlock(&tree->lock);
	rc = move_entries(fs, tree, dir);
	if (rc == 0)
		rc = take_attrs(fs, dir, tree);
	pthread_rwlock_unlock(&tree->lock);
	pthread_rwlock_unlock(&dir->lock);
	if (names)
		names(arg, dir, false);
	/* What did not move (only on ENOMEM) goes with the copy's root */
	atomic_store(&tree->nlink, 1);
	drop_tree(fs, tree);
out:
	fs_txn_end(&tx);
	return rc;
}

int fs_snap_clone(struct fs *fs, struct fs_inode *snap,
		  struct fs_inode *parent, const char *name, uint32_t uid,
		  struct fs_inode **out)
{
	struct fs_txn tx;
	int rc;

	if (!S_ISDIR(snap->mode) || !snap->frozen)
		return -EINVAL; /* a snapshot's root, or any of its dirs */
	rc = fs_ns_name_check(parent, name);
	if (rc == 0 && (parent->frozen || parent->is_snapdir))
		rc = -EROFS;
	if (rc == 0 && fs_snap_is_name(name))
		rc = -EEXIST;
	if (rc == 0)
		rc = may_snap(parent, uid);
	if (rc == 0)
		rc = fs_persist_room(fs);
	if (rc < 0)
		return rc;
	fs_txn_begin_excl(fs, &tx);
	rc = atomic_load(&parent->nlink)
		     ? copy_named(fs, snap, parent, name, false, out)
		     : -ENOENT;
	fs_txn_end(&tx);
	return rc;
}

int fs_snap_release_dir(struct fs *fs, struct fs_inode *dir)
{
	struct fs_inode *sd = dir->dir.snapdir;

	if (!sd)
		return 0;
	if (!fs_dir_empty(&sd->dir))
		return -ENOTEMPTY;
	/* An empty .snap goes with its directory */
	fs_txn_rec_snapdir(dir, NULL);
	dir->dir.snapdir = NULL;
	atomic_store(&sd->nlink, 0);
	fs_txn_rec_inode(sd);
	fs_inode_unlinked(fs, sd);
	return 0;
}

/* --- load ------------------------------------------------------------------ */

static int sched_load(struct fs *fs, struct fs_inode *dir,
		      struct fs_inode *sd);

static int mark_frozen(void *arg, struct fs_inode *in)
{
	struct fs_inode **stack = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!S_ISDIR(in->mode) || !in->dir.snapdir)
		return 0;
	in->dir.snapdir->is_snapdir = true;
	rc = sched_load(arg, in, in->dir.snapdir);
	if (rc < 0)
		return rc;
	rc = push((void ***)&stack, &n, &cap, sizeof(*stack));
	if (rc < 0)
		return rc;
	stack[n++] = in->dir.snapdir;
	while (n && rc == 0) {
		struct fs_inode *d = stack[--n];
		struct fs_dirent *de;
		size_t k = 0;

		while ((de = fs_dir_next(&d->dir, &k, UINT64_MAX))) {
			de->inode->frozen = true;
			if (!S_ISDIR(de->inode->mode))
				continue;
			rc = push((void ***)&stack, &n, &cap, sizeof(*stack));
			if (rc < 0)
				break;
			stack[n++] = de->inode;
		}
	}
	free(stack);
	return rc;
}

int fs_snap_load(struct fs *fs)
{
	return fs_inode_each(fs, mark_frozen, fs);
}

/* --- what snapshots hold ---------------------------------------------------- */

struct info_walk {
	struct mmfs_snap_excl *excl;
	struct fs_inode **multi;      /* files met with several names */
	size_t nmulti, cap;
	uint64_t inodes;
	int rc;
};

/* info_one -- (internal) count @in once, and its map into the set */
static void info_one(struct info_walk *w, struct fs_inode *in)
{
	size_t i;

	if (!S_ISDIR(in->mode) && atomic_load(&in->nlink) > 1) {
		for (i = 0; i < w->nmulti; i++)
			if (w->multi[i] == in)
				return;
		if (push((void ***)&w->multi, &w->nmulti, &w->cap,
			 sizeof(*w->multi)) < 0) {
			w->rc = -ENOMEM;
			return;
		}
		w->multi[w->nmulti++] = in;
	}
	w->inodes++;
	if (S_ISREG(in->mode) && w->rc == 0)
		w->rc = mmfs_snap_excl_map(w->excl, &in->map);
}

int fs_snap_info(struct fs *fs, struct fs_inode *root,
		 struct fs_snap_info *info)
{
	struct info_walk w = { 0 };
	struct fs_inode **stack = NULL;
	size_t n = 0, cap = 0;
	uint64_t chunks = 0;
	struct fs_txn tx;
	int rc;

	if (!root->frozen || !S_ISDIR(root->mode))
		return -EINVAL;
	rc = mmfs_snap_excl_new(fs->snap, &w.excl);
	if (rc < 0)
		return rc;
	/* Shared plock: a delete (exclusive) cannot free the tree under us */
	fs_txn_begin(fs, &tx);
	w.rc = push((void ***)&stack, &n, &cap, sizeof(*stack));
	if (w.rc == 0) {
		stack[n++] = root;
		info_one(&w, root);
	}
	while (n && w.rc == 0) {
		struct fs_inode *d = stack[--n];
		struct fs_dirent *de;
		size_t k = 0;

		while (w.rc == 0 && (de = fs_dir_next(&d->dir, &k, UINT64_MAX))) {
			info_one(&w, de->inode);
			if (S_ISDIR(de->inode->mode)) {
				w.rc = push((void ***)&stack, &n, &cap,
					    sizeof(*stack));
				if (w.rc == 0)
					stack[n++] = de->inode;
			}
		}
	}
	rc = mmfs_snap_excl_end(&w.excl, &chunks);
	fs_txn_end(&tx);
	if (w.rc < 0)
		rc = w.rc;
	free(stack);
	free(w.multi);
	if (rc < 0)
		return rc;
	info->inodes = w.inodes;
	info->excl_bytes = chunks * fs->chunk_size;
	info->created = root->btime;
	return 0;
}

struct stat_walk {
	struct mmfs_snap_excl *excl;
	uint64_t snapshots;
	int rc;
};

static int stat_one(void *arg, struct fs_inode *in)
{
	struct stat_walk *w = arg;

	if (!in->frozen)
		return 0;
	if (S_ISDIR(in->mode) && in->dir.parent && in->dir.parent->is_snapdir)
		w->snapshots++;
	if (S_ISREG(in->mode) && atomic_load(&in->nlink))
		w->rc = mmfs_snap_excl_map(w->excl, &in->map);
	return w->rc;
}

int fs_snap_stat(struct fs *fs, uint64_t *snapshots, uint64_t *bytes)
{
	struct stat_walk w = { 0 };
	uint64_t chunks = 0;
	struct fs_txn tx;
	int rc;

	rc = mmfs_snap_excl_new(fs->snap, &w.excl);
	if (rc < 0)
		return rc;
	fs_txn_begin(fs, &tx);
	pthread_mutex_lock(&fs->itable_lock); /* no inode freed meanwhile */
	fs_inode_each(fs, stat_one, &w);
	pthread_mutex_unlock(&fs->itable_lock);
	rc = mmfs_snap_excl_end(&w.excl, &chunks);
	fs_txn_end(&tx);
	if (w.rc < 0)
		rc = w.rc;
	if (rc < 0)
		return rc;
	*snapshots = w.snapshots;
	*bytes = chunks * fs->chunk_size;
	return 0;
}

/* --- schedules ------------------------------------------------------------ */

/*
 * A schedule (AutoSave): every @every seconds a snapshot of a directory
 * named by its UTC time as Samba's shadow_copy2 names them (so a Samba
 * share of the directory shows them as Previous Versions), keeping the
 * newest @keep of those. Persistent as an xattr of the directory's .snap;
 * run by the daemon's own thread, never by cron.
 */
#define SCHED_XATTR "trusted.mmfs.schedule"
#define SCHED_PREFIX "@GMT-"
#define SCHED_FORMAT "@GMT-%Y.%m.%d-%H.%M.%S"

struct sched_ent {
	uint64_t ino, gen;       /* the directory (a reused number is not) */
	uint64_t every, keep;
	time_t last;             /* the newest scheduled snapshot's time */
};

struct fs_sched {
	pthread_mutex_t lock;    /* the entries; a leaf below plock */
	struct sched_ent *ent;
	size_t n, cap;
	struct mmfs_ticker *ticker;
	fs_snap_notify_fn notify;
	void *notify_arg;
};

static int sched_get(struct fs *fs, struct fs_sched **out)
{
	struct fs_sched *sc = fs->sched;

	if (!sc) {
		sc = calloc(1, sizeof(*sc));
		if (!sc)
			return -ENOMEM;
		pthread_mutex_init(&sc->lock, NULL);
		fs->sched = sc;
	}
	*out = sc;
	return 0;
}

/* sched_set -- (internal) the registry entry of @ino; every 0 removes */
static int sched_set(struct fs_sched *sc, uint64_t ino, uint64_t gen,
		     uint64_t every, uint64_t keep, time_t last)
{
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&sc->lock);
	for (i = 0; i < sc->n && sc->ent[i].ino != ino; i++)
		;
	if (every == 0) {
		if (i < sc->n)
			sc->ent[i] = sc->ent[--sc->n];
		goto out;
	}
	if (i == sc->n) {
		rc = push((void ***)&sc->ent, &sc->n, &sc->cap,
			  sizeof(*sc->ent));
		if (rc < 0)
			goto out;
		sc->n++;
	}
	sc->ent[i] = (struct sched_ent){ ino, gen, every, keep, last };
out:
	pthread_mutex_unlock(&sc->lock);
	return rc;
}

static int sched_parse(const void *v, size_t size, uint64_t *every,
		       uint64_t *keep)
{
	char buf[64];
	unsigned long long e, k;

	if (size >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, v, size);
	buf[size] = 0;
	if (sscanf(buf, "every=%llu keep=%llu", &e, &k) != 2 || !e || !k)
		return -EINVAL;
	*every = e;
	*keep = k;
	return 0;
}

/* newest -- (internal) the time of @sd's newest scheduled snapshot, or 0 */
static time_t newest(struct fs_inode *sd)
{
	struct fs_dirent *de;
	time_t t = 0;
	size_t k = 0;

	while ((de = fs_dir_next(&sd->dir, &k, UINT64_MAX)))
		if (de->namelen > 5 && !memcmp(de->name, SCHED_PREFIX, 5) &&
		    de->inode->btime.tv_sec > t)
			t = de->inode->btime.tv_sec;
	return t;
}

int fs_snap_schedule(struct fs *fs, struct fs_inode *dir, uint64_t every,
		     uint64_t keep, uint32_t uid)
{
	struct fs_sched *sc;
	struct fs_inode *sd;
	struct fs_txn tx;
	char v[64];
	int rc;

	if (every && !keep)
		return -EINVAL;
	rc = may_snap(dir, uid);
	if (rc == 0)
		rc = sched_get(fs, &sc);
	if (rc == 0)
		rc = snapdir_of(fs, dir, &sd);
	if (rc < 0)
		return rc;
	snprintf(v, sizeof(v), "every=%llu keep=%llu",
		 (unsigned long long)every, (unsigned long long)keep);
	fs_txn_begin(fs, &tx);
	pthread_rwlock_wrlock(&sd->lock);
	if (every)
		rc = fs_xattr_set(fs, sd, SCHED_XATTR, v, strlen(v), 0);
	else if (fs_xattr_peek(sd, SCHED_XATTR, &(size_t){ 0 }))
		rc = fs_xattr_remove(fs, sd, SCHED_XATTR);
	if (rc == 0)
		rc = sched_set(sc, dir->ino, dir->gen, every, keep, newest(sd));
	fs_txn_commit(&tx);
	pthread_rwlock_unlock(&sd->lock);
	fs_txn_end(&tx);
	if (rc == 0 && sc->ticker)
		mmfs_ticker_kick(sc->ticker);
	return rc;
}

int fs_snap_schedule_get(struct fs *fs, struct fs_inode *dir,
			 uint64_t *every, uint64_t *keep)
{
	struct fs_sched *sc = fs->sched;
	size_t i;

	*every = *keep = 0;
	if (!sc)
		return 0;
	pthread_mutex_lock(&sc->lock);
	for (i = 0; i < sc->n; i++) {
		if (sc->ent[i].ino == dir->ino) {
			*every = sc->ent[i].every;
			*keep = sc->ent[i].keep;
		}
	}
	pthread_mutex_unlock(&sc->lock);
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* prune -- (internal) delete @dir's oldest scheduled snapshots past @keep */
static void prune(struct fs *fs, struct fs_sched *sc, struct fs_inode *dir,
		  uint64_t keep)
{
	struct fs_inode *sd = dir->dir.snapdir;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct fs_dirent *de;
	size_t k = 0;

	if (!sd)
		return;
	pthread_rwlock_rdlock(&sd->lock);
	while ((de = fs_dir_next(&sd->dir, &k, UINT64_MAX))) {
		if (de->namelen <= 5 || memcmp(de->name, SCHED_PREFIX, 5))
			continue;
		if (push((void ***)&names, &n, &cap, sizeof(*names)) < 0)
			break;
		names[n] = strndup(de->name, de->namelen);
		if (names[n])
			n++;
	}
	pthread_rwlock_unlock(&sd->lock);
	/* The names sort as their times do: the oldest first */
	qsort(names, n, sizeof(*names), cmp_name);
	for (i = 0; i < n; i++) {
		if (n - i > keep && fs_snap_delete(fs, dir, names[i], 0) == 0 &&
		    sc->notify)
			sc->notify(sc->notify_arg, sd->ino, names[i]);
		free(names[i]);
	}
	free(names);
}

/* sched_tick -- (internal) the thread: take what is due, prune */
static void sched_tick(void *arg)
{
	struct fs *fs = arg;
	struct fs_sched *sc = fs->sched;
	time_t now = time(NULL);
	size_t i;

	for (i = 0;; i++) {
		struct sched_ent e;
		struct fs_inode *dir;
		char name[64];
		struct tm tm;
		int rc;

		pthread_mutex_lock(&sc->lock);
		if (i >= sc->n) {
			pthread_mutex_unlock(&sc->lock);
			break;
		}
		e = sc->ent[i];
		if (now >= e.last && (uint64_t)(now - e.last) >= e.every)
			sc->ent[i].last = now;
		pthread_mutex_unlock(&sc->lock);
		if (now < e.last || (uint64_t)(now - e.last) < e.every)
			continue;
		dir = fs_inode_get_linked(fs, e.ino);
		if (!dir || dir->gen != e.gen || !S_ISDIR(dir->mode)) {
			if (dir)
				fs_inode_forget(fs, dir, 1);
			/* gone: so is its schedule */
			sched_set(sc, e.ino, 0, 0, 0, 0);
			i--;
			continue;
		}
		gmtime_r(&now, &tm);
		strftime(name, sizeof(name), SCHED_FORMAT, &tm);
		rc = fs_snap_create(fs, dir, name, 0, NULL);
		if (rc < 0 && rc != -EEXIST)
			mmfs_warn("scheduled snapshot %s of directory %llu: %s",
				  name, (unsigned long long)e.ino,
				  strerror(-rc));
		if (rc == 0 && sc->notify && dir->dir.snapdir)
			sc->notify(sc->notify_arg, dir->dir.snapdir->ino, name);
		prune(fs, sc, dir, e.keep);
		fs_inode_forget(fs, dir, 1);
	}
}

int fs_snap_start(struct fs *fs, fs_snap_notify_fn notify, void *arg)
{
	struct fs_sched *sc;
	int rc = sched_get(fs, &sc);

	if (rc < 0)
		return rc;
	sc->notify = notify;
	sc->notify_arg = arg;
	return mmfs_ticker_start(1000, sched_tick, fs, &sc->ticker);
}

void fs_snap_stop(struct fs *fs)
{
	struct fs_sched *sc = fs->sched;

	if (!sc)
		return;
	mmfs_ticker_stop(&sc->ticker);
	pthread_mutex_destroy(&sc->lock);
	free(sc->ent);
	free(sc);
	fs->sched = NULL;
}

/* sched_load -- (internal) a schedule found on @sd at load */
static int sched_load(struct fs *fs, struct fs_inode *dir,
		      struct fs_inode *sd)
{
	uint64_t every, keep;
	struct fs_sched *sc;
	size_t size;
	void *v = fs_xattr_peek(sd, SCHED_XATTR, &size);
	int rc;

	if (!v || sched_parse(v, size, &every, &keep) < 0)
		return 0; /* none, or not ours to judge: left as it is */
	rc = sched_get(fs, &sc);
	if (rc == 0)
		rc = sched_set(sc, dir->ino, dir->gen, every, keep,
			       newest(sd));
	return rc;
}

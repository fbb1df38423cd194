/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inode.c -- the inode table and inode lifetime.
 *
 * An inode lives while a directory entry names it (nlink > 0), the kernel
 * holds a reference (nlookup > 0) or a file is open on it (opens > 0).
 * Whoever drops the last of the three frees it, exactly once, decided by
 * the ->dead flag. Handlers touch an inode only until their reply: after
 * it, the kernel may close, unlink and forget the file at once. Inode numbers are reused with a fresh
 * generation, as ext4 does, so NFS file handles of a deleted file go stale
 * instead of naming its successor.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "fs/fs_i.h"
#include "utils/held.h"
#include "utils/err.h"

void fs_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

/*
 * gen_base -- (internal) the first generation of a new mount. The kernel's
 * file handle is (node id, low 32 bits of the generation): starting each
 * mount at a random point, as tmpfs draws i_generation at random, makes a
 * handle kept from an earlier volatile mount stale instead of naming
 * whatever file got its number this time. A pool then raises it to what
 * it stored (persist_recover.c).
 */
static uint64_t gen_base(void)
{
	uint32_t r;
	struct timespec ts;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec;
	}
	return 1 + (r >> 1); /* below 2^31: about 2^31 creates before a wrap */
}

int fs_init(struct fs *fs, struct mmfs_tier *tier, struct mmfs_snap *snap)
{
	fs->tier = tier;
	fs->snap = snap;
	fs->chunk_size = mmfs_tier_chunk_size(tier);
	fs->chunk_shift = (uint32_t)__builtin_ctz(fs->chunk_size);
	fs->ino_next = FS_ROOT_INO;
	fs->gen_next = gen_base();
	pthread_mutex_init(&fs->itable_lock, NULL);
	pthread_mutex_init(&fs->rename_lock, NULL);
	/*
	 * Writer-preferring: a commit waiting for plock must not starve
	 * behind a stream of writes, and no holder ever takes it twice.
	 */
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fs->plock, &a);
	pthread_rwlockattr_destroy(&a);
	return 0;
}

/* itab_slot -- (internal) the table slot of @ino, optionally creating it */
static _Atomic(struct fs_inode *) *itab_slot(struct fs *fs, uint64_t ino,
					      bool create)
{
	uint64_t top = ino >> FS_ITAB_LEAF_SHIFT;
	_Atomic(struct fs_inode *) *leaf;

	if (top >= FS_ITAB_TOP)
		return NULL;
	leaf = atomic_load_explicit((_Atomic(void *) *)&fs->itab[top],
				    memory_order_acquire);
	if (!leaf && create) {
		/* Only under itable_lock: no two threads create a leaf. */
		leaf = calloc(FS_ITAB_LEAF, sizeof(*leaf));
		if (!leaf)
			return NULL;
		atomic_store_explicit((_Atomic(void *) *)&fs->itab[top], leaf,
				      memory_order_release);
	}
	return leaf ? &leaf[ino & (FS_ITAB_LEAF - 1)] : NULL;
}

struct fs_inode *fs_inode_get(struct fs *fs, uint64_t ino)
{
	_Atomic(struct fs_inode *) *slot = itab_slot(fs, ino, false);

	return slot ? atomic_load_explicit(slot, memory_order_acquire) : NULL;
}

/*
 * The inode may be on its way out: an inode is freed only once nlink is 0
 * (maybe_free), and inode_destroy takes itable_lock to clear the slot
 * before the memory goes, so under itable_lock an inode still in its slot
 * is readable, and one with a name cannot be freed under the reference
 * taken here. A nameless inode is refused: an unlinked file the kernel
 * still has open is in the kernel's inode cache, and the kernel asks us
 * only for inodes it no longer holds, so a nameless one is being freed.
 */
struct fs_inode *fs_inode_get_linked(struct fs *fs, uint64_t ino)
{
	struct fs_inode *in;

	pthread_mutex_lock(&fs->itable_lock);
	in = fs_inode_get(fs, ino);
	if (in && (atomic_load(&in->dead) || atomic_load(&in->nlink) == 0))
		in = NULL;
	if (in)
		fs_inode_ref(in);
	pthread_mutex_unlock(&fs->itable_lock);
	return in;
}

/* ino_alloc -- (internal) an ino and its slot; reuses freed inos first */
static int ino_alloc(struct fs *fs, struct fs_inode *in)
{
	_Atomic(struct fs_inode *) *slot;
	uint64_t ino;
	int rc = 0;

	pthread_mutex_lock(&fs->itable_lock);
	if (fs->ino_nfree)
		ino = fs->ino_free[--fs->ino_nfree];
	else
		ino = fs->ino_next;
	slot = itab_slot(fs, ino, true);
	if (!slot) {
		rc = ino >> FS_ITAB_LEAF_SHIFT >= FS_ITAB_TOP ? -ENOSPC
							      : -ENOMEM;
		if (ino != fs->ino_next)
			fs->ino_nfree++; /* give the reused number back */
		goto out_unlock;
	}
	if (ino == fs->ino_next)
		fs->ino_next++;
	in->ino = ino;
	/* FUSE wants the root's generation 0 (its handles are never stale) */
	in->gen = ino == FS_ROOT_INO ? 0 : fs->gen_next++;
	atomic_store_explicit(slot, in, memory_order_release);
out_unlock:
	pthread_mutex_unlock(&fs->itable_lock);
	return rc;
}

static void inode_destroy(struct fs *fs, struct fs_inode *in);

static void ino_release(struct fs *fs, uint64_t ino)
{
	pthread_mutex_lock(&fs->itable_lock);
	atomic_store_explicit(itab_slot(fs, ino, false), NULL,
			      memory_order_release);
	if (fs->ino_nfree == fs->ino_free_cap) {
		size_t cap = fs->ino_free_cap ? fs->ino_free_cap * 2 : 1024;
		uint64_t *p = realloc(fs->ino_free, cap * sizeof(*p));

		if (!p) {
			/* Lose the number rather than the inode: harmless. */
			goto out_unlock;
		}
		fs->ino_free = p;
		fs->ino_free_cap = cap;
	}
	fs->ino_free[fs->ino_nfree++] = ino;
out_unlock:
	pthread_mutex_unlock(&fs->itable_lock);
}

void fs_inode_inherit(const struct fs_inode *parent, uint32_t *mode,
		      struct fs_owner *o)
{
	MMFS_HELD(&parent->alock);
	if (!(parent->perm & S_ISGID))
		return;
	o->gid = parent->gid;
	if (S_ISDIR(*mode))
		*mode |= S_ISGID;
}

int fs_inode_new(struct fs *fs, uint32_t mode, const struct fs_owner *o,
		 uint64_t rdev, struct fs_inode **out)
{
	struct fs_inode *in = calloc(1, sizeof(*in));
	int rc;

	if (!in)
		return -ENOMEM;
	in->mode = mode & S_IFMT;
	in->perm = mode & 07777;
	in->uid = o->uid;
	in->gid = o->gid;
	in->rdev = rdev;
	fs_now(&in->btime);
	in->atime = in->mtime = in->ctime = in->btime;
	pthread_rwlock_init(&in->lock, NULL);
	pthread_mutex_init(&in->alock, NULL);
	if (S_ISREG(mode))
		mmfs_snap_map_init(&in->map);
	rc = ino_alloc(fs, in);
	if (rc < 0)
		goto out_free;
	atomic_fetch_add(&fs->ninodes, 1);
	atomic_fetch_add(&fs->meta_bytes, (int64_t)sizeof(*in));
	fs_txn_rec_inode_new(in);
	*out = in;
	return 0;

out_free:
	pthread_rwlock_destroy(&in->lock);
	pthread_mutex_destroy(&in->alock);
	free(in);
	return rc;
}

int fs_inode_install(struct fs *fs, uint64_t ino, uint64_t gen,
		     uint32_t mode, struct fs_inode **out)
{
	_Atomic(struct fs_inode *) *slot;
	struct fs_inode *in;
	int rc = 0;

	pthread_mutex_lock(&fs->itable_lock);
	slot = itab_slot(fs, ino, true);
	if (!slot || atomic_load(slot)) {
		rc = slot ? -EEXIST : -ENOMEM;
		goto out_unlock;
	}
	in = calloc(1, sizeof(*in));
	if (!in) {
		rc = -ENOMEM;
		goto out_unlock;
	}
	in->ino = ino;
	in->gen = gen;
	in->mode = mode & S_IFMT;
	in->perm = mode & 07777;
	pthread_rwlock_init(&in->lock, NULL);
	pthread_mutex_init(&in->alock, NULL);
	if (S_ISREG(mode))
		mmfs_snap_map_init(&in->map);
	if (ino >= fs->ino_next)
		fs->ino_next = ino + 1;
	if (gen >= fs->gen_next)
		fs->gen_next = gen + 1;
	atomic_store_explicit(slot, in, memory_order_release);
	atomic_fetch_add(&fs->ninodes, 1);
	atomic_fetch_add(&fs->meta_bytes, (int64_t)sizeof(*in));
	*out = in;
out_unlock:
	pthread_mutex_unlock(&fs->itable_lock);
	return rc;
}

void fs_inode_renumber(struct fs *fs)
{
	uint64_t ino;
	size_t n = 0;

	/* The numbers below the highest in use: pushed so lowest pops first */
	for (ino = fs->ino_next; ino-- > FS_ROOT_INO + 1;)
		n += !fs_inode_get(fs, ino);
	pthread_mutex_lock(&fs->itable_lock);
	free(fs->ino_free);
	fs->ino_free = n ? malloc(n * sizeof(*fs->ino_free)) : NULL;
	fs->ino_free_cap = fs->ino_free ? n : 0;
	fs->ino_nfree = 0;
	for (ino = fs->ino_next; fs->ino_free && ino-- > FS_ROOT_INO + 1;)
		if (!fs_inode_get(fs, ino))
			fs->ino_free[fs->ino_nfree++] = ino;
	pthread_mutex_unlock(&fs->itable_lock);
}

int fs_inode_each(struct fs *fs, int (*fn)(void *arg, struct fs_inode *in),
		  void *arg)
{
	uint64_t top, i;
	int rc;

	for (top = 0; top < FS_ITAB_TOP; top++) {
		_Atomic(struct fs_inode *) *leaf = (void *)fs->itab[top];

		if (!leaf)
			continue;
		for (i = 0; i < FS_ITAB_LEAF; i++) {
			struct fs_inode *in = atomic_load(&leaf[i]);

			if (in && (rc = fn(arg, in)) < 0)
				return rc;
		}
	}
	return 0;
}

void fs_inode_destroy(struct fs *fs, struct fs_inode *in)
{
	atomic_store(&in->dead, true);
	inode_destroy(fs, in);
}

/* inode_destroy -- (internal) free an inode nobody can reach any more */
static void inode_destroy(struct fs *fs, struct fs_inode *in)
{
	int64_t bytes = sizeof(*in);

	ino_release(fs, in->ino);
	fs_xattr_free_all(fs, in);
	switch (in->mode & S_IFMT) {
	case S_IFREG:
		atomic_fetch_sub(&fs->file_bytes, (int64_t)in->size);
		mmfs_snap_map_fini(fs->snap, &in->map);
		break;
	case S_IFDIR:
		fs_dir_fini(fs, &in->dir);
		break;
	case S_IFLNK:
		/* NULL: its making failed for want of memory (ns.c, snap.c) */
		if (in->target)
			bytes += (int64_t)strlen(in->target) + 1;
		free(in->target);
		break;
	}
	pthread_rwlock_destroy(&in->lock);
	pthread_mutex_destroy(&in->alock);
	atomic_fetch_sub(&fs->ninodes, 1);
	atomic_fetch_sub(&fs->meta_bytes, bytes);
	free(in);
}

void fs_inode_maybe_free(struct fs *fs, struct fs_inode *in)
{
	bool expect = false;

	/*
	 * Open files hold the inode too: a handler may still touch it after
	 * its reply (an open whose reply failed closes it again), and the
	 * kernel does not order RELEASE before FORGET for us.
	 */
	if (atomic_load(&in->nlookup) != 0 || atomic_load(&in->nlink) != 0 ||
	    atomic_load(&in->opens) != 0)
		return;
	if (atomic_compare_exchange_strong(&in->dead, &expect, true))
		inode_destroy(fs, in);
}

/* release_data -- (internal) no name and no opener: free the chunks now */
static void release_data(struct fs *fs, struct fs_inode *in)
{
	if (!S_ISREG(in->mode))
		return;
	pthread_rwlock_wrlock(&in->lock);
	if (atomic_load(&in->nlink) == 0 && atomic_load(&in->opens) == 0 &&
	    !atomic_load(&in->data_gone)) {
		atomic_store(&in->data_gone, true);
		/* Size stays for fstat's sake; only the memory goes. */
		(void)mmfs_snap_map_punch(fs->snap, &in->map, 0, UINT64_MAX);
		pthread_mutex_lock(&in->alock);
		in->blocks = 0;
		pthread_mutex_unlock(&in->alock);
	}
	pthread_rwlock_unlock(&in->lock);
}

int fs_inode_open(struct fs_inode *in)
{
	atomic_fetch_add(&in->opens, 1);
	/* Seq-cst pairs with release_data: one of us sees the other. */
	if (atomic_load(&in->data_gone)) {
		atomic_fetch_sub(&in->opens, 1);
		return -ENOENT;
	}
	return 0;
}

void fs_inode_close(struct fs *fs, struct fs_inode *in)
{
	struct fs_txn tx;

	if (atomic_fetch_sub(&in->opens, 1) != 1)
		return;
	if (atomic_load(&in->nlink) == 0) {
		/*
		 * The punch is logged: recovery must not find the orphan
		 * still holding chunks that a later file reused.
		 */
		fs_txn_begin(fs, &tx);
		release_data(fs, in);
		fs_txn_end(&tx);
	}
	fs_inode_maybe_free(fs, in); /* the last holder may be this open */
}

void fs_inode_unlinked(struct fs *fs, struct fs_inode *in)
{
	if (atomic_load(&in->nlink) == 0 && atomic_load(&in->opens) == 0)
		release_data(fs, in);
	fs_inode_maybe_free(fs, in);
}

void fs_inode_ref(struct fs_inode *in)
{
	atomic_fetch_add_explicit(&in->nlookup, 1, memory_order_relaxed);
}

void fs_inode_forget(struct fs *fs, struct fs_inode *in, uint64_t n)
{
	uint64_t old = atomic_load(&in->nlookup);
	uint64_t new;

	/* Saturate: the kernel's count of the root may exceed ours. */
	do {
		new = old > n ? old - n : 0;
	} while (!atomic_compare_exchange_weak(&in->nlookup, &old, new));
	if (new == 0)
		fs_inode_maybe_free(fs, in);
}

void fs_inode_stat(struct fs *fs, struct fs_inode *in, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = in->ino;
	st->st_nlink = atomic_load(&in->nlink);
	st->st_rdev = in->rdev;
	st->st_blksize = fs->chunk_size;
	pthread_mutex_lock(&in->alock);
	st->st_mode = in->mode | in->perm;
	st->st_uid = in->uid;
	st->st_gid = in->gid;
	st->st_size = (off_t)in->size;
	st->st_atim = in->atime;
	st->st_mtim = in->mtime;
	st->st_ctim = in->ctime;
	if (S_ISREG(in->mode))
		st->st_blocks = (blkcnt_t)((in->blocks << fs->chunk_shift) >>
					   9);
	pthread_mutex_unlock(&in->alock);
	if (S_ISLNK(in->mode))
		st->st_size = (off_t)strlen(in->target);
	/* tmpfs's convention; some tools treat a 0-sized directory as odd. */
	if (S_ISDIR(in->mode))
		st->st_size = (off_t)(__atomic_load_n(&in->dir.live,
						      __ATOMIC_RELAXED) + 2) *
			      FS_BOGO_DIRENT_SIZE;
}

void fs_inode_touch(struct fs_inode *in, bool mtime, bool ctime)
{
	struct timespec now;

	fs_now(&now);
	pthread_mutex_lock(&in->alock);
	if (mtime)
		in->mtime = now;
	if (ctime)
		in->ctime = now;
	pthread_mutex_unlock(&in->alock);
	fs_txn_dirty(in);
}

int fs_root_new(struct fs *fs, uint32_t mode, uint32_t uid, uint32_t gid)
{
	struct fs_owner o = { uid, gid, 0 };
	struct fs_inode *root;
	int rc;

	rc = fs_inode_new(fs, S_IFDIR | mode, &o, 0, &root);
	if (rc < 0)
		return rc;
	MMFS_ASSERT(root->ino == FS_ROOT_INO);
	rc = fs_dir_init(fs, &root->dir, root);
	if (rc < 0)
		return rc;
	atomic_store(&root->nlink, 2);
	fs_inode_ref(root); /* the kernel's reference, never forgotten */
	fs_txn_dirty(root);
	return 0;
}

void fs_fini(struct fs *fs)
{
	uint64_t top, i;

	fs_snap_stop(fs); /* the schedules found at load */
	/*
	 * At unmount every inode still in the table goes, reachable or not.
	 * Directories are emptied first so that no entry outlives its inode.
	 */
	for (top = 0; top < FS_ITAB_TOP; top++) {
		_Atomic(struct fs_inode *) *leaf = (void *)fs->itab[top];

		if (!leaf)
			continue;
		for (i = 0; i < FS_ITAB_LEAF; i++) {
			struct fs_inode *in = leaf[i];

			if (in && S_ISDIR(in->mode))
				fs_dir_fini(fs, &in->dir);
		}
	}
	for (top = 0; top < FS_ITAB_TOP; top++) {
		_Atomic(struct fs_inode *) *leaf = (void *)fs->itab[top];

		if (!leaf)
			continue;
		for (i = 0; i < FS_ITAB_LEAF; i++)
			if (leaf[i])
				inode_destroy(fs, leaf[i]);
		free(leaf);
		fs->itab[top] = NULL;
	}
	free(fs->ino_free);
	pthread_mutex_destroy(&fs->itable_lock);
	pthread_mutex_destroy(&fs->rename_lock);
	pthread_rwlock_destroy(&fs->plock);
}

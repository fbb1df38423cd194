/* SPDX-License-Identifier: Apache-2.0 */
/*
 * persist.c -- the namespace on a persistent pool: metadata transactions,
 * the staged log, commits, checkpoints and recovery.
 *
 * What is logged is logical and small: an inode's attributes (a whole
 * snapshot, versioned), a directory entry added or removed, a map entry set
 * or a range punched, an xattr set or removed. One request's records form
 * one log record, so a request is replayed whole or not at all. Records are
 * staged in DRAM and reach the pool's log at a commit, after the chunks
 * they name (data=ordered): fsync, fdatasync, syncfs, unmount, and the
 * commit thread every commit= seconds. A checkpoint is the same records
 * for the whole namespace, written when the log is half full; it empties
 * the log, so replay after a crash reads at most half a log.
 *
 * Attribute snapshots carry a per-inode version and replay keeps the
 * newest, so two requests that change one inode under its attribute lock
 * alone may stage in either order. Everything else is staged under the
 * lock that ordered the change (the inode's ->lock), so the log's order is
 * the namespace's order.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/fs_i.h"
#include "utils/err.h"
#include "utils/log.h"
#include "utils/ticker.h"

enum {
	OP_INODE = 1,
	OP_DENT_ADD = 2,
	OP_DENT_DEL = 3,
	OP_MAP_SET = 4,
	OP_MAP_PUNCH = 5,
	OP_XATTR_SET = 6,
	OP_XATTR_DEL = 7,
	OP_ALLOC = 8,     /* checkpoints only: the chunk allocation bitmap */
	OP_GEN = 9,       /* checkpoints only: the next inode generation */
	OP_MAP_SHARE = 10, /* a range of one map shared into another */
	OP_NODE = 11,     /* checkpoints only: one map node of the table */
	OP_MAP_ROOT = 12, /* checkpoints only: a file's map, by its root */
	OP_SNAPDIR = 13,  /* a directory's .snap (snap.c) made or removed */
};

/* On-media records: little-endian, packed, after a one-byte opcode. */
struct __attribute__((packed)) op_inode {
	uint64_t ino, gen, version;
	uint32_t mode, uid, gid, nlink; /* mode: type | permission bits */
	uint64_t rdev, size;
	int64_t sec[4];   /* atime, mtime, ctime, btime */
	uint32_t nsec[4];
	uint16_t target_len; /* symlink target bytes that follow */
};

struct __attribute__((packed)) op_dent {
	uint64_t dir, ino; /* ino 0: removal */
	uint8_t namelen;   /* name bytes follow */
};

struct __attribute__((packed)) op_map_set {
	uint64_t ino, idx;
	uint32_t entry;    /* chunk id | MMFS_SNAP_UNWRITTEN */
};

struct __attribute__((packed)) op_map_punch {
	uint64_t ino, first, last;
};

/* A directory's .snap: @snapdir, or 0 when it went. */
struct __attribute__((packed)) op_snapdir {
	uint64_t dir, snapdir;
};

/* A reflink: dst's [dfirst, dfirst+n) became src's [sfirst, sfirst+n). */
struct __attribute__((packed)) op_map_share {
	uint64_t dst, dfirst, src, sfirst, n;
};

/*
 * Checkpoints write each distinct map node once, numbered from 1 in the
 * order written (children first); @n slots follow, each a slot number
 * and a value: a chunk entry in a leaf (level 1), a child's number above.
 */
struct __attribute__((packed)) op_node {
	uint32_t no;
	uint8_t level;
	uint8_t n;
};

struct __attribute__((packed)) op_node_slot {
	uint8_t slot;
	uint32_t val;
};

/* A file's map: a node number, or at height 0 its one inline entry. */
struct __attribute__((packed)) op_map_root {
	uint64_t ino;
	uint8_t height;
	uint32_t root;
};

struct __attribute__((packed)) op_xattr {
	uint64_t ino;
	uint32_t size;     /* value bytes follow the name */
	uint8_t namelen;
};

struct __attribute__((packed)) op_alloc {
	uint32_t max_id;   /* bitmap of ids 0..max_id follows */
};

/*
 * The generation counter outlives the inodes that used it: without it a
 * number freed before a checkpoint could come back after a remount with
 * the generation it had, and an old file handle would open the new file.
 */
struct __attribute__((packed)) op_gen {
	uint64_t gen_next;
};

struct fs_plog {
	struct fs *fs;
	struct mmfs_pool *pool;
	bool rdonly;

	/* stage_lock: the staged records; a leaf, held for a memcpy. */
	pthread_mutex_t stage_lock;
	char *stage;              /* [u32 len][record] ... */
	size_t stage_len, stage_cap;

	/*
	 * commit_lock: one commit or checkpoint at a time. Taken before
	 * plock and before any inode lock, never by a request holding one.
	 */
	pthread_mutex_t commit_lock;
	int err;                  /* sticky failure: set under commit_lock, or
				   * atomically by a request that could not
				   * stage; read under commit_lock */
	struct fs_persist_stat st; /* commit_lock */

	struct mmfs_ticker *committer; /* the commit thread */
	unsigned commit_secs;

	uint64_t ckpt_bytes;      /* room for one checkpoint */

	/* Recovery only. */
	struct mmfs_snap_loader *loader; /* while the checkpoint loads */
	const uint8_t *alloc_bits;
	uint32_t alloc_max;
	char *why;
	uint64_t seq;
};

static __thread struct fs_txn *txn_cur;

/* --- building transactions -------------------------------------------------- */

static int tx_room(struct fs_txn *tx, size_t more)
{
	size_t cap;
	char *p;

	if (tx->len + more <= tx->cap)
		return 0;
	cap = MMFS_MAX(tx->cap * 2, tx->len + more);
	if (tx->buf == tx->inl) {
		p = malloc(cap);
		if (p)
			memcpy(p, tx->buf, tx->len);
	} else {
		p = realloc(tx->buf, cap);
	}
	if (!p)
		return -ENOMEM;
	tx->buf = p;
	tx->cap = cap;
	return 0;
}

/* tx_put -- (internal) one record: opcode, fixed part, two tails */
static void tx_put(struct fs_txn *tx, uint8_t op, const void *fix,
		   size_t fixlen, const void *a, size_t alen, const void *b,
		   size_t blen)
{
	if (tx->err)
		return;
	tx->err = tx_room(tx, 1 + fixlen + alen + blen);
	if (tx->err)
		return;
	tx->buf[tx->len++] = (char)op;
	memcpy(tx->buf + tx->len, fix, fixlen);
	tx->len += fixlen;
	if (alen)
		memcpy(tx->buf + tx->len, a, alen);
	tx->len += alen;
	if (blen)
		memcpy(tx->buf + tx->len, b, blen);
	tx->len += blen;
}

/* inode_rec -- (internal) an attribute snapshot; alock held */
static void inode_rec(struct fs_inode *in, struct op_inode *r)
{
	const struct timespec *t[4] = { &in->atime, &in->mtime, &in->ctime,
					&in->btime };
	int i;

	memset(r, 0, sizeof(*r));
	r->ino = in->ino;
	r->gen = in->gen;
	r->version = in->version;
	r->mode = in->mode | in->perm;
	r->uid = in->uid;
	r->gid = in->gid;
	r->nlink = atomic_load(&in->nlink);
	r->rdev = in->rdev;
	r->size = S_ISREG(in->mode) ? in->size : 0;
	for (i = 0; i < 4; i++) {
		r->sec[i] = t[i]->tv_sec;
		r->nsec[i] = (uint32_t)t[i]->tv_nsec;
	}
	if (S_ISLNK(in->mode) && in->target)
		r->target_len = (uint16_t)strlen(in->target);
}

static void tx_inode(struct fs_txn *tx, struct fs_inode *in)
{
	struct op_inode r;

	pthread_mutex_lock(&in->alock);
	in->version++;
	inode_rec(in, &r);
	pthread_mutex_unlock(&in->alock);
	tx_put(tx, OP_INODE, &r, sizeof(r), in->target, r.target_len, NULL,
	       0);
}

static void txn_begin(struct fs *fs, struct fs_txn *tx, bool excl)
{
	tx->fs = fs;
	tx->buf = tx->inl;
	tx->len = 0;
	tx->cap = sizeof(tx->inl);
	tx->ndirty = 0;
	tx->err = 0;
	tx->kick = false;
	tx->excl = excl;
	tx->on = fs->plog != NULL && !fs->plog->rdonly;
	/*
	 * plock on a volatile mount too: a snapshot holds it exclusively to
	 * see the namespace and every file at one instant.
	 */
	if (excl)
		pthread_rwlock_wrlock(&fs->plock);
	else
		pthread_rwlock_rdlock(&fs->plock);
	tx->locked = true;
	if (!tx->on)
		return;
	MMFS_ASSERT(!txn_cur); /* one request, one transaction */
	txn_cur = tx;
}

void fs_txn_begin(struct fs *fs, struct fs_txn *tx)
{
	txn_begin(fs, tx, false);
}

void fs_txn_begin_excl(struct fs *fs, struct fs_txn *tx)
{
	txn_begin(fs, tx, true);
}

void fs_txn_dirty(struct fs_inode *in)
{
	struct fs_txn *tx = txn_cur;
	unsigned i;

	if (!tx)
		return;
	for (i = 0; i < tx->ndirty; i++)
		if (tx->dirty[i] == in)
			return;
	if (tx->ndirty == FS_TXN_INODES) {
		tx_inode(tx, in); /* no room to defer: snapshot it now */
		return;
	}
	tx->dirty[tx->ndirty++] = in;
}

void fs_txn_rec_inode(struct fs_inode *in)
{
	struct fs_txn *tx = txn_cur;
	unsigned i;

	if (!tx)
		return;
	for (i = 0; i < tx->ndirty; i++) {
		if (tx->dirty[i] == in) {
			tx->dirty[i] = tx->dirty[--tx->ndirty];
			break;
		}
	}
	tx_inode(tx, in);
}

void fs_txn_rec_inode_new(struct fs_inode *in)
{
	if (txn_cur)
		tx_inode(txn_cur, in);
}

void fs_txn_rec_dent(const struct fs_dir *d, const char *name, size_t len,
		     uint64_t ino)
{
	const struct fs_inode *dir;
	struct op_dent r;

	if (!txn_cur)
		return;
	dir = (const struct fs_inode *)((const char *)d -
					offsetof(struct fs_inode, dir));
	r = (struct op_dent){ .dir = dir->ino, .ino = ino,
			      .namelen = (uint8_t)len };
	tx_put(txn_cur, ino ? OP_DENT_ADD : OP_DENT_DEL, &r, sizeof(r), name,
	       len, NULL, 0);
}

void fs_txn_rec_xattr(struct fs_inode *in, const char *name,
		      const void *value, size_t size, bool set)
{
	struct op_xattr r;
	size_t len = strlen(name);

	if (!txn_cur)
		return;
	r = (struct op_xattr){ .ino = in->ino, .size = (uint32_t)size,
			       .namelen = (uint8_t)len };
	tx_put(txn_cur, set ? OP_XATTR_SET : OP_XATTR_DEL, &r, sizeof(r),
	       name, len, value, size);
}

void fs_txn_rec_snapdir(struct fs_inode *dir, struct fs_inode *snapdir)
{
	struct op_snapdir r;

	if (!txn_cur)
		return;
	r = (struct op_snapdir){ .dir = dir->ino,
				 .snapdir = snapdir ? snapdir->ino : 0 };
	tx_put(txn_cur, OP_SNAPDIR, &r, sizeof(r), NULL, 0, NULL, 0);
}

static struct fs_inode *map_owner(struct mmfs_snap_map *m)
{
	return (struct fs_inode *)((char *)m - offsetof(struct fs_inode, map));
}

static void journal_set(void *arg, struct mmfs_snap_map *m, uint64_t idx,
			uint32_t entry)
{
	struct op_map_set r;

	if (!txn_cur)
		return;
	r = (struct op_map_set){ .ino = map_owner(m)->ino, .idx = idx,
				 .entry = entry };
	tx_put(txn_cur, OP_MAP_SET, &r, sizeof(r), NULL, 0, NULL, 0);
}

static void journal_punch(void *arg, struct mmfs_snap_map *m, uint64_t first,
			  uint64_t last)
{
	struct op_map_punch r;

	if (!txn_cur)
		return;
	r = (struct op_map_punch){ .ino = map_owner(m)->ino, .first = first,
				   .last = last };
	tx_put(txn_cur, OP_MAP_PUNCH, &r, sizeof(r), NULL, 0, NULL, 0);
}

static void journal_share(void *arg, struct mmfs_snap_map *dst,
			  uint64_t dfirst, const struct mmfs_snap_map *src,
			  uint64_t sfirst, uint64_t n)
{
	struct op_map_share r;

	if (!txn_cur)
		return;
	r = (struct op_map_share){
		.dst = map_owner(dst)->ino, .dfirst = dfirst,
		.src = map_owner((struct mmfs_snap_map *)src)->ino,
		.sfirst = sfirst, .n = n,
	};
	tx_put(txn_cur, OP_MAP_SHARE, &r, sizeof(r), NULL, 0, NULL, 0);
}

void fs_txn_commit(struct fs_txn *tx)
{
	struct fs_plog *pl = tx->fs->plog;
	unsigned i;
	uint32_t len;

	if (!tx->on)
		return;
	for (i = 0; i < tx->ndirty; i++)
		tx_inode(tx, tx->dirty[i]);
	tx->ndirty = 0;
	if (!tx->len && !tx->err)
		return;
	pthread_mutex_lock(&pl->stage_lock);
	if (!tx->err && pl->stage_len + 4 + tx->len > pl->stage_cap) {
		size_t cap = MMFS_MAX(pl->stage_cap * 2,
				      pl->stage_len + 4 + tx->len + 4096);
		char *p = realloc(pl->stage, cap);

		if (p) {
			pl->stage = p;
			pl->stage_cap = cap;
		} else {
			tx->err = -ENOMEM;
		}
	}
	if (!tx->err) {
		len = (uint32_t)tx->len;
		memcpy(pl->stage + pl->stage_len, &len, 4);
		memcpy(pl->stage + pl->stage_len + 4, tx->buf, tx->len);
		pl->stage_len += 4 + tx->len;
	}
	/* A big stage makes a big commit: start it before the timer. */
	tx->kick = pl->stage_len > mmfs_pool_log_bytes(pl->pool) / 8;
	pthread_mutex_unlock(&pl->stage_lock);
	tx->len = 0; /* a request may stage more later (fs_txn_end) */
	if (tx->err) {
		/* The change stands in memory but cannot be made durable. */
		mmfs_err("metadata change not logged (%s): syncs now fail "
			 "until remount", strerror(-tx->err));
		__atomic_store_n(&pl->err, -EIO, __ATOMIC_RELAXED);
	}
}

void fs_txn_end(struct fs_txn *tx)
{
	struct fs_plog *pl = tx->fs->plog;

	if (tx->on) {
		fs_txn_commit(tx);
		txn_cur = NULL;
		if (tx->buf != tx->inl)
			free(tx->buf);
		tx->on = false;
	}
	if (tx->locked) {
		pthread_rwlock_unlock(&tx->fs->plock);
		tx->locked = false;
	}
	if (tx->kick)
		mmfs_ticker_kick(pl->committer);
}

/*
 * epoch_close -- (internal) end a commit epoch. Its freed chunks become
 * allocatable only if the records freeing them are durable (@durable);
 * after a failed commit they stay unusable until the next mount, which
 * frees them from what the pool says.
 */
static void epoch_close(struct fs *fs, struct mmfs_tier_epoch *e,
			bool durable)
{
	if (!durable)
		e->nfreed = 0;
	mmfs_tier_epoch_end(fs->tier, e);
}

/* --- checkpoints ------------------------------------------------------------ */

struct ser {
	struct fs_plog *pl;
	char *buf;
	size_t len, cap;
	uint8_t *bits;
	struct mmfs_snap_saver *saver;
	int rc;
};

static void ser_flush(struct ser *s)
{
	if (s->rc == 0 && s->len)
		s->rc = mmfs_pool_ckpt_write(s->pl->pool, s->buf, s->len);
	s->len = 0;
}

static void ser_put(struct ser *s, uint8_t op, const void *fix, size_t fixlen,
		    const void *a, size_t alen, const void *b, size_t blen)
{
	const void *parts[3] = { fix, a, b };
	size_t lens[3] = { fixlen, alen, blen };
	int i;

	if (s->len + 1 > s->cap)
		ser_flush(s);
	s->buf[s->len++] = (char)op;
	for (i = 0; i < 3; i++) {
		const char *p = parts[i];
		size_t n = lens[i];

		while (n) {
			size_t take;

			if (s->len == s->cap)
				ser_flush(s);
			take = MMFS_MIN(n, s->cap - s->len);
			memcpy(s->buf + s->len, p, take);
			s->len += take;
			p += take;
			n -= take;
		}
	}
}

static int ser_inode(void *arg, struct fs_inode *in)
{
	struct ser *s = arg;
	struct op_inode r;

	pthread_mutex_lock(&in->alock);
	inode_rec(in, &r);
	pthread_mutex_unlock(&in->alock);
	ser_put(s, OP_INODE, &r, sizeof(r), in->target, r.target_len, NULL, 0);
	return s->rc;
}

static void ser_bit(struct ser *s, uint32_t entry)
{
	uint32_t id = entry & ~MMFS_SNAP_UNWRITTEN;

	s->bits[id >> 3] |= (uint8_t)(1u << (id & 7));
}

/* ser_node -- (internal) the saver's emit: one OP_NODE record */
static int ser_node(void *arg, uint32_t no, unsigned level, unsigned n,
		    const uint8_t *slot, const uint32_t *val)
{
	struct ser *s = arg;
	struct op_node r = { .no = no, .level = (uint8_t)level,
			     .n = (uint8_t)n };
	struct op_node_slot v[64];
	unsigned i;

	for (i = 0; i < n; i++) {
		v[i] = (struct op_node_slot){ .slot = slot[i], .val = val[i] };
		if (level == 1)
			ser_bit(s, val[i]);
	}
	ser_put(s, OP_NODE, &r, sizeof(r), v, n * sizeof(v[0]), NULL, 0);
	return s->rc;
}

static void ser_map(struct ser *s, struct fs_inode *in)
{
	struct op_map_root r = { .ino = in->ino };
	uint8_t height;
	uint32_t root;
	int rc;

	rc = mmfs_snap_save_map(s->saver, &in->map, &height, &root);
	r.height = height;
	r.root = root;
	if (rc < 0) {
		if (!s->rc)
			s->rc = rc;
		return;
	}
	if (!r.root)
		return; /* empty */
	if (r.height == 0)
		ser_bit(s, r.root);
	ser_put(s, OP_MAP_ROOT, &r, sizeof(r), NULL, 0, NULL, 0);
}

static void ser_xattrs(struct ser *s, struct fs_inode *in)
{
	struct fs_xattr *x, *stack[64];
	size_t n = 0;

	/* Oldest first, so that replay rebuilds the list in its order. */
	for (x = in->xattrs; x && n < MMFS_ARRAY_SIZE(stack); x = x->next)
		stack[n++] = x;
	MMFS_ASSERT(!x || n == MMFS_ARRAY_SIZE(stack));
	for (; x; x = x->next) { /* beyond 64: order is not worth a heap */
		struct op_xattr r = { .ino = in->ino, .size = x->size,
				      .namelen = x->namelen };

		ser_put(s, OP_XATTR_SET, &r, sizeof(r), x->name, x->namelen,
			x->value, x->size);
	}
	while (n--) {
		struct op_xattr r = { .ino = in->ino, .size = stack[n]->size,
				      .namelen = stack[n]->namelen };

		ser_put(s, OP_XATTR_SET, &r, sizeof(r), stack[n]->name,
			stack[n]->namelen, stack[n]->value, stack[n]->size);
	}
}

static int ser_content(void *arg, struct fs_inode *in)
{
	struct ser *s = arg;
	size_t i;

	pthread_rwlock_rdlock(&in->lock);
	ser_xattrs(s, in);
	if (S_ISREG(in->mode)) {
		ser_map(s, in);
	} else if (S_ISDIR(in->mode)) {
		for (i = 0; i < in->dir.norder; i++) {
			struct fs_dirent *de = in->dir.order[i].d;
			struct op_dent r;

			if (!de)
				continue;
			r = (struct op_dent){ .dir = in->ino,
					      .ino = de->inode->ino,
					      .namelen = de->namelen };
			ser_put(s, OP_DENT_ADD, &r, sizeof(r), de->name,
				de->namelen, NULL, 0);
		}
		if (in->dir.snapdir) {
			struct op_snapdir r = { .dir = in->ino,
						.snapdir = in->dir.snapdir->ino };

			ser_put(s, OP_SNAPDIR, &r, sizeof(r), NULL, 0, NULL, 0);
		}
	}
	pthread_rwlock_unlock(&in->lock);
	return s->rc;
}

/*
 * checkpoint_locked -- (internal) the whole namespace into the inactive
 * checkpoint area, made active at once. Holds plock exclusively: no
 * request changes metadata meanwhile, reads go on. commit_lock held.
 */
static int checkpoint_locked(struct fs_plog *pl)
{
	struct fs *fs = pl->fs;
	uint32_t max_id = mmfs_tier_max_id(fs->tier);
	struct mmfs_tier_epoch e;
	struct op_alloc a = { .max_id = max_id };
	struct op_gen g;
	struct ser s = { .pl = pl, .cap = 1u << 20 };
	int rc;

	s.buf = malloc(s.cap);
	s.bits = calloc(((size_t)max_id >> 3) + 1, 1);
	if (!s.buf || !s.bits || mmfs_snap_saver_new(ser_node, &s,
						     &s.saver) < 0) {
		rc = -ENOMEM;
		goto out_free;
	}
	pthread_rwlock_wrlock(&fs->plock);
	mmfs_tier_epoch_take(fs->tier, &e);
	/* Chunks first: the checkpoint names them (data=ordered). */
	mmfs_tier_writeback_all(fs->tier);
	rc = mmfs_pool_ckpt_begin(pl->pool);
	if (rc < 0)
		goto out_unlock;
	/* itable_lock: no inode is freed under the walk (inode.c). */
	pthread_mutex_lock(&fs->itable_lock);
	fs_inode_each(fs, ser_inode, &s);
	fs_inode_each(fs, ser_content, &s);
	g.gen_next = fs->gen_next;
	pthread_mutex_unlock(&fs->itable_lock);
	ser_put(&s, OP_GEN, &g, sizeof(g), NULL, 0, NULL, 0);
	ser_put(&s, OP_ALLOC, &a, sizeof(a), s.bits, ((size_t)max_id >> 3) + 1,
		NULL, 0);
	ser_flush(&s);
	rc = s.rc;
	if (rc == 0)
		rc = mmfs_pool_ckpt_commit(pl->pool, mmfs_pool_seq(pl->pool));
	if (rc < 0) {
		mmfs_pool_ckpt_abort(pl->pool);
		goto out_unlock;
	}
	/* Everything staged is in the checkpoint now. */
	pthread_mutex_lock(&pl->stage_lock);
	pl->stage_len = 0;
	pthread_mutex_unlock(&pl->stage_lock);
	pl->st.checkpoints++;
out_unlock:
	pthread_rwlock_unlock(&fs->plock);
	epoch_close(fs, &e, rc == 0);
out_free:
	mmfs_snap_saver_free(&s.saver);
	free(s.buf);
	free(s.bits);
	if (rc < 0) {
		mmfs_err("checkpoint failed: %s%s", strerror(-rc),
			 rc == -ENOSPC ? " (metadata area of the pool is full)"
				       : "");
		pl->err = rc == -ENOSPC ? -ENOSPC : -EIO;
	}
	return rc;
}

/* --- commits ----------------------------------------------------------------- */

/*
 * commit -- (internal) make durable every change staged so far, after the
 * chunks they name; with @all, every dirty chunk too.
 */
static int commit(struct fs_plog *pl, bool all)
{
	struct fs *fs = pl->fs;
	struct mmfs_tier_epoch e;
	char *stage;
	size_t len, off;
	bool full = false;
	int rc = 0;

	pthread_mutex_lock(&pl->commit_lock);
	/* Take the staged records and the epoch's chunks in one instant. */
	pthread_rwlock_wrlock(&fs->plock);
	pthread_mutex_lock(&pl->stage_lock);
	stage = pl->stage;
	len = pl->stage_len;
	pl->stage = NULL;
	pl->stage_len = pl->stage_cap = 0;
	pthread_mutex_unlock(&pl->stage_lock);
	mmfs_tier_epoch_take(fs->tier, &e);
	pthread_rwlock_unlock(&fs->plock);

	if (all)
		mmfs_tier_writeback_all(fs->tier);
	else
		mmfs_tier_writeback(fs->tier, e.fresh, e.nfresh);
	for (off = 0; off < len;) {
		uint32_t n;
		uint64_t seq;

		memcpy(&n, stage + off, 4);
		rc = mmfs_pool_log_append(pl->pool, stage + off + 4, n, &seq);
		if (rc == -ENOSPC) {
			full = true;
			break;
		}
		if (rc < 0)
			break;
		off += 4 + n;
		pl->st.log_records++;
	}
	free(stage);
	if (full) {
		/* The checkpoint covers what did not fit, and the rest. */
		rc = checkpoint_locked(pl);
	} else if (rc == 0) {
		mmfs_pool_log_persist(pl->pool);
		pl->st.commits++;
		if (mmfs_pool_log_used(pl->pool) >
		    mmfs_pool_log_bytes(pl->pool) / 2)
			rc = checkpoint_locked(pl);
	}
	epoch_close(fs, &e, rc == 0);
	if (rc < 0 && !pl->err)
		pl->err = -EIO;
	rc = pl->err;
	pthread_mutex_unlock(&pl->commit_lock);
	return rc;
}

int fs_persist_sync(struct fs *fs)
{
	if (!fs->plog || fs->plog->rdonly)
		return 0;
	/*
	 * Every dirty chunk, not only the fsync'd file's: what any write
	 * before this fsync stored is durable after it (as ext3's ordered
	 * mode, stronger than ext4's, which leaves other files' overwrites
	 * to writeback). It still costs only what is dirty, and the commit=
	 * timer bounds that to a few seconds of writes.
	 */
	return commit(fs->plog, true);
}

int fs_persist_room(struct fs *fs)
{
	struct fs_plog *pl = fs->plog;
	uint64_t ninodes = atomic_load(&fs->ninodes);
	struct mmfs_snap_stat ss;
	uint64_t need;
	int64_t heap;

	if (!pl)
		return 0;
	/*
	 * What the checkpoint will hold, bounded from above: 115 bytes per
	 * inode record (with a short symlink target) and 14 for its map root;
	 * for entries and xattrs the heap they take, which is more than their
	 * records (an entry is ~70 + name bytes of heap, 30 + name of record);
	 * each distinct map node 7 bytes and 5 per used slot, however many
	 * files share it; the allocation bitmap. So the namespace never
	 * outgrows the checkpoint area and every change stays durable.
	 */
	heap = atomic_load(&fs->meta_bytes) -
	       (int64_t)(ninodes * sizeof(struct fs_inode));
	mmfs_snap_stat(fs->snap, &ss);
	need = ninodes * (115 + 1 + sizeof(struct op_map_root)) +
	       (uint64_t)MMFS_MAX(heap, 0) +
	       (ss.leaves + ss.inners) * (1 + sizeof(struct op_node)) +
	       ss.slots * sizeof(struct op_node_slot) +
	       mmfs_tier_max_id(fs->tier) / 8 + 64;
	return need < pl->ckpt_bytes ? 0 : -ENOSPC;
}

bool fs_persist_reclaim(struct fs *fs)
{
	struct mmfs_tier_stat ts;

	if (!fs->plog || fs->plog->rdonly)
		return false;
	mmfs_tier_stat(fs->tier, &ts);
	if (!ts.pending_chunks)
		return false;
	return commit(fs->plog, false) == 0;
}

int fs_persist_checkpoint(struct fs *fs)
{
	struct fs_plog *pl = fs->plog;
	int rc;

	if (!pl || pl->rdonly)
		return -EROFS;
	pthread_mutex_lock(&pl->commit_lock);
	rc = checkpoint_locked(pl);
	pthread_mutex_unlock(&pl->commit_lock);
	return rc;
}

static void commit_tick(void *arg)
{
	commit(arg, true);
}

/* --- recovery ----------------------------------------------------------------- */

#define BAD(pl, ...)                                                          \
	(snprintf((pl)->why, MMFS_POOL_WHY, __VA_ARGS__), -EUCLEAN)

/* get_inode -- (internal) a live inode named by a record, of type @type */
static struct fs_inode *get_inode(struct fs *fs, uint64_t ino, uint32_t type)
{
	struct fs_inode *in = fs_inode_get(fs, ino);

	if (!in || (type && (in->mode & S_IFMT) != type))
		return NULL;
	return in;
}

static int apply_inode(struct fs_plog *pl, const struct op_inode *r,
		       const char *target)
{
	struct fs *fs = pl->fs;
	uint32_t type = r->mode & S_IFMT;
	struct fs_inode *in = fs_inode_get(fs, r->ino);
	/*
	 * The root's generation is 0 (FUSE wants it so); pools written before
	 * that stored 1. Fixed here, at load, for every record of the root,
	 * so the inode, fsck and the next checkpoint all agree.
	 */
	uint64_t gen = r->ino == FS_ROOT_INO ? 0 : r->gen;
	struct timespec *t[4];
	int rc, i;

	if (!r->ino || r->ino >= (uint64_t)FS_ITAB_TOP << FS_ITAB_LEAF_SHIFT)
		return BAD(pl, "inode number %llu out of range",
			   (unsigned long long)r->ino);
	if (!S_ISREG(type) && !S_ISDIR(type) && !S_ISLNK(type) &&
	    !S_ISCHR(type) && !S_ISBLK(type) && !S_ISFIFO(type) &&
	    !S_ISSOCK(type))
		return BAD(pl, "inode %llu: bad mode %o",
			   (unsigned long long)r->ino, r->mode);
	if (in && in->gen != gen) {
		/* The number was freed and reused: the old inode is gone. */
		if (atomic_load(&in->nlink) != 0)
			return BAD(pl, "inode %llu reused while still linked",
				   (unsigned long long)r->ino);
		fs_inode_destroy(fs, in);
		in = NULL;
	}
	if (!in) {
		rc = fs_inode_install(fs, r->ino, gen, r->mode, &in);
		if (rc < 0)
			return rc;
		if (S_ISDIR(type) && (rc = fs_dir_init(fs, &in->dir, NULL)) < 0)
			return rc;
	} else if ((in->mode & S_IFMT) != type) {
		return BAD(pl, "inode %llu changed type",
			   (unsigned long long)r->ino);
	}
	if (r->version < in->version)
		return 0; /* an older snapshot staged late: keep the newer */
	in->version = r->version;
	in->perm = r->mode & 07777;
	in->uid = r->uid;
	in->gid = r->gid;
	atomic_store(&in->nlink, r->nlink);
	in->rdev = r->rdev;
	if (S_ISREG(type)) {
		atomic_fetch_add(&fs->file_bytes,
				 (int64_t)r->size - (int64_t)in->size);
		in->size = r->size;
	}
	t[0] = &in->atime, t[1] = &in->mtime, t[2] = &in->ctime;
	t[3] = &in->btime;
	for (i = 0; i < 4; i++) {
		if (r->nsec[i] >= 1000000000u)
			return BAD(pl, "inode %llu: bad timestamp",
				   (unsigned long long)r->ino);
		t[i]->tv_sec = r->sec[i];
		t[i]->tv_nsec = r->nsec[i];
	}
	if (S_ISLNK(type) && r->target_len && !in->target) {
		in->target = strndup(target, r->target_len);
		if (!in->target)
			return -ENOMEM;
		atomic_fetch_add(&fs->meta_bytes, (int64_t)r->target_len + 1);
	}
	return 0;
}

static int apply_dent(struct fs_plog *pl, bool add, const struct op_dent *r,
		      const char *name)
{
	struct fs *fs = pl->fs;
	struct fs_inode *dir = get_inode(fs, r->dir, S_IFDIR);
	struct fs_inode *in;
	struct fs_dirent *de;
	char buf[FS_NAME_MAX + 1];

	if (!dir)
		return BAD(pl, "entry in missing directory %llu",
			   (unsigned long long)r->dir);
	if (r->namelen == 0 || memchr(name, '/', r->namelen) ||
	    memchr(name, 0, r->namelen))
		return BAD(pl, "directory %llu: bad entry name",
			   (unsigned long long)r->dir);
	memcpy(buf, name, r->namelen);
	buf[r->namelen] = 0;
	de = fs_dir_lookup(&dir->dir, buf);
	if (!add) {
		if (!de)
			return BAD(pl, "directory %llu: removing missing '%.64s'",
				   (unsigned long long)r->dir, buf);
		fs_dir_remove(fs, &dir->dir, de);
		return 0;
	}
	in = get_inode(fs, r->ino, 0);
	if (!in)
		return BAD(pl, "directory %llu: '%.64s' names missing inode %llu",
			   (unsigned long long)r->dir, buf,
			   (unsigned long long)r->ino);
	if (de)
		return BAD(pl, "directory %llu: '%.64s' added twice",
			   (unsigned long long)r->dir, buf);
	if (S_ISDIR(in->mode))
		in->dir.parent = dir;
	return fs_dir_add(fs, &dir->dir, buf, in);
}

static int apply_xattr(struct fs_plog *pl, bool set, const struct op_xattr *r,
		       const char *name, const char *value)
{
	struct fs_inode *in = get_inode(pl->fs, r->ino, 0);
	char buf[FS_XATTR_NAME_MAX + 1];
	int rc;

	if (!in)
		return BAD(pl, "xattr of missing inode %llu",
			   (unsigned long long)r->ino);
	memcpy(buf, name, r->namelen);
	buf[r->namelen] = 0;
	rc = set ? fs_xattr_set(pl->fs, in, buf, value, r->size, 0)
		 : fs_xattr_remove(pl->fs, in, buf);
	if (rc < 0 && rc != -ENOMEM)
		return BAD(pl, "inode %llu: xattr '%.64s': %s",
			   (unsigned long long)r->ino, buf, strerror(-rc));
	return rc;
}

static int apply_map(struct fs_plog *pl, uint8_t op, const void *p)
{
	struct op_map_set s;
	struct op_map_punch u;
	struct fs_inode *in;
	int rc;

	if (op == OP_MAP_SET) {
		memcpy(&s, p, sizeof(s));
		in = get_inode(pl->fs, s.ino, S_IFREG);
		if (!in)
			return BAD(pl, "chunk of missing file %llu",
				   (unsigned long long)s.ino);
		rc = mmfs_snap_map_set(pl->fs->snap, &in->map, s.idx, s.entry);
		if (rc == -EUCLEAN || rc == -EFBIG)
			return BAD(pl, "file %llu: bad chunk %u at index %llu",
				   (unsigned long long)s.ino, s.entry,
				   (unsigned long long)s.idx);
		return rc;
	}
	memcpy(&u, p, sizeof(u));
	in = get_inode(pl->fs, u.ino, S_IFREG);
	if (!in)
		return BAD(pl, "punch of missing file %llu",
			   (unsigned long long)u.ino);
	return mmfs_snap_map_punch(pl->fs->snap, &in->map, u.first, u.last);
}

static int apply_snapdir(struct fs_plog *pl, const struct op_snapdir *r)
{
	struct fs_inode *dir = get_inode(pl->fs, r->dir, S_IFDIR);
	struct fs_inode *sd = NULL;

	if (!dir)
		return BAD(pl, ".snap of missing directory %llu",
			   (unsigned long long)r->dir);
	if (r->snapdir) {
		sd = get_inode(pl->fs, r->snapdir, S_IFDIR);
		if (!sd || sd == dir)
			return BAD(pl, "directory %llu: bad .snap %llu",
				   (unsigned long long)r->dir,
				   (unsigned long long)r->snapdir);
		sd->dir.parent = dir;
		sd->is_snapdir = true;
	}
	dir->dir.snapdir = sd;
	return 0;
}

static int apply_share(struct fs_plog *pl, const struct op_map_share *r)
{
	struct fs_inode *dst = get_inode(pl->fs, r->dst, S_IFREG);
	struct fs_inode *src = get_inode(pl->fs, r->src, S_IFREG);
	uint64_t done;
	int rc;

	if (!dst || !src)
		return BAD(pl, "share between missing files %llu, %llu",
			   (unsigned long long)r->dst,
			   (unsigned long long)r->src);
	rc = mmfs_snap_map_share(pl->fs->snap, &dst->map, r->dfirst,
				 &src->map, r->sfirst, r->n, &done);
	if (rc == -EFBIG || rc == -EINVAL)
		return BAD(pl, "share of file %llu into %llu: bad range",
			   (unsigned long long)r->src,
			   (unsigned long long)r->dst);
	return rc;
}

static int apply_node(struct fs_plog *pl, const struct op_node *r,
		      const char *p)
{
	uint8_t slot[64];
	uint32_t val[64];
	unsigned i;
	int rc;

	if (!pl->loader)
		return BAD(pl, "map node outside a checkpoint");
	if (r->n > 64)
		return BAD(pl, "map node %u: %u slots", r->no, r->n);
	for (i = 0; i < r->n; i++) {
		struct op_node_slot v;

		memcpy(&v, p + i * sizeof(v), sizeof(v));
		slot[i] = v.slot;
		val[i] = v.val;
	}
	rc = mmfs_snap_load_node(pl->loader, r->no, r->level, r->n, slot, val);
	if (rc == -EUCLEAN)
		return BAD(pl, "map node %u (level %u) is malformed", r->no,
			   r->level);
	return rc;
}

static int apply_root(struct fs_plog *pl, const struct op_map_root *r)
{
	struct fs_inode *in = get_inode(pl->fs, r->ino, S_IFREG);
	int rc;

	if (!pl->loader)
		return BAD(pl, "map root outside a checkpoint");
	if (!in)
		return BAD(pl, "map of missing file %llu",
			   (unsigned long long)r->ino);
	rc = mmfs_snap_load_root(pl->loader, &in->map, r->height, r->root);
	if (rc == -EUCLEAN || rc == -EFBIG)
		return BAD(pl, "file %llu: bad map root %u at height %u",
			   (unsigned long long)r->ino, r->root, r->height);
	return rc;
}

/*
 * apply -- (internal) replay a run of records (one log record, or a whole
 * checkpoint body). Every length is checked against the buffer: a record
 * that passed its checksum is still not trusted to be well formed.
 */
static int apply(struct fs_plog *pl, const char *p, size_t len)
{
	const char *end = p + len;
	int rc = 0;

#define NEED(n)                                                               \
	do {                                                                  \
		if ((size_t)(end - p) < (size_t)(n))                          \
			return BAD(pl, "record truncated");                   \
	} while (0)
	while (p < end && rc == 0) {
		uint8_t op = (uint8_t)*p++;

		switch (op) {
		case OP_INODE: {
			struct op_inode r;

			NEED(sizeof(r));
			memcpy(&r, p, sizeof(r));
			p += sizeof(r);
			NEED(r.target_len);
			rc = apply_inode(pl, &r, p);
			p += r.target_len;
			break;
		}
		case OP_DENT_ADD:
		case OP_DENT_DEL: {
			struct op_dent r;

			NEED(sizeof(r));
			memcpy(&r, p, sizeof(r));
			p += sizeof(r);
			NEED(r.namelen);
			rc = apply_dent(pl, op == OP_DENT_ADD, &r, p);
			p += r.namelen;
			break;
		}
		case OP_MAP_SET:
			NEED(sizeof(struct op_map_set));
			rc = apply_map(pl, op, p);
			p += sizeof(struct op_map_set);
			break;
		case OP_MAP_PUNCH:
			NEED(sizeof(struct op_map_punch));
			rc = apply_map(pl, op, p);
			p += sizeof(struct op_map_punch);
			break;
		case OP_SNAPDIR: {
			struct op_snapdir r;

			NEED(sizeof(r));
			memcpy(&r, p, sizeof(r));
			p += sizeof(r);
			rc = apply_snapdir(pl, &r);
			break;
		}
		case OP_MAP_SHARE: {
			struct op_map_share r;

			NEED(sizeof(r));
			memcpy(&r, p, sizeof(r));
			p += sizeof(r);
			rc = apply_share(pl, &r);
			break;
		}
		case OP_NODE: {
			struct op_node r;

			NEED(sizeof(r));
			memcpy(&r, p, sizeof(r));
			p += sizeof(r);
			NEED((size_t)r.n * sizeof(struct op_node_slot));
			rc = apply_node(pl, &r, p);
			p += (size_t)r.n * sizeof(struct op_node_slot);
			break;
		}
		case OP_MAP_ROOT: {
			struct op_map_root r;

			NEED(sizeof(r));
			memcpy(&r, p, sizeof(r));
			p += sizeof(r);
			rc = apply_root(pl, &r);
			break;
		}
		case OP_XATTR_SET:
		case OP_XATTR_DEL: {
			struct op_xattr r;

			NEED(sizeof(r));
			memcpy(&r, p, sizeof(r));
			p += sizeof(r);
			if (r.namelen == 0 || r.size > FS_XATTR_SIZE_MAX)
				return BAD(pl, "bad xattr record");
			NEED((size_t)r.namelen + r.size);
			rc = apply_xattr(pl, op == OP_XATTR_SET, &r, p,
					 p + r.namelen);
			p += r.namelen + r.size;
			break;
		}
		case OP_ALLOC: {
			struct op_alloc r;

			NEED(sizeof(r));
			memcpy(&r, p, sizeof(r));
			p += sizeof(r);
			NEED(((size_t)r.max_id >> 3) + 1);
			pl->alloc_bits = (const uint8_t *)p;
			pl->alloc_max = r.max_id;
			p += ((size_t)r.max_id >> 3) + 1;
			break;
		}
		case OP_GEN: {
			struct op_gen r;

			NEED(sizeof(r));
			memcpy(&r, p, sizeof(r));
			p += sizeof(r);
			/* Recovery is single-threaded: no itable_lock needed */
			if (r.gen_next > pl->fs->gen_next)
				pl->fs->gen_next = r.gen_next;
			break;
		}
		default:
			return BAD(pl, "unknown record type %u", op);
		}
	}
#undef NEED
	return rc;
}

static int replay_one(void *arg, uint64_t seq, const void *rec, size_t len)
{
	struct fs_plog *pl = arg;
	int rc = apply(pl, rec, len);

	if (rc == -EUCLEAN) {
		char tmp[MMFS_POOL_WHY];

		snprintf(tmp, sizeof(tmp), "log record %llu: %.200s",
			 (unsigned long long)seq, pl->why);
		memcpy(pl->why, tmp, sizeof(tmp));
	}
	return rc;
}

/* check_alloc -- (internal) the checkpoint's bitmap against its maps */
static int check_alloc(struct fs_plog *pl)
{
	uint32_t max_id = mmfs_tier_max_id(pl->fs->tier);
	uint32_t id;
	int bad = 0;

	if (!pl->alloc_bits)
		return 0;
	if (pl->alloc_max != max_id)
		return BAD(pl, "checkpoint allocation map covers %u chunks, "
			   "pool has %u", pl->alloc_max, max_id);
	for (id = 1; id <= max_id; id++) {
		bool bit = pl->alloc_bits[id >> 3] & (1u << (id & 7));

		if (bit != mmfs_tier_chunk_claimed(pl->fs->tier, id))
			bad++;
	}
	pl->st.alloc_mismatch = bad;
	pl->alloc_bits = NULL;
	return 0;
}

struct fin {
	struct fs *fs;
	uint64_t orphans;
	struct fs_inode **list;
	size_t n, cap;
};

static int find_orphan(void *arg, struct fs_inode *in)
{
	struct fin *f = arg;

	if (S_ISREG(in->mode))
		in->blocks = mmfs_snap_map_chunks(&in->map);
	if (S_ISLNK(in->mode) && !in->target)
		in->target = strdup(""); /* never written: a dangling link */
	{
		size_t size;
		void *v = fs_xattr_peek(in, FS_XATTR_TIER, &size);
		int hint = v ? fs_hint_parse(v, size) : -1;

		/* Hints are persistent: the pins come back with them. */
		if (hint > 0) {
			in->hint = (uint8_t)hint;
			fs_hint_apply(f->fs, in);
		}
		v = fs_xattr_peek(in, FS_XATTR_IO, &size);
		in->io_direct = v && fs_io_parse(v, size) == 1;
	}
	if (in->ino == FS_ROOT_INO || atomic_load(&in->nlink) != 0)
		return 0;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		struct fs_inode **p = realloc(f->list, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		f->list = p;
		f->cap = cap;
	}
	f->list[f->n++] = in;
	return 0;
}

/*
 * finish -- (internal) after replay: derived fields, and the orphans of a
 * crash (unlinked while open) go, as ext4's orphan list does at mount.
 */
static int finish(struct fs_plog *pl, bool free_orphans)
{
	struct fin f = { .fs = pl->fs };
	size_t i;
	int rc;

	rc = fs_inode_each(pl->fs, find_orphan, &f);
	if (rc == 0 && free_orphans) {
		/* Empty directories first, so no entry outlives its inode. */
		for (i = 0; i < f.n; i++)
			if (S_ISDIR(f.list[i]->mode))
				fs_dir_fini(pl->fs, &f.list[i]->dir);
		for (i = 0; i < f.n; i++)
			fs_inode_destroy(pl->fs, f.list[i]);
	}
	pl->st.orphans_freed = f.n;
	free(f.list);
	return rc;
}

static void plog_free(struct fs_plog *pl)
{
	pthread_mutex_destroy(&pl->stage_lock);
	pthread_mutex_destroy(&pl->commit_lock);
	free(pl->stage);
	free(pl);
}

int fs_persist_open(struct fs *fs, struct mmfs_pool *pool,
		    const struct fs_persist_opts *o, char why[MMFS_POOL_WHY])
{
	static const struct mmfs_snap_journal journal = {
		.set = journal_set, .punch = journal_punch,
		.share = journal_share,
	};
	struct fs_plog *pl = calloc(1, sizeof(*pl));
	struct mmfs_pool_replay r = { 0 };
	struct mmfs_pool_info pi;
	const void *body;
	size_t len;
	bool fresh;
	int rc;

	if (!pl)
		return -ENOMEM;
	pl->fs = fs;
	pl->pool = pool;
	pl->rdonly = o->rdonly;
	pl->why = why;
	pl->commit_secs = o->commit_secs ? o->commit_secs : 5;
	pthread_mutex_init(&pl->stage_lock, NULL);
	pthread_mutex_init(&pl->commit_lock, NULL);
	why[0] = 0;

	mmfs_pool_get_info(pool, &pi);
	pl->ckpt_bytes = pi.ckpt_bytes;
	mmfs_pool_ckpt_get(pool, &body, &len);
	rc = mmfs_snap_loader_new(fs->snap, &pl->loader);
	if (rc < 0)
		goto out_fail;
	rc = apply(pl, body, len);
	/* Nodes no file took go now: the log below edits files, not nodes */
	mmfs_snap_loader_free(&pl->loader);
	if (rc == -EUCLEAN) {
		char tmp[MMFS_POOL_WHY];

		snprintf(tmp, sizeof(tmp), "checkpoint: %.200s", why);
		memcpy(why, tmp, sizeof(tmp));
	}
	if (rc == 0)
		rc = check_alloc(pl);
	if (rc == 0)
		rc = mmfs_pool_log_replay(pool, replay_one, pl, &r, why);
	if (rc < 0)
		goto out_fail;
	pl->st.replayed = r.records;
	pl->st.torn_tail = r.torn_tail;
	fresh = len == 0 && r.records == 0;
	if (!fresh && !fs_inode_get(fs, FS_ROOT_INO)) {
		rc = BAD(pl, "no root directory");
		goto out_fail;
	}
	rc = finish(pl, !o->rdonly);
	if (rc == 0)
		rc = fs_snap_load(fs);
	if (rc < 0)
		goto out_fail;
	if (fresh && !o->rdonly) {
		rc = fs_root_new(fs, o->root_mode, o->root_uid, o->root_gid);
		if (rc < 0)
			goto out_fail;
	} else if (!fresh) {
		fs_inode_ref(fs_inode_get(fs, FS_ROOT_INO));
		fs_inode_get(fs, FS_ROOT_INO)->dir.parent =
			fs_inode_get(fs, FS_ROOT_INO);
	}
	fs_inode_renumber(fs);
	rc = mmfs_tier_ready(fs->tier);
	if (rc < 0)
		goto out_fail;
	mmfs_snap_set_journal(fs->snap, &journal);
	fs->plog = pl;
	if (o->rdonly)
		return 0;

	rc = mmfs_pool_set_clean(pool, false);
	if (rc == 0 && (fresh || r.records || pl->st.orphans_freed ||
			!pi.clean))
		rc = fs_persist_checkpoint(fs);
	if (rc < 0) {
		snprintf(why, MMFS_POOL_WHY, "cannot write the pool: %s",
			 strerror(-rc));
		fs->plog = NULL;
		goto out_fail;
	}
	return 0;

out_fail:
	plog_free(pl);
	return rc;
}

int fs_persist_start(struct fs *fs)
{
	struct fs_plog *pl = fs->plog;

	if (!pl || pl->rdonly || pl->committer)
		return 0;
	return mmfs_ticker_start(pl->commit_secs * 1000u, commit_tick, pl,
				 &pl->committer);
}

void fs_persist_set_commit(struct fs *fs, unsigned secs)
{
	struct fs_plog *pl = fs->plog;

	/* The ticker stays (request threads kick it); its period changes. */
	if (pl && secs)
		mmfs_ticker_set_period(pl->committer, secs * 1000u);
}

int fs_persist_close(struct fs *fs, bool clean)
{
	struct fs_plog *pl = fs->plog;
	int rc = 0;

	if (!pl)
		return 0;
	mmfs_ticker_stop(&pl->committer);
	if (clean && !pl->rdonly) {
		rc = fs_persist_checkpoint(fs);
		if (rc == 0 && pl->err == 0)
			rc = mmfs_pool_set_clean(pl->pool, true);
	}
	fs->plog = NULL;
	plog_free(pl);
	return rc;
}

void fs_persist_stat(struct fs *fs, struct fs_persist_stat *st)
{
	struct fs_plog *pl = fs->plog;

	memset(st, 0, sizeof(*st));
	if (!pl)
		return;
	pthread_mutex_lock(&pl->commit_lock);
	*st = pl->st;
	st->log_bytes_used = mmfs_pool_log_used(pl->pool);
	pthread_mutex_unlock(&pl->commit_lock);
}

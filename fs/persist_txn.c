/* SPDX-License-Identifier: Apache-2.0 */
/*
 * persist_txn.c -- building transactions: fs_txn_begin .. fs_txn_end
 * bracket one request's metadata change; the recorders (fs_txn_rec_*,
 * fs_txn_dirty, the map journal) append its records to the open
 * transaction, and fs_txn_commit stages them for the next commit. A leaf:
 * it takes only plock (begin/end), an inode's alock and stage_lock.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/persist_i.h"
#include "utils/err.h"
#include "utils/held.h"
#include "utils/log.h"
#include "utils/ticker.h"

static __thread struct fs_txn *txn_cur;
/*
 * Writable pools whose recorders are live (fs_persist_start .. _close). A
 * metadata change on one outside fs_txn_begin .. fs_txn_end would stand in
 * memory and vanish at a crash: rec_txn makes it an assertion failure in
 * debug builds. Process-wide, as an inode does not name its fs: a process
 * that mounts a pool changes no volatile fs's metadata meanwhile (the
 * daemon holds one fs; unit tests run them one at a time).
 */
static atomic_uint pools_live;

static bool no_pool_recording(void)
{
	return atomic_load(&pools_live) == 0;
}

/* rec_txn -- (internal) the open transaction a recorder appends to */
static struct fs_txn *rec_txn(void)
{
	struct fs_txn *tx = txn_cur;

	MMFS_DEBUG_ASSERT(tx || no_pool_recording());
	return tx;
}

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
void plog_inode_rec(struct fs_inode *in, struct op_inode *r)
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
	plog_inode_rec(in, &r);
	pthread_mutex_unlock(&in->alock);
	tx_put(tx, OP_INODE, &r, sizeof(r), plog_inode_target(in),
	       r.target_len, NULL, 0);
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
	struct fs_txn *tx = rec_txn();
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
	struct fs_txn *tx = rec_txn();
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
	struct fs_txn *tx = rec_txn();

	if (tx)
		tx_inode(tx, in);
}

void fs_txn_rec_dent(const struct fs_dir *d, const char *name, size_t len,
		     uint64_t ino)
{
	const struct fs_inode *dir;
	struct op_dent r;

	if (!rec_txn())
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

	if (!rec_txn())
		return;
	r = (struct op_xattr){ .ino = in->ino, .size = (uint32_t)size,
			       .namelen = (uint8_t)len };
	tx_put(txn_cur, set ? OP_XATTR_SET : OP_XATTR_DEL, &r, sizeof(r),
	       name, len, value, size);
}

void fs_txn_rec_snapdir(struct fs_inode *dir, struct fs_inode *snapdir)
{
	struct op_snapdir r;

	if (!rec_txn())
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

	if (!rec_txn())
		return;
	r = (struct op_map_set){ .ino = map_owner(m)->ino, .idx = idx,
				 .entry = entry };
	tx_put(txn_cur, OP_MAP_SET, &r, sizeof(r), NULL, 0, NULL, 0);
}

static void journal_punch(void *arg, struct mmfs_snap_map *m, uint64_t first,
			  uint64_t last)
{
	struct op_map_punch r;

	if (!rec_txn())
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

	if (!rec_txn())
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

const struct mmfs_snap_journal plog_journal = {
	.set = journal_set, .punch = journal_punch, .share = journal_share,
};

void plog_recording(bool on)
{
	if (on)
		atomic_fetch_add(&pools_live, 1);
	else
		atomic_fetch_sub(&pools_live, 1);
}

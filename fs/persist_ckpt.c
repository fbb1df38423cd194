/* SPDX-License-Identifier: Apache-2.0 */
/*
 * persist_ckpt.c -- checkpoints: every inode, entry, xattr and distinct map
 * node as records, with the chunk allocation bitmap and the generation
 * counter, into the pool's inactive checkpoint area, then made active at
 * once (the log empties). Holds plock exclusively while it serializes.
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
	plog_inode_rec(in, &r);
	pthread_mutex_unlock(&in->alock);
	ser_put(s, OP_INODE, &r, sizeof(r), plog_inode_target(in),
		r.target_len, NULL, 0);
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

/*
 * ckpt_inode_rdlock -- (internal) an inode's ->lock under itable_lock, the
 * inverse of inode creation's order, safe because plock keeps the two
 * apart (fs/LOCKING.md, after the table). Its own function so that the
 * race run's suppression (tests/tsan.supp) names this one acquisition.
 */
static __attribute__((noinline)) void ckpt_inode_rdlock(struct fs_inode *in)
{
	pthread_rwlock_rdlock(&in->lock);
}

static int ser_content(void *arg, struct fs_inode *in)
{
	struct ser *s = arg;
	size_t i;

	ckpt_inode_rdlock(in);
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
int plog_checkpoint_locked(struct fs_plog *pl)
{
	struct fs *fs = pl->fs;
	uint32_t max_id = mmfs_tier_max_id(fs->tier);
	struct mmfs_tier_epoch e;
	struct op_alloc a = { .max_id = max_id };
	struct op_gen g;
	struct ser s = { .pl = pl, .cap = 1u << 20 };
	int rc;

	MMFS_HELD(&pl->commit_lock);
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
	plog_epoch_close(fs, &e, rc == 0);
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

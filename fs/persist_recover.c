/* SPDX-License-Identifier: Apache-2.0 */
/*
 * persist_recover.c -- loading a pool: the active checkpoint, then the log
 * replayed record by record (each request whole or not at all), every
 * record checked against the namespace it edits (a corrupt pool is
 * refused with one line, never trusted), the allocation bitmap against the
 * maps, and the orphans (unlinked while open at a crash) freed, as ext4's
 * orphan list does at mount.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/persist_i.h"
#include "utils/err.h"
#include "utils/log.h"

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

void plog_free(struct fs_plog *pl)
{
	pthread_mutex_destroy(&pl->stage_lock);
	pthread_mutex_destroy(&pl->commit_lock);
	free(pl->stage);
	free(pl);
}

int fs_persist_open(struct fs *fs, struct mmfs_pool *pool,
		    const struct fs_persist_opts *o, char why[MMFS_POOL_WHY])
{
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
	mmfs_snap_set_journal(fs->snap, &plog_journal);
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

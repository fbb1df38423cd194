/* SPDX-License-Identifier: Apache-2.0 */
/*
 * data.c -- regular file data on chunk maps: the read and write paths hand
 * out iovecs into chunk memory so that fuse_ops.c copies bytes once (kernel
 * buffer <-> chunk), plus truncate, fallocate, SEEK_DATA/SEEK_HOLE and
 * copy_file_range. Callers hold the inode's ->lock as fs_i.h says.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/fs_i.h"
#include "utils/err.h"

static inline uint64_t chunk_idx(const struct fs *fs, uint64_t off)
{
	return off >> fs->chunk_shift;
}

static inline size_t chunk_off(const struct fs *fs, uint64_t off)
{
	return (size_t)(off & (fs->chunk_size - 1));
}

static inline char *chunk_mem(struct fs *fs, uint32_t id)
{
	return mmfs_tier_chunk_addr(fs->tier, id);
}

int fs_data_iov_max(const struct fs *fs, size_t len)
{
	return (int)(len >> fs->chunk_shift) + 2;
}

/* iov_add -- (internal) append, merging with a contiguous previous entry */
static int iov_add(struct iovec *iov, int n, void *base, size_t len)
{
	if (n && (char *)iov[n - 1].iov_base + iov[n - 1].iov_len == base) {
		iov[n - 1].iov_len += len;
		return n;
	}
	iov[n].iov_base = base;
	iov[n].iov_len = len;
	return n + 1;
}

/* sync_size_locked -- (internal) publish size and block count to stat */
static void publish(struct fs *fs, struct fs_inode *in, uint64_t size,
		    bool times)
{
	struct timespec now;

	if (times)
		fs_now(&now);
	pthread_mutex_lock(&in->alock);
	atomic_fetch_add(&fs->file_bytes, (int64_t)size - (int64_t)in->size);
	in->size = size;
	in->blocks = mmfs_snap_map_chunks(&in->map);
	if (times)
		in->mtime = in->ctime = now;
	pthread_mutex_unlock(&in->alock);
	fs_txn_dirty(in);
}

/*
 * mark_dirty -- (internal) bytes were stored into [off, off+len): on a
 * pool, their chunks need a writeback before a sync is done; with two
 * tiers, a migration copying them must copy again.
 */
static void mark_dirty(struct fs *fs, struct fs_inode *in, uint64_t off,
		       size_t len)
{
	uint64_t idx, last;

	if (!len || !mmfs_tier_tiered(fs->tier))
		return;
	last = chunk_idx(fs, off + len - 1);
	for (idx = chunk_idx(fs, off); idx <= last; idx++) {
		uint32_t id = mmfs_snap_map_lookup(&in->map, idx);

		if (id)
			mmfs_tier_chunk_dirty(fs->tier, id);
	}
}

int fs_data_read_iov(struct fs *fs, struct fs_inode *in, uint64_t off,
		     size_t len, struct iovec *iov, int max, size_t *bytes)
{
	const char *zero = mmfs_tier_zero(fs->tier);
	uint64_t pos, end;
	int n = 0;

	*bytes = 0;
	if (off >= in->size)
		return 0;
	end = off + MMFS_MIN((uint64_t)len, in->size - off);
	for (pos = off; pos < end && n < max;) {
		size_t coff = chunk_off(fs, pos);
		size_t take = MMFS_MIN(fs->chunk_size - coff, end - pos);
		uint32_t id = mmfs_snap_map_lookup(&in->map, chunk_idx(fs, pos));
		char *base = id ? chunk_mem(fs, id) : (char *)zero;

		if (id)
			mmfs_tier_access(fs->tier, id, take, false);
		n = iov_add(iov, n, base + coff, take);
		pos += take;
	}
	*bytes = pos - off;
	return n;
}

int fs_data_write_iov(struct fs *fs, struct fs_inode *in, uint64_t off,
		      size_t len, struct iovec *iov, int max, size_t *bytes)
{
	uint64_t pos, end = off + len;
	int n = 0;
	int rc;

	*bytes = 0;
	if (end < off || end > FS_MAX_FILE_SIZE)
		return -EFBIG;
	for (pos = off; pos < end && n < max;) {
		size_t coff = chunk_off(fs, pos);
		size_t take = MMFS_MIN(fs->chunk_size - coff, end - pos);
		uint32_t id;

		rc = mmfs_snap_map_write_prep(fs->snap, &in->map,
					      chunk_idx(fs, pos), &id);
		if (rc < 0) {
			/* A short write keeps what fit, as write(2) does. */
			if (pos == off)
				return rc;
			break;
		}
		/* chunk_mem first: it holds the chunk where access looks. */
		n = iov_add(iov, n, chunk_mem(fs, id) + coff, take);
		mmfs_tier_access(fs->tier, id, take, true);
		pos += take;
	}
	*bytes = pos - off;
	return n;
}

void fs_data_write_done(struct fs *fs, struct fs_inode *in, uint64_t off,
			size_t written)
{
	uint64_t end = off + written;

	mark_dirty(fs, in, off, written);
	if (in->hint != MMFS_HINT_AUTO && written) {
		uint64_t idx, last = chunk_idx(fs, end - 1);

		/* New chunks of a pinned file are pinned too. */
		for (idx = chunk_idx(fs, off); idx <= last; idx++) {
			uint32_t id = mmfs_snap_map_lookup(&in->map, idx);

			if (id)
				mmfs_tier_chunk_hint(fs->tier, id, in->hint);
		}
	}
	publish(fs, in, end > in->size ? end : in->size, true);
}

/*
 * zero_range -- (internal) make [off, end) read as zeros: whole chunks
 * become holes (their memory goes back), partial ones are cleared in place
 * after being unshared. Fails only if unsharing needs a chunk and none is
 * left; then nothing has been changed.
 */
static int zero_range(struct fs *fs, struct fs_inode *in, uint64_t off,
		      uint64_t end)
{
	uint64_t first = chunk_idx(fs, off + fs->chunk_size - 1);
	uint64_t last_excl = chunk_idx(fs, end);
	uint64_t edges[2][2] = { { off, 0 }, { 0, end } };
	int nedges = 0;
	int i;

	if (off >= end)
		return 0;
	if (first >= last_excl) {
		/* No whole chunk: at most one or two partial pieces. */
		if (chunk_idx(fs, off) == chunk_idx(fs, end - 1)) {
			edges[0][1] = end;
			nedges = 1;
		} else {
			edges[0][1] = first << fs->chunk_shift;
			edges[1][0] = last_excl << fs->chunk_shift;
			nedges = 2;
		}
	} else {
		if (chunk_off(fs, off)) {
			edges[0][1] = first << fs->chunk_shift;
			nedges = 1;
		}
		if (chunk_off(fs, end)) {
			edges[nedges][0] = last_excl << fs->chunk_shift;
			edges[nedges][1] = end;
			nedges++;
		}
	}
	/* Edges first: they are the only step that can fail. */
	for (i = 0; i < nedges; i++) {
		uint64_t a = edges[i][0], b = edges[i][1];
		uint32_t id = mmfs_snap_map_lookup(&in->map, chunk_idx(fs, a));
		uint64_t data;
		int rc;

		if (!id || a >= b)
			continue;
		/*
		 * An unwritten chunk reads as zeros already, and stays
		 * unwritten as ext4's extents do (it may lie beyond EOF,
		 * where written data must not).
		 */
		if (mmfs_snap_map_next_data(&in->map, chunk_idx(fs, a),
					    &data) < 0 ||
		    data != chunk_idx(fs, a))
			continue;
		rc = mmfs_snap_map_write_prep(fs->snap, &in->map,
					      chunk_idx(fs, a), &id);
		if (rc < 0)
			return rc;
		memset(chunk_mem(fs, id) + chunk_off(fs, a), 0, b - a);
		mmfs_tier_chunk_dirty(fs->tier, id);
	}
	if (first < last_excl)
		return mmfs_snap_map_punch(fs->snap, &in->map, first,
					   last_excl - 1);
	return 0;
}

int fs_data_truncate(struct fs *fs, struct fs_inode *in, uint64_t size)
{
	int rc;

	if (size > FS_MAX_FILE_SIZE)
		return -EFBIG;
	/*
	 * Shrinking clears the new tail chunk (so that growing again reads
	 * zeros) and frees every chunk beyond it, also those preallocated past
	 * EOF with FALLOC_FL_KEEP_SIZE, as ext4 does.
	 */
	if (size <= in->size && in->blocks) {
		/* To the end of the index space: an aligned end, no edge. */
		rc = zero_range(fs, in, size, (uint64_t)1 << 63);
		if (rc < 0)
			return rc;
	}
	publish(fs, in, size, size != in->size);
	return 0;
}

/* allocate -- (internal) back [off, end) with chunks; all or nothing */
static int allocate(struct fs *fs, struct fs_inode *in, uint64_t off,
		    uint64_t end)
{
	uint64_t first = chunk_idx(fs, off), last = chunk_idx(fs, end - 1);
	uint64_t (*runs)[2] = NULL, (*grown)[2];
	size_t nruns = 0, cap = 0, i;
	uint64_t idx;
	bool open_run = false;
	int rc = 0;

	/*
	 * Preallocate every hole, remembering the runs this call filled, so
	 * that a failure gives back exactly what it took (tmpfs undoes a
	 * failed fallocate too; half an allocation would only hide ENOSPC).
	 * Written data is skipped a run at a time; chunks preallocated
	 * earlier are left alone, and end the current run.
	 */
	for (idx = first; idx <= last; idx++) {
		if (!open_run) {
			idx = mmfs_snap_map_next_hole(&in->map, idx);
			if (idx > last)
				break;
		}
		if (mmfs_snap_map_lookup(&in->map, idx)) {
			open_run = false; /* preallocated before: not ours */
			continue;
		}
		if (!open_run) {
			if (nruns == cap) {
				cap = cap ? cap * 2 : 8;
				grown = realloc(runs, cap * sizeof(*runs));
				if (!grown) {
					rc = -ENOMEM;
					goto out_undo;
				}
				runs = grown;
			}
			runs[nruns][0] = idx;
			runs[nruns++][1] = idx;
			open_run = true;
		}
		rc = mmfs_snap_map_prealloc(fs->snap, &in->map, idx);
		if (rc < 0)
			goto out_undo;
		runs[nruns - 1][1] = idx + 1;
	}
	free(runs);
	return 0;

out_undo:
	/*
	 * The runs' paths were made private when they were filled, so
	 * punching them needs no copy and cannot fail.
	 */
	for (i = 0; i < nruns; i++)
		if (runs[i][1] > runs[i][0])
			(void)mmfs_snap_map_punch(fs->snap, &in->map,
						  runs[i][0], runs[i][1] - 1);
	free(runs);
	return rc;
}

int fs_data_fallocate(struct fs *fs, struct fs_inode *in, int mode,
		      uint64_t off, uint64_t len)
{
	bool keep = mode & FALLOC_FL_KEEP_SIZE;
	uint64_t end = off + len;
	int rc;

	if (len == 0)
		return -EINVAL;
	if (end < off || end > FS_MAX_FILE_SIZE)
		return -EFBIG;
	switch (mode & ~FALLOC_FL_KEEP_SIZE) {
	case 0:
		rc = allocate(fs, in, off, end);
		break;
	case FALLOC_FL_PUNCH_HOLE:
		if (!keep)
			return -EOPNOTSUPP;
		rc = zero_range(fs, in, off, end);
		break;
	case FALLOC_FL_ZERO_RANGE:
		/*
		 * As ext4: the range reads zeros and stays allocated (unwritten
		 * chunks), so that writing it later cannot fail with ENOSPC.
		 */
		rc = zero_range(fs, in, off, end);
		if (rc == 0)
			rc = allocate(fs, in, off, end);
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (rc < 0)
		return rc;
	publish(fs, in, !keep && end > in->size ? end : in->size, true);
	return 0;
}

int64_t fs_data_seek(struct fs *fs, struct fs_inode *in, int64_t off,
		     int whence)
{
	uint64_t size = in->size;
	uint64_t idx, pos;

	if (off < 0 || (uint64_t)off >= size)
		return -ENXIO;
	if (whence == SEEK_DATA) {
		if (mmfs_snap_map_next_data(&in->map, chunk_idx(fs, off),
					    &idx) < 0)
			return -ENXIO;
		if (idx > chunk_idx(fs, size - 1))
			return -ENXIO;
		pos = idx << fs->chunk_shift;
		return (int64_t)MMFS_MAX(pos, (uint64_t)off);
	}
	if (whence != SEEK_HOLE)
		return -EINVAL;
	idx = mmfs_snap_map_next_hole(&in->map, chunk_idx(fs, off));
	if (idx > chunk_idx(fs, size - 1))
		return (int64_t)size;
	pos = MMFS_MAX(idx << fs->chunk_shift, (uint64_t)off);
	return (int64_t)MMFS_MIN(pos, size);
}

/* copy_bytes -- (internal) copy [s, s+len) of src to d in dst, byte by byte */
static int64_t copy_bytes(struct fs *fs, struct fs_inode *src, uint64_t soff,
			  struct fs_inode *dst, uint64_t doff, uint64_t len)
{
	uint64_t pos = 0;
	int rc;

	while (pos < len) {
		uint64_t s = soff + pos, d = doff + pos;
		size_t take = MMFS_MIN(fs->chunk_size - chunk_off(fs, s),
				       fs->chunk_size - chunk_off(fs, d));
		uint32_t sid, did;

		take = (size_t)MMFS_MIN((uint64_t)take, len - pos);
		sid = mmfs_snap_map_lookup(&src->map, chunk_idx(fs, s));
		did = mmfs_snap_map_lookup(&dst->map, chunk_idx(fs, d));
		if (!sid && !did) {
			pos += take; /* a hole onto a hole stays a hole */
			continue;
		}
		rc = mmfs_snap_map_write_prep(fs->snap, &dst->map,
					      chunk_idx(fs, d), &did);
		if (rc < 0) {
			if (pos)
				break;
			return rc;
		}
		/* Re-read: unsharing dst may not move src, but be exact. */
		sid = mmfs_snap_map_lookup(&src->map, chunk_idx(fs, s));
		if (sid)
			memmove(chunk_mem(fs, did) + chunk_off(fs, d),
				chunk_mem(fs, sid) + chunk_off(fs, s), take);
		else
			memset(chunk_mem(fs, did) + chunk_off(fs, d), 0, take);
		pos += take;
	}
	mark_dirty(fs, dst, doff, pos);
	return (int64_t)pos;
}

/*
 * share_chunks -- (internal) dst's chunks from @dfirst on become src's
 * from @sfirst on: @n of them, or with @to_end everything src holds from
 * there (the chunk past EOF included: its bytes beyond EOF are zeros).
 * Returns the chunks shared (at most @n), or -errno when none was.
 */
static int64_t share_chunks(struct fs *fs, struct fs_inode *src,
			    uint64_t sfirst, struct fs_inode *dst,
			    uint64_t dfirst, uint64_t n, bool to_end)
{
	uint64_t want = n, done;
	int rc;

	/*
	 * Within one file "to the end" would overlap the range itself (the
	 * map refuses that with EINVAL): there the @n chunks are all.
	 */
	if (to_end && dst != src)
		want = MMFS_SNAP_ALL - MMFS_MAX(sfirst, dfirst);
	rc = mmfs_snap_map_share(fs->snap, &dst->map, dfirst, &src->map,
				 sfirst, want, &done);
	if (rc < 0 && done == 0)
		return rc;
	if (dst->hint != MMFS_HINT_AUTO)
		fs_hint_apply(fs, dst); /* one placement: see tier/README.md */
	return (int64_t)MMFS_MIN(done, n);
}

int64_t fs_data_copy(struct fs *fs, struct fs_inode *src, uint64_t soff,
		     struct fs_inode *dst, uint64_t doff, size_t len)
{
	uint64_t end, head, whole, pos = 0;
	bool to_end;
	int64_t n;

	if (soff >= src->size)
		return 0;
	len = (size_t)MMFS_MIN((uint64_t)len, src->size - soff);
	if (doff + len < doff || doff + len > FS_MAX_FILE_SIZE)
		return -EFBIG;
	if (chunk_off(fs, soff) != chunk_off(fs, doff) || fs->null_io) {
		/* No chunk lines up: every byte is copied, a bounded run */
		len = MMFS_MIN(len, FS_COPY_BYTES_MAX);
		n = copy_bytes(fs, src, soff, dst, doff, len);
		goto out;
	}
	/*
	 * Offsets agree within a chunk: the unaligned head is copied, whole
	 * chunks are shared. So is the last, partial one when the range ends
	 * at src's EOF and nothing of dst lies beyond the range (its bytes
	 * past EOF are zeros on both sides): then `cp` shares every chunk.
	 */
	len = MMFS_MIN(len, FS_COPY_SHARE_MAX);
	end = soff + len;
	head = chunk_off(fs, soff) ? MMFS_MIN(len, fs->chunk_size -
						   chunk_off(fs, soff))
				   : 0;
	if (head) {
		n = copy_bytes(fs, src, soff, dst, doff, head);
		if (n < 0 || (uint64_t)n < head)
			goto out;
		pos = head;
	}
	to_end = end == src->size && dst->size <= doff + len;
	whole = (len - pos) >> fs->chunk_shift;
	/*
	 * The partial last chunk goes shared only if the range reaches its
	 * start: a head that took the whole range ended inside that chunk,
	 * whose bytes before doff are dst's own.
	 */
	if (to_end && chunk_off(fs, end) && pos < len)
		whole++;
	if (whole) {
		n = share_chunks(fs, src, chunk_idx(fs, soff + pos), dst,
				 chunk_idx(fs, doff + pos), whole, to_end);
		if (n < 0) {
			if (pos)
				goto done;
			goto out;
		}
		pos = MMFS_MIN(pos + ((uint64_t)n << fs->chunk_shift), len);
		if ((uint64_t)n < whole)
			goto done;
	}
	if (pos < len) {
		n = copy_bytes(fs, src, soff + pos, dst, doff + pos, len - pos);
		if (n > 0)
			pos += (uint64_t)n;
		else if (!pos)
			goto out;
	}
done:
	n = (int64_t)pos;
out:
	if (n > 0)
		publish(fs, dst, MMFS_MAX(doff + (uint64_t)n, dst->size), true);
	return n;
}

/* --- tier hints and the virtual xattrs -------------------------------------- */

/* word -- (internal) the index of @value in @names, or -EINVAL */
static int word(const void *value, size_t size, const char *const *names,
		size_t nnames)
{
	const char *v = value;
	size_t i, n = size;

	/* setfattr sends no NUL; echo-style tools may add a newline. */
	while (n && (v[n - 1] == '\n' || v[n - 1] == '\0'))
		n--;
	for (i = 0; i < nnames; i++)
		if (n == strlen(names[i]) && !memcmp(v, names[i], n))
			return (int)i;
	return -EINVAL;
}

int fs_hint_parse(const void *value, size_t size)
{
	/* In enum mmfs_tier_hint order. */
	static const char *const names[] = { "auto", "dram", "pmem" };

	return word(value, size, names, MMFS_ARRAY_SIZE(names));
}

int fs_io_parse(const void *value, size_t size)
{
	static const char *const names[] = { "cached", "direct" };

	return word(value, size, names, MMFS_ARRAY_SIZE(names));
}

struct hint_walk {
	struct fs *fs;
	enum mmfs_tier_hint hint;
	uint64_t n[MMFS_TIER_COUNT];
	uint64_t heat_sum, hot, max;
};

static int hint_one(void *arg, uint64_t idx, uint32_t entry)
{
	struct hint_walk *w = arg;

	mmfs_tier_chunk_hint(w->fs->tier, entry & ~MMFS_SNAP_UNWRITTEN,
			     w->hint);
	return 0;
}

void fs_hint_apply(struct fs *fs, struct fs_inode *in)
{
	struct hint_walk w = { .fs = fs, .hint = in->hint };

	if (S_ISREG(in->mode))
		mmfs_snap_map_walk(&in->map, hint_one, &w);
}

static int count_one(void *arg, uint64_t idx, uint32_t entry)
{
	struct hint_walk *w = arg;
	uint32_t id = entry & ~MMFS_SNAP_UNWRITTEN;
	uint16_t heat = mmfs_tier_chunk_heat(w->fs->tier, id);

	w->n[mmfs_tier_chunk_tier(w->fs->tier, id)]++;
	w->heat_sum += heat;
	w->hot += heat >= 2;
	w->max = MMFS_MAX(w->max, (uint64_t)heat);
	return 0;
}

int fs_residency(struct fs *fs, struct fs_inode *in, char *buf, size_t len)
{
	struct hint_walk w = { .fs = fs };

	if (S_ISREG(in->mode))
		mmfs_snap_map_walk(&in->map, count_one, &w);
	return snprintf(buf, len, "dram=%llu pmem=%llu",
			(unsigned long long)(w.n[MMFS_TIER_DRAM] *
					     fs->chunk_size),
			(unsigned long long)(w.n[MMFS_TIER_PMEM] *
					     fs->chunk_size));
}

int fs_heat(struct fs *fs, struct fs_inode *in, char *buf, size_t len)
{
	struct hint_walk w = { .fs = fs };
	uint64_t n;

	if (S_ISREG(in->mode))
		mmfs_snap_map_walk(&in->map, count_one, &w);
	n = w.n[MMFS_TIER_DRAM] + w.n[MMFS_TIER_PMEM];
	return snprintf(buf, len, "chunks=%llu hot=%llu mean=%.1f max=%llu",
			(unsigned long long)n, (unsigned long long)w.hot,
			n ? (double)w.heat_sum / (double)n : 0.0,
			(unsigned long long)w.max);
}

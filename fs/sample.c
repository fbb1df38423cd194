/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sample.c -- page-cache sampling: make cached and mmap'd heat visible.
 *
 * A read served from the kernel's page cache, or a load from a shared
 * mapping, never reaches the daemon, so the tiering engine cannot see it.
 * With sample=PCT, once an epoch this thread drops the kernel's copy of
 * one page in each of PCT% of the chunks of every file open through the
 * cache (at least one chunk each), chosen at random, and marks those
 * chunks in tier/: the next access to such a page has to come to the
 * daemon, and counts as TIER_SAMPLE_WEIGHT accesses to its chunk. A chunk in use is found within about
 * 100/PCT epochs; one that is not costs nothing but the dropped pages.
 *
 * The sampler never follows the inode table (inodes are freed without
 * grace periods). Instead, a cached open registers its inode here, and the
 * registry holds one open of its own on it, so that the inode -- and its
 * data, if unlinked -- stays until the sampler sees that its hold is the
 * last one and closes it: an unlinked file's memory goes back within one
 * epoch of its last close, not at once. Only the sampler drops holds, so
 * the inodes it collected under the lock stay alive for its whole pass.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/fs_i.h"
#include "utils/err.h"
#include "utils/log.h"
#include "utils/ticker.h"

#define SAMPLE_PAGE 4096u /* what one sample drops */

struct fs_sample {
	/*
	 * lock: the registry (v, n, cap, every inode's ->sampled), stop and
	 * the counters. Taken by cached opens and by the sampler; only
	 * inode->alock and tier->lock are taken under it; never held across
	 * the invalidation callback, which may wait on the kernel.
	 */
	pthread_mutex_t lock;
	struct fs_inode **v;
	size_t n, cap;
	bool stop;
	struct mmfs_ticker *ticker;

	unsigned pct, period_ms;
	fs_sample_inval_fn inval;
	void *arg;
	uint64_t rng;            /* xorshift64 state; sampler thread only */
	uint64_t passes, dropped; /* protected by lock */
};

int fs_sample_init(struct fs *fs, unsigned pct, unsigned period_ms)
{
	struct fs_sample *s;

	if (pct == 0 || pct > 100 || period_ms == 0)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->pct = pct;
	s->period_ms = period_ms;
	s->rng = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull | 1;
	fs->sample = s;
	return 0;
}

void fs_sample_hold(struct fs *fs, struct fs_inode *in)
{
	struct fs_sample *s = fs->sample;
	struct fs_inode **v;

	if (!s || !S_ISREG(in->mode))
		return;
	pthread_mutex_lock(&s->lock);
	if (in->sampled || s->stop)
		goto out_unlock;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;

		v = realloc(s->v, cap * sizeof(*v));
		if (!v) /* not sampled: only its heat stays hidden */
			goto out_unlock;
		s->v = v;
		s->cap = cap;
	}
	/* Our caller's open keeps the inode alive while we add ours. */
	atomic_fetch_add(&in->opens, 1);
	in->sampled = true;
	s->v[s->n++] = in;
out_unlock:
	pthread_mutex_unlock(&s->lock);
}

static uint64_t rnd(struct fs_sample *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

/* sample_file -- (internal) drop one cached page of PCT% of @in's chunks */
static uint64_t sample_file(struct fs *fs, struct fs_sample *s,
			    struct fs_inode *in)
{
	uint64_t size, nchunks, k, idx, off, n = 0;
	uint32_t id;

	pthread_mutex_lock(&in->alock);
	size = in->size;
	pthread_mutex_unlock(&in->alock);
	nchunks = (size + fs->chunk_size - 1) >> fs->chunk_shift;
	if (!nchunks)
		return 0;
	k = MMFS_MAX(nchunks * s->pct / 100, 1);
	while (k--) {
		idx = rnd(s) % nchunks;
		pthread_rwlock_rdlock(&in->lock);
		id = mmfs_snap_map_lookup(&in->map, idx);
		pthread_rwlock_unlock(&in->lock);
		if (!id)
			continue; /* a hole: nothing to place */
		/*
		 * One page of the chunk, not all of it: a random mmap'd
		 * access refaults one page per round trip, so dropping the
		 * whole chunk cost 16 round trips a sample (64 KiB chunks),
		 * and a chunk in use touches any of its pages soon enough.
		 */
		off = (idx << fs->chunk_shift) +
		      (rnd(s) % (fs->chunk_size / SAMPLE_PAGE)) * SAMPLE_PAGE;
		if (off >= size)
			off = (size - 1) & ~(uint64_t)(SAMPLE_PAGE - 1);
		/* Marked first: the access that refills the cache counts. */
		mmfs_tier_chunk_sampled(fs->tier, id);
		if (s->inval(s->arg, in->ino, off, SAMPLE_PAGE) == 0)
			n++;
	}
	return n;
}

void fs_sample_pass(struct fs *fs)
{
	struct fs_sample *s = fs->sample;
	struct fs_inode **live = NULL, **gone = NULL;
	size_t i, nlive = 0, ngone = 0;
	uint64_t dropped = 0;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->n) {
		live = malloc(s->n * sizeof(*live));
		gone = malloc(s->n * sizeof(*gone));
	}
	if (s->n && (!live || !gone)) {
		pthread_mutex_unlock(&s->lock);
		goto out;
	}
	/* Holds that are the last open go; the rest are sampled. */
	for (i = 0; i < s->n; i++) {
		struct fs_inode *in = s->v[i];

		if (atomic_load(&in->opens) == 1 || s->stop) {
			in->sampled = false;
			gone[ngone++] = in;
		} else {
			live[nlive] = in;
			s->v[nlive++] = in;
		}
	}
	s->n = nlive;
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < ngone; i++)
		fs_inode_close(fs, gone[i]);
	if (s->inval)
		for (i = 0; i < nlive; i++)
			dropped += sample_file(fs, s, live[i]);
	pthread_mutex_lock(&s->lock);
	s->passes++;
	s->dropped += dropped;
	pthread_mutex_unlock(&s->lock);
out:
	free(live);
	free(gone);
}

static void sample_tick(void *arg)
{
	fs_sample_pass(arg);
}

int fs_sample_start(struct fs *fs, fs_sample_inval_fn inval, void *arg)
{
	struct fs_sample *s = fs->sample;

	if (!s)
		return 0;
	s->inval = inval;
	s->arg = arg;
	return mmfs_ticker_start(s->period_ms, sample_tick, fs, &s->ticker);
}

void fs_sample_stop(struct fs *fs)
{
	struct fs_sample *s = fs->sample;

	if (!s)
		return;
	mmfs_ticker_stop(&s->ticker);
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_mutex_unlock(&s->lock);
	s->inval = NULL;
	fs_sample_pass(fs); /* stopping: every hold goes */
	pthread_mutex_destroy(&s->lock);
	free(s->v);
	free(s);
	fs->sample = NULL;
}

void fs_sample_stat(struct fs *fs, uint64_t *passes, uint64_t *dropped,
		    uint64_t *files)
{
	struct fs_sample *s = fs->sample;

	*passes = *dropped = *files = 0;
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	*passes = s->passes;
	*dropped = s->dropped;
	*files = s->n;
	pthread_mutex_unlock(&s->lock);
}

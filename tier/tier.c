/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tier.c -- chunk ids and their placement.
 *
 * Lock ordering (all of mmfs):
 *   fs inode lock (parent before child, lower ino first)
 *     -> fs inode-table lock
 *       -> tier->lock (innermost; no syscalls under it)
 *
 * Ids are stable for the life of a chunk, whatever tier holds its bytes, so
 * that maps (snapshot/) never learn placement. Today only the DRAM tier
 * exists; the PMEM tier and the tiering engine slot in behind the same ids.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tier/tier_i.h"
#include "utils/err.h"
#include "utils/log.h"

_Static_assert(sizeof(struct tier_chunk) == 8,
	       "tier/README.md counts 8 bytes of placement per chunk");

static void *reserve(size_t bytes, int prot)
{
	void *p = mmap(NULL, bytes, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int mmfs_tier_new(const struct mmfs_tier_opts *o, struct mmfs_tier **out)
{
	struct mmfs_tier *t;
	uint32_t cs = o->chunk_size;
	int rc;

	if (cs < MMFS_CHUNK_MIN || cs > MMFS_CHUNK_MAX || (cs & (cs - 1))) {
		mmfs_err("chunk=%u: must be a power of two from 4K to 2M", cs);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->chunk_size = cs;
	t->chunk_shift = (uint32_t)__builtin_ctz(cs);
	pthread_mutex_init(&t->lock, NULL);
	rc = tier_dram_init(&t->dram, o->dram_bytes, cs, o->dram_nodes);
	if (rc < 0)
		goto out_free;
	t->max_id = t->dram.nslots;
	t->id_next = 1;
	t->chunks_bytes = ((size_t)t->max_id + 1) * sizeof(*t->chunks);
	t->chunks = reserve(t->chunks_bytes, PROT_READ | PROT_WRITE);
	t->id_free = reserve(((size_t)t->max_id + 1) * sizeof(uint32_t),
			     PROT_READ | PROT_WRITE);
	t->zero = reserve(cs, PROT_READ);
	if (!t->chunks || !t->id_free || !t->zero) {
		rc = -ENOMEM;
		goto out_fini;
	}
	*out = t;
	return 0;

out_fini:
	if (t->chunks)
		munmap(t->chunks, t->chunks_bytes);
	if (t->id_free)
		munmap(t->id_free, ((size_t)t->max_id + 1) * sizeof(uint32_t));
	if (t->zero)
		munmap(t->zero, cs);
	tier_dram_fini(&t->dram);
out_free:
	pthread_mutex_destroy(&t->lock);
	free(t);
	return rc;
}

void mmfs_tier_free(struct mmfs_tier **tp)
{
	struct mmfs_tier *t = *tp;

	if (!t)
		return;
	munmap(t->chunks, t->chunks_bytes);
	munmap(t->id_free, ((size_t)t->max_id + 1) * sizeof(uint32_t));
	munmap(t->zero, t->chunk_size);
	tier_dram_fini(&t->dram);
	pthread_mutex_destroy(&t->lock);
	free(t);
	*tp = NULL;
}

uint32_t mmfs_tier_chunk_size(const struct mmfs_tier *t)
{
	return t->chunk_size;
}

uint32_t mmfs_tier_max_id(const struct mmfs_tier *t)
{
	return t->max_id;
}

/* id_get_locked -- (internal) a free id; there is always one per slot */
static uint32_t id_get_locked(struct mmfs_tier *t)
{
	if (t->id_nfree)
		return t->id_free[--t->id_nfree];
	MMFS_ASSERT(t->id_next <= t->max_id);
	return t->id_next++;
}

int mmfs_tier_chunk_alloc(struct mmfs_tier *t, uint32_t *id)
{
	uint32_t slot;
	uint32_t cid;
	int rc;

	pthread_mutex_lock(&t->lock);
	rc = tier_dram_slot_get_locked(&t->dram, &slot);
	if (rc < 0) {
		t->enospc++;
		goto out_unlock;
	}
	cid = id_get_locked(t);
	t->chunks[cid] = (struct tier_chunk){
		.slot = slot, .tier = MMFS_TIER_DRAM, .used = 1, .heat = 0,
	};
	t->used[MMFS_TIER_DRAM]++;
	t->allocs++;
	*id = cid;
out_unlock:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void mmfs_tier_chunk_free(struct mmfs_tier *t, uint32_t id)
{
	struct tier_chunk c;

	MMFS_ASSERT(id >= 1 && id <= t->max_id);
	c = t->chunks[id];
	MMFS_ASSERT(c.used);
	/* Discard before the slot is reusable, or we would zap its new data. */
	tier_dram_slot_discard(&t->dram, c.slot, t->chunk_size);
	pthread_mutex_lock(&t->lock);
	t->chunks[id].used = 0;
	tier_dram_slot_put_locked(&t->dram, c.slot);
	t->id_free[t->id_nfree++] = id;
	t->used[c.tier]--;
	t->frees++;
	pthread_mutex_unlock(&t->lock);
}

void *mmfs_tier_chunk_addr(const struct mmfs_tier *t, uint32_t id)
{
	const struct tier_chunk *c = &t->chunks[id];

	MMFS_DEBUG_ASSERT(id >= 1 && id <= t->max_id && c->used);
	return t->dram.base + ((size_t)c->slot << t->chunk_shift);
}

enum mmfs_tier_kind mmfs_tier_chunk_tier(const struct mmfs_tier *t,
					 uint32_t id)
{
	return (enum mmfs_tier_kind)t->chunks[id].tier;
}

const void *mmfs_tier_zero(const struct mmfs_tier *t)
{
	return t->zero;
}

void mmfs_tier_stat(struct mmfs_tier *t, struct mmfs_tier_stat *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&t->lock);
	st->chunk_size = t->chunk_size;
	st->total_chunks[MMFS_TIER_DRAM] = t->dram.nslots;
	st->used_chunks[MMFS_TIER_DRAM] = t->used[MMFS_TIER_DRAM];
	st->used_chunks[MMFS_TIER_PMEM] = t->used[MMFS_TIER_PMEM];
	st->allocs = t->allocs;
	st->frees = t->frees;
	st->enospc = t->enospc;
	pthread_mutex_unlock(&t->lock);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_map -- unit tests of snapshot/map.c: chunk maps (64-way radix trees
 * of chunk ids) and chunk refcounts. Covers lookup of holes, write_prep
 * (allocation, stable ids, copy of a shared chunk), index 0 kept inline and
 * growth to indexes 1, 64, 4096 and 1 << 30 with earlier ids preserved,
 * nchunks and node-bytes accounting against a model of the tree, punch of
 * single chunks, partial leaves, ranges across nodes and everything (chunks
 * go back to tier/, seen through mmfs_tier_stat), next_data/next_hole
 * against a brute-force reference, map_fini, -ENOSPC on a full tier and
 * -ENOMEM from every failing node calloc (-Wl,--wrap=calloc) and mmap
 * (--wrap=mmap64) with the map left as it was. The fixture's teardown
 * checks that every chunk went back to the tier.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "snapshot/snap.h"
#include "tier/tier.h"
#include "utils/err.h"

#define CHUNK MMFS_CHUNK_MIN
#define NCHUNKS 4096u

/* --- fault injection --- */

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__real_mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off);
void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off);

/* Countdowns: the call that takes one from 1 to 0 fails; 0 = disarmed. */
static unsigned calloc_fail_in, mmap_fail_in;
static unsigned calloc_failures;

void *__wrap_calloc(size_t n, size_t size)
{
	if (calloc_fail_in && --calloc_fail_in == 0) {
		calloc_failures++;
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(n, size);
}

void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off)
{
	if (mmap_fail_in && --mmap_fail_in == 0) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return __real_mmap64(addr, len, prot, flags, fd, off);
}

/* --- fixture --- */

struct fix {
	struct mmfs_tier *tier;
	struct mmfs_snap *snap;
	struct mmfs_snap_map map;
};

static struct fix *fix_new(uint64_t chunks)
{
	struct mmfs_tier_opts o = { .dram_bytes = chunks * CHUNK,
				    .chunk_size = CHUNK };
	struct fix *f = __real_calloc(1, sizeof(*f));

	calloc_fail_in = mmap_fail_in = 0;
	calloc_failures = 0;
	if (!f || mmfs_tier_new(&o, &f->tier) < 0 ||
	    mmfs_snap_new(f->tier, &f->snap) < 0)
		return NULL;
	mmfs_snap_map_init(&f->map);
	return f;
}

/* node_bytes -- memory of every map node (one map per test here) */
static uint64_t node_bytes(const struct fix *f)
{
	struct mmfs_snap_stat st;

	mmfs_snap_stat(f->snap, &st);
	return st.node_bytes;
}

static uint64_t tier_used(struct mmfs_tier *t)
{
	struct mmfs_tier_stat st;

	mmfs_tier_stat(t, &st);
	return st.used_chunks[MMFS_TIER_DRAM] + st.used_chunks[MMFS_TIER_PMEM];
}

/* fix_free -- map_fini must give every chunk and node back */
static int fix_free(struct fix *f)
{
	int rc = 0;

	calloc_fail_in = mmap_fail_in = 0;
	mmfs_snap_map_fini(f->snap, &f->map);
	if (f->map.nchunks != 0 || node_bytes(f) != 0 || tier_used(f->tier))
		rc = -1;
	mmfs_snap_free(&f->snap);
	mmfs_tier_free(&f->tier);
	free(f);
	return rc;
}

static int setup(void **state)
{
	*state = fix_new(NCHUNKS);
	return *state ? 0 : -1;
}

static int setup_small(void **state)
{
	*state = fix_new(16);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	return fix_free(*state);
}

/* --- helpers --- */

static uint32_t prep(struct fix *f, uint64_t idx)
{
	uint32_t id = 0;

	assert_int_equal(mmfs_snap_map_write_prep(f->snap, &f->map, idx, &id),
			 0);
	assert_int_not_equal(id, 0);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, idx), id);
	assert_int_equal(mmfs_snap_chunk_refs(f->snap, id), 1);
	return id;
}

static void *addr(struct fix *f, uint32_t id)
{
	return mmfs_tier_chunk_addr(f->tier, id);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * model_nbytes -- what a 64-way radix tree of height @h holding exactly
 * the (sorted, distinct) indexes @idx costs: one leaf per distinct idx >> 6,
 * one inner node per distinct idx >> 6L for L = 2..h. A map that holds
 * nothing costs nothing.
 */
static uint64_t model_nbytes(const uint64_t *idx, size_t n, unsigned h)
{
	uint64_t bytes = 0;
	unsigned level;
	size_t i;

	if (n == 0 || h == 0)
		return 0;
	for (level = 1; level <= h; level++) {
		uint64_t nodes = 0, prev = 0;

		for (i = 0; i < n; i++) {
			uint64_t key = idx[i] >> (6 * level); /* h <= 10 */

			if (i == 0 || key != prev)
				nodes++;
			prev = key;
		}
		bytes += nodes * (level == 1 ? MMFS_SNAP_LEAF_BYTES
					     : MMFS_SNAP_INNER_BYTES);
	}
	return bytes;
}

/* height_for -- levels a 64-way tree needs for index @max */
static unsigned height_for(uint64_t max)
{
	unsigned h = 0;

	while (h < 10 && (h == 0 ? 1 : 1ULL << (6 * h)) <= max)
		h++;
	return h;
}

/* --- lookup and write_prep --- */

static void test_empty(void **state)
{
	struct fix *f = *state;
	static const uint64_t probes[] = {
		0, 1, 63, 64, 4095, 4096, 1ULL << 30, UINT64_MAX,
	};
	uint64_t out = 7;
	size_t i;

	for (i = 0; i < MMFS_ARRAY_SIZE(probes); i++)
		assert_int_equal(mmfs_snap_map_lookup(&f->map, probes[i]), 0);
	assert_int_equal(mmfs_snap_map_chunks(&f->map), 0);
	assert_int_equal(node_bytes(f), 0);
	assert_int_equal(mmfs_snap_map_next_data(&f->map, 0, &out), -ENXIO);
	assert_int_equal(out, 7);
	/* Punching an empty map is harmless. */
	mmfs_snap_map_punch(f->snap, &f->map, 0, UINT64_MAX);
	assert_int_equal(mmfs_snap_map_chunks(&f->map), 0);
	assert_ptr_equal(mmfs_snap_tier(f->snap), f->tier);
}

static void test_write_prep_stable(void **state)
{
	struct fix *f = *state;
	uint32_t id, again;

	id = prep(f, 5);
	assert_int_equal(tier_used(f->tier), 1);
	assert_int_equal(mmfs_snap_map_chunks(&f->map), 1);
	/* New chunks are zero, and the map hands out the same chunk again. */
	assert_true(memcmp(addr(f, id), mmfs_tier_zero(f->tier), CHUNK) == 0);
	memset(addr(f, id), 0x5c, CHUNK);
	again = prep(f, 5);
	assert_int_equal(again, id);
	assert_int_equal(tier_used(f->tier), 1);
	assert_int_equal(mmfs_snap_map_chunks(&f->map), 1);
	assert_int_equal(((unsigned char *)addr(f, id))[CHUNK - 1], 0x5c);
	/* Neighbours stay holes. */
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 4), 0);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 6), 0);
}

/* Index 0 lives inline (no node); each taller index adds levels on top. */
static void test_growth(void **state)
{
	static const uint64_t steps[] = { 0, 1, 64, 4096, 1ULL << 30 };
	struct fix *f = *state;
	uint32_t ids[MMFS_ARRAY_SIZE(steps)];
	size_t s, k;

	for (s = 0; s < MMFS_ARRAY_SIZE(steps); s++) {
		ids[s] = prep(f, steps[s]);
		assert_int_equal(f->map.height, height_for(steps[s]));
		assert_int_equal(mmfs_snap_map_chunks(&f->map), s + 1);
		assert_int_equal(node_bytes(f),
				 model_nbytes(steps, s + 1, f->map.height));
		for (k = 0; k <= s; k++)
			assert_int_equal(mmfs_snap_map_lookup(&f->map,
							      steps[k]),
					 ids[k]);
		/* Distinct chunks. */
		for (k = 0; k < s; k++)
			assert_int_not_equal(ids[k], ids[s]);
	}
	assert_int_equal(tier_used(f->tier), MMFS_ARRAY_SIZE(steps));
	/* Holes in between, and past the end, stay holes. */
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 2), 0);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 65), 0);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, (1ULL << 30) - 1), 0);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, (1ULL << 30) + 1), 0);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 1ULL << 36), 0);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, UINT64_MAX), 0);
}

static void test_inline_then_grow_from_far(void **state)
{
	struct fix *f = *state;
	uint32_t a, b;

	a = prep(f, 0);
	assert_int_equal(f->map.height, 0);
	assert_int_equal(node_bytes(f), 0);
	b = prep(f, 1ULL << 40);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 0), a);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 1ULL << 40), b);
	assert_int_equal(mmfs_snap_map_chunks(&f->map), 2);
}

/* Beyond 60 bits of index the map cannot grow: an error, map unchanged. */
static void test_write_prep_too_far(void **state)
{
	struct fix *f = *state;
	uint32_t a = prep(f, 3), id = 0;
	uint64_t nbytes = node_bytes(f);

	assert_true(mmfs_snap_map_write_prep(f->snap, &f->map, UINT64_MAX,
					     &id) < 0);
	assert_int_equal(id, 0);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 3), a);
	assert_int_equal(mmfs_snap_map_chunks(&f->map), 1);
	assert_int_equal(tier_used(f->tier), 1);
	assert_int_equal(node_bytes(f), nbytes);
}

static void test_nchunks_dense(void **state)
{
	struct fix *f = *state;
	uint64_t i;

	for (i = 0; i < 3000; i++) {
		prep(f, i);
		assert_int_equal(mmfs_snap_map_chunks(&f->map), i + 1);
	}
	for (i = 0; i < 3000; i++)
		prep(f, i); /* rewrites allocate nothing */
	assert_int_equal(mmfs_snap_map_chunks(&f->map), 3000);
	assert_int_equal(tier_used(f->tier), 3000);
}

/* --- punch --- */

/*
 * check_against -- (internal) the map holds exactly @ids[i] at index i for
 * every non-zero entry of @ids[0..n), nothing else below n, and tier/ has
 * exactly that many chunks in use.
 */
static void check_against(struct fix *f, const uint32_t *ids, uint64_t n)
{
	uint64_t i, live = 0;

	for (i = 0; i < n; i++) {
		if (mmfs_snap_map_lookup(&f->map, i) != ids[i])
			fail_msg("idx %llu: id %u, want %u",
				 (unsigned long long)i,
				 mmfs_snap_map_lookup(&f->map, i), ids[i]);
		live += ids[i] != 0;
	}
	assert_int_equal(mmfs_snap_map_chunks(&f->map), live);
	assert_int_equal(tier_used(f->tier), live);
}

static void punch(struct fix *f, uint32_t *ids, uint64_t n, uint64_t first,
		  uint64_t last)
{
	uint64_t i;

	mmfs_snap_map_punch(f->snap, &f->map, first, last);
	for (i = first; i <= last && i < n; i++)
		ids[i] = 0;
	check_against(f, ids, n);
}

static void test_punch_ranges(void **state)
{
	const uint64_t n = 1000;
	struct fix *f = *state;
	uint32_t ids[1000];
	uint64_t i;

	for (i = 0; i < n; i++)
		ids[i] = prep(f, i);
	check_against(f, ids, n);

	punch(f, ids, n, 5, 5);       /* single */
	punch(f, ids, n, 70, 80);     /* inside one leaf */
	punch(f, ids, n, 120, 140);   /* across a leaf boundary */
	punch(f, ids, n, 200, 700);   /* across many leaves */
	punch(f, ids, n, 256, 319);   /* a whole leaf, already empty */
	punch(f, ids, n, 990, 2000);  /* past the end */
	punch(f, ids, n, 3000, 5000); /* nothing there */
	punch(f, ids, n, 10, 9);      /* empty range */
	punch(f, ids, n, 0, 0);

	/* Punching all returns every chunk and every node byte. */
	punch(f, ids, n, 0, UINT64_MAX);
	assert_int_equal(node_bytes(f), 0);
	assert_int_equal(tier_used(f->tier), 0);

	/* The map is usable again afterwards. */
	ids[7] = prep(f, 7);
	check_against(f, ids, n);
}

/* Node memory follows what the map holds as leaves empty out. */
static void test_punch_frees_nodes(void **state)
{
	static const uint64_t idx[] = { 1, 100, 5000, 300000 };
	struct fix *f = *state;
	size_t i;

	for (i = 0; i < MMFS_ARRAY_SIZE(idx); i++)
		prep(f, idx[i]);
	assert_int_equal(node_bytes(f),
			 model_nbytes(idx, 4, f->map.height));
	/* Drop the two middle ones: their leaves and private inners go. */
	mmfs_snap_map_punch(f->snap, &f->map, 2, 299999);
	{
		static const uint64_t rest[] = { 1, 300000 };

		assert_int_equal(node_bytes(f),
				 model_nbytes(rest, 2, f->map.height));
	}
	assert_int_equal(tier_used(f->tier), 2);
	mmfs_snap_map_punch(f->snap, &f->map, 0, UINT64_MAX);
	assert_int_equal(node_bytes(f), 0);
	assert_int_equal(mmfs_snap_map_chunks(&f->map), 0);
}

/*
 * A map that no longer holds any chunk holds no node either ("empty nodes
 * are freed as holes are punched"), whichever range emptied it.
 */
static void test_punch_last_chunk_frees_all_nodes(void **state)
{
	struct fix *f = *state;

	prep(f, 1ULL << 30);
	mmfs_snap_map_punch(f->snap, &f->map, 1ULL << 30, 1ULL << 30);
	assert_int_equal(mmfs_snap_map_chunks(&f->map), 0);
	assert_int_equal(tier_used(f->tier), 0);
	assert_int_equal(node_bytes(f), 0);
}

/* An inline map (index 0 only) is touched only by ranges that hold 0. */
static void test_punch_inline(void **state)
{
	struct fix *f = *state;
	uint32_t id = prep(f, 0);

	mmfs_snap_map_punch(f->snap, &f->map, 1, 100);
	mmfs_snap_map_punch(f->snap, &f->map, 1, UINT64_MAX);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 0), id);
	assert_int_equal(mmfs_snap_map_chunks(&f->map), 1);
	assert_int_equal(tier_used(f->tier), 1);
	mmfs_snap_map_punch(f->snap, &f->map, 0, 0);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 0), 0);
	assert_int_equal(mmfs_snap_map_chunks(&f->map), 0);
	assert_int_equal(tier_used(f->tier), 0);
}

/* A range that starts beyond everything the map can hold removes nothing. */
static void test_punch_beyond_capacity(void **state)
{
	static const uint64_t firsts[] = {
		1ULL << 20, 1ULL << 32, (1ULL << 32) + 5, 1ULL << 38,
		(1ULL << 44) + 64, UINT64_MAX,
	};
	struct fix *f = *state;
	uint32_t ids[64];
	size_t i;

	for (i = 0; i < 64; i++)
		ids[i] = prep(f, i); /* height 1: indexes 0..63 */
	for (i = 0; i < MMFS_ARRAY_SIZE(firsts); i++) {
		mmfs_snap_map_punch(f->snap, &f->map, firsts[i], UINT64_MAX);
		if (mmfs_snap_map_chunks(&f->map) != 64)
			fail_msg("punch(%llu, max) removed %llu chunks",
				 (unsigned long long)firsts[i],
				 (unsigned long long)(
					 64 - mmfs_snap_map_chunks(&f->map)));
		check_against(f, ids, 64);
	}
}

/* --- refcounts and copy-on-write --- */

static void test_shared_chunk_copied(void **state)
{
	struct fix *f = *state;
	uint32_t old, nid;
	unsigned char *p;

	old = prep(f, 9);
	memset(addr(f, old), 0x3c, CHUNK);
	/* Someone else (a snapshot) takes a reference. */
	mmfs_snap_chunk_get(f->snap, old);
	assert_int_equal(mmfs_snap_chunk_refs(f->snap, old), 2);

	assert_int_equal(mmfs_snap_map_write_prep(f->snap, &f->map, 9, &nid),
			 0);
	assert_int_not_equal(nid, old);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 9), nid);
	assert_int_equal(mmfs_snap_chunk_refs(f->snap, nid), 1);
	assert_int_equal(mmfs_snap_chunk_refs(f->snap, old), 1);
	assert_int_equal(mmfs_snap_map_chunks(&f->map), 1);
	assert_int_equal(tier_used(f->tier), 2);
	assert_memory_equal(addr(f, nid), addr(f, old), CHUNK);

	/* The copy is private: writing it leaves the sharer's bytes alone. */
	p = addr(f, nid);
	memset(p, 0x77, CHUNK);
	assert_int_equal(((unsigned char *)addr(f, old))[0], 0x3c);
	assert_int_equal(((unsigned char *)addr(f, old))[CHUNK - 1], 0x3c);
	/* Now private: no second copy. */
	assert_int_equal(prep(f, 9), nid);

	/* The sharer's last put frees the old chunk in tier/. */
	mmfs_snap_chunk_put(f->snap, old);
	assert_int_equal(tier_used(f->tier), 1);
}

/* Punching a shared chunk drops this map's ref only. */
static void test_punch_shared(void **state)
{
	struct fix *f = *state;
	uint32_t id = prep(f, 0);

	memset(addr(f, id), 0x42, CHUNK);
	mmfs_snap_chunk_get(f->snap, id);
	mmfs_snap_map_punch(f->snap, &f->map, 0, 0);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 0), 0);
	assert_int_equal(mmfs_snap_chunk_refs(f->snap, id), 1);
	assert_int_equal(tier_used(f->tier), 1);
	assert_int_equal(((unsigned char *)addr(f, id))[100], 0x42);
	mmfs_snap_chunk_put(f->snap, id);
	assert_int_equal(tier_used(f->tier), 0);
}

static void test_fini_frees_all(void **state)
{
	struct fix *f = fix_new(NCHUNKS);
	uint64_t i;

	assert_non_null(f);
	for (i = 0; i < 500; i++)
		prep(f, (i * 7919) % 200000);
	assert_int_equal(tier_used(f->tier), 500);
	mmfs_snap_map_fini(f->snap, &f->map);
	assert_int_equal(tier_used(f->tier), 0);
	assert_int_equal(node_bytes(f), 0);
	assert_int_equal(mmfs_snap_map_chunks(&f->map), 0);
	/* A finalized map is an empty map. */
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 0), 0);
	assert_int_equal(fix_free(f), 0);
}

/* --- next_data / next_hole --- */

static void test_seek_empty_and_inline(void **state)
{
	struct fix *f = *state;
	uint64_t out = 0;

	assert_int_equal(mmfs_snap_map_next_data(&f->map, 0, &out), -ENXIO);
	assert_int_equal(mmfs_snap_map_next_data(&f->map, 12345, &out),
			 -ENXIO);
	assert_int_equal(mmfs_snap_map_next_hole(&f->map, 0), 0);
	assert_int_equal(mmfs_snap_map_next_hole(&f->map, 77), 77);

	prep(f, 0); /* height 0, inline */
	assert_int_equal(mmfs_snap_map_next_data(&f->map, 0, &out), 0);
	assert_int_equal(out, 0);
	assert_int_equal(mmfs_snap_map_next_data(&f->map, 1, &out), -ENXIO);
	assert_int_equal(mmfs_snap_map_next_hole(&f->map, 0), 1);
	assert_int_equal(mmfs_snap_map_next_hole(&f->map, 1), 1);
	assert_int_equal(mmfs_snap_map_next_hole(&f->map, 1000), 1000);
}

static void test_seek_dense(void **state)
{
	struct fix *f = *state;
	uint64_t i, out;

	for (i = 0; i < 4096; i++) /* exactly fills a height-2 tree */
		prep(f, i);
	for (i = 0; i < 4096; i += 17) {
		assert_int_equal(mmfs_snap_map_next_data(&f->map, i, &out), 0);
		assert_int_equal(out, i);
		/* Hole at the end of a full tree. */
		assert_int_equal(mmfs_snap_map_next_hole(&f->map, i), 4096);
	}
	/* Beyond the tree's capacity. */
	assert_int_equal(mmfs_snap_map_next_data(&f->map, 4096, &out), -ENXIO);
	assert_int_equal(mmfs_snap_map_next_data(&f->map, 1ULL << 40, &out),
			 -ENXIO);
	assert_int_equal(mmfs_snap_map_next_hole(&f->map, 4096), 4096);
	assert_int_equal(mmfs_snap_map_next_hole(&f->map, 1ULL << 40),
			 1ULL << 40);
	assert_int_equal(mmfs_snap_map_next_hole(&f->map, UINT64_MAX),
			 UINT64_MAX);

	/* A hole in the middle and one at the end of data. */
	mmfs_snap_map_punch(f->snap, &f->map, 1000, 1000);
	mmfs_snap_map_punch(f->snap, &f->map, 4000, 4095);
	assert_int_equal(mmfs_snap_map_next_hole(&f->map, 0), 1000);
	assert_int_equal(mmfs_snap_map_next_hole(&f->map, 1001), 4000);
	assert_int_equal(mmfs_snap_map_next_data(&f->map, 1000, &out), 0);
	assert_int_equal(out, 1001);
	assert_int_equal(mmfs_snap_map_next_data(&f->map, 3999, &out), 0);
	assert_int_equal(out, 3999);
	assert_int_equal(mmfs_snap_map_next_data(&f->map, 4000, &out), -ENXIO);
}

/* ref_next_data -- (internal) brute force over a sorted index list */
static int ref_next_data(const uint64_t *idx, size_t n, uint64_t from,
			 uint64_t *out)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (idx[mid] < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == n)
		return -ENXIO;
	*out = idx[lo];
	return 0;
}

static uint64_t ref_next_hole(const bool *present, uint64_t n, uint64_t from)
{
	while (from < n && present[from])
		from++;
	return from;
}

static void test_seek_random_vs_reference(void **state)
{
	const uint64_t range = 100000, probe_to = 300000;
	struct fix *f = *state;
	bool *present = calloc(probe_to, sizeof(*present));
	uint64_t *idx = malloc(2000 * sizeof(*idx));
	size_t n = 0, i;
	uint64_t q;

	assert_non_null(present);
	assert_non_null(idx);
	/* ~2000 random indexes plus a few runs, so holes and data alternate. */
	while (n < 1900) {
		uint64_t x = rng() % range;

		if (!present[x]) {
			present[x] = true;
			idx[n++] = x;
		}
	}
	for (q = 50000; q < 50100; q++) {
		if (!present[q]) {
			present[q] = true;
			idx[n++] = q;
		}
	}
	qsort(idx, n, sizeof(*idx), cmp_u64);
	for (i = 0; i < n; i++)
		prep(f, idx[i]);
	assert_int_equal(mmfs_snap_map_chunks(&f->map), n);
	assert_int_equal(node_bytes(f), model_nbytes(idx, n, f->map.height));

	for (q = 0; q < probe_to; q++) {
		uint64_t got = UINT64_MAX, want = UINT64_MAX;
		int rc = mmfs_snap_map_next_data(&f->map, q, &got);
		int wrc = ref_next_data(idx, n, q, &want);

		if (rc != wrc || (rc == 0 && got != want))
			fail_msg("next_data(%llu): %d/%llu, want %d/%llu",
				 (unsigned long long)q, rc,
				 (unsigned long long)got, wrc,
				 (unsigned long long)want);
		got = mmfs_snap_map_next_hole(&f->map, q);
		want = ref_next_hole(present, probe_to, q);
		if (got != want)
			fail_msg("next_hole(%llu): %llu, want %llu",
				 (unsigned long long)q,
				 (unsigned long long)got,
				 (unsigned long long)want);
	}
	/* Punch half the indexes and compare again at random points. */
	for (i = 0; i < n; i += 2) {
		mmfs_snap_map_punch(f->snap, &f->map, idx[i], idx[i]);
		present[idx[i]] = false;
	}
	for (i = 0, q = 0; i < n; i++)
		if (present[idx[i]])
			idx[q++] = idx[i];
	n = (size_t)q;
	assert_int_equal(mmfs_snap_map_chunks(&f->map), n);
	assert_int_equal(tier_used(f->tier), n);
	for (i = 0; i < 20000; i++) {
		uint64_t from = rng() % probe_to, got = 0, want = 0;
		int rc = mmfs_snap_map_next_data(&f->map, from, &got);

		assert_int_equal(rc, ref_next_data(idx, n, from, &want));
		if (rc == 0)
			assert_int_equal(got, want);
		assert_int_equal(mmfs_snap_map_next_hole(&f->map, from),
				 ref_next_hole(present, probe_to, from));
	}
	free(idx);
	free(present);
}

/* --- failures --- */

static void test_enospc(void **state)
{
	struct fix *f = *state; /* 16-chunk tier */
	uint32_t ids[16], id = 0;
	uint64_t i;

	for (i = 0; i < 16; i++)
		ids[i] = prep(f, i * 3);
	assert_int_equal(mmfs_snap_map_write_prep(f->snap, &f->map, 1, &id),
			 -ENOSPC);
	assert_int_equal(id, 0);
	assert_int_equal(mmfs_snap_map_write_prep(f->snap, &f->map,
						  1ULL << 30, &id),
			 -ENOSPC);
	for (i = 0; i < 16; i++)
		assert_int_equal(mmfs_snap_map_lookup(&f->map, i * 3), ids[i]);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 1), 0);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 1ULL << 30), 0);
	assert_int_equal(mmfs_snap_map_chunks(&f->map), 16);

	/* A shared chunk cannot be copied either: it stays shared, intact. */
	mmfs_snap_chunk_get(f->snap, ids[2]);
	assert_int_equal(mmfs_snap_map_write_prep(f->snap, &f->map, 6, &id),
			 -ENOSPC);
	assert_int_equal(mmfs_snap_map_lookup(&f->map, 6), ids[2]);
	assert_int_equal(mmfs_snap_chunk_refs(f->snap, ids[2]), 2);
	/* A private chunk needs nothing: still fine when full. */
	assert_int_equal(mmfs_snap_map_write_prep(f->snap, &f->map, 9, &id),
			 0);
	assert_int_equal(id, ids[3]);
	mmfs_snap_chunk_put(f->snap, ids[2]);

	/* Room again after a punch. */
	mmfs_snap_map_punch(f->snap, &f->map, 0, 0);
	prep(f, 1);
}

/*
 * "the map is unchanged then": a failed write_prep must not leave nodes
 * (nor extra levels) behind, or every failed write to a new far index on a
 * full fs would pin node memory until the file is truncated.
 */
static void test_failure_leaves_no_nodes(void **state)
{
	struct fix *f = *state; /* 16-chunk tier */
	uint64_t i, nbytes;
	uint8_t height;
	uint32_t id;

	for (i = 0; i < 16; i++)
		prep(f, i);
	nbytes = node_bytes(f);
	height = f->map.height;
	assert_int_equal(mmfs_snap_map_write_prep(f->snap, &f->map,
						  1ULL << 30, &id),
			 -ENOSPC);
	assert_int_equal(f->map.height, height);
	assert_int_equal(node_bytes(f), nbytes);
}

/* The same for a write_prep that runs out of memory half-way. */
static void test_enomem_leaves_no_nodes(void **state)
{
	struct fix *f = *state;
	uint64_t i, nbytes;
	uint8_t height;
	unsigned k;
	uint32_t id;

	/* Leave one chunk free: the chunk is taken before any node. */
	for (i = 0; i < 15; i++)
		prep(f, i);
	nbytes = node_bytes(f);
	height = f->map.height;
	/* Growth to height 6 and the new path need ten nodes. */
	for (k = 1; k <= 10; k++) {
		calloc_fail_in = k;
		assert_int_equal(mmfs_snap_map_write_prep(f->snap, &f->map,
							  1ULL << 30, &id),
				 -ENOMEM);
		calloc_fail_in = 0;
		if (f->map.height != height || node_bytes(f) != nbytes)
			fail_msg("calloc #%u failing: height %u->%u, "
				 "nbytes %llu->%llu",
				 k, height, f->map.height,
				 (unsigned long long)nbytes,
				 (unsigned long long)node_bytes(f));
	}
}

/* mmfs_snap_new cleans up after each of its allocations failing. */
static void test_snap_new_enomem(void **state)
{
	struct fix *f = *state;
	struct mmfs_snap *s = NULL;

	calloc_fail_in = 1;
	assert_int_equal(mmfs_snap_new(f->tier, &s), -ENOMEM);
	assert_null(s);
	calloc_fail_in = 0;
	mmap_fail_in = 1;
	assert_int_equal(mmfs_snap_new(f->tier, &s), -ENOMEM);
	assert_null(s);
	mmap_fail_in = 0;
	assert_int_equal(mmfs_snap_new(f->tier, &s), 0);
	mmfs_snap_free(&s);
	assert_null(s);
	mmfs_snap_free(&s); /* NULL is fine */
}

/*
 * Fail the first, second, ... node calloc of a write_prep that needs
 * several nodes (growth plus a new path): each time -ENOMEM, no chunk
 * taken from the tier, every lookup as before.
 */
static void check_enomem_at(struct fix *f, uint64_t idx, const uint64_t *have,
			    const uint32_t *ids, size_t nhave)
{
	unsigned k;
	size_t i;

	for (k = 1; k < 64; k++) {
		uint64_t chunks = mmfs_snap_map_chunks(&f->map);
		uint64_t used = tier_used(f->tier);
		uint32_t id = 0;
		int rc;

		calloc_fail_in = k;
		rc = mmfs_snap_map_write_prep(f->snap, &f->map, idx, &id);
		calloc_fail_in = 0;
		if (rc == 0) {
			assert_int_not_equal(id, 0);
			assert_int_equal(mmfs_snap_map_lookup(&f->map, idx),
					 id);
			assert_true(k > 1);
			return;
		}
		assert_int_equal(rc, -ENOMEM);
		assert_int_equal(mmfs_snap_map_lookup(&f->map, idx), 0);
		assert_int_equal(mmfs_snap_map_chunks(&f->map), chunks);
		assert_int_equal(tier_used(f->tier), used);
		for (i = 0; i < nhave; i++)
			assert_int_equal(mmfs_snap_map_lookup(&f->map, have[i]),
					 ids[i]);
	}
	fail_msg("write_prep(%llu) never succeeded", (unsigned long long)idx);
}

static void test_write_prep_enomem(void **state)
{
	static const uint64_t have[] = { 0, 1, 100, 5000 };
	struct fix *f = *state;
	uint32_t ids[MMFS_ARRAY_SIZE(have)];
	size_t i;

	/* From an empty map straight to height 6. */
	check_enomem_at(f, 1ULL << 30, NULL, NULL, 0);
	mmfs_snap_map_punch(f->snap, &f->map, 0, UINT64_MAX);
	assert_int_equal(node_bytes(f), 0);

	/* From inline index 0, then into existing trees. */
	ids[0] = prep(f, 0);
	for (i = 1; i < MMFS_ARRAY_SIZE(have); i++) {
		check_enomem_at(f, have[i], have, ids, i);
		ids[i] = mmfs_snap_map_lookup(&f->map, have[i]);
	}
	check_enomem_at(f, 1ULL << 40, have, ids, MMFS_ARRAY_SIZE(have));
	assert_true(calloc_failures > 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define S(f) cmocka_unit_test_setup_teardown(f, setup_small, teardown)
		T(test_empty),
		T(test_write_prep_stable),
		T(test_growth),
		T(test_inline_then_grow_from_far),
		T(test_write_prep_too_far),
		T(test_nchunks_dense),
		T(test_punch_ranges),
		T(test_punch_frees_nodes),
		T(test_punch_last_chunk_frees_all_nodes),
		T(test_punch_inline),
		T(test_punch_beyond_capacity),
		T(test_shared_chunk_copied),
		T(test_punch_shared),
		cmocka_unit_test(test_fini_frees_all),
		T(test_seek_empty_and_inline),
		T(test_seek_dense),
		T(test_seek_random_vs_reference),
		S(test_enospc),
		S(test_failure_leaves_no_nodes),
		S(test_enomem_leaves_no_nodes),
		T(test_snap_new_enomem),
		T(test_write_prep_enomem),
#undef S
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_snap_share -- unit tests of shared map nodes (snapshot/map.c) and
 * of the node table (snapshot/save.c):
 *   - a whole-map share into an empty map is one root reference: no node,
 *     no chunk reference added;
 *   - a write to either sharer copies its path and the one chunk, and the
 *     other map keeps its ids and bytes; punch of a shared subtree too;
 *   - a random mix of writes, punches, preallocations, shares (aligned to
 *     leaves, to inner nodes, unaligned, to the end) and map teardowns on
 *     four maps, checked after every step against a model of what each
 *     index holds (a token stored in its chunk), with the reference audit
 *     clean and tier/'s used chunks equal to the distinct chunks in use;
 *   - -ENOMEM at every node allocation of a write to a shared path leaves
 *     both maps as they were;
 *   - the saver writes each distinct node once (N clones of a tree cost N
 *     roots), and a loader on a real pool rebuilds the same maps from its
 *     records and refuses malformed ones with -EUCLEAN.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "snapshot/snap.h"
#include "tier/pool.h"
#include "tier/tier.h"
#include "utils/err.h"

#define CHUNK MMFS_CHUNK_MIN
#define NMAPS 4
#define DOMAIN (3 * 4096 + 130) /* three level-2 subtrees and some */
/*
 * Operations start below DOMAIN; a share may move entries up to MODEL
 * (finite ones are under 3 * 4096 + 3 long, and shares to the end only
 * move entries down), so the model covers [0, MODEL).
 */
#define MODEL (2 * DOMAIN)

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);

static unsigned calloc_fail_in; /* the call taking it from 1 to 0 fails */

void *__wrap_calloc(size_t n, size_t size)
{
	if (calloc_fail_in && --calloc_fail_in == 0)
		return NULL;
	return __real_calloc(n, size);
}

struct fix {
	struct mmfs_tier *tier;
	struct mmfs_snap *snap;
	struct mmfs_snap_map map[NMAPS];
	uint64_t *model[NMAPS]; /* token per index, 0 = hole */
	uint64_t token;
};

static int setup(void **state)
{
	struct mmfs_tier_opts o = { .dram_bytes = 40000ull * CHUNK,
				    .chunk_size = CHUNK };
	struct fix *f = __real_calloc(1, sizeof(*f));
	int i;

	assert_non_null(f);
	assert_int_equal(mmfs_tier_new(&o, &f->tier), 0);
	assert_int_equal(mmfs_snap_new(f->tier, &f->snap), 0);
	for (i = 0; i < NMAPS; i++) {
		mmfs_snap_map_init(&f->map[i]);
		f->model[i] = __real_calloc(MODEL, sizeof(uint64_t));
		assert_non_null(f->model[i]);
	}
	*state = f;
	return 0;
}

static uint64_t tier_used(struct mmfs_tier *t)
{
	struct mmfs_tier_stat st;

	mmfs_tier_stat(t, &st);
	return st.used_chunks[MMFS_TIER_DRAM] + st.used_chunks[MMFS_TIER_PMEM];
}

static int teardown(void **state)
{
	struct fix *f = *state;
	struct mmfs_snap_stat st;
	int i, rc = 0;

	calloc_fail_in = 0;
	for (i = 0; i < NMAPS; i++) {
		mmfs_snap_map_fini(f->snap, &f->map[i]);
		free(f->model[i]);
	}
	mmfs_snap_stat(f->snap, &st);
	if (tier_used(f->tier) || st.leaves || st.inners || st.slots)
		rc = -1; /* something leaked */
	mmfs_snap_free(&f->snap);
	mmfs_tier_free(&f->tier);
	free(f);
	return rc;
}

static uint64_t *tok(struct fix *f, uint32_t id)
{
	return mmfs_tier_chunk_addr(f->tier, id);
}

/* put -- write a fresh token at @idx of map @m, as a write request does */
static void put(struct fix *f, int m, uint64_t idx)
{
	uint32_t id;

	assert_int_equal(mmfs_snap_map_write_prep(f->snap, &f->map[m], idx,
						  &id), 0);
	*tok(f, id) = ++f->token;
	if (idx < MODEL)
		f->model[m][idx] = f->token;
}

static void model_share(struct fix *f, int d, uint64_t dfirst, int s,
			uint64_t sfirst, uint64_t n)
{
	uint64_t i, *tmp = __real_calloc(MODEL, sizeof(uint64_t));

	assert_non_null(tmp);
	for (i = 0; i < n && dfirst + i < MODEL; i++)
		tmp[i] = sfirst + i < MODEL ? f->model[s][sfirst + i] : 0;
	for (i = 0; i < n && dfirst + i < MODEL; i++)
		f->model[d][dfirst + i] = tmp[i];
	free(tmp);
}

static void share(struct fix *f, int d, uint64_t dfirst, int s,
		  uint64_t sfirst, uint64_t n)
{
	uint64_t done;

	assert_int_equal(mmfs_snap_map_share(f->snap, &f->map[d], dfirst,
					     &f->map[s], sfirst, n, &done), 0);
	assert_int_equal(done, n);
	model_share(f, d, dfirst, s, sfirst, n);
}

static void audit_fail(void *arg, const char *msg)
{
	(void)arg;
	print_error("audit: %s\n", msg);
}

/* check -- every map against the model, refcounts against references */
static void check(struct fix *f)
{
	struct mmfs_snap_audit *a;
	uint8_t *seen = __real_calloc(mmfs_tier_max_id(f->tier) + 1, 1);
	uint64_t distinct = 0, idx, n;
	int m;

	assert_non_null(seen);
	assert_int_equal(mmfs_snap_audit_new(f->snap, &a), 0);
	for (m = 0; m < NMAPS; m++) {
		assert_int_equal(mmfs_snap_audit_map(a, &f->map[m]), 0);
		for (idx = 0, n = 0; idx < MODEL; idx++) {
			uint32_t id = mmfs_snap_map_lookup(&f->map[m], idx);

			if (!f->model[m][idx]) {
				if (id)
					fail_msg("map %d idx %llu: chunk %u, "
						 "want a hole", m,
						 (unsigned long long)idx, id);
				continue;
			}
			n++;
			if (!id || *tok(f, id) != f->model[m][idx])
				fail_msg("map %d idx %llu: token %llu, want "
					 "%llu", m, (unsigned long long)idx,
					 id ? (unsigned long long)*tok(f, id)
					    : 0ULL,
					 (unsigned long long)f->model[m][idx]);
			if (!seen[id]++)
				distinct++;
		}
		if (mmfs_snap_map_chunks(&f->map[m]) != n)
			fail_msg("map %d: %llu chunks, model %llu", m,
				 (unsigned long long)mmfs_snap_map_chunks(
					 &f->map[m]),
				 (unsigned long long)n);
	}
	assert_int_equal(mmfs_snap_audit_end(&a, audit_fail, NULL), 0);
	assert_int_equal(tier_used(f->tier), distinct);
	free(seen);
}

static void test_whole_share_is_one_reference(void **state)
{
	struct fix *f = *state;
	struct mmfs_snap_stat before, after;
	uint32_t id0, id5;
	uint64_t i;

	for (i = 0; i < 5000; i++)
		put(f, 0, i);
	id0 = mmfs_snap_map_lookup(&f->map[0], 0);
	id5 = mmfs_snap_map_lookup(&f->map[0], 4999);
	mmfs_snap_stat(f->snap, &before);
	share(f, 1, 0, 0, 0, MMFS_SNAP_ALL);
	mmfs_snap_stat(f->snap, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(mmfs_snap_chunk_refs(f->snap, id0), 1);
	assert_int_equal(mmfs_snap_map_chunks(&f->map[1]), 5000);
	check(f);
	/* A write to the clone copies one path and one chunk */
	put(f, 1, 4999);
	assert_int_not_equal(mmfs_snap_map_lookup(&f->map[1], 4999), id5);
	assert_int_equal(mmfs_snap_map_lookup(&f->map[0], 4999), id5);
	assert_int_equal(tier_used(f->tier), 5001);
	check(f);
	/* The source's write copies too: the clone keeps the old chunk */
	put(f, 0, 0);
	assert_int_not_equal(mmfs_snap_map_lookup(&f->map[0], 0), id0);
	assert_int_equal(mmfs_snap_map_lookup(&f->map[1], 0), id0);
	check(f);
	/* Punching a shared subtree from one side leaves the other */
	assert_int_equal(mmfs_snap_map_punch(f->snap, &f->map[0], 100, 4200),
			 0);
	for (i = 100; i <= 4200; i++)
		f->model[0][i] = 0;
	check(f);
	/* The last sharer frees what only it holds */
	mmfs_snap_map_fini(f->snap, &f->map[0]);
	memset(f->model[0], 0, MODEL * sizeof(uint64_t));
	check(f);
}

static void test_share_ranges(void **state)
{
	struct fix *f = *state;
	uint64_t i;

	for (i = 0; i < DOMAIN; i += 3)
		put(f, 0, i);
	for (i = 0; i < 200; i++)
		put(f, 1, i);
	share(f, 1, 64, 0, 128, 64 * 5);      /* leaves, whole */
	check(f);
	share(f, 1, 4096, 0, 8192, 4096);     /* one level-2 subtree */
	check(f);
	share(f, 2, 7, 0, 1000, 3000);        /* unaligned: entry by entry */
	check(f);
	share(f, 1, 10, 1, 500, 20);          /* within one map */
	check(f);
	share(f, 3, 0, 1, 0, MMFS_SNAP_ALL);  /* empty map: the root */
	share(f, 2, 64, 3, 64, MMFS_SNAP_ALL - 64); /* to the end */
	check(f);
	assert_int_equal(mmfs_snap_map_share(f->snap, &f->map[1], 10,
					     &f->map[1], 20, 20, &i),
			 -EINVAL);
	assert_int_equal(mmfs_snap_map_share(f->snap, &f->map[1], 1, &f->map[0],
					     0, MMFS_SNAP_ALL, &i),
			 -EFBIG);
	check(f);
}

/* A seeded random mix of every mutator on four maps, checked each step */
static void test_random_vs_model(void **state)
{
	struct fix *f = *state;
	unsigned seed = 12345, step;

	for (step = 0; step < 3000; step++) {
		unsigned op = (unsigned)rand_r(&seed) % 100;
		int m = rand_r(&seed) % NMAPS, s = rand_r(&seed) % NMAPS;
		uint64_t a = (uint64_t)rand_r(&seed) % DOMAIN;
		uint64_t b = (uint64_t)rand_r(&seed) % DOMAIN, n, i;
		static const uint64_t align[] = { 1, 64, 4096 };

		if (op < 45) {
			for (i = 0; i < 1 + (uint64_t)rand_r(&seed) % 80 &&
				    a + i < DOMAIN; i++)
				put(f, m, a + i);
		} else if (op < 60) {
			n = 1 + (uint64_t)rand_r(&seed) % 700;
			assert_int_equal(mmfs_snap_map_punch(f->snap,
							     &f->map[m], a,
							     a + n - 1), 0);
			for (i = a; i < a + n && i < MODEL; i++)
				f->model[m][i] = 0;
		} else if (op < 65) {
			/* preallocated, then written: unwritten -> written */
			assert_int_equal(mmfs_snap_map_prealloc(f->snap,
								&f->map[m],
								a), 0);
			put(f, m, a);
		} else if (op < 97) {
			uint64_t al = align[rand_r(&seed) % 3];

			a -= a % al;
			b -= b % al;
			n = al * (1 + (uint64_t)rand_r(&seed) % 3) +
			    (uint64_t)rand_r(&seed) % 3;
			if (rand_r(&seed) % 8 == 0 && a <= b)
				n = MMFS_SNAP_ALL - b;
			if (m == s && a < b + n && b < a + n)
				continue;
			share(f, m, a, s, b, n);
		} else {
			mmfs_snap_map_fini(f->snap, &f->map[m]);
			memset(f->model[m], 0, MODEL * sizeof(uint64_t));
		}
		check(f);
	}
}

/* -ENOMEM at each allocation of a copy-on-write path: nothing changes */
static void test_enomem_on_shared_path(void **state)
{
	struct fix *f = *state;
	unsigned k;
	uint64_t i;

	for (i = 0; i < 5000; i += 7)
		put(f, 0, i);
	share(f, 1, 0, 0, 0, MMFS_SNAP_ALL);
	for (k = 1; k < 10; k++) {
		uint32_t id;
		int rc;

		calloc_fail_in = k;
		rc = mmfs_snap_map_write_prep(f->snap, &f->map[1], 4207, &id);
		calloc_fail_in = 0;
		if (rc == 0) {
			*tok(f, id) = ++f->token;
			f->model[1][4207] = f->token;
			check(f);
			break;
		}
		assert_int_equal(rc, -ENOMEM);
		check(f);
		calloc_fail_in = k;
		rc = mmfs_snap_map_punch(f->snap, &f->map[0], 70, 4100);
		calloc_fail_in = 0;
		assert_true(rc == 0 || rc == -ENOMEM);
		if (rc == 0)
			for (i = 70; i <= 4100; i++)
				f->model[0][i] = 0;
		check(f);
	}
	assert_true(k > 1 && k < 10);
}

struct rec {
	uint32_t no;
	unsigned level, n;
	uint8_t slot[64];
	uint32_t val[64];
};

struct recs {
	struct rec *r;
	size_t n, cap;
};

static int emit(void *arg, uint32_t no, unsigned level, unsigned n,
		const uint8_t *slot, const uint32_t *val)
{
	struct recs *rs = arg;
	struct rec *r;

	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 64;
		rs->r = realloc(rs->r, rs->cap * sizeof(*rs->r));
		assert_non_null(rs->r);
	}
	r = &rs->r[rs->n++];
	r->no = no;
	r->level = level;
	r->n = n;
	memcpy(r->slot, slot, n);
	memcpy(r->val, val, n * sizeof(*val));
	return 0;
}

/* N clones of one tree: the saver writes its nodes once */
static void test_saver_writes_shared_nodes_once(void **state)
{
	struct fix *f = *state;
	struct mmfs_snap_saver *sv;
	struct mmfs_snap_stat st;
	struct recs rs = { 0 };
	uint8_t h[NMAPS];
	uint32_t root[NMAPS];
	uint64_t i;
	int m;

	for (i = 0; i < DOMAIN; i += 5)
		put(f, 0, i);
	for (m = 1; m < NMAPS; m++)
		share(f, m, 0, 0, 0, MMFS_SNAP_ALL);
	put(f, 3, 9000); /* one path of map 3 is its own */
	mmfs_snap_stat(f->snap, &st);
	assert_int_equal(mmfs_snap_saver_new(emit, &rs, &sv), 0);
	for (m = 0; m < NMAPS; m++)
		assert_int_equal(mmfs_snap_save_map(sv, &f->map[m], &h[m],
						    &root[m]), 0);
	mmfs_snap_saver_free(&sv);
	assert_int_equal(rs.n, st.leaves + st.inners);
	assert_int_equal(root[1], root[0]);
	assert_int_equal(root[2], root[0]);
	assert_int_not_equal(root[3], root[0]);
	for (i = 0; i < rs.n; i++) {
		assert_int_equal(rs.r[i].no, i + 1); /* numbered as written */
		if (rs.r[i].level > 1)
			for (m = 0; m < (int)rs.r[i].n; m++)
				assert_true(rs.r[i].val[m] < rs.r[i].no);
	}
	free(rs.r);
}

/* excl -- chunks only the maps in @set hold */
static uint64_t excl(struct fix *f, const int *set, int n)
{
	struct mmfs_snap_excl *e;
	uint64_t chunks = 0;
	int i;

	assert_int_equal(mmfs_snap_excl_new(f->snap, &e), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(mmfs_snap_excl_map(e, &f->map[set[i]]), 0);
	assert_int_equal(mmfs_snap_excl_end(&e, &chunks), 0);
	return chunks;
}

/*
 * Exclusive bytes, against the truth: what fini of the set frees. A tree
 * shared whole, then changed on both sides, shared again in parts.
 */
static void test_exclusive_bytes(void **state)
{
	struct fix *f = *state;
	static const int sets[][3] = { { 0 }, { 1 }, { 2 }, { 3 }, { 0, 1 },
				       { 1, 2 }, { 0, 2, 3 }, { 1, 3 } };
	static const int lens[] = { 1, 1, 1, 1, 2, 2, 3, 2 };
	uint64_t i, want;
	size_t k;
	int m;

	for (i = 0; i < 9000; i++)
		put(f, 0, i);
	assert_int_equal(excl(f, (int[]){ 0 }, 1), 9000);
	share(f, 1, 0, 0, 0, MMFS_SNAP_ALL);     /* a snapshot */
	assert_int_equal(excl(f, (int[]){ 0 }, 1), 0);
	assert_int_equal(excl(f, (int[]){ 0, 1 }, 2), 9000);
	for (i = 0; i < 100; i++)
		put(f, 0, i * 7);                /* 100 chunks diverge */
	share(f, 2, 0, 1, 4096, 4096);           /* a level-2 subtree */
	share(f, 3, 5, 0, 300, 500);             /* entry by entry */
	for (i = 0; i < 50; i++)
		put(f, 3, 5 + i);
	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		uint8_t *own = __real_calloc(mmfs_tier_max_id(f->tier) + 1, 1);
		uint64_t got = excl(f, sets[k], lens[k]);

		/* The truth: ids the set's maps name and no other map does */
		assert_non_null(own);
		for (m = 0; m < NMAPS; m++) {
			bool in = false;
			int j;

			for (j = 0; j < lens[k]; j++)
				in |= sets[k][j] == m;
			for (i = 0; i < MODEL; i++) {
				uint32_t id = mmfs_snap_map_lookup(&f->map[m],
								   i);

				if (id)
					own[id] |= in ? 1 : 2;
			}
		}
		for (want = 0, i = 1; i <= mmfs_tier_max_id(f->tier); i++)
			want += own[i] == 1;
		free(own);
		if (got != want)
			fail_msg("set %zu: exclusive %llu, want %llu", k,
				 (unsigned long long)got,
				 (unsigned long long)want);
	}
	check(f);
}

/* --- the loader, on a real pool (claims need one) --- */

struct pfix {
	char dir[64], path[96];
	struct mmfs_pool *pool;
	struct mmfs_tier *tier;
	struct mmfs_snap *snap;
};

static void pool_up(struct pfix *p)
{
	struct mmfs_tier_opts o = { .dram_bytes = 0 };
	char why[MMFS_POOL_WHY];

	assert_int_equal(mmfs_pool_open(p->path, 0, &p->pool, why), 0);
	o.pool = p->pool;
	assert_int_equal(mmfs_tier_new(&o, &p->tier), 0);
	assert_int_equal(mmfs_snap_new(p->tier, &p->snap), 0);
}

static void pool_down(struct pfix *p)
{
	mmfs_snap_free(&p->snap);
	mmfs_tier_free(&p->tier);
	mmfs_pool_close(&p->pool);
}

static void test_loader_round_trip_and_refusals(void **state)
{
	struct mmfs_pool_mkfs_opts mo = { .size = 32u << 20,
					  .chunk_size = CHUNK };
	struct pfix p = { 0 };
	struct mmfs_snap_map a, b, c, x;
	struct mmfs_snap_loader *ld;
	struct mmfs_snap_saver *sv;
	struct recs rs = { 0 };
	uint32_t ra, rb, ids[300], bad_val;
	uint8_t ha, hb, bad_slot[2] = { 3, 3 };
	char why[MMFS_POOL_WHY];
	uint64_t i;
	size_t k;

	(void)state;
	strcpy(p.dir, "/dev/shm/mmfs-share-XXXXXX");
	assert_non_null(mkdtemp(p.dir));
	snprintf(p.path, sizeof(p.path), "%s/pool", p.dir);
	assert_int_equal(mmfs_pool_mkfs(p.path, &mo, why), 0);
	pool_up(&p);
	assert_int_equal(mmfs_tier_ready(p.tier), 0);
	mmfs_snap_map_init(&a);
	mmfs_snap_map_init(&b);
	for (i = 0; i < 300; i++)
		assert_int_equal(mmfs_snap_map_write_prep(p.snap, &a, i * 3,
							  &ids[i]), 0);
	assert_int_equal(mmfs_snap_map_share(p.snap, &b, 0, &a, 0,
					     MMFS_SNAP_ALL, &i), 0);
	assert_int_equal(mmfs_snap_map_write_prep(p.snap, &b, 3, &ra), 0);
	assert_int_equal(mmfs_snap_saver_new(emit, &rs, &sv), 0);
	assert_int_equal(mmfs_snap_save_map(sv, &a, &ha, &ra), 0);
	assert_int_equal(mmfs_snap_save_map(sv, &b, &hb, &rb), 0);
	mmfs_snap_saver_free(&sv);
	/* Forget it all, as a crash does (the pool is never told), reload */
	mmfs_snap_map_fini(p.snap, &a);
	mmfs_snap_map_fini(p.snap, &b);
	pool_down(&p);
	pool_up(&p);
	mmfs_snap_map_init(&a);
	mmfs_snap_map_init(&b);
	mmfs_snap_map_init(&c);
	assert_int_equal(mmfs_snap_loader_new(p.snap, &ld), 0);
	for (k = 0; k < rs.n; k++)
		assert_int_equal(mmfs_snap_load_node(ld, rs.r[k].no,
						     rs.r[k].level, rs.r[k].n,
						     rs.r[k].slot,
						     rs.r[k].val), 0);
	assert_int_equal(mmfs_snap_load_root(ld, &a, ha, ra), 0);
	assert_int_equal(mmfs_snap_load_root(ld, &b, hb, rb), 0);
	/* Refusals: each leaves the loader usable */
	assert_int_equal(mmfs_snap_load_root(ld, &a, ha, ra), -EUCLEAN);
	mmfs_snap_map_init(&x);
	assert_int_equal(mmfs_snap_load_root(ld, &x, 7, ra), -EUCLEAN);
	assert_int_equal(mmfs_snap_load_root(ld, &x, ha, 999999), -EUCLEAN);
	assert_int_equal(mmfs_snap_load_node(ld, 1, 1, 1, bad_slot, &ids[0]),
			 -EUCLEAN); /* number out of order */
	assert_int_equal(mmfs_snap_load_node(ld, (uint32_t)rs.n + 1, 1, 2,
					     bad_slot, ids), -EUCLEAN);
	bad_val = 0xffffff;
	assert_int_equal(mmfs_snap_load_node(ld, (uint32_t)rs.n + 1, 1, 1,
					     bad_slot, &bad_val), -EUCLEAN);
	bad_val = 1; /* a leaf as the child of a level-3 node */
	assert_int_equal(mmfs_snap_load_node(ld, (uint32_t)rs.n + 1, 3, 1,
					     bad_slot, &bad_val), -EUCLEAN);
	mmfs_snap_loader_free(&ld);
	assert_int_equal(mmfs_tier_ready(p.tier), 0);
	for (i = 0; i < 300; i++) {
		assert_int_equal(mmfs_snap_map_lookup(&a, i * 3), ids[i]);
		if (i != 1)
			assert_int_equal(mmfs_snap_map_lookup(&b, i * 3),
					 ids[i]);
	}
	assert_int_not_equal(mmfs_snap_map_lookup(&b, 3), ids[1]);
	assert_int_equal(mmfs_snap_map_chunks(&b), 300);
	assert_int_equal(tier_used(p.tier), 301);
	mmfs_snap_map_fini(p.snap, &a);
	mmfs_snap_map_fini(p.snap, &b);
	assert_int_equal(tier_used(p.tier), 0);
	pool_down(&p);
	free(rs.r);
	unlink(p.path);
	rmdir(p.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_whole_share_is_one_reference),
		T(test_share_ranges),
		T(test_random_vs_model),
		T(test_enomem_on_shared_path),
		T(test_saver_writes_shared_nodes_once),
		T(test_exclusive_bytes),
		cmocka_unit_test(test_loader_round_trip_and_refusals),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tier -- unit tests of tier/ (tier.c and the DRAM arena in dram.c):
 * geometry checks in mmfs_tier_new (chunk sizes that are not a power of two
 * in [4K, 2M], a bad dram_nodes list), allocation of a 1 MiB budget in 64K
 * chunks up to -ENOSPC at exactly 16 chunks, id uniqueness and range, that
 * chunks do not overlap, that new chunks read as zeros even when a written
 * chunk is reused, the zero chunk, the stat counters, 4K and 2M chunks,
 * cleanup on every failing calloc/mmap inside mmfs_tier_new (injected with
 * -Wl,--wrap, with mmap/munmap balance checked), and threads that allocate,
 * write, verify and free concurrently.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "tier/tier.h"
#include "utils/err.h"

#define BUDGET (1u << 20)
#define CHUNK (64u << 10)
#define NCHUNKS (BUDGET / CHUNK)

/*
 * --- fault injection: calloc, mmap, munmap ---
 * With -D_FILE_OFFSET_BITS=64 glibc's <sys/mman.h> turns mmap into mmap64,
 * so that is the symbol the tier library references and we wrap.
 */

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__real_mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off);
void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off);
int __real_munmap(void *addr, size_t len);
int __wrap_munmap(void *addr, size_t len);

/* Countdowns: the call that brings one from 1 to 0 fails; 0 = disarmed. */
static unsigned calloc_fail_in, mmap_fail_in;
static unsigned mmap_calls;
static long maps_live; /* successful wrapped mmaps minus munmaps */

void *__wrap_calloc(size_t n, size_t size)
{
	if (calloc_fail_in && --calloc_fail_in == 0) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(n, size);
}

void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off)
{
	void *p;

	mmap_calls++;
	if (mmap_fail_in && --mmap_fail_in == 0) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	p = __real_mmap64(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED)
		maps_live++;
	return p;
}

int __wrap_munmap(void *addr, size_t len)
{
	int rc = __real_munmap(addr, len);

	if (rc == 0)
		maps_live--;
	return rc;
}

/* --- helpers --- */

static int setup_tier(void **state)
{
	struct mmfs_tier_opts o = { .dram_bytes = BUDGET, .chunk_size = CHUNK };
	struct mmfs_tier *t = NULL;

	calloc_fail_in = mmap_fail_in = 0;
	if (mmfs_tier_new(&o, &t) < 0)
		return -1;
	*state = t;
	return 0;
}

static int teardown_tier(void **state)
{
	struct mmfs_tier *t = *state;

	mmfs_tier_free(&t);
	return t == NULL ? 0 : -1;
}

/* all_bytes -- (internal) is every byte of @p equal to @c? */
static bool all_bytes(const void *p, unsigned char c, size_t len)
{
	const unsigned char *b = p;

	/* b[i] == b[i + 1] for all i, and b[0] == c. */
	return len == 0 || (b[0] == c && memcmp(b, b + 1, len - 1) == 0);
}

static struct mmfs_tier_stat stat_of(struct mmfs_tier *t)
{
	struct mmfs_tier_stat st;

	mmfs_tier_stat(t, &st);
	return st;
}

/* fill -- (internal) allocate until -ENOSPC; returns how many */
static unsigned fill(struct mmfs_tier *t, uint32_t *ids, unsigned max)
{
	unsigned n = 0;
	int rc;

	while ((rc = mmfs_tier_chunk_alloc(t, &ids[n])) == 0) {
		n++;
		assert_true(n <= max);
	}
	assert_int_equal(rc, -ENOSPC);
	return n;
}

/* --- geometry --- */

static void test_new_bad_chunk_size(void **state)
{
	static const uint32_t bad[] = {
		0, 1, 2048, 3000, 4095, 4097, 96u << 10, 3u << 20, 4u << 20,
		0x80000000u, (64u << 10) + 4096,
	};
	size_t i;

	for (i = 0; i < MMFS_ARRAY_SIZE(bad); i++) {
		struct mmfs_tier_opts o = { .dram_bytes = 64u << 20,
					    .chunk_size = bad[i] };
		struct mmfs_tier *t = NULL;

		if (mmfs_tier_new(&o, &t) != -EINVAL)
			fail_msg("chunk_size %u accepted", bad[i]);
		assert_null(t);
	}
}

static void test_new_bad_nodes(void **state)
{
	static const char *const bad[] = { "999", "0-999", "x", "1,,2" };
	size_t i;

	for (i = 0; i < MMFS_ARRAY_SIZE(bad); i++) {
		struct mmfs_tier_opts o = { .dram_bytes = BUDGET,
					    .chunk_size = CHUNK,
					    .dram_nodes = bad[i] };
		struct mmfs_tier *t = NULL;
		long live = maps_live;

		if (mmfs_tier_new(&o, &t) != -EINVAL)
			fail_msg("dram_nodes \"%s\" accepted", bad[i]);
		assert_null(t);
		assert_int_equal(maps_live, live);
	}
}

/* Node 0 exists on any Linux machine with NUMA syscalls. */
static void test_new_node0(void **state)
{
	struct mmfs_tier_opts o = { .dram_bytes = BUDGET, .chunk_size = CHUNK,
				    .dram_nodes = "0" };
	struct mmfs_tier *t = NULL;
	uint32_t id;

	/* What numa_available() checks: without it "0" is rightly refused. */
	if (syscall(SYS_get_mempolicy, NULL, NULL, 0, NULL, 0) < 0)
		skip();
	assert_int_equal(mmfs_tier_new(&o, &t), 0);
	assert_int_equal(mmfs_tier_chunk_alloc(t, &id), 0);
	memset(mmfs_tier_chunk_addr(t, id), 0x11, CHUNK);
	mmfs_tier_chunk_free(t, id);
	mmfs_tier_free(&t);
	assert_null(t);
}

static void test_geometry(void **state)
{
	struct mmfs_tier *t = *state;
	struct mmfs_tier_stat st = stat_of(t);

	assert_int_equal(mmfs_tier_chunk_size(t), CHUNK);
	assert_int_equal(mmfs_tier_max_id(t), NCHUNKS);
	assert_int_equal(st.chunk_size, CHUNK);
	assert_int_equal(st.total_chunks[MMFS_TIER_DRAM], NCHUNKS);
	assert_int_equal(st.total_chunks[MMFS_TIER_PMEM], 0);
	assert_int_equal(st.used_chunks[MMFS_TIER_DRAM], 0);
	assert_int_equal(st.used_chunks[MMFS_TIER_PMEM], 0);
	assert_int_equal(st.allocs, 0);
	assert_int_equal(st.frees, 0);
	assert_int_equal(st.enospc, 0);
}

/* The budget is rounded down to whole chunks. */
static void test_budget_rounding(void **state)
{
	static const struct {
		uint64_t bytes;
		unsigned chunks;
	} cases[] = {
		{ BUDGET + CHUNK - 1, NCHUNKS },
		{ BUDGET - 1, NCHUNKS - 1 },
		{ CHUNK, 1 },
		{ CHUNK - 1, 0 },
		{ 0, 0 },
	};
	size_t i;

	for (i = 0; i < MMFS_ARRAY_SIZE(cases); i++) {
		struct mmfs_tier_opts o = { .dram_bytes = cases[i].bytes,
					    .chunk_size = CHUNK };
		struct mmfs_tier *t = NULL;
		uint32_t ids[NCHUNKS + 1];
		unsigned k;

		assert_int_equal(mmfs_tier_new(&o, &t), 0);
		assert_int_equal(stat_of(t).total_chunks[MMFS_TIER_DRAM],
				 cases[i].chunks);
		assert_int_equal(fill(t, ids, NCHUNKS), cases[i].chunks);
		for (k = 0; k < cases[i].chunks; k++)
			mmfs_tier_chunk_free(t, ids[k]);
		mmfs_tier_free(&t);
	}
}

/* --- allocation --- */

static void test_alloc_to_enospc(void **state)
{
	struct mmfs_tier *t = *state;
	uint32_t ids[NCHUNKS + 1];
	uint32_t spare = 0xdeadbeef;
	bool seen[NCHUNKS + 1] = { false };
	unsigned i, n;

	n = fill(t, ids, NCHUNKS);
	assert_int_equal(n, NCHUNKS);
	for (i = 0; i < n; i++) {
		assert_in_range(ids[i], 1, mmfs_tier_max_id(t));
		assert_false(seen[ids[i]]);
		seen[ids[i]] = true;
		assert_int_equal(mmfs_tier_chunk_tier(t, ids[i]),
				 MMFS_TIER_DRAM);
	}
	/* Full: fails again, and does not touch *id. */
	assert_int_equal(mmfs_tier_chunk_alloc(t, &spare), -ENOSPC);
	assert_int_equal(spare, 0xdeadbeef);
	assert_int_equal(stat_of(t).enospc, 2);
	assert_int_equal(stat_of(t).used_chunks[MMFS_TIER_DRAM], NCHUNKS);

	/* One free makes exactly one more allocation possible. */
	mmfs_tier_chunk_free(t, ids[5]);
	assert_int_equal(mmfs_tier_chunk_alloc(t, &ids[5]), 0);
	assert_in_range(ids[5], 1, mmfs_tier_max_id(t));
	assert_int_equal(mmfs_tier_chunk_alloc(t, &spare), -ENOSPC);

	for (i = 0; i < n; i++)
		mmfs_tier_chunk_free(t, ids[i]);
	assert_int_equal(stat_of(t).used_chunks[MMFS_TIER_DRAM], 0);

	/* After a full drain the whole capacity is there again. */
	assert_int_equal(fill(t, ids, NCHUNKS), NCHUNKS);
	for (i = 0; i < NCHUNKS; i++)
		mmfs_tier_chunk_free(t, ids[i]);
}

/* Chunks are disjoint: a write to one is seen through no other. */
static void test_chunks_disjoint(void **state)
{
	struct mmfs_tier *t = *state;
	uint32_t ids[NCHUNKS + 1];
	unsigned i, j, n;

	n = fill(t, ids, NCHUNKS);
	for (i = 0; i < n; i++)
		memset(mmfs_tier_chunk_addr(t, ids[i]), (int)(0x40 + i), CHUNK);
	for (i = 0; i < n; i++) {
		const char *a = mmfs_tier_chunk_addr(t, ids[i]);

		assert_true(all_bytes(a, (unsigned char)(0x40 + i), CHUNK));
		for (j = 0; j < n; j++) {
			const char *b = mmfs_tier_chunk_addr(t, ids[j]);

			if (i != j)
				assert_true(a + CHUNK <= b || b + CHUNK <= a);
		}
	}
	for (i = 0; i < n; i++)
		mmfs_tier_chunk_free(t, ids[i]);
}

static void test_new_chunks_zero(void **state)
{
	struct mmfs_tier *t = *state;
	uint32_t ids[NCHUNKS + 1];
	unsigned i, round;

	for (round = 0; round < 3; round++) {
		assert_int_equal(fill(t, ids, NCHUNKS), NCHUNKS);
		for (i = 0; i < NCHUNKS; i++) {
			char *p = mmfs_tier_chunk_addr(t, ids[i]);

			/* Every slot was written in an earlier round. */
			if (!all_bytes(p, 0, CHUNK))
				fail_msg("round %u: chunk %u not zero", round,
					 ids[i]);
			memset(p, 0xa5, CHUNK);
		}
		/* Free in an order unlike the allocation order. */
		for (i = 0; i < NCHUNKS; i++)
			mmfs_tier_chunk_free(t, ids[(i * 5) % NCHUNKS]);
	}
}

static void test_zero_chunk(void **state)
{
	struct mmfs_tier *t = *state;
	const void *z = mmfs_tier_zero(t);
	uint32_t id;

	assert_non_null(z);
	assert_true(all_bytes(z, 0, CHUNK));
	/* Still zero while real chunks around it are dirtied. */
	assert_int_equal(mmfs_tier_chunk_alloc(t, &id), 0);
	assert_ptr_not_equal(mmfs_tier_chunk_addr(t, id), z);
	memset(mmfs_tier_chunk_addr(t, id), 0xff, CHUNK);
	assert_true(all_bytes(z, 0, CHUNK));
	mmfs_tier_chunk_free(t, id);
}

static void test_stat_counters(void **state)
{
	struct mmfs_tier *t = *state;
	uint32_t a[10], b[10], spare;
	struct mmfs_tier_stat st;
	unsigned i;

	for (i = 0; i < 10; i++)
		assert_int_equal(mmfs_tier_chunk_alloc(t, &a[i]), 0);
	for (i = 0; i < 4; i++)
		mmfs_tier_chunk_free(t, a[i]);
	st = stat_of(t);
	assert_int_equal(st.used_chunks[MMFS_TIER_DRAM], 6);
	assert_int_equal(st.allocs, 10);
	assert_int_equal(st.frees, 4);
	assert_int_equal(st.enospc, 0);

	/* 6 in use: 10 more fit, then three refusals. */
	for (i = 0; i < 10; i++)
		assert_int_equal(mmfs_tier_chunk_alloc(t, &b[i]), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(mmfs_tier_chunk_alloc(t, &spare), -ENOSPC);
	st = stat_of(t);
	assert_int_equal(st.used_chunks[MMFS_TIER_DRAM], NCHUNKS);
	assert_int_equal(st.used_chunks[MMFS_TIER_PMEM], 0);
	assert_int_equal(st.allocs, 20);
	assert_int_equal(st.frees, 4);
	assert_int_equal(st.enospc, 3);

	for (i = 4; i < 10; i++)
		mmfs_tier_chunk_free(t, a[i]);
	for (i = 0; i < 10; i++)
		mmfs_tier_chunk_free(t, b[i]);
	st = stat_of(t);
	assert_int_equal(st.used_chunks[MMFS_TIER_DRAM], 0);
	assert_int_equal(st.allocs, 20);
	assert_int_equal(st.frees, 20);
	assert_int_equal(st.enospc, 3);
}

/* check_chunk_size -- (internal) a tier of @chunks chunks of @cs bytes */
static void check_chunk_size(uint32_t cs, unsigned chunks)
{
	struct mmfs_tier_opts o = { .dram_bytes = (uint64_t)cs * chunks,
				    .chunk_size = cs };
	struct mmfs_tier *t = NULL;
	uint32_t *ids = calloc(chunks + 1, sizeof(*ids));
	unsigned i, n;

	assert_non_null(ids);
	assert_int_equal(mmfs_tier_new(&o, &t), 0);
	assert_int_equal(mmfs_tier_chunk_size(t), cs);
	assert_int_equal(mmfs_tier_max_id(t), chunks);
	assert_true(all_bytes(mmfs_tier_zero(t), 0, cs));
	n = fill(t, ids, chunks);
	assert_int_equal(n, chunks);
	for (i = 0; i < n; i++) {
		unsigned char *p = mmfs_tier_chunk_addr(t, ids[i]);

		/* Chunks are at least chunk-aligned within the arena. */
		assert_int_equal(((uintptr_t)p) % 4096, 0);
		assert_true(all_bytes(p, 0, cs));
		p[0] = (unsigned char)(i + 1);
		p[cs - 1] = (unsigned char)(i + 1);
	}
	for (i = 0; i < n; i++) {
		unsigned char *p = mmfs_tier_chunk_addr(t, ids[i]);

		assert_int_equal(p[0], (unsigned char)(i + 1));
		assert_int_equal(p[cs - 1], (unsigned char)(i + 1));
		mmfs_tier_chunk_free(t, ids[i]);
	}
	assert_int_equal(stat_of(t).used_chunks[MMFS_TIER_DRAM], 0);
	mmfs_tier_free(&t);
	free(ids);
}

static void test_chunk_4k(void **state)
{
	check_chunk_size(MMFS_CHUNK_MIN, 1000);
}

static void test_chunk_2m(void **state)
{
	check_chunk_size(MMFS_CHUNK_MAX, 4);
}

static void test_free_null(void **state)
{
	struct mmfs_tier *t = NULL;

	mmfs_tier_free(&t); /* must be a no-op */
	assert_null(t);
}

/*
 * Every calloc and mmap inside mmfs_tier_new fails in turn: -ENOMEM each
 * time, nothing mapped is left behind, and the next call succeeds.
 */
static void test_new_enomem(void **state)
{
	struct mmfs_tier_opts o = { .dram_bytes = BUDGET, .chunk_size = CHUNK };
	struct mmfs_tier *t = NULL;
	unsigned k, nmaps;
	long live = maps_live;
	int rc;

	calloc_fail_in = 1;
	assert_int_equal(mmfs_tier_new(&o, &t), -ENOMEM);
	assert_null(t);
	assert_int_equal(maps_live, live);

	/* How many mmaps does a good mmfs_tier_new make? */
	mmap_calls = 0;
	assert_int_equal(mmfs_tier_new(&o, &t), 0);
	nmaps = mmap_calls;
	mmfs_tier_free(&t);
	assert_int_equal(maps_live, live);
	assert_true(nmaps >= 2);

	for (k = 1; k <= nmaps; k++) {
		mmap_fail_in = k;
		rc = mmfs_tier_new(&o, &t);
		mmap_fail_in = 0;
		if (rc != -ENOMEM)
			fail_msg("mmap #%u failing gave %d", k, rc);
		assert_null(t);
		if (maps_live != live)
			fail_msg("mmap #%u failing leaked %ld mappings", k,
				 maps_live - live);
	}
	assert_int_equal(mmfs_tier_new(&o, &t), 0);
	mmfs_tier_free(&t);
	assert_int_equal(maps_live, live);
}

/* --- concurrency --- */

#define NTHREADS 4
#define PER_THREAD 3 /* 4 x 3 = 12 <= 16: no thread ever sees -ENOSPC */
#define ROUNDS 1000

struct worker {
	struct mmfs_tier *t;
	_Atomic uint32_t *owner; /* id -> worker number + 1, or 0 */
	unsigned no;
	unsigned errors;
	unsigned allocs;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint32_t ids[PER_THREAD];
	unsigned r, i;

	for (r = 0; r < ROUNDS; r++) {
		unsigned char tag = (unsigned char)(w->no * 60 + r % 60 + 1);

		for (i = 0; i < PER_THREAD; i++) {
			uint32_t prev = 0;
			unsigned char *p;

			if (mmfs_tier_chunk_alloc(w->t, &ids[i]) != 0 ||
			    ids[i] == 0 ||
			    ids[i] > mmfs_tier_max_id(w->t)) {
				w->errors++;
				return NULL;
			}
			w->allocs++;
			/* Nobody else may hold this id right now. */
			if (!atomic_compare_exchange_strong(&w->owner[ids[i]],
							    &prev, w->no + 1))
				w->errors++;
			p = mmfs_tier_chunk_addr(w->t, ids[i]);
			if (p[0] || p[CHUNK / 2] || p[CHUNK - 1])
				w->errors++; /* not zero when new */
			memset(p, tag + (int)i, CHUNK);
		}
		for (i = 0; i < PER_THREAD; i++) {
			if (!all_bytes(mmfs_tier_chunk_addr(w->t, ids[i]),
				       (unsigned char)(tag + i), CHUNK))
				w->errors++;
			atomic_store(&w->owner[ids[i]], 0);
			mmfs_tier_chunk_free(w->t, ids[i]);
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct mmfs_tier *t = *state;
	_Atomic uint32_t owner[NCHUNKS + 1];
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	struct mmfs_tier_stat st;
	unsigned i, total = 0;

	for (i = 0; i <= NCHUNKS; i++)
		atomic_init(&owner[i], 0);
	for (i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .t = t, .owner = owner, .no = i };
		assert_int_equal(pthread_create(&th[i], NULL, worker_run,
						&w[i]),
				 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].errors, 0);
		assert_int_equal(w[i].allocs, ROUNDS * PER_THREAD);
		total += w[i].allocs;
	}
	st = stat_of(t);
	assert_int_equal(st.used_chunks[MMFS_TIER_DRAM], 0);
	assert_int_equal(st.allocs, total);
	assert_int_equal(st.frees, total);
	assert_int_equal(st.enospc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_tier, teardown_tier)
		cmocka_unit_test(test_new_bad_chunk_size),
		cmocka_unit_test(test_new_bad_nodes),
		cmocka_unit_test(test_new_node0),
		T(test_geometry),
		cmocka_unit_test(test_budget_rounding),
		T(test_alloc_to_enospc),
		T(test_chunks_disjoint),
		T(test_new_chunks_zero),
		T(test_zero_chunk),
		T(test_stat_counters),
		cmocka_unit_test(test_chunk_4k),
		cmocka_unit_test(test_chunk_2m),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_new_enomem),
		T(test_threads),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

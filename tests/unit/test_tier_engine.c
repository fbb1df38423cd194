/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tier_engine.c -- the tiering engine without a mount: the policy
 * (tier_plan) on synthetic heat -- watermarks, promotion order, hysteresis,
 * the budget, hint precedence -- and, on a real pool file, heat decay and
 * saturation and migrations that keep every chunk's bytes, a remap that
 * waits only for requests on its own chunk; and a volatile
 * slow tier (NUMA/CXL memory) the same way.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tier/tier_i.h"

static struct tier_cand cand(uint32_t id, uint16_t heat, int tier, int pin)
{
	return (struct tier_cand){ .id = id, .heat = heat, .tier = (uint8_t)tier,
				   .pin = (uint8_t)pin };
}

static bool has(const uint32_t *v, size_t n, uint32_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

/* Room in DRAM: the hottest PMEM chunks come in, hottest first. */
static void test_promote_below_low(void **state)
{
	struct tier_cand c[] = {
		cand(1, 0, MMFS_TIER_PMEM, 0), cand(2, 9, MMFS_TIER_PMEM, 0),
		cand(3, 4, MMFS_TIER_PMEM, 0), cand(4, 7, MMFS_TIER_PMEM, 0),
	};
	struct tier_plan p;

	assert_int_equal(tier_plan(c, 4, 100, 0, 0, 100, &p), 0);
	assert_int_equal(p.ndemote, 0);
	assert_int_equal(p.npromote, 3); /* not the one with heat 0 */
	assert_int_equal(p.promote[0], 2);
	assert_int_equal(p.promote[1], 4);
	assert_int_equal(p.promote[2], 3);
	free(p.promote);
	free(p.demote);
	/* The budget caps the moves. */
	assert_int_equal(tier_plan(c, 4, 100, 0, 0, 2, &p), 0);
	assert_int_equal(p.npromote, 2);
	free(p.promote);
	free(p.demote);
	/* At the high watermark (100 - 1%): only swaps, none possible. */
	assert_int_equal(tier_plan(c, 4, 100, 99, 0, 100, &p), 0);
	assert_int_equal(p.npromote, 0);
	free(p.promote);
	free(p.demote);
}

/* Above the high watermark: the coldest go, down to it. */
static void test_demote_above_high(void **state)
{
	struct tier_cand c[20];
	struct tier_plan p;
	uint32_t i;

	for (i = 0; i < 20; i++)
		c[i] = cand(i + 1, (uint16_t)(20 - i), MMFS_TIER_DRAM, 0);
	/* 20 frames, 20 used, 2 for new writes: high = 18 -> two go. */
	assert_int_equal(tier_plan(c, 20, 20, 20, 2, 100, &p), 0);
	assert_int_equal(p.ndemote, 2);
	assert_int_equal(p.demote[0], 20); /* heat 1 */
	assert_int_equal(p.demote[1], 19); /* heat 2 */
	assert_int_equal(p.npromote, 0);
	free(p.promote);
	free(p.demote);
}

/* Full DRAM: a PMEM chunk replaces the coldest only if twice as hot + 8. */
static void test_hysteresis(void **state)
{
	struct tier_cand c[] = {
		cand(1, 3, MMFS_TIER_DRAM, 0), cand(2, 50, MMFS_TIER_DRAM, 0),
		cand(3, 7, MMFS_TIER_PMEM, 0),
	};
	struct tier_plan p;

	/* DRAM at the high watermark: 13 < 2 * 3 + 8, no swap. */
	c[2].heat = 13;
	assert_int_equal(tier_plan(c, 3, 100, 99, 0, 100, &p), 0);
	assert_int_equal(p.npromote + p.ndemote, 0);
	free(p.promote);
	free(p.demote);
	c[2].heat = 14; /* now 14 >= 14: swap with the coldest */
	assert_int_equal(tier_plan(c, 3, 100, 99, 0, 100, &p), 0);
	assert_int_equal(p.npromote, 1);
	assert_int_equal(p.promote[0], 3);
	assert_int_equal(p.ndemote, 1);
	assert_int_equal(p.demote[0], 1);
	free(p.promote);
	free(p.demote);
}

/*
 * The long horizon: a chunk touched every other epoch (heat 2 now) never
 * clears the heat rule against one nobody reads, but its long heat does,
 * and only by the margin: lheat one short of 2 * 0 + TIER_LONG_COST is
 * not enough, and a DRAM chunk hotter now keeps its frame whatever its
 * long heat.
 */
static void test_swap_long(void **state)
{
	static const struct {
		uint16_t cold_heat, cold_lheat, hot_lheat;
		bool swaps;
	} cases[] = {
		{ 0, 0, TIER_LONG_COST, true },
		{ 0, 0, TIER_LONG_COST - 1, false },
		{ 0, 20, 2 * 20 + TIER_LONG_COST, true },
		{ 0, 20, 2 * 20 + TIER_LONG_COST - 1, false },
		{ 3, 0, 1000, false },  /* hotter now than the PMEM chunk */
	};
	struct tier_cand c[3];
	struct tier_plan p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c[0] = cand(1, cases[i].cold_heat, MMFS_TIER_DRAM, 0);
		c[0].lheat = cases[i].cold_lheat;
		c[1] = cand(2, 50, MMFS_TIER_DRAM, 0);
		c[1].lheat = 5000;
		c[2] = cand(3, 2, MMFS_TIER_PMEM, 0);
		c[2].lheat = cases[i].hot_lheat;
		assert_int_equal(tier_plan(c, 3, 2, 2, 0, 100, &p), 0);
		if (cases[i].swaps) {
			assert_int_equal(p.npromote, 1);
			assert_int_equal(p.promote[0], 3);
			assert_int_equal(p.ndemote, 1);
			assert_int_equal(p.demote[0], 1);
		} else {
			assert_int_equal(p.npromote + p.ndemote, 0);
		}
		free(p.promote);
		free(p.demote);
	}
	/* Pinned to DRAM: never displaced. */
	c[0] = cand(1, 0, MMFS_TIER_DRAM, MMFS_HINT_DRAM);
	c[1] = cand(2, 50, MMFS_TIER_DRAM, 0);
	c[1].lheat = 5000;
	c[2] = cand(3, 2, MMFS_TIER_PMEM, 0);
	c[2].lheat = 1000;
	assert_int_equal(tier_plan(c, 3, 2, 2, 0, 100, &p), 0);
	assert_int_equal(p.npromote + p.ndemote, 0);
	free(p.promote);
	free(p.demote);
	/* A free frame below the watermark takes lheat >= TIER_LONG_COST. */
	c[0] = cand(1, 0, MMFS_TIER_PMEM, 0);
	c[0].lheat = TIER_LONG_COST - 1;
	c[1] = cand(2, 0, MMFS_TIER_PMEM, 0);
	c[1].lheat = TIER_LONG_COST;
	assert_int_equal(tier_plan(c, 2, 100, 0, 0, 100, &p), 0);
	assert_int_equal(p.ndemote, 0);
	assert_int_equal(p.npromote, 1);
	assert_int_equal(p.promote[0], 2);
	free(p.promote);
	free(p.demote);
}

/*
 * A skewed tail: 200 PMEM chunks touched once this epoch, 5 touched ten
 * times, DRAM (at its high watermark) full of untouched chunks. The hot set that fits is the 5;
 * the tail must not swap in (it would, every epoch, forever).
 */
static void test_hot_threshold(void **state)
{
	struct tier_cand *c = calloc(304, sizeof(*c));
	struct tier_plan p;
	uint32_t i, n = 0;

	assert_non_null(c);
	for (i = 0; i < 99; i++, n++)
		c[n] = cand(n + 1, 0, MMFS_TIER_DRAM, 0);
	for (i = 0; i < 200; i++, n++)
		c[n] = cand(n + 1, 1, MMFS_TIER_PMEM, 0);
	for (i = 0; i < 5; i++, n++)
		c[n] = cand(n + 1, 10, MMFS_TIER_PMEM, 0);
	assert_int_equal(tier_plan(c, n, 100, 99, 0, 1000, &p), 0);
	assert_int_equal(p.npromote, 5);
	for (i = 0; i < p.npromote; i++)
		assert_true(p.promote[i] > 299); /* the heat-10 ones */
	free(p.promote);
	free(p.demote);
	free(c);
}

/* Pins beat heat, both ways. */
static void test_hint_precedence(void **state)
{
	struct tier_cand c[] = {
		cand(1, 0, MMFS_TIER_DRAM, MMFS_HINT_DRAM),   /* coldest: stays */
		cand(2, 60, MMFS_TIER_DRAM, MMFS_HINT_PMEM),  /* hot: goes */
		cand(3, 0, MMFS_TIER_PMEM, MMFS_HINT_DRAM),   /* cold: comes */
		cand(4, 90, MMFS_TIER_PMEM, MMFS_HINT_PMEM),  /* hot: stays */
		cand(5, 1, MMFS_TIER_DRAM, 0),
	};
	struct tier_plan p;

	/* 3 frames, all used. */
	assert_int_equal(tier_plan(c, 5, 3, 3, 0, 100, &p), 0);
	assert_true(has(p.demote, p.ndemote, 2));
	assert_false(has(p.demote, p.ndemote, 1));
	assert_true(has(p.promote, p.npromote, 3));
	assert_false(has(p.promote, p.npromote, 4));
	free(p.promote);
	free(p.demote);
}

/*
 * Promotion into free frames demotes nothing: DRAM half full of chunks
 * of heat 5, PMEM ones of heat 6..15, which would not pay for a swap
 * (< 2 * 5 + 8); the hottest fill DRAM up to the high watermark.
 */
static void test_promote_into_free(void **state)
{
	struct tier_cand *c = calloc(300, sizeof(*c));
	struct tier_plan p;
	uint32_t i;

	(void)state;
	assert_non_null(c);
	for (i = 0; i < 50; i++)
		c[i] = cand(i + 1, 5, MMFS_TIER_DRAM, 0);
	for (i = 50; i < 300; i++)
		c[i] = cand(i + 1, (uint16_t)(6 + i % 10), MMFS_TIER_PMEM, 0);
	/* 100 frames, 50 used, 1% kept: 49 come in, none goes. */
	assert_int_equal(tier_plan(c, 300, 100, 50, 0, 1000, &p), 0);
	assert_int_equal(p.ndemote, 0);
	assert_int_equal(p.npromote, 49);
	for (i = 0; i < p.npromote; i++)
		assert_true((p.promote[i] - 1) % 10 + 6 >= 14); /* hottest */
	free(p.promote);
	free(p.demote);
	free(c);
}

/* --- the policy over epochs ----------------------------------------------- */

/*
 * A simulated mount: SIM_N chunks, zipf(1.2) accesses scattered over them
 * by a fixed permutation (fio hashes its ranks the same way), first-touch
 * placement (the first @dram ids start in DRAM), each epoch's accesses
 * drawn at random (Poisson-like noise), then plan, apply, decay -- what
 * mmfs_tier_engine_epoch does, without a tier.
 */
#define SIM_N 16384
#define SIM_ACCESSES 50000
#define SIM_EPOCHS 64

struct sim {
	uint16_t heat[SIM_N];
	uint8_t tier[SIM_N];
	uint32_t perm[SIM_N];   /* rank -> chunk */
	double cdf[SIM_N];      /* of the ranks */
	uint64_t dram, used, rng;
	uint32_t accesses;      /* per epoch */
	uint32_t shift;         /* rotates the ranks: a moving hot set */
	uint8_t moved[SIM_N];   /* moves of each chunk */
	struct tier_age age[SIM_N]; /* what the engine remembers */
	struct tier_cand c[SIM_N];
};

static uint64_t sim_rand(struct sim *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

static struct sim *sim_new(uint64_t dram)
{
	struct sim *s = calloc(1, sizeof(*s));
	double sum = 0;
	uint32_t i;

	assert_non_null(s);
	s->rng = 0x9e3779b97f4a7c15ull;
	s->dram = dram;
	s->accesses = SIM_ACCESSES;
	for (i = 0; i < SIM_N; i++) {
		sum += pow(i + 1, -1.2);
		s->cdf[i] = sum;
		s->perm[i] = i;
		s->tier[i] = i < dram ? MMFS_TIER_DRAM : MMFS_TIER_PMEM;
	}
	for (i = 0; i < SIM_N; i++)
		s->cdf[i] /= sum;
	for (i = SIM_N - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(sim_rand(s) % (i + 1)), t = s->perm[i];

		s->perm[i] = s->perm[j];
		s->perm[j] = t;
	}
	s->used = dram < SIM_N ? dram : SIM_N;
	return s;
}

/* sim_chunk -- the chunk that holds rank @r now */
static uint32_t sim_chunk(const struct sim *s, uint32_t r)
{
	return s->perm[(r + s->shift) % SIM_N];
}

/* sim_epoch -- one epoch; @noise: draw accesses (else keep the heats) */
static size_t sim_epoch(struct sim *s, bool noise)
{
	struct tier_plan p;
	size_t i, moves;

	for (i = 0; noise && i < s->accesses; i++) {
		double u = (double)(sim_rand(s) >> 11) / (double)(1ull << 53);
		size_t lo = 0, hi = SIM_N - 1;
		uint32_t id;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (s->cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		id = sim_chunk(s, (uint32_t)lo);
		if (s->heat[id] < UINT16_MAX)
			s->heat[id]++;
	}
	for (i = 0; i < SIM_N; i++) {
		s->c[i] = cand((uint32_t)i + 1, s->heat[i], s->tier[i], 0);
		tier_age_epoch(&s->age[i], &s->c[i], true);
	}
	assert_int_equal(tier_plan(s->c, SIM_N, s->dram, s->used, 0, SIM_N,
				   &p), 0);
	for (i = 0; i < p.ndemote; i++) {
		assert_int_equal(s->tier[p.demote[i] - 1], MMFS_TIER_DRAM);
		s->tier[p.demote[i] - 1] = MMFS_TIER_PMEM;
		s->moved[p.demote[i] - 1]++;
		s->used--;
	}
	for (i = 0; i < p.npromote; i++) {
		assert_int_equal(s->tier[p.promote[i] - 1], MMFS_TIER_PMEM);
		s->tier[p.promote[i] - 1] = MMFS_TIER_DRAM;
		s->moved[p.promote[i] - 1]++;
		s->used++;
	}
	assert_true(s->used <= s->dram);
	moves = p.npromote + p.ndemote;
	free(p.promote);
	free(p.demote);
	for (i = 0; noise && i < SIM_N; i++)
		s->heat[i] = (uint16_t)((3u * s->heat[i]) >> 2);
	return moves;
}

/* sim_hot_in_dram -- how many of the @k hottest ranks sit in DRAM */
static uint32_t sim_hot_in_dram(const struct sim *s, uint32_t k)
{
	uint32_t r, n = 0;

	for (r = 0; r < k; r++)
		n += s->tier[sim_chunk(s, r)] == MMFS_TIER_DRAM;
	return n;
}

/* sim_hits -- the share of accesses that DRAM serves, and what the best
 * placement of s->dram frames would serve (@ideal) */
static double sim_hits(const struct sim *s, double *ideal)
{
	uint32_t r;
	double hit = 0;

	for (r = 0; r < SIM_N; r++)
		if (s->tier[sim_chunk(s, r)] == MMFS_TIER_DRAM)
			hit += s->cdf[r] - (r ? s->cdf[r - 1] : 0);
	*ideal = s->dram ? s->cdf[(s->dram < SIM_N ? s->dram : SIM_N) - 1] : 0;
	return hit;
}

/*
 * More DRAM never holds fewer of the hottest chunks: the same heats (the
 * expected ones of zipf(1.2)), budgets from 0 to all of it, each planned
 * for a few epochs from first-touch placement; for every k, the k hottest
 * in DRAM never drop as the budget grows.
 */
static void test_monotone_in_dram(void **state)
{
	static const uint32_t ks[] = { 10, 30, 100, 300, 1000, 2000, 3000 };
	uint32_t prev[7] = { 0 };
	uint64_t dram;
	size_t i;

	(void)state;
	for (dram = 0; dram <= SIM_N + SIM_N / 10; dram += SIM_N / 30) {
		struct sim *s = sim_new(dram);
		uint32_t r;
		int e;

		for (r = 0; r < SIM_N; r++)
			s->heat[sim_chunk(s, r)] = (uint16_t)(4.0 *
				SIM_ACCESSES * (s->cdf[r] -
						(r ? s->cdf[r - 1] : 0)));
		for (e = 0; e < 8; e++)
			sim_epoch(s, false);
		for (i = 0; i < 7; i++) {
			uint32_t got = sim_hot_in_dram(s, ks[i]);

			if (got < prev[i])
				fail_msg("dram %llu: %u of the %u hottest in "
					 "DRAM, fewer than %u with less",
					 (unsigned long long)dram, got, ks[i],
					 prev[i]);
			prev[i] = got;
		}
		free(s);
	}
	assert_int_equal(prev[0], 10);
}

/*
 * A stable hot set stops moving: zipf accesses with fresh noise every
 * epoch (about 1.5 and 3 per chunk: tiering.sh's 64 KiB runs), DRAM a
 * third and two thirds of the data, 64 epochs from first-touch
 * placement. In the second half the planner moves at most 2% of the
 * frames an epoch, in the last eight at most 1%; few chunks ever move
 * twice (3% of the frames); the hottest 300 are in DRAM, and DRAM serves
 * within 2 points of the accesses the best placement would. Before the
 * long horizon, the heat rules alone left 2/3 of DRAM serving 0.957 of
 * the accesses at 1.5 a chunk (the best: 0.988) and 1/3 0.915 (0.964);
 * an earlier rule (halving, 2 * cold + 2) moved 10% of the frames every
 * epoch, 600 chunks back and forth.
 */
static void test_stable_hot_set_settles(void **state)
{
	static const uint64_t drams[] = { SIM_N / 3, SIM_N * 2 / 3 };
	static const uint32_t rates[] = { SIM_ACCESSES / 2, SIM_ACCESSES };
	size_t k;

	(void)state;
	for (k = 0; k < 4; k++) {
		struct sim *s = sim_new(drams[k % 2]);
		size_t moves[SIM_EPOCHS];
		uint32_t i, back = 0;
		double hit, ideal;
		int e;

		s->accesses = rates[k / 2];
		for (e = 0; e < SIM_EPOCHS; e++)
			moves[e] = sim_epoch(s, true);
		for (i = 0; i < SIM_N; i++)
			back += s->moved[i] >= 2;
		hit = sim_hits(s, &ideal);
		print_message("dram %llu, %u accesses an epoch, moves per "
			      "epoch:", (unsigned long long)s->dram,
			      s->accesses);
		for (e = 0; e < SIM_EPOCHS; e++)
			print_message(" %zu", moves[e]);
		print_message("; moved twice: %u; DRAM serves %.4f of the "
			      "accesses, the best placement %.4f\n", back, hit,
			      ideal);
		assert_true(moves[0] > 0);
		for (e = SIM_EPOCHS / 2; e < SIM_EPOCHS; e++)
			assert_true(moves[e] <= s->dram / 50);
		for (e = SIM_EPOCHS - 8; e < SIM_EPOCHS; e++)
			assert_true(moves[e] <= s->dram / 100);
		assert_true(back <= s->dram / 32);
		assert_true(hit >= ideal - 0.02);
		assert_int_equal(sim_hot_in_dram(s, 300), 300);
		free(s);
	}
}

/*
 * A moving hot set is followed: once settled, the ranks move to other
 * chunks; within a few epochs most of the new hot set is in DRAM.
 */
static void test_moving_hot_set_followed(void **state)
{
	struct sim *s = sim_new(SIM_N / 3);
	uint32_t before;
	int e;

	(void)state;
	for (e = 0; e < 8; e++)
		sim_epoch(s, true);
	s->shift = SIM_N / 2;
	before = sim_hot_in_dram(s, 300);
	for (e = 0; e < 5; e++)
		sim_epoch(s, true);
	print_message("of the new 100 / 300 hottest in DRAM: %u / %u "
		      "(%u of 300 at the switch)\n", sim_hot_in_dram(s, 100),
		      sim_hot_in_dram(s, 300), before);
	assert_true(sim_hot_in_dram(s, 100) >= 95);
	assert_true(sim_hot_in_dram(s, 300) >= 240);
	free(s);
}

/* --- on a pool --------------------------------------------------------------- */

struct env {
	char dir[64], path[96];
	struct mmfs_pool *pool;
	struct mmfs_tier *t;
};

static int setup(void **state)
{
	struct mmfs_pool_mkfs_opts mo = { .size = 16u << 20, .chunk_size = 4096 };
	struct mmfs_tier_opts to = { .dram_bytes = 4 * 4096 };
	struct env *e = calloc(1, sizeof(*e));
	char why[MMFS_POOL_WHY];

	assert_non_null(e);
	strcpy(e->dir, "/dev/shm/mmfs-engine-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/pool", e->dir);
	assert_int_equal(mmfs_pool_mkfs(e->path, &mo, why), 0);
	assert_int_equal(mmfs_pool_open(e->path, 0, &e->pool, why), 0);
	assert_int_equal(mmfs_pool_log_replay(e->pool, NULL, NULL, NULL, why),
			 0);
	to.pool = e->pool;
	assert_int_equal(mmfs_tier_new(&to, &e->t), 0);
	assert_int_equal(mmfs_tier_ready(e->t), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	mmfs_tier_free(&e->t);
	mmfs_pool_close(&e->pool);
	unlink(e->path);
	rmdir(e->dir);
	free(e);
	return 0;
}

static void test_decay(void **state)
{
	struct env *e = *state;
	uint32_t id;
	int i;

	assert_int_equal(mmfs_tier_chunk_alloc(e->t, &id), 0);
	for (i = 0; i < 10; i++)
		mmfs_tier_access(e->t, id, 100, false);
	assert_int_equal(mmfs_tier_chunk_heat(e->t, id), 10);
	/* Three quarters an epoch, rounded down: 10 7 5 3 2 1 0. */
	mmfs_tier_engine_epoch(e->t);
	assert_int_equal(mmfs_tier_chunk_heat(e->t, id), 7);
	mmfs_tier_engine_epoch(e->t);
	mmfs_tier_engine_epoch(e->t);
	assert_int_equal(mmfs_tier_chunk_heat(e->t, id), 3);
	mmfs_tier_engine_epoch(e->t);
	mmfs_tier_engine_epoch(e->t);
	assert_int_equal(mmfs_tier_chunk_heat(e->t, id), 1);
	mmfs_tier_engine_epoch(e->t);
	assert_int_equal(mmfs_tier_chunk_heat(e->t, id), 0);
	for (i = 0; i < 70000; i++) /* saturates, never wraps */
		mmfs_tier_access(e->t, id, 1, true);
	assert_int_equal(mmfs_tier_chunk_heat(e->t, id), UINT16_MAX);
	mmfs_tier_chunk_free(e->t, id);
}

/* 8 chunks, 4 frames: the hot PMEM ones come in, all bytes survive. */
static void test_migration_keeps_bytes(void **state)
{
	struct env *e = *state;
	struct mmfs_tier_stat st;
	uint32_t id[8];
	int i, k;

	for (i = 0; i < 8; i++) {
		assert_int_equal(mmfs_tier_chunk_alloc(e->t, &id[i]), 0);
		memset(mmfs_tier_chunk_addr(e->t, id[i]), 'a' + i, 4096);
		mmfs_tier_chunk_dirty(e->t, id[i]);
	}
	/* The first 4 went to DRAM (new chunks do), the rest to PMEM. */
	for (i = 0; i < 8; i++)
		assert_int_equal(mmfs_tier_chunk_tier(e->t, id[i]),
				 i < 4 ? MMFS_TIER_DRAM : MMFS_TIER_PMEM);
	for (k = 0; k < 3; k++) {
		for (i = 6; i < 8; i++) { /* the last two are hot */
			int j;

			for (j = 0; j < 20; j++)
				mmfs_tier_access(e->t, id[i], 4096, false);
		}
		mmfs_tier_engine_epoch(e->t);
	}
	assert_int_equal(mmfs_tier_chunk_tier(e->t, id[6]), MMFS_TIER_DRAM);
	assert_int_equal(mmfs_tier_chunk_tier(e->t, id[7]), MMFS_TIER_DRAM);
	mmfs_tier_stat(e->t, &st);
	assert_true(st.promotions >= 2);
	assert_true(st.demotions >= 2);
	assert_true(st.used_chunks[MMFS_TIER_DRAM] <= 4);
	for (i = 0; i < 8; i++) {
		const char *p = mmfs_tier_chunk_addr(e->t, id[i]);
		int j;

		for (j = 0; j < 4096; j++)
			assert_int_equal(p[j], 'a' + i);
	}
	/* A chunk pinned to PMEM leaves DRAM however hot it is. */
	mmfs_tier_chunk_hint(e->t, id[7], MMFS_HINT_PMEM);
	mmfs_tier_engine_epoch(e->t);
	assert_int_equal(mmfs_tier_chunk_tier(e->t, id[7]), MMFS_TIER_PMEM);
	for (i = 0; i < 8; i++)
		mmfs_tier_chunk_free(e->t, id[i]);
}

/*
 * A mount at rest keeps its long memory: after a long pause (64 epochs, no
 * access at all), a chunk of the tail touched twice does not displace the
 * hot set, whose heat has decayed (tiering.sh's mounts wait for their
 * turn), and the hot set's long heat is what it was.
 */
static void test_rest_keeps_long_heat(void **state)
{
	struct env *e = *state;
	struct mmfs_tier_stat st;
	uint16_t lheat;
	uint64_t prom;
	uint32_t id[8];
	int i, k;

	for (i = 0; i < 8; i++)
		assert_int_equal(mmfs_tier_chunk_alloc(e->t, &id[i]), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(mmfs_tier_chunk_tier(e->t, id[i]),
				 MMFS_TIER_DRAM);
		for (k = 0; k < 20; k++)
			mmfs_tier_access(e->t, id[i], 4096, false);
	}
	mmfs_tier_engine_epoch(e->t); /* the accesses are counted */
	lheat = e->t->age ? e->t->age[id[0]].lheat : 0;
	assert_true(lheat >= 20 * TIER_LHEAT_ADD);
	for (k = 0; k < 64; k++) /* a long pause */
		mmfs_tier_engine_epoch(e->t);
	assert_int_equal(e->t->age[id[0]].lheat, lheat);
	mmfs_tier_stat(e->t, &st);
	prom = st.promotions;
	mmfs_tier_access(e->t, id[7], 4096, false);
	mmfs_tier_access(e->t, id[7], 4096, false);
	mmfs_tier_engine_epoch(e->t);
	assert_int_equal(mmfs_tier_chunk_tier(e->t, id[7]), MMFS_TIER_PMEM);
	mmfs_tier_stat(e->t, &st);
	assert_int_equal(st.promotions, prom);
	for (i = 0; i < 8; i++)
		mmfs_tier_chunk_free(e->t, id[i]);
}

/*
 * A demotion's copy into a chunk's home against the id's reuse. The
 * engine checks a batch's placement, then copies beside the I/O; a pool
 * demotion copies into the home its id names. Here, just before that copy
 * (mmfs_pool_copy is wrapped), another thread frees the chunk, fills its
 * DRAM frame with a new chunk, ends the commit epoch (the id may be handed
 * out again) and gets the id back for a chunk placed in PMEM, which it
 * writes. The late copy must not land on those bytes: epoch_end waits for
 * the engine's copies (move_lock), so the id comes back only after them.
 * Before that rule the new chunk read the old frame's zeros (the pool
 * stress test's "content differs at byte 0").
 */
void __real_mmfs_pool_copy(struct mmfs_pool *p, void *pmem_dst,
			   const void *src, size_t len);
void __wrap_mmfs_pool_copy(struct mmfs_pool *p, void *pmem_dst,
			   const void *src, size_t len);

struct reuse {
	struct env *e;
	void *home;       /* the engine's copy to arm on */
	uint32_t victim;  /* the chunk being demoted */
	uint32_t filler;  /* the new chunk in its frame */
	int filler_tier;
	int rc;           /* of the racer's allocations */
	uint32_t reused;  /* the id the racer got back */
	sem_t go, done;
};

static struct reuse *armed;

static void deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

struct overtake;
static struct overtake *armed_wb;
static bool overtake_copy(struct mmfs_pool *p, void *pmem_dst,
			  const void *src, size_t len);

void __wrap_mmfs_pool_copy(struct mmfs_pool *p, void *pmem_dst,
			   const void *src, size_t len)
{
	struct reuse *r = armed;

	if (overtake_copy(p, pmem_dst, src, len))
		return;

	if (r && pmem_dst == r->home) {
		struct timespec ts;

		armed = NULL;
		sem_post(&r->go);
		/* With the fix the racer is held in epoch_end: do not wait
		 * for it past a bound; without it, it is done well before. */
		deadline_in(&ts, 200);
		sem_timedwait(&r->done, &ts);
	}
	__real_mmfs_pool_copy(p, pmem_dst, src, len);
}

static void *racer(void *arg)
{
	struct reuse *r = arg;
	struct mmfs_tier *t = r->e->t;
	struct mmfs_tier_epoch ep;

	/* cmocka asserts belong to the test's thread: only record here. */
	sem_wait(&r->go);
	mmfs_tier_chunk_free(t, r->victim);
	/* The freed frame goes to a new chunk (a new id: the old one is
	 * not reusable before its epoch ends)... */
	r->rc = mmfs_tier_chunk_alloc(t, &r->filler);
	if (r->rc == 0)
		r->filler_tier = mmfs_tier_chunk_tier(t, r->filler);
	/* ...a commit ends the epoch: the id may come back... */
	mmfs_tier_epoch_take(t, &ep);
	mmfs_tier_epoch_end(t, &ep);
	/* ...for a chunk placed in PMEM (no frame is free), written. */
	if (r->rc == 0)
		r->rc = mmfs_tier_chunk_alloc(t, &r->reused);
	if (r->rc == 0) {
		memset(mmfs_tier_chunk_addr(t, r->reused), 'N', 4096);
		mmfs_tier_chunk_dirty(t, r->reused);
	}
	sem_post(&r->done);
	return NULL;
}

static void test_demotion_vs_id_reuse(void **state)
{
	struct env *e = *state;
	struct reuse r = { .e = e };
	pthread_t th;
	uint32_t id[4];
	const char *p;
	int i, j;

	/* Four chunks fill the four frames; the first is pinned to PMEM. */
	for (i = 0; i < 4; i++) {
		assert_int_equal(mmfs_tier_chunk_alloc(e->t, &id[i]), 0);
		assert_int_equal(mmfs_tier_chunk_tier(e->t, id[i]),
				 MMFS_TIER_DRAM);
		memset(mmfs_tier_chunk_addr(e->t, id[i]), 'a' + i, 4096);
		mmfs_tier_chunk_dirty(e->t, id[i]);
	}
	r.victim = id[0];
	r.home = mmfs_pool_slot_addr(e->pool, id[0] - 1);
	mmfs_tier_chunk_hint(e->t, id[0], MMFS_HINT_PMEM);
	assert_int_equal(sem_init(&r.go, 0, 0), 0);
	assert_int_equal(sem_init(&r.done, 0, 0), 0);
	assert_int_equal(pthread_create(&th, NULL, racer, &r), 0);
	armed = &r;
	mmfs_tier_engine_epoch(e->t);
	armed = NULL;
	pthread_join(th, NULL);
	/* The scenario happened: the demoted chunk's frame went to a new
	 * chunk, and its id came back for one in PMEM. */
	assert_int_equal(r.rc, 0);
	assert_int_not_equal(r.filler, r.victim);
	assert_int_equal(r.filler_tier, MMFS_TIER_DRAM);
	assert_int_equal(r.reused, r.victim);
	assert_int_equal(mmfs_tier_chunk_tier(e->t, r.reused), MMFS_TIER_PMEM);
	p = mmfs_tier_chunk_addr(e->t, r.reused);
	for (j = 0; j < 4096; j++)
		assert_int_equal(p[j], 'N');
	for (i = 1; i < 4; i++) {
		p = mmfs_tier_chunk_addr(e->t, id[i]);
		for (j = 0; j < 4096; j++)
			assert_int_equal(p[j], 'a' + i);
	}
	sem_destroy(&r.go);
	sem_destroy(&r.done);
	for (i = 1; i < 4; i++)
		mmfs_tier_chunk_free(e->t, id[i]);
	mmfs_tier_chunk_free(e->t, r.filler);
	mmfs_tier_chunk_free(e->t, r.reused);
}

/*
 * A writeback is never overtaken by a demotion's copy of older bytes. The
 * engine's copy into a DRAM chunk's home runs beside the I/O: its loads
 * may come before a write and its stores after an fsync's writeback of
 * that write (a preempted copy). The remap copies again, but the fsync has
 * returned by then, and a crash before the next writeback loses fsync'd
 * bytes: the 1,000-point power-loss run's finding (size right, content
 * wrong). Here the wrapped copy loads the old bytes, lets another thread
 * write the chunk and write it back as an fsync would, stores what it
 * loaded, and returns (to the remap, which would repair the home) only
 * once the other thread has looked at the home. What the writeback made
 * durable must be the new bytes: a writeback pass waits for the engine's
 * copies (move_lock).
 */
struct overtake {
	struct mmfs_tier *t;
	void *home;
	unsigned char *frame;
	uint32_t id;
	bool fired;
	long wrong; /* bytes of the home not 'b' after the writeback */
	unsigned char old[4096];
	sem_t go, done, stored, checked;
};

static bool overtake_copy(struct mmfs_pool *p, void *pmem_dst,
			  const void *src, size_t len)
{
	struct overtake *o = armed_wb;
	struct timespec ts;

	if (!o || pmem_dst != o->home || len > sizeof(o->old))
		return false;
	armed_wb = NULL;
	o->fired = true;
	memcpy(o->old, src, len); /* the loads, before the write */
	sem_post(&o->go);
	/* With the fix the writeback waits for us: do not wait past a
	 * bound; without it, it is done well before. */
	deadline_in(&ts, 200);
	sem_timedwait(&o->done, &ts);
	__real_mmfs_pool_copy(p, pmem_dst, o->old, len); /* the stores */
	sem_post(&o->stored);
	deadline_in(&ts, 200);
	sem_timedwait(&o->checked, &ts);
	return true;
}

static void *fsyncer(void *arg)
{
	struct overtake *o = arg;
	struct timespec ts;
	const unsigned char *h = o->home;
	long i;

	sem_wait(&o->go);
	memset(o->frame, 'b', 4096); /* a write, in DRAM until the remap */
	mmfs_tier_chunk_dirty(o->t, o->id);
	mmfs_tier_writeback(o->t, &o->id, 1);
	sem_post(&o->done);
	deadline_in(&ts, 2000);
	sem_timedwait(&o->stored, &ts);
	for (i = 0; i < 4096; i++)
		o->wrong += h[i] != 'b';
	sem_post(&o->checked);
	return NULL;
}

static void test_writeback_vs_demotion(void **state)
{
	struct env *e = *state;
	struct overtake o = { .t = e->t };
	pthread_t th;
	const char *p;
	int j;

	assert_int_equal(mmfs_tier_chunk_alloc(e->t, &o.id), 0);
	assert_int_equal(mmfs_tier_chunk_tier(e->t, o.id), MMFS_TIER_DRAM);
	o.frame = mmfs_tier_chunk_addr(e->t, o.id);
	memset(o.frame, 'a', 4096);
	mmfs_tier_chunk_dirty(e->t, o.id);
	assert_int_equal(mmfs_tier_writeback(e->t, &o.id, 1), 1);
	o.home = mmfs_pool_slot_addr(e->pool, o.id - 1);
	mmfs_tier_chunk_hint(e->t, o.id, MMFS_HINT_PMEM); /* demote it */
	assert_int_equal(sem_init(&o.go, 0, 0), 0);
	assert_int_equal(sem_init(&o.done, 0, 0), 0);
	assert_int_equal(sem_init(&o.stored, 0, 0), 0);
	assert_int_equal(sem_init(&o.checked, 0, 0), 0);
	assert_int_equal(pthread_create(&th, NULL, fsyncer, &o), 0);
	armed_wb = &o;
	mmfs_tier_engine_epoch(e->t);
	armed_wb = NULL;
	if (!o.fired)
		sem_post(&o.go); /* (the assert below fails; let it end) */
	pthread_join(th, NULL);
	assert_true(o.fired);
	assert_int_equal(o.wrong, 0);
	p = mmfs_tier_chunk_addr(e->t, o.id);
	for (j = 0; j < 4096; j++)
		assert_int_equal(p[j], 'b');
	sem_destroy(&o.go);
	sem_destroy(&o.done);
	sem_destroy(&o.stored);
	sem_destroy(&o.checked);
	mmfs_tier_chunk_free(e->t, o.id);
}

/*
 * The remap excludes only the requests on the chunk that moves: a request
 * (here a thread in an I/O bracket) that holds one hot chunk keeps that
 * chunk where it found it -- its move is undone, after a bounded wait, and
 * the epoch goes on -- while the other hot chunk moves. Once the request
 * is done, the next epoch moves the first one too, bytes intact.
 */
struct holder {
	struct mmfs_tier *t;
	uint32_t id;
	sem_t held, release;
};

static void *hold_chunk(void *arg)
{
	struct holder *h = arg;

	mmfs_tier_io_begin(h->t);
	(void)mmfs_tier_chunk_addr(h->t, h->id);
	sem_post(&h->held);
	sem_wait(&h->release);
	mmfs_tier_io_end(h->t);
	return NULL;
}

static void heat_up(struct mmfs_tier *t, uint32_t id)
{
	int j;

	for (j = 0; j < 20; j++)
		mmfs_tier_access(t, id, 4096, false);
}

static void test_remap_per_chunk(void **state)
{
	struct env *e = *state;
	struct holder h = { .t = e->t };
	pthread_t th;
	uint32_t id[8];
	int i, k;

	for (i = 0; i < 8; i++) {
		assert_int_equal(mmfs_tier_chunk_alloc(e->t, &id[i]), 0);
		memset(mmfs_tier_chunk_addr(e->t, id[i]), 'a' + i, 4096);
		mmfs_tier_chunk_dirty(e->t, id[i]);
	}
	assert_int_equal(mmfs_tier_chunk_tier(e->t, id[7]), MMFS_TIER_PMEM);
	h.id = id[7];
	assert_int_equal(sem_init(&h.held, 0, 0), 0);
	assert_int_equal(sem_init(&h.release, 0, 0), 0);
	assert_int_equal(pthread_create(&th, NULL, hold_chunk, &h), 0);
	sem_wait(&h.held);
	for (k = 0; k < 3; k++) {
		heat_up(e->t, id[6]);
		heat_up(e->t, id[7]);
		mmfs_tier_engine_epoch(e->t); /* returns: never blocks */
	}
	assert_int_equal(mmfs_tier_chunk_tier(e->t, id[6]), MMFS_TIER_DRAM);
	assert_int_equal(mmfs_tier_chunk_tier(e->t, id[7]), MMFS_TIER_PMEM);
	assert_true(e->t->remap_busy >= 1);
	sem_post(&h.release);
	pthread_join(th, NULL);
	for (k = 0; k < 3; k++) {
		heat_up(e->t, id[6]);
		heat_up(e->t, id[7]);
		mmfs_tier_engine_epoch(e->t);
	}
	assert_int_equal(mmfs_tier_chunk_tier(e->t, id[7]), MMFS_TIER_DRAM);
	for (i = 0; i < 8; i++) {
		const char *p = mmfs_tier_chunk_addr(e->t, id[i]);
		int j;

		for (j = 0; j < 4096; j++)
			assert_int_equal(p[j], 'a' + i);
	}
	sem_destroy(&h.held);
	sem_destroy(&h.release);
	for (i = 0; i < 8; i++)
		mmfs_tier_chunk_free(e->t, id[i]);
}

/*
 * A volatile slow tier (the CXL node's role; here unbound memory): new
 * chunks fill DRAM, then the slow arena; the engine moves them both ways
 * with their bytes; frees give both kinds of slots back, and reused slots
 * read as zeros.
 */
static void test_slow_tier(void **state)
{
	struct mmfs_tier_opts to = {
		.dram_bytes = 4 * 4096, .chunk_size = 4096,
		.slow_bytes = 16 * 4096, .epoch_ms = 1000,
	};
	struct mmfs_tier_stat st;
	struct mmfs_tier *t;
	uint32_t id[20], extra;
	int i, k;

	(void)state;
	assert_int_equal(mmfs_tier_new(&to, &t), 0);
	assert_true(mmfs_tier_tiered(t));
	assert_false(mmfs_tier_persistent(t));
	mmfs_tier_stat(t, &st);
	assert_int_equal(st.capacity_chunks, 20);
	assert_int_equal(st.total_chunks[MMFS_TIER_PMEM], 16);
	for (i = 0; i < 8; i++) {
		assert_int_equal(mmfs_tier_chunk_alloc(t, &id[i]), 0);
		assert_int_equal(mmfs_tier_chunk_tier(t, id[i]),
				 i < 4 ? MMFS_TIER_DRAM : MMFS_TIER_PMEM);
		memset(mmfs_tier_chunk_addr(t, id[i]), 'a' + i, 4096);
		mmfs_tier_chunk_dirty(t, id[i]);
	}
	for (k = 0; k < 3; k++) {
		for (i = 6; i < 8; i++) {
			int j;

			for (j = 0; j < 20; j++)
				mmfs_tier_access(t, id[i], 4096, false);
		}
		mmfs_tier_engine_epoch(t);
	}
	assert_int_equal(mmfs_tier_chunk_tier(t, id[6]), MMFS_TIER_DRAM);
	assert_int_equal(mmfs_tier_chunk_tier(t, id[7]), MMFS_TIER_DRAM);
	mmfs_tier_stat(t, &st);
	assert_true(st.promotions >= 2 && st.demotions >= 2);
	assert_int_equal(st.used_chunks[MMFS_TIER_DRAM] +
			 st.used_chunks[MMFS_TIER_PMEM], 8);
	for (i = 0; i < 8; i++) {
		const char *p = mmfs_tier_chunk_addr(t, id[i]);
		int j;

		for (j = 0; j < 4096; j++)
			assert_int_equal(p[j], 'a' + i);
	}
	for (i = 0; i < 8; i++)
		mmfs_tier_chunk_free(t, id[i]);
	mmfs_tier_stat(t, &st);
	assert_int_equal(st.used_chunks[MMFS_TIER_DRAM], 0);
	assert_int_equal(st.used_chunks[MMFS_TIER_PMEM], 0);
	/* Every slot is back, and reads as zeros. */
	for (i = 0; i < 20; i++) {
		const char *p;
		int j;

		assert_int_equal(mmfs_tier_chunk_alloc(t, &id[i]), 0);
		p = mmfs_tier_chunk_addr(t, id[i]);
		for (j = 0; j < 4096; j++)
			assert_int_equal(p[j], 0);
	}
	assert_int_equal(mmfs_tier_chunk_alloc(t, &extra), -ENOSPC);
	for (i = 0; i < 20; i++)
		mmfs_tier_chunk_free(t, id[i]);
	mmfs_tier_free(&t);
}

/* Node lists are checked before use; a pool and a slow tier exclude. */
static void test_slow_tier_options(void **state)
{
	struct env *e = *state;
	struct mmfs_tier_opts to = {
		.dram_bytes = 4 * 4096, .chunk_size = 4096,
		.slow_bytes = 16 * 4096, .slow_nodes = "0",
	};
	struct mmfs_tier *t = NULL;
	uint64_t bytes;
	int cpu;

	assert_int_equal(mmfs_tier_nodes_info("slow_nodes", "4095", &bytes,
					      &cpu), -EINVAL);
	assert_int_equal(mmfs_tier_nodes_info("slow_nodes", "zero", &bytes,
					      &cpu), -EINVAL);
	if (mmfs_tier_nodes_info("slow_nodes", "0", &bytes, &cpu) == 0) {
		assert_true(bytes > 0);
		/* Bound to node 0: the arena works as any other. */
		assert_int_equal(mmfs_tier_new(&to, &t), 0);
		mmfs_tier_free(&t);
	}
	to.slow_nodes = "4095";
	assert_int_equal(mmfs_tier_new(&to, &t), -EINVAL);
	to.slow_nodes = NULL;
	to.pool = e->pool;
	assert_int_equal(mmfs_tier_new(&to, &t), -EINVAL);
	assert_null(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_promote_below_low),
		cmocka_unit_test(test_demote_above_high),
		cmocka_unit_test(test_hysteresis),
		cmocka_unit_test(test_swap_long),
		cmocka_unit_test(test_hot_threshold),
		cmocka_unit_test(test_hint_precedence),
		cmocka_unit_test(test_promote_into_free),
		cmocka_unit_test(test_monotone_in_dram),
		cmocka_unit_test(test_stable_hot_set_settles),
		cmocka_unit_test(test_moving_hot_set_followed),
		cmocka_unit_test_setup_teardown(test_decay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_keeps_bytes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_rest_keeps_long_heat,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_demotion_vs_id_reuse,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_writeback_vs_demotion,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_remap_per_chunk, setup,
						teardown),
		cmocka_unit_test(test_slow_tier),
		cmocka_unit_test_setup_teardown(test_slow_tier_options, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

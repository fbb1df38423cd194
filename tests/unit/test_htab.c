/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_htab -- unit tests of utils/htab.c, the tagged-pointer open-addressing
 * hash set: insert/find/remove of a caller-owned item struct, 200,000 items
 * through growth and shrink, deliberate collisions (many keys sharing the
 * low hash bits, clusters that wrap past the last bucket, identical full
 * hashes) removed in random order to exercise backward-shift deletion,
 * -ENOENT for missing items, count and bytes accounting against the load
 * factors the header documents, the tag filter, and -ENOMEM from a failed
 * calloc (injected with -Wl,--wrap=calloc) leaving every item findable.
 * A white-box checker walks the slots after each step: every item sits in
 * the unbroken run of occupied buckets that starts at its home bucket.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "utils/err.h"
#include "utils/htab.h"

/* --- calloc fault injection --- */

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);

static bool calloc_fail;        /* every wrapped calloc fails while set */
static unsigned calloc_failures; /* how many it refused */

void *__wrap_calloc(size_t n, size_t size)
{
	if (calloc_fail) {
		calloc_failures++;
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(n, size);
}

/* --- items, hashes and helpers --- */

struct item {
	uint64_t key;
	uint64_t hash; /* as given to insert; returned by item_rehash */
	bool in;       /* the test believes it is in the table */
};

static unsigned eq_calls;

static bool item_eq(const void *item, const void *key)
{
	eq_calls++;
	return ((const struct item *)item)->key == *(const uint64_t *)key;
}

static uint64_t item_rehash(const void *item)
{
	return ((const struct item *)item)->hash;
}

/* mix64 -- (internal) splitmix64 finalizer: a good 64-bit hash */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t hash_good(uint64_t key)
{
	return mix64(key);
}

/*
 * hash_low -- varied tags, but the low 16 bits take one of five values, so
 * for any table of up to 64K buckets every key homes to bucket 0, 1, 5,
 * mask - 1 or mask: long clusters with mixed homes that wrap around.
 */
static uint64_t hash_low(uint64_t key)
{
	static const uint64_t lows[] = { 0xfffe, 0xffff, 0, 1, 5 };

	return (mix64(key) & ~0xffffULL) | lows[key % 5];
}

/* hash_same -- one full hash for every key: only eq tells them apart */
static uint64_t hash_same(uint64_t key)
{
	return 0xabcd000000000003ULL;
}

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void shuffle(size_t *a, size_t n)
{
	size_t i;

	for (i = n; i > 1; i--) {
		size_t j = rng() % i;
		size_t tmp = a[i - 1];

		a[i - 1] = a[j];
		a[j] = tmp;
	}
}

/* items_new -- (internal) @n items with keys 1000 + 7 * i */
static struct item *items_new(size_t n, uint64_t (*hash)(uint64_t))
{
	struct item *it = __real_calloc(n, sizeof(*it));
	size_t i;

	assert_non_null(it);
	for (i = 0; i < n; i++) {
		it[i].key = 1000 + 7 * (uint64_t)i;
		it[i].hash = hash(it[i].key);
	}
	return it;
}

static size_t *order_new(size_t n)
{
	size_t *o = malloc(n * sizeof(*o));
	size_t i;

	assert_non_null(o);
	for (i = 0; i < n; i++)
		o[i] = i;
	shuffle(o, n);
	return o;
}

static void *find(const struct mmfs_htab *t, const struct item *it)
{
	return mmfs_htab_find(t, it->hash, item_eq, &it->key);
}

static void insert(struct mmfs_htab *t, struct item *it)
{
	assert_int_equal(mmfs_htab_insert(t, it->hash, it, item_rehash), 0);
	it->in = true;
}

static void remove_ok(struct mmfs_htab *t, struct item *it)
{
	assert_int_equal(mmfs_htab_remove(t, it->hash, it, item_rehash), 0);
	it->in = false;
}

/* verify_items -- (internal) each item is found iff the test put it in */
static void verify_items(const struct mmfs_htab *t, const struct item *it,
			 size_t n)
{
	size_t i, in = 0;

	for (i = 0; i < n; i++) {
		void *got = find(t, &it[i]);

		if (it[i].in) {
			in++;
			if (got != &it[i])
				fail_msg("key %llu: found %p, want %p",
					 (unsigned long long)it[i].key, got,
					 (const void *)&it[i]);
		} else if (got) {
			fail_msg("removed key %llu still found",
				 (unsigned long long)it[i].key);
		}
	}
	assert_int_equal(mmfs_htab_count(t), in);
}

/*
 * check_slots -- (internal) white-box invariants, from the layout htab.h
 * documents: a slot is the item pointer with the top 16 hash bits folded
 * into bits 48..63. Every item's home..slot run has no empty bucket (else
 * find would stop short), tags match, the count matches and the load stays
 * at or under 3/4.
 */
static void check_slots(const struct mmfs_htab *t)
{
	const uintptr_t ptr_mask = ((uintptr_t)1 << 48) - 1;
	size_t cap = t->mask + 1;
	size_t i, used = 0;

	assert_true((cap & t->mask) == 0);
	assert_int_equal(mmfs_htab_bytes(t), cap * sizeof(uintptr_t));
	for (i = 0; i < cap; i++) {
		uintptr_t s = t->slots[i];
		const struct item *it;
		size_t j;

		if (!s)
			continue;
		used++;
		it = (const struct item *)(s & ptr_mask);
		assert_true(it->in);
		assert_int_equal(s >> 48, it->hash >> 48);
		for (j = it->hash & t->mask; j != i; j = (j + 1) & t->mask)
			if (!t->slots[j])
				fail_msg("key %llu at %zu: gap at %zu",
					 (unsigned long long)it->key, i, j);
	}
	assert_int_equal(used, mmfs_htab_count(t));
	assert_true(used <= cap * 3 / 4);
}

static int setup_table(void **state)
{
	struct mmfs_htab *t = malloc(sizeof(*t));

	if (!t || mmfs_htab_init(t, 0) < 0)
		return -1;
	calloc_fail = false;
	calloc_failures = 0;
	*state = t;
	return 0;
}

static int teardown_table(void **state)
{
	struct mmfs_htab *t = *state;

	calloc_fail = false;
	mmfs_htab_fini(t);
	free(t);
	return 0;
}

/* --- tests --- */

static void test_basic(void **state)
{
	struct mmfs_htab *t = *state;
	struct item *it = items_new(3, hash_good);
	struct item other = { .key = 42, .hash = hash_good(42) };

	assert_int_equal(mmfs_htab_count(t), 0);
	assert_null(find(t, &it[0]));
	insert(t, &it[0]);
	insert(t, &it[1]);
	insert(t, &it[2]);
	assert_int_equal(mmfs_htab_count(t), 3);
	verify_items(t, it, 3);
	assert_null(find(t, &other));
	check_slots(t);

	remove_ok(t, &it[1]);
	assert_int_equal(mmfs_htab_count(t), 2);
	verify_items(t, it, 3);
	assert_int_equal(mmfs_htab_remove(t, it[1].hash, &it[1], item_rehash),
			 -ENOENT);
	assert_int_equal(mmfs_htab_count(t), 2);

	/* Re-inserting a removed item works and finds the same object. */
	insert(t, &it[1]);
	assert_ptr_equal(find(t, &it[1]), &it[1]);
	check_slots(t);
	free(it);
}

/* Removal is by identity: an equal key in another object is not removed. */
static void test_remove_by_identity(void **state)
{
	struct mmfs_htab *t = *state;
	struct item a = { .key = 5, .hash = hash_good(5) };
	struct item twin = a;

	insert(t, &a);
	assert_int_equal(mmfs_htab_remove(t, twin.hash, &twin, item_rehash),
			 -ENOENT);
	assert_int_equal(mmfs_htab_count(t), 1);
	assert_ptr_equal(find(t, &twin), &a);
}

static void test_remove_missing(void **state)
{
	struct mmfs_htab *t = *state;
	struct item *it = items_new(40, hash_same);
	struct item *lone = items_new(1, hash_good);
	size_t i;

	/* Empty table. */
	assert_int_equal(mmfs_htab_remove(t, lone->hash, lone, item_rehash),
			 -ENOENT);
	/* A long cluster of identical hashes, and a stranger with that hash. */
	for (i = 0; i < 39; i++)
		insert(t, &it[i]);
	assert_int_equal(mmfs_htab_remove(t, it[39].hash, &it[39],
					  item_rehash),
			 -ENOENT);
	assert_int_equal(mmfs_htab_remove(t, lone->hash, lone, item_rehash),
			 -ENOENT);
	assert_int_equal(mmfs_htab_count(t), 39);
	verify_items(t, it, 40);
	check_slots(t);
	free(lone);
	free(it);
}

/* "room for @hint items": filling up to the hint never resizes. */
static void test_init_hint(void **state)
{
	const size_t hint = 1000;
	struct mmfs_htab t;
	struct item *it = items_new(hint, hash_good);
	size_t bytes, i;

	assert_int_equal(mmfs_htab_init(&t, hint), 0);
	bytes = mmfs_htab_bytes(&t);
	assert_true(bytes >= hint * sizeof(uintptr_t) * 4 / 3);
	for (i = 0; i < hint; i++)
		insert(&t, &it[i]);
	assert_int_equal(mmfs_htab_bytes(&t), bytes);
	verify_items(&t, it, hint);
	mmfs_htab_fini(&t);
	assert_int_equal(mmfs_htab_bytes(&t), 0);
	assert_int_equal(mmfs_htab_count(&t), 0);
	free(it);
}

/*
 * check_load -- (internal) bytes per item within what htab.h promises
 * after growth (load 3/8..3/4: 10.7 to 21.3 bytes an entry).
 */
static void check_load(const struct mmfs_htab *t)
{
	double per = (double)mmfs_htab_bytes(t) / (double)mmfs_htab_count(t);

	if (per < 8.0 * 4 / 3 || per > 8.0 * 8 / 3)
		fail_msg("%.2f bytes per item", per);
}

static void test_many(void **state)
{
	const size_t n = 200000;
	struct mmfs_htab *t = *state;
	struct item *it = items_new(n, hash_good);
	size_t *order = order_new(n);
	size_t i, left;

	/* Phase 1: growth from the minimum. */
	for (i = 0; i < n; i++) {
		insert(t, &it[order[i]]);
		if (i + 1 == 1000 || i + 1 == 50000)
			verify_items(t, it, n);
	}
	verify_items(t, it, n);
	check_slots(t);
	check_load(t);

	/* Phase 2: remove every odd key in random order; the table shrinks. */
	shuffle(order, n);
	for (i = 0; i < n; i++)
		if (order[i] & 1)
			remove_ok(t, &it[order[i]]);
	verify_items(t, it, n);
	check_slots(t);
	assert_int_equal(mmfs_htab_count(t), n / 2);

	/* Phase 3: put them back. */
	for (i = 1; i < n; i += 2)
		insert(t, &it[i]);
	verify_items(t, it, n);
	check_load(t);

	/* Phase 4: remove all; "halving below 1/8" keeps load >= 1/8. */
	shuffle(order, n);
	for (i = 0, left = n; i < n; i++) {
		remove_ok(t, &it[order[i]]);
		left--;
		assert_true(mmfs_htab_bytes(t) <=
			    sizeof(uintptr_t) * 8 * (left + 8));
		if (left == 100000 || left == 1000 || left == 10)
			verify_items(t, it, n);
	}
	verify_items(t, it, n);
	check_slots(t);
	assert_int_equal(mmfs_htab_count(t), 0);
	assert_true(mmfs_htab_bytes(t) <= 1024);

	free(order);
	free(it);
}

/* churn -- (internal) insert @n items, then remove them in random order */
static void churn(struct mmfs_htab *t, size_t n, uint64_t (*hash)(uint64_t))
{
	struct item *it = items_new(n, hash);
	size_t *order = order_new(n);
	size_t i;

	for (i = 0; i < n; i++)
		insert(t, &it[order[i]]);
	check_slots(t);
	verify_items(t, it, n);
	shuffle(order, n);
	for (i = 0; i < n; i++) {
		remove_ok(t, &it[order[i]]);
		check_slots(t);
		verify_items(t, it, n);
	}
	assert_int_equal(mmfs_htab_count(t), 0);

	/* Interleaved: insert two, remove one, until all went through. */
	shuffle(order, n);
	for (i = 0; i < n; i++) {
		insert(t, &it[order[i]]);
		if (i & 1) {
			struct item *victim = &it[order[rng() % (i + 1)]];

			if (victim->in)
				remove_ok(t, victim);
		}
		if (i % 16 == 0) {
			check_slots(t);
			verify_items(t, it, n);
		}
		/* Items that went out come back in a later round. */
		if (!it[order[i]].in)
			insert(t, &it[order[i]]);
	}
	check_slots(t);
	verify_items(t, it, n);
	free(order);
	free(it);
}

static void test_collide_low_bits(void **state)
{
	churn(*state, 600, hash_low);
}

static void test_collide_full_hash(void **state)
{
	churn(*state, 300, hash_same);
}

/*
 * Remove from a cluster whose members have homes on both sides of the
 * table's end: the deletion must shift exactly the members whose home is
 * not between the hole and their slot.
 */
static void test_collide_wrap(void **state)
{
	struct mmfs_htab *t = *state;
	struct item it[5];
	size_t cap, i, victim;

	cap = mmfs_htab_bytes(t) / sizeof(uintptr_t);
	for (victim = 0; victim < 5; victim++) {
		/* homes: cap-2, cap-1, cap-1, 0, 1 -> slots cap-2 .. 2 */
		static const size_t home_off[] = { 2, 1, 1, 0, 0 };
		static const size_t home_add[] = { 0, 0, 0, 0, 1 };

		for (i = 0; i < 5; i++) {
			it[i].key = 10 * victim + i;
			it[i].hash = (hash_good(it[i].key) & ~0xffffULL) |
				     ((cap - home_off[i] + home_add[i]) &
				      (cap - 1));
			insert(t, &it[i]);
		}
		assert_int_equal(mmfs_htab_bytes(t), cap * sizeof(uintptr_t));
		check_slots(t);
		remove_ok(t, &it[victim]);
		check_slots(t);
		verify_items(t, it, 5);
		for (i = 0; i < 5; i++)
			if (it[i].in)
				remove_ok(t, &it[i]);
		assert_int_equal(mmfs_htab_count(t), 0);
	}
}

/* Identical hashes: find must ask eq and return the right object. */
static void test_same_hash_find(void **state)
{
	struct mmfs_htab *t = *state;
	struct item *it = items_new(64, hash_same);
	uint64_t missing = 3;
	size_t i;

	for (i = 0; i < 64; i++)
		insert(t, &it[i]);
	for (i = 0; i < 64; i++)
		assert_ptr_equal(find(t, &it[i]), &it[i]);
	assert_null(mmfs_htab_find(t, hash_same(missing), item_eq, &missing));
	free(it);
}

/*
 * The 16-bit tag rejects almost every probe that is not a hit without
 * calling eq: 100,000 misses at load <= 3/4 should need only a handful.
 */
static void test_tag_filter(void **state)
{
	const size_t n = 100000;
	struct mmfs_htab *t = *state;
	struct item *it = items_new(n, hash_good);
	uint64_t key;
	size_t i;

	for (i = 0; i < n; i++)
		insert(t, &it[i]);
	eq_calls = 0;
	for (key = 1; key <= n; key++) {
		uint64_t k = key << 40; /* no item has such a key */

		assert_null(mmfs_htab_find(t, hash_good(k), item_eq, &k));
	}
	assert_true(eq_calls < 200);
	free(it);
}

static void test_init_enomem(void **state)
{
	struct mmfs_htab t;

	calloc_fail = true;
	assert_int_equal(mmfs_htab_init(&t, 100), -ENOMEM);
	calloc_fail = false;
	assert_int_equal(calloc_failures, 1);
}

/* An insert that needs to grow and cannot leaves the table as it was. */
static void test_insert_enomem(void **state)
{
	const size_t n = 5000;
	struct mmfs_htab *t = *state;
	struct item *it = items_new(n, hash_good);
	size_t i, bytes, grows = 0;
	int rc = 0;

	for (i = 0; i < n; i++) {
		bytes = mmfs_htab_bytes(t);
		calloc_fail = true;
		rc = mmfs_htab_insert(t, it[i].hash, &it[i], item_rehash);
		calloc_fail = false;
		if (rc == 0) {
			it[i].in = true;
			/* No allocation, no resize. */
			assert_int_equal(mmfs_htab_bytes(t), bytes);
			continue;
		}
		assert_int_equal(rc, -ENOMEM);
		assert_int_equal(mmfs_htab_count(t), i);
		assert_int_equal(mmfs_htab_bytes(t), bytes);
		verify_items(t, it, n);
		check_slots(t);
		/* Without the fault it grows and goes in. */
		insert(t, &it[i]);
		assert_true(mmfs_htab_bytes(t) > bytes);
		grows++;
	}
	assert_true(grows >= 5);
	assert_int_equal(calloc_failures, grows);
	verify_items(t, it, n);
	check_slots(t);
	free(it);
}

/* A shrink that cannot allocate is skipped: remove still succeeds. */
static void test_remove_enomem(void **state)
{
	const size_t n = 5000;
	struct mmfs_htab *t = *state;
	struct item *it = items_new(n, hash_good);
	size_t i, bytes;

	for (i = 0; i < n; i++)
		insert(t, &it[i]);
	bytes = mmfs_htab_bytes(t);
	calloc_fail = true;
	for (i = 0; i < n - 1; i++) {
		remove_ok(t, &it[i]);
		assert_int_equal(mmfs_htab_bytes(t), bytes);
		if (i % 500 == 0)
			verify_items(t, it, n);
	}
	calloc_fail = false;
	assert_true(calloc_failures > 0);
	verify_items(t, it, n);
	check_slots(t);
	/* The next remove shrinks for real. */
	remove_ok(t, &it[n - 1]);
	assert_true(mmfs_htab_bytes(t) < bytes);
	assert_int_equal(mmfs_htab_count(t), 0);
	free(it);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_table, teardown_table)
		T(test_basic),
		T(test_remove_by_identity),
		T(test_remove_missing),
		cmocka_unit_test(test_init_hint),
		T(test_many),
		T(test_collide_low_bits),
		T(test_collide_full_hash),
		T(test_collide_wrap),
		T(test_same_hash_find),
		T(test_tag_filter),
		cmocka_unit_test(test_init_enomem),
		T(test_insert_enomem),
		T(test_remove_enomem),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

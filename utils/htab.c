/* SPDX-License-Identifier: Apache-2.0 */
/* htab.c -- tagged-pointer open-addressing hash set (see htab.h) */
#include "utils/htab.h"

#include <errno.h>
#include <stdlib.h>

#include "utils/err.h"

#define TAG_SHIFT 48
#define PTR_MASK (((uintptr_t)1 << TAG_SHIFT) - 1)
#define MIN_CAP 8

static inline uintptr_t slot_make(uint64_t hash, const void *item)
{
	uintptr_t p = (uintptr_t)item;

	MMFS_ASSERT((p & ~PTR_MASK) == 0);
	return p | ((uintptr_t)(hash >> TAG_SHIFT) << TAG_SHIFT);
}

static inline void *slot_item(uintptr_t s)
{
	return (void *)(s & PTR_MASK);
}

static inline bool slot_tag_eq(uintptr_t s, uint64_t hash)
{
	return (s >> TAG_SHIFT) == (hash >> TAG_SHIFT);
}

/* Low bits pick the bucket, high bits are the tag: they are independent. */
static inline size_t home_of(const struct mmfs_htab *t, uint64_t hash)
{
	return (size_t)hash & t->mask;
}

static size_t cap_for(size_t n)
{
	size_t cap = MIN_CAP;

	while (cap * 3 / 4 < n)
		cap <<= 1;
	return cap;
}

int mmfs_htab_init(struct mmfs_htab *t, size_t hint)
{
	size_t cap = cap_for(hint);

	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = cap - 1;
	t->count = 0;
	return 0;
}

void mmfs_htab_fini(struct mmfs_htab *t)
{
	free(t->slots);
	t->slots = NULL;
	t->mask = 0;
	t->count = 0;
}

void *mmfs_htab_find(const struct mmfs_htab *t, uint64_t hash,
		     mmfs_htab_eq_fn eq, const void *key)
{
	size_t i = home_of(t, hash);
	uintptr_t s;

	while ((s = t->slots[i]) != 0) {
		if (slot_tag_eq(s, hash) && eq(slot_item(s), key))
			return slot_item(s);
		i = (i + 1) & t->mask;
	}
	return NULL;
}

/* place -- (internal) put a slot word in the first free bucket */
static void place(uintptr_t *slots, size_t mask, size_t home, uintptr_t s)
{
	size_t i = home;

	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = s;
}

/* resize -- (internal) rehash into @cap buckets; -ENOMEM keeps the old */
static int resize(struct mmfs_htab *t, size_t cap, mmfs_htab_hash_fn rehash)
{
	uintptr_t *slots = calloc(cap, sizeof(*slots));
	size_t i;

	if (!slots)
		return -ENOMEM;
	for (i = 0; i <= t->mask; i++) {
		uintptr_t s = t->slots[i];

		if (s)
			place(slots, cap - 1,
			      (size_t)rehash(slot_item(s)) & (cap - 1), s);
	}
	free(t->slots);
	t->slots = slots;
	t->mask = cap - 1;
	return 0;
}

int mmfs_htab_insert(struct mmfs_htab *t, uint64_t hash, void *item,
		     mmfs_htab_hash_fn rehash)
{
	if ((t->count + 1) > (t->mask + 1) * 3 / 4) {
		int rc = resize(t, (t->mask + 1) * 2, rehash);

		if (rc < 0)
			return rc;
	}
	place(t->slots, t->mask, home_of(t, hash), slot_make(hash, item));
	t->count++;
	return 0;
}

int mmfs_htab_remove(struct mmfs_htab *t, uint64_t hash, const void *item,
		     mmfs_htab_hash_fn rehash)
{
	size_t i = home_of(t, hash);
	size_t j;
	uintptr_t s;

	while ((s = t->slots[i]) != 0 && slot_item(s) != item)
		i = (i + 1) & t->mask;
	if (!s)
		return -ENOENT;
	/*
	 * Backward-shift deletion: pull later members of the cluster into the
	 * hole when the hole lies between their home and their current slot,
	 * so lookups never need tombstones.
	 */
	j = i;
	for (;;) {
		size_t home;

		t->slots[i] = 0;
		for (;;) {
			j = (j + 1) & t->mask;
			s = t->slots[j];
			if (!s)
				goto out_shrink;
			home = (size_t)rehash(slot_item(s)) & t->mask;
			/* Is home cyclically outside (i, j]? Then it may move. */
			if (i <= j ? (home <= i || home > j)
				   : (home <= i && home > j))
				break;
		}
		t->slots[i] = s;
		i = j;
	}
out_shrink:
	t->count--;
	if (t->mask + 1 > MIN_CAP && t->count < (t->mask + 1) / 8)
		(void)resize(t, cap_for(t->count * 2), rehash); /* best effort */
	return 0;
}

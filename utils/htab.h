/* SPDX-License-Identifier: Apache-2.0 */
/*
 * htab -- open-addressing hash set of caller-owned items.
 *
 * Each slot is one 8-byte word: the item pointer with the top 16 bits of its
 * hash folded into the unused high bits of an x86-64/arm64 user address.
 * That keeps a directory of a million names at about 11-21 bytes of index
 * per entry (load factor 3/8..3/4) while almost every probe that is not a
 * hit is rejected without touching the item's cache line.
 *
 * Linear probing, backward-shift deletion (no tombstones), doubling at 3/4
 * load and halving below 1/8. Not thread-safe: the owner's lock covers it.
 */
#ifndef MMFS_UTILS_HTAB_H
#define MMFS_UTILS_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mmfs_htab {
	uintptr_t *slots; /* tagged item pointers, 0 = empty */
	size_t mask;      /* capacity - 1, capacity a power of two */
	size_t count;
};

/* Compare an item with a lookup key; hash equality is already known. */
typedef bool (*mmfs_htab_eq_fn)(const void *item, const void *key);
/* Recompute an item's hash when the table is resized. */
typedef uint64_t (*mmfs_htab_hash_fn)(const void *item);

/* mmfs_htab_init -- empty table with room for @hint items. 0 or -ENOMEM. */
int mmfs_htab_init(struct mmfs_htab *t, size_t hint);
void mmfs_htab_fini(struct mmfs_htab *t);

/* mmfs_htab_find -- the item equal to @key, or NULL. */
void *mmfs_htab_find(const struct mmfs_htab *t, uint64_t hash,
		     mmfs_htab_eq_fn eq, const void *key);

/*
 * mmfs_htab_insert -- add @item (the caller made sure it is not present).
 * Returns 0 or -ENOMEM (the table is unchanged then).
 */
int mmfs_htab_insert(struct mmfs_htab *t, uint64_t hash, void *item,
		     mmfs_htab_hash_fn rehash);

/* mmfs_htab_remove -- remove @item (by identity). 0 or -ENOENT. */
int mmfs_htab_remove(struct mmfs_htab *t, uint64_t hash, const void *item,
		     mmfs_htab_hash_fn rehash);

static inline size_t mmfs_htab_count(const struct mmfs_htab *t)
{
	return t->count;
}

/* Bytes of index memory the table holds (for accounting). */
static inline size_t mmfs_htab_bytes(const struct mmfs_htab *t)
{
	return t->slots ? (t->mask + 1) * sizeof(uintptr_t) : 0;
}

#endif

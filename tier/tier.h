/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tier -- where chunk bytes live.
 *
 * A chunk is a fixed-size (per mount) block of file data named by a stable
 * 32-bit id. tier/ owns the id -> (tier, address) mapping and the memory
 * behind it; it never sees files, maps or refcounts (snapshot/ owns those).
 * Id 0 is never handed out: maps use it for "hole".
 *
 * This layer is the only one that includes <numa.h> or <libpmem2.h>.
 */
#ifndef MMFS_TIER_TIER_H
#define MMFS_TIER_TIER_H

#include <stdbool.h>
#include <stdint.h>

#define MMFS_CHUNK_MIN (4u << 10)
#define MMFS_CHUNK_MAX (2u << 20)
#define MMFS_CHUNK_DEFAULT (64u << 10)
/* Ids stay below 2^31: maps keep a per-entry flag in the top bit. */
#define MMFS_TIER_ID_MAX 0x7fffffffu

enum mmfs_tier_kind {
	MMFS_TIER_DRAM = 0,
	MMFS_TIER_PMEM = 1,
	MMFS_TIER_COUNT
};

struct mmfs_tier_opts {
	uint64_t dram_bytes;    /* DRAM budget; rounded down to chunks */
	uint32_t chunk_size;    /* power of two in [MMFS_CHUNK_MIN, _MAX] */
	const char *dram_nodes; /* libnuma node list ("0-1"), NULL = any */
};

struct mmfs_tier_stat {
	uint32_t chunk_size;
	uint64_t total_chunks[MMFS_TIER_COUNT]; /* capacity per tier */
	uint64_t used_chunks[MMFS_TIER_COUNT];  /* allocated per tier */
	uint64_t allocs;                        /* chunk allocations so far */
	uint64_t frees;                         /* chunk frees so far */
	uint64_t enospc;                        /* failed allocations */
};

struct mmfs_tier;

/*
 * mmfs_tier_new -- reserve the tiers described by @o.
 * Returns 0, -EINVAL for a bad geometry or node list, -ENOMEM.
 */
int mmfs_tier_new(const struct mmfs_tier_opts *o, struct mmfs_tier **out);

/* mmfs_tier_free -- release everything; *t becomes NULL. */
void mmfs_tier_free(struct mmfs_tier **t);

uint32_t mmfs_tier_chunk_size(const struct mmfs_tier *t);

/* Largest chunk id this tier set can ever hand out (for id-indexed tables). */
uint32_t mmfs_tier_max_id(const struct mmfs_tier *t);

/*
 * mmfs_tier_chunk_alloc -- a new zero-filled chunk, placed in DRAM while the
 * budget allows. Returns 0 with *id set, or -ENOSPC when every tier is full.
 * Locking: takes the tier lock internally; callable from any thread.
 */
int mmfs_tier_chunk_alloc(struct mmfs_tier *t, uint32_t *id);

/*
 * mmfs_tier_chunk_free -- give a chunk's memory back. The id may be reused
 * at once: callers must have removed every reference to it first.
 */
void mmfs_tier_chunk_free(struct mmfs_tier *t, uint32_t id);

/*
 * mmfs_tier_chunk_addr -- where the bytes of chunk @id are right now.
 * The address is valid until the chunk is freed; callers hold the lock of
 * the file that references the chunk, which excludes the free.
 */
void *mmfs_tier_chunk_addr(const struct mmfs_tier *t, uint32_t id);

/* mmfs_tier_chunk_tier -- which tier holds chunk @id. */
enum mmfs_tier_kind mmfs_tier_chunk_tier(const struct mmfs_tier *t,
					 uint32_t id);

/*
 * mmfs_tier_zero -- a read-only chunk of zeros that costs no memory (every
 * page maps the kernel's zero page): holes are replied from it.
 */
const void *mmfs_tier_zero(const struct mmfs_tier *t);

/* mmfs_tier_stat -- a consistent snapshot of the counters. */
void mmfs_tier_stat(struct mmfs_tier *t, struct mmfs_tier_stat *st);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snap -- copy-on-write metadata: per-file chunk maps and chunk refcounts.
 *
 * A map is a sparse radix tree: chunk index -> chunk id (0 = hole). Holes
 * cost nothing; a chunk that more than one map references (refcount > 1) is
 * copied before it is written (mmfs_snap_map_write_prep). snapshot/ never
 * sees directory entries or placement: bytes are tier/'s business.
 */
#ifndef MMFS_SNAPSHOT_SNAP_H
#define MMFS_SNAPSHOT_SNAP_H

#include <stdint.h>

#include "tier/tier.h"

struct mmfs_snap;
struct mmfs_snap_map;

/* Map entry flag: preallocated, never written (ext4's unwritten extent). */
#define MMFS_SNAP_UNWRITTEN 0x80000000u

/*
 * A journal hears every change of a map entry made by the calls below
 * (never by _fini, which destroys, nor by _set, which replays): @set for
 * one entry (id | MMFS_SNAP_UNWRITTEN), @punch for a range turned into
 * holes. It runs under the map owner's lock, so its order is the map's.
 */
struct mmfs_snap_journal {
	void (*set)(void *arg, struct mmfs_snap_map *m, uint64_t idx,
		    uint32_t entry);
	void (*punch)(void *arg, struct mmfs_snap_map *m, uint64_t first,
		      uint64_t last);
	void *arg;
};

/*
 * A file's map, embedded in its inode. Fields are private to snapshot/.
 * Locking: the owner (the inode's lock) serializes every call on a map;
 * lookups may run concurrently with each other under a shared lock.
 */
struct mmfs_snap_map {
	void *root;       /* top node when height > 0 */
	uint32_t root_id; /* height 0: the chunk id of index 0, or 0 */
	uint8_t height;   /* levels of nodes; 0 covers index 0 only */
	uint64_t nchunks; /* chunk ids referenced (for st_blocks) */
	uint64_t nbytes;  /* bytes of map nodes (for accounting) */
};

/* Per-map-entry costs, for tier/README.md's memory table. */
#define MMFS_SNAP_LEAF_BYTES 264u  /* 64 ids + header: maps 64 chunks */
#define MMFS_SNAP_INNER_BYTES 520u /* 64 children + header */

/* mmfs_snap_new -- refcount table for every id @tier can hand out. */
int mmfs_snap_new(struct mmfs_tier *tier, struct mmfs_snap **out);
void mmfs_snap_free(struct mmfs_snap **s);
struct mmfs_tier *mmfs_snap_tier(const struct mmfs_snap *s);
/* mmfs_snap_set_journal -- install @j (copied); before any map is used. */
void mmfs_snap_set_journal(struct mmfs_snap *s,
			   const struct mmfs_snap_journal *j);

/* Take or drop a reference on a chunk; the last put frees it in tier/. */
void mmfs_snap_chunk_get(struct mmfs_snap *s, uint32_t id);
void mmfs_snap_chunk_put(struct mmfs_snap *s, uint32_t id);
uint32_t mmfs_snap_chunk_refs(const struct mmfs_snap *s, uint32_t id);

void mmfs_snap_map_init(struct mmfs_snap_map *m);
/* mmfs_snap_map_fini -- drop every chunk reference and node. */
void mmfs_snap_map_fini(struct mmfs_snap *s, struct mmfs_snap_map *m);

/* mmfs_snap_map_lookup -- chunk id at @idx, 0 for a hole. */
uint32_t mmfs_snap_map_lookup(const struct mmfs_snap_map *m, uint64_t idx);

/*
 * mmfs_snap_map_write_prep -- make chunk @idx writable by this map alone:
 * allocate a zeroed chunk for a hole, or copy a shared one. Sets *id.
 * Returns 0, -ENOSPC (tiers full), -ENOMEM, or -EFBIG (index beyond 2^60);
 * the map is unchanged then, down to its node memory.
 */
int mmfs_snap_map_write_prep(struct mmfs_snap *s, struct mmfs_snap_map *m,
			     uint64_t idx, uint32_t *id);

/*
 * mmfs_snap_map_prealloc -- back @idx with a zeroed chunk that counts as
 * allocated (st_blocks, no ENOSPC when written later) but seeks as a hole
 * until first written: ext4's unwritten extents. Nothing happens if @idx
 * already has a chunk. Returns 0, -ENOSPC, -ENOMEM or -EFBIG; the map is
 * unchanged on failure.
 */
int mmfs_snap_map_prealloc(struct mmfs_snap *s, struct mmfs_snap_map *m,
			   uint64_t idx);

/*
 * mmfs_snap_map_punch -- turn chunks [first, last] into holes, dropping
 * their references. Never fails: removing entries allocates nothing.
 */
void mmfs_snap_map_punch(struct mmfs_snap *s, struct mmfs_snap_map *m,
			 uint64_t first, uint64_t last);

/*
 * mmfs_snap_map_next_data -- first index >= @idx that has a written chunk.
 * Returns 0 with *out set, or -ENXIO when there is none.
 */
int mmfs_snap_map_next_data(const struct mmfs_snap_map *m, uint64_t idx,
			    uint64_t *out);
/* mmfs_snap_map_next_hole -- first index >= @idx with no written chunk. */
uint64_t mmfs_snap_map_next_hole(const struct mmfs_snap_map *m, uint64_t idx);

/*
 * mmfs_snap_map_set -- recovery: entry @idx becomes @entry (a chunk id,
 * maybe | MMFS_SNAP_UNWRITTEN), taking a reference, claiming the id in
 * tier/ on its first reference and dropping the old entry's. -EUCLEAN for
 * an id that is not a chunk, -EFBIG, -ENOMEM (map unchanged).
 */
int mmfs_snap_map_set(struct mmfs_snap *s, struct mmfs_snap_map *m,
		      uint64_t idx, uint32_t entry);

/* mmfs_snap_map_walk -- @fn(arg, idx, entry) for each entry, in order;
 * stops at and returns the first negative return. */
int mmfs_snap_map_walk(const struct mmfs_snap_map *m,
		       int (*fn)(void *arg, uint64_t idx, uint32_t entry),
		       void *arg);

static inline uint64_t mmfs_snap_map_chunks(const struct mmfs_snap_map *m)
{
	return m->nchunks;
}

#endif

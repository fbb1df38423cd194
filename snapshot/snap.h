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
 * (never by _fini, which destroys, nor by _set and the loader, which
 * replay): @set for one entry (id | MMFS_SNAP_UNWRITTEN), @punch for a
 * range turned into holes, @share for a range of @dst that became what
 * @src holds (one record however many chunks it covers). It runs under
 * the map owner's lock, so its order is the map's.
 */
struct mmfs_snap_journal {
	void (*set)(void *arg, struct mmfs_snap_map *m, uint64_t idx,
		    uint32_t entry);
	void (*punch)(void *arg, struct mmfs_snap_map *m, uint64_t first,
		      uint64_t last);
	void (*share)(void *arg, struct mmfs_snap_map *dst, uint64_t dfirst,
		      const struct mmfs_snap_map *src, uint64_t sfirst,
		      uint64_t n);
	void *arg;
};

/*
 * A file's map, embedded in its inode. Fields are private to snapshot/.
 * Locking: the owner (the inode's lock) serializes every call on a map;
 * lookups may run concurrently with each other under a shared lock. Maps
 * that share nodes have different owners: see map.c for why that is safe.
 */
struct mmfs_snap_node;
struct mmfs_snap_map {
	struct mmfs_snap_node *root; /* top node when height > 0 */
	uint32_t root_id; /* height 0: the entry of index 0, or 0 */
	uint8_t height;   /* levels of nodes; 0 covers index 0 only */
	uint64_t nchunks; /* entries reachable (for st_blocks) */
};

/* Indexes of the largest map (2^60): "to the end" for mmfs_snap_map_share */
#define MMFS_SNAP_ALL (1ULL << 60)

/* Per-node costs, for tier/README.md's memory table. */
#define MMFS_SNAP_LEAF_BYTES 264u  /* 64 ids + header: maps 64 chunks */
#define MMFS_SNAP_INNER_BYTES 520u /* 64 children + header */

/* mmfs_snap_new -- refcount table for every id @tier can hand out. */
int mmfs_snap_new(struct mmfs_tier *tier, struct mmfs_snap **out);
void mmfs_snap_free(struct mmfs_snap **s);
struct mmfs_tier *mmfs_snap_tier(const struct mmfs_snap *s);
/* mmfs_snap_set_journal -- install @j (copied); before any map is used. */
void mmfs_snap_set_journal(struct mmfs_snap *s,
			   const struct mmfs_snap_journal *j);

/*
 * Map nodes over all maps, each counted once however many maps share it:
 * the memory they take and the used slots (for the checkpoint's size).
 */
struct mmfs_snap_stat {
	uint64_t leaves, inners, node_bytes, slots;
};
void mmfs_snap_stat(const struct mmfs_snap *s, struct mmfs_snap_stat *st);

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
 * their references. Returns 0, or -ENOMEM when a node shared with another
 * map had to be copied and could not be (the map is unchanged then); a
 * punch of everything from index 0 on never fails.
 */
int mmfs_snap_map_punch(struct mmfs_snap *s, struct mmfs_snap_map *m,
			uint64_t first, uint64_t last);

/*
 * mmfs_snap_map_share -- dst's indexes [dfirst, dfirst + n) become what
 * src's [sfirst, sfirst + n) hold, sharing chunks (a reflink): holes stay
 * holes, and where both offsets are aligned to a whole subtree the subtree
 * is shared by one reference, so an empty map given n = MMFS_SNAP_ALL from
 * index 0 takes src's root and nothing else. A later write to either side
 * copies what it changes (write_prep). @src and @dst may be one map if the
 * ranges do not overlap (-EINVAL). Both owners' locks held, dst's
 * exclusively. Returns 0, -EFBIG (beyond 2^60) or -ENOMEM; *done says how
 * many indexes from the start were shared, also on failure (the rest of
 * dst is unchanged), and is what the journal hears.
 */
int mmfs_snap_map_share(struct mmfs_snap *s, struct mmfs_snap_map *dst,
			uint64_t dfirst, const struct mmfs_snap_map *src,
			uint64_t sfirst, uint64_t n, uint64_t *done);

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

/*
 * Checkpoints: a node table. A saver hands every distinct node of the maps
 * it is given to @emit once, children before parents, numbered 1, 2, ...
 * in that order, with its used slots (@slot ascending) and their values:
 * chunk entries in leaves (level 1), child node numbers above. A map is
 * then named by its height and root: a node number, or at height 0 the
 * inline entry (0: empty). Only shared nodes are remembered (8 + 16 bytes
 * each while saving), so a tree of N snapshots costs its distinct nodes.
 */
struct mmfs_snap_saver;
typedef int (*mmfs_snap_emit_fn)(void *arg, uint32_t no, unsigned level,
				 unsigned n, const uint8_t *slot,
				 const uint32_t *val);
int mmfs_snap_saver_new(mmfs_snap_emit_fn emit, void *arg,
			struct mmfs_snap_saver **out);
/* mmfs_snap_save_map -- emit @m's unsaved nodes; rc of emit, or -ENOMEM */
int mmfs_snap_save_map(struct mmfs_snap_saver *sv,
		       const struct mmfs_snap_map *m, uint8_t *height,
		       uint32_t *root);
void mmfs_snap_saver_free(struct mmfs_snap_saver **sv);

/*
 * The loader rebuilds what a saver emitted: nodes in their numbered order,
 * then roots. It holds a reference on every node until it is freed, when
 * nodes no map took are dropped. Chunks are claimed in tier/ as on
 * mmfs_snap_map_set. -EUCLEAN for anything a saver would not have written
 * (numbers out of order, bad levels, slots or ids, a child of the wrong
 * level, a root for a map that is not empty), -ENOMEM.
 */
struct mmfs_snap_loader;
int mmfs_snap_loader_new(struct mmfs_snap *s, struct mmfs_snap_loader **out);
int mmfs_snap_load_node(struct mmfs_snap_loader *ld, uint32_t no,
			unsigned level, unsigned n, const uint8_t *slot,
			const uint32_t *val);
int mmfs_snap_load_root(struct mmfs_snap_loader *ld, struct mmfs_snap_map *m,
			unsigned height, uint32_t root);
void mmfs_snap_loader_free(struct mmfs_snap_loader **ld);

/*
 * fsck: an audit counts the references every map makes, each distinct
 * node once, and compares them with the refcounts of nodes and chunks.
 * @report gets one line per mismatch; _end returns how many there were
 * and frees the audit (with @report NULL it only frees).
 */
struct mmfs_snap_audit;
int mmfs_snap_audit_new(struct mmfs_snap *s, struct mmfs_snap_audit **out);
int mmfs_snap_audit_map(struct mmfs_snap_audit *a,
			const struct mmfs_snap_map *m);
int64_t mmfs_snap_audit_end(struct mmfs_snap_audit **a,
			    void (*report)(void *arg, const char *msg),
			    void *arg);

/*
 * Exclusive bytes: how many chunks only a set of maps holds (what deleting
 * them all would free), counting shared nodes once. The maps must not
 * change meanwhile (a snapshot's never do). _end frees the set.
 */
struct mmfs_snap_excl;
int mmfs_snap_excl_new(struct mmfs_snap *s, struct mmfs_snap_excl **out);
int mmfs_snap_excl_map(struct mmfs_snap_excl *e,
		       const struct mmfs_snap_map *m);
int mmfs_snap_excl_end(struct mmfs_snap_excl **e, uint64_t *chunks);

#endif

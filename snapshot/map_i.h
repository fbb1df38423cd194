/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map_i.h -- private to snapshot/: map nodes and the snapshot state, shared
 * by map.c (the maps and their mutators) and save.c (checkpoint node
 * tables, their loading, and fsck's reference audit).
 */
#ifndef MMFS_SNAPSHOT_MAP_I_H
#define MMFS_SNAPSHOT_MAP_I_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot/snap.h"

#define FAN_SHIFT 6
#define FAN (1u << FAN_SHIFT)
#define MAX_HEIGHT 10 /* 60 bits of chunk index: beyond any off_t */
/* Entry flag: preallocated, never written (reads zeros, seeks as a hole) */
#define UNWRITTEN 0x80000000u
#define ENTRY_ID(e) ((e) & ~UNWRITTEN)
#define ENTRY_DATA(e) ((e) && !((e) & UNWRITTEN))

struct mmfs_snap_node {
	_Atomic uint32_t refs; /* map roots and parent slots pointing here */
	uint8_t used;          /* non-empty slots */
	uint8_t level;         /* 1 = leaf */
	uint16_t pad;
	union {
		struct mmfs_snap_node *child[FAN]; /* inner nodes */
		uint32_t id[FAN];                  /* leaves (level 1) */
	};
};

#define LEAF_BYTES                                                            \
	(offsetof(struct mmfs_snap_node, id) + FAN * sizeof(uint32_t))
#define INNER_BYTES                                                           \
	(offsetof(struct mmfs_snap_node, child) + FAN * sizeof(void *))
_Static_assert(LEAF_BYTES == MMFS_SNAP_LEAF_BYTES, "leaf size drifted");
_Static_assert(INNER_BYTES == MMFS_SNAP_INNER_BYTES, "inner size drifted");
_Static_assert(MMFS_SNAP_ALL == 1ULL << (FAN_SHIFT * MAX_HEIGHT),
	       "MMFS_SNAP_ALL drifted");
_Static_assert(UNWRITTEN == MMFS_SNAP_UNWRITTEN, "entry flag drifted");

struct mmfs_snap {
	struct mmfs_tier *tier;
	_Atomic uint32_t *refs; /* indexed by chunk id */
	size_t refs_bytes;
	struct mmfs_snap_journal journal; /* set once, before any map use */
	/* Over all distinct nodes: for accounting and the checkpoint bound */
	_Atomic uint64_t leaves, inners, slots;
};

/* span -- indexes covered by one slot of a node at @level */
static inline uint64_t span(unsigned level)
{
	return 1ULL << (FAN_SHIFT * (level - 1));
}

/* capacity -- indexes a map (or subtree) of height @height covers */
static inline uint64_t capacity(unsigned height)
{
	return height == 0 ? 1 : 1ULL << (FAN_SHIFT * height);
}

static inline unsigned slot_of(uint64_t idx, unsigned level)
{
	return (unsigned)(idx / span(level)) & (FAN - 1);
}

static inline uint32_t node_refs(const struct mmfs_snap_node *n)
{
	return atomic_load_explicit(&n->refs, memory_order_acquire);
}

static inline void snap_node_get(struct mmfs_snap_node *n)
{
	atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
}

/* snap_node_put -- drop a reference; the last frees the subtree */
void snap_node_put(struct mmfs_snap *s, struct mmfs_snap_node *n);
/* snap_node_alloc -- an empty node at @level, one reference, or NULL */
struct mmfs_snap_node *snap_node_alloc(struct mmfs_snap *s, unsigned level);
/* snap_node_free -- free one node now (its slots' references are gone) */
void snap_node_free(struct mmfs_snap *s, struct mmfs_snap_node *n);
/* snap_node_count -- entries below @n */
uint64_t snap_node_count(const struct mmfs_snap_node *n);

#endif

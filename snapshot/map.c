/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map.c -- per-file chunk maps (64-way radix trees of chunk ids) and the
 * chunk refcount table.
 *
 * A map of height h covers indexes [0, 64^h); height 0 keeps the single
 * chunk of a small file inline in the map, so a one-chunk file costs no
 * node at all. Leaves hold 32-bit ids (4 bytes a chunk); empty nodes are
 * freed as holes are punched, so a sparse file costs what it holds.
 *
 * Refcounts live in one id-indexed array of 32-bit atomics reserved with
 * MAP_NORESERVE: 4 bytes per chunk, touched only for ids in use.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "snapshot/snap.h"
#include "utils/err.h"

#define FAN_SHIFT 6
#define FAN (1u << FAN_SHIFT)
#define MAX_HEIGHT 10 /* 60 bits of chunk index: beyond any off_t */
/* Entry flag: preallocated, never written (reads zeros, seeks as a hole) */
#define UNWRITTEN 0x80000000u
#define ENTRY_ID(e) ((e) & ~UNWRITTEN)
#define ENTRY_DATA(e) ((e) && !((e) & UNWRITTEN))

struct map_node {
	uint32_t used; /* non-empty slots */
	uint32_t pad;
	union {
		struct map_node *child[FAN]; /* inner nodes */
		uint32_t id[FAN];            /* leaves (level 1) */
	};
};

#define LEAF_BYTES (offsetof(struct map_node, id) + FAN * sizeof(uint32_t))
#define INNER_BYTES (offsetof(struct map_node, child) + FAN * sizeof(void *))
_Static_assert(LEAF_BYTES == MMFS_SNAP_LEAF_BYTES, "leaf size drifted");
_Static_assert(INNER_BYTES == MMFS_SNAP_INNER_BYTES, "inner size drifted");

struct mmfs_snap {
	struct mmfs_tier *tier;
	_Atomic uint32_t *refs; /* indexed by chunk id */
	size_t refs_bytes;
	struct mmfs_snap_journal journal; /* set once, before any map use */
};

_Static_assert(UNWRITTEN == MMFS_SNAP_UNWRITTEN, "entry flag drifted");

void mmfs_snap_set_journal(struct mmfs_snap *s,
			   const struct mmfs_snap_journal *j)
{
	s->journal = *j;
}

static inline void journal_set(struct mmfs_snap *s, struct mmfs_snap_map *m,
			       uint64_t idx, uint32_t entry)
{
	if (s->journal.set)
		s->journal.set(s->journal.arg, m, idx, entry);
}

int mmfs_snap_new(struct mmfs_tier *tier, struct mmfs_snap **out)
{
	struct mmfs_snap *s = calloc(1, sizeof(*s));
	void *p;

	if (!s)
		return -ENOMEM;
	s->tier = tier;
	s->refs_bytes = ((size_t)mmfs_tier_max_id(tier) + 1) * sizeof(uint32_t);
	p = mmap(NULL, s->refs_bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		free(s);
		return -ENOMEM;
	}
	s->refs = p;
	*out = s;
	return 0;
}

void mmfs_snap_free(struct mmfs_snap **sp)
{
	struct mmfs_snap *s = *sp;

	if (!s)
		return;
	munmap((void *)s->refs, s->refs_bytes);
	free(s);
	*sp = NULL;
}

struct mmfs_tier *mmfs_snap_tier(const struct mmfs_snap *s)
{
	return s->tier;
}

void mmfs_snap_chunk_get(struct mmfs_snap *s, uint32_t id)
{
	atomic_fetch_add_explicit(&s->refs[id], 1, memory_order_relaxed);
}

void mmfs_snap_chunk_put(struct mmfs_snap *s, uint32_t id)
{
	uint32_t old = atomic_fetch_sub_explicit(&s->refs[id], 1,
						 memory_order_acq_rel);

	MMFS_ASSERT(old > 0);
	if (old == 1)
		mmfs_tier_chunk_free(s->tier, id);
}

uint32_t mmfs_snap_chunk_refs(const struct mmfs_snap *s, uint32_t id)
{
	return atomic_load_explicit(&s->refs[id], memory_order_relaxed);
}

void mmfs_snap_map_init(struct mmfs_snap_map *m)
{
	memset(m, 0, sizeof(*m));
}

/* span -- (internal) indexes covered by one slot of a node at @level */
static inline uint64_t span(unsigned level)
{
	return 1ULL << (FAN_SHIFT * (level - 1));
}

static inline uint64_t capacity(unsigned height)
{
	return height == 0 ? 1 : 1ULL << (FAN_SHIFT * height);
}

static struct map_node *node_new(struct mmfs_snap_map *m, unsigned level)
{
	size_t bytes = level == 1 ? LEAF_BYTES : INNER_BYTES;
	struct map_node *n = calloc(1, bytes);

	if (n)
		m->nbytes += bytes;
	return n;
}

static void node_free(struct mmfs_snap_map *m, struct map_node *n,
		      unsigned level)
{
	m->nbytes -= level == 1 ? LEAF_BYTES : INNER_BYTES;
	free(n);
}

uint32_t mmfs_snap_map_lookup(const struct mmfs_snap_map *m, uint64_t idx)
{
	const struct map_node *n = m->root;
	unsigned level;

	if (m->height == 0)
		return idx == 0 ? ENTRY_ID(m->root_id) : 0;
	if (idx >= capacity(m->height))
		return 0;
	for (level = m->height; level > 1; level--) {
		n = n->child[(idx / span(level)) & (FAN - 1)];
		if (!n)
			return 0;
	}
	return ENTRY_ID(n->id[idx & (FAN - 1)]);
}

/* grow -- (internal) add levels on top until @idx fits */
static int grow(struct mmfs_snap_map *m, uint64_t idx)
{
	if (idx >= capacity(MAX_HEIGHT))
		return -EFBIG;
	if (m->height == 0 && m->root_id == 0 && idx > 0) {
		/* Empty: no chain down to index 0, only the level @idx needs */
		unsigned h = 1;

		while (idx >= capacity(h))
			h++;
		m->root = node_new(m, h);
		if (!m->root)
			return -ENOMEM;
		m->height = (uint8_t)h;
		return 0;
	}
	while (idx >= capacity(m->height)) {
		struct map_node *n;

		if (m->height >= MAX_HEIGHT)
			return -EFBIG;
		n = node_new(m, m->height + 1u);
		if (!n)
			return -ENOMEM;
		if (m->height == 0) {
			n->id[0] = m->root_id;
			n->used = m->root_id != 0;
			m->root_id = 0;
		} else {
			n->child[0] = m->root;
			n->used = 1;
		}
		m->root = n;
		m->height++;
	}
	return 0;
}

/* slot_for -- (internal) the leaf slot of @idx, creating the path to it */
static int slot_for(struct mmfs_snap_map *m, uint64_t idx, uint32_t **slot,
		    struct map_node **leaf)
{
	struct map_node *n;
	unsigned level;
	int rc;

	rc = grow(m, idx);
	if (rc < 0)
		return rc;
	if (m->height == 0) {
		*slot = &m->root_id;
		*leaf = NULL;
		return 0;
	}
	n = m->root;
	for (level = m->height; level > 1; level--) {
		struct map_node **c = &n->child[(idx / span(level)) & (FAN - 1)];

		if (!*c) {
			*c = node_new(m, level - 1);
			if (!*c)
				return -ENOMEM;
			n->used++;
		}
		n = *c;
	}
	*slot = &n->id[idx & (FAN - 1)];
	*leaf = n;
	return 0;
}

static void shrink_path(struct mmfs_snap_map *m, uint64_t idx);
static void map_punch(struct mmfs_snap *s, struct mmfs_snap_map *m,
		      uint64_t first, uint64_t last);

/* alloc_at -- (internal) a new chunk at hole @idx, entry flags @flags */
static int alloc_at(struct mmfs_snap *s, struct mmfs_snap_map *m,
		    uint64_t idx, uint32_t flags, uint32_t *id)
{
	struct map_node *leaf;
	uint32_t *slot;
	uint32_t nid;
	int rc;

	/*
	 * Take the chunk before touching the tree: a full tier then leaves
	 * the map exactly as it was.
	 */
	rc = mmfs_tier_chunk_alloc(s->tier, &nid);
	if (rc < 0)
		return rc;
	rc = slot_for(m, idx, &slot, &leaf);
	if (rc < 0) {
		mmfs_tier_chunk_free(s->tier, nid);
		if (m->height)
			shrink_path(m, idx);
		return rc;
	}
	mmfs_snap_chunk_get(s, nid);
	m->nchunks++;
	if (leaf)
		leaf->used++;
	*slot = nid | flags;
	*id = nid;
	journal_set(s, m, idx, nid | flags);
	return 0;
}

int mmfs_snap_map_write_prep(struct mmfs_snap *s, struct mmfs_snap_map *m,
			     uint64_t idx, uint32_t *id)
{
	uint32_t cur = mmfs_snap_map_lookup(m, idx);
	struct map_node *leaf;
	uint32_t *slot;
	uint32_t nid;
	int rc;

	if (!cur)
		return alloc_at(s, m, idx, 0, id);
	/* The path exists: this cannot allocate or fail. */
	rc = slot_for(m, idx, &slot, &leaf);
	MMFS_ASSERT(rc == 0);
	if (mmfs_snap_chunk_refs(s, cur) == 1) {
		if (*slot != cur) { /* unwritten until now */
			*slot = cur;
			journal_set(s, m, idx, cur);
		}
		*id = cur;
		return 0;
	}
	/*
	 * Shared with another map (a clone or snapshot): writing in place
	 * would leak this write into every sharer. Copy first.
	 */
	rc = mmfs_tier_chunk_alloc(s->tier, &nid);
	if (rc < 0)
		return rc;
	mmfs_snap_chunk_get(s, nid);
	memcpy(mmfs_tier_chunk_addr(s->tier, nid),
	       mmfs_tier_chunk_addr(s->tier, cur),
	       mmfs_tier_chunk_size(s->tier));
	mmfs_snap_chunk_put(s, cur);
	*slot = nid;
	*id = nid;
	journal_set(s, m, idx, nid);
	return 0;
}

int mmfs_snap_map_prealloc(struct mmfs_snap *s, struct mmfs_snap_map *m,
			   uint64_t idx)
{
	uint32_t id;

	if (idx >= capacity(MAX_HEIGHT))
		return -EFBIG;
	if (mmfs_snap_map_lookup(m, idx))
		return 0;
	return alloc_at(s, m, idx, UNWRITTEN, &id);
}

/*
 * shrink -- (internal) drop levels that only hold slot 0, and free an empty
 * root, so that a map always costs what it holds (also after a failure).
 */
static void shrink(struct mmfs_snap_map *m)
{
	struct map_node *n = m->root;

	while (m->height > 1 && n->used <= 1 && (n->used == 0 || n->child[0])) {
		struct map_node *c = n->child[0];

		node_free(m, n, m->height);
		m->height--;
		m->root = n = c;
		if (!n) {
			m->height = 0;
			return;
		}
	}
	if (m->height == 1 && n->used <= 1 && (n->used == 0 || n->id[0])) {
		m->root_id = n->id[0];
		node_free(m, n, 1);
		m->root = NULL;
		m->height = 0;
	}
}

/* prune -- (internal) free empty nodes on the path to @idx, bottom up */
static bool prune(struct mmfs_snap_map *m, struct map_node *n,
		  unsigned level, uint64_t idx)
{
	struct map_node **c;

	if (level > 1) {
		c = &n->child[(idx / span(level)) & (FAN - 1)];
		if (*c && prune(m, *c, level - 1, idx)) {
			node_free(m, *c, level - 1);
			*c = NULL;
			n->used--;
		}
	}
	return n->used == 0;
}

/* start_slot -- (internal) the first slot of a node at or after @idx */
static inline uint64_t start_slot(uint64_t idx, uint64_t base, uint64_t sp)
{
	return idx > base ? (idx - base) / sp : 0;
}

/* punch_node -- (internal) clear [first, last] below @n, covering @base.. */
static void punch_node(struct mmfs_snap *s, struct mmfs_snap_map *m,
		       struct map_node *n, unsigned level, uint64_t base,
		       uint64_t first, uint64_t last)
{
	uint64_t sp = span(level);
	uint64_t i = start_slot(first, base, sp);

	for (; i < FAN && n->used; i++) {
		uint64_t lo = base + i * sp;

		if (lo > last)
			break;
		if (level == 1) {
			if (n->id[i]) {
				mmfs_snap_chunk_put(s, ENTRY_ID(n->id[i]));
				n->id[i] = 0;
				n->used--;
				m->nchunks--;
			}
			continue;
		}
		if (!n->child[i])
			continue;
		punch_node(s, m, n->child[i], level - 1, lo, first, last);
		if (n->child[i]->used == 0) {
			node_free(m, n->child[i], level - 1);
			n->child[i] = NULL;
			n->used--;
		}
	}
}

void mmfs_snap_map_punch(struct mmfs_snap *s, struct mmfs_snap_map *m,
			 uint64_t first, uint64_t last)
{
	if (first > last)
		return;
	if (s->journal.punch && m->nchunks)
		s->journal.punch(s->journal.arg, m, first, last);
	map_punch(s, m, first, last);
}

/* map_punch -- (internal) punch without telling the journal */
static void map_punch(struct mmfs_snap *s, struct mmfs_snap_map *m,
		      uint64_t first, uint64_t last)
{
	if (m->height == 0) {
		if (first == 0 && m->root_id) {
			mmfs_snap_chunk_put(s, ENTRY_ID(m->root_id));
			m->root_id = 0;
			m->nchunks--;
		}
		return;
	}
	if (first >= capacity(m->height))
		return;
	punch_node(s, m, m->root, m->height, 0, first, last);
	shrink(m);
}

static void shrink_path(struct mmfs_snap_map *m, uint64_t idx)
{
	if (idx < capacity(m->height))
		prune(m, m->root, m->height, idx);
	shrink(m);
}

void mmfs_snap_map_fini(struct mmfs_snap *s, struct mmfs_snap_map *m)
{
	/* The map goes with its inode: nothing for the journal to say. */
	map_punch(s, m, 0, UINT64_MAX);
	MMFS_ASSERT(m->nchunks == 0 && m->nbytes == 0);
}

/* find_data -- (internal) first present index >= @idx below @n */
static int find_data(const struct map_node *n, unsigned level, uint64_t base,
		     uint64_t idx, uint64_t *out)
{
	uint64_t sp = span(level);
	uint64_t i = start_slot(idx, base, sp);

	for (; i < FAN; i++) {
		uint64_t lo = base + i * sp;

		if (level == 1) {
			if (ENTRY_DATA(n->id[i])) {
				*out = lo;
				return 0;
			}
		} else if (n->child[i] &&
			   find_data(n->child[i], level - 1, lo,
				     idx > lo ? idx : lo, out) == 0) {
			return 0;
		}
	}
	return -ENXIO;
}

int mmfs_snap_map_next_data(const struct mmfs_snap_map *m, uint64_t idx,
			    uint64_t *out)
{
	if (m->height == 0) {
		if (idx == 0 && ENTRY_DATA(m->root_id)) {
			*out = 0;
			return 0;
		}
		return -ENXIO;
	}
	if (idx >= capacity(m->height))
		return -ENXIO;
	return find_data(m->root, m->height, 0, idx, out);
}

/* find_hole -- (internal) first absent index >= @idx below @n */
static int find_hole(const struct map_node *n, unsigned level, uint64_t base,
		     uint64_t idx, uint64_t *out)
{
	uint64_t sp = span(level);
	uint64_t i = start_slot(idx, base, sp);

	for (; i < FAN; i++) {
		uint64_t lo = base + i * sp;
		uint64_t from = idx > lo ? idx : lo;

		if (level == 1) {
			if (!ENTRY_DATA(n->id[i])) {
				*out = lo;
				return 0;
			}
		} else if (!n->child[i]) {
			*out = from;
			return 0;
		} else if (find_hole(n->child[i], level - 1, lo, from, out) ==
			   0) {
			return 0;
		}
	}
	return -ENXIO;
}

uint64_t mmfs_snap_map_next_hole(const struct mmfs_snap_map *m, uint64_t idx)
{
	uint64_t out;

	if (idx >= capacity(m->height))
		return idx;
	if (m->height == 0)
		return ENTRY_DATA(m->root_id) ? 1 : idx;
	if (find_hole(m->root, m->height, 0, idx, &out) == 0)
		return out;
	return capacity(m->height);
}

int mmfs_snap_map_set(struct mmfs_snap *s, struct mmfs_snap_map *m,
		      uint64_t idx, uint32_t entry)
{
	uint32_t id = ENTRY_ID(entry);
	struct map_node *leaf;
	uint32_t *slot;
	uint32_t old;
	int rc;

	if (id == 0 || id > mmfs_tier_max_id(s->tier))
		return -EUCLEAN;
	if (idx >= capacity(MAX_HEIGHT))
		return -EFBIG;
	rc = slot_for(m, idx, &slot, &leaf);
	if (rc < 0) {
		if (m->height)
			shrink_path(m, idx);
		return rc;
	}
	if (mmfs_snap_chunk_refs(s, id) == 0) {
		rc = mmfs_tier_chunk_claim(s->tier, id);
		if (rc < 0) {
			if (!*slot)
				shrink_path(m, idx);
			return rc;
		}
	}
	mmfs_snap_chunk_get(s, id);
	old = *slot;
	*slot = entry;
	if (old) {
		mmfs_snap_chunk_put(s, ENTRY_ID(old));
	} else {
		m->nchunks++;
		if (leaf)
			leaf->used++;
	}
	return 0;
}

/* walk -- (internal) call @fn for every entry below @n, in index order */
static int walk(const struct map_node *n, unsigned level, uint64_t base,
		int (*fn)(void *, uint64_t, uint32_t), void *arg)
{
	uint64_t sp = span(level);
	unsigned i;
	int rc;

	for (i = 0; i < FAN; i++) {
		if (level == 1) {
			if (n->id[i] && (rc = fn(arg, base + i, n->id[i])) < 0)
				return rc;
		} else if (n->child[i]) {
			rc = walk(n->child[i], level - 1, base + i * sp, fn,
				  arg);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int mmfs_snap_map_walk(const struct mmfs_snap_map *m,
		       int (*fn)(void *arg, uint64_t idx, uint32_t entry),
		       void *arg)
{
	if (m->height == 0)
		return m->root_id ? fn(arg, 0, m->root_id) : 0;
	return walk(m->root, m->height, 0, fn, arg);
}

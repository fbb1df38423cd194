/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map.c -- per-file chunk maps (64-way radix trees of chunk ids) whose nodes
 * several maps may share, and the chunk refcount table.
 *
 * A map of height h covers indexes [0, 64^h); height 0 keeps the single
 * chunk of a small file inline in the map, so a one-chunk file costs no
 * node at all. Leaves hold 32-bit ids (4 bytes a chunk); empty nodes are
 * freed as holes are punched, so a sparse file costs what it holds.
 *
 * Sharing. A node counts the map roots and parent slots that point at it;
 * a chunk counts the leaf slots (and inline roots) that hold it. A clone
 * takes one reference on a subtree, so cloning a whole file is one root
 * reference. Whoever changes a map first makes the path it changes its
 * own: every node on it that is shared, or lies below a shared node, is
 * copied (the copy takes a reference on each child), top down, so the
 * sharers never see the change. A chunk then shared by two leaves is
 * copied by write_prep before it is written, as before.
 *
 * Failure leaves a map as it was: a mutator counts the nodes it will need
 * (path_need), allocates them all (a reservation) and only then changes
 * anything. Levels added on top by grow() are removed again by shrink().
 *
 * Concurrency: a map's owner lock serializes its mutators; maps that share
 * nodes have different owners. A node is changed in place only while its
 * refcount is 1 on every node of its path, that is, while no other map can
 * reach it; refcounts are atomics, and a copy is taken before the
 * reference on the original is dropped (release), so a sharer that then
 * sees refcount 1 (acquire) sees the original whole.
 *
 * Refcounts of chunks live in one id-indexed array of 32-bit atomics
 * reserved with MAP_NORESERVE: 4 bytes per chunk, touched only for ids in
 * use.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "snapshot/snap.h"
#include "utils/err.h"

#include "snapshot/map_i.h"

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

void mmfs_snap_stat(const struct mmfs_snap *s, struct mmfs_snap_stat *st)
{
	st->leaves = atomic_load_explicit(&s->leaves, memory_order_relaxed);
	st->inners = atomic_load_explicit(&s->inners, memory_order_relaxed);
	st->slots = atomic_load_explicit(&s->slots, memory_order_relaxed);
	st->node_bytes = st->leaves * LEAF_BYTES + st->inners * INNER_BYTES;
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
	return atomic_load_explicit(&s->refs[id], memory_order_acquire);
}

void mmfs_snap_map_init(struct mmfs_snap_map *m)
{
	memset(m, 0, sizeof(*m));
}

/* --- nodes -------------------------------------------------------------- */

static inline void slot_fill(struct mmfs_snap *s, struct mmfs_snap_node *n)
{
	n->used++;
	atomic_fetch_add_explicit(&s->slots, 1, memory_order_relaxed);
}

static inline void slot_clear(struct mmfs_snap *s, struct mmfs_snap_node *n)
{
	n->used--;
	atomic_fetch_sub_explicit(&s->slots, 1, memory_order_relaxed);
}

struct mmfs_snap_node *snap_node_alloc(struct mmfs_snap *s, unsigned level)
{
	struct mmfs_snap_node *n;

	n = calloc(1, level > 1 ? INNER_BYTES : LEAF_BYTES);
	if (!n)
		return NULL;
	atomic_init(&n->refs, 1);
	n->level = (uint8_t)level;
	atomic_fetch_add_explicit(level > 1 ? &s->inners : &s->leaves, 1,
				  memory_order_relaxed);
	return n;
}

void snap_node_free(struct mmfs_snap *s, struct mmfs_snap_node *n)
{
	atomic_fetch_sub_explicit(n->level == 1 ? &s->leaves : &s->inners, 1,
				  memory_order_relaxed);
	atomic_fetch_sub_explicit(&s->slots, n->used, memory_order_relaxed);
	free(n);
}

/* node_put -- (internal) drop a reference; the last frees the subtree */
void snap_node_put(struct mmfs_snap *s, struct mmfs_snap_node *n)
{
	unsigned i;

	if (atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (i = 0; i < FAN && n->used; i++) {
		if (n->level == 1 && n->id[i])
			mmfs_snap_chunk_put(s, ENTRY_ID(n->id[i]));
		else if (n->level > 1 && n->child[i])
			snap_node_put(s, n->child[i]);
	}
	snap_node_free(s, n);
}

/* count -- (internal) entries below @n */
uint64_t snap_node_count(const struct mmfs_snap_node *n)
{
	uint64_t c = 0;
	unsigned i;

	if (n->level == 1)
		return n->used;
	for (i = 0; i < FAN; i++)
		if (n->child[i])
			c += snap_node_count(n->child[i]);
	return c;
}

/*
 * Reservations: the nodes a mutation will take, allocated before it
 * changes anything. RESV_MAX covers two full paths (punch's boundaries).
 */
#define RESV_MAX (2 * MAX_HEIGHT)

struct resv {
	struct mmfs_snap_node *n[2][RESV_MAX]; /* [0] leaves, [1] inner nodes */
	unsigned have[2];
	unsigned need[2];
};

static int resv_fill(struct resv *r)
{
	unsigned k, i;

	for (k = 0; k < 2; k++) {
		MMFS_ASSERT(r->need[k] <= RESV_MAX);
		for (i = r->have[k]; i < r->need[k]; i++) {
			r->n[k][i] = calloc(1, k ? INNER_BYTES : LEAF_BYTES);
			if (!r->n[k][i])
				return -ENOMEM;
			r->have[k] = i + 1;
		}
	}
	return 0;
}

static void resv_release(struct resv *r)
{
	unsigned k;

	for (k = 0; k < 2; k++)
		while (r->have[k])
			free(r->n[k][--r->have[k]]);
}

static struct mmfs_snap_node *resv_take(struct mmfs_snap *s, struct resv *r,
			      unsigned level)
{
	unsigned k = level > 1;
	struct mmfs_snap_node *n;

	MMFS_ASSERT(r->have[k] > 0);
	n = r->n[k][--r->have[k]];
	atomic_init(&n->refs, 1);
	n->level = (uint8_t)level;
	atomic_fetch_add_explicit(k ? &s->inners : &s->leaves, 1,
				  memory_order_relaxed);
	return n;
}

/* node_copy -- (internal) a private copy of shared @n, sharing its children */
static struct mmfs_snap_node *node_copy(struct mmfs_snap *s, struct resv *r,
			      const struct mmfs_snap_node *n)
{
	struct mmfs_snap_node *c = resv_take(s, r, n->level);
	unsigned i;

	c->used = n->used;
	atomic_fetch_add_explicit(&s->slots, n->used, memory_order_relaxed);
	if (n->level == 1) {
		memcpy(c->id, n->id, sizeof(c->id));
		for (i = 0; i < FAN; i++)
			if (c->id[i])
				mmfs_snap_chunk_get(s, ENTRY_ID(c->id[i]));
	} else {
		memcpy(c->child, n->child, sizeof(c->child));
		for (i = 0; i < FAN; i++)
			if (c->child[i])
				snap_node_get(c->child[i]);
	}
	return c;
}

/* --- paths ---------------------------------------------------------------- */

/*
 * path_need -- (internal) add to r->need what own_path(@idx, @stop,
 * @create) will take: a copy of every node on the path that is shared or
 * below a shared one, and with @create a new node for each missing level.
 */
static void path_need(const struct mmfs_snap_map *m, uint64_t idx,
		      unsigned stop, bool create, struct resv *r)
{
	const struct mmfs_snap_node *n = m->root;
	bool shared = false;
	unsigned level;

	if (m->height == 0 || idx >= capacity(m->height))
		return;
	for (level = m->height; level >= stop; level--) {
		if (!n) {
			if (!create)
				return;
			for (; level >= stop; level--)
				r->need[level > 1]++;
			return;
		}
		if (shared || node_refs(n) > 1) {
			shared = true;
			r->need[level > 1]++;
		}
		if (level == stop)
			return;
		n = n->child[slot_of(idx, level)];
	}
}

/*
 * own_path -- (internal) the node at level @stop on the path to @idx,
 * made private to @m from the root down (see path_need); with @create,
 * missing nodes are made. NULL if the path ends early (no @create).
 */
static struct mmfs_snap_node *own_path(struct mmfs_snap *s,
				       struct mmfs_snap_map *m, struct resv *r,
				       uint64_t idx, unsigned stop,
				       bool create)
{
	struct mmfs_snap_node **pp = &m->root;
	struct mmfs_snap_node *parent = NULL;
	unsigned level;

	MMFS_ASSERT(m->height >= stop && idx < capacity(m->height));
	for (level = m->height;; level--) {
		struct mmfs_snap_node *n = *pp;

		if (!n) {
			if (!create)
				return NULL;
			n = resv_take(s, r, level);
			*pp = n;
			if (parent)
				slot_fill(s, parent);
		} else if (node_refs(n) > 1) {
			struct mmfs_snap_node *c = node_copy(s, r, n);

			*pp = c;
			snap_node_put(s, n);
			n = c;
		}
		if (level == stop)
			return n;
		parent = n;
		pp = &n->child[slot_of(idx, level)];
	}
}

/* path_shared -- (internal) is any node on the path to @idx shared? */
static bool path_shared(const struct mmfs_snap_map *m, uint64_t idx)
{
	const struct mmfs_snap_node *n = m->root;
	unsigned level;

	for (level = m->height; level > 0 && n; level--) {
		if (node_refs(n) > 1)
			return true;
		if (level > 1)
			n = n->child[slot_of(idx, level)];
	}
	return false;
}

/* entry_at -- (internal) the raw entry (with flags) at @idx, 0 for a hole */
static uint32_t entry_at(const struct mmfs_snap_map *m, uint64_t idx)
{
	const struct mmfs_snap_node *n = m->root;
	unsigned level;

	if (m->height == 0)
		return idx == 0 ? m->root_id : 0;
	if (idx >= capacity(m->height))
		return 0;
	for (level = m->height; level > 1; level--) {
		n = n->child[slot_of(idx, level)];
		if (!n)
			return 0;
	}
	return n->id[idx & (FAN - 1)];
}

uint32_t mmfs_snap_map_lookup(const struct mmfs_snap_map *m, uint64_t idx)
{
	return ENTRY_ID(entry_at(m, idx));
}

/*
 * grow -- (internal) add levels on top until @idx fits. The old root moves
 * into slot 0 of the new top node with the reference the map held, so a
 * shared root is not copied. On failure the map may keep extra levels:
 * the caller's shrink() removes them.
 */
static int grow(struct mmfs_snap *s, struct mmfs_snap_map *m, uint64_t idx)
{
	struct resv r = { 0 };

	if (idx >= capacity(MAX_HEIGHT))
		return -EFBIG;
	if (idx < capacity(m->height))
		return 0;
	if (m->height == 0 && m->root_id == 0) {
		/* Empty: no chain down to index 0, only the level @idx needs */
		unsigned h = 1;

		while (idx >= capacity(h))
			h++;
		r.need[h > 1] = 1;
		if (resv_fill(&r) < 0)
			return -ENOMEM;
		m->root = resv_take(s, &r, h);
		m->height = (uint8_t)h;
		return 0;
	}
	while (idx >= capacity(m->height)) {
		struct mmfs_snap_node *n;

		r.need[m->height > 0] = 1;
		if (resv_fill(&r) < 0)
			return -ENOMEM;
		n = resv_take(s, &r, m->height + 1u);
		r.need[0] = r.need[1] = 0;
		if (m->height == 0) {
			n->id[0] = m->root_id;
			if (m->root_id)
				slot_fill(s, n);
			m->root_id = 0;
		} else {
			n->child[0] = m->root;
			slot_fill(s, n);
		}
		m->root = n;
		m->height++;
	}
	return 0;
}

/*
 * shrink -- (internal) drop levels that only hold slot 0, and free an empty
 * root, so that a map always costs what it holds (also after a failure).
 * The root may be shared: its child is referenced before the root is put.
 */
static void shrink(struct mmfs_snap *s, struct mmfs_snap_map *m)
{
	struct mmfs_snap_node *n = m->root;

	while (m->height > 1 && n->used <= 1 && (n->used == 0 || n->child[0])) {
		struct mmfs_snap_node *c = n->child[0];

		if (c)
			snap_node_get(c);
		snap_node_put(s, n);
		m->height--;
		m->root = n = c;
		if (!n) {
			m->height = 0;
			return;
		}
	}
	if (m->height == 1 && n->used <= 1 && (n->used == 0 || n->id[0])) {
		m->root_id = n->id[0];
		if (m->root_id)
			mmfs_snap_chunk_get(s, ENTRY_ID(m->root_id));
		snap_node_put(s, n);
		m->root = NULL;
		m->height = 0;
	}
}

/*
 * own_slot -- (internal) the private leaf slot of @idx (creating the path
 * with @create), after grow. Sets *leaf (NULL for the inline root). The
 * reservation is filled here; -ENOMEM leaves the map as it was.
 */
static int own_slot(struct mmfs_snap *s, struct mmfs_snap_map *m,
		    uint64_t idx, struct resv *r, uint32_t **slot,
		    struct mmfs_snap_node **leaf)
{
	int rc;

	rc = grow(s, m, idx);
	if (rc == 0 && m->height) {
		path_need(m, idx, 1, true, r);
		rc = resv_fill(r);
	}
	if (rc < 0) {
		resv_release(r);
		shrink(s, m);
		return rc;
	}
	if (m->height == 0) {
		*slot = &m->root_id;
		*leaf = NULL;
		return 0;
	}
	*leaf = own_path(s, m, r, idx, 1, true);
	*slot = &(*leaf)->id[idx & (FAN - 1)];
	return 0;
}

/* alloc_at -- (internal) a new chunk at hole @idx, entry flags @flags */
static int alloc_at(struct mmfs_snap *s, struct mmfs_snap_map *m,
		    uint64_t idx, uint32_t flags, uint32_t *id)
{
	struct resv r = { 0 };
	struct mmfs_snap_node *leaf;
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
	rc = own_slot(s, m, idx, &r, &slot, &leaf);
	if (rc < 0) {
		mmfs_tier_chunk_free(s->tier, nid);
		return rc;
	}
	MMFS_ASSERT(*slot == 0);
	resv_release(&r);
	mmfs_snap_chunk_get(s, nid);
	m->nchunks++;
	if (leaf)
		slot_fill(s, leaf);
	*slot = nid | flags;
	*id = nid;
	journal_set(s, m, idx, nid | flags);
	return 0;
}

/* leaf_slot -- (internal) the slot of present @idx, in place (no COW) */
static uint32_t *leaf_slot(struct mmfs_snap_map *m, uint64_t idx)
{
	struct mmfs_snap_node *n = m->root;
	unsigned level;

	if (m->height == 0)
		return &m->root_id;
	for (level = m->height; level > 1; level--)
		n = n->child[slot_of(idx, level)];
	return &n->id[idx & (FAN - 1)];
}

int mmfs_snap_map_write_prep(struct mmfs_snap *s, struct mmfs_snap_map *m,
			     uint64_t idx, uint32_t *id)
{
	uint32_t cur = entry_at(m, idx);
	struct resv r = { 0 };
	bool shared_path, copy;
	struct mmfs_snap_node *leaf;
	uint32_t *slot;
	uint32_t nid = 0;
	int rc;

	if (idx >= capacity(MAX_HEIGHT))
		return -EFBIG;
	if (!cur)
		return alloc_at(s, m, idx, 0, id);
	shared_path = path_shared(m, idx);
	copy = shared_path || mmfs_snap_chunk_refs(s, ENTRY_ID(cur)) > 1;
	if (!copy) {
		/* Ours alone, path and chunk: the common case, no allocation */
		slot = leaf_slot(m, idx);
		if (*slot != ENTRY_ID(cur)) { /* unwritten until now */
			*slot = ENTRY_ID(cur);
			journal_set(s, m, idx, *slot);
		}
		*id = ENTRY_ID(cur);
		return 0;
	}
	/*
	 * Shared with another map (a clone or snapshot), through the chunk or
	 * a node above it: writing in place would leak this write into every
	 * sharer. Take the nodes and the chunk first, then copy.
	 */
	if (shared_path) {
		path_need(m, idx, 1, false, &r);
		rc = resv_fill(&r);
		if (rc < 0)
			goto out;
	}
	rc = mmfs_tier_chunk_alloc(s->tier, &nid);
	if (rc < 0)
		goto out;
	if (shared_path) {
		leaf = own_path(s, m, &r, idx, 1, false);
		slot = &leaf->id[idx & (FAN - 1)];
	} else {
		slot = leaf_slot(m, idx);
	}
	mmfs_snap_chunk_get(s, nid);
	memcpy(mmfs_tier_chunk_addr(s->tier, nid),
	       mmfs_tier_chunk_addr(s->tier, ENTRY_ID(cur)),
	       mmfs_tier_chunk_size(s->tier));
	mmfs_tier_chunk_inherit(s->tier, nid, ENTRY_ID(cur));
	mmfs_snap_chunk_put(s, ENTRY_ID(*slot));
	*slot = nid;
	*id = nid;
	journal_set(s, m, idx, nid);
out:
	resv_release(&r);
	return rc;
}

int mmfs_snap_map_prealloc(struct mmfs_snap *s, struct mmfs_snap_map *m,
			   uint64_t idx)
{
	uint32_t id;

	if (idx >= capacity(MAX_HEIGHT))
		return -EFBIG;
	if (entry_at(m, idx))
		return 0;
	return alloc_at(s, m, idx, UNWRITTEN, &id);
}

/* --- punch ---------------------------------------------------------------- */

/* start_slot -- (internal) the first slot of a node at or after @idx */
static inline uint64_t start_slot(uint64_t idx, uint64_t base, uint64_t sp)
{
	return idx > base ? (idx - base) / sp : 0;
}

/*
 * punch_node -- (internal) clear [first, last] below @n, covering @base..
 * Subtrees inside the range go whole (one reference each, shared or not);
 * a node only partly inside lies on the path of @first or @last, which
 * map_punch made private, so it is changed in place.
 */
static void punch_node(struct mmfs_snap *s, struct mmfs_snap_map *m,
		       struct mmfs_snap_node *n, uint64_t base, uint64_t first,
		       uint64_t last)
{
	uint64_t sp = span(n->level);
	uint64_t i = start_slot(first, base, sp);

	MMFS_DEBUG_ASSERT(node_refs(n) == 1);
	for (; i < FAN && n->used; i++) {
		uint64_t lo = base + i * sp, hi = lo + sp - 1;
		struct mmfs_snap_node *c;

		if (lo > last)
			break;
		if (n->level == 1) {
			if (n->id[i]) {
				mmfs_snap_chunk_put(s, ENTRY_ID(n->id[i]));
				n->id[i] = 0;
				slot_clear(s, n);
				m->nchunks--;
			}
			continue;
		}
		c = n->child[i];
		if (!c)
			continue;
		if (first <= lo && hi <= last) {
			m->nchunks -= snap_node_count(c);
		} else {
			punch_node(s, m, c, lo, first, last);
			if (c->used)
				continue;
		}
		snap_node_put(s, c);
		n->child[i] = NULL;
		slot_clear(s, n);
	}
}

/* map_punch -- (internal) punch without telling the journal */
static int map_punch(struct mmfs_snap *s, struct mmfs_snap_map *m,
		     uint64_t first, uint64_t last)
{
	struct resv r = { 0 };
	int rc;

	if (m->height == 0) {
		if (first == 0 && m->root_id) {
			mmfs_snap_chunk_put(s, ENTRY_ID(m->root_id));
			m->root_id = 0;
			m->nchunks--;
		}
		return 0;
	}
	if (first >= capacity(m->height))
		return 0;
	last = MMFS_MIN(last, capacity(m->height) - 1);
	if (first == 0 && last == capacity(m->height) - 1) {
		/* Everything: one reference, whoever else holds the tree */
		snap_node_put(s, m->root);
		m->root = NULL;
		m->height = 0;
		m->nchunks = 0;
		return 0;
	}
	path_need(m, first, 1, false, &r);
	path_need(m, last, 1, false, &r);
	rc = resv_fill(&r);
	if (rc < 0)
		goto out;
	own_path(s, m, &r, first, 1, false);
	own_path(s, m, &r, last, 1, false);
	punch_node(s, m, m->root, 0, first, last);
	shrink(s, m);
out:
	resv_release(&r);
	return rc;
}

int mmfs_snap_map_punch(struct mmfs_snap *s, struct mmfs_snap_map *m,
			uint64_t first, uint64_t last)
{
	int rc;

	if (first > last || m->nchunks == 0)
		return 0;
	rc = map_punch(s, m, first, last);
	if (rc == 0 && s->journal.punch)
		s->journal.punch(s->journal.arg, m, first, last);
	return rc;
}

void mmfs_snap_map_fini(struct mmfs_snap *s, struct mmfs_snap_map *m)
{
	/* The map goes with its inode: nothing for the journal to say. */
	int rc = map_punch(s, m, 0, UINT64_MAX);

	MMFS_ASSERT(rc == 0 && m->nchunks == 0 && !m->root && !m->root_id);
}

/* --- seeking -------------------------------------------------------------- */

/* find -- (internal) first index >= @idx below @n whose entry passes @want */
static int find(const struct mmfs_snap_node *n, uint64_t base, uint64_t idx,
		bool data_only, uint64_t *out)
{
	uint64_t sp = span(n->level);
	uint64_t i = start_slot(idx, base, sp);

	for (; i < FAN; i++) {
		uint64_t lo = base + i * sp;

		if (n->level == 1) {
			uint32_t e = n->id[i];

			if (data_only ? ENTRY_DATA(e) : e != 0) {
				*out = lo;
				return 0;
			}
		} else if (n->child[i] &&
			   find(n->child[i], lo, idx > lo ? idx : lo,
				data_only, out) == 0) {
			return 0;
		}
	}
	return -ENXIO;
}

static int next_entry(const struct mmfs_snap_map *m, uint64_t idx,
		      bool data_only, uint64_t *out)
{
	if (m->height == 0) {
		uint32_t e = m->root_id;

		if (idx == 0 && (data_only ? ENTRY_DATA(e) : e != 0)) {
			*out = 0;
			return 0;
		}
		return -ENXIO;
	}
	if (idx >= capacity(m->height))
		return -ENXIO;
	return find(m->root, 0, idx, data_only, out);
}

int mmfs_snap_map_next_data(const struct mmfs_snap_map *m, uint64_t idx,
			    uint64_t *out)
{
	return next_entry(m, idx, true, out);
}

/* find_hole -- (internal) first absent index >= @idx below @n */
static int find_hole(const struct mmfs_snap_node *n, uint64_t base,
		     uint64_t idx, uint64_t *out)
{
	uint64_t sp = span(n->level);
	uint64_t i = start_slot(idx, base, sp);

	for (; i < FAN; i++) {
		uint64_t lo = base + i * sp;
		uint64_t from = idx > lo ? idx : lo;

		if (n->level == 1) {
			if (!ENTRY_DATA(n->id[i])) {
				*out = lo;
				return 0;
			}
		} else if (!n->child[i]) {
			*out = from;
			return 0;
		} else if (find_hole(n->child[i], lo, from, out) == 0) {
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
	if (find_hole(m->root, 0, idx, &out) == 0)
		return out;
	return capacity(m->height);
}

/* --- replay and sharing ------------------------------------------------ */

/*
 * store_entry -- (internal) private @slot (in @leaf, NULL inline) becomes
 * @entry, whose reference the caller took; the old one's is dropped.
 */
static void store_entry(struct mmfs_snap *s, struct mmfs_snap_map *m,
			uint32_t *slot, struct mmfs_snap_node *leaf,
			uint32_t entry)
{
	uint32_t old = *slot;

	*slot = entry;
	if (old) {
		mmfs_snap_chunk_put(s, ENTRY_ID(old));
	} else {
		m->nchunks++;
		if (leaf)
			slot_fill(s, leaf);
	}
}

int mmfs_snap_map_set(struct mmfs_snap *s, struct mmfs_snap_map *m,
		      uint64_t idx, uint32_t entry)
{
	uint32_t id = ENTRY_ID(entry);
	struct resv r = { 0 };
	struct mmfs_snap_node *leaf;
	uint32_t *slot;
	int rc;

	if (id == 0 || id > mmfs_tier_max_id(s->tier))
		return -EUCLEAN;
	if (idx >= capacity(MAX_HEIGHT))
		return -EFBIG;
	if (mmfs_snap_chunk_refs(s, id) == 0) {
		rc = mmfs_tier_chunk_claim(s->tier, id);
		if (rc < 0)
			return rc;
	}
	/* Claimed and referenced from here on: a failure below frees it. */
	mmfs_snap_chunk_get(s, id);
	rc = own_slot(s, m, idx, &r, &slot, &leaf);
	if (rc < 0) {
		mmfs_snap_chunk_put(s, id);
		return rc;
	}
	resv_release(&r);
	store_entry(s, m, slot, leaf, entry);
	return 0;
}

/* subtree -- (internal) the node at @level covering @idx, or NULL */
static struct mmfs_snap_node *subtree(const struct mmfs_snap_map *m,
				      uint64_t idx, unsigned level)
{
	struct mmfs_snap_node *n = m->root;
	unsigned l;

	if (m->height < level || idx >= capacity(m->height))
		return NULL;
	for (l = m->height; l > level && n; l--)
		n = n->child[slot_of(idx, l)];
	return n;
}

/*
 * share_node -- (internal) dst's subtree at level @level covering @didx
 * becomes @n, on which the caller took a reference for it.
 */
static int share_node(struct mmfs_snap *s, struct mmfs_snap_map *dst,
		      uint64_t didx, struct mmfs_snap_node *n)
{
	unsigned level = n->level;
	struct resv r = { 0 };
	struct mmfs_snap_node *parent, *old;
	unsigned i;
	int rc;

	if (dst->nchunks == 0 && didx == 0 && dst->height == 0) {
		/* An empty map takes the subtree as its root: O(1) */
		dst->root = n;
		dst->height = (uint8_t)level;
		dst->nchunks = snap_node_count(n);
		return 0;
	}
	/* A slot of a level @level + 1 node: capacity beyond @didx's span */
	rc = grow(s, dst, didx | capacity(level));
	if (rc == 0) {
		path_need(dst, didx, level + 1, true, &r);
		rc = resv_fill(&r);
	}
	if (rc < 0) {
		resv_release(&r);
		shrink(s, dst);
		return rc;
	}
	parent = own_path(s, dst, &r, didx, level + 1, true);
	resv_release(&r);
	i = slot_of(didx, level + 1);
	old = parent->child[i];
	if (old) {
		dst->nchunks -= snap_node_count(old);
		snap_node_put(s, old);
	} else {
		slot_fill(s, parent);
	}
	parent->child[i] = n;
	dst->nchunks += snap_node_count(n);
	return 0;
}

/* share_entry -- (internal) dst's entry at @didx becomes @entry */
static int share_entry(struct mmfs_snap *s, struct mmfs_snap_map *dst,
		       uint64_t didx, uint32_t entry)
{
	struct resv r = { 0 };
	struct mmfs_snap_node *leaf;
	uint32_t *slot;
	int rc;

	rc = own_slot(s, dst, didx, &r, &slot, &leaf);
	if (rc < 0)
		return rc;
	resv_release(&r);
	mmfs_snap_chunk_get(s, ENTRY_ID(entry));
	store_entry(s, dst, slot, leaf, entry);
	return 0;
}

/* share_level -- (internal) the highest level whose subtree at @sidx can
 * go to @didx whole: both aligned to it, and no more than @left indexes */
static unsigned share_level(const struct mmfs_snap_map *src, uint64_t sidx,
			    uint64_t didx, uint64_t left)
{
	unsigned h;

	for (h = src->height; h >= 1; h--) {
		uint64_t c = capacity(h);

		if (sidx % c == 0 && didx % c == 0 && left >= c)
			return h;
	}
	return 0;
}

static int map_share(struct mmfs_snap *s, struct mmfs_snap_map *dst,
		     uint64_t dfirst, const struct mmfs_snap_map *src,
		     uint64_t sfirst, uint64_t n, uint64_t *done)
{
	uint64_t i = 0, j;
	int rc = 0;

	while (i < n && rc == 0) {
		uint64_t sidx = sfirst + i, didx = dfirst + i, step;
		unsigned h = share_level(src, sidx, didx, n - i);

		if (next_entry(src, sidx, false, &j) < 0 || j - sfirst >= n)
			j = sfirst + n;
		if (j == sfirst + n) {
			/* Nothing more in src: the rest of dst's range goes */
			rc = map_punch(s, dst, didx, dfirst + n - 1);
			step = n - i;
		} else if (h) {
			/* Aligned: a whole subtree by one reference */
			struct mmfs_snap_node *sub = subtree(src, sidx, h);

			step = capacity(h);
			if (!sub) {
				rc = map_punch(s, dst, didx, didx + step - 1);
			} else {
				snap_node_get(sub);
				rc = share_node(s, dst, didx, sub);
				if (rc < 0)
					snap_node_put(s, sub);
			}
		} else if (j == sidx) {
			rc = share_entry(s, dst, didx, entry_at(src, sidx));
			step = 1;
		} else {
			/*
			 * A hole in src is a hole in dst, up to src's next
			 * entry or, where the two could line up, the next
			 * leaf boundary (the subtrees beyond may go whole).
			 */
			if ((sidx - didx) % FAN == 0)
				j = MMFS_MIN(j, (sidx | (FAN - 1)) + 1);
			step = j - sidx;
			rc = map_punch(s, dst, didx, didx + step - 1);
		}
		if (rc == 0)
			i += step;
	}
	*done = i;
	return rc;
}

int mmfs_snap_map_share(struct mmfs_snap *s, struct mmfs_snap_map *dst,
			uint64_t dfirst, const struct mmfs_snap_map *src,
			uint64_t sfirst, uint64_t n, uint64_t *done)
{
	int rc;

	*done = 0;
	if (n == 0)
		return 0;
	if (n > MMFS_SNAP_ALL || dfirst > MMFS_SNAP_ALL - n ||
	    sfirst > MMFS_SNAP_ALL - n)
		return -EFBIG;
	if (dst == src && dfirst < sfirst + n && sfirst < dfirst + n)
		return -EINVAL;
	rc = map_share(s, dst, dfirst, src, sfirst, n, done);
	if (*done && s->journal.share)
		s->journal.share(s->journal.arg, dst, dfirst, src, sfirst,
				 *done);
	return rc;
}

/* --- walking ------------------------------------------------------------ */

/* walk -- (internal) call @fn for every entry below @n, in index order */
static int walk(const struct mmfs_snap_node *n, uint64_t base,
		int (*fn)(void *, uint64_t, uint32_t), void *arg)
{
	uint64_t sp = span(n->level);
	unsigned i;
	int rc;

	for (i = 0; i < FAN; i++) {
		if (n->level == 1) {
			if (n->id[i] && (rc = fn(arg, base + i, n->id[i])) < 0)
				return rc;
		} else if (n->child[i]) {
			rc = walk(n->child[i], base + i * sp, fn, arg);
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
	return walk(m->root, 0, fn, arg);
}


/* SPDX-License-Identifier: Apache-2.0 */
/*
 * save.c -- maps in and out of checkpoints, and fsck's reference audit.
 *
 * A checkpoint names each distinct map node once (a node table), so N
 * snapshots of an unchanged tree add N roots, not N copies of every entry.
 * Walking a map visits its nodes depth first; a node whose refcount is 1
 * has one parent, so it is met once and needs no memory of having been
 * saved. Only shared nodes go in a hash set (node -> number). The loader
 * keeps every node it built in an array by number until it is done.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/map_i.h"
#include "utils/err.h"
#include "utils/htab.h"

/* A node met while saving or auditing, and what is known of it. */
struct seen {
	const struct mmfs_snap_node *n;
	uint32_t val; /* saver: its number; audit: references counted */
	bool shared;  /* exclusive bytes: reachable from outside the set */
};

#define SEEN_BLOCK 256
struct seen_block {
	struct seen_block *next;
	unsigned n;
	struct seen item[SEEN_BLOCK];
};

/* A set of nodes by address: items never move (blocks), the htab indexes */
struct seen_set {
	struct mmfs_htab index;
	struct seen_block *blocks;
};

static uint64_t ptr_hash(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;

	/* splitmix64's finalizer: addresses differ in their middle bits */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t seen_rehash(const void *item)
{
	return ptr_hash(((const struct seen *)item)->n);
}

static bool seen_eq(const void *item, const void *key)
{
	return ((const struct seen *)item)->n == key;
}

static int seen_init(struct seen_set *ss)
{
	ss->blocks = NULL;
	return mmfs_htab_init(&ss->index, 64);
}

static void seen_fini(struct seen_set *ss)
{
	while (ss->blocks) {
		struct seen_block *b = ss->blocks;

		ss->blocks = b->next;
		free(b);
	}
	mmfs_htab_fini(&ss->index);
}

static struct seen *seen_find(struct seen_set *ss,
			      const struct mmfs_snap_node *n)
{
	return mmfs_htab_find(&ss->index, ptr_hash(n), seen_eq, n);
}

static struct seen *seen_add(struct seen_set *ss,
			     const struct mmfs_snap_node *n, uint32_t val)
{
	struct seen_block *b = ss->blocks;
	struct seen *it;

	if (!b || b->n == SEEN_BLOCK) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		b->next = ss->blocks;
		ss->blocks = b;
	}
	it = &b->item[b->n];
	it->n = n;
	it->val = val;
	if (mmfs_htab_insert(&ss->index, ptr_hash(n), it, seen_rehash) < 0)
		return NULL;
	b->n++;
	return it;
}

/* --- saving ----------------------------------------------------------------- */

struct mmfs_snap_saver {
	mmfs_snap_emit_fn emit;
	void *arg;
	uint32_t next; /* numbers handed out */
	struct seen_set shared;
};

int mmfs_snap_saver_new(mmfs_snap_emit_fn emit, void *arg,
			struct mmfs_snap_saver **out)
{
	struct mmfs_snap_saver *sv = calloc(1, sizeof(*sv));

	if (!sv)
		return -ENOMEM;
	if (seen_init(&sv->shared) < 0) {
		free(sv);
		return -ENOMEM;
	}
	sv->emit = emit;
	sv->arg = arg;
	*out = sv;
	return 0;
}

void mmfs_snap_saver_free(struct mmfs_snap_saver **svp)
{
	struct mmfs_snap_saver *sv = *svp;

	if (!sv)
		return;
	seen_fini(&sv->shared);
	free(sv);
	*svp = NULL;
}

/* save_node -- (internal) emit @n (after its children); *no its number */
static int save_node(struct mmfs_snap_saver *sv,
		     const struct mmfs_snap_node *n, uint32_t *no)
{
	bool shared = node_refs(n) > 1;
	uint8_t slot[FAN];
	uint32_t val[FAN];
	unsigned i, k = 0;
	int rc;

	if (shared) {
		struct seen *it = seen_find(&sv->shared, n);

		if (it) {
			*no = it->val;
			return 0;
		}
	}
	for (i = 0; i < FAN; i++) {
		if (n->level == 1) {
			if (!n->id[i])
				continue;
			val[k] = n->id[i];
		} else {
			if (!n->child[i])
				continue;
			rc = save_node(sv, n->child[i], &val[k]);
			if (rc < 0)
				return rc;
		}
		slot[k++] = (uint8_t)i;
	}
	*no = ++sv->next;
	rc = sv->emit(sv->arg, *no, n->level, k, slot, val);
	if (rc == 0 && shared && !seen_add(&sv->shared, n, *no))
		rc = -ENOMEM;
	return rc;
}

int mmfs_snap_save_map(struct mmfs_snap_saver *sv,
		       const struct mmfs_snap_map *m, uint8_t *height,
		       uint32_t *root)
{
	*height = m->height;
	if (m->height == 0) {
		*root = m->root_id;
		return 0;
	}
	return save_node(sv, m->root, root);
}

/* --- loading ---------------------------------------------------------------- */

struct mmfs_snap_loader {
	struct mmfs_snap *s;
	struct mmfs_snap_node **node; /* by number - 1 */
	uint32_t n, cap;
};

int mmfs_snap_loader_new(struct mmfs_snap *s, struct mmfs_snap_loader **out)
{
	struct mmfs_snap_loader *ld = calloc(1, sizeof(*ld));

	if (!ld)
		return -ENOMEM;
	ld->s = s;
	*out = ld;
	return 0;
}

void mmfs_snap_loader_free(struct mmfs_snap_loader **ldp)
{
	struct mmfs_snap_loader *ld = *ldp;
	uint32_t i;

	if (!ld)
		return;
	for (i = 0; i < ld->n; i++)
		snap_node_put(ld->s, ld->node[i]);
	free(ld->node);
	free(ld);
	*ldp = NULL;
}

/* load_slot -- (internal) fill slot @i of @nd with @val, or -EUCLEAN */
static int load_slot(struct mmfs_snap_loader *ld, struct mmfs_snap_node *nd,
		     unsigned i, uint32_t val, uint32_t no)
{
	struct mmfs_snap *s = ld->s;
	uint32_t id = ENTRY_ID(val);
	int rc;

	if (nd->level == 1) {
		if (id == 0 || id > mmfs_tier_max_id(s->tier))
			return -EUCLEAN;
		if (mmfs_snap_chunk_refs(s, id) == 0) {
			rc = mmfs_tier_chunk_claim(s->tier, id);
			if (rc < 0)
				return rc;
		}
		mmfs_snap_chunk_get(s, id);
		nd->id[i] = val;
	} else {
		struct mmfs_snap_node *c;

		if (val == 0 || val >= no)
			return -EUCLEAN;
		c = ld->node[val - 1];
		if (c->level != nd->level - 1)
			return -EUCLEAN;
		snap_node_get(c);
		nd->child[i] = c;
	}
	nd->used++;
	atomic_fetch_add_explicit(&s->slots, 1, memory_order_relaxed);
	return 0;
}

int mmfs_snap_load_node(struct mmfs_snap_loader *ld, uint32_t no,
			unsigned level, unsigned n, const uint8_t *slot,
			const uint32_t *val)
{
	struct mmfs_snap *s = ld->s;
	struct mmfs_snap_node *nd;
	unsigned i;
	int rc = 0;

	if (no != ld->n + 1 || level < 1 || level > MAX_HEIGHT || n < 1 ||
	    n > FAN)
		return -EUCLEAN;
	for (i = 0; i < n; i++)
		if (slot[i] >= FAN || (i && slot[i] <= slot[i - 1]))
			return -EUCLEAN;
	if (ld->n == ld->cap) {
		uint32_t cap = ld->cap ? ld->cap * 2 : 256;
		void *p = realloc(ld->node, (size_t)cap * sizeof(*ld->node));

		if (!p)
			return -ENOMEM;
		ld->node = p;
		ld->cap = cap;
	}
	nd = snap_node_alloc(s, level);
	if (!nd)
		return -ENOMEM;
	for (i = 0; i < n && rc == 0; i++)
		rc = load_slot(ld, nd, slot[i], val[i], no);
	if (rc < 0) {
		snap_node_put(s, nd); /* drops what the filled slots took */
		return rc;
	}
	ld->node[ld->n++] = nd;
	return 0;
}

int mmfs_snap_load_root(struct mmfs_snap_loader *ld, struct mmfs_snap_map *m,
			unsigned height, uint32_t root)
{
	struct mmfs_snap_node *nd;

	if (m->nchunks || m->height || m->root_id || height > MAX_HEIGHT)
		return -EUCLEAN;
	if (height == 0)
		return root ? mmfs_snap_map_set(ld->s, m, 0, root) : 0;
	if (root == 0 || root > ld->n)
		return -EUCLEAN;
	nd = ld->node[root - 1];
	if (nd->level != height)
		return -EUCLEAN;
	snap_node_get(nd);
	m->root = nd;
	m->height = (uint8_t)height;
	m->nchunks = snap_node_count(nd);
	return 0;
}

/* --- fsck ------------------------------------------------------------------- */

struct mmfs_snap_audit {
	struct mmfs_snap *s;
	struct seen_set nodes; /* every distinct node, with references */
	uint32_t *refs;        /* per chunk id: slots holding it */
	uint32_t max_id;
	uint64_t bad_ids;      /* entries naming no chunk */
};

int mmfs_snap_audit_new(struct mmfs_snap *s, struct mmfs_snap_audit **out)
{
	struct mmfs_snap_audit *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->s = s;
	a->max_id = mmfs_tier_max_id(s->tier);
	a->refs = calloc((size_t)a->max_id + 1, sizeof(*a->refs));
	if (!a->refs || seen_init(&a->nodes) < 0) {
		free(a->refs);
		free(a);
		return -ENOMEM;
	}
	*out = a;
	return 0;
}

static void audit_entry(struct mmfs_snap_audit *a, uint32_t e)
{
	uint32_t id = ENTRY_ID(e);

	if (id == 0 || id > a->max_id)
		a->bad_ids++;
	else
		a->refs[id]++;
}

static int audit_node(struct mmfs_snap_audit *a,
		      const struct mmfs_snap_node *n)
{
	struct seen *it = seen_find(&a->nodes, n);
	unsigned i;
	int rc;

	if (it) {
		it->val++;
		return 0; /* its slots were counted when it was first met */
	}
	if (!seen_add(&a->nodes, n, 1))
		return -ENOMEM;
	for (i = 0; i < FAN; i++) {
		if (n->level == 1) {
			if (n->id[i])
				audit_entry(a, n->id[i]);
		} else if (n->child[i]) {
			rc = audit_node(a, n->child[i]);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int mmfs_snap_audit_map(struct mmfs_snap_audit *a,
			const struct mmfs_snap_map *m)
{
	if (m->height == 0) {
		if (m->root_id)
			audit_entry(a, m->root_id);
		return 0;
	}
	return audit_node(a, m->root);
}

int64_t mmfs_snap_audit_end(struct mmfs_snap_audit **ap,
			    void (*report)(void *arg, const char *msg),
			    void *arg)
{
	struct mmfs_snap_audit *a = *ap;
	struct mmfs_snap *s = a->s;
	struct seen_block *b;
	int64_t bad = 0;
	char msg[160];
	uint32_t id;
	unsigned i;

	if (!report) /* only freeing */
		goto out;
	if (a->bad_ids) {
		snprintf(msg, sizeof(msg), "%llu map entries name no chunk",
			 (unsigned long long)a->bad_ids);
		report(arg, msg);
		bad++;
	}
	for (b = a->nodes.blocks; b; b = b->next) {
		for (i = 0; i < b->n; i++) {
			const struct mmfs_snap_node *n = b->item[i].n;

			if (node_refs(n) == b->item[i].val)
				continue;
			snprintf(msg, sizeof(msg),
				 "map node (level %u, %u slots): refcount "
				 "%u, %u references", n->level, n->used,
				 node_refs(n), b->item[i].val);
			report(arg, msg);
			bad++;
		}
	}
	for (id = 1; id <= a->max_id; id++) {
		uint32_t have = mmfs_snap_chunk_refs(s, id);

		if (have != a->refs[id]) {
			snprintf(msg, sizeof(msg),
				 "chunk %u: refcount %u, %u references", id,
				 have, a->refs[id]);
			report(arg, msg);
			bad++;
		}
		if (a->refs[id] && !mmfs_tier_chunk_claimed(s->tier, id)) {
			snprintf(msg, sizeof(msg), "chunk %u is used and free",
				 id);
			report(arg, msg);
			bad++;
		}
	}
out:
	seen_fini(&a->nodes);
	free(a->refs);
	free(a);
	*ap = NULL;
	return bad;
}

/* --- exclusive bytes -------------------------------------------------------- */

/*
 * What deleting a set of maps would free: a node is the set's alone when
 * every reference to it comes from the set (maps or nodes of the set's
 * own) and no node above it is reachable from outside; a chunk when every
 * leaf slot holding it is in such nodes. Found in two passes: count the
 * references the set makes, then go down level by level marking what an
 * outside reference reaches.
 */
struct mmfs_snap_excl {
	struct mmfs_snap *s;
	struct seen_set nodes;
	uint32_t *ids;       /* chunk ids: the set's inline roots, its leaves' slots */
	size_t nids, cap;
};

int mmfs_snap_excl_new(struct mmfs_snap *s, struct mmfs_snap_excl **out)
{
	struct mmfs_snap_excl *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->s = s;
	if (seen_init(&e->nodes) < 0) {
		free(e);
		return -ENOMEM;
	}
	*out = e;
	return 0;
}

static int excl_id(struct mmfs_snap_excl *e, uint32_t entry)
{
	if (e->nids == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 256;
		uint32_t *p = realloc(e->ids, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		e->ids = p;
		e->cap = cap;
	}
	e->ids[e->nids++] = ENTRY_ID(entry);
	return 0;
}

static int excl_node(struct mmfs_snap_excl *e, const struct mmfs_snap_node *n)
{
	struct seen *it = seen_find(&e->nodes, n);
	unsigned i;
	int rc;

	if (it) {
		it->val++;
		return 0;
	}
	if (!seen_add(&e->nodes, n, 1))
		return -ENOMEM;
	if (n->level == 1)
		return 0;
	for (i = 0; i < FAN; i++) {
		if (n->child[i]) {
			rc = excl_node(e, n->child[i]);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int mmfs_snap_excl_map(struct mmfs_snap_excl *e,
		       const struct mmfs_snap_map *m)
{
	if (m->height == 0)
		return m->root_id ? excl_id(e, m->root_id) : 0;
	return excl_node(e, m->root);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int mmfs_snap_excl_end(struct mmfs_snap_excl **ep, uint64_t *chunks)
{
	struct mmfs_snap_excl *e = *ep;
	struct seen_block *b;
	unsigned level, i, k;
	uint64_t n = 0;
	size_t j;
	int rc = 0;

	/* Top down: a node outside hands "reachable from outside" down. */
	for (level = MAX_HEIGHT; level >= 1 && rc == 0; level--) {
		for (b = e->nodes.blocks; b; b = b->next) {
			for (i = 0; i < b->n; i++) {
				struct seen *it = &b->item[i];
				const struct mmfs_snap_node *nd = it->n;

				if (nd->level != level)
					continue;
				if (node_refs(nd) != it->val)
					it->shared = true;
				if (level == 1) {
					if (it->shared)
						continue;
					for (k = 0; k < FAN && rc == 0; k++)
						if (nd->id[k])
							rc = excl_id(e, nd->id[k]);
					continue;
				}
				if (!it->shared)
					continue;
				for (k = 0; k < FAN; k++) {
					struct seen *c;

					if (!nd->child[k])
						continue;
					c = seen_find(&e->nodes, nd->child[k]);
					c->shared = true;
				}
			}
		}
	}
	if (rc == 0) {
		/* A chunk is the set's when all its slots are the set's */
		if (e->nids) /* qsort wants an array, even of none */
			qsort(e->ids, e->nids, sizeof(*e->ids), cmp_u32);
		for (j = 0; j < e->nids;) {
			size_t run = 1;

			while (j + run < e->nids && e->ids[j + run] == e->ids[j])
				run++;
			if (mmfs_snap_chunk_refs(e->s, e->ids[j]) == run)
				n++;
			j += run;
		}
		*chunks = n;
	}
	seen_fini(&e->nodes);
	free(e->ids);
	free(e);
	*ep = NULL;
	return rc;
}

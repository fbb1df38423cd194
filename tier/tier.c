/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tier.c -- chunk ids and their placement.
 *
 * Lock order: fs/LOCKING.md (the tier's locks are its levels 9-11:
 * move_lock, the stripes, then tier->lock innermost).
 *
 * Ids are stable for the life of a chunk, whatever tier holds its bytes, so
 * that maps (snapshot/) never learn placement.
 *
 * Volatile (no pool): ids name slots through chunks[]: DRAM slots, and
 * with a slow tier (slow_nodes=, CXL memory) slots of its arena too.
 * Pool: id - 1 is the chunk's PMEM slot, its durable home, reserved for as
 * long as the chunk lives; a chunk placed in DRAM has its current bytes in
 * a DRAM frame and reaches its home at writeback. New chunks go to DRAM
 * while frames are free, else straight to PMEM (the tiering engine will
 * replace this rule).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "tier/tier_i.h"
#include "utils/held.h"
#include "utils/err.h"
#include "utils/log.h"

_Static_assert(sizeof(struct tier_chunk) == 8,
	       "tier/README.md counts 8 bytes of placement per chunk");

/* heat_bytes -- (internal) the size of the heat counters' reservation */
static size_t heat_bytes(const struct mmfs_tier *t)
{
	return ((size_t)t->max_id + 1) * sizeof(*t->heat);
}

static void *reserve(size_t bytes, int prot)
{
	void *p = mmap(NULL, bytes, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * stripes_init -- (internal) the migration lock's stripes. Readers are
 * preferred (glibc's default kind): a request never waits behind the
 * engine's queued turn, only while it holds the stripe, and the engine
 * takes it with trylock, so it cannot be starved into blocking anyone.
 */
static int stripes_init(struct mmfs_tier *t)
{
	unsigned i;

	t->stripe = aligned_alloc(64, TIER_STRIPES * sizeof(*t->stripe));
	if (!t->stripe)
		return -ENOMEM;
	for (i = 0; i < TIER_STRIPES; i++)
		pthread_rwlock_init(&t->stripe[i].lock, NULL);
	return 0;
}

static void stripes_fini(struct mmfs_tier *t)
{
	unsigned i;

	if (!t->stripe)
		return;
	for (i = 0; i < TIER_STRIPES; i++)
		pthread_rwlock_destroy(&t->stripe[i].lock);
	free(t->stripe);
	t->stripe = NULL;
}

int mmfs_tier_new(const struct mmfs_tier_opts *o, struct mmfs_tier **out)
{
	struct mmfs_tier *t;
	uint32_t cs = o->chunk_size;
	struct mmfs_pool_info pi;
	int rc;

	if (o->pool) {
		mmfs_pool_get_info(o->pool, &pi);
		cs = pi.chunk_size;
	}
	if (cs < MMFS_CHUNK_MIN || cs > MMFS_CHUNK_MAX || (cs & (cs - 1))) {
		mmfs_err("chunk=%u: must be a power of two from 4K to 2M", cs);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->chunk_size = cs;
	t->chunk_shift = (uint32_t)__builtin_ctz(cs);
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->move_lock, NULL);
	rc = stripes_init(t);
	if (rc < 0)
		goto out_free;
	t->epoch_ms = o->epoch_ms ? o->epoch_ms : 1000;
	t->migrate_bps = o->migrate_bps ? o->migrate_bps : (1ull << 30);
	if (o->pool && o->slow_bytes) {
		mmfs_err("a pool is the slow tier: no second one beside it");
		rc = -EINVAL;
		goto out_free;
	}
	rc = tier_dram_init(&t->dram, o->dram_bytes, cs, "dram_nodes",
			    o->dram_nodes);
	if (rc < 0)
		goto out_free;
	t->dram.lock = &t->lock;
	t->slow.lock = &t->lock;
	if (o->slow_bytes) {
		rc = tier_dram_init(&t->slow, o->slow_bytes, cs, "slow_nodes",
				    o->slow_nodes);
		if (rc < 0)
			goto out_fini;
	}
	t->max_id = (uint32_t)MMFS_MIN((uint64_t)t->dram.nslots +
				       t->slow.nslots, MMFS_TIER_ID_MAX);
	t->id_next = 1;
	t->emulate = o->emulate;
	t->tiered = o->pool || t->slow.nslots;
	if (o->pool) {
		t->pool = o->pool;
		t->max_id = pi.nchunks;
		t->recovering = true;
	}
	t->dirty_bytes = (((size_t)t->max_id >> 6) + 1) * sizeof(uint64_t);
	if (o->pool) {
		t->dirty = reserve(t->dirty_bytes, PROT_READ | PROT_WRITE);
		if (!t->dirty) {
			rc = -ENOMEM;
			goto out_fini;
		}
	}
	if (t->tiered) {
		t->touched = reserve(t->dirty_bytes, PROT_READ | PROT_WRITE);
		t->sampled = reserve(t->dirty_bytes, PROT_READ | PROT_WRITE);
		if (!t->touched || !t->sampled) {
			rc = -ENOMEM;
			goto out_fini;
		}
	}
	t->chunks_bytes = ((size_t)t->max_id + 1) * sizeof(*t->chunks);
	t->chunks = reserve(t->chunks_bytes, PROT_READ | PROT_WRITE);
	t->heat = reserve(heat_bytes(t), PROT_READ | PROT_WRITE);
	t->id_free = reserve(((size_t)t->max_id + 1) * sizeof(uint32_t),
			     PROT_READ | PROT_WRITE);
	t->zero = reserve(cs, PROT_READ);
	if (!t->chunks || !t->heat || !t->id_free || !t->zero) {
		rc = -ENOMEM;
		goto out_fini;
	}
	*out = t;
	return 0;

out_fini:
	if (t->dirty)
		munmap((void *)t->dirty, t->dirty_bytes);
	if (t->touched)
		munmap((void *)t->touched, t->dirty_bytes);
	if (t->sampled)
		munmap((void *)t->sampled, t->dirty_bytes);
	if (t->chunks)
		munmap(t->chunks, t->chunks_bytes);
	if (t->heat)
		munmap(t->heat, heat_bytes(t));
	if (t->id_free)
		munmap(t->id_free, ((size_t)t->max_id + 1) * sizeof(uint32_t));
	if (t->zero)
		munmap(t->zero, cs);
	tier_dram_fini(&t->slow);
	tier_dram_fini(&t->dram);
out_free:
	stripes_fini(t);
	pthread_mutex_destroy(&t->move_lock);
	pthread_mutex_destroy(&t->lock);
	free(t);
	return rc;
}

void mmfs_tier_free(struct mmfs_tier **tp)
{
	struct mmfs_tier *t = *tp;

	if (!t)
		return;
	mmfs_tier_engine_stop(t);
	munmap(t->chunks, t->chunks_bytes);
	munmap(t->heat, heat_bytes(t));
	munmap(t->id_free, ((size_t)t->max_id + 1) * sizeof(uint32_t));
	munmap(t->zero, t->chunk_size);
	if (t->dirty)
		munmap((void *)t->dirty, t->dirty_bytes);
	if (t->touched)
		munmap((void *)t->touched, t->dirty_bytes);
	if (t->sampled)
		munmap((void *)t->sampled, t->dirty_bytes);
	free(t->fresh.ids);
	free(t->freed.ids);
	tier_dram_fini(&t->slow);
	tier_dram_fini(&t->dram);
	stripes_fini(t);
	pthread_mutex_destroy(&t->move_lock);
	pthread_mutex_destroy(&t->lock);
	free(t);
	*tp = NULL;
}

uint32_t mmfs_tier_chunk_size(const struct mmfs_tier *t)
{
	return t->chunk_size;
}

uint32_t mmfs_tier_max_id(const struct mmfs_tier *t)
{
	return t->max_id;
}

/* id_get_locked -- (internal) a free id, or 0 when none is left */
static uint32_t id_get_locked(struct mmfs_tier *t)
{
	MMFS_HELD(&t->lock);
	if (t->id_nfree)
		return t->id_free[--t->id_nfree];
	if (t->id_next <= t->max_id)
		return t->id_next++;
	return 0;
}

/* idvec_room -- (internal) make room for one more; grows geometrically */
static int idvec_room(struct tier_idvec *v)
{
	size_t cap;
	uint32_t *p;

	if (v->n < v->cap)
		return 0;
	cap = v->cap ? v->cap * 2 : 256;
	p = realloc(v->ids, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	v->ids = p;
	v->cap = cap;
	return 0;
}

static inline void *pmem_home(const struct mmfs_tier *t, uint32_t id)
{
	return mmfs_pool_slot_addr(t->pool, id - 1);
}

static inline void dirty_set(struct mmfs_tier *t, uint32_t id)
{
	atomic_fetch_or_explicit(&t->dirty[id >> 6], 1ull << (id & 63),
				 memory_order_release);
}

/*
 * touch -- (internal) a migration of @id that is in flight must copy
 * again: its bytes changed, or the id was freed or handed out anew (a new
 * chunk's zeros are no store a writer marks).
 */
static inline void touch(struct mmfs_tier *t, uint32_t id)
{
	atomic_fetch_or_explicit(&t->touched[id >> 6], 1ull << (id & 63),
				 memory_order_release);
}

static inline bool dirty_test_clear(struct mmfs_tier *t, uint32_t id)
{
	uint64_t bit = 1ull << (id & 63);

	return atomic_fetch_and_explicit(&t->dirty[id >> 6], ~bit,
					 memory_order_acq_rel) & bit;
}

/*
 * alloc_volatile_locked -- (internal) a chunk that lives in a DRAM slot,
 * or in a slow-tier slot when DRAM is full. Fresh slots read as zeros.
 */
static int alloc_volatile_locked(struct mmfs_tier *t, uint32_t *id)
{
	struct tier_chunk c = { .used = 1, .tier = MMFS_TIER_DRAM };
	uint32_t cid;

	MMFS_HELD(&t->lock);
	if (tier_dram_slot_get_locked(&t->dram, &c.slot) < 0) {
		c.tier = MMFS_TIER_PMEM;
		if (tier_dram_slot_get_locked(&t->slow, &c.slot) < 0)
			return -ENOSPC;
	}
	cid = id_get_locked(t);
	MMFS_ASSERT(cid != 0); /* one id per slot */
	t->chunks[cid] = c;
	__atomic_store_n(&t->heat[cid], 0, __ATOMIC_RELAXED);
	t->used[c.tier]++;
	if (t->tiered)
		touch(t, cid);
	*id = cid;
	return 0;
}

/* arena -- (internal) the arena that holds the slots of @tier, or NULL */
static struct tier_dram *arena(struct mmfs_tier *t, unsigned tier)
{
	if (tier == MMFS_TIER_DRAM)
		return &t->dram;
	return t->pool ? NULL : &t->slow;
}

/*
 * alloc_pool_locked -- (internal) a chunk of the pool: its PMEM home is
 * its id; its bytes go to a DRAM frame while one is free. Sets *zero_pmem
 * when the home slot holds an earlier chunk's bytes and is what will be
 * read: the caller clears it outside the lock.
 */
static int alloc_pool_locked(struct mmfs_tier *t, uint32_t *id,
			     bool *zero_pmem)
{
	struct tier_chunk c = { .used = 1 };
	uint32_t cid;

	MMFS_HELD(&t->lock);
	MMFS_ASSERT(!t->recovering);
	if (idvec_room(&t->fresh) < 0)
		return -ENOMEM;
	cid = id_get_locked(t);
	if (!cid)
		return -ENOSPC;
	if (tier_dram_slot_get_locked(&t->dram, &c.slot) == 0) {
		c.tier = MMFS_TIER_DRAM;
		*zero_pmem = false;
	} else {
		c.tier = MMFS_TIER_PMEM;
		c.slot = 0;
		*zero_pmem = true;
	}
	t->chunks[cid] = c;
	__atomic_store_n(&t->heat[cid], 0, __ATOMIC_RELAXED);
	t->used[c.tier]++;
	t->fresh.ids[t->fresh.n++] = cid;
	touch(t, cid);
	*id = cid;
	return 0;
}

int mmfs_tier_chunk_alloc(struct mmfs_tier *t, uint32_t *id)
{
	bool zero_pmem = false;
	int rc;

	pthread_mutex_lock(&t->lock);
	rc = t->pool ? alloc_pool_locked(t, id, &zero_pmem)
		     : alloc_volatile_locked(t, id);
	if (rc < 0) {
		if (rc == -ENOSPC)
			t->enospc++;
		goto out_unlock;
	}
	t->allocs++;
out_unlock:
	pthread_mutex_unlock(&t->lock);
	if (rc == 0 && t->pool) {
		/* A sparse pool file: the home needs blocks before any store */
		rc = mmfs_pool_reserve(t->pool, pmem_home(t, *id),
				       t->chunk_size);
		if (rc < 0) {
			mmfs_tier_chunk_free(t, *id);
			if (rc == -ENOSPC) {
				pthread_mutex_lock(&t->lock);
				t->enospc++;
				pthread_mutex_unlock(&t->lock);
			}
			return rc;
		}
		if (zero_pmem) {
			/* No promotion may copy the home under the clearing. */
			tier_io_hold(t, *id);
			mmfs_pool_fill(t->pool, pmem_home(t, *id), 0,
				       t->chunk_size);
			/* Non-temporal: fence before the caller's stores. */
			mmfs_pool_drain(t->pool);
		}
		/*
		 * Even all zeros must reach the home before a log names it;
		 * and a promotion that copied the home before it was cleared
		 * must copy again (a preallocated chunk gets no write).
		 */
		mmfs_tier_chunk_dirty(t, *id);
	}
	return rc;
}

void mmfs_tier_chunk_free(struct mmfs_tier *t, uint32_t id)
{
	struct tier_dram *a;
	struct tier_chunk c;

	MMFS_ASSERT(id >= 1 && id <= t->max_id);
	/*
	 * Placement is read and the chunk retired in one critical section:
	 * the engine may move it until then, and whoever sees it last in
	 * DRAM gives the frame back, exactly once.
	 */
	pthread_mutex_lock(&t->lock);
	c = t->chunks[id];
	MMFS_ASSERT(c.used);
	t->chunks[id].used = 0;
	t->chunks[id].pin = 0;
	__atomic_store_n(&t->heat[id], 0, __ATOMIC_RELAXED);
	if (t->pool)
		dirty_test_clear(t, id);
	if (t->tiered)
		touch(t, id);
	if (!t->pool) {
		t->id_free[t->id_nfree++] = id;
	} else if (!t->recovering) {
		if (idvec_room(&t->freed) == 0)
			t->freed.ids[t->freed.n++] = id;
		else /* cannot remember it: the id is lost until remount */
			mmfs_warn("chunk %u unusable until remount (no memory)",
				  id);
	}
	t->used[c.tier]--;
	t->frees++;
	pthread_mutex_unlock(&t->lock);
	a = arena(t, c.tier);
	if (!a)
		return;
	/* Discard before the slot is reusable, or we would zap new data. */
	tier_dram_slot_discard(a, c.slot, t->chunk_size);
	pthread_mutex_lock(&t->lock);
	tier_dram_slot_put_locked(a, c.slot);
	pthread_mutex_unlock(&t->lock);
}

void *mmfs_tier_chunk_addr(struct mmfs_tier *t, uint32_t id)
{
	const struct tier_chunk *c = &t->chunks[id];

	/* Where the bytes are stays true until the bracket ends. */
	tier_io_hold(t, id);
	MMFS_DEBUG_ASSERT(id >= 1 && id <= t->max_id && c->used);
	if (c->tier == MMFS_TIER_DRAM)
		return t->dram.base + ((size_t)c->slot << t->chunk_shift);
	if (t->pool)
		return pmem_home(t, id);
	return t->slow.base + ((size_t)c->slot << t->chunk_shift);
}

/*
 * Optane PMem 100 against DRAM, per access (Izraelevitz et al., "Basic
 * Performance Measurements of the Intel Optane DC Persistent Memory
 * Module", 2019): random read latency 305 ns vs 81 ns; per-DIMM bandwidth
 * about 6.6 GB/s read and 2.3 GB/s write. Writes retire into the
 * controller's queue, so they pay bandwidth but no extra latency.
 */
#define OPTANE_READ_EXTRA_NS 224u
#define OPTANE_READ_BPS 6600000000ull
#define OPTANE_WRITE_BPS 2300000000ull
/*
 * A direct-attached CXL Type-3 memory expander (one x8 PCIe 5 link): Pond
 * (Li et al., ASPLOS 2023) puts its latency 70-90 ns above NUMA-local
 * DRAM; such a link carries about 22 GB/s each way in practice. A model,
 * as the Optane one is; both tiers are plain loads and stores.
 */
#define CXL_READ_EXTRA_NS 90u
#define CXL_READ_BPS 22000000000ull
#define CXL_WRITE_BPS 22000000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void mmfs_tier_access(struct mmfs_tier *t, uint32_t id, size_t len,
		      bool write)
{
	uint16_t *heat = &t->heat[id];
	uint16_t add = 1, h;
	uint64_t ns, until;

	/* A DRAM-only mount's requests skip the counting. */
	if (!t->tiered)
		return;
	if (atomic_load_explicit(&t->sampling, memory_order_relaxed)) {
		uint64_t bit = 1ull << (id & 63);

		if ((atomic_load_explicit(&t->sampled[id >> 6],
					  memory_order_relaxed) & bit) &&
		    (atomic_fetch_and_explicit(&t->sampled[id >> 6], ~bit,
					       memory_order_relaxed) & bit))
			add = TIER_SAMPLE_WEIGHT;
	}
	/* Saturating; a race may lose a count, which only adds noise. */
	h = __atomic_load_n(heat, __ATOMIC_RELAXED);
	if (h <= UINT16_MAX - add)
		__atomic_fetch_add(heat, add, __ATOMIC_RELAXED);
	if (!t->emulate || t->chunks[id].tier != MMFS_TIER_PMEM)
		return;
	if (t->emulate == MMFS_EMULATE_CXL)
		ns = (write ? 0 : CXL_READ_EXTRA_NS) + (uint64_t)len *
		     1000000000ull / (write ? CXL_WRITE_BPS : CXL_READ_BPS);
	else if (write)
		ns = (uint64_t)len * 1000000000ull / OPTANE_WRITE_BPS;
	else
		ns = OPTANE_READ_EXTRA_NS +
		     (uint64_t)len * 1000000000ull / OPTANE_READ_BPS;
	/* Spin: sleeping has a granularity of tens of microseconds. */
	until = now_ns() + ns;
	while (now_ns() < until)
		__builtin_ia32_pause();
}

bool mmfs_tier_persistent(const struct mmfs_tier *t)
{
	return t->pool != NULL;
}

bool mmfs_tier_tiered(const struct mmfs_tier *t)
{
	return t->tiered;
}

int mmfs_tier_chunk_claim(struct mmfs_tier *t, uint32_t id)
{
	int rc = 0;

	if (!t->pool || id < 1 || id > t->max_id)
		return -EUCLEAN;
	pthread_mutex_lock(&t->lock);
	if (!t->recovering) {
		rc = -EINVAL;
		goto out_unlock;
	}
	if (!t->chunks[id].used) {
		t->chunks[id] = (struct tier_chunk){
			.tier = MMFS_TIER_PMEM, .used = 1,
		};
		t->used[MMFS_TIER_PMEM]++;
		if (id >= t->id_next)
			t->id_next = id + 1;
	}
out_unlock:
	pthread_mutex_unlock(&t->lock);
	/* A sparse copy of a pool (cp --sparse) made zero homes holes. */
	if (rc == 0)
		rc = mmfs_pool_reserve(t->pool, pmem_home(t, id), t->chunk_size);
	return rc;
}

bool mmfs_tier_chunk_claimed(const struct mmfs_tier *t, uint32_t id)
{
	return id >= 1 && id <= t->max_id && t->chunks[id].used;
}

int mmfs_tier_ready(struct mmfs_tier *t)
{
	uint32_t id;

	pthread_mutex_lock(&t->lock);
	t->recovering = false;
	/* Low ids first: pushed in descending order onto the stack. */
	t->id_nfree = 0;
	for (id = t->id_next - 1; id >= 1; id--)
		if (!t->chunks[id].used)
			t->id_free[t->id_nfree++] = id;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void mmfs_tier_chunk_dirty(struct mmfs_tier *t, uint32_t id)
{
	if (t->pool)
		dirty_set(t, id);
	if (t->tiered)
		touch(t, id);
}

void mmfs_tier_epoch_take(struct mmfs_tier *t, struct mmfs_tier_epoch *e)
{
	memset(e, 0, sizeof(*e));
	if (!t->pool)
		return;
	pthread_mutex_lock(&t->lock);
	e->fresh = t->fresh.ids;
	e->nfresh = t->fresh.n;
	e->freed = t->freed.ids;
	e->nfreed = t->freed.n;
	t->fresh = (struct tier_idvec){ 0 };
	t->freed = (struct tier_idvec){ 0 };
	pthread_mutex_unlock(&t->lock);
}

void mmfs_tier_epoch_end(struct mmfs_tier *t, struct mmfs_tier_epoch *e)
{
	size_t i;

	if (e->nfreed) {
		/* Not while a demotion may still copy into a freed id's home. */
		pthread_mutex_lock(&t->move_lock);
		pthread_mutex_lock(&t->lock);
		for (i = 0; i < e->nfreed; i++)
			t->id_free[t->id_nfree++] = e->freed[i];
		pthread_mutex_unlock(&t->lock);
		pthread_mutex_unlock(&t->move_lock);
	}
	free(e->fresh);
	free(e->freed);
	memset(e, 0, sizeof(*e));
}

/*
 * wb_range -- what one writeback pass must persist. On real PMEM the
 * non-temporal copies need only a drain and PMEM-resident chunks are
 * flushed one by one; on an emulated (file) pool persistence is msync,
 * which is cheapest as one call over the span of dirty pages.
 */
struct wb_range {
	char *lo, *hi;
	uint64_t n;
};

static void wb_one(struct mmfs_tier *t, uint32_t id, struct wb_range *r,
		   bool pmem)
{
	struct tier_stripe *st = tier_stripe_of(t, id);
	struct tier_chunk c;
	char *home;

	if (!dirty_test_clear(t, id))
		return;
	/*
	 * No move of this chunk from reading its placement to the fence of
	 * the copy: a demotion's own copy into the home must not be
	 * overtaken by ours, still in flight. Shared, so recursion (a
	 * request's bracket holding it already) is fine: the engine only
	 * ever tries the stripe.
	 */
	if (t->tiered)
		pthread_rwlock_rdlock(&st->lock);
	pthread_mutex_lock(&t->lock);
	c = t->chunks[id];
	pthread_mutex_unlock(&t->lock);
	if (!c.used)
		goto out_unlock;
	home = pmem_home(t, id);
	if (c.tier == MMFS_TIER_DRAM) {
		mmfs_pool_copy(t->pool, home,
			       t->dram.base + ((size_t)c.slot << t->chunk_shift),
			       t->chunk_size);
		mmfs_pool_drain(t->pool);
	} else if (pmem) {
		mmfs_pool_persist(t->pool, home, t->chunk_size);
	}
	if (!r->lo || home < r->lo)
		r->lo = home;
	if (!r->hi || home + t->chunk_size > r->hi)
		r->hi = home + t->chunk_size;
	r->n++;
out_unlock:
	if (t->tiered)
		pthread_rwlock_unlock(&st->lock);
}

/*
 * wb_start -- (internal) no engine copy into a home overlaps the pass's
 * copies. A demotion copies beside the I/O: it may load a chunk's bytes
 * before a write that our copy has and store them after it, and the
 * writeback would have made the older bytes durable (the remap copies
 * again, after the fsync returned; an undone move never does). A batch in
 * flight is waited out (it fences its copies inside move_lock), and one
 * that starts after the pass loads bytes at least as new as ours.
 */
static void wb_start(struct mmfs_tier *t)
{
	if (t->tiered)
		pthread_mutex_lock(&t->move_lock);
}

static void wb_finish(struct mmfs_tier *t, struct wb_range *r, bool pmem)
{
	if (t->tiered)
		pthread_mutex_unlock(&t->move_lock);
	if (!r->n)
		return;
	if (pmem)
		mmfs_pool_drain(t->pool);
	else
		mmfs_pool_persist(t->pool, r->lo, (size_t)(r->hi - r->lo));
	pthread_mutex_lock(&t->lock);
	t->writebacks += r->n;
	t->wb_bytes += r->n * t->chunk_size;
	pthread_mutex_unlock(&t->lock);
}

static bool pool_is_pmem(const struct mmfs_tier *t)
{
	struct mmfs_pool_info pi;

	mmfs_pool_get_info(t->pool, &pi);
	return pi.pmem;
}

uint64_t mmfs_tier_writeback(struct mmfs_tier *t, const uint32_t *ids,
			     size_t n)
{
	struct wb_range r = { 0 };
	bool pmem;
	size_t i;

	if (!t->pool)
		return 0;
	pmem = pool_is_pmem(t);
	wb_start(t);
	for (i = 0; i < n; i++)
		if (ids[i] >= 1 && ids[i] <= t->max_id)
			wb_one(t, ids[i], &r, pmem);
	wb_finish(t, &r, pmem);
	return r.n;
}

uint64_t mmfs_tier_writeback_all(struct mmfs_tier *t)
{
	struct wb_range r = { 0 };
	size_t w, nwords;
	bool pmem;

	if (!t->pool)
		return 0;
	pmem = pool_is_pmem(t);
	nwords = ((size_t)t->max_id >> 6) + 1;
	wb_start(t);
	for (w = 0; w < nwords; w++) {
		uint64_t bits = atomic_load_explicit(&t->dirty[w],
						     memory_order_acquire);

		while (bits) {
			uint32_t id = (uint32_t)(w << 6) +
				      (uint32_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			wb_one(t, id, &r, pmem);
		}
	}
	wb_finish(t, &r, pmem);
	return r.n;
}

enum mmfs_tier_kind mmfs_tier_chunk_tier(struct mmfs_tier *t, uint32_t id)
{
	enum mmfs_tier_kind k;

	/* the engine may be moving it: a statistic, but not a torn read */
	pthread_mutex_lock(&t->lock);
	k = (enum mmfs_tier_kind)t->chunks[id].tier;
	pthread_mutex_unlock(&t->lock);
	return k;
}

const void *mmfs_tier_zero(const struct mmfs_tier *t)
{
	return t->zero;
}

void mmfs_tier_heat_histogram(struct mmfs_tier *t,
			      uint64_t h[MMFS_TIER_HEAT_BUCKETS])
{
	uint32_t id, last, end;

	memset(h, 0, MMFS_TIER_HEAT_BUCKETS * sizeof(*h));
	pthread_mutex_lock(&t->lock);
	last = MMFS_MIN(t->id_next, t->max_id + 1);
	pthread_mutex_unlock(&t->lock);
	/* A batch of entries per hold: an allocation waits one batch at most. */
	for (id = 1; id < last;) {
		end = MMFS_MIN(last, id + TIER_SCAN_BATCH);
		pthread_mutex_lock(&t->lock);
		for (; id < end; id++) {
			uint16_t heat;
			unsigned b;

			if (!t->chunks[id].used)
				continue;
			heat = __atomic_load_n(&t->heat[id], __ATOMIC_RELAXED);
			b = heat ? 1 + (unsigned)(31 - __builtin_clz(heat)) : 0;
			h[MMFS_MIN(b, MMFS_TIER_HEAT_BUCKETS - 1u)]++;
		}
		pthread_mutex_unlock(&t->lock);
	}
}

void mmfs_tier_stat(struct mmfs_tier *t, struct mmfs_tier_stat *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&t->lock);
	st->chunk_size = t->chunk_size;
	st->persistent = t->pool != NULL;
	st->total_chunks[MMFS_TIER_DRAM] = t->dram.nslots;
	st->total_chunks[MMFS_TIER_PMEM] = t->pool ? t->max_id
						   : t->slow.nslots;
	st->capacity_chunks = t->pool ? t->max_id
				      : t->dram.nslots + t->slow.nslots;
	st->free_chunks = st->capacity_chunks - t->used[MMFS_TIER_DRAM] -
			  t->used[MMFS_TIER_PMEM] - t->freed.n;
	st->pending_chunks = t->freed.n;
	st->promotions = t->promotions;
	st->demotions = t->demotions;
	st->moved_bytes = t->moved_bytes;
	st->epochs = t->epochs;
	st->remap_busy = t->remap_busy;
	st->writebacks = t->writebacks;
	st->writeback_bytes = t->wb_bytes;
	st->used_chunks[MMFS_TIER_DRAM] = t->used[MMFS_TIER_DRAM];
	st->used_chunks[MMFS_TIER_PMEM] = t->used[MMFS_TIER_PMEM];
	st->allocs = t->allocs;
	st->frees = t->frees;
	st->enospc = t->enospc;
	pthread_mutex_unlock(&t->lock);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* tier_i.h -- private definitions of tier/; never included from outside. */
#ifndef MMFS_TIER_TIER_I_H
#define MMFS_TIER_TIER_I_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "tier/tier.h"

struct mmfs_pool;

/*
 * One entry per chunk id: 8 bytes (tier/README.md's table), read and
 * written under tier->lock (or, for tier and slot, under the chunk's
 * stripe: the engine changes them holding both). The tiering engine's
 * counter is not here but in mmfs_tier.heat: requests count without any
 * lock, and a counter beside these fields would make every copy of an
 * entry a data race with them. On a pool, a chunk's PMEM slot is its id - 1
 * (its durable home, always reserved); slot names the DRAM frame that
 * holds its current bytes when tier is MMFS_TIER_DRAM. Without a pool,
 * slot names a slot of the arena of its tier (DRAM, or the slow tier).
 */
struct tier_chunk {
	uint32_t slot;    /* slot in its tier's arena (unused: pool PMEM) */
	uint8_t tier;     /* enum mmfs_tier_kind */
	uint8_t used : 1; /* allocated */
	uint8_t pin : 2;  /* enum mmfs_tier_hint */
};

/* entries a scan (the engine's epoch, the heat histogram) reads per hold
 * of tier->lock: about 10 us of an allocation's wait at most */
#define TIER_SCAN_BATCH 1024u

/*
 * A DRAM arena: one anonymous reservation cut into chunk-sized slots.
 * Untouched slots cost no memory (MAP_NORESERVE); freed slots are returned
 * to the kernel with MADV_DONTNEED, which also makes them read as zeros
 * when reused.
 */
struct tier_dram {
	char *base;
	size_t bytes;       /* reservation size */
	uint32_t nslots;
	uint32_t next;      /* bump pointer: slots [next, nslots) never used */
	uint32_t *free;     /* stack of freed slots */
	uint32_t nfree;
	pthread_mutex_t *lock; /* its owner's tier->lock, for MMFS_HELD */
};

/* A growable vector of chunk ids. */
struct tier_idvec {
	uint32_t *ids;
	size_t n, cap;
};

struct mmfs_tier {
	uint32_t chunk_size;
	uint32_t chunk_shift;
	uint32_t max_id;         /* ids are 1..max_id */
	struct tier_chunk *chunks; /* indexed by id; reserved, touched lazily */
	size_t chunks_bytes;
	/* heat: per id, accesses, x3/4 every epoch; __atomic ops only, no
	 * lock (reserved, touched lazily) */
	uint16_t *heat;
	void *zero;              /* read-only zero chunk */

	/*
	 * lock protects the id allocator (id_next, id_free, id_nfree), each
	 * tier's slot allocator and the counters below. Innermost (the lock
	 * order is fs/LOCKING.md's): nothing else is taken while holding it,
	 * and it is never held across a syscall that may block (madvise runs
	 * outside).
	 */
	pthread_mutex_t lock;
	uint32_t id_next;        /* ids [id_next, max_id] never used */
	uint32_t *id_free;       /* stack of freed ids */
	uint32_t id_nfree;
	struct tier_dram dram;
	/*
	 * A volatile slow tier (no pool): its chunks name slots of this
	 * arena. tiered: pool or slow tier, i.e. the engine may run, heat is
	 * counted and touched[] exists.
	 */
	struct tier_dram slow;
	bool tiered;
	uint64_t used[MMFS_TIER_COUNT]; /* protected by lock */
	uint64_t allocs, frees, enospc; /* protected by lock */

	/*
	 * Persistent pools only (pool != NULL). dirty: one bit per id, set
	 * by writers after their bytes are in the chunk and cleared by
	 * writeback before it copies, so a write racing a writeback leaves
	 * the bit set (atomics, no lock). fresh and freed collect the ids
	 * allocated and freed since the last commit epoch (under lock):
	 * fresh ones must reach PMEM before the log records naming them
	 * (data=ordered), freed ones may not be reused before the log
	 * records freeing them are durable.
	 */
	struct mmfs_pool *pool;
	bool recovering;          /* claims allowed, no free lists yet */
	enum mmfs_tier_emulate emulate; /* pmem_emulate= */
	_Atomic uint64_t *dirty;
	size_t dirty_bytes;
	struct tier_idvec fresh, freed; /* protected by lock */
	uint64_t writebacks, wb_bytes;  /* protected by lock */

	/*
	 * The tiering engine (engine.c; two tiers only). stripe[] keeps
	 * chunk memory where requests found it, one chunk at a time: chunk
	 * @id is guarded by stripe[id % TIER_STRIPES]. A request holds the
	 * stripe of every chunk it uses shared, from asking where the bytes
	 * are (mmfs_tier_chunk_addr, which takes it) until its bracket ends
	 * (mmfs_tier_io_end, after the reply); writeback holds one shared
	 * from reading a chunk's placement to the fence of its copy; the
	 * engine holds one stripe exclusively at a time, only to remap a
	 * chunk it has already copied. Level 9 of fs/LOCKING.md: after fs
	 * inode locks (inside the bracket), before tier->lock; in any order
	 * among themselves:
	 * a stripe is held exclusively only by the engine, which takes it
	 * with trylock, holds nothing else but tier->lock under it and never
	 * waits holding it, and readers are preferred (a reader never waits
	 * for a queued writer), so no request waits but for one chunk's
	 * remap.
	 * touched: one bit per id, set after stores like the dirty bit and
	 * cleared by the engine before it copies: a chunk written during
	 * its copy is copied again under its stripe.
	 */
	struct tier_stripe *stripe; /* TIER_STRIPES of them */
	_Atomic uint64_t *touched;
	/*
	 * move_lock: a pool demotion copies into the chunk's home, which is
	 * its id, beside the I/O; were the id freed and handed out again
	 * meanwhile, that late copy would overwrite the new chunk's bytes.
	 * So the engine holds move_lock from checking a batch's placement
	 * until its copies beside the I/O are done, and mmfs_tier_epoch_end
	 * holds it to make freed ids reusable: an id freed during a copy is
	 * handed out only after it. A writeback pass holds it too: an
	 * engine copy in flight may carry bytes loaded before a write that
	 * the writeback copies, and must not land after it (so the engine
	 * fences its copies before letting go). Taken before the stripes
	 * (a writeback takes each chunk's under it; the engine holds none
	 * with it) and tier->lock; a commit waits at most one batch's
	 * copies.
	 */
	pthread_mutex_t move_lock;
	/*
	 * sampled: one bit per id, set when fs/ dropped the kernel's cached
	 * copy of the chunk, cleared (atomically) by the access that comes
	 * back for it; sampling says whether any bit was ever set, so that
	 * mounts without page-cache sampling never read the bitmap.
	 */
	_Atomic uint64_t *sampled;
	_Atomic bool sampling;
	struct mmfs_ticker *engine; /* the engine's thread (engine.c) */
	unsigned epoch_ms;
	uint64_t migrate_bps;
	uint64_t promotions, demotions, moved_bytes, epochs; /* lock */
	uint64_t remap_busy; /* moves undone: stripe busy; lock */
	uint64_t plan_allocs;   /* allocs at the last epoch (engine only) */
	/*
	 * age: per id, what the engine remembers of a chunk beyond its heat
	 * (struct tier_age; engine thread only, allocated at its first
	 * epoch for the whole capacity, freed by mmfs_tier_engine_stop).
	 * heat_left: the sum of all heats the last decay left.
	 */
	struct tier_age *age;
	uint64_t heat_left;
};

/*
 * tier_age -- 4 bytes per id.
 * @left: the heat the last decay left, so that this epoch's accesses are
 * the heat minus @left.
 * @lheat: the long-horizon heat, in quarters of an access: each active
 * epoch (some chunk's heat grew) loses 1/16 of it (rounded up) and each
 * access adds 4, so a chunk touched r times an epoch settles near 64r,
 * and the noise of a rate of one access in two epochs is averaged over
 * about sixteen (the heat's four epochs cannot tell it from one access in
 * twenty). A mount at rest keeps it: the hot set is still known when the
 * work comes back.
 */
struct tier_age {
	uint16_t left;
	uint16_t lheat;
};

/*
 * The stripes of the migration lock (tier_i.h, struct mmfs_tier): a power
 * of two, each on its own cache line, so that requests on different
 * chunks share no written line. 256 * 64 bytes per tiered mount.
 */
#define TIER_STRIPES 256
struct tier_stripe {
	pthread_rwlock_t lock; /* reader-preferring: see struct mmfs_tier */
} __attribute__((aligned(64)));

/* tier_stripe_of -- (internal) the stripe that guards chunk @id */
static inline struct tier_stripe *tier_stripe_of(const struct mmfs_tier *t,
						 uint32_t id)
{
	return &t->stripe[id & (TIER_STRIPES - 1)];
}

/*
 * tier_io_hold -- the calling thread's bracket (mmfs_tier_io_begin) holds
 * chunk @id's stripe shared from now until mmfs_tier_io_end; a no-op when
 * the thread is in no bracket of @t (tests, recovery) or already holds it.
 */
void tier_io_hold(struct mmfs_tier *t, uint32_t id);

/* engine.c: the policy, a pure function (unit-tested) */
struct tier_cand {
	uint32_t id;
	uint16_t heat;
	uint8_t tier; /* enum mmfs_tier_kind */
	uint8_t pin;  /* enum mmfs_tier_hint */
	uint16_t lheat; /* long-horizon heat (tier_age) */
};

struct tier_plan {
	uint32_t *promote, *demote; /* ids, hottest / coldest first */
	size_t npromote, ndemote;
};

/*
 * tier_plan -- which chunks to move this epoch. @c: every chunk in use
 * (reordered in place). @dram_total/@dram_used: frames. @reserve: frames
 * new writes need before the next epoch (bounded by TIER_RESERVE_*_PCT).
 * @budget: most moves. Returns 0 or -ENOMEM; free out->promote and
 * out->demote.
 */
int tier_plan(struct tier_cand *c, size_t n, uint64_t dram_total,
	      uint64_t dram_used, uint64_t reserve, uint64_t budget,
	      struct tier_plan *out);

/*
 * The high watermark is dram_total - reserve: promotions fill DRAM up to
 * it without demoting anything, demotions bring DRAM down to it. The
 * reserve is what the last epoch allocated, at least 1% (a burst of new
 * writes finds room at once), at most 10% (a bulk write does not empty
 * DRAM of its hot chunks).
 */
#define TIER_RESERVE_MIN_PCT 1
#define TIER_RESERVE_MAX_PCT 10
/* A swap needs hot >= 2 * cold + 8 (engine.c, swap_pays). */
#define TIER_SWAP_FACTOR 2
#define TIER_SWAP_COST 8
/*
 * The long horizon (tier_age.lheat, about 64 per access an epoch): a swap
 * the heat cannot justify still pays if lheat(hot) >= 2 * lheat(cold) +
 * TIER_LONG_COST, i.e. hot is touched at least every other epoch and
 * twice as often as cold over the last sixteen or so; a free frame below
 * the watermark takes a chunk whose lheat reaches TIER_LONG_COST.
 * TIER_LHEAT_ADD per access, a sixteenth off per epoch.
 */
#define TIER_LONG_COST 32
#define TIER_LHEAT_ADD 4
#define TIER_LHEAT_SHIFT 4
/* At most 10% of the frames (at least 64) swap per epoch: each batch of
 * swaps stalls requests in its remap, and a burst of noise is bounded. */
#define TIER_SWAP_MAX_PCT 10
#define TIER_SWAP_MIN 64
/*
 * An access that follows a sampling invalidation stands for the uses the
 * page cache hid: enough to beat a cold DRAM chunk (2 * 0 + 8) under the
 * swap rule.
 */
#define TIER_SAMPLE_WEIGHT TIER_SWAP_COST

/*
 * tier_age_epoch -- an epoch of chunk @c (its heat before this epoch's
 * decay) for what the engine remembers of it (@a): the long-horizon
 * heat, which decays only if @active (some heat grew this epoch). Fills
 * c->lheat for tier_plan.
 */
void tier_age_epoch(struct tier_age *a, struct tier_cand *c, bool active);

/* tier_dram_init -- reserve an arena; @what names it in error lines */
int tier_dram_init(struct tier_dram *d, uint64_t bytes, uint32_t chunk_size,
		   const char *what, const char *nodes);
void tier_dram_fini(struct tier_dram *d);
/* tier_dram_slot_get_locked -- a free slot, or -ENOSPC. Caller holds lock. */
int tier_dram_slot_get_locked(struct tier_dram *d, uint32_t *slot);
void tier_dram_slot_put_locked(struct tier_dram *d, uint32_t slot);
/* tier_dram_slot_discard -- drop a slot's pages (no lock needed). */
void tier_dram_slot_discard(struct tier_dram *d, uint32_t slot,
			    uint32_t chunk_size);

#endif

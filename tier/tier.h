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
#include <stddef.h>
#include <stdint.h>

#include "tier/pool.h"

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

/* Placement hints (user.mmfs.tier): a pin overrides heat. */
enum mmfs_tier_hint {
	MMFS_HINT_AUTO = 0,
	MMFS_HINT_DRAM = 1,
	MMFS_HINT_PMEM = 2,
};

/* Device models for pmem_emulate= (benchmarks on machines without one). */
enum mmfs_tier_emulate {
	MMFS_EMULATE_OFF = 0,
	MMFS_EMULATE_OPTANE,  /* Optane PMem 100 (pool) */
	MMFS_EMULATE_CXL,     /* a direct-attached CXL Type-3 memory device */
};

#define MMFS_TIER_HEAT_BUCKETS 8 /* heat 0, 1, 2-3, 4-7, ... 64+ */

struct mmfs_tier_opts {
	uint64_t dram_bytes;    /* DRAM budget; rounded down to chunks */
	uint32_t chunk_size;    /* power of two in [MMFS_CHUNK_MIN, _MAX] */
	const char *dram_nodes; /* libnuma node list ("0-1"), NULL = any */
	/*
	 * A persistent pool (opened by the caller, still owned by it), or
	 * NULL for a volatile DRAM-only tier set. With a pool, chunk_size
	 * comes from the pool, chunk ids are PMEM slots + 1, capacity is
	 * the pool (every chunk has a durable home) and DRAM holds the bytes
	 * of chunks placed there. The tier set starts recovering: callers
	 * claim the ids their metadata references, then call
	 * mmfs_tier_ready.
	 */
	struct mmfs_pool *pool;
	/*
	 * Without a pool: a volatile slow tier of @slow_bytes on these
	 * libnuma nodes (CPU-less CXL memory), reported as the PMEM tier.
	 * Ids are independent of slots; chunks go to DRAM while it has room,
	 * else to the slow tier, and the engine moves them as on a pool.
	 */
	uint64_t slow_bytes;
	const char *slow_nodes;
	/* Add a slow device's latency/bandwidth to PMEM chunk accesses. */
	enum mmfs_tier_emulate emulate;
	/* The tiering engine (two tiers only; mmfs_tier_engine_start). */
	unsigned epoch_ms;      /* heat loses 1/4 every epoch; 0 = 1000 */
	uint64_t migrate_bps;   /* migration bandwidth cap; 0 = 1 GiB/s */
};

struct mmfs_tier_stat {
	uint32_t chunk_size;
	uint64_t total_chunks[MMFS_TIER_COUNT]; /* capacity per tier */
	uint64_t used_chunks[MMFS_TIER_COUNT];  /* allocated per tier */
	uint64_t allocs;                        /* chunk allocations so far */
	uint64_t frees;                         /* chunk frees so far */
	uint64_t enospc;                        /* failed allocations */
	uint64_t capacity_chunks;               /* what statfs calls blocks */
	uint64_t free_chunks;                   /* ids that can be allocated */
	uint64_t pending_chunks;                /* freed, reusable next epoch */
	uint64_t writebacks;                    /* chunks made durable */
	uint64_t writeback_bytes;
	bool persistent;
	uint64_t promotions, demotions;         /* chunks moved by the engine */
	uint64_t moved_bytes;
	uint64_t epochs;                        /* engine epochs run */
	uint64_t remap_busy;                    /* moves given up: I/O held the chunk */
};


struct mmfs_tier;

/*
 * mmfs_tier_new -- reserve the tiers described by @o.
 * Returns 0, -EINVAL for a bad geometry or node list, -ENOMEM.
 */
int mmfs_tier_new(const struct mmfs_tier_opts *o, struct mmfs_tier **out);

/*
 * mmfs_tier_nodes_info -- check a libnuma node list before using it: the
 * memory its nodes hold, and the first of them with CPUs (-1: all are
 * CPU-less, as CXL memory is). -EINVAL after one line naming option @what.
 */
int mmfs_tier_nodes_info(const char *what, const char *nodes,
			 uint64_t *bytes, int *cpu_node);

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
 * mmfs_tier_chunk_free -- give a chunk's memory back. Callers must have
 * removed every reference to it first. On a volatile tier set the id may be
 * reused at once; on a pool only after the epoch that freed it ends.
 */
void mmfs_tier_chunk_free(struct mmfs_tier *t, uint32_t id);

/*
 * mmfs_tier_chunk_addr -- where the bytes of chunk @id are right now.
 * The address is valid until the chunk is freed; callers hold the lock of
 * the file that references the chunk, which excludes the free. Inside an
 * I/O bracket (mmfs_tier_io_begin) it also holds the chunk where it is
 * until the bracket ends: it takes the chunk's migration stripe shared,
 * so it may wait for one chunk's remap. Outside one (tests, recovery),
 * nothing keeps the engine from moving the chunk.
 */
void *mmfs_tier_chunk_addr(struct mmfs_tier *t, uint32_t id);

/* mmfs_tier_chunk_tier -- which tier holds chunk @id. */
enum mmfs_tier_kind mmfs_tier_chunk_tier(struct mmfs_tier *t, uint32_t id);

/*
 * mmfs_tier_zero -- a read-only chunk of zeros that costs no memory (every
 * page maps the kernel's zero page): holes are replied from it.
 */
const void *mmfs_tier_zero(const struct mmfs_tier *t);

/*
 * mmfs_tier_access -- a request touched @len bytes of chunk @id: bills the
 * emulated PMEM cost (pmem_emulate=) when the chunk is in PMEM. The hook
 * the tiering engine's access counters will share.
 */
void mmfs_tier_access(struct mmfs_tier *t, uint32_t id, size_t len,
		      bool write);

/*
 * mmfs_tier_io_begin / _end -- bracket every use of chunk bytes by a
 * request, from asking where they are (chunk_addr) to being done with
 * them (the reply sent): the tiering engine moves no chunk the bracket
 * asked for meanwhile, and only those wait for the engine (one chunk's
 * remap, microseconds). begin takes no lock; each chunk_addr in the
 * bracket takes that chunk's stripe shared (once), end drops them. One
 * bracket per thread at a time (not recursive); begin and end on the same
 * thread. Locking: may be opened before or after fs locks; the stripes
 * are taken under them (tier/README.md).
 */
void mmfs_tier_io_begin(struct mmfs_tier *t);
void mmfs_tier_io_end(struct mmfs_tier *t);

/*
 * The tiering engine: a thread that, every epoch, takes a quarter off
 * every chunk's heat, fills DRAM with the hottest chunks up to a reserve
 * for new writes, swaps a PMEM chunk for a DRAM one only when it pays
 * (with hysteresis and a bandwidth cap), honouring pins. Two tiers only: start returns -EINVAL
 * on a DRAM-only tier set. stop waits for it.
 */
int mmfs_tier_engine_start(struct mmfs_tier *t);
void mmfs_tier_engine_stop(struct mmfs_tier *t);
/* mmfs_tier_epoch_ms -- the engine's epoch (epoch_ms=, or its default) */
unsigned mmfs_tier_epoch_ms(const struct mmfs_tier *t);
/* mmfs_tier_set_migrate -- a new migrate= cap, bytes/s (a remount) */
void mmfs_tier_set_migrate(struct mmfs_tier *t, uint64_t bps);
/* mmfs_tier_engine_epoch -- run one epoch now (tests, benchmarks) */
void mmfs_tier_engine_epoch(struct mmfs_tier *t);

/*
 * mmfs_tier_chunk_sampled -- the caller dropped the kernel's cached copy
 * of chunk @id (page-cache sampling): the next access to it is the sign
 * of a use the cache had hidden, and counts TIER_SAMPLE_WEIGHT.
 */
void mmfs_tier_chunk_sampled(struct mmfs_tier *t, uint32_t id);

/* mmfs_tier_chunk_hint -- pin chunk @id to a tier, or release it */
void mmfs_tier_chunk_hint(struct mmfs_tier *t, uint32_t id,
			  enum mmfs_tier_hint hint);
uint16_t mmfs_tier_chunk_heat(const struct mmfs_tier *t, uint32_t id);
/*
 * mmfs_tier_chunk_inherit -- new chunk @id is a copy of chunk @from (copy
 * on write): it starts with @from's heat, so the engine keeps as hot what
 * was hot. Placement stays where allocation put it.
 */
void mmfs_tier_chunk_inherit(struct mmfs_tier *t, uint32_t id, uint32_t from);

/* --- persistent pools (no-ops on a volatile tier set) --------------------- */
bool mmfs_tier_persistent(const struct mmfs_tier *t);

/*
 * mmfs_tier_tiered -- two tiers (a pool, or a volatile slow tier): chunks
 * move, so writers must report their stores (mmfs_tier_chunk_dirty).
 */
bool mmfs_tier_tiered(const struct mmfs_tier *t);

/*
 * mmfs_tier_chunk_claim -- recovery: chunk @id is referenced by durable
 * metadata, so it is in use. -EUCLEAN if @id is not a chunk of the pool.
 * Claiming an id twice is fine (shared chunks); frees during recovery
 * simply unclaim.
 */
int mmfs_tier_chunk_claim(struct mmfs_tier *t, uint32_t id);
/* mmfs_tier_ready -- end of recovery: everything unclaimed becomes free */
int mmfs_tier_ready(struct mmfs_tier *t);
/* mmfs_tier_chunk_claimed -- recovery and fsck: is @id claimed? */
bool mmfs_tier_chunk_claimed(const struct mmfs_tier *t, uint32_t id);

/*
 * mmfs_tier_chunk_dirty -- bytes were stored into chunk @id (call after the
 * store): a later writeback must carry them to PMEM.
 */
void mmfs_tier_chunk_dirty(struct mmfs_tier *t, uint32_t id);

/*
 * A commit epoch. take (callers exclude allocations and frees, e.g. under
 * their metadata lock) moves out the ids allocated and freed since the
 * previous take; writeback of the fresh ones must precede the durable log
 * records naming them; end (after those records are durable) lets the
 * freed ids be allocated again.
 */
struct mmfs_tier_epoch {
	uint32_t *fresh, *freed;
	size_t nfresh, nfreed;
};
void mmfs_tier_epoch_take(struct mmfs_tier *t, struct mmfs_tier_epoch *e);
void mmfs_tier_epoch_end(struct mmfs_tier *t, struct mmfs_tier_epoch *e);

/*
 * Writeback: make chunk bytes durable in PMEM (a DRAM chunk is copied to
 * its home slot with non-temporal stores; a PMEM chunk is flushed), for
 * the dirty ones among @ids, or every dirty chunk. Returns chunks written.
 */
uint64_t mmfs_tier_writeback(struct mmfs_tier *t, const uint32_t *ids,
			     size_t n);
uint64_t mmfs_tier_writeback_all(struct mmfs_tier *t);

/* Chunks in use per heat bucket (0, 1, 2-3, ... 64+): scans every id. */
void mmfs_tier_heat_histogram(struct mmfs_tier *t,
			      uint64_t h[MMFS_TIER_HEAT_BUCKETS]);

/* mmfs_tier_stat -- a consistent snapshot of the counters. */
void mmfs_tier_stat(struct mmfs_tier *t, struct mmfs_tier_stat *st);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.c -- the tiering engine: heat, the placement policy and
 * migration between DRAM frames and the slow tier (PMEM homes in a pool,
 * or slots of a volatile slow tier on a CXL node).
 *
 * Heat: every request that touches a chunk adds one to its 16-bit counter
 * (mmfs_tier_access, saturating); every epoch takes a quarter off all of
 * them (heat_decay), so heat is an exponentially decayed access count
 * that remembers about four epochs: a chunk touched r times an epoch
 * settles near 4r. Increments and decays race without locks: a lost
 * increment is noise, and both only ever move a counter towards the
 * truth.
 *
 * Policy (tier_plan, pure): pins first (a chunk pinned to DRAM is
 * promoted, to PMEM demoted, whatever its heat). The high watermark is
 * DRAM minus the room new writes need before the next epoch (what the
 * last one allocated, 1% to 10% of DRAM): above it the coldest are
 * demoted down to it; below it the hottest PMEM chunks fill the free
 * frames and nothing is demoted. Once DRAM is at the watermark, a PMEM
 * chunk replaces the coldest DRAM chunk only if the swap pays
 * (swap_pays: at least twice as hot plus TIER_SWAP_COST), or, for what
 * that leaves, if it pays over a longer horizon (long_pays: a second
 * heat that averages about sixteen epochs), at most 10% of the frames an
 * epoch. Only chunks in the hot set are promoted: those
 * hotter than a threshold chosen so that the hot set fits the watermark
 * (hot_threshold, after MEMTIS). At most migrate_bps * epoch bytes move
 * per epoch.
 *
 * Migration is copy, then remap: the copy runs beside I/O; then, one
 * chunk at a time, holding that chunk's stripe exclusively (no request is
 * between asking where the chunk is and the end of its bracket), a chunk
 * written during its copy (touched bit) is copied again, and its
 * placement switches. A request therefore finds a chunk either wholly at
 * its old place or wholly at its new one, and no write is lost; a request
 * on other chunks waits for nothing (it may share the stripe: 1 in 256).
 * The engine takes a stripe with trylock and a bounded wait (20 ms for
 * a whole batch), and undoes the move when it stays busy (stripe_wrlock).
 * Chunk ids never change: maps (snapshot/) never see a migration.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tier/tier_i.h"
#include "utils/held.h"
#include "utils/err.h"
#include "utils/log.h"
#include "utils/ticker.h"

#define BATCH 64 /* chunks copied per move_lock section */


/* --- the policy ---------------------------------------------------------- */

/* coldest first; of equal heat, the coldest over the long horizon */
static int by_heat_up(const void *a, const void *b)
{
	const struct tier_cand *x = a, *y = b;

	if (x->heat != y->heat)
		return (int)x->heat - (int)y->heat;
	return (int)x->lheat - (int)y->lheat;
}

/* coldest first by the long horizon; then by heat */
static int by_lheat_up(const void *a, const void *b)
{
	const struct tier_cand *x = a, *y = b;

	if (x->lheat != y->lheat)
		return (int)x->lheat - (int)y->lheat;
	return (int)x->heat - (int)y->heat;
}

static int by_u16_down(const void *a, const void *b)
{
	return (int)*(const uint16_t *)b - (int)*(const uint16_t *)a;
}

/*
 * hot_threshold -- (internal) the least heat of the hot set: the chunks
 * strictly hotter than the first one that does not fit in @fit frames
 * (MEMTIS picks its threshold so that the hot set just fits the fast
 * tier). Without it, the long tail of a skewed workload -- thousands of
 * chunks touched once an epoch -- would swap with DRAM chunks touched
 * zero times, forever. 1 when everything warm fits.
 */
static uint16_t hot_threshold(const struct tier_cand *c, size_t n,
			      uint64_t fit)
{
	uint16_t *h = malloc((n + 1) * sizeof(*h));
	size_t i, m = 0;
	uint16_t thr = 1;

	if (!h)
		return UINT16_MAX; /* no memory: promote nothing this epoch */
	for (i = 0; i < n; i++)
		if (c[i].pin == MMFS_HINT_AUTO && c[i].heat)
			h[m++] = c[i].heat;
	if (m > fit) {
		qsort(h, m, sizeof(*h), by_u16_down);
		thr = (uint16_t)MMFS_MIN(h[fit] + 1u, UINT16_MAX);
	}
	free(h);
	return thr;
}

static int push(uint32_t **v, size_t *n, size_t cap, uint32_t id)
{
	if (*n >= cap)
		return -ENOSPC;
	(*v)[(*n)++] = id;
	return 0;
}

/*
 * swap_pays -- (internal) whether PMEM chunk @hot should take the frame of
 * DRAM chunk @cold. Heat is a decayed sum whose mean lifetime is about
 * four epochs, so hot - cold estimates the slow-tier accesses the swap
 * saves over the next four epochs if the rates hold. Both heats are
 * noisy: a chunk of the long tail touched three times by chance must not
 * trade places with one whose accesses just missed this epoch, so the
 * gain must clear TIER_SWAP_COST accesses (two chunk copies, a share of
 * the remap's stall, and that noise), and hot must be TIER_SWAP_FACTOR
 * times as hot (noise grows with the heat).
 */
static bool swap_pays(uint16_t hot, const struct tier_cand *cold)
{
	if (cold->heat == UINT16_MAX)
		return false; /* pinned to DRAM */
	if (hot == UINT16_MAX)
		return true;  /* pinned to DRAM, or saturated */
	return (uint32_t)hot >=
	       (uint32_t)TIER_SWAP_FACTOR * cold->heat + TIER_SWAP_COST;
}

/*
 * long_pays -- (internal) the same question over the long horizon: heat
 * forgets in four epochs, so a chunk touched every other epoch (heat 0 to
 * 2) never clears swap_pays against one touched every twentieth, though
 * the swap saves an access every other epoch for as long as the hot set
 * holds (at 2/3 of DRAM under zipf(1.2), three times the slow-tier
 * accesses of the best placement were left so). lheat averages over about
 * sixteen epochs, enough to tell those rates apart; the factor 2 and
 * TIER_LONG_COST (an access every other epoch) keep chunks of the same
 * rate from trading places. A chunk that is hotter now (heat) than the
 * one it would replace is not displaced on the long horizon's word.
 */
static bool long_pays(const struct tier_cand *hot,
		      const struct tier_cand *cold)
{
	if (hot->pin != MMFS_HINT_AUTO || cold->pin != MMFS_HINT_AUTO ||
	    cold->heat > hot->heat)
		return false;
	return (uint32_t)hot->lheat >=
	       (uint32_t)TIER_SWAP_FACTOR * cold->lheat + TIER_LONG_COST;
}

/* plan_swap -- (internal) @cold leaves DRAM for @hot (room checked) */
static void plan_swap(struct tier_plan *out, size_t cap, uint32_t cold,
		      uint32_t hot)
{
	push(&out->demote, &out->ndemote, cap, cold);
	push(&out->promote, &out->npromote, cap, hot);
}

int tier_plan(struct tier_cand *c, size_t n, uint64_t dram_total,
	      uint64_t dram_used, uint64_t reserve, uint64_t budget,
	      struct tier_plan *out)
{
	uint64_t high, swaps = 0, max_swaps;
	size_t nd = 0, np = 0, i, cold, hot;
	struct tier_cand *d, *p;
	size_t cap = (size_t)MMFS_MIN(budget, (uint64_t)n);
	uint64_t pinned = 0;
	uint16_t thr;

	/*
	 * The high watermark keeps free only the room new writes need
	 * before the next epoch (@reserve, bounded): below it, promotions
	 * fill free frames and nothing is demoted; above it, the coldest
	 * are demoted down to it.
	 */
	reserve = MMFS_MAX(reserve, dram_total * TIER_RESERVE_MIN_PCT / 100);
	reserve = MMFS_MIN(reserve, dram_total * TIER_RESERVE_MAX_PCT / 100);
	high = dram_total - reserve;
	max_swaps = MMFS_MAX(dram_total * TIER_SWAP_MAX_PCT / 100,
			     (uint64_t)TIER_SWAP_MIN);
	memset(out, 0, sizeof(*out));
	out->promote = malloc((cap + 1) * sizeof(uint32_t));
	out->demote = malloc((cap + 1) * sizeof(uint32_t));
	d = malloc((n + 1) * sizeof(*d));
	p = malloc((n + 1) * sizeof(*p));
	if (!out->promote || !out->demote || !d || !p) {
		free(d);
		free(p);
		free(out->promote);
		free(out->demote);
		memset(out, 0, sizeof(*out));
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		pinned += c[i].pin == MMFS_HINT_DRAM;
	thr = hot_threshold(c, n, high > pinned ? high - pinned : 0);
	/* Split by tier; pins against their tier move first. */
	for (i = 0; i < n; i++) {
		if (c[i].tier == MMFS_TIER_DRAM) {
			if (c[i].pin == MMFS_HINT_PMEM) {
				if (push(&out->demote, &out->ndemote, cap,
					 c[i].id) == 0)
					dram_used--;
			} else {
				d[nd++] = c[i];
			}
		} else if (c[i].pin != MMFS_HINT_PMEM) {
			p[np++] = c[i];
		}
	}
	/* DRAM ascending by heat (coldest first), pinned ones last. */
	for (i = 0; i < nd; i++)
		if (d[i].pin == MMFS_HINT_DRAM)
			d[i].heat = UINT16_MAX;
	qsort(d, nd, sizeof(*d), by_heat_up);
	/* PMEM: pinned to DRAM first, then hottest first. */
	for (i = 0; i < np; i++)
		if (p[i].pin == MMFS_HINT_DRAM)
			p[i].heat = UINT16_MAX;
	qsort(p, np, sizeof(*p), by_heat_up);
	cold = 0;
	hot = np; /* p[hot - 1] is the hottest left */
	/* Above the high watermark: the room new writes need. */
	while (dram_used > high && cold < nd &&
	       d[cold].heat != UINT16_MAX &&
	       out->ndemote + out->npromote < cap) {
		push(&out->demote, &out->ndemote, cap, d[cold++].id);
		dram_used--;
	}
	while (hot > 0 && out->ndemote + out->npromote < cap) {
		struct tier_cand h = p[hot - 1];

		if (h.heat < thr)
			break; /* the rest of PMEM is not in the hot set */
		/* Free frames below the watermark: no demotion needed. */
		if (dram_used < high && dram_used < dram_total) {
			push(&out->promote, &out->npromote, cap, h.id);
			dram_used++;
			hot--;
			continue;
		}
		/* Full: swap with the coldest only if it pays. */
		if (cold >= nd || !swap_pays(h.heat, &d[cold]) ||
		    (swaps >= max_swaps && h.heat != UINT16_MAX) ||
		    out->ndemote + out->npromote + 2 > cap)
			break;
		plan_swap(out, cap, d[cold++].id, h.id);
		swaps++;
		hot--;
	}
	/*
	 * The long horizon, for what is left: p[0, hot) and d[cold, nd),
	 * each now ordered by lheat (the pinned DRAM chunks, heat
	 * UINT16_MAX, never pay). Free frames below the watermark first.
	 */
	qsort(p, hot, sizeof(*p), by_lheat_up);
	qsort(d + cold, nd - cold, sizeof(*d), by_lheat_up);
	while (hot > 0 && out->ndemote + out->npromote < cap) {
		struct tier_cand h = p[hot - 1];

		if (h.pin != MMFS_HINT_AUTO) {
			hot--; /* pinned: pass one's (the cap stopped it) */
			continue;
		}
		if (h.lheat < TIER_LONG_COST)
			break;
		if (dram_used < high && dram_used < dram_total) {
			push(&out->promote, &out->npromote, cap, h.id);
			dram_used++;
			hot--;
			continue;
		}
		/* A DRAM chunk hotter now than h stays; the next may go. */
		while (cold < nd && (d[cold].pin != MMFS_HINT_AUTO ||
				     d[cold].heat > h.heat))
			cold++;
		if (cold >= nd || !long_pays(&h, &d[cold]) ||
		    swaps >= max_swaps ||
		    out->ndemote + out->npromote + 2 > cap)
			break;
		plan_swap(out, cap, d[cold++].id, h.id);
		swaps++;
		hot--;
	}
	free(d);
	free(p);
	return 0;
}

/* --- heat ---------------------------------------------------------------- */

/*
 * heat_decay -- (internal) a counter's value after one epoch: three
 * quarters of it, rounded down (so 1 goes to 0). A chunk touched r times
 * an epoch settles at about 4r: the heat remembers about four epochs, so
 * Poisson noise weighs two thirds of what it does with a halving (spread
 * 0.38/sqrt(r), not 0.58/sqrt(r)), and a hot set that moves still takes
 * over in a few epochs (an old heat loses a quarter an epoch).
 */
static uint16_t heat_decay(uint16_t h)
{
	return (uint16_t)((3u * h) >> 2);
}

void tier_age_epoch(struct tier_age *a, struct tier_cand *c, bool active)
{
	uint32_t got = c->heat > a->left ? (uint32_t)(c->heat - a->left) : 0u;
	uint32_t l = a->lheat;

	if (active)
		l -= (l + (1u << TIER_LHEAT_SHIFT) - 1) >> TIER_LHEAT_SHIFT;
	l += MMFS_MIN(got, (uint32_t)UINT16_MAX) * TIER_LHEAT_ADD;
	a->lheat = (uint16_t)MMFS_MIN(l, (uint32_t)UINT16_MAX);
	a->left = heat_decay(c->heat);
	c->lheat = a->lheat;
}

uint16_t mmfs_tier_chunk_heat(const struct mmfs_tier *t, uint32_t id)
{
	return __atomic_load_n(&t->heat[id], __ATOMIC_RELAXED);
}

void mmfs_tier_chunk_inherit(struct mmfs_tier *t, uint32_t id, uint32_t from)
{
	if (!t->tiered || id < 1 || id > t->max_id || from < 1 ||
	    from > t->max_id)
		return;
	__atomic_store_n(&t->heat[id],
			 __atomic_load_n(&t->heat[from], __ATOMIC_RELAXED),
			 __ATOMIC_RELAXED);
}

void mmfs_tier_chunk_sampled(struct mmfs_tier *t, uint32_t id)
{
	if (!t->tiered || id < 1 || id > t->max_id)
		return;
	atomic_fetch_or_explicit(&t->sampled[id >> 6], 1ull << (id & 63),
				 memory_order_relaxed);
	atomic_store_explicit(&t->sampling, true, memory_order_relaxed);
}

void mmfs_tier_chunk_hint(struct mmfs_tier *t, uint32_t id,
			  enum mmfs_tier_hint hint)
{
	pthread_mutex_lock(&t->lock);
	if (id >= 1 && id <= t->max_id && t->chunks[id].used)
		t->chunks[id].pin = hint & 3;
	pthread_mutex_unlock(&t->lock);
}

/*
 * The calling thread's bracket: which stripes it holds shared. One per
 * thread, as a request runs on one thread from its first chunk_addr to
 * its reply; brackets do not nest (tier.h).
 */
struct tier_io {
	struct mmfs_tier *t; /* the bracket's tier; NULL: none open */
	uint64_t held[TIER_STRIPES / 64];
	unsigned nheld; /* bits set in held */
};

static __thread struct tier_io io_cur;

void mmfs_tier_io_begin(struct mmfs_tier *t)
{
	if (!t->tiered)
		return;
	MMFS_ASSERT(io_cur.t == NULL); /* not recursive */
	io_cur.t = t;
}

/*
 * stripe_rdlock_more -- (internal) a bracket's second and later stripes.
 * Requests take them in the order they meet chunks, so two may take two
 * in opposite orders: safe (fs/LOCKING.md level 10), and the one place
 * the race run's suppressions name (tests/tsan.supp), so that no other
 * lock cycle through a stripe goes unreported.
 */
static __attribute__((noinline)) void
stripe_rdlock_more(struct tier_stripe *st)
{
	pthread_rwlock_rdlock(&st->lock);
}

void tier_io_hold(struct mmfs_tier *t, uint32_t id)
{
	unsigned s = id & (TIER_STRIPES - 1);
	uint64_t bit = 1ull << (s & 63);

	if (io_cur.t != t || (io_cur.held[s >> 6] & bit))
		return;
	if (!io_cur.nheld++)
		pthread_rwlock_rdlock(&t->stripe[s].lock);
	else
		stripe_rdlock_more(&t->stripe[s]);
	io_cur.held[s >> 6] |= bit;
}

void mmfs_tier_io_end(struct mmfs_tier *t)
{
	unsigned w;

	if (!t->tiered)
		return;
	MMFS_ASSERT(io_cur.t == t);
	for (w = 0; w < TIER_STRIPES / 64; w++) {
		uint64_t bits = io_cur.held[w];

		while (bits) {
			unsigned s = w * 64 + (unsigned)__builtin_ctzll(bits);

			bits &= bits - 1;
			pthread_rwlock_unlock(&t->stripe[s].lock);
		}
		io_cur.held[w] = 0;
	}
	io_cur.nheld = 0;
	io_cur.t = NULL;
}

/* --- migration ------------------------------------------------------------ */

/*
 * One chunk to move. Slots name DRAM frames, or slots of the volatile slow
 * tier; a pool's PMEM side needs none (the home is the id).
 */
struct move {
	uint32_t id;
	uint32_t from_slot;  /* where the bytes are (0: a pool home) */
	uint32_t to_slot;    /* where they go (0: a pool home) */
	bool promote;
	bool ok;
	bool give_back;      /* undone: to_slot holds a copy nobody uses */
};

static char *frame(const struct mmfs_tier *t, uint32_t slot)
{
	return t->dram.base + ((size_t)slot << t->chunk_shift);
}

/* slow -- (internal) the slow-tier bytes of chunk @id at @slot */
static char *slow(const struct mmfs_tier *t, uint32_t id, uint32_t slot)
{
	if (t->pool)
		return mmfs_pool_slot_addr(t->pool, id - 1);
	return t->slow.base + ((size_t)slot << t->chunk_shift);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* drain -- (internal) fence non-temporal copies to a pool */
static void drain(struct mmfs_tier *t)
{
	if (t->pool)
		mmfs_pool_drain(t->pool);
}

/* give -- (internal) discard a slot's copy and free the slot */
static void give(struct mmfs_tier *t, struct tier_dram *a, uint32_t slot)
{
	tier_dram_slot_discard(a, slot, t->chunk_size);
	pthread_mutex_lock(&t->lock);
	tier_dram_slot_put_locked(a, slot);
	pthread_mutex_unlock(&t->lock);
}

static void touched_clear(struct mmfs_tier *t, uint32_t id)
{
	atomic_fetch_and_explicit(&t->touched[id >> 6], ~(1ull << (id & 63)),
				  memory_order_acq_rel);
}

static bool touched(struct mmfs_tier *t, uint32_t id)
{
	return atomic_load_explicit(&t->touched[id >> 6],
				    memory_order_acquire) &
	       (1ull << (id & 63));
}

/* copy_from -- (internal) @m's chunk, its bytes at @src, to its new place */
static void copy_from(struct mmfs_tier *t, const struct move *m,
		      const void *src)
{
	if (m->promote)
		memcpy(frame(t, m->to_slot), src, t->chunk_size);
	else if (t->pool)
		mmfs_pool_copy(t->pool, slow(t, m->id, 0), src, t->chunk_size);
	else
		memcpy(slow(t, m->id, m->to_slot), src, t->chunk_size);
}

/* move_src -- (internal) where @m's bytes are now */
static const void *move_src(const struct mmfs_tier *t, const struct move *m)
{
	return m->promote ? slow(t, m->id, m->from_slot)
			  : frame(t, m->from_slot);
}

/* copy_one -- (internal) @m's bytes to their new place */
static void copy_one(struct mmfs_tier *t, const struct move *m)
{
	copy_from(t, m, move_src(t, m));
}

#ifdef __SANITIZE_THREAD__
/* the ThreadSanitizer runtime's annotations (the race run only) */
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#endif

/*
 * copy_beside_io -- (internal) a batch's first copy of @m, with no lock
 * against writers: its loads race with a request's stores into the chunk
 * by design (a chunk touched meanwhile is copied again under its stripe).
 * Under ThreadSanitizer only those loads are hidden, through a bounce
 * buffer, so the stores into the new place stay checked: one racing a
 * writeback's copy into a home is a real bug (tier/README.md).
 */
static void copy_beside_io(struct mmfs_tier *t, const struct move *m)
{
#ifdef __SANITIZE_THREAD__
	void *bounce = malloc(t->chunk_size);

	if (bounce) {
		AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
		memcpy(bounce, move_src(t, m), t->chunk_size);
		AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
		copy_from(t, m, bounce);
		free(bounce);
		return;
	}
#endif
	copy_one(t, m);
}

/*
 * prepare -- (internal) check @m against the chunk's current placement and
 * take a slot at its destination: a DRAM frame for a promotion, a slow-tier
 * slot for a demotion without a pool. Under tier->lock.
 */
static bool prepare_locked(struct mmfs_tier *t, struct move *m)
{
	struct tier_chunk c = t->chunks[m->id];

	MMFS_HELD(&t->lock);
	if (!c.used || (c.tier == MMFS_TIER_DRAM) == m->promote)
		return false;
	m->from_slot = c.slot;
	m->to_slot = 0;
	if (m->promote)
		return tier_dram_slot_get_locked(&t->dram, &m->to_slot) == 0;
	if (!t->pool)
		return tier_dram_slot_get_locked(&t->slow, &m->to_slot) == 0;
	return true;
}

/*
 * stripe_wrlock -- (internal) take @st exclusively, waiting for its
 * readers (requests on its chunks) to go until @deadline (CLOCK_MONOTONIC
 * ns), shared by a whole batch: the engine never blocks while others wait
 * for it, and a stripe kept busy only undoes one move (it comes back next
 * epoch). Past the deadline one try is all. Returns 0, or -EBUSY without
 * the lock.
 */
#define REMAP_WAIT_NS 20000000ull /* a batch's whole wait for stripes */
static int stripe_wrlock(struct tier_stripe *st, uint64_t deadline)
{
	struct timespec pause = { 0, 20000 };
	unsigned tries;

	for (tries = 0;; tries++) {
		if (pthread_rwlock_trywrlock(&st->lock) == 0)
			return 0;
		if (mono_ns() >= deadline)
			return -EBUSY;
		if (tries < 8)
			sched_yield();
		else
			nanosleep(&pause, NULL);
	}
}

/*
 * remap_locked -- (internal) switch @m's placement, copying again if it
 * was written during its copy. Under tier->lock and, unless @busy (the
 * stripe could not be had: undo), @m's stripe exclusively: no request is
 * between asking where the chunk is and its reply. Returns 1 when moved,
 * 0 when undone (freed, moved or written by someone else meanwhile),
 * @busy when undone for want of the stripe.
 */
static int remap_locked(struct mmfs_tier *t, struct move *m, int busy)
{
	struct tier_chunk *c = &t->chunks[m->id];

	MMFS_HELD(&t->lock);
	/* Freed (or moved) while we copied, or busy: undo. */
	if (busy || !c->used || (c->tier == MMFS_TIER_DRAM) == m->promote ||
	    c->slot != m->from_slot) {
		m->give_back = m->promote || !t->pool;
		m->ok = false;
		if (busy)
			t->remap_busy++;
		return busy;
	}
	if (touched(t, m->id)) {
		copy_one(t, m);
		drain(t); /* before anyone reads the new place */
	}
	if (m->promote) {
		c->tier = MMFS_TIER_DRAM;
		t->used[MMFS_TIER_PMEM]--;
		t->used[MMFS_TIER_DRAM]++;
	} else {
		c->tier = MMFS_TIER_PMEM;
		t->used[MMFS_TIER_DRAM]--;
		t->used[MMFS_TIER_PMEM]++;
	}
	c->slot = m->to_slot;
	return 1;
}

/*
 * run_batch -- (internal) move up to BATCH chunks: copy beside the I/O,
 * then remap each under its stripe, copying again what was written
 * meanwhile. Requests on other chunks never wait.
 */
static void run_batch(struct mmfs_tier *t, struct move *m, size_t n)
{
	uint64_t moved = 0, prom = 0, dem = 0, deadline;
	size_t i;

	/*
	 * From the check to the last copy's fence, no freed id is handed
	 * out again and no writeback copies into a home (move_lock): a pool
	 * demotion writes into the home its id names, with bytes that may
	 * be older than a writeback's.
	 */
	pthread_mutex_lock(&t->move_lock);
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < n; i++)
		m[i].ok = prepare_locked(t, &m[i]);
	pthread_mutex_unlock(&t->lock);
	for (i = 0; i < n; i++) {
		if (!m[i].ok)
			continue;
		touched_clear(t, m[i].id);
		copy_beside_io(t, &m[i]);
	}
	/*
	 * A chunk freed from here on (even handed out again) fails the
	 * remap's check, or is a DRAM chunk in the same frame, touched by
	 * its allocation, and copied again under its stripe: its home is
	 * written only if it is still the chunk being demoted.
	 */
	/* Non-temporal copies: fenced before a writeback pass may copy
	 * after them (it holds move_lock), visible to all. */
	drain(t);
	pthread_mutex_unlock(&t->move_lock);
	deadline = mono_ns() + REMAP_WAIT_NS;
	for (i = 0; i < n; i++) {
		struct tier_stripe *st = tier_stripe_of(t, m[i].id);
		int rc;

		if (!m[i].ok)
			continue;
		rc = stripe_wrlock(st, deadline);
		pthread_mutex_lock(&t->lock);
		rc = remap_locked(t, &m[i], rc);
		if (rc > 0) {
			moved += t->chunk_size;
			if (m[i].promote)
				prom++;
			else
				dem++;
		}
		pthread_mutex_unlock(&t->lock);
		if (rc >= 0)
			pthread_rwlock_unlock(&st->lock);
	}
	pthread_mutex_lock(&t->lock);
	t->promotions += prom;
	t->demotions += dem;
	t->moved_bytes += moved;
	pthread_mutex_unlock(&t->lock);
	/*
	 * Slots that hold a copy nobody uses -- a moved chunk's old one, an
	 * undone move's new one -- are discarded before they are free again:
	 * a new chunk must read as zeros.
	 */
	for (i = 0; i < n; i++) {
		if (m[i].give_back) {
			give(t, m[i].promote ? &t->dram : &t->slow,
			     m[i].to_slot);
			continue;
		}
		if (!m[i].ok)
			continue;
		if (m[i].promote) {
			if (!t->pool)
				give(t, &t->slow, m[i].from_slot);
			continue;
		}
		/* A pool home now has bytes a writeback must persist. */
		mmfs_tier_chunk_dirty(t, m[i].id);
		give(t, &t->dram, m[i].from_slot);
	}
}

static void migrate(struct mmfs_tier *t, const struct tier_plan *pl)
{
	struct move m[BATCH];
	size_t i, n = 0;

	/* Demotions first: they make the room promotions take. */
	for (i = 0; i < pl->ndemote; i++) {
		m[n++] = (struct move){ .id = pl->demote[i] };
		if (n == BATCH) {
			run_batch(t, m, n);
			n = 0;
		}
	}
	if (n)
		run_batch(t, m, n);
	n = 0;
	for (i = 0; i < pl->npromote; i++) {
		m[n++] = (struct move){ .id = pl->promote[i], .promote = true };
		if (n == BATCH) {
			run_batch(t, m, n);
			n = 0;
		}
	}
	if (n)
		run_batch(t, m, n);
}

/* --- epochs ---------------------------------------------------------------- */

void mmfs_tier_engine_epoch(struct mmfs_tier *t)
{
	struct tier_cand *c;
	struct tier_plan pl;
	uint64_t dram_used, budget, allocs, heat = 0, left = 0;
	uint32_t id, last, end;
	size_t n = 0, i;
	bool active;

	pthread_mutex_lock(&t->lock);
	last = t->id_next;
	dram_used = t->used[MMFS_TIER_DRAM];
	allocs = t->allocs;
	pthread_mutex_unlock(&t->lock);
	c = malloc((size_t)last * sizeof(*c) + 1);
	if (!c)
		return;
	/* Pages past the ids in use stay untouched; if it fails, the plan
	 * has no long horizon (lheat 0: the heat rules alone). */
	if (!t->age)
		t->age = calloc((size_t)t->max_id + 1, sizeof(*t->age));
	/*
	 * Decay and gather in one pass, a batch of entries per hold of the
	 * lock (an allocation waits one batch at most). The plan is advice
	 * all the same: run_batch checks every move again.
	 */
	for (id = 1; id < last;) {
		end = MMFS_MIN(last, id + TIER_SCAN_BATCH);
		pthread_mutex_lock(&t->lock);
		for (; id < end; id++) {
			const struct tier_chunk *e = &t->chunks[id];
			uint16_t h = __atomic_load_n(&t->heat[id],
						     __ATOMIC_RELAXED);

			if (h)
				__atomic_store_n(&t->heat[id], heat_decay(h),
						 __ATOMIC_RELAXED);
			heat += h;
			left += heat_decay(h);
			if (!e->used) {
				/* a new chunk under this id starts afresh */
				if (t->age)
					t->age[id] = (struct tier_age){ 0 };
				continue;
			}
			c[n++] = (struct tier_cand){ .id = id, .heat = h,
						     .tier = e->tier,
						     .pin = e->pin };
		}
		pthread_mutex_unlock(&t->lock);
	}
	/*
	 * The long horizon ages only while something is read or written
	 * (heat grew since the last decay): a mount at rest must not forget
	 * its hot set before the work comes back.
	 */
	active = heat > t->heat_left;
	t->heat_left = left;
	for (i = 0; t->age && i < n; i++)
		tier_age_epoch(&t->age[c[i].id], &c[i], active);
	budget = __atomic_load_n(&t->migrate_bps, __ATOMIC_RELAXED) *
		 t->epoch_ms / 1000 / t->chunk_size;
	/* New writes of the next epoch need what this one allocated. */
	if (tier_plan(c, n, t->dram.nslots, dram_used,
		      allocs - t->plan_allocs, MMFS_MAX(budget, 1), &pl) == 0) {
		migrate(t, &pl);
		free(pl.promote);
		free(pl.demote);
	}
	t->plan_allocs = allocs;
	free(c);
	pthread_mutex_lock(&t->lock);
	t->epochs++;
	pthread_mutex_unlock(&t->lock);
}

void mmfs_tier_set_migrate(struct mmfs_tier *t, uint64_t bps)
{
	/* Read once an epoch by the engine thread. */
	__atomic_store_n(&t->migrate_bps, bps, __ATOMIC_RELAXED);
}

unsigned mmfs_tier_epoch_ms(const struct mmfs_tier *t)
{
	return t->epoch_ms;
}

static void engine_tick(void *arg)
{
	mmfs_tier_engine_epoch(arg);
}

int mmfs_tier_engine_start(struct mmfs_tier *t)
{
	if (!t->tiered || t->engine)
		return -EINVAL;
	return mmfs_ticker_start(t->epoch_ms, engine_tick, t, &t->engine);
}

void mmfs_tier_engine_stop(struct mmfs_tier *t)
{
	mmfs_ticker_stop(&t->engine);
	free(t->age); /* no epoch runs now; the next one allocates again */
	t->age = NULL;
}

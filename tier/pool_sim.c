/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool_sim.c -- power-loss simulation of a pool file (-o powerloss_sim,
 * MMFS_POOL_POWERLOSS): a test-only mapping in which a store reaches the
 * file only through the pool's own persist points, so that kill -9 of the
 * daemon is a power loss.
 *
 * A pool file mapped MAP_SHARED keeps every store of a killed daemon in the
 * host's page cache: a crash test on it tests a process crash. Here the pool
 * is mapped MAP_PRIVATE, so stores stay in the daemon's own copy-on-write
 * pages and die with it; the persistence primitives libpmem2 would give
 * (flush, drain, persist, memcpy, memset) are replaced by ones that write
 * the flushed bytes to the file with pwrite(2). As on real PMEM:
 * - a store never flushed is lost at the crash;
 * - a flushed range reaches the file in whole cache lines, either at once
 *   or at the flushing thread's next drain (chosen at random per flush), so
 *   at a crash what was flushed but not drained survives in an arbitrary
 *   subset; a drain writes its thread's pending lines in a random order;
 * - a drain fences only its own thread's flushes (sfence is per CPU).
 * What the file then holds is one state real hardware could have left.
 *
 * The primitives carry no context (they have libpmem2's signatures), so the
 * simulation is one per process: the daemon has one pool. It is never on by
 * default, and pool.c refuses it on a devdax device.
 */
#include <errno.h>
#include <libpmem2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tier/pool_sim.h"
#include "utils/log.h"

#define SIM_LINE 64u	  /* what one flush instruction writes back */
#define SIM_PENDING 256u /* ranges a thread may hold between drains */

struct sim_range {
	uint64_t off, len;
};

static struct {
	int fd;
	char *base;
	uint64_t len;
	pthread_mutex_t lock; /* the random state */
	uint64_t rng;
	atomic_uint_fast64_t errors; /* failed writes: the first is logged */
} sim = { .fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

/* flushed, not yet drained: this thread's only */
static __thread struct sim_range pending[SIM_PENDING];
static __thread unsigned npending;

static uint64_t sim_rand(void)
{
	uint64_t x;

	pthread_mutex_lock(&sim.lock);
	x = sim.rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	sim.rng = x;
	pthread_mutex_unlock(&sim.lock);
	return x;
}

/* sim_write -- (internal) the bytes of [off, off + len) reach the file */
static void sim_write(uint64_t off, uint64_t len)
{
	while (len) {
		ssize_t n = pwrite(sim.fd, sim.base + off, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The file's filesystem is full or failing: as a
			 * power loss would, these bytes are lost. */
			if (atomic_fetch_add(&sim.errors, 1) == 0)
				mmfs_err("powerloss_sim: writing the pool "
					     "file failed: %s",
					     n < 0 ? strerror(errno)
						   : "short write");
			return;
		}
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
}

void pool_sim_drain(void)
{
	unsigned i, n = npending;

	/* In a random order: a crash may land between any two. */
	for (i = n; i > 1; i--) {
		unsigned j = (unsigned)(sim_rand() % i);
		struct sim_range t = pending[i - 1];

		pending[i - 1] = pending[j];
		pending[j] = t;
	}
	for (i = 0; i < n; i++)
		sim_write(pending[i].off, pending[i].len);
	npending = 0;
}

void pool_sim_flush(const void *addr, size_t len)
{
	uint64_t lo, hi;

	if (!len || (const char *)addr < sim.base ||
	    (const char *)addr >= sim.base + sim.len)
		return;
	lo = (uint64_t)((const char *)addr - sim.base) & ~(uint64_t)(SIM_LINE - 1);
	hi = (uint64_t)((const char *)addr - sim.base) + len;
	hi = (hi + SIM_LINE - 1) & ~(uint64_t)(SIM_LINE - 1);
	if (hi > sim.len)
		hi = sim.len;
	if (sim_rand() & 1) {
		sim_write(lo, hi - lo); /* the cache wrote it back at once */
		return;
	}
	if (npending == SIM_PENDING)
		pool_sim_drain(); /* the caches may write back any time */
	pending[npending++] = (struct sim_range){ .off = lo, .len = hi - lo };
}

void pool_sim_persist(const void *addr, size_t len)
{
	pool_sim_flush(addr, len);
	pool_sim_drain();
}

/* stored (as libpmem2's memcpy and memset): persisted as @flags ask */
static void sim_stored(void *dst, size_t len, unsigned flags)
{
	if (flags & PMEM2_F_MEM_NOFLUSH)
		return;
	pool_sim_flush(dst, len);
	if (!(flags & PMEM2_F_MEM_NODRAIN))
		pool_sim_drain();
}

void *pool_sim_memcpy(void *dst, const void *src, size_t len, unsigned flags)
{
	memcpy(dst, src, len);
	sim_stored(dst, len, flags);
	return dst;
}

void *pool_sim_memset(void *dst, int c, size_t len, unsigned flags)
{
	memset(dst, c, len);
	sim_stored(dst, len, flags);
	return dst;
}

int pool_sim_map(int fd, uint64_t len, uint64_t seed, char **base)
{
	void *m;

	if (sim.base)
		return -EBUSY;
	m = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
		 0);
	if (m == MAP_FAILED)
		return -errno;
	sim.fd = fd;
	sim.base = m;
	sim.len = len;
	sim.rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	atomic_store(&sim.errors, 0);
	*base = m;
	return 0;
}

void pool_sim_unmap(void)
{
	if (!sim.base)
		return;
	pool_sim_drain();
	munmap(sim.base, (size_t)sim.len);
	sim.base = NULL;
	sim.fd = -1;
	sim.len = 0;
}

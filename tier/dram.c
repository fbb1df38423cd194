/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dram.c -- a memory arena: an anonymous reservation of a whole budget,
 * bound to the chosen NUMA nodes with libnuma, cut into chunk-sized slots.
 * The DRAM tier is one; a volatile slow tier on a CPU-less (CXL) node is
 * another. Owns slot allocation only; ids and accounting live in tier.c.
 */
#include <errno.h>
#include <numa.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tier/tier_i.h"
#include "utils/held.h"
#include "utils/err.h"
#include "utils/log.h"

/*
 * libnuma reports through these two weak symbols, which an application may
 * override: route them to our log, so that a bad dram_nodes= gives one
 * line (ours, with the option's name), not libnuma's warning as well.
 */
void numa_warn(int num, char *fmt, ...)
{
	(void)num;
	(void)fmt;
}

void numa_error(char *where)
{
	mmfs_debug("libnuma: %s failed", where);
}

/*
 * parse_nodes -- (internal) a libnuma node list, or NULL after one line
 * naming the option (@what) that gave it
 */
static struct bitmask *parse_nodes(const char *what, const char *nodes)
{
	struct bitmask *mask;

	if (numa_available() < 0) {
		mmfs_err("%s=%s: this kernel has no NUMA support", what, nodes);
		return NULL;
	}
	mask = numa_parse_nodestring(nodes);
	if (!mask)
		mmfs_err("%s=%s: not a node list of this machine", what, nodes);
	return mask;
}

int mmfs_tier_nodes_info(const char *what, const char *nodes,
			 uint64_t *bytes, int *cpu_node)
{
	struct bitmask *mask, *cpus;
	unsigned node;
	int rc = 0;

	mask = parse_nodes(what, nodes);
	if (!mask)
		return -EINVAL;
	cpus = numa_allocate_cpumask();
	*bytes = 0;
	*cpu_node = -1;
	for (node = 0; node < mask->size; node++) {
		long long size;

		if (!numa_bitmask_isbitset(mask, node))
			continue;
		size = numa_node_size64((int)node, NULL);
		if (size <= 0) {
			mmfs_err("%s=%s: node %u has no memory", what, nodes,
				 node);
			rc = -EINVAL;
			goto out;
		}
		*bytes += (uint64_t)size;
		if (*cpu_node < 0 && cpus &&
		    numa_node_to_cpus((int)node, cpus) == 0 &&
		    numa_bitmask_weight(cpus) > 0)
			*cpu_node = (int)node;
	}
out:
	if (cpus)
		numa_bitmask_free(cpus);
	numa_bitmask_free(mask);
	return rc;
}

/* bind_nodes -- (internal) bind the reservation to a libnuma node list */
static int bind_nodes(struct tier_dram *d, const char *what,
		      const char *nodes)
{
	struct bitmask *mask;

	mask = parse_nodes(what, nodes);
	if (!mask)
		return -EINVAL;
	/* Pages are bound as they fault in; nothing is allocated here. */
	numa_tonodemask_memory(d->base, d->bytes, mask);
	numa_bitmask_free(mask);
	return 0;
}

int tier_dram_init(struct tier_dram *d, uint64_t bytes, uint32_t chunk_size,
		   const char *what, const char *nodes)
{
	int rc;

	d->nslots = (uint32_t)MMFS_MIN(bytes / chunk_size,
				       (uint64_t)MMFS_TIER_ID_MAX);
	d->bytes = (size_t)d->nslots * chunk_size;
	d->next = 0;
	d->nfree = 0;
	d->base = NULL;
	d->free = NULL;
	if (d->nslots == 0)
		return 0;
	d->base = mmap(NULL, d->bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (d->base == MAP_FAILED) {
		rc = MMFS_ERRNO();
		d->base = NULL;
		mmfs_err("cannot reserve %zu bytes for %s: %s", d->bytes,
			 what, strerror(-rc));
		return rc;
	}
	/* The free stack is only touched as slots are freed. */
	d->free = mmap(NULL, (size_t)d->nslots * sizeof(uint32_t),
		       PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (d->free == MAP_FAILED) {
		rc = MMFS_ERRNO();
		d->free = NULL;
		goto out_unmap_base;
	}
	if (nodes && *nodes) {
		rc = bind_nodes(d, what, nodes);
		if (rc < 0)
			goto out_unmap_free;
	}
	return 0;

out_unmap_free:
	munmap(d->free, (size_t)d->nslots * sizeof(uint32_t));
	d->free = NULL;
out_unmap_base:
	munmap(d->base, d->bytes);
	d->base = NULL;
	return rc;
}

void tier_dram_fini(struct tier_dram *d)
{
	if (d->free)
		munmap(d->free, (size_t)d->nslots * sizeof(uint32_t));
	if (d->base)
		munmap(d->base, d->bytes);
	d->free = NULL;
	d->base = NULL;
}

int tier_dram_slot_get_locked(struct tier_dram *d, uint32_t *slot)
{
	MMFS_HELD(d->lock);
	if (d->nfree) {
		*slot = d->free[--d->nfree];
		return 0;
	}
	if (d->next < d->nslots) {
		*slot = d->next++;
		return 0;
	}
	return -ENOSPC;
}

void tier_dram_slot_put_locked(struct tier_dram *d, uint32_t slot)
{
	MMFS_HELD(d->lock);
	MMFS_ASSERT(d->nfree < d->nslots);
	d->free[d->nfree++] = slot;
}

void tier_dram_slot_discard(struct tier_dram *d, uint32_t slot,
			    uint32_t chunk_size)
{
	/*
	 * Give the pages back now: a memory filesystem that keeps deleted
	 * files' memory is a leak to its users. It also makes the slot read
	 * as zeros when it is handed out again, which a fresh chunk needs.
	 */
	if (madvise(d->base + (size_t)slot * chunk_size, chunk_size,
		    MADV_DONTNEED) < 0)
		memset(d->base + (size_t)slot * chunk_size, 0, chunk_size);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool_sim.h -- tier/'s private interface to the power-loss simulation of
 * a pool file (pool_sim.c): pool.c maps a pool with pool_sim_map instead
 * of libpmem2 when MMFS_POOL_POWERLOSS asks for it, and uses these
 * primitives in place of libpmem2's (same signatures).
 */
#ifndef MMFS_TIER_POOL_SIM_H
#define MMFS_TIER_POOL_SIM_H

#include <stddef.h>
#include <stdint.h>

/*
 * pool_sim_map -- map @len bytes of pool file @fd MAP_PRIVATE at *@base;
 * @seed drives the random choices (0: a fixed one). 0, -EBUSY (one
 * simulation per process), or -errno of mmap.
 */
int pool_sim_map(int fd, uint64_t len, uint64_t seed, char **base);
/* pool_sim_unmap -- drain the calling thread and unmap */
void pool_sim_unmap(void);

void pool_sim_flush(const void *addr, size_t len);
void pool_sim_drain(void);
void pool_sim_persist(const void *addr, size_t len);
void *pool_sim_memcpy(void *dst, const void *src, size_t len, unsigned flags);
void *pool_sim_memset(void *dst, int c, size_t len, unsigned flags);

#endif

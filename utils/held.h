/* SPDX-License-Identifier: Apache-2.0 */
/*
 * held.h -- debug checks that the calling thread holds a lock, for the
 * `_locked` functions (MMFS_HELD, MMFS_HELD_WR, MMFS_HELD_RD: nothing in a
 * release build).
 *
 * A mutex or a write-held rwlock names its owner in glibc's lock word
 * (__owner, __cur_writer: the holder's tid), so those checks are exact. A
 * read-held rwlock records no owner: MMFS_HELD_RD checks only that someone
 * holds it (a write try fails), which still catches a caller that took
 * nothing.
 */
#ifndef MMFS_UTILS_HELD_H
#define MMFS_UTILS_HELD_H

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "utils/err.h"

static inline bool mmfs_held_mutex(const pthread_mutex_t *m)
{
	return m->__data.__owner == gettid();
}

static inline bool mmfs_held_wr(const pthread_rwlock_t *l)
{
	return l->__data.__cur_writer == gettid();
}

/* mmfs_held_any -- held by this thread exclusively, or by someone shared */
static inline bool mmfs_held_any(pthread_rwlock_t *l)
{
	if (mmfs_held_wr(l))
		return true;
	if (pthread_rwlock_trywrlock(l) != 0)
		return true;
	pthread_rwlock_unlock(l);
	return false;
}

#define MMFS_HELD(m) MMFS_DEBUG_ASSERT(mmfs_held_mutex(m))
#define MMFS_HELD_WR(l) MMFS_DEBUG_ASSERT(mmfs_held_wr(l))
#define MMFS_HELD_RD(l) MMFS_DEBUG_ASSERT(mmfs_held_any(l))

#endif /* MMFS_UTILS_HELD_H */

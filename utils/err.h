/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error conventions shared by every layer: functions return 0 (or a count)
 * on success and a negative errno on failure. The sign flips once, at the
 * FUSE boundary in fs/.
 */
#ifndef MMFS_UTILS_ERR_H
#define MMFS_UTILS_ERR_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * mmfs_errno_neg -- -errno after a failed libc call. A libc call that failed
 * without setting errno is a bug we must not turn into "success".
 */
static inline int mmfs_errno_neg(void)
{
	return errno > 0 ? -errno : -EIO;
}
#define MMFS_ERRNO() mmfs_errno_neg()

/* Cheap invariants: kept in release builds, as a corrupted fs is worse. */
#define MMFS_ASSERT(cond)                                                    \
	do {                                                                 \
		if (__builtin_expect(!(cond), 0)) {                          \
			fprintf(stderr, "mmfs: assertion '%s' failed at %s:%d\n", \
				#cond, __FILE__, __LINE__);                  \
			abort();                                             \
		}                                                            \
	} while (0)

/*
 * Dearer checks (held locks, open transactions): Debug and sanitized builds
 * only (CMakeLists.txt defines MMFS_DEBUG). A release build still compiles
 * the condition, unevaluated, so it cannot rot.
 */
#ifdef MMFS_DEBUG
#define MMFS_DEBUG_ASSERT(cond) MMFS_ASSERT(cond)
#else
#define MMFS_DEBUG_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#define MMFS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MMFS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MMFS_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif

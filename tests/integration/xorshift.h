/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xorshift.h -- the C test helpers' one random generator (xorshift64):
 * deterministic for a seed, so a failing run repeats. Each helper is one
 * process (or one process per worker), so the state is a file static; the
 * helper seeds it (rs = nonzero) before the first rnd().
 */
#ifndef MMFS_TESTS_XORSHIFT_H
#define MMFS_TESTS_XORSHIFT_H

#include <stdint.h>

static uint64_t rs;

static inline uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

/* below -- uniform enough in [0, n); 0 for n = 0 */
static inline uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

#endif

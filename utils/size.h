/* SPDX-License-Identifier: Apache-2.0 */
/* Human sizes: "64K", "8G", "1.5T", "4096", and percentages of a total. */
#ifndef MMFS_UTILS_SIZE_H
#define MMFS_UTILS_SIZE_H

#include <stdint.h>

/*
 * mmfs_size_parse -- parse "N[.F][K|M|G|T|P][i][B]" (binary multiples, as
 * mount(8) and tmpfs size= do). Returns 0, or -EINVAL for anything else
 * (empty, negative, trailing junk) and -ERANGE past UINT64_MAX.
 */
int mmfs_size_parse(const char *s, uint64_t *out);

/*
 * mmfs_size_parse_pct -- as mmfs_size_parse, but "N%" means N percent of
 * @total (0 < N <= 100, as tmpfs size=N%).
 */
int mmfs_size_parse_pct(const char *s, uint64_t total, uint64_t *out);

/* mmfs_size_format -- "1.5G"-style rendering into @buf (at least 16 bytes). */
void mmfs_size_format(uint64_t bytes, char *buf, unsigned long len);

#endif

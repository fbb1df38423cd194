/* SPDX-License-Identifier: Apache-2.0 */
/* size.c -- parsing and printing of human-readable sizes */
#include "utils/size.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int shift_of(char c)
{
	switch (toupper((unsigned char)c)) {
	case 'K': return 10;
	case 'M': return 20;
	case 'G': return 30;
	case 'T': return 40;
	case 'P': return 50;
	default: return -1;
	}
}

/*
 * parse_number -- (internal) digits with an optional fraction, no sign.
 * The fraction is kept exact, as @num / @den (den = 10^digits), so that
 * "0.015625K" is 16 bytes, not 15.999... truncated to 15.
 */
static int parse_number(const char *s, const char **end, uint64_t *ip,
			uint64_t *num, uint64_t *den)
{
	const char *p = s;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*num = 0;
	*den = 1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		/* 18 digits are below a byte even at P; the rest are ignored */
		for (; isdigit((unsigned char)*p); p++) {
			if (*den >= 1000000000000000000ULL)
				continue;
			*num = *num * 10 + (uint64_t)(*p - '0');
			*den *= 10;
		}
	}
	*ip = v;
	*end = p;
	return 0;
}

int mmfs_size_parse(const char *s, uint64_t *out)
{
	unsigned __int128 v;
	const char *p;
	uint64_t ip, num, den;
	int shift = 0;
	int rc;

	if (!s)
		return -EINVAL;
	rc = parse_number(s, &p, &ip, &num, &den);
	if (rc < 0)
		return rc;
	if (*p && shift_of(*p) >= 0) {
		shift = shift_of(*p++);
		if (*p == 'i' || *p == 'I')
			p++;
	}
	if (*p == 'B' || *p == 'b')
		p++;
	if (*p)
		return -EINVAL;
	v = ((unsigned __int128)ip << shift) +
	    ((unsigned __int128)num << shift) / den;
	if (v > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

int mmfs_size_parse_pct(const char *s, uint64_t total, uint64_t *out)
{
	size_t len = s ? strlen(s) : 0;
	uint64_t pct, num, den;
	const char *p;
	int rc;

	if (len == 0 || s[len - 1] != '%')
		return mmfs_size_parse(s, out);
	rc = parse_number(s, &p, &pct, &num, &den);
	if (rc < 0)
		return rc;
	if (p != s + len - 1)
		return -EINVAL;
	if ((pct == 0 && num == 0) || pct > 100 || (pct == 100 && num > 0))
		return -EINVAL;
	/* total * (pct + num/den) / 100, exactly, in 128 bits */
	*out = (uint64_t)((unsigned __int128)total *
			  ((unsigned __int128)pct * den + num) /
			  ((unsigned __int128)den * 100));
	return 0;
}

void mmfs_size_format(uint64_t bytes, char *buf, unsigned long len)
{
	static const char units[] = "BKMGTP";
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
}

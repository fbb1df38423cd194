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

/* parse_number -- (internal) digits with an optional fraction, no sign */
static int parse_number(const char *s, const char **end, uint64_t *ip,
			double *frac)
{
	const char *p = s;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*frac = 0;
	if (*p == '.') {
		double scale = 0.1;

		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++, scale /= 10)
			*frac += (*p - '0') * scale;
	}
	*ip = v;
	*end = p;
	return 0;
}

int mmfs_size_parse(const char *s, uint64_t *out)
{
	const char *p;
	uint64_t v;
	double frac;
	int shift = 0;
	int rc;

	if (!s)
		return -EINVAL;
	rc = parse_number(s, &p, &v, &frac);
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
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	v <<= shift;
	if (frac > 0) {
		double extra = frac * (double)(1ULL << shift);

		if ((double)(UINT64_MAX - v) < extra)
			return -ERANGE;
		v += (uint64_t)extra;
	}
	*out = v;
	return 0;
}

int mmfs_size_parse_pct(const char *s, uint64_t total, uint64_t *out)
{
	size_t len = s ? strlen(s) : 0;
	uint64_t pct;
	double frac;
	const char *p;
	int rc;

	if (len == 0 || s[len - 1] != '%')
		return mmfs_size_parse(s, out);
	rc = parse_number(s, &p, &pct, &frac);
	if (rc < 0)
		return rc;
	if (p != s + len - 1)
		return -EINVAL;
	if ((pct == 0 && frac == 0) || pct > 100 || (pct == 100 && frac > 0))
		return -EINVAL;
	*out = (uint64_t)((double)total * ((double)pct + frac) / 100.0);
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

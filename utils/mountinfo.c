/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mountinfo.c -- see mountinfo.h. The format (proc(5)):
 *   id parent major:minor root mountpoint opts [tags...] - fstype source super
 * with spaces, tabs, newlines and backslashes in paths escaped as \ooo.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utils/err.h"
#include "utils/mountinfo.h"

/* unescape -- (internal) copy @n bytes of @s into @out, undoing \ooo */
static int unescape(const char *s, size_t n, char *out, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\\' && i + 3 < n && s[i + 1] >= '0' &&
		    s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
		    s[i + 3] >= '0' && s[i + 3] <= '7') {
			c = (char)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 |
				   (s[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= len)
			return -EINVAL;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* field -- (internal) the next space-separated field at *@p */
static const char *field(const char **p, size_t *n)
{
	const char *s = *p, *e;

	while (*s == ' ')
		s++;
	if (!*s || *s == '\n')
		return NULL;
	for (e = s; *e && *e != ' ' && *e != '\n'; e++)
		;
	*n = (size_t)(e - s);
	*p = e;
	return s;
}

int mmfs_mountinfo_parse(const char *line, struct mmfs_mountinfo *mi,
			 char *mnt, size_t len)
{
	const char *p = line, *f;
	size_t n;
	int i;

	memset(mi, 0, sizeof(*mi));
	for (i = 0; i < 6; i++) {
		f = field(&p, &n);
		if (!f)
			return -EINVAL;
		if (i == 2 && sscanf(f, "%u:%u", &mi->major, &mi->minor) != 2)
			return -EINVAL;
		if (i == 4 && unescape(f, n, mnt, len) < 0)
			return -EINVAL;
		if (i == 5 && unescape(f, n, mi->opts, sizeof(mi->opts)) < 0)
			return -EINVAL;
	}
	/* optional tags up to the lone "-" */
	while ((f = field(&p, &n)) && !(n == 1 && *f == '-'))
		;
	if (!f || !(f = field(&p, &n)) ||
	    unescape(f, n, mi->fstype, sizeof(mi->fstype)) < 0 ||
	    !(f = field(&p, &n)) ||
	    unescape(f, n, mi->source, sizeof(mi->source)) < 0 ||
	    !(f = field(&p, &n)) ||
	    unescape(f, n, mi->super_opts, sizeof(mi->super_opts)) < 0)
		return -EINVAL;
	return 0;
}

/*
 * each -- (internal) call @fn for every parsable line; it returns 1 to
 * stop. The last return of @fn, or -errno.
 */
static int each(int (*fn)(const struct mmfs_mountinfo *, const char *, void *),
		void *arg)
{
	char line[8192], mnt[4096];
	struct mmfs_mountinfo mi;
	int rc = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return MMFS_ERRNO();
	while (rc == 0 && fgets(line, sizeof(line), f))
		if (mmfs_mountinfo_parse(line, &mi, mnt, sizeof(mnt)) == 0)
			rc = fn(&mi, mnt, arg);
	fclose(f);
	return rc;
}

struct at_arg {
	const char *mountpoint;
	struct mmfs_mountinfo *mi;
	bool found;
};

static int at_fn(const struct mmfs_mountinfo *mi, const char *mnt, void *arg)
{
	struct at_arg *a = arg;

	if (strcmp(mnt, a->mountpoint) == 0) {
		*a->mi = *mi; /* later lines are mounted on top: keep going */
		a->found = true;
	}
	return 0;
}

int mmfs_mountinfo_at(const char *mountpoint, struct mmfs_mountinfo *mi)
{
	struct at_arg a = { mountpoint, mi, false };
	int rc = each(at_fn, &a);

	if (rc < 0)
		return rc;
	return a.found ? 0 : -ENOENT;
}

struct dev_arg {
	unsigned major, minor;
	char *mnt;
	size_t len;
};

static int dev_fn(const struct mmfs_mountinfo *mi, const char *mnt, void *arg)
{
	struct dev_arg *a = arg;

	if (mi->major != a->major || mi->minor != a->minor)
		return 0;
	if (a->mnt && a->len)
		snprintf(a->mnt, a->len, "%s", mnt);
	return 1;
}

int mmfs_mountinfo_dev(unsigned major, unsigned minor, char *mnt, size_t len)
{
	struct dev_arg a = { major, minor, mnt, len };

	return each(dev_fn, &a);
}

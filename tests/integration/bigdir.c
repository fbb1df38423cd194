// SPDX-License-Identifier: Apache-2.0
/*
 * bigdir.c -- one directory with N entries: create, look up, list, delete.
 *
 * Usage: bigdir DIR N
 *
 * Creates N empty files in DIR, times random lookups of present and absent
 * names (reported, never asserted: timing goals live in benchmarks/), checks
 * that readdir returns exactly N+2 entries with every name once, renames a
 * sample, deletes everything and checks the directory is empty again.
 * Exits 1 on any functional failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int failures;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void name_of(char *buf, size_t n, long i)
{
	/* varied lengths so names do not all hash alike */
	snprintf(buf, n, "f%ld_%.*s", i, (int)(i % 17), "abcdefghijklmnopq");
}

static uint64_t x = 88172645463325252ULL;

static uint64_t rnd(void)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

/* list -- count entries with getdents64, marking seen[i] for our names;
 * returns the entry count or -1 */
static long list(const char *what, long n, unsigned char *seen, int renamed)
{
	static char buf[1 << 16];
	long total = 0, dots = 0, bad = 0, dups = 0;
	double t0 = now();
	int fd = open(".", O_RDONLY | O_DIRECTORY);
	long r;

	if (fd < 0)
		return -1;
	if (seen)
		memset(seen, 0, n);
	while ((r = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long o = 0; o < r;) {
			unsigned short reclen;
			const char *nm = buf + o + 19;
			long i;

			memcpy(&reclen, buf + o + 16, 2);
			o += reclen;
			total++;
			if (!strcmp(nm, ".") || !strcmp(nm, "..")) {
				dots++;
				continue;
			}
			if (!seen)
				continue;
			if (sscanf(nm, renamed ? "r%ld" : "f%ld", &i) != 1 &&
			    sscanf(nm, "f%ld", &i) != 1) {
				bad++;
				continue;
			}
			if (i < 0 || i >= n) {
				bad++;
				continue;
			}
			if (seen[i]++)
				dups++;
		}
	}
	if (r < 0) {
		perror("getdents64");
		failures++;
	}
	close(fd);
	printf("# readdir (%s): %ld entries in %.2f s (%ld dots, %ld unknown, %ld duplicates)\n",
	       what, total, now() - t0, dots, bad, dups);
	if (dots != 2 || bad || dups) {
		printf("not ok - readdir (%s) has %ld dots, %ld unknown, %ld duplicate names\n",
		       what, dots, bad, dups);
		failures++;
	}
	return total;
}

int main(int argc, char **argv)
{
	long n, missing = 0;
	unsigned char *seen;
	char name[64], name2[64];
	double t0, t;
	const int lookups = 20000;
	struct stat st;

	if (argc != 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: bigdir DIR N\n");
		return 2;
	}
	if (chdir(argv[1])) {
		perror(argv[1]);
		return 2;
	}
	seen = malloc(n);

	t0 = now();
	for (long i = 0; i < n; i++) {
		int fd;

		name_of(name, sizeof(name), i);
		fd = open(name, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0) {
			printf("not ok - create %s: %s\n", name,
			       strerror(errno));
			return 1;
		}
		close(fd);
	}
	t = now() - t0;
	printf("# created %ld files in %.2f s (%.1f us/create)\n", n, t,
	       t * 1e6 / n);
	if (stat(".", &st) == 0)
		printf("# directory nlink=%ju\n", (uintmax_t)st.st_nlink);

	/* random lookups of present names (cold dentries: names not touched
	 * since create are mostly still cached, so also look up absent ones) */
	t0 = now();
	for (int k = 0; k < lookups; k++) {
		long i = (long)(rnd() % n);

		name_of(name, sizeof(name), i);
		if (stat(name, &st)) {
			printf("not ok - stat %s: %s\n", name, strerror(errno));
			failures++;
			break;
		}
	}
	t = now() - t0;
	printf("# %d random lookups (present): %.2f us/lookup\n", lookups,
	       t * 1e6 / lookups);
	t0 = now();
	for (int k = 0; k < lookups; k++) {
		snprintf(name, sizeof(name), "absent%llu",
			 (unsigned long long)rnd());
		if (stat(name, &st) == 0 || errno != ENOENT) {
			printf("not ok - stat %s: expected ENOENT\n", name);
			failures++;
			break;
		}
	}
	t = now() - t0;
	printf("# %d random lookups (absent): %.2f us/lookup\n", lookups,
	       t * 1e6 / lookups);

	/* readdir: exactly N+2 entries, every name once */
	if (list("full", n, seen, 0) != n + 2) {
		printf("not ok - readdir count != %ld\n", n + 2);
		failures++;
	}
	for (long i = 0; i < n; i++)
		if (!seen[i] && missing++ < 5)
			printf("not ok - name %ld missing from readdir\n", i);
	if (missing) {
		printf("not ok - %ld names missing from readdir\n", missing);
		failures++;
	} else {
		printf("ok - readdir returned exactly N+2 entries, each name once\n");
	}

	/* rename every 10th entry within the directory, then list again */
	t0 = now();
	for (long i = 0; i < n; i += 10) {
		name_of(name, sizeof(name), i);
		snprintf(name2, sizeof(name2), "r%ld", i);
		if (rename(name, name2)) {
			printf("not ok - rename %s: %s\n", name,
			       strerror(errno));
			failures++;
			break;
		}
	}
	printf("# renamed %ld entries in %.2f s\n", (n + 9) / 10, now() - t0);
	if (list("after rename", n, seen, 1) != n + 2) {
		printf("not ok - readdir count after rename != %ld\n", n + 2);
		failures++;
	}

	/* delete everything */
	t0 = now();
	for (long i = 0; i < n; i++) {
		if (i % 10 == 0)
			snprintf(name, sizeof(name), "r%ld", i);
		else
			name_of(name, sizeof(name), i);
		if (unlink(name)) {
			printf("not ok - unlink %s: %s\n", name,
			       strerror(errno));
			failures++;
			break;
		}
	}
	t = now() - t0;
	printf("# deleted %ld files in %.2f s (%.1f us/unlink)\n", n, t,
	       t * 1e6 / n);
	if (list("empty", n, NULL, 0) != 2) {
		printf("not ok - directory not empty after deleting all\n");
		failures++;
	} else {
		printf("ok - directory empty after deleting all\n");
	}
	printf("# %d failure(s)\n", failures);
	free(seen);
	return failures ? 1 : 0;
}

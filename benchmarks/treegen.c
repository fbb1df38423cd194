/* SPDX-License-Identifier: Apache-2.0 */
/*
 * treegen.c -- populate and check a file tree for the persistence benchmark
 *
 * Usage:
 *   treegen create DIR NDIRS NFILES SIZE PREFIX
 *   treegen verify DIR NDIRS NFILES SIZE PREFIX
 *   treegen fill FILE BYTES
 *
 * create  makes NFILES files of SIZE bytes, spread round-robin over NDIRS
 *         directories DIR/d000.. (created when missing): file i is
 *         DIR/d<i % NDIRS>/<PREFIX><i> (7 digits). DIR must exist. Each
 *         file is open(O_CREAT|O_EXCL), written in one pwrite() and
 *         closed. Contents depend on PREFIX and i, so verify can tell a
 *         stale or mixed-up file from a good one.
 * verify  checks the same names: how many exist, and how many of those do
 *         not have exactly the contents create wrote (size or bytes).
 * fill    writes a new FILE of BYTES bytes in 1 MiB blocks, then drops its
 *         pages from the page cache (posix_fadvise DONTNEED), so that
 *         filling a big filesystem does not keep a second copy in RAM.
 *
 * Nothing is synced: the caller decides (sync -f, fsync, or a crash).
 * Each mode prints a header and one ';'-separated result line for
 * benchmarks/persist.sh:
 *   create;files;seconds;ops[1/s]
 *   verify;expected;present;bad
 *   fill;bytes;seconds;MiB/s
 * A failing call aborts with a message and exit status 1 (for verify: any
 * error other than a missing file). Sizes take K, M and G suffixes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (1u << 20)

/* now_sec -- (internal) monotonic time in seconds */
static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* parse_size -- (internal) "4K" -> bytes (0 allowed); -1 when malformed */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'G': case 'g': v <<= 10; /* fall through */
	case 'M': case 'm': v <<= 10; /* fall through */
	case 'K': case 'k': v <<= 10; end++; break;
	case '\0': break;
	default: return -1;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

/* parse_count -- (internal) a count in 1..max; -1 when malformed */
static int parse_count(const char *s, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > max)
		return -1;
	*out = v;
	return 0;
}

/* fill_pattern -- (internal) non-zero bytes that depend on @tag */
static void fill_pattern(unsigned char *buf, size_t len, uint64_t tag)
{
	uint64_t s = tag * 0x9e3779b97f4a7c15ull + 1;
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t v;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		v = s | 1;
		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

/* file_tag -- (internal) pattern seed of file i of a prefix */
static uint64_t file_tag(const char *prefix, long i)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (; *prefix; prefix++)
		h = (h ^ (unsigned char)*prefix) * 1099511628211ull;
	return h ^ (uint64_t)i;
}

/* file_path -- (internal) path of file i */
static void file_path(char *buf, const char *dir, long ndirs,
		      const char *prefix, long i)
{
	snprintf(buf, PATH_MAX, "%s/d%03ld/%s%07ld", dir, i % ndirs, prefix,
		 i);
}

struct tree {
	const char *dir;
	long ndirs;
	long nfiles;
	uint64_t size;
	const char *prefix;
};

/* tree_create -- (internal) the create mode */
static int tree_create(const struct tree *t)
{
	char path[PATH_MAX];
	unsigned char *buf;
	double t0, dt;
	long i;
	int fd;

	buf = malloc(t->size ? t->size : 1);
	if (!buf) {
		fprintf(stderr, "treegen: out of memory\n");
		return 1;
	}
	t0 = now_sec();
	for (i = 0; i < t->ndirs && i < t->nfiles; i++) {
		snprintf(path, sizeof(path), "%s/d%03ld", t->dir, i);
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			fprintf(stderr, "treegen: mkdir %s: %s\n", path,
				strerror(errno));
			goto out_fail;
		}
	}
	for (i = 0; i < t->nfiles; i++) {
		ssize_t n;

		file_path(path, t->dir, t->ndirs, t->prefix, i);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "treegen: create %s: %s\n", path,
				strerror(errno));
			goto out_fail;
		}
		if (t->size) {
			fill_pattern(buf, t->size, file_tag(t->prefix, i));
			n = pwrite(fd, buf, t->size, 0);
			if (n < 0 || (uint64_t)n != t->size) {
				fprintf(stderr, "treegen: write %s: %s\n", path,
					n < 0 ? strerror(errno) : "short write");
				close(fd);
				goto out_fail;
			}
		}
		if (close(fd) < 0) {
			fprintf(stderr, "treegen: close %s: %s\n", path,
				strerror(errno));
			goto out_fail;
		}
	}
	dt = now_sec() - t0;
	printf("create;files;seconds;ops[1/s]\n");
	printf("create;%ld;%.6f;%.0f\n", t->nfiles, dt,
	       dt > 0 ? (double)t->nfiles / dt : 0.0);
	free(buf);
	return 0;
out_fail:
	free(buf);
	return 1;
}

/* tree_verify -- (internal) the verify mode */
static int tree_verify(const struct tree *t)
{
	unsigned char *want, *got;
	char path[PATH_MAX];
	long i, present = 0, bad = 0;
	int fd, ret = 1;

	want = malloc(t->size + 1);
	got = malloc(t->size + 1);
	if (!want || !got) {
		fprintf(stderr, "treegen: out of memory\n");
		goto out_free;
	}
	for (i = 0; i < t->nfiles; i++) {
		ssize_t n;

		file_path(path, t->dir, t->ndirs, t->prefix, i);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			fprintf(stderr, "treegen: open %s: %s\n", path,
				strerror(errno));
			goto out_free;
		}
		present++;
		/* one byte more than expected, to see a file that grew */
		n = pread(fd, got, t->size + 1, 0);
		if (n < 0) {
			fprintf(stderr, "treegen: read %s: %s\n", path,
				strerror(errno));
			close(fd);
			goto out_free;
		}
		close(fd);
		fill_pattern(want, t->size, file_tag(t->prefix, i));
		if ((uint64_t)n != t->size || memcmp(want, got, t->size)) {
			if (bad < 5)
				fprintf(stderr, "treegen: %s: %zd bytes, %s\n",
					path, n, (uint64_t)n != t->size ?
					"wrong size" : "wrong contents");
			bad++;
		}
	}
	printf("verify;expected;present;bad\n");
	printf("verify;%ld;%ld;%ld\n", t->nfiles, present, bad);
	ret = 0;
out_free:
	free(want);
	free(got);
	return ret;
}

/* fill -- (internal) the fill mode */
static int fill(const char *path, uint64_t bytes)
{
	unsigned char *buf = malloc(BLOCK);
	uint64_t off;
	double t0, dt;
	int fd;

	if (!buf) {
		fprintf(stderr, "treegen: out of memory\n");
		return 1;
	}
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "treegen: create %s: %s\n", path,
			strerror(errno));
		free(buf);
		return 1;
	}
	t0 = now_sec();
	for (off = 0; off < bytes; off += BLOCK) {
		size_t len = bytes - off < BLOCK ? bytes - off : BLOCK;
		ssize_t n;

		fill_pattern(buf, len, off / BLOCK + 1);
		n = pwrite(fd, buf, len, (off_t)off);
		if (n < 0 || (size_t)n != len) {
			fprintf(stderr, "treegen: write %s at %llu: %s\n", path,
				(unsigned long long)off,
				n < 0 ? strerror(errno) : "short write");
			goto out_fail;
		}
		/* keep the page cache from holding a second copy */
		if ((off / BLOCK) % 64 == 63)
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (close(fd) < 0) {
		fprintf(stderr, "treegen: close %s: %s\n", path,
			strerror(errno));
		free(buf);
		return 1;
	}
	dt = now_sec() - t0;
	printf("fill;bytes;seconds;MiB/s\n");
	printf("fill;%llu;%.6f;%.0f\n", (unsigned long long)bytes, dt,
	       dt > 0 ? (double)bytes / 1048576.0 / dt : 0.0);
	free(buf);
	return 0;
out_fail:
	close(fd);
	free(buf);
	return 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: treegen create DIR NDIRS NFILES SIZE PREFIX\n"
		"       treegen verify DIR NDIRS NFILES SIZE PREFIX\n"
		"       treegen fill FILE BYTES\n");
}

int main(int argc, char **argv)
{
	struct tree t;
	uint64_t bytes;

	if (argc == 4 && !strcmp(argv[1], "fill")) {
		if (parse_size(argv[3], &bytes) < 0 || bytes == 0) {
			fprintf(stderr, "treegen: bad size '%s'\n", argv[3]);
			return 2;
		}
		return fill(argv[2], bytes);
	}
	if (argc != 7 || (strcmp(argv[1], "create") &&
			  strcmp(argv[1], "verify"))) {
		usage();
		return 2;
	}
	t.dir = argv[2];
	t.prefix = argv[6];
	if (parse_count(argv[3], 1000, &t.ndirs) < 0 ||
	    parse_count(argv[4], 9999999L, &t.nfiles) < 0 ||
	    parse_size(argv[5], &t.size) < 0 || t.size > (64u << 20) ||
	    !*t.prefix || strchr(t.prefix, '/')) {
		fprintf(stderr, "treegen: bad arguments (NDIRS 1..1000, "
			"NFILES 1..9999999, SIZE <= 64M, PREFIX without '/')\n");
		return 2;
	}
	return !strcmp(argv[1], "create") ? tree_create(&t) : tree_verify(&t);
}

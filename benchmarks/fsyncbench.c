/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fsyncbench.c -- latency of write + fsync (or fdatasync) at random offsets
 *
 * Usage: fsyncbench [-d] [-s FILESIZE] [-w WARMUP] FILE BS COUNT
 *
 * Makes FILE FILESIZE bytes long (default 64 MiB) by writing it in 1 MiB
 * blocks and fsyncing it, unless it already has that size. Then, COUNT
 * times: pwrite() of BS bytes at a random BS-aligned offset inside the
 * file, then fsync() (fdatasync() with -d), and records the time of the
 * pair. The first WARMUP pairs (default 10) are done but not recorded.
 * Prints a header and one machine-readable line (';'-separated) for
 * benchmarks/persist.sh:
 *   op;bs;count;p50[us];p99[us];mean[us];max[us]
 *   fsync;4096;2000;12.3;45.6;14.0;310.2
 * Percentiles are nearest-rank over the COUNT recorded pairs. Times come
 * from clock_gettime(CLOCK_MONOTONIC). Offsets come from a fixed-seed
 * xorshift generator, so every run and every filesystem sees the same
 * sequence. Every buffer differs from the last one (a counter in its first
 * bytes), so no layer can skip a write as unchanged. A short write or a
 * failing call aborts the run with a message and exit status 1: no figure
 * is printed for work that was not done. Sizes take K, M and G suffixes
 * (powers of 1024).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_FILE_SIZE (64ull << 20)
#define DEFAULT_WARMUP 10L
#define FILL_BLOCK (1ull << 20)
#define ALIGN 4096

/* now_ns -- (internal) monotonic time in nanoseconds */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* parse_size -- (internal) "64M" -> bytes; -1 when malformed or zero */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || v == 0)
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

/* xorshift64 -- (internal) next value of a fixed-seed generator */
static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* fill_pattern -- (internal) non-zero bytes that depend on @tag */
static void fill_pattern(unsigned char *buf, size_t len, uint64_t tag)
{
	uint64_t s = tag * 0x9e3779b97f4a7c15ull + 1;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = xorshift64(&s) | 1;

		memcpy(buf + i, &v, 8);
	}
}

/* write_all -- (internal) pwrite @len bytes at @off; a short write fails */
static int write_all(int fd, const unsigned char *buf, size_t len, off_t off)
{
	ssize_t n = pwrite(fd, buf, len, off);

	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

/* prealloc -- (internal) give the file its size with real data, synced */
static int prealloc(int fd, uint64_t size, unsigned char *buf)
{
	struct stat st;
	uint64_t off;
	int rc;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size == size)
		return 0;
	if (ftruncate(fd, 0) < 0)
		return -errno;
	for (off = 0; off < size; off += FILL_BLOCK) {
		size_t len = size - off < FILL_BLOCK ? size - off : FILL_BLOCK;

		fill_pattern(buf, len, off);
		rc = write_all(fd, buf, len, (off_t)off);
		if (rc < 0)
			return rc;
	}
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}

/* cmp_u64 -- (internal) qsort order for latencies */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* pctl -- (internal) nearest-rank percentile of sorted @v, in µs */
static double pctl(const uint64_t *v, long n, double p)
{
	long rank = (long)((p / 100.0) * (double)n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1] / 1000.0;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-d] [-s FILESIZE] [-w WARMUP] FILE BS COUNT\n"
		"  -d  fdatasync instead of fsync\n", prog);
}

int main(int argc, char **argv)
{
	uint64_t file_size = DEFAULT_FILE_SIZE, bs, seed = 0x2545f4914f6cdd1dull;
	long warmup = DEFAULT_WARMUP, count, i;
	int datasync = 0, opt, fd, rc, ret = 1;
	unsigned char *buf = NULL;
	uint64_t *lat = NULL, slots, t0, sum = 0;
	char *end;

	while ((opt = getopt(argc, argv, "ds:w:")) != -1) {
		switch (opt) {
		case 'd':
			datasync = 1;
			break;
		case 's':
			if (parse_size(optarg, &file_size) < 0) {
				fprintf(stderr, "fsyncbench: bad size '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'w':
			warmup = strtol(optarg, &end, 10);
			if (*end || warmup < 0) {
				fprintf(stderr, "fsyncbench: bad warmup '%s'\n",
					optarg);
				return 2;
			}
			break;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	if (argc - optind != 3) {
		usage(argv[0]);
		return 2;
	}
	if (parse_size(argv[optind + 1], &bs) < 0 || bs % ALIGN ||
	    bs > file_size || file_size % bs) {
		fprintf(stderr, "fsyncbench: BS '%s' must be a multiple of 4K "
			"that divides the file size\n", argv[optind + 1]);
		return 2;
	}
	count = strtol(argv[optind + 2], &end, 10);
	if (*end || count <= 0 || count > 10000000L) {
		fprintf(stderr, "fsyncbench: bad count '%s' (1..10000000)\n",
			argv[optind + 2]);
		return 2;
	}
	slots = file_size / bs;

	if (posix_memalign((void **)&buf, ALIGN,
			   bs > FILL_BLOCK ? bs : FILL_BLOCK) != 0 ||
	    !(lat = calloc((size_t)count, sizeof(*lat)))) {
		fprintf(stderr, "fsyncbench: out of memory\n");
		goto out_free;
	}
	fd = open(argv[optind], O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "fsyncbench: %s: %s\n", argv[optind],
			strerror(errno));
		goto out_free;
	}
	rc = prealloc(fd, file_size, buf);
	if (rc < 0) {
		fprintf(stderr, "fsyncbench: %s: filling the file: %s\n",
			argv[optind], strerror(-rc));
		goto out_close;
	}
	fill_pattern(buf, bs, 1);

	for (i = -warmup; i < count; i++) {
		off_t off = (off_t)((xorshift64(&seed) % slots) * bs);
		uint64_t tag = (uint64_t)(i + warmup + 1);

		memcpy(buf, &tag, sizeof(tag));
		t0 = now_ns();
		rc = write_all(fd, buf, bs, off);
		if (rc < 0) {
			fprintf(stderr, "fsyncbench: %s: pwrite at %lld: %s\n",
				argv[optind], (long long)off, strerror(-rc));
			goto out_close;
		}
		if ((datasync ? fdatasync(fd) : fsync(fd)) < 0) {
			fprintf(stderr, "fsyncbench: %s: %s: %s\n",
				argv[optind], datasync ? "fdatasync" : "fsync",
				strerror(errno));
			goto out_close;
		}
		if (i >= 0)
			lat[i] = now_ns() - t0;
	}

	for (i = 0; i < count; i++)
		sum += lat[i];
	qsort(lat, (size_t)count, sizeof(*lat), cmp_u64);
	printf("op;bs;count;p50[us];p99[us];mean[us];max[us]\n");
	printf("%s;%llu;%ld;%.1f;%.1f;%.1f;%.1f\n",
	       datasync ? "fdatasync" : "fsync", (unsigned long long)bs, count,
	       pctl(lat, count, 50), pctl(lat, count, 99),
	       (double)sum / (double)count / 1000.0,
	       (double)lat[count - 1] / 1000.0);
	ret = 0;
out_close:
	if (close(fd) < 0 && ret == 0) {
		fprintf(stderr, "fsyncbench: %s: close: %s\n", argv[optind],
			strerror(errno));
		ret = 1;
	}
out_free:
	free(lat);
	free(buf);
	return ret;
}

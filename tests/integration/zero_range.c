// SPDX-License-Identifier: Apache-2.0
/*
 * zero_range.c -- FALLOC_FL_ZERO_RANGE with ext4 semantics.
 *
 * Usage: zero_range DIR
 *
 * tmpfs has no ZERO_RANGE (EOPNOTSUPP), so posix_diff cannot use it as the
 * reference; mmfs implements it as ext4 does, and this checks that
 * behaviour directly (fallocate(2), ext4):
 *   - the range reads as zeros afterwards, bytes outside it are untouched,
 *     both through the page cache and read back cold;
 *   - without KEEP_SIZE a range past EOF extends the file, with KEEP_SIZE it
 *     does not;
 *   - the range is allocated afterwards (zeroing a hole allocates: st_blocks
 *     grows), and a later write into it needs no new space;
 *   - mtime and ctime change; combining with PUNCH_HOLE is refused.
 * Exits 77 if the filesystem lacks ZERO_RANGE (so the test can run on tmpfs),
 * 1 on a semantic failure.
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
#include <linux/falloc.h>

static int failures;

static void check(int ok, const char *what)
{
	printf("%s - %s\n", ok ? "ok" : "not ok", what);
	if (!ok)
		failures++;
}

static void fillpat(unsigned char *c, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		c[i] = (unsigned char)(x >> 24);
	}
}

static int expect_content(int fd, const unsigned char *model, size_t n,
			  int cold)
{
	unsigned char *b = malloc(n);
	int ok;

	if (cold) {
		fsync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	}
	ok = pread(fd, b, n, 0) == (ssize_t)n && !memcmp(b, model, n);
	free(b);
	return ok;
}

static off_t fsize(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : st.st_size;
}

static blkcnt_t fblocks(int fd)
{
	struct stat st;

	fsync(fd);
	return fstat(fd, &st) ? -1 : st.st_blocks;
}

int main(int argc, char **argv)
{
	enum { SZ = 256 << 10 };
	static unsigned char model[4 << 20];
	struct stat st0, st1;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int fd, r;

	if (argc != 2 || chdir(argv[1])) {
		fprintf(stderr, "usage: zero_range DIR\n");
		return 2;
	}
	fd = open("z", O_CREAT | O_RDWR | O_TRUNC, 0644);
	fillpat(model, SZ, 1);
	if (fd < 0 || write(fd, model, SZ) != SZ) {
		perror("setup");
		return 1;
	}
	fstat(fd, &st0);
	nanosleep(&ts, NULL);
	r = fallocate(fd, FALLOC_FL_ZERO_RANGE, 4096, 8192);
	if (r && errno == EOPNOTSUPP) {
		printf("# ZERO_RANGE not supported here (EOPNOTSUPP): skip\n");
		return 77;
	}
	check(r == 0, "aligned ZERO_RANGE returns 0");
	memset(model + 4096, 0, 8192);
	check(expect_content(fd, model, SZ, 0), "aligned range zero (cached)");
	check(expect_content(fd, model, SZ, 1), "aligned range zero (cold)");
	check(fsize(fd) == SZ, "size unchanged");
	fstat(fd, &st1);
	check(st1.st_mtim.tv_sec != st0.st_mtim.tv_sec ||
	      st1.st_mtim.tv_nsec != st0.st_mtim.tv_nsec, "mtime changed");
	check(st1.st_ctim.tv_sec != st0.st_ctim.tv_sec ||
	      st1.st_ctim.tv_nsec != st0.st_ctim.tv_nsec, "ctime changed");

	/* unaligned, crossing page and 64 KiB chunk boundaries */
	check(fallocate(fd, FALLOC_FL_ZERO_RANGE, 100, 5000) == 0,
	      "unaligned ZERO_RANGE 100+5000");
	memset(model + 100, 0, 5000);
	check(fallocate(fd, FALLOC_FL_ZERO_RANGE, 65536 - 333, 70000) == 0,
	      "ZERO_RANGE across a 64 KiB boundary");
	memset(model + 65536 - 333, 0, 70000);
	check(expect_content(fd, model, SZ, 0), "unaligned ranges (cached)");
	check(expect_content(fd, model, SZ, 1), "unaligned ranges (cold)");

	/* past EOF: KEEP_SIZE keeps the size, plain mode extends it */
	check(fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
			SZ - 1000, 100000) == 0, "KEEP_SIZE past EOF");
	memset(model + SZ - 1000, 0, 1000);
	check(fsize(fd) == SZ, "KEEP_SIZE: size unchanged");
	check(expect_content(fd, model, SZ, 1), "KEEP_SIZE: content");
	check(fallocate(fd, FALLOC_FL_ZERO_RANGE, SZ + 10000, 5000) == 0,
	      "ZERO_RANGE past EOF without KEEP_SIZE");
	check(fsize(fd) == SZ + 15000, "size extended to offset+len");
	memset(model + SZ, 0, 15000);
	check(expect_content(fd, model, SZ + 15000, 1), "extended part zero");
	close(fd);

	/* zeroing a hole allocates it, as ext4 preallocates it */
	fd = open("hole", O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 4 << 20)) {
		perror("hole");
		return 1;
	}
	{
		blkcnt_t b0 = fblocks(fd), b1, b2;
		unsigned char w[4096];

		check(fallocate(fd, FALLOC_FL_ZERO_RANGE, 1 << 20, 1 << 20) == 0,
		      "ZERO_RANGE over a hole");
		b1 = fblocks(fd);
		printf("# st_blocks before %jd after %jd\n", (intmax_t)b0,
		       (intmax_t)b1);
		check(b1 >= b0 + (1 << 20) / 512,
		      "range is allocated afterwards (st_blocks grew by 1 MiB)");
		memset(model, 0, 4 << 20);
		check(expect_content(fd, model, 4 << 20, 1), "hole file reads zero");
		memset(w, 0x33, sizeof(w));
		check(pwrite(fd, w, sizeof(w), (1 << 20) + 8192) == sizeof(w),
		      "write into zeroed range");
		b2 = fblocks(fd);
		check(b2 == b1, "write into zeroed range allocates nothing new");
	}
	/* flag combinations the kernel refuses */
	errno = 0;
	check(fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_PUNCH_HOLE, 0,
			4096) == -1, "ZERO_RANGE|PUNCH_HOLE refused");
	close(fd);
	printf("# %d failure(s)\n", failures);
	return failures ? 1 : 0;
}

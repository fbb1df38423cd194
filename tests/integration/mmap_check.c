// SPDX-License-Identifier: Apache-2.0
/*
 * mmap_check.c -- shared-mmap coherence checks on a mounted filesystem.
 *
 * Usage: mmap_check DIR
 *
 * Prints one TAP-like line per check ("ok - ..." / "not ok - ...") and exits
 * 1 if any check failed.  Covers: MAP_SHARED writes seen by read() after
 * msync, pwrite() seen through the mapping, two processes mapping one file,
 * data surviving munmap + reopen (read back from the filesystem, not the page
 * cache), MAP_PRIVATE isolation, holes and extension through mappings, and
 * truncation while mapped.  Accesses beyond EOF (SIGBUS) are never made.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what, const char *detail)
{
	if (ok) {
		printf("ok - %s\n", what);
	} else {
		printf("not ok - %s%s%s\n", what, detail ? ": " : "",
		       detail ? detail : "");
		failures++;
	}
	fflush(stdout);
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

/* first_diff -- describe the first differing byte, or NULL if equal */
static const char *first_diff(const unsigned char *a, const unsigned char *b,
			      size_t n)
{
	static char msg[128];

	for (size_t i = 0; i < n; i++) {
		if (a[i] != b[i]) {
			snprintf(msg, sizeof(msg),
				 "first difference at byte %zu (%02x vs %02x)",
				 i, a[i], b[i]);
			return msg;
		}
	}
	return NULL;
}

/* read_back -- read n bytes at off from a fresh descriptor; with cold=1
 * the page cache is dropped first so the bytes come from the filesystem */
static ssize_t read_back(const char *path, unsigned char *buf, size_t n,
			 off_t off, int cold)
{
	int fd = open(path, O_RDONLY);
	ssize_t got = 0, r;

	if (fd < 0)
		return -1;
	if (cold) {
		fsync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	}
	while ((size_t)got < n &&
	       (r = pread(fd, buf + got, n - got, off + got)) > 0)
		got += r;
	close(fd);
	return got;
}

static int all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static void test_basic(void)
{
	const size_t sz = (1 << 20) + 123;
	unsigned char *pat = malloc(sz), *buf = malloc(sz), *m;
	const char *d;
	int fd;

	fillpat(pat, sz, 1);
	fd = open("basic", O_CREAT | O_RDWR | O_TRUNC, 0644);
	check(fd >= 0 && write(fd, pat, sz) == (ssize_t)sz,
	      "write 1 MiB + 123 bytes", strerror(errno));
	m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check(m != MAP_FAILED, "mmap MAP_SHARED rw", strerror(errno));
	if (m == MAP_FAILED)
		exit(1);
	d = first_diff(m, pat, sz);
	check(!d, "mapping shows written data", d);

	/* store through the mapping: page-crossing, unaligned, last byte */
	memset(m + 4000, 0xab, 300);
	memset(m + 65530, 0xcd, 20);
	for (size_t i = 200000; i < 700000; i += 4096)
		m[i] = (unsigned char)(i >> 12);
	m[sz - 1] = 0x5a;
	memset(pat + 4000, 0xab, 300);
	memset(pat + 65530, 0xcd, 20);
	for (size_t i = 200000; i < 700000; i += 4096)
		pat[i] = (unsigned char)(i >> 12);
	pat[sz - 1] = 0x5a;
	check(msync(m, sz, MS_SYNC) == 0, "msync MS_SYNC", strerror(errno));
	d = read_back("basic", buf, sz, 0, 0) == (ssize_t)sz ?
	    first_diff(buf, pat, sz) : "short read";
	check(!d, "read() sees stores after msync", d);

	/* pwrite through a descriptor is visible through the mapping */
	fillpat(pat + 300000, 10000, 2);
	check(pwrite(fd, pat + 300000, 10000, 300000) == 10000, "pwrite 10000",
	      strerror(errno));
	d = first_diff(m + 300000, pat + 300000, 10000);
	check(!d, "mapping sees pwrite", d);
	check(pwrite(fd, "tail", 4, sz - 4) == 4, "pwrite at EOF-4", NULL);
	memcpy(pat + sz - 4, "tail", 4);
	check(!memcmp(m + sz - 4, "tail", 4), "mapping sees pwrite at EOF",
	      NULL);

	/* MS_ASYNC and MS_INVALIDATE are accepted */
	m[10] = 1;
	pat[10] = 1;
	check(msync(m, 4096, MS_ASYNC) == 0, "msync MS_ASYNC", strerror(errno));
	check(msync(m, 4096, MS_INVALIDATE) == 0, "msync MS_INVALIDATE",
	      strerror(errno));
	check(m[10] == 1, "MS_INVALIDATE keeps dirty shared data", NULL);

	/* after munmap + close, data is in the filesystem (cold read) */
	check(munmap(m, sz) == 0, "munmap", strerror(errno));
	close(fd);
	d = read_back("basic", buf, sz, 0, 1) == (ssize_t)sz ?
	    first_diff(buf, pat, sz) : "short read";
	check(!d, "data survives munmap and reopen (cold read)", d);
	/* and a fresh mapping shows it too */
	fd = open("basic", O_RDONLY);
	m = mmap(NULL, sz, PROT_READ, MAP_SHARED, fd, 0);
	d = m != MAP_FAILED ? first_diff(m, pat, sz) : "mmap failed";
	check(!d, "remap read-only shows data", d);
	if (m != MAP_FAILED)
		munmap(m, sz);
	/* a read-only descriptor cannot be mapped shared-writable */
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check(m == MAP_FAILED && errno == EACCES,
	      "MAP_SHARED|PROT_WRITE on O_RDONLY fd is EACCES", NULL);
	if (m != MAP_FAILED)
		munmap(m, 4096);
	close(fd);
	free(pat);
	free(buf);
}

static void test_private(void)
{
	unsigned char buf[8192], pat[8192];
	unsigned char *m;
	int fd;

	fillpat(pat, sizeof(pat), 3);
	fd = open("private", O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (write(fd, pat, sizeof(pat)) != (ssize_t)sizeof(pat))
		check(0, "write private", strerror(errno));
	m = mmap(NULL, sizeof(pat), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	check(m != MAP_FAILED, "mmap MAP_PRIVATE", strerror(errno));
	if (m == MAP_FAILED)
		return;
	memset(m, 0xee, 5000);
	msync(m, sizeof(pat), MS_SYNC);
	munmap(m, sizeof(pat));
	close(fd);
	check(read_back("private", buf, sizeof(buf), 0, 1) ==
	      (ssize_t)sizeof(buf) && !memcmp(buf, pat, sizeof(pat)),
	      "MAP_PRIVATE stores do not reach the file", NULL);
}

/* test_two_procs -- two processes map one file; each sees the other's
 * stores without any msync, and a third sees both with read() */
static void test_two_procs(void)
{
	const size_t sz = 1 << 20;
	int fd, p2c[2], c2p[2];
	unsigned char *m, token = 0;
	pid_t pid;
	int st;

	fd = open("shared", O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, sz)) {
		check(0, "create shared", strerror(errno));
		return;
	}
	close(fd);
	if (pipe(p2c) || pipe(c2p))
		exit(1);
	pid = fork();
	if (pid == 0) {
		/* child: own open, own mapping */
		int cfd = open("shared", O_RDWR);
		unsigned char *cm = mmap(NULL, sz, PROT_READ | PROT_WRITE,
					 MAP_SHARED, cfd, 0);
		int ok = 1;

		if (cm == MAP_FAILED)
			_exit(2);
		for (int round = 0; round < 50; round++) {
			unsigned char t;
			size_t off = (size_t)round * 20011 % (sz - 8);

			if (read(p2c[0], &t, 1) != 1)
				_exit(3);
			/* the parent stored round+1 at off before writing t */
			if (cm[off] != (unsigned char)(round + 1))
				ok = 0;
			cm[sz - 1 - off] = (unsigned char)(round + 101);
			if (write(c2p[1], &ok, 1) != 1)
				_exit(3);
		}
		munmap(cm, sz);
		close(cfd);
		_exit(ok ? 0 : 1);
	}
	fd = open("shared", O_RDWR);
	m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		check(0, "parent mmap shared", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return;
	}
	{
		int seen_all = 1, child_ok = 1;

		for (int round = 0; round < 50; round++) {
			size_t off = (size_t)round * 20011 % (sz - 8);
			unsigned char ok;

			m[off] = (unsigned char)(round + 1);
			if (write(p2c[1], &token, 1) != 1 ||
			    read(c2p[0], &ok, 1) != 1) {
				seen_all = 0;
				break;
			}
			child_ok &= ok;
			if (m[sz - 1 - off] != (unsigned char)(round + 101))
				seen_all = 0;
		}
		check(child_ok, "child mapping sees parent's stores", NULL);
		check(seen_all, "parent mapping sees child's stores", NULL);
	}
	waitpid(pid, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child exited cleanly",
	      NULL);
	msync(m, sz, MS_SYNC);
	{
		unsigned char *buf = malloc(sz);
		int good = read_back("shared", buf, sz, 0, 0) == (ssize_t)sz;

		for (int round = 0; good && round < 50; round++) {
			size_t off = (size_t)round * 20011 % (sz - 8);

			if (buf[off] != (unsigned char)(round + 1) ||
			    buf[sz - 1 - off] != (unsigned char)(round + 101))
				good = 0;
		}
		check(good, "read() sees both processes' stores", NULL);
		free(buf);
	}
	munmap(m, sz);
	close(fd);
	/* after both mappings are gone, the data is in the filesystem */
	{
		unsigned char b1, b2;
		int fd2 = open("shared", O_RDONLY);

		fsync(fd2);
		posix_fadvise(fd2, 0, 0, POSIX_FADV_DONTNEED);
		check(pread(fd2, &b1, 1, 49 * 20011 % (sz - 8)) == 1 &&
		      pread(fd2, &b2, 1, sz - 1 - 49 * 20011 % (sz - 8)) == 1 &&
		      b1 == 50 && b2 == 150, "shared stores survive (cold read)",
		      NULL);
		close(fd2);
	}
}

static void test_holes_extend(void)
{
	const size_t sz = 4 << 20;
	unsigned char *m, *buf = malloc(sz);
	struct stat st0, st1;
	int fd;

	fd = open("sparse", O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, sz)) {
		check(0, "create sparse", strerror(errno));
		return;
	}
	m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check(m != MAP_FAILED, "mmap sparse 4 MiB", strerror(errno));
	if (m == MAP_FAILED)
		return;
	/* store before any read: a read fault may itself allocate (tmpfs) */
	fstat(fd, &st0);
	memset(m + (1 << 20), 0x77, 8192);
	msync(m, sz, MS_SYNC);
	fsync(fd);
	fstat(fd, &st1);
	check(st1.st_blocks > st0.st_blocks,
	      "stores into a hole allocate (st_blocks grows)", NULL);
	check(all_zero(m, 1 << 20) && all_zero(m + (1 << 20) + 8192,
					       sz - (1 << 20) - 8192),
	      "holes read as zeros through mapping", NULL);
	munmap(m, sz);

	/* extend with ftruncate, then store into the new area */
	check(ftruncate(fd, 2 * sz) == 0, "ftruncate to 8 MiB", strerror(errno));
	m = mmap(NULL, 2 * sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		check(0, "remap 8 MiB", strerror(errno));
		return;
	}
	memset(m + sz + 12345, 0x42, 100);
	msync(m, 2 * sz, MS_SYNC);
	munmap(m, 2 * sz);
	close(fd);
	check(read_back("sparse", buf, 100, sz + 12345, 1) == 100 &&
	      buf[0] == 0x42 && buf[99] == 0x42,
	      "store into extended area reaches the file", NULL);
	check(read_back("sparse", buf, 8192, 1 << 20, 1) == 8192 &&
	      buf[0] == 0x77 && buf[8191] == 0x77, "first store still there",
	      NULL);
	free(buf);
}

/* test_truncate_mapped -- shrink and regrow a file while it is mapped;
 * only bytes inside EOF are touched */
static void test_truncate_mapped(void)
{
	const size_t sz = 64 << 10;
	unsigned char pat[64 << 10], buf[64 << 10];
	unsigned char *m;
	int fd;

	fillpat(pat, sz, 9);
	fd = open("trunc", O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd < 0 || write(fd, pat, sz) != (ssize_t)sz) {
		check(0, "create trunc", strerror(errno));
		return;
	}
	m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		check(0, "mmap trunc", strerror(errno));
		return;
	}
	check(ftruncate(fd, 10000) == 0, "ftruncate to 10000 while mapped",
	      strerror(errno));
	check(!memcmp(m, pat, 10000), "bytes below new EOF intact", NULL);
	check(all_zero(m + 10000, 12288 - 10000),
	      "tail of the last page reads zero", NULL);
	check(ftruncate(fd, sz) == 0, "ftruncate back to 64 KiB",
	      strerror(errno));
	check(all_zero(m + 10000, sz - 10000),
	      "regrown range reads zero through the mapping", NULL);
	m[sz - 1] = 9;
	msync(m, sz, MS_SYNC);
	munmap(m, sz);
	close(fd);
	check(read_back("trunc", buf, sz, 0, 1) == (ssize_t)sz &&
	      !memcmp(buf, pat, 10000) && all_zero(buf + 10000, sz - 10001) &&
	      buf[sz - 1] == 9, "file content after truncate cycle (cold read)",
	      NULL);
}

/* test_write_vs_map -- many interleaved pwrites and mapped stores on one
 * page range; final content must match a model */
static void test_interleave(void)
{
	const size_t sz = 256 << 10;
	unsigned char *model = calloc(1, sz), *buf = malloc(sz), *m;
	uint64_t x = 77;
	const char *d;
	int fd;

	fd = open("inter", O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, sz)) {
		check(0, "create inter", strerror(errno));
		return;
	}
	m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		check(0, "mmap inter", strerror(errno));
		return;
	}
	for (int i = 0; i < 2000; i++) {
		size_t off, len;
		unsigned char v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len = 1 + x % 9000;
		off = (x >> 20) % (sz - len);
		v = (unsigned char)(x >> 40);
		memset(model + off, v, len);
		if (i & 1) {
			memset(buf, v, len);
			if (pwrite(fd, buf, len, off) != (ssize_t)len)
				check(0, "pwrite inter", strerror(errno));
		} else {
			memset(m + off, v, len);
		}
	}
	d = first_diff(m, model, sz);
	check(!d, "mapping matches model after mixed stores/pwrites", d);
	msync(m, sz, MS_SYNC);
	munmap(m, sz);
	close(fd);
	d = read_back("inter", buf, sz, 0, 1) == (ssize_t)sz ?
	    first_diff(buf, model, sz) : "short read";
	check(!d, "file matches model (cold read)", d);
	free(model);
	free(buf);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mmap_check DIR\n");
		return 2;
	}
	if (chdir(argv[1])) {
		perror(argv[1]);
		return 2;
	}
	test_basic();
	test_private();
	test_two_procs();
	test_holes_extend();
	test_truncate_mapped();
	test_interleave();
	printf("# %d failure(s)\n", failures);
	return failures ? 1 : 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * odirect_mmap.c -- O_DIRECT, buffered and mapped access to one file must
 * agree, as on tmpfs and ext4 (mmap/odirect_mmap.sh runs it on tmpfs and
 * on mmfs): `odirect_mmap DIR`.
 *
 *   1. a file opened O_DIRECT can be mapped MAP_SHARED (FOPEN_DIRECT_IO
 *      made that ENODEV);
 *   2. an O_DIRECT pwrite, and a batch of AIO O_DIRECT writes (raw
 *      io_setup/io_submit syscalls: no libaio), are seen by a buffered
 *      read through an fd whose pages were cached before, and by both
 *      shared mappings (of the O_DIRECT fd and of the buffered one);
 *   3. a buffered write and a store into the mapping (no msync) are seen
 *      by an O_DIRECT pread and an AIO O_DIRECT read;
 *   4. an O_DIRECT write past EOF grows the file for every reader.
 *
 * `odirect_mmap --uncached DIR` checks what an uncached open
 * (FOPEN_DIRECT_IO: mmfs -o direct_io, user.mmfs.io=direct) documents
 * instead: MAP_SHARED is refused with ENODEV, MAP_PRIVATE works and shows
 * the data, and an O_DIRECT write is seen by a buffered read.
 *
 * Prints one "ok -"/"not ok -" line per check; exit 0 if all pass, 1 if
 * one fails, 77 if DIR refuses O_DIRECT (EINVAL at open).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BLK 4096
#define NBLK 16
#define FSIZE (NBLK * BLK)
#define NAIO 8

static int failures;

static void check(int cond, const char *what)
{
	printf("%s - %s\n", cond ? "ok" : "not ok", what);
	if (!cond)
		failures++;
}

static void die(const char *what)
{
	printf("not ok - %s: %s\n", what, strerror(errno));
	exit(1);
}

/* fill -- (internal) block @blk of generation @gen: distinct everywhere */
static void fill(unsigned char *p, int blk, int gen)
{
	int i;

	for (i = 0; i < BLK; i++)
		p[i] = (unsigned char)(blk * 31 + gen * 7 + i % 251);
}

/* same -- (internal) does @p hold block @blk of generation @gen? */
static int same(const unsigned char *p, int blk, int gen)
{
	unsigned char want[BLK];

	fill(want, blk, gen);
	return memcmp(p, want, BLK) == 0;
}

/* bread -- (internal) one block through the buffered fd (page cache) */
static int bread_is(int fd, int blk, int gen)
{
	unsigned char b[BLK];

	if (pread(fd, b, BLK, (off_t)blk * BLK) != BLK)
		return 0;
	return same(b, blk, gen);
}

/* dread -- (internal) one block through the O_DIRECT fd */
static int dread_is(int fd, unsigned char *abuf, int blk, int gen)
{
	if (pread(fd, abuf, BLK, (off_t)blk * BLK) != BLK)
		return 0;
	return same(abuf, blk, gen);
}

static long io_setup(unsigned nr, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, nr, ctx);
}

static long io_submit(aio_context_t ctx, long n, struct iocb **cbs)
{
	return syscall(SYS_io_submit, ctx, n, cbs);
}

static long io_getevents(aio_context_t ctx, long min, long max,
			 struct io_event *ev)
{
	return syscall(SYS_io_getevents, ctx, min, max, ev, NULL);
}

/*
 * aio_run -- (internal) submit @n O_DIRECT ops of @cmd on blocks
 * first..first+n-1 from/into @bufs at once, wait for all: the number that
 * completed with a full block.
 */
static int aio_run(aio_context_t ctx, int fd, int cmd, int first, int n,
		   unsigned char **bufs)
{
	struct iocb cb[NAIO], *cbp[NAIO];
	struct io_event ev[NAIO];
	int i, got = 0, full = 0;
	long r;

	for (i = 0; i < n; i++) {
		memset(&cb[i], 0, sizeof(cb[i]));
		cb[i].aio_fildes = (uint32_t)fd;
		cb[i].aio_lio_opcode = (uint16_t)cmd;
		cb[i].aio_buf = (uint64_t)(uintptr_t)bufs[i];
		cb[i].aio_nbytes = BLK;
		cb[i].aio_offset = (int64_t)(first + i) * BLK;
		cbp[i] = &cb[i];
	}
	if (io_submit(ctx, n, cbp) != n)
		die("io_submit");
	while (got < n) {
		r = io_getevents(ctx, 1, n - got, ev);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("io_getevents");
		for (i = 0; i < r; i++)
			full += ev[i].res == BLK;
		got += (int)r;
	}
	return full;
}

/* uncached -- (internal) the FOPEN_DIRECT_IO contract, on @path */
static int uncached(const char *path, unsigned char *abuf)
{
	unsigned char *map;
	int fd_b, fd_d;

	fd_b = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd_b < 0)
		die("open");
	fill(abuf, 0, 0);
	if (pwrite(fd_b, abuf, BLK, 0) != BLK)
		die("pwrite");
	fd_d = open(path, O_RDWR | O_DIRECT);
	if (fd_d < 0)
		die("open O_DIRECT");
	map = mmap(NULL, BLK, PROT_READ | PROT_WRITE, MAP_SHARED, fd_b, 0);
	check(map == MAP_FAILED && errno == ENODEV,
	      "uncached: mmap(MAP_SHARED) is refused with ENODEV");
	if (map != MAP_FAILED)
		munmap(map, BLK);
	map = mmap(NULL, BLK, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd_d, 0);
	check(map != MAP_FAILED && same(map, 0, 0),
	      "uncached: mmap(MAP_PRIVATE) works and shows the data");
	if (map != MAP_FAILED)
		munmap(map, BLK);
	fill(abuf, 0, 1);
	check(pwrite(fd_d, abuf, BLK, 0) == BLK, "uncached: O_DIRECT pwrite");
	check(bread_is(fd_b, 0, 1), "uncached: buffered read sees it");
	close(fd_d);
	close(fd_b);
	unlink(path);
	free(abuf);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned char *abuf, *bufs[NAIO], *map_d, *map_b, b[BLK];
	aio_context_t ctx = 0;
	char path[4096];
	int fd_b, fd_d, i, ok;
	struct stat st;

	bool unc = argc == 3 && !strcmp(argv[1], "--uncached");

	if (argc != 2 && !unc) {
		fprintf(stderr, "usage: odirect_mmap [--uncached] DIR\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/odirect_mmap.dat", argv[argc - 1]);
	if (posix_memalign((void **)&abuf, BLK, BLK))
		die("posix_memalign");
	if (unc)
		return uncached(path, abuf);
	for (i = 0; i < NAIO; i++)
		if (posix_memalign((void **)&bufs[i], BLK, BLK))
			die("posix_memalign");

	/* generation 0 everywhere, through the page cache, all cached */
	fd_b = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd_b < 0)
		die("open buffered");
	for (i = 0; i < NBLK; i++) {
		fill(b, i, 0);
		if (pwrite(fd_b, b, BLK, (off_t)i * BLK) != BLK)
			die("pwrite gen 0");
	}
	ok = 1;
	for (i = 0; i < NBLK; i++)
		ok &= bread_is(fd_b, i, 0);
	check(ok, "buffered reads of generation 0 (now cached)");

	fd_d = open(path, O_RDWR | O_DIRECT);
	if (fd_d < 0 && errno == EINVAL) {
		printf("# %s refuses O_DIRECT\n", argv[1]);
		return 77;
	}
	if (fd_d < 0)
		die("open O_DIRECT");

	/* 1. a shared mapping of the O_DIRECT fd, and one of the other */
	map_d = mmap(NULL, FSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd_d, 0);
	check(map_d != MAP_FAILED, "mmap(MAP_SHARED) of an O_DIRECT fd");
	if (map_d == MAP_FAILED) {
		printf("# mmap: %s\n", strerror(errno));
		return 1;
	}
	map_b = mmap(NULL, FSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd_b, 0);
	if (map_b == MAP_FAILED)
		die("mmap buffered fd");
	ok = 1;
	for (i = 0; i < NBLK; i++)
		ok &= same(map_d + i * BLK, i, 0) && same(map_b + i * BLK, i, 0);
	check(ok, "both mappings show generation 0 (now faulted in)");

	/* 2a. O_DIRECT pwrite of block 1 */
	fill(abuf, 1, 1);
	check(pwrite(fd_d, abuf, BLK, 1 * BLK) == BLK, "O_DIRECT pwrite");
	check(bread_is(fd_b, 1, 1), "buffered read sees the O_DIRECT pwrite");
	check(same(map_d + 1 * BLK, 1, 1) && same(map_b + 1 * BLK, 1, 1),
	      "both mappings see the O_DIRECT pwrite");
	check(bread_is(fd_b, 0, 0) && bread_is(fd_b, 2, 0),
	      "its neighbours are unchanged");

	/* 2b. a batch of AIO O_DIRECT writes of blocks 4..11 */
	if (io_setup(NAIO, &ctx) < 0)
		die("io_setup");
	for (i = 0; i < NAIO; i++)
		fill(bufs[i], 4 + i, 2);
	check(aio_run(ctx, fd_d, IOCB_CMD_PWRITE, 4, NAIO, bufs) == NAIO,
	      "AIO O_DIRECT writes: all complete in full");
	ok = 1;
	for (i = 0; i < NAIO; i++)
		ok &= bread_is(fd_b, 4 + i, 2);
	check(ok, "buffered reads see every AIO O_DIRECT write");
	ok = 1;
	for (i = 0; i < NAIO; i++)
		ok &= same(map_d + (4 + i) * BLK, 4 + i, 2) &&
		      same(map_b + (4 + i) * BLK, 4 + i, 2);
	check(ok, "both mappings see every AIO O_DIRECT write");

	/* 3a. buffered write of block 2, then O_DIRECT reads */
	fill(b, 2, 3);
	check(pwrite(fd_b, b, BLK, 2 * BLK) == BLK, "buffered pwrite");
	check(dread_is(fd_d, abuf, 2, 3),
	      "O_DIRECT pread sees the buffered write");
	check(same(map_d + 2 * BLK, 2, 3), "the mapping sees it too");

	/* 3b. stores into the mapping (no msync), then O_DIRECT reads */
	fill(map_d + 3 * BLK, 3, 4);
	fill(map_b + 12 * BLK, 12, 4);
	check(dread_is(fd_d, abuf, 3, 4),
	      "O_DIRECT pread sees a store into the O_DIRECT fd's mapping");
	check(dread_is(fd_d, abuf, 12, 4),
	      "O_DIRECT pread sees a store into the other mapping");
	fill(map_d + 13 * BLK, 13, 5);
	for (i = 0; i < 2; i++)
		memset(bufs[i], 0, BLK);
	check(aio_run(ctx, fd_d, IOCB_CMD_PREAD, 12, 2, bufs) == 2,
	      "AIO O_DIRECT reads complete in full");
	check(same(bufs[0], 12, 4) && same(bufs[1], 13, 5),
	      "AIO O_DIRECT reads see the stores");
	check(bread_is(fd_b, 3, 4), "buffered read sees the store");

	/* 3c. an O_DIRECT write over a block just stored to (dirty page) */
	fill(map_b + 14 * BLK, 14, 6);
	fill(abuf, 14, 7);
	check(pwrite(fd_d, abuf, BLK, 14 * BLK) == BLK,
	      "O_DIRECT pwrite over a dirty mapped page");
	check(same(map_d + 14 * BLK, 14, 7) && bread_is(fd_b, 14, 7),
	      "the mapping and buffered reads see the O_DIRECT write, not "
	      "the older store");

	/* 4. an O_DIRECT write past EOF */
	fill(abuf, NBLK, 8);
	check(pwrite(fd_d, abuf, BLK, (off_t)FSIZE) == BLK,
	      "O_DIRECT pwrite past EOF");
	check(fstat(fd_b, &st) == 0 && st.st_size == FSIZE + BLK,
	      "st_size grew by the O_DIRECT block");
	check(bread_is(fd_b, NBLK, 8), "buffered read past the old EOF");

	/* the whole file, one last time, through the three ways */
	ok = 1;
	for (i = 0; i < NBLK; i++) {
		int gen = i == 1 ? 1 : i == 2 ? 3 : i == 3 ? 4 :
			  i >= 4 && i < 12 ? 2 : i == 12 ? 4 : i == 13 ? 5 :
			  i == 14 ? 7 : 0;

		ok &= bread_is(fd_b, i, gen) && dread_is(fd_d, abuf, i, gen) &&
		      same(map_d + i * BLK, i, gen);
	}
	check(ok, "every block agrees through buffered, O_DIRECT and mmap");

	syscall(SYS_io_destroy, ctx);
	munmap(map_d, FSIZE);
	munmap(map_b, FSIZE);
	close(fd_d);
	close(fd_b);
	unlink(path);
	free(abuf);
	for (i = 0; i < NAIO; i++)
		free(bufs[i]);
	return failures ? 1 : 0;
}

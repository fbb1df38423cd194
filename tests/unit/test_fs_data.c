/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fs_data.c -- the regular-file data path of fs/ without a mount:
 * writes and reads through chunk iovecs, holes, truncate, every fallocate
 * mode with its edges, ENOSPC with nothing lost or leaked, SEEK_DATA and
 * SEEK_HOLE, and copy_file_range. 4 KiB chunks, a 64-chunk budget.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/fs_i.h"

#define CS 4096u
#define NCHUNKS 64u

struct env {
	struct mmfs_tier *tier;
	struct mmfs_snap *snap;
	struct fs *fs;
	struct fs_inode *a, *b;
};

static int setup(void **state)
{
	struct mmfs_tier_opts o = { .dram_bytes = NCHUNKS * CS,
				    .chunk_size = CS };
	struct fs_owner own = { 0, 0, 0 };
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(mmfs_tier_new(&o, &e->tier), 0);
	assert_int_equal(mmfs_snap_new(e->tier, &e->snap), 0);
	e->fs = calloc(1, sizeof(*e->fs));
	fs_init(e->fs, e->tier, e->snap);
	assert_int_equal(fs_inode_new(e->fs, S_IFREG | 0644, &own, 0,
				      &e->a), 0);
	assert_int_equal(fs_inode_new(e->fs, S_IFREG | 0644, &own, 0,
				      &e->b), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	struct mmfs_tier_stat ts;

	fs_fini(e->fs);
	free(e->fs);
	/* Every chunk went back when the files went. */
	mmfs_tier_stat(e->tier, &ts);
	assert_int_equal(ts.used_chunks[MMFS_TIER_DRAM], 0);
	mmfs_snap_free(&e->snap);
	mmfs_tier_free(&e->tier);
	free(e);
	return 0;
}

static ssize_t do_write(struct env *e, struct fs_inode *in, uint64_t off,
			const void *buf, size_t len)
{
	struct iovec iov[NCHUNKS + 2];
	const char *p = buf;
	size_t bytes, done = 0;
	int n, i;

	n = fs_data_write_iov(e->fs, in, off, len, iov, NCHUNKS + 2, &bytes);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		memcpy(iov[i].iov_base, p + done, iov[i].iov_len);
		done += iov[i].iov_len;
	}
	assert_int_equal(done, bytes);
	fs_data_write_done(e->fs, in, off, bytes);
	return (ssize_t)bytes;
}

static size_t do_read(struct env *e, struct fs_inode *in, uint64_t off,
		      void *buf, size_t len)
{
	struct iovec iov[NCHUNKS + 2];
	char *p = buf;
	size_t bytes, done = 0;
	int n, i;

	n = fs_data_read_iov(e->fs, in, off, len, iov, NCHUNKS + 2, &bytes);
	for (i = 0; i < n; i++) {
		memcpy(p + done, iov[i].iov_base, iov[i].iov_len);
		done += iov[i].iov_len;
	}
	assert_int_equal(done, bytes);
	return bytes;
}

static uint64_t used(struct env *e)
{
	struct mmfs_tier_stat ts;

	mmfs_tier_stat(e->tier, &ts);
	return ts.used_chunks[MMFS_TIER_DRAM];
}

static void fill(char *buf, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)('a' + (i * 7 + seed) % 26);
}

static int all_zero(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i])
			return 0;
	return 1;
}

static void test_write_read_holes(void **state)
{
	struct env *e = *state;
	char w[3 * CS], r[10 * CS];

	fill(w, sizeof(w), 1);
	/* Unaligned, spanning three chunks, far from the start: a hole. */
	assert_int_equal(do_write(e, e->a, 5 * CS + 100, w, 2 * CS), 2 * CS);
	assert_int_equal(e->a->size, 7 * CS + 100);
	assert_int_equal(e->a->blocks, 3);
	assert_int_equal(do_read(e, e->a, 0, r, sizeof(r)), 7 * CS + 100);
	assert_true(all_zero(r, 5 * CS + 100));
	assert_memory_equal(r + 5 * CS + 100, w, 2 * CS);
	/* Reads stop at EOF; past it they are empty. */
	assert_int_equal(do_read(e, e->a, 7 * CS + 100, r, CS), 0);
	assert_int_equal(do_read(e, e->a, 7 * CS, r, CS), 100);
}

/*
 * Punching part of a chunk preallocated beyond EOF (KEEP_SIZE) leaves it
 * unwritten: written data beyond EOF would be a corrupt file to fsck (found
 * by the crash test).
 */
static void test_punch_unwritten_past_eof(void **state)
{
	struct env *e = *state;
	uint64_t idx;
	char buf[100];

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(do_write(e, e->a, 0, buf, sizeof(buf)), 100);
	assert_int_equal(fs_data_fallocate(e->fs, e->a, FALLOC_FL_KEEP_SIZE,
					   2 * CS, 3 * CS), 0);
	assert_int_equal(fs_data_fallocate(e->fs, e->a,
					   FALLOC_FL_PUNCH_HOLE |
					   FALLOC_FL_KEEP_SIZE,
					   2 * CS + 10, CS), 0);
	assert_int_equal(e->a->size, 100);
	assert_int_equal(mmfs_snap_map_next_data(&e->a->map, 1, &idx), -ENXIO);
	/* No whole chunk was punched: the preallocation still counts. */
	assert_int_equal(mmfs_snap_map_chunks(&e->a->map), 4);
}

static void test_truncate(void **state)
{
	struct env *e = *state;
	char w[4 * CS], r[4 * CS];

	fill(w, sizeof(w), 2);
	assert_int_equal(do_write(e, e->a, 0, w, sizeof(w)), sizeof(w));
	assert_int_equal(used(e), 4);
	assert_int_equal(fs_data_truncate(e->fs, e->a, CS + 10), 0);
	assert_int_equal(used(e), 2);
	assert_int_equal(fs_data_truncate(e->fs, e->a, 4 * CS), 0);
	assert_int_equal(do_read(e, e->a, 0, r, sizeof(r)), sizeof(r));
	assert_memory_equal(r, w, CS + 10);
	assert_true(all_zero(r + CS + 10, sizeof(r) - CS - 10));
	assert_int_equal(fs_data_truncate(e->fs, e->a, 0), 0);
	assert_int_equal(used(e), 0);
	assert_int_equal(fs_data_truncate(e->fs, e->a, FS_MAX_FILE_SIZE + 1),
			 -EFBIG);
}

static void test_fallocate_modes(void **state)
{
	struct env *e = *state;
	char w[4 * CS], r[4 * CS];

	assert_int_equal(fs_data_fallocate(e->fs, e->a, 0, 0, 4 * CS), 0);
	assert_int_equal(e->a->size, 4 * CS);
	assert_int_equal(used(e), 4);
	assert_int_equal(fs_data_fallocate(e->fs, e->a, FALLOC_FL_KEEP_SIZE,
					   4 * CS, 2 * CS), 0);
	assert_int_equal(e->a->size, 4 * CS);
	assert_int_equal(used(e), 6);
	/* Truncating frees what KEEP_SIZE put past EOF, as ext4. */
	assert_int_equal(fs_data_truncate(e->fs, e->a, 4 * CS), 0);
	assert_int_equal(used(e), 4);

	fill(w, sizeof(w), 3);
	assert_int_equal(do_write(e, e->a, 0, w, sizeof(w)), sizeof(w));
	/* Punch from mid chunk 0 to mid chunk 2: chunk 1 is freed. */
	assert_int_equal(fs_data_fallocate(e->fs, e->a,
					   FALLOC_FL_PUNCH_HOLE |
						   FALLOC_FL_KEEP_SIZE,
					   CS / 2, 2 * CS), 0);
	assert_int_equal(used(e), 3);
	assert_int_equal(do_read(e, e->a, 0, r, sizeof(r)), sizeof(r));
	assert_memory_equal(r, w, CS / 2);
	assert_true(all_zero(r + CS / 2, 2 * CS));
	assert_memory_equal(r + 5 * CS / 2, w + 5 * CS / 2, 3 * CS / 2);
	/* PUNCH_HOLE needs KEEP_SIZE; unknown modes are refused. */
	assert_int_equal(fs_data_fallocate(e->fs, e->a, FALLOC_FL_PUNCH_HOLE,
					   0, CS), -EOPNOTSUPP);
	assert_int_equal(fs_data_fallocate(e->fs, e->a,
					   FALLOC_FL_COLLAPSE_RANGE, 0, CS),
			 -EOPNOTSUPP);
	/* ZERO_RANGE extends the size unless KEEP_SIZE. */
	assert_int_equal(fs_data_fallocate(e->fs, e->a, FALLOC_FL_ZERO_RANGE,
					   3 * CS, 3 * CS), 0);
	assert_int_equal(e->a->size, 6 * CS);
	assert_int_equal(do_read(e, e->a, 3 * CS, r, 3 * CS), 3 * CS);
	assert_true(all_zero(r, 3 * CS));
	assert_int_equal(fs_data_fallocate(e->fs, e->a, 0, 0, 0), -EINVAL);
}

static void test_enospc_loses_nothing(void **state)
{
	struct env *e = *state;
	char *w = malloc(NCHUNKS * CS), *r = malloc(NCHUNKS * CS);
	ssize_t n;

	fill(w, NCHUNKS * CS, 4);
	assert_int_equal(do_write(e, e->a, 0, w, 40 * CS), 40 * CS);
	/* All-or-nothing fallocate: 30 more do not fit, none are kept. */
	assert_int_equal(fs_data_fallocate(e->fs, e->b, 0, 0, 30 * CS),
			 -ENOSPC);
	assert_int_equal(used(e), 40);
	assert_int_equal(e->b->size, 0);
	/* A write that only partly fits is short, and keeps what fit. */
	n = do_write(e, e->b, 0, w, 30 * CS);
	assert_int_equal(n, 24 * CS);
	assert_int_equal(do_write(e, e->b, 24 * CS, w, CS), -ENOSPC);
	assert_int_equal(do_read(e, e->a, 0, r, 40 * CS), 40 * CS);
	assert_memory_equal(r, w, 40 * CS);
	assert_int_equal(do_read(e, e->b, 0, r, 24 * CS), 24 * CS);
	assert_memory_equal(r, w, 24 * CS);
	/* Freeing space makes room again. */
	assert_int_equal(fs_data_truncate(e->fs, e->a, 0), 0);
	assert_int_equal(do_write(e, e->b, 24 * CS, w, CS), CS);
	free(w);
	free(r);
}

static void test_seek(void **state)
{
	struct env *e = *state;
	char w[CS];

	fill(w, sizeof(w), 5);
	/* data at chunks 2 and 5..6, size 10 chunks */
	assert_int_equal(do_write(e, e->a, 2 * CS, w, CS), CS);
	assert_int_equal(do_write(e, e->a, 5 * CS, w, CS), CS);
	assert_int_equal(do_write(e, e->a, 6 * CS, w, CS), CS);
	assert_int_equal(fs_data_truncate(e->fs, e->a, 10 * CS), 0);
	assert_int_equal(fs_data_seek(e->fs, e->a, 0, SEEK_DATA), 2 * CS);
	assert_int_equal(fs_data_seek(e->fs, e->a, 2 * CS + 5, SEEK_DATA),
			 2 * CS + 5);
	assert_int_equal(fs_data_seek(e->fs, e->a, 3 * CS, SEEK_DATA), 5 * CS);
	assert_int_equal(fs_data_seek(e->fs, e->a, 7 * CS, SEEK_DATA), -ENXIO);
	assert_int_equal(fs_data_seek(e->fs, e->a, 0, SEEK_HOLE), 0);
	assert_int_equal(fs_data_seek(e->fs, e->a, 2 * CS, SEEK_HOLE), 3 * CS);
	assert_int_equal(fs_data_seek(e->fs, e->a, 5 * CS, SEEK_HOLE), 7 * CS);
	assert_int_equal(fs_data_seek(e->fs, e->a, 8 * CS, SEEK_HOLE), 8 * CS);
	assert_int_equal(fs_data_seek(e->fs, e->a, 10 * CS, SEEK_HOLE), -ENXIO);
	assert_int_equal(fs_data_seek(e->fs, e->a, -1, SEEK_DATA), -ENXIO);
	/* A file with no hole: the hole is at EOF. */
	assert_int_equal(do_write(e, e->b, 0, w, 100), 100);
	assert_int_equal(fs_data_seek(e->fs, e->b, 0, SEEK_HOLE), 100);
}

/* Preallocated chunks: allocated for st_blocks, holes for SEEK_DATA. */
static void test_unwritten(void **state)
{
	struct env *e = *state;
	char w[CS];

	fill(w, sizeof(w), 7);
	assert_int_equal(fs_data_fallocate(e->fs, e->a, 0, 0, 4 * CS), 0);
	assert_int_equal(e->a->blocks, 4);
	assert_int_equal(fs_data_seek(e->fs, e->a, 0, SEEK_DATA), -ENXIO);
	assert_int_equal(fs_data_seek(e->fs, e->a, 0, SEEK_HOLE), 0);
	assert_int_equal(do_write(e, e->a, 2 * CS, w, 10), 10);
	assert_int_equal(used(e), 4); /* the write used the preallocation */
	assert_int_equal(fs_data_seek(e->fs, e->a, 0, SEEK_DATA), 2 * CS);
	assert_int_equal(fs_data_seek(e->fs, e->a, 2 * CS, SEEK_HOLE), 3 * CS);
	/* ZERO_RANGE over a hole preallocates, as ext4. */
	assert_int_equal(fs_data_fallocate(e->fs, e->b, FALLOC_FL_ZERO_RANGE,
					   0, 2 * CS), 0);
	assert_int_equal(e->b->blocks, 2);
	assert_int_equal(e->b->size, 2 * CS);
	/* A failed fallocate gives back only what it took itself. */
	assert_int_equal(fs_data_fallocate(e->fs, e->a, FALLOC_FL_KEEP_SIZE,
					   0, NCHUNKS * CS), -ENOSPC);
	assert_int_equal(e->a->blocks, 4);
	assert_int_equal(used(e), 6);
}

static void test_copy(void **state)
{
	struct env *e = *state;
	char w[3 * CS], r[4 * CS];

	fill(w, sizeof(w), 6);
	assert_int_equal(do_write(e, e->a, CS, w, sizeof(w)), sizeof(w));
	/* Unaligned source and destination; the hole at the start copies. */
	assert_int_equal(fs_data_copy(e->fs, e->a, 10, e->b, 300, 4 * CS),
			 4 * CS - 10);
	assert_int_equal(e->b->size, 300 + 4 * CS - 10);
	assert_int_equal(do_read(e, e->b, 300, r, 4 * CS - 10), 4 * CS - 10);
	assert_true(all_zero(r, CS - 10));
	assert_memory_equal(r + CS - 10, w, sizeof(w));
	/* Past the source's EOF nothing is copied. */
	assert_int_equal(fs_data_copy(e->fs, e->a, 4 * CS, e->b, 0, CS), 0);
}

/*
 * copy_file_range's EOF case: a range inside one chunk that starts past
 * dst's own bytes there keeps them (the last chunk is shared only when the
 * range covers its start), and a copy of a file's tail to a later offset
 * of the same file works (no sharing "to the end" over the range itself).
 */
static void test_copy_eof_edges(void **state)
{
	struct env *e = *state;
	char w[2 * CS], d[100], r[2 * CS];

	fill(w, sizeof(w), 8);
	fill(d, sizeof(d), 9);
	assert_int_equal(do_write(e, e->a, 0, w, 150), 150);
	assert_int_equal(do_write(e, e->b, 0, d, 100), 100);
	assert_int_equal(fs_data_copy(e->fs, e->a, 100, e->b, 100, 50), 50);
	assert_int_equal(e->b->size, 150);
	assert_int_equal(do_read(e, e->b, 0, r, 150), 150);
	assert_memory_equal(r, d, 100);
	assert_memory_equal(r + 100, w + 100, 50);
	/* A whole chunk and a partial one at EOF, to 4 chunks further on. */
	assert_int_equal(do_write(e, e->a, 0, w, CS + 100), CS + 100);
	assert_int_equal(fs_data_copy(e->fs, e->a, 0, e->a, 4 * CS, CS + 100),
			 CS + 100);
	assert_int_equal(e->a->size, 5 * CS + 100);
	assert_int_equal(do_read(e, e->a, 4 * CS, r, CS + 100), CS + 100);
	assert_memory_equal(r, w, CS + 100);
	assert_int_equal(do_read(e, e->a, 0, r, CS + 100), CS + 100);
	assert_memory_equal(r, w, CS + 100);
	/* Only the tail, from inside the last chunk. */
	assert_int_equal(fs_data_copy(e->fs, e->a, 5 * CS, e->a, 8 * CS, 100),
			 100);
	assert_int_equal(do_read(e, e->a, 8 * CS, r, 100), 100);
	assert_memory_equal(r, w + CS, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_read_holes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_punch_unwritten_past_eof,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fallocate_modes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_enospc_loses_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_seek, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritten, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_eof_edges, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

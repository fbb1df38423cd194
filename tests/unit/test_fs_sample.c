/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fs_sample.c -- page-cache sampling without a mount: a pass drops
 * a page of chosen chunks of each held file (never holes), marks those
 * chunks so that the next access weighs TIER_SAMPLE_WEIGHT, holds one open
 * of its own per file, and lets go of it once that is the last open -- an
 * unlinked file's chunks then go back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs_i.h"
#include "tier/tier_i.h"

#define CS 4096u

struct env {
	struct mmfs_tier *tier;
	struct mmfs_snap *snap;
	struct fs fs;
	struct fs_inode *in;
	unsigned calls;
	uint64_t ino, off[64], len[64];
};

static int fake_inval(void *arg, uint64_t ino, uint64_t off, uint64_t len)
{
	struct env *e = arg;

	if (e->calls < 64) {
		e->off[e->calls] = off;
		e->len[e->calls] = len;
	}
	e->ino = ino;
	e->calls++;
	return 0;
}

static void write_chunk(struct env *e, uint64_t idx)
{
	struct iovec iov[2];
	size_t bytes;
	int n;

	n = fs_data_write_iov(&e->fs, e->in, idx * CS, CS, iov, 2, &bytes);
	assert_int_equal(n, 1);
	memset(iov[0].iov_base, 'x', CS);
	fs_data_write_done(&e->fs, e->in, idx * CS, bytes);
}

static int setup(void **state)
{
	/* Two tiers (a volatile slow one): sampling needs an engine. */
	struct mmfs_tier_opts o = { .dram_bytes = 16 * CS, .chunk_size = CS,
				    .slow_bytes = 64 * CS };
	struct fs_owner own = { 0, 0, 0 };
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(mmfs_tier_new(&o, &e->tier), 0);
	assert_int_equal(mmfs_snap_new(e->tier, &e->snap), 0);
	fs_init(&e->fs, e->tier, e->snap);
	assert_int_equal(fs_inode_new(&e->fs, S_IFREG | 0644, &own, 0,
				      &e->in), 0);
	atomic_store(&e->in->nlink, 1); /* as if it had a name */
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	fs_sample_stop(&e->fs);
	fs_fini(&e->fs);
	mmfs_snap_free(&e->snap);
	mmfs_tier_free(&e->tier);
	free(e);
	return 0;
}

/* A pass: one range per file at least, chunk-aligned, never a hole. */
static void test_pass_drops_chunks(void **state)
{
	struct env *e = *state;
	uint64_t passes, dropped, files;
	unsigned i;
	uint32_t id;
	uint16_t heat;

	assert_int_equal(fs_sample_init(&e->fs, 0, 100), -EINVAL);
	assert_int_equal(fs_sample_init(&e->fs, 101, 100), -EINVAL);
	assert_int_equal(fs_sample_init(&e->fs, 50, 100), 0);
	write_chunk(e, 0);
	write_chunk(e, 2);
	write_chunk(e, 5); /* chunks 1, 3 and 4 are holes */
	assert_int_equal(fs_inode_open(e->in), 0);
	fs_sample_hold(&e->fs, e->in);
	fs_sample_hold(&e->fs, e->in); /* once per inode */
	assert_int_equal(atomic_load(&e->in->opens), 2);
	assert_int_equal(fs_sample_start(&e->fs, fake_inval, e), 0);
	for (i = 0; i < 20; i++)
		fs_sample_pass(&e->fs);
	assert_true(e->calls > 0);
	assert_int_equal(e->ino, e->in->ino);
	for (i = 0; i < e->calls && i < 64; i++) {
		assert_int_equal(e->len[i], 4096); /* one page */
		assert_true(e->off[i] == 0 || e->off[i] == 2 * CS ||
			    e->off[i] == 5 * CS);
	}
	fs_sample_stat(&e->fs, &passes, &dropped, &files);
	assert_true(passes >= 20);
	assert_int_equal(dropped, e->calls);
	assert_int_equal(files, 1);
	/* A sampled chunk's next access weighs more than one. */
	id = mmfs_snap_map_lookup(&e->in->map, 0);
	heat = mmfs_tier_chunk_heat(e->tier, id); /* the write's */
	mmfs_tier_chunk_sampled(e->tier, id);
	mmfs_tier_access(e->tier, id, CS, false);
	assert_int_equal(mmfs_tier_chunk_heat(e->tier, id),
			 heat + TIER_SAMPLE_WEIGHT);
	mmfs_tier_access(e->tier, id, CS, false); /* and only that one */
	assert_int_equal(mmfs_tier_chunk_heat(e->tier, id),
			 heat + TIER_SAMPLE_WEIGHT + 1);
	fs_inode_close(&e->fs, e->in);
}

/* The hold goes with the last opener; an unlinked file's chunks follow. */
static void test_hold_released(void **state)
{
	struct env *e = *state;
	struct mmfs_tier_stat ts;
	uint64_t passes, dropped, files;

	assert_int_equal(fs_sample_init(&e->fs, 10, 100), 0);
	write_chunk(e, 0);
	write_chunk(e, 1);
	assert_int_equal(fs_inode_open(e->in), 0);
	fs_sample_hold(&e->fs, e->in);
	atomic_store(&e->in->nlink, 0); /* unlinked while open */
	fs_inode_close(&e->fs, e->in);  /* the application's close */
	/* The sampler's hold keeps the data until its next pass. */
	mmfs_tier_stat(e->tier, &ts);
	assert_int_equal(ts.used_chunks[MMFS_TIER_DRAM], 2);
	fs_sample_pass(&e->fs); /* no callback set: only the holds */
	fs_sample_stat(&e->fs, &passes, &dropped, &files);
	assert_int_equal(files, 0);
	assert_int_equal(dropped, 0);
	mmfs_tier_stat(e->tier, &ts);
	assert_int_equal(ts.used_chunks[MMFS_TIER_DRAM], 0);
	e->in = NULL; /* freed by the last close */
}

/* Stopping lets go of every hold. */
static void test_stop_releases(void **state)
{
	struct env *e = *state;

	assert_int_equal(fs_sample_init(&e->fs, 10, 100), 0);
	assert_int_equal(fs_inode_open(e->in), 0);
	fs_sample_hold(&e->fs, e->in);
	fs_inode_close(&e->fs, e->in);
	assert_int_equal(atomic_load(&e->in->opens), 1);
	fs_sample_stop(&e->fs);
	assert_null(e->fs.sample);
	assert_int_equal(atomic_load(&e->in->opens), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pass_drops_chunks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hold_released, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stop_releases, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

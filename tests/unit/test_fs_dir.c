/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fs_dir.c -- fs/ directories without a mount: name lookups, errors,
 * memory accounting, and the readdir cookie contract (an entry present for
 * the whole listing is returned exactly once, whatever is added or removed
 * between two resumed reads), and the end of a listing (fs_dir_end,
 * fs_dir_next: an entry renamed during a listing is not returned again
 * under its new name, so a listing ends while renames go on).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs_i.h"

struct env {
	struct mmfs_tier *tier;
	struct mmfs_snap *snap;
	struct fs *fs;
	struct fs_inode *dir;
	struct fs_inode *file;
};

static int setup(void **state)
{
	struct mmfs_tier_opts o = { .dram_bytes = 1 << 20,
				    .chunk_size = 4096 };
	struct fs_owner own = { 0, 0, 0 };
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(mmfs_tier_new(&o, &e->tier), 0);
	assert_int_equal(mmfs_snap_new(e->tier, &e->snap), 0);
	e->fs = calloc(1, sizeof(*e->fs));
	assert_non_null(e->fs);
	fs_init(e->fs, e->tier, e->snap);
	assert_int_equal(fs_inode_new(e->fs, S_IFDIR | 0755, &own, 0,
				      &e->dir), 0);
	assert_int_equal(fs_dir_init(e->fs, &e->dir->dir, e->dir), 0);
	atomic_store(&e->dir->nlink, 2);
	assert_int_equal(fs_inode_new(e->fs, S_IFREG | 0644, &own, 0,
				      &e->file), 0);
	atomic_store(&e->file->nlink, 1);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	fs_fini(e->fs);
	free(e->fs);
	mmfs_snap_free(&e->snap);
	mmfs_tier_free(&e->tier);
	free(e);
	return 0;
}

/* FUSE wants the root's generation 0; others count from a random base */
static void test_root_generation(void **state)
{
	struct env *e = *state;

	assert_int_equal(e->dir->ino, FS_ROOT_INO);
	assert_int_equal(e->dir->gen, 0);
	assert_true(e->file->gen != 0);
	assert_true(e->file->gen < (1ull << 31) + 1);
}

static void test_add_lookup_remove(void **state)
{
	struct env *e = *state;
	struct fs_dir *d = &e->dir->dir;
	char long_name[FS_NAME_MAX + 2];
	struct fs_dirent *de;

	assert_null(fs_dir_lookup(d, "a"));
	assert_int_equal(fs_dir_add(e->fs, d, "a", e->file), 0);
	assert_int_equal(fs_dir_add(e->fs, d, "a", e->file), -EEXIST);
	de = fs_dir_lookup(d, "a");
	assert_non_null(de);
	assert_ptr_equal(de->inode, e->file);
	assert_null(fs_dir_lookup(d, "ab"));
	assert_false(fs_dir_empty(d));

	memset(long_name, 'x', sizeof(long_name));
	long_name[FS_NAME_MAX] = '\0';
	assert_int_equal(fs_dir_add(e->fs, d, long_name, e->file), 0);
	assert_non_null(fs_dir_lookup(d, long_name));
	long_name[FS_NAME_MAX] = 'x';
	long_name[FS_NAME_MAX + 1] = '\0';
	assert_int_equal(fs_dir_add(e->fs, d, long_name, e->file),
			 -ENAMETOOLONG);
	assert_null(fs_dir_lookup(d, long_name));

	fs_dir_remove(e->fs, d, de);
	assert_null(fs_dir_lookup(d, "a"));
	long_name[FS_NAME_MAX] = '\0';
	fs_dir_remove(e->fs, d, fs_dir_lookup(d, long_name));
	assert_true(fs_dir_empty(d));
}

static void test_accounting_returns_to_start(void **state)
{
	struct env *e = *state;
	struct fs_dir *d = &e->dir->dir;
	int64_t before = atomic_load(&e->fs->meta_bytes);
	char name[32];
	int i;

	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(fs_dir_add(e->fs, d, name, e->file), 0);
	}
	assert_true(atomic_load(&e->fs->meta_bytes) > before + 5000 * 40);
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		fs_dir_remove(e->fs, d, fs_dir_lookup(d, name));
	}
	/* The order array keeps its capacity; entries and index are gone. */
	assert_true(atomic_load(&e->fs->meta_bytes) <=
		    before + (int64_t)(d->cap * sizeof(struct fs_dpos)));
	assert_true(fs_dir_empty(d));
}

/* list_page -- read up to @n entries after @cookie, as readdir would */
static size_t list_page(struct fs_dir *d, uint64_t *cookie, size_t n,
			unsigned char *seen, size_t nseen)
{
	size_t i, got = 0;

	for (i = fs_dir_seek(d, *cookie); i < d->norder && got < n; i++) {
		struct fs_dirent *de = d->order[i].d;
		char name[FS_NAME_MAX + 1];
		unsigned idx;

		if (!de)
			continue;
		assert_true(de->seq > *cookie);
		/* Entry names are counted, not NUL-terminated. */
		memcpy(name, de->name, de->namelen);
		name[de->namelen] = '\0';
		if (sscanf(name, "f%u", &idx) == 1 && idx < nseen)
			seen[idx]++;
		*cookie = de->seq;
		got++;
	}
	return got;
}

static void test_cookies_stable_under_churn(void **state)
{
	struct env *e = *state;
	struct fs_dir *d = &e->dir->dir;
	enum { N = 2000, EXTRA = 100000 };
	unsigned char *seen = calloc(N, 1), *gone = calloc(N, 1);
	uint64_t cookie = 0;
	char name[32];
	unsigned i, next = EXTRA;

	assert_non_null(seen);
	assert_non_null(gone);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		assert_int_equal(fs_dir_add(e->fs, d, name, e->file), 0);
	}
	srand(42);
	while (list_page(d, &cookie, 17, seen, N) > 0) {
		int k;

		/* Between two reads: remove some, add more (new names). */
		for (k = 0; k < 25; k++) {
			unsigned victim = (unsigned)rand() % N;

			snprintf(name, sizeof(name), "f%u", victim);
			if (!gone[victim] && fs_dir_lookup(d, name)) {
				fs_dir_remove(e->fs, d,
					      fs_dir_lookup(d, name));
				gone[victim] = 1;
			}
			/* Bounded, or the listing would never end. */
			if (next >= EXTRA + N)
				continue;
			snprintf(name, sizeof(name), "f%u", next++);
			assert_int_equal(fs_dir_add(e->fs, d, name, e->file),
					 0);
		}
	}
	for (i = 0; i < N; i++) {
		if (!gone[i])
			assert_int_equal(seen[i], 1); /* stayed: exactly once */
		else
			assert_true(seen[i] <= 1);    /* removed: at most once */
	}
	free(seen);
	free(gone);
}

/* rename_in -- (internal) a rename within @d: remove @from, add @to */
static void rename_in(struct env *e, struct fs_dir *d, const char *from,
		      const char *to)
{
	struct fs_dirent *de = fs_dir_lookup(d, from);

	assert_non_null(de);
	assert_int_equal(fs_dir_add(e->fs, d, to, de->inode), 0);
	fs_dir_remove(e->fs, d, de);
}

/* next_name -- (internal) fs_dir_next as a NUL-terminated name, or NULL */
static const char *next_name(struct fs_dir *d, size_t *i, uint64_t end,
			     uint64_t *cookie)
{
	static char name[FS_NAME_MAX + 1];
	struct fs_dirent *de = fs_dir_next(d, i, end);

	if (!de)
		return NULL;
	assert_true(de->seq < end);
	*cookie = de->seq;
	memcpy(name, de->name, de->namelen);
	name[de->namelen] = '\0';
	return name;
}

static void test_listing_end(void **state)
{
	struct env *e = *state;
	struct fs_dir *d = &e->dir->dir;
	uint64_t end, cookie = 0, mark;
	size_t i;

	assert_int_equal(fs_dir_add(e->fs, d, "a", e->file), 0);
	assert_int_equal(fs_dir_add(e->fs, d, "b", e->file), 0);
	assert_int_equal(fs_dir_add(e->fs, d, "c", e->file), 0);
	/* An empty range: nothing, and i stays put. */
	i = 0;
	assert_null(fs_dir_next(d, &i, 3));
	assert_int_equal(i, 0);

	end = fs_dir_end(d);
	i = fs_dir_seek(d, 0);
	assert_string_equal(next_name(d, &i, end, &cookie), "a");
	/* During the listing: rename b, a (already read), add d. */
	rename_in(e, d, "b", "b2");
	rename_in(e, d, "a", "a2");
	assert_int_equal(fs_dir_add(e->fs, d, "d", e->file), 0);
	/* Resumed at the cookie (a new reply): only c is left. */
	i = fs_dir_seek(d, cookie);
	assert_string_equal(next_name(d, &i, end, &cookie), "c");
	mark = cookie;
	assert_null(next_name(d, &i, end, &cookie));
	/* Renames forever: the listing still ends. */
	for (int k = 0; k < 100; k++) {
		rename_in(e, d, k % 2 ? "x" : "c", k % 2 ? "c" : "x");
		i = fs_dir_seek(d, mark);
		assert_null(next_name(d, &i, end, &cookie));
	}

	/* rewinddir: a new end, everything there now, once, in order. */
	end = fs_dir_end(d);
	i = fs_dir_seek(d, 0);
	assert_string_equal(next_name(d, &i, end, &cookie), "b2");
	assert_string_equal(next_name(d, &i, end, &cookie), "a2");
	assert_string_equal(next_name(d, &i, end, &cookie), "d");
	assert_string_equal(next_name(d, &i, end, &cookie), "c");
	assert_null(next_name(d, &i, end, &cookie));
	/* A cookie kept from before (telldir) still seeks: after "a2". */
	i = fs_dir_seek(d, fs_dir_lookup(d, "a2")->seq);
	assert_string_equal(next_name(d, &i, end, &cookie), "d");
	/* Compaction of holes keeps cookies: still resumes after "a2". */
	for (int k = 0; k < 40; k++) {
		char n[16];

		snprintf(n, sizeof(n), "t%d", k);
		assert_int_equal(fs_dir_add(e->fs, d, n, e->file), 0);
		fs_dir_remove(e->fs, d, fs_dir_lookup(d, n));
		assert_int_equal(fs_dir_add(e->fs, d, n, e->file), 0);
	}
	for (int k = 0; k < 40; k++) {
		char n[16];

		snprintf(n, sizeof(n), "t%d", k);
		fs_dir_remove(e->fs, d, fs_dir_lookup(d, n));
	}
	i = fs_dir_seek(d, fs_dir_lookup(d, "a2")->seq);
	assert_string_equal(next_name(d, &i, end, &cookie), "d");
	assert_string_equal(next_name(d, &i, end, &cookie), "c");
	assert_null(next_name(d, &i, end, &cookie));
}

static void test_many_entries(void **state)
{
	struct env *e = *state;
	struct fs_dir *d = &e->dir->dir;
	enum { N = 200000 };
	char name[32];
	unsigned i;

	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "entry-%u", i);
		assert_int_equal(fs_dir_add(e->fs, d, name, e->file), 0);
	}
	assert_int_equal(d->live, N);
	for (i = 0; i < N; i += 7) {
		snprintf(name, sizeof(name), "entry-%u", i);
		assert_non_null(fs_dir_lookup(d, name));
	}
	for (i = 0; i < N; i += 2) {
		snprintf(name, sizeof(name), "entry-%u", i);
		fs_dir_remove(e->fs, d, fs_dir_lookup(d, name));
	}
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "entry-%u", i);
		if (i % 2)
			assert_non_null(fs_dir_lookup(d, name));
		else
			assert_null(fs_dir_lookup(d, name));
	}
	assert_int_equal(d->live, N / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_root_generation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_add_lookup_remove, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_accounting_returns_to_start, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_cookies_stable_under_churn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listing_end, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_many_entries, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

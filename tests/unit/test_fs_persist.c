/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fs_persist.c -- fs/persist*.c on a real pool file, without a mount:
 * a namespace built through the calls the FUSE handlers make (fs_ns_*)
 * comes back identical from the log alone, from a checkpoint alone, and
 * from a checkpoint plus log; what was never synced is gone after a "crash"
 * (the process state dropped without a final checkpoint); the chunk
 * allocator recovers exactly its free space; orphans are freed.
 * 4 KiB chunks, a 16-chunk DRAM tier: files span DRAM and PMEM.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "fs/fs_i.h"

#define CS 4096u

struct env {
	char dir[64], path[96];
	struct mmfs_pool *pool;
	struct mmfs_tier *tier;
	struct mmfs_snap *snap;
	struct fs *fs;
};

/* load -- the pool loaded as `mmfsctl fsck` loads it: recorders not live */
static void load(struct env *e)
{
	struct mmfs_tier_opts to = { .dram_bytes = 16 * CS };
	struct fs_persist_opts po = { .commit_secs = 3600,
				      .root_mode = 01777 };
	char why[MMFS_POOL_WHY];
	int rc;

	assert_int_equal(mmfs_pool_open(e->path, 0, &e->pool, why), 0);
	to.pool = e->pool;
	assert_int_equal(mmfs_tier_new(&to, &e->tier), 0);
	assert_int_equal(mmfs_snap_new(e->tier, &e->snap), 0);
	e->fs = calloc(1, sizeof(*e->fs));
	assert_non_null(e->fs);
	fs_init(e->fs, e->tier, e->snap);
	rc = fs_persist_open(e->fs, e->pool, &po, why);
	if (rc < 0)
		fail_msg("pool does not load: %s (%d)", why, rc);
}

/* up -- loaded and started as a mount: a change outside a txn asserts */
static void up(struct env *e)
{
	load(e);
	assert_int_equal(fs_persist_start(e->fs), 0);
}

/* down -- @clean: unmount; else a crash: memory dropped, nothing written */
static void down(struct env *e, bool clean)
{
	assert_int_equal(fs_persist_close(e->fs, clean), 0);
	fs_fini(e->fs);
	free(e->fs);
	mmfs_snap_free(&e->snap);
	mmfs_tier_free(&e->tier);
	mmfs_pool_close(&e->pool);
}

static int setup(void **state)
{
	struct mmfs_pool_mkfs_opts mo = { .size = 32u << 20, .chunk_size = CS };
	struct env *e = calloc(1, sizeof(*e));
	char why[MMFS_POOL_WHY];

	assert_non_null(e);
	strcpy(e->dir, "/dev/shm/mmfs-persist-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/pool", e->dir);
	assert_int_equal(mmfs_pool_mkfs(e->path, &mo, why), 0);
	up(e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	down(e, true);
	unlink(e->path);
	rmdir(e->dir);
	free(e);
	return 0;
}

/* --- the calls a FUSE handler makes, each one request --------------------- */

static struct fs_inode *root(struct env *e)
{
	return fs_inode_get(e->fs, FS_ROOT_INO);
}

static struct fs_inode *lookup(struct env *e, struct fs_inode *dir,
			       const char *name)
{
	struct fs_dirent *de = fs_dir_lookup(&dir->dir, name);

	return de ? de->inode : NULL;
}

/* mk -- create as a FUSE request would; the kernel's reference dropped */
static struct fs_inode *mk(struct env *e, struct fs_inode *p,
			   const char *name, uint32_t mode,
			   const char *target)
{
	struct fs_owner o = { 1000, 100, 022 };
	struct fs_inode *in;

	assert_int_equal(fs_ns_create(e->fs, p, name, mode, 0, target, &o,
				      &in), 0);
	fs_inode_forget(e->fs, in, 1);
	return in;
}

static void wr(struct env *e, struct fs_inode *in, uint64_t off, int seed,
	       size_t len)
{
	struct iovec iov[64];
	struct fs_txn tx;
	size_t bytes, i, k = 0;
	int n, j;

	fs_txn_begin(e->fs, &tx);
	pthread_rwlock_wrlock(&in->lock);
	n = fs_data_write_iov(e->fs, in, off, len, iov, 64, &bytes);
	assert_true(n > 0);
	assert_int_equal(bytes, len);
	for (j = 0; j < n; j++)
		for (i = 0; i < iov[j].iov_len; i++, k++)
			((char *)iov[j].iov_base)[i] = (char)(seed + k * 7);
	fs_data_write_done(e->fs, in, off, len);
	fs_txn_commit(&tx);
	pthread_rwlock_unlock(&in->lock);
	fs_txn_end(&tx);
}

static void trunc_to(struct env *e, struct fs_inode *in, uint64_t size)
{
	struct fs_txn tx;

	fs_txn_begin(e->fs, &tx);
	pthread_rwlock_wrlock(&in->lock);
	assert_int_equal(fs_data_truncate(e->fs, in, size), 0);
	fs_txn_commit(&tx);
	pthread_rwlock_unlock(&in->lock);
	fs_txn_end(&tx);
}

static void falloc(struct env *e, struct fs_inode *in, int mode, uint64_t off,
		   uint64_t len)
{
	struct fs_txn tx;

	fs_txn_begin(e->fs, &tx);
	pthread_rwlock_wrlock(&in->lock);
	assert_int_equal(fs_data_fallocate(e->fs, in, mode, off, len), 0);
	fs_txn_commit(&tx);
	pthread_rwlock_unlock(&in->lock);
	fs_txn_end(&tx);
}

static void xset(struct env *e, struct fs_inode *in, const char *name,
		 const char *value)
{
	struct fs_txn tx;

	fs_txn_begin(e->fs, &tx);
	pthread_rwlock_wrlock(&in->lock);
	assert_int_equal(fs_xattr_set(e->fs, in, name, value, strlen(value),
				      0), 0);
	fs_inode_touch(in, false, true);
	fs_txn_commit(&tx);
	pthread_rwlock_unlock(&in->lock);
	fs_txn_end(&tx);
}

static void link_to(struct env *e, struct fs_inode *in, struct fs_inode *p,
		    const char *name)
{
	assert_int_equal(fs_ns_link(e->fs, in, p, name), 0);
}

static void unlink_name(struct env *e, struct fs_inode *p, const char *name)
{
	assert_int_equal(fs_ns_unlink(e->fs, p, name), 0);
}

static void mv(struct env *e, struct fs_inode *p1, const char *name,
	       struct fs_inode *p2, const char *newname, unsigned flags)
{
	assert_int_equal(fs_ns_rename(e->fs, p1, name, p2, newname, flags),
			 0);
}

static void rmd(struct env *e, struct fs_inode *p, const char *name)
{
	assert_int_equal(fs_ns_rmdir(e->fs, p, name), 0);
}

/* --- a canonical dump of the namespace -------------------------------------- */

struct dump {
	char *buf;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3)))
out(struct dump *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (d->len + (size_t)n + 1 > d->cap) {
		d->cap = (d->len + (size_t)n + 1) * 2;
		d->buf = realloc(d->buf, d->cap);
		assert_non_null(d->buf);
	}
	va_start(ap, fmt);
	vsnprintf(d->buf + d->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	d->len += (size_t)n;
}

static uint64_t content_hash(struct env *e, struct fs_inode *in)
{
	XXH64_state_t *h = XXH64_createState();
	struct iovec iov[8];
	uint64_t off, r;
	size_t bytes;
	int n, i;

	XXH64_reset(h, 0);
	for (off = 0; off < in->size; off += bytes) {
		n = fs_data_read_iov(e->fs, in, off, 8 * CS, iov, 8, &bytes);
		for (i = 0; i < n; i++)
			XXH64_update(h, iov[i].iov_base, iov[i].iov_len);
	}
	r = XXH64_digest(h);
	XXH64_freeState(h);
	return r;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool dir_times = true;

static void dump_inode(struct env *e, struct dump *d, struct fs_inode *in,
		       const char *path)
{
	struct fs_xattr *x;
	char *names[64];
	size_t n = 0, i;

	out(d, "%s ino=%llu gen=%llu mode=%o uid=%u gid=%u nlink=%u%s%s",
	    path, (unsigned long long)in->ino, (unsigned long long)in->gen,
	    in->mode | in->perm, in->uid, in->gid, atomic_load(&in->nlink),
	    in->frozen ? " frozen" : "", in->is_snapdir ? " snapdir" : "");
	if (dir_times || !S_ISDIR(in->mode))
		out(d, " mtime=%lld.%09ld", (long long)in->mtime.tv_sec,
		    in->mtime.tv_nsec);
	if (S_ISREG(in->mode)) {
		uint64_t next;

		out(d, " size=%llu blocks=%llu hash=%016llx",
		    (unsigned long long)in->size,
		    (unsigned long long)in->blocks,
		    (unsigned long long)content_hash(e, in));
		if (mmfs_snap_map_next_data(&in->map, 0, &next) == 0)
			out(d, " data@%llu hole@%llu", (unsigned long long)next,
			    (unsigned long long)mmfs_snap_map_next_hole(
				    &in->map, next));
	}
	if (S_ISLNK(in->mode))
		out(d, " -> %s", in->target);
	for (x = in->xattrs; x && n < 64; x = x->next)
		names[n++] = x->name;
	qsort(names, n, sizeof(names[0]), cmp_names);
	for (i = 0; i < n; i++) {
		size_t sz;
		char *v = fs_xattr_peek(in, names[i], &sz);

		out(d, " %s=%.*s", names[i], (int)sz, v);
	}
	out(d, "\n");
}

static void dump_dir(struct env *e, struct dump *d, struct fs_inode *dir,
		     const char *path)
{
	size_t i;

	for (i = 0; i < dir->dir.norder; i++) {
		struct fs_dirent *de = dir->dir.order[i].d;
		char *sub;

		if (!de)
			continue;
		assert_true(asprintf(&sub, "%s/%.*s", path, de->namelen,
				     de->name) > 0);
		dump_inode(e, d, de->inode, sub);
		if (S_ISDIR(de->inode->mode))
			dump_dir(e, d, de->inode, sub);
		free(sub);
	}
	if (dir->dir.snapdir) { /* not an entry: dumped as one */
		char *sub;

		assert_true(asprintf(&sub, "%s/.snap", path) > 0);
		dump_inode(e, d, dir->dir.snapdir, sub);
		dump_dir(e, d, dir->dir.snapdir, sub);
		free(sub);
	}
}

static char *dump(struct env *e)
{
	struct dump d = { 0 };
	struct mmfs_tier_stat ts;

	dump_inode(e, &d, root(e), "");
	dump_dir(e, &d, root(e), "");
	mmfs_tier_stat(e->tier, &ts);
	/* Chunks freed but not yet reusable are free after a remount. */
	out(&d, "inodes=%llu chunks in use=%llu\n",
	    (unsigned long long)atomic_load(&e->fs->ninodes),
	    (unsigned long long)(ts.capacity_chunks - ts.free_chunks -
				 ts.pending_chunks));
	return d.buf;
}

/* same -- the dumps are equal; else print the first differing lines */
static void same(const char *a, const char *b)
{
	const char *pa = a, *pb = b;

	while (*pa && *pb) {
		const char *ea = strchr(pa, '\n'), *eb = strchr(pb, '\n');

		if (ea - pa != eb - pb || memcmp(pa, pb, (size_t)(ea - pa))) {
			print_error("before: %.*s\nafter:  %.*s\n",
				    (int)(ea - pa), pa, (int)(eb - pb), pb);
			fail();
		}
		pa = ea + 1;
		pb = eb + 1;
	}
	if (*pa || *pb) {
		print_error("before: %s\nafter:  %s\n", pa, pb);
		fail();
	}
}

/* build -- a tree that exercises every record type */
static void build(struct env *e)
{
	struct fs_inode *d, *sub, *f, *g, *h;

	d = mk(e, root(e), "dir", S_IFDIR | 0755, NULL);
	sub = mk(e, d, "sub", S_IFDIR | 02770, NULL);
	f = mk(e, d, "file", S_IFREG | 0644, NULL);
	wr(e, f, 0, 1, 3 * CS + 100);           /* DRAM */
	wr(e, f, 40 * CS, 2, 2 * CS);           /* a hole before it */
	g = mk(e, sub, "big", S_IFREG | 0600, NULL);
	wr(e, g, 0, 3, 30 * CS);                /* beyond DRAM: PMEM too */
	trunc_to(e, g, 20 * CS + 5);
	falloc(e, g, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * CS,
	       3 * CS);
	falloc(e, g, FALLOC_FL_KEEP_SIZE, 30 * CS, 2 * CS);
	xset(e, f, "user.color", "blue");
	xset(e, f, "user.color", "green");
	xset(e, d, "trusted.x", "1");
	mk(e, root(e), "link", S_IFLNK | 0777, "dir/file");
	mk(e, root(e), "fifo", S_IFIFO | 0600, NULL);
	link_to(e, f, root(e), "hard");
	h = mk(e, d, "gone", S_IFREG | 0644, NULL);
	wr(e, h, 0, 4, 5 * CS);
	unlink_name(e, d, "gone");
}

static void test_log_replay(void **state)
{
	struct env *e = *state;
	char *a, *b;

	build(e);
	a = dump(e);
	assert_int_equal(fs_persist_sync(e->fs), 0);
	down(e, false); /* crash: only the log has it */
	up(e);
	b = dump(e);
	same(a, b);
	free(a);
	free(b);
}

static void count_report(void *arg, const char *kind, const char *msg)
{
	int *n = arg;

	if (strcmp(kind, "note") != 0)
		(*n)++;
}

/*
 * sorted -- (internal) @d's lines in name order, freeing @d: a replayed
 * rename is a remove and an add, so a name replaced or exchanged in place
 * comes back at the end of its directory's readdir order.
 */
static char *sorted(char *d)
{
	char *lines[256], *r, *p, *save = NULL;
	size_t n = 0, i, len = strlen(d);

	r = malloc(len + 1);
	assert_non_null(r);
	for (p = strtok_r(d, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		assert_true(n < 256);
		lines[n++] = p;
	}
	qsort(lines, n, sizeof(lines[0]), cmp_names);
	for (i = 0, p = r; i < n; i++)
		p += sprintf(p, "%s\n", lines[i]);
	*p = '\0';
	free(d);
	return r;
}

/*
 * Renames and rmdir come back from the log (after a checkpoint): a
 * directory moved, a name replaced, an empty directory replaced, two
 * names exchanged; fsck finds the link counts right after the replay.
 */
static void test_rename_replay(void **state)
{
	struct env *e = *state;
	struct fs_inode *d;
	char *a, *b;
	int n = 0;

	build(e);
	assert_int_equal(fs_persist_checkpoint(e->fs), 0);
	d = lookup(e, root(e), "dir");
	mk(e, root(e), "empty", S_IFDIR | 0755, NULL);
	mk(e, root(e), "rmme", S_IFDIR | 0755, NULL);
	mv(e, d, "sub", root(e), "sub", 0);
	mv(e, root(e), "fifo", root(e), "link", 0);
	mv(e, root(e), "sub", root(e), "empty", 0);
	mv(e, d, "file", root(e), "link", RENAME_EXCHANGE);
	rmd(e, root(e), "rmme");
	a = sorted(dump(e));
	assert_int_equal(fs_persist_sync(e->fs), 0);
	down(e, false);
	up(e);
	b = sorted(dump(e));
	same(a, b);
	assert_int_equal(fs_check(e->fs, false, count_report, &n), 0);
	assert_int_equal(n, 0);
	free(a);
	free(b);
}

static void test_checkpoint_then_log(void **state)
{
	struct env *e = *state;
	char *a, *b, *c;

	build(e);
	a = dump(e);
	assert_int_equal(fs_persist_checkpoint(e->fs), 0);
	down(e, false);
	up(e);
	b = dump(e);
	same(a, b); /* the checkpoint alone */
	/* More after the checkpoint: checkpoint + log replay. */
	wr(e, lookup(e, root(e), "hard"), CS, 9, 2 * CS);
	unlink_name(e, root(e), "fifo");
	mk(e, lookup(e, root(e), "dir"), "new", S_IFREG | 0640, NULL);
	free(a);
	a = dump(e);
	assert_int_equal(fs_persist_sync(e->fs), 0);
	down(e, false);
	up(e);
	c = dump(e);
	same(a, c);
	free(a);
	free(b);
	free(c);
}

static void test_unsynced_is_lost(void **state)
{
	struct env *e = *state;
	char *a, *b;

	build(e);
	assert_int_equal(fs_persist_sync(e->fs), 0);
	a = dump(e);
	mk(e, root(e), "later", S_IFREG | 0644, NULL);
	wr(e, lookup(e, root(e), "later"), 0, 5, 3 * CS);
	unlink_name(e, root(e), "hard");
	down(e, false);
	up(e);
	b = dump(e);
	same(a, b);
	free(a);
	free(b);
}

/*
 * A change recorded with no transaction open (a handler that forgot
 * fs_txn_begin) would be lost at a crash: debug and sanitized builds abort
 * on it; a release build goes on (the record is dropped, as before). Run
 * in a child, as an abort ends the process.
 */
static void test_missing_txn_asserts(void **state)
{
	struct env *e = *state;
	struct fs_inode *r = root(e);
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fs_txn_rec_dent(&r->dir, "forgotten", 9, FS_ROOT_INO);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
#ifdef MMFS_DEBUG
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
#else
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
#endif
	/* Inside a transaction the same recorder is legal (and then undone). */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct fs_txn tx;

		fs_txn_begin(e->fs, &tx);
		fs_txn_dirty(r);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The allocator comes back with exactly the free chunks: fill them all. */
static void test_allocator_recovery(void **state)
{
	struct env *e = *state;
	struct mmfs_tier_stat ts;
	struct fs_inode *f;
	uint64_t free_before, n = 0;
	char *a, *b;

	build(e);
	assert_int_equal(fs_persist_sync(e->fs), 0);
	dir_times = false; /* the filler's name comes and goes */
	a = dump(e);
	mmfs_tier_stat(e->tier, &ts);
	free_before = ts.free_chunks + ts.pending_chunks;
	down(e, false);
	up(e);
	mmfs_tier_stat(e->tier, &ts);
	/* Chunks freed before the crash are free again after it. */
	assert_int_equal(ts.free_chunks, free_before);
	f = mk(e, root(e), "filler", S_IFREG | 0644, NULL);
	for (;;) {
		struct iovec iov[2];
		struct fs_txn tx;
		size_t bytes;
		int rc;

		fs_txn_begin(e->fs, &tx);
		pthread_rwlock_wrlock(&f->lock);
		rc = fs_data_write_iov(e->fs, f, n * CS, CS, iov, 2, &bytes);
		if (rc > 0) {
			memset(iov[0].iov_base, 0xee, iov[0].iov_len);
			fs_data_write_done(e->fs, f, n * CS, CS);
		}
		fs_txn_commit(&tx);
		pthread_rwlock_unlock(&f->lock);
		fs_txn_end(&tx);
		if (rc == -ENOSPC)
			break;
		assert_true(rc > 0);
		n++;
	}
	mmfs_tier_stat(e->tier, &ts);
	assert_int_equal(ts.free_chunks, 0);
	unlink_name(e, root(e), "filler");
	/* Filling every free chunk overwrote none of the files'. */
	b = dump(e);
	dir_times = true;
	same(a, b);
	free(a);
	free(b);
}

static void test_orphan_freed(void **state)
{
	struct env *e = *state;
	struct mmfs_tier_stat ts;
	struct fs_inode *f;
	uint64_t free_empty, ninodes;

	assert_int_equal(fs_persist_sync(e->fs), 0);
	mmfs_tier_stat(e->tier, &ts);
	free_empty = ts.free_chunks;
	ninodes = atomic_load(&e->fs->ninodes);
	f = mk(e, root(e), "open", S_IFREG | 0644, NULL);
	wr(e, f, 0, 6, 8 * CS);
	assert_int_equal(fs_inode_open(f), 0); /* held open, then unlinked */
	unlink_name(e, root(e), "open");
	assert_int_equal(fs_persist_sync(e->fs), 0);
	down(e, false);
	up(e);
	mmfs_tier_stat(e->tier, &ts);
	assert_int_equal(ts.free_chunks, free_empty);
	assert_int_equal(atomic_load(&e->fs->ninodes), ninodes);
}

/*
 * Generations, for file handles: the root's is 0, also in a pool written
 * before that (which stored 1); a number freed before a checkpoint does
 * not come back after a remount with the generation it had, so an old
 * handle stays stale.
 */
static void test_generations(void **state)
{
	struct env *e = *state;
	struct fs_inode *x, *y;
	uint64_t ino, gen, next;

	assert_int_equal(root(e)->gen, 0);
	x = mk(e, root(e), "x", S_IFREG | 0644, NULL);
	ino = x->ino;
	gen = x->gen;
	unlink_name(e, root(e), "x"); /* no reference left: freed now */
	assert_null(fs_inode_get(e->fs, ino));
	next = e->fs->gen_next;
	root(e)->gen = 1; /* as a pool written before root generation 0 */
	assert_int_equal(fs_persist_checkpoint(e->fs), 0);
	down(e, false);
	up(e);
	assert_int_equal(root(e)->gen, 0);
	assert_true(e->fs->gen_next >= next);
	y = mk(e, root(e), "y", S_IFREG | 0644, NULL);
	assert_int_equal(y->ino, ino); /* the lowest free number, reused */
	assert_true(y->gen != gen && y->gen >= next);
}

/*
 * fsck's checks, fed a damaged namespace: a wrong link count, data beyond
 * EOF, an inode no directory names. Each is found, --repair fixes it, and
 * the repaired namespace survives a checkpoint and a crash.
 */
static void test_fsck_finds_and_repairs(void **state)
{
	struct env *e = *state;
	struct fs_inode *f, *g, *lost;
	int n = 0;
	char *a, *b;

	build(e);
	down(e, true);
	load(e); /* as mmfsctl fsck: damage and repairs are no requests */
	assert_int_equal(fs_check(e->fs, false, count_report, &n), 0);
	assert_int_equal(n, 0);
	f = lookup(e, lookup(e, root(e), "dir"), "file");
	atomic_store(&f->nlink, 5);                 /* has 2 names */
	g = lookup(e, lookup(e, lookup(e, root(e), "dir"), "sub"), "big");
	g->size = CS;                               /* data up to 20 chunks */
	lost = mk(e, root(e), "lost", S_IFREG | 0644, NULL);
	pthread_rwlock_wrlock(&root(e)->lock);      /* drop its name only */
	fs_dir_remove(e->fs, &root(e)->dir,
		      fs_dir_lookup(&root(e)->dir, "lost"));
	pthread_rwlock_unlock(&root(e)->lock);
	assert_int_equal(fs_check(e->fs, false, count_report, &n), 3);
	assert_int_equal(n, 3);
	n = 0;
	assert_int_equal(fs_check(e->fs, true, count_report, &n), 0);
	assert_int_equal(n, 3);                     /* reported as fixed */
	n = 0;
	assert_int_equal(fs_check(e->fs, false, count_report, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(atomic_load(&f->nlink), 2);
	assert_non_null(lookup(e, lookup(e, root(e), "lost+found"), "#8"));
	assert_true(lost->ino == 8);
	a = dump(e);
	assert_int_equal(fs_persist_checkpoint(e->fs), 0);
	down(e, false);
	up(e);
	b = dump(e);
	same(a, b);
	n = 0;
	assert_int_equal(fs_check(e->fs, false, count_report, &n), 0);
	free(a);
	free(b);
}

/* cp_range -- one copy_file_range request, locked as fuse_ops.c does */
static int64_t cp_range(struct env *e, struct fs_inode *src, uint64_t soff,
			struct fs_inode *dst, uint64_t doff, size_t len)
{
	struct fs_txn tx;
	int64_t n;

	fs_txn_begin(e->fs, &tx);
	pthread_rwlock_rdlock(&src->lock);
	pthread_rwlock_wrlock(&dst->lock);
	n = fs_data_copy(e->fs, src, soff, dst, doff, len);
	fs_txn_commit(&tx);
	pthread_rwlock_unlock(&dst->lock);
	pthread_rwlock_unlock(&src->lock);
	fs_txn_end(&tx);
	return n;
}

static uint64_t used_chunks(struct env *e)
{
	struct mmfs_tier_stat st;

	mmfs_tier_stat(e->tier, &st);
	return st.used_chunks[MMFS_TIER_DRAM] + st.used_chunks[MMFS_TIER_PMEM];
}

static void fsck_clean(struct env *e)
{
	int n = 0;

	assert_int_equal(fs_check(e->fs, false, count_report, &n), 0);
	assert_int_equal(n, 0);
}

/*
 * Reflinks: a whole-file copy shares every chunk (the file's tail chunk
 * too), aligned ranges share whole chunks, others copy bytes; a write to
 * a clone copies one chunk and leaves the source as it was. All of it
 * comes back the same, still shared, from the log (OP_MAP_SHARE) and from
 * a checkpoint (the node table), and fsck's reference audit agrees.
 */
static void test_reflink_persists(void **state)
{
	struct env *e = *state;
	struct fs_inode *f, *g, *c1, *c2;
	uint64_t hash_g, used;
	char *a, *b;

	build(e);
	f = lookup(e, lookup(e, root(e), "dir"), "file");
	g = lookup(e, lookup(e, lookup(e, root(e), "dir"), "sub"), "big");
	hash_g = content_hash(e, g);
	used = used_chunks(e);
	c1 = mk(e, root(e), "clone", S_IFREG | 0644, NULL);
	assert_int_equal(cp_range(e, g, 0, c1, 0, g->size), (int64_t)g->size);
	assert_int_equal(c1->size, g->size);
	assert_int_equal(used_chunks(e), used); /* nothing copied */
	assert_int_equal(content_hash(e, c1), hash_g);
	wr(e, c1, 3 * CS + 10, 8, 10);          /* one chunk copied */
	assert_int_equal(used_chunks(e), used + 1);
	assert_int_equal(content_hash(e, g), hash_g);
	assert_true(content_hash(e, c1) != hash_g);

	c2 = mk(e, root(e), "part", S_IFREG | 0644, NULL);
	wr(e, c2, 0, 7, 10 * CS);
	used = used_chunks(e);
	/* Aligned: 8 chunks shared, c2's old chunks 5..9 go */
	assert_int_equal(cp_range(e, g, 4 * CS, c2, 5 * CS, 8 * CS), 8 * CS);
	assert_int_equal(used_chunks(e), used - 5);
	/* Same offset in the chunk: a head copied, a chunk shared */
	assert_int_equal(cp_range(e, f, 100, c2, 20 * CS + 100, 2 * CS),
			 2 * CS);
	/* Offsets that never line up: bytes */
	assert_int_equal(cp_range(e, f, 1, c2, 30 * CS + 2, CS), CS);
	fsck_clean(e);
	used = used_chunks(e);

	a = dump(e);
	assert_int_equal(fs_persist_sync(e->fs), 0);
	down(e, false); /* crash: the log has the shares */
	up(e);
	b = dump(e);
	same(a, b);
	free(b);
	assert_int_equal(used_chunks(e), used); /* still shared */
	fsck_clean(e);

	assert_int_equal(fs_persist_checkpoint(e->fs), 0);
	down(e, false); /* the checkpoint's node table alone */
	up(e);
	b = dump(e);
	same(a, b);
	assert_int_equal(used_chunks(e), used);
	fsck_clean(e);
	free(a);
	free(b);
}

/*
 * Snapshots, a rollback and a clone: the whole namespace, frozen marks
 * and .snap links included, comes back the same from the log and from a
 * checkpoint, files still share their chunks, and fsck agrees.
 */
static void test_snapshots_persist(void **state)
{
	struct env *e = *state;
	struct fs_inode *d, *f, *sd, *snap;
	uint64_t used;
	char *a, *b;

	build(e);
	d = lookup(e, root(e), "dir");
	used = used_chunks(e);
	assert_int_equal(fs_snap_create(e->fs, d, "s1", 0, NULL), 0);
	assert_int_equal(used_chunks(e), used); /* metadata only */
	f = lookup(e, d, "file");
	wr(e, f, 0, 11, 10);                    /* one chunk copied */
	unlink_name(e, d, "file");
	assert_int_equal(fs_snap_create(e->fs, d, "s2", 0, NULL), 0);
	assert_int_equal(fs_snap_create(e->fs, d, "s2", 0, NULL), -EEXIST);
	assert_int_equal(fs_snap_create(e->fs, d, "a/b", 0, NULL), -EINVAL);
	assert_int_equal(fs_snap_create(e->fs, d, "s3", 1234, NULL), -EPERM);
	assert_int_equal(fs_snap_rollback(e->fs, d, "s1", 0, NULL, NULL), 0);
	assert_non_null(lookup(e, d, "file"));
	sd = d->dir.snapdir;
	assert_non_null(sd);
	snap = lookup(e, sd, "s2");
	assert_non_null(snap);
	assert_true(snap->frozen);
	assert_int_equal(fs_snap_clone(e->fs, snap, root(e), "copy", 0, NULL),
			 0);
	assert_false(lookup(e, root(e), "copy")->frozen);
	assert_int_equal(fs_ns_unlink(e->fs, snap, "hard"), -EROFS);
	fsck_clean(e);
	used = used_chunks(e);

	a = dump(e);
	assert_int_equal(fs_persist_sync(e->fs), 0);
	down(e, false); /* crash: the log alone */
	up(e);
	b = dump(e);
	same(a, b);
	free(b);
	assert_int_equal(used_chunks(e), used);
	fsck_clean(e);
	assert_int_equal(fs_persist_checkpoint(e->fs), 0);
	down(e, false); /* the checkpoint alone */
	up(e);
	b = dump(e);
	same(a, b);
	assert_int_equal(used_chunks(e), used);
	fsck_clean(e);
	/* Deleting both frees what only they held; rmdir works again */
	d = lookup(e, root(e), "dir");
	assert_int_equal(fs_snap_delete(e->fs, d, "s1", 0), 0);
	assert_int_equal(fs_snap_delete(e->fs, d, "s2", 0), 0);
	assert_int_equal(fs_snap_delete(e->fs, d, "s2", 0), -ENOENT);
	fsck_clean(e);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_log_replay, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_then_log,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_replay, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_txn_asserts,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsynced_is_lost, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_allocator_recovery,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_generations, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_orphan_freed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reflink_persists, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_snapshots_persist, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fsck_finds_and_repairs,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fs_ns.c -- fs/ns.c, the namespace rules, without a mount: create of
 * every file type and what a new inode inherits (umask or default ACL,
 * setgid group, tier hint), the errnos of create, link, unlink, rmdir and
 * rename, link counts of files, directories and parents, rename over a
 * file and an empty directory, RENAME_NOREPLACE and RENAME_EXCHANGE, the
 * references a caller owns, and fsck's relink. A volatile filesystem: no
 * transaction is recorded (test_fs_persist replays the records).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs_i.h"

struct env {
	struct mmfs_tier *tier;
	struct mmfs_snap *snap;
	struct fs *fs;
	struct fs_inode *root;
};

static const struct fs_owner owner = { 1000, 100, 022 };

static int setup(void **state)
{
	struct mmfs_tier_opts o = { .dram_bytes = 1 << 20,
				    .chunk_size = 4096 };
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(mmfs_tier_new(&o, &e->tier), 0);
	assert_int_equal(mmfs_snap_new(e->tier, &e->snap), 0);
	e->fs = calloc(1, sizeof(*e->fs));
	assert_non_null(e->fs);
	fs_init(e->fs, e->tier, e->snap);
	assert_int_equal(fs_root_new(e->fs, 0755, 0, 0), 0);
	e->root = fs_inode_get(e->fs, FS_ROOT_INO);
	assert_non_null(e->root);
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

/* --- helpers -------------------------------------------------------------- */

/* mk -- create and drop the caller's reference, as a kernel forget would */
static struct fs_inode *mk(struct env *e, struct fs_inode *dir,
			   const char *name, uint32_t mode)
{
	const char *target = S_ISLNK(mode) ? "somewhere" : NULL;
	struct fs_inode *in;

	assert_int_equal(fs_ns_create(e->fs, dir, name, mode, 0, target,
				      &owner, &in), 0);
	assert_int_equal(atomic_load(&in->nlookup), 1);
	fs_inode_forget(e->fs, in, 1);
	return in;
}

/* mk_held -- create and keep the reference (an inode the kernel knows) */
static struct fs_inode *mk_held(struct env *e, struct fs_inode *dir,
				const char *name, uint32_t mode)
{
	struct fs_inode *in;

	assert_int_equal(fs_ns_create(e->fs, dir, name, mode, 0, NULL,
				      &owner, &in), 0);
	return in;
}

static struct fs_inode *look(struct fs_inode *dir, const char *name)
{
	struct fs_dirent *de = fs_dir_lookup(&dir->dir, name);

	return de ? de->inode : NULL;
}

static uint32_t links(const struct fs_inode *in)
{
	return atomic_load(&in->nlink);
}

static bool gone(struct env *e, uint64_t ino)
{
	return fs_inode_get(e->fs, ino) == NULL;
}

/* --- create --------------------------------------------------------------- */

static void test_create_types(void **state)
{
	struct env *e = *state;
	static const uint32_t types[] = { S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR,
					  S_IFBLK };
	struct fs_inode *in, *d;
	char name[16];
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(name, sizeof(name), "n%zu", i);
		assert_int_equal(fs_ns_create(e->fs, e->root, name,
					      types[i] | 0666, 0x0801, NULL,
					      &owner, &in), 0);
		assert_ptr_equal(look(e->root, name), in);
		assert_int_equal(in->mode, types[i]);
		assert_int_equal(in->perm, 0644); /* umask 022 */
		assert_int_equal(in->uid, 1000);
		assert_int_equal(in->gid, 100);
		assert_int_equal(in->rdev, 0x0801);
		assert_int_equal(links(in), 1);
		fs_inode_forget(e->fs, in, 1);
	}
	assert_int_equal(links(e->root), 2); /* no subdirectory yet */

	d = mk(e, e->root, "d", S_IFDIR | 0777);
	assert_int_equal(d->mode, S_IFDIR);
	assert_int_equal(d->perm, 0755);
	assert_int_equal(links(d), 2);
	assert_ptr_equal(d->dir.parent, e->root);
	assert_true(fs_dir_empty(&d->dir));
	assert_int_equal(links(e->root), 3);

	assert_int_equal(fs_ns_create(e->fs, d, "l", S_IFLNK | 0777, 0,
				      "../n0", &owner, &in), 0);
	assert_int_equal(in->mode, S_IFLNK);
	assert_string_equal(in->target, "../n0");
	assert_int_equal(in->perm, 0777); /* no umask on symlinks */
	assert_int_equal(links(in), 1);
	assert_int_equal(links(d), 2); /* a symlink is no subdirectory */
	fs_inode_forget(e->fs, in, 1);
	assert_false(gone(e, in->ino)); /* its name holds it */
}

/* Times: the parent's mtime and ctime move with every change of names. */
static void test_create_times(void **state)
{
	struct env *e = *state;
	struct timespec before = { 0, 0 };
	struct fs_inode *f;

	e->root->mtime = e->root->ctime = before;
	f = mk(e, e->root, "f", S_IFREG | 0644);
	assert_true(e->root->mtime.tv_sec > 0);
	assert_true(e->root->ctime.tv_sec > 0);
	assert_true(f->btime.tv_sec > 0);
	assert_int_equal(f->mtime.tv_sec, f->btime.tv_sec);
}

/* BSD group semantics: a setgid directory gives its group (and its bit) */
static void test_create_setgid_dir(void **state)
{
	struct env *e = *state;
	struct fs_inode *d, *f, *sub;

	d = mk(e, e->root, "shared", S_IFDIR | 02775);
	d->gid = 50;
	assert_true(d->perm & S_ISGID);
	f = mk(e, d, "f", S_IFREG | 0644);
	sub = mk(e, d, "sub", S_IFDIR | 0755);
	assert_int_equal(f->gid, 50);
	assert_false(f->perm & S_ISGID);
	assert_int_equal(sub->gid, 50);
	assert_true(sub->perm & S_ISGID);
	assert_int_equal(f->uid, 1000);
}

/* a default ACL u::rw-,g::r--,o::r-- (equivalent to mode 0644) */
static void set_default_acl(struct env *e, struct fs_inode *d)
{
	struct {
		uint32_t version;
		struct {
			uint16_t tag, perm;
			uint32_t id;
		} ent[3];
	} acl = {
		htole32(2),
		{ { htole16(0x01), htole16(6), htole32(UINT32_MAX) },
		  { htole16(0x04), htole16(4), htole32(UINT32_MAX) },
		  { htole16(0x20), htole16(4), htole32(UINT32_MAX) } },
	};

	pthread_rwlock_wrlock(&d->lock);
	assert_int_equal(fs_xattr_set(e->fs, d, FS_ACL_DEFAULT, &acl,
				      sizeof(acl), 0), 0);
	pthread_rwlock_unlock(&d->lock);
}

/*
 * A directory's default ACL replaces the umask (posix_acl_create), and a
 * subdirectory inherits the default ACL; its tier hint passes to every
 * child, with the xattr that stores it.
 */
static void test_create_inherits(void **state)
{
	struct env *e = *state;
	struct fs_owner strict = { 1000, 100, 077 };
	struct fs_inode *d, *f, *sub;
	size_t size;
	void *v;

	d = mk(e, e->root, "acl", S_IFDIR | 0777);
	set_default_acl(e, d);
	pthread_rwlock_wrlock(&d->lock);
	assert_int_equal(fs_xattr_set(e->fs, d, FS_XATTR_TIER, "pmem", 4, 0),
			 0);
	d->hint = MMFS_HINT_PMEM;
	pthread_rwlock_unlock(&d->lock);

	assert_int_equal(fs_ns_create(e->fs, d, "f", S_IFREG | 0666, 0, NULL,
				      &strict, &f), 0);
	fs_inode_forget(e->fs, f, 1);
	assert_int_equal(f->perm, 0644); /* the ACL's, not umask 077's 0600 */
	assert_int_equal(f->hint, MMFS_HINT_PMEM);
	v = fs_xattr_peek(f, FS_XATTR_TIER, &size);
	assert_non_null(v);
	assert_int_equal(size, 4);
	assert_memory_equal(v, "pmem", 4);
	assert_null(fs_xattr_peek(f, FS_ACL_DEFAULT, &size)); /* files: no */

	assert_int_equal(fs_ns_create(e->fs, d, "sub", S_IFDIR | 0777, 0, NULL,
				      &strict, &sub), 0);
	fs_inode_forget(e->fs, sub, 1);
	assert_non_null(fs_xattr_peek(sub, FS_ACL_DEFAULT, &size));
	assert_int_equal(sub->hint, MMFS_HINT_PMEM);

	/* Without a default ACL the umask applies. */
	assert_int_equal(fs_ns_create(e->fs, e->root, "g", S_IFREG | 0666, 0,
				      NULL, &strict, &f), 0);
	fs_inode_forget(e->fs, f, 1);
	assert_int_equal(f->perm, 0600);
	assert_int_equal(f->hint, MMFS_HINT_AUTO);
}

static void test_create_errors(void **state)
{
	struct env *e = *state;
	char longname[FS_NAME_MAX + 2], *target;
	struct fs_inode *in = NULL, *f, *d;
	uint64_t n = atomic_load(&e->fs->ninodes);

	f = mk(e, e->root, "f", S_IFREG | 0644);
	n++;
	assert_int_equal(fs_ns_create(e->fs, e->root, "f", S_IFREG | 0644, 0,
				      NULL, &owner, &in), -EEXIST);
	assert_int_equal(fs_ns_create(e->fs, e->root, "f", S_IFDIR | 0755, 0,
				      NULL, &owner, &in), -EEXIST);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(fs_ns_create(e->fs, e->root, longname, S_IFREG, 0,
				      NULL, &owner, &in), -ENAMETOOLONG);
	longname[FS_NAME_MAX] = '\0'; /* exactly NAME_MAX is fine */
	in = mk(e, e->root, longname, S_IFREG | 0644);
	n++;
	assert_int_equal(fs_ns_create(e->fs, e->root, "a/b", S_IFREG, 0, NULL,
				      &owner, &in), -EINVAL);
	assert_int_equal(fs_ns_create(e->fs, e->root, "", S_IFREG, 0, NULL,
				      &owner, &in), -ENOENT);
	assert_int_equal(fs_ns_create(e->fs, f, "x", S_IFREG, 0, NULL, &owner,
				      &in), -ENOTDIR);
	assert_int_equal(fs_ns_create(e->fs, e->root, "t", 0, 0, NULL, &owner,
				      &in), -EINVAL); /* no file type */
	assert_int_equal(fs_ns_create(e->fs, e->root, "l", S_IFLNK | 0777, 0,
				      NULL, &owner, &in), -EINVAL);
	assert_int_equal(fs_ns_create(e->fs, e->root, "r", S_IFREG | 0644, 0,
				      "x", &owner, &in), -EINVAL);
	target = malloc(FS_SYMLINK_MAX + 2);
	assert_non_null(target);
	memset(target, 'y', FS_SYMLINK_MAX + 1);
	target[FS_SYMLINK_MAX + 1] = '\0';
	assert_int_equal(fs_ns_create(e->fs, e->root, "l", S_IFLNK | 0777, 0,
				      target, &owner, &in), -ENAMETOOLONG);
	target[FS_SYMLINK_MAX] = '\0';
	assert_int_equal(fs_ns_create(e->fs, e->root, "l", S_IFLNK | 0777, 0,
				      target, &owner, &in), 0);
	fs_inode_forget(e->fs, in, 1);
	n++;
	free(target);

	/* A directory removed while a caller still holds it: no new names. */
	d = mk_held(e, e->root, "d", S_IFDIR | 0755);
	assert_int_equal(fs_ns_rmdir(e->fs, e->root, "d"), 0);
	assert_false(gone(e, d->ino));
	assert_int_equal(fs_ns_create(e->fs, d, "x", S_IFREG | 0644, 0, NULL,
				      &owner, &in), -ENOENT);
	fs_inode_forget(e->fs, d, 1);
	/* Nothing failed left an inode behind. */
	assert_int_equal(atomic_load(&e->fs->ninodes), n);
}

/* --- unlink and rmdir ----------------------------------------------------- */

static void test_remove_errors(void **state)
{
	struct env *e = *state;
	struct fs_inode *d, *f;

	d = mk(e, e->root, "d", S_IFDIR | 0755);
	f = mk(e, d, "f", S_IFREG | 0644);
	assert_int_equal(fs_ns_unlink(e->fs, e->root, "d"), -EISDIR);
	assert_int_equal(fs_ns_rmdir(e->fs, d, "f"), -ENOTDIR);
	assert_int_equal(fs_ns_rmdir(e->fs, e->root, "d"), -ENOTEMPTY);
	assert_int_equal(fs_ns_unlink(e->fs, e->root, "nope"), -ENOENT);
	assert_int_equal(fs_ns_rmdir(e->fs, e->root, "nope"), -ENOENT);
	assert_int_equal(fs_ns_unlink(e->fs, f, "x"), -ENOTDIR);
	assert_int_equal(fs_ns_rmdir(e->fs, f, "x"), -ENOTDIR);
	assert_int_equal(fs_ns_rmdir(e->fs, d, "."), -EINVAL);
	assert_int_equal(fs_ns_rmdir(e->fs, d, ".."), -ENOTEMPTY);
	/* Nothing changed. */
	assert_ptr_equal(look(e->root, "d"), d);
	assert_ptr_equal(look(d, "f"), f);
	assert_int_equal(links(e->root), 3);
	assert_int_equal(links(d), 2);
	assert_int_equal(links(f), 1);
}

static void test_remove_counts(void **state)
{
	struct env *e = *state;
	struct fs_inode *d, *f;
	uint64_t dino, fino;

	d = mk(e, e->root, "d", S_IFDIR | 0755);
	f = mk(e, d, "f", S_IFREG | 0644);
	dino = d->ino;
	fino = f->ino;
	assert_int_equal(fs_ns_unlink(e->fs, d, "f"), 0);
	assert_true(gone(e, fino)); /* no name, reference or open left */
	assert_true(fs_dir_empty(&d->dir));
	assert_int_equal(links(e->root), 3);
	assert_int_equal(fs_ns_rmdir(e->fs, e->root, "d"), 0);
	assert_true(gone(e, dino));
	assert_int_equal(links(e->root), 2);
	assert_null(look(e->root, "d"));

	/* An open file outlives its last name; its memory goes at close. */
	f = mk(e, e->root, "open", S_IFREG | 0644);
	assert_int_equal(fs_inode_open(f), 0);
	assert_int_equal(fs_ns_unlink(e->fs, e->root, "open"), 0);
	assert_false(gone(e, f->ino));
	assert_int_equal(links(f), 0);
	fino = f->ino;
	fs_inode_close(e->fs, f);
	assert_true(gone(e, fino));
}

/* --- link ----------------------------------------------------------------- */

static void test_link(void **state)
{
	struct env *e = *state;
	struct fs_inode *d, *f, *g;

	d = mk(e, e->root, "d", S_IFDIR | 0755);
	f = mk(e, e->root, "f", S_IFREG | 0644);
	assert_int_equal(fs_ns_link(e->fs, f, d, "f2"), 0);
	assert_int_equal(links(f), 2);
	assert_ptr_equal(look(d, "f2"), f);
	assert_int_equal(atomic_load(&f->nlookup), 0); /* link takes none */
	assert_int_equal(links(d), 2); /* a file's link is not a subdir */

	assert_int_equal(fs_ns_link(e->fs, d, e->root, "d2"), -EPERM);
	assert_int_equal(fs_ns_link(e->fs, f, d, "f2"), -EEXIST);
	assert_int_equal(fs_ns_link(e->fs, f, e->root, "d"), -EEXIST);
	assert_int_equal(fs_ns_link(e->fs, f, f, "x"), -ENOTDIR);
	assert_int_equal(fs_ns_link(e->fs, f, d, "a/b"), -EINVAL);
	assert_int_equal(fs_ns_link(e->fs, f, d, ""), -ENOENT);
	assert_int_equal(links(f), 2);

	/* A hard link survives the unlink of the other name. */
	assert_int_equal(fs_ns_unlink(e->fs, e->root, "f"), 0);
	assert_false(gone(e, f->ino));
	assert_int_equal(links(f), 1);
	assert_ptr_equal(look(d, "f2"), f);
	assert_null(look(e->root, "f"));

	/* linkat of a file with no name left (held open or known): ENOENT */
	g = mk_held(e, e->root, "g", S_IFREG | 0644);
	assert_int_equal(fs_ns_unlink(e->fs, e->root, "g"), 0);
	assert_int_equal(fs_ns_link(e->fs, g, e->root, "g"), -ENOENT);
	fs_inode_forget(e->fs, g, 1);

	/* Symlinks and other non-directories link too. */
	g = mk(e, e->root, "s", S_IFLNK | 0777);
	assert_int_equal(fs_ns_link(e->fs, g, d, "s2"), 0);
	assert_int_equal(links(g), 2);
}

/* --- rename --------------------------------------------------------------- */

static void test_rename_over_file(void **state)
{
	struct env *e = *state;
	struct fs_inode *a, *b, *d;
	uint64_t bino;

	d = mk(e, e->root, "d", S_IFDIR | 0755);
	a = mk(e, e->root, "a", S_IFREG | 0644);
	b = mk(e, d, "b", S_IFREG | 0644);
	bino = b->ino;
	assert_int_equal(fs_ns_rename(e->fs, e->root, "a", d, "b", 0), 0);
	assert_null(look(e->root, "a"));
	assert_ptr_equal(look(d, "b"), a);
	assert_int_equal(links(a), 1);
	assert_true(gone(e, bino)); /* the victim had nothing else */
	assert_int_equal(links(d), 2);

	/* A victim still held by the kernel stays until its forget. */
	b = mk_held(e, d, "c", S_IFREG | 0644);
	assert_int_equal(fs_ns_rename(e->fs, d, "b", d, "c", 0), 0);
	assert_int_equal(links(b), 0);
	assert_false(gone(e, b->ino));
	bino = b->ino;
	fs_inode_forget(e->fs, b, 1);
	assert_true(gone(e, bino));
	assert_ptr_equal(look(d, "c"), a);
	assert_null(look(d, "b"));
}

static void test_rename_dirs(void **state)
{
	struct env *e = *state;
	struct fs_inode *p1, *p2, *x, *empty, *full, *f;
	uint64_t ino;

	p1 = mk(e, e->root, "p1", S_IFDIR | 0755);
	p2 = mk(e, e->root, "p2", S_IFDIR | 0755);
	x = mk(e, p1, "x", S_IFDIR | 0755);
	assert_int_equal(links(p1), 3);

	/* A directory moves: its ".." and both parents' counts follow. */
	assert_int_equal(fs_ns_rename(e->fs, p1, "x", p2, "y", 0), 0);
	assert_ptr_equal(x->dir.parent, p2);
	assert_int_equal(links(p1), 2);
	assert_int_equal(links(p2), 3);
	assert_int_equal(links(x), 2);

	/* Over an empty directory: it goes, with its parent's link. */
	empty = mk(e, p1, "empty", S_IFDIR | 0755);
	ino = empty->ino;
	assert_int_equal(links(p1), 3);
	assert_int_equal(fs_ns_rename(e->fs, p2, "y", p1, "empty", 0), 0);
	assert_true(gone(e, ino));
	assert_ptr_equal(look(p1, "empty"), x);
	assert_ptr_equal(x->dir.parent, p1);
	assert_int_equal(links(p1), 3); /* one subdirectory for another */
	assert_int_equal(links(p2), 2);

	/* Onto a non-empty directory, a file or from a file: refused. */
	full = mk(e, p2, "full", S_IFDIR | 0755);
	mk(e, full, "f", S_IFREG | 0644);
	f = mk(e, p2, "file", S_IFREG | 0644);
	assert_int_equal(fs_ns_rename(e->fs, p1, "empty", p2, "full", 0),
			 -ENOTEMPTY);
	assert_int_equal(fs_ns_rename(e->fs, p1, "empty", p2, "file", 0),
			 -ENOTDIR);
	assert_int_equal(fs_ns_rename(e->fs, p2, "file", p2, "full", 0),
			 -EISDIR);
	assert_ptr_equal(look(p1, "empty"), x);
	assert_ptr_equal(look(p2, "file"), f);
	assert_int_equal(links(p2), 3);

	/* Into its own subtree, or onto itself's inside: EINVAL. */
	assert_int_equal(fs_ns_rename(e->fs, e->root, "p2", full, "p2", 0),
			 -EINVAL);
	assert_int_equal(fs_ns_rename(e->fs, e->root, "p2", p2, "again", 0),
			 -EINVAL);
	assert_ptr_equal(look(e->root, "p2"), p2);
	assert_ptr_equal(p2->dir.parent, e->root);
}

static void test_rename_errors(void **state)
{
	struct env *e = *state;
	struct fs_inode *f;

	f = mk(e, e->root, "f", S_IFREG | 0644);
	mk(e, e->root, "g", S_IFREG | 0644);
	assert_int_equal(fs_ns_rename(e->fs, e->root, "nope", e->root, "h", 0),
			 -ENOENT);
	assert_int_equal(fs_ns_rename(e->fs, e->root, "f", e->root, "g",
				      RENAME_NOREPLACE), -EEXIST);
	assert_int_equal(fs_ns_rename(e->fs, e->root, "f", e->root, "g",
				      RENAME_NOREPLACE | RENAME_EXCHANGE),
			 -EINVAL);
	assert_int_equal(fs_ns_rename(e->fs, e->root, "f", e->root, "g",
				      RENAME_WHITEOUT), -EINVAL);
	assert_int_equal(fs_ns_rename(e->fs, e->root, "f", e->root, "h",
				      RENAME_EXCHANGE), -ENOENT);
	assert_int_equal(fs_ns_rename(e->fs, f, "x", e->root, "h", 0),
			 -ENOTDIR);
	assert_int_equal(fs_ns_rename(e->fs, e->root, "f", f, "h", 0),
			 -ENOTDIR);
	assert_int_equal(fs_ns_rename(e->fs, e->root, "f", e->root, "a/b", 0),
			 -EINVAL);
	assert_int_equal(fs_ns_rename(e->fs, e->root, "f", e->root, "", 0),
			 -ENOENT);
	assert_ptr_equal(look(e->root, "f"), f);

	/* NOREPLACE to a free name renames. */
	assert_int_equal(fs_ns_rename(e->fs, e->root, "f", e->root, "h",
				      RENAME_NOREPLACE), 0);
	assert_ptr_equal(look(e->root, "h"), f);
	assert_null(look(e->root, "f"));

	/* Two names of one file: nothing happens, both stay. */
	assert_int_equal(fs_ns_link(e->fs, f, e->root, "h2"), 0);
	assert_int_equal(fs_ns_rename(e->fs, e->root, "h", e->root, "h2", 0),
			 0);
	assert_ptr_equal(look(e->root, "h"), f);
	assert_ptr_equal(look(e->root, "h2"), f);
	assert_int_equal(links(f), 2);
}

/* RENAME_EXCHANGE of a file and a directory in two parents */
static void test_rename_exchange(void **state)
{
	struct env *e = *state;
	struct fs_inode *p1, *p2, *f, *d;

	p1 = mk(e, e->root, "p1", S_IFDIR | 0755);
	p2 = mk(e, e->root, "p2", S_IFDIR | 0755);
	f = mk(e, p1, "a", S_IFREG | 0644);
	d = mk(e, p2, "b", S_IFDIR | 0755);
	mk(e, d, "inside", S_IFREG | 0644); /* not empty: no matter */
	assert_int_equal(links(p1), 2);
	assert_int_equal(links(p2), 3);
	assert_int_equal(fs_ns_rename(e->fs, p1, "a", p2, "b",
				      RENAME_EXCHANGE), 0);
	assert_ptr_equal(look(p1, "a"), d);
	assert_ptr_equal(look(p2, "b"), f);
	assert_ptr_equal(d->dir.parent, p1);
	assert_int_equal(links(p1), 3);
	assert_int_equal(links(p2), 2);
	assert_int_equal(links(f), 1);
	assert_int_equal(links(d), 2);

	/* A directory cannot swap with its own ancestor. */
	assert_int_equal(fs_ns_rename(e->fs, e->root, "p1", p1, "a",
				      RENAME_EXCHANGE), -EINVAL);
	assert_int_equal(fs_ns_rename(e->fs, p1, "a", e->root, "p1",
				      RENAME_EXCHANGE), -EINVAL);
	/* Two files in one directory swap too. */
	mk(e, p2, "c", S_IFREG | 0644);
	assert_int_equal(fs_ns_rename(e->fs, p2, "b", p2, "c",
				      RENAME_EXCHANGE), 0);
	assert_ptr_equal(look(p2, "c"), f);
}

/* --- relink (fsck) -------------------------------------------------------- */

static void drop_name(struct env *e, struct fs_inode *dir, const char *name)
{
	pthread_rwlock_wrlock(&dir->lock);
	fs_dir_remove(e->fs, &dir->dir, fs_dir_lookup(&dir->dir, name));
	pthread_rwlock_unlock(&dir->lock);
}

static void test_relink(void **state)
{
	struct env *e = *state;
	struct fs_inode *lf, *f, *d, *sub;

	lf = mk(e, e->root, "lost+found", S_IFDIR | 0700);
	f = mk(e, e->root, "f", S_IFREG | 0644);
	d = mk(e, e->root, "d", S_IFDIR | 0755);
	sub = mk(e, d, "sub", S_IFDIR | 0755);
	drop_name(e, e->root, "f");
	drop_name(e, e->root, "d");
	assert_int_equal(fs_ns_relink(e->fs, f, lf, "#f"), 0);
	assert_ptr_equal(look(lf, "#f"), f);
	assert_int_equal(links(f), 1); /* it still counted the lost name */
	assert_int_equal(fs_ns_relink(e->fs, d, lf, "#d"), 0);
	assert_ptr_equal(d->dir.parent, lf);
	assert_int_equal(links(lf), 3);
	assert_int_equal(fs_ns_relink(e->fs, f, lf, "#d"), -EEXIST);
	/* Not under itself. */
	drop_name(e, d, "sub");
	assert_int_equal(fs_ns_relink(e->fs, d, sub, "#d"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_types, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_create_times, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_create_setgid_dir, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_create_inherits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_create_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_remove_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_remove_counts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_over_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rename_dirs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rename_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rename_exchange, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_relink, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

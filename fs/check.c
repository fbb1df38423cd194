/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check.c -- fsck's namespace checks on a loaded (not mounted) filesystem:
 * every inode reachable from the root, link counts equal to the names that
 * point at them, each directory named once, no written data beyond EOF,
 * chunk refcounts equal to the map references. With @repair, what can be
 * fixed without guessing is fixed in memory; the caller then writes a
 * checkpoint. Single-threaded: nothing else runs on the filesystem.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs_i.h"
#include "utils/err.h"

#define LOST_FOUND "lost+found"

struct check {
	struct fs *fs;
	bool repair;
	fs_check_report_fn report;
	void *arg;
	uint64_t findings, fixed;
	uint32_t *names;       /* per ino: entries naming it */
	uint32_t *subdirs;     /* per ino: subdirectories it holds */
	uint8_t *seen;         /* per ino: reached from the root */
	uint64_t nino;
	uint64_t first_new;    /* inos from here on were made by the repair */
	struct mmfs_snap_audit *audit; /* references of nodes and chunks */
	int rc;
};

static void __attribute__((format(printf, 3, 4)))
finding(struct check *c, bool fixed, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->findings++;
	c->fixed += fixed;
	c->report(c->arg, fixed ? "fixed" : "finding", msg);
}

static void audit_finding(void *arg, const char *msg)
{
	finding(arg, false, "%s", msg);
}

/* walk -- (internal) breadth-first from the root, counting names */
static int walk(struct check *c)
{
	struct fs_inode *root = fs_inode_get(c->fs, FS_ROOT_INO);
	struct fs_inode **queue;
	size_t head = 0, tail = 0, i;

	queue = malloc(c->nino * sizeof(*queue));
	if (!queue)
		return -ENOMEM;
	queue[tail++] = root;
	c->seen[FS_ROOT_INO] = 1;
	while (head < tail) {
		struct fs_inode *d = queue[head++];
		struct fs_inode *sd = d->dir.snapdir;

		/* .snap: named once, by its directory, and no subdirectory */
		if (sd && !c->seen[sd->ino]) {
			c->names[sd->ino]++;
			c->seen[sd->ino] = 1;
			queue[tail++] = sd;
		}
		for (i = 0; i < d->dir.norder; i++) {
			struct fs_dirent *de = d->dir.order[i].d;
			struct fs_inode *in;

			if (!de)
				continue;
			in = de->inode;
			c->names[in->ino]++;
			if (!S_ISDIR(in->mode))
				continue;
			c->subdirs[d->ino]++;
			if (c->seen[in->ino]) {
				finding(c, false, "directory %llu has more "
					"than one name ('%.*s' in %llu)",
					(unsigned long long)in->ino,
					de->namelen, de->name,
					(unsigned long long)d->ino);
				continue;
			}
			c->seen[in->ino] = 1;
			queue[tail++] = in;
		}
	}
	free(queue);
	return 0;
}


/*
 * lost_found -- (internal) /lost+found, made if missing (repair only), as
 * `mkdir -m 0700 /lost+found` by root would make it.
 */
static struct fs_inode *lost_found(struct check *c)
{
	struct fs_inode *root = fs_inode_get(c->fs, FS_ROOT_INO);
	struct fs_dirent *de = fs_dir_lookup(&root->dir, LOST_FOUND);
	struct fs_owner o = { 0, 0, 0 };
	struct fs_inode *in;

	if (de)
		return S_ISDIR(de->inode->mode) ? de->inode : NULL;
	if (fs_ns_create(c->fs, root, LOST_FOUND, S_IFDIR | 0700, 0, NULL, &o,
			 &in) < 0)
		return NULL;
	fs_inode_forget(c->fs, in, 1); /* no kernel here; its name holds it */
	if (in->ino < c->nino) { /* a reused number the walk may yet reach */
		c->seen[in->ino] = 1;
		c->names[in->ino] = 1;
	}
	return in;
}

/* reattach -- (internal) give an unreachable inode a name again */
static bool reattach(struct check *c, struct fs_inode *in)
{
	struct fs_inode *lf = lost_found(c);
	char name[32];

	if (!lf || lf == in)
		return false;
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)in->ino);
	if (fs_ns_relink(c->fs, in, lf, name) < 0)
		return false;
	if (S_ISDIR(in->mode) && lf->ino < c->nino)
		c->subdirs[lf->ino]++;
	return true;
}

static int check_inode(void *arg, struct fs_inode *in)
{
	struct check *c = arg;
	uint64_t ino = in->ino;
	uint32_t want, have = atomic_load(&in->nlink);
	uint64_t idx;

	if (ino >= c->first_new)
		return 0; /* made by this repair (lost+found) */
	if (!c->seen[ino] && !S_ISDIR(in->mode) && c->names[ino])
		c->seen[ino] = 1; /* named from a reached directory */
	if (!c->seen[ino] && have) {
		bool ok = c->repair && reattach(c, in);

		finding(c, ok, "inode %llu is unreachable (nlink %u)%s",
			(unsigned long long)ino, have,
			ok ? ": moved to /" LOST_FOUND : "");
		goto refs; /* its counts are checked on the next run */
	}
	if (!have)
		goto refs; /* an orphan of a crash: freed at mount */
	want = S_ISDIR(in->mode) ? 2 + c->subdirs[ino] : c->names[ino];
	if (want != have) {
		if (c->repair)
			atomic_store(&in->nlink, want);
		finding(c, c->repair, "inode %llu: link count %u, %u names",
			(unsigned long long)ino, have, want);
	}
	if (S_ISREG(in->mode)) {
		uint64_t first = in->size ? ((in->size - 1) >>
					     c->fs->chunk_shift) + 1
					  : 0;

		if (mmfs_snap_map_next_data(&in->map, first, &idx) == 0) {
			if (c->repair) {
				/* cannot fail: ends at the last index */
				(void)mmfs_snap_map_punch(c->fs->snap,
							  &in->map, first,
							  UINT64_MAX);
				in->blocks = mmfs_snap_map_chunks(&in->map);
			}
			finding(c, c->repair, "inode %llu: data at chunk %llu "
				"beyond its size %llu",
				(unsigned long long)ino,
				(unsigned long long)idx,
				(unsigned long long)in->size);
		}
	}
refs:
	/* Orphans too: they hold their chunks until the next mount. */
	if (S_ISREG(in->mode) && c->rc == 0)
		c->rc = mmfs_snap_audit_map(c->audit, &in->map);
	return 0;
}

int fs_check(struct fs *fs, bool repair, fs_check_report_fn report,
	     void *arg)
{
	struct check c = { .fs = fs, .repair = repair, .report = report,
			   .arg = arg };
	int64_t bad;
	int rc = -ENOMEM;

	if (!fs_inode_get(fs, FS_ROOT_INO)) {
		report(arg, "note", "no root directory: a new, empty pool");
		return 0;
	}
	c.nino = fs->ino_next + 1;
	c.first_new = fs->ino_next;
	c.names = calloc(c.nino, sizeof(*c.names));
	c.subdirs = calloc(c.nino, sizeof(*c.subdirs));
	c.seen = calloc(c.nino, 1);
	if (!c.names || !c.subdirs || !c.seen ||
	    mmfs_snap_audit_new(fs->snap, &c.audit) < 0)
		goto out;
	rc = walk(&c);
	if (rc < 0)
		goto out;
	fs_inode_each(fs, check_inode, &c);
	rc = c.rc;
	if (rc < 0)
		goto out;
	bad = mmfs_snap_audit_end(&c.audit, audit_finding, &c);
	if (bad < 0) {
		rc = (int)bad;
		goto out;
	}
	rc = (int)MMFS_MIN(c.findings - c.fixed, (uint64_t)INT32_MAX);
out:
	free(c.names);
	free(c.subdirs);
	free(c.seen);
	if (c.audit)
		(void)mmfs_snap_audit_end(&c.audit, NULL, NULL);
	return rc;
}

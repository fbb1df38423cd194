/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dir.c -- directories: a name hash for lookups and a cookie-ordered array
 * for readdir (see struct fs_dir). The caller holds the directory's ->lock.
 *
 * Cost per entry: the dirent (32 bytes + name, rounded by malloc), one
 * 8-byte hash slot at 3/8..3/4 load and one 16-byte order slot; removed
 * entries leave holes in the order array until they outnumber live ones.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "fs/fs_i.h"
#include "utils/err.h"

struct name_key {
	const char *name;
	size_t len;
};

static uint64_t name_hash(const char *name, size_t len)
{
	return XXH3_64bits(name, len);
}

static bool dirent_eq(const void *item, const void *key)
{
	const struct fs_dirent *de = item;
	const struct name_key *k = key;

	return de->namelen == k->len && memcmp(de->name, k->name, k->len) == 0;
}

static uint64_t dirent_rehash(const void *item)
{
	return ((const struct fs_dirent *)item)->hash;
}

int fs_dir_init(struct fs *fs, struct fs_dir *d, struct fs_inode *parent)
{
	int rc;

	memset(d, 0, sizeof(*d));
	d->next_seq = 3;
	d->parent = parent;
	rc = mmfs_htab_init(&d->names, 0);
	if (rc == 0) /* fs_dir_fini gives back the table, this part too */
		atomic_fetch_add(&fs->meta_bytes,
				 (int64_t)mmfs_htab_bytes(&d->names));
	return rc;
}

void fs_dir_fini(struct fs *fs, struct fs_dir *d)
{
	size_t i;
	int64_t bytes = 0;

	for (i = 0; i < d->norder; i++) {
		struct fs_dirent *de = d->order[i].d;

		if (de) {
			bytes += (int64_t)(sizeof(*de) + de->namelen);
			free(de);
		}
	}
	bytes += (int64_t)(d->cap * sizeof(*d->order) +
			   mmfs_htab_bytes(&d->names));
	atomic_fetch_sub(&fs->meta_bytes, bytes);
	free(d->order);
	mmfs_htab_fini(&d->names);
	/* Leave it empty, so that a second fini (at unmount) is harmless. */
	d->order = NULL;
	d->norder = d->cap = d->live = 0;
}

struct fs_dirent *fs_dir_lookup(struct fs_dir *d, const char *name)
{
	struct name_key k = { name, strlen(name) };

	if (k.len > FS_NAME_MAX)
		return NULL;
	return mmfs_htab_find(&d->names, name_hash(name, k.len), dirent_eq,
			      &k);
}

/* compact -- (internal) squeeze out holes; cookies (seq) do not change */
static void compact(struct fs_dir *d)
{
	size_t i, j = 0;

	for (i = 0; i < d->norder; i++)
		if (d->order[i].d)
			d->order[j++] = d->order[i];
	d->norder = j;
}

int fs_dir_add(struct fs *fs, struct fs_dir *d, const char *name,
	       struct fs_inode *in)
{
	size_t len = strlen(name);
	size_t old_index = mmfs_htab_bytes(&d->names);
	struct fs_dirent *de;
	int rc;

	if (len > FS_NAME_MAX)
		return -ENAMETOOLONG;
	if (fs_dir_lookup(d, name))
		return -EEXIST;
	if (d->norder == d->cap) {
		if (d->norder > 2 * d->live + 16) {
			compact(d);
		} else {
			size_t cap = d->cap ? d->cap * 2 : 8;
			struct fs_dpos *o = realloc(d->order, cap * sizeof(*o));

			if (!o)
				return -ENOMEM;
			atomic_fetch_add(&fs->meta_bytes,
					 (int64_t)((cap - d->cap) * sizeof(*o)));
			d->order = o;
			d->cap = cap;
		}
	}
	de = malloc(sizeof(*de) + len);
	if (!de)
		return -ENOMEM;
	de->hash = name_hash(name, len);
	de->inode = in;
	de->namelen = (uint8_t)len;
	memcpy(de->name, name, len);
	rc = mmfs_htab_insert(&d->names, de->hash, de, dirent_rehash);
	if (rc < 0) {
		free(de);
		return rc;
	}
	de->seq = d->next_seq++;
	d->order[d->norder++] = (struct fs_dpos){ de->seq, de };
	/* Atomic only because stat reads it without the directory lock. */
	__atomic_store_n(&d->live, d->live + 1, __ATOMIC_RELAXED);
	atomic_fetch_add(&fs->meta_bytes,
			 (int64_t)(sizeof(*de) + len +
				   mmfs_htab_bytes(&d->names) - old_index));
	fs_txn_rec_dent(d, name, len, in->ino);
	return 0;
}

size_t fs_dir_seek(const struct fs_dir *d, uint64_t cookie)
{
	size_t lo = 0, hi = d->norder;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->order[mid].seq <= cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct fs_dirent *fs_dir_next(const struct fs_dir *d, size_t *i,
			      uint64_t end)
{
	for (; *i < d->norder && d->order[*i].seq < end; (*i)++) {
		struct fs_dirent *de = d->order[*i].d;

		if (de) {
			(*i)++;
			return de;
		}
	}
	return NULL;
}

struct fs_dirent *fs_dir_last(const struct fs_dir *d)
{
	/* fs_dir_remove drops trailing holes: the last slot is live */
	return d->norder ? d->order[d->norder - 1].d : NULL;
}

void fs_dir_remove(struct fs *fs, struct fs_dir *d, struct fs_dirent *de)
{
	size_t old_index = mmfs_htab_bytes(&d->names);
	size_t pos = fs_dir_seek(d, de->seq - 1);

	MMFS_ASSERT(pos < d->norder && d->order[pos].d == de);
	fs_txn_rec_dent(d, de->name, de->namelen, 0);
	d->order[pos].d = NULL;
	MMFS_ASSERT(mmfs_htab_remove(&d->names, de->hash, de,
				     dirent_rehash) == 0);
	__atomic_store_n(&d->live, d->live - 1, __ATOMIC_RELAXED);
	/* Drop trailing holes at once: a create/unlink loop then stays flat. */
	while (d->norder && !d->order[d->norder - 1].d)
		d->norder--;
	if (d->live == 0)
		d->norder = 0;
	atomic_fetch_sub(&fs->meta_bytes,
			 (int64_t)(sizeof(*de) + de->namelen + old_index -
				   mmfs_htab_bytes(&d->names)));
	free(de);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * persist.c -- commits: the staged records reach the pool's log after the
 * chunks they name (data=ordered), from fsync, sync ioctls, the commit
 * thread every commit= seconds and unmount; a checkpoint when the log is
 * half full. Also starting and closing a pool's persistence
 * (persist_i.h says how the four persist files divide the work).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs/persist_i.h"
#include "utils/err.h"
#include "utils/log.h"
#include "utils/ticker.h"

/*
 * epoch_close -- (internal) end a commit epoch. Its freed chunks become
 * allocatable only if the records freeing them are durable (@durable);
 * after a failed commit they stay unusable until the next mount, which
 * frees them from what the pool says.
 */
void plog_epoch_close(struct fs *fs, struct mmfs_tier_epoch *e,
		      bool durable)
{
	if (!durable)
		e->nfreed = 0;
	mmfs_tier_epoch_end(fs->tier, e);
}

/*
 * commit -- (internal) make durable every change staged so far, after the
 * chunks they name; with @all, every dirty chunk too.
 */
static int commit(struct fs_plog *pl, bool all)
{
	struct fs *fs = pl->fs;
	struct mmfs_tier_epoch e;
	char *stage;
	size_t len, off;
	bool full = false;
	int rc = 0;

	pthread_mutex_lock(&pl->commit_lock);
	/* Take the staged records and the epoch's chunks in one instant. */
	pthread_rwlock_wrlock(&fs->plock);
	pthread_mutex_lock(&pl->stage_lock);
	stage = pl->stage;
	len = pl->stage_len;
	pl->stage = NULL;
	pl->stage_len = pl->stage_cap = 0;
	pthread_mutex_unlock(&pl->stage_lock);
	mmfs_tier_epoch_take(fs->tier, &e);
	pthread_rwlock_unlock(&fs->plock);

	if (all)
		mmfs_tier_writeback_all(fs->tier);
	else
		mmfs_tier_writeback(fs->tier, e.fresh, e.nfresh);
	for (off = 0; off < len;) {
		uint32_t n;
		uint64_t seq;

		memcpy(&n, stage + off, 4);
		rc = mmfs_pool_log_append(pl->pool, stage + off + 4, n, &seq);
		if (rc == -ENOSPC) {
			full = true;
			break;
		}
		if (rc < 0)
			break;
		off += 4 + n;
		pl->st.log_records++;
	}
	free(stage);
	if (full) {
		/* The checkpoint covers what did not fit, and the rest. */
		rc = plog_checkpoint_locked(pl);
	} else if (rc == 0) {
		mmfs_pool_log_persist(pl->pool);
		pl->st.commits++;
		if (mmfs_pool_log_used(pl->pool) >
		    mmfs_pool_log_bytes(pl->pool) / 2)
			rc = plog_checkpoint_locked(pl);
	}
	plog_epoch_close(fs, &e, rc == 0);
	if (rc < 0 && !pl->err)
		pl->err = -EIO;
	rc = pl->err;
	pthread_mutex_unlock(&pl->commit_lock);
	return rc;
}

int fs_persist_sync(struct fs *fs)
{
	if (!fs->plog || fs->plog->rdonly)
		return 0;
	/*
	 * Every dirty chunk, not only the fsync'd file's: what any write
	 * before this fsync stored is durable after it (as ext3's ordered
	 * mode, stronger than ext4's, which leaves other files' overwrites
	 * to writeback). It still costs only what is dirty, and the commit=
	 * timer bounds that to a few seconds of writes.
	 */
	return commit(fs->plog, true);
}

int fs_persist_room(struct fs *fs)
{
	struct fs_plog *pl = fs->plog;
	uint64_t ninodes = atomic_load(&fs->ninodes);
	struct mmfs_snap_stat ss;
	uint64_t need;
	int64_t heap;

	if (!pl)
		return 0;
	/*
	 * What the checkpoint will hold, bounded from above: 115 bytes per
	 * inode record (with a short symlink target) and 14 for its map root;
	 * for entries and xattrs the heap they take, which is more than their
	 * records (an entry is ~70 + name bytes of heap, 30 + name of record);
	 * each distinct map node 7 bytes and 5 per used slot, however many
	 * files share it; the allocation bitmap. So the namespace never
	 * outgrows the checkpoint area and every change stays durable.
	 */
	heap = atomic_load(&fs->meta_bytes) -
	       (int64_t)(ninodes * sizeof(struct fs_inode));
	mmfs_snap_stat(fs->snap, &ss);
	need = ninodes * (115 + 1 + sizeof(struct op_map_root)) +
	       (uint64_t)MMFS_MAX(heap, 0) +
	       (ss.leaves + ss.inners) * (1 + sizeof(struct op_node)) +
	       ss.slots * sizeof(struct op_node_slot) +
	       mmfs_tier_max_id(fs->tier) / 8 + 64;
	return need < pl->ckpt_bytes ? 0 : -ENOSPC;
}

bool fs_persist_reclaim(struct fs *fs)
{
	struct mmfs_tier_stat ts;

	if (!fs->plog || fs->plog->rdonly)
		return false;
	mmfs_tier_stat(fs->tier, &ts);
	if (!ts.pending_chunks)
		return false;
	return commit(fs->plog, false) == 0;
}

int fs_persist_checkpoint(struct fs *fs)
{
	struct fs_plog *pl = fs->plog;
	int rc;

	if (!pl || pl->rdonly)
		return -EROFS;
	pthread_mutex_lock(&pl->commit_lock);
	rc = plog_checkpoint_locked(pl);
	pthread_mutex_unlock(&pl->commit_lock);
	return rc;
}

static void commit_tick(void *arg)
{
	commit(arg, true);
}

int fs_persist_start(struct fs *fs)
{
	struct fs_plog *pl = fs->plog;

	int rc;

	if (!pl || pl->rdonly || pl->committer)
		return 0;
	rc = mmfs_ticker_start(pl->commit_secs * 1000u, commit_tick, pl,
			       &pl->committer);
	if (rc == 0)
		plog_recording(true);
	return rc;
}

void fs_persist_set_commit(struct fs *fs, unsigned secs)
{
	struct fs_plog *pl = fs->plog;

	/* The ticker stays (request threads kick it); its period changes. */
	if (pl && secs)
		mmfs_ticker_set_period(pl->committer, secs * 1000u);
}

#define CLOSE_RETRIES 4

int fs_persist_close(struct fs *fs, bool clean)
{
	struct fs_plog *pl = fs->plog;
	int rc = 0, tries;

	if (!pl)
		return 0;
	if (pl->committer)
		plog_recording(false);
	mmfs_ticker_stop(&pl->committer);
	if (clean && !pl->rdonly) {
		/*
		 * The last checkpoint makes the pool clean and the next mount
		 * quick: a moment's shortage of memory is worth waiting out
		 * (a few tenths of a second). If it lasts, the log replays at
		 * the next mount and nothing is lost.
		 */
		for (tries = 0;; tries++) {
			rc = fs_persist_checkpoint(fs);
			if (rc != -ENOMEM || tries == CLOSE_RETRIES)
				break;
			mmfs_warn("final checkpoint: out of memory; retrying");
			usleep(100000u * (tries + 1));
		}
		if (rc == 0 && pl->err == 0)
			rc = mmfs_pool_set_clean(pl->pool, true);
	}
	fs->plog = NULL;
	plog_free(pl);
	return rc;
}

void fs_persist_stat(struct fs *fs, struct fs_persist_stat *st)
{
	struct fs_plog *pl = fs->plog;

	memset(st, 0, sizeof(*st));
	if (!pl)
		return;
	pthread_mutex_lock(&pl->commit_lock);
	*st = pl->st;
	st->log_bytes_used = mmfs_pool_log_used(pl->pool);
	pthread_mutex_unlock(&pl->commit_lock);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * persist_i.h -- private to the four files of fs/'s persistence: the
 * on-media records and the persistent log's state, shared by
 *   persist_txn.c    building transactions: the recorders (a leaf)
 *   persist_ckpt.c   checkpoints: the whole namespace as records
 *   persist.c        commits, the commit thread, start and close
 *   persist_recover.c  loading a pool: checkpoint, log replay, orphans
 * The public face is fs_i.h's fs_txn_* and fs_persist_*.
 *
 * What is logged is logical and small: an inode's attributes (a whole
 * snapshot, versioned), a directory entry added or removed, a map entry set
 * or a range punched, an xattr set or removed. One request's records form
 * one log record, so a request is replayed whole or not at all. Records are
 * staged in DRAM and reach the pool's log at a commit, after the chunks
 * they name (data=ordered): fsync, fdatasync, syncfs, unmount, and the
 * commit thread every commit= seconds. A checkpoint is the same records
 * for the whole namespace, written when the log is half full; it empties
 * the log, so replay after a crash reads at most half a log.
 *
 * Attribute snapshots carry a per-inode version and replay keeps the
 * newest, so two requests that change one inode under its attribute lock
 * alone may stage in either order. Everything else is staged under the
 * lock that ordered the change (the inode's ->lock), so the log's order is
 * the namespace's order. Lock order: fs/LOCKING.md.
 */
#ifndef MMFS_FS_PERSIST_I_H
#define MMFS_FS_PERSIST_I_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs/fs_i.h"


enum {
	OP_INODE = 1,
	OP_DENT_ADD = 2,
	OP_DENT_DEL = 3,
	OP_MAP_SET = 4,
	OP_MAP_PUNCH = 5,
	OP_XATTR_SET = 6,
	OP_XATTR_DEL = 7,
	OP_ALLOC = 8,     /* checkpoints only: the chunk allocation bitmap */
	OP_GEN = 9,       /* checkpoints only: the next inode generation */
	OP_MAP_SHARE = 10, /* a range of one map shared into another */
	OP_NODE = 11,     /* checkpoints only: one map node of the table */
	OP_MAP_ROOT = 12, /* checkpoints only: a file's map, by its root */
	OP_SNAPDIR = 13,  /* a directory's .snap (snap.c) made or removed */
};

/* On-media records: little-endian, packed, after a one-byte opcode. */
struct __attribute__((packed)) op_inode {
	uint64_t ino, gen, version;
	uint32_t mode, uid, gid, nlink; /* mode: type | permission bits */
	uint64_t rdev, size;
	int64_t sec[4];   /* atime, mtime, ctime, btime */
	uint32_t nsec[4];
	uint16_t target_len; /* symlink target bytes that follow */
};

struct __attribute__((packed)) op_dent {
	uint64_t dir, ino; /* ino 0: removal */
	uint8_t namelen;   /* name bytes follow */
};

struct __attribute__((packed)) op_map_set {
	uint64_t ino, idx;
	uint32_t entry;    /* chunk id | MMFS_SNAP_UNWRITTEN */
};

struct __attribute__((packed)) op_map_punch {
	uint64_t ino, first, last;
};

/* A directory's .snap: @snapdir, or 0 when it went. */
struct __attribute__((packed)) op_snapdir {
	uint64_t dir, snapdir;
};

/* A reflink: dst's [dfirst, dfirst+n) became src's [sfirst, sfirst+n). */
struct __attribute__((packed)) op_map_share {
	uint64_t dst, dfirst, src, sfirst, n;
};

/*
 * Checkpoints write each distinct map node once, numbered from 1 in the
 * order written (children first); @n slots follow, each a slot number
 * and a value: a chunk entry in a leaf (level 1), a child's number above.
 */
struct __attribute__((packed)) op_node {
	uint32_t no;
	uint8_t level;
	uint8_t n;
};

struct __attribute__((packed)) op_node_slot {
	uint8_t slot;
	uint32_t val;
};

/* A file's map: a node number, or at height 0 its one inline entry. */
struct __attribute__((packed)) op_map_root {
	uint64_t ino;
	uint8_t height;
	uint32_t root;
};

struct __attribute__((packed)) op_xattr {
	uint64_t ino;
	uint32_t size;     /* value bytes follow the name */
	uint8_t namelen;
};

struct __attribute__((packed)) op_alloc {
	uint32_t max_id;   /* bitmap of ids 0..max_id follows */
};

/*
 * The generation counter outlives the inodes that used it: without it a
 * number freed before a checkpoint could come back after a remount with
 * the generation it had, and an old file handle would open the new file.
 */
struct __attribute__((packed)) op_gen {
	uint64_t gen_next;
};

struct fs_plog {
	struct fs *fs;
	struct mmfs_pool *pool;
	bool rdonly;

	/* stage_lock: the staged records; a leaf, held for a memcpy. */
	pthread_mutex_t stage_lock;
	char *stage;              /* [u32 len][record] ... */
	size_t stage_len, stage_cap;

	/*
	 * commit_lock: one commit or checkpoint at a time. Taken before
	 * plock and before any inode lock, never by a request holding one.
	 */
	pthread_mutex_t commit_lock;
	int err;                  /* sticky failure: set under commit_lock, or
				   * atomically by a request that could not
				   * stage; read under commit_lock */
	struct fs_persist_stat st; /* commit_lock */

	struct mmfs_ticker *committer; /* the commit thread */
	unsigned commit_secs;

	uint64_t ckpt_bytes;      /* room for one checkpoint */

	/* Recovery only. */
	struct mmfs_snap_loader *loader; /* while the checkpoint loads */
	const uint8_t *alloc_bits;
	uint32_t alloc_max;
	char *why;
	uint64_t seq;
};

/* persist_txn.c */
/* plog_inode_rec -- an attribute snapshot of @in; its alock held */
void plog_inode_rec(struct fs_inode *in, struct op_inode *r);

/*
 * plog_inode_target -- the bytes that follow @in's inode record: a
 * symlink's target, else none. target shares a union with a regular
 * file's map, which may be changing: only a symlink's is ever read.
 */
static inline const char *plog_inode_target(const struct fs_inode *in)
{
	return S_ISLNK(in->mode) ? in->target : NULL;
}
/* the map journal: records each map edit in the open transaction */
extern const struct mmfs_snap_journal plog_journal;
/* plog_recording -- a writable pool's recorders went live (or stopped) */
void plog_recording(bool on);

/* persist_ckpt.c */
/* plog_checkpoint_locked -- the namespace into the inactive checkpoint
 * area, made active at once; commit_lock held */
int plog_checkpoint_locked(struct fs_plog *pl);

/* persist.c: end a commit epoch (its freed ids reusable if @durable) */
void plog_epoch_close(struct fs *fs, struct mmfs_tier_epoch *e, bool durable);

/* persist_recover.c */
void plog_free(struct fs_plog *pl);

#endif /* MMFS_FS_PERSIST_I_H */

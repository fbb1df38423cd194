/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool.h -- the persistent pool (PMEM through libpmem2): format, superblock,
 * metadata log and checkpoints. Part of tier/'s public surface: tier.h
 * includes it, nothing includes it directly.
 *
 * The pool stores bytes; it never interprets log records or checkpoint
 * bodies (fs/ encodes those). Layout (tier/README.md has the byte table):
 *
 *   [sb 0][sb 1][log ............][ckpt 0 ......][ckpt 1 ......][chunks ...]
 *
 * Two superblock copies, written alternately with a generation number, so a
 * torn superblock write leaves the other one whole. The log holds records
 * (header: magic, length, seq, xxh64) appended after the active checkpoint;
 * a checkpoint is written into the inactive area and made active by one
 * superblock write, which also empties the log.
 *
 * Error reporting: functions return 0 or a negative errno; those that can
 * fail on bad input also fill @why (MMFS_POOL_WHY bytes) with one line
 * that names the problem, for mount(8) and fsck to print.
 */
#ifndef MMFS_TIER_POOL_H
#define MMFS_TIER_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MMFS_POOL_WHY 256
#define MMFS_POOL_MAGIC "MMFSPOOL"       /* 8 bytes, no NUL on media */
/*
 * Format versions: 1, the first; 2, checkpoints may hold the next inode
 * generation (fs/persist_i.h, OP_GEN), which version 1 readers refuse. A
 * version 1 pool is read as it is and written as version 2 from its first
 * superblock commit on (a read-write open marks it dirty at once), so an
 * older mmfs refuses it with one line ("pool version 2") instead of
 * tripping on the new record. 3, shared map nodes: checkpoints hold a node
 * table and per-file roots (OP_NODE, OP_MAP_ROOT) instead of one record
 * per chunk, and the log may hold OP_MAP_SHARE (a reflink); upgraded the
 * same way.
 */
#define MMFS_POOL_VERSION 3u
#define MMFS_POOL_VERSION_MIN 1u
#define MMFS_POOL_SB_BYTES 4096u
#define MMFS_POOL_MIN_BYTES (16ull << 20) /* smallest pool mkfs accepts */

struct mmfs_pool;

struct mmfs_pool_mkfs_opts {
	uint64_t size;        /* bytes; 0 = size of the existing file/device */
	uint32_t chunk_size;  /* power of two in [MMFS_CHUNK_MIN, _MAX] */
	uint64_t meta_bytes;  /* log + both checkpoints; 0 = automatic */
	bool sparse;          /* leave a file's chunk space unallocated (tests
			       * and thin provisioning): the metadata areas
			       * are allocated at mkfs, each chunk's home as
			       * the chunk is (mmfs_pool_reserve), so a full
			       * disk is ENOSPC at write, never SIGBUS */
};

/* What the superblock says, for mount, fsck and `mmfsctl info`. */
struct mmfs_pool_info {
	uint32_t version;
	uint8_t uuid[16];
	uint64_t pool_bytes;   /* bytes the format covers */
	uint64_t file_bytes;   /* bytes of the file/device (>= pool_bytes) */
	uint32_t chunk_size;
	uint32_t nchunks;      /* chunk slots in the data area */
	uint64_t log_off, log_bytes;
	uint64_t ckpt_off[2], ckpt_bytes;
	uint64_t data_off;
	uint64_t generation;   /* superblock writes so far */
	uint32_t active_ckpt;  /* 0 or 1 */
	uint64_t ckpt_seq;     /* last log seq the active checkpoint covers */
	uint64_t ckpt_len;     /* bytes of the active checkpoint body */
	bool clean;            /* unmounted cleanly (log empty) */
	uint64_t mkfs_time, mount_time; /* seconds since the epoch */
	uint64_t mounts;       /* times mounted read-write */
	int sb_bad[2];         /* per copy: 0 valid, else -errno (fsck) */
	bool pmem;             /* mapped with CPU-cache flushing (real PMEM) */
};

/*
 * mmfs_pool_mkfs -- write a fresh, empty pool (no checkpoint content: an
 * empty body) to @path, creating the file when it does not exist (then
 * o->size is required) or formatting an existing file or devdax device.
 * -EINVAL (geometry), -EEXIST never: callers decide about overwriting.
 */
int mmfs_pool_mkfs(const char *path, const struct mmfs_pool_mkfs_opts *o,
		   char why[MMFS_POOL_WHY]);

#define MMFS_POOL_RDONLY 0x1u /* fsck/info: map read-only, write nothing */
#define MMFS_POOL_WAIT 0x2u   /* wait for a holder that is shutting down */
/*
 * Tests only (-o powerloss_sim): a store reaches a pool file only through
 * the pool's persist points, flushed-not-drained ones in a random subset,
 * so that kill -9 is a power loss (pool_sim.c). Refused on a device.
 */
#define MMFS_POOL_POWERLOSS 0x4u
#define MMFS_POOL_WAIT_SECS 60

/*
 * mmfs_pool_open -- open, lock (flock LOCK_EX|LOCK_NB: -EBUSY "in use";
 * with MMFS_POOL_WAIT, a pool whose holder's mount is gone, a daemon
 * still writing its last checkpoint, is waited for up to
 * MMFS_POOL_WAIT_SECS, with one info line; a live mount's is refused at
 * once, naming its mount point),
 * map with libpmem2 and validate: magic (-EMEDIUMTYPE "not an mmfs
 * pool"), version (-EPROTO), superblock checksums and every geometry field
 * (-EUCLEAN), size of the file against the geometry (-EUCLEAN
 * "truncated"), the active checkpoint's checksum (-EUCLEAN). Nothing is
 * written, not even the dirty flag (mmfs_pool_set_clean does that).
 */
int mmfs_pool_open(const char *path, unsigned flags, struct mmfs_pool **out,
		   char why[MMFS_POOL_WHY]);
void mmfs_pool_close(struct mmfs_pool **p);

/*
 * mmfs_pool_set_mounted / mmfs_pool_set_closing -- tell other processes
 * that the holder serves the FUSE mount of device @major:@minor (so they
 * are refused while it is mounted), and then that its mount is gone and
 * it is only finishing (so a new mount waits for it instead). 0 or -errno.
 */
int mmfs_pool_set_mounted(struct mmfs_pool *p, unsigned major, unsigned minor);
int mmfs_pool_set_closing(struct mmfs_pool *p);
void mmfs_pool_get_info(const struct mmfs_pool *p, struct mmfs_pool_info *i);

/*
 * mmfs_pool_set_clean -- record the clean/dirty state durably (a new
 * superblock generation). Mount marks dirty before its first change;
 * a clean unmount marks clean after its final checkpoint.
 */
int mmfs_pool_set_clean(struct mmfs_pool *p, bool clean);

/* --- chunk data area ---------------------------------------------------- */
/* Address of chunk slot @slot (0-based) in the mapping. */
void *mmfs_pool_slot_addr(const struct mmfs_pool *p, uint32_t slot);
/*
 * Copy into / fill PMEM without making it durable yet (non-temporal stores
 * for large lengths, as libpmem2's memcpy with NOFLUSH|NODRAIN): a later
 * mmfs_pool_persist over the range (or mmfs_pool_drain on real PMEM) does.
 */
void mmfs_pool_copy(struct mmfs_pool *p, void *pmem_dst, const void *src,
		    size_t len);
void mmfs_pool_fill(struct mmfs_pool *p, void *pmem_dst, int c, size_t len);
/*
 * Give [addr, addr+len) of a sparse pool file its blocks (fallocate), so a
 * store into it cannot meet a full filesystem as SIGBUS: 0, -ENOSPC (the
 * file's filesystem is full) or -EIO. A no-op (0) for allocated files and
 * devices. Chunk allocation calls it for a chunk's home.
 */
int mmfs_pool_reserve(struct mmfs_pool *p, const void *addr, size_t len);
/* Make [addr, addr+len) durable: cache flush + fence, or msync (file). */
void mmfs_pool_persist(struct mmfs_pool *p, const void *addr, size_t len);
/* Wait for earlier non-temporal copies and flushes (a fence). */
void mmfs_pool_drain(struct mmfs_pool *p);

/* --- metadata log -------------------------------------------------------- */
#define MMFS_POOL_LOG_HDR 24u /* bytes of framing per record */

/*
 * mmfs_pool_log_append -- write one record after the last one and assign it
 * the next sequence number (*seq). Not durable until mmfs_pool_log_persist.
 * -ENOSPC when the log area cannot take it (callers checkpoint, which
 * empties the log). Records are 8-byte aligned. Not thread-safe: callers
 * serialize appends.
 */
int mmfs_pool_log_append(struct mmfs_pool *p, const void *rec, size_t len,
			 uint64_t *seq);
/* mmfs_pool_log_persist -- make every appended record durable. */
void mmfs_pool_log_persist(struct mmfs_pool *p);
/* Bytes of the log in use / the log's capacity. */
uint64_t mmfs_pool_log_used(const struct mmfs_pool *p);
uint64_t mmfs_pool_log_bytes(const struct mmfs_pool *p);

struct mmfs_pool_replay {
	uint64_t records;   /* records handed to the callback */
	uint64_t last_seq;  /* seq of the last one (ckpt_seq if none) */
	uint64_t tail_off;  /* log offset where appends continue */
	bool torn_tail;     /* a partial/garbled record ended the log: normal
			     * after a crash, it was never acknowledged */
};

/*
 * mmfs_pool_log_replay -- hand every valid record after the active
 * checkpoint to @fn, in order: seq ckpt_seq+1, +2, ... Stops at the first
 * record that is torn, fails its checksum or breaks the sequence (that is
 * the tail). If a record with the expected sequence number and a good
 * checksum follows the tail, the log was damaged in the middle: -EUCLEAN
 * with @why. A callback error stops the replay and is returned. Sets the
 * append position after the last valid record.
 */
typedef int (*mmfs_pool_log_fn)(void *arg, uint64_t seq, const void *rec,
				size_t len);
int mmfs_pool_log_replay(struct mmfs_pool *p, mmfs_pool_log_fn fn, void *arg,
			 struct mmfs_pool_replay *r, char why[MMFS_POOL_WHY]);

/* --- checkpoints ----------------------------------------------------------- */
/* The active checkpoint body (validated at open), *len may be 0. */
void mmfs_pool_ckpt_get(const struct mmfs_pool *p, const void **body,
			size_t *len);

/*
 * Writing a checkpoint: begin, write the body in pieces (it streams into
 * the inactive area; -ENOSPC when it does not fit, the active checkpoint is
 * untouched), then commit: persist the body, then one superblock write makes
 * it active with @seq = the last log seq it covers, and empties the log.
 * abort forgets a half-written one. One writer at a time.
 */
int mmfs_pool_ckpt_begin(struct mmfs_pool *p);
int mmfs_pool_ckpt_write(struct mmfs_pool *p, const void *buf, size_t len);
int mmfs_pool_ckpt_commit(struct mmfs_pool *p, uint64_t seq);
void mmfs_pool_ckpt_abort(struct mmfs_pool *p);
/* Highest seq assigned so far (ckpt_seq after a checkpoint or replay). */
uint64_t mmfs_pool_seq(const struct mmfs_pool *p);

#endif

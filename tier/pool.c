/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool.c -- the persistent pool: mapping a file or devdax device with
 * libpmem2, its two superblocks, the metadata log and the two checkpoint
 * areas. tier/README.md ("Pool format") has the byte layout.
 *
 * Owns the bytes and their framing only: log records and checkpoint bodies
 * are opaque (fs/ encodes them) and chunk slots are handed out by tier.c.
 * No locks: a pool has one user at a time (flock keeps other processes out;
 * inside the daemon fs/ serializes appends and checkpoints).
 *
 * Everything read from media is checked before it is used as an offset or
 * a length: a damaged pool must produce an errno and a reason, not a crash.
 *
 * Durability rules:
 * - a superblock write goes to the copy that does not hold the current
 *   generation, so a torn write leaves the other copy whole;
 * - a checkpoint body is persisted before the superblock that makes it
 *   active, and the log is emptied only after that superblock is durable;
 * - every record ever written to the log area has a seq <= mmfs_pool_seq(),
 *   and a checkpoint commits with a seq >= it: so records left behind an
 *   emptied log can never chain after the new checkpoint, nor look like
 *   records following a damaged one;
 * - a commit (mmfs_pool_log_persist) persists its records, then marks the
 *   last one as the end of a committed batch (its magic becomes "MLOC")
 *   and persists that header. Replay hands out whole committed batches
 *   only: records of a batch whose persist a power loss interrupted may
 *   reach media in any order, and are neither replayed nor taken for
 *   damage.
 */
#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t embedded, not malloc'ed */
#include <xxhash.h>

#include "tier/pool.h"
#include "tier/pool_layout.h"
#include "tier/pool_sim.h"
#include "tier/tier.h"
#include "utils/err.h"
#include "utils/log.h"
#include "utils/mountinfo.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the pool format is little-endian and read without swapping");

#define POOL_ALIGN 4096u	  /* every region starts on a page */
#define POOL_AREA_MIN (64u << 10) /* least log, least checkpoint area */
#define POOL_META_AUTO_MIN (4ull << 20)
#define POOL_META_AUTO_MAX (4ull << 30)
#define POOL_NCHUNKS_MAX (MMFS_TIER_ID_MAX - 1) /* ids are slot + 1 */
#define POOL_COPY_FLAGS \
	(PMEM2_F_MEM_NONTEMPORAL | PMEM2_F_MEM_NOFLUSH | PMEM2_F_MEM_NODRAIN)

struct mmfs_pool {
	int fd; /* holds the flock */
	bool rdonly;
	bool sim; /* power-loss simulation (pool_sim.c), not libpmem2 */
	struct pmem2_source *src;
	struct pmem2_map *map;
	char *base; /* the whole pool, offset 0 */
	uint64_t file_bytes;
	uint64_t map_bytes; /* file_bytes rounded down to the alignment */
	bool pmem;
	bool sparse; /* a file with holes: homes get blocks as chunks do */
	pmem2_persist_fn persist;
	pmem2_memcpy_fn memcpy_fn;
	pmem2_memset_fn memset_fn;
	pmem2_drain_fn drain;

	struct pool_sb sb; /* current superblock, copy sb.generation % 2 */
	int sb_bad[2];
	/*
	 * The chunk area's geometry, copied from sb once at open: the data
	 * path reads it with no lock, while a commit rewrites sb under its
	 * caller's commit_lock (the same values, but a copy of the whole
	 * struct is a write all the same).
	 */
	char *data;	     /* base + sb.data_off */
	uint32_t chunk_size; /* sb.chunk_size */
	uint32_t nchunks;    /* sb.nchunks */

	uint64_t log_seed; /* record hash seed, from the uuid */
	bool log_known;	   /* log_tail is valid: replayed or emptied */
	uint64_t log_tail; /* offset in the log where appends go */
	uint64_t dirty_lo, dirty_hi; /* appended, not yet persisted */
	uint64_t last_off;  /* the last record appended, while uncommitted */
	bool uncommitted;   /* records appended since the last commit */
	uint64_t seq;		     /* last seq assigned (or seen on media) */

	bool ck_open; /* a checkpoint is being written */
	int ck_err;   /* sticky: -ENOSPC once it overflowed */
	uint64_t ck_len;
	XXH64_state_t ck_state;
};

/* set_why -- (internal) fill @w (may be NULL) and return @rc */
static int set_why(char *w, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int set_why(char *w, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!w)
		return rc;
	va_start(ap, fmt);
	vsnprintf(w, MMFS_POOL_WHY, fmt, ap);
	va_end(ap);
	return rc;
}

/*
 * pmem_errno -- (internal) libpmem2 result to -errno. Its own
 * pmem2_err_to_errno is declared but not exported by libpmem2 1.12.
 */
static int pmem_errno(int rc)
{
	if (rc > PMEM2_E_UNKNOWN)
		return rc; /* already -errno */
	if (rc == PMEM2_E_NOSUPP || rc == PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED)
		return -EOPNOTSUPP;
	if (rc == PMEM2_E_IO_FAIL)
		return -EIO;
	if (rc == PMEM2_E_NO_ACCESS)
		return -EACCES;
	return -EINVAL;
}

static uint64_t round_down(uint64_t x, uint64_t a)
{
	return x / a * a;
}

static uint64_t round_up8(uint64_t x)
{
	return (x + 7) & ~7ull;
}

/* --- mapping --------------------------------------------------------- */

/*
 * Who holds a pool, for the processes the flock keeps out: an OFD lock
 * (OFD and flock locks do not interact) on one byte of a range far
 * past any pool's end, so that F_OFD_GETLK tells which byte:
 *   HOLD_BASE        held, not mounted (being mounted, checked or made);
 *   HOLD_BASE+1+dev  mounted, as FUSE device dev (major << 20 | minor);
 *   none             the holder's mount is gone and it is writing its last
 *                    checkpoint: a mount may wait for it (MMFS_POOL_WAIT).
 * Locks die with the process, so a killed holder leaves nothing behind.
 */
#define HOLD_BASE (1ll << 50)
#define HOLD_SPAN (1ll << 33)
#define HOLD_POLL_NS 5000000l /* 5 ms */

static int hold_lock(int fd, short type, off_t start, off_t len)
{
	struct flock fl = {
		.l_type = type, .l_whence = SEEK_SET, .l_start = start,
		.l_len = len,
	};

	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? MMFS_ERRNO() : 0;
}

/* hold_set -- (internal) the holder's state becomes byte @b of the range */
static int hold_set(int fd, off_t b)
{
	/* A read lock: fsck's descriptor is read-only, and F_OFD_GETLK for a
	 * write lock finds it all the same. */
	int rc = b < 0 ? 0 : hold_lock(fd, F_RDLCK, b, 1);

	/* The new byte first, then the others go: never a moment of none. */
	if (rc == 0 && b > HOLD_BASE)
		rc = hold_lock(fd, F_UNLCK, HOLD_BASE, b - HOLD_BASE);
	if (rc == 0)
		rc = b < 0 ? hold_lock(fd, F_UNLCK, HOLD_BASE, HOLD_SPAN)
			   : hold_lock(fd, F_UNLCK, b + 1,
				       HOLD_BASE + HOLD_SPAN - b - 1);
	return rc;
}

/*
 * holder_busy -- (internal) is the pool that @fd could not flock in use
 * for real? -EBUSY with the reason if a live mount or a tool has it, 0 if
 * its holder is shutting down (its mount is gone).
 */
static int holder_busy(int fd, const char *path, char *w)
{
	struct flock fl = {
		.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = HOLD_BASE,
		.l_len = HOLD_SPAN,
	};
	char mnt[512];
	unsigned dev;
	int rc;

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
		rc = MMFS_ERRNO();
		return set_why(w, rc, "%s: F_OFD_GETLK: %s", path,
			       strerror(-rc));
	}
	if (fl.l_type == F_UNLCK)
		return 0;
	if (fl.l_start == HOLD_BASE)
		return set_why(w, -EBUSY,
			       "%s: pool is in use (being mounted or checked)",
			       path);
	dev = (unsigned)(fl.l_start - HOLD_BASE - 1);
	rc = mmfs_mountinfo_dev(dev >> 20, dev & 0xfffff, mnt, sizeof(mnt));
	if (rc > 0)
		return set_why(w, -EBUSY, "%s: pool is in use (mounted on %s)",
			       path, mnt);
	/* Unmounted, or mounted in another mount namespace (then it waits
	 * out the bound and fails below). */
	return rc < 0 ? set_why(w, -EBUSY, "%s: pool is in use", path) : 0;
}

/*
 * pool_flock -- (internal) take the pool. One whose previous daemon is
 * still shutting down (its mount gone) is waited for, up to
 * MMFS_POOL_WAIT_SECS, with one line that says so: `umount; mount` must
 * work. One in use by a live mount or a tool is refused at once.
 */
static int pool_flock(int fd, const char *path, bool wait, char *w)
{
	struct timespec poll = { 0, HOLD_POLL_NS }, t0, now;
	bool said = false;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			rc = MMFS_ERRNO();
			return set_why(w, rc, "%s: flock: %s", path,
				       strerror(-rc));
		}
		rc = holder_busy(fd, path, w);
		if (rc < 0)
			return rc;
		if (!wait)
			return set_why(w, -EBUSY,
				       "%s: pool is in use (its daemon is "
				       "shutting down)", path);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= MMFS_POOL_WAIT_SECS)
			return set_why(w, -EBUSY,
				       "%s: pool is still held by a daemon "
				       "shutting down after %d s (a lazy "
				       "unmount with files open?)",
				       path, MMFS_POOL_WAIT_SECS);
		if (!said)
			mmfs_info("%s: waiting for the previous daemon to "
				  "release the pool (up to %d s)", path,
				  MMFS_POOL_WAIT_SECS);
		said = true;
		nanosleep(&poll, NULL);
	}
	return 0;
}

/* pool_fd_open -- (internal) open and lock the file or device */
static int pool_fd_open(struct mmfs_pool *p, const char *path, bool create,
			bool wait, struct stat *st, char *w)
{
	int fl = p->rdonly ? O_RDONLY : O_RDWR;
	int rc;

	p->fd = open(path, fl | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (p->fd < 0) {
		rc = MMFS_ERRNO();
		return set_why(w, rc, "%s: %s", path, strerror(-rc));
	}
	/* Exclusive even read-only: fsck must not read a pool being changed. */
	rc = pool_flock(p->fd, path, wait, w);
	if (rc == 0 && (rc = hold_set(p->fd, HOLD_BASE)) < 0)
		set_why(w, rc, "%s: F_OFD_SETLK: %s", path, strerror(-rc));
	if (rc < 0)
		return rc;
	if (fstat(p->fd, st) < 0) {
		rc = MMFS_ERRNO();
		return set_why(w, rc, "%s: %s", path, strerror(-rc));
	}
	if (!S_ISREG(st->st_mode) && !S_ISCHR(st->st_mode))
		return set_why(w, -EINVAL,
			       "%s: not a regular file or a devdax device",
			       path);
	return 0;
}

int mmfs_pool_set_mounted(struct mmfs_pool *p, unsigned major, unsigned minor)
{
	if (major >= 1u << 12 || minor >= 1u << 20)
		return -EINVAL;
	return hold_set(p->fd, HOLD_BASE + 1 + (off_t)(major << 20 | minor));
}

int mmfs_pool_set_closing(struct mmfs_pool *p)
{
	return hold_set(p->fd, -1);
}

/* pool_map_config -- (internal) a libpmem2 config for the whole source */
static int pool_map_config(struct mmfs_pool *p, struct pmem2_config **cfg)
{
	int rc;

	rc = pmem2_config_new(cfg);
	if (rc)
		return rc;
	/* PAGE accepts any file; the granularity we got says if it is PMEM. */
	rc = pmem2_config_set_required_store_granularity(
		*cfg, PMEM2_GRANULARITY_PAGE);
	if (!rc)
		rc = pmem2_config_set_length(*cfg, (size_t)p->map_bytes);
	if (!rc && p->rdonly)
		rc = pmem2_config_set_protection(*cfg, PMEM2_PROT_READ);
	if (rc)
		pmem2_config_delete(cfg);
	return rc;
}

/*
 * pool_map_sim -- (internal) map the opened pool file for the power-loss
 * simulation: only what the persistence primitives write reaches it.
 */
static int pool_map_sim(struct mmfs_pool *p, const char *path, char *w)
{
	uint64_t seed;
	int rc;

	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)time(NULL);
	rc = pool_sim_map(p->fd, p->map_bytes, seed, &p->base);
	if (rc < 0)
		return set_why(w, rc, "%s: powerloss_sim: %s", path,
			       strerror(-rc));
	p->pmem = false;
	p->persist = pool_sim_persist;
	p->memcpy_fn = pool_sim_memcpy;
	p->memset_fn = pool_sim_memset;
	p->drain = pool_sim_drain;
	mmfs_warn("%s: powerloss_sim (seed %llu): a test mode; only what mmfs "
		  "persists reaches the pool file, and kill -9 is a power loss",
		  path, (unsigned long long)seed);
	return 0;
}

/* pool_map -- (internal) map the opened source with libpmem2 */
static int pool_map(struct mmfs_pool *p, const char *path, char *w)
{
	struct pmem2_config *cfg;
	size_t size, align;
	int rc;

	rc = pmem2_source_from_fd(&p->src, p->fd);
	if (!rc)
		rc = pmem2_source_size(p->src, &size);
	if (!rc)
		rc = pmem2_source_alignment(p->src, &align);
	if (rc)
		goto out_pmem;
	p->file_bytes = size;
	p->map_bytes = round_down(size, align);
	if (p->map_bytes < 2 * MMFS_POOL_SB_BYTES)
		return set_why(w, -EINVAL,
			       "%s: %zu bytes is too small for a pool", path,
			       size);
	if (p->sim)
		return pool_map_sim(p, path, w);
	rc = pool_map_config(p, &cfg);
	if (rc)
		goto out_pmem;
	rc = pmem2_map_new(&p->map, cfg, p->src);
	pmem2_config_delete(&cfg);
	if (rc)
		goto out_pmem;
	p->base = pmem2_map_get_address(p->map);
	p->pmem = pmem2_map_get_store_granularity(p->map) !=
		  PMEM2_GRANULARITY_PAGE;
	p->persist = pmem2_get_persist_fn(p->map);
	p->memcpy_fn = pmem2_get_memcpy_fn(p->map);
	p->memset_fn = pmem2_get_memset_fn(p->map);
	p->drain = pmem2_get_drain_fn(p->map);
	return 0;

out_pmem:
	return set_why(w, pmem_errno(rc), "%s: %s", path, pmem2_errormsg());
}

/* pool_detach -- (internal) unmap and unlock; safe on a partial attach */
static void pool_detach(struct mmfs_pool *p)
{
	if (p->sim && p->base)
		pool_sim_unmap();
	if (p->map)
		pmem2_map_delete(&p->map);
	if (p->src)
		pmem2_source_delete(&p->src);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->base = NULL;
}

/* --- superblock ------------------------------------------------------ */

static uint64_t sb_csum(const struct pool_sb *sb)
{
	struct pool_sb c = *sb;

	c.csum = 0;
	return XXH64(&c, sizeof(c), 0);
}

/* sb_region -- (internal) @off is aligned and starts at or after @prev */
static int sb_region(char *m, const char *name, uint64_t off,
		     const char *prev_name, uint64_t prev)
{
	if (off % POOL_ALIGN)
		return set_why(m, -EUCLEAN, "%s %llu is not %u-aligned", name,
			       (unsigned long long)off, POOL_ALIGN);
	if (off < prev)
		return set_why(m, -EUCLEAN,
			       "%s %llu overlaps %s (ends at %llu)", name,
			       (unsigned long long)off, prev_name,
			       (unsigned long long)prev);
	return 0;
}

/* sb_end -- (internal) end of [off, off + bytes), which must fit the pool */
static int sb_end(char *m, const struct pool_sb *sb, const char *name,
		  uint64_t off, uint64_t bytes, uint64_t *end)
{
	if (__builtin_add_overflow(off, bytes, end) || *end > sb->pool_bytes)
		return set_why(m, -EUCLEAN, "%s runs past pool_bytes %llu",
			       name, (unsigned long long)sb->pool_bytes);
	return 0;
}

/* sb_check_sizes -- (internal) the fields that everything else divides by */
static int sb_check_sizes(const struct pool_sb *sb, char *m)
{
	uint32_t cs = sb->chunk_size;

	if (sb->header_bytes != sizeof(*sb))
		return set_why(m, -EUCLEAN,
			       "header_bytes %u, version 1 has %zu",
			       sb->header_bytes, sizeof(*sb));
	if (cs < MMFS_CHUNK_MIN || cs > MMFS_CHUNK_MAX || (cs & (cs - 1)))
		return set_why(
			m, -EUCLEAN,
			"chunk_size %u is not a power of two in [%u, %u]", cs,
			MMFS_CHUNK_MIN, MMFS_CHUNK_MAX);
	if (sb->pool_bytes < MMFS_POOL_MIN_BYTES || sb->pool_bytes % POOL_ALIGN)
		return set_why(m, -EUCLEAN,
			       "pool_bytes %llu is below 16M or not %u-aligned",
			       (unsigned long long)sb->pool_bytes, POOL_ALIGN);
	if (sb->log_bytes < POOL_AREA_MIN || sb->log_bytes % POOL_ALIGN)
		return set_why(m, -EUCLEAN,
			       "log_bytes %llu is below %u or not %u-aligned",
			       (unsigned long long)sb->log_bytes, POOL_AREA_MIN,
			       POOL_ALIGN);
	if (sb->ckpt_bytes < POOL_AREA_MIN || sb->ckpt_bytes % POOL_ALIGN)
		return set_why(m, -EUCLEAN,
			       "ckpt_bytes %llu is below %u or not %u-aligned",
			       (unsigned long long)sb->ckpt_bytes,
			       POOL_AREA_MIN, POOL_ALIGN);
	return 0;
}

/* sb_check_layout -- (internal) sb0, sb1, log, ckpt0, ckpt1, data, chunks */
static int sb_check_layout(const struct pool_sb *sb, char *m)
{
	uint64_t end, room;

	if (sb_region(m, "log_off", sb->log_off, "the superblocks",
		      2 * MMFS_POOL_SB_BYTES) ||
	    sb_end(m, sb, "log_off+log_bytes", sb->log_off, sb->log_bytes,
		   &end) ||
	    sb_region(m, "ckpt_off[0]", sb->ckpt_off[0], "log_off+log_bytes",
		      end) ||
	    sb_end(m, sb, "ckpt_off[0]+ckpt_bytes", sb->ckpt_off[0],
		   sb->ckpt_bytes, &end) ||
	    sb_region(m, "ckpt_off[1]", sb->ckpt_off[1],
		      "ckpt_off[0]+ckpt_bytes", end) ||
	    sb_end(m, sb, "ckpt_off[1]+ckpt_bytes", sb->ckpt_off[1],
		   sb->ckpt_bytes, &end) ||
	    sb_region(m, "data_off", sb->data_off, "ckpt_off[1]+ckpt_bytes",
		      end))
		return -EUCLEAN;
	if (sb->data_off % sb->chunk_size || sb->data_off >= sb->pool_bytes)
		return set_why(
			m, -EUCLEAN,
			"data_off %llu is not a multiple of chunk_size %u "
			"inside pool_bytes %llu",
			(unsigned long long)sb->data_off, sb->chunk_size,
			(unsigned long long)sb->pool_bytes);
	room = (sb->pool_bytes - sb->data_off) / sb->chunk_size;
	if (sb->nchunks != room || room < 1 || room > POOL_NCHUNKS_MAX)
		return set_why(
			m, -EUCLEAN,
			"nchunks %u, but the data area holds %llu (1 to %u)",
			sb->nchunks, (unsigned long long)room,
			POOL_NCHUNKS_MAX);
	return 0;
}

/* sb_check_state -- (internal) the fields a superblock write changes */
static int sb_check_state(const struct pool_sb *sb, int idx, char *m)
{
	if (sb->active_ckpt > 1)
		return set_why(m, -EUCLEAN, "active_ckpt %u is not 0 or 1",
			       sb->active_ckpt);
	if (sb->ckpt_len > sb->ckpt_bytes)
		return set_why(m, -EUCLEAN,
			       "ckpt_len %llu exceeds ckpt_bytes %llu",
			       (unsigned long long)sb->ckpt_len,
			       (unsigned long long)sb->ckpt_bytes);
	if (sb->clean > 1)
		return set_why(m, -EUCLEAN, "clean %u is not 0 or 1",
			       sb->clean);
	/* Copy i holds the generations i, i + 2, ...: see sb_commit. */
	if (sb->generation % 2 != (uint64_t)idx)
		return set_why(m, -EUCLEAN, "generation %llu in copy %d",
			       (unsigned long long)sb->generation, idx);
	return 0;
}

/* sb_check -- (internal) one copy: 0, or -errno and a reason in @m */
static int sb_check(const struct pool_sb *sb, int idx, char *m)
{
	int rc;

	if (memcmp(sb->magic, MMFS_POOL_MAGIC, sizeof(sb->magic)))
		return set_why(m, -EMEDIUMTYPE, "no MMFSPOOL magic");
	/* Before the checksum: another version may checksum differently. */
	if (sb->version < MMFS_POOL_VERSION_MIN ||
	    sb->version > MMFS_POOL_VERSION)
		return set_why(m, -EPROTO,
			       "pool version %u, this mmfs reads %u to %u%s",
			       sb->version, MMFS_POOL_VERSION_MIN,
			       MMFS_POOL_VERSION,
			       sb->version > MMFS_POOL_VERSION
				       ? " (a newer mmfs wrote it: mount it "
					 "with that one)"
				       : "");
	if (sb->csum != sb_csum(sb))
		return set_why(m, -EUCLEAN, "checksum mismatch");
	rc = sb_check_sizes(sb, m);
	if (!rc)
		rc = sb_check_layout(sb, m);
	if (!rc)
		rc = sb_check_state(sb, idx, m);
	return rc;
}

/* sb_load -- (internal) pick the valid copy with the higher generation */
static int sb_load(struct mmfs_pool *p, char *w)
{
	char m[2][MMFS_POOL_WHY];
	struct pool_sb c[2];
	int i, best = -1;

	for (i = 0; i < 2; i++) {
		memcpy(&c[i], p->base + (size_t)i * MMFS_POOL_SB_BYTES,
		       sizeof(c[i]));
		m[i][0] = '\0';
		p->sb_bad[i] = sb_check(&c[i], i, m[i]);
		if (!p->sb_bad[i] &&
		    (best < 0 || c[i].generation > c[best].generation))
			best = i;
	}
	if (best >= 0) {
		p->sb = c[best];
		return 0;
	}
	if (p->sb_bad[0] == -EMEDIUMTYPE && p->sb_bad[1] == -EMEDIUMTYPE)
		return set_why(w, -EMEDIUMTYPE,
			       "not an mmfs pool (no MMFSPOOL magic)");
	for (i = 0; i < 2; i++)
		if (p->sb_bad[i] == -EPROTO)
			return set_why(w, -EPROTO, "%s", m[i]);
	return set_why(w, -EUCLEAN,
		       "superblock 0: %.100s; superblock 1: %.100s", m[0],
		       m[1]);
}

/* sb_store -- (internal) checksum @sb and copy it into slot @idx */
static void sb_store(struct mmfs_pool *p, struct pool_sb *sb, int idx)
{
	sb->csum = sb_csum(sb);
	mmfs_pool_copy(p, p->base + (size_t)idx * MMFS_POOL_SB_BYTES, sb,
		       sizeof(*sb));
}

/*
 * sb_commit -- (internal) make @sb the current superblock: the next
 * generation, written over the older copy and persisted. Until it is
 * durable, the current copy stays whole; so does a torn write.
 */
static void sb_commit(struct mmfs_pool *p, struct pool_sb *sb)
{
	int idx;

	sb->generation = p->sb.generation + 1;
	/* What this mmfs writes is its version: an older pool becomes one
	 * at its first superblock write (a mount marks it dirty at once),
	 * before any checkpoint of the new version can be active. */
	sb->version = MMFS_POOL_VERSION;
	idx = (int)(sb->generation % 2);
	sb_store(p, sb, idx);
	mmfs_pool_persist(p, p->base + (size_t)idx * MMFS_POOL_SB_BYTES,
			  sizeof(*sb));
	p->sb = *sb;
	p->sb_bad[idx] = 0;
}

/* --- mkfs ------------------------------------------------------------ */

/* mkfs_check_opts -- (internal) what can be refused before touching path */
static int mkfs_check_opts(const struct mmfs_pool_mkfs_opts *o, char *w)
{
	uint32_t cs = o->chunk_size;

	if (cs < MMFS_CHUNK_MIN || cs > MMFS_CHUNK_MAX || (cs & (cs - 1)))
		return set_why(
			w, -EINVAL,
			"chunk size %u is not a power of two from 4K to 2M",
			cs);
	if (o->size && o->size < MMFS_POOL_MIN_BYTES)
		return set_why(w, -EINVAL,
			       "pool size %llu is below the 16M minimum",
			       (unsigned long long)o->size);
	return 0;
}

/*
 * mkfs_resize -- (internal) a regular file gets o->size, all of it
 * allocated: a sparse pool would meet a full disk (or a full /dev/shm) as
 * SIGBUS on a store into the mapping, long after mkfs said yes.
 */
static int mkfs_resize(struct mmfs_pool *p, const struct stat *st,
		       const char *path, uint64_t size, bool sparse, char *w)
{
	int rc;

	if (!S_ISREG(st->st_mode))
		return 0;
	if (size && (uint64_t)st->st_size != size &&
	    ftruncate(p->fd, (off_t)size) < 0) {
		rc = MMFS_ERRNO();
		return set_why(w, rc, "%s: cannot resize to %llu bytes: %s",
			       path, (unsigned long long)size, strerror(-rc));
	}
	if (sparse)
		return 0;
	if (!size)
		size = (uint64_t)st->st_size;
	rc = posix_fallocate(p->fd, 0, (off_t)size);
	if (rc)
		return set_why(w, -rc, "%s: cannot allocate %llu bytes for "
			       "the pool: %s", path, (unsigned long long)size,
			       strerror(rc));
	return 0;
}

/* mkfs_meta -- (internal) log and checkpoint areas from meta_bytes */
static int mkfs_meta(struct pool_sb *sb, uint64_t meta_bytes, char *w)
{
	uint64_t meta = meta_bytes;

	if (!meta)
		meta = MMFS_MAX(
			MMFS_MIN(sb->pool_bytes / 32, POOL_META_AUTO_MAX),
			POOL_META_AUTO_MIN);
	if (meta >= sb->pool_bytes)
		return set_why(
			w, -EINVAL,
			"meta_bytes %llu leaves nothing of the %llu-byte "
			"pool",
			(unsigned long long)meta,
			(unsigned long long)sb->pool_bytes);
	meta = round_down(meta, POOL_ALIGN);
	sb->log_bytes = round_down(meta / 4, POOL_ALIGN);
	sb->ckpt_bytes = round_down((meta - sb->log_bytes) / 2, POOL_ALIGN);
	if (sb->log_bytes < POOL_AREA_MIN || sb->ckpt_bytes < POOL_AREA_MIN)
		return set_why(w, -EINVAL,
			       "meta_bytes %llu is too small: the log and each "
			       "checkpoint need 64K (give 256K or more)",
			       (unsigned long long)meta_bytes);
	return 0;
}

/* mkfs_geometry -- (internal) lay the regions out in @pool_bytes */
static int mkfs_geometry(struct pool_sb *sb, uint64_t pool_bytes,
			 const struct mmfs_pool_mkfs_opts *o, char *w)
{
	uint64_t end, n;
	int rc;

	if (pool_bytes < MMFS_POOL_MIN_BYTES)
		return set_why(w, -EINVAL,
			       "pool size %llu is below the 16M minimum",
			       (unsigned long long)pool_bytes);
	sb->pool_bytes = pool_bytes;
	sb->chunk_size = o->chunk_size;
	rc = mkfs_meta(sb, o->meta_bytes, w);
	if (rc < 0)
		return rc;
	sb->log_off = 2 * MMFS_POOL_SB_BYTES;
	sb->ckpt_off[0] = sb->log_off + sb->log_bytes;
	sb->ckpt_off[1] = sb->ckpt_off[0] + sb->ckpt_bytes;
	end = sb->ckpt_off[1] + sb->ckpt_bytes;
	if (end >= pool_bytes)
		goto out_no_room;
	sb->data_off =
		(end + o->chunk_size - 1) / o->chunk_size * o->chunk_size;
	n = sb->data_off < pool_bytes
		    ? (pool_bytes - sb->data_off) / o->chunk_size
		    : 0;
	if (n < 1)
		goto out_no_room;
	if (n > POOL_NCHUNKS_MAX) {
		/* Ids are 31-bit: the format covers what they can name. */
		n = POOL_NCHUNKS_MAX;
		sb->pool_bytes = sb->data_off + n * o->chunk_size;
	}
	sb->nchunks = (uint32_t)n;
	return 0;

out_no_room:
	return set_why(
		w, -EINVAL,
		"pool size %llu leaves no room for a %u-byte chunk after "
		"%llu bytes of metadata",
		(unsigned long long)pool_bytes, o->chunk_size,
		(unsigned long long)end);
}

/* mkfs_write -- (internal) superblocks, an empty log and checkpoint */
static int mkfs_write(struct mmfs_pool *p, struct pool_sb *sb, char *w)
{
	int rc;

	if (getrandom(sb->uuid, sizeof(sb->uuid), 0) != sizeof(sb->uuid)) {
		rc = MMFS_ERRNO();
		return set_why(w, rc, "getrandom: %s", strerror(-rc));
	}
	sb->uuid[6] = (uint8_t)((sb->uuid[6] & 0x0f) | 0x40); /* RFC 4122 v4 */
	sb->uuid[8] = (uint8_t)((sb->uuid[8] & 0x3f) | 0x80);
	memcpy(sb->magic, MMFS_POOL_MAGIC, sizeof(sb->magic));
	sb->version = MMFS_POOL_VERSION;
	sb->header_bytes = sizeof(*sb);
	sb->clean = 1;
	sb->ckpt_hash = XXH64("", 0, 0);
	sb->mkfs_time = (uint64_t)time(NULL);
	mmfs_pool_fill(p, p->base, 0, 2 * MMFS_POOL_SB_BYTES);
	/* Stale records of an earlier format fail the uuid-seeded hash. */
	mmfs_pool_fill(p, p->base + sb->log_off, 0, MMFS_POOL_LOG_HDR);
	/* Both copies whole, so either may be damaged from day one. */
	sb->generation = 0;
	sb_store(p, sb, 0);
	sb->generation = 1;
	sb_store(p, sb, 1);
	mmfs_pool_persist(p, p->base + sb->log_off, MMFS_POOL_LOG_HDR);
	mmfs_pool_persist(p, p->base, 2 * MMFS_POOL_SB_BYTES);
	return 0;
}

/*
 * reserve_meta -- (internal) blocks for [0, @bytes): the superblocks, the
 * log and the checkpoints of a sparse pool file, stored into at every
 * commit. A filesystem without fallocate leaves the pool as it is.
 */
static int reserve_meta(struct mmfs_pool *p, uint64_t bytes,
			const char *path, char *w)
{
	int rc = posix_fallocate(p->fd, 0, (off_t)bytes);

	if (rc == EOPNOTSUPP || rc == EINVAL)
		return 0;
	if (rc)
		return set_why(w, -rc, "%s: cannot allocate the %llu bytes of "
			       "the pool's metadata: %s", path,
			       (unsigned long long)bytes, strerror(rc));
	return 0;
}

int mmfs_pool_mkfs(const char *path, const struct mmfs_pool_mkfs_opts *o,
		   char why[MMFS_POOL_WHY])
{
	struct mmfs_pool *p;
	struct pool_sb sb;
	struct stat st;
	uint64_t bytes;
	int rc;

	if (why)
		why[0] = '\0';
	rc = mkfs_check_opts(o, why);
	if (rc < 0)
		return rc;
	p = calloc(1, sizeof(*p));
	if (!p)
		return set_why(why, -ENOMEM, "out of memory");
	p->fd = -1;
	rc = pool_fd_open(p, path, o->size != 0, false, &st, why);
	if (!rc)
		rc = mkfs_resize(p, &st, path, o->size, o->sparse, why);
	if (!rc)
		rc = pool_map(p, path, why);
	if (rc < 0)
		goto out_detach;
	bytes = o->size ? o->size : p->file_bytes;
	if (bytes > p->file_bytes) {
		rc = set_why(why, -EINVAL,
			     "%s: size %llu exceeds its %llu bytes", path,
			     (unsigned long long)bytes,
			     (unsigned long long)p->file_bytes);
		goto out_detach;
	}
	memset(&sb, 0, sizeof(sb));
	rc = mkfs_geometry(
		&sb, round_down(MMFS_MIN(bytes, p->map_bytes), POOL_ALIGN), o,
		why);
	/* A sparse pool still gets its metadata: mkfs_write stores there. */
	if (!rc && o->sparse && S_ISREG(st.st_mode))
		rc = reserve_meta(p, sb.data_off, path, why);
	if (!rc)
		rc = mkfs_write(p, &sb, why);
out_detach:
	pool_detach(p);
	free(p);
	return rc;
}

/* --- open and close -------------------------------------------------- */

/*
 * open_small -- (internal) a file too short to map two superblocks: tell
 * a truncated pool from something else by its first bytes.
 */
static int open_small(struct mmfs_pool *p, const struct stat *st, char *w)
{
	char magic[8] = { 0 };

	if (pread(p->fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
	    !memcmp(magic, MMFS_POOL_MAGIC, sizeof(magic)))
		return set_why(w, -EUCLEAN,
			       "pool truncated: file has %llu bytes, less than "
			       "its two superblocks",
			       (unsigned long long)st->st_size);
	return set_why(w, -EMEDIUMTYPE, "not an mmfs pool (no MMFSPOOL magic)");
}

/* open_check -- (internal) the file's size and the active checkpoint */
static int open_check(struct mmfs_pool *p, char *w)
{
	const struct pool_sb *sb = &p->sb;
	const char *body;

	if (sb->pool_bytes > p->map_bytes)
		return set_why(
			w, -EUCLEAN,
			"pool truncated: file has %llu bytes, superblock "
			"says %llu",
			(unsigned long long)p->file_bytes,
			(unsigned long long)sb->pool_bytes);
	body = p->base + sb->ckpt_off[sb->active_ckpt];
	if (XXH64(body, (size_t)sb->ckpt_len, 0) != sb->ckpt_hash)
		return set_why(w, -EUCLEAN, "checkpoint %u checksum mismatch",
			       sb->active_ckpt);
	return 0;
}

int mmfs_pool_open(const char *path, unsigned flags, struct mmfs_pool **out,
		   char why[MMFS_POOL_WHY])
{
	struct mmfs_pool *p;
	struct stat st;
	int rc;

	if (why)
		why[0] = '\0';
	if (flags & ~(MMFS_POOL_RDONLY | MMFS_POOL_WAIT | MMFS_POOL_POWERLOSS))
		return set_why(why, -EINVAL, "unknown flags %#x", flags);
	p = calloc(1, sizeof(*p));
	if (!p)
		return set_why(why, -ENOMEM, "out of memory");
	p->fd = -1;
	p->rdonly = flags & MMFS_POOL_RDONLY;
	rc = pool_fd_open(p, path, false, flags & MMFS_POOL_WAIT, &st,
			  why);
	if (rc < 0)
		goto out_detach;
	if (S_ISREG(st.st_mode) && st.st_size < 2 * MMFS_POOL_SB_BYTES) {
		rc = open_small(p, &st, why);
		goto out_detach;
	}
	if ((flags & MMFS_POOL_POWERLOSS) && !p->rdonly) {
		if (!S_ISREG(st.st_mode)) {
			rc = set_why(why, -EINVAL, "%s: powerloss_sim is a "
				     "test mode for a pool file, not a device",
				     path);
			goto out_detach;
		}
		p->sim = true;
	}
	rc = pool_map(p, path, why);
	if (!rc)
		rc = sb_load(p, why);
	if (!rc)
		rc = open_check(p, why);
	if (rc < 0)
		goto out_detach;
	/*
	 * A file with holes (mkfs --sparse, a copy made with cp --sparse):
	 * its metadata gets blocks now, each new chunk's home when the
	 * chunk is allocated, so a full filesystem below is ENOSPC.
	 */
	if (S_ISREG(st.st_mode) && !p->rdonly &&
	    (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size) {
		p->sparse = true;
		rc = reserve_meta(p, p->sb.data_off, path, why);
		if (rc < 0)
			goto out_detach;
	}
	memcpy(&p->log_seed, p->sb.uuid, sizeof(p->log_seed));
	p->seq = p->sb.ckpt_seq;
	p->data = p->base + p->sb.data_off;
	p->chunk_size = p->sb.chunk_size;
	p->nchunks = p->sb.nchunks;
	*out = p;
	return 0;

out_detach:
	pool_detach(p);
	free(p);
	return rc;
}

void mmfs_pool_close(struct mmfs_pool **pp)
{
	struct mmfs_pool *p = *pp;

	if (!p)
		return;
	pool_detach(p);
	free(p);
	*pp = NULL;
}

void mmfs_pool_get_info(const struct mmfs_pool *p, struct mmfs_pool_info *i)
{
	const struct pool_sb *sb = &p->sb;

	memset(i, 0, sizeof(*i));
	i->version = sb->version;
	memcpy(i->uuid, sb->uuid, sizeof(i->uuid));
	i->pool_bytes = sb->pool_bytes;
	i->file_bytes = p->file_bytes;
	i->chunk_size = sb->chunk_size;
	i->nchunks = sb->nchunks;
	i->log_off = sb->log_off;
	i->log_bytes = sb->log_bytes;
	i->ckpt_off[0] = sb->ckpt_off[0];
	i->ckpt_off[1] = sb->ckpt_off[1];
	i->ckpt_bytes = sb->ckpt_bytes;
	i->data_off = sb->data_off;
	i->generation = sb->generation;
	i->active_ckpt = sb->active_ckpt;
	i->ckpt_seq = sb->ckpt_seq;
	i->ckpt_len = sb->ckpt_len;
	i->clean = sb->clean;
	i->mkfs_time = sb->mkfs_time;
	i->mount_time = sb->mount_time;
	i->mounts = sb->mounts;
	i->sb_bad[0] = p->sb_bad[0];
	i->sb_bad[1] = p->sb_bad[1];
	i->pmem = p->pmem;
}

int mmfs_pool_set_clean(struct mmfs_pool *p, bool clean)
{
	struct pool_sb sb = p->sb;

	if (p->rdonly)
		return -EROFS;
	sb.clean = clean;
	if (!clean) {
		sb.mount_time = (uint64_t)time(NULL);
		sb.mounts++;
	}
	sb_commit(p, &sb);
	return 0;
}

/* --- chunk data area and persistence primitives ------------------------ */

void *mmfs_pool_slot_addr(const struct mmfs_pool *p, uint32_t slot)
{
	MMFS_DEBUG_ASSERT(slot < p->nchunks);
	return p->data + (uint64_t)slot * p->chunk_size;
}

void mmfs_pool_copy(struct mmfs_pool *p, void *pmem_dst, const void *src,
		    size_t len)
{
	MMFS_DEBUG_ASSERT(!p->rdonly);
	p->memcpy_fn(pmem_dst, src, len, POOL_COPY_FLAGS);
}

int mmfs_pool_reserve(struct mmfs_pool *p, const void *addr, size_t len)
{
	off_t off = (off_t)((const char *)addr - p->base);
	int rc;

	if (!p->sparse)
		return 0;
	/* fallocate(2) itself: posix_fallocate would emulate by writing. */
	do {
		rc = fallocate(p->fd, 0, off, (off_t)len);
	} while (rc < 0 && errno == EINTR);
	if (rc == 0 || errno == EOPNOTSUPP)
		return 0;
	return errno == ENOSPC || errno == EDQUOT ? -ENOSPC : -EIO;
}

void mmfs_pool_fill(struct mmfs_pool *p, void *pmem_dst, int c, size_t len)
{
	MMFS_DEBUG_ASSERT(!p->rdonly);
	p->memset_fn(pmem_dst, c, len, POOL_COPY_FLAGS);
}

void mmfs_pool_persist(struct mmfs_pool *p, const void *addr, size_t len)
{
	if (len)
		p->persist(addr, len);
}

void mmfs_pool_drain(struct mmfs_pool *p)
{
	p->drain();
}

/* --- metadata log ---------------------------------------------------- */

static char *log_addr(const struct mmfs_pool *p, uint64_t off)
{
	return p->base + p->sb.log_off + off;
}

/* A record takes its header and its payload rounded up to 8 bytes. */
static uint64_t rec_bytes(uint64_t len)
{
	return MMFS_POOL_LOG_HDR + round_up8(len);
}

static uint64_t rec_hash(const struct mmfs_pool *p, const struct log_hdr *h,
			 const void *payload)
{
	struct log_hdr z = *h;
	XXH64_state_t st;

	z.hash = 0;
	XXH64_reset(&st, p->log_seed);
	XXH64_update(&st, &z, sizeof(z));
	XXH64_update(&st, payload, h->len);
	return XXH64_digest(&st);
}

/*
 * rec_hdr -- (internal) read the header at @off: true when it has the magic
 * and its record, plus the empty header slot that follows every record,
 * fits the log. Says nothing of the payload yet.
 */
static bool rec_hdr(const struct mmfs_pool *p, uint64_t off, struct log_hdr *h)
{
	uint64_t room = p->sb.log_bytes;

	if (off > room || room - off < 2 * MMFS_POOL_LOG_HDR)
		return false;
	memcpy(h, log_addr(p, off), sizeof(*h));
	return (h->magic == LOG_MAGIC || h->magic == LOG_MAGIC_COMMIT) &&
	       rec_bytes(h->len) + MMFS_POOL_LOG_HDR <= room - off;
}

/* rec_ok -- (internal) a whole record with a good hash at @off */
static bool rec_ok(const struct mmfs_pool *p, uint64_t off, struct log_hdr *h)
{
	return rec_hdr(p, off, h) &&
	       h->hash == rec_hash(p, h, log_addr(p, off) + sizeof(*h));
}

int mmfs_pool_log_append(struct mmfs_pool *p, const void *rec, size_t len,
			 uint64_t *seq)
{
	struct log_hdr h;
	uint64_t need;
	char *dst;

	if (p->rdonly)
		return -EROFS;
	/* Before replay we do not know where the log ends. */
	MMFS_ASSERT(p->log_known);
	need = rec_bytes(len);
	/* The invariant tail + header <= log_bytes keeps this from wrapping. */
	if (len > UINT32_MAX ||
	    need + MMFS_POOL_LOG_HDR > p->sb.log_bytes - p->log_tail)
		return -ENOSPC;
	h = (struct log_hdr){ .magic = LOG_MAGIC,
			      .len = (uint32_t)len,
			      .seq = p->seq + 1 };
	h.hash = rec_hash(p, &h, rec);
	dst = log_addr(p, p->log_tail);
	mmfs_pool_copy(p, dst, &h, sizeof(h));
	mmfs_pool_copy(p, dst + sizeof(h), rec, len);
	/*
	 * Zero the padding and the next header slot: the log then ends in an
	 * empty header, never in bytes left by an earlier log generation.
	 */
	mmfs_pool_fill(p, dst + sizeof(h) + len, 0,
		       need - sizeof(h) - len + MMFS_POOL_LOG_HDR);
	if (p->dirty_hi == p->dirty_lo)
		p->dirty_lo = p->log_tail;
	p->last_off = p->log_tail;
	p->uncommitted = true;
	p->log_tail += need;
	p->dirty_hi = p->log_tail + MMFS_POOL_LOG_HDR;
	*seq = ++p->seq;
	return 0;
}

void mmfs_pool_log_persist(struct mmfs_pool *p)
{
	struct log_hdr h;
	char *last;

	if (p->rdonly || !p->uncommitted)
		return;
	mmfs_pool_persist(p, log_addr(p, p->dirty_lo),
			  p->dirty_hi - p->dirty_lo);
	p->dirty_lo = p->dirty_hi = p->log_tail;
	/* Only now, with every record of the batch durable: the mark. */
	last = log_addr(p, p->last_off);
	memcpy(&h, last, sizeof(h));
	h.magic = LOG_MAGIC_COMMIT;
	h.hash = rec_hash(p, &h, last + sizeof(h));
	mmfs_pool_copy(p, last, &h, sizeof(h));
	mmfs_pool_persist(p, last, sizeof(h));
	p->uncommitted = false;
}

uint64_t mmfs_pool_log_used(const struct mmfs_pool *p)
{
	return p->log_tail;
}

uint64_t mmfs_pool_log_bytes(const struct mmfs_pool *p)
{
	return p->sb.log_bytes;
}

/*
 * log_torn -- (internal) what ends the log at @off is neither the empty
 * header that appends leave nor a whole record older than the checkpoint
 * (the log is emptied after the superblock write, so a crash in between
 * leaves those): something was being written there.
 */
static bool log_torn(const struct mmfs_pool *p, uint64_t off, uint64_t expected)
{
	static const char zero[MMFS_POOL_LOG_HDR];
	struct log_hdr h;

	if (off > p->sb.log_bytes ||
	    p->sb.log_bytes - off < MMFS_POOL_LOG_HDR ||
	    !memcmp(log_addr(p, off), zero, sizeof(zero)))
		return false;
	return !(rec_ok(p, off, &h) && h.seq < expected);
}

/*
 * log_scan -- (internal) look past the tail for a whole record that the
 * sequence still wanted (seq >= @expected). Records behind the tail are
 * older than it by the invariant in the file comment, so one that is not
 * means the log was damaged in the middle. Returns its offset, or
 * UINT64_MAX; *max_seq gets the highest such seq.
 */
static uint64_t log_scan(const struct mmfs_pool *p, uint64_t from,
			 uint64_t expected, uint64_t *max_seq)
{
	uint64_t off, found = UINT64_MAX;
	struct log_hdr h;

	*max_seq = 0;
	for (off = from; off + 2 * MMFS_POOL_LOG_HDR <= p->sb.log_bytes;
	     off += 8) {
		if (!rec_hdr(p, off, &h) || h.seq < expected ||
		    !rec_ok(p, off, &h))
			continue;
		/*
		 * Only the end of a committed batch proves damage: other
		 * records may be what is left of an interrupted commit.
		 */
		if (found == UINT64_MAX && h.magic == LOG_MAGIC_COMMIT)
			found = off;
		*max_seq = MMFS_MAX(*max_seq, h.seq);
	}
	return found;
}

/* log_set_tail -- (internal) appends continue at @off after seq @seq */
static void log_set_tail(struct mmfs_pool *p, uint64_t off, uint64_t seq)
{
	p->log_tail = off;
	p->dirty_lo = p->dirty_hi = off;
	p->seq = seq;
	p->log_known = true;
}

int mmfs_pool_log_replay(struct mmfs_pool *p, mmfs_pool_log_fn fn, void *arg,
			 struct mmfs_pool_replay *r, char why[MMFS_POOL_WHY])
{
	uint64_t off = 0, end, pending = 0, expected = p->sb.ckpt_seq + 1;
	uint64_t bad, max_seq;
	struct mmfs_pool_replay local;
	struct log_hdr h;
	int rc;

	if (why)
		why[0] = '\0';
	if (!r)
		r = &local;
	memset(r, 0, sizeof(*r));
	p->log_known = false;
	p->uncommitted = false;
	for (end = 0; rec_ok(p, end, &h) && h.seq == expected + pending;) {
		end += rec_bytes(h.len);
		pending++;
		if (h.magic != LOG_MAGIC_COMMIT)
			continue;
		/* A whole committed batch: hand it out. */
		for (; off < end; off += rec_bytes(h.len), expected++) {
			rec_hdr(p, off, &h);
			rc = fn ? fn(arg, h.seq, log_addr(p, off) + sizeof(h),
				     h.len)
				: 0;
			if (rc)
				return rc;
			r->records++;
		}
		pending = 0;
	}
	r->last_seq = expected - 1;
	r->tail_off = off;
	r->torn_tail = log_torn(p, off, expected);
	bad = log_scan(p, off, expected, &max_seq);
	/*
	 * Damage: past every seq on media, so that a repairing checkpoint
	 * buries them. Else the sequence goes on from the last committed
	 * record: what an interrupted commit left behind carries no commit
	 * mark, and the empty header each append writes after itself keeps
	 * replay from ever chaining into it.
	 */
	log_set_tail(p, off, bad != UINT64_MAX ? MMFS_MAX(expected - 1, max_seq)
					       : expected - 1);
	if (bad != UINT64_MAX)
		return set_why(
			why, -EUCLEAN,
			"log damaged at offset %llu: records follow a bad "
			"one (seq %llu at offset %llu)",
			(unsigned long long)off, (unsigned long long)expected,
			(unsigned long long)bad);
	return 0;
}

/* --- checkpoints ------------------------------------------------------- */

void mmfs_pool_ckpt_get(const struct mmfs_pool *p, const void **body,
			size_t *len)
{
	*body = p->base + p->sb.ckpt_off[p->sb.active_ckpt];
	*len = (size_t)p->sb.ckpt_len;
}

int mmfs_pool_ckpt_begin(struct mmfs_pool *p)
{
	if (p->rdonly)
		return -EROFS;
	if (p->ck_open)
		return -EBUSY;
	/* The commit empties the log: it must know what the log held. */
	MMFS_ASSERT(p->log_known);
	p->ck_open = true;
	p->ck_err = 0;
	p->ck_len = 0;
	XXH64_reset(&p->ck_state, 0);
	return 0;
}

static char *ckpt_addr(const struct mmfs_pool *p, uint32_t area)
{
	return p->base + p->sb.ckpt_off[area];
}

int mmfs_pool_ckpt_write(struct mmfs_pool *p, const void *buf, size_t len)
{
	if (!p->ck_open)
		return -EINVAL;
	if (p->ck_err)
		return p->ck_err;
	if (len > p->sb.ckpt_bytes - p->ck_len) {
		p->ck_err = -ENOSPC;
		return p->ck_err;
	}
	mmfs_pool_copy(p, ckpt_addr(p, 1 - p->sb.active_ckpt) + p->ck_len, buf,
		       len);
	XXH64_update(&p->ck_state, buf, len);
	p->ck_len += len;
	return 0;
}

/* log_empty -- (internal) the log restarts at 0 after seq @seq */
static void log_empty(struct mmfs_pool *p, uint64_t seq)
{
	char *first = log_addr(p, 0);

	/*
	 * Not needed for correctness (the old records are <= seq and cannot
	 * chain), but it keeps replay from calling them a torn tail.
	 */
	mmfs_pool_fill(p, first, 0, MMFS_POOL_LOG_HDR);
	mmfs_pool_persist(p, first, MMFS_POOL_LOG_HDR);
	log_set_tail(p, 0, seq);
}

int mmfs_pool_ckpt_commit(struct mmfs_pool *p, uint64_t seq)
{
	uint32_t area = 1 - p->sb.active_ckpt;
	struct pool_sb sb = p->sb;

	if (!p->ck_open)
		return -EINVAL;
	if (p->ck_err)
		return p->ck_err;
	/*
	 * The commit empties the log: a seq below the last one assigned
	 * would drop records, and let them chain after a later checkpoint.
	 */
	if (seq < p->seq) {
		mmfs_err("pool: checkpoint covers seq %llu, but the log holds "
			 "up to %llu",
			 (unsigned long long)seq, (unsigned long long)p->seq);
		return -EINVAL;
	}
	mmfs_pool_persist(p, ckpt_addr(p, area), (size_t)p->ck_len);
	sb.active_ckpt = area;
	sb.ckpt_len = p->ck_len;
	sb.ckpt_hash = XXH64_digest(&p->ck_state);
	sb.ckpt_seq = seq;
	sb_commit(p, &sb);
	log_empty(p, seq);
	p->ck_open = false;
	return 0;
}

void mmfs_pool_ckpt_abort(struct mmfs_pool *p)
{
	p->ck_open = false;
	p->ck_err = 0;
}

uint64_t mmfs_pool_seq(const struct mmfs_pool *p)
{
	return p->seq;
}

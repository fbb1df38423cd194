/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pool -- unit tests of tier/pool.c, on pool files in a private
 * directory under /dev/shm: mkfs geometry and its refusals; the superblock
 * checks, each field made bad in both copies with a recomputed checksum
 * (the offsets are the ones tier/README.md documents, so this also checks
 * the table); fallback to the other copy; magic, version, truncation and
 * the flock; the log (order, payloads, reopen, torn tails, damage in the
 * middle, -ENOSPC, stale records after a checkpoint or a new mkfs);
 * checkpoints (commit, -ENOSPC, abort, a corrupted body); read-only opens;
 * the chunk area; and a seeded fuzz loop of byte flips in the metadata,
 * some with the superblock checksums made right again.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "tier/tier.h"
#include "utils/err.h"
#include "utils/mountinfo.h"

#define POOL_SIZE (16ull << 20)
#define CHUNK (64u << 10)
#define SB 4096u
#define HDR MMFS_POOL_LOG_HDR

/* Superblock field offsets, from the table in tier/README.md. */
enum {
	SB_MAGIC = 0,
	SB_VERSION = 8,
	SB_HEADER_BYTES = 12,
	SB_UUID = 16,
	SB_POOL_BYTES = 32,
	SB_CHUNK_SIZE = 40,
	SB_NCHUNKS = 44,
	SB_LOG_OFF = 48,
	SB_LOG_BYTES = 56,
	SB_CKPT_OFF0 = 64,
	SB_CKPT_OFF1 = 72,
	SB_CKPT_BYTES = 80,
	SB_DATA_OFF = 88,
	SB_GENERATION = 96,
	SB_ACTIVE = 104,
	SB_CLEAN = 108,
	SB_CKPT_SEQ = 112,
	SB_CKPT_LEN = 120,
	SB_CKPT_HASH = 128,
	SB_MKFS_TIME = 136,
	SB_MOUNT_TIME = 144,
	SB_MOUNTS = 152,
	SB_CSUM = 248,
	SB_STRUCT = 256,
};

static char dir[] = "/dev/shm/mmfs-test-pool.XXXXXX";
static char path[PATH_MAX];
static unsigned npaths;

/* --- files ------------------------------------------------------------- */

static void file_read(uint64_t off, void *buf, size_t n)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static void file_write(uint64_t off, const void *buf, size_t n)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static void file_flip(uint64_t off, uint8_t mask)
{
	uint8_t b;

	file_read(off, &b, 1);
	b ^= mask;
	file_write(off, &b, 1);
}

static void file_truncate(uint64_t size)
{
	assert_int_equal(truncate(path, (off_t)size), 0);
}

static uint64_t sb_get(int copy, unsigned off, unsigned width)
{
	uint64_t v = 0;

	file_read((uint64_t)copy * SB + off, &v, width);
	return v;
}

/*
 * sb_set -- a field of one copy, with its checksum made right again
 * (width 0: only the checksum)
 */
static void sb_set(int copy, unsigned off, unsigned width, uint64_t v)
{
	uint8_t s[SB_STRUCT];
	uint64_t csum = 0;

	file_read((uint64_t)copy * SB, s, sizeof(s));
	memcpy(s + off, &v, width);
	memcpy(s + SB_CSUM, &csum, sizeof(csum));
	csum = XXH64(s, sizeof(s), 0);
	memcpy(s + SB_CSUM, &csum, sizeof(csum));
	file_write((uint64_t)copy * SB, s, sizeof(s));
}

/* --- pools --------------------------------------------------------------- */

/* new_path -- a fresh pool name; the previous pool file goes */
static void new_path(void)
{
	if (path[0])
		unlink(path);
	snprintf(path, sizeof(path), "%s/pool%u", dir, npaths++);
}

static bool big_sparse; /* the 1 TiB geometry case: no real blocks */

static int mkfs_opts(uint64_t size, uint32_t chunk, uint64_t meta)
{
	struct mmfs_pool_mkfs_opts o = {
		.size = size,
		.chunk_size = chunk,
		.meta_bytes = meta,
		.sparse = size == 0 && meta == 0 && chunk == CHUNK && big_sparse,
	};
	char why[MMFS_POOL_WHY];

	return mmfs_pool_mkfs(path, &o, why);
}

static struct mmfs_pool *open_ok(unsigned flags)
{
	struct mmfs_pool *p = NULL;
	char why[MMFS_POOL_WHY];
	int rc = mmfs_pool_open(path, flags, &p, why);

	if (rc)
		fail_msg("open: %d %s", rc, why);
	return p;
}

/* open_fails_as -- open must fail with @err and a reason naming @substr */
static void open_fails_as(const char *what, int err, const char *substr)
{
	struct mmfs_pool *p = NULL;
	char why[MMFS_POOL_WHY] = "";
	int rc = mmfs_pool_open(path, 0, &p, why);

	if (rc != err || !strstr(why, substr))
		fail_msg("%s: open: %d \"%s\", wanted %d \"%s\"", what, rc, why,
			 err, substr);
	assert_null(p);
}

static void open_fails(int err, const char *substr)
{
	open_fails_as("", err, substr);
}

static struct mmfs_pool_info info_of(struct mmfs_pool *p)
{
	struct mmfs_pool_info i;

	mmfs_pool_get_info(p, &i);
	return i;
}

static int setup_pool(void **state)
{
	new_path();
	return mkfs_opts(POOL_SIZE, CHUNK, 0);
}

static int teardown_pool(void **state)
{
	unlink(path);
	return 0;
}

/* --- records -------------------------------------------------------------- */

#define MAXREC 512

/* payload -- record @seq's bytes: lengths 0..299, content from the seq */
static size_t payload(uint64_t seq, uint8_t *buf)
{
	size_t len = (size_t)((seq * 37) % 300), i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(seq * 7 + i);
	return len;
}

static uint64_t rec_size(size_t len)
{
	return HDR + ((len + 7) & ~(size_t)7);
}

/* rec_off -- log offset of the record @seq in a log that began at @first */
static uint64_t rec_off(uint64_t first, uint64_t seq)
{
	uint8_t buf[MAXREC];
	uint64_t off = 0, s;

	for (s = first; s < seq; s++)
		off += rec_size(payload(s, buf));
	return off;
}

static void append_n(struct mmfs_pool *p, unsigned n)
{
	uint8_t buf[MAXREC];
	uint64_t seq, want;
	size_t len;
	unsigned i;

	/* One commit per record: each is a batch of its own. */
	for (i = 0; i < n; i++) {
		want = mmfs_pool_seq(p) + 1;
		len = payload(want, buf);
		assert_int_equal(mmfs_pool_log_append(p, buf, len, &seq), 0);
		assert_int_equal(seq, want);
		mmfs_pool_log_persist(p);
	}
}

struct seen {
	uint64_t n, first, next;
	int fail_at; /* callback fails on this record (1-based), 0 never */
	bool bad;    /* a record arrived out of order or with wrong bytes */
};

static int check_rec(void *arg, uint64_t seq, const void *rec, size_t len)
{
	uint8_t buf[MAXREC];
	struct seen *s = arg;

	if (s->n == 0)
		s->first = seq;
	else if (seq != s->next)
		s->bad = true;
	if (len != payload(seq, buf) || memcmp(rec, buf, len))
		s->bad = true;
	s->next = seq + 1;
	s->n++;
	return s->fail_at && s->n == (uint64_t)s->fail_at ? -EIO : 0;
}

static int replay(struct mmfs_pool *p, struct seen *s,
		  struct mmfs_pool_replay *r, char *why)
{
	memset(s, 0, sizeof(*s));
	return mmfs_pool_log_replay(p, check_rec, s, r, why);
}

/* replay_ok -- replay must succeed with @n good records */
static struct mmfs_pool_replay replay_ok(struct mmfs_pool *p, uint64_t n)
{
	struct mmfs_pool_replay r;
	char why[MMFS_POOL_WHY];
	struct seen s;
	int rc = replay(p, &s, &r, why);

	if (rc)
		fail_msg("replay: %d %s", rc, why);
	assert_false(s.bad);
	assert_int_equal(s.n, n);
	assert_int_equal(r.records, n);
	return r;
}

/* --- mkfs ----------------------------------------------------------------- */

static void test_mkfs_roundtrip(void **state)
{
	struct mmfs_pool *p = open_ok(0);
	struct mmfs_pool_info i = info_of(p);
	static const uint8_t zero[16];
	const void *body;
	size_t len;

	assert_int_equal(i.version, MMFS_POOL_VERSION);
	assert_memory_not_equal(i.uuid, zero, sizeof(zero));
	assert_int_equal(i.uuid[6] >> 4, 4);
	assert_int_equal(i.pool_bytes, POOL_SIZE);
	assert_int_equal(i.file_bytes, POOL_SIZE);
	assert_int_equal(i.chunk_size, CHUNK);
	/* Automatic metadata for 16M: 4M, a quarter of it for the log. */
	assert_int_equal(i.log_off, 2 * SB);
	assert_int_equal(i.log_bytes, 1u << 20);
	assert_int_equal(i.ckpt_bytes, 3u << 19);
	assert_int_equal(i.ckpt_off[0], i.log_off + i.log_bytes);
	assert_int_equal(i.ckpt_off[1], i.ckpt_off[0] + i.ckpt_bytes);
	assert_int_equal(i.data_off % CHUNK, 0);
	assert_true(i.data_off >= i.ckpt_off[1] + i.ckpt_bytes);
	assert_true(i.data_off < i.ckpt_off[1] + i.ckpt_bytes + CHUNK);
	assert_int_equal(i.nchunks, (POOL_SIZE - i.data_off) / CHUNK);
	assert_int_equal(i.generation, 1);
	assert_int_equal(i.active_ckpt, 0);
	assert_int_equal(i.ckpt_seq, 0);
	assert_int_equal(i.ckpt_len, 0);
	assert_true(i.clean);
	assert_true(i.mkfs_time <= (uint64_t)time(NULL) &&
		    i.mkfs_time + 60 > (uint64_t)time(NULL));
	assert_int_equal(i.mount_time, 0);
	assert_int_equal(i.mounts, 0);
	assert_int_equal(i.sb_bad[0], 0);
	assert_int_equal(i.sb_bad[1], 0);
	assert_false(i.pmem); /* tmpfs: msync-backed */
	mmfs_pool_ckpt_get(p, &body, &len);
	assert_int_equal(len, 0);
	assert_int_equal(mmfs_pool_seq(p), 0);
	assert_int_equal(mmfs_pool_log_bytes(p), i.log_bytes);
	replay_ok(p, 0);
	assert_int_equal(mmfs_pool_log_used(p), 0);

	/* Dirty, then clean: two superblock generations, both durable. */
	assert_int_equal(mmfs_pool_set_clean(p, false), 0);
	i = info_of(p);
	assert_false(i.clean);
	assert_int_equal(i.mounts, 1);
	assert_true(i.mount_time >= i.mkfs_time);
	assert_int_equal(i.generation, 2);
	mmfs_pool_close(&p);
	assert_null(p);
	mmfs_pool_close(&p); /* NULL is fine */

	p = open_ok(MMFS_POOL_RDONLY);
	i = info_of(p);
	assert_false(i.clean);
	assert_int_equal(i.generation, 2);
	assert_int_equal(i.mounts, 1);
	mmfs_pool_close(&p);
	assert_int_equal(sb_get(0, SB_GENERATION, 8), 2);
	assert_int_equal(sb_get(1, SB_GENERATION, 8), 1);
}

static void test_mkfs_refuses(void **state)
{
	struct mmfs_pool_mkfs_opts o = { .size = 8u << 20,
					 .chunk_size = CHUNK };
	static const uint32_t bad_chunks[] = { 0, 3000, 2048, 4u << 20,
					       (64u << 10) + 4096 };
	char why[MMFS_POOL_WHY];
	unsigned k;

	new_path();
	assert_int_equal(mmfs_pool_mkfs(path, &o, why), -EINVAL);
	assert_non_null(strstr(why, "below the 16M minimum"));
	assert_int_equal(access(path, F_OK), -1); /* refused before creating */
	for (k = 0; k < MMFS_ARRAY_SIZE(bad_chunks); k++) {
		o = (struct mmfs_pool_mkfs_opts){ .size = POOL_SIZE,
						  .chunk_size = bad_chunks[k] };
		assert_int_equal(mmfs_pool_mkfs(path, &o, why), -EINVAL);
		assert_non_null(strstr(why, "chunk size"));
	}
	/* No file and no size. */
	assert_int_equal(mkfs_opts(0, CHUNK, 0), -ENOENT);
	/* An existing file below the minimum, its size taken. */
	assert_int_equal(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
	file_truncate(1u << 20);
	o = (struct mmfs_pool_mkfs_opts){ .chunk_size = CHUNK };
	assert_int_equal(mmfs_pool_mkfs(path, &o, why), -EINVAL);
	assert_non_null(strstr(why, "below the 16M minimum"));
	/* Metadata too small, too large, or leaving no chunk. */
	o = (struct mmfs_pool_mkfs_opts){ .size = POOL_SIZE,
					  .chunk_size = CHUNK,
					  .meta_bytes = 128u << 10 };
	assert_int_equal(mmfs_pool_mkfs(path, &o, why), -EINVAL);
	assert_non_null(strstr(why, "meta_bytes"));
	o.meta_bytes = POOL_SIZE;
	assert_int_equal(mmfs_pool_mkfs(path, &o, why), -EINVAL);
	assert_non_null(strstr(why, "meta_bytes"));
	o.meta_bytes = UINT64_MAX;
	assert_int_equal(mmfs_pool_mkfs(path, &o, why), -EINVAL);
	o.meta_bytes = POOL_SIZE - CHUNK;
	assert_int_equal(mmfs_pool_mkfs(path, &o, why), -EINVAL);
	assert_non_null(strstr(why, "no room"));
	/* Not a file or a device. */
	unlink(path);
	snprintf(path, sizeof(path), "%s", dir);
	assert_true(mkfs_opts(POOL_SIZE, CHUNK, 0) < 0);
	path[0] = '\0';
	new_path();
}

/*
 * check_geometry -- mkfs, then check the layout; @use: also append and
 * replay (not on huge sparse pools: replay reads the whole log area).
 */
static void check_geometry(uint64_t size, uint32_t chunk, uint64_t meta,
			   uint64_t want_pool, uint64_t want_log, bool use)
{
	struct mmfs_pool *p;
	struct mmfs_pool_info i;

	assert_int_equal(mkfs_opts(size, chunk, meta), 0);
	p = open_ok(0);
	i = info_of(p);
	assert_int_equal(i.pool_bytes, want_pool);
	assert_int_equal(i.chunk_size, chunk);
	assert_int_equal(i.log_bytes, want_log);
	assert_true(i.ckpt_bytes >= (64u << 10));
	assert_int_equal(i.data_off % chunk, 0);
	assert_int_equal(i.nchunks, (i.pool_bytes - i.data_off) / chunk);
	assert_true(i.nchunks >= 1);
	if (!use) {
		mmfs_pool_close(&p);
		return;
	}
	replay_ok(p, 0);
	append_n(p, 3);
	mmfs_pool_close(&p);
	p = open_ok(0);
	replay_ok(p, 3);
	mmfs_pool_close(&p);
}

static void test_mkfs_geometry(void **state)
{
	struct stat st;

	check_geometry(POOL_SIZE, MMFS_CHUNK_MIN, 0, POOL_SIZE, 1u << 20, true);
	check_geometry(POOL_SIZE, MMFS_CHUNK_MAX, 0, POOL_SIZE, 1u << 20, true);
	/* Explicit metadata: 256K is the least that gives 64K + 2 x 96K. */
	check_geometry(POOL_SIZE, CHUNK, 256u << 10, POOL_SIZE, 64u << 10,
		       true);
	/* A size that is not a page multiple: the format rounds down. */
	check_geometry(POOL_SIZE + 100, CHUNK, 0, POOL_SIZE, 1u << 20, true);
	/* Size 0: the existing file's size; and mkfs shrinks on request. */
	file_truncate(32u << 20);
	check_geometry(0, CHUNK, 0, 32u << 20, 1u << 20, true);
	check_geometry(POOL_SIZE, CHUNK, 0, POOL_SIZE, 1u << 20, true);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, POOL_SIZE);
	/* A large sparse pool: automatic metadata is capped at 4G. */
	big_sparse = true;
	if (truncate(path, 1ll << 40) == 0)
		check_geometry(0, CHUNK, 0, 1ull << 40, 1ull << 30, false);
	big_sparse = false;
}

/* --- superblock ----------------------------------------------------------- */

struct sb_case {
	const char *name;
	unsigned off, width;
	bool rel; /* value is added to the field, else replaces it */
	uint64_t value;
	int err;
	const char *why;
};

static const struct sb_case sb_cases[] = {
	{ "version", SB_VERSION, 4, false, 4, -EPROTO,
	  "pool version 4, this mmfs reads 1 to 3 (a newer mmfs wrote it" },
	{ "version", SB_VERSION, 4, false, 0, -EPROTO, "pool version 0" },
	{ "header_bytes", SB_HEADER_BYTES, 4, false, 255, -EUCLEAN,
	  "header_bytes" },
	{ "header_bytes", SB_HEADER_BYTES, 4, false, 4096, -EUCLEAN,
	  "header_bytes" },
	{ "pool_bytes", SB_POOL_BYTES, 8, false, 8u << 20, -EUCLEAN,
	  "pool_bytes" },
	{ "pool_bytes", SB_POOL_BYTES, 8, true, 100, -EUCLEAN, "pool_bytes" },
	{ "pool_bytes", SB_POOL_BYTES, 8, true, CHUNK, -EUCLEAN, "nchunks" },
	{ "pool_bytes", SB_POOL_BYTES, 8, true, -(uint64_t)CHUNK, -EUCLEAN,
	  "pool_bytes" },
	{ "pool_bytes", SB_POOL_BYTES, 8, false, UINT64_MAX & ~4095ull,
	  -EUCLEAN, "nchunks" },
	{ "chunk_size", SB_CHUNK_SIZE, 4, false, 3000, -EUCLEAN, "chunk_size" },
	{ "chunk_size", SB_CHUNK_SIZE, 4, false, 2048, -EUCLEAN, "chunk_size" },
	{ "chunk_size", SB_CHUNK_SIZE, 4, false, 4u << 20, -EUCLEAN,
	  "chunk_size" },
	{ "chunk_size", SB_CHUNK_SIZE, 4, false, 0, -EUCLEAN, "chunk_size" },
	{ "chunk_size", SB_CHUNK_SIZE, 4, false, 128u << 10, -EUCLEAN,
	  "data_off" },
	{ "nchunks", SB_NCHUNKS, 4, true, 1, -EUCLEAN, "nchunks" },
	{ "nchunks", SB_NCHUNKS, 4, false, 0, -EUCLEAN, "nchunks" },
	{ "nchunks", SB_NCHUNKS, 4, false, UINT32_MAX, -EUCLEAN, "nchunks" },
	{ "log_off", SB_LOG_OFF, 8, false, 4096, -EUCLEAN, "log_off" },
	{ "log_off", SB_LOG_OFF, 8, false, 0, -EUCLEAN, "log_off" },
	{ "log_off", SB_LOG_OFF, 8, true, 8, -EUCLEAN, "log_off" },
	{ "log_off", SB_LOG_OFF, 8, true, 4096, -EUCLEAN, "log_off" },
	{ "log_off", SB_LOG_OFF, 8, false, UINT64_MAX & ~4095ull, -EUCLEAN,
	  "log_off" },
	{ "log_bytes", SB_LOG_BYTES, 8, false, 32u << 10, -EUCLEAN,
	  "log_bytes" },
	{ "log_bytes", SB_LOG_BYTES, 8, true, 8, -EUCLEAN, "log_bytes" },
	{ "log_bytes", SB_LOG_BYTES, 8, true, 4096, -EUCLEAN, "log_bytes" },
	{ "log_bytes", SB_LOG_BYTES, 8, false, UINT64_MAX & ~4095ull, -EUCLEAN,
	  "log_bytes" },
	{ "ckpt_off[0]", SB_CKPT_OFF0, 8, true, -4096ull, -EUCLEAN,
	  "ckpt_off[0]" },
	{ "ckpt_off[0]", SB_CKPT_OFF0, 8, true, 1, -EUCLEAN, "ckpt_off[0]" },
	{ "ckpt_off[0]", SB_CKPT_OFF0, 8, false, UINT64_MAX & ~4095ull,
	  -EUCLEAN, "ckpt_off[0]" },
	{ "ckpt_off[1]", SB_CKPT_OFF1, 8, true, -4096ull, -EUCLEAN,
	  "ckpt_off[1]" },
	{ "ckpt_off[1]", SB_CKPT_OFF1, 8, true, CHUNK, -EUCLEAN,
	  "ckpt_off[1]" },
	{ "ckpt_off[1]", SB_CKPT_OFF1, 8, false, 0, -EUCLEAN, "ckpt_off[1]" },
	{ "ckpt_bytes", SB_CKPT_BYTES, 8, false, 32u << 10, -EUCLEAN,
	  "ckpt_bytes" },
	{ "ckpt_bytes", SB_CKPT_BYTES, 8, true, 4096, -EUCLEAN, "ckpt_bytes" },
	{ "ckpt_bytes", SB_CKPT_BYTES, 8, true, 12, -EUCLEAN, "ckpt_bytes" },
	{ "data_off", SB_DATA_OFF, 8, true, 4096, -EUCLEAN, "data_off" },
	{ "data_off", SB_DATA_OFF, 8, true, -(uint64_t)CHUNK, -EUCLEAN,
	  "data_off" },
	{ "data_off", SB_DATA_OFF, 8, true, CHUNK, -EUCLEAN, "nchunks" },
	{ "data_off", SB_DATA_OFF, 8, false, POOL_SIZE, -EUCLEAN, "data_off" },
	{ "generation", SB_GENERATION, 8, true, 1, -EUCLEAN, "generation" },
	{ "active_ckpt", SB_ACTIVE, 4, false, 2, -EUCLEAN, "active_ckpt" },
	{ "active_ckpt", SB_ACTIVE, 4, false, UINT32_MAX, -EUCLEAN,
	  "active_ckpt" },
	{ "clean", SB_CLEAN, 4, false, 2, -EUCLEAN, "clean" },
	{ "ckpt_len", SB_CKPT_LEN, 8, false, (3u << 19) + 1, -EUCLEAN,
	  "ckpt_len" },
	{ "ckpt_len", SB_CKPT_LEN, 8, false, UINT64_MAX, -EUCLEAN, "ckpt_len" },
	{ "ckpt_len", SB_CKPT_LEN, 8, false, 1, -EUCLEAN,
	  "checkpoint 0 checksum mismatch" },
	{ "ckpt_hash", SB_CKPT_HASH, 8, true, 1, -EUCLEAN,
	  "checkpoint 0 checksum mismatch" },
	{ "csum", SB_CSUM, 8, true, 1, -EUCLEAN, "checksum mismatch" },
};

/* Fields any value of which is valid: the pool must still open. */
static const struct sb_case sb_free[] = {
	{ "uuid", SB_UUID, 8, true, 1, 0, "" },
	{ "ckpt_seq", SB_CKPT_SEQ, 8, false, 1234, 0, "" },
	{ "mkfs_time", SB_MKFS_TIME, 8, false, UINT64_MAX, 0, "" },
	{ "mount_time", SB_MOUNT_TIME, 8, false, 7, 0, "" },
	{ "mounts", SB_MOUNTS, 8, false, UINT64_MAX, 0, "" },
	{ "reserved", 200, 8, false, 1, 0, "" },
};

/* sb_apply -- write the case's bad value into both copies */
static void sb_apply(const struct sb_case *c)
{
	uint64_t v;
	int copy;

	for (copy = 0; copy < 2; copy++) {
		v = c->value;
		if (c->rel)
			v += sb_get(copy, c->off, c->width);
		if (c->off == SB_CSUM) /* the one field we want wrong */
			file_write((uint64_t)copy * SB + c->off, &v, 8);
		else
			sb_set(copy, c->off, c->width, v);
	}
}

static void test_sb_fields(void **state)
{
	uint8_t pristine[2 * SB];
	struct mmfs_pool *p;
	unsigned k;

	file_read(0, pristine, sizeof(pristine));
	for (k = 0; k < MMFS_ARRAY_SIZE(sb_cases); k++) {
		file_write(0, pristine, sizeof(pristine));
		sb_apply(&sb_cases[k]);
		open_fails_as(sb_cases[k].name, sb_cases[k].err,
			      sb_cases[k].why);
	}
	for (k = 0; k < MMFS_ARRAY_SIZE(sb_free); k++) {
		file_write(0, pristine, sizeof(pristine));
		sb_apply(&sb_free[k]);
		p = open_ok(0);
		replay_ok(p, 0);
		mmfs_pool_close(&p);
	}
	/* Both copies valid but the file too short for them: truncated. */
	file_write(0, pristine, sizeof(pristine));
	file_truncate(POOL_SIZE + CHUNK);
	sb_set(0, SB_POOL_BYTES, 8, POOL_SIZE + CHUNK);
	sb_set(0, SB_NCHUNKS, 4, sb_get(0, SB_NCHUNKS, 4) + 1);
	sb_set(1, SB_POOL_BYTES, 8, POOL_SIZE + CHUNK);
	sb_set(1, SB_NCHUNKS, 4, sb_get(1, SB_NCHUNKS, 4) + 1);
	p = open_ok(0); /* a consistent, larger geometry is fine */
	assert_int_equal(info_of(p).pool_bytes, POOL_SIZE + CHUNK);
	mmfs_pool_close(&p);
	file_truncate(POOL_SIZE);
	open_fails(-EUCLEAN, "pool truncated: file has 16777216 bytes, "
			     "superblock says 16842752");
}

static void test_sb_one_bad(void **state)
{
	uint8_t pristine[2 * SB];
	struct mmfs_pool_info i;
	struct mmfs_pool *p;

	file_read(0, pristine, sizeof(pristine));
	/* The current copy (generation 1) torn: the older one is used. */
	file_flip(SB + SB_CHUNK_SIZE, 0x10);
	p = open_ok(0);
	i = info_of(p);
	assert_int_equal(i.generation, 0);
	assert_int_equal(i.sb_bad[0], 0);
	assert_int_equal(i.sb_bad[1], -EUCLEAN);
	/* The next write goes over the bad copy, which heals it. */
	assert_int_equal(mmfs_pool_set_clean(p, false), 0);
	i = info_of(p);
	assert_int_equal(i.generation, 1);
	assert_int_equal(i.sb_bad[1], 0);
	mmfs_pool_close(&p);
	p = open_ok(MMFS_POOL_RDONLY);
	i = info_of(p);
	assert_int_equal(i.sb_bad[0], 0);
	assert_int_equal(i.sb_bad[1], 0);
	assert_int_equal(i.mounts, 1);
	mmfs_pool_close(&p);

	/* The older copy without magic, or from another version. */
	file_write(0, pristine, sizeof(pristine));
	file_flip(SB_MAGIC, 0x01);
	p = open_ok(0);
	i = info_of(p);
	assert_int_equal(i.generation, 1);
	assert_int_equal(i.sb_bad[0], -EMEDIUMTYPE);
	assert_int_equal(i.sb_bad[1], 0);
	mmfs_pool_close(&p);
	file_write(0, pristine, sizeof(pristine));
	sb_set(0, SB_VERSION, 4, MMFS_POOL_VERSION + 1);
	p = open_ok(0);
	assert_int_equal(info_of(p).sb_bad[0], -EPROTO);
	mmfs_pool_close(&p);

	/* Both bad in different ways: the reason names both. */
	file_write(0, pristine, sizeof(pristine));
	file_flip(SB_CSUM, 0x01);
	sb_set(1, SB_CLEAN, 4, 5);
	open_fails(-EUCLEAN, "superblock 0: checksum mismatch; superblock 1: "
			     "clean 5 is not 0 or 1");
	/* One without magic, one torn: damage, not a foreign file. */
	file_write(0, pristine, sizeof(pristine));
	file_flip(SB_MAGIC, 0x01);
	file_flip(SB + SB_CSUM, 0x01);
	open_fails(-EUCLEAN, "superblock 1: checksum mismatch");
}

static void test_sb_magic(void **state)
{
	uint8_t zero[2 * SB] = { 0 };

	file_flip(SB_MAGIC + 7, 0x20);
	file_flip(SB + SB_MAGIC, 0x20);
	open_fails(-EMEDIUMTYPE, "not an mmfs pool (no MMFSPOOL magic)");
	/* A file of zeros, a short file, an empty file. */
	file_write(0, zero, sizeof(zero));
	open_fails(-EMEDIUMTYPE, "no MMFSPOOL magic");
	file_truncate(100);
	open_fails(-EMEDIUMTYPE, "no MMFSPOOL magic");
	file_truncate(0);
	open_fails(-EMEDIUMTYPE, "no MMFSPOOL magic");
	/* A pool cut below its superblocks is a truncated pool. */
	assert_int_equal(mkfs_opts(POOL_SIZE, CHUNK, 0), 0);
	file_truncate(6000);
	open_fails(-EUCLEAN, "pool truncated: file has 6000 bytes");
	/* Not there at all. */
	unlink(path);
	open_fails(-ENOENT, path);
}

static void test_sb_version(void **state)
{
	sb_set(0, SB_VERSION, 4, 7);
	sb_set(1, SB_VERSION, 4, 7);
	open_fails(-EPROTO, "pool version 7, this mmfs reads 1 to 3");
	/* Even when the rest would not checksum: it is another format. */
	file_flip(SB_POOL_BYTES, 0xff);
	open_fails(-EPROTO, "pool version 7");
}

/*
 * test_sb_version_upgrade -- a version 1 pool (before checkpoints could
 * hold OP_GEN) opens, read-only as it is, and read-write becomes the
 * current version at its first superblock commit.
 */
static void test_sb_version_upgrade(void **state)
{
	struct mmfs_pool *p;

	sb_set(0, SB_VERSION, 4, 1);
	sb_set(1, SB_VERSION, 4, 1);
	p = open_ok(MMFS_POOL_RDONLY);
	assert_int_equal(info_of(p).version, 1);
	mmfs_pool_close(&p);
	p = open_ok(0);
	assert_int_equal(info_of(p).version, 1);
	assert_int_equal(mmfs_pool_set_clean(p, false), 0);
	assert_int_equal(info_of(p).version, MMFS_POOL_VERSION);
	assert_int_equal(mmfs_pool_set_clean(p, true), 0);
	mmfs_pool_close(&p);
	p = open_ok(MMFS_POOL_RDONLY);
	assert_int_equal(info_of(p).version, MMFS_POOL_VERSION);
	mmfs_pool_close(&p);
}

static void test_truncated(void **state)
{
	file_truncate(POOL_SIZE / 2);
	open_fails(-EUCLEAN, "pool truncated: file has 8388608 bytes, "
			     "superblock says 16777216");
	/* One page short still is. */
	file_truncate(POOL_SIZE - 1);
	open_fails(-EUCLEAN, "pool truncated");
	/* Longer than the format is fine. */
	file_truncate(POOL_SIZE + 12345);
	mmfs_pool_close((struct mmfs_pool *[]){ open_ok(0) });
}

static void test_lock(void **state)
{
	struct mmfs_pool_mkfs_opts o = { .size = POOL_SIZE,
					 .chunk_size = CHUNK };
	char why[MMFS_POOL_WHY];
	struct mmfs_pool *p = open_ok(0), *q = NULL;

	assert_int_equal(mmfs_pool_open(path, 0, &q, why), -EBUSY);
	assert_non_null(strstr(why, "pool is in use (being mounted or "
				    "checked)"));
	assert_int_equal(mmfs_pool_open(path, MMFS_POOL_RDONLY, &q, why),
			 -EBUSY);
	assert_int_equal(mmfs_pool_mkfs(path, &o, why), -EBUSY);
	assert_null(q);
	mmfs_pool_close(&p);
	p = open_ok(MMFS_POOL_RDONLY);
	assert_int_equal(mmfs_pool_open(path, 0, &q, why), -EBUSY);
	mmfs_pool_close(&p);
	p = open_ok(0);
	mmfs_pool_close(&p);
	assert_int_equal(mmfs_pool_open(path, 0x80, &q, why), -EINVAL);
}

static void *close_later(void *arg)
{
	usleep(150 * 1000);
	mmfs_pool_close(arg);
	return NULL;
}

/*
 * test_hold -- what a second opener learns from the holder: a live mount
 * (its device is mounted) is refused at once, naming where; a holder
 * whose mount is gone is shutting down: refused without MMFS_POOL_WAIT,
 * waited for with it.
 */
static void test_hold(void **state)
{
	char why[MMFS_POOL_WHY];
	struct mmfs_pool *p = open_ok(0), *q = NULL;
	struct mmfs_mountinfo mi;
	struct timespec t0, t1;
	pthread_t th;

	assert_int_equal(mmfs_mountinfo_at("/proc", &mi), 0);
	assert_int_equal(mmfs_pool_set_mounted(p, mi.major, mi.minor), 0);
	assert_int_equal(mmfs_pool_open(path, MMFS_POOL_WAIT, &q, why), -EBUSY);
	assert_non_null(strstr(why, "pool is in use (mounted on /"));
	/* a device that is not mounted: the mount is gone */
	assert_int_equal(mmfs_pool_set_mounted(p, 4095, 1048575), 0);
	assert_int_equal(mmfs_pool_open(path, 0, &q, why), -EBUSY);
	assert_non_null(strstr(why, "shutting down"));
	assert_int_equal(mmfs_pool_set_closing(p), 0);
	assert_int_equal(mmfs_pool_open(path, MMFS_POOL_RDONLY, &q, why),
			 -EBUSY);
	assert_non_null(strstr(why, "shutting down"));
	assert_int_equal(mmfs_pool_set_mounted(p, 4096, 0), -EINVAL);
	/* with WAIT: the holder lets go 150 ms later, and the open succeeds */
	assert_int_equal(mmfs_pool_set_closing(p), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pthread_create(&th, NULL, close_later, &p), 0);
	assert_int_equal(mmfs_pool_open(path, MMFS_POOL_WAIT, &q, why), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(th, NULL);
	assert_null(p);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000000000L +
			    (t1.tv_nsec - t0.tv_nsec) >= 100000000L);
	/* the new holder is "being mounted": refused at once, even waiting */
	assert_int_equal(mmfs_pool_open(path, MMFS_POOL_WAIT, &p, why),
			 -EBUSY);
	assert_non_null(strstr(why, "being mounted or checked"));
	mmfs_pool_close(&q);
}

/* --- log ------------------------------------------------------------------ */

static void test_log_roundtrip(void **state)
{
	struct mmfs_pool_replay r;
	struct mmfs_pool *p = open_ok(0);
	uint64_t used, want = 0, s;
	uint8_t buf[MAXREC];

	replay_ok(p, 0);
	append_n(p, 40);
	for (s = 1; s <= 40; s++)
		want += rec_size(payload(s, buf));
	used = mmfs_pool_log_used(p);
	assert_int_equal(used, want);
	assert_int_equal(used % 8, 0);
	/* Replay in the same session sees the same records. */
	r = replay_ok(p, 40);
	assert_int_equal(r.last_seq, 40);
	assert_int_equal(r.tail_off, used);
	assert_false(r.torn_tail);
	mmfs_pool_close(&p);

	p = open_ok(0);
	assert_int_equal(mmfs_pool_seq(p), 0);
	r = replay_ok(p, 40);
	assert_int_equal(mmfs_pool_seq(p), 40);
	assert_int_equal(mmfs_pool_log_used(p), used);
	/* Appends continue the sequence. */
	append_n(p, 5);
	mmfs_pool_close(&p);
	p = open_ok(0);
	replay_ok(p, 45);
	mmfs_pool_close(&p);

	/* A callback error stops the replay and comes back. */
	p = open_ok(0);
	{
		struct seen sn = { .fail_at = 3 };

		assert_int_equal(
			mmfs_pool_log_replay(p, check_rec, &sn, &r, NULL),
			-EIO);
		assert_int_equal(sn.n, 3);
	}
	/* No callback and no result: the log is only measured. */
	assert_int_equal(mmfs_pool_log_replay(p, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(mmfs_pool_seq(p), 45);
	mmfs_pool_close(&p);
}

/* torn_last -- 5 records; @damage the last; replay keeps the first 4 */
static void torn_last(void (*damage)(uint64_t rec, size_t len))
{
	struct mmfs_pool_info i;
	struct mmfs_pool_replay r;
	struct mmfs_pool *p;
	uint8_t buf[MAXREC];

	assert_int_equal(mkfs_opts(POOL_SIZE, CHUNK, 0), 0);
	p = open_ok(0);
	replay_ok(p, 0);
	append_n(p, 5);
	i = info_of(p);
	mmfs_pool_close(&p);
	damage(i.log_off + rec_off(1, 5), payload(5, buf));

	p = open_ok(0);
	r = replay_ok(p, 4);
	assert_true(r.torn_tail);
	assert_int_equal(r.last_seq, 4);
	assert_int_equal(r.tail_off, rec_off(1, 5));
	assert_int_equal(mmfs_pool_log_used(p), rec_off(1, 5));
	/* The unacknowledged record is gone; appends take its place. */
	append_n(p, 2);
	mmfs_pool_close(&p);
	p = open_ok(0);
	r = replay_ok(p, 6);
	assert_false(r.torn_tail);
	mmfs_pool_close(&p);
}

static void zero_payload(uint64_t rec, size_t len)
{
	uint8_t zero[MAXREC] = { 0 };

	file_write(rec + HDR + len / 2, zero, len - len / 2);
}

static void flip_payload(uint64_t rec, size_t len)
{
	file_flip(rec + HDR + len - 1, 0x04);
}

static void flip_len(uint64_t rec, size_t len)
{
	file_flip(rec + 7, 0x80); /* a length past the log */
}

static void flip_seq(uint64_t rec, size_t len)
{
	file_flip(rec + 8, 0x01);
}

static void flip_magic(uint64_t rec, size_t len)
{
	file_flip(rec, 0x01);
}

static void test_log_torn(void **state)
{
	assert_true(payload(5, (uint8_t[MAXREC]){ 0 }) >= 8);
	torn_last(zero_payload);
	torn_last(flip_payload);
	torn_last(flip_len);
	torn_last(flip_seq);
	torn_last(flip_magic);
}

static void test_log_mid_damage(void **state)
{
	struct mmfs_pool_replay r;
	struct mmfs_pool_info i;
	char why[MMFS_POOL_WHY];
	struct mmfs_pool *p = open_ok(0);
	uint8_t buf[MAXREC];
	struct seen s;

	replay_ok(p, 0);
	append_n(p, 5);
	i = info_of(p);
	mmfs_pool_close(&p);
	file_flip(i.log_off + rec_off(1, 2) + HDR + payload(2, buf) / 2, 1);

	p = open_ok(0);
	assert_int_equal(replay(p, &s, &r, why), -EUCLEAN);
	assert_non_null(strstr(why, "log damaged at offset"));
	assert_non_null(strstr(why, "records follow a bad one"));
	assert_int_equal(s.n, 1);
	assert_false(s.bad);
	assert_int_equal(r.last_seq, 1);
	assert_int_equal(r.tail_off, rec_off(1, 2));
	/* Repair: a checkpoint past every seq on media buries the rest. */
	assert_int_equal(mmfs_pool_seq(p), 5);
	assert_int_equal(mmfs_pool_ckpt_begin(p), 0);
	assert_int_equal(mmfs_pool_ckpt_commit(p, mmfs_pool_seq(p)), 0);
	mmfs_pool_close(&p);
	p = open_ok(0);
	replay_ok(p, 0);
	append_n(p, 1);
	assert_int_equal(mmfs_pool_seq(p), 6);
	mmfs_pool_close(&p);
	p = open_ok(0);
	replay_ok(p, 1);
	mmfs_pool_close(&p);
}

/*
 * A commit cut short by a power loss: its later records reached media, an
 * earlier one did not, and there is no end-of-commit mark. Never
 * acknowledged, so not damage: replay stops before the batch, and the
 * sequence goes on from the last committed record.
 */
static void test_log_torn_batch(void **state)
{
	struct mmfs_pool_replay r;
	struct mmfs_pool_info i;
	struct mmfs_pool *p = open_ok(0);
	uint8_t buf[MAXREC];
	uint64_t seq, s;
	size_t len;

	replay_ok(p, 0);
	append_n(p, 3);
	for (s = 4; s <= 6; s++) { /* appended, never committed */
		len = payload(s, buf);
		assert_int_equal(mmfs_pool_log_append(p, buf, len, &seq), 0);
	}
	i = info_of(p);
	mmfs_pool_close(&p);
	file_flip(i.log_off + rec_off(1, 4) + HDR + payload(4, buf) / 2, 1);
	p = open_ok(0);
	r = replay_ok(p, 3);
	assert_true(r.torn_tail);
	assert_int_equal(r.last_seq, 3);
	assert_int_equal(mmfs_pool_seq(p), 3);
	append_n(p, 2); /* seq 4 and 5, over the batch's remains */
	mmfs_pool_close(&p);
	p = open_ok(0);
	r = replay_ok(p, 5);
	assert_false(r.torn_tail);
	mmfs_pool_close(&p);
}

/* A valid record with a seq the sequence skipped also means damage. */
static void test_log_seq_gap(void **state)
{
	struct mmfs_pool_replay r;
	struct mmfs_pool *p = open_ok(0);
	char why[MMFS_POOL_WHY];
	struct seen s;

	replay_ok(p, 0);
	append_n(p, 3);
	assert_int_equal(mmfs_pool_ckpt_begin(p), 0);
	assert_int_equal(mmfs_pool_ckpt_commit(p, 3), 0);
	append_n(p, 1); /* seq 4 at offset 0 */
	mmfs_pool_close(&p);
	/* Roll the superblock back to a checkpoint at seq 2. */
	sb_set(0, SB_CKPT_SEQ, 8, 2);
	p = open_ok(0);
	assert_int_equal(replay(p, &s, &r, why), -EUCLEAN);
	assert_int_equal(r.tail_off, 0);
	assert_true(r.torn_tail);
	mmfs_pool_close(&p);
}

static void test_log_enospc(void **state)
{
	struct mmfs_pool *p;
	uint8_t rec[4000] = { 0 };
	uint64_t seq, n = 0, used;

	assert_int_equal(mkfs_opts(POOL_SIZE, CHUNK, 256u << 10), 0);
	p = open_ok(0);
	replay_ok(p, 0);
	while (mmfs_pool_log_append(p, rec, sizeof(rec), &seq) == 0)
		n++;
	used = mmfs_pool_log_used(p);
	assert_int_equal(n, (64u << 10) / (HDR + sizeof(rec)));
	assert_true(used + HDR + sizeof(rec) + HDR > (64u << 10));
	/* A record the whole log cannot take. */
	assert_int_equal(mmfs_pool_log_append(p, rec, 64u << 10, &seq),
			 -ENOSPC);
	assert_int_equal(
		mmfs_pool_log_append(p, rec, (size_t)UINT32_MAX + 1, &seq),
		-ENOSPC);
	/* What fits still does: a small record after the failure. */
	while (mmfs_pool_log_append(p, rec, 0, &seq) == 0)
		n++;
	used = mmfs_pool_log_used(p);
	assert_true(used + 2 * HDR > mmfs_pool_log_bytes(p));
	assert_true(used + HDR <= mmfs_pool_log_bytes(p));
	mmfs_pool_log_persist(p);
	assert_int_equal(mmfs_pool_seq(p), n);
	mmfs_pool_close(&p);
	p = open_ok(0);
	{
		struct mmfs_pool_replay r;
		char why[MMFS_POOL_WHY];

		assert_int_equal(mmfs_pool_log_replay(p, NULL, NULL, &r, why),
				 0);
		assert_int_equal(r.records, n);
		assert_false(r.torn_tail);
	}
	/* A checkpoint empties the log. */
	assert_int_equal(mmfs_pool_ckpt_begin(p), 0);
	assert_int_equal(mmfs_pool_ckpt_commit(p, n), 0);
	assert_int_equal(mmfs_pool_log_used(p), 0);
	assert_int_equal(mmfs_pool_log_append(p, rec, sizeof(rec), &seq), 0);
	assert_int_equal(seq, n + 1);
	mmfs_pool_close(&p);
}

/*
 * A crash after the checkpoint's superblock but before the log was
 * emptied leaves the old records: they are older than the checkpoint and
 * must neither replay nor count as damage or a torn tail.
 */
static void test_log_stale_after_ckpt(void **state)
{
	struct mmfs_pool_replay r;
	struct mmfs_pool_info i;
	struct mmfs_pool *p = open_ok(0);
	uint8_t old[8192];

	replay_ok(p, 0);
	append_n(p, 20);
	i = info_of(p);
	file_read(i.log_off, old, sizeof(old));
	assert_int_equal(mmfs_pool_ckpt_begin(p), 0);
	assert_int_equal(mmfs_pool_ckpt_commit(p, 20), 0);
	mmfs_pool_close(&p);
	file_write(i.log_off, old, sizeof(old));
	p = open_ok(0);
	r = replay_ok(p, 0);
	assert_false(r.torn_tail);
	assert_int_equal(r.last_seq, 20);
	/* New records over the old ones; the old tail stays behind. */
	append_n(p, 3);
	mmfs_pool_close(&p);
	p = open_ok(0);
	r = replay_ok(p, 3);
	assert_int_equal(r.last_seq, 23);
	mmfs_pool_close(&p);
}

/* Records of an earlier format of the same file are not ours. */
static void test_log_after_remkfs(void **state)
{
	struct mmfs_pool *p = open_ok(0);
	struct mmfs_pool_replay r;

	replay_ok(p, 0);
	append_n(p, 10);
	mmfs_pool_close(&p);
	assert_int_equal(mkfs_opts(POOL_SIZE, CHUNK, 0), 0);
	p = open_ok(0);
	r = replay_ok(p, 0);
	assert_false(r.torn_tail);
	append_n(p, 1); /* seq 1 again, a different record than before */
	mmfs_pool_close(&p);
	p = open_ok(0);
	replay_ok(p, 1);
	mmfs_pool_close(&p);
}

/* --- checkpoints ---------------------------------------------------------- */

static void fill_body(uint8_t *b, size_t n, unsigned salt)
{
	size_t k;

	for (k = 0; k < n; k++)
		b[k] = (uint8_t)(k * 13 + salt);
}

static void write_ckpt(struct mmfs_pool *p, const uint8_t *b, size_t n)
{
	size_t k, step;

	assert_int_equal(mmfs_pool_ckpt_begin(p), 0);
	for (k = 0; k < n; k += step) {
		step = MMFS_MIN(n - k, 1000 + k % 777);
		assert_int_equal(mmfs_pool_ckpt_write(p, b + k, step), 0);
	}
}

static void test_ckpt_commit(void **state)
{
	static uint8_t body[100000], body2[3000];
	struct mmfs_pool_info i;
	struct mmfs_pool *p = open_ok(0);
	const void *got;
	size_t len;

	fill_body(body, sizeof(body), 1);
	fill_body(body2, sizeof(body2), 2);
	replay_ok(p, 0);
	append_n(p, 3);
	write_ckpt(p, body, sizeof(body));
	/* Appends while the body is written are fine... */
	append_n(p, 1);
	/* ...but a commit must cover them: the log is emptied. */
	assert_int_equal(mmfs_pool_ckpt_commit(p, 3), -EINVAL);
	assert_int_equal(mmfs_pool_ckpt_commit(p, 4), 0);
	mmfs_pool_ckpt_get(p, &got, &len);
	assert_int_equal(len, sizeof(body));
	assert_memory_equal(got, body, len);
	assert_int_equal(mmfs_pool_log_used(p), 0);
	assert_int_equal(mmfs_pool_seq(p), 4);
	append_n(p, 2);
	mmfs_pool_close(&p);

	p = open_ok(0);
	i = info_of(p);
	assert_int_equal(i.active_ckpt, 1);
	assert_int_equal(i.ckpt_seq, 4);
	assert_int_equal(i.ckpt_len, sizeof(body));
	assert_int_equal(i.generation, 2);
	mmfs_pool_ckpt_get(p, &got, &len);
	assert_int_equal(len, sizeof(body));
	assert_memory_equal(got, body, len);
	{
		struct seen s;
		struct mmfs_pool_replay r;

		assert_int_equal(replay(p, &s, &r, NULL), 0);
		assert_int_equal(s.n, 2);
		assert_int_equal(s.first, 5);
		assert_false(s.bad);
	}
	/* The next one goes back to area 0; a seq past the log is fine. */
	write_ckpt(p, body2, sizeof(body2));
	assert_int_equal(mmfs_pool_ckpt_commit(p, 100), 0);
	assert_int_equal(mmfs_pool_seq(p), 100);
	mmfs_pool_close(&p);
	p = open_ok(0);
	i = info_of(p);
	assert_int_equal(i.active_ckpt, 0);
	assert_int_equal(i.ckpt_seq, 100);
	mmfs_pool_ckpt_get(p, &got, &len);
	assert_int_equal(len, sizeof(body2));
	assert_memory_equal(got, body2, len);
	replay_ok(p, 0);
	/* An empty checkpoint. */
	assert_int_equal(mmfs_pool_ckpt_begin(p), 0);
	assert_int_equal(mmfs_pool_ckpt_write(p, NULL, 0), 0);
	assert_int_equal(mmfs_pool_ckpt_commit(p, 100), 0);
	mmfs_pool_close(&p);
	p = open_ok(0);
	mmfs_pool_ckpt_get(p, &got, &len);
	assert_int_equal(len, 0);
	mmfs_pool_close(&p);
}

static void test_ckpt_enospc(void **state)
{
	static uint8_t body[64u << 10];
	struct mmfs_pool_info i;
	struct mmfs_pool *p = open_ok(0);
	const void *got;
	size_t len, k;

	fill_body(body, sizeof(body), 3);
	replay_ok(p, 0);
	write_ckpt(p, body, 5000);
	assert_int_equal(mmfs_pool_ckpt_commit(p, 0), 0);
	i = info_of(p);
	/* Misuse. */
	assert_int_equal(mmfs_pool_ckpt_write(p, body, 1), -EINVAL);
	assert_int_equal(mmfs_pool_ckpt_commit(p, 0), -EINVAL);
	assert_int_equal(mmfs_pool_ckpt_begin(p), 0);
	assert_int_equal(mmfs_pool_ckpt_begin(p), -EBUSY);
	/* Exactly full fits; one byte more does not, and it sticks. */
	for (k = 0; k < i.ckpt_bytes; k += sizeof(body))
		assert_int_equal(
			mmfs_pool_ckpt_write(
				p, body,
				MMFS_MIN(sizeof(body), i.ckpt_bytes - k)),
			0);
	assert_int_equal(mmfs_pool_ckpt_write(p, body, 1), -ENOSPC);
	assert_int_equal(mmfs_pool_ckpt_write(p, body, 0), -ENOSPC);
	assert_int_equal(mmfs_pool_ckpt_commit(p, 0), -ENOSPC);
	mmfs_pool_ckpt_abort(p);
	mmfs_pool_ckpt_get(p, &got, &len);
	assert_int_equal(len, 5000);
	assert_memory_equal(got, body, 5000);
	mmfs_pool_close(&p);
	p = open_ok(0);
	mmfs_pool_ckpt_get(p, &got, &len);
	assert_int_equal(len, 5000);
	assert_memory_equal(got, body, 5000);
	assert_int_equal(info_of(p).active_ckpt, i.active_ckpt);
	mmfs_pool_close(&p);
}

static void test_ckpt_abort(void **state)
{
	static uint8_t body[9000];
	struct mmfs_pool *p = open_ok(0);
	const void *got;
	size_t len;

	fill_body(body, sizeof(body), 4);
	replay_ok(p, 0);
	append_n(p, 2);
	write_ckpt(p, body, sizeof(body));
	mmfs_pool_ckpt_abort(p);
	mmfs_pool_ckpt_abort(p); /* twice is harmless */
	mmfs_pool_ckpt_get(p, &got, &len);
	assert_int_equal(len, 0);
	assert_int_equal(mmfs_pool_log_used(p), rec_off(1, 3));
	/* A new one can start and commit after the abort. */
	write_ckpt(p, body, 100);
	assert_int_equal(mmfs_pool_ckpt_commit(p, 2), 0);
	mmfs_pool_close(&p);
	p = open_ok(0);
	mmfs_pool_ckpt_get(p, &got, &len);
	assert_int_equal(len, 100);
	assert_memory_equal(got, body, 100);
	replay_ok(p, 0);
	mmfs_pool_close(&p);
}

static void test_ckpt_corrupt(void **state)
{
	static uint8_t body[4000];
	struct mmfs_pool_info i;
	struct mmfs_pool *p = open_ok(0);

	fill_body(body, sizeof(body), 5);
	replay_ok(p, 0);
	write_ckpt(p, body, sizeof(body));
	assert_int_equal(mmfs_pool_ckpt_commit(p, 0), 0);
	i = info_of(p);
	mmfs_pool_close(&p);
	file_flip(i.ckpt_off[1] + 3999, 0x40);
	open_fails(-EUCLEAN, "checkpoint 1 checksum mismatch");
	file_flip(i.ckpt_off[1] + 3999, 0x40);
	/* Bytes past the body are not part of it. */
	file_flip(i.ckpt_off[1] + 4000, 0x40);
	mmfs_pool_close((struct mmfs_pool *[]){ open_ok(0) });
}

/* --- read-only, chunks --------------------------------------------------- */

static void test_rdonly(void **state)
{
	struct mmfs_pool *p = open_ok(0);
	uint8_t before[2 * SB], after[2 * SB];
	uint64_t seq;

	replay_ok(p, 0);
	append_n(p, 4);
	mmfs_pool_close(&p);
	file_read(0, before, sizeof(before));
	p = open_ok(MMFS_POOL_RDONLY);
	replay_ok(p, 4);
	assert_int_equal(mmfs_pool_log_append(p, "x", 1, &seq), -EROFS);
	assert_int_equal(mmfs_pool_ckpt_begin(p), -EROFS);
	assert_int_equal(mmfs_pool_set_clean(p, false), -EROFS);
	mmfs_pool_log_persist(p);
	mmfs_pool_close(&p);
	file_read(0, after, sizeof(after));
	assert_memory_equal(before, after, sizeof(before));
	/* A read-write open writes nothing either until asked. */
	p = open_ok(0);
	mmfs_pool_close(&p);
	file_read(0, after, sizeof(after));
	assert_memory_equal(before, after, sizeof(before));
}

static void test_chunks(void **state)
{
	static uint8_t buf[CHUNK], back[CHUNK];
	struct mmfs_pool_info i;
	struct mmfs_pool *p = open_ok(0);
	uint8_t *a, *b;

	i = info_of(p);
	a = mmfs_pool_slot_addr(p, 0);
	b = mmfs_pool_slot_addr(p, i.nchunks - 1);
	assert_int_equal(b - a, (ptrdiff_t)(i.nchunks - 1) * CHUNK);
	fill_body(buf, sizeof(buf), 6);
	mmfs_pool_copy(p, a, buf, sizeof(buf));
	mmfs_pool_fill(p, b, 0xa5, CHUNK);
	mmfs_pool_persist(p, a, CHUNK);
	mmfs_pool_persist(p, b, CHUNK);
	mmfs_pool_drain(p);
	assert_memory_equal(a, buf, CHUNK);
	mmfs_pool_close(&p);
	file_read(i.data_off, back, CHUNK);
	assert_memory_equal(back, buf, CHUNK);
	file_read(i.data_off + (uint64_t)(i.nchunks - 1) * CHUNK, back, CHUNK);
	memset(buf, 0xa5, CHUNK);
	assert_memory_equal(back, buf, CHUNK);
}

/* --- fuzz ----------------------------------------------------------------- */

static uint64_t rng_state = 0x6d6d66732d706f6full;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * fuzz_target -- a byte offset to flip: mostly where the bytes that matter
 * are (both superblocks, the used log, the active body), sometimes anywhere
 * in the metadata.
 */
static uint64_t fuzz_target(const struct mmfs_pool_info *i, uint64_t used)
{
	switch (rng() % 5) {
	case 0:
		return rng() % SB_STRUCT;
	case 1:
		return SB + rng() % SB_STRUCT;
	case 2:
		return i->log_off + rng() % (used + HDR);
	case 3:
		return i->ckpt_off[i->active_ckpt] + rng() % (i->ckpt_len + 8);
	default:
		return rng() % i->data_off;
	}
}

static void test_fuzz(void **state)
{
	static uint8_t body[3000];
	uint8_t *pristine;
	struct mmfs_pool_replay r, r2;
	struct mmfs_pool_info i;
	char why[MMFS_POOL_WHY];
	struct mmfs_pool *p;
	unsigned iter, k, n, opened = 0, replayed = 0;
	uint64_t used, seq;
	struct seen s;
	const void *got;
	size_t len;
	int rc;

	/* 256K of metadata: flips land on something often enough. */
	assert_int_equal(mkfs_opts(POOL_SIZE, CHUNK, 256u << 10), 0);
	fill_body(body, sizeof(body), 7);
	p = open_ok(0);
	replay_ok(p, 0);
	append_n(p, 4);
	write_ckpt(p, body, sizeof(body));
	assert_int_equal(mmfs_pool_ckpt_commit(p, 4), 0);
	append_n(p, 6);
	i = info_of(p);
	used = mmfs_pool_log_used(p);
	mmfs_pool_close(&p);
	pristine = malloc(i.data_off);
	assert_non_null(pristine);
	file_read(0, pristine, i.data_off);

	for (iter = 0; iter < 2000; iter++) {
		file_write(0, pristine, i.data_off);
		n = 1 + rng() % 8;
		for (k = 0; k < n; k++)
			file_flip(fuzz_target(&i, used),
				  (uint8_t)(1u << (rng() % 8)));
		/* A third of the time past the checksums, at the fields. */
		if (rng() % 3 == 0) {
			sb_set(0, SB_CSUM, 0, 0);
			sb_set(1, SB_CSUM, 0, 0);
		}
		p = NULL;
		rc = mmfs_pool_open(path, 0, &p, why);
		assert_true(rc <= 0);
		if (rc < 0) {
			assert_null(p);
			assert_true(why[0] != '\0');
			continue;
		}
		opened++;
		/* Whatever opens is one of the two states written. */
		mmfs_pool_ckpt_get(p, &got, &len);
		assert_true(len == 0 || (len == sizeof(body) &&
					 !memcmp(got, body, sizeof(body))));
		rc = replay(p, &s, &r, why);
		assert_true(rc <= 0);
		/* Records that replay are the ones appended, in order. */
		assert_false(s.bad);
		if (rc < 0) {
			mmfs_pool_close(&p);
			continue;
		}
		replayed++;
		/* What replays cleanly takes an append and replays again. */
		if (mmfs_pool_log_append(p, body, 100, &seq) == 0) {
			mmfs_pool_log_persist(p);
			mmfs_pool_close(&p);
			p = open_ok(0);
			assert_int_equal(
				mmfs_pool_log_replay(p, NULL, NULL, &r2, why),
				0);
			assert_int_equal(r2.records, r.records + 1);
			assert_int_equal(r2.last_seq, seq);
		}
		mmfs_pool_close(&p);
	}
	print_message("  fuzz: %u of 2000 opened, %u replayed cleanly\n",
		      opened, replayed);
	assert_true(opened > 0 && opened < 2000);
	free(pristine);
}

/* --- main ---------------------------------------------------------------- */

static int group_setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

/* group_teardown -- remove every pool, also those a failed test left */
static int group_teardown(void **state)
{
	char name[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(name, sizeof(name), "%s/%s", dir, de->d_name);
			unlink(name);
		}
	if (d)
		closedir(d);
	return rmdir(dir);
}

#define POOL_TEST(f) \
	cmocka_unit_test_setup_teardown(f, setup_pool, teardown_pool)

int main(void)
{
	const struct CMUnitTest tests[] = {
		POOL_TEST(test_mkfs_roundtrip),
		POOL_TEST(test_mkfs_refuses),
		POOL_TEST(test_mkfs_geometry),
		POOL_TEST(test_sb_fields),
		POOL_TEST(test_sb_one_bad),
		POOL_TEST(test_sb_magic),
		POOL_TEST(test_sb_version),
		POOL_TEST(test_sb_version_upgrade),
		POOL_TEST(test_truncated),
		POOL_TEST(test_lock),
		POOL_TEST(test_hold),
		POOL_TEST(test_log_roundtrip),
		POOL_TEST(test_log_torn),
		POOL_TEST(test_log_mid_damage),
		POOL_TEST(test_log_torn_batch),
		POOL_TEST(test_log_seq_gap),
		POOL_TEST(test_log_enospc),
		POOL_TEST(test_log_stale_after_ckpt),
		POOL_TEST(test_log_after_remkfs),
		POOL_TEST(test_ckpt_commit),
		POOL_TEST(test_ckpt_enospc),
		POOL_TEST(test_ckpt_abort),
		POOL_TEST(test_ckpt_corrupt),
		POOL_TEST(test_rdonly),
		POOL_TEST(test_chunks),
		POOL_TEST(test_fuzz),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

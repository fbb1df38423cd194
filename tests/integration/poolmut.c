/* SPDX-License-Identifier: Apache-2.0 */
/*
 * poolmut -- damage a copy of an mmfs pool the way hostile.sh asks:
 *
 *   poolmut POOL CLASS SEED
 *
 * prints one line saying what it did (for the test's report), exit 0; 2 on
 * a usage error or a pool it cannot parse. CLASS is one of
 *
 *   flip-sb0 flip-sb1 flip-log flip-ckpt0 flip-ckpt1 flip-data
 *           1..64 random bytes overwritten in that region (its used part)
 *   trunc   the file cut short: to a page, to any byte, inside the last chunk
 *   swap    two regions exchanged (superblocks, checkpoint areas, the log
 *           and the active checkpoint, a chunk and the log, a superblock and
 *           the log)
 *   field   a plausible but wrong superblock field, written to both copies
 *           with a valid checksum: only the field checks stand between it
 *           and a mount
 *   record  one log record made hostile: lengths past the log or that
 *           overflow, or a payload, seq or magic changed with a valid hash
 *   ckpt    the active checkpoint body changed (bytes or length) with its
 *           hash made valid again: only the decoder stands in the way
 *
 * The layout is tier/pool_layout.h (tier/README.md, "Pool format").
 * SEED 1..N (N the class's variants) makes each variant once, in the order
 * listed in its switch; the same SEED always makes the same image from the
 * same pool.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

#include "tier/pool_layout.h"
#include "xorshift.h"

static unsigned char *base;
static uint64_t fsize;
static struct pool_sb sb;	/* the copy with the higher valid generation */
static uint64_t seed_arg;	/* SEED: picks the variant, seeds the bytes */

/* variant -- which of @n variants: SEED 1..n makes each once, in order */
static uint64_t variant(uint64_t n)
{
	return (seed_arg + n - 1) % n;
}

static void die(const char *m)
{
	fprintf(stderr, "poolmut: %s\n", m);
	exit(2);
}

static uint64_t sb_csum(const struct pool_sb *s)
{
	struct pool_sb c = *s;

	c.csum = 0;
	return XXH64(&c, sizeof(c), 0);
}

/* load_sb -- the valid copy with the higher generation (both: die) */
static void load_sb(void)
{
	struct pool_sb c[2];
	int best = -1;

	for (int i = 0; i < 2; i++) {
		memcpy(&c[i], base + (size_t)i * MMFS_POOL_SB_BYTES, sizeof(c[i]));
		if (memcmp(c[i].magic, MMFS_POOL_MAGIC, sizeof(c[i].magic)) || c[i].csum != sb_csum(&c[i]))
			continue;
		if (best < 0 || c[i].generation > c[best].generation)
			best = i;
	}
	if (best < 0)
		die("no valid superblock");
	sb = c[best];
	if (sb.log_off + sb.log_bytes > fsize || sb.active_ckpt > 1 ||
	    sb.ckpt_off[1] + sb.ckpt_bytes > fsize || sb.ckpt_len > sb.ckpt_bytes ||
	    sb.data_off > fsize)
		die("superblock does not fit the file");
}

/* store_sb -- write @s to both copies, each with its own generation parity */
static void store_sb(struct pool_sb *s)
{
	for (int i = 0; i < 2; i++) {
		struct pool_sb c = *s;

		if ((c.generation & 1) != (uint64_t)i)
			c.generation = c.generation ? c.generation - 1 : 1;
		c.csum = sb_csum(&c);
		memcpy(base + (size_t)i * MMFS_POOL_SB_BYTES, &c, sizeof(c));
	}
}

static void scribble(uint64_t off, uint64_t len, const char *what)
{
	int n = 1 + (int)below(64);

	if (!len)
		len = 1;
	for (int i = 0; i < n; i++)
		base[off + below(len)] = (unsigned char)rnd();
	printf("flip %s: %d bytes in [%" PRIu64 ", +%" PRIu64 ")\n", what, n,
	       off, len);
}

static void swap_bytes(uint64_t a, uint64_t b, uint64_t len, const char *what)
{
	for (uint64_t i = 0; i < len; i++) {
		unsigned char t = base[a + i];

		base[a + i] = base[b + i];
		base[b + i] = t;
	}
	printf("swap %s (%" PRIu64 " bytes)\n", what, len);
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* log_walk -- offsets of the log's valid records, up to @max */
static int log_walk(uint64_t *offs, int max)
{
	uint64_t seed, off = sb.log_off, end = sb.log_off + sb.log_bytes;
	int n = 0;

	memcpy(&seed, sb.uuid, sizeof(seed));
	while (n < max && off + MMFS_POOL_LOG_HDR <= end) {
		struct log_hdr h;
		XXH64_state_t st;

		memcpy(&h, base + off, sizeof(h));
		if (h.magic != LOG_MAGIC && h.magic != LOG_MAGIC_COMMIT)
			break;
		if (h.len > end - off - MMFS_POOL_LOG_HDR)
			break;
		struct log_hdr z = h;

		z.hash = 0;
		XXH64_reset(&st, seed);
		XXH64_update(&st, &z, sizeof(z));
		XXH64_update(&st, base + off + MMFS_POOL_LOG_HDR, h.len);
		if (XXH64_digest(&st) != h.hash)
			break;
		offs[n++] = off;
		off += MMFS_POOL_LOG_HDR + ((h.len + 7) & ~7ull);
	}
	return n;
}

/* rehash -- make the record at @off valid again for its (new) contents */
static void rehash(uint64_t off)
{
	struct log_hdr h;
	uint64_t seed;
	XXH64_state_t st;

	memcpy(&seed, sb.uuid, sizeof(seed));
	memcpy(&h, base + off, sizeof(h));
	h.hash = 0;
	XXH64_reset(&st, seed);
	XXH64_update(&st, &h, sizeof(h));
	XXH64_update(&st, base + off + MMFS_POOL_LOG_HDR, h.len);
	h.hash = XXH64_digest(&st);
	memcpy(base + off, &h, sizeof(h));
}

static int do_record(void)
{
	static uint64_t offs[4096];
	int n = log_walk(offs, 4096);
	uint64_t off, end = sb.log_off + sb.log_bytes;
	struct log_hdr h;

	if (!n) {
		/* an empty log: plant a hostile header at its start */
		off = sb.log_off;
		memset(&h, 0, sizeof(h));
		h.magic = LOG_MAGIC_COMMIT;
		h.len = UINT32_MAX;
		h.seq = sb.ckpt_seq + 1;
		memcpy(base + off, &h, sizeof(h));
		printf("record: the log was empty; a committed header of "
		       "length 2^32-1 planted at its start\n");
		return 0;
	}
	off = offs[below((uint64_t)n)];
	memcpy(&h, base + off, sizeof(h));
	switch (variant(7)) {
	case 0:
		h.len = UINT32_MAX;
		memcpy(base + off, &h, sizeof(h));
		printf("record at %" PRIu64 ": len 2^32-1\n", off);
		break;
	case 1:
		h.len = (uint32_t)min64(end - off - MMFS_POOL_LOG_HDR + 8, UINT32_MAX);
		memcpy(base + off, &h, sizeof(h));
		rehash(off); /* over what lies past the end: the next area */
		printf("record at %" PRIu64 ": len %u, 8 past the log\n", off,
		       h.len);
		break;
	case 2:
		if (h.len + 8 <= end - off - MMFS_POOL_LOG_HDR)
			h.len += 8;
		memcpy(base + off, &h, sizeof(h));
		rehash(off);
		printf("record at %" PRIu64 ": len +8 (%u), valid hash\n",
		       off, h.len);
		break;
	case 3:
		if (h.len)
			for (int i = 0; i < 1 + (int)below(8); i++)
				base[off + MMFS_POOL_LOG_HDR + below(h.len)] =
					(unsigned char)rnd();
		rehash(off);
		printf("record at %" PRIu64 ": payload bytes changed, valid "
		       "hash\n", off);
		break;
	case 4:
		h.seq = h.seq > 1 ? h.seq - 1 : UINT64_MAX;
		memcpy(base + off, &h, sizeof(h));
		rehash(off);
		printf("record at %" PRIu64 ": seq %" PRIu64 " (out of order), "
		       "valid hash\n", off, h.seq);
		break;
	case 5:
		h.magic = h.magic == LOG_MAGIC ? LOG_MAGIC_COMMIT : LOG_MAGIC;
		memcpy(base + off, &h, sizeof(h));
		rehash(off);
		printf("record at %" PRIu64 ": commit mark flipped, valid "
		       "hash\n", off);
		break;
	default:
		if (h.len >= 4)
			h.len = (uint32_t)below(h.len);
		memcpy(base + off, &h, sizeof(h));
		rehash(off);
		printf("record at %" PRIu64 ": len cut to %u, valid hash\n",
		       off, h.len);
		break;
	}
	return 0;
}

static int do_ckpt(void)
{
	uint64_t off = sb.ckpt_off[sb.active_ckpt];
	struct pool_sb s = sb;

	if (!sb.ckpt_len)
		die("the active checkpoint is empty");
	if (variant(3)) {
		int n = 1 + (int)below(16);

		for (int i = 0; i < n; i++)
			base[off + below(sb.ckpt_len)] = (unsigned char)rnd();
		printf("ckpt: %d bytes of the active body changed, hash made "
		       "valid\n", n);
	} else {
		s.ckpt_len = below(sb.ckpt_len);
		printf("ckpt: body cut to %" PRIu64 " of %" PRIu64
		       " bytes, hash made valid\n", s.ckpt_len, sb.ckpt_len);
	}
	s.ckpt_hash = XXH64(base + off, (size_t)s.ckpt_len, 0);
	store_sb(&s);
	return 0;
}

static int do_field(void)
{
	struct pool_sb s = sb;
	const char *what;

	switch (variant(18)) {
	case 0: s.chunk_size *= 2; what = "chunk_size doubled"; break;
	case 1: s.chunk_size /= 2; what = "chunk_size halved"; break;
	case 2: s.chunk_size = 3000; what = "chunk_size 3000"; break;
	case 3: s.nchunks += 1; what = "nchunks + 1"; break;
	case 4: s.nchunks = UINT32_MAX; what = "nchunks 2^32-1"; break;
	case 5: s.pool_bytes = fsize + 4096; what = "pool_bytes past the file"; break;
	case 6: s.pool_bytes = UINT64_MAX - 4095; what = "pool_bytes 2^64-4096"; break;
	case 7: s.log_bytes = UINT64_MAX - s.log_off + 1; what = "log_bytes wraps"; break;
	case 8: s.log_off = s.ckpt_off[0]; what = "log_off on checkpoint 0"; break;
	case 9: s.ckpt_off[1] = s.ckpt_off[0]; what = "checkpoint areas overlap"; break;
	case 10: s.ckpt_bytes = UINT64_MAX / 2; what = "ckpt_bytes 2^63"; break;
	case 11: s.data_off += 4096; what = "data_off off its alignment"; break;
	case 12: s.data_off = s.pool_bytes; what = "data_off at pool end"; break;
	case 13: s.active_ckpt = 2; what = "active_ckpt 2"; break;
	case 14: s.ckpt_len = s.ckpt_bytes + 8; what = "ckpt_len past its area"; break;
	case 15: s.ckpt_len = UINT64_MAX; what = "ckpt_len 2^64-1"; break;
	case 16: s.header_bytes = 0; what = "header_bytes 0"; break;
	default: s.clean = 7; what = "clean 7"; break;
	}
	store_sb(&s);
	printf("field: %s, both copies, valid checksums\n", what);
	return 0;
}

static int do_swap(void)
{
	uint64_t a = sb.ckpt_off[sb.active_ckpt];

	switch (variant(5)) {
	case 0:
		swap_bytes(0, MMFS_POOL_SB_BYTES, MMFS_POOL_SB_BYTES, "superblock 0 and 1");
		break;
	case 1:
		swap_bytes(sb.ckpt_off[0], sb.ckpt_off[1], sb.ckpt_bytes,
			   "checkpoint areas 0 and 1");
		break;
	case 2:
		swap_bytes(sb.log_off, a, min64(sb.log_bytes, sb.ckpt_bytes),
			   "the log and the active checkpoint");
		break;
	case 3:
		swap_bytes(sb.log_off, sb.data_off,
			   min64(sb.log_bytes, sb.chunk_size),
			   "the log and the first chunk slot");
		break;
	default:
		swap_bytes(0, sb.log_off, MMFS_POOL_SB_BYTES,
			   "superblock 0 and the log's first page");
		break;
	}
	return 0;
}

static int do_trunc(int fd)
{
	uint64_t to;

	switch (variant(3)) {
	case 0: to = below(fsize / 4096) * 4096; break;
	case 1: to = below(fsize); break;
	default: to = fsize - 1 - below(sb.chunk_size / 2); break;
	}
	munmap(base, fsize);
	if (ftruncate(fd, (off_t)to) < 0)
		die("ftruncate");
	printf("trunc: %" PRIu64 " of %" PRIu64 " bytes kept\n", to, fsize);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cls;
	struct stat st;
	int fd, rc = 0;

	if (argc != 4)
		die("usage: poolmut POOL CLASS SEED");
	cls = argv[2];
	seed_arg = strtoull(argv[3], NULL, 0);
	rs = seed_arg * 0x9E3779B97F4A7C15ULL + 1;
	fd = open(argv[1], O_RDWR);
	if (fd < 0 || fstat(fd, &st) < 0)
		die(strerror(errno));
	fsize = (uint64_t)st.st_size;
	if (fsize < 3 * MMFS_POOL_SB_BYTES)
		die("too small for a pool");
	base = mmap(NULL, fsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		die(strerror(errno));
	load_sb();
	if (!strcmp(cls, "flip-sb0"))
		scribble(0, sizeof(struct pool_sb), "superblock 0");
	else if (!strcmp(cls, "flip-sb1"))
		scribble(MMFS_POOL_SB_BYTES, sizeof(struct pool_sb), "superblock 1");
	else if (!strcmp(cls, "flip-log"))
		scribble(sb.log_off, min64(sb.log_bytes, 64 << 10), "log");
	else if (!strcmp(cls, "flip-ckpt0") || !strcmp(cls, "flip-ckpt1")) {
		int i = cls[9] - '0';
		uint64_t len = (uint32_t)i == sb.active_ckpt && sb.ckpt_len ?
			       sb.ckpt_len : min64(sb.ckpt_bytes, 64 << 10);

		scribble(sb.ckpt_off[i], len, i ? "checkpoint 1" : "checkpoint 0");
	} else if (!strcmp(cls, "flip-data"))
		scribble(sb.data_off, min64(fsize - sb.data_off,
					    (uint64_t)sb.chunk_size * 64),
			 "chunk slots");
	else if (!strcmp(cls, "trunc"))
		rc = do_trunc(fd);
	else if (!strcmp(cls, "swap"))
		rc = do_swap();
	else if (!strcmp(cls, "field"))
		rc = do_field();
	else if (!strcmp(cls, "record"))
		rc = do_record();
	else if (!strcmp(cls, "ckpt"))
		rc = do_ckpt();
	else
		die("unknown class");
	if (strcmp(cls, "trunc") && msync(base, fsize, MS_SYNC) < 0)
		die(strerror(errno));
	return rc;
}

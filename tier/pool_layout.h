/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool_layout.h -- (private to tier/pool.c, and to the test tools that
 * damage pools on purpose: tests/integration/poolmut.c) the on-media
 * structs of a pool, little-endian and packed. tier/README.md ("Pool
 * format") is their prose; a change here is a format change
 * (MMFS_POOL_VERSION).
 */
#ifndef MMFS_TIER_POOL_LAYOUT_H
#define MMFS_TIER_POOL_LAYOUT_H

#include <stdint.h>

#include "tier/pool.h"

#define LOG_MAGIC 0x474f4c4du	     /* "MLOG" little-endian */
#define LOG_MAGIC_COMMIT 0x434f4c4du /* "MLOC": ends a commit */

/* One superblock copy; the rest of its 4 KiB is zero. */
struct pool_sb {
	char magic[8];
	uint32_t version;
	uint32_t header_bytes;
	uint8_t uuid[16];
	uint64_t pool_bytes;
	uint32_t chunk_size;
	uint32_t nchunks;
	uint64_t log_off;
	uint64_t log_bytes;
	uint64_t ckpt_off[2];
	uint64_t ckpt_bytes;
	uint64_t data_off;
	uint64_t generation;
	uint32_t active_ckpt;
	uint32_t clean;
	uint64_t ckpt_seq;
	uint64_t ckpt_len;
	uint64_t ckpt_hash;
	uint64_t mkfs_time;
	uint64_t mount_time;
	uint64_t mounts;
	uint8_t reserved[88];
	uint64_t csum; /* XXH64 of this struct with csum = 0, seed 0 */
} __attribute__((packed));

_Static_assert(sizeof(struct pool_sb) == 256, "README: superblock is 256 B");
_Static_assert(__builtin_offsetof(struct pool_sb, pool_bytes) == 32, "");
_Static_assert(__builtin_offsetof(struct pool_sb, log_off) == 48, "");
_Static_assert(__builtin_offsetof(struct pool_sb, ckpt_off) == 64, "");
_Static_assert(__builtin_offsetof(struct pool_sb, generation) == 96, "");
_Static_assert(__builtin_offsetof(struct pool_sb, active_ckpt) == 104, "");
_Static_assert(__builtin_offsetof(struct pool_sb, ckpt_seq) == 112, "");
_Static_assert(__builtin_offsetof(struct pool_sb, mounts) == 152, "");
_Static_assert(__builtin_offsetof(struct pool_sb, csum) == 248, "");

/* Log record header; the payload follows, zero-padded to 8 bytes. */
struct log_hdr {
	uint32_t magic;
	uint32_t len; /* payload bytes */
	uint64_t seq;
	uint64_t hash; /* XXH64 of header (hash = 0) + payload, seed: uuid */
} __attribute__((packed));

_Static_assert(sizeof(struct log_hdr) == MMFS_POOL_LOG_HDR, "");

#endif

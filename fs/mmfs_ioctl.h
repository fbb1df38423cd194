/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mmfs_ioctl.h -- the control surface of a mounted mmfs (fs/'s public
 * header). mmfsctl and applications issue these ioctls on any file or
 * directory of the mount. Structures are fixed-size (FUSE forwards only
 * "restricted" ioctls whose size is encoded in the command) and versioned:
 * fields are only ever appended inside the reserved space.
 */
#ifndef MMFS_FS_MMFS_IOCTL_H
#define MMFS_FS_MMFS_IOCTL_H

#include <linux/ioctl.h>
#include <stdint.h>

#define MMFS_IOC_MAGIC 'M'
#define MMFS_IOC_STAT_VERSION 4

struct mmfs_ioc_stat {
	uint32_t version;        /* MMFS_IOC_STAT_VERSION */
	uint32_t chunk_size;     /* bytes */
	uint64_t dram_total;     /* bytes of DRAM budget (dram=) */
	uint64_t dram_used;      /* bytes of DRAM holding chunks */
	uint64_t pmem_total;     /* bytes of PMEM pool (0: volatile) */
	uint64_t pmem_used;
	uint64_t chunk_allocs;   /* chunks allocated since mount */
	uint64_t chunk_frees;
	uint64_t enospc;         /* allocations refused: tiers full */
	uint64_t inodes;         /* live inodes */
	uint64_t meta_bytes;     /* heap for inodes, dirents, xattrs (maps: ~4 B a chunk, not here) */
	uint64_t file_bytes;     /* sum of regular file sizes (apparent) */
	/* Persistent pools (all 0 on a volatile mount): */
	uint64_t persistent;     /* 1 when SOURCE is a pool */
	uint64_t commits;        /* log commits since mount */
	uint64_t checkpoints;    /* checkpoints since mount */
	uint64_t log_used;       /* bytes of the pool's log in use */
	uint64_t writeback_bytes; /* DRAM chunk bytes written to PMEM */
	/* The tiering engine (0 when it does not run): */
	uint64_t promotions;     /* chunks moved PMEM -> DRAM */
	uint64_t demotions;      /* chunks moved DRAM -> PMEM */
	uint64_t moved_bytes;
	uint64_t epochs;
	uint64_t heat[8];        /* chunks with heat 0, 1, 2-3, ..., 64+ */
	/* 1: the pmem_ fields describe a volatile slow tier on NUMA nodes
	 * (SOURCE numa:LIST or slow_nodes=; CXL memory), not a pool */
	uint64_t slow_tier;
	/* Page-cache sampling (sample=; 0 when off): */
	uint64_t sample_passes;  /* sampling passes since mount */
	uint64_t sample_dropped; /* chunk ranges dropped from the page cache */
	uint64_t sample_files;   /* open files being sampled */
	/* Snapshots (version 3): */
	uint64_t snapshots;      /* snapshots of all directories */
	uint64_t snap_bytes;     /* bytes only snapshots hold (shared: 0) */
	/* Version 4: */
	uint64_t remap_busy;     /* moves given up: the chunk's stripe was busy */
	/* Room for fields to come without changing the command's size. */
	uint64_t reserved[15];
};

#define MMFS_IOC_STAT _IOR(MMFS_IOC_MAGIC, 1, struct mmfs_ioc_stat)
/* Make everything durable: syncfs(2) for FUSE (`mmfsctl sync`). */
#define MMFS_IOC_SYNC _IO(MMFS_IOC_MAGIC, 2)

/*
 * Change a live mount: what `mount -o remount,OPTS` (mmfs SOURCE MNT -o
 * remount,...) asks of the daemon. @opts are the options as mount -o has
 * them; the daemon applies those that can change live and compares the
 * others with its own: one that differs is refused, with @why. Check
 * first (@apply 0), then apply (@apply 1): the kernel's MS_REMOUNT runs
 * between the two. Root (or the mount's owner) only.
 */
#define MMFS_IOC_REMOUNT_VERSION 1
struct mmfs_ioc_remount {
	uint32_t version;        /* MMFS_IOC_REMOUNT_VERSION */
	uint32_t apply;          /* 0: check only, 1: apply */
	uint64_t ms_flags;       /* the mount's MS_* flags after the remount */
	int32_t result;          /* out: 0, or -errno with @why */
	uint32_t reserved;
	char opts[3072];         /* NUL-terminated */
	char why[1008];          /* out: the one line a refusal says */
};

#define MMFS_IOC_REMOUNT _IOWR(MMFS_IOC_MAGIC, 3, struct mmfs_ioc_remount)

/*
 * Snapshots: DIR/.snap/NAME, as mkdir/rmdir there do, and what only the
 * daemon can do. Issued on DIR (CREATE, DELETE, ROLLBACK, SCHEDULE), on
 * the directory to hold a clone (CLONE, with the snapshot's st_ino), or on
 * a snapshot (INFO). The owner of DIR, or root; @result 0 or -errno.
 */
#define MMFS_IOC_SNAP_VERSION 1
enum mmfs_ioc_snap_op {
	MMFS_SNAP_CREATE = 1,   /* snapshot DIR as @name */
	MMFS_SNAP_DELETE = 2,   /* delete DIR/.snap/@name */
	MMFS_SNAP_ROLLBACK = 3, /* DIR becomes DIR/.snap/@name, atomically */
	MMFS_SNAP_CLONE = 4,    /* @name: a writable copy of @snap_ino */
	MMFS_SNAP_INFO = 5,     /* out: @inodes, @excl_bytes, @created_* */
	MMFS_SNAP_SCHEDULE = 6, /* every @every_secs keep @keep (0: off) */
};

struct mmfs_ioc_snap {
	uint32_t version;        /* MMFS_IOC_SNAP_VERSION */
	uint32_t op;             /* enum mmfs_ioc_snap_op */
	uint64_t snap_ino;       /* CLONE: the snapshot directory */
	uint64_t every_secs;     /* SCHEDULE; out of INFO on DIR: current */
	uint64_t keep;
	uint64_t inodes;         /* INFO: inodes of the snapshot */
	uint64_t excl_bytes;     /* INFO: what deleting it would free */
	int64_t created_sec;     /* INFO: when it was taken */
	uint64_t created_nsec;
	uint64_t reserved[8];
	char name[256];          /* NUL-terminated */
};

#define MMFS_IOC_SNAP _IOWR(MMFS_IOC_MAGIC, 4, struct mmfs_ioc_snap)

#endif

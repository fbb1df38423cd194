/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fs_i.h -- private definitions of fs/: the inode table, inodes, directory
 * entries and extended attributes. FUSE-free, so that it can be unit-tested;
 * only fuse_ops.c and main.c include <fuse_lowlevel.h>.
 *
 * Lock order: fs/LOCKING.md, the one copy (each lock below says what it
 * guards; the table there says in which order they are taken).
 * The kernel's VFS already serializes conflicting namespace operations on
 * the same directories (i_rwsem, s_vfs_rename_mutex); these locks keep the
 * daemon's structures whole whatever order requests arrive in.
 */
#ifndef MMFS_FS_FS_I_H
#define MMFS_FS_FS_I_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "snapshot/snap.h"
#include "tier/tier.h"
#include "utils/htab.h"

#define FS_NAME_MAX 255
#define FS_SYMLINK_MAX 4095 /* PATH_MAX - 1, as tmpfs */
#define FS_XATTR_NAME_MAX 255
#define FS_XATTR_SIZE_MAX 65536
#define FS_XATTR_LIST_MAX 65536
#define FS_XATTR_INODE_MAX (1u << 20) /* values per inode, heap memory */
#define FS_ACL_ACCESS "system.posix_acl_access"
#define FS_ACL_DEFAULT "system.posix_acl_default"
#define FS_XATTR_TIER "user.mmfs.tier"           /* stored: a hint */
#define FS_XATTR_IO "user.mmfs.io"               /* stored: direct|cached */
#define FS_XATTR_RESIDENCY "user.mmfs.residency" /* virtual, read-only */
#define FS_XATTR_HEAT "user.mmfs.heat"           /* virtual, read-only */
#define FS_ROOT_INO 1
#define FS_BOGO_DIRENT_SIZE 20 /* st_size per entry, as tmpfs */
#define FS_MAX_FILE_SIZE ((uint64_t)INT64_MAX)

struct fs_inode;

struct fs_dirent {
	uint64_t seq;           /* readdir cookie; never reused in a dir */
	uint64_t hash;          /* of the name */
	struct fs_inode *inode; /* alive while this entry exists (nlink) */
	uint8_t namelen;
	char name[];            /* not NUL-terminated */
};

/* Position of an entry in readdir order; d == NULL once removed. */
struct fs_dpos {
	uint64_t seq;
	struct fs_dirent *d;
};

/*
 * A directory: a hash of names for O(1) lookup, and the entries in cookie
 * order for readdir. Cookies are insertion sequence numbers, so a readdir
 * resumed at any cookie neither repeats nor skips entries that stayed in
 * the directory, whatever was added or removed meanwhile. Protected by the
 * directory inode's ->lock.
 */
struct fs_dir {
	struct mmfs_htab names;
	struct fs_dpos *order;   /* ascending seq, with holes (d == NULL) */
	size_t norder;           /* used slots of order[] */
	size_t cap;
	size_t live;             /* entries; stat reads it atomically */
	uint64_t next_seq;       /* starts at 3: 1 and 2 are . and .. */
	struct fs_inode *parent; /* ".."; changed under fs->rename_lock */
	/*
	 * The directory's ".snap" (snap.c), made on first lookup, or NULL.
	 * Not an entry: readdir, emptiness and link counts never see it.
	 * Set and cleared under this directory's ->lock.
	 */
	struct fs_inode *snapdir;
};

struct fs_xattr {
	struct fs_xattr *next;
	uint32_t size;
	uint8_t namelen;
	char *value;
	char name[];             /* NUL-terminated */
};

struct fs_inode {
	uint64_t ino;
	uint64_t gen;
	_Atomic uint64_t nlookup; /* kernel references (lookup - forget) */
	_Atomic uint32_t nlink;
	_Atomic bool dead;        /* set once, by whoever frees the inode */
	/*
	 * Snapshots (snap.c): @frozen, inside a snapshot (read-only for
	 * everyone); @is_snapdir, a ".snap" directory. Set before the inode
	 * is reachable, or at load; never cleared.
	 */
	bool frozen;
	bool is_snapdir;
	_Atomic uint32_t opens;   /* open files (mmaps included); hold it */
	_Atomic bool data_gone;   /* unlinked and closed: chunks freed */
	uint8_t hint;             /* enum mmfs_tier_hint (user.mmfs.tier) */
	bool io_direct;           /* user.mmfs.io=direct: opens uncached */
	bool sampled;             /* held by the sampler; under its lock */
	uint32_t mode;            /* file type bits never change */

	/*
	 * lock: the content: a file's map and size, a directory's entries,
	 * the xattr list. Readers of file data hold it shared, also while the
	 * reply is copied out of chunk memory (so no chunk is freed under
	 * the kernel's copy); writers and namespace changes hold it
	 * exclusively.
	 */
	pthread_rwlock_t lock;
	/*
	 * alock: the attributes below. A leaf lock, held for a few loads and
	 * stores; size is changed under both ->lock and ->alock and may be
	 * read under either.
	 */
	pthread_mutex_t alock;
	uint32_t perm;            /* mode & 07777; protected by alock */
	uint32_t uid, gid;        /* protected by alock */
	uint64_t rdev;
	uint64_t size;            /* see above */
	uint64_t blocks;          /* chunks mapped; as size */
	uint64_t version;         /* attribute snapshots logged; alock */
	struct timespec atime, mtime, ctime, btime; /* protected by alock */

	struct fs_xattr *xattrs;  /* protected by lock */
	uint32_t xattr_names;     /* bytes of names + NULs; protected by lock */
	uint32_t xattr_bytes;     /* bytes of values; protected by lock */
	union {
		struct mmfs_snap_map map; /* S_IFREG */
		struct fs_dir dir;        /* S_IFDIR */
		char *target;             /* S_IFLNK, immutable */
	};
};

/*
 * The inode table: ino -> inode, a two-level array read without locks (an
 * ino the kernel names is alive until its forget). Freed inos are reused,
 * with a new generation, so the table stays dense.
 */
#define FS_ITAB_LEAF_SHIFT 12
#define FS_ITAB_LEAF (1u << FS_ITAB_LEAF_SHIFT)
#define FS_ITAB_TOP (1u << 20)

struct fs {
	struct mmfs_tier *tier;
	struct mmfs_snap *snap;
	uint32_t chunk_size;
	uint32_t chunk_shift;

	_Atomic(struct fs_inode *) *itab[FS_ITAB_TOP]; /* leaves */
	pthread_mutex_t itable_lock; /* protects ino allocation below */
	uint64_t ino_next;           /* protected by itable_lock */
	uint64_t *ino_free;          /* stack; protected by itable_lock */
	size_t ino_nfree, ino_free_cap;
	uint64_t gen_next;           /* protected by itable_lock */
	_Atomic uint64_t ninodes;
	_Atomic int64_t meta_bytes;  /* heap held by inodes, dirents, xattrs */
	_Atomic int64_t file_bytes;  /* sum of regular file sizes */

	pthread_mutex_t rename_lock; /* serializes renames; see top */

	/*
	 * Persistent pools (persist*.c); plog is NULL on a volatile mount.
	 * plock orders metadata changes against commits and checkpoints:
	 * every change holds it shared from before its first lock until its
	 * log records are staged (fs_txn_begin .. fs_txn_end); a commit
	 * holds it exclusively for the instant it takes the staged records,
	 * a checkpoint for as long as it serializes. Below commit_lock, above
 * every inode lock (fs/LOCKING.md).
	 */
	struct fs_plog *plog;
	pthread_rwlock_t plock;
	bool writeback;              /* kernel writeback cache (mount option) */
	bool splice_read;            /* splice write payloads (mount option) */
	bool null_io;                /* benchmark aid: discard data (option) */
	atomic_bool direct_io;       /* every open uncached (option;
				      * a remount sets it live) */
	_Atomic int atime;           /* enum fs_atime; set at mount, by remount */
	struct fs_sample *sample;    /* page-cache sampling, or NULL */
	struct fs_sched *sched;      /* snapshot schedules (snap.c), or NULL */
};

struct fs_owner {
	uint32_t uid, gid, umask;
};

/*
 * sample.c: page-cache sampling (sample=PCT). init before serving; hold
 * from every cached open of a regular file; start once the kernel can
 * take invalidations; stop after the last request (drops every hold).
 * The callback drops the kernel's cached copy of [off, off+len) of @ino
 * (fuse_lowlevel_notify_inval_inode): fs/ stays FUSE-free.
 */
struct fs_sample;
typedef int (*fs_sample_inval_fn)(void *arg, uint64_t ino, uint64_t off,
				  uint64_t len);
int fs_sample_init(struct fs *fs, unsigned pct, unsigned period_ms);
int fs_sample_start(struct fs *fs, fs_sample_inval_fn inval, void *arg);
void fs_sample_hold(struct fs *fs, struct fs_inode *in);
/* fs_sample_pass -- one sampling pass now (the thread's work; tests) */
void fs_sample_pass(struct fs *fs);
void fs_sample_stop(struct fs *fs);
void fs_sample_stat(struct fs *fs, uint64_t *passes, uint64_t *dropped,
		    uint64_t *files);

/* inode.c */
int fs_init(struct fs *fs, struct mmfs_tier *tier, struct mmfs_snap *snap);
void fs_fini(struct fs *fs);
/* fs_inode_get -- the live inode @ino, or NULL (no reference taken). */
struct fs_inode *fs_inode_get(struct fs *fs, uint64_t ino);
/*
 * fs_inode_get_linked -- a file handle's inode: @ino if it is in the table
 * and still has a name, with a kernel reference taken (fs_inode_ref), or
 * NULL. For numbers the kernel may not hold (LOOKUP(ino, ".") when it
 * resolves a handle): unlike fs_inode_get, it is safe against the inode
 * being freed meanwhile. Takes itable_lock.
 */
struct fs_inode *fs_inode_get_linked(struct fs *fs, uint64_t ino);
/* fs_inode_new -- a new inode with nlink 0, not in any directory. */
int fs_inode_new(struct fs *fs, uint32_t mode, const struct fs_owner *o,
		 uint64_t rdev, struct fs_inode **out);
/*
 * fs_inode_inherit -- what a new inode in @parent takes from it: BSD group
 * semantics in a setgid directory (its group; a directory also the bit), as
 * tmpfs and ext4. @parent's alock held; done before fs_inode_new, which
 * takes locks of its own (alock stays a leaf).
 */
void fs_inode_inherit(const struct fs_inode *parent, uint32_t *mode,
		      struct fs_owner *o);
/* Drop @n kernel references; the inode goes when unreferenced & unlinked */
void fs_inode_forget(struct fs *fs, struct fs_inode *in, uint64_t n);
void fs_inode_ref(struct fs_inode *in);
/* fs_inode_unlinked -- nlink dropped: free if nothing references it */
void fs_inode_maybe_free(struct fs *fs, struct fs_inode *in);
void fs_inode_stat(struct fs *fs, struct fs_inode *in, struct stat *st);
void fs_inode_touch(struct fs_inode *in, bool mtime, bool ctime);
/*
 * fs_inode_open / fs_inode_close -- count opens of a regular file, so that
 * an unlinked file's memory goes back at its last close (or at unlink when
 * it is not open), not when the kernel gets round to forgetting it.
 * open: 0, or -ENOENT when the file was deleted meanwhile.
 */
int fs_inode_open(struct fs_inode *in);
void fs_inode_close(struct fs *fs, struct fs_inode *in);
/* fs_inode_unlinked -- after a name went; frees data if it was the last */
void fs_inode_unlinked(struct fs *fs, struct fs_inode *in);
void fs_now(struct timespec *ts);

/* fs_root_new -- the root directory (ino 1) of a new filesystem */
int fs_root_new(struct fs *fs, uint32_t mode, uint32_t uid, uint32_t gid);
/*
 * fs_inode_install -- recovery: an inode with a given number, generation
 * and type, nlink 0, in no directory. -EEXIST if @ino is taken.
 */
int fs_inode_install(struct fs *fs, uint64_t ino, uint64_t gen,
		     uint32_t mode, struct fs_inode **out);
/* fs_inode_destroy -- recovery: free an unreachable inode now */
void fs_inode_destroy(struct fs *fs, struct fs_inode *in);
/* fs_inode_renumber -- recovery: rebuild the free-ino list and counters */
void fs_inode_renumber(struct fs *fs);
/* fs_inode_each -- @fn for every inode in ino order; stops at rc < 0 */
int fs_inode_each(struct fs *fs, int (*fn)(void *arg, struct fs_inode *in),
		  void *arg);

/*
 * persist_txn.c -- metadata transactions. A request that changes metadata
 * brackets the change with fs_txn_begin / fs_txn_end; in between, the
 * layers below record what changed into the thread's open transaction (dir
 * entries from dir.c, xattrs from xattr.c, map entries through the
 * snapshot journal) and fs_txn_dirty names inodes whose attributes changed.
 * fs_txn_commit stages the records so far; call it before dropping the
 * locks that ordered the change, so that the log's order is the change's
 * order (a request may stage more than once: each stage replays whole).
 * All of it costs nothing on a volatile mount.
 */
#define FS_TXN_INODES 8
struct fs_txn {
	struct fs *fs;
	char *buf;
	size_t len, cap;
	struct fs_inode *dirty[FS_TXN_INODES];
	unsigned ndirty;
	int err;
	bool on;                 /* records are kept (a persistent pool) */
	bool locked;             /* plock held: shared, or with @excl */
	bool excl;
	bool kick;               /* staged enough to start a commit early */
	char inl[240];
};
void fs_txn_begin(struct fs *fs, struct fs_txn *tx);
/*
 * fs_txn_begin_excl -- a transaction that holds plock exclusively: no
 * other metadata change or write runs until fs_txn_end, on a volatile
 * mount too (every transaction holds plock). For changes that must be
 * atomic against every request: snapshots, rollback, clones.
 */
void fs_txn_begin_excl(struct fs *fs, struct fs_txn *tx);
void fs_txn_dirty(struct fs_inode *in);
/*
 * fs_txn_rec_inode -- record @in's attributes now, not at the commit: for
 * an inode that may be freed before the transaction ends (released).
 */
void fs_txn_rec_inode(struct fs_inode *in);
void fs_txn_commit(struct fs_txn *tx);
void fs_txn_end(struct fs_txn *tx);
/* Recording hooks for dir.c, xattr.c and inode.c (no-ops outside a txn) */
void fs_txn_rec_inode_new(struct fs_inode *in);
void fs_txn_rec_dent(const struct fs_dir *d, const char *name, size_t len,
		     uint64_t ino);
void fs_txn_rec_xattr(struct fs_inode *in, const char *name,
		      const void *value, size_t size, bool set);
/* fs_txn_rec_snapdir -- @dir's .snap became @snapdir (NULL: removed) */
void fs_txn_rec_snapdir(struct fs_inode *dir, struct fs_inode *snapdir);

struct mmfs_pool;
struct fs_persist_opts {
	unsigned commit_secs;    /* background commit interval */
	uint32_t root_mode, root_uid, root_gid; /* for a new pool */
	bool rdonly;             /* fsck: load only, no thread, no writes */
};
/*
 * fs_persist_open -- load the pool's checkpoint, replay its log and free
 * the orphans of a crash. A pool that does not load is refused with
 * -EUCLEAN and @why. fs_persist_start then starts the commit thread (after
 * the daemon has forked: threads do not survive a fork).
 */
int fs_persist_open(struct fs *fs, struct mmfs_pool *pool,
		    const struct fs_persist_opts *o, char why[MMFS_POOL_WHY]);
int fs_persist_start(struct fs *fs);
/* fs_persist_sync -- fsync, fsyncdir, syncfs: everything written durable */
int fs_persist_sync(struct fs *fs);
/*
 * fs_persist_room -- 0, or -ENOSPC when the namespace would no longer fit
 * the pool's checkpoint area: new inodes, names and xattrs are refused
 * then (as ext4 refuses them when it runs out of inodes).
 */
int fs_persist_room(struct fs *fs);
/*
 * fs_persist_reclaim -- on ENOSPC: chunks freed since the last commit are
 * not reusable until it is durable that they were freed; commit now.
 * True if there were such chunks (retry). Call with no fs lock held.
 */
bool fs_persist_reclaim(struct fs *fs);
/* fs_persist_checkpoint -- write a checkpoint now (fsck --repair too) */
int fs_persist_checkpoint(struct fs *fs);
/* fs_persist_set_commit -- a new commit= interval (a remount); no-op volatile */
void fs_persist_set_commit(struct fs *fs, unsigned secs);
/* fs_persist_close -- stop the thread; if @clean, checkpoint + mark clean */
int fs_persist_close(struct fs *fs, bool clean);
struct fs_persist_stat {
	uint64_t commits, checkpoints, log_records, log_bytes_used;
	uint64_t replayed, orphans_freed;
	bool torn_tail;
	int alloc_mismatch;      /* fsck: checkpoint bitmap vs maps */
};
void fs_persist_stat(struct fs *fs, struct fs_persist_stat *st);

/*
 * check.c -- fsck of a loaded filesystem (nothing mounted). @report gets
 * one line per finding ("finding", "fixed") or remark ("note"). Returns
 * the findings left unfixed, or -ENOMEM.
 */
typedef void (*fs_check_report_fn)(void *arg, const char *kind,
				   const char *msg);
int fs_check(struct fs *fs, bool repair, fs_check_report_fn report,
	     void *arg);

/*
 * ns.c -- the namespace: names made, linked, removed and renamed, with the
 * rules of the syscalls (errnos, link counts, times, what a new inode
 * inherits), their locks (fs/LOCKING.md) and their transaction. FUSE-free:
 * for the FUSE handlers, fsck and the daemon's own namespace changes.
 * Permission checks are the kernel's (default_permissions); invalidating
 * the kernel's caches is the caller's. Each call is one transaction: call
 * with no fs lock held and no transaction open on the thread. The caller
 * keeps the inodes it passes alive across the call (a kernel reference,
 * or nothing else running). Returns: 0 or a negative errno.
 */
/*
 * fs_ns_name_check -- may @name be made or looked up in @dir? -ENOTDIR,
 * -ENOENT (empty), -ENAMETOOLONG (over FS_NAME_MAX), -EINVAL (a '/').
 */
int fs_ns_name_check(const struct fs_inode *dir, const char *name);
/*
 * fs_ns_create -- a new inode of @mode (type and permission bits) named
 * @name in @dir, owned by @o (a setgid @dir gives its group, and its bit to
 * a directory); @o->umask applies unless @dir has a default ACL, which is
 * inherited instead; so are @dir's tier and io hints. @rdev for device
 * nodes; @target for a symlink, which needs one (NULL otherwise).
 * Returns 0 and *@out with one reference (nlookup) that the caller owns:
 * a FUSE reply hands it to the kernel, any other caller drops it with
 * fs_inode_forget(fs, *out, 1). -EEXIST; -ENOENT when @dir was removed;
 * -ENAMETOOLONG (name, target); -EINVAL (type, name, target);
 * -ENOTDIR; -ENOSPC (no inode number, or no room in the pool); -ENOMEM.
 */
int fs_ns_create(struct fs *fs, struct fs_inode *dir, const char *name,
		 uint32_t mode, uint64_t rdev, const char *target,
		 const struct fs_owner *o, struct fs_inode **out);
/*
 * fs_ns_link -- a new name @name in @dir for @in (link(2)); takes no
 * reference (the caller holds one). -EPERM for a directory; -ENOENT when
 * @in has no name left or @dir was removed; -EEXIST; as create's names.
 */
int fs_ns_link(struct fs *fs, struct fs_inode *in, struct fs_inode *dir,
	       const char *name);
/*
 * fs_ns_relink -- fsck: @in, which no entry names any more, gets the name
 * @name in @dir. Unlike a link, its link count stays (it still counts the
 * lost name), and a directory may be relinked: @dir becomes its parent.
 * -ENOENT when either has no links; -EINVAL for @dir inside @in; -EEXIST.
 */
int fs_ns_relink(struct fs *fs, struct fs_inode *in, struct fs_inode *dir,
		 const char *name);
/*
 * fs_ns_unlink / fs_ns_rmdir -- remove the name @name from @dir. The inode
 * goes (fs_inode_unlinked) once nothing else holds it. unlink: -EISDIR for
 * a directory; rmdir: -ENOTDIR for anything else, -ENOTEMPTY (also for
 * ".."), -EINVAL for "."; both: -ENOENT, -ENOTDIR when @dir is not one.
 */
int fs_ns_unlink(struct fs *fs, struct fs_inode *dir, const char *name);
int fs_ns_rmdir(struct fs *fs, struct fs_inode *dir, const char *name);
/*
 * fs_ns_rename -- rename(2) and renameat2(2) with @flags RENAME_NOREPLACE
 * (-EEXIST if @nname exists) or RENAME_EXCHANGE (both must exist; they
 * swap). A replaced victim goes as an unlink would. Renaming a name onto
 * another name of the same inode does nothing. -EINVAL (other flags, both,
 * a directory into its own subtree), -ENOENT, -ENOTDIR, -EISDIR,
 * -ENOTEMPTY, as create's names for @nname; -ENOMEM.
 */
int fs_ns_rename(struct fs *fs, struct fs_inode *odir, const char *oname,
		 struct fs_inode *ndir, const char *nname, unsigned flags);

/*
 * snap.c -- directory snapshots: DIR/.snap/NAME (frozen copies of DIR's
 * tree sharing every file's chunks), rollback and writable clones. Each
 * call is one transaction holding plock exclusively: call it with no fs
 * lock held and no transaction open. @uid is the caller's: the owner of
 * the directory, or root, may take, delete and roll back its snapshots
 * (others: -EPERM). Names: -EINVAL for "", ".", "..", "/" or > 255 bytes.
 */
#define FS_SNAPDIR ".snap"
bool fs_snap_is_name(const char *name);
/* fs_snap_frozen -- no change may reach @in: a snapshot's, or a .snap */
static inline bool fs_snap_frozen(const struct fs_inode *in)
{
	return in->frozen || in->is_snapdir;
}
/*
 * fs_snap_dir -- @dir's .snap, made on first use, with a kernel reference
 * taken (as a lookup); -ENOENT inside a snapshot or a .snap.
 */
int fs_snap_dir(struct fs *fs, struct fs_inode *dir, struct fs_inode **out);
/* fs_snap_create -- snapshot @dir as @name; *@out (may be NULL) gets its
 * root with a kernel reference. -EEXIST, -ENOSPC, -ENOMEM. */
int fs_snap_create(struct fs *fs, struct fs_inode *dir, const char *name,
		   uint32_t uid, struct fs_inode **out);
/* fs_snap_delete -- free what only snapshot @name of @dir holds */
int fs_snap_delete(struct fs *fs, struct fs_inode *dir, const char *name,
		   uint32_t uid);
/*
 * fs_snap_rollback -- @dir becomes what its snapshot @name was, at once;
 * every snapshot stays. @names (may be NULL) is called with @dir's
 * entries before the change (@before) and after it, inside the
 * operation, so the caller can tell the kernel which names changed.
 */
typedef void (*fs_snap_names_fn)(void *arg, struct fs_inode *dir,
				 bool before);
int fs_snap_rollback(struct fs *fs, struct fs_inode *dir, const char *name,
		     uint32_t uid, fs_snap_names_fn names, void *arg);
/* fs_snap_clone -- a writable copy of snapshot directory @snap as
 * @parent/@name; *@out (may be NULL) with a kernel reference */
int fs_snap_clone(struct fs *fs, struct fs_inode *snap,
		  struct fs_inode *parent, const char *name, uint32_t uid,
		  struct fs_inode **out);
/*
 * fs_snap_release_dir -- @dir goes (rmdir, or replaced by a rename): its
 * .snap goes too if it holds no snapshot, else -ENOTEMPTY. In the
 * caller's transaction, @dir's ->lock exclusive.
 */
int fs_snap_release_dir(struct fs *fs, struct fs_inode *dir);
/* fs_snap_info -- a snapshot (its root @root): inodes, what deleting it
 * frees, when it was taken */
struct fs_snap_info {
	uint64_t inodes, excl_bytes;
	struct timespec created;
};
int fs_snap_info(struct fs *fs, struct fs_inode *root,
		 struct fs_snap_info *info);
/* fs_snap_stat -- snapshots, and bytes only snapshots hold */
int fs_snap_stat(struct fs *fs, uint64_t *snapshots, uint64_t *bytes);
/*
 * Schedules: fs_snap_schedule -- a snapshot of @dir every @every seconds,
 * the newest @keep kept (@every 0: no schedule); persistent. _get: the
 * current one (0, 0 for none). fs_snap_start -- the thread that takes
 * them (after the daemon forked); @notify tells the kernel that name
 * @name of directory @dir changed behind its back. fs_snap_stop -- end it.
 */
typedef void (*fs_snap_notify_fn)(void *arg, uint64_t dir, const char *name);
int fs_snap_schedule(struct fs *fs, struct fs_inode *dir, uint64_t every,
		     uint64_t keep, uint32_t uid);
int fs_snap_schedule_get(struct fs *fs, struct fs_inode *dir,
			 uint64_t *every, uint64_t *keep);
int fs_snap_start(struct fs *fs, fs_snap_notify_fn notify, void *arg);
void fs_snap_stop(struct fs *fs);
/* fs_snap_load -- after recovery: mark .snap directories and snapshots,
 * and find the schedules */
int fs_snap_load(struct fs *fs);

/* dir.c -- callers hold the directory's ->lock as noted */
int fs_dir_init(struct fs *fs, struct fs_dir *d, struct fs_inode *parent);
void fs_dir_fini(struct fs *fs, struct fs_dir *d);
/* lookup: ->lock shared */
struct fs_dirent *fs_dir_lookup(struct fs_dir *d, const char *name);
/* add/remove: ->lock exclusive. add: -EEXIST, -ENOMEM, -ENAMETOOLONG */
int fs_dir_add(struct fs *fs, struct fs_dir *d, const char *name,
	       struct fs_inode *in);
void fs_dir_remove(struct fs *fs, struct fs_dir *d, struct fs_dirent *de);
/* fs_dir_seek -- index into order[] of the first entry with seq > @cookie */
size_t fs_dir_seek(const struct fs_dir *d, uint64_t cookie);
/*
 * fs_dir_end -- where a listing that starts now ends: every entry added
 * from now on, created or renamed in, gets a cookie at or past it, so a
 * listing that stops there ends however many renames go on (as Linux's
 * offset directories, tmpfs). ->lock shared.
 */
static inline uint64_t fs_dir_end(const struct fs_dir *d)
{
	return d->next_seq;
}
/*
 * fs_dir_next -- the next live entry of a listing ending at @end (from
 * fs_dir_end), from index *@i on (start at fs_dir_seek), or NULL when the
 * listing is over; *@i moves past it. ->lock shared.
 */
struct fs_dirent *fs_dir_next(const struct fs_dir *d, size_t *i,
			      uint64_t end);

/*
 * fs_dir_last -- the newest entry of @d, or NULL if it is empty: removing
 * entries newest first never leaves holes to step over (drop_entries).
 */
struct fs_dirent *fs_dir_last(const struct fs_dir *d);
static inline bool fs_dir_empty(const struct fs_dir *d)
{
	return d->live == 0;
}

/* xattr.c -- ->lock exclusive for set/remove, shared for get/list */
int fs_xattr_set(struct fs *fs, struct fs_inode *in, const char *name,
		 const void *value, size_t size, int flags);
/* get: returns the value size; copies it when @size is large enough */
int fs_xattr_get(struct fs_inode *in, const char *name, void *buf,
		 size_t size);
/* list: @trusted = the caller may see trusted.* names */
int fs_xattr_list(struct fs_inode *in, char *buf, size_t size, bool trusted);
/* 0, -EINVAL (empty suffix) or -EOPNOTSUPP (unserved namespace) */
int fs_xattr_name_check(const char *name);
int fs_xattr_remove(struct fs *fs, struct fs_inode *in, const char *name);
void fs_xattr_free_all(struct fs *fs, struct fs_inode *in);
/* fs_xattr_peek -- the stored value of @name, for in-place edits, or NULL */
void *fs_xattr_peek(struct fs_inode *in, const char *name, size_t *size);

/* acl.c -- POSIX ACLs in the kernel's xattr format; ->lock as for xattrs */
/* fs_acl_mode -- mode bits an access ACL stands for; *equiv: no ACL needed */
int fs_acl_mode(const void *value, size_t size, uint32_t *perm, bool *equiv);
/* fs_acl_chmod_value -- rewrite an access ACL in place after a chmod */
void fs_acl_chmod_value(void *value, size_t size, uint32_t mode);
/*
 * fs_acl_inherit -- give a new @child its ACLs from @parent's default ACL
 * and cut child->perm to it; without a default ACL apply @umask instead.
 * Parent ->lock held; the child is not reachable yet.
 */
int fs_acl_inherit(struct fs *fs, struct fs_inode *parent,
		   struct fs_inode *child, uint32_t umask);

/*
 * priv.c -- the setuid/setgid rule of current Linux, pure (no locks).
 * A caller: fsuid, fsgid and supplementary groups (@groups may be NULL
 * with @ngroups 0 when fs_priv_needs_groups() said they do not matter).
 */
struct fs_caller {
	uint32_t uid, gid;
	const uint32_t *groups;
	int ngroups;
};

enum fs_priv_op {
	FS_PRIV_MODIFY, /* write, truncate, fallocate, copy_file_range dest */
	FS_PRIV_CHOWN,  /* chown or chgrp, judged on the old owner and mode */
	FS_PRIV_CHMOD,  /* a chmod or an access ACL set: the mode it sets */
};

/* fs_caller_in_group -- in_group_p(): @gid is c's fsgid or supplementary */
bool fs_caller_in_group(const struct fs_caller *c, uint32_t gid);
/* fs_priv_needs_groups -- would fs_priv_kill() look at c->groups? */
bool fs_priv_needs_groups(uint32_t mode, uint32_t gid,
			  const struct fs_caller *c);
/*
 * fs_priv_kill -- the bits of S_ISUID|S_ISGID that @op by @c drops from a
 * file of @mode (type and permission bits) and group @gid.
 * Returns: the bits to clear, 0 for none.
 */
uint32_t fs_priv_kill(uint32_t mode, uint32_t gid, enum fs_priv_op op,
		      const struct fs_caller *c);

/*
 * tier hints (data.c): fs_hint_parse -- the hint a user.mmfs.tier value
 * names, or -EINVAL; fs_hint_apply -- pin (or release) every chunk of a
 * file as in->hint says (->lock held); fs_residency / fs_heat -- the
 * virtual xattrs' text (->lock shared): returns its length.
 */
int fs_hint_parse(const void *value, size_t size);
/* fs_io_parse -- user.mmfs.io: 1 "direct", 0 "cached", or -EINVAL */
int fs_io_parse(const void *value, size_t size);
void fs_hint_apply(struct fs *fs, struct fs_inode *in);
int fs_residency(struct fs *fs, struct fs_inode *in, char *buf, size_t len);
int fs_heat(struct fs *fs, struct fs_inode *in, char *buf, size_t len);

/* data.c -- regular file data; callers hold ->lock as noted */
/*
 * fs_data_read_iov -- iovecs that cover [off, off+len) straight out of chunk
 * memory (holes from the zero chunk). ->lock shared, kept until the iovecs
 * are consumed. Returns the number of iovecs (<= @max) and sets *bytes.
 */
int fs_data_read_iov(struct fs *fs, struct fs_inode *in, uint64_t off,
		     size_t len, struct iovec *iov, int max, size_t *bytes);
/*
 * fs_data_write_iov -- make [off, off+len) writable and return the chunk
 * memory to copy into. ->lock exclusive. On -ENOSPC part-way, the prefix
 * that could be allocated is returned (a short write); -ENOSPC only when
 * not a byte fits. The caller then calls fs_data_write_done.
 */
int fs_data_write_iov(struct fs *fs, struct fs_inode *in, uint64_t off,
		      size_t len, struct iovec *iov, int max, size_t *bytes);
void fs_data_write_done(struct fs *fs, struct fs_inode *in, uint64_t off,
			size_t written);
/* ->lock exclusive */
int fs_data_truncate(struct fs *fs, struct fs_inode *in, uint64_t size);
int fs_data_fallocate(struct fs *fs, struct fs_inode *in, int mode,
		      uint64_t off, uint64_t len);
/* ->lock shared. SEEK_DATA / SEEK_HOLE */
int64_t fs_data_seek(struct fs *fs, struct fs_inode *in, int64_t off,
		     int whence);
/*
 * fs_data_copy -- copy_file_range: dst's [doff, doff+len) becomes src's
 * [soff, ...), clipped at src's EOF. Where the offsets agree within a
 * chunk, whole chunks are shared (a reflink) and only unaligned edges are
 * copied; otherwise bytes are copied. Returns the bytes done, which may be
 * short (at most FS_COPY_SHARE_MAX shared, FS_COPY_BYTES_MAX copied, so
 * that one request holds its locks briefly; the kernel's caller loops), or
 * -errno when nothing was done. Both files locked by the caller, dst's
 * exclusively.
 */
#define FS_COPY_SHARE_MAX (1ULL << 30) /* chunk-aligned, fits the u32 reply */
#define FS_COPY_BYTES_MAX (16ULL << 20)
int64_t fs_data_copy(struct fs *fs, struct fs_inode *src, uint64_t soff,
		     struct fs_inode *dst, uint64_t doff, size_t len);
/* Largest number of iovecs one request of @len bytes may need. */
int fs_data_iov_max(const struct fs *fs, size_t len);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuse_ops.c -- the FUSE low-level request handlers: decode a request,
 * call the FUSE-free fs/ modules under the right locks, reply. Errors are
 * negative errnos everywhere else; the sign flips here, once.
 *
 * Locks are never held across fuse_reply_*() with one deliberate
 * exception: a read replies straight from chunk memory (no bounce buffer),
 * so the file's ->lock stays shared until the kernel has copied the bytes;
 * that write to /dev/fuse never waits on this filesystem.
 */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fs/fs_i.h"
#include "fs/fuse_ops.h"
#include "fs/mntopt.h"
#include "fs/mmfs_ioctl.h"
#include "utils/err.h"
#include "utils/log.h"

/*
 * Every change reaches this daemon through the kernel, so the kernel's
 * caches of names and attributes cannot go stale behind its back: cache
 * them for long. (Changes the daemon makes on its own, such as a future
 * snapshot rollback, must invalidate explicitly.)
 */
#define CACHE_TIMEOUT 86400.0
#define IOV_STACK 64
#define READDIR_MAX (1u << 20) /* the kernel asks for a page or a few */

/* The mounted session, for notifications the daemon sends on its own. */
static struct fuse_session *mmfs_session;

void mmfs_fuse_set_session(struct fuse_session *se)
{
	mmfs_session = se;
}

/* Who answers MMFS_IOC_REMOUNT (set once, before serving). */
static mmfs_fuse_remount_fn mmfs_remount;

void mmfs_fuse_set_remount(mmfs_fuse_remount_fn fn)
{
	mmfs_remount = fn;
}

void mmfs_fuse_inval_entry(void *arg, uint64_t dir, const char *name)
{
	(void)arg;
	if (mmfs_session) {
		fuse_lowlevel_notify_inval_entry(mmfs_session, dir, name,
						 strlen(name));
		fuse_lowlevel_notify_inval_inode(mmfs_session, dir, -1, 0);
	}
}

int mmfs_fuse_inval(void *arg, uint64_t ino, uint64_t off, uint64_t len)
{
	(void)arg;
	if (!mmfs_session)
		return -ENOTCONN;
	return fuse_lowlevel_notify_inval_inode(mmfs_session, ino, (off_t)off,
						(off_t)len);
}

static inline struct fs *req_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void reply_err(fuse_req_t req, int rc)
{
	fuse_reply_err(req, -rc);
}

/* inode_of -- (internal) the inode the kernel names, or NULL */
static struct fs_inode *inode_of(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_inode *in = fs_inode_get(req_fs(req), ino);

	if (!in)
		fuse_reply_err(req, ESTALE);
	return in;
}

static void fill_entry(struct fs *fs, struct fs_inode *in,
		       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = in->ino;
	e->generation = in->gen;
	e->attr_timeout = CACHE_TIMEOUT;
	e->entry_timeout = CACHE_TIMEOUT;
	fs_inode_stat(fs, in, &e->attr);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	const struct fs *fs = userdata;
	/*
	 * POSIX_ACL: the kernel enforces and caches ACLs (acl.c keeps mode
	 * and ACL in step). DONT_MASK: the umask reaches us unapplied,
	 * because a directory's default ACL replaces it.
	 */
	unsigned want = FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO |
			FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_EXPORT_SUPPORT |
			FUSE_CAP_IOCTL_DIR | FUSE_CAP_CACHE_SYMLINKS |
			FUSE_CAP_ASYNC_DIO | FUSE_CAP_ASYNC_READ |
			FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;

	if (fs->writeback)
		want |= FUSE_CAP_WRITEBACK_CACHE;
	conn->want |= want & conn->capable;
	/* Nothing else changes our files: mtime changes must not drop cache */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/*
	 * O_TRUNC as a separate SETATTR: the kernel then applies its whole
	 * truncate logic (times, killing setuid) and we have one truncate path.
	 */
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	/*
	 * libfuse does not ask for splice by default. It also needs a pipe of
	 * 1 MiB + a header, beyond fs.pipe-max-size without CAP_SYS_RESOURCE,
	 * and then quietly reads instead: see fs/README.md.
	 */
	if (fs->splice_read && (conn->capable & FUSE_CAP_SPLICE_READ))
		conn->want |= FUSE_CAP_SPLICE_READ;
	else
		conn->want &= ~(unsigned)FUSE_CAP_SPLICE_READ;
	/* 1 MiB replies cannot go through a 1 MiB pipe: reply with writev. */
	conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
	conn->time_gran = 1;
}

/*
 * lookup_self -- (internal) LOOKUP(ino, "."): how the kernel resolves a
 * file handle (name_to_handle_at, NFS export) whose inode it no longer
 * caches, for any file type. The number comes from user space, and the
 * inode may be gone or the number reused: the kernel compares our
 * generation with the handle's and drops (FORGETs) a mismatch itself.
 */
static void lookup_self(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = req_fs(req);
	struct fs_inode *in = fs_inode_get_linked(fs, ino);
	struct fuse_entry_param e;

	if (!in)
		return reply_err(req, -ESTALE); /* freed, or unlinked */
	fill_entry(fs, in, &e);
	fuse_reply_entry(req, &e);
}

/*
 * lookup_parent -- (internal) LOOKUP(dir, ".."): the kernel reconnecting a
 * directory's handle to the tree (fuse_get_parent). rename_lock keeps
 * ->dir.parent still (reparent changes it under rename_lock, not under
 * the child's lock); the parent lives while the child is linked in it,
 * and an rmdir of the child waits on its ->lock.
 */
static void lookup_parent(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = req_fs(req);
	struct fs_inode *d = inode_of(req, ino), *p = NULL;
	struct fuse_entry_param e;

	if (!d)
		return;
	if (!S_ISDIR(d->mode))
		return reply_err(req, -ENOTDIR);
	pthread_mutex_lock(&fs->rename_lock);
	pthread_rwlock_rdlock(&d->lock);
	if (atomic_load(&d->nlink) != 0) {
		p = d->dir.parent ? d->dir.parent : d;
		fs_inode_ref(p);
		fill_entry(fs, p, &e);
	}
	pthread_rwlock_unlock(&d->lock);
	pthread_mutex_unlock(&fs->rename_lock);
	if (!p)
		return reply_err(req, -ESTALE); /* removed: no parent */
	fuse_reply_entry(req, &e);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = req_fs(req);
	struct fs_inode *p, *in = NULL;
	struct fuse_entry_param e;
	struct fs_dirent *de;
	int rc;

	/* The VFS resolves "." and ".." itself: these come from export ops. */
	if (strcmp(name, ".") == 0)
		return lookup_self(req, parent);
	if (strcmp(name, "..") == 0)
		return lookup_parent(req, parent);
	p = inode_of(req, parent);
	if (!p)
		return;
	rc = fs_ns_name_check(p, name);
	if (rc < 0)
		return reply_err(req, rc);
	if (fs_snap_is_name(name)) {
		rc = fs_snap_dir(fs, p, &in);
		if (rc < 0)
			return reply_err(req, rc);
		fill_entry(fs, in, &e); /* the reply hands our reference over */
		return (void)fuse_reply_entry(req, &e);
	}
	pthread_rwlock_rdlock(&p->lock);
	de = fs_dir_lookup(&p->dir, name);
	in = de ? de->inode : NULL;
	if (in) {
		fs_inode_ref(in);
		fill_entry(fs, in, &e);
	}
	pthread_rwlock_unlock(&p->lock);
	if (!in) {
		/* Negative entry: cached, since creates come through us. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = CACHE_TIMEOUT;
	}
	fuse_reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs_inode *in = fs_inode_get(req_fs(req), ino);

	if (in)
		fs_inode_forget(req_fs(req), in, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct fs *fs = req_fs(req);
	size_t i;

	for (i = 0; i < count; i++) {
		struct fs_inode *in = fs_inode_get(fs, forgets[i].ino);

		if (in)
			fs_inode_forget(fs, in, forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs_inode *in = inode_of(req, ino);
	struct stat st;

	if (!in)
		return;
	fs_inode_stat(req_fs(req), in, &st);
	fuse_reply_attr(req, &st, CACHE_TIMEOUT);
}

/*
 * Dropping setuid/setgid (fs/priv.c has the rule and says why the daemon
 * applies it): the caller is the request's fsuid and fsgid, and its
 * supplementary groups when the rule needs them, which fuse_req_getgroups
 * reads from /proc (one file read, so only then).
 */
#define CALLER_GROUPS 32

struct caller {
	struct fs_caller c;
	gid_t stack[CALLER_GROUPS];
	gid_t *heap;
};

_Static_assert(sizeof(gid_t) == sizeof(uint32_t), "fs_caller groups");

/*
 * caller_get -- (internal) who sent @req, with groups if a file of @mode
 * and @gid needs them; caller_put frees them. If the groups cannot be
 * read (the caller is gone), only its fsgid counts.
 */
static void caller_get(fuse_req_t req, uint32_t mode, uint32_t gid,
		       struct caller *cr)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int n;

	cr->c = (struct fs_caller){ .uid = ctx->uid, .gid = ctx->gid };
	cr->heap = NULL;
	if (!fs_priv_needs_groups(mode, gid, &cr->c))
		return;
	n = fuse_req_getgroups(req, CALLER_GROUPS, cr->stack);
	if (n > CALLER_GROUPS) {
		cr->heap = malloc((size_t)n * sizeof(gid_t));
		if (cr->heap)
			n = MMFS_MIN(n, fuse_req_getgroups(req, n, cr->heap));
		else
			n = CALLER_GROUPS; /* the first ones, better than none */
	}
	cr->c.groups = cr->heap ? cr->heap : cr->stack;
	cr->c.ngroups = n < 0 ? 0 : n;
}

static void caller_put(struct caller *cr)
{
	free(cr->heap);
}

/* inval_mode -- (internal) the kernel decides setuid exec from its cache */
static void inval_mode(struct fs_inode *in)
{
	if (mmfs_session)
		fuse_lowlevel_notify_inval_inode(mmfs_session, in->ino, -1, 0);
}

/*
 * priv_drop -- (internal) after @op on @in by the sender of @req, clear
 * what fs_priv_kill says (inside the request's transaction: it logs the
 * new mode) and invalidate the kernel's cached mode. The kernel has
 * cleared what its own, older rule clears already, except after a
 * FOPEN_DIRECT_IO write and an ACL change.
 */
static void priv_drop(fuse_req_t req, struct fs_inode *in,
		      enum fs_priv_op op)
{
	uint32_t perm = __atomic_load_n(&in->perm, __ATOMIC_RELAXED);
	struct caller cr;
	uint32_t kill;

	if (!(perm & (S_ISUID | S_ISGID)))
		return;
	caller_get(req, in->mode | perm, in->gid, &cr);
	pthread_mutex_lock(&in->alock);
	kill = fs_priv_kill(in->mode | in->perm, in->gid, op, &cr.c);
	if (kill) {
		in->perm &= ~kill;
		fs_now(&in->ctime);
	}
	pthread_mutex_unlock(&in->alock);
	caller_put(&cr);
	if (!kill)
		return;
	fs_txn_dirty(in);
	inval_mode(in);
}

static void set_time(struct timespec *dst, const struct timespec *src,
		     bool now, const struct timespec *t_now)
{
	*dst = now ? *t_now : *src;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int valid, struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct fs_inode *in = inode_of(req, ino);
	bool chown = valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID);
	bool trunc = valid & FUSE_SET_ATTR_SIZE;
	bool chmod = valid & FUSE_SET_ATTR_MODE;
	/*
	 * Nothing to set: what is left of the kernel's file_remove_privs
	 * once its FUSE client has applied its own rule (fs/priv.c). With
	 * -o writeback it is the only sign of a write that the writer sends
	 * (the WRITE comes later, from writeback, without its credentials).
	 */
	bool killreq = !(valid & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
				  FUSE_SET_ATTR_GID | FUSE_SET_ATTR_SIZE |
				  FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
				  FUSE_SET_ATTR_CTIME));
	bool priv = trunc || chown || chmod || killreq;
	uint32_t kill = 0;
	struct timespec now;
	struct caller cr;
	struct fs_txn tx;
	struct stat st;
	int rc = 0;

	if (!in)
		return;
	if (fs_snap_frozen(in))
		return reply_err(req, -EROFS); /* a snapshot */
	if (valid & FUSE_SET_ATTR_SIZE) {
		if (S_ISDIR(in->mode))
			return reply_err(req, -EISDIR);
		if (!S_ISREG(in->mode))
			return reply_err(req, -EINVAL);
		if (attr->st_size < 0)
			return reply_err(req, -EINVAL);
	}
	fs_txn_begin(fs, &tx);
	if (valid & FUSE_SET_ATTR_SIZE) {
		mmfs_tier_io_begin(fs->tier);
		pthread_rwlock_wrlock(&in->lock);
		rc = fs_data_truncate(fs, in, (uint64_t)attr->st_size);
		fs_txn_commit(&tx);
		pthread_rwlock_unlock(&in->lock);
		mmfs_tier_io_end(fs->tier);
		if (rc < 0) {
			fs_txn_end(&tx);
			return reply_err(req, rc);
		}
	}
	if (valid & FUSE_SET_ATTR_MODE) {
		size_t size;
		void *acl;

		/* chmod rewrites the access ACL too (posix_acl_chmod). */
		pthread_rwlock_wrlock(&in->lock);
		acl = fs_xattr_peek(in, FS_ACL_ACCESS, &size);
		if (acl) {
			fs_acl_chmod_value(acl, size, attr->st_mode & 0777);
			fs_txn_rec_xattr(in, FS_ACL_ACCESS, acl, size, true);
			fs_txn_commit(&tx);
		}
		pthread_rwlock_unlock(&in->lock);
	}
	/*
	 * A truncate and a chown drop setuid/setgid, judged on the mode and
	 * group from before this request: a mode in it may be the kernel's
	 * own, older rule already applied (fs/priv.c), and is judged as a
	 * chmod (the kernel strips setgid from a real chmod by a caller
	 * outside the group before it gets here, not from its kill).
	 */
	if (priv)
		caller_get(req, in->mode | __atomic_load_n(&in->perm,
							  __ATOMIC_RELAXED),
			   __atomic_load_n(&in->gid, __ATOMIC_RELAXED), &cr);
	fs_now(&now);
	pthread_mutex_lock(&in->alock);
	if (trunc || killreq)
		kill |= fs_priv_kill(in->mode | in->perm, in->gid,
				     FS_PRIV_MODIFY, &cr.c);
	if (chown)
		kill |= fs_priv_kill(in->mode | in->perm, in->gid,
				     FS_PRIV_CHOWN, &cr.c);
	if (valid & FUSE_SET_ATTR_MODE)
		in->perm = attr->st_mode & 07777;
	if (valid & FUSE_SET_ATTR_UID)
		in->uid = attr->st_uid;
	if (valid & FUSE_SET_ATTR_GID)
		in->gid = attr->st_gid;
	if (chmod)
		kill |= fs_priv_kill(in->mode | in->perm, in->gid,
				     FS_PRIV_CHMOD, &cr.c);
	in->perm &= ~kill;
	if (valid & FUSE_SET_ATTR_ATIME)
		set_time(&in->atime, &attr->st_atim,
			 valid & FUSE_SET_ATTR_ATIME_NOW, &now);
	if (valid & FUSE_SET_ATTR_MTIME)
		set_time(&in->mtime, &attr->st_mtim,
			 valid & FUSE_SET_ATTR_MTIME_NOW, &now);
	/*
	 * The kernel leaves mtime out of the SETATTR of open(O_TRUNC) and
	 * ftruncate(): the server updates times on every truncate. (Only a
	 * truncate(2) to the same size then differs from tmpfs: FUSE does not
	 * tell it apart from O_TRUNC.)
	 */
	if ((valid & FUSE_SET_ATTR_SIZE) && !(valid & FUSE_SET_ATTR_MTIME))
		in->mtime = now;
	if (valid & FUSE_SET_ATTR_CTIME)
		in->ctime = attr->st_ctim;
	else
		in->ctime = now;
	pthread_mutex_unlock(&in->alock);
	if (priv)
		caller_put(&cr);
	fs_txn_dirty(in);
	fs_txn_end(&tx);
	fs_inode_stat(fs, in, &st); /* the reply refreshes the kernel's mode */
	fuse_reply_attr(req, &st, CACHE_TIMEOUT);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_inode *in = inode_of(req, ino);

	if (!in)
		return;
	if (!S_ISLNK(in->mode))
		return reply_err(req, -EINVAL);
	fuse_reply_readlink(req, in->target);
}

/*
 * open_flags -- (internal) how the kernel should cache an open file.
 * Only the kernel changes our files, so its page cache stays valid across
 * opens (keep_cache). The open needs no flush: close has nothing to make
 * durable.
 *
 * An O_DIRECT open is a cached open: the kernel's own O_DIRECT path
 * (->direct_IO) then sends every read and write to the daemon, as
 * FOPEN_DIRECT_IO would, but writes back and invalidates the page cache
 * around each one, so that buffered reads, other opens and mappings see
 * every direct write, and a shared mmap of the file works (the kernel
 * refuses one on FOPEN_DIRECT_IO with ENODEV unless
 * FUSE_DIRECT_IO_ALLOW_MMAP is negotiated, which libfuse 3.14 cannot).
 * The price: before each write the kernel asks for security.capability
 * (GETXATTR), a second round trip, which only FUSE_HANDLE_KILLPRIV_V2
 * (SB_NOSEC; libfuse 3.16) would spare; benchmarks/README.md measures it.
 */
static void open_flags(struct fs *fs, struct fs_inode *in,
		       struct fuse_file_info *fi)
{
	fi->keep_cache = 1;
	fi->noflush = 1;
	/*
	 * Uncached (FOPEN_DIRECT_IO) when the mount says direct_io or the
	 * file says user.mmfs.io=direct: applications with their own cache,
	 * whose every access, buffered ones included, the tiering engine
	 * should see (DESIGN.md, Tiering). There the kernel refuses shared
	 * mappings (ENODEV); private ones work.
	 */
	if (atomic_load(&fs->direct_io) || in->io_direct)
		fi->direct_io = 1;
	else if (!(fi->flags & O_DIRECT))
		fs_sample_hold(fs, in); /* its cached heat is sampled */
}

/*
 * make_node -- (internal) MKNOD, MKDIR, SYMLINK and CREATE: fs_ns_create
 * as the sender, whose umask reaches us unapplied (FUSE_CAP_DONT_MASK).
 * The kernel has checked write and search permission on the parent
 * (default_permissions).
 */
static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev, const char *target,
		      struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fs_owner owner = { ctx->uid, ctx->gid, ctx->umask };
	struct fs_inode *p = inode_of(req, parent);
	struct fuse_entry_param e;
	struct fs_inode *in;
	int rc;

	if (!p)
		return;
	rc = fs_ns_create(fs, p, name, mode, rdev, target, &owner, &in);
	if (rc < 0)
		return reply_err(req, rc);
	fill_entry(fs, in, &e); /* the reply hands our reference over */
	if (fi) {
		atomic_fetch_add(&in->opens, 1); /* new: cannot be gone */
		open_flags(fs, in, fi);
		if (fuse_reply_create(req, &e, fi) == -ENOENT)
			fs_inode_close(fs, in);
	} else {
		fuse_reply_entry(req, &e);
	}
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFIFO: case S_IFSOCK: case S_IFCHR: case S_IFBLK:
		break;
	default:
		return reply_err(req, -EINVAL);
	}
	make_node(req, parent, name, mode, rdev, NULL, NULL);
}

/* snap_mkdir -- (internal) mkdir DIR/.snap/NAME: a snapshot of DIR */
static void snap_mkdir(fuse_req_t req, struct fs_inode *sd, const char *name)
{
	struct fs *fs = req_fs(req);
	struct fuse_entry_param e;
	struct fs_inode *root;
	int rc;

	rc = fs_snap_create(fs, sd->dir.parent, name, fuse_req_ctx(req)->uid,
			    &root);
	if (rc < 0)
		return reply_err(req, rc);
	fill_entry(fs, root, &e); /* the reply hands our reference over */
	fuse_reply_entry(req, &e);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct fs_inode *p = fs_inode_get(req_fs(req), parent);

	if (p && p->is_snapdir)
		return snap_mkdir(req, p, name);
	make_node(req, parent, name, S_IFDIR | (mode & 07777), 0, NULL, NULL);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	make_node(req, parent, name, S_IFLNK | 0777, 0, link, NULL);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	make_node(req, parent, name, S_IFREG | (mode & 07777), 0, NULL, fi);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_inode *p = inode_of(req, parent);

	if (p)
		reply_err(req, fs_ns_unlink(req_fs(req), p, name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_inode *p = inode_of(req, parent);

	if (!p)
		return;
	/* rmdir DIR/.snap/NAME deletes the snapshot */
	if (p->is_snapdir)
		return reply_err(req, fs_snap_delete(req_fs(req), p->dir.parent,
						     name,
						     fuse_req_ctx(req)->uid));
	reply_err(req, fs_ns_rmdir(req_fs(req), p, name));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct fs_inode *p1 = inode_of(req, parent), *p2;

	if (!p1 || !(p2 = inode_of(req, newparent)))
		return;
	reply_err(req, fs_ns_rename(req_fs(req), p1, name, p2, newname,
				    flags));
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct fs *fs = req_fs(req);
	struct fs_inode *in = inode_of(req, ino), *p;
	struct fuse_entry_param e;
	int rc;

	if (!in || !(p = inode_of(req, newparent)))
		return;
	rc = fs_ns_link(fs, in, p, newname);
	if (rc < 0)
		return reply_err(req, rc);
	fs_inode_ref(in); /* the new entry's, for the kernel */
	fill_entry(fs, in, &e);
	fuse_reply_entry(req, &e);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_inode *in = inode_of(req, ino);

	if (!in)
		return;
	if (fs_snap_frozen(in) && ((fi->flags & O_ACCMODE) != O_RDONLY ||
				   (fi->flags & O_TRUNC)))
		return reply_err(req, -EROFS); /* a snapshot */
	if (S_ISDIR(in->mode))
		return reply_err(req, -EISDIR);
	if (S_ISREG(in->mode)) {
		int rc = fs_inode_open(in);

		if (rc < 0)
			return reply_err(req, rc);
	}
	open_flags(req_fs(req), in, fi);
	if (fuse_reply_open(req, fi) == -ENOENT && S_ISREG(in->mode))
		fs_inode_close(req_fs(req), in); /* the opener was interrupted */
}

/*
 * read_atime -- (internal) a read sets atime as the mount says (noatime,
 * relatime, strictatime): FUSE inodes are S_NOATIME, the kernel leaves it
 * to us.
 */
static void read_atime(struct fs *fs, struct fs_inode *in)
{
	enum fs_atime policy = (enum fs_atime)atomic_load(&fs->atime);
	struct timespec now;

	/* A snapshot is frozen: reading it changes nothing, atime included */
	if (policy == FS_ATIME_NOATIME || fs_snap_frozen(in))
		return;
	fs_now(&now);
	pthread_mutex_lock(&in->alock);
	if (fs_atime_due(policy, &in->atime, &in->mtime, &in->ctime, &now))
		in->atime = now;
	pthread_mutex_unlock(&in->alock);
}

/*
 * null_read_iov / null_write -- (internal) the null_io baseline: the FUSE
 * round trip and the kernel's copies without the tiers, so that a
 * benchmark can tell FUSE's cost from mmfs's own. Sizes are kept, data is
 * not: reads return zeros.
 */
static int null_read_iov(struct fs *fs, struct fs_inode *in, uint64_t off,
			 size_t len, struct iovec *iov, int max)
{
	const char *zero = mmfs_tier_zero(fs->tier);
	uint64_t end = off < in->size ? MMFS_MIN(in->size, off + len) : off;
	int n = 0;

	for (; off < end && n < max; n++) {
		size_t take = MMFS_MIN((uint64_t)fs->chunk_size, end - off);

		iov[n].iov_base = (void *)zero;
		iov[n].iov_len = take;
		off += take;
	}
	return n;
}

static ssize_t null_write(struct fs *fs, struct fs_inode *in,
			  struct fuse_bufvec *src, uint64_t off)
{
	size_t len = fuse_buf_size(src);

	/* A payload still in a pipe would be left there: splice is off. */
	pthread_rwlock_wrlock(&in->lock);
	pthread_mutex_lock(&in->alock);
	if (off + len > in->size)
		in->size = off + len;
	fs_now(&in->mtime);
	in->ctime = in->mtime;
	pthread_mutex_unlock(&in->alock);
	pthread_rwlock_unlock(&in->lock);
	return (ssize_t)len;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct fs_inode *in = inode_of(req, ino);
	struct iovec stack[IOV_STACK], *iov = stack;
	int max = fs_data_iov_max(fs, size);
	size_t bytes;
	int n;

	if (!in)
		return;
	if (off < 0)
		return reply_err(req, -EINVAL);
	if (max > IOV_STACK) {
		iov = malloc((size_t)max * sizeof(*iov));
		if (!iov)
			return reply_err(req, -ENOMEM);
	}
	/*
	 * atime before the reply: once the kernel has its data, the file may
	 * be closed, unlinked and forgotten, and the inode gone.
	 */
	read_atime(fs, in);
	mmfs_tier_io_begin(fs->tier); /* no chunk moves until the reply */
	pthread_rwlock_rdlock(&in->lock);
	if (fs->null_io)
		n = null_read_iov(fs, in, (uint64_t)off, size, iov, max);
	else
		n = fs_data_read_iov(fs, in, (uint64_t)off, size, iov, max,
				     &bytes);
	fuse_reply_iov(req, iov, n);
	pthread_rwlock_unlock(&in->lock);
	mmfs_tier_io_end(fs->tier);
	if (iov != stack)
		free(iov);
}

static void op_write_buf(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_bufvec *src, off_t off,
			 struct fuse_file_info *fi)
{
	struct fs *fs = req_fs(req);
	struct fs_inode *in = inode_of(req, ino);
	size_t len = fuse_buf_size(src);
	int max = fs_data_iov_max(fs, len);
	struct {
		struct fuse_bufvec v;
		struct fuse_buf more[IOV_STACK];
	} stack;
	struct fuse_bufvec *dst = &stack.v;
	struct iovec iovs[IOV_STACK + 1], *iov = iovs;
	struct fs_txn tx;
	bool retried = false;
	size_t bytes;
	ssize_t copied;
	int n, i;

	if (!in)
		return;
	if (fs_snap_frozen(in))
		return reply_err(req, -EROFS);
	if (off < 0)
		return reply_err(req, -EINVAL);
	if (fs->null_io) {
		fuse_reply_write(req, (size_t)null_write(fs, in, src,
							 (uint64_t)off));
		return;
	}
	if (max > IOV_STACK) {
		dst = calloc(1, sizeof(*dst) + (size_t)max * sizeof(dst->buf[0]));
		iov = malloc((size_t)max * sizeof(*iov));
		if (!dst || !iov) {
			n = -ENOMEM;
			goto out_free;
		}
	}
retry:
	fs_txn_begin(fs, &tx);
	mmfs_tier_io_begin(fs->tier);
	pthread_rwlock_wrlock(&in->lock);
	n = fs_data_write_iov(fs, in, (uint64_t)off, len, iov, max, &bytes);
	if (n < 0) {
		pthread_rwlock_unlock(&in->lock);
		mmfs_tier_io_end(fs->tier);
		fs_txn_end(&tx);
		if (n == -ENOSPC && !retried && fs_persist_reclaim(fs)) {
			retried = true;
			goto retry;
		}
		goto out_free;
	}
	*dst = (struct fuse_bufvec)FUSE_BUFVEC_INIT(0);
	dst->count = (size_t)n;
	for (i = 0; i < n; i++)
		dst->buf[i] = (struct fuse_buf){
			.size = iov[i].iov_len, .mem = iov[i].iov_base,
		};
	/* The one copy: kernel buffer (or pipe) into chunk memory. */
	copied = fuse_buf_copy(dst, src, 0);
	if (copied > 0)
		fs_data_write_done(fs, in, (uint64_t)off, (size_t)copied);
	fs_txn_commit(&tx);
	pthread_rwlock_unlock(&in->lock);
	mmfs_tier_io_end(fs->tier);
	if (copied < 0) {
		fs_txn_end(&tx);
		n = (int)copied;
	} else {
		/* Before the reply: it frees the request, and the writer
		 * must find the bits gone when write() returns. */
		if (copied > 0)
			priv_drop(req, in, FS_PRIV_MODIFY);
		fs_txn_end(&tx);
		fuse_reply_write(req, (size_t)copied);
	}
out_free:
	if (dst != &stack.v)
		free(dst);
	if (iov != iovs)
		free(iov);
	if (n < 0)
		reply_err(req, n);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs_inode *in = fs_inode_get(req_fs(req), ino);

	if (in && S_ISREG(in->mode))
		fs_inode_close(req_fs(req), in);
	fuse_reply_err(req, 0);
}

/*
 * fsync and fdatasync: every dirty chunk reaches PMEM, then every metadata
 * change staged so far (fs/README.md: stronger than ext4, as ext3's
 * ordered mode). Nothing to do on a volatile mount.
 */
static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	if (inode_of(req, ino))
		reply_err(req, fs_persist_sync(req_fs(req)));
}

/*
 * One open directory (fi->fh): where its current listing ends. Set at
 * opendir and again at every readdir from offset 0 (rewinddir), so an
 * entry created or renamed in during a listing is not in it, and a
 * listing ends whatever renames go on. Only the kernel's readdir of this
 * open file touches it, and the kernel serializes those per open file.
 */
struct dir_handle {
	uint64_t end;            /* fs_dir_end when the listing began */
};

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs_inode *in = inode_of(req, ino);
	struct dir_handle *h;

	if (!in)
		return;
	if (!S_ISDIR(in->mode))
		return reply_err(req, -ENOTDIR);
	h = malloc(sizeof(*h));
	if (!h)
		return reply_err(req, -ENOMEM);
	pthread_rwlock_rdlock(&in->lock);
	h->end = fs_dir_end(&in->dir);
	pthread_rwlock_unlock(&in->lock);
	fi->fh = (uintptr_t)h;
	/*
	 * No cache_readdir: the kernel's listing cache can keep a listing
	 * from before a rename. A reply in flight is added to the cache
	 * once it arrives, and a second opener starting the cache in the
	 * meantime stamps it with the directory's version after the
	 * rename, so the stale listing passes every later check until the
	 * directory changes again (fs/README.md). Listings are cheap here.
	 */
	if (fuse_reply_open(req, fi) == -ENOENT)
		free(h); /* interrupted: no releasedir will come */
}

/*
 * listing_end -- (internal) where the listing that reads from @off ends.
 * Offset 0 starts a new one. An offset at or past the end cannot come
 * from this listing (its cookies are below its end): a cookie kept from
 * elsewhere, so resume there with the directory as it is now.
 */
static uint64_t listing_end(struct fs_inode *d, struct fuse_file_info *fi,
			    off_t off)
{
	struct dir_handle *h = (struct dir_handle *)(uintptr_t)fi->fh;

	if (!h)
		return fs_dir_end(&d->dir);
	if (off == 0 || (uint64_t)off >= h->end)
		h->end = fs_dir_end(&d->dir);
	return h->end;
}

/*
 * do_readdir -- (internal) fill one reply buffer from cookie @off.
 * Cookies: 1 = ".", 2 = "..", then each entry's insertion sequence, up to
 * the end of this open's listing (struct dir_handle).
 */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi, bool plus)
{
	struct fs *fs = req_fs(req);
	struct fs_inode *d = inode_of(req, ino);
	struct fuse_entry_param e;
	struct fs_dirent *de;
	size_t used = 0, i;
	uint64_t end;
	char *buf;

	if (!d)
		return;
	if (!S_ISDIR(d->mode))
		return reply_err(req, -ENOTDIR);
	if (off < 0)
		return reply_err(req, -EINVAL);
	size = MMFS_MIN(size, (size_t)READDIR_MAX);
	buf = malloc(size);
	if (!buf)
		return reply_err(req, -ENOMEM);
	pthread_rwlock_rdlock(&d->lock);
	end = listing_end(d, fi, off);
	for (; off < 2; off++) {
		struct fs_inode *dot = off == 0 ? d
				     : (d->dir.parent ? d->dir.parent : d);
		const char *name = off == 0 ? "." : "..";
		size_t need;

		/* The kernel takes no reference for "." and "..". */
		fill_entry(fs, dot, &e);
		need = plus ? fuse_add_direntry_plus(req, buf + used,
						     size - used, name, &e,
						     off + 1)
			    : fuse_add_direntry(req, buf + used, size - used,
						name, &e.attr, off + 1);
		if (need > size - used)
			goto out_reply;
		used += need;
	}
	i = fs_dir_seek(&d->dir, (uint64_t)off);
	while ((de = fs_dir_next(&d->dir, &i, end))) {
		char name[FS_NAME_MAX + 1];
		size_t need;

		memcpy(name, de->name, de->namelen);
		name[de->namelen] = '\0';
		if (plus) {
			fill_entry(fs, de->inode, &e);
			need = fuse_add_direntry_plus(req, buf + used,
						      size - used, name, &e,
						      (off_t)de->seq);
		} else {
			memset(&e.attr, 0, sizeof(e.attr));
			e.attr.st_ino = de->inode->ino;
			e.attr.st_mode = de->inode->mode;
			need = fuse_add_direntry(req, buf + used, size - used,
						 name, &e.attr,
						 (off_t)de->seq);
		}
		if (need > size - used)
			break;
		if (plus)
			fs_inode_ref(de->inode);
		used += need;
	}
out_reply:
	pthread_rwlock_unlock(&d->lock);
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	free((struct dir_handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/*
 * fsync of a directory makes the whole filesystem durable, data included.
 * The kernel sends syncfs(2) only to virtiofs servers, so this is how
 * `sync MOUNTPOINT` (and `mmfsctl sync`) reach a FUSE daemon.
 */
static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	if (inode_of(req, ino))
		reply_err(req, fs_persist_sync(req_fs(req)));
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = req_fs(req);
	struct mmfs_tier_stat ts;
	struct statvfs sv;

	/* On a pool the capacity is the pool: every chunk has a home there. */
	mmfs_tier_stat(fs->tier, &ts);
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = fs->chunk_size;
	sv.f_frsize = fs->chunk_size;
	sv.f_blocks = ts.capacity_chunks;
	sv.f_bfree = ts.free_chunks;
	sv.f_bavail = ts.free_chunks;
	/* Inodes live in the daemon's heap, bounded by the inode table. */
	sv.f_files = (uint64_t)FS_ITAB_TOP * FS_ITAB_LEAF - 1;
	sv.f_ffree = sv.f_files - atomic_load(&fs->ninodes);
	sv.f_favail = sv.f_ffree;
	sv.f_namemax = FS_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

/* is_virtual -- (internal) a computed, read-only xattr name */
static bool is_virtual(const char *name)
{
	return !strcmp(name, FS_XATTR_RESIDENCY) || !strcmp(name, FS_XATTR_HEAT);
}

/*
 * set_access_acl -- (internal) an access ACL also sets the mode bits; one
 * that says no more than the mode is not stored (posix_acl_update_mode;
 * its setgid rule is priv_drop's, after). The kernel has validated the
 * ACL and drops its cached attributes.
 */
static int set_access_acl(struct fs *fs, struct fs_inode *in,
			  const char *value, size_t size, int flags)
{
	uint32_t perm;
	bool equiv;
	int rc;

	rc = fs_acl_mode(value, size, &perm, &equiv);
	if (rc < 0)
		return rc;
	if (equiv) {
		rc = fs_xattr_remove(fs, in, FS_ACL_ACCESS);
		if (rc == -ENODATA)
			rc = 0;
	} else {
		rc = fs_xattr_set(fs, in, FS_ACL_ACCESS, value, size, flags);
	}
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&in->alock);
	in->perm = (in->perm & ~0777u) | perm;
	pthread_mutex_unlock(&in->alock);
	fs_txn_dirty(in);
	return 0;
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct fs_inode *in = inode_of(req, ino);
	struct fs_txn tx;
	int hint = -1, io = -1;
	int rc;

	if (!in)
		return;
	if (fs_snap_frozen(in))
		return reply_err(req, -EROFS); /* a snapshot */
	if (is_virtual(name))
		return reply_err(req, -EPERM); /* read-only, computed */
	if (!strcmp(name, FS_XATTR_TIER)) {
		hint = fs_hint_parse(value, size);
		if (hint < 0)
			return reply_err(req, hint); /* dram, pmem or auto */
	}
	if (!strcmp(name, FS_XATTR_IO)) {
		io = fs_io_parse(value, size);
		if (io < 0)
			return reply_err(req, io); /* direct or cached */
	}
	rc = fs_persist_room(req_fs(req));
	if (rc < 0)
		return reply_err(req, rc);
	fs_txn_begin(req_fs(req), &tx);
	pthread_rwlock_wrlock(&in->lock);
	if (strcmp(name, FS_ACL_ACCESS) == 0)
		rc = set_access_acl(req_fs(req), in, value, size, flags);
	else
		rc = fs_xattr_set(req_fs(req), in, name, value, size, flags);
	if (rc == 0 && hint >= 0) {
		in->hint = (uint8_t)hint;
		fs_hint_apply(req_fs(req), in);
	}
	if (rc == 0 && io >= 0)
		in->io_direct = io == 1; /* from the next open on */
	if (rc == 0)
		fs_inode_touch(in, false, true);
	fs_txn_commit(&tx);
	pthread_rwlock_unlock(&in->lock);
	/* posix_acl_update_mode: setgid goes as a chmod would drop it */
	if (rc == 0 && strcmp(name, FS_ACL_ACCESS) == 0)
		priv_drop(req, in, FS_PRIV_CHMOD);
	fs_txn_end(&tx);
	reply_err(req, rc);
}

/* reply_sized -- (internal) the two-step size protocol of get/listxattr */
static void reply_sized(fuse_req_t req, struct fs_inode *in, const char *name,
			size_t size)
{
	char *buf = NULL;
	int rc;

	if (name && (rc = fs_xattr_name_check(name)) < 0)
		return reply_err(req, rc);
	/* Nothing we return is larger: do not allocate what the kernel asks. */
	size = MMFS_MIN(size, (size_t)MMFS_MAX(FS_XATTR_SIZE_MAX,
					       FS_XATTR_LIST_MAX));
	if (size) {
		buf = malloc(size);
		if (!buf)
			return reply_err(req, -ENOMEM);
	}
	pthread_rwlock_rdlock(&in->lock);
	/* trusted.* is for CAP_SYS_ADMIN only; ext4 hides it from others. */
	rc = name ? fs_xattr_get(in, name, buf, size)
		  : fs_xattr_list(in, buf, size, fuse_req_ctx(req)->uid == 0);
	pthread_rwlock_unlock(&in->lock);
	if (rc < 0)
		reply_err(req, rc);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)rc);
	else
		fuse_reply_buf(req, buf, (size_t)rc);
	free(buf);
}

/* reply_virtual -- (internal) user.mmfs.residency and .heat: computed */
static void reply_virtual(fuse_req_t req, struct fs_inode *in,
			  const char *name, size_t size)
{
	struct fs *fs = req_fs(req);
	char buf[160];
	int n;

	if (!S_ISREG(in->mode))
		return reply_err(req, -ENODATA);
	pthread_rwlock_rdlock(&in->lock);
	n = !strcmp(name, FS_XATTR_HEAT) ? fs_heat(fs, in, buf, sizeof(buf))
					  : fs_residency(fs, in, buf,
							 sizeof(buf));
	pthread_rwlock_unlock(&in->lock);
	if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else if (size < (size_t)n)
		reply_err(req, -ERANGE);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct fs_inode *in = inode_of(req, ino);

	if (!in)
		return;
	if (is_virtual(name))
		return reply_virtual(req, in, name, size);
	reply_sized(req, in, name, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs_inode *in = inode_of(req, ino);

	if (in)
		reply_sized(req, in, NULL, size);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs_inode *in = inode_of(req, ino);
	struct fs_txn tx;
	int rc;

	if (!in)
		return;
	if (fs_snap_frozen(in))
		return reply_err(req, -EROFS); /* a snapshot */
	rc = fs_xattr_name_check(name);
	if (rc < 0)
		return reply_err(req, rc);
	if (is_virtual(name))
		return reply_err(req, -EPERM);
	fs_txn_begin(req_fs(req), &tx);
	pthread_rwlock_wrlock(&in->lock);
	rc = fs_xattr_remove(req_fs(req), in, name);
	if (rc == 0 && !strcmp(name, FS_XATTR_TIER)) {
		in->hint = MMFS_HINT_AUTO;
		fs_hint_apply(req_fs(req), in);
	}
	if (rc == 0 && !strcmp(name, FS_XATTR_IO))
		in->io_direct = false;
	if (rc == 0)
		fs_inode_touch(in, false, true);
	fs_txn_commit(&tx);
	pthread_rwlock_unlock(&in->lock);
	fs_txn_end(&tx);
	reply_err(req, rc);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	struct fs_inode *in = inode_of(req, ino);
	struct fs_txn tx;
	int retried = 0;
	int rc;

	if (!in)
		return;
	if (fs_snap_frozen(in))
		return reply_err(req, -EROFS); /* a snapshot */
	if (offset < 0 || length <= 0)
		return reply_err(req, -EINVAL);
	if (!S_ISREG(in->mode))
		return reply_err(req, -ENODEV);
	do {
		fs_txn_begin(req_fs(req), &tx);
		mmfs_tier_io_begin(req_fs(req)->tier);
		pthread_rwlock_wrlock(&in->lock);
		rc = fs_data_fallocate(req_fs(req), in, mode,
				       (uint64_t)offset, (uint64_t)length);
		fs_txn_commit(&tx);
		pthread_rwlock_unlock(&in->lock);
		mmfs_tier_io_end(req_fs(req)->tier);
		if (rc == 0)
			priv_drop(req, in, FS_PRIV_MODIFY);
		fs_txn_end(&tx);
	} while (rc == -ENOSPC && !retried++ &&
		 fs_persist_reclaim(req_fs(req)));
	reply_err(req, rc);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct fs_inode *in = inode_of(req, ino);
	int64_t pos;

	if (!in)
		return;
	if (!S_ISREG(in->mode))
		return reply_err(req, -EINVAL);
	pthread_rwlock_rdlock(&in->lock);
	pos = fs_data_seek(req_fs(req), in, off, whence);
	pthread_rwlock_unlock(&in->lock);
	if (pos < 0)
		return reply_err(req, (int)pos);
	fuse_reply_lseek(req, pos);
}

static void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
			       off_t off_in, struct fuse_file_info *fi_in,
			       fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len,
			       int flags)
{
	struct fs *fs = req_fs(req);
	struct fs_inode *src = inode_of(req, ino_in), *dst;
	bool retried = false;
	struct fs_txn tx;
	int64_t n;

	if (!src || !(dst = inode_of(req, ino_out)))
		return;
	if (flags)
		return reply_err(req, -EINVAL);
	if (fs_snap_frozen(dst))
		return reply_err(req, -EROFS); /* into a snapshot */
	if (!S_ISREG(src->mode) || !S_ISREG(dst->mode))
		return reply_err(req, -EINVAL);
	if (off_in < 0 || off_out < 0)
		return reply_err(req, -EINVAL);
retry:
	fs_txn_begin(fs, &tx);
	mmfs_tier_io_begin(fs->tier);
	/* Two files: lower ino first (neither is a directory). */
	if (src == dst) {
		pthread_rwlock_wrlock(&dst->lock);
	} else if (src->ino < dst->ino) {
		pthread_rwlock_rdlock(&src->lock);
		pthread_rwlock_wrlock(&dst->lock);
	} else {
		pthread_rwlock_wrlock(&dst->lock);
		pthread_rwlock_rdlock(&src->lock);
	}
	n = fs_data_copy(fs, src, (uint64_t)off_in, dst, (uint64_t)off_out,
			 len);
	fs_txn_commit(&tx);
	if (src != dst)
		pthread_rwlock_unlock(&src->lock);
	pthread_rwlock_unlock(&dst->lock);
	mmfs_tier_io_end(fs->tier);
	if (n == -ENOSPC && !retried) {
		/* As write: chunks freed since the last commit come back */
		fs_txn_end(&tx);
		retried = true;
		if (fs_persist_reclaim(fs))
			goto retry;
		return reply_err(req, (int)n);
	}
	if (n > 0)
		priv_drop(req, dst, FS_PRIV_MODIFY);
	fs_txn_end(&tx);
	if (n < 0)
		return reply_err(req, (int)n);
	fuse_reply_write(req, (size_t)n);
}

/*
 * do_remount -- (internal) MMFS_IOC_REMOUNT: the options of `mount -o
 * remount` for the live mount, from root or the user who mounted it.
 */
static void do_remount(fuse_req_t req, const void *in_buf, size_t in_bufsz,
		       size_t out_bufsz)
{
	struct mmfs_ioc_remount *rq;
	uid_t uid = fuse_req_ctx(req)->uid;
	int rc;

	if (in_bufsz < sizeof(*rq) || out_bufsz < sizeof(*rq))
		return reply_err(req, -EINVAL);
	if (uid != 0 && uid != geteuid())
		return reply_err(req, -EPERM);
	if (!mmfs_remount)
		return reply_err(req, -ENOTTY);
	rq = malloc(sizeof(*rq));
	if (!rq)
		return reply_err(req, -ENOMEM);
	memcpy(rq, in_buf, sizeof(*rq));
	rq->opts[sizeof(rq->opts) - 1] = '\0';
	rq->why[0] = '\0';
	if (rq->version != MMFS_IOC_REMOUNT_VERSION) {
		free(rq);
		return reply_err(req, -EPROTO);
	}
	rc = mmfs_remount(rq->opts, (unsigned long)rq->ms_flags, rq->apply != 0,
			  rq->why, sizeof(rq->why));
	/* A refusal is a reply too: the caller prints its why. */
	rq->result = rc < 0 ? rc : 0;
	fuse_reply_ioctl(req, 0, rq, sizeof(*rq));
	free(rq);
}

/* A list of names, to tell the kernel after a reply which ones changed */
struct name_list {
	uint64_t dir;
	char **name;
	size_t n, cap;
};

static void names_add(struct name_list *l, const char *name, size_t len)
{
	char **p;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;

		p = realloc(l->name, cap * sizeof(*p));
		if (!p)
			return; /* the kernel's cache then ages out instead */
		l->name = p;
		l->cap = cap;
	}
	l->name[l->n] = strndup(name, len);
	if (l->name[l->n])
		l->n++;
}

/* rollback_names -- fs_snap_rollback's callback: DIR's names, both sides */
static void rollback_names(void *arg, struct fs_inode *dir, bool before)
{
	struct name_list *l = arg;
	struct fs_dirent *de;
	size_t k = 0;

	(void)before;
	l->dir = dir->ino;
	while ((de = fs_dir_next(&dir->dir, &k, UINT64_MAX)))
		names_add(l, de->name, de->namelen);
}

/* names_notify -- (internal) after the reply: drop the kernel's entries */
static void names_notify(struct name_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (mmfs_session)
			fuse_lowlevel_notify_inval_entry(mmfs_session, l->dir,
							 l->name[i],
							 strlen(l->name[i]));
		free(l->name[i]);
	}
	if (mmfs_session && l->dir)
		fuse_lowlevel_notify_inval_inode(mmfs_session, l->dir, -1, 0);
	free(l->name);
}

/*
 * do_snap -- (internal) MMFS_IOC_SNAP: what mmfsctl snapshot asks. The
 * kernel caches names it has not seen change: after the reply, it is told
 * which ones did (never while a request of ours holds its locks).
 */
static void do_snap(fuse_req_t req, fuse_ino_t ino, const void *in_buf,
		    size_t in_bufsz, size_t out_bufsz)
{
	struct fs *fs = req_fs(req);
	uint32_t uid = fuse_req_ctx(req)->uid;
	struct name_list names = { 0 };
	struct fs_snap_info info;
	struct mmfs_ioc_snap rq;
	struct fs_inode *in = fs_inode_get(fs, ino), *snap, *sd;
	int rc;

	if (in_bufsz < sizeof(rq) || out_bufsz < sizeof(rq))
		return reply_err(req, -EINVAL);
	memcpy(&rq, in_buf, sizeof(rq));
	rq.name[sizeof(rq.name) - 1] = '\0';
	if (rq.version != MMFS_IOC_SNAP_VERSION)
		return reply_err(req, -EPROTO);
	if (!in)
		return reply_err(req, -ESTALE);
	if (!S_ISDIR(in->mode))
		return reply_err(req, -ENOTDIR);
	switch (rq.op) {
	case MMFS_SNAP_CREATE:
		rc = fs_snap_create(fs, in, rq.name, uid, NULL);
		break;
	case MMFS_SNAP_DELETE:
		rc = fs_snap_delete(fs, in, rq.name, uid);
		break;
	case MMFS_SNAP_ROLLBACK:
		rc = fs_snap_rollback(fs, in, rq.name, uid, rollback_names,
				      &names);
		break;
	case MMFS_SNAP_CLONE:
		snap = fs_inode_get_linked(fs, rq.snap_ino);
		rc = snap ? fs_snap_clone(fs, snap, in, rq.name, uid, NULL)
			  : -ENOENT;
		if (snap)
			fs_inode_forget(fs, snap, 1);
		if (rc == 0)
			names_add(&names, rq.name, strlen(rq.name));
		names.dir = in->ino;
		break;
	case MMFS_SNAP_INFO:
		if (!in->frozen) { /* a directory: its schedule */
			rc = fs_snap_schedule_get(fs, in, &rq.every_secs,
						  &rq.keep);
			break;
		}
		rc = fs_snap_info(fs, in, &info);
		if (rc == 0) {
			rq.inodes = info.inodes;
			rq.excl_bytes = info.excl_bytes;
			rq.created_sec = info.created.tv_sec;
			rq.created_nsec = (uint64_t)info.created.tv_nsec;
		}
		break;
	case MMFS_SNAP_SCHEDULE:
		rc = fs_snap_schedule(fs, in, rq.every_secs, rq.keep, uid);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	if (rc == 0 && (rq.op == MMFS_SNAP_CREATE || rq.op == MMFS_SNAP_DELETE) &&
	    (sd = in->dir.snapdir)) {
		names.dir = sd->ino;
		names_add(&names, rq.name, strlen(rq.name));
	}
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_ioctl(req, 0, &rq, sizeof(rq));
	names_notify(&names);
}

static void op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd,
		     void *arg, struct fuse_file_info *fi, unsigned flags,
		     const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	struct fs *fs = req_fs(req);
	struct mmfs_ioc_stat st;
	struct mmfs_tier_stat ts;

	if (flags & FUSE_IOCTL_COMPAT)
		return reply_err(req, -ENOSYS);
	switch (cmd) {
	case MMFS_IOC_STAT:
		if (out_bufsz < sizeof(st))
			return reply_err(req, -EINVAL);
		mmfs_tier_stat(fs->tier, &ts);
		memset(&st, 0, sizeof(st));
		st.version = MMFS_IOC_STAT_VERSION;
		st.chunk_size = ts.chunk_size;
		st.dram_total = ts.total_chunks[MMFS_TIER_DRAM] * ts.chunk_size;
		st.dram_used = ts.used_chunks[MMFS_TIER_DRAM] * ts.chunk_size;
		st.pmem_total = ts.total_chunks[MMFS_TIER_PMEM] * ts.chunk_size;
		st.pmem_used = ts.used_chunks[MMFS_TIER_PMEM] * ts.chunk_size;
		st.chunk_allocs = ts.allocs;
		st.chunk_frees = ts.frees;
		st.enospc = ts.enospc;
		st.inodes = atomic_load(&fs->ninodes);
		st.meta_bytes = (uint64_t)MMFS_MAX(atomic_load(&fs->meta_bytes), 0);
		st.file_bytes = (uint64_t)MMFS_MAX(atomic_load(&fs->file_bytes), 0);
		if (ts.persistent) {
			struct fs_persist_stat ps;

			fs_persist_stat(fs, &ps);
			st.persistent = 1;
			/* Every chunk in use holds its PMEM home. */
			st.pmem_used = (ts.capacity_chunks - ts.free_chunks) *
				       ts.chunk_size;
			st.commits = ps.commits;
			st.checkpoints = ps.checkpoints;
			st.log_used = ps.log_bytes_used;
			st.writeback_bytes = ts.writeback_bytes;
		} else if (mmfs_tier_tiered(fs->tier)) {
			st.slow_tier = 1;
		}
		fs_sample_stat(fs, &st.sample_passes, &st.sample_dropped,
			       &st.sample_files);
		(void)fs_snap_stat(fs, &st.snapshots, &st.snap_bytes);
		if (mmfs_tier_tiered(fs->tier)) {
			st.promotions = ts.promotions;
			st.demotions = ts.demotions;
			st.moved_bytes = ts.moved_bytes;
			st.epochs = ts.epochs;
			st.remap_busy = ts.remap_busy;
			mmfs_tier_heat_histogram(fs->tier, st.heat);
		}
		fuse_reply_ioctl(req, 0, &st, sizeof(st));
		return;
	case MMFS_IOC_SYNC: {
		int rc = fs_persist_sync(fs);

		/* An ioctl's success is an ioctl reply, not a zero error. */
		if (rc < 0)
			return reply_err(req, rc);
		fuse_reply_ioctl(req, 0, NULL, 0);
		return;
	}
	case MMFS_IOC_REMOUNT:
		return do_remount(req, in_buf, in_bufsz, out_bufsz);
	case MMFS_IOC_SNAP:
		return do_snap(req, ino, in_buf, in_bufsz, out_bufsz);
	default:
		/* What ext4 says for an ioctl it does not know. */
		return reply_err(req, -ENOTTY);
	}
}

static const struct fuse_lowlevel_ops mmfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.symlink = op_symlink,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write_buf = op_write_buf,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.fallocate = op_fallocate,
	.lseek = op_lseek,
	.copy_file_range = op_copy_file_range,
	.ioctl = op_ioctl,
};

const struct fuse_lowlevel_ops *mmfs_fuse_ops(void)
{
	return &mmfs_ops;
}

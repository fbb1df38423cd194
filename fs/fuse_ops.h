/* SPDX-License-Identifier: Apache-2.0 */
/* fuse_ops.h -- the request handler table, for main.c */
#ifndef MMFS_FS_FUSE_OPS_H
#define MMFS_FS_FUSE_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fuse_lowlevel_ops;
struct fuse_session;

/* The handlers; their userdata is the struct fs of the mount. */
const struct fuse_lowlevel_ops *mmfs_fuse_ops(void);
/* The session notifications go to (set once, before serving). */
void mmfs_fuse_set_session(struct fuse_session *se);
/*
 * mmfs_fuse_inval -- drop the kernel's cached pages of [off, off+len) of
 * @ino (the page-cache sampler's callback; @arg unused). 0 or -errno.
 */
int mmfs_fuse_inval(void *arg, uint64_t ino, uint64_t off, uint64_t len);
/* mmfs_fuse_inval_entry -- the kernel forgets name @name of @dir (an
 * fs_snap_notify_fn: scheduled snapshots appear and go behind its back) */
void mmfs_fuse_inval_entry(void *arg, uint64_t dir, const char *name);

/*
 * A remount's options for the live mount (MMFS_IOC_REMOUNT): check them
 * (@apply false) or apply them. 0, or -errno with the one line in @why
 * (@len bytes). main.c owns the options, so it is the one to answer.
 */
typedef int (*mmfs_fuse_remount_fn)(const char *opts, unsigned long ms_flags,
				    bool apply, char *why, size_t len);
void mmfs_fuse_set_remount(mmfs_fuse_remount_fn fn);

#endif

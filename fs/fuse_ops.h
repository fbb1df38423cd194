/* SPDX-License-Identifier: Apache-2.0 */
/* fuse_ops.h -- the request handler table, for main.c */
#ifndef MMFS_FS_FUSE_OPS_H
#define MMFS_FS_FUSE_OPS_H

struct fuse_lowlevel_ops;
struct fuse_session;

/* The handlers; their userdata is the struct fs of the mount. */
const struct fuse_lowlevel_ops *mmfs_fuse_ops(void);
/* The session notifications go to (set once, before serving). */
void mmfs_fuse_set_session(struct fuse_session *se);

#endif

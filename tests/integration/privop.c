/* SPDX-License-Identifier: Apache-2.0 */
/*
 * privop.c -- one operation that may drop setuid/setgid, for
 * perm/sgid.sh: `privop OP FILE [SRC]` runs OP on FILE as the calling user
 * (the script switches users with setpriv) and prints "ok" or the errno
 * name, so that the transcript of a run on tmpfs can be compared with one
 * on mmfs line for line. It never looks at the mode itself: the script
 * stats the file afterwards, as root.
 *
 * OP is one of: write (a buffered pwrite), dwrite (an O_DIRECT pwrite of
 * one aligned 4 KiB block), truncate (truncate(2) by path), ftruncate,
 * otrunc (open with O_TRUNC), falloc (mode 0, extending), keep (KEEP_SIZE),
 * punch (PUNCH_HOLE|KEEP_SIZE), zero (ZERO_RANGE), cfr (copy_file_range
 * from SRC into FILE).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLK 4096

/* errname -- (internal) a stable name for the transcript */
static const char *errname(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case EINVAL: return "EINVAL";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EXDEV: return "EXDEV";
	case ENOSPC: return "ENOSPC";
	case EFBIG: return "EFBIG";
	default: return strerror(e);
	}
}

/* do_op -- (internal) 0 or an errno */
static int do_op(const char *op, const char *file, const char *src)
{
	int fd = -1, sfd, flags = O_WRONLY, rc = 0;
	void *buf = NULL;
	ssize_t n;

	if (!strcmp(op, "truncate"))
		return truncate(file, 100) < 0 ? errno : 0;
	if (!strcmp(op, "otrunc")) {
		fd = open(file, O_WRONLY | O_TRUNC);
		if (fd < 0)
			return errno;
		close(fd);
		return 0;
	}
	if (!strcmp(op, "dwrite"))
		flags |= O_DIRECT;
	fd = open(file, flags);
	if (fd < 0)
		return errno;
	if (posix_memalign(&buf, BLK, BLK)) {
		close(fd);
		return ENOMEM;
	}
	memset(buf, 'w', BLK);
	if (!strcmp(op, "write") || !strcmp(op, "dwrite")) {
		n = pwrite(fd, buf, BLK, 0);
		rc = n == BLK ? 0 : n < 0 ? errno : EIO;
	} else if (!strcmp(op, "ftruncate")) {
		rc = ftruncate(fd, 100) < 0 ? errno : 0;
	} else if (!strcmp(op, "falloc")) {
		rc = fallocate(fd, 0, 0, 4 * BLK) < 0 ? errno : 0;
	} else if (!strcmp(op, "keep")) {
		rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8 * BLK) < 0 ? errno
									  : 0;
	} else if (!strcmp(op, "punch")) {
		rc = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       0, BLK) < 0 ? errno : 0;
	} else if (!strcmp(op, "zero")) {
		rc = fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, BLK) < 0 ? errno
								     : 0;
	} else if (!strcmp(op, "cfr") && src) {
		sfd = open(src, O_RDONLY);
		if (sfd < 0) {
			rc = errno;
		} else {
			loff_t in = 0, out = 0;

			n = copy_file_range(sfd, &in, fd, &out, BLK, 0);
			rc = n > 0 ? 0 : n < 0 ? errno : EIO;
			close(sfd);
		}
	} else {
		fprintf(stderr, "privop: unknown op %s\n", op);
		exit(2);
	}
	free(buf);
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	int e;

	if (argc < 3) {
		fprintf(stderr, "usage: privop OP FILE [SRC]\n");
		return 2;
	}
	e = do_op(argv[1], argv[2], argc > 3 ? argv[3] : NULL);
	printf("%s\n", e ? errname(e) : "ok");
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmmfs.c -- the application library (fs/mmfs.h): placement hints, the
 * virtual xattrs and MMFS_IOC_STAT behind typed calls. It owns no state
 * and knows nothing of the daemon beyond the xattr names and values the
 * daemon documents (fs/README.md) and mmfs_ioctl.h; it links to libc only.
 *
 * NOTE: "is this fd on mmfs?" needs care. Since Linux 6.6 tmpfs stores
 * user.* xattrs, and `cp -a`/rsync -X copy user.mmfs.tier off an mmfs
 * file, so neither a successful setxattr nor a stored value proves
 * anything. The virtual xattrs do: the daemon computes them and never
 * lists them, so no tool copies them. fd_is_mmfs() asks for one, and
 * falls back to the ioctl where they are absent (directories).
 */
#include <errno.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/xattr.h>

#include "fs/mmfs.h"

#define MMFS_EXPORT __attribute__((visibility("default")))

#define XATTR_TIER "user.mmfs.tier"
#define XATTR_RESIDENCY "user.mmfs.residency"
#define XATTR_HEAT "user.mmfs.heat"

/* In enum mmfs_placement order: the daemon's values for user.mmfs.tier. */
static const char *const place_names[] = { "auto", "dram", "pmem" };

/* neg_errno -- (internal) -errno after a failed call, never 0 */
static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

/* not_supported -- (internal) errnos by which a filesystem says "not mine" */
static bool not_supported(int err)
{
	return err == ENOTSUP || err == ENOTTY || err == ENOSYS ||
	       err == EINVAL;
}

/* on_fuse -- (internal) 0 when fd is on some FUSE filesystem, else -ENOTSUP */
static int on_fuse(int fd)
{
	struct statfs sfs;

	/* A round trip on FUSE, but it keeps requests off other filesystems. */
	if (fstatfs(fd, &sfs) < 0)
		return neg_errno();
	return sfs.f_type == FUSE_SUPER_MAGIC ? 0 : -ENOTSUP;
}

/* ioctl_probe -- (internal) 0 when the FUSE server behind fd is mmfs */
static int ioctl_probe(int fd)
{
	struct mmfs_ioc_stat st;

	if (ioctl(fd, MMFS_IOC_STAT, &st) == 0)
		return 0;
	return not_supported(errno) ? -ENOTSUP : neg_errno();
}

/*
 * fd_is_mmfs -- (internal) 0 when fd is on mmfs, -ENOTSUP when not, or the
 * error that kept us from knowing (-EBADF, -ENOTCONN for a dead daemon).
 */
static int fd_is_mmfs(int fd)
{
	int rc = on_fuse(fd);

	if (rc < 0)
		return rc;
	if (fgetxattr(fd, XATTR_RESIDENCY, NULL, 0) >= 0)
		return 0;
	if (errno != ENODATA)
		return not_supported(errno) ? -ENOTSUP : neg_errno();
	/* Not a regular file: only the ioctl can tell (it walks every chunk). */
	return ioctl_probe(fd);
}

/*
 * get_virtual -- (internal) read a virtual xattr as a C string; -ENODATA
 * when fd is on mmfs but not a regular file, -ENOTSUP when not on mmfs.
 * The value itself is the proof that fd is on mmfs (see NOTE above).
 */
static int get_virtual(int fd, const char *name, char *buf, size_t size)
{
	ssize_t n;
	int rc;

	rc = on_fuse(fd);
	if (rc < 0)
		return rc;
	n = fgetxattr(fd, name, buf, size - 1);
	if (n >= 0) {
		buf[n] = '\0';
		return 0;
	}
	if (errno == ENODATA) {
		rc = ioctl_probe(fd);
		return rc < 0 ? rc : -ENODATA;
	}
	if (errno == ERANGE)
		return -EPROTO;
	return not_supported(errno) ? -ENOTSUP : neg_errno();
}

/*
 * take_u64 -- (internal) parse "KEY=DIGITS" at *s, then skip one space.
 * Hand-written, as take_mean below, so that the application's locale
 * cannot change what is parsed.
 */
static int take_u64(const char **s, const char *key, uint64_t *v)
{
	size_t klen = strlen(key);
	const char *p = *s;
	uint64_t x = 0;

	if (strncmp(p, key, klen) != 0 || p[klen] != '=')
		return -EPROTO;
	p += klen + 1;
	if (*p < '0' || *p > '9')
		return -EPROTO;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EPROTO;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	if (*p == ' ')
		p++;
	else if (*p != '\0')
		return -EPROTO;
	*s = p;
	*v = x;
	return 0;
}

/* take_mean -- (internal) "mean=D.D": the daemon prints "%.1f" in C locale */
static int take_mean(const char **s, double *v)
{
	const char *p = *s;
	double x = 0, scale = 1;

	if (strncmp(p, "mean=", 5) != 0)
		return -EPROTO;
	p += 5;
	if (*p < '0' || *p > '9')
		return -EPROTO;
	for (; *p >= '0' && *p <= '9'; p++)
		x = x * 10 + (*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			x += (*p - '0') * (scale /= 10);
	if (*p == ' ')
		p++;
	else if (*p != '\0')
		return -EPROTO;
	*s = p;
	*v = x;
	return 0;
}

/* --- API -------------------------------------------------------------------- */

/* mmfs_set_tier -- store the hint after making sure the fd is on mmfs */
MMFS_EXPORT int mmfs_set_tier(int fd, enum mmfs_placement p)
{
	const char *v;
	int rc;

	if ((unsigned)p >= sizeof(place_names) / sizeof(place_names[0]))
		return -EINVAL;
	v = place_names[p];
	/* Probe first: on tmpfs the set would succeed and mean nothing. */
	rc = fd_is_mmfs(fd);
	if (rc < 0)
		return rc;
	if (fsetxattr(fd, XATTR_TIER, v, strlen(v), 0) < 0)
		return neg_errno();
	return 0;
}

/* mmfs_get_tier -- the stored hint; none stored means auto */
MMFS_EXPORT int mmfs_get_tier(int fd, enum mmfs_placement *p)
{
	char buf[16];
	size_t i, len;
	ssize_t n;
	int rc;

	rc = fd_is_mmfs(fd);
	if (rc < 0)
		return rc;
	n = fgetxattr(fd, XATTR_TIER, buf, sizeof(buf));
	if (n < 0 && errno == ENODATA) {
		*p = MMFS_PLACE_AUTO;
		return 0;
	}
	if (n < 0)
		return errno == ERANGE ? -EPROTO : neg_errno();
	/* As the daemon parses it: a trailing newline or NUL is allowed. */
	len = (size_t)n;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\0'))
		len--;
	for (i = 0; i < sizeof(place_names) / sizeof(place_names[0]); i++) {
		if (len == strlen(place_names[i]) &&
		    !memcmp(buf, place_names[i], len)) {
			*p = (enum mmfs_placement)i;
			return 0;
		}
	}
	return -EPROTO;
}

/* mmfs_residency -- parse user.mmfs.residency, "dram=N pmem=M" */
MMFS_EXPORT int mmfs_residency(int fd, struct mmfs_residency *r)
{
	struct mmfs_residency out;
	const char *s;
	char buf[128];
	int rc;

	rc = get_virtual(fd, XATTR_RESIDENCY, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	s = buf;
	if (take_u64(&s, "dram", &out.dram_bytes) < 0 ||
	    take_u64(&s, "pmem", &out.pmem_bytes) < 0)
		return -EPROTO;
	*r = out;
	return 0;
}

/* mmfs_heat -- parse user.mmfs.heat, "chunks=N hot=H mean=X max=Y" */
MMFS_EXPORT int mmfs_heat(int fd, struct mmfs_heat *h)
{
	struct mmfs_heat out;
	const char *s;
	char buf[160];
	int rc;

	rc = get_virtual(fd, XATTR_HEAT, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	s = buf;
	if (take_u64(&s, "chunks", &out.chunks) < 0 ||
	    take_u64(&s, "hot", &out.hot) < 0 ||
	    take_mean(&s, &out.mean) < 0 ||
	    take_u64(&s, "max", &out.max) < 0)
		return -EPROTO;
	*h = out;
	return 0;
}

/* mmfs_stat -- MMFS_IOC_STAT; any "unknown ioctl" answer becomes -ENOTTY */
MMFS_EXPORT int mmfs_stat(int fd, struct mmfs_ioc_stat *st)
{
	struct mmfs_ioc_stat out;

	memset(&out, 0, sizeof(out));
	if (ioctl(fd, MMFS_IOC_STAT, &out) < 0)
		return not_supported(errno) ? -ENOTTY : neg_errno();
	*st = out;
	return 0;
}

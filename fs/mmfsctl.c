/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mmfsctl -- the admin CLI. On a mounted mmfs it is a client of the ioctl
 * surface (fs/mmfs_ioctl.h): stat, sync, top. On a pool that is not mounted it
 * works offline through the same code the daemon runs: mkfs, info, fsck
 * (the pool's lock keeps a mount and mmfsctl apart).
 *
 * Exit codes: 0 success (fsck: clean), 1 failure (fsck: findings), 2 usage
 * error or a pool that cannot be opened (in use, no access).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs_i.h"
#include "fs/mmfsctl.h"
#include "fs/mmfs_ioctl.h"
#include "utils/size.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mmfsctl stat MOUNT [--json]   usage of a mounted mmfs\n"
		"       mmfsctl sync MOUNT            make everything durable "
		"(syncfs)\n"
		"       mmfsctl top MOUNT [--interval SECS] [--count N]\n"
		"                                     live view: use, moves and "
		"heat per second\n"
		"       mmfsctl clone [--force] SRC DST\n"
		"                                     DST shares SRC's chunks "
		"(a reflink), or fails\n"
		"       mmfsctl mkfs [--size SIZE] [--chunk SIZE] [--meta SIZE] "
		"[--sparse] [--force] POOL\n"
		"                                     make a pool (file or "
		"devdax)\n"
		"       mmfsctl info POOL [--json]    superblock and layout\n"
		"       mmfsctl fsck [--repair] POOL  check an unmounted pool\n"
		"       mmfsctl snapshot create|delete|rollback|clone|list|"
		"schedule ...\n"
		"                                     directory snapshots "
		"(mmfsctl snapshot --help)\n"
		"       mmfsctl --version\n");
}

/* pool_err -- one line for a pool error; @why may start with the path */
static void pool_err(const char *path, const char *why)
{
	size_t n = strlen(path);

	if (strncmp(why, path, n) == 0 && why[n] == ':')
		fprintf(stderr, "mmfsctl: %s\n", why);
	else
		fprintf(stderr, "mmfsctl: %s: %s\n", path, why);
}

static int get_stat(const char *path, struct mmfs_ioc_stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0) {
		fprintf(stderr, "mmfsctl: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	memset(st, 0, sizeof(*st));
	if (ioctl(fd, MMFS_IOC_STAT, st) < 0) {
		rc = -errno;
		if (rc == -ENOTTY || rc == -ENOSYS || rc == -EINVAL)
			fprintf(stderr, "mmfsctl: %s: not on an mmfs mount\n",
				path);
		else
			fprintf(stderr, "mmfsctl: %s: %s\n", path,
				strerror(-rc));
	}
	close(fd);
	return rc;
}

static void print_human(const char *path, const struct mmfs_ioc_stat *st)
{
	char a[32], b[32], c[32];
	double pct = st->dram_total ? 100.0 * (double)st->dram_used /
					      (double)st->dram_total : 0;

	mmfs_size_format(st->dram_used, a, sizeof(a));
	mmfs_size_format(st->dram_total, b, sizeof(b));
	printf("%s\n", path);
	printf("  dram:   %s used of %s (%.1f%%)\n", a, b, pct);
	if (st->pmem_total) {
		mmfs_size_format(st->pmem_used, a, sizeof(a));
		mmfs_size_format(st->pmem_total, b, sizeof(b));
		printf("  %s %s used of %s%s\n",
		       st->slow_tier ? "slow:  " : "pmem:  ", a, b,
		       st->slow_tier ? " (NUMA memory, volatile)" : "");
	} else {
		printf("  pmem:   none (volatile mount)\n");
	}
	mmfs_size_format(st->chunk_size, a, sizeof(a));
	printf("  chunks: %s each, %llu allocated, %llu freed, "
	       "%llu refused (ENOSPC)\n", a,
	       (unsigned long long)st->chunk_allocs,
	       (unsigned long long)st->chunk_frees,
	       (unsigned long long)st->enospc);
	mmfs_size_format(st->file_bytes, b, sizeof(b));
	mmfs_size_format(st->meta_bytes, c, sizeof(c));
	printf("  files:  %llu inodes, %s apparent size, %s of metadata\n",
	       (unsigned long long)st->inodes, b, c);
	if (st->snapshots) {
		/* In use: a pool's chunks all have a home there */
		uint64_t used = st->persistent ? st->pmem_used
					       : st->dram_used + st->pmem_used;

		mmfs_size_format(st->snap_bytes, a, sizeof(a));
		mmfs_size_format(used > st->snap_bytes ? used - st->snap_bytes
						       : 0, b, sizeof(b));
		printf("  snaps:  %llu snapshots, %s held only by snapshots, "
		       "%s live\n", (unsigned long long)st->snapshots, a, b);
	}
}

static void print_json(const struct mmfs_ioc_stat *st)
{
	printf("{\"version\":%u,\"chunk_size\":%u,"
	       "\"dram\":{\"total\":%llu,\"used\":%llu},"
	       "\"pmem\":{\"total\":%llu,\"used\":%llu},"
	       "\"chunks\":{\"allocs\":%llu,\"frees\":%llu,\"enospc\":%llu},"
	       "\"inodes\":%llu,\"meta_bytes\":%llu,\"file_bytes\":%llu,"
	       "\"persistent\":%s,\"slow_tier\":%s,\"commits\":%llu,\"checkpoints\":%llu,"
	       "\"log_used\":%llu,\"writeback_bytes\":%llu,"
	       "\"promotions\":%llu,\"demotions\":%llu,\"moved_bytes\":%llu,"
	       "\"epochs\":%llu,\"heat\":[%llu,%llu,%llu,%llu,%llu,%llu,%llu,"
	       "%llu],\"sample\":{\"passes\":%llu,\"dropped\":%llu,"
	       "\"files\":%llu},\"snapshots\":%llu,\"snap_bytes\":%llu,"
	       "\"remap_busy\":%llu}\n",
	       st->version, st->chunk_size,
	       (unsigned long long)st->dram_total,
	       (unsigned long long)st->dram_used,
	       (unsigned long long)st->pmem_total,
	       (unsigned long long)st->pmem_used,
	       (unsigned long long)st->chunk_allocs,
	       (unsigned long long)st->chunk_frees,
	       (unsigned long long)st->enospc,
	       (unsigned long long)st->inodes,
	       (unsigned long long)st->meta_bytes,
	       (unsigned long long)st->file_bytes,
	       st->persistent ? "true" : "false",
	       st->slow_tier ? "true" : "false",
	       (unsigned long long)st->commits,
	       (unsigned long long)st->checkpoints,
	       (unsigned long long)st->log_used,
	       (unsigned long long)st->writeback_bytes,
	       (unsigned long long)st->promotions,
	       (unsigned long long)st->demotions,
	       (unsigned long long)st->moved_bytes,
	       (unsigned long long)st->epochs,
	       (unsigned long long)st->heat[0], (unsigned long long)st->heat[1],
	       (unsigned long long)st->heat[2], (unsigned long long)st->heat[3],
	       (unsigned long long)st->heat[4], (unsigned long long)st->heat[5],
	       (unsigned long long)st->heat[6], (unsigned long long)st->heat[7],
	       (unsigned long long)st->sample_passes,
	       (unsigned long long)st->sample_dropped,
	       (unsigned long long)st->sample_files,
	       (unsigned long long)st->snapshots,
	       (unsigned long long)st->snap_bytes,
	       (unsigned long long)st->remap_busy);
}

static void print_persist(const struct mmfs_ioc_stat *st)
{
	char a[32], b[32];

	if (!st->persistent && !st->slow_tier)
		return;
	mmfs_size_format(st->log_used, a, sizeof(a));
	mmfs_size_format(st->writeback_bytes, b, sizeof(b));
	if (st->persistent)
		printf("  pool:   %llu commits, %llu checkpoints, log %s in "
		       "use, %s written back\n",
		       (unsigned long long)st->commits,
		       (unsigned long long)st->checkpoints, a, b);
	mmfs_size_format(st->moved_bytes, a, sizeof(a));
	printf("  tiering: %llu epochs, %llu promoted, %llu demoted, %s "
	       "moved, %llu deferred\n",
	       (unsigned long long)st->epochs,
	       (unsigned long long)st->promotions,
	       (unsigned long long)st->demotions, a,
	       (unsigned long long)st->remap_busy);
	printf("  heat:   0:%llu 1:%llu 2-3:%llu 4-7:%llu 8-15:%llu 16-31:%llu "
	       "32-63:%llu 64+:%llu chunks\n",
	       (unsigned long long)st->heat[0], (unsigned long long)st->heat[1],
	       (unsigned long long)st->heat[2], (unsigned long long)st->heat[3],
	       (unsigned long long)st->heat[4], (unsigned long long)st->heat[5],
	       (unsigned long long)st->heat[6],
	       (unsigned long long)st->heat[7]);
	if (st->sample_passes || st->sample_files)
		printf("  sample: %llu passes, %llu chunk ranges dropped from "
		       "the page cache, %llu files open cached\n",
		       (unsigned long long)st->sample_passes,
		       (unsigned long long)st->sample_dropped,
		       (unsigned long long)st->sample_files);
}

static int cmd_sync(int argc, char *argv[])
{
	int fd, rc = 0;

	if (argc != 3) {
		usage(stderr);
		return 2;
	}
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "mmfsctl: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (ioctl(fd, MMFS_IOC_SYNC) < 0) {
		fprintf(stderr, "mmfsctl: %s: %s\n", argv[2],
			errno == ENOTTY ? "not on an mmfs mount"
					: strerror(errno));
		rc = 1;
	}
	close(fd);
	return rc;
}

/* --- mmfsctl top ------------------------------------------------------------ */

#define TOP_BAR 30 /* columns of the longest histogram bar */

/* top_delta -- (internal) growth of a counter; 0 if it went back (remount) */
static uint64_t top_delta(uint64_t cur, uint64_t prev)
{
	return cur >= prev ? cur - prev : 0;
}

/* top_rate -- (internal) "12.5/s", or "-" with no previous snapshot */
static void top_rate(char *buf, size_t len, uint64_t cur, uint64_t prev,
		     double dt)
{
	if (dt <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f/s",
			 (double)top_delta(cur, prev) / dt);
}

/* top_byte_rate -- (internal) "1.5M/s", or "-" */
static void top_byte_rate(char *buf, size_t len, uint64_t cur, uint64_t prev,
			  double dt)
{
	char sz[32];

	if (dt <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	mmfs_size_format((uint64_t)((double)top_delta(cur, prev) / dt), sz,
			 sizeof(sz));
	snprintf(buf, len, "%s/s", sz);
}

/* top_tier -- (internal) one tier's use as a line with a bar */
static void top_tier(const char *name, uint64_t used, uint64_t total)
{
	double f = total ? (double)used / (double)total : 0;
	char a[32], b[32], bar[TOP_BAR + 1];
	int n = (int)(f * TOP_BAR + 0.5), i;

	mmfs_size_format(used, a, sizeof(a));
	mmfs_size_format(total, b, sizeof(b));
	for (i = 0; i < TOP_BAR; i++)
		bar[i] = i < n ? '#' : '.';
	bar[TOP_BAR] = '\0';
	printf("  %-8s %8s of %-8s %5.1f%% [%s]\n", name, a, b, 100 * f, bar);
}

/*
 * top_print -- (internal) one snapshot. Rates are deltas from @prev over
 * @dt, the time measured between the two ioctls (not the asked interval,
 * which a slow ioctl or a busy machine stretches); @dt 0 means none yet.
 */
static void top_print(const char *path, const struct mmfs_ioc_stat *st,
		      const struct mmfs_ioc_stat *prev, double dt,
		      double interval)
{
	static const char *const bucket[8] = {
		"0", "1", "2-3", "4-7", "8-15", "16-31", "32-63", "64+",
	};
	char r1[48], r2[48], r3[48], r4[48], a[32], b[32], when[16];
	uint64_t hmax = 0;
	time_t now = time(NULL);
	struct tm tm;
	int i, j, n;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("mmfs top %s  %s  every %.1fs\n", path, when, interval);
	top_tier("dram", st->dram_used, st->dram_total);
	if (st->pmem_total)
		top_tier(st->slow_tier ? "slow" : "pmem", st->pmem_used,
			 st->pmem_total);
	else
		printf("  %-8s none (volatile mount)\n", "pmem");
	mmfs_size_format(st->chunk_size, a, sizeof(a));
	top_rate(r1, sizeof(r1), st->chunk_allocs, prev->chunk_allocs, dt);
	top_rate(r2, sizeof(r2), st->chunk_frees, prev->chunk_frees, dt);
	top_rate(r3, sizeof(r3), st->enospc, prev->enospc, dt);
	printf("  %-8s %s allocated  %s freed  %s ENOSPC  (%s chunks; "
	       "%llu/%llu/%llu since mount)\n", "chunks", r1, r2, r3, a,
	       (unsigned long long)st->chunk_allocs,
	       (unsigned long long)st->chunk_frees,
	       (unsigned long long)st->enospc);
	mmfs_size_format(st->file_bytes, a, sizeof(a));
	mmfs_size_format(st->meta_bytes, b, sizeof(b));
	printf("  %-8s %llu inodes, %s apparent, %s metadata\n", "files",
	       (unsigned long long)st->inodes, a, b);
	if (!st->persistent && !st->slow_tier) {
		printf("  %-8s off (DRAM-only mount: no slow tier, no "
		       "engine)\n", "tiering");
		return;
	}
	top_rate(r1, sizeof(r1), st->promotions, prev->promotions, dt);
	top_rate(r2, sizeof(r2), st->demotions, prev->demotions, dt);
	top_byte_rate(r3, sizeof(r3), st->moved_bytes, prev->moved_bytes, dt);
	top_rate(r4, sizeof(r4), st->epochs, prev->epochs, dt);
	mmfs_size_format(st->moved_bytes, a, sizeof(a));
	printf("  %-8s %s promoted  %s demoted  %s moved  %s epochs  "
	       "(%llu/%llu/%s, %llu epochs since mount)\n", "tiering", r1, r2,
	       r3, r4, (unsigned long long)st->promotions,
	       (unsigned long long)st->demotions, a,
	       (unsigned long long)st->epochs);
	top_rate(r1, sizeof(r1), st->commits, prev->commits, dt);
	top_rate(r2, sizeof(r2), st->checkpoints, prev->checkpoints, dt);
	top_byte_rate(r3, sizeof(r3), st->writeback_bytes,
		      prev->writeback_bytes, dt);
	mmfs_size_format(st->log_used, a, sizeof(a));
	if (st->persistent)
		printf("  %-8s %s commits  %s checkpoints  %s written back  "
		       "(log %s in use)\n", "pool", r1, r2, r3, a);
	for (i = 0; i < 8; i++)
		hmax = st->heat[i] > hmax ? st->heat[i] : hmax;
	printf("  %-8s chunks by heat (accesses, x3/4 every epoch)\n",
	       "heat");
	for (i = 0; i < 8; i++) {
		/* Any non-empty bucket gets a mark, however small. */
		n = hmax ? (int)((st->heat[i] * TOP_BAR + hmax - 1) / hmax) : 0;
		printf("  %8s %10llu ", bucket[i],
		       (unsigned long long)st->heat[i]);
		for (j = 0; j < n; j++)
			putchar('#');
		putchar('\n');
	}
}

static double top_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * cmd_top -- MMFS_IOC_STAT every interval until interrupted, or @count
 * times. The mount is opened afresh for each snapshot, so that watching
 * it never makes an unmount fail with EBUSY. The screen is cleared (ANSI)
 * only on a terminal; piped output is a plain sequence of snapshots.
 */
static int cmd_top(int argc, char *argv[])
{
	struct mmfs_ioc_stat st, prev;
	const char *path = NULL;
	double interval = 1, t, t_prev = 0;
	struct timespec ts;
	long count = 0, k;
	bool tty = isatty(STDOUT_FILENO);
	char *end;
	int i;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--interval") && i + 1 < argc) {
			interval = strtod(argv[++i], &end);
			if (*end || !(interval >= 0.1 && interval <= 3600))
				goto bad;
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			count = strtol(argv[++i], &end, 10);
			if (*end || count < 1)
				goto bad;
		} else if (!path && argv[i][0] != '-') {
			path = argv[i];
		} else {
			goto bad;
		}
	}
	if (!path)
		goto bad;
	memset(&prev, 0, sizeof(prev));
	for (k = 0; count == 0 || k < count; k++) {
		if (k) {
			ts.tv_sec = (time_t)interval;
			ts.tv_nsec = (long)((interval - (double)ts.tv_sec) *
					    1e9);
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
		if (get_stat(path, &st) < 0)
			return 1;
		t = top_now();
		if (tty)
			fputs("\033[H\033[2J", stdout);
		else if (k)
			putchar('\n');
		top_print(path, &st, &prev, k ? t - t_prev : 0, interval);
		fflush(stdout);
		prev = st;
		t_prev = t;
	}
	return 0;
bad:
	usage(stderr);
	return 2;
}

/* --- mmfsctl clone ---------------------------------------------------------- */

/* clone_err -- (internal) the one line of a failed clone; returns 1 */
static int clone_err(const char *src, const char *dst, const char *why)
{
	fprintf(stderr, "mmfsctl: clone %s %s: %s\n", src, dst, why);
	return 1;
}

/*
 * cmd_clone -- DST becomes a copy-on-write clone of SRC: every chunk
 * shared, no byte copied. mmfs shares chunks in copy_file_range wherever
 * source and destination offsets agree within a chunk, and 0 to 0 always
 * does (fs/data.c fs_data_copy; the last partial chunk too, since DST is
 * empty beyond the range). So this is copy_file_range(SRC, 0, DST, 0) in a
 * loop (one request shares at most 1 GiB), after the checks that make it
 * share: SRC a regular file on an mmfs mount (MMFS_IOC_STAT answers on
 * it), DST on the same mount. There is no read/write fallback: a clone
 * that cannot share fails, and a DST it created is removed. cp's rules
 * for the mode: a new DST gets SRC's permission bits minus the umask, an
 * existing one (--force: truncated first) keeps its own.
 */
static int cmd_clone(int argc, char *argv[])
{
	const char *src = NULL, *dst = NULL;
	char dir[PATH_MAX], why[PATH_MAX + 64];
	struct mmfs_ioc_stat ist;
	struct stat ss, ds;
	bool force = false, created = false;
	int sfd, dfd = -1, i, rc = 1;
	loff_t in = 0, out = 0;
	ssize_t n;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f"))
			force = true;
		else if (!src && argv[i][0] != '-')
			src = argv[i];
		else if (!dst && argv[i][0] != '-')
			dst = argv[i];
		else
			src = dst = NULL, i = argc;
	}
	if (!src || !dst) {
		usage(stderr);
		return 2;
	}
	sfd = open(src, O_RDONLY | O_CLOEXEC);
	if (sfd < 0)
		return clone_err(src, dst, strerror(errno));
	if (fstat(sfd, &ss) < 0) {
		clone_err(src, dst, strerror(errno));
		goto out_src;
	}
	if (!S_ISREG(ss.st_mode)) {
		clone_err(src, dst, S_ISDIR(ss.st_mode)
				    ? "SRC is a directory"
				    : "SRC is not a regular file");
		goto out_src;
	}
	memset(&ist, 0, sizeof(ist));
	if (ioctl(sfd, MMFS_IOC_STAT, &ist) < 0) {
		clone_err(src, dst, "SRC is not on an mmfs mount");
		goto out_src;
	}
	/* DST's directory first: nothing is created on another mount. */
	snprintf(dir, sizeof(dir), "%s", dst);
	if (stat(dirname(dir), &ds) < 0) {
		snprintf(why, sizeof(why), "%s: %s", dir, strerror(errno));
		clone_err(src, dst, why);
		goto out_src;
	}
	if (ds.st_dev != ss.st_dev) {
		clone_err(src, dst, "DST is not on the same mount as SRC");
		goto out_src;
	}
	dfd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		   ss.st_mode & 0777);
	if (dfd >= 0) {
		created = true;
	} else if (errno == EEXIST && force) {
		dfd = open(dst, O_WRONLY | O_CLOEXEC);
	} else if (errno == EEXIST) {
		clone_err(src, dst, "DST exists (--force replaces its "
				    "contents)");
		goto out_src;
	}
	if (dfd < 0) {
		clone_err(src, dst, strerror(errno));
		goto out_src;
	}
	if (fstat(dfd, &ds) < 0) {
		clone_err(src, dst, strerror(errno));
		goto out_dst;
	}
	if (!S_ISREG(ds.st_mode)) {
		clone_err(src, dst, "DST is not a regular file");
		goto out_dst;
	}
	if (ds.st_dev != ss.st_dev) { /* a mount point raced in */
		clone_err(src, dst, "DST is not on the same mount as SRC");
		goto out_dst;
	}
	if (ds.st_ino == ss.st_ino) {
		clone_err(src, dst, "SRC and DST are the same file");
		goto out_dst;
	}
	if (!created && ftruncate(dfd, 0) < 0) {
		clone_err(src, dst, strerror(errno));
		goto out_dst;
	}
	while (in < ss.st_size) {
		n = copy_file_range(sfd, &in, dfd, &out,
				    (size_t)(ss.st_size - in), 0);
		if (n == 0)
			break; /* SRC shrank meanwhile: DST is what it holds */
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno == EXDEV)
			clone_err(src, dst, "DST is not on the same mount as "
					    "SRC");
		else if (errno == EOPNOTSUPP || errno == ENOSYS ||
			 errno == EINVAL)
			clone_err(src, dst, "this mmfs or kernel cannot share "
					    "chunks (copy_file_range refused)");
		else if (errno == ENOSPC || errno == ENOMEM)
			clone_err(src, dst, "no memory left for the chunk map "
					    "(ENOSPC)");
		else
			clone_err(src, dst, strerror(errno));
		goto out_dst;
	}
	if (close(dfd) < 0) {
		dfd = -1;
		clone_err(src, dst, strerror(errno));
		goto out_dst;
	}
	dfd = -1;
	rc = 0;
out_dst:
	if (dfd >= 0)
		close(dfd);
	if (rc && created)
		unlink(dst);
out_src:
	close(sfd);
	return rc;
}

static int cmd_mkfs(int argc, char *argv[])
{
	struct mmfs_pool_mkfs_opts o = { .chunk_size = MMFS_CHUNK_DEFAULT };
	char why[MMFS_POOL_WHY];
	const char *path = NULL;
	struct mmfs_pool *p;
	bool force = false;
	uint64_t v;
	int i, rc;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--force")) {
			force = true;
		} else if (!strcmp(argv[i], "--sparse")) {
			o.sparse = true;
		} else if (!strcmp(argv[i], "--meta") && i + 1 < argc) {
			if (mmfs_size_parse(argv[++i], &o.meta_bytes) < 0)
				goto bad;
		} else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			if (mmfs_size_parse(argv[++i], &o.size) < 0)
				goto bad;
		} else if (!strcmp(argv[i], "--chunk") && i + 1 < argc) {
			if (mmfs_size_parse(argv[++i], &v) < 0 ||
			    v > MMFS_CHUNK_MAX)
				goto bad;
			o.chunk_size = (uint32_t)v;
		} else if (!path && argv[i][0] != '-') {
			path = argv[i];
		} else {
			goto bad;
		}
	}
	if (!path)
		goto bad;
	/* Never format over a pool by accident. */
	rc = mmfs_pool_open(path, MMFS_POOL_RDONLY, &p, why);
	if (rc == 0 || rc == -EBUSY || rc == -EUCLEAN || rc == -EPROTO) {
		if (rc == 0)
			mmfs_pool_close(&p);
		if (rc == -EBUSY || !force) {
			pool_err(path, rc == -EBUSY ? why
					  : "holds an mmfs pool (use --force "
					    "to format it anyway)");
			return 1;
		}
	}
	rc = mmfs_pool_mkfs(path, &o, why);
	if (rc < 0) {
		pool_err(path, why);
		return 1;
	}
	return 0;
bad:
	usage(stderr);
	return 2;
}

static int cmd_info(int argc, char *argv[])
{
	char why[MMFS_POOL_WHY], uuid[40];
	struct mmfs_pool_info i;
	struct mmfs_pool *p;
	bool json = argc == 4 && !strcmp(argv[3], "--json");
	const char *path = argv[2];
	char *u;
	int k, rc;

	if (argc == 4 && !strcmp(argv[2], "--json")) {
		json = true;
		path = argv[3];
	}
	if (argc < 3 || (argc == 4 && !json) || argc > 4) {
		usage(stderr);
		return 2;
	}
	rc = mmfs_pool_open(path, MMFS_POOL_RDONLY, &p, why);
	if (rc < 0) {
		pool_err(path, why);
		return rc == -EBUSY ? 2 : 1;
	}
	mmfs_pool_get_info(p, &i);
	mmfs_pool_close(&p);
	for (k = 0, u = uuid; k < 16; k++)
		u += sprintf(u, "%s%02x",
			     (k == 4 || k == 6 || k == 8 || k == 10) ? "-" : "",
			     i.uuid[k]);
	if (json) {
		printf("{\"version\":%u,\"uuid\":\"%s\",\"pool_bytes\":%llu,"
		       "\"chunk_size\":%u,\"nchunks\":%u,\"clean\":%s,"
		       "\"generation\":%llu,\"mounts\":%llu,"
		       "\"active_checkpoint\":%u,\"checkpoint_seq\":%llu,"
		       "\"checkpoint_bytes\":%llu,\"regions\":["
		       "{\"name\":\"sb0\",\"offset\":0,\"bytes\":%u},"
		       "{\"name\":\"sb1\",\"offset\":%u,\"bytes\":%u},"
		       "{\"name\":\"log\",\"offset\":%llu,\"bytes\":%llu},"
		       "{\"name\":\"ckpt0\",\"offset\":%llu,\"bytes\":%llu},"
		       "{\"name\":\"ckpt1\",\"offset\":%llu,\"bytes\":%llu},"
		       "{\"name\":\"data\",\"offset\":%llu,\"bytes\":%llu}]}\n",
		       i.version, uuid, (unsigned long long)i.pool_bytes,
		       i.chunk_size, i.nchunks, i.clean ? "true" : "false",
		       (unsigned long long)i.generation,
		       (unsigned long long)i.mounts, i.active_ckpt,
		       (unsigned long long)i.ckpt_seq,
		       (unsigned long long)i.ckpt_len, MMFS_POOL_SB_BYTES,
		       MMFS_POOL_SB_BYTES, MMFS_POOL_SB_BYTES,
		       (unsigned long long)i.log_off,
		       (unsigned long long)i.log_bytes,
		       (unsigned long long)i.ckpt_off[0],
		       (unsigned long long)i.ckpt_bytes,
		       (unsigned long long)i.ckpt_off[1],
		       (unsigned long long)i.ckpt_bytes,
		       (unsigned long long)i.data_off,
		       (unsigned long long)i.nchunks * i.chunk_size);
		return 0;
	}
	printf("%s: mmfs pool version %u, uuid %s\n", path, i.version, uuid);
	printf("  size %llu bytes, %u chunks of %u bytes, %s\n",
	       (unsigned long long)i.pool_bytes, i.nchunks, i.chunk_size,
	       i.clean ? "clean" : "not cleanly unmounted");
	printf("  log %llu+%llu, checkpoints %llu and %llu (%llu each; "
	       "active %u: %llu bytes, seq %llu), data at %llu\n",
	       (unsigned long long)i.log_off, (unsigned long long)i.log_bytes,
	       (unsigned long long)i.ckpt_off[0],
	       (unsigned long long)i.ckpt_off[1],
	       (unsigned long long)i.ckpt_bytes, i.active_ckpt,
	       (unsigned long long)i.ckpt_len, (unsigned long long)i.ckpt_seq,
	       (unsigned long long)i.data_off);
	printf("  mounted %llu times, superblock generation %llu\n",
	       (unsigned long long)i.mounts, (unsigned long long)i.generation);
	return 0;
}

static void fsck_report(void *arg, const char *kind, const char *msg)
{
	printf("fsck: %s: %s\n", kind, msg);
}

/*
 * cmd_fsck -- load the pool as a mount would (checkpoint + log replay) but
 * write nothing, then check the namespace. --repair mounts it for real
 * (replay, orphans freed), fixes what is safe and writes a checkpoint.
 */
static int cmd_fsck(int argc, char *argv[])
{
	struct mmfs_tier_opts to = { 0 };
	struct fs_persist_opts po = { .root_mode = 01777 };
	struct fs_persist_stat ps;
	struct mmfs_pool_info pi;
	struct mmfs_tier *tier = NULL;
	struct mmfs_snap *snap = NULL;
	struct mmfs_pool *pool = NULL;
	char why[MMFS_POOL_WHY];
	const char *path = NULL;
	struct fs *fs = NULL;
	bool repair = false;
	int i, k, rc, bad = 0;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--repair"))
			repair = true;
		else if (!path && argv[i][0] != '-')
			path = argv[i];
		else
			path = NULL, i = argc;
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	/* `umount; mmfsctl fsck` must work: wait for a daemon finishing. */
	rc = mmfs_pool_open(path,
			    (repair ? 0 : MMFS_POOL_RDONLY) | MMFS_POOL_WAIT,
			    &pool, why);
	if (rc == -EBUSY || rc == -EACCES || rc == -ENOENT || rc == -EISDIR) {
		pool_err(path, why);
		return 2;
	}
	if (rc < 0) {
		printf("fsck: finding: %s\n", why);
		return 1;
	}
	mmfs_pool_get_info(pool, &pi);
	for (k = 0; k < 2; k++) {
		if (!pi.sb_bad[k])
			continue;
		bad++;
		printf("fsck: %s: superblock copy %d is damaged (%s)%s\n",
		       repair ? "fixed" : "finding", k, strerror(-pi.sb_bad[k]),
		       repair ? ": rewritten from the other" : "");
	}
	if (!pi.clean)
		printf("fsck: note: not cleanly unmounted: the log is "
		       "replayed\n");
	to.pool = pool;
	po.rdonly = !repair;
	rc = mmfs_tier_new(&to, &tier);
	if (rc == 0)
		rc = mmfs_snap_new(tier, &snap);
	fs = calloc(1, sizeof(*fs));
	if (rc < 0 || !fs) {
		fprintf(stderr, "mmfsctl: %s: out of memory\n", path);
		rc = 2;
		goto out;
	}
	fs_init(fs, tier, snap);
	rc = fs_persist_open(fs, pool, &po, why);
	if (rc < 0) {
		printf("fsck: finding: %s\n", why[0] ? why : strerror(-rc));
		rc = 1;
		goto out_fs;
	}
	fs_persist_stat(fs, &ps);
	if (ps.replayed)
		printf("fsck: note: %llu log records replayed\n",
		       (unsigned long long)ps.replayed);
	if (ps.torn_tail)
		printf("fsck: note: the log ends in a record torn by a crash "
		       "(never acknowledged)\n");
	if (ps.orphans_freed)
		printf("fsck: note: %llu inodes unlinked but still in use at "
		       "the crash: %s\n", (unsigned long long)ps.orphans_freed,
		       repair ? "freed" : "freed at the next mount");
	if (ps.alloc_mismatch) {
		bad += !repair;
		printf("fsck: %s: %d chunks allocated in the checkpoint "
		       "disagree with the maps%s\n",
		       repair ? "fixed" : "finding", ps.alloc_mismatch,
		       repair ? ": allocation rebuilt" : "");
	}
	rc = fs_check(fs, repair, fsck_report, NULL);
	if (rc < 0) {
		fprintf(stderr, "mmfsctl: %s: out of memory\n", path);
		rc = 2;
		goto out_close;
	}
	/*
	 * Unfixed findings make exit 1. A repair writes a checkpoint of the
	 * fixed namespace; superblock writes alternate between the copies,
	 * and the close below writes the second one.
	 */
	if (repair && (fs_persist_checkpoint(fs) < 0 ||
		       mmfs_pool_set_clean(pool, false) < 0)) {
		printf("fsck: finding: cannot write the repaired pool\n");
		rc++;
	}
	if (!repair)
		rc += bad;
	rc = rc ? 1 : 0;
	if (!rc)
		printf("fsck: %s: clean\n", path);
out_close:
	/* A repair leaves the pool clean (the final checkpoint covers it). */
	if (fs_persist_close(fs, repair) < 0)
		rc = 1;
out_fs:
	fs_fini(fs);
out:
	free(fs);
	mmfs_snap_free(&snap);
	mmfs_tier_free(&tier);
	mmfs_pool_close(&pool);
	return rc;
}

int main(int argc, char *argv[])
{
	struct mmfs_ioc_stat st;
	const char *path = NULL;
	int json = 0;
	int i;

	if (argc >= 2 && (!strcmp(argv[1], "--version") ||
			  !strcmp(argv[1], "-V"))) {
		printf("mmfsctl %s\n", MMFS_VERSION);
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "--help") ||
			  !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "sync"))
		return cmd_sync(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "top"))
		return cmd_top(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "clone"))
		return cmd_clone(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "mkfs"))
		return cmd_mkfs(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "info"))
		return cmd_info(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "fsck"))
		return cmd_fsck(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "snapshot"))
		return mmfsctl_snapshot(argc, argv);
	if (argc < 3 || strcmp(argv[1], "stat") != 0) {
		usage(stderr);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!path) {
			path = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	if (get_stat(path, &st) < 0)
		return 1;
	if (json) {
		print_json(&st);
	} else {
		print_human(path, &st);
		print_persist(&st);
	}
	return 0;
}

// SPDX-License-Identifier: Apache-2.0
/*
 * crashload.c -- workload and verifier for the crash test of persistent
 * pools (persist/crash.sh).
 *
 * Usage:
 *   crashload run DIR JOURNAL SEED ITER [SECONDS [BUDGET_KIB]]
 *   crashload mark DIR ITER
 *   crashload verify DIR JOURNAL ITER
 *
 * run: random operations inside DIR (the mount; it works in it by relative
 * paths) until SECONDS (default 60) pass or the filesystem goes away under
 * it (the daemon is SIGKILLed).
 *   - "durable" files: a new unique name below DIR/dur/, random content of
 *     0..300 KiB written in one of several ways (one write; several pwrites
 *     in random order; with holes by seeking past them; through a shared
 *     mmap and msync(MS_SYNC); with truncates down and up), then fsync or
 *     fdatasync.  Only after that returns is "NAME XXH64 SIZE HOW" appended to
 *     JOURNAL (outside the mount; O_APPEND, one write per line).  A durable
 *     file is never touched again.  At most BUDGET_KIB (default 4096) of
 *     durable files per run, each counted in whole 64 KiB chunks (at least
 *     one); then only churn.
 *   - churn on scratch names below DIR/s/: create, write, overwrite, rename
 *     (also over an existing name), unlink, truncate, mkdir, rmdir, link,
 *     symlink, setxattr/removexattr, fallocate and hole punching, reads,
 *     readdir, and now and then an fsync of a scratch file or a directory.
 *     Expected errors of random names (ENOENT, EEXIST, ENOTEMPTY, ...) are
 *     ignored.
 *   ENOTCONN, ECONNABORTED, EIO (and SIGBUS from a mapping) mean that the
 *   daemon is gone: exit 3 quietly.  Any other error: message, exit 1.
 *   Runs out of time: exit 0.
 *
 * mark: create DIR/markers/m<ITER> ("marker ITER\n"), fsync it, its
 * directory and DIR; exit 0 or 1.
 *
 * verify: every JOURNAL line names a file that exists with that size and
 * xxh64; markers m0..m<ITER> exist and read right; and the whole tree is
 * consistent: every entry can be stat'ed, every regular file read to its
 * size, a directory's nlink is 2 + its subdirectories, a file's nlink is
 * the number of names it has.  Exit 0 if so, 1 (with one line per
 * problem) if not.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "xorshift.h"

#define MAXDUR (300 << 10)	/* largest durable file */
#define MAXSCRATCH (128 << 10)	/* largest scratch write */
#define NSDIRS 4		/* s/d0..s/d3 */
#define NSNAMES 24		/* leaf names per scratch dir */
#define MINFREE (48ull << 20)	/* below this, stop adding data */
#define MAXDURFILES 400		/* durable files per run */
#define CHUNK (64 << 10)	/* the default chunk: small files take one */

static const char *dir, *journal;
static int jfd = -1;
static long nops[2];		/* durable, churn */

static void fill(unsigned char *b, size_t n)
{
	uint64_t v = rnd() | 1;

	for (size_t i = 0; i < n; i++) {
		if ((i & 7) == 0)
			v = v * 6364136223846793005ULL + 1442695040888963407ULL;
		b[i] = (unsigned char)(v >> ((i & 7) * 8));
	}
}

/* gone -- (internal) the daemon went away: stop quietly */
static void gone(const char *what, int e)
{
	fprintf(stderr, "crashload: stopped at %s: %s (after %ld durable, "
		"%ld churn ops)\n", what, strerror(e), nops[0], nops[1]);
	exit(3);
}

static int is_gone(int e)
{
	return e == ENOTCONN || e == ECONNABORTED || e == EIO;
}

/* die -- (internal) an error the workload did not expect */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("crashload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* check -- (internal) rc < 0: disconnection stops, listed errors are
 * fine (returns 0), anything else dies.  Returns 1 on success. */
static int check(long rc, const char *what, const char *path,
		 const int *ok_errs)
{
	int e = errno;

	if (rc >= 0)
		return 1;
	if (is_gone(e))
		gone(what, e);
	for (; ok_errs && *ok_errs; ok_errs++)
		if (*ok_errs == e)
			return 0;
	die("%s %s: %s", what, path ? path : "", strerror(e));
	return 0;
}

static const int ok_space[] = { ENOSPC, 0 };
static const int ok_name[] = { ENOENT, EEXIST, ENOTEMPTY, ENOTDIR, EISDIR,
			       ENOSPC, EMLINK, ENODATA, EBUSY, 0 };
static const int ok_link[] = { ENOENT, EEXIST, ENOTDIR, ENOSPC, EMLINK,
			       EPERM /* a directory */, 0 };

static void sigbus(int sig)
{
	static const char m[] = "crashload: SIGBUS on a mapping "
				"(daemon gone)\n";

	(void)sig;
	if (write(2, m, sizeof(m) - 1) < 0)
		_exit(3);
	_exit(3);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int low_space(void)
{
	struct statvfs sv;

	if (statvfs(dir, &sv) < 0) {
		check(-1, "statvfs", dir, NULL);
		return 1;
	}
	return (uint64_t)sv.f_bavail * sv.f_frsize < MINFREE;
}

/* write_all -- (internal) pwrite a whole range; 0 or -1 with errno */
static int write_all(int fd, const unsigned char *b, size_t n, off_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, b, n, off);

		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		b += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/*
 * Durable files.  The model is the buffer @m of @size bytes; holes are
 * zeros in it.  Each writer returns 0, or -1 with errno.
 */
static int dur_one_write(int fd, unsigned char *m, size_t size)
{
	return write_all(fd, m, size, 0);
}

/* dur_pieces -- (internal) the whole file in 1..8 pieces, in random order */
static int dur_pieces(int fd, unsigned char *m, size_t size)
{
	size_t cut[9], order[8], n = 1 + below(8);

	cut[0] = 0;
	for (size_t i = 1; i < n; i++)
		cut[i] = below(size + 1);
	cut[n] = size;
	for (size_t i = 1; i < n; i++)		/* sort cut[1..n-1] */
		for (size_t j = i; j > 1 && cut[j - 1] > cut[j]; j--) {
			size_t t = cut[j];

			cut[j] = cut[j - 1];
			cut[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = below(i), t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	for (size_t k = 0; k < n; k++) {
		size_t i = order[k];

		if (write_all(fd, m + cut[i], cut[i + 1] - cut[i],
			      (off_t)cut[i]) < 0)
			return -1;
	}
	return 0;
}

/* dur_holes -- (internal) zero some ranges of the model and seek past them */
static int dur_holes(int fd, unsigned char *m, size_t size)
{
	size_t pos = 0;

	while (pos < size) {
		size_t len = 1 + below(64 << 10);

		if (len > size - pos)
			len = size - pos;
		if (rnd() & 1) {
			memset(m + pos, 0, len);	/* a hole */
		} else {
			/* a short write (a full pool) must not leave a
			 * stale errno behind: write_all loops to the error */
			if (write_all(fd, m + pos, len, (off_t)pos) < 0)
				return -1;
		}
		pos += len;
	}
	return ftruncate(fd, (off_t)size);	/* a trailing hole */
}

static int dur_mmap(int fd, unsigned char *m, size_t size)
{
	unsigned char *p;

	if (ftruncate(fd, (off_t)size) < 0)
		return -1;
	if (!size)
		return 0;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	if (rnd() & 1) {
		memcpy(p, m, size);
	} else {
		/* only some pages; the others stay holes */
		for (size_t o = 0; o < size; o += 4096) {
			size_t l = size - o < 4096 ? size - o : 4096;

			if (rnd() % 3)
				memcpy(p + o, m + o, l);
			else
				memset(m + o, 0, l);
		}
	}
	if (msync(p, size, MS_SYNC) < 0) {
		int e = errno;

		munmap(p, size);
		errno = e;
		return -1;
	}
	return munmap(p, size);
}

static int dur_truncate(int fd, unsigned char *m, size_t size)
{
	size_t extra = below(64 << 10), t = below(size + 1);
	unsigned char *big = malloc(size + extra);
	int rc;

	if (!big)
		die("out of memory");
	memcpy(big, m, size);
	fill(big + size, extra);
	rc = write_all(fd, big, size + extra, 0);
	free(big);
	if (rc < 0)
		return -1;
	/* down to t, then back up: [t, size) reads as zeros */
	if (ftruncate(fd, (off_t)t) < 0)
		return -1;
	memset(m + t, 0, size - t);
	if (rnd() & 1) {
		size_t l = below(size - t + 1);

		if (write_all(fd, m + t, l, (off_t)t) < 0) /* zeros, written */
			return -1;
	}
	return ftruncate(fd, (off_t)size);
}

/* the ways a durable file is written (holes twice: the most varied) */
static const struct {
	const char *name;
	int (*fn)(int fd, unsigned char *m, size_t size);
} writers[] = {
	{ "one_write", dur_one_write }, { "pieces", dur_pieces },
	{ "holes", dur_holes },		{ "mmap", dur_mmap },
	{ "truncate", dur_truncate },	{ "holes", dur_holes },
};
#define NWRITERS (sizeof(writers) / sizeof(writers[0]))

/* model_path -- (internal) where this run keeps durable file @name's bytes */
static void model_path(char *p, size_t n, const char *journal_path,
		       const char *name)
{
	int len = snprintf(p, n, "%s.model/", journal_path);

	for (; *name && len + 1 < (int)n; name++)
		p[len++] = *name == '/' ? '_' : *name;
	p[len] = '\0';
}

/*
 * journal_add -- (internal) @name is durable. Its bytes are also kept
 * beside the journal (JOURNAL.model/, which crash.sh empties every
 * iteration) so that a verify that finds it changed can say which pages
 * differ and how: the journal's hash alone says only that it did.
 */
static void journal_add(const char *name, const unsigned char *m, size_t n,
			const char *how)
{
	char line[PATH_MAX + 64], p[PATH_MAX];
	int len, fd;

	model_path(p, sizeof(p), journal, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		if (write_all(fd, m, n, 0) < 0)
			die("model %s: %s", p, strerror(errno));
		close(fd);
	} else if (errno != ENOENT) {
		die("model %s: %s", p, strerror(errno));
	}
	len = snprintf(line, sizeof(line), "%s %016" PRIx64 " %zu %s\n", name,
		       (uint64_t)XXH64(m, n, 0), n, how);
	if (write(jfd, line, (size_t)len) != len)
		die("journal %s: %s", journal, strerror(errno));
}

/* cost -- (internal) what a durable file may take: whole 64 KiB chunks */
static size_t cost(size_t size)
{
	return size < CHUNK ? CHUNK : (size + CHUNK - 1) / CHUNK * CHUNK;
}

static void op_durable(int iter, long seq, size_t *budget)
{
	static unsigned char m[MAXDUR];
	char name[128], path[PATH_MAX], desc[32];
	size_t size;
	int fd, rc, how = (int)below(NWRITERS), data_only;

	/* a few live in per-iteration subdirectories made on the way */
	if (below(4) == 0) {
		snprintf(name, sizeof(name), "dur/i%d/n%ld", iter, seq % 5);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		check(mkdir(path, 0755), "mkdir", path, ok_name);
		snprintf(name, sizeof(name), "dur/i%d/n%ld/f%ld", iter,
			 seq % 5, seq);
	} else {
		snprintf(name, sizeof(name), "dur/i%d/f%ld", iter, seq);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	switch (below(8)) {
	case 0: size = 0; break;
	case 1: size = below(4096); break;
	default: size = below(MAXDUR + 1); break;
	}
	if (cost(size) > *budget)
		size = below(4096);
	if (cost(size) > *budget)
		return;		/* the budget is spent: churn only */
	fill(m, size);
	fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0644);
	if (!check(fd, "create", path, ok_space))
		return;
	rc = writers[how].fn(fd, m, size);
	if (!check(rc, "write durable", path, ok_space)) {
		close(fd);
		return;	/* never journaled, never touched again */
	}
	data_only = rnd() & 1;
	rc = data_only ? fdatasync(fd) : fsync(fd);
	if (!check(rc, "fsync durable", path, ok_space)) {
		close(fd);
		return;
	}
	close(fd);
	snprintf(desc, sizeof(desc), "%s,%s", writers[how].name,
		 data_only ? "fdatasync" : "fsync");
	journal_add(name, m, size, desc);
	*budget -= cost(size);
	nops[0]++;
}

static void sname(char *p, size_t n)
{
	static const char *kind[] = { "x", "x", "x", "y" };

	snprintf(p, n, "%s/s/d%d/%s%d", dir, (int)below(NSDIRS),
		 kind[below(4)], (int)below(NSNAMES));
}

static void op_churn(int low)
{
	static unsigned char b[MAXSCRATCH];
	char a[PATH_MAX], c[PATH_MAX + 8];
	int fd, r = (int)below(100);
	size_t len;
	off_t off;

	sname(a, sizeof(a));
	sname(c, sizeof(c));
	nops[1]++;
	if (low && r < 30)
		r = 40 + (int)below(10);	/* only give space back */
	if (r < 18) {		/* create / write / overwrite */
		int fl = O_CREAT | O_WRONLY | ((rnd() & 3) ? 0 : O_TRUNC);

		fd = open(a, fl, 0644);
		if (!check(fd, "open", a, ok_name))
			return;
		len = below(MAXSCRATCH + 1);
		off = (off_t)below(256 << 10);
		fill(b, len);
		check(write_all(fd, b, len, off), "write", a, ok_space);
		close(fd);
	} else if (r < 24) {	/* a file inside a scratch directory */
		snprintf(c, sizeof(c), "%s/f", a);
		fd = open(c, O_CREAT | O_WRONLY, 0600);
		if (!check(fd, "open", c, ok_name))
			return;
		len = below(8192);
		fill(b, len);
		check(write_all(fd, b, len, 0), "write", c, ok_space);
		close(fd);
	} else if (r < 30) {	/* fallocate, or punch a hole */
		fd = open(a, O_WRONLY);
		if (!check(fd, "open", a, ok_name))
			return;
		off = (off_t)below(256 << 10);
		len = 1 + below(128 << 10);
		if (rnd() & 1)
			check(fallocate(fd, FALLOC_FL_PUNCH_HOLE |
					FALLOC_FL_KEEP_SIZE, off, (off_t)len),
			      "punch", a, ok_space);
		else
			check(fallocate(fd, (rnd() & 1) ? FALLOC_FL_KEEP_SIZE
					: 0, off, (off_t)len),
			      "fallocate", a, ok_space);
		close(fd);
	} else if (r < 40) {	/* rename, over whatever is there */
		check(rename(a, c), "rename", a, ok_name);
	} else if (r < 47) {
		check(unlink(a), "unlink", a, ok_name);
	} else if (r < 52) {
		check(truncate(a, (off_t)below(300 << 10)), "truncate", a,
		      ok_name);
	} else if (r < 57) {
		check(mkdir(a, 0755), "mkdir", a, ok_name);
	} else if (r < 62) {
		check(rmdir(a), "rmdir", a, ok_name);
	} else if (r < 67) {
		check(link(a, c), "link", a, ok_link);
	} else if (r < 71) {
		char t[32];

		snprintf(t, sizeof(t), "target-%d", (int)below(1000));
		check(symlink(t, c), "symlink", c, ok_name);
	} else if (r < 78) {	/* xattrs */
		char k[32];

		snprintf(k, sizeof(k), "user.k%d", (int)below(6));
		if (rnd() % 4) {
			len = below(200);
			fill(b, len);
			check(setxattr(a, k, b, len, 0), "setxattr", a,
			      ok_name);
		} else {
			check(removexattr(a, k), "removexattr", a, ok_name);
		}
	} else if (r < 83) {	/* fsync a scratch file */
		fd = open(a, O_RDONLY);
		if (!check(fd, "open", a, ok_name))
			return;
		check(fsync(fd), "fsync", a, ok_space);
		close(fd);
	} else if (r < 87) {	/* fsync a directory */
		snprintf(c, sizeof(c), "%s/s/d%d", dir, (int)below(NSDIRS));
		fd = open(rnd() & 1 ? c : dir, O_RDONLY | O_DIRECTORY);
		if (!check(fd, "open dir", c, ok_name))
			return;
		check(fsync(fd), "fsync dir", c, ok_space);
		close(fd);
	} else if (r < 94) {	/* read */
		fd = open(a, O_RDONLY);
		if (!check(fd, "open", a, ok_name))
			return;
		while (1) {
			ssize_t n = read(fd, b, sizeof(b));

			if (n == 0 || !check(n, "read", a, ok_name))
				break;
		}
		close(fd);
	} else {		/* readdir */
		DIR *d;
		struct dirent *de;

		snprintf(c, sizeof(c), "%s/s/d%d", dir, (int)below(NSDIRS));
		d = opendir(c);
		if (!d) {
			check(-1, "opendir", c, ok_name);
			return;
		}
		errno = 0;
		while ((de = readdir(d)))
			;
		if (errno)
			check(-1, "readdir", c, ok_name);
		closedir(d);
	}
}

static int do_run(int argc, char **argv)
{
	char p[PATH_MAX];
	double end;
	size_t budget;
	int iter;
	long seq = 0;

	if (argc < 6)
		die("usage: run DIR JOURNAL SEED ITER [SECONDS [BUDGET_KIB]]");
	dir = argv[2];
	journal = argv[3];
	rs = strtoull(argv[4], NULL, 0) * 0x9E3779B97F4A7C15ULL + 1;
	iter = atoi(argv[5]);
	end = now() + (argc > 6 ? atof(argv[6]) : 60);
	budget = (size_t)(argc > 7 ? atol(argv[7]) : 4096) << 10;
	signal(SIGBUS, sigbus);
	jfd = open(journal, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (jfd < 0)
		die("journal %s: %s", journal, strerror(errno));
	/*
	 * Work relative to the mount: once the dead mount is lazily
	 * unmounted, a path from / would reach the empty mountpoint below
	 * it, while "." stays on the dead filesystem (ENOTCONN).
	 */
	if (chdir(dir) < 0)
		check(-1, "chdir", dir, NULL);
	dir = ".";
	snprintf(p, sizeof(p), "%s/dur", dir);
	check(mkdir(p, 0755), "mkdir", p, ok_name);
	snprintf(p, sizeof(p), "%s/dur/i%d", dir, iter);
	check(mkdir(p, 0755), "mkdir", p, ok_name);
	snprintf(p, sizeof(p), "%s/s", dir);
	check(mkdir(p, 0755), "mkdir", p, ok_name);
	for (int i = 0; i < NSDIRS; i++) {
		snprintf(p, sizeof(p), "%s/s/d%d", dir, i);
		check(mkdir(p, 0755), "mkdir", p, ok_name);
	}
	while (now() < end) {
		int low = (nops[0] + nops[1]) % 32 == 0 ? low_space() : 0;

		if (below(100) < 25 && !low && nops[0] < MAXDURFILES)
			op_durable(iter, seq++, &budget);
		else
			op_churn(low);
	}
	fprintf(stderr, "crashload: time is up (%ld durable, %ld churn ops)\n",
		nops[0], nops[1]);
	return 0;
}

static int fsync_path(const char *p)
{
	int fd = open(p, O_RDONLY), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int do_mark(int argc, char **argv)
{
	char p[PATH_MAX], m[64];
	int fd, n;

	if (argc != 4)
		die("usage: mark DIR ITER");
	snprintf(p, sizeof(p), "%s/markers", argv[2]);
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		die("mkdir %s: %s", p, strerror(errno));
	snprintf(p, sizeof(p), "%s/markers/m%s", argv[2], argv[3]);
	n = snprintf(m, sizeof(m), "marker %s\n", argv[3]);
	fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
	if (fd < 0)
		die("create %s: %s", p, strerror(errno));
	if (write_all(fd, (unsigned char *)m, (size_t)n, 0) < 0 ||
	    fsync(fd) < 0)
		die("write+fsync %s: %s", p, strerror(errno));
	close(fd);
	snprintf(p, sizeof(p), "%s/markers", argv[2]);
	if (fsync_path(p) < 0 || fsync_path(argv[2]) < 0)
		die("fsync of the directories: %s", strerror(errno));
	return 0;
}

/*
 * verify
 */
struct name {
	ino_t ino;
	nlink_t nlink;
	char *path;
};

static struct name *names;
static size_t nnames, cap;
static long nbad;

static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bad(const char *fmt, ...)
{
	va_list ap;

	if (nbad++ >= 40)
		return;
	fputs("crashload verify: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void add_name(const char *path, const struct stat *st)
{
	if (nnames == cap) {
		cap = cap ? 2 * cap : 1024;
		names = realloc(names, cap * sizeof(*names));
		if (!names)
			die("out of memory");
	}
	names[nnames].ino = st->st_ino;
	names[nnames].nlink = st->st_nlink;
	names[nnames].path = strdup(path);
	if (!names[nnames].path)
		die("out of memory");
	nnames++;
}

static int by_ino(const void *a, const void *b)
{
	const struct name *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* check_nlinks -- (internal) a non-directory's nlink is its number of
 * names; returns the number of inodes */
static size_t check_nlinks(void)
{
	size_t i = 0, ninodes = 0;

	qsort(names, nnames, sizeof(*names), by_ino);
	while (i < nnames) {
		size_t j = i;

		while (j < nnames && names[j].ino == names[i].ino)
			j++;
		if (names[i].nlink != (nlink_t)(j - i))
			bad("%s (ino %ju): nlink %ju, %zu names in the tree",
			    names[i].path, (uintmax_t)names[i].ino,
			    (uintmax_t)names[i].nlink, j - i);
		ninodes++;
		i = j;
	}
	return ninodes;
}

/* read_whole -- (internal) read a file; returns bytes, or -1 */
static long read_whole(const char *path, unsigned char **buf)
{
	static unsigned char *b;
	static size_t bcap;
	size_t n = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	while (1) {
		ssize_t r;

		if (n == bcap) {
			bcap = bcap ? 2 * bcap : 1 << 20;
			b = realloc(b, bcap);
			if (!b)
				die("out of memory");
		}
		r = read(fd, b + n, bcap - n);
		if (r < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*buf = b;
	return (long)n;
}

static void walk(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	struct stat st, dst;
	long subdirs = 0;
	char p[PATH_MAX];

	if (!d) {
		bad("opendir %s: %s", path, strerror(errno));
		return;
	}
	if (fstat(dirfd(d), &dst) < 0)
		bad("fstat %s: %s", path, strerror(errno));
	while (1) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				bad("readdir %s: %s", path, strerror(errno));
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		if (lstat(p, &st) < 0) {
			bad("lstat %s (listed by readdir): %s", p,
			    strerror(errno));
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			subdirs++;
			walk(p);
			continue;
		}
		add_name(p, &st);
		if (S_ISREG(st.st_mode)) {
			unsigned char *b;
			long n = read_whole(p, &b);

			if (n < 0)
				bad("read %s: %s", p, strerror(errno));
			else if (n != st.st_size)
				bad("%s: read %ld bytes, st_size %jd", p, n,
				    (intmax_t)st.st_size);
		} else if (S_ISLNK(st.st_mode)) {
			char t[PATH_MAX];
			ssize_t n = readlink(p, t, sizeof(t));

			if (n < 0)
				bad("readlink %s: %s", p, strerror(errno));
			else if (n != st.st_size)
				bad("%s: link of %zd bytes, st_size %jd", p, n,
				    (intmax_t)st.st_size);
		}
	}
	closedir(d);
	if (dst.st_nlink != (nlink_t)(2 + subdirs))
		bad("directory %s: nlink %ju, has %ld subdirectories", path,
		    (uintmax_t)dst.st_nlink, subdirs);
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

static bool zeros(const unsigned char *b, size_t n)
{
	return !n || (!b[0] && !memcmp(b, b + 1, n - 1));
}

/* what [lo, hi) of @b (@n bytes long) holds, in a word */
static const char *what(const unsigned char *b, size_t n, size_t lo,
			size_t hi, const char *some)
{
	if (lo >= n)
		return "nothing (past its end)";
	return zeros(b + lo, min_sz(n, hi) - lo) ? "zeros" : some;
}

/*
 * model_diff -- (internal) say where durable @name's @n bytes read back
 * differ from the model this run kept: runs of differing 4 KiB pages,
 * narrowed to the byte, with their chunks and what each side holds there.
 * Only this iteration's files have a model (crash.sh empties the
 * directory every iteration).
 */
static void model_diff(const char *journal_path, const char *name,
		       const unsigned char *got, size_t n)
{
	const size_t pgsz = 4096, per_chunk = CHUNK / 4096;
	char p[PATH_MAX];
	unsigned char *want = malloc(MAXDUR + 1);
	size_t pg, run = SIZE_MAX, w, end;
	ssize_t r;
	int fd;

	if (!want)
		die("out of memory");
	model_path(p, sizeof(p), journal_path, name);
	fd = open(p, O_RDONLY);
	r = fd < 0 ? -1 : read(fd, want, MAXDUR + 1);
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		bad("  %s: no model to compare with (%s; only this "
		    "iteration's files have one)", name, strerror(errno));
		goto out;
	}
	w = (size_t)r;
	if (w != n)
		bad("  %s: the model has %zu bytes", name, w);
	end = n > w ? n : w;
	for (pg = 0; pg * pgsz < end; pg++) {
		size_t o = pg * pgsz, e = min_sz(o + pgsz, end);
		bool same = min_sz(n, e) == min_sz(w, e) && e <= min_sz(n, w) &&
			    !memcmp(got + o, want + o, e - o);
		size_t last, lo, hi;

		if (!same && run == SIZE_MAX)
			run = pg;
		if (run == SIZE_MAX || (!same && e < end))
			continue;
		/* a run ends: at a page that matches, or at the end */
		last = same ? pg - 1 : pg;
		lo = run * pgsz;
		hi = min_sz((last + 1) * pgsz, end);
		while (lo < hi && lo < min_sz(n, w) && got[lo] == want[lo])
			lo++;
		while (hi > lo && hi <= min_sz(n, w) && got[hi - 1] == want[hi - 1])
			hi--;
		bad("  %s: bytes %zu-%zu (pages %zu-%zu, chunks %zu-%zu) "
		    "differ: read %s, model %s", name, lo, hi - 1, run, last,
		    run / per_chunk, last / per_chunk,
		    what(got, n, lo, hi, "other bytes"),
		    what(want, w, lo, hi, "data"));
		run = SIZE_MAX;
	}
out:
	free(want);
}

static int do_verify(int argc, char **argv)
{
	char line[PATH_MAX + 64], name[PATH_MAX], p[PATH_MAX + 8], how[32];
	FILE *j;
	long lines = 0;
	uint64_t durable = 0, lost = 0;
	size_t ninodes;
	int iter;

	if (argc != 5)
		die("usage: verify DIR JOURNAL ITER");
	dir = argv[2];
	iter = atoi(argv[4]);
	j = fopen(argv[3], "r");
	if (!j && errno != ENOENT)
		die("journal %s: %s", argv[3], strerror(errno));
	while (j && fgets(line, sizeof(line), j)) {
		uint64_t h;
		size_t size;
		unsigned char *b;
		long n;

		if (!strchr(line, '\n')) {
			fprintf(stderr, "# journal: torn last line ignored: "
				"%s\n", line);
			break;
		}
		how[0] = '\0';
		if (sscanf(line, "%s %" SCNx64 " %zu %31s", name, &h, &size,
			   how) < 3)
			die("journal: bad line: %s", line);
		lines++;
		durable += size;
		snprintf(p, sizeof(p), "%s/%s", dir, name);
		n = read_whole(p, &b);
		if (n < 0) {
			bad("durable %s: %s (size %zu, xxh64 %016" PRIx64 ")",
			    name, strerror(errno), size, h);
			lost += size;
		} else if ((size_t)n != size || XXH64(b, (size_t)n, 0) != h) {
			bad("durable %s: size %ld xxh64 %016" PRIx64
			    ", journal says %zu %016" PRIx64 " (%s)", name, n,
			    (uint64_t)XXH64(b, (size_t)n, 0), size, h,
			    how[0] ? how : "?");
			lost += size; /* its fsync'd bytes are not all there */
			model_diff(argv[3], name, b, (size_t)n);
		}
	}
	if (j)
		fclose(j);
	for (int i = 0; i <= iter; i++) {
		unsigned char *b;
		char want[64];
		long n;

		snprintf(p, sizeof(p), "%s/markers/m%d", dir, i);
		snprintf(want, sizeof(want), "marker %d\n", i);
		n = read_whole(p, &b);
		if (n < 0)
			bad("marker m%d: %s", i, strerror(errno));
		else if ((size_t)n != strlen(want) || memcmp(b, want, n))
			bad("marker m%d: wrong content", i);
	}
	walk(dir);
	ninodes = check_nlinks();
	printf("# verify: %ld durable files of %llu bytes, markers 0..%d, "
	       "%zu files walked: %s, lost %llu bytes\n", lines,
	       (unsigned long long)durable, iter, ninodes,
	       nbad ? "PROBLEMS" : "all intact", (unsigned long long)lost);
	if (nbad > 40)
		fprintf(stderr, "crashload verify: ... %ld problems in all\n",
			nbad);
	return nbad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return do_run(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "mark"))
		return do_mark(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "verify"))
		return do_verify(argc, argv);
	fprintf(stderr, "usage: crashload run|mark|verify ...\n");
	return 2;
}

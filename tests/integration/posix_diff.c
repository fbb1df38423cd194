// SPDX-License-Identifier: Apache-2.0
/*
 * posix_diff.c -- differential POSIX checker for mmfs.
 *
 * Runs a long, fixed list of scenarios inside an empty directory DIR and
 * prints a transcript: one line per call (the call as written in this file,
 * its return value and errno name) plus the results that matter (mode, nlink,
 * size, blocks, owner, content checksums, sorted readdir name sets, xattr
 * values, timestamps as relations).  tests/integration/posix/posix_diff.sh runs
 * it on a fresh tmpfs and on a fresh mmfs and diffs the two transcripts, so
 * the reference for "correct" is the kernel's own tmpfs, not this file.
 *
 * The transcript must not depend on things that legitimately differ between
 * two filesystems: inode and device numbers (only equalities are printed),
 * absolute times (only "changed/same", or values this program set itself),
 * st_blksize, statfs numbers (only sanity checks), directory order (names are
 * sorted) and directory st_size/st_blocks (never printed).
 *
 * Expected differences are printed on lines starting with "XDIFF " and are
 * filtered out by the diff script (FALLOC_FL_ZERO_RANGE: tmpfs lacks it and
 * mmfs implements it with ext4 semantics; O_TMPFILE: libfuse 3.14 has no
 * tmpfile operation).  -b omits block-granularity dependent output (st_blocks
 * and SEEK_DATA/SEEK_HOLE offsets) for mounts whose chunk is not 4 KiB.
 *
 * Must run as root: it uses mknod, chown, and forks children that drop to
 * uid/gid 65534 (nobody) for the permission scenarios.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>

#define NOBODY 65534
#define OTHER_GID 1234 /* a group nobody is not a member of */

static int opt_noblocks;

/* ------------------------------------------------------------------ */
/* output                                                             */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

enum { K_VAL, K_FD, K_OK };

/* report -- print one call and its result (internal) */
static long report(const char *what, long r, int e, int kind)
{
	if (r < 0)
		say("%s = -1 %s", what, ename(e));
	else if (kind == K_FD)
		say("%s = fd", what);
	else if (kind == K_OK)
		;
	else
		say("%s = %ld", what, r);
	return r;
}

/* R: print the call and its value; RFD: the same for a new descriptor;
 * RQ: quiet on success (setup steps), printed only if it fails. */
#define R(expr) ({ errno = 0; long r_ = (long)(expr); int e_ = errno; \
		report(#expr, r_, e_, K_VAL); })
#define RFD(expr) ({ errno = 0; long r_ = (long)(expr); int e_ = errno; \
		(int)report(#expr, r_, e_, K_FD); })
/* RO: an open that is expected to fail; closes the descriptor if not */
#define RO(expr) ({ errno = 0; long r_ = (long)(expr); int e_ = errno; \
		report(#expr, r_, e_, K_FD); if (r_ >= 0) close((int)r_); r_; })
#define RQ(expr) ({ errno = 0; long r_ = (long)(expr); int e_ = errno; \
		report(#expr, r_, e_, K_OK); })

static void xclose(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void section(const char *name)
{
	fflush(stdout);
	say("== %s ==", name);
}

static void enter(const char *dir)
{
	if (mkdir(dir, 0755) || chdir(dir)) {
		say("FATAL: cannot enter %s: %s", dir, ename(errno));
		exit(2);
	}
}

static void enter_existing(const char *dir)
{
	if (chdir(dir)) {
		say("FATAL: cannot enter %s: %s", dir, ename(errno));
		exit(2);
	}
}

static void leave(void)
{
	if (chdir("..")) {
		say("FATAL: chdir ..: %s", ename(errno));
		exit(2);
	}
}

static void tick(void)
{
	struct timespec ts = { 0, 12 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ */
/* data helpers                                                       */

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
	const unsigned char *c = p;

	while (n--)
		h = (h ^ *c++) * 0x100000001b3ULL;
	return h;
}

#define FNV0 0xcbf29ce484222325ULL

static void fillpat(void *buf, size_t n, uint64_t seed)
{
	unsigned char *c = buf;
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		c[i] = (unsigned char)(x >> 24);
	}
}

static uint64_t rng_state = 42;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* drop_cache -- make the next read come from the filesystem, not the page
 * cache (a no-op on tmpfs, whose page cache is the storage) (internal) */
static void drop_cache(int fd)
{
	fsync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

/* read_all -- whole file into a malloc'd buffer; returns size or -errno */
static long read_all(const char *path, unsigned char **out)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	long n = 0;
	ssize_t r;

	*out = NULL;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		n = -errno;
		close(fd);
		return n;
	}
	drop_cache(fd);
	*out = malloc(st.st_size + 1);
	while ((r = pread(fd, *out + n, st.st_size - n, n)) > 0)
		n += r;
	if (r < 0)
		n = -errno;
	close(fd);
	return n;
}

/* data -- print size and checksum of a file's content as read back */
static void data(const char *path)
{
	unsigned char *b;
	long n = read_all(path, &b);

	if (n < 0)
		say("  data %s: read error %s", path, ename((int)-n));
	else
		say("  data %s: len=%ld fnv=%016" PRIx64, path, n,
		    fnv(b, n, FNV0));
	free(b);
}

/* cat -- print a small file's content, escaped */
static void cat(const char *path)
{
	unsigned char *b;
	long n = read_all(path, &b);
	char out[300];
	size_t o = 0;

	if (n < 0) {
		say("  cat %s: error %s", path, ename((int)-n));
		free(b);
		return;
	}
	for (long i = 0; i < n && o < sizeof(out) - 5; i++) {
		if (b[i] >= 32 && b[i] < 127 && b[i] != '\\')
			out[o++] = b[i];
		else
			o += snprintf(out + o, sizeof(out) - o, "\\%02x", b[i]);
	}
	out[o] = 0;
	say("  cat %s: \"%s\"%s", path, out, o >= sizeof(out) - 5 ? "..." : "");
	free(b);
}

/* zeros -- are bytes [off, off+len) of path all zero? */
static void zeros(const char *path, off_t off, size_t len)
{
	int fd = open(path, O_RDONLY);
	unsigned char *b = malloc(len);
	ssize_t r;

	if (fd < 0) {
		say("  zeros %s: open %s", path, ename(errno));
		free(b);
		return;
	}
	drop_cache(fd);
	r = pread(fd, b, len, off);
	say("  zeros %s [%jd,+%zu): read=%zd allzero=%s", path, (intmax_t)off,
	    len, r, r > 0 && all_zero(b, r) ? "yes" : "no");
	close(fd);
	free(b);
}

static void write_file(const char *path, const void *buf, size_t n, mode_t m)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, m);

	if (fd < 0) {
		say("  write_file %s: open %s", path, ename(errno));
		return;
	}
	if (write(fd, buf, n) != (ssize_t)n)
		say("  write_file %s: write %s", path, ename(errno));
	close(fd);
}

static void write_pat(const char *path, size_t n, uint64_t seed)
{
	void *b = malloc(n);

	fillpat(b, n, seed);
	write_file(path, b, n, 0644);
	free(b);
}

/* ------------------------------------------------------------------ */
/* metadata helpers                                                   */

static char type_char(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return 'f';
	case S_IFDIR: return 'd';
	case S_IFLNK: return 'l';
	case S_IFIFO: return 'p';
	case S_IFSOCK: return 's';
	case S_IFCHR: return 'c';
	case S_IFBLK: return 'b';
	}
	return '?';
}

static void print_stat(const char *label, const struct stat *st)
{
	char extra[128] = "";
	char t = type_char(st->st_mode);

	if (t == 'f')
		snprintf(extra, sizeof(extra), " size=%jd blocks=%s%jd",
			 (intmax_t)st->st_size, opt_noblocks ? "~" : "",
			 opt_noblocks ? (intmax_t)(st->st_blocks > 0) :
			 (intmax_t)st->st_blocks);
	else if (t == 'l')
		snprintf(extra, sizeof(extra), " size=%jd",
			 (intmax_t)st->st_size);
	else if (t == 'c' || t == 'b')
		snprintf(extra, sizeof(extra), " rdev=%u:%u",
			 major(st->st_rdev), minor(st->st_rdev));
	say("  stat %s: %c %04o nlink=%ju uid=%u gid=%u%s", label, t,
	    (unsigned)(st->st_mode & 07777), (uintmax_t)st->st_nlink,
	    (unsigned)st->st_uid, (unsigned)st->st_gid, extra);
}

/* show -- lstat a path and print what must match */
static void show(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		say("  stat %s: %s", path, ename(errno));
	else
		print_stat(path, &st);
}

static void fshow(int fd, const char *label)
{
	struct stat st;

	if (fstat(fd, &st))
		say("  fstat %s: %s", label, ename(errno));
	else
		print_stat(label, &st);
}

/* same -- do two paths name the same inode? */
static void same(const char *a, const char *b)
{
	struct stat sa, sb;

	if (lstat(a, &sa) || lstat(b, &sb)) {
		say("  same %s %s: %s", a, b, ename(errno));
		return;
	}
	say("  same %s %s: %s", a, b,
	    sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev ? "yes" : "no");
}

/* tsave/tcheck -- print whether mtime and ctime of path changed across an
 * operation.  tsave also sleeps one tick so a change is always visible. */
static void tsave(const char *path, struct stat *st)
{
	if (lstat(path, st))
		say("  tsave %s: %s", path, ename(errno));
	tick();
}

static int ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static void tcheck(const char *path, const struct stat *old)
{
	struct stat st;

	if (lstat(path, &st)) {
		say("  times %s: %s", path, ename(errno));
		return;
	}
	say("  times %s: mtime %s ctime %s", path,
	    ts_eq(st.st_mtim, old->st_mtim) ? "same" : "changed",
	    ts_eq(st.st_ctim, old->st_ctim) ? "same" : "changed");
}

static void print_times(const char *path)
{
	struct stat st;

	if (lstat(path, &st)) {
		say("  utimes %s: %s", path, ename(errno));
		return;
	}
	say("  utimes %s: atime=%jd.%09ld mtime=%jd.%09ld", path,
	    (intmax_t)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	    (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char dtype_char(unsigned char t)
{
	switch (t) {
	case DT_REG: return 'f';
	case DT_DIR: return 'd';
	case DT_LNK: return 'l';
	case DT_FIFO: return 'p';
	case DT_SOCK: return 's';
	case DT_CHR: return 'c';
	case DT_BLK: return 'b';
	}
	return '?';
}

/* show_name -- printable form of a directory entry: "name/type", with
 * non-printable bytes as \xHH and long names abbreviated (internal) */
static char *show_name(const char *name, char type)
{
	size_t len = strlen(name), o = 0;
	char *out = malloc(4 * len + 32);

	for (size_t i = 0; i < len && i < 24; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c > 32 && c < 127 && c != '\\')
			out[o++] = (char)c;
		else
			o += sprintf(out + o, "\\x%02x", c);
	}
	if (len > 24)
		o += sprintf(out + o, "...(%zu)", len);
	sprintf(out + o, "/%c", type);
	return out;
}

/* ls -- print the sorted name set of a directory (name/type); for large
 * directories print the count and a hash of the sorted set. */
static void ls(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;

	if (!d) {
		say("  ls %s: %s", path, ename(errno));
		return;
	}
	while ((de = readdir(d))) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, cap * sizeof(*v));
		}
		v[n++] = show_name(de->d_name, dtype_char(de->d_type));
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmpstr);
	if (n <= 40) {
		char line[4096];
		size_t o = 0;

		line[0] = 0;
		for (size_t i = 0; i < n && o < sizeof(line) - 300; i++)
			o += snprintf(line + o, sizeof(line) - o, " %s", v[i]);
		say("  ls %s:%s", path, line);
	} else {
		uint64_t h = FNV0;

		for (size_t i = 0; i < n; i++)
			h = fnv(v[i], strlen(v[i]) + 1, h);
		say("  ls %s: %zu entries fnv=%016" PRIx64, path, n, h);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void print_buf(const char *label, const unsigned char *b, ssize_t n)
{
	char out[200];
	size_t o = 0;

	if (n > 48) {
		say("  %s: len=%zd fnv=%016" PRIx64, label, n, fnv(b, n, FNV0));
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		o += snprintf(out + o, sizeof(out) - o, "%02x", b[i]);
	out[o] = 0;
	say("  %s: len=%zd hex=%s", label, n, out);
}

/* xget -- print an xattr value (hex, or hash if long) */
static void xget(const char *path, const char *name)
{
	static unsigned char b[70000];
	ssize_t n = lgetxattr(path, name, b, sizeof(b));
	char label[300];

	snprintf(label, sizeof(label), "xattr %s %s", path, name);
	if (n < 0)
		say("  %s: %s", label, ename(errno));
	else
		print_buf(label, b, n);
}

/* xlist -- print the sorted list of xattr names of path */
static void xlist(const char *path)
{
	static char b[70000];
	ssize_t n = llistxattr(path, b, sizeof(b));
	char *v[1000];
	size_t k = 0;
	char line[8192];
	size_t o = 0;

	if (n < 0) {
		say("  xlist %s: %s", path, ename(errno));
		return;
	}
	for (char *p = b; p < b + n && k < 1000; p += strlen(p) + 1)
		v[k++] = p;
	qsort(v, k, sizeof(*v), cmpstr);
	line[0] = 0;
	for (size_t i = 0; i < k && o < sizeof(line) - 300; i++)
		o += snprintf(line + o, sizeof(line) - o, " %s", v[i]);
	if (k > 20) {
		uint64_t h = FNV0;

		for (size_t i = 0; i < k; i++)
			h = fnv(v[i], strlen(v[i]) + 1, h);
		say("  xlist %s: %zu names fnv=%016" PRIx64, path, k, h);
	} else {
		say("  xlist %s:%s", path, line);
	}
}

static void lseek_show(int fd, off_t off, int whence, const char *what)
{
	off_t r;

	errno = 0;
	r = lseek(fd, off, whence);
	/* with chunks larger than a page, data/hole answers legitimately
	 * differ at chunk granularity: the 4k run compares them */
	if (opt_noblocks && (whence == SEEK_DATA || whence == SEEK_HOLE)) {
		say("  lseek(%s, %jd) = (omitted)", what, (intmax_t)off);
		return;
	}
	if (r < 0)
		say("  lseek(%s, %jd) = -1 %s", what, (intmax_t)off,
		    ename(errno));
	else
		say("  lseek(%s, %jd) = %jd", what, (intmax_t)off,
		    (intmax_t)r);
}

/* as_user -- run fn in a child with all uids/gids set to uid/gid and no
 * supplementary groups (and so no capabilities) */
static void as_user(uid_t uid, gid_t gid, void (*fn)(void), const char *what)
{
	pid_t p;
	int st;

	fflush(stdout);
	p = fork();
	if (p < 0) {
		say("FATAL: fork: %s", ename(errno));
		exit(2);
	}
	if (p == 0) {
		if (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
		    setresuid(uid, uid, uid)) {
			say("FATAL: cannot become %u:%u: %s", uid, gid,
			    ename(errno));
			fflush(stdout);
			_exit(2);
		}
		say("-- as %u:%u: %s", uid, gid, what);
		fn();
		say("-- end as %u", uid);
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		say("  child for '%s' died abnormally (status %#x)", what, st);
}

/* ------------------------------------------------------------------ */
/* scenarios                                                          */

static void sc_regular(void)
{
	static unsigned char buf[3 << 20], rb[200000];
	struct stat ts;
	int fd;

	section("regular files");
	enter("reg");
	fd = RFD(open("f", O_CREAT | O_WRONLY | O_EXCL, 0644));
	fshow(fd, "f(new)");
	fillpat(buf, 100000, 1);
	R(write(fd, buf, 100000));
	R(pwrite(fd, "hello", 5, 200000));
	R(lseek(fd, 0, SEEK_CUR));
	R(lseek(fd, 0, SEEK_END));
	R(lseek(fd, -10, SEEK_SET));
	R(fsync(fd));
	xclose(fd);
	show("f");
	data("f");
	zeros("f", 100000, 100000);

	fd = RFD(open("f", O_RDONLY));
	R(pread(fd, rb, 10, 300000));
	R(pread(fd, rb, 100, 199990));
	R(pread(fd, rb, 100000, 0));
	say("  pread content matches: %s",
	    memcmp(rb, buf, 100000) ? "no" : "yes");
	R(read(fd, rb, 5));
	R(write(fd, "x", 1));
	R(ftruncate(fd, 0));
	xclose(fd);

	fd = RFD(open("f", O_WRONLY));
	R(read(fd, rb, 1));
	fillpat(buf, 4096, 2);
	R(pwrite(fd, buf, 4096, 5000));
	R(pwrite(fd, buf, 4096, 65530));
	xclose(fd);
	data("f");

	/* one 3 MiB write, then read back */
	fd = RFD(open("big", O_CREAT | O_RDWR, 0600));
	fillpat(buf, sizeof(buf), 3);
	R(write(fd, buf, sizeof(buf)));
	xclose(fd);
	show("big");
	data("big");

	/* open() error paths */
	R(mkdir("dir", 0755));
	RO(open("f/", O_RDONLY));
	RO(open("nonexist", O_RDONLY));
	RO(open("nodir/x", O_CREAT | O_WRONLY, 0644));
	RO(open("f/x", O_CREAT | O_WRONLY, 0644));
	RO(open("newdir/", O_CREAT | O_WRONLY, 0644));
	RO(open("f", O_CREAT | O_EXCL | O_WRONLY, 0644));
	RO(open("dir", O_CREAT | O_EXCL | O_WRONLY, 0644));
	RO(open("f", O_RDONLY | O_DIRECTORY));
	RO(open("nd", O_CREAT | O_DIRECTORY | O_RDWR, 0644));
	RO(open("dir", O_WRONLY));
	RO(open("dir", O_RDWR));
	RO(open(".", O_WRONLY));
	fd = RFD(open("dir", O_RDONLY | O_DIRECTORY));
	R(read(fd, rb, 10));
	R(write(fd, rb, 10));
	xclose(fd);
	show("f");

	/* O_TRUNC, on a write and on a read-only open */
	R(utimensat(AT_FDCWD, "f",
		    (struct timespec[]){ { 1000000000, 0 }, { 1000000000, 0 } },
		    0));
	tsave("f", &ts);
	fd = RFD(open("f", O_WRONLY | O_TRUNC));
	xclose(fd);
	show("f");
	tcheck("f", &ts);
	write_file("t2", "0123456789", 10, 0644);
	fd = RFD(open("t2", O_RDONLY | O_TRUNC));
	xclose(fd);
	show("t2");
	/* O_TRUNC on an empty file */
	tsave("t2", &ts);
	fd = RFD(open("t2", O_WRONLY | O_TRUNC));
	xclose(fd);
	tcheck("t2", &ts);

	/* O_APPEND: writes go to EOF whatever the position, even pwrite */
	write_file("ap", "abc", 3, 0644);
	fd = RFD(open("ap", O_WRONLY | O_APPEND));
	R(lseek(fd, 0, SEEK_SET));
	R(write(fd, "def", 3));
	R(lseek(fd, 0, SEEK_CUR));
	R(pwrite(fd, "XY", 2, 0));
	R(write(fd, "!", 1));
	xclose(fd);
	cat("ap");
	fd = RFD(open("ap", O_RDWR | O_APPEND));
	R(write(fd, "zz", 2));
	R(pread(fd, rb, 100, 0));
	xclose(fd);
	cat("ap");

	/* modes at creation: umask, special bits */
	fd = RFD(open("m1", O_CREAT | O_WRONLY, 07777));
	xclose(fd);
	show("m1");
	fd = RFD(open("m2", O_CREAT | O_WRONLY, 0));
	xclose(fd);
	show("m2");
	fd = RFD(open("m2", O_RDWR));	/* root: DAC override */
	xclose(fd);
	fd = RFD(creat("m3", 0640));
	xclose(fd);
	show("m3");
	/* write mtime / ctime */
	tsave("m3", &ts);
	fd = RFD(open("m3", O_WRONLY));
	R(write(fd, "x", 1));
	xclose(fd);
	tcheck("m3", &ts);
	tsave("m3", &ts);
	fd = RFD(open("m3", O_RDONLY));
	R(read(fd, rb, 1));
	xclose(fd);
	tcheck("m3", &ts);
	tsave(".", &ts);
	fd = RFD(open("m4", O_CREAT | O_WRONLY, 0644));
	xclose(fd);
	tcheck(".", &ts);
	ls(".");
	leave();
}

/* sc_model -- random pwrite/truncate workload against an in-memory model */
static void sc_model(void)
{
	enum { MAXSZ = 1300000 };
	static unsigned char model[MAXSZ], tmp[MAXSZ];
	size_t size = 0;
	int fd, bad = 0;

	section("random writes vs model");
	enter("model");
	fd = RFD(open("m", O_CREAT | O_RDWR, 0644));
	rng_state = 12345;
	for (int i = 0; i < 400; i++) {
		uint64_t r = rnd();

		if (r % 13 == 0) {
			size_t ns = rnd() % MAXSZ;

			if (ftruncate(fd, ns)) {
				say("  op %d ftruncate: %s", i, ename(errno));
				bad++;
			}
			if (ns > size)
				memset(model + size, 0, ns - size);
			size = ns;
		} else {
			size_t len = 1 + rnd() % 70000;
			size_t off = rnd() % (MAXSZ - len);

			fillpat(tmp, len, r);
			if (pwrite(fd, tmp, len, off) != (ssize_t)len) {
				say("  op %d pwrite: %s", i, ename(errno));
				bad++;
			}
			if (off > size)
				memset(model + size, 0, off - size);
			memcpy(model + off, tmp, len);
			if (off + len > size)
				size = off + len;
		}
		if (i % 50 == 49) {
			struct stat st;
			ssize_t n;

			fstat(fd, &st);
			drop_cache(fd);
			n = pread(fd, tmp, MAXSZ, 0);
			if ((size_t)st.st_size != size || n != (ssize_t)size ||
			    memcmp(tmp, model, size)) {
				say("  after op %d: model mismatch (size %zu vs %jd, read %zd)",
				    i, size, (intmax_t)st.st_size, n);
				bad++;
			}
		}
	}
	xclose(fd);
	say("  model: size=%zu fnv=%016" PRIx64 " mismatches=%d", size,
	    fnv(model, size, FNV0), bad);
	data("m");
	show("m");
	leave();
}

static void sc_dirs(void)
{
	struct stat ts;
	int fd;

	section("directories");
	enter("dirs");
	write_file("f", "x", 1, 0644);
	show(".");
	tsave(".", &ts);
	R(mkdir("d", 0755));
	tcheck(".", &ts);
	show("d");
	show(".");
	R(mkdir("d", 0755));
	R(mkdir("d/sub/", 0755));
	show("d");
	R(mkdir("nonexist/x", 0755));
	R(mkdir("f/x", 0755));
	R(mkdir("f", 0755));
	R(mkdir("m7777", 07777));
	show("m7777");
	R(mkdir("m0", 0));
	show("m0");
	R(mkdir("m0/inside", 0755));	/* root */
	ls("d");
	ls("d/sub");
	same("d/sub/..", "d");
	same("d/.", "d");
	same("d/sub/../..", ".");
	R(rmdir("d"));
	R(rmdir("d/sub/."));
	R(rmdir("."));
	R(rmdir("d/sub/.."));
	R(rmdir("f"));
	R(rmdir("nope"));
	R(rmdir("f/"));
	R(unlink("d"));
	R(unlink("d/"));
	R(unlink("f/"));
	tsave("d", &ts);
	R(rmdir("d/sub"));
	tcheck("d", &ts);
	show("d");
	R(rmdir("d/"));
	R(stat("d", &ts));
	/* nlink of a directory with many subdirectories */
	R(mkdir("many", 0755));
	for (int i = 0; i < 50; i++) {
		char n[32];

		snprintf(n, sizeof(n), "many/s%d", i);
		RQ(mkdir(n, 0755));
	}
	write_file("many/file", "", 0, 0644);
	show("many");
	ls("many");
	for (int i = 0; i < 50; i += 2) {
		char n[32];

		snprintf(n, sizeof(n), "many/s%d", i);
		RQ(rmdir(n));
	}
	show("many");
	/* opendir/readdir of an empty dir, a dir being removed while open */
	R(mkdir("e", 0755));
	ls("e");
	fd = RFD(open("e", O_RDONLY | O_DIRECTORY));
	R(rmdir("e"));
	fshow(fd, "e(removed)");
	RO(openat(fd, "x", O_CREAT | O_WRONLY, 0644));
	R(mkdirat(fd, "y", 0755));
	xclose(fd);
	R(mkdir("m0/inside/deeper", 0700));
	R(rmdir("m0/inside/deeper"));
	R(rmdir("m0/inside"));
	ls(".");
	leave();
}

static void sc_names(void)
{
	char n255[256], n256[257], p[600];
	int fd;

	section("name lengths");
	enter("names");
	memset(n255, 'a', 255);
	n255[255] = 0;
	memset(n256, 'b', 256);
	n256[256] = 0;
	fd = RFD(open(n255, O_CREAT | O_WRONLY, 0644));
	xclose(fd);
	show(n255);
	RO(open(n256, O_CREAT | O_WRONLY, 0644));
	R(mkdir(n256, 0755));
	R(symlink("x", n256));
	R(link(n255, n256));
	R(rename(n255, n256));
	R(mknod(n256, S_IFIFO | 0644, 0));
	R(access(n256, F_OK));
	R(unlink(n256));
	R(rmdir(n256));
	R(setxattr(n255, "user.k", "v", 1, 0));
	ls(".");
	memset(n255, 'c', 255);
	R(mkdir(n255, 0755));
	snprintf(p, sizeof(p), "%s/%s", n255, "inner");
	R(mkdir(p, 0755));
	snprintf(p, sizeof(p), "%s/%s", n255, n256);
	R(mkdir(p, 0755));
	ls(n255);
	/* odd but legal names */
	R(mkdir(" ", 0755));
	write_file("a\tb", "", 0, 0644);
	write_file("\x01\xff", "", 0, 0644);
	write_file("...", "", 0, 0644);
	write_file("-", "", 0, 0644);
	ls(".");
	leave();
}

static void sc_symlinks(void)
{
	char t[5000], rb[5000], n[64];
	struct stat st;
	int fd;

	section("symlinks");
	enter("sym");
	write_file("file", "content", 7, 0644);
	R(mkdir("dir", 0755));
	write_file("dir/inner", "in", 2, 0644);
	R(symlink("file", "l1"));
	show("l1");
	R(stat("l1", &st));
	print_stat("stat(l1)", &st);
	memset(rb, 0, sizeof(rb));
	R(readlink("l1", rb, sizeof(rb)));
	say("  readlink l1: \"%s\"", rb);
	R(readlink("l1", rb, 2));
	R(readlink("file", rb, sizeof(rb)));
	R(readlink("nope", rb, sizeof(rb)));
	R(symlink("file", "l1"));
	R(symlink("", "lempty"));
	cat("l1");
	/* long targets */
	memset(t, 'x', 4095);
	for (int i = 100; i < 4095; i += 100)
		t[i] = '/';
	t[4095] = 0;
	R(symlink(t, "llong"));
	show("llong");
	memset(rb, 0, sizeof(rb));
	R(readlink("llong", rb, sizeof(rb)));
	say("  readlink llong equal: %s", strcmp(rb, t) ? "no" : "yes");
	t[4095] = 'y';
	t[4096] = 0;
	R(symlink(t, "ltoolong"));
	memset(t, 'z', 1000);
	t[1000] = 0;
	R(symlink(t, "l1000"));
	R(readlink("l1000", rb, sizeof(rb)));
	/* loops */
	R(symlink("lb", "la"));
	R(symlink("la", "lb"));
	RO(open("la", O_RDONLY));
	R(stat("la", &st));
	R(symlink("self", "self"));
	RO(open("self", O_RDONLY));
	RO(open("self", O_CREAT | O_WRONLY, 0644));
	/* chains: 40 hops resolve, 41 do not */
	for (int i = 1; i <= 41; i++) {
		char tg[64];

		snprintf(n, sizeof(n), "c%d", i);
		if (i == 41)
			snprintf(tg, sizeof(tg), "file");
		else
			snprintf(tg, sizeof(tg), "c%d", i + 1);
		RQ(symlink(tg, n));
	}
	fd = RFD(open("c2", O_RDONLY));
	xclose(fd);
	RO(open("c1", O_RDONLY));
	/* dangling: O_CREAT follows, O_EXCL does not */
	R(symlink("newtarget", "dangle"));
	R(stat("dangle", &st));
	RO(open("dangle", O_CREAT | O_EXCL | O_WRONLY, 0644));
	fd = RFD(open("dangle", O_CREAT | O_WRONLY, 0600));
	xclose(fd);
	show("newtarget");
	RO(open("l1", O_RDONLY | O_NOFOLLOW));
	fd = RFD(open("l1", O_PATH | O_NOFOLLOW));
	fshow(fd, "O_PATH l1");
	xclose(fd);
	/* through a symlinked directory */
	R(symlink("dir", "ldir"));
	cat("ldir/inner");
	ls("ldir");
	ls("ldir/");
	R(rmdir("ldir"));
	R(unlink("ldir/"));
	R(mkdir("ldir", 0755));
	R(symlink("/", "lroot"));
	R(readlink("lroot", rb, sizeof(rb)));
	/* owner and times of the link itself */
	R(lchown("l1", NOBODY, NOBODY));
	show("l1");
	show("file");
	R(utimensat(AT_FDCWD, "l1",
		    (struct timespec[]){ { 111111111, 1 }, { 222222222, 2 } },
		    AT_SYMLINK_NOFOLLOW));
	print_times("l1");
	R(unlink("l1"));
	show("file");
	ls(".");
	leave();
}

static void sc_links(void)
{
	struct stat ts;
	char n[64];

	section("hard links");
	enter("links");
	write_file("f", "data", 4, 0644);
	R(mkdir("d", 0755));
	tsave("f", &ts);
	R(link("f", "g"));
	tcheck("f", &ts);
	show("f");
	show("g");
	same("f", "g");
	R(link("f", "g"));
	R(link("nonexist", "x"));
	R(link("d", "dl"));
	R(link("f", "nodir/x"));
	R(link("f", "f/x"));
	R(link("f", "d/f2"));
	show("f");
	R(unlink("f"));
	show("g");
	cat("g");
	cat("d/f2");
	/* link to a symlink: flag 0 links the symlink, FOLLOW the target */
	R(symlink("g", "s"));
	R(linkat(AT_FDCWD, "s", AT_FDCWD, "s2", 0));
	show("s");
	show("s2");
	R(linkat(AT_FDCWD, "s", AT_FDCWD, "s3", AT_SYMLINK_FOLLOW));
	show("s3");
	show("g");
	/* many links */
	for (int i = 0; i < 100; i++) {
		snprintf(n, sizeof(n), "many%d", i);
		RQ(link("g", n));
	}
	show("g");
	for (int i = 0; i < 100; i++) {
		snprintf(n, sizeof(n), "many%d", i);
		RQ(unlink(n));
	}
	show("g");
	/* write through one name, read through the other */
	{
		int fd = RFD(open("d/f2", O_WRONLY | O_APPEND));

		R(write(fd, "more", 4));
		xclose(fd);
	}
	cat("g");
	ls(".");
	leave();
}

static void sc_mknod(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s, c;

	section("special files");
	enter("nod");
	R(mknod("fifo", S_IFIFO | 0644, 0));
	R(mkfifo("fifo2", 0600));
	R(mknod("sock", S_IFSOCK | 0644, 0));
	R(mknod("chr", S_IFCHR | 0600, makedev(1, 3)));
	R(mknod("blk", S_IFBLK | 0600, makedev(7, 0)));
	R(mknod("bigdev", S_IFCHR | 0600, makedev(4095, 1048575)));
	R(mknod("reg", S_IFREG | 0640, 0));
	R(mknod("reg", S_IFREG | 0640, 0));
	R(mknod("dir", S_IFDIR | 0755, 0));
	R(mknod("fifo", S_IFIFO | 0644, 0));
	show("fifo");
	show("fifo2");
	show("sock");
	show("chr");
	show("blk");
	show("bigdev");
	show("reg");
	R(link("fifo", "fifo.l"));
	show("fifo");
	R(rename("chr", "chr2"));
	show("chr2");
	R(setxattr("fifo", "user.x", "1", 1, 0));
	R(setxattr("fifo", "trusted.x", "1", 1, 0));
	xget("fifo", "trusted.x");
	/* a unix socket bound on the filesystem */
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "usock");
	R(bind(s, (struct sockaddr *)&sa, sizeof(sa)));
	R(listen(s, 1));
	show("usock");
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	R(connect(c, (struct sockaddr *)&sa, sizeof(sa)));
	R(write(c, "ping", 4));
	{
		int a = accept(s, NULL, NULL);
		char b[8] = "";

		R(read(a, b, sizeof(b)));
		say("  socket got \"%.4s\"", b);
		xclose(a);
	}
	xclose(c);
	xclose(s);
	ls(".");
	R(unlink("fifo"));
	R(unlink("sock"));
	R(unlink("usock"));
	show("fifo.l");
	ls(".");
	leave();
}

static void sc_rename(void)
{
	struct stat ts, ts2, sx;
	unsigned char b[100];
	int fd;

	section("rename");
	enter("ren");
	write_file("a", "AAAA", 4, 0644);
	write_file("b", "BB", 2, 0644);
	write_file("c", "C", 1, 0644);
	R(mkdir("d1", 0755));
	R(mkdir("d2", 0755));
	write_file("d2/inner", "i", 1, 0644);
	R(mkdir("d3", 0755));
	R(lstat("a", &sx));

	/* file over file */
	tsave(".", &ts);
	R(rename("a", "b"));
	tcheck(".", &ts);
	cat("b");
	R(stat("a", &ts2));
	{
		struct stat sb;

		lstat("b", &sb);
		say("  rename keeps inode: %s",
		    sb.st_ino == sx.st_ino ? "yes" : "no");
	}
	/* to itself */
	R(rename("b", "b"));
	cat("b");
	R(rename("d1", "d1"));
	/* dir over empty dir, over non-empty dir */
	R(rename("d1", "d3"));
	show("d3");
	R(stat("d1", &ts2));
	R(mkdir("d1", 0755));
	R(rename("d1", "d2"));
	/* file over dir, dir over file */
	R(rename("b", "d2"));
	R(rename("d2", "c"));
	R(rename("d3", "c/"));
	/* into its own subdirectory */
	R(mkdir("d2/sub", 0755));
	R(rename("d2", "d2/sub/x"));
	R(rename("d2", "d2/x"));
	R(rename("d2/sub", "d2/sub/deeper"));
	R(rename("d2/sub/..", "x"));
	R(rename("nonexist", "x"));
	R(rename("b", "nonexistdir/x"));
	R(rename("c/", "x"));
	R(rename("c", "x/"));
	R(rename(".", "x"));
	R(rename("x", "."));
	R(rename("d1", "x/"));
	show("x");
	R(rename("x/", "d1"));
	show(".");

	/* two names of one inode: rename is a no-op */
	R(link("c", "c2"));
	R(rename("c", "c2"));
	show("c");
	show("c2");

	/* across directories: nlink of both parents, "..", times */
	R(mkdir("p1", 0755));
	R(mkdir("p2", 0755));
	R(mkdir("p1/m", 0755));
	write_file("p1/mf", "mf", 2, 0644);
	show("p1");
	show("p2");
	tsave("p1", &ts);
	tsave("p2", &ts2);
	R(lstat("p1/m", &sx));
	tick();
	R(rename("p1/m", "p2/m"));
	tcheck("p1", &ts);
	tcheck("p2", &ts2);
	tcheck("p2/m", &sx);
	show("p1");
	show("p2");
	same("p2/m/..", "p2");
	R(lstat("p1/mf", &sx));
	tick();
	R(rename("p1/mf", "p2/mf2"));
	cat("p2/mf2");
	tcheck("p2/mf2", &sx);
	ls("p1");
	ls("p2");

	/* renameat2 RENAME_NOREPLACE */
	write_file("n1", "n1", 2, 0644);
	write_file("n2", "n2", 2, 0644);
	R(renameat2(AT_FDCWD, "n1", AT_FDCWD, "n2", RENAME_NOREPLACE));
	cat("n2");
	R(renameat2(AT_FDCWD, "n1", AT_FDCWD, "n3", RENAME_NOREPLACE));
	cat("n3");
	R(renameat2(AT_FDCWD, "p2", AT_FDCWD, "p1", RENAME_NOREPLACE));

	/* RENAME_EXCHANGE file <-> dir in different parents */
	R(mkdir("q1", 0755));
	R(mkdir("q2", 0755));
	write_file("q1/x", "xfile", 5, 0644);
	R(mkdir("q2/y", 0755));
	write_file("q2/y/in", "in", 2, 0644);
	show("q1");
	show("q2");
	tsave("q1/x", &ts);
	R(renameat2(AT_FDCWD, "q1/x", AT_FDCWD, "q2/y", RENAME_EXCHANGE));
	show("q1");
	show("q2");
	show("q1/x");
	show("q2/y");
	cat("q2/y");
	cat("q1/x/in");
	same("q1/x/..", "q1");
	tcheck("q2/y", &ts);
	/* file <-> file */
	R(renameat2(AT_FDCWD, "n2", AT_FDCWD, "n3", RENAME_EXCHANGE));
	cat("n2");
	cat("n3");
	/* missing target, bad flag mixes */
	R(renameat2(AT_FDCWD, "n2", AT_FDCWD, "missing", RENAME_EXCHANGE));
	R(renameat2(AT_FDCWD, "missing", AT_FDCWD, "n2", RENAME_EXCHANGE));
	R(renameat2(AT_FDCWD, "n2", AT_FDCWD, "n3",
		    RENAME_EXCHANGE | RENAME_NOREPLACE));
	R(renameat2(AT_FDCWD, "q1", AT_FDCWD, "q1/x/sub", RENAME_EXCHANGE));
	R(renameat2(AT_FDCWD, "n2", AT_FDCWD, "n2", RENAME_EXCHANGE));
	cat("n2");

	/* rename over an open file: the old data stays readable */
	write_file("victim", "old data", 8, 0644);
	write_file("newer", "new data!", 9, 0644);
	fd = RFD(open("victim", O_RDONLY));
	R(rename("newer", "victim"));
	fshow(fd, "victim(replaced fd)");
	memset(b, 0, sizeof(b));
	R(pread(fd, b, sizeof(b), 0));
	say("  replaced fd reads \"%s\"", (char *)b);
	xclose(fd);
	cat("victim");

	/* directory rename keeps its content, xattrs and mode */
	R(mkdir("tree", 0700));
	R(mkdir("tree/a", 0755));
	write_file("tree/a/f", "deep", 4, 0644);
	R(setxattr("tree", "user.tag", "t", 1, 0));
	R(rename("tree", "tree2"));
	show("tree2");
	cat("tree2/a/f");
	xget("tree2", "user.tag");
	R(rename("tree2/a", "tree2/b"));
	ls("tree2");
	ls(".");
	leave();
}

static void sc_unlink_open(void)
{
	static unsigned char buf[50000], rb[60000];
	struct stat st;
	int fd, fd2;

	section("unlink of open files");
	enter("unl");
	fd = RFD(open("u", O_CREAT | O_RDWR, 0644));
	fillpat(buf, sizeof(buf), 7);
	R(write(fd, buf, sizeof(buf)));
	R(unlink("u"));
	fshow(fd, "u(unlinked)");
	R(stat("u", &st));
	drop_cache(fd);
	R(pread(fd, rb, sizeof(rb), 0));
	say("  unlinked content matches: %s",
	    memcmp(rb, buf, sizeof(buf)) ? "no" : "yes");
	R(pwrite(fd, "tail", 4, 60000));
	fshow(fd, "u(unlinked,written)");
	R(ftruncate(fd, 10));
	fshow(fd, "u(unlinked,truncated)");
	R(fchmod(fd, 0600));
	R(fsetxattr(fd, "user.a", "1", 1, 0));
	R(fgetxattr(fd, "user.a", rb, sizeof(rb)));
	fshow(fd, "u(unlinked,chmod)");
	/* a new file under the same name is a different file */
	fd2 = RFD(open("u", O_CREAT | O_RDWR, 0644));
	R(write(fd2, "NEW", 3));
	R(pread(fd, rb, 10, 0));
	say("  old fd still old: %s", memcmp(rb, buf, 10) ? "no" : "yes");
	xclose(fd);
	xclose(fd2);
	cat("u");
	/* hard-linked: unlink one name while open */
	write_file("h1", "hl", 2, 0644);
	R(link("h1", "h2"));
	fd = RFD(open("h1", O_RDONLY));
	R(unlink("h1"));
	fshow(fd, "h1(open)");
	xclose(fd);
	show("h2");
	/* an open directory that was removed */
	R(mkdir("dd", 0755));
	fd = RFD(open("dd", O_RDONLY | O_DIRECTORY));
	R(rmdir("dd"));
	fshow(fd, "dd(removed)");
	xclose(fd);
	ls(".");
	leave();
}

static void sc_attrs(void)
{
	struct stat ts;
	struct timespec t0, t1;
	int fd;

	section("chmod chown utimensat");
	enter("attr");
	write_file("f", "12345", 5, 0644);
	tsave("f", &ts);
	R(chmod("f", 0600));
	tcheck("f", &ts);
	show("f");
	R(chmod("f", 07777));
	show("f");
	R(chmod("f", 0));
	show("f");
	R(chmod("nonexist", 0644));
	fd = RFD(open("f", O_RDONLY));
	R(fchmod(fd, 0640));
	xclose(fd);
	show("f");
	tsave("f", &ts);
	R(chown("f", NOBODY, NOBODY));
	tcheck("f", &ts);
	show("f");
	R(chown("f", -1, 0));
	show("f");
	R(chown("f", -1, -1));
	show("f");
	R(fchownat(AT_FDCWD, "f", 0, -1, 0));
	show("f");
	/* chown clears set-uid, and set-gid only when group-executable */
	R(chmod("f", 06755));
	R(chown("f", 1, -1));
	show("f");
	R(chmod("f", 02745));
	R(chown("f", 0, 0));
	show("f");
	R(chmod("f", 06711));
	R(chown("f", -1, -1));
	show("f");
	R(mkdir("d", 0755));
	R(chmod("d", 07755));
	R(chown("d", 2, 2));
	show("d");

	/* utimensat with exact nanoseconds, OMIT and NOW */
	R(utimensat(AT_FDCWD, "f",
		    (struct timespec[]){ { 1234567890, 123456789 },
					 { 1500000000, 999999999 } }, 0));
	print_times("f");
	R(utimensat(AT_FDCWD, "f",
		    (struct timespec[]){ { 0, UTIME_OMIT }, { 1600000000, 1 } },
		    0));
	print_times("f");
	R(utimensat(AT_FDCWD, "f",
		    (struct timespec[]){ { 1700000000, 5 }, { 0, UTIME_OMIT } },
		    0));
	print_times("f");
	tsave("f", &ts);
	R(utimensat(AT_FDCWD, "f",
		    (struct timespec[]){ { 0, UTIME_OMIT }, { 0, UTIME_OMIT } },
		    0));
	tcheck("f", &ts);
	print_times("f");
	R(utimensat(AT_FDCWD, "f",
		    (struct timespec[]){ { -1, 500000000 }, { 0, 0 } }, 0));
	print_times("f");
	R(utimensat(AT_FDCWD, "f",
		    (struct timespec[]){ { 4102444800, 0 },
					 { 17179869184, 42 } }, 0));
	print_times("f");
	R(utimensat(AT_FDCWD, "f",
		    (struct timespec[]){ { 1, 1000000000 }, { 1, 0 } }, 0));
	R(utimensat(AT_FDCWD, "nonexist", NULL, 0));
	clock_gettime(CLOCK_REALTIME, &t0);
	R(utimensat(AT_FDCWD, "f",
		    (struct timespec[]){ { 0, UTIME_NOW }, { 7, UTIME_OMIT } },
		    0));
	clock_gettime(CLOCK_REALTIME, &t1);
	{
		struct stat st;

		lstat("f", &st);
		say("  UTIME_NOW: atime=%s mtime=%jd.%09ld",
		    st.st_atim.tv_sec >= t0.tv_sec - 1 &&
		    st.st_atim.tv_sec <= t1.tv_sec + 1 ? "now" : "NOT-now",
		    (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	}
	clock_gettime(CLOCK_REALTIME, &t0);
	fd = RFD(open("f", O_RDONLY));
	R(futimens(fd, NULL));
	xclose(fd);
	clock_gettime(CLOCK_REALTIME, &t1);
	{
		struct stat st;

		lstat("f", &st);
		say("  futimens(NULL): atime=%s mtime=%s",
		    st.st_atim.tv_sec >= t0.tv_sec - 1 &&
		    st.st_atim.tv_sec <= t1.tv_sec + 1 ? "now" : "NOT-now",
		    st.st_mtim.tv_sec >= t0.tv_sec - 1 &&
		    st.st_mtim.tv_sec <= t1.tv_sec + 1 ? "now" : "NOT-now");
	}
	/* directory and symlink times */
	R(utimensat(AT_FDCWD, "d",
		    (struct timespec[]){ { 10, 20 }, { 30, 40 } }, 0));
	print_times("d");
	R(chmod("d", 0755));
	print_times("d");
	/* chmod changes ctime but not mtime */
	R(utimensat(AT_FDCWD, "f",
		    (struct timespec[]){ { 100, 0 }, { 200, 0 } }, 0));
	tsave("f", &ts);
	R(chmod("f", 0644));
	tcheck("f", &ts);
	tsave("f", &ts);
	R(setxattr("f", "user.t", "1", 1, 0));
	tcheck("f", &ts);
	ls(".");
	leave();
}

/* ---- permission scenarios run as nobody ---- */

static void nobody_sticky(void)
{
	int fd;

	fd = RFD(open("st/nf", O_CREAT | O_WRONLY, 0644));
	xclose(fd);
	show("st/nf");
	R(unlink("st/rootf"));
	R(rename("st/rootf", "st/x"));
	R(rename("st/nf", "st/rootf"));
	R(rmdir("st/rootd"));
	R(rename("st/nf", "st/nf2"));
	fd = RFD(open("st/rootf", O_WRONLY));
	R(write(fd, "nobody", 6));
	xclose(fd);
	R(mkdir("st/nd", 0755));
	show("st/nd");
	R(unlink("st/nf2"));
	write_file("st/keep", "k", 1, 0644);
	R(unlink("open/rootf"));	/* non-sticky 0777: allowed */
	ls("st");
}

static void nobody_setgid(void)
{
	int fd;

	fd = RFD(open("sg/nf", O_CREAT | O_WRONLY, 0644));
	xclose(fd);
	show("sg/nf");
	R(mkdir("sg/nd", 0777));
	show("sg/nd");
	fd = RFD(open("sg/nsg", O_CREAT | O_WRONLY, 02755));
	xclose(fd);
	show("sg/nsg");
	R(chmod("sg/nf", 02644));
	show("sg/nf");
	/* a group-executable set-gid file we may write loses S_ISGID */
	fd = RFD(open("sg/rootsuid", O_WRONLY));
	R(write(fd, "w", 1));
	xclose(fd);
	show("sg/rootsuid");
	R(truncate("sg/rootsgid", 0));
	show("sg/rootsgid");
	/* umask applies to what nobody creates */
	umask(027);
	fd = RFD(open("sg/um", O_CREAT | O_WRONLY, 0666));
	xclose(fd);
	show("sg/um");
	R(mkdir("sg/umd", 0777));
	show("sg/umd");
	R(mknod("sg/umf", S_IFIFO | 0666, 0));
	show("sg/umf");
	umask(022);
}

static void nobody_eacces(void)
{
	unsigned char b[64];
	int fd;

	RO(open("perm/r644", O_WRONLY));
	RO(open("perm/r644", O_RDWR));
	fd = RFD(open("perm/r644", O_RDONLY));
	xclose(fd);
	RO(open("perm/r600", O_RDONLY));
	R(truncate("perm/r644", 0));
	RO(open("perm/r644", O_WRONLY | O_TRUNC));
	RO(open("perm/new", O_CREAT | O_WRONLY, 0644));
	R(mkdir("perm/newd", 0755));
	R(unlink("perm/r644"));
	R(rename("perm/r644", "perm/zz"));
	R(symlink("x", "perm/sl"));
	R(link("perm/r644", "perm/hl"));
	R(mknod("perm/p", S_IFIFO | 0644, 0));
	R(access("perm/closed/f", F_OK));
	R(stat("perm/closed/f", (struct stat *)b));
	RO(open("perm/closed/f", O_RDONLY));
	ls("perm/closed");
	R(access("perm/noexec/f", F_OK));
	ls("perm/noread");
	R(access("perm/noread/f", R_OK));
	R(chmod("perm/r666", 0777));
	R(chown("perm/r666", NOBODY, NOBODY));
	R(utimensat(AT_FDCWD, "perm/r666",
		    (struct timespec[]){ { 1, 0 }, { 1, 0 } }, 0));
	R(utimensat(AT_FDCWD, "perm/r666", NULL, 0));
	R(utimensat(AT_FDCWD, "perm/r644", NULL, 0));
	R(utimensat(AT_FDCWD, "perm/r666",
		    (struct timespec[]){ { 0, UTIME_NOW }, { 0, UTIME_NOW } },
		    0));
	fd = RFD(open("perm/r666", O_WRONLY));
	R(write(fd, "ok", 2));
	xclose(fd);
	R(access("perm/r644", R_OK));
	R(access("perm/r644", W_OK));
	R(access("perm/r644", X_OK));
	R(access("perm/r755", X_OK));
	/* own files: chown to others and to foreign groups is refused */
	write_file("perm/open/mine", "m", 1, 0644);
	show("perm/open/mine");
	R(chown("perm/open/mine", 0, -1));
	R(chown("perm/open/mine", -1, 0));
	R(chown("perm/open/mine", NOBODY, NOBODY));
	R(chmod("perm/open/mine", 0600));
	show("perm/open/mine");
	/* xattrs: trusted is refused and hidden, user needs write access */
	R(setxattr("perm/r666", "trusted.n", "1", 1, 0));
	R(getxattr("perm/r666", "trusted.t", b, sizeof(b)));
	R(setxattr("perm/r644", "user.n", "1", 1, 0));
	R(getxattr("perm/r644", "user.r", b, sizeof(b)));
	R(setxattr("perm/r666", "user.n", "1", 1, 0));
	R(removexattr("perm/r644", "user.r"));
	xlist("perm/r666");
	xlist("perm/r644");
	R(setxattr("perm/open/mine", "security.x", "1", 1, 0));
	R(setxattr("perm/open/mine", "user.mine", "1", 1, 0));
	xlist("perm/open/mine");
}

static void nobody_acl(void)
{
	int fd;

	fd = RFD(open("acl/f", O_RDONLY));
	xclose(fd);
	RO(open("acl/f", O_WRONLY));
	R(access("acl/f", R_OK));
	R(access("acl/f", W_OK));
	fd = RFD(open("acl/g", O_RDWR));
	xclose(fd);
	RO(open("acl/h", O_RDONLY));
	fd = RFD(open("acl/dd/nf", O_CREAT | O_WRONLY, 0666));
	xclose(fd);
}

static void nobody_acl2(void)
{
	RO(open("acl/f", O_RDONLY));
}

/* acl_xattr -- build a POSIX ACL xattr value: n entries of tag/perm/id */
static size_t acl_xattr(unsigned char *out, const unsigned int (*e)[3],
			size_t n)
{
	uint32_t ver = 2;
	size_t o = 4;

	memcpy(out, &ver, 4);
	for (size_t i = 0; i < n; i++) {
		uint16_t tag = (uint16_t)e[i][0], perm = (uint16_t)e[i][1];
		uint32_t id = e[i][2];

		memcpy(out + o, &tag, 2);
		memcpy(out + o + 2, &perm, 2);
		memcpy(out + o + 4, &id, 4);
		o += 8;
	}
	return o;
}

#define A_USER_OBJ 0x01
#define A_USER 0x02
#define A_GROUP_OBJ 0x04
#define A_GROUP 0x08
#define A_MASK 0x10
#define A_OTHER 0x20
#define A_NOID 0xffffffffu

static void sc_perms(void)
{
	unsigned char acl[128];
	size_t n;
	int fd;

	section("permissions (nobody)");
	enter("pm");
	R(chmod(".", 0755));
	/* sticky directory */
	R(mkdir("st", 0755));
	R(chmod("st", 01777));
	write_file("st/rootf", "root", 4, 0666);
	R(chmod("st/rootf", 0666));
	R(mkdir("st/rootd", 0755));
	R(mkdir("open", 0777));
	R(chmod("open", 0777));
	write_file("open/rootf", "root", 4, 0644);
	show("st");
	as_user(NOBODY, NOBODY, nobody_sticky, "sticky dir");
	show("st/rootf");
	cat("st/rootf");
	R(unlink("st/keep"));	/* root may */
	ls("st");

	/* set-gid directory inheritance */
	R(mkdir("sg", 0777));
	R(chown("sg", 0, OTHER_GID));
	R(chmod("sg", 02777));
	show("sg");
	write_file("sg/rf", "", 0, 0644);
	show("sg/rf");
	R(mkdir("sg/rd", 0755));
	show("sg/rd");
	R(mkdir("sg/rd/deeper", 0700));
	show("sg/rd/deeper");
	write_file("sg/rootsuid", "", 0, 0644);
	R(chmod("sg/rootsuid", 06777));
	write_file("sg/rootsgid", "abc", 3, 0644);
	R(chmod("sg/rootsgid", 02676));
	show("sg/rootsgid");
	as_user(NOBODY, NOBODY, nobody_setgid, "setgid dir");
	/* a non-group-executable set-gid file keeps it on truncate by others */
	show("sg/rootsgid");

	/* EACCES / EPERM matrix */
	enter("perm");
	R(chmod(".", 0755));
	write_file("r644", "secret", 6, 0644);
	write_file("r600", "secret", 6, 0600);
	write_file("r666", "shared", 6, 0666);
	R(chmod("r666", 0666));
	write_file("r755", "#!/bin/sh\n", 10, 0755);
	R(setxattr("r644", "user.r", "r", 1, 0));
	R(setxattr("r666", "trusted.t", "t", 1, 0));
	R(setxattr("r666", "user.u", "u", 1, 0));
	R(mkdir("closed", 0700));
	write_file("closed/f", "", 0, 0644);
	R(mkdir("noexec", 0744));
	write_file("noexec/f", "", 0, 0644);
	R(mkdir("noread", 0711));
	write_file("noread/f", "", 0, 0644);
	R(mkdir("open", 0777));
	R(chmod("open", 0777));
	leave();
	as_user(NOBODY, NOBODY, nobody_eacces, "EACCES matrix");
	cat("perm/r666");
	xlist("perm/r666");

	/* POSIX ACLs: access ACL granting nobody read, default ACL on a dir */
	enter("acl");
	R(chmod(".", 0755));
	write_file("f", "acl", 3, 0600);
	{
		const unsigned int e[][3] = {
			{ A_USER_OBJ, 6, A_NOID }, { A_USER, 4, NOBODY },
			{ A_GROUP_OBJ, 0, A_NOID }, { A_MASK, 4, A_NOID },
			{ A_OTHER, 0, A_NOID } };

		n = acl_xattr(acl, e, 5);
		R(setxattr("f", "system.posix_acl_access", acl, n, 0));
	}
	show("f");
	xget("f", "system.posix_acl_access");
	write_file("g", "acl", 3, 0600);
	{
		const unsigned int e[][3] = {
			{ A_USER_OBJ, 6, A_NOID }, { A_GROUP_OBJ, 0, A_NOID },
			{ A_GROUP, 6, NOBODY }, { A_MASK, 6, A_NOID },
			{ A_OTHER, 0, A_NOID } };

		n = acl_xattr(acl, e, 5);
		R(setxattr("g", "system.posix_acl_access", acl, n, 0));
	}
	show("g");
	write_file("h", "acl", 3, 0644);
	{
		const unsigned int e[][3] = {
			{ A_USER_OBJ, 6, A_NOID }, { A_USER, 0, NOBODY },
			{ A_GROUP_OBJ, 4, A_NOID }, { A_MASK, 4, A_NOID },
			{ A_OTHER, 4, A_NOID } };

		n = acl_xattr(acl, e, 5);
		R(setxattr("h", "system.posix_acl_access", acl, n, 0));
	}
	show("h");
	R(mkdir("dd", 0755));
	{
		const unsigned int e[][3] = {
			{ A_USER_OBJ, 7, A_NOID }, { A_USER, 7, NOBODY },
			{ A_GROUP_OBJ, 5, A_NOID }, { A_MASK, 7, A_NOID },
			{ A_OTHER, 0, A_NOID } };

		n = acl_xattr(acl, e, 5);
		R(setxattr("dd", "system.posix_acl_default", acl, n, 0));
		R(setxattr("dd", "system.posix_acl_access", acl, n, 0));
	}
	show("dd");
	xget("dd", "system.posix_acl_default");
	fd = RFD(open("dd/rootnew", O_CREAT | O_WRONLY, 0666));
	xclose(fd);
	show("dd/rootnew");
	xget("dd/rootnew", "system.posix_acl_access");
	R(mkdir("dd/sub", 0777));
	show("dd/sub");
	xget("dd/sub", "system.posix_acl_default");
	/* a bad ACL is refused */
	{
		const unsigned int e[][3] = { { A_USER, 7, NOBODY } };

		n = acl_xattr(acl, e, 1);
		R(setxattr("h", "system.posix_acl_access", acl, n, 0));
	}
	leave();
	as_user(NOBODY, NOBODY, nobody_acl, "ACL");
	show("acl/dd/nf");
	xlist("acl/f");
	enter_existing("acl");
	R(chmod("f", 0600));	/* mask becomes --- */
	xget("f", "system.posix_acl_access");
	leave();
	as_user(NOBODY, NOBODY, nobody_acl2, "ACL after chmod");
	enter_existing("acl");
	R(removexattr("f", "system.posix_acl_access"));
	show("f");
	xlist("f");
	leave();
	leave();
}

static void sc_truncate(void)
{
	static unsigned char buf[20000];
	struct stat ts;
	int fd;

	section("truncate");
	enter("trunc");
	write_pat("t", 10000, 11);
	show("t");
	tsave("t", &ts);
	R(truncate("t", 5000));
	tcheck("t", &ts);
	show("t");
	data("t");
	R(truncate("t", 20000));
	show("t");
	zeros("t", 5000, 15000);
	data("t");
	/* down to a non-page-aligned size then up again: tail is zero */
	write_pat("u", 8192, 12);
	R(truncate("u", 5000));
	R(truncate("u", 8192));
	zeros("u", 5000, 3192);
	data("u");
	show("u");
	/* the same through a mapping-sized file and ftruncate */
	fd = RFD(open("v", O_CREAT | O_RDWR, 0644));
	fillpat(buf, sizeof(buf), 13);
	R(write(fd, buf, sizeof(buf)));
	R(ftruncate(fd, 4097));
	fshow(fd, "v");
	R(ftruncate(fd, 12288));
	R(pread(fd, buf, sizeof(buf), 0));
	say("  v tail zero: %s", all_zero(buf + 4097, 12288 - 4097) ? "yes" : "no");
	R(ftruncate(fd, -1));
	R(ftruncate(fd, 0));
	fshow(fd, "v");
	R(ftruncate(fd, 1LL << 40));
	fshow(fd, "v");
	R(pread(fd, buf, 100, (1LL << 40) - 50));
	R(ftruncate(fd, 0));
	xclose(fd);
	/* huge offsets: far beyond any chunk map a small file needs, and up
	 * to the largest offset the VFS allows */
	fd = RFD(open("huge", O_CREAT | O_RDWR, 0644));
	R(pwrite(fd, "tb", 2, (1LL << 40) + 123));
	fshow(fd, "huge(1T)");
	R(pwrite(fd, "pb", 2, (1LL << 50) - 1));
	fshow(fd, "huge(1P)");
	R(pwrite(fd, "ab", 2, INT64_MAX - 1));
	R(pwrite(fd, "ab", 2, INT64_MAX - 2));
	fshow(fd, "huge(max)");
	memset(buf, 0, 8);
	R(pread(fd, buf, 8, (1LL << 40) + 120));
	say("  huge reads \"%.8s\"", buf + 3);
	R(pread(fd, buf, 8, (1LL << 50) - 1));
	R(pread(fd, buf, 2, INT64_MAX - 2));
	R(ftruncate(fd, INT64_MAX));
	R(ftruncate(fd, 5000));
	fshow(fd, "huge(5000)");
	xclose(fd);
	data("huge");
	R(truncate(".", 0));
	R(truncate("nonexist", 0));
	R(truncate("t/", 0));
	R(truncate("t", -5));
	/* truncate through O_TRUNC on a file open elsewhere */
	write_pat("w", 30000, 14);
	fd = RFD(open("w", O_RDONLY));
	{
		int fd2 = RFD(open("w", O_WRONLY | O_TRUNC));

		xclose(fd2);
	}
	R(pread(fd, buf, 100, 0));
	fshow(fd, "w");
	xclose(fd);
	ls(".");
	leave();
}

static void sc_fallocate(void)
{
	static unsigned char buf[65536];
	int fd;

	section("fallocate");
	enter("falloc");
	fd = RFD(open("a", O_CREAT | O_RDWR, 0644));
	R(fallocate(fd, 0, 0, 65536));
	fshow(fd, "a(alloc 64k)");
	lseek_show(fd, 0, SEEK_DATA, "a SEEK_DATA");
	lseek_show(fd, 0, SEEK_HOLE, "a SEEK_HOLE");
	R(pread(fd, buf, sizeof(buf), 0));
	say("  a reads zeros: %s", all_zero(buf, sizeof(buf)) ? "yes" : "no");
	R(fallocate(fd, FALLOC_FL_KEEP_SIZE, 65536, 65536));
	fshow(fd, "a(keep_size +64k)");
	R(fallocate(fd, 0, 100000, 10));
	fshow(fd, "a(alloc to 100010)");
	R(fallocate(fd, 0, 0, 0));
	R(fallocate(fd, 0, -1, 10));
	R(fallocate(fd, 0x1000, 0, 10));	/* unknown flag */
	xclose(fd);

	/* punching */
	write_pat("p", 65536, 21);
	fd = RFD(open("p", O_RDWR));
	fshow(fd, "p");
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096,
		    8192));
	fshow(fd, "p(punch 4k+8k)");
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 20000,
		    100));
	fshow(fd, "p(punch 20000+100)");
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 30000,
		    20000));
	fshow(fd, "p(punch 30000+20000)");
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 60000,
		    100000));
	fshow(fd, "p(punch past EOF)");
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));
	lseek_show(fd, 0, SEEK_HOLE, "p SEEK_HOLE");
	lseek_show(fd, 4096, SEEK_DATA, "p SEEK_DATA");
	lseek_show(fd, 12288, SEEK_HOLE, "p SEEK_HOLE");
	xclose(fd);
	data("p");
	zeros("p", 4096, 8192);
	zeros("p", 20000, 100);
	zeros("p", 30000, 20000);
	zeros("p", 60000, 5536);
	fd = RFD(open("p", O_RDWR));
	R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 65536));
	fshow(fd, "p(all punched)");
	lseek_show(fd, 0, SEEK_DATA, "p SEEK_DATA");
	xclose(fd);
	data("p");

	/* fallocate then write, keep-size beyond EOF then extend */
	fd = RFD(open("k", O_CREAT | O_RDWR, 0644));
	R(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 20));
	fshow(fd, "k(keep 1M)");
	R(pwrite(fd, "abc", 3, 5000));
	fshow(fd, "k(written)");
	R(ftruncate(fd, 8192));
	fshow(fd, "k(truncated 8k)");
	xclose(fd);
	data("k");
	R(fallocate(-1, 0, 0, 1));
	fd = RFD(open("k", O_RDONLY));
	R(fallocate(fd, 0, 0, 1));
	xclose(fd);

	/* expected differences, filtered by the diff script */
	write_pat("z", 65536, 22);
	fd = open("z", O_RDWR);
	errno = 0;
	{
		int r = fallocate(fd, FALLOC_FL_ZERO_RANGE, 4096, 8192);

		say("XDIFF zero_range: fallocate(ZERO_RANGE) = %d %s", r,
		    r ? ename(errno) : "");
	}
	xclose(fd);
	fd = open(".", O_TMPFILE | O_RDWR, 0600);
	say("XDIFF o_tmpfile: open(O_TMPFILE) = %s", fd >= 0 ? "fd" :
	    ename(errno));
	xclose(fd);
	ls(".");
	leave();
}

static void sc_seek(void)
{
	static unsigned char buf[8192];
	int fd;

	section("SEEK_DATA / SEEK_HOLE");
	enter("seek");
	fd = RFD(open("s", O_CREAT | O_RDWR, 0644));
	fillpat(buf, 4096, 31);
	R(pwrite(fd, buf, 4096, 0));
	R(pwrite(fd, buf, 4096, 1 << 20));
	R(ftruncate(fd, 2 << 20));
	R(fsync(fd));
	fshow(fd, "s");
	lseek_show(fd, 0, SEEK_DATA, "DATA");
	lseek_show(fd, 0, SEEK_HOLE, "HOLE");
	lseek_show(fd, 100, SEEK_HOLE, "HOLE");
	lseek_show(fd, 4096, SEEK_DATA, "DATA");
	lseek_show(fd, 5000, SEEK_DATA, "DATA");
	lseek_show(fd, 5000, SEEK_HOLE, "HOLE");
	lseek_show(fd, 1 << 20, SEEK_HOLE, "HOLE");
	lseek_show(fd, (1 << 20) + 4096, SEEK_DATA, "DATA");
	lseek_show(fd, (1 << 20) + 4096, SEEK_HOLE, "HOLE");
	lseek_show(fd, 2 << 20, SEEK_DATA, "DATA");
	lseek_show(fd, 2 << 20, SEEK_HOLE, "HOLE");
	lseek_show(fd, 3 << 20, SEEK_DATA, "DATA");
	lseek_show(fd, -1, SEEK_DATA, "DATA");
	xclose(fd);
	zeros("s", 4096, (1 << 20) - 4096);
	zeros("s", (1 << 20) + 4096, 1 << 20);
	data("s");
	/* one byte deep inside a page */
	fd = RFD(open("one", O_CREAT | O_RDWR, 0644));
	R(pwrite(fd, "x", 1, 10000));
	fshow(fd, "one");
	lseek_show(fd, 0, SEEK_DATA, "DATA");
	lseek_show(fd, 8192, SEEK_HOLE, "HOLE");
	lseek_show(fd, 10001, SEEK_DATA, "DATA");
	xclose(fd);
	/* empty file, fully written file, many extents */
	fd = RFD(open("e", O_CREAT | O_RDWR, 0644));
	lseek_show(fd, 0, SEEK_DATA, "DATA");
	lseek_show(fd, 0, SEEK_HOLE, "HOLE");
	xclose(fd);
	fd = RFD(open("ext", O_CREAT | O_RDWR, 0644));
	for (int i = 0; i < 64; i += 3)
		RQ(pwrite(fd, buf, 4096, (off_t)i * 65536));
	fshow(fd, "ext");
	{
		off_t o = 0;
		int k = 0;
		char line[2048] = "";
		size_t lo = 0;

		while (k < 60) {
			off_t d = lseek(fd, o, SEEK_DATA), h;

			if (d < 0)
				break;
			h = lseek(fd, d, SEEK_HOLE);
			if (!opt_noblocks)
				lo += snprintf(line + lo, sizeof(line) - lo,
					       " %jd-%jd", (intmax_t)d,
					       (intmax_t)h);
			o = h;
			k++;
		}
		say("  ext extents:%s%s", line, opt_noblocks ? " (omitted)" : "");
	}
	xclose(fd);
	data("ext");
	ls(".");
	leave();
}

static void sc_xattr(void)
{
	static unsigned char big[65537], rb[65537];
	char name[64];
	int fd;

	section("xattrs");
	enter("xat");
	write_file("f", "x", 1, 0644);
	R(mkdir("d", 0755));
	R(symlink("f", "l"));
	xlist("f");
	R(setxattr("f", "user.a", "alpha", 5, 0));
	R(setxattr("f", "user.a", "x", 1, XATTR_CREATE));
	R(setxattr("f", "user.b", "x", 1, XATTR_REPLACE));
	R(setxattr("f", "user.a", "beta", 4, XATTR_REPLACE));
	R(setxattr("f", "user.b", "", 0, XATTR_CREATE));
	R(setxattr("f", "user.c", "x", 1, XATTR_CREATE | XATTR_REPLACE));
	R(setxattr("f", "trusted.t", "tt", 2, 0));
	R(setxattr("f", "security.s", "ss", 2, 0));
	R(setxattr("f", "unknownns.x", "1", 1, 0));
	R(setxattr("f", "user.", "1", 1, 0));
	R(setxattr("f", "", "1", 1, 0));
	xget("f", "user.a");
	xget("f", "user.b");
	xget("f", "user.nope");
	xget("f", "trusted.t");
	xget("f", "security.s");
	xlist("f");
	R(getxattr("f", "user.a", NULL, 0));
	R(getxattr("f", "user.a", rb, 2));
	R(getxattr("f", "user.a", rb, 4));
	R(listxattr("f", NULL, 0));
	R(listxattr("f", (char *)rb, 5));
	R(removexattr("f", "user.b"));
	R(removexattr("f", "user.b"));
	R(removexattr("f", "user.nope"));
	xlist("f");
	/* large values */
	fillpat(big, sizeof(big), 41);
	R(setxattr("f", "user.big", big, 65536, 0));
	R(getxattr("f", "user.big", rb, sizeof(rb)));
	say("  big value equal: %s", memcmp(big, rb, 65536) ? "no" : "yes");
	R(getxattr("f", "user.big", rb, 65535));
	R(setxattr("f", "user.big2", big, 65537, 0));
	R(setxattr("f", "user.big", big, 100, XATTR_REPLACE));
	xget("f", "user.big");
	R(removexattr("f", "user.big"));
	/* long names */
	memset(name, 0, sizeof(name));
	{
		char ln[300];

		snprintf(ln, sizeof(ln), "user.%0250d", 7);
		R(setxattr("f", ln, "v", 1, 0));
		xget("f", ln);
		snprintf(ln, sizeof(ln), "user.%0251d", 7);
		R(setxattr("f", ln, "v", 1, 0));
	}
	/* many names */
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "user.n%03d", i);
		RQ(setxattr("f", name, name, strlen(name), 0));
	}
	xlist("f");
	xget("f", "user.n042");
	/* on dirs, symlinks (user.* is refused there), via fd */
	R(setxattr("d", "user.d", "dir", 3, 0));
	xget("d", "user.d");
	R(lsetxattr("l", "user.l", "1", 1, 0));
	R(lsetxattr("l", "trusted.l", "1", 1, 0));
	xget("l", "trusted.l");
	R(lgetxattr("l", "user.l", rb, sizeof(rb)));
	xlist("l");
	R(setxattr("l", "user.via", "link", 4, 0));
	xget("f", "user.via");
	fd = RFD(open("f", O_RDONLY));
	R(fsetxattr(fd, "user.fd", "1", 1, 0));
	R(fgetxattr(fd, "user.fd", rb, sizeof(rb)));
	R(flistxattr(fd, NULL, 0));
	R(fremovexattr(fd, "user.fd"));
	xclose(fd);
	/* survive rename and hard links; unlinked with the file */
	R(rename("f", "g"));
	R(link("g", "h"));
	xget("h", "user.a");
	R(getxattr("nonexist", "user.a", rb, sizeof(rb)));
	ls(".");
	leave();
}

/* sc_readdir -- listing content, and stability of iteration while the
 * directory changes (every entry present throughout is returned once) */
static void sc_readdir(void)
{
	enum { N = 1000, NEW = 400 };
	static int seen[N], seen_new[NEW], deleted[N];
	char name[64], buf[600];
	int fd, dots = 0, dotdots = 0, other = 0, batches = 0, added = 0;
	int problems = 0;
	long n;

	section("readdir");
	enter("rd");
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "e%04d", i);
		RQ(mknod(name, S_IFREG | 0644, 0));
	}
	ls(".");
	fd = RFD(open(".", O_RDONLY | O_DIRECTORY));
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long o = 0; o < n;) {
			unsigned short reclen;
			const char *nm = buf + o + 19;
			int idx;

			memcpy(&reclen, buf + o + 16, 2);
			o += reclen;
			if (!strcmp(nm, "."))
				dots++;
			else if (!strcmp(nm, ".."))
				dotdots++;
			else if (sscanf(nm, "e%d", &idx) == 1 && idx >= 0 &&
				 idx < N)
				seen[idx]++;
			else if (sscanf(nm, "n%d", &idx) == 1 && idx >= 0 &&
				 idx < NEW)
				seen_new[idx]++;
			else
				other++;
		}
		/* mutate: remove 5 names, some already returned, some not,
		 * and add 5 new ones */
		if (batches < 40) {
			for (int j = 0; j < 5; j++) {
				int v = (batches * 211 + j * 397 + 13) % N;

				if (deleted[v])
					continue;
				snprintf(name, sizeof(name), "e%04d", v);
				if (unlink(name))
					say("  unlink %s: %s", name,
					    ename(errno));
				deleted[v] = 1;
			}
			for (int j = 0; j < 5 && added < NEW; j++) {
				snprintf(name, sizeof(name), "n%04d", added++);
				RQ(mknod(name, S_IFREG | 0644, 0));
			}
		}
		batches++;
	}
	if (n < 0)
		say("  getdents64: %s", ename(errno));
	xclose(fd);
	for (int i = 0; i < N; i++) {
		if (!deleted[i] && seen[i] != 1) {
			if (problems++ < 10)
				say("  e%04d returned %d times", i, seen[i]);
		} else if (deleted[i] && seen[i] > 1) {
			if (problems++ < 10)
				say("  deleted e%04d returned %d times", i,
				    seen[i]);
		}
	}
	for (int i = 0; i < NEW; i++)
		if (seen_new[i] > 1 && problems++ < 10)
			say("  new n%04d returned %d times", i, seen_new[i]);
	say("  stability: . x%d, .. x%d, unknown %d, problems %d, "
	    "interleaved %s", dots, dotdots, other, problems,
	    batches >= 20 ? "yes" : "no");
	ls(".");

	/* telldir/seekdir cookies stay valid */
	{
		DIR *d = opendir(".");
		struct dirent *de;
		char *after[100];
		long pos;
		int k = 0, same_names = 1;

		for (int i = 0; i < 500 && (de = readdir(d)); i++)
			;
		pos = telldir(d);
		for (k = 0; k < 100 && (de = readdir(d)); k++)
			after[k] = strdup(de->d_name);
		seekdir(d, pos);
		for (int i = 0; i < k; i++) {
			de = readdir(d);
			if (!de || strcmp(de->d_name, after[i]))
				same_names = 0;
		}
		rewinddir(d);
		{
			int cnt = 0;

			while (readdir(d))
				cnt++;
			say("  seekdir same names: %s; rewinddir count %d",
			    same_names ? "yes" : "no", cnt);
		}
		for (int i = 0; i < k; i++)
			free(after[i]);
		closedir(d);
	}
	/* empty it */
	{
		DIR *d = opendir(".");
		struct dirent *de;
		int cnt = 0;

		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) == 0)
				cnt++;
		}
		closedir(d);
		ls(".");
	}
	leave();
	R(rmdir("rd"));
}

static void sc_statfs(void)
{
	struct statvfs sv;

	section("statfs");
	R(statvfs(".", &sv));
	say("  f_namemax=%lu f_bsize>0:%s f_frsize>0:%s blocks>0:%s "
	    "bfree<=blocks:%s bavail<=bfree:%s ffree<=files:%s",
	    sv.f_namemax, sv.f_bsize > 0 ? "yes" : "no",
	    sv.f_frsize > 0 ? "yes" : "no", sv.f_blocks > 0 ? "yes" : "no",
	    sv.f_bfree <= sv.f_blocks ? "yes" : "no",
	    sv.f_bavail <= sv.f_bfree ? "yes" : "no",
	    sv.f_ffree <= sv.f_files ? "yes" : "no");
}

static void sc_copy_range(void)
{
	static unsigned char src[1 << 20], rb[1 << 20];
	loff_t oi, oo;
	int fs, fd, fro;

	section("copy_file_range");
	enter("cfr");
	fillpat(src, 300000, 51);
	write_file("src", src, 300000, 0644);
	fs = RFD(open("src", O_RDONLY));
	fd = RFD(open("dst", O_CREAT | O_RDWR, 0644));
	R(copy_file_range(fs, NULL, fd, NULL, 100000, 0));
	R(lseek(fs, 0, SEEK_CUR));
	R(lseek(fd, 0, SEEK_CUR));
	oi = 50000;
	oo = 200000;
	R(copy_file_range(fs, &oi, fd, &oo, 70000, 0));
	say("  offsets now in=%jd out=%jd", (intmax_t)oi, (intmax_t)oo);
	R(lseek(fs, 0, SEEK_CUR));
	R(lseek(fd, 0, SEEK_CUR));
	oi = 290000;
	oo = 0;
	R(copy_file_range(fs, &oi, fd, &oo, 50000, 0));
	oi = 300000;
	R(copy_file_range(fs, &oi, fd, &oo, 50000, 0));
	oi = 0;
	R(copy_file_range(fs, &oi, fd, &oo, 0, 0));
	R(copy_file_range(fs, &oi, fd, &oo, 10, 1));
	R(copy_file_range(fd, &oi, fs, &oo, 10, 0));
	fro = RFD(open("src", O_WRONLY));
	R(copy_file_range(fro, NULL, fd, NULL, 10, 0));
	xclose(fro);
	xclose(fd);
	fshow(fs, "src");
	show("dst");
	data("dst");
	zeros("dst", 100000, 100000);
	{
		unsigned char *b;
		long n = read_all("dst", &b);

		say("  dst pieces: [0,10000)=%s [10000,100000)=%s "
		    "[200000,270000)=%s", n >= 270000 &&
		    !memcmp(b, src + 290000, 10000) ? "ok" : "bad",
		    n >= 100000 && !memcmp(b + 10000, src + 10000, 90000) ?
		    "ok" : "bad", n >= 270000 &&
		    !memcmp(b + 200000, src + 50000, 70000) ? "ok" : "bad");
		free(b);
	}
	xclose(fs);
	/* within one file: overlap refused, disjoint ranges fine */
	fd = RFD(open("src", O_RDWR));
	oi = 0;
	oo = 1000;
	R(copy_file_range(fd, &oi, fd, &oo, 5000, 0));
	oi = 0;
	oo = 300000;
	R(copy_file_range(fd, &oi, fd, &oo, 5000, 0));
	xclose(fd);
	data("src");
	/* large aligned copy (the reflink path), then write both sides:
	 * the copies must stay independent */
	fillpat(src, sizeof(src), 52);
	write_file("big", src, sizeof(src), 0644);
	fs = RFD(open("big", O_RDWR));
	fd = RFD(open("clone", O_CREAT | O_RDWR, 0644));
	oi = 0;
	oo = 0;
	R(copy_file_range(fs, &oi, fd, &oo, sizeof(src), 0));
	oi = 65536;
	oo = 2 << 20;
	R(copy_file_range(fs, &oi, fd, &oo, 262144, 0));
	fshow(fd, "clone");
	R(pwrite(fs, "SRC!", 4, 70000));
	R(pwrite(fd, "DST!", 4, 4096));
	R(fallocate(fs, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 131072,
		    65536));
	R(ftruncate(fs, 100000));
	drop_cache(fd);
	R(pread(fd, rb, sizeof(rb), 0));
	src[4096] = 'D';
	src[4097] = 'S';
	src[4098] = 'T';
	src[4099] = '!';
	say("  clone independent of source: %s",
	    memcmp(rb, src, sizeof(src)) ? "no" : "yes");
	R(pread(fd, rb, 262144, 2 << 20));
	fillpat(src, sizeof(src), 52);
	say("  second clone range intact: %s",
	    memcmp(rb, src + 65536, 262144) ? "no" : "yes");
	xclose(fs);
	xclose(fd);
	data("big");
	data("clone");
	show("clone");
	ls(".");
	leave();
}

static void sc_sync(void)
{
	int fd, dfd;

	section("sync calls");
	enter("sync");
	fd = RFD(open("f", O_CREAT | O_RDWR, 0644));
	R(write(fd, "data", 4));
	R(fsync(fd));
	R(fdatasync(fd));
	R(syncfs(fd));
	R(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
	xclose(fd);
	dfd = RFD(open(".", O_RDONLY | O_DIRECTORY));
	R(fsync(dfd));
	R(fdatasync(dfd));
	R(syncfs(dfd));
	xclose(dfd);
	fd = RFD(open("f", O_RDONLY));
	R(fsync(fd));
	xclose(fd);
	leave();
}

int main(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "b")) != -1) {
		if (c == 'b') {
			opt_noblocks = 1;
		} else {
			fprintf(stderr, "usage: posix_diff [-b] DIR\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: posix_diff [-b] DIR\n");
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "posix_diff: must run as root\n");
		return 77;
	}
	if (chdir(argv[optind])) {
		perror(argv[optind]);
		return 2;
	}
	umask(022);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	say("posix_diff transcript%s", opt_noblocks ? " (-b)" : "");

	sc_regular();
	sc_model();
	sc_dirs();
	sc_names();
	sc_symlinks();
	sc_links();
	sc_mknod();
	sc_rename();
	sc_unlink_open();
	sc_attrs();
	sc_perms();
	sc_truncate();
	sc_fallocate();
	sc_seek();
	sc_xattr();
	sc_readdir();
	sc_statfs();
	sc_copy_range();
	sc_sync();
	say("END");
	fflush(stdout);
	return 0;
}

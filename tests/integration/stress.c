// SPDX-License-Identifier: Apache-2.0
/*
 * stress.c -- concurrent multi-process workload with content verification.
 *
 * Usage: stress DIR NPROC SECONDS MANIFESTDIR
 *
 * NPROC worker processes share the tree DIR/d0..d7.  Each owns the files it
 * creates (names "w<id>_<seq>") and keeps an in-memory model of their
 * content, while it randomly creates, pwrites at random offsets, truncates,
 * maps and stores, reads back and compares, renames (across directories and
 * over its own files), unlinks, lists directories (its own names must be
 * exactly the model's), and appends fixed-size records to one shared
 * O_APPEND log and to interleaved 512-byte stripes of one shared file
 * (every page and chunk of it written by all workers at once).  At the end each worker reports every file it owns with an
 * xxh64 checksum; the parent then walks the tree and requires that every
 * surviving file is owned and matches its checksum (read cold, past the page
 * cache), that nothing owned is missing, that nothing unexpected exists, and
 * that the shared log holds every record intact and the shared file every
 * stripe's last write.
 *
 * Exits 0 if all is well, 1 on any mismatch.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "xorshift.h"

#define NDIRS 8
#define MAXFILES 48
#define MAXSIZE (384 << 10)
#define RECSZ 64
#define SHARED_SZ (4 << 20)	/* one file all workers write at once */
#define STRIPE 512		/* stripe i belongs to worker i % nproc */

struct ofile {
	char path[64];
	int live;
	size_t size;
	unsigned char *data;	/* model, MAXSIZE bytes */
};

struct report {
	int id;
	int nfiles;
	long records;
	long ops[16];
	int errors;
	double slowest;		/* seconds, the slowest single operation */
	int slowest_op;
};

static struct ofile files[MAXFILES];
static int wid, nerr;
static long seq;
static char *base;	/* manifest path prefix */
static int g_nproc;
static unsigned char *shared_model;	/* this worker's stripes */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "worker %d: ", wid);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	nerr++;
}

static void fill(unsigned char *b, size_t n)
{
	uint64_t v = rnd();

	for (size_t i = 0; i < n; i++) {
		if ((i & 7) == 0)
			v = v * 6364136223846793005ULL + 1442695040888963407ULL;
		b[i] = (unsigned char)(v >> ((i & 7) * 8));
	}
}

static struct ofile *pick(void)
{
	int start = (int)(rnd() % MAXFILES);

	for (int k = 0; k < MAXFILES; k++) {
		struct ofile *f = &files[(start + k) % MAXFILES];

		if (f->live)
			return f;
	}
	return NULL;
}

static void new_name(char *buf, size_t n)
{
	snprintf(buf, n, "d%d/w%d_%ld", (int)(rnd() % NDIRS), wid, seq++);
}

static void op_create(void)
{
	struct ofile *f = NULL;
	unsigned char *buf;
	size_t len;
	int fd;

	for (int i = 0; i < MAXFILES; i++)
		if (!files[i].live) {
			f = &files[i];
			break;
		}
	if (!f)
		return;
	if (!f->data)
		f->data = malloc(MAXSIZE);
	new_name(f->path, sizeof(f->path));
	fd = open(f->path, O_CREAT | O_EXCL | O_WRONLY, 0644);
	if (fd < 0) {
		err("create %s: %s", f->path, strerror(errno));
		return;
	}
	len = rnd() % (256 << 10);
	buf = f->data;
	fill(buf, len);
	if (write(fd, buf, len) != (ssize_t)len)
		err("write %s: %s", f->path, strerror(errno));
	close(fd);
	f->size = len;
	f->live = 1;
}

static void op_pwrite(void)
{
	struct ofile *f = pick();
	unsigned char tmp[65536];
	size_t off, len;
	int fd;

	if (!f)
		return;
	len = 1 + rnd() % sizeof(tmp);
	off = rnd() % (f->size + 65536);
	if (off + len > MAXSIZE)
		return;
	fill(tmp, len);
	fd = open(f->path, O_WRONLY);
	if (fd < 0) {
		err("open %s: %s", f->path, strerror(errno));
		return;
	}
	if (pwrite(fd, tmp, len, off) != (ssize_t)len)
		err("pwrite %s: %s", f->path, strerror(errno));
	close(fd);
	if (off > f->size)
		memset(f->data + f->size, 0, off - f->size);
	memcpy(f->data + off, tmp, len);
	if (off + len > f->size)
		f->size = off + len;
}

/*
 * report_diff -- say where @got differs from @f's model, whether the wrong
 * bytes are zeros, and whether a cold re-read (past the page cache) still
 * differs: what tells a lost write or a clobbered chunk from a bad read
 */
static void report_diff(struct ofile *f, const unsigned char *got,
			const char *why)
{
	static unsigned char again[MAXSIZE + 1];
	size_t i, first = f->size, last = 0, nbad = 0, nzero = 0;
	const char *cold = "cannot re-read";
	ssize_t n;
	int fd;

	for (i = 0; i < f->size; i++) {
		if (got[i] == f->data[i])
			continue;
		if (first == f->size)
			first = i;
		last = i;
		nbad++;
		nzero += got[i] == 0;
	}
	fd = open(f->path, O_RDONLY);
	if (fd >= 0) {
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		n = pread(fd, again, f->size, 0);
		close(fd);
		if (n == (ssize_t)f->size)
			cold = memcmp(again, f->data, f->size) ?
				       "a cold re-read differs too" :
				       "a cold re-read is right";
	}
	err("%s: content differs at byte %zu of %zu (%s): bytes %zu..%zu, "
	    "%zu wrong, %zu of them zeros; %s", f->path, first, f->size, why,
	    first, last, nbad, nzero, cold);
}

static void op_verify(struct ofile *f, const char *why)
{
	static unsigned char buf[MAXSIZE + 1];
	struct stat st;
	ssize_t n;
	int fd;

	if (!f)
		return;
	fd = open(f->path, O_RDONLY);
	if (fd < 0) {
		err("open %s (%s): %s", f->path, why, strerror(errno));
		return;
	}
	if (fstat(fd, &st) || (size_t)st.st_size != f->size)
		err("%s: size %jd, expected %zu (%s)", f->path,
		    (intmax_t)st.st_size, f->size, why);
	if (rnd() % 4 == 0)
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n != (ssize_t)f->size) {
		err("%s: read %zd, expected %zu (%s)", f->path, n, f->size,
		    why);
		return;
	}
	if (memcmp(buf, f->data, f->size))
		report_diff(f, buf, why);
}

static void op_truncate(void)
{
	struct ofile *f = pick();
	size_t ns = rnd() % MAXSIZE;

	if (!f)
		return;
	if (truncate(f->path, ns)) {
		err("truncate %s: %s", f->path, strerror(errno));
		return;
	}
	if (ns > f->size)
		memset(f->data + f->size, 0, ns - f->size);
	f->size = ns;
}

static void op_rename(void)
{
	struct ofile *f = pick();
	char np[64];

	if (!f)
		return;
	new_name(np, sizeof(np));
	if (rename(f->path, np)) {
		err("rename %s %s: %s", f->path, np, strerror(errno));
		return;
	}
	memcpy(f->path, np, sizeof(np));
}

static void op_rename_over(void)
{
	struct ofile *a = pick(), *b = pick();

	if (!a || !b || a == b)
		return;
	if (rename(a->path, b->path)) {
		err("rename %s over %s: %s", a->path, b->path,
		    strerror(errno));
		return;
	}
	memcpy(a->path, b->path, sizeof(a->path));
	b->live = 0;
}

static void op_unlink(void)
{
	struct ofile *f = pick();

	if (!f)
		return;
	if (unlink(f->path))
		err("unlink %s: %s", f->path, strerror(errno));
	f->live = 0;
}

static void op_mmap(void)
{
	struct ofile *f = pick();
	unsigned char *m;
	size_t off, len;
	unsigned char v = (unsigned char)rnd();
	int fd;

	if (!f || f->size == 0)
		return;
	off = rnd() % f->size;
	len = 1 + rnd() % (f->size - off);
	fd = open(f->path, O_RDWR);
	if (fd < 0) {
		err("open %s: %s", f->path, strerror(errno));
		return;
	}
	m = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		err("mmap %s: %s", f->path, strerror(errno));
		close(fd);
		return;
	}
	memset(m + off, v, len);
	memset(f->data + off, v, len);
	if (msync(m, f->size, MS_SYNC))
		err("msync %s: %s", f->path, strerror(errno));
	munmap(m, f->size);
	close(fd);
}

static long records;

static void op_append(void)
{
	char rec[RECSZ + 1];
	int fd = open("applog", O_WRONLY | O_APPEND);
	uint64_t h;
	int n;

	if (fd < 0) {
		err("open applog: %s", strerror(errno));
		return;
	}
	n = snprintf(rec, sizeof(rec), "w%02d s%08ld ", wid, records);
	memset(rec + n, 'a' + wid % 26, RECSZ - n - 17);
	h = XXH64(rec, RECSZ - 17, 0);
	snprintf(rec + RECSZ - 17, 18, "%016" PRIx64 "\n", h);
	if (write(fd, rec, RECSZ) != RECSZ)
		err("append: %s", strerror(errno));
	else
		records++;
	close(fd);
}

static void op_listdir(void)
{
	int d = (int)(rnd() % NDIRS);
	char dn[16], prefix[32], p[300];
	DIR *dir;
	struct dirent *de;
	int found = 0, expect = 0;

	snprintf(dn, sizeof(dn), "d%d", d);
	snprintf(prefix, sizeof(prefix), "w%d_", wid);
	dir = opendir(dn);
	if (!dir) {
		err("opendir %s: %s", dn, strerror(errno));
		return;
	}
	while ((de = readdir(dir))) {
		int known = 0;

		if (strncmp(de->d_name, prefix, strlen(prefix)) ||
		    strstr(de->d_name, "tmp") || strstr(de->d_name, "sub"))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dn, de->d_name);
		for (int i = 0; i < MAXFILES; i++)
			if (files[i].live && !strcmp(files[i].path, p))
				known = 1;
		if (!known)
			err("readdir %s: unexpected own entry %s", dn,
			    de->d_name);
		found++;
	}
	closedir(dir);
	snprintf(p, sizeof(p), "%s/", dn);
	for (int i = 0; i < MAXFILES; i++)
		if (files[i].live && !strncmp(files[i].path, p, strlen(p)))
			expect++;
	if (found != expect)
		err("readdir %s: %d own entries, expected %d", dn, found,
		    expect);
}

static void op_stat(void)
{
	struct ofile *f = pick();
	struct stat st;

	if (!f)
		return;
	if (stat(f->path, &st))
		err("stat %s: %s", f->path, strerror(errno));
	else if ((size_t)st.st_size != f->size)
		err("stat %s: size %jd expected %zu", f->path,
		    (intmax_t)st.st_size, f->size);
}

static void op_churn(void)
{
	char p[64];
	unsigned char b[4096];
	int fd;

	snprintf(p, sizeof(p), "d%d/w%d_tmp", (int)(rnd() % NDIRS), wid);
	fd = open(p, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd < 0) {
		err("create %s: %s", p, strerror(errno));
		return;
	}
	fill(b, sizeof(b));
	if (write(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
		err("write %s: %s", p, strerror(errno));
	if (unlink(p))
		err("unlink %s: %s", p, strerror(errno));
	if (pwrite(fd, b, 100, 10000) != 100)
		err("pwrite unlinked %s: %s", p, strerror(errno));
	close(fd);
}

/* op_shared -- rewrite one of our 512-byte stripes of the shared file, by
 * pwrite or through a shared mapping, while the other workers write the
 * neighbouring stripes of the same pages and chunks */
static void op_shared(void)
{
	long per = SHARED_SZ / STRIPE / g_nproc;
	long s = (long)(rnd() % per) * g_nproc + wid;
	off_t off = (off_t)s * STRIPE;
	unsigned char b[STRIPE];
	int fd = open("shared.dat", O_RDWR);

	if (fd < 0) {
		err("open shared.dat: %s", strerror(errno));
		return;
	}
	fill(b, STRIPE);
	if (rnd() % 4 == 0) {
		off_t pg = off & ~(off_t)4095;
		unsigned char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
					MAP_SHARED, fd, pg);

		if (m == MAP_FAILED) {
			err("mmap shared.dat: %s", strerror(errno));
			close(fd);
			return;
		}
		memcpy(m + (off - pg), b, STRIPE);
		if (msync(m, 4096, MS_SYNC))
			err("msync shared.dat: %s", strerror(errno));
		munmap(m, 4096);
	} else if (pwrite(fd, b, STRIPE, off) != STRIPE) {
		err("pwrite shared.dat: %s", strerror(errno));
	}
	memcpy(shared_model + off, b, STRIPE);
	/* now and then, check another of our stripes */
	if (rnd() % 4 == 0) {
		long s2 = (long)(rnd() % per) * g_nproc + wid;

		if (pread(fd, b, STRIPE, (off_t)s2 * STRIPE) != STRIPE ||
		    memcmp(b, shared_model + (off_t)s2 * STRIPE, STRIPE))
			err("shared.dat: stripe %ld lost an update", s2);
	}
	close(fd);
}

static void op_subdir(void)
{
	char p[64], q[96];
	int fd;

	snprintf(p, sizeof(p), "d%d/w%d_sub", (int)(rnd() % NDIRS), wid);
	if (mkdir(p, 0755)) {
		err("mkdir %s: %s", p, strerror(errno));
		return;
	}
	snprintf(q, sizeof(q), "%s/x", p);
	fd = open(q, O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		err("create %s: %s", q, strerror(errno));
	else
		close(fd);
	if (rmdir(p) == 0 || errno != ENOTEMPTY)
		err("rmdir non-empty %s: %s", p, strerror(errno));
	if (unlink(q) || rmdir(p))
		err("cleanup %s: %s", p, strerror(errno));
}

static int worker(int id, double seconds, int rfd)
{
	struct report rep = { 0 };
	double end = now() + seconds;
	char mpath[4200];
	FILE *mf;

	wid = id;
	rep.id = id;
	rs = 0x9e3779b97f4a7c15ULL * (uint64_t)(id + 1);
	shared_model = calloc(1, SHARED_SZ);
	while (now() < end) {
		int op = (int)(rnd() % 112);
		double t0 = now(), dt;

		if (op < 12) {
			op_create();
			rep.ops[0]++;
		} else if (op < 32) {
			op_pwrite();
			rep.ops[1]++;
		} else if (op < 44) {
			op_verify(pick(), "random check");
			rep.ops[2]++;
		} else if (op < 49) {
			op_truncate();
			rep.ops[3]++;
		} else if (op < 57) {
			op_rename();
			rep.ops[4]++;
		} else if (op < 60) {
			op_rename_over();
			rep.ops[5]++;
		} else if (op < 66) {
			op_unlink();
			rep.ops[6]++;
		} else if (op < 72) {
			op_mmap();
			rep.ops[7]++;
		} else if (op < 78) {
			op_append();
			rep.ops[8]++;
		} else if (op < 83) {
			op_listdir();
			rep.ops[9]++;
		} else if (op < 90) {
			op_stat();
			rep.ops[10]++;
		} else if (op < 94) {
			struct ofile *f = pick();
			int fd = f ? open(f->path, O_RDONLY) : -1;

			if (fd >= 0) {
				if (fsync(fd))
					err("fsync: %s", strerror(errno));
				close(fd);
			}
			rep.ops[11]++;
		} else if (op < 97) {
			op_churn();
			rep.ops[12]++;
		} else if (op < 100) {
			op_subdir();
			rep.ops[13]++;
		} else {
			op_shared();
			rep.ops[14]++;
		}
		dt = now() - t0;
		if (dt > rep.slowest) {
			rep.slowest = dt;
			rep.slowest_op = op;
		}
		if (nerr > 20)
			break;
	}
	/* final: verify everything we own, then write the manifest */
	snprintf(mpath, sizeof(mpath), "%s.manifest.%d", base, id);
	mf = fopen(mpath, "w");
	for (int i = 0; i < MAXFILES; i++) {
		if (!files[i].live)
			continue;
		op_verify(&files[i], "final");
		fprintf(mf, "%s %zu %016" PRIx64 "\n", files[i].path,
			files[i].size, XXH64(files[i].data, files[i].size, 0));
		rep.nfiles++;
	}
	fclose(mf);
	snprintf(mpath, sizeof(mpath), "%s.shared.%d", base, id);
	mf = fopen(mpath, "w");
	if (!mf || fwrite(shared_model, 1, SHARED_SZ, mf) != SHARED_SZ)
		err("cannot write %s", mpath);
	if (mf)
		fclose(mf);
	rep.records = records;
	rep.errors = nerr;
	if (write(rfd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		return 1;
	return nerr ? 1 : 0;
}

struct entry {
	char path[64];
	size_t size;
	uint64_t hash;
	int found;
};

static struct entry *ents;
static int nents;

static int verify_file(const char *path, int *bad)
{
	static unsigned char buf[MAXSIZE + 1];
	struct entry *e = NULL;
	ssize_t n;
	int fd;

	for (int i = 0; i < nents; i++)
		if (!strcmp(ents[i].path, path))
			e = &ents[i];
	if (!e) {
		fprintf(stderr, "unexpected file %s\n", path);
		(*bad)++;
		return 0;
	}
	e->found++;
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "open %s: %s\n", path, strerror(errno));
		(*bad)++;
		return 0;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n != (ssize_t)e->size || XXH64(buf, n, 0) != e->hash) {
		fprintf(stderr, "%s: size %zd hash %016" PRIx64
			", manifest says %zu %016" PRIx64 "\n", path, n,
			n >= 0 ? XXH64(buf, n, 0) : 0, e->size, e->hash);
		(*bad)++;
	}
	return 1;
}

static int verify_log(int nproc, const long *recs)
{
	int fd = open("applog", O_RDONLY);
	struct stat st;
	long total = 0, *next = calloc(nproc, sizeof(long));
	char rec[RECSZ + 1];
	int bad = 0;

	for (int i = 0; i < nproc; i++)
		total += recs[i];
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "applog: %s\n", strerror(errno));
		return 1;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (st.st_size != total * RECSZ) {
		fprintf(stderr, "applog: size %jd, expected %ld records = %ld\n",
			(intmax_t)st.st_size, total, total * RECSZ);
		bad++;
	}
	for (off_t o = 0; o + RECSZ <= st.st_size; o += RECSZ) {
		int w;
		long s;
		uint64_t h;

		if (pread(fd, rec, RECSZ, o) != RECSZ) {
			bad++;
			break;
		}
		rec[RECSZ] = 0;
		if (sscanf(rec, "w%d s%ld", &w, &s) != 2 || w < 0 ||
		    w >= nproc || sscanf(rec + RECSZ - 17, "%" SCNx64, &h) != 1 ||
		    h != XXH64(rec, RECSZ - 17, 0) || s != next[w]) {
			if (bad++ < 5)
				fprintf(stderr, "applog: bad record at %jd: %.63s\n",
					(intmax_t)o, rec);
			continue;
		}
		next[w]++;
	}
	for (int i = 0; i < nproc; i++) {
		if (next[i] != recs[i]) {
			fprintf(stderr, "applog: writer %d has %ld records, expected %ld\n",
				i, next[i], recs[i]);
			bad++;
		}
	}
	close(fd);
	free(next);
	printf("# applog: %ld records from %d writers, %s\n", total, nproc,
	       bad ? "CORRUPT" : "all intact and in per-writer order");
	return bad;
}

/* verify_shared -- the shared file holds, stripe by stripe, what each
 * stripe's owner last wrote */
static int verify_shared(int nproc)
{
	unsigned char *want = malloc(SHARED_SZ), *got = malloc(SHARED_SZ);
	char mpath[4200];
	int fd, bad = 0;
	long nbad = 0;

	for (int w = 0; w < nproc; w++) {
		FILE *f;

		snprintf(mpath, sizeof(mpath), "%s.shared.%d", base, w);
		f = fopen(mpath, "r");
		if (!f || fread(got, 1, SHARED_SZ, f) != SHARED_SZ) {
			fprintf(stderr, "missing %s\n", mpath);
			if (f)
				fclose(f);
			return 1;
		}
		fclose(f);
		for (long s = w; s < SHARED_SZ / STRIPE; s += nproc)
			memcpy(want + s * STRIPE, got + s * STRIPE, STRIPE);
	}
	fd = open("shared.dat", O_RDONLY);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (fd < 0 || pread(fd, got, SHARED_SZ, 0) != SHARED_SZ) {
		fprintf(stderr, "shared.dat: short read\n");
		bad = 1;
	} else {
		for (long s = 0; s < SHARED_SZ / STRIPE; s++) {
			if (memcmp(want + s * STRIPE, got + s * STRIPE, STRIPE)) {
				if (nbad++ < 5)
					fprintf(stderr, "shared.dat: stripe %ld (worker %ld) differs\n",
						s, s % nproc);
			}
		}
	}
	if (fd >= 0)
		close(fd);
	printf("# shared.dat: %d stripes of %d bytes written concurrently by %d workers, %ld wrong\n",
	       SHARED_SZ / STRIPE, STRIPE, nproc, nbad);
	free(want);
	free(got);
	return bad + (nbad > 0);
}

int main(int argc, char **argv)
{
	int nproc, pfd[2], bad = 0, failed = 0, nfound = 0;
	double secs;
	struct report *reps;
	pid_t *pids;
	long *recs;
	char mpath[4200];

	if (argc != 5 || (nproc = atoi(argv[2])) <= 0 ||
	    (secs = atof(argv[3])) <= 0) {
		fprintf(stderr, "usage: stress DIR NPROC SECONDS MANIFESTDIR\n");
		return 2;
	}
	/* manifests live outside the filesystem under test */
	{
		char *real = realpath(argv[4], NULL);
		int n = real ? asprintf(&base, "%s/stress", real) : -1;

		free(real);
		if (n < 0) {
			perror(argv[4]);
			return 2;
		}
	}
	if (chdir(argv[1])) {
		perror(argv[1]);
		return 2;
	}
	for (int d = 0; d < NDIRS; d++) {
		snprintf(mpath, sizeof(mpath), "d%d", d);
		if (mkdir(mpath, 0755)) {
			perror(mpath);
			return 2;
		}
	}
	close(open("applog", O_CREAT | O_WRONLY, 0644));
	{
		int fd = open("shared.dat", O_CREAT | O_WRONLY, 0644);

		if (fd < 0 || ftruncate(fd, SHARED_SZ)) {
			perror("shared.dat");
			return 2;
		}
		close(fd);
	}
	g_nproc = nproc;
	if (pipe(pfd))
		return 2;
	pids = calloc(nproc, sizeof(*pids));
	reps = calloc(nproc, sizeof(*reps));
	recs = calloc(nproc, sizeof(*recs));
	for (int i = 0; i < nproc; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(pfd[0]);
			_exit(worker(i, secs, pfd[1]));
		}
	}
	close(pfd[1]);
	for (int i = 0; i < nproc; i++) {
		struct report r;
		int st;

		if (read(pfd[0], &r, sizeof(r)) == (ssize_t)sizeof(r) &&
		    r.id >= 0 && r.id < nproc)
			reps[r.id] = r;
		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st)) {
			fprintf(stderr, "worker %d failed (status %#x)\n", i, st);
			failed++;
		}
	}
	/* read the manifests */
	for (int i = 0; i < nproc; i++) {
		char line[256];
		FILE *f;

		snprintf(mpath, sizeof(mpath), "%s.manifest.%d", base, i);
		f = fopen(mpath, "r");
		if (!f) {
			fprintf(stderr, "missing manifest %d\n", i);
			failed++;
			continue;
		}
		while (fgets(line, sizeof(line), f)) {
			ents = realloc(ents, (nents + 1) * sizeof(*ents));
			memset(&ents[nents], 0, sizeof(*ents));
			if (sscanf(line, "%63s %zu %" SCNx64, ents[nents].path,
				   &ents[nents].size, &ents[nents].hash) == 3)
				nents++;
		}
		fclose(f);
	}
	{
		long total_ops = 0, ops[16] = { 0 };

		for (int i = 0; i < nproc; i++) {
			for (int k = 0; k < 16; k++) {
				total_ops += reps[i].ops[k];
				ops[k] += reps[i].ops[k];
			}
			recs[i] = reps[i].records;
		}
		double slow = 0;
		int slow_op = 0;

		for (int i = 0; i < nproc; i++) {
			if (reps[i].slowest > slow) {
				slow = reps[i].slowest;
				slow_op = reps[i].slowest_op;
			}
		}
		printf("# %d workers, %.0f s: %ld operations, %d files owned at the end\n",
		       nproc, secs, total_ops, nents);
		printf("# slowest single operation: %.3f s (op draw %d)\n", slow,
		       slow_op);
		printf("# ops: create %ld pwrite %ld verify %ld truncate %ld rename %ld rename-over %ld unlink %ld mmap %ld append %ld readdir %ld stat %ld fsync %ld churn %ld subdir %ld shared-stripe %ld\n",
		       ops[0], ops[1], ops[2], ops[3], ops[4], ops[5], ops[6],
		       ops[7], ops[8], ops[9], ops[10], ops[11], ops[12],
		       ops[13], ops[14]);
	}
	/* walk the tree */
	for (int d = 0; d < NDIRS; d++) {
		DIR *dir;
		struct dirent *de;
		char dn[16], p[300];

		snprintf(dn, sizeof(dn), "d%d", d);
		dir = opendir(dn);
		if (!dir) {
			perror(dn);
			bad++;
			continue;
		}
		while ((de = readdir(dir))) {
			struct stat st;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(p, sizeof(p), "%s/%s", dn, de->d_name);
			if (lstat(p, &st) || !S_ISREG(st.st_mode)) {
				fprintf(stderr, "unexpected entry %s\n", p);
				bad++;
				continue;
			}
			nfound += verify_file(p, &bad);
		}
		closedir(dir);
	}
	{
		DIR *dir = opendir(".");
		struct dirent *de;

		if (!dir) {
			perror("opendir .");
			return 1;
		}
		while ((de = readdir(dir))) {
			if (de->d_name[0] == '.' || !strcmp(de->d_name, "applog") ||
			    !strcmp(de->d_name, "shared.dat") ||
			    (de->d_name[0] == 'd' && strlen(de->d_name) == 2))
				continue;
			fprintf(stderr, "unexpected top-level entry %s\n",
				de->d_name);
			bad++;
		}
		closedir(dir);
	}
	for (int i = 0; i < nents; i++) {
		if (ents[i].found != 1) {
			fprintf(stderr, "%s: found %d times, expected once\n",
				ents[i].path, ents[i].found);
			bad++;
		}
	}
	bad += verify_log(nproc, recs);
	bad += verify_shared(nproc);
	printf("# verified %d surviving files against %d manifest entries\n",
	       nfound, nents);
	free(pids);
	free(reps);
	free(recs);
	free(base);
	if (failed || bad) {
		printf("not ok - %d worker failure(s), %d verification error(s)\n",
		       failed, bad);
		return 1;
	}
	printf("ok - all content verified, no unexpected or missing files\n");
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mdbench.c -- metadata micro-benchmark: create, stat and unlink N files
 *
 * Usage: mdbench DIR [COUNT]
 *
 * Runs three timed phases over COUNT files (default 50000) named f0000000..
 * directly in DIR, one after the other:
 *   create  open(O_CREAT | O_EXCL | O_WRONLY) + close per file
 *   stat    stat() per file, right after create, so a filesystem that
 *           caches attributes (FUSE entry/attr timeouts) may answer from the
 *           kernel's caches
 *   unlink  unlink() per file
 * and prints one machine-readable line per phase (';'-separated, with a
 * header line), for benchmarks/run.sh to parse:
 *   phase;files;seconds;ops[1/s]
 *   create;50000;0.412345;121256
 * Times come from clock_gettime(CLOCK_MONOTONIC). Any failing call aborts
 * the run with a message naming the file and exit status 1, so a benchmark
 * never reports a rate for work that was not done. DIR must exist and must
 * not already hold files of those names. Single-threaded on purpose: it
 * measures per-operation latency of the filesystem, not its scaling.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_COUNT 50000L
#define NAME_LEN 32

/* now_sec -- (internal) monotonic time in seconds */
static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* file_name -- (internal) name of file i, relative to the directory fd */
static void file_name(char *buf, long i)
{
	snprintf(buf, NAME_LEN, "f%07ld", i);
}

/* phase_create -- (internal) create and close count empty files */
static int phase_create(int dfd, long count)
{
	char name[NAME_LEN];
	long i;
	int fd;

	for (i = 0; i < count; i++) {
		file_name(name, i);
		fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
			    0644);
		if (fd < 0) {
			fprintf(stderr, "mdbench: create %s: %s\n", name,
				strerror(errno));
			return -1;
		}
		if (close(fd) < 0) {
			fprintf(stderr, "mdbench: close %s: %s\n", name,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* phase_stat -- (internal) stat every file and check that it is empty */
static int phase_stat(int dfd, long count)
{
	char name[NAME_LEN];
	struct stat st;
	long i;

	for (i = 0; i < count; i++) {
		file_name(name, i);
		if (fstatat(dfd, name, &st, 0) < 0) {
			fprintf(stderr, "mdbench: stat %s: %s\n", name,
				strerror(errno));
			return -1;
		}
		if (!S_ISREG(st.st_mode) || st.st_size != 0) {
			fprintf(stderr,
				"mdbench: stat %s: not an empty regular file\n",
				name);
			return -1;
		}
	}
	return 0;
}

/* phase_unlink -- (internal) unlink every file */
static int phase_unlink(int dfd, long count)
{
	char name[NAME_LEN];
	long i;

	for (i = 0; i < count; i++) {
		file_name(name, i);
		if (unlinkat(dfd, name, 0) < 0) {
			fprintf(stderr, "mdbench: unlink %s: %s\n", name,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* run_phase -- (internal) time one phase and print its result line */
static int run_phase(const char *phase, int (*fn)(int, long), int dfd,
		     long count)
{
	double t0, dt;

	t0 = now_sec();
	if (fn(dfd, count) < 0)
		return -1;
	dt = now_sec() - t0;
	printf("%s;%ld;%.6f;%.0f\n", phase, count, dt,
	       dt > 0 ? (double)count / dt : 0.0);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	long count = DEFAULT_COUNT;
	char *end;
	int dfd;
	int rc = 1;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s DIR [COUNT]\n", argv[0]);
		return 2;
	}
	if (argc == 3) {
		errno = 0;
		count = strtol(argv[2], &end, 10);
		if (errno || *end || count <= 0 || count > 9999999L) {
			fprintf(stderr, "mdbench: bad count '%s' (1..9999999)\n",
				argv[2]);
			return 2;
		}
	}
	dfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		fprintf(stderr, "mdbench: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}

	printf("phase;files;seconds;ops[1/s]\n");
	if (run_phase("create", phase_create, dfd, count) < 0)
		goto out_close;
	if (run_phase("stat", phase_stat, dfd, count) < 0)
		goto out_close;
	if (run_phase("unlink", phase_unlink, dfd, count) < 0)
		goto out_close;
	rc = 0;
out_close:
	close(dfd);
	return rc;
}

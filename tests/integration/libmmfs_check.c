// SPDX-License-Identifier: Apache-2.0
/*
 * libmmfs_check.c -- libmmfs (fs/mmfs.h) against a real pool mount.
 *
 * Usage: libmmfs_check DIR FOREIGN_DIR [TIMEOUT_SECS]
 *
 * DIR is a directory on an mmfs pool mount with the tiering engine running
 * and DRAM to spare for a 1 MiB file; FOREIGN_DIR is on another filesystem
 * (tmpfs). It checks, printing TAP-style lines:
 *   - a file pinned with mmfs_set_tier() leaves DRAM (PMEM pin) and comes
 *     back whole (DRAM pin) within TIMEOUT_SECS, as mmfs_residency() sees,
 *     and mmfs_get_tier() reads back each pin (auto when none is set);
 *   - a directory's pin passes to a new child; the virtual xattrs of a
 *     directory give -ENODATA;
 *   - mmfs_heat() parses, mmfs_stat() reports the pool and the moves;
 *   - bad arguments give -EINVAL, a bad fd -EBADF, and a tmpfs file the
 *     documented -ENOTSUP / -ENOTTY (and nothing is written to it).
 * Exits 1 if any check fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "fs/mmfs.h"

#define FILE_BYTES (1u << 20)

static int failures;

static void check(int ok, const char *what, int rc)
{
	if (ok)
		printf("ok - %s\n", what);
	else
		printf("not ok - %s (rc %d: %s)\n", what, rc,
		       rc < 0 ? strerror(-rc) : "-");
	if (!ok)
		failures++;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * wait_placed -- poll until all of the file's bytes are in the tier of @p
 * (the other tier holds none), or @secs pass. Returns the last rc.
 */
static int wait_placed(int fd, enum mmfs_placement p, double secs,
		       struct mmfs_residency *r)
{
	double end = now() + secs;
	int rc;

	for (;;) {
		rc = mmfs_residency(fd, r);
		if (rc < 0)
			return rc;
		if (p == MMFS_PLACE_DRAM && r->pmem_bytes == 0 &&
		    r->dram_bytes >= FILE_BYTES)
			return 0;
		if (p == MMFS_PLACE_PMEM && r->dram_bytes == 0 &&
		    r->pmem_bytes >= FILE_BYTES)
			return 0;
		if (now() > end)
			return 1;
		usleep(50 * 1000);
	}
}

static int write_file(const char *path)
{
	char *buf = malloc(FILE_BYTES);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || !buf) {
		perror(path);
		exit(1);
	}
	for (size_t i = 0; i < FILE_BYTES; i++)
		buf[i] = (char)(i * 7 + 1);
	if (write(fd, buf, FILE_BYTES) != FILE_BYTES) {
		perror("write");
		exit(1);
	}
	free(buf);
	return fd;
}

static void check_pins(const char *dir, double secs)
{
	static const enum mmfs_placement seq[] = {
		MMFS_PLACE_PMEM, MMFS_PLACE_DRAM, MMFS_PLACE_PMEM,
	};
	struct mmfs_residency r;
	struct mmfs_ioc_stat st;
	struct mmfs_heat h;
	enum mmfs_placement p = MMFS_PLACE_PMEM;
	char path[4096], what[160];
	double t0;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/pinned", dir);
	fd = write_file(path);
	rc = mmfs_get_tier(fd, &p);
	check(rc == 0 && p == MMFS_PLACE_AUTO, "no pin reads back as auto",
	      rc);
	rc = mmfs_residency(fd, &r);
	check(rc == 0 && r.dram_bytes + r.pmem_bytes >= FILE_BYTES,
	      "residency of a new file covers its bytes", rc);
	printf("# new file: dram=%llu pmem=%llu\n",
	       (unsigned long long)r.dram_bytes,
	       (unsigned long long)r.pmem_bytes);

	/* PMEM first: a new file is likely in DRAM already. */
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		const char *name = seq[i] == MMFS_PLACE_DRAM ? "dram" : "pmem";

		rc = mmfs_set_tier(fd, seq[i]);
		snprintf(what, sizeof(what), "mmfs_set_tier(%s)", name);
		check(rc == 0, what, rc);
		rc = mmfs_get_tier(fd, &p);
		snprintf(what, sizeof(what), "mmfs_get_tier reads back %s",
			 name);
		check(rc == 0 && p == seq[i], what, rc);
		t0 = now();
		rc = wait_placed(fd, seq[i], secs, &r);
		snprintf(what, sizeof(what),
			 "all bytes in %s within %.0f s (%.1f s: dram=%llu "
			 "pmem=%llu)", name, secs, now() - t0,
			 (unsigned long long)r.dram_bytes,
			 (unsigned long long)r.pmem_bytes);
		check(rc == 0, what, rc);
	}
	rc = mmfs_set_tier(fd, MMFS_PLACE_AUTO);
	check(rc == 0, "mmfs_set_tier(auto)", rc);
	rc = mmfs_get_tier(fd, &p);
	check(rc == 0 && p == MMFS_PLACE_AUTO, "auto reads back", rc);
	rc = mmfs_set_tier(fd, (enum mmfs_placement)3);
	check(rc == -EINVAL, "an unknown placement gives -EINVAL", rc);
	rc = mmfs_get_tier(fd, &p);
	check(rc == 0 && p == MMFS_PLACE_AUTO, "... and changes nothing", rc);

	rc = mmfs_heat(fd, &h);
	check(rc == 0 && h.chunks >= 1 && h.hot <= h.chunks &&
		      h.mean <= (double)h.max + 0.05,
	      "mmfs_heat parses", rc);
	printf("# heat: chunks=%llu hot=%llu mean=%.1f max=%llu\n",
	       (unsigned long long)h.chunks, (unsigned long long)h.hot,
	       h.mean, (unsigned long long)h.max);

	memset(&st, 0xff, sizeof(st));
	rc = mmfs_stat(fd, &st);
	check(rc == 0 && st.version >= 1 && st.persistent == 1 &&
		      st.pmem_total > 0 && st.chunk_size > 0,
	      "mmfs_stat: a pool mount", rc);
	check(st.epochs > 0, "mmfs_stat: the engine ran epochs", rc);
	check(st.promotions > 0 && st.demotions > 0 &&
		      st.moved_bytes >= 2ull * FILE_BYTES,
	      "mmfs_stat: the pinned moves are counted", rc);
	printf("# stat: epochs=%llu promotions=%llu demotions=%llu "
	       "moved=%llu\n", (unsigned long long)st.epochs,
	       (unsigned long long)st.promotions,
	       (unsigned long long)st.demotions,
	       (unsigned long long)st.moved_bytes);
	close(fd);
}

static void check_dir(const char *dir)
{
	struct mmfs_residency r;
	struct mmfs_heat h;
	struct mmfs_ioc_stat st;
	enum mmfs_placement p;
	char path[4096];
	int dfd, fd, rc;

	snprintf(path, sizeof(path), "%s/sub", dir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	dfd = open(path, O_RDONLY | O_DIRECTORY);
	if (dfd < 0) {
		perror(path);
		exit(1);
	}
	rc = mmfs_get_tier(dfd, &p);
	check(rc == 0 && p == MMFS_PLACE_AUTO, "a directory: auto", rc);
	rc = mmfs_set_tier(dfd, MMFS_PLACE_PMEM);
	check(rc == 0, "mmfs_set_tier on a directory", rc);
	rc = mmfs_residency(dfd, &r);
	check(rc == -ENODATA, "residency of a directory: -ENODATA", rc);
	rc = mmfs_heat(dfd, &h);
	check(rc == -ENODATA, "heat of a directory: -ENODATA", rc);
	rc = mmfs_stat(dfd, &st);
	check(rc == 0, "mmfs_stat on a directory", rc);
	snprintf(path, sizeof(path), "%s/sub/child", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	rc = mmfs_get_tier(fd, &p);
	check(rc == 0 && p == MMFS_PLACE_PMEM,
	      "a new child inherits the directory's pin", rc);
	close(fd);
	close(dfd);
}

/* check_errors -- a bad fd and a file on another filesystem */
static void check_errors(const char *foreign)
{
	struct mmfs_residency r;
	struct mmfs_ioc_stat st;
	struct mmfs_heat h;
	enum mmfs_placement p;
	char path[4096];
	int fd, rc;

	check(mmfs_set_tier(-1, MMFS_PLACE_DRAM) == -EBADF,
	      "set_tier(-1): -EBADF", 0);
	check(mmfs_get_tier(-1, &p) == -EBADF, "get_tier(-1): -EBADF", 0);
	check(mmfs_residency(-1, &r) == -EBADF, "residency(-1): -EBADF", 0);
	check(mmfs_heat(-1, &h) == -EBADF, "heat(-1): -EBADF", 0);
	check(mmfs_stat(-1, &st) == -EBADF, "stat(-1): -EBADF", 0);

	snprintf(path, sizeof(path), "%s/foreign", foreign);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "x", 1) != 1) {
		perror(path);
		exit(1);
	}
	rc = mmfs_set_tier(fd, MMFS_PLACE_DRAM);
	check(rc == -ENOTSUP, "set_tier on tmpfs: -ENOTSUP", rc);
	errno = 0;
	check(fgetxattr(fd, "user.mmfs.tier", NULL, 0) < 0 &&
		      (errno == ENODATA || errno == ENOTSUP),
	      "... and no xattr was written there", -errno);
	/* A value copied off mmfs (cp -a) must not fool get_tier. */
	if (fsetxattr(fd, "user.mmfs.tier", "dram", 4, 0) == 0)
		printf("# tmpfs stores user.* xattrs: a copied pin is set\n");
	rc = mmfs_get_tier(fd, &p);
	check(rc == -ENOTSUP, "get_tier on tmpfs: -ENOTSUP", rc);
	rc = mmfs_residency(fd, &r);
	check(rc == -ENOTSUP, "residency on tmpfs: -ENOTSUP", rc);
	rc = mmfs_heat(fd, &h);
	check(rc == -ENOTSUP, "heat on tmpfs: -ENOTSUP", rc);
	rc = mmfs_stat(fd, &st);
	check(rc == -ENOTTY, "stat on tmpfs: -ENOTTY", rc);
	close(fd);
	rc = mmfs_get_tier(fd, &p);
	check(rc == -EBADF, "a closed fd: -EBADF", rc);
}

int main(int argc, char *argv[])
{
	double secs = argc > 3 ? atof(argv[3]) : 20;

	if (argc < 3 || argc > 4) {
		fprintf(stderr,
			"usage: libmmfs_check DIR FOREIGN_DIR [TIMEOUT_SECS]\n");
		return 2;
	}
	check_pins(argv[1], secs);
	check_dir(argv[1]);
	check_errors(argv[2]);
	if (failures)
		printf("# %d check(s) failed\n", failures);
	return failures ? 1 : 0;
}

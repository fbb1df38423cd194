/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mmfsctl -- the admin CLI: a client of the ioctl surface of a mounted mmfs
 * (fs/mmfs_ioctl.h). It never touches pools or daemon memory directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "fs/mmfs_ioctl.h"
#include "utils/size.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mmfsctl stat MOUNT [--json]   usage of a mounted mmfs\n"
		"       mmfsctl --version\n");
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
		printf("  pmem:   %s used of %s\n", a, b);
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
}

static void print_json(const struct mmfs_ioc_stat *st)
{
	printf("{\"version\":%u,\"chunk_size\":%u,"
	       "\"dram\":{\"total\":%llu,\"used\":%llu},"
	       "\"pmem\":{\"total\":%llu,\"used\":%llu},"
	       "\"chunks\":{\"allocs\":%llu,\"frees\":%llu,\"enospc\":%llu},"
	       "\"inodes\":%llu,\"meta_bytes\":%llu,\"file_bytes\":%llu}\n",
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
	       (unsigned long long)st->file_bytes);
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
	if (json)
		print_json(&st);
	else
		print_human(path, &st);
	return 0;
}

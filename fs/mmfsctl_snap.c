/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mmfsctl_snap.c -- `mmfsctl snapshot ...`: directory snapshots through
 * the MMFS_IOC_SNAP ioctl (fs/mmfs_ioctl.h). What mkdir/rmdir/ls in
 * DIR/.snap do, plus what only the daemon can: rollback, writable
 * clones, schedules, and what each snapshot holds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/mmfs_ioctl.h"
#include "fs/mmfsctl.h"
#include "utils/size.h"

static void snap_usage(FILE *out)
{
	fprintf(out,
		"usage: mmfsctl snapshot create DIR NAME     snapshot DIR as "
		"DIR/.snap/NAME\n"
		"       mmfsctl snapshot delete DIR NAME     free what only it "
		"holds\n"
		"       mmfsctl snapshot rollback DIR NAME   DIR becomes the "
		"snapshot again\n"
		"       mmfsctl snapshot clone DIR/.snap/NAME NEWDIR\n"
		"                                           a writable copy, "
		"at metadata cost\n"
		"       mmfsctl snapshot list DIR [--json]   time, inodes and "
		"exclusive bytes\n"
		"       mmfsctl snapshot schedule DIR --every DURATION --keep "
		"N | --off\n"
		"                                           rolling snapshots "
		"named @GMT-...\n");
}

/* snap_ioctl -- (internal) one request on @path; prints the one line */
static int snap_ioctl(const char *what, const char *path,
		      struct mmfs_ioc_snap *rq, int *fdp)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0) {
		fprintf(stderr, "mmfsctl: %s %s: %s\n", what, path,
			strerror(errno));
		return -1;
	}
	rq->version = MMFS_IOC_SNAP_VERSION;
	/*
	 * A new snapshot holds every write made before it, also those
	 * still in the kernel's page cache: syncfs writes them back (its
	 * sync step never reaches a FUSE daemon, the writeback does).
	 */
	if (rq->op == MMFS_SNAP_CREATE && syncfs(fd) < 0) {
		fprintf(stderr, "mmfsctl: %s %s: syncfs: %s\n", what, path,
			strerror(errno));
		close(fd);
		return -1;
	}
	if (ioctl(fd, MMFS_IOC_SNAP, rq) < 0) {
		fprintf(stderr, "mmfsctl: snapshot %s %s%s%s: %s\n", what, path,
			rq->name[0] ? " " : "", rq->name,
			errno == ENOTTY ? "not on an mmfs mount"
					: strerror(errno));
		rc = -1;
	}
	if (fdp && rc == 0)
		*fdp = fd;
	else
		close(fd);
	return rc;
}

static int set_name(struct mmfs_ioc_snap *rq, const char *name)
{
	if (strlen(name) >= sizeof(rq->name)) {
		fprintf(stderr, "mmfsctl: snapshot name too long: %s\n", name);
		return -1;
	}
	strcpy(rq->name, name);
	return 0;
}

/* parse_duration -- "90", "90s", "10m", "2h", "1d" into seconds */
static int parse_duration(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || v == 0)
		return -1;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	default: return -1;
	}
	if (*end && end[1])
		return -1;
	*out = v * mul;
	return 0;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int snap_list(const char *dir, bool json)
{
	struct mmfs_ioc_snap rq = { .op = MMFS_SNAP_INFO };
	char path[4096], when[32], size[32];
	char **names = NULL;
	size_t n = 0, i;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (snap_ioctl("list", dir, &rq, NULL) < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/.snap", dir);
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "mmfsctl: snapshot list %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	while ((e = readdir(d))) {
		char **p;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		p = realloc(names, (n + 1) * sizeof(*names));
		if (!p || !(p[n] = strdup(e->d_name))) {
			free(p ? p : names);
			closedir(d);
			fprintf(stderr, "mmfsctl: out of memory\n");
			return 1;
		}
		names = p;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	if (json) {
		printf("{\"dir\":");
		json_str(dir);
		if (rq.every_secs)
			printf(",\"schedule\":{\"every_secs\":%llu,\"keep\":"
			       "%llu}", (unsigned long long)rq.every_secs,
			       (unsigned long long)rq.keep);
		else
			printf(",\"schedule\":null");
		printf(",\"snapshots\":[");
	} else {
		printf("%-32s %-20s %10s %10s\n", "NAME", "CREATED (UTC)",
		       "INODES", "EXCLUSIVE");
	}
	for (i = 0; i < n; i++) {
		struct mmfs_ioc_snap q = { .op = MMFS_SNAP_INFO };
		time_t t;
		struct tm tm;

		snprintf(path, sizeof(path), "%s/.snap/%s", dir, names[i]);
		if (snap_ioctl("list", path, &q, NULL) < 0) {
			rc = 1;
			continue;
		}
		t = (time_t)q.created_sec;
		gmtime_r(&t, &tm);
		if (json) {
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf("%s{\"name\":", i ? "," : "");
			json_str(names[i]);
			printf(",\"created\":\"%s\",\"created_epoch\":%lld,"
			       "\"inodes\":%llu,\"exclusive_bytes\":%llu}",
			       when, (long long)q.created_sec,
			       (unsigned long long)q.inodes,
			       (unsigned long long)q.excl_bytes);
		} else {
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			mmfs_size_format(q.excl_bytes, size, sizeof(size));
			printf("%-32s %-20s %10llu %10s\n", names[i], when,
			       (unsigned long long)q.inodes, size);
		}
	}
	if (json)
		printf("]}\n");
	else if (rq.every_secs)
		printf("schedule: every %llus, keep %llu\n",
		       (unsigned long long)rq.every_secs,
		       (unsigned long long)rq.keep);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int snap_clone(const char *snap, const char *newdir)
{
	struct mmfs_ioc_snap rq = { .op = MMFS_SNAP_CLONE };
	char *a = strdup(newdir), *b = strdup(newdir);
	struct stat st;
	int rc = 1;

	if (!a || !b) {
		fprintf(stderr, "mmfsctl: out of memory\n");
		goto out;
	}
	if (stat(snap, &st) < 0) {
		fprintf(stderr, "mmfsctl: snapshot clone %s: %s\n", snap,
			strerror(errno));
		goto out;
	}
	rq.snap_ino = st.st_ino;
	if (set_name(&rq, basename(b)) < 0)
		goto out;
	if (snap_ioctl("clone", dirname(a), &rq, NULL) == 0)
		rc = 0;
out:
	free(a);
	free(b);
	return rc;
}

int mmfsctl_snapshot(int argc, char *argv[])
{
	struct mmfs_ioc_snap rq = { 0 };
	const char *sub = argc >= 3 ? argv[2] : "";
	uint64_t every = 0, keep = 0;
	bool off = false;
	int i;

	if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		snap_usage(stdout);
		return 0;
	}
	if (!strcmp(sub, "list") && (argc == 4 || argc == 5)) {
		if (argc == 5 && strcmp(argv[4], "--json"))
			goto usage;
		return snap_list(argv[3], argc == 5);
	}
	if (!strcmp(sub, "clone") && argc == 5)
		return snap_clone(argv[3], argv[4]);
	if (!strcmp(sub, "schedule") && argc >= 5) {
		for (i = 4; i < argc; i++) {
			if (!strcmp(argv[i], "--off"))
				off = true;
			else if (!strcmp(argv[i], "--every") && i + 1 < argc) {
				if (parse_duration(argv[++i], &every) < 0)
					goto usage;
			} else if (!strcmp(argv[i], "--keep") && i + 1 < argc) {
				keep = strtoull(argv[++i], NULL, 10);
				if (!keep)
					goto usage;
			} else {
				goto usage;
			}
		}
		if (off == (every || keep) || (!off && !(every && keep)))
			goto usage;
		rq.op = MMFS_SNAP_SCHEDULE;
		rq.every_secs = off ? 0 : every;
		rq.keep = off ? 0 : keep;
		return snap_ioctl("schedule", argv[3], &rq, NULL) ? 1
									   : 0;
	}
	if (argc != 5)
		goto usage;
	if (!strcmp(sub, "create"))
		rq.op = MMFS_SNAP_CREATE;
	else if (!strcmp(sub, "delete"))
		rq.op = MMFS_SNAP_DELETE;
	else if (!strcmp(sub, "rollback"))
		rq.op = MMFS_SNAP_ROLLBACK;
	else
		goto usage;
	if (set_name(&rq, argv[4]) < 0)
		return 1;
	return snap_ioctl(sub, argv[3], &rq, NULL) ? 1 : 0;
usage:
	snap_usage(stderr);
	return 2;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c -- the mmfs daemon: parse mount options, build the tiers and the
 * root, mount through /dev/fuse, tune the mount's writeback (BDI) limits,
 * and serve requests on a multi-threaded loop until unmounted.
 *
 * Every bad option is refused before anything is mounted, with one line on
 * stderr and exit code 1, as mount(8) helpers are expected to behave.
 */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs_i.h"
#include "fs/fuse_ops.h"
#include "fs/mmfs_ioctl.h"
#include "fs/mntopt.h"
#include "utils/err.h"
#include "utils/log.h"
#include "utils/mountinfo.h"
#include "utils/size.h"

struct opts {
	char *source;
	char *mountpoint;
	char *dram;
	char *chunk;
	char *dram_nodes;
	char *slow_nodes;
	char *slow_size;
	char *mode;
	char *uid;
	char *gid;
	int foreground;
	int debug;
	int writeback;
	int splice_read;
	int noallow_other;
	int null_io;
	int powerloss_sim;
	int direct_io;
	char *dirty_ratio;
	char *pmem_size;
	char *pmem_emulate;
	char *tiering;
	char *migrate;
	char *oom_score_adj;
	int epoch_ms;
	int sample;
	int commit;
	int threads;
	int help;
	int version;
	/* generic options (fs/mntopt.h): the MS_* flags they set, and which
	 * flags they said anything about */
	unsigned long ms_flags, ms_mask;
	bool mmfs_flags; /* one libfuse refuses, for mmfs to apply */
	bool remount;
	bool fsname, subtype; /* given: mount identity is the user's */
};

/* opts_free -- (internal) the strings fuse_opt_parse gave @o */
static void opts_free(struct opts *o)
{
	free(o->source);
	free(o->mountpoint);
	free(o->dram);
	free(o->chunk);
	free(o->dram_nodes);
	free(o->slow_nodes);
	free(o->slow_size);
	free(o->mode);
	free(o->uid);
	free(o->gid);
	free(o->dirty_ratio);
	free(o->pmem_size);
	free(o->pmem_emulate);
	free(o->tiering);
	free(o->migrate);
	free(o->oom_score_adj);
}

enum { KEY_HELP, KEY_VERSION, KEY_FOREGROUND, KEY_DEBUG };

#define OPT(t, p, v) { t, offsetof(struct opts, p), v }
static const struct fuse_opt opt_spec[] = {
	OPT("dram=%s", dram, 0),
	OPT("chunk=%s", chunk, 0),
	OPT("dram_nodes=%s", dram_nodes, 0),
	OPT("slow_nodes=%s", slow_nodes, 0),
	OPT("slow_size=%s", slow_size, 0),
	OPT("mode=%s", mode, 0),
	OPT("uid=%s", uid, 0),
	OPT("gid=%s", gid, 0),
	OPT("writeback", writeback, 1),
	OPT("nowriteback", writeback, 0),
	OPT("splice_read", splice_read, 1),
	OPT("nosplice_read", splice_read, 0),
	OPT("noallow_other", noallow_other, 1),
	OPT("null_io", null_io, 1),
	OPT("powerloss_sim", powerloss_sim, 1),
	OPT("direct_io", direct_io, 1),
	OPT("dirty_ratio=%s", dirty_ratio, 0),
	OPT("threads=%d", threads, 0),
	OPT("pmem_size=%s", pmem_size, 0),
	OPT("pmem_emulate=%s", pmem_emulate, 0),
	OPT("commit=%d", commit, 0),
	OPT("tiering=%s", tiering, 0),
	OPT("migrate=%s", migrate, 0),
	OPT("epoch_ms=%d", epoch_ms, 0),
	OPT("sample=%d", sample, 0),
	OPT("oom_score_adj=%s", oom_score_adj, 0),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-f", KEY_FOREGROUND),
	FUSE_OPT_KEY("foreground", KEY_FOREGROUND),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_END
};

static void usage(const char *prog)
{
	printf("usage: %s SOURCE MOUNTPOINT [-f] [-d] [-o OPTION[,OPTION...]]\n"
	       "\n"
	       "SOURCE is the PMEM pool: a devdax device, a file on an fsdax\n"
	       "filesystem or any file (emulated PMEM); its data and namespace\n"
	       "persist. 'none' gives a volatile DRAM-only filesystem;\n"
	       "'numa:LIST' a volatile one whose slow tier is the memory of\n"
	       "these NUMA nodes (CPU-less CXL memory), as slow_nodes=LIST.\n"
	       "\n"
	       "mmfs options:\n"
	       "  dram=SIZE|N%%       DRAM budget (K/M/G/T or %% of RAM; default 50%%)\n"
	       "  pmem_size=SIZE      create the pool file with this size if it\n"
	       "                      does not exist (else the pool is required)\n"
	       "  commit=SECS         at most this much un-synced work is lost\n"
	       "                      in a crash (default 5)\n"
	       "  pmem_emulate=optane|cxl  add that device's latency/bandwidth\n"
	       "                      to slow-tier chunk accesses (benchmarks\n"
	       "                      only; default off)\n"
	       "  tiering=on|off      the tiering engine: hot chunks to DRAM, cold\n"
	       "                      ones to PMEM (two tiers only; default on)\n"
	       "  epoch_ms=N          heat loses 1/4 every N ms (default 1000)\n"
	       "  sample=PCT          every epoch, drop PCT%% of each cached open\n"
	       "                      file's chunks from the page cache, so that\n"
	       "                      the engine sees cached and mmap'd heat\n"
	       "                      (two tiers only; default 0: off)\n"
	       "  direct_io           open every file uncached (as O_DIRECT), for\n"
	       "                      apps with their own cache; per file:\n"
	       "                      setfattr -n user.mmfs.io -v direct\n"
	       "  migrate=SIZE        most bytes the engine moves per second\n"
	       "                      (default 1G)\n"
	       "  oom_score_adj=N     the daemon's OOM score, -1000..1000 (default\n"
	       "                      -1000 volatile: its files die with it;\n"
	       "                      -900 with a pool; needs CAP_SYS_RESOURCE)\n"
	       "  chunk=SIZE          chunk size, power of two 4K..2M (default 64K;\n"
	       "                      a pool keeps the one it was made with)\n"
	       "  dram_nodes=LIST     bind DRAM to these NUMA nodes (e.g. 0-1)\n"
	       "  slow_nodes=LIST     volatile slow tier on these NUMA nodes\n"
	       "                      (SOURCE none; CXL memory), tiered like PMEM\n"
	       "  slow_size=SIZE|N%%   its size (%% of those nodes; default 50%%)\n"
	       "  mode=OCTAL,uid=N,gid=N  owner and mode of the root (default 1777, 0, 0)\n"
	       "  writeback|nowriteback   kernel writeback cache (default: off)\n"
	       "  splice_read|nosplice_read  splice write payloads (default: off)\n"
	       "  dirty_ratio=N       per-mount dirty page cap, %% (default 100)\n"
	       "  threads=N           most request threads (default 2 per CPU, >= 4)\n"
	       "  noallow_other       keep a root mount to root (default: shared)\n"
	       "  null_io             benchmark baseline: file data is discarded,\n"
	       "                      reads return zeros (never for real data)\n"
	       "  powerloss_sim       crash tests: only what mmfs persists reaches\n"
	       "                      the pool file, so kill -9 is a power loss\n"
	       "                      (a pool file only; never for real data)\n"
	       "  fsname=NAME         the mount's source in /proc/mounts (default\n"
	       "                      SOURCE); alone, the type is plain 'fuse'\n"
	       "  subtype=TYPE        the mount's type is fuse.TYPE (default mmfs)\n"
	       "  -f, foreground      stay in the foreground\n"
	       "  -d, debug           log every request (implies -f)\n"
	       "\n"
	       "\n"
	       "Generic mount options (ro, nosuid, noatime, relatime, strictatime,\n"
	       "nodiratime, nosymfollow, sync, ...) and fstab words (defaults,\n"
	       "nofail, _netdev, x-*, ...) are accepted as well, and FUSE's own\n"
	       "(max_read=, ...). '-o remount,OPTIONS' changes a live mount: ro/rw\n"
	       "and those flags, commit=, migrate=, tiering=, direct_io,\n"
	       "dirty_ratio=, oom_score_adj=; other options must keep their\n"
	       "values. Unmount with 'umount MOUNTPOINT' or 'fusermount3 -u\n"
	       "MOUNTPOINT'.\n", prog);
}

/*
 * generic_opt -- (internal) an option that is not mmfs's: kept for libfuse
 * (1) or taken here (0). README.md ("Generic mount options") says what
 * becomes of each.
 */
static int generic_opt(struct opts *o, const char *arg)
{
	const struct fs_mntopt *m = fs_mntopt_find(arg);

	if (strncmp(arg, "fsname=", 7) == 0)
		o->fsname = true;
	if (strncmp(arg, "subtype=", 8) == 0)
		o->subtype = true;
	if (!m)
		return 1;
	o->ms_flags = fs_mntopt_apply(m, o->ms_flags);
	o->ms_mask |= m->set | m->clear;
	switch (m->kind) {
	case FS_MNTOPT_LIBFUSE:
		return 1;
	case FS_MNTOPT_MMFS:
		o->mmfs_flags = true;
		return 0;
	case FS_MNTOPT_REMOUNT:
		o->remount = true;
		return 0;
	case FS_MNTOPT_IGNORED:
	case FS_MNTOPT_USERSPACE:
		break;
	}
	return 0;
}

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct opts *o = data;

	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!o->source) {
			o->source = strdup(arg);
			return 0;
		}
		if (!o->mountpoint) {
			o->mountpoint = strdup(arg);
			return 0;
		}
		fprintf(stderr, "mmfs: unexpected argument '%s'\n", arg);
		return -1;
	case KEY_HELP:
		o->help = 1;
		return 0;
	case KEY_VERSION:
		o->version = 1;
		return 0;
	case KEY_FOREGROUND:
		o->foreground = 1;
		return 0;
	case KEY_DEBUG:
		o->debug = 1;
		o->foreground = 1;
		return 1; /* libfuse logs requests with "debug" too */
	case FUSE_OPT_KEY_OPT:
		return generic_opt(o, arg);
	}
	return 1; /* everything else is libfuse's to accept or refuse */
}

/* fail -- (internal) the one-line reason a mount is refused */
static int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "mmfs: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	return 1;
}

/* unprefixed -- (internal) @why without a leading "@path: " */
static const char *unprefixed(const char *why, const char *path)
{
	size_t n = strlen(path);

	return strncmp(why, path, n) == 0 && why[n] == ':' && why[n + 1] == ' '
		       ? why + n + 2
		       : why;
}

/*
 * open_pool -- (internal) the SOURCE pool, created first when it does not
 * exist and pmem_size= says how big. Prints the one line on failure.
 */
static int open_pool(const struct opts *o, uint64_t chunk,
		     struct mmfs_pool **pool)
{
	struct mmfs_pool_mkfs_opts mo = { .chunk_size = (uint32_t)chunk };
	char why[MMFS_POOL_WHY];
	struct stat st;
	int rc;

	if (stat(o->source, &st) < 0) {
		if (errno != ENOENT)
			return fail("%s: %s", o->source, strerror(errno));
		if (!o->pmem_size)
			return fail("%s: no such pool; add -o pmem_size=SIZE "
				    "to create it, or run 'mmfsctl mkfs'",
				    o->source);
		if (mmfs_size_parse(o->pmem_size, &mo.size) < 0)
			return fail("pmem_size=%s: not a size (use e.g. 64G)",
				    o->pmem_size);
		if (mo.size < MMFS_POOL_MIN_BYTES)
			return fail("pmem_size=%s: a pool needs at least 16M",
				    o->pmem_size);
		rc = mmfs_pool_mkfs(o->source, &mo, why);
		if (rc < 0)
			return fail("%s: cannot create the pool: %s", o->source,
				    unprefixed(why, o->source));
	} else if (S_ISDIR(st.st_mode)) {
		return fail("%s: is a directory, not a pool (a file or a "
			    "devdax device)", o->source);
	}
	rc = mmfs_pool_open(o->source, MMFS_POOL_WAIT |
			    (o->powerloss_sim ? MMFS_POOL_POWERLOSS : 0),
			    pool, why);
	if (rc == -EBUSY || rc == -EACCES || rc == -EPERM)
		return fail("%s: %s", o->source, unprefixed(why, o->source));
	if (rc < 0)
		return fail("%s: %s (run 'mmfsctl fsck %s')", o->source,
			    unprefixed(why, o->source), o->source);
	return 0;
}

/*
 * slow_tier -- (internal) the volatile slow tier that SOURCE numa:LIST or
 * slow_nodes=LIST asks for: its nodes and size into @to. 0, or 1 after the
 * one line.
 */
static int slow_tier(struct opts *o, uint64_t chunk, struct mmfs_tier_opts *to)
{
	uint64_t node_bytes;
	int cpu_node;

	if (strncmp(o->source, "numa:", 5) == 0) {
		if (o->slow_nodes && strcmp(o->slow_nodes, o->source + 5))
			return fail("slow_nodes=%s: SOURCE %s names other "
				    "nodes", o->slow_nodes, o->source);
		free(o->slow_nodes);
		o->slow_nodes = strdup(o->source + 5);
		if (!o->slow_nodes)
			return fail("out of memory");
	} else if (o->slow_nodes && strcmp(o->source, "none") != 0) {
		return fail("slow_nodes=%s: the pool %s is the slow tier "
			    "already (use SOURCE none)", o->slow_nodes,
			    o->source);
	}
	if (!o->slow_nodes) {
		if (o->slow_size)
			return fail("slow_size=%s: no slow tier (add "
				    "slow_nodes=)", o->slow_size);
		return 0;
	}
	if (o->pmem_size)
		return fail("pmem_size=%s: a pool file's size; the slow tier "
			    "takes slow_size=", o->pmem_size);
	if (!*o->slow_nodes)
		return fail("slow_nodes=: an empty node list");
	if (mmfs_tier_nodes_info("slow_nodes", o->slow_nodes, &node_bytes,
				 &cpu_node) < 0)
		return 1; /* tier/ said why */
	if (mmfs_size_parse_pct(o->slow_size ? o->slow_size : "50%",
				node_bytes, &to->slow_bytes) < 0)
		return fail("slow_size=%s: not a size (use e.g. 64G or 50%%)",
			    o->slow_size);
	if (to->slow_bytes < chunk)
		return fail("slow_size=%s: smaller than one chunk",
			    o->slow_size ? o->slow_size : "50%");
	/* Not fatal: a remote socket's DRAM is a slow tier too (and tests
	 * on one-node machines need it). */
	if (cpu_node >= 0)
		fprintf(stderr, "mmfs: slow_nodes=%s: node %d has CPUs, so it "
			"is not CXL memory; serving it as the slow tier "
			"anyway\n", o->slow_nodes, cpu_node);
	to->slow_nodes = o->slow_nodes;
	return 0;
}

static uint64_t ram_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long psize = sysconf(_SC_PAGESIZE);

	return pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : 0;
}

static int parse_id(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v >= UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* The OOM scores a mount takes by default: README.md, "Memory and the OOM
 * killer". A volatile mount's files exist only in this process, like
 * tmpfs's pages that the OOM killer never frees; a pool loses at most the
 * work since the last commit, but every open file breaks: just above. */
#define MMFS_OOM_ADJ_VOLATILE (-1000)
#define MMFS_OOM_ADJ_POOL (-900)

/* parse_oom -- (internal) oom_score_adj=N: -1000..1000 */
static int parse_oom(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < -1000 || v > 1000)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/*
 * oom_protect -- (internal) set the daemon's OOM score to @adj. Lowering
 * it needs CAP_SYS_RESOURCE, which a container's root often lacks: that
 * is said once, as a warning with what it risks, and the mount goes on
 * (refusing would leave such machines without mmfs, and the score only
 * matters once the machine is out of memory).
 */
static void oom_protect(int adj, bool volatile_fs)
{
	char buf[16];
	int fd, n, err = 0;

	n = snprintf(buf, sizeof(buf), "%d\n", adj);
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, (size_t)n) != n)
		err = errno;
	if (fd >= 0)
		close(fd);
	if (err)
		mmfs_warn("cannot set oom_score_adj=%d (%s): the OOM killer "
			  "may pick this daemon%s", adj, strerror(err),
			  volatile_fs ? ", and a volatile mount's files die "
					"with it" : "");
}

/*
 * tune_bdi -- (internal) lift the kernel's writeback caps for this mount.
 * FUSE mounts get a per-BDI cap of 1% of dirty memory with strict_limit,
 * meant to contain a slow or hostile daemon; it throttles every writer of a
 * shared mapping (libfuse issue 316). A memory filesystem's daemon is the
 * memory: it must not be capped below what tmpfs gets. Needs root; a
 * failure only costs speed, so it is logged, not fatal.
 */
static void tune_bdi(const struct mmfs_mountinfo *mi, int max_ratio)
{
	static const char *const knobs[] = { "max_ratio", "strict_limit",
					     "read_ahead_kb" };
	char values[3][16], path[128];
	unsigned i;
	FILE *f;

	snprintf(values[0], sizeof(values[0]), "%d", max_ratio);
	snprintf(values[1], sizeof(values[1]), "0");
	snprintf(values[2], sizeof(values[2]), "1024");
	for (i = 0; i < MMFS_ARRAY_SIZE(knobs); i++) {
		snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/%s",
			 mi->major, mi->minor, knobs[i]);
		f = fopen(path, "w");
		if (!f || fputs(values[i], f) < 0 || fclose(f) != 0)
			mmfs_info("cannot set %s to %s: %s", path, values[i],
				  strerror(errno));
		else
			f = NULL;
		if (f)
			fclose(f);
	}
}

/*
 * mounted_here -- (internal) the FUSE mount just made on @mountpoint (the
 * topmost there). 0 or -errno.
 */
static int mounted_here(const char *mountpoint, struct mmfs_mountinfo *mi)
{
	char real[PATH_MAX];
	int rc;

	if (!realpath(mountpoint, real))
		return MMFS_ERRNO();
	rc = mmfs_mountinfo_at(real, mi);
	if (rc == 0 && strncmp(mi->fstype, "fuse", 4) != 0)
		rc = -ENOENT;
	return rc;
}

/* with_flags -- (internal) @cur with the flags the options spoke of */
static unsigned long with_flags(unsigned long cur, const struct opts *o)
{
	return (cur & ~o->ms_mask) | (o->ms_flags & o->ms_mask);
}

/*
 * mount_flags -- (internal) the per-mount flags libfuse 3.14 refuses to
 * pass (relatime, strictatime, nodiratime, nosymfollow, ...), set on the
 * new mount with a bind remount. Root only (fusermount3 cannot); else
 * they are the daemon's atime rule only, which is what matters on FUSE.
 */
static void mount_flags(const char *mountpoint, const struct mmfs_mountinfo *mi,
			const struct opts *o)
{
	unsigned long cur = fs_mntopt_parse_flags(mi->opts);
	unsigned long want = with_flags(cur, o);

	if (!o->mmfs_flags || want == cur)
		return;
	if (geteuid() != 0) {
		mmfs_info("%s: only root can set the mount flags libfuse "
			  "does not pass (the atime rule applies anyway)",
			  mountpoint);
		return;
	}
	if (mount(NULL, mountpoint, NULL, MS_REMOUNT | MS_BIND | want,
		  NULL) < 0)
		mmfs_warn("%s: cannot set its mount flags: %s", mountpoint,
			  strerror(errno));
}

/*
 * The live mount's settings, for the remounts that ask to change them
 * (MMFS_IOC_REMOUNT, on a request thread). lock serializes remounts; the
 * fs and tier fields they change are read by request threads atomically
 * or are the tier's own (engine start/stop).
 */
static struct {
	pthread_mutex_t lock;
	struct opts *o;
	const char *mountpoint;
	uint64_t dram, chunk;
	uint32_t root_mode, uid, gid;
	struct fs *fs;
	struct mmfs_tier *tier;
	bool engine;
	bool pool;
} live = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* refuse -- (internal) the one line a remount is refused with */
static int __attribute__((format(printf, 3, 4)))
refuse(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

#define FIXED "cannot change on a live mount (unmount, then mount with it)"

/* same_str -- (internal) a string option given again: unchanged? */
static bool same_str(const char *given, const char *live_val)
{
	return !given || (live_val && strcmp(given, live_val) == 0);
}

/*
 * remount_fixed -- (internal) every option of @n that cannot change live
 * must say what the mount has already (fstab lines come back whole).
 */
static int remount_fixed(const struct opts *n, char *why, size_t len)
{
	const struct opts *o = live.o;
	uint64_t v;
	uint32_t id;

	if (n->dram && (mmfs_size_parse_pct(n->dram, ram_bytes(), &v) < 0 ||
			v != live.dram))
		return refuse(why, len, "dram=%s: %s", n->dram, FIXED);
	if (n->chunk && (mmfs_size_parse(n->chunk, &v) < 0 || v != live.chunk))
		return refuse(why, len, "chunk=%s: %s", n->chunk, FIXED);
	if (!same_str(n->dram_nodes, o->dram_nodes))
		return refuse(why, len, "dram_nodes=%s: %s", n->dram_nodes,
			      FIXED);
	if (!same_str(n->slow_nodes, o->slow_nodes))
		return refuse(why, len, "slow_nodes=%s: %s", n->slow_nodes,
			      FIXED);
	if (!same_str(n->slow_size, o->slow_size ? o->slow_size : "50%"))
		return refuse(why, len, "slow_size=%s: %s", n->slow_size, FIXED);
	if (!same_str(n->pmem_emulate, o->pmem_emulate ? o->pmem_emulate
						      : "off"))
		return refuse(why, len, "pmem_emulate=%s: %s", n->pmem_emulate,
			      FIXED);
	if (n->mode && (sscanf(n->mode, "%o", &id) != 1 || id != live.root_mode))
		return refuse(why, len, "mode=%s: %s", n->mode, FIXED);
	if (n->uid && (parse_id(n->uid, &id) < 0 || id != live.uid))
		return refuse(why, len, "uid=%s: %s", n->uid, FIXED);
	if (n->gid && (parse_id(n->gid, &id) < 0 || id != live.gid))
		return refuse(why, len, "gid=%s: %s", n->gid, FIXED);
	if (n->epoch_ms >= 0 && n->epoch_ms != (o->epoch_ms ? o->epoch_ms
							     : 1000))
		return refuse(why, len, "epoch_ms=%d: %s", n->epoch_ms, FIXED);
	if (n->sample >= 0 && n->sample != o->sample)
		return refuse(why, len, "sample=%d: %s", n->sample, FIXED);
	if (n->threads >= 0 && n->threads != o->threads)
		return refuse(why, len, "threads=%d: %s", n->threads, FIXED);
	if (n->writeback >= 0 && n->writeback != o->writeback)
		return refuse(why, len, "%swriteback: %s",
			      n->writeback ? "" : "no", FIXED);
	if (n->splice_read >= 0 && n->splice_read != o->splice_read)
		return refuse(why, len, "%ssplice_read: %s",
			      n->splice_read ? "" : "no", FIXED);
	if (n->noallow_other && !o->noallow_other)
		return refuse(why, len, "noallow_other: %s", FIXED);
	if (n->null_io && !o->null_io)
		return refuse(why, len, "null_io: %s", FIXED);
	if (n->powerloss_sim && !o->powerloss_sim)
		return refuse(why, len, "powerloss_sim: %s", FIXED);
	return 0;
}

/*
 * remount_live -- (internal) MMFS_IOC_REMOUNT's answer: check @opts, or
 * apply those that can change live: commit=, migrate=, tiering=,
 * direct_io, dirty_ratio=, oom_score_adj= and the atime rule (from
 * @ms_flags). pmem_size= only sizes a new pool: ignored.
 */
static int remount_live(const char *opts, unsigned long ms_flags, bool apply,
			char *why, size_t len)
{
	struct opts n = { .writeback = -1, .splice_read = -1, .commit = -1,
			  .epoch_ms = -1, .sample = -1, .threads = -1 };
	struct fuse_args a = FUSE_ARGS_INIT(0, NULL);
	uint64_t migrate = 0;
	int ratio = 0, oom_adj = 0, rc;

	pthread_mutex_lock(&live.lock);
	rc = fuse_opt_add_arg(&a, "mmfs") || fuse_opt_add_arg(&a, "-o") ||
	     fuse_opt_add_arg(&a, opts) ? -ENOMEM : 0;
	if (rc == 0 && fuse_opt_parse(&a, &n, opt_spec, opt_proc) < 0)
		rc = refuse(why, len, "bad options: %s", opts);
	if (rc == 0)
		rc = remount_fixed(&n, why, len);
	if (rc == 0 && n.commit >= 0 && (n.commit < 1 || n.commit > 86400))
		rc = refuse(why, len, "commit=%d: seconds, 1..86400", n.commit);
	if (rc == 0 && n.migrate &&
	    (mmfs_size_parse(n.migrate, &migrate) < 0 || migrate < (1u << 20)))
		rc = refuse(why, len, "migrate=%s: bytes per second, at least "
			    "1M", n.migrate);
	if (rc == 0 && n.tiering && strcmp(n.tiering, "on") != 0 &&
	    strcmp(n.tiering, "off") != 0)
		rc = refuse(why, len, "tiering=%s: on or off", n.tiering);
	if (rc == 0 && n.oom_score_adj && parse_oom(n.oom_score_adj,
						      &oom_adj) < 0)
		rc = refuse(why, len, "oom_score_adj=%s: an integer, "
			    "-1000..1000", n.oom_score_adj);
	if (rc == 0 && n.dirty_ratio &&
	    (sscanf(n.dirty_ratio, "%d", &ratio) != 1 || ratio < 1 ||
	     ratio > 100))
		rc = refuse(why, len, "dirty_ratio=%s: must be a percentage "
			    "1..100", n.dirty_ratio);
	if (rc < 0 || !apply)
		goto out;
	if (n.commit > 0) {
		fs_persist_set_commit(live.fs, (unsigned)n.commit);
		live.o->commit = n.commit;
	}
	if (migrate)
		mmfs_tier_set_migrate(live.tier, migrate);
	if (n.tiering && mmfs_tier_tiered(live.tier)) {
		bool on = strcmp(n.tiering, "on") == 0;

		if (on && !live.engine && mmfs_tier_engine_start(live.tier) < 0)
			rc = refuse(why, len, "tiering=on: cannot start the "
				    "tiering engine");
		else if (!on && live.engine)
			mmfs_tier_engine_stop(live.tier);
		if (rc == 0)
			live.engine = on;
	}
	if (n.oom_score_adj)
		oom_protect(oom_adj, !live.pool);
	if (n.direct_io)
		atomic_store(&live.fs->direct_io, true); /* next open on */
	if (ratio && geteuid() == 0) {
		struct mmfs_mountinfo mi;

		if (mounted_here(live.mountpoint, &mi) == 0)
			tune_bdi(&mi, ratio);
	}
	atomic_store(&live.fs->atime, (int)fs_atime_policy(ms_flags));
	if (rc == 0)
		mmfs_info("%s: remounted (%s)", live.mountpoint, opts);
out:
	pthread_mutex_unlock(&live.lock);
	fuse_opt_free_args(&a);
	opts_free(&n);
	return rc;
}

/* has_word -- (internal) is @w one of the comma-separated words of @list? */
static bool has_word(const char *list, const char *w, size_t n)
{
	while (*list) {
		size_t m = strcspn(list, ",");

		if (m == n && strncmp(list, w, n) == 0)
			return true;
		list += m;
		if (*list == ',')
			list++;
	}
	return false;
}

/* generic_word -- (internal) a generic option: the kernel's to apply */
static bool generic_word(const char *s, size_t n)
{
	char w[64];

	if (n >= sizeof(w))
		return false;
	memcpy(w, s, n);
	w[n] = '\0';
	return fs_mntopt_find(w) != NULL;
}

/* fuse_word -- (internal) an option of libfuse's or the FUSE kernel's */
static bool fuse_word(const char *s, size_t n)
{
	static const char *const words[] = {
		"allow_other", "allow_root", "default_permissions",
		"auto_unmount", "blkdev", "user_id=", "group_id=", "rootmode=",
		"max_read=", "blksize=", "fsname=", "subtype=", "fd=",
	};
	size_t i;

	for (i = 0; i < MMFS_ARRAY_SIZE(words); i++) {
		size_t m = strlen(words[i]);

		if (words[i][m - 1] == '=' ? n >= m && !strncmp(s, words[i], m)
					   : n == m && !strncmp(s, words[i], m))
			return true;
	}
	return false;
}

/*
 * remount_kernel_opts -- (internal) the options left for libfuse after
 * parsing (user_id=, allow_other, fsname=, ...) are fixed in the kernel's
 * FUSE superblock: mount(8) hands them back from mountinfo, and then they
 * must be what the mount has.
 */
static int remount_kernel_opts(const struct fuse_args *rest,
			       const struct mmfs_mountinfo *mi)
{
	char type[80];
	int i;

	for (i = 1; i < rest->argc; i++) {
		const char *s = rest->argv[i];

		if (strcmp(s, "-o") != 0)
			continue;
		if (++i >= rest->argc)
			break;
		for (s = rest->argv[i]; *s;) {
			size_t n = strcspn(s, ",");
			bool same = has_word(mi->super_opts, s, n) ||
				    has_word(mi->opts, s, n);

			if (!same && n > 7 && strncmp(s, "fsname=", 7) == 0)
				same = strlen(mi->source) == n - 7 &&
				       strncmp(s + 7, mi->source, n - 7) == 0;
			snprintf(type, sizeof(type), "fuse.%.*s",
				 (int)(n > 8 ? n - 8 : 0), s + 8);
			if (!same && n > 8 && strncmp(s, "subtype=", 8) == 0)
				same = strcmp(type, mi->fstype) == 0;
			if (!same && !generic_word(s, n))
				return fuse_word(s, n)
					       ? fail("%.*s: %s", (int)n, s,
						      FIXED)
					       : fail("%.*s: unknown option",
						      (int)n, s);
			s += n;
			if (*s == ',')
				s++;
		}
	}
	return 0;
}

/*
 * remount_ioctl -- (internal) MMFS_IOC_REMOUNT: 0, or 1 after the line
 */
static int remount_ioctl(int fd, const char *mnt, const char *opts,
			 unsigned long flags, bool apply)
{
	struct mmfs_ioc_remount *rq = calloc(1, sizeof(*rq));
	int ret = 0;

	if (!rq)
		return fail("out of memory");
	rq->version = MMFS_IOC_REMOUNT_VERSION;
	rq->apply = apply;
	rq->ms_flags = flags;
	if (strlen(opts) >= sizeof(rq->opts))
		ret = fail("%s: options too long for a remount", mnt);
	else
		memcpy(rq->opts, opts, strlen(opts) + 1);
	if (ret == 0 && ioctl(fd, MMFS_IOC_REMOUNT, rq) < 0)
		ret = errno == ENOTTY || errno == EINVAL
			      ? fail("%s: not an mmfs mount (or its daemon is "
				     "older than remount)", mnt)
			      : fail("%s: remount: %s", mnt, strerror(errno));
	else if (ret == 0 && rq->result < 0)
		ret = fail("%s", rq->why[0] ? rq->why : strerror(-rq->result));
	free(rq);
	return ret;
}

/*
 * remount -- (internal) `mount -o remount,OPTS MNT`: mount.fuse3 starts
 * us for it, as for a mount. The live daemon checks OPTS, the kernel
 * changes the mount's flags (ro/rw, nosuid, noatime, ...: MS_REMOUNT),
 * the daemon applies what can change live; a remount to ro also makes
 * everything durable, as on ext4. 0, or 1 after the one line.
 */
static int remount(const struct opts *o, const struct fuse_args *rest,
		   const char *opts)
{
	const char *target = o->mountpoint ? o->mountpoint : o->source;
	struct mmfs_mountinfo mi;
	char real[PATH_MAX];
	unsigned long flags;
	int fd, ret;

	if (!target)
		return fail("remount: no mount point");
	if (!realpath(target, real))
		return fail("%s: %s", target, strerror(errno));
	if (mounted_here(real, &mi) < 0)
		return fail("%s: not a FUSE mount (remount needs a live mmfs "
			    "mount)", real);
	if (remount_kernel_opts(rest, &mi) != 0)
		return 1;
	fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail("%s: %s", real, strerror(errno));
	/* The mount's flags as they are, with those the options speak of. */
	flags = with_flags(fs_mntopt_parse_flags(mi.opts) |
				   (fs_mntopt_parse_flags(mi.super_opts) &
				    MS_RDONLY),
			   o);
	ret = remount_ioctl(fd, real, opts, flags, false);
	if (ret == 0 && mount(NULL, real, NULL, MS_REMOUNT | flags, NULL) < 0)
		ret = errno == EBUSY
			      ? fail("%s: busy: files are open for writing",
				     real)
			      : fail("%s: remount: %s", real, strerror(errno));
	if (ret == 0)
		ret = remount_ioctl(fd, real, opts, flags, true);
	if (ret == 0 && (flags & MS_RDONLY) && ioctl(fd, MMFS_IOC_SYNC) < 0)
		ret = fail("%s: read-only, but its sync failed: %s", real,
			   strerror(errno));
	close(fd);
	return ret;
}

/* joined_opts -- (internal) every -o of the command line, comma-joined */
static char *joined_opts(int argc, char *argv[])
{
	size_t len = 1;
	char *s;
	int i;

	for (i = 1; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = calloc(1, len);
	if (!s)
		return NULL;
	for (i = 1; i < argc; i++) {
		const char *v = NULL;

		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			v = argv[++i];
		else if (strncmp(argv[i], "-o", 2) == 0)
			v = argv[i] + 2;
		if (!v || !*v)
			continue;
		if (*s)
			strcat(s, ",");
		strcat(s, v);
	}
	return s;
}

static int serve(struct fuse_session *se, const struct opts *o)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = o->threads > 0 ? (unsigned)o->threads
					  : (unsigned)MMFS_MAX(4, 2 * cpus);
	int rc;

	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, 1);
	fuse_loop_cfg_set_max_threads(cfg, threads);
	fuse_loop_cfg_set_idle_threads(cfg, threads);
	rc = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return rc;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct opts o = { .writeback = 0, .splice_read = 0 };
	int dirty_ratio = 100;
	int oom_adj = INT_MIN;
	struct mmfs_tier_opts to = { 0 };
	struct mmfs_tier *tier = NULL;
	struct mmfs_snap *snap = NULL;
	struct mmfs_pool *pool = NULL;
	struct fuse_session *se = NULL;
	struct fs *fs = NULL;
	uint64_t dram, chunk = MMFS_CHUNK_DEFAULT;
	uint32_t root_mode = 01777, uid = 0, gid = 0;
	char opt[2 * PATH_MAX + 32];
	struct mmfs_mountinfo mi;
	bool mounted;
	int ret = 1;
	int rc;

	if (fuse_opt_parse(&args, &o, opt_spec, opt_proc) < 0)
		goto out_args;
	if (o.help) {
		usage(argv[0]);
		ret = 0;
		goto out_args;
	}
	if (o.version) {
		printf("mmfs %s (libfuse %s)\n", MMFS_VERSION,
		       fuse_pkgversion());
		ret = 0;
		goto out_args;
	}
	if (o.remount) {
		/* Not a new mount: the live one's daemon is asked. */
		char *all = joined_opts(argc, argv);

		ret = all ? remount(&o, &args, all) : fail("out of memory");
		free(all);
		goto out_args;
	}
	if (!o.source || !o.mountpoint) {
		fprintf(stderr, "usage: %s SOURCE MOUNTPOINT [-o OPTIONS] "
			"(see --help)\n", argv[0]);
		goto out_args;
	}
	if (o.pmem_emulate && strcmp(o.pmem_emulate, "optane") == 0) {
		to.emulate = MMFS_EMULATE_OPTANE;
	} else if (o.pmem_emulate && strcmp(o.pmem_emulate, "cxl") == 0) {
		to.emulate = MMFS_EMULATE_CXL;
	} else if (o.pmem_emulate && strcmp(o.pmem_emulate, "off") != 0) {
		ret = fail("pmem_emulate=%s: known devices: optane, cxl, off",
			   o.pmem_emulate);
		goto out_args;
	}
	if (o.tiering && strcmp(o.tiering, "on") != 0 &&
	    strcmp(o.tiering, "off") != 0) {
		ret = fail("tiering=%s: on or off", o.tiering);
		goto out_args;
	}
	if (o.sample < 0 || o.sample > 100) {
		ret = fail("sample=%d: a percentage, 0..100", o.sample);
		goto out_args;
	}
	if (o.epoch_ms < 0 || o.epoch_ms > 3600000) {
		ret = fail("epoch_ms=%d: milliseconds, 1..3600000", o.epoch_ms);
		goto out_args;
	}
	if (o.migrate && (mmfs_size_parse(o.migrate, &to.migrate_bps) < 0 ||
			  to.migrate_bps < (1u << 20))) {
		ret = fail("migrate=%s: bytes per second, at least 1M",
			   o.migrate);
		goto out_args;
	}
	if (o.commit < 0 || o.commit > 86400) {
		ret = fail("commit=%d: seconds, 1..86400", o.commit);
		goto out_args;
	}
	if (mmfs_size_parse_pct(o.dram ? o.dram : "50%", ram_bytes(),
				&dram) < 0) {
		ret = fail("dram=%s: not a size (use e.g. 8G or 50%%)", o.dram);
		goto out_args;
	}
	if (o.chunk && (mmfs_size_parse(o.chunk, &chunk) < 0 ||
			chunk < MMFS_CHUNK_MIN || chunk > MMFS_CHUNK_MAX ||
			(chunk & (chunk - 1)))) {
		ret = fail("chunk=%s: must be a power of two from 4K to 2M",
			   o.chunk);
		goto out_args;
	}
	if (slow_tier(&o, chunk, &to) != 0)
		goto out_args;
	/* A pool can do without DRAM (every chunk in PMEM); none cannot. */
	if (dram < chunk && strcmp(o.source, "none") == 0 && !to.slow_bytes) {
		ret = fail("dram=%s: smaller than one chunk",
			   o.dram ? o.dram : "50%");
		goto out_args;
	}
	if (o.mode && (sscanf(o.mode, "%o", &root_mode) != 1 ||
		       root_mode > 07777)) {
		ret = fail("mode=%s: not an octal mode", o.mode);
		goto out_args;
	}
	if (o.uid && parse_id(o.uid, &uid) < 0) {
		ret = fail("uid=%s: not a numeric user id", o.uid);
		goto out_args;
	}
	if (o.gid && parse_id(o.gid, &gid) < 0) {
		ret = fail("gid=%s: not a numeric group id", o.gid);
		goto out_args;
	}
	if (o.dirty_ratio && (sscanf(o.dirty_ratio, "%d", &dirty_ratio) != 1 ||
			      dirty_ratio < 1 || dirty_ratio > 100)) {
		ret = fail("dirty_ratio=%s: must be a percentage 1..100",
			   o.dirty_ratio);
		goto out_args;
	}
	if (o.oom_score_adj && parse_oom(o.oom_score_adj, &oom_adj) < 0) {
		ret = fail("oom_score_adj=%s: an integer, -1000..1000",
			   o.oom_score_adj);
		goto out_args;
	}

	if (o.powerloss_sim && (strcmp(o.source, "none") == 0 ||
				to.slow_bytes)) {
		ret = fail("powerloss_sim: a test mode of a pool file; SOURCE "
			   "%s is not one", o.source);
		goto out_args;
	}
	if (strcmp(o.source, "none") != 0 && !to.slow_bytes &&
	    open_pool(&o, chunk, &pool) != 0)
		goto out_args;
	to.dram_bytes = dram;
	to.chunk_size = (uint32_t)chunk;
	to.dram_nodes = o.dram_nodes;
	to.pool = pool;
	to.epoch_ms = (unsigned)o.epoch_ms;
	rc = mmfs_tier_new(&to, &tier);
	if (rc < 0) {
		/* tier/ said why, except for a plain allocation failure */
		if (rc == -ENOMEM)
			fail("%s: out of memory", o.mountpoint);
		goto out_args;
	}
	rc = mmfs_snap_new(tier, &snap);
	fs = calloc(1, sizeof(*fs));
	if (rc < 0 || !fs) {
		ret = fail("%s: out of memory", o.mountpoint);
		goto out_free;
	}
	fs_init(fs, tier, snap);
	fs->writeback = o.writeback;
	fs->splice_read = o.splice_read && !o.null_io;
	fs->null_io = o.null_io;
	atomic_store(&fs->direct_io, o.direct_io != 0);
	if (o.sample) {
		if (!mmfs_tier_tiered(tier)) {
			ret = fail("sample=%d: needs a slow tier (a pool or "
				   "slow_nodes=)", o.sample);
			goto out_free;
		}
		/* One pass per engine epoch: heat decays at that pace. */
		if (fs_sample_init(fs, (unsigned)o.sample,
				   mmfs_tier_epoch_ms(tier)) < 0) {
			ret = fail("%s: out of memory", o.mountpoint);
			goto out_free;
		}
	}
	if (o.null_io)
		fprintf(stderr, "mmfs: null_io: file data is discarded "
			"(a benchmark baseline)\n");
	if (pool) {
		struct fs_persist_opts po = {
			.commit_secs = (unsigned)o.commit, .root_mode = root_mode,
			.root_uid = uid, .root_gid = gid,
		};
		char why[MMFS_POOL_WHY];

		rc = fs_persist_open(fs, pool, &po, why);
		if (rc < 0) {
			ret = rc == -EUCLEAN
			      ? fail("%s: %s (run 'mmfsctl fsck %s')", o.source,
				     why, o.source)
			      : fail("%s: %s", o.source,
				     why[0] ? why : strerror(-rc));
			goto out_free;
		}
	} else if (fs_root_new(fs, root_mode, uid, gid) < 0) {
		ret = fail("%s: out of memory", o.mountpoint);
		goto out_free;
	}

	/*
	 * Mount identity: the user's fsname= and subtype= win; by default
	 * type fuse.mmfs and source SOURCE (escaped: a path may hold commas).
	 * With only fsname= the type is libfuse's own ("fuse").
	 */
	if (!o.fsname && !o.subtype &&
	    fuse_opt_add_arg(&args, "-osubtype=mmfs") < 0)
		goto out_free;
	if (!o.fsname) {
		char *esc = NULL;

		snprintf(opt, sizeof(opt), "fsname=%s", o.source);
		rc = fuse_opt_add_opt_escaped(&esc, opt);
		if (rc == 0)
			snprintf(opt, sizeof(opt), "-o%s", esc);
		free(esc);
		if (rc < 0 || fuse_opt_add_arg(&args, opt) < 0)
			goto out_free;
	}
	atomic_store(&fs->atime, (int)fs_atime_policy(o.ms_flags));
	/* A root mount is shared like tmpfs; the kernel checks permissions. */
	if (fuse_opt_add_arg(&args, "-odefault_permissions") < 0 ||
	    (geteuid() == 0 && !o.noallow_other &&
	     fuse_opt_add_arg(&args, "-oallow_other") < 0))
		goto out_free;
	se = fuse_session_new(&args, mmfs_fuse_ops(),
			      sizeof(struct fuse_lowlevel_ops), fs);
	if (!se)
		goto out_free; /* libfuse said why, on one line */
	mmfs_fuse_set_session(se);
	live.o = &o;
	live.mountpoint = o.mountpoint;
	live.dram = dram;
	live.chunk = chunk;
	live.root_mode = root_mode;
	live.uid = uid;
	live.gid = gid;
	live.fs = fs;
	live.tier = tier;
	live.pool = pool != NULL;
	mmfs_fuse_set_remount(remount_live);
	if (fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	if (fuse_session_mount(se, o.mountpoint) != 0)
		goto out_handlers;
	mounted = mounted_here(o.mountpoint, &mi) == 0;
	if (!mounted)
		mmfs_warn("%s: cannot find the new mount in mountinfo",
			  o.mountpoint);
	if (mounted && geteuid() == 0)
		tune_bdi(&mi, dirty_ratio);
	if (mounted)
		mount_flags(o.mountpoint, &mi, &o);
	/* Before the daemon leaves the terminal: a warning is seen. */
	oom_protect(oom_adj != INT_MIN ? oom_adj
		    : pool ? MMFS_OOM_ADJ_POOL : MMFS_OOM_ADJ_VOLATILE, !pool);
	/* From here a mount of the pool elsewhere is refused, not waited. */
	if (mounted && pool && mmfs_pool_set_mounted(pool, mi.major,
						     mi.minor) < 0)
		mmfs_warn("%s: cannot mark the pool mounted", o.source);
	if (!o.foreground)
		mmfs_log_use_syslog(true);
	if (fuse_daemonize(o.foreground) != 0)
		goto out_unmount;
	if (fs_sample_start(fs, mmfs_fuse_inval, NULL) < 0) {
		mmfs_err("%s: cannot start the page-cache sampler",
			 o.mountpoint);
		goto out_unmount;
	}
	if (fs_persist_start(fs) < 0) {
		mmfs_err("%s: cannot start the commit thread", o.source);
		goto out_unmount;
	}
	if (fs_snap_start(fs, mmfs_fuse_inval_entry, NULL) < 0) {
		mmfs_err("%s: cannot start the snapshot scheduler",
			 o.mountpoint);
		goto out_unmount;
	}
	if ((pool || to.slow_bytes) &&
	    !(o.tiering && strcmp(o.tiering, "off") == 0) &&
	    mmfs_tier_engine_start(tier) < 0) {
		mmfs_err("%s: cannot start the tiering engine", o.source);
		goto out_unmount;
	}
	live.engine = (pool || to.slow_bytes) &&
		      !(o.tiering && strcmp(o.tiering, "off") == 0);
	ret = serve(se, &o) == 0 ? 0 : 1;

out_unmount:
	fuse_session_unmount(se);
	/* The mount is gone: a new mount of the pool now waits for us. */
	if (pool)
		mmfs_pool_set_closing(pool);
out_handlers:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
out_free:
	if (tier)
		mmfs_tier_engine_stop(tier);
	if (fs) {
		fs_snap_stop(fs);
		/* Its holds go first: unlinked files' data is freed. */
		fs_sample_stop(fs);
		/* Unmounted (or never mounted): a final checkpoint. */
		if (fs_persist_close(fs, true) < 0) {
			mmfs_err("%s: final checkpoint failed; the log "
				 "replays at next mount", o.source);
			ret = 1;
		}
		fs_fini(fs);
		free(fs);
	}
	mmfs_snap_free(&snap);
	mmfs_tier_free(&tier);
	mmfs_pool_close(&pool);
out_args:
	fuse_opt_free_args(&args);
	opts_free(&o);
	return ret;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fhandle.c -- file handles (name_to_handle_at / open_by_handle_at) after
 * the kernel has dropped its caches, as NFS re-export uses them.
 *
 *   fhandle run DIR STATE    make a tree in DIR, save its handles to STATE,
 *                            remove some files, drop the caches (twice) and
 *                            reopen everything by handle
 *   fhandle check DIR STATE  reopen STATE's handles in DIR (after a remount
 *                            of a pool): the same files, the removed ones
 *                            stale
 *   fhandle tree DIR STATE   only make the tree and save its handles
 *   fhandle stale DIR STATE  every handle but the root's is stale (DIR is a
 *                            new volatile filesystem with the same tree)
 *
 * The tree: f (a file), d/ (a directory), d/sub/ (its subdirectory),
 * d/sub/g (a file in it), d/hl (a hard link to f), u (removed before the
 * check), v (removed, then w is created: on mmfs w usually gets v's inode
 * number, with a new generation), o (open while removed: valid while open,
 * stale after the close). A directory opened by handle must be connected
 * to the tree (the kernel asks for its parent, then its name), so its path
 * in /proc/self/fd and its ".." are checked.
 *
 * Output: one "ok"/"FAIL" line per check; exit 0 when all passed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONTENT_LEN 10000
#define MAX_HANDLE 128

static int failures;

static void check(int ok, const char *what, const char *name)
{
	printf("%s %s %s\n", ok ? "ok" : "FAIL", what, name);
	failures += !ok;
}

/* content -- the bytes of the file first made as @name */
static void content(const char *name, char *buf)
{
	size_t n = 0, l;
	char line[64];

	l = (size_t)snprintf(line, sizeof(line), "mmfs-fhandle:%s\n", name);
	while (n < CONTENT_LEN) {
		size_t k = l < CONTENT_LEN - n ? l : CONTENT_LEN - n;

		memcpy(buf + n, line, k);
		n += k;
	}
}

static void make_file(const char *dir, const char *name)
{
	char path[PATH_MAX], buf[CONTENT_LEN];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	content(name, buf);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) ||
	    close(fd) != 0) {
		perror(path);
		exit(2);
	}
}

struct saved {
	char name[16];     /* path below DIR */
	char kind;         /* f file, d directory */
	char content[16];  /* for files: whose content it has */
	int valid;         /* expected to open */
	unsigned long ino;
	struct file_handle *fh;
};

enum { F, D, SUB, G, HL, ROOT, U, V, O, NSAVED };

static struct saved saved[NSAVED] = {
	[F] = { "f", 'f', "f", 1 },       [D] = { "d", 'd', "", 1 },
	[SUB] = { "d/sub", 'd', "", 1 },  [G] = { "d/sub/g", 'f', "d/sub/g", 1 },
	[HL] = { "d/hl", 'f', "f", 1 },   [ROOT] = { ".", 'd', "", 1 },
	[U] = { "u", 'f', "u", 0 },       [V] = { "v", 'f', "v", 0 },
	[O] = { "o", 'f', "o", 0 },
};

static void get_handle(const char *dir, struct saved *s)
{
	char path[PATH_MAX];
	struct stat st;
	int mnt;

	snprintf(path, sizeof(path), "%s/%s", dir, s->name);
	s->fh = malloc(sizeof(*s->fh) + MAX_HANDLE);
	s->fh->handle_bytes = MAX_HANDLE;
	if (name_to_handle_at(AT_FDCWD, path, s->fh, &mnt, 0) != 0 ||
	    stat(path, &st) != 0) {
		perror(path);
		exit(2);
	}
	s->ino = (unsigned long)st.st_ino;
}

static void save(const char *file)
{
	FILE *f = fopen(file, "w");
	int i;
	unsigned b;

	if (!f) {
		perror(file);
		exit(2);
	}
	for (i = 0; i < NSAVED; i++) {
		fprintf(f, "%s %lu %d %u ", saved[i].name, saved[i].ino,
			saved[i].fh->handle_type, saved[i].fh->handle_bytes);
		for (b = 0; b < saved[i].fh->handle_bytes; b++)
			fprintf(f, "%02x", saved[i].fh->f_handle[b]);
		fprintf(f, "\n");
	}
	fclose(f);
}

static void load(const char *file)
{
	FILE *f = fopen(file, "r");
	char name[16], hex[2 * MAX_HANDLE + 1];
	int i, type;
	unsigned b, n;

	if (!f) {
		perror(file);
		exit(2);
	}
	for (i = 0; i < NSAVED; i++) {
		struct saved *s = &saved[i];

		if (fscanf(f, "%15s %lu %d %u %256s", name, &s->ino, &type, &n,
			   hex) != 5 || strcmp(name, s->name) != 0 ||
		    n > MAX_HANDLE || strlen(hex) != 2 * n) {
			fprintf(stderr, "%s: bad line %d\n", file, i + 1);
			exit(2);
		}
		s->fh = malloc(sizeof(*s->fh) + MAX_HANDLE);
		s->fh->handle_type = type;
		s->fh->handle_bytes = n;
		for (b = 0; b < n; b++) {
			unsigned x;

			sscanf(hex + 2 * b, "%2x", &x);
			s->fh->f_handle[b] = (unsigned char)x;
		}
	}
	fclose(f);
}

static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	if (fd < 0 || write(fd, "3\n", 2) != 2) {
		perror("drop_caches");
		exit(2);
	}
	close(fd);
	printf("# dropped caches\n");
}

/* has_name -- (internal) does directory @fd list @name? */
static int has_name(int fd, const char *name)
{
	DIR *dp = fdopendir(dup(fd));
	struct dirent *de;
	int found = 0;

	if (!dp)
		return 0;
	rewinddir(dp); /* the offset is shared with @fd */
	while ((de = readdir(dp)))
		found += strcmp(de->d_name, name) == 0;
	closedir(dp);
	return found == 1;
}

/* verify -- (internal) open @s by handle and check what it names */
static void verify(int mnt, const char *dir, struct saved *s, int valid)
{
	char buf[CONTENT_LEN], want[CONTENT_LEN], link[PATH_MAX];
	char path[PATH_MAX + 64], real[PATH_MAX];
	struct stat st, up;
	ssize_t n;
	int fd = open_by_handle_at(mnt, s->fh,
				   s->kind == 'd' ? O_RDONLY | O_DIRECTORY
						  : O_RDONLY);

	if (!valid) {
		check(fd < 0 && errno == ESTALE, "stale", s->name);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (fd < 0) {
		printf("# open_by_handle_at %s: %s\n", s->name,
		       strerror(errno));
		check(0, "open", s->name);
		return;
	}
	check(fstat(fd, &st) == 0 && st.st_ino == s->ino, "same-inode",
	      s->name);
	if (s->kind == 'f') {
		content(s->content, want);
		n = pread(fd, buf, sizeof(buf), 0);
		check(n == (ssize_t)sizeof(buf) &&
		      memcmp(buf, want, sizeof(buf)) == 0, "content", s->name);
		close(fd);
		return;
	}
	/* A directory by handle is connected: its path, its "..", a child */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	if (!realpath(dir, real))
		strcpy(real, dir);
	snprintf(path, sizeof(path), "%s%s%s", real,
		 strcmp(s->name, ".") ? "/" : "",
		 strcmp(s->name, ".") ? s->name : "");
	if (strcmp(link, path) != 0)
		printf("# %s: path %s, want %s\n", s->name, link, path);
	check(strcmp(link, path) == 0, "path", s->name);
	if (strcmp(s->name, "d/sub") == 0) {
		check(fstatat(fd, "..", &up, 0) == 0 &&
		      up.st_ino == saved[D].ino, "parent", s->name);
		check(has_name(fd, "g"), "lists-g", s->name);
	} else if (strcmp(s->name, "d") == 0) {
		check(has_name(fd, "sub") && has_name(fd, "hl"), "lists-sub-hl",
		      s->name);
	}
	close(fd);
}

static int open_root(const char *dir)
{
	int mnt = open(dir, O_RDONLY | O_DIRECTORY);

	if (mnt < 0) {
		perror(dir);
		exit(2);
	}
	return mnt;
}

static void verify_all(int mnt, const char *dir)
{
	int i;

	for (i = 0; i < NSAVED; i++)
		verify(mnt, dir, &saved[i], saved[i].valid);
}

/* make_tree -- (internal) the tree, its handles saved to @state */
static void make_tree(const char *dir, const char *state)
{
	char path[PATH_MAX];

	make_file(dir, "f");
	snprintf(path, sizeof(path), "%s/d", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/d/sub", dir);
	mkdir(path, 0755);
	make_file(dir, "d/sub/g");
	make_file(dir, "u");
	make_file(dir, "v");
	make_file(dir, "o");
	{
		char a[PATH_MAX], b[PATH_MAX];

		snprintf(a, sizeof(a), "%s/f", dir);
		snprintf(b, sizeof(b), "%s/d/hl", dir);
		if (link(a, b) != 0) {
			perror(b);
			exit(2);
		}
	}
	for (int i = 0; i < NSAVED; i++)
		get_handle(dir, &saved[i]);
	save(state);
	check(saved[HL].fh->handle_bytes == saved[F].fh->handle_bytes &&
	      memcmp(saved[HL].fh->f_handle, saved[F].fh->f_handle,
		     saved[F].fh->handle_bytes) == 0, "hardlink-same-handle",
	      "d/hl");
}

static void run(const char *dir, const char *state)
{
	char path[PATH_MAX];
	struct stat st;
	int mnt, ofd;

	make_tree(dir, state);

	snprintf(path, sizeof(path), "%s/o", dir);
	ofd = open(path, O_RDONLY);
	if (ofd < 0 || unlink(path) != 0) {
		perror(path);
		exit(2);
	}
	snprintf(path, sizeof(path), "%s/u", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/v", dir);
	unlink(path);
	/* Give v's number back (its last reference goes), then reuse it. */
	drop_caches();
	make_file(dir, "w");
	snprintf(path, sizeof(path), "%s/w", dir);
	stat(path, &st);
	printf("# w has v's inode number: %s\n",
	       (unsigned long)st.st_ino == saved[V].ino ? "yes" : "no");

	mnt = open_root(dir);
	/* o is still open: the kernel still has it, so it opens. */
	for (int i = 0; i < NSAVED; i++)
		verify(mnt, dir, &saved[i], i == O ? 1 : saved[i].valid);
	close(ofd);
	drop_caches();
	verify_all(mnt, dir);
	close(mnt);
}

int main(int argc, char **argv)
{
	int mnt, i;

	if (argc != 4) {
		fprintf(stderr, "usage: fhandle run|tree|check|stale DIR STATE\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "run") == 0) {
		run(argv[2], argv[3]);
	} else if (strcmp(argv[1], "tree") == 0) {
		make_tree(argv[2], argv[3]);
	} else if (strcmp(argv[1], "check") == 0) {
		load(argv[3]);
		mnt = open_root(argv[2]);
		verify_all(mnt, argv[2]);
		close(mnt);
	} else if (strcmp(argv[1], "stale") == 0) {
		load(argv[3]);
		mnt = open_root(argv[2]);
		for (i = 0; i < NSAVED; i++)
			if (i != ROOT)
				verify(mnt, argv[2], &saved[i], 0);
		close(mnt);
	} else {
		fprintf(stderr, "fhandle: unknown mode %s\n", argv[1]);
		return 2;
	}
	printf("# %d failures\n", failures);
	for (i = 0; i < NSAVED; i++)
		free(saved[i].fh);
	return failures ? 1 : 0;
}

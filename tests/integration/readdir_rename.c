/* SPDX-License-Identifier: Apache-2.0 */
/*
 * readdir_rename.c -- directory listings taken while another process
 * renames entries of the directory.
 *
 *   readdir_rename DIR OTHER N LISTINGS
 *
 * Makes N files in DIR: 7N/8 named k<i> (never touched) and N/8 named r<i>
 * (renamed). A child process then renames the r files without pause:
 * within DIR between two names, and out to OTHER and back. Meanwhile the
 * parent lists DIR with getdents64, LISTINGS times, in three ways in turn:
 * a fresh open; a rewind (lseek 0) of the same open; and a listing that
 * seeks back to a position it took halfway (telldir/seekdir) and reads the
 * rest again. Each listing must:
 *   - end, having returned at most 2N+2 names (the bound);
 *   - return each k name exactly once, and "." and ".." once;
 *   - return no name twice (an r file at most once under each name);
 *   - with a seek back: give the same k names after the position twice.
 * Renames done during each listing are counted; at least half the listings
 * must have seen some (or the test would prove nothing: a listing the
 * kernel serves from its cache may be too quick for any). Output: a line per listing; exit 0 if all
 * passed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

struct shared {
	volatile int stop;
	volatile unsigned long renames;
};

static struct shared *sh;

/*
 * renamer -- (internal) the child: rename the r files until told to stop.
 * Each has two names, r<i>.a and r<i>.b: renamed within DIR it toggles
 * between them, moved out to OTHER it comes back under the same name. So
 * names come back during a listing: a listing that returned a file, then
 * returned it again at its new place, shows a name twice.
 */
static void renamer(const char *dir, const char *other, unsigned nr)
{
	unsigned char *alt = calloc(nr, 1), *away = calloc(nr, 1);
	char from[4096], to[4096];
	unsigned seed = 12345;

	while (!sh->stop) {
		unsigned i = rand_r(&seed) % nr;
		int out = rand_r(&seed) % 4 == 0;

		snprintf(from, sizeof(from), "%s/r%u.%c", away[i] ? other : dir,
			 i, alt[i] ? 'b' : 'a');
		if (away[i]) {
			snprintf(to, sizeof(to), "%s/r%u.%c", dir, i,
				 alt[i] ? 'b' : 'a');
			away[i] = 0;
		} else if (out) {
			snprintf(to, sizeof(to), "%s/r%u.%c", other, i,
				 alt[i] ? 'b' : 'a');
			away[i] = 1;
		} else {
			alt[i] = !alt[i];
			snprintf(to, sizeof(to), "%s/r%u.%c", dir, i,
				 alt[i] ? 'b' : 'a');
		}
		if (rename(from, to) != 0) {
			perror("rename");
			_exit(2);
		}
		__atomic_add_fetch(&sh->renames, 1, __ATOMIC_RELAXED);
	}
	_exit(0);
}

struct listing {
	unsigned char *kseen;  /* per k index */
	unsigned n;            /* k files */
	char **names;          /* every name returned, to find repeats */
	size_t nnames, cap;
	size_t bound;
	int dots, dotdots;
	int over;              /* past the bound */
};

/* add -- (internal) one returned name */
static void add(struct listing *l, const char *name)
{
	unsigned i;
	char c;

	if (l->nnames == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->names = realloc(l->names, l->cap * sizeof(*l->names));
	}
	l->names[l->nnames++] = strdup(name);
	if (strcmp(name, ".") == 0)
		l->dots++;
	else if (strcmp(name, "..") == 0)
		l->dotdots++;
	else if (sscanf(name, "k%u%c", &i, &c) == 1 && i < l->n)
		l->kseen[i]++;
	if (l->nnames > l->bound)
		l->over = 1;
}

/*
 * read_rest -- (internal) getdents64 from the current offset to the end
 * (or the bound, or @max names if @max); returns the offset reached.
 */
static off_t read_rest(int fd, struct listing *l, size_t max)
{
	char buf[2048]; /* small: more calls, more renames between them */
	off_t pos = lseek(fd, 0, SEEK_CUR);
	size_t got = 0;

	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		long off = 0;

		if (n < 0) {
			perror("getdents64");
			exit(2);
		}
		if (n == 0)
			return pos;
		usleep(2000); /* let the renamer in between two calls */
		while (off < n) {
			struct linux_dirent64 *d = (void *)(buf + off);

			add(l, d->d_name);
			pos = d->d_off;
			off += d->d_reclen;
			got++;
			if (l->over || (max && got >= max)) {
				/* stop here: resume exactly after this one */
				lseek(fd, pos, SEEK_SET);
				return pos;
			}
		}
	}
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* judge -- (internal) the listing's checks; returns failures */
static int judge(struct listing *l, const char *how, unsigned long renames)
{
	unsigned i, missing = 0, twice = 0, dup = 0;
	size_t j;
	int bad;

	for (i = 0; i < l->n; i++) {
		missing += l->kseen[i] == 0;
		twice += l->kseen[i] > 1;
	}
	qsort(l->names, l->nnames, sizeof(*l->names), cmp);
	for (j = 1; j < l->nnames; j++)
		if (strcmp(l->names[j], l->names[j - 1]) == 0) {
			if (dup < 5)
				printf("#   twice: %s\n", l->names[j]);
			dup++;
		}
	bad = l->over || missing || twice || dup || l->dots != 1 ||
	      l->dotdots != 1;
	printf("%s %s: %zu names (bound %zu), k missing %u, k twice %u, "
	       "names twice %u, dots %d/%d, renames during it %lu\n",
	       bad ? "FAIL" : "ok", how, l->nnames, l->bound, missing, twice, dup, l->dots,
	       l->dotdots, renames);
	for (j = 0; j < l->nnames; j++)
		free(l->names[j]);
	l->nnames = 0;
	memset(l->kseen, 0, l->n);
	l->dots = l->dotdots = l->over = 0;
	return bad;
}

/* seek_back -- (internal) listing with a seek back: returns failures */
static int seek_back(int fd, struct listing *l, unsigned n)
{
	struct listing a = *l, b = *l;
	unsigned i, diff = 0;
	off_t mid;

	(void)read_rest(fd, l, n / 2);
	mid = lseek(fd, 0, SEEK_CUR);
	a.kseen = calloc(l->n, 1);
	b.kseen = calloc(l->n, 1);
	a.names = b.names = NULL;
	a.nnames = b.nnames = a.cap = b.cap = 0;
	(void)read_rest(fd, &a, 0);
	if (lseek(fd, mid, SEEK_SET) != mid) {
		perror("seekdir");
		exit(2);
	}
	(void)read_rest(fd, &b, 0);
	for (i = 0; i < l->n; i++)
		diff += a.kseen[i] != b.kseen[i] || a.kseen[i] > 1;
	/* The whole listing is the first half plus the first rest. */
	for (size_t j = 0; j < a.nnames; j++)
		add(l, a.names[j]);
	printf("%s seek back at %lld: rest read twice, %zu and %zu names, "
	       "k names differing %u\n", diff ? "FAIL" : "ok",
	       (long long)mid, a.nnames, b.nnames, diff);
	for (size_t j = 0; j < a.nnames; j++)
		free(a.names[j]);
	for (size_t j = 0; j < b.nnames; j++)
		free(b.names[j]);
	free(a.names);
	free(b.names);
	free(a.kseen);
	free(b.kseen);
	return diff != 0;
}

int main(int argc, char **argv)
{
	struct listing l = { 0 };
	unsigned n, nk, nr, i, k, busy = 0;
	int fails = 0, fd = -1, st;
	char path[4096];
	pid_t pid;

	if (argc != 5) {
		fprintf(stderr, "usage: readdir_rename DIR OTHER N LISTINGS\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	n = (unsigned)atoi(argv[3]);
	k = (unsigned)atoi(argv[4]);
	nr = n / 8 ? n / 8 : 1; /* few, so each is renamed often */
	nk = n - nr;
	for (i = 0; i < n; i++) {
		if (i < nk)
			snprintf(path, sizeof(path), "%s/k%u", argv[1], i);
		else
			snprintf(path, sizeof(path), "%s/r%u.a", argv[1],
				 i - nk);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0) {
			perror(path);
			return 2;
		}
		close(fd);
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0)
		renamer(argv[1], argv[2], nr);
	while (sh->renames < 100)
		usleep(1000);

	l.n = nk;
	l.kseen = calloc(nk, 1);
	l.bound = 2 * (size_t)n + 2;
	for (i = 0; i < k; i++) {
		unsigned long r0 = sh->renames;
		const char *how;

		if (i % 3 == 0 || fd < 0) {
			if (fd >= 0)
				close(fd);
			fd = open(argv[1], O_RDONLY | O_DIRECTORY);
			if (fd < 0) {
				perror(argv[1]);
				return 2;
			}
			how = "open";
		} else {
			lseek(fd, 0, SEEK_SET);
			how = i % 3 == 1 ? "rewind" : "rewind+seekback";
		}
		if (i % 3 == 2)
			fails += seek_back(fd, &l, n);
		else
			(void)read_rest(fd, &l, 0);
		busy += sh->renames != r0;
		fails += judge(&l, how, sh->renames - r0);
	}
	if (busy < (k + 1) / 2) {
		printf("FAIL only %u of %u listings saw renames\n", busy, k);
		fails++;
	}
	close(fd);
	sh->stop = 1;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		printf("FAIL renamer exited badly\n");
		fails++;
	}
	printf("# %lu renames in all, %d failures\n", sh->renames, fails);
	free(l.names);
	free(l.kseen);
	return fails ? 1 : 0;
}

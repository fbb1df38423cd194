/* SPDX-License-Identifier: Apache-2.0 */
/*
 * faultinj.c -- allocation failures at one call site of the daemon at a
 * time (fault/alloc_sites.sh). Linked only into the test daemon mmfs-fault,
 * with -Wl,--wrap for malloc, calloc, realloc, strdup, strndup,
 * aligned_alloc and mmfs_tier_chunk_alloc: every allocation that mmfs's
 * own objects make passes here (libfuse's and libc's own do not), and a
 * call site is the caller's return address as an offset into the
 * executable, stable across runs (addr2line names it).
 *
 * MMFS_FAULT (environment) chooses what happens; nothing before SIGUSR2
 * arms it, so a mount and its setup run clean:
 *   record:PATH   count the calls per site once armed; "0xOFFSET COUNT"
 *                 lines to PATH at exit
 *   fail:OFFSET:PATH   once armed, the first call from OFFSET fails
 *                 (NULL with ENOMEM; -ENOSPC for a chunk); "fired" is
 *                 written to PATH when it does
 * Unset: every call goes through.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mmfs_tier;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_mmfs_tier_chunk_alloc(struct mmfs_tier *t, uint32_t *id);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
int __wrap_mmfs_tier_chunk_alloc(struct mmfs_tier *t, uint32_t *id);

extern char __executable_start;

enum { NONE, RECORD, FAIL };
#define SITES 4096 /* open addressing; far more than the daemon has */

static int mode = NONE;
static char path[512];
static uintptr_t target;
static atomic_bool armed, fired;
static _Atomic uintptr_t site_off[SITES];
static _Atomic uint64_t site_calls[SITES];

static void note(uintptr_t off)
{
	size_t i = (off * 0x9E3779B97F4A7C15ull) >> 52; /* 12 bits */
	uintptr_t cur;

	for (;; i = (i + 1) % SITES) {
		cur = atomic_load(&site_off[i]);
		if (cur == 0 && atomic_compare_exchange_strong(&site_off[i],
							       &cur, off))
			cur = off;
		if (cur == off) {
			atomic_fetch_add(&site_calls[i], 1);
			return;
		}
	}
}

/* fail -- (internal) should the call from @ret fail? */
static int fail(void *ret)
{
	uintptr_t off = (uintptr_t)ret - (uintptr_t)&__executable_start;
	bool no = false;
	int fd;

	if (mode == NONE || !atomic_load(&armed))
		return 0;
	if (mode == RECORD) {
		note(off);
		return 0;
	}
	if (off != target || !atomic_compare_exchange_strong(&fired, &no, true))
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		(void)!write(fd, "fired\n", 6);
		close(fd);
	}
	return 1;
}

static void arm(int sig)
{
	(void)sig;
	atomic_store(&armed, true);
}

static void dump(void)
{
	FILE *f;
	size_t i;

	if (mode != RECORD || !(f = fopen(path, "w")))
		return;
	for (i = 0; i < SITES; i++)
		if (site_off[i])
			fprintf(f, "0x%lx %llu\n", (unsigned long)site_off[i],
				(unsigned long long)site_calls[i]);
	fclose(f);
}

__attribute__((constructor)) static void faultinj_init(void)
{
	const char *e = getenv("MMFS_FAULT");
	struct sigaction sa = { .sa_handler = arm };
	char *end;

	if (!e)
		return;
	if (strncmp(e, "record:", 7) == 0) {
		snprintf(path, sizeof(path), "%s", e + 7);
		mode = RECORD;
		atexit(dump);
	} else if (strncmp(e, "fail:", 5) == 0) {
		target = (uintptr_t)strtoull(e + 5, &end, 0);
		if (*end != ':') {
			fprintf(stderr, "faultinj: MMFS_FAULT=fail:OFFSET:PATH\n");
			_exit(2);
		}
		snprintf(path, sizeof(path), "%s", end + 1);
		mode = FAIL;
	} else {
		fprintf(stderr, "faultinj: MMFS_FAULT=%s not understood\n", e);
		_exit(2);
	}
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR2, &sa, NULL);
}

#define RET __builtin_return_address(0)

void *__wrap_malloc(size_t n)
{
	if (fail(RET)) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	if (fail(RET)) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	if (fail(RET)) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	if (fail(RET)) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	if (fail(RET)) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_strndup(s, n);
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
	if (fail(RET)) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_aligned_alloc(align, n);
}

int __wrap_mmfs_tier_chunk_alloc(struct mmfs_tier *t, uint32_t *id)
{
	if (fail(RET))
		return -ENOSPC;
	return __real_mmfs_tier_chunk_alloc(t, id);
}

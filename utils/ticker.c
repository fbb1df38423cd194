/* SPDX-License-Identifier: Apache-2.0 */
/* ticker.c -- a periodic thread (utils/ticker.h) */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "utils/ticker.h"

struct mmfs_ticker {
	pthread_t thread;
	/* lock protects stop, kick, reset and period_ms, and is what cond
	 * waits with. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, kick, reset; /* reset: a new period starts now */
	unsigned period_ms;
	mmfs_tick_fn fn;
	void *arg;
};

static void *ticker_main(void *arg)
{
	struct mmfs_ticker *tk = arg;
	struct timespec until;

	pthread_mutex_lock(&tk->lock);
	while (!tk->stop) {
		/* The condvar's clock is CLOCK_MONOTONIC: see start. */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long)(tk->period_ms % 1000) * 1000000L;
		until.tv_sec += tk->period_ms / 1000 +
				until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!tk->stop && !tk->kick && !tk->reset &&
		       pthread_cond_timedwait(&tk->cond, &tk->lock,
					      &until) == 0)
			;
		if (tk->stop)
			break;
		if (tk->reset) {
			tk->reset = false;
			if (!tk->kick)
				continue; /* wait the new period from now */
		}
		tk->kick = false;
		pthread_mutex_unlock(&tk->lock);
		tk->fn(tk->arg);
		pthread_mutex_lock(&tk->lock);
	}
	pthread_mutex_unlock(&tk->lock);
	return NULL;
}

int mmfs_ticker_start(unsigned period_ms, mmfs_tick_fn fn, void *arg,
		      struct mmfs_ticker **out)
{
	struct mmfs_ticker *tk;
	pthread_condattr_t ca;

	if (!period_ms || !fn)
		return -EINVAL;
	tk = calloc(1, sizeof(*tk));
	if (!tk)
		return -ENOMEM;
	tk->period_ms = period_ms;
	tk->fn = fn;
	tk->arg = arg;
	pthread_mutex_init(&tk->lock, NULL);
	/* Periods must not stretch or shrink when the wall clock is set. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&tk->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&tk->thread, NULL, ticker_main, tk) != 0) {
		pthread_cond_destroy(&tk->cond);
		pthread_mutex_destroy(&tk->lock);
		free(tk);
		return -EAGAIN;
	}
	*out = tk;
	return 0;
}

void mmfs_ticker_kick(struct mmfs_ticker *tk)
{
	if (!tk)
		return;
	pthread_mutex_lock(&tk->lock);
	tk->kick = true;
	pthread_cond_signal(&tk->cond);
	pthread_mutex_unlock(&tk->lock);
}

void mmfs_ticker_set_period(struct mmfs_ticker *tk, unsigned period_ms)
{
	if (!tk || !period_ms)
		return;
	pthread_mutex_lock(&tk->lock);
	tk->period_ms = period_ms;
	tk->reset = true;
	pthread_cond_signal(&tk->cond);
	pthread_mutex_unlock(&tk->lock);
}

void mmfs_ticker_stop(struct mmfs_ticker **tkp)
{
	struct mmfs_ticker *tk = *tkp;

	if (!tk)
		return;
	pthread_mutex_lock(&tk->lock);
	tk->stop = true;
	pthread_cond_signal(&tk->cond);
	pthread_mutex_unlock(&tk->lock);
	pthread_join(tk->thread, NULL);
	pthread_cond_destroy(&tk->cond);
	pthread_mutex_destroy(&tk->lock);
	free(tk);
	*tkp = NULL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A ticker: a thread that calls a function every period, or at once when
 * kicked. The commit thread, the tiering engine and the page-cache sampler
 * are each one.
 */
#ifndef MMFS_UTILS_TICKER_H
#define MMFS_UTILS_TICKER_H

struct mmfs_ticker;

typedef void (*mmfs_tick_fn)(void *arg);

/*
 * mmfs_ticker_start -- call @fn(@arg) every @period_ms from a new thread
 * (the next period starts when a call returns). 0, -EINVAL, -ENOMEM or
 * -EAGAIN (no thread).
 */
int mmfs_ticker_start(unsigned period_ms, mmfs_tick_fn fn, void *arg,
		      struct mmfs_ticker **out);

/* mmfs_ticker_kick -- call it now (or as soon as the running call ends) */
void mmfs_ticker_kick(struct mmfs_ticker *tk);

/*
 * mmfs_ticker_set_period -- from now on, every @period_ms (> 0); the
 * current wait restarts with it (a remount's commit=)
 */
void mmfs_ticker_set_period(struct mmfs_ticker *tk, unsigned period_ms);

/*
 * mmfs_ticker_stop -- no more calls; waits for a running one to return.
 * *tk becomes NULL; a NULL ticker is fine.
 */
void mmfs_ticker_stop(struct mmfs_ticker **tk);

#endif

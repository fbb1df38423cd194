/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ticker.c -- utils/ticker: calls come every period and at once when
 * kicked; none after stop returns; bad arguments are refused. Bounds are
 * loose: the machines are shared.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "utils/ticker.h"

static void count(void *arg)
{
	atomic_fetch_add((_Atomic int *)arg, 1);
}

static void test_periodic(void **state)
{
	struct mmfs_ticker *tk = NULL;
	_Atomic int n = 0;
	int after;

	(void)state;
	assert_int_equal(mmfs_ticker_start(10, count, &n, &tk), 0);
	usleep(200 * 1000);
	mmfs_ticker_stop(&tk);
	assert_null(tk);
	after = atomic_load(&n);
	assert_true(after >= 3 && after <= 21);
	usleep(50 * 1000);
	assert_int_equal(atomic_load(&n), after); /* none after stop */
	mmfs_ticker_stop(&tk); /* NULL is fine */
}

static void test_kick(void **state)
{
	struct mmfs_ticker *tk = NULL;
	_Atomic int n = 0;
	int i;

	(void)state;
	assert_int_equal(mmfs_ticker_start(3600 * 1000, count, &n, &tk), 0);
	mmfs_ticker_kick(tk);
	for (i = 0; i < 500 && atomic_load(&n) == 0; i++)
		usleep(10 * 1000);
	assert_int_equal(atomic_load(&n), 1);
	mmfs_ticker_stop(&tk);
	assert_int_equal(mmfs_ticker_start(0, count, &n, &tk), -EINVAL);
	assert_int_equal(mmfs_ticker_start(10, NULL, &n, &tk), -EINVAL);
}

/* a new period takes effect at once, not after the old one ran out */
static void test_set_period(void **state)
{
	struct mmfs_ticker *tk = NULL;
	_Atomic int n = 0;

	(void)state;
	assert_int_equal(mmfs_ticker_start(60000, count, &n, &tk), 0);
	usleep(50 * 1000);
	assert_int_equal(atomic_load(&n), 0);
	mmfs_ticker_set_period(tk, 10);
	usleep(300 * 1000);
	assert_true(atomic_load(&n) >= 3);
	mmfs_ticker_set_period(tk, 60000);
	usleep(50 * 1000);
	n = 0;
	usleep(200 * 1000);
	assert_int_equal(atomic_load(&n), 0);
	mmfs_ticker_set_period(tk, 0); /* refused: the period stays */
	mmfs_ticker_set_period(NULL, 10);
	mmfs_ticker_stop(&tk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_periodic),
		cmocka_unit_test(test_kick),
		cmocka_unit_test(test_set_period),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

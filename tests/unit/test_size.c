/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_size -- unit tests of utils/size.c: mmfs_size_parse (plain numbers,
 * K/M/G/T/P suffixes with optional "i" and "B", fractions, rejection of
 * malformed strings, -ERANGE past UINT64_MAX), mmfs_size_parse_pct (1%..100%
 * of a total, rejection of 0%, 101% and junk) and mmfs_size_format (units,
 * buffer bounds, round trip through the parser). Expected values are
 * computed from the documented meaning (binary multiples), never copied
 * from the implementation's output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "utils/err.h"
#include "utils/size.h"

#define SENTINEL 0x5a5a5a5a5a5a5a5aULL

/* parse_ok -- (internal) assert that @s parses to @want */
static void parse_ok(const char *s, uint64_t want)
{
	uint64_t v = SENTINEL;
	int rc = mmfs_size_parse(s, &v);

	if (rc != 0 || v != want)
		print_error("parse(\"%s\"): rc=%d v=%llu, want 0 and %llu\n",
			    s, rc, (unsigned long long)v,
			    (unsigned long long)want);
	assert_int_equal(rc, 0);
	assert_int_equal(v, want);
}

/* parse_err -- (internal) assert that @s fails with @err, output untouched */
static void parse_err(const char *s, int err)
{
	uint64_t v = SENTINEL;
	int rc = mmfs_size_parse(s, &v);

	if (rc != err)
		print_error("parse(\"%s\"): rc=%d, want %d\n", s ? s : "(null)",
			    rc, err);
	assert_int_equal(rc, err);
	assert_int_equal(v, SENTINEL);
}

static void pct_ok(const char *s, uint64_t total, uint64_t want)
{
	uint64_t v = SENTINEL;
	int rc = mmfs_size_parse_pct(s, total, &v);

	if (rc != 0 || v != want)
		print_error("pct(\"%s\", %llu): rc=%d v=%llu, want %llu\n", s,
			    (unsigned long long)total, rc,
			    (unsigned long long)v, (unsigned long long)want);
	assert_int_equal(rc, 0);
	assert_int_equal(v, want);
}

static void pct_err(const char *s, uint64_t total, int err)
{
	uint64_t v = SENTINEL;
	int rc = mmfs_size_parse_pct(s, total, &v);

	if (rc != err)
		print_error("pct(\"%s\"): rc=%d, want %d\n", s ? s : "(null)",
			    rc, err);
	assert_int_equal(rc, err);
	assert_int_equal(v, SENTINEL);
}

/* --- mmfs_size_parse --- */

static void test_parse_plain(void **state)
{
	parse_ok("0", 0);
	parse_ok("1", 1);
	parse_ok("4096", 4096);
	parse_ok("000123", 123);
	parse_ok("1000000000000", 1000000000000ULL);
	parse_ok("9223372036854775808", 1ULL << 63);
	/* A bare "B" means bytes. */
	parse_ok("512B", 512);
	parse_ok("512b", 512);
}

static void test_parse_suffixes(void **state)
{
	static const struct {
		char letter;
		unsigned shift;
	} units[] = {
		{ 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 }, { 'P', 50 },
	};
	static const char *const tails[] = {
		"", "i", "I", "B", "b", "iB", "ib", "IB",
	};
	size_t u, t;

	for (u = 0; u < MMFS_ARRAY_SIZE(units); u++) {
		for (t = 0; t < MMFS_ARRAY_SIZE(tails); t++) {
			char s[32];
			char lower = (char)(units[u].letter - 'A' + 'a');

			snprintf(s, sizeof(s), "7%c%s", units[u].letter,
				 tails[t]);
			parse_ok(s, 7ULL << units[u].shift);
			snprintf(s, sizeof(s), "7%c%s", lower, tails[t]);
			parse_ok(s, 7ULL << units[u].shift);
			snprintf(s, sizeof(s), "1%c%s", units[u].letter,
				 tails[t]);
			parse_ok(s, 1ULL << units[u].shift);
		}
	}
	parse_ok("64K", 65536);
	parse_ok("8G", 8ULL << 30);
	parse_ok("0K", 0);
}

static void test_parse_fractions(void **state)
{
	parse_ok("1.5G", 3ULL << 29);
	parse_ok("0.5K", 512);
	parse_ok("2.25M", 9ULL << 18);
	parse_ok("1.5T", 3ULL << 39);
	parse_ok("1.75PiB", 7ULL << 48);
	parse_ok("0.125k", 128);
	parse_ok("10.0G", 10ULL << 30);
	parse_ok("16383.5P", (16383ULL << 50) + (1ULL << 49));
}

/*
 * A fraction that is an exact multiple of 1/2^n, n <= shift, names a whole
 * number of bytes: the parser must return exactly that number ("0.015625K"
 * is 16 bytes), not one less because of accumulated rounding.
 */
/* fraction_exact -- (internal) does "<ip>.<k/2^n><unit>" parse exactly? */
static bool fraction_exact(unsigned ip, unsigned k, unsigned n, char unit,
			   unsigned shift, bool verbose)
{
	char frac[32], s[48];
	uint64_t want, v = 0;

	/* k / 2^n has exactly n decimals. */
	snprintf(frac, sizeof(frac), "%.*f", (int)n, (double)k / (1u << n));
	snprintf(s, sizeof(s), "%u%s%c", ip, strchr(frac, '.'), unit);
	want = ((uint64_t)ip << shift) + ((uint64_t)k << (shift - n));
	if (mmfs_size_parse(s, &v) == 0 && v == want)
		return true;
	if (verbose)
		print_error("parse(\"%s\") = %llu, want %llu\n", s,
			    (unsigned long long)v, (unsigned long long)want);
	return false;
}

static void test_parse_fraction_exact(void **state)
{
	static const struct {
		char letter;
		unsigned shift;
	} units[] = { { 'K', 10 }, { 'M', 20 }, { 'G', 30 } };
	unsigned bad = 0;
	unsigned ip, n, k;
	size_t u;

	for (u = 0; u < MMFS_ARRAY_SIZE(units); u++)
		for (ip = 0; ip < 4; ip++)
			for (n = 1; n <= 8; n++)
				for (k = 1; k < (1u << n); k += 2)
					bad += !fraction_exact(ip, k, n,
							       units[u].letter,
							       units[u].shift,
							       bad < 6);
	assert_int_equal(bad, 0);
}

static void test_parse_reject(void **state)
{
	static const char *const bad[] = {
		"", "-1", "12Q", "1.", "G", "K", "B", "iB", ".5K", "+1", " 1",
		"1 ", "1 K", "1KK", "1iiB", "1Ki B", "1BB", "1iB", "1.5.5",
		"1..5", "0x10", "1e3", "1,5K", "1KiBx", "%", "50%",
	};
	size_t i;

	for (i = 0; i < MMFS_ARRAY_SIZE(bad); i++)
		parse_err(bad[i], -EINVAL);
	parse_err(NULL, -EINVAL);
}

static void test_parse_overflow(void **state)
{
	/* 2^64 and beyond, spelled in every way that reaches it. */
	parse_err("18446744073709551616", -ERANGE);
	parse_err("99999999999999999999", -ERANGE);
	parse_err("123456789012345678901234567890", -ERANGE);
	parse_err("16384P", -ERANGE);
	parse_err("16777216T", -ERANGE);
	parse_err("17179869184G", -ERANGE);
	parse_err("17592186044416M", -ERANGE);
	parse_err("18014398509481984K", -ERANGE);
	parse_err("16384.5P", -ERANGE);
}

static void test_parse_near_max(void **state)
{
	uint64_t v = 0;

	/* Just under 2^64: must fit, and stay above 16383P. */
	assert_int_equal(mmfs_size_parse("16383.99999999P", &v), 0);
	assert_true(v > (16383ULL << 50) + (1ULL << 49));
}

/*
 * The largest representable values must parse: the contract is -ERANGE
 * only *past* UINT64_MAX.
 */
static void test_parse_max_boundary(void **state)
{
	parse_ok("16383P", 16383ULL << 50);
	parse_ok("16777215T", 16777215ULL << 40);
	parse_ok("18446744073709551614", UINT64_MAX - 1);
	parse_ok("18446744073709551615", UINT64_MAX);
}

/* --- mmfs_size_parse_pct --- */

static void test_pct_range(void **state)
{
	unsigned p;

	/* total = 100 * k makes every whole percentage exact. */
	for (p = 1; p <= 100; p++) {
		char s[8];

		snprintf(s, sizeof(s), "%u%%", p);
		pct_ok(s, 100, p);
		pct_ok(s, 100ULL * 12345, (uint64_t)p * 12345);
		pct_ok(s, 0, 0);
	}
	pct_ok("50%", 8ULL << 30, 4ULL << 30);
	pct_ok("100%", 1000000007, 1000000007);
	pct_ok("0.5%", 1000, 5);
	pct_ok("12.5%", 8ULL << 30, 1ULL << 30);
	/* 1% of 99 is 0.99 bytes: rounded down, never up past the share. */
	pct_ok("1%", 99, 0);
}

static void test_pct_plain_sizes(void **state)
{
	/* Without "%", it is an absolute size whatever the total. */
	pct_ok("64K", 1, 65536);
	pct_ok("1.5G", 0, 3ULL << 29);
	pct_ok("100", 7, 100);
	pct_err("12Q", 100, -EINVAL);
	pct_err("16384P", 100, -ERANGE);
}

static void test_pct_reject(void **state)
{
	static const char *const bad[] = {
		"0%", "0.0%", "101%", "100.5%", "200%", "50%%", "%", "-5%",
		"5 %", "%5", "5%K", "5K%", "", "1.%", ".5%", "50 %", "x%",
	};
	size_t i;

	for (i = 0; i < MMFS_ARRAY_SIZE(bad); i++)
		pct_err(bad[i], 1ULL << 30, -EINVAL);
	pct_err(NULL, 100, -EINVAL);
}

/* 100% is the whole total, for every total (tmpfs size=100%). */
static void test_pct_whole_total(void **state)
{
	static const uint64_t totals[] = {
		1, 4096, 64ULL << 30, (1ULL << 53) + 1, 1ULL << 62,
		UINT64_MAX - 1, UINT64_MAX,
	};
	unsigned bad = 0;
	size_t i;

	for (i = 0; i < MMFS_ARRAY_SIZE(totals); i++) {
		uint64_t v = 0;

		if (mmfs_size_parse_pct("100%", totals[i], &v) == 0 &&
		    v == totals[i])
			continue;
		print_error("100%% of %llu = %llu\n",
			    (unsigned long long)totals[i],
			    (unsigned long long)v);
		bad++;
	}
	assert_int_equal(bad, 0);
}

/* --- mmfs_size_format --- */

static void fmt_is(uint64_t bytes, const char *want)
{
	char buf[32];

	memset(buf, 'x', sizeof(buf));
	mmfs_size_format(bytes, buf, 16);
	assert_string_equal(buf, want);
}

static void test_format_units(void **state)
{
	fmt_is(0, "0B");
	fmt_is(1, "1B");
	fmt_is(1023, "1023B");
	fmt_is(1024, "1.0K");
	fmt_is(1536, "1.5K");
	fmt_is(64ULL << 10, "64.0K");
	fmt_is(3ULL << 29, "1.5G");
	fmt_is(5ULL << 40, "5.0T");
	fmt_is(1ULL << 50, "1.0P");
	/* P is the largest unit: it never rolls over to a made-up one. */
	fmt_is(1ULL << 60, "1024.0P");
}

static void test_format_bounds(void **state)
{
	static const uint64_t vals[] = {
		0, 999, 1023, 1048575, UINT64_MAX / 3, UINT64_MAX,
	};
	char buf[32];
	size_t i;

	/* The documented 16 bytes are enough for any value. */
	for (i = 0; i < MMFS_ARRAY_SIZE(vals); i++) {
		memset(buf, 'x', sizeof(buf));
		mmfs_size_format(vals[i], buf, 16);
		assert_true(memchr(buf, '\0', 16) != NULL);
		assert_in_range(strlen(buf), 2, 15);
	}
	/* A short buffer is truncated, still terminated, never overrun. */
	memset(buf, 'x', sizeof(buf));
	mmfs_size_format(1536, buf, 3);
	assert_int_equal(strlen(buf), 2);
	assert_int_equal(buf[3], 'x');
}

/* The printed form parses back to within the 0.05-unit rounding. */
static void test_format_roundtrip(void **state)
{
	uint64_t v = 1;
	unsigned i;

	for (i = 0; i < 600; i++) {
		char buf[16];
		uint64_t back = 0;
		double err;

		mmfs_size_format(v, buf, sizeof(buf));
		assert_int_equal(mmfs_size_parse(buf, &back), 0);
		err = back > v ? (double)(back - v) : (double)(v - back);
		/* 0.05 of a unit is at most 5% of a value >= 1 unit. */
		if (err > (double)v * 0.05 + 1)
			fail_msg("%llu -> \"%s\" -> %llu",
				 (unsigned long long)v, buf,
				 (unsigned long long)back);
		v = v * 7 / 6 + 1;
		if (v > (UINT64_MAX >> 8))
			break;
	}
	assert_true(i > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_plain),
		cmocka_unit_test(test_parse_suffixes),
		cmocka_unit_test(test_parse_fractions),
		cmocka_unit_test(test_parse_fraction_exact),
		cmocka_unit_test(test_parse_reject),
		cmocka_unit_test(test_parse_overflow),
		cmocka_unit_test(test_parse_near_max),
		cmocka_unit_test(test_parse_max_boundary),
		cmocka_unit_test(test_pct_range),
		cmocka_unit_test(test_pct_plain_sizes),
		cmocka_unit_test(test_pct_reject),
		cmocka_unit_test(test_pct_whole_total),
		cmocka_unit_test(test_format_units),
		cmocka_unit_test(test_format_bounds),
		cmocka_unit_test(test_format_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

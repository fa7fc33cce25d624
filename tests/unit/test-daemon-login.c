/* Unit tests for the brute-force limits of daemon/auth.c: counters per (user, address) and per address
 * in keyed tables, turns past the limits, no eviction of a counter past its limit. Time is passed in. */
#include "daemon/core/auth-internal.h"
#include "tests/unit/test.h"

#define T0 1000000 /* ms: any start */

static pved_login_limits *limits(void)
{
	_cleanup_error_ pve_error *err = NULL;
	pved_login_limits *l = pved_login_limits_new(60, &err);
	check(l != NULL);
	if (!l)
		abort();
	return l;
}

static void fail_n(pved_login_limits *l, const char *user, const char *addr, int n, uint64_t now)
{
	for (int i = 0; i < n; i++)
		pved_login_limits_failed(l, user, addr, now);
}

/* Past the limit an attempt waits for its turn, turns 1, 2, 4 ... s apart; an attempt whose turn would
 * come more than a minute ahead is refused and takes none; the counter ends with its window. */
static void turns(void)
{
	pved_login_limits *l = limits();
	uint64_t now = T0;
	check_int(pved_login_limits_delay(l, "admin@pve", "127.0.0.1", now), 0);
	fail_n(l, "admin@pve", "127.0.0.1", PVED_LOGIN_FAIL_MAX_USER - 1, now);
	check(!pved_login_limits_over(l, "admin@pve", "127.0.0.1", now));
	check_int(pved_login_limits_delay(l, "admin@pve", "127.0.0.1", now), 0);
	fail_n(l, "admin@pve", "127.0.0.1", 1, now);
	check(pved_login_limits_over(l, "admin@pve", "127.0.0.1", now));
	/* the same user elsewhere, and another user here, are not slowed down */
	check_int(pved_login_limits_delay(l, "admin@pve", "127.0.0.2", now), 0);
	check_int(pved_login_limits_delay(l, "bob@pve", "127.0.0.1", now), 0);
	/* attempts at once queue: 1 s, then 2 s after that, 4 s ... up to 30 s apart */
	check_int(pved_login_limits_delay(l, "admin@pve", "127.0.0.1", now), 1000);
	check_int(pved_login_limits_delay(l, "admin@pve", "127.0.0.1", now), 3000);
	check_int(pved_login_limits_delay(l, "admin@pve", "127.0.0.1", now), 7000);
	check_int(pved_login_limits_delay(l, "admin@pve", "127.0.0.1", now), 15000);
	check_int(pved_login_limits_delay(l, "admin@pve", "127.0.0.1", now), 31000);
	check_int(pved_login_limits_delay(l, "admin@pve", "127.0.0.1", now), 61000);
	/* the next turn would start more than 60 s ahead: refused, and no turn is taken */
	check_int(pved_login_limits_delay(l, "admin@pve", "127.0.0.1", now), -1);
	check_int(pved_login_limits_delay(l, "admin@pve", "127.0.0.1", now + 1000), 90000);
	/* the counter outlives its window while turns are pending, then ends */
	check(pved_login_limits_over(l, "admin@pve", "127.0.0.1", now + 70000));
	check(!pved_login_limits_over(l, "admin@pve", "127.0.0.1", now + 92000));
	check_int(pved_login_limits_delay(l, "admin@pve", "127.0.0.1", now + 92000), 0);
	pved_login_limits_free(l);
}

/* A success forgets the pair's failures, not the address's. */
static void success(void)
{
	pved_login_limits *l = limits();
	fail_n(l, "admin@pve", "127.0.0.1", PVED_LOGIN_FAIL_MAX_USER, T0);
	fail_n(l, "bob@pve", "127.0.0.1", PVED_LOGIN_FAIL_MAX_CLIENT - PVED_LOGIN_FAIL_MAX_USER,
	       T0);
	check(pved_login_limits_over(l, "carol@pve", "127.0.0.1", T0)); /* the address */
	pved_login_limits_succeeded(l, "admin@pve", "127.0.0.1");
	check(pved_login_limits_over(l, "carol@pve", "127.0.0.1", T0));
	check(!pved_login_limits_over(l, "admin@pve", "127.0.0.2", T0));
	pved_login_limits_free(l);
}

/* An IPv6 client holds its /64: its addresses count together. */
static void ipv6_prefix(void)
{
	pved_login_limits *l = limits();
	for (int i = 0; i < PVED_LOGIN_FAIL_MAX_CLIENT; i++) {
		_cleanup_free_ char *a = xasprintf("2001:db8:1:2::%x", i + 1);
		pved_login_limits_failed(l, "admin@pve", a, T0);
	}
	check(pved_login_limits_over(l, "nobody@pve", "2001:db8:1:2:ffff::1", T0));
	check(!pved_login_limits_over(l, "nobody@pve", "2001:db8:1:3::1", T0));
	check(!pved_login_limits_over(l, "nobody@pve", "127.0.0.1", T0));
	pved_login_limits_free(l);
}

/* Floods of failures from elsewhere never evict a counter past its limit (the old table evicted the
 * oldest live counter: 8 names meeting admin's slot reset it). */
static void no_eviction(void)
{
	pved_login_limits *l = limits();
	fail_n(l, "admin@pve", "127.0.0.1", PVED_LOGIN_FAIL_MAX_USER, T0);
	for (int i = 0; i < 4 * (PVED_LOGIN_PAIR_SLOTS + PVED_LOGIN_ADDR_SLOTS); i++) {
		char user[32], addr[32];
		snprintf(user, sizeof(user), "u%d@pve", i);
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255,
			 i & 255);
		pved_login_limits_failed(l, user, addr, T0 + 1);
	}
	check(pved_login_limits_over(l, "admin@pve", "127.0.0.1", T0 + 2));
	check_int(pved_login_limits_delay(l, "admin@pve", "127.0.0.1", T0 + 2), 1000);
	pved_login_limits_free(l);
}

/* Every pair slot past its limit: a new pair's failures still count for its address. */
static void full_table(void)
{
	pved_login_limits *l = limits();
	for (int i = 0; i < 3 * PVED_LOGIN_PAIR_SLOTS; i++) {
		char user[32], addr[32];
		snprintf(user, sizeof(user), "u%d@pve", i);
		snprintf(addr, sizeof(addr), "10.0.%d.%d", (i >> 8) & 255, i & 255);
		fail_n(l, user, addr, PVED_LOGIN_FAIL_MAX_USER, T0);
	}
	/* the table is full of counters past their limits: the first ones stayed */
	check(pved_login_limits_over(l, "u0@pve", "10.0.0.0", T0));
	/* a new pair finds no slot: past the pair limit it is not over it ... */
	fail_n(l, "mallory@pve", "192.0.2.1", PVED_LOGIN_FAIL_MAX_USER, T0);
	check(!pved_login_limits_over(l, "mallory@pve", "192.0.2.1", T0));
	/* ... but its failures count for its address */
	fail_n(l, "mallory@pve", "192.0.2.1", PVED_LOGIN_FAIL_MAX_CLIENT - PVED_LOGIN_FAIL_MAX_USER,
	       T0);
	check(pved_login_limits_over(l, "anyone@pve", "192.0.2.1", T0));
	check_int(pved_login_limits_delay(l, "anyone@pve", "192.0.2.1", T0), 1000);
	/* others are not slowed down */
	check_int(pved_login_limits_delay(l, "admin@pve", "192.0.2.2", T0), 0);
	pved_login_limits_free(l);
}

TEST_MAIN(TEST(turns), TEST(success), TEST(ipv6_prefix), TEST(no_eviction), TEST(full_table))

/* The unit-test harness: each test-*.c lists its cases; each case prints one line the runner counts:
 * "ok NAME", "FAIL NAME: where: what" or "skip NAME: why". */
#pragma once

#include "common/common.h"

struct test_case {
	const char *name;
	void (*fn)(void);
};

/* Fails the running case (it goes on, so one run shows every broken check) and says where. */
#define check(expr)                                                               \
	do {                                                                      \
		if (!(expr))                                                      \
			test_fail(__FILE__, __LINE__, "check failed: %s", #expr); \
	} while (0)
#define check_streq(a, b)                                                                  \
	do {                                                                               \
		const char *_a_ = (a), *_b_ = (b);                                         \
		if (!_a_ || !_b_ || strcmp(_a_, _b_) != 0)                                 \
			test_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a, \
				  _a_ ? _a_ : "(null)", _b_ ? _b_ : "(null)");             \
	} while (0)
#define check_int(a, b)                                                                           \
	do {                                                                                      \
		long long _a_ = (long long)(a), _b_ = (long long)(b);                             \
		if (_a_ != _b_)                                                                   \
			test_fail(__FILE__, __LINE__, "%s == %lld, expected %lld", #a, _a_, _b_); \
	} while (0)

void test_fail(const char *file, int line, const char *fmt, ...) _printf_(3, 4);
/* Marks the running case skipped, with the reason; call it and return. */
void test_skip(const char *fmt, ...) _printf_(1, 2);
/* A temporary directory for the running case, removed when the case ends. */
const char *test_tmpdir(void);
int test_main(int argc, char **argv, const struct test_case *cases, size_t n);

#define TEST_MAIN(...)                                                    \
	int main(int argc, char **argv)                                   \
	{                                                                 \
		static const struct test_case cases_[] = { __VA_ARGS__ }; \
		return test_main(argc, argv, cases_, ELEMENTSOF(cases_)); \
	}
#define TEST(fn)        \
	{               \
#fn, fn \
	}

/* Regular expressions of the schema, matched with PCRE2: Proxmox's patterns are Perl's, and PCRE2 gives
 * them Perl's meaning without any translation. Compiled patterns are kept: they come from the route table
 * and the named formats, a fixed set of constants, and compiling one costs far more than matching it. The
 * cache is the one piece of shared state in common/, hence the lock. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>

#include "common/schema-internal.h"

#define REGEX_CACHE_SIZE 256
/* Backtracking on client input is bounded: a pattern that needs more gives up, and the value fails. */
#define MATCH_LIMIT 100000

typedef struct regex_slot {
	char *pattern;
	bool icase;
	pcre2_code *re;
} regex_slot;

static struct {
	pthread_mutex_t lock;
	regex_slot slots[REGEX_CACHE_SIZE];
	size_t n;
	pcre2_match_context *mctx;
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The whole value must match. Proxmox writes m/^$pattern$/, which anchors only the first and the last
 * alternative of a pattern with a top-level '|' (three of its patterns, "...|none" among them, then let
 * "acl;junk" through): the pattern is anchored as a group instead. And '$' matches only at the very end
 * (PCRE2_DOLLAR_ENDONLY): Perl lets a value end in a newline, which would then reach a config file. */
static pcre2_code *compile(const char *pattern, bool icase)
{
	_cleanup_free_ char *anchored = xasprintf("^(?:%s)$", pattern);
	int code;
	PCRE2_SIZE off;
	uint32_t opts = PCRE2_DOLLAR_ENDONLY | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF |
			(icase ? PCRE2_CASELESS : 0);
	pcre2_code *re =
		pcre2_compile((PCRE2_SPTR)anchored, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
	if (re)
		pcre2_jit_compile(
			re, PCRE2_JIT_COMPLETE); /* where JIT is available; else interpreted */
	return re;
}

int schema_regex_match(const char *pattern, bool icase, const char *value)
{
	pthread_mutex_lock(&cache.lock);
	if (!cache.mctx) {
		cache.mctx = pcre2_match_context_create(NULL);
		pcre2_set_match_limit(cache.mctx, MATCH_LIMIT);
	}
	regex_slot *slot = NULL;
	for (size_t i = 0; i < cache.n; i++)
		if (cache.slots[i].icase == icase && strcmp(cache.slots[i].pattern, pattern) == 0) {
			slot = &cache.slots[i];
			break;
		}
	pcre2_code *re = slot ? slot->re : compile(pattern, icase);
	if (!re) {
		pthread_mutex_unlock(&cache.lock);
		return -EINVAL;
	}
	/* A full cache still answers, compiling per call: patterns in the table are far fewer. */
	if (!slot && cache.n < REGEX_CACHE_SIZE)
		slot = &cache.slots[cache.n++], *slot = (regex_slot){ xstrdup(pattern), icase, re };
	pthread_mutex_unlock(&cache.lock);

	/* A compiled pattern is read-only: matching needs no lock, only its own match data. */
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	if (!md)
		abort();
	int rc = pcre2_match(re, (PCRE2_SPTR)value, strlen(value), 0, 0, md, cache.mctx);
	pcre2_match_data_free(md);
	if (!slot)
		pcre2_code_free(re);
	return rc >= 0 ? 1 : 0;
}

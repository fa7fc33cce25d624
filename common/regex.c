/* Compiled regular expressions of the schema, kept: the patterns come from the route table and the
 * named formats, a fixed set of constants, and compiling one costs far more than matching it (it was
 * most of a request's time). The cache is the one piece of shared state in common/, hence the lock. */
#include <pthread.h>
#include <regex.h>

#include "common/schema-internal.h"

#define REGEX_CACHE_SIZE 256

typedef struct regex_slot {
	char *ere;
	int flags;
	regex_t re;
} regex_slot;

static struct {
	pthread_mutex_t lock;
	regex_slot slots[REGEX_CACHE_SIZE];
	size_t n;
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

int schema_regex_match(const char *ere, bool icase, const char *value)
{
	int flags = REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0);
	pthread_mutex_lock(&cache.lock);
	regex_slot *slot = NULL;
	for (size_t i = 0; i < cache.n; i++)
		if (cache.slots[i].flags == flags && strcmp(cache.slots[i].ere, ere) == 0) {
			slot = &cache.slots[i];
			break;
		}
	regex_t once;
	regex_t *re = slot ? &slot->re : &once;
	if (!slot) {
		if (regcomp(&once, ere, flags) != 0) {
			pthread_mutex_unlock(&cache.lock);
			return -EINVAL;
		}
		/* A full cache still answers, compiling per call: patterns in the table are far fewer. */
		if (cache.n < REGEX_CACHE_SIZE) {
			slot = &cache.slots[cache.n++];
			slot->ere = xstrdup(ere);
			slot->flags = flags;
			slot->re = once;
			re = &slot->re;
		}
	}
	int r = regexec(re, value, 0, NULL, 0) == 0;
	if (!slot)
		regfree(&once);
	pthread_mutex_unlock(&cache.lock);
	return r;
}

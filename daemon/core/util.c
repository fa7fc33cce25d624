/* Small helpers of pved: paths under the node's root, reading small system files. */
#include "daemon/core/pved.h"

char *pved_path(const pved *d, const char *rel)
{
	while (*rel == '/')
		rel++;
	size_t n = strlen(d->root);
	if (n > 0 && d->root[n - 1] == '/')
		return xasprintf("%s%s", d->root, rel);
	return xasprintf("%s/%s", d->root, rel);
}

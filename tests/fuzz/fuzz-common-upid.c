/* Fuzzes UPID parsing (common/upid.c): a task ID comes back from clients in URLs and is read from task
 * index files. What parses must format back to a UPID that parses to the same fields, and a failure
 * must say why. */
#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	_cleanup_free_ char *s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	pve_upid u, again;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_upid_parse(s, &u, &err) < 0) {
		if (!err || !err->message[0])
			abort();
		return 0;
	}
	_cleanup_free_ char *f = pve_upid_format(&u);
	if (pve_upid_parse(f, &again, NULL) < 0 || memcmp(&u, &again, sizeof(u)) != 0)
		abort();
	/* Case of the hex digits aside, the text is the same. */
	if (strcasecmp(f, s) != 0 && strlen(s) == strlen(f))
		abort();
	return 0;
}

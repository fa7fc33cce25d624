/* Fuzz target: bytes from a client on the SPICE proxy's port: pved-api's HTTP parser (with its
 * limits), in pieces, and the CONNECT's target taken from what it parsed (pved checks the ticket in
 * it: fuzz-access-ticket). */
#include "front/front-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* The first byte picks the piece size, so splits at every place get tried. */
	size_t step = data[0] ? data[0] : size;
	const char *in = (const char *)data + 1;
	size_t len = size - 1, off = 0;
	pve_http_parser *p = pve_http_parser_new();
	pve_http_request *r = NULL;
	while (off < len && !r) {
		size_t n = len - off < step ? len - off : step;
		int status = 0;
		pve_error *err = NULL;
		ssize_t used = pve_http_parser_feed(p, in + off, n, &r, &status, &err);
		pve_error_free(err);
		if (used < 0 || (used == 0 && !r))
			break;
		off += (size_t)used;
	}
	if (r) {
		char *target = NULL;
		int status = 0;
		if (pve_spice_connect_target(r, &target, &status, NULL) == 0) {
			if (!target[0] || strlen(target) > PVE_SPICE_CONNECT_MAX ||
			    strpbrk(target, " \r\n\t"))
				abort();
			free(target);
		} else if (status != 400 && status != 501) {
			abort();
		}
		pve_http_request_free(r);
	}
	pve_http_parser_free(p);
	return 0;
}

/* Fuzz target: bytes from a client into pved-api's HTTP parser (with its limits), in pieces, through
 * every pipelined request, and each request on through classification and parameter decoding, and
 * as the SPICE proxy's port takes it (its CONNECT's target; pved checks the ticket in it:
 * fuzz-access-ticket). */
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
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		pve_http_request *r = NULL;
		int status = 0;
		pve_error *err = NULL;
		ssize_t used = pve_http_parser_feed(p, in + off, n, &r, &status, &err);
		pve_error_free(err);
		if (used < 0) {
			if (status != 400 && status != 413 && status != 414 && status != 431)
				abort();
			break;
		}
		off += (size_t)used;
		if (r) {
			char *rest = NULL;
			int t = pve_front_classify(r->url, &rest, NULL);
			if (t == PVE_FRONT_API || t == PVE_FRONT_EXTJS) {
				pve_request *req = NULL;
				if (pve_front_build_request(r, rest, "127.0.0.1", &req, NULL) ==
				    0) {
					char *payload = NULL;
					size_t plen = 0;
					if (pve_request_encode(req, &payload, &plen, NULL) == 0)
						free(payload);
					pve_request_free(req);
				}
			}
			(void)pve_http_is_websocket(r);
			char *target = NULL;
			int st = 0;
			if (pve_spice_connect_target(r, &target, &st, NULL) == 0) {
				if (!target[0] || strlen(target) > PVE_SPICE_CONNECT_MAX ||
				    strpbrk(target, " \r\n\t"))
					abort();
				free(target);
			} else if (st != 400 && st != 501) {
				abort();
			}
			free(rest);
			pve_http_request_free(r);
		} else if (used == 0) {
			break;
		}
	}
	pve_http_parser_free(p);
	return 0;
}

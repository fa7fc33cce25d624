/* Fuzz target: frames and request payloads as pved reads them from the unprivileged front: responses,
 * requests, an upload's form frames and window grants. */
#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= PVE_WIRE_HEADER_SIZE) {
		pve_wire_header h;
		pve_error *err = NULL;
		if (pve_wire_header_decode(data, &h, &err) == 0 && h.type == PVE_WIRE_RESPONSE) {
			int status;
			char *reason = NULL;
			const char *body;
			size_t blen;
			uint64_t total;
			if (pve_wire_response_decode(data + PVE_WIRE_HEADER_SIZE,
						     size - PVE_WIRE_HEADER_SIZE, h.flags, &status,
						     &reason, &total, &body, &blen, NULL) == 0)
				free(reason);
		}
		/* The frames of an upload's form and window grants, as pved decodes them. */
		const uint8_t *p = data + PVE_WIRE_HEADER_SIZE;
		size_t n = size - PVE_WIRE_HEADER_SIZE;
		char *a = NULL, *b = NULL, *c = NULL;
		if (pve_wire_field_decode(p, n, &a, &b, NULL) == 0) {
			if (!pve_utf8_valid(a, strlen(a)) || !pve_utf8_valid(b, strlen(b)))
				abort();
			free(a);
			free(b);
		}
		a = b = NULL;
		if (pve_wire_file_decode(p, n, &a, &b, &c, NULL) == 0) {
			free(a);
			free(b);
			free(c);
		}
		uint32_t grant;
		(void)pve_wire_window_decode(p, n, &grant, NULL);
		pve_error_free(err);
	}
	pve_request *r = NULL;
	pve_error *err = NULL;
	if (pve_request_decode(data, size, &r, &err) == 0) {
		char *payload = NULL;
		size_t len;
		if (pve_request_encode(r, &payload, &len, NULL) == 0)
			free(payload);
		pve_request_free(r);
	}
	pve_error_free(err);
	return 0;
}

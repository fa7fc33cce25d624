/* Fuzz target: pved-api's decoders of untrusted strings: query and form strings, JSON bodies, cookies,
 * Authorization headers, request targets, reason phrases, Accept-Encoding and websocket keys. */
#include "front/front-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* The decoders take C strings (a NUL-free header or URL); the bodies take bytes. */
	char *s = xstrndup((const char *)data + 1, size - 1);
	size_t len = size - 1;
	switch (data[0] % 8) {
	case 0: {
		cJSON *o = cJSON_CreateObject();
		/* Whatever passes holds only UTF-8 strings. */
		if (pve_params_parse_urlencoded((const char *)data + 1, len, o, NULL) == 0) {
			char *t = cJSON_PrintUnformatted(o);
			if (!t || !pve_utf8_valid(t, strlen(t)))
				abort();
			free(t);
		}
		cJSON_Delete(o);
		break;
	}
	case 1: {
		cJSON *o = NULL;
		if (pve_params_parse_json((const char *)data + 1, len, &o, NULL) == 0)
			cJSON_Delete(o);
		break;
	}
	case 2:
		free(pve_cookie_get(s, "PVEAuthCookie"));
		break;
	case 3: {
		char *ticket = NULL, *token = NULL;
		pve_auth_header_parse(s, &ticket, &token);
		free(ticket);
		free(token);
		break;
	}
	case 4: {
		char *rest = NULL;
		if (pve_front_classify(s, &rest, NULL) >= 0) {
			/* A decoded path never holds a control character. */
			for (const char *p = rest; *p; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					abort();
			free(rest);
		}
		break;
	}
	case 5: {
		char *r = pve_http_reason_sanitize(200, s);
		/* Printable ASCII only, whatever the client sent. */
		for (const char *p = r; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				abort();
		if (strlen(r) > 256)
			abort();
		free(r);
		break;
	}
	case 6:
		(void)pve_http_accepts_gzip(s);
		free(pve_http_websocket_accept(s));
		break;
	case 7: {
		char *d = NULL;
		if (pve_front_uri_decode((const char *)data + 1, len, true, true, &d, NULL) == 0)
			free(d);
		char *e = pve_http_extjs_body(400, s, (const char *)data + 1, len);
		free(e);
		break;
	}
	}
	free(s);
	return 0;
}

/* Fuzzes the HTTPS client's response parser (client/http.c), which reads what any server given to
 * `pvectl --url` or a cluster pved joins answers. The first byte splits the input into two reads, as TLS records would; then
 * the connection closes. Fed whole or in pieces, the result must be the same, and a complete
 * response must hold a status from 100 to 599 and a body within the limit; parsed as a stream, the
 * headers kept must be the same too. */
#include "client/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BODY (64u << 10)

static int feed_all(pve_client_http *h, const char *in, size_t len, size_t split)
{
	int r = 0;
	/* Each piece in a buffer of its own, so ASan sees any read past it. */
	if (split > 0) {
		_cleanup_free_ char *a = xmalloc(split);
		memcpy(a, in, split);
		r = pve_client_http_feed(h, a, split, NULL);
	}
	if (r == 0 && len > split) {
		_cleanup_free_ char *b = xmalloc(len - split);
		memcpy(b, in + split, len - split);
		r = pve_client_http_feed(h, b, len - split, NULL);
	}
	if (r == 0)
		r = pve_client_http_feed(h, NULL, 0, NULL);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1 << 20))
		return 0;
	const char *in = (const char *)data + 1;
	size_t len = size - 1, split = len ? data[0] % (len + 1) : 0;
	pve_client_http whole, pieces;
	pve_client_http_init(&whole, MAX_BODY);
	pve_client_http_init(&pieces, MAX_BODY);
	int r1 = feed_all(&whole, in, len, 0);
	int r2 = feed_all(&pieces, in, len, split);
	if (r1 == 0 || r1 != r2)
		abort();
	if (r1 == 1) {
		if (whole.status < 100 || whole.status > 599 || whole.body.len > MAX_BODY ||
		    whole.status != pieces.status || whole.body.len != pieces.body.len ||
		    (whole.body.len && memcmp(whole.body.data, pieces.body.data, whole.body.len)))
			abort();
	}
	pve_client_http_clear(&whole);
	pve_client_http_clear(&pieces);

	/* Streamed (a forwarded file answer): the same headers kept, whole or in pieces. */
	pve_client_http_init_stream(&whole);
	pve_client_http_init_stream(&pieces);
	r1 = feed_all(&whole, in, len, 0);
	r2 = feed_all(&pieces, in, len, split);
	if (r1 == 0 || r1 != r2 || whole.head_done != pieces.head_done)
		abort();
	if (whole.head_done &&
	    (whole.headers.len != pieces.headers.len ||
	     (whole.headers.len &&
	      memcmp(whole.headers.data, pieces.headers.data, whole.headers.len))))
		abort();
	/* a value found ends within what was kept */
	const char *v = pve_client_http_header(&whole, "Content-Type");
	if (v &&
	    (v < whole.headers.data || v + strlen(v) >= whole.headers.data + whole.headers.len))
		abort();
	pve_client_http_clear(&whole);
	pve_client_http_clear(&pieces);
	return 0;
}

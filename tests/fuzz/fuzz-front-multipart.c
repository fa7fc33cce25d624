/* Fuzz target: the multipart/form-data parser of uploads, fed the input in pieces whose sizes the input
 * chooses, and the Content-Type boundary parser. Input: one byte of split size, then a body whose
 * boundary is "XyZ" (the samples), or, with the first byte's top bit set, a Content-Type value. */
#include "front/front-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_begin(void *ud, const char *name, const char *filename, const char *ctype,
		    pve_error **err)
{
	(void)ud, (void)err;
	/* Touch the strings: the sanitizers catch a bad pointer. */
	return (int)(strlen(name) + (filename ? strlen(filename) : 0) +
		     (ctype ? strlen(ctype) : 0)) *
	       0;
}

static int on_data(void *ud, const void *d, size_t len, pve_error **err)
{
	(void)err;
	size_t *total = ud;
	const volatile uint8_t *p = d;
	if (len)
		(void)p[len - 1];
	*total += len;
	return 0;
}

static int on_end(void *ud, pve_error **err)
{
	(void)ud, (void)err;
	return 0;
}

static const pve_multipart_callbacks cbs = { on_begin, on_data, on_end };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 0x80) {
		char *ct = xstrndup((const char *)data + 1, size - 1);
		char *b = NULL;
		if (pve_multipart_boundary(ct, &b, NULL) == 0) {
			if (!b || strlen(b) == 0 || strlen(b) > PVE_MULTIPART_MAX_BOUNDARY)
				abort();
			pve_multipart_free(pve_multipart_new(b, &cbs, NULL));
		}
		free(b);
		free(ct);
		return 0;
	}
	size_t split = (size_t)(data[0] & 0x7f) + 1;
	size_t total = 0;
	pve_multipart *m = pve_multipart_new("XyZ", &cbs, &total);
	int r = 0;
	for (size_t off = 1; r == 0 && off < size;) {
		size_t n = size - off < split ? size - off : split;
		r = pve_multipart_feed(m, data + off, n, NULL);
		off += n;
	}
	if (r == 0)
		pve_multipart_finish(m, NULL);
	if (total > size)
		abort(); /* content never exceeds what came in */
	pve_multipart_free(m);
	return 0;
}

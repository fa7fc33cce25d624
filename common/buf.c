/* Growable byte buffers. */
#include "common/common.h"

static void buf_reserve(pve_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void pve_buf_append(pve_buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void pve_buf_puts(pve_buf *b, const char *s)
{
	pve_buf_append(b, s, strlen(s));
}

void pve_buf_printf(pve_buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n > 0) {
		buf_reserve(b, (size_t)n);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
		b->len += (size_t)n;
	}
	va_end(ap2);
}

char *pve_buf_steal(pve_buf *b)
{
	if (!b->data)
		return xstrdup("");
	char *p = b->data;
	*b = (pve_buf){ 0 };
	return p;
}

void pve_buf_free(pve_buf *b)
{
	free(b->data);
	*b = (pve_buf){ 0 };
}

/* An incremental multipart/form-data parser (RFC 7578 over RFC 2046): fed any split of a body, it reports
 * each part's headers and streams its content, holding at most a delimiter's worth of bytes and one part's
 * headers, so an upload of any size passes through in constant memory. */
#include <strings.h>

#include "front/front-internal.h"

enum mp_state {
	MP_PREAMBLE, /* before the first delimiter */
	MP_AFTER_DELIM, /* a delimiter matched: "--" closes, padding then CRLF opens a part */
	MP_AFTER_DELIM_CR, /* saw CR after a delimiter: LF must follow */
	MP_AFTER_DELIM_DASH, /* saw one '-' after a delimiter: another must follow */
	MP_HEADERS, /* a part's header block, up to the empty line */
	MP_BODY, /* a part's content, up to the next delimiter */
	MP_EPILOGUE, /* after the close delimiter: ignored */
	MP_DEAD,
};

struct pve_multipart {
	const pve_multipart_callbacks *cb;
	void *ud;
	char *delim; /* "\r\n--BOUNDARY" */
	size_t delim_len;
	size_t held; /* bytes of a possible delimiter kept from the last feed: delim[0..held) */
	enum mp_state state;
	pve_buf headers;
	unsigned parts;
	pve_error *err; /* the first error: the parser is dead after it */
};

static bool bchar(unsigned char c)
{
	/* RFC 2046 bcharsnospace plus the space; never CR or LF, which the delimiter search relies on. */
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       strchr("'()+_,-./:=? ", c);
}

int pve_multipart_boundary(const char *content_type, char **ret, pve_error **err)
{
	if (!content_type)
		return pve_error_set(err, EINVAL, "missing Content-Type");
	const char *s = content_type;
	while (*s == ' ' || *s == '\t')
		s++;
	static const char mt[] = "multipart/form-data";
	if (strncasecmp(s, mt, sizeof(mt) - 1) != 0 ||
	    (s[sizeof(mt) - 1] && s[sizeof(mt) - 1] != ';' && s[sizeof(mt) - 1] != ' '))
		return pve_error_set(err, EINVAL, "content type is not multipart/form-data");
	s += sizeof(mt) - 1;
	while (*s) {
		while (*s == ';' || *s == ' ' || *s == '\t')
			s++;
		const char *name = s;
		while (*s && *s != '=' && *s != ';')
			s++;
		size_t nlen = (size_t)(s - name);
		if (*s != '=')
			continue;
		s++;
		pve_buf v = { 0 };
		if (*s == '"') {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
				pve_buf_append(&v, s, 1);
			}
			if (*s == '"')
				s++;
		} else {
			const char *vs = s;
			while (*s && *s != ';' && *s != ' ' && *s != '\t')
				s++;
			pve_buf_append(&v, vs, (size_t)(s - vs));
		}
		if (nlen == 8 && strncasecmp(name, "boundary", 8) == 0) {
			bool ok = v.len >= 1 && v.len <= PVE_MULTIPART_MAX_BOUNDARY &&
				  v.data[v.len - 1] != ' ';
			for (size_t i = 0; ok && i < v.len; i++)
				ok = bchar((unsigned char)v.data[i]) && v.data[i] != '\0';
			if (!ok) {
				pve_buf_free(&v);
				return pve_error_set(err, EINVAL, "invalid multipart boundary");
			}
			*ret = pve_buf_steal(&v);
			return 0;
		}
		pve_buf_free(&v);
	}
	return pve_error_set(err, EINVAL, "multipart/form-data without a boundary");
}

pve_multipart *pve_multipart_new(const char *boundary, const pve_multipart_callbacks *cb, void *ud)
{
	pve_multipart *m = xcalloc(1, sizeof(*m));
	m->cb = cb;
	m->ud = ud;
	m->delim = xasprintf("\r\n--%s", boundary);
	m->delim_len = strlen(m->delim);
	/* The body may start right with "--BOUNDARY": as if a CRLF came before it. */
	m->held = 2;
	m->state = MP_PREAMBLE;
	return m;
}

void pve_multipart_free(pve_multipart *m)
{
	if (!m)
		return;
	free(m->delim);
	pve_buf_free(&m->headers);
	pve_error_free(m->err);
	free(m);
}

static int die(pve_multipart *m, int code, const char *msg)
{
	m->state = MP_DEAD;
	if (!m->err)
		pve_error_set(&m->err, code, "%s", msg);
	return -code;
}

/* A callback failed: its error is the parser's. */
static int die_cb(pve_multipart *m, int r, pve_error *e)
{
	m->state = MP_DEAD;
	if (!m->err)
		m->err = TAKE_PTR(e);
	pve_error_free(e);
	if (!m->err)
		pve_error_set(&m->err, r < 0 ? -r : EIO, "multipart callback failed");
	return r < 0 ? r : -EIO;
}

static int emit(pve_multipart *m, const char *data, size_t len)
{
	if (len == 0 || m->state != MP_BODY || !m->cb->part_data)
		return 0;
	pve_error *e = NULL;
	int r = m->cb->part_data(m->ud, data, len, &e);
	return r < 0 ? die_cb(m, r, e) : 0;
}

/* A parameter of a Content-Disposition value: name="x" -> "x" (NULL if absent). */
static char *disposition_param(const char *v, const char *param)
{
	size_t plen = strlen(param);
	for (const char *s = strchr(v, ';'); s; s = strchr(s, ';')) {
		s++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncasecmp(s, param, plen) != 0 || s[plen] != '=')
			continue;
		s += plen + 1;
		pve_buf b = { 0 };
		if (*s == '"') {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
					s++;
				pve_buf_append(&b, s, 1);
			}
		} else {
			while (*s && *s != ';' && *s != ' ' && *s != '\t')
				pve_buf_append(&b, s++, 1);
		}
		pve_buf_append(&b, "", 0);
		return pve_buf_steal(&b);
	}
	return NULL;
}

/* The header block of a part is complete (without its final CRLF CRLF): report the part. */
static int part_begin(pve_multipart *m)
{
	if (++m->parts > PVE_MULTIPART_MAX_PARTS)
		return die(m, E2BIG, "too many parts in multipart body");
	_cleanup_free_ char *name = NULL, *filename = NULL, *ctype = NULL;
	bool disposition = false;
	pve_buf_append(&m->headers, "", 0);
	char *text = m->headers.data;
	if (memchr(text, '\0', m->headers.len))
		return die(m, EINVAL, "NUL byte in a part header");
	text[m->headers.len] = '\0';
	for (char *line = text, *next; line && *line; line = next) {
		char *eol = strstr(line, "\r\n");
		next = eol ? eol + 2 : NULL;
		if (eol)
			*eol = '\0';
		char *colon = strchr(line, ':');
		if (!colon)
			return die(m, EINVAL, "malformed part header");
		*colon = '\0';
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (strcasecmp(line, "Content-Disposition") == 0) {
			if (disposition || strncasecmp(v, "form-data", 9) != 0)
				return die(m, EINVAL, "part is not form-data");
			disposition = true;
			name = disposition_param(v, "name");
			filename = disposition_param(v, "filename");
		} else if (strcasecmp(line, "Content-Type") == 0 && !ctype) {
			ctype = xstrdup(v);
		}
	}
	if (!name)
		return die(m, EINVAL, "part without a name");
	m->headers.len = 0;
	m->state = MP_BODY;
	if (!m->cb->part_begin)
		return 0;
	pve_error *e = NULL;
	int r = m->cb->part_begin(m->ud, name, filename, ctype, &e);
	return r < 0 ? die_cb(m, r, e) : 0;
}

/* A delimiter matched: the part before it (if any) ended. */
static int delim_found(pve_multipart *m)
{
	if (m->state == MP_BODY && m->cb->part_end) {
		pve_error *e = NULL;
		int r = m->cb->part_end(m->ud, &e);
		if (r < 0)
			return die_cb(m, r, e);
	}
	m->held = 0;
	m->state = MP_AFTER_DELIM;
	return 0;
}

/* PREAMBLE and BODY: searches for the delimiter; content before it goes to part_data (BODY only).
 * Returns bytes consumed or a negative errno. CR occurs in the delimiter only at its start, so a
 * partial match that fails can hold no other start of it. */
static ssize_t scan(pve_multipart *m, const char *d, size_t n)
{
	size_t i = 0;
	if (m->held) {
		size_t want = m->delim_len - m->held;
		size_t k = 0;
		while (k < want && k < n && d[k] == m->delim[m->held + k])
			k++;
		if (k == want) {
			int r = delim_found(m);
			return r < 0 ? r : (ssize_t)k;
		}
		if (k == n) {
			m->held += k;
			return (ssize_t)n;
		}
		/* Not a delimiter: the held bytes were content; d[k] is looked at afresh. */
		size_t held = m->held;
		m->held = 0;
		if (m->state == MP_BODY) {
			int r = emit(m, m->delim, held);
			if (r < 0)
				return r;
		}
		if (m->state == MP_BODY && k) {
			int r = emit(m, d, k);
			if (r < 0)
				return r;
		}
		return (ssize_t)k;
	}
	size_t start = 0;
	while (i < n) {
		const char *cr = memchr(d + i, '\r', n - i);
		if (!cr)
			break;
		size_t at = (size_t)(cr - d);
		size_t avail = n - at;
		size_t cmp = avail < m->delim_len ? avail : m->delim_len;
		if (memcmp(cr, m->delim, cmp) != 0) {
			i = at + 1;
			continue;
		}
		int r = emit(m, d + start, at - start);
		if (r < 0)
			return r;
		if (cmp == m->delim_len) {
			r = delim_found(m);
			return r < 0 ? r : (ssize_t)(at + cmp);
		}
		m->held = cmp;
		return (ssize_t)n;
	}
	int r = emit(m, d + start, n - start);
	return r < 0 ? r : (ssize_t)n;
}

/* The parser's error, with the parameter a callback named. */
static int report(const pve_multipart *m, pve_error **err)
{
	if (!m->err)
		return -EINVAL;
	if (m->err->param)
		pve_error_set_param(err, m->err->code, m->err->param, "%s", m->err->message);
	else
		pve_error_set(err, m->err->code, "%s", m->err->message);
	return -m->err->code;
}

int pve_multipart_feed(pve_multipart *m, const void *data, size_t len, pve_error **err)
{
	const char *d = data;
	size_t pos = 0;
	while (pos < len && m->state != MP_DEAD) {
		const char *p = d + pos;
		size_t n = len - pos;
		switch (m->state) {
		case MP_PREAMBLE:
		case MP_BODY: {
			ssize_t r = scan(m, p, n);
			if (r < 0)
				break;
			pos += (size_t)r;
			break;
		}
		case MP_AFTER_DELIM:
			if (*p == ' ' || *p == '\t') {
				pos++;
			} else if (*p == '\r') {
				m->state = MP_AFTER_DELIM_CR;
				pos++;
			} else if (*p == '-') {
				m->state = MP_AFTER_DELIM_DASH;
				pos++;
			} else {
				die(m, EINVAL, "malformed multipart delimiter line");
			}
			break;
		case MP_AFTER_DELIM_CR:
			if (*p != '\n') {
				die(m, EINVAL, "malformed multipart delimiter line");
				break;
			}
			pos++;
			m->headers.len = 0;
			m->state = MP_HEADERS;
			break;
		case MP_AFTER_DELIM_DASH:
			if (*p != '-') {
				die(m, EINVAL, "malformed multipart close delimiter");
				break;
			}
			pos++;
			m->state = MP_EPILOGUE;
			break;
		case MP_HEADERS: {
			/* Byte by byte up to the empty line; the block is small and bounded. */
			pve_buf_append(&m->headers, p, 1);
			pos++;
			size_t hl = m->headers.len;
			if (hl > PVE_MULTIPART_MAX_HEADERS) {
				die(m, E2BIG, "part headers too large");
				break;
			}
			const char *h = m->headers.data;
			if (hl == 2 && memcmp(h, "\r\n", 2) == 0) {
				m->headers.len = 0;
				part_begin(m);
			} else if (hl >= 4 && memcmp(h + hl - 4, "\r\n\r\n", 4) == 0) {
				m->headers.len = hl - 4;
				part_begin(m);
			}
			break;
		}
		case MP_EPILOGUE:
			pos = len;
			break;
		case MP_DEAD:
			break;
		}
	}
	if (m->state == MP_DEAD)
		return report(m, err);
	return 0;
}

int pve_multipart_finish(pve_multipart *m, pve_error **err)
{
	if (m->state == MP_DEAD)
		return report(m, err);
	if (m->state != MP_EPILOGUE)
		return pve_error_set(err, EPROTO, "multipart body ended early");
	return 0;
}

/* The multipart/form-data parser: parts and content whatever the split of the input, the boundary from
 * the Content-Type, and the limits and malformed bodies it refuses. */
#include "front/front-internal.h"
#include "tests/unit/test.h"

typedef struct collect {
	pve_buf log; /* "[name|filename|type]content;" per part */
	unsigned begins, ends;
	bool fail_data; /* part_data fails: the parser must stop */
	bool fail_end; /* part_end fails naming the part's field */
} collect;

static int c_begin(void *ud, const char *name, const char *filename, const char *ctype,
		   pve_error **err)
{
	(void)err;
	collect *c = ud;
	c->begins++;
	pve_buf_printf(&c->log, "[%s|%s|%s]", name, filename ? filename : "-", ctype ? ctype : "-");
	return 0;
}

static int c_data(void *ud, const void *data, size_t len, pve_error **err)
{
	collect *c = ud;
	if (c->fail_data)
		return pve_error_set(err, ENOSPC, "disk full");
	pve_buf_append(&c->log, data, len);
	return 0;
}

static int c_end(void *ud, pve_error **err)
{
	collect *c = ud;
	if (c->fail_end)
		return pve_error_set_param(err, EINVAL, "content", "value is not valid UTF-8");
	c->ends++;
	pve_buf_puts(&c->log, ";");
	return 0;
}

static const pve_multipart_callbacks cbs = { c_begin, c_data, c_end };

static const char body[] =
	"preamble\r\n"
	"--XyZ\r\n"
	"Content-Disposition: form-data; name=\"content\"\r\n"
	"\r\n"
	"iso\r\n"
	"--XyZ\r\n"
	"Content-Disposition: form-data; name=\"filename\"; filename=\"a b.iso\"\r\n"
	"Content-Type: application/octet-stream\r\n"
	"\r\n"
	"data\r\n--XyNOT\r\r\n-\r\nx--XyZ tail\r\n"
	"--XyZ--\r\n"
	"epilogue --XyZ\r\n";
static const char expect[] = "[content|-|-]iso;[filename|a b.iso|application/octet-stream]"
			     "data\r\n--XyNOT\r\r\n-\r\nx--XyZ tail;";

/* Parses input cut into pieces of chunk bytes (0: whole); returns the feed/finish result. */
static int run(const char *in, size_t len, size_t chunk, collect *c, pve_error **err)
{
	pve_multipart *m = pve_multipart_new("XyZ", &cbs, c);
	int r = 0;
	for (size_t off = 0; r == 0 && off < len;) {
		size_t n = chunk && len - off > chunk ? chunk : len - off;
		r = pve_multipart_feed(m, in + off, n, err);
		off += n;
	}
	if (r == 0)
		r = pve_multipart_finish(m, err);
	pve_multipart_free(m);
	return r;
}

/* A callback's error reaches the caller whole: code, message and the parameter it names. */
static void callback_error_names_its_parameter(void)
{
	collect c = { .fail_end = true };
	_cleanup_error_ pve_error *err = NULL;
	check_int(run(body, sizeof(body) - 1, 7, &c, &err), -EINVAL);
	check(err && streq(err->message, "value is not valid UTF-8"));
	check_streq(err ? err->param : NULL, "content");
	pve_buf_free(&c.log);
}

static void parses_any_split(void)
{
	for (size_t chunk = 0; chunk < 40; chunk++) {
		collect c = { 0 };
		pve_error *err = NULL;
		check_int(run(body, sizeof(body) - 1, chunk, &c, &err), 0);
		check_streq(c.log.data, expect);
		check_int(c.begins, 2);
		check_int(c.ends, 2);
		pve_buf_free(&c.log);
		pve_error_free(err);
	}
}

static void starts_without_preamble_and_handles_empty_parts(void)
{
	static const char in[] = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n"
				 "--XyZ  \r\ncontent-disposition: form-data; name=\"b\"\r\n\r\n"
				 "x\r\n--XyZ--";
	collect c = { 0 };
	check_int(run(in, sizeof(in) - 1, 1, &c, NULL), 0);
	check_streq(c.log.data, "[a|-|-];[b|-|-]x;");
	pve_buf_free(&c.log);
}

static void boundary_from_content_type(void)
{
	char *b = NULL;
	check_int(pve_multipart_boundary("multipart/form-data; boundary=----abc123", &b, NULL), 0);
	check_streq(b, "----abc123");
	free(b);
	b = NULL;
	check_int(pve_multipart_boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b:c\"",
					 &b, NULL),
		  0);
	check_streq(b, "a b:c");
	free(b);
	b = NULL;
	pve_error *err = NULL;
	check(pve_multipart_boundary("application/x-www-form-urlencoded", &b, &err) < 0);
	check(err && err->code == EINVAL);
	pve_error_free(err);
	check(pve_multipart_boundary("multipart/form-data", &b, NULL) < 0);
	check(pve_multipart_boundary("multipart/form-data; boundary=", &b, NULL) < 0);
	check(pve_multipart_boundary("multipart/form-data; boundary=\"a\r\nb\"", &b, NULL) < 0);
	char longb[128];
	memset(longb, 'a', sizeof(longb) - 1);
	longb[sizeof(longb) - 1] = '\0';
	_cleanup_free_ char *ct = xasprintf("multipart/form-data; boundary=%s", longb);
	check(pve_multipart_boundary(ct, &b, NULL) < 0);
	check(pve_multipart_boundary(NULL, &b, NULL) < 0);
	check(b == NULL);
}

static void refuses_malformed_and_oversized(void)
{
	collect c = { 0 };
	pve_error *err = NULL;
	/* Truncated: no close delimiter. */
	static const char trunc[] = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nabc";
	check_int(run(trunc, sizeof(trunc) - 1, 0, &c, &err), -EPROTO);
	pve_error_free(TAKE_PTR(err));
	/* Garbage after a delimiter. */
	static const char bad[] = "--XyZx\r\n";
	check(run(bad, sizeof(bad) - 1, 0, &c, &err) < 0);
	pve_error_free(TAKE_PTR(err));
	/* A part without a name, and one that is not form-data. */
	static const char noname[] = "--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--";
	check(run(noname, sizeof(noname) - 1, 0, &c, &err) < 0);
	pve_error_free(TAKE_PTR(err));
	static const char att[] =
		"--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\n\r\n--XyZ--";
	check(run(att, sizeof(att) - 1, 0, &c, &err) < 0);
	pve_error_free(TAKE_PTR(err));
	/* Headers over the limit. */
	pve_buf big = { 0 };
	pve_buf_puts(&big, "--XyZ\r\nContent-Disposition: form-data; name=a\r\nX: ");
	for (int i = 0; i < PVE_MULTIPART_MAX_HEADERS; i++)
		pve_buf_puts(&big, "y");
	pve_buf_puts(&big, "\r\n\r\nx\r\n--XyZ--");
	check_int(run(big.data, big.len, 0, &c, &err), -E2BIG);
	pve_error_free(TAKE_PTR(err));
	pve_buf_free(&big);
	/* Too many parts. */
	for (int i = 0; i <= PVE_MULTIPART_MAX_PARTS; i++)
		pve_buf_puts(&big, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n");
	pve_buf_puts(&big, "--XyZ--");
	check_int(run(big.data, big.len, 7, &c, &err), -E2BIG);
	pve_error_free(TAKE_PTR(err));
	pve_buf_free(&big);
	/* A callback's error stops the parser, and it stays stopped. */
	collect f = { .fail_data = true };
	pve_multipart *m = pve_multipart_new("XyZ", &cbs, &f);
	check_int(pve_multipart_feed(m, body, sizeof(body) - 1, &err), -ENOSPC);
	check(err && streq(err->message, "disk full"));
	pve_error_free(TAKE_PTR(err));
	check(pve_multipart_feed(m, "x", 1, NULL) < 0);
	check(pve_multipart_finish(m, NULL) < 0);
	pve_multipart_free(m);
	pve_buf_free(&c.log);
	pve_buf_free(&f.log);
}

/* A large part passes through in pieces: nothing of it is held beyond a delimiter's length. */
static void streams_large_content(void)
{
	size_t n = 8u << 20;
	char *in = xmalloc(n + 256);
	int hl = snprintf(in, 256,
			  "--XyZ\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n");
	for (size_t i = 0; i < n; i++)
		in[hl + i] = (char)(i % 251 == 0 ? '\r' : 'a' + i % 26);
	memcpy(in + hl + n, "\r\n--XyZ--\r\n", 11);
	size_t total = (size_t)hl + n + 11;
	collect c = { 0 };
	check_int(run(in, total, 65536 + 3, &c, NULL), 0);
	check_int(c.log.len, strlen("[f|x|-]") + n + 1);
	check(c.log.len > n && memcmp(c.log.data + 7, in + hl, n) == 0);
	pve_buf_free(&c.log);
	free(in);
}

/* pved-api's HTTP parser hands an upload over after its headers, whatever its size, and parses the
 * request after its body once the caller took the body; other large bodies stay refused. */
static void http_parser_streams_upload_bodies(void)
{
	static const char head[] = "POST /api2/json/nodes/n1/storage/local/upload HTTP/1.1\r\n"
				   "Host: x\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
				   "Content-Length: 4294967296\r\n\r\n";
	pve_http_parser *p = pve_http_parser_new();
	pve_http_request *r = NULL;
	int status = 0;
	_cleanup_free_ char *in = xasprintf("%sBODYBYTES", head);
	ssize_t n = pve_http_parser_feed(p, in, strlen(in), &r, &status, NULL);
	check_int(n, sizeof(head) - 1);
	check(r && r->stream_body && r->content_length == 4294967296ull && r->body_len == 0);
	check(r && r->keep_alive);
	pve_http_request_free(r);
	r = NULL;
	/* The caller took the body; the next request parses. */
	static const char next[] = "GET /api2/json/version HTTP/1.1\r\nHost: x\r\n\r\n";
	n = pve_http_parser_feed(p, next, sizeof(next) - 1, &r, &status, NULL);
	check_int(n, sizeof(next) - 1);
	check(r && !r->stream_body && streq(r->url, "/api2/json/version"));
	pve_http_request_free(r);
	pve_http_parser_free(p);

	/* Without a length (chunked): 411. Elsewhere: the 512 KiB limit. */
	static const char chunked[] = "POST /api2/json/nodes/n1/storage/local/upload HTTP/1.1\r\n"
				      "Transfer-Encoding: chunked\r\n\r\n";
	p = pve_http_parser_new();
	r = NULL;
	check(pve_http_parser_feed(p, chunked, sizeof(chunked) - 1, &r, &status, NULL) < 0);
	check_int(status, 411);
	pve_http_parser_free(p);
	static const char other[] = "POST /api2/json/nodes/n1/storage/local/content HTTP/1.1\r\n"
				    "Content-Length: 4294967296\r\n\r\n";
	p = pve_http_parser_new();
	check(pve_http_parser_feed(p, other, sizeof(other) - 1, &r, &status, NULL) < 0);
	check_int(status, 413);
	pve_http_parser_free(p);
	check(pve_http_is_upload_path("/nodes/a/storage/b/upload"));
	check(!pve_http_is_upload_path("/nodes/a/storage/b/upload/x"));
	check(!pve_http_is_upload_path("/nodes//storage/b/upload"));
	check(!pve_http_is_upload_path("/nodes/a/storage/b/content"));
}

TEST_MAIN(TEST(parses_any_split), TEST(callback_error_names_its_parameter),
	  TEST(starts_without_preamble_and_handles_empty_parts), TEST(boundary_from_content_type),
	  TEST(refuses_malformed_and_oversized), TEST(streams_large_content),
	  TEST(http_parser_streams_upload_bodies))

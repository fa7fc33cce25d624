/* Unit tests of pved-api's request decoding: percent-decoding, query strings over form and JSON bodies,
 * repeated keys, _dc, request targets, the ticket cookie, Authorization headers and client addresses. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>

#include "front/front-internal.h"
#include "tests/unit/test.h"

static pve_http_request *make_req(const char *method, const char *url, const char *ct,
				  const char *body, const char *const *headers)
{
	pve_http_request *r = xcalloc(1, sizeof(*r));
	r->method = xstrdup(method);
	r->url = xstrdup(url);
	r->body = xstrdup(body ? body : "");
	r->body_len = strlen(r->body);
	r->headers = xcalloc(16, sizeof(*r->headers));
	if (ct) {
		r->headers[r->n_headers].name = xstrdup("Content-Type");
		r->headers[r->n_headers++].value = xstrdup(ct);
	}
	for (size_t i = 0; headers && headers[i]; i += 2) {
		r->headers[r->n_headers].name = xstrdup(headers[i]);
		r->headers[r->n_headers++].value = xstrdup(headers[i + 1]);
	}
	return r;
}

static const char *pstr(const pve_request *r, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->params, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_uri_decode(void)
{
	char *s = NULL;
	check_int(pve_front_uri_decode("a%20b+c%2Bd", 11, true, false, &s, NULL), 0);
	check_streq(s, "a b c+d");
	free(s);
	check_int(pve_front_uri_decode("a+b", 3, false, false, &s, NULL), 0);
	check_streq(s, "a+b");
	free(s);
	check_int(pve_front_uri_decode("%e2%82%AC", 9, false, true, &s, NULL), 0);
	check_streq(s, "\xe2\x82\xac");
	free(s);
	static const char *const bad[] = { "%", "%2", "%zz", "ab%g1", "%00" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_error_ pve_error *err = NULL;
		s = NULL;
		check(pve_front_uri_decode(bad[i], strlen(bad[i]), true, false, &s, &err) ==
		      -EINVAL);
		check(s == NULL);
		check(err != NULL);
	}
	/* Control characters: fine in a value (a description has newlines), not in a path. */
	check_int(pve_front_uri_decode("a%0Ab", 5, false, false, &s, NULL), 0);
	free(s);
	check(pve_front_uri_decode("a%0Ab", 5, false, true, &s, NULL) < 0);
	check(pve_front_uri_decode("a\tb", 3, false, true, &s, NULL) < 0);
}

static void test_urlencoded(void)
{
	cJSON *p = cJSON_CreateObject();
	static const char q[] = "a=1&b=x+y&a=2&_dc=123&&c&d=&a=3&e=%26%3D";
	check_int(pve_params_parse_urlencoded(q, sizeof(q) - 1, p, NULL), 0);
	_cleanup_free_ char *s = cJSON_PrintUnformatted(p);
	check_streq(s,
		    "{\"a\":[\"1\",\"2\",\"3\"],\"b\":\"x y\",\"c\":\"\",\"d\":\"\",\"e\":\"&=\"}");
	cJSON_Delete(p);

	p = cJSON_CreateObject();
	_cleanup_error_ pve_error *err = NULL;
	check(pve_params_parse_urlencoded("ok=1&bad=%G0", 12, p, &err) == -EINVAL);
	check(err && strstr(err->message, "bad") != NULL);
	cJSON_Delete(p);
}

/* Many keys: refused past the limit, and fast (the lookup per key used to be linear). */
static void test_urlencoded_many(void)
{
	pve_buf b = { 0 };
	for (int i = 0; i < 100000; i++)
		pve_buf_printf(&b, "%sk%d=v", i ? "&" : "", i);
	cJSON *p = cJSON_CreateObject();
	_cleanup_error_ pve_error *err = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	check_int(pve_params_parse_urlencoded(b.data, b.len, p, &err), -EINVAL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	check(err && strstr(err->message, "too many parameters"));
	check(t1.tv_sec - t0.tv_sec < 1);
	cJSON_Delete(p);
	pve_buf_free(&b);
	pve_error_freep(&err);

	/* At the limit: distinct keys and one repeated key both pass, one more value fails. */
	for (int i = 0; i < PVE_HTTP_MAX_PARAMS; i++)
		pve_buf_printf(&b, "%sk%d=%d", i ? "&" : "", i % 200, i);
	p = cJSON_CreateObject();
	check_int(pve_params_parse_urlencoded(b.data, b.len, p, NULL), 0);
	check_int(cJSON_GetArraySize(p), 200);
	check_int(cJSON_GetArraySize(cJSON_GetObjectItem(p, "k3")), 2);
	check_streq(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "k3"), 1)->valuestring, "203");
	cJSON_Delete(p);
	pve_buf_puts(&b, "&k0=x");
	p = cJSON_CreateObject();
	check_int(pve_params_parse_urlencoded(b.data, b.len, p, &err), -EINVAL);
	cJSON_Delete(p);
	pve_buf_free(&b);
	pve_error_freep(&err);

	/* A JSON body: the same limit on members. */
	pve_buf_puts(&b, "{");
	for (int i = 0; i <= PVE_HTTP_MAX_PARAMS; i++)
		pve_buf_printf(&b, "%s\"k%d\":1", i ? "," : "", i);
	pve_buf_puts(&b, "}");
	p = NULL;
	check_int(pve_params_parse_json(b.data, b.len, &p, &err), -EINVAL);
	check(err && strstr(err->message, "too many parameters"));
	pve_buf_free(&b);
}

/* Invalid UTF-8 and NUL are refused, naming the parameter; so is JSON with trailing data. */
static void test_utf8_and_nul(void)
{
	static const struct {
		const char *in, *param;
	} form[] = {
		{ "a=1&comment=%FF", "comment" },
		{ "comment=caf%C3", "comment" },
		{ "comment=\xc0\xaf", "comment" },
		{ "x=%ED%A0%80", "x" },
		{ "c%FF=1", NULL },
		{ "comment=a%00b", "comment" },
	};
	for (size_t i = 0; i < ELEMENTSOF(form); i++) {
		cJSON *p = cJSON_CreateObject();
		_cleanup_error_ pve_error *err = NULL;
		check_int(pve_params_parse_urlencoded(form[i].in, strlen(form[i].in), p, &err),
			  -EINVAL);
		check(err != NULL);
		if (form[i].param)
			check_streq(err ? err->param : NULL, form[i].param);
		else
			check(err && !err->param);
		cJSON_Delete(p);
	}
	cJSON *p = cJSON_CreateObject();
	check_int(pve_params_parse_urlencoded("c=caf%C3%A9", 11, p, NULL), 0);
	check_streq(cJSON_GetObjectItem(p, "c")->valuestring, "caf\xc3\xa9");
	cJSON_Delete(p);

	static const struct {
		const char *in, *param;
	} json[] = {
		{ "{\"comment\":\"\xff\"}", "comment" },
		{ "{\"a\":1,\"comment\":\"x\\u0000y\"}", "comment" },
		{ "{\"a\":1} {\"b\":2}", NULL },
		{ "{\"a\":1}garbage", NULL },
	};
	for (size_t i = 0; i < ELEMENTSOF(json); i++) {
		cJSON *o = NULL;
		_cleanup_error_ pve_error *err = NULL;
		check_int(pve_params_parse_json(json[i].in, strlen(json[i].in), &o, &err), -EINVAL);
		check(o == NULL && err != NULL);
		if (json[i].param)
			check_streq(err ? err->param : NULL, json[i].param);
		else
			check(err && !err->param);
	}

	/* Credentials and paths reach pved as JSON strings: UTF-8 only. */
	const char *hdrs[] = { "CSRFPreventionToken", "x\xff", NULL };
	pve_http_request *h = make_req("GET", "/api2/json/version", NULL, NULL, hdrs);
	pve_request *r = NULL;
	_cleanup_error_ pve_error *err = NULL;
	check_int(pve_front_build_request(h, "/version", "c", &r, &err), -EINVAL);
	check(r == NULL && err && strstr(err->message, "CSRF"));
	pve_http_request_free(h);
	char *rest = NULL;
	check(pve_front_classify("/api2/json/caf%C3", &rest, NULL) < 0);
	check(pve_front_classify("/api2/json/caf%C3%A9", &rest, NULL) == PVE_FRONT_API);
	free(rest);
}

static void test_json_body(void)
{
	cJSON *o = NULL;
	static const char j[] =
		"{\"vmid\":100,\"net0\":\"virtio\",\"opts\":{\"a\":[1,true,null]},\"_dc\":1}";
	check_int(pve_params_parse_json(j, sizeof(j) - 1, &o, NULL), 0);
	_cleanup_free_ char *s = cJSON_PrintUnformatted(o);
	check_streq(s, "{\"vmid\":100,\"net0\":\"virtio\",\"opts\":{\"a\":[1,true,null]}}");
	cJSON_Delete(o);

	static const char *const bad[] = { "[1,2]", "\"str\"", "{", "{\"a\":1,}", "" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		o = NULL;
		check(pve_params_parse_json(bad[i], strlen(bad[i]), &o, NULL) == -EINVAL);
		check(o == NULL);
	}

	/* Depth 32 passes, 33 does not; brackets inside strings do not count. */
	pve_buf b = { 0 };
	pve_buf_puts(&b, "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\",\"b\":");
	for (int i = 0; i < 30; i++)
		pve_buf_puts(&b, "[");
	pve_buf_puts(&b, "{}");
	for (int i = 0; i < 30; i++)
		pve_buf_puts(&b, "]");
	pve_buf_puts(&b, "}");
	check_int(pve_params_parse_json(b.data, b.len, &o, NULL), 0);
	cJSON_Delete(o);
	pve_buf_free(&b);
	for (int i = 0; i < 33; i++)
		pve_buf_puts(&b, "{\"a\":");
	pve_buf_puts(&b, "1");
	for (int i = 0; i < 33; i++)
		pve_buf_puts(&b, "}");
	_cleanup_error_ pve_error *err = NULL;
	o = NULL;
	check(pve_params_parse_json(b.data, b.len, &o, &err) == -EINVAL);
	check(err && strstr(err->message, "deep") != NULL);
	pve_buf_free(&b);
}

static void test_query_over_form_body(void)
{
	pve_http_request *h = make_req("POST", "/api2/json/nodes/n1/qemu?vmid=200&name=q&_dc=9",
				       "application/x-www-form-urlencoded; charset=UTF-8",
				       "vmid=100&memory=2048&tags=a&tags=b", NULL);
	pve_request *r = NULL;
	check_int(pve_front_build_request(h, "/nodes/n1/qemu", "10.0.0.1", &r, NULL), 0);
	if (r) {
		check_streq(r->method, "POST");
		check_streq(r->path, "/nodes/n1/qemu");
		check_streq(pstr(r, "vmid"), "200");
		check_streq(pstr(r, "memory"), "2048");
		check_streq(pstr(r, "name"), "q");
		check(cJSON_IsArray(cJSON_GetObjectItem(r->params, "tags")));
		check(cJSON_GetObjectItem(r->params, "_dc") == NULL);
		check_streq(r->client, "10.0.0.1");
		check(r->ticket == NULL && r->token == NULL && r->csrf == NULL);
	}
	pve_request_free(r);
	pve_http_request_free(h);
}

static void test_json_request(void)
{
	pve_http_request *h = make_req("PUT", "/api2/json/x?b=q", "application/json",
				       "{\"a\":1,\"b\":\"body\",\"c\":[\"x\"]}", NULL);
	pve_request *r = NULL;
	check_int(pve_front_build_request(h, "/x", "::1", &r, NULL), 0);
	if (r) {
		check_int(cJSON_GetObjectItem(r->params, "a")->valueint, 1);
		check_streq(pstr(r, "b"), "q");
		check(cJSON_IsArray(cJSON_GetObjectItem(r->params, "c")));
	}
	pve_request_free(r);
	pve_http_request_free(h);

	/* A GET body is ignored, as Proxmox does. */
	h = make_req("GET", "/api2/json/x", "application/json", "{\"a\":1}", NULL);
	check_int(pve_front_build_request(h, "/x", "::1", &r, NULL), 0);
	check(r && cJSON_GetArraySize(r->params) == 0);
	pve_request_free(r);
	pve_http_request_free(h);
}

static void test_bad_requests(void)
{
	struct {
		const char *method, *url, *ct, *body;
		int code;
	} cases[] = {
		{ "GET", "/api2/json/x?a=%zz", NULL, NULL, EINVAL },
		{ "POST", "/api2/json/x", NULL, "a=%", EINVAL },
		{ "POST", "/api2/json/x", "application/json", "[1]", EINVAL },
		{ "POST", "/api2/json/x", "multipart/form-data; boundary=x", "--x", ENOSYS },
		{ "PATCH", "/api2/json/x", NULL, NULL, ENOSYS },
		{ "HEAD", "/api2/json/x", NULL, NULL, ENOSYS },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		pve_http_request *h =
			make_req(cases[i].method, cases[i].url, cases[i].ct, cases[i].body, NULL);
		pve_request *r = NULL;
		_cleanup_error_ pve_error *err = NULL;
		check_int(pve_front_build_request(h, "/x", "c", &r, &err), -cases[i].code);
		check(r == NULL);
		check(err != NULL);
		pve_http_request_free(h);
	}
	/* The status for a bad percent-encoding is 400. */
	check_int(pve_error_http_status(EINVAL), 400);
}

static void test_credentials(void)
{
	const char *hdrs[] = {
		"Cookie", "a=b; PVEAuthCookie=PVE%3Aroot%40pam%3A4EEC61E2%3A%3AaB+c%2Fd==; x=y",
		"CSRFPreventionToken", "4EEC61E2:abc", NULL
	};
	pve_http_request *h = make_req("GET", "/api2/json/version", NULL, NULL, hdrs);
	pve_request *r = NULL;
	check_int(pve_front_build_request(h, "/version", "c", &r, NULL), 0);
	check_streq(r ? r->ticket : NULL, "PVE:root@pam:4EEC61E2::aB+c/d==");
	check_streq(r ? r->csrf : NULL, "4EEC61E2:abc");
	pve_request_free(r);
	pve_http_request_free(h);

	const char *hdrs2[] = { "Authorization", "PVEAPIToken=root@pam!mon=0b5f-11", NULL };
	h = make_req("GET", "/api2/json/version", NULL, NULL, hdrs2);
	check_int(pve_front_build_request(h, "/version", "c", &r, NULL), 0);
	check_streq(r ? r->token : NULL, "root@pam!mon=0b5f-11");
	check(r && r->ticket == NULL);
	pve_request_free(r);
	pve_http_request_free(h);
}

static void test_auth_header(void)
{
	char *ticket = NULL, *token = NULL;
	check_int(pve_auth_header_parse("PVEAPIToken=user@pve!tok 1234-abcd", &ticket, &token), 1);
	check_streq(token, "user@pve!tok=1234-abcd");
	free(token);
	token = NULL;
	check_int(pve_auth_header_parse("PVEAPIToken=user@pve!tok=1234-abcd", &ticket, &token), 1);
	check_streq(token, "user@pve!tok=1234-abcd");
	free(token);
	token = NULL;
	check_int(pve_auth_header_parse(" PVEAPIToken=user@pve!tok=1234-abcd \t", &ticket, &token),
		  1);
	check_streq(token, "user@pve!tok=1234-abcd");
	free(token);
	token = NULL;
	check_int(pve_auth_header_parse("PVEAuthCookie=PVE:a@pve:1::sig", &ticket, &token), 1);
	check_streq(ticket, "PVE:a@pve:1::sig");
	free(ticket);
	ticket = NULL;
	static const char *const bad[] = {
		"Basic dXNlcjpwYXNz",	    "PVEAPIToken=nobang=secret",
		"PVEAPIToken=user@pve!tok", "PVEAPIToken=user@pve!tok=a b",
		"PVEAuthCookie=",	    ""
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		check_int(pve_auth_header_parse(bad[i], &ticket, &token), 0);
		check(ticket == NULL && token == NULL);
	}
	check_int(pve_auth_header_parse(NULL, &ticket, &token), 0);
}

static void test_cookie(void)
{
	_cleanup_free_ char *a = pve_cookie_get("PVEAuthCookie=\"abc\"", "PVEAuthCookie");
	check_streq(a, "abc");
	_cleanup_free_ char *b =
		pve_cookie_get("XPVEAuthCookie=1;PVEAuthCookie = 2 ", "PVEAuthCookie");
	check_streq(b, "2");
	check(pve_cookie_get("a=1; b=2", "PVEAuthCookie") == NULL);
	check(pve_cookie_get("PVEAuthCookie=%zz", "PVEAuthCookie") == NULL);
	check(pve_cookie_get("PVEAuthCookie=a%0Db", "PVEAuthCookie") == NULL);
	check(pve_cookie_get(NULL, "PVEAuthCookie") == NULL);
	check(pve_cookie_get("novalue; ;", "PVEAuthCookie") == NULL);
}

static void test_classify(void)
{
	struct {
		const char *url;
		int target;
		const char *rest;
	} cases[] = {
		{ "/api2/json/version", PVE_FRONT_API, "/version" },
		{ "/api2/json", PVE_FRONT_API, "/" },
		{ "/api2/json/", PVE_FRONT_API, "/" },
		{ "/api2/json/nodes//n1/?x=1", PVE_FRONT_API, "/nodes/n1" },
		{ "/api2/json/nodes/n%201", PVE_FRONT_API, "/nodes/n 1" },
		{ "/api2/extjs/cluster/resources", PVE_FRONT_EXTJS, "/cluster/resources" },
		{ "/api2/png/x", PVE_FRONT_OTHER, "png" },
		{ "/api2/jsonx/y", PVE_FRONT_OTHER, "jsonx" },
		{ "/api2", PVE_FRONT_OTHER, "" },
		{ "/", PVE_FRONT_STATIC, "/" },
		{ "/pve2/js/a.js?ver=1", PVE_FRONT_STATIC, "/pve2/js/a.js" },
		{ "/api2x/y", PVE_FRONT_STATIC, "/api2x/y" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char *rest = NULL;
		int t = pve_front_classify(cases[i].url, &rest, NULL);
		check_int(t, cases[i].target);
		check_streq(rest, cases[i].rest);
		free(rest);
	}
	static const char *const bad[] = { "",	     "*",	  "http://host/api2/json",
					   "/a%00b", "/a%0d%0aX", "/a%z" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		char *rest = NULL;
		check(pve_front_classify(bad[i], &rest, NULL) < 0);
		check(rest == NULL);
	}
}

static void test_client_address(void)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &in6.sin6_addr);
	_cleanup_free_ char *a = pve_client_address((struct sockaddr *)&in6, sizeof(in6));
	check_streq(a, "192.0.2.7");
	inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
	_cleanup_free_ char *b = pve_client_address((struct sockaddr *)&in6, sizeof(in6));
	check_streq(b, "2001:db8::1");
	struct sockaddr_in in4 = { .sin_family = AF_INET };
	inet_pton(AF_INET, "127.0.0.1", &in4.sin_addr);
	_cleanup_free_ char *c = pve_client_address((struct sockaddr *)&in4, sizeof(in4));
	check_streq(c, "127.0.0.1");
	_cleanup_free_ char *d = pve_client_address(NULL, 0);
	check_streq(d, "unknown");
}

/* The SPICE proxy's request: a CONNECT through the HTTP parser, its target; other methods 501. */
static void test_spice_connect(void)
{
	static const struct {
		const char *in;
		int status; /* 0: accepted */
		const char *target;
	} cases[] = {
		{ "CONNECT pvespiceproxy:6553f100:100:n1:61000::abc:61000 HTTP/1.0\r\n"
		  "Host: pvespiceproxy:6553f100:100:n1:61000::abc:61000\r\n\r\n",
		  0, "pvespiceproxy:6553f100:100:n1:61000::abc:61000" },
		{ "CONNECT h:1 HTTP/1.1\r\n\r\n", 0, "h:1" },
		{ "GET / HTTP/1.0\r\n\r\n", 501, NULL },
		{ "POST /api2/json/access/ticket HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 501,
		  NULL },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		pve_http_parser *p = pve_http_parser_new();
		pve_http_request *r = NULL;
		int status = 0;
		_cleanup_error_ pve_error *err = NULL;
		ssize_t n = pve_http_parser_feed(p, cases[i].in, strlen(cases[i].in), &r, &status,
						 &err);
		check(n > 0 && r);
		if (r) {
			_cleanup_free_ char *target = NULL;
			int st = 0;
			int rc = pve_spice_connect_target(r, &target, &st, NULL);
			check_int(rc < 0 ? st : 0, cases[i].status);
			if (cases[i].target)
				check_streq(target, cases[i].target);
			else
				check(target == NULL);
		}
		pve_http_request_free(r);
		pve_http_parser_free(p);
	}
	/* a target past the limit, or with a byte outside printable ASCII */
	pve_http_request r = { .method = (char *)"CONNECT" };
	char long_target[PVE_SPICE_CONNECT_MAX + 2];
	memset(long_target, 'a', sizeof(long_target) - 1);
	long_target[sizeof(long_target) - 1] = '\0';
	const char *bad[] = { long_target, "", "a\x7f", "a\x01b", "\xc3\xa4" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		r.url = (char *)bad[i];
		char *target = NULL;
		int st = 0;
		check_int(pve_spice_connect_target(&r, &target, &st, NULL), -EINVAL);
		check_int(st, 400);
		check(target == NULL);
	}
}

TEST_MAIN(TEST(test_uri_decode), TEST(test_urlencoded), TEST(test_urlencoded_many),
	  TEST(test_utf8_and_nul), TEST(test_json_body), TEST(test_query_over_form_body),
	  TEST(test_json_request), TEST(test_bad_requests), TEST(test_credentials),
	  TEST(test_auth_header), TEST(test_cookie), TEST(test_classify), TEST(test_client_address),
	  TEST(test_spice_connect))

/* Decoding an API request for pved: request targets, query strings, form and JSON bodies, the ticket
 * cookie, the Authorization header and the client address, as pure functions of their input. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/un.h>

#include "front/front-internal.h"

int pve_front_uri_decode(const char *s, size_t len, bool plus_space, bool reject_ctl, char **ret,
			 pve_error **err)
{
	_cleanup_free_ char *out = pve_uri_decode(s, len, plus_space);
	if (!out)
		return pve_error_set(err, EINVAL, "malformed percent-encoding or NUL character");
	if (reject_ctl)
		for (const unsigned char *p = (const unsigned char *)out; *p; p++)
			if (*p < 0x20 || *p == 0x7f)
				return pve_error_set(err, EINVAL,
						     "control character in the request path");
	*ret = TAKE_PTR(out);
	return 0;
}

/* The keys of a params object, hashed, so each pair of a form is added in constant time: looking each
 * key up in the cJSON object made a 100,000-key body cost 25 s of CPU. */
#define PARAM_SLOTS 1024 /* a power of two, over twice PVE_HTTP_MAX_PARAMS */

typedef struct param_index {
	cJSON *slot[PARAM_SLOTS];
	size_t n_values; /* values in the object, an array's each counted */
} param_index;

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The slot of key: its item, or the empty slot where it goes. The table never fills: at most
 * PVE_HTTP_MAX_PARAMS keys go in. */
static cJSON **index_slot(param_index *ix, const char *key)
{
	for (uint32_t i = name_hash(key);; i++) {
		cJSON **slot = &ix->slot[i & (PARAM_SLOTS - 1)];
		if (!*slot || strcmp((*slot)->string, key) == 0)
			return slot;
	}
}

static int count_value(param_index *ix, pve_error **err)
{
	if (++ix->n_values > PVE_HTTP_MAX_PARAMS)
		return pve_error_set(err, EINVAL,
				     "too many parameters (at most %d, each value of a "
				     "repeated key counted)",
				     PVE_HTTP_MAX_PARAMS);
	return 0;
}

/* Adds key=value; a key seen before becomes an array of its values, in order. */
static int params_add(cJSON *params, param_index *ix, const char *key, const char *value,
		      pve_error **err)
{
	int r = count_value(ix, err);
	if (r < 0)
		return r;
	cJSON **slot = index_slot(ix, key);
	cJSON *old = *slot;
	if (!old) {
		cJSON *item = cJSON_CreateString(value);
		cJSON_AddItemToObject(params, key, item);
		*slot = item;
		return 0;
	}
	if (!cJSON_IsArray(old)) {
		/* In place, so the key keeps its position. */
		cJSON *arr = cJSON_CreateArray();
		cJSON_AddItemToArray(arr,
				     cJSON_CreateString(old->valuestring ? old->valuestring : ""));
		arr->string =
			xstrdup(old->string); /* freed by cJSON, which allocates with malloc */
		cJSON_ReplaceItemViaPointer(params, old, arr);
		*slot = old = arr;
	}
	cJSON_AddItemToArray(old, cJSON_CreateString(value));
	return 0;
}

int pve_params_parse_urlencoded(const char *s, size_t len, cJSON *params, pve_error **err)
{
	_cleanup_free_ param_index *ix = xcalloc(1, sizeof(*ix));
	const cJSON *have;
	cJSON_ArrayForEach (have, params) {
		int r = count_value(ix, err);
		if (r < 0)
			return r;
		if (have->string)
			*index_slot(ix, have->string) = (cJSON *)have;
	}
	size_t i = 0;
	while (i < len) {
		size_t start = i;
		while (i < len && s[i] != '&')
			i++;
		size_t end = i++;
		if (end == start)
			continue;
		const char *eq = memchr(s + start, '=', end - start);
		size_t klen = eq ? (size_t)(eq - (s + start)) : end - start;
		_cleanup_free_ char *key = NULL, *value = NULL;
		int r = pve_front_uri_decode(s + start, klen, true, false, &key, err);
		if (r < 0)
			return r;
		if (!pve_utf8_valid(key, strlen(key)))
			return pve_error_set(err, EINVAL, "parameter name is not valid UTF-8");
		if (eq)
			r = pve_front_uri_decode(eq + 1, (size_t)(s + end - eq - 1), true, false,
						 &value, err);
		else
			value = xstrdup("");
		if (r < 0) {
			pve_error_prefix(err ? *err : NULL, "parameter '%s'", key);
			if (err && *err && !(*err)->param)
				(*err)->param = xstrdup(key);
			return r;
		}
		if (!pve_utf8_valid(value, strlen(value)))
			return pve_error_set_param(err, EINVAL, key, "value is not valid UTF-8");
		/* _dc is ExtJS's cache buster, never a parameter. */
		if (key[0] == '\0' || strcmp(key, "_dc") == 0)
			continue;
		r = params_add(params, ix, key, value, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int pve_params_parse_json(const char *s, size_t len, cJSON **ret, pve_error **err)
{
	if (len > PVE_HTTP_MAX_BODY)
		return pve_error_set(err, E2BIG, "JSON body too large (limit 512 KiB)");
	/* The common reader: depth checked before cJSON recurses, UTF-8, NUL and trailing data. */
	_cleanup_error_ pve_error *e = NULL;
	cJSON *o = pve_json_parse_ex(s, len, PVE_HTTP_MAX_BODY, PVE_HTTP_MAX_JSON_DEPTH,
				     PVE_JSON_NAME_MEMBER, &e);
	if (!o) {
		if (e->param)
			return pve_error_set_param(err, EINVAL, e->param, "%s", e->message);
		if (strstr(e->message, "nested"))
			return pve_error_set(err, EINVAL, "JSON body nested too deep (limit %d)",
					     PVE_HTTP_MAX_JSON_DEPTH);
		return pve_error_set(err, EINVAL, "malformed JSON body: %s", e->message);
	}
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return pve_error_set(err, EINVAL, "JSON body is not an object");
	}
	if (cJSON_GetArraySize(o) > PVE_HTTP_MAX_PARAMS) {
		cJSON_Delete(o);
		return pve_error_set(err, EINVAL, "too many parameters (at most %d)",
				     PVE_HTTP_MAX_PARAMS);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(o, "_dc");
	*ret = o;
	return 0;
}

char *pve_cookie_get(const char *header, const char *name)
{
	if (!header)
		return NULL;
	size_t nlen = strlen(name);
	for (const char *s = header; *s;) {
		while (*s == ' ' || *s == '\t' || *s == ';')
			s++;
		const char *pair = s;
		while (*s && *s != ';')
			s++;
		const char *eq = memchr(pair, '=', (size_t)(s - pair));
		if (!eq)
			continue;
		const char *ke = eq;
		while (ke > pair && (ke[-1] == ' ' || ke[-1] == '\t'))
			ke--;
		if ((size_t)(ke - pair) != nlen || memcmp(pair, name, nlen) != 0)
			continue;
		const char *v = eq + 1, *ve = s;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (ve - v >= 2 && *v == '"' && ve[-1] == '"')
			v++, ve--;
		char *out = NULL;
		/* A ticket holds base64 '+': no plus-as-space here. */
		if (pve_front_uri_decode(v, (size_t)(ve - v), false, true, &out, NULL) < 0)
			return NULL;
		return out;
	}
	return NULL;
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

int pve_auth_header_parse(const char *value, char **ret_ticket, char **ret_token)
{
	static const char cookie[] = "PVEAuthCookie=", token[] = "PVEAPIToken=";
	if (!value)
		return 0;
	/* Surrounding blanks are not part of the credentials. */
	_cleanup_free_ char *copy = xstrdup(skip_ws(value));
	size_t n = strlen(copy);
	while (n > 0 && (copy[n - 1] == ' ' || copy[n - 1] == '\t'))
		copy[--n] = '\0';
	value = copy;
	if (strncmp(value, cookie, sizeof(cookie) - 1) == 0) {
		const char *v = value + sizeof(cookie) - 1;
		size_t len = strcspn(v, " \t");
		char *t = NULL;
		if (len == 0 || pve_front_uri_decode(v, len, false, true, &t, NULL) < 0)
			return 0;
		*ret_ticket = t;
		return 1;
	}
	if (strncmp(value, token, sizeof(token) - 1) == 0) {
		/* USER@REALM!TOKENID=SECRET, or a space instead of '=': the token id holds neither. */
		const char *v = value + sizeof(token) - 1;
		const char *bang = strchr(v, '!');
		if (!bang)
			return 0;
		size_t idlen = (size_t)(bang - v) + 1 + strcspn(bang + 1, "= \t");
		const char *sec = v + idlen;
		while (*sec == '=' || *sec == ' ' || *sec == '\t')
			sec++;
		size_t seclen = strcspn(sec, " \t");
		if (seclen == 0 || idlen < 3 || sec[seclen] != '\0')
			return 0;
		for (const char *p = v; p < sec + seclen; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return 0;
		*ret_token = xasprintf("%.*s=%.*s", (int)idlen, v, (int)seclen, sec);
		return 1;
	}
	return 0;
}

char *pve_client_address(const struct sockaddr *sa, socklen_t len)
{
	char buf[INET6_ADDRSTRLEN];
	if (!sa || len < sizeof(sa_family_t))
		return xstrdup("unknown");
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		if (inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf)))
			return xstrdup(buf);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			if (inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], buf, sizeof(buf)))
				return xstrdup(buf);
		} else if (inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf))) {
			return xstrdup(buf);
		}
	} else if (sa->sa_family == AF_UNIX) {
		return xstrdup("local");
	}
	return xstrdup("unknown");
}

/* Collapses repeated '/' and drops a trailing one (but keeps "/"). */
static void normalize_slashes(char *p)
{
	char *w = p;
	for (char *r = p; *r; r++) {
		if (*r == '/' && w > p && w[-1] == '/')
			continue;
		*w++ = *r;
	}
	if (w > p + 1 && w[-1] == '/')
		w--;
	*w = '\0';
}

int pve_front_classify(const char *url, char **ret_rest, pve_error **err)
{
	size_t plen = strcspn(url, "?#");
	if (plen == 0 || url[0] != '/')
		return pve_error_set(err, EINVAL, "request target must be an absolute path");
	_cleanup_free_ char *path = NULL;
	int r = pve_front_uri_decode(url, plen, false, true, &path, err);
	if (r < 0)
		return r;
	/* The path reaches pved's answers (in JSON) and logs: UTF-8 only. */
	if (!pve_utf8_valid(path, strlen(path)))
		return pve_error_set(err, EINVAL, "request path is not valid UTF-8");
	if (strncmp(path, "/api2", 5) != 0 || (path[5] != '/' && path[5] != '\0')) {
		*ret_rest = TAKE_PTR(path);
		return PVE_FRONT_STATIC;
	}
	const char *fmt = path + 5 + (path[5] == '/');
	size_t flen = strcspn(fmt, "/");
	enum pve_front_target t = PVE_FRONT_OTHER;
	if (flen == 4 && strncmp(fmt, "json", 4) == 0)
		t = PVE_FRONT_API;
	else if (flen == 5 && strncmp(fmt, "extjs", 5) == 0)
		t = PVE_FRONT_EXTJS;
	if (t == PVE_FRONT_OTHER) {
		*ret_rest = xstrndup(fmt, flen);
		return t;
	}
	char *rest = xasprintf("/%s", fmt + flen);
	normalize_slashes(rest);
	*ret_rest = rest;
	return t;
}

static bool media_type_is(const char *ct, const char *type)
{
	if (!ct)
		return false;
	ct = skip_ws(ct);
	size_t n = strlen(type);
	return strncasecmp(ct, type, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int pve_front_build_request(const pve_http_request *h, const char *path, const char *client,
			    pve_request **ret, pve_error **err)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "DELETE" };
	bool known = false;
	for (size_t i = 0; i < ELEMENTSOF(methods); i++)
		known = known || strcmp(h->method, methods[i]) == 0;
	if (!known)
		return pve_error_set(err, ENOSYS, "Method '%s' not implemented", h->method);

	cJSON *body = NULL;
	int r = 0;
	/* As Proxmox: only POST and PUT take parameters in the body. */
	if (h->body_len > 0 && (strcmp(h->method, "POST") == 0 || strcmp(h->method, "PUT") == 0)) {
		const char *ct = pve_http_request_header(h, "Content-Type");
		if (media_type_is(ct, "application/json")) {
			r = pve_params_parse_json(h->body, h->body_len, &body, err);
		} else if (media_type_is(ct, "multipart/form-data")) {
			r = pve_error_set(err, ENOSYS,
					  "multipart/form-data uploads are not implemented");
		} else {
			body = cJSON_CreateObject();
			if (memchr(h->body, '\0', h->body_len))
				r = pve_error_set(err, EINVAL, "NUL character in the request body");
			else
				r = pve_params_parse_urlencoded(h->body, h->body_len, body, err);
		}
		if (r < 0) {
			cJSON_Delete(body);
			return r;
		}
	}
	if (!body)
		body = cJSON_CreateObject();

	cJSON *query = cJSON_CreateObject();
	const char *q = strchr(h->url, '?');
	if (q) {
		size_t qlen = strcspn(q + 1, "#");
		r = pve_params_parse_urlencoded(q + 1, qlen, query, err);
		if (r < 0) {
			cJSON_Delete(body);
			cJSON_Delete(query);
			return r;
		}
	}
	/* Query parameters win over body parameters. Each side holds at most PVE_HTTP_MAX_PARAMS
	 * values, so the lookups here are bounded. */
	while (query->child) {
		cJSON *item = cJSON_DetachItemViaPointer(query, query->child);
		cJSON_DeleteItemFromObjectCaseSensitive(body, item->string);
		cJSON_AddItemToObject(body, item->string, item);
	}
	cJSON_Delete(query);

	pve_request *req = xcalloc(1, sizeof(*req));
	req->method = xstrdup(h->method);
	req->path = xstrdup(path);
	req->params = body;
	req->client = xstrdup(client ? client : "unknown");
	for (size_t i = 0; i < h->n_headers && !req->ticket; i++)
		if (strcasecmp(h->headers[i].name, "Cookie") == 0)
			req->ticket = pve_cookie_get(h->headers[i].value, "PVEAuthCookie");
	char *ticket = NULL, *token = NULL;
	if (pve_auth_header_parse(pve_http_request_header(h, "Authorization"), &ticket, &token) >
	    0) {
		if (ticket) {
			free(req->ticket);
			req->ticket = ticket;
		}
		req->token = token;
	}
	const char *csrf = pve_http_request_header(h, "CSRFPreventionToken");
	if (csrf)
		req->csrf = xstrdup(csrf);
	/* Credentials go to pved inside a JSON text, which must be UTF-8: refused here, by name. */
	const char *bad = req->ticket && !pve_utf8_valid(req->ticket, strlen(req->ticket)) ?
				  "ticket" :
			  req->csrf && !pve_utf8_valid(req->csrf, strlen(req->csrf)) ?
				  "CSRFPreventionToken header" :
			  req->token && !pve_utf8_valid(req->token, strlen(req->token)) ?
				  "API token" :
				  NULL;
	if (bad) {
		pve_request_free(req);
		return pve_error_set(err, EINVAL, "the %s is not valid UTF-8", bad);
	}
	*ret = req;
	return 0;
}

/* ---- the SPICE proxy's CONNECT ---------------------------------------------------------------------- */

int pve_spice_connect_target(const pve_http_request *r, char **ret_target, int *ret_status,
			     pve_error **err)
{
	/* as Proxmox's spiceproxy, which knows no other method */
	if (!streq(r->method, "CONNECT")) {
		*ret_status = 501;
		return pve_error_set(err, EINVAL, "method '%s' not available", r->method);
	}
	/* the proxy ticket and the port: "pvespiceproxy:...:<port>", printable, no spaces */
	size_t len = strlen(r->url);
	bool ok = len > 0 && len <= PVE_SPICE_CONNECT_MAX;
	for (size_t i = 0; ok && i < len; i++)
		ok = r->url[i] > ' ' && r->url[i] < 0x7f;
	if (!ok) {
		*ret_status = 400;
		return pve_error_set(err, EINVAL, "bad CONNECT target");
	}
	*ret_target = xstrdup(r->url);
	return 0;
}

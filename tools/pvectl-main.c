/* pvectl's main(): the command line, the checks against the route table before a call, the call,
 * its output, and following the task a call started. */
#include <signal.h>
#include <time.h>

#include "tools/pvectl-internal.h"

/* A task log is read in pages of this many lines. */
#define TASK_LOG_PAGE 500
#define TASK_POLL_NS (200 * 1000 * 1000L)
/* Parameters on one command line. */
#define MAX_PARAMS 256

const char *pvectl_verb_method(const char *verb)
{
	if (!verb)
		return NULL;
	if (strcmp(verb, "get") == 0)
		return "GET";
	if (strcmp(verb, "create") == 0)
		return "POST";
	if (strcmp(verb, "set") == 0)
		return "PUT";
	if (strcmp(verb, "delete") == 0)
		return "DELETE";
	return NULL;
}

char *pvectl_normalize_path(const char *path)
{
	pve_buf b = { 0 };
	const char *p = path;
	if (strncmp(p, "/api2/json", 10) == 0 && (p[10] == '/' || p[10] == '\0'))
		p += 10;
	else if (strncmp(p, "api2/json", 9) == 0 && (p[9] == '/' || p[9] == '\0'))
		p += 9;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t len = strcspn(p, "/");
		pve_buf_puts(&b, "/");
		pve_buf_append(&b, p, len);
		p += len;
	}
	if (!b.len)
		pve_buf_puts(&b, "/");
	return pve_buf_steal(&b);
}

static int usage_error(const char *fmt, ...) _printf_(1, 2);
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return PVECTL_EXIT_USAGE;
}

static int fail(pve_error *e)
{
	fprintf(stderr, "%s: %s\n", program_invocation_short_name,
		e && e->message ? e->message : "failed");
	return PVECTL_EXIT_FAIL;
}

/* Prints an API error as pvesh does: "<status> <message>", then "param: message" for each. */
static char *trimmed(const char *s)
{
	size_t len = strlen(s);
	while (len && (s[len - 1] == '\n' || s[len - 1] == ' ' || s[len - 1] == '\r'))
		len--;
	return xstrndup(s, len);
}

static int api_error(const pve_client_response *resp)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(resp->body, "message");
	_cleanup_free_ char *reason = trimmed(resp->reason ? resp->reason : "");
	_cleanup_free_ char *msg = trimmed(cJSON_IsString(m) ? m->valuestring : "");
	/* the reason phrase is the message cut to one line; print the message if it says more */
	fprintf(stderr, "%d %s\n", resp->status, *reason ? reason : *msg ? msg : "error");
	if (*reason && *msg && strcmp(reason, msg) != 0)
		fprintf(stderr, "%s\n", msg);
	const cJSON *errors = cJSON_GetObjectItemCaseSensitive(resp->body, "errors");
	const cJSON *e;
	cJSON_ArrayForEach (e, errors) {
		_cleanup_free_ char *v = pvectl_value_text(e);
		_cleanup_free_ char *t = trimmed(v);
		fprintf(stderr, "%s: %s\n", e->string, t);
	}
	return PVECTL_EXIT_FAIL;
}

static void sleep_poll(void)
{
	struct timespec ts = { 0, TASK_POLL_NS };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Where a task's log has been printed to, and how its last printed line read. */
typedef struct task_follow {
	long seen; /* lines printed */
	bool last_is_status; /* the last line printed was "TASK OK", "TASK ERROR: ..." */
} task_follow;

/* Proxmox's dump_logfile answers an empty log (and one it cannot open) with a single made-up line
 * numbered 1: {"n": 1, "t": "no content"}. While the task runs that means "nothing yet": printing it
 * and counting it as line 1 would skip the task's real first line when it comes. */
static bool placeholder_page(const cJSON *body, long start)
{
	const cJSON *total = cJSON_GetObjectItemCaseSensitive(body, "total");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(body, "data");
	if (start != 0 || !cJSON_IsNumber(total) || total->valuedouble != 1 ||
	    cJSON_GetArraySize(data) != 1)
		return false;
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(data, 0), "t");
	return cJSON_IsString(t) && (streq(t->valuestring, "no content") ||
				     startswith(t->valuestring, "unable to open file - "));
}

static bool is_status_line(const char *s)
{
	return streq(s, "TASK OK") || startswith(s, "TASK ERROR: ") ||
	       startswith(s, "TASK WARNINGS: ");
}

/* Prints the log lines after f->seen; 0 or an exit code on failure. running: the task had not
 * stopped when the last status was read, so an empty log may still fill. */
static int task_log(pvectl *c, const char *log_path, task_follow *f, bool running)
{
	for (;;) {
		cJSON *params = cJSON_CreateObject();
		_cleanup_free_ char *start = xasprintf("%ld", f->seen);
		_cleanup_free_ char *limit = xasprintf("%d", TASK_LOG_PAGE);
		cJSON_AddStringToObject(params, "start", start);
		cJSON_AddStringToObject(params, "limit", limit);
		pve_client_response resp = { 0 };
		_cleanup_error_ pve_error *err = NULL;
		int r = pvectl_call(c, "GET", log_path, params, &resp, &err);
		cJSON_Delete(params);
		if (r < 0)
			return fail(err);
		if (resp.status != 200) {
			r = api_error(&resp);
			pve_client_response_clear(&resp);
			return r;
		}
		if (running && placeholder_page(resp.body, f->seen)) {
			pve_client_response_clear(&resp);
			return 0;
		}
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(resp.body, "data");
		int count = 0;
		const cJSON *line;
		cJSON_ArrayForEach (line, data) {
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(line, "n");
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(line, "t");
			count++;
			long num = cJSON_IsNumber(n) ? (long)n->valuedouble : f->seen + 1;
			if (num <= f->seen || !cJSON_IsString(t))
				continue;
			f->seen = num;
			f->last_is_status = is_status_line(t->valuestring);
			/* qm prints what the task printed; its end is in the exit status */
			if (!c->as_qm || !f->last_is_status)
				printf("%s\n", t->valuestring);
		}
		fflush(stdout);
		pve_client_response_clear(&resp);
		if (count < TASK_LOG_PAGE)
			return 0;
	}
}

/* On a terminal, a line on stderr tells that the task is still at work and for how long; it is wiped
 * before the next log lines, so they stay clean. */
static void progress(bool show, const pve_upid *u, time_t started)
{
	static const char spin[] = "|/-\\";
	static unsigned tick;
	if (!isatty(STDERR_FILENO))
		return;
	fputs("\r\033[K", stderr);
	if (show)
		fprintf(stderr, "%c %s %s running, %lds", spin[tick++ % 4], u->type, u->id,
			(long)(time(NULL) - started));
	fflush(stderr);
}

/* Follows a task as pvesh does: its log from where the last read ended while the status says running,
 * then, once it has stopped, the rest of the log, which ends with the task's status line. */
static int wait_task(pvectl *c, const char *upid)
{
	pve_upid u;
	_cleanup_error_ pve_error *perr = NULL;
	if (pve_upid_parse(upid, &u, &perr) < 0) {
		fprintf(stderr, "%s: cannot follow the task %s: %s\n",
			program_invocation_short_name, upid, perr->message);
		return PVECTL_EXIT_FAIL;
	}
	_cleanup_free_ char *base = xasprintf("/nodes/%s/tasks/%s", u.node, upid);
	_cleanup_free_ char *log_path = xasprintf("%s/log", base);
	_cleanup_free_ char *status_path = xasprintf("%s/status", base);
	task_follow f = { 0 };
	time_t started = time(NULL);
	for (;;) {
		progress(false, &u, started);
		int r = task_log(c, log_path, &f, true);
		if (r)
			return r;
		pve_client_response resp = { 0 };
		_cleanup_error_ pve_error *err = NULL;
		if (pvectl_call(c, "GET", status_path, NULL, &resp, &err) < 0)
			return fail(err);
		if (resp.status != 200) {
			r = api_error(&resp);
			pve_client_response_clear(&resp);
			return r;
		}
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(resp.body, "data");
		const cJSON *status = cJSON_GetObjectItemCaseSensitive(data, "status");
		if (cJSON_IsString(status) && strcmp(status->valuestring, "running") != 0) {
			const cJSON *ex = cJSON_GetObjectItemCaseSensitive(data, "exitstatus");
			_cleanup_free_ char *exitstatus =
				xstrdup(cJSON_IsString(ex) ? ex->valuestring : "unknown");
			pve_client_response_clear(&resp);
			/* stopped: the log is whole now, whatever it holds */
			r = task_log(c, log_path, &f, false);
			if (r)
				return r;
			bool ok = streq(exitstatus, "OK") || startswith(exitstatus, "WARNINGS");
			/* a log cut short (a worker killed with its node) still ends with the status */
			if (!f.last_is_status && !c->as_qm) {
				if (streq(exitstatus, "OK"))
					printf("TASK OK\n");
				else if (startswith(exitstatus, "WARNINGS: "))
					printf("TASK %s\n", exitstatus);
				else
					printf("TASK ERROR: %s\n", exitstatus);
			}
			if (ok)
				return PVECTL_EXIT_OK;
			if (c->as_qm)
				fprintf(stderr, "%s\n", exitstatus);
			else
				fprintf(stderr, "%s: task failed: %s\n",
					program_invocation_short_name, exitstatus);
			return PVECTL_EXIT_FAIL;
		}
		pve_client_response_clear(&resp);
		progress(true, &u, started);
		sleep_poll();
	}
}

typedef struct cli_param {
	char *name;
	char *value; /* NULL: given alone */
} cli_param;

typedef struct cli {
	const char *verb;
	const char *path;
	const char *extra; /* a third positional word: an error except for man */
	const char *more[8]; /* further positional words: for "storage" only */
	size_t n_more;
	cli_param params[MAX_PARAMS];
	size_t n_params;
	bool verbose;
	const char *command;
	bool help;
	int noborder, noheader; /* -1: not given (pvesh's ls and the rest differ) */
} cli;

static bool looks_like_option(const char *s)
{
	if (s[0] != '-' || !s[1])
		return false;
	/* a negative number is a value */
	return !(s[1] >= '0' && s[1] <= '9');
}

/* pvesh's standard output options that are yes or no: "--noborder" alone, or "--noborder 0" */
static bool is_output_flag(const char *name)
{
	return streq(name, "noborder") || streq(name, "noheader") || streq(name, "quiet") ||
	       streq(name, "human-readable");
}

/* Takes pvesh's output options out of the parameters, but for those the route itself has (as pvesh
 * adds only those the path's schema lacks). props: the route's parameter properties, or NULL. */
static int take_output_options(pvectl *c, cli *cl, const cJSON *props)
{
	size_t k = 0;
	for (size_t i = 0; i < cl->n_params; i++) {
		cli_param *p = &cl->params[i];
		if (!is_output_flag(p->name) || pve_schema_property(props, p->name)) {
			cl->params[k++] = *p;
			continue;
		}
		bool v = true;
		if (p->value && pve_parse_bool(p->value, &v) < 0) {
			int ex = usage_error("--%s: '%s' is not a boolean", p->name, p->value);
			/* the rest stays in the list, each entry once, for the caller to free */
			memmove(&cl->params[k], p, (cl->n_params - i) * sizeof(*p));
			cl->n_params = k + (cl->n_params - i);
			return ex;
		}
		if (streq(p->name, "noborder"))
			cl->noborder = v;
		else if (streq(p->name, "noheader"))
			cl->noheader = v;
		else if (streq(p->name, "quiet"))
			c->fmt.quiet = v;
		else
			c->fmt.human = v;
		free(p->name);
		free(p->value);
	}
	cl->n_params = k;
	c->fmt.noborder = cl->noborder > 0;
	c->fmt.noheader = cl->noheader > 0;
	return 0;
}

static int set_string(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
	return 0;
}

static int parse_args(pvectl *c, cli *cl, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!looks_like_option(a)) {
			if (!cl->verb)
				cl->verb = a;
			else if (!cl->path)
				cl->path = a;
			else if (!cl->extra)
				cl->extra = a;
			else if (cl->n_more < ELEMENTSOF(cl->more))
				cl->more[cl->n_more++] = a;
			else
				return usage_error("unexpected argument '%s'", a);
			if (cl->verb && strcmp(cl->verb, "bashcomplete") == 0)
				return 0; /* the rest belongs to the completion */
			continue;
		}
		const char *name = a + (a[1] == '-' ? 2 : 1);
		const char *eq = strchr(name, '=');
		_cleanup_free_ char *nm = eq ? xstrndup(name, (size_t)(eq - name)) : xstrdup(name);
		const char *value = eq ? eq + 1 : NULL;
		if (!nm[0])
			return usage_error("empty option name in '%s'", a);
		if (strcmp(nm, "help") == 0 || strcmp(nm, "h") == 0) {
			cl->help = true;
			continue;
		}
		if (strcmp(nm, "async") == 0) {
			c->async = true;
			continue;
		}
		if (strcmp(nm, "verbose") == 0 || strcmp(nm, "v") == 0) {
			cl->verbose = true;
			continue;
		}
		static const char *const with_value[] = { "output-format", "root",	    "url",
							  "user",	   "password-file", "token",
							  "fingerprint",   "command" };
		bool own = false;
		for (size_t k = 0; k < ELEMENTSOF(with_value); k++)
			own |= strcmp(nm, with_value[k]) == 0;
		if (c->as_pvesh && own && !streq(nm, "output-format") && !streq(nm, "command"))
			own = false;
		bool flag;
		if (!value && i + 1 < argc && (own || !looks_like_option(argv[i + 1])) &&
		    (!is_output_flag(nm) || pve_parse_bool(argv[i + 1], &flag) == 0))
			value = argv[++i];
		if (own && !value)
			return usage_error("option --%s needs a value", nm);
		if (strcmp(nm, "output-format") == 0) {
			if (strcmp(value, "text") == 0)
				c->fmt.output = PVECTL_OUT_TEXT;
			else if (strcmp(value, "json") == 0)
				c->fmt.output = PVECTL_OUT_JSON;
			else if (strcmp(value, "json-pretty") == 0)
				c->fmt.output = PVECTL_OUT_JSON_PRETTY;
			else if (strcmp(value, "yaml") == 0)
				c->fmt.output = PVECTL_OUT_YAML;
			else
				return usage_error(
					"--output-format: '%s' is not one of text, json, "
					"json-pretty, yaml",
					value);
		} else if (!own) {
			if (cl->n_params == MAX_PARAMS)
				return usage_error("more than %d parameters", MAX_PARAMS);
			cl->params[cl->n_params++] =
				(cli_param){ TAKE_PTR(nm), value ? xstrdup(value) : NULL };
		} else if (strcmp(nm, "root") == 0) {
			set_string(&c->root, value);
		} else if (strcmp(nm, "url") == 0) {
			set_string(&c->url, value);
		} else if (strcmp(nm, "user") == 0) {
			set_string(&c->user, value);
		} else if (strcmp(nm, "password-file") == 0) {
			set_string(&c->password_file, value);
		} else if (strcmp(nm, "token") == 0) {
			set_string(&c->token, value);
		} else if (strcmp(nm, "fingerprint") == 0) {
			free(c->fingerprint);
			c->fingerprint = pve_client_fingerprint_normalize(value);
			if (!c->fingerprint)
				return usage_error(
					"--fingerprint: '%s' is not a SHA-256 fingerprint "
					"(32 hex bytes, as AA:BB:...)",
					value);
		} else if (strcmp(nm, "command") == 0) {
			cl->command = value;
		}
	}
	return 0;
}

/* "https://host:port[/]" into host and port. */
static int parse_url(pvectl *c)
{
	const char *u = c->url;
	if (strncmp(u, "https://", 8) != 0)
		return usage_error("--url must start with https://");
	u += 8;
	const char *host_end, *rest;
	if (*u == '[') {
		host_end = strchr(u, ']');
		if (!host_end)
			return usage_error("--url: unterminated [ in '%s'", c->url);
		c->host = xstrndup(u + 1, (size_t)(host_end - u - 1));
		rest = host_end + 1;
	} else {
		size_t len = strcspn(u, ":/");
		c->host = xstrndup(u, len);
		rest = u + len;
	}
	if (!c->host[0])
		return usage_error("--url: no host in '%s'", c->url);
	if (*rest == ':') {
		size_t len = strcspn(rest + 1, "/");
		c->port = xstrndup(rest + 1, len);
		rest += 1 + len;
	} else {
		c->port = xstrdup("8006");
	}
	char *end;
	long port = strtol(c->port, &end, 10);
	if (*end || port < 1 || port > 65535)
		return usage_error("--url: bad port '%s'", c->port);
	if (*rest && strcmp(rest, "/") != 0)
		return usage_error("--url takes https://HOST:PORT without a path");
	return 0;
}

static bool schema_is(const cJSON *schema, const char *type)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(schema, "type");
	return cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
}

/* Checks the parameters against the route's schema and builds the request's parameter object. */
static int build_params(const pve_route *r, const char *path, const cJSON *path_params, cli *cl,
			cJSON **ret)
{
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(r->parameters, "properties");
	const cJSON *ap = cJSON_GetObjectItemCaseSensitive(r->parameters, "additionalProperties");
	bool additional = cJSON_IsTrue(ap) || (cJSON_IsNumber(ap) && ap->valuedouble != 0);
	cJSON *params = cJSON_CreateObject();
	for (size_t i = 0; i < cl->n_params; i++) {
		const cli_param *p = &cl->params[i];
		const cJSON *schema = pve_schema_property(props, p->name);
		if (cJSON_GetObjectItemCaseSensitive(path_params, p->name)) {
			cJSON_Delete(params);
			return usage_error("parameter '%s' is given by the path '%s'", p->name,
					   path);
		}
		if (!schema && !additional) {
			cJSON_Delete(params);
			return usage_error(
				"unknown parameter '%s' for %s %s (see: pvectl usage %s --verbose)",
				p->name, r->method, path, path);
		}
		const char *value = p->value;
		if (!value) {
			if (!schema_is(schema, "boolean")) {
				cJSON_Delete(params);
				return usage_error("parameter '%s' needs a value", p->name);
			}
			value = "1";
		}
		cJSON *prev = cJSON_GetObjectItemCaseSensitive(params, p->name);
		if (prev) {
			if (!schema_is(schema, "array")) {
				cJSON_Delete(params);
				return usage_error("parameter '%s' is given twice", p->name);
			}
			cJSON_AddItemToArray(prev, cJSON_CreateString(value));
		} else if (schema_is(schema, "array")) {
			cJSON *arr = cJSON_AddArrayToObject(params, p->name);
			cJSON_AddItemToArray(arr, cJSON_CreateString(value));
		} else {
			cJSON_AddStringToObject(params, p->name, value);
		}
	}
	*ret = params;
	return 0;
}

static int no_route(pvectl *c, const char *method, const char *path, bool known)
{
	if (!known)
		return usage_error("no API path '%s' (see: pvectl ls %s)", path, "/");
	pve_buf have = { 0 };
	static const char *const all[] = { "GET", "POST", "PUT", "DELETE" };
	for (size_t i = 0; i < ELEMENTSOF(all); i++)
		if (pve_routes_match(c->routes, all[i], path, NULL, NULL))
			pve_buf_printf(&have, "%s%s", have.len ? ", " : "", all[i]);
	int r = usage_error("no %s method on '%s' (it has %s)", method, path,
			    have.data ? have.data : "none");
	pve_buf_free(&have);
	return r;
}

static int cmd_call(pvectl *c, cli *cl, const char *method)
{
	if (!cl->path)
		return usage_error("%s needs a PATH", cl->verb);
	if (cl->extra)
		return usage_error("unexpected argument '%s'", cl->extra);
	_cleanup_free_ char *path = pvectl_normalize_path(cl->path);
	cJSON *path_params = cJSON_CreateObject();
	bool known = false;
	const pve_route *r = pve_routes_match(c->routes, method, path, path_params, &known);
	if (!r) {
		cJSON_Delete(path_params);
		return no_route(c, method, path, known);
	}
	int ex = take_output_options(c, cl,
				     cJSON_GetObjectItemCaseSensitive(r->parameters, "properties"));
	if (ex) {
		cJSON_Delete(path_params);
		return ex;
	}
	cJSON *params = NULL;
	ex = build_params(r, path, path_params, cl, &params);
	cJSON_Delete(path_params);
	if (ex)
		return ex;

	pve_client_response resp = { 0 };
	_cleanup_error_ pve_error *err = NULL;
	int rc = pvectl_call(c, method, path, params, &resp, &err);
	cJSON_Delete(params);
	if (rc < 0)
		return fail(err);
	if (resp.status != 200) {
		ex = api_error(&resp);
		pve_client_response_clear(&resp);
		return ex;
	}
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(resp.body, "data");
	if (cJSON_IsString(data) && strncmp(data->valuestring, "UPID:", 5) == 0 && !c->async) {
		_cleanup_free_ char *upid = xstrdup(data->valuestring);
		pve_client_response_clear(&resp);
		return wait_task(c, upid);
	}
	pvectl_print_data(stdout, data, cJSON_GetObjectItemCaseSensitive(r->info, "returns"),
			  &c->fmt);
	pve_client_response_clear(&resp);
	return PVECTL_EXIT_OK;
}

/* The key that names a child in a directory listing: from the returns' child link "{key}", else the
 * placeholder child's name, else "subdir" as Proxmox's indexes use. */
static char *child_key(const pve_route *r, char **children)
{
	const cJSON *links = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(r->info, "returns"), "links");
	const cJSON *l;
	cJSON_ArrayForEach (l, links) {
		const cJSON *rel = cJSON_GetObjectItemCaseSensitive(l, "rel");
		const cJSON *href = cJSON_GetObjectItemCaseSensitive(l, "href");
		if (cJSON_IsString(rel) && strcmp(rel->valuestring, "child") == 0 &&
		    cJSON_IsString(href)) {
			size_t n = strlen(href->valuestring);
			if (n > 2 && href->valuestring[0] == '{' && href->valuestring[n - 1] == '}')
				return xstrndup(href->valuestring + 1, n - 2);
		}
	}
	for (size_t i = 0; children[i]; i++) {
		size_t n = strlen(children[i]);
		if (n > 2 && children[i][0] == '{')
			return xstrndup(children[i] + 1, n - 2);
	}
	return xstrdup("subdir");
}

static int cmd_ls(pvectl *c, cli *cl)
{
	if (cl->extra)
		return usage_error("unexpected argument '%s'", cl->extra);
	_cleanup_free_ char *path = pvectl_normalize_path(cl->path ? cl->path : "/");
	bool known = false;
	const pve_route *r = pve_routes_match(c->routes, "GET", path, NULL, &known);
	if (!r)
		return no_route(c, "GET", path, known);
	_cleanup_strv_free_ char **children = pve_routes_children(c->routes, path);
	if (!children[0])
		return usage_error("'%s' has no child entries (see: pvectl usage %s)", path, path);
	if (cl->n_params)
		return usage_error("ls takes no parameters ('%s')", cl->params[0].name);

	pve_client_response resp = { 0 };
	_cleanup_error_ pve_error *err = NULL;
	if (pvectl_call(c, "GET", path, NULL, &resp, &err) < 0)
		return fail(err);
	if (resp.status != 200) {
		int ex = api_error(&resp);
		pve_client_response_clear(&resp);
		return ex;
	}
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(resp.body, "data");
	if (!cJSON_IsArray(data)) {
		pve_client_response_clear(&resp);
		fprintf(stderr, "%s: GET %s did not return a list\n", program_invocation_short_name,
			path);
		return PVECTL_EXIT_FAIL;
	}
	_cleanup_free_ char *key = child_key(r, children);
	cJSON *out = cJSON_CreateArray();
	const cJSON *item;
	cJSON_ArrayForEach (item, data) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, key);
		if (!v || cJSON_IsNull(v) || cJSON_IsObject(v) || cJSON_IsArray(v))
			continue;
		_cleanup_free_ char *name = pvectl_value_text(v);
		if (!name[0] || strchr(name, '/'))
			continue;
		_cleanup_free_ char *child =
			xasprintf("%s/%s", strcmp(path, "/") == 0 ? "" : path, name);
		_cleanup_free_ char *flags = pvectl_child_flags(c->routes, child);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddStringToObject(o, "capabilities", flags);
		cJSON_AddItemToArray(out, o);
	}
	/* as pvesh ls: sorted by name, without border and header unless asked */
	pvectl_format f = c->fmt;
	f.noborder = cl->noborder != 0;
	f.noheader = cl->noheader != 0;
	static const char *const cols[] = { "capabilities", "name" };
	pvectl_print_result(stdout, out, NULL, cols, 2, "name", &f);
	cJSON_Delete(out);
	pve_client_response_clear(&resp);
	return PVECTL_EXIT_OK;
}

static int cmd_apidoc(pvectl *c)
{
	cJSON *doc = pve_routes_apidoc(c->routes);
	pvectl_format f = c->fmt;
	if (f.output == PVECTL_OUT_TEXT)
		f.output = PVECTL_OUT_JSON;
	pvectl_print_data(stdout, doc, NULL, &f);
	cJSON_Delete(doc);
	return PVECTL_EXIT_OK;
}

static int dispatch(pvectl *c, cli *clp, int argc, char **argv);

int pvectl_run(pvectl *c, int argc, char **argv)
{
	cli cl = { .noborder = -1, .noheader = -1 };
	/* pvectl [OPTIONS] ct VERB ...: the options before "ct" are pvectl's, the rest pct's (whose
	 * words, such as exec's "--", pvectl's parser would take for its own) */
	int at = 1;
	while (at < argc && argv[at][0] == '-')
		at += 1 + (strchr(argv[at], '=') == NULL && at + 1 < argc &&
			   argv[at + 1][0] != '-' && strcmp(argv[at + 1], "ct") != 0);
	if (at < argc && strcmp(argv[at], "ct") == 0) {
		int ex = parse_args(c, &cl, at, argv);
		for (size_t i = 0; i < cl.n_params; i++) {
			free(cl.params[i].name);
			free(cl.params[i].value);
		}
		return ex ? ex : pvectl_pct(c, argc - at, argv + at);
	}
	int ex = parse_args(c, &cl, argc, argv);
	if (!ex)
		ex = dispatch(c, &cl, argc, argv);
	for (size_t i = 0; i < cl.n_params; i++) {
		free(cl.params[i].name);
		free(cl.params[i].value);
	}
	return ex;
}

static int dispatch(pvectl *c, cli *cl, int argc, char **argv)
{
	if (!cl->verb) {
		pvectl_print_help(cl->help ? stdout : stderr);
		return cl->help ? PVECTL_EXIT_OK : PVECTL_EXIT_USAGE;
	}

	if (strcmp(cl->verb, "bashcomplete") == 0) {
		int at = 1;
		while (at < argc && strcmp(argv[at], "bashcomplete") != 0)
			at++;
		return pvectl_cmd_bashcomplete(c, argc - at - 1, argv + at + 1);
	}
	if (cl->help && strcmp(cl->verb, "help") != 0) {
		if (cl->path)
			return pvectl_cmd_usage(c, cl->path, pvectl_verb_method(cl->verb), true);
		pvectl_print_help(stdout);
		return PVECTL_EXIT_OK;
	}
	if (c->url && parse_url(c) != 0)
		return PVECTL_EXIT_USAGE;
	if (!c->url && (c->user || c->token || c->password_file || c->fingerprint))
		return usage_error("--user, --password-file, --token and --fingerprint need --url");
	if (c->user && c->token)
		return usage_error("give either --user or --token, not both");

	const char *method = pvectl_verb_method(cl->verb);
	if (!method) {
		int ex = take_output_options(c, cl, NULL);
		if (ex)
			return ex;
	}
	if (strcmp(cl->verb, "storage") == 0 || strcmp(cl->verb, "vm") == 0 ||
	    strcmp(cl->verb, "firewall") == 0) {
		const char *words[3 + ELEMENTSOF(cl->more)];
		size_t n = 0;
		for (const char *w = cl->path; w && n < 2; w = n == 1 ? cl->extra : NULL)
			words[n++] = w;
		for (size_t i = 0; cl->extra && i < cl->n_more; i++)
			words[n++] = cl->more[i];
		pvectl_opt opts[MAX_PARAMS];
		for (size_t i = 0; i < cl->n_params; i++)
			opts[i] = (pvectl_opt){ cl->params[i].name, cl->params[i].value };
		if (strcmp(cl->verb, "vm") == 0)
			return pvectl_cmd_vm(c, words, n, opts, cl->n_params);
		if (strcmp(cl->verb, "firewall") == 0)
			return pvectl_cmd_firewall(c, words, n, opts, cl->n_params);
		return pvectl_cmd_storage(c, words, n, opts, cl->n_params);
	}
	if (cl->n_more)
		return usage_error("unexpected argument '%s'", cl->more[0]);
	if (method)
		return cmd_call(c, cl, method);
	if (strcmp(cl->verb, "ls") == 0)
		return cmd_ls(c, cl);
	if (cl->n_params)
		return usage_error("%s takes no parameter '--%s'", cl->verb, cl->params[0].name);
	if (strcmp(cl->verb, "usage") == 0) {
		if (!cl->path)
			return usage_error("usage needs a PATH");
		const char *only = NULL;
		if (cl->command && !(only = pvectl_verb_method(cl->command)))
			return usage_error("--command: '%s' is not one of get, create, set, delete",
					   cl->command);
		return pvectl_cmd_usage(c, cl->path, only, cl->verbose);
	}
	if (strcmp(cl->verb, "help") == 0) {
		if (!cl->path) {
			pvectl_print_help(stdout);
			return PVECTL_EXIT_OK;
		}
		return pvectl_cmd_usage(c, cl->path, NULL, true);
	}
	if (strcmp(cl->verb, "apidoc") == 0)
		return cmd_apidoc(c);
	if (strcmp(cl->verb, "man") == 0)
		return pvectl_cmd_man(c, cl->path);
	if (strcmp(cl->verb, "completion-script") == 0) {
		pvectl_print_completion_script(stdout);
		return PVECTL_EXIT_OK;
	}
	return usage_error("unknown verb '%s' (see: pvectl help)", cl->verb);
}

/* qm's words as pvectl vm's; pct's as pvectl ct's. */
static int run_as(pvectl *c, const char *name, int argc, char **argv)
{
	if (streq(name, "pct"))
		return pvectl_pct(c, argc, argv);
	if (streq(name, "qm")) {
		c->as_qm = true;
		return pvectl_qm(c, argc, argv);
	}
	c->as_pvesh = streq(name, "pvesh");
	if (!c->as_pvesh && argc > 1 && streq(argv[1], "cluster"))
		return pvectl_cluster(c, argc - 1, argv + 1);
	return pvectl_run(c, argc, argv);
}

int main(int argc, char **argv)
{
	pvectl c = { 0 };
	pvectl_format_init(&c.fmt);
	/* a peer that goes away is an error to report, not a signal to die of */
	signal(SIGPIPE, SIG_IGN);
	const char *env_root = getenv("PVED_ROOT");
	c.root = xstrdup(env_root && *env_root ? env_root : "/");

	_cleanup_error_ pve_error *err = NULL;
	if (pve_routes_load(&c.routes, &err) < 0) {
		fprintf(stderr, "%s: the built-in route table is broken: %s\n",
			program_invocation_short_name, err->message);
		free(c.root);
		return PVECTL_EXIT_FAIL;
	}
	/* installed also as pvesh, qm and pct: the name it was run by says which habits to follow */
	const char *name = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
	name = name ? name + 1 : argc > 0 && argv[0] ? argv[0] : "pvectl";
	int ex = run_as(&c, name, argc, argv);
	if (fflush(stdout) != 0 && ex == PVECTL_EXIT_OK)
		ex = PVECTL_EXIT_FAIL;

	pvectl_transport_done(&c);
	pve_routes_free(c.routes);
	free(c.root);
	free(c.url);
	free(c.host);
	free(c.port);
	free(c.user);
	free(c.password_file);
	free(c.token);
	free(c.fingerprint);
	return ex;
}

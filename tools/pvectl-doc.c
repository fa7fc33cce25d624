/* What pvectl generates from the route table alone: usage and help, the man pages, bash
 * completion. Nothing here is written per endpoint. */
#include <dirent.h>
#include <sys/stat.h>

#include "tools/pvectl-internal.h"

static const char *const verbs[] = { "ls",    "get",  "create", "set", "delete",
				     "usage", "help", "apidoc", "man", "completion-script" };
static const char *const method_order[] = { "GET", "POST", "PUT", "DELETE" };

static bool is_placeholder(const char *seg)
{
	size_t n = strlen(seg);
	return n > 2 && seg[0] == '{' && seg[n - 1] == '}';
}

static const char *method_verb(const char *method)
{
	if (strcmp(method, "GET") == 0)
		return "get";
	if (strcmp(method, "POST") == 0)
		return "create";
	if (strcmp(method, "PUT") == 0)
		return "set";
	return "delete";
}

char *pvectl_typetext(const cJSON *schema)
{
	const cJSON *tt = cJSON_GetObjectItemCaseSensitive(schema, "typetext");
	if (cJSON_IsString(tt))
		return xstrdup(tt->valuestring);
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(schema, "enum");
	if (cJSON_IsArray(en)) {
		pve_buf b = { 0 };
		pve_buf_puts(&b, "<");
		const cJSON *v;
		cJSON_ArrayForEach (v, en) {
			_cleanup_free_ char *s = pvectl_value_text(v);
			pve_buf_printf(&b, "%s%s", b.len > 1 ? " | " : "", s);
		}
		pve_buf_puts(&b, ">");
		return pve_buf_steal(&b);
	}
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(schema, "type");
	const char *ty = cJSON_IsString(type) ? type->valuestring : "string";
	const cJSON *min = cJSON_GetObjectItemCaseSensitive(schema, "minimum");
	const cJSON *max = cJSON_GetObjectItemCaseSensitive(schema, "maximum");
	if ((strcmp(ty, "integer") == 0 || strcmp(ty, "number") == 0) && (min || max)) {
		_cleanup_free_ char *lo = min ? pvectl_value_text(min) : xstrdup("-N");
		_cleanup_free_ char *hi = max ? pvectl_value_text(max) : xstrdup("N");
		return xasprintf("<%s> (%s - %s)", ty, lo, hi);
	}
	return xasprintf("<%s>", ty);
}

char *pvectl_child_flags(const pve_routes *t, const char *child_path)
{
	_cleanup_strv_free_ char **children = pve_routes_children(t, child_path);
	char flags[6] = "-----";
	if (children[0])
		flags[0] = 'D';
	static const char letters[] = { 'r', 'c', 'w', 'd' }; /* GET POST PUT DELETE */
	static const int slots[] = { 1, 3, 2, 4 }; /* shown as D r w c d, as pvesh */
	for (size_t i = 0; i < ELEMENTSOF(method_order); i++)
		if (pve_routes_match(t, method_order[i], child_path, NULL, NULL))
			flags[slots[i]] = letters[i];
	return xstrdup(flags);
}

/* Path placeholders of a route: they come from the path, never as --options. */
static bool is_path_param(const pve_route *r, const char *name)
{
	for (size_t i = 0; i < r->n_segments; i++) {
		const char *s = r->segments[i];
		if (is_placeholder(s) && strlen(s) == strlen(name) + 2 &&
		    strncmp(s + 1, name, strlen(name)) == 0)
			return true;
	}
	return false;
}

static bool is_optional(const cJSON *schema)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(schema, "optional");
	return cJSON_IsTrue(o) || (cJSON_IsNumber(o) && o->valuedouble != 0);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The option names of a route (no path placeholders), sorted; the caller frees the vector only. */
static const char **route_options(const pve_route *r, size_t *ret_n)
{
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(r->parameters, "properties");
	size_t n = 0;
	const char **v = xcalloc((size_t)cJSON_GetArraySize(props) + 1, sizeof(char *));
	const cJSON *p;
	cJSON_ArrayForEach (p, props)
		if (!is_path_param(r, p->string))
			v[n++] = p->string;
	qsort(v, n, sizeof(char *), cmp_str);
	*ret_n = n;
	return v;
}

static void print_synopsis(FILE *f, const pve_route *r, const char *path)
{
	size_t n;
	_cleanup_free_ const char **opts = route_options(r, &n);
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(r->parameters, "properties");
	fprintf(f, "USAGE: pvectl %s %s", method_verb(r->method), path);
	bool any_optional = false;
	for (size_t i = 0; i < n; i++) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(props, opts[i]);
		if (is_optional(s)) {
			any_optional = true;
			continue;
		}
		_cleanup_free_ char *tt = pvectl_typetext(s);
		fprintf(f, " --%s %s", opts[i], tt);
	}
	fprintf(f, "%s [FORMAT_OPTIONS]\n", any_optional ? " [OPTIONS]" : "");
}

static void print_indented(FILE *f, const char *indent, const char *text)
{
	const char *p = text;
	while (*p) {
		size_t len = strcspn(p, "\n");
		fprintf(f, "%s%.*s\n", indent, (int)len, p);
		p += len;
		if (*p == '\n')
			p++;
	}
}

static void print_param_details(FILE *f, const cJSON *s)
{
	const cJSON *def = cJSON_GetObjectItemCaseSensitive(s, "default");
	if (def) {
		_cleanup_free_ char *d = pvectl_value_text(def);
		fprintf(f, " (default=%s)", d);
	}
	fputc('\n', f);
	const cJSON *desc = cJSON_GetObjectItemCaseSensitive(s, "description");
	if (cJSON_IsString(desc))
		print_indented(f, "             ", desc->valuestring);
}

static void print_usage_verbose(FILE *f, const pve_route *r)
{
	const cJSON *desc = cJSON_GetObjectItemCaseSensitive(r->info, "description");
	if (cJSON_IsString(desc)) {
		fputc('\n', f);
		print_indented(f, "  ", desc->valuestring);
	}
	size_t n;
	_cleanup_free_ const char **opts = route_options(r, &n);
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(r->parameters, "properties");
	for (size_t i = 0; i < n; i++) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(props, opts[i]);
		_cleanup_free_ char *tt = pvectl_typetext(s);
		fprintf(f, "\n  --%s %s", opts[i], tt);
		print_param_details(f, s);
	}
	fputc('\n', f);
}

int pvectl_cmd_usage(pvectl *c, const char *path, const char *only_method, bool verbose)
{
	_cleanup_free_ char *norm = pvectl_normalize_path(path);
	bool any = false, known = false;
	for (size_t i = 0; i < ELEMENTSOF(method_order); i++) {
		bool k = false;
		const pve_route *r = pve_routes_match(c->routes, method_order[i], norm, NULL, &k);
		known |= k;
		if (!r || (only_method && strcmp(only_method, method_order[i]) != 0))
			continue;
		print_synopsis(stdout, r, norm);
		if (verbose)
			print_usage_verbose(stdout, r);
		any = true;
	}
	if (any)
		return PVECTL_EXIT_OK;
	if (known)
		fprintf(stderr, "%s: '%s' has no %s method\n", program_invocation_short_name, norm,
			only_method);
	else
		fprintf(stderr, "%s: no API path '%s'\n", program_invocation_short_name, norm);
	return PVECTL_EXIT_USAGE;
}

void pvectl_print_help(FILE *f)
{
	fputs("USAGE: pvectl VERB PATH [--PARAM VALUE ...] [OPTIONS]\n"
	      "\n"
	      "Calls the pved API (the paths below /api2/json), as pvesh does.\n"
	      "\n"
	      "Verbs:\n"
	      "  ls PATH                list the child entries of PATH (D: has children; r w c d: "
	      "GET PUT\n"
	      "                         POST DELETE)\n"
	      "  get PATH               GET\n"
	      "  create PATH            POST\n"
	      "  set PATH               PUT\n"
	      "  delete PATH            DELETE\n"
	      "  usage PATH [--verbose] [--command get|create|set|delete]\n"
	      "                         the methods of PATH with their parameters\n"
	      "  help [PATH]            this text, or the full usage of PATH\n"
	      "  apidoc                 the API schema as JSON (a tree, as Proxmox's API viewer "
	      "data)\n"
	      "  man [pvectl|pved]      a man page in groff -man format\n"
	      "  completion-script      a bash completion script for pvectl\n"
	      "\n"
	      "Options:\n"
	      "  --output-format text|json|json-pretty   how to print the result (default: text)\n"
	      "  --async                don't wait for a task: print its UPID\n"
	      "  --root DIR             talk to the node with this root over DIR/run/pved.sock\n"
	      "                         (default: $PVED_ROOT, else /)\n"
	      "  --url https://HOST:PORT  talk HTTPS to a node instead of the local socket\n"
	      "  --user USER@REALM      log in as this user (with --url)\n"
	      "  --password-file FILE   the password is the first line of FILE (else it is asked "
	      "for)\n"
	      "  --token USER@REALM!ID=SECRET  authenticate with an API token (with --url)\n"
	      "  --fingerprint AA:BB:.. trust the server certificate with this SHA-256 "
	      "fingerprint\n"
	      "\n"
	      "Parameters are given as --name value or --name=value; a boolean may be given as "
	      "--name.\n"
	      "Exit status: 0 on success, 1 when the call fails, 2 on a usage error.\n",
	      f);
}

/* ---- man pages ------------------------------------------------------------------------------- */

static void man_escape(FILE *f, const char *s)
{
	bool bol = true;
	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", f);
		bol = false;
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else if (*s == '\n') {
			fputc('\n', f);
			bol = true;
		} else
			fputc(*s, f);
	}
}

static void man_api(FILE *f, const pve_routes *t)
{
	size_t n = pve_routes_count(t);
	_cleanup_free_ const pve_route **sorted = xcalloc(n + 1, sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = pve_routes_get(t, i);
	/* by path, then GET POST PUT DELETE: a stable order that reads like the API viewer */
	for (size_t i = 1; i < n; i++) {
		for (size_t j = i; j > 0; j--) {
			const pve_route *a = sorted[j - 1], *b = sorted[j];
			int cmp = strcmp(a->path, b->path);
			if (cmp == 0) {
				size_t ia = 0, ib = 0;
				for (size_t k = 0; k < ELEMENTSOF(method_order); k++) {
					if (strcmp(a->method, method_order[k]) == 0)
						ia = k;
					if (strcmp(b->method, method_order[k]) == 0)
						ib = k;
				}
				cmp = (int)ia - (int)ib;
			}
			if (cmp <= 0)
				break;
			sorted[j - 1] = b;
			sorted[j] = a;
		}
	}
	fputs(".SH API\nEvery path below /api2/json, with its methods and their parameters. "
	      "Path placeholders "
	      "such as {node} are given in the path; the other parameters as options.\n",
	      f);
	for (size_t i = 0; i < n; i++) {
		const pve_route *r = sorted[i];
		fprintf(f, ".SS \"%s ", r->method);
		man_escape(f, r->path);
		fprintf(f, "\"\n.B pvectl %s ", method_verb(r->method));
		man_escape(f, r->path);
		fputc('\n', f);
		const cJSON *desc = cJSON_GetObjectItemCaseSensitive(r->info, "description");
		if (cJSON_IsString(desc)) {
			fputs(".PP\n", f);
			man_escape(f, desc->valuestring);
			fputc('\n', f);
		}
		size_t no;
		_cleanup_free_ const char **opts = route_options(r, &no);
		const cJSON *props = cJSON_GetObjectItemCaseSensitive(r->parameters, "properties");
		for (size_t k = 0; k < no; k++) {
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(props, opts[k]);
			_cleanup_free_ char *tt = pvectl_typetext(s);
			fputs(".TP\n\\fB\\-\\-", f);
			man_escape(f, opts[k]);
			fputs("\\fR \\fI", f);
			man_escape(f, tt);
			fputs("\\fR", f);
			if (!is_optional(s))
				fputs(" (required)", f);
			const cJSON *def = cJSON_GetObjectItemCaseSensitive(s, "default");
			if (def) {
				_cleanup_free_ char *d = pvectl_value_text(def);
				fputs(" (default=", f);
				man_escape(f, d);
				fputs(")", f);
			}
			fputc('\n', f);
			const cJSON *pd = cJSON_GetObjectItemCaseSensitive(s, "description");
			if (cJSON_IsString(pd)) {
				man_escape(f, pd->valuestring);
				fputc('\n', f);
			}
		}
	}
}

static void man_pvectl(FILE *f)
{
	fputs(".TH PVECTL 1 \"\" \"pved\" \"pved manual\"\n"
	      ".SH NAME\n"
	      "pvectl \\- call the pved API from the command line\n"
	      ".SH SYNOPSIS\n"
	      ".B pvectl\n"
	      ".RB { ls | get | create | set | delete | usage }\n"
	      ".I path\n"
	      "[\\fB\\-\\-\\fR\\fIparam value\\fR ...]\n"
	      ".RI [ options ]\n"
	      ".br\n"
	      ".B pvectl\n"
	      ".RB { apidoc | help | man | completion\\-script }\n"
	      ".SH DESCRIPTION\n"
	      "pvectl calls the REST API of a pved node, the paths below /api2/json, as pvesh does "
	      "for "
	      "Proxmox VE. It talks to the node's local socket as root (pved takes the caller's "
	      "identity "
	      "from the socket: uid 0 is root@pam), or over HTTPS to any node. Commands, options, "
	      "help and "
	      "completion come from the route table built into pvectl, so they work without a "
	      "running node.\n"
	      ".SH VERBS\n"
	      ".TP\n.BI ls \" path\"\n"
	      "GET \\fIpath\\fR and list its child entries with the methods each offers: D (has "
	      "children), "
	      "r (GET), w (PUT), c (POST), d (DELETE).\n"
	      ".TP\n.BI get \" path\"\nCall GET.\n"
	      ".TP\n.BI create \" path\"\nCall POST.\n"
	      ".TP\n.BI set \" path\"\nCall PUT.\n"
	      ".TP\n.BI delete \" path\"\nCall DELETE.\n"
	      ".TP\n.BI usage \" path\" \" \\fR[\\fP\\-\\-verbose\\fR] [\\fP\\-\\-command "
	      "\\fIverb\\fR]\"\n"
	      "Print the methods of \\fIpath\\fR with their parameters.\n"
	      ".TP\n.BR help \" [\\fIpath\\fR]\"\nPrint the general help, or the full usage of "
	      "\\fIpath\\fR.\n"
	      ".TP\n.B apidoc\nPrint the whole API schema as JSON: a tree of {path, text, leaf, "
	      "children, "
	      "info}, as Proxmox's API viewer data.\n"
	      ".TP\n.BR man \" [pvectl|pved]\"\nPrint a man page.\n"
	      ".TP\n.B completion\\-script\nPrint a bash completion script.\n"
	      ".SH OPTIONS\n"
	      ".TP\n.BI \\-\\-output\\-format \" text|json|json\\-pretty\"\n"
	      "How to print the result; text prints objects and lists as tables.\n"
	      ".TP\n.B \\-\\-async\nDo not wait for a task; print its UPID.\n"
	      ".TP\n.BI \\-\\-root \" dir\"\nThe root of the node to talk to over "
	      "\\fIdir\\fR/run/pved.sock "
	      "(default: $PVED_ROOT, else /).\n"
	      ".TP\n.BI \\-\\-url \" https://host:port\"\nTalk HTTPS to this node.\n"
	      ".TP\n.BI \\-\\-user \" user@realm\"\nLog in as this user (with \\-\\-url).\n"
	      ".TP\n.BI \\-\\-password\\-file \" file\"\nRead the password from the first line of "
	      "\\fIfile\\fR; without it pvectl asks on the terminal.\n"
	      ".TP\n.BI \\-\\-token \" user@realm!id=secret\"\nAuthenticate with an API token.\n"
	      ".TP\n.BI \\-\\-fingerprint \" AA:BB:...\"\nTrust the server certificate whose "
	      "SHA\\-256 "
	      "fingerprint this is, instead of checking it against the system's certificate "
	      "authorities.\n"
	      ".PP\nAPI parameters are given as \\fB\\-\\-name\\fR \\fIvalue\\fR or "
	      "\\fB\\-\\-name=\\fR\\fIvalue\\fR; "
	      "a boolean parameter may be given as \\fB\\-\\-name\\fR alone.\n"
	      ".SH TASKS\n"
	      "When a call starts a task (its result is a UPID), pvectl follows the task log until "
	      "the task "
	      "ends and exits 0 if it ended OK or with warnings, else 1. With \\-\\-async it "
	      "prints the UPID.\n"
	      ".SH EXIT STATUS\n0 on success, 1 when the call or the task failed, 2 on a usage "
	      "error.\n"
	      ".SH ENVIRONMENT\n.TP\n.B PVED_ROOT\nThe default for \\-\\-root.\n",
	      f);
}

static void man_pved(FILE *f)
{
	fputs(".TH PVED 8 \"\" \"pved\" \"pved manual\"\n"
	      ".SH NAME\n"
	      "pved \\- the pved node daemon: the API, tasks, guests\n"
	      ".SH SYNOPSIS\n"
	      ".B pved\n"
	      ".RB [ \\-\\-root \\fIdir\\fR]\n"
	      ".RB [ \\-\\-node \\fIname\\fR]\n"
	      ".RB [ \\-\\-listen \\fIaddress:port\\fR]\n"
	      ".RB [ \\-\\-www \\fIdir\\fR]\n"
	      ".RB [ \\-\\-foreground ]\n"
	      ".RB [ \\-\\-debug ]\n"
	      ".br\n"
	      ".B pved\n"
	      ".RB [ \\-\\-root \\fIdir\\fR]\n"
	      ".RB { \\-\\-check | \\-\\-schema }\n"
	      ".SH DESCRIPTION\n"
	      "pved serves the Proxmox VE compatible REST API below /api2/json through its "
	      "unprivileged HTTPS "
	      "front pved\\-api, and to root on the local socket \\fIroot\\fR/run/pved.sock (see "
	      "\\fBpvectl\\fR(1)). It authenticates and authorizes every request, runs long "
	      "operations as "
	      "tasks, and manages virtual machines and containers.\n"
	      ".SH OPTIONS\n"
	      ".TP\n.BI \\-\\-root \" dir\"\nThe node's root: every path pved touches is under it "
	      "(default /).\n"
	      ".TP\n.BI \\-\\-listen \" address:port\"\nWhere the HTTPS API listens (default "
	      "[::]:8006).\n"
	      ".TP\n.BI \\-\\-node \" name\"\nThis node's name (default: the host name).\n"
	      ".TP\n.BI \\-\\-www \" dir\"\nThe web interface's files.\n"
	      ".TP\n.B \\-\\-foreground\nLog to stderr instead of syslog.\n"
	      ".TP\n.B \\-\\-debug\nLog debug messages too.\n"
	      ".TP\n.B \\-\\-check\nParse and validate every configuration file under the root, "
	      "print what "
	      "was understood, and exit.\n"
	      ".TP\n.B \\-\\-schema\nPrint the API schema as JSON and exit.\n"
	      ".SH FILES\n"
	      ".TP\n.I etc/pve/\nThe cluster configuration: user.cfg, storage.cfg, datacenter.cfg, "
	      "priv/, nodes/\\fInode\\fR/.\n"
	      ".TP\n.I etc/pve/priv/initial\\-admin\\-password\nThe password of admin@pve, written "
	      "at the first "
	      "start.\n"
	      ".TP\n.I var/log/pve/tasks/\nTask logs.\n"
	      ".TP\n.I run/pved.sock\nThe local API socket.\n"
	      ".TP\n.I run/pved.pid\nThe pid file, locked while pved runs.\n"
	      ".PP\nAll paths are below the node's root (\\-\\-root, default /).\n",
	      f);
}

int pvectl_cmd_man(pvectl *c, const char *which)
{
	if (!which || strcmp(which, "pvectl") == 0)
		man_pvectl(stdout);
	else if (strcmp(which, "pved") == 0)
		man_pved(stdout);
	else {
		fprintf(stderr, "%s: no man page '%s' (pvectl or pved)\n",
			program_invocation_short_name, which);
		return PVECTL_EXIT_USAGE;
	}
	man_api(stdout, c->routes);
	fputs(".SH SEE ALSO\n", stdout);
	fputs(which && strcmp(which, "pved") == 0 ? ".BR pvectl (1)\n" : ".BR pved (8)\n", stdout);
	return PVECTL_EXIT_OK;
}

/* ---- bash completion ------------------------------------------------------------------------- */

void pvectl_print_completion_script(FILE *f)
{
	fputs("# bash completion for pvectl; generated by `pvectl completion-script`.\n"
	      "_pvectl()\n"
	      "{\n"
	      "\tlocal IFS=$'\\n'\n"
	      "\tCOMPREPLY=($(\"${COMP_WORDS[0]}\" bashcomplete \"$COMP_CWORD\" "
	      "\"${COMP_WORDS[@]}\" "
	      "2>/dev/null))\n"
	      "\t# a directory path goes on: no space after it\n"
	      "\tif [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == */ ]]; then\n"
	      "\t\tcompopt -o nospace\n"
	      "\tfi\n"
	      "}\n"
	      "# pvesh is pvectl under pvesh's name (make install links it)\n"
	      "complete -o default -F _pvectl pvectl pvesh\n",
	      f);
}

/* Options pvectl itself takes; has_value: whether the next word is their value. */
static const struct {
	const char *name;
	bool has_value;
	bool usage_only;
} own_options[] = {
	{ "output-format", true, false }, { "async", false, false },
	{ "root", true, false },	  { "url", true, false },
	{ "user", true, false },	  { "password-file", true, false },
	{ "token", true, false },	  { "fingerprint", true, false },
	{ "verbose", false, true },	  { "command", true, true },
};

static int own_option(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(own_options); i++)
		if (strcmp(own_options[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void emit(const char *cand, const char *prefix)
{
	if (strncmp(cand, prefix, strlen(prefix)) == 0)
		printf("%s\n", cand);
}

/* Names for a {node} placeholder: the nodes the root knows, else this host's name. */
static void emit_nodes(const char *root, const char *dirpart, const char *partial,
		       bool has_children)
{
	_cleanup_free_ char *dir = xasprintf("%s/etc/pve/nodes", root ? root : "/");
	DIR *d = opendir(dir);
	bool any = false;
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			_cleanup_free_ char *cand =
				xasprintf("%s%s%s", dirpart, e->d_name, has_children ? "/" : "");
			emit(cand, partial);
			any = true;
		}
		closedir(d);
	}
	if (!any) {
		char host[256] = "";
		if (gethostname(host, sizeof(host) - 1) == 0 && host[0]) {
			host[strcspn(host, ".")] = '\0';
			_cleanup_free_ char *cand =
				xasprintf("%s%s%s", dirpart, host, has_children ? "/" : "");
			emit(cand, partial);
		}
	}
}

static void complete_path(pvectl *c, const char *root, const char *cur)
{
	const char *slash = strrchr(cur, '/');
	_cleanup_free_ char *dirpart = slash ? xstrndup(cur, (size_t)(slash - cur + 1)) :
					       xstrdup("");
	_cleanup_free_ char *lookup = pvectl_normalize_path(dirpart[0] ? dirpart : "/");
	_cleanup_strv_free_ char **children = pve_routes_children(c->routes, lookup);
	for (size_t i = 0; children[i]; i++) {
		_cleanup_free_ char *tpath =
			xasprintf("%s/%s", strcmp(lookup, "/") == 0 ? "" : lookup, children[i]);
		_cleanup_strv_free_ char **grand = pve_routes_children(c->routes, tpath);
		bool has_children = grand[0] != NULL;
		if (strcmp(children[i], "{node}") == 0) {
			emit_nodes(root, dirpart, cur, has_children);
			continue;
		}
		_cleanup_free_ char *cand =
			xasprintf("%s%s%s", dirpart, children[i], has_children ? "/" : "");
		emit(cand, cur);
	}
}

static const cJSON *param_schema(pvectl *c, const char *verb, const char *path, const char *name)
{
	const char *method = verb && path ? pvectl_verb_method(verb) : NULL;
	if (!method)
		return NULL;
	_cleanup_free_ char *norm = pvectl_normalize_path(path);
	const pve_route *r = pve_routes_match(c->routes, method, norm, NULL, NULL);
	if (!r)
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(r->parameters, "properties"), name);
}

int pvectl_cmd_bashcomplete(pvectl *c, int argc, char **argv)
{
	if (argc < 1)
		return PVECTL_EXIT_USAGE;
	int cword = atoi(argv[0]);
	char **words = argv + 1;
	int n = argc - 1;
	if (cword < 1 || cword > n)
		return PVECTL_EXIT_OK;
	const char *cur = cword < n ? words[cword] : "";
	if (strcmp(cur, "=") == 0)
		cur = "";

	const char *verb = NULL, *path = NULL, *root = c->root, *pending = NULL;
	char **given = xcalloc((size_t)n + 1, sizeof(char *));
	size_t n_given = 0;
	for (int i = 1; i < cword; i++) {
		const char *w = words[i];
		pending = NULL;
		if (w[0] == '-' && w[1]) {
			const char *name = w + (w[1] == '-' ? 2 : 1);
			const char *eq = strchr(name, '=');
			_cleanup_free_ char *nm = eq ? xstrndup(name, (size_t)(eq - name)) :
						       xstrdup(name);
			int o = own_option(nm);
			if (o < 0)
				given[n_given++] = xstrdup(nm);
			if (eq)
				continue;
			bool takes = o >= 0 ? own_options[o].has_value : true;
			if (o < 0) {
				const cJSON *s = param_schema(c, verb, path, nm);
				const cJSON *ty = cJSON_GetObjectItemCaseSensitive(s, "type");
				/* a boolean may stand alone: the next word is its value
				 * only if it is not an option */
				if (cJSON_IsString(ty) && strcmp(ty->valuestring, "boolean") == 0 &&
				    i + 1 < cword && words[i + 1][0] == '-')
					takes = false;
			}
			if (!takes)
				continue;
			/* bash splits "--name=value" at the '=' into three words */
			int v = i + 1;
			if (v < cword && strcmp(words[v], "=") == 0)
				v++;
			if (v == cword) {
				pending = w;
				break;
			}
			if (o >= 0 && strcmp(nm, "root") == 0)
				root = words[v];
			i = v;
		} else if (!verb) {
			verb = w;
		} else if (!path) {
			path = w;
		}
	}

	if (pending) {
		const char *name = pending + (pending[1] == '-' ? 2 : 1);
		if (strcmp(name, "output-format") == 0) {
			emit("text", cur);
			emit("json", cur);
			emit("json-pretty", cur);
		} else if (strcmp(name, "command") == 0) {
			for (size_t i = 1; i <= 4; i++)
				emit(verbs[i], cur);
		} else if (own_option(name) < 0) {
			const cJSON *s = param_schema(c, verb, path, name);
			const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "enum");
			const cJSON *ty = cJSON_GetObjectItemCaseSensitive(s, "type");
			const cJSON *v;
			if (cJSON_IsArray(en)) {
				cJSON_ArrayForEach (v, en) {
					_cleanup_free_ char *t = pvectl_value_text(v);
					emit(t, cur);
				}
			} else if (cJSON_IsString(ty) && strcmp(ty->valuestring, "boolean") == 0) {
				emit("0", cur);
				emit("1", cur);
			}
		}
	} else if (cur[0] == '-') {
		for (size_t i = 0; i < ELEMENTSOF(own_options); i++) {
			if (own_options[i].usage_only && !(verb && strcmp(verb, "usage") == 0))
				continue;
			_cleanup_free_ char *o = xasprintf("--%s", own_options[i].name);
			emit(o, cur);
		}
		const char *method = verb && path ? pvectl_verb_method(verb) : NULL;
		_cleanup_free_ char *norm = path ? pvectl_normalize_path(path) : NULL;
		const pve_route *r =
			method ? pve_routes_match(c->routes, method, norm, NULL, NULL) : NULL;
		if (r) {
			size_t no;
			_cleanup_free_ const char **opts = route_options(r, &no);
			for (size_t i = 0; i < no; i++) {
				bool dup = false;
				for (size_t k = 0; k < n_given; k++)
					dup |= strcmp(given[k], opts[i]) == 0;
				if (dup)
					continue;
				_cleanup_free_ char *o = xasprintf("--%s", opts[i]);
				emit(o, cur);
			}
		}
	} else if (!verb) {
		for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
			emit(verbs[i], cur);
	} else if (!path && (pvectl_verb_method(verb) || strcmp(verb, "ls") == 0 ||
			     strcmp(verb, "usage") == 0 || strcmp(verb, "help") == 0)) {
		complete_path(c, root, cur);
	} else if (!path && strcmp(verb, "man") == 0) {
		emit("pvectl", cur);
		emit("pved", cur);
	}
	for (size_t i = 0; i < n_given; i++)
		free(given[i]);
	free(given);
	return PVECTL_EXIT_OK;
}

/* pvectl storage: pvesm's verbs (add, set, remove, status, list, alloc, free, scan, upload,
 * prune-backups) as a table of verb -> method, route and positional parameters, each a call through
 * pvectl's transport, with the tasks they start followed to their end as pvesm does; and path, export
 * and import, which like pvesm's have no API route: they run here, on the node, reading storage.cfg
 * through the config store. */
#include <fcntl.h>
#include <signal.h>
#include <time.h>

#include "cluster/cluster.h"
#include "storage/storage.h"
#include "tools/pvectl-internal.h"

#define TASK_WAIT_MAX_NS (100 * 1000 * 1000L) /* polls start at 1 ms and double up to this */

/* How a verb finds its way to a route. */
enum sverb_kind {
	SV_PLAIN, /* positionals fill the path's placeholders and parameters, in order */
	SV_VOLUME, /* the first positional is a volume ID: its storage goes into the path */
	SV_PATH, /* a volume's path, computed here from storage.cfg (pvesm path) */
	SV_PRUNE, /* prune-backups: the keep options make the prune-backups parameter */
	SV_UPLOAD, /* a local file into a storage: download-url from file:// */
	SV_EXPORT, /* a volume as a stream, in this process (pvesm export) */
	SV_IMPORT, /* a stream into a new volume, in this process (pvesm import) */
};

typedef struct sverb {
	const char *verb;
	const char *method;
	const char *
		path; /* {node} is this node; other placeholders come from positionals or options */
	const char *positional[5]; /* parameter names of the positional words, NULL-terminated */
	enum sverb_kind kind;
	const char *usage;
} sverb;

static const sverb verbs[] = {
	{ "add",
	  "POST",
	  "/storage",
	  { "type", "storage" },
	  SV_PLAIN,
	  "add <type> <storage> [--path P] [--content C] [OPTIONS]" },
	{ "set", "PUT", "/storage/{storage}", { "storage" }, SV_PLAIN, "set <storage> [OPTIONS]" },
	{ "remove", "DELETE", "/storage/{storage}", { "storage" }, SV_PLAIN, "remove <storage>" },
	{ "status",
	  "GET",
	  "/nodes/{node}/storage",
	  { NULL },
	  SV_PLAIN,
	  "status [--storage S] [--content C] [--enabled 1]" },
	{ "list",
	  "GET",
	  "/nodes/{node}/storage/{storage}/content",
	  { "storage" },
	  SV_PLAIN,
	  "list <storage> [--content C] [--vmid N]" },
	{ "alloc",
	  "POST",
	  "/nodes/{node}/storage/{storage}/content",
	  { "storage", "vmid", "filename", "size" },
	  SV_PLAIN,
	  "alloc <storage> <vmid> <filename> <size> [--format raw|qcow2|vmdk]" },
	{ "free",
	  "DELETE",
	  "/nodes/{node}/storage/{storage}/content/{volume}",
	  { "volume" },
	  SV_VOLUME,
	  "free <volume>" },
	{ "path", NULL, NULL, { "volume" }, SV_PATH, "path <volume>" },
	{ "prune-backups",
	  "GET",
	  "/nodes/{node}/storage/{storage}/prunebackups",
	  { "storage" },
	  SV_PRUNE,
	  "prune-backups <storage> [--dry-run 1] [--keep-last N] [--keep-hourly N] [--keep-daily N] "
	  "[--keep-weekly N] [--keep-monthly N] [--keep-yearly N] [--keep-all 1] [--type qemu|lxc] "
	  "[--vmid N]" },
	{ "scan",
	  "GET",
	  "/nodes/{node}/scan/{type}",
	  { "type" },
	  SV_PLAIN,
	  "scan <nfs|cifs|iscsi|lvm|lvmthin> [OPTIONS]" },
	{ "upload",
	  "POST",
	  "/nodes/{node}/storage/{storage}/download-url",
	  { "volume", "file" },
	  SV_UPLOAD,
	  "upload <storage>:<iso|vztmpl|import>/<name> <local file> [--checksum ...]" },
	{ "export",
	  NULL,
	  NULL,
	  { "volume", "format", "filename" },
	  SV_EXPORT,
	  "export <volume> <raw+size|qcow2+size|vmdk+size|tar+size> <filename|-> [--snapshot S]" },
	{ "import",
	  NULL,
	  NULL,
	  { "volume", "format", "filename" },
	  SV_IMPORT,
	  "import <volume> <raw+size|qcow2+size|vmdk+size|tar+size> <filename|-> [--allow-rename 1]" },
};

static int usage(const char *fmt, ...) _printf_(1, 2);
static int usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pvectl storage: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return PVECTL_EXIT_USAGE;
}

static void print_usage(FILE *f)
{
	fputs("usage: pvectl storage <verb> ...\n", f);
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		fprintf(f, "  pvectl storage %s\n", verbs[i].usage);
}

static int api_failed(const pve_client_response *r)
{
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(r->body, "message");
	fprintf(stderr, "%d %s\n", r->status,
		cJSON_IsString(msg) ? msg->valuestring :
		r->reason	    ? r->reason :
				      "");
	const cJSON *errors = cJSON_GetObjectItemCaseSensitive(r->body, "errors"), *e;
	cJSON_ArrayForEach (e, errors)
		if (cJSON_IsString(e))
			fprintf(stderr, "%s: %s\n", e->string, e->valuestring);
	return PVECTL_EXIT_FAIL;
}

/* This node's name: the first of GET /nodes (a node answers for itself). */
static int local_node(pvectl *c, char **ret, pve_error **err)
{
	pve_client_response resp = { 0 };
	int r = pvectl_call(c, "GET", "/nodes", NULL, &resp, err);
	if (r < 0)
		return r;
	const cJSON *first =
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(resp.body, "data"), 0);
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(first, "node");
	if (resp.status != 200 || !cJSON_IsString(node)) {
		r = pve_error_set(err, EPROTO, "cannot find this node's name (GET /nodes: %d)",
				  resp.status);
	} else {
		*ret = xstrdup(node->valuestring);
	}
	pve_client_response_clear(&resp);
	return r;
}

/* Follows a task to its end with short polls (a storage task is often over in milliseconds); prints
 * its log when it failed. */
static int follow_task(pvectl *c, const char *node, const char *upid)
{
	/* The transport escapes the path. */
	_cleanup_free_ char *status_path = xasprintf("/nodes/%s/tasks/%s/status", node, upid);
	long wait_ns = 1000 * 1000L;
	for (;;) {
		pve_client_response resp = { 0 };
		_cleanup_error_ pve_error *err = NULL;
		if (pvectl_call(c, "GET", status_path, NULL, &resp, &err) < 0) {
			fprintf(stderr, "pvectl storage: %s\n", err->message);
			return PVECTL_EXIT_FAIL;
		}
		if (resp.status != 200) {
			int ex = api_failed(&resp);
			pve_client_response_clear(&resp);
			return ex;
		}
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(resp.body, "data");
		const char *st =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "status"));
		if (st && strcmp(st, "running") != 0) {
			const char *ex = cJSON_GetStringValue(
				cJSON_GetObjectItemCaseSensitive(data, "exitstatus"));
			int rc = PVECTL_EXIT_OK;
			if (!ex || (strcmp(ex, "OK") != 0 && strncmp(ex, "WARNINGS", 8) != 0)) {
				fprintf(stderr, "pvectl storage: task failed: %s\n",
					ex ? ex : "unknown");
				rc = PVECTL_EXIT_FAIL;
			}
			pve_client_response_clear(&resp);
			return rc;
		}
		pve_client_response_clear(&resp);
		struct timespec ts = { 0, wait_ns };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		if (wait_ns < TASK_WAIT_MAX_NS)
			wait_ns *= 2;
	}
}

/* The route's path with {node} and the placeholders in params put in (the transport escapes it). */
static int fill_path(const char *tmpl, const char *node, cJSON *params, char **ret)
{
	pve_buf b = { 0 };
	for (const char *p = tmpl; *p;) {
		const char *open = strchr(p, '{');
		const char *close = open ? strchr(open, '}') : NULL;
		if (!open || !close) {
			pve_buf_puts(&b, p);
			break;
		}
		pve_buf_append(&b, p, (size_t)(open - p));
		_cleanup_free_ char *name = xstrndup(open + 1, (size_t)(close - open - 1));
		const char *v = streq(name, "node") ?
					node :
					cJSON_GetStringValue(
						cJSON_GetObjectItemCaseSensitive(params, name));
		if (!v) {
			pve_buf_free(&b);
			return usage("missing <%s>", name);
		}
		pve_buf_puts(&b, v);
		/* A placeholder goes in the path only: the body must not repeat it differently. */
		if (!streq(name, "node"))
			cJSON_DeleteItemFromObjectCaseSensitive(params, name);
		p = close + 1;
	}
	*ret = pve_buf_steal(&b);
	return 0;
}

/* The storage of a volume ID from <root>/etc/pve/storage.cfg (not activated). */
static int local_storage_cfg(pvectl *c, const char *volid, pve_sectioncfg **ret_cfg,
			     pve_storage *ret, char **ret_volname, pve_error **err)
{
	_cleanup_free_ char *sid = NULL, *volname = NULL, *text = NULL;
	if (pve_storage_volid_split(volid, &sid, &volname, err) < 0)
		return -EINVAL;
	pve_store *store = NULL;
	int r = pve_store_open(c->root, &store, err);
	if (r < 0)
		return r;
	size_t len = 0;
	pve_error *e = NULL;
	r = pve_store_read(store, "storage.cfg", &text, &len, NULL, &e);
	pve_store_free(store);
	if (r == -ENOENT) {
		pve_error_free(e);
		return pve_error_set(err, ENOENT, "storage '%s' does not exist", sid);
	}
	if (r < 0) {
		if (err)
			*err = e;
		else
			pve_error_free(e);
		return r;
	}
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	if ((r = pve_storage_cfg_parse(text, len, &cfg, err)) < 0 ||
	    (r = pve_storage_get(cfg, sid, ret, err)) < 0)
		return r;
	*ret_cfg = TAKE_PTR(cfg);
	*ret_volname = TAKE_PTR(volname);
	return 0;
}

/* The storage of a volume ID, enabled and active. */
static int local_storage(pvectl *c, const char *volid, pve_sectioncfg **ret_cfg, pve_storage *ret,
			 char **ret_volname, pve_error **err)
{
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	_cleanup_free_ char *volname = NULL;
	int r = local_storage_cfg(c, volid, &cfg, ret, &volname, err);
	if (r < 0)
		return r;
	if (ret->disabled)
		return pve_error_set(err, EINVAL, "storage '%s' is disabled", ret->id);
	if ((r = pve_storage_activate(ret, err)) < 0)
		return r;
	*ret_cfg = TAKE_PTR(cfg);
	*ret_volname = TAKE_PTR(volname);
	return 0;
}

/* pvesm path: the path computed from storage.cfg, as the storage names it, without activating the
 * storage or looking at the file (a missing or empty image has a path as well). */
static int run_path(pvectl *c, const sverb *v, const char *const *words, size_t n_opts)
{
	if (c->url)
		return usage("%s runs on the node, as pvesm's: no --url", v->verb);
	if (n_opts)
		return usage("usage: pvectl storage %s", v->usage);
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	_cleanup_free_ char *volname = NULL, *path = NULL;
	pve_storage st;
	if (local_storage_cfg(c, words[0], &cfg, &st, &volname, &err) < 0 ||
	    pve_storage_path(&st, volname, NULL, &path, &err) < 0) {
		fprintf(stderr, "pvectl storage %s: %s\n", v->verb, err->message);
		return PVECTL_EXIT_FAIL;
	}
	printf("%s\n", path);
	return PVECTL_EXIT_OK;
}

/* pvesm export and import: a stream between a volume and a file, stdin or stdout. */
static int run_stream(pvectl *c, const sverb *v, const char *const *words, const pvectl_opt *opts,
		      size_t n_opts)
{
	bool export = v->kind == SV_EXPORT;
	const char *snap = NULL;
	bool allow_rename = false;
	if (c->url)
		return usage("%s runs on the node, as pvesm's: no --url", v->verb);
	for (size_t i = 0; i < n_opts; i++) {
		const char *n = opts[i].name, *val = opts[i].value ? opts[i].value : "1";
		bool b = false;
		if (export && streq(n, "snapshot") && opts[i].value) {
			snap = val;
		} else if (!export && streq(n, "allow-rename")) {
			if (pve_parse_bool(val, &allow_rename) < 0)
				return usage("--allow-rename: '%s' is not a boolean", val);
		} else if (streq(n, "with-snapshots")) {
			if (pve_parse_bool(val, &b) < 0)
				return usage("--with-snapshots: '%s' is not a boolean", val);
			if (b)
				return usage("%s --with-snapshots is not supported", v->verb);
		} else {
			return usage(
				"%s: unknown or unsupported option '--%s' (usage: pvectl storage %s)",
				v->verb, n, v->usage);
		}
	}
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	_cleanup_free_ char *volname = NULL;
	pve_storage st;
	if (local_storage(c, words[0], &cfg, &st, &volname, &err) < 0) {
		fprintf(stderr, "pvectl storage %s: %s\n", v->verb, err->message);
		return PVECTL_EXIT_FAIL;
	}
	const char *file = words[2];
	bool std = streq(file, "-");
	int fd = std	? (export ? STDOUT_FILENO : STDIN_FILENO) :
		 export ? open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) :
			  open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "pvectl storage %s: unable to open '%s': %m\n", v->verb, file);
		return PVECTL_EXIT_FAIL;
	}
	int r;
	_cleanup_free_ char *newvol = NULL;
	if (export) {
		r = pve_storage_volume_export(&st, volname, words[1], snap, fd, &err);
	} else {
		/* an import killed half way would leave its volume: the signals that end a pipeline
		 * stay blocked to the end of the process (a writer they kill ends our stream, and
		 * the import cleans up; the tools it runs get them as usual) */
		sigset_t block;
		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGTERM);
		sigaddset(&block, SIGHUP);
		sigprocmask(SIG_BLOCK, &block, NULL);
		r = pve_storage_volume_import(&st, volname, words[1], fd, allow_rename, &newvol,
					      &err);
	}
	if (!std && close(fd) < 0 && r >= 0) {
		r = -errno;
		pve_error_set(&err, errno, "unable to write '%s': %m", file);
	}
	if (r < 0) {
		/* a partial export file is no export */
		if (export && !std)
			unlink(file);
		fprintf(stderr, "pvectl storage %s: %s\n", v->verb,
			err ? err->message : strerror(-r));
		return PVECTL_EXIT_FAIL;
	}
	if (!export)
		printf("successfully imported '%s:%s'\n", st.id, newvol);
	return PVECTL_EXIT_OK;
}

/* pvesm prune-backups: the keep options become the prune-backups parameter, --dry-run a GET (the
 * preview) instead of the DELETE (the task). */
static int prune_params(cJSON *params, const char **ret_method)
{
	static const char *const keeps[] = { "keep-all",   "keep-daily",   "keep-hourly",
					     "keep-last",  "keep-monthly", "keep-weekly",
					     "keep-yearly" };
	pve_buf b = { 0 };
	for (size_t i = 0; i < ELEMENTSOF(keeps); i++) {
		const char *val =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, keeps[i]));
		if (!val)
			continue;
		if (strpbrk(val, ",="))
			return usage("--%s: '%s' is not a number", keeps[i], val);
		pve_buf_printf(&b, "%s%s=%s", b.len ? "," : "", keeps[i], val);
		cJSON_DeleteItemFromObjectCaseSensitive(params, keeps[i]);
	}
	if (b.len)
		cJSON_AddStringToObject(params, "prune-backups", b.data);
	pve_buf_free(&b);
	bool dry = false;
	const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "dry-run"));
	if (d && pve_parse_bool(d, &dry) < 0)
		return usage("--dry-run: '%s' is not a boolean", d);
	cJSON_DeleteItemFromObjectCaseSensitive(params, "dry-run");
	*ret_method = dry ? "GET" : "DELETE";
	return 0;
}

/* (vmid, ctime) order, backups of no guest first, as pvesm sorts them. */
static int cmp_prune(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	const cJSON *vx = cJSON_GetObjectItemCaseSensitive(x, "vmid");
	const cJSON *vy = cJSON_GetObjectItemCaseSensitive(y, "vmid");
	if (!cJSON_IsNumber(vx) != !cJSON_IsNumber(vy))
		return cJSON_IsNumber(vx) ? 1 : -1;
	if (cJSON_IsNumber(vx) && vx->valuedouble != vy->valuedouble)
		return vx->valuedouble < vy->valuedouble ? -1 : 1;
	double cx = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "ctime"));
	double cy = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(y, "ctime"));
	return cx < cy ? -1 : cx > cy;
}

/* pvesm's preview table. */
static void print_prune_list(const cJSON *list)
{
	int n = cJSON_GetArraySize(list);
	if (n <= 0) {
		printf("No backups found\n");
		return;
	}
	printf("NOTE: this is only a preview and might not be what a subsequent\n"
	       "prune call does if backups are removed/added in the meantime.\n\n");
	const cJSON **v = xcalloc((size_t)n, sizeof(*v));
	int maxlen = 0;
	for (int i = 0; i < n; i++) {
		v[i] = cJSON_GetArrayItem(list, i);
		const char *volid =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v[i], "volid"));
		if (volid && (int)strlen(volid) > maxlen)
			maxlen = (int)strlen(volid);
	}
	maxlen += 1;
	qsort(v, (size_t)n, sizeof(*v), cmp_prune);
	printf("%-*s %15s %10s\n", maxlen, "Backup", "Backup-ID", "Prune-Mark");
	for (int i = 0; i < n; i++) {
		const char *volid =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v[i], "volid"));
		const char *type =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v[i], "type"));
		const char *mark =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v[i], "mark"));
		const cJSON *vmid = cJSON_GetObjectItemCaseSensitive(v[i], "vmid");
		_cleanup_free_ char *id = cJSON_IsNumber(vmid) ?
						  xasprintf("%s/%lld", type ? type : "",
							    (long long)vmid->valuedouble) :
						  xstrdup(type ? type : "");
		printf("%-*s %15s %10s\n", maxlen, volid ? volid : "", id, mark ? mark : "");
	}
	free(v);
}

/* A task's log lines, as pvesm shows a prune's removals in the foreground. */
static void print_task_log(pvectl *c, const char *node, const char *upid)
{
	_cleanup_free_ char *path = xasprintf("/nodes/%s/tasks/%s/log", node, upid);
	cJSON *params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "limit", "100000");
	pve_client_response resp = { 0 };
	_cleanup_error_ pve_error *err = NULL;
	if (pvectl_call(c, "GET", path, params, &resp, &err) == 0 && resp.status == 200) {
		const cJSON *line;
		cJSON_ArrayForEach (line, cJSON_GetObjectItemCaseSensitive(resp.body, "data")) {
			const char *t =
				cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(line, "t"));
			/* the worker's own first and last lines are the task's, not the prune's */
			if (t && !startswith(t, "TASK ") && !strstr(t, "starting task"))
				printf("%s\n", t);
		}
	}
	cJSON_Delete(params);
	pve_client_response_clear(&resp);
}

static int run_verb(pvectl *c, const sverb *v, const char *const *words, size_t n_words,
		    const pvectl_opt *opts, size_t n_opts)
{
	size_t n_pos = 0;
	while (n_pos < ELEMENTSOF(v->positional) && v->positional[n_pos])
		n_pos++;
	if (n_words != n_pos)
		return usage("usage: pvectl storage %s", v->usage);
	if (v->kind == SV_EXPORT || v->kind == SV_IMPORT)
		return run_stream(c, v, words, opts, n_opts);
	if (v->kind == SV_PATH)
		return run_path(c, v, words, n_opts);
	if (c->url && v->kind == SV_UPLOAD)
		return usage("upload reads a file on the node: use it on the node (no --url)");

	cJSON *params = cJSON_CreateObject();
	for (size_t i = 0; i < n_pos; i++)
		cJSON_AddStringToObject(params, v->positional[i], words[i]);
	for (size_t i = 0; i < n_opts; i++) {
		if (cJSON_GetObjectItemCaseSensitive(params, opts[i].name)) {
			cJSON_Delete(params);
			return usage("parameter '%s' given twice", opts[i].name);
		}
		cJSON_AddStringToObject(params, opts[i].name, opts[i].value ? opts[i].value : "1");
	}
	const char *method = v->method;
	if (v->kind == SV_PRUNE) {
		int ex = prune_params(params, &method);
		if (ex) {
			cJSON_Delete(params);
			return ex;
		}
	}
	if (v->kind == SV_VOLUME) {
		const char *vol = words[0];
		const char *colon = strchr(vol, ':');
		if (!colon || colon == vol) {
			cJSON_Delete(params);
			return usage("'%s' is not a volume ID (STORAGE:NAME)", vol);
		}
		_cleanup_free_ char *sid = xstrndup(vol, (size_t)(colon - vol));
		cJSON_AddStringToObject(params, "storage", sid);
	}
	if (v->kind == SV_UPLOAD) {
		const char *vol = words[0];
		const char *colon = strchr(vol, ':');
		const char *slash = colon ? strchr(colon, '/') : NULL;
		_cleanup_free_ char *abs = realpath(words[1], NULL);
		if (!colon || colon == vol || !slash || !slash[1] || !abs) {
			cJSON_Delete(params);
			if (!abs)
				return usage("upload: cannot find '%s': %m", words[1]);
			return usage("upload: '%s' is not STORAGE:CONTENT/NAME", vol);
		}
		cJSON_DeleteItemFromObjectCaseSensitive(params, "volume");
		cJSON_DeleteItemFromObjectCaseSensitive(params, "file");
		_cleanup_free_ char *sid = xstrndup(vol, (size_t)(colon - vol));
		_cleanup_free_ char *content = xstrndup(colon + 1, (size_t)(slash - colon - 1));
		_cleanup_free_ char *url = xasprintf("file://%s", abs);
		cJSON_AddStringToObject(params, "storage", sid);
		cJSON_AddStringToObject(params, "content", content);
		cJSON_AddStringToObject(params, "filename", slash + 1);
		cJSON_AddStringToObject(params, "url", url);
	}

	_cleanup_error_ pve_error *err = NULL;
	_cleanup_free_ char *node = NULL, *path = NULL;
	if (strstr(v->path, "{node}") && local_node(c, &node, &err) < 0) {
		cJSON_Delete(params);
		fprintf(stderr, "pvectl storage: %s\n", err->message);
		return PVECTL_EXIT_FAIL;
	}
	int ex = fill_path(v->path, node, params, &path);
	if (ex) {
		cJSON_Delete(params);
		return ex;
	}
	if (!pve_routes_match(c->routes, method, path, NULL, NULL)) {
		cJSON_Delete(params);
		return usage("%s: pved has no API route %s %s yet", v->verb, method, v->path);
	}
	pve_client_response resp = { 0 };
	int r = pvectl_call(c, method, path, params, &resp, &err);
	cJSON_Delete(params);
	if (r < 0) {
		fprintf(stderr, "pvectl storage: %s\n", err->message);
		return PVECTL_EXIT_FAIL;
	}
	if (resp.status != 200) {
		ex = api_failed(&resp);
		pve_client_response_clear(&resp);
		return ex;
	}
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(resp.body, "data");
	ex = PVECTL_EXIT_OK;
	if (cJSON_IsString(data) && strncmp(data->valuestring, "UPID:", 5) == 0 && !c->async) {
		ex = follow_task(c, node, data->valuestring);
		if (v->kind == SV_PRUNE)
			print_task_log(c, node, data->valuestring);
	} else if (v->kind == SV_PRUNE) {
		print_prune_list(data);
	} else if (streq(v->verb, "alloc") && cJSON_IsString(data)) {
		printf("successfully created '%s'\n", data->valuestring);
	} else if (!cJSON_IsNull(data)) {
		const pve_route *route = pve_routes_match(c->routes, method, path, NULL, NULL);
		pvectl_print_data(stdout, data,
				  route ? cJSON_GetObjectItemCaseSensitive(route->info, "returns") :
					  NULL,
				  &c->fmt);
	}
	pve_client_response_clear(&resp);
	return ex;
}

int pvectl_cmd_storage(pvectl *c, const char *const *words, size_t n_words, const pvectl_opt *opts,
		       size_t n_opts)
{
	if (n_words == 0 || streq(words[0], "help")) {
		print_usage(n_words ? stdout : stderr);
		return n_words ? PVECTL_EXIT_OK : PVECTL_EXIT_USAGE;
	}
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (streq(verbs[i].verb, words[0]))
			return run_verb(c, &verbs[i], words + 1, n_words - 1, opts, n_opts);
	return usage("unknown verb '%s' (see: pvectl storage help)", words[0]);
}

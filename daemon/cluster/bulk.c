/* /cluster/bulk-action: the cluster's guests started, shut down or suspended in their startup order by a
 * task that calls this node's own API with the caller's credentials, as Proxmox's BulkAction/Guest.pm. */
#include <limits.h>
#include <unistd.h>

#include "client/client.h"
#include "daemon/cluster/cluster-internal.h"
#include "daemon/core/tasks-internal.h"

/* vms travels in the task's args (PVED_TASK_MAX_ARGS): 4096 ids of up to 9 digits fit well. */
#define BULK_MAX_VMS 4096
#define BULK_DEFAULT_WORKERS 4
/* Proxmox's client timeout: slightly shorter than its proxy's wait for the daemon. */
#define BULK_CALL_TIMEOUT_SEC 25
/* Proxmox looks at its guests' tasks once a second, and asks again up to 3 times when a look fails. */
#define BULK_POLL_SEC 1
#define BULK_STATUS_RETRIES 3
#define BULK_SHUTDOWN_TIMEOUT_SEC 180

typedef enum bulk_kind {
	BULK_START,
	BULK_SHUTDOWN,
	BULK_SUSPEND,
} bulk_kind;

typedef struct bulk_action {
	const char *type; /* the task's */
	const char *verb; /* its first line's */
	const char *failed; /* its error's, before the ids */
} bulk_action;

static const bulk_action actions[] = {
	[BULK_START] = { "bulk-start", "Starting", "Some guests failed to start: " },
	/* (Proxmox's texts, without a colon) */
	[BULK_SHUTDOWN] = { "bulk-shutdown", "Shutting down", "Some guests failed to shutdown " },
	[BULK_SUSPEND] = { "bulk-suspend", "Suspending", "Some guests failed to suspend " },
};

/* ---- the handlers ---- */

/* Proxmox's check_guest_permissions: priv on each /vms/ID of vms, or on / without vms. */
static bool guests_permitted(pved_call *c, const cJSON *vms, const char *priv)
{
	if (cJSON_GetArraySize(vms) == 0) {
		if (pved_call_permitted(c, "/", priv))
			return true;
		pved_call_fail_statusf(c, 403, "Permission check failed (/, %s)", priv);
		return false;
	}
	const cJSON *v;
	cJSON_ArrayForEach (v, vms) {
		_cleanup_free_ char *path = xasprintf("/vms/%lld", (long long)v->valuedouble);
		if (!pved_call_permitted(c, path, priv)) {
			pved_call_fail_statusf(c, 403, "Permission check failed (%s, %s)", path,
					       priv);
			return false;
		}
	}
	return true;
}

/* Proxmox's get_max_workers: the parameter, its alias, datacenter.cfg's max_workers, or 4. */
static long long max_workers(pved_call *c)
{
	long long n = pved_call_int(c, "max-workers", 0);
	if (n <= 0)
		n = pved_call_int(c, "maxworkers", 0);
	if (n <= 0) {
		_cleanup_free_ char *dc = pved_datacenter_option(c->d, "max_workers");
		if (!dc || pve_parse_int(dc, 1, INT_MAX, &n) < 0)
			n = BULK_DEFAULT_WORKERS;
	}
	return n;
}

/* Where this node's API answers, for its own task: the first address pved listens on, loopback for
 * the wildcard (and when pved listens on all addresses, on 8006). */
static void api_address(const pved *d, char **ret_host, char **ret_port)
{
	_cleanup_strv_free_ char **specs = pve_strv_split(d->listen ? d->listen : "", ",");
	const char *spec = specs && specs[0] ? specs[0] : "";
	const char *colon = strrchr(spec, ':');
	_cleanup_free_ char *host = NULL;
	if (spec[0] == '[' && colon && colon > spec && colon[-1] == ']')
		host = xstrndup(spec + 1, (size_t)(colon - spec - 2));
	else if (colon)
		host = xstrndup(spec, (size_t)(colon - spec));
	if (!host || !colon[1] || !*host || streq(host, "0.0.0.0") || streq(host, "::")) {
		free(host);
		host = xstrdup("127.0.0.1");
	}
	*ret_port = xstrdup(colon && colon[1] ? colon + 1 : "8006");
	*ret_host = TAKE_PTR(host);
}

static void bulk_call(pved_call *c, bulk_kind kind)
{
	pved *d = c->d;
	const cJSON *vms = cJSON_GetObjectItemCaseSensitive(c->params, "vms");
	if (cJSON_GetArraySize(vms) > BULK_MAX_VMS) {
		pve_error *err = NULL;
		pve_error_set_param(&err, EINVAL, "vms", "too many guests (at most %d)",
				    BULK_MAX_VMS);
		return pved_call_fail(c, err);
	}
	if (!guests_permitted(c, vms, "VM.PowerMgmt"))
		return;
	bool to_disk = kind == BULK_SUSPEND && pved_call_int(c, "to-disk", 0);
	const char *statestorage = pved_call_str(c, "statestorage");
	if (to_disk) {
		if (!guests_permitted(c, vms, "VM.Config.Disk"))
			return;
		/* without it the suspend call checks the storage it picks */
		_cleanup_free_ char *path = statestorage ? xasprintf("/storage/%s", statestorage) :
							   NULL;
		if (path && !pved_call_permitted(c, path, "Datastore.AllocateSpace"))
			return pved_call_fail_statusf(c, 403, "Permission check failed (%s, %s)",
						      path, "Datastore.AllocateSpace");
	}

	pve_error *err = NULL;
	cJSON *credentials = NULL;
	if (pved_call_credentials(c, &credentials, &err) < 0)
		return pved_call_fail(c, err);
	cJSON *args = cJSON_CreateObject();
	cJSON_AddItemToObject(args, "credentials", credentials);
	_cleanup_free_ char *host = NULL, *port = NULL;
	api_address(d, &host, &port);
	cJSON_AddStringToObject(args, "host", host);
	cJSON_AddStringToObject(args, "port", port);
	cJSON_AddNumberToObject(args, "max-workers", (double)max_workers(c));
	if (vms)
		cJSON_AddItemToObject(args, "vms", cJSON_Duplicate(vms, true));
	static const char *const passed[] = { "timeout", "force-stop", "to-disk" };
	for (size_t i = 0; i < ELEMENTSOF(passed); i++)
		if (pved_call_has(c, passed[i]))
			cJSON_AddNumberToObject(args, passed[i],
						(double)pved_call_int(c, passed[i], 0));
	if (to_disk && statestorage)
		cJSON_AddStringToObject(args, "statestorage", statestorage);

	_cleanup_free_ char *upid = NULL;
	if (pved_task_start(d, actions[kind].type, "", c->authid, args, &upid, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

static void h_bulk_start(pved_call *c)
{
	bulk_call(c, BULK_START);
}

static void h_bulk_shutdown(pved_call *c)
{
	bulk_call(c, BULK_SHUTDOWN);
}

static void h_bulk_suspend(pved_call *c)
{
	bulk_call(c, BULK_SUSPEND);
}

static void h_bulk_migrate(pved_call *c)
{
	pved_call_fail_statusf(c, 501, "migration is not supported by pved yet");
}

const pved_handler pved_cluster_bulk_handlers[] = {
	{ "cluster_bulk_start", h_bulk_start },
	{ "cluster_bulk_shutdown", h_bulk_shutdown },
	{ "cluster_bulk_suspend", h_bulk_suspend },
	{ "cluster_bulk_migrate", h_bulk_migrate },
	{ NULL, NULL },
};

/* ---- the task ---- */

typedef struct bulk_guest {
	long long vmid;
	long long order; /* the startup order (LLONG_MAX without one), negated to go backwards */
	long long up, down; /* the startup delays, -1 when not given */
	bool lxc;
	char *node;
} bulk_guest;

typedef struct bulk_run {
	pved *d;
	bulk_kind kind;
	const cJSON *args;
	pve_client *client;
	pve_buf failed; /* "101, 102" */
} bulk_run;

static long long arg_int(const cJSON *args, const char *name, long long def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	return cJSON_IsNumber(v) ? (long long)v->valuedouble : def;
}

static const char *type_text(const bulk_guest *g)
{
	return g->lxc ? "CT" : "VM";
}

static void add_failed(bulk_run *b, long long vmid)
{
	pve_buf_printf(&b->failed, "%s%lld", b->failed.len ? ", " : "", vmid);
}

/* Proxmox's pve_parse_startup_order: "[order=]N,up=N,down=N"; anything else and it says nothing. */
static void parse_startup(const char *v, bulk_guest *g)
{
	g->order = LLONG_MAX;
	g->up = g->down = -1;
	if (!v)
		return;
	long long val[3] = { LLONG_MAX, -1, -1 };
	_cleanup_strv_free_ char **parts = pve_strv_split(v, ",");
	for (char **p = parts; p && *p; p++) {
		const char *n = *p;
		if (strspn(n, " \t\n\r\f\v") == strlen(n))
			continue;
		size_t which = 0;
		if (startswith(n, "order="))
			n += 6;
		else if (startswith(n, "up="))
			n += 3, which = 1;
		else if (startswith(n, "down="))
			n += 5, which = 2;
		if (!*n || strspn(n, "0123456789") != strlen(n))
			return;
		val[which] = strtoll(n, NULL, 10); /* digits only: saturates at LLONG_MAX */
	}
	g->order = val[0];
	g->up = val[1];
	g->down = val[2];
}

static bool selected(const cJSON *vms, long long vmid)
{
	if (!vms)
		return true;
	const cJSON *v;
	cJSON_ArrayForEach (v, vms)
		if ((long long)v->valuedouble == vmid)
			return true;
	return false;
}

static int guest_cmp(const void *a, const void *b)
{
	const bulk_guest *x = a, *y = b;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return (x->vmid > y->vmid) - (x->vmid < y->vmid);
}

static void guests_free(bulk_guest *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(g[i].node);
	free(g);
}

/* Proxmox's get_start_stop_list: the cluster's guests (every node's configs in the tree), those of
 * vms if given, templates left out, sorted by startup order and id. */
static int collect_guests(bulk_run *b, bulk_guest **ret, size_t *ret_n, pve_error **err)
{
	pved *d = b->d;
	const cJSON *vms = cJSON_GetObjectItemCaseSensitive(b->args, "vms");
	_cleanup_strv_free_ char **nodes = NULL;
	int r = pve_store_list(d->store, "nodes", &nodes, err);
	if (r < 0)
		return r;
	bulk_guest *g = NULL;
	size_t n = 0, cap = 0;
	static const char *const dirs[] = { "qemu-server", "lxc" };
	for (char **node = nodes; *node; node++) {
		for (size_t k = 0; k < ELEMENTSOF(dirs); k++) {
			_cleanup_free_ char *dir = xasprintf("nodes/%s/%s", *node, dirs[k]);
			_cleanup_strv_free_ char **names = NULL;
			if (pve_store_list(d->store, dir, &names, NULL) < 0)
				continue;
			for (char **p = names; *p; p++) {
				size_t len = strlen(*p);
				long long vmid;
				if (!endswith(*p, ".conf"))
					continue;
				_cleanup_free_ char *id = xstrndup(*p, len - 5);
				if (pve_parse_int(id, 100, 999999999, &vmid) < 0 ||
				    !selected(vms, vmid))
					continue;
				_cleanup_free_ char *path = xasprintf("%s/%s", dir, *p),
						    *text = NULL;
				_cleanup_(pve_config_freep) pve_config *cfg = NULL;
				_cleanup_error_ pve_error *e = NULL;
				size_t tlen;
				if (pve_store_read(d->store, path, &text, &tlen, NULL, &e) < 0 ||
				    pve_config_parse(text, tlen, &cfg, &e) < 0) {
					/* as Proxmox: a warning in the log, not counted */
					fprintf(stderr, "%s: %s\n", path, e->message);
					continue;
				}
				bool template = false;
				const char *t = pve_config_get(cfg, NULL, "template");
				if (t && pve_parse_bool(t, &template) == 0 && template)
					continue;
				if (n == cap) {
					cap = cap ? 2 * cap : 16;
					g = xrealloc(g, cap * sizeof(*g));
				}
				bulk_guest *x = &g[n++];
				*x = (bulk_guest){ .vmid = vmid,
						   .lxc = k == 1,
						   .node = xstrdup(*node) };
				parse_startup(pve_config_get(cfg, NULL, "startup"), x);
				/* shutdown and suspend go the other way */
				if (b->kind != BULK_START)
					x->order = -x->order;
			}
		}
	}
	if (n)
		qsort(g, n, sizeof(*g), guest_cmp);
	*ret = g;
	*ret_n = n;
	return 0;
}

/* One call to the node's API: 0 with the answer's data (taken; NULL for null) on a 200, else an error
 * with the status and reason, as Proxmox's client dies. */
static int api_call(bulk_run *b, const char *method, const char *path, const cJSON *params,
		    cJSON **ret_data, pve_error **err)
{
	pve_client_response resp = { 0 };
	int r = pve_client_call(b->client, method, path, params, &resp, err);
	if (r < 0)
		return r;
	if (resp.status != 200) {
		r = pve_error_set(err, EIO, "%d %s", resp.status, resp.reason ? resp.reason : "");
		pve_client_response_clear(&resp);
		return r;
	}
	*ret_data = cJSON_DetachItemFromObjectCaseSensitive(resp.body, "data");
	pve_client_response_clear(&resp);
	return 0;
}

/* GET status/current of the guest, or NULL when it fails (Proxmox goes on without it). */
static cJSON *guest_status(bulk_run *b, const bulk_guest *g)
{
	_cleanup_free_ char *path = xasprintf("/nodes/%s/%s/%lld/status/current", g->node,
					      g->lxc ? "lxc" : "qemu", g->vmid);
	_cleanup_error_ pve_error *err = NULL;
	cJSON *data = NULL;
	if (api_call(b, "GET", path, NULL, &data, &err) < 0 || !cJSON_IsObject(data)) {
		cJSON_Delete(data);
		return NULL;
	}
	return data;
}

static const char *status_field(const cJSON *st, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, name));
}

/* POSTs the guest's status/OPERATION: 0 with its task's UPID, or a warning and -1. */
static int guest_post(bulk_run *b, const bulk_guest *g, const char *operation, const cJSON *params,
		      char **ret_upid)
{
	_cleanup_free_ char *path = xasprintf("/nodes/%s/%s/%lld/status/%s", g->node,
					      g->lxc ? "lxc" : "qemu", g->vmid, operation);
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_json_ cJSON *data = NULL;
	if (api_call(b, "POST", path, params, &data, &err) < 0) {
		pved_task_warn("%s", err->message);
		return -1;
	}
	if (!cJSON_IsString(data) || !startswith(data->valuestring, "UPID:")) {
		pved_task_warn("POST %s answered no task", path);
		return -1;
	}
	*ret_upid = xstrdup(data->valuestring);
	return 0;
}

static void param_int(cJSON *params, const char *name, long long v)
{
	_cleanup_free_ char *s = xasprintf("%lld", v);
	cJSON_AddStringToObject(params, name, s);
}

/* The action's call for one guest: 0 with the UPID of its task, 1 when the guest needs nothing (a
 * warning says why), -1 when the call failed (a warning says why). */
static int guest_begin(bulk_run *b, const bulk_guest *g, char **ret_upid)
{
	_cleanup_json_ cJSON *params = cJSON_CreateObject(); /* of strings */
	_cleanup_json_ cJSON *st = NULL;
	const char *operation;
	switch (b->kind) {
	case BULK_START: {
		st = guest_status(b, g);
		operation = "start";
		const char *qmp = status_field(st, "qmpstatus");
		if (streq_ptr(status_field(st, "status"), "running")) {
			/* (Proxmox's test: a running guest without a QMP status is resumed) */
			if (qmp && !streq(qmp, "paused")) {
				pved_task_warn("Skipping %s %lld, already running.", type_text(g),
					       g->vmid);
				return 1;
			}
			operation = "resume";
		}
		if (cJSON_GetObjectItemCaseSensitive(b->args, "timeout") &&
		    streq(operation, "start") && !g->lxc)
			param_int(params, "timeout", arg_int(b->args, "timeout", 0));
		printf("Starting %s %lld\n", type_text(g), g->vmid);
		break;
	}
	case BULK_SHUTDOWN: {
		st = guest_status(b, g);
		if (st && !streq_ptr(status_field(st, "status"), "running")) {
			pved_task_warn("Skipping %s %lld, not running.", type_text(g), g->vmid);
			return 1;
		}
		/* only a force-stop asked for stops a paused guest (Proxmox reads the parameter
		 * itself here, not its default) */
		long long force = arg_int(b->args, "force-stop", -1);
		if (streq_ptr(status_field(st, "qmpstatus"), "paused") && force <= 0) {
			pved_task_warn("Skipping %s %lld, resume paused VM before shutdown.",
				       type_text(g), g->vmid);
			return 1;
		}
		long long timeout = g->down >= 0 ?
					    g->down :
					    arg_int(b->args, "timeout", BULK_SHUTDOWN_TIMEOUT_SEC);
		param_int(params, "forceStop", force < 0 ? 1 : force);
		param_int(params, "timeout", timeout);
		operation = "shutdown";
		printf("Shutting down %s %lld (Timeout = %lld seconds)\n", type_text(g), g->vmid,
		       timeout);
		break;
	}
	case BULK_SUSPEND: {
		if (g->lxc) {
			pved_task_warn("skipping %lld, only VMs can be suspended", g->vmid);
			return 1;
		}
		st = guest_status(b, g);
		if (st && !streq_ptr(status_field(st, "status"), "running")) {
			pved_task_warn("Skipping VM %lld, not running.", g->vmid);
			return 1;
		}
		long long to_disk = arg_int(b->args, "to-disk", 0);
		param_int(params, "todisk", to_disk);
		const char *statestorage = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(b->args, "statestorage"));
		if (to_disk && statestorage)
			cJSON_AddStringToObject(params, "statestorage", statestorage);
		operation = "suspend";
		printf("Suspending VM %lld\n", g->vmid);
		break;
	}
	default:
		return -1;
	}
	return guest_post(b, g, operation, params, ret_upid);
}

/* After a guest's task ended (is_error: it failed or could not be asked; exitstatus NULL when it
 * could not be asked). */
static void guest_done(bulk_run *b, const bulk_guest *g, bool is_error, const char *exitstatus)
{
	if (is_error) {
		pved_task_warn("%s %s %lld failed: %s",
			       b->kind == BULK_START ? "Starting" : "Stopping", type_text(g),
			       g->vmid, exitstatus ? exitstatus : "could not query task status");
		add_failed(b, g->vmid);
		return;
	}
	if (b->kind == BULK_START && g->up > 0) {
		printf("Waiting for %lld seconds (startup delay)\n", g->up);
		for (long long i = 0; i < g->up; i++)
			sleep(1);
	}
}

/* The guest task's status: 1 while it runs, 0 when it ended (*ret_exitstatus), < 0 when asking
 * failed retries + 1 times. */
static int task_status(bulk_run *b, const char *node, const char *upid, int retries,
		       char **ret_exitstatus)
{
	/* (the client encodes the path) */
	_cleanup_free_ char *path = xasprintf("/nodes/%s/tasks/%s/status", node, upid);
	for (int attempt = 0;; attempt++) {
		_cleanup_error_ pve_error *err = NULL;
		_cleanup_json_ cJSON *data = NULL;
		if (api_call(b, "GET", path, NULL, &data, &err) == 0 && cJSON_IsObject(data)) {
			if (streq_ptr(status_field(data, "status"), "running"))
				return 1;
			const char *ex = status_field(data, "exitstatus");
			*ret_exitstatus = xstrdup(ex ? ex : "");
			return 0;
		}
		if (attempt >= retries)
			return -1;
		sleep(BULK_POLL_SEC);
	}
}

static bool status_is_error(const char *exitstatus)
{
	const char *t = pved_task_status_type(exitstatus);
	return !streq(t, "ok") && !streq(t, "warning");
}

typedef struct bulk_worker {
	char *upid;
	const bulk_guest *g;
} bulk_worker;

/* Looks at a running guest task once: true when it has ended (and guest_done has run). */
static bool worker_ended(bulk_run *b, const bulk_worker *w)
{
	_cleanup_free_ char *exitstatus = NULL;
	int r = task_status(b, w->g->node, w->upid, BULK_STATUS_RETRIES, &exitstatus);
	if (r == 1)
		return false;
	guest_done(b, w->g, r < 0 || status_is_error(exitstatus), exitstatus);
	return true;
}

/* Proxmox's handle_task_foreach_guest: order by order, each guest's task started with at most
 * max_workers running at once, and every task of an order ended before the next order begins. */
static void run_guests(bulk_run *b, const bulk_guest *g, size_t n, size_t max_workers)
{
	bulk_worker *w = xcalloc(max_workers < n ? max_workers : n + 1, sizeof(*w));
	size_t running = 0;
	for (size_t i = 0; i < n;) {
		long long order = g[i].order;
		for (; i < n && g[i].order == order; i++) {
			while (running >= max_workers) {
				for (size_t k = running; k-- > 0;) {
					if (!worker_ended(b, &w[k]))
						continue;
					free(w[k].upid);
					w[k] = w[--running];
				}
				sleep(BULK_POLL_SEC);
			}
			char *upid = NULL;
			int r = guest_begin(b, &g[i], &upid);
			if (r == 1)
				continue;
			if (r < 0) {
				add_failed(b, g[i].vmid);
				continue;
			}
			w[running++] = (bulk_worker){ .upid = upid, .g = &g[i] };
		}
		/* the order's last tasks, each to its end */
		for (size_t k = 0; k < running; k++) {
			while (!worker_ended(b, &w[k]))
				sleep(BULK_POLL_SEC);
			free(w[k].upid);
		}
		running = 0;
	}
	free(w);
}

/* args: credentials {ticket, csrf} or {token}, host and port of this node's API, max-workers, and as
 * the call gave them vms, timeout, force-stop, to-disk, statestorage. */
static int bulk_task(pved *d, const cJSON *args, bulk_kind kind, pve_error **err)
{
	bulk_run b = { .d = d, .kind = kind, .args = args };
	const cJSON *cred = cJSON_GetObjectItemCaseSensitive(args, "credentials");
	const char *host = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, "host"));
	const char *port = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, "port"));
	if (!cJSON_IsObject(cred) || !host || !port)
		return pve_error_set(err, EINVAL, "the task was given no API to call");
	_cleanup_free_ char *fp = NULL;
	int r = pved_node_fingerprint(d, d->node, &fp, err);
	if (r < 0)
		return r;
	_cleanup_client_ pve_client *client = NULL;
	r = pve_client_new(host, port, fp, &client, err);
	if (r < 0)
		return r;
	pve_client_set_timeout(client, BULK_CALL_TIMEOUT_SEC);
	const char *token = status_field(cred, "token");
	if (token)
		pve_client_set_token(client, token);
	else
		pve_client_set_ticket(client, status_field(cred, "ticket"),
				      status_field(cred, "csrf"));
	b.client = client;

	bulk_guest *g = NULL;
	size_t n = 0;
	r = collect_guests(&b, &g, &n, err);
	if (r < 0)
		return r;

	const cJSON *vms = cJSON_GetObjectItemCaseSensitive(args, "vms");
	if (cJSON_GetArraySize(vms) > 0) {
		pve_buf ids = { 0 };
		const cJSON *v;
		cJSON_ArrayForEach (v, vms)
			pve_buf_printf(&ids, "%s%lld", ids.len ? ", " : "",
				       (long long)v->valuedouble);
		printf("%s guests: %.*s\n", actions[kind].verb, (int)ids.len, ids.data);
		pve_buf_free(&ids);
	} else {
		printf("%s all guests\n", actions[kind].verb);
	}

	long long workers = arg_int(args, "max-workers", BULK_DEFAULT_WORKERS);
	run_guests(&b, g, n, workers > 0 ? (size_t)workers : 1);
	guests_free(g, n);
	if (b.failed.len) {
		r = pve_error_set(err, EIO, "%s%.*s", actions[kind].failed, (int)b.failed.len,
				  b.failed.data);
		pve_buf_free(&b.failed);
		return r;
	}
	return 0;
}

static int bulk_start_task(pved *d, const cJSON *args, pve_error **err)
{
	return bulk_task(d, args, BULK_START, err);
}

static int bulk_shutdown_task(pved *d, const cJSON *args, pve_error **err)
{
	return bulk_task(d, args, BULK_SHUTDOWN, err);
}

static int bulk_suspend_task(pved *d, const cJSON *args, pve_error **err)
{
	return bulk_task(d, args, BULK_SUSPEND, err);
}

const pved_task_kind pved_cluster_bulk_tasks[] = {
	{ "bulk-start", bulk_start_task },
	{ "bulk-shutdown", bulk_shutdown_task },
	{ "bulk-suspend", bulk_suspend_task },
	{ NULL, NULL },
};

/* API handlers of /nodes/{node}/tasks and /cluster/tasks: listing, status, log and stopping of tasks. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "daemon/tasks-internal.h"

/* Longer log lines are cut in the API answer (the log keeps them). */
#define MAX_LOG_LINE (64 * 1024)

static void fail(pved_call *c, int code, const char *param, const char *fmt, ...) _printf_(4, 5);
static void fail(pved_call *c, int code, const char *param, const char *fmt, ...)
{
	pve_error *err = NULL;
	va_list ap;
	va_start(ap, fmt);
	pve_error_setv(&err, code, fmt, ap);
	va_end(ap);
	if (param)
		err->param = xstrdup(param);
	pved_call_fail(c, err);
}

/* Proxmox's check_task_user: a user owns the tasks of their tokens too; a token only its own. Whole
 * identities are compared: the task's user is split only when it is a real token id. */
static bool owns(const pved_call *c, const char *task_user)
{
	const char *authid = c->authid ? c->authid : "";
	if (strcmp(task_user, authid) == 0)
		return true;
	return pve_userid_valid(authid) && pve_tokenid_valid(task_user) &&
	       pve_authid_of_user(task_user, authid);
}

static bool may(const pved_call *c, const char *task_user, const char *priv)
{
	if (owns(c, task_user))
		return true;
	_cleanup_free_ char *path = xasprintf("/nodes/%s", c->d->node);
	return pved_call_permitted(c, path, priv);
}

/* A task of the call's upid parameter: from the table, or made up from a log file the table forgot.
 * *ret_tmp is set when the task is made up (free it with free_tmp). */
static void free_tmp(pved_task *t)
{
	if (!t)
		return;
	free(t->upid_str);
	free(t->status);
	free(t);
}

/* The task the call's upid names, when the caller owns it or holds priv on the node (priv NULL: anyone); else the call has
 * been answered and NULL is returned. *ret_tmp is a stand-in built from the log of a task the table
 * forgot, to be freed by the caller. */
static const pved_task *call_task(pved_call *c, const char *priv, pved_task **ret_tmp)
{
	*ret_tmp = NULL;
	const char *s = pved_call_str(c, "upid");
	pve_upid u;
	_cleanup_error_ pve_error *perr = NULL;
	if (!s || pve_upid_parse(s, &u, &perr) < 0) {
		fail(c, EINVAL, "upid", "unable to parse worker upid '%s'", s ? s : "");
		return NULL;
	}
	pved_tasks_refresh(c->d);
	const pved_task *t = pved_task_find(c->d, s);
	if (t) {
		if (!priv || may(c, t->upid.user, priv))
			return t;
		fail(c, EACCES, NULL, "Permission check failed (/nodes/%s, %s)", c->d->node, priv);
		return NULL;
	}
	if (strcmp(u.node, c->d->node) == 0) {
		_cleanup_free_ char *log = pved_task_log_path(c->d, &u, s);
		struct stat st;
		if (stat(log, &st) == 0 && S_ISREG(st.st_mode)) {
			pved_task *tmp = xcalloc(1, sizeof(*tmp));
			tmp->upid_str = xstrdup(s);
			tmp->upid = u;
			tmp->running = false;
			tmp->endtime = st.st_mtime;
			tmp->status = pved_task_read_status(log);
			if (priv && !may(c, u.user, priv)) {
				free_tmp(tmp);
				fail(c, EACCES, NULL, "Permission check failed (/nodes/%s, %s)",
				     c->d->node, priv);
				return NULL;
			}
			*ret_tmp = tmp;
			return tmp;
		}
	}
	fail(c, ENOENT, NULL, "no such task");
	return NULL;
}

/* ---- GET /nodes/{node}/tasks ---- */

static int cmp_start_desc(const void *a, const void *b)
{
	const pved_task *x = *(const pved_task *const *)a, *y = *(const pved_task *const *)b;
	if (x->upid.starttime != y->upid.starttime)
		return x->upid.starttime < y->upid.starttime ? 1 : -1;
	return strcmp(y->upid_str, x->upid_str);
}

static bool has_ci(const char *hay, const char *needle)
{
	return strcasestr(hay, needle) != NULL;
}

static void tasks_list(pved_call *c)
{
	pved *d = c->d;
	pved_tasks_refresh(d);
	const char *source = pved_call_str(c, "source");
	if (!source)
		source = "archive";
	if (strcmp(source, "archive") != 0 && strcmp(source, "active") != 0 &&
	    strcmp(source, "all") != 0) {
		fail(c, EINVAL, "source",
		     "value '%s' does not have a value in the enumeration 'archive, active, all'",
		     source);
		return;
	}
	long long start = pved_call_int(c, "start", 0);
	long long limit = pved_call_int(c, "limit", 50);
	const char *userfilter = pved_call_str(c, "userfilter");
	const char *typefilter = pved_call_str(c, "typefilter");
	const char *statusfilter = pved_call_str(c, "statusfilter");
	bool has_vmid = pved_call_has(c, "vmid");
	long long vmid = pved_call_int(c, "vmid", 0);
	bool errors = pved_call_int(c, "errors", 0) != 0;
	bool has_since = pved_call_has(c, "since"), has_until = pved_call_has(c, "until");
	long long since = pved_call_int(c, "since", 0), until = pved_call_int(c, "until", 0);
	_cleanup_free_ char *node_path = xasprintf("/nodes/%s", d->node);
	bool auditor = pved_call_permitted(c, node_path, "Sys.Audit");
	_cleanup_strv_free_ char **statuses = statusfilter ? pve_split_list(statusfilter) : NULL;
	char vmid_str[32];
	snprintf(vmid_str, sizeof(vmid_str), "%lld", vmid);

	size_t n = pved_tasks_count(d), m = 0;
	const pved_task **sel = xcalloc(n + 1, sizeof(*sel));
	for (size_t i = 0; i < n; i++) {
		const pved_task *t = pved_tasks_nth(d, i);
		if (strcmp(source, "archive") == 0 && t->running)
			continue;
		if (strcmp(source, "active") == 0 && !pved_task_is_active(d, t))
			continue;
		if (!auditor && !owns(c, t->upid.user))
			continue;
		if (userfilter && *userfilter && !has_ci(t->upid.user, userfilter))
			continue;
		if (typefilter && *typefilter && strcmp(t->upid.type, typefilter) != 0)
			continue;
		if (has_vmid && strcmp(t->upid.id, vmid_str) != 0)
			continue;
		if (has_since && (long long)t->upid.starttime < since)
			continue;
		if (has_until && (long long)t->upid.starttime > until)
			continue;
		const char *type = pved_task_status_type(t->running ? NULL : t->status);
		if (errors && (t->running || strcmp(type, "error") != 0))
			continue;
		if (statuses && statuses[0]) {
			bool match = false;
			for (char **s = statuses; *s && !match; s++)
				match = strcasecmp(*s, type) == 0;
			if (!match)
				continue;
		}
		sel[m++] = t;
	}
	qsort(sel, m, sizeof(*sel), cmp_start_desc);
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < m; i++) {
		if ((long long)i < start)
			continue;
		if ((long long)i >= start + limit)
			break;
		cJSON_AddItemToArray(list, pved_task_to_json(sel[i]));
	}
	free(sel);
	cJSON *extra = cJSON_CreateObject();
	cJSON_AddNumberToObject(extra, "total", (double)m);
	pved_call_reply_with(c, list, extra);
}

/* ---- GET /cluster/tasks ---- */

static void cluster_tasks(pved_call *c)
{
	pved *d = c->d;
	pved_tasks_refresh(d);
	_cleanup_free_ char *node_path = xasprintf("/nodes/%s", d->node);
	bool auditor = pved_call_permitted(c, node_path, "Sys.Audit");
	size_t n = pved_tasks_count(d), m = 0;
	const pved_task **sel = xcalloc(n + 1, sizeof(*sel));
	for (size_t i = 0; i < n; i++) {
		const pved_task *t = pved_tasks_nth(d, i);
		if (!pved_task_is_active(d, t))
			continue;
		if (!auditor && !owns(c, t->upid.user))
			continue;
		sel[m++] = t;
	}
	qsort(sel, m, sizeof(*sel), cmp_start_desc);
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < m; i++)
		cJSON_AddItemToArray(list, pved_task_to_json(sel[i]));
	free(sel);
	pved_call_reply(c, list);
}

/* ---- /nodes/{node}/tasks/{upid} ---- */

static void task_index(pved_call *c)
{
	pved_task *tmp;
	const pved_task *t = call_task(c, NULL, &tmp);
	if (!t)
		return;
	free_tmp(tmp);
	cJSON *list = cJSON_CreateArray();
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", "log");
	cJSON_AddItemToArray(list, o);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", "status");
	cJSON_AddItemToArray(list, o);
	pved_call_reply(c, list);
}

static void task_status(pved_call *c)
{
	pved_task *tmp;
	const pved_task *t = call_task(c, "Sys.Audit", &tmp);
	if (!t)
		return;
	/* The list entry, with Proxmox's status fields: running or stopped, and the exit status. */
	cJSON *o = pved_task_to_json(t);
	cJSON_DeleteItemFromObjectCaseSensitive(o, "status");
	cJSON_AddStringToObject(o, "status", t->running ? "running" : "stopped");
	if (!t->running)
		cJSON_AddStringToObject(o, "exitstatus",
					t->status ? t->status : "unexpected status");
	free_tmp(tmp);
	pved_call_reply(c, o);
}

/* Proxmox's dump_logfile: lines from index start (0-based), limit of them (0: all), numbered from 1;
 * total is the number of lines; an empty log reads as one line "no content". */
static void task_log(pved_call *c)
{
	pved_task *tmp;
	const pved_task *t = call_task(c, "Sys.Audit", &tmp);
	if (!t)
		return;
	if (pved_call_int(c, "download", 0)) {
		free_tmp(tmp);
		fail(c, ENOSYS, "download", "downloading a task log is not implemented");
		return;
	}
	long long start = pved_call_int(c, "start", 0);
	long long limit = pved_call_int(c, "limit", 50);
	bool to_end = limit == 0;
	_cleanup_free_ char *path = pved_task_log_path(c->d, &t->upid, t->upid_str);
	free_tmp(tmp);
	cJSON *list = cJSON_CreateArray();
	long long count = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "n", ++count);
		_cleanup_free_ char *msg = xasprintf("unable to open file - %s", strerror(errno));
		cJSON_AddStringToObject(o, "t", msg);
		cJSON_AddItemToArray(list, o);
	} else {
		_cleanup_free_ char *line = NULL;
		size_t cap = 0;
		ssize_t len;
		while ((len = getline(&line, &cap, f)) >= 0) {
			if (count++ < start)
				continue;
			if (!to_end) {
				if (limit <= 0)
					continue;
				limit--;
			}
			while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
				line[--len] = '\0';
			if (len > MAX_LOG_LINE)
				line[MAX_LOG_LINE] = '\0';
			cJSON *o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "n", (double)count);
			cJSON_AddStringToObject(o, "t", line);
			cJSON_AddItemToArray(list, o);
		}
		fclose(f);
		if (!count) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "n", ++count);
			cJSON_AddStringToObject(o, "t", "no content");
			cJSON_AddItemToArray(list, o);
		}
	}
	cJSON *extra = cJSON_CreateObject();
	cJSON_AddNumberToObject(extra, "total", (double)count);
	pved_call_reply_with(c, list, extra);
}

static void task_stop(pved_call *c)
{
	pved_task *tmp;
	const pved_task *t = call_task(c, "Sys.Modify", &tmp);
	if (!t)
		return;
	if (tmp) { /* a task the table forgot has ended long ago */
		free_tmp(tmp);
		pved_call_reply(c, NULL);
		return;
	}
	pve_error *err = NULL;
	if (pved_task_stop(c->d, t->upid_str, &err) < 0) {
		pved_call_fail(c, err);
		return;
	}
	log_info("%s stops task %s", c->authid ? c->authid : "?", t->upid_str);
	pved_call_reply(c, NULL);
}

const pved_handler pved_handlers_tasks[] = {
	{ "tasks_list", tasks_list },
	{ "task_index", task_index },
	{ "task_status", task_status },
	{ "task_log", task_log },
	{ "task_stop", task_stop },
	{ "cluster_tasks", cluster_tasks },
	{ NULL, NULL },
};

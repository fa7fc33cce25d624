/* API handlers of /nodes/{node}/tasks: listing, status, log and stopping of tasks. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "daemon/core/tasks-internal.h"
#include "daemon/nodes/nodes-internal.h"

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

static bool may(const pved_call *c, const char *task_user, const char *priv)
{
	if (pved_task_owned_by(c->authid, task_user))
		return true;
	_cleanup_free_ char *path = xasprintf("/nodes/%s", c->d->node);
	return pved_call_permitted(c, path, priv);
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
				pved_task_free(tmp);
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
		if (!auditor && !pved_task_owned_by(c->authid, t->upid.user))
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
	qsort(sel, m, sizeof(*sel), pved_task_cmp_newest);
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

/* ---- /nodes/{node}/tasks/{upid} ---- */

static void task_index(pved_call *c)
{
	pved_task *tmp;
	const pved_task *t = call_task(c, NULL, &tmp);
	if (!t)
		return;
	pved_task_free(tmp);
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
	pved_task_free(tmp);
	pved_call_reply(c, o);
}

/* ---- GET /nodes/{node}/tasks/{upid}/log ----
 * Proxmox's dump_logfile: lines from index start (0-based), limit of them (0: all), numbered from 1;
 * total is the number of lines; an empty log reads as one line "no content". The answer is made as it
 * goes out (pved_call_reply_stream): a log of any size costs a read buffer and a chunk of answer, and a
 * client that stops reading stops the reading of the file. */

typedef struct log_stream {
	int fd; /* -1: the file could not be opened (open_errno) */
	int open_errno;
	long long start, limit;
	bool to_end;
	long long count; /* lines seen */
	bool begun, any;
	pve_buf line; /* the current line, at most MAX_LOG_LINE bytes of it */
	char buf[16 * 1024];
} log_stream;

static void log_stream_free(void *ud)
{
	log_stream *ls = ud;
	if (ls->fd >= 0)
		close(ls->fd);
	pve_buf_free(&ls->line);
	free(ls);
}

/* A JSON string of bytes as a log holds them: invalid UTF-8 and NUL become U+FFFD, so the answer is
 * valid JSON whatever a task printed. */
static void json_string(pve_buf *out, const char *s, size_t len)
{
	pve_buf_puts(out, "\"");
	for (size_t i = 0; i < len;) {
		/* A run of bytes that need nothing goes in one piece. */
		size_t run = i;
		while (run < len && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x7f &&
		       s[run] != '"' && s[run] != '\\')
			run++;
		if (run > i) {
			pve_buf_append(out, s + i, run - i);
			i = run;
			continue;
		}
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x80) {
			size_t n = ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : 2;
			if (n <= len - i && pve_utf8_valid(s + i, n)) {
				pve_buf_append(out, s + i, n);
				i += n;
			} else {
				pve_buf_puts(out, "\xef\xbf\xbd");
				i++;
			}
			continue;
		}
		if (ch == '"' || ch == '\\')
			pve_buf_printf(out, "\\%c", ch);
		else if (ch == '\n')
			pve_buf_puts(out, "\\n");
		else if (ch == '\t')
			pve_buf_puts(out, "\\t");
		else if (ch == 0)
			pve_buf_puts(out, "\xef\xbf\xbd");
		else if (ch < 0x20 || ch == 0x7f)
			pve_buf_printf(out, "\\u%04x", ch);
		else
			pve_buf_append(out, s + i, 1);
		i++;
	}
	pve_buf_puts(out, "\"");
}

static void log_item(log_stream *ls, pve_buf *out, long long n, const char *text, size_t len)
{
	pve_buf_printf(out, "%s{\"n\":%lld,\"t\":", ls->any ? "," : "", n);
	json_string(out, text, len);
	pve_buf_puts(out, "}");
	ls->any = true;
}

/* A whole line (without its newline) was read. */
static void log_line(log_stream *ls, pve_buf *out)
{
	size_t len = ls->line.len;
	ls->line.len = 0;
	if (ls->count++ < ls->start)
		return;
	if (!ls->to_end) {
		if (ls->limit <= 0)
			return; /* counted for total, not shown */
		ls->limit--;
	}
	while (len > 0 && ls->line.data[len - 1] == '\r')
		len--;
	log_item(ls, out, ls->count, ls->line.data ? ls->line.data : "", len);
}

static int log_produce(void *ud, pve_buf *out, size_t room, pve_error **err)
{
	log_stream *ls = ud;
	if (!ls->begun) {
		ls->begun = true;
		pve_buf_puts(out, "{\"data\":[");
		if (ls->fd < 0) {
			_cleanup_free_ char *msg =
				xasprintf("unable to open file - %s", strerror(ls->open_errno));
			log_item(ls, out, ++ls->count, msg, strlen(msg));
			pve_buf_printf(out, "],\"total\":%lld}", ls->count);
			return 1;
		}
	}
	while (out->len < room) {
		ssize_t n = read(ls->fd, ls->buf, sizeof(ls->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pve_error_set(err, errno, "reading the task log: %m");
		if (n == 0) {
			if (ls->line.len)
				log_line(ls, out);
			if (!ls->count)
				log_item(ls, out, ++ls->count, "no content", 10);
			pve_buf_printf(out, "],\"total\":%lld}", ls->count);
			return 1;
		}
		for (const char *p = ls->buf, *end = ls->buf + n; p < end;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t take = (size_t)((nl ? nl : end) - p);
			/* Longer lines are cut in the answer (the log keeps them). */
			if (ls->line.len + take > MAX_LOG_LINE)
				take = ls->line.len < MAX_LOG_LINE ? MAX_LOG_LINE - ls->line.len :
								     0;
			pve_buf_append(&ls->line, p, take);
			if (!nl)
				break;
			log_line(ls, out);
			p = nl + 1;
		}
	}
	return 0;
}

/* download=1: the log file's bytes as they are. */
typedef struct log_file {
	int fd;
} log_file;

static void log_file_free(void *ud)
{
	log_file *lf = ud;
	close(lf->fd);
	free(lf);
}

static int log_file_produce(void *ud, pve_buf *out, size_t room, pve_error **err)
{
	log_file *lf = ud;
	char buf[16 * 1024];
	for (;;) {
		ssize_t n = read(lf->fd, buf, room < sizeof(buf) ? room : sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pve_error_set(err, errno, "reading the task log: %m");
		pve_buf_append(out, buf, (size_t)n);
		return n == 0 ? 1 : 0;
	}
}

/* Proxmox's read_task_log with download: the file as text/plain, saved as
 * task-NODE-TYPE-STARTTIME.log, gzip-encoded when over 1 KiB (whatever the client asked). */
static void task_log_download(pved_call *c, const pved_task *t, const char *path)
{
	if (pved_call_has(c, "start") || pved_call_has(c, "limit")) {
		pve_error *err = NULL;
		pve_error_set(
			&err, EIO,
			"'download' cannot be used together with 'start' or 'limit' parameters");
		return pved_call_fail(c, err);
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		pve_error *err = NULL;
		pve_error_set(&err, EIO, "Could not open file '%s' - %m", path);
		if (fd >= 0)
			close(fd);
		return pved_call_fail(c, err);
	}
	time_t start = (time_t)t->upid.starttime;
	struct tm tm;
	char when[32];
	gmtime_r(&start, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	_cleanup_free_ char *name =
		xasprintf("task-%s-%s-%s.log", t->upid.node, t->upid.type, when);
	log_file *lf = xcalloc(1, sizeof(*lf));
	lf->fd = fd;
	pved_call_reply_file(c, "text/plain", name, st.st_size > 1024, log_file_produce,
			     log_file_free, lf);
}

static void task_log(pved_call *c)
{
	pved_task *tmp;
	const pved_task *t = call_task(c, "Sys.Audit", &tmp);
	if (!t)
		return;
	if (pved_call_int(c, "download", 0)) {
		_cleanup_free_ char *path = pved_task_log_path(c->d, &t->upid, t->upid_str);
		task_log_download(c, t, path);
		pved_task_free(tmp);
		return;
	}
	log_stream *ls = xcalloc(1, sizeof(*ls));
	ls->start = pved_call_int(c, "start", 0);
	ls->limit = pved_call_int(c, "limit", 50);
	ls->to_end = ls->limit == 0;
	_cleanup_free_ char *path = pved_task_log_path(c->d, &t->upid, t->upid_str);
	pved_task_free(tmp);
	ls->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ls->open_errno = errno;
	pved_call_reply_stream(c, log_produce, log_stream_free, ls);
}

static void task_stop(pved_call *c)
{
	pved_task *tmp;
	const pved_task *t = call_task(c, "Sys.Modify", &tmp);
	if (!t)
		return;
	if (tmp) { /* a task the table forgot has ended long ago */
		pved_task_free(tmp);
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
	{ "tasks_list", tasks_list }, { "task_index", task_index }, { "task_status", task_status },
	{ "task_log", task_log },     { "task_stop", task_stop },   { NULL, NULL },
};

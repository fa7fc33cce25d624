/* The firewall log: the rules' nflog packets (and, with host.fw's log_nf_conntrack, conntrack's NEW
 * and DESTROY events) read on the loop and appended to <root>/var/log/pve-firewall.log as
 * pvefw-logger writes them, and the log endpoints that read it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/firewall/firewall-internal.h"

#define LOG_MAX (4 * 1024 * 1024) /* the file is rotated to .1 beyond this */
#define READS_PER_TURN 64 /* messages one loop turn takes, so a flood never holds the loop */
#define LINES_DEFAULT 50 /* Proxmox's dump_logfile's default limit */

struct pved_fw_log {
	int nl_fd; /* nflog, -1 when another reader has the group */
	struct event *ev;
	int ct_fd; /* conntrack events while log_nf_conntrack is on, else -1 */
	struct event *ct_ev;
	bool ct_told; /* a failure to subscribe, or lost events, was logged */
	int fd; /* the log file, O_APPEND */
	off_t size;
	char *path;
	uint8_t buf[65536];
};

static bool ifname_of(uint32_t index, char name[17], void *ctx)
{
	(void)ctx;
	char n[IF_NAMESIZE];
	if (!if_indextoname(index, n))
		return false;
	snprintf(name, 17, "%s", n);
	return true;
}

static int log_open(struct pved_fw_log *l)
{
	l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (l->fd < 0)
		return -errno;
	struct stat st;
	l->size = fstat(l->fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

static void log_append(struct pved_fw_log *l, const pve_buf *lines)
{
	if (l->fd < 0 && log_open(l) < 0)
		return;
	if (l->size > LOG_MAX) {
		/* Rotation as logrotate's: the current file becomes .1, the old .1 goes. */
		_cleanup_free_ char *old = xasprintf("%s.1", l->path);
		if (rename(l->path, old) == 0) {
			close(l->fd);
			if (log_open(l) < 0)
				return;
		}
	}
	ssize_t n = write(l->fd, lines->data, lines->len);
	if (n > 0)
		l->size += n;
}

/* One netlink message's log line, or NULL for a message that makes none. */
typedef char *(*line_fn)(const struct nlmsghdr *nlh, time_t now);

/* At most READS_PER_TURN reads of fd, so a flood never holds the loop; their lines appended at
 * once. Returns whether the kernel dropped messages it could not queue (ENOBUFS). */
static bool read_lines(struct pved_fw_log *l, int fd, line_fn fn)
{
	pve_buf lines = { 0 };
	time_t now = time(NULL);
	bool lost = false;
	for (int i = 0; i < READS_PER_TURN; i++) {
		ssize_t n = recv(fd, l->buf, sizeof(l->buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == ENOBUFS) {
				lost = true;
				continue;
			}
			break;
		}
		if (n == 0)
			break;
		size_t off = 0;
		for (const struct nlmsghdr *nlh;
		     (nlh = pve_fw_nlmsg_next(l->buf, (size_t)n, &off));) {
			_cleanup_free_ char *line = fn(nlh, now);
			if (line)
				pve_buf_puts(&lines, line);
		}
	}
	if (lines.len)
		log_append(l, &lines);
	pve_buf_free(&lines);
	return lost;
}

static char *nflog_line(const struct nlmsghdr *nlh, time_t now)
{
	pve_fw_nflog_pkt p;
	if (pve_fw_nflog_parse(nlh, nlh->nlmsg_len, &p, NULL) < 0)
		return NULL;
	return pve_fw_nflog_format(&p, now, ifname_of, NULL);
}

static void nflog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	/* Packets the kernel could not queue are not logged; the log goes on. */
	(void)read_lines(arg, fd, nflog_line);
}

/* pvefw-logger's conntrack callback takes NEW and DESTROY only. */
static char *conntrack_line(const struct nlmsghdr *nlh, time_t now)
{
	pve_fw_ct_event e;
	if (pve_fw_ct_parse(nlh, nlh->nlmsg_len, &e, NULL) < 0 || e.type == PVE_FW_CT_UPDATE)
		return NULL;
	return pve_fw_ct_format(&e, now);
}

static void conntrack_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct pved_fw_log *l = arg;
	/* Lost events are said once, as pvefw-logger says them. */
	if (read_lines(l, fd, conntrack_line) && !l->ct_told) {
		log_warning("firewall: conntrack events lost: the conntrack log may be incomplete");
		l->ct_told = true;
	}
}

void pved_fw_log_conntrack(pved *d, bool on)
{
	struct pved_fw_state *s = d->firewall;
	struct pved_fw_log *l = s ? s->log : NULL;
	if (!l || on == (l->ct_fd >= 0))
		return;
	if (!on) {
		event_free(l->ct_ev);
		close(l->ct_fd);
		l->ct_ev = NULL;
		l->ct_fd = -1;
		l->ct_told = false;
		log_info("firewall: conntrack events no longer logged");
		return;
	}
	_cleanup_error_ pve_error *err = NULL;
	int fd = pve_fw_ct_open(&err);
	if (fd < 0) {
		/* Tried again at the next apply; said once. */
		if (!l->ct_told)
			log_warning("firewall: no conntrack log: %s", err->message);
		l->ct_told = true;
		return;
	}
	l->ct_told = false;
	l->ct_fd = fd;
	l->ct_ev = event_new(d->base, fd, EV_READ | EV_PERSIST, conntrack_cb, l);
	event_add(l->ct_ev, NULL);
	log_info("firewall: conntrack events are logged (log_nf_conntrack)");
}

void pved_fw_log_start(pved *d)
{
	struct pved_fw_state *s = d->firewall;
	struct pved_fw_log *l = xcalloc(1, sizeof(*l));
	l->nl_fd = l->ct_fd = l->fd = -1;
	_cleanup_free_ char *dir = xasprintf("%s/var/log", d->root);
	(void)pve_mkdir_p(dir, 0755, NULL);
	l->path = xasprintf("%s/pve-firewall.log", dir);
	s->log = l;
	_cleanup_error_ pve_error *err = NULL;
	int fd = pve_fw_nflog_open(0, &err);
	if (fd < 0) {
		/* Another reader has the group (pvefw-logger, a second pved in this namespace); the
		 * conntrack log may still be had. */
		log_warning("firewall: no firewall log: %s", err->message);
		return;
	}
	l->nl_fd = fd;
	l->ev = event_new(d->base, fd, EV_READ | EV_PERSIST, nflog_cb, l);
	event_add(l->ev, NULL);
}

void pved_fw_log_stop(pved *d)
{
	struct pved_fw_state *s = d->firewall;
	struct pved_fw_log *l = s ? s->log : NULL;
	if (!l)
		return;
	if (l->ev)
		event_free(l->ev);
	if (l->nl_fd >= 0)
		close(l->nl_fd);
	if (l->ct_ev)
		event_free(l->ct_ev);
	if (l->ct_fd >= 0)
		close(l->ct_fd);
	if (l->fd >= 0)
		close(l->fd);
	free(l->path);
	free(l);
	s->log = NULL;
}

/* ----- GET /nodes/{node}/firewall/log, /nodes/{node}/qemu/{vmid}/firewall/log ----- */

typedef struct {
	pved_call *call;
	char *path;
	long long start, limit, since, until;
	bool has_since, has_until;
	unsigned vmid; /* 0: every line */
	cJSON *lines;
	size_t count;
	pve_error *err;
} read_job;

/* A line's time: its fourth and fifth words, "07/Dec/2026:04:30:33 +0000". */
static bool line_time(const char *line, time_t *ret)
{
	const char *p = line;
	for (int w = 0; w < 3; w++) {
		p = strchr(p, ' ');
		if (!p)
			return false;
		p++;
	}
	struct tm tm = { 0 };
	const char *end = strptime(p, "%d/%b/%Y:%H:%M:%S %z", &tm);
	if (!end)
		return false;
	*ret = timegm(&tm) - tm.tm_gmtoff;
	return true;
}

static void read_one(read_job *j, const char *path, bool final)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f) {
		if (errno != ENOENT || final) {
			j->count++;
			cJSON *o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "n", (double)j->count);
			cJSON_AddStringToObject(
				o, "t",
				errno == ENOENT ?
					"unable to open file - No such file or directory" :
					"unable to open file");
			cJSON_AddItemToArray(j->lines, o);
		}
		return;
	}
	char line[4096];
	char prefix[16];
	int plen = snprintf(prefix, sizeof(prefix), "%u ", j->vmid);
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		bool whole = len && line[len - 1] == '\n';
		if (whole)
			line[--len] = '\0';
		else
			/* A longer line than pved writes: the rest is skipped. */
			for (int ch; (ch = fgetc(f)) != EOF && ch != '\n';)
				;
		if (j->vmid && strncmp(line, prefix, (size_t)plen) != 0)
			continue;
		if (j->has_since || j->has_until) {
			time_t t;
			if (!line_time(line, &t))
				continue;
			if ((j->has_since && j->since && t < j->since) ||
			    (j->has_until && j->until && t > j->until))
				continue;
		}
		if ((long long)j->count++ < j->start)
			continue;
		if (j->limit > 0 && cJSON_GetArraySize(j->lines) >= j->limit)
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "n", (double)j->count);
		cJSON_AddStringToObject(o, "t", line);
		cJSON_AddItemToArray(j->lines, o);
	}
}

static void read_work(void *arg)
{
	read_job *j = arg;
	j->lines = cJSON_CreateArray();
	/* As Proxmox: since or until read the rotated file too, oldest first. */
	if (j->has_since || j->has_until) {
		_cleanup_free_ char *old = xasprintf("%s.1", j->path);
		read_one(j, old, false);
	}
	read_one(j, j->path, true);
	/* ExtJS's store wants a line: Proxmox answers "no content". */
	if (!j->count) {
		j->count = 1;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "n", 1);
		cJSON_AddStringToObject(o, "t", "no content");
		cJSON_AddItemToArray(j->lines, o);
	}
}

static void read_done(void *arg)
{
	read_job *j = arg;
	cJSON *extra = cJSON_CreateObject();
	cJSON_AddNumberToObject(extra, "total", (double)j->count);
	pved_call_reply_with(j->call, j->lines, extra);
	free(j->path);
	free(j);
}

static void read_log(pved_call *c, unsigned vmid)
{
	read_job *j = xcalloc(1, sizeof(*j));
	j->call = c;
	j->vmid = vmid;
	j->path = xasprintf("%s/var/log/pve-firewall.log", c->d->root);
	j->start = pved_call_int(c, "start", 0);
	j->limit = pved_call_int(c, "limit", LINES_DEFAULT);
	j->has_since = pved_call_has(c, "since");
	j->has_until = pved_call_has(c, "until");
	j->since = pved_call_int(c, "since", 0);
	j->until = pved_call_int(c, "until", 0);
	pve_error *err = NULL;
	if (pved_run_blocking(c->d, PVED_QUEUE_GUEST, read_work, read_done, j, &err) < 0) {
		free(j->path);
		free(j);
		pved_call_fail(c, err);
	}
}

void pved_fw_host_log(pved_call *c)
{
	read_log(c, 0);
}

void pved_fw_vm_log(pved_call *c)
{
	read_log(c, (unsigned)pved_call_int(c, "vmid", 0));
}

/* pvecfs: the config tree of one node, in RAM and in SQLite, served to the store over a unix socket and
 * to everyone as files over FUSE, replicated to the other nodes through corosync CPG. One thread, one
 * poll loop: a change that needs the cluster's order is answered when its message comes back. */
#define FUSE_USE_VERSION 34
#include <corosync/cmap.h>
#include <corosync/cpg.h>
#include <corosync/quorum.h>
#include <dirent.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "cluster/cfs-internal.h"

#define MAX_CLIENTS 256
#define MAX_MEMBERS 64
#define CPG_GROUP "pvecfs_v1"
#define CPG_KV_GROUP "pvecfs_kv_v1"
/* Cluster-log messages corosync had no room for wait in a queue of at most this many; past it an entry
 * stays here alone until the next join's merge brings it to the others. */
#define KV_QUEUE_MAX 1024
/* What the status group carries at most: a whole cluster log or one status value, and the header. */
#define KV_MAX_MSG                                                                               \
	((CFS_LOG_MAX_BYTES > CFS_MAX_STATUS_VALUE ? CFS_LOG_MAX_BYTES : CFS_MAX_STATUS_VALUE) + \
	 CFS_MSG_HEADER + 3 * (PVE_STORE_MAX_PATH + 1))

typedef struct client client;
struct client {
	int fd;
	uint8_t *in;
	size_t in_len, in_cap;
	pve_buf out;
	size_t out_off;
	uint32_t pid; /* SO_PEERCRED's: what the cluster log records as its entries' pid */
	bool watch, dead;
	client *next;
};

enum done_kind {
	DONE_CLIENT,
	DONE_FUSE_ERR,
	DONE_FUSE_WRITE,
	DONE_FUSE_ENTRY,
	DONE_FUSE_CREATE,
	DONE_FUSE_ATTR
};

typedef struct pending pending;
struct pending {
	uint64_t id;
	enum done_kind kind;
	client *c;
	uint64_t creq;
	fuse_req_t freq;
	struct fuse_file_info fi;
	size_t wsize;
	char *path; /* what to stat for an entry or attr reply */
	int result; /* a deferred answer's */
	pending *next;
};

typedef struct outmsg outmsg;
struct outmsg {
	pve_buf b;
	outmsg *next;
};

typedef struct member {
	uint32_t nodeid, pid;
	bool have_state;
	uint64_t version;
	char digest[65];
	char name[64];
} member;

/* One node's volatile status value (the second CPG group): RAM only. */
typedef struct status_entry status_entry;
struct status_entry {
	uint32_t nodeid;
	char *node, *key;
	uint8_t *data;
	size_t len;
	int64_t time; /* when it was set or heard: .rrd leaves out old lines by it */
	status_entry *next;
};

typedef struct cfsd {
	char *root, *node, *mnt;
	cfs_tree *tree;
	int lfd, sfd;
	client *clients;
	size_t n_clients;
	struct fuse_session *se;
	struct fuse_buf fbuf;
	gid_t www_gid;
	int64_t start_time;
	/* cluster */
	bool cluster;
	cpg_handle_t cpg;
	int cpg_fd;
	quorum_handle_t q;
	int q_fd;
	bool quorate;
	uint32_t nodeid, pid;
	member members[MAX_MEMBERS];
	size_t n_members;
	char view[MAX_MEMBERS * 24];
	bool syncing, wait_update;
	uint32_t leader_nodeid, leader_pid;
	char leader_digest[65];
	outmsg *queued, **queued_tail; /* changes delivered during a sync, applied after it */
	outmsg *outq, **outq_tail; /* messages corosync asked us to send again */
	pending *pend;
	uint64_t next_id;
	/* while a batch of deliveries shares one transaction: answers wait for its commit */
	bool defer;
	pending *done;
	char names[MAX_MEMBERS][64]; /* nodeid -> name, learned from the state messages */
	uint32_t name_ids[MAX_MEMBERS];
	size_t n_names;
	char cluster_name[64];
	/* corosync's nodelist (cmap): what .members lists, online or not */
	struct {
		uint32_t id;
		char name[64], ip[64];
	} nodelist[MAX_MEMBERS];
	size_t n_nodelist;
	cmap_handle_t cmap;
	int cmap_fd; /* tracks nodelist.node.* */
	bool nodelist_changed;
	cpg_handle_t kv; /* the volatile status group */
	int kv_fd;
	status_entry *status;
	cfs_log *log; /* the cluster log, replicated on the status group */
	outmsg *kv_outq, **kv_outq_tail;
	size_t kv_outq_len;
	char *rrd_text; /* .rrd as made last, at rrd_time: made again after CFS_RRD_CACHE_SEC */
	int64_t rrd_time;
} cfsd;

static volatile sig_atomic_t quit;

/* ---- replies ---- */

static void client_send(client *c, const cfs_msg *m)
{
	if (c->dead)
		return;
	cfs_msg_encode(&c->out, m);
}

static void reply_client(client *c, uint64_t creq, int result, const void *data, size_t len,
			 uint64_t version, uint32_t flags)
{
	cfs_msg m = { .op = CFS_OP_REPLY,
		      .reqid = creq,
		      .result = result,
		      .data = data,
		      .data_len = len,
		      .version = version,
		      .flags = flags };
	client_send(c, &m);
}

static void notify_change(const char *path, void *userdata)
{
	cfsd *d = userdata;
	cfs_msg m = { .op = CFS_OP_NOTIFY, .path = path };
	for (client *c = d->clients; c; c = c->next)
		if (c->watch)
			client_send(c, &m);
}

/* ---- FUSE attributes ---- */

static bool node_private(const cfs_node *n)
{
	for (const cfs_node *a = n; a && a->parent; a = a->parent)
		if (a->dir && strcmp(a->name, "priv") == 0)
			return true;
	return false;
}

static bool writable(cfsd *d)
{
	return !d->cluster || d->quorate;
}

static char *virtual_content(cfsd *d, uint64_t ino);

static void fill_attr(cfsd *d, uint64_t ino, const cfs_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = 0;
	st->st_gid = d->www_gid;
	st->st_nlink = 1;
	st->st_blksize = 4096;
	mode_t wmask = writable(d) ? 0777 : 0555;
	if (n) {
		bool priv = node_private(n);
		if (n->dir)
			st->st_mode = S_IFDIR | ((priv ? 0700 : 0755) & wmask);
		else
			st->st_mode = S_IFREG | ((priv ? 0600 : 0640) & wmask);
		st->st_nlink = n->dir ? 2 : 1;
		st->st_size = (off_t)n->size;
		st->st_mtime = st->st_ctime = st->st_atime = n->parent ? n->mtime : d->tree->mtime;
	} else if (ino >= CFS_INO_LOCAL && ino <= CFS_INO_LXC) {
		st->st_mode = S_IFLNK | 0777;
		st->st_mtime = d->start_time;
		st->st_size = 16;
	} else {
		_cleanup_free_ char *s = virtual_content(d, ino);
		st->st_mode = S_IFREG | 0440;
		st->st_size = (off_t)strlen(s);
		st->st_mtime = d->tree->mtime;
	}
	st->st_blocks = (st->st_size + 511) / 512;
}

static const char *const virtual_names[] = {
	[CFS_INO_MEMBERS] = ".members", [CFS_INO_VMLIST] = ".vmlist",
	[CFS_INO_VERSION] = ".version", [CFS_INO_CLUSTERLOG] = ".clusterlog",
	[CFS_INO_RRD] = ".rrd",		[CFS_INO_LOCAL] = "local",
	[CFS_INO_QEMU] = "qemu-server", [CFS_INO_LXC] = "lxc",
};

static uint64_t virtual_ino(const char *name)
{
	for (uint64_t i = CFS_INO_MEMBERS; i <= CFS_INO_LXC; i++)
		if (strcmp(virtual_names[i], name) == 0)
			return i;
	return 0;
}

static void vmlist_rec(cfs_node *n, pve_buf *b, bool *first)
{
	for (size_t i = 0; i < n->n_kids; i++) {
		cfs_node *k = n->kids[i];
		if (k->dir) {
			vmlist_rec(k, b, first);
			continue;
		}
		_cleanup_free_ char *p = cfs_node_path(k), *vmid = NULL, *node = NULL;
		const char *type;
		if (!cfs_path_guest(p, &vmid, &type, &node))
			continue;
		pve_buf_printf(
			b, "%s\n\"%s\": { \"node\": \"%s\", \"type\": \"%s\", \"version\": %llu }",
			*first ? "" : ",", vmid, node, type, (unsigned long long)k->version);
		*first = false;
	}
}

static const char *name_of(cfsd *d, uint32_t nodeid)
{
	for (size_t i = 0; i < d->n_names; i++)
		if (d->name_ids[i] == nodeid)
			return d->names[i];
	return NULL;
}

/* .rrd: every member's lines from its "rrd.N" status values; made at most every CFS_RRD_CACHE_SEC,
 * as pmxcfs makes it, since a getattr makes the text too. */
static char *rrd_content(cfsd *d)
{
	int64_t now = time(NULL);
	if (d->rrd_text && now - d->rrd_time < CFS_RRD_CACHE_SEC && now >= d->rrd_time)
		return xstrdup(d->rrd_text);
	size_t n = 0;
	for (status_entry *e = d->status; e; e = e->next)
		n += startswith(e->key, CFS_RRD_KEY_PREFIX);
	cfs_rrd_source *v = xcalloc(n + 1, sizeof(*v));
	n = 0;
	for (status_entry *e = d->status; e; e = e->next)
		if (startswith(e->key, CFS_RRD_KEY_PREFIX))
			v[n++] = (cfs_rrd_source){ (const char *)e->data, e->len, e->time };
	pve_buf b = { 0 };
	cfs_rrd_dump(v, n, now, CFS_RRD_MAX_TEXT, &b);
	free(v);
	free(d->rrd_text);
	d->rrd_text = b.data ? pve_buf_steal(&b) : xstrdup("");
	d->rrd_time = now;
	return xstrdup(d->rrd_text);
}

/* The generated files, in pmxcfs's formats (status.c). */
static char *virtual_content(cfsd *d, uint64_t ino)
{
	pve_buf b = { 0 };
	unsigned long long v = (unsigned long long)d->tree->version;
	switch (ino) {
	case CFS_INO_MEMBERS:
		pve_buf_printf(&b, "{\n\"nodename\": \"%s\",\n\"version\": %llu", d->node, v);
		if (d->cluster) {
			pve_buf_printf(&b,
				       ",\n\"cluster\": { \"name\": \"%s\", \"version\": %llu, "
				       "\"nodes\": %zu, \"quorate\": %d },\n\"nodelist\": {",
				       d->cluster_name, v,
				       d->n_nodelist ? d->n_nodelist : d->n_members,
				       d->quorate ? 1 : 0);
			/* corosync's nodelist, online when in the CPG view; without one, the view */
			size_t shown = 0;
			for (size_t i = 0; i < d->n_nodelist; i++) {
				bool online = false;
				for (size_t k = 0; k < d->n_members; k++)
					online |= d->members[k].nodeid == d->nodelist[i].id;
				pve_buf_printf(
					&b,
					"%s\n  \"%s\": { \"id\": %u, \"online\": %d, \"ip\": \"%s\"}",
					shown++ ? "," : "", d->nodelist[i].name, d->nodelist[i].id,
					online ? 1 : 0, d->nodelist[i].ip);
			}
			for (size_t i = 0; !d->n_nodelist && i < d->n_members; i++) {
				const char *nm = name_of(d, d->members[i].nodeid);
				_cleanup_free_ char *fallback =
					xasprintf("node%u", d->members[i].nodeid);
				pve_buf_printf(
					&b,
					"%s\n  \"%s\": { \"id\": %u, \"online\": 1, \"ip\": \"\"}",
					shown++ ? "," : "", nm ? nm : fallback,
					d->members[i].nodeid);
			}
			pve_buf_puts(&b, "\n  }");
		}
		pve_buf_puts(&b, "\n}\n");
		break;
	case CFS_INO_VMLIST: {
		pve_buf_printf(&b, "{\n\"version\": %llu,\n\"ids\": {", v);
		bool first = true;
		cfs_node *nodes = cfs_tree_lookup(d->tree, "nodes");
		if (nodes && nodes->dir)
			vmlist_rec(nodes, &b, &first);
		pve_buf_puts(&b, "}\n\n}\n");
		break;
	}
	case CFS_INO_VERSION:
		pve_buf_printf(&b, "{\n\"starttime\": %lld,\n\"clinfo\": %llu,\n\"vmlist\": %llu",
			       (long long)d->start_time, v, v);
		for (size_t i = 0; i < d->tree->root->n_kids; i++) {
			cfs_node *k = d->tree->root->kids[i];
			if (!k->dir)
				pve_buf_printf(&b, ",\n\"%s\": %llu", k->name,
					       (unsigned long long)k->version);
		}
		pve_buf_puts(&b, "\n}\n");
		break;
	case CFS_INO_CLUSTERLOG:
		cfs_log_dump_json(d->log, &b, NULL, CFS_LOG_DEFAULT_MAX);
		break;
	case CFS_INO_RRD:
		return rrd_content(d);
	default:
		pve_buf_puts(&b, "");
		break;
	}
	return b.data ? pve_buf_steal(&b) : xstrdup("");
}

/* ---- changes: applied here, or ordered through CPG first ---- */

static void fuse_entry_of(cfsd *d, cfs_node *n, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = n->inode;
	e->generation = 1;
	fill_attr(d, n->inode, n, &e->attr);
	/* other nodes change the tree: the kernel asks again every time */
	e->attr_timeout = 0;
	e->entry_timeout = 0;
}

static void complete(cfsd *d, pending *p, int r)
{
	cfs_node *n = p->path ? cfs_tree_lookup(d->tree, p->path) : NULL;
	switch (p->kind) {
	case DONE_CLIENT:
		if (p->c)
			reply_client(p->c, p->creq, r, NULL, 0, d->tree->version, 0);
		break;
	case DONE_FUSE_ERR:
		fuse_reply_err(p->freq, -r);
		break;
	case DONE_FUSE_WRITE:
		if (r < 0)
			fuse_reply_err(p->freq, -r);
		else
			fuse_reply_write(p->freq, p->wsize);
		break;
	case DONE_FUSE_ENTRY:
	case DONE_FUSE_CREATE:
		if (r == 0 && !n)
			r = -ENOENT;
		if (r < 0) {
			fuse_reply_err(p->freq, -r);
		} else {
			struct fuse_entry_param e;
			fuse_entry_of(d, n, &e);
			if (p->kind == DONE_FUSE_CREATE) {
				p->fi.direct_io = 1;
				fuse_reply_create(p->freq, &e, &p->fi);
			} else {
				fuse_reply_entry(p->freq, &e);
			}
		}
		break;
	case DONE_FUSE_ATTR:
		if (r == 0 && !n)
			r = -ENOENT;
		if (r < 0) {
			fuse_reply_err(p->freq, -r);
		} else {
			struct stat st;
			fill_attr(d, n->inode, n, &st);
			fuse_reply_attr(p->freq, &st, 0);
		}
		break;
	}
	free(p->path);
	free(p);
}

/* Sends what a queue holds until corosync has no room; returns how many went. */
static size_t flush_queue(cpg_handle_t h, outmsg **q, outmsg ***tail)
{
	size_t sent = 0;
	while (*q) {
		outmsg *o = *q;
		struct iovec iov = { .iov_base = o->b.data, .iov_len = o->b.len };
		cs_error_t rc = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1);
		if (rc == CS_ERR_TRY_AGAIN)
			break;
		if (rc != CS_OK)
			log_error("pvecfs: cpg_mcast_joined: error %d", rc);
		*q = o->next;
		if (!*q)
			*tail = q;
		pve_buf_free(&o->b);
		free(o);
		sent++;
	}
	return sent;
}

static void cpg_flush(cfsd *d)
{
	(void)flush_queue(d->cpg, &d->outq, &d->outq_tail);
}

static void cpg_send(cfsd *d, const cfs_msg *m)
{
	outmsg *o = xcalloc(1, sizeof(*o));
	cfs_msg_encode(&o->b, m);
	*d->outq_tail = o;
	d->outq_tail = &o->next;
	cpg_flush(d);
}

/* A change from a client or from FUSE: p says whom to answer. */
static void submit(cfsd *d, cfs_msg *m, pending *p)
{
	m->time = (int64_t)time(NULL) * 1000;
	if (!d->cluster) {
		complete(d, p, cfs_tree_apply(d->tree, m));
		return;
	}
	/* mkdir -p of a directory there is (not a lock's, which mkdir takes over): nothing to change,
	 * so nothing to ask the cluster (a node that starts before it has quorum makes sure of its own
	 * directories) */
	if (m->op == CFS_OP_MKDIR && !startswith(m->path, "priv/lock/")) {
		cfs_node *n = cfs_tree_lookup(d->tree, m->path);
		if (n && n->dir) {
			complete(d, p, 0);
			return;
		}
	}
	/* pmxcfs: without quorum every change is refused where it is asked */
	if (!d->quorate) {
		complete(d, p, -EACCES);
		return;
	}
	p->id = ++d->next_id;
	p->next = d->pend;
	d->pend = p;
	m->reqid = p->id;
	cpg_send(d, m);
}

static pending *pending_new(enum done_kind kind)
{
	pending *p = xcalloc(1, sizeof(*p));
	p->kind = kind;
	return p;
}

/* ---- volatile status ---- */

static size_t status_count(cfsd *d, uint32_t nodeid)
{
	size_t n = 0;
	for (status_entry *e = d->status; e; e = e->next)
		n += e->nodeid == nodeid;
	return n;
}

static void status_set(cfsd *d, uint32_t nodeid, const char *node, const char *key,
		       const uint8_t *data, size_t len)
{
	status_entry *e;
	for (e = d->status; e; e = e->next)
		if (e->nodeid == nodeid && strcmp(e->key, key) == 0)
			break;
	if (!e) {
		/* a peer past its share of keys is not remembered beyond it */
		if (status_count(d, nodeid) >= CFS_MAX_STATUS_KEYS)
			return;
		e = xcalloc(1, sizeof(*e));
		e->nodeid = nodeid;
		e->key = xstrdup(key);
		e->next = d->status;
		d->status = e;
	}
	free(e->node);
	e->node = xstrdup(node);
	free(e->data);
	e->data = xmalloc(len ? len : 1);
	if (len)
		memcpy(e->data, data, len);
	e->len = len;
	e->time = time(NULL);
}

static void status_drop_gone(cfsd *d, const struct cpg_address *members, size_t n)
{
	for (status_entry **pp = &d->status; *pp;) {
		status_entry *e = *pp;
		bool here = e->nodeid == d->nodeid;
		for (size_t i = 0; i < n && !here; i++)
			here = members[i].nodeid == e->nodeid;
		if (here) {
			pp = &e->next;
			continue;
		}
		*pp = e->next;
		free(e->node);
		free(e->key);
		free(e->data);
		free(e);
	}
}

static void kv_send(cfsd *d, const char *key, const uint8_t *data, size_t len)
{
	pve_buf b = { 0 };
	cfs_msg m = { .op = CFS_OP_SET_STATUS,
		      .path = key,
		      .path2 = d->node,
		      .data = data,
		      .data_len = len };
	cfs_msg_encode(&b, &m);
	struct iovec iov = { .iov_base = b.data, .iov_len = b.len };
	/* volatile: a value corosync has no room for now is sent again with the next update */
	(void)cpg_mcast_joined(d->kv, CPG_TYPE_AGREED, &iov, 1);
	pve_buf_free(&b);
}

/* ---- the cluster log ---- */

static void kv_flush(cfsd *d)
{
	d->kv_outq_len -= flush_queue(d->kv, &d->kv_outq, &d->kv_outq_tail);
}

/* Log entries to every other member, in order behind what waits already. */
static void kv_send_log(cfsd *d, pve_buf *entries)
{
	if (d->kv_outq_len >= KV_QUEUE_MAX) {
		pve_buf_free(entries);
		return;
	}
	outmsg *o = xcalloc(1, sizeof(*o));
	cfs_msg m = { .op = CFS_OP_LOG_ENTRIES,
		      .path2 = d->node,
		      .data = (const uint8_t *)entries->data,
		      .data_len = entries->len };
	cfs_msg_encode(&o->b, &m);
	pve_buf_free(entries);
	*d->kv_outq_tail = o;
	d->kv_outq_tail = &o->next;
	d->kv_outq_len++;
	kv_flush(d);
}

static void log_local(cfsd *d, const char *tag, const char *user, uint32_t pid, uint8_t pri,
		      const char *msg, size_t len)
{
	const cfs_log_entry *e =
		cfs_log_add(d->log, d->node, tag, user, pid, pri, (uint32_t)time(NULL), msg, len);
	if (!e || !d->cluster)
		return;
	pve_buf b = { 0 };
	cfs_log_encode_entry(&b, e);
	kv_send_log(d, &b);
}

static void client_log(cfsd *d, client *c, const cfs_msg *m)
{
	/* pmxcfs refuses an empty message; the strings are the header's, NUL-terminated */
	if (m->flags > 7 || m->data_len == 0) {
		reply_client(c, m->reqid, -EINVAL, NULL, 0, 0, 0);
		return;
	}
	log_local(d, m->path, m->path2, c->pid, (uint8_t)m->flags, (const char *)m->data,
		  m->data_len);
	reply_client(c, m->reqid, 0, NULL, 0, 0, 0);
}

static void client_log_read(cfsd *d, client *c, const cfs_msg *m)
{
	pve_buf b = { 0 };
	size_t max = m->arg ? (m->arg > SIZE_MAX ? SIZE_MAX : (size_t)m->arg) : CFS_LOG_DEFAULT_MAX;
	cfs_log_dump_json(d->log, &b, m->path, max);
	reply_client(c, m->reqid, 0, b.data, b.len, 0, 0);
	pve_buf_free(&b);
}

/* ---- the socket ---- */

static void client_request(cfsd *d, client *c, cfs_msg *m)
{
	if (m->op == CFS_OP_WATCH) {
		c->watch = true;
		reply_client(c, m->reqid, 0, NULL, 0, d->tree->version, 0);
		return;
	}
	if (m->op == CFS_OP_SET_STATUS) {
		if (!cfs_path_valid(m->path, false) || strchr(m->path, '/') ||
		    m->data_len > CFS_MAX_STATUS_VALUE) {
			reply_client(c, m->reqid, -EINVAL, NULL, 0, 0, 0);
			return;
		}
		bool known = false;
		for (status_entry *e = d->status; e && !known; e = e->next)
			known = e->nodeid == d->nodeid && strcmp(e->key, m->path) == 0;
		if (!known && status_count(d, d->nodeid) >= CFS_MAX_STATUS_KEYS) {
			reply_client(c, m->reqid, -ENOSPC, NULL, 0, 0, 0);
			return;
		}
		status_set(d, d->nodeid, d->node, m->path, m->data, m->data_len);
		if (d->cluster)
			kv_send(d, m->path, m->data, m->data_len);
		reply_client(c, m->reqid, 0, NULL, 0, 0, 0);
		return;
	}
	if (m->op == CFS_OP_LOG) {
		client_log(d, c, m);
		return;
	}
	if (m->op == CFS_OP_LOG_READ) {
		client_log_read(d, c, m);
		return;
	}
	if (m->op == CFS_OP_GET_STATUS) {
		for (status_entry *e = d->status; e; e = e->next)
			if (strcmp(e->node, m->path) == 0 && strcmp(e->key, m->path2) == 0) {
				reply_client(c, m->reqid, 0, e->data, e->len, 0, 0);
				return;
			}
		reply_client(c, m->reqid, -ENOENT, NULL, 0, 0, 0);
		return;
	}
	if (cfs_op_mutates(m->op)) {
		pending *p = pending_new(DONE_CLIENT);
		p->c = c;
		p->creq = m->reqid;
		submit(d, m, p);
		return;
	}
	bool top = m->op == CFS_OP_LIST;
	if (!cfs_path_valid(m->path, top)) {
		reply_client(c, m->reqid, -EINVAL, NULL, 0, 0, 0);
		return;
	}
	cfs_node *n = cfs_tree_lookup(d->tree, m->path);
	switch (m->op) {
	case CFS_OP_READ:
		if (!n)
			reply_client(c, m->reqid, -ENOENT, NULL, 0, 0, 0);
		else if (n->dir)
			reply_client(c, m->reqid, -EISDIR, NULL, 0, 0, 0);
		else
			reply_client(c, m->reqid, 0, n->data, n->size, n->version, 0);
		break;
	case CFS_OP_STAT:
		if (!n)
			reply_client(c, m->reqid, -ENOENT, NULL, 0, 0, 0);
		else
			reply_client(c, m->reqid, 0, NULL, 0, n->version, n->dir ? CFS_F_DIR : 0);
		break;
	case CFS_OP_LIST: {
		if (!n) {
			reply_client(c, m->reqid, -ENOENT, NULL, 0, 0, 0);
			break;
		}
		if (!n->dir) {
			reply_client(c, m->reqid, -ENOTDIR, NULL, 0, 0, 0);
			break;
		}
		pve_buf b = { 0 };
		for (size_t i = 0; i < n->n_kids; i++)
			if (n->kids[i]->name[0] != '.')
				pve_buf_append(&b, n->kids[i]->name, strlen(n->kids[i]->name) + 1);
		reply_client(c, m->reqid, 0, b.data, b.len, n->version, 0);
		pve_buf_free(&b);
		break;
	}
	default:
		reply_client(c, m->reqid, -EOPNOTSUPP, NULL, 0, 0, 0);
	}
}

static void client_drop(cfsd *d, client *c)
{
	for (pending *p = d->pend; p; p = p->next)
		if (p->c == c)
			p->c = NULL;
	for (client **pp = &d->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	close(c->fd);
	free(c->in);
	pve_buf_free(&c->out);
	free(c);
	d->n_clients--;
}

static void client_readable(cfsd *d, client *c)
{
	if (c->in_cap - c->in_len < 65536) {
		c->in_cap = c->in_cap ? c->in_cap * 2 : 131072;
		c->in = xrealloc(c->in, c->in_cap);
	}
	ssize_t got = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
	if (got <= 0) {
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		c->dead = true;
		return;
	}
	c->in_len += (size_t)got;
	/* every whole frame in the buffer, then one move of what is left */
	size_t pos = 0;
	for (;;) {
		size_t have = c->in_len - pos;
		size_t fl = cfs_msg_frame_len(c->in + pos, have);
		if (fl == 0)
			break;
		if (fl < CFS_MSG_HEADER || fl > CFS_MAX_REQUEST) {
			log_warning("pvecfs: a client sent a frame of %zu bytes; dropping it", fl);
			c->dead = true;
			return;
		}
		if (have < fl) {
			memmove(c->in, c->in + pos, have);
			c->in_len = have;
			pos = 0;
			if (c->in_cap < fl) {
				c->in_cap = fl;
				c->in = xrealloc(c->in, c->in_cap);
			}
			return;
		}
		cfs_msg m;
		if (cfs_msg_decode(c->in + pos, fl, CFS_MAX_REQUEST, &m) < 0 ||
		    m.op == CFS_OP_REPLY || m.op == CFS_OP_NOTIFY || m.op == CFS_OP_STATE ||
		    m.op == CFS_OP_UPDATE || m.op == CFS_OP_LOG_ENTRIES) {
			c->dead = true;
			return;
		}
		client_request(d, c, &m);
		pos += fl;
	}
	memmove(c->in, c->in + pos, c->in_len - pos);
	c->in_len -= pos;
}

static void client_flush(client *c)
{
	while (!c->dead && c->out_off < c->out.len) {
		ssize_t w = write(c->fd, c->out.data + c->out_off, c->out.len - c->out_off);
		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR)
				c->dead = true;
			return;
		}
		c->out_off += (size_t)w;
	}
	if (c->out_off == c->out.len) {
		c->out.len = 0;
		c->out_off = 0;
	}
}

static void accept_client(cfsd *d)
{
	int fd = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (d->n_clients >= MAX_CLIENTS) {
		close(fd);
		return;
	}
	client *c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
		c->pid = (uint32_t)cred.pid;
	c->next = d->clients;
	d->clients = c;
	d->n_clients++;
}

/* ---- FUSE ---- */

static cfsd *req_d(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static char *child_path(cfsd *d, fuse_ino_t parent, const char *name, int *ret_err)
{
	return cfs_tree_child_path(d->tree, parent, name, ret_err);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	cfsd *d = req_d(req);
	struct fuse_entry_param e = { 0 };
	if (parent == CFS_INO_ROOT) {
		uint64_t v = virtual_ino(name);
		if (v) {
			e.ino = v;
			fill_attr(d, v, NULL, &e.attr);
			fuse_reply_entry(req, &e);
			return;
		}
	}
	cfs_node *n = cfs_node_child(cfs_tree_by_inode(d->tree, parent), name);
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fuse_entry_of(d, n, &e);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	cfsd *d = req_d(req);
	cfs_node *n = cfs_tree_by_inode(d->tree, ino);
	if (!n && !(ino >= CFS_INO_MEMBERS && ino <= CFS_INO_LXC)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct stat st;
	fill_attr(d, ino, n, &st);
	fuse_reply_attr(req, &st, 0);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	cfsd *d = req_d(req);
	_cleanup_free_ char *target = NULL;
	if (ino == CFS_INO_LOCAL)
		target = xasprintf("nodes/%s", d->node);
	else if (ino == CFS_INO_QEMU)
		target = xasprintf("nodes/%s/qemu-server", d->node);
	else if (ino == CFS_INO_LXC)
		target = xasprintf("nodes/%s/lxc", d->node);
	if (!target) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fuse_reply_readlink(req, target);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	cfsd *d = req_d(req);
	cfs_node *n = cfs_tree_by_inode(d->tree, ino);
	if (!n || !n->dir) {
		fuse_reply_err(req, n ? ENOTDIR : ENOENT);
		return;
	}
	if (size > 1 << 20)
		size = 1 << 20;
	_cleanup_free_ char *buf = xmalloc(size);
	size_t used = 0;
	size_t n_virtual = ino == CFS_INO_ROOT ? CFS_INO_LXC - CFS_INO_MEMBERS + 1 : 0;
	size_t total = 2 + n_virtual + n->n_kids;
	for (size_t i = (size_t)off; i < total; i++) {
		struct stat st = { 0 };
		const char *name;
		if (i == 0) {
			name = ".";
			st.st_ino = ino;
			st.st_mode = S_IFDIR;
		} else if (i == 1) {
			name = "..";
			st.st_ino = n->parent ? n->parent->inode : ino;
			st.st_mode = S_IFDIR;
		} else if (i < 2 + n_virtual) {
			uint64_t v = CFS_INO_MEMBERS + (i - 2);
			name = virtual_names[v];
			st.st_ino = v;
			st.st_mode = v >= CFS_INO_LOCAL ? S_IFLNK : S_IFREG;
		} else {
			cfs_node *k = n->kids[i - 2 - n_virtual];
			name = k->name;
			st.st_ino = k->inode;
			st.st_mode = k->dir ? S_IFDIR : S_IFREG;
		}
		size_t need =
			fuse_add_direntry(req, buf + used, size - used, name, &st, (off_t)(i + 1));
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	cfsd *d = req_d(req);
	cfs_node *n = cfs_tree_by_inode(d->tree, ino);
	bool virt = ino >= CFS_INO_MEMBERS && ino <= CFS_INO_RRD;
	if (!n && !virt) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (n && n->dir) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY && (virt || !writable(d))) {
		fuse_reply_err(req, EACCES);
		return;
	}
	/* every read comes to us: another node may have changed the file a moment ago */
	fi->direct_io = 1;
	/* a generated file is made once per open: a reader that takes it in several reads gets one
	 * whole text even when the log or the membership changes meanwhile */
	if (virt)
		fi->fh = (uint64_t)(uintptr_t)virtual_content(d, ino);
	fuse_reply_open(req, fi);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino >= CFS_INO_MEMBERS && ino <= CFS_INO_RRD)
		free((char *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	cfsd *d = req_d(req);
	cfs_node *n = cfs_tree_by_inode(d->tree, ino);
	_cleanup_free_ char *virt = NULL;
	const char *data;
	size_t len;
	if (n && !n->dir) {
		data = n->data ? n->data : "";
		len = n->size;
	} else if (!n && ino >= CFS_INO_MEMBERS && ino <= CFS_INO_RRD) {
		/* the text made at open (see op_open); made now for a handle without one */
		if (fi && fi->fh) {
			data = (const char *)(uintptr_t)fi->fh;
		} else {
			virt = virtual_content(d, ino);
			data = virt;
		}
		len = strlen(data);
	} else {
		fuse_reply_err(req, n ? EISDIR : ENOENT);
		return;
	}
	if (off < 0 || (size_t)off >= len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	size_t left = len - (size_t)off;
	fuse_reply_buf(req, data + off, size < left ? size : left);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)fi;
	cfsd *d = req_d(req);
	cfs_node *n = cfs_tree_by_inode(d->tree, ino);
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (off < 0 || (uint64_t)off + size > CFS_MAX_FILE) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	_cleanup_free_ char *path = cfs_node_path(n);
	cfs_msg m = { .op = CFS_OP_WRITE_AT,
		      .path = path,
		      .arg = (uint64_t)off,
		      .data = (const uint8_t *)buf,
		      .data_len = size };
	pending *p = pending_new(DONE_FUSE_WRITE);
	p->freq = req;
	p->wsize = size;
	submit(d, &m, p);
}

static void change_at(fuse_req_t req, fuse_ino_t parent, const char *name, uint32_t op,
		      enum done_kind kind, struct fuse_file_info *fi)
{
	cfsd *d = req_d(req);
	int e = 0;
	_cleanup_free_ char *path = child_path(d, parent, name, &e);
	if (!path) {
		fuse_reply_err(req, e);
		return;
	}
	cfs_msg m = { .op = op, .path = path };
	pending *p = pending_new(kind);
	p->freq = req;
	p->path = xstrdup(path);
	if (fi)
		p->fi = *fi;
	submit(d, &m, p);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)mode;
	cfsd *d = req_d(req);
	int e = 0;
	_cleanup_free_ char *path = child_path(d, parent, name, &e);
	if (!path) {
		fuse_reply_err(req, e);
		return;
	}
	cfs_node *n = cfs_tree_lookup(d->tree, path);
	/* a plain directory that exists: EEXIST (a lock directory decides in the tree) */
	if (n && !startswith(path, "priv/lock/")) {
		fuse_reply_err(req, EEXIST);
		return;
	}
	change_at(req, parent, name, CFS_OP_MKDIR, DONE_FUSE_ENTRY, NULL);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	(void)mode;
	change_at(req, parent, name, CFS_OP_CREATE, DONE_FUSE_CREATE, fi);
}

static void remove_at(fuse_req_t req, fuse_ino_t parent, const char *name, bool want_dir)
{
	cfsd *d = req_d(req);
	cfs_node *n = cfs_node_child(cfs_tree_by_inode(d->tree, parent), name);
	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (n->dir != want_dir) {
		fuse_reply_err(req, want_dir ? ENOTDIR : EISDIR);
		return;
	}
	change_at(req, parent, name, CFS_OP_DELETE, DONE_FUSE_ERR, NULL);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_at(req, parent, name, false);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_at(req, parent, name, true);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	cfsd *d = req_d(req);
	int e = 0;
	_cleanup_free_ char *from = child_path(d, parent, name, &e);
	_cleanup_free_ char *to = from ? child_path(d, newparent, newname, &e) : NULL;
	if (!to) {
		fuse_reply_err(req, e);
		return;
	}
	/* pmxcfs refuses to replace: editors that write a copy and rename it over get EEXIST, as
	 * there; RENAME_NOREPLACE is what we do anyway */
	if (flags & ~(unsigned)RENAME_NOREPLACE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	cfs_node *tn = cfs_tree_lookup(d->tree, to);
	if (tn && !tn->dir && !(flags & RENAME_NOREPLACE)) {
		/* rename over a file (how most tools save): delete the target first, in order */
		cfs_msg del = { .op = CFS_OP_DELETE, .path = to };
		pending *p = pending_new(DONE_CLIENT); /* nobody waits for this one */
		submit(d, &del, p);
	}
	cfs_msg m = { .op = CFS_OP_RENAME, .path = from, .path2 = to };
	pending *p = pending_new(DONE_FUSE_ERR);
	p->freq = req;
	submit(d, &m, p);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	(void)fi;
	cfsd *d = req_d(req);
	cfs_node *n = cfs_tree_by_inode(d->tree, ino);
	if (!n) {
		fuse_reply_err(req,
			       (ino >= CFS_INO_MEMBERS && ino <= CFS_INO_LXC) ? EACCES : ENOENT);
		return;
	}
	/* modes and owners are the tree's (pmxcfs has no chmod or chown): a change of them is
	 * ignored, so tools that copy a file's mode (sed -i, editors) still work */
	_cleanup_free_ char *path = cfs_node_path(n);
	cfs_msg m = { .path = path };
	if (to_set & FUSE_SET_ATTR_SIZE) {
		m.op = CFS_OP_TRUNCATE;
		m.arg = (uint64_t)attr->st_size;
	} else if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		m.op = CFS_OP_MTIME;
		m.arg = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? (uint64_t)time(NULL) :
							     (uint64_t)attr->st_mtime;
	} else {
		struct stat st;
		fill_attr(d, ino, n, &st);
		fuse_reply_attr(req, &st, 0);
		return;
	}
	pending *p = pending_new(DONE_FUSE_ATTR);
	p->freq = req;
	p->path = xstrdup(path);
	submit(d, &m, p);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	cfsd *d = req_d(req);
	struct statvfs sv = {
		.f_bsize = 4096,
		.f_frsize = 4096,
		.f_blocks = CFS_MAX_TOTAL / 4096,
		.f_bfree = (CFS_MAX_TOTAL - d->tree->total_bytes) / 4096,
		.f_files = CFS_MAX_ENTRIES,
		.f_ffree = CFS_MAX_ENTRIES - d->tree->n_entries,
		.f_namemax = CFS_MAX_NAME,
	};
	sv.f_bavail = sv.f_bfree;
	sv.f_favail = sv.f_ffree;
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops fuse_ops = {
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.readdir = op_readdir,
	.open = op_open,
	.release = op_release,
	.read = op_read,
	.write = op_write,
	.create = op_create,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.statfs = op_statfs,
};

static int fuse_start(cfsd *d, pve_error **err)
{
	/* a pvecfs killed with -9 leaves its mount behind, unusable ("not connected") */
	struct stat st;
	if (stat(d->mnt, &st) < 0 && errno == ENOTCONN)
		(void)umount2(d->mnt, MNT_DETACH);
	char *argv[] = { (char *)"pvecfs", (char *)"-o", (char *)"default_permissions,allow_other",
			 NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	d->se = fuse_session_new(&args, &fuse_ops, sizeof(fuse_ops), d);
	fuse_opt_free_args(&args);
	if (!d->se)
		return pve_error_set(err, EIO, "can't start FUSE");
	if (fuse_session_mount(d->se, d->mnt) != 0)
		return pve_error_set(err, EIO, "can't mount FUSE on '%s'", d->mnt);
	int fl = fcntl(fuse_session_fd(d->se), F_GETFL);
	(void)fcntl(fuse_session_fd(d->se), F_SETFL, fl | O_NONBLOCK);
	return 0;
}

/* ---- CPG ---- */

static void apply_delivered(cfsd *d, const cfs_msg *m, uint32_t nodeid, uint32_t pid)
{
	int r = cfs_tree_apply(d->tree, m);
	if (nodeid != d->nodeid || pid != d->pid)
		return;
	for (pending **pp = &d->pend; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == m->reqid) {
			pending *p = *pp;
			*pp = p->next;
			if (d->defer) {
				p->result = r;
				p->next = d->done;
				d->done = p;
			} else {
				complete(d, p, r);
			}
			return;
		}
	}
}

static void queue_delivered(cfsd *d, const void *msg, size_t len, uint32_t nodeid, uint32_t pid)
{
	outmsg *o = xcalloc(1, sizeof(*o));
	uint32_t who[2] = { nodeid, pid };
	pve_buf_append(&o->b, who, sizeof(who));
	pve_buf_append(&o->b, msg, len);
	*d->queued_tail = o;
	d->queued_tail = &o->next;
}

/* What the file backend makes at its open, and pmxcfs at its start: priv/ (root's alone). */
static void ensure_layout(cfsd *d)
{
	if (cfs_tree_lookup(d->tree, "priv") || !writable(d))
		return;
	cfs_msg m = { .op = CFS_OP_MKDIR, .path = "priv" };
	submit(d, &m, pending_new(DONE_CLIENT));
}

static void sync_done(cfsd *d)
{
	d->syncing = false;
	d->wait_update = false;
	log_info("pvecfs: synced at version %llu with %zu members",
		 (unsigned long long)d->tree->version, d->n_members);
	while (d->queued) {
		outmsg *o = d->queued;
		d->queued = o->next;
		uint32_t who[2];
		memcpy(who, o->b.data, sizeof(who));
		cfs_msg m;
		if (cfs_msg_decode((uint8_t *)o->b.data + 8, o->b.len - 8, CFS_MAX_MSG, &m) == 0)
			apply_delivered(d, &m, who[0], who[1]);
		pve_buf_free(&o->b);
		free(o);
	}
	d->queued_tail = &d->queued;
	ensure_layout(d);
}

static member *member_of(cfsd *d, uint32_t nodeid, uint32_t pid)
{
	for (size_t i = 0; i < d->n_members; i++)
		if (d->members[i].nodeid == nodeid && d->members[i].pid == pid)
			return &d->members[i];
	return NULL;
}

static void remember_name(cfsd *d, uint32_t nodeid, const char *name)
{
	/* a peer's word, printed into .members' JSON: a node name's characters only */
	if (!*name || strlen(name) >= sizeof(d->names[0]) ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
		    strlen(name))
		return;
	for (size_t i = 0; i < d->n_names; i++)
		if (d->name_ids[i] == nodeid) {
			snprintf(d->names[i], sizeof(d->names[i]), "%s", name);
			return;
		}
	if (d->n_names < MAX_MEMBERS) {
		d->name_ids[d->n_names] = nodeid;
		snprintf(d->names[d->n_names++], sizeof(d->names[0]), "%s", name);
	}
}

/* All states are in: the leader is the member with the newest tree (highest version; on a tie the
 * lowest nodeid). Members that hold the leader's tree are done; the leader sends its tree to the
 * others, and everyone waits for it before applying what arrived meanwhile. */
static void sync_decide(cfsd *d)
{
	member *lead = NULL;
	for (size_t i = 0; i < d->n_members; i++) {
		member *m = &d->members[i];
		if (!m->have_state)
			return;
		if (!lead || m->version > lead->version ||
		    (m->version == lead->version && m->nodeid < lead->nodeid))
			lead = m;
	}
	bool all_same = true;
	for (size_t i = 0; i < d->n_members; i++)
		if (strcmp(d->members[i].digest, lead->digest) != 0)
			all_same = false;
	if (all_same) {
		sync_done(d);
		return;
	}
	d->wait_update = true;
	d->leader_nodeid = lead->nodeid;
	d->leader_pid = lead->pid;
	memcpy(d->leader_digest, lead->digest, sizeof(d->leader_digest));
	if (lead->nodeid == d->nodeid && lead->pid == d->pid) {
		pve_buf b = { 0 };
		cfs_tree_serialize(d->tree, &b);
		cfs_msg m = { .op = CFS_OP_UPDATE,
			      .tag = lead->digest,
			      .path = d->view,
			      .data = (const uint8_t *)b.data,
			      .data_len = b.len };
		log_info("pvecfs: sending the tree (%zu bytes, version %llu) to the members", b.len,
			 (unsigned long long)d->tree->version);
		cpg_send(d, &m);
		pve_buf_free(&b);
	}
}

static void on_deliver(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid, uint32_t pid,
		       void *msg, size_t len)
{
	(void)group;
	cfsd *d = NULL;
	cpg_context_get(h, (void **)&d);
	cfs_msg m;
	/* decode a copy in place: msg stays intact for the queue */
	_cleanup_free_ uint8_t *copy = xmalloc(len ? len : 1);
	memcpy(copy, msg, len);
	if (cfs_msg_decode(copy, len, CFS_MAX_MSG, &m) < 0) {
		log_warning("pvecfs: a malformed message from node %u; ignored", nodeid);
		return;
	}
	if (m.op == CFS_OP_STATE) {
		member *mb = member_of(d, nodeid, pid);
		/* a state answers one view: one sent for an earlier view is stale */
		if (!d->syncing || !mb || strcmp(m.path, d->view) != 0 || strlen(m.tag) != 64)
			return;
		mb->have_state = true;
		mb->version = m.version;
		memcpy(mb->digest, m.tag, 65);
		remember_name(d, nodeid, m.path2);
		if (!d->wait_update)
			sync_decide(d);
		return;
	}
	if (m.op == CFS_OP_UPDATE) {
		if (!d->wait_update || nodeid != d->leader_nodeid || pid != d->leader_pid ||
		    strcmp(m.path, d->view) != 0)
			return;
		char mine[65];
		cfs_tree_digest(d->tree, mine);
		if (strcmp(mine, d->leader_digest) != 0) {
			int r = cfs_tree_replace(d->tree, m.data, m.data_len);
			if (r < 0)
				log_error("pvecfs: the leader's tree did not decode; keeping ours");
			else
				log_info("pvecfs: took the tree of node %u (version %llu)", nodeid,
					 (unsigned long long)d->tree->version);
		}
		sync_done(d);
		return;
	}
	if (!cfs_op_mutates(m.op))
		return;
	if (d->syncing) {
		queue_delivered(d, msg, len, nodeid, pid);
		return;
	}
	apply_delivered(d, &m, nodeid, pid);
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *group,
		       const struct cpg_address *members, size_t n_members,
		       const struct cpg_address *left, size_t n_left,
		       const struct cpg_address *joined, size_t n_joined)
{
	(void)group;
	(void)left;
	(void)n_left;
	(void)joined;
	(void)n_joined;
	cfsd *d = NULL;
	cpg_context_get(h, (void **)&d);
	d->n_members = n_members < MAX_MEMBERS ? n_members : MAX_MEMBERS;
	size_t off = 0;
	for (size_t i = 0; i < d->n_members; i++) {
		d->members[i] = (member){ .nodeid = members[i].nodeid, .pid = members[i].pid };
		off += (size_t)snprintf(d->view + off, sizeof(d->view) - off, "%u:%u,",
					members[i].nodeid, members[i].pid);
	}
	d->view[off] = '\0';
	log_info("pvecfs: membership changed: %zu members (%s)", d->n_members, d->view);
	/* a new view: everyone states its tree and waits until the views agree */
	d->syncing = true;
	d->wait_update = false;
	char digest[65];
	cfs_tree_digest(d->tree, digest);
	cfs_msg m = { .op = CFS_OP_STATE,
		      .version = d->tree->version,
		      .tag = digest,
		      .path = d->view,
		      .path2 = d->node };
	cpg_send(d, &m);
}

static void on_quorum(quorum_handle_t h, uint32_t quorate, uint64_t ring_seq, uint32_t n,
		      uint32_t *view)
{
	(void)ring_seq;
	(void)n;
	(void)view;
	cfsd *d = NULL;
	quorum_context_get(h, (const void **)&d);
	if (d->quorate != !!quorate)
		log_info("pvecfs: %s", quorate ? "quorate" : "lost quorum: read-only");
	d->quorate = quorate;
}

static void on_kv_deliver(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid,
			  uint32_t pid, void *msg, size_t len)
{
	(void)group;
	(void)pid;
	cfsd *d = NULL;
	cpg_context_get(h, (void **)&d);
	cfs_msg m;
	/* our own come back too: they are in our log and status already */
	if (nodeid == d->nodeid || cfs_msg_decode(msg, len, KV_MAX_MSG, &m) < 0)
		return;
	if (m.op == CFS_OP_LOG_ENTRIES) {
		if (cfs_log_merge(d->log, m.data, m.data_len) < 0)
			log_warning("pvecfs: malformed cluster log entries from node %u; ignored",
				    nodeid);
		return;
	}
	if (m.op != CFS_OP_SET_STATUS || m.data_len > CFS_MAX_STATUS_VALUE ||
	    !cfs_path_valid(m.path, false) || !cfs_path_valid(m.path2, false) ||
	    strchr(m.path, '/') || strchr(m.path2, '/'))
		return;
	status_set(d, nodeid, m.path2, m.path, m.data, m.data_len);
}

/* A member left: its values go; a member came: it hears ours again (pmxcfs's kvstore does the same). */
static void on_kv_confchg(cpg_handle_t h, const struct cpg_name *group,
			  const struct cpg_address *members, size_t n_members,
			  const struct cpg_address *left, size_t n_left,
			  const struct cpg_address *joined, size_t n_joined)
{
	(void)group;
	(void)left;
	(void)n_left;
	cfsd *d = NULL;
	cpg_context_get(h, (void **)&d);
	status_drop_gone(d, members, n_members);
	if (n_joined == 0)
		return;
	(void)joined;
	for (status_entry *e = d->status; e; e = e->next)
		if (e->nodeid == d->nodeid)
			kv_send(d, e->key, e->data, e->len);
	/* pmxcfs merges every member's log when one joins: each sends its whole log, and each merges
	 * what it hears (by identity, keeping the newest within the bound), so all end up alike */
	pve_buf b = { 0 };
	cfs_log_encode(d->log, &b);
	if (b.len)
		kv_send_log(d, &b);
	else
		pve_buf_free(&b);
}

/* corosync's nodelist as cmap has it now. */
static void nodelist_read(cfsd *d)
{
	d->n_nodelist = 0;
	for (unsigned i = 0; i < MAX_MEMBERS; i++) {
		char key[64];
		uint32_t id = 0;
		snprintf(key, sizeof(key), "nodelist.node.%u.nodeid", i);
		if (cmap_get_uint32(d->cmap, key, &id) != CS_OK)
			break;
		char *nm = NULL, *ip = NULL;
		snprintf(key, sizeof(key), "nodelist.node.%u.name", i);
		(void)cmap_get_string(d->cmap, key, &nm);
		snprintf(key, sizeof(key), "nodelist.node.%u.ring0_addr", i);
		(void)cmap_get_string(d->cmap, key, &ip);
		size_t k = d->n_nodelist++;
		d->nodelist[k].id = id;
		snprintf(d->nodelist[k].name, sizeof(d->nodelist[k].name), "%s", nm ? nm : "");
		snprintf(d->nodelist[k].ip, sizeof(d->nodelist[k].ip), "%s", ip ? ip : "");
		free(nm);
		free(ip);
	}
}

static void on_nodelist_changed(cmap_handle_t h, cmap_track_handle_t th, int32_t event,
				const char *key, struct cmap_notify_value new_value,
				struct cmap_notify_value old_value, void *user_data)
{
	(void)h, (void)th, (void)event, (void)key, (void)new_value, (void)old_value;
	/* a reload changes several keys one after another: read the list once they are dispatched */
	((cfsd *)user_data)->nodelist_changed = true;
}

static int cluster_start(cfsd *d, pve_error **err)
{
	static cpg_callbacks_t cb = { .cpg_deliver_fn = on_deliver, .cpg_confchg_fn = on_confchg };
	static quorum_callbacks_t qcb = { .quorum_notify_fn = on_quorum };
	cs_error_t rc = CS_ERR_TRY_AGAIN;
	/* corosync's IPC answers about 0.4 s after it starts */
	for (int i = 0; i < 100; i++) {
		rc = cpg_initialize(&d->cpg, &cb);
		if (rc == CS_OK)
			break;
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (rc != CS_OK)
		return pve_error_set(err, ECONNREFUSED, "can't connect to corosync (cpg: error %d)",
				     rc);
	cpg_context_set(d->cpg, d);
	uint32_t qtype;
	if ((rc = quorum_initialize(&d->q, &qcb, &qtype)) != CS_OK)
		return pve_error_set(err, ECONNREFUSED, "can't connect to corosync's quorum: %d",
				     rc);
	quorum_context_set(d->q, d);
	int q = 0;
	if (quorum_getquorate(d->q, &q) == CS_OK)
		d->quorate = q;
	quorum_trackstart(d->q, CS_TRACK_CHANGES);
	cpg_local_get(d->cpg, &d->nodeid);
	d->pid = (uint32_t)getpid();

	snprintf(d->cluster_name, sizeof(d->cluster_name), "pvecfs");
	if (cmap_initialize(&d->cmap) == CS_OK) {
		char *name = NULL;
		if (cmap_get_string(d->cmap, "totem.cluster_name", &name) == CS_OK && name) {
			snprintf(d->cluster_name, sizeof(d->cluster_name), "%s", name);
			free(name);
		}
		nodelist_read(d);
		/* corosync reloads its config when a node joins or leaves the cluster: the nodelist
		 * (and .members) follows */
		cmap_track_handle_t th;
		cmap_context_set(d->cmap, d);
		if (cmap_track_add(d->cmap, "nodelist.node.",
				   CMAP_TRACK_ADD | CMAP_TRACK_DELETE | CMAP_TRACK_MODIFY |
					   CMAP_TRACK_PREFIX,
				   on_nodelist_changed, d, &th) == CS_OK)
			cmap_fd_get(d->cmap, &d->cmap_fd);
	}

	struct cpg_name group;
	group.length = strlen(CPG_GROUP);
	memcpy(group.value, CPG_GROUP, group.length);
	for (int i = 0; i < 100; i++) {
		rc = cpg_join(d->cpg, &group);
		if (rc != CS_ERR_TRY_AGAIN)
			break;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (rc != CS_OK)
		return pve_error_set(err, EIO, "can't join the CPG group: error %d", rc);
	cpg_fd_get(d->cpg, &d->cpg_fd);
	quorum_fd_get(d->q, &d->q_fd);

	static cpg_callbacks_t kvcb = { .cpg_deliver_fn = on_kv_deliver,
					.cpg_confchg_fn = on_kv_confchg };
	if ((rc = cpg_initialize(&d->kv, &kvcb)) != CS_OK)
		return pve_error_set(err, ECONNREFUSED, "can't connect to corosync (cpg: error %d)",
				     rc);
	cpg_context_set(d->kv, d);
	group.length = strlen(CPG_KV_GROUP);
	memcpy(group.value, CPG_KV_GROUP, group.length);
	for (int i = 0; i < 100; i++) {
		rc = cpg_join(d->kv, &group);
		if (rc != CS_ERR_TRY_AGAIN)
			break;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (rc != CS_OK)
		return pve_error_set(err, EIO, "can't join the status CPG group: error %d", rc);
	cpg_fd_get(d->kv, &d->kv_fd);
	/* until the first membership arrives, nothing is applied */
	d->syncing = true;
	return 0;
}

/* ---- start ---- */

static int import_rec(cfs_tree *t, const char *base, const char *rel, pve_error **err)
{
	_cleanup_free_ char *full = *rel ? xasprintf("%s/%s", base, rel) : xstrdup(base);
	DIR *dir = opendir(full);
	if (!dir)
		return pve_error_set(err, errno, "can't read '%s': %m", full);
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    startswith(de->d_name, ".pved-"))
			continue;
		_cleanup_free_ char *sub = *rel ? xasprintf("%s/%s", rel, de->d_name) :
						  xstrdup(de->d_name);
		_cleanup_free_ char *fp = xasprintf("%s/%s", base, sub);
		struct stat st;
		if (lstat(fp, &st) < 0 || !cfs_path_valid(sub, false))
			continue;
		cfs_msg m = { .path = sub, .time = (int64_t)st.st_mtime * 1000 };
		if (S_ISDIR(st.st_mode)) {
			m.op = CFS_OP_MKDIR;
			if ((r = cfs_tree_apply(t, &m)) < 0 && r != -EEXIST)
				break;
			r = import_rec(t, base, sub, err);
		} else if (S_ISREG(st.st_mode)) {
			_cleanup_free_ char *data = NULL;
			size_t len = 0;
			FILE *f = fopen(fp, "re");
			if (!f) {
				r = pve_error_set(err, errno, "can't read '%s': %m", fp);
				break;
			}
			data = xmalloc((size_t)st.st_size + 1);
			len = fread(data, 1, (size_t)st.st_size, f);
			fclose(f);
			m.op = CFS_OP_WRITE;
			m.data = (const uint8_t *)data;
			m.data_len = len;
			if ((r = cfs_tree_apply(t, &m)) < 0)
				r = pve_error_set(err, -r, "can't import '%s'", sub);
		}
	}
	closedir(dir);
	return r;
}

/* A node's first start: the plain files of etc/pve go into a new database, which takes its name only
 * when all are in; the files move aside (var/lib/pve-cluster/imported-etc-pve), not away. */
static int import_plain(cfsd *d, const char *dbpath, pve_error **err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.import", dbpath);
	(void)unlink(tmp);
	cfs_db *db = NULL;
	int r = cfs_db_open(tmp, &db, err);
	if (r < 0)
		return r;
	cfs_tree *t = cfs_tree_new();
	t->db = db;
	r = 0;
	struct stat st;
	if (stat(d->mnt, &st) == 0 && S_ISDIR(st.st_mode))
		r = import_rec(t, d->mnt, "", err);
	if (r == 0 &&
	    (cfs_db_begin(db) < 0 || cfs_db_put_version(db, t) < 0 || cfs_db_commit(db) < 0))
		r = pve_error_set(err, EIO, "can't write '%s'", tmp);
	size_t n = t->n_entries - 1;
	cfs_tree_free(t);
	cfs_db_free(db);
	if (r < 0)
		return r;
	if (rename(tmp, dbpath) < 0)
		return pve_error_set(err, errno, "can't rename '%s': %m", tmp);
	if (n) {
		_cleanup_free_ char *aside =
			xasprintf("%s/var/lib/pve-cluster/imported-etc-pve", d->root);
		if (rename(d->mnt, aside) < 0 || mkdir(d->mnt, 0755) < 0)
			return pve_error_set(err, errno, "can't move '%s' aside: %m", d->mnt);
	}
	log_info("pvecfs: imported %zu entries from the plain files of '%s'", n, d->mnt);
	return 0;
}

static int listen_socket(cfsd *d, pve_error **err)
{
	_cleanup_free_ char *path = cfs_socket_path(d->root);
	_cleanup_free_ char *rundir = xasprintf("%s/run", d->root);
	int r = pve_mkdir_p(rundir, 0755, err);
	if (r < 0)
		return r;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return pve_error_set(err, ENAMETOOLONG, "socket path '%s' is too long", path);
	/* bound under a temporary name and renamed when listening: a store that finds the socket can
	 * connect to it */
	_cleanup_free_ char *tmp = xasprintf("%s.new", path);
	if (strlen(tmp) >= sizeof(sa.sun_path))
		return pve_error_set(err, ENAMETOOLONG, "socket path '%s' is too long", tmp);
	strcpy(sa.sun_path, tmp);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return pve_error_set(err, errno, "socket: %m");
	(void)unlink(tmp);
	/* root only: the socket writes priv/ */
	mode_t old = umask(0077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0 ||
	    rename(tmp, path) < 0) {
		int e = errno;
		umask(old);
		close(fd);
		return pve_error_set(err, e, "can't listen on '%s': %m", path);
	}
	umask(old);
	d->lfd = fd;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: pvecfs --root DIR --node NAME [--cluster] [--foreground]\n"
			"  --cluster  replicate through the corosync of this network namespace\n");
}

static void loop(cfsd *d)
{
	for (;;) {
		struct pollfd pf[MAX_CLIENTS + 8];
		client *map[MAX_CLIENTS + 8];
		nfds_t n = 0;
		pf[n++] = (struct pollfd){ .fd = d->sfd, .events = POLLIN };
		pf[n++] = (struct pollfd){ .fd = d->lfd, .events = POLLIN };
		pf[n++] = (struct pollfd){ .fd = d->se ? fuse_session_fd(d->se) : -1,
					   .events = POLLIN };
		pf[n++] = (struct pollfd){ .fd = d->cluster ? d->cpg_fd : -1, .events = POLLIN };
		pf[n++] = (struct pollfd){ .fd = d->cluster ? d->q_fd : -1, .events = POLLIN };
		pf[n++] = (struct pollfd){ .fd = d->cluster ? d->kv_fd : -1, .events = POLLIN };
		pf[n++] = (struct pollfd){ .fd = d->cluster ? d->cmap_fd : -1, .events = POLLIN };
		nfds_t first = n;
		for (client *c = d->clients; c; c = c->next) {
			map[n] = c;
			pf[n++] = (struct pollfd){ .fd = c->fd,
						   .events = POLLIN | (c->out.len ? POLLOUT : 0) };
		}
		int timeout = d->outq || d->kv_outq ? 2 : 1000;
		if (poll(pf, n, timeout) < 0 && errno != EINTR)
			break;
		if (pf[0].revents) {
			struct signalfd_siginfo si;
			if (read(d->sfd, &si, sizeof(si)) > 0)
				return;
		}
		if (pf[1].revents & POLLIN)
			accept_client(d);
		if (pf[2].revents) {
			for (int i = 0; i < 64; i++) {
				int r = fuse_session_receive_buf(d->se, &d->fbuf);
				if (r == -EAGAIN || r == -EINTR)
					break;
				if (r <= 0) {
					log_error("pvecfs: the FUSE mount went away");
					return;
				}
				fuse_session_process_buf(d->se, &d->fbuf);
			}
		}
		if (d->cluster) {
			if (pf[3].revents) {
				/* what one dispatch delivers is committed at once, then answered */
				cfs_tree_batch_begin(d->tree);
				d->defer = true;
				cs_error_t rc = cpg_dispatch(d->cpg, CS_DISPATCH_ALL);
				cfs_tree_batch_end(d->tree);
				d->defer = false;
				pending *done = d->done;
				d->done = NULL;
				/* in delivery order: the list was built backwards */
				pending *rev = NULL;
				while (done) {
					pending *nx = done->next;
					done->next = rev;
					rev = done;
					done = nx;
				}
				while (rev) {
					pending *nx = rev->next;
					complete(d, rev, rev->result);
					rev = nx;
				}
				if (rc == CS_ERR_LIBRARY) {
					log_error("pvecfs: corosync went away");
					return;
				}
			}
			if (pf[4].revents &&
			    quorum_dispatch(d->q, CS_DISPATCH_ALL) == CS_ERR_LIBRARY) {
				log_error("pvecfs: corosync's quorum went away");
				return;
			}
			if (pf[5].revents &&
			    cpg_dispatch(d->kv, CS_DISPATCH_ALL) == CS_ERR_LIBRARY) {
				log_error("pvecfs: corosync went away");
				return;
			}
			if (pf[6].revents &&
			    cmap_dispatch(d->cmap, CS_DISPATCH_ALL) == CS_ERR_LIBRARY) {
				log_error("pvecfs: corosync's cmap went away");
				return;
			}
			if (d->nodelist_changed) {
				d->nodelist_changed = false;
				nodelist_read(d);
				log_info("pvecfs: corosync's nodelist has %zu nodes",
					 d->n_nodelist);
			}
			cpg_flush(d);
			kv_flush(d);
		}
		for (nfds_t i = first; i < n; i++) {
			if (pf[i].revents & (POLLIN | POLLHUP | POLLERR))
				client_readable(d, map[i]);
		}
		for (client *c = d->clients, *next; c; c = next) {
			next = c->next;
			client_flush(c);
			if (c->dead)
				client_drop(d, c);
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "node", required_argument, NULL, 'n' },
		{ "cluster", no_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	cfsd d = { .lfd = -1, .sfd = -1, .cpg_fd = -1, .q_fd = -1, .kv_fd = -1, .cmap_fd = -1 };
	bool debug = false;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'r':
			d.root = optarg;
			break;
		case 'n':
			d.node = optarg;
			break;
		case 'c':
			d.cluster = true;
			break;
		case 'f':
			break;
		case 'd':
			debug = true;
			break;
		default:
			usage();
			return o == 'h' ? 0 : 2;
		}
	}
	if (!d.root || !d.node || !cfs_path_valid(d.node, false) || strchr(d.node, '/')) {
		usage();
		return 2;
	}
	pve_log_init("pvecfs", false, debug ? PVE_LOG_DEBUG : PVE_LOG_INFO);
	d.queued_tail = &d.queued;
	d.outq_tail = &d.outq;
	d.kv_outq_tail = &d.kv_outq;
	d.start_time = time(NULL);
	/* the uids start at the clock's milliseconds: a pvecfs restarted within the second does not
	 * give its entries the identities (time, node, uid) of the run before */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	d.log = cfs_log_new(
		(uint32_t)((uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000));
	/* as pmxcfs begins its log (the others hear of it when this node joins) */
	static const char first[] = "starting cluster log";
	(void)cfs_log_add(d.log, d.node, "cluster", "root", (uint32_t)getpid(), PVE_LOG_INFO,
			  (uint32_t)d.start_time, first, sizeof(first) - 1);
	struct group *g = getgrnam("www-data");
	d.www_gid = g ? g->gr_gid : 0;
	d.mnt = xasprintf("%s/etc/pve", d.root);

	_cleanup_error_ pve_error *err = NULL;
	_cleanup_free_ char *dbdir = xasprintf("%s/var/lib/pve-cluster", d.root);
	_cleanup_free_ char *dbpath = cfs_db_path(d.root);
	_cleanup_free_ char *pidpath = xasprintf("%s/run/pvecfs.pid", d.root);
	_cleanup_free_ char *rundir = xasprintf("%s/run", d.root);
	struct stat st;
	if (pve_mkdir_p(dbdir, 0700, &err) < 0 || pve_mkdir_p(d.mnt, 0755, &err) < 0)
		goto fail;
	/* one pvecfs per root: a second would mount over the first and take its socket */
	if (pve_mkdir_p(rundir, 0755, &err) < 0)
		goto fail;
	int pidfd = open(pidpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (pidfd < 0 || flock(pidfd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "pvecfs: another pvecfs serves '%s'\n", d.root);
		return 1;
	}
	if (ftruncate(pidfd, 0) == 0)
		dprintf(pidfd, "%d\n", (int)getpid());
	if (stat(d.mnt, &st) < 0 && errno == ENOTCONN)
		(void)umount2(d.mnt, MNT_DETACH);
	if (access(dbpath, F_OK) < 0 && import_plain(&d, dbpath, &err) < 0)
		goto fail;
	cfs_db *db = NULL;
	if (cfs_db_open(dbpath, &db, &err) < 0)
		goto fail;
	d.tree = cfs_tree_new();
	if (cfs_db_load(db, d.tree, &err) < 0)
		goto fail;
	d.tree->db = db;
	d.tree->on_change = notify_change;
	d.tree->userdata = &d;
	log_info("pvecfs: loaded %zu entries, version %llu", d.tree->n_entries - 1,
		 (unsigned long long)d.tree->version);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	if (d.cluster && cluster_start(&d, &err) < 0)
		goto fail;
	if (fuse_start(&d, &err) < 0)
		goto fail;
	/* the socket last: a store that finds it finds the mount too */
	if (listen_socket(&d, &err) < 0)
		goto fail;
	if (!d.cluster)
		ensure_layout(&d);
	log_info("pvecfs: serving '%s'%s", d.mnt, d.cluster ? " (cluster)" : " (local)");
	loop(&d);

	char *sock = cfs_socket_path(d.root);
	(void)unlink(sock);
	free(sock);
	fuse_session_unmount(d.se);
	fuse_session_destroy(d.se);
	if (d.cluster) {
		cpg_finalize(d.cpg);
		cpg_finalize(d.kv);
		quorum_finalize(d.q);
		if (d.cmap)
			cmap_finalize(d.cmap);
	}
	while (d.clients)
		client_drop(&d, d.clients);
	while (d.status) {
		status_entry *e = d.status;
		d.status = e->next;
		free(e->node);
		free(e->key);
		free(e->data);
		free(e);
	}
	while (d.kv_outq) {
		outmsg *q = d.kv_outq;
		d.kv_outq = q->next;
		pve_buf_free(&q->b);
		free(q);
	}
	cfs_log_free(d.log);
	free(d.rrd_text);
	cfs_db_free(d.tree->db);
	d.tree->db = NULL;
	cfs_tree_free(d.tree);
	free(d.mnt);
	free(d.fbuf.mem);
	return 0;
fail:
	fprintf(stderr, "pvecfs: %s\n", err ? err->message : "failed");
	if (d.se) {
		fuse_session_unmount(d.se);
		fuse_session_destroy(d.se);
	}
	return 1;
}

/* cluster: the config store's pvecfs backend: every operation one request over pvecfs's unix socket,
 * answered once the change is applied (in a cluster: once the cluster's order delivered it back). */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "cluster/cfs-internal.h"
#include "cluster/store-internal.h"

_Static_assert(PVE_STORE_STATUS_MAX_VALUE == CFS_MAX_STATUS_VALUE &&
		       PVE_STORE_STATUS_MAX_KEYS == CFS_MAX_STATUS_KEYS,
	       "the store states pvecfs's limits");

typedef struct cfs_conn {
	int fd;
	int watch_fd, wsock,
		wtimer; /* the epoll set the caller polls, the socket, the retry timer */
	pid_t pid; /* a forked child gets its own connection: requests on a shared one would mix */
	pthread_t thread; /* so does any other thread than the one that connected, for each call */
	uint64_t next_req;
	char *sock;
	/* the watch connection's partial frame */
	uint8_t *wbuf;
	size_t wlen, wcap;
} cfs_conn;

static int connect_sock(const char *path, int flags)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* Is pvecfs serving root: 1 with its socket connected in *ret_fd, 0 when this root never ran it (no
 * database: the plain files are the store), an error when it did but is not running now. */
int pve_store_cfs_probe(const char *root, int *ret_fd, pve_error **err)
{
	_cleanup_free_ char *sock = cfs_socket_path(root);
	int fd = connect_sock(sock, 0);
	if (fd >= 0) {
		*ret_fd = fd;
		return 1;
	}
	_cleanup_free_ char *db = cfs_db_path(root);
	if (access(db, F_OK) < 0)
		return 0;
	/* the files live in pvecfs's database now: the directory under the mount is not the store */
	return pve_error_set(err, ECONNREFUSED,
			     "the config filesystem (pvecfs) of '%s' is not running", root);
}

/* send(MSG_NOSIGNAL): a store user that did not ignore SIGPIPE is not killed by a pvecfs restart */
static int send_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int reconnect(cfs_conn *c, pve_error **err)
{
	int fd = connect_sock(c->sock, 0);
	if (fd < 0)
		return pve_error_set(err, -fd, "can't connect to the config filesystem: %s",
				     strerror(-fd));
	/* a forked child leaves the parent's fd open for the parent: closing it would not free it */
	if (c->pid == getpid() && c->fd >= 0)
		close(c->fd);
	c->fd = fd;
	c->pid = getpid();
	c->thread = pthread_self();
	return 0;
}

/* One try: -EPIPE when the request never left (pvecfs restarted since the last one), -ECONNRESET
 * when the connection closed before the reply. */
static int call_once(cfs_conn *c, const pve_buf *req, uint64_t reqid, uint8_t **ret_frame,
		     cfs_msg *ret)
{
	if (send_all(c->fd, req->data, req->len) < 0)
		return -EPIPE;
	uint8_t hdr[CFS_MSG_HEADER];
	ssize_t got = pve_read_full(c->fd, hdr, sizeof(hdr));
	if (got != (ssize_t)sizeof(hdr))
		return -ECONNRESET;
	size_t fl = cfs_msg_frame_len(hdr, sizeof(hdr));
	if (fl < CFS_MSG_HEADER || fl > CFS_MAX_REQUEST)
		return -EBADMSG;
	uint8_t *frame = xmalloc(fl);
	memcpy(frame, hdr, sizeof(hdr));
	got = pve_read_full(c->fd, frame + sizeof(hdr), fl - sizeof(hdr));
	if (got != (ssize_t)(fl - sizeof(hdr))) {
		free(frame);
		return -ECONNRESET;
	}
	if (cfs_msg_decode(frame, fl, CFS_MAX_REQUEST, ret) < 0 || ret->op != CFS_OP_REPLY ||
	    ret->reqid != reqid) {
		free(frame);
		return -EBADMSG;
	}
	*ret_frame = frame;
	return 0;
}

/* One request, its reply; notifications never come on this connection. Returns the reply's result;
 * *ret_frame is set when a reply came (so an error is pvecfs's answer, not the connection's). */
static int call(pve_store *s, cfs_msg *m, uint8_t **ret_frame, cfs_msg *ret, pve_error **err)
{
	cfs_conn *c = s->priv;
	int r;
	if (c->pid != getpid() && (r = reconnect(c, err)) < 0)
		return r;
	pve_buf b = { 0 };
	if (!pthread_equal(c->thread, pthread_self())) {
		/* pved's blocking queues read the store from their threads while its loop uses the
		 * connection: such a call has a connection of its own */
		int fd = connect_sock(c->sock, 0);
		if (fd < 0)
			return pve_error_set(err, EIO,
					     "the config filesystem (pvecfs) is not answering");
		cfs_conn own = { .fd = fd };
		m->reqid = 1;
		cfs_msg_encode(&b, m);
		r = call_once(&own, &b, m->reqid, ret_frame, ret);
		close(fd);
		pve_buf_free(&b);
		if (r < 0)
			return pve_error_set(err, EIO,
					     "the config filesystem (pvecfs) is not answering");
		return ret->result;
	}
	m->reqid = ++c->next_req;
	cfs_msg_encode(&b, m);
	r = call_once(c, &b, m->reqid, ret_frame, ret);
	/* pvecfs was restarted (pved does that): a request that never reached it, or one that changes
	 * nothing, is sent again on a new connection; a change whose fate is unknown is not */
	if (r == -EPIPE || (r == -ECONNRESET && !cfs_op_mutates(m->op))) {
		if (reconnect(c, NULL) == 0)
			r = call_once(c, &b, m->reqid, ret_frame, ret);
	}
	pve_buf_free(&b);
	if (r == -EPIPE || r == -ECONNRESET)
		return pve_error_set(err, EIO, "the config filesystem (pvecfs) is not answering");
	if (r < 0)
		return pve_error_set(err, EIO, "config filesystem: a bad reply");
	return ret->result;
}

/* The file backend's messages for the same errors, so callers and users see no difference. */
static int fail(pve_error **err, int r, const char *path, const char *to)
{
	switch (-r) {
	case ENOENT:
		return to ? pve_error_set(err, ENOENT, "can't rename '%s': it does not exist",
					  path) :
			    pve_error_set(err, ENOENT, "'%s' does not exist", path);
	case EEXIST:
		return to ? pve_error_set(err, EEXIST, "can't rename '%s' to '%s': target exists",
					  path, to) :
			    pve_error_set(err, EEXIST, "'%s' already exists", path);
	case ESTALE:
		return pve_error_set(
			err, ESTALE,
			"detected modified configuration - file changed by other user? Try again.");
	case EISDIR:
		return pve_error_set(err, EISDIR, "'%s' is a directory", path);
	case ENOTDIR:
		return pve_error_set(err, ENOTDIR, "'%s': a parent is not a directory", path);
	case ENOTEMPTY:
		return pve_error_set(err, ENOTEMPTY, "directory '%s' is not empty", path);
	case EACCES:
		/* pmxcfs's refusal without quorum, as Proxmox's API words it */
		return pve_error_set(err, EACCES, "cluster not ready - no quorum?");
	case EFBIG:
		return pve_error_set(err, E2BIG, "'%s' is larger than %u bytes", path,
				     CFS_MAX_FILE);
	case ENOSPC:
		return pve_error_set(err, ENOSPC,
				     "'%s': the config filesystem is full (%llu MiB or %u entries)",
				     path, CFS_MAX_TOTAL >> 20, CFS_MAX_ENTRIES);
	case EBUSY:
		return -EBUSY;
	default:
		return pve_error_set(err, -r, "config filesystem: '%s': %s", path, strerror(-r));
	}
}

static int cfs_open(pve_store *s, const char *root, pve_error **err)
{
	(void)err;
	/* store.c hands over the probed socket in s->priv */
	cfs_conn *c = xcalloc(1, sizeof(*c));
	c->fd = (int)(intptr_t)s->priv;
	c->watch_fd = c->wsock = c->wtimer = -1;
	c->pid = getpid();
	c->thread = pthread_self();
	c->sock = cfs_socket_path(root);
	s->priv = c;
	s->dir = xasprintf("%s/etc/pve", root);
	return 0;
}

static void cfs_free(pve_store *s)
{
	cfs_conn *c = s->priv;
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->watch_fd >= 0)
		close(c->watch_fd);
	if (c->wsock >= 0)
		close(c->wsock);
	if (c->wtimer >= 0)
		close(c->wtimer);
	free(c->sock);
	free(c->wbuf);
	free(c);
}

static int cfs_read(pve_store *s, const char *path, char **ret_data, size_t *ret_len,
		    pve_error **err)
{
	cfs_msg m = { .op = CFS_OP_READ, .path = path }, rep;
	_cleanup_free_ uint8_t *frame = NULL;
	int r = call(s, &m, &frame, &rep, err);
	if (r < 0)
		return frame ? fail(err, r, path, NULL) : r;
	if (rep.data_len > PVE_STORE_MAX_FILE)
		return pve_error_set(err, E2BIG, "'%s' is larger than %d bytes", path,
				     PVE_STORE_MAX_FILE);
	char *data = xmalloc(rep.data_len + 1);
	if (rep.data_len)
		memcpy(data, rep.data, rep.data_len);
	data[rep.data_len] = '\0';
	*ret_data = data;
	*ret_len = rep.data_len;
	return 0;
}

static int simple(pve_store *s, cfs_msg *m, const char *to, pve_error **err)
{
	cfs_msg rep;
	_cleanup_free_ uint8_t *frame = NULL;
	int r = call(s, m, &frame, &rep, err);
	if (r < 0)
		return frame ? fail(err, r, m->path, to) : r;
	return 0;
}

static int cfs_write(pve_store *s, const char *path, const void *data, size_t len,
		     const char *expected_digest, bool exclusive, pve_error **err)
{
	cfs_msg m = { .op = CFS_OP_WRITE,
		      .path = path,
		      .tag = expected_digest,
		      .flags = exclusive ? CFS_F_EXCL : 0,
		      .data = data,
		      .data_len = len };
	return simple(s, &m, NULL, err);
}

static int cfs_remove(pve_store *s, const char *path, pve_error **err)
{
	cfs_msg m = { .op = CFS_OP_DELETE, .path = path };
	return simple(s, &m, NULL, err);
}

static int cfs_rename(pve_store *s, const char *from, const char *to, pve_error **err)
{
	cfs_msg m = { .op = CFS_OP_RENAME, .path = from, .path2 = to };
	return simple(s, &m, to, err);
}

static int cfs_mkdir(pve_store *s, const char *path, pve_error **err)
{
	cfs_msg m = { .op = CFS_OP_MKDIR, .path = path };
	return simple(s, &m, NULL, err);
}

static int cfs_list(pve_store *s, const char *dir, char ***ret_names, pve_error **err)
{
	cfs_msg m = { .op = CFS_OP_LIST, .path = dir ? dir : "" }, rep;
	_cleanup_free_ uint8_t *frame = NULL;
	int r = call(s, &m, &frame, &rep, err);
	if (r < 0) {
		if (!frame)
			return r;
		if (r == -ENOENT)
			return pve_error_set(err, ENOENT, "directory '%s' does not exist",
					     dir ? dir : "");
		if (r == -ENOTDIR)
			return pve_error_set(err, ENOTDIR, "'%s' is not a directory", dir);
		return fail(err, r, dir ? dir : "", NULL);
	}
	char **names = strv_new();
	for (size_t pos = 0; pos < rep.data_len;) {
		const char *nm = (const char *)rep.data + pos;
		size_t n = strnlen(nm, rep.data_len - pos);
		if (n == rep.data_len - pos)
			break; /* no NUL: pvecfs always ends each name with one */
		strv_push(&names, xstrndup(nm, n));
		pos += n + 1;
	}
	*ret_names = names;
	return 0;
}

static bool cfs_exists(pve_store *s, const char *path)
{
	cfs_msg m = { .op = CFS_OP_STAT, .path = path }, rep;
	_cleanup_free_ uint8_t *frame = NULL;
	return call(s, &m, &frame, &rep, NULL) == 0;
}

static int cfs_lock_try(pve_store *s, const char *name, const char *token, pve_error **err)
{
	cfs_msg m = { .op = CFS_OP_LOCK, .path = name, .tag = token };
	return simple(s, &m, NULL, err);
}

static int cfs_lock_refresh(pve_store *s, const char *name, const char *token, pve_error **err)
{
	cfs_msg m = { .op = CFS_OP_LOCK_REFRESH, .path = name, .tag = token };
	int r = simple(s, &m, NULL, err);
	if (r == -EBUSY)
		return pve_error_set(err, EBUSY, "lock '%s' expired and was taken over", name);
	return r;
}

static void cfs_lock_release(pve_store *s, const char *name, const char *token)
{
	cfs_msg m = { .op = CFS_OP_UNLOCK, .path = name, .tag = token };
	(void)simple(s, &m, NULL, NULL);
}

static int cfs_status_set(pve_store *s, const char *key, const void *data, size_t len,
			  pve_error **err)
{
	cfs_msg m = { .op = CFS_OP_SET_STATUS, .path = key, .data = data, .data_len = len }, rep;
	_cleanup_free_ uint8_t *frame = NULL;
	int r = call(s, &m, &frame, &rep, err);
	if (r == -ENOSPC && frame)
		return pve_error_set(err, ENOSPC, "this node has %d status keys already",
				     CFS_MAX_STATUS_KEYS);
	if (r < 0 && frame)
		return pve_error_set(err, -r, "config filesystem: status '%s': %s", key,
				     strerror(-r));
	return r;
}

static int cfs_status_get(pve_store *s, const char *node, const char *key, char **ret_data,
			  size_t *ret_len, pve_error **err)
{
	cfs_msg m = { .op = CFS_OP_GET_STATUS, .path = node, .path2 = key }, rep;
	_cleanup_free_ uint8_t *frame = NULL;
	int r = call(s, &m, &frame, &rep, err);
	if (r == -ENOENT && frame)
		return pve_error_set(err, ENOENT, "node '%s' has no status '%s'", node, key);
	if (r < 0 && frame)
		return pve_error_set(err, -r, "config filesystem: status '%s' of '%s': %s", key,
				     node, strerror(-r));
	if (r < 0)
		return r;
	if (rep.data_len > CFS_MAX_STATUS_VALUE)
		return pve_error_set(err, E2BIG, "status '%s' of '%s' is larger than %d bytes", key,
				     node, CFS_MAX_STATUS_VALUE);
	char *data = xmalloc(rep.data_len + 1);
	if (rep.data_len)
		memcpy(data, rep.data, rep.data_len);
	data[rep.data_len] = '\0';
	*ret_data = data;
	*ret_len = rep.data_len;
	return 0;
}

/* The watch fd is an epoll set holding the subscribed socket and a retry timer: when pvecfs restarts,
 * the socket is replaced inside the set and the fd the caller polls stays the same. */
static int watch_subscribe(cfs_conn *c)
{
	int fd = connect_sock(c->sock, 0);
	if (fd < 0)
		return fd;
	pve_buf b = { 0 };
	cfs_msg m = { .op = CFS_OP_WATCH, .reqid = 1 };
	cfs_msg_encode(&b, &m);
	int r = send_all(fd, b.data, b.len);
	pve_buf_free(&b);
	uint8_t hdr[CFS_MSG_HEADER + 3];
	/* the subscription's reply has no strings or data: exactly the header and three NULs */
	if (r < 0 || pve_read_full(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr)) {
		close(fd);
		return -EIO;
	}
	int fl = fcntl(fd, F_GETFL);
	(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN };
	if (epoll_ctl(c->watch_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	c->wsock = fd;
	c->wlen = 0;
	return 0;
}

static void watch_retry_later(cfs_conn *c)
{
	struct itimerspec its = { .it_value = { 0, 500 * 1000 * 1000 } };
	(void)timerfd_settime(c->wtimer, 0, &its, NULL);
}

static int cfs_watch_fd(pve_store *s, pve_error **err)
{
	cfs_conn *c = s->priv;
	if (c->watch_fd >= 0)
		return c->watch_fd;
	c->watch_fd = epoll_create1(EPOLL_CLOEXEC);
	c->wtimer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN };
	if (c->watch_fd < 0 || c->wtimer < 0 ||
	    epoll_ctl(c->watch_fd, EPOLL_CTL_ADD, c->wtimer, &ev) < 0) {
		int e = errno;
		if (c->watch_fd >= 0)
			close(c->watch_fd);
		if (c->wtimer >= 0)
			close(c->wtimer);
		c->watch_fd = c->wtimer = -1;
		return pve_error_set(err, e, "can't watch the config filesystem: %m");
	}
	int r = watch_subscribe(c);
	if (r < 0) {
		close(c->watch_fd);
		close(c->wtimer);
		c->watch_fd = c->wtimer = -1;
		return pve_error_set(err, -r, "can't watch the config filesystem: %s",
				     strerror(-r));
	}
	return c->watch_fd;
}

static int cfs_watch_read(pve_store *s, pve_store_watch_fn cb, void *userdata, pve_error **err)
{
	cfs_conn *c = s->priv;
	if (c->watch_fd < 0)
		return pve_error_set(err, EBADF, "the config store is not watched");
	uint64_t ticks;
	(void)!read(c->wtimer, &ticks, sizeof(ticks));
	if (c->wsock < 0) {
		/* pvecfs is being restarted: subscribe again when it is back, and then anything may
		 * have changed meanwhile */
		if (watch_subscribe(c) < 0)
			watch_retry_later(c);
		else
			cb("", userdata);
		return 0;
	}
	/* each path once per drain, as the file backend reports it */
	_cleanup_strv_free_ char **seen = NULL;
	for (;;) {
		if (c->wcap - c->wlen < 65536) {
			c->wcap = c->wcap ? c->wcap * 2 : 131072;
			c->wbuf = xrealloc(c->wbuf, c->wcap);
		}
		ssize_t got = read(c->wsock, c->wbuf + c->wlen, c->wcap - c->wlen);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EAGAIN)
			break;
		if (got <= 0) {
			/* pvecfs went away (closing the socket takes it out of the set) */
			close(c->wsock);
			c->wsock = -1;
			watch_retry_later(c);
			cb("", userdata);
			return 0;
		}
		c->wlen += (size_t)got;
		size_t pos = 0;
		for (;;) {
			size_t fl = cfs_msg_frame_len(c->wbuf + pos, c->wlen - pos);
			if (fl == 0 || c->wlen - pos < fl)
				break;
			cfs_msg m;
			if (fl < CFS_MSG_HEADER || fl > CFS_MAX_REQUEST ||
			    cfs_msg_decode(c->wbuf + pos, fl, CFS_MAX_REQUEST, &m) < 0) {
				c->wlen = 0;
				cb("", userdata);
				return 0;
			}
			/* lock directories are no change of configuration (as in the file backend) */
			if (m.op == CFS_OP_NOTIFY && !startswith(m.path, "priv/lock/") &&
			    strcmp(m.path, "priv/lock") != 0 && !strv_contains(seen, m.path))
				strv_push(&seen, xstrdup(m.path));
			pos += fl;
		}
		memmove(c->wbuf, c->wbuf + pos, c->wlen - pos);
		c->wlen -= pos;
	}
	for (size_t i = 0; seen && seen[i]; i++)
		cb(seen[i], userdata);
	return 0;
}

/* ---- the cluster log ---- */

/* What pvecfs cuts to its entry's limit anyway: more would be sent only to be dropped there. */
static char *log_part(const char *s)
{
	return xstrndup(s, CFS_LOG_MAX_ENTRY);
}

static int cfs_log_append(pve_store *s, const char *tag, const char *user, int priority,
			  const char *msg, pve_error **err)
{
	_cleanup_free_ char *t = log_part(tag), *u = log_part(user), *text = log_part(msg);
	cfs_msg m = { .op = CFS_OP_LOG,
		      .path = t,
		      .path2 = u,
		      .flags = (uint32_t)priority,
		      .data = (const uint8_t *)text,
		      .data_len = strlen(text) },
		rep;
	_cleanup_free_ uint8_t *frame = NULL;
	int r = call(s, &m, &frame, &rep, err);
	if (r < 0 && frame)
		return pve_error_set(err, -r, "can't write the cluster log: %s", strerror(-r));
	return r < 0 ? r : 0;
}

static int cfs_log_get(pve_store *s, const char *user, unsigned max, char **ret_json,
		       pve_error **err)
{
	_cleanup_free_ char *u = log_part(user);
	cfs_msg m = { .op = CFS_OP_LOG_READ, .path = u, .arg = max }, rep;
	_cleanup_free_ uint8_t *frame = NULL;
	int r = call(s, &m, &frame, &rep, err);
	if (r < 0)
		return frame ? pve_error_set(err, -r, "can't read the cluster log: %s",
					     strerror(-r)) :
			       r;
	if (rep.data_len > PVE_STORE_LOG_MAX_JSON)
		return pve_error_set(err, E2BIG, "the cluster log's answer is over %d bytes",
				     PVE_STORE_LOG_MAX_JSON);
	*ret_json = xstrndup(rep.data ? (const char *)rep.data : "", rep.data_len);
	return 0;
}

const pve_store_ops pve_store_cfs_ops = {
	.name = "pvecfs",
	.open = cfs_open,
	.free = cfs_free,
	.read = cfs_read,
	.write = cfs_write,
	.remove = cfs_remove,
	.rename = cfs_rename,
	.mkdir = cfs_mkdir,
	.list = cfs_list,
	.exists = cfs_exists,
	.log = cfs_log_append,
	.log_read = cfs_log_get,
	.lock_try = cfs_lock_try,
	.lock_refresh = cfs_lock_refresh,
	.lock_release = cfs_lock_release,
	.recover = NULL,
	.watch_fd = cfs_watch_fd,
	.watch_read = cfs_watch_read,
	.status_set = cfs_status_set,
	.status_get = cfs_status_get,
};

/* storage: what nfs, cifs and iscsi share: running their tools with a time limit, checking that a
 * server answers before a mount waits on it, finding mounts, and the dir plugin's ops on a mounted
 * share. */
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "storage/net-internal.h"

/* What we keep of a tool's output: listings are small; stderr is for one message. */
#define NET_MAX_OUT (4 * 1024 * 1024)
#define NET_MAX_ERR (16 * 1024)
#define NET_ENV_MAX 16
/* /proc/self/mountinfo on a busy host: thousands of lines at most. */
#define MOUNTINFO_MAX (16 * 1024 * 1024)

/* ---- running tools --------------------------------------------------------------------------- */

static void drain(int fd, pve_buf *b, size_t max, bool *open_)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			*open_ = false;
		return;
	}
	if (b->len + (size_t)n <= max)
		pve_buf_append(b, buf, (size_t)n);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* A tool's stderr on one line: its lines joined by "; ", without mount.cifs's pointer to its manual
 * page, and cut at NET_MSG_MAX. */
#define NET_MSG_MAX 400
static char *one_line(const char *msg)
{
	pve_buf b = { 0 };
	_cleanup_strv_free_ char **lines = pve_strv_split(msg, "\n\r");
	for (char **l = lines; *l && b.len < NET_MSG_MAX; l++) {
		if (startswith(*l, "Refer to the mount.cifs(8)") || !**l)
			continue;
		if (b.len)
			pve_buf_puts(&b, "; ");
		pve_buf_puts(&b, *l);
	}
	if (!b.data)
		return xstrdup("");
	if (b.len > NET_MSG_MAX)
		b.data[NET_MSG_MAX] = '\0';
	return pve_buf_steal(&b);
}

static void child_exec(const char *const argv[], const char *const env[], int out, int errfd)
{
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		_exit(127);
	/* Its own process group, so the time limit ends mount.nfs and friends too. */
	setpgid(0, 0);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	const char *envp[NET_ENV_MAX + 3] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C" };
	size_t n = 2;
	for (size_t i = 0; env && env[i] && n < NET_ENV_MAX + 2; i++)
		envp[n++] = env[i];
	envp[n] = NULL;
	execve(argv[0], (char *const *)argv, (char *const *)envp);
	_exit(127);
}

int pve_net_run(const char *const argv[], const char *const env[], int timeout_ms, char **ret_out,
		int *ret_status, pve_error **err)
{
	const char *tool = base_name(argv[0]);
	int out[2], errp[2];
	if (pipe2(out, O_CLOEXEC) < 0)
		return pve_error_set(err, errno, "%s: pipe: %m", tool);
	if (pipe2(errp, O_CLOEXEC) < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		return pve_error_set(err, e, "%s: pipe: %s", tool, strerror(e));
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		close(errp[0]);
		close(errp[1]);
		return pve_error_set(err, e, "%s: fork: %s", tool, strerror(e));
	}
	if (pid == 0)
		child_exec(argv, env, out[1], errp[1]);
	setpgid(pid, pid); /* both sides, so the kill below never misses the group */
	close(out[1]);
	close(errp[1]);
	_cleanup_close_ int ofd = out[0], efd = errp[0];
	pve_buf ob = { 0 }, eb = { 0 };
	bool oopen = true, eopen = true, timed_out = false;
	long long deadline = now_ms() + timeout_ms;
	while (oopen || eopen) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd p[2] = { { .fd = oopen ? ofd : -1, .events = POLLIN },
				       { .fd = eopen ? efd : -1, .events = POLLIN } };
		int r = poll(p, 2, (int)left);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			drain(ofd, &ob, NET_MAX_OUT, &oopen);
		if (p[1].revents)
			drain(efd, &eb, NET_MAX_ERR, &eopen);
	}
	if (timed_out)
		kill(-pid, SIGKILL);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	if (timed_out) {
		pve_buf_free(&ob);
		pve_buf_free(&eb);
		return pve_error_set(err, ETIMEDOUT, "%s: no answer within %d s", tool,
				     timeout_ms / 1000);
	}
	bool failed = !WIFEXITED(status) || (!ret_status && WEXITSTATUS(status) != 0);
	if (failed || (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !eb.len)) {
		if (!eb.data)
			pve_buf_puts(&eb, "");
		_cleanup_free_ char *msg = one_line(eb.data);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !*msg)
			pve_error_set(err, ENOENT, "cannot run %s", argv[0]);
		else if (WIFSIGNALED(status))
			pve_error_set(err, EIO, "%s killed by signal %d", tool, WTERMSIG(status));
		else if (!*msg)
			pve_error_set(err, EIO, "%s failed with exit code %d", tool,
				      WEXITSTATUS(status));
		else
			pve_error_set(err, EIO, "%s (%s exit code %d)", msg, tool,
				      WEXITSTATUS(status));
		pve_buf_free(&ob);
		pve_buf_free(&eb);
		return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOENT : -EIO;
	}
	if (ret_status)
		*ret_status = WEXITSTATUS(status);
	if (ret_out && ret_status && *ret_status != 0 && eb.len) {
		/* a caller that takes the status also wants to know why */
		pve_buf_puts(&ob, "");
		pve_buf_append(&ob, "\n", 1);
		pve_buf_append(&ob, eb.data, eb.len);
	}
	pve_buf_free(&eb);
	if (ret_out)
		*ret_out = ob.data ? pve_buf_steal(&ob) : xstrdup("");
	else
		pve_buf_free(&ob);
	return 0;
}

/* ---- servers --------------------------------------------------------------------------------- */

bool pve_net_server_ok(const char *s)
{
	if (!s || !*s || *s == '-' || strlen(s) > 255)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == ',' || *p == '/' || *p == '\\' ||
		    *p == 0x7f || *p == '"' || *p == '\'')
			return false;
	return true;
}

int pve_net_split_hostport(const char *s, char **ret_host, int *ret_port, pve_error **err)
{
	const char *host = s, *port = NULL;
	_cleanup_free_ char *h = NULL;
	size_t hl;
	if (!s || !*s)
		goto bad;
	if (*s == '[') {
		const char *e = strchr(s, ']');
		if (!e || e == s + 1)
			goto bad;
		host = s + 1;
		hl = (size_t)(e - host);
		if (e[1] == ':')
			port = e + 2;
		else if (e[1])
			goto bad;
	} else {
		const char *c = strchr(s, ':');
		if (c && strchr(c + 1, ':')) {
			hl = strlen(s); /* a bare IPv6 address */
		} else {
			hl = c ? (size_t)(c - s) : strlen(s);
			port = c ? c + 1 : NULL;
		}
	}
	h = xstrndup(host, hl);
	if (!pve_net_server_ok(h) || strchr(h, '[') || strchr(h, ']'))
		goto bad;
	if (port) {
		long long p;
		if (pve_parse_int(port, 1, 65535, &p) < 0)
			goto bad;
		*ret_port = (int)p;
	}
	*ret_host = TAKE_PTR(h);
	return 0;
bad:
	return pve_error_set(err, EINVAL, "invalid server address '%.100s'", s ? s : "");
}

int pve_net_option_port(const char *options, int def)
{
	if (!options)
		return def;
	_cleanup_strv_free_ char **v = pve_strv_split(options, ",");
	int port = def;
	for (char **o = v; *o; o++) {
		long long p;
		if (startswith(*o, "port=") && pve_parse_int(*o + 5, 1, 65535, &p) == 0)
			port = (int)p;
	}
	return port;
}

static int connect_one(const struct addrinfo *ai, int timeout_ms)
{
	_cleanup_close_ int fd = socket(
		ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	int e = 0;
	socklen_t l = sizeof(e);
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
		return -errno;
	return -e;
}

int pve_net_check_connect(const char *id, const char *host, int port, int timeout_ms,
			  pve_error **err)
{
	_cleanup_free_ char *what = id ? xasprintf("storage '%s' is not online: ", id) :
					 xstrdup("");
	char ports[16];
	snprintf(ports, sizeof(ports), "%d", port);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	int r = getaddrinfo(host, ports, &hints, &res);
	if (r != 0)
		return pve_error_set(err, EHOSTUNREACH, "%scannot resolve server '%s': %s", what,
				     host, gai_strerror(r));
	int e = -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		e = connect_one(ai, timeout_ms);
		if (e == 0)
			break;
	}
	freeaddrinfo(res);
	if (e < 0)
		return pve_error_set(err, EHOSTUNREACH,
				     "%scannot connect to server '%s' port %d: %s", what, host,
				     port, e == -ETIMEDOUT ? "no answer" : strerror(-e));
	return 0;
}

/* ---- mounts ---------------------------------------------------------------------------------- */

static bool in_list(const char *const *l, const char *s)
{
	for (; l && *l; l++)
		if (streq(*l, s))
			return true;
	return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

bool pve_net_is_mounted(const char *path, const char *const fstypes[])
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	/* compare without trailing slashes: the kernel prints none */
	_cleanup_free_ char *want = xstrdup(path);
	for (size_t l = strlen(want); l > 1 && want[l - 1] == '/'; l--)
		want[l - 1] = '\0';
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, total = 0;
	ssize_t n;
	bool found = false;
	while ((n = getline(&line, &cap, f)) > 0 && total < MOUNTINFO_MAX) {
		total += (size_t)n;
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		_cleanup_strv_free_ char **fld = pve_strv_split(line, " \n");
		size_t nf = 0;
		while (fld[nf])
			nf++;
		if (nf < 7)
			continue;
		size_t dash = 6;
		while (dash < nf && !streq(fld[dash], "-"))
			dash++;
		if (dash + 1 >= nf)
			continue;
		unescape_octal(fld[4]);
		if (streq(fld[4], want) && in_list(fstypes, fld[dash + 1]))
			found = true; /* the last mount on a path is the visible one; keep looking */
		else if (streq(fld[4], want))
			found = false;
	}
	return found;
}

/* ---- a mounted file storage ------------------------------------------------------------------ */

static const pve_netfs *netfs_of(const pve_storage *s)
{
	return streq(s->type, "cifs") ? &pve_netfs_cifs : &pve_netfs_nfs;
}

void pve_netfs_resolve(const pve_storage *s, pve_storage *ret, char **ret_buf)
{
	*ret = *s;
	*ret_buf = NULL;
	if (!s->path) {
		/* Proxmox fills path in when the storage is added; a config without one means
		 * this */
		*ret_buf = xasprintf("/mnt/pve/%s", s->id);
		ret->path = *ret_buf;
	}
}

int pve_netfs_need_mounted(const pve_storage *s, const pve_netfs *fs, pve_error **err)
{
	if (!pve_net_is_mounted(s->path, fs->fstypes))
		return pve_error_set(err, ENODEV, "storage '%s' is not mounted at '%s'", s->id,
				     s->path);
	return 0;
}

static int mkdir_parents(const char *path, pve_error **err)
{
	_cleanup_free_ char *p = xstrdup(path);
	for (char *c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return pve_error_set(err, errno, "unable to create directory '%s': %m", p);
		*c = '/';
	}
	return 0;
}

int pve_netfs_activate(const pve_storage *s, const pve_netfs *fs, pve_error **err)
{
	_cleanup_free_ char *b = NULL;
	pve_storage t;
	pve_netfs_resolve(s, &t, &b);
	if (!pve_net_is_mounted(t.path, fs->fstypes)) {
		_cleanup_free_ char *host = NULL;
		int port = 0;
		int r = fs->server(&t, &host, &port, err);
		if (r < 0)
			return r;
		if (pve_net_check_connect(t.id, host, port, PVE_NET_CONNECT_TIMEOUT_MS, err) < 0)
			return -EHOSTUNREACH;
		struct stat st;
		bool created = false;
		if (stat(t.path, &st) < 0) {
			if (!pve_storage_option_bool(&t, "mkdir", true) ||
			    !pve_storage_option_bool(&t, "create-base-path", true))
				return pve_error_set(
					err, ENOENT,
					"unable to activate storage '%s' - directory '%s' does not exist",
					t.id, t.path);
			if (mkdir_parents(t.path, err) < 0)
				return -EIO;
			if (mkdir(t.path, 0755) < 0)
				return pve_error_set(err, errno,
						     "unable to create directory '%s': %m", t.path);
			created = true;
		} else if (!S_ISDIR(st.st_mode)) {
			return pve_error_set(
				err, ENOTDIR,
				"unable to activate storage '%s' - '%s' is not a directory", t.id,
				t.path);
		}
		r = fs->mount(&t, t.path, err);
		if (r < 0) {
			/* a failed mount leaves nothing behind */
			if (created)
				rmdir(t.path);
			if (err && *err)
				pve_error_prefix(*err, "unable to activate storage '%s'", t.id);
			return r;
		}
	}
	return pve_storage_plugin_dir.activate(&t, err);
}

int pve_netfs_deactivate(const pve_storage *s, const pve_netfs *fs, pve_error **err)
{
	_cleanup_free_ char *b = NULL;
	pve_storage t;
	pve_netfs_resolve(s, &t, &b);
	if (!pve_net_is_mounted(t.path, fs->fstypes))
		return 0;
	const char *argv[] = { "/usr/bin/umount", t.path, NULL };
	int r = pve_net_run(argv, NULL, PVE_NET_CMD_TIMEOUT_MS, NULL, NULL, err);
	if (r < 0 && err && *err)
		pve_error_prefix(*err, "unable to deactivate storage '%s'", t.id);
	return r;
}

int pve_netfs_status(const pve_storage *s, const pve_netfs *fs, pve_storage_status *ret,
		     pve_error **err)
{
	_cleanup_free_ char *b = NULL;
	pve_storage t;
	pve_netfs_resolve(s, &t, &b);
	if (!pve_net_is_mounted(t.path, fs->fstypes)) {
		ret->active = false;
		return 0;
	}
	/* statvfs on a mount whose server is gone hangs (NFS's hard mounts): ask the server
	 * first */
	_cleanup_free_ char *host = NULL;
	int port = 0;
	if (fs->server(&t, &host, &port, NULL) < 0 ||
	    pve_net_check_connect(t.id, host, port, PVE_NET_CONNECT_TIMEOUT_MS, NULL) < 0) {
		ret->active = false;
		return 0;
	}
	return pve_storage_plugin_dir.status(&t, ret, err);
}

/* ---- the dir plugin on the mount ------------------------------------------------------------- */

#define NETFS_BEGIN(check)                                               \
	_cleanup_free_ char *b_ = NULL;                                  \
	pve_storage t;                                                   \
	pve_netfs_resolve(s, &t, &b_);                                   \
	if ((check) && pve_netfs_need_mounted(&t, netfs_of(s), err) < 0) \
		return -ENODEV;

int pve_netfs_alloc_image(const pve_storage *s, long long vmid, const char *fmt, const char *name,
			  uint64_t size, char **ret_volname, pve_error **err)
{
	NETFS_BEGIN(true);
	return pve_storage_plugin_dir.alloc_image(&t, vmid, fmt, name, size, ret_volname, err);
}

int pve_netfs_free_image(const pve_storage *s, const char *volname, pve_error **err)
{
	NETFS_BEGIN(true);
	return pve_storage_plugin_dir.free_image(&t, volname, err);
}

int pve_netfs_list_volumes(const pve_storage *s, long long vmid, unsigned content,
			   pve_volume_info **ret, size_t *ret_n, pve_error **err)
{
	NETFS_BEGIN(true);
	return pve_storage_plugin_dir.list_volumes(&t, vmid, content, ret, ret_n, err);
}

int pve_netfs_path(const pve_storage *s, const char *volname, const char *snap, char **ret_path,
		   pve_error **err)
{
	NETFS_BEGIN(false);
	return pve_storage_plugin_dir.path(&t, volname, snap, ret_path, err);
}

int pve_netfs_volume_size(const pve_storage *s, const char *volname, uint64_t *ret_size,
			  uint64_t *ret_used, char **ret_format, pve_error **err)
{
	NETFS_BEGIN(true);
	return pve_storage_plugin_dir.volume_size(&t, volname, ret_size, ret_used, ret_format, err);
}

int pve_netfs_volume_resize(const pve_storage *s, const char *volname, uint64_t size,
			    pve_error **err)
{
	NETFS_BEGIN(true);
	return pve_storage_plugin_dir.volume_resize(&t, volname, size, err);
}

int pve_netfs_snapshot(const pve_storage *s, const char *volname, const char *snap, pve_error **err)
{
	NETFS_BEGIN(true);
	return pve_storage_plugin_dir.volume_snapshot(&t, volname, snap, err);
}

int pve_netfs_snapshot_rollback(const pve_storage *s, const char *volname, const char *snap,
				pve_error **err)
{
	NETFS_BEGIN(true);
	return pve_storage_plugin_dir.volume_snapshot_rollback(&t, volname, snap, err);
}

int pve_netfs_snapshot_delete(const pve_storage *s, const char *volname, const char *snap,
			      pve_error **err)
{
	NETFS_BEGIN(true);
	return pve_storage_plugin_dir.volume_snapshot_delete(&t, volname, snap, err);
}

int pve_netfs_clone_image(const pve_storage *s, const char *volname, long long vmid,
			  const char *snap, char **ret_volname, pve_error **err)
{
	NETFS_BEGIN(true);
	return pve_storage_plugin_dir.clone_image(&t, volname, vmid, snap, ret_volname, err);
}

int pve_netfs_create_base(const pve_storage *s, const char *volname, char **ret_volname,
			  pve_error **err)
{
	NETFS_BEGIN(true);
	return pve_storage_plugin_dir.create_base(&t, volname, ret_volname, err);
}

bool pve_netfs_has_feature(const pve_storage *s, pve_volume_feature feature, const char *volname,
			   const char *snap)
{
	_cleanup_free_ char *b = NULL;
	pve_storage t;
	pve_netfs_resolve(s, &t, &b);
	return pve_storage_plugin_dir.volume_has_feature(&t, feature, volname, snap);
}

int pve_netfs_rename_volume(const pve_storage *s, const char *volname, long long target_vmid,
			    const char *target_name, char **ret_volname, pve_error **err)
{
	NETFS_BEGIN(true);
	return pve_storage_plugin_dir.rename_volume(&t, volname, target_vmid, target_name,
						    ret_volname, err);
}

int pve_netfs_get_attribute(const pve_storage *s, const char *volname, const char *attr,
			    char **ret_value, pve_error **err)
{
	NETFS_BEGIN(true);
	return pve_storage_plugin_dir.get_attribute(&t, volname, attr, ret_value, err);
}

int pve_netfs_set_attribute(const pve_storage *s, const char *volname, const char *attr,
			    const char *value, pve_error **err)
{
	NETFS_BEGIN(true);
	return pve_storage_plugin_dir.set_attribute(&t, volname, attr, value, err);
}

/* storage: what nfs, cifs, iscsi and iscsidirect share: checking that a server answers (a
 * connection, a request of its protocol) before a mount waits on it, iSCSI names and portals, finding
 * mounts, mounting and unmounting a share, its status without hanging on a dead server, and the dir
 * plugin's ops on a mounted share. */
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>

#include "storage/net-internal.h"

/* /proc/self/mountinfo on a busy host: thousands of lines at most. */
#define MOUNTINFO_MAX (16 * 1024 * 1024)

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

/* A connected socket to ai within timeout_ms, or -errno. */
static int connect_one(const struct addrinfo *ai, int timeout_ms)
{
	_cleanup_close_ int fd = socket(
		ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return TAKE_FD(fd);
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
	if (e)
		return -e;
	return TAKE_FD(fd);
}

/* A connection to host:port (the first address that answers), or -1 with the error set. */
static int connect_host(const char *id, const char *host, int port, int timeout_ms, pve_error **err)
{
	_cleanup_free_ char *what = id ? xasprintf("storage '%s' is not online: ", id) :
					 xstrdup("");
	char ports[16];
	snprintf(ports, sizeof(ports), "%d", port);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	int r = getaddrinfo(host, ports, &hints, &res);
	if (r != 0) {
		pve_error_set(err, EHOSTUNREACH, "%scannot resolve server '%s': %s", what, host,
			      gai_strerror(r));
		return -1;
	}
	int fd = -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = connect_one(ai, timeout_ms);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		pve_error_set(err, EHOSTUNREACH, "%scannot connect to server '%s' port %d: %s",
			      what, host, port, fd == -ETIMEDOUT ? "no answer" : strerror(-fd));
		return -1;
	}
	return fd;
}

int pve_net_check_connect(const char *id, const char *host, int port, int timeout_ms,
			  pve_error **err)
{
	int fd = connect_host(id, host, port, timeout_ms, err);
	if (fd < 0)
		return -EHOSTUNREACH;
	close(fd);
	return 0;
}

#define NFS_PROGRAM 100003
#define RPC_NULL_VERSION 3

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Sends req to host:port and waits for the server's first bytes: a server that is up answers a
 * request of its protocol at once (if only to refuse it) or closes the connection; one that takes the
 * connection and says nothing within timeout_ms counts as down. */
static int probe(const char *id, const char *host, int port, const void *req, size_t len,
		 const char *proto, int timeout_ms, pve_error **err)
{
	long long deadline = pve_now_ms() + timeout_ms;
	_cleanup_close_ int fd = connect_host(id, host, port, timeout_ms, err);
	if (fd < 0)
		return -EHOSTUNREACH;
	const char *why = "no answer to";
	if (send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len) {
		for (;;) {
			long long left = deadline - pve_now_ms();
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int r = left > 0 ? poll(&p, 1, (int)left) : 0;
			if (r < 0 && errno == EINTR)
				continue;
			if (r > 0)
				return 0; /* an answer, or the connection closed: someone is there */
			break;
		}
	} else {
		why = "cannot send";
	}
	_cleanup_free_ char *what = id ? xasprintf("storage '%s' is not online: ", id) :
					 xstrdup("");
	return pve_error_set(err, EHOSTUNREACH, "%sserver '%s' port %d: %s an %s request", what,
			     host, port, why, proto);
}

int pve_net_probe_nfs(const char *id, const char *host, int port, int timeout_ms, pve_error **err)
{
	/* RFC 5531 over TCP: a record mark (last fragment, 40 bytes), then the call: xid, CALL,
	 * RPC version 2, program, version, procedure 0 (NULL), AUTH_NONE credentials and
	 * verifier. */
	unsigned char msg[44] = { 0 };
	put32(msg, 0x80000000u | 40);
	put32(msg + 4, (uint32_t)pve_now_ms() ^ (uint32_t)getpid());
	put32(msg + 12, 2);
	put32(msg + 16, NFS_PROGRAM);
	put32(msg + 20, RPC_NULL_VERSION);
	return probe(id, host, port, msg, sizeof(msg), "NFS", timeout_ms, err);
}

static void put16le(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

int pve_net_probe_smb(const char *id, const char *host, int port, int timeout_ms, pve_error **err)
{
	/* [MS-SMB2] NEGOTIATE over direct TCP: a 4-byte length, the 64-byte SMB2 header, the
	 * 36-byte request and its dialects (2.0.2, 2.1, 3.0, 3.0.2: 3.1.1 would need negotiate
	 * contexts). */
	static const uint16_t dialects[] = { 0x0202, 0x0210, 0x0300, 0x0302 };
	unsigned char msg[4 + 64 + 36 + sizeof(dialects)] = { 0 };
	put32(msg, (uint32_t)(sizeof(msg) - 4));
	unsigned char *h = msg + 4, *q = h + 64;
	memcpy(h, "\xfeSMB", 4);
	put16le(h + 4, 64); /* StructureSize */
	put16le(h + 14, 1); /* CreditRequest; Command 0 is NEGOTIATE */
	put16le(q, 36); /* StructureSize */
	put16le(q + 2, ELEMENTSOF(dialects));
	put16le(q + 4, 1); /* SecurityMode: signing enabled */
	for (size_t i = 0; i < ELEMENTSOF(dialects); i++)
		put16le(q + 36 + 2 * i, dialects[i]);
	return probe(id, host, port, msg, sizeof(msg), "SMB", timeout_ms, err);
}

/* The grandchild of pve_net_statvfs: its pid, then statvfs's answer, into fd. Only
 * async-signal-safe calls: the parent may have threads. */
__attribute__((noreturn)) static void statvfs_child(const char *path, int fd)
{
	int64_t res[5] = { getpid() };
	if (write(fd, res, sizeof(res[0])) != (ssize_t)sizeof(res[0]))
		_exit(1);
	struct statvfs v;
	if (statvfs(path, &v) < 0) {
		res[1] = -errno;
	} else {
		res[2] = (int64_t)((uint64_t)v.f_blocks * v.f_frsize);
		res[3] = (int64_t)((uint64_t)v.f_bavail * v.f_frsize);
		res[4] = (int64_t)((uint64_t)v.f_bfree * v.f_frsize);
	}
	_exit(write(fd, res + 1, 4 * sizeof(res[0])) == 4 * (ssize_t)sizeof(res[0]) ? 0 : 1);
}

/* Reads exactly len bytes before the deadline. */
static bool read_until(int fd, void *buf, size_t len, long long deadline)
{
	size_t got = 0;
	while (got < len) {
		long long left = deadline - pve_now_ms();
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int r = left > 0 ? poll(&pf, 1, (int)left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

int pve_net_statvfs(const char *path, int timeout_ms, pve_storage_status *ret)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	/* A grandchild does the call: the child exits at once and is reaped here, so a grandchild
	 * stuck on a dead server leaves no zombie behind in this process. */
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0) {
		close(p[0]);
		pid_t g = fork();
		if (g == 0)
			statvfs_child(path, p[1]);
		_exit(g < 0 ? 1 : 0);
	}
	close(p[1]);
	_cleanup_close_ int rfd = p[0];
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	long long deadline = pve_now_ms() + timeout_ms;
	int64_t gpid = 0, res[4];
	if (!read_until(rfd, &gpid, sizeof(gpid), deadline))
		return -ETIMEDOUT;
	if (!read_until(rfd, res, sizeof(res), deadline)) {
		/* NFS waits are killable: the grandchild goes once the signal lands */
		if (gpid > 1)
			kill((pid_t)gpid, SIGKILL);
		return -ETIMEDOUT;
	}
	if (res[0] < 0)
		return (int)res[0];
	ret->total = (uint64_t)res[1];
	ret->avail = (uint64_t)res[2];
	ret->used = ret->total - (uint64_t)res[3];
	ret->active = true;
	return 0;
}

/* ---- iSCSI names and portals ---------------------------------------------------------------- */

#define ISCSI_NAME_MAX 223 /* RFC 3720's limit on an iSCSI name */

bool pve_net_iscsi_name_ok(const char *t)
{
	if (!t || strlen(t) > ISCSI_NAME_MAX ||
	    !(startswith(t, "iqn.") || startswith(t, "eui.") || startswith(t, "naa.")))
		return false;
	for (const char *p = t; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr(".-:_", *p)))
			return false;
	return true;
}

int pve_net_iscsi_portal(const char *portal, char **ret_host, int *ret_port, char **ret_portal,
			 pve_error **err)
{
	_cleanup_free_ char *host = NULL;
	int port = PVE_ISCSI_PORT;
	if (pve_net_split_hostport(portal, &host, &port, NULL) < 0)
		return pve_error_set_param(err, EINVAL, "portal", "invalid portal '%.100s'",
					   portal ? portal : "");
	if (ret_portal)
		*ret_portal = strchr(host, ':') ? xasprintf("[%s]:%d", host, port) :
						  xasprintf("%s:%d", host, port);
	if (ret_port)
		*ret_port = port;
	if (ret_host)
		*ret_host = TAKE_PTR(host);
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

#define NETFS_OPTIONS_MAX 1024

bool pve_netfs_options_ok(const char *options)
{
	return options && *options && options[0] != '-' && strlen(options) <= NETFS_OPTIONS_MAX &&
	       !strpbrk(options, " \t\n\r");
}

int pve_netfs_server(const pve_storage *s, const pve_netfs *fs, char **ret_host, int *ret_port,
		     pve_error **err)
{
	/* a host name or an address (IPv6 without brackets, as Proxmox's config has it) */
	const char *server = pve_storage_option(s, "server");
	if (!server || !pve_net_server_ok(server) || strchr(server, '['))
		return pve_error_set_param(err, EINVAL, "server",
					   "storage '%s': invalid server '%.100s'", s->id,
					   server ? server : "");
	const char *options = pve_storage_option(s, "options");
	if (options && !pve_netfs_options_ok(options))
		return pve_error_set_param(err, EINVAL, "options",
					   "storage '%s': invalid mount options '%.100s'", s->id,
					   options);
	*ret_host = xstrdup(server);
	*ret_port = pve_net_option_port(options, fs->default_port);
	return 0;
}

/* Whether the server answers: a connection, and the type's own probe. */
static int server_online(const pve_storage *s, const pve_netfs *fs, pve_error **err)
{
	_cleanup_free_ char *host = NULL;
	int port = 0;
	int r = pve_netfs_server(s, fs, &host, &port, err);
	if (r < 0)
		return r;
	if (fs->probe)
		return fs->probe(s->id, host, port, PVE_NET_CONNECT_TIMEOUT_MS, err);
	return pve_net_check_connect(s->id, host, port, PVE_NET_CONNECT_TIMEOUT_MS, err);
}

/* mount -t TYPE SOURCE PATH [-o OPTIONS], with the type's environment (env1 may be NULL). */
static int netfs_mount(const pve_storage *s, const pve_netfs *fs, const char *source,
		       const char *options, const char *env1, pve_error **err)
{
	const char *argv[] = { "/usr/bin/mount", "-t",	  fs->fstypes[0],
			       source,		 s->path, options ? "-o" : NULL,
			       options,		 NULL };
	const char *env[] = { env1, NULL };
	int r = pve_storage_run_ex(argv, env, PVE_NET_CMD_TIMEOUT_MS, NULL, NULL, err);
	if (r < 0 && err && *err)
		pve_error_prefix(*err, "cannot mount %s", source);
	return r;
}

/* A secret's string: erased, then freed. */
static void erase_freep(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
	}
}

int pve_netfs_activate(const pve_storage *s, const pve_netfs *fs, pve_error **err)
{
	_cleanup_free_ char *b = NULL;
	pve_storage t;
	pve_netfs_resolve(s, &t, &b);
	if (!pve_net_is_mounted(t.path, fs->fstypes)) {
		int r = server_online(&t, fs, err);
		if (r < 0)
			return r == -EINVAL ? r : -EHOSTUNREACH;
		/* the mount's arguments are checked before anything is created */
		_cleanup_free_ char *src = NULL, *opts = NULL;
		_cleanup_(erase_freep) char *env1 = NULL;
		r = fs->mount_args(&t, &src, &opts, &env1, err);
		if (r < 0)
			return r;
		struct stat st;
		bool created = false;
		if (stat(t.path, &st) < 0) {
			if (!pve_storage_option_bool(&t, "mkdir", true) ||
			    !pve_storage_option_bool(&t, "create-base-path", true))
				return pve_error_set(
					err, ENOENT,
					"unable to activate storage '%s' - directory '%s' does not exist",
					t.id, t.path);
			_cleanup_free_ char *parent =
				xstrndup(t.path, (size_t)(strrchr(t.path, '/') - t.path));
			if (*parent && pve_mkdir_p(parent, 0755, err) < 0)
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
		r = netfs_mount(&t, fs, src, opts, env1, err);
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
	int r = pve_storage_run_ex(argv, NULL, PVE_NET_CMD_TIMEOUT_MS, NULL, NULL, err);
	if (r < 0 && err && *err)
		pve_error_prefix(*err, "unable to deactivate storage '%s'", t.id);
	return r;
}

int pve_netfs_status(const pve_storage *s, const pve_netfs *fs, pve_storage_status *ret,
		     pve_error **err)
{
	(void)err;
	_cleanup_free_ char *b = NULL;
	pve_storage t;
	pve_netfs_resolve(s, &t, &b);
	ret->active = false;
	if (!pve_net_is_mounted(t.path, fs->fstypes))
		return 0;
	/* statvfs on a mount whose server is gone hangs (NFS's hard mounts): ask the server
	 * first, and give statvfs a time limit for a server that dies in between */
	if (server_online(&t, fs, NULL) < 0)
		return 0;
	pve_storage_status st = { 0 };
	if (pve_net_statvfs(t.path, PVE_NET_STATVFS_TIMEOUT_MS, &st) == 0)
		*ret = st;
	return 0;
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

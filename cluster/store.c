/* The config store's front: argument checks, digests and lock waiting, over whichever backend is in use. */
#include <openssl/evp.h>
#include <sys/random.h>
#include <time.h>

#include "cluster/store-internal.h"

struct pve_store_lock {
	pve_store *s;
	char *name;
	char token[33];
};

void pve_store_digest(const void *data, size_t len, char ret_digest[PVE_STORE_DIGEST_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	static const char hex[] = "0123456789abcdef";

	if (!EVP_Digest(data, len, md, &md_len, EVP_sha1(), NULL) || md_len != 20)
		/* SHA-1 is built into every OpenSSL; failing here means a broken library */
		abort();
	for (unsigned int i = 0; i < md_len; i++) {
		ret_digest[2 * i] = hex[md[i] >> 4];
		ret_digest[2 * i + 1] = hex[md[i] & 0xf];
	}
	ret_digest[PVE_STORE_DIGEST_LEN] = '\0';
}

bool pve_store_path_private(const char *path)
{
	const char *p = path;
	for (;;) {
		const char *slash = strchr(p, '/');
		if (!slash)
			return false; /* the last segment is the file itself */
		if (slash - p == 4 && memcmp(p, "priv", 4) == 0)
			return true;
		p = slash + 1;
	}
}

/* One path segment: non-empty, at most NAME_MAX, not "." or "..", no control characters, not one of
 * the store's own files. */
static bool segment_ok(const char *p, size_t n)
{
	if (n == 0 || n > 255 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
		return false;
	if (n >= 6 && memcmp(p, ".pved-", 6) == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static int check_path(const char *path, const char *what, pve_error **err)
{
	if (!path || !*path)
		return pve_error_set(err, EINVAL, "invalid %s: empty path", what);
	size_t len = strlen(path);
	if (len > PVE_STORE_MAX_PATH)
		return pve_error_set(err, EINVAL, "invalid %s: longer than %d characters", what,
				     PVE_STORE_MAX_PATH);
	if (path[0] == '/')
		return pve_error_set(err, EINVAL, "invalid %s '%s': absolute path", what, path);
	bool printable = true;
	for (const char *p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			printable = false;
	for (const char *p = path;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (!segment_ok(p, n))
			return pve_error_set(err, EINVAL, "invalid %s '%s': bad path segment", what,
					     printable ? path : "(control characters)");
		if (!slash)
			break;
		p = slash + 1;
	}
	return 0;
}

static int check_digest(const char *d, pve_error **err)
{
	if (strlen(d) != PVE_STORE_DIGEST_LEN ||
	    strspn(d, "0123456789abcdefABCDEF") != PVE_STORE_DIGEST_LEN)
		return pve_error_set_param(err, EINVAL, "digest",
					   "invalid digest: not 40 hex characters");
	return 0;
}

int pve_store_open(const char *root, pve_store **ret, pve_error **err)
{
	if (!root || !*root)
		return pve_error_set(err, EINVAL, "config store: empty root directory");
	/* a root that pvecfs serves is read and written through it; one that never ran it keeps its
	 * plain files */
	int fd = -1;
	int r = pve_store_cfs_probe(root, &fd, err);
	if (r < 0)
		return r;
	pve_store *s = xcalloc(1, sizeof(*s));
	if (r > 0) {
		s->ops = &pve_store_cfs_ops;
		s->priv = (void *)(intptr_t)fd;
	} else {
		s->ops = &pve_store_file_ops;
	}
	r = s->ops->open(s, root, err);
	if (r < 0) {
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void pve_store_free(pve_store *s)
{
	if (!s)
		return;
	s->ops->free(s);
	free(s->dir);
	free(s);
}

const char *pve_store_dir(const pve_store *s)
{
	return s->dir;
}

int pve_store_read(pve_store *s, const char *path, char **ret_data, size_t *ret_len,
		   char ret_digest[PVE_STORE_DIGEST_LEN + 1], pve_error **err)
{
	int r = check_path(path, "path", err);
	if (r < 0)
		return r;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	r = s->ops->read(s, path, &data, &len, err);
	if (r < 0)
		return r;
	if (ret_digest)
		pve_store_digest(data, len, ret_digest);
	if (ret_len)
		*ret_len = len;
	if (ret_data)
		*ret_data = TAKE_PTR(data);
	return 0;
}

static int write_common(pve_store *s, const char *path, const void *data, size_t len,
			const char *expected_digest, bool exclusive, pve_error **err)
{
	int r = check_path(path, "path", err);
	if (r < 0)
		return r;
	if (len > PVE_STORE_MAX_FILE)
		return pve_error_set(err, E2BIG,
				     "'%s': %zu bytes is over the limit of %d bytes per file", path,
				     len, PVE_STORE_MAX_FILE);
	if (!data && len)
		return pve_error_set(err, EINVAL, "'%s': no data", path);
	if (expected_digest && (r = check_digest(expected_digest, err)) < 0)
		return r;
	return s->ops->write(s, path, data ? data : "", len, expected_digest, exclusive, err);
}

int pve_store_write(pve_store *s, const char *path, const void *data, size_t len,
		    const char *expected_digest, pve_error **err)
{
	return write_common(s, path, data, len, expected_digest, false, err);
}

int pve_store_create(pve_store *s, const char *path, const void *data, size_t len, pve_error **err)
{
	return write_common(s, path, data, len, NULL, true, err);
}

int pve_store_delete(pve_store *s, const char *path, pve_error **err)
{
	int r = check_path(path, "path", err);
	if (r < 0)
		return r;
	return s->ops->remove(s, path, err);
}

int pve_store_rename(pve_store *s, const char *from, const char *to, pve_error **err)
{
	int r = check_path(from, "source path", err);
	if (r < 0)
		return r;
	r = check_path(to, "target path", err);
	if (r < 0)
		return r;
	return s->ops->rename(s, from, to, err);
}

int pve_store_mkdir(pve_store *s, const char *path, pve_error **err)
{
	int r = check_path(path, "path", err);
	if (r < 0)
		return r;
	return s->ops->mkdir(s, path, err);
}

int pve_store_list(pve_store *s, const char *dir, char ***ret_names, pve_error **err)
{
	if (dir && *dir) {
		int r = check_path(dir, "directory", err);
		if (r < 0)
			return r;
	} else {
		dir = NULL;
	}
	return s->ops->list(s, dir, ret_names, err);
}

bool pve_store_exists(pve_store *s, const char *path)
{
	if (check_path(path, "path", NULL) < 0)
		return false;
	return s->ops->exists(s, path);
}

/* ---- volatile status ---- */

static int check_segment(const char *name, const char *what, pve_error **err)
{
	int r = check_path(name, what, err);
	if (r < 0)
		return r;
	if (strchr(name, '/'))
		return pve_error_set(err, EINVAL, "%s '%s' is not one name", what, name);
	return 0;
}

int pve_store_status_set(pve_store *s, const char *key, const void *data, size_t len,
			 pve_error **err)
{
	int r = check_segment(key, "status key", err);
	if (r < 0)
		return r;
	if (len > PVE_STORE_STATUS_MAX_VALUE)
		return pve_error_set(err, E2BIG, "status '%s' is larger than %d bytes", key,
				     PVE_STORE_STATUS_MAX_VALUE);
	if (!s->ops->status_set)
		return 0;
	return s->ops->status_set(s, key, data ? data : "", len, err);
}

int pve_store_status_get(pve_store *s, const char *node, const char *key, char **ret_data,
			 size_t *ret_len, pve_error **err)
{
	int r = check_segment(node, "node", err);
	if (r < 0 || (r = check_segment(key, "status key", err)) < 0)
		return r;
	if (!s->ops->status_get)
		return pve_error_set(err, ENOENT, "node '%s' has no status '%s'", node, key);
	return s->ops->status_get(s, node, key, ret_data, ret_len, err);
}

/* ---- locks ---- */

int pve_store_lock_acquire(pve_store *s, const char *name, int timeout_ms, pve_store_lock **ret,
			   pve_error **err)
{
	if (!name || strchr(name, '/') || check_path(name, "lock name", NULL) < 0)
		return pve_error_set(err, EINVAL, "invalid lock name '%s'", name ? name : "");

	uint8_t rnd[16];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return pve_error_set(err, errno ? errno : EIO,
				     "can't lock '%s': no random bytes: %m", name);
	pve_store_lock *l = xcalloc(1, sizeof(*l));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(l->token + 2 * i, 3, "%02x", rnd[i]);
	l->s = s;
	l->name = xstrdup(name);

	int64_t deadline = pve_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	unsigned delay_ms = 5;
	for (;;) {
		int r = s->ops->lock_try(s, name, l->token, err);
		if (r == 0)
			break;
		if (r != -EBUSY || pve_now_ms() >= deadline) {
			free(l->name);
			free(l);
			if (r == -EBUSY)
				return pve_error_set(
					err, EBUSY,
					"can't lock file '%s/priv/lock/%s' - got timeout", s->dir,
					name);
			return r;
		}
		int64_t left = deadline - pve_now_ms();
		unsigned d = delay_ms < left ? delay_ms : (unsigned)(left > 0 ? left : 1);
		struct timespec ts = { .tv_sec = d / 1000, .tv_nsec = (long)(d % 1000) * 1000000 };
		nanosleep(&ts, NULL);
		if (delay_ms < 100)
			delay_ms *= 2;
	}
	*ret = l;
	return 0;
}

int pve_store_lock_refresh(pve_store_lock *l, pve_error **err)
{
	return l->s->ops->lock_refresh(l->s, l->name, l->token, err);
}

void pve_store_unlock(pve_store_lock *l)
{
	if (!l)
		return;
	l->s->ops->lock_release(l->s, l->name, l->token);
	free(l->name);
	free(l);
}

int pve_store_recover(pve_store *s, char ***ret_cleared, pve_error **err)
{
	if (ret_cleared)
		*ret_cleared = NULL;
	if (!s->ops->recover)
		return 0;
	return s->ops->recover(s, ret_cleared, err);
}

/* ---- watch ---- */

int pve_store_watch_fd(pve_store *s, pve_error **err)
{
	return s->ops->watch_fd(s, err);
}

int pve_store_watch_read(pve_store *s, pve_store_watch_fn cb, void *userdata, pve_error **err)
{
	return s->ops->watch_read(s, cb, userdata, err);
}

/* ---- the cluster log ---- */

/* A backend without a log reads as pvecfs's empty one does. */
#define EMPTY_LOG "{\n\"data\": [\n]\n}\n"

int pve_store_log(pve_store *s, const char *tag, const char *user, int priority, const char *msg,
		  pve_error **err)
{
	if (priority < 0 || priority > 7)
		return pve_error_set(err, EINVAL, "cluster log: priority %d is not a syslog level",
				     priority);
	if (!msg || !*msg)
		return pve_error_set(err, EINVAL, "cluster log: empty message");
	if (!s->ops->log)
		return 0;
	return s->ops->log(s, tag ? tag : "", user ? user : "", priority, msg, err);
}

int pve_store_log_read(pve_store *s, const char *user, unsigned max, char **ret_json,
		       pve_error **err)
{
	if (!s->ops->log_read) {
		*ret_json = xstrdup(EMPTY_LOG);
		return 0;
	}
	return s->ops->log_read(s, user ? user : "", max, ret_json, err);
}

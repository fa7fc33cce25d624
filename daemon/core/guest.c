/* What VMs and containers share: who may see one, the per-guest flock, the owner of a vmid across
 * qemu-server/ and lxc/, a guest's pool in user.cfg and the linked-clone check before a guest's volumes
 * go. Moved out of daemon/qemu when containers needed the same. */
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "access/access.h"
#include "daemon/core/guest.h"
#include "storage/storage.h"

#define RETRY_MS 20

/* ---- who may see a guest ------------------------------------------------------------------------- */

void pved_guest_audit_init(pved_guest_audit *a, pved_call *c)
{
	a->c = c;
	a->uniform = pved_auth_children_uniform(c->d, c->authid, "/vms", "VM.Audit", &a->allowed);
}

bool pved_guest_audit_may(const pved_guest_audit *a, long long vmid)
{
	if (a->uniform)
		return a->allowed;
	char acl[64];
	snprintf(acl, sizeof(acl), "/vms/%lld", vmid);
	return pved_call_permitted(a->c, acl, "VM.Audit");
}

/* ---- the per-guest lock ---------------------------------------------------------------------------- */

static int open_lock(const char *path, int *ret_fd, pve_error **err)
{
	_cleanup_free_ char *dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	_cleanup_free_ char *lockdir = xstrndup(dir, (size_t)(strrchr(dir, '/') - dir));
	(void)mkdir(lockdir, 0755);
	(void)mkdir(dir, 0755);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return pve_error_set(err, errno, "can't open file '%s' - %m", path);
	*ret_fd = fd;
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int pved_guest_lock_wait(const char *path, int timeout_ms, int *ret_fd, pve_error **err)
{
	_cleanup_close_ int fd = -1;
	int r = open_lock(path, &fd, err);
	if (r < 0)
		return r;
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return pve_error_set(err, errno, "can't lock file '%s' - %m", path);
		if (now_ms() >= deadline)
			return pve_error_set(err, EBUSY, "can't lock file '%s' - got timeout",
					     path);
		usleep(RETRY_MS * 1000);
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

typedef struct lock_job {
	pved *d;
	int fd;
	char *path;
	uint64_t deadline;
	struct event *timer;
	pved_guest_lock_fn done;
	void *ud;
} lock_job;

static void job_finish(lock_job *j, int fd, pve_error *err)
{
	if (j->timer)
		event_free(j->timer);
	if (fd < 0 && j->fd >= 0)
		close(j->fd);
	pved_guest_lock_fn done = j->done;
	void *ud = j->ud;
	pved *d = j->d;
	free(j->path);
	free(j);
	done(d, fd, err, ud);
}

static void attempt(evutil_socket_t s, short what, void *arg)
{
	(void)s, (void)what;
	lock_job *j = arg;
	if (flock(j->fd, LOCK_EX | LOCK_NB) == 0)
		return job_finish(j, j->fd, NULL);
	pve_error *err = NULL;
	if (errno != EWOULDBLOCK && errno != EINTR) {
		pve_error_set(&err, errno, "can't lock file '%s' - %m", j->path);
		return job_finish(j, -1, err);
	}
	if (now_ms() >= j->deadline) {
		pve_error_set(&err, EBUSY, "can't lock file '%s' - got timeout", j->path);
		return job_finish(j, -1, err);
	}
	if (!j->timer)
		j->timer = evtimer_new(j->d->base, attempt, j);
	struct timeval tv = { 0, RETRY_MS * 1000 };
	evtimer_add(j->timer, &tv);
}

void pved_guest_lock_async(pved *d, const char *path, int timeout_ms, pved_guest_lock_fn done,
			   void *ud)
{
	lock_job *j = xcalloc(1, sizeof(*j));
	j->d = d;
	j->done = done;
	j->ud = ud;
	j->path = xstrdup(path);
	j->deadline = now_ms() + (uint64_t)timeout_ms;
	pve_error *err = NULL;
	if (open_lock(path, &j->fd, &err) < 0) {
		j->fd = -1;
		return job_finish(j, -1, err);
	}
	attempt(-1, 0, j);
}

/* ---- vmids and pools --------------------------------------------------------------------------------- */

char *pved_guest_owner(pved *d, long long vmid)
{
	_cleanup_strv_free_ char **nodes = NULL;
	if (pve_store_list(d->store, "nodes", &nodes, NULL) < 0)
		return NULL;
	for (char **n = nodes; *n; n++) {
		_cleanup_free_ char *qm = xasprintf("nodes/%s/qemu-server/%lld.conf", *n, vmid);
		_cleanup_free_ char *ct = xasprintf("nodes/%s/lxc/%lld.conf", *n, vmid);
		if (pve_store_exists(d->store, qm) || pve_store_exists(d->store, ct))
			return xstrdup(*n);
	}
	return NULL;
}

bool pved_guest_pool_exists(pved *d, const char *pool)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (pve_store_read(d->store, "user.cfg", &text, &len, NULL, NULL) < 0)
		return false;
	_cleanup_usercfg_ pve_usercfg *u = NULL;
	return pve_usercfg_parse(text, len, &u, NULL) == 0 && pve_usercfg_find_pool(u, pool);
}

int pved_guest_pool_add(pved *d, long long vmid, const char *pool, pve_error **err)
{
	pve_store_lock *lock = NULL;
	int r = pve_store_lock_acquire(d->store, "file-user_cfg", 10000, &lock, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	_cleanup_usercfg_ pve_usercfg *u = NULL;
	r = pve_store_read(d->store, "user.cfg", &text, &len, digest, err);
	if (r >= 0)
		r = pve_usercfg_parse(text, len, &u, err);
	pve_pool *p = r >= 0 ? pve_usercfg_find_pool(u, pool) : NULL;
	if (r >= 0 && !p)
		r = pve_error_set(err, ENOENT, "pool '%s' does not exist", pool);
	if (r >= 0) {
		size_t n = strv_length(p->vms);
		p->vms = xrealloc(p->vms, (n + 2) * sizeof(char *));
		p->vms[n] = xasprintf("%lld", vmid);
		p->vms[n + 1] = NULL;
		_cleanup_free_ char *out = pve_usercfg_print(u);
		r = pve_store_write(d->store, "user.cfg", out, strlen(out), digest, err);
	}
	pve_store_unlock(lock);
	return r;
}

bool pved_guest_pools_remove(pved *d, long long vmid)
{
	pve_store_lock *lock = NULL;
	if (pve_store_lock_acquire(d->store, "file-user_cfg", 10000, &lock, NULL) < 0)
		return false;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	_cleanup_usercfg_ pve_usercfg *u = NULL;
	char id[32];
	snprintf(id, sizeof(id), "%lld", vmid);
	bool changed = false, written = false;
	if (pve_store_read(d->store, "user.cfg", &text, &len, digest, NULL) == 0 &&
	    pve_usercfg_parse(text, len, &u, NULL) == 0) {
		for (size_t i = 0; i < u->n_pools; i++) {
			char **v = u->pools[i].vms;
			size_t w = 0;
			for (size_t k = 0; v && v[k]; k++) {
				if (streq(v[k], id)) {
					free(v[k]);
					changed = true;
					continue;
				}
				v[w++] = v[k];
			}
			if (v)
				v[w] = NULL;
		}
		if (changed) {
			_cleanup_free_ char *out = pve_usercfg_print(u);
			written = pve_store_write(d->store, "user.cfg", out, strlen(out), digest,
						  NULL) == 0;
		}
	}
	pve_store_unlock(lock);
	return written;
}

/* ---- a guest's volumes ------------------------------------------------------------------------------ */

bool pved_guest_volume_owned(const pve_sectioncfg *scfg, const char *volid, long long vmid)
{
	_cleanup_free_ char *sid = NULL, *volname = NULL;
	pve_storage st;
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	return pve_storage_volid_split(volid, &sid, &volname, NULL) == 0 &&
	       pve_storage_get(scfg, sid, &st, NULL) == 0 &&
	       pve_storage_volume_parse(&st, volname, &v, NULL) == 0 && v.vmid == vmid;
}

/* ---- bandwidth limits ---------------------------------------------------------------------------------- */

/* The operation's limit in a bwlimit property string (clone=N,default=N,...), or -1. */
static long long bwlimit_of(const char *prop, const char *operation)
{
	if (!prop)
		return -1;
	long long def = -1, op = -1;
	_cleanup_strv_free_ char **items = pve_strv_split(prop, ",");
	for (char **i = items; *i; i++) {
		char *eq = strchr(*i, '=');
		double v;
		if (!eq || pve_parse_double(eq + 1, &v) < 0 || v < 0)
			continue;
		*eq = '\0';
		if (streq(*i, operation))
			op = (long long)v;
		else if (streq(*i, "default"))
			def = (long long)v;
	}
	return op >= 0 ? op : def;
}

long long pved_guest_bwlimit(pved *d, const pve_sectioncfg *scfg, const char *operation,
			     const char *const *sids, long long override, bool privileged)
{
	if (override >= 0 && privileged)
		return override;
	/* each storage's limit, and datacenter.cfg's where one of them (or none at all) has none */
	long long res = -1;
	bool global = !sids || !sids[0];
	for (const char *const *s = sids; s && *s; s++) {
		pve_storage st;
		if (pve_storage_get(scfg, *s, &st, NULL) < 0) {
			global = true;
			continue;
		}
		long long l = bwlimit_of(pve_section_get(st.section, "bwlimit"), operation);
		if (l < 0) {
			global = true;
			continue;
		}
		if (res < 0 || l < res)
			res = l;
	}
	if (global) {
		_cleanup_free_ char *dc = pved_datacenter_option(d, "bwlimit");
		long long l = bwlimit_of(dc, operation);
		if (l >= 0 && (res < 0 || l < res))
			res = l;
	}
	/* an unprivileged override only lowers what holds (0 would lift it: it does not) */
	if (override > 0 && (res <= 0 || override < res))
		res = override;
	return res > 0 ? res : 0;
}

/* ---- base images of linked clones ------------------------------------------------------------------ */

int pved_guest_check_bases_unused(pved *d, const pve_sectioncfg *scfg, char *const *volids,
				  bool warn, const char **ret_volid, pve_error **err)
{
	for (char *const *v = volids; v && *v; v++) {
		_cleanup_free_ char *sid = NULL, *volname = NULL;
		pve_storage st;
		if (pve_storage_volid_split(*v, &sid, &volname, NULL) < 0 ||
		    pve_storage_get(scfg, sid, &st, NULL) < 0 || st.disabled ||
		    !pve_storage_on_node(&st, d->node))
			continue;
		pve_error *e = NULL;
		int r = pve_storage_activate(&st, &e);
		if (r >= 0)
			r = pve_storage_check_base_unused(&st, volname, &e);
		if (r == -EBUSY) {
			if (ret_volid)
				*ret_volid = *v;
			if (err && !*err)
				*err = e;
			else
				pve_error_free(e);
			return r;
		}
		/* as Proxmox: a storage that can't tell is a warning; freeing the volume fails later */
		if (r < 0 && warn)
			pved_task_warn(
				"failed to check if volume '%s' is used by linked clones: %s", *v,
				e->message);
		pve_error_free(e);
	}
	return 0;
}

int pved_guest_check_space(const pved_call *c, const char *sid, pve_error **err)
{
	_cleanup_free_ char *acl = xasprintf("/storage/%s", sid);
	if (!pved_call_permitted(c, acl, "Datastore.AllocateSpace"))
		return pve_error_set(err, EACCES,
				     "Permission check failed (%s, Datastore.AllocateSpace)", acl);
	return 0;
}

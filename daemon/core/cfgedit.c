/* Config-file edits under etc/pve: the store lock taken without waiting on the loop, the digest
 * checked, the file parsed and changed, what blocks checked on a queue, the file printed and written
 * back, the lock released, the caller told. */
#include <event2/event.h>
#include <time.h>

#include "daemon/core/pved.h"

/* Tries again after 10 ms, doubling up to this: a held lock is usually a change of another process
 * that takes milliseconds, and a lock held for seconds costs a try per this many ms. */
#define RETRY_MAX_MS 200

typedef struct edit_job {
	pved *d;
	pved_cfgedit e;
	char *digest;
	void *ud;
	struct event *timer;
	int64_t deadline_ms;
	unsigned delay_ms;
	/* with the lock held: */
	pve_store_lock *lock;
	void *cfg;
	char file_digest[PVE_STORE_DIGEST_LEN + 1];
	bool exists;
	bool keep; /* the change left the file as it was */
	int r; /* the check's result, and its error */
	pve_error *err;
} edit_job;

int pved_cfgfile_config_parse(const char *text, size_t len, void **ret, pve_error **err)
{
	return pve_config_parse(text, len, (pve_config **)ret, err);
}

char *pved_cfgfile_config_print(const void *cfg)
{
	return pve_config_print(cfg);
}

void pved_cfgfile_config_free(void *cfg)
{
	pve_config_free(cfg);
}

int pved_cfgfile_read(pved *d, const pved_cfgfile *f, void **ret_cfg,
		      char ret_digest[PVE_STORE_DIGEST_LEN + 1], pve_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	int r = f->read ? f->read(d, &text, &len, digest, err) :
			  pve_store_read(d->store, f->path, &text, &len, digest, NULL);
	if (r < 0 && f->read)
		return r;
	if (r == -ENOENT) {
		text = xstrdup("");
		len = 0;
		pve_store_digest("", 0, digest);
	} else if (r < 0) {
		return pve_error_set(err, -r, "unable to read %s: %s", f->path, strerror(-r));
	}
	pve_error *perr = NULL;
	r = f->parse(text, len, ret_cfg, &perr);
	if (r < 0) {
		/* The server's own file is broken: not the client's error. */
		r = pve_error_set(err, EIO, "%s: %s", f->path,
				  perr ? perr->message : "parse error");
		pve_error_free(perr);
		return r;
	}
	if (ret_digest)
		memcpy(ret_digest, digest, sizeof(digest));
	return 0;
}

static void job_end(edit_job *j, int r, pve_error *err)
{
	if (j->timer)
		event_free(j->timer);
	if (j->cfg)
		j->e.file->free(j->cfg);
	pve_store_unlock(j->lock);
	j->e.done(j->d, j->ud, r, err);
	free(j->digest);
	free(j);
}

/* The rest, on the loop, after the check: what else the change writes, then the file itself. */
static void finish(edit_job *j)
{
	const pved_cfgfile *f = j->e.file;
	pve_error *err = NULL;
	int r = j->e.also ? j->e.also(j->d, j->cfg, j->ud, &err) : 0;
	if (r >= 0 && j->keep)
		r = PVED_CFGEDIT_KEEP;
	else if (r >= 0) {
		_cleanup_free_ char *text = f->print(j->cfg);
		r = f->write  ? f->write(j->d, text, strlen(text), j->file_digest, &err) :
		    j->exists ? pve_store_write(j->d->store, f->path, text, strlen(text),
						j->file_digest, &err) :
				pve_store_create(j->d->store, f->path, text, strlen(text), &err);
	}
	job_end(j, r, err);
}

static void check_work(void *arg)
{
	edit_job *j = arg;
	j->r = j->e.check(j->cfg, j->ud, &j->err);
}

static void check_done(void *arg)
{
	edit_job *j = arg;
	if (j->r < 0)
		return job_end(j, j->r, TAKE_PTR(j->err));
	finish(j);
}

/* With the lock held: read, the client's digest, the change; then the check, or straight on. */
static void apply(edit_job *j)
{
	const pved_cfgfile *f = j->e.file;
	pve_error *err = NULL;
	int r = pved_cfgfile_read(j->d, f, &j->cfg, j->file_digest, &err);
	if (r < 0)
		return job_end(j, r, err);
	j->exists = pve_store_exists(j->d->store, f->path);
	if (j->digest && strcmp(j->digest, j->file_digest) != 0)
		r = pve_error_set_param(&err, EINVAL, "digest", PVED_CFGEDIT_MODIFIED);
	else
		r = j->e.change(j->d, j->cfg, j->ud, &err);
	if (r < 0)
		return job_end(j, r, err);
	j->keep = r == PVED_CFGEDIT_KEEP;
	if (j->keep || !j->e.check)
		return finish(j);
	if (pved_run_blocking(j->d, j->e.queue, check_work, check_done, j, &err) < 0)
		return job_end(j, -EAGAIN, err);
}

static void attempt(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	edit_job *j = arg;
	pve_store_lock *lock = NULL;
	pve_error *err = NULL;
	int r = pve_store_lock_acquire(j->d->store, j->e.file->lock, 0, &lock, &err);
	if (r == -EBUSY && pve_now_ms() < j->deadline_ms) {
		pve_error_free(err);
		if (!j->timer)
			j->timer = evtimer_new(j->d->base, attempt, j);
		struct timeval tv = { 0, (suseconds_t)j->delay_ms * 1000 };
		j->delay_ms = j->delay_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : j->delay_ms * 2;
		evtimer_add(j->timer, &tv);
		return;
	}
	if (r < 0)
		return job_end(j, r, err);
	j->lock = lock;
	apply(j);
}

void pved_cfgedit_run(pved *d, const pved_cfgedit *e, void *ud)
{
	edit_job *j = xcalloc(1, sizeof(*j));
	j->d = d;
	j->e = *e;
	j->digest = e->digest ? xstrdup(e->digest) : NULL;
	j->e.digest = NULL;
	j->ud = ud;
	j->deadline_ms =
		pve_now_ms() +
		(uint64_t)(e->timeout_ms > 0 ? e->timeout_ms : PVED_CFGEDIT_LOCK_TIMEOUT_MS);
	j->delay_ms = 10;
	attempt(-1, 0, j);
}

int pved_cfgfile_edit_blocking(pved *d, const pved_cfgfile *f,
			       int (*change)(pved *d, void *cfg, void *ud, pve_error **err),
			       void *ud, pve_error **err)
{
	pve_store_lock *lock = NULL;
	int r = pve_store_lock_acquire(d->store, f->lock, PVED_CFGEDIT_LOCK_TIMEOUT_MS, &lock, err);
	if (r < 0)
		return r;
	void *cfg = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	r = pved_cfgfile_read(d, f, &cfg, digest, err);
	bool exists = pve_store_exists(d->store, f->path);
	if (r >= 0)
		r = change(d, cfg, ud, err);
	if (r == 0) {
		_cleanup_free_ char *text = f->print(cfg);
		r = f->write ? f->write(d, text, strlen(text), digest, err) :
		    exists   ? pve_store_write(d->store, f->path, text, strlen(text), digest, err) :
			       pve_store_create(d->store, f->path, text, strlen(text), err);
	}
	if (cfg)
		f->free(cfg);
	pve_store_unlock(lock);
	return r;
}

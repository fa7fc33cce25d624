/* Reading and writing user.cfg for the access handlers (users, pools, realm sync): under the store lock
 * "file-user_cfg", against the digest read, then the daemon's access state reloaded; and domains.cfg, read
 * for the realm checks. */
#include <cjson/cJSON.h>

#include "daemon/access/access-internal.h"

/* How long a change waits for another writer of user.cfg (on the loop: kept short). */
#define USERCFG_LOCK_TIMEOUT_MS 2000
#define MODIFIED_MSG "detected modified configuration - file changed by other user? Try again."

void pved_usercfg_edit_end(pved_usercfg_edit *e)
{
	pve_store_unlock(e->lock);
	pve_usercfg_free(e->cfg);
	*e = (pved_usercfg_edit){ 0 };
}

int pved_usercfg_load(pve_store *store, pved_usercfg_edit *e, bool lock, const char *digest,
		      pve_error **err)
{
	*e = (pved_usercfg_edit){ 0 };
	int r;
	if (lock && (r = pve_store_lock_acquire(store, "file-user_cfg", USERCFG_LOCK_TIMEOUT_MS,
						&e->lock, err)) < 0)
		return r;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	r = pve_store_read(store, "user.cfg", &text, &len, e->digest, NULL);
	if (r == -ENOENT) {
		e->cfg = pve_usercfg_new();
		_cleanup_free_ char *empty = pve_usercfg_print(e->cfg);
		pve_store_digest(empty, strlen(empty), e->digest);
	} else if (r < 0) {
		pve_error_set(err, -r, "cannot read user.cfg");
		goto fail;
	} else {
		e->exists = true;
		if ((r = pve_usercfg_parse(text, len, &e->cfg, err)) < 0)
			goto fail;
	}
	if (digest && strcmp(digest, e->digest) != 0) {
		r = pve_error_set_param(err, EINVAL, "digest", MODIFIED_MSG);
		goto fail;
	}
	return 0;
fail:
	pved_usercfg_edit_end(e);
	return r;
}

int pved_usercfg_read(pved_call *c, pved_usercfg_edit *e, bool lock, pve_error **err)
{
	return pved_usercfg_load(c->d->store, e, lock, pved_call_str(c, "digest"), err);
}

int pved_usercfg_store(pve_store *store, pved_usercfg_edit *e, pve_error **err)
{
	_cleanup_free_ char *text = pve_usercfg_print(e->cfg);
	if (e->exists)
		return pve_store_write(store, "user.cfg", text, strlen(text), e->digest, err);
	return pve_store_create(store, "user.cfg", text, strlen(text), err);
}

int pved_usercfg_commit(pved_call *c, pved_usercfg_edit *e, pve_error **err)
{
	return pved_usercfg_store(c->d->store, e, err);
}

void pved_usercfg_finish_audit(pved_call *c, pved_usercfg_edit *e, int r, pve_error *err,
			       cJSON *data, const char *event)
{
	if (r >= 0 && !err)
		r = pved_usercfg_commit(c, e, &err);
	pved_usercfg_done_audit(c, e, r, err, data, event);
}

void pved_usercfg_done_audit(pved_call *c, pved_usercfg_edit *e, int r, pve_error *err, cJSON *data,
			     const char *event)
{
	pved_usercfg_edit_end(e);
	if (r < 0) {
		cJSON_Delete(data);
		return pved_call_fail(c, err);
	}
	pved_auth_reload(c->d);
	if (event)
		pved_audit_call(c, event);
	pved_call_reply(c, data);
}

void pved_usercfg_finish(pved_call *c, pved_usercfg_edit *e, int r, pve_error *err, cJSON *data)
{
	pved_usercfg_finish_audit(c, e, r, err, data, NULL);
}

int pved_domains_read(pve_store *store, pve_sectioncfg **ret,
		      char ret_digest[PVE_STORE_DIGEST_LEN + 1], pve_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	int r = pve_store_read(store, "domains.cfg", &text, &len, digest, NULL);
	if (r == -ENOENT) {
		pve_store_digest("", 0, digest);
		*ret = pve_sectioncfg_new();
	} else if (r < 0) {
		return pve_error_set(err, -r, "cannot read domains.cfg");
	} else if ((r = pve_domains_parse(text, len, ret, err)) < 0) {
		return r;
	}
	if (ret_digest)
		memcpy(ret_digest, digest, sizeof(digest));
	return 0;
}

char *pved_realm_type(pved *d, const char *realm)
{
	_cleanup_sectioncfg_ pve_sectioncfg *c = NULL;
	_cleanup_error_ pve_error *err = NULL;
	if (pved_domains_read(d->store, &c, NULL, &err) < 0)
		log_warning("%s", err->message);
	const char *t = pve_domains_realm_type(c, realm);
	return t ? xstrdup(t) : NULL;
}

int pved_realm_ldap_config(pved *d, const char *realm, pve_ldap_config **ret, pve_error **err)
{
	_cleanup_sectioncfg_ pve_sectioncfg *c = NULL;
	int r = pved_domains_read(d->store, &c, NULL, err);
	if (r < 0)
		return r;
	const pve_section *s = pve_sectioncfg_find(c, realm);
	if (!s)
		return pve_error_set(err, ENOENT, "domain '%s' does not exist", realm);
	_cleanup_free_ char *path = xasprintf("priv/realm/%s.pw", realm);
	_cleanup_free_ char *pw = NULL;
	r = pve_store_read(d->store, path, &pw, NULL, NULL, NULL);
	if (r < 0 && r != -ENOENT)
		return pve_error_set(err, -r, "cannot read the password of realm '%s'", realm);
	/* The first line, as Proxmox reads it. */
	if (pw)
		pw[strcspn(pw, "\r\n")] = '\0';
	r = pve_ldap_config_from_section(s, pw, ret, err);
	if (pw)
		explicit_bzero(pw, strlen(pw));
	return r;
}

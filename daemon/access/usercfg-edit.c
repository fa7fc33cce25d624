/* The access area's config files (user.cfg, domains.cfg, priv/tfa.cfg) as pved_cfgedit files, the
 * changes the access, realm, pool and TFA handlers make of them for a call, the one blocking edit of the
 * realm sync task, and the realm lookups. */
#include <cjson/cJSON.h>

#include "daemon/access/access-internal.h"

/* The parsers name their file ("user.cfg line 3: ...", "tfa.cfg: : invalid JSON ..."), and cfgedit puts
 * the path before a parse error: the name goes once, as "user.cfg: line 3: ...". */
static int parsed(int r, const char *name, pve_error **err)
{
	if (r >= 0 || !err || !*err || !startswith((*err)->message, name))
		return r;
	const char *m = (*err)->message + strlen(name);
	if (*m != ':' && !startswith(m, " line "))
		return r;
	char *rest = xstrdup(m + strspn(m, ": "));
	free((*err)->message);
	(*err)->message = rest;
	return r;
}

static int usercfg_parse(const char *text, size_t len, void **ret, pve_error **err)
{
	return parsed(pve_usercfg_parse(text, len, (pve_usercfg **)ret, err), "user.cfg", err);
}

static char *usercfg_print(const void *cfg)
{
	return pve_usercfg_print(cfg);
}

static void usercfg_free(void *cfg)
{
	pve_usercfg_free(cfg);
}

const pved_cfgfile pved_usercfg_file = {
	.path = "user.cfg",
	.lock = "file-user_cfg",
	.parse = usercfg_parse,
	.print = usercfg_print,
	.free = usercfg_free,
};

static int domains_parse(const char *text, size_t len, void **ret, pve_error **err)
{
	return parsed(pve_domains_parse(text, len, (pve_sectioncfg **)ret, err), "domains.cfg",
		      err);
}

static char *domains_print(const void *cfg)
{
	return pve_sectioncfg_print(cfg);
}

static void domains_free(void *cfg)
{
	pve_sectioncfg_free(cfg);
}

const pved_cfgfile pved_domains_file = {
	.path = "domains.cfg",
	.lock = "file-domains_cfg",
	.parse = domains_parse,
	.print = domains_print,
	.free = domains_free,
};

static int tfacfg_parse(const char *text, size_t len, void **ret, pve_error **err)
{
	return parsed(pve_tfacfg_parse(text, len, (pve_tfacfg **)ret, err), "tfa.cfg", err);
}

static char *tfacfg_print(const void *cfg)
{
	return pve_tfacfg_print(cfg);
}

static void tfacfg_free(void *cfg)
{
	pve_tfacfg_free(cfg);
}

const pved_cfgfile pved_tfacfg_file = {
	.path = "priv/tfa.cfg",
	.lock = "file-tfa_cfg",
	.parse = tfacfg_parse,
	.print = tfacfg_print,
	.free = tfacfg_free,
};

int pved_usercfg_read(pved *d, pve_usercfg **ret, char ret_digest[PVE_STORE_DIGEST_LEN + 1],
		      pve_error **err)
{
	return pved_cfgfile_read(d, &pved_usercfg_file, (void **)ret, ret_digest, err);
}

int pved_domains_read(pved *d, pve_sectioncfg **ret, char ret_digest[PVE_STORE_DIGEST_LEN + 1],
		      pve_error **err)
{
	return pved_cfgfile_read(d, &pved_domains_file, (void **)ret, ret_digest, err);
}

int pved_tfacfg_read(pved *d, pve_tfacfg **ret, pve_error **err)
{
	return pved_cfgfile_read(d, &pved_tfacfg_file, (void **)ret, NULL, err);
}

/* ---- a call's change ------------------------------------------------------------------------------------ */

pved_access_edit *pved_access_edit_new(pved_call *c, pved_access_edit_fn change, const char *event)
{
	pved_access_edit *e = xcalloc(1, sizeof(*e));
	e->c = c;
	e->change = change;
	e->event = event;
	return e;
}

int pved_access_error_plain(pve_error **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = pve_error_setv(err, EIO, fmt, ap);
	va_end(ap);
	return r;
}

void pved_access_fail_plain(pved_call *c, const char *fmt, ...)
{
	pve_error *err = NULL;
	va_list ap;
	va_start(ap, fmt);
	pve_error_setv(&err, EIO, fmt, ap);
	va_end(ap);
	pved_call_fail(c, err);
}

static int edit_change(pved *d, void *cfg, void *ud, pve_error **err)
{
	(void)d;
	pved_access_edit *e = ud;
	int r = e->change(e, cfg, err);
	if (r < 0 && err)
		pved_error_wrap(*err, e->failed);
	return r;
}

/* The priv/ files go before the file that names their entries. A failure in between then leaves a secret
 * nothing names (a password hash or token secret of an entry user.cfg lacks, a bind password of a realm
 * domains.cfg lacks): it opens nothing, and the next create of that entry writes it anew. The other
 * order could leave a deleted user's password hash behind for a user of the same name created later. */
static int edit_also(pved *d, void *cfg, void *ud, pve_error **err)
{
	(void)d;
	pved_access_edit *e = ud;
	int r = e->also ? e->also(e, cfg, err) : 0;
	if (r < 0 && err)
		pved_error_wrap(*err, e->failed);
	return r;
}

static int edit_check(void *cfg, void *ud, pve_error **err)
{
	(void)cfg;
	pved_access_edit *e = ud;
	int r = e->check ? e->check(e, err) : 0;
	if (r < 0 && err)
		pved_error_wrap(*err, e->failed);
	return r;
}

static void edit_done(pved *d, void *ud, int r, pve_error *err)
{
	(void)d;
	pved_access_edit *e = ud;
	if (r < 0 && !err)
		pve_error_set(&err, -r, "%s", strerror(-r));
	if (e->done)
		e->done(e, r, err);
	else
		pved_usercfg_answer(e, r, err);
	cJSON_Delete(e->data);
	if (e->secret)
		explicit_bzero(e->secret, strlen(e->secret));
	free(e->secret);
	strv_free(e->ids);
	if (e->priv_free)
		e->priv_free(e->priv);
	free(e);
}

void pved_access_edit_run(pved_access_edit *e, const pved_cfgfile *f, const char *digest)
{
	pved_cfgedit ce = {
		.file = f,
		.digest = digest,
		.change = edit_change,
		.check = e->check ? edit_check : NULL,
		.queue = PVED_QUEUE_AUTH,
		.also = edit_also,
		.done = edit_done,
	};
	pved_cfgedit_run(e->c->d, &ce, e);
}

void pved_usercfg_change(pved_call *c, pved_access_edit_fn change, const char *event)
{
	pved_access_edit_run(pved_access_edit_new(c, change, event), &pved_usercfg_file,
			     pved_call_str(c, "digest"));
}

void pved_usercfg_answer(pved_access_edit *e, int r, pve_error *err)
{
	pved_call *c = e->c;
	if (r < 0)
		return pved_call_fail(c, err);
	pved_auth_reload(c->d);
	if (e->event)
		pved_audit_call(c, e->event);
	pved_call_reply(c, TAKE_PTR(e->data));
}

/* ---- realms ----------------------------------------------------------------------------------------- */

char *pved_realm_type(pved *d, const char *realm)
{
	_cleanup_sectioncfg_ pve_sectioncfg *c = NULL;
	_cleanup_error_ pve_error *err = NULL;
	if (pved_domains_read(d, &c, NULL, &err) < 0)
		log_warning("%s", err->message);
	const char *t = pve_domains_realm_type(c, realm);
	return t ? xstrdup(t) : NULL;
}

int pved_webauthn_config(pved *d, pve_webauthn_config *ret, pve_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = pve_store_read(d->store, "datacenter.cfg", &text, &len, NULL, NULL);
	if (r < 0 && r != -ENOENT)
		return pve_error_set(err, -r, "cannot read datacenter.cfg");
	size_t pos = 0;
	while (text && pos < len) {
		size_t n = strcspn(text + pos, "\n");
		_cleanup_free_ char *line = xstrndup(text + pos, n);
		pos += n + 1;
		if (!startswith(line, "webauthn:"))
			continue;
		const char *v = line + 9;
		v += strspn(v, " \t");
		return pve_webauthn_config_parse(v, ret, err);
	}
	return pve_error_set(err, EIO, "webauthn not configured");
}

int pved_realm_ldap_config(pved *d, const char *realm, pve_ldap_config **ret, pve_error **err)
{
	_cleanup_sectioncfg_ pve_sectioncfg *c = NULL;
	int r = pved_domains_read(d, &c, NULL, err);
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

/* The storage handlers: /storage (storage.cfg's definitions, cifs passwords in priv/storage/<id>.pw) and
 * /nodes/{node}/storage (status, content). Whatever can wait on a server or a tool (activating a storage:
 * mount, iscsiadm; its status; its content) runs on a worker thread (pved_run_blocking): the config is read
 * and the permissions are checked on the loop before, the answer is made on the loop after. */
#include <pthread.h>

#include "daemon/storage/storage-internal.h"
#include "storage/storage.h"

#define STORAGE_CFG "storage.cfg"
#define PASSWORD_PREFIX "password="
#define STATUS_THREADS 16 /* storages on servers asked at once in a status list */

/* storage.cfg as it is now: a missing file is an empty config. Sections are checked one by one where they
 * are used, so one bad section does not hide the others (Proxmox warns and goes on, too). */
static int cfg_parse(const char *text, size_t len, void **ret, pve_error **err)
{
	return pve_sectioncfg_parse(text, len, (pve_sectioncfg **)ret, err);
}

static char *cfg_print(const void *cfg)
{
	return pve_sectioncfg_print(cfg);
}

static void cfg_free(void *cfg)
{
	pve_sectioncfg_free(cfg);
}

/* storage.cfg, under the store lock "file-storage_cfg" for changes. */
static const pved_cfgfile storage_cfg = {
	.path = STORAGE_CFG,
	.lock = "file-storage_cfg",
	.parse = cfg_parse,
	.print = cfg_print,
	.free = cfg_free,
};

static int load_cfg(pved *d, pve_sectioncfg **ret, char digest[PVE_STORE_DIGEST_LEN + 1],
		    pve_error **err)
{
	return pved_cfgfile_read(d, &storage_cfg, (void **)ret, digest, err);
}

/* ---- cifs passwords: priv/storage/<id>.pw holds "password=SECRET\n", as Proxmox's CIFSPlugin writes it;
 * storage.cfg never holds one. The plugin finds it in the in-memory section. */

static char *password_file(const char *id)
{
	return xasprintf("priv/storage/%s.pw", id);
}

static void load_password(pved *d, pve_section *s)
{
	if (!s || !streq(pve_section_type(s), "cifs") || pve_section_get(s, "password"))
		return;
	_cleanup_free_ char *path = password_file(pve_section_id(s)), *text = NULL;
	size_t len = 0;
	if (pve_store_read(d->store, path, &text, &len, NULL, NULL) < 0)
		return;
	const char *pw = startswith(text, PASSWORD_PREFIX) ? text + strlen(PASSWORD_PREFIX) : text;
	_cleanup_free_ char *one = xstrndup(pw, strcspn(pw, "\r\n"));
	pve_section_set(s, "password", one);
	explicit_bzero(one, strlen(one));
	explicit_bzero(text, len);
}

static int save_password(pved *d, const char *id, const char *pw, pve_error **err)
{
	if (strpbrk(pw, "\r\n"))
		return pve_error_set_param(err, EINVAL, "password", "invalid password");
	_cleanup_free_ char *path = password_file(id);
	_cleanup_free_ char *text = xasprintf(PASSWORD_PREFIX "%s\n", pw);
	int r = pve_store_write(d->store, path, text, strlen(text), NULL, err);
	explicit_bzero(text, strlen(text));
	return r;
}

static int delete_password(pved *d, const char *id, pve_error **err)
{
	_cleanup_free_ char *path = password_file(id);
	pve_error *e = NULL;
	int r = pve_store_delete(d->store, path, &e);
	if (r == -ENOENT) {
		pve_error_free(e);
		return 0;
	}
	if (r < 0 && err)
		*err = e;
	else
		pve_error_free(e);
	return r;
}

/* The storage named by the call's `storage`, checked against its type. */
static int call_storage(pved_call *c, pve_sectioncfg *cfg, pve_storage *st, pve_error **err)
{
	const char *id = pved_call_str(c, "storage");
	int r = pve_storage_get(cfg, id, st, err);
	if (r < 0)
		return r;
	pve_error *e = NULL;
	if (pve_storage_check_section(st->section, &e) < 0) {
		r = pve_error_set(err, EINVAL, "storage '%s' has an invalid configuration: %s%s%s",
				  id, e->param ? e->param : "", e->param ? ": " : "", e->message);
		pve_error_free(e);
		return r;
	}
	return 0;
}

static bool may_see_storage(pved_call *c, const char *id)
{
	_cleanup_free_ char *path = xasprintf("/storage/%s", id);
	return pved_call_permitted(c, path, "Datastore.Audit") ||
	       pved_call_permitted(c, path, "Datastore.AllocateSpace");
}

/* ---- volume access: Proxmox's check_volume_access (PVE/Storage.pm) ----------------------------------------
 * Datastore.Allocate on the storage opens every volume on it. Without it: ISOs, container templates and
 * imports need Datastore.AllocateSpace or Datastore.Audit on the storage; a guest's backup needs
 * Datastore.AllocateSpace there and VM.Backup on the guest; a guest's disk needs Datastore.Audit there
 * and VM.Config.Disk on the guest; anything else (snippets, volumes of no guest) nobody else. */

typedef struct volume_access {
	pved_call *c;
	const char *sid;
	bool allocate, space, audit; /* the caller's privileges on /storage/<sid> */
	long long vmid; /* the guest whose answers follow (a listing asks once per guest) */
	bool backup_ok, disk_ok;
} volume_access;

static void volume_access_init(volume_access *a, pved_call *c, const char *sid)
{
	_cleanup_free_ char *spath = xasprintf("/storage/%s", sid);
	*a = (volume_access){ .c = c, .sid = sid };
	a->allocate = pved_call_permitted(c, spath, "Datastore.Allocate");
	a->space = pved_call_permitted(c, spath, "Datastore.AllocateSpace");
	a->audit = pved_call_permitted(c, spath, "Datastore.Audit");
}

static bool volume_access_ok(volume_access *a, unsigned vtype, long long ownervm)
{
	if (a->allocate)
		return true;
	if (vtype & (PVE_CONTENT_ISO | PVE_CONTENT_VZTMPL | PVE_CONTENT_IMPORT))
		return a->space || a->audit;
	if (!ownervm || !(vtype & (PVE_CONTENT_BACKUP | PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR)))
		return false;
	if (ownervm != a->vmid) {
		_cleanup_free_ char *vpath = xasprintf("/vms/%lld", ownervm);
		a->vmid = ownervm;
		a->backup_ok = pved_call_permitted(a->c, vpath, "VM.Backup");
		a->disk_ok = pved_call_permitted(a->c, vpath, "VM.Config.Disk");
	}
	if (vtype == PVE_CONTENT_BACKUP)
		return a->space && a->backup_ok;
	return a->audit && a->disk_ok;
}

/* The call's one volume (volname, parsed into v) on storage sid: 0, or EACCES naming what is missing. */
static int check_volume_access(pved_call *c, const char *sid, const char *volname,
			       const pve_volname *v, pve_error **err)
{
	volume_access a;
	volume_access_init(&a, c, sid);
	if (volume_access_ok(&a, v->vtype, v->vmid))
		return 0;
	if (v->vtype & (PVE_CONTENT_ISO | PVE_CONTENT_VZTMPL | PVE_CONTENT_IMPORT))
		return pve_error_set(err, EACCES,
				     "Permission check failed (/storage/%s, Datastore.Audit)", sid);
	if (v->vmid && v->vtype == PVE_CONTENT_BACKUP)
		return pve_error_set(err, EACCES, "Permission check failed (%s)",
				     !a.space ? "Datastore.AllocateSpace on the storage" :
						"VM.Backup on the guest");
	if (v->vmid && (v->vtype & (PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR)))
		return pve_error_set(err, EACCES, "Permission check failed (%s)",
				     !a.audit ? "Datastore.Audit on the storage" :
						"VM.Config.Disk on the guest");
	return pve_error_set(err, EACCES, "missing privileges to access %s:%s", sid, volname);
}

/* A section as the API shows it: every property, booleans as 0/1 numbers. */
static cJSON *section_json(const pve_section *s)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "storage", pve_section_id(s));
	cJSON_AddStringToObject(o, "type", pve_section_type(s));
	for (size_t i = 0; i < pve_section_count(s); i++) {
		const char *k = pve_section_key(s, i), *v = pve_section_value(s, i);
		bool b;
		/* a hand-written storage.cfg may hold one: never shown */
		if (!k || cJSON_HasObjectItem(o, k) || streq(k, "password"))
			continue;
		if (pve_storage_option_is_bool(k) && pve_parse_bool(v, &b) == 0)
			cJSON_AddNumberToObject(o, k, b);
		else if (streq(k, "max-protected-backups"))
			cJSON_AddNumberToObject(o, k, strtod(v, NULL));
		else
			cJSON_AddStringToObject(o, k, v);
	}
	return o;
}

/* ---- work off the loop ----------------------------------------------------------------------------------- */

/* A storage call's work on a worker thread: it owns the parsed config its storages point into, and touches
 * neither the call nor the daemon's state; done answers on the loop. */
typedef struct sjob sjob;
struct sjob {
	pved_call *c;
	pve_sectioncfg *cfg;
	pve_storage st;
	void (*work)(sjob *j);
	void (*done)(sjob *j);
	pve_error *err;
	int r;
	bool activate; /* activate st before the work */
	/* the call's arguments and results */
	char *volname;
	pve_volname v;
	long long vmid;
	unsigned content;
	char *fmt, *name, *path, *notes, *prot;
	uint64_t size, used;
	bool set_notes, set_prot;
	pve_volume_info *vols;
	size_t n_vols;
	long long *containers; /* st.containers points here */
	size_t n_containers;
	/* prune-backups */
	pve_prune_keep keep;
	bool keep_given;
	char *type;
	pve_prune_entry *prune;
	size_t n_prune;
	/* status: one entry per storage */
	size_t n;
	pve_storage *sts;
	pve_storage_status *ss;
	bool *ok;
	cJSON **objs;
	cJSON *reply;
};

static sjob *sjob_new(pved_call *c, pve_sectioncfg *cfg)
{
	sjob *j = xcalloc(1, sizeof(*j));
	j->c = c;
	j->cfg = cfg;
	return j;
}

static void sjob_free(sjob *j)
{
	pve_sectioncfg_free(j->cfg);
	pve_error_free(j->err);
	free(j->volname);
	pve_volname_clear(&j->v);
	free(j->fmt);
	free(j->name);
	free(j->path);
	free(j->notes);
	free(j->prot);
	pve_volume_infos_free(j->vols, j->n_vols);
	free(j->containers);
	free(j->type);
	pve_prune_entries_free(j->prune, j->n_prune);
	free(j->sts);
	free(j->ss);
	free(j->ok);
	free(j->objs);
	cJSON_Delete(j->reply);
	free(j);
}

static void sjob_work(void *arg)
{
	sjob *j = arg;
	if (j->activate) {
		j->r = pved_storage_activate(j->c->d, &j->st, &j->err);
		if (j->r < 0)
			return;
	}
	if (j->work)
		j->work(j);
}

/* The job's error as the call's answer. */
static void sjob_fail(sjob *j)
{
	pve_error *e = TAKE_PTR(j->err);
	if (!e)
		pve_error_set(&e, EIO, "storage '%s': operation failed", j->st.id ? j->st.id : "?");
	pved_call_fail(j->c, e);
}

static void sjob_done(void *arg)
{
	sjob *j = arg;
	if (j->r < 0)
		sjob_fail(j);
	else
		j->done(j);
	sjob_free(j);
}

static void sjob_run(sjob *j)
{
	pve_error *err = NULL;
	if (pved_run_blocking(j->c->d, PVED_QUEUE_STORAGE, sjob_work, sjob_done, j, &err) < 0) {
		pved_call_fail(j->c, err);
		sjob_free(j);
	}
}

/* ---- /storage --------------------------------------------------------------------------------------------- */

static void h_storage_index(pved_call *c)
{
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	pve_error *err = NULL;
	if (load_cfg(c->d, &cfg, digest, &err) < 0)
		return pved_call_fail(c, err);
	const char *type = pved_call_str(c, "type");
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < pve_sectioncfg_count(cfg); i++) {
		const pve_section *s = pve_sectioncfg_nth(cfg, i);
		if (type && !streq(type, pve_section_type(s)))
			continue;
		if (!may_see_storage(c, pve_section_id(s)))
			continue;
		cJSON *o = section_json(s);
		cJSON_AddStringToObject(o, "digest", digest);
		cJSON_AddItemToArray(list, o);
	}
	pved_call_reply(c, list);
}

static void h_storage_read(pved_call *c)
{
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	pve_error *err = NULL;
	if (load_cfg(c->d, &cfg, digest, &err) < 0)
		return pved_call_fail(c, err);
	const char *id = pved_call_str(c, "storage");
	const pve_section *s = pve_sectioncfg_find(cfg, id);
	if (!s) {
		/* Proxmox's storage_config dies: a plain 500. */
		pve_error_set(&err, EIO, "storage '%s' does not exist", id);
		return pved_call_fail(c, err);
	}
	cJSON *o = section_json(s);
	cJSON_AddStringToObject(o, "digest", digest);
	pved_call_reply(c, o);
}

/* Parameters that are not storage.cfg properties. */
static bool is_call_param(const char *k)
{
	static const char *const names[] = { "storage", "type", "digest", "delete", "node" };
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (streq(k, names[i]))
			return true;
	return false;
}

/* Copies the call's properties into the section: booleans as 1/0, content normalized. */
static int apply_params(pved_call *c, pve_section *s, pve_error **err)
{
	const cJSON *p;
	cJSON_ArrayForEach (p, c->params) {
		if (is_call_param(p->string))
			continue;
		_cleanup_free_ char *v = NULL;
		if (cJSON_IsNumber(p))
			v = xasprintf("%lld", (long long)p->valuedouble);
		else if (cJSON_IsString(p))
			v = xstrdup(p->valuestring);
		else
			continue;
		if (streq(p->string, "content")) {
			unsigned mask;
			if (pve_storage_content_parse(v, &mask, err) < 0)
				return -EINVAL;
			free(v);
			v = pve_storage_content_print(mask);
		}
		/* qcow2 volume chains on LVM are a project of their own: not switched on here. A
		 * storage.cfg of Proxmox's that has it stays readable (its raw volumes work). */
		if (streq(p->string, "snapshot-as-volume-chain") && streq(v, "1"))
			return pve_error_set_param(
				err, EINVAL, p->string,
				"snapshot-as-volume-chain (qcow2 volume chains on "
				"LVM) is not supported by pved");
		if (pve_section_set(s, p->string, v) < 0)
			return pve_error_set_param(err, EINVAL, p->string, "invalid value");
	}
	return 0;
}

/* As Proxmox's check_config: a network file storage without a path is mounted at /mnt/pve/<id> (below
 * this node's root). */
static void default_path(pved *d, pve_section *s)
{
	const char *type = pve_section_type(s);
	if ((!streq(type, "nfs") && !streq(type, "cifs")) || pve_section_get(s, "path"))
		return;
	_cleanup_free_ char *rel = xasprintf("mnt/pve/%s", pve_section_id(s));
	_cleanup_free_ char *path = pved_path(d, rel);
	pve_section_set(s, "path", path);
}

/* After the storage was checked and activated: a password given moves to its file, one deleted goes.
 * One a hand-written storage.cfg held moves to the file, too (the section keeps none). */
static int store_password(pved_call *c, pve_section *s, bool deleted, pve_error **err)
{
	const char *pw = pved_call_str(c, "password");
	int r = 0;
	if (!pw && !deleted)
		pw = pve_section_get(s, "password");
	if (pw)
		r = save_password(c->d, pve_section_id(s), pw, err);
	else if (deleted)
		r = delete_password(c->d, pve_section_id(s), err);
	pve_section_delete(s, "password");
	return r;
}

static cJSON *storage_type_reply(const char *id, const char *type)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "storage", id);
	cJSON_AddStringToObject(o, "type", type);
	return o;
}

/* A path given for a storage, before anything is made there (dir activation creates it, nfs and cifs
 * mount over it): never the node's root, etc/pve or a system directory. An update checks only a path
 * it is given, so a storage.cfg written by hand keeps working until its path is edited. */
static int check_path(pved_call *c, const pve_section *s, pve_error **err)
{
	const char *path = pve_section_get(s, "path");
	return path ? pve_storage_check_path(path, c->d->root, err) : 0;
}

/* ---- changes of storage.cfg: each a pved_cfgedit ---- */

typedef struct storage_edit {
	pved_call *c;
	char *type; /* the storage's type, for the answer */
	bool pw_deleted;
	pve_storage st; /* what the check activates, when this node uses it */
	bool activate;
	/* a storage created: its plugin's on_add runs first (lvm makes its VG on its base) */
	pve_storage added;
	bool add;
	/* Proxmox's errmsg of lock_storage_config ("create storage failed"), which prefixes what the
	 * locked code dies with; params_outside: parameter errors are Proxmox's check_config before
	 * the lock (create), which keeps them 400 with "errors". */
	const char *failed;
	bool params_outside;
} storage_edit;

/* What the locked code fails with, as Proxmox's lock_storage_config answers it; the lock not taken in
 * time, a full queue and a storage.cfg that does not parse stay pved's own answers. */
static int failed(storage_edit *e, int r, pve_error **err)
{
	if (r < 0 && err && *err && !(e->params_outside && (*err)->param))
		pved_error_wrap(*err, e->failed);
	return r;
}

/* The storage as the change defines it, to be activated by the check where this node uses it: a wrong
 * path or server is found before the definition is saved. */
static int plan_activation(storage_edit *e, pve_sectioncfg *cfg)
{
	pve_storage st;
	const char *id = pved_call_str(e->c, "storage");
	const pve_section *s = pve_sectioncfg_find(cfg, id);
	e->type = s ? xstrdup(pve_section_type(s)) : NULL;
	if (pve_storage_get(cfg, id, &st, NULL) == 0 && !st.disabled &&
	    pve_storage_on_node(&st, e->c->d->node) && st.plugin->activate) {
		e->st = st;
		e->activate = true;
	}
	return 0;
}

/* On the storage queue, storage.cfg's lock held: a mount may wait long on a server that does not
 * answer. */
static int activate_check(void *cfg, void *ud, pve_error **err)
{
	(void)cfg;
	storage_edit *e = ud;
	if (e->add && pve_storage_on_add(&e->added, err) < 0)
		return failed(e, -EIO, err);
	return failed(e, e->activate ? pved_storage_activate(e->c->d, &e->st, err) : 0, err);
}

/* Before storage.cfg is written: a password given moves to its file, one deleted (or of a storage
 * deleted) goes. */
static int password_also(pved *d, void *cfg, void *ud, pve_error **err)
{
	storage_edit *e = ud;
	const char *id = pved_call_str(e->c, "storage");
	pve_section *s = pve_sectioncfg_find(cfg, id);
	return failed(e,
		      s ? store_password(e->c, s, e->pw_deleted, err) : delete_password(d, id, err),
		      err);
}

static void saved(pved *d, void *ud, int r, pve_error *err)
{
	(void)d;
	storage_edit *e = ud;
	pved_call *c = e->c;
	_cleanup_free_ char *type = e->type;
	free(e);
	if (r < 0)
		return pved_call_fail(c, err);
	if (!type) /* deleted */
		return pved_call_reply(c, NULL);
	pved_call_reply(c, storage_type_reply(pved_call_str(c, "storage"), type));
}

static int create_change(pved *d, void *cfgp, void *ud, pve_error **err);

static void storage_edit_run(pved_call *c, int (*change)(pved *, void *, void *, pve_error **),
			     bool check, const char *failed_msg)
{
	storage_edit *e = xcalloc(1, sizeof(*e));
	e->c = c;
	e->failed = failed_msg;
	e->params_outside = change == create_change;
	pved_cfgedit ce = {
		.file = &storage_cfg,
		.digest = pved_call_str(c, "digest"),
		.change = change,
		.check = check ? activate_check : NULL,
		.queue = PVED_QUEUE_STORAGE,
		.also = password_also,
		.done = saved,
	};
	pved_cfgedit_run(c->d, &ce, e);
}

static int create_change_locked(pved *d, void *cfgp, void *ud, pve_error **err)
{
	(void)d;
	storage_edit *e = ud;
	pved_call *c = e->c;
	pve_sectioncfg *cfg = cfgp;
	const char *id = pved_call_str(c, "storage"), *type = pved_call_str(c, "type");
	pve_section *s = NULL;
	if (pve_sectioncfg_find(cfg, id))
		return pve_error_set(err, EEXIST, "storage ID '%s' already defined", id);
	if (pve_sectioncfg_add(cfg, type, id, &s, err) < 0 || apply_params(c, s, err) < 0)
		return -EINVAL;
	default_path(c->d, s);
	if (pve_storage_check_section(s, err) < 0 || check_path(c, s, err) < 0)
		return -EINVAL;
	/* a base volume that is not there, or not an iSCSI LUN, is the caller's mistake */
	pve_storage base;
	_cleanup_free_ char *base_volname = NULL;
	if (pve_storage_get(cfg, id, &e->added, err) < 0 ||
	    pve_storage_base(&e->added, &base, &base_volname, err) < 0)
		return -EINVAL;
	e->add = true;
	return plan_activation(e, cfg);
}

static int create_change(pved *d, void *cfgp, void *ud, pve_error **err)
{
	return failed(ud, create_change_locked(d, cfgp, ud, err), err);
}

static void h_storage_create(pved_call *c)
{
	storage_edit_run(c, create_change, true, "create storage failed");
}

static int update_change_locked(pved *d, void *cfgp, void *ud, pve_error **err)
{
	(void)d;
	storage_edit *e = ud;
	pved_call *c = e->c;
	pve_sectioncfg *cfg = cfgp;
	const char *id = pved_call_str(c, "storage");
	pve_section *s = pve_sectioncfg_find(cfg, id);
	if (!s)
		return pve_error_set(err, ENOENT, "storage '%s' does not exist", id);
	const pve_storage_plugin *pl = pve_storage_plugin_find(pve_section_type(s));
	_cleanup_strv_free_ char **del =
		pve_split_list(pved_call_str(c, "delete") ? pved_call_str(c, "delete") : "");
	for (char **k = del; *k; k++) {
		/* Proxmox's texts; it dies with them (a 500 under "update storage failed"). */
		if (pved_call_has(c, *k))
			return pve_error_set(
				err, EINVAL,
				"cannot set and delete property '%s' at the same time!", *k);
		for (const char *const *r = pl ? pl->required : NULL; r && *r; r++)
			if (streq(*r, *k))
				return pve_error_set(err, EINVAL,
						     "unable to delete required option '%s'", *k);
		for (const char *const *f = pl ? pl->fixed : NULL; f && *f; f++)
			if (streq(*f, *k))
				return pve_error_set(err, EINVAL,
						     "unable to delete fixed option '%s'", *k);
		pve_section_delete(s, *k);
		e->pw_deleted |= streq(*k, "password");
	}
	if (apply_params(c, s, err) < 0)
		return -EINVAL;
	default_path(c->d, s);
	if (!e->pw_deleted)
		load_password(c->d, s);
	if (pve_storage_check_section(s, err) < 0 ||
	    (pved_call_has(c, "path") && check_path(c, s, err) < 0))
		return -EINVAL;
	return plan_activation(e, cfg);
}

static int update_change(pved *d, void *cfgp, void *ud, pve_error **err)
{
	return failed(ud, update_change_locked(d, cfgp, ud, err), err);
}

static void h_storage_update(pved_call *c)
{
	storage_edit_run(c, update_change, true, "update storage failed");
}

static int delete_change_locked(pved *d, void *cfgp, void *ud, pve_error **err)
{
	(void)d;
	storage_edit *e = ud;
	const char *id = pved_call_str(e->c, "storage");
	if (pve_sectioncfg_find(cfgp, id) && pve_storage_is_base(cfgp, id))
		return pve_error_set(
			err, EBUSY,
			"can't remove storage - storage is used as base of another storage");
	if (!pve_sectioncfg_remove(cfgp, id))
		return pve_error_set(err, ENOENT, "storage '%s' does not exist", id);
	e->pw_deleted = true;
	return 0;
}

static int delete_change(pved *d, void *cfgp, void *ud, pve_error **err)
{
	return failed(ud, delete_change_locked(d, cfgp, ud, err), err);
}

static void h_storage_delete(pved_call *c)
{
	storage_edit_run(c, delete_change, false, "delete storage failed");
}

/* ---- /nodes/{node}/storage ------------------------------------------------------------------------------ */

/* The status fields of one storage: ok is "enabled and active", with ss its figures. */
static void add_status(cJSON *o, const pve_storage *st, bool ok, const pve_storage_status *ss)
{
	_cleanup_free_ char *content = pve_storage_content_print(st->content);
	cJSON_AddStringToObject(o, "type", st->type);
	cJSON_AddStringToObject(o, "content", st->content ? content : "");
	cJSON_AddNumberToObject(o, "active", ok);
	cJSON_AddNumberToObject(o, "enabled", !st->disabled);
	cJSON_AddNumberToObject(o, "shared", st->shared);
	if (ok) {
		cJSON_AddNumberToObject(o, "total", (double)ss->total);
		cJSON_AddNumberToObject(o, "used", (double)ss->used);
		cJSON_AddNumberToObject(o, "avail", (double)ss->avail);
		cJSON_AddNumberToObject(o, "used_fraction",
					ss->total ? (double)ss->used / (double)ss->total : 0);
	}
}

/* One storage's status, true if it is active. It is activated first, as Proxmox's storage_info does: a
 * network storage is mounted again once its server is back. */
static bool status_one(pved *d, const pve_storage *st, pve_storage_status *ss)
{
	if (st->disabled || pved_storage_activate(d, st, NULL) < 0)
		return false;
	return pve_storage_get_status(st, ss, NULL) == 0 && ss->active;
}

typedef struct status_thread {
	sjob *j;
	size_t i;
	pthread_t t;
	bool started;
} status_thread;

static void *status_thread_run(void *arg)
{
	status_thread *t = arg;
	t->j->ok[t->i] = status_one(t->j->c->d, &t->j->sts[t->i], &t->j->ss[t->i]);
	return NULL;
}

/* On the worker: each storage's status. A server that does not answer makes its storage inactive
 * within the plugins' time limits (a probe of a few seconds). Storages on a server each ask on a thread
 * of their own, so several dead servers cost one probe's time, not one each; local ones are asked
 * here, meanwhile. */
static void status_work(sjob *j)
{
	_cleanup_free_ status_thread *ts = xcalloc(j->n ? j->n : 1, sizeof(*ts));
	size_t n_threads = 0;
	for (size_t i = 0; i < j->n; i++) {
		status_thread *t = &ts[i];
		*t = (status_thread){ .j = j, .i = i };
		if (j->sts[i].plugin->shared && !j->sts[i].disabled && n_threads < STATUS_THREADS)
			t->started = pthread_create(&t->t, NULL, status_thread_run, t) == 0;
		n_threads += t->started;
	}
	for (size_t i = 0; i < j->n; i++)
		if (!ts[i].started)
			j->ok[i] = status_one(j->c->d, &j->sts[i], &j->ss[i]);
	for (size_t i = 0; i < j->n; i++)
		if (ts[i].started)
			pthread_join(ts[i].t, NULL);
}

/* On the loop: the objects built before get their status. */
static void status_done(sjob *j)
{
	for (size_t i = 0; i < j->n; i++)
		add_status(j->objs[i], &j->sts[i], j->ok[i], &j->ss[i]);
	pved_call_reply(j->c, TAKE_PTR(j->reply));
}

/* A status job for up to n storages of cfg (which it takes); reply is the answer to fill. */
static sjob *status_job(pved_call *c, pve_sectioncfg *cfg, size_t n, cJSON *reply)
{
	sjob *j = sjob_new(c, cfg);
	j->sts = xcalloc(n ? n : 1, sizeof(*j->sts));
	j->ss = xcalloc(n ? n : 1, sizeof(*j->ss));
	j->ok = xcalloc(n ? n : 1, sizeof(*j->ok));
	j->objs = xcalloc(n ? n : 1, sizeof(*j->objs));
	j->reply = reply;
	j->work = status_work;
	j->done = status_done;
	return j;
}

static void h_node_storage_index(pved_call *c)
{
	pve_sectioncfg *cfg = NULL;
	pve_error *err = NULL;
	if (load_cfg(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	const char *only = pved_call_str(c, "storage"), *target = pved_call_str(c, "target");
	unsigned want = 0;
	if (pved_call_str(c, "content") &&
	    pve_storage_content_parse(pved_call_str(c, "content"), &want, &err) < 0) {
		pve_sectioncfg_free(cfg);
		return pved_call_fail(c, err);
	}
	bool enabled_only = pved_call_int(c, "enabled", 0);
	bool formats = pved_call_int(c, "format", 0);
	cJSON *list = cJSON_CreateArray();
	sjob *j = status_job(c, cfg, pve_sectioncfg_count(cfg), list);
	for (size_t i = 0; i < pve_sectioncfg_count(cfg); i++) {
		const pve_section *s = pve_sectioncfg_nth(cfg, i);
		pve_storage st;
		if (pve_storage_check_section(s, NULL) < 0 ||
		    pve_storage_get(cfg, pve_section_id(s), &st, NULL) < 0)
			continue;
		if ((only && !streq(only, st.id)) || !pve_storage_on_node(&st, c->d->node) ||
		    (enabled_only && st.disabled) || (want && !(st.content & want)) ||
		    (target && !streq(target, c->d->node) && !st.shared) ||
		    !may_see_storage(c, st.id))
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "storage", st.id);
		if (formats) {
			/* as Proxmox: [ {format: 1, ...}, default ] */
			cJSON *f = cJSON_AddArrayToObject(o, "format");
			cJSON *sup = cJSON_CreateObject();
			for (const char *const *p = st.plugin->formats; p && *p; p++)
				cJSON_AddNumberToObject(sup, *p, 1);
			cJSON_AddItemToArray(f, sup);
			const char *def = pve_section_get(s, "format");
			cJSON_AddItemToArray(
				f, cJSON_CreateString(def ? def : st.plugin->default_format));
		}
		cJSON_AddItemToArray(list, o);
		j->sts[j->n] = st;
		j->objs[j->n++] = o;
	}
	sjob_run(j);
}

/* The storage of a /nodes/{node}/storage/{storage}/... call: defined, used on this node. Proxmox's
 * storage_check_node dies for either: a plain 500. */
static int node_storage(pved_call *c, pve_sectioncfg *cfg, pve_storage *st, pve_error **err)
{
	int r = call_storage(c, cfg, st, err);
	if (r < 0) {
		if (r == -ENOENT && err && *err)
			(*err)->code = EIO;
		return -EINVAL;
	}
	if (!pve_storage_on_node(st, c->d->node))
		return pve_error_set(err, EIO, "storage '%s' is not available on node '%s'", st->id,
				     c->d->node);
	load_password(c->d, pve_sectioncfg_find(cfg, st->id));
	return 0;
}

static void h_node_storage_status(pved_call *c)
{
	pve_sectioncfg *cfg = NULL;
	pve_storage st;
	pve_error *err = NULL;
	if (load_cfg(c->d, &cfg, NULL, &err) < 0 || node_storage(c, cfg, &st, &err) < 0) {
		pve_sectioncfg_free(cfg);
		return pved_call_fail(c, err);
	}
	cJSON *o = cJSON_CreateObject();
	sjob *j = status_job(c, cfg, 1, o);
	j->sts[0] = st;
	j->objs[0] = o;
	j->n = 1;
	sjob_run(j);
}

/* An enabled storage for content calls: a job on cfg (which it takes, also on failure) that activates
 * the storage on the worker before its work. NULL and *err set on failure. */
static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

/* The containers of every node (nodes/NODE/lxc/VMID.conf), sorted: a listing calls their disks
 * "rootdir", as Proxmox's vmlist makes it. Read on the loop, before the job. */
static void load_containers(pved *d, long long **ret, size_t *ret_n)
{
	_cleanup_strv_free_ char **nodes = NULL;
	long long *v = NULL;
	size_t n = 0, cap = 0;
	if (pve_store_list(d->store, "nodes", &nodes, NULL) < 0)
		nodes = NULL;
	for (char **node = nodes; node && *node; node++) {
		_cleanup_free_ char *dir = xasprintf("nodes/%s/lxc", *node);
		_cleanup_strv_free_ char **confs = NULL;
		if (pve_store_list(d->store, dir, &confs, NULL) < 0)
			continue;
		for (char **f = confs; *f; f++) {
			const char *dot = strrchr(*f, '.');
			long long vmid;
			if (!dot || !streq(dot, ".conf"))
				continue;
			_cleanup_free_ char *id = xstrndup(*f, (size_t)(dot - *f));
			if (pve_parse_int(id, PVE_VMID_MIN, PVE_VMID_MAX, &vmid) < 0)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				v = xrealloc(v, cap * sizeof(*v));
			}
			v[n++] = vmid;
		}
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_ll);
	*ret = v;
	*ret_n = n;
}

static sjob *content_job(pved_call *c, pve_sectioncfg *cfg, pve_error **err)
{
	pve_storage st;
	if (node_storage(c, cfg, &st, err) < 0) {
		pve_sectioncfg_free(cfg);
		return NULL;
	}
	if (st.disabled) {
		pve_error_set(err, EIO, "storage '%s' is disabled", st.id);
		pve_sectioncfg_free(cfg);
		return NULL;
	}
	sjob *j = sjob_new(c, cfg);
	j->st = st;
	j->activate = true;
	load_containers(c->d, &j->containers, &j->n_containers);
	j->st.containers = j->containers;
	j->st.n_containers = j->n_containers;
	return j;
}

/* ---- the content listing's JSON, printed straight into a buffer: a listing can hold 10,000s of volumes, and
 * a cJSON tree of them (an allocation per value, numbers printed and parsed back to check them) cost more
 * than reading the directories. The output is what cJSON_PrintUnformatted prints for the same values. */

/* Room for n more bytes; the writers below then copy without checking. */
static char *json_room(pve_buf *b, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	return b->data + b->len;
}

static void json_raw(pve_buf *b, const char *s, size_t n)
{
	memcpy(json_room(b, n), s, n);
	b->len += n;
}

/* A JSON string: at most 6 bytes per input byte (\u00XX) plus the quotes. */
static void json_str(pve_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = strlen(s);
	char *o = json_room(b, len * 6 + 2), *start = o;
	*o++ = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char ch = *p;
		if (ch >= 0x20 && ch != '"' && ch != '\\') {
			*o++ = (char)ch;
			continue;
		}
		*o++ = '\\';
		switch (ch) {
		case '"':
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default:
			memcpy(o, "u00", 3);
			o[3] = hex[ch >> 4];
			o[4] = hex[ch & 0xf];
			o += 5;
		}
	}
	*o++ = '"';
	b->len += (size_t)(o - start);
}

static void json_int(pve_buf *b, long long v)
{
	char d[24];
	size_t i = sizeof(d);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do
		d[--i] = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		d[--i] = '-';
	json_raw(b, d + i, sizeof(d) - i);
}

/* ,"key": (keys are literals: nothing to escape) */
#define JSON_KEY(b, key) json_raw(b, ",\"" key "\":", sizeof(key) + 3)

/* One volume with the fields Proxmox's listing has: used only for images, ctime when known, protected
 * only when set, a backup's subtype. */
static void json_volume(pve_buf *b, const pve_volume_info *v)
{
	json_raw(b, "{\"volid\":", 9);
	json_str(b, v->volid);
	JSON_KEY(b, "format");
	json_str(b, v->format);
	JSON_KEY(b, "size");
	json_int(b, (long long)v->size);
	if (v->content & (PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR)) {
		JSON_KEY(b, "used");
		json_int(b, (long long)v->used);
	}
	if (v->ctime) {
		JSON_KEY(b, "ctime");
		json_int(b, (long long)v->ctime);
	}
	if (v->vmid) {
		JSON_KEY(b, "vmid");
		json_int(b, v->vmid);
	}
	JSON_KEY(b, "content");
	json_str(b, pve_storage_content_name(v->content));
	if (v->parent) {
		JSON_KEY(b, "parent");
		json_str(b, v->parent);
	}
	if (v->notes) {
		JSON_KEY(b, "notes");
		json_str(b, v->notes);
	}
	if (v->subtype) {
		JSON_KEY(b, "subtype");
		json_str(b, v->subtype);
	}
	if (v->protected_) {
		JSON_KEY(b, "protected");
		json_int(b, 1);
	}
	json_raw(b, "}", 1);
}

static void content_index_work(sjob *j)
{
	j->r = pve_storage_list_volumes_cached(j->c->d->storage->list_cache, &j->st, j->vmid,
					       j->content, &j->vols, &j->n_vols, &j->err);
}

static void content_index_done(sjob *j)
{
	pved_call *c = j->c;
	pve_storage st = j->st;
	pve_volume_info *v = TAKE_PTR(j->vols);
	size_t n = j->n_vols;
	j->n_vols = 0;
	/* volumes come sorted by volid, so one guest's are together: the guest is asked once */
	volume_access a;
	volume_access_init(&a, c, st.id);
	pve_buf out = { 0 };
	json_room(&out, 160 * n + 2); /* a typical entry's size: no regrowing on the way */
	json_raw(&out, "[", 1);
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		if (!volume_access_ok(&a, v[i].content, v[i].vmid))
			continue;
		if (!first)
			json_raw(&out, ",", 1);
		first = false;
		json_volume(&out, &v[i]);
	}
	json_raw(&out, "]", 1);
	out.data[out.len] = '\0';
	pve_volume_infos_free(v, n);
	pved_call_reply_json(c, out.data, out.len);
	pve_buf_free(&out);
}

static void h_storage_content_index(pved_call *c)
{
	pve_sectioncfg *cfg = NULL;
	pve_error *err = NULL;
	unsigned want = PVE_CONTENT_ALL;
	const char *ct = pved_call_str(c, "content");
	if (ct) {
		want = pve_storage_content_from_name(ct);
		if (!want) {
			pve_error_set_param(&err, EINVAL, "content", "invalid content type '%s'",
					    ct);
			return pved_call_fail(c, err);
		}
	}
	if (load_cfg(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	sjob *j = content_job(c, cfg, &err);
	if (!j)
		return pved_call_fail(c, err);
	j->content = want;
	j->vmid = pved_call_int(c, "vmid", 0);
	j->work = content_index_work;
	j->done = content_index_done;
	sjob_run(j);
}

/* Proxmox's size parameter: KiB, or with M or G. */
static int parse_kib_size(const char *s, uint64_t *ret)
{
	unsigned long long n;
	size_t len = strlen(s);
	unsigned shift = 10;
	if (len && (s[len - 1] == 'M' || s[len - 1] == 'G')) {
		shift = s[len - 1] == 'M' ? 20 : 30;
		len--;
	}
	_cleanup_free_ char *digits = xstrndup(s, len);
	if (pve_parse_uint(digits, UINT64_MAX >> 30, &n) < 0)
		return -EINVAL;
	*ret = (uint64_t)n << shift;
	return 0;
}

static void content_create_work(sjob *j)
{
	j->r = pve_storage_alloc_image(&j->st, j->vmid, j->fmt, j->name, j->size, &j->volname,
				       &j->err);
}

static void content_create_done(sjob *j)
{
	_cleanup_free_ char *volid = xasprintf("%s:%s", j->st.id, j->volname);
	pved_call_reply(j->c, cJSON_CreateString(volid));
}

static void h_storage_content_create(pved_call *c)
{
	pve_error *err = NULL;
	const char *name = pved_call_str(c, "filename"), *fmt = pved_call_str(c, "format");
	uint64_t size;
	if (parse_kib_size(pved_call_str(c, "size"), &size) < 0) {
		pve_error_set_param(&err, EINVAL, "size", "unable to parse size '%s'",
				    pved_call_str(c, "size"));
		return pved_call_fail(c, err);
	}
	const char *dot = strrchr(name, '.');
	if (dot && (streq(dot, ".raw") || streq(dot, ".qcow2") || streq(dot, ".vmdk"))) {
		if (fmt && !streq(fmt, dot + 1)) {
			pve_error_set_param(&err, EINVAL, "format",
					    "different storage formats (%s != %s)", fmt, dot + 1);
			return pved_call_fail(c, err);
		}
		fmt = dot + 1;
	}
	pve_sectioncfg *cfg = NULL;
	if (load_cfg(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	sjob *j = content_job(c, cfg, &err);
	if (!j)
		return pved_call_fail(c, err);
	j->vmid = pved_call_int(c, "vmid", 0);
	j->fmt = fmt ? xstrdup(fmt) : NULL;
	j->name = xstrdup(name);
	j->size = size;
	j->work = content_create_work;
	j->done = content_create_done;
	sjob_run(j);
}

/* {volume}: a full volid (whose storage must be {storage}) or a volume name on {storage}. */
static int call_volume(pved_call *c, pve_sectioncfg *cfg, pve_storage *st, char **ret_volname,
		       pve_volname *ret_parsed, pve_error **err)
{
	const char *vol = pved_call_str(c, "volume"), *sid = pved_call_str(c, "storage");
	_cleanup_free_ char *vsid = NULL, *vname = NULL;
	if (strchr(vol, ':')) {
		if (pve_storage_volid_split(vol, &vsid, &vname, err) < 0) {
			if (err && *err && !(*err)->param)
				(*err)->param = xstrdup("volume");
			return -EINVAL;
		}
		if (sid && !streq(sid, vsid))
			return pve_error_set_param(err, EINVAL, "volume",
						   "volume '%s' is not on storage '%s'", vol, sid);
		cJSON_DeleteItemFromObjectCaseSensitive(c->params, "storage");
		cJSON_AddStringToObject(c->params, "storage", vsid);
	} else {
		vname = xstrdup(vol);
	}
	if (!pved_call_str(c, "storage"))
		return pve_error_set_param(err, EINVAL, "storage", "no storage given");
	if (node_storage(c, cfg, st, err) < 0)
		return -EINVAL;
	if (pve_storage_volume_parse(st, vname, ret_parsed, err) < 0) {
		if (err && *err && !(*err)->param)
			(*err)->param = xstrdup("volume");
		return -EINVAL;
	}
	*ret_volname = TAKE_PTR(vname);
	return 0;
}

/* A job on the call's {volume} (cfg taken, also on failure); NULL and *err set on failure. */
/* A job on the call's volume, once storage.cfg is read and may_touch (the caller's right to it) allows;
 * NULL and *err set otherwise. */
static sjob *volume_job(pved_call *c, int (*may_touch)(pved_call *c, sjob *j, pve_error **err),
			pve_error **err)
{
	pve_sectioncfg *cfg = NULL;
	if (load_cfg(c->d, &cfg, NULL, err) < 0)
		return NULL;
	sjob *j = sjob_new(c, cfg);
	if (call_volume(c, cfg, &j->st, &j->volname, &j->v, err) < 0 || may_touch(c, j, err) < 0) {
		sjob_free(j);
		return NULL;
	}
	return j;
}

/* Proxmox's check_volume_access, for reading or changing one volume. */
static int may_access(pved_call *c, sjob *j, pve_error **err)
{
	return check_volume_access(c, j->st.id, j->volname, &j->v, err);
}

static void content_info_work(sjob *j)
{
	if (pve_storage_path(&j->st, j->volname, NULL, &j->path, &j->err) < 0 ||
	    pve_storage_volume_size(&j->st, j->volname, &j->size, &j->used, &j->fmt, &j->err) < 0 ||
	    pve_storage_get_attribute(&j->st, j->volname, "notes", &j->notes, &j->err) < 0 ||
	    pve_storage_get_attribute(&j->st, j->volname, "protected", &j->prot, &j->err) < 0)
		j->r = -EIO;
}

static void content_info_done(sjob *j)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", j->path);
	cJSON_AddNumberToObject(o, "size", (double)j->size);
	cJSON_AddNumberToObject(o, "used", (double)j->used);
	cJSON_AddStringToObject(o, "format", j->fmt ? j->fmt : "raw");
	if (j->notes)
		cJSON_AddStringToObject(o, "notes", j->notes);
	if (j->prot)
		cJSON_AddNumberToObject(o, "protected", streq(j->prot, "1"));
	pved_call_reply(j->c, o);
}

static void h_storage_content_info(pved_call *c)
{
	pve_error *err = NULL;
	sjob *j = volume_job(c, may_access, &err);
	if (!j)
		return pved_call_fail(c, err);
	j->work = content_info_work;
	j->done = content_info_done;
	sjob_run(j);
}

static void content_update_work(sjob *j)
{
	if ((j->set_notes &&
	     pve_storage_set_attribute(&j->st, j->volname, "notes", j->notes, &j->err) < 0) ||
	    (j->set_prot &&
	     pve_storage_set_attribute(&j->st, j->volname, "protected", j->prot, &j->err) < 0))
		j->r = -EIO;
}

static void content_update_done(sjob *j)
{
	pved_call_reply(j->c, NULL);
}

static void h_storage_content_update(pved_call *c)
{
	pve_error *err = NULL;
	sjob *j = volume_job(c, may_access, &err);
	if (!j)
		return pved_call_fail(c, err);
	j->set_notes = pved_call_has(c, "notes");
	/* notes set to "" clear them, as before: the plugin takes the value as given */
	j->notes = j->set_notes && pved_call_str(c, "notes") ? xstrdup(pved_call_str(c, "notes")) :
							       NULL;
	j->set_prot = pved_call_has(c, "protected");
	j->prot = j->set_prot ? xstrdup(pved_call_int(c, "protected", 0) ? "1" : "0") : NULL;
	j->work = content_update_work;
	j->done = content_update_done;
	sjob_run(j);
}

/* The task: storage.cfg is read again, as the definition may have changed since the call.
 * args: {storage, volname} */
static int imgdel_task(pved *d, const cJSON *args, pve_error **err)
{
	const cJSON *jst = cJSON_GetObjectItemCaseSensitive(args, "storage");
	const cJSON *jvol = cJSON_GetObjectItemCaseSensitive(args, "volname");
	if (!cJSON_IsString(jst) || !cJSON_IsString(jvol))
		return pve_error_set(err, EINVAL, "the task lacks its storage or volume");
	const struct {
		const char *storage, *volname;
	} t_ = { jst->valuestring, jvol->valuestring }, *t = &t_;
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	pve_storage st;
	if (load_cfg(d, &cfg, NULL, err) < 0 || pve_storage_get(cfg, t->storage, &st, err) < 0 ||
	    pve_storage_free_image(&st, t->volname, err) < 0)
		return -EIO;
	printf("Removed volume '%s:%s'\n", t->storage, t->volname);
	return 0;
}

/* What the task would find out, said now: a missing or protected volume. */
static void content_delete_work(sjob *j)
{
	if (pve_storage_path(&j->st, j->volname, NULL, &j->path, &j->err) < 0) {
		j->r = -EINVAL;
		return;
	}
	/* A path can be a URL (iscsidirect): then the task finds out. */
	if (j->path[0] == '/' && access(j->path, F_OK) < 0) {
		j->r = pve_error_set(&j->err, ENOENT, "volume '%s:%s' does not exist", j->st.id,
				     j->volname);
		return;
	}
	/* A type that keeps no attributes has no protected volumes. */
	if (j->st.plugin->get_attribute &&
	    pve_storage_get_attribute(&j->st, j->volname, "protected", &j->prot, &j->err) < 0) {
		j->r = -EIO;
		return;
	}
	if (j->prot && streq(j->prot, "1"))
		j->r = pve_error_set_param(&j->err, EINVAL, "volume", "volume '%s:%s' is protected",
					   j->st.id, j->volname);
}

static void content_delete_done(sjob *j)
{
	pve_error *err = NULL;
	_cleanup_free_ char *id = j->v.vmid ? xasprintf("%lld@%s", j->v.vmid, j->st.id) :
					      xstrdup(j->st.id);
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "storage", j->st.id);
	cJSON_AddStringToObject(args, "volname", j->volname);
	_cleanup_free_ char *upid = NULL;
	if (pved_task_start(j->c->d, "imgdel", id, j->c->authid, args, &upid, &err) < 0)
		return pved_call_fail(j->c, err);
	pved_call_reply(j->c, cJSON_CreateString(upid));
}

/* Proxmox's delete: a guest's backup goes with Datastore.AllocateSpace and VM.Backup on the guest
 * (Datastore.Allocate alone does not do), anything else with Datastore.Allocate. That implies
 * check_volume_access, which Proxmox does not call here. */
static int may_delete(pved_call *c, sjob *j, pve_error **err)
{
	_cleanup_free_ char *spath = xasprintf("/storage/%s", j->st.id);
	_cleanup_free_ char *vpath = xasprintf("/vms/%lld", j->v.vmid);
	bool backup = j->v.vtype == PVE_CONTENT_BACKUP && j->v.vmid;
	if (backup && !pved_call_permitted(c, spath, "Datastore.AllocateSpace"))
		return pve_error_set(err, EACCES,
				     "Permission check failed (%s, Datastore.AllocateSpace)",
				     spath);
	if (backup && !pved_call_permitted(c, vpath, "VM.Backup"))
		return pve_error_set(err, EACCES, "Permission check failed (%s, VM.Backup)", vpath);
	if (!backup && !pved_call_permitted(c, spath, "Datastore.Allocate"))
		return pve_error_set(err, EACCES,
				     "Permission check failed (%s, Datastore.Allocate)", spath);
	return 0;
}

static void h_storage_content_delete(pved_call *c)
{
	pve_error *err = NULL;
	sjob *j = volume_job(c, may_delete, &err);
	if (!j)
		return pved_call_fail(c, err);
	j->work = content_delete_work;
	j->done = content_delete_done;
	sjob_run(j);
}

/* ---- prune-backups: /nodes/{node}/storage/{storage}/prunebackups, as Proxmox's PruneBackups.pm ---- */

/* What Proxmox's prune_backups checks before it lists: the storage holds backups, and there are
 * retention options (the call's, else the storage's prune-backups). */
static int prune_options(sjob *j, const char *given, pve_error **err)
{
	if (given && pve_storage_prune_parse(given, &j->keep, err) < 0)
		return -EINVAL;
	if (!(j->st.content & PVE_CONTENT_BACKUP))
		return pve_error_set_param(err, EINVAL, "storage",
					   "storage '%s' does not support backups", j->st.id);
	if (given)
		return 0;
	const char *opt = pve_section_get(j->st.section, "prune-backups");
	if (!opt)
		return pve_error_set_param(err, EINVAL, "prune-backups",
					   "no prune-backups options configured for storage '%s'",
					   j->st.id);
	return pve_storage_prune_parse(opt, &j->keep, err);
}

/* A prune job on the call's storage, its options checked; NULL and *err set on failure. */
static sjob *prune_job(pved_call *c, pve_error **err)
{
	pve_sectioncfg *cfg = NULL;
	if (load_cfg(c->d, &cfg, NULL, err) < 0)
		return NULL;
	sjob *j = content_job(c, cfg, err);
	if (!j)
		return NULL;
	j->vmid = pved_call_int(c, "vmid", 0);
	j->type = pved_call_str(c, "type") ? xstrdup(pved_call_str(c, "type")) : NULL;
	if (prune_options(j, pved_call_str(c, "prune-backups"), err) < 0) {
		sjob_free(j);
		return NULL;
	}
	return j;
}

static void prune_dryrun_work(sjob *j)
{
	j->r = pve_storage_prune_backups(&j->st, &j->keep, j->vmid, j->type, true, NULL, &j->prune,
					 &j->n_prune, &j->err);
}

static void prune_dryrun_done(sjob *j)
{
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < j->n_prune; i++) {
		const pve_prune_entry *e = &j->prune[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "volid", e->volid);
		cJSON_AddNumberToObject(o, "ctime", (double)e->ctime);
		cJSON_AddStringToObject(o, "mark", pve_prune_mark_name(e->mark));
		cJSON_AddStringToObject(o, "type", e->type);
		if (e->vmid)
			cJSON_AddNumberToObject(o, "vmid", (double)e->vmid);
		cJSON_AddItemToArray(list, o);
	}
	pved_call_reply(j->c, list);
}

/* The route checks Datastore.Audit or Datastore.AllocateSpace: what would go is no secret to whoever
 * may look at the storage. */
static void h_prunebackups_dryrun(pved_call *c)
{
	pve_error *err = NULL;
	sjob *j = prune_job(c, &err);
	if (!j)
		return pved_call_fail(c, err);
	j->work = prune_dryrun_work;
	j->done = prune_dryrun_done;
	sjob_run(j);
}

/* The task: storage.cfg read again, the storage activated, the backups listed, marked and removed;
 * each removal in the log. args: {storage, vmid?, type?, prune-backups?} */
static int prune_task(pved *d, const cJSON *args, pve_error **err)
{
	const char *sid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, "storage"));
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, "type"));
	const char *given =
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, "prune-backups"));
	const cJSON *jv = cJSON_GetObjectItemCaseSensitive(args, "vmid");
	long long vmid = cJSON_IsNumber(jv) ? (long long)jv->valuedouble : 0;
	if (!sid)
		return pve_error_set(err, EINVAL, "the task lacks its storage");
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	pve_storage st;
	pve_prune_keep keep;
	if (load_cfg(d, &cfg, NULL, err) < 0 || pve_storage_get(cfg, sid, &st, err) < 0)
		return -EIO;
	if (st.disabled)
		return pve_error_set(err, EINVAL, "storage '%s' is disabled", sid);
	if (given && pve_storage_prune_parse(given, &keep, err) < 0)
		return -EINVAL;
	if (pve_storage_activate(&st, err) < 0)
		return -EIO;
	return pve_storage_prune_backups(&st, given ? &keep : NULL, vmid, type, false, stdout, NULL,
					 NULL, err);
}

/* Proxmox's rule: with a guest, Datastore.AllocateSpace on the storage and VM.Backup on the guest;
 * without, Datastore.Allocate on the storage. */
static int may_prune(pved_call *c, pve_error **err)
{
	_cleanup_free_ char *spath = xasprintf("/storage/%s", pved_call_str(c, "storage"));
	long long vmid = pved_call_int(c, "vmid", 0);
	if (vmid) {
		_cleanup_free_ char *vpath = xasprintf("/vms/%lld", vmid);
		if (!pved_call_permitted(c, spath, "Datastore.AllocateSpace"))
			return pve_error_set(
				err, EACCES,
				"Permission check failed (%s, Datastore.AllocateSpace)", spath);
		if (!pved_call_permitted(c, vpath, "VM.Backup"))
			return pve_error_set(err, EACCES, "Permission check failed (%s, VM.Backup)",
					     vpath);
		return 0;
	}
	if (!pved_call_permitted(c, spath, "Datastore.Allocate"))
		return pve_error_set(err, EACCES,
				     "Permission check failed (%s, Datastore.Allocate)", spath);
	return 0;
}

static void h_prunebackups_delete(pved_call *c)
{
	pve_error *err = NULL;
	pve_prune_keep keep;
	const char *given = pved_call_str(c, "prune-backups");
	/* a bad option is the caller's 400 before the permission check, as in Proxmox */
	if ((given && pve_storage_prune_parse(given, &keep, &err) < 0) || may_prune(c, &err) < 0)
		return pved_call_fail(c, err);
	sjob *j = prune_job(c, &err);
	if (!j)
		return pved_call_fail(c, err);
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "storage", j->st.id);
	if (j->vmid)
		cJSON_AddNumberToObject(args, "vmid", (double)j->vmid);
	if (j->type)
		cJSON_AddStringToObject(args, "type", j->type);
	if (given)
		cJSON_AddStringToObject(args, "prune-backups", given);
	_cleanup_free_ char *id = j->vmid ? xasprintf("%lld@%s", j->vmid, j->st.id) :
					    xstrdup(j->st.id);
	_cleanup_free_ char *upid = NULL;
	int r = pved_task_start(c->d, "prunebackups", id, c->authid, args, &upid, &err);
	sjob_free(j);
	if (r < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

const pved_task_kind pved_tasks_storage[] = {
	{ "imgdel", imgdel_task },
	{ "prunebackups", prune_task },
	{ NULL, NULL },
};

const pved_handler pved_handlers_storage[] = {
	{ "storage_index", h_storage_index },
	{ "storage_create", h_storage_create },
	{ "storage_read", h_storage_read },
	{ "storage_update", h_storage_update },
	{ "storage_delete", h_storage_delete },
	{ "node_storage_index", h_node_storage_index },
	{ "node_storage_status", h_node_storage_status },
	{ "storage_content_index", h_storage_content_index },
	{ "storage_content_create", h_storage_content_create },
	{ "storage_content_info", h_storage_content_info },
	{ "storage_content_update", h_storage_content_update },
	{ "storage_content_delete", h_storage_content_delete },
	{ "storage_prunebackups_dryrun", h_prunebackups_dryrun },
	{ "storage_prunebackups_delete", h_prunebackups_delete },
	{ NULL, NULL },
};

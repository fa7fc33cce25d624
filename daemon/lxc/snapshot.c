/* Container snapshots as Proxmox's: a [snapname] section holding the config as it was (with snaptime and
 * its parent), `parent:` in the main section naming the newest, each volume snapshotted by its storage
 * (btrfs subvolumes can; a raw image on a dir storage cannot: "snapshot feature is not available"). A
 * running container is frozen while its volumes are snapshotted. vzsnapshot, vzrollback and
 * vzdelsnapshot are tasks; the list and a snapshot's config are answered on the loop. */
#include <cjson/cJSON.h>
#include <time.h>

#include "daemon/core/guest.h"
#include "daemon/lxc/lxc-internal.h"

static bool family(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(key, prefix, n) == 0 && key[n] >= '0' && key[n] <= '9';
}

static bool is_snapshot(const char *section)
{
	return section && !streq(section, CT_SECTION_PENDING);
}

/* The storage volumes a section's rootfs and mount points use. */
static char **section_volumes(const pve_config *c, const char *section)
{
	char **v = strv_new();
	_cleanup_strv_free_ char **keys = pve_config_keys(c, section);
	for (char **k = keys; *k; k++) {
		if (!streq(*k, "rootfs") && !family(*k, "mp"))
			continue;
		_cleanup_free_ char *vol = ct_mp_volume(pve_config_get(c, section, *k));
		if (ct_volume_is_storage(vol) && !strv_contains(v, vol))
			strv_push(&v, TAKE_PTR(vol));
	}
	return v;
}

typedef enum { SNAP_MAKE, SNAP_ROLLBACK, SNAP_DELETE } snap_op;

static int volume_op(pved *d, const pve_sectioncfg *scfg, const char *vol, const char *snap,
		     snap_op op, pve_error **err)
{
	pve_storage st;
	_cleanup_free_ char *volname = NULL;
	int r = ct_volume_storage(d, scfg, vol, &st, &volname, err);
	if (r >= 0)
		r = pve_storage_activate(&st, err);
	if (r < 0)
		return r;
	switch (op) {
	case SNAP_MAKE:
		return pve_storage_volume_snapshot(&st, volname, snap, err);
	case SNAP_ROLLBACK:
		return pve_storage_volume_snapshot_rollback(&st, volname, snap, err);
	case SNAP_DELETE:
		return pve_storage_volume_snapshot_delete(&st, volname, snap, err);
	}
	return 0;
}

static bool volume_can_snapshot(pved *d, const pve_sectioncfg *scfg, const char *vol)
{
	pve_storage st;
	_cleanup_free_ char *volname = NULL;
	pve_error *e = NULL;
	bool ok = ct_volume_storage(d, scfg, vol, &st, &volname, &e) == 0 &&
		  pve_storage_volume_has_feature(&st, PVE_FEATURE_SNAPSHOT, volname, NULL);
	pve_error_free(e);
	return ok;
}

static int need_snapshot(const pve_config *c, const char *snap, pve_error **err)
{
	if (!is_snapshot(snap) || !pve_config_has_section(c, snap))
		return pve_error_set(err, EINVAL, "snapshot '%s' does not exist", snap);
	return 0;
}

/* ---- the tasks ---------------------------------------------------------------------------------------- */

static int task_snapshot(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0;
	pve_json_int(args, "vmid", &vmid);
	const char *snap = pve_json_str(args, "snapname"),
		   *desc = pve_json_str(args, "description");
	_cleanup_close_ int lock = -1;
	int r = ct_lock_wait(d, vmid, &lock, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	if ((r = ct_conf_load(d, vmid, &c, digest, err)) < 0 ||
	    (r = ct_conf_check_lock(c, err)) < 0)
		return r;
	if (pve_config_has_section(c, snap))
		return pve_error_set(err, EINVAL, "snapshot name '%s' already used", snap);
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	if ((r = ct_storage_cfg(d, &scfg, err)) < 0)
		return r;
	_cleanup_strv_free_ char **vols = section_volumes(c, NULL);
	for (char **v = vols; *v; v++)
		if (!volume_can_snapshot(d, scfg, *v))
			return pve_error_set(err, EINVAL, "snapshot feature is not available");
	pve_config_set(c, NULL, "lock", "snapshot");
	if ((r = ct_conf_write(d, vmid, c, digest, err)) < 0)
		return r;
	bool running = ct_running(d, vmid, NULL);
	_cleanup_free_ char *run = ct_run_dir(d);
	/* a consistent file system: nothing in the container writes while its volumes are taken */
	if (running)
		(void)lxc_freeze(run, vmid, true, NULL);
	size_t made = 0;
	for (; vols[made]; made++) {
		printf("snapshotting '%s'\n", vols[made]);
		if ((r = volume_op(d, scfg, vols[made], snap, SNAP_MAKE, err)) < 0)
			break;
	}
	if (running)
		(void)lxc_freeze(run, vmid, false, NULL);
	pve_config_delete(c, NULL, "lock");
	if (r < 0) {
		for (size_t i = 0; i < made; i++)
			(void)volume_op(d, scfg, vols[i], snap, SNAP_DELETE, NULL);
		(void)ct_conf_write(d, vmid, c, NULL, NULL);
		return r;
	}
	/* the section: the main one as it is (not its lock, pending changes or description) */
	_cleanup_strv_free_ char **keys = pve_config_keys(c, NULL);
	for (char **k = keys; *k; k++) {
		_cleanup_strv_free_ char **all = pve_config_get_all(c, NULL, *k);
		for (char **v = all; *v; v++)
			pve_config_add(c, snap, *k, *v);
	}
	char now[32];
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	pve_config_set(c, snap, "snaptime", now);
	if (desc && *desc)
		pve_config_set_description(c, snap, desc);
	pve_config_set(c, NULL, "parent", snap);
	return ct_conf_write(d, vmid, c, NULL, err);
}

static int task_rollback(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0;
	pve_json_int(args, "vmid", &vmid);
	const char *snap = pve_json_str(args, "snapname");
	_cleanup_close_ int lock = -1;
	int r = ct_lock_wait(d, vmid, &lock, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c = NULL;
	if ((r = ct_conf_load(d, vmid, &c, NULL, err)) < 0 ||
	    (r = ct_conf_check_lock(c, err)) < 0 || (r = need_snapshot(c, snap, err)) < 0)
		return r;
	if (ct_running(d, vmid, NULL)) {
		printf("stopping CT %lld for the rollback\n", vmid);
		if ((r = ct_stop(d, vmid, true, 0, err)) < 0)
			return r;
	}
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	if ((r = ct_storage_cfg(d, &scfg, err)) < 0)
		return r;
	_cleanup_strv_free_ char **vols = section_volumes(c, snap);
	for (char **v = vols; *v; v++) {
		printf("rolling back '%s' to '%s'\n", *v, snap);
		if ((r = volume_op(d, scfg, *v, snap, SNAP_ROLLBACK, err)) < 0)
			return r;
	}
	/* the main section becomes the snapshot's, its parent the snapshot */
	_cleanup_strv_free_ char **cur = pve_config_keys(c, NULL);
	for (char **k = cur; *k; k++)
		pve_config_delete(c, NULL, *k);
	pve_config_set_description(c, NULL, NULL);
	_cleanup_strv_free_ char **keys = pve_config_keys(c, snap);
	for (char **k = keys; *k; k++) {
		if (streq(*k, "snaptime") || streq(*k, "snapstate"))
			continue;
		_cleanup_strv_free_ char **all = pve_config_get_all(c, snap, *k);
		for (char **v = all; *v; v++)
			pve_config_add(c, NULL, *k, *v);
	}
	pve_config_set(c, NULL, "parent", snap);
	pve_config_delete_section(c, CT_SECTION_PENDING);
	if ((r = ct_conf_write(d, vmid, c, NULL, err)) < 0)
		return r;
	const cJSON *start = cJSON_GetObjectItemCaseSensitive(args, "start");
	if ((cJSON_IsNumber(start) && start->valuedouble != 0) || cJSON_IsTrue(start))
		return ct_start(d, vmid, false, err);
	return 0;
}

static int task_delsnapshot(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0;
	pve_json_int(args, "vmid", &vmid);
	const char *snap = pve_json_str(args, "snapname");
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(args, "force");
	bool force = (cJSON_IsNumber(f) && f->valuedouble != 0) || cJSON_IsTrue(f);
	_cleanup_close_ int lock = -1;
	int r = ct_lock_wait(d, vmid, &lock, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c = NULL;
	if ((r = ct_conf_load(d, vmid, &c, NULL, err)) < 0 || (r = need_snapshot(c, snap, err)) < 0)
		return r;
	if (!force && (r = ct_conf_check_lock(c, err)) < 0)
		return r;
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	if ((r = ct_storage_cfg(d, &scfg, err)) < 0)
		return r;
	_cleanup_strv_free_ char **vols = section_volumes(c, snap);
	for (char **v = vols; *v; v++) {
		pve_error *e = NULL;
		if (volume_op(d, scfg, *v, snap, SNAP_DELETE, &e) < 0) {
			if (!force) {
				*err = e;
				return -e->code;
			}
			pved_task_warn("%s", e->message);
			pve_error_free(e);
		}
	}
	/* whoever had this snapshot as parent gets its parent */
	const char *up = pve_config_get(c, snap, "parent");
	_cleanup_free_ char *grand = up ? xstrdup(up) : NULL;
	_cleanup_strv_free_ char **sections = pve_config_sections(c);
	for (ssize_t i = -1; i < (ssize_t)strv_length(sections); i++) {
		const char *sec = i < 0 ? NULL : sections[i];
		if (!streq_ptr(pve_config_get(c, sec, "parent"), snap))
			continue;
		if (grand)
			pve_config_set(c, sec, "parent", grand);
		else
			pve_config_delete(c, sec, "parent");
	}
	pve_config_delete_section(c, snap);
	return ct_conf_write(d, vmid, c, NULL, err);
}

/* ---- the handlers ------------------------------------------------------------------------------------- */

static void start_task(pved_call *c, const char *type)
{
	pve_error *err = NULL;
	long long vmid = pved_call_int(c, "vmid", 0);
	_cleanup_config_ pve_config *conf = NULL;
	if (ct_conf_load(c->d, vmid, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	const char *snap = pved_call_str(c, "snapname");
	if (!streq(type, "vzsnapshot") && need_snapshot(conf, snap, &err) < 0)
		return pved_call_fail(c, err);
	if (streq(type, "vzsnapshot") && streq(snap, "current")) {
		pve_error_set_param(&err, EINVAL, "snapname", "invalid snapshot name 'current'");
		return pved_call_fail(c, err);
	}
	char id[32];
	snprintf(id, sizeof(id), "%lld", vmid);
	_cleanup_free_ char *upid = NULL;
	if (pved_task_start(c->d, type, id, c->authid, cJSON_Duplicate(c->params, true), &upid,
			    &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

static void h_snapshot(pved_call *c)
{
	start_task(c, "vzsnapshot");
}

static void h_rollback(pved_call *c)
{
	start_task(c, "vzrollback");
}

static void h_delete(pved_call *c)
{
	start_task(c, "vzdelsnapshot");
}

static void h_list(pved_call *c)
{
	pve_error *err = NULL;
	long long vmid = pved_call_int(c, "vmid", 0);
	_cleanup_config_ pve_config *conf = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	if (ct_conf_load(c->d, vmid, &conf, digest, &err) < 0)
		return pved_call_fail(c, err);
	cJSON *a = cJSON_CreateArray();
	_cleanup_strv_free_ char **sections = pve_config_sections(conf);
	for (char **s = sections; *s; s++) {
		if (!is_snapshot(*s))
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", *s);
		long long t = ct_conf_int(conf, *s, "snaptime", 0);
		if (t)
			cJSON_AddNumberToObject(o, "snaptime", (double)t);
		const char *parent = pve_config_get(conf, *s, "parent");
		if (parent)
			cJSON_AddStringToObject(o, "parent", parent);
		_cleanup_free_ char *desc = pve_config_get_description(conf, *s);
		cJSON_AddStringToObject(o, "description", desc ? desc : "");
		cJSON_AddItemToArray(a, o);
	}
	cJSON *cur = cJSON_CreateObject();
	cJSON_AddStringToObject(cur, "name", "current");
	cJSON_AddStringToObject(cur, "digest", digest);
	cJSON_AddNumberToObject(cur, "running", ct_running(c->d, vmid, NULL) ? 1 : 0);
	cJSON_AddStringToObject(cur, "description", "You are here!");
	const char *parent = pve_config_get(conf, NULL, "parent");
	if (parent)
		cJSON_AddStringToObject(cur, "parent", parent);
	cJSON_AddItemToArray(a, cur);
	pved_call_reply(c, a);
}

static void h_config_get(pved_call *c)
{
	pve_error *err = NULL;
	long long vmid = pved_call_int(c, "vmid", 0);
	const char *snap = pved_call_str(c, "snapname");
	_cleanup_config_ pve_config *conf = NULL;
	if (ct_conf_load(c->d, vmid, &conf, NULL, &err) < 0 || need_snapshot(conf, snap, &err) < 0)
		return pved_call_fail(c, err);
	cJSON *o = cJSON_CreateObject();
	_cleanup_strv_free_ char **keys = pve_config_keys(conf, snap);
	for (char **k = keys; *k; k++)
		if (!startswith(*k, "lxc."))
			cJSON_AddStringToObject(o, *k, pve_config_get(conf, snap, *k));
	_cleanup_free_ char *desc = pve_config_get_description(conf, snap);
	if (desc)
		cJSON_AddStringToObject(o, "description", desc);
	pved_call_reply(c, o);
}

typedef struct desc_job {
	pved_call *c;
	long long vmid;
	char *snap, *desc;
} desc_job;

static void desc_locked(pved *d, int fd, pve_error *err, void *ud)
{
	desc_job *j = ud;
	if (fd >= 0) {
		_cleanup_config_ pve_config *conf = NULL;
		char digest[PVE_STORE_DIGEST_LEN + 1];
		if (ct_conf_load(d, j->vmid, &conf, digest, &err) == 0 &&
		    need_snapshot(conf, j->snap, &err) == 0) {
			pve_config_set_description(conf, j->snap, j->desc);
			(void)ct_conf_write(d, j->vmid, conf, digest, &err);
		}
		close(fd);
	}
	if (err)
		pved_call_fail(j->c, err);
	else
		pved_call_reply(j->c, NULL);
	free(j->snap);
	free(j->desc);
	free(j);
}

static void h_config_put(pved_call *c)
{
	desc_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	j->vmid = pved_call_int(c, "vmid", 0);
	j->snap = xstrdup(pved_call_str(c, "snapname"));
	const char *desc = pved_call_str(c, "description");
	j->desc = desc ? xstrdup(desc) : NULL;
	_cleanup_free_ char *lock = ct_lock_path(c->d, j->vmid);
	pved_guest_lock_async(c->d, lock, CT_LOCK_TIMEOUT_MS, desc_locked, j);
}

const pved_task_kind pved_tasks_lxc_snapshot[] = {
	{ "vzsnapshot", task_snapshot },
	{ "vzrollback", task_rollback },
	{ "vzdelsnapshot", task_delsnapshot },
	{ NULL, NULL },
};

const pved_handler pved_handlers_lxc_snapshot[] = {
	{ "lxc_snapshot_list", h_list },
	{ "lxc_snapshot", h_snapshot },
	{ "lxc_delsnapshot", h_delete },
	{ "lxc_rollback", h_rollback },
	{ "lxc_snapshot_config_get", h_config_get },
	{ "lxc_snapshot_config_put", h_config_put },
	{ NULL, NULL },
};

/* The container list (GET /nodes/{node}/lxc) and destroying a container (DELETE .../{vmid}: the checks
 * on the loop, then a vzdestroy task that frees the volumes and removes the config). */
#include <cjson/cJSON.h>

#include "daemon/core/guest.h"
#include "daemon/lxc/lxc-internal.h"

static void h_list(pved_call *c)
{
	pved *d = c->d;
	pved_guest_audit audit;
	pved_guest_audit_init(&audit, c);
	pve_buf b = { 0 };
	pve_buf_puts(&b, "[");
	bool first = true;
	for (size_t i = 0; d->lxc && i < d->lxc->n; i++) {
		ct_entry *ct = d->lxc->cts[i];
		if (!pved_guest_audit_may(&audit, ct->vmid))
			continue;
		if (!first)
			pve_buf_puts(&b, ",");
		first = false;
		pve_buf_puts(&b, ct_list_json(d, ct));
	}
	pve_buf_puts(&b, "]");
	pved_call_reply_json(c, b.data, b.len);
	pve_buf_free(&b);
}

static void h_destroy(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	if (ct_conf_load(d, vmid, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	if (ct_conf_bool(conf, NULL, "protection", false)) {
		pve_error_set(&err, EINVAL, "can't remove CT %lld - protection mode enabled", vmid);
		return pved_call_fail(c, err);
	}
	if (ct_conf_check_lock(conf, &err) < 0)
		return pved_call_fail(c, err);
	if (ct_running(d, vmid, NULL) && !pved_call_int(c, "force", 0)) {
		pve_error_set(&err, EINVAL, "unable to destroy CT %lld - container is running",
			      vmid);
		return pved_call_fail(c, err);
	}
	_cleanup_free_ char *id = xasprintf("%lld", vmid), *upid = NULL;
	if (pved_task_start(d, "vzdestroy", id, c->authid, cJSON_Duplicate(c->params, true), &upid,
			    &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

static bool arg_true(const cJSON *args, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);
	return (cJSON_IsNumber(v) && v->valuedouble != 0) || cJSON_IsTrue(v);
}

static int task_destroy(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0;
	pve_json_int(args, "vmid", &vmid);
	_cleanup_close_ int lock = -1;
	int r = ct_lock_wait(d, vmid, &lock, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c = NULL;
	r = ct_conf_load(d, vmid, &c, NULL, err);
	if (r < 0)
		return r;
	if ((r = ct_conf_check_lock(c, err)) < 0)
		return r;
	if (ct_conf_bool(c, NULL, "protection", false))
		return pve_error_set(err, EINVAL, "can't remove CT %lld - protection mode enabled",
				     vmid);
	if (ct_running(d, vmid, NULL)) {
		if (!arg_true(args, "force"))
			return pve_error_set(err, EINVAL,
					     "unable to destroy CT %lld - container is running",
					     vmid);
		/* force: Proxmox stops it first */
		r = ct_stop(d, vmid, true, 0, err);
		if (r < 0)
			return r;
	}
	ct_unmount_all(d, vmid);
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	r = ct_storage_cfg(d, &scfg, err);
	if (r < 0)
		return r;
	_cleanup_strv_free_ char **vols = ct_conf_volumes(c, vmid);
	size_t w = 0;
	for (size_t i = 0; vols[i]; i++) {
		if (pved_guest_volume_owned(scfg, vols[i], vmid))
			vols[w++] = vols[i];
		else
			free(vols[i]);
	}
	vols[w] = NULL;
	/* Proxmox's vdisk_free fails the destroy on a base image a linked clone uses; here before
	 * anything is freed */
	r = pved_guest_check_bases_unused(d, scfg, vols, true, NULL, err);
	if (r < 0)
		return r;
	ct_volumes_free(d, scfg, vols, true);
	if (arg_true(args, "destroy-unreferenced-disks")) {
		for (size_t i = 0; i < pve_sectioncfg_count(scfg); i++) {
			pve_storage st;
			const char *sid = pve_section_id(pve_sectioncfg_nth(scfg, i));
			if (pve_storage_get(scfg, sid, &st, NULL) < 0 || st.disabled ||
			    !pve_storage_on_node(&st, d->node) ||
			    !(st.content & (PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR)))
				continue;
			pve_volume_info *list = NULL;
			size_t n = 0;
			pve_error *e = NULL;
			if (pve_storage_activate(&st, &e) < 0 ||
			    pve_storage_list_volumes(&st, vmid, PVE_CONTENT_ROOTDIR, &list, &n,
						     &e) < 0) {
				pved_task_warn("can't list storage '%s': %s", sid, e->message);
				pve_error_free(e);
				continue;
			}
			char **extra = xcalloc(n + 1, sizeof(char *));
			for (size_t k = 0; k < n; k++)
				extra[k] = xstrdup(list[k].volid);
			ct_volumes_free(d, scfg, extra, true);
			strv_free(extra);
			pve_volume_infos_free(list, n);
		}
	}
	_cleanup_free_ char *path = ct_conf_path(d, vmid);
	r = pve_store_delete(d->store, path, err);
	if (r < 0)
		return r;
	if (arg_true(args, "purge")) {
		if (pved_guest_pools_remove(d, vmid))
			printf("removed CT %lld from its pool\n", vmid);
		_cleanup_free_ char *fw = xasprintf("firewall/%lld.fw", vmid);
		if (pve_store_delete(d->store, fw, NULL) == 0)
			printf("removed the container's firewall config\n");
	}
	printf("destroyed CT %lld\n", vmid);
	return 0;
}

const pved_task_kind pved_tasks_lxc_destroy[] = {
	{ "vzdestroy", task_destroy },
	{ NULL, NULL },
};

const pved_handler pved_handlers_lxc_destroy[] = {
	{ "lxc_vmlist", h_list },
	{ "lxc_destroy", h_destroy },
	{ NULL, NULL },
};

/* Creating and destroying VMs. POST /nodes/{node}/qemu checks everything it can on the loop (keys,
 * values, storages, bridges, privileges, a free vmid), reserves the vmid with a config that holds only
 * `lock: create`, and starts a qmcreate task that allocates and imports the disks and writes the config;
 * a failed create frees what it allocated and leaves no config. DELETE runs a qmdestroy task. */
#include <cjson/cJSON.h>
#include <time.h>

#include "access/access.h"
#include "daemon/core/guest.h"
#include "daemon/qemu/qemu-internal.h"

#define QEMU_BINARY "/usr/bin/qemu-system-x86_64"

char *qemu_vmid_owner(pved *d, long long vmid)
{
	return pved_guest_owner(d, vmid);
}

bool qemu_pool_exists(pved *d, const char *pool)
{
	return pved_guest_pool_exists(d, pool);
}

static void h_create(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	const char *pool = pved_call_str(c, "pool"), *storage = pved_call_str(c, "storage");
	bool start = pved_call_int(c, "start", 0) != 0;
	pve_error *err = NULL;
	if (pved_call_has(c, "archive")) {
		pve_error_set_param(&err, EINVAL, "archive",
				    "restoring backups is not supported by pved yet");
		return pved_call_fail(c, err);
	}
	if (pved_call_int(c, "ha-managed", 0)) {
		pve_error_set_param(&err, EINVAL, "ha-managed", "HA is not supported by pved yet");
		return pved_call_fail(c, err);
	}
	if (pved_call_int(c, "live-restore", 0)) {
		pve_error_set_param(&err, EINVAL, "live-restore",
				    "live-restore needs a backup archive to restore");
		return pved_call_fail(c, err);
	}
	if (pool && !qemu_pool_exists(d, pool)) {
		pve_error_set_param(&err, EINVAL, "pool", "pool '%s' does not exist", pool);
		return pved_call_fail(c, err);
	}
	if (storage && pved_guest_check_space(c, storage, &err) < 0)
		return pved_call_fail(c, err);
	char acl[64];
	snprintf(acl, sizeof(acl), "/vms/%lld", vmid);
	_cleanup_free_ char *pacl = pool ? xasprintf("/pool/%s", pool) : NULL;
	if (start && !pved_call_permitted(c, acl, "VM.PowerMgmt") &&
	    !(pacl && pved_call_permitted(c, pacl, "VM.PowerMgmt"))) {
		pve_error_set(&err, EACCES, "Permission check failed (%s, VM.PowerMgmt)", acl);
		return pved_call_fail(c, err);
	}
	if (!pved_call_permitted(c, acl, "VM.Allocate") &&
	    !(pacl && pved_call_permitted(c, pacl, "VM.Allocate"))) {
		pve_error_set(&err, EACCES, "Permission check failed");
		return pved_call_fail(c, err);
	}
	_cleanup_json_ cJSON *keys = qemu_config_params(d, c->params);
	size_t nk = (size_t)cJSON_GetArraySize(keys), k = 0;
	_cleanup_strv_free_ char **names = xcalloc(nk + 1, sizeof(char *));
	const cJSON *p;
	cJSON_ArrayForEach (p, keys)
		names[k++] = xstrdup(p->string);
	if (qemu_check_keys_perm(c, vmid, pool, names, &err) < 0 ||
	    qemu_check_values(c, vmid, pool, keys, storage, &err) < 0 ||
	    qemu_cloudinit_check_keys(NULL, keys, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *owner = qemu_vmid_owner(d, vmid);
	if (owner) {
		pve_error_set_param(
			&err, EINVAL, "vmid",
			"unable to create VM %lld - VM %lld already exists on node '%s'", vmid,
			vmid, owner);
		return pved_call_fail(c, err);
	}
	/* the vmid is ours from here: a config that holds the lock only */
	_cleanup_free_ char *path = qemu_conf_path(d, vmid);
	static const char placeholder[] = "lock: create\n";
	if (pve_store_create(d->store, path, placeholder, strlen(placeholder), &err) < 0) {
		if (err && err->code == EEXIST) {
			pve_error_free(err);
			err = NULL;
			pve_error_set_param(&err, EINVAL, "vmid",
					    "unable to create VM %lld - VM %lld already exists on "
					    "node '%s'",
					    vmid, vmid, d->node);
		}
		return pved_call_fail(c, err);
	}
	qemu_vm_refresh(d, vmid);
	cJSON *args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "vmid", (double)vmid);
	cJSON_AddItemToObject(args, "conf", cJSON_Duplicate(keys, true));
	if (storage)
		cJSON_AddStringToObject(args, "storage", storage);
	if (pool)
		cJSON_AddStringToObject(args, "pool", pool);
	cJSON_AddBoolToObject(args, "start", start);
	cJSON_AddStringToObject(args, "kvm_state", d->kvm_state ? d->kvm_state : "unknown");
	cJSON_AddNumberToObject(args, "kvm_percent", d->kvm_percent);
	_cleanup_free_ char *id = xasprintf("%lld", vmid), *upid = NULL;
	if (pved_task_start(d, "qmcreate", id, c->authid, args, &upid, &err) < 0) {
		pve_store_delete(d->store, path, NULL);
		qemu_vm_refresh(d, vmid);
		return pved_call_fail(c, err);
	}
	pved_call_reply(c, cJSON_CreateString(upid));
}

/* The QEMU version for meta's creation-qemu, from the binary's --version. */
static char *qemu_version(void)
{
	_cleanup_free_ char *out = NULL;
	const char *argv[] = { QEMU_BINARY, "--version", NULL };
	if (pve_storage_run(argv, &out, NULL) < 0)
		return NULL;
	const char *v = strstr(out, "version ");
	if (!v)
		return NULL;
	v += 8;
	return xstrndup(v, strspn(v, "0123456789."));
}

int qemu_pool_add(pved *d, long long vmid, const char *pool, pve_error **err)
{
	return pved_guest_pool_add(d, vmid, pool, err);
}

/* Removes vmid from every pool (destroy with purge). */
static void remove_from_pools(pved *d, long long vmid)
{
	if (pved_guest_pools_remove(d, vmid))
		printf("removed VM %lld from its pool\n", vmid);
}

static int strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The main section with its keys sorted, as Proxmox writes a config it made. */
static pve_config *sorted_copy(const pve_config *c)
{
	pve_config *out = pve_config_new();
	_cleanup_free_ char *descr = pve_config_get_description(c, NULL);
	if (descr)
		pve_config_set_description(out, NULL, descr);
	_cleanup_strv_free_ char **keys = pve_config_keys(c, NULL);
	qsort(keys, strv_length(keys), sizeof(char *), strcmp_p);
	for (char **k = keys; *k; k++)
		pve_config_set(out, NULL, *k, pve_config_get(c, NULL, *k));
	return out;
}

/* The worker: the config from the parameters, its disks allocated, written; on failure nothing stays. */
static int task_create(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0;
	pve_json_int(args, "vmid", &vmid);
	const kvm_schema *s = qemu_schema(d);
	_cleanup_close_ int lock = -1;
	int r = qemu_lock_wait(d, vmid, QEMU_LOCK_TIMEOUT_MS, &lock, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = qemu_conf_path(d, vmid);
	_cleanup_config_ pve_config *c = pve_config_new();
	const cJSON *conf = cJSON_GetObjectItemCaseSensitive(args, "conf");
	const cJSON *p;
	cJSON_ArrayForEach (p, conf) {
		if (!cJSON_IsString(p))
			continue;
		if (streq(p->string, "description"))
			pve_config_set_description(c, NULL, p->valuestring);
		else if (streq(p->string, "cipassword") && p->valuestring[0] != '$') {
			_cleanup_free_ char *h = pve_password_hash(p->valuestring);
			pve_config_set(c, NULL, p->string, h ? h : p->valuestring);
		} else
			pve_config_set(c, NULL, p->string, p->valuestring);
	}
	/* what Proxmox adds to a new VM */
	_cleanup_free_ char *ver = qemu_version();
	_cleanup_free_ char *meta = xasprintf("creation-qemu=%s,ctime=%lld", ver ? ver : "0.0.0",
					      (long long)time(NULL));
	pve_config_set(c, NULL, "meta", meta);
	if (!pve_config_get(c, NULL, "smbios1")) {
		_cleanup_free_ char *sm = kvm_smbios1_new();
		pve_config_set(c, NULL, "smbios1", sm);
	}
	const char *genid = pve_config_get(c, NULL, "vmgenid");
	if (!genid || streq(genid, "1")) {
		_cleanup_free_ char *u = kvm_uuid_new();
		pve_config_set(c, NULL, "vmgenid", u);
	}
	const char *tags = pve_config_get(c, NULL, "tags");
	if (tags) {
		/* unique and sorted, as Proxmox's get_unique_tags */
		_cleanup_strv_free_ char **t = pve_strv_split(tags, ";, ");
		size_t n = strv_length(t), w = 0;
		qsort(t, n, sizeof(char *), strcmp_p);
		for (size_t i = 0; i < n; i++) {
			if (w && streq(t[w - 1], t[i])) {
				free(t[i]);
				continue;
			}
			t[w++] = t[i];
		}
		t[w] = NULL;
		_cleanup_free_ char *j = pve_strv_join(t, ";");
		pve_config_set(c, NULL, "tags", j);
	}

	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	char **made = NULL;
	r = qemu_storage_cfg(d, &scfg, err);
	if (r >= 0)
		r = qemu_disks_allocate(d, scfg, vmid, c, NULL, pve_json_str(args, "storage"),
					&made, err);
	if (r >= 0 && !pve_config_get(c, NULL, "boot")) {
		/* Proxmox's default: the first disk, the first CD-ROM, the first NIC */
		_cleanup_strv_free_ char **order = kvm_config_boot_order(c, s);
		pve_buf b = { 0 };
		bool disk = false, cd = false, net = false;
		for (char **dev = order; *dev; dev++) {
			const char *v = pve_config_get(c, NULL, *dev);
			bool is_net = startswith(*dev, "net");
			bool is_cd = !is_net && v && strstr(v, "media=cdrom");
			if ((is_net && net) || (is_cd && cd) || (!is_net && !is_cd && disk))
				continue;
			net |= is_net;
			cd |= is_cd;
			disk |= !is_net && !is_cd;
			pve_buf_printf(&b, "%s%s", b.len ? ";" : "", *dev);
		}
		if (b.len) {
			_cleanup_free_ char *boot = xasprintf("order=%s", b.data);
			pve_config_set(c, NULL, "boot", boot);
		}
		pve_buf_free(&b);
	}
	if (r >= 0) {
		cJSON *errors = NULL;
		if (kvm_config_check(c, NULL, s, &errors) < 0) {
			const cJSON *e = errors->child;
			r = pve_error_set_param(err, EINVAL, e->string, "%s: %s", e->string,
						e->valuestring);
		}
		cJSON_Delete(errors);
	}
	if (r >= 0) {
		_cleanup_config_ pve_config *sorted = sorted_copy(c);
		r = qemu_conf_write(d, vmid, sorted, NULL, err);
	}
	if (r < 0) {
		/* nothing of the failed create stays: its volumes, its config */
		qemu_disks_free(d, scfg, made, true);
		strv_free(made);
		pve_store_delete(d->store, path, NULL);
		pve_error_prefix(err ? *err : NULL, "unable to create VM %lld", vmid);
		return r;
	}
	strv_free(made);
	printf("created VM %lld\n", vmid);
	const char *pool = pve_json_str(args, "pool");
	pve_error *e = NULL;
	if (pool && qemu_pool_add(d, vmid, pool, &e) < 0) {
		pved_task_warn("can't add VM %lld to pool '%s': %s", vmid, pool, e->message);
		pve_error_free(e);
	}
	const cJSON *start = cJSON_GetObjectItemCaseSensitive(args, "start");
	if (cJSON_IsTrue(start)) {
		printf("Execute autostart\n");
		e = NULL;
		if (qemu_vm_start(d, vmid, args, &e) < 0) {
			pved_task_warn("%s", e->message);
			pve_error_free(e);
		}
	}
	return 0;
}

/* ---- DELETE ------------------------------------------------------------------------------------------ */

static void h_destroy(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	if (pved_call_int(c, "skiplock", 0) && !streq(c->authid, "root@pam")) {
		pve_error_set_param(&err, EINVAL, "skiplock", "Only root may use this option.");
		return pved_call_fail(c, err);
	}
	_cleanup_config_ pve_config *conf = NULL;
	if (qemu_conf_load(d, vmid, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	if (qemu_conf_protected(conf)) {
		pve_error_set(&err, EINVAL, "can't remove VM %lld - protection mode enabled", vmid);
		return pved_call_fail(c, err);
	}
	if (!pved_call_int(c, "skiplock", 0) && qemu_conf_check_lock(conf, &err) < 0)
		return pved_call_fail(c, err);
	qemu_vm *vm = qemu_vm_find(d, vmid);
	if (vm)
		qemu_vm_check_running(d, vm);
	if (vm && qemu_vm_running(vm)) {
		pve_error_set(&err, EINVAL, "VM %lld is running - destroy failed", vmid);
		return pved_call_fail(c, err);
	}
	_cleanup_free_ char *id = xasprintf("%lld", vmid), *upid = NULL;
	if (pved_task_start(d, "qmdestroy", id, c->authid, cJSON_Duplicate(c->params, true), &upid,
			    &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

/* Every volume the config names (drives, unused disks, VM states; snapshots too), once. */
static char **config_volumes(const pve_config *c)
{
	size_t n = 0;
	char **v = xcalloc(1, sizeof(char *));
	_cleanup_strv_free_ char **sections = pve_config_sections(c);
	for (ssize_t si = -1; si < (ssize_t)strv_length(sections); si++) {
		const char *sec = si < 0 ? NULL : sections[si];
		if (sec && startswith(sec, "special:"))
			continue;
		_cleanup_strv_free_ char **keys = pve_config_keys(c, sec);
		for (char **k = keys; *k; k++) {
			const char *val = pve_config_get(c, sec, *k);
			_cleanup_free_ char *vol = NULL;
			if (streq(*k, "vmstate")) {
				vol = xstrdup(val);
			} else if (kvm_drive_key(*k, true, NULL, NULL)) {
				const char *f = startswith(val, "file=")   ? val + 5 :
						startswith(val, "volume=") ? val + 7 :
									     val;
				vol = xstrndup(f, strcspn(f, ","));
				/* a CD-ROM's medium is not the VM's; its cloud-init drive is */
				if (strstr(val, "media=cdrom") && !kvm_volume_is_cloudinit(vol))
					continue;
			}
			if (!vol || vol[0] == '/' || !strchr(vol, ':') || streq(vol, "none") ||
			    kvm_drive_alloc_request(vol, NULL, NULL))
				continue;
			bool dup = false;
			for (size_t i = 0; i < n && !dup; i++)
				dup = streq(v[i], vol);
			if (dup)
				continue;
			v = xrealloc(v, (n + 2) * sizeof(char *));
			v[n++] = TAKE_PTR(vol);
			v[n] = NULL;
		}
	}
	return v;
}

static int task_destroy(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0;
	pve_json_int(args, "vmid", &vmid);
	_cleanup_close_ int lock = -1;
	int r = qemu_lock_wait(d, vmid, QEMU_LOCK_TIMEOUT_MS, &lock, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c = NULL;
	r = qemu_conf_load(d, vmid, &c, NULL, err);
	if (r < 0)
		return r;
	const cJSON *sl = cJSON_GetObjectItemCaseSensitive(args, "skiplock");
	bool skiplock = cJSON_IsNumber(sl) && sl->valuedouble != 0;
	if (!skiplock && (r = qemu_conf_check_lock(c, err)) < 0)
		return r;
	if (qemu_conf_protected(c))
		return pve_error_set(err, EINVAL, "can't remove VM %lld - protection mode enabled",
				     vmid);
	_cleanup_free_ char *rundir = qemu_run_dir(d);
	kvm_proc p;
	if (kvm_proc_find(rundir, vmid, &p) == 1)
		return pve_error_set(err, EINVAL, "VM %lld is running - destroy failed", vmid);
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	r = qemu_storage_cfg(d, &scfg, err);
	if (r < 0)
		return r;
	_cleanup_strv_free_ char **vols = config_volumes(c);
	/* volumes of other guests (a linked clone's base) are not this VM's to free */
	size_t w = 0;
	for (size_t i = 0; vols[i]; i++) {
		if (pved_guest_volume_owned(scfg, vols[i], vmid))
			vols[w++] = vols[i];
		else
			free(vols[i]);
	}
	vols[w] = NULL;
	/* a template whose base images back linked clones stays whole, as Proxmox's destroy_vm */
	const char *used = NULL;
	pve_error *busy = NULL;
	if (kvm_config_bool(c, NULL, "template", false) &&
	    pved_guest_check_bases_unused(d, scfg, vols, true, &used, &busy) < 0) {
		pve_error_free(busy);
		/* sic: Proxmox's text */
		return pve_error_set(err, EBUSY,
				     "base volume '%s' is still in use by linked cloned", used);
	}
	qemu_disks_free(d, scfg, vols, true);
	const cJSON *dud = cJSON_GetObjectItemCaseSensitive(args, "destroy-unreferenced-disks");
	if (cJSON_IsNumber(dud) && dud->valuedouble != 0) {
		/* disks of this vmid on any storage of the node that no config references */
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
			    pve_storage_list_volumes(&st, vmid, PVE_CONTENT_IMAGES, &list, &n, &e) <
				    0) {
				pved_task_warn("can't list storage '%s': %s", sid, e->message);
				pve_error_free(e);
				continue;
			}
			char **extra = xcalloc(n + 1, sizeof(char *));
			for (size_t k = 0, m = 0; k < n; k++)
				extra[m++] = xstrdup(list[k].volid);
			qemu_disks_free(d, scfg, extra, true);
			strv_free(extra);
			pve_volume_infos_free(list, n);
		}
	}
	_cleanup_free_ char *path = qemu_conf_path(d, vmid);
	r = pve_store_delete(d->store, path, err);
	if (r < 0)
		return r;
	const cJSON *purge = cJSON_GetObjectItemCaseSensitive(args, "purge");
	if (cJSON_IsNumber(purge) && purge->valuedouble != 0) {
		remove_from_pools(d, vmid);
		_cleanup_free_ char *fw = xasprintf("firewall/%lld.fw", vmid);
		if (pve_store_delete(d->store, fw, NULL) == 0)
			printf("removed the VM's firewall config\n");
	}
	(void)kvm_cgroup_remove(d->root, vmid);
	printf("destroyed VM %lld\n", vmid);
	return 0;
}

const pved_task_kind pved_tasks_qemu_create[] = {
	{ "qmcreate", task_create },
	{ "qmdestroy", task_destroy },
	{ NULL, NULL },
};

const pved_handler pved_handlers_qemu_create[] = {
	{ "qemu_create", h_create },
	{ "qemu_destroy", h_destroy },
	{ NULL, NULL },
};

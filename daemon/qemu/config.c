/* A VM's config: GET .../config and .../pending, and changes through PUT (at once, in pved: the per-VM
 * lock, then the config edit, disk allocations on the guest queue) and POST (a qmconfig task), both with
 * Proxmox's rules: every change goes to [PENDING] first; a stopped VM gets them applied at once, a running
 * one only those that need nothing from QEMU (name, description, onboot, ...); the rest applies at the
 * next start. */
#include <cjson/cJSON.h>

#include "access/access.h"
#include "daemon/core/guest.h"
#include "daemon/core/tasks-internal.h"
#include "daemon/qemu/qemu-internal.h"

/* ---- the config file ------------------------------------------------------------------------------- */

int qemu_conf_load(pved *d, long long vmid, pve_config **ret,
		   char ret_digest[PVE_STORE_DIGEST_LEN + 1], pve_error **err)
{
	_cleanup_free_ char *path = qemu_conf_path(d, vmid), *text = NULL;
	size_t len = 0;
	int r = pve_store_read(d->store, path, &text, &len, ret_digest, NULL);
	if (r == -ENOENT)
		return pve_error_set(err, ENOENT, "Configuration file '%s' does not exist", path);
	if (r < 0)
		return pve_error_set(err, -r, "unable to read '%s': %s", path, strerror(-r));
	pve_error *e = NULL;
	r = kvm_config_parse(text, len, ret, &e);
	if (r < 0) {
		r = pve_error_set(err, EIO, "%s: %s", path, e->message);
		pve_error_free(e);
	}
	return r;
}

int qemu_conf_write(pved *d, long long vmid, const pve_config *c, const char *expected_digest,
		    pve_error **err)
{
	_cleanup_free_ char *path = qemu_conf_path(d, vmid);
	_cleanup_free_ char *text = pve_config_print(c);
	int r = pve_store_write(d->store, path, text, strlen(text), expected_digest, err);
	if (r == -ESTALE && err && *err)
		(*err)->code = EINVAL;
	return r;
}

int qemu_conf_check_lock(const pve_config *c, pve_error **err)
{
	const char *lock = pve_config_get(c, NULL, "lock");
	if (lock)
		return pve_error_set(err, EBUSY, "VM is locked (%s)", lock);
	return 0;
}

bool qemu_conf_protected(const pve_config *c)
{
	return kvm_config_bool(c, NULL, "protection", false);
}

/* ---- which privilege a key needs (Proxmox's check_vm_modify_config_perm) ------------------------------ */

static bool in(const char *key, const char *const *list)
{
	for (; *list; list++)
		if (streq(key, *list))
			return true;
	return false;
}

static bool family(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(key, prefix, n) == 0 && key[n] >= '0' && key[n] <= '9';
}

/* NULL: root only. "": checked elsewhere (drives, serial ports, tags). */
static const char *key_privilege(const char *key)
{
	static const char *const cpu[] = { "cores",    "cpu",	   "runningcpu", "cpulimit",
					   "cpuunits", "numa",	   "smp",	 "sockets",
					   "vcpus",    "affinity", NULL };
	static const char *const memory[] = { "memory", "balloon", "shares", "allow-ksm", NULL };
	static const char *const hwtype[] = {
		"acpi",	  "hotplug", "kvm",	 "machine", "runningmachine", "scsihw", "smbios1",
		"tablet", "vga",     "watchdog", "audio0",  "rng0",	      NULL
	};
	static const char *const general[] = {
		"agent",     "autostart",	 "bios",	  "description", "keyboard",
		"localtime", "migrate_downtime", "migrate_speed", "name",	 "onboot",
		"ostype",    "protection",	 "reboot",	  "startdate",	 "startup",
		"tdf",	     "template",	 "hookscript",	  "vmgenid",	 "meta",
		NULL
	};
	static const char *const disk[] = { "boot",	"bootdisk",  "vmstatestorage",
					    "efidisk0", "tpmstate0", NULL };
	static const char *const cloudinit[] = { "cicustom",	 "cipassword", "citype",
						 "ciuser",	 "ciupgrade",  "nameserver",
						 "searchdomain", "sshkeys",    NULL };
	if (kvm_drive_key(key, true, NULL, NULL) || streq(key, "cdrom") || family(key, "serial") ||
	    family(key, "usb") || family(key, "hostpci") || family(key, "virtiofs") ||
	    streq(key, "tags"))
		return "";
	if (in(key, cpu) || family(key, "numa"))
		return "VM.Config.CPU";
	if (in(key, memory))
		return "VM.Config.Memory";
	if (in(key, hwtype))
		return "VM.Config.HWType";
	if (in(key, general))
		return "VM.Config.Options";
	if (streq(key, "freeze"))
		return "VM.PowerMgmt";
	if (in(key, disk))
		return "VM.Config.Disk";
	if (family(key, "net") || streq(key, "running-nets-host-mtu"))
		return "VM.Config.Network";
	if (in(key, cloudinit) || family(key, "ipconfig"))
		return "VM.Config.Cloudinit";
	return NULL;
}

static bool vm_permitted(pved_call *c, long long vmid, const char *pool, const char *priv)
{
	char path[64];
	snprintf(path, sizeof(path), "/vms/%lld", vmid);
	if (pved_call_permitted(c, path, priv))
		return true;
	if (pool) {
		_cleanup_free_ char *pp = xasprintf("/pool/%s", pool);
		return pved_call_permitted(c, pp, priv);
	}
	return false;
}

/* Each key's privilege on the VM (or its pool). */
int qemu_check_keys_perm(pved_call *c, long long vmid, const char *pool, char **keys,
			 pve_error **err)
{
	if (streq(c->authid, "root@pam"))
		return 0;
	for (char **k = keys; k && *k; k++) {
		const char *priv = key_privilege(*k);
		if (!priv)
			return pve_error_set(err, EACCES, "only root can set '%s' config", *k);
		if (!*priv)
			continue;
		if (streq(priv, "VM.Config.Cloudinit")) {
			if (vm_permitted(c, vmid, pool, priv) ||
			    vm_permitted(c, vmid, pool, "VM.Config.Network"))
				continue;
		} else if (vm_permitted(c, vmid, pool, priv)) {
			if (streq(*k, "startup") && !pved_call_permitted(c, "/", "Sys.Modify"))
				return pve_error_set(err, EACCES,
						     "Permission check failed (/, Sys.Modify)");
			continue;
		}
		return pve_error_set(err, EACCES, "Permission check failed (/vms/%lld, %s)", vmid,
				     priv);
	}
	return 0;
}

/* ---- checks of the values a create or an update sets (on the loop) --------------------------------- */

static bool is_new_disk(const char *file)
{
	return kvm_drive_alloc_request(file, NULL, NULL) == 1;
}

/* Whether a volume of a local file storage is missing: a stat, which does not wait on a server. On other
 * storages a missing volume is found by the task that uses it. */
static bool local_volume_missing(const pve_storage *st, const char *volname)
{
	if (st->shared || !st->path || !(streq(st->type, "dir") || streq(st->type, "btrfs")))
		return false;
	_cleanup_free_ char *path = NULL;
	if (pve_storage_path(st, volname, NULL, &path, NULL) < 0)
		return false;
	return access(path, F_OK) != 0;
}

/* Drives, NICs, serial ports and the rest, as Proxmox's create and update check them before they lock:
 * every failure names its key. params' values may be rewritten (cdrom -> ide2, MAC addresses,
 * vmgenid 1). */
int qemu_check_values(pved_call *c, long long vmid, const char *pool, cJSON *params,
		      const char *default_storage, pve_error **err)
{
	pved *d = c->d;
	const kvm_schema *s = qemu_schema(d);
	bool root = streq(c->authid, "root@pam");
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	if (qemu_storage_cfg(d, &scfg, err) < 0)
		return -EIO;

	/* cdrom is ide2 with media=cdrom */
	cJSON *cd = cJSON_DetachItemFromObjectCaseSensitive(params, "cdrom");
	if (cd) {
		_cleanup_free_ char *v = strstr(cd->valuestring, "media=") ?
						 xstrdup(cd->valuestring) :
						 xasprintf("%s,media=cdrom", cd->valuestring);
		cJSON_Delete(cd);
		if (cJSON_HasObjectItem(params, "ide2"))
			return pve_error_set_param(err, EINVAL, "cdrom",
						   "option ide2 conflicts with cdrom");
		cJSON_AddStringToObject(params, "ide2", v);
	}
	cJSON *p;
	cJSON_ArrayForEach (p, params) {
		const char *key = p->string;
		if (!cJSON_IsString(p))
			continue;
		const char *v = p->valuestring;
		pve_error *e = NULL;
		if (kvm_config_check_value(s, key, v, NULL, &e) < 0) {
			if (err && !*err)
				*err = e;
			else
				pve_error_free(e);
			return -EINVAL;
		}
		if (kvm_drive_key(key, false, NULL, NULL)) {
			kvm_drive drv;
			if (kvm_drive_parse(s, key, v, &drv, err) < 0)
				return -EINVAL;
			_cleanup_free_ char *sid = NULL, *volname = NULL;
			const char *src = pve_json_str(drv.opts, "import-from");
			uint64_t want = 1;
			/* STORAGE:cloudinit asks for the VM's cloud-init volume, a CD-ROM */
			bool ci = qemu_cloudinit_request(drv.file);
			bool alloc = ci || kvm_drive_alloc_request(drv.file, NULL, &want) == 1;
			int r = 0;
			if (src && (!alloc || want != 0))
				r = pve_error_set_param(
					err, EINVAL, key,
					"'import-from' requires special syntax - use "
					"<storage ID>:0,import-from=<source>");
			else if (alloc && drv.cdrom && !ci)
				r = pve_error_set_param(err, EINVAL, key,
							"a CD-ROM can't be a new disk");
			else if (alloc) {
				if (ci)
					sid = xstrndup(drv.file, strcspn(drv.file, ":"));
				else
					kvm_drive_alloc_request(drv.file, &sid, NULL);
				const char *store = sid ? sid : default_storage;
				pve_storage st;
				if (!store)
					r = pve_error_set_param(
						err, EINVAL, key,
						"no storage ID specified (and no default storage)");
				else if (pve_storage_get(scfg, store, &st, NULL) < 0)
					r = pve_error_set_param(err, EINVAL, sid ? key : "storage",
								"storage '%s' does not exist",
								store);
				else if (!(st.content & PVE_CONTENT_IMAGES))
					r = pve_error_set_param(
						err, EINVAL, sid ? key : "storage",
						"storage '%s' does not support vm images", store);
				else if (!pve_storage_on_node(&st, d->node) || st.disabled)
					r = pve_error_set_param(err, EINVAL, key,
								"storage '%s' is not available on "
								"node '%s'",
								store, d->node);
				else {
					_cleanup_free_ char *acl = xasprintf("/storage/%s", store);
					if (!pved_call_permitted(c, acl, "Datastore.AllocateSpace"))
						r = pve_error_set(err, EACCES,
								  "Permission check failed (%s, "
								  "Datastore.AllocateSpace)",
								  acl);
				}
			} else if (drv.file[0] == '/') {
				if (!root)
					r = pve_error_set(err, EACCES,
							  "only root can pass arbitrary filesystem "
							  "paths");
			} else if (!streq(drv.file, "none") && !streq(drv.file, "cdrom")) {
				pve_storage st;
				pve_volname vn = { 0 };
				if (pve_storage_volid_split(drv.file, &sid, &volname, NULL) < 0 ||
				    pve_storage_get(scfg, sid, &st, NULL) < 0)
					r = pve_error_set_param(err, EINVAL, key,
								"storage '%s' does not exist",
								sid ? sid : drv.file);
				else if (pve_storage_volume_parse(&st, volname, &vn, NULL) < 0 ||
					 !(vn.vtype & (PVE_CONTENT_IMAGES | PVE_CONTENT_ISO)))
					r = pve_error_set_param(
						err, EINVAL, key,
						"content type needs to be 'images' or 'iso'");
				else if (vn.vtype == PVE_CONTENT_ISO && !drv.cdrom)
					r = pve_error_set_param(
						err, EINVAL, key,
						"explicit 'media=cdrom' is required for iso images");
				else if (local_volume_missing(&st, volname))
					r = pve_error_set_param(err, EINVAL, key,
								"volume '%s' does not exist",
								drv.file);
				pve_volname_clear(&vn);
			} else if (streq(drv.file, "cdrom") &&
				   !pved_call_permitted(c, "/", "Sys.Console")) {
				r = pve_error_set(err, EACCES,
						  "Permission check failed (/, Sys.Console)");
			}
			/* the privilege the drive itself needs */
			if (r == 0 && !root) {
				const char *priv = drv.cdrom ? "VM.Config.CDROM" : "VM.Config.Disk";
				if (!vm_permitted(c, vmid, pool, priv))
					r = pve_error_set(err, EACCES,
							  "Permission check failed (/vms/%lld, %s)",
							  vmid, priv);
			}
			if (r == 0 && src && src[0] != '/') {
				_cleanup_free_ char *ssid = NULL, *svol = NULL;
				pve_storage st;
				pve_volname vn = { 0 };
				if (pve_storage_volid_split(src, &ssid, &svol, NULL) < 0 ||
				    pve_storage_get(scfg, ssid, &st, NULL) < 0)
					r = pve_error_set_param(err, EINVAL, key,
								"storage '%s' does not exist",
								ssid ? ssid : src);
				else if (pve_storage_volume_parse(&st, svol, &vn, NULL) < 0 ||
					 !(vn.vtype & (PVE_CONTENT_IMAGES | PVE_CONTENT_IMPORT)))
					r = pve_error_set_param(err, EINVAL, key,
								"%s has wrong type - needs to be "
								"'images' or 'import'",
								src);
				else if (local_volume_missing(&st, svol))
					r = pve_error_set_param(err, EINVAL, key,
								"volume '%s' does not exist", src);
				pve_volname_clear(&vn);
			} else if (r == 0 && src && !root) {
				r = pve_error_set(
					err, EACCES,
					"only root can import from arbitrary filesystem paths");
			}
			kvm_drive_clear(&drv);
			if (r < 0)
				return r;
		} else if (family(key, "serial")) {
			if (!streq(v, "socket") && !root)
				return pve_error_set(
					err, EACCES,
					"only root can set '%s' config for real devices", key);
			if (!root && !vm_permitted(c, vmid, pool, "VM.Config.HWType"))
				return pve_error_set(err, EACCES,
						     "Permission check failed (/vms/%lld, "
						     "VM.Config.HWType)",
						     vmid);
		} else if (family(key, "net")) {
			kvm_net n;
			if (kvm_net_parse(s, key, v, &n, err) < 0)
				return -EINVAL;
			if (n.bridge[0] && !kvm_bridge_exists(n.bridge))
				return pve_error_set_param(err, EINVAL, key,
							   "bridge '%s' does not exist", n.bridge);
			if (!n.macaddr[0]) {
				_cleanup_free_ char *prefix = pved_mac_prefix(c->d);
				_cleanup_free_ char *withmac = kvm_net_with_mac(s, key, v, prefix);
				if (withmac)
					cJSON_SetValuestring(p, withmac);
			}
		} else if (streq(key, "vmgenid") && streq(v, "1")) {
			_cleanup_free_ char *u = kvm_uuid_new();
			cJSON_SetValuestring(p, u);
		} else if (streq(key, "args") && !root) {
			return pve_error_set(err, EACCES, "only root can set 'args' config");
		} else if (streq(key, "hookscript")) {
			_cleanup_free_ char *hsid = NULL, *hvol = NULL;
			pve_storage st;
			if (pve_storage_volid_split(v, &hsid, &hvol, NULL) < 0 ||
			    pve_storage_get(scfg, hsid, &st, NULL) < 0)
				return pve_error_set_param(err, EINVAL, key,
							   "storage '%s' does not exist",
							   hsid ? hsid : v);
			if (!startswith(hvol, "snippets/"))
				return pve_error_set_param(err, EINVAL, key,
							   "'%s' is not in the snippets directory",
							   v);
		}
	}
	return 0;
}

/* ---- the update (pure: the config in memory) ------------------------------------------------------- */

/* Options whose change needs nothing from a running QEMU (Proxmox's fast_plug_option): applied at once
 * also while the VM runs. */
static bool fast_plug(const char *key)
{
	static const char *const keys[] = { "description",	"hookscript",	 "lock",
					    "migrate_downtime", "migrate_speed", "name",
					    "onboot",		"protection",	 "shares",
					    "startup",		"tags",		 "vmstatestorage",
					    "cicustom",		"cipassword",	 "citype",
					    "ciuser",		"ciupgrade",	 "nameserver",
					    "searchdomain",	"sshkeys",	 NULL };
	return in(key, keys) || family(key, "ipconfig");
}

typedef struct qemu_update {
	long long vmid;
	cJSON *set; /* key -> value (strings) */
	char **delete;
	char **revert;
	bool force;
	bool skiplock;
	bool running;
	bool root;
	/* out */
	char **destroy; /* volumes to free once the config is written */
	bool changed;
} qemu_update;

static void update_clear(qemu_update *u)
{
	cJSON_Delete(u->set);
	strv_free(u->delete);
	strv_free(u->revert);
	strv_free(u->destroy);
	*u = (qemu_update){ 0 };
}

static void destroy_add(qemu_update *u, const char *volid)
{
	size_t n = strv_length(u->destroy);
	u->destroy = xrealloc(u->destroy, (n + 2) * sizeof(char *));
	u->destroy[n] = xstrdup(volid);
	u->destroy[n + 1] = NULL;
}

/* The volume of an unused[n] value. */
static char *unused_volume(const char *v)
{
	const char *f = startswith(v, "file=") ? v + 5 : startswith(v, "volume=") ? v + 7 : v;
	return xstrndup(f, strcspn(f, ","));
}

/* Removes a value equal to the main one from [PENDING], and deletions of keys the main section does not
 * have (Proxmox's cleanup_pending). */
static void cleanup_pending(pve_config *c)
{
	_cleanup_strv_free_ char **keys = pve_config_keys(c, KVM_SECTION_PENDING);
	for (char **k = keys; *k; k++) {
		if (streq(*k, "delete"))
			continue;
		const char *cur = pve_config_get(c, NULL, *k);
		if (cur && streq(cur, pve_config_get(c, KVM_SECTION_PENDING, *k)))
			pve_config_delete(c, KVM_SECTION_PENDING, *k);
	}
	_cleanup_free_ char *cur_descr = pve_config_get_description(c, NULL);
	_cleanup_free_ char *pend_descr = pve_config_get_description(c, KVM_SECTION_PENDING);
	if (pend_descr && streq_ptr(cur_descr, pend_descr))
		pve_config_set_description(c, KVM_SECTION_PENDING, NULL);
	_cleanup_strv_free_ char **dels = kvm_pending_deletes(c, NULL);
	for (char **k = dels; *k; k++)
		if (!pve_config_get(c, NULL, *k) && !(streq(*k, "description") && cur_descr))
			kvm_pending_delete_remove(c, *k);
	kvm_pending_drop_if_empty(c);
}

/* Applies the fast-plug options of [PENDING] to the main section (a running VM). */
static void apply_fast_plug(pve_config *c)
{
	_cleanup_free_ char *descr = pve_config_get_description(c, KVM_SECTION_PENDING);
	if (descr) {
		pve_config_set_description(c, NULL, descr);
		pve_config_set_description(c, KVM_SECTION_PENDING, NULL);
	}
	_cleanup_strv_free_ char **keys = pve_config_keys(c, KVM_SECTION_PENDING);
	for (char **k = keys; *k; k++) {
		if (streq(*k, "delete") || !fast_plug(*k))
			continue;
		pve_config_set(c, NULL, *k, pve_config_get(c, KVM_SECTION_PENDING, *k));
		pve_config_delete(c, KVM_SECTION_PENDING, *k);
	}
	_cleanup_strv_free_ char **dels = kvm_pending_deletes(c, NULL);
	for (char **k = dels; *k; k++) {
		if (!fast_plug(*k))
			continue;
		if (streq(*k, "description"))
			pve_config_set_description(c, NULL, NULL);
		pve_config_delete(c, NULL, *k);
		kvm_pending_delete_remove(c, *k);
	}
	kvm_pending_drop_if_empty(c);
}

/* With `hotplug` cloudinit, a running VM's cloud-init drive made again from the changed config, as
 * Proxmox's vmconfig_update_cloudinit_drive; a failure is the answer (the first hot-plug error
 * stays), the config still written. */
static void hotplug_cloudinit(pved *d, long long vmid, pve_config *c, const pve_sectioncfg *scfg,
			      pve_error **err)
{
	pve_error *e = NULL;
	if (qemu_cloudinit_hotplug(d, vmid, c, scfg, &e) >= 0)
		return;
	pved_task_warn("cloud-init: %s", e->message);
	if (*err)
		pve_error_free(e);
	else
		*err = e;
}

/* A key's value before an update, for cloud-init's record of what the drive holds. */
static void ci_remember(cJSON *old, const pve_config *c, const char *key)
{
	if (!qemu_cloudinit_recorded_key(key) || cJSON_HasObjectItem(old, key))
		return;
	const char *v = pve_config_get(c, NULL, key);
	cJSON_AddItemToObject(old, key, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

static int update_apply(pve_config *c, const kvm_schema *s, qemu_update *u, pve_error **err)
{
	(void)s;
	_cleanup_free_ char *before = pve_config_print(c);
	if (!u->skiplock) {
		int r = qemu_conf_check_lock(c, err);
		if (r < 0)
			return r;
	}
	/* cloud-init: the values the drive's image holds, to record what changes ([special:cloudinit]) */
	_cleanup_json_ cJSON *ci_old = cJSON_CreateObject();
	if (qemu_cloudinit_drive(c, NULL)) {
		const cJSON *sp;
		cJSON_ArrayForEach (sp, u->set)
			ci_remember(ci_old, c, sp->string);
		for (char **k = u->revert; k && *k; k++)
			ci_remember(ci_old, c, *k);
		for (char **k = u->delete; k && *k; k++)
			ci_remember(ci_old, c, *k);
	}
	/* reverts: back to the main value, or a pending-only key goes */
	for (char **k = u->revert; k && *k; k++) {
		const char *cur = pve_config_get(c, NULL, *k);
		if (cur) {
			cJSON_DeleteItemFromObjectCaseSensitive(u->set, *k);
			cJSON_AddStringToObject(u->set, *k, cur);
		} else if (pve_config_get(c, KVM_SECTION_PENDING, *k)) {
			pve_config_delete(c, KVM_SECTION_PENDING, *k);
		}
		kvm_pending_delete_remove(c, *k);
	}
	for (char **k = u->delete; k && *k; k++) {
		const char *cur = pve_config_get(c, NULL, *k);
		const char *pend = pve_config_get(c, KVM_SECTION_PENDING, *k);
		_cleanup_free_ char *descr =
			streq(*k, "description") ? pve_config_get_description(c, NULL) : NULL;
		if (!cur && !pend && !descr) {
			printf("cannot delete '%s' - not set in current configuration!\n", *k);
			continue;
		}
		if (pend && kvm_drive_key(*k, false, NULL, NULL) && !strstr(pend, "media=cdrom")) {
			/* a pending volume that never became current is unused now */
			_cleanup_free_ char *vol = unused_volume(pend);
			_cleanup_free_ char *ukey = kvm_config_next_unused(c);
			if (strchr(vol, ':') && !is_new_disk(vol) && ukey)
				pve_config_set(c, NULL, ukey, vol);
		}
		pve_config_delete(c, KVM_SECTION_PENDING, *k);
		if (streq(*k, "description"))
			pve_config_set_description(c, KVM_SECTION_PENDING, NULL);
		if (startswith(*k, "unused") && cur) {
			if (qemu_conf_protected(c))
				return pve_error_set(
					err, EINVAL,
					"can't remove unused disk '%s' - protection mode "
					"enabled",
					cur);
			_cleanup_free_ char *vol = unused_volume(cur);
			destroy_add(u, vol);
			pve_config_delete(c, NULL, *k);
			continue;
		}
		if (kvm_drive_key(*k, false, NULL, NULL) && qemu_conf_protected(c))
			return pve_error_set(err, EINVAL,
					     "can't remove drive '%s' - protection mode enabled",
					     *k);
		if (streq(*k, "tags") || (!cur && !descr)) {
			pve_config_delete(c, NULL, *k);
			continue;
		}
		kvm_pending_delete_add(c, *k, u->force);
	}
	cJSON *p;
	cJSON_ArrayForEach (p, u->set) {
		const char *k = p->string, *v = p->valuestring;
		const char *pend = pve_config_get(c, KVM_SECTION_PENDING, k);
		if (pend && streq(pend, v))
			continue;
		if (streq(k, "cipassword")) {
			/* stored hashed, in the main section at once, as Proxmox */
			bool hashed = startswith(v, "$1$") || startswith(v, "$5$") ||
				      startswith(v, "$6$") || startswith(v, "$2a$") ||
				      startswith(v, "$2y$");
			_cleanup_free_ char *h = hashed ? xstrdup(v) : pve_password_hash(v);
			pve_config_set(c, NULL, k, h ? h : v);
			continue;
		}
		if (streq(k, "boot")) {
			/* every boot device must exist (or come with this change) */
			const char *order = strstr(v, "order=");
			if (order) {
				_cleanup_free_ char *list =
					xstrndup(order + 6, strcspn(order + 6, ","));
				_cleanup_strv_free_ char **devs = pve_strv_split(list, ";");
				for (char **dv = devs; *dv; dv++) {
					bool exists = pve_config_get(c, NULL, *dv) ||
						      pve_config_get(c, KVM_SECTION_PENDING, *dv) ||
						      cJSON_HasObjectItem(u->set, *dv);
					bool deleted = false;
					for (char **dk = u->delete; dk && *dk; dk++)
						deleted |= streq(*dk, *dv);
					if (!exists || deleted)
						return pve_error_set_param(
							err, EINVAL, "boot",
							"invalid bootorder: device '%s' does not exist'",
							*dv);
				}
			}
		}
		if (kvm_drive_key(k, false, NULL, NULL) && pend) {
			/* the pending value's volume it replaces becomes unused */
			_cleanup_free_ char *vol = unused_volume(pend);
			if (strchr(vol, ':') && !is_new_disk(vol) && !strstr(pend, "media=cdrom")) {
				_cleanup_free_ char *ukey = kvm_config_next_unused(c);
				if (ukey)
					pve_config_set(c, NULL, ukey, vol);
			}
		}
		if (streq(k, "description"))
			pve_config_set_description(c, KVM_SECTION_PENDING, v);
		else if (pve_config_set(c, KVM_SECTION_PENDING, k, v) < 0)
			return pve_error_set_param(err, EINVAL, k, "invalid value");
		kvm_pending_delete_remove(c, k);
	}
	cleanup_pending(c);
	if (!kvm_pending_empty(c)) {
		if (u->running) {
			apply_fast_plug(c);
		} else {
			char **destroy = NULL;
			kvm_config_apply_pending(c, &destroy);
			for (char **v = destroy; v && *v; v++)
				destroy_add(u, *v);
			strv_free(destroy);
		}
	}
	const cJSON *o;
	cJSON_ArrayForEach (o, ci_old) {
		const char *old = cJSON_IsString(o) ? o->valuestring : NULL;
		const char *now = pve_config_get(c, NULL, o->string);
		if (!streq_ptr(old, now))
			qemu_cloudinit_record(c, o->string, old, now);
	}
	_cleanup_free_ char *after = pve_config_print(c);
	u->changed = !streq(before, after);
	return 0;
}

/* The parameters that are config keys, as strings (as they go into the file). */
cJSON *qemu_config_params(pved *d, const cJSON *params)
{
	const kvm_schema *s = qemu_schema(d);
	cJSON *o = cJSON_CreateObject();
	const cJSON *p;
	cJSON_ArrayForEach (p, params) {
		if (!kvm_schema_key(s, p->string) && !streq(p->string, "description") &&
		    !streq(p->string, "cdrom"))
			continue;
		if (cJSON_IsString(p)) {
			cJSON_AddStringToObject(o, p->string, p->valuestring);
		} else if (cJSON_IsNumber(p)) {
			_cleanup_free_ char *t =
				p->valuedouble == (double)(long long)p->valuedouble ?
					xasprintf("%lld", (long long)p->valuedouble) :
					xasprintf("%.17g", p->valuedouble);
			cJSON_AddStringToObject(o, p->string, t);
		}
	}
	return o;
}

/* The update: keys to set (taken; checked by update_precheck), and from params the keys to delete and
 * revert, force and skiplock. */
static int update_from_params(cJSON *keys, const cJSON *params, qemu_update *u, pve_error **err)
{
	u->set = keys ? keys : cJSON_CreateObject();
	const char *del = pve_json_str(params, "delete"), *rev = pve_json_str(params, "revert");
	u->delete = pve_split_list(del ? del : "");
	u->revert = pve_split_list(rev ? rev : "");
	for (char **k = u->delete; *k; k++)
		if (streq(*k, "cdrom")) {
			free(*k);
			*k = xstrdup("ide2");
		}
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(params, "force");
	u->force = (cJSON_IsNumber(f) && f->valuedouble != 0) || cJSON_IsTrue(f);
	const cJSON *sl = cJSON_GetObjectItemCaseSensitive(params, "skiplock");
	u->skiplock = (cJSON_IsNumber(sl) && sl->valuedouble != 0) || cJSON_IsTrue(sl);
	if (!cJSON_GetArraySize(u->set) && !u->delete[0] && !u->revert[0])
		return pve_error_set(err, EINVAL, "no options specified");
	return 0;
}

/* The early checks of PUT and POST (Proxmox's, before it locks): parameter conflicts and the values;
 * *ret_keys gets the config keys to set, checked (cdrom as ide2, MAC addresses added). */
static int update_precheck(pved_call *c, cJSON **ret_keys, pve_error **err)
{
	pved *d = c->d;
	_cleanup_json_ cJSON *params = qemu_config_params(d, c->params);
	long long vmid = pved_call_int(c, "vmid", 0);
	if (pved_call_int(c, "skiplock", 0) && !streq(c->authid, "root@pam"))
		return pve_error_set_param(err, EINVAL, "skiplock",
					   "Only root may use this option.");
	const kvm_schema *s = qemu_schema(d);
	const char *del = pved_call_str(c, "delete"), *rev = pved_call_str(c, "revert");
	_cleanup_strv_free_ char **dels = pve_split_list(del ? del : "");
	_cleanup_strv_free_ char **revs = pve_split_list(rev ? rev : "");
	for (char **k = revs; *k; k++) {
		if (!kvm_schema_key(s, *k) && !streq(*k, "description"))
			return pve_error_set_param(err, EINVAL, "revert", "unknown option '%s'",
						   *k);
		if (cJSON_HasObjectItem(params, *k))
			return pve_error_set_param(
				err, EINVAL, "delete",
				"you can't use '-%s' and -revert %s' at the same "
				"time",
				*k, *k);
	}
	for (char **k = dels; *k; k++) {
		const char *key = streq(*k, "cdrom") ? "ide2" : *k;
		if (cJSON_HasObjectItem(params, key))
			return pve_error_set_param(
				err, EINVAL, "delete",
				"you can't use '-%s' and -delete %s' at the same "
				"time",
				key, key);
		for (char **r = revs; *r; r++)
			if (streq(*r, key))
				return pve_error_set_param(
					err, EINVAL, "revert",
					"you can't use '-delete %s' and -revert %s' "
					"at the same time",
					key, key);
		if (!kvm_schema_key(s, key) && !streq(key, "description"))
			return pve_error_set_param(err, EINVAL, "delete", "unknown option '%s'",
						   key);
	}
	/* the privileges of what changes */
	_cleanup_strv_free_ char **keys =
		xcalloc((size_t)cJSON_GetArraySize(params) + 1, sizeof(char *));
	size_t n = 0;
	const cJSON *p;
	cJSON_ArrayForEach (p, params)
		if (kvm_schema_key(s, p->string) || streq(p->string, "description"))
			keys[n++] = xstrdup(p->string);
	int r = qemu_check_keys_perm(c, vmid, NULL, dels, err);
	if (r >= 0)
		r = qemu_check_keys_perm(c, vmid, NULL, keys, err);
	if (r >= 0)
		r = qemu_check_values(c, vmid, NULL, params, NULL, err);
	if (r >= 0) {
		_cleanup_config_ pve_config *conf = NULL;
		if (qemu_conf_load(d, vmid, &conf, NULL, NULL) == 0)
			r = qemu_cloudinit_check_keys(conf, params, err);
	}
	if (r >= 0)
		*ret_keys = TAKE_PTR(params);
	return r;
}

/* ---- GET .../config and .../pending ----------------------------------------------------------------- */

static void h_config_get(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	const char *snap = pved_call_str(c, "snapshot");
	bool current = pved_call_int(c, "current", 0) != 0;
	pve_error *err = NULL;
	if (snap && current) {
		pve_error_set_param(&err, EINVAL, "snapshot",
				    "cannot use 'snapshot' parameter with 'current'");
		return pved_call_fail(c, err);
	}
	_cleanup_config_ pve_config *conf = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	if (qemu_conf_load(d, vmid, &conf, digest, &err) < 0)
		return pved_call_fail(c, err);
	if (snap && (startswith(snap, "special:") || streq(snap, KVM_SECTION_PENDING) ||
		     !pve_config_has_section(conf, snap))) {
		pve_error_set(&err, EINVAL, "snapshot '%s' does not exist", snap);
		return pved_call_fail(c, err);
	}
	cJSON *o = kvm_config_to_json(conf, snap, qemu_schema(d), !snap && !current);
	if (cJSON_HasObjectItem(o, "cipassword"))
		cJSON_ReplaceItemInObjectCaseSensitive(o, "cipassword",
						       cJSON_CreateString("**********"));
	cJSON_AddStringToObject(o, "digest", digest);
	pved_call_reply(c, o);
}

static void h_pending(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	if (qemu_conf_load(d, vmid, &conf, digest, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, kvm_config_pending_json(conf, qemu_schema(d), digest));
}

/* ---- PUT: at once, in pved ----------------------------------------------------------------------------- */

typedef struct put_job {
	pved_call *c;
	long long vmid;
	int lock_fd;
	pved_cfgfile file;
	char *path, *lockname;
	char *digest;
	qemu_update u;
	char **made; /* volumes allocated by the check, freed if the write fails */
	pve_sectioncfg *scfg;
	pved *d;
	pve_error *hotplug_err; /* a device that stayed pending: the answer, once written */
} put_job;

static int file_parse(const char *text, size_t len, void **ret, pve_error **err)
{
	if (len == 0)
		return pve_error_set(err, ENOENT, "the config file does not exist");
	return kvm_config_parse(text, len, (pve_config **)ret, err);
}

static void put_job_free(put_job *j)
{
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	free(j->path);
	free(j->lockname);
	free(j->digest);
	update_clear(&j->u);
	strv_free(j->made);
	pve_sectioncfg_free(j->scfg);
	pve_error_free(j->hotplug_err);
	free(j);
}

static int put_change(pved *d, void *cfg, void *ud, pve_error **err)
{
	put_job *j = ud;
	qemu_vm *vm = qemu_vm_find(d, j->vmid);
	if (vm)
		qemu_vm_check_running(d, vm);
	j->u.running = vm && qemu_vm_running(vm);
	int r = update_apply(cfg, qemu_schema(d), &j->u, err);
	if (r < 0)
		return r;
	if (j->u.changed)
		printf("update VM %lld\n", j->vmid);
	return j->u.changed ? 0 : PVED_CFGEDIT_KEEP;
}

/* On the guest queue, with the lock held: the disks this change asks for. */
static int put_check(void *cfg, void *ud, pve_error **err)
{
	put_job *j = ud;
	int r = qemu_storage_cfg(j->d, &j->scfg, err);
	if (r < 0)
		return r;
	/* an unused base image a linked clone still uses stays in the config (Proxmox's vdisk_free) */
	r = pved_guest_check_bases_unused(j->d, j->scfg, j->u.destroy, false, NULL, err);
	if (r < 0)
		return r;
	char **made = NULL;
	r = qemu_disks_allocate(j->d, j->scfg, j->vmid, cfg, NULL, NULL, &made, err);
	if (r >= 0) {
		char **more = NULL;
		r = qemu_disks_allocate(j->d, j->scfg, j->vmid, cfg, KVM_SECTION_PENDING, NULL,
					&more, err);
		size_t n = strv_length(made), m = strv_length(more);
		made = xrealloc(made, (n + m + 1) * sizeof(char *));
		memcpy(made + n, more, (m + 1) * sizeof(char *));
		free(more);
	}
	if (r < 0) {
		qemu_disks_free(j->d, j->scfg, made, false);
		strv_free(made);
		return r;
	}
	j->made = made;
	/* a running VM: what can be hot-plugged goes in now; a failure is the answer, after the
	 * write, with the change kept pending (Proxmox's order) */
	if (j->u.running) {
		(void)qemu_hotplug_pending(j->d, j->vmid, cfg, j->scfg, &j->u.destroy,
					   &j->hotplug_err);
		hotplug_cloudinit(j->d, j->vmid, cfg, j->scfg, &j->hotplug_err);
	}
	return 0;
}

static void destroy_work(void *arg)
{
	put_job *j = arg;
	if (!j->scfg && qemu_storage_cfg(j->d, &j->scfg, NULL) < 0)
		return;
	qemu_disks_free(j->d, j->scfg, j->u.destroy, false);
}

static void destroy_done(void *arg)
{
	put_job_free(arg);
}

static void put_done(pved *d, void *ud, int r, pve_error *err)
{
	put_job *j = ud;
	pved_call *c = j->c;
	close(j->lock_fd);
	j->lock_fd = -1;
	if (r < 0 && j->made) {
		/* the config was not written: what the check allocated goes */
		if (j->scfg)
			qemu_disks_free(d, j->scfg, j->made, false);
	}
	qemu_vm_refresh(d, j->vmid);
	if (r < 0) {
		pved_call_fail(c, err);
	} else if (j->hotplug_err) {
		pved_call_fail(c, j->hotplug_err);
		j->hotplug_err = NULL;
	} else {
		pved_call_reply(c, NULL);
	}
	if (r >= 0 && j->u.destroy && j->u.destroy[0] &&
	    pved_run_blocking(d, PVED_QUEUE_GUEST, destroy_work, destroy_done, j, NULL) == 0)
		return;
	put_job_free(j);
}

static void put_locked(pved *d, int fd, pve_error *err, void *ud)
{
	put_job *j = ud;
	if (fd < 0) {
		pved_call_fail(j->c, err);
		put_job_free(j);
		return;
	}
	j->lock_fd = fd;
	j->file = (pved_cfgfile){ .path = j->path,
				  .lock = j->lockname,
				  .parse = file_parse,
				  .print = pved_cfgfile_config_print,
				  .free = pved_cfgfile_config_free };
	pved_cfgedit e = { .file = &j->file,
			   .digest = j->digest,
			   .change = put_change,
			   .check = put_check,
			   .queue = PVED_QUEUE_GUEST,
			   .done = put_done };
	pved_cfgedit_run(d, &e, j);
}

static void h_config_put(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	_cleanup_free_ char *path = qemu_conf_path(d, vmid);
	if (!pve_store_exists(d->store, path)) {
		pve_error_set(&err, ENOENT, "Configuration file '%s' does not exist", path);
		return pved_call_fail(c, err);
	}
	cJSON *keys = NULL;
	if (update_precheck(c, &keys, &err) < 0)
		return pved_call_fail(c, err);
	put_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	j->d = d;
	j->vmid = vmid;
	j->lock_fd = -1;
	j->u.root = streq(c->authid, "root@pam");
	if (update_from_params(keys, c->params, &j->u, &err) < 0) {
		put_job_free(j);
		return pved_call_fail(c, err);
	}
	j->path = TAKE_PTR(path);
	j->lockname = xasprintf("qemu-%lld", vmid);
	const char *digest = pved_call_str(c, "digest");
	j->digest = digest ? xstrdup(digest) : NULL;
	qemu_lock_async(d, vmid, put_locked, j);
}

/* ---- POST: a qmconfig task ------------------------------------------------------------------------- */

/* background_delay: the answer waits for the task, at most that long, on a timer (Proxmox sleeps). */
typedef struct post_wait {
	pved_call *c;
	char *upid;
	long long vmid;
	time_t until;
	struct event *timer;
} post_wait;

static void post_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	post_wait *w = arg;
	const pved_task *t = pved_task_find(w->c->d, w->upid);
	if (t && t->running && time(NULL) < w->until)
		return;
	pve_error *err = NULL;
	if (t && !t->running && !streq(pved_task_status_type(t->status), "ok") &&
	    !streq(pved_task_status_type(t->status), "warning")) {
		pve_error_set(&err, EIO, "failed to update VM %lld: %s", w->vmid, t->status);
		pved_call_fail(w->c, err);
	} else {
		pved_call_reply(w->c, cJSON_CreateString(w->upid));
	}
	event_free(w->timer);
	free(w->upid);
	free(w);
}

static void h_config_post(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	_cleanup_free_ char *path = qemu_conf_path(d, vmid);
	if (!pve_store_exists(d->store, path)) {
		pve_error_set(&err, ENOENT, "Configuration file '%s' does not exist", path);
		return pved_call_fail(c, err);
	}
	qemu_update u = { 0 };
	cJSON *keys = NULL;
	if (update_precheck(c, &keys, &err) < 0 ||
	    update_from_params(cJSON_Duplicate(keys, true), c->params, &u, &err) < 0) {
		cJSON_Delete(keys);
		update_clear(&u);
		return pved_call_fail(c, err);
	}
	update_clear(&u);
	cJSON *args = cJSON_CreateObject();
	static const char *const copy[] = { "vmid",   "digest", "delete",
					    "revert", "force",	"skiplock" };
	for (size_t i = 0; i < ELEMENTSOF(copy); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->params, copy[i]);
		if (v)
			cJSON_AddItemToObject(args, copy[i], cJSON_Duplicate(v, true));
	}
	cJSON_AddItemToObject(args, "set", keys);
	_cleanup_free_ char *id = xasprintf("%lld", vmid), *upid = NULL;
	if (pved_task_start(d, "qmconfig", id, c->authid, args, &upid, &err) < 0)
		return pved_call_fail(c, err);
	long long delay = pved_call_int(c, "background_delay", 0);
	if (delay <= 0)
		return pved_call_reply(c, cJSON_CreateString(upid));
	post_wait *w = xcalloc(1, sizeof(*w));
	w->c = c;
	w->upid = TAKE_PTR(upid);
	w->vmid = vmid;
	w->until = time(NULL) + delay;
	w->timer = event_new(d->base, -1, EV_PERSIST, post_wait_cb, w);
	struct timeval tv = { 0, 50 * 1000 };
	event_add(w->timer, &tv);
}

/* The worker: the same update, its disks allocated here, the config written against the digest read. */
static int task_config(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid;
	if (!pve_json_int(args, "vmid", &vmid))
		return pve_error_set(err, EINVAL, "no vmid");
	const kvm_schema *s = qemu_schema(d);
	_cleanup_close_ int lock = -1;
	int r = qemu_lock_wait(d, vmid, QEMU_LOCK_TIMEOUT_MS, &lock, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	r = qemu_conf_load(d, vmid, &c, digest, err);
	if (r < 0)
		return r;
	const char *want = pve_json_str(args, "digest");
	if (want && !streq(want, digest))
		return pve_error_set_param(err, EINVAL, "digest", PVED_CFGEDIT_MODIFIED);
	qemu_update u = { .vmid = vmid };
	r = update_from_params(cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(args, "set"), true),
			       args, &u, err);
	_cleanup_free_ char *rundir = qemu_run_dir(d);
	kvm_proc p;
	u.running = kvm_proc_find(rundir, vmid, &p) == 1;
	if (r >= 0)
		r = update_apply(c, s, &u, err);
	if (r < 0 || !u.changed) {
		update_clear(&u);
		return r;
	}
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	char **made = NULL, **more = NULL;
	r = qemu_storage_cfg(d, &scfg, err);
	if (r >= 0)
		r = pved_guest_check_bases_unused(d, scfg, u.destroy, true, NULL, err);
	if (r >= 0)
		r = qemu_disks_allocate(d, scfg, vmid, c, NULL, NULL, &made, err);
	if (r >= 0)
		r = qemu_disks_allocate(d, scfg, vmid, c, KVM_SECTION_PENDING, NULL, &more, err);
	pve_error *hotplug_err = NULL;
	if (r >= 0 && u.running) {
		(void)qemu_hotplug_pending(d, vmid, c, scfg, &u.destroy, &hotplug_err);
		hotplug_cloudinit(d, vmid, c, scfg, &hotplug_err);
	}
	if (r >= 0)
		r = qemu_conf_write(d, vmid, c, digest, err);
	if (r >= 0 && hotplug_err) {
		qemu_disks_free(d, scfg, u.destroy, true);
		strv_free(made);
		strv_free(more);
		update_clear(&u);
		if (err && !*err)
			*err = hotplug_err;
		else
			pve_error_free(hotplug_err);
		return -EINVAL;
	}
	pve_error_free(hotplug_err);
	if (r < 0) {
		qemu_disks_free(d, scfg, made, true);
		qemu_disks_free(d, scfg, more, true);
	} else {
		printf("update VM %lld: done\n", vmid);
		qemu_disks_free(d, scfg, u.destroy, true);
	}
	strv_free(made);
	strv_free(more);
	update_clear(&u);
	return r;
}

const pved_task_kind pved_tasks_qemu_config[] = {
	{ "qmconfig", task_config },
	{ NULL, NULL },
};

const pved_handler pved_handlers_qemu_config[] = {
	{ "qemu_config_get", h_config_get },
	{ "qemu_config_put", h_config_put },
	{ "qemu_config_post", h_config_post },
	{ "qemu_pending", h_pending },
	{ NULL, NULL },
};

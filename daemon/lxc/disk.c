/* A container's volumes as a whole: template (vztemplate: each volume made a base volume), clone
 * (vzclone: full copies, or linked clones of a template's base volumes), resize (grow only: the
 * volume, then its ext4 with resize2fs), move_volume (a copy on another storage, or the volume handed
 * to another container) and feature. */
#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "daemon/core/guest.h"
#include "daemon/lxc/lxc-internal.h"

static bool family(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(key, prefix, n) == 0 && key[n] >= '0' && key[n] <= '9';
}

static bool mp_key(const char *key)
{
	return streq(key, "rootfs") || family(key, "mp");
}

static bool arg_true(const cJSON *args, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);
	return (cJSON_IsNumber(v) && v->valuedouble != 0) || cJSON_IsTrue(v);
}

/* A mount point's value with another volume (and size, when given). */
static char *with_volume(const char *value, const char *volid, uint64_t size)
{
	pve_buf b = { 0 };
	pve_buf_puts(&b, volid);
	const char *rest = value + strcspn(value, ",");
	for (const char *q = *rest ? rest + 1 : rest; *q;) {
		size_t n = strcspn(q, ",");
		bool drop = (n >= 7 && strncmp(q, "volume=", 7) == 0) ||
			    (size && n >= 5 && strncmp(q, "size=", 5) == 0);
		if (!drop) {
			pve_buf_puts(&b, ",");
			pve_buf_append(&b, q, n);
		}
		q += n + (q[n] == ',');
	}
	if (size) {
		_cleanup_free_ char *s = pve_format_size(size);
		pve_buf_printf(&b, ",size=%s", s);
	}
	return pve_buf_steal(&b);
}

static int open_volume(pved *d, const pve_sectioncfg *scfg, const char *vol, pve_storage *st,
		       char **volname, pve_error **err)
{
	int r = ct_volume_storage(d, scfg, vol, st, volname, err);
	if (r >= 0)
		r = pve_storage_activate(st, err);
	return r;
}

/* The bandwidth limit (KiB/s, 0: none) of a copy from vol's storage to sid: Proxmox's
 * get_bandwidth_limit for the operation, with the call's bwlimit and who made it (pved_guest_bwlimit). */
static long long copy_limit(pved *d, const pve_sectioncfg *scfg, const char *operation,
			    const char *vol, const char *sid, const cJSON *args)
{
	_cleanup_free_ char *from = xstrndup(vol, strcspn(vol, ":"));
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(args, "bwlimit");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(args, "bwlimit-privileged");
	return pved_guest_bwlimit(d, scfg, operation, (const char *const[]){ from, sid, NULL },
				  cJSON_IsNumber(b) ? (long long)b->valuedouble : -1,
				  cJSON_IsTrue(p));
}

/* A full copy of vol onto storage sid for vmid: the same format, the same size; at most limit KiB/s
 * when limit > 0 (a raw image's data by pve_copy_sparse, a subvolume through rsync --bwlimit as
 * Proxmox copies one; qemu-img convert -r counts an image's zeroes against the limit too). */
static int copy_volume(pved *d, const pve_sectioncfg *scfg, const char *vol, const char *sid,
		       long long vmid, long long limit, char **ret_volid, pve_error **err)
{
	pve_storage src, dst;
	_cleanup_free_ char *volname = NULL, *path = NULL, *fmt = NULL, *newname = NULL,
			    *newpath = NULL;
	uint64_t size = 0, used = 0;
	int r = open_volume(d, scfg, vol, &src, &volname, err);
	if (r >= 0)
		r = pve_storage_path(&src, volname, NULL, &path, err);
	if (r >= 0)
		r = pve_storage_volume_size(&src, volname, &size, &used, &fmt, err);
	if (r < 0)
		return r;
	bool subvol = fmt && streq(fmt, "subvol");
	if ((r = pve_storage_get(scfg, sid, &dst, err)) < 0 ||
	    (r = pve_storage_activate(&dst, err)) < 0)
		return r;
	if (!(dst.content & PVE_CONTENT_ROOTDIR))
		return pve_error_set_param(err, EINVAL, "storage",
					   "storage '%s' does not support container directories",
					   sid);
	r = pve_storage_alloc_image(&dst, vmid, subvol ? "subvol" : "raw", NULL, subvol ? 0 : size,
				    &newname, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *newvol = xasprintf("%s:%s", sid, newname);
	r = pve_storage_path(&dst, newname, NULL, &newpath, err);
	if (r >= 0) {
		printf("copying '%s' to '%s'\n", vol, newvol);
		if (limit > 0)
			printf("bandwidth limit: %lld KiB/s\n", limit);
		fflush(stdout);
		_cleanup_free_ char *from = xasprintf("%s/.", path), *tree = xasprintf("%s/", path),
				    *bw = xasprintf("--bwlimit=%lld", limit);
		const char *raw[] = { "cp", "--sparse=always", "--", path, newpath, NULL };
		const char *dir[] = { "cp", "-a", "--reflink=auto", "--", from, newpath, NULL };
		const char *dir_slow[] = {
			"rsync", "-aHAX", "--numeric-ids", "--sparse", "--one-file-system", bw,
			"--",	 tree,	  newpath,	   NULL
		};
		if (!subvol && limit > 0)
			/* the image's data into the file alloc_image made, its holes left holes */
			r = pve_copy_sparse(path, newpath, (uint64_t)limit * 1024, err);
		else
			r = pve_storage_run(subvol ? (limit > 0 ? dir_slow : dir) : raw, NULL, err);
	}
	if (r < 0) {
		(void)pve_storage_free_image(&dst, newname, NULL);
		return r;
	}
	*ret_volid = TAKE_PTR(newvol);
	return 0;
}

/* ---- template ---------------------------------------------------------------------------------------- */

static int task_template(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0;
	pve_json_int(args, "vmid", &vmid);
	_cleanup_close_ int lock = -1;
	int r = ct_lock_wait(d, vmid, &lock, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c = NULL;
	if ((r = ct_conf_load(d, vmid, &c, NULL, err)) < 0 || (r = ct_conf_check_lock(c, err)) < 0)
		return r;
	if (ct_conf_bool(c, NULL, "template", false))
		return pve_error_set(err, EINVAL, "you can't convert a template to a template");
	if (ct_running(d, vmid, NULL))
		return pve_error_set(err, EINVAL,
				     "you can't convert a CT to template if the CT is running");
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	if ((r = ct_storage_cfg(d, &scfg, err)) < 0)
		return r;
	_cleanup_strv_free_ char **keys = pve_config_keys(c, NULL);
	/* every volume checked first, as Proxmox's template_create: none converted when one can't be */
	for (char **k = keys; *k; k++) {
		_cleanup_free_ char *vol = mp_key(*k) ? ct_mp_volume(pve_config_get(c, NULL, *k)) :
							NULL;
		_cleanup_free_ char *volname = NULL;
		pve_storage st;
		if (!ct_volume_is_storage(vol))
			continue;
		if ((r = open_volume(d, scfg, vol, &st, &volname, err)) < 0)
			return r;
		if (!pve_storage_volume_has_feature(&st, PVE_FEATURE_TEMPLATE, volname, NULL))
			return pve_error_set(err, EINVAL,
					     "Template feature is not available for '%s'", vol);
	}
	for (char **k = keys; *k; k++) {
		if (!mp_key(*k))
			continue;
		const char *v = pve_config_get(c, NULL, *k);
		_cleanup_free_ char *vol = ct_mp_volume(v), *volname = NULL, *base = NULL;
		if (!ct_volume_is_storage(vol))
			continue;
		pve_storage st;
		if ((r = open_volume(d, scfg, vol, &st, &volname, err)) < 0 ||
		    (r = pve_storage_create_base(&st, volname, &base, err)) < 0)
			return r;
		_cleanup_free_ char *nv = xasprintf("%s:%s", st.id, base);
		_cleanup_free_ char *value = with_volume(v, nv, 0);
		pve_config_set(c, NULL, *k, value);
		printf("%s: base volume '%s'\n", *k, nv);
	}
	pve_config_set(c, NULL, "template", "1");
	return ct_conf_write(d, vmid, c, NULL, err);
}

static void h_template(pved_call *c)
{
	pve_error *err = NULL;
	long long vmid = pved_call_int(c, "vmid", 0);
	_cleanup_config_ pve_config *conf = NULL;
	if (ct_conf_load(c->d, vmid, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	if (ct_conf_bool(conf, NULL, "template", false)) {
		pve_error_set(&err, EINVAL, "you can't convert a template to a template");
		return pved_call_fail(c, err);
	}
	if (ct_running(c->d, vmid, NULL)) {
		pve_error_set(&err, EINVAL,
			      "you can't convert a CT to template if the CT is running");
		return pved_call_fail(c, err);
	}
	char id[32];
	snprintf(id, sizeof(id), "%lld", vmid);
	_cleanup_free_ char *upid = NULL;
	if (pved_task_start(c->d, "vztemplate", id, c->authid, cJSON_Duplicate(c->params, true),
			    &upid, &err) < 0)
		return pved_call_fail(c, err);
	/* Proxmox's template answers null: the task runs on */
	pved_call_reply(c, NULL);
}

/* ---- clone ------------------------------------------------------------------------------------------- */

static int task_clone(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0, newid = 0;
	pve_json_int(args, "vmid", &vmid);
	pve_json_int(args, "newid", &newid);
	const char *storage = pve_json_str(args, "storage"), *host = pve_json_str(args, "hostname");
	const char *snap = pve_json_str(args, "snapname"), *pool = pve_json_str(args, "pool");
	bool full = arg_true(args, "full");
	_cleanup_close_ int lock = -1;
	int r = ct_lock_wait(d, vmid, &lock, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *src = NULL;
	if ((r = ct_conf_load(d, vmid, &src, NULL, err)) < 0)
		return r;
	if (snap && !pve_config_has_section(src, snap))
		return pve_error_set(err, EINVAL, "snapshot '%s' does not exist", snap);
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	if ((r = ct_storage_cfg(d, &scfg, err)) < 0)
		return r;
	_cleanup_config_ pve_config *c = pve_config_new();
	_cleanup_strv_free_ char **made = strv_new();
	_cleanup_strv_free_ char **keys = pve_config_keys(src, snap);
	for (char **k = keys && r >= 0 ? keys : NULL; k && *k; k++) {
		if (streq(*k, "lock") || streq(*k, "parent") || streq(*k, "snaptime") ||
		    streq(*k, "snapstate") || streq(*k, "template") || family(*k, "unused"))
			continue;
		_cleanup_strv_free_ char **all = pve_config_get_all(src, snap, *k);
		for (char **v = all; *v; v++) {
			_cleanup_free_ char *value = NULL;
			_cleanup_free_ char *vol = mp_key(*k) ? ct_mp_volume(*v) : NULL;
			if (ct_volume_is_storage(vol)) {
				_cleanup_free_ char *newvol = NULL, *volname = NULL;
				if (full) {
					_cleanup_free_ char *sid = xstrndup(vol, strcspn(vol, ":"));
					const char *to = storage ? storage : sid;
					r = copy_volume(d, scfg, vol, to, newid,
							copy_limit(d, scfg, "clone", vol, to, args),
							&newvol, err);
				} else {
					pve_storage st;
					_cleanup_free_ char *nn = NULL;
					r = open_volume(d, scfg, vol, &st, &volname, err);
					if (r >= 0)
						r = pve_storage_clone_image(&st, volname, newid,
									    NULL, &nn, err);
					if (r >= 0)
						newvol = xasprintf("%s:%s", st.id, nn);
				}
				if (r < 0)
					break;
				strv_push(&made, xstrdup(newvol));
				value = with_volume(*v, newvol, 0);
			} else if (family(*k, "net")) {
				/* a clone gets MAC addresses of its own, as Proxmox's */
				char mac[18];
				_cleanup_free_ char *prefix = pved_mac_prefix(d);
				pve_random_mac(prefix, mac);
				pve_buf b = { 0 };
				for (const char *q = *v; *q;) {
					size_t n = strcspn(q, ",");
					if (strncmp(q, "hwaddr=", 7) != 0) {
						if (b.len)
							pve_buf_puts(&b, ",");
						pve_buf_append(&b, q, n);
					}
					q += n + (q[n] == ',');
				}
				pve_buf_printf(&b, ",hwaddr=%s", mac);
				value = pve_buf_steal(&b);
			} else {
				value = xstrdup(*v);
			}
			if (streq(*k, "hostname") && host)
				pve_config_set(c, NULL, *k, host);
			else if (startswith(*k, "lxc."))
				pve_config_add(c, NULL, *k, value);
			else
				pve_config_set(c, NULL, *k, value);
		}
		if (r < 0)
			break;
	}
	if (r >= 0 && host && !pve_config_get(c, NULL, "hostname"))
		pve_config_set(c, NULL, "hostname", host);
	_cleanup_free_ char *desc = pve_config_get_description(src, snap);
	if (desc)
		pve_config_set_description(c, NULL, desc);
	if (r >= 0)
		r = ct_conf_write(d, newid, c, NULL, err);
	if (r < 0) {
		ct_volumes_free(d, scfg, made, true);
		_cleanup_free_ char *path = ct_conf_path(d, newid);
		(void)pve_store_delete(d->store, path, NULL);
		return r;
	}
	pve_error *e = NULL;
	if (pool && pved_guest_pool_add(d, newid, pool, &e) < 0) {
		pved_task_warn("can't add CT %lld to pool '%s': %s", newid, pool, e->message);
		pve_error_free(e);
	}
	printf("cloned CT %lld to CT %lld\n", vmid, newid);
	return 0;
}

static void h_clone(pved_call *c)
{
	pved *d = c->d;
	pve_error *err = NULL;
	long long vmid = pved_call_int(c, "vmid", 0), newid = pved_call_int(c, "newid", 0);
	const char *pool = pved_call_str(c, "pool"), *storage = pved_call_str(c, "storage");
	const char *target = pved_call_str(c, "target");
	_cleanup_config_ pve_config *conf = NULL;
	if (ct_conf_load(d, vmid, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	bool tmpl = ct_conf_bool(conf, NULL, "template", false);
	bool full = pved_call_has(c, "full") ? pved_call_int(c, "full", 0) != 0 : !tmpl;
	if (target && !streq(target, d->node)) {
		pve_error_set_param(&err, EINVAL, "target", "no such cluster node '%s'", target);
		return pved_call_fail(c, err);
	}
	if (!full && !tmpl) {
		pve_error_set_param(&err, EINVAL, "full",
				    "linked clone feature for CT %lld is not available: not a "
				    "template",
				    vmid);
		return pved_call_fail(c, err);
	}
	if (!full) {
		_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
		if (ct_storage_cfg(d, &scfg, &err) < 0)
			return pved_call_fail(c, err);
		_cleanup_strv_free_ char **keys = pve_config_keys(conf, NULL);
		for (char **k = keys; *k; k++) {
			if (!mp_key(*k))
				continue;
			_cleanup_free_ char *vol = ct_mp_volume(pve_config_get(conf, NULL, *k));
			pve_storage st;
			_cleanup_free_ char *volname = NULL;
			pve_error *e = NULL;
			bool ok = ct_volume_is_storage(vol) &&
				  ct_volume_storage(d, scfg, vol, &st, &volname, &e) == 0 &&
				  pve_storage_volume_has_feature(&st, PVE_FEATURE_CLONE, volname,
								 NULL) &&
				  /* a container mounts raw or a subvolume: a file storage's linked
				   * clone of a raw base is qcow2 (Proxmox's valid_target_formats) */
				  !(endswith(volname, ".raw") && !streq(st.type, "btrfs"));
			pve_error_free(e);
			if (!ok) {
				pve_error_set_param(
					&err, EINVAL, "full",
					"linked clone feature for '%s' is not available "
					"(full=1 copies it)",
					vol ? vol : *k);
				return pved_call_fail(c, err);
			}
		}
	}
	if (!full && storage) {
		pve_error_set_param(&err, EINVAL, "storage",
				    "storage is not allowed for a linked clone");
		return pved_call_fail(c, err);
	}
	if (full && ct_running(d, vmid, NULL) && !pved_call_has(c, "snapname")) {
		pve_error_set(&err, EINVAL, "CT %lld is running: stop it or clone a snapshot of it",
			      vmid);
		return pved_call_fail(c, err);
	}
	if (pool && !pved_guest_pool_exists(d, pool)) {
		pve_error_set_param(&err, EINVAL, "pool", "pool '%s' does not exist", pool);
		return pved_call_fail(c, err);
	}
	if (storage && pved_guest_check_space(c, storage, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *owner = pved_guest_owner(d, newid);
	if (owner) {
		pve_error_set_param(
			&err, EINVAL, "newid",
			"unable to create CT %lld - CT %lld already exists on node '%s'", newid,
			newid, owner);
		return pved_call_fail(c, err);
	}
	_cleanup_free_ char *path = ct_conf_path(d, newid);
	static const char placeholder[] = "lock: create\n";
	if (pve_store_create(d->store, path, placeholder, strlen(placeholder), &err) < 0)
		return pved_call_fail(c, err);
	cJSON *args = cJSON_Duplicate(c->params, true);
	cJSON_DeleteItemFromObjectCaseSensitive(args, "full");
	cJSON_AddBoolToObject(args, "full", full);
	/* who may raise or lift the configured bandwidth limits (pved_guest_bwlimit) */
	cJSON_AddBoolToObject(args, "bwlimit-privileged",
			      pved_call_permitted(c, "/", "Sys.Modify"));
	char id[32];
	snprintf(id, sizeof(id), "%lld", vmid);
	_cleanup_free_ char *upid = NULL;
	if (pved_task_start(d, "vzclone", id, c->authid, args, &upid, &err) < 0) {
		(void)pve_store_delete(d->store, path, NULL);
		return pved_call_fail(c, err);
	}
	ct_refresh(d, newid);
	pved_call_reply(c, cJSON_CreateString(upid));
}

/* ---- resize ------------------------------------------------------------------------------------------ */

static int task_resize(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0;
	pve_json_int(args, "vmid", &vmid);
	const char *disk = pve_json_str(args, "disk"), *size = pve_json_str(args, "size");
	_cleanup_close_ int lock = -1;
	int r = ct_lock_wait(d, vmid, &lock, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	if ((r = ct_conf_load(d, vmid, &c, digest, err)) < 0 ||
	    (r = ct_conf_check_lock(c, err)) < 0)
		return r;
	const char *want = pve_json_str(args, "digest");
	if (want && !streq(want, digest))
		return pve_error_set(err, EINVAL, PVED_CFGEDIT_MODIFIED);
	const char *v = pve_config_get(c, NULL, disk);
	if (!v)
		return pve_error_set_param(err, EINVAL, "disk", "unable to parse config - %s",
					   disk);
	_cleanup_free_ char *vol = ct_mp_volume(v), *volname = NULL, *path = NULL, *fmt = NULL;
	if (!ct_volume_is_storage(vol))
		return pve_error_set_param(err, EINVAL, "disk", "%s is not a storage volume", disk);
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	pve_storage st;
	uint64_t cur = 0, used = 0, n = 0;
	if ((r = ct_storage_cfg(d, &scfg, err)) < 0 ||
	    (r = open_volume(d, scfg, vol, &st, &volname, err)) < 0 ||
	    (r = pve_storage_volume_size(&st, volname, &cur, &used, &fmt, err)) < 0 ||
	    (r = pve_storage_path(&st, volname, NULL, &path, err)) < 0)
		return r;
	bool plus = size[0] == '+';
	if (pve_parse_size(size + plus, &n) < 0)
		return pve_error_set_param(err, EINVAL, "size", "unable to parse size '%s'", size);
	uint64_t newsize = plus ? cur + n : n;
	if (newsize < cur)
		return pve_error_set_param(err, EINVAL, "size", "shrinking disks is not supported");
	if (newsize == cur) {
		printf("%s already has that size\n", disk);
		return 0;
	}
	printf("resizing %s to %llu bytes\n", disk, (unsigned long long)newsize);
	if ((r = pve_storage_volume_resize(&st, volname, newsize, err)) < 0)
		return r;
	if (!fmt || !streq(fmt, "subvol")) {
		/* the file system grows with it: offline on the image, online on its loop device */
		_cleanup_free_ char *mnt =
			ct_mount_dir(d, vmid, streq(disk, "rootfs") ? "rootfs" : disk);
		_cleanup_free_ char *dev = NULL;
		if (ct_running(d, vmid, NULL)) {
			const char *find[] = { "losetup", "-j", path, "-O", "NAME", "-n", NULL };
			if ((r = pve_storage_run(find, &dev, err)) < 0)
				return r;
			dev[strcspn(dev, "\n")] = 0;
			const char *cap[] = { "losetup", "-c", dev, NULL };
			if ((r = pve_storage_run(cap, NULL, err)) < 0)
				return r;
		} else {
			const char *fsck[] = { "e2fsck", "-f", "-y", path, NULL };
			(void)pve_storage_run(fsck, NULL, NULL);
		}
		const char *grow[] = { "resize2fs", dev ? dev : path, NULL };
		if ((r = pve_storage_run(grow, NULL, err)) < 0)
			return r;
	}
	_cleanup_free_ char *value = with_volume(v, vol, newsize);
	pve_config_set(c, NULL, disk, value);
	return ct_conf_write(d, vmid, c, NULL, err);
}

static void h_resize(pved_call *c)
{
	pve_error *err = NULL;
	long long vmid = pved_call_int(c, "vmid", 0);
	const char *disk = pved_call_str(c, "disk");
	_cleanup_config_ pve_config *conf = NULL;
	if (ct_conf_load(c->d, vmid, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	if (!mp_key(disk) || !pve_config_get(conf, NULL, disk)) {
		pve_error_set_param(&err, EINVAL, "disk", "unable to parse config - %s", disk);
		return pved_call_fail(c, err);
	}
	const char *size = pved_call_str(c, "size");
	uint64_t n;
	if (pve_parse_size(size + (size[0] == '+'), &n) < 0) {
		pve_error_set_param(&err, EINVAL, "size", "unable to parse size '%s'", size);
		return pved_call_fail(c, err);
	}
	char id[32];
	snprintf(id, sizeof(id), "%lld", vmid);
	_cleanup_free_ char *upid = NULL;
	if (pved_task_start(c->d, "vzresize", id, c->authid, cJSON_Duplicate(c->params, true),
			    &upid, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

/* ---- move_volume to another container (Proxmox's reassign): the volume renamed to the target's, its
 * key moved from one config to the other ---- */

typedef struct reassign {
	long long vmid, target;
	const char *key, *tkey; /* tkey: target-volume, else key */
} reassign;

static void reassign_of(const cJSON *args, reassign *ra)
{
	ra->vmid = ra->target = 0;
	pve_json_int(args, "vmid", &ra->vmid);
	pve_json_int(args, "target-vmid", &ra->target);
	ra->key = pve_json_str(args, "volume");
	ra->tkey = pve_json_str(args, "target-volume");
	if (!ra->tkey)
		ra->tkey = ra->key;
}

/* Proxmox's load_and_check_reassign_configs: the checks before and again under both locks. The
 * storage of the volume in *ret_sid. */
static int reassign_check(pved *d, const reassign *ra, const pve_config *src, const char *digest,
			  const pve_config *dst, const char *tdigest, const cJSON *args,
			  const pve_sectioncfg *scfg, char **ret_sid, pve_error **err)
{
	if (streq(ra->key, "rootfs") || streq(ra->tkey, "rootfs"))
		return pve_error_set(err, EINVAL, "Cannot move to/from 'rootfs'");
	bool unused = family(ra->key, "unused"), tunused = family(ra->tkey, "unused");
	if (!tunused && !family(ra->tkey, "mp"))
		return pve_error_set_param(err, EINVAL, "target-volume", "invalid volume key '%s'",
					   ra->tkey);
	if (unused && !tunused)
		return pve_error_set(err, EINVAL,
				     "Moving an unused volume to a used one is not possible");
	if (ct_conf_bool(src, NULL, "template", false) ||
	    ct_conf_bool(dst, NULL, "template", false))
		return pve_error_set(err, EINVAL, "Can't move volumes from or to template CT");
	int r = ct_conf_check_lock(src, err);
	if (r >= 0)
		r = ct_conf_check_lock(dst, err);
	if (r < 0)
		return r;
	const char *want = pve_json_str(args, "digest");
	if (want && !streq(want, digest))
		return pve_error_set(err, EINVAL, "Container %lld: %s", ra->vmid,
				     PVED_CFGEDIT_MODIFIED);
	want = pve_json_str(args, "target-digest");
	if (want && !streq(want, tdigest))
		return pve_error_set(err, EINVAL, "Container %lld: %s", ra->target,
				     PVED_CFGEDIT_MODIFIED);
	const char *value = pve_config_get(src, NULL, ra->key);
	if (!value)
		return pve_error_set(err, EINVAL, "volume '%s' for container '%lld' does not exist",
				     ra->key, ra->vmid);
	if (pve_config_get(dst, NULL, ra->tkey) ||
	    pve_config_get(dst, CT_SECTION_PENDING, ra->tkey))
		return pve_error_set(
			err, EINVAL,
			"Target volume key '%s' is already in use for container '%lld'", ra->tkey,
			ra->target);
	_cleanup_free_ char *vol = ct_mp_volume(value);
	if (!vol || !*vol)
		return pve_error_set(err, EINVAL, "Volume '%s' has no associated image", ra->key);
	if (!ct_volume_is_storage(vol))
		return pve_error_set(
			err, EINVAL,
			"Cannot move a bindmount or device mount to another container");
	if (ct_volume_referenced(src, vol, NULL, false))
		return pve_error_set(err, EINVAL,
				     "Cannot move volume used by a snapshot to another container");
	_cleanup_free_ char *sid = xstrndup(vol, strcspn(vol, ":"));
	pve_storage st;
	if (pve_storage_get(scfg, sid, &st, NULL) < 0 ||
	    !pve_storage_volume_has_feature(&st, PVE_FEATURE_RENAME, vol + strlen(sid) + 1, NULL))
		return pve_error_set(err, EINVAL,
				     "Storage does not support moving of this disk to another "
				     "container");
	if (!unused && ct_running(d, ra->vmid, NULL))
		return pve_error_set(err, EINVAL,
				     "Cannot move in-use volume while the source CT is running - "
				     "detach or shutdown first");
	if (ret_sid)
		*ret_sid = TAKE_PTR(sid);
	return 0;
}

static void h_reassign(pved_call *c)
{
	pved *d = c->d;
	pve_error *err = NULL;
	reassign ra;
	reassign_of(c->params, &ra);
	if (ra.target == ra.vmid && streq(ra.key, ra.tkey)) {
		pve_error_set_param(&err, EINVAL, "target-volume",
				    "the volume is already '%s' of container %lld", ra.key,
				    ra.vmid);
		return pved_call_fail(c, err);
	}
	_cleanup_free_ char *tacl = xasprintf("/vms/%lld", ra.target);
	if (!pved_call_permitted(c, tacl, "VM.Config.Disk")) {
		pve_error_set(&err, EACCES, "Permission check failed (%s, VM.Config.Disk)", tacl);
		return pved_call_fail(c, err);
	}
	_cleanup_config_ pve_config *src = NULL, *dst = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1], tdigest[PVE_STORE_DIGEST_LEN + 1];
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	_cleanup_free_ char *sid = NULL;
	if (ct_conf_load(d, ra.vmid, &src, digest, &err) < 0 ||
	    ct_conf_load(d, ra.target, &dst, tdigest, &err) < 0 ||
	    ct_storage_cfg(d, &scfg, &err) < 0 ||
	    reassign_check(d, &ra, src, digest, dst, tdigest, c->params, scfg, &sid, &err) < 0)
		return pved_call_fail(c, err);
	if (pved_guest_check_space(c, sid, &err) < 0)
		return pved_call_fail(c, err);
	/* Proxmox's task id: both ends */
	_cleanup_free_ char *id = xasprintf("%lld-%s>%lld-%s", ra.vmid, ra.key, ra.target, ra.tkey),
			    *upid = NULL;
	if (pved_task_start(d, "move_volume", id, c->authid, cJSON_Duplicate(c->params, true),
			    &upid, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

/* The reassign task: both per-CT locks (the lower vmid first), the checks again, the volume renamed,
 * the target's config written first, then the source's; a failure puts the volume back. */
static int task_reassign(pved *d, const cJSON *args, pve_error **err)
{
	reassign ra;
	reassign_of(args, &ra);
	bool one = ra.vmid == ra.target;
	_cleanup_close_ int l1 = -1, l2 = -1;
	int r = ct_lock_wait(d, ra.vmid < ra.target ? ra.vmid : ra.target, &l1, err);
	if (r >= 0 && !one)
		r = ct_lock_wait(d, ra.vmid < ra.target ? ra.target : ra.vmid, &l2, err);
	_cleanup_config_ pve_config *src = NULL, *other = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1], tdigest[PVE_STORE_DIGEST_LEN + 1];
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	if (r >= 0)
		r = ct_conf_load(d, ra.vmid, &src, digest, err);
	if (r >= 0 && !one)
		r = ct_conf_load(d, ra.target, &other, tdigest, err);
	pve_config *dst = one ? src : other;
	if (one)
		memcpy(tdigest, digest, sizeof(digest));
	if (r >= 0)
		r = ct_storage_cfg(d, &scfg, err);
	if (r >= 0)
		r = reassign_check(d, &ra, src, digest, dst, tdigest, args, scfg, NULL, err);
	if (r < 0)
		return r;
	printf("moving volume '%s' from container '%lld' to '%lld'\n", ra.key, ra.vmid, ra.target);
	const char *value = pve_config_get(src, NULL, ra.key);
	_cleanup_free_ char *vol = ct_mp_volume(value), *volname = NULL, *newname = NULL;
	pve_storage st;
	r = ct_volume_storage(d, scfg, vol, &st, &volname, err);
	if (r >= 0)
		r = pve_storage_rename_volume(&st, volname, ra.target, NULL, &newname, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *newvol = xasprintf("%s:%s", st.id, newname);
	_cleanup_free_ char *nv = family(ra.tkey, "unused") ? xstrdup(newvol) :
							      with_volume(value, newvol, 0);
	pve_config_delete(src, NULL, ra.key);
	printf("removing volume '%s' from container '%lld' config\n", ra.key, ra.vmid);
	/* a running target gets the mount point as a pending change, as any change of its config */
	bool pending = !family(ra.tkey, "unused") && ct_running(d, ra.target, NULL);
	pve_config_set(dst, pending ? CT_SECTION_PENDING : NULL, ra.tkey, nv);
	if (one) {
		r = ct_conf_write(d, ra.vmid, src, digest, err);
	} else {
		r = ct_conf_write(d, ra.target, dst, tdigest, err);
		if (r >= 0 && (r = ct_conf_write(d, ra.vmid, src, digest, err)) < 0) {
			pve_config_delete(dst, pending ? CT_SECTION_PENDING : NULL, ra.tkey);
			(void)ct_conf_write(d, ra.target, dst, NULL, NULL);
		}
	}
	if (r < 0) {
		/* the volume goes back to its container, under its old name */
		_cleanup_free_ char *back = NULL;
		const char *base = strrchr(volname, '/');
		(void)pve_storage_rename_volume(&st, newname, ra.vmid, base ? base + 1 : volname,
						&back, NULL);
		return r;
	}
	printf("target container '%lld' updated with '%s'%s\n", ra.target, ra.tkey,
	       pending ? " (pending: it is running)" : "");
	return 0;
}

/* ---- move_volume ------------------------------------------------------------------------------------- */

static int task_move(pved *d, const cJSON *args, pve_error **err)
{
	if (cJSON_GetObjectItemCaseSensitive(args, "target-vmid"))
		return task_reassign(d, args, err);
	long long vmid = 0;
	pve_json_int(args, "vmid", &vmid);
	const char *key = pve_json_str(args, "volume"), *sid = pve_json_str(args, "storage");
	_cleanup_close_ int lock = -1;
	int r = ct_lock_wait(d, vmid, &lock, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c = NULL;
	if ((r = ct_conf_load(d, vmid, &c, NULL, err)) < 0 || (r = ct_conf_check_lock(c, err)) < 0)
		return r;
	if (ct_running(d, vmid, NULL))
		return pve_error_set(err, EINVAL, "cannot move volumes of a running container");
	const char *v = pve_config_get(c, NULL, key);
	_cleanup_free_ char *vol = v ? ct_mp_volume(v) : NULL, *newvol = NULL;
	if (!ct_volume_is_storage(vol))
		return pve_error_set_param(err, EINVAL, "volume", "'%s' is not a storage volume",
					   key);
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	if ((r = ct_storage_cfg(d, &scfg, err)) < 0 ||
	    (r = copy_volume(d, scfg, vol, sid, vmid, copy_limit(d, scfg, "move", vol, sid, args),
			     &newvol, err)) < 0)
		return r;
	_cleanup_free_ char *value = with_volume(v, newvol, 0);
	pve_config_set(c, NULL, key, value);
	bool del = arg_true(args, "delete");
	if (!del) {
		for (int i = 0; i < LXC_MAX_UNUSED; i++) {
			char u[16];
			snprintf(u, sizeof(u), "unused%d", i);
			if (!pve_config_get(c, NULL, u)) {
				pve_config_set(c, NULL, u, vol);
				break;
			}
		}
	}
	if ((r = ct_conf_write(d, vmid, c, NULL, err)) < 0) {
		char *one[] = { newvol, NULL };
		ct_volumes_free(d, scfg, one, true);
		return r;
	}
	if (del) {
		char *one[] = { vol, NULL };
		ct_volumes_free(d, scfg, one, true);
	}
	return 0;
}

static void h_move(pved_call *c)
{
	pve_error *err = NULL;
	long long vmid = pved_call_int(c, "vmid", 0);
	const char *key = pved_call_str(c, "volume"), *sid = pved_call_str(c, "storage");
	bool to_ct = pved_call_has(c, "target-vmid");
	if (to_ct == (sid != NULL)) {
		/* Proxmox's raise_param_exc with both */
		const char *msg =
			to_ct ? "either set 'storage' or 'target-vmid', but not both" :
				"both 'storage' and 'target-vmid' missing, either needs to "
				"be set";
		cJSON *errors = cJSON_CreateObject();
		cJSON_AddStringToObject(errors, "target-vmid", msg);
		cJSON_AddStringToObject(errors, "storage", msg);
		return pved_call_fail_errors(c, errors);
	}
	if (to_ct)
		return h_reassign(c);
	_cleanup_config_ pve_config *conf = NULL;
	if (ct_conf_load(c->d, vmid, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	if (!mp_key(key) || !pve_config_get(conf, NULL, key)) {
		pve_error_set_param(&err, EINVAL, "volume", "unable to find volume '%s'", key);
		return pved_call_fail(c, err);
	}
	if (pved_guest_check_space(c, sid, &err) < 0)
		return pved_call_fail(c, err);
	char id[32];
	snprintf(id, sizeof(id), "%lld", vmid);
	_cleanup_free_ char *upid = NULL;
	cJSON *args = cJSON_Duplicate(c->params, true);
	cJSON_AddBoolToObject(args, "bwlimit-privileged",
			      pved_call_permitted(c, "/", "Sys.Modify"));
	if (pved_task_start(c->d, "move_volume", id, c->authid, args, &upid, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

/* ---- feature ----------------------------------------------------------------------------------------- */

static void h_feature(pved_call *c)
{
	pve_error *err = NULL;
	long long vmid = pved_call_int(c, "vmid", 0);
	const char *feature = pved_call_str(c, "feature"), *snap = pved_call_str(c, "snapname");
	_cleanup_config_ pve_config *conf = NULL;
	if (ct_conf_load(c->d, vmid, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	if (snap && !pve_config_has_section(conf, snap)) {
		pve_error_set(&err, EINVAL, "snapshot '%s' does not exist", snap);
		return pved_call_fail(c, err);
	}
	pve_volume_feature f = streq(feature, "snapshot") ? PVE_FEATURE_SNAPSHOT :
			       streq(feature, "clone")	  ? PVE_FEATURE_CLONE :
							    PVE_FEATURE_COPY;
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	if (ct_storage_cfg(c->d, &scfg, &err) < 0)
		return pved_call_fail(c, err);
	bool has = true;
	_cleanup_strv_free_ char **keys = pve_config_keys(conf, snap);
	for (char **k = keys; *k && has; k++) {
		if (!mp_key(*k))
			continue;
		_cleanup_free_ char *vol = ct_mp_volume(pve_config_get(conf, snap, *k));
		pve_storage st;
		_cleanup_free_ char *volname = NULL;
		pve_error *e = NULL;
		has = ct_volume_is_storage(vol) &&
		      ct_volume_storage(c->d, scfg, vol, &st, &volname, &e) == 0 &&
		      pve_storage_volume_has_feature(&st, f, volname, snap);
		pve_error_free(e);
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "hasFeature", has);
	cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
	if (has)
		cJSON_AddItemToArray(nodes, cJSON_CreateString(c->d->node));
	pved_call_reply(c, o);
}

const pved_task_kind pved_tasks_lxc_disk[] = {
	{ "vztemplate", task_template },
	{ "vzclone", task_clone },
	{ "vzresize", task_resize },
	{ "move_volume", task_move },
	{ NULL, NULL },
};

const pved_handler pved_handlers_lxc_disk[] = {
	{ "lxc_template", h_template }, { "lxc_clone", h_clone },     { "lxc_resize", h_resize },
	{ "lxc_move_volume", h_move },	{ "lxc_feature", h_feature }, { NULL, NULL },
};

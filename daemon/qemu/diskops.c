/* Operations on one disk of a VM, as Proxmox has them: PUT .../resize (a `resize` task: grow only,
 * through QEMU's block_resize while the VM runs, through storage/ else), POST .../move_disk (a `qmmove`
 * task: a copy on another storage or in another format, by qemu-img convert or, while the VM runs,
 * QEMU's drive-mirror switched over at its end), PUT .../unlink (the config edit's deletion), and
 * GET .../feature (whether every disk's storage can snapshot, clone or copy). */
#include <cjson/cJSON.h>
#include <math.h>

#include "daemon/core/guest.h"
#include "daemon/core/tasks-internal.h"
#include "daemon/qemu/ops-internal.h"

static bool arg_bool(const cJSON *args, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	return (cJSON_IsNumber(v) && v->valuedouble != 0) || cJSON_IsTrue(v);
}

static long long arg_vmid_of(const cJSON *args)
{
	long long v = 0;
	pve_json_int(args, "vmid", &v);
	return v;
}

static void start(pved_call *c, const char *type, cJSON *args)
{
	pve_error *err = NULL;
	_cleanup_free_ char *id = xasprintf("%lld", pved_call_int(c, "vmid", 0)), *upid = NULL;
	if (pved_task_start(c->d, type, id, c->authid, args, &upid, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

/* What a disk operation checks first, on the loop and again in its task: the config's digest and lock,
 * a disk with a volume of its own. */
static int disk_check(const pve_config *c, const char *digest, const char *want_digest,
		      bool skiplock, const char *disk, const char *verb, pve_error **err)
{
	if (want_digest && !streq(want_digest, digest))
		return pve_error_set_param(err, EINVAL, "digest", PVED_CFGEDIT_MODIFIED);
	int r;
	if (!skiplock && (r = qemu_conf_check_lock(c, err)) < 0)
		return r;
	const char *v = pve_config_get(c, NULL, disk);
	if (!v)
		return pve_error_set_param(err, EINVAL, "disk", "disk '%s' does not exist", disk);
	if (strstr(v, "media=cdrom") || streq(v, "cdrom") || startswith(v, "cdrom,"))
		return pve_error_set_param(err, EINVAL, "disk", "you can't %s a cdrom", verb);
	if (streq(v, "none") || startswith(v, "none,"))
		return pve_error_set_param(err, EINVAL, "disk",
					   "disk '%s' has no associated volume", disk);
	return 0;
}

/* ---- resize ------------------------------------------------------------------------------------------ */

/* `[+]N[.N][KMGT]` against the current size, as Proxmox's resize_vm computes it. */
static int new_size(const char *s, uint64_t cur, uint64_t *ret, pve_error **err)
{
	bool add = s[0] == '+';
	char *end = NULL;
	errno = 0;
	double v = strtod(s + add, &end);
	if (errno || end == s + add || v < 0 || !isfinite(v))
		return pve_error_set_param(err, EINVAL, "size", "invalid size '%s'", s);
	static const char units[] = "KMGT";
	if (*end) {
		const char *u = strchr(units, *end);
		if (!u || end[1])
			return pve_error_set_param(err, EINVAL, "size", "invalid size '%s'", s);
		for (const char *p = units; p <= u; p++)
			v *= 1024;
	}
	/* a limit on what a client can ask: 1 PiB */
	if (v > (double)(1ULL << 50))
		return pve_error_set_param(err, EINVAL, "size", "size '%s' is too large", s);
	uint64_t n = (uint64_t)v + (add ? cur : 0);
	if (n < cur)
		return pve_error_set_param(err, EINVAL, "size", "shrinking disks is not supported");
	*ret = n;
	return 0;
}

static uint64_t drive_size(pved *d, const char *key, const char *value)
{
	kvm_drive drv;
	if (kvm_drive_parse(qemu_schema(d), key, value, &drv, NULL) < 0)
		return 0;
	uint64_t s = drv.size;
	kvm_drive_clear(&drv);
	return s;
}

static int storage_perm(pved_call *c, const char *volid, pve_error **err)
{
	if (volid[0] == '/' || !strchr(volid, ':'))
		return 0;
	_cleanup_free_ char *sid = xstrndup(volid, strcspn(volid, ":"));
	return pved_guest_check_space(c, sid, err);
}

static void h_resize(pved_call *c)
{
	pve_error *err = NULL;
	long long vmid = pved_call_int(c, "vmid", 0);
	const char *disk = pved_call_str(c, "disk");
	bool skiplock = pved_call_int(c, "skiplock", 0) != 0;
	if (skiplock && !streq(c->authid, "root@pam")) {
		pve_error_set_param(&err, EINVAL, "skiplock", "Only root may use this option.");
		return pved_call_fail(c, err);
	}
	_cleanup_config_ pve_config *conf = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	if (qemu_conf_load(c->d, vmid, &conf, digest, &err) < 0 ||
	    disk_check(conf, digest, pved_call_str(c, "digest"), skiplock, disk, "resize", &err) <
		    0)
		return pved_call_fail(c, err);
	const char *value = pve_config_get(conf, NULL, disk);
	_cleanup_free_ char *volid = qemu_ops_drive_volid(c->d, disk, value);
	uint64_t n;
	/* the size the config records; the task checks against the volume's own */
	if (!volid || storage_perm(c, volid, &err) < 0 ||
	    new_size(pved_call_str(c, "size"), drive_size(c->d, disk, value), &n, &err) < 0) {
		if (!err)
			pve_error_set_param(&err, EINVAL, "disk", "disk '%s' has no volume", disk);
		return pved_call_fail(c, err);
	}
	start(c, "resize", cJSON_Duplicate(c->params, true));
}

static int task_resize(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0;
	pve_json_int(args, "vmid", &vmid);
	const char *disk = pve_json_str(args, "disk"), *size = pve_json_str(args, "size");
	_cleanup_close_ int lock = -1;
	int r = qemu_lock_wait(d, vmid, QEMU_LOCK_TIMEOUT_MS, &lock, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	r = qemu_conf_load(d, vmid, &c, digest, err);
	if (r < 0 || (r = disk_check(c, digest, pve_json_str(args, "digest"),
				     arg_bool(args, "skiplock"), disk, "resize", err)) < 0)
		return r;
	const char *value = pve_config_get(c, NULL, disk);
	_cleanup_free_ char *volid = qemu_ops_drive_volid(d, disk, value);
	if (!volid || volid[0] == '/')
		return pve_error_set(err, EINVAL, "disk '%s' has no volume of a storage", disk);
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	r = qemu_storage_cfg(d, &scfg, err);
	if (r < 0)
		return r;
	qemu_vol v;
	r = qemu_vol_open(d, scfg, volid, &v, err);
	if (r < 0)
		return r;
	uint64_t cur = 0, n = 0;
	kvm_qmp_sync *q = NULL;
	/* a running QEMU holds its images: it tells their size and resizes them */
	if (qemu_ops_running(d, vmid, NULL)) {
		r = qemu_ops_monitor(d, vmid, &q, err);
		if (r >= 0)
			r = kvm_qmp_drive_size(q, disk, &cur, err);
	} else {
		r = pve_storage_volume_size(&v.st, v.volname, &cur, NULL, NULL, err);
	}
	if (r >= 0)
		r = new_size(size, cur, &n, err);
	/* QEMU and qemu-img take whole sectors */
	n = (n + 511) / 512 * 512;
	if (r >= 0 && n == cur) {
		printf("disk '%s' already has the size %llu\n", disk, (unsigned long long)n);
	} else if (r >= 0 && q) {
		cJSON *a = cJSON_CreateObject();
		_cleanup_free_ char *dev = xasprintf("drive-%s", disk);
		cJSON_AddStringToObject(a, "device", dev);
		cJSON_AddNumberToObject(a, "size", (double)n);
		r = kvm_qmp_sync_command(q, "block_resize", a, 60000, NULL, err);
	} else if (r >= 0) {
		r = pve_storage_volume_resize(&v.st, v.volname, n, err);
	}
	kvm_qmp_sync_close(q);
	qemu_vol_clear(&v);
	if (r < 0 || n == cur)
		return r;
	_cleanup_free_ char *nv = qemu_ops_drive_with(d, disk, value, volid, n, NULL);
	if (!nv)
		return pve_error_set(err, EIO, "%s: can't print the drive", disk);
	pve_config_set(c, NULL, disk, nv);
	r = qemu_conf_write(d, vmid, c, digest, err);
	if (r >= 0)
		printf("update VM %lld: resize --disk %s --size %s\n", vmid, disk, size);
	return r;
}

/* ---- move_disk --------------------------------------------------------------------------------------- */

static bool used_by_snapshot(pved *d, const pve_config *c, const char *volid)
{
	_cleanup_strv_free_ char **secs = pve_config_sections(c);
	for (char **s = secs; *s; s++) {
		if (streq(*s, KVM_SECTION_PENDING) || startswith(*s, "special:"))
			continue;
		_cleanup_strv_free_ char **keys = qemu_ops_disk_keys(c, *s, false);
		for (char **k = keys; *k; k++) {
			_cleanup_free_ char *v =
				qemu_ops_drive_volid(d, *k, pve_config_get(c, *s, *k));
			if (v && streq(v, volid))
				return true;
		}
	}
	return false;
}

static int move_check(pved *d, const pve_config *c, const char *digest, const cJSON *args,
		      const pve_sectioncfg *scfg, pve_error **err)
{
	const char *disk = pve_json_str(args, "disk"), *storage = pve_json_str(args, "storage");
	const char *format = pve_json_str(args, "format");
	int r = disk_check(c, digest, pve_json_str(args, "digest"), false, disk, "move", err);
	if (r < 0)
		return r;
	const char *td = pve_json_str(args, "target-disk");
	if (td && !streq(td, disk))
		return pve_error_set_param(err, EINVAL, "target-disk",
					   "moving a disk to another key is not supported by pved "
					   "yet");
	if (!storage)
		return pve_error_set_param(err, EINVAL, "storage",
					   "parameter is required to move a disk within a VM");
	pve_storage st;
	if (pve_storage_get(scfg, storage, &st, NULL) < 0)
		return pve_error_set_param(err, EINVAL, "storage", "storage '%s' does not exist",
					   storage);
	if (pve_storage_check_content(&st, PVE_CONTENT_IMAGES, NULL) < 0)
		return pve_error_set_param(err, EINVAL, "storage",
					   "storage '%s' does not support content type 'images'",
					   storage);
	if (format) {
		bool ok = false;
		for (const char *const *f = st.plugin->formats; f && *f; f++)
			ok |= streq(*f, format);
		if (!ok)
			return pve_error_set_param(err, EINVAL, "format",
						   "storage '%s' does not support format '%s'",
						   storage, format);
	}
	_cleanup_free_ char *volid = qemu_ops_drive_volid(d, disk, pve_config_get(c, NULL, disk));
	if (!volid || volid[0] == '/')
		return pve_error_set_param(err, EINVAL, "disk", "disk '%s' has no volume", disk);
	_cleanup_free_ char *sid = xstrndup(volid, strcspn(volid, ":"));
	pve_volname vn = { 0 };
	pve_storage src;
	const char *oldfmt = NULL;
	if (pve_storage_get(scfg, sid, &src, NULL) == 0 &&
	    pve_storage_volume_parse(&src, volid + strlen(sid) + 1, &vn, NULL) == 0)
		oldfmt = vn.format;
	bool same = streq(sid, storage) && (!format || !oldfmt || streq(format, oldfmt));
	pve_volname_clear(&vn);
	if (same)
		return pve_error_set_param(err, EINVAL, "storage",
					   "you can't move to the same storage with same format");
	if (arg_bool(args, "delete") && used_by_snapshot(d, c, volid))
		return pve_error_set_param(err, EINVAL, "delete",
					   "you can't move a disk with snapshots and delete the "
					   "source");
	return 0;
}

/* ---- move_disk to another VM (Proxmox's reassign): the volume renamed to the target's, the key moved
 * from one config to the other. A running source may give only an unused disk; a running target
 * gets the disk as a change of its config, hot-plugged as a PUT's would be ---- */

static bool reassign_target(const cJSON *args, long long *ret)
{
	long long tv = 0;
	if (!pve_json_int(args, "target-vmid", &tv) || tv == arg_vmid_of(args))
		return false;
	*ret = tv;
	return true;
}

static int reassign_check(pved *d, const pve_config *src, const char *digest, long long target,
			  const pve_config *dst, const char *tdigest, const cJSON *args,
			  const pve_sectioncfg *scfg, pve_error **err)
{
	const char *disk = pve_json_str(args, "disk");
	int r = disk_check(src, digest, pve_json_str(args, "digest"), false, disk, "move", err);
	if (r < 0)
		return r;
	if (pve_json_str(args, "storage") || pve_json_str(args, "format"))
		return pve_error_set_param(
			err, EINVAL, "target-vmid",
			"'target-vmid' can't be used with 'storage' or 'format'");
	const char *want = pve_json_str(args, "target-digest");
	if (want && !streq(want, tdigest))
		return pve_error_set_param(err, EINVAL, "target-digest", PVED_CFGEDIT_MODIFIED);
	if ((r = qemu_conf_check_lock(dst, err)) < 0)
		return r;
	const char *td = pve_json_str(args, "target-disk");
	if (!td)
		td = disk;
	if (!kvm_drive_key(td, true, NULL, NULL))
		return pve_error_set_param(err, EINVAL, "target-disk", "invalid disk key '%s'", td);
	if (pve_config_get(dst, NULL, td) || pve_config_get(dst, KVM_SECTION_PENDING, td))
		return pve_error_set_param(err, EINVAL, "target-disk",
					   "key '%s' is already in use in VM %lld", td, target);
	if (kvm_config_bool(src, NULL, "template", false) ||
	    kvm_config_bool(dst, NULL, "template", false))
		return pve_error_set_param(err, EINVAL, "target-vmid",
					   "can't reassign disks of templates");
	_cleanup_free_ char *volid = qemu_ops_drive_volid(d, disk, pve_config_get(src, NULL, disk));
	if (!volid || volid[0] == '/')
		return pve_error_set_param(err, EINVAL, "disk", "disk '%s' has no volume", disk);
	if (used_by_snapshot(d, src, volid))
		return pve_error_set_param(err, EINVAL, "disk",
					   "can't reassign a disk that is part of a snapshot");
	/* a running target gets it as a change (hot-plugged where it can); a running source keeps
	 * the disk its QEMU uses */
	if (!startswith(disk, "unused") && qemu_ops_running(d, arg_vmid_of(args), NULL))
		return pve_error_set_param(err, EINVAL, "disk",
					   "Cannot move disk to another VM while the source VM is "
					   "running - detach first");
	_cleanup_free_ char *sid = xstrndup(volid, strcspn(volid, ":"));
	pve_storage st;
	if (pve_storage_get(scfg, sid, &st, NULL) < 0 ||
	    !pve_storage_volume_has_feature(&st, PVE_FEATURE_RENAME, volid + strlen(sid) + 1, NULL))
		return pve_error_set_param(err, EINVAL, "disk",
					   "storage '%s' can't rename volume '%s'", sid, volid);
	return 0;
}

static void h_reassign(pved_call *c, long long target, const pve_config *src, const char *digest,
		       const pve_sectioncfg *scfg)
{
	pve_error *err = NULL;
	_cleanup_config_ pve_config *dst = NULL;
	char tdigest[PVE_STORE_DIGEST_LEN + 1];
	if (qemu_conf_load(c->d, target, &dst, tdigest, &err) < 0 ||
	    reassign_check(c->d, src, digest, target, dst, tdigest, c->params, scfg, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *acl = xasprintf("/vms/%lld", target);
	if (!pved_call_permitted(c, acl, "VM.Config.Disk")) {
		pve_error_set(&err, EACCES, "Permission check failed (%s, VM.Config.Disk)", acl);
		return pved_call_fail(c, err);
	}
	start(c, "qmmove", cJSON_Duplicate(c->params, true));
}

/* Proxmox's: a disk that leaves a VM leaves its `boot: order=` (the key goes when nothing is left). */
static void boot_order_drop(pve_config *c, const char *disk)
{
	const char *boot = pve_config_get(c, NULL, "boot");
	const char *order = boot ? strstr(boot, "order=") : NULL;
	if (!order)
		return;
	_cleanup_free_ char *list = xstrndup(order + 6, strcspn(order + 6, ","));
	_cleanup_strv_free_ char **devs = pve_strv_split(list, ";");
	pve_buf b = { 0 };
	bool found = false;
	for (char **dv = devs; *dv; dv++) {
		if (streq(*dv, disk)) {
			found = true;
			continue;
		}
		pve_buf_printf(&b, "%s%s", b.len ? ";" : "", *dv);
	}
	if (found) {
		printf("removing disk '%s' from boot order config\n", disk);
		if (b.len) {
			_cleanup_free_ char *v = xasprintf("order=%s", b.data);
			pve_config_set(c, NULL, "boot", v);
		} else {
			pve_config_delete(c, NULL, "boot");
		}
	}
	pve_buf_free(&b);
}

static int task_reassign(pved *d, long long target, const cJSON *args, pve_error **err)
{
	long long vmid = arg_vmid_of(args);
	const char *disk = pve_json_str(args, "disk");
	const char *td = pve_json_str(args, "target-disk");
	if (!td)
		td = disk;
	/* both per-VM locks, the lower vmid first so two reassigns never wait on each other */
	_cleanup_close_ int l1 = -1, l2 = -1;
	int r = qemu_lock_wait(d, vmid < target ? vmid : target, QEMU_LOCK_TIMEOUT_MS, &l1, err);
	if (r >= 0)
		r = qemu_lock_wait(d, vmid < target ? target : vmid, QEMU_LOCK_TIMEOUT_MS, &l2,
				   err);
	_cleanup_config_ pve_config *src = NULL, *dst = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1], tdigest[PVE_STORE_DIGEST_LEN + 1];
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	if (r >= 0)
		r = qemu_conf_load(d, vmid, &src, digest, err);
	if (r >= 0)
		r = qemu_conf_load(d, target, &dst, tdigest, err);
	if (r >= 0)
		r = qemu_storage_cfg(d, &scfg, err);
	if (r >= 0)
		r = reassign_check(d, src, digest, target, dst, tdigest, args, scfg, err);
	if (r < 0)
		return r;
	const char *value = pve_config_get(src, NULL, disk);
	_cleanup_free_ char *volid = qemu_ops_drive_volid(d, disk, value);
	qemu_vol v;
	r = qemu_vol_open(d, scfg, volid, &v, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *newname = NULL;
	r = pve_storage_rename_volume(&v.st, v.volname, target, NULL, &newname, err);
	if (r < 0) {
		qemu_vol_clear(&v);
		return r;
	}
	_cleanup_free_ char *newvol = xasprintf("%s:%s", v.sid, newname);
	printf("reassigning %s (%s) of VM %lld to %s of VM %lld as %s\n", disk, volid, vmid, td,
	       target, newvol);
	/* an unusedN is the volume alone, as Proxmox parses it for that key */
	_cleanup_free_ char *nv = startswith(td, "unused") ?
					  xstrdup(newvol) :
					  qemu_ops_drive_with(d, td, value, newvol, 0, NULL);
	if (!nv)
		r = pve_error_set(err, EINVAL, "the drive '%s' can't be '%s'", disk, td);
	/* a running target: a change in [PENDING], hot-plugged when `hotplug` has disk and the bus
	 * allows (an unused disk needs nothing from QEMU) */
	bool pending = r >= 0 && !startswith(td, "unused") && qemu_ops_running(d, target, NULL);
	char **destroy = NULL;
	pve_error *hotplug_err = NULL;
	if (r >= 0) {
		pve_config_set(dst, pending ? KVM_SECTION_PENDING : NULL, td, nv);
		if (pending)
			(void)qemu_hotplug_pending(d, target, dst, scfg, &destroy, &hotplug_err);
		r = qemu_conf_write(d, target, dst, tdigest, err);
	}
	strv_free(destroy);
	if (r >= 0) {
		pve_config_delete(src, NULL, disk);
		boot_order_drop(src, disk);
		r = qemu_conf_write(d, vmid, src, digest, err);
		if (r < 0) {
			pve_config_delete(dst, pending ? KVM_SECTION_PENDING : NULL, td);
			kvm_pending_drop_if_empty(dst);
			(void)qemu_conf_write(d, target, dst, NULL, NULL);
		}
	}
	if (r < 0) {
		/* the volume goes back to its VM, under its old name */
		_cleanup_free_ char *back = NULL;
		const char *base = strrchr(v.volname, '/');
		(void)pve_storage_rename_volume(&v.st, newname, vmid, base ? base + 1 : v.volname,
						&back, NULL);
	}
	qemu_vol_clear(&v);
	if (r >= 0 && hotplug_err) {
		/* done, as Proxmox's: the disk stays a pending change of the target, the task fails */
		if (err && !*err)
			*err = TAKE_PTR(hotplug_err);
		r = -EINVAL;
	}
	pve_error_free(hotplug_err);
	return r;
}

static void h_move_disk(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	long long target;
	if (qemu_conf_load(c->d, pved_call_int(c, "vmid", 0), &conf, digest, &err) < 0 ||
	    qemu_storage_cfg(c->d, &scfg, &err) < 0)
		return pved_call_fail(c, err);
	if (reassign_target(c->params, &target))
		return h_reassign(c, target, conf, digest, scfg);
	if (move_check(c->d, conf, digest, c->params, scfg, &err) < 0)
		return pved_call_fail(c, err);
	if (pved_guest_check_space(c, pved_call_str(c, "storage"), &err) < 0)
		return pved_call_fail(c, err);
	cJSON *args = cJSON_Duplicate(c->params, true);
	/* who may raise or lift the configured bandwidth limits (pved_guest_bwlimit) */
	cJSON_AddBoolToObject(args, "bwlimit-privileged",
			      pved_call_permitted(c, "/", "Sys.Modify"));
	start(c, "qmmove", args);
}

static int task_move(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = arg_vmid_of(args), target;
	if (reassign_target(args, &target))
		return task_reassign(d, target, args, err);
	const char *disk = pve_json_str(args, "disk"), *storage = pve_json_str(args, "storage");
	bool del = arg_bool(args, "delete");
	long long bwlimit = -1;
	pve_json_int(args, "bwlimit", &bwlimit);
	/* held for the copy, as Proxmox's move_disk holds its config lock */
	_cleanup_close_ int lock = -1;
	int r = qemu_lock_wait(d, vmid, QEMU_LOCK_TIMEOUT_MS, &lock, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	r = qemu_conf_load(d, vmid, &c, digest, err);
	if (r >= 0)
		r = qemu_storage_cfg(d, &scfg, err);
	if (r >= 0)
		r = move_check(d, c, digest, args, scfg, err);
	if (r < 0)
		return r;
	const char *value = pve_config_get(c, NULL, disk);
	_cleanup_free_ char *volid = qemu_ops_drive_volid(d, disk, value);
	qemu_vol src;
	r = qemu_vol_open(d, scfg, volid, &src, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *src_path = NULL, *src_fmt = NULL, *volname = NULL, *dst_path = NULL;
	uint64_t size = 0;
	pve_storage dst;
	bool running = qemu_ops_running(d, vmid, NULL);
	r = pve_storage_path(&src.st, src.volname, NULL, &src_path, err);
	if (r >= 0)
		r = qemu_ops_disk_size(d, vmid, disk, &src, running, &size, &src_fmt, err);
	if (r >= 0)
		r = pve_storage_get(scfg, storage, &dst, err);
	if (r >= 0)
		r = pve_storage_activate(&dst, err);
	bwlimit = pved_guest_bwlimit(d, scfg, "move",
				     (const char *const[]){ src.sid, storage, NULL }, bwlimit,
				     arg_bool(args, "bwlimit-privileged"));
	if (bwlimit > 0)
		printf("%s: bandwidth limit: %lld KiB/s\n", disk, bwlimit);
	qemu_vol_clear(&src);
	if (r < 0)
		return r;
	const char *fmt = pve_json_str(args, "format");
	for (const char *const *f = dst.plugin->formats; !fmt && f && *f; f++)
		if (src_fmt && streq(*f, src_fmt))
			fmt = src_fmt;
	if (!fmt) {
		const char *def = pve_section_get(dst.section, "format");
		fmt = def ? def : dst.plugin->default_format;
	}
	r = pve_storage_alloc_image(&dst, vmid, fmt, NULL, (size + 1023) / 1024 * 1024, &volname,
				    err);
	if (r < 0)
		return r;
	_cleanup_free_ char *newvol = xasprintf("%s:%s", storage, volname);
	r = pve_storage_path(&dst, volname, NULL, &dst_path, err);
	printf("moving disk %s (%s) to %s\n", disk, volid, newvol);
	fflush(stdout);
	if (r >= 0 && running) {
		r = qemu_ops_mirror(d, vmid, disk, dst_path, fmt, true, bwlimit, err);
	} else if (r >= 0) {
		const char *argv[16];
		char rate[32];
		size_t k = 0;
		argv[k++] = "qemu-img";
		argv[k++] = "convert";
		argv[k++] = "-n"; /* the target exists: write into it */
		qemu_ops_rate_arg(bwlimit, rate, argv, &k);
		argv[k++] = "-f";
		argv[k++] = src_fmt;
		argv[k++] = "-O";
		argv[k++] = fmt;
		argv[k++] = src_path;
		argv[k++] = dst_path;
		argv[k] = NULL;
		r = pve_qemu_img(argv, NULL, err);
	}
	_cleanup_free_ char *nv = r >= 0 ? qemu_ops_drive_with(d, disk, value, newvol, 0, fmt) :
					   NULL;
	if (r >= 0 && !nv)
		r = pve_error_set(err, EIO, "%s: can't print the drive", disk);
	if (r >= 0) {
		pve_config_set(c, NULL, disk, nv);
		if (!del) {
			_cleanup_free_ char *u = kvm_config_next_unused(c);
			if (u)
				pve_config_set(c, NULL, u, volid);
		}
		r = qemu_conf_write(d, vmid, c, digest, err);
	}
	char *made[] = { newvol, NULL };
	if (r < 0) {
		qemu_disks_free(d, scfg, made, true);
		return r;
	}
	printf("disk %s moved to %s\n", disk, newvol);
	if (del) {
		char *old[] = { volid, NULL };
		qemu_disks_free(d, scfg, old, true);
	}
	return 0;
}

/* ---- unlink: the config edit's deletion of the disks listed --------------------------------------- */

static void h_unlink(pved_call *c)
{
	pve_error *err = NULL;
	const char *idlist = pved_call_str(c, "idlist");
	_cleanup_strv_free_ char **ids = pve_split_list(idlist ? idlist : "");
	if (!ids[0]) {
		pve_error_set_param(&err, EINVAL, "idlist", "no disk to unlink");
		return pved_call_fail(c, err);
	}
	/* Proxmox's unlink is its config update with delete=idlist: the same handler here */
	for (const pved_handler *h = pved_handlers_qemu_config; h->name; h++) {
		if (!streq(h->name, "qemu_config_put"))
			continue;
		cJSON_AddStringToObject(c->params, "delete", idlist);
		cJSON_DeleteItemFromObjectCaseSensitive(c->params, "idlist");
		return h->fn(c);
	}
	pve_error_set(&err, EIO, "no config update handler");
	pved_call_fail(c, err);
}

/* ---- feature ------------------------------------------------------------------------------------------ */

typedef struct feature_job {
	pved_call *c;
	pved *d;
	pve_config *conf;
	char *snapname;
	pve_volume_feature feature;
	bool has;
} feature_job;

static void feature_work(void *arg)
{
	feature_job *j = arg;
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	if (qemu_storage_cfg(j->d, &scfg, NULL) < 0)
		return;
	j->has = qemu_ops_has_feature(j->d, scfg, j->conf, j->snapname, j->feature, j->snapname);
}

static void feature_done(void *arg)
{
	feature_job *j = arg;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "hasFeature", j->has ? 1 : 0);
	cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
	cJSON_AddItemToArray(nodes, cJSON_CreateString(j->d->node));
	pved_call_reply(j->c, o);
	pve_config_free(j->conf);
	free(j->snapname);
	free(j);
}

static void h_feature(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	if (qemu_conf_load(c->d, pved_call_int(c, "vmid", 0), &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	const char *snapname = pved_call_str(c, "snapname");
	if (snapname && (!pve_config_has_section(conf, snapname) ||
			 streq(snapname, KVM_SECTION_PENDING) || startswith(snapname, "special"))) {
		pve_error_set(&err, ENOENT, "snapshot '%s' does not exist", snapname);
		return pved_call_fail(c, err);
	}
	const char *f = pved_call_str(c, "feature");
	feature_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	j->d = c->d;
	j->conf = TAKE_PTR(conf);
	j->snapname = snapname ? xstrdup(snapname) : NULL;
	j->feature = streq(f, "snapshot") ? PVE_FEATURE_SNAPSHOT :
		     streq(f, "clone")	  ? PVE_FEATURE_CLONE :
					    PVE_FEATURE_COPY;
	if (pved_run_blocking(c->d, PVED_QUEUE_STORAGE, feature_work, feature_done, j, &err) < 0) {
		pve_config_free(j->conf);
		free(j->snapname);
		free(j);
		pved_call_fail(c, err);
	}
}

const pved_task_kind pved_tasks_qemu_diskops[] = {
	{ "resize", task_resize },
	{ "qmmove", task_move },
	{ NULL, NULL },
};

const pved_handler pved_handlers_qemu_diskops[] = {
	{ "qemu_resize", h_resize },
	{ "qemu_move_disk", h_move_disk },
	{ "qemu_unlink", h_unlink },
	{ "qemu_feature", h_feature },
	{ NULL, NULL },
};

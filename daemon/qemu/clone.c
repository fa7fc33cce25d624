/* Templates and clones, as Proxmox makes them: POST .../template turns the disks into base images
 * (base-VMID-disk-N, read-only) and sets `template: 1` (qmtemplate); POST .../clone makes a new VM from a
 * VM, a template or a snapshot (qmclone): linked clones of a template's base images where the storage can
 * (a qcow2 over its backing file), full copies otherwise or when asked. The new VM's id is reserved on
 * the loop by a config holding `lock: clone`; the source is held by a shared per-VM lock for the copy, so
 * any number of clones of one template run at once, and each volume is allocated under a lock of its
 * storage's image directory for the moment it takes to claim its name, never for the copy. A running VM's
 * disks are copied by QEMU's drive-mirror, cancelled once ready so that QEMU stays on its own disk. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <sys/file.h>
#include <time.h>

#include "access/access.h"
#include "cluster/cluster.h"
#include "daemon/core/guest.h"
#include "daemon/core/tasks-internal.h"
#include "daemon/qemu/ops-internal.h"

/* ---- handlers -------------------------------------------------------------------------------------- */

static void start(pved_call *c, const char *type, long long vmid, cJSON *args)
{
	pve_error *err = NULL;
	_cleanup_free_ char *id = xasprintf("%lld", vmid), *upid = NULL;
	if (pved_task_start(c->d, type, id, c->authid, args, &upid, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

static bool has_snapshots(const pve_config *c)
{
	_cleanup_strv_free_ char **secs = pve_config_sections(c);
	for (char **s = secs; *s; s++)
		if (!streq(*s, KVM_SECTION_PENDING) && !startswith(*s, "special:"))
			return true;
	return false;
}

/* What Proxmox's template API refuses before its task. */
static int template_check(pved *d, const pve_config *c, long long vmid, const char *disk,
			  pve_error **err)
{
	int r = qemu_conf_check_lock(c, err);
	if (r < 0)
		return r;
	if (has_snapshots(c))
		return pve_error_set(err, EINVAL,
				     "unable to create template, because VM contains snapshots");
	if (kvm_config_bool(c, NULL, "template", false) && !disk)
		return pve_error_set(err, EINVAL, "you can't convert a template to a template");
	if (qemu_ops_running(d, vmid, NULL))
		return pve_error_set(err, EINVAL,
				     "you can't convert a VM to template if VM is running");
	if (disk && !pve_config_get(c, NULL, disk))
		return pve_error_set_param(err, EINVAL, "disk", "no such disk '%s'", disk);
	return 0;
}

static void h_template(pved_call *c)
{
	pve_error *err = NULL;
	long long vmid = pved_call_int(c, "vmid", 0);
	_cleanup_config_ pve_config *conf = NULL;
	if (qemu_conf_load(c->d, vmid, &conf, NULL, &err) < 0 ||
	    template_check(c->d, conf, vmid, pved_call_str(c, "disk"), &err) < 0)
		return pved_call_fail(c, err);
	start(c, "qmtemplate", vmid, cJSON_Duplicate(c->params, true));
}

static void h_clone(pved_call *c)
{
	pved *d = c->d;
	pve_error *err = NULL;
	long long vmid = pved_call_int(c, "vmid", 0), newid = pved_call_int(c, "newid", 0);
	_cleanup_config_ pve_config *conf = NULL;
	if (qemu_conf_load(d, vmid, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	const char *target = pved_call_str(c, "target"), *storage = pved_call_str(c, "storage");
	const char *format = pved_call_str(c, "format"), *snapname = pved_call_str(c, "snapname");
	bool template_ = kvm_config_bool(conf, NULL, "template", false);
	bool full = pved_call_has(c, "full") ? pved_call_int(c, "full", 0) != 0 : !template_;
	if (target && !streq(target, d->node)) {
		pve_error_set_param(&err, EINVAL, "target",
				    "clone to another node is not supported by pved (this node is "
				    "'%s')",
				    d->node);
		return pved_call_fail(c, err);
	}
	if (newid == vmid) {
		pve_error_set_param(&err, EINVAL, "newid", "newid must differ from vmid");
		return pved_call_fail(c, err);
	}
	if (!full && !template_) {
		pve_error_set_param(&err, EINVAL, "full",
				    "a linked clone is only possible from a template");
		return pved_call_fail(c, err);
	}
	if (!full && format) {
		pve_error_set_param(&err, EINVAL, "format", "option is only valid for full clones");
		return pved_call_fail(c, err);
	}
	if (snapname && !pve_config_has_section(conf, snapname)) {
		pve_error_set_param(&err, EINVAL, "snapname", "snapshot '%s' does not exist",
				    snapname);
		return pved_call_fail(c, err);
	}
	if (!snapname && qemu_conf_check_lock(conf, &err) < 0)
		return pved_call_fail(c, err);
	if (storage) {
		_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
		pve_storage st;
		if (qemu_storage_cfg(d, &scfg, &err) < 0)
			return pved_call_fail(c, err);
		if (pve_storage_get(scfg, storage, &st, &err) < 0 ||
		    pve_storage_check_content(&st, PVE_CONTENT_IMAGES, &err) < 0) {
			err->code = EINVAL;
			free(err->param);
			err->param = xstrdup("storage");
			return pved_call_fail(c, err);
		}
		if (pved_guest_check_space(c, storage, &err) < 0)
			return pved_call_fail(c, err);
	}
	const char *pool = pved_call_str(c, "pool");
	if (pool && !qemu_pool_exists(d, pool)) {
		pve_error_set_param(&err, EINVAL, "pool", "pool '%s' does not exist", pool);
		return pved_call_fail(c, err);
	}
	_cleanup_free_ char *owner = qemu_vmid_owner(d, newid);
	if (owner) {
		pve_error_set_param(&err, EINVAL, "newid", "VM %lld already exists on node '%s'",
				    newid, owner);
		return pved_call_fail(c, err);
	}
	/* the new vmid is ours from here */
	_cleanup_free_ char *path = qemu_conf_path(d, newid);
	static const char placeholder[] = "lock: clone\n";
	if (pve_store_create(d->store, path, placeholder, strlen(placeholder), &err) < 0) {
		if (err && err->code == EEXIST) {
			pve_error_free(err);
			err = NULL;
			pve_error_set_param(&err, EINVAL, "newid",
					    "VM %lld already exists on node '%s'", newid, d->node);
		}
		return pved_call_fail(c, err);
	}
	qemu_vm_refresh(d, newid);
	cJSON *args = cJSON_Duplicate(c->params, true);
	cJSON_DeleteItemFromObjectCaseSensitive(args, "full");
	cJSON_AddBoolToObject(args, "full", full);
	/* who may raise or lift the configured bandwidth limits (pved_guest_bwlimit) */
	cJSON_AddBoolToObject(args, "bwlimit-privileged",
			      pved_call_permitted(c, "/", "Sys.Modify"));
	pve_error *e = NULL;
	_cleanup_free_ char *id = xasprintf("%lld", vmid), *upid = NULL;
	if (pved_task_start(d, "qmclone", id, c->authid, args, &upid, &e) < 0) {
		pve_store_delete(d->store, path, NULL);
		qemu_vm_refresh(d, newid);
		return pved_call_fail(c, e);
	}
	pved_call_reply(c, cJSON_CreateString(upid));
}

/* ---- in the workers -------------------------------------------------------------------------------- */

static bool arg_bool(const cJSON *args, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	return (cJSON_IsNumber(v) && v->valuedouble != 0) || cJSON_IsTrue(v);
}

static int task_template(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0;
	pve_json_int(args, "vmid", &vmid);
	const char *disk = pve_json_str(args, "disk");
	_cleanup_close_ int lock = -1;
	int r = qemu_lock_wait(d, vmid, QEMU_LOCK_TIMEOUT_MS, &lock, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	r = qemu_conf_load(d, vmid, &c, digest, err);
	if (r < 0 || (r = template_check(d, c, vmid, disk, err)) < 0)
		return r;
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	r = qemu_storage_cfg(d, &scfg, err);
	if (r < 0)
		return r;
	_cleanup_strv_free_ char **keys = qemu_ops_disk_keys(c, NULL, false);
	for (char **k = keys; *k; k++) {
		if (disk && !streq(*k, disk))
			continue;
		const char *value = pve_config_get(c, NULL, *k);
		_cleanup_free_ char *volid = qemu_ops_drive_volid(d, *k, value);
		if (!volid || volid[0] == '/')
			return pve_error_set(err, EINVAL, "%s: template feature is not available",
					     *k);
		qemu_vol v;
		r = qemu_vol_open(d, scfg, volid, &v, err);
		if (r < 0)
			return r;
		pve_volname vn = { 0 };
		bool base = pve_storage_volume_parse(&v.st, v.volname, &vn, NULL) == 0 &&
			    vn.is_base;
		pve_volname_clear(&vn);
		if (base) {
			qemu_vol_clear(&v);
			continue;
		}
		if (!pve_storage_volume_has_feature(&v.st, PVE_FEATURE_TEMPLATE, v.volname, NULL)) {
			qemu_vol_clear(&v);
			return pve_error_set(err, EINVAL, "%s: template feature is not available",
					     *k);
		}
		_cleanup_free_ char *newname = NULL;
		r = pve_storage_create_base(&v.st, v.volname, &newname, err);
		_cleanup_free_ char *newvol = r >= 0 ? xasprintf("%s:%s", v.sid, newname) : NULL;
		qemu_vol_clear(&v);
		if (r < 0)
			return r;
		printf("%s: %s is now the base image %s\n", *k, volid, newvol);
		_cleanup_free_ char *nv = qemu_ops_drive_with(d, *k, value, newvol, 0, NULL);
		if (!nv)
			return pve_error_set(err, EIO, "%s: can't print the drive", *k);
		pve_config_set(c, NULL, *k, nv);
		/* each disk's new name is written at once: a failure later leaves a true config */
		r = qemu_conf_write(d, vmid, c, digest, err);
		if (r < 0)
			return r;
		r = qemu_conf_load(d, vmid, &c, digest, err);
		if (r < 0)
			return r;
	}
	pve_config_set(c, NULL, "template", "1");
	r = qemu_conf_write(d, vmid, c, digest, err);
	if (r >= 0)
		printf("VM %lld is a template\n", vmid);
	return r;
}

/* The per-VM lock shared: clones of one source run together; a change of it waits (Proxmox's
 * lock_config_shared). */
static int lock_shared(pved *d, long long vmid, int *ret_fd, pve_error **err)
{
	_cleanup_free_ char *path = qemu_lock_path(d, vmid);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return pve_error_set(err, errno, "can't open file '%s' - %m", path);
	for (int waited = 0; flock(fd, LOCK_SH | LOCK_NB) < 0; waited += 20) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return pve_error_set(err, errno, "can't lock file '%s' - %m", path);
		if (waited >= QEMU_LOCK_TIMEOUT_MS)
			return pve_error_set(err, EBUSY, "can't lock file '%s' - got timeout",
					     path);
		usleep(20 * 1000);
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keys a clone does not take from its source. */
static bool cloned(const char *key)
{
	static const char *const skip[] = { "lock",	  "template", "parent", "snaptime",
					    "snapstate",  "vmstate",  "digest", "runningmachine",
					    "runningcpu", NULL };
	for (const char *const *s = skip; *s; s++)
		if (streq(key, *s))
			return false;
	return !startswith(key, "unused");
}

/* A NIC's value with a new MAC address. */
static char *net_new_mac(pved *d, const char *key, const char *value)
{
	kvm_net n;
	if (kvm_net_parse(qemu_schema(d), key, value, &n, NULL) < 0 || !n.macaddr[0])
		return xstrdup(value);
	char mac[18];
	_cleanup_free_ char *prefix = pved_mac_prefix(d);
	pve_random_mac(prefix, mac);
	const char *at = strcasestr(value, n.macaddr);
	if (!at)
		return xstrdup(value);
	return xasprintf("%.*s%s%s", (int)(at - value), value, mac, at + strlen(n.macaddr));
}

typedef struct clone_ctx {
	pved *d;
	const pve_sectioncfg *scfg;
	long long vmid, newid;
	const char *snap; /* the snapshot copied, or NULL */
	const char *storage, *format;
	bool full, running;
	long long bwlimit; /* the caller's, KiB/s; -1: none given */
	bool bwlimit_privileged;
	char **made;
	size_t n_made;
} clone_ctx;

static void made_add(clone_ctx *x, const char *volid)
{
	x->made = xrealloc(x->made, (x->n_made + 2) * sizeof(char *));
	x->made[x->n_made++] = xstrdup(volid);
	x->made[x->n_made] = NULL;
}

static int copy_disk(clone_ctx *x, const char *key, const char *volid, char **ret_volid,
		     uint64_t *ret_size, char **ret_fmt, pve_error **err)
{
	qemu_vol src;
	int r = qemu_vol_open(x->d, x->scfg, volid, &src, err);
	if (r < 0)
		return r;
	if (!x->full) {
		if (!pve_storage_volume_has_feature(&src.st, PVE_FEATURE_CLONE, src.volname,
						    NULL)) {
			qemu_vol_clear(&src);
			return pve_error_set(err, EINVAL,
					     "linked clone feature is not supported for drive '%s'",
					     key);
		}
		_cleanup_free_ char *nv = NULL;
		r = pve_storage_clone_image(&src.st, src.volname, x->newid, NULL, &nv, err);
		if (r >= 0) {
			*ret_volid = xasprintf("%s:%s", src.sid, nv);
			made_add(x, *ret_volid);
			printf("%s: linked clone %s of %s\n", key, *ret_volid, volid);
		}
		qemu_vol_clear(&src);
		return r;
	}
	if (!pve_storage_volume_has_feature(&src.st, PVE_FEATURE_COPY, src.volname, x->snap)) {
		qemu_vol_clear(&src);
		return pve_error_set(err, EINVAL,
				     "Full clone feature is not supported for drive '%s'", key);
	}
	_cleanup_free_ char *src_path = NULL, *src_fmt = NULL;
	uint64_t size = 0;
	r = pve_storage_path(&src.st, src.volname, NULL, &src_path, err);
	if (r >= 0)
		r = qemu_ops_disk_size(x->d, x->vmid, key, &src, x->running, &size, &src_fmt, err);
	const char *sid = x->storage ? x->storage : src.sid;
	long long limit = pved_guest_bwlimit(x->d, x->scfg, "clone",
					     (const char *const[]){ src.sid, x->storage, NULL },
					     x->bwlimit, x->bwlimit_privileged);
	if (limit > 0)
		printf("%s: bandwidth limit: %lld KiB/s\n", key, limit);
	pve_storage dst;
	if (r >= 0)
		r = pve_storage_get(x->scfg, sid, &dst, err);
	if (r >= 0)
		r = pve_storage_activate(&dst, err);
	if (r < 0) {
		qemu_vol_clear(&src);
		return r;
	}
	/* the format asked for, else the source's where the target holds it, else its default */
	const char *fmt = x->format;
	for (const char *const *f = dst.plugin->formats; !fmt && f && *f; f++)
		if (src_fmt && streq(*f, src_fmt))
			fmt = src_fmt;
	if (!fmt) {
		const char *def = pve_section_get(dst.section, "format");
		fmt = def ? def : dst.plugin->default_format;
	}
	_cleanup_free_ char *volname = NULL;
	r = pve_storage_alloc_image(&dst, x->newid, fmt, NULL, (size + 1023) / 1024 * 1024,
				    &volname, err);
	if (r < 0) {
		qemu_vol_clear(&src);
		return r;
	}
	_cleanup_free_ char *nv = xasprintf("%s:%s", sid, volname);
	made_add(x, nv);
	_cleanup_free_ char *dst_path = NULL;
	r = pve_storage_path(&dst, volname, NULL, &dst_path, err);
	if (r >= 0 && x->running) {
		printf("%s: copying %s to %s by drive-mirror\n", key, volid, nv);
		fflush(stdout);
		r = qemu_ops_mirror(x->d, x->vmid, key, dst_path, fmt, false, limit, err);
	} else if (r >= 0) {
		printf("%s: copying %s to %s\n", key, volid, nv);
		fflush(stdout);
		_cleanup_free_ char *snapopt = x->snap ? xasprintf("snapshot.name=%s", x->snap) :
							 NULL;
		const char *argv[18];
		char rate[32];
		size_t k = 0;
		argv[k++] = "qemu-img";
		argv[k++] = "convert";
		argv[k++] = "-n"; /* the target exists: write into it */
		qemu_ops_rate_arg(limit, rate, argv, &k);
		argv[k++] = "-f";
		argv[k++] = src_fmt ? src_fmt : "raw";
		if (snapopt) {
			argv[k++] = "-l";
			argv[k++] = snapopt;
		}
		argv[k++] = "-O";
		argv[k++] = fmt;
		argv[k++] = src_path;
		argv[k++] = dst_path;
		argv[k] = NULL;
		r = pve_qemu_img(argv, NULL, err);
	}
	qemu_vol_clear(&src);
	if (r < 0)
		return r;
	*ret_volid = xstrdup(nv);
	*ret_size = size;
	*ret_fmt = xstrdup(fmt);
	return 0;
}

static int task_clone(pved *d, const cJSON *args, pve_error **err)
{
	clone_ctx x = { .d = d };
	pve_json_int(args, "vmid", &x.vmid);
	pve_json_int(args, "newid", &x.newid);
	x.snap = pve_json_str(args, "snapname");
	x.storage = pve_json_str(args, "storage");
	x.format = pve_json_str(args, "format");
	x.full = arg_bool(args, "full");
	x.bwlimit = -1;
	pve_json_int(args, "bwlimit", &x.bwlimit);
	x.bwlimit_privileged = arg_bool(args, "bwlimit-privileged");
	const char *name = pve_json_str(args, "name"), *descr = pve_json_str(args, "description");
	const char *pool = pve_json_str(args, "pool");
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	_cleanup_config_ pve_config *src = NULL, *nc = pve_config_new();
	_cleanup_close_ int lock = -1;
	int r = qemu_storage_cfg(d, &scfg, err);
	x.scfg = scfg;
	if (r >= 0)
		r = lock_shared(d, x.vmid, &lock, err);
	if (r >= 0)
		r = qemu_conf_load(d, x.vmid, &src, NULL, err);
	if (r >= 0 && !x.snap)
		r = qemu_conf_check_lock(src, err);
	if (r >= 0 && x.snap && !pve_config_has_section(src, x.snap))
		r = pve_error_set(err, ENOENT, "snapshot '%s' does not exist", x.snap);
	/* a running VM's disks are copied by QEMU (drive-mirror); a snapshot's are on disk */
	x.running = r >= 0 && !x.snap && qemu_ops_running(d, x.vmid, NULL);
	if (r >= 0) {
		printf("create %s clone of VM %lld%s%s as VM %lld\n", x.full ? "full" : "linked",
		       x.vmid, x.snap ? " snapshot " : "", x.snap ? x.snap : "", x.newid);
		fflush(stdout);
		_cleanup_strv_free_ char **keys = pve_config_keys(src, x.snap);
		qsort(keys, strv_length(keys), sizeof(char *), strcmp_p);
		for (char **k = keys; *k && r >= 0; k++) {
			if (!cloned(*k))
				continue;
			const char *value = pve_config_get(src, x.snap, *k);
			_cleanup_free_ char *out = NULL;
			_cleanup_free_ char *volid = NULL;
			if (kvm_drive_key(*k, false, NULL, NULL) &&
			    (volid = qemu_ops_drive_volid(d, *k, value)) && volid[0] != '/') {
				_cleanup_free_ char *nv = NULL, *fmt = NULL;
				uint64_t size = 0;
				r = copy_disk(&x, *k, volid, &nv, &size, &fmt, err);
				if (r >= 0)
					out = qemu_ops_drive_with(d, *k, value, nv, size, fmt);
				if (r >= 0 && !out)
					r = pve_error_set(err, EIO, "%s: can't print the drive",
							  *k);
			} else if (startswith(*k, "net")) {
				out = net_new_mac(d, *k, value);
			} else if (streq(*k, "smbios1")) {
				/* a new UUID, the rest of smbios1 kept */
				_cleanup_free_ char *u = kvm_uuid_new();
				const char *rest = strstr(value, "uuid=");
				out = rest ? xasprintf("%.*suuid=%s%s", (int)(rest - value), value,
						       u, rest + 5 + strcspn(rest + 5, ",")) :
					     xasprintf("%s,uuid=%s", value, u);
			} else if (streq(*k, "vmgenid")) {
				out = kvm_uuid_new();
			} else {
				out = xstrdup(value);
			}
			if (r >= 0)
				pve_config_set(nc, NULL, *k, out);
		}
	}
	if (r >= 0) {
		const char *oldname = pve_config_get(src, NULL, "name");
		_cleanup_free_ char *nm = name	  ? xstrdup(name) :
					  oldname ? xasprintf("Copy-of-VM-%s", oldname) :
						    xasprintf("Copy-of-VM-%lld", x.vmid);
		pve_config_set(nc, NULL, "name", nm);
		_cleanup_free_ char *od = pve_config_get_description(src, x.snap);
		if (descr || od)
			pve_config_set_description(nc, NULL, descr ? descr : od);
		r = qemu_conf_write(d, x.newid, nc, NULL, err);
	}
	if (r >= 0 && pool) {
		pve_error *e = NULL;
		if (qemu_pool_add(d, x.newid, pool, &e) < 0) {
			pved_task_warn("can't add VM %lld to pool '%s': %s", x.newid, pool,
				       e->message);
			pve_error_free(e);
		}
	}
	if (r < 0) {
		/* nothing of the clone stays: its volumes and its reserved config */
		qemu_disks_free(d, scfg, x.made, true);
		_cleanup_free_ char *path = qemu_conf_path(d, x.newid);
		pve_store_delete(d->store, path, NULL);
	} else {
		printf("VM %lld cloned to VM %lld\n", x.vmid, x.newid);
	}
	strv_free(x.made);
	return r;
}

const pved_task_kind pved_tasks_qemu_clone[] = {
	{ "qmtemplate", task_template },
	{ "qmclone", task_clone },
	{ NULL, NULL },
};

const pved_handler pved_handlers_qemu_clone[] = {
	{ "qemu_template", h_template },
	{ "qemu_clone", h_clone },
	{ NULL, NULL },
};

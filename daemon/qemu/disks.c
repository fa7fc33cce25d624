/* A VM's disks through storage/: volume IDs to paths (the storage and the volume activated), new disks
 * allocated from STORAGE:SIZE requests or imported from an image (import-from), and volumes freed. All of
 * it blocks: it runs in task workers and on the guest queue's threads. */
#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "daemon/qemu/qemu-internal.h"

int qemu_storage_cfg(pved *d, pve_sectioncfg **ret, pve_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = pve_store_read(d->store, "storage.cfg", &text, &len, NULL, NULL);
	if (r == -ENOENT) {
		text = xstrdup("");
		len = 0;
	} else if (r < 0) {
		return pve_error_set(err, -r, "unable to read storage.cfg: %s", strerror(-r));
	}
	return pve_storage_cfg_parse(text, len, ret, err);
}

/* The storage of a volume ID, enabled on this node. */
static int volume_storage(pved *d, const pve_sectioncfg *scfg, const char *volid,
			  pve_storage *ret_st, char **ret_volname, pve_error **err)
{
	_cleanup_free_ char *sid = NULL, *volname = NULL;
	int r = pve_storage_volid_split(volid, &sid, &volname, err);
	if (r < 0)
		return r;
	r = pve_storage_get(scfg, sid, ret_st, err);
	if (r < 0)
		return r;
	if (ret_st->disabled || !pve_storage_on_node(ret_st, d->node))
		return pve_error_set(err, EINVAL, "storage '%s' is not available on node '%s'", sid,
				     d->node);
	*ret_volname = TAKE_PTR(volname);
	return 0;
}

int qemu_volume_path(pved *d, const pve_sectioncfg *scfg, const char *volid, char **ret_path,
		     char **ret_format, pve_error **err)
{
	if (volid[0] == '/') {
		*ret_path = xstrdup(volid);
		*ret_format = xstrdup("raw");
		return 0;
	}
	pve_storage st;
	_cleanup_free_ char *volname = NULL;
	int r = volume_storage(d, scfg, volid, &st, &volname, err);
	if (r < 0)
		return r;
	pve_volname v = { 0 };
	r = pve_storage_activate(&st, err);
	if (r >= 0)
		r = pve_storage_volume_parse(&st, volname, &v, err);
	if (r >= 0)
		r = pve_storage_activate_volume(&st, volname, NULL, err);
	_cleanup_free_ char *path = NULL;
	if (r >= 0)
		r = pve_storage_path(&st, volname, NULL, &path, err);
	if (r < 0) {
		pve_volname_clear(&v);
		return r;
	}
	const char *fmt = v.format && !streq(v.format, "subvol") ? v.format : "raw";
	/* an import is named by its format, as in Proxmox: disk.qcow2, disk.vmdk, disk.raw */
	if (v.vtype == PVE_CONTENT_IMPORT && !v.format)
		fmt = endswith(volname, ".qcow2") ? "qcow2" :
		      endswith(volname, ".vmdk")  ? "vmdk" :
						    "raw";
	*ret_format = xstrdup(fmt);
	pve_volname_clear(&v);
	*ret_path = TAKE_PTR(path);
	return 0;
}

/* The virtual size of an image (a volume or a path) from qemu-img: storage/ tells a file's size, which for
 * a qcow2 in an import directory is not the disk's. */
static int image_size(pved *d, const pve_sectioncfg *scfg, const char *src, uint64_t *ret,
		      pve_error **err)
{
	_cleanup_free_ char *path = NULL, *fmt = NULL;
	int r = qemu_volume_path(d, scfg, src, &path, &fmt, err);
	if (r < 0)
		return r;
	const char *argv[] = { "qemu-img", "info", "--output=json", path, NULL };
	_cleanup_free_ char *out = NULL;
	r = pve_qemu_img(argv, &out, err);
	if (r < 0)
		return r;
	_cleanup_json_ cJSON *info = cJSON_Parse(out);
	long long size;
	if (!pve_json_int(info, "virtual-size", &size) || size < 0)
		return pve_error_set(err, EIO, "qemu-img info %s: no virtual size", path);
	*ret = (uint64_t)size;
	return 0;
}

static void made_add(char ***made, size_t *n, const char *volid)
{
	*made = xrealloc(*made, (*n + 2) * sizeof(char *));
	(*made)[(*n)++] = xstrdup(volid);
	(*made)[*n] = NULL;
}

/* One drive that asks for a new disk: allocated (and filled from import-from), its value replaced. */
static int allocate_one(pved *d, const pve_sectioncfg *scfg, long long vmid, pve_config *c,
			const char *section, const char *key, const char *default_storage,
			char ***made, size_t *n_made, pve_error **err)
{
	const kvm_schema *s = qemu_schema(d);
	kvm_drive drv;
	int r = kvm_drive_parse(s, key, pve_config_get(c, section, key), &drv, err);
	if (r < 0)
		return r;
	if (qemu_cloudinit_request(drv.file)) {
		_cleanup_free_ char *volid = NULL, *value = NULL;
		r = qemu_cloudinit_allocate(d, scfg, vmid, c, section, key, &drv, &volid, &value,
					    err);
		kvm_drive_clear(&drv);
		if (r < 0)
			return r;
		made_add(made, n_made, volid);
		pve_config_set(c, section, key, value);
		return 0;
	}
	_cleanup_free_ char *sid = NULL;
	uint64_t bytes = 0;
	if (drv.cdrom || !kvm_drive_alloc_request(drv.file, &sid, &bytes)) {
		kvm_drive_clear(&drv);
		return 0;
	}
	if (!sid && default_storage)
		sid = xstrdup(default_storage);
	if (!sid) {
		kvm_drive_clear(&drv);
		return pve_error_set_param(err, EINVAL, key,
					   "no storage ID specified (and no default storage)");
	}
	pve_storage st;
	r = pve_storage_get(scfg, sid, &st, err);
	if (r >= 0)
		r = pve_storage_check_content(&st, PVE_CONTENT_IMAGES, err);
	if (r >= 0)
		r = pve_storage_activate(&st, err);
	const char *src = pve_json_str(drv.opts, "import-from");
	_cleanup_free_ char *src_path = NULL, *src_format = NULL;
	/* As Proxmox: a new EFI disk is OVMF's variables template, a TPM state a fixed 4 MiB. */
	if (r >= 0 && !src && drv.bus == KVM_BUS_EFIDISK) {
		const char *code, *vars;
		kvm_ovmf_files(s, pve_config_get(c, section, key),
			       pve_config_get(c, NULL, "machine"), &code, &vars);
		struct stat stt;
		if (stat(vars, &stt) < 0) {
			r = pve_error_set_param(err, ENOENT, key,
						"EFI vars image '%s' not found (package ovmf)",
						vars);
		} else {
			bytes = (uint64_t)stt.st_size;
			src_path = xstrdup(vars);
			src_format = xstrdup("raw");
		}
	} else if (!src && drv.bus == KVM_BUS_TPMSTATE) {
		bytes = KVM_TPMSTATE_SIZE;
	}
	if (r >= 0 && src) {
		r = image_size(d, scfg, src, &bytes, err);
		if (r >= 0)
			r = qemu_volume_path(d, scfg, src, &src_path, &src_format, err);
		if (r >= 0 && src[0] == '/')
			free(src_format), src_format = NULL; /* qemu-img finds a path's format */
	}
	if (r < 0) {
		if (err && *err && !(*err)->param)
			pve_error_prefix(*err, "%s", key);
		kvm_drive_clear(&drv);
		return r;
	}
	const char *fmt = drv.format;
	if (!fmt) {
		const char *def = pve_section_get(st.section, "format");
		fmt = def ? def : st.plugin->default_format;
	}
	if (!bytes && !src_path) {
		kvm_drive_clear(&drv);
		return pve_error_set_param(err, EINVAL, key, "disk size must be larger than zero");
	}
	/* storage/ sizes in bytes; Proxmox allocates whole KiB */
	bytes = (bytes + 1023) / 1024 * 1024;
	_cleanup_free_ char *volname = NULL;
	r = pve_storage_alloc_image(&st, vmid, fmt, NULL, bytes, &volname, err);
	if (r < 0) {
		kvm_drive_clear(&drv);
		return r;
	}
	_cleanup_free_ char *volid = xasprintf("%s:%s", sid, volname);
	made_add(made, n_made, volid);
	if (src_path) {
		_cleanup_free_ char *dst = NULL, *dst_fmt = NULL;
		r = qemu_volume_path(d, scfg, volid, &dst, &dst_fmt, err);
		if (r >= 0 && src)
			printf("importing disk '%s' to VM %lld ...\n", src, vmid);
		if (r >= 0) {
			fflush(stdout);
			const char *argv[16];
			size_t k = 0;
			argv[k++] = "qemu-img";
			argv[k++] = "convert";
			argv[k++] = "-n"; /* the target exists: write into it */
			if (src_format) {
				argv[k++] = "-f";
				argv[k++] = src_format;
			}
			argv[k++] = "-O";
			argv[k++] = dst_fmt;
			argv[k++] = src_path;
			argv[k++] = dst;
			argv[k] = NULL;
			r = pve_qemu_img(argv, NULL, err);
		}
		if (r < 0) {
			kvm_drive_clear(&drv);
			return r;
		}
		if (src)
			printf("successfully imported disk '%s'\n", volid);
	}
	uint64_t size = bytes;
	pve_storage_volume_size(&st, volname, &size, NULL, NULL, NULL);
	cJSON_DeleteItemFromObjectCaseSensitive(drv.opts, "import-from");
	cJSON_ReplaceItemInObjectCaseSensitive(drv.opts, "file", cJSON_CreateString(volid));
	_cleanup_free_ char *sz = pve_format_size(size);
	cJSON_DeleteItemFromObjectCaseSensitive(drv.opts, "size");
	cJSON_AddStringToObject(drv.opts, "size", sz);
	if (drv.format && !streq(drv.format, fmt))
		cJSON_DeleteItemFromObjectCaseSensitive(drv.opts, "format");
	_cleanup_free_ char *value = kvm_drive_print(s, &drv);
	kvm_drive_clear(&drv);
	if (!value)
		return pve_error_set_param(err, EINVAL, key, "can't print the new drive");
	pve_config_set(c, section, key, value);
	return 0;
}

int qemu_disks_allocate(pved *d, const pve_sectioncfg *scfg, long long vmid, pve_config *c,
			const char *section, const char *default_storage, char ***ret_made,
			pve_error **err)
{
	char **made = xcalloc(1, sizeof(char *));
	size_t n = 0;
	_cleanup_strv_free_ char **keys = pve_config_keys(c, section);
	int r = 0;
	for (char **k = keys; *k && r >= 0; k++) {
		if (!kvm_drive_key(*k, false, NULL, NULL))
			continue;
		r = allocate_one(d, scfg, vmid, c, section, *k, default_storage, &made, &n, err);
	}
	*ret_made = made;
	return r;
}

void qemu_disks_free(pved *d, const pve_sectioncfg *scfg, char **volids, bool warn)
{
	for (char **v = volids; v && *v; v++) {
		pve_storage st;
		_cleanup_free_ char *volname = NULL;
		pve_error *err = NULL;
		int r = volume_storage(d, scfg, *v, &st, &volname, &err);
		if (r >= 0)
			r = pve_storage_activate(&st, &err);
		if (r >= 0)
			r = pve_storage_free_image(&st, volname, &err);
		if (r < 0 && warn)
			pved_task_warn("can't free volume '%s': %s", *v, err->message);
		else if (r >= 0 && warn)
			printf("freed volume '%s'\n", *v);
		pve_error_free(err);
	}
}

/* What the VM operations share (ops-internal.h): drive volumes, the running QEMU, a stop inside a task,
 * the config's lock key. */
#include <cjson/cJSON.h>
#include <signal.h>
#include <time.h>

#include "daemon/qemu/ops-internal.h"

void qemu_vol_clear(qemu_vol *v)
{
	free(v->sid);
	free(v->volname);
	*v = (qemu_vol){ 0 };
}

int qemu_vol_open(pved *d, const pve_sectioncfg *scfg, const char *volid, qemu_vol *ret,
		  pve_error **err)
{
	qemu_vol v = { 0 };
	int r = pve_storage_volid_split(volid, &v.sid, &v.volname, err);
	if (r >= 0)
		r = pve_storage_get(scfg, v.sid, &v.st, err);
	if (r >= 0 && (v.st.disabled || !pve_storage_on_node(&v.st, d->node)))
		r = pve_error_set(err, EINVAL, "storage '%s' is not available on node '%s'", v.sid,
				  d->node);
	if (r >= 0)
		r = pve_storage_activate(&v.st, err);
	if (r < 0) {
		qemu_vol_clear(&v);
		return r;
	}
	*ret = v;
	return 0;
}

int qemu_ops_disk_size(pved *d, long long vmid, const char *key, const qemu_vol *v, bool running,
		       uint64_t *ret_size, char **ret_format, pve_error **err)
{
	if (!running)
		return pve_storage_volume_size(&v->st, v->volname, ret_size, NULL, ret_format, err);
	/* QEMU holds the image: it tells the size, the name the format */
	kvm_qmp_sync *q = NULL;
	int r = qemu_ops_monitor(d, vmid, &q, err);
	if (r >= 0)
		r = kvm_qmp_drive_size(q, key, ret_size, err);
	kvm_qmp_sync_close(q);
	pve_volname vn = { 0 };
	if (r >= 0)
		r = pve_storage_volume_parse(&v->st, v->volname, &vn, err);
	if (r >= 0)
		*ret_format = xstrdup(vn.format ? vn.format : "raw");
	pve_volname_clear(&vn);
	return r;
}

char *qemu_ops_drive_volid(pved *d, const char *key, const char *value)
{
	if (kvm_drive_key(key, false, NULL, NULL) == false) {
		/* unused[n]: the volume, maybe as file=/volume= */
		const char *f = startswith(value, "file=")   ? value + 5 :
				startswith(value, "volume=") ? value + 7 :
							       value;
		return xstrndup(f, strcspn(f, ","));
	}
	kvm_drive drv;
	if (kvm_drive_parse(qemu_schema(d), key, value, &drv, NULL) < 0)
		return NULL;
	char *v = drv.cdrom || !drv.file || streq(drv.file, "none") ? NULL : xstrdup(drv.file);
	kvm_drive_clear(&drv);
	return v;
}

char *qemu_ops_drive_with(pved *d, const char *key, const char *value, const char *volid,
			  uint64_t size, const char *format)
{
	const kvm_schema *s = qemu_schema(d);
	kvm_drive drv;
	if (kvm_drive_parse(s, key, value, &drv, NULL) < 0)
		return NULL;
	cJSON_ReplaceItemInObjectCaseSensitive(drv.opts, "file", cJSON_CreateString(volid));
	if (size) {
		_cleanup_free_ char *sz = pve_format_size(size);
		cJSON_DeleteItemFromObjectCaseSensitive(drv.opts, "size");
		cJSON_AddStringToObject(drv.opts, "size", sz);
	}
	if (format && drv.format && !streq(drv.format, format))
		cJSON_DeleteItemFromObjectCaseSensitive(drv.opts, "format");
	char *out = kvm_drive_print(s, &drv);
	kvm_drive_clear(&drv);
	return out;
}

char **qemu_ops_disk_keys(const pve_config *c, const char *section, bool with_unused)
{
	_cleanup_strv_free_ char **keys = pve_config_keys(c, section);
	size_t n = 0;
	char **out = xcalloc(strv_length(keys) + 1, sizeof(char *));
	for (char **k = keys; *k; k++) {
		kvm_bus bus;
		if (!kvm_drive_key(*k, with_unused, &bus, NULL))
			continue;
		const char *v = pve_config_get(c, section, *k);
		if (bus != KVM_BUS_UNUSED &&
		    (strstr(v, "media=cdrom") || streq(v, "none") || startswith(v, "none,") ||
		     streq(v, "cdrom") || startswith(v, "cdrom,")))
			continue;
		out[n++] = xstrdup(*k);
	}
	return out;
}

bool qemu_ops_has_feature(pved *d, const pve_sectioncfg *scfg, const pve_config *c,
			  const char *section, pve_volume_feature f, const char *snap)
{
	_cleanup_strv_free_ char **keys = qemu_ops_disk_keys(c, section, false);
	for (char **k = keys; *k; k++) {
		_cleanup_free_ char *volid =
			qemu_ops_drive_volid(d, *k, pve_config_get(c, section, *k));
		if (!volid)
			continue;
		if (volid[0] == '/')
			return false;
		qemu_vol v;
		if (qemu_vol_open(d, scfg, volid, &v, NULL) < 0)
			return false;
		bool ok = pve_storage_volume_has_feature(&v.st, f, v.volname, snap);
		qemu_vol_clear(&v);
		if (!ok)
			return false;
	}
	return true;
}

bool qemu_ops_running(pved *d, long long vmid, kvm_proc *ret)
{
	_cleanup_free_ char *rundir = qemu_run_dir(d);
	kvm_proc p;
	bool r = kvm_proc_find(rundir, vmid, &p) == 1;
	if (r && ret)
		*ret = p;
	return r;
}

int qemu_ops_monitor(pved *d, long long vmid, kvm_qmp_sync **ret, pve_error **err)
{
	_cleanup_free_ char *rundir = qemu_run_dir(d);
	_cleanup_free_ char *sock = kvm_run_path(rundir, vmid, "qmp");
	return kvm_qmp_sync_open(sock, 10000, ret, err);
}

static bool wait_gone(const kvm_proc *p, int timeout_ms)
{
	for (int waited = 0; kvm_proc_alive(p); waited += 20) {
		if (waited >= timeout_ms)
			return false;
		usleep(20 * 1000);
	}
	return true;
}

int qemu_ops_stop(pved *d, long long vmid, pve_error **err)
{
	kvm_proc p;
	if (!qemu_ops_running(d, vmid, &p))
		return 0;
	kvm_qmp_sync *q = NULL;
	if (qemu_ops_monitor(d, vmid, &q, NULL) == 0) {
		(void)kvm_qmp_sync_command(q, "quit", NULL, 10000, NULL, NULL);
		kvm_qmp_sync_close(q);
	}
	if (wait_gone(&p, 30000))
		return 0;
	pved_task_warn("VM still running - terminating now with SIGTERM");
	kill(p.pid, SIGTERM);
	if (wait_gone(&p, 10000))
		return 0;
	pved_task_warn("VM still running - terminating now with SIGKILL");
	kill(p.pid, SIGKILL);
	if (!wait_gone(&p, 5000))
		return pve_error_set(err, EIO, "VM %lld does not stop", vmid);
	return 0;
}

int qemu_ops_set_lock(pved *d, long long vmid, const char *what, pve_error **err)
{
	_cleanup_close_ int fd = -1;
	int r = qemu_lock_wait(d, vmid, QEMU_LOCK_TIMEOUT_MS, &fd, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	r = qemu_conf_load(d, vmid, &c, digest, err);
	if (r < 0)
		return r;
	if (what && (r = qemu_conf_check_lock(c, err)) < 0)
		return r;
	if (what)
		pve_config_set(c, NULL, "lock", what);
	else if (!pve_config_delete(c, NULL, "lock"))
		return 0;
	return qemu_conf_write(d, vmid, c, digest, err);
}

/* A mirror copies the whole disk: as long as that takes. */
#define MIRROR_TIMEOUT_MS (6 * 60 * 60 * 1000)

static void mirror_progress(void *ud, const char *status, long long cur, long long total)
{
	int *last = ud;
	if (total <= 0)
		return;
	int pct = (int)(cur * 100 / total);
	if (pct / 10 > *last / 10 || (streq(status, "ready") && *last < 100)) {
		printf("drive-mirror: transferred %lld of %lld bytes (%d%%)%s\n", cur, total, pct,
		       streq(status, "ready") ? ", ready" : "");
		fflush(stdout);
		*last = streq(status, "ready") ? 100 : pct;
	}
}

int qemu_ops_mirror(pved *d, long long vmid, const char *disk, const char *path, const char *fmt,
		    bool pivot, long long bwlimit_kib, pve_error **err)
{
	kvm_qmp_sync *q = NULL;
	int r = qemu_ops_monitor(d, vmid, &q, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *dev = xasprintf("drive-%s", disk);
	_cleanup_free_ char *job = xasprintf("mirror-%s", disk);
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "device", dev);
	cJSON_AddStringToObject(a, "target", path);
	cJSON_AddStringToObject(a, "format", fmt);
	cJSON_AddStringToObject(a, "mode", "existing");
	cJSON_AddStringToObject(a, "sync", "full");
	cJSON_AddFalseToObject(a, "auto-dismiss");
	if (bwlimit_kib > 0)
		cJSON_AddNumberToObject(a, "speed", (double)bwlimit_kib * 1024);
	int last = -1;
	r = kvm_qmp_sync_job(q, "drive-mirror", a, job, MIRROR_TIMEOUT_MS, mirror_progress, &last,
			     err);
	if (r >= 0) {
		/* complete: QEMU switches to the copy; cancel once ready: the copy is done and
		 * QEMU stays on its disk (a clone) */
		cJSON *ca = cJSON_CreateObject();
		cJSON_AddStringToObject(ca, "device", job);
		r = kvm_qmp_sync_command(q, pivot ? "block-job-complete" : "block-job-cancel", ca,
					 10000, NULL, err);
		if (r >= 0)
			r = kvm_qmp_sync_job_wait(q, "drive-mirror", job, false, 60000, NULL, NULL,
						  err);
	}
	if (r < 0) {
		cJSON *ca = cJSON_CreateObject();
		cJSON_AddStringToObject(ca, "id", job);
		(void)kvm_qmp_sync_command(q, "job-cancel", ca, 10000, NULL, NULL);
		ca = cJSON_CreateObject();
		cJSON_AddStringToObject(ca, "id", job);
		(void)kvm_qmp_sync_command(q, "job-dismiss", ca, 10000, NULL, NULL);
	}
	kvm_qmp_sync_close(q);
	return r;
}

void qemu_ops_rate_arg(long long bwlimit_kib, char rate[32], const char **argv, size_t *k)
{
	if (bwlimit_kib <= 0)
		return;
	snprintf(rate, 32, "%lld", bwlimit_kib * 1024);
	argv[(*k)++] = "-r";
	argv[(*k)++] = rate;
}

void qemu_ops_add_kvm_args(pved *d, cJSON *args)
{
	cJSON_AddStringToObject(args, "kvm_state", d->kvm_state ? d->kvm_state : "unknown");
	cJSON_AddNumberToObject(args, "kvm_percent", d->kvm_percent);
}

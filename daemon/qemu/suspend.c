/* Suspend to disk, as Proxmox's vm_suspend with todisk: the guest paused, its RAM saved into a state
 * volume (vm-VMID-state-suspend-DATE; QEMU 10's snapshot-save job with the state volume as its only
 * device, since upstream QEMU has no Proxmox state file), the config's `vmstate` naming it and
 * `lock: suspended`, QEMU stopped. The next start (or resume) starts QEMU paused, loads the RAM with
 * snapshot-load, continues the guest, then frees the volume and clears the keys. */
#include <cjson/cJSON.h>
#include <time.h>

#include "daemon/core/tasks-internal.h"
#include "daemon/qemu/ops-internal.h"

#define SUSPEND_TAG "suspend"

static bool arg_bool(const cJSON *args, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	return (cJSON_IsNumber(v) && v->valuedouble != 0) || cJSON_IsTrue(v);
}

static int qmp(pved *d, long long vmid, const char *cmd, pve_error **err)
{
	kvm_qmp_sync *q = NULL;
	int r = qemu_ops_monitor(d, vmid, &q, err);
	if (r >= 0)
		r = kvm_qmp_sync_command(q, cmd, NULL, 10000, NULL, err);
	kvm_qmp_sync_close(q);
	return r;
}

/* Sets or removes the suspend keys under the per-VM lock. */
static int set_keys(pved *d, long long vmid, const char *lock, const char *vmstate, pve_error **err)
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
	if (lock)
		pve_config_set(c, NULL, "lock", lock);
	else
		pve_config_delete(c, NULL, "lock");
	if (vmstate)
		pve_config_set(c, NULL, "vmstate", vmstate);
	else
		pve_config_delete(c, NULL, "vmstate");
	return qemu_conf_write(d, vmid, c, digest, err);
}

int qemu_suspend_todisk(pved *d, long long vmid, const cJSON *args, pve_error **err)
{
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	int r = qemu_storage_cfg(d, &scfg, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *state = NULL;
	_cleanup_config_ pve_config *c = NULL;
	{
		_cleanup_close_ int fd = -1;
		r = qemu_lock_wait(d, vmid, QEMU_LOCK_TIMEOUT_MS, &fd, err);
		if (r < 0)
			return r;
		char digest[PVE_STORE_DIGEST_LEN + 1];
		r = qemu_conf_load(d, vmid, &c, digest, err);
		if (r < 0)
			return r;
		if (!arg_bool(args, "skiplock") && (r = qemu_conf_check_lock(c, err)) < 0)
			return r;
		if (!qemu_ops_running(d, vmid, NULL))
			return pve_error_set(err, EINVAL, "VM %lld not running", vmid);
		char date[16];
		time_t now = time(NULL);
		struct tm tm;
		strftime(date, sizeof(date), "%Y-%m-%d", localtime_r(&now, &tm));
		_cleanup_free_ char *name = xasprintf("suspend-%s", date);
		r = qemu_ops_state_alloc(d, scfg, c, vmid, name, pve_json_str(args, "statestorage"),
					 &state, err);
		if (r < 0)
			return r;
		pve_config_set(c, NULL, "lock", "suspending");
		r = qemu_conf_write(d, vmid, c, digest, err);
		if (r < 0) {
			char *v[] = { state, NULL };
			qemu_disks_free(d, scfg, v, true);
			return r;
		}
	}
	/* paused first: nothing the guest does after the save reaches its disks */
	r = qmp(d, vmid, "stop", err);
	if (r >= 0)
		r = qemu_ops_state_job(d, scfg, c, NULL, vmid, SUSPEND_TAG, state, false, false,
				       err);
	if (r < 0) {
		(void)qmp(d, vmid, "cont", NULL);
		char *v[] = { state, NULL };
		qemu_disks_free(d, scfg, v, true);
		(void)set_keys(d, vmid, NULL, NULL, NULL);
		return r;
	}
	r = set_keys(d, vmid, "suspended", state, err);
	if (r >= 0)
		r = qemu_ops_stop(d, vmid, err);
	if (r >= 0)
		printf("VM %lld suspended to disk ('%s')\n", vmid, state);
	return r;
}

int qemu_resume_from_disk(pved *d, long long vmid, pve_error **err)
{
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	_cleanup_config_ pve_config *c = NULL;
	int r = qemu_storage_cfg(d, &scfg, err);
	if (r >= 0)
		r = qemu_conf_load(d, vmid, &c, NULL, err);
	if (r < 0)
		return r;
	const char *state = pve_config_get(c, NULL, "vmstate");
	if (!state)
		return pve_error_set(err, EINVAL, "VM %lld has no saved state", vmid);
	r = qemu_ops_state_job(d, scfg, c, NULL, vmid, SUSPEND_TAG, state, true, false, err);
	if (r >= 0)
		r = qmp(d, vmid, "cont", err);
	if (r < 0)
		return r;
	_cleanup_free_ char *vol = xstrdup(state);
	/* the caller holds the per-VM lock: the keys go directly */
	_cleanup_config_ pve_config *c2 = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	r = qemu_conf_load(d, vmid, &c2, digest, err);
	if (r < 0)
		return r;
	pve_config_delete(c2, NULL, "vmstate");
	pve_config_delete(c2, NULL, "lock");
	r = qemu_conf_write(d, vmid, c2, digest, err);
	if (r < 0)
		return r;
	char *v[] = { vol, NULL };
	qemu_disks_free(d, scfg, v, true);
	printf("VM %lld resumed from its saved state\n", vmid);
	return 0;
}

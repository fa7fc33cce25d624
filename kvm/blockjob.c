/* QMP commands on a VM's block layer for task workers (the blocking client): jobs run to their end
 * (snapshot-save, snapshot-load, drive-mirror), the node behind a drive, and volumes added and removed
 * as nodes of their own (a snapshot's RAM state). */
#include <cjson/cJSON.h>
#include <time.h>

#include "kvm/kvm.h"

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The job's entry of query-jobs (a copy), or NULL when QEMU no longer lists it. */
static int job_state(kvm_qmp_sync *q, const char *job_id, cJSON **ret, pve_error **err)
{
	cJSON *jobs = NULL;
	int r = kvm_qmp_sync_command(q, "query-jobs", NULL, 10000, &jobs, err);
	if (r < 0)
		return r;
	cJSON *j, *found = NULL;
	cJSON_ArrayForEach (j, jobs)
		if (streq_ptr(pve_json_str(j, "id"), job_id)) {
			found = cJSON_Duplicate(j, true);
			break;
		}
	cJSON_Delete(jobs);
	*ret = found;
	return 0;
}

int kvm_qmp_sync_job(kvm_qmp_sync *q, const char *command, cJSON *args, const char *job_id,
		     int timeout_ms, kvm_job_progress_fn progress, void *ud, pve_error **err)
{
	if (!args)
		args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "job-id", job_id);
	int r = kvm_qmp_sync_command(q, command, args, 10000, NULL, err);
	if (r < 0)
		return r;
	return kvm_qmp_sync_job_wait(q, command, job_id, true, timeout_ms, progress, ud, err);
}

int kvm_qmp_sync_job_wait(kvm_qmp_sync *q, const char *command, const char *job_id,
			  bool until_ready, int timeout_ms, kvm_job_progress_fn progress, void *ud,
			  pve_error **err)
{
	int r;
	uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;
	for (;;) {
		cJSON *j = NULL;
		r = job_state(q, job_id, &j, err);
		if (r < 0)
			return r;
		if (!j)
			return pve_error_set(err, EIO, "%s: job '%s' vanished", command, job_id);
		const char *status = pve_json_str(j, "status");
		long long cur = 0, total = 0;
		pve_json_int(j, "current-progress", &cur);
		pve_json_int(j, "total-progress", &total);
		if (progress)
			progress(ud, status ? status : "", cur, total);
		if (streq_ptr(status, "concluded")) {
			const char *e = pve_json_str(j, "error");
			if (e)
				r = pve_error_set(err, EIO, "%s failed: %s", command, e);
			cJSON_Delete(j);
			cJSON *a = cJSON_CreateObject();
			cJSON_AddStringToObject(a, "id", job_id);
			(void)kvm_qmp_sync_command(q, "job-dismiss", a, 10000, NULL, NULL);
			return r;
		}
		/* a mirror waits in "ready" for its completion by the caller */
		if (until_ready && streq_ptr(status, "ready")) {
			cJSON_Delete(j);
			return 0;
		}
		cJSON_Delete(j);
		if (mono_ms() > deadline) {
			cJSON *a = cJSON_CreateObject();
			cJSON_AddStringToObject(a, "id", job_id);
			(void)kvm_qmp_sync_command(q, "job-cancel", a, 10000, NULL, NULL);
			return pve_error_set(err, ETIMEDOUT, "%s: job '%s' got timeout", command,
					     job_id);
		}
		usleep(100 * 1000);
	}
}

int kvm_qmp_drive_size(kvm_qmp_sync *q, const char *key, uint64_t *ret, pve_error **err)
{
	cJSON *blocks = NULL;
	int r = kvm_qmp_sync_command(q, "query-block", NULL, 10000, &blocks, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *dev = xasprintf("drive-%s", key);
	const cJSON *b;
	long long size = -1;
	cJSON_ArrayForEach (b, blocks)
		if (streq_ptr(pve_json_str(b, "device"), dev)) {
			const cJSON *in = cJSON_GetObjectItemCaseSensitive(b, "inserted");
			pve_json_int(cJSON_GetObjectItemCaseSensitive(in, "image"), "virtual-size",
				     &size);
			break;
		}
	cJSON_Delete(blocks);
	if (size < 0)
		return pve_error_set(err, ENOENT, "VM has no image size for drive '%s'", key);
	*ret = (uint64_t)size;
	return 0;
}

int kvm_qmp_drive_node(kvm_qmp_sync *q, const char *key, char **ret_node, pve_error **err)
{
	cJSON *blocks = NULL;
	int r = kvm_qmp_sync_command(q, "query-block", NULL, 10000, &blocks, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *dev = xasprintf("drive-%s", key);
	const cJSON *b;
	const char *node = NULL;
	cJSON_ArrayForEach (b, blocks)
		if (streq_ptr(pve_json_str(b, "device"), dev)) {
			node = pve_json_str(cJSON_GetObjectItemCaseSensitive(b, "inserted"),
					    "node-name");
			break;
		}
	if (!node) {
		cJSON_Delete(blocks);
		return pve_error_set(err, ENOENT, "VM has no block node for drive '%s'", key);
	}
	*ret_node = xstrdup(node);
	cJSON_Delete(blocks);
	return 0;
}

int kvm_qmp_image_add(kvm_qmp_sync *q, const char *node, const char *path, const char *format,
		      pve_error **err)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "driver", format);
	cJSON_AddStringToObject(a, "node-name", node);
	cJSON *file = cJSON_AddObjectToObject(a, "file");
	cJSON_AddStringToObject(file, "driver", "file");
	cJSON_AddStringToObject(file, "filename", path);
	return kvm_qmp_sync_command(q, "blockdev-add", a, 10000, NULL, err);
}

int kvm_qmp_image_del(kvm_qmp_sync *q, const char *node, pve_error **err)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "node-name", node);
	return kvm_qmp_sync_command(q, "blockdev-del", a, 10000, NULL, err);
}

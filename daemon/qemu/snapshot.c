/* A VM's snapshots, as Proxmox keeps them: one config section per snapshot (a copy of the main section
 * with snaptime, a description, the parent, the RAM state volume as vmstate), the main section's
 * `parent` naming the newest one, `snapstate` and the `lock:` key while an operation runs. Disks are
 * snapshotted through storage/ when the VM is stopped (qemu-img's internal qcow2 snapshots on dir
 * storages) and through QEMU when it runs: blockdev-snapshot-internal-sync in one transaction, or with
 * the RAM QEMU 10's snapshot-save job, whose state goes into a qcow2 state volume of its own
 * (vm-VMID-state-NAME) opened beside the disks; a rollback to it starts QEMU paused and runs
 * snapshot-load. Tasks qmsnapshot, qmrollback, qmdelsnapshot. */
#include <cjson/cJSON.h>
#include <time.h>

#include "daemon/core/tasks-internal.h"
#include "daemon/qemu/ops-internal.h"

/* QEMU's snapshot jobs save or load the RAM: a few seconds for a small guest, minutes for a big one. */
#define STATE_JOB_TIMEOUT_MS (30 * 60 * 1000)
#define STATE_NODE "pved-vmstate"

static bool snapshot_section(const char *name)
{
	return !streq(name, KVM_SECTION_PENDING) && !startswith(name, "special:");
}

/* Proxmox refuses these names (its config sections and the list's "current"). */
static int check_name(const char *snapname, pve_error **err)
{
	if (streq(snapname, "current") || strcasecmp(snapname, "pending") == 0 ||
	    startswith(snapname, "special"))
		return pve_error_set_param(err, EINVAL, "snapname",
					   "unable to use snapshot name '%s' (reserved name)",
					   snapname);
	return 0;
}

static int need_snapshot(const pve_config *c, const char *snapname, pve_error **err)
{
	if (!pve_config_has_section(c, snapname) || !snapshot_section(snapname))
		return pve_error_set(err, ENOENT, "snapshot '%s' does not exist", snapname);
	return 0;
}

/* ---- handlers -------------------------------------------------------------------------------------- */

static int call_conf(pved_call *c, pve_config **ret, char *digest, pve_error **err)
{
	return qemu_conf_load(c->d, pved_call_int(c, "vmid", 0), ret, digest, err);
}

static void h_list(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	if (call_conf(c, &conf, digest, &err) < 0)
		return pved_call_fail(c, err);
	cJSON *out = cJSON_CreateArray();
	_cleanup_strv_free_ char **secs = pve_config_sections(conf);
	for (char **s = secs; *s; s++) {
		if (!snapshot_section(*s))
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", *s);
		long long t = 0;
		const char *v = pve_config_get(conf, *s, "snaptime");
		if (v)
			(void)pve_parse_int(v, 0, INT64_MAX, &t);
		cJSON_AddNumberToObject(o, "snaptime", (double)t);
		cJSON_AddNumberToObject(o, "vmstate", pve_config_get(conf, *s, "vmstate") ? 1 : 0);
		_cleanup_free_ char *descr = pve_config_get_description(conf, *s);
		cJSON_AddStringToObject(o, "description", descr ? descr : "");
		if ((v = pve_config_get(conf, *s, "parent")))
			cJSON_AddStringToObject(o, "parent", v);
		if ((v = pve_config_get(conf, *s, "snapstate")))
			cJSON_AddStringToObject(o, "snapstate", v);
		cJSON_AddItemToArray(out, o);
	}
	cJSON *cur = cJSON_CreateObject();
	cJSON_AddStringToObject(cur, "name", "current");
	cJSON_AddStringToObject(cur, "digest", digest);
	qemu_vm *vm = qemu_vm_find(c->d, pved_call_int(c, "vmid", 0));
	cJSON_AddNumberToObject(cur, "running", vm && qemu_vm_running(vm) ? 1 : 0);
	cJSON_AddStringToObject(cur, "description", "You are here!");
	const char *parent = pve_config_get(conf, NULL, "parent");
	if (parent)
		cJSON_AddStringToObject(cur, "parent", parent);
	cJSON_AddItemToArray(out, cur);
	pved_call_reply(c, out);
}

static void start(pved_call *c, const char *type, cJSON *args)
{
	pve_error *err = NULL;
	_cleanup_free_ char *id = xasprintf("%lld", pved_call_int(c, "vmid", 0)), *upid = NULL;
	if (pved_task_start(c->d, type, id, c->authid, args, &upid, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

static void h_snapshot(pved_call *c)
{
	pve_error *err = NULL;
	const char *snapname = pved_call_str(c, "snapname");
	if (check_name(snapname, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_config_ pve_config *conf = NULL;
	if (call_conf(c, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	/* checked again in the task, under the lock; here so that a bad name is a 400 naming it */
	if (pve_config_has_section(conf, snapname)) {
		pve_error_set_param(&err, EINVAL, "snapname", "snapshot name '%s' already used",
				    snapname);
		return pved_call_fail(c, err);
	}
	start(c, "qmsnapshot", cJSON_Duplicate(c->params, true));
}

static void h_idx(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	if (call_conf(c, &conf, NULL, &err) < 0 ||
	    need_snapshot(conf, pved_call_str(c, "snapname"), &err) < 0)
		return pved_call_fail(c, err);
	cJSON *out = cJSON_CreateArray();
	static const char *const cmds[] = { "rollback", "config" };
	for (size_t i = 0; i < ELEMENTSOF(cmds); i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "cmd", cmds[i]);
		cJSON_AddItemToArray(out, o);
	}
	pved_call_reply(c, out);
}

static void h_config_get(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	const char *snapname = pved_call_str(c, "snapname");
	if (call_conf(c, &conf, NULL, &err) < 0 || need_snapshot(conf, snapname, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, kvm_config_to_json(conf, snapname, qemu_schema(c->d), false));
}

/* PUT .../config: the description, under the per-VM lock, through the config edit. */
typedef struct descr_job {
	pved_call *c;
	long long vmid;
	char *snapname, *descr, *path, *lockname;
	int lock_fd;
	pved_cfgfile file;
} descr_job;

static void descr_job_free(descr_job *j)
{
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	free(j->snapname);
	free(j->descr);
	free(j->path);
	free(j->lockname);
	free(j);
}

static int file_parse(const char *text, size_t len, void **ret, pve_error **err)
{
	if (len == 0)
		return pve_error_set(err, ENOENT, "the config file does not exist");
	return kvm_config_parse(text, len, (pve_config **)ret, err);
}

static int descr_change(pved *d, void *cfg, void *ud, pve_error **err)
{
	(void)d;
	descr_job *j = ud;
	pve_config *c = cfg;
	int r = qemu_conf_check_lock(c, err);
	if (r >= 0)
		r = need_snapshot(c, j->snapname, err);
	if (r < 0)
		return r;
	if (!j->descr)
		return PVED_CFGEDIT_KEEP;
	pve_config_set_description(c, j->snapname, j->descr);
	return 0;
}

static void descr_done(pved *d, void *ud, int r, pve_error *err)
{
	descr_job *j = ud;
	qemu_vm_refresh(d, j->vmid);
	if (r < 0)
		pved_call_fail(j->c, err);
	else
		pved_call_reply(j->c, NULL);
	descr_job_free(j);
}

static void descr_locked(pved *d, int fd, pve_error *err, void *ud)
{
	descr_job *j = ud;
	if (fd < 0) {
		pved_call_fail(j->c, err);
		descr_job_free(j);
		return;
	}
	j->lock_fd = fd;
	j->file = (pved_cfgfile){ .path = j->path,
				  .lock = j->lockname,
				  .parse = file_parse,
				  .print = pved_cfgfile_config_print,
				  .free = pved_cfgfile_config_free };
	pved_cfgedit e = { .file = &j->file, .change = descr_change, .done = descr_done };
	pved_cfgedit_run(d, &e, j);
}

static void h_config_put(pved_call *c)
{
	descr_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	j->vmid = pved_call_int(c, "vmid", 0);
	j->lock_fd = -1;
	j->snapname = xstrdup(pved_call_str(c, "snapname"));
	const char *descr = pved_call_str(c, "description");
	j->descr = descr ? xstrdup(descr) : NULL;
	j->path = qemu_conf_path(c->d, j->vmid);
	j->lockname = xasprintf("qemu-%lld", j->vmid);
	qemu_lock_async(c->d, j->vmid, descr_locked, j);
}

static void h_rollback(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	if (call_conf(c, &conf, NULL, &err) < 0 ||
	    need_snapshot(conf, pved_call_str(c, "snapname"), &err) < 0)
		return pved_call_fail(c, err);
	cJSON *args = cJSON_Duplicate(c->params, true);
	qemu_ops_add_kvm_args(c->d, args);
	start(c, "qmrollback", args);
}

static void h_delete(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	if (call_conf(c, &conf, NULL, &err) < 0 ||
	    need_snapshot(conf, pved_call_str(c, "snapname"), &err) < 0)
		return pved_call_fail(c, err);
	start(c, "qmdelsnapshot", cJSON_Duplicate(c->params, true));
}

/* ---- in the workers -------------------------------------------------------------------------------- */

typedef struct snap_args {
	long long vmid;
	const char *snapname;
	bool vmstate, start, force;
	const char *description;
} snap_args;

static bool arg_bool(const cJSON *args, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	return (cJSON_IsNumber(v) && v->valuedouble != 0) || cJSON_IsTrue(v);
}

static void args_read(const cJSON *args, snap_args *ret)
{
	*ret = (snap_args){ 0 };
	pve_json_int(args, "vmid", &ret->vmid);
	ret->snapname = pve_json_str(args, "snapname");
	ret->description = pve_json_str(args, "description");
	ret->vmstate = arg_bool(args, "vmstate");
	ret->start = arg_bool(args, "start");
	ret->force = arg_bool(args, "force");
}

/* The storage for a RAM state: vmstatestorage, else the first disk's, else local (Proxmox's
 * find_vmstate_storage, without its shared-storage preference: pved has one node). */
static char *state_storage(pved *d, const pve_config *c, const char *storage)
{
	if (storage)
		return xstrdup(storage);
	const char *v = pve_config_get(c, NULL, "vmstatestorage");
	if (v)
		return xstrdup(v);
	_cleanup_strv_free_ char **keys = qemu_ops_disk_keys(c, NULL, false);
	for (char **k = keys; *k; k++) {
		_cleanup_free_ char *volid =
			qemu_ops_drive_volid(d, *k, pve_config_get(c, NULL, *k));
		if (volid && volid[0] != '/' && strchr(volid, ':'))
			return xstrndup(volid, strcspn(volid, ":"));
	}
	return xstrdup("local");
}

/* Its virtual size is what Proxmox sizes a state file by (twice the RAM): qcow2 keeps the state beyond
 * it, sparse. */
int qemu_ops_state_alloc(pved *d, const pve_sectioncfg *scfg, const pve_config *c, long long vmid,
			 const char *snapname, const char *storage, char **ret_volid,
			 pve_error **err)
{
	_cleanup_free_ char *sid = state_storage(d, c, storage);
	pve_storage st;
	int r = pve_storage_get(scfg, sid, &st, err);
	if (r >= 0)
		r = pve_storage_check_content(&st, PVE_CONTENT_IMAGES, err);
	if (r >= 0)
		r = pve_storage_activate(&st, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *name = xasprintf("vm-%lld-state-%s.qcow2", vmid, snapname);
	_cleanup_free_ char *volname = NULL;
	uint64_t bytes = kvm_config_memory_mib(c, NULL) * 2 * 1024 * 1024;
	r = pve_storage_alloc_image(&st, vmid, "qcow2", name, bytes, &volname, err);
	if (r < 0)
		return r;
	*ret_volid = xasprintf("%s:%s", sid, volname);
	return 0;
}

static void free_volume(pved *d, const pve_sectioncfg *scfg, const char *volid)
{
	char *v[] = { (char *)volid, NULL };
	qemu_disks_free(d, scfg, v, true);
}

/* The node names of the running VM's disks among keys, and the state volume's when given. */
static int disk_nodes(pved *d, kvm_qmp_sync *q, const pve_config *c, char **keys,
		      const char *state_node, cJSON **ret, pve_error **err)
{
	(void)d, (void)c;
	cJSON *nodes = cJSON_CreateArray();
	for (char **k = keys; *k; k++) {
		char *node = NULL;
		int r = kvm_qmp_drive_node(q, *k, &node, err);
		if (r < 0) {
			cJSON_Delete(nodes);
			return r;
		}
		cJSON_AddItemToArray(nodes, cJSON_CreateString(node));
		free(node);
	}
	if (state_node)
		cJSON_AddItemToArray(nodes, cJSON_CreateString(state_node));
	*ret = nodes;
	return 0;
}

static void job_progress(void *ud, const char *status, long long cur, long long total)
{
	int *last = ud;
	if (!streq(status, "running") || total <= 0)
		return;
	int pct = (int)(cur * 100 / total);
	if (pct / 25 > *last / 25) {
		printf("%d%%\n", pct);
		fflush(stdout);
	}
	if (pct > *last)
		*last = pct;
}

int qemu_ops_state_job(pved *d, const pve_sectioncfg *scfg, const pve_config *c,
		       const char *section, long long vmid, const char *snapname,
		       const char *state_volid, bool load, bool with_disks, pve_error **err)
{
	_cleanup_free_ char *path = NULL, *fmt = NULL;
	int r = qemu_volume_path(d, scfg, state_volid, &path, &fmt, err);
	if (r < 0)
		return r;
	kvm_qmp_sync *q = NULL;
	r = qemu_ops_monitor(d, vmid, &q, err);
	if (r < 0)
		return r;
	r = kvm_qmp_image_add(q, STATE_NODE, path, "qcow2", err);
	if (r < 0) {
		kvm_qmp_sync_close(q);
		return r;
	}
	_cleanup_strv_free_ char **keys = with_disks ? qemu_ops_disk_keys(c, section, false) :
						       xcalloc(1, sizeof(char *));
	cJSON *nodes = NULL;
	r = disk_nodes(d, q, c, keys, STATE_NODE, &nodes, err);
	if (r >= 0) {
		cJSON *a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "tag", snapname);
		cJSON_AddStringToObject(a, "vmstate", STATE_NODE);
		cJSON_AddItemToObject(a, "devices", nodes);
		int last = 0;
		printf("%s the VM state %s '%s'\n", load ? "loading" : "saving",
		       load ? "from" : "to", state_volid);
		fflush(stdout);
		r = kvm_qmp_sync_job(q, load ? "snapshot-load" : "snapshot-save", a,
				     load ? "pved-snapshot-load" : "pved-snapshot-save",
				     STATE_JOB_TIMEOUT_MS, job_progress, &last, err);
	}
	pve_error *e = NULL;
	if (kvm_qmp_image_del(q, STATE_NODE, &e) < 0) {
		pved_task_warn("closing the state volume: %s", e->message);
		pve_error_free(e);
	}
	kvm_qmp_sync_close(q);
	return r;
}

/* Whether the config's agent is on and may freeze the guest's file systems (agent: 1, or
 * enabled=1 without freeze-fs=0 / freeze-fs-on-backup=0). */
static bool agent_freezes(const pve_config *c)
{
	const char *v = pve_config_get(c, NULL, "agent");
	if (!v)
		return false;
	_cleanup_strv_free_ char **parts = pve_split_list(v);
	bool on = false, freeze = true;
	for (char **p = parts; *p; p++) {
		if (streq(*p, "1") || streq(*p, "enabled=1"))
			on = true;
		if (streq(*p, "freeze-fs=0") || streq(*p, "freeze-fs-on-backup=0"))
			freeze = false;
	}
	return on && freeze;
}

/* guest-fsfreeze-freeze or -thaw; a failure is a warning, as in Proxmox. */
static void agent_freeze(pved *d, long long vmid, bool freeze)
{
	_cleanup_free_ char *rundir = qemu_run_dir(d);
	_cleanup_free_ char *sock = kvm_run_path(rundir, vmid, "qga");
	const char *cmd = freeze ? "guest-fsfreeze-freeze" : "guest-fsfreeze-thaw";
	printf("issuing guest-agent '%s' command\n", freeze ? "fs-freeze" : "fs-thaw");
	fflush(stdout);
	char name[32];
	snprintf(name, sizeof(name), "VM %lld", vmid);
	pve_error *e = NULL;
	/* Proxmox's time limits for each (kvm_qga_timeout_ms): a freeze may take an hour in a busy guest */
	if (kvm_qga_run(sock, name, cmd, NULL, 0, 0, NULL, &e) < 0) {
		pved_task_warn("%s problems - %s", cmd, e->message);
		pve_error_free(e);
	}
}

/* The disks of a running VM without the RAM: one transaction of internal snapshots, so they are taken
 * at one instant; the guest's file systems frozen around it when the agent is on. */
static int live_disk_snapshots(pved *d, const pve_config *c, long long vmid, const char *snapname,
			       pve_error **err)
{
	kvm_qmp_sync *q = NULL;
	int r = qemu_ops_monitor(d, vmid, &q, err);
	if (r < 0)
		return r;
	bool freeze = agent_freezes(c);
	if (freeze)
		agent_freeze(d, vmid, true);
	_cleanup_strv_free_ char **keys = qemu_ops_disk_keys(c, NULL, false);
	cJSON *actions = cJSON_CreateArray();
	for (char **k = keys; *k; k++) {
		cJSON *a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "type", "blockdev-snapshot-internal-sync");
		cJSON *data = cJSON_AddObjectToObject(a, "data");
		_cleanup_free_ char *dev = xasprintf("drive-%s", *k);
		cJSON_AddStringToObject(data, "device", dev);
		cJSON_AddStringToObject(data, "name", snapname);
		cJSON_AddItemToArray(actions, a);
	}
	cJSON *args = cJSON_CreateObject();
	cJSON_AddItemToObject(args, "actions", actions);
	r = kvm_qmp_sync_command(q, "transaction", args, 60000, NULL, err);
	kvm_qmp_sync_close(q);
	if (freeze)
		agent_freeze(d, vmid, false);
	return r;
}

/* Keys a snapshot does not copy from the main section (Proxmox's __snapshot_copy_config). */
static bool copied(const char *key)
{
	static const char *const skip[] = { "snapstate", "snaptime",	   "vmstate",	 "lock",
					    "digest",	 "runningmachine", "runningcpu", NULL };
	for (const char *const *s = skip; *s; s++)
		if (streq(key, *s))
			return false;
	return !startswith(key, "unused");
}

static int task_snapshot(pved *d, const cJSON *args, pve_error **err)
{
	snap_args a;
	args_read(args, &a);
	if (!a.snapname)
		return pve_error_set(err, EINVAL, "no snapshot name");
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	int r = qemu_storage_cfg(d, &scfg, err);
	if (r < 0)
		return r;
	bool running;
	_cleanup_free_ char *state = NULL;
	/* prepare: under the per-VM lock, the section written with snapstate and the lock key */
	{
		_cleanup_close_ int lock = -1;
		r = qemu_lock_wait(d, a.vmid, QEMU_LOCK_TIMEOUT_MS, &lock, err);
		if (r < 0)
			return r;
		_cleanup_config_ pve_config *c = NULL;
		char digest[PVE_STORE_DIGEST_LEN + 1];
		r = qemu_conf_load(d, a.vmid, &c, digest, err);
		if (r < 0)
			return r;
		if ((r = qemu_conf_check_lock(c, err)) < 0)
			return r;
		if (pve_config_has_section(c, a.snapname))
			return pve_error_set_param(err, EINVAL, "snapname",
						   "snapshot name '%s' already used", a.snapname);
		if (kvm_config_bool(c, NULL, "template", false))
			return pve_error_set(err, EINVAL, "snapshot feature is not available");
		if (!qemu_ops_has_feature(d, scfg, c, NULL, PVE_FEATURE_SNAPSHOT, NULL))
			return pve_error_set(err, EINVAL, "snapshot feature is not available");
		running = qemu_ops_running(d, a.vmid, NULL);
		if (a.vmstate && running) {
			r = qemu_ops_state_alloc(d, scfg, c, a.vmid, a.snapname, NULL, &state, err);
			if (r < 0)
				return r;
		}
		_cleanup_strv_free_ char **keys = pve_config_keys(c, NULL);
		for (char **k = keys; *k; k++)
			if (copied(*k))
				pve_config_set(c, a.snapname, *k, pve_config_get(c, NULL, *k));
		pve_config_set(c, a.snapname, "snapstate", "prepare");
		char t[32];
		snprintf(t, sizeof(t), "%lld", (long long)time(NULL));
		pve_config_set(c, a.snapname, "snaptime", t);
		if (state)
			pve_config_set(c, a.snapname, "vmstate", state);
		if (a.description && *a.description)
			pve_config_set_description(c, a.snapname, a.description);
		pve_config_set(c, NULL, "lock", "snapshot");
		r = qemu_conf_write(d, a.vmid, c, digest, err);
		if (r < 0) {
			if (state)
				free_volume(d, scfg, state);
			return r;
		}
	}
	printf("snapshotting VM %lld as '%s'%s\n", a.vmid, a.snapname,
	       state ? " with its RAM" : "");
	fflush(stdout);

	/* the work, without the per-VM lock: the lock key keeps other changes out */
	_cleanup_config_ pve_config *c = NULL;
	r = qemu_conf_load(d, a.vmid, &c, NULL, err);
	_cleanup_strv_free_ char **keys = r >= 0 ? qemu_ops_disk_keys(c, NULL, false) : NULL;
	size_t done = 0;
	if (r >= 0 && state)
		r = qemu_ops_state_job(d, scfg, c, NULL, a.vmid, a.snapname, state, false, true,
				       err);
	else if (r >= 0 && running && keys[0])
		r = live_disk_snapshots(d, c, a.vmid, a.snapname, err);
	else
		for (char **k = keys; r >= 0 && k && *k; k++, done++) {
			_cleanup_free_ char *volid =
				qemu_ops_drive_volid(d, *k, pve_config_get(c, NULL, *k));
			qemu_vol v;
			r = qemu_vol_open(d, scfg, volid, &v, err);
			if (r >= 0) {
				printf("snapshot '%s' of %s (%s)\n", a.snapname, *k, volid);
				r = pve_storage_volume_snapshot(&v.st, v.volname, a.snapname, err);
				qemu_vol_clear(&v);
			}
		}

	/* commit or undo, under the per-VM lock again */
	_cleanup_close_ int lock = -1;
	pve_error *e = NULL;
	int r2 = qemu_lock_wait(d, a.vmid, QEMU_LOCK_TIMEOUT_MS, &lock, &e);
	_cleanup_config_ pve_config *c2 = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	if (r2 >= 0)
		r2 = qemu_conf_load(d, a.vmid, &c2, digest, &e);
	if (r2 < 0) {
		if (r >= 0) {
			if (err && !*err)
				*err = e;
			else
				pve_error_free(e);
			return r2;
		}
		pve_error_free(e);
		return r;
	}
	if (r < 0) {
		/* what was taken goes again: the disks' snapshots made so far, the state volume */
		for (size_t i = 0; !running && i < done; i++) {
			_cleanup_free_ char *volid =
				qemu_ops_drive_volid(d, keys[i], pve_config_get(c, NULL, keys[i]));
			qemu_vol v;
			if (volid && qemu_vol_open(d, scfg, volid, &v, NULL) >= 0) {
				(void)pve_storage_volume_snapshot_delete(&v.st, v.volname,
									 a.snapname, NULL);
				qemu_vol_clear(&v);
			}
		}
		if (state)
			free_volume(d, scfg, state);
		pve_config_delete_section(c2, a.snapname);
		pve_config_delete(c2, NULL, "lock");
		(void)qemu_conf_write(d, a.vmid, c2, digest, NULL);
		return r;
	}
	pve_config_delete(c2, a.snapname, "snapstate");
	const char *parent = pve_config_get(c2, NULL, "parent");
	if (parent)
		pve_config_set(c2, a.snapname, "parent", parent);
	else
		pve_config_delete(c2, a.snapname, "parent");
	pve_config_set(c2, NULL, "parent", a.snapname);
	pve_config_delete(c2, NULL, "lock");
	r = qemu_conf_write(d, a.vmid, c2, digest, err);
	if (r >= 0)
		printf("snapshot '%s' done\n", a.snapname);
	return r;
}

/* The volumes of the main section that the snapshot does not use become unused[n] (Proxmox keeps disks
 * added after the snapshot). */
static void keep_unused(pved *d, const pve_config *cur, pve_config *next, const char *snapname)
{
	_cleanup_strv_free_ char **snap_keys = qemu_ops_disk_keys(cur, snapname, true);
	_cleanup_strv_free_ char **cur_keys = qemu_ops_disk_keys(cur, NULL, true);
	for (char **k = cur_keys; *k; k++) {
		_cleanup_free_ char *volid =
			qemu_ops_drive_volid(d, *k, pve_config_get(cur, NULL, *k));
		if (!volid)
			continue;
		bool used = false;
		for (char **s = snap_keys; *s && !used; s++) {
			_cleanup_free_ char *sv =
				qemu_ops_drive_volid(d, *s, pve_config_get(cur, snapname, *s));
			used = sv && streq(sv, volid);
		}
		if (used)
			continue;
		_cleanup_free_ char *key = kvm_config_next_unused(next);
		if (key)
			pve_config_set(next, NULL, key, volid);
	}
}

static int task_rollback(pved *d, const cJSON *args, pve_error **err)
{
	snap_args a;
	args_read(args, &a);
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	int r = qemu_storage_cfg(d, &scfg, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *state = NULL;
	{
		_cleanup_close_ int lock = -1;
		r = qemu_lock_wait(d, a.vmid, QEMU_LOCK_TIMEOUT_MS, &lock, err);
		if (r < 0)
			return r;
		_cleanup_config_ pve_config *c = NULL;
		char digest[PVE_STORE_DIGEST_LEN + 1];
		r = qemu_conf_load(d, a.vmid, &c, digest, err);
		if (r < 0)
			return r;
		if ((r = need_snapshot(c, a.snapname, err)) < 0)
			return r;
		/* a rollback that failed half-way may be tried again */
		const char *lk = pve_config_get(c, NULL, "lock");
		if (!streq_ptr(lk, "rollback") && (r = qemu_conf_check_lock(c, err)) < 0)
			return r;
		const char *st = pve_config_get(c, a.snapname, "snapstate");
		if (st)
			return pve_error_set(
				err, EINVAL,
				"unable to rollback to incomplete snapshot (snapstate = %s)", st);
		if (!qemu_ops_has_feature(d, scfg, c, a.snapname, PVE_FEATURE_SNAPSHOT, a.snapname))
			return pve_error_set(err, EINVAL, "snapshot feature is not available");
		const char *vs = pve_config_get(c, a.snapname, "vmstate");
		state = vs ? xstrdup(vs) : NULL;
		if (qemu_ops_running(d, a.vmid, NULL)) {
			printf("stopping VM %lld\n", a.vmid);
			fflush(stdout);
			r = qemu_ops_stop(d, a.vmid, err);
			if (r < 0)
				return r;
		}
		pve_config_set(c, NULL, "lock", "rollback");
		r = qemu_conf_write(d, a.vmid, c, digest, err);
		if (r < 0)
			return r;
	}
	_cleanup_config_ pve_config *c = NULL;
	r = qemu_conf_load(d, a.vmid, &c, NULL, err);
	if (r < 0)
		return r;
	_cleanup_strv_free_ char **keys = qemu_ops_disk_keys(c, a.snapname, false);
	for (char **k = keys; *k; k++) {
		_cleanup_free_ char *volid =
			qemu_ops_drive_volid(d, *k, pve_config_get(c, a.snapname, *k));
		qemu_vol v;
		r = qemu_vol_open(d, scfg, volid, &v, err);
		if (r < 0)
			return r;
		printf("rollback %s (%s) to '%s'\n", *k, volid, a.snapname);
		fflush(stdout);
		r = pve_storage_volume_snapshot_rollback(&v.st, v.volname, a.snapname, err);
		qemu_vol_clear(&v);
		if (r < 0)
			return r;
	}
	/* the main section becomes the snapshot's, keeping the description, the unused disks and the
	 * other snapshots; pending changes go */
	{
		_cleanup_close_ int lock = -1;
		r = qemu_lock_wait(d, a.vmid, QEMU_LOCK_TIMEOUT_MS, &lock, err);
		if (r < 0)
			return r;
		_cleanup_config_ pve_config *cur = NULL;
		char digest[PVE_STORE_DIGEST_LEN + 1];
		r = qemu_conf_load(d, a.vmid, &cur, digest, err);
		if (r < 0)
			return r;
		_cleanup_config_ pve_config *next = NULL;
		_cleanup_free_ char *text = pve_config_print(cur);
		r = kvm_config_parse(text, strlen(text), &next, err);
		if (r < 0)
			return r;
		_cleanup_strv_free_ char **main_keys = pve_config_keys(next, NULL);
		for (char **k = main_keys; *k; k++)
			if (!startswith(*k, "unused"))
				pve_config_delete(next, NULL, *k);
		_cleanup_strv_free_ char **snap_keys = pve_config_keys(cur, a.snapname);
		for (char **k = snap_keys; *k; k++)
			if (copied(*k) && !streq(*k, "parent"))
				pve_config_set(next, NULL, *k, pve_config_get(cur, a.snapname, *k));
		keep_unused(d, cur, next, a.snapname);
		pve_config_set(next, NULL, "parent", a.snapname);
		pve_config_delete_section(next, KVM_SECTION_PENDING);
		r = qemu_conf_write(d, a.vmid, next, digest, err);
		if (r < 0)
			return r;
		/* the VM with the snapshot's RAM: QEMU started paused, the state loaded, then run */
		if (state || a.start) {
			cJSON *sa = cJSON_Duplicate(args, true);
			if (state)
				cJSON_AddTrueToObject(sa, "paused");
			/* the config still holds lock: rollback, which this task set */
			cJSON_AddTrueToObject(sa, "skiplock");
			r = qemu_vm_start(d, a.vmid, sa, err);
			cJSON_Delete(sa);
		}
	}
	if (r >= 0 && state) {
		r = qemu_ops_state_job(d, scfg, c, a.snapname, a.vmid, a.snapname, state, true,
				       true, err);
		kvm_qmp_sync *q = NULL;
		if (r >= 0 && (r = qemu_ops_monitor(d, a.vmid, &q, err)) >= 0) {
			r = kvm_qmp_sync_command(q, "cont", NULL, 10000, NULL, err);
			kvm_qmp_sync_close(q);
		}
		if (r < 0) {
			pve_error *e = NULL;
			if (qemu_ops_stop(d, a.vmid, &e) < 0)
				pve_error_free(e);
		}
	}
	if (r < 0)
		return r;
	r = qemu_ops_set_lock(d, a.vmid, NULL, err);
	if (r >= 0)
		printf("rollback to '%s' done\n", a.snapname);
	return r;
}

static int task_delsnapshot(pved *d, const cJSON *args, pve_error **err)
{
	snap_args a;
	args_read(args, &a);
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	int r = qemu_storage_cfg(d, &scfg, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c = NULL;
	{
		_cleanup_close_ int lock = -1;
		r = qemu_lock_wait(d, a.vmid, QEMU_LOCK_TIMEOUT_MS, &lock, err);
		if (r < 0)
			return r;
		char digest[PVE_STORE_DIGEST_LEN + 1];
		r = qemu_conf_load(d, a.vmid, &c, digest, err);
		if (r < 0)
			return r;
		if ((r = need_snapshot(c, a.snapname, err)) < 0)
			return r;
		/* a deletion that failed half-way may be tried again */
		const char *lk = pve_config_get(c, NULL, "lock");
		bool again = streq_ptr(lk, "snapshot-delete") &&
			     streq_ptr(pve_config_get(c, a.snapname, "snapstate"), "delete");
		if (!again && (r = qemu_conf_check_lock(c, err)) < 0)
			return r;
		pve_config_set(c, a.snapname, "snapstate", "delete");
		pve_config_set(c, NULL, "lock", "snapshot-delete");
		r = qemu_conf_write(d, a.vmid, c, digest, err);
		if (r < 0)
			return r;
	}
	bool running = qemu_ops_running(d, a.vmid, NULL);
	_cleanup_strv_free_ char **keys = qemu_ops_disk_keys(c, a.snapname, false);
	_cleanup_strv_free_ char **cur_keys = qemu_ops_disk_keys(c, NULL, false);
	for (char **k = keys; *k && r >= 0; k++) {
		_cleanup_free_ char *volid =
			qemu_ops_drive_volid(d, *k, pve_config_get(c, a.snapname, *k));
		if (!volid)
			continue;
		/* a disk the running QEMU has open is changed through QEMU */
		const char *live = NULL;
		for (char **ck = cur_keys; running && *ck && !live; ck++) {
			_cleanup_free_ char *cv =
				qemu_ops_drive_volid(d, *ck, pve_config_get(c, NULL, *ck));
			if (cv && streq(cv, volid))
				live = *ck;
		}
		pve_error *e = NULL;
		if (live) {
			kvm_qmp_sync *q = NULL;
			r = qemu_ops_monitor(d, a.vmid, &q, &e);
			if (r >= 0) {
				cJSON *qa = cJSON_CreateObject();
				_cleanup_free_ char *dev = xasprintf("drive-%s", live);
				cJSON_AddStringToObject(qa, "device", dev);
				cJSON_AddStringToObject(qa, "name", a.snapname);
				r = kvm_qmp_sync_command(q,
							 "blockdev-snapshot-delete-internal-sync",
							 qa, 60000, NULL, &e);
				kvm_qmp_sync_close(q);
			}
		} else {
			qemu_vol v;
			r = qemu_vol_open(d, scfg, volid, &v, &e);
			if (r >= 0) {
				r = pve_storage_volume_snapshot_delete(&v.st, v.volname, a.snapname,
								       &e);
				qemu_vol_clear(&v);
			}
		}
		if (r >= 0) {
			printf("deleted snapshot '%s' of %s (%s)\n", a.snapname, *k, volid);
		} else if (a.force) {
			pved_task_warn("%s", e->message);
			r = 0;
		} else {
			*err = e;
			e = NULL;
		}
		pve_error_free(e);
	}
	if (r < 0)
		return r;
	const char *state = pve_config_get(c, a.snapname, "vmstate");
	if (state)
		free_volume(d, scfg, state);
	_cleanup_close_ int lock = -1;
	r = qemu_lock_wait(d, a.vmid, QEMU_LOCK_TIMEOUT_MS, &lock, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c2 = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	r = qemu_conf_load(d, a.vmid, &c2, digest, err);
	if (r < 0)
		return r;
	/* the children of the snapshot get its parent */
	const char *pv = pve_config_get(c2, a.snapname, "parent");
	_cleanup_free_ char *parent = pv ? xstrdup(pv) : NULL;
	_cleanup_strv_free_ char **secs = pve_config_sections(c2);
	for (char **s = secs; *s; s++) {
		if (!snapshot_section(*s) ||
		    !streq_ptr(pve_config_get(c2, *s, "parent"), a.snapname))
			continue;
		if (parent)
			pve_config_set(c2, *s, "parent", parent);
		else
			pve_config_delete(c2, *s, "parent");
	}
	if (streq_ptr(pve_config_get(c2, NULL, "parent"), a.snapname)) {
		if (parent)
			pve_config_set(c2, NULL, "parent", parent);
		else
			pve_config_delete(c2, NULL, "parent");
	}
	pve_config_delete_section(c2, a.snapname);
	pve_config_delete(c2, NULL, "lock");
	r = qemu_conf_write(d, a.vmid, c2, digest, err);
	if (r >= 0)
		printf("snapshot '%s' deleted\n", a.snapname);
	return r;
}

const pved_task_kind pved_tasks_qemu_snapshot[] = {
	{ "qmsnapshot", task_snapshot },
	{ "qmrollback", task_rollback },
	{ "qmdelsnapshot", task_delsnapshot },
	{ NULL, NULL },
};

const pved_handler pved_handlers_qemu_snapshot[] = {
	{ "qemu_snapshot_list", h_list },
	{ "qemu_snapshot", h_snapshot },
	{ "qemu_snapshot_idx", h_idx },
	{ "qemu_snapshot_config_get", h_config_get },
	{ "qemu_snapshot_config_put", h_config_put },
	{ "qemu_rollback", h_rollback },
	{ "qemu_delsnapshot", h_delete },
	{ NULL, NULL },
};

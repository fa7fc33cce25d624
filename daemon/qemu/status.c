/* A VM's run state: the node's VM list and status/current (from the table in memory), and the power
 * commands as Proxmox's tasks (qmstart, qmstop, qmshutdown, qmreboot, qmreset, qmsuspend, qmresume).
 * A start runs in its task worker: pending changes applied, volumes activated, taps made, the command
 * line built, QEMU spawned into its cgroup; QEMU daemonizes and outlives the worker and pved. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "daemon/core/guest.h"
#include "daemon/core/tasks-internal.h"
#include "daemon/qemu/qemu-internal.h"
#include "net/net.h"

#define QEMU_BINARY "/usr/bin/qemu-system-x86_64"
/* How long stop and shutdown wait by default, as Proxmox's _do_vm_stop. */
#define STOP_TIMEOUT_SEC 60
/* After SIGTERM, this long before SIGKILL. */
#define TERM_GRACE_SEC 10

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the list and status/current ------------------------------------------------------------------- */

static void h_vmlist(pved_call *c)
{
	pved *d = c->d;
	bool full = pved_call_int(c, "full", 0) != 0;
	pve_buf b = { 0 };
	pve_buf_puts(&b, "[");
	bool first = true;
	pved_guest_audit audit;
	pved_guest_audit_init(&audit, c);
	for (size_t i = 0; d->qemu && i < d->qemu->n; i++) {
		qemu_vm *vm = d->qemu->vms[i];
		if (!pved_guest_audit_may(&audit, vm->vmid))
			continue;
		if (!first)
			pve_buf_puts(&b, ",");
		first = false;
		if (!full) {
			pve_buf_puts(&b, qemu_vm_list_json(d, vm));
			continue;
		}
		cJSON *o = qemu_vm_status_json(d, vm);
		cJSON_DeleteItemFromObjectCaseSensitive(o, "ha");
		cJSON_DeleteItemFromObjectCaseSensitive(o, "agent");
		_cleanup_free_ char *t = pve_json_print(o);
		cJSON_Delete(o);
		pve_buf_puts(&b, t);
	}
	pve_buf_puts(&b, "]");
	pved_call_reply_json(c, b.data, b.len);
	pve_buf_free(&b);
}

/* The VM of the call: in the table, or read now (a config written a moment ago). */
static qemu_vm *call_vm(pved_call *c, pve_error **err)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	qemu_vm *vm = qemu_vm_find(d, vmid);
	if (!vm) {
		qemu_vm_refresh(d, vmid);
		vm = qemu_vm_find(d, vmid);
	}
	if (!vm) {
		_cleanup_free_ char *path = qemu_conf_path(d, vmid);
		pve_error_set(err, ENOENT, "Configuration file '%s' does not exist", path);
	}
	return vm;
}

static void h_status_current(pved_call *c)
{
	pve_error *err = NULL;
	qemu_vm *vm = call_vm(c, &err);
	if (!vm)
		return pved_call_fail(c, err);
	pved_call_reply(c, qemu_vm_status_json(c->d, vm));
}

/* ---- the power commands' handlers ------------------------------------------------------------------ */

static bool param_set(pved_call *c, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->params, name);
	return v && !(cJSON_IsNumber(v) && v->valuedouble == 0) &&
	       !(cJSON_IsString(v) && !*v->valuestring);
}

static void start_task(pved_call *c, const char *type, const char *const *root_only, cJSON *extra)
{
	pved *d = c->d;
	pve_error *err = NULL;
	qemu_vm *vm = call_vm(c, &err);
	if (!vm) {
		cJSON_Delete(extra);
		return pved_call_fail(c, err);
	}
	for (const char *const *p = root_only; p && *p; p++)
		if (param_set(c, *p) && !streq(c->authid, "root@pam")) {
			cJSON_Delete(extra);
			pve_error_set_param(&err, EINVAL, *p, "Only root may use this option.");
			return pved_call_fail(c, err);
		}
	cJSON *args = cJSON_Duplicate(c->params, true);
	if (extra) {
		cJSON *e;
		while ((e = extra->child)) {
			cJSON_DetachItemViaPointer(extra, e);
			cJSON_AddItemToObject(args, e->string, e);
		}
		cJSON_Delete(extra);
	}
	_cleanup_free_ char *id = xasprintf("%lld", vm->vmid), *upid = NULL;
	if (pved_task_start(d, type, id, c->authid, args, &upid, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

/* What the worker needs of pved's knowledge: the /dev/kvm verdict. */
static cJSON *kvm_args(pved *d)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kvm_state", d->kvm_state ? d->kvm_state : "unknown");
	cJSON_AddNumberToObject(o, "kvm_percent", d->kvm_percent);
	return o;
}

static void h_start(pved_call *c)
{
	static const char *const root_only[] = { "stateuri",	      "skiplock",
						 "migratedfrom",      "migration_type",
						 "migration_network", "targetstorage",
						 "force-cpu",	      "with-conntrack-state",
						 "nets-host-mtu",     NULL };
	pve_error *err = NULL;
	static const char *const migration[] = { "stateuri", "migratedfrom", "targetstorage",
						 NULL };
	for (const char *const *p = migration; *p; p++)
		if (param_set(c, *p) && streq(c->authid, "root@pam")) {
			pve_error_set_param(&err, EINVAL, *p,
					    "live migration is not supported by pved yet");
			return pved_call_fail(c, err);
		}
	start_task(c, "qmstart", root_only, kvm_args(c->d));
}

static void h_stop(pved_call *c)
{
	static const char *const root_only[] = { "skiplock", "migratedfrom", NULL };
	pved *d = c->d;
	/* overrule-shutdown: shutdown tasks of this VM still running are stopped first */
	if (pved_call_int(c, "overrule-shutdown", 0)) {
		long long vmid = pved_call_int(c, "vmid", 0);
		char id[32];
		snprintf(id, sizeof(id), "%lld", vmid);
		for (size_t i = 0; i < pved_tasks_count(d); i++) {
			const pved_task *t = pved_tasks_nth(d, i);
			if (t->running && streq(t->upid.type, "qmshutdown") &&
			    streq(t->upid.id, id)) {
				log_info("overruling shutdown task %s", t->upid_str);
				pved_task_stop(d, t->upid_str, NULL);
			}
		}
	}
	start_task(c, "qmstop", root_only, NULL);
}

static void h_shutdown(pved_call *c)
{
	static const char *const root_only[] = { "skiplock", NULL };
	start_task(c, "qmshutdown", root_only, NULL);
}

static void h_reboot(pved_call *c)
{
	pve_error *err = NULL;
	qemu_vm *vm = call_vm(c, &err);
	if (!vm)
		return pved_call_fail(c, err);
	qemu_vm_check_running(c->d, vm);
	if (!qemu_vm_running(vm)) {
		pve_error_set(&err, EINVAL, "VM %lld not running", vm->vmid);
		return pved_call_fail(c, err);
	}
	start_task(c, "qmreboot", NULL, kvm_args(c->d));
}

static void h_reset(pved_call *c)
{
	static const char *const root_only[] = { "skiplock", NULL };
	start_task(c, "qmreset", root_only, NULL);
}

static void h_suspend(pved_call *c)
{
	static const char *const root_only[] = { "skiplock", NULL };
	pve_error *err = NULL;
	const char *storage = pved_call_str(c, "statestorage");
	if (pved_call_int(c, "todisk", 0) && storage &&
	    pved_guest_check_space(c, storage, &err) < 0)
		return pved_call_fail(c, err);
	start_task(c, "qmsuspend", root_only, NULL);
}

static void h_resume(pved_call *c)
{
	static const char *const root_only[] = { "skiplock", "nocheck", NULL };
	/* a VM suspended to disk resumes by a start */
	start_task(c, "qmresume", root_only, kvm_args(c->d));
}

/* ---- in the worker --------------------------------------------------------------------------------- */

static long long arg_vmid(const cJSON *args)
{
	long long v = 0;
	pve_json_int(args, "vmid", &v);
	return v;
}

static bool arg_bool(const cJSON *args, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	return (cJSON_IsNumber(v) && v->valuedouble != 0) || cJSON_IsTrue(v);
}

/* The VM's QEMU, when one runs. */
static bool find_qemu(pved *d, long long vmid, kvm_proc *ret)
{
	_cleanup_free_ char *rundir = qemu_run_dir(d);
	return kvm_proc_find(rundir, vmid, ret) == 1;
}

/* One command on the VM's monitor, through the blocking client. */
static int monitor_command(pved *d, long long vmid, const char *cmd, cJSON *args, int timeout_ms,
			   cJSON **ret, pve_error **err)
{
	_cleanup_free_ char *rundir = qemu_run_dir(d);
	_cleanup_free_ char *sock = kvm_run_path(rundir, vmid, "qmp");
	kvm_qmp_sync *q = NULL;
	int r = kvm_qmp_sync_open(sock, timeout_ms, &q, err);
	if (r < 0) {
		cJSON_Delete(args);
		return r;
	}
	r = kvm_qmp_sync_command(q, cmd, args, timeout_ms, ret, err);
	kvm_qmp_sync_close(q);
	return r;
}

typedef struct start_ctx {
	pved *d;
	pve_sectioncfg *scfg;
} start_ctx;

static int resolve_volume(void *ud, const char *volid, char **ret_path, char **ret_format,
			  pve_error **err)
{
	start_ctx *x = ud;
	/* storage.cfg is read when a volume needs it: a VM without disks starts without it */
	if (!x->scfg && volid[0] != '/') {
		int r = qemu_storage_cfg(x->d, &x->scfg, err);
		if (r < 0)
			return r;
	}
	return qemu_volume_path(x->d, x->scfg, volid, ret_path, ret_format, err);
}

static bool bridge_exists(void *ud, const char *bridge)
{
	(void)ud;
	return kvm_bridge_exists(bridge);
}

static void warn_cb(void *ud, const char *msg)
{
	(void)ud;
	pved_task_warn("%s", msg);
}

static int copy_file(const char *from, const char *to, pve_error **err)
{
	_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return pve_error_set(err, errno, "can't open %s: %m", from);
	_cleanup_close_ int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		return pve_error_set(err, errno, "can't create %s: %m", to);
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (pve_write_all(out, buf, (size_t)n) < 0)
			return pve_error_set(err, errno, "can't write %s: %m", to);
	return n < 0 ? pve_error_set(err, errno, "can't read %s: %m", from) : 0;
}

/* The accelerator: KVM when the config asks for it, or when the probe found it fit; else TCG. */
static int choose_accel(const pve_config *c, const cJSON *args, bool *ret_kvm, pve_error **err)
{
	const char *state = pve_json_str(args, "kvm_state");
	const char *v = pve_config_get(c, NULL, "kvm");
	bool want;
	if (v && pve_parse_bool(v, &want) == 0) {
		if (!want) {
			*ret_kvm = false;
			return 0;
		}
		if (access("/dev/kvm", R_OK | W_OK) != 0)
			return pve_error_set(
				err, EINVAL,
				"KVM virtualisation configured, but not available. "
				"Either disable in VM configuration or enable in BIOS.");
		*ret_kvm = true;
		return 0;
	}
	if (state && streq(state, "ok")) {
		*ret_kvm = true;
		return 0;
	}
	/* A line in the log, not a warning: Proxmox's start ends "OK" and clients (Ansible's
	 * proxmox_kvm waits for exactly that) take a task with warnings for a failed one. */
	const cJSON *pct = cJSON_GetObjectItemCaseSensitive(args, "kvm_percent");
	if (state && streq(state, "degraded"))
		printf("KVM is degraded on this node (a test guest runs at %.2g%% of the host's "
		       "speed): the VM runs with TCG (set 'kvm: 1' to force KVM)\n",
		       cJSON_IsNumber(pct) ? pct->valuedouble : 0.0);
	else
		printf("KVM is %s on this node: the VM runs with TCG\n",
		       state && streq(state, "absent") ? "not available" : "not probed yet");
	fflush(stdout);
	*ret_kvm = false;
	return 0;
}

/* Every signal's default action and none blocked, for QEMU. The raw syscall, because glibc refuses to
 * touch its internal signals 32 and 33, and posix_spawn (which made this worker from the threaded pved)
 * leaves them ignored: an exec keeps that, and glibc delivers SIGEV_THREAD timers through signal 32. */
static void reset_signals(void)
{
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} dfl = { .handler = SIG_DFL };
	for (int sig = 1; sig < 65; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Files a QEMU killed with -9 left behind; QEMU makes them anew. */
static void remove_run_files(const char *rundir, long long vmid)
{
	static const char *const files[] = { "pid",	"qmp",	   "pved.qmp", "vnc",
					     "qga",	"serial0", "serial1",  "serial2",
					     "serial3", "efivars", "swtpm",    "swtpm.pid" };
	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		_cleanup_free_ char *p = kvm_run_path(rundir, vmid, files[i]);
		unlink(p);
	}
}

int qemu_tap_plug(long long vmid, const char *key, const kvm_net *n, pve_error **err)
{
	if (!kvm_bridge_exists(n->bridge))
		return pve_error_set_param(err, EINVAL, key, "bridge '%s' does not exist",
					   n->bridge);
	char name[16];
	_cleanup_close_ int fd = kvm_tap_open(vmid, n->index, name, err);
	if (fd < 0)
		return fd;
	/* mtu=1 (or none) is the bridge's, as Proxmox's tap_plug does */
	int r = pve_net_attach(NULL, name, n->bridge, n->mtu > 1 ? (unsigned)n->mtu : 0,
			       n->tag > 0 ? (unsigned)n->tag : 0, err);
	if (r < 0)
		return r;
	/* rate= (MB/s) and link_down=1 on the tap; a hot-plugged or changed NIC comes here again,
	 * which sets the limit anew (none when rate= is gone). */
	_cleanup_error_ pve_error *warn = NULL;
	r = pve_net_nic_limits(name, n->rate, n->link_down, key, &warn, err);
	if (r < 0)
		return r;
	if (r > 0)
		log_warning("VM %lld: %s", vmid, warn->message);
	return TAKE_FD(fd);
}

/* Runs argv (no shell) with the task log as its output and waits for it. */
static int run_logged(const char *const *argv, pve_error **err)
{
	_cleanup_close_ int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fflush(stdout);
	fflush(stderr);
	pve_spawn_opts so = { .path = argv[0],
			      .argv = (char *const *)argv,
			      .stdin_fd = null,
			      .stdout_fd = -1,
			      .stderr_fd = -1 };
	pid_t pid;
	int r = pve_spawn(&so, &pid, err);
	if (r < 0)
		return r;
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return pve_error_set(err, EIO, "%s failed: exit code %d", argv[0],
				     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return 0;
}

/* tpmstate0's emulator, as Proxmox's start_swtpm: the state made in the volume when it has none
 * (swtpm_setup --not-overwrite), then swtpm on <run>/<vmid>.swtpm, ending itself when QEMU lets go
 * (--terminate). Its pid (> 0), for a start that fails after it. */
static int swtpm_start(start_ctx *x, const pve_config *c, const char *rundir, long long vmid,
		       pve_error **err)
{
	kvm_drive drv;
	int r = kvm_drive_parse(qemu_schema(x->d), "tpmstate0",
				pve_config_get(c, NULL, "tpmstate0"), &drv, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = NULL, *fmt = NULL;
	r = resolve_volume(x, drv.file, &path, &fmt, err);
	bool v2 = streq_ptr(pve_json_str(drv.opts, "version"), "v2.0");
	kvm_drive_clear(&drv);
	if (r < 0)
		return r;
	/* swtpm keeps its state in a plain file or device, not in an image format */
	if (fmt && !streq(fmt, "raw"))
		return pve_error_set_param(err, EINVAL, "tpmstate0",
					   "tpmstate0: swtpm needs a raw volume, not %s", fmt);
	_cleanup_free_ char *state = xasprintf("file://%s", path);
	const char *setup[] = { "swtpm_setup", "--tpmstate", state, "--createek",
				"--create-ek-cert", "--create-platform-cert", "--lock-nvram",
				"--config", "/etc/swtpm_setup.conf", "--runas", "0",
				"--not-overwrite",
				/* TPM 2.0, with ECC; a 1.2 state ends the list here */
				v2 ? "--tpm2" : NULL, "--ecc", NULL };
	r = run_logged(setup, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *sock = kvm_run_path(rundir, vmid, "swtpm");
	_cleanup_free_ char *pidfile = kvm_run_path(rundir, vmid, "swtpm.pid");
	_cleanup_free_ char *logfile = kvm_run_path(rundir, vmid, "swtpm.log");
	_cleanup_free_ char *tpmstate = xasprintf("backend-uri=%s,mode=0600", state);
	_cleanup_free_ char *ctrl = xasprintf("type=unixio,path=%s,mode=0600", sock);
	_cleanup_free_ char *pidopt = xasprintf("file=%s", pidfile);
	_cleanup_free_ char *logopt =
		xasprintf("file=%s,level=1,prefix=[id=%lld] ", logfile, (long long)time(NULL));
	const char *emu[] = { "swtpm",
			      "socket",
			      "--tpmstate",
			      tpmstate,
			      "--ctrl",
			      ctrl,
			      "--pid",
			      pidopt,
			      "--terminate",
			      "--daemon",
			      "--log",
			      logopt,
			      v2 ? "--tpm2" : NULL,
			      NULL };
	r = run_logged(emu, err);
	if (r < 0)
		return r;
	/* swtpm writes its pid file once it listens */
	for (int tries = 0; tries < 100; tries++) {
		_cleanup_free_ char *text = NULL;
		size_t len;
		long long pid;
		if (pve_read_file(pidfile, 64, &text, &len, NULL) >= 0) {
			text[strcspn(text, "\n")] = '\0';
			if (pve_parse_int(text, 1, INT_MAX, &pid) == 0)
				return (int)pid;
		}
		usleep(50 * 1000);
	}
	return pve_error_set(err, EIO, "failed to start swtpm: pid file '%s' wasn't created.",
			     pidfile);
}

/* Starts the VM's QEMU. The caller holds the VM's lock. */
static int vm_start_locked(pved *d, long long vmid, const cJSON *args, pve_error **err)
{
	const kvm_schema *s = qemu_schema(d);
	_cleanup_config_ pve_config *c = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	int r = qemu_conf_load(d, vmid, &c, digest, err);
	if (r < 0)
		return r;
	/* suspended to disk: the start brings the saved RAM back */
	bool from_disk = streq_ptr(pve_config_get(c, NULL, "lock"), "suspended") &&
			 pve_config_get(c, NULL, "vmstate");
	if (!from_disk && !arg_bool(args, "skiplock") && (r = qemu_conf_check_lock(c, err)) < 0)
		return r;
	if (kvm_config_bool(c, NULL, "template", false))
		return pve_error_set(err, EINVAL, "you can't start a vm if it's a template");
	kvm_proc p;
	if (find_qemu(d, vmid, &p))
		return pve_error_set(err, EINVAL, "VM %lld already running", vmid);
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	if (pve_config_has_section(c, KVM_SECTION_PENDING)) {
		char **destroy = NULL;
		kvm_config_apply_pending(c, &destroy);
		r = qemu_conf_write(d, vmid, c, digest, err);
		if (r < 0) {
			strv_free(destroy);
			return r;
		}
		printf("applied the pending changes\n");
		if (destroy[0] && qemu_storage_cfg(d, &scfg, NULL) == 0)
			qemu_disks_free(d, scfg, destroy, true);
		strv_free(destroy);
	}
	/* the cloud-init drive's image from the config as it starts, as Proxmox's at each start */
	bool ci_changed = false;
	r = qemu_cloudinit_generate(d, vmid, c, &ci_changed, err);
	if (r >= 0 && ci_changed)
		r = qemu_conf_write(d, vmid, c, NULL, err);
	if (r < 0)
		return r;
	/* a rollback to a snapshot with RAM starts QEMU paused, then loads the state over QMP */
	if (arg_bool(args, "paused") || from_disk)
		pve_config_set(c, NULL, "freeze", "1");
	bool kvm = false;
	r = choose_accel(c, args, &kvm, err);
	if (r < 0)
		return r;

	_cleanup_free_ char *rundir = qemu_run_dir(d);
	(void)mkdir(rundir, 0755);
	remove_run_files(rundir, vmid);
	int taps[KVM_MAX_NETS];
	for (int i = 0; i < KVM_MAX_NETS; i++)
		taps[i] = -1;
	for (int i = 0; i < KVM_MAX_NETS && r >= 0; i++) {
		char key[16];
		snprintf(key, sizeof(key), "net%d", i);
		const char *v = pve_config_get(c, NULL, key);
		kvm_net n;
		if (!v || kvm_net_parse(s, key, v, &n, NULL) < 0 || !n.bridge[0])
			continue;
		taps[i] = qemu_tap_plug(vmid, key, &n, err);
		if (taps[i] < 0)
			r = taps[i];
	}
	/* OVMF: the variables template copied for a VM without an efidisk0, as Proxmox's temporary one */
	const char *bios = pve_config_get(c, NULL, "bios");
	const char *code = NULL, *vars_template = NULL;
	if (r >= 0 && bios && streq(bios, "ovmf")) {
		kvm_ovmf_files(s, pve_config_get(c, NULL, "efidisk0"),
			       pve_config_get(c, NULL, "machine"), &code, &vars_template);
		if (!pve_config_get(c, NULL, "efidisk0") && access(code, R_OK) == 0) {
			_cleanup_free_ char *vars = kvm_run_path(rundir, vmid, "efivars");
			r = copy_file(vars_template, vars, err);
		}
	}
	/* SPICE: a free port as Proxmox's next_spice_port finds one (QEMU binds it; QMP's query-spice
	 * tells it later) */
	int spice_port = 0;
	if (r >= 0 && kvm_vga_has_spice(pve_config_get(c, NULL, "vga"))) {
		int fd = pve_listen_local_port(KVM_SPICE_PORT_MIN, KVM_SPICE_PORT_MAX, &spice_port,
					       err);
		if (fd < 0)
			r = fd;
		else
			close(fd);
		if (r >= 0)
			printf("spice listens on port %d\n", spice_port);
	}
	_cleanup_free_ char *pve_dir = pved_path(d, "etc/pve");
	start_ctx x = { .d = d, .scfg = TAKE_PTR(scfg) };
	kvm_cmdline_info info = {
		.vmid = vmid,
		.run_dir = rundir,
		.qemu = QEMU_BINARY,
		.kvm = kvm,
		.allow_args = true,
		.ovmf_code = code,
		.resolve = resolve_volume,
		.bridge_exists = bridge_exists,
		.ud = &x,
		.tap_fds = taps,
		.warn = warn_cb,
		.spice_port = spice_port,
		.pve_dir = pve_dir,
		.node = d->node,
	};
	char **argv = NULL;
	if (r >= 0)
		r = kvm_cmdline_build(c, s, &info, &argv, err);
	/* the TPM emulator first: QEMU connects to it as it starts */
	int tpm_pid = 0;
	if (r >= 0 && pve_config_get(c, NULL, "tpmstate0")) {
		r = swtpm_start(&x, c, rundir, vmid, err);
		if (r > 0)
			tpm_pid = r, r = 0;
	}
	_cleanup_free_ char *cgroup = NULL, *note = NULL;
	if (r >= 0) {
		uint64_t cpuunits = 0;
		double cpulimit = 0;
		const char *v = pve_config_get(c, NULL, "cpuunits");
		unsigned long long u;
		if (v && pve_parse_uint(v, 262144, &u) == 0)
			cpuunits = u;
		v = pve_config_get(c, NULL, "cpulimit");
		if (v)
			pve_parse_double(v, &cpulimit);
		pve_error *ce = NULL;
		if (kvm_cgroup_create(d->root, vmid, (unsigned)cpuunits, cpulimit, &cgroup, &note,
				      &ce) < 0) {
			/* without cgroup2 QEMU stays in the worker's cgroup: nothing is limited */
			pved_task_warn("no cgroup for the VM: %s", ce->message);
			pve_error_free(ce);
		} else if (note && (cpuunits || cpulimit > 0)) {
			pved_task_warn("%s", note);
		}
	}
	if (r >= 0) {
		fflush(stdout);
		fflush(stderr);
		pid_t pid = fork();
		if (pid < 0) {
			r = pve_error_set(err, errno, "fork: %m");
		} else if (pid == 0) {
			/* the child: into the VM's cgroup, the taps kept over exec, then QEMU */
			if (cgroup) {
				_cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", cgroup);
				int fd = open(procs, O_WRONLY | O_CLOEXEC);
				if (fd >= 0) {
					(void)!write(fd, "0", 1);
					close(fd);
				}
			}
			for (int i = 0; i < KVM_MAX_NETS; i++)
				if (taps[i] >= 0)
					fcntl(taps[i], F_SETFD, 0);
			reset_signals();
			execv(argv[0], argv);
			fprintf(stderr, "can't run %s: %m\n", argv[0]);
			_exit(127);
		} else {
			int st = 0;
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			/* with -daemonize, this process exits once QEMU runs (or failed) */
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				r = pve_error_set(
					err, EIO, "start failed: QEMU exited with code %d",
					WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		}
	}
	for (int i = 0; i < KVM_MAX_NETS; i++)
		if (taps[i] >= 0)
			close(taps[i]);
	strv_free(argv);
	pve_sectioncfg_free(x.scfg);
	if (r < 0) {
		if (tpm_pid > 0) {
			printf("stopping swtpm instance (pid %d) due to QEMU startup error\n",
			       tpm_pid);
			kill(tpm_pid, SIGTERM);
		}
		if (cgroup)
			(void)kvm_cgroup_remove(d->root, vmid);
		return r;
	}
	if (!find_qemu(d, vmid, &p))
		return pve_error_set(err, EIO,
				     "start failed: QEMU's pid file names no running QEMU");
	printf("VM %lld started with PID %d (%s)\n", vmid, (int)p.pid, kvm ? "KVM" : "TCG");
	return from_disk ? qemu_resume_from_disk(d, vmid, err) : 0;
}

static int task_start(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = arg_vmid(args);
	_cleanup_close_ int lock = -1;
	int r = qemu_lock_wait(d, vmid, QEMU_LOCK_TIMEOUT_MS, &lock, err);
	if (r < 0)
		return r;
	return vm_start_locked(d, vmid, args, err);
}

/* Waits up to timeout_ms for the process to end. */
static bool wait_gone(const kvm_proc *p, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	while (kvm_proc_alive(p)) {
		if (now_ms() >= deadline)
			return false;
		usleep(20 * 1000);
	}
	return true;
}

/* Proxmox's _do_vm_stop: quit (or the ACPI button), wait, and with force SIGTERM then SIGKILL. */
static int vm_stop_locked(pved *d, long long vmid, const cJSON *args, bool shutdown, bool force,
			  pve_error **err)
{
	_cleanup_config_ pve_config *c = NULL;
	int r = qemu_conf_load(d, vmid, &c, NULL, err);
	if (r < 0)
		return r;
	if (!arg_bool(args, "skiplock") && (r = qemu_conf_check_lock(c, err)) < 0)
		return r;
	kvm_proc p;
	if (!find_qemu(d, vmid, &p)) {
		printf("VM %lld is not running\n", vmid);
		return 0;
	}
	long long timeout = -1;
	if (!pve_json_int(args, "timeout", &timeout)) {
		timeout = STOP_TIMEOUT_SEC;
		const char *startup = shutdown ? pve_config_get(c, NULL, "startup") : NULL;
		const char *down = startup ? strstr(startup, "down=") : NULL;
		long long v;
		_cleanup_free_ char *num = down ? xstrndup(down + 5, strcspn(down + 5, ",")) : NULL;
		if (num && pve_parse_int(num, 0, 86400, &v) == 0)
			timeout = v;
	}
	pve_error *e = NULL;
	if (shutdown) {
		cJSON *ret = NULL;
		if (monitor_command(d, vmid, "query-status", NULL, 5000, &ret, NULL) == 0 &&
		    streq_ptr(pve_json_str(ret, "status"), "paused") && !force) {
			cJSON_Delete(ret);
			return pve_error_set(err, EINVAL, "VM is paused - cannot shutdown");
		}
		cJSON_Delete(ret);
		/* as Proxmox: through the guest agent when it is enabled and answers, else ACPI */
		r = -1;
		if (qemu_agent_enabled(pve_config_get(c, NULL, "agent"))) {
			pve_error *ae = NULL;
			r = qemu_agent_shutdown(d, vmid, &ae);
			if (r < 0)
				printf("%s: shutdown through ACPI\n", ae->message);
			else
				printf("shutdown through the guest agent\n");
			pve_error_free(ae);
		}
		if (r < 0)
			r = monitor_command(d, vmid, "system_powerdown", NULL, 10000, NULL, &e);
	} else {
		r = monitor_command(d, vmid, "quit", NULL, 10000, NULL, &e);
	}
	if (r < 0) {
		if (!kvm_proc_alive(&p)) {
			pved_task_warn("Unexpected: VM shutdown command failed, but VM not running "
				       "anymore..");
			pve_error_free(e);
			return 0;
		}
		if (!force) {
			r = pve_error_set(err, EIO, "VM quit/powerdown failed: %s", e->message);
			pve_error_free(e);
			return r;
		}
		pve_error_free(e);
		pved_task_warn("VM quit/powerdown failed - terminating now with SIGTERM");
		kill(p.pid, SIGTERM);
	} else if (!wait_gone(&p, (int)timeout * 1000)) {
		if (!force)
			return pve_error_set(err, ETIMEDOUT,
					     "VM quit/powerdown failed - got timeout");
		pved_task_warn("VM still running - terminating now with SIGTERM");
		kill(p.pid, SIGTERM);
	} else {
		printf("VM %lld stopped\n", vmid);
		return 0;
	}
	if (!wait_gone(&p, TERM_GRACE_SEC * 1000)) {
		pved_task_warn("VM still running - terminating now with SIGKILL");
		kill(p.pid, SIGKILL);
		wait_gone(&p, 5000);
	}
	printf("VM %lld stopped\n", vmid);
	return 0;
}

static int locked(pved *d, const cJSON *args, int *ret_fd, pve_error **err)
{
	return qemu_lock_wait(d, arg_vmid(args), QEMU_LOCK_TIMEOUT_MS, ret_fd, err);
}

static int task_stop(pved *d, const cJSON *args, pve_error **err)
{
	_cleanup_close_ int lock = -1;
	int r = locked(d, args, &lock, err);
	return r < 0 ? r : vm_stop_locked(d, arg_vmid(args), args, false, true, err);
}

static int task_shutdown(pved *d, const cJSON *args, pve_error **err)
{
	_cleanup_close_ int lock = -1;
	int r = locked(d, args, &lock, err);
	return r < 0 ? r :
		       vm_stop_locked(d, arg_vmid(args), args, true, arg_bool(args, "forceStop"),
				      err);
}

static int task_reboot(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = arg_vmid(args);
	_cleanup_close_ int lock = -1;
	int r = locked(d, args, &lock, err);
	if (r < 0)
		return r;
	kvm_proc p;
	if (!find_qemu(d, vmid, &p))
		return pve_error_set(err, EINVAL, "VM %lld not running", vmid);
	/* a reboot is a shutdown and a start, so pending changes apply */
	r = vm_stop_locked(d, vmid, args, true, true, err);
	if (r < 0)
		return r;
	return vm_start_locked(d, vmid, args, err);
}

/* reset, suspend, resume: one monitor command on a running VM whose lock allows it. */
static int simple_command(pved *d, const cJSON *args, const char *what, pve_error **err)
{
	long long vmid = arg_vmid(args);
	_cleanup_close_ int lock = -1;
	int r = locked(d, args, &lock, err);
	if (r < 0)
		return r;
	_cleanup_config_ pve_config *c = NULL;
	r = qemu_conf_load(d, vmid, &c, NULL, err);
	if (r < 0)
		return r;
	if (!arg_bool(args, "skiplock") && (r = qemu_conf_check_lock(c, err)) < 0)
		return r;
	kvm_proc p;
	if (!find_qemu(d, vmid, &p))
		return pve_error_set(err, EINVAL, "VM %lld not running", vmid);
	const char *cmd = what;
	if (streq(what, "resume")) {
		cJSON *ret = NULL;
		r = monitor_command(d, vmid, "query-status", NULL, 10000, &ret, err);
		if (r < 0)
			return r;
		/* a guest suspended itself (S3) wakes up; a paused VM continues */
		cmd = streq_ptr(pve_json_str(ret, "status"), "suspended") ? "system_wakeup" :
									    "cont";
		cJSON_Delete(ret);
	}
	r = monitor_command(d, vmid, cmd, NULL, 10000, NULL, err);
	if (r >= 0)
		printf("VM %lld: %s done\n", vmid, cmd);
	return r;
}

static int task_reset(pved *d, const cJSON *args, pve_error **err)
{
	return simple_command(d, args, "system_reset", err);
}

static int task_suspend(pved *d, const cJSON *args, pve_error **err)
{
	if (arg_bool(args, "todisk"))
		return qemu_suspend_todisk(d, arg_vmid(args), args, err);
	return simple_command(d, args, "stop", err);
}

static int task_resume(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = arg_vmid(args);
	_cleanup_config_ pve_config *c = NULL;
	int r = qemu_conf_load(d, vmid, &c, NULL, err);
	if (r < 0)
		return r;
	kvm_proc p;
	if (streq_ptr(pve_config_get(c, NULL, "lock"), "suspended") &&
	    pve_config_get(c, NULL, "vmstate") && !find_qemu(d, vmid, &p)) {
		_cleanup_close_ int lock = -1;
		r = locked(d, args, &lock, err);
		return r < 0 ? r : vm_start_locked(d, vmid, args, err);
	}
	return simple_command(d, args, "resume", err);
}

/* For qmcreate's start: the same start, the lock already held. */
int qemu_vm_start(pved *d, long long vmid, const cJSON *args, pve_error **err)
{
	return vm_start_locked(d, vmid, args, err);
}

const pved_task_kind pved_tasks_qemu_status[] = {
	{ "qmstart", task_start },	 { "qmstop", task_stop },
	{ "qmshutdown", task_shutdown }, { "qmreboot", task_reboot },
	{ "qmreset", task_reset },	 { "qmsuspend", task_suspend },
	{ "qmresume", task_resume },	 { NULL, NULL },
};

const pved_handler pved_handlers_qemu_status[] = {
	{ "qemu_vmlist", h_vmlist },	 { "qemu_status_current", h_status_current },
	{ "qemu_start", h_start },	 { "qemu_stop", h_stop },
	{ "qemu_shutdown", h_shutdown }, { "qemu_reboot", h_reboot },
	{ "qemu_reset", h_reset },	 { "qemu_suspend", h_suspend },
	{ "qemu_resume", h_resume },	 { NULL, NULL },
};

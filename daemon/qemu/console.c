/* A VM's consoles as Proxmox's API2/Qemu.pm offers them: vncproxy (a task relays one connection on a
 * console port to QEMU's VNC socket, whose password QMP's set_password makes the VNC ticket; with a
 * serial display, the node console's vncterm task shows the serial port instead), vncwebsocket
 * (the node console's relay, with the VM's ticket path), termproxy (a serial port in the node shell's
 * xterm.js session), monitor (HMP through QMP's human-monitor-command), sendkey and spiceproxy.
 * The relay and the xterm.js code are the node console's (daemon/nodes/console.c), not copies. */
#include <cjson/cJSON.h>
#include <poll.h>
#include <sys/socket.h>

#include "daemon/nodes/console-internal.h"
#include "daemon/qemu/qemu-internal.h"

/* The client has this long to connect to a console task's port, as the node shell's. */
#define VNC_CONNECT_TIMEOUT_MS 10000
/* A sendkey's key: QEMU's names joined by '-' ("ctrl-alt-delete"); HMP takes the rest of its line. */
#define SENDKEY_MAX 128

/* The config of a VM that runs: NULL after answering the call (no such VM, not running). */
static pve_config *running_conf(pved_call *c, long long vmid, qemu_vm **ret_vm)
{
	pved *d = c->d;
	pve_error *err = NULL;
	pve_config *conf = NULL;
	if (qemu_conf_load(d, vmid, &conf, NULL, &err) < 0) {
		pved_call_fail(c, err);
		return NULL;
	}
	qemu_vm *vm = qemu_vm_find(d, vmid);
	if (!vm) {
		qemu_vm_refresh(d, vmid);
		vm = qemu_vm_find(d, vmid);
	}
	if (vm)
		qemu_vm_check_running(d, vm);
	if (!vm || !qemu_vm_running(vm)) {
		pve_config_free(conf);
		pve_error_set(&err, EINVAL, "VM %lld not running", vmid);
		pved_call_fail(c, err);
		return NULL;
	}
	if (ret_vm)
		*ret_vm = vm;
	return conf;
}

static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Bytes both ways until either side ends. */
static void relay_raw(int a, int b)
{
	char buf[64 * 1024];
	for (;;) {
		struct pollfd p[2] = { { .fd = a, .events = POLLIN },
				       { .fd = b, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0 || pve_write_all(p[1 - i].fd, buf, (size_t)n) < 0)
				return;
		}
	}
}

/* A QMP command on the VM's monitor, in a task worker. */
static int monitor(pved *d, long long vmid, const char *cmd, cJSON *args, pve_error **err)
{
	_cleanup_free_ char *rundir = qemu_run_dir(d);
	_cleanup_free_ char *sock = kvm_run_path(rundir, vmid, "qmp");
	kvm_qmp_sync *q = NULL;
	int r = kvm_qmp_sync_open(sock, 10000, &q, err);
	if (r < 0) {
		cJSON_Delete(args);
		return r;
	}
	r = kvm_qmp_sync_command(q, cmd, args, 10000, NULL, err);
	kvm_qmp_sync_close(q);
	return r;
}

/* ---- vncproxy ------------------------------------------------------------------------------------------ */

/* The listening socket is PVED_TASK_FD(0). args: {"vmid", "port", "password"}; with "serial", a
 * termproxy's; with "console", the node console's vncterm task (a serial display, a container's
 * console). */
static int termproxy_task(pved *d, const cJSON *args, pve_error **err);

static int vncproxy_task(pved *d, const cJSON *args, pve_error **err)
{
	/* all are Proxmox's "vncproxy" tasks, and a type has one kind */
	if (pve_json_str(args, "serial"))
		return termproxy_task(d, args, err);
	if (pve_json_str(args, "console"))
		return pved_console_vncterm_task(d, args, err);
	_cleanup_close_ int lfd = PVED_TASK_FD(0);
	long long vmid = 0, port = 0;
	const char *password = pve_json_str(args, "password");
	if (!pve_json_int(args, "vmid", &vmid) || !pve_json_int(args, "port", &port) || !password)
		return pve_error_set(err, EINVAL,
				     "the console task lacks its VM, port or password");
	printf("starting vnc proxy on port %lld\n", port);
	fflush(stdout);
	/* as Proxmox: the password is the ticket, and a new connection must come within 30 s */
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "protocol", "vnc");
	cJSON_AddStringToObject(a, "password", password);
	int r = monitor(d, vmid, "set_password", a, err);
	if (r >= 0) {
		a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "protocol", "vnc");
		cJSON_AddStringToObject(a, "time", "+30");
		r = monitor(d, vmid, "expire_password", a, err);
	}
	if (r < 0)
		return r;
	if (wait_readable(lfd, VNC_CONNECT_TIMEOUT_MS) <= 0)
		return pve_error_set(err, ETIMEDOUT, "no connection to the console within %d s",
				     VNC_CONNECT_TIMEOUT_MS / 1000);
	_cleanup_close_ int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return pve_error_set(err, errno, "accept: %m");
	_cleanup_free_ char *rundir = qemu_run_dir(d);
	_cleanup_free_ char *path = kvm_run_path(rundir, vmid, "vnc");
	_cleanup_close_ int vnc = pved_console_connect(path, err);
	if (vnc < 0)
		return vnc;
	relay_raw(fd, vnc);
	printf("console closed\n");
	return 0;
}

/* 8 printable characters, as Proxmox's generate-password. */
static char *random_password(void)
{
	unsigned char raw[8];
	if (pve_random_bytes(raw, sizeof(raw), NULL) < 0)
		return NULL;
	char *p = xmalloc(sizeof(raw) + 1);
	for (size_t i = 0; i < sizeof(raw); i++)
		p[i] = (char)('!' + raw[i] % ('~' - '!' + 1));
	p[sizeof(raw)] = '\0';
	return p;
}

/* The serial port a display is ("serial0" .. "serial3": vga's type, first or named): false when it
 * is not one. */
static bool serial_display(const char *vga, char ret[16])
{
	if (!vga)
		return false;
	const char *t = startswith(vga, "type=") ? vga + 5 : vga;
	const char *named = strstr(vga, ",type=");
	if (named)
		t = named + 6;
	if (!startswith(t, "serial") || t[6] < '0' || t[6] > '3' || (t[7] && t[7] != ','))
		return false;
	snprintf(ret, 16, "serial%c", t[6]);
	return true;
}

/* A serial port a console may open: configured, as a socket. Answers the call when not. */
static bool serial_socket(pved_call *c, const pve_config *conf, const char *serial)
{
	pve_error *err = NULL;
	const char *v = pve_config_get(conf, NULL, serial);
	if (!v) {
		pve_error_set_param(&err, EINVAL, "serial",
				    "serial interface '%s' is not configured", serial);
		pved_call_fail(c, err);
		return false;
	}
	if (!streq(v, "socket")) {
		pve_error_set_param(&err, EINVAL, "serial", "wrong serial type on interface '%s'",
				    serial);
		pved_call_fail(c, err);
		return false;
	}
	return true;
}

static void h_vncproxy(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = running_conf(c, vmid, NULL);
	if (!conf)
		return;
	const char *vga = pve_config_get(conf, NULL, "vga");
	/* as Proxmox's: vncterm on the serial port of a serial display */
	char serial[16] = "";
	if (serial_display(vga, serial) && !serial_socket(c, conf, serial))
		return;
	if (vga && (streq(vga, "none") || strstr(vga, "type=none"))) {
		pve_error_set(&err, EINVAL, "VM %lld has no display (vga: none)", vmid);
		return pved_call_fail(c, err);
	}
	int port;
	_cleanup_close_ int lfd = pved_console_listen(&port, &err);
	if (lfd < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *path = xasprintf("/vms/%lld", vmid);
	_cleanup_free_ char *ticket = pved_auth_vncticket(d, c->authid, path, port);
	bool generate = pved_call_int(c, "generate-password", 0) != 0;
	_cleanup_free_ char *password = generate ? random_password() : xstrdup(ticket);
	if (!password) {
		pve_error_set(&err, EIO, "no random bytes for the password");
		return pved_call_fail(c, err);
	}
	cJSON *args;
	if (serial[0]) {
		_cleanup_free_ char *rundir = qemu_run_dir(d);
		_cleanup_free_ char *sock = kvm_run_path(rundir, vmid, serial);
		_cleanup_free_ char *title = xasprintf("VM %lld %s", vmid, serial);
		args = pved_console_vncterm_args(port, sock, password, title);
	} else {
		args = cJSON_CreateObject();
		cJSON_AddNumberToObject(args, "vmid", (double)vmid);
		cJSON_AddNumberToObject(args, "port", port);
		cJSON_AddStringToObject(args, "password", password);
	}
	char id[32];
	snprintf(id, sizeof(id), "%lld", vmid);
	_cleanup_free_ char *upid = NULL;
	if (pved_task_start_fds(d, "vncproxy", id, c->authid, args, &lfd, 1, &upid, &err) < 0)
		return pved_call_fail(c, err);
	pved_console_reply(c, port, ticket, upid, true, generate ? password : NULL);
}

/* ---- vncwebsocket ------------------------------------------------------------------------------------ */

static void h_vncwebsocket(pved_call *c)
{
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	if (qemu_conf_load(c->d, vmid, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *path = xasprintf("/vms/%lld", vmid);
	pved_console_websocket(c, path);
}

/* ---- termproxy: a serial port -------------------------------------------------------------------------- */

/* The listening socket is PVED_TASK_FD(0). args: {"vmid", "port", "authid", "path", "serial"}. */
static int termproxy_task(pved *d, const cJSON *args, pve_error **err)
{
	_cleanup_close_ int lfd = PVED_TASK_FD(0);
	long long vmid = 0, port = 0;
	const char *authid = pve_json_str(args, "authid"), *path = pve_json_str(args, "path");
	const char *serial = pve_json_str(args, "serial");
	if (!pve_json_int(args, "vmid", &vmid) || !pve_json_int(args, "port", &port) || !authid ||
	    !path || !serial)
		return pve_error_set(err, EINVAL, "the console task lacks its VM, port or user");
	printf("starting termproxy on port %lld for %s (%s)\n", port, authid, serial);
	fflush(stdout);
	_cleanup_close_ int fd = -1;
	pve_buf in = { 0 };
	int r = pved_console_xterm_accept(d, lfd, (int)port, authid, path, &fd, &in, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *rundir = qemu_run_dir(d);
	_cleanup_free_ char *sock = kvm_run_path(rundir, vmid, serial);
	_cleanup_close_ int sfd = pved_console_connect(sock, err);
	if (sfd < 0) {
		pve_buf_free(&in);
		return sfd;
	}
	pved_console_xterm_relay(fd, sfd, &in);
	pve_buf_free(&in);
	printf("console closed\n");
	return 0;
}

static void h_termproxy(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = running_conf(c, vmid, NULL);
	if (!conf)
		return;
	/* as Proxmox's: the parameter, else a serial display, else the first serial port */
	char serial[16] = "";
	const char *want = pved_call_str(c, "serial");
	const char *vga = pve_config_get(conf, NULL, "vga");
	if (want)
		snprintf(serial, sizeof(serial), "%s", want);
	else
		(void)serial_display(vga, serial);
	for (int i = 0; i < KVM_MAX_SERIAL && !serial[0]; i++) {
		char key[16];
		snprintf(key, sizeof(key), "serial%d", i);
		if (pve_config_get(conf, NULL, key))
			snprintf(serial, sizeof(serial), "%s", key);
	}
	if (!serial[0]) {
		pve_error_set(&err, EINVAL, "unable to find a serial interface");
		return pved_call_fail(c, err);
	}
	if (!serial_socket(c, conf, serial))
		return;
	int port;
	_cleanup_close_ int lfd = pved_console_listen(&port, &err);
	if (lfd < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *path = xasprintf("/vms/%lld", vmid);
	cJSON *args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "vmid", (double)vmid);
	cJSON_AddNumberToObject(args, "port", port);
	cJSON_AddStringToObject(args, "authid", c->authid);
	cJSON_AddStringToObject(args, "path", path);
	cJSON_AddStringToObject(args, "serial", serial);
	char id[32];
	snprintf(id, sizeof(id), "%lld", vmid);
	_cleanup_free_ char *upid = NULL;
	if (pved_task_start_fds(d, "vncproxy", id, c->authid, args, &lfd, 1, &upid, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *ticket = pved_auth_vncticket(d, c->authid, path, port);
	pved_console_reply(c, port, ticket, upid, false, NULL);
}

/* ---- monitor, sendkey, spiceproxy: QMP on pved's own connection ------------------------------------- */

typedef enum { HMP_MONITOR, HMP_SENDKEY } hmp_kind;

typedef struct hmp_call {
	pved_call *c;
	hmp_kind kind;
} hmp_call;

static void hmp_done(void *ud, const cJSON *ret, const pve_error *err)
{
	hmp_call *h = ud;
	pved_call *c = h->c;
	hmp_kind kind = h->kind;
	free(h);
	const char *text = cJSON_IsString(ret) ? ret->valuestring : "";
	if (kind == HMP_MONITOR) {
		/* as Proxmox: a failure is the answer's text, not an error */
		_cleanup_free_ char *s = err ? xasprintf("ERROR: %s\n", err->message) :
					       xstrdup(text);
		return pved_call_reply(c, cJSON_CreateString(s));
	}
	pve_error *e = NULL;
	if (err)
		pve_error_set(&e, err->code ? err->code : EIO, "%s", err->message);
	else if (*text)
		/* HMP's sendkey answers nothing, or why it did not send */
		pve_error_set(&e, EIO, "%s", text);
	if (e)
		return pved_call_fail(c, e);
	pved_call_reply(c, NULL);
}

static void hmp(pved_call *c, qemu_vm *vm, hmp_kind kind, const char *line)
{
	pve_error *err = NULL;
	kvm_qmp *q = qemu_vm_qmp(c->d, vm);
	if (!q) {
		pve_error_set(&err, EIO, "VM %lld qmp command failed - not connected", vm->vmid);
		return pved_call_fail(c, err);
	}
	hmp_call *h = xcalloc(1, sizeof(*h));
	h->c = c;
	h->kind = kind;
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "command-line", line);
	if (kvm_qmp_command(q, "human-monitor-command", a, 25000, hmp_done, h, &err) < 0) {
		free(h);
		pved_call_fail(c, err);
	}
}

/* What a monitor command needs beyond the route's Sys.Audit, by its name: Proxmox's table
 * (API2/Qemu/HMPPerms.pm). A command it does not list is root's. */
typedef enum { HMP_ANYONE, HMP_MODIFY, HMP_ROOT } hmp_perm;

typedef struct hmp_rule {
	const char *name;
	hmp_perm perm;
} hmp_rule;

/* sorted by name (strcmp), for bsearch */
static const hmp_rule hmp_rules[] = {
	{ "?", HMP_ANYONE },
	{ "announce_self", HMP_MODIFY },
	{ "backup", HMP_ROOT },
	{ "backup_cancel", HMP_MODIFY },
	{ "balloon", HMP_MODIFY },
	{ "block_job_cancel", HMP_MODIFY },
	{ "block_job_complete", HMP_MODIFY },
	{ "block_job_pause", HMP_MODIFY },
	{ "block_job_resume", HMP_MODIFY },
	{ "block_job_set_speed", HMP_MODIFY },
	{ "block_resize", HMP_MODIFY },
	{ "block_set_io_throttle", HMP_MODIFY },
	{ "block_stream", HMP_ROOT },
	{ "boot_set", HMP_MODIFY },
	{ "c", HMP_MODIFY },
	{ "calc_dirty_rate", HMP_MODIFY },
	{ "cancel_vcpu_dirty_limit", HMP_MODIFY },
	{ "change", HMP_ROOT },
	{ "chardev-add", HMP_ROOT },
	{ "chardev-change", HMP_ROOT },
	{ "chardev-remove", HMP_ROOT },
	{ "chardev-send-break", HMP_MODIFY },
	{ "client_migrate_info", HMP_ROOT },
	{ "closefd", HMP_MODIFY },
	{ "commit", HMP_MODIFY },
	{ "cont", HMP_MODIFY },
	{ "cpu", HMP_MODIFY },
	{ "delvm", HMP_MODIFY },
	{ "device_add", HMP_ROOT },
	{ "device_del", HMP_ROOT },
	{ "drive_add", HMP_ROOT },
	{ "drive_backup", HMP_ROOT },
	{ "drive_del", HMP_ROOT },
	{ "drive_mirror", HMP_ROOT },
	{ "dump-guest-memory", HMP_ROOT },
	{ "dumpdtb", HMP_ROOT },
	{ "eject", HMP_MODIFY },
	{ "exit_preconfig", HMP_MODIFY },
	{ "expire_password", HMP_MODIFY },
	{ "gdbserver", HMP_ROOT },
	{ "getfd", HMP_MODIFY },
	{ "gpa2hpa", HMP_MODIFY },
	{ "gpa2hva", HMP_MODIFY },
	{ "gva2gpa", HMP_MODIFY },
	{ "help", HMP_ANYONE },
	{ "hostfwd_add", HMP_ROOT },
	{ "hostfwd_remove", HMP_ROOT },
	{ "i", HMP_MODIFY },
	{ "info", HMP_ANYONE },
	{ "loadvm", HMP_MODIFY },
	{ "log", HMP_MODIFY },
	{ "logfile", HMP_ROOT },
	{ "mce", HMP_ROOT },
	{ "memsave", HMP_ROOT },
	{ "migrate", HMP_ROOT },
	{ "migrate_cancel", HMP_MODIFY },
	{ "migrate_continue", HMP_MODIFY },
	{ "migrate_incoming", HMP_ROOT },
	{ "migrate_pause", HMP_MODIFY },
	{ "migrate_recover", HMP_ROOT },
	{ "migrate_set_capability", HMP_MODIFY },
	{ "migrate_set_parameter", HMP_MODIFY },
	{ "migrate_start_postcopy", HMP_MODIFY },
	{ "mouse_button", HMP_MODIFY },
	{ "mouse_move", HMP_MODIFY },
	{ "mouse_set", HMP_MODIFY },
	{ "nbd_server_add", HMP_ROOT },
	{ "nbd_server_remove", HMP_ROOT },
	{ "nbd_server_start", HMP_ROOT },
	{ "nbd_server_stop", HMP_ROOT },
	{ "netdev_add", HMP_ROOT },
	{ "netdev_del", HMP_ROOT },
	{ "nmi", HMP_ROOT },
	{ "o", HMP_ROOT },
	{ "object_add", HMP_ROOT },
	{ "object_del", HMP_ROOT },
	{ "one-insn-per-tb", HMP_MODIFY },
	{ "p", HMP_MODIFY },
	{ "pcie_aer_inject_error", HMP_ROOT },
	{ "pmemsave", HMP_ROOT },
	{ "print", HMP_MODIFY },
	{ "q", HMP_MODIFY },
	{ "qemu-io", HMP_MODIFY },
	{ "qom-get", HMP_MODIFY },
	{ "qom-list", HMP_MODIFY },
	{ "qom-set", HMP_ROOT },
	{ "quit", HMP_MODIFY },
	{ "replay_break", HMP_MODIFY },
	{ "replay_delete_break", HMP_MODIFY },
	{ "replay_seek", HMP_MODIFY },
	{ "ringbuf_read", HMP_MODIFY },
	{ "ringbuf_write", HMP_MODIFY },
	{ "s", HMP_MODIFY },
	{ "savevm", HMP_MODIFY },
	{ "savevm-end", HMP_ROOT },
	{ "savevm-start", HMP_ROOT },
	{ "screendump", HMP_ROOT },
	{ "sendkey", HMP_MODIFY },
	{ "set_link", HMP_MODIFY },
	{ "set_password", HMP_MODIFY },
	{ "set_vcpu_dirty_limit", HMP_MODIFY },
	{ "snapshot_blkdev", HMP_ROOT },
	{ "snapshot_blkdev_internal", HMP_MODIFY },
	{ "snapshot_delete_blkdev_internal", HMP_MODIFY },
	{ "stop", HMP_MODIFY },
	{ "stopcapture", HMP_MODIFY },
	{ "sum", HMP_MODIFY },
	{ "sync-profile", HMP_MODIFY },
	{ "system_powerdown", HMP_MODIFY },
	{ "system_reset", HMP_MODIFY },
	{ "system_wakeup", HMP_MODIFY },
	{ "trace-event", HMP_MODIFY },
	{ "watchdog_action", HMP_ROOT },
	{ "wavcapture", HMP_ROOT },
	{ "x", HMP_MODIFY },
	{ "x_colo_lost_heartbeat", HMP_MODIFY },
	{ "xen-event-inject", HMP_ROOT },
	{ "xen-event-list", HMP_ROOT },
	{ "xp", HMP_MODIFY },
};

static int hmp_rule_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const hmp_rule *)elem)->name);
}

static void h_monitor(pved_call *c)
{
	long long vmid = pved_call_int(c, "vmid", 0);
	const char *cmd = pved_call_str(c, "command");
	pve_error *err = NULL;
	/* one line: HMP would take what follows a line break as more of the command */
	if (strpbrk(cmd, "\r\n")) {
		pve_error_set_param(&err, EINVAL, "command", "the command must be a single line");
		return pved_call_fail(c, err);
	}
	const char *p = cmd + strspn(cmd, " \t");
	size_t len = strcspn(p, " \t");
	if (!len) {
		pve_error_set(&err, EINVAL, "unexpected command '%s'", cmd);
		return pved_call_fail(c, err);
	}
	_cleanup_free_ char *name = xstrndup(p, len);
	const hmp_rule *rule =
		bsearch(name, hmp_rules, ELEMENTSOF(hmp_rules), sizeof(hmp_rules[0]), hmp_rule_cmp);
	bool root = streq(c->authid, "root@pam");
	if (!rule && !root) {
		pve_error_set(
			&err, EACCES,
			"command '%s' non-existent or not assigned a required permission yet, "
			"limiting to root user",
			name);
		return pved_call_fail(c, err);
	}
	if (rule && rule->perm == HMP_ROOT && !root) {
		pve_error_set(&err, EACCES, "root-only command '%s'", name);
		return pved_call_fail(c, err);
	}
	if (rule && rule->perm == HMP_MODIFY && !pved_call_permitted(c, "/", "Sys.Modify")) {
		pve_error_set(&err, EACCES, "Permission check failed (/, Sys.Modify)");
		return pved_call_fail(c, err);
	}
	qemu_vm *vm = NULL;
	_cleanup_config_ pve_config *conf = running_conf(c, vmid, &vm);
	if (!conf)
		return;
	hmp(c, vm, HMP_MONITOR, cmd);
}

static void h_sendkey(pved_call *c)
{
	long long vmid = pved_call_int(c, "vmid", 0);
	const char *key = pved_call_str(c, "key");
	pve_error *err = NULL;
	bool skiplock = pved_call_int(c, "skiplock", 0) != 0;
	if (skiplock && !streq(c->authid, "root@pam")) {
		pve_error_set_param(&err, EINVAL, "skiplock", "Only root may use this option.");
		return pved_call_fail(c, err);
	}
	/* QEMU's key names joined by '-': nothing else reaches the monitor's line */
	if (!*key || strlen(key) > SENDKEY_MAX ||
	    key[strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_-")] != '\0') {
		pve_error_set_param(&err, EINVAL, "key", "invalid key '%s'", key);
		return pved_call_fail(c, err);
	}
	qemu_vm *vm = NULL;
	_cleanup_config_ pve_config *conf = running_conf(c, vmid, &vm);
	if (!conf)
		return;
	/* Proxmox's vm_sendkey checks no config lock (skiplock is only refused to others) */
	_cleanup_free_ char *line = xasprintf("sendkey %s", key);
	hmp(c, vm, HMP_SENDKEY, line);
}

/* spiceproxy, as Proxmox's: QEMU's SPICE port (query-spice), a ticket for it, the ticket's password set
 * in QEMU for 30 s (set_password, expire_password), and remote-viewer's settings as the answer. Each
 * step is a QMP command on pved's own connection, looked up again by the VM's id (it may stop). */
typedef struct spice_call {
	pved_call *c;
	long long vmid;
	char *title;
	char *password;
	cJSON *answer;
} spice_call;

static void spice_call_free(spice_call *s)
{
	if (s->password)
		explicit_bzero(s->password, strlen(s->password));
	free(s->password);
	free(s->title);
	cJSON_Delete(s->answer);
	free(s);
}

static void spice_fail(spice_call *s, pve_error *err)
{
	pved_call_fail(s->c, err);
	spice_call_free(s);
}

static void spice_qmp(spice_call *s, const char *cmd, cJSON *args, kvm_qmp_reply_fn fn)
{
	pve_error *err = NULL;
	qemu_vm *vm = qemu_vm_find(s->c->d, s->vmid);
	kvm_qmp *q = vm ? qemu_vm_qmp(s->c->d, vm) : NULL;
	if (!q) {
		cJSON_Delete(args);
		pve_error_set(&err, EIO, "VM %lld qmp command failed - not connected", s->vmid);
		return spice_fail(s, err);
	}
	if (kvm_qmp_command(q, cmd, args, 10000, fn, s, &err) < 0)
		spice_fail(s, err);
}

static bool spice_step_failed(spice_call *s, const char *cmd, const pve_error *err)
{
	if (!err)
		return false;
	pve_error *e = NULL;
	pve_error_set(&e, EIO, "VM %lld qmp command '%s' failed - %s", s->vmid, cmd, err->message);
	spice_fail(s, e);
	return true;
}

static void spice_expired(void *ud, const cJSON *ret, const pve_error *err)
{
	(void)ret;
	spice_call *s = ud;
	if (spice_step_failed(s, "expire_password", err))
		return;
	pved_call_reply(s->c, TAKE_PTR(s->answer));
	spice_call_free(s);
}

static void spice_password_set(void *ud, const cJSON *ret, const pve_error *err)
{
	(void)ret;
	spice_call *s = ud;
	if (spice_step_failed(s, "set_password", err))
		return;
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "protocol", "spice");
	cJSON_AddStringToObject(a, "time", "+30");
	spice_qmp(s, "expire_password", a, spice_expired);
}

/* remote-viewer's settings, as Proxmox's remote_viewer_config. */
static int spice_answer(spice_call *s, int port, pve_error **err)
{
	pved_call *c = s->c;
	_cleanup_free_ char *proxyticket = NULL;
	int r = pved_auth_spice_ticket(c->d, s->vmid, port, &proxyticket, &s->password, err);
	if (r < 0)
		return r;
	return pved_console_spice_config(c->d, port, s->password, proxyticket,
					 pved_call_str(c, "proxy"), s->title, &s->answer, err);
}

static void spice_port_known(void *ud, const cJSON *ret, const pve_error *err)
{
	spice_call *s = ud;
	if (spice_step_failed(s, "query-spice", err))
		return;
	/* as Proxmox's spice_port: the TLS port, else the plain one */
	long long port = 0;
	if (!pve_json_int(ret, "tls-port", &port) || port <= 0)
		(void)pve_json_int(ret, "port", &port);
	pve_error *e = NULL;
	if (port <= 0 || port > 65535) {
		pve_error_set(&e, EIO, "no spice port");
		return spice_fail(s, e);
	}
	if (spice_answer(s, (int)port, &e) < 0)
		return spice_fail(s, e);
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "protocol", "spice");
	cJSON_AddStringToObject(a, "password", s->password);
	spice_qmp(s, "set_password", a, spice_password_set);
}

static void h_spiceproxy(pved_call *c)
{
	long long vmid = pved_call_int(c, "vmid", 0);
	qemu_vm *vm = NULL;
	_cleanup_config_ pve_config *conf = running_conf(c, vmid, &vm);
	if (!conf)
		return;
	spice_call *s = xcalloc(1, sizeof(*s));
	s->c = c;
	s->vmid = vmid;
	const char *name = pve_config_get(conf, NULL, "name");
	s->title = name ? xasprintf("VM %lld - %s", vmid, name) : xasprintf("VM %lld", vmid);
	spice_qmp(s, "query-spice", NULL, spice_port_known);
}

const pved_task_kind pved_tasks_qemu_console[] = {
	{ "vncproxy", vncproxy_task },
	{ NULL, NULL },
};

const pved_handler pved_handlers_qemu_console[] = {
	{ "qemu_vncproxy", h_vncproxy },
	{ "qemu_vncwebsocket", h_vncwebsocket },
	{ "qemu_termproxy", h_termproxy },
	{ "qemu_monitor", h_monitor },
	{ "qemu_sendkey", h_sendkey },
	{ "qemu_spiceproxy", h_spiceproxy },
	{ NULL, NULL },
};

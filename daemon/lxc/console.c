/* A container's console and addresses: termproxy (a console task relays xterm.js, as the node shell's,
 * to the monitor's console socket; leaving never stops the container), vncproxy (the same socket shown
 * as a terminal over VNC by the node console's vncterm task), vncwebsocket (the node console's relay),
 * spiceproxy (the same socket shown as a terminal over SPICE by the node console's spiceterm task,
 * answered with a remote-viewer config), interfaces (`ip -o` run inside the container). */
#include <cjson/cJSON.h>

#include "daemon/lxc/lxc-internal.h"
#include "daemon/nodes/console-internal.h"
#include "kvm/kvm.h"

static bool running_ct(pved_call *c, long long vmid)
{
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	if (ct_conf_load(c->d, vmid, &conf, NULL, &err) < 0) {
		pved_call_fail(c, err);
		return false;
	}
	if (!ct_running(c->d, vmid, NULL)) {
		pve_error_set(&err, EINVAL, "CT %lld not running", vmid);
		pved_call_fail(c, err);
		return false;
	}
	return true;
}

/* Starts a console task of type for vmid, handed the listening socket lfd: its UPID, or NULL when the
 * call has been answered with the error. */
static char *start_console_task(pved_call *c, const char *type, long long vmid, cJSON *args,
				int lfd)
{
	char id[32];
	snprintf(id, sizeof(id), "%lld", vmid);
	char *upid = NULL;
	pve_error *err = NULL;
	if (pved_task_start_fds(c->d, type, id, c->authid, args, &lfd, 1, &upid, &err) < 0) {
		pved_call_fail(c, err);
		return NULL;
	}
	return upid;
}

unsigned ct_console_tty(pved *d, long long vmid)
{
	_cleanup_config_ pve_config *c = NULL;
	if (ct_conf_load(d, vmid, &c, NULL, NULL) < 0)
		return 0;
	const char *cmode = pve_config_get(c, NULL, "cmode");
	/* Proxmox's cmode: tty (the default) is tty 1, where a getty runs; console and shell the
	 * init's /dev/console; a container without ttys has only that */
	if ((cmode && !streq(cmode, "tty")) || ct_conf_int(c, NULL, "tty", 2) < 1)
		return 0;
	return 1;
}

/* The listening socket is PVED_TASK_FD(0). args: {"vmid", "port", "authid", "path"}. */
static int term_task(pved *d, const cJSON *args, pve_error **err)
{
	_cleanup_close_ int lfd = PVED_TASK_FD(0);
	long long vmid = 0, port = 0;
	const char *authid = pve_json_str(args, "authid"), *path = pve_json_str(args, "path");
	if (!pve_json_int(args, "vmid", &vmid) || !pve_json_int(args, "port", &port) || !authid ||
	    !path)
		return pve_error_set(err, EINVAL, "the console task lacks its CT, port or user");
	printf("starting termproxy on port %lld for %s\n", port, authid);
	fflush(stdout);
	_cleanup_close_ int fd = -1;
	pve_buf in = { 0 };
	int r = pved_console_xterm_accept(d, lfd, (int)port, authid, path, &fd, &in, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *run = ct_run_dir(d);
	long long tty = 0;
	pve_json_int(args, "tty", &tty);
	_cleanup_free_ char *sock = lxc_console_path(run, vmid, (unsigned)tty);
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
	if (!running_ct(c, vmid))
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
	cJSON_AddNumberToObject(args, "tty", ct_console_tty(d, vmid));
	/* Proxmox's type is vncproxy, which the VMs' console task answers to in pved */
	_cleanup_free_ char *upid = start_console_task(c, "vzterm", vmid, args, lfd);
	if (!upid)
		return;
	_cleanup_free_ char *ticket = pved_auth_vncticket(d, c->authid, path, port);
	pved_console_reply(c, port, ticket, upid, false, NULL);
}

static void h_vncwebsocket(pved_call *c)
{
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	if (ct_conf_load(c->d, vmid, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *path = xasprintf("/vms/%lld", vmid);
	pved_console_websocket(c, path);
}

static void h_vncproxy(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	if (!running_ct(c, vmid))
		return;
	int port;
	_cleanup_close_ int lfd = pved_console_listen(&port, &err);
	if (lfd < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *path = xasprintf("/vms/%lld", vmid);
	/* as Proxmox's vncterm: the VNC password is the ticket */
	_cleanup_free_ char *ticket = pved_auth_vncticket(d, c->authid, path, port);
	_cleanup_free_ char *run = ct_run_dir(d);
	_cleanup_free_ char *sock = lxc_console_path(run, vmid, ct_console_tty(d, vmid));
	_cleanup_free_ char *title = xasprintf("CT %lld console", vmid);
	cJSON *args = pved_console_vncterm_args(port, sock, ticket, title);
	/* Proxmox's type: its one kind is the VMs' (daemon/qemu/console.c), which runs the node
	 * console's vncterm task for args that name a console */
	_cleanup_free_ char *upid = start_console_task(c, "vncproxy", vmid, args, lfd);
	if (!upid)
		return;
	pved_console_reply(c, port, ticket, upid, true, NULL);
}

static void h_spiceproxy(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	if (!running_ct(c, vmid))
		return;
	/* Proxmox's SPICE ports, the VMs' too: the SPICE proxy relays to no other */
	int port;
	_cleanup_close_ int lfd =
		pve_listen_local_port(KVM_SPICE_PORT_MIN, KVM_SPICE_PORT_MAX, &port, &err);
	if (lfd < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *host = NULL, *password = NULL;
	_cleanup_free_ char *title = xasprintf("CT %lld", vmid);
	cJSON *answer = NULL;
	if (pved_auth_spice_ticket(d, vmid, port, &host, &password, &err) < 0 ||
	    pved_console_spice_config(d, port, password, host, pved_call_str(c, "proxy"), title,
				      &answer, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *run = ct_run_dir(d);
	_cleanup_free_ char *sock = lxc_console_path(run, vmid, ct_console_tty(d, vmid));
	cJSON *args = pved_console_vncterm_args(port, sock, password, title);
	_cleanup_free_ char *upid = start_console_task(c, "spiceproxy", vmid, args, lfd);
	if (!upid) {
		cJSON_Delete(answer);
		return;
	}
	pved_call_reply(c, answer);
}

/* ---- interfaces ---------------------------------------------------------------------------------------- */

typedef struct ifs_job {
	pved_call *c;
	pved *d;
	long long vmid;
	char *addrs, *links;
	pve_error *err;
} ifs_job;

static void ifs_work(void *arg)
{
	ifs_job *j = arg;
	char *a[] = { (char *)"ip", (char *)"-o", (char *)"addr", (char *)"show", NULL };
	char *l[] = { (char *)"ip", (char *)"-o", (char *)"link", (char *)"show", NULL };
	int code = 0;
	if (ct_exec_collect(j->d, j->vmid, a, 10, 1 << 20, &j->addrs, &code, &j->err) < 0)
		return;
	if (code != 0) {
		pve_error_set(&j->err, EIO, "'ip -o addr' failed in CT %lld (exit code %d)",
			      j->vmid, code);
		return;
	}
	(void)ct_exec_collect(j->d, j->vmid, l, 10, 1 << 20, &j->links, &code, NULL);
}

/* "2: eth0@if12: <...> ... link/ether bc:24:..." -> the name's MAC address. */
static char *hwaddr_of(const char *links, const char *name)
{
	size_t n = strlen(name);
	for (const char *line = links; line && *line;) {
		const char *end = strchr(line, '\n');
		const char *nm = strstr(line, ": ");
		if (nm && (!end || nm < end) && strncmp(nm + 2, name, n) == 0 &&
		    (nm[2 + n] == ':' || nm[2 + n] == '@')) {
			const char *ll = strstr(nm, "link/");
			if (ll && (!end || ll < end)) {
				const char *sp = strchr(ll, ' ');
				if (sp)
					return xstrndup(sp + 1, strcspn(sp + 1, " \n\\"));
			}
		}
		line = end ? end + 1 : NULL;
	}
	return xstrdup("00:00:00:00:00:00");
}

static void ifs_done(void *arg)
{
	ifs_job *j = arg;
	if (j->err) {
		pved_call_fail(j->c, j->err);
	} else {
		cJSON *a = cJSON_CreateArray();
		_cleanup_strv_free_ char **lines = pve_strv_split(j->addrs, "\n");
		for (char **ln = lines; *ln; ln++) {
			_cleanup_strv_free_ char **f = pve_strv_split(*ln, " \t");
			if (strv_length(f) < 4)
				continue;
			const char *name = f[1], *fam = f[2], *addr = f[3];
			_cleanup_free_ char *ifname = xstrndup(name, strcspn(name, "@:"));
			cJSON *o = NULL, *x;
			cJSON_ArrayForEach (x, a)
				if (streq_ptr(pve_json_str(x, "name"), ifname))
					o = x;
			if (!o) {
				o = cJSON_CreateObject();
				cJSON_AddStringToObject(o, "name", ifname);
				_cleanup_free_ char *hw = hwaddr_of(j->links, ifname);
				cJSON_AddStringToObject(o, "hwaddr", hw);
				cJSON_AddStringToObject(o, "hardware-address", hw);
				cJSON_AddItemToArray(a, o);
			}
			const char *key = streq(fam, "inet")  ? "inet" :
					  streq(fam, "inet6") ? "inet6" :
								NULL;
			if (key && !cJSON_HasObjectItem(o, key))
				cJSON_AddStringToObject(o, key, addr);
		}
		pved_call_reply(j->c, a);
	}
	free(j->addrs);
	free(j->links);
	free(j);
}

static void h_interfaces(pved_call *c)
{
	long long vmid = pved_call_int(c, "vmid", 0);
	if (!running_ct(c, vmid))
		return;
	ifs_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	j->d = c->d;
	j->vmid = vmid;
	pve_error *err = NULL;
	if (pved_run_blocking(c->d, PVED_QUEUE_GUEST, ifs_work, ifs_done, j, &err) < 0) {
		free(j);
		pved_call_fail(c, err);
	}
}

const pved_task_kind pved_tasks_lxc_console[] = {
	{ "vzterm", term_task },
	/* Proxmox's type; VMs run no task for their SPICE */
	{ "spiceproxy", pved_console_spiceterm_task },
	{ NULL, NULL },
};

const pved_handler pved_handlers_lxc_console[] = {
	{ "lxc_termproxy", h_termproxy },	{ "lxc_vncproxy", h_vncproxy },
	{ "lxc_vncwebsocket", h_vncwebsocket }, { "lxc_spiceproxy", h_spiceproxy },
	{ "lxc_interfaces", h_interfaces },	{ NULL, NULL },
};

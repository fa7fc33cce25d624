/* The guest agent's endpoints (/nodes/{node}/qemu/{vmid}/agent/...) as Proxmox's API2/Qemu/Agent.pm
 * answers them: the generic commands, exec and exec-status, file-read and file-write, set-user-password.
 * Each call opens its own connection to the VM's agent on pved's loop (kvm/qga.c): the sync answered is
 * Proxmox's "is the agent running" check, then the command or a file's open/seek/read/close on the same
 * connection. No thread waits for an agent that does not answer. */
#include <cjson/cJSON.h>

#include "daemon/qemu/qemu-internal.h"

/* Proxmox's file-read limit, and the size of each read it asks the agent for. */
#define FILE_READ_MAX (16 * 1024 * 1024)
#define FILE_READ_CHUNK (1024 * 1024)

bool qemu_agent_enabled(const char *value)
{
	if (!value)
		return false;
	/* "1", "enabled=1,fstrim_cloned_disks=1", "0,type=isa": the default key first */
	_cleanup_strv_free_ char **parts = pve_strv_split(value, ",");
	bool on = false;
	for (char **p = parts; *p; p++) {
		const char *v = startswith(*p, "enabled=") ? *p + 8 : strchr(*p, '=') ? NULL : *p;
		if (v && pve_parse_bool(v, &on) < 0)
			on = false;
	}
	return on;
}

/* ---- one call's connection ------------------------------------------------------------------------ */

typedef struct agent_call agent_call;
typedef void (*agent_step_fn)(agent_call *a, const kvm_qmp_msg *m);

struct agent_call {
	pved_call *c;
	long long vmid;
	kvm_qga *q;
	char name[32]; /* "VM 100" */
	/* file-read */
	long long handle;
	long long count, done;
	bool decode, eof;
	pve_buf content;
	/* file-write */
	char *buf_b64;
};

static void agent_call_free(agent_call *a)
{
	kvm_qga_free(a->q);
	pve_buf_free(&a->content);
	free(a->buf_b64);
	free(a);
}

static void finish(agent_call *a, cJSON *data)
{
	pved_call_reply(a->c, data);
	agent_call_free(a);
}

static void fail(agent_call *a, int code, const char *fmt, ...) _printf_(3, 4);
static void fail(agent_call *a, int code, const char *fmt, ...)
{
	pve_error *err = NULL;
	va_list ap;
	va_start(ap, fmt);
	pve_error_setv(&err, code, fmt, ap);
	va_end(ap);
	pved_call_fail(a->c, err);
	agent_call_free(a);
}

/* The checks of Proxmox's assert_agent_available, then the connection: NULL after answering. */
static agent_call *agent_open(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	if (qemu_conf_load(d, vmid, &conf, NULL, &err) < 0) {
		pved_call_fail(c, err);
		return NULL;
	}
	/* as Proxmox: configured at all, even "agent: 0" (whose VM has no agent socket: then the
	 * agent "is not running") */
	if (!pve_config_get(conf, NULL, "agent")) {
		pve_error_set(&err, EIO, "No QEMU guest agent configured");
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
		pve_error_set(&err, EIO, "VM %lld is not running", vmid);
		pved_call_fail(c, err);
		return NULL;
	}
	agent_call *a = xcalloc(1, sizeof(*a));
	a->c = c;
	a->vmid = vmid;
	snprintf(a->name, sizeof(a->name), "VM %lld", vmid);
	_cleanup_free_ char *path = kvm_run_path(d->qemu->run_dir, vmid, "qga");
	if (kvm_qga_open(d->base, path, a->name, &a->q, &err) < 0) {
		/* no socket: the VM was started without the agent device */
		pved_call_fail(c, err);
		free(a);
		return NULL;
	}
	return a;
}

/* JSON text for bytes the agent handed over: UTF-8 as it is; anything else byte by byte as code
 * points 0-255, which is what Proxmox's JSON encoder makes of a byte string. NUL survives as \u0000,
 * which a cJSON string could not carry. */
static cJSON *bytes_json(const char *data, size_t len)
{
	bool utf8 = pve_utf8_valid(data, len);
	pve_buf b = { 0 };
	pve_buf_puts(&b, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)data[i];
		if (ch == '"' || ch == '\\') {
			char esc[3] = { '\\', (char)ch, 0 };
			pve_buf_puts(&b, esc);
		} else if (ch < 0x20 || ch == 0x7f) {
			pve_buf_printf(&b, "\\u%04x", ch);
		} else if (ch < 0x80 || utf8) {
			pve_buf_append(&b, &data[i], 1);
		} else {
			char two[2] = { (char)(0xc0 | (ch >> 6)), (char)(0x80 | (ch & 0x3f)) };
			pve_buf_append(&b, two, 2);
		}
	}
	pve_buf_puts(&b, "\"");
	_cleanup_free_ char *text = pve_buf_steal(&b);
	return cJSON_CreateRaw(text);
}

/* Proxmox's check_agent_error: an error answer (or none) ends the call with "Agent error: ...". */
static bool agent_error(agent_call *a, const kvm_qmp_msg *m, const pve_error *err, const char *what)
{
	if (err) {
		fail(a, err->code == ECANCELED ? EIO : err->code, "%s", err->message);
		return true;
	}
	if (!m) {
		fail(a, EIO, "Agent error: %s", what);
		return true;
	}
	if (m->kind == KVM_QMP_ERROR) {
		fail(a, EIO, "Agent error: %s", m->error_desc);
		return true;
	}
	return false;
}

/* ---- the generic commands ----------------------------------------------------------------------------- */

static bool no_reply(const char *cmd)
{
	return streq(cmd, "shutdown") || startswith(cmd, "suspend-");
}

static void generic_done(void *ud, const kvm_qmp_msg *m, const pve_error *err)
{
	agent_call *a = ud;
	if (err)
		return fail(a, err->code == ECANCELED ? EIO : err->code, "%s", err->message);
	/* as Proxmox's: an error answer is the result, {"error": {...}} */
	cJSON *o = cJSON_CreateObject();
	if (!m)
		cJSON_AddNullToObject(o, "result");
	else if (m->kind == KVM_QMP_ERROR)
		cJSON_AddItemToObject(
			o, "result",
			cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(m->root, "error"), true));
	else
		cJSON_AddItemToObject(o, "result", cJSON_Duplicate(m->value, true));
	finish(a, o);
}

static void run_generic(pved_call *c, const char *cmd)
{
	agent_call *a = agent_open(c);
	if (!a)
		return;
	_cleanup_free_ char *qcmd = xasprintf("guest-%s", cmd);
	kvm_qga_command(a->q, qcmd, NULL, 0, no_reply(cmd) ? KVM_QGA_NO_REPLY : 0, generic_done, a);
}

static void h_agent(pved_call *c)
{
	run_generic(c, pved_call_str(c, "command"));
}

/* The command of an endpoint: the route's last path segment. */
static void h_generic(pved_call *c)
{
	const char *slash = strrchr(c->route->path, '/');
	run_generic(c, slash + 1);
}

/* ---- exec and exec-status ------------------------------------------------------------------------------ */

static void exec_done(void *ud, const kvm_qmp_msg *m, const pve_error *err)
{
	agent_call *a = ud;
	if (agent_error(a, m, err, "can't execute command"))
		return;
	finish(a, cJSON_Duplicate(m->value, true));
}

static void h_exec(pved_call *c)
{
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(c->params, "command");
	const char *input = pved_call_str(c, "input-data");
	pve_error *err = NULL;
	cJSON *args = cJSON_CreateObject();
	cJSON_AddTrueToObject(args, "capture-output");
	/* a single value comes as a string, several (a repeated form field) as an array */
	cJSON *argv = cJSON_CreateArray();
	if (cJSON_IsString(cmd)) {
		cJSON_AddItemToArray(argv, cJSON_CreateString(cmd->valuestring));
	} else if (cJSON_IsArray(cmd)) {
		const cJSON *e;
		cJSON_ArrayForEach (e, cmd) {
			if (!cJSON_IsString(e)) {
				cJSON_Delete(argv);
				cJSON_Delete(args);
				pve_error_set_param(&err, EINVAL, "command",
						    "type check ('string') failed");
				return pved_call_fail(c, err);
			}
			cJSON_AddItemToArray(argv, cJSON_CreateString(e->valuestring));
		}
	}
	if (cJSON_GetArraySize(argv) > 0) {
		cJSON *path = cJSON_DetachItemFromArray(argv, 0);
		cJSON_AddItemToObject(args, "path", path);
		cJSON_AddItemToObject(args, "arg", argv);
	} else {
		cJSON_Delete(argv);
	}
	if (input) {
		_cleanup_free_ char *b64 = kvm_base64_encode(input, strlen(input));
		cJSON_AddStringToObject(args, "input-data", b64);
	}
	if (!input && !cJSON_HasObjectItem(args, "path")) {
		cJSON_Delete(args);
		pve_error_set(&err, EINVAL, "command or input-data (or both) required");
		return pved_call_fail(c, err);
	}
	agent_call *a = agent_open(c);
	if (!a) {
		cJSON_Delete(args);
		return;
	}
	kvm_qga_command(a->q, "guest-exec", args, 0, 0, exec_done, a);
}

static void exec_status_done(void *ud, const kvm_qmp_msg *m, const pve_error *err)
{
	agent_call *a = ud;
	char what[64];
	snprintf(what, sizeof(what), "can't get exec status for '%lld'",
		 pved_call_int(a->c, "pid", 0));
	if (agent_error(a, m, err, what))
		return;
	cJSON *o = cJSON_CreateObject();
	const cJSON *v;
	cJSON_ArrayForEach (v, m->value) {
		if (cJSON_IsBool(v)) {
			/* Proxmox turns JSON booleans into 1 and 0 */
			cJSON_AddNumberToObject(o, v->string, cJSON_IsTrue(v) ? 1 : 0);
			continue;
		}
		if ((streq(v->string, "out-data") || streq(v->string, "err-data")) &&
		    cJSON_IsString(v) && *v->valuestring) {
			size_t len;
			_cleanup_free_ char *dec =
				kvm_base64_decode(v->valuestring, strlen(v->valuestring), &len);
			if (dec) {
				cJSON_AddItemToObject(o, v->string, bytes_json(dec, len));
				continue;
			}
		}
		cJSON_AddItemToObject(o, v->string, cJSON_Duplicate(v, true));
	}
	finish(a, o);
}

static void h_exec_status(pved_call *c)
{
	agent_call *a = agent_open(c);
	if (!a)
		return;
	cJSON *args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "pid", (double)pved_call_int(c, "pid", 0));
	kvm_qga_command(a->q, "guest-exec-status", args, 0, 0, exec_status_done, a);
}

/* ---- file-read: open, seek, reads of 1 MiB, close, on one connection ------------------------------ */

static void read_next(agent_call *a);

static void read_closed(void *ud, const kvm_qmp_msg *m, const pve_error *err)
{
	agent_call *a = ud;
	(void)m, (void)err; /* Proxmox only warns when the close fails */
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "content",
			      bytes_json(a->content.data ? a->content.data : "", a->content.len));
	cJSON_AddNumberToObject(o, "bytes-read", (double)a->done);
	if (!a->eof)
		cJSON_AddNumberToObject(o, "truncated", 1);
	finish(a, o);
}

static void read_close(agent_call *a)
{
	cJSON *args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "handle", (double)a->handle);
	kvm_qga_command(a->q, "guest-file-close", args, 0, 0, read_closed, a);
}

static void read_chunk(void *ud, const kvm_qmp_msg *m, const pve_error *err)
{
	agent_call *a = ud;
	if (agent_error(a, m, err, "can't read from file"))
		return;
	const char *b64 = pve_json_str(m->value, "buf-b64");
	long long n = 0;
	if (!b64 || !pve_json_int(m->value, "count", &n) || n < 0)
		return fail(a, EIO, "Agent error: can't read from file");
	long long asked = a->count - a->done < FILE_READ_CHUNK ? a->count - a->done :
								 FILE_READ_CHUNK;
	size_t len;
	_cleanup_free_ char *dec = kvm_base64_decode(b64, strlen(b64), &len);
	/* more than asked for is an agent's lie, and memory pved would hold for it */
	if (!dec || (long long)len > asked || n > asked)
		return fail(a, EIO, "Agent error: the agent returned more data than asked for");
	if (a->decode)
		pve_buf_append(&a->content, dec, len);
	else
		pve_buf_puts(&a->content, b64);
	a->done += n;
	const cJSON *eof = cJSON_GetObjectItemCaseSensitive(m->value, "eof");
	a->eof = cJSON_IsTrue(eof) || (cJSON_IsNumber(eof) && eof->valuedouble != 0);
	/* an agent that reads nothing and is not at the end would keep us here */
	if (n == 0 && !a->eof)
		a->eof = true;
	read_next(a);
}

static void read_next(agent_call *a)
{
	if (a->done >= a->count || a->eof)
		return read_close(a);
	long long n = a->count - a->done < FILE_READ_CHUNK ? a->count - a->done : FILE_READ_CHUNK;
	cJSON *args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "handle", (double)a->handle);
	cJSON_AddNumberToObject(args, "count", (double)n);
	kvm_qga_command(a->q, "guest-file-read", args, 0, 0, read_chunk, a);
}

static void read_seeked(void *ud, const kvm_qmp_msg *m, const pve_error *err)
{
	agent_call *a = ud;
	if (agent_error(a, m, err, "can't seek to offset position"))
		return;
	read_next(a);
}

static void read_opened(void *ud, const kvm_qmp_msg *m, const pve_error *err)
{
	agent_call *a = ud;
	if (agent_error(a, m, err, "can't open file"))
		return;
	if (!cJSON_IsNumber(m->value))
		return fail(a, EIO, "Agent error: can't open file");
	a->handle = (long long)m->value->valuedouble;
	long long offset = pved_call_int(a->c, "offset", 0);
	if (offset <= 0)
		return read_next(a);
	cJSON *args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "handle", (double)a->handle);
	cJSON_AddNumberToObject(args, "offset", (double)offset);
	cJSON_AddStringToObject(args, "whence", "set");
	kvm_qga_command(a->q, "guest-file-seek", args, 0, 0, read_seeked, a);
}

static void h_file_read(pved_call *c)
{
	agent_call *a = agent_open(c);
	if (!a)
		return;
	a->count = pved_call_int(c, "count", FILE_READ_MAX);
	a->decode = pved_call_int(c, "decode", 1) != 0;
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "path", pved_call_str(c, "file"));
	kvm_qga_command(a->q, "guest-file-open", args, 0, 0, read_opened, a);
}

/* ---- file-write: open, write, close --------------------------------------------------------------- */

static void write_closed(void *ud, const kvm_qmp_msg *m, const pve_error *err)
{
	agent_call *a = ud;
	if (agent_error(a, m, err, "can't close file"))
		return;
	finish(a, NULL);
}

static void write_written(void *ud, const kvm_qmp_msg *m, const pve_error *err)
{
	agent_call *a = ud;
	if (agent_error(a, m, err, "can't write to file"))
		return;
	cJSON *args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "handle", (double)a->handle);
	kvm_qga_command(a->q, "guest-file-close", args, 0, 0, write_closed, a);
}

static void write_opened(void *ud, const kvm_qmp_msg *m, const pve_error *err)
{
	agent_call *a = ud;
	if (agent_error(a, m, err, "can't open file"))
		return;
	if (!cJSON_IsNumber(m->value))
		return fail(a, EIO, "Agent error: can't open file");
	a->handle = (long long)m->value->valuedouble;
	cJSON *args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "handle", (double)a->handle);
	cJSON_AddStringToObject(args, "buf-b64", a->buf_b64);
	kvm_qga_command(a->q, "guest-file-write", args, 0, 0, write_written, a);
}

static void h_file_write(pved_call *c)
{
	const char *content = pved_call_str(c, "content");
	agent_call *a = agent_open(c);
	if (!a)
		return;
	/* encode=0: the content is base64 already, which the agent checks */
	a->buf_b64 = pved_call_int(c, "encode", 1) ? kvm_base64_encode(content, strlen(content)) :
						     xstrdup(content);
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "path", pved_call_str(c, "file"));
	cJSON_AddStringToObject(args, "mode", "wb");
	kvm_qga_command(a->q, "guest-file-open", args, 0, 0, write_opened, a);
}

/* ---- set-user-password ---------------------------------------------------------------------------------- */

static void password_done(void *ud, const kvm_qmp_msg *m, const pve_error *err)
{
	agent_call *a = ud;
	if (agent_error(a, m, err, "cannot set user password"))
		return;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "result", cJSON_Duplicate(m->value, true));
	finish(a, o);
}

static void h_set_user_password(pved_call *c)
{
	const char *password = pved_call_str(c, "password");
	agent_call *a = agent_open(c);
	if (!a)
		return;
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "username", pved_call_str(c, "username"));
	_cleanup_free_ char *b64 = kvm_base64_encode(password, strlen(password));
	cJSON_AddStringToObject(args, "password", b64);
	cJSON_AddBoolToObject(args, "crypted", pved_call_int(c, "crypted", 0) != 0);
	kvm_qga_command(a->q, "guest-set-user-password", args, 0, 0, password_done, a);
}

/* ---- for qmshutdown (a task worker) --------------------------------------------------------------------- */

int qemu_agent_shutdown(pved *d, long long vmid, pve_error **err)
{
	_cleanup_free_ char *rundir = qemu_run_dir(d);
	_cleanup_free_ char *path = kvm_run_path(rundir, vmid, "qga");
	char name[32];
	snprintf(name, sizeof(name), "VM %lld", vmid);
	return kvm_qga_run(path, name, "guest-shutdown", NULL, 0, KVM_QGA_NO_REPLY, NULL, err);
}

const pved_handler pved_handlers_qemu_agent[] = {
	{ "qemu_agent", h_agent },
	{ "qemu_agent_fsfreeze_freeze", h_generic },
	{ "qemu_agent_fsfreeze_status", h_generic },
	{ "qemu_agent_fsfreeze_thaw", h_generic },
	{ "qemu_agent_fstrim", h_generic },
	{ "qemu_agent_get_fsinfo", h_generic },
	{ "qemu_agent_get_host_name", h_generic },
	{ "qemu_agent_get_memory_block_info", h_generic },
	{ "qemu_agent_get_memory_blocks", h_generic },
	{ "qemu_agent_get_osinfo", h_generic },
	{ "qemu_agent_get_time", h_generic },
	{ "qemu_agent_get_timezone", h_generic },
	{ "qemu_agent_get_users", h_generic },
	{ "qemu_agent_get_vcpus", h_generic },
	{ "qemu_agent_info", h_generic },
	{ "qemu_agent_network_get_interfaces", h_generic },
	{ "qemu_agent_ping", h_generic },
	{ "qemu_agent_shutdown", h_generic },
	{ "qemu_agent_suspend_disk", h_generic },
	{ "qemu_agent_suspend_hybrid", h_generic },
	{ "qemu_agent_suspend_ram", h_generic },
	{ "qemu_agent_set_user_password", h_set_user_password },
	{ "qemu_agent_exec", h_exec },
	{ "qemu_agent_exec_status", h_exec_status },
	{ "qemu_agent_file_read", h_file_read },
	{ "qemu_agent_file_write", h_file_write },
	{ NULL, NULL },
};

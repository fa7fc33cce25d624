/* pvectl vm and qm: qm's verbs. qm's calls go through pvectl's own (pvesh's) path; list, config,
 * status and pending print as qm does. showcmd prints the QEMU command line a start of the VM would
 * run, computed here on the node as qm showcmd does: the config read through the config store,
 * volumes resolved through storage/, the line built by kvm/ (the one place that builds it). */
#include <cjson/cJSON.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>

#include "cluster/cluster.h"
#include "kvm/kvm.h"
#include "storage/storage.h"
#include "tools/pvectl-internal.h"

#define QEMU_BINARY "/usr/bin/qemu-system-x86_64"

typedef struct resolve_ctx {
	pve_sectioncfg *scfg;
	const char *node;
} resolve_ctx;

static int resolve(void *ud, const char *volid, char **ret_path, char **ret_format, pve_error **err)
{
	resolve_ctx *x = ud;
	if (volid[0] == '/') {
		*ret_path = xstrdup(volid);
		*ret_format = xstrdup("raw");
		return 0;
	}
	_cleanup_free_ char *sid = NULL, *volname = NULL, *path = NULL;
	pve_storage st;
	pve_volname v = { 0 };
	int r = pve_storage_volid_split(volid, &sid, &volname, err);
	if (r >= 0)
		r = pve_storage_get(x->scfg, sid, &st, err);
	if (r >= 0)
		r = pve_storage_activate(&st, err);
	if (r >= 0)
		r = pve_storage_volume_parse(&st, volname, &v, err);
	if (r >= 0)
		r = pve_storage_path(&st, volname, NULL, &path, err);
	if (r >= 0) {
		*ret_format = xstrdup(v.format && !streq(v.format, "subvol") ? v.format : "raw");
		*ret_path = TAKE_PTR(path);
	}
	pve_volname_clear(&v);
	return r;
}

static bool bridge_exists(void *ud, const char *bridge)
{
	(void)ud;
	return kvm_bridge_exists(bridge);
}

/* A GET through the transport: the answer's data (taken), or NULL with a message printed. */
static cJSON *get_data(pvectl *c, const char *path)
{
	pve_client_response resp = { 0 };
	_cleanup_error_ pve_error *err = NULL;
	if (pvectl_call(c, "GET", path, NULL, &resp, &err) < 0) {
		fprintf(stderr, "%s: %s\n", program_invocation_short_name, err->message);
		return NULL;
	}
	cJSON *data = resp.status == 200 ?
			      cJSON_DetachItemFromObjectCaseSensitive(resp.body, "data") :
			      NULL;
	if (!data)
		fprintf(stderr, "%s: GET %s: %d %s\n", program_invocation_short_name, path,
			resp.status, resp.reason ? resp.reason : "");
	pve_client_response_clear(&resp);
	return data;
}

static int showcmd(pvectl *c, const char *vmid_text, bool pretty)
{
	long long vmid;
	if (pve_parse_int(vmid_text, PVE_VMID_MIN, PVE_VMID_MAX, &vmid) < 0) {
		fprintf(stderr, "%s: vm showcmd: '%s' is no VM ID\n", program_invocation_short_name,
			vmid_text);
		return PVECTL_EXIT_USAGE;
	}
	if (c->url) {
		fprintf(stderr, "%s: vm showcmd runs on the node (without --url)\n",
			program_invocation_short_name);
		return PVECTL_EXIT_USAGE;
	}
	_cleanup_json_ cJSON *nodes = get_data(c, "/nodes");
	const char *node = pve_json_str(cJSON_GetArrayItem(nodes, 0), "node");
	if (!node)
		return PVECTL_EXIT_FAIL;
	_cleanup_free_ char *status_path = xasprintf("/nodes/%s/status", node);
	_cleanup_json_ cJSON *status = get_data(c, status_path);
	const char *verdict = pve_json_str(status, "kvm");

	const cJSON *params = NULL;
	for (size_t i = 0; i < pve_routes_count(c->routes); i++) {
		const pve_route *r = pve_routes_get(c->routes, i);
		if (streq(r->path, "/nodes/{node}/qemu") && streq(r->method, "POST"))
			params = cJSON_GetObjectItemCaseSensitive(r->parameters, "properties");
	}
	_cleanup_kvm_schema_ kvm_schema *schema = kvm_schema_new(params);
	_cleanup_error_ pve_error *err = NULL;
	pve_store *store = NULL;
	if (pve_store_open(c->root, &store, &err) < 0) {
		fprintf(stderr, "%s: %s\n", program_invocation_short_name, err->message);
		return PVECTL_EXIT_FAIL;
	}
	_cleanup_free_ char *path = xasprintf("nodes/%s/qemu-server/%lld.conf", node, vmid);
	_cleanup_free_ char *text = NULL, *stext = NULL;
	size_t len = 0, slen = 0;
	int r = pve_store_read(store, path, &text, &len, NULL, &err);
	if (r == -ENOENT) {
		pve_error_free(TAKE_PTR(err));
		pve_error_set(&err, ENOENT, "Configuration file '%s' does not exist", path);
	}
	if (r >= 0 && pve_store_read(store, "storage.cfg", &stext, &slen, NULL, NULL) < 0)
		stext = xstrdup("");
	pve_store_free(store);
	_cleanup_config_ pve_config *conf = NULL;
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	if (r >= 0)
		r = kvm_config_parse(text, len, &conf, &err);
	if (r >= 0)
		r = pve_storage_cfg_parse(stext, strlen(stext), &scfg, &err);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", program_invocation_short_name, err->message);
		return PVECTL_EXIT_FAIL;
	}
	/* as the next start runs it: with the pending changes */
	if (pve_config_has_section(conf, KVM_SECTION_PENDING))
		kvm_config_apply_pending(conf, NULL);
	_cleanup_free_ char *rundir =
		xasprintf("%s%srun/qemu-server", c->root, endswith(c->root, "/") ? "" : "/");
	const char *bios = pve_config_get(conf, NULL, "bios");
	const char *efi = pve_config_get(conf, NULL, "efidisk0");
	_cleanup_free_ char *code =
		bios && streq(bios, "ovmf") ?
			xasprintf("/usr/share/OVMF/%s", efi && strstr(efi, "efitype=2m") ?
								"OVMF_CODE.fd" :
								"OVMF_CODE_4M.fd") :
			NULL;
	resolve_ctx x = { .scfg = scfg, .node = node };
	/* as qm showcmd: a SPICE display gets a free port of the range, as a start would */
	int spice_port = 0;
	if (kvm_vga_has_spice(pve_config_get(conf, NULL, "vga"))) {
		int fd = pve_listen_local_port(KVM_SPICE_PORT_MIN, KVM_SPICE_PORT_MAX, &spice_port,
					       NULL);
		if (fd >= 0)
			close(fd);
	}
	_cleanup_free_ char *pve_dir =
		xasprintf("%s%setc/pve", c->root, endswith(c->root, "/") ? "" : "/");
	kvm_cmdline_info info = {
		.vmid = vmid,
		.run_dir = rundir,
		.qemu = QEMU_BINARY,
		.kvm = kvm_config_bool(conf, NULL, "kvm", verdict && streq(verdict, "ok")),
		.allow_args = true,
		.ovmf_code = code,
		.resolve = resolve,
		.bridge_exists = bridge_exists,
		.ud = &x,
		.spice_port = spice_port,
		.pve_dir = pve_dir,
		.node = node,
	};
	char **argv = NULL;
	if (kvm_cmdline_build(conf, schema, &info, &argv, &err) < 0) {
		fprintf(stderr, "%s: %s%s%s\n", program_invocation_short_name,
			err->param ? err->param : "", err->param ? ": " : "", err->message);
		return PVECTL_EXIT_FAIL;
	}
	if (pretty) {
		/* qm showcmd --pretty: one option and its value per line */
		for (char **a = argv; *a; a++) {
			char *one[3] = { *a, NULL, NULL };
			if (a != argv && (*a)[0] == '-' && a[1] && a[1][0] != '-')
				one[1] = *++a;
			_cleanup_free_ char *q = kvm_cmdline_quote(one);
			printf("%s%s\n", q, a[1] ? " \\" : "");
		}
	} else {
		_cleanup_free_ char *line = kvm_cmdline_quote(argv);
		printf("%s\n", line);
	}
	strv_free(argv);
	return PVECTL_EXIT_OK;
}

int pvectl_cmd_vm(pvectl *c, const char *const *words, size_t n_words, const pvectl_opt *opts,
		  size_t n_opts)
{
	bool pretty = false;
	for (size_t i = 0; i < n_opts; i++) {
		if (streq(opts[i].name, "pretty") &&
		    (!opts[i].value || streq(opts[i].value, "1"))) {
			pretty = true;
			continue;
		}
		fprintf(stderr, "%s: vm: unknown option '--%s'\n", program_invocation_short_name,
			opts[i].name);
		return PVECTL_EXIT_USAGE;
	}
	if (n_words == 2 && streq(words[0], "showcmd"))
		return showcmd(c, words[1], pretty);
	fprintf(stderr, "usage: pvectl vm showcmd <vmid> [--pretty]\n");
	return PVECTL_EXIT_USAGE;
}

/* ---- qm ---- */

/* qm's verbs that are one API call each: the pvesh verb, the path below /nodes/{node}/qemu and the
 * positional words after the VM ID, in qm's order (qm.pm's arg_param). A word whose name is in the path
 * as "{name}" goes there; the others become --name value. */
static const struct qm_call {
	const char *verb;
	const char *pvesh; /* get, create, set, delete */
	const char *path; /* "": the qemu list itself (create); else appended after the VM ID */
	const char *words[2];
} qm_calls[] = {
	{ "create", "create", "", { NULL } },
	{ "destroy", "delete", "/", { NULL } },
	{ "set", "set", "/config", { NULL } },
	{ "start", "create", "/status/start", { NULL } },
	{ "stop", "create", "/status/stop", { NULL } },
	{ "shutdown", "create", "/status/shutdown", { NULL } },
	{ "reboot", "create", "/status/reboot", { NULL } },
	{ "reset", "create", "/status/reset", { NULL } },
	{ "suspend", "create", "/status/suspend", { NULL } },
	{ "resume", "create", "/status/resume", { NULL } },
	{ "snapshot", "create", "/snapshot", { "snapname" } },
	{ "delsnapshot", "delete", "/snapshot/{snapname}", { "snapname" } },
	{ "rollback", "create", "/snapshot/{snapname}/rollback", { "snapname" } },
	{ "clone", "create", "/clone", { "newid" } },
	{ "template", "create", "/template", { NULL } },
	{ "sendkey", "set", "/sendkey", { "key" } },
	{ "disk move", "create", "/move_disk", { "disk", "storage" } },
	{ "disk resize", "set", "/resize", { "disk", "size" } },
	{ "disk unlink", "set", "/unlink", { NULL } },
	{ "cloudinit update", "set", "/cloudinit", { NULL } },
	{ "guest passwd", "create", "/agent/set-user-password", { "username" } },
};

/* qm's old names, as qm.pm keeps them */
static const char *const qm_aliases[][2] = {
	{ "move-disk", "disk move" }, { "move_disk", "disk move" }, { "resize", "disk resize" },
	{ "unlink", "disk unlink" },  { "agent", "guest cmd" },
};

static void qm_usage(FILE *f)
{
	fputs("USAGE: qm <command> [ARGS] [OPTIONS]\n"
	      "  qm list [--full]\n"
	      "  qm create <vmid> [OPTIONS]      qm destroy <vmid> [--purge]\n"
	      "  qm config <vmid> [--current]    qm set <vmid> [OPTIONS]\n"
	      "  qm pending <vmid>               qm status <vmid> [--verbose]\n"
	      "  qm start|stop|shutdown|reboot|reset|suspend|resume <vmid> [OPTIONS]\n"
	      "  qm showcmd <vmid> [--pretty]\n"
	      "  qm snapshot <vmid> <snapname> [OPTIONS]   qm listsnapshot <vmid>\n"
	      "  qm rollback <vmid> <snapname> [--start]   qm delsnapshot <vmid> <snapname> [--force]\n"
	      "  qm clone <vmid> <newid> [OPTIONS]         qm template <vmid> [--disk DISK]\n"
	      "  qm disk resize|resize <vmid> <disk> <size>\n"
	      "  qm disk move|move-disk <vmid> <disk> [<storage>] [OPTIONS]\n"
	      "  qm disk unlink|unlink <vmid> --idlist DISKS [--force]\n"
	      "  qm sendkey <vmid> <key>                   qm monitor <vmid>\n"
	      "  qm terminal <vmid> [--iface serialN] [--escape ^O]\n"
	      "  qm guest cmd <vmid> <command>             qm guest exec <vmid> [--] [<args>...]\n"
	      "  qm guest exec-status <vmid> <pid>         qm guest passwd <vmid> <username>\n"
	      "  qm cloudinit dump <vmid> user|network|meta\n"
	      "  qm cloudinit pending|update <vmid>\n"
	      "The options are the API's (see: pvesh usage /nodes/NODE/qemu/VMID/...).\n",
	      f);
}

/* The node pvectl speaks to (the local socket's node). */
static char *local_node(pvectl *c)
{
	_cleanup_json_ cJSON *nodes = get_data(c, "/nodes");
	const char *node = pve_json_str(cJSON_GetArrayItem(nodes, 0), "node");
	return node ? xstrdup(node) : NULL;
}

/* One call with the given parameters (taken; NULL for none): 0 and *ret_data (the answer's data,
 * taken, NULL when it was null), or -1 with the API's message printed as qm prints it. */
static int call_with(pvectl *c, const char *method, const char *path, cJSON *params,
		     cJSON **ret_data)
{
	_cleanup_json_ cJSON *p = params ? params : cJSON_CreateObject();
	pve_client_response resp = { 0 };
	_cleanup_error_ pve_error *err = NULL;
	*ret_data = NULL;
	if (pvectl_call(c, method, path, p, &resp, &err) < 0) {
		fprintf(stderr, "%s\n", err->message);
		return -1;
	}
	if (resp.status == 200) {
		*ret_data = cJSON_DetachItemFromObjectCaseSensitive(resp.body, "data");
		if (cJSON_IsNull(*ret_data)) {
			cJSON_Delete(*ret_data);
			*ret_data = NULL;
		}
		pve_client_response_clear(&resp);
		return 0;
	}
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(resp.body, "message");
	const char *msg = cJSON_IsString(m) ? m->valuestring : "";
	if (!*msg)
		msg = resp.reason ? resp.reason : "failed";
	size_t len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		len--;
	fprintf(stderr, "%.*s\n", (int)len, msg);
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(resp.body, "errors");
	const cJSON *e;
	cJSON_ArrayForEach (e, errs)
		if (cJSON_IsString(e))
			fprintf(stderr, "%s: %s\n", e->string, e->valuestring);
	pve_client_response_clear(&resp);
	return -1;
}

/* A GET with the given string parameters (NULL-terminated name, value pairs). */
static cJSON *get_with(pvectl *c, const char *path, const char *const *kv)
{
	_cleanup_json_ cJSON *params = cJSON_CreateObject();
	for (; kv && kv[0]; kv += 2)
		cJSON_AddStringToObject(params, kv[0], kv[1]);
	pve_client_response resp = { 0 };
	_cleanup_error_ pve_error *err = NULL;
	if (pvectl_call(c, "GET", path, params, &resp, &err) < 0) {
		fprintf(stderr, "%s\n", err->message);
		return NULL;
	}
	cJSON *data = resp.status == 200 ?
			      cJSON_DetachItemFromObjectCaseSensitive(resp.body, "data") :
			      NULL;
	if (!data) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(resp.body, "message");
		const char *msg = cJSON_IsString(m) ? m->valuestring : "";
		if (!*msg)
			msg = resp.reason ? resp.reason : "failed";
		size_t len = strlen(msg);
		while (len && msg[len - 1] == '\n')
			len--;
		fprintf(stderr, "%.*s\n", (int)len, msg);
	}
	pve_client_response_clear(&resp);
	return data;
}

static double json_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (cJSON_IsNumber(v))
		return v->valuedouble;
	return cJSON_IsString(v) ? strtod(v->valuestring, NULL) : 0;
}

static bool truthy_json(const cJSON *v)
{
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v);
	if (cJSON_IsNumber(v))
		return v->valuedouble != 0;
	return cJSON_IsString(v) && v->valuestring[0] && !streq(v->valuestring, "0");
}

/* Perl's "$v" of a JSON value (JSON's booleans as 1 and 0). */
static char *perl_text(const cJSON *v)
{
	if (cJSON_IsBool(v))
		return xstrdup(cJSON_IsTrue(v) ? "1" : "0");
	return pvectl_value_text(v);
}

/* PVE::Tools::encode_text: control and high-bit bytes and ':' as %XX, as qm prints a description. */
static char *encode_text(const char *s)
{
	pve_buf b = { 0 };
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == ':')
			pve_buf_printf(&b, "%%%02X", *p);
		else
			pve_buf_append(&b, p, 1);
	}
	if (!b.len)
		pve_buf_puts(&b, "");
	return pve_buf_steal(&b);
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* An object's members sorted by name (borrowed). */
static const cJSON **sorted_members(const cJSON *o, size_t *ret_n)
{
	size_t n = (size_t)cJSON_GetArraySize(o), k = 0;
	const cJSON **items = xcalloc(n + 1, sizeof(*items));
	const cJSON *it;
	cJSON_ArrayForEach (it, o)
		items[k++] = it;
	qsort(items, k, sizeof(*items), cmp_key);
	*ret_n = k;
	return items;
}

static int cmp_vmid(const void *a, const void *b)
{
	double x = json_num(*(const cJSON *const *)a, "vmid");
	double y = json_num(*(const cJSON *const *)b, "vmid");
	return x < y ? -1 : x > y;
}

static int qm_list(pvectl *c, const char *node, bool full)
{
	_cleanup_free_ char *path = xasprintf("/nodes/%s/qemu", node);
	static const char *const with_full[] = { "full", "1", NULL };
	_cleanup_json_ cJSON *list = get_with(c, path, full ? with_full : NULL);
	if (!list)
		return PVECTL_EXIT_FAIL;
	size_t n = (size_t)cJSON_GetArraySize(list), k = 0;
	if (n == 0)
		return PVECTL_EXIT_OK;
	_cleanup_free_ const cJSON **vms = xcalloc(n, sizeof(*vms));
	const cJSON *it;
	cJSON_ArrayForEach (it, list)
		vms[k++] = it;
	qsort(vms, k, sizeof(*vms), cmp_vmid);
	printf("%10s %-20s %-10s %-10s %12s %-10s\n", "VMID", "NAME", "STATUS", "MEM(MB)",
	       "BOOTDISK(GB)", "PID");
	for (size_t i = 0; i < k; i++) {
		const char *name = pve_json_str(vms[i], "name");
		const char *st = pve_json_str(vms[i], "qmpstatus");
		if (!st || !*st)
			st = pve_json_str(vms[i], "status");
		_cleanup_free_ char *vmid =
			perl_text(cJSON_GetObjectItemCaseSensitive(vms[i], "vmid"));
		cJSON *mem = cJSON_CreateNumber(json_num(vms[i], "maxmem") / (1024 * 1024));
		cJSON *pid = cJSON_CreateNumber(json_num(vms[i], "pid"));
		_cleanup_free_ char *mem_text = perl_text(mem), *pid_text = perl_text(pid);
		cJSON_Delete(mem);
		cJSON_Delete(pid);
		printf("%10s %-20s %-10s %-10s %12.2f %-10s\n", vmid, name ? name : "",
		       st ? st : "", mem_text, json_num(vms[i], "maxdisk") / (1024.0 * 1024 * 1024),
		       pid_text);
	}
	return PVECTL_EXIT_OK;
}

static int qm_config(pvectl *c, const char *base, bool current, const char *snapshot)
{
	_cleanup_free_ char *path = xasprintf("%s/config", base);
	const char *kv[5] = { NULL };
	size_t k = 0;
	if (current)
		kv[k++] = "current", kv[k++] = "1";
	if (snapshot)
		kv[k++] = "snapshot", kv[k++] = snapshot;
	_cleanup_json_ cJSON *conf = get_with(c, path, kv);
	if (!conf)
		return PVECTL_EXIT_FAIL;
	size_t n;
	_cleanup_free_ const cJSON **items = sorted_members(conf, &n);
	for (size_t i = 0; i < n; i++) {
		if (streq(items[i]->string, "digest"))
			continue;
		_cleanup_free_ char *v = perl_text(items[i]);
		if (streq(items[i]->string, "description")) {
			char *e = encode_text(v);
			free(v);
			v = e;
		}
		printf("%s: %s\n", items[i]->string, v);
	}
	return PVECTL_EXIT_OK;
}

/* qm's print_recursive_hash, for status --verbose. */
static void print_recursive(const char *prefix, const cJSON *v, const char *key)
{
	_cleanup_free_ char *deeper = xasprintf("\t%s", prefix);
	if (cJSON_IsObject(v)) {
		if (key)
			printf("%s%s:\n", prefix, key);
		size_t n;
		_cleanup_free_ const cJSON **items = sorted_members(v, &n);
		for (size_t i = 0; i < n; i++)
			print_recursive(deeper, items[i], items[i]->string);
	} else if (cJSON_IsArray(v)) {
		if (!key)
			return;
		printf("%s%s:\n", prefix, key);
		const cJSON *it;
		cJSON_ArrayForEach (it, v)
			print_recursive(deeper, it, NULL);
	} else if (v && !cJSON_IsNull(v)) {
		_cleanup_free_ char *t = perl_text(v);
		if (key)
			printf("%s%s: %s\n", prefix, key, t);
		else
			printf("%s%s\n", prefix, t);
	}
}

static int qm_status(pvectl *c, const char *base, bool verbose)
{
	_cleanup_free_ char *path = xasprintf("%s/status/current", base);
	_cleanup_json_ cJSON *st = get_with(c, path, NULL);
	if (!st)
		return PVECTL_EXIT_FAIL;
	if (!verbose) {
		const char *s = pve_json_str(st, "qmpstatus");
		if (!s || !*s)
			s = pve_json_str(st, "status");
		printf("status: %s\n", s && *s ? s : "unknown");
		return PVECTL_EXIT_OK;
	}
	size_t n;
	_cleanup_free_ const cJSON **items = sorted_members(st, &n);
	for (size_t i = 0; i < n; i++)
		if (!streq(items[i]->string, "cpu") && !streq(items[i]->string, "relcpu"))
			print_recursive("", items[i], items[i]->string);
	return PVECTL_EXIT_OK;
}

static int cmp_pending(const void *a, const void *b)
{
	const char *x = pve_json_str(*(const cJSON *const *)a, "key");
	const char *y = pve_json_str(*(const cJSON *const *)b, "key");
	return strcmp(x ? x : "", y ? y : "");
}

/* PVE::GuestHelpers::format_pending: cur/new/del lines. */
static int qm_pending(pvectl *c, const char *base, const char *sub)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", base, sub);
	_cleanup_json_ cJSON *list = get_with(c, path, NULL);
	if (!list)
		return PVECTL_EXIT_FAIL;
	size_t n = (size_t)cJSON_GetArraySize(list), k = 0;
	_cleanup_free_ const cJSON **items = xcalloc(n + 1, sizeof(*items));
	const cJSON *it;
	cJSON_ArrayForEach (it, list)
		items[k++] = it;
	qsort(items, k, sizeof(*items), cmp_pending);
	for (size_t i = 0; i < k; i++) {
		const char *key = pve_json_str(items[i], "key");
		if (!key || streq(key, "digest"))
			continue;
		const cJSON *vj = cJSON_GetObjectItemCaseSensitive(items[i], "value");
		const cJSON *pj = cJSON_GetObjectItemCaseSensitive(items[i], "pending");
		bool has_v = vj && !cJSON_IsNull(vj), has_p = pj && !cJSON_IsNull(pj);
		_cleanup_free_ char *v = has_v ? perl_text(vj) : NULL;
		_cleanup_free_ char *p = has_p ? perl_text(pj) : NULL;
		if (streq(key, "description")) {
			char *e = v ? encode_text(v) : NULL;
			free(v);
			v = e;
			e = p ? encode_text(p) : NULL;
			free(p);
			p = e;
		}
		if (v) {
			if (truthy_json(cJSON_GetObjectItemCaseSensitive(items[i], "delete")))
				printf("del %s: %s\n", key, v);
			else
				printf("cur %s: %s\n", key, v);
			if (p && !truthy_json(cJSON_GetObjectItemCaseSensitive(items[i], "delete")))
				printf("new %s: %s\n", key, p);
		} else if (p) {
			printf("new %s: %s\n", key, p);
		}
	}
	return PVECTL_EXIT_OK;
}

/* ---- qm's verbs with their own output ---- */

typedef struct snap_node {
	const cJSON *e;
	const char *name;
	double snaptime;
	bool has_time;
} snap_node;

static int cmp_snaptime(const void *a, const void *b)
{
	const snap_node *x = *(const snap_node *const *)a, *y = *(const snap_node *const *)b;
	/* "current" (no snaptime) sorts last */
	if (!x->has_time)
		return y->has_time ? 1 : 0;
	if (!y->has_time)
		return -1;
	return x->snaptime < y->snaptime ? -1 : x->snaptime > y->snaptime;
}

/* The snapshot list has at most as many entries as the API answered; the depth of the tree is bounded by
 * it too, since every step goes to a child in a list without cycles (a parent's own entry is no child). */
static void snap_tree_print(snap_node *all, size_t n, size_t at, const char *prefix, size_t depth)
{
	const snap_node *e = &all[at];
	const char *d = pve_json_str(e->e, "description");
	if (!d || !*d)
		d = "no-description";
	size_t dlen = strcspn(d, "\n");
	char when[32] = "";
	if (e->has_time) {
		time_t t = (time_t)e->snaptime;
		struct tm tm;
		if (localtime_r(&t, &tm))
			strftime(when, sizeof(when), "%F %H:%M:%S", &tm);
	}
	int len = 30 - (int)strlen(prefix);
	if (len < 0)
		len = 0;
	printf("%s %-*s %-23s %.*s\n", prefix, len, e->name, when, (int)dlen, d);
	if (depth >= n)
		return;
	_cleanup_free_ snap_node **kids = xcalloc(n + 1, sizeof(*kids));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *parent = pve_json_str(all[i].e, "parent");
		if (i != at && parent && streq(parent, e->name))
			kids[k++] = &all[i];
	}
	qsort(kids, k, sizeof(*kids), cmp_snaptime);
	_cleanup_free_ char *sub = xasprintf(" %s", prefix);
	for (size_t i = 0; i < k; i++)
		snap_tree_print(all, n, (size_t)(kids[i] - all), sub, depth + 1);
}

/* qm listsnapshot: PVE::GuestHelpers::print_snapshot_tree (roots: no parent, or a parent not listed). */
static int qm_listsnapshot(pvectl *c, const char *base)
{
	_cleanup_free_ char *path = xasprintf("%s/snapshot", base);
	_cleanup_json_ cJSON *list = get_with(c, path, NULL);
	if (!list)
		return PVECTL_EXIT_FAIL;
	size_t n = (size_t)cJSON_GetArraySize(list), k = 0;
	_cleanup_free_ snap_node *all = xcalloc(n + 1, sizeof(*all));
	const cJSON *it;
	cJSON_ArrayForEach (it, list) {
		const char *name = pve_json_str(it, "name");
		if (!name)
			continue;
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "snaptime");
		all[k] = (snap_node){ .e = it,
				      .name = name,
				      .has_time = cJSON_IsNumber(t),
				      .snaptime = cJSON_IsNumber(t) ? t->valuedouble : 0 };
		k++;
	}
	_cleanup_free_ snap_node **roots = xcalloc(k + 1, sizeof(*roots));
	size_t r = 0;
	for (size_t i = 0; i < k; i++) {
		const char *parent = pve_json_str(all[i].e, "parent");
		bool listed = false;
		for (size_t j = 0; parent && j < k && !listed; j++)
			listed = j != i && streq(all[j].name, parent);
		if (!listed)
			roots[r++] = &all[i];
	}
	qsort(roots, r, sizeof(*roots), cmp_snaptime);
	for (size_t i = 0; i < r; i++)
		snap_tree_print(all, k, (size_t)(roots[i] - all), "`->", 0);
	return PVECTL_EXIT_OK;
}

/* qm's print_agent_result: data.result (or data) as a line when it is a scalar, nothing when it is
 * empty, else JSON as JSON::XS's pretty and canonical print it. */
static void print_agent_result(const cJSON *data)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(data, "result");
	if (!res)
		res = data;
	if (!res || cJSON_IsNull(res))
		return;
	if (cJSON_IsObject(res) || cJSON_IsArray(res)) {
		if (cJSON_IsObject(res) && !res->child)
			return;
		pve_buf b = { 0 };
		pvectl_json(&b, res, true);
		fputs(b.data ? b.data : "", stdout);
		pve_buf_free(&b);
		return;
	}
	_cleanup_free_ char *t = pvectl_value_text(res);
	size_t len = strlen(t);
	while (len && t[len - 1] == '\n')
		len--;
	if (t[strspn(t, " \t\r\n")] == '\0')
		return;
	printf("%.*s\n", (int)len, t);
}

/* The agent commands that are GETs in the API (Proxmox's Agent.pm); the others are POSTs. */
static bool agent_cmd_is_get(const char *cmd)
{
	static const char *const gets[] = {
		"get-fsinfo", "get-host-name", "get-memory-block-info", "get-memory-blocks",
		"get-osinfo", "get-time",      "get-timezone",		"get-users",
		"get-vcpus",  "info",	       "network-get-interfaces"
	};
	for (size_t i = 0; i < ELEMENTSOF(gets); i++)
		if (streq(gets[i], cmd))
			return true;
	return false;
}

static int qm_guest_cmd(pvectl *c, const char *base, const char *cmd)
{
	if (!cmd || !*cmd || strchr(cmd, '/')) {
		fprintf(stderr, "qm guest cmd: which command? (ping, info, get-osinfo, ...)\n");
		return PVECTL_EXIT_USAGE;
	}
	_cleanup_free_ char *path = xasprintf("%s/agent/%s", base, cmd);
	_cleanup_json_ cJSON *data = NULL;
	if (call_with(c, agent_cmd_is_get(cmd) ? "GET" : "POST", path, NULL, &data) < 0)
		return PVECTL_EXIT_FAIL;
	print_agent_result(data);
	return PVECTL_EXIT_OK;
}

/* qm guest exec VMID [--synchronous 0|1] [--timeout N] [--pass-stdin] [--] ARGS...: runs ARGS through
 * the agent and, synchronous, asks for its status each second until it exited or timeout seconds
 * passed (0: no limit), as qm's exec does; prints the last answer. */
static int qm_guest_exec(pvectl *c, const char *base, int argc, char **argv)
{
	bool sync = true, pass_stdin = false;
	long long timeout = 30;
	bool timeout_given = false;
	int i = 0;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (streq(a, "--")) {
			i++;
			break;
		}
		if (strncmp(a, "--", 2) != 0)
			break;
		const char *name = a + 2, *eq = strchr(name, '=');
		_cleanup_free_ char *nm = eq ? xstrndup(name, (size_t)(eq - name)) : xstrdup(name);
		const char *value = eq ? eq + 1 : NULL;
		if (streq(nm, "timeout")) {
			if (!value && i + 1 < argc)
				value = argv[++i];
			if (!value || pve_parse_int(value, 0, INT32_MAX, &timeout) < 0) {
				fprintf(stderr,
					"qm guest exec: --timeout: '%s' is no number of seconds\n",
					value ? value : "");
				return PVECTL_EXIT_USAGE;
			}
			timeout_given = true;
			continue;
		}
		bool on = true;
		if (!value && i + 1 < argc && pve_parse_bool(argv[i + 1], &on) == 0)
			i++;
		else if (value && pve_parse_bool(value, &on) < 0) {
			fprintf(stderr, "qm guest exec: --%s: '%s' is not a boolean\n", nm, value);
			return PVECTL_EXIT_USAGE;
		}
		if (streq(nm, "synchronous")) {
			sync = on;
		} else if (streq(nm, "pass-stdin")) {
			pass_stdin = on;
		} else {
			fprintf(stderr, "qm guest exec: unknown option '--%s'\n", nm);
			return PVECTL_EXIT_USAGE;
		}
	}
	if (timeout_given && !sync) {
		fprintf(stderr, "qm guest exec: --synchronous needs to be set for '--timeout'\n");
		return PVECTL_EXIT_USAGE;
	}
	if (i >= argc) {
		fprintf(stderr, "qm guest exec: no command given\n");
		return PVECTL_EXIT_USAGE;
	}
	cJSON *params = cJSON_CreateObject();
	cJSON *cmd = cJSON_AddArrayToObject(params, "command");
	for (; i < argc; i++)
		cJSON_AddItemToArray(cmd, cJSON_CreateString(argv[i]));
	if (pass_stdin) {
		/* qm reads stdin to its end and refuses more than 1 MiB */
		pve_buf in = { 0 };
		char chunk[65536];
		size_t got;
		while ((got = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
			if (in.len + got > (1u << 20)) {
				pve_buf_free(&in);
				cJSON_Delete(params);
				fprintf(stderr,
					"'input-data' (STDIN) is limited to 1 MiB, aborting\n");
				return PVECTL_EXIT_FAIL;
			}
			pve_buf_append(&in, chunk, got);
		}
		cJSON_AddStringToObject(params, "input-data", in.data ? in.data : "");
		pve_buf_free(&in);
	}
	_cleanup_free_ char *path = xasprintf("%s/agent/exec", base);
	_cleanup_json_ cJSON *res = NULL;
	if (call_with(c, "POST", path, params, &res) < 0)
		return PVECTL_EXIT_FAIL;
	if (sync) {
		const cJSON *pid = cJSON_GetObjectItemCaseSensitive(res, "pid");
		if (!cJSON_IsNumber(pid)) {
			fprintf(stderr, "qm guest exec: the agent answered no pid\n");
			return PVECTL_EXIT_FAIL;
		}
		_cleanup_free_ char *status_path = xasprintf("%s/agent/exec-status", base);
		_cleanup_free_ char *pid_text = xasprintf("%lld", (long long)pid->valuedouble);
		time_t start = time(NULL);
		bool exited = false;
		while (timeout == 0 || time(NULL) - start < timeout) {
			cJSON *q = cJSON_CreateObject();
			cJSON_AddStringToObject(q, "pid", pid_text);
			_cleanup_json_ cJSON *out = NULL;
			if (call_with(c, "GET", status_path, q, &out) < 0)
				return PVECTL_EXIT_FAIL;
			if (truthy_json(cJSON_GetObjectItemCaseSensitive(out, "exited"))) {
				cJSON_Delete(res);
				res = TAKE_PTR(out);
				exited = true;
				break;
			}
			sleep(1);
		}
		if (!exited)
			fprintf(stderr, "timeout reached, returning pid\n");
	}
	print_agent_result(res);
	return PVECTL_EXIT_OK;
}

/* qm monitor: the HMP prompt. Lines from stdin, each POSTed to .../monitor and its answer printed;
 * "q" or "quit" or the end of stdin ends it. A line longer than the buffer is refused, not split. */
static int qm_monitor(pvectl *c, const char *base, long long vmid)
{
	_cleanup_free_ char *path = xasprintf("%s/monitor", base);
	_cleanup_json_ cJSON *conf = NULL;
	_cleanup_free_ char *conf_path = xasprintf("%s/config", base);
	if (call_with(c, "GET", conf_path, NULL, &conf) < 0) /* the VM exists */
		return PVECTL_EXIT_FAIL;
	printf("Entering QEMU Monitor for VM %lld - type 'help' for help\n", vmid);
	bool tty = isatty(STDIN_FILENO);
	char line[4096];
	for (;;) {
		if (tty)
			fputs("qm> ", stdout);
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			break;
		size_t len = strlen(line);
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			int ch;
			while ((ch = getchar()) != EOF && ch != '\n')
				;
			printf("ERROR: the command is longer than %zu bytes\n", sizeof(line) - 2);
			continue;
		}
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		const char *cmd = line + strspn(line, " \t");
		if (!*cmd)
			continue;
		if (streq(cmd, "q") || streq(cmd, "quit") || strncmp(cmd, "q ", 2) == 0 ||
		    strncmp(cmd, "quit ", 5) == 0)
			break;
		cJSON *params = cJSON_CreateObject();
		cJSON_AddStringToObject(params, "command", cmd);
		_cleanup_json_ cJSON *out = NULL;
		fflush(stdout);
		if (call_with(c, "POST", path, params, &out) < 0)
			continue;
		if (cJSON_IsString(out))
			fputs(out->valuestring, stdout);
	}
	if (tty)
		putchar('\n');
	return PVECTL_EXIT_OK;
}

/* qm terminal VMID [--iface serialN] [--escape ^O|0xNN|N]: as qm's, which runs socat between the
 * serial socket and the terminal: the VM's serial socket on this node's root, stdin to it (raw when
 * it is a terminal), its output to stdout; the escape character typed (Ctrl+O; 0: none) ends it,
 * as the end of either side does (after stdin's end, the guest's answer is read for half a second,
 * as socat's -t). Only on the node: the socket is a local file. */
static int qm_terminal(pvectl *c, const char *base, long long vmid, int argc, char **argv)
{
	const char *iface = NULL, *escape_text = "^O";
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *name = strncmp(a, "--", 2) == 0 ? a + 2 : NULL, *eq = NULL;
		if (name)
			eq = strchr(name, '=');
		_cleanup_free_ char *nm = !name ? NULL :
					  eq	? xstrndup(name, (size_t)(eq - name)) :
						  xstrdup(name);
		const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
		if (!nm || !value || (!streq(nm, "iface") && !streq(nm, "escape"))) {
			fprintf(stderr, "qm terminal: unexpected argument '%s'\n", a);
			return PVECTL_EXIT_USAGE;
		}
		if (!eq)
			i++;
		if (streq(nm, "iface"))
			iface = value;
		else
			escape_text = value;
	}
	long long escape = -1;
	if (escape_text[0] == '^' && escape_text[1] >= 0x40 && escape_text[1] <= 0x7a &&
	    !escape_text[2])
		escape = escape_text[1] & 0x1f;
	else if ((strncmp(escape_text, "0x", 2) == 0 || strncmp(escape_text, "0X", 2) == 0) &&
		 escape_text[2] &&
		 strspn(escape_text + 2, "0123456789abcdefABCDEF") == strlen(escape_text + 2) &&
		 strlen(escape_text) <= 4)
		escape = strtol(escape_text + 2, NULL, 16);
	else if (pve_parse_int(escape_text, 0, 255, &escape) < 0)
		escape = -1;
	if (escape < 0 || escape > 255) {
		fprintf(stderr, "invalid escape character definition: %s\n", escape_text);
		return PVECTL_EXIT_USAGE;
	}
	if (c->url) {
		fprintf(stderr,
			"qm terminal runs on the node (without --url): the serial socket is "
			"a local file\n");
		return PVECTL_EXIT_USAGE;
	}
	_cleanup_free_ char *conf_path = xasprintf("%s/config", base);
	_cleanup_json_ cJSON *conf = NULL;
	if (call_with(c, "GET", conf_path, NULL, &conf) < 0)
		return PVECTL_EXIT_FAIL;
	static const char *const serials[] = { "serial0", "serial1", "serial2", "serial3" };
	if (iface) {
		bool known = false;
		for (size_t i = 0; i < ELEMENTSOF(serials); i++)
			known = known || streq(serials[i], iface);
		const char *v = pve_json_str(conf, iface);
		if (!known || !v) {
			fprintf(stderr, "serial interface '%s' is not configured\n", iface);
			return PVECTL_EXIT_FAIL;
		}
		if (!streq(v, "socket")) {
			fprintf(stderr, "wrong serial type on interface '%s'\n", iface);
			return PVECTL_EXIT_FAIL;
		}
	} else {
		for (size_t i = 0; i < ELEMENTSOF(serials) && !iface; i++) {
			const char *v = pve_json_str(conf, serials[i]);
			if (v && streq(v, "socket"))
				iface = serials[i];
		}
		if (!iface) {
			fprintf(stderr, "unable to find a serial interface\n");
			return PVECTL_EXIT_FAIL;
		}
	}
	_cleanup_free_ char *st_path = xasprintf("%s/status/current", base);
	_cleanup_json_ cJSON *st = NULL;
	if (call_with(c, "GET", st_path, NULL, &st) < 0)
		return PVECTL_EXIT_FAIL;
	const char *status = pve_json_str(st, "status");
	if (!status || !streq(status, "running")) {
		fprintf(stderr, "VM %lld not running\n", vmid);
		return PVECTL_EXIT_FAIL;
	}
	_cleanup_free_ char *sock_path = xasprintf("%s%srun/qemu-server/%lld.%s", c->root,
						   endswith(c->root, "/") ? "" : "/", vmid, iface);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "qm terminal: the socket path %s is too long\n", sock_path);
		return PVECTL_EXIT_FAIL;
	}
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "qm terminal: %s: %s\n", sock_path, strerror(errno));
		return PVECTL_EXIT_FAIL;
	}
	if (escape)
		printf("starting serial terminal on interface %s (press Ctrl+%c to exit)\n", iface,
		       (int)(escape + 0x40));
	else
		printf("starting serial terminal on interface %s\n", iface);
	fflush(stdout);
	struct termios saved;
	bool raw = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (raw) {
		struct termios t = saved;
		cfmakeraw(&t);
		tcsetattr(STDIN_FILENO, TCSANOW, &t);
	}
	bool in_open = true;
	int linger_ms = 500;
	char buf[4096];
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN } };
		int r = poll(p, 2, in_open ? -1 : linger_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (p[0].revents) {
			ssize_t got = read(fd, buf, sizeof(buf));
			if (got <= 0 || pve_write_all(STDOUT_FILENO, buf, (size_t)got) < 0)
				break;
		}
		if (p[1].revents) {
			ssize_t got = read(STDIN_FILENO, buf, sizeof(buf));
			if (got <= 0) {
				in_open = false;
				shutdown(fd, SHUT_WR);
				continue;
			}
			char *esc = escape ? memchr(buf, (int)escape, (size_t)got) : NULL;
			size_t len = esc ? (size_t)(esc - buf) : (size_t)got;
			if (len && pve_write_all(fd, buf, len) < 0)
				break;
			if (esc)
				break;
		}
	}
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return PVECTL_EXIT_OK;
}

static int qm_cloudinit_dump(pvectl *c, const char *base, const char *type)
{
	if (!type) {
		fprintf(stderr, "qm cloudinit dump: which one? user, network or meta\n");
		return PVECTL_EXIT_USAGE;
	}
	_cleanup_free_ char *path = xasprintf("%s/cloudinit/dump", base);
	cJSON *params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "type", type);
	_cleanup_json_ cJSON *out = NULL;
	if (call_with(c, "GET", path, params, &out) < 0)
		return PVECTL_EXIT_FAIL;
	printf("%s\n", cJSON_IsString(out) ? out->valuestring : "");
	return PVECTL_EXIT_OK;
}

/* qm's own options for the listings: --name or --name=value or --name value (value options only). */
typedef struct qm_opts {
	bool full, current, verbose;
	const char *snapshot;
} qm_opts;

static int qm_parse_opts(const char *verb, int argc, char **argv, qm_opts *o)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-') {
			fprintf(stderr, "qm %s: unexpected argument '%s'\n", verb, a);
			return PVECTL_EXIT_USAGE;
		}
		const char *name = a + (a[1] == '-' ? 2 : 1);
		const char *eq = strchr(name, '=');
		_cleanup_free_ char *nm = eq ? xstrndup(name, (size_t)(eq - name)) : xstrdup(name);
		const char *value = eq ? eq + 1 : NULL;
		bool on = true;
		if (streq(nm, "snapshot")) {
			if (!value && i + 1 < argc)
				value = argv[++i];
			if (!value) {
				fprintf(stderr, "qm %s: --snapshot needs a name\n", verb);
				return PVECTL_EXIT_USAGE;
			}
			o->snapshot = value;
			continue;
		}
		if (!value && i + 1 < argc && pve_parse_bool(argv[i + 1], &on) == 0)
			i++;
		else if (value && pve_parse_bool(value, &on) < 0) {
			fprintf(stderr, "qm %s: --%s: '%s' is not a boolean\n", verb, nm, value);
			return PVECTL_EXIT_USAGE;
		}
		if (streq(nm, "full") && streq(verb, "list"))
			o->full = on;
		else if (streq(nm, "current") && streq(verb, "config"))
			o->current = on;
		else if (streq(nm, "verbose") && streq(verb, "status"))
			o->verbose = on;
		else {
			fprintf(stderr, "qm %s: unknown option '--%s'\n", verb, nm);
			return PVECTL_EXIT_USAGE;
		}
	}
	return 0;
}

int pvectl_qm(pvectl *c, int argc, char **argv)
{
	if (argc < 2 || streq(argv[1], "help") || streq(argv[1], "--help")) {
		qm_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? PVECTL_EXIT_USAGE : PVECTL_EXIT_OK;
	}
	if (streq(argv[1], "showcmd")) {
		_cleanup_free_ char **v = xcalloc((size_t)argc + 2, sizeof(char *));
		v[0] = argv[0];
		v[1] = (char *)"vm";
		for (int i = 1; i < argc; i++)
			v[i + 1] = argv[i];
		return pvectl_run(c, argc + 1, v);
	}
	/* the verb: one word, or a group and its word (disk move, guest exec, cloudinit dump) */
	_cleanup_free_ char *verb = NULL;
	int at = 2; /* argv[at]: the VM ID */
	for (size_t i = 0; i < ELEMENTSOF(qm_aliases) && !verb; i++)
		if (streq(argv[1], qm_aliases[i][0]))
			verb = xstrdup(qm_aliases[i][1]);
	if (!verb &&
	    (streq(argv[1], "disk") || streq(argv[1], "guest") || streq(argv[1], "cloudinit"))) {
		if (argc < 3) {
			fprintf(stderr, "qm %s: which command?\n", argv[1]);
			return PVECTL_EXIT_USAGE;
		}
		verb = xasprintf("%s %s", argv[1], argv[2]);
		at = 3;
	}
	if (!verb)
		verb = xstrdup(argv[1]);
	static const char *const own[] = { "terminal",	     "list",
					   "config",	     "status",
					   "pending",	     "listsnapshot",
					   "monitor",	     "guest cmd",
					   "guest exec",     "guest exec-status",
					   "cloudinit dump", "cloudinit pending" };
	bool listing = false;
	for (size_t i = 0; i < ELEMENTSOF(own); i++)
		listing = listing || streq(own[i], verb);
	const struct qm_call *call = NULL;
	for (size_t i = 0; i < ELEMENTSOF(qm_calls); i++)
		if (streq(qm_calls[i].verb, verb))
			call = &qm_calls[i];
	/* qm's verbs pved's qm does not serve: said so, not taken for a typing mistake */
	static const char *const unserved[] = {
		"vncproxy",    "wait",	      "unlock",	   "migrate", "remote-migrate",
		"importdisk",  "disk import", "importovf", "import",  "rescan",
		"disk rescan", "cleanup",     "mtunnel",   "nbdstop", "enroll-efi-keys"
	};
	for (size_t i = 0; i < ELEMENTSOF(unserved); i++)
		if (streq(unserved[i], verb)) {
			fprintf(stderr, "qm %s: not served by pved's qm yet; nothing was done\n",
				verb);
			return PVECTL_EXIT_FAIL;
		}
	if (!listing && !call) {
		fprintf(stderr,
			"qm: unknown command '%s' (pved serves: list, create, destroy, config, set, "
			"pending, status, start, stop, shutdown, reboot, reset, suspend, resume, "
			"showcmd, terminal, snapshot, listsnapshot, rollback, delsnapshot, clone, template, "
			"resize, move-disk, unlink, disk move|resize|unlink, sendkey, monitor, guest "
			"cmd|exec|exec-status|passwd, cloudinit dump|pending|update)\n",
			verb);
		return PVECTL_EXIT_USAGE;
	}
	int first_opt = at;
	long long vmid = 0;
	if (!streq(verb, "list")) {
		if (argc <= at || pve_parse_int(argv[at], PVE_VMID_MIN, PVE_VMID_MAX, &vmid) < 0) {
			fprintf(stderr, "qm %s: '%s' is no VM ID\n", verb,
				argc <= at ? "" : argv[at]);
			return PVECTL_EXIT_USAGE;
		}
		first_opt = at + 1;
	}
	_cleanup_free_ char *node = local_node(c);
	if (!node)
		return PVECTL_EXIT_FAIL;
	_cleanup_free_ char *base = xasprintf("/nodes/%s/qemu/%lld", node, vmid);
	const char *word = first_opt < argc && argv[first_opt][0] != '-' ? argv[first_opt] : NULL;
	if (streq(verb, "listsnapshot"))
		return qm_listsnapshot(c, base);
	if (streq(verb, "monitor"))
		return qm_monitor(c, base, vmid);
	if (streq(verb, "terminal"))
		return qm_terminal(c, base, vmid, argc - first_opt, argv + first_opt);
	if (streq(verb, "guest cmd"))
		return qm_guest_cmd(c, base, word);
	if (streq(verb, "guest exec"))
		return qm_guest_exec(c, base, argc - first_opt, argv + first_opt);
	if (streq(verb, "guest exec-status")) {
		long long pid;
		if (!word || pve_parse_int(word, 0, INT32_MAX, &pid) < 0) {
			fprintf(stderr, "qm guest exec-status: '%s' is no pid\n", word ? word : "");
			return PVECTL_EXIT_USAGE;
		}
		_cleanup_free_ char *path = xasprintf("%s/agent/exec-status", base);
		cJSON *params = cJSON_CreateObject();
		cJSON_AddStringToObject(params, "pid", word);
		_cleanup_json_ cJSON *out = NULL;
		if (call_with(c, "GET", path, params, &out) < 0)
			return PVECTL_EXIT_FAIL;
		print_agent_result(out);
		return PVECTL_EXIT_OK;
	}
	if (streq(verb, "cloudinit dump"))
		return qm_cloudinit_dump(c, base, word);
	if (streq(verb, "cloudinit pending"))
		return qm_pending(c, base, "cloudinit");
	if (listing) {
		qm_opts o = { 0 };
		int ex = qm_parse_opts(verb, argc - first_opt, argv + first_opt, &o);
		if (ex)
			return ex;
		if (streq(verb, "list"))
			return qm_list(c, node, o.full);
		if (streq(verb, "config"))
			return qm_config(c, base, o.current, o.snapshot);
		if (streq(verb, "status"))
			return qm_status(c, base, o.verbose);
		return qm_pending(c, base, "pending");
	}
	/* one API call, as pvesh makes it: its parameters checked against the route, a task followed.
	 * The positional words come first after the VM ID, as qm takes them; a missing one is left to
	 * the API, which names it. */
	pve_buf sub = { 0 };
	pve_buf_puts(&sub, "/");
	pve_buf_puts(&sub, call->path); /* after a '/', so that it is never empty */
	_cleanup_free_ char **v = xcalloc((size_t)argc + 8, sizeof(char *));
	_cleanup_free_ char *opt0 = NULL, *opt1 = NULL;
	int n = 0;
	v[n++] = argv[0];
	v[n++] = (char *)call->pvesh;
	v[n++] = NULL; /* the path, below */
	for (size_t w = 0; w < ELEMENTSOF(call->words) && call->words[w]; w++) {
		if (first_opt >= argc || strncmp(argv[first_opt], "--", 2) == 0)
			break;
		const char *value = argv[first_opt++];
		_cleanup_free_ char *brace = xasprintf("{%s}", call->words[w]);
		char *hole = strstr(sub.data, brace);
		if (hole) {
			if (strchr(value, '/') || streq(value, ".") || streq(value, "..")) {
				pve_buf_free(&sub);
				fprintf(stderr, "qm %s: '%s' is no %s\n", verb, value,
					call->words[w]);
				return PVECTL_EXIT_USAGE;
			}
			_cleanup_free_ char *rest = xstrdup(hole + strlen(brace));
			sub.len = (size_t)(hole - sub.data);
			sub.data[sub.len] = '\0';
			pve_buf_puts(&sub, value);
			pve_buf_puts(&sub, rest);
		} else {
			char *opt = xasprintf("--%s", call->words[w]);
			if (w == 0)
				opt0 = opt;
			else
				opt1 = opt;
			v[n++] = opt;
			v[n++] = (char *)value;
		}
	}
	if (strstr(sub.data, "{")) {
		fprintf(stderr, "qm %s: the %s is missing\n", verb, call->words[0]);
		pve_buf_free(&sub);
		return PVECTL_EXIT_USAGE;
	}
	_cleanup_free_ char *path =
		*call->path ? xasprintf("%s%s", base, streq(sub.data, "//") ? "" : sub.data + 1) :
			      xasprintf("/nodes/%s/qemu", node);
	pve_buf_free(&sub);
	v[2] = path;
	_cleanup_free_ char *vmid_text = xasprintf("%lld", vmid);
	if (!*call->path) {
		v[n++] = (char *)"--vmid";
		v[n++] = vmid_text;
	}
	for (int i = first_opt; i < argc; i++)
		v[n++] = argv[i];
	return pvectl_run(c, n, v);
}

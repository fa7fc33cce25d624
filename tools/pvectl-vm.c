/* pvectl vm: qm's verbs. showcmd prints the QEMU command line a start of the VM would run, computed here
 * on the node as qm showcmd does: the config read through the config store, volumes resolved through
 * storage/, the line built by kvm/ (the one place that builds it). */
#include <cjson/cJSON.h>

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
	pvectl_response resp = { 0 };
	_cleanup_error_ pve_error *err = NULL;
	if (pvectl_call(c, "GET", path, NULL, &resp, &err) < 0) {
		fprintf(stderr, "pvectl: %s\n", err->message);
		return NULL;
	}
	cJSON *data = resp.status == 200 ?
			      cJSON_DetachItemFromObjectCaseSensitive(resp.body, "data") :
			      NULL;
	if (!data)
		fprintf(stderr, "pvectl: GET %s: %d %s\n", path, resp.status,
			resp.reason ? resp.reason : "");
	pvectl_response_clear(&resp);
	return data;
}

static int showcmd(pvectl *c, const char *vmid_text, bool pretty)
{
	long long vmid;
	if (pve_parse_int(vmid_text, PVE_VMID_MIN, PVE_VMID_MAX, &vmid) < 0) {
		fprintf(stderr, "pvectl: vm showcmd: '%s' is no VM ID\n", vmid_text);
		return PVECTL_EXIT_USAGE;
	}
	if (c->url) {
		fprintf(stderr, "pvectl: vm showcmd runs on the node (without --url)\n");
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
		fprintf(stderr, "pvectl: %s\n", err->message);
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
		fprintf(stderr, "pvectl: %s\n", err->message);
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
	};
	char **argv = NULL;
	if (kvm_cmdline_build(conf, schema, &info, &argv, &err) < 0) {
		fprintf(stderr, "pvectl: %s%s%s\n", err->param ? err->param : "",
			err->param ? ": " : "", err->message);
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
		fprintf(stderr, "pvectl: vm: unknown option '--%s'\n", opts[i].name);
		return PVECTL_EXIT_USAGE;
	}
	if (n_words == 2 && streq(words[0], "showcmd"))
		return showcmd(c, words[1], pretty);
	fprintf(stderr, "usage: pvectl vm showcmd <vmid> [--pretty]\n");
	return PVECTL_EXIT_USAGE;
}

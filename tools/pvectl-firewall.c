/* pvectl firewall: `compile` prints the ruleset the node's .fw files and guests make, in nft syntax;
 * `status` compares it with what the kernel has (run it in the namespace the node applies to). Both
 * read the files through the config store on the node, as pved does. */
#include "cluster/cluster.h"
#include "fw/fw.h"
#include "tools/pvectl-internal.h"

static int src_read(void *ctx, const char *path, char **ret_text, size_t *ret_len, pve_error **err)
{
	return pve_store_read(ctx, path, ret_text, ret_len, NULL, err);
}

static int src_list(void *ctx, const char *dir, char ***ret_names, pve_error **err)
{
	return pve_store_list(ctx, dir, ret_names, err);
}

/* The node's name: --node, else the one directory under etc/pve/nodes. */
static char *node_name(pve_store *store, const pvectl_opt *opts, size_t n_opts, pve_error **err)
{
	for (size_t i = 0; i < n_opts; i++)
		if (streq(opts[i].name, "node") && opts[i].value)
			return xstrdup(opts[i].value);
	_cleanup_strv_free_ char **names = NULL;
	if (pve_store_list(store, "nodes", &names, err) < 0)
		return NULL;
	if (strv_length(names) != 1) {
		pve_error_set(err, EINVAL, "give the node's name with --node");
		return NULL;
	}
	return xstrdup(names[0]);
}

int pvectl_cmd_firewall(pvectl *c, const char *const *words, size_t n_words, const pvectl_opt *opts,
			size_t n_opts)
{
	const char *verb = n_words > 0 ? words[0] : NULL;
	if (!verb || (!streq(verb, "compile") && !streq(verb, "status")) || n_words > 1) {
		fprintf(stderr, "usage: pvectl firewall compile|status [--node NODE]\n");
		return PVECTL_EXIT_USAGE;
	}
	for (size_t i = 0; i < n_opts; i++)
		if (!streq(opts[i].name, "node")) {
			fprintf(stderr, "%s: firewall %s takes no parameter '--%s'\n",
				program_invocation_short_name, verb, opts[i].name);
			return PVECTL_EXIT_USAGE;
		}
	if (c->url) {
		fprintf(stderr, "%s: firewall %s runs on the node (without --url)\n",
			program_invocation_short_name, verb);
		return PVECTL_EXIT_USAGE;
	}
	_cleanup_error_ pve_error *err = NULL;
	pve_store *store = NULL;
	if (pve_store_open(c->root, &store, &err) < 0) {
		fprintf(stderr, "%s: %s\n", program_invocation_short_name, err->message);
		return PVECTL_EXIT_FAIL;
	}
	_cleanup_free_ char *node = node_name(store, opts, n_opts, &err);
	pve_fw_source src = { .read = src_read, .list = src_list, .ctx = store };
	_cleanup_fw_config_ pve_fw_config *conf = NULL;
	_cleanup_fw_ruleset_ pve_fw_ruleset *rs = NULL;
	int r = node ? pve_fw_config_load(&src, node, &conf, &err) : -EINVAL;
	if (r >= 0)
		r = pve_fw_compile(&conf->input, &rs, &err);
	pve_store_free(store);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", program_invocation_short_name, err->message);
		return PVECTL_EXIT_FAIL;
	}
	if (streq(verb, "compile")) {
		_cleanup_free_ char *text = pve_fw_ruleset_nft(rs);
		fputs(text, stdout);
		return PVECTL_EXIT_OK;
	}
	_cleanup_free_ char *report = NULL;
	r = pve_fw_status(rs, &report, &err);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", program_invocation_short_name, err->message);
		return PVECTL_EXIT_FAIL;
	}
	if (r == 0)
		printf("in sync: %zu guests\n", pve_fw_ruleset_guest_count(rs));
	else
		fputs(report, stdout);
	return r == 0 ? PVECTL_EXIT_OK : PVECTL_EXIT_FAIL;
}

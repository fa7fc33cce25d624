/* Fuzzes the corosync.conf parser: parse, print, parse again (the prints equal), JSON, and the
 * nodelist's edits on what parsed, whose result must parse again. */
#include "common/corosync-conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reparse(const char *text)
{
	pve_corosync_conf *c = NULL;
	if (pve_corosync_conf_parse(text, strlen(text), &c, NULL) < 0)
		abort();
	pve_corosync_conf_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *c = NULL;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_corosync_conf_parse((const char *)data, size, &c, &err) < 0) {
		if (!err || !err->message)
			abort();
		return 0;
	}
	_cleanup_free_ char *out = pve_corosync_conf_print(c);
	_cleanup_(pve_corosync_conf_freep) pve_corosync_conf *c2 = NULL;
	if (pve_corosync_conf_parse(out, strlen(out), &c2, NULL) < 0)
		abort();
	_cleanup_free_ char *out2 = pve_corosync_conf_print(c2);
	if (!streq(out, out2))
		abort();
	cJSON_Delete(pve_corosync_conf_to_json(c));
	cJSON_Delete(pve_corosync_conf_nodes(c));
	(void)pve_corosync_conf_version(c);
	(void)pve_corosync_conf_cluster_name(c);

	const char *const links[] = { "10.9.9.9", "", "10.9.9.10", NULL };
	if (pve_corosync_conf_add_node(c, "fuzznode", 0, -1, links, false, NULL) == 0) {
		_cleanup_free_ char *added = pve_corosync_conf_print(c);
		reparse(added);
	}
	if (pve_corosync_conf_del_node(c, "fuzznode", NULL, NULL) == 0) {
		_cleanup_free_ char *deleted = pve_corosync_conf_print(c);
		reparse(deleted);
	}
	return 0;
}

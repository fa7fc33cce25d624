/* Fuzzes the interfaces file: what parses prints back byte for byte, every interface describes, and
 * edits (a setting, an address, comments, a new and a removed interface) print a file that parses to
 * the same text again. */
#include <cjson/cJSON.h>

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reparse_same(const pve_net_config *c)
{
	_cleanup_free_ char *out = pve_net_config_print(c);
	pve_net_config *c2 = NULL;
	if (pve_net_config_parse(out, strlen(out), &c2, NULL) < 0)
		abort();
	_cleanup_free_ char *out2 = pve_net_config_print(c2);
	if (strcmp(out, out2) != 0)
		abort();
	pve_net_config_free(c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pve_net_config *c = NULL;
	pve_error *err = NULL;
	if (pve_net_config_parse((const char *)data, size, &c, &err) < 0) {
		if (!err || !err->message)
			abort();
		pve_error_free(err);
		return 0;
	}
	_cleanup_free_ char *out = pve_net_config_print(c);
	if (strlen(out) != size || memcmp(out, data, size) != 0)
		abort();
	_cleanup_strv_free_ char **names = pve_net_config_names(c);
	for (char **n = names; *n; n++) {
		cJSON *d = pve_net_iface_describe(c, *n, NULL, NULL);
		if (!d || !pve_json_str(d, "type"))
			abort();
		cJSON_Delete(d);
	}
	for (char **n = names; *n; n++) {
		pve_net_iface_set(c, *n, "mtu", "9000", NULL);
		pve_net_iface_set(c, *n, "address", "10.0.0.1/24", NULL);
		pve_net_iface_set(c, *n, "address6", "fd00::1/64", NULL);
		pve_net_iface_set(c, *n, "comments", "a\nb\n", NULL);
		pve_net_iface_set(c, *n, "bridge_ports", NULL, NULL);
		pve_net_iface_fix_methods(c, *n);
		reparse_same(c);
		pve_net_iface_set(c, *n, "address6", NULL, NULL);
		pve_net_iface_set_autostart(c, *n, true);
		reparse_same(c);
	}
	if (pve_net_iface_add(c, "fuzzbr0", true, NULL) == 0)
		pve_net_iface_set(c, "fuzzbr0", "bridge_ports", "none", NULL);
	reparse_same(c);
	for (char **n = names; *n; n++)
		pve_net_iface_remove(c, *n);
	reparse_same(c);
	pve_net_config_free(c);
	return 0;
}

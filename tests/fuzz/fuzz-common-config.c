/* Fuzzes the guest-config parser: parse, print, parse again; the second print must equal the first. */
#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pve_config *c = NULL;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_config_parse((const char *)data, size, &c, &err) < 0) {
		if (!err || !err->message)
			abort();
		return 0;
	}
	_cleanup_free_ char *out = pve_config_print(c);
	/* Edits must keep the file parseable. */
	_cleanup_strv_free_ char **secs = pve_config_sections(c);
	_cleanup_strv_free_ char **keys = pve_config_keys(c, NULL);
	for (char **k = keys; *k; k++)
		if (pve_config_get(c, NULL, *k) == NULL)
			abort();
	pve_config_free(c);

	pve_config *c2 = NULL;
	if (pve_config_parse(out, strlen(out), &c2, NULL) < 0)
		abort();
	_cleanup_free_ char *out2 = pve_config_print(c2);
	if (!streq(out, out2))
		abort();
	if (secs[0])
		pve_config_delete_section(c2, secs[0]);
	if (keys[0])
		pve_config_set(c2, NULL, keys[0], "fuzz");
	pve_config_set(c2, "fuzzsnap", "memory", "1");
	_cleanup_free_ char *out3 = pve_config_print(c2);
	pve_config_free(c2);
	pve_config *c3 = NULL;
	if (pve_config_parse(out3, strlen(out3), &c3, NULL) < 0)
		abort();
	pve_config_free(c3);
	return 0;
}

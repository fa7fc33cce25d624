/* Fuzzes the section-config parser: parse, print, parse again; the second print must equal the first. */
#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pve_sectioncfg *c = NULL;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_sectioncfg_parse((const char *)data, size, &c, &err) < 0) {
		if (!err || !err->message)
			abort();
		return 0;
	}
	_cleanup_free_ char *out = pve_sectioncfg_print(c);
	for (size_t i = 0; i < pve_sectioncfg_count(c); i++) {
		pve_section *s = pve_sectioncfg_nth(c, i);
		for (size_t j = 0; j < pve_section_count(s); j++)
			if (!pve_section_get(s, pve_section_key(s, j)))
				abort();
	}
	pve_sectioncfg_free(c);

	pve_sectioncfg *c2 = NULL;
	if (pve_sectioncfg_parse(out, strlen(out), &c2, NULL) < 0)
		abort();
	_cleanup_free_ char *out2 = pve_sectioncfg_print(c2);
	if (!streq(out, out2))
		abort();
	if (pve_sectioncfg_count(c2) > 0) {
		pve_section *s = pve_sectioncfg_nth(c2, 0);
		pve_section_set(s, "fuzz", "1");
		pve_sectioncfg_remove(
			c2, pve_section_id(pve_sectioncfg_nth(c2, pve_sectioncfg_count(c2) - 1)));
	}
	pve_sectioncfg_add(c2, "dir", "fuzz-new", NULL, NULL);
	_cleanup_free_ char *out3 = pve_sectioncfg_print(c2);
	pve_sectioncfg_free(c2);
	pve_sectioncfg *c3 = NULL;
	if (pve_sectioncfg_parse(out3, strlen(out3), &c3, NULL) < 0)
		abort();
	pve_sectioncfg_free(c3);
	return 0;
}

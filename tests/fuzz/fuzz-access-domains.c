/* Fuzz target: domains.cfg parsing and checking, printing and re-parsing (what is printed must parse and
 * print the same), the realm settings of every ldap and ad section and realm sync options. */
#include "access/access.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pve_error *err = NULL;
	pve_sectioncfg *c = NULL;
	if (pve_domains_parse((const char *)data, size, &c, &err) < 0) {
		pve_error_free(err);
		return 0;
	}
	char *out = pve_sectioncfg_print(c);
	pve_sectioncfg *c2 = NULL;
	if (pve_domains_parse(out, strlen(out), &c2, NULL) < 0)
		abort(); /* what we print we must read back */
	char *out2 = pve_sectioncfg_print(c2);
	if (strcmp(out, out2) != 0)
		abort();
	for (size_t i = 0; i < pve_sectioncfg_count(c); i++) {
		const pve_section *s = pve_sectioncfg_nth(c, i);
		if (!pve_domains_realm_type(c, pve_section_id(s)))
			abort();
		pve_ldap_config *l = NULL;
		if (pve_ldap_config_from_section(s, "pw", &l, NULL) == 0) {
			char *f = pve_ldap_filter_escape(l->user_attr);
			free(f);
			pve_ldap_config_free(l);
		}
		pve_realm_sync_opts o;
		(void)pve_realm_sync_opts_get(pve_section_get(s, "sync-defaults-options"), NULL,
					      NULL, -1, &o, NULL);
	}
	free(out);
	free(out2);
	pve_sectioncfg_free(c);
	pve_sectioncfg_free(c2);
	return 0;
}

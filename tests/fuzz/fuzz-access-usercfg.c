/* Fuzz target: user.cfg parsing, printing, re-parsing (the print must parse and print the same) and
 * compiling permissions. */
#include "access/access.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pve_error *err = NULL;
	pve_usercfg *c = NULL;
	if (pve_usercfg_parse((const char *)data, size, &c, &err) < 0) {
		pve_error_free(err);
		return 0;
	}
	char *out = pve_usercfg_print(c);
	pve_usercfg *c2 = NULL;
	if (pve_usercfg_parse(out, strlen(out), &c2, &err) < 0)
		abort(); /* what we print we must read back */
	char *out2 = pve_usercfg_print(c2);
	if (strcmp(out, out2) != 0)
		abort();

	pve_perms *p = NULL;
	if (pve_perms_build(c, &p, &err) == 0) {
		for (size_t i = 0; i < c->n_acls && i < 8; i++) {
			const char *who = c->acls[i].ugid;
			(void)pve_perms_check(p, who, c->acls[i].path, "VM.Audit");
			char **privs = pve_perms_privs(p, who, "/vms/100");
			strv_free(privs);
		}
		pve_perms_free(p);
	}
	pve_error_free(err);
	free(out);
	free(out2);
	pve_usercfg_free(c);
	pve_usercfg_free(c2);
	return 0;
}

/* Fuzz target: priv/tfa.cfg parsing, printing and re-parsing (the print must parse and print the same),
 * and the login checks over whatever entries it holds. */
#include <cjson/cJSON.h>

#include "access/access.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pve_error *err = NULL;
	pve_tfacfg *c = NULL;
	if (pve_tfacfg_parse((const char *)data, size, &c, &err) < 0) {
		pve_error_free(err);
		return 0;
	}
	char *out = pve_tfacfg_print(c);
	pve_tfacfg *c2 = NULL;
	if (pve_tfacfg_parse(out, strlen(out), &c2, &err) < 0)
		abort(); /* what we print we must read back */
	char *out2 = pve_tfacfg_print(c2);
	if (strcmp(out, out2) != 0)
		abort();

	char **users = pve_tfacfg_users(c);
	for (size_t i = 0; users[i] && i < 8; i++) {
		(void)pve_tfacfg_needs_tfa(c, users[i]);
		cJSON_Delete(pve_tfacfg_list(c, users[i]));
		cJSON_Delete(pve_tfacfg_challenge(c, users[i]));
		cJSON_Delete(pve_tfacfg_get(c, users[i], "recovery"));
		(void)pve_tfacfg_verify(c, users[i], "totp:123456", 1700000000, NULL);
		(void)pve_tfacfg_verify(c, users[i], "recovery:0123-4567-89ab-cdef", 1700000000,
					NULL);
		(void)pve_tfacfg_delete(c, users[i], "recovery", NULL);
	}
	strv_free(users);
	free(out);
	free(out2);
	pve_tfacfg_free(c);
	pve_tfacfg_free(c2);
	return 0;
}

/* Fuzzes the .fw parser as each kind of file: parse, print, parse again; the second print must equal
 * the first. Every rule is verified against the file itself, as a compile does. */
#include "fw/fw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	for (int kind = PVE_FW_CLUSTER; kind <= PVE_FW_VM; kind++) {
		pve_fw_file *f = NULL;
		_cleanup_error_ pve_error *err = NULL;
		if (pve_fw_parse(kind, (const char *)data, size, &f, &err) < 0) {
			if (!err)
				abort();
			continue;
		}
		_cleanup_free_ char *out = pve_fw_print(f);
		pve_fw_file *g = NULL;
		_cleanup_error_ pve_error *err2 = NULL;
		if (pve_fw_parse(kind, out, strlen(out), &g, &err2) < 0) {
			fprintf(stderr, "reparse: %s\n%s", err2->message, out);
			abort();
		}
		_cleanup_free_ char *out2 = pve_fw_print(g);
		if (!streq(out, out2)) {
			fprintf(stderr, "print differs:\n%s---\n%s", out, out2);
			abort();
		}
		for (size_t i = 0; i < f->n_rules; i++)
			pve_fw_rule_verify(&f->rules[i], kind, false,
					   kind == PVE_FW_CLUSTER ? f : NULL, f, NULL);
		for (size_t i = 0; i < f->n_groups; i++)
			for (size_t j = 0; j < f->groups[i].n_rules; j++)
				pve_fw_rule_verify(&f->groups[i].rules[j], kind, true, f, NULL,
						   NULL);
		pve_fw_file_free(g);
		pve_fw_file_free(f);
	}
	return 0;
}

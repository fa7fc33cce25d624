/* Fuzzes the VM config: parse, print, parse again (the prints must match); every section checked against
 * the schema; the GET config and pending answers; the pending changes applied and the result parsed
 * again. */
#include "tests/unit/kvm-schema-test.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kvm_schema *schema;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!schema)
		schema = test_kvm_schema();
	pve_config *c = NULL;
	_cleanup_error_ pve_error *err = NULL;
	if (kvm_config_parse((const char *)data, size, &c, &err) < 0) {
		if (!err || !err->message)
			abort();
		return 0;
	}
	_cleanup_free_ char *out = pve_config_print(c);
	pve_config *c2 = NULL;
	if (kvm_config_parse(out, strlen(out), &c2, NULL) < 0)
		abort();
	_cleanup_free_ char *out2 = pve_config_print(c2);
	if (!streq(out, out2))
		abort();
	pve_config_free(c2);

	_cleanup_strv_free_ char **secs = pve_config_sections(c);
	cJSON *errors = NULL;
	kvm_config_check(c, NULL, schema, &errors);
	cJSON_Delete(errors);
	for (char **s = secs; *s; s++) {
		kvm_config_check(c, *s, schema, &errors);
		cJSON_Delete(errors);
	}
	cJSON_Delete(kvm_config_to_json(c, NULL, schema, true));
	cJSON_Delete(kvm_config_pending_json(c, schema, "0"));
	strv_free(kvm_config_boot_order(c, schema));
	int vcpus;
	kvm_config_cpus(c, NULL, &vcpus);
	(void)kvm_config_memory_mib(c, NULL);

	char **destroy = NULL;
	kvm_config_apply_pending(c, &destroy);
	strv_free(destroy);
	_cleanup_free_ char *out3 = pve_config_print(c);
	pve_config_free(c);
	pve_config *c3 = NULL;
	if (kvm_config_parse(out3, strlen(out3), &c3, NULL) < 0)
		abort();
	pve_config_free(c3);
	return 0;
}

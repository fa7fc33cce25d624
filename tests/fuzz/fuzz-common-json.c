/* Fuzzes JSON parsing with limits: parse, print, parse again; the second print must equal the first.
 * The parsed value also goes through the parameter validator. */
#include <cjson/cJSON.h>

#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char schema_text[] =
	"{\"type\":\"object\",\"additionalProperties\":0,\"properties\":{"
	"\"node\":{\"type\":\"string\",\"format\":\"pve-node\"},"
	"\"vmid\":{\"type\":\"integer\",\"format\":\"pve-vmid\",\"minimum\":100},"
	"\"onboot\":{\"type\":\"boolean\",\"optional\":1},"
	"\"cpulimit\":{\"type\":\"number\",\"optional\":1,\"maximum\":128},"
	"\"tags\":{\"type\":\"string\",\"format\":\"pve-tag-list\",\"optional\":1},"
	"\"list\":{\"type\":\"array\",\"optional\":1,\"items\":{\"type\":\"integer\"}},"
	"\"obj\":{\"type\":\"object\",\"optional\":1,\"properties\":{\"a\":{\"type\":\"integer\"}},"
	"\"additionalProperties\":0},"
	"\"name\":{\"type\":\"string\",\"optional\":1,\"pattern\":\"[a-z][a-z0-9.-]*\","
	"\"maxLength\":20}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_error_ pve_error *err = NULL;
	cJSON *v = pve_json_parse((const char *)data, size, 1 << 20, 32, &err);
	if (!v) {
		if (!err)
			abort();
		return 0;
	}
	_cleanup_free_ char *out = pve_json_print(v);
	cJSON *v2 = pve_json_parse(out, strlen(out), 1 << 22, 32, NULL);
	if (!v2)
		abort();
	_cleanup_free_ char *out2 = pve_json_print(v2);
	if (!streq(out, out2))
		abort();
	cJSON_Delete(v2);

	const char *s = pve_json_str(v, "node");
	long long n;
	(void)pve_json_int(v, "vmid", &n);
	(void)s;

	cJSON *schema = cJSON_Parse(schema_text);
	if (!schema)
		abort();
	cJSON *errors = NULL;
	if (pve_schema_validate_params(schema, v, &errors) == 0) {
		/* Converted parameters must validate again unchanged. */
		_cleanup_free_ char *a = pve_json_print(v);
		if (pve_schema_validate_params(schema, v, NULL) != 0)
			abort();
		_cleanup_free_ char *b = pve_json_print(v);
		if (!streq(a, b))
			abort();
	}
	cJSON_Delete(errors);
	cJSON_Delete(schema);
	cJSON_Delete(v);
	return 0;
}

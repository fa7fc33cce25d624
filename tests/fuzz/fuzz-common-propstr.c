/* Fuzzes property strings against a net-like and a disk-like format: parse, print, parse again; the
 * second print must equal the first. Also feeds the input as an API parameter to the validator. */
#include <cjson/cJSON.h>

#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const formats[] = {
	"{\"model\":{\"type\":\"string\",\"default_key\":1,\"enum\":[\"e1000\",\"virtio\"]},"
	"\"macaddr\":{\"type\":\"string\",\"format\":\"mac-addr\",\"optional\":1},"
	"\"virtio\":{\"alias\":\"macaddr\",\"keyAlias\":\"model\"},"
	"\"e1000\":{\"alias\":\"macaddr\",\"keyAlias\":\"model\"},"
	"\"bridge\":{\"type\":\"string\",\"format\":\"pve-bridge\",\"optional\":1},"
	"\"firewall\":{\"type\":\"boolean\",\"optional\":1},"
	"\"trunks\":{\"type\":\"string\",\"pattern\":\"\\\\d+(?:-\\\\d+)?(?:;\\\\d+(?:-\\\\d+)?)*\","
	"\"optional\":1},"
	"\"tag\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":4094,\"optional\":1},"
	"\"rate\":{\"type\":\"number\",\"minimum\":0,\"optional\":1}}",
	"{\"type\":\"object\",\"properties\":{"
	"\"file\":{\"type\":\"string\",\"format\":\"pve-volume-id\",\"default_key\":1},"
	"\"size\":{\"type\":\"string\",\"format\":\"disk-size\",\"optional\":1},"
	"\"iothread\":{\"type\":\"boolean\",\"optional\":1},"
	"\"serial\":{\"type\":\"string\",\"maxLength\":20,\"optional\":1},"
	"\"cache\":{\"type\":\"string\",\"enum\":[\"none\",\"writeback\"],\"optional\":1}}}",
	"{\"order\":{\"type\":\"integer\",\"default_key\":1,\"optional\":1,\"minimum\":0},"
	"\"up\":{\"type\":\"integer\",\"optional\":1},\"vms\":{\"type\":\"string\","
	"\"format\":\"pve-vmid-list\",\"optional\":1},\"mail\":{\"type\":\"string\",\"format\":"
	"\"email\",\"optional\":1},\"ip\":{\"type\":\"string\",\"format\":\"CIDR\",\"optional\":1}}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	_cleanup_free_ char *s = xstrndup((const char *)data, size);
	for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
		cJSON *format = cJSON_Parse(formats[i]);
		if (!format)
			abort();
		cJSON *obj = NULL;
		_cleanup_error_ pve_error *err = NULL;
		if (pve_propstr_parse(s, format, &obj, &err) == 0) {
			_cleanup_free_ char *out = pve_propstr_print(obj, format);
			cJSON_Delete(obj);
			if (out) {
				cJSON *obj2 = NULL;
				if (pve_propstr_parse(out, format, &obj2, NULL) < 0)
					abort();
				_cleanup_free_ char *out2 = pve_propstr_print(obj2, format);
				cJSON_Delete(obj2);
				if (!out2 || !streq(out, out2))
					abort();
			}
		} else if (!err) {
			abort();
		}
		/* The same string as an API parameter of this format. */
		cJSON *schema = cJSON_CreateObject();
		cJSON *props = cJSON_AddObjectToObject(schema, "properties");
		cJSON *p = cJSON_AddObjectToObject(props, "opt");
		cJSON_AddStringToObject(p, "type", "string");
		cJSON_AddItemToObject(p, "format", format);
		cJSON *params = cJSON_CreateObject();
		cJSON_AddStringToObject(params, "opt", s);
		cJSON *errors = NULL;
		pve_schema_validate_params(schema, params, &errors);
		cJSON_Delete(errors);
		cJSON_Delete(params);
		cJSON_Delete(schema);
	}
	char *msg = NULL;
	pve_format_check("pve-volume-id", s, &msg);
	free(msg);
	msg = NULL;
	pve_format_check("pve-userid", s, &msg);
	free(msg);
	pve_upid u;
	if (pve_upid_parse(s, &u, NULL) == 0) {
		_cleanup_free_ char *f = pve_upid_format(&u);
		pve_upid u2;
		if (pve_upid_parse(f, &u2, NULL) < 0 || memcmp(&u, &u2, sizeof(u)) != 0)
			abort();
	}
	uint64_t b;
	if (pve_parse_size(s, &b) == 0) {
		_cleanup_free_ char *f = pve_format_size(b);
		uint64_t b2;
		if (pve_parse_size(f, &b2) < 0 || b != b2)
			abort();
	}
	return 0;
}

/* Fuzzes the appliance index parser (GET and POST /nodes/{node}/aplinfo read it): whatever the text,
 * the parse fails with a message or gives records that each carry a plain template name, a location
 * and the fields Proxmox requires. */
#include <cjson/cJSON.h>

#include "daemon/nodes/nodes-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *all = cJSON_CreateObject();
	pve_error *err = NULL;
	size_t skipped = 0;
	if (pved_aplinfo_parse((const char *)data, size, "file:///idx", all, &skipped, &err) < 0) {
		if (!err || !err->message[0])
			abort();
		pve_error_free(err);
	} else {
		const cJSON *rec;
		cJSON_ArrayForEach (rec, all) {
			const char *t = pve_json_str(rec, "template");
			if (!t || !t[0] || strchr(t, '/') || strchr(t, ':') ||
			    !streq(t, rec->string) || !pve_json_str(rec, "location") ||
			    !pve_json_str(rec, "package") || !pve_json_str(rec, "version") ||
			    !pve_json_str(rec, "os"))
				abort();
		}
	}
	cJSON_Delete(all);
	return 0;
}

/* For kvm's unit tests and fuzz targets: the VM config schema from the embedded route table (the create
 * route's parameters), read without the api library, which kvm's tests do not link. */
#pragma once

#include <cjson/cJSON.h>

#include "api/api.h"
#include "kvm/kvm.h"

static inline kvm_schema *test_kvm_schema(void)
{
	cJSON *all = cJSON_ParseWithLength(pve_routes_json, pve_routes_json_len);
	const cJSON *area, *route;
	kvm_schema *s = NULL;
	cJSON_ArrayForEach (area, all) {
		cJSON_ArrayForEach (route, cJSON_GetObjectItem(area, "routes")) {
			const char *path = pve_json_str(route, "path"),
				   *method = pve_json_str(route, "method");
			if (path && method && streq(path, "/nodes/{node}/qemu") &&
			    streq(method, "POST"))
				s = kvm_schema_new(cJSON_GetObjectItem(
					cJSON_GetObjectItem(route, "parameters"), "properties"));
		}
	}
	cJSON_Delete(all);
	if (!s)
		abort();
	return s;
}

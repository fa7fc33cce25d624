/* Every route in the table has a handler in pved, and every handler a route: a route cannot be added
 * without its code, nor code left without its route. */
#include "daemon/pved-internal.h"
#include "tests/unit/test.h"

static bool has_handler(const char *name)
{
	for (const pved_handler *const *t = pved_handler_tables; *t; t++)
		for (const pved_handler *h = *t; h->name; h++)
			if (strcmp(h->name, name) == 0)
				return true;
	return false;
}

static void every_route_has_a_handler(void)
{
	pve_routes *routes = NULL;
	check(pve_routes_load(&routes, NULL) == 0);
	for (size_t i = 0; routes && i < pve_routes_count(routes); i++) {
		const pve_route *r = pve_routes_get(routes, i);
		if (!has_handler(r->name))
			test_fail(__FILE__, __LINE__, "route %s %s: no handler named '%s'",
				  r->method, r->path, r->name);
	}
	pve_routes_free(routes);
}

static void every_handler_has_a_route(void)
{
	pve_routes *routes = NULL;
	check(pve_routes_load(&routes, NULL) == 0);
	for (const pved_handler *const *t = pved_handler_tables; routes && *t; t++)
		for (const pved_handler *h = *t; h->name; h++) {
			bool found = false;
			for (size_t i = 0; i < pve_routes_count(routes); i++)
				found |= strcmp(pve_routes_get(routes, i)->name, h->name) == 0;
			if (!found)
				test_fail(__FILE__, __LINE__, "handler '%s' has no route", h->name);
		}
	pve_routes_free(routes);
}

/* Each parameter schema is one the validator understands: a known type, and a known format name. */
static void every_parameter_schema_is_valid(void)
{
	pve_routes *routes = NULL;
	check(pve_routes_load(&routes, NULL) == 0);
	for (size_t i = 0; routes && i < pve_routes_count(routes); i++) {
		const pve_route *r = pve_routes_get(routes, i);
		const cJSON *props = cJSON_GetObjectItem(r->parameters, "properties"), *p;
		cJSON_ArrayForEach (p, props) {
			const cJSON *fmt = cJSON_GetObjectItem(p, "format");
			if (cJSON_IsString(fmt) && !pve_format_known(fmt->valuestring))
				test_fail(__FILE__, __LINE__,
					  "route %s %s: parameter %s: unknown format '%s'",
					  r->method, r->path, p->string, fmt->valuestring);
			const cJSON *type = cJSON_GetObjectItem(p, "type");
			if (!cJSON_IsString(type))
				test_fail(__FILE__, __LINE__,
					  "route %s %s: parameter %s has no type", r->method,
					  r->path, p->string);
		}
	}
	pve_routes_free(routes);
}

TEST_MAIN(TEST(every_route_has_a_handler), TEST(every_handler_has_a_route),
	  TEST(every_parameter_schema_is_valid))

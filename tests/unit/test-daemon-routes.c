/* Every route in the table has a handler in its area, and every handler a route: a route cannot be
 * added without its code, nor code left without its route. */
#include "daemon/core/pved.h"
#include "kvm/kvm.h"
#include "tests/unit/test.h"

static void the_table_binds(void)
{
	pve_routes *routes = NULL;
	check(pve_routes_load(&routes, NULL) == 0);
	pved_handler_fn *fns = NULL;
	_cleanup_error_ pve_error *err = NULL;
	if (pved_areas_bind(routes, pved_areas, &fns, &err) < 0)
		test_fail(__FILE__, __LINE__, "%s", err->message);
	for (size_t i = 0; fns && i < pve_routes_count(routes); i++)
		check(fns[i] != NULL);
	free(fns);
	pve_routes_free(routes);
}

static void h_dummy(pved_call *c)
{
	(void)c;
}

/* A small table of two areas' routes, bound to handlers laid out as each case says. */
static int bind_case(const pved_handler *core, const pved_handler *storage, char **ret_msg)
{
	static const char json[] =
		"[{\"area\":\"core\",\"routes\":[{\"path\":\"/\",\"method\":\"GET\","
		"\"name\":\"index\",\"permissions\":{\"user\":\"all\"}}]},"
		"{\"area\":\"storage\",\"routes\":[{\"path\":\"/storage\",\"method\":\"GET\","
		"\"name\":\"storage_index\",\"permissions\":{\"user\":\"all\"}}]}]";
	pve_routes *routes = NULL;
	_cleanup_error_ pve_error *err = NULL;
	check(pve_routes_load_json(json, strlen(json), &routes, &err) == 0);
	const pved_area a_core = { .name = "core",
				   .handlers = (const pved_handler *const[]){ core, NULL } };
	const pved_area a_storage = { .name = "storage",
				      .handlers = (const pved_handler *const[]){ storage, NULL } };
	const pved_area *const areas[] = { &a_core, &a_storage, NULL };
	pved_handler_fn *fns = NULL;
	int r = routes ? pved_areas_bind(routes, areas, &fns, &err) : -EINVAL;
	*ret_msg = err ? xstrdup(err->message) : NULL;
	free(fns);
	pve_routes_free(routes);
	return r;
}

/* pved refuses to start on a route without a handler, a handler without a route, a name served twice,
 * and a route served by another area than its folder's; core's generic handlers serve any area. */
static void binding_refuses_what_does_not_fit(void)
{
	static const pved_handler none[] = { { NULL, NULL } };
	static const pved_handler index_only[] = { { "index", h_dummy }, { NULL, NULL } };
	static const pved_handler both[] = { { "index", h_dummy },
					     { "storage_index", h_dummy },
					     { NULL, NULL } };
	static const pved_handler storage_index[] = { { "storage_index", h_dummy },
						      { NULL, NULL } };
	static const pved_handler stray[] = { { "storage_index", h_dummy },
					      { "storage_gone", h_dummy },
					      { NULL, NULL } };
	_cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL, *m5 = NULL;
	check(bind_case(index_only, storage_index, &m1) == 0);
	check(bind_case(both, none, &m2) == 0); /* core may serve any area's route */
	check(bind_case(index_only, none, &m3) == -ENOENT);
	check(m3 && strstr(m3, "GET /storage: no handler 'storage_index'"));
	check(bind_case(index_only, stray, &m4) == -ENOENT);
	check(m4 && strstr(m4, "handler 'storage_gone' of area 'storage' has no route"));
	check(bind_case(index_only,
			(const pved_handler[]){ { "storage_index", h_dummy },
						{ "index", h_dummy },
						{ NULL, NULL } },
			&m5) == -EEXIST);
	check(m5 && strstr(m5, "'index' is served twice"));
	/* storage's route served by a third area's handler. */
	pve_routes *routes = NULL;
	static const char json[] = "[{\"area\":\"storage\",\"routes\":[{\"path\":\"/storage\","
				   "\"method\":\"GET\",\"name\":\"storage_index\","
				   "\"permissions\":{\"user\":\"all\"}}]}]";
	check(pve_routes_load_json(json, strlen(json), &routes, NULL) == 0);
	const pved_area a_nodes = {
		.name = "nodes", .handlers = (const pved_handler *const[]){ storage_index, NULL }
	};
	const pved_area *const areas[] = { &a_nodes, NULL };
	pved_handler_fn *fns = NULL;
	_cleanup_error_ pve_error *err = NULL;
	check(pved_areas_bind(routes, areas, &fns, &err) == -EINVAL);
	check(err && strstr(err->message, "(api/routes/storage/) is served by area 'nodes'"));
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
			/* a VM config's formats are kvm/'s to check */
			if (cJSON_IsString(fmt) && !pve_format_known(fmt->valuestring) &&
			    !kvm_format_known(fmt->valuestring))
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

TEST_MAIN(TEST(the_table_binds), TEST(binding_refuses_what_does_not_fit),
	  TEST(every_parameter_schema_is_valid))

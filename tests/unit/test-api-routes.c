/* Tests of the route table: loading and its refusals, matching, children, the published tree. */
#include "api/api.h"
#include "tests/unit/test.h"

static pve_routes *load(const char *json, pve_error **err)
{
	pve_routes *t = NULL;
	if (pve_routes_load_json(json, strlen(json), &t, err) < 0)
		return NULL;
	return t;
}

#define NODE_PARAM \
	"\"parameters\":{\"type\":\"object\",\"properties\":{\"node\":{\"type\":\"string\"}}}"

static void embedded_table_loads(void)
{
	pve_routes *t = NULL;
	_cleanup_error_ pve_error *err = NULL;
	check(pve_routes_load(&t, &err) == 0);
	if (!t)
		return;
	check(pve_routes_count(t) > 10);
	for (size_t i = 0; i < pve_routes_count(t); i++) {
		const pve_route *r = pve_routes_get(t, i);
		check(r->permissions != NULL);
		check(r->parameters != NULL);
		const cJSON *desc = cJSON_GetObjectItem(r->info, "description");
		check(cJSON_IsString(desc) && desc->valuestring[0]);
	}
	pve_routes_free(t);
}

static void refuses_bad_tables(void)
{
	static const char *const bad[] = {
		"[[{\"path\":\"/a\",\"method\":\"GET\",\"name\":\"a\"}]]", /* no permissions */
		"[[{\"path\":\"/a\",\"method\":\"FETCH\",\"name\":\"a\",\"permissions\":{}}]]",
		"[[{\"path\":\"a\",\"method\":\"GET\",\"name\":\"a\",\"permissions\":{}}]]",
		"[[{\"path\":\"/a//b\",\"method\":\"GET\",\"name\":\"a\",\"permissions\":{}}]]",
		"[[{\"path\":\"/a\",\"method\":\"GET\",\"name\":\"a\",\"permissions\":{}},"
		"{\"path\":\"/a\",\"method\":\"GET\",\"name\":\"b\",\"permissions\":{}}]]",
		"[[{\"path\":\"/n/{node}\",\"method\":\"GET\",\"name\":\"a\",\"permissions\":{}}]]", /* undeclared */
		"[[{\"path\":\"/n/{node}\",\"method\":\"GET\",\"name\":\"a\",\"permissions\":{}," NODE_PARAM
		"},"
		"{\"path\":\"/n/{other}\",\"method\":\"PUT\",\"name\":\"b\",\"permissions\":{},"
		"\"parameters\":{\"type\":\"object\",\"properties\":{\"other\":{\"type\":\"string\"}}}}]]",
		"{}",
		"[{}]",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_error_ pve_error *err = NULL;
		pve_routes *t = load(bad[i], &err);
		check(t == NULL && err != NULL);
		pve_routes_free(t);
	}
}

static void matching(void)
{
	pve_routes *t = load(
		"[[{\"path\":\"/nodes\",\"method\":\"GET\",\"name\":\"list\",\"permissions\":{}},"
		"{\"path\":\"/nodes/{node}\",\"method\":\"GET\",\"name\":\"idx\",\"permissions\":{}," NODE_PARAM
		"},"
		"{\"path\":\"/nodes/{node}/status\",\"method\":\"GET\",\"name\":\"st\",\"permissions\":{}," NODE_PARAM
		"},"
		"{\"path\":\"/nodes/{node}/status\",\"method\":\"POST\",\"name\":\"st2\",\"permissions\":{}," NODE_PARAM
		"},"
		"{\"path\":\"/nodes/local\",\"method\":\"GET\",\"name\":\"lit\",\"permissions\":{}}]]",
		NULL);
	check(t != NULL);
	if (!t)
		return;
	cJSON *p = cJSON_CreateObject();
	bool known;
	const pve_route *r = pve_routes_match(t, "GET", "/nodes/n1/status", p, &known);
	check(r && strcmp(r->name, "st") == 0);
	check_streq(cJSON_GetObjectItem(p, "node")->valuestring, "n1");
	check(pve_routes_match(t, "POST", "/nodes/n1/status", NULL, NULL) != NULL);
	check(pve_routes_match(t, "DELETE", "/nodes/n1/status", NULL, &known) == NULL && known);
	check(pve_routes_match(t, "GET", "/nodes/n1/nothing", NULL, &known) == NULL && !known);
	/* A literal segment beats a placeholder; a trailing slash names the same path. */
	r = pve_routes_match(t, "GET", "/nodes/local", NULL, NULL);
	check(r && strcmp(r->name, "lit") == 0);
	r = pve_routes_match(t, "GET", "/nodes/", NULL, NULL);
	check(r && strcmp(r->name, "list") == 0);
	check(pve_routes_match(t, "GET", "nodes", NULL, NULL) == NULL);
	check(pve_routes_match(t, "GET", "/nodes//status", NULL, NULL) == NULL);
	/* A placeholder that ends its paths takes the rest: "/nodes/a/b" is node "a/b" for the index
	 * route only if {node} had no children; here it has, so nothing matches. */
	check(pve_routes_match(t, "GET", "/nodes/n1/status/x", NULL, NULL) == NULL);
	_cleanup_strv_free_ char **kids = pve_routes_children(t, "/nodes/{node}");
	check(kids && kids[0] && strcmp(kids[0], "status") == 0 && !kids[1]);
	cJSON *doc = pve_routes_apidoc(t);
	check(cJSON_GetArraySize(doc) == 1);
	cJSON *nodes = cJSON_GetArrayItem(doc, 0);
	check_streq(cJSON_GetObjectItem(nodes, "path")->valuestring, "/nodes");
	check(cJSON_GetObjectItem(cJSON_GetObjectItem(nodes, "info"), "GET") != NULL);
	check_int(cJSON_GetObjectItem(nodes, "leaf")->valueint, 0);
	cJSON_Delete(doc);
	cJSON_Delete(p);
	pve_routes_free(t);
}

/* A volume ID holds '/': a placeholder at the end of its paths takes the rest of the path. */
static void last_placeholder_takes_the_rest(void)
{
	pve_routes *t = load(
		"[[{\"path\":\"/c/{volume}\",\"method\":\"GET\",\"name\":\"v\",\"permissions\":{},"
		"\"parameters\":{\"type\":\"object\",\"properties\":{\"volume\":{\"type\":\"string\"}}}}]]",
		NULL);
	check(t != NULL);
	if (!t)
		return;
	cJSON *p = cJSON_CreateObject();
	check(pve_routes_match(t, "GET", "/c/local:iso/x.iso", p, NULL) != NULL);
	check_streq(cJSON_GetObjectItem(p, "volume")->valuestring, "local:iso/x.iso");
	cJSON_Delete(p);
	p = cJSON_CreateObject();
	check(pve_routes_match(t, "GET", "/c/local:100/vm-100-disk-0.qcow2", p, NULL) != NULL);
	check_streq(cJSON_GetObjectItem(p, "volume")->valuestring, "local:100/vm-100-disk-0.qcow2");
	cJSON_Delete(p);
	pve_routes_free(t);
}

TEST_MAIN(TEST(embedded_table_loads), TEST(refuses_bad_tables), TEST(matching),
	  TEST(last_placeholder_takes_the_rest))

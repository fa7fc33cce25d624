/* The core area: the API's directory indexes (generic, for every area's routes) and /version; the
 * access state follows its files. */
#include "daemon/core/pved.h"

#ifndef PVED_REPOID
#define PVED_REPOID "unknown"
#endif

/* The Proxmox API level pved follows: clients compare it to decide which features to use. */
#define PVE_API_VERSION "9.2.0"
#define PVE_API_RELEASE "9.2"

/* A directory: its children from the route table, keyed as the route says ("subdir" or "name"). */
static void h_index(pved_call *c)
{
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(c->route->info, "index");
	const char *k = cJSON_IsString(key) ? key->valuestring : "name";
	_cleanup_strv_free_ char **children = pve_routes_children(c->d->routes, c->route->path);
	cJSON *list = cJSON_CreateArray();
	for (char **p = children; *p; p++) {
		if ((*p)[0] == '{')
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, k, *p);
		cJSON_AddItemToArray(list, o);
	}
	pved_call_reply(c, list);
}

cJSON *pved_version_object(void)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "version", PVE_API_VERSION);
	cJSON_AddStringToObject(o, "release", PVE_API_RELEASE);
	cJSON_AddStringToObject(o, "repoid", PVED_REPOID);
	cJSON_AddStringToObject(o, "pved", PVED_VERSION);
	return o;
}

static void h_version(pved_call *c)
{
	cJSON *o = pved_version_object();
	cJSON_AddStringToObject(o, "console", "html5");
	pved_call_reply(c, o);
}

/* Authentication reads these; any other file leaves it alone. */
static void core_config_changed(pved *d, const char *path)
{
	static const char *const auth_files[] = { "user.cfg", "priv/shadow.cfg", "priv/token.cfg",
						  "authkey.pub" };
	bool all = path[0] == '\0';
	for (size_t i = 0; i < ELEMENTSOF(auth_files) && !all; i++)
		all = strcmp(path, auth_files[i]) == 0;
	if (all)
		pved_auth_reload(d);
}

static const pved_handler handlers[] = {
	{ "index", h_index },
	{ "version", h_version },
	{ NULL, NULL },
};

const pved_area pved_area_core = {
	.name = "core",
	.handlers = (const pved_handler *const[]){ handlers, NULL },
	.reload = pved_auth_reload,
	.config_changed = core_config_changed,
};

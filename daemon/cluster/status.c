/* GET /cluster/status, as Proxmox's get_status: with pvecfs in a cluster, the cluster's entry (name,
 * nodes, version, quorate) and one per node of corosync's nodelist from pvecfs's .members; a node on
 * its own is a one-entry list, the node itself (nodeid 0, online, local). */
#include <cjson/cJSON.h>

#include "daemon/cluster/cluster-internal.h"

/* Proxmox resolves the node name, and refuses a loopback address for it. */
char *pved_node_ip(pved *d, const char *node)
{
	_cleanup_free_ char *path = pved_path(d, "etc/hosts");
	_cleanup_free_ char *text = NULL;
	size_t len;
	if (pve_read_file(path, 1024 * 1024, &text, &len, NULL) < 0)
		return NULL;
	_cleanup_strv_free_ char **lines = pve_strv_split(text, "\n");
	for (char **l = lines; *l; l++) {
		*strchrnul(*l, '#') = '\0';
		_cleanup_strv_free_ char **w = pve_strv_split(*l, " \t");
		if (!w[0] || startswith(w[0], "127.") || streq(w[0], "::1"))
			continue;
		for (char **name = w + 1; *name; name++) {
			size_t n = strlen(node);
			/* the name, or its first label: pve1 in pve1.example.org */
			if (streq(*name, node) ||
			    (strncmp(*name, node, n) == 0 && (*name)[n] == '.'))
				return xstrdup(w[0]);
		}
	}
	return NULL;
}

static cJSON *node_entry(const char *name, double nodeid, bool local, bool online, const char *ip)
{
	cJSON *o = cJSON_CreateObject();
	_cleanup_free_ char *id = xasprintf("node/%s", name);
	cJSON_AddStringToObject(o, "type", "node");
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddNumberToObject(o, "nodeid", nodeid);
	cJSON_AddNumberToObject(o, "local", local ? 1 : 0);
	cJSON_AddNumberToObject(o, "online", online ? 1 : 0);
	if (ip && *ip)
		cJSON_AddStringToObject(o, "ip", ip);
	cJSON_AddStringToObject(o, "level", "");
	return o;
}

static void h_cluster_status(pved_call *c)
{
	pved *d = c->d;
	cJSON *list = cJSON_CreateArray();
	cJSON *m = pved_cluster_members(d);
	if (!m) {
		_cleanup_free_ char *ip = pved_node_ip(d, d->node);
		cJSON_AddItemToArray(list, node_entry(d->node, 0, true, true, ip));
		return pved_call_reply(c, list);
	}
	const cJSON *cl = cJSON_GetObjectItemCaseSensitive(m, "cluster");
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "cluster");
	cJSON_AddStringToObject(o, "id", "cluster");
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cl, "name"));
	cJSON_AddStringToObject(o, "name", name ? name : "");
	static const char *const nums[] = { "nodes", "version", "quorate" };
	for (size_t i = 0; i < ELEMENTSOF(nums); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(cl, nums[i]);
		cJSON_AddNumberToObject(o, nums[i], cJSON_IsNumber(v) ? v->valuedouble : 0);
	}
	cJSON_AddItemToArray(list, o);
	const cJSON *n;
	cJSON_ArrayForEach (n, cJSON_GetObjectItemCaseSensitive(m, "nodelist")) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(n, "id");
		const cJSON *online = cJSON_GetObjectItemCaseSensitive(n, "online");
		cJSON_AddItemToArray(
			list, node_entry(n->string, cJSON_IsNumber(id) ? id->valuedouble : 0,
					 streq(n->string, d->node),
					 cJSON_IsNumber(online) && online->valuedouble != 0,
					 cJSON_GetStringValue(
						 cJSON_GetObjectItemCaseSensitive(n, "ip"))));
	}
	cJSON_Delete(m);
	pved_call_reply(c, list);
}

const pved_handler pved_cluster_status_handlers[] = {
	{ "cluster_status", h_cluster_status },
	{ NULL, NULL },
};

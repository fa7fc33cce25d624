/* GET /cluster/log, as Proxmox's: the cluster log's newest entries (max, 50 by default), every node's
 * for a caller with Sys.Syslog on /, else only the caller's own; each with its id "UID:NODE". */
#include <cjson/cJSON.h>
#include <limits.h>

#include "daemon/cluster/cluster-internal.h"

static void h_cluster_log(pved_call *c)
{
	long long max = pved_call_int(c, "max", 0);
	bool admin = pved_call_permitted(c, "/", "Sys.Syslog");
	pve_error *err = NULL;
	_cleanup_free_ char *text = NULL;
	/* pvecfs answers from its RAM: no wait on the loop */
	if (pve_store_log_read(c->d->store, admin ? NULL : c->authid,
			       max > UINT_MAX ? UINT_MAX : (unsigned)max, &text, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_json_ cJSON *log =
		pve_json_parse(text, strlen(text), PVE_STORE_LOG_MAX_JSON, 4, &err);
	if (!log)
		return pved_call_fail(c, err);
	cJSON *data = cJSON_DetachItemFromObjectCaseSensitive(log, "data");
	if (!cJSON_IsArray(data)) {
		cJSON_Delete(data);
		return pved_call_failf(c, EIO, "the cluster log is not a list");
	}
	cJSON *e;
	cJSON_ArrayForEach (e, data) {
		long long uid;
		const char *node = pve_json_str(e, "node");
		if (!pve_json_int(e, "uid", &uid) || !node)
			continue;
		_cleanup_free_ char *id = xasprintf("%lld:%s", uid, node);
		cJSON_AddStringToObject(e, "id", id);
	}
	pved_call_reply(c, data);
}

const pved_handler pved_cluster_log_handlers[] = {
	{ "cluster_log", h_cluster_log },
	{ NULL, NULL },
};

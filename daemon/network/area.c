/* The network area: /nodes/{node}/network, the node's interfaces file and its application (srvreload). */
#include "daemon/network/network-internal.h"

static const pved_handler *const handlers[] = { pved_handlers_network, NULL };
static const pved_task_kind *const tasks[] = { pved_tasks_network, NULL };

const char *pved_network_netns(void)
{
	const char *ns = getenv("PVED_NETNS");
	return ns && *ns ? ns : NULL;
}

const pved_area pved_area_network = {
	.name = "network",
	.handlers = handlers,
	.tasks = tasks,
};

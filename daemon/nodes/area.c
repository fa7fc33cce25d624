/* The nodes area: /nodes and a node's status, time, tasks, shell and scans. */
#include "daemon/nodes/nodes-internal.h"

static const pved_handler *const handlers[] = {
	pved_handlers_node, pved_handlers_tasks,   pved_handlers_console,
	pved_handlers_scan, pved_handlers_aplinfo, NULL,
};

static const pved_task_kind *const tasks[] = { pved_tasks_node, pved_tasks_console, NULL };

static void nodes_stop(pved *d)
{
	pved_node_sample_free(d->node_sample);
	d->node_sample = NULL;
}

const pved_area pved_area_nodes = {
	.name = "nodes",
	.handlers = handlers,
	.tasks = tasks,
	.stop = nodes_stop,
	.resources = pved_node_resources,
	.rrd = pved_node_rrd,
};

/* The access area: /access (tickets, users, groups, roles, ACLs, tokens, realms, TFA) and /pools. */
#include "daemon/access/access-internal.h"

static const pved_handler *const handlers[] = {
	pved_handlers_access, pved_handlers_users, pved_handlers_tfa,
	pved_handlers_realms, pved_handlers_pools, NULL,
};

static const pved_task_kind *const tasks[] = { pved_tasks_realms, NULL };

const pved_area pved_area_access = {
	.name = "access",
	.handlers = handlers,
	.tasks = tasks,
};

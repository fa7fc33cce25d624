/* daemon/network: the node network area's tables. */
#pragma once

#include "daemon/core/pved.h"
#include "net/net.h"

/* The network namespace pved's netlink work targets: PVED_NETNS (a path such as /run/netns/NAME, for
 * tests that keep their links apart from the host's), or NULL for pved's own. */
const char *pved_network_netns(void);

extern const pved_handler pved_handlers_network[];
extern const pved_task_kind pved_tasks_network[];

/* The access-control handlers: users, groups, roles, ACLs, tokens, permissions, password. */
#include "daemon/pved-internal.h"

const pved_handler pved_handlers_users[] = {
	{ NULL, NULL },
};

/* The storage handlers: /storage (storage.cfg) and /nodes/{node}/storage. */
#include "daemon/pved-internal.h"

const pved_handler pved_handlers_storage[] = {
	{ NULL, NULL },
};

/* The storage area: /storage and a node's storages, their content and uploads. Its state is the listing
 * cache of local dir storages. */
#include "daemon/storage/storage-internal.h"
#include "storage/storage.h"

static const pved_handler *const handlers[] = {
	pved_handlers_storage,
	pved_handlers_upload,
	NULL,
};

static const pved_task_kind *const tasks[] = { pved_tasks_storage, pved_tasks_upload, NULL };

static int storage_init(pved *d, pve_error **err)
{
	(void)err;
	d->list_cache = pve_storage_list_cache_new();
	return 0;
}

static void storage_stop(pved *d)
{
	pve_storage_list_cache_free(d->list_cache);
	d->list_cache = NULL;
}

const pved_area pved_area_storage = {
	.name = "storage",
	.handlers = handlers,
	.tasks = tasks,
	.init = storage_init,
	.stop = storage_stop,
};

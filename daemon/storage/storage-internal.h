/* daemon/storage: the handler tables of the storage area's files. */
#pragma once

#include <pthread.h>

#include "daemon/core/pved.h"
#include "storage/storage.h"

/* At most this many storages are activated at once; more wait for a slot. */
#define PVED_STORAGE_MAX_ACTIVATING 64

/* The storage area's state (d->storage), shared by the loop and the storage queue's threads. */
struct pved_storage_state {
	/* content listings of local dir storages, kept by inotify (the queue's threads list) */
	pve_storage_list_cache *list_cache;
	/* The ids of the storages being activated: one activation of a storage at a time, so two jobs
	 * never mount it twice; others proceed side by side. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *activating[PVED_STORAGE_MAX_ACTIVATING];
};

/* pve_storage_activate, serialized per storage id: off the loop only (it waits). */
int pved_storage_activate(pved *d, const pve_storage *st, pve_error **err);

extern const pved_handler pved_handlers_storage[];
extern const pved_handler pved_handlers_upload[];
extern const pved_task_kind pved_tasks_storage[];
extern const pved_task_kind pved_tasks_upload[];

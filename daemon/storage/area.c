/* The storage area: /storage and a node's storages, their content and uploads. Its state is the listing
 * cache of local dir storages and the activations under way. */
#include "daemon/storage/storage-internal.h"

static const pved_handler *const handlers[] = {
	pved_handlers_storage,
	pved_handlers_upload,
	NULL,
};

static const pved_task_kind *const tasks[] = { pved_tasks_storage, pved_tasks_upload, NULL };

static int storage_init(pved *d, pve_error **err)
{
	(void)err;
	struct pved_storage_state *s = xcalloc(1, sizeof(*s));
	s->list_cache = pve_storage_list_cache_new();
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	d->storage = s;
	return 0;
}

static void storage_stop(pved *d)
{
	struct pved_storage_state *s = d->storage;
	if (!s)
		return;
	pve_storage_list_cache_free(s->list_cache);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
	d->storage = NULL;
}

/* The slot of id among those being activated, or NULL (under s->lock). */
static char **activating(struct pved_storage_state *s, const char *id)
{
	for (size_t i = 0; i < PVED_STORAGE_MAX_ACTIVATING; i++)
		if (s->activating[i] && streq(s->activating[i], id))
			return &s->activating[i];
	return NULL;
}

int pved_storage_activate(pved *d, const pve_storage *st, pve_error **err)
{
	struct pved_storage_state *s = d->storage;
	/* its base storage (an iSCSI LUN's) first, in the base's own turn: two storages on one target
	 * never log in at once; a base that is wrong is pve_storage_activate's to report */
	pve_storage base;
	_cleanup_free_ char *base_volname = NULL;
	if (pve_storage_base(st, &base, &base_volname, NULL) == 0 && base_volname &&
	    !base.disabled && pved_storage_activate(d, &base, err) < 0)
		return -EIO;
	pthread_mutex_lock(&s->lock);
	char **slot = NULL;
	for (;;) {
		bool busy = activating(s, st->id) != NULL;
		for (size_t i = 0; i < PVED_STORAGE_MAX_ACTIVATING && !slot; i++)
			if (!s->activating[i])
				slot = &s->activating[i];
		if (!busy && slot)
			break;
		slot = NULL;
		pthread_cond_wait(&s->cond, &s->lock);
	}
	*slot = xstrdup(st->id);
	pthread_mutex_unlock(&s->lock);
	int r = pve_storage_activate(st, err);
	pthread_mutex_lock(&s->lock);
	free(*slot);
	*slot = NULL;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return r;
}

const pved_area pved_area_storage = {
	.name = "storage",
	.handlers = handlers,
	.tasks = tasks,
	.init = storage_init,
	.stop = storage_stop,
};

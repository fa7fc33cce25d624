/* The list of API areas, and what pved does with it: binding routes to handlers, and the areas' hooks. */
#include "daemon/core/pved.h"

/* One line per area. core comes first: the others build on its state. */
const pved_area *const pved_areas[] = {
	&pved_area_core, /* /, /version */
	&pved_area_access, /* /access, /pools */
	&pved_area_nodes, /* /nodes */
	&pved_area_cluster, /* /cluster */
	&pved_area_storage, /* /storage, /nodes/{node}/storage */
	&pved_area_qemu, /* /nodes/{node}/qemu */
	&pved_area_lxc, /* /nodes/{node}/lxc */
	&pved_area_network, /* /nodes/{node}/network */
	&pved_area_firewall, /* /cluster/firewall, /nodes/{node}/firewall, guests' firewall */
	NULL,
};

/* The area and handler serving name, or NULL; *ret_dup tells whether a second one serves it too. */
static const pved_handler *find_handler(const pved_area *const *areas, const char *name,
					const pved_area **ret_area, bool *ret_dup)
{
	const pved_handler *found = NULL;
	*ret_dup = false;
	for (const pved_area *const *a = areas; *a; a++)
		for (const pved_handler *const *t = (*a)->handlers; t && *t; t++)
			for (const pved_handler *h = *t; h->name; h++) {
				if (strcmp(h->name, name) != 0)
					continue;
				if (found)
					*ret_dup = true;
				found = h;
				*ret_area = *a;
			}
	return found;
}

int pved_areas_bind(const pve_routes *routes, const pved_area *const *areas,
		    pved_handler_fn **ret_handlers, pve_error **err)
{
	size_t n = pve_routes_count(routes);
	_cleanup_free_ pved_handler_fn *fns = xcalloc(n ? n : 1, sizeof(*fns));
	for (size_t i = 0; i < n; i++) {
		const pve_route *r = pve_routes_get(routes, i);
		const pved_area *area = NULL;
		bool dup;
		const pved_handler *h = find_handler(areas, r->name, &area, &dup);
		if (!h)
			return pve_error_set(err, ENOENT, "route %s %s: no handler '%s'", r->method,
					     r->path, r->name);
		if (dup)
			return pve_error_set(err, EEXIST, "handler '%s' is served twice", r->name);
		if (strcmp(area->name, "core") != 0 &&
		    (!r->area || strcmp(area->name, r->area) != 0))
			return pve_error_set(err, EINVAL,
					     "route %s %s (api/routes/%s/) is served by area '%s'",
					     r->method, r->path, r->area ? r->area : "?",
					     area->name);
		fns[i] = h->fn;
	}
	/* Every handler serves a route: a handler whose route went away is dead code. */
	for (const pved_area *const *a = areas; *a; a++)
		for (const pved_handler *const *t = (*a)->handlers; t && *t; t++)
			for (const pved_handler *h = *t; h->name; h++) {
				bool used = false;
				for (size_t i = 0; i < n && !used; i++)
					used = strcmp(pve_routes_get(routes, i)->name, h->name) ==
					       0;
				if (!used)
					return pve_error_set(
						err, ENOENT,
						"handler '%s' of area '%s' has no route", h->name,
						(*a)->name);
			}
	*ret_handlers = TAKE_PTR(fns);
	return 0;
}

int pved_areas_init(pved *d, pve_error **err)
{
	for (size_t i = 0; d->areas[i]; i++) {
		const pved_area *a = d->areas[i];
		int r = a->init ? a->init(d, err) : 0;
		if (r >= 0)
			continue;
		pve_error_prefix(err ? *err : NULL, "area %s", a->name);
		while (i-- > 0)
			if (d->areas[i]->stop)
				d->areas[i]->stop(d);
		return r;
	}
	return 0;
}

void pved_areas_reload(pved *d)
{
	for (const pved_area *const *a = d->areas; *a; a++)
		if ((*a)->reload)
			(*a)->reload(d);
}

void pved_areas_config_changed(pved *d, const char *path)
{
	for (const pved_area *const *a = d->areas; *a; a++)
		if ((*a)->config_changed)
			(*a)->config_changed(d, path);
}

void pved_areas_task_ended(pved *d, const char *type, const char *id)
{
	for (const pved_area *const *a = d->areas; a && *a; a++)
		if ((*a)->task_ended)
			(*a)->task_ended(d, type, id);
}

void pved_areas_stop(pved *d)
{
	size_t n = 0;
	while (d->areas[n])
		n++;
	while (n-- > 0)
		if (d->areas[n]->stop)
			d->areas[n]->stop(d);
}

/* storage: Proxmox's prune-backups: the retention options (the prune-backups property string), the
 * choice of which backups of a guest to keep (PVE::Storage::prune_mark_backup_group) and the removal
 * of the others (Plugin.pm's prune_backups). */
#include <cjson/cJSON.h>

#include "storage/storage-internal.h"

/* ---- the retention options ------------------------------------------------------------------------ */

static const char *const keep_keys[] = { "keep-last",	"keep-hourly",	"keep-daily",
					 "keep-weekly", "keep-monthly", "keep-yearly" };

static long long *keep_field(pve_prune_keep *k, size_t i)
{
	long long *const fields[] = { &k->last,	  &k->hourly,  &k->daily,
				      &k->weekly, &k->monthly, &k->yearly };
	return fields[i];
}

static cJSON *keep_format(void)
{
	cJSON *f = cJSON_CreateObject();
	cJSON *all = cJSON_AddObjectToObject(f, "keep-all");
	cJSON_AddStringToObject(all, "type", "boolean");
	cJSON_AddNumberToObject(all, "optional", 1);
	for (size_t i = 0; i < ELEMENTSOF(keep_keys); i++) {
		cJSON *o = cJSON_AddObjectToObject(f, keep_keys[i]);
		cJSON_AddStringToObject(o, "type", "integer");
		cJSON_AddNumberToObject(o, "minimum", 0);
		cJSON_AddNumberToObject(o, "optional", 1);
	}
	return f;
}

int pve_storage_prune_parse(const char *s, pve_prune_keep *ret, pve_error **err)
{
	cJSON *format = keep_format();
	cJSON *obj = NULL;
	pve_error *e = NULL;
	int r = pve_propstr_parse(s ? s : "", format, &obj, &e);
	cJSON_Delete(format);
	if (r < 0) {
		r = pve_error_set_param(err, EINVAL, "prune-backups", "invalid format - %s%s%s",
					e && e->param ? e->param : "", e && e->param ? ": " : "",
					e ? e->message : "format error");
		pve_error_free(e);
		return r;
	}
	pve_prune_keep k = { 0 };
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(obj, "keep-all");
	bool keep_all = cJSON_IsNumber(all) && all->valuedouble != 0;
	bool positive = false;
	for (size_t i = 0; i < ELEMENTSOF(keep_keys); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, keep_keys[i]);
		if (!cJSON_IsNumber(v))
			continue;
		/* no upper limit in Proxmox: more than a guest can have backups keeps them all */
		*keep_field(&k, i) = v->valuedouble > 1e9 ? 1000000000LL :
							    (long long)v->valuedouble;
		positive |= *keep_field(&k, i) > 0;
	}
	cJSON_Delete(obj);
	/* Proxmox's validate_prune_backups: nothing to keep by count keeps everything */
	if (!positive) {
		*ret = (pve_prune_keep){ .all = true };
		return 0;
	}
	if (keep_all)
		return pve_error_set_param(err, EINVAL, "prune-backups",
					   "keep-all cannot be set together with other options.");
	*ret = k;
	return 0;
}

const char *pve_prune_mark_name(pve_prune_mark m)
{
	switch (m) {
	case PVE_PRUNE_KEEP:
		return "keep";
	case PVE_PRUNE_REMOVE:
		return "remove";
	case PVE_PRUNE_PROTECTED:
		return "protected";
	case PVE_PRUNE_RENAMED:
		return "renamed";
	}
	return "";
}

void pve_prune_entries_free(pve_prune_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++)
		free(e[i].volid);
	free(e);
}

/* ---- the selection ------------------------------------------------------------------------------------- */

/* A set of period ids (open addressing; a group holds as many backups as a storage lists). */
typedef struct idset {
	long long *v;
	bool *used;
	size_t cap, n;
} idset;

static void idset_init(idset *s, size_t expect)
{
	s->cap = 16;
	while (s->cap < expect * 2)
		s->cap *= 2;
	s->v = xcalloc(s->cap, sizeof(*s->v));
	s->used = xcalloc(s->cap, sizeof(*s->used));
	s->n = 0;
}

static void idset_free(idset *s)
{
	free(s->v);
	free(s->used);
}

static size_t idset_slot(const idset *s, long long id)
{
	size_t h = (size_t)((unsigned long long)id * 0x9e3779b97f4a7c15ULL) & (s->cap - 1);
	while (s->used[h] && s->v[h] != id)
		h = (h + 1) & (s->cap - 1);
	return h;
}

static bool idset_has(const idset *s, long long id)
{
	return s->used[idset_slot(s, id)];
}

/* Each set holds at most the group's entries, and was made for twice that. */
static void idset_add(idset *s, long long id)
{
	size_t h = idset_slot(s, id);
	if (!s->used[h]) {
		s->used[h] = true;
		s->v[h] = id;
		s->n++;
	}
}

enum period { P_LAST, P_HOURLY, P_DAILY, P_WEEKLY, P_MONTHLY, P_YEARLY };

/* The period a backup of ctime falls into, in the node's time zone (Proxmox's localtime). */
static long long period_id(enum period p, time_t ctime)
{
	struct tm tm;
	if (p == P_LAST || !localtime_r(&ctime, &tm))
		return (long long)ctime;
	long long y = tm.tm_year, ymd = (y * 100 + tm.tm_mon) * 100 + tm.tm_mday;
	switch (p) {
	case P_HOURLY:
		return ymd * 100 + tm.tm_hour;
	case P_DAILY:
		return ymd;
	case P_WEEKLY: {
		/* the ISO week and its year, as Proxmox's strftime("%V") and ("%G") */
		char buf[32];
		if (strftime(buf, sizeof(buf), "%G %V", &tm) == 0)
			return ymd;
		long long wy = strtoll(buf, NULL, 10),
			  wk = strtoll(buf + strcspn(buf, " "), NULL, 10);
		return wy * 100 + wk;
	}
	case P_MONTHLY:
		return y * 100 + tm.tm_mon;
	default:
		return y;
	}
}

/* Proxmox's $prune_mark: walking from the newest, the first backup of each of the first count
 * periods not yet covered is kept, later ones in a kept period are removed; what another option has
 * marked is left alone, and a period it keeps a backup of counts as covered. */
static void mark_periods(pve_prune_entry *e, const size_t *order, size_t n, long long count,
			 enum period p)
{
	if (count <= 0)
		return;
	idset already, newly;
	idset_init(&already, n);
	idset_init(&newly, n);
	for (size_t k = 0; k < n; k++)
		if (e[order[k]].mark == PVE_PRUNE_KEEP)
			idset_add(&already, period_id(p, e[order[k]].ctime));
	for (size_t k = 0; k < n; k++) {
		pve_prune_entry *x = &e[order[k]];
		long long id = period_id(p, x->ctime);
		if (x->mark || idset_has(&already, id))
			continue;
		if (!idset_has(&newly, id)) {
			if ((long long)newly.n >= count)
				break;
			idset_add(&newly, id);
			x->mark = PVE_PRUNE_KEEP;
		} else {
			x->mark = PVE_PRUNE_REMOVE;
		}
	}
	idset_free(&already);
	idset_free(&newly);
}

/* One guest's backups (order: their indices, newest first). */
static void mark_group(pve_prune_entry *e, const size_t *order, size_t n,
		       const pve_prune_keep *keep)
{
	bool positive = keep->last > 0 || keep->hourly > 0 || keep->daily > 0 || keep->weekly > 0 ||
			keep->monthly > 0 || keep->yearly > 0;
	if (keep->all || !positive) {
		for (size_t k = 0; k < n; k++)
			if (!e[order[k]].mark || e[order[k]].mark == PVE_PRUNE_REMOVE)
				e[order[k]].mark = PVE_PRUNE_KEEP;
		return;
	}
	mark_periods(e, order, n, keep->last, P_LAST);
	mark_periods(e, order, n, keep->hourly, P_HOURLY);
	mark_periods(e, order, n, keep->daily, P_DAILY);
	mark_periods(e, order, n, keep->weekly, P_WEEKLY);
	mark_periods(e, order, n, keep->monthly, P_MONTHLY);
	mark_periods(e, order, n, keep->yearly, P_YEARLY);
	for (size_t k = 0; k < n; k++)
		if (!e[order[k]].mark)
			e[order[k]].mark = PVE_PRUNE_REMOVE;
}

/* Entries that are grouped (a standard name), by guest type and VMID, newest first; among backups of
 * one time, in the listing's order (Proxmox's sort is stable). */
static int cmp_group_order(const void *a, const void *b, void *arg)
{
	const pve_prune_entry *base = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const pve_prune_entry *x = &base[i], *y = &base[j];
	int c = strcmp(x->type, y->type);
	if (c)
		return c;
	if (x->vmid != y->vmid)
		return x->vmid < y->vmid ? -1 : 1;
	if (x->ctime != y->ctime)
		return x->ctime > y->ctime ? -1 : 1;
	return i < j ? -1 : i > j;
}

int pve_storage_prune_select(const pve_volume_info *backups, size_t n, const pve_prune_keep *keep,
			     long long vmid, const char *type, pve_prune_entry **ret, size_t *ret_n,
			     pve_error **err)
{
	pve_prune_entry *e = xcalloc(n ? n : 1, sizeof(*e));
	bool *std = xcalloc(n ? n : 1, sizeof(*std));
	size_t m = 0, n_std = 0;
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		const pve_volume_info *b = &backups[i];
		const char *colon = strchr(b->volid, ':');
		_cleanup_(pve_archive_info_clear) pve_archive_info a = { 0 };
		bool known = pve_storage_archive_info(colon ? colon + 1 : b->volid, &a, NULL) == 0;
		const char *btype = known ? a.type : "unknown";
		long long bvmid = known && a.is_std_name ? a.vmid : b->vmid;
		if (type && !streq(type, btype))
			continue;
		pve_prune_entry *x = &e[m];
		*x = (pve_prune_entry){
			.volid = xstrdup(b->volid), .ctime = b->ctime, .type = btype, .vmid = bvmid
		};
		if (known && a.is_std_name) {
			if (vmid && bvmid != vmid) {
				m++;
				r = pve_error_set(
					err, EIO,
					"internal error - got wrong VMID '%lld' != '%lld'", bvmid,
					vmid);
				break;
			}
			x->ctime = a.ctime;
			std[m] = true;
			n_std++;
		} else {
			/* backups not named the standard way are left alone */
			x->mark = PVE_PRUNE_RENAMED;
		}
		if (b->protected_)
			x->mark = PVE_PRUNE_PROTECTED;
		m++;
	}
	if (r < 0) {
		free(std);
		pve_prune_entries_free(e, m);
		return r;
	}
	size_t *order = xcalloc(n_std ? n_std : 1, sizeof(*order));
	for (size_t i = 0, k = 0; i < m; i++)
		if (std[i])
			order[k++] = i;
	qsort_r(order, n_std, sizeof(*order), cmp_group_order, e);
	for (size_t start = 0; start < n_std;) {
		size_t end = start + 1;
		while (end < n_std && streq(e[order[end]].type, e[order[start]].type) &&
		       e[order[end]].vmid == e[order[start]].vmid)
			end++;
		mark_group(e, order + start, end - start, keep);
		start = end;
	}
	free(order);
	free(std);
	*ret = e;
	*ret_n = m;
	return 0;
}

/* ---- on a storage ---------------------------------------------------------------------------------- */

int pve_storage_prune_backups(const pve_storage *s, const pve_prune_keep *keep, long long vmid,
			      const char *type, bool dry_run, FILE *log, pve_prune_entry **ret,
			      size_t *ret_n, pve_error **err)
{
	if (!(s->content & PVE_CONTENT_BACKUP))
		return pve_error_set(err, EINVAL, "storage '%s' does not support backups", s->id);
	pve_prune_keep k;
	if (!keep) {
		const char *opt = pve_storage_option(s, "prune-backups");
		if (!opt)
			return pve_error_set(err, EINVAL,
					     "no prune-backups options configured for storage '%s'",
					     s->id);
		if (pve_storage_prune_parse(opt, &k, err) < 0)
			return -EINVAL;
		keep = &k;
	}
	pve_volume_info *vols = NULL;
	size_t nv = 0;
	int r = pve_storage_list_volumes(s, vmid, PVE_CONTENT_BACKUP, &vols, &nv, err);
	if (r < 0)
		return r;
	pve_prune_entry *e = NULL;
	size_t n = 0;
	r = pve_storage_prune_select(vols, nv, keep, vmid, type, &e, &n, err);
	pve_volume_infos_free(vols, nv);
	if (r < 0)
		return r;
	bool failed = false;
	for (size_t i = 0; !dry_run && i < n; i++) {
		if (e[i].mark != PVE_PRUNE_REMOVE)
			continue;
		if (log)
			fprintf(log, "removing backup '%s'\n", e[i].volid);
		_cleanup_error_ pve_error *re = NULL;
		_cleanup_free_ char *path = NULL;
		const char *volname = strchr(e[i].volid, ':') + 1;
		if (pve_storage_path(s, volname, NULL, &path, &re) < 0 ||
		    pve_storage_archive_remove(path, &re) < 0) {
			if (log)
				fprintf(log, "error when removing backup '%s' - %s\n", e[i].volid,
					re ? re->message : "failed");
			failed = true;
		}
	}
	if (log)
		fflush(log);
	if (failed) {
		pve_prune_entries_free(e, n);
		return pve_error_set(err, EIO, "error pruning backups - check log");
	}
	if (ret) {
		*ret = e;
		*ret_n = n;
	} else {
		pve_prune_entries_free(e, n);
	}
	return 0;
}
